//! From a line-marked YAML tree to raw topology records: keys checked
//! against the contract (unknown keys are refused, since a typo must not
//! silently change the network), scalars typed, CIDRs and addresses parsed,
//! enum values matched case-insensitively as Azure does. References between
//! resources stay names here; [`super::resolve`] turns them into indices and
//! applies Azure's own refusals.
//!
//! Decoding never stops at the first problem: every error of the file is
//! collected, and a broken item is skipped so the rest can still be checked.

use super::diagnostic::Diagnostics;
use super::model::{
    Access, Direction, NextHopType, PortRange, PortSpec, Protocol, Route, RouteTable, ServiceTag,
};
use super::yaml::{Node, Value};
use ipnet::IpNet;
use std::net::IpAddr;
use std::str::FromStr;

/// A name that refers to another resource, and where it was written.
#[derive(Debug, Clone)]
pub struct NameRef {
    pub name: String,
    pub line: usize,
    pub key: String,
}

#[derive(Debug, Default)]
pub struct RawTopology {
    pub vnets: Vec<RawVnet>,
    pub peerings: Vec<RawPeering>,
    pub nics: Vec<RawNic>,
    pub route_tables: Vec<RouteTable>,
    pub nsgs: Vec<RawNsg>,
    pub asgs: Vec<(String, usize)>,
}

impl RawTopology {
    /// True when the file declared no resource at all.
    pub fn is_empty(&self) -> bool {
        self.vnets.is_empty()
            && self.peerings.is_empty()
            && self.nics.is_empty()
            && self.route_tables.is_empty()
            && self.nsgs.is_empty()
            && self.asgs.is_empty()
    }
}

#[derive(Debug)]
pub struct RawVnet {
    pub name: String,
    pub key: String,
    pub address_space: Vec<(IpNet, usize)>,
    pub location: String,
    pub flow_timeout_minutes: u32,
    pub subnets: Vec<RawSubnet>,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawSubnet {
    pub name: String,
    pub key: String,
    pub address_prefixes: Vec<(IpNet, usize)>,
    pub network_security_group: Option<NameRef>,
    pub route_table: Option<NameRef>,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawPeering {
    pub name: String,
    pub key: String,
    pub vnet: NameRef,
    pub remote: NameRef,
    pub allow_virtual_network_access: bool,
    pub allow_forwarded_traffic: bool,
    pub allow_gateway_transit: bool,
    pub use_remote_gateways: bool,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawIpConfiguration {
    pub name: String,
    /// `None`: dynamic allocation, as in Azure.
    pub address: Option<IpAddr>,
    pub key: String,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawNic {
    pub name: String,
    pub key: String,
    /// `vnet/subnet`
    pub subnet: NameRef,
    pub ip_configurations: Vec<RawIpConfiguration>,
    pub ip_forwarding: bool,
    pub network_security_group: Option<NameRef>,
    pub application_security_groups: Vec<NameRef>,
    pub netns: Option<(String, usize)>,
    pub line: usize,
}

#[derive(Debug)]
pub struct RawNsg {
    pub name: String,
    pub key: String,
    pub flush_connection: bool,
    pub rules: Vec<RawRule>,
    pub line: usize,
}

/// A security rule's source or destination before ASG names are resolved.
#[derive(Debug)]
pub enum RawAddress {
    Any,
    Prefixes(Vec<IpNet>),
    Tag(ServiceTag),
    Asgs(Vec<NameRef>),
}

#[derive(Debug)]
pub struct RawRule {
    pub name: String,
    pub key: String,
    pub priority: u16,
    pub direction: Direction,
    pub access: Access,
    pub protocol: Protocol,
    pub source_ports: PortSpec,
    pub destination_ports: PortSpec,
    pub source: RawAddress,
    pub destination: RawAddress,
    pub line: usize,
}

/// The keys of a mapping, checked against the ones a place allows.
struct Fields<'n> {
    entries: &'n [(String, Node, usize)],
    line: usize,
    path: String,
}

impl<'n> Fields<'n> {
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, n, _)| n)
    }

    fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    fn key(&self, key: &str) -> String {
        format!("{}.{}", self.path, key)
    }
}

pub struct Decoder<'d> {
    pub diags: &'d mut Diagnostics,
}

