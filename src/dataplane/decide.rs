//! The per-packet decision: given the snapshot, the flow state, the NIC a
//! packet came from and its bytes, where does it go? A pure function of its
//! inputs (apart from recording flows), with no allocation, lock or syscall.
//!
//! The checks run in Azure's order:
//!
//! 1. the packet must be readable IP (else dropped as malformed); GRE and
//!    IP-in-IP are blocked, broadcast and multicast never delivered;
//! 2. source check: a NIC without IP forwarding may only send from its own
//!    addresses;
//! 3. outbound NSGs of the sending NIC (NIC, then subnet), skipped for
//!    packets of a flow already admitted there (stateful);
//! 4. longest-prefix match in the sending subnet's effective routes; None,
//!    Internet and VirtualNetworkGateway next hops have nowhere to go;
//! 5. the receiving NIC: the owner of the destination address (VnetLocal,
//!    peering) or the appliance (VirtualAppliance);
//! 6. peering checks when the packet changes VNet: Connected, access on
//!    both links, and forwarded traffic accepted by the receiving VNet's
//!    link when the packet did not start in the sending VNet;
//! 7. destination check: a NIC without IP forwarding only receives packets
//!    for its own addresses;
//! 8. inbound NSGs of the receiving NIC (subnet, then NIC), again skipped
//!    for admitted flows.
//!
//! Everything read per packet comes from the snapshot's compiled tables
//! (per-NIC facts, routes, forwarding owners, classifiers), never from the
//! topology model behind them.
//!
//! The fabric is transparent: TTL is not touched, and denied packets vanish
//! without an ICMP error, as in Azure. Routes, peering and IP forwarding are
//! read from the current snapshot for every packet; only NSG verdicts are
//! remembered per flow.

use super::nat::Rewrite;
use super::packet::{PacketView, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN};
use crate::engine::flow_table::FlowHandle;
use crate::net::{PacketKey, IPPROTO_TCP};
use crate::snapshot::{
    FrontendIdx, FrontendTables, GatewayHop, Holder, LbBackend, LbRuleTables, NsgVerdict,
    RouteTarget, RuleId, Snapshot,
};
use crate::topology::PROBE_SOURCE;
use crate::topology::{Access, Direction, NextHopType, NicIdx};
use std::net::IpAddr;

/// Why a packet was dropped. The discriminants index per-NIC counters.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::IntoStaticStr,
    strum::EnumCount,
    strum::VariantArray,
)]
#[strum(serialize_all = "snake_case")]
#[repr(u8)]
pub enum DropReason {
    /// Not a readable IPv4/IPv6 packet.
    Malformed = 0,
    /// GRE or IP-in-IP, which Azure blocks.
    BlockedProtocol,
    /// Broadcast, multicast or unspecified destination.
    Unroutable,
    /// A NIC without IP forwarding sent from an address it does not own.
    SourceCheck,
    /// Denied by an outbound NSG rule of the sending NIC.
    NsgOutbound,
    /// No effective route matches the destination.
    NoRoute,
    /// The deciding route has next hop None.
    RouteNone,
    /// The deciding route goes to the Internet, which the lab does not have.
    NextHopInternet,
    /// The deciding route goes to a virtual network gateway, and there is
    /// none (a user route to VirtualNetworkGateway in a VNet without one).
    NextHopGateway,
    /// A VirtualAppliance route whose address is no directly reachable NIC.
    ApplianceUnreachable,
    /// No NIC owns the destination address in the VNet the route leads to.
    NoDestination,
    /// The packet would cross a peering that is not Connected.
    PeeringNotConnected,
    /// `allow_virtual_network_access` is off on a link of the peering.
    PeeringAccessOff,
    /// The receiving VNet's link does not accept forwarded traffic.
    ForwardedTrafficRefused,
    /// A NIC without IP forwarding received a packet not addressed to it.
    DestinationCheck,
    /// Denied by an inbound NSG rule of the receiving NIC.
    NsgInbound,
    /// The egress device could not take the packet (its queue was full).
    EgressFull,
    /// The egress device is gone or broken (its namespace was deleted
    /// behind the lab's back, or the device reports an I/O error).
    EgressGone,
    /// Writing to the egress device failed for another reason.
    EgressError,
    /// Reading from the NIC's device failed (not merely "nothing to read");
    /// counted at the NIC, whose queue is no longer watched.
    ReceiveError,
    /// A later fragment of a datagram whose first fragment was not let
    /// through (or not seen, or too long ago): its ports are unknown.
    FragmentUnmatched,
    /// The gateway's own table has no route for the destination (or no
    /// tunnel of an instance that knows it).
    GatewayNoRoute,
    /// Gateways handed the packet to each other more than twice.
    GatewayLoop,
    /// Entered from one ExpressRoute circuit and would leave by another:
    /// an ExpressRoute gateway carries no circuit-to-circuit traffic
    /// (Azure's answer is Global Reach, which bypasses the VNet).
    CircuitTransit,
    /// Sent to a load balancer's frontend, but no rule of the frontend
    /// carries its protocol and port (or, through a route to the frontend,
    /// it has no HA-ports rule).
    LbNoRule,
    /// The load balancer's rule has no healthy backend for a new flow.
    LbNoHealthyBackend,
    /// A backend sent through its own load balancer's frontend, which
    /// Azure does not hairpin (or answered a flow sent from a frontend's
    /// own address, which no client owns).
    LbHairpin,
}

