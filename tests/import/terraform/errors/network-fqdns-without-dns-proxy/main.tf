resource "azurerm_virtual_network" "hub" {
  name                = "hub"
  resource_group_name = "rg"
  address_space       = ["10.0.0.0/16"]
}

resource "azurerm_firewall_policy" "p" {
  name                = "hub-policy"
  resource_group_name = "rg"
}

resource "azurerm_firewall_policy_rule_collection_group" "g" {
  name               = "egress"
  firewall_policy_id = azurerm_firewall_policy.p.id
  priority           = 200

  network_rule_collection {
    name     = "out"
    priority = 100
    action   = "Allow"
    rule {
      name              = "api"
      protocols         = ["TCP"]
      source_addresses  = ["10.0.0.0/16"]
      destination_fqdns = ["api.contoso.com"]
      destination_ports = ["443"]
    }
  }
}