const TOP_KEYS: &[&str] = &[
    "vnets",
    "peerings",
    "network_interfaces",
    "route_tables",
    "network_security_groups",
    "application_security_groups",
];
const VNET_KEYS: &[&str] = &[
    "name",
    "address_space",
    "location",
    "flow_timeout_in_minutes",
    "subnets",
];
const SUBNET_KEYS: &[&str] = &[
    "name",
    "address_prefixes",
    "network_security_group",
    "route_table",
];
const PEERING_KEYS: &[&str] = &[
    "name",
    "virtual_network",
    "remote_virtual_network",
    "allow_virtual_network_access",
    "allow_forwarded_traffic",
    "allow_gateway_transit",
    "use_remote_gateways",
];
const NIC_KEYS: &[&str] = &[
    "name",
    "subnet",
    "private_ip_address",
    "ip_configurations",
    "ip_forwarding_enabled",
    "network_security_group",
    "application_security_groups",
    "netns",
];
const IP_CONFIG_KEYS: &[&str] = &["name", "private_ip_address"];
const ROUTE_TABLE_KEYS: &[&str] = &["name", "bgp_route_propagation_enabled", "routes"];
const ROUTE_KEYS: &[&str] = &[
    "name",
    "address_prefix",
    "next_hop_type",
    "next_hop_in_ip_address",
];
const NSG_KEYS: &[&str] = &["name", "flush_connection", "security_rules"];
const RULE_KEYS: &[&str] = &[
    "name",
    "description",
    "priority",
    "direction",
    "access",
    "protocol",
    "source_port_range",
    "source_port_ranges",
    "destination_port_range",
    "destination_port_ranges",
    "source_address_prefix",
    "source_address_prefixes",
    "source_application_security_groups",
    "destination_address_prefix",
    "destination_address_prefixes",
    "destination_application_security_groups",
];
const ASG_KEYS: &[&str] = &["name"];

