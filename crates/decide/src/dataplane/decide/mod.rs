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
//! A flow's later packets take the hop its first ones were given
//! ([`KnownHop`]) for as long as the snapshot they were decided under is
//! the current one: one lookup instead of the steps above.
//!
//! Everything read per packet comes from the snapshot's compiled tables
//! (per-NIC facts, routes, forwarding owners, classifiers), never from the
//! topology model behind them.
//!
//! The fabric is transparent: TTL is not touched, and denied packets vanish
//! without an ICMP error, as in Azure. Routes, peering and IP forwarding are
//! read from the current snapshot: a flow's known hop is that snapshot's
//! answer, and is decided again once another snapshot takes over; only NSG
//! verdicts (and load balancers' pins) outlive a snapshot.

mod balancing;
mod edge;
mod observer;
mod receiving;
mod routing;
mod stateful;
mod verdict;

pub use balancing::{balance, Balanced, FrontendHop};
pub use observer::{BalanceStep, DecisionObserver};
pub use routing::{flow_hash, route_step, route_step_observed, sender_checks, Hop, HopTo};
pub use stateful::{
    judge_nsgs, Admission, Allowed, Conntrack, EdgeTranslation, KnownHop, NewTranslation,
    NsgJudgement, Pin, PinTarget, Sent, Stateless, Untranslated, CLOSING_IDLE_TIMEOUT_MS,
};
pub use verdict::{DropReason, Verdict};

use crate::dataplane::nat::Rewrite;
use crate::dataplane::packet::PacketView;
use crate::snapshot::PortIdx;
use crate::snapshot::Snapshot;
use crate::topology::{Direction, AZURE_DNS};
use balancing::{report_balance, untranslate};
use receiving::{receive, Decided};
use routing::route_step_for;
use stateful::nsg_stage;
use std::net::IpAddr;

const AZURE_DNS_IP: IpAddr = IpAddr::V4(AZURE_DNS);
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

/// Decides the fate of one IP packet (without the virtio-net header) sent by
/// `ingress`.
pub fn decide<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    ingress: PortIdx,
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
    ingress: PortIdx,
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
    ingress: PortIdx,
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

/// Azure's checks in Azure's order, on a packet whose ports are known: the
/// steps above, with the NSGs (and their flow state) between them, and the
/// load balancer's translation between the sender's and the receiver's
/// (each NSG sees the packet as its NIC sends or receives it).
///
/// A packet whose flow already has a hop decided under this snapshot
/// ([`KnownHop`]) takes it after the sender's checks, found by the one
/// lookup of the sender's flow state; a delivered packet found admitted at
/// both ends leaves its hop for the packets that follow.
#[inline]
fn decide_packet<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    ingress: PortIdx,
    view: &PacketView,
    now_ms: u64,
) -> Verdict {
    if let Err(reason) = sender_checks(snap, ingress, view) {
        return Verdict::dropped(reason, ingress);
    }
    if view.key.dst == AZURE_DNS_IP || snap.nics[ingress].kind.is_azure_dns() {
        if let Some(verdict) = azure_dns_hop(snap, ingress, view) {
            return verdict;
        }
    }
    let found = match flows.sent(ingress, view, snap.generation, now_ms) {
        Sent::Known(verdict) => return verdict,
        Sent::Admitted(admission) => Some(admission),
        Sent::New => None,
    };
    let admission = match nsg_stage(
        snap,
        flows,
        ingress,
        Direction::Outbound,
        view,
        found,
        now_ms,
    ) {
        Ok(admission) => admission,
        Err(denied) => {
            return Verdict::Drop {
                reason: if denied.by_admin {
                    DropReason::AdminDenied
                } else {
                    DropReason::NsgOutbound
                },
                at: ingress,
                rule: denied.rule,
            }
        }
    };
    let decided = if snap.nics[ingress].kind.is_internet() {
        edge::arrive(snap, flows, ingress, view, now_ms)
    } else if snap.nics[ingress].translated_frontends.is_empty() {
        match route_step_for(snap, ingress, &view.key, flows) {
            Ok(Hop { to, .. }) => hop_to(snap, flows, ingress, view, to, None, now_ms),
            Err(Verdict::Drop {
                reason: DropReason::NextHopInternet,
                ..
            }) => edge::leave(snap, flows, ingress, view, now_ms),
            Err(drop) => Decided::verdict(drop),
        }
    } else {
        decide_from_backend(snap, flows, ingress, view, now_ms)
    };
    if let Some(sender) = admission {
        match decided {
            Decided {
                receiver: Some(receiver),
                pin,
                balanced,
                verdict,
            } if KnownHop::carries(view) && (pin.is_some() || !balanced) => flows.remember(
                &sender,
                &KnownHop {
                    generation: snap.generation,
                    verdict,
                    receiver,
                    pin,
                },
            ),
            // A packet that opens or closes a connection may have moved
            // its flow (a load balancer's pin), and a hop that cannot be
            // kept (its receiver or its pin unknown) is no longer the
            // flow's: the flow forgets its hop.
            _ => flows.forget(&sender),
        }
    }
    decided.verdict
}

