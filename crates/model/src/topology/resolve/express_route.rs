//! Resolution of ExpressRoute: circuits (their customer edge, private
//! peering and links), Global Reach between circuits, and the address
//! ranges of each routing domain (the VNets a gateway serves and the sites
//! it connects to), which must not overlap. See `hybrid` for the rules.

use super::super::catalog;
use super::super::decode::{NameRef, RawCircuit, RawGateway, RawGlobalReach};
use super::hybrid::{reserved_asn, CIRCUIT_NAME, EXPRESS_ROUTE_SKUS, GLOBAL_REACH_NAME};
use super::resolver::{Names, Resolver};
use crate::topology::model::*;
use ipnet::{IpNet, Ipv4Net};
use std::collections::{HashMap, HashSet};

impl Resolver<'_> {
    /// The SKU of an ExpressRoute gateway, spelled as Azure does; a VPN SKU
    /// or an unknown one is refused.
    pub(super) fn express_route_sku(&mut self, gw: &RawGateway) -> Option<(String, u32)> {
        let Some((sku, line)) = &gw.sku else {
            return Some((
                "Standard".to_string(),
                catalog::gateway_skus::express_route_mbps("Standard")?,
            ));
        };
        if let Some(known) = EXPRESS_ROUTE_SKUS
            .iter()
            .find(|k| k.eq_ignore_ascii_case(sku))
        {
            let mbps = catalog::gateway_skus::express_route_mbps(known)?;
            return Some(((*known).to_string(), mbps));
        }
        let why = format!(
            "`{sku}` is not an ExpressRoute gateway SKU ({})",
            EXPRESS_ROUTE_SKUS.join(", ")
        );
        self.diags.error(*line, &format!("{}.sku", gw.key), why);
        None
    }

    pub(super) fn circuits(&mut self, circuits: Vec<RawCircuit>) {
        let mut seen = Names::new(CIRCUIT_NAME);
        let mut edges: HashMap<SiteIdx, String> = HashMap::new();
        for e in circuits {
            self.check_name(&mut seen, &e.name, e.line, &e.key);
            match self.circuit(&e) {
                Some(circuit) => {
                    if let Some(other) = edges.insert(circuit.site, e.name.clone()) {
                        let why = format!(
                            "site `{}` is already the customer edge of circuit `{other}`: vnetd gives a site one circuit",
                            self.topo.sites[circuit.site].name
                        );
                        self.diags.error(e.line, &format!("{}.site", e.key), why);
                        self.refused_circuits.push(e.name);
                        continue;
                    }
                    let taken = self.topo.circuits.iter().find_map(|other| {
                        let mine = [
                            circuit.private_peering.primary,
                            circuit.private_peering.secondary,
                        ];
                        (0..2)
                            .map(|l| other.private_peering.link(l))
                            .find(|theirs| {
                                mine.iter().any(|m| {
                                    m.contains(&theirs.network()) || theirs.contains(&m.network())
                                })
                            })
                            .map(|theirs| (other.name.clone(), theirs))
                    });
                    if let Some((other, link)) = taken {
                        let why = format!(
                            "a link of this circuit overlaps {link}, a link of circuit `{other}`: each circuit needs its own /30s"
                        );
                        self.diags
                            .error(e.line, &format!("{}.private_peering", e.key), why);
                        self.refused_circuits.push(e.name);
                        continue;
                    }
                    self.topo.circuits.push(circuit);
                }
                None => self.refused_circuits.push(e.name),
            }
        }
    }

    /// One circuit, or `None` once its problems are reported.
    fn circuit(&mut self, e: &RawCircuit) -> Option<Circuit> {
        let site = match &e.site {
            Some(r) => {
                let found = self.topo.sites.by_name(&r.name);
                self.lookup(r, "on-premises site", found)
            }
            None => {
                let why = "an ExpressRoute circuit needs `site`: the on-premises site whose router is the customer edge";
                self.diags.error(e.line, &e.key, why);
                None
            }
        };
        let Some(peering) = &e.private_peering else {
            let why = "missing required key `private_peering`: vnetd emulates a circuit's private peering";
            self.diags
                .error(e.line, &format!("{}.private_peering", e.key), why);
            return None;
        };
        let asn_key = format!("{}.peer_asn", peering.key);
        let peer_asn = match peering.peer_asn {
            None => {
                let why = "missing required key `peer_asn`: the customer edge's ASN";
                self.diags.error(peering.line, &asn_key, why);
                None
            }
            Some((asn, line)) => match reserved_asn(asn) {
                Some(why) => {
                    let why = format!("ASN {asn} is {why}: the customer edge needs its own");
                    self.diags.error(line, &asn_key, why);
                    None
                }
                None => Some((asn, line)),
            },
        };
        // A missing or broken /30 is already reported by the decoder.
        let links: Vec<(Ipv4Net, usize)> = [peering.primary, peering.secondary]
            .into_iter()
            .filter_map(|link| match link {
                Some((IpNet::V4(net), line)) => Some((net, line)),
                _ => None,
            })
            .collect();
        let site = site?;
        let s = &self.topo.sites[site];
        let (peer_asn, asn_line) = peer_asn?;
        if let Some(router_asn) = s.first_router().asn {
            if router_asn != peer_asn {
                let why = format!(
                    "peer ASN {peer_asn} differs from {router_asn}, the ASN of site `{}`'s router, the customer edge",
                    s.name
                );
                self.diags.error(asn_line, &asn_key, why);
                return None;
            }
        }
        let [(primary, _), (secondary, secondary_line)] = links[..] else {
            return None;
        };
        if primary.contains(&secondary.network()) || secondary.contains(&primary.network()) {
            let why = format!(
                "the secondary link {secondary} overlaps the primary link {primary}: they must differ"
            );
            let k = format!("{}.secondary_peer_address_prefix", peering.key);
            self.diags.error(secondary_line, &k, why);
            return None;
        }
        let text =
            |t: &Option<(String, usize)>| t.as_ref().map_or(String::new(), |(s, _)| s.clone());
        Some(Circuit {
            name: e.name.clone(),
            site,
            service_provider_name: text(&e.service_provider_name),
            peering_location: text(&e.peering_location),
            bandwidth_mbps: e.bandwidth_mbps,
            private_peering: PrivatePeering {
                peer_asn,
                primary,
                secondary,
                vlan_id: peering.vlan_id.unwrap_or(0),
            },
            latency_us: e.latency_us,
            line: e.line,
        })
    }

    pub(super) fn global_reach(&mut self, links: Vec<RawGlobalReach>) {
        let mut seen = Names::new(GLOBAL_REACH_NAME);
        for link in links {
            self.check_name(&mut seen, &link.name, link.line, &link.key);
            if [&link.circuit, &link.peer_circuit]
                .iter()
                .any(|r| self.refused_circuits.contains(&r.name))
            {
                continue;
            }
            let find = |r: &Self, name: &NameRef| r.topo.circuits.by_name(&name.name);
            let found = find(self, &link.circuit);
            let circuit = self.lookup(&link.circuit, "ExpressRoute circuit", found);
            let found = find(self, &link.peer_circuit);
            let peer = self.lookup(&link.peer_circuit, "ExpressRoute circuit", found);
            let (Some(circuit), Some(peer_circuit)) = (circuit, peer) else {
                continue;
            };
            if circuit == peer_circuit {
                let why = "Global Reach joins two different circuits";
                self.diags
                    .error(link.peer_circuit.line, &link.peer_circuit.key, why);
                continue;
            }
            let (prefix, prefix_line) = link.address_prefix;
            let prefix_key = format!("{}.address_prefix_ipv4", link.key);
            let address_prefix = match prefix {
                IpNet::V4(p) if p.prefix_len() == 29 => p,
                _ => {
                    let why = format!("`{prefix}` is not a /29: Global Reach takes an IPv4 /29");
                    self.diags.error(prefix_line, &prefix_key, why);
                    continue;
                }
            };
            if let Some(other) = self.topo.global_reach.iter().find(|g| {
                (g.circuit, g.peer_circuit) == (circuit, peer_circuit)
                    || (g.circuit, g.peer_circuit) == (peer_circuit, circuit)
            }) {
                let why = format!(
                    "circuits `{}` and `{}` are already joined by `{}`",
                    link.circuit.name, link.peer_circuit.name, other.name
                );
                self.diags.error(link.line, &link.key, why);
                continue;
            }
            let v4 = IpNet::V4(address_prefix);
            let overlaps = |n: &IpNet| v4.contains(&n.network()) || n.contains(&v4.network());
            let mut taken: Vec<(IpNet, String)> = Vec::new();
            for c in [circuit, peer_circuit] {
                let e = &self.topo.circuits[c];
                for l in 0..2 {
                    let net = IpNet::V4(e.private_peering.link(l));
                    taken.push((net, format!("a link of circuit `{}` ({net})", e.name)));
                }
            }
            for g in &self.topo.global_reach {
                let net = IpNet::V4(g.address_prefix);
                taken.push((net, format!("Global Reach `{}` ({net})", g.name)));
            }
            if let Some((_, owner)) = taken.iter().find(|(n, _)| overlaps(n)) {
                let why = format!("{prefix} overlaps {owner}");
                self.diags.error(prefix_line, &prefix_key, why);
                continue;
            }
            let mut refused = false;
            let (a, b) = (
                &self.topo.sites[self.topo.circuits[circuit].site],
                &self.topo.sites[self.topo.circuits[peer_circuit].site],
            );
            for range in &a.address_space {
                for other in b
                    .address_space
                    .iter()
                    .filter(|o| range.contains(&o.network()) || o.contains(&range.network()))
                {
                    let why = format!(
                        "range {range} of site `{}` overlaps site `{}` ({other}), which this link joins to it",
                        a.name, b.name
                    );
                    self.diags.error(link.line, &link.key, why);
                    refused = true;
                }
            }
            if refused {
                continue;
            }
            self.topo.global_reach.push(GlobalReach {
                name: link.name,
                circuit,
                peer_circuit,
                address_prefix,
                line: link.line,
            });
        }
    }

    /// The sites a gateway's connections reach.
    fn connected_sites(&self, gateway: GatewayIdx) -> Vec<SiteIdx> {
        let mut sites = Vec::new();
        for c in self.topo.connections_of(gateway) {
            let site = match c.peer {
                ConnectionPeer::Local(l) => self.topo.local_gateways[l].site,
                ConnectionPeer::Circuit(e) => self.topo.circuits[e].site,
                ConnectionPeer::Gateway(_) => continue,
            };
            if !sites.contains(&site) {
                sites.push(site);
            }
        }
        sites
    }

    /// Whether every connection of `gateways` that reaches `site` runs
    /// BGP (an ExpressRoute connection always does).
    fn reached_over_bgp_only(&self, gateways: &[GatewayIdx], site: SiteIdx) -> bool {
        gateways
            .iter()
            .flat_map(|&g| self.topo.connections_of(g))
            .filter(|c| match c.peer {
                ConnectionPeer::Local(l) => self.topo.local_gateways[l].site == site,
                ConnectionPeer::Circuit(e) => self.topo.circuits[e].site == site,
                ConnectionPeer::Gateway(_) => false,
            })
            .all(|c| c.bgp_enabled)
    }

    /// Refuses overlapping ranges in one routing domain: for each VNet with
    /// gateways, the VNets they serve and the sites they connect to. Each
    /// message names both ranges and their owners; a pair is reported once.
    /// Two sites whose ranges overlap are accepted, with a warning, when
    /// both reach the gateways over BGP alone: Azure takes the same
    /// prefixes from several local network gateways over BGP and spreads
    /// the flows over them ("Highly Available cross-premises and VNet-to-VNet
    /// connectivity"); without BGP, the local network gateways' static
    /// prefixes would overlap, which it refuses.
    pub(super) fn check_site_ranges(&mut self) {
        let mut reported: HashSet<(SiteIdx, IpNet, String)> = HashSet::new();
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let hubs: Vec<VnetIdx> = {
            let mut v: Vec<VnetIdx> = self.topo.gateways.iter().map(|g| g.vnet).collect();
            v.sort();
            v.dedup();
            v
        };
        for hub in hubs {
            let gateways: Vec<GatewayIdx> = self
                .topo
                .gateways
                .iter_enumerated()
                .filter(|(_, g)| g.vnet == hub)
                .map(|(i, _)| i)
                .collect();
            let mut sites: Vec<SiteIdx> = Vec::new();
            let mut vnets: Vec<VnetIdx> = Vec::new();
            for &g in &gateways {
                for s in self.connected_sites(g) {
                    if !sites.contains(&s) {
                        sites.push(s);
                    }
                }
                for v in self.topo.served_vnets(g) {
                    if !vnets.contains(&v) {
                        vnets.push(v);
                    }
                }
            }
            let overlaps =
                |a: &IpNet, b: &IpNet| a.contains(&b.network()) || b.contains(&a.network());
            for (n, &s) in sites.iter().enumerate() {
                let site = &self.topo.sites[s];
                for range in &site.address_space {
                    for &v in &vnets {
                        let vnet = &self.topo.vnets[v];
                        for other in vnet.address_space.iter().filter(|o| overlaps(range, o)) {
                            let owner = format!("VNet `{}` ({other})", vnet.name);
                            if reported.insert((s, *range, owner.clone())) {
                                errors.push((site.line, s, format!(
                                    "range {range} of site `{}` overlaps {owner}, in the same routing domain",
                                    site.name
                                )));
                            }
                        }
                    }
                    for &t in &sites[n + 1..] {
                        let peer = &self.topo.sites[t];
                        let over_bgp = self.reached_over_bgp_only(&gateways, s)
                            && self.reached_over_bgp_only(&gateways, t);
                        for other in peer.address_space.iter().filter(|o| overlaps(range, o)) {
                            let owner = format!("site `{}` ({other})", peer.name);
                            if !reported.insert((s, *range, owner.clone())) {
                                continue;
                            }
                            if over_bgp {
                                warnings.push((site.line, s, format!(
                                    "range {range} of site `{}` overlaps {owner}: both reach the \
                                     gateway over BGP, so it takes the prefix from both and spreads \
                                     flows over both sites' tunnels, as Azure does; several devices \
                                     in front of one network are one site with `routers`",
                                    site.name
                                )));
                            } else {
                                errors.push((
                                    site.line,
                                    s,
                                    format!(
                                        "range {range} of site `{}` overlaps {owner}, in the same \
                                     routing domain, and a connection to one of them has no BGP \
                                     (Azure takes one network from several local network \
                                     gateways only over BGP)",
                                        site.name
                                    ),
                                ));
                            }
                        }
                    }
                }
            }
        }
        for (line, s, why) in errors {
            let key = format!(
                "on_premises_sites[{}].address_space",
                self.topo.sites[s].name
            );
            self.diags.error(line, &key, why);
        }
        for (line, s, why) in warnings {
            let key = format!(
                "on_premises_sites[{}].address_space",
                self.topo.sites[s].name
            );
            self.diags.warning(line, &key, why);
        }
    }
}
