# A Standard Virtual WAN with three hubs in three regions.
#
# hub1 (West Europe) and hub2 (North Europe) are secured: each has an Azure
# Firewall under one policy and routing intent sending private traffic
# (hub1: Internet traffic too) through it. hub1 has a VPN gateway with a
# branch whose link speaks BGP; hub2 an ExpressRoute gateway connecting a
# datacenter's circuit.
#
# hub3 (UK South) isolates its VNets with Microsoft's custom isolation:
# blue VNets are associated with RT_BLUE, red ones with RT_RED, each
# propagating to its own table and label; a shared NVA VNet propagates to
# both labels and reaches an indirect spoke peered behind the NVA, with a
# static route on its connection, routes in the three tables and a BGP
# connection from the hub's router to the NVA. A VNet associated with
# the default table propagates nowhere (noneRouteTable); the blue VNet also
# propagates to the secured hubs' default tables, so they reach it.

locals {
  rg = "rg-vwan"
  hubs = {
    hub1 = { location = "westeurope", prefix = "10.100.0.0/23" }
    hub2 = { location = "northeurope", prefix = "10.101.0.0/23" }
    hub3 = { location = "uksouth", prefix = "10.102.0.0/23" }
  }
  spokes = {
    spoke1   = { hub = "hub1", space = "10.1.0.0/16" }
    spoke2   = { hub = "hub2", space = "10.2.0.0/16" }
    blue1    = { hub = "hub3", space = "10.31.0.0/16" }
    red1     = { hub = "hub3", space = "10.32.0.0/16" }
    nva      = { hub = "hub3", space = "10.34.0.0/16" }
    isolated = { hub = "hub3", space = "10.36.0.0/16" }
  }
}

resource "azurerm_resource_group" "rg" {
  name     = local.rg
  location = "westeurope"
}

resource "azurerm_virtual_wan" "wan" {
  name                = "wan1"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
}

resource "azurerm_virtual_hub" "hub" {
  for_each            = local.hubs
  name                = each.key
  resource_group_name = azurerm_resource_group.rg.name
  location            = each.value.location
  virtual_wan_id      = azurerm_virtual_wan.wan.id
  address_prefix      = each.value.prefix
}

resource "azurerm_virtual_network" "spoke" {
  for_each            = local.spokes
  name                = each.key
  resource_group_name = azurerm_resource_group.rg.name
  location            = local.hubs[each.value.hub].location
  address_space       = [each.value.space]

  subnet {
    name             = "workload"
    address_prefixes = [cidrsubnet(each.value.space, 8, 1)]
  }
}

# The spoke behind the NVA, peered with its VNet.
resource "azurerm_virtual_network" "indirect" {
  name                = "indirect"
  resource_group_name = azurerm_resource_group.rg.name
  location            = "uksouth"
  address_space       = ["10.35.0.0/16"]

  subnet {
    name             = "workload"
    address_prefixes = ["10.35.1.0/24"]
  }
}

resource "azurerm_virtual_network_peering" "nva_to_indirect" {
  name                      = "nva-to-indirect"
  resource_group_name       = azurerm_resource_group.rg.name
  virtual_network_name      = azurerm_virtual_network.spoke["nva"].name
  remote_virtual_network_id = azurerm_virtual_network.indirect.id
  allow_forwarded_traffic   = true
}

resource "azurerm_virtual_network_peering" "indirect_to_nva" {
  name                      = "indirect-to-nva"
  resource_group_name       = azurerm_resource_group.rg.name
  virtual_network_name      = azurerm_virtual_network.indirect.name
  remote_virtual_network_id = azurerm_virtual_network.spoke["nva"].id
  allow_forwarded_traffic   = true
}

resource "azurerm_network_interface" "nva" {
  name                  = "nva1"
  resource_group_name   = azurerm_resource_group.rg.name
  location              = "uksouth"
  ip_forwarding_enabled = true

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = azurerm_virtual_network.spoke["nva"].subnet[0].id
    private_ip_address_allocation = "Static"
    private_ip_address            = "10.34.1.4"
  }
}

# --- Secured hubs ---

resource "azurerm_firewall_policy" "vwan" {
  name                = "pol-vwan"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
}

resource "azurerm_firewall" "hub" {
  for_each            = toset(["hub1", "hub2"])
  name                = "fw-${each.key}"
  resource_group_name = azurerm_resource_group.rg.name
  location            = local.hubs[each.key].location
  sku_name            = "AZFW_Hub"
  sku_tier            = "Standard"
  firewall_policy_id  = azurerm_firewall_policy.vwan.id

  virtual_hub {
    virtual_hub_id  = azurerm_virtual_hub.hub[each.key].id
    public_ip_count = 1
  }
}

