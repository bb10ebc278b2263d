resource "azurerm_virtual_network" "hub" {
  name                = "hub"
  resource_group_name = "rg"
  address_space       = ["10.0.0.0/16"]
  subnet {
    name             = "AzureFirewallSubnet"
    address_prefixes = ["10.0.1.0/26"]
  }
}

resource "azurerm_firewall" "fw" {
  name                = "hub-fw"
  resource_group_name = "rg"
  sku_name            = "AZFW_VNet"
  sku_tier            = "Standard"
  ip_configuration {
    name      = "c"
    subnet_id = azurerm_virtual_network.hub.subnet[0].id
  }
}

resource "azurerm_firewall_network_rule_collection" "classic" {
  name                = "classic"
  azure_firewall_name = azurerm_firewall.fw.name
  resource_group_name = "rg"
  priority            = 100
  action              = "Allow"
  rule {
    name              = "ntp"
    source_addresses  = ["*"]
    destination_fqdns = ["time.windows.com"]
    destination_ports = ["123"]
    protocols         = ["UDP"]
  }
}
