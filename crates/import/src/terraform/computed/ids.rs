//! The IDs Azure gives resources, as azurerm names them: what an ID is
//! made of ([`IdParts`]: a resource's name, its attributes and its
//! resource group), in the placeholder subscription [`SUBSCRIPTION`], and
//! the IDs of the resources of each service (Virtual WAN's are in
//! `virtual_wan`).

use hcl::{Map, Value};

/// The subscription of every synthesised ID.
pub const SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000000";

/// What a resource's ID is made of: its name, its attributes and the
/// `.../providers` of its resource group.
pub(super) struct IdParts<'a> {
    pub(super) name: &'a str,
    pub(super) attributes: &'a Map<String, Value>,
    pub(super) base: &'a str,
}

impl IdParts<'_> {
    /// The `Microsoft.Network` ID of `path` in the resource's group.
    pub(super) fn network(&self, path: String) -> String {
        format!("{}/Microsoft.Network/{path}", self.base)
    }

    /// The string attribute `key`, or "" (see [`string_attribute`]).
    pub(super) fn text(&self, key: &str) -> String {
        string_attribute(self.attributes, key)
    }

    /// The resource's ID under the one its attribute `parent` names:
    /// `PARENT_ID/SEGMENT/NAME`.
    pub(super) fn under(&self, parent: &str, segment: &str) -> String {
        child_id(self.attributes, parent, segment, self.name)
    }

    /// The ID of a resource of Azure Firewall or of Azure Route Server.
    pub(super) fn firewall_or_route_server_id(&self, kind: &str) -> Option<String> {
        match kind {
            // A Route Server is a virtual hub to Azure, as in azurerm's IDs.
            "azurerm_route_server" => Some(self.network(format!("virtualHubs/{}", self.name))),
            "azurerm_route_server_bgp_connection" => {
                Some(self.under("route_server_id", "bgpConnections"))
            }
            _ => self.firewall_id(kind),
        }
    }

    /// The ID of a resource of Virtual Network Manager, as azurerm has it:
    /// a network manager's `.../networkManagers/NAME`, and each part under
    /// what it belongs to (`NETWORK_GROUP_ID/staticMembers/NAME`,
    /// `COLLECTION_ID/rules/NAME`); a deployment's is azurerm's own,
    /// `MANAGER_ID/commit|LOCATION|SCOPE_ACCESS`.
    pub(super) fn network_manager_id(&self, kind: &str) -> Option<String> {
        Some(match kind {
            "azurerm_network_manager" => self.network(format!("networkManagers/{}", self.name)),
            "azurerm_network_manager_network_group" => {
                self.under("network_manager_id", "networkGroups")
            }
            "azurerm_network_manager_static_member" => {
                self.under("network_group_id", "staticMembers")
            }
            "azurerm_network_manager_connectivity_configuration" => {
                self.under("network_manager_id", "connectivityConfigurations")
            }
            "azurerm_network_manager_security_admin_configuration" => {
                self.under("network_manager_id", "securityAdminConfigurations")
            }
            "azurerm_network_manager_admin_rule_collection" => {
                self.under("security_admin_configuration_id", "ruleCollections")
            }
            "azurerm_network_manager_admin_rule" => self.under("admin_rule_collection_id", "rules"),
            "azurerm_network_manager_routing_configuration" => {
                self.under("network_manager_id", "routingConfigurations")
            }
            "azurerm_network_manager_routing_rule_collection" => {
                self.under("routing_configuration_id", "ruleCollections")
            }
            "azurerm_network_manager_routing_rule" => self.under("rule_collection_id", "rules"),
            "azurerm_network_manager_deployment" => format!(
                "{}/commit|{}|{}",
                self.text("network_manager_id"),
                self.text("location"),
                self.text("scope_access")
            ),
            _ => return None,
        })
    }

    /// The ID of a public IP prefix, a NAT gateway, or of an association of a
    /// NAT gateway (the provider's: `GATEWAY_ID|IP_ID`, a subnet's the
    /// subnet's ID).
    pub(super) fn edge_id(&self, kind: &str) -> Option<String> {
        let name = self.name;
        Some(match kind {
            "azurerm_public_ip_prefix" => self.network(format!("publicIPPrefixes/{name}")),
            "azurerm_nat_gateway" => self.network(format!("natGateways/{name}")),
            "azurerm_subnet_service_endpoint_storage_policy" => {
                self.network(format!("serviceEndpointPolicies/{name}"))
            }
            // The provider's ID of the rules is their account's.
            "azurerm_storage_account_network_rules" => self.text("storage_account_id"),
            "azurerm_nat_gateway_public_ip_association" => {
                format!(
                    "{}|{}",
                    self.text("nat_gateway_id"),
                    self.text("public_ip_address_id")
                )
            }
            "azurerm_nat_gateway_public_ip_prefix_association" => {
                format!(
                    "{}|{}",
                    self.text("nat_gateway_id"),
                    self.text("public_ip_prefix_id")
                )
            }
            "azurerm_subnet_nat_gateway_association" => self.text("subnet_id"),
            _ => return None,
        })
    }

    /// The ID of a resource of names: a Private DNS zone, its links and record
    /// sets (`.../privateDnsZones/ZONE/A/NAME`, as Azure names a record set by
    /// its type), a Private Endpoint, a VNet's DNS servers (azurerm's own ID),
    /// a PaaS resource a Private Endpoint may reach (its own provider's ID,
    /// which tells the endpoint what it reaches), a DNS Private Resolver and
    /// its endpoints (under it), a forwarding ruleset and its rules and links
    /// (under it).
    pub(super) fn names_id(&self, kind: &str) -> Option<String> {
        let (name, base) = (self.name, self.base);
        if let Some(paas) = crate::write::paas_of_kind(kind) {
            let (namespace, resource_type) = (paas.namespace, paas.resource_type);
            return Some(format!("{base}/{namespace}/{resource_type}/{name}"));
        }
        if let Some(record_type) = crate::write::record_type(kind) {
            // An MX record set without a name is the zone's apex.
            let name = match self.text("name") {
                n if n.is_empty() && record_type == "MX" => "@".to_string(),
                _ => name.to_string(),
            };
            let zone = self.text("zone_name");
            return Some(self.network(format!("privateDnsZones/{zone}/{record_type}/{name}")));
        }
        Some(match kind {
            "azurerm_private_dns_zone" => self.network(format!("privateDnsZones/{name}")),
            "azurerm_private_dns_zone_virtual_network_link" => self.network(format!(
                "privateDnsZones/{}/virtualNetworkLinks/{name}",
                self.text("private_dns_zone_name")
            )),
            "azurerm_private_endpoint" => self.network(format!("privateEndpoints/{name}")),
            "azurerm_virtual_network_dns_servers" => {
                format!("{}/dnsServers/default", self.text("virtual_network_id"))
            }
            "azurerm_private_dns_resolver" => self.network(format!("dnsResolvers/{name}")),
            "azurerm_private_dns_resolver_inbound_endpoint" => {
                self.under("private_dns_resolver_id", "inboundEndpoints")
            }
            "azurerm_private_dns_resolver_outbound_endpoint" => {
                self.under("private_dns_resolver_id", "outboundEndpoints")
            }
            "azurerm_private_dns_resolver_dns_forwarding_ruleset" => {
                self.network(format!("dnsForwardingRulesets/{name}"))
            }
            "azurerm_private_dns_resolver_forwarding_rule" => {
                self.under("dns_forwarding_ruleset_id", "forwardingRules")
            }
            "azurerm_private_dns_resolver_virtual_network_link" => {
                self.under("dns_forwarding_ruleset_id", "virtualNetworkLinks")
            }
            _ => return None,
        })
    }

    /// The ID of an Azure Firewall resource, its policy's or its rules', or
    /// of an IP group.
    fn firewall_id(&self, kind: &str) -> Option<String> {
        let name = self.name;
        let classic = |collections: &str| {
            let firewall = self.text("azure_firewall_name");
            self.network(format!("azureFirewalls/{firewall}/{collections}/{name}"))
        };
        Some(match kind {
            "azurerm_firewall" => self.network(format!("azureFirewalls/{name}")),
            "azurerm_firewall_policy" => self.network(format!("firewallPolicies/{name}")),
            "azurerm_firewall_policy_rule_collection_group" => {
                self.under("firewall_policy_id", "ruleCollectionGroups")
            }
            "azurerm_ip_group" => self.network(format!("ipGroups/{name}")),
            "azurerm_firewall_network_rule_collection" => classic("networkRuleCollections"),
            "azurerm_firewall_application_rule_collection" => classic("applicationRuleCollections"),
            "azurerm_firewall_nat_rule_collection" => classic("natRuleCollections"),
            _ => return None,
        })
    }
}

/// A string attribute of a resource, or "" when it is absent or not a
/// string (an ID that is not known yet).
pub(super) fn string_attribute(attributes: &Map<String, Value>, key: &str) -> String {
    match attributes.get(key) {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

/// The ID of a part named `name` under the resource whose ID is the
/// attribute `parent`: `PARENT_ID/SEGMENT/NAME` (`/SEGMENT/NAME` while the
/// parent's ID is not known).
pub(super) fn child_id(
    attributes: &Map<String, Value>,
    parent: &str,
    segment: &str,
    name: &str,
) -> String {
    format!("{}/{segment}/{name}", string_attribute(attributes, parent))
}