impl DropReason {
    pub const COUNT: usize = <Self as strum::EnumCount>::COUNT;

    /// Every reason, in discriminant order.
    pub const ALL: [DropReason; Self::COUNT] = {
        let variants = <Self as strum::VariantArray>::VARIANTS;
        let mut all = [DropReason::Malformed; Self::COUNT];
        let mut i = 0;
        while i < Self::COUNT {
            all[i] = variants[i];
            i += 1;
        }
        all
    };

    /// The name used in `stats`, `flows` and metrics: the variant in
    /// snake case.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// What happens to a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Write it, unchanged, to this NIC.
    Deliver(NicIdx),
    /// Rewrite it (a load balancer's translation, see [`super::nat`]) and
    /// write it to this NIC.
    Translate { nic: NicIdx, rewrite: Rewrite },
    /// Drop it. `at` is the hop whose check refused it: the sender for
    /// source-side checks, the receiver for destination-side ones. `rule`
    /// is the NSG rule that denied it ([`RuleId::NONE`] for every other
    /// reason), so that flow logs and traces name the rule as decided,
    /// whatever is applied afterwards.
    Drop {
        reason: DropReason,
        at: NicIdx,
        rule: RuleId,
    },
}

impl Verdict {
    /// The NIC the packet is written to, if it is delivered.
    #[inline]
    pub fn egress(&self) -> Option<NicIdx> {
        match *self {
            Verdict::Deliver(nic) | Verdict::Translate { nic, .. } => Some(nic),
            Verdict::Drop { .. } => None,
        }
    }

    /// A drop that no NSG rule decided.
    #[inline]
    pub const fn dropped(reason: DropReason, at: NicIdx) -> Verdict {
        Verdict::Drop {
            reason,
            at,
            rule: RuleId::NONE,
        }
    }
}

/// A packet found to belong to an admitted flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Admission {
    /// The snapshot generation the flow's NSG verdict was taken under.
    pub generation: u64,
    /// The packet is a reply (the flow was admitted in the other direction).
    pub reply: bool,
    /// Where the tracker found the flow, so that `refresh`, `revoke` and
    /// `closing` act on it without looking it up again
    /// ([`FlowHandle::NONE`] for trackers without handles).
    pub handle: FlowHandle,
    /// When the flow's entry was last seen before this packet (its
    /// timestamps are coarse milliseconds since the daemon started).
    pub last_seen_ms: u64,
}

/// What the load balancer's step needs of an admission by state: when the
/// flow's verdict was taken, and when the flow was last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmittedAt {
    pub generation: u64,
    pub last_seen_ms: u64,
}

impl AdmittedAt {
    #[inline]
    fn of(admission: &Admission) -> AdmittedAt {
        AdmittedAt {
            generation: admission.generation,
            last_seen_ms: admission.last_seen_ms,
        }
    }
}

