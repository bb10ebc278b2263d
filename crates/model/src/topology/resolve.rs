//! From raw records to the resolved [`Topology`]: names become indices and
//! Azure's own refusals are applied, each reported with its line:
//!
//! - resource names: Azure's character rules, unique per kind (subnets per
//!   VNet, routes per table, rules per NSG);
//! - VNets: ranges that overlap each other or Azure's unusable ranges
//!   (224.0.0.0/4, 255.255.255.255/32, 127.0.0.0/8, 169.254.0.0/16,
//!   168.63.129.16/32); IPv6 only beside IPv4 (Azure has no IPv6-only VNet);
//! - subnets: inside their VNet, not overlapping each other, IPv4 /29 or
//!   larger, IPv6 exactly /64;
//! - peerings: both VNets exist and differ, one link per direction, address
//!   spaces that overlap, gateway transit settings; a one-sided peering is
//!   valid (state Initiated) and gets a warning;
//! - NICs: the subnet exists, each address inside it and not one of its
//!   reserved addresses (IPv4: network, .1, .2, .3, broadcast; IPv6: the
//!   first four), unique within the VNet; dynamic addresses are allocated
//!   from the first free one, as Azure does; namespace names unique;
//!   application security groups of one VNet only;
//! - route tables: at most 400 routes, unique prefixes, a VirtualAppliance
//!   address of the prefix's family;
//! - NSGs: at most 1000 rules, priorities unique per direction;
//! - NICs and their addresses: see `resolve/nics.rs`;
//! - gateways, local network gateways, connections and on-premises sites:
//!   see `resolve/hybrid.rs` and `resolve/express_route.rs`;
//! - internal load balancers: see `resolve/load_balancers.rs`;
//! - Azure Firewalls and their policies: see `resolve/firewalls.rs`;
//! - Azure Route Servers and the BGP speakers of the appliances peering
//!   with them: see `resolve/route_servers.rs`;
//! - the names of the ports vnetd adds to the fabric: see
//!   `resolve/fabric_names.rs`.

use super::decode::{NameRef, RawAddress, RawTopology};
use super::diagnostic::Diagnostics;
use super::model::*;
use ipnet::IpNet;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

mod application_rules;
mod dns;
mod edge;
mod expectations;
mod express_route;
mod fabric_names;
mod firewalls;
mod flow_logs;
mod hub_bgp;
mod hub_express_route;
mod hub_vpn;
mod hybrid;
mod load_balancers;
mod network_managers;
mod nics;
mod placement;
mod private_cloud;
mod realism;
mod resolvers;
mod route_servers;
mod services;
mod sites;
mod virtual_wan;
pub use fabric_names::MAX_NETNS_LEN;
pub use hybrid::{instance_addresses, reserved_asn};
pub use realism::VM_NAME;
pub use sites::host_link_prefix_len;
pub use virtual_wan::is_rfc1918;

const UNUSABLE_V4: &[&str] = &[
    "224.0.0.0/4",
    "255.255.255.255/32",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "168.63.129.16/32",
];
const MAX_ROUTES_PER_TABLE: usize = 400;
const MAX_RULES_PER_NSG: usize = 1000;
const MAX_PEERINGS_PER_VNET: usize = 500;
const MAX_IP_CONFIGS_PER_NIC: usize = 256;

