# The Internet edge of a hub and spoke: an Azure Firewall in the hub with a
# public IP and DNAT rules to the spoke, a NAT gateway (a public IP and a
# public IP prefix) for the spoke's app subnet, a web server in the hub on
# its own public IP, a database subnet without default outbound access,
# and a second web server on a public IP taken from a prefix of its own.
#
# Azure allocates the public addresses: before apply only the prefixes'
# lengths are known, so the prefixes are left out (and so are their places
# in the NAT gateway and in the public IP taken from one), the public IPs
# are written without an address (vnetd gives them one) and the DNAT rules
# to the firewall's public IP get the address vnetd gives it. The DNAT
# rule to the Dynamic NIC of app2 is left out: its translated address is
# known only after apply.

locals {
  rg       = "rg-edge"
  location = "westeurope"
}

resource "azurerm_resource_group" "rg" {
  name     = local.rg
  location = local.location
}

resource "azurerm_virtual_network" "hub" {
  name                = "hub"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  address_space       = ["10.10.0.0/16"]
}

resource "azurerm_subnet" "firewall" {
  name                 = "AzureFirewallSubnet"
  resource_group_name  = azurerm_resource_group.rg.name
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = ["10.10.1.0/26"]
}

# No default_outbound_access_enabled: azurerm's default, true.
resource "azurerm_subnet" "web" {
  name                 = "web"
  resource_group_name  = azurerm_resource_group.rg.name
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = ["10.10.2.0/24"]
}

resource "azurerm_virtual_network" "spoke" {
  name                = "spoke"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  address_space       = ["10.20.0.0/16"]
}

resource "azurerm_subnet" "app" {
  name                            = "app"
  resource_group_name             = azurerm_resource_group.rg.name
  virtual_network_name            = azurerm_virtual_network.spoke.name
  address_prefixes                = ["10.20.1.0/24"]
  default_outbound_access_enabled = true
}

resource "azurerm_subnet" "db" {
  name                            = "db"
  resource_group_name             = azurerm_resource_group.rg.name
  virtual_network_name            = azurerm_virtual_network.spoke.name
  address_prefixes                = ["10.20.2.0/24"]
  default_outbound_access_enabled = false
}

resource "azurerm_virtual_network_peering" "hub_to_spoke" {
  name                      = "hub-to-spoke"
  resource_group_name       = azurerm_resource_group.rg.name
  virtual_network_name      = azurerm_virtual_network.hub.name
  remote_virtual_network_id = azurerm_virtual_network.spoke.id
}

resource "azurerm_virtual_network_peering" "spoke_to_hub" {
  name                      = "spoke-to-hub"
  resource_group_name       = azurerm_resource_group.rg.name
  virtual_network_name      = azurerm_virtual_network.spoke.name
  remote_virtual_network_id = azurerm_virtual_network.hub.id
}

# ---- Public addresses --------------------------------------------------------

resource "azurerm_public_ip_prefix" "egress" {
  name                = "egress-prefix"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  sku                 = "Standard"
  prefix_length       = 30
}

resource "azurerm_public_ip_prefix" "web" {
  name                = "web-prefix"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  sku                 = "Standard"
  prefix_length       = 31
}

resource "azurerm_public_ip" "pip" {
  for_each            = toset(["fw", "natgw", "web1"])
  name                = "${each.key}-pip"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  allocation_method   = "Static"
  sku                 = "Standard"
}

resource "azurerm_public_ip" "web2" {
  name                = "web2-pip"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  allocation_method   = "Static"
  sku                 = "Standard"
  public_ip_prefix_id = azurerm_public_ip_prefix.web.id
}

# ---- NAT gateway -------------------------------------------------------------

resource "azurerm_nat_gateway" "spoke" {
  name                    = "spoke-natgw"
  resource_group_name     = azurerm_resource_group.rg.name
  location                = azurerm_resource_group.rg.location
  sku_name                = "Standard"
  idle_timeout_in_minutes = 10
}

resource "azurerm_nat_gateway_public_ip_association" "spoke" {
  nat_gateway_id       = azurerm_nat_gateway.spoke.id
  public_ip_address_id = azurerm_public_ip.pip["natgw"].id
}