/// Connection tracking as the decision needs it. A flow is tracked per NIC
/// and direction; a packet is admitted at a NIC when it belongs to a flow
/// admitted there in the same direction, or is the reply of a flow admitted
/// there in the other direction.
pub trait Conntrack {
    /// The admitted flow the packet belongs to at `nic`, if any; counts it.
    fn admitted(
        &self,
        nic: NicIdx,
        direction: Direction,
        packet: &PacketView,
        now_ms: u64,
    ) -> Option<Admission>;
    /// Records a flow just allowed by the NSGs of `nic`. `rule` is the
    /// stable number of the rule that allowed it (see
    /// [`crate::snapshot::RuleNames`]); `idle_timeout_ms` is the VNet's flow
    /// timeout.
    #[allow(clippy::too_many_arguments)]
    fn admit(
        &self,
        nic: NicIdx,
        direction: Direction,
        packet: &PacketView,
        rule: RuleId,
        generation: u64,
        idle_timeout_ms: u64,
        now_ms: u64,
    );
    /// The flow `admission` came from was judged again and is still
    /// allowed, under `generation`, by `rule`.
    #[allow(clippy::too_many_arguments)]
    fn refresh(
        &self,
        nic: NicIdx,
        direction: Direction,
        packet: &PacketView,
        admission: Admission,
        rule: RuleId,
        generation: u64,
        now_ms: u64,
    );
    /// The flow `admission` came from was judged again and is now denied.
    fn revoke(
        &self,
        nic: NicIdx,
        direction: Direction,
        packet: &PacketView,
        admission: Admission,
        now_ms: u64,
    );
    /// An admitted TCP packet carried FIN or RST: its connection is ending,
    /// so the flow `admission` came from may idle out within
    /// [`CLOSING_IDLE_TIMEOUT_MS`] instead of the VNet's minutes (flow logs
    /// then report its end promptly). Trackers without timeouts ignore it.
    fn closing(
        &self,
        _nic: NicIdx,
        _direction: Direction,
        _packet: &PacketView,
        _admission: Admission,
        _now_ms: u64,
    ) {
    }
    /// The ports of the datagram whose later fragment `packet` is, as its
    /// first fragment, sent by `nic` and let through, carried them.
    /// Trackers without memory know none.
    fn fragment_ports(
        &self,
        _nic: NicIdx,
        _packet: &PacketView,
        _now_ms: u64,
    ) -> Option<(u16, u16)> {
        None
    }
    /// The first fragment `packet` of a datagram sent by `nic` was let
    /// through: its later fragments follow it.
    fn first_fragment_passed(&self, _nic: NicIdx, _packet: &PacketView, _now_ms: u64) {}
    /// The backend a load-balanced flow through `frontend` was pinned to,
    /// found by the packet as sent (a flow's packets, and with a
    /// translated destination its backend's replies, or without one the
    /// replies routed through the frontend); counts the packet. Trackers
    /// without memory pin nothing: every packet is placed by the hash.
    fn pinned(
        &self,
        _frontend: &FrontendTables,
        _packet: &PacketView,
        _now_ms: u64,
    ) -> Option<Pin> {
        None
    }
    /// Pins the new flow `packet` (as sent) through `frontend` to
    /// `backend`. `reply_source` is where the backend's replies come from
    /// (the translated destination, or the original one).
    #[allow(clippy::too_many_arguments)]
    fn pin(
        &self,
        _frontend: &FrontendTables,
        _packet: &PacketView,
        _backend: NicIdx,
        _reply_source: (IpAddr, u16),
        _translated: bool,
        _idle_timeout_ms: u64,
        _now_ms: u64,
    ) {
    }
    /// Forgets a pin (its backend left the pool, or a UDP flow moves off a
    /// backend that went down).
    fn unpin(&self, _pin: &Pin, _now_ms: u64) {}
    /// A pinned TCP flow saw a FIN or RST: its pin may idle out within
    /// [`CLOSING_IDLE_TIMEOUT_MS`].
    fn closing_pin(&self, _pin: &Pin) {}
    /// How pins name `nic` (see [`Pin::backend`]).
    fn backend_id(&self, nic: NicIdx) -> u32 {
        nic.index() as u32
    }
}

