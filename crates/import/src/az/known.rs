//! The IDs of a dump's objects, for following its references: Azure
//! compares IDs without case, and a reference is written as the ID of the
//! object it names, as that object spells it.

use super::model::Reference;
use crate::json_file::Place;
use crate::ImportError;
use std::collections::HashMap;

/// The IDs of the dump's objects by kind, lower-cased, each to the object's
/// own spelling.
#[derive(Default)]
pub(super) struct Known {
    ids: HashMap<(&'static str, String), String>,
}

impl Known {
    pub(super) fn add(&mut self, kind: &'static str, id: &str) {
        self.ids
            .insert((kind, id.to_ascii_lowercase()), id.to_string());
    }

    /// The referred object's own ID, or an error at `at` naming what is
    /// missing.
    pub(super) fn resolve(
        &self,
        kind: &'static str,
        at: &Place<'_>,
        id: &str,
    ) -> Result<String, ImportError> {
        self.ids
            .get(&(kind, id.to_ascii_lowercase()))
            .cloned()
            .ok_or_else(|| {
                let (what, file) = match kind {
                    "subnet" => ("subnet", "vnets.json"),
                    "vnet" => ("virtual network", "vnets.json"),
                    "nsg" => ("network security group", "nsgs.json"),
                    "route_table" => ("route table", "route-tables.json"),
                    "asg" => ("application security group", "asgs.json"),
                    "ip_group" => ("IP group", "ip-groups.json"),
                    "firewall_policy" => ("firewall policy", "firewall-policies.json"),
                    "route_server" => ("Route Server", "route-servers.json"),
                    "private_dns_zone" => ("Private DNS zone", "private-dns-zones.json"),
                    "private_endpoint" => ("Private Endpoint", "private-endpoints.json"),
                    "dns_resolver" => ("DNS Private Resolver", "dns-resolvers.json"),
                    "outbound_endpoint" => {
                        ("outbound endpoint", "dns-resolver-outbound-endpoints.json")
                    }
                    "dns_forwarding_ruleset" => (
                        "DNS forwarding ruleset",
                        "dns-resolver-forwarding-rulesets.json",
                    ),
                    "nat_gateway" => ("NAT gateway", "nat-gateways.json"),
                    "network_manager" => ("network manager", "network-managers.json"),
                    "network_group" => ("network group", "network-manager-groups.json"),
                    "configuration" => (
                        "configuration",
                        "network-manager-connectivity-configs.json, \
                         network-manager-security-admin-configs.json or \
                         network-manager-routing-configs.json",
                    ),
                    "routing_rule_collection" => (
                        "routing rule collection",
                        "network-manager-routing-rule-collections.json",
                    ),
                    "admin_rule_collection" => (
                        "admin rule collection",
                        "network-manager-admin-rule-collections.json",
                    ),
                    "firewall" => ("Azure Firewall", "firewalls.json"),
                    "virtual_wan" => ("virtual WAN", "virtual-wans.json"),
                    "virtual_hub" => ("virtual hub", "virtual-hubs.json"),
                    "hub_connection" => ("hub connection", "virtual-hub-connections.json"),
                    "hub_route_table" => ("hub route table", "virtual-hub-route-tables.json"),
                    "vpn_site" => ("VPN site", "vpn-sites.json"),
                    "vpn_site_link" => ("VPN site link", "vpn-sites.json"),
                    _ => ("network interface", "nics.json"),
                };
                at.error(format!("`{id}` names no {what} of {file}"))
            })
    }

    /// The referred object's own ID when the dump has it, else `id` as
    /// given: for a public IP or prefix, which the writer lets a
    /// reference name without the input holding it (it is often kept
    /// apart from the network).
    pub(super) fn own_id_or_given(&self, kind: &'static str, id: &str) -> String {
        let own = self.ids.get(&(kind, id.to_ascii_lowercase()));
        own.map_or_else(|| id.to_string(), String::clone)
    }

    /// The reference at `at` (a member `{"id": ...}`), resolved.
    pub(super) fn reference(
        &self,
        kind: &'static str,
        at: &Place<'_>,
        reference: Option<&Reference>,
    ) -> Result<Option<String>, ImportError> {
        reference
            .map(|r| self.resolve(kind, &at.key("id"), &r.id))
            .transpose()
    }

    /// The reference of member `key` of `what` (the object at `at`),
    /// resolved: `what` must have one.
    pub(super) fn required(
        &self,
        kind: &'static str,
        at: &Place<'_>,
        key: &'static str,
        reference: Option<&Reference>,
        what: impl std::fmt::Display,
    ) -> Result<String, ImportError> {
        let resolved = self.reference(kind, &at.key(key), reference)?;
        resolved.ok_or_else(|| at.error(format!("{what} has no `{key}`")))
    }

    /// The ID of what the object at `at` is a part of, found in its `id`
    /// (`.../PARENT/P/CHILDREN/NAME`): `id` up to its last `/CHILDREN/`
    /// (without case), which must name an object of `kind`; else an error
    /// that `id` is not the ID of `what` (with the ID's shape).
    pub(super) fn parent(
        &self,
        kind: &'static str,
        at: &Place<'_>,
        id: &str,
        children: &str,
        what: impl std::fmt::Display,
    ) -> Result<String, ImportError> {
        let at = at.key("id");
        let marker = format!("/{}/", children.to_ascii_lowercase());
        let Some(end) = id.to_ascii_lowercase().rfind(&marker) else {
            return Err(at.error(format!("`{id}` is not the ID of {what}")));
        };
        self.resolve(kind, &at, &id[..end])
    }

    /// The references of the list at `at`, resolved.
    pub(super) fn references(
        &self,
        kind: &'static str,
        at: &Place<'_>,
        references: &[Reference],
    ) -> Result<Vec<String>, ImportError> {
        references
            .iter()
            .enumerate()
            .map(|(index, r)| self.resolve(kind, &at.index(index).key("id"), &r.id))
            .collect()
    }
}
