variable "name" {
  type = string
}

resource "azurerm_virtual_network" "this" {
  name                = var.name
  resource_group_name = "rg-lab"
  location            = "westeurope"
  address_space       = ["10.0.0.0/16"]
}