/// A load-balanced flow's pin, as [`Conntrack::pinned`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    /// The backend, as [`Conntrack::backend_id`] names it.
    pub backend: u32,
    /// The destination port the flow's first packet was sent to.
    pub original_port: u16,
    /// The destination was translated to the backend.
    pub translated: bool,
    /// The packet is the reply direction of the pinned flow.
    pub reply: bool,
    pub handle: FlowHandle,
}

/// Idle timeout of a TCP flow once a FIN or RST has been seen: long enough
/// for the last ACKs and a retransmitted FIN, short enough that the flow's
/// end is noticed within seconds.
pub const CLOSING_IDLE_TIMEOUT_MS: u64 = 5_000;

/// No connection tracking: every packet is judged by the NSG rules alone.
/// This is how Azure behaves for the rules it evaluates statelessly, and a
/// reference for tests.
pub struct Stateless;

impl Conntrack for Stateless {
    fn admitted(&self, _: NicIdx, _: Direction, _: &PacketView, _: u64) -> Option<Admission> {
        None
    }
    fn admit(&self, _: NicIdx, _: Direction, _: &PacketView, _: RuleId, _: u64, _: u64, _: u64) {}
    fn refresh(
        &self,
        _: NicIdx,
        _: Direction,
        _: &PacketView,
        _: Admission,
        _: RuleId,
        _: u64,
        _: u64,
    ) {
    }
    fn revoke(&self, _: NicIdx, _: Direction, _: &PacketView, _: Admission, _: u64) {}
}

/// What the NSGs of one NIC say of a packet in one direction, without
/// flow state: the verdict, where it was decided, and the rule's stable id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NsgJudgement {
    pub verdict: NsgVerdict,
    pub rule: RuleId,
}

/// Step 3 and 8 without state: the NSG stages of `nic` in `direction` on
/// `key`. Forwarding runs it for every packet no flow admits;
/// `flow-verify` runs it for its question.
#[inline]
pub fn judge_nsgs(
    snap: &Snapshot,
    nic: NicIdx,
    direction: Direction,
    key: &PacketKey,
) -> NsgJudgement {
    let verdict = snap.evaluate(nic, direction, key);
    NsgJudgement {
        verdict,
        rule: snap.rule_id(nic, direction, &verdict),
    }
}

/// Runs the NSGs of `nic` in `direction` unless the packet belongs to an
/// admitted flow; records the flow when the rules allow it. Flows are
/// tracked even where no NSG is associated, so that an NSG added later
/// leaves established connections alone, as in Azure. An admitted flow is
/// judged again only when the snapshot changed since its verdict and one
/// of the NSGs on its path has `flush_connection` set. A denial names the
/// rule that denied; an admission by state is returned.
#[inline]
fn nsg_admits<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    nic: NicIdx,
    direction: Direction,
    view: &PacketView,
    now_ms: u64,
) -> Result<Option<AdmittedAt>, RuleId> {
    if let Some(admission) = flows.admitted(nic, direction, view, now_ms) {
        let flow_direction = if admission.reply {
            direction.opposite()
        } else {
            direction
        };
        if view.tcp_flags & (TCP_FIN | TCP_RST) != 0 {
            flows.closing(nic, direction, view, admission, now_ms);
        }
        if admission.generation == snap.generation || !snap.nics[nic].flushes(flow_direction) {
            return Ok(Some(AdmittedAt::of(&admission)));
        }
        // Judge the flow as its first packet was judged: same direction,
        // same orientation.
        let key = if admission.reply {
            view.key.reversed()
        } else {
            view.key
        };
        let judged = judge_nsgs(snap, nic, flow_direction, &key);
        if judged.verdict.access == Access::Deny {
            flows.revoke(nic, direction, view, admission, now_ms);
            return Err(judged.rule);
        }
        flows.refresh(
            nic,
            direction,
            view,
            admission,
            judged.rule,
            snap.generation,
            now_ms,
        );
        return Ok(Some(AdmittedAt::of(&admission)));
    }
    let judged = judge_nsgs(snap, nic, direction, &view.key);
    if judged.verdict.access == Access::Deny {
        return Err(judged.rule);
    }
    let timeout_ms = snap.nics[nic].flow_timeout_ms;
    flows.admit(
        nic,
        direction,
        view,
        judged.rule,
        snap.generation,
        timeout_ms,
        now_ms,
    );
    Ok(None)
}

