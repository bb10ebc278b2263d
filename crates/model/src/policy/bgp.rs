//! The BGP model: what every BGP session a topology implies carries once
//! it is up, computed from the file alone (`docs/src/azure-behaviour.md`,
//! "BGP between gateways and sites"). It is the one prediction of BGP
//! that every offline answer uses (`routes`, `next-hop`, `rules`, `trace`,
//! `check`, `gateway learned-routes`, `advertised-routes`,
//! `bgp-peer-status` and `circuit routes` with `--config`), and the
//! sessions it models are the ones a running lab opens: the daemon's
//! speakers take their neighbours from [`instance_neighbors`] and
//! [`router_neighbors`].
//!
//! Speakers:
//! - each IPv4 instance of a gateway with at least one BGP session, with
//!   the gateway's ASN; it originates the ranges of the VNets the gateway
//!   serves and, on a VPN gateway, a host route to each BGP peer's address
//!   (withheld from the peers of the same connection);
//! - each site router that speaks BGP (`bird` or `frr`), with its ASN; it
//!   originates the site's address space and passes nothing on to Azure
//!   (the sessions between the routers of one site are the site's own and
//!   carry nothing Azure learns: not modelled, see
//!   [`site_peer_neighbors`]).
//!
//! Sessions: gateway to site (a BGP connection to a local network
//! gateway, held by the router the local network gateway stands for),
//! gateway to gateway (a Vnet2Vnet connection with BGP held on
//! both sides, every instance with every instance of the other), and each
//! instance of an ExpressRoute gateway to the customer edge of the link it
//! ends, met as Microsoft's edge (ASN 12076). A session is up when both
//! ends name each other with the right ASNs.
//!
//! Propagation is a fixpoint over those sessions, by Azure's rules:
//! eBGP, the sender's ASN prepended on export; a route whose AS path holds
//! the receiver's ASN is neither sent nor taken (loop prevention); the
//! best route to a prefix is the one originated here, then the shortest AS
//! path, then the lowest router ID, then the lowest neighbour address;
//! only the best route is passed on, never back to the speaker it came
//! from, never a default route or a route overlapping a served VNet, and
//! never by an ExpressRoute gateway (no transit between circuits); a
//! prefix identical to a served VNet range is refused; a session that
//! would carry more than [`MAX_LEARNED_PREFIXES`] routes is dropped, with
//! nothing learned from it.

pub mod edge;
mod hub;
pub mod neighbors;
pub mod never_up;
pub mod route_server;

pub use edge::{edge_address, edge_neighbors, EdgeNeighbor, EdgeRole};
pub use neighbors::{
    instance_neighbors, peer_host_groups, router_bgp_address, router_neighbors, router_own_address,
    site_peer_neighbors, withheld_from, InstanceNeighbor, RouterNeighbor,
};
pub use never_up::sessions_never_up;
pub use route_server::{appliance_neighbors, route_server_neighbors, route_server_prefixes};

use super::gateways::{
    served_ranges, BgpOrigin, LearnedRoute, LearnedRoutes, MAX_LEARNED_PREFIXES,
};
use super::virtual_wan::hub_gateway_exports;
use crate::topology::{
    CircuitIdx, GatewayIdx, GatewayType, RouteServerIdx, RouterRef, Site, Topology,
    MICROSOFT_EDGE_ASN,
};
use ipnet::{IpNet, Ipv4Net};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

/// Rounds the fixpoint may take. Shortest-path BGP without policies that
/// prefer longer paths settles in at most one round per AS on the longest
/// path; this bound is far above any topology a file can hold.
const MAX_ROUNDS: usize = 256;

fn v4(ip: IpAddr) -> Option<Ipv4Addr> {
    match ip {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(_) => None,
    }
}

fn v4_nets(nets: impl IntoIterator<Item = IpNet>) -> Vec<Ipv4Net> {
    nets.into_iter()
        .filter_map(|n| match n {
            IpNet::V4(n) => Some(n.trunc()),
            IpNet::V6(_) => None,
        })
        .collect()
}