pub fn resolve(mut raw: RawTopology, diags: &mut Diagnostics) -> Topology {
    let mut r = Resolver {
        diags,
        topo: Topology {
            source: String::new(),
            ..Topology::default()
        },
        refused_gateways: Vec::new(),
        refused_route_servers: Vec::new(),
        pending_speakers: None,
        refused_local_gateways: Vec::new(),
        refused_circuits: Vec::new(),
        refused_firewalls: Vec::new(),
        refused_vpn_sites: Vec::new(),
        public_ip_users: Default::default(),
    };
    r.topo.source = r.diags.file.clone();
    let placed = placement::PlacementRefs::of(&raw);
    let edge_refs = edge::EdgeRefs::take(&mut raw);
    let policy_refs = services::SubnetPolicyRefs::take(&mut raw);
    r.netns_prefix(raw.netns_prefix);
    r.route_tables(raw.route_tables);
    r.asgs(raw.asgs);
    r.nsgs(raw.nsgs);
    r.vnets(raw.vnets);
    r.peerings(raw.peerings);
    r.network_managers(raw.network_managers);
    let mut nics = raw.nics;
    let nic_bgp = route_servers::NicBgp::take(&mut nics);
    r.nics(nics);
    r.virtual_machines(raw.virtual_machines);
    r.check_gateway_subnets();
    let (mut sites, mut circuits) = (raw.sites, raw.circuits);
    let clouds = r.private_clouds(raw.private_clouds, &mut sites, &mut circuits);
    r.sites(sites);
    r.gateways(raw.gateways);
    r.local_gateways(raw.local_gateways);
    r.circuits(circuits);
    r.record_private_clouds(clouds);
    r.connections(raw.connections);
    r.global_reach(raw.global_reach);
    r.check_region_pairs();
    r.route_servers(raw.route_servers, nic_bgp);
    r.check_remote_gateways();
    r.check_site_ranges();
    r.check_held_peer_addresses();
    r.public_addresses(raw.internet, raw.public_ip_prefixes, raw.public_ips);
    r.load_balancers(raw.load_balancers);
    r.ip_groups(raw.ip_groups);
    r.fqdn_sets(raw.fqdn_tags, raw.web_categories);
    r.firewall_policies(raw.firewall_policies);
    let hub_firewalls = r.firewalls(raw.firewalls);
    r.virtual_wans(
        raw.virtual_wans,
        raw.virtual_hubs,
        (hub_firewalls, raw.vpn_sites),
    );
    r.finish_appliance_speakers();
    r.private_dns_zones(raw.private_dns_zones);
    r.services(
        raw.paas_resources,
        raw.service_endpoint_policies,
        policy_refs,
    );
    r.private_endpoints(raw.private_endpoints);
    r.dns_resolvers(raw.dns_resolvers);
    r.forwarding_rulesets(raw.forwarding_rulesets);
    r.edge(
        edge::RawEdge {
            nat_gateways: raw.nat_gateways,
        },
        edge_refs,
    );
    r.flow_logs(raw.flow_logs);
    r.expectations(raw.expectations);
    r.placement(raw.hosts, placed);
    r.topo
}

struct Resolver<'d> {
    diags: &'d mut Diagnostics,
    topo: Topology,
    /// Gateways and local network gateways refused for a reason already
    /// reported (and the VNet of a refused gateway, when known): what
    /// refers to them is not refused again for their absence.
    refused_gateways: Vec<(String, Option<VnetIdx>)>,
    /// The VNets of Route Servers refused (`None`: an unknown VNet), so
    /// that a peering using their gateways is not refused again.
    refused_route_servers: Vec<Option<VnetIdx>>,
    /// The NICs' BGP keys and the connections that may name them, until
    /// the virtual hubs' BGP connections are known too.
    pending_speakers: Option<(Vec<route_servers::NicBgp>, Vec<route_servers::Claim>)>,
    refused_local_gateways: Vec<String>,
    /// ExpressRoute circuits refused for a reason already reported.
    refused_circuits: Vec<String>,
    /// Azure Firewalls refused for a reason already reported.
    refused_firewalls: Vec<String>,
    /// VPN sites refused for a reason already reported.
    refused_vpn_sites: Vec<String>,
    /// Who uses each public IP so far (a public IP serves one resource).
    public_ip_users: std::collections::HashMap<PublicIpIdx, String>,
}

/// A kind of Azure resource and the length its name may have. The
/// characters are the same for every kind vnetd models: letters, digits,
/// `_`, `.` and `-`, starting with a letter or digit and ending with a
/// letter, digit or `_` ("Naming rules and restrictions for Azure
/// resources", Microsoft.Network, learn.microsoft.com/azure/
/// azure-resource-manager/management/resource-name-rules).
#[derive(Debug, Clone, Copy)]
pub struct NameRule {
    pub kind: &'static str,
    pub min: usize,
    pub max: usize,
}

