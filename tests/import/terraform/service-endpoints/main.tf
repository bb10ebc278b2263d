# Service endpoints and the storage accounts' own network rules, as users
# write them: a subnet with Microsoft.Storage and Microsoft.KeyVault
# endpoints and a service endpoint policy, a storage account that denies
# by default and allows that subnet (its rules in a separate resource), one
# with public network access disabled behind a Private Endpoint, and a key
# vault whose network ACLs allow the subnet.

resource "azurerm_resource_group" "rg" {
  name     = "rg-se"
  location = "westeurope"
}

resource "azurerm_virtual_network" "app" {
  name                = "app"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  address_space       = ["10.1.0.0/16"]
}

resource "azurerm_subnet" "web" {
  name                        = "web"
  resource_group_name         = azurerm_resource_group.rg.name
  virtual_network_name        = azurerm_virtual_network.app.name
  address_prefixes            = ["10.1.1.0/24"]
  service_endpoints           = ["Microsoft.Storage", "Microsoft.KeyVault"]
  service_endpoint_policy_ids = [azurerm_subnet_service_endpoint_storage_policy.web.id]
}

resource "azurerm_subnet" "pe" {
  name                 = "pe"
  resource_group_name  = azurerm_resource_group.rg.name
  virtual_network_name = azurerm_virtual_network.app.name
  address_prefixes     = ["10.1.3.0/24"]
}

resource "azurerm_storage_account" "data" {
  name                     = "stcontosodata"
  resource_group_name      = azurerm_resource_group.rg.name
  location                 = azurerm_resource_group.rg.location
  account_tier             = "Standard"
  account_replication_type = "LRS"
}

resource "azurerm_storage_account_network_rules" "data" {
  storage_account_id         = azurerm_storage_account.data.id
  default_action             = "Deny"
  ip_rules                   = ["203.0.113.10"]
  virtual_network_subnet_ids = [azurerm_subnet.web.id]
  bypass                     = ["AzureServices", "Logging"]
}

resource "azurerm_storage_account" "locked" {
  name                          = "stcontosolocked"
  resource_group_name           = azurerm_resource_group.rg.name
  location                      = azurerm_resource_group.rg.location
  account_tier                  = "Standard"
  account_replication_type      = "LRS"
  public_network_access_enabled = false
}

resource "azurerm_key_vault" "kv" {
  name                = "kv-contoso-se"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  tenant_id           = "00000000-0000-0000-0000-000000000000"
  sku_name            = "standard"

  network_acls {
    default_action             = "Deny"
    bypass                     = "AzureServices"
    virtual_network_subnet_ids = [azurerm_subnet.web.id]
  }
}

resource "azurerm_subnet_service_endpoint_storage_policy" "web" {
  name                = "web-storage-only"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location

  definition {
    name              = "contoso-accounts"
    description       = "the accounts of the app"
    service           = "Microsoft.Storage"
    service_resources = [azurerm_storage_account.data.id, azurerm_storage_account.locked.id]
  }
}

resource "azurerm_private_endpoint" "locked" {
  name                = "pe-stlocked"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  subnet_id           = azurerm_subnet.pe.id

  private_service_connection {
    name                           = "stlocked-blob"
    private_connection_resource_id = azurerm_storage_account.locked.id
    subresource_names              = ["blob"]
    is_manual_connection           = false
  }
}
