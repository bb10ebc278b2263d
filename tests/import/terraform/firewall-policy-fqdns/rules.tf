# The policy's rule collection group: network rules before application
# rules, as Azure evaluates them.

resource "azurerm_firewall_policy_rule_collection_group" "egress" {
  name               = "egress"
  firewall_policy_id = azurerm_firewall_policy.hub.id
  priority           = 200

  network_rule_collection {
    name     = "api"
    priority = 100
    action   = "Allow"

    rule {
      name                  = "contoso-api"
      protocols             = ["TCP"]
      source_ip_groups      = [azurerm_ip_group.spokes.id]
      destination_fqdns     = ["api.contoso.com"]
      destination_ports     = ["443"]
    }
  }

  application_rule_collection {
    name     = "web"
    priority = 300
    action   = "Allow"

    rule {
      name              = "ubuntu-and-github"
      source_ip_groups  = [azurerm_ip_group.spokes.id]
      destination_fqdns = ["github.com", "*.ubuntu.com"]
      protocols {
        type = "Https"
        port = 443
      }
      protocols {
        type = "Http"
        port = 80
      }
    }

    rule {
      name                  = "windows-update"
      source_addresses      = ["10.1.0.0/16"]
      destination_fqdn_tags = ["WindowsUpdate"]
      protocols {
        type = "Https"
        port = 443
      }
    }

    # Premium only: the URL and TLS inspection are left out, the FQDN stays.
    rule {
      name              = "inspected"
      source_addresses  = ["10.2.0.0/16"]
      destination_fqdns = ["contoso.com"]
      destination_urls  = ["contoso.com/downloads/*"]
      terminate_tls     = true
      http_headers {
        name  = "X-Lab"
        value = "1"
      }
      protocols {
        type = "Https"
        port = 443
      }
    }

    # Destination addresses only: nothing vnetd reads is left.
    rule {
      name                  = "by-address"
      source_addresses      = ["10.2.0.0/16"]
      destination_addresses = ["203.0.113.10"]
      protocols {
        type = "Http"
        port = 8080
      }
    }
  }

  application_rule_collection {
    name     = "deny-social"
    priority = 400
    action   = "Deny"

    rule {
      name             = "social"
      source_addresses = ["*"]
      web_categories   = ["SocialNetworking"]
      protocols {
        type = "Https"
        port = 443
      }
    }
  }
}
