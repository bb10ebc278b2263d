# Real configurations name things with random suffixes and build their
# VNets with modules: the suffixes import as stable placeholders, the
# local module is followed, the registry one is not (its outputs are
# unknown, and only name a NIC here).

resource "random_string" "suffix" {
  length  = 6
  special = false
  upper   = false
}

resource "random_pet" "rg" {
  prefix = "lab"
}

resource "azurerm_resource_group" "lab" {
  name     = "rg-${random_pet.rg.id}"
  location = var.location
}

module "naming" {
  source  = "Azure/naming/azurerm"
  version = "0.4.0"
  suffix  = [random_string.suffix.result]
}

module "hub" {
  source              = "./modules/vnet"
  name                = "vnet-hub-${random_string.suffix.result}"
  resource_group_name = azurerm_resource_group.lab.name
  location            = azurerm_resource_group.lab.location
  address_space       = ["10.0.0.0/16"]
  subnets = {
    nva      = "10.0.1.0/24"
    workload = "10.0.2.0/24"
  }
}

module "spoke" {
  source              = "./modules/vnet"
  for_each            = var.spokes
  name                = "vnet-${each.key}-${random_string.suffix.result}"
  resource_group_name = azurerm_resource_group.lab.name
  location            = azurerm_resource_group.lab.location
  address_space       = [each.value]
  subnets = {
    workload = cidrsubnet(each.value, 8, 1)
  }
}

resource "azurerm_virtual_network_peering" "hub_to_spoke" {
  for_each                  = module.spoke
  name                      = "hub-to-${each.key}"
  resource_group_name       = azurerm_resource_group.lab.name
  virtual_network_name      = module.hub.vnet_name
  remote_virtual_network_id = each.value.vnet_id
  allow_forwarded_traffic   = true
}

resource "azurerm_virtual_network_peering" "spoke_to_hub" {
  for_each                  = module.spoke
  name                      = "${each.key}-to-hub"
  resource_group_name       = azurerm_resource_group.lab.name
  virtual_network_name      = each.value.vnet_name
  remote_virtual_network_id = module.hub.vnet_id
  allow_forwarded_traffic   = true
}

resource "azurerm_network_interface" "nva" {
  name                 = module.naming.network_interface.name
  location             = azurerm_resource_group.lab.location
  resource_group_name  = azurerm_resource_group.lab.name
  ip_forwarding_enabled = true
  ip_configuration {
    name                          = "ipconfig"
    subnet_id                     = module.hub.subnet_ids["nva"]
    private_ip_address_allocation = "Static"
    private_ip_address            = cidrhost(module.hub.subnet_prefixes["nva"], 4)
  }
}

resource "azurerm_route_table" "spokes" {
  name                = "rt-spokes-${random_string.suffix.result}"
  location            = azurerm_resource_group.lab.location
  resource_group_name = azurerm_resource_group.lab.name
  route {
    name                   = "to-hub-nva"
    address_prefix         = "0.0.0.0/0"
    next_hop_type          = "VirtualAppliance"
    next_hop_in_ip_address = azurerm_network_interface.nva.private_ip_address
  }
}

resource "azurerm_subnet_route_table_association" "spoke" {
  for_each       = module.spoke
  subnet_id      = each.value.subnet_ids["workload"]
  route_table_id = azurerm_route_table.spokes.id
}
