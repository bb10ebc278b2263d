variable "location" {
  default = "westeurope"
}

variable "hub_range" {
  type        = string
  description = "The hub's address space; no default."
}

resource "azurerm_virtual_network" "hub" {
  name                = "hub"
  resource_group_name = "rg-lab"
  location            = var.location
  address_space       = [var.hub_range]
}