pub const VNET_NAME: NameRule = NameRule::new("virtual network", 2, 64);
pub const SUBNET_NAME: NameRule = NameRule::new("subnet", 1, 80);
pub const PEERING_NAME: NameRule = NameRule::new("peering", 1, 80);
pub const NIC_NAME: NameRule = NameRule::new("network interface", 1, 80);
pub const NSG_NAME: NameRule = NameRule::new("network security group", 1, 80);
pub const SECURITY_RULE_NAME: NameRule = NameRule::new("security rule", 1, 80);
pub const ROUTE_TABLE_NAME: NameRule = NameRule::new("route table", 1, 80);
pub const ROUTE_NAME: NameRule = NameRule::new("route", 1, 80);
pub const ASG_NAME: NameRule = NameRule::new("application security group", 1, 80);

impl NameRule {
    /// The rule for names of `kind`: `min` to `max` characters.
    pub const fn new(kind: &'static str, min: usize, max: usize) -> Self {
        NameRule { kind, min, max }
    }

    /// Why `name` breaks the rule, or `None` when Azure accepts it.
    pub fn refusal(&self, name: &str) -> Option<String> {
        let bytes = name.as_bytes();
        let (kind, min, max) = (self.kind, self.min, self.max);
        let length = name.chars().count();
        let problem = if length < min || length > max {
            format!("{length} characters, where Azure allows {min} to {max}")
        } else if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        {
            format!("`{bad}` is not allowed (only letters, digits, `_`, `.` and `-`)")
        } else if !bytes[0].is_ascii_alphanumeric() {
            "it must start with a letter or digit".to_string()
        } else if !bytes
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            "it must end with a letter, digit or `_`".to_string()
        } else {
            return None;
        };
        Some(format!("`{name}` is not a valid {kind} name: {problem}"))
    }
}

/// The names of one kind of resource seen so far, and Azure's rule for
/// them: what [`Resolver::check_name`] checks a name against.
struct Names {
    rule: NameRule,
    seen: HashSet<String>,
}

impl Names {
    /// No name of `rule`'s kind seen yet.
    fn new(rule: NameRule) -> Self {
        Names {
            rule,
            seen: HashSet::new(),
        }
    }
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

impl Resolver<'_> {
    /// Checks a resource name against Azure's rule for its kind, and its
    /// uniqueness among the `names` of that kind seen so far.
    fn check_name(&mut self, names: &mut Names, name: &str, line: usize, key: &str) {
        let rule = names.rule;
        if let Some(refusal) = rule.refusal(name) {
            self.diags.error(line, key, refusal);
        }
        // Azure resource names are case-insensitive.
        if !names.seen.insert(name.to_ascii_lowercase()) {
            let kind = rule.kind;
            self.diags
                .error(line, key, format!("duplicate {kind} name `{name}`"));
        }
    }

    /// Refuses every NIC placed in `subnet`, a subnet Azure keeps for one
    /// service; `why` says whose it is.
    fn refuse_nics_in(&mut self, subnet: SubnetRef, why: &str) {
        let placed: Vec<(usize, String)> = (self.topo.nics.iter())
            .filter(|n| n.subnet == subnet)
            .map(|n| (n.line, n.name.clone()))
            .collect();
        for (line, nic) in placed {
            let key = format!("network_interfaces[{nic}].subnet");
            self.diags.error(line, &key, why.to_string());
        }
    }

    fn lookup<K>(&mut self, r: &NameRef, kind: &str, found: Option<K>) -> Option<K> {
        found.or_else(|| self.refuse_ref(r, format!("no {kind} named `{}` in this file", r.name)))
    }

    /// Reports `why` at the reference `r`, and gives no referent.
    fn refuse_ref<T>(&mut self, r: &NameRef, why: impl Into<String>) -> Option<T> {
        self.diags.error(r.line, &r.key, why);
        None
    }

