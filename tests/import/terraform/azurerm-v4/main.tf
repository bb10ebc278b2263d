# The azurerm v4 spellings; azurerm-v3/ is the same network in v3's, and
# json-syntax/ in Terraform's JSON syntax: all three import to the same
# topology.

resource "azurerm_virtual_network" "hub" {
  name                = "hub"
  resource_group_name = "rg-lab"
  location            = "westeurope"
  address_space       = ["10.0.0.0/16"]

  subnet {
    name             = "nva"
    address_prefixes = ["10.0.1.0/24"]
  }

  subnet {
    name             = "workload"
    address_prefixes = ["10.0.2.0/24"]
    route_table_id   = azurerm_route_table.workload.id
  }
}

resource "azurerm_network_interface" "nva" {
  name                  = "nva"
  location              = "westeurope"
  resource_group_name   = "rg-lab"
  ip_forwarding_enabled = true

  ip_configuration {
    name                          = "ipconfig"
    subnet_id                     = "${azurerm_virtual_network.hub.id}/subnets/nva"
    private_ip_address_allocation = "Static"
    private_ip_address            = "10.0.1.4"
  }
}

resource "azurerm_route_table" "workload" {
  name                          = "rt-workload"
  location                      = "westeurope"
  resource_group_name           = "rg-lab"
  bgp_route_propagation_enabled = false

  route {
    name                   = "via-nva"
    address_prefix         = "0.0.0.0/0"
    next_hop_type          = "VirtualAppliance"
    next_hop_in_ip_address = "10.0.1.4"
  }
}

resource "azurerm_lb" "nva" {
  name                = "lb-nva"
  location            = "westeurope"
  resource_group_name = "rg-lab"
  sku                 = "Standard"

  frontend_ip_configuration {
    name                          = "frontend"
    subnet_id                     = "${azurerm_virtual_network.hub.id}/subnets/nva"
    private_ip_address_allocation = "Static"
    private_ip_address            = "10.0.1.10"
  }
}

resource "azurerm_lb_backend_address_pool" "nvas" {
  name            = "nvas"
  loadbalancer_id = azurerm_lb.nva.id
}

resource "azurerm_network_interface_backend_address_pool_association" "nva" {
  network_interface_id    = azurerm_network_interface.nva.id
  ip_configuration_name   = "ipconfig"
  backend_address_pool_id = azurerm_lb_backend_address_pool.nvas.id
}

resource "azurerm_lb_probe" "ssh" {
  name            = "ssh"
  loadbalancer_id = azurerm_lb.nva.id
  protocol        = "Tcp"
  port            = 22
  probe_threshold = 2
}

resource "azurerm_lb_rule" "ha_ports" {
  name                           = "ha-ports"
  loadbalancer_id                = azurerm_lb.nva.id
  frontend_ip_configuration_name = "frontend"
  backend_address_pool_ids       = [azurerm_lb_backend_address_pool.nvas.id]
  probe_id                       = azurerm_lb_probe.ssh.id
  protocol                       = "All"
  frontend_port                  = 0
  backend_port                   = 0
  floating_ip_enabled            = true
}
