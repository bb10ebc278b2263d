//! The receiving end of a hop: the receiver's inbound NSGs (or its
//! firewall's rules) on the packet as it arrives, and what deciding a hop
//! found ([`Decided`]), which every way of deciding one returns.

use super::stateful::nsg_admits;
use super::stateful::Conntrack;
use super::verdict::{DropReason, Verdict};
use crate::dataplane::nat::Rewrite;
use crate::dataplane::packet::PacketView;
use crate::engine::flow_table::FlowHandle;
use crate::snapshot::{PortIdx, Snapshot};
use crate::topology::Direction;

/// What deciding a hop found: the verdict, and for a delivered packet
/// admitted by the receiver's flow state, the receiver's entry; whether a
/// load balancer took part, and the pin it found the flow with.
#[derive(Clone, Copy)]
pub(super) struct Decided {
    pub(super) verdict: Verdict,
    pub(super) receiver: Option<FlowHandle>,
    pub(super) pin: Option<FlowHandle>,
    pub(super) balanced: bool,
}

impl Decided {
    #[inline]
    pub(super) fn verdict(verdict: Verdict) -> Decided {
        Decided {
            verdict,
            receiver: None,
            pin: None,
            balanced: false,
        }
    }

    #[inline]
    pub(super) fn balanced(self, pin: Option<FlowHandle>) -> Decided {
        Decided {
            balanced: true,
            pin,
            ..self
        }
    }
}

/// The receiving end: the receiver's inbound NSGs on the packet as it
/// arrives, then the verdict (with the load balancer's rewrite, if any).
#[inline]
pub(super) fn receive<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    receiver: PortIdx,
    received: &PacketView,
    rewrite: Option<Rewrite>,
    now_ms: u64,
) -> Decided {
    // A receiver on another machine is judged there, on arrival.
    if snap.nics[receiver].remote && !flows.judges_every_machine() {
        return Decided::verdict(deliver(receiver, rewrite));
    }
    let admission = match nsg_admits(snap, flows, receiver, Direction::Inbound, received, now_ms) {
        Ok(admission) => admission,
        Err(denied) => {
            return Decided::verdict(Verdict::Drop {
                reason: if denied.by_admin {
                    DropReason::AdminDenied
                } else {
                    inbound_denial(snap, receiver)
                },
                at: receiver,
                rule: denied.rule,
            })
        }
    };
    Decided {
        verdict: deliver(receiver, rewrite),
        receiver: admission.map(|a| a.handle),
        pin: None,
        balanced: false,
    }
}

/// Why the inbound stages of `receiver` denied a packet: its NSGs, or the
/// rules of the Azure Firewall the port stands for. One flag of the
/// receiver's tables, which its NSG stages just read.
#[inline(always)]
fn inbound_denial(snap: &Snapshot, receiver: PortIdx) -> DropReason {
    if snap.nics[receiver].kind.is_firewall() {
        DropReason::FirewallDenied
    } else {
        DropReason::NsgInbound
    }
}

/// Delivery to `receiver`, with the load balancer's rewrite if any.
#[inline]
fn deliver(receiver: PortIdx, rewrite: Option<Rewrite>) -> Verdict {
    match rewrite {
        None => Verdict::Deliver(receiver),
        Some(rewrite) => Verdict::Translate {
            nic: receiver,
            rewrite,
        },
    }
}