/// Decides the fate of one IP packet (without the virtio-net header) sent by
/// `ingress`.
pub fn decide<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    ingress: NicIdx,
    packet: &[u8],
    now_ms: u64,
) -> Verdict {
    let Ok(view) = PacketView::parse(packet) else {
        return Verdict::dropped(DropReason::Malformed, ingress);
    };
    decide_parsed(snap, flows, ingress, &view, now_ms)
}

/// [`decide`] on an already parsed packet.
///
/// Fragments: only the first fragment of a datagram carries its ports. It
/// is judged like any packet, and when it is let through its ports are
/// remembered; the datagram's later fragments are judged with those ports
/// (so they follow the first fragment's flow and verdict), and dropped as
/// [`DropReason::FragmentUnmatched`] when there are none.
#[inline]
pub fn decide_parsed<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    ingress: NicIdx,
    view: &PacketView,
    now_ms: u64,
) -> Verdict {
    if view.fragment.is_some() {
        return decide_fragment(snap, flows, ingress, view, now_ms);
    }
    decide_packet(snap, flows, ingress, view, now_ms)
}

/// [`decide_parsed`] for a fragment: kept out of line, so the common path
/// of whole packets stays one inlined [`decide_packet`].
#[cold]
#[inline(never)]
fn decide_fragment<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    ingress: NicIdx,
    view: &PacketView,
    now_ms: u64,
) -> Verdict {
    match view.fragment {
        Some(fragment)
            if view.fragment_needs_ports()
                && !view.blocked_protocol
                && !view.unroutable_destination =>
        {
            if fragment.first {
                let verdict = decide_packet(snap, flows, ingress, view, now_ms);
                if verdict.egress().is_some() {
                    flows.first_fragment_passed(ingress, view, now_ms);
                }
                verdict
            } else {
                match flows.fragment_ports(ingress, view, now_ms) {
                    Some(ports) => decide_packet(
                        snap,
                        flows,
                        ingress,
                        &view.with_datagram_ports(ports),
                        now_ms,
                    ),
                    None => Verdict::dropped(DropReason::FragmentUnmatched, ingress),
                }
            }
        }
        _ => decide_packet(snap, flows, ingress, view, now_ms),
    }
}

/// Steps 1-2 at the sender: the protocol and destination must be
/// forwardable, and a NIC without IP forwarding may only send from its own
/// addresses.
#[inline]
pub fn sender_checks(
    snap: &Snapshot,
    ingress: NicIdx,
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
    Nic(NicIdx),
    /// An internal load balancer's frontend: `addressed` when the packet is
    /// sent to the frontend address, else the frontend is a route's next
    /// hop. The backend is chosen by [`balance`].
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
pub fn route_step(snap: &Snapshot, ingress: NicIdx, key: &PacketKey) -> Result<Hop, Verdict> {
    let (src, dst) = (key.src, key.dst);
    let drop = |reason, at| Err(Verdict::dropped(reason, at));
    let Some(sender) = snap.nics.get(ingress) else {
        return drop(DropReason::Malformed, ingress);
    };
    // Global Reach: from one circuit straight into another, no VNet.
    if let Some((_, ports)) = sender
        .global_reach
        .iter()
        .find(|(range, _)| range.contains(&dst))
    {
        let tunnel = choose_tunnel(ports, sender.tunnel_instance, key);
        return Ok(Hop {
            row: None,
            to: HopTo::Nic(tunnel),
        });
    }
    let (row, mut target) = if sender.prober {
        (None, RouteTarget::Vnet(sender.vnet))
    } else {
        match snap.route_target(ingress, dst) {
            Some((row, target)) => (Some(row), target),
            None => return drop(DropReason::NoRoute, ingress),
        }
    };
    let mut from_vnet = sender.vnet;
    let mut via_gateway = sender.gateway_port;
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
                    NextHopType::Internet => DropReason::NextHopInternet,
                    NextHopType::VirtualNetworkGateway => DropReason::NextHopGateway,
                    _ => DropReason::RouteNone,
                };
                return drop(reason, ingress);
            }
            RouteTarget::Gateway(gateway) => {
                let tables = &snap.gateways[gateway];
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
                        let own = sender
                            .gateway_instance
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
                        let peer = &snap.gateways[*peer];
                        let Some(subnet) = snap.subnet_tables(peer.subnet) else {
                            return drop(DropReason::GatewayNoRoute, ingress);
                        };
                        let Some(next) = subnet.decide(dst) else {
                            return drop(DropReason::NoRoute, ingress);
                        };
                        target = subnet.targets[next];
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

/// Step 7, the destination check: a NIC without IP forwarding receives
/// only packets for its own addresses.
#[inline(always)]
fn receives(snap: &Snapshot, nic: NicIdx, dst: IpAddr) -> bool {
    let recipient = &snap.nics[nic];
    recipient.ip_forwarding || recipient.owns(dst)
}

/// A load balancer's part of a hop: the backend that receives the packet,
/// and the rewrite of its destination, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balanced {
    pub backend: NicIdx,
    pub rewrite: Option<Rewrite>,
}

