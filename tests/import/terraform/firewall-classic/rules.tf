# The firewall's classic rule collections.

resource "azurerm_firewall_network_rule_collection" "allow" {
  name                = "allow-out"
  azure_firewall_name = azurerm_firewall.fw.name
  resource_group_name = "rg-classic"
  priority            = 200
  action              = "Allow"

  rule {
    name                  = "dns"
    source_ip_groups      = [azurerm_ip_group.workloads.id]
    destination_addresses = ["8.8.8.8", "8.8.4.4"]
    destination_ports     = ["53"]
    protocols             = ["UDP", "TCP"]
  }

  # AzureCloud is a service tag: left out, the address stays.
  rule {
    name                  = "azure-and-peer"
    source_addresses      = ["10.50.2.0/24"]
    destination_addresses = ["AzureCloud", "10.70.0.0/16"]
    destination_ports     = ["443"]
    protocols             = ["TCP"]
  }

  # Service tags only: the rule is left out.
  rule {
    name                  = "storage"
    source_addresses      = ["10.50.2.0/24"]
    destination_addresses = ["Storage.NorthEurope"]
    destination_ports     = ["443"]
    protocols             = ["TCP"]
  }

  # FQDNs only: resolved through the firewall's DNS proxy.
  rule {
    name              = "ntp"
    source_addresses  = ["10.50.2.0/24"]
    destination_fqdns = ["time.windows.com"]
    destination_ports = ["123"]
    protocols         = ["UDP"]
  }
}

resource "azurerm_firewall_network_rule_collection" "deny" {
  name                = "deny-telnet"
  azure_firewall_name = azurerm_firewall.fw.name
  resource_group_name = "rg-classic"
  priority            = 100
  action              = "Deny"

  rule {
    name                  = "telnet"
    source_addresses      = ["*"]
    destination_addresses = ["*"]
    destination_ports     = ["23"]
    protocols             = ["TCP"]
  }
}

resource "azurerm_firewall_application_rule_collection" "web" {
  name                = "web-out"
  azure_firewall_name = azurerm_firewall.fw.name
  resource_group_name = "rg-classic"
  priority            = 300
  action              = "Allow"

  rule {
    name             = "updates"
    source_addresses = ["10.50.2.0/24"]
    target_fqdns     = ["*.ubuntu.com"]
    protocol {
      port = "443"
      type = "Https"
    }
  }

  # FQDN tags without a protocol: Azure applies HTTP and HTTPS.
  rule {
    name             = "windows-update"
    source_ip_groups = [azurerm_ip_group.workloads.id]
    fqdn_tags        = ["WindowsUpdate"]
  }
}

resource "azurerm_firewall_nat_rule_collection" "inbound" {
  name                = "ssh-in"
  azure_firewall_name = azurerm_firewall.fw.name
  resource_group_name = "rg-classic"
  priority            = 400
  action              = "Dnat"

  rule {
    name                  = "ssh-to-app1"
    source_addresses      = ["*"]
    destination_addresses = [azurerm_public_ip.fw.ip_address]
    destination_ports     = ["22"]
    translated_address    = "10.50.2.4"
    translated_port       = "22"
    protocols             = ["TCP"]
  }
}
