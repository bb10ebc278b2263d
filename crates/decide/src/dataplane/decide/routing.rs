//! Routing (steps 1-2 and 4-7): the sender's checks, the deciding route
//! and where it leads (a NIC, a gateway's tunnel or peer, or a load
//! balancer's frontend), peering and the destination check.

use super::observer::DecisionObserver;
use super::{DropReason, Verdict};
use crate::dataplane::packet::PacketView;
use crate::net::PacketKey;
use crate::snapshot::PortIdx;
use crate::snapshot::{FrontendIdx, GatewayHop, Holder, RouteTarget, Snapshot, Unobserved};
use crate::topology::PROBE_SOURCE;
use crate::topology::{GatewayIdx, NextHopType};
use std::net::IpAddr;

/// Steps 1-2 at the sender: the protocol and destination must be
/// forwardable, and a NIC without IP forwarding may only send from its own
/// addresses.
#[inline]
pub fn sender_checks(
    snap: &Snapshot,
    ingress: PortIdx,
    view: &PacketView,
) -> Result<(), DropReason> {
    let Some(sender) = snap.nics.get(ingress) else {
        return Err(DropReason::Malformed);
    };
    if view.blocked_protocol {
        return Err(DropReason::BlockedProtocol);
    }
    if view.unroutable_destination {
        return Err(DropReason::Unroutable);
    }
    if !sender.ip_forwarding && !sender.owns(view.key.src) {
        return Err(DropReason::SourceCheck);
    }
    Ok(())
}

/// Where the fabric takes a packet: the sending subnet's deciding route
/// (a row of [`Snapshot::nic_routes`]; none for the health prober, whose
/// packets no route decides) and where it leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hop {
    pub row: Option<usize>,
    pub to: HopTo,
}

/// Where a hop leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HopTo {
    /// This NIC receives the packet.
    Nic(PortIdx),
    /// An internal load balancer's frontend: `addressed` when the packet is
    /// sent to the frontend address, else the frontend is a route's next
    /// hop. The backend is chosen by [`balance`](super::balance).
    Frontend {
        frontend: FrontendIdx,
        addressed: bool,
    },
}

/// Steps 4-7 for a packet from `ingress`: the deciding route, the
/// receiving NIC (or load-balancer frontend), the peering crossed and the
/// receiver's destination check. A refusal is the drop, with the hop that
/// refused.
///
/// A route to a gateway continues in the gateway's own table: into a
/// site's tunnel (the instance chosen by flow hash among those carrying the
/// prefix, or the sending instance itself for its own packets), or to a
/// Vnet2Vnet peer, whose GatewaySubnet's routes then decide. Traffic that
/// entered through a gateway is the gateway's, not forwarded traffic, so
/// it is not refused by a peering that does not accept forwarded traffic
/// (gateway transit).
///
/// Health probes travel between the VNet's prober port (168.63.129.16)
/// and the backends without routes: Azure's platform address is exempt
/// from user routes.
#[inline]
pub fn route_step(snap: &Snapshot, ingress: PortIdx, key: &PacketKey) -> Result<Hop, Verdict> {
    route_step_observed(snap, ingress, key, &Unobserved)
}

/// [`route_step`], or [`route_step_observed`] for an observer that
/// listens.
#[inline(always)]
pub(super) fn route_step_for<O: DecisionObserver + ?Sized>(
    snap: &Snapshot,
    ingress: PortIdx,
    key: &PacketKey,
    observer: &O,
) -> Result<Hop, Verdict> {
    match observer.observes() {
        false => route_step(snap, ingress, key),
        true => route_step_observed(snap, ingress, key, observer),
    }
}

