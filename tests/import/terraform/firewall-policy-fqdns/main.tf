# A hub firewall whose Premium policy allows `*.ubuntu.com` and
# `github.com` over HTTPS, Windows Update by its FQDN tag and a web
# category, and `api.contoso.com` by a network rule through the policy's
# DNS proxy (custom DNS servers behind it). What vnetd does not emulate
# (URLs, TLS inspection, inserted headers, an application rule's
# destination addresses) is left out with a comment at its rule.

resource "azurerm_virtual_network" "hub" {
  name                = "hub"
  resource_group_name = "rg-fw"
  location            = "westeurope"
  address_space       = ["10.0.0.0/16"]

  subnet {
    name             = "AzureFirewallSubnet"
    address_prefixes = ["10.0.1.0/26"]
  }
}

resource "azurerm_ip_group" "spokes" {
  name                = "spokes"
  resource_group_name = "rg-fw"
  location            = "westeurope"
  cidrs               = ["10.1.0.0/16", "10.2.0.0/16"]
}

resource "azurerm_public_ip" "fw" {
  name                = "fw-pip"
  resource_group_name = "rg-fw"
  location            = "westeurope"
  allocation_method   = "Static"
  sku                 = "Standard"
}

resource "azurerm_firewall_policy" "hub" {
  name                = "hub-policy"
  resource_group_name = "rg-fw"
  location            = "westeurope"
  sku                 = "Premium"

  dns {
    proxy_enabled = true
    servers       = ["10.0.2.4", "10.0.2.5"]
  }
}

resource "azurerm_firewall" "fw" {
  name                = "hub-fw"
  resource_group_name = "rg-fw"
  location            = "westeurope"
  sku_name            = "AZFW_VNet"
  sku_tier            = "Premium"
  firewall_policy_id  = azurerm_firewall_policy.hub.id

  ip_configuration {
    name                 = "configuration"
    subnet_id            = azurerm_virtual_network.hub.subnet[0].id
    public_ip_address_id = azurerm_public_ip.fw.id
  }
}