    fn route_tables(&mut self, tables: Vec<RouteTable>) {
        let mut seen = Names::new(ROUTE_TABLE_NAME);
        for table in tables {
            let key = format!("route_tables[{}]", table.name);
            self.check_name(&mut seen, &table.name, table.line, &key);
            if table.routes.len() > MAX_ROUTES_PER_TABLE {
                self.diags.error(
                    table.line,
                    &format!("{key}.routes"),
                    format!(
                        "{} routes: Azure allows at most {MAX_ROUTES_PER_TABLE} per route table",
                        table.routes.len()
                    ),
                );
            }
            let mut names = Names::new(ROUTE_NAME);
            let mut prefixes: HashMap<IpNet, &str> = HashMap::new();
            for route in &table.routes {
                let rkey = format!("{key}.routes[{}]", route.name);
                self.check_name(&mut names, &route.name, route.line, &rkey);
                if let Some(first) = prefixes.insert(route.address_prefix, &route.name) {
                    self.diags.error(
                        route.line,
                        &format!("{rkey}.address_prefix"),
                        format!(
                            "{} is already the prefix of route `{first}`: a route table holds one route per prefix",
                            route.address_prefix
                        ),
                    );
                }
                if let Some(ip) = route.next_hop_ip {
                    if ip.is_ipv4() != matches!(route.address_prefix, IpNet::V4(_)) {
                        self.diags.error(
                            route.line,
                            &format!("{rkey}.next_hop_in_ip_address"),
                            format!(
                                "next hop {ip} is not of the same IP version as {}",
                                route.address_prefix
                            ),
                        );
                    }
                }
            }
            self.topo.route_tables.push(table);
        }
    }

    fn asgs(&mut self, asgs: Vec<(String, usize)>) {
        let mut seen = Names::new(ASG_NAME);
        for (name, line) in asgs {
            let key = format!("application_security_groups[{name}]");
            self.check_name(&mut seen, &name, line, &key);
            self.topo.asgs.push(Asg { name, line });
        }
    }

    fn nsgs(&mut self, nsgs: Vec<super::decode::RawNsg>) {
        let mut seen = Names::new(NSG_NAME);
        for nsg in nsgs {
            self.check_name(&mut seen, &nsg.name, nsg.line, &nsg.key);
            if nsg.rules.len() > MAX_RULES_PER_NSG {
                self.diags.error(
                    nsg.line,
                    &format!("{}.security_rules", nsg.key),
                    format!(
                        "{} rules: Azure allows at most {MAX_RULES_PER_NSG} per NSG",
                        nsg.rules.len()
                    ),
                );
            }
            let mut names = Names::new(SECURITY_RULE_NAME);
            let mut priorities: HashMap<(Direction, u16), String> = HashMap::new();
            let mut rules = Vec::new();
            for rule in nsg.rules {
                self.check_name(&mut names, &rule.name, rule.line, &rule.key);
                if let Some(first) = priorities.insert(
                    (rule.settings.direction, rule.settings.priority),
                    rule.name.clone(),
                ) {
                    self.diags.error(
                        rule.line,
                        &format!("{}.priority", rule.key),
                        format!(
                            "priority {} is already used by {} rule `{first}`: priorities are unique per direction",
                            rule.settings.priority,
                            rule.settings.direction.as_str().to_lowercase()
                        ),
                    );
                }
                let source = self.rule_address(rule.source);
                let destination = self.rule_address(rule.destination);
                let (Some(source), Some(destination)) = (source, destination) else {
                    continue;
                };
                rules.push(SecurityRule {
                    name: rule.name,
                    settings: rule.settings,
                    source,
                    destination,
                    line: rule.line,
                });
            }
            self.topo.nsgs.push(Nsg {
                name: nsg.name,
                flush_connection: nsg.flush_connection,
                security_rules: rules,
                line: nsg.line,
            });
        }
    }

    fn rule_address(&mut self, raw: RawAddress) -> Option<AddressSpec> {
        Some(match raw {
            RawAddress::Any => AddressSpec::Any,
            RawAddress::Prefixes(p) => AddressSpec::Prefixes(p),
            RawAddress::Tag(t) => AddressSpec::Tag(t),
            RawAddress::Asgs(refs) => {
                let mut out = Vec::new();
                for r in &refs {
                    let found = self.topo.asgs.by_name(&r.name);
                    out.push(self.lookup(r, "application security group", found)?);
                }
                AddressSpec::Asgs(out)
            }
        })
    }