/// 168.63.129.16 as a VNet's Azure DNS: a query (UDP or TCP to port 53)
/// from a port of a VNet goes to that VNet's Azure DNS port, and its answer
/// straight back to the asker, neither meeting routes nor NSGs ("DNS
/// communication isn't subject to the configured network security
/// groups", Azure's page on 168.63.129.16). Only VNets ask it: a query that
/// entered through a gateway (from on-premises) finds nothing there.
/// Anything else to 168.63.129.16 (probe replies) takes the usual path.
#[cold]
#[inline(never)]
fn azure_dns_hop(snap: &Snapshot, ingress: PortIdx, view: &PacketView) -> Option<Verdict> {
    let sender = &snap.nics[ingress];
    if sender.kind.is_azure_dns() {
        let asker = snap.forwarding.owner(sender.vnet, view.key.dst);
        return Some(match asker {
            Some(asker) => Verdict::Deliver(asker),
            None => Verdict::dropped(DropReason::NoDestination, ingress),
        });
    }
    let dns = matches!(view.key.proto, IPPROTO_UDP | IPPROTO_TCP) && view.key.dst_port == Some(53);
    if !dns {
        return None;
    }
    if sender.kind.enters_through_gateway() {
        return Some(Verdict::dropped(DropReason::NoDestination, ingress));
    }
    Some(match snap.azure_dns.get(sender.vnet).copied().flatten() {
        Some(server) => Verdict::Deliver(server),
        None => Verdict::dropped(DropReason::NoDestination, ingress),
    })
}

/// The receiving end of a packet another machine of the lab decided: it
/// arrived through the underlay for `receiver`, a port of this machine,
/// and meets the receiver's inbound NSGs, as on Azure's destination host.
/// Everything before (routes, the sender's NSGs, peering, the load
/// balancer's choice of backend) was decided on the sender's machine.
///
/// A load-balanced packet arrives as the client sent it, addressed to the
/// frontend: the backend's machine translates its destination to the
/// backend and pins the flow there (`balancing::arrive_balanced`), as
/// Azure's host of a backend does, so that the backend's replies are
/// translated back where they are sent, whatever machine the client is on.
pub fn decide_arrival<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    receiver: PortIdx,
    view: &PacketView,
    now_ms: u64,
) -> Verdict {
    let Some(nic) = snap.nics.get(receiver).filter(|nic| !nic.remote) else {
        return Verdict::dropped(DropReason::NoDestination, receiver);
    };
    if !nic.translated_frontends.is_empty() {
        return balancing::arrive_balanced(
            snap,
            flows,
            receiver,
            view,
            now_ms,
            |translated, to| receive(snap, flows, receiver, translated, to, now_ms).verdict,
        );
    }
    receive(snap, flows, receiver, view, None, now_ms).verdict
}

