//! Virtual network gateways, as Azure's routing sees them
//! (`docs/src/azure-behaviour.md`, "VPN gateways and BGP"):
//!
//! - A gateway's own table ([`gateway_table`]): for each of its
//!   connections, the static prefixes of the local network gateway (an
//!   IPsec connection), a /32 to the remote BGP speaker when the connection
//!   runs BGP, the routes its instances learned from that speaker, and for
//!   a Vnet2Vnet connection the address spaces of the VNets the peer
//!   gateway serves (its own and its gateway-transit spokes) plus /32s to
//!   the peer's instances when that connection runs BGP.
//! - What each session accepts ([`accepted`]): at most
//!   [`MAX_LEARNED_PREFIXES`] prefixes (above that Azure drops the session,
//!   so nothing of it is kept, and lets it up again after
//!   [`PREFIX_LIMIT_RETRY`]), and never a prefix identical to the address
//!   range of a VNet the gateway serves (a superset is fine).
//! - What the subnets of the VNets it serves receive
//!   ([`gateway_effective_routes`]): one `VirtualNetworkGateway` row per
//!   prefix of its table, whose next hops are the instances that carry it
//!   (both instances of an active-active gateway for a static prefix; for a
//!   learned one, those whose session learned it), unless the subnet's route
//!   table turns gateway route propagation off.
//! - What it advertises to a BGP peer ([`advertised`]): the address spaces
//!   of the VNets it serves, and what it learned from its other sessions,
//!   never a default route and never a prefix overlapping a VNet it serves.
//!   (Azure also advertises its local network gateways' static prefixes;
//!   vnetd's gateways route them but do not originate them.)
//!
//! - ExpressRoute: a connection to a circuit makes instance `i` of the
//!   gateway the end of link `i` of the circuit's private peering; its
//!   table gets the customer edge's /32 on each link and what each session
//!   learned. Towards the customer edge the gateway advertises the VNets it
//!   serves with Microsoft's edge ASN (12076) as path, and nothing learned
//!   from another circuit: an ExpressRoute gateway carries no traffic from
//!   one circuit to another (the fabric drops it, `circuit_transit`).
//! - Preference when two ways carry one prefix: the longest prefix first
//!   (forwarding), then, in a subnet served by both a VPN and an
//!   ExpressRoute gateway, ExpressRoute; then the shorter AS path (also
//!   within one gateway's table).
//!
//! The learned routes are the one input that does not come from the
//! topology file: the daemon's BGP speakers gather them, and a new set
//! compiles a new snapshot.

use crate::topology::{
    BgpSpeaker, ConnectionPeer, GatewayIdx, GatewayType, SiteIdx, SubnetRef, Topology, VnetIdx,
    MICROSOFT_EDGE_ASN,
};
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

/// Prefixes one BGP session may announce; one more and Azure drops it.
pub const MAX_LEARNED_PREFIXES: usize = 4000;

/// The keepalive interval an Azure gateway offers its BGP peers.
pub const BGP_KEEPALIVE: Duration = Duration::from_secs(60);

/// The hold time an Azure gateway offers its BGP peers.
pub const BGP_HOLD: Duration = Duration::from_secs(180);

/// How long a session dropped for announcing more than
/// [`MAX_LEARNED_PREFIXES`] stays down before the gateway lets it up
/// again. Azure re-establishes such a session (it is dropped again while
/// the peer still announces too many) but does not document the wait;
/// this is vnetd's choice.
pub const PREFIX_LIMIT_RETRY: Duration = Duration::from_secs(10);

/// The ORIGIN attribute of a BGP route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr)]
pub enum BgpOrigin {
    Igp,
    Egp,
    Incomplete,
}

/// A route one gateway instance learned over BGP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnedRoute {
    pub prefix: IpNet,
    /// The BGP neighbor that announced it.
    pub peer: IpAddr,
    pub next_hop: IpAddr,
    pub as_path: Vec<u32>,
    pub origin: BgpOrigin,
}

