# Hub and spoke with Azure Firewall: see README.md.

terraform {
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.0"
    }
  }
}

provider "azurerm" {
  features {}
}

resource "azurerm_resource_group" "lab" {
  name     = "rg-fw-lab"
  location = "westeurope"
}

locals {
  # What the spokes' routes send everything to.
  firewall_ip = module.firewall.private_ip
}

# ---- VNets and subnets ----------------------------------------------------

resource "azurerm_virtual_network" "hub" {
  name                = "hub"
  resource_group_name = azurerm_resource_group.lab.name
  location            = azurerm_resource_group.lab.location
  address_space       = ["10.0.0.0/16"]

  subnet {
    name             = "AzureFirewallManagementSubnet"
    address_prefixes = ["10.0.1.64/26"]
  }
}

resource "azurerm_subnet" "firewall" {
  name                 = "AzureFirewallSubnet"
  resource_group_name  = azurerm_resource_group.lab.name
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = [cidrsubnet("10.0.1.0/24", 2, 0)]
}

resource "azurerm_subnet" "shared" {
  name                 = "shared"
  resource_group_name  = azurerm_resource_group.lab.name
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = ["10.0.2.0/24"]
}

resource "azurerm_virtual_network" "spoke" {
  for_each            = { spoke1 = "10.1.0.0/16", spoke2 = "10.2.0.0/16" }
  name                = each.key
  resource_group_name = azurerm_resource_group.lab.name
  location            = azurerm_resource_group.lab.location
  address_space       = [each.value]
}

resource "azurerm_subnet" "app" {
  for_each             = azurerm_virtual_network.spoke
  name                 = "app"
  resource_group_name  = azurerm_resource_group.lab.name
  virtual_network_name = each.value.name
  address_prefixes     = [cidrsubnet(each.value.address_space[0], 8, 1)]
}

resource "azurerm_virtual_network_peering" "hub_to_spoke" {
  for_each                  = azurerm_virtual_network.spoke
  name                      = "hub-to-${each.key}"
  resource_group_name       = azurerm_resource_group.lab.name
  virtual_network_name      = azurerm_virtual_network.hub.name
  remote_virtual_network_id = each.value.id
}

resource "azurerm_virtual_network_peering" "spoke_to_hub" {
  for_each                  = azurerm_virtual_network.spoke
  name                      = "${each.key}-to-hub"
  resource_group_name       = azurerm_resource_group.lab.name
  virtual_network_name      = each.value.name
  remote_virtual_network_id = azurerm_virtual_network.hub.id
  allow_forwarded_traffic   = true
}

# ---- The spokes send everything to the firewall ----------------------------

resource "azurerm_route_table" "spokes" {
  name                = "spokes-through-firewall"
  resource_group_name = azurerm_resource_group.lab.name
  location            = azurerm_resource_group.lab.location

  route {
    name                   = "everything-to-the-firewall"
    address_prefix         = "0.0.0.0/0"
    next_hop_type          = "VirtualAppliance"
    next_hop_in_ip_address = local.firewall_ip
  }
}

resource "azurerm_subnet_route_table_association" "app" {
  for_each       = azurerm_subnet.app
  subnet_id      = each.value.id
  route_table_id = azurerm_route_table.spokes.id
}

# ---- NICs -------------------------------------------------------------------

resource "azurerm_network_interface" "shared1" {
  name                = "shared1"
  resource_group_name = azurerm_resource_group.lab.name
  location            = azurerm_resource_group.lab.location

  ip_configuration {
    name                          = "internal"
    subnet_id                     = azurerm_subnet.shared.id
    private_ip_address_allocation = "Static"
    private_ip_address            = "10.0.2.4"
  }
}

resource "azurerm_network_interface" "vm" {
  for_each            = { vm1 = "spoke1", vm2 = "spoke2" }
  name                = each.key
  resource_group_name = azurerm_resource_group.lab.name
  location            = azurerm_resource_group.lab.location

  ip_configuration {
    name                          = "internal"
    subnet_id                     = azurerm_subnet.app[each.value].id
    private_ip_address_allocation = "Dynamic"
  }
}