    fn vnets(&mut self, vnets: Vec<super::decode::RawVnet>) {
        let unusable: Vec<IpNet> = UNUSABLE_V4.iter().filter_map(|s| s.parse().ok()).collect();
        let mut seen = Names::new(VNET_NAME);
        for vnet in vnets {
            self.check_name(&mut seen, &vnet.name, vnet.line, &vnet.key);
            let space_key = format!("{}.address_space", vnet.key);
            for (i, (net, line)) in vnet.address_space.iter().enumerate() {
                let key = format!("{space_key}[{i}]");
                if let Some(bad) = unusable.iter().find(|u| overlaps(u, net)) {
                    self.diags.error(
                        *line,
                        &key,
                        format!("{net} overlaps {bad}, which Azure reserves and never routes"),
                    );
                }
                for (other, _) in &vnet.address_space[..i] {
                    if overlaps(net, other) {
                        self.diags.error(
                            *line,
                            &key,
                            format!("{net} overlaps {other}, another range of the same VNet"),
                        );
                    }
                }
            }
            let has_v4 = vnet
                .address_space
                .iter()
                .any(|(n, _)| matches!(n, IpNet::V4(_)));
            if !has_v4 && !vnet.address_space.is_empty() {
                self.diags.error(
                    vnet.line,
                    &space_key,
                    "an IPv6 range needs an IPv4 range beside it: Azure has no IPv6-only virtual networks",
                );
            }
            let mut subnet_names = Names::new(SUBNET_NAME);
            let mut subnets: TiVec<SubnetIdx, Subnet> = TiVec::new();
            for subnet in vnet.subnets {
                self.check_name(&mut subnet_names, &subnet.name, subnet.line, &subnet.key);
                let pkey = format!("{}.address_prefixes", subnet.key);
                for (i, (net, line)) in subnet.address_prefixes.iter().enumerate() {
                    let key = format!("{pkey}[{i}]");
                    if !vnet
                        .address_space
                        .iter()
                        .any(|(space, _)| space.contains(net))
                    {
                        self.diags.error(
                            *line,
                            &key,
                            format!("{net} is outside the address space of VNet `{}`", vnet.name),
                        );
                    }
                    match net {
                        IpNet::V4(n) if n.prefix_len() > 29 => self.diags.error(
                            *line,
                            &key,
                            format!(
                                "{net} is too small: the smallest IPv4 subnet Azure allows is /29"
                            ),
                        ),
                        IpNet::V6(n) if n.prefix_len() != 64 => self.diags.error(
                            *line,
                            &key,
                            format!("{net}: IPv6 subnets in Azure must be exactly /64"),
                        ),
                        _ => {}
                    }
                    let earlier = subnets
                        .iter()
                        .flat_map(|s| s.address_prefixes.iter().map(move |p| (&s.name, p)))
                        .chain(
                            subnet.address_prefixes[..i]
                                .iter()
                                .map(|(p, _)| (&subnet.name, p)),
                        )
                        .find(|(_, p)| overlaps(p, net));
                    if let Some((other, p)) = earlier {
                        self.diags.error(
                            *line,
                            &key,
                            format!("{net} overlaps {p} of subnet `{other}`"),
                        );
                    }
                }
                let network_security_group = subnet.network_security_group.as_ref().and_then(|r| {
                    let found = self.topo.nsgs.by_name(&r.name);
                    self.lookup(r, "network security group", found)
                });
                let route_table = subnet.route_table.as_ref().and_then(|r| {
                    let found = self.topo.route_tables.by_name(&r.name);
                    self.lookup(r, "route table", found)
                });
                subnets.push(Subnet {
                    name: subnet.name,
                    address_prefixes: subnet.address_prefixes.iter().map(|(n, _)| *n).collect(),
                    network_security_group,
                    route_table,
                    endpoint_policies: subnet.endpoint_policies,
                    delegation: subnet.delegation.map(|(service, _)| service),
                    services: SubnetServices {
                        endpoints: subnet.service_endpoints.iter().map(|(s, _)| *s).collect(),
                        policies: Vec::new(),
                    },
                    line: subnet.line,
                });
            }
            self.topo.vnets.push(Vnet {
                name: vnet.name,
                address_space: vnet.address_space.iter().map(|(n, _)| *n).collect(),
                location: vnet.location,
                flow_timeout_minutes: vnet.flow_timeout_minutes,
                subnets,
                dns_servers: vnet.dns_servers,
                tags: vnet.tags,
                line: vnet.line,
            });
        }
    }

