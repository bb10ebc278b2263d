data "azurerm_virtual_network" "shared" {
  name                = "vnet-shared"
  resource_group_name = "rg-shared"
}

resource "azurerm_virtual_network" "spoke" {
  count               = length(data.azurerm_virtual_network.shared.subnets)
  name                = "spoke-${count.index}"
  resource_group_name = "rg-lab"
  location            = "westeurope"
  address_space       = ["10.${count.index}.0.0/16"]
}
