//! What the workers forward with: the [`Plane`] (one compiled snapshot and,
//! for each port of its plan, the port holding the TUN queues), the
//! namespaces a topology uses, and connection tracking keyed by port slots
//! so that flows survive an `apply` that renumbers NICs. It may use the
//! counters' port ids and the options' NIC limit (load-balancer frontends
//! own the flow-owner numbers after the NICs').

use super::port_id::PortId;
use super::underlay::{frame_header, UnderlayLink};
use crate::dataplane::conntrack::{FlowOwners, TrackedFlows, FRONTEND_OWNERS};
use crate::engine::flow_table::FlowOwner;
use crate::host::fabric::{Fabric, GenerationFault, Touched};
use crate::host::underlay::{UnderlayQueue, ETH_HLEN};
use crate::host::{NamespaceSpec, TunQueue};
use crate::plan::Plan;
use crate::plan::PortIdx;
use crate::snapshot::{ChangedPorts, Snapshot};
use crate::topology::{TiVec, Topology};
use arc_swap::{ArcSwap, Guard};
use std::collections::HashMap;
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

/// A port of the plan as it lives on the host: its TUN device as the
/// workers see it (queue `w` belongs to worker `w`) and its place on the
/// fabric. `id` is the NIC's slot, which keys its counters and flows and
/// survives `apply`; `serial` is unique for the lab's life (never given to
/// another NIC) and names the NIC's MAC address.
#[derive(Debug)]
pub struct LivePort {
    pub id: PortId,
    pub serial: u32,
    pub spec: NamespaceSpec,
    pub queues: Vec<TunQueue>,
    /// Where the port is on the fabric, when its `eth0` is a veth there
    /// and its flows may be offloaded.
    pub fast: Option<FastPort>,
    /// For a port on another machine of a spread lab, the underlay it is
    /// reached through: it has no queues here.
    pub remote: Option<Arc<UnderlayLink>>,
}

/// Where a worker writes a packet for a port: the port's TUN queue, or
/// the underlay, framed for the port on another machine.
pub enum Egress<'a> {
    Tun(&'a TunQueue),
    Underlay(&'a UnderlayQueue, [u8; ETH_HLEN]),
}

impl Egress<'_> {
    /// Writes one packet (virtio-net header and IP packet).
    #[inline]
    pub fn send(&self, packet: &[u8]) -> std::io::Result<usize> {
        match self {
            Egress::Tun(queue) => queue.send(packet),
            Egress::Underlay(queue, eth) => queue.send(packet, eth),
        }
    }

    /// Whether it takes UDP super-packets.
    #[inline]
    pub fn udp_segmentation(&self) -> bool {
        match self {
            Egress::Tun(queue) => queue.udp_segmentation(),
            Egress::Underlay(queue, _) => queue.udp_segmentation(),
        }
    }
}

impl LivePort {
    /// A port placed on another machine, reached through `underlay`:
    /// nothing of it is built here.
    pub fn remote(
        id: PortId,
        serial: u32,
        spec: NamespaceSpec,
        underlay: Arc<UnderlayLink>,
    ) -> LivePort {
        LivePort {
            id,
            serial,
            spec,
            queues: Vec::new(),
            fast: None,
            remote: Some(underlay),
        }
    }

    /// True for a port on another machine.
    #[inline]
    pub fn is_remote(&self) -> bool {
        self.remote.is_some()
    }

    /// The queue worker `worker` writes this port's packets to: its own
    /// when the port has one per worker, else one it shares with others
    /// (a TUN device takes writes from any thread).
    pub fn queue_for(&self, worker: usize) -> Option<&TunQueue> {
        // No division on the per-packet path: a worker past the port's
        // queues shares the first.
        self.queues.get(worker).or_else(|| self.queues.first())
    }

    /// The queue worker `worker` (of `workers`) reads for this port, the
    /// NIC `nic`, if any. With a queue per worker each reads its own; with
    /// fewer (a lab too large for a descriptor per NIC and worker, see
    /// `Daemon::start`), queue `q` is read by worker `(nic + q) % workers`,
    /// so that the NICs are spread over the workers.
    pub fn queue_read_by(&self, worker: usize, workers: usize, nic: PortIdx) -> Option<&TunQueue> {
        let queues = self.queues.len();
        if queues >= workers {
            return self.queues.get(worker);
        }
        (0..queues)
            .find(|q| (usize::from(nic) + q) % workers == worker)
            .and_then(|q| self.queues.get(q))
    }
}

/// Where a port is on the fabric: its host end, its `eth0`'s MAC, and its
/// TUN device there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastPort {
    pub host_end: u32,
    pub mac: [u8; 6],
    pub tun: u32,
    /// Where the fabric keeps the port's generation and counters.
    pub index: u32,
}