    fn vnet_ref(&mut self, r: &NameRef) -> Option<VnetIdx> {
        let found = self.topo.vnets.by_name(&r.name);
        self.lookup(r, "virtual network", found)
    }

    fn peerings(&mut self, peerings: Vec<super::decode::RawPeering>) {
        let mut names: HashSet<(VnetIdx, String)> = HashSet::new();
        for p in peerings {
            let vnet = self.vnet_ref(&p.vnet);
            let remote = self.vnet_ref(&p.remote);
            let (Some(vnet), Some(remote)) = (vnet, remote) else {
                continue;
            };
            if let Some(refusal) = PEERING_NAME.refusal(&p.name) {
                self.diags.error(p.line, &p.key, refusal);
            }
            if !names.insert((vnet, p.name.to_ascii_lowercase())) {
                self.diags.error(
                    p.line,
                    &p.key,
                    format!(
                        "duplicate peering name `{}` in VNet `{}`",
                        p.name, p.vnet.name
                    ),
                );
            }
            if vnet == remote {
                self.diags.error(
                    p.remote.line,
                    &p.remote.key,
                    "a VNet cannot be peered with itself",
                );
                continue;
            }
            if let Some(refusal) = self.link_refusal(&p, vnet, remote) {
                self.diags.error(p.line, &p.key, refusal);
                continue;
            }
            let gateways_key = format!("{}.use_remote_gateways", p.key);
            if p.flags.allow_gateway_transit && p.flags.use_remote_gateways {
                self.diags.error(
                    p.line,
                    &gateways_key,
                    "a link cannot both offer gateway transit and use remote gateways",
                );
            }
            if p.flags.use_remote_gateways
                && self
                    .topo
                    .peerings
                    .iter()
                    .any(|q| q.vnet == vnet && q.flags.use_remote_gateways)
            {
                self.diags.error(
                    p.line,
                    &gateways_key,
                    format!(
                        "VNet `{}` already uses remote gateways through another peering",
                        p.vnet.name
                    ),
                );
            }
            self.topo.peerings.push(Peering {
                name: p.name,
                vnet,
                remote,
                flags: p.flags,
                impairments: p.impairments,
                line: p.line,
            });
        }
        // Checks that need both links.
        for (i, p) in self.topo.peerings.iter().enumerate() {
            let key = format!("peerings[{}]", p.name);
            let (local, remote) = (
                &self.topo.vnets[p.vnet].name,
                &self.topo.vnets[p.remote].name,
            );
            match self.topo.peering_link(p.remote, p.vnet) {
                None => self.diags.warning(
                    p.line,
                    &key,
                    format!(
                        "peering is Initiated: no link from `{remote}` back to `{local}`, so no traffic flows until it exists"
                    ),
                ),
                Some(back) => {
                    if p.flags.use_remote_gateways && !back.flags.allow_gateway_transit {
                        self.diags.error(
                            p.line,
                            &format!("{key}.use_remote_gateways"),
                            format!(
                                "use_remote_gateways needs allow_gateway_transit on the link `{}` held in `{remote}`",
                                back.name
                            ),
                        );
                    }
                }
            }
            let count = self.topo.peerings[..=i]
                .iter()
                .filter(|q| q.vnet == p.vnet)
                .count();
            if count == MAX_PEERINGS_PER_VNET + 1 {
                self.diags.error(
                    p.line,
                    &key,
                    format!("VNet `{local}` has more than {MAX_PEERINGS_PER_VNET} peerings"),
                );
            }
        }
    }

