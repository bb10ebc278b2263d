resource "azurerm_virtual_network" "hub" {
  name                = "hub"
  resource_group_name = "rg-lab"
  location            = "westeurope"
  address_space       = [file("hub-range.txt")]
}
