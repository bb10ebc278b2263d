resource "azurerm_virtual_network" "hub" {
  name                = "hub"
  resource_group_name = "rg-lab"
  location            = "westeurope"
  address_space       = ["10.0.0.0/16"]
}

# A subnet of a VNet this configuration does not declare (made elsewhere).
resource "azurerm_subnet" "nva" {
  name                 = "nva"
  resource_group_name  = "rg-lab"
  virtual_network_name = "hub-made-elsewhere"
  address_prefixes     = ["10.0.1.0/24"]
}
