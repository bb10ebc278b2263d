//! Resolution of the Internet edge, with the rules Azure applies to it
//! ("Azure NAT Gateway resource", "Public IP addresses", "Default outbound
//! access in Azure", "Filter inbound Internet traffic with Azure Firewall
//! DNAT"):
//!
//! - a public IP address is static: the one written, the next free one of
//!   its prefix, or one vnetd picks from [`PUBLIC_ADDRESS_POOL`]; a public
//!   IP serves one resource (a NIC, a NAT gateway or a firewall);
//! - a NAT gateway holds at most 16 addresses (its public IPs and its
//!   prefixes' addresses together), no Basic public IP, addresses of its
//!   own region; it serves subnets of one VNet, never `GatewaySubnet`, and a
//!   subnet has at most one;
//! - default outbound access gives each NIC of a subnet that has it (and
//!   has no other way out) an implicit address of its own;
//! - a firewall policy's DNAT rules run before its network rules, by group
//!   and collection priority; each translates one public address and port
//!   of the firewall to a private address and port.
//!
//! A public address inside the lab's private space (a VNet's or a site's
//! range) is accepted, as Azure accepts it, with a warning: packets to it
//! from the lab stay in the lab.

use super::super::decode::{
    NameRef, RawInternet, RawNatGateway, RawNatRuleCollection, RawPublicIp, RawPublicIpPrefix,
};
use super::resolver::{NameRule, Names, Resolver};
use crate::topology::model::*;
use ipnet::IpNet;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::IpAddr;

pub const PUBLIC_IP_NAME: NameRule = NameRule::new("public IP address", 1, 80);
pub const NAT_GATEWAY_NAME: NameRule = NameRule::new("NAT gateway", 1, 80);
const INTERNET_SERVER_NAME: NameRule = NameRule::new("Internet server", 1, 80);
const PUBLIC_IP_PREFIX_NAME: NameRule = NameRule::new("public IP prefix", 1, 80);

/// What the edge needs from records other parts of the file consumed: the
/// subnets written with default outbound access, the NICs' and firewalls'
/// public IPs, and the policies' DNAT collections (with their group's name
/// and priority).
#[derive(Debug, Default)]
pub struct EdgeRefs {
    pub default_outbound: Vec<(String, String, usize)>,
    pub nic_public_ips: Vec<(String, NameRef)>,
    pub firewall_public_ips: Vec<(String, Vec<NameRef>)>,
    pub dnat_collections: Vec<(String, String, u16, RawNatRuleCollection)>,
}

impl EdgeRefs {
    /// Takes what the edge needs out of the raw file, before the records
    /// are resolved.
    pub fn take(raw: &mut super::super::decode::RawTopology) -> EdgeRefs {
        let mut refs = EdgeRefs::default();
        for vnet in &raw.vnets {
            for subnet in &vnet.subnets {
                if subnet.default_outbound_access {
                    refs.default_outbound.push((
                        vnet.name.clone(),
                        subnet.name.clone(),
                        subnet.line,
                    ));
                }
            }
        }
        for nic in &mut raw.nics {
            if let Some(pip) = nic.public_ip.take() {
                refs.nic_public_ips.push((nic.name.clone(), pip));
            }
        }
        for fw in &mut raw.firewalls {
            if !fw.public_ips.is_empty() {
                let ips = std::mem::take(&mut fw.public_ips);
                refs.firewall_public_ips.push((fw.name.clone(), ips));
            }
        }
        for policy in &mut raw.firewall_policies {
            for group in &mut policy.groups {
                for c in std::mem::take(&mut group.nat_collections) {
                    refs.dnat_collections.push((
                        policy.name.clone(),
                        group.name.clone(),
                        group.priority,
                        c,
                    ));
                }
            }
        }
        refs
    }
}

/// The edge's own records.
pub struct RawEdge {
    pub nat_gateways: Vec<RawNatGateway>,
}