impl FastPort {
    /// Where a plumbed namespace's `eth0` is on the fabric, if it is.
    pub fn of(plumbed: &crate::host::PlumbedNamespace) -> Option<FastPort> {
        plumbed.fabric_port().map(|p| FastPort {
            host_end: p.host_end,
            mac: p.mac,
            tun: p.tun,
            index: p.index(),
        })
    }
}

/// What the workers forward with: the compiled snapshot and, for each of
/// its NICs (same index), the port.
#[derive(Debug)]
pub struct Plane {
    pub snapshot: Arc<Snapshot>,
    pub ports: TiVec<PortIdx, Arc<LivePort>>,
    /// Each port's position by its slot, built once with the ports (the
    /// flow log and `flows` ask it for every flow).
    by_slot: Arc<HashMap<PortId, PortIdx>>,
}

impl Plane {
    pub fn new(snapshot: Arc<Snapshot>, ports: TiVec<PortIdx, Arc<LivePort>>) -> Plane {
        let by_slot = (ports.iter_enumerated())
            .map(|(at, port)| (port.id, at))
            .collect();
        Plane {
            snapshot,
            ports,
            by_slot: Arc::new(by_slot),
        }
    }

    /// The same ports under `snapshot`.
    pub fn with_snapshot(&self, snapshot: Arc<Snapshot>) -> Plane {
        Plane {
            snapshot,
            ports: self.ports.clone(),
            by_slot: self.by_slot.clone(),
        }
    }

    #[inline]
    pub fn port_id(&self, port: PortIdx) -> PortId {
        self.ports.get(port).map_or(PortId::NONE, |p| p.id)
    }

    /// Where worker `worker` writes a packet for `port` (`packet` is its
    /// virtio-net header and IP packet, which names its IP version).
    #[inline]
    pub fn egress(&self, port: PortIdx, worker: usize, packet: &[u8]) -> Option<Egress<'_>> {
        let live = self.ports.get(port)?;
        match &live.remote {
            None => live.queue_for(worker).map(Egress::Tun),
            Some(underlay) => underlay
                .queue_for(worker)
                .map(|queue| Egress::Underlay(queue, frame_header(port, packet))),
        }
    }

    /// Whether the workers may join datagrams into one UDP super-packet for
    /// `port`: not for a VM's NIC, whose `eth0` counts what it is handed,
    /// so that it counts each datagram, as a NIC counts the packets on the
    /// wire (and as vnetd counts them), nor for a port that forwards to
    /// VMs (a firewall, the Internet). Gateways, sites and probers take the
    /// runs whole.
    #[inline]
    pub fn takes_udp_runs(&self, port: PortIdx) -> bool {
        // Only ports whose namespace ends the datagrams or hands them out
        // of Azure: a firewall or the Internet forwards to VMs, which would
        // get the run whole.
        (self.snapshot.plan.ports.get(port)).is_some_and(|p| p.kind.takes_udp_runs())
    }

    /// The port whose slot is `port` in this plane (none once it has left).
    pub fn port_of_slot(&self, port: PortId) -> Option<PortIdx> {
        self.by_slot.get(&port).copied()
    }
}

/// The plane the workers forward with, and the one way to publish a new
/// one (`apply`, what the gateways learned, what the health probes found,
/// an undone apply: every publisher goes through
/// [`PublishedPlane::publish_over`], from `publish.rs`).
///
/// Before a plane is published, the fabric is told which ports it may
/// decide otherwise than the plane before ([`Snapshot::changed_ports_since`]):
/// their generation is raised to the new snapshot's (every port's, for a
/// plane of other ports or of other tables every port reads). From then
/// on the kernel fast path carries no packet of theirs under an entry
/// decided with older rules, and sends
/// it to the workers instead, which decide it under the rules they hold
/// (and offload its flow again if it is still admitted); the flows of the
/// other ports stay in the kernel. Raising it first means the kernel stops
/// before the workers start: a worker still on the older plane may ask to
/// install under the older generation, and that entry is never used.
///
/// When the kernel cannot be told, the entries of the ports concerned are
/// removed instead; when they cannot be removed either, the plane is not
/// published ([`Publication::Refused`]): the kernel never decides with
/// older rules than the workers.
///
/// [`Snapshot::changed_ports_since`]: crate::snapshot::Snapshot::changed_ports_since
pub struct PublishedPlane {
    current: ArcSwap<Plane>,
    fabric: Option<Arc<Fabric>>,
}

impl std::fmt::Debug for PublishedPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishedPlane")
            .field("generation", &self.current.load().snapshot.generation)
            .finish_non_exhaustive()
    }
}

