# Azure Route Server in a hub, peering over BGP with two NVAs of the hub's
# `nva` subnet. vnetd writes the Route Server and its BGP connections; the
# NVAs' own BGP daemons are theirs (a NIC's `bgp_speaker` is vnetd's key),
# so the NICs are written without one. The Route Server's public IP and
# SKU are read and not written: vnetd needs neither. The connections name
# the NICs' Static addresses, which the import knows.

locals {
  rg       = "rg-rs"
  location = "westeurope"
  nva_asn  = 65001
}

resource "azurerm_resource_group" "rg" {
  name     = local.rg
  location = local.location
}

resource "azurerm_virtual_network" "hub" {
  name                = "hub"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  address_space       = ["10.0.0.0/16"]
}

resource "azurerm_subnet" "route_server" {
  name                 = "RouteServerSubnet"
  resource_group_name  = azurerm_resource_group.rg.name
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = ["10.0.1.0/26"]
}

resource "azurerm_subnet" "nva" {
  name                 = "nva"
  resource_group_name  = azurerm_resource_group.rg.name
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = ["10.0.2.0/24"]
}

resource "azurerm_network_interface" "nva" {
  count                 = 2
  name                  = "nva${count.index + 1}"
  resource_group_name   = azurerm_resource_group.rg.name
  location              = azurerm_resource_group.rg.location
  ip_forwarding_enabled = true

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = azurerm_subnet.nva.id
    private_ip_address_allocation = "Static"
    private_ip_address            = cidrhost(azurerm_subnet.nva.address_prefixes[0], count.index + 4)
  }
}

resource "azurerm_public_ip" "route_server" {
  name                = "hub-rs-ip"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  allocation_method   = "Static"
  sku                 = "Standard"
}

resource "azurerm_route_server" "hub" {
  name                             = "hub-rs"
  resource_group_name              = azurerm_resource_group.rg.name
  location                         = azurerm_resource_group.rg.location
  sku                              = "Standard"
  public_ip_address_id             = azurerm_public_ip.route_server.id
  subnet_id                        = azurerm_subnet.route_server.id
  branch_to_branch_traffic_enabled = true
  hub_routing_preference           = "ASPath"
}

resource "azurerm_route_server_bgp_connection" "nva" {
  count           = 2
  name            = azurerm_network_interface.nva[count.index].name
  route_server_id = azurerm_route_server.hub.id
  peer_asn        = local.nva_asn
  peer_ip         = azurerm_network_interface.nva[count.index].private_ip_address
}
