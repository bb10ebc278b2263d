# A hub with a DNS forwarder and the Private Endpoints of a storage account
# and a key vault, a spoke whose VNet asks the forwarder, and Private DNS
# zones: the two privatelink zones the endpoints' DNS zone groups write in,
# a private zone for the company's own names with auto-registration, and a
# reverse zone. The endpoint to an Event Hubs namespace reaches a kind of
# resource vnetd does not place behind endpoints: it is listed as ignored.
# The key vault's endpoint is Dynamic: the import gives it the first free
# address of its subnet, as Azure does.

locals {
  rg       = "rg-names"
  location = "westeurope"
}

resource "azurerm_resource_group" "rg" {
  name     = local.rg
  location = local.location
}

resource "azurerm_virtual_network" "hub" {
  name                = "hub"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  address_space       = ["10.0.0.0/16"]
}

resource "azurerm_virtual_network" "spoke1" {
  name                = "spoke1"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  address_space       = ["10.1.0.0/16"]
  dns_servers         = [azurerm_network_interface.dns1.private_ip_address]
}

resource "azurerm_subnet" "shared" {
  name                 = "shared"
  resource_group_name  = azurerm_resource_group.rg.name
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = ["10.0.2.0/24"]
}

resource "azurerm_subnet" "pe" {
  name                              = "pe"
  resource_group_name               = azurerm_resource_group.rg.name
  virtual_network_name              = azurerm_virtual_network.hub.name
  address_prefixes                  = ["10.0.3.0/24"]
  private_endpoint_network_policies = "RouteTableEnabled"
}

resource "azurerm_subnet" "app" {
  name                 = "app"
  resource_group_name  = azurerm_resource_group.rg.name
  virtual_network_name = azurerm_virtual_network.spoke1.name
  address_prefixes     = ["10.1.1.0/24"]
}

resource "azurerm_virtual_network_peering" "hub_to_spoke1" {
  name                      = "hub-to-spoke1"
  resource_group_name       = azurerm_resource_group.rg.name
  virtual_network_name      = azurerm_virtual_network.hub.name
  remote_virtual_network_id = azurerm_virtual_network.spoke1.id
}

resource "azurerm_virtual_network_peering" "spoke1_to_hub" {
  name                      = "spoke1-to-hub"
  resource_group_name       = azurerm_resource_group.rg.name
  virtual_network_name      = azurerm_virtual_network.spoke1.name
  remote_virtual_network_id = azurerm_virtual_network.hub.id
}

# The forwarder asks Azure DNS itself.
resource "azurerm_network_interface" "dns1" {
  name                = "dns1"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  dns_servers         = ["168.63.129.16"]

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = azurerm_subnet.shared.id
    private_ip_address_allocation = "Static"
    private_ip_address            = "10.0.2.4"
  }
}

resource "azurerm_network_interface" "vm1" {
  name                = "vm1"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location

  ip_configuration {
    name                          = "ipconfig1"
    subnet_id                     = azurerm_subnet.app.id
    private_ip_address_allocation = "Static"
    private_ip_address            = "10.1.1.4"
  }
}

resource "azurerm_storage_account" "st" {
  name                     = "stcontoso"
  resource_group_name      = azurerm_resource_group.rg.name
  location                 = azurerm_resource_group.rg.location
  account_tier             = "Standard"
  account_replication_type = "LRS"
}

resource "azurerm_key_vault" "kv" {
  name                = "kv-contoso"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  tenant_id           = "11111111-2222-3333-4444-555555555555"
  sku_name            = "standard"
}

resource "azurerm_eventhub_namespace" "events" {
  name                = "evh-contoso"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  sku                 = "Standard"
}

resource "azurerm_private_dns_zone" "blob" {
  name                = "privatelink.blob.core.windows.net"
  resource_group_name = azurerm_resource_group.rg.name
}

resource "azurerm_private_dns_zone" "vault" {
  name                = "privatelink.vaultcore.azure.net"
  resource_group_name = azurerm_resource_group.rg.name
}

resource "azurerm_private_dns_zone" "internal" {
  name                = "contoso.internal"
  resource_group_name = azurerm_resource_group.rg.name
}

resource "azurerm_private_dns_zone" "reverse" {
  name                = "2.0.10.in-addr.arpa"
  resource_group_name = azurerm_resource_group.rg.name
}

# The privatelink zones are linked to both VNets; names the vault zone
# does not hold fall back to public resolution in the spoke.
resource "azurerm_private_dns_zone_virtual_network_link" "privatelink" {
  for_each = {
    "blob-hub"     = [azurerm_private_dns_zone.blob.name, azurerm_virtual_network.hub.id, "Default"]
    "blob-spoke1"  = [azurerm_private_dns_zone.blob.name, azurerm_virtual_network.spoke1.id, "Default"]
    "vault-hub"    = [azurerm_private_dns_zone.vault.name, azurerm_virtual_network.hub.id, "Default"]
    "vault-spoke1" = [azurerm_private_dns_zone.vault.name, azurerm_virtual_network.spoke1.id, "NxDomainRedirect"]
  }
  name                  = each.key
  resource_group_name   = azurerm_resource_group.rg.name
  private_dns_zone_name = each.value[0]
  virtual_network_id    = each.value[1]
  resolution_policy     = each.value[2]
}