/// Everything the gateways' BGP speakers learned: by gateway name (names
/// survive an `apply` that renumbers gateways), then by instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LearnedRoutes {
    pub gateways: BTreeMap<String, Vec<Vec<LearnedRoute>>>,
}

impl LearnedRoutes {
    /// What instance `instance` of gateway `gateway` learned.
    pub fn of(&self, gateway: &str, instance: usize) -> &[LearnedRoute] {
        self.gateways
            .get(gateway)
            .and_then(|instances| instances.get(instance))
            .map_or(&[], Vec::as_slice)
    }
}

/// Where a gateway sends traffic for a prefix of its table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayEgress {
    /// Into an on-premises site, through the tunnels of these instances.
    Site {
        site: SiteIdx,
        instances: Vec<usize>,
    },
    /// To another gateway (a Vnet2Vnet connection), which forwards by its
    /// GatewaySubnet's routes.
    Gateway(GatewayIdx),
}

/// Why a gateway knows a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayRouteSource {
    /// From the topology: a local network gateway's prefix, a BGP peer's
    /// /32, or a Vnet2Vnet peer's VNets.
    Static { connection: String },
    /// Learned over BGP.
    Bgp {
        peer: IpAddr,
        as_path: Vec<u32>,
        origin: BgpOrigin,
    },
}

/// One row of a gateway's own table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayRoute {
    pub prefix: IpNet,
    pub egress: GatewayEgress,
    pub source: GatewayRouteSource,
}

fn host_prefix(ip: IpAddr) -> IpNet {
    IpNet::from(ip)
}

/// The address ranges of the VNets `gateway` serves.
pub fn served_ranges(topo: &Topology, gateway: GatewayIdx) -> Vec<IpNet> {
    topo.served_vnets(gateway)
        .into_iter()
        .flat_map(|v| topo.vnets[v].address_space.iter().map(|r| r.trunc()))
        .collect()
}

/// The routes of one BGP session that Azure keeps: none when the peer
/// announced more than [`MAX_LEARNED_PREFIXES`] (the session is dropped),
/// else all but those identical to a served VNet range.
pub fn accepted<'r>(
    routes: &'r [LearnedRoute],
    peer: IpAddr,
    served: &[IpNet],
) -> Vec<&'r LearnedRoute> {
    let from_peer: Vec<&LearnedRoute> = routes.iter().filter(|r| r.peer == peer).collect();
    if from_peer.len() > MAX_LEARNED_PREFIXES {
        return Vec::new();
    }
    from_peer
        .into_iter()
        .filter(|r| !served.contains(&r.prefix.trunc()))
        .collect()
}

/// The addresses of the remote BGP speakers of `gateway`'s BGP
/// connections, in connection order.
pub fn bgp_peer_addresses(topo: &Topology, gateway: GatewayIdx) -> Vec<IpAddr> {
    let mut peers = Vec::new();
    for c in topo.connections_of(gateway).filter(|c| c.bgp_enabled) {
        match c.peer {
            ConnectionPeer::Local(l) => {
                peers.extend(topo.local_gateways[l].bgp.map(|b| b.peering_address))
            }
            ConnectionPeer::Gateway(g) => peers.extend(topo.gateways[g].instances.iter().copied()),
            ConnectionPeer::Circuit(e) => {
                let peering = &topo.circuits[e].private_peering;
                let links = topo.gateways[gateway].instances.len();
                peers.extend((0..links).map(|i| peering.customer_address(i)));
            }
        }
    }
    peers.dedup();
    peers
}