/// Who a speaker is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SpeakerId {
    Instance {
        gateway: GatewayIdx,
        instance: usize,
    },
    /// A site's router (one of its devices).
    Router(RouterRef),
    /// Microsoft's edge router of link `link` of a circuit.
    Edge { circuit: CircuitIdx, link: usize },
    /// Instance `instance` of a Route Server.
    RouteServer {
        route_server: RouteServerIdx,
        instance: usize,
    },
    /// An appliance's speaker, by its index in
    /// [`Topology::appliance_speakers`].
    Appliance(usize),
}

/// One configured neighbour of a speaker, as the speaker sees it.
#[derive(Debug, Clone)]
struct Neighbor {
    /// The neighbour's address.
    address: Ipv4Addr,
    /// The speaker's own address on this session.
    local_address: Ipv4Addr,
    /// The ASN the speaker expects of the neighbour.
    asn: u32,
    /// The ASN the speaker shows the neighbour.
    shown_asn: u32,
    /// The speaker at the other end, when the session comes up.
    peer: Option<usize>,
    /// Who the neighbour is, for an edge router's own export rules.
    role: Option<EdgeRole>,
}

#[derive(Debug, Clone)]
struct Speaker {
    id: SpeakerId,
    asn: u32,
    router_id: Ipv4Addr,
    originated: Vec<Ipv4Net>,
    /// The path an originated prefix carries after the speaker's own ASN
    /// (a hub's VPN gateway's routes of other hubs); none for the others.
    origin_paths: BTreeMap<Ipv4Net, Vec<u32>>,
    /// Host routes of peers, withheld from the peers of one connection.
    withheld: Vec<(Ipv4Addr, Vec<Ipv4Net>)>,
    /// Whether learned routes are passed on (false: sites, ExpressRoute).
    pass_on_learned: bool,
    /// Refused on import: the served VNet ranges.
    reject_exact: Vec<Ipv4Net>,
    /// Refused on import: these ranges and every prefix inside them.
    reject_within: Vec<Ipv4Net>,
    /// Learned routes overlapping these are not passed on.
    deny_overlapping: Vec<Ipv4Net>,
    /// Reflects routes between its iBGP neighbours (a Route Server).
    reflector: bool,
    /// Routes a session may carry; one more and the session is dropped
    /// (a gateway's [`MAX_LEARNED_PREFIXES`], a Route Server's 1000).
    max_prefixes: usize,
    /// Routes learned from the neighbours `.1` are not sent to the
    /// neighbours `.0` (an ExpressRoute gateway beside a Route Server:
    /// nothing from one circuit to another).
    not_handed_on: Option<(Vec<Ipv4Addr>, Vec<Ipv4Addr>)>,
    neighbors: Vec<Neighbor>,
}

impl Neighbor {
    /// A neighbour of a gateway or Route Server instance at
    /// `local_address`, whose own ASN is `own_asn`; none over IPv6.
    fn of_instance(n: InstanceNeighbor, local_address: Ipv4Addr, own_asn: u32) -> Option<Self> {
        Some(Neighbor {
            address: v4(n.address)?,
            local_address,
            asn: n.asn,
            shown_asn: n.local_as.unwrap_or(own_asn),
            peer: None,
            role: None,
        })
    }

    /// A neighbour of a site router or an appliance of ASN `own_asn`;
    /// none over IPv6.
    fn of_router(n: RouterNeighbor, own_asn: u32) -> Option<Self> {
        Some(Neighbor {
            address: v4(n.address)?,
            local_address: v4(n.local_address)?,
            asn: n.asn,
            shown_asn: own_asn,
            peer: None,
            role: None,
        })
    }
}

impl Speaker {
    /// A speaker that originates nothing, passes nothing on and refuses
    /// nothing, with a gateway's prefix limit: what each kind of speaker
    /// changes.
    fn plain(id: SpeakerId, asn: u32, router_id: Ipv4Addr, neighbors: Vec<Neighbor>) -> Self {
        Speaker {
            id,
            asn,
            router_id,
            originated: Vec::new(),
            origin_paths: BTreeMap::new(),
            withheld: Vec::new(),
            pass_on_learned: false,
            reject_exact: Vec::new(),
            reject_within: Vec::new(),
            deny_overlapping: Vec::new(),
            reflector: false,
            max_prefixes: MAX_LEARNED_PREFIXES,
            not_handed_on: None,
            neighbors,
        }
    }
}

