# The firewall (in a module of its own) and its policy.

module "firewall" {
  source               = "./modules/firewall"
  name                 = "hub-fw"
  resource_group_name  = azurerm_resource_group.lab.name
  location             = azurerm_resource_group.lab.location
  subnet_id            = azurerm_subnet.firewall.id
  management_subnet_id = azurerm_virtual_network.hub.subnet[0].id
  policy_id            = azurerm_firewall_policy.hub.id
}

resource "azurerm_ip_group" "spokes" {
  name                = "spokes"
  resource_group_name = azurerm_resource_group.lab.name
  location            = azurerm_resource_group.lab.location
  cidrs               = [for vnet in azurerm_virtual_network.spoke : vnet.address_space[0]]
}

resource "azurerm_firewall_policy" "hub" {
  name                = "hub-fw-policy"
  resource_group_name = azurerm_resource_group.lab.name
  location            = azurerm_resource_group.lab.location
  sku                 = "Basic"
}

resource "azurerm_firewall_policy_rule_collection_group" "spoke_to_spoke" {
  name               = "spoke-to-spoke"
  firewall_policy_id = azurerm_firewall_policy.hub.id
  priority           = 200

  network_rule_collection {
    name     = "deny-ssh"
    priority = 100
    action   = "Deny"
    rule {
      name                  = "no-ssh-into-spoke2"
      protocols             = ["TCP"]
      source_addresses      = ["*"]
      destination_addresses = azurerm_virtual_network.spoke["spoke2"].address_space
      destination_ports     = ["22"]
    }
  }

  network_rule_collection {
    name     = "allow-web-and-ping"
    priority = 200
    action   = "Allow"
    rule {
      name                  = "spoke1-to-spoke2-web"
      protocols             = ["TCP"]
      source_addresses      = ["10.1.0.0/16"]
      destination_addresses = ["10.2.0.0/16"]
      destination_ports     = ["443", "80"]
    }
    rule {
      name                  = "ping-between-spokes"
      protocols             = ["ICMP"]
      source_ip_groups      = [azurerm_ip_group.spokes.id]
      destination_ip_groups = [azurerm_ip_group.spokes.id]
      destination_ports     = ["*"]
    }
  }

  # Not emulated: written by name for vnetd to warn about.
  application_rule_collection {
    name     = "spokes-to-the-web"
    priority = 300
    action   = "Allow"
    rule {
      name = "microsoft"
      protocols {
        type = "Https"
        port = 443
      }
      source_ip_groups  = [azurerm_ip_group.spokes.id]
      destination_fqdns = ["*.microsoft.com"]
    }
  }

  # Its destination is the firewall's public address, known only after
  # apply: it imports as the address vnetd gives that public IP.
  nat_rule_collection {
    name     = "web-in"
    priority = 400
    action   = "Dnat"
    rule {
      name                = "https-to-shared1"
      protocols           = ["TCP"]
      source_addresses    = ["*"]
      destination_address = module.firewall.public_ip
      destination_ports   = ["443"]
      translated_address  = azurerm_network_interface.shared1.private_ip_address
      translated_port     = "443"
    }
  }
}
