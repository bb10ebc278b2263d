resource "azurerm_express_route_circuit" "dc1" {
  name                  = "dc1-circuit"
  resource_group_name   = "rg"
  location              = "westeurope"
  service_provider_name = "Equinix"
  peering_location      = "Amsterdam"
  bandwidth_in_mbps     = 1000
}
