resource "azurerm_virtual_network" "hub" {
  name                = "hub"
  resource_group_name = "rg-lab"
  location            = "westeurope"
  address_space       = [azurerm_subnet.nva.address_prefixes[0]]
}

resource "azurerm_subnet" "nva" {
  name                 = "nva"
  resource_group_name  = "rg-lab"
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = ["10.0.1.0/24"]
}
