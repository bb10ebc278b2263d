//! The BGP model's fixpoint: propagation over every session the speakers
//! hold, by the rules the parent module lists, and what it ends with: each
//! session's state, what each gateway learned, what each speaker
//! advertises to each neighbour.

use super::edge::{self, EdgeRole};
use super::ipv4::v4;
use super::speaker::{Neighbor, Speaker, SpeakerId};
use super::speakers::speakers;
use crate::policy::gateways::{BgpOrigin, LearnedRoute, LearnedRoutes};
use crate::topology::{GatewayIdx, Topology};
use ipnet::{IpNet, Ipv4Net};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

/// Rounds the fixpoint may take. Shortest-path BGP without policies that
/// prefer longer paths settles in at most one round per AS on the longest
/// path; this bound is far above any topology a file can hold.
const MAX_ROUNDS: usize = 256;

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