resource "azurerm_private_dns_zone_virtual_network_link" "internal_hub" {
  name                  = "hub"
  resource_group_name   = azurerm_resource_group.rg.name
  private_dns_zone_name = azurerm_private_dns_zone.internal.name
  virtual_network_id    = azurerm_virtual_network.hub.id
  registration_enabled  = true
}

resource "azurerm_private_dns_zone_virtual_network_link" "internal_spoke1" {
  name                  = "spoke1"
  resource_group_name   = azurerm_resource_group.rg.name
  private_dns_zone_name = azurerm_private_dns_zone.internal.name
  virtual_network_id    = azurerm_virtual_network.spoke1.id
}

resource "azurerm_private_dns_zone_virtual_network_link" "reverse_hub" {
  name                  = "hub"
  resource_group_name   = azurerm_resource_group.rg.name
  private_dns_zone_name = azurerm_private_dns_zone.reverse.name
  virtual_network_id    = azurerm_virtual_network.hub.id
}

resource "azurerm_private_dns_a_record" "dns" {
  name                = "dns"
  zone_name           = azurerm_private_dns_zone.internal.name
  resource_group_name = azurerm_resource_group.rg.name
  ttl                 = 300
  records             = [azurerm_network_interface.dns1.private_ip_address]
}

# The storage account's endpoint under a name of the company's own.
resource "azurerm_private_dns_a_record" "storage" {
  name                = "storage"
  zone_name           = azurerm_private_dns_zone.internal.name
  resource_group_name = azurerm_resource_group.rg.name
  ttl                 = 300
  records             = [azurerm_private_endpoint.st.private_service_connection[0].private_ip_address]
}

resource "azurerm_private_dns_aaaa_record" "dns" {
  name                = "dns"
  zone_name           = azurerm_private_dns_zone.internal.name
  resource_group_name = azurerm_resource_group.rg.name
  ttl                 = 300
  records             = ["fd00:2::4"]
}

resource "azurerm_private_dns_cname_record" "files" {
  name                = "files"
  zone_name           = azurerm_private_dns_zone.internal.name
  resource_group_name = azurerm_resource_group.rg.name
  ttl                 = 3600
  record              = "stcontoso.blob.core.windows.net"
}

resource "azurerm_private_dns_mx_record" "mail" {
  zone_name           = azurerm_private_dns_zone.internal.name
  resource_group_name = azurerm_resource_group.rg.name
  ttl                 = 3600

  record {
    preference = 20
    exchange   = "mail2.contoso.com"
  }

  record {
    preference = 10
    exchange   = "mail1.contoso.com"
  }
}

resource "azurerm_private_dns_srv_record" "sip" {
  name                = "_sip._tcp"
  zone_name           = azurerm_private_dns_zone.internal.name
  resource_group_name = azurerm_resource_group.rg.name
  ttl                 = 3600

  record {
    priority = 10
    weight   = 5
    port     = 5060
    target   = "sip.contoso.internal"
  }
}

resource "azurerm_private_dns_txt_record" "spf" {
  name                = "@"
  zone_name           = azurerm_private_dns_zone.internal.name
  resource_group_name = azurerm_resource_group.rg.name
  ttl                 = 3600

  record {
    value = "v=spf1 -all"
  }
}

resource "azurerm_private_dns_ptr_record" "dns" {
  name                = "4"
  zone_name           = azurerm_private_dns_zone.reverse.name
  resource_group_name = azurerm_resource_group.rg.name
  ttl                 = 3600
  records             = ["dns.contoso.internal"]
}

resource "azurerm_private_endpoint" "st" {
  name                = "pe-stcontoso-blob"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  subnet_id           = azurerm_subnet.pe.id

  private_service_connection {
    name                           = "stcontoso-blob"
    private_connection_resource_id = azurerm_storage_account.st.id
    subresource_names              = ["blob"]
    is_manual_connection           = false
  }

  ip_configuration {
    name               = "blob"
    private_ip_address = "10.0.3.4"
    subresource_name   = "blob"
    member_name        = "blob"
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = [azurerm_private_dns_zone.blob.id]
  }
}

