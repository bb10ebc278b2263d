# A VPN gateway in the hub, shared with a spoke through gateway transit,
# connected to two branches: branch1 over BGP, branch2 with static ranges.
# vnetd runs each branch as an on-premises site; the import writes one per
# local network gateway.

locals {
  rg       = "rg-hybrid"
  location = "westeurope"
}

resource "azurerm_virtual_network" "hub" {
  name                = "hub"
  resource_group_name = local.rg
  location            = local.location
  address_space       = ["10.0.0.0/16"]
}

resource "azurerm_subnet" "default" {
  name                 = "default"
  resource_group_name  = local.rg
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = ["10.0.1.0/24"]
}

resource "azurerm_subnet" "gateway" {
  name                 = "GatewaySubnet"
  resource_group_name  = local.rg
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = ["10.0.255.224/27"]
}

resource "azurerm_virtual_network" "spoke1" {
  name                = "spoke1"
  resource_group_name = local.rg
  location            = local.location
  address_space       = ["10.1.0.0/16"]

  subnet {
    name           = "app"
    address_prefix = "10.1.1.0/24"
  }
}

resource "azurerm_virtual_network_peering" "hub_to_spoke1" {
  name                      = "hub-to-spoke1"
  resource_group_name       = local.rg
  virtual_network_name      = azurerm_virtual_network.hub.name
  remote_virtual_network_id = azurerm_virtual_network.spoke1.id
  allow_gateway_transit     = true
}

resource "azurerm_virtual_network_peering" "spoke1_to_hub" {
  name                      = "spoke1-to-hub"
  resource_group_name       = local.rg
  virtual_network_name      = azurerm_virtual_network.spoke1.name
  remote_virtual_network_id = azurerm_virtual_network.hub.id
  use_remote_gateways       = true
}

resource "azurerm_network_interface" "vm1" {
  name                = "vm1"
  resource_group_name = local.rg
  location            = local.location

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = "${azurerm_virtual_network.spoke1.id}/subnets/app"
    private_ip_address_allocation = "Dynamic"
  }
}

resource "azurerm_public_ip" "gateway" {
  name                = "hub-vpngw-ip"
  resource_group_name = local.rg
  location            = local.location
  allocation_method   = "Static"
  sku                 = "Standard"
}

resource "azurerm_virtual_network_gateway" "hub" {
  name                = "hub-vpngw"
  resource_group_name = local.rg
  location            = local.location
  type                = "Vpn"
  vpn_type            = "RouteBased"
  sku                 = "VpnGw1"
  active_active       = false
  enable_bgp          = true

  ip_configuration {
    name                          = "vnetGatewayConfig"
    public_ip_address_id          = azurerm_public_ip.gateway.id
    private_ip_address_allocation = "Dynamic"
    subnet_id                     = azurerm_subnet.gateway.id
  }

  bgp_settings {
    asn = 65515
  }
}

resource "azurerm_local_network_gateway" "branch1" {
  name                = "branch1"
  resource_group_name = local.rg
  location            = local.location
  gateway_address     = "203.0.113.10"

  bgp_settings {
    asn                 = 65050
    bgp_peering_address = "192.168.255.1"
  }
}

resource "azurerm_local_network_gateway" "branch2" {
  name                = "branch2"
  resource_group_name = local.rg
  location            = local.location
  gateway_address     = "198.51.100.20"
  address_space       = ["172.16.0.0/16"]
}

resource "azurerm_virtual_network_gateway_connection" "branch1" {
  name                       = "hub-to-branch1"
  resource_group_name        = local.rg
  location                   = local.location
  type                       = "IPsec"
  virtual_network_gateway_id = azurerm_virtual_network_gateway.hub.id
  local_network_gateway_id   = azurerm_local_network_gateway.branch1.id
  enable_bgp                 = true
  shared_key                 = "not-written-out"
}

resource "azurerm_virtual_network_gateway_connection" "branch2" {
  name                       = "hub-to-branch2"
  resource_group_name        = local.rg
  location                   = local.location
  type                       = "IPsec"
  virtual_network_gateway_id = azurerm_virtual_network_gateway.hub.id
  local_network_gateway_id   = azurerm_local_network_gateway.branch2.id
  routing_weight             = 10
  shared_key                 = "not-written-out"
}