resource "azurerm_virtual_hub_routing_intent" "hub1" {
  name           = "ri-hub1"
  virtual_hub_id = azurerm_virtual_hub.hub["hub1"].id

  routing_policy {
    name         = "InternetTrafficPolicy"
    destinations = ["Internet"]
    next_hop     = azurerm_firewall.hub["hub1"].id
  }

  routing_policy {
    name         = "PrivateTrafficPolicy"
    destinations = ["PrivateTraffic"]
    next_hop     = azurerm_firewall.hub["hub1"].id
  }
}

resource "azurerm_virtual_hub_routing_intent" "hub2" {
  name           = "ri-hub2"
  virtual_hub_id = azurerm_virtual_hub.hub["hub2"].id

  routing_policy {
    name         = "PrivateTrafficPolicy"
    destinations = ["PrivateTraffic"]
    next_hop     = azurerm_firewall.hub["hub2"].id
  }
}

resource "azurerm_virtual_hub_connection" "secured" {
  for_each                  = toset(["spoke1", "spoke2"])
  name                      = "conn-${each.key}"
  virtual_hub_id            = azurerm_virtual_hub.hub[local.spokes[each.key].hub].id
  remote_virtual_network_id = azurerm_virtual_network.spoke[each.key].id
  internet_security_enabled = true
}

# --- A branch over VPN, to hub1 ---

resource "azurerm_vpn_site" "branch1" {
  name                = "branch1"
  resource_group_name = azurerm_resource_group.rg.name
  location            = "westeurope"
  virtual_wan_id      = azurerm_virtual_wan.wan.id
  address_cidrs       = ["192.168.10.0/24"]

  link {
    name          = "link1"
    ip_address    = "203.0.113.10"
    speed_in_mbps = 100

    bgp {
      asn             = 65001
      peering_address = "192.168.10.1"
    }
  }
}

resource "azurerm_vpn_gateway" "hub1" {
  name                = "hub1-vpngw"
  resource_group_name = azurerm_resource_group.rg.name
  location            = "westeurope"
  virtual_hub_id      = azurerm_virtual_hub.hub["hub1"].id
  scale_unit          = 1

  bgp_settings {
    asn         = 65515
    peer_weight = 0
  }
}

variable "branch1_psk" {
  type      = string
  sensitive = true
  default   = "not-a-real-key"
}

resource "azurerm_vpn_gateway_connection" "branch1" {
  name               = "to-branch1"
  vpn_gateway_id     = azurerm_vpn_gateway.hub1.id
  remote_vpn_site_id = azurerm_vpn_site.branch1.id

  vpn_link {
    name             = "link1"
    vpn_site_link_id = azurerm_vpn_site.branch1.link[0].id
    bgp_enabled      = true
    shared_key       = var.branch1_psk
  }
}

# --- A datacenter over ExpressRoute, to hub2 ---

resource "azurerm_express_route_circuit" "dc1" {
  name                  = "dc1-circuit"
  resource_group_name   = azurerm_resource_group.rg.name
  location              = "northeurope"
  service_provider_name = "Equinix"
  peering_location      = "Dublin"
  bandwidth_in_mbps     = 1000

  sku {
    tier   = "Standard"
    family = "MeteredData"
  }
}

resource "azurerm_express_route_circuit_peering" "dc1_private" {
  peering_type                  = "AzurePrivatePeering"
  express_route_circuit_name    = azurerm_express_route_circuit.dc1.name
  resource_group_name           = azurerm_resource_group.rg.name
  peer_asn                      = 65020
  primary_peer_address_prefix   = "172.16.0.0/30"
  secondary_peer_address_prefix = "172.16.0.4/30"
  vlan_id                       = 100
}

resource "azurerm_express_route_gateway" "hub2" {
  name                = "hub2-ergw"
  resource_group_name = azurerm_resource_group.rg.name
  location            = "northeurope"
  virtual_hub_id      = azurerm_virtual_hub.hub["hub2"].id
  scale_units         = 1
}

resource "azurerm_express_route_connection" "dc1" {
  name                             = "er-dc1"
  express_route_gateway_id         = azurerm_express_route_gateway.hub2.id
  express_route_circuit_peering_id = azurerm_express_route_circuit_peering.dc1_private.id
  routing_weight                   = 10
}