impl Resolver<'_> {
    /// The Internet and the public addresses, before what uses them (load
    /// balancers' public frontends, then [`Self::edge`]).
    pub(super) fn public_addresses(
        &mut self,
        internet: Option<RawInternet>,
        prefixes: Vec<RawPublicIpPrefix>,
        public_ips: Vec<RawPublicIp>,
    ) {
        self.internet(internet);
        self.public_ip_prefixes(prefixes);
        self.public_ips(public_ips);
    }

    pub(super) fn edge(&mut self, raw: RawEdge, refs: EdgeRefs) {
        let mut users = std::mem::take(&mut self.public_ip_users);
        self.nic_public_ips(refs.nic_public_ips, &mut users);
        self.firewall_public_ips(refs.firewall_public_ips, &mut users);
        self.nat_gateways(raw.nat_gateways, &mut users);
        self.default_outbound(refs.default_outbound);
        self.dnat_rules(refs.dnat_collections);
        self.check_public_addresses();
    }

    fn internet(&mut self, internet: Option<RawInternet>) {
        let Some(internet) = internet else {
            return;
        };
        let mut seen = Names::new(INTERNET_SERVER_NAME);
        let mut servers = Vec::new();
        for s in internet.servers {
            self.check_name(&mut seen, &s.name, s.line, &s.key);
            if servers
                .iter()
                .any(|o: &InternetServer| o.address == s.address)
            {
                let why = format!("another Internet server already has {}", s.address);
                self.diags.error(s.line, &format!("{}.address", s.key), why);
                continue;
            }
            servers.push(InternetServer {
                name: s.name,
                address: s.address,
                ports: s.ports,
                line: s.line,
            });
        }
        let mut names: Vec<InternetName> = Vec::new();
        for n in internet.names {
            let Some(name) = self.dns_name_at(&n.name, n.line, &format!("{}.name", n.key)) else {
                continue;
            };
            if names.iter().any(|o| o.name == name) {
                let why = format!("the Internet already has a name `{name}`");
                self.diags.error(n.line, &format!("{}.name", n.key), why);
                continue;
            }
            names.push(InternetName {
                name,
                addresses: n.addresses,
                line: n.line,
            });
        }
        self.topo.edge.internet = Some(Internet {
            servers,
            names,
            line: internet.line,
        });
    }

    fn public_ip_prefixes(&mut self, prefixes: Vec<RawPublicIpPrefix>) {
        let mut seen = Names::new(PUBLIC_IP_PREFIX_NAME);
        for p in prefixes {
            self.check_name(&mut seen, &p.name, p.line, &p.key);
            let fits = match p.prefix {
                IpNet::V4(n) => (24..=31).contains(&n.prefix_len()),
                IpNet::V6(n) => (124..=127).contains(&n.prefix_len()),
            };
            if !fits {
                let why = format!(
                    "a public IP prefix is /24 to /31 (IPv4) or /124 to /127 (IPv6), not /{}",
                    p.prefix.prefix_len()
                );
                self.diags
                    .error(p.line, &format!("{}.ip_prefix", p.key), why);
                continue;
            }
            self.topo.edge.public_ip_prefixes.push(PublicIpPrefix {
                name: p.name,
                prefix: p.prefix.trunc(),
                location: (!p.location.is_empty()).then_some(p.location),
                line: p.line,
            });
        }
    }

    fn public_ips(&mut self, ips: Vec<RawPublicIp>) {
        let mut seen = Names::new(PUBLIC_IP_NAME);
        let mut taken: HashSet<IpAddr> = ips.iter().filter_map(|p| p.address).collect();
        let pool: IpNet = PUBLIC_ADDRESS_POOL.parse().expect("constant prefix");
        for p in ips {
            self.check_name(&mut seen, &p.name, p.line, &p.key);
            let prefix = match &p.prefix {
                None => None,
                Some(r) => {
                    let found = self.topo.edge.public_ip_prefixes.by_name(&r.name);
                    match self.lookup(r, "public IP prefix", found) {
                        Some(px) => Some(px),
                        None => continue,
                    }
                }
            };
            let address = match (p.address, prefix) {
                (Some(a), Some(px)) => {
                    let net = self.topo.edge.public_ip_prefixes[px].prefix;
                    if !net.contains(&a) {
                        let why = format!("{a} is not in the public IP prefix {net}");
                        self.diags
                            .error(p.line, &format!("{}.ip_address", p.key), why);
                        continue;
                    }
                    a
                }
                (Some(a), None) => a,
                (None, from) => {
                    let net = from.map_or(pool, |px| self.topo.edge.public_ip_prefixes[px].prefix);
                    let Some(a) = net.hosts().find(|a| !taken.contains(a)) else {
                        let why = match from {
                            Some(_) => format!("the public IP prefix {net} has no free address"),
                            None => format!(
                                "vnetd's pool of public addresses ({pool}) has no free address: \
                                 give this one `ip_address`"
                            ),
                        };
                        self.diags.error(p.line, &p.key, why);
                        continue;
                    };
                    a
                }
            };
            if self
                .topo
                .edge
                .public_ips
                .iter()
                .any(|o| o.address == address)
            {
                let why = format!("another public IP address already has {address}");
                self.diags
                    .error(p.line, &format!("{}.ip_address", p.key), why);
                continue;
            }
            taken.insert(address);
            self.topo.edge.public_ips.push(PublicIp {
                name: p.name,
                address,
                sku: p.sku,
                prefix,
                location: (!p.location.is_empty()).then_some(p.location),
                line: p.line,
            });
        }
    }

    /// A public IP named by `r`, refused when another resource already
    /// uses it.
    pub(super) fn public_ip_for(
        &mut self,
        r: &NameRef,
        user: &str,
        users: &mut HashMap<PublicIpIdx, String>,
    ) -> Option<PublicIpIdx> {
        let found = self.topo.edge.public_ips.by_name(&r.name);
        let ip = self.lookup(r, "public IP address", found)?;
        if let Some(other) = users.get(&ip) {
            let why = format!(
                "public IP address `{}` is already used by {other}: Azure associates a public IP \
                 with one resource",
                r.name
            );
            return self.refuse_ref(r, why);
        }
        users.insert(ip, user.to_string());
        Some(ip)
    }

    /// Refuses a public IP of another region than the resource using it.
    pub(super) fn check_region(&mut self, ip: PublicIpIdx, location: &str, r: &NameRef) -> bool {
        match &self.topo.edge.public_ips[ip].location {
            Some(l) if !location.is_empty() && l != location => {
                let why = format!(
                    "public IP address `{}` is in {l}, the resource using it in {location}: Azure \
                     needs both in one region",
                    r.name
                );
                self.diags.error(r.line, &r.key, why);
                false
            }
            _ => true,
        }
    }

    fn nic_public_ips(
        &mut self,
        refs: Vec<(String, NameRef)>,
        users: &mut HashMap<PublicIpIdx, String>,
    ) {
        for (nic_name, r) in refs {
            let Some(nic) = self.topo.nics.by_name(&nic_name) else {
                continue;
            };
            let Some(ip) = self.public_ip_for(&r, &format!("NIC `{nic_name}`"), users) else {
                continue;
            };
            let location = self.topo.vnets[self.topo.nics[nic].subnet.vnet]
                .location
                .clone();
            if self.check_region(ip, &location, &r) {
                self.topo.edge.nic_public_ips.insert(nic, ip);
            }
        }
    }

    fn firewall_public_ips(
        &mut self,
        refs: Vec<(String, Vec<NameRef>)>,
        users: &mut HashMap<PublicIpIdx, String>,
    ) {
        for (fw_name, refs) in refs {
            let Some(fw) = self.topo.firewalls.by_name(&fw_name) else {
                continue;
            };
            let location = self.topo.vnets[self.topo.firewalls[fw].vnet]
                .location
                .clone();
            let mut ips = Vec::new();
            for r in refs {
                let user = format!("Azure Firewall `{fw_name}`");
                if let Some(ip) = self.public_ip_for(&r, &user, users) {
                    if self.check_region(ip, &location, &r) {
                        ips.push(ip);
                    }
                }
            }
            self.topo.edge.firewall_public_ips.insert(fw, ips);
        }
    }

    /// Refuses an IPv6 address (`v6`) of the `kind` `r` names on a NAT
    /// gateway of `sku` that carries IPv4 only.
    fn family_fits(&mut self, sku: NatGatewaySku, v6: bool, kind: &str, r: &NameRef) -> bool {
        if v6 && !sku.carries_ipv6() {
            let why = format!(
                "{kind} `{}` is IPv6: a Standard NAT gateway takes IPv4 addresses only \
                 (StandardV2 takes IPv6 too)",
                r.name
            );
            self.diags.error(r.line, &r.key, why);
            return false;
        }
        true
    }

    fn nat_gateways(
        &mut self,
        gateways: Vec<RawNatGateway>,
        users: &mut HashMap<PublicIpIdx, String>,
    ) {
        let mut seen = Names::new(NAT_GATEWAY_NAME);
        let mut served: HashMap<SubnetRef, String> = HashMap::new();
        for g in gateways {
            self.check_name(&mut seen, &g.name, g.line, &g.key);
            let mut subnets = Vec::new();
            for r in &g.subnets {
                let Some(subnet) = self.subnet_ref(r) else {
                    continue;
                };
                let name = &self.topo.subnet(subnet).name;
                if name.eq_ignore_ascii_case(GATEWAY_SUBNET) {
                    let why = "Azure refuses a NAT gateway on GatewaySubnet";
                    self.diags.error(r.line, &r.key, why);
                    continue;
                }
                if let Some(other) = served.get(&subnet) {
                    let why = format!(
                        "subnet {} already has the NAT gateway `{other}`: Azure allows one per \
                         subnet",
                        r.name
                    );
                    self.diags.error(r.line, &r.key, why);
                    continue;
                }
                if let Some(first) = subnets.first().map(|s: &SubnetRef| s.vnet) {
                    if first != subnet.vnet {
                        let why = "a NAT gateway cannot span virtual networks: its subnets must \
                                   be in one VNet";
                        self.diags.error(r.line, &r.key, why);
                        continue;
                    }
                }
                served.insert(subnet, g.name.clone());
                subnets.push(subnet);
            }
            let location = subnets
                .first()
                .map(|s| self.topo.vnets[s.vnet].location.clone())
                .unwrap_or_default();
            let mut public_ips = Vec::new();
            let mut addresses = Vec::new();
            for r in &g.public_ips {
                let user = format!("NAT gateway `{}`", g.name);
                let Some(ip) = self.public_ip_for(r, &user, users) else {
                    continue;
                };
                if self.topo.edge.public_ips[ip].sku == PublicIpSku::Basic {
                    let why = format!(
                        "public IP address `{}` is Basic: Azure's NAT gateway takes Standard \
                         public IPs only",
                        r.name
                    );
                    self.diags.error(r.line, &r.key, why);
                    continue;
                }
                let v6 = self.topo.edge.public_ips[ip].address.is_ipv6();
                if !self.family_fits(g.sku, v6, "public IP address", r) {
                    continue;
                }
                if self.check_region(ip, &location, r) {
                    public_ips.push(ip);
                    addresses.push(self.topo.edge.public_ips[ip].address);
                }
            }
            let mut prefixes = Vec::new();
            for r in &g.prefixes {
                let found = self.topo.edge.public_ip_prefixes.by_name(&r.name);
                let Some(px) = self.lookup(r, "public IP prefix", found) else {
                    continue;
                };
                let prefix = &self.topo.edge.public_ip_prefixes[px];
                if let (Some(l), false) = (&prefix.location, location.is_empty()) {
                    if *l != location {
                        let why = format!(
                            "public IP prefix `{}` is in {l}, the NAT gateway's VNet in \
                             {location}: Azure needs both in one region",
                            r.name
                        );
                        self.diags.error(r.line, &r.key, why);
                        continue;
                    }
                }
                let (v6, net) = (prefix.prefix.addr().is_ipv6(), prefix.prefix);
                if !self.family_fits(g.sku, v6, "public IP prefix", r) {
                    continue;
                }
                addresses.extend(prefix_addresses(net));
                prefixes.push(px);
            }
            if addresses.len() > NAT_GATEWAY_MAX_ADDRESSES {
                let why = format!(
                    "a NAT gateway holds at most {NAT_GATEWAY_MAX_ADDRESSES} public addresses \
                     (its public IPs and prefixes together), and this one has {}",
                    addresses.len()
                );
                self.diags.error(g.line, &g.key, why);
                continue;
            }
            if addresses.is_empty() {
                let why = "the NAT gateway has no public address: its subnets keep their other \
                           ways out until one is added";
                self.diags.warning(g.line, &g.key, why);
            }
            self.topo.edge.nat_gateways.push(NatGateway {
                name: g.name,
                sku: g.sku,
                addresses,
                public_ips,
                prefixes,
                idle_timeout_minutes: g.idle_timeout_minutes,
                subnets,
                line: g.line,
            });
        }
    }

    /// Default outbound access: an implicit address for every NIC of the
    /// subnets that have it, one after the other from
    /// [`DEFAULT_OUTBOUND_POOL`]. A NIC with its own public IP needs none.
    fn default_outbound(&mut self, subnets: Vec<(String, String, usize)>) {
        let mut with: BTreeSet<SubnetRef> = BTreeSet::new();
        for (vnet, subnet, _) in &subnets {
            let found = self
                .topo
                .vnets
                .by_name(vnet)
                .and_then(|v| Some((v, self.topo.vnets[v].subnets.by_name(subnet)?)));
            if let Some((vnet, subnet)) = found {
                with.insert(SubnetRef { vnet, subnet });
            }
        }
        let pool: IpNet = DEFAULT_OUTBOUND_POOL.parse().expect("constant prefix");
        let mut hosts = pool.hosts();
        let nics: Vec<NicIdx> = self
            .topo
            .nics
            .iter_enumerated()
            .filter(|(i, n)| {
                with.contains(&n.subnet)
                    && !self.topo.edge.nic_public_ips.contains_key(i)
                    && !self.topo.in_backend_pool(*i)
            })
            .map(|(i, _)| i)
            .collect();
        for nic in nics {
            let Some(address) = hosts.next() else {
                let n = &self.topo.nics[nic];
                let why = format!(
                    "more NICs have default outbound access than vnetd has implicit addresses \
                     ({pool}): `{}` gets none",
                    n.name
                );
                self.diags
                    .warning(n.line, &format!("network_interfaces[{}]", n.name), why);
                break;
            };
            self.topo
                .edge
                .default_outbound_addresses
                .insert(nic, address);
        }
        self.topo.edge.default_outbound = with;
    }

    fn dnat_rules(&mut self, collections: Vec<(String, String, u16, RawNatRuleCollection)>) {
        let mut by_policy: HashMap<FirewallPolicyIdx, Vec<DnatRule>> = HashMap::new();
        for (policy, group, group_priority, collection) in collections {
            let Some(p) = self.topo.firewall_policies.by_name(&policy) else {
                continue;
            };
            let place = RulePlace {
                group,
                group_priority,
                collection: collection.name,
                collection_priority: collection.priority,
            };
            for rule in collection.rules {
                let sources = self.rule_side(
                    rule.source_addresses,
                    &rule.source_ip_groups,
                    (rule.line, &rule.key, "source"),
                );
                let Some(sources) = sources else {
                    continue;
                };
                for &port in &rule.destination_ports {
                    by_policy.entry(p).or_default().push(DnatRule {
                        place: place.clone(),
                        name: rule.name.clone(),
                        protocols: rule.protocols.clone(),
                        sources: sources.clone(),
                        destination: rule.destination_address.0,
                        destination_port: port,
                        translated_address: rule.translated_address,
                        translated_port: rule.translated_port,
                        line: rule.line,
                    });
                }
                self.warn_foreign_dnat_destination(p, rule.destination_address, &rule.key);
            }
        }
        for (p, mut rules) in by_policy {
            // Stable: equal priorities keep the file's order.
            rules.sort_by_key(|r| (r.place.group_priority, r.place.collection_priority));
            self.topo.edge.dnat_rules.insert(p, rules);
        }
    }

    /// A DNAT rule whose destination is no public address of a firewall
    /// using its policy never matches: warned, as Azure only checks it
    /// against the firewall it is deployed to.
    fn warn_foreign_dnat_destination(
        &mut self,
        policy: FirewallPolicyIdx,
        (destination, line): (IpAddr, usize),
        key: &str,
    ) {
        let edge = &self.topo.edge;
        let owned = self
            .topo
            .firewalls
            .iter_enumerated()
            .filter(|(_, f)| f.policy == Some(policy))
            .any(|(i, _)| edge.firewall_addresses(i).contains(&destination));
        if !owned {
            let why = format!(
                "{destination} is no public address of a firewall using this policy: the rule \
                 never matches"
            );
            self.diags
                .warning(line, &format!("{key}.destination_address"), why);
        }
    }

    /// A public address in the lab's private space (a VNet's or a site's
    /// range), or an Internet server on a public IP's address.
    fn check_public_addresses(&mut self) {
        let mut private: Vec<(IpNet, String)> = Vec::new();
        for v in &self.topo.vnets {
            for n in &v.address_space {
                private.push((*n, format!("VNet `{}`", v.name)));
            }
        }
        for s in &self.topo.sites {
            for n in &s.address_space {
                private.push((*n, format!("site `{}`", s.name)));
            }
        }
        let mut notes = Vec::new();
        for p in &self.topo.edge.public_ips {
            if let Some((net, owner)) = private.iter().find(|(n, _)| n.contains(&p.address)) {
                notes.push((
                    p.line,
                    format!("public_ip_addresses[{}]", p.name),
                    format!(
                        "{} is inside {owner}'s range {net}: packets to it from the lab stay in \
                         the lab",
                        p.address
                    ),
                    false,
                ));
            }
        }
        for s in self.topo.edge.servers() {
            if let Some(p) = self
                .topo
                .edge
                .public_ips
                .iter()
                .find(|p| p.address == s.address)
            {
                notes.push((
                    s.line,
                    format!("internet.servers[{}].address", s.name),
                    format!(
                        "{} is the public IP address `{}`: an Internet server needs an address \
                         of its own",
                        s.address, p.name
                    ),
                    true,
                ));
            } else if let Some((net, owner)) = private.iter().find(|(n, _)| n.contains(&s.address))
            {
                notes.push((
                    s.line,
                    format!("internet.servers[{}].address", s.name),
                    format!(
                        "{} is inside {owner}'s range {net}: the lab reaches that range, not \
                         the server",
                        s.address
                    ),
                    false,
                ));
            }
        }
        for (line, key, why, error) in notes {
            if error {
                self.diags.error(line, &key, why);
            } else {
                self.diags.warning(line, &key, why);
            }
        }
    }
}

/// Every address of a public IP prefix, in order.
fn prefix_addresses(prefix: IpNet) -> Vec<IpAddr> {
    match prefix {
        IpNet::V4(n) => {
            let first = u32::from(n.network());
            let count = 1u64 << (32 - n.prefix_len());
            (0..count)
                .map(|i| IpAddr::V4((first + i as u32).into()))
                .collect()
        }
        IpNet::V6(n) => {
            let first = u128::from(n.network());
            let count = 1u128 << (128 - n.prefix_len());
            (0..count).map(|i| IpAddr::V6((first + i).into())).collect()
        }
    }
}