    /// Why the link `p` from `vnet` to `remote` is refused: one exists already, or the address spaces overlap.
    fn link_refusal(
        &self,
        p: &super::decode::RawPeering,
        vnet: VnetIdx,
        remote: VnetIdx,
    ) -> Option<String> {
        let (local_name, remote_name) = (&p.vnet.name, &p.remote.name);
        if let Some(first) = self.topo.peering_link(vnet, remote) {
            return Some(format!(
                "VNet `{local_name}` already has a peering to `{remote_name}` (`{}`)",
                first.name
            ));
        }
        let (a, b) = (&self.topo.vnets[vnet], &self.topo.vnets[remote]);
        a.address_space
            .iter()
            .flat_map(|x| b.address_space.iter().map(move |y| (x, y)))
            .find(|(x, y)| overlaps(x, y))
            .map(|(x, y)| {
                format!("cannot peer `{local_name}` with `{remote_name}`: their address spaces overlap ({x} and {y})")
            })
    }

    fn subnet_ref(&mut self, r: &NameRef) -> Option<SubnetRef> {
        let Some((vnet_name, subnet_name)) = r.name.split_once('/') else {
            return self.refuse_ref(r, format!("`{}` is not of the form vnet/subnet", r.name));
        };
        let Some(vnet) = self.topo.vnets.by_name(vnet_name) else {
            return self.refuse_ref(
                r,
                format!("no virtual network named `{vnet_name}` in this file"),
            );
        };
        let Some(subnet) = self.topo.vnets[vnet].subnets.by_name(subnet_name) else {
            return self.refuse_ref(
                r,
                format!("VNet `{vnet_name}` has no subnet named `{subnet_name}`"),
            );
        };
        Some(SubnetRef { vnet, subnet })
    }
}

/// True for the addresses Azure keeps for itself in a subnet.
pub fn is_reserved(prefix: &IpNet, ip: IpAddr) -> bool {
    match (prefix, ip) {
        (IpNet::V4(p), IpAddr::V4(a)) => {
            let offset = u32::from(a).wrapping_sub(u32::from(p.network()));
            offset <= 3 || a == p.broadcast()
        }
        (IpNet::V6(p), IpAddr::V6(a)) => u128::from(a).wrapping_sub(u128::from(p.network())) <= 3,
        _ => false,
    }
}

/// Whether `name` can name a network namespace: 1 to
/// `MAX_NETNS_LEN` (64) letters, digits, `_`, `.` or `-`, not
/// starting with `.` or `-` (a name on a command line must not read as an
/// option).
pub fn valid_netns(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= fabric_names::MAX_NETNS_LEN
        && !name.starts_with(['.', '-'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azure_name_rules() {
        let ok = |rule: NameRule, name: &str| rule.refusal(name).is_none();
        assert!(ok(ROUTE_TABLE_NAME, "hub-rt"));
        assert!(ok(ROUTE_TABLE_NAME, "a_"));
        assert!(ok(ROUTE_TABLE_NAME, "a"));
        assert!(!ok(ROUTE_TABLE_NAME, "-a"));
        assert!(!ok(ROUTE_TABLE_NAME, "a-"));
        assert!(!ok(ROUTE_TABLE_NAME, ""));
        assert!(!ok(ROUTE_TABLE_NAME, &"a".repeat(81)));
        assert!(!ok(ROUTE_TABLE_NAME, "a b"));
        assert!(!ok(VNET_NAME, "a"));
        assert!(ok(VNET_NAME, &"a".repeat(64)));
        assert!(!ok(VNET_NAME, &"a".repeat(65)));
        assert!(!ok(NIC_NAME, "vm\u{e9}"));
    }

    #[test]
    fn reserved_addresses() {
        let p: IpNet = "10.0.1.0/24".parse().unwrap();
        for last in [0u8, 1, 2, 3, 255] {
            assert!(is_reserved(&p, IpAddr::V4(Ipv4Addr::new(10, 0, 1, last))));
        }
        assert!(!is_reserved(&p, IpAddr::V4(Ipv4Addr::new(10, 0, 1, 4))));
        assert!(!is_reserved(&p, IpAddr::V4(Ipv4Addr::new(10, 0, 1, 254))));
        let p6: IpNet = "fd00:1::/64".parse().unwrap();
        assert!(is_reserved(&p6, "fd00:1::3".parse().unwrap()));
        assert!(!is_reserved(&p6, "fd00:1::4".parse().unwrap()));
    }
}