/// The IPv4 instances (`instances`, in order) of a gateway or Route
/// Server of ASN `asn` that hold a session, each with its address and
/// its neighbours among `neighbors`.
fn instances_in_session(
    instances: &[IpAddr],
    neighbors: &[InstanceNeighbor],
    asn: u32,
) -> Vec<(usize, Ipv4Addr, Vec<Neighbor>)> {
    instances
        .iter()
        .enumerate()
        .filter_map(|(i, address)| {
            let address = v4(*address)?;
            let neighbors: Vec<Neighbor> = neighbors
                .iter()
                .filter_map(|n| Neighbor::of_instance(*n, address, asn))
                .collect();
            (!neighbors.is_empty()).then_some((i, address, neighbors))
        })
        .collect()
}

/// One route as a speaker receives it from a neighbour.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Received {
    as_path: Vec<u32>,
    /// The sender's address on the session, or over iBGP (but between
    /// edge routers, which set themselves) the next hop it had.
    next_hop: Ipv4Addr,
}

/// What each speaker holds from each neighbour, by neighbour index.
type RibIn = Vec<BTreeMap<Ipv4Net, Received>>;

/// A session of a gateway instance as the model ends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PredictedSession {
    pub neighbor: IpAddr,
    pub asn: u32,
    pub local_address: IpAddr,
    /// `Connected`, `Connecting` (the other end does not answer) or
    /// `Stopped` (dropped for the prefix limit), in Azure's words.
    pub state: &'static str,
    /// Why a session is down, in the words a running lab uses.
    pub reason: Option<String>,
    /// Routes the neighbour sends, before the import policy.
    pub routes_received: u64,
}

/// A route as one speaker advertises it to one neighbour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PredictedAdvertisement {
    pub prefix: IpNet,
    pub next_hop: IpAddr,
    pub as_path: Vec<u32>,
}

/// The fixpoint's result for a whole topology.
#[derive(Debug, Clone)]
pub struct BgpModel {
    speakers: Vec<Speaker>,
    /// Per speaker, per neighbour: what it sent and what it sends now.
    rib_in: Vec<RibIn>,
    /// Per speaker, per neighbour: routes offered before the import policy.
    offered: Vec<Vec<usize>>,
    /// Per speaker, per neighbour: dropped for the prefix limit.
    over_limit: Vec<Vec<bool>>,
}

impl BgpModel {
    /// Builds every speaker and session of `topo` and runs the fixpoint.
    /// A hub's VPN gateway originates the branches of the other hubs,
    /// which their gateways learn: the model runs once for what the
    /// gateways learn, then again with it.
    pub fn of(topo: &Topology) -> BgpModel {
        let first = BgpModel::run(speakers(topo, &LearnedRoutes::default()));
        // A hub's VPN gateway and router announce what the others learned.
        if (topo.virtual_hubs.iter()).all(|h| h.vpn_gateway.is_none() && h.router.is_none()) {
            return first;
        }
        BgpModel::run(speakers(topo, &first.learned(topo)))
    }

