# Dual redundancy: an active-active VPN gateway in the hub and two
# on-premises VPN devices in front of the same network, one local network
# gateway and one BGP connection per device, both gateways for the same
# address space and one ASN. The import makes them one site with a router
# per device.

locals {
  rg       = "rg-dual-device"
  location = "westus"
  onprem   = ["10.51.0.0/16", "10.52.0.0/16"]
}

resource "azurerm_virtual_network" "hub" {
  name                = "hub"
  resource_group_name = local.rg
  location            = local.location
  address_space       = ["10.11.0.0/16"]
}

resource "azurerm_subnet" "default" {
  name                 = "default"
  resource_group_name  = local.rg
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = ["10.11.1.0/24"]
}

resource "azurerm_subnet" "gateway" {
  name                 = "GatewaySubnet"
  resource_group_name  = local.rg
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = ["10.11.255.0/27"]
}

resource "azurerm_network_interface" "hub_vm" {
  name                = "hub-vm"
  resource_group_name = local.rg
  location            = local.location

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = azurerm_subnet.default.id
    private_ip_address_allocation = "Static"
    private_ip_address            = "10.11.1.4"
  }
}

resource "azurerm_public_ip" "gateway" {
  count               = 2
  name                = "hub-vpngw-ip${count.index + 1}"
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
  sku                 = "VpnGw2"
  generation          = "Generation2"
  active_active       = true
  bgp_enabled         = true

  ip_configuration {
    name                          = "gw1ipconf1"
    public_ip_address_id          = azurerm_public_ip.gateway[0].id
    private_ip_address_allocation = "Dynamic"
    subnet_id                     = azurerm_subnet.gateway.id
  }

  ip_configuration {
    name                          = "gw1ipconf2"
    public_ip_address_id          = azurerm_public_ip.gateway[1].id
    private_ip_address_allocation = "Dynamic"
    subnet_id                     = azurerm_subnet.gateway.id
  }

  bgp_settings {
    asn = 65010
  }
}

resource "azurerm_local_network_gateway" "device1" {
  name                = "onprem-vpn1"
  resource_group_name = local.rg
  location            = local.location
  gateway_address     = "131.107.72.22"
  address_space       = local.onprem

  bgp_settings {
    asn                 = 65050
    bgp_peering_address = "10.52.255.253"
  }
}

resource "azurerm_local_network_gateway" "device2" {
  name                = "onprem-vpn2"
  resource_group_name = local.rg
  location            = local.location
  gateway_address     = "131.107.72.23"
  address_space       = local.onprem

  bgp_settings {
    asn                 = 65050
    bgp_peering_address = "10.52.255.254"
  }
}

resource "azurerm_virtual_network_gateway_connection" "device1" {
  name                       = "hub-to-onprem-vpn1"
  resource_group_name        = local.rg
  location                   = local.location
  type                       = "IPsec"
  virtual_network_gateway_id = azurerm_virtual_network_gateway.hub.id
  local_network_gateway_id   = azurerm_local_network_gateway.device1.id
  bgp_enabled                = true
  shared_key                 = "not-written-out"
}

resource "azurerm_virtual_network_gateway_connection" "device2" {
  name                       = "hub-to-onprem-vpn2"
  resource_group_name        = local.rg
  location                   = local.location
  type                       = "IPsec"
  virtual_network_gateway_id = azurerm_virtual_network_gateway.hub.id
  local_network_gateway_id   = azurerm_local_network_gateway.device2.id
  bgp_enabled                = true
  shared_key                 = "not-written-out"
}
