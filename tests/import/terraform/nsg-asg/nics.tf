# The tiers' NICs. Inline subnets have no resource of their own: their IDs
# are written from the VNet's. web2 is declared before web1, so Azure's
# Dynamic allocation, which follows the order of creation (here, of the
# files), gives web2 the first free address.

resource "azurerm_network_interface" "web2" {
  name                = "web2"
  resource_group_name = local.rg
  location            = local.location

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = "${azurerm_virtual_network.app.id}/subnets/web"
    private_ip_address_allocation = "Dynamic"
  }
}

resource "azurerm_network_interface" "web1" {
  name                = "web1"
  resource_group_name = local.rg
  location            = local.location

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = "${azurerm_virtual_network.app.id}/subnets/web"
    private_ip_address_allocation = "Dynamic"
  }
}

resource "azurerm_network_interface" "app1" {
  name                  = "app1"
  resource_group_name   = local.rg
  location              = local.location
  ip_forwarding_enabled = false

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = "${azurerm_virtual_network.app.id}/subnets/app"
    private_ip_address_allocation = "Static"
    private_ip_address            = "10.50.2.10"
  }
}

resource "azurerm_network_interface" "db1" {
  name                = "db1"
  resource_group_name = local.rg
  location            = local.location

  ip_configuration {
    name                          = "primary"
    subnet_id                     = "${azurerm_virtual_network.app.id}/subnets/db"
    private_ip_address_allocation = "Dynamic"
    primary                       = true
  }

  ip_configuration {
    name                          = "replica"
    subnet_id                     = "${azurerm_virtual_network.app.id}/subnets/db"
    private_ip_address_allocation = "Static"
    private_ip_address            = "10.50.3.4"
  }
}

resource "azurerm_network_interface_security_group_association" "db1" {
  network_interface_id      = azurerm_network_interface.db1.id
  network_security_group_id = azurerm_network_security_group.db_nic.id
}

resource "azurerm_network_interface_application_security_group_association" "web1" {
  network_interface_id          = azurerm_network_interface.web1.id
  application_security_group_id = azurerm_application_security_group.web.id
}

resource "azurerm_network_interface_application_security_group_association" "web2" {
  network_interface_id          = azurerm_network_interface.web2.id
  application_security_group_id = azurerm_application_security_group.web.id
}

resource "azurerm_network_interface_application_security_group_association" "app1" {
  network_interface_id          = azurerm_network_interface.app1.id
  application_security_group_id = azurerm_application_security_group.app.id
}

resource "azurerm_network_interface_application_security_group_association" "db1" {
  network_interface_id          = azurerm_network_interface.db1.id
  application_security_group_id = azurerm_application_security_group.db.id
}

resource "azurerm_network_interface_application_security_group_association" "db1_web" {
  network_interface_id          = azurerm_network_interface.db1.id
  application_security_group_id = azurerm_application_security_group.web.id
}
