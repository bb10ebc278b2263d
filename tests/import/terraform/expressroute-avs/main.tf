# ExpressRoute with Global Reach to an Azure VMware Solution private cloud:
# a hub whose ExpressRoute gateway connects a datacenter's circuit and the
# private cloud's (by the private cloud's authorization), the two circuits
# joined by Global Reach. vnetd runs the datacenter's customer edge as a
# site the import writes, and the private cloud as what Azure builds.

locals {
  rg       = "rg-avs"
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

resource "azurerm_public_ip" "ergw" {
  name                = "hub-ergw-ip"
  resource_group_name = local.rg
  location            = local.location
  allocation_method   = "Static"
  sku                 = "Standard"
}

resource "azurerm_virtual_network_gateway" "ergw" {
  name                = "hub-ergw"
  resource_group_name = local.rg
  location            = local.location
  type                = "ExpressRoute"
  sku                 = "ErGw1AZ"

  ip_configuration {
    name                 = "default"
    public_ip_address_id = azurerm_public_ip.ergw.id
    subnet_id            = azurerm_subnet.gateway.id
  }
}

resource "azurerm_express_route_circuit" "dc1" {
  name                  = "dc1-circuit"
  resource_group_name   = local.rg
  location              = local.location
  service_provider_name = "Equinix"
  peering_location      = "Amsterdam"
  bandwidth_in_mbps     = 1000

  sku {
    tier   = "Standard"
    family = "MeteredData"
  }
}

resource "azurerm_express_route_circuit_peering" "dc1_private" {
  peering_type                  = "AzurePrivatePeering"
  express_route_circuit_name    = azurerm_express_route_circuit.dc1.name
  resource_group_name           = local.rg
  peer_asn                      = 65020
  primary_peer_address_prefix   = "172.16.0.0/30"
  secondary_peer_address_prefix = "172.16.0.4/30"
  vlan_id                       = 100
}

resource "azurerm_vmware_private_cloud" "avs" {
  name                = "avs1"
  resource_group_name = local.rg
  location            = local.location
  sku_name            = "av36"
  network_subnet_cidr = "10.100.0.0/22"

  management_cluster {
    size = 3
  }
}

resource "azurerm_vmware_express_route_authorization" "hub" {
  name             = "hub-authorization"
  private_cloud_id = azurerm_vmware_private_cloud.avs.id
}

resource "azurerm_express_route_circuit_connection" "dc1_avs" {
  name                = "dc1-avs"
  peering_id          = azurerm_express_route_circuit_peering.dc1_private.id
  peer_peering_id     = azurerm_vmware_private_cloud.avs.circuit[0].express_route_private_peering_id
  address_prefix_ipv4 = "192.168.8.0/29"
}

resource "azurerm_virtual_network_gateway_connection" "dc1" {
  name                       = "hub-to-dc1"
  resource_group_name        = local.rg
  location                   = local.location
  type                       = "ExpressRoute"
  virtual_network_gateway_id = azurerm_virtual_network_gateway.ergw.id
  express_route_circuit_id   = azurerm_express_route_circuit.dc1.id
}

resource "azurerm_virtual_network_gateway_connection" "avs" {
  name                       = "hub-to-avs"
  resource_group_name        = local.rg
  location                   = local.location
  type                       = "ExpressRoute"
  virtual_network_gateway_id = azurerm_virtual_network_gateway.ergw.id
  express_route_circuit_id   = azurerm_vmware_private_cloud.avs.circuit[0].express_route_id
  authorization_key          = azurerm_vmware_express_route_authorization.hub.express_route_authorization_key
}