/// [`route_step`], telling `observer` the deciding route (as soon as it
/// is found, so a refusal after the lookup still names it) and each
/// gateway the packet reaches, in order (a gateway a route leads to, and
/// each Vnet2Vnet peer it is handed to; one gateway may be told twice in
/// a row).
///
/// Inlined where it is called: [`route_step`] is then the whole step, as
/// the per-packet path had it when only one caller instantiated it (called
/// out of line, it cost a full decision 10-80 instructions more, by
/// `scripts/count-decide-instructions.sh`).
#[inline(always)]
pub fn route_step_observed<O: DecisionObserver + ?Sized>(
    snap: &Snapshot,
    ingress: PortIdx,
    key: &PacketKey,
    observer: &O,
) -> Result<Hop, Verdict> {
    let (src, dst) = (key.src, key.dst);
    let drop = |reason, at| Err(Verdict::dropped(reason, at));
    let Some(sender) = snap.nics.get(ingress) else {
        return drop(DropReason::Malformed, ingress);
    };
    // The subnet whose route `target` is: the sender's, or a Vnet2Vnet
    // peer gateway's GatewaySubnet.
    let mut deciding = snap.nic_routes(ingress);
    let (row, mut target) = if sender.kind.is_prober() {
        (None, RouteTarget::Vnet(sender.vnet))
    } else {
        match deciding.decide(dst) {
            Some(row) => {
                observer.routed(ingress, row);
                (Some(row), deciding.targets[row])
            }
            None => return drop(DropReason::NoRoute, ingress),
        }
    };
    let mut from_vnet = sender.vnet;
    let mut via_gateway = sender.kind.enters_through_gateway();
    // A gateway hands on to a peer gateway at most once per packet's pass
    // through the fabric; more is a loop between gateways.
    let mut gateway_hops = 0;
    let (to, receiver_vnet) = loop {
        match target {
            RouteTarget::Vnet(vnet) => match snap.forwarding.holder(vnet, dst) {
                Some(Holder::Nic(nic)) => break (HopTo::Nic(nic), vnet),
                Some(Holder::Frontend(frontend)) => {
                    let addressed = true;
                    break (
                        HopTo::Frontend {
                            frontend,
                            addressed,
                        },
                        vnet,
                    );
                }
                None => return drop(DropReason::NoDestination, ingress),
            },
            RouteTarget::Appliance { nic, vnet } => break (HopTo::Nic(nic), vnet),
            RouteTarget::Appliances { set } => {
                let set = &deciding.appliance_sets[set as usize];
                let (nic, vnet) = set[(flow_hash(key) % set.len() as u64) as usize];
                break (HopTo::Nic(nic), vnet);
            }
            RouteTarget::Balanced { frontend, vnet } => {
                let addressed = false;
                break (
                    HopTo::Frontend {
                        frontend,
                        addressed,
                    },
                    vnet,
                );
            }
            RouteTarget::ApplianceUnreachable => {
                return drop(DropReason::ApplianceUnreachable, ingress)
            }
            RouteTarget::Nowhere => {
                // Replies to the health probes end at the VNet's prober.
                if dst == IpAddr::V4(PROBE_SOURCE) {
                    if let Some(prober) = snap.prober(from_vnet) {
                        break (HopTo::Nic(prober), from_vnet);
                    }
                }
                let row = row.unwrap_or_default();
                let reason = match snap.nic_routes(ingress).routes[row].next_hop_type {
                    // A service endpoint's traffic leaves by the edge too.
                    NextHopType::Internet | NextHopType::VirtualNetworkServiceEndpoint => {
                        DropReason::NextHopInternet
                    }
                    NextHopType::VirtualNetworkGateway => DropReason::NextHopGateway,
                    _ => DropReason::RouteNone,
                };
                return drop(reason, ingress);
            }
            RouteTarget::Gateway(gateway) => {
                observer.gateway_crossed(gateway);
                let tables = &snap.gateways[gateway];
                if branch_transit_refused(snap, sender.kind.tunnel_gateway(), gateway) {
                    return drop(DropReason::BranchToBranch, ingress);
                }
                if gateway_hops == 0 && tables.vnet != from_vnet {
                    // A spoke reaching the hub's gateway crosses the peering.
                    let crossing = snap.forwarding.crossing(from_vnet, tables.vnet);
                    if !crossing.connected {
                        return drop(DropReason::PeeringNotConnected, ingress);
                    }
                    if !crossing.access {
                        return drop(DropReason::PeeringAccessOff, ingress);
                    }
                }
                match tables.hop(dst) {
                    Some(GatewayHop::Tunnels(ports)) => {
                        let own = (sender.kind.gateway_instance())
                            .filter(|(g, _)| *g == gateway)
                            .map(|(_, i)| i);
                        let tunnel = choose_tunnel(ports, own, key);
                        if let (Some(from), Some(to)) = (
                            sender.circuit,
                            snap.nics.get(tunnel).and_then(|t| t.circuit),
                        ) {
                            if from != to {
                                return drop(DropReason::CircuitTransit, ingress);
                            }
                        }
                        break (HopTo::Nic(tunnel), tables.vnet);
                    }
                    Some(GatewayHop::Gateway(peer)) if gateway_hops < MAX_GATEWAY_HOPS => {
                        gateway_hops += 1;
                        observer.gateway_crossed(*peer);
                        let peer = &snap.gateways[*peer];
                        let Some(subnet) = snap.subnet_tables(peer.subnet) else {
                            return drop(DropReason::GatewayNoRoute, ingress);
                        };
                        let Some(next) = subnet.decide(dst) else {
                            return drop(DropReason::NoRoute, ingress);
                        };
                        target = subnet.targets[next];
                        deciding = subnet;
                        from_vnet = peer.vnet;
                        via_gateway = true;
                    }
                    Some(GatewayHop::Gateway(_)) => return drop(DropReason::GatewayLoop, ingress),
                    Some(GatewayHop::Unreachable) | None => {
                        return drop(DropReason::GatewayNoRoute, ingress)
                    }
                }
            }
        }
    };
    if receiver_vnet != from_vnet {
        let crossing = snap.forwarding.crossing(from_vnet, receiver_vnet);
        let refused_at = match to {
            HopTo::Nic(nic) => nic,
            HopTo::Frontend { .. } => ingress,
        };
        if !crossing.connected {
            return drop(DropReason::PeeringNotConnected, ingress);
        }
        if !crossing.access {
            return drop(DropReason::PeeringAccessOff, ingress);
        }
        if !crossing.forwarded && !via_gateway && !snap.forwarding.in_vnet(from_vnet, src) {
            return drop(DropReason::ForwardedTrafficRefused, refused_at);
        }
    }
    if let HopTo::Nic(receiver) = to {
        if !receives(snap, receiver, dst) {
            return drop(DropReason::DestinationCheck, receiver);
        }
    }
    Ok(Hop { row, to })
}

