resource "azurerm_virtual_network" "hub" {
  name                = "${var.prefix}-hub"
  resource_group_name = local.rg
  location            = local.location
  address_space       = tolist(toset(concat(var.extra_hub_ranges, [var.hub_range])))
}

# One subnet per tier: web 10.20.1.0/24, app 10.20.2.0/24, db 10.20.3.0/24.
resource "azurerm_subnet" "tier" {
  for_each             = local.tiers
  name                 = each.key
  resource_group_name  = local.rg
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = [cidrsubnet(var.hub_range, 8, each.value)]
}

# NICs: web1 and app1 Dynamic, nva1 Static at the db subnet's .4.
resource "azurerm_network_interface" "vm" {
  for_each             = local.nics
  name                 = each.key
  resource_group_name  = local.rg
  location             = local.location
  enable_ip_forwarding = each.key == "nva1"

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = azurerm_subnet.tier[each.value].id
    private_ip_address_allocation = each.key == "nva1" ? "Static" : "Dynamic"
    private_ip_address            = each.key == "nva1" ? local.nva_ip : null
  }
}

# Spokes lab-spoke01.. (count, overridden to 3 by the test), each
# 10.10x.0.0/16 with one subnet, peered with the hub both ways.
resource "azurerm_virtual_network" "spoke" {
  count               = var.spoke_count
  name                = format("%s-spoke%02d", var.prefix, count.index + 1)
  resource_group_name = local.rg
  location            = local.location
  address_space       = [cidrsubnet("10.100.0.0/14", 2, count.index)]
}

resource "azurerm_subnet" "spoke" {
  count                = length(azurerm_virtual_network.spoke)
  name                 = "default"
  resource_group_name  = local.rg
  virtual_network_name = azurerm_virtual_network.spoke[count.index].name
  address_prefixes     = [cidrsubnet(azurerm_virtual_network.spoke[count.index].address_space[0], 8, 1)]
}

resource "azurerm_network_interface" "spoke_vm" {
  count               = var.spoke_count
  name                = "spoke-vm${count.index + 1}"
  resource_group_name = local.rg
  location            = local.location

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = element(azurerm_subnet.spoke[*].id, count.index)
    private_ip_address_allocation = "Dynamic"
  }
}

resource "azurerm_virtual_network_peering" "hub_to_spoke" {
  count                     = var.spoke_count
  name                      = "hub-to-${azurerm_virtual_network.spoke[count.index].name}"
  resource_group_name       = local.rg
  virtual_network_name      = azurerm_virtual_network.hub.name
  remote_virtual_network_id = azurerm_virtual_network.spoke[count.index].id
  allow_gateway_transit     = false
}

resource "azurerm_virtual_network_peering" "spoke_to_hub" {
  count                     = var.spoke_count
  name                      = "${azurerm_virtual_network.spoke[count.index].name}-to-hub"
  resource_group_name       = local.rg
  virtual_network_name      = azurerm_virtual_network.spoke[count.index].name
  remote_virtual_network_id = azurerm_virtual_network.hub.id
  allow_forwarded_traffic   = true
}

# Every spoke's traffic for the other spokes goes through the NVA: one
# inline route per spoke (azurerm v4's bgp_route_propagation_enabled).
resource "azurerm_route_table" "spokes" {
  name                          = "spokes-rt"
  resource_group_name           = local.rg
  location                      = local.location
  bgp_route_propagation_enabled = false

  dynamic "route" {
    for_each = azurerm_virtual_network.spoke
    content {
      name                   = "to-${route.value.name}"
      address_prefix         = route.value.address_space[0]
      next_hop_type          = "VirtualAppliance"
      next_hop_in_ip_address = azurerm_network_interface.vm["nva1"].private_ip_address
    }
  }
}

resource "azurerm_subnet_route_table_association" "spoke" {
  count          = var.spoke_count
  subnet_id      = azurerm_subnet.spoke[count.index].id
  route_table_id = azurerm_route_table.spokes.id
}

# The web tier's NSG: one rule per allowed port, from a map, with a
# dynamic block; https first, the others after.
resource "azurerm_network_security_group" "web" {
  name                = "${var.prefix}-web-nsg"
  resource_group_name = local.rg
  location            = local.location

  dynamic "security_rule" {
    for_each = var.allowed_ports
    iterator = port
    content {
      name                       = "allow-${port.key}"
      priority                   = lookup({ https = 100 }, port.key, 110)
      direction                  = "Inbound"
      access                     = "Allow"
      protocol                   = "Tcp"
      source_port_range          = "*"
      destination_port_range     = tostring(port.value)
      source_address_prefix      = "Internet"
      destination_address_prefix = "*"
    }
  }
}

resource "azurerm_subnet_network_security_group_association" "web" {
  subnet_id                 = azurerm_subnet.tier["web"].id
  network_security_group_id = azurerm_network_security_group.web.id
}
