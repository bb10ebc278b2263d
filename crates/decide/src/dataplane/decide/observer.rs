//! The decision's report of its own steps, as it takes them: the rules
//! each NIC's stages meet and their verdict, the deciding route, each
//! gateway crossed and the load balancer's choice. `trace` shows a hop
//! from this report instead of taking the steps again beside the
//! decision, so what it shows is what the decision did.
//!
//! The report travels with the flow state the decision already reads
//! ([`Conntrack`](super::Conntrack) is a [`DecisionObserver`]), which
//! also knows the stages a flow's state let a packet past (it answered
//! [`Conntrack::admitted`](super::Conntrack::admitted)). The flow table of
//! the per-packet path hears nothing: for an observer that does not
//! listen, the decision takes its plain steps.

use super::verdict::Verdict;
use crate::dataplane::nat::Rewrite;
use crate::snapshot::{FrontendIdx, NsgStage, PortIdx, StageObserver, Unobserved};
use crate::topology::{Access, Direction, GatewayIdx};

/// What a load balancer did with a packet that reached one of its
/// frontends: the rule that carries it, and the backend it chose with the
/// rewrite of the destination, or the drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BalanceStep {
    /// The frontend reached.
    pub frontend: FrontendIdx,
    /// Whether the packet was sent to the frontend's address (else the
    /// frontend is a route's next hop).
    pub addressed: bool,
    /// The frontend's rule (an index of its rules) that carries the
    /// packet, if one does.
    pub rule: Option<usize>,
    /// The backend and the rewrite of the destination, or the drop.
    pub chosen: Result<(PortIdx, Option<Rewrite>), Verdict>,
}

/// Told each step the decision takes for one packet, in order. Every
/// method does nothing unless an observer says otherwise.
pub trait DecisionObserver {
    /// Whether this observer hears anything: the decision takes its
    /// unobserved steps, exactly the per-packet path's, for one that does
    /// not.
    #[inline(always)]
    fn observes(&self) -> bool {
        false
    }

    /// The stages of `nic` in `direction` met rule `rule` of `stage` (it
    /// matched).
    #[inline(always)]
    fn rule_met(&self, _nic: PortIdx, _direction: Direction, _stage: &NsgStage, _rule: usize) {}

    /// The stages of `nic` in `direction` judged the packet: `access`.
    #[inline(always)]
    fn judged(&self, _nic: PortIdx, _direction: Direction, _access: Access) {}

    /// The deciding route of the packet `nic` sent: row `row` of its
    /// subnet's effective routes.
    #[inline(always)]
    fn routed(&self, _nic: PortIdx, _row: usize) {}

    /// The packet reached `gateway` (the one its route leads to, then each
    /// Vnet2Vnet peer it is handed to).
    #[inline(always)]
    fn gateway_crossed(&self, _gateway: GatewayIdx) {}

    /// A load balancer's step, from the packet `ingress` sent.
    #[inline(always)]
    fn load_balanced(&self, _ingress: PortIdx, _step: &BalanceStep) {}

    /// Whether a receiver on another machine of the lab is judged here
    /// too (its inbound stages), as a walk of the whole fabric needs;
    /// forwarding leaves it to the receiver's machine.
    #[inline(always)]
    fn judges_every_machine(&self) -> bool {
        false
    }
}

impl DecisionObserver for Unobserved {}

/// The stages' observer that hands what one NIC's stages meet to a
/// decision's observer.
pub(super) struct StagesOf<'o, O: ?Sized> {
    pub(super) observer: &'o O,
    pub(super) nic: PortIdx,
    pub(super) direction: Direction,
}

impl<O: DecisionObserver + ?Sized> StageObserver for StagesOf<'_, O> {
    #[inline(always)]
    fn met(&mut self, stage: &NsgStage, rule: usize) {
        self.observer
            .rule_met(self.nic, self.direction, stage, rule);
    }
}
