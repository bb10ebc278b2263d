# An Azure Firewall with classic rules (azurerm_firewall_*_rule_collection,
# no policy), which the topology file writes as a policy of the importer's
# own, `fw-rules`. The workload subnet's route names the firewall's private
# address directly; Azure gives it 10.50.1.4, the first usable address of
# AzureFirewallSubnet.

resource "azurerm_virtual_network" "hub" {
  name                = "fw-hub"
  resource_group_name = "rg-classic"
  location            = "northeurope"
  address_space       = ["10.50.0.0/16"]

  subnet {
    name             = "AzureFirewallSubnet"
    address_prefixes = ["10.50.1.0/26"]
  }
}

resource "azurerm_subnet" "workload" {
  name                 = "workload"
  resource_group_name  = "rg-classic"
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = ["10.50.2.0/24"]
}

resource "azurerm_network_interface" "app" {
  name                = "app1"
  resource_group_name = "rg-classic"
  location            = "northeurope"

  ip_configuration {
    name                          = "internal"
    subnet_id                     = azurerm_subnet.workload.id
    private_ip_address_allocation = "Dynamic"
  }
}

resource "azurerm_route_table" "workload" {
  name                = "workload-rt"
  resource_group_name = "rg-classic"
  location            = "northeurope"
}

resource "azurerm_route" "default" {
  name                   = "default-to-firewall"
  resource_group_name    = "rg-classic"
  route_table_name       = azurerm_route_table.workload.name
  address_prefix         = "0.0.0.0/0"
  next_hop_type          = "VirtualAppliance"
  next_hop_in_ip_address = azurerm_firewall.fw.ip_configuration[0].private_ip_address
}

resource "azurerm_subnet_route_table_association" "workload" {
  subnet_id      = azurerm_subnet.workload.id
  route_table_id = azurerm_route_table.workload.id
}

resource "azurerm_public_ip" "fw" {
  name                = "fw-pip"
  resource_group_name = "rg-classic"
  location            = "northeurope"
  allocation_method   = "Static"
  sku                 = "Standard"
}

resource "azurerm_firewall" "fw" {
  name                = "fw"
  resource_group_name = "rg-classic"
  location            = "northeurope"
  sku_name            = "AZFW_VNet"
  sku_tier            = "Standard"
  threat_intel_mode   = "Alert"
  private_ip_ranges   = ["IANAPrivateRanges", "100.64.0.0/10"]
  # Azure takes FQDNs in network rules (rule `ntp`) only through the
  # firewall's DNS proxy.
  dns_proxy_enabled   = true
  dns_servers         = ["168.63.129.16"]

  ip_configuration {
    name                 = "configuration"
    subnet_id            = azurerm_virtual_network.hub.subnet[0].id
    public_ip_address_id = azurerm_public_ip.fw.id
  }
}

resource "azurerm_ip_group" "workloads" {
  name                = "workloads"
  resource_group_name = "rg-classic"
  location            = "northeurope"
  cidrs               = [azurerm_subnet.workload.address_prefixes[0]]
}

resource "azurerm_ip_group_cidr" "branch" {
  ip_group_id = azurerm_ip_group.workloads.id
  cidr        = "10.60.0.0/16"
}
