# New spokes join the group by their tag: Azure Policy adds every VNet
# tagged role=spoke to it (spoke3 is a static member too).
resource "azurerm_policy_definition" "spokes_by_tag" {
  name         = "spokes-by-tag"
  policy_type  = "Custom"
  mode         = "Microsoft.Network.Data"
  display_name = "VNets tagged role=spoke join the spokes group"

  policy_rule = jsonencode({
    if = {
      allOf = [
        { field = "type", equals = "Microsoft.Network/virtualNetworks" },
        { field = "tags['role']", equals = "spoke" },
      ]
    }
    then = {
      effect  = "addToNetworkGroup"
      details = { networkGroupId = azurerm_network_manager_network_group.spokes.id }
    }
  })
}

resource "azurerm_subscription_policy_assignment" "spokes_by_tag" {
  name                 = "spokes-by-tag"
  policy_definition_id = azurerm_policy_definition.spokes_by_tag.id
  subscription_id      = data.azurerm_subscription.current.id
}
