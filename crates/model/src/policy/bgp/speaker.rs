//! A speaker of the BGP model: who it is (`SpeakerId`), its configured
//! neighbours, and the policy it applies (what it originates, refuses,
//! withholds and passes on). Every kind of speaker is built from
//! [`Speaker::plain`] by changing what its kind changes.

use super::edge::EdgeRole;
use super::ipv4::v4;
use super::neighbors::{InstanceNeighbor, RouterNeighbor};
use crate::policy::gateways::MAX_LEARNED_PREFIXES;
use crate::topology::{CircuitIdx, GatewayIdx, RouteServerIdx, RouterRef};
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

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
    /// [`Topology::appliance_speakers`](crate::topology::Topology::appliance_speakers).
    Appliance(usize),
}

/// One configured neighbour of a speaker, as the speaker sees it.
#[derive(Debug, Clone)]
pub(super) struct Neighbor {
    /// The neighbour's address.
    pub(super) address: Ipv4Addr,
    /// The speaker's own address on this session.
    pub(super) local_address: Ipv4Addr,
    /// The ASN the speaker expects of the neighbour.
    pub(super) asn: u32,
    /// The ASN the speaker shows the neighbour.
    pub(super) shown_asn: u32,
    /// The speaker at the other end, when the session comes up.
    pub(super) peer: Option<usize>,
    /// Who the neighbour is, for an edge router's own export rules.
    pub(super) role: Option<EdgeRole>,
}

#[derive(Debug, Clone)]
pub(super) struct Speaker {
    pub(super) id: SpeakerId,
    pub(super) asn: u32,
    pub(super) router_id: Ipv4Addr,
    pub(super) originated: Vec<Ipv4Net>,
    /// The path an originated prefix carries after the speaker's own ASN
    /// (a hub's VPN gateway's routes of other hubs); none for the others.
    pub(super) origin_paths: BTreeMap<Ipv4Net, Vec<u32>>,
    /// Host routes of peers, withheld from the peers of one connection.
    pub(super) withheld: Vec<(Ipv4Addr, Vec<Ipv4Net>)>,
    /// Whether learned routes are passed on (false: sites, ExpressRoute).
    pub(super) pass_on_learned: bool,
    /// Refused on import: the served VNet ranges.
    pub(super) reject_exact: Vec<Ipv4Net>,
    /// Refused on import: these ranges and every prefix inside them.
    pub(super) reject_within: Vec<Ipv4Net>,
    /// Learned routes overlapping these are not passed on.
    pub(super) deny_overlapping: Vec<Ipv4Net>,
    /// Reflects routes between its iBGP neighbours (a Route Server).
    pub(super) reflector: bool,
    /// Routes a session may carry; one more and the session is dropped
    /// (a gateway's [`MAX_LEARNED_PREFIXES`], a Route Server's 1000).
    pub(super) max_prefixes: usize,
    /// Routes learned from the neighbours `.1` are not sent to the
    /// neighbours `.0` (an ExpressRoute gateway beside a Route Server:
    /// nothing from one circuit to another).
    pub(super) not_handed_on: Option<(Vec<Ipv4Addr>, Vec<Ipv4Addr>)>,
    pub(super) neighbors: Vec<Neighbor>,
}

impl Neighbor {
    /// A neighbour of a gateway or Route Server instance at
    /// `local_address`, whose own ASN is `own_asn`; none over IPv6.
    pub(super) fn of_instance(
        n: InstanceNeighbor,
        local_address: Ipv4Addr,
        own_asn: u32,
    ) -> Option<Self> {
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
    pub(super) fn of_router(n: RouterNeighbor, own_asn: u32) -> Option<Self> {
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
    pub(super) fn plain(
        id: SpeakerId,
        asn: u32,
        router_id: Ipv4Addr,
        neighbors: Vec<Neighbor>,
    ) -> Self {
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
pub(super) fn instances_in_session(
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
