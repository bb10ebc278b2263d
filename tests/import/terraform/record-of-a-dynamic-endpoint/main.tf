resource "azurerm_virtual_network" "hub" {
  name                = "hub"
  resource_group_name = "rg"
  location            = "westeurope"
  address_space       = ["10.0.0.0/16"]

  subnet {
    name             = "pe"
    address_prefixes = ["10.0.3.0/24"]
  }
}

resource "azurerm_storage_account" "st" {
  name                     = "stcontoso"
  resource_group_name      = "rg"
  location                 = "westeurope"
  account_tier             = "Standard"
  account_replication_type = "LRS"
}

resource "azurerm_private_endpoint" "st" {
  name                = "pe-stcontoso-blob"
  resource_group_name = "rg"
  location            = "westeurope"
  subnet_id           = "${azurerm_virtual_network.hub.id}/subnets/pe"

  private_service_connection {
    name                           = "stcontoso-blob"
    private_connection_resource_id = azurerm_storage_account.st.id
    subresource_names              = ["blob"]
    is_manual_connection           = false
  }
}

resource "azurerm_private_dns_zone" "internal" {
  name                = "contoso.internal"
  resource_group_name = "rg"
}

# The endpoint has no ip_configuration: Azure gives it its address when it
# makes it, so Terraform knows it only after apply, and so does the import,
# which leaves the record set out (the endpoint takes the first free
# address of its subnet, as in Azure).
resource "azurerm_private_dns_a_record" "storage" {
  name                = "storage"
  zone_name           = azurerm_private_dns_zone.internal.name
  resource_group_name = "rg"
  ttl                 = 300
  records             = [azurerm_private_endpoint.st.private_service_connection[0].private_ip_address]
}
