# config/virtual-wan.yaml as a Terraform user writes it: a Standard virtual
# WAN with a secured hub in West Europe and one in North Europe, routing
# intent for private and Internet traffic on both, two spokes per hub, and
# one firewall policy that allows web, ping and DNS between the spokes and
# denies SSH.

locals {
  hubs = {
    hub-weu = { location = "westeurope", prefix = "10.100.0.0/23", fw = "fw-weu", intent = "weu-intent" }
    hub-neu = { location = "northeurope", prefix = "10.200.0.0/23", fw = "fw-neu", intent = "neu-intent" }
  }
  spokes = {
    spoke11 = { hub = "hub-weu", space = "10.11.0.0/16", vm = "vm11" }
    spoke12 = { hub = "hub-weu", space = "10.12.0.0/16", vm = "vm12" }
    spoke21 = { hub = "hub-neu", space = "10.21.0.0/16", vm = "vm21" }
    spoke22 = { hub = "hub-neu", space = "10.22.0.0/16", vm = "vm22" }
  }
}

resource "azurerm_resource_group" "rg" {
  name     = "rg-vwan"
  location = "westeurope"
}

resource "azurerm_virtual_wan" "wan" {
  name                = "wan"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  type                = "Standard"
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
}

resource "azurerm_subnet" "app" {
  for_each             = local.spokes
  name                 = "app"
  resource_group_name  = azurerm_resource_group.rg.name
  virtual_network_name = azurerm_virtual_network.spoke[each.key].name
  address_prefixes     = [cidrsubnet(each.value.space, 8, 1)]
}

resource "azurerm_network_interface" "vm" {
  for_each            = local.spokes
  name                = each.value.vm
  resource_group_name = azurerm_resource_group.rg.name
  location            = local.hubs[each.value.hub].location

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = azurerm_subnet.app[each.key].id
    private_ip_address_allocation = "Static"
    private_ip_address            = cidrhost(cidrsubnet(each.value.space, 8, 1), 4)
  }
}

resource "azurerm_virtual_hub_connection" "spoke" {
  for_each                  = local.spokes
  name                      = "${each.key}-conn"
  virtual_hub_id            = azurerm_virtual_hub.hub[each.value.hub].id
  remote_virtual_network_id = azurerm_virtual_network.spoke[each.key].id
  internet_security_enabled = true
}

resource "azurerm_firewall_policy" "spokes" {
  name                = "spokes"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
}

resource "azurerm_firewall_policy_rule_collection_group" "between_spokes" {
  name               = "between-spokes"
  firewall_policy_id = azurerm_firewall_policy.spokes.id
  priority           = 200

  network_rule_collection {
    name     = "deny-ssh"
    priority = 100
    action   = "Deny"
    rule {
      name                  = "no-ssh-between-spokes"
      protocols             = ["TCP"]
      source_addresses      = ["10.0.0.0/8"]
      destination_addresses = ["10.0.0.0/8"]
      destination_ports     = ["22"]
    }
  }

  network_rule_collection {
    name     = "allow-web-ping-dns"
    priority = 200
    action   = "Allow"
    rule {
      name                  = "web"
      protocols             = ["TCP"]
      source_addresses      = ["10.0.0.0/8"]
      destination_addresses = ["10.0.0.0/8"]
      destination_ports     = ["80", "443", "5201"]
    }
    rule {
      name                  = "ping"
      protocols             = ["ICMP"]
      source_addresses      = ["10.0.0.0/8"]
      destination_addresses = ["10.0.0.0/8"]
      destination_ports     = ["*"]
    }
    rule {
      name                  = "dns"
      protocols             = ["UDP"]
      source_addresses      = ["10.0.0.0/8"]
      destination_addresses = ["10.0.0.0/8"]
      destination_ports     = ["53"]
    }
  }
}

resource "azurerm_firewall" "hub" {
  for_each            = local.hubs
  name                = each.value.fw
  resource_group_name = azurerm_resource_group.rg.name
  location            = each.value.location
  sku_name            = "AZFW_Hub"
  sku_tier            = "Standard"
  firewall_policy_id  = azurerm_firewall_policy.spokes.id

  virtual_hub {
    virtual_hub_id  = azurerm_virtual_hub.hub[each.key].id
    public_ip_count = 1
  }
}

resource "azurerm_virtual_hub_routing_intent" "hub" {
  for_each       = local.hubs
  name           = each.value.intent
  virtual_hub_id = azurerm_virtual_hub.hub[each.key].id

  routing_policy {
    name         = "PrivateTrafficPolicy"
    destinations = ["PrivateTraffic"]
    next_hop     = azurerm_firewall.hub[each.key].id
  }

  routing_policy {
    name         = "InternetTrafficPolicy"
    destinations = ["Internet"]
    next_hop     = azurerm_firewall.hub[each.key].id
  }
}