# --- Custom isolation in hub3 ---

resource "azurerm_virtual_hub_route_table" "blue" {
  name           = "RT_BLUE"
  virtual_hub_id = azurerm_virtual_hub.hub["hub3"].id
  labels         = ["blue"]
}

resource "azurerm_virtual_hub_route_table" "red" {
  name           = "RT_RED"
  virtual_hub_id = azurerm_virtual_hub.hub["hub3"].id
  labels         = ["red"]

  route {
    name              = "red-to-indirect"
    destinations_type = "CIDR"
    destinations      = ["10.35.0.0/16"]
    next_hop_type     = "ResourceId"
    next_hop          = azurerm_virtual_hub_connection.nva.id
  }
}

resource "azurerm_virtual_hub_route_table_route" "blue_to_indirect" {
  route_table_id    = azurerm_virtual_hub_route_table.blue.id
  name              = "blue-to-indirect"
  destinations_type = "CIDR"
  destinations      = ["10.35.0.0/16"]
  next_hop_type     = "ResourceId"
  next_hop          = azurerm_virtual_hub_connection.nva.id
}

resource "azurerm_virtual_hub_route_table_route" "default_to_indirect" {
  route_table_id    = azurerm_virtual_hub.hub["hub3"].default_route_table_id
  name              = "default-to-indirect"
  destinations_type = "CIDR"
  destinations      = ["10.35.0.0/16"]
  next_hop_type     = "ResourceId"
  next_hop          = azurerm_virtual_hub_connection.nva.id
}

resource "azurerm_virtual_hub_connection" "blue1" {
  name                      = "conn-blue1"
  virtual_hub_id            = azurerm_virtual_hub.hub["hub3"].id
  remote_virtual_network_id = azurerm_virtual_network.spoke["blue1"].id

  routing {
    associated_route_table_id = azurerm_virtual_hub_route_table.blue.id

    propagated_route_table {
      labels = ["blue"]
      route_table_ids = [
        azurerm_virtual_hub_route_table.blue.id,
        azurerm_virtual_hub.hub["hub1"].default_route_table_id,
        azurerm_virtual_hub.hub["hub2"].default_route_table_id,
      ]
    }
  }
}

resource "azurerm_virtual_hub_connection" "red1" {
  name                      = "conn-red1"
  virtual_hub_id            = azurerm_virtual_hub.hub["hub3"].id
  remote_virtual_network_id = azurerm_virtual_network.spoke["red1"].id

  routing {
    associated_route_table_id = azurerm_virtual_hub_route_table.red.id

    propagated_route_table {
      labels          = ["red"]
      route_table_ids = [azurerm_virtual_hub_route_table.red.id]
    }
  }
}

resource "azurerm_virtual_hub_connection" "nva" {
  name                      = "conn-nva"
  virtual_hub_id            = azurerm_virtual_hub.hub["hub3"].id
  remote_virtual_network_id = azurerm_virtual_network.spoke["nva"].id

  routing {
    associated_route_table_id = azurerm_virtual_hub.hub["hub3"].default_route_table_id

    propagated_route_table {
      labels          = ["red", "blue", "default"]
      route_table_ids = [azurerm_virtual_hub.hub["hub3"].default_route_table_id]
    }

    static_vnet_route {
      name                = "to-indirect"
      address_prefixes    = [azurerm_virtual_network.indirect.address_space[0]]
      next_hop_ip_address = azurerm_network_interface.nva.private_ip_address
    }

    static_vnet_local_route_override_criteria = "Equal"
  }
}

resource "azurerm_virtual_hub_connection" "isolated" {
  name                      = "conn-isolated"
  virtual_hub_id            = azurerm_virtual_hub.hub["hub3"].id
  remote_virtual_network_id = azurerm_virtual_network.spoke["isolated"].id

  routing {
    associated_route_table_id = azurerm_virtual_hub.hub["hub3"].default_route_table_id

    propagated_route_table {
      route_table_ids = ["${azurerm_virtual_hub.hub["hub3"].id}/hubRouteTables/noneRouteTable"]
    }
  }
}

resource "azurerm_virtual_hub_bgp_connection" "nva" {
  name                          = "nva-peer"
  virtual_hub_id                = azurerm_virtual_hub.hub["hub3"].id
  peer_asn                      = 65010
  peer_ip                       = azurerm_network_interface.nva.private_ip_address
  virtual_network_connection_id = azurerm_virtual_hub_connection.nva.id
}