impl PublishedPlane {
    /// The first plane, with the fabric whose entries follow it (none
    /// without a fast path).
    pub fn new(plane: Plane, fabric: Option<Arc<Fabric>>) -> PublishedPlane {
        let published = PublishedPlane {
            current: ArcSwap::from_pointee(plane),
            fabric,
        };
        if let Some(fabric) = &published.fabric {
            let generation = published.current.load().snapshot.generation;
            if let Err(err) = fabric.advance(generation, Touched::All) {
                tracing::warn!("the kernel fast path: {err}");
            }
        }
        published
    }

    /// The plane published now.
    #[inline]
    pub fn load(&self) -> Guard<Arc<Plane>> {
        self.current.load()
    }

    /// The plane published now, held.
    pub fn load_full(&self) -> Arc<Plane> {
        self.current.load_full()
    }

    /// Publishes `new` if the plane published now is still `old`, and says
    /// whether it did (when superseded, the caller derives again from the
    /// newer plane, so that it never overwrites one). A fast path that could
    /// not follow is said in the log and kept in `faults`, for the answer
    /// of the command that published (an `apply`).
    pub fn publish_over(
        &self,
        old: &Arc<Plane>,
        new: Arc<Plane>,
        faults: &mut Vec<String>,
    ) -> Publication {
        if let Some(fabric) = &self.fabric {
            let changed = new.snapshot.changed_ports_since(&old.snapshot);
            let ports: Vec<u32> = match &changed {
                ChangedPorts::All => Vec::new(),
                ChangedPorts::Only(ports) => (ports.iter())
                    .filter_map(|&p| new.ports.get(p)?.fast.map(|f| f.index))
                    .collect(),
            };
            let touched = match changed {
                ChangedPorts::All => Touched::All,
                ChangedPorts::Only(_) => Touched::Ports(&ports),
            };
            match fabric.advance(new.snapshot.generation, touched) {
                Ok(()) => {}
                Err(err @ GenerationFault::Closed(_)) => warn_and_keep!(faults, "{err}"),
                Err(err @ GenerationFault::Open(_)) => {
                    warn_and_keep!(faults, "{err}; the new rules are not published");
                    return Publication::Refused;
                }
            }
        }
        let before = self.current.compare_and_swap(old, new);
        if Arc::ptr_eq(&before, old) {
            Publication::Published
        } else {
            Publication::Superseded
        }
    }
}

/// What became of a plane offered to [`PublishedPlane::publish_over`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publication {
    Published,
    /// Another plane was published meanwhile: derive again from it.
    Superseded,
    /// The kernel fast path could neither follow nor be emptied of the
    /// flows the plane changes: the plane published stays.
    Refused,
}

/// A NIC's flows belong to its port slot, so that they survive an `apply`
/// that renumbers NICs.
impl FlowOwners for &Plane {
    #[inline]
    fn owner(&self, nic: PortIdx) -> FlowOwner {
        self.port_id(nic).owner()
    }

    /// Frontends own the numbers after the NICs' ports.
    #[inline]
    fn frontend_owner(&self, stable_id: u32) -> FlowOwner {
        frontend_flow_owner(stable_id)
    }
}

/// The owner of a frontend's flows (and, under
/// [`crate::dataplane::conntrack::EDGE_STABLE_ID`], of the Internet
/// edge's translations): the numbers after the NICs' ports.
#[inline]
pub fn frontend_flow_owner(stable_id: u32) -> FlowOwner {
    FlowOwner::new(crate::daemon::options::MAX_NICS + stable_id % FRONTEND_OWNERS)
}

/// Connection tracking keyed by stable port numbers.
pub type PortConntrack<'a> = TrackedFlows<'a, &'a Plane>;

#[cfg(test)]
mod tests {
    use super::*;

    fn port(slot: u32) -> Arc<LivePort> {
        Arc::new(LivePort {
            id: PortId::new(slot),
            serial: slot,
            spec: NamespaceSpec::new(format!("slot{slot}")),
            queues: Vec::new(),
            fast: None,
            remote: None,
        })
    }

    #[test]
    fn a_slot_finds_the_port_a_scan_of_the_ports_finds() {
        let snapshot = Arc::new(Snapshot::compile(Topology::default(), 1));
        // Slots as an apply leaves them: out of order, with gaps.
        let slots = [7, 3, 11, 0, 12, 5];
        let ports: TiVec<PortIdx, Arc<LivePort>> = slots.iter().map(|&s| port(s)).collect();
        let plane = Plane::new(snapshot.clone(), ports);
        let again = plane.with_snapshot(snapshot);
        for slot in 0..14 {
            let slot = PortId::new(slot);
            let scanned = plane.ports.position(|p| p.id == slot);
            assert_eq!(plane.port_of_slot(slot), scanned, "{slot:?}");
            assert_eq!(again.port_of_slot(slot), scanned, "{slot:?}");
        }
        assert_eq!(plane.port_of_slot(PortId::NONE), None);
    }
}