    /// The fixpoint over `speakers`' sessions.
    fn run(speakers: Vec<Speaker>) -> BgpModel {
        let n = speakers.len();
        let mut model = BgpModel {
            rib_in: speakers
                .iter()
                .map(|s| vec![BTreeMap::new(); s.neighbors.len()])
                .collect(),
            offered: speakers
                .iter()
                .map(|s| vec![0; s.neighbors.len()])
                .collect(),
            over_limit: speakers
                .iter()
                .map(|s| vec![false; s.neighbors.len()])
                .collect(),
            speakers,
        };
        for _ in 0..MAX_ROUNDS {
            let mut next: Vec<RibIn> = model
                .speakers
                .iter()
                .map(|s| vec![BTreeMap::new(); s.neighbors.len()])
                .collect();
            let mut offered = model.offered.clone();
            let mut over = model.over_limit.clone();
            for to in 0..n {
                for (k, neighbor) in model.speakers[to].neighbors.iter().enumerate() {
                    let Some(from) = neighbor.peer else {
                        continue;
                    };
                    let sent = model.exports(from, neighbor.local_address);
                    offered[to][k] = sent.len();
                    over[to][k] = sent.len() > model.speakers[to].max_prefixes;
                    if over[to][k] {
                        continue;
                    }
                    let receiver = &model.speakers[to];
                    // The import refusals apply to routes learned over
                    // eBGP (the speakers' policies match external routes
                    // only, not to refuse their own).
                    let external = neighbor.asn != receiver.asn;
                    next[to][k] = sent
                        .into_iter()
                        .filter(|(prefix, r)| {
                            !r.as_path.contains(&receiver.asn)
                                && !(external
                                    && (receiver.reject_exact.contains(prefix)
                                        || receiver
                                            .reject_within
                                            .iter()
                                            .any(|w| w.contains(prefix))))
                        })
                        .collect();
                }
            }
            let settled = next == model.rib_in;
            model.rib_in = next;
            model.offered = offered;
            model.over_limit = over;
            if settled {
                break;
            }
        }
        model
    }

    fn index_of(&self, id: SpeakerId) -> Option<usize> {
        self.speakers.iter().position(|s| s.id == id)
    }

    /// The best route of speaker `s` to `prefix`: `None` when it
    /// originates it, else the neighbour it came from.
    fn best(&self, s: usize, prefix: &Ipv4Net) -> Option<Option<usize>> {
        let speaker = &self.speakers[s];
        if speaker.originated.contains(prefix) {
            return Some(None);
        }
        self.rib_in[s]
            .iter()
            .enumerate()
            .filter_map(|(k, routes)| routes.get(prefix).map(|r| (k, r)))
            .min_by_key(|(k, r)| {
                let neighbor = &speaker.neighbors[*k];
                let router_id = neighbor
                    .peer
                    .map_or(neighbor.address, |p| self.speakers[p].router_id);
                let internal = neighbor.asn == speaker.asn;
                (r.as_path.len(), internal, router_id, neighbor.address)
            })
            .map(|(k, _)| Some(k))
    }

