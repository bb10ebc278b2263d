# Internal load balancers: a pair of NVAs behind HA ports, and two web
# servers behind an HTTP rule whose frontend address is Dynamic. A Basic
# public load balancer, which vnetd does not emulate, is listed as ignored
# with its pool and its public IP.

locals {
  rg       = "rg-ilb"
  location = "westeurope"
}

resource "azurerm_virtual_network" "hub" {
  name                = "hub"
  resource_group_name = local.rg
  location            = local.location
  address_space       = ["10.0.0.0/16"]
}

resource "azurerm_subnet" "nva" {
  name                 = "nva"
  resource_group_name  = local.rg
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = ["10.0.1.0/24"]
}

resource "azurerm_subnet" "web" {
  name                 = "web"
  resource_group_name  = local.rg
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = ["10.0.2.0/24"]
}

resource "azurerm_network_interface" "nva" {
  count                 = 2
  name                  = "nva${count.index + 1}"
  resource_group_name   = local.rg
  location              = local.location
  ip_forwarding_enabled = true

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = azurerm_subnet.nva.id
    private_ip_address_allocation = "Dynamic"
  }
}

resource "azurerm_network_interface" "web" {
  for_each            = { web1 = 10, web2 = 11 }
  name                = each.key
  resource_group_name = local.rg
  location            = local.location

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = azurerm_subnet.web.id
    private_ip_address_allocation = "Static"
    private_ip_address            = cidrhost(azurerm_subnet.web.address_prefixes[0], each.value)
  }
}

resource "azurerm_lb" "nva" {
  name                = "nva-ilb"
  resource_group_name = local.rg
  location            = local.location
  sku                 = "Standard"

  frontend_ip_configuration {
    name                          = "nva-fe"
    subnet_id                     = azurerm_subnet.nva.id
    private_ip_address_allocation = "Static"
    private_ip_address            = "10.0.1.100"
  }
}

resource "azurerm_lb_backend_address_pool" "nvas" {
  name            = "nvas"
  loadbalancer_id = azurerm_lb.nva.id
}

resource "azurerm_lb_probe" "ssh" {
  name                = "ssh"
  loadbalancer_id     = azurerm_lb.nva.id
  protocol            = "Tcp"
  port                = 22
  interval_in_seconds = 5
  number_of_probes    = 1
}

resource "azurerm_lb_rule" "ha_ports" {
  name                           = "ha-ports"
  loadbalancer_id                = azurerm_lb.nva.id
  frontend_ip_configuration_name = "nva-fe"
  backend_address_pool_ids       = [azurerm_lb_backend_address_pool.nvas.id]
  probe_id                       = azurerm_lb_probe.ssh.id
  protocol                       = "All"
  frontend_port                  = 0
  backend_port                   = 0
  enable_floating_ip             = false
}

resource "azurerm_network_interface_backend_address_pool_association" "nva" {
  count                   = 2
  network_interface_id    = azurerm_network_interface.nva[count.index].id
  ip_configuration_name   = "ipconfig1"
  backend_address_pool_id = azurerm_lb_backend_address_pool.nvas.id
}

resource "azurerm_lb" "web" {
  name                = "web-ilb"
  resource_group_name = local.rg
  location            = local.location
  sku                 = "Standard"

  frontend_ip_configuration {
    name                          = "web-fe"
    subnet_id                     = azurerm_subnet.web.id
    private_ip_address_allocation = "Dynamic"
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
  probe_threshold     = 2
}

resource "azurerm_lb_rule" "http" {
  name                           = "http"
  loadbalancer_id                = azurerm_lb.web.id
  frontend_ip_configuration_name = "web-fe"
  backend_address_pool_ids       = [azurerm_lb_backend_address_pool.webs.id]
  probe_id                       = azurerm_lb_probe.http.id
  protocol                       = "Tcp"
  frontend_port                  = 80
  backend_port                   = 8080
  load_distribution              = "SourceIP"
  idle_timeout_in_minutes        = 10
}

resource "azurerm_network_interface_backend_address_pool_association" "web" {
  for_each                = azurerm_network_interface.web
  network_interface_id    = each.value.id
  ip_configuration_name   = "ipconfig1"
  backend_address_pool_id = azurerm_lb_backend_address_pool.webs.id
}

resource "azurerm_public_ip" "pub" {
  name                = "pub-ip"
  resource_group_name = local.rg
  location            = local.location
  allocation_method   = "Static"
  sku                 = "Basic"
}

resource "azurerm_lb" "pub" {
  name                = "pub-lb"
  resource_group_name = local.rg
  location            = local.location
  sku                 = "Basic"

  frontend_ip_configuration {
    name                 = "pub-fe"
    public_ip_address_id = azurerm_public_ip.pub.id
  }
}

resource "azurerm_lb_backend_address_pool" "pub" {
  name            = "pub-pool"
  loadbalancer_id = azurerm_lb.pub.id
}
