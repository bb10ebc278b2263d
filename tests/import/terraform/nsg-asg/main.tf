# A three-tier application secured with NSGs written against application
# security groups: the web tier takes 80 and 443 from the Internet, the
# web tier reaches the app tier, the app tier the database; the database's
# NIC has an NSG of its own. The VNet's subnets are inline blocks (one in
# azurerm v3's singular `address_prefix`, two in v4's list), and the NSG
# has inline rules and separate azurerm_network_security_rule resources.

locals {
  rg       = "rg-tiers"
  location = "North Europe"
}

resource "azurerm_application_security_group" "web" {
  name                = "web-asg"
  resource_group_name = local.rg
  location            = local.location
}

resource "azurerm_application_security_group" "app" {
  name                = "app-asg"
  resource_group_name = local.rg
  location            = local.location
}

resource "azurerm_application_security_group" "db" {
  name                = "db-asg"
  resource_group_name = local.rg
  location            = local.location
}

resource "azurerm_network_security_group" "tiers" {
  name                = "tiers-nsg"
  resource_group_name = local.rg
  location            = local.location

  security_rule {
    name                                       = "allow-internet-to-web"
    priority                                   = 100
    direction                                  = "Inbound"
    access                                     = "Allow"
    protocol                                   = "Tcp"
    source_port_range                          = "*"
    destination_port_ranges                    = ["443", "80"]
    source_address_prefix                      = "Internet"
    destination_application_security_group_ids = [azurerm_application_security_group.web.id]
  }

  security_rule {
    name                                       = "allow-web-to-app"
    priority                                   = 110
    direction                                  = "Inbound"
    access                                     = "Allow"
    protocol                                   = "Tcp"
    source_port_range                          = "*"
    destination_port_range                     = "8080"
    source_application_security_group_ids      = [azurerm_application_security_group.web.id]
    destination_application_security_group_ids = [azurerm_application_security_group.app.id]
  }
}

resource "azurerm_network_security_rule" "app_to_db" {
  name                                       = "allow-app-to-db"
  resource_group_name                        = local.rg
  network_security_group_name                = azurerm_network_security_group.tiers.name
  priority                                   = 120
  direction                                  = "Inbound"
  access                                     = "Allow"
  protocol                                   = "Tcp"
  source_port_range                          = "*"
  destination_port_ranges                    = ["6432-6439", "5432"]
  source_application_security_group_ids      = [azurerm_application_security_group.app.id]
  destination_application_security_group_ids = [azurerm_application_security_group.db.id]
}

resource "azurerm_network_security_rule" "icmp" {
  name                        = "allow-icmp-in-vnet"
  resource_group_name         = local.rg
  network_security_group_name = azurerm_network_security_group.tiers.name
  priority                    = 200
  direction                   = "Inbound"
  access                      = "Allow"
  protocol                    = "Icmp"
  source_port_range           = "*"
  destination_port_range      = "*"
  source_address_prefix       = "VirtualNetwork"
  destination_address_prefix  = "VirtualNetwork"
}

resource "azurerm_network_security_rule" "deny_vnet" {
  name                        = "deny-other-vnet-inbound"
  resource_group_name         = local.rg
  network_security_group_name = azurerm_network_security_group.tiers.name
  priority                    = 4000
  direction                   = "Inbound"
  access                      = "Deny"
  protocol                    = "*"
  source_port_range           = "*"
  destination_port_range      = "*"
  source_address_prefix       = "VirtualNetwork"
  destination_address_prefix  = "VirtualNetwork"
}

resource "azurerm_network_security_group" "db_nic" {
  name                = "db-nic-nsg"
  resource_group_name = local.rg
  location            = local.location

  security_rule {
    name                       = "allow-app-tier"
    priority                   = 100
    direction                  = "Inbound"
    access                     = "Allow"
    protocol                   = "*"
    source_port_range          = "*"
    destination_port_range     = "*"
    source_address_prefixes    = ["10.50.2.0/24", "10.50.12.0/24"]
    destination_address_prefix = "*"
  }

  security_rule {
    name                       = "deny-rest"
    priority                   = 4096
    direction                  = "Inbound"
    access                     = "Deny"
    protocol                   = "*"
    source_port_range          = "*"
    destination_port_range     = "*"
    source_address_prefix      = "*"
    destination_address_prefix = "*"
  }

  security_rule {
    name                       = "deny-outbound-internet"
    priority                   = 100
    direction                  = "Outbound"
    access                     = "Deny"
    protocol                   = "*"
    source_port_ranges         = ["1024-65535"]
    destination_port_range     = "*"
    source_address_prefix      = "*"
    destination_address_prefix = "Internet"
  }
}

resource "azurerm_virtual_network" "app" {
  name                = "app-vnet"
  resource_group_name = local.rg
  location            = local.location
  address_space       = ["10.50.0.0/16"]

  subnet {
    name           = "web"
    address_prefix = "10.50.1.0/24"
    security_group = azurerm_network_security_group.tiers.id
  }

  subnet {
    name             = "app"
    address_prefixes = ["10.50.2.0/24"]
    security_group   = azurerm_network_security_group.tiers.id
  }

  subnet {
    name             = "db"
    address_prefixes = ["10.50.3.0/24"]
    security_group   = azurerm_network_security_group.tiers.id
  }
}
