# An Azure Firewall of the Basic tier, with the management IP configuration
# that tier needs.

variable "name" {}
variable "resource_group_name" {}
variable "location" {}
variable "subnet_id" {}
variable "management_subnet_id" {}
variable "policy_id" {}

resource "azurerm_public_ip" "data" {
  name                = "${var.name}-pip"
  resource_group_name = var.resource_group_name
  location            = var.location
  allocation_method   = "Static"
  sku                 = "Standard"
}

resource "azurerm_public_ip" "management" {
  name                = "${var.name}-mgmt-pip"
  resource_group_name = var.resource_group_name
  location            = var.location
  allocation_method   = "Static"
  sku                 = "Standard"
}

resource "azurerm_firewall" "this" {
  name                = var.name
  resource_group_name = var.resource_group_name
  location            = var.location
  sku_name            = "AZFW_VNet"
  sku_tier            = "Basic"
  firewall_policy_id  = var.policy_id

  ip_configuration {
    name                 = "data"
    subnet_id            = var.subnet_id
    public_ip_address_id = azurerm_public_ip.data.id
  }

  management_ip_configuration {
    name                 = "management"
    subnet_id            = var.management_subnet_id
    public_ip_address_id = azurerm_public_ip.management.id
  }
}

output "private_ip" {
  value = azurerm_firewall.this.ip_configuration[0].private_ip_address
}

output "public_ip" {
  value = azurerm_public_ip.data.ip_address
}