/// The table `gateway` forwards by (see the module docs), one row per
/// (prefix, egress) with the instances of a site egress merged. On a
/// prefix known two ways, the first row listed decides.
pub fn gateway_table(
    topo: &Topology,
    learned: &LearnedRoutes,
    gateway: GatewayIdx,
) -> Vec<GatewayRoute> {
    let gw = &topo.gateways[gateway];
    let all: Vec<usize> = (0..gw.instances.len()).collect();
    let served = served_ranges(topo, gateway);
    let mut rows: Vec<GatewayRoute> = Vec::new();
    let mut push = |prefix: IpNet, egress: GatewayEgress, source: GatewayRouteSource| {
        let prefix = prefix.trunc();
        if let Some(row) = rows.iter_mut().find(|r| r.prefix == prefix) {
            // Learned twice by different ways: the shorter AS path wins.
            if let (
                GatewayRouteSource::Bgp { as_path: held, .. },
                GatewayRouteSource::Bgp {
                    as_path: offered, ..
                },
            ) = (&row.source, &source)
            {
                if offered.len() < held.len() {
                    *row = GatewayRoute {
                        prefix,
                        egress,
                        source,
                    };
                    return;
                }
            }
            // The same site through more instances: widen the row.
            if let (
                GatewayEgress::Site { site, instances },
                GatewayEgress::Site {
                    site: new_site,
                    instances: more,
                },
            ) = (&mut row.egress, &egress)
            {
                if site == new_site {
                    for i in more {
                        if !instances.contains(i) {
                            instances.push(*i);
                        }
                    }
                    instances.sort_unstable();
                }
            }
            return;
        }
        rows.push(GatewayRoute {
            prefix,
            egress,
            source,
        });
    };
    for c in topo.connections_of(gateway) {
        let stat = || GatewayRouteSource::Static {
            connection: c.name.clone(),
        };
        match c.peer {
            ConnectionPeer::Local(l) => {
                let lng = &topo.local_gateways[l];
                let to_site = |instances: Vec<usize>| GatewayEgress::Site {
                    site: lng.site,
                    instances,
                };
                for prefix in &lng.address_space {
                    push(*prefix, to_site(all.clone()), stat());
                }
                let Some(bgp) = lng.bgp.filter(|_| c.bgp_enabled) else {
                    continue;
                };
                push(
                    host_prefix(bgp.peering_address),
                    to_site(all.clone()),
                    stat(),
                );
                for &i in &all {
                    for r in accepted(learned.of(&gw.name, i), bgp.peering_address, &served) {
                        let source = GatewayRouteSource::Bgp {
                            peer: r.peer,
                            as_path: r.as_path.clone(),
                            origin: r.origin,
                        };
                        push(r.prefix, to_site(vec![i]), source);
                    }
                }
            }
            ConnectionPeer::Circuit(e) => {
                // Instance i ends link i of the private peering: its
                // customer edge's /32, and what that session learned.
                let circuit = &topo.circuits[e];
                let peering = &circuit.private_peering;
                let to_site = |i: usize| GatewayEgress::Site {
                    site: circuit.site,
                    instances: vec![i],
                };
                for &i in &all {
                    push(host_prefix(peering.customer_address(i)), to_site(i), stat());
                }
                for &i in &all {
                    let edge = peering.customer_address(i);
                    for r in accepted(learned.of(&gw.name, i), edge, &served) {
                        let source = GatewayRouteSource::Bgp {
                            peer: r.peer,
                            as_path: r.as_path.clone(),
                            origin: r.origin,
                        };
                        push(r.prefix, to_site(i), source);
                    }
                }
            }
            ConnectionPeer::Gateway(g) => {
                for prefix in served_ranges(topo, g) {
                    push(prefix, GatewayEgress::Gateway(g), stat());
                }
                if c.bgp_enabled {
                    for addr in &topo.gateways[g].instances {
                        push(host_prefix(*addr), GatewayEgress::Gateway(g), stat());
                    }
                }
            }
        }
    }
    rows
}

/// One `VirtualNetworkGateway` row for a subnet: a prefix and the gateway
/// instances it leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayRouteRow {
    pub prefix: IpNet,
    pub gateway: GatewayIdx,
    pub instances: Vec<usize>,
}

