//! What the workers forward with: the [`Plane`] (one compiled snapshot and,
//! for each port of its plan, the port holding the TUN queues), the
//! namespaces a topology uses, and connection tracking keyed by port slots
//! so that flows survive an `apply` that renumbers NICs. It may use the
//! counters' port ids and the options' NIC limit (load-balancer frontends
//! own the flow-owner numbers after the NICs').

use super::stats::PortId;
use crate::dataplane::conntrack::{FlowOwners, TrackedFlows, FRONTEND_OWNERS};
use crate::host::{NamespaceSpec, TunQueue};
use crate::plan::Plan;
use crate::snapshot::Snapshot;
use crate::topology::{NicIdx, TiVec, Topology};
use std::sync::Arc;

/// Namespace names a topology uses: its ports' (the file's NICs, the
/// gateway instances, the health probers) and its sites' routers and
/// hosts, each once, as the lab plan lists them.
pub fn namespace_names(topology: &Topology) -> Vec<String> {
    let plan = Plan::derive(topology);
    let mut names = plan.namespaces.clone();
    names.extend(fabric_namespace(&plan));
    names
}

/// The namespace of the lab's fabric (see [`crate::host::fabric`]), as the
/// plan names it; `None` for a lab without ports.
pub fn fabric_namespace(plan: &Plan) -> Option<String> {
    plan.fabric_namespace.clone()
}

/// One NIC's TUN device as the workers see it: queue `w` belongs to worker
/// `w`. `id` is the NIC's slot, which keys its counters and flows and
/// survives `apply`; `serial` is unique for the lab's life (never given to
/// another NIC) and names the NIC's MAC address.
#[derive(Debug)]
pub struct Port {
    pub id: PortId,
    pub serial: u32,
    pub spec: NamespaceSpec,
    pub queues: Vec<TunQueue>,
    /// Where the port is on the fabric, when its `eth0` is a veth there
    /// and its flows may be offloaded.
    pub fast: Option<FastPort>,
}

/// Where a port is on the fabric: its host end and its `eth0`'s MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastPort {
    pub host_end: u32,
    pub mac: [u8; 6],
}

/// What the workers forward with: the compiled snapshot and, for each of
/// its NICs (same index), the port.
#[derive(Debug)]
pub struct Plane {
    pub snapshot: Arc<Snapshot>,
    pub ports: TiVec<NicIdx, Arc<Port>>,
}

impl Plane {
    #[inline]
    pub fn port_id(&self, nic: NicIdx) -> PortId {
        self.ports.get(nic).map_or(PortId::NONE, |p| p.id)
    }

    /// The NIC whose port is `port` in this plane (none once it has left).
    pub fn nic_of_port(&self, port: PortId) -> Option<NicIdx> {
        self.ports.position(|p| p.id == port)
    }
}

/// A NIC's flows belong to its port slot, so that they survive an `apply`
/// that renumbers NICs.
impl FlowOwners for &Plane {
    #[inline]
    fn owner(&self, nic: NicIdx) -> u32 {
        self.port_id(nic).get()
    }

    /// Frontends own the numbers after the NICs' ports.
    #[inline]
    fn frontend_owner(&self, stable_id: u32) -> u32 {
        super::options::MAX_NICS + stable_id % FRONTEND_OWNERS
    }
}

/// Connection tracking keyed by stable port numbers.
pub type PortConntrack<'a> = TrackedFlows<'a, &'a Plane>;