impl Decoder<'_> {
    pub fn topology(&mut self, root: &Node) -> RawTopology {
        let mut raw = RawTopology::default();
        if matches!(root.value, Value::Null) {
            return raw;
        }
        let Some(top) = self.fields(root, "", "the top level", TOP_KEYS) else {
            return raw;
        };
        for (i, item) in self.items(top.get("vnets"), "vnets").iter().enumerate() {
            if let Some(v) = self.vnet(item, i) {
                raw.vnets.push(v);
            }
        }
        for (i, item) in self
            .items(top.get("peerings"), "peerings")
            .iter()
            .enumerate()
        {
            if let Some(p) = self.peering(item, i) {
                raw.peerings.push(p);
            }
        }
        let nics = top.get("network_interfaces");
        for (i, item) in self.items(nics, "network_interfaces").iter().enumerate() {
            if let Some(n) = self.nic(item, i) {
                raw.nics.push(n);
            }
        }
        let tables = top.get("route_tables");
        for (i, item) in self.items(tables, "route_tables").iter().enumerate() {
            if let Some(t) = self.route_table(item, i) {
                raw.route_tables.push(t);
            }
        }
        let nsgs = top.get("network_security_groups");
        for (i, item) in self
            .items(nsgs, "network_security_groups")
            .iter()
            .enumerate()
        {
            if let Some(n) = self.nsg(item, i) {
                raw.nsgs.push(n);
            }
        }
        let asgs = top.get("application_security_groups");
        for (i, item) in self
            .items(asgs, "application_security_groups")
            .iter()
            .enumerate()
        {
            let path = format!("application_security_groups[{i}]");
            if let Some(f) = self.fields(item, &path, "an application security group", ASG_KEYS) {
                if let Some(name) = self.required_string(&f, "name") {
                    raw.asgs.push((name, item.line));
                }
            }
        }
        raw
    }

    fn vnet(&mut self, node: &Node, index: usize) -> Option<RawVnet> {
        let f = self.fields(node, &format!("vnets[{index}]"), "a vnet", VNET_KEYS)?;
        let name = self.required_string(&f, "name")?;
        let key = format!("vnets[{name}]");
        let f = Fields {
            path: key.clone(),
            ..f
        };
        let address_space = self.cidr_list(&f, "address_space", true);
        // Stored as the programmatic name, so `West Europe` and
        // `westeurope` are one location.
        let location = match f.get("location") {
            Some(n) => {
                let k = f.key("location");
                let given = self.string(n, &k).unwrap_or_default();
                match super::regions::canonical(&given) {
                    Some(name) => name.to_string(),
                    None => {
                        let names: Vec<&str> =
                            super::regions::REGIONS.iter().map(|(n, _)| *n).collect();
                        let folded = given.to_lowercase().replace(' ', "");
                        let hint = match closest(&folded, &names) {
                            Some(k) => format!("; did you mean `{k}`?"),
                            None => " (see `az account list-locations`)".to_string(),
                        };
                        self.diags.error(
                            n.line,
                            &k,
                            format!("`{given}` is not an Azure region{hint}"),
                        );
                        String::new()
                    }
                }
            }
            None => String::new(),
        };
        let flow_timeout_minutes = match f.get("flow_timeout_in_minutes") {
            None => 4,
            Some(n) => {
                let k = f.key("flow_timeout_in_minutes");
                match self.integer(n, &k) {
                    Some(v @ 4..=30) => v as u32,
                    Some(v) => {
                        self.diags.error(
                            n.line,
                            &k,
                            format!("{v} is out of range: Azure allows 4 to 30 minutes"),
                        );
                        4
                    }
                    None => 4,
                }
            }
        };
        let mut subnets = Vec::new();
        let sk = f.key("subnets");
        for (i, item) in self.items(f.get("subnets"), &sk).iter().enumerate() {
            if let Some(s) = self.subnet(item, &format!("{sk}[{i}]"), &sk) {
                subnets.push(s);
            }
        }
        Some(RawVnet {
            name,
            key,
            address_space,
            location,
            flow_timeout_minutes,
            subnets,
            line: node.line,
        })
    }

    fn subnet(&mut self, node: &Node, path: &str, list_key: &str) -> Option<RawSubnet> {
        let f = self.fields(node, path, "a subnet", SUBNET_KEYS)?;
        let name = self.required_string(&f, "name")?;
        let key = format!("{list_key}[{name}]");
        let f = Fields {
            path: key.clone(),
            ..f
        };
        let address_prefixes = self.cidr_list(&f, "address_prefixes", true);
        let network_security_group = self.optional_ref(&f, "network_security_group");
        let route_table = self.optional_ref(&f, "route_table");
        Some(RawSubnet {
            name,
            key,
            address_prefixes,
            network_security_group,
            route_table,
            line: node.line,
        })
    }

    fn peering(&mut self, node: &Node, index: usize) -> Option<RawPeering> {
        let f = self.fields(
            node,
            &format!("peerings[{index}]"),
            "a peering",
            PEERING_KEYS,
        )?;
        let name = self.required_string(&f, "name")?;
        let key = format!("peerings[{name}]");
        let f = Fields {
            path: key.clone(),
            ..f
        };
        let vnet = self.required_ref(&f, "virtual_network");
        let remote = self.required_ref(&f, "remote_virtual_network");
        let allow_virtual_network_access = self.bool_or(&f, "allow_virtual_network_access", true);
        let allow_forwarded_traffic = self.bool_or(&f, "allow_forwarded_traffic", false);
        let allow_gateway_transit = self.bool_or(&f, "allow_gateway_transit", false);
        let use_remote_gateways = self.bool_or(&f, "use_remote_gateways", false);
        Some(RawPeering {
            name,
            key,
            vnet: vnet?,
            remote: remote?,
            allow_virtual_network_access,
            allow_forwarded_traffic,
            allow_gateway_transit,
            use_remote_gateways,
            line: node.line,
        })
    }

    fn nic(&mut self, node: &Node, index: usize) -> Option<RawNic> {
        let path = format!("network_interfaces[{index}]");
        let f = self.fields(node, &path, "a network interface", NIC_KEYS)?;
        let name = self.required_string(&f, "name")?;
        let key = format!("network_interfaces[{name}]");
        let f = Fields {
            path: key.clone(),
            ..f
        };
        let subnet = self.required_ref(&f, "subnet");
        let mut ip_configurations = Vec::new();
        match (f.get("private_ip_address"), f.get("ip_configurations")) {
            (Some(_), Some(n)) => self.diags.error(
                n.line,
                &f.key("ip_configurations"),
                "give either private_ip_address or ip_configurations, not both",
            ),
            (Some(n), None) => {
                let k = f.key("private_ip_address");
                let address = match n.value {
                    Value::Null => None,
                    _ => Some(self.ip(n, &k)?),
                };
                ip_configurations.push(RawIpConfiguration {
                    name: "ipconfig1".to_string(),
                    address,
                    key: k,
                    line: n.line,
                });
            }
            (None, Some(n)) => {
                let list_key = f.key("ip_configurations");
                let items = self.items(Some(n), &list_key);
                if items.is_empty() {
                    self.diags.error(
                        n.line,
                        &list_key,
                        "a NIC needs at least one IP configuration",
                    );
                }
                for (i, item) in items.iter().enumerate() {
                    let p = format!("{list_key}[{i}]");
                    let Some(cf) = self.fields(item, &p, "an IP configuration", IP_CONFIG_KEYS)
                    else {
                        continue;
                    };
                    let Some(cname) = self.required_string(&cf, "name") else {
                        continue;
                    };
                    let k = format!("{list_key}[{cname}].private_ip_address");
                    let address = match cf.get("private_ip_address") {
                        None => None,
                        Some(Node {
                            value: Value::Null, ..
                        }) => None,
                        Some(a) => match self.ip(a, &k) {
                            Some(ip) => Some(ip),
                            None => continue,
                        },
                    };
                    ip_configurations.push(RawIpConfiguration {
                        name: cname,
                        address,
                        key: k,
                        line: item.line,
                    });
                }
            }
            // No address at all: one dynamic configuration, as Azure does.
            (None, None) => ip_configurations.push(RawIpConfiguration {
                name: "ipconfig1".to_string(),
                address: None,
                key: f.key("private_ip_address"),
                line: node.line,
            }),
        }
        let ip_forwarding = self.bool_or(&f, "ip_forwarding_enabled", false);
        let network_security_group = self.optional_ref(&f, "network_security_group");
        let asg_key = f.key("application_security_groups");
        let application_security_groups =
            self.ref_list(f.get("application_security_groups"), &asg_key);
        let netns = match f.get("netns") {
            None
            | Some(Node {
                value: Value::Null, ..
            }) => None,
            Some(n) => self.string(n, &f.key("netns")).map(|s| (s, n.line)),
        };
        Some(RawNic {
            name,
            key,
            subnet: subnet?,
            ip_configurations,
            ip_forwarding,
            network_security_group,
            application_security_groups,
            netns,
            line: node.line,
        })
    }

    fn route_table(&mut self, node: &Node, index: usize) -> Option<RouteTable> {
        let path = format!("route_tables[{index}]");
        let f = self.fields(node, &path, "a route table", ROUTE_TABLE_KEYS)?;
        let name = self.required_string(&f, "name")?;
        let key = format!("route_tables[{name}]");
        let f = Fields { path: key, ..f };
        let bgp_route_propagation_enabled = self.bool_or(&f, "bgp_route_propagation_enabled", true);
        let mut routes = Vec::new();
        let rk = f.key("routes");
        for (i, item) in self.items(f.get("routes"), &rk).iter().enumerate() {
            if let Some(r) = self.route(item, &format!("{rk}[{i}]"), &rk) {
                routes.push(r);
            }
        }
        Some(RouteTable {
            name,
            bgp_route_propagation_enabled,
            routes,
            line: node.line,
        })
    }

    fn route(&mut self, node: &Node, path: &str, list_key: &str) -> Option<Route> {
        let f = self.fields(node, path, "a route", ROUTE_KEYS)?;
        let name = self.required_string(&f, "name")?;
        let f = Fields {
            path: format!("{list_key}[{name}]"),
            ..f
        };
        let prefix = self
            .required(&f, "address_prefix")
            .and_then(|n| self.cidr(n, &f.key("address_prefix")));
        let hop_key = f.key("next_hop_type");
        let next_hop_type = self.required(&f, "next_hop_type").and_then(|n| {
            let text = self.string(n, &hop_key)?;
            match text.to_ascii_lowercase().as_str() {
                "virtualappliance" => Some(NextHopType::VirtualAppliance),
                "vnetlocal" => Some(NextHopType::VnetLocal),
                "internet" => Some(NextHopType::Internet),
                "none" => Some(NextHopType::None),
                "virtualnetworkgateway" => Some(NextHopType::VirtualNetworkGateway),
                "vnetpeering"
                | "vnetglobalpeering"
                | "virtualnetworkpeering"
                | "virtualnetworkserviceendpoint" => {
                    self.diags.error(
                        n.line,
                        &hop_key,
                        format!(
                            "`{text}` is not allowed in a user-defined route: Azure creates \
                             peering and service-endpoint routes itself"
                        ),
                    );
                    None
                }
                _ => {
                    self.diags.error(
                        n.line,
                        &hop_key,
                        format!(
                            "unknown next hop type `{text}` (expected VirtualAppliance, \
                             VnetLocal, Internet, None or VirtualNetworkGateway)"
                        ),
                    );
                    None
                }
            }
        });
        let ip_key = f.key("next_hop_in_ip_address");
        let next_hop_ip = match f.get("next_hop_in_ip_address") {
            None
            | Some(Node {
                value: Value::Null, ..
            }) => None,
            Some(n) => Some((self.ip(n, &ip_key), n.line)),
        };
        let next_hop_type = next_hop_type?;
        let next_hop_ip = match (next_hop_type, next_hop_ip) {
            (NextHopType::VirtualAppliance, Some((ip, _))) => Some(ip?),
            (NextHopType::VirtualAppliance, None) => {
                self.diags.error(
                    node.line,
                    &ip_key,
                    "a VirtualAppliance route needs next_hop_in_ip_address",
                );
                return None;
            }
            (other, Some((_, line))) => {
                self.diags.error(
                    line,
                    &ip_key,
                    format!(
                        "next_hop_in_ip_address is allowed only with VirtualAppliance, not {}",
                        other.as_str()
                    ),
                );
                return None;
            }
            (_, None) => None,
        };
        Some(Route {
            name,
            address_prefix: prefix?,
            next_hop_type,
            next_hop_ip,
            line: node.line,
        })
    }

    fn nsg(&mut self, node: &Node, index: usize) -> Option<RawNsg> {
        let path = format!("network_security_groups[{index}]");
        let f = self.fields(node, &path, "a network security group", NSG_KEYS)?;
        let name = self.required_string(&f, "name")?;
        let key = format!("network_security_groups[{name}]");
        let f = Fields {
            path: key.clone(),
            ..f
        };
        let flush_connection = self.bool_or(&f, "flush_connection", false);
        let rk = f.key("security_rules");
        let mut rules = Vec::new();
        for (i, item) in self.items(f.get("security_rules"), &rk).iter().enumerate() {
            if let Some(r) = self.rule(item, &format!("{rk}[{i}]"), &rk) {
                rules.push(r);
            }
        }
        Some(RawNsg {
            name,
            key,
            flush_connection,
            rules,
            line: node.line,
        })
    }

    fn rule(&mut self, node: &Node, path: &str, list_key: &str) -> Option<RawRule> {
        let f = self.fields(node, path, "a security rule", RULE_KEYS)?;
        let name = self.required_string(&f, "name")?;
        let key = format!("{list_key}[{name}]");
        let f = Fields {
            path: key.clone(),
            ..f
        };
        if let Some(n) = f.get("description") {
            self.string(n, &f.key("description"));
        }
        let priority = self.required(&f, "priority").and_then(|n| {
            let k = f.key("priority");
            match self.integer(n, &k)? {
                v @ 100..=4096 => Some(v as u16),
                v => {
                    self.diags.error(
                        n.line,
                        &k,
                        format!("{v} is out of range: user rules take priorities 100 to 4096"),
                    );
                    None
                }
            }
        });
        let direction = self.required(&f, "direction").and_then(|n| {
            self.choice(
                n,
                &f.key("direction"),
                &[
                    ("inbound", Direction::Inbound),
                    ("outbound", Direction::Outbound),
                ],
            )
        });
        let access = self.required(&f, "access").and_then(|n| {
            self.choice(
                n,
                &f.key("access"),
                &[("allow", Access::Allow), ("deny", Access::Deny)],
            )
        });
        let protocol = self.required(&f, "protocol").and_then(|n| {
            self.choice(
                n,
                &f.key("protocol"),
                &[
                    ("*", Protocol::Any),
                    ("tcp", Protocol::Tcp),
                    ("udp", Protocol::Udp),
                    ("icmp", Protocol::Icmp),
                    ("esp", Protocol::Esp),
                    ("ah", Protocol::Ah),
                ],
            )
        });
        let source_ports = self.ports(&f, "source_port_range", "source_port_ranges");
        let destination_ports = self.ports(&f, "destination_port_range", "destination_port_ranges");
        let source = self.address(&f, "source");
        let destination = self.address(&f, "destination");
        Some(RawRule {
            name,
            key,
            priority: priority?,
            direction: direction?,
            access: access?,
            protocol: protocol?,
            source_ports: source_ports?,
            destination_ports: destination_ports?,
            source: source?,
            destination: destination?,
            line: node.line,
        })
    }

    /// `source_port_range` / `source_port_ranges` (exactly one, as in ARM).
    fn ports(&mut self, f: &Fields, single: &str, plural: &str) -> Option<PortSpec> {
        match (f.get(single), f.get(plural)) {
            (Some(_), Some(n)) => {
                self.diags.error(
                    n.line,
                    &f.key(plural),
                    format!("give either {single} or {plural}, not both"),
                );
                None
            }
            (None, None) => {
                self.diags.error(
                    f.line,
                    &f.key(single),
                    format!(
                        "missing required key `{single}` (or `{plural}`); use \"*\" for any port"
                    ),
                );
                None
            }
            (Some(n), None) => {
                let k = f.key(single);
                let text = self.string(n, &k)?;
                if text == "*" {
                    return Some(PortSpec::Any);
                }
                Some(PortSpec::Ranges(vec![self.port_range(&text, n.line, &k)?]))
            }
            (None, Some(n)) => {
                let k = f.key(plural);
                let items = self.items(Some(n), &k);
                if items.is_empty() {
                    self.diags
                        .error(n.line, &k, "the list of port ranges is empty");
                    return None;
                }
                let mut ranges = Vec::new();
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    let ik = format!("{k}[{i}]");
                    let Some(text) = self.string(item, &ik) else {
                        ok = false;
                        continue;
                    };
                    if text == "*" {
                        if items.len() == 1 {
                            return Some(PortSpec::Any);
                        }
                        self.diags.error(
                            item.line,
                            &ik,
                            "\"*\" cannot be combined with other port ranges",
                        );
                        ok = false;
                        continue;
                    }
                    match self.port_range(&text, item.line, &ik) {
                        Some(r) => ranges.push(r),
                        None => ok = false,
                    }
                }
                ok.then_some(PortSpec::Ranges(ranges))
            }
        }
    }

    fn port_range(&mut self, text: &str, line: usize, key: &str) -> Option<PortRange> {
        let parse = |s: &str| s.trim().parse::<u32>().ok().filter(|p| *p <= 65535);
        let range = match text.split_once('-') {
            None => parse(text).map(|p| (p, p)),
            Some((a, b)) => parse(a).zip(parse(b)),
        };
        match range {
            Some((lo, hi)) if lo <= hi => Some(PortRange {
                lo: lo as u16,
                hi: hi as u16,
            }),
            _ => {
                self.diags.error(
                    line,
                    key,
                    format!(
                        "`{text}` is not a port or port range (expected \"*\", \"80\" or \
                         \"1000-2000\" with ports 0 to 65535)"
                    ),
                );
                None
            }
        }
    }

    /// A rule's source or destination: exactly one of the prefix, the prefix
    /// list, or application security groups.
    fn address(&mut self, f: &Fields, side: &str) -> Option<RawAddress> {
        let single = format!("{side}_address_prefix");
        let plural = format!("{side}_address_prefixes");
        let asgs = format!("{side}_application_security_groups");
        let given: Vec<&String> = [&single, &plural, &asgs]
            .into_iter()
            .filter(|k| f.has(k))
            .collect();
        if given.len() > 1 {
            let line = f.get(given[1]).map_or(f.line, |n| n.line);
            self.diags.error(
                line,
                &f.key(given[1]),
                format!("give only one of {single}, {plural} and {asgs}"),
            );
            return None;
        }
        if let Some(n) = f.get(&single) {
            let k = f.key(&single);
            let text = self.string(n, &k)?;
            return self.address_text(&text, n.line, &k, true);
        }
        if let Some(n) = f.get(&plural) {
            let k = f.key(&plural);
            let items = self.items(Some(n), &k);
            if items.is_empty() {
                self.diags
                    .error(n.line, &k, "the list of address prefixes is empty");
                return None;
            }
            if items.len() > 4000 {
                self.diags.error(
                    n.line,
                    &k,
                    format!(
                        "{} prefixes: Azure allows at most 4000 per rule side",
                        items.len()
                    ),
                );
                return None;
            }
            let mut prefixes = Vec::new();
            let mut ok = true;
            for (i, item) in items.iter().enumerate() {
                let ik = format!("{k}[{i}]");
                let parsed = self
                    .string(item, &ik)
                    .and_then(|t| self.address_text(&t, item.line, &ik, false));
                match parsed {
                    Some(RawAddress::Prefixes(p)) => prefixes.extend(p),
                    _ => ok = false,
                }
            }
            return ok.then_some(RawAddress::Prefixes(prefixes));
        }
        if let Some(n) = f.get(&asgs) {
            let k = f.key(&asgs);
            let refs = self.ref_list(Some(n), &k);
            if refs.is_empty() {
                self.diags.error(
                    n.line,
                    &k,
                    "the list of application security groups is empty",
                );
                return None;
            }
            if refs.len() > 10 {
                self.diags.error(
                    n.line,
                    &k,
                    "Azure allows at most 10 application security groups per rule side",
                );
                return None;
            }
            return Some(RawAddress::Asgs(refs));
        }
        self.diags.error(
            f.line,
            &f.key(&single),
            format!("missing required key `{single}` (or `{plural}` or `{asgs}`); use \"*\" for any address"),
        );
        None
    }

    /// `*`, a service tag (only where `tags_allowed`), an IP or a CIDR.
    fn address_text(
        &mut self,
        text: &str,
        line: usize,
        key: &str,
        tags_allowed: bool,
    ) -> Option<RawAddress> {
        if text == "*" && tags_allowed {
            return Some(RawAddress::Any);
        }
        let tag = match text.to_ascii_lowercase().as_str() {
            "virtualnetwork" => Some(ServiceTag::VirtualNetwork),
            "internet" => Some(ServiceTag::Internet),
            "azureloadbalancer" => Some(ServiceTag::AzureLoadBalancer),
            _ => None,
        };
        if let Some(tag) = tag {
            if tags_allowed {
                return Some(RawAddress::Tag(tag));
            }
            self.diags.error(
                line,
                key,
                format!("service tag `{text}` cannot be used in a prefix list; Azure allows one tag per rule side, in the singular key"),
            );
            return None;
        }
        if let Ok(ip) = IpAddr::from_str(text) {
            return Some(RawAddress::Prefixes(vec![IpNet::from(ip)]));
        }
        if text.contains('/') {
            return self
                .cidr_text(text, line, key)
                .map(|n| RawAddress::Prefixes(vec![n]));
        }
        let hint = if tags_allowed {
            "expected \"*\", an IP address, a CIDR, or one of the service tags VirtualNetwork, \
             Internet and AzureLoadBalancer (other Azure service tags are not emulated)"
        } else {
            "expected an IP address or a CIDR"
        };
        self.diags.error(
            line,
            key,
            format!("`{text}` is not a valid address prefix: {hint}"),
        );
        None
    }

    // ---- typed access to nodes -------------------------------------------

    fn fields<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        what: &str,
        known: &[&str],
    ) -> Option<Fields<'n>> {
        let Value::Map(entries) = &node.value else {
            self.diags.error(
                node.line,
                path,
                format!("expected {what} (a mapping), found {}", node.value.kind()),
            );
            return None;
        };
        for (key, _, line) in entries {
            if !known.contains(&key.as_str()) {
                let full = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                let hint = match closest(key, known) {
                    Some(k) => format!("; did you mean `{k}`?"),
                    None => format!(" (known keys: {})", known.join(", ")),
                };
                self.diags
                    .error(*line, &full, format!("unknown key `{key}` in {what}{hint}"));
            }
        }
        Some(Fields {
            entries,
            line: node.line,
            path: path.to_string(),
        })
    }

    /// The items of a list; a missing or null list is empty.
    fn items<'n>(&mut self, node: Option<&'n Node>, key: &str) -> &'n [Node] {
        match node {
            None => &[],
            Some(Node {
                value: Value::Null, ..
            }) => &[],
            Some(Node {
                value: Value::Seq(items),
                ..
            }) => items,
            Some(n) => {
                self.diags.error(
                    n.line,
                    key,
                    format!("expected a list, found {}", n.value.kind()),
                );
                &[]
            }
        }
    }

    fn required<'n>(&mut self, f: &Fields<'n>, key: &str) -> Option<&'n Node> {
        match f.get(key) {
            Some(Node {
                value: Value::Null,
                line,
            }) => {
                self.diags
                    .error(*line, &f.key(key), format!("`{key}` must have a value"));
                None
            }
            Some(n) => Some(n),
            None => {
                self.diags
                    .error(f.line, &f.key(key), format!("missing required key `{key}`"));
                None
            }
        }
    }

    fn required_string(&mut self, f: &Fields, key: &str) -> Option<String> {
        let n = self.required(f, key)?;
        self.string(n, &f.key(key))
    }

    fn string(&mut self, node: &Node, key: &str) -> Option<String> {
        match &node.value {
            Value::Scalar { text, .. } => Some(text.clone()),
            other => {
                self.diags.error(
                    node.line,
                    key,
                    format!("expected a string, found {}", other.kind()),
                );
                None
            }
        }
    }

    fn integer(&mut self, node: &Node, key: &str) -> Option<i64> {
        match &node.value {
            Value::Scalar {
                text,
                quoted: false,
            } => match text.parse::<i64>() {
                Ok(v) => Some(v),
                Err(_) => {
                    self.diags
                        .error(node.line, key, format!("`{text}` is not a whole number"));
                    None
                }
            },
            other => {
                self.diags.error(
                    node.line,
                    key,
                    format!("expected a whole number, found {}", other.kind()),
                );
                None
            }
        }
    }

    fn bool_or(&mut self, f: &Fields, key: &str, default: bool) -> bool {
        let Some(node) = f.get(key) else {
            return default;
        };
        match &node.value {
            Value::Scalar {
                text,
                quoted: false,
            } if text.eq_ignore_ascii_case("true") => true,
            Value::Scalar {
                text,
                quoted: false,
            } if text.eq_ignore_ascii_case("false") => false,
            Value::Null => default,
            other => {
                let shown = match other {
                    Value::Scalar { text, .. } => format!("`{text}`"),
                    v => v.kind().to_string(),
                };
                self.diags.error(
                    node.line,
                    &f.key(key),
                    format!("expected true or false, found {shown}"),
                );
                default
            }
        }
    }

    fn choice<T: Copy>(&mut self, node: &Node, key: &str, choices: &[(&str, T)]) -> Option<T> {
        let text = self.string(node, key)?;
        let lower = text.to_ascii_lowercase();
        match choices.iter().find(|(c, _)| *c == lower) {
            Some((_, v)) => Some(*v),
            None => {
                let names: Vec<String> = choices.iter().map(|(c, _)| capitalise(c)).collect();
                self.diags.error(
                    node.line,
                    key,
                    format!("`{text}` is not one of {}", names.join(", ")),
                );
                None
            }
        }
    }

    fn ip(&mut self, node: &Node, key: &str) -> Option<IpAddr> {
        let text = self.string(node, key)?;
        match IpAddr::from_str(&text) {
            Ok(ip) => Some(ip),
            Err(_) => {
                self.diags.error(
                    node.line,
                    key,
                    format!("`{text}` is not an IPv4 or IPv6 address"),
                );
                None
            }
        }
    }

    fn cidr(&mut self, node: &Node, key: &str) -> Option<IpNet> {
        let text = self.string(node, key)?;
        self.cidr_text(&text, node.line, key)
    }

    /// A CIDR in canonical form: host bits set are refused, as Azure does.
    fn cidr_text(&mut self, text: &str, line: usize, key: &str) -> Option<IpNet> {
        match IpNet::from_str(text) {
            Ok(net) if net.trunc() == net => Some(net),
            Ok(net) => {
                self.diags.error(
                    line,
                    key,
                    format!(
                        "`{text}` has host bits set: the prefix starts at {}",
                        net.trunc()
                    ),
                );
                None
            }
            Err(_) => {
                self.diags.error(
                    line,
                    key,
                    format!(
                        "`{text}` is not a valid CIDR (expected e.g. 10.0.0.0/16 or fd00::/48)"
                    ),
                );
                None
            }
        }
    }

    fn cidr_list(&mut self, f: &Fields, key: &str, required: bool) -> Vec<(IpNet, usize)> {
        let k = f.key(key);
        let node = if required {
            self.required(f, key)
        } else {
            f.get(key)
        };
        let Some(node) = node else {
            return Vec::new();
        };
        let items = self.items(Some(node), &k);
        if required && items.is_empty() && matches!(node.value, Value::Seq(_)) {
            self.diags
                .error(node.line, &k, format!("`{key}` needs at least one CIDR"));
        }
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if let Some(net) = self.cidr(item, &format!("{k}[{i}]")) {
                out.push((net, item.line));
            }
        }
        out
    }

    fn required_ref(&mut self, f: &Fields, key: &str) -> Option<NameRef> {
        let n = self.required(f, key)?;
        let name = self.string(n, &f.key(key))?;
        Some(NameRef {
            name,
            line: n.line,
            key: f.key(key),
        })
    }

    fn optional_ref(&mut self, f: &Fields, key: &str) -> Option<NameRef> {
        match f.get(key) {
            None
            | Some(Node {
                value: Value::Null, ..
            }) => None,
            Some(n) => {
                let name = self.string(n, &f.key(key))?;
                Some(NameRef {
                    name,
                    line: n.line,
                    key: f.key(key),
                })
            }
        }
    }

    fn ref_list(&mut self, node: Option<&Node>, key: &str) -> Vec<NameRef> {
        let mut out = Vec::new();
        for (i, item) in self.items(node, key).iter().enumerate() {
            let k = format!("{key}[{i}]");
            if let Some(name) = self.string(item, &k) {
                out.push(NameRef {
                    name,
                    line: item.line,
                    key: k,
                });
            }
        }
        out
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The known key closest to a mistyped one, when it is close enough to be a
/// likely typo: at most 2 edits away, or a quarter of the key's length for
/// long keys. On a tie the first known key wins.
fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (strsim::levenshtein(key, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_key() {
        assert_eq!(closest("adress_space", VNET_KEYS), Some("address_space"));
        assert_eq!(closest("zzz", VNET_KEYS), None);
        // Edits are counted in characters, not bytes.
        assert_eq!(closest("adréss_space", VNET_KEYS), Some("address_space"));
    }
}