/// The gateway routes `subnet` receives: those of the gateways serving its
/// VNet, unless its route table turns propagation off. With a VPN and an
/// ExpressRoute gateway (coexistence), a prefix both carry is taken from
/// the ExpressRoute one, then from the shorter AS path; the longest prefix
/// still decides first, in forwarding.
pub fn gateway_effective_routes(
    topo: &Topology,
    learned: &LearnedRoutes,
    subnet: SubnetRef,
) -> Vec<GatewayRouteRow> {
    let propagates = topo
        .vnets
        .get(subnet.vnet)
        .and_then(|v| v.subnets.get(subnet.subnet))
        .and_then(|s| s.route_table)
        .and_then(|t| topo.route_tables.get(t))
        .is_none_or(|t| t.bgp_route_propagation_enabled);
    if !propagates {
        return Vec::new();
    }
    let mut chosen: Vec<(GatewayRouteRow, RoutePreference)> = Vec::new();
    for gateway in topo.serving_gateways(subnet.vnet) {
        let all: Vec<usize> = (0..topo.gateways[gateway].instances.len()).collect();
        let express_route = topo.gateways[gateway].gateway_type == GatewayType::ExpressRoute;
        for row in gateway_table(topo, learned, gateway) {
            let preference = RoutePreference {
                express_route,
                as_path_len: match &row.source {
                    GatewayRouteSource::Bgp { as_path, .. } => as_path.len(),
                    GatewayRouteSource::Static { .. } => 0,
                },
            };
            let candidate = GatewayRouteRow {
                prefix: row.prefix,
                gateway,
                instances: match row.egress {
                    GatewayEgress::Site { instances, .. } => instances,
                    GatewayEgress::Gateway(_) => all.clone(),
                },
            };
            match chosen
                .iter_mut()
                .find(|(r, _)| r.prefix == candidate.prefix)
            {
                Some(held) if preference.beats(&held.1) => *held = (candidate, preference),
                Some(_) => {}
                None => chosen.push((candidate, preference)),
            }
        }
    }
    chosen.into_iter().map(|(row, _)| row).collect()
}

/// How a subnet ranks two gateways' routes to the same prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RoutePreference {
    express_route: bool,
    as_path_len: usize,
}

impl RoutePreference {
    /// ExpressRoute over VPN, then the shorter AS path; a tie keeps the
    /// route held.
    fn beats(&self, held: &RoutePreference) -> bool {
        match (self.express_route, held.express_route) {
            (true, false) => true,
            (false, true) => false,
            _ => self.as_path_len < held.as_path_len,
        }
    }
}

/// A route as a gateway advertises it to one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvertisedRoute {
    pub prefix: IpNet,
    pub as_path: Vec<u32>,
    pub origin: BgpOrigin,
}

/// What `gateway` advertises to the BGP peer at `peer` (see the module
/// docs): the served VNets with the gateway's ASN as path; transit routes
/// learned from other peers with the gateway's ASN before the path learned.
pub fn advertised(
    topo: &Topology,
    learned: &LearnedRoutes,
    gateway: GatewayIdx,
    peer: IpAddr,
) -> Vec<AdvertisedRoute> {
    let gw = &topo.gateways[gateway];
    let served = served_ranges(topo, gateway);
    if gw.gateway_type == GatewayType::ExpressRoute {
        // Towards a customer edge the gateway speaks as Microsoft's edge,
        // and it never carries one circuit's routes to another: every peer
        // gets the served ranges alone.
        return served
            .into_iter()
            .map(|prefix| AdvertisedRoute {
                prefix,
                as_path: vec![MICROSOFT_EDGE_ASN],
                origin: BgpOrigin::Igp,
            })
            .collect();
    }
    let overlaps_served = |p: &IpNet| {
        served
            .iter()
            .any(|s| s.contains(&p.network()) || p.contains(&s.network()))
    };
    let mut out: Vec<AdvertisedRoute> = Vec::new();
    let push = |out: &mut Vec<AdvertisedRoute>, prefix: IpNet, as_path: Vec<u32>| {
        if !out.iter().any(|r| r.prefix == prefix) {
            out.push(AdvertisedRoute {
                prefix,
                as_path,
                origin: BgpOrigin::Igp,
            });
        }
    };
    for range in &served {
        push(&mut out, *range, vec![gw.asn]);
    }
    for row in gateway_table(topo, learned, gateway) {
        // Static prefixes are the gateway's to route, not to originate.
        let GatewayRouteSource::Bgp {
            peer: from,
            as_path,
            ..
        } = &row.source
        else {
            continue;
        };
        if row.prefix.prefix_len() == 0 || overlaps_served(&row.prefix) || *from == peer {
            continue;
        }
        let as_path = std::iter::once(gw.asn)
            .chain(as_path.iter().copied())
            .collect();
        push(&mut out, row.prefix, as_path);
    }
    out
}