/// The load balancer's step for a packet from `ingress` that reached
/// `frontend`: the rule that carries it, the backend (the flow's pinned
/// one, or for a new flow the hash's pick among the healthy backends,
/// then pinned), and the translation of its destination unless the
/// frontend is a route's next hop or the rule has floating IP.
///
/// As on Azure's Standard load balancer, a backend that goes down keeps
/// its established TCP flows; other flows move to a healthy backend or
/// end when there is none. A backend sending through its own frontend is
/// refused (no hairpin).
// Inlined into `decide_balanced`, which is itself out of line: the packets
// of most flows never reach a load balancer, and their path stays small.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn balance<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    ingress: NicIdx,
    view: &PacketView,
    frontend: FrontendIdx,
    addressed: bool,
    admission: Option<AdmittedAt>,
    now_ms: u64,
) -> Result<Balanced, Verdict> {
    let drop = |reason, at| Err(Verdict::dropped(reason, at));
    let fe = snap.frontend(frontend);
    let rule = if addressed {
        fe.rule_for(view.key.proto, view.key.dst_port)
    } else {
        fe.next_hop_rule(view.key.proto)
    };
    let Some(rule) = rule.map(|r| &fe.rules[r]) else {
        return drop(DropReason::LbNoRule, ingress);
    };
    if snap.nics[ingress].backend_of.contains(&frontend) {
        return drop(DropReason::LbHairpin, ingress);
    }
    let translate = addressed && !rule.floating_ip;
    let tcp = view.key.proto == IPPROTO_TCP;
    // A SYN without ACK opens a connection: on a pinned 5-tuple it is the
    // tuple reused after the connection ended.
    let opening = tcp && view.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN;
    if let Some(backend) = placed_as_before(snap, ingress, rule, view, admission, now_ms) {
        return deliver_balanced(snap, rule, backend, view, translate, view.flow_ports.1);
    }
    let pinned = flows.pinned(fe, view, now_ms).and_then(|pin| {
        let backend = rule
            .pool
            .iter()
            .find(|b| flows.backend_id(b.nic) == pin.backend);
        match backend {
            Some(b) if (tcp && !opening) || rule.is_healthy(b.nic) => {
                if view.tcp_flags & (TCP_FIN | TCP_RST) != 0 {
                    flows.closing_pin(&pin);
                }
                Some((*b, pin))
            }
            _ => {
                flows.unpin(&pin, now_ms);
                None
            }
        }
    });
    let (backend, original_port) = match pinned {
        Some((backend, pin)) => (backend, pin.original_port),
        None => {
            let Some(&backend) = rule.pick(&view.key) else {
                return drop(DropReason::LbNoHealthyBackend, ingress);
            };
            let original_port = view.flow_ports.1;
            let reply_source = if translate {
                (backend.address, rule.backend_port_for(original_port))
            } else {
                (view.key.dst, original_port)
            };
            flows.pin(
                fe,
                view,
                backend.nic,
                reply_source,
                translate,
                rule.idle_timeout_ms,
                now_ms,
            );
            (backend, original_port)
        }
    };
    deliver_balanced(snap, rule, backend, view, translate, original_port)
}