resource "azurerm_private_endpoint" "kv" {
  name                = "pe-kv-contoso"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  subnet_id           = azurerm_subnet.pe.id

  private_service_connection {
    name                           = "kv-contoso-vault"
    private_connection_resource_id = azurerm_key_vault.kv.id
    subresource_names              = ["vault"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = [azurerm_private_dns_zone.vault.id]
  }
}

resource "azurerm_private_endpoint" "events" {
  name                = "pe-evh-contoso"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  subnet_id           = azurerm_subnet.pe.id

  private_service_connection {
    name                           = "evh-contoso"
    private_connection_resource_id = azurerm_eventhub_namespace.events.id
    subresource_names              = ["namespace"]
    is_manual_connection           = false
  }
}

# A DNS Private Resolver in the hub: its inbound endpoint (Dynamic: the
# import gives it the first usable address of its subnet, as Azure does)
# answers as Azure DNS of the hub, and a ruleset linked to both VNets sends
# the company's on-premises names to its DNS servers through the outbound
# endpoint. Each endpoint has a /28 of its own, delegated to the resolver.
resource "azurerm_subnet" "dns_in" {
  name                 = "dns-in"
  resource_group_name  = azurerm_resource_group.rg.name
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = ["10.0.4.0/28"]

  delegation {
    name = "Microsoft.Network.dnsResolvers"
    service_delegation {
      name    = "Microsoft.Network/dnsResolvers"
      actions = ["Microsoft.Network/virtualNetworks/subnets/join/action"]
    }
  }
}

resource "azurerm_subnet" "dns_out" {
  name                 = "dns-out"
  resource_group_name  = azurerm_resource_group.rg.name
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = ["10.0.4.16/28"]

  delegation {
    name = "Microsoft.Network.dnsResolvers"
    service_delegation {
      name    = "Microsoft.Network/dnsResolvers"
      actions = ["Microsoft.Network/virtualNetworks/subnets/join/action"]
    }
  }
}

resource "azurerm_private_dns_resolver" "hub" {
  name                = "hub-resolver"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  virtual_network_id  = azurerm_virtual_network.hub.id
}

resource "azurerm_private_dns_resolver_inbound_endpoint" "in" {
  name                    = "in"
  private_dns_resolver_id = azurerm_private_dns_resolver.hub.id
  location                = azurerm_private_dns_resolver.hub.location

  ip_configurations {
    private_ip_allocation_method = "Dynamic"
    subnet_id                    = azurerm_subnet.dns_in.id
  }
}

resource "azurerm_private_dns_resolver_outbound_endpoint" "out" {
  name                    = "out"
  private_dns_resolver_id = azurerm_private_dns_resolver.hub.id
  location                = azurerm_private_dns_resolver.hub.location
  subnet_id               = azurerm_subnet.dns_out.id
}

# The resolver under a name of the company's own: the inbound endpoint's
# address, known before apply as Azure gives it.
resource "azurerm_private_dns_a_record" "resolver" {
  name                = "resolver"
  zone_name           = azurerm_private_dns_zone.internal.name
  resource_group_name = azurerm_resource_group.rg.name
  ttl                 = 300
  records             = [azurerm_private_dns_resolver_inbound_endpoint.in.ip_configurations[0].private_ip_address]
}

resource "azurerm_private_dns_resolver_dns_forwarding_ruleset" "onprem" {
  name                                       = "onprem"
  resource_group_name                        = azurerm_resource_group.rg.name
  location                                   = azurerm_resource_group.rg.location
  private_dns_resolver_outbound_endpoint_ids = [azurerm_private_dns_resolver_outbound_endpoint.out.id]
}

resource "azurerm_private_dns_resolver_forwarding_rule" "corp" {
  name                      = "corp"
  dns_forwarding_ruleset_id = azurerm_private_dns_resolver_dns_forwarding_ruleset.onprem.id
  domain_name               = "corp.contoso.com."
  enabled                   = true

  target_dns_servers {
    ip_address = "192.168.1.10"
    port       = 53
  }
}

# Kept for the migration, switched off: its first target takes the
# default port.
resource "azurerm_private_dns_resolver_forwarding_rule" "legacy" {
  name                      = "legacy"
  dns_forwarding_ruleset_id = azurerm_private_dns_resolver_dns_forwarding_ruleset.onprem.id
  domain_name               = "legacy.contoso.com."
  enabled                   = false

  target_dns_servers {
    ip_address = "192.168.1.11"
  }

  target_dns_servers {
    ip_address = "192.168.1.12"
    port       = 5353
  }

  metadata = {
    owner = "network-team"
  }
}

resource "azurerm_private_dns_resolver_virtual_network_link" "onprem" {
  for_each = {
    "onprem-hub"    = azurerm_virtual_network.hub.id
    "onprem-spoke1" = azurerm_virtual_network.spoke1.id
  }
  name                      = each.key
  dns_forwarding_ruleset_id = azurerm_private_dns_resolver_dns_forwarding_ruleset.onprem.id
  virtual_network_id        = each.value
}
