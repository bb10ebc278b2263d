resource "azurerm_network_manager" "avnm" {
  name                = "contoso-avnm"
  location            = azurerm_resource_group.rg.location
  resource_group_name = azurerm_resource_group.rg.name
  scope_accesses      = ["Connectivity", "SecurityAdmin", "Routing"]
  description         = "Hub and spokes of Contoso"

  scope {
    subscription_ids = [data.azurerm_subscription.current.id]
  }
}

resource "azurerm_network_manager_network_group" "spokes" {
  name               = "spokes"
  network_manager_id = azurerm_network_manager.avnm.id
}

resource "azurerm_network_manager_static_member" "spoke" {
  for_each                  = azurerm_virtual_network.spoke
  name                      = "member-${each.key}"
  network_group_id          = azurerm_network_manager_network_group.spokes.id
  target_virtual_network_id = each.value.id
}

resource "azurerm_network_manager_connectivity_configuration" "hub_and_spoke" {
  name                  = "hub-and-spoke"
  network_manager_id    = azurerm_network_manager.avnm.id
  connectivity_topology = "HubAndSpoke"

  applies_to_group {
    group_connectivity  = "DirectlyConnected"
    network_group_id    = azurerm_network_manager_network_group.spokes.id
    global_mesh_enabled = true
  }

  hub {
    resource_id   = azurerm_virtual_network.hub.id
    resource_type = "Microsoft.Network/virtualNetworks"
  }
}

resource "azurerm_network_manager_security_admin_configuration" "guardrails" {
  name               = "guardrails"
  network_manager_id = azurerm_network_manager.avnm.id
}

resource "azurerm_network_manager_admin_rule_collection" "internet_edge" {
  name                            = "internet-edge"
  security_admin_configuration_id = azurerm_network_manager_security_admin_configuration.guardrails.id
  network_group_ids               = [azurerm_network_manager_network_group.spokes.id]
}

# Whatever the spokes' NSGs say.
resource "azurerm_network_manager_admin_rule" "deny_rdp_and_ssh" {
  name                     = "deny-rdp-and-ssh-from-the-internet"
  admin_rule_collection_id = azurerm_network_manager_admin_rule_collection.internet_edge.id
  action                   = "Deny"
  direction                = "Inbound"
  priority                 = 100
  protocol                 = "Tcp"
  destination_port_ranges  = ["22", "3389"]

  source {
    address_prefix_type = "ServiceTag"
    address_prefix      = "Internet"
  }
}

resource "azurerm_network_manager_admin_rule" "always_allow_monitoring" {
  name                     = "always-allow-monitoring"
  admin_rule_collection_id = azurerm_network_manager_admin_rule_collection.internet_edge.id
  action                   = "AlwaysAllow"
  direction                = "Inbound"
  priority                 = 110
  protocol                 = "Any"

  source {
    address_prefix_type = "IPPrefix"
    address_prefix      = azurerm_subnet.monitoring.address_prefixes[0]
  }
}

# A commit replaces a region's configurations of one kind: one deployment
# per region and kind.
resource "azurerm_network_manager_deployment" "connectivity" {
  for_each           = toset(["westeurope", "northeurope"])
  network_manager_id = azurerm_network_manager.avnm.id
  location           = each.key
  scope_access       = "Connectivity"
  configuration_ids  = [azurerm_network_manager_connectivity_configuration.hub_and_spoke.id]
}

resource "azurerm_network_manager_deployment" "security_admin" {
  for_each           = toset(["westeurope", "northeurope"])
  network_manager_id = azurerm_network_manager.avnm.id
  location           = each.key
  scope_access       = "SecurityAdmin"
  configuration_ids  = [azurerm_network_manager_security_admin_configuration.guardrails.id]
}

# The spokes of West Europe send the private range to the appliance in
# the hub, which the security admin rules leave alone.
resource "azurerm_network_manager_routing_configuration" "through_the_hub" {
  name                   = "through-the-hub"
  network_manager_id     = azurerm_network_manager.avnm.id
  route_table_usage_mode = "ManagedOnly"
}

resource "azurerm_network_manager_routing_rule_collection" "spokes" {
  name                          = "spokes"
  routing_configuration_id      = azurerm_network_manager_routing_configuration.through_the_hub.id
  network_group_ids             = [azurerm_network_manager_network_group.spokes.id]
  bgp_route_propagation_enabled = true
}

resource "azurerm_network_manager_routing_rule" "private_to_the_nva" {
  name               = "private-to-the-nva"
  rule_collection_id = azurerm_network_manager_routing_rule_collection.spokes.id

  destination {
    type    = "AddressPrefix"
    address = "192.168.0.0/16"
  }

  next_hop {
    type    = "VirtualAppliance"
    address = azurerm_network_interface.nic["hub1"].private_ip_address
  }
}

resource "azurerm_network_manager_deployment" "routing" {
  network_manager_id = azurerm_network_manager.avnm.id
  location           = "westeurope"
  scope_access       = "Routing"
  configuration_ids  = [azurerm_network_manager_routing_configuration.through_the_hub.id]
}
