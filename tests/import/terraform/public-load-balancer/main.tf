# A public Standard load balancer in front of three web servers, with an
# outbound rule for their way out (config/public-load-balancer.yaml, as
# Terraform writes it). Its HTTP rule gives up its implicit SNAT, as Azure
# requires when an outbound rule serves the pool. A frontend on a public IP
# prefix is left out: a vnetd frontend takes one address.

locals {
  rg       = "rg-plb"
  location = "westeurope"
}

resource "azurerm_virtual_network" "app" {
  name                = "app"
  resource_group_name = local.rg
  location            = local.location
  address_space       = ["10.3.0.0/16"]
}

resource "azurerm_subnet" "web" {
  name                 = "web"
  resource_group_name  = local.rg
  virtual_network_name = azurerm_virtual_network.app.name
  address_prefixes     = ["10.3.1.0/24"]
}

resource "azurerm_network_security_group" "web" {
  name                = "web-nsg"
  resource_group_name = local.rg
  location            = local.location

  security_rule {
    name                       = "http-from-the-internet"
    priority                   = 100
    direction                  = "Inbound"
    access                     = "Allow"
    protocol                   = "Tcp"
    source_address_prefix      = "Internet"
    source_port_range          = "*"
    destination_address_prefix = "*"
    destination_port_range     = "80"
  }
}

resource "azurerm_subnet_network_security_group_association" "web" {
  subnet_id                 = azurerm_subnet.web.id
  network_security_group_id = azurerm_network_security_group.web.id
}

resource "azurerm_public_ip" "web" {
  name                = "web-pip"
  resource_group_name = local.rg
  location            = local.location
  allocation_method   = "Static"
  sku                 = "Standard"
}

resource "azurerm_public_ip" "out" {
  name                = "out-pip"
  resource_group_name = local.rg
  location            = local.location
  allocation_method   = "Static"
  sku                 = "Standard"
}

resource "azurerm_public_ip" "web3" {
  name                = "web3-pip"
  resource_group_name = local.rg
  location            = local.location
  allocation_method   = "Static"
  sku                 = "Standard"
}

resource "azurerm_network_interface" "web" {
  for_each            = { web1 = 4, web2 = 5, web3 = 6 }
  name                = each.key
  resource_group_name = local.rg
  location            = local.location

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = azurerm_subnet.web.id
    private_ip_address_allocation = "Static"
    private_ip_address            = cidrhost(azurerm_subnet.web.address_prefixes[0], each.value)
    public_ip_address_id          = each.key == "web3" ? azurerm_public_ip.web3.id : null
  }
}

resource "azurerm_lb" "web" {
  name                = "web-lb"
  resource_group_name = local.rg
  location            = local.location
  sku                 = "Standard"

  frontend_ip_configuration {
    name                 = "web-fe"
    public_ip_address_id = azurerm_public_ip.web.id
  }

  frontend_ip_configuration {
    name                 = "out-fe"
    public_ip_address_id = azurerm_public_ip.out.id
  }

  frontend_ip_configuration {
    name                = "prefix-fe"
    public_ip_prefix_id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-plb/providers/Microsoft.Network/publicIPPrefixes/out-prefix"
  }
}

resource "azurerm_lb_backend_address_pool" "webs" {
  name            = "webs"
  loadbalancer_id = azurerm_lb.web.id
}

resource "azurerm_lb_probe" "http" {
  name                = "http"
  loadbalancer_id     = azurerm_lb.web.id
  protocol            = "Http"
  port                = 80
  request_path        = "/"
  interval_in_seconds = 5
  probe_threshold     = 1
}

resource "azurerm_lb_rule" "http" {
  name                           = "http"
  loadbalancer_id                = azurerm_lb.web.id
  frontend_ip_configuration_name = "web-fe"
  backend_address_pool_ids       = [azurerm_lb_backend_address_pool.webs.id]
  probe_id                       = azurerm_lb_probe.http.id
  protocol                       = "Tcp"
  frontend_port                  = 80
  backend_port                   = 80
  disable_outbound_snat          = true
}

resource "azurerm_lb_outbound_rule" "web" {
  name                    = "web-out"
  loadbalancer_id         = azurerm_lb.web.id
  backend_address_pool_id = azurerm_lb_backend_address_pool.webs.id
  protocol                = "All"
  idle_timeout_in_minutes = 15
  enable_tcp_reset        = true

  frontend_ip_configuration {
    name = "out-fe"
  }

  frontend_ip_configuration {
    name = "prefix-fe"
  }
}

resource "azurerm_network_interface_backend_address_pool_association" "web" {
  for_each                = azurerm_network_interface.web
  network_interface_id    = each.value.id
  ip_configuration_name   = "ipconfig1"
  backend_address_pool_id = azurerm_lb_backend_address_pool.webs.id
}