/// The backend a known flow's pin names, found without reading the pin:
/// the hash's pick, when the rule places flows as it did when the flow
/// was admitted (its pool and healthy backends unchanged since). The pin
/// is read anyway for a packet that opens or closes a connection, on an
/// NIC whose NSGs re-judge flows (their admissions move to later
/// generations), and once a second per flow, which keeps it alive.
#[inline(always)]
fn placed_as_before(
    snap: &Snapshot,
    ingress: NicIdx,
    rule: &LbRuleTables,
    view: &PacketView,
    admission: Option<AdmittedAt>,
    now_ms: u64,
) -> Option<LbBackend> {
    let admission = admission?;
    let quiet = view.tcp_flags & (TCP_SYN | TCP_FIN | TCP_RST) == 0;
    let same_second = admission.last_seen_ms / 1000 == now_ms / 1000;
    let settled = admission.generation >= rule.placement_since
        && !snap.nics[ingress].flushes(Direction::Outbound)
        && !snap.nics[ingress].flushes(Direction::Inbound);
    if quiet && same_second && settled {
        rule.pick(&view.key).copied()
    } else {
        None
    }
}

/// The balanced hop to `backend`: the translation of the destination
/// unless the frontend is a next hop or the rule has floating IP, and the
/// backend's destination check.
#[inline(always)]
fn deliver_balanced(
    snap: &Snapshot,
    rule: &LbRuleTables,
    backend: LbBackend,
    view: &PacketView,
    translate: bool,
    original_port: u16,
) -> Result<Balanced, Verdict> {
    if translate {
        // The backend's own address: its destination check passes.
        let rewrite = Rewrite::Destination {
            address: backend.address,
            port: rule.backend_port_for(original_port),
        };
        return Ok(Balanced {
            backend: backend.nic,
            rewrite: Some(rewrite),
        });
    }
    if !receives(snap, backend.nic, view.key.dst) {
        return Err(Verdict::dropped(DropReason::DestinationCheck, backend.nic));
    }
    Ok(Balanced {
        backend: backend.nic,
        rewrite: None,
    })
}

/// A backend's reply to a flow whose destination a load balancer
/// translated: the rewrite of its source back to the frontend.
#[inline(never)]
fn untranslate<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    sender: NicIdx,
    view: &PacketView,
    now_ms: u64,
) -> Option<Rewrite> {
    for &frontend in snap.nics[sender].translated_frontends.iter() {
        let fe = snap.frontend(frontend);
        if let Some(pin) = flows.pinned(fe, view, now_ms) {
            return (pin.reply && pin.translated).then_some(Rewrite::Source {
                address: fe.address,
                port: pin.original_port,
            });
        }
    }
    None
}

/// How many times one packet may be handed from a gateway to a peer
/// gateway (Vnet2Vnet) before the fabric calls it a loop.
const MAX_GATEWAY_HOPS: usize = 2;

/// The tunnel a packet leaves a gateway by: the sending instance's own for
/// its own packets (its BGP session), else one chosen by the flow's hash.
#[inline]
fn choose_tunnel(ports: &[(usize, NicIdx)], own: Option<usize>, key: &PacketKey) -> NicIdx {
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

/// Azure's checks in Azure's order, on a packet whose ports are known: the
/// steps above, with the NSGs (and their flow state) between them, and the
/// load balancer's translation between the sender's and the receiver's
/// (each NSG sees the packet as its NIC sends or receives it).
#[inline]
fn decide_packet<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    ingress: NicIdx,
    view: &PacketView,
    now_ms: u64,
) -> Verdict {
    if let Err(reason) = sender_checks(snap, ingress, view) {
        return Verdict::dropped(reason, ingress);
    }
    let admission = match nsg_admits(snap, flows, ingress, Direction::Outbound, view, now_ms) {
        Ok(admission) => admission,
        Err(rule) => {
            return Verdict::Drop {
                reason: DropReason::NsgOutbound,
                at: ingress,
                rule,
            }
        }
    };
    if !snap.nics[ingress].translated_frontends.is_empty() {
        return decide_from_backend(snap, flows, ingress, view, admission, now_ms);
    }
    let hop = match route_step(snap, ingress, &view.key) {
        Ok(hop) => hop,
        Err(drop) => return drop,
    };
    match hop.to {
        HopTo::Nic(receiver) => receive(snap, flows, receiver, view, None, now_ms),
        HopTo::Frontend {
            frontend,
            addressed,
        } => decide_balanced(
            snap, flows, ingress, view, frontend, addressed, admission, now_ms,
        ),
    }
}