    /// What speaker `s` sends the neighbour it meets from `neighbor_address`
    /// (the neighbour's own address), as the neighbour receives it.
    fn exports(&self, s: usize, neighbor_address: Ipv4Addr) -> BTreeMap<Ipv4Net, Received> {
        let speaker = &self.speakers[s];
        let Some(to) = speaker
            .neighbors
            .iter()
            .find(|n| n.address == neighbor_address)
        else {
            return BTreeMap::new();
        };
        let withheld: &[Ipv4Net] = speaker
            .withheld
            .iter()
            .find(|(a, _)| *a == neighbor_address)
            .map_or(&[], |(_, w)| w.as_slice());
        let to_router_id = to.peer.map(|p| self.speakers[p].router_id);
        let mut prefixes: BTreeSet<Ipv4Net> = speaker.originated.iter().copied().collect();
        for routes in &self.rib_in[s] {
            prefixes.extend(routes.keys().copied());
        }
        let mut out = BTreeMap::new();
        for prefix in prefixes {
            let own = to.local_address;
            let (as_path, next_hop) = match self.best(s, &prefix) {
                // Originated: an empty AS path to an iBGP neighbour.
                Some(None) if !withheld.contains(&prefix) => {
                    let tail = speaker.origin_paths.get(&prefix).into_iter().flatten();
                    let own_asn = (to.asn != speaker.asn).then_some(to.shown_asn);
                    (own_asn.into_iter().chain(tail.copied()).collect(), own)
                }
                Some(Some(k)) => {
                    let from = &speaker.neighbors[k];
                    if let (Some(from_role), Some(to_role)) = (from.role, to.role) {
                        if !edge::passes(from_role, to_role) {
                            continue;
                        }
                    }
                    let received = &self.rib_in[s][k][&prefix];
                    let path = &received.as_path;
                    let from_router_id = from.peer.map(|p| self.speakers[p].router_id);
                    // iBGP: what one internal neighbour sent goes to no
                    // other but through a reflector.
                    let internal = |n: &Neighbor| n.asn == speaker.asn;
                    if internal(from) && internal(to) && !speaker.reflector {
                        continue;
                    }
                    if let Some((towards, learned_from)) = &speaker.not_handed_on {
                        if towards.contains(&to.address) && learned_from.contains(&from.address) {
                            continue;
                        }
                    }
                    let overlaps = speaker
                        .deny_overlapping
                        .iter()
                        .any(|d| d.contains(&prefix) || prefix.contains(d));
                    if !speaker.pass_on_learned
                        || prefix.prefix_len() == 0
                        || overlaps
                        || (from_router_id.is_some() && from_router_id == to_router_id)
                        || path.contains(&to.asn)
                    {
                        continue;
                    }
                    match to.role {
                        // iBGP between edge routers: no AS added.
                        Some(EdgeRole::Reach) => (path.clone(), own),
                        // iBGP (a gateway and its Route Server): nor is
                        // the next hop changed.
                        _ if to.asn == speaker.asn => (path.clone(), received.next_hop),
                        Some(EdgeRole::Customer) => (
                            std::iter::once(to.shown_asn)
                                .chain(path.iter().copied().filter(|a| !edge::is_private_asn(*a)))
                                .collect(),
                            own,
                        ),
                        _ => (
                            std::iter::once(to.shown_asn)
                                .chain(path.iter().copied())
                                .collect(),
                            own,
                        ),
                    }
                }
                _ => continue,
            };
            out.insert(prefix, Received { as_path, next_hop });
        }
        out
    }

    /// What every gateway instance learned, as a running lab's speakers
    /// report it: by gateway name, then instance; per neighbour in the
    /// order of its sessions, by prefix.
    pub fn learned(&self, topo: &Topology) -> LearnedRoutes {
        let mut learned = LearnedRoutes::default();
        for (s, speaker) in self.speakers.iter().enumerate() {
            let (name, instance, instances) = match speaker.id {
                SpeakerId::Instance { gateway, instance } => {
                    let gw = &topo.gateways[gateway];
                    (gw.name.clone(), instance, gw.instances.len())
                }
                // An edge router is recorded as a speaker of one instance.
                SpeakerId::Edge { circuit, link } => {
                    (topo.circuits[circuit].edge_router_name(link), 0, 1)
                }
                SpeakerId::RouteServer {
                    route_server,
                    instance,
                } => {
                    let rs = &topo.route_servers[route_server];
                    (rs.name.clone(), instance, rs.instances.len())
                }
                SpeakerId::Router(_) | SpeakerId::Appliance(_) => continue,
            };
            let mut routes = Vec::new();
            for (k, neighbor) in speaker.neighbors.iter().enumerate() {
                for (prefix, r) in &self.rib_in[s][k] {
                    routes.push(LearnedRoute {
                        prefix: IpNet::V4(*prefix),
                        peer: IpAddr::V4(neighbor.address),
                        next_hop: IpAddr::V4(r.next_hop),
                        as_path: r.as_path.clone(),
                        origin: BgpOrigin::Igp,
                    });
                }
            }
            if routes.is_empty() {
                continue;
            }
            let recorded = learned
                .gateways
                .entry(name)
                .or_insert_with(|| vec![Vec::new(); instances]);
            recorded[instance] = routes;
        }
        learned
    }

    /// The sessions of instance `instance` of `gateway`, in the order its
    /// speaker is configured with them; empty when it runs no speaker.
    pub fn sessions(&self, gateway: GatewayIdx, instance: usize) -> Vec<PredictedSession> {
        self.sessions_of(SpeakerId::Instance { gateway, instance })
    }

