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
//! - What it advertises to a BGP peer, and what every session learns
//!   when the file alone is the input: [`crate::policy::bgp`].
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
//!   within one gateway's table, where what the topology gives wins over
//!   what is learned). Two ways into sites as good as each other share the
//!   prefix: the row holds the tunnels of both, and flows spread over them
//!   (Azure's ECMP over the instances of an active-active gateway and over
//!   several on-premises devices of one network, "Highly Available
//!   cross-premises and VNet-to-VNet connectivity"); otherwise the lower
//!   peer address breaks a tie.
//!
//! The learned routes are the one input that does not come from the
//! topology file: in a running lab the daemon's BGP speakers gather them,
//! and a new set compiles a new snapshot; without a lab,
//! [`crate::policy::bgp::expected_learned`] predicts them.

pub use super::learned::{BgpOrigin, LearnedRoute, LearnedRoutes};
use super::route_server::{route_server_rows, serving_route_server};
use crate::topology::{
    ConnectionPeer, GatewayIdx, GatewayType, HubRoutingPreference, LocalGateway, RouteServerIdx,
    RouterRef, SubnetRef, Topology, VnetIdx,
};
use ipnet::IpNet;
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

/// One tunnel of a gateway: from instance `instance` to a site's router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TunnelEnd {
    pub router: RouterRef,
    pub instance: usize,
}

/// Where a gateway sends traffic for a prefix of its table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayEgress {
    /// Into on-premises sites, through these tunnels (sorted, each once):
    /// flows spread over them by hash, as Azure spreads them over the
    /// instances of an active-active gateway and over the devices that
    /// announce a prefix as well as each other (ECMP).
    Site { tunnels: Vec<TunnelEnd> },
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
                peers.extend((0..links).map(|i| peering.microsoft_address(i)));
            }
        }
    }
    peers.dedup();
    peers
}

