//! Load balancing: the backend a packet that reached a frontend goes to
//! (its flow's pin, or the hash's pick among the healthy backends), the
//! translation of its destination, and the translation back of the
//! backends' replies. In a lab spread over machines, the client's machine
//! chooses the backend and the backend's machine translates (and
//! translates back).

use super::observer::BalanceStep;
use super::routing::receives;
use super::{Conntrack, DropReason, PinTarget, Verdict};
use crate::dataplane::nat::Rewrite;
use crate::dataplane::packet::{PacketView, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN};
use crate::engine::flow_table::FlowHandle;
use crate::net::IPPROTO_TCP;
use crate::snapshot::PortIdx;
use crate::snapshot::{FrontendIdx, LbBackend, LbRuleTables, Snapshot};

/// A load balancer's part of a hop: the backend that receives the packet,
/// the rewrite of its destination, if any, and the pin the packet's flow
/// was found with (none for a flow pinned by this packet, or left unpinned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balanced {
    pub backend: PortIdx,
    pub rewrite: Option<Rewrite>,
    pub pin: Option<FlowHandle>,
}

/// A frontend a packet reached ([`HopTo::Frontend`](super::HopTo::Frontend)):
/// which one, and whether the packet was sent to its address (else the
/// frontend is a route's next hop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrontendHop {
    pub frontend: FrontendIdx,
    pub addressed: bool,
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
pub fn balance<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    ingress: PortIdx,
    view: &PacketView,
    FrontendHop {
        frontend,
        addressed,
    }: FrontendHop,
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
    let pinned = flows.pinned(fe, view, now_ms).and_then(|pin| {
        let backend = rule
            .pool
            .iter()
            .find(|b| flows.backend_id(b.port()) == pin.backend);
        match backend {
            Some(b) if (tcp && !opening) || rule.is_healthy(b.port()) => {
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
    let (backend, original_port, pin) = match pinned {
        Some((backend, pin)) => (backend, pin.original_port, Some(pin.handle)),
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
                PinTarget {
                    backend: backend.port(),
                    reply_source,
                    translated: translate,
                },
                rule.idle_timeout_ms,
                now_ms,
            );
            (backend, original_port, None)
        }
    };
    let mut balanced = deliver_balanced(snap, rule, backend, view, translate, original_port)?;
    balanced.pin = pin;
    Ok(balanced)
}

/// Tells `flows`, when it listens, the load balancer's step [`balance`]
/// took: the rule that carries the packet (the one `balance` chose by),
/// and its choice.
#[inline(always)]
pub(super) fn report_balance<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    ingress: PortIdx,
    view: &PacketView,
    reached: FrontendHop,
    chosen: &Result<Balanced, Verdict>,
) {
    if !flows.observes() {
        return;
    }
    let fe = snap.frontend(reached.frontend);
    let rule = if reached.addressed {
        fe.rule_for(view.key.proto, view.key.dst_port)
    } else {
        fe.next_hop_rule(view.key.proto)
    };
    let step = BalanceStep {
        frontend: reached.frontend,
        addressed: reached.addressed,
        rule,
        chosen: chosen.map(|b| (b.backend, b.rewrite)),
    };
    flows.load_balanced(ingress, &step);
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
            backend: backend.port(),
            rewrite: Some(rewrite),
            pin: None,
        });
    }
    if !receives(snap, backend.port(), view.key.dst) {
        return Err(Verdict::dropped(
            DropReason::DestinationCheck,
            backend.port(),
        ));
    }
    Ok(Balanced {
        backend: backend.port(),
        rewrite: None,
        pin: None,
    })
}

/// A backend's reply to a flow whose destination a load balancer
/// translated: the rewrite of its source back to the frontend. With it,
/// the pin the packet was found in, translated reply or not (reading a
/// pin keeps it alive).
#[inline(never)]
pub(super) fn untranslate<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    sender: PortIdx,
    view: &PacketView,
    now_ms: u64,
) -> (Option<Rewrite>, Option<FlowHandle>) {
    for &frontend in snap.nics[sender].translated_frontends.iter() {
        let fe = snap.frontend(frontend);
        if let Some(pin) = flows.pinned(fe, view, now_ms) {
            let back = Rewrite::Source {
                address: fe.address,
                port: pin.original_port,
            };
            return (
                (pin.reply && pin.translated).then_some(back),
                Some(pin.handle),
            );
        }
    }
    (None, None)
}

/// A packet that arrived from another machine for `backend`, a backend of
/// a frontend that translates: when it is still addressed to one of those
/// frontends (the client's machine chose this backend and left the
/// translation to this one), its destination is translated to the backend
/// and its flow pinned here, so that the backend's replies are translated
/// back by [`untranslate`]; `receive` then judges it as the backend gets
/// it. Any other packet for the backend is received as it came.
#[inline(never)]
pub(super) fn arrive_balanced<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    backend: PortIdx,
    view: &PacketView,
    now_ms: u64,
    receive: impl FnOnce(&PacketView, Option<Rewrite>) -> Verdict,
) -> Verdict {
    let found = snap.nics[backend]
        .translated_frontends
        .iter()
        .map(|&f| snap.frontend(f))
        .find(|fe| fe.address == view.key.dst);
    let Some(fe) = found else {
        return receive(view, None);
    };
    let Some(rule) = fe
        .rule_for(view.key.proto, view.key.dst_port)
        .map(|r| &fe.rules[r])
    else {
        return Verdict::dropped(DropReason::LbNoRule, backend);
    };
    let Some(member) = rule.member(backend).filter(|_| !rule.floating_ip) else {
        // A floating-IP rule's backend receives the frontend's address
        // itself.
        return receive(view, None);
    };
    let original_port = view.flow_ports.1;
    let backend_port = rule.backend_port_for(original_port);
    let pinned = flows.pinned(fe, view, now_ms);
    match pinned {
        Some(pin) if pin.backend == flows.backend_id(backend) => {
            if view.tcp_flags & (TCP_FIN | TCP_RST) != 0 {
                flows.closing_pin(&pin);
            }
        }
        // The client's machine placed the flow anew (its own pin went, or
        // the 5-tuple is reused): this machine follows its choice.
        _ => {
            if let Some(stale) = pinned {
                flows.unpin(&stale, now_ms);
            }
            flows.pin(
                fe,
                view,
                PinTarget {
                    backend,
                    reply_source: (member.address, backend_port),
                    translated: true,
                },
                rule.idle_timeout_ms,
                now_ms,
            );
        }
    }
    let rewrite = Rewrite::Destination {
        address: member.address,
        port: backend_port,
    };
    receive(&view.translated(rewrite), Some(rewrite))
}