    /// The sessions of speaker `id`, in the order it is configured with
    /// them; empty when it runs no speaker.
    pub fn sessions_of(&self, id: SpeakerId) -> Vec<PredictedSession> {
        let Some(s) = self.index_of(id) else {
            return Vec::new();
        };
        let speaker = &self.speakers[s];
        speaker
            .neighbors
            .iter()
            .enumerate()
            .map(|(k, n)| {
                let (state, reason) = match (n.peer, self.over_limit[s][k]) {
                    (None, _) => ("Connecting", None),
                    (Some(_), true) => (
                        "Stopped",
                        Some(format!("prefix limit {} exceeded", speaker.max_prefixes)),
                    ),
                    (Some(_), false) => ("Connected", None),
                };
                PredictedSession {
                    neighbor: IpAddr::V4(n.address),
                    asn: n.asn,
                    local_address: IpAddr::V4(n.local_address),
                    state,
                    reason,
                    routes_received: self.offered[s][k] as u64,
                }
            })
            .collect()
    }

    /// The addresses at which vnetd runs a speaker: every gateway's and
    /// Route Server's instances, and the local addresses of every speaker
    /// of the model (site routers and appliances whose daemon vnetd
    /// writes, circuits' edge routers).
    pub fn own_addresses(&self, topo: &Topology) -> BTreeSet<IpAddr> {
        let mut own: BTreeSet<IpAddr> = topo
            .gateways
            .iter()
            .flat_map(|g| g.instances.iter().copied())
            .chain(
                topo.route_servers
                    .iter()
                    .flat_map(|r| r.instances.iter().copied()),
            )
            .collect();
        for speaker in &self.speakers {
            own.insert(IpAddr::V4(speaker.router_id));
            own.extend(
                speaker
                    .neighbors
                    .iter()
                    .map(|n| IpAddr::V4(n.local_address)),
            );
        }
        own
    }

    /// What instance `instance` of `gateway` advertises to `peer`; `None`
    /// when `peer` is not one of its neighbours.
    pub fn advertised(
        &self,
        gateway: GatewayIdx,
        instance: usize,
        peer: IpAddr,
    ) -> Option<Vec<PredictedAdvertisement>> {
        self.advertised_by(SpeakerId::Instance { gateway, instance }, peer)
    }

    /// What speaker `id` advertises to `peer`; `None` when `peer` is not
    /// one of its neighbours.
    pub fn advertised_by(
        &self,
        id: SpeakerId,
        peer: IpAddr,
    ) -> Option<Vec<PredictedAdvertisement>> {
        let s = self.index_of(id)?;
        let peer = v4(peer)?;
        self.speakers[s]
            .neighbors
            .iter()
            .find(|n| n.address == peer)?;
        Some(
            self.exports(s, peer)
                .into_iter()
                .map(|(prefix, r)| PredictedAdvertisement {
                    prefix: IpNet::V4(prefix),
                    next_hop: IpAddr::V4(r.next_hop),
                    as_path: r.as_path,
                })
                .collect(),
        )
    }
}

/// What the gateways' BGP sessions learn once every session the file
/// implies is up: [`BgpModel::learned`] of [`BgpModel::of`].
pub fn expected_learned(topo: &Topology) -> LearnedRoutes {
    BgpModel::of(topo).learned(topo)
}

