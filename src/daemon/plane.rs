//! What the workers forward with: the [`Plane`] (one compiled snapshot and,
//! for each of its NICs, the port holding the NIC's TUN queues), the
//! namespace a NIC stands for, and connection tracking keyed by port slots
//! so that flows survive an `apply` that renumbers NICs. It may use the
//! counters' port ids.

use super::stats::PortId;
use crate::dataplane::{Admission, Conntrack, PacketView};
use crate::engine::flow_table::FlowTable;
use crate::host::{NamespaceSpec, TunQueue};
use crate::snapshot::{RuleId, Snapshot};
use crate::topology::{Direction, Nic, NicIdx, TiVec, Topology};
use ipnet::IpNet;
use std::sync::Arc;

/// The namespace that stands for a NIC: its addresses with the prefix
/// length of the subnet they sit in, and the subnet's gateway (x.x.x.1, and
/// the IPv6 equivalent) as default route.
pub fn namespace_spec(topology: &Topology, nic: &Nic, queues: usize) -> NamespaceSpec {
    let subnet = topology.subnet(nic.subnet);
    let addresses: Vec<IpNet> = nic
        .ip_configurations
        .iter()
        .filter_map(|c| {
            let prefix = subnet
                .address_prefixes
                .iter()
                .find(|p| p.contains(&c.address))?;
            IpNet::new(c.address, prefix.prefix_len()).ok()
        })
        .collect();
    let mut spec = NamespaceSpec::new(nic.netns.clone());
    spec.addresses = addresses;
    spec.gateways = spec.first_host_gateways();
    spec.queues = queues;
    spec.nonblocking = true;
    // An NVA's guest OS must forward too; the namespace of a NIC with IP
    // forwarding stands for such a guest.
    spec.forwarding = nic.ip_forwarding;
    spec
}

/// Namespace names a topology uses.
pub fn namespace_names(topology: &Topology) -> Vec<String> {
    topology.nics.iter().map(|n| n.netns.clone()).collect()
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

/// Connection tracking keyed by stable port numbers, so that flows survive
/// an `apply` that renumbers NICs.
pub struct PortConntrack<'a> {
    pub flows: &'a FlowTable,
    pub plane: &'a Plane,
}

impl Conntrack for PortConntrack<'_> {
    #[inline]
    fn admitted(
        &self,
        nic: NicIdx,
        direction: Direction,
        p: &PacketView,
        now_ms: u64,
    ) -> Option<Admission> {
        self.flows.admitted(self.port(nic), direction, p, now_ms)
    }

    #[inline]
    fn admit(
        &self,
        nic: NicIdx,
        d: Direction,
        p: &PacketView,
        rule: RuleId,
        generation: u64,
        timeout: u64,
        now: u64,
    ) {
        self.flows
            .admit(self.port(nic), d, p, rule, generation, timeout, now)
    }

    #[allow(clippy::too_many_arguments)]
    fn refresh(
        &self,
        nic: NicIdx,
        d: Direction,
        p: &PacketView,
        a: Admission,
        rule: RuleId,
        generation: u64,
        now: u64,
    ) {
        self.flows
            .refresh(self.port(nic), d, p, a, rule, generation, now)
    }

    fn revoke(&self, nic: NicIdx, d: Direction, p: &PacketView, a: Admission, now: u64) {
        self.flows.revoke(self.port(nic), d, p, a, now)
    }

    fn closing(&self, nic: NicIdx, d: Direction, p: &PacketView, a: Admission, now: u64) {
        self.flows.closing(self.port(nic), d, p, a, now)
    }

    fn fragment_ports(&self, nic: NicIdx, p: &PacketView, now: u64) -> Option<(u16, u16)> {
        self.flows.fragment_ports(self.port(nic), p, now)
    }

    fn first_fragment_passed(&self, nic: NicIdx, p: &PacketView, now: u64) {
        self.flows.first_fragment_passed(self.port(nic), p, now)
    }
}

impl PortConntrack<'_> {
    #[inline]
    fn port(&self, nic: NicIdx) -> NicIdx {
        NicIdx::new(usize::from(self.plane.port_id(nic)))
    }
}
