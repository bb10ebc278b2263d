# Azure Virtual Network Manager over a hub and three spokes in two regions:
# the design of config/network-manager.yaml, as Terraform writes it.
#
# One network manager groups the spokes and deploys two configurations to
# West Europe and North Europe: `hub-and-spoke` (the hub peered with each
# spoke, the spokes one connected group, global) and `guardrails`
# (security admin rules: RDP and SSH from the Internet denied, the hub's
# monitoring subnet always allowed). spoke2 was peered with the hub by
# hand before the network manager came. No subnet has default outbound
# access (the VMs reach the Internet only through a public IP of their
# own). The group's members are static
# (network-manager.tf); a policy also adds the VNets tagged role=spoke to
# it (policy.tf), which the import names and leaves out.

data "azurerm_subscription" "current" {}

resource "azurerm_resource_group" "rg" {
  name     = "rg-avnm"
  location = "West Europe"
}

resource "azurerm_virtual_network" "hub" {
  name                = "hub"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  address_space       = ["10.0.0.0/16"]
}

resource "azurerm_subnet" "shared" {
  name                            = "shared"
  resource_group_name             = azurerm_resource_group.rg.name
  virtual_network_name            = azurerm_virtual_network.hub.name
  address_prefixes                = ["10.0.1.0/24"]
  default_outbound_access_enabled = false
}

resource "azurerm_subnet" "monitoring" {
  name                            = "monitoring"
  resource_group_name             = azurerm_resource_group.rg.name
  virtual_network_name            = azurerm_virtual_network.hub.name
  address_prefixes                = ["10.0.3.0/24"]
  default_outbound_access_enabled = false
}

locals {
  spokes = {
    spoke1 = { range = "10.1.0.0/16", location = "westeurope", nsg = "app" }
    spoke2 = { range = "10.2.0.0/16", location = "westeurope", nsg = "locked" }
    spoke3 = { range = "10.3.0.0/16", location = "northeurope", nsg = "" }
  }
}

resource "azurerm_virtual_network" "spoke" {
  for_each            = local.spokes
  name                = each.key
  resource_group_name = azurerm_resource_group.rg.name
  location            = each.value.location
  address_space       = [each.value.range]
  tags                = each.key == "spoke3" ? { role = "spoke" } : {}
}

resource "azurerm_subnet" "app" {
  for_each             = local.spokes
  name                            = "app"
  resource_group_name             = azurerm_resource_group.rg.name
  virtual_network_name            = azurerm_virtual_network.spoke[each.key].name
  address_prefixes                = [cidrsubnet(each.value.range, 8, 1)]
  default_outbound_access_enabled = false
}

resource "azurerm_virtual_network_peering" "hub_to_spoke2" {
  name                      = "hub-to-spoke2"
  resource_group_name       = azurerm_resource_group.rg.name
  virtual_network_name      = azurerm_virtual_network.hub.name
  remote_virtual_network_id = azurerm_virtual_network.spoke["spoke2"].id
}

resource "azurerm_virtual_network_peering" "spoke2_to_hub" {
  name                      = "spoke2-to-hub"
  resource_group_name       = azurerm_resource_group.rg.name
  virtual_network_name      = azurerm_virtual_network.spoke["spoke2"].name
  remote_virtual_network_id = azurerm_virtual_network.hub.id
}

# The application team opens RDP, SSH and the web to the Internet.
resource "azurerm_network_security_group" "app" {
  name                = "app-nsg"
  location            = azurerm_resource_group.rg.location
  resource_group_name = azurerm_resource_group.rg.name

  security_rule {
    name                       = "rdp-from-anywhere"
    priority                   = 100
    direction                  = "Inbound"
    access                     = "Allow"
    protocol                   = "Tcp"
    source_port_range          = "*"
    destination_port_range     = "3389"
    source_address_prefix      = "Internet"
    destination_address_prefix = "*"
  }

  security_rule {
    name                       = "ssh-from-anywhere"
    priority                   = 110
    direction                  = "Inbound"
    access                     = "Allow"
    protocol                   = "Tcp"
    source_port_range          = "*"
    destination_port_range     = "22"
    source_address_prefix      = "Internet"
    destination_address_prefix = "*"
  }

  security_rule {
    name                       = "web-from-anywhere"
    priority                   = 120
    direction                  = "Inbound"
    access                     = "Allow"
    protocol                   = "Tcp"
    source_port_range          = "*"
    destination_port_range     = "80"
    source_address_prefix      = "Internet"
    destination_address_prefix = "*"
  }
}

# Another team shuts its subnet to the hub, monitoring included.
resource "azurerm_network_security_group" "locked" {
  name                = "locked-nsg"
  location            = azurerm_resource_group.rg.location
  resource_group_name = azurerm_resource_group.rg.name

  security_rule {
    name                       = "deny-the-hub"
    priority                   = 100
    direction                  = "Inbound"
    access                     = "Deny"
    protocol                   = "*"
    source_port_range          = "*"
    destination_port_range     = "*"
    source_address_prefix      = "10.0.0.0/16"
    destination_address_prefix = "*"
  }
}

resource "azurerm_subnet_network_security_group_association" "spoke1_app" {
  subnet_id                 = azurerm_subnet.app["spoke1"].id
  network_security_group_id = azurerm_network_security_group.app.id
}

resource "azurerm_subnet_network_security_group_association" "spoke2_app" {
  subnet_id                 = azurerm_subnet.app["spoke2"].id
  network_security_group_id = azurerm_network_security_group.locked.id
}

resource "azurerm_public_ip" "vm1" {
  name                = "vm1-pip"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  allocation_method   = "Static"
  sku                 = "Standard"
}

locals {
  nics = {
    hub1 = { subnet = azurerm_subnet.shared.id, address = "10.0.1.4", public_ip = null }
    mon1 = { subnet = azurerm_subnet.monitoring.id, address = "10.0.3.4", public_ip = null }
    vm1  = { subnet = azurerm_subnet.app["spoke1"].id, address = "10.1.1.4", public_ip = azurerm_public_ip.vm1.id }
    vm2  = { subnet = azurerm_subnet.app["spoke2"].id, address = "10.2.1.4", public_ip = null }
    vm3  = { subnet = azurerm_subnet.app["spoke3"].id, address = "10.3.1.4", public_ip = null }
  }
}

resource "azurerm_network_interface" "nic" {
  for_each            = local.nics
  name                = each.key
  location            = azurerm_resource_group.rg.location
  resource_group_name = azurerm_resource_group.rg.name

  ip_configuration {
    name                          = "internal"
    subnet_id                     = each.value.subnet
    private_ip_address_allocation = "Static"
    private_ip_address            = each.value.address
    public_ip_address_id          = each.value.public_ip
  }
}
