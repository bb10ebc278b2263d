data "azurerm_virtual_network" "existing" {
  name                = "vnet-existing"
  resource_group_name = "rg-lab"
}

locals {
  hub_range = data.azurerm_virtual_network.existing.address_space[0]
}

resource "azurerm_virtual_network" "hub" {
  name                = "hub"
  resource_group_name = "rg-lab"
  location            = "westeurope"
  address_space       = [local.hub_range]
}
