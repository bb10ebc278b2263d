# Network Watcher's flow logs: a VNet flow log on spoke1 (what new
# deployments enable), and the NSG flow log of locked-nsg that an older
# deployment left (Azure creates no new ones; vnetd writes every NSG's
# flow log itself, so the import leaves it out with a note).

resource "azurerm_network_watcher" "westeurope" {
  name                = "NetworkWatcher_westeurope"
  location            = "westeurope"
  resource_group_name = "NetworkWatcherRG"
}

resource "azurerm_network_watcher_flow_log" "spoke1" {
  name                 = "spoke1-flows"
  network_watcher_name = azurerm_network_watcher.westeurope.name
  resource_group_name  = "NetworkWatcherRG"
  target_resource_id   = azurerm_virtual_network.spoke["spoke1"].id
  storage_account_id   = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-logs/providers/Microsoft.Storage/storageAccounts/flowlogs"
  enabled              = true
  version              = 2

  retention_policy {
    enabled = true
    days    = 7
  }
}

resource "azurerm_network_watcher_flow_log" "locked" {
  name                      = "locked-nsg-flows"
  network_watcher_name      = azurerm_network_watcher.westeurope.name
  resource_group_name       = "NetworkWatcherRG"
  network_security_group_id = azurerm_network_security_group.locked.id
  storage_account_id        = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-logs/providers/Microsoft.Storage/storageAccounts/flowlogs"
  enabled                   = true

  retention_policy {
    enabled = false
    days    = 0
  }
}