/// The on-premises and gateway-connected ranges that join the
/// `VirtualNetwork` tag of subnets in `vnet`: for every connection of the
/// gateway serving it, the local network gateway's prefixes and, with BGP,
/// the site's address space; for a Vnet2Vnet connection, the VNets the peer
/// gateway serves.
pub fn connected_ranges(topo: &Topology, vnet: VnetIdx) -> (Vec<IpNet>, Vec<IpNet>) {
    let (mut on_premises, mut vnets) = (Vec::new(), Vec::new());
    let gateways = topo.serving_gateways(vnet);
    for c in gateways.iter().flat_map(|&g| topo.connections_of(g)) {
        match c.peer {
            ConnectionPeer::Local(l) => {
                let lng = &topo.local_gateways[l];
                on_premises.extend(lng.address_space.iter().copied());
                if c.bgp_enabled && lng.bgp.is_some() {
                    on_premises.extend(topo.sites[lng.site].address_space.iter().copied());
                }
            }
            ConnectionPeer::Gateway(g) => vnets.extend(served_ranges(topo, g)),
            ConnectionPeer::Circuit(e) => {
                let site = topo.circuits[e].site;
                on_premises.extend(topo.sites[site].address_space.iter().copied());
            }
        }
    }
    (on_premises, vnets)
}

/// What the gateways' BGP sessions learn once every session is up and each
/// site's router announces its address space, as vnetd's BIRD and FRR
/// routers do: the learned routes a topology predicts, for the questions
/// answered without a running lab (`trace --config`, `check`, `circuit
/// routes --config`). Each instance of a gateway learns them from every BGP
/// connection to a site whose router speaks BGP; on an ExpressRoute
/// connection instance `i` learns them from the customer edge's address on
/// link `i` of the circuit's private peering. Vnet2Vnet sessions are left
/// out: what a peer gateway advertises depends on what it learned in turn.
pub fn expected_learned(topo: &Topology) -> LearnedRoutes {
    let mut learned = LearnedRoutes::default();
    for (g, gateway) in topo.gateways.iter_enumerated() {
        let mut per_instance: Vec<Vec<LearnedRoute>> = vec![Vec::new(); gateway.instances.len()];
        for connection in topo.connections_of(g).filter(|c| c.bgp_enabled) {
            let (site, peers): (SiteIdx, Vec<IpAddr>) = match connection.peer {
                ConnectionPeer::Local(local) => {
                    let local = &topo.local_gateways[local];
                    let Some(bgp) = &local.bgp else {
                        continue;
                    };
                    (local.site, vec![bgp.peering_address; per_instance.len()])
                }
                ConnectionPeer::Circuit(e) => {
                    let circuit = &topo.circuits[e];
                    let peering = &circuit.private_peering;
                    let edges = (0..per_instance.len())
                        .map(|i| peering.customer_address(i))
                        .collect();
                    (circuit.site, edges)
                }
                ConnectionPeer::Gateway(_) => continue,
            };
            let site = &topo.sites[site];
            let Some(asn) = site.asn else {
                continue;
            };
            if site.bgp_speaker == BgpSpeaker::None {
                continue;
            }
            for (routes, peer) in per_instance.iter_mut().zip(peers) {
                routes.extend(site.address_space.iter().map(|prefix| LearnedRoute {
                    prefix: *prefix,
                    peer,
                    next_hop: peer,
                    as_path: vec![asn],
                    origin: BgpOrigin::Igp,
                }));
            }
        }
        if per_instance.iter().any(|r| !r.is_empty()) {
            learned.gateways.insert(gateway.name.clone(), per_instance);
        }
    }
    learned
}
