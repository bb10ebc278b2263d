//! Decoders for Azure Virtual Network Manager (`network_managers`): network
//! groups, connectivity, security admin and routing configurations, their
//! rule collections and rules, and deployments, with keys as `azurerm`
//! names them. Admin rule priorities run from 1 to 4096, and their
//! protocols are TCP, UDP, ICMP, ESP, AH or Any ("Security admin rules in
//! Azure Virtual Network Manager"). A routing rule's destination is a
//! prefix; one given as a service tag is accepted, warned about and left
//! out.

use super::reader::{Decoder, Fields, Head, NameRef, Record};
use super::values::choice_list;
use super::Node;
use crate::net::PortSpec;
use crate::topology::model::{
    AddressSpec, AdminRuleSettings, ConnectivityTopology, Protocol, ScopeAccess,
};
use std::collections::BTreeMap;
use strum::VariantNames;

/// A network manager as written.
#[derive(Debug)]
pub struct RawNetworkManager {
    pub name: String,
    pub key: String,
    pub groups: Vec<RawNetworkGroup>,
    pub connectivity: Vec<RawConnectivityConfiguration>,
    pub security: Vec<RawSecurityAdminConfiguration>,
    pub routing: Vec<RawRoutingConfiguration>,
    pub deployments: Vec<RawDeployment>,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawNetworkGroup {
    pub name: String,
    pub key: String,
    pub static_members: Vec<NameRef>,
    /// Dynamic membership: a VNet whose name contains one of these.
    pub name_contains: Vec<String>,
    /// Dynamic membership: a VNet with every one of these tags.
    pub tags: BTreeMap<String, String>,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawConnectivityConfiguration {
    pub name: String,
    pub key: String,
    pub topology: ConnectivityTopology,
    pub hub: Option<NameRef>,
    pub global_mesh: bool,
    pub delete_existing_peering: bool,
    pub groups: Vec<RawAppliesToGroup>,
    pub line: usize,
}

/// One `applies_to_group` of a connectivity configuration.
#[derive(Debug)]
pub struct RawAppliesToGroup {
    pub group: NameRef,
    pub directly_connected: bool,
    pub global_mesh: bool,
    pub use_hub_gateway: bool,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawSecurityAdminConfiguration {
    pub name: String,
    pub key: String,
    pub collections: Vec<RawAdminRuleCollection>,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawAdminRuleCollection {
    pub name: String,
    pub key: String,
    pub groups: Vec<NameRef>,
    pub rules: Vec<RawAdminRule>,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawAdminRule {
    pub name: String,
    pub key: String,
    pub settings: AdminRuleSettings,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawRoutingConfiguration {
    pub name: String,
    pub key: String,
    pub collections: Vec<RawRoutingCollection>,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawRoutingCollection {
    pub name: String,
    pub key: String,
    pub groups: Vec<NameRef>,
    pub bgp_route_propagation_enabled: bool,
    pub rules: Vec<RawRoutingRule>,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawRoutingRule {
    pub name: String,
    pub key: String,
    /// `None`: a service tag, warned about and left out.
    pub destination: Option<ipnet::IpNet>,
    pub next_hop_type: crate::topology::model::NextHopType,
    pub next_hop_ip: Option<std::net::IpAddr>,
    pub line: usize,
}

/// A deployment (`azurerm_network_manager_deployment`): configurations of
/// one kind committed to one region.
#[derive(Debug)]
pub struct RawDeployment {
    pub key: String,
    pub location: String,
    pub scope_access: ScopeAccess,
    pub configurations: Vec<NameRef>,
    pub line: usize,
}

/// Admin rule priorities ("Security admin rules": 1 to 4096).
const ADMIN_PRIORITIES: std::ops::RangeInclusive<i64> = 1..=4096;

/// Admin rule protocols as azurerm spells them.
const ADMIN_PROTOCOLS: &[(&str, Protocol)] = &[
    ("tcp", Protocol::Tcp),
    ("udp", Protocol::Udp),
    ("icmp", Protocol::Icmp),
    ("esp", Protocol::Esp),
    ("ah", Protocol::Ah),
    ("any", Protocol::Any),
];

record!(NETWORK_MANAGER_KEYS: RawNetworkManager { name, key, line } "a network manager" {
    _: "description" => text,
    groups: "network_groups" => list,
    connectivity: "connectivity_configurations" => list,
    security: "security_admin_configurations" => list,
    routing: "routing_configurations" => list,
    deployments: "deployments" => deployments,
});

record!(NETWORK_GROUP_KEYS: RawNetworkGroup { name, key, line } "a network group" {
    _: "description" => text,
    static_members: "static_members" => ref_list,
    name_contains: "member_name_contains" => text_list,
    tags: "member_tags" => tag_map,
});

record!(CONNECTIVITY_KEYS: RawConnectivityConfiguration { name, key, line }
    "a connectivity configuration" {
    _: "description" => text,
    topology: "connectivity_topology" => one_of,
    hub: "hub" => optional_ref,
    global_mesh: "global_mesh_enabled" => flag(false),
    delete_existing_peering: "delete_existing_peering_enabled" => flag(false),
    groups: "applies_to_group" => applies_to_groups,
});

record!(SECURITY_ADMIN_KEYS: RawSecurityAdminConfiguration { name, key, line }
    "a security admin configuration" {
    _: "description" => text,
    collections: "rule_collections" => list,
});

record!(ADMIN_COLLECTION_KEYS: RawAdminRuleCollection { name, key, line }
    "an admin rule collection" {
    _: "description" => text,
    groups: "network_groups" => ref_list,
    rules: "rules" => list,
});

record!(ADMIN_RULE_KEYS: RawAdminRule { name, key, line } "a security admin rule" {
    _: "description" => text,
    settings: AdminRuleSettings {
        priority: "priority" => admin_priority,
        direction: "direction" => one_of,
        action: "action" => one_of,
        protocol: "protocol" => one_of_listed(ADMIN_PROTOCOLS),
        source_ports: "source_port_ranges" => admin_ports,
        destination_ports: "destination_port_ranges" => admin_ports,
        sources: "sources" => admin_addresses,
        destinations: "destinations" => admin_addresses,
    },
});

record!(ROUTING_CONFIGURATION_KEYS: RawRoutingConfiguration { name, key, line }
    "a routing configuration" {
    _: "description" => text,
    _: "route_table_usage_mode" => text,
    collections: "rule_collections" => list,
});

record!(ROUTING_COLLECTION_KEYS: RawRoutingCollection { name, key, line }
    "a routing rule collection" {
    _: "description" => text,
    groups: "network_groups" => ref_list,
    bgp_route_propagation_enabled: "bgp_route_propagation_enabled" => flag(true),
    rules: "rules" => list,
});

record!(ROUTING_RULE_KEYS: RawRoutingRule { name, key, line } "a routing rule" {
    _: "description" => text,
    destination: "destination" => routing_destination?,
    (next_hop_type, next_hop_ip): "next_hop_type" | "next_hop_address" => next_hop,
});

const APPLIES_TO_GROUP_KEYS: &[&str] = &[
    "network_group",
    "group_connectivity",
    "global_mesh_enabled",
    "use_hub_gateway",
];

const DEPLOYMENT_KEYS: &[&str] = &["location", "scope_access", "configurations"];

/// `group_connectivity` as azurerm spells it.
const GROUP_CONNECTIVITY: &[(&str, bool)] = &[("none", false), ("directlyconnected", true)];

impl Decoder<'_> {
    fn admin_priority(&mut self, f: &Fields, key: &str) -> Option<u16> {
        let n = self.required(f, key)?;
        let why = "security admin rules take priorities 1 to 4096";
        let v = self.number_in(n, &f.key(key), ADMIN_PRIORITIES, why)?;
        Some(v as u16)
    }

    /// A routing rule's destination: a prefix, or a service tag (warned
    /// about: `None`).
    fn routing_destination(&mut self, f: &Fields, key: &str) -> Option<Option<ipnet::IpNet>> {
        let node = self.required(f, key)?;
        let k = f.key(key);
        let text = self.string(node, &k)?;
        if text.contains('/') || text.parse::<std::net::IpAddr>().is_ok() {
            let net = match text.parse::<std::net::IpAddr>() {
                Ok(ip) => ipnet::IpNet::from(ip),
                Err(_) => self.cidr_text(&text, node.line, &k)?,
            };
            return Some(Some(net.trunc()));
        }
        let why = format!(
            "`{text}` is a service tag: routing rules to service tags are not emulated, \
             the lab runs without this one"
        );
        self.diags.warning(node.line, &k, why);
        Some(None)
    }

    /// An admin rule's port ranges: absent or `*`, any port.
    fn admin_ports(&mut self, f: &Fields, key: &str) -> Option<PortSpec> {
        let k = f.key(key);
        let items = self.items(f.given(key), &k);
        if items.is_empty() {
            return Some(PortSpec::Any);
        }
        self.port_items(items, &k)
    }

    /// An admin rule's sources or destinations: each `*`, an address, a
    /// CIDR or a service tag. Absent, any address.
    fn admin_addresses(&mut self, f: &Fields, key: &str) -> Option<Vec<AddressSpec>> {
        let k = f.key(key);
        let items = self.items(f.given(key), &k);
        let read = self.texts(items, &k, |d, text, line, k| {
            d.address_text(&text, line, k, true).and_then(|a| match a {
                super::RawAddress::Any => Some(AddressSpec::Any),
                super::RawAddress::Prefixes(p) => Some(AddressSpec::Prefixes(p)),
                super::RawAddress::Tag(t) => Some(AddressSpec::Tag(t)),
                super::RawAddress::Asgs(_) => None,
            })
        });
        read.into_iter().collect()
    }

    /// A list of texts; absent, none.
    fn text_list(&mut self, f: &Fields, key: &str) -> Option<Vec<String>> {
        let k = f.key(key);
        let items = self.items(f.given(key), &k);
        let read = self.texts(items, &k, |_, text, _, _| Some(text));
        read.into_iter().collect()
    }

    /// A mapping of tag names to values (a VNet's `tags`, a group's
    /// `member_tags`); absent, none.
    pub(super) fn tag_map(&mut self, f: &Fields, key: &str) -> Option<BTreeMap<String, String>> {
        let Some(node) = f.given(key) else {
            return Some(BTreeMap::new());
        };
        let k = f.key(key);
        let super::Value::Map(entries) = &node.value else {
            let found = node.value.kind();
            self.diags.error(
                node.line,
                &k,
                format!("expected tags (a mapping of names to values), found {found}"),
            );
            return None;
        };
        let mut tags = BTreeMap::new();
        for (name, value, _) in entries {
            let value = self.string(value, &format!("{k}.{name}"))?;
            tags.insert(name.clone(), value);
        }
        Some(tags)
    }

    /// Items without a name of their own, each a mapping of `keys` read by
    /// `read`; broken items are reported and left out.
    fn unnamed<T>(
        &mut self,
        f: &Fields,
        key: &str,
        what: &str,
        keys: &[&str],
        mut read: impl FnMut(&mut Self, &Fields, &Node) -> Option<T>,
    ) -> Vec<T> {
        let list_key = f.key(key);
        let items = self.items(f.given(key), &list_key);
        let mut out = Vec::new();
        for (i, node) in items.iter().enumerate() {
            let path = format!("{list_key}[{i}]");
            let Some(fields) = self.fields(node, &path, what, keys) else {
                continue;
            };
            if let Some(item) = read(self, &fields, node) {
                out.push(item);
            }
        }
        out
    }

    fn applies_to_groups(&mut self, f: &Fields, key: &str) -> Option<Vec<RawAppliesToGroup>> {
        let what = "a group a connectivity configuration applies to";
        Some(
            self.unnamed(f, key, what, APPLIES_TO_GROUP_KEYS, |d, g, node| {
                let group = d.required_ref(g, "network_group");
                let directly_connected = match g.given("group_connectivity") {
                    Some(_) => d.one_of_listed(g, "group_connectivity", GROUP_CONNECTIVITY),
                    None => Some(false),
                };
                let global_mesh = d.flag(g, "global_mesh_enabled", false);
                let use_hub_gateway = d.flag(g, "use_hub_gateway", false);
                Some(RawAppliesToGroup {
                    group: group?,
                    directly_connected: directly_connected?,
                    global_mesh: global_mesh?,
                    use_hub_gateway: use_hub_gateway?,
                    line: node.line,
                })
            }),
        )
    }

    fn deployments(&mut self, f: &Fields, key: &str) -> Option<Vec<RawDeployment>> {
        let what = "a deployment";
        let list_key = f.key(key);
        let mut index = 0;
        Some(self.unnamed(f, key, what, DEPLOYMENT_KEYS, |d, g, node| {
            let path = format!("{list_key}[{index}]");
            index += 1;
            let location = d.region(g, "location");
            let scope_access = match g.given("scope_access") {
                Some(n) => {
                    let k = g.key("scope_access");
                    let text = d.string(n, &k)?;
                    let parsed = text.parse::<ScopeAccess>().ok();
                    if parsed.is_none() {
                        let why =
                            format!("`{text}` is not one of {}", choice_list::<ScopeAccess>());
                        d.diags.error(n.line, &k, why);
                    }
                    parsed
                }
                None => {
                    let why = format!(
                        "missing required key `scope_access` (one of {})",
                        ScopeAccess::VARIANTS.join(", ")
                    );
                    d.diags.error(node.line, &g.key("scope_access"), why);
                    None
                }
            };
            let configurations = d.ref_list(g, "configurations");
            Some(RawDeployment {
                key: path,
                location: location?,
                scope_access: scope_access?,
                configurations: configurations?,
                line: node.line,
            })
        }))
    }
}
