//! Resolution of the file's networks, with the rules Azure applies:
//!
//! - route tables: at most 400 routes, unique prefixes, a VirtualAppliance
//!   address of the prefix's family;
//! - application security groups: Azure's names;
//! - NSGs: at most 1000 rules, priorities unique per direction, rules'
//!   application security groups that exist;
//! - VNets: ranges that overlap each other or Azure's unusable ranges
//!   (224.0.0.0/4, 255.255.255.255/32, 127.0.0.0/8, 169.254.0.0/16,
//!   168.63.129.16/32); IPv6 only beside IPv4 (Azure has no IPv6-only VNet);
//! - subnets: inside their VNet, not overlapping each other, IPv4 /29 or
//!   larger, IPv6 exactly /64;
//! - peerings: both VNets exist and differ, one link per direction, address
//!   spaces that overlap, gateway transit settings; a one-sided peering is
//!   valid (state Initiated) and gets a warning.

use super::super::decode::{RawAddress, RawNsg, RawPeering, RawVnet};
use super::resolver::{overlaps, NameRule, Names, Resolver};
use crate::topology::model::*;
use ipnet::IpNet;
use std::collections::{HashMap, HashSet};

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

pub const VNET_NAME: NameRule = NameRule::new("virtual network", 2, 64);
pub const SUBNET_NAME: NameRule = NameRule::new("subnet", 1, 80);
pub const PEERING_NAME: NameRule = NameRule::new("peering", 1, 80);
pub const NSG_NAME: NameRule = NameRule::new("network security group", 1, 80);
pub const SECURITY_RULE_NAME: NameRule = NameRule::new("security rule", 1, 80);
pub const ROUTE_TABLE_NAME: NameRule = NameRule::new("route table", 1, 80);
pub const ROUTE_NAME: NameRule = NameRule::new("route", 1, 80);
pub const ASG_NAME: NameRule = NameRule::new("application security group", 1, 80);

impl Resolver<'_> {
    pub(super) fn route_tables(&mut self, tables: Vec<RouteTable>) {
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

    pub(super) fn asgs(&mut self, asgs: Vec<(String, usize)>) {
        let mut seen = Names::new(ASG_NAME);
        for (name, line) in asgs {
            let key = format!("application_security_groups[{name}]");
            self.check_name(&mut seen, &name, line, &key);
            self.topo.asgs.push(Asg { name, line });
        }
    }

    pub(super) fn nsgs(&mut self, nsgs: Vec<RawNsg>) {
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

    pub(super) fn vnets(&mut self, vnets: Vec<RawVnet>) {
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

    pub(super) fn peerings(&mut self, peerings: Vec<RawPeering>) {
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
    fn link_refusal(&self, p: &RawPeering, vnet: VnetIdx, remote: VnetIdx) -> Option<String> {
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
}
