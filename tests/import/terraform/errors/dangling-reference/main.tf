resource "azurerm_virtual_network" "hub" {
  name                = "hub"
  resource_group_name = "rg-lab"
  location            = "westeurope"
  address_space       = ["10.0.0.0/16"]
}

resource "azurerm_subnet" "nva" {
  name                 = "nva"
  resource_group_name  = "rg-lab"
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = ["10.0.1.0/24"]
}

resource "azurerm_network_interface" "nva1" {
  name                = "nva1"
  resource_group_name = "rg-lab"
  location            = "westeurope"

  ip_configuration {
    name                          = "internal"
    subnet_id                     = azurerm_subnet.nope.id
    private_ip_address_allocation = "Dynamic"
  }
}
