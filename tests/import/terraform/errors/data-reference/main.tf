data "azurerm_resource_group" "existing" {
  name = "rg-lab"
}

resource "azurerm_virtual_network" "hub" {
  name                = "hub"
  resource_group_name = data.azurerm_resource_group.existing.name
  location            = "westeurope"
  address_space       = ["10.0.0.0/16"]
}