/// Whether a packet that came in from a site through gateway `entered`
/// may not go on to `gateway`'s sites: from a branch of a virtual hub to a
/// branch of it or of another hub without the WAN's branch-to-branch
/// traffic, and from a circuit of a hub to a circuit of it or of another
/// hub ever (no ExpressRoute-to-ExpressRoute transit without Global
/// Reach); from a VPN site to an ExpressRoute one of the same VNet, or
/// back, without its Route Server's branch-to-branch.
#[inline(always)]
fn branch_transit_refused(
    snap: &Snapshot,
    entered: Option<GatewayIdx>,
    gateway: GatewayIdx,
) -> bool {
    let Some(entered) = entered else {
        return false;
    };
    let (from, to) = (&snap.gateways[entered], &snap.gateways[gateway]);
    if let (Some(_), Some(allowed)) = (from.hub_branch_to_branch, to.hub_branch_to_branch) {
        return !allowed || (from.express_route && to.express_route);
    }
    entered != gateway
        && from.vnet == to.vnet
        && from.express_route != to.express_route
        && !to.branch_to_branch
}

/// Step 7, the destination check: a NIC without IP forwarding receives
/// only packets for its own addresses.
#[inline(always)]
pub(super) fn receives(snap: &Snapshot, nic: PortIdx, dst: IpAddr) -> bool {
    let recipient = &snap.nics[nic];
    recipient.ip_forwarding || recipient.owns(dst)
}

/// How many times one packet may be handed from a gateway to a peer
/// gateway (Vnet2Vnet) before the fabric calls it a loop.
const MAX_GATEWAY_HOPS: usize = 2;

/// The tunnel a packet leaves a gateway by: the sending instance's own for
/// its own packets (its BGP session), else one chosen by the flow's hash.
#[inline]
fn choose_tunnel(ports: &[(usize, PortIdx)], own: Option<usize>, key: &PacketKey) -> PortIdx {
    if let Some(&(_, port)) = own.and_then(|i| ports.iter().find(|(inst, _)| *inst == i)) {
        return port;
    }
    ports[(flow_hash(key) % ports.len() as u64) as usize].1
}

/// A hash of a flow's 5-tuple, the same for every packet of the flow.
#[inline]
pub fn flow_hash(key: &PacketKey) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    key.hash(&mut h);
    h.finish()
}