/// The table `gateway` forwards by (see the module docs), one row per
/// (prefix, egress) with the instances of a site egress merged. What the
/// topology gives (a local network gateway's prefixes, BGP peers' /32s, a
/// Vnet2Vnet peer's VNets) comes first and wins over a route learned to the
/// same prefix, as a locally originated route does in BGP; between two
/// learned routes the shorter AS path wins, then the lower peer address.
#[allow(
    clippy::too_many_lines,
    reason = "one table built in one pass over the gateway's connections and what they learned, a branch per kind of source"
)]
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
        let Some(row) = rows.iter_mut().find(|r| r.prefix == prefix) else {
            rows.push(GatewayRoute {
                prefix,
                egress,
                source,
            });
            return;
        };
        // Two ways to one prefix: what the topology gives beats what is
        // learned (it comes first); between two learned routes the
        // shorter AS path wins. As good as each other into sites, both
        // carry it (ECMP: the tunnels of both); else the lower peer
        // address wins.
        let (better, as_good) = match (&row.source, &source) {
            (
                GatewayRouteSource::Bgp {
                    as_path: held,
                    peer: held_peer,
                    ..
                },
                GatewayRouteSource::Bgp {
                    as_path: offered,
                    peer: offered_peer,
                    ..
                },
            ) => (
                (offered.len(), offered_peer) < (held.len(), held_peer),
                offered.len() == held.len(),
            ),
            (GatewayRouteSource::Static { .. }, GatewayRouteSource::Static { .. }) => (false, true),
            _ => (false, false),
        };
        match (&mut row.egress, &egress) {
            (GatewayEgress::Site { tunnels }, GatewayEgress::Site { tunnels: more }) if as_good => {
                for t in more {
                    if !tunnels.contains(t) {
                        tunnels.push(*t);
                    }
                }
                tunnels.sort_unstable();
            }
            _ if better => {
                *row = GatewayRoute {
                    prefix,
                    egress,
                    source,
                }
            }
            _ => {}
        }
    };
    let bgp_source = |r: &LearnedRoute| GatewayRouteSource::Bgp {
        peer: r.peer,
        as_path: r.as_path.clone(),
        origin: r.origin,
    };
    // What the topology gives, connection by connection.
    for c in topo.connections_of(gateway) {
        let stat = || GatewayRouteSource::Static {
            connection: c.name.clone(),
        };
        match c.peer {
            ConnectionPeer::Local(l) => {
                let lng = &topo.local_gateways[l];
                let to_site = to_router(lng_router(lng), &all);
                for prefix in &lng.address_space {
                    push(*prefix, to_site.clone(), stat());
                }
                if let Some(bgp) = lng.bgp.filter(|_| c.bgp_enabled) {
                    push(host_prefix(bgp.peering_address), to_site, stat());
                }
            }
            ConnectionPeer::Circuit(e) => {
                // Instance i ends link i of the private peering: its
                // edge router's /32 (Microsoft's address of the link).
                let circuit = &topo.circuits[e];
                let peering = &circuit.private_peering;
                let edge = RouterRef {
                    site: circuit.site,
                    router: 0,
                };
                for &i in &all {
                    let to_site = to_router(edge, &[i]);
                    push(host_prefix(peering.microsoft_address(i)), to_site, stat());
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
    // What each session learned.
    for c in topo.connections_of(gateway) {
        match c.peer {
            ConnectionPeer::Local(l) => {
                let lng = &topo.local_gateways[l];
                let Some(bgp) = lng.bgp.filter(|_| c.bgp_enabled) else {
                    continue;
                };
                for &i in &all {
                    for r in accepted(learned.of(&gw.name, i), bgp.peering_address, &served) {
                        push(r.prefix, to_router(lng_router(lng), &[i]), bgp_source(r));
                    }
                }
            }
            ConnectionPeer::Circuit(e) => {
                let circuit = &topo.circuits[e];
                let customer_edge = RouterRef {
                    site: circuit.site,
                    router: 0,
                };
                for &i in &all {
                    let edge = circuit.private_peering.microsoft_address(i.min(1));
                    for r in accepted(learned.of(&gw.name, i), edge, &served) {
                        push(r.prefix, to_router(customer_edge, &[i]), bgp_source(r));
                    }
                }
            }
            ConnectionPeer::Gateway(g) if c.bgp_enabled => {
                // A Vnet2Vnet peer's instances pass on what they learned
                // (BGP transit).
                for &i in &all {
                    for peer in &topo.gateways[g].instances {
                        for r in accepted(learned.of(&gw.name, i), *peer, &served) {
                            push(r.prefix, GatewayEgress::Gateway(g), bgp_source(r));
                        }
                    }
                }
            }
            ConnectionPeer::Gateway(_) => {}
        }
    }
    rows
}

/// The router a local network gateway stands for.
fn lng_router(lng: &LocalGateway) -> RouterRef {
    RouterRef {
        site: lng.site,
        router: lng.router,
    }
}

/// Into `router`'s site through its tunnels to `instances`.
fn to_router(router: RouterRef, instances: &[usize]) -> GatewayEgress {
    GatewayEgress::Site {
        tunnels: instances
            .iter()
            .map(|&instance| TunnelEnd { router, instance })
            .collect(),
    }
}

impl GatewayEgress {
    /// The gateway instances it leaves by, each once, in order: those of
    /// its tunnels, or every instance towards another gateway.
    pub fn instances(&self, all: &[usize]) -> Vec<usize> {
        match self {
            GatewayEgress::Site { tunnels } => {
                let mut instances: Vec<usize> = tunnels.iter().map(|t| t.instance).collect();
                instances.sort_unstable();
                instances.dedup();
                instances
            }
            GatewayEgress::Gateway(_) => all.to_vec(),
        }
    }
}

/// One `VirtualNetworkGateway` row for a subnet: a prefix and the gateway
/// instances it leads to, or the appliances a Route Server learned it from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayRouteRow {
    pub prefix: IpNet,
    pub gateway: Option<GatewayIdx>,
    pub instances: Vec<usize>,
    /// The Route Server that programs it, with the appliances' addresses
    /// (ECMP next hops).
    pub route_server: Option<RouteServerIdx>,
    pub next_hops: Vec<IpAddr>,
}

/// The gateway routes `subnet` receives: those of the gateways serving its
/// VNet and of the Route Server serving it, unless its route table turns
/// propagation off. A prefix carried by more than one is taken by the
/// Route Server's routing preference (`hubRoutingPreference`; without a
/// Route Server, ExpressRoute over VPN as Azure does for coexisting
/// gateways), then by the shorter AS path, the first held on a tie; the
/// longest prefix still decides first, in forwarding.
pub fn gateway_effective_routes(
    topo: &Topology,
    learned: &LearnedRoutes,
    subnet: SubnetRef,
) -> Vec<GatewayRouteRow> {
    if !topo.propagates_gateway_routes(subnet) {
        return Vec::new();
    }
    let preference = serving_route_server(topo, subnet.vnet)
        .map_or(HubRoutingPreference::ExpressRoute, |r| {
            topo.route_servers[r].hub_routing_preference
        });
    let mut chosen: Vec<(GatewayRouteRow, RoutePreference)> = Vec::new();
    let mut offer = |candidate: GatewayRouteRow, rank: RoutePreference| match chosen
        .iter_mut()
        .find(|(r, _)| r.prefix == candidate.prefix)
    {
        Some(held) if rank.beats(&held.1) => *held = (candidate, rank),
        Some(_) => {}
        None => chosen.push((candidate, rank)),
    };
    for gateway in topo.serving_gateways(subnet.vnet) {
        let all: Vec<usize> = (0..topo.gateways[gateway].instances.len()).collect();
        let kind = match topo.gateways[gateway].gateway_type {
            GatewayType::ExpressRoute => SourceKind::ExpressRoute,
            GatewayType::Vpn => SourceKind::Vpn,
        };
        for row in gateway_table(topo, learned, gateway) {
            let rank = RoutePreference {
                rank: kind.rank(preference),
                as_path_len: match &row.source {
                    GatewayRouteSource::Bgp { as_path, .. } => as_path.len(),
                    GatewayRouteSource::Static { .. } => 0,
                },
            };
            let candidate = GatewayRouteRow {
                prefix: row.prefix,
                gateway: Some(gateway),
                instances: row.egress.instances(&all),
                route_server: None,
                next_hops: Vec::new(),
            };
            offer(candidate, rank);
        }
    }
    for row in route_server_rows(topo, learned, subnet) {
        let rank = RoutePreference {
            rank: SourceKind::Appliance.rank(preference),
            as_path_len: row.as_path_len,
        };
        let candidate = GatewayRouteRow {
            prefix: row.prefix,
            gateway: None,
            instances: Vec::new(),
            route_server: Some(row.route_server),
            next_hops: row.next_hops,
        };
        offer(candidate, rank);
    }
    chosen.into_iter().map(|(row, _)| row).collect()
}

/// Where a gateway route comes from, for the routing preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SourceKind {
    ExpressRoute,
    Vpn,
    /// An appliance, through a Route Server.
    Appliance,
}

impl SourceKind {
    /// Lower wins before the AS path is compared: ExpressRoute first by
    /// default; VPN and appliances first with `VpnGateway`; all alike with
    /// `ASPath` ("Routing preference doesn't allow users to set preference
    /// between routes learned over VPN and NVA connections").
    fn rank(self, preference: HubRoutingPreference) -> u8 {
        match (preference, self) {
            (HubRoutingPreference::AsPath, _) => 0,
            (HubRoutingPreference::ExpressRoute, SourceKind::ExpressRoute) => 0,
            (HubRoutingPreference::ExpressRoute, _) => 1,
            (HubRoutingPreference::VpnGateway, SourceKind::ExpressRoute) => 1,
            (HubRoutingPreference::VpnGateway, _) => 0,
        }
    }
}

/// How a subnet ranks two routes to the same prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RoutePreference {
    rank: u8,
    as_path_len: usize,
}

impl RoutePreference {
    /// The lower rank, then the shorter AS path; a tie keeps the route
    /// held.
    fn beats(&self, held: &RoutePreference) -> bool {
        (self.rank, self.as_path_len) < (held.rank, held.as_path_len)
    }
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
