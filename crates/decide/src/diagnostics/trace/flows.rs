//! The flow state a traced packet is decided with, and what the decision
//! reports of each hop it takes ([`HopReport`]): the rules each NIC's
//! stages met, the stages a flow's state let the packet past, the
//! deciding route, the gateways crossed and the load balancer's choice.
//! A hop's details are read from that report, never from the decision's
//! steps taken again.
//!
//! NSGs are stateful in Azure: the request meets every rule, and its reply
//! is admitted by state at every port the request left or reached. A trace
//! walks the whole fabric, so a receiver on another machine of the lab is
//! judged here too.

use super::answer::NsgCheck;
use crate::dataplane::{
    Admission, Allowed, BalanceStep, Conntrack, DecisionObserver, EdgeTranslation, PacketView, Pin,
};
use crate::engine::flow_table::FlowHandle;
use crate::plan::PortIdx;
use crate::snapshot::{FrontendTables, NsgStage, Snapshot};
use crate::topology::{Access, AdminAction, Direction, GatewayIdx, Topology};
use std::cell::RefCell;
use std::net::IpAddr;

/// The flow state of a traced packet: nothing for the request; for its
/// reply, every port the request left or reached admitted the flow, and
/// the translations the request met are known.
pub(super) struct TraceFlows<'s> {
    pub(super) topology: &'s Topology,
    pub(super) generation: u64,
    /// The ports the request left or reached.
    pub(super) ports: Vec<PortIdx>,
    /// The Internet edge's translation of the request: its private source
    /// and public address.
    pub(super) edge: Option<(IpAddr, IpAddr)>,
    /// The public frontend (address, port) the request came in by.
    pub(super) public_frontend: Option<(IpAddr, u16)>,
    /// The Internet edge's translation of a request that came in to a
    /// public IP: the private address it reached and the public one.
    pub(super) edge_in: Option<(IpAddr, IpAddr)>,
    pub(super) report: RefCell<HopReport>,
}

impl<'s> TraceFlows<'s> {
    /// The flow state of a request: no flow admitted anywhere.
    pub(super) fn request(snap: &'s Snapshot) -> TraceFlows<'s> {
        TraceFlows {
            topology: &snap.topology,
            generation: snap.generation,
            ports: Vec::new(),
            edge: None,
            public_frontend: None,
            edge_in: None,
            report: RefCell::default(),
        }
    }

    /// What the decision reported since the last call.
    pub(super) fn take_report(&self) -> HopReport {
        self.report.take()
    }
}

/// What one pass of the decision reported, in order.
#[derive(Debug, Default)]
pub(super) struct HopReport {
    /// Each rule a NIC's stages met, by NIC and direction.
    rules: Vec<(PortIdx, Direction, NsgCheck)>,
    /// Each NIC's stages' verdict.
    judged: Vec<(PortIdx, Direction, Access)>,
    /// The stages a flow's state let the packet past.
    by_state: Vec<(PortIdx, Direction)>,
    /// The deciding route: the sender and its row.
    pub(super) route: Option<(PortIdx, usize)>,
    /// Each gateway reached, in order.
    pub(super) gateways: Vec<GatewayIdx>,
    /// The load balancer's step.
    pub(super) balanced: Option<BalanceStep>,
}

impl HopReport {
    /// The rules the stages of `nic` in `direction` met, in order.
    pub(super) fn checks(&self, nic: PortIdx, direction: Direction) -> Vec<NsgCheck> {
        (self.rules.iter())
            .filter(|(n, d, _)| (*n, *d) == (nic, direction))
            .map(|(_, _, check)| check.clone())
            .collect()
    }

    /// Whether the stages of `nic` in `direction` denied the packet.
    pub(super) fn denied(&self, nic: PortIdx, direction: Direction) -> bool {
        self.judged.contains(&(nic, direction, Access::Deny))
    }

    /// Whether a flow's state let the packet past the stages of `nic` in
    /// `direction`.
    pub(super) fn by_state(&self, nic: PortIdx, direction: Direction) -> bool {
        self.by_state.contains(&(nic, direction))
    }
}

impl DecisionObserver for TraceFlows<'_> {
    fn observes(&self) -> bool {
        true
    }

    fn rule_met(&self, nic: PortIdx, direction: Direction, stage: &NsgStage, r: usize) {
        let rule = &stage.rules[r];
        let check = NsgCheck {
            level: stage.level.as_str(),
            nsg: stage.owner.name(self.topology).to_string(),
            rule_name: rule.name.clone(),
            priority: rule.settings.priority,
            access: rule.settings.access.as_str(),
            admin_action: rule.admin_action.map(AdminAction::as_str),
        };
        self.report.borrow_mut().rules.push((nic, direction, check));
    }

    fn judged(&self, nic: PortIdx, direction: Direction, access: Access) {
        self.report
            .borrow_mut()
            .judged
            .push((nic, direction, access));
    }

    fn routed(&self, nic: PortIdx, row: usize) {
        let mut report = self.report.borrow_mut();
        if report.route.is_none() {
            report.route = Some((nic, row));
        }
    }

    fn gateway_crossed(&self, gateway: GatewayIdx) {
        self.report.borrow_mut().gateways.push(gateway);
    }

    fn load_balanced(&self, _ingress: PortIdx, step: &BalanceStep) {
        self.report.borrow_mut().balanced = Some(*step);
    }

    fn judges_every_machine(&self) -> bool {
        true
    }
}

impl Conntrack for TraceFlows<'_> {
    /// A port the request crossed admits its reply; the decision then
    /// passes the port's stages by state (the admission is of the current
    /// snapshot), which the report records.
    fn admitted(&self, nic: PortIdx, dir: Direction, _: &PacketView, _: u64) -> Option<Admission> {
        if !self.ports.contains(&nic) {
            return None;
        }
        self.report.borrow_mut().by_state.push((nic, dir));
        Some(Admission {
            generation: self.generation,
            reply: true,
            handle: FlowHandle::NONE,
        })
    }
    fn admit(&self, _: PortIdx, _: Direction, _: &PacketView, _: Allowed, _: u64, _: u64) {}
    fn refresh(&self, _: PortIdx, _: Direction, _: &PacketView, _: Admission, _: Allowed, _: u64) {}
    fn revoke(&self, _: PortIdx, _: Direction, _: &PacketView, _: Admission, _: u64) {}
    fn pinned(&self, frontend: &FrontendTables, _: &PacketView, _: u64) -> Option<Pin> {
        let (address, original_port) = self.public_frontend?;
        (frontend.address == address).then_some(Pin {
            backend: 0,
            original_port,
            translated: true,
            reply: true,
            handle: FlowHandle::NONE,
        })
    }
    /// As the flow table finds a translation: a packet leaving for the
    /// Internet by its private side (the reply of a request that came in
    /// to a public IP leaves from it), one from the Internet by its public
    /// side (the reply of a request that left).
    fn edge_translation(&self, p: &PacketView, leaving: bool, _: u64) -> Option<EdgeTranslation> {
        if leaving {
            let (private, public) = self.edge_in?;
            return (p.key.src == private).then_some(EdgeTranslation {
                private: (private, p.flow_ports.0),
                public: (public, p.flow_ports.0),
                handle: FlowHandle::NONE,
            });
        }
        let (private, public) = self.edge?;
        (p.key.dst == public).then_some(EdgeTranslation {
            private: (private, p.flow_ports.1),
            public: (public, p.flow_ports.1),
            handle: FlowHandle::NONE,
        })
    }
}