/// Every speaker of `topo`, with its neighbours joined to the speakers at
/// their other ends; `learned`, what the gateways learned, gives a hub's
/// VPN gateway the branches of the other hubs, and a hub's router the
/// branches it announces to its appliances.
fn speakers(topo: &Topology, learned: &LearnedRoutes) -> Vec<Speaker> {
    let mut out: Vec<Speaker> = Vec::new();
    for (g, gw) in topo.gateways.iter_enumerated() {
        if let Some(exports) = hub_gateway_exports(topo, learned, g) {
            out.extend(hub::gateway_speakers(topo, g, exports));
            continue;
        }
        let served = v4_nets(served_ranges(topo, g));
        let groups = peer_host_groups(topo, g);
        let transit: Option<Vec<Ipv4Addr>> = route_server::express_route_transit(topo, g)
            .map(|edges| edges.into_iter().filter_map(v4).collect());
        let hosts: Vec<Ipv4Net> = groups
            .iter()
            .flatten()
            .filter_map(|a| v4(*a))
            .map(Ipv4Net::from)
            .collect();
        let configured = instance_neighbors(topo, g);
        for (i, address, neighbors) in instances_in_session(&gw.instances, &configured, gw.asn) {
            let withheld = neighbors
                .iter()
                .map(|n| {
                    let w = withheld_from(&groups, IpAddr::V4(n.address))
                        .into_iter()
                        .filter_map(v4)
                        .map(Ipv4Net::from)
                        .collect();
                    (n.address, w)
                })
                .collect();
            let mut originated = served.clone();
            originated.extend(hosts.iter().copied());
            originated.sort();
            originated.dedup();
            let id = SpeakerId::Instance {
                gateway: g,
                instance: i,
            };
            out.push(Speaker {
                originated,
                withheld,
                pass_on_learned: gw.gateway_type != GatewayType::ExpressRoute || transit.is_some(),
                reject_exact: served.clone(),
                deny_overlapping: served.clone(),
                not_handed_on: transit.clone().map(|edges| (edges.clone(), edges)),
                ..Speaker::plain(id, gw.asn, address, neighbors)
            });
        }
    }
    for (s, site) in topo.sites.iter_enumerated() {
        for (r, router) in site.routers.iter().enumerate() {
            let at = RouterRef { site: s, router: r };
            let Some(asn) = router.asn else {
                continue;
            };
            out.extend(router_speaker(topo, at, asn, site));
        }
    }
    for (c, _) in topo.circuits.iter_enumerated() {
        for link in 0..2 {
            let neighbors: Vec<Neighbor> = edge_neighbors(topo, c, link)
                .into_iter()
                .map(|n| Neighbor {
                    address: n.address,
                    local_address: n.local_address,
                    asn: n.asn,
                    shown_asn: MICROSOFT_EDGE_ASN,
                    peer: None,
                    role: Some(n.role),
                })
                .collect();
            if neighbors.is_empty() {
                continue;
            }
            let id = SpeakerId::Edge { circuit: c, link };
            let router_id = edge_address(topo, c, link);
            out.push(Speaker {
                pass_on_learned: true,
                ..Speaker::plain(id, MICROSOFT_EDGE_ASN, router_id, neighbors)
            });
        }
    }
    route_server::speakers(topo, learned, &mut out);
    join_sessions(&mut out);
    out
}

/// The speaker of router `at` of `site` (ASN `asn`), when it has a
/// session.
fn router_speaker(topo: &Topology, at: RouterRef, asn: u32, site: &Site) -> Option<Speaker> {
    let neighbors: Vec<Neighbor> = router_neighbors(topo, at)
        .into_iter()
        .filter_map(|n| Neighbor::of_router(n, asn))
        .collect();
    let router_id = neighbors.first()?.local_address;
    Some(Speaker {
        originated: v4_nets(site.address_space.iter().copied()),
        ..Speaker::plain(SpeakerId::Router(at), asn, router_id, neighbors)
    })
}

/// Joins each speaker's neighbours to the speakers at their other ends.
fn join_sessions(out: &mut [Speaker]) {
    // A session is up when each end names the other's address as its
    // neighbour, from its own address, with the ASN the other shows.
    let ends: Vec<Vec<(Ipv4Addr, Ipv4Addr, u32, u32)>> = out
        .iter()
        .map(|s| {
            s.neighbors
                .iter()
                .map(|n| (n.local_address, n.address, n.shown_asn, n.asn))
                .collect()
        })
        .collect();
    for (a, speaker) in out.iter_mut().enumerate() {
        for n in &mut speaker.neighbors {
            n.peer = ends.iter().enumerate().position(|(b, theirs)| {
                b != a
                    && theirs.iter().any(|&(local, remote, shown, expects)| {
                        local == n.address
                            && remote == n.local_address
                            && shown == n.asn
                            && expects == n.shown_asn
                    })
            });
        }
    }
}

#[cfg(test)]
mod tests;