/// The receiving end: the receiver's inbound NSGs on the packet as it
/// arrives, then the verdict (with the load balancer's rewrite, if any).
#[inline]
fn receive<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    receiver: NicIdx,
    received: &PacketView,
    rewrite: Option<Rewrite>,
    now_ms: u64,
) -> Verdict {
    if let Err(rule) = nsg_admits(snap, flows, receiver, Direction::Inbound, received, now_ms) {
        return Verdict::Drop {
            reason: DropReason::NsgInbound,
            at: receiver,
            rule,
        };
    }
    match rewrite {
        None => Verdict::Deliver(receiver),
        Some(rewrite) => Verdict::Translate {
            nic: receiver,
            rewrite,
        },
    }
}

/// [`decide_packet`] after the sender's NSGs, for a NIC that is the backend
/// of a frontend that translates: its replies to translated flows leave
/// with the frontend as their source. Out of line, like every load
/// balancer step, so that other NICs' packets keep a small path.
#[inline(never)]
fn decide_from_backend<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    ingress: NicIdx,
    view: &PacketView,
    admission: Option<AdmittedAt>,
    now_ms: u64,
) -> Verdict {
    let back = untranslate(snap, flows, ingress, view, now_ms);
    let translated;
    let sent = match back {
        Some(back) => {
            translated = view.translated(back);
            &translated
        }
        None => view,
    };
    let hop = match route_step(snap, ingress, &sent.key) {
        Ok(hop) => hop,
        Err(drop) => return drop,
    };
    match hop.to {
        HopTo::Nic(receiver) => receive(snap, flows, receiver, sent, back, now_ms),
        // A reply translated back that is bound for a frontend answers a
        // flow sent from a frontend's own address (only an appliance can
        // send one): it cannot be translated back and balanced again in
        // one pass, and a frontend is nobody's client.
        HopTo::Frontend { .. } if back.is_some() => {
            Verdict::dropped(DropReason::LbHairpin, ingress)
        }
        HopTo::Frontend {
            frontend,
            addressed,
        } => decide_balanced(
            snap, flows, ingress, sent, frontend, addressed, admission, now_ms,
        ),
    }
}

/// The rest of [`decide_packet`] for a packet that reached a frontend:
/// the load balancer's step, then the backend's inbound NSGs on the packet
/// as the backend receives it.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn decide_balanced<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    ingress: NicIdx,
    sent: &PacketView,
    frontend: FrontendIdx,
    addressed: bool,
    admission: Option<AdmittedAt>,
    now_ms: u64,
) -> Verdict {
    match balance(
        snap, flows, ingress, sent, frontend, addressed, admission, now_ms,
    ) {
        Ok(Balanced {
            backend,
            rewrite: Some(there),
        }) => receive(
            snap,
            flows,
            backend,
            &sent.translated(there),
            Some(there),
            now_ms,
        ),
        Ok(Balanced {
            backend,
            rewrite: None,
        }) => receive(snap, flows, backend, sent, None, now_ms),
        Err(drop) => drop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_reasons_index_their_counters_and_keep_their_names() {
        for (i, reason) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*reason as usize, i);
        }
        assert_eq!(DropReason::Malformed.as_str(), "malformed");
        assert_eq!(DropReason::NextHopInternet.as_str(), "next_hop_internet");
        assert_eq!(
            DropReason::ForwardedTrafficRefused.as_str(),
            "forwarded_traffic_refused"
        );
        assert_eq!(DropReason::FragmentUnmatched.as_str(), "fragment_unmatched");
    }
}