/// [`decide_packet`] after the sender's NSGs, for a NIC that is the backend
/// of a frontend that translates: its replies to translated flows leave
/// with the frontend as their source. Out of line, like every load
/// balancer step, so that other NICs' packets keep a small path.
#[inline(never)]
fn decide_from_backend<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    ingress: PortIdx,
    view: &PacketView,
    now_ms: u64,
) -> Decided {
    let (back, pin) = untranslate(snap, flows, ingress, view, now_ms);
    let translated;
    let sent = match back {
        Some(back) => {
            translated = view.translated(back);
            &translated
        }
        None => view,
    };
    let hop = match route_step_for(snap, ingress, &sent.key, flows) {
        Ok(hop) => Ok(hop.to),
        Err(Verdict::Drop {
            reason: DropReason::NextHopInternet,
            ..
        }) => Err(()),
        Err(drop) => return Decided::verdict(drop),
    };
    let decided = match hop {
        // To the Internet: a reply through a public frontend, or the
        // backend's own way out.
        Err(()) => edge::leave_from_backend(snap, flows, ingress, view, sent, back, now_ms),
        // A reply translated back that is bound for a frontend answers a
        // flow sent from a frontend's own address (only an appliance can
        // send one): it cannot be translated back and balanced again in
        // one pass, and a frontend is nobody's client.
        Ok(HopTo::Frontend { .. }) if back.is_some() => {
            Decided::verdict(Verdict::dropped(DropReason::LbHairpin, ingress))
        }
        Ok(to) => hop_to(snap, flows, ingress, sent, to, back, now_ms),
    };
    match (pin, decided.pin) {
        // Without a pin, the hop holds until a client's flow through a
        // frontend is pinned with this packet's 5-tuple as its reply's:
        // that pin forgets this hop (see `Conntrack::pin`).
        (None, _) => decided,
        // With one, while the pin does.
        (Some(_), None) if !decided.balanced => Decided { pin, ..decided },
        (Some(found), Some(placed)) if found == placed => decided,
        // Two pins (a frontend's reply, another's placement): decided in
        // full, packet by packet.
        _ => Decided {
            receiver: None,
            ..decided
        },
    }
}

/// Where a routed hop takes `sent`: the receiver's inbound NSGs (with
/// `rewrite`, a backend's reply translated back, if any), or the load
/// balancer of the frontend it reached.
// Always inlined: left to the compiler, the NSG deny case ran 3-6 %
// slower than with the two copies this replaces (benches/decide.rs).
#[inline(always)]
fn hop_to<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    ingress: PortIdx,
    sent: &PacketView,
    to: HopTo,
    rewrite: Option<Rewrite>,
    now_ms: u64,
) -> Decided {
    match to {
        HopTo::Nic(receiver) => receive(snap, flows, receiver, sent, rewrite, now_ms),
        HopTo::Frontend {
            frontend,
            addressed,
        } => decide_balanced(
            snap,
            flows,
            ingress,
            sent,
            FrontendHop {
                frontend,
                addressed,
            },
            now_ms,
        ),
    }
}

/// The rest of [`decide_packet`] for a packet that reached a frontend:
/// the load balancer's step, then the backend's inbound NSGs on the packet
/// as the backend receives it.
#[inline(never)]
fn decide_balanced<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    ingress: PortIdx,
    sent: &PacketView,
    reached: FrontendHop,
    now_ms: u64,
) -> Decided {
    let chosen = balance(snap, flows, ingress, sent, reached, now_ms);
    report_balance(snap, flows, ingress, sent, reached, &chosen);
    match chosen {
        Ok(Balanced {
            backend,
            rewrite: Some(there),
            pin,
        }) => receive(
            snap,
            flows,
            backend,
            &sent.translated(there),
            Some(there),
            now_ms,
        )
        .balanced(pin),
        Ok(Balanced {
            backend,
            rewrite: None,
            pin,
        }) => receive(snap, flows, backend, sent, None, now_ms).balanced(pin),
        Err(drop) => Decided::verdict(drop),
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