resource "azurerm_nat_gateway_public_ip_prefix_association" "spoke" {
  nat_gateway_id      = azurerm_nat_gateway.spoke.id
  public_ip_prefix_id = azurerm_public_ip_prefix.egress.id
}

resource "azurerm_subnet_nat_gateway_association" "app" {
  subnet_id      = azurerm_subnet.app.id
  nat_gateway_id = azurerm_nat_gateway.spoke.id
}

# ---- NICs --------------------------------------------------------------------

resource "azurerm_network_interface" "web1" {
  name                = "web1"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location

  ip_configuration {
    name                          = "internal"
    subnet_id                     = azurerm_subnet.web.id
    private_ip_address_allocation = "Static"
    private_ip_address            = "10.10.2.4"
    public_ip_address_id          = azurerm_public_ip.pip["web1"].id
  }
}

resource "azurerm_network_interface" "web2" {
  name                = "web2"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location

  ip_configuration {
    name                          = "internal"
    subnet_id                     = azurerm_subnet.web.id
    private_ip_address_allocation = "Static"
    private_ip_address            = "10.10.2.5"
    public_ip_address_id          = azurerm_public_ip.web2.id
  }
}

resource "azurerm_network_interface" "app1" {
  name                = "app1"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location

  ip_configuration {
    name                          = "internal"
    subnet_id                     = azurerm_subnet.app.id
    private_ip_address_allocation = "Static"
    private_ip_address            = "10.20.1.4"
  }
}

resource "azurerm_network_interface" "app2" {
  name                = "app2"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location

  ip_configuration {
    name                          = "internal"
    subnet_id                     = azurerm_subnet.app.id
    private_ip_address_allocation = "Dynamic"
  }
}

resource "azurerm_network_interface" "db1" {
  name                = "db1"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location

  ip_configuration {
    name                          = "internal"
    subnet_id                     = azurerm_subnet.db.id
    private_ip_address_allocation = "Static"
    private_ip_address            = "10.20.2.4"
  }
}

# ---- Azure Firewall ----------------------------------------------------------

resource "azurerm_ip_group" "office" {
  name                = "office"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  cidrs               = ["203.0.113.128/25"]
}

resource "azurerm_firewall_policy" "hub" {
  name                = "hub-fw-policy"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
}

resource "azurerm_firewall" "hub" {
  name                = "hub-fw"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  sku_name            = "AZFW_VNet"
  sku_tier            = "Standard"
  firewall_policy_id  = azurerm_firewall_policy.hub.id

  ip_configuration {
    name                 = "data"
    subnet_id            = azurerm_subnet.firewall.id
    public_ip_address_id = azurerm_public_ip.pip["fw"].id
  }
}

resource "azurerm_firewall_policy_rule_collection_group" "inbound" {
  name               = "inbound"
  firewall_policy_id = azurerm_firewall_policy.hub.id
  priority           = 100

  nat_rule_collection {
    name     = "dnat-to-spoke"
    priority = 100
    action   = "Dnat"

    rule {
      name                = "https-to-app1"
      protocols           = ["TCP"]
      source_addresses    = ["*"]
      destination_address = azurerm_public_ip.pip["fw"].ip_address
      destination_ports   = ["443"]
      translated_address  = azurerm_network_interface.app1.private_ip_address
      translated_port     = 8443
    }

    rule {
      name                = "ssh-to-db1"
      protocols           = ["TCP"]
      source_ip_groups    = [azurerm_ip_group.office.id]
      destination_address = azurerm_public_ip.pip["fw"].ip_address
      destination_ports   = ["2222"]
      translated_address  = "10.20.2.4"
      translated_port     = 22
    }

    rule {
      name                = "http-to-app2"
      protocols           = ["TCP"]
      source_addresses    = ["*"]
      destination_address = azurerm_public_ip.pip["fw"].ip_address
      destination_ports   = ["8080"]
      translated_address  = azurerm_network_interface.app2.private_ip_address
      translated_port     = 80
    }
  }
}
