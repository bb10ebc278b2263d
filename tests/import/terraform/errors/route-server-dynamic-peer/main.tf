resource "azurerm_virtual_network" "hub" {
  name                = "hub"
  resource_group_name = "rg"
  location            = "westeurope"
  address_space       = ["10.0.0.0/16"]

  subnet {
    name             = "RouteServerSubnet"
    address_prefixes = ["10.0.1.0/26"]
  }

  subnet {
    name             = "nva"
    address_prefixes = ["10.0.2.0/24"]
  }
}

resource "azurerm_network_interface" "nva" {
  name                = "nva"
  resource_group_name = "rg"
  location            = "westeurope"

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = "${azurerm_virtual_network.hub.id}/subnets/nva"
    private_ip_address_allocation = "Dynamic"
  }
}

resource "azurerm_route_server" "hub" {
  name                 = "hub-rs"
  resource_group_name  = "rg"
  location             = "westeurope"
  sku                  = "Standard"
  public_ip_address_id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/rs-ip"
  subnet_id            = "${azurerm_virtual_network.hub.id}/subnets/RouteServerSubnet"
}

# Azure gives a Dynamic NIC its address when it makes the NIC: Terraform
# knows it only after apply, and so does the import.
resource "azurerm_route_server_bgp_connection" "nva" {
  name            = "nva"
  route_server_id = azurerm_route_server.hub.id
  peer_asn        = 65001
  peer_ip         = azurerm_network_interface.nva.private_ip_address
}
