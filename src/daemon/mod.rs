//! The running lab: it turns a topology into namespaces and TUN devices
//! (through [`crate::host`]), publishes what the workers forward with as one
//! immutable [`Plane`] behind `arc-swap`, and runs one forwarding
//! [`worker::Worker`] per core. This is the one place where the Azure side
//! and the host side meet.
//!
//! [`Daemon::apply`] replaces the topology without a restart, as Azure
//! changes peerings, routes and NSGs without downtime: the new file is
//! validated and compiled first (a refused file changes nothing), NICs that
//! appeared get their namespace, NICs that went away lose theirs, NICs whose
//! addresses or namespace changed are re-plumbed, and every other NIC keeps
//! its TUN queues, its counters and its tracked flows. New namespaces are
//! built first; a host failure there removes what was built and changes
//! nothing. The new plane is then published in one atomic swap (workers
//! pick it up at their next wake-up, within 100 ms), and only then are the
//! departing namespaces removed and their flows forgotten.
//!
//! Each NIC's port has a serial, unique for the lab's life (it names the
//! NIC's MAC address in flow logs), and a slot, which indexes its counters
//! and flows. A slot is given to a new NIC only once every worker has moved
//! past the plane that last used it, and its counters and flows are cleared
//! then: a new NIC never inherits a departed one's counters or flows.

pub mod control;
pub mod flow_log;
pub mod metrics;
pub mod report;
pub mod serve;
pub mod stats;
pub mod worker;

use crate::dataplane::{Admission, Conntrack, PacketView};
use crate::engine::flow_table::{FlowKey, FlowTable, DEFAULT_QUOTA_FLOOR};
use crate::host::{cleanup_leftovers, netlink, HostLab, NamespaceSpec, TunQueue, INTERFACE_NAME};
use crate::snapshot::{RuleId, Snapshot};
use crate::topology::{Diagnostic, Direction, Nic, NicIdx, TiSlice, TiVec, Topology};
use anyhow::{Context, Result};
use arc_swap::ArcSwap;
use flow_log::{DenySink, FlowLogOptions, FlowLogger};
use ipnet::IpNet;
pub use stats::PortId;
use stats::{NicStats, WorkerCounters};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

/// How a lab is run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Forwarding threads (and TUN queues per NIC).
    pub workers: usize,
    /// Slots of the flow table (tracked flows of all NICs together).
    pub flow_capacity: usize,
    /// NSG flow logs: where and how often; off when `None`.
    pub flow_log: Option<FlowLogOptions>,
}

/// NICs a lab may have at once (counters and flow quotas are kept per NIC
/// port, allocated once).
pub const MAX_NICS: u32 = 4096;

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            flow_capacity: 1 << 20,
            flow_log: None,
        }
    }
}

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

/// The outcome of a refused `apply`.
#[derive(Debug)]
pub enum ApplyError {
    /// The file is invalid: the running topology is untouched.
    Invalid(Vec<Diagnostic>),
    /// The host refused a change (e.g. a namespace name already taken): the
    /// running topology is untouched.
    Host(anyhow::Error),
}

/// What an `apply` changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ApplySummary {
    pub generation: u64,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub replumbed: Vec<String>,
}

struct Mutable {
    lab: HostLab,
    slots: Slots,
    next_serial: u32,
}

/// Port slots: never used, free again, or waiting for the workers to move
/// past the plane generation that last used them.
struct Slots {
    next_fresh: u32,
    free: Vec<PortId>,
    retiring: Vec<(PortId, u64)>,
}

impl Slots {
    fn new(used: u32) -> Slots {
        Slots {
            next_fresh: used,
            free: Vec::new(),
            retiring: Vec::new(),
        }
    }

    /// A slot for a new NIC: a cleared one first, so the clearing is
    /// exercised all the time rather than once in 4096 NICs.
    fn take(&mut self) -> Option<PortId> {
        if let Some(slot) = self.free.pop() {
            return Some(slot);
        }
        if self.next_fresh < MAX_NICS {
            self.next_fresh += 1;
            return Some(PortId::new(self.next_fresh - 1));
        }
        None
    }
}

pub struct Daemon {
    plane: Arc<ArcSwap<Plane>>,
    /// The plane generation each worker forwards with (see [`Slots`]).
    worker_generations: Arc<Vec<AtomicU64>>,
    mutable: Mutex<Option<Mutable>>,
    workers: usize,
    flows: Arc<FlowTable>,
    counters: Vec<Arc<WorkerCounters>>,
    stop: Arc<AtomicBool>,
    handles: Mutex<Vec<JoinHandle<()>>>,
    /// The flow-log thread and its own stop flag: it stops after the
    /// workers, so that its last scan sees everything they did.
    flow_logger: Mutex<Option<(Arc<AtomicBool>, JoinHandle<()>)>>,
    epoch: Instant,
    /// Deny events the workers could not hand to the flow-log thread.
    deny_events_lost: Arc<AtomicU64>,
    /// Times a worker failed and was started again.
    worker_restarts: Arc<AtomicU64>,
}

impl Daemon {
    /// Builds the lab and starts forwarding. On failure, whatever was built
    /// is removed again.
    pub fn start(topology: Topology, options: &RunOptions) -> Result<Daemon> {
        let workers = options.workers.clamp(1, crate::host::tun::MAX_QUEUES);
        anyhow::ensure!(
            topology.nics.len() <= MAX_NICS as usize,
            "a lab holds at most {MAX_NICS} NICs"
        );
        let specs: Vec<NamespaceSpec> = topology
            .nics
            .iter()
            .map(|nic| namespace_spec(&topology, nic, workers))
            .collect();
        let mut lab = HostLab::build(&specs).context("building the lab's namespaces")?;
        let mut ports = TiVec::new();
        for (id, spec) in (0..).zip(specs) {
            let queues = lab
                .take_queues(&spec.name)
                .with_context(|| format!("no queues for namespace {}", spec.name))?;
            ports.push(Arc::new(Port {
                id: PortId::new(id),
                serial: id,
                spec,
                queues,
            }));
        }
        let used = ports.len() as u32;
        let nic_count = topology.nics.len();
        let plane = Arc::new(ArcSwap::from_pointee(Plane {
            snapshot: Arc::new(Snapshot::compile(topology, 1)),
            ports,
        }));
        let flows = Arc::new(FlowTable::new(
            options.flow_capacity,
            MAX_NICS,
            FlowTable::default_quota(
                options.flow_capacity,
                nic_count.max(1) as u32,
                DEFAULT_QUOTA_FLOOR,
            ),
        ));
        let stop = Arc::new(AtomicBool::new(false));
        let epoch = Instant::now();
        let counters: Vec<_> = (0..workers)
            .map(|_| Arc::new(WorkerCounters::new(MAX_NICS as usize)))
            .collect();
        let daemon = Daemon {
            plane,
            worker_generations: Arc::new((0..workers).map(|_| AtomicU64::new(1)).collect()),
            mutable: Mutex::new(Some(Mutable {
                lab,
                slots: Slots::new(used),
                next_serial: used,
            })),
            workers,
            flows,
            counters,
            stop,
            handles: Mutex::new(Vec::new()),
            flow_logger: Mutex::new(None),
            deny_events_lost: Arc::new(AtomicU64::new(0)),
            worker_restarts: Arc::new(AtomicU64::new(0)),
            epoch,
        };
        let mut deny_sink: Option<DenySink> = None;
        if let Some(log_options) = &options.flow_log {
            let (sink, source) = flow_log::deny_channel(daemon.deny_events_lost.clone());
            deny_sink = Some(sink);
            let stop = Arc::new(AtomicBool::new(false));
            let logger = FlowLogger::new(
                log_options.clone(),
                daemon.plane.clone(),
                daemon.flows.clone(),
                source,
                stop.clone(),
                epoch,
            );
            let handle = std::thread::Builder::new()
                .name("vnetd-flow-log".into())
                .spawn(move || logger.run())
                .context("starting the flow-log thread")?;
            *daemon.flow_logger.lock().unwrap_or_else(|p| p.into_inner()) = Some((stop, handle));
        }
        for w in 0..workers {
            let worker = worker::Worker {
                index: w,
                plane: daemon.plane.clone(),
                generations: daemon.worker_generations.clone(),
                flows: daemon.flows.clone(),
                counters: daemon.counters[w].clone(),
                stop: daemon.stop.clone(),
                epoch,
                denies: deny_sink.clone(),
            };
            let restarts = daemon.worker_restarts.clone();
            let handle = std::thread::Builder::new()
                .name(format!("vnetd-worker-{w}"))
                .spawn(move || {
                    // A worker that fails is counted, said on stderr and run
                    // again with fresh state: its share of every NIC's
                    // flows must not go dark.
                    while let Err(e) = worker.run() {
                        restarts.fetch_add(1, Ordering::Relaxed);
                        eprintln!("vnetd: worker {w} failed ({e}); restarting it");
                        if worker.stop.load(Ordering::Relaxed) {
                            break;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                })
                .context("starting a worker thread")?;
            daemon
                .handles
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(handle);
        }
        let (flows, stop) = (daemon.flows.clone(), daemon.stop.clone());
        let housekeeping = std::thread::Builder::new()
            .name("vnetd-housekeeping".into())
            .spawn(move || housekeep(&flows, &stop, epoch))
            .context("starting the housekeeping thread")?;
        daemon
            .handles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(housekeeping);
        Ok(daemon)
    }

    /// The snapshot the workers forward with now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.plane.load().snapshot.clone()
    }

    /// The plane the workers forward with now.
    pub fn plane(&self) -> Arc<Plane> {
        self.plane.load_full()
    }

    /// Traffic and drop counters of a NIC, summed over workers.
    pub fn nic_stats(&self, nic: &str) -> Option<NicStats> {
        let plane = self.plane.load();
        let idx = plane.snapshot.nic_by_name(nic)?;
        Some(stats::total(&self.counters, plane.port_id(idx)))
    }

    /// Deny events lost on the way to the flow logs (the flow-log thread
    /// fell behind; the packets themselves were dropped as decided).
    pub fn flow_log_events_lost(&self) -> u64 {
        self.deny_events_lost.load(Ordering::Relaxed)
    }

    /// Times a worker failed and was started again.
    pub fn worker_restarts(&self) -> u64 {
        self.worker_restarts.load(Ordering::Relaxed)
    }

    /// The flow table the workers track connections in.
    pub fn flows(&self) -> &FlowTable {
        &self.flows
    }

    /// The oldest plane generation a worker still forwards with.
    pub fn oldest_worker_generation(&self) -> u64 {
        self.worker_generations
            .iter()
            .map(|g| g.load(Ordering::Acquire))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Milliseconds since the daemon started (the flow table's clock).
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Replaces the running topology with the one in `text` (see the module
    /// doc). On refusal nothing changes.
    pub fn apply(&self, source: &str, text: &str) -> Result<ApplySummary, ApplyError> {
        self.apply_with(source, text, crate::topology::ParseOptions::default())
    }

    /// [`Daemon::apply`] with parse options (an empty topology is refused
    /// unless `options.allow_empty`).
    pub fn apply_with(
        &self,
        source: &str,
        text: &str,
        options: crate::topology::ParseOptions,
    ) -> Result<ApplySummary, ApplyError> {
        let loaded =
            crate::topology::parse_str_with(source, text, options).map_err(ApplyError::Invalid)?;
        let topology = loaded.topology;
        if topology.nics.len() > MAX_NICS as usize {
            return Err(ApplyError::Host(anyhow::anyhow!(
                "a lab holds at most {MAX_NICS} NICs"
            )));
        }
        let mut guard = self.mutable.lock().unwrap_or_else(|p| p.into_inner());
        let Some(state) = guard.as_mut() else {
            return Err(ApplyError::Host(anyhow::anyhow!(
                "the lab is shutting down"
            )));
        };
        let old = self.plane.load_full();
        let old_ports: HashMap<&str, (NicIdx, &Arc<Port>)> = old
            .snapshot
            .topology
            .nics
            .iter_enumerated()
            .zip(&old.ports)
            .map(|((i, n), p)| (n.name.as_str(), (i, p)))
            .collect();
        let generation = old.snapshot.generation + 1;
        let mut summary = ApplySummary {
            generation,
            ..ApplySummary::default()
        };
        // Decide each NIC's fate before touching the host.
        let mut keep: TiVec<NicIdx, Option<Arc<Port>>> = TiVec::new();
        let mut specs: TiVec<NicIdx, NamespaceSpec> = TiVec::new();
        for nic in &topology.nics {
            let spec = namespace_spec(&topology, nic, self.workers);
            let reuse = old_ports
                .get(nic.name.as_str())
                .filter(|(_, p)| same_plumbing(&p.spec, &spec));
            keep.push(reuse.map(|(_, p)| (*p).clone()));
            specs.push(spec);
        }
        let kept: Vec<&str> = topology
            .nics
            .iter()
            .zip(&keep)
            .filter(|(_, k)| k.is_some())
            .map(|(n, _)| n.name.as_str())
            .collect();
        let leaving: Vec<(&str, &Arc<Port>)> = old
            .snapshot
            .topology
            .nics
            .iter()
            .zip(&old.ports)
            .filter(|(n, _)| !kept.contains(&n.name.as_str()))
            .map(|(n, p)| (n.name.as_str(), p))
            .collect();
        let leaving_names: Vec<&str> = leaving.iter().map(|(_, p)| p.spec.name.as_str()).collect();
        for (spec, k) in specs.iter().zip(&keep) {
            if k.is_none()
                && crate::host::netns::exists(&spec.name)
                && !leaving_names.contains(&spec.name.as_str())
            {
                return Err(ApplyError::Host(anyhow::anyhow!(
                    "network namespace {} already exists; vnetd does not take over namespaces it did not create",
                    spec.name
                )));
            }
        }
        let needed = keep.iter().filter(|k| k.is_none()).count();
        self.recycle_slots(state);
        let available = (MAX_NICS - state.slots.next_fresh) as usize + state.slots.free.len();
        if needed > available {
            return Err(ApplyError::Host(anyhow::anyhow!(
                "{needed} new NICs, but only {available} port slots are free now (at most \
                 {MAX_NICS} NICs; slots of removed NICs free up once every worker has moved on)"
            )));
        }
        // Build: first the namespaces whose name is free, then those that
        // take the name of a departing one (which must go first). A host
        // failure undoes the builds and, for the second kind, rebuilds the
        // departed namespace, so that the old plane keeps working.
        let mut built: TiVec<NicIdx, Option<Vec<TunQueue>>> = specs.iter().map(|_| None).collect();
        let mut replaced: Vec<(NicIdx, NamespaceSpec)> = Vec::new();
        for same_name in [false, true] {
            for ((i, spec), k) in specs.iter_enumerated().zip(&keep) {
                if k.is_some() || leaving_names.contains(&spec.name.as_str()) != same_name {
                    continue;
                }
                if same_name {
                    let (name, port) = leaving
                        .iter()
                        .find(|(_, p)| p.spec.name == spec.name)
                        .expect("a departing namespace of that name");
                    if let Err(e) = state.lab.remove(&port.spec.name) {
                        eprintln!("vnetd: removing namespace {}: {e:#}", port.spec.name);
                    }
                    replaced.push((old_ports[name].0, port.spec.clone()));
                }
                match state.lab.add(spec) {
                    Ok(plumbed) => built[i] = Some(plumbed.take_queues()),
                    Err(e) => {
                        let nic = &topology.nics[i].name;
                        let undo = self.undo_builds(state, &specs, &built, &old, &replaced);
                        return Err(ApplyError::Host(
                            e.context(format!("plumbing NIC {nic}{undo}")),
                        ));
                    }
                }
            }
        }
        let mut ports = TiVec::with_capacity(specs.len());
        for ((nic, spec), (k, queues)) in topology
            .nics
            .iter()
            .zip(specs)
            .zip(keep.into_iter().zip(built))
        {
            if let Some(port) = k {
                ports.push(port);
                continue;
            }
            let id = state.slots.take().expect("slots counted above");
            let serial = state.next_serial;
            state.next_serial = state.next_serial.wrapping_add(1);
            if old_ports.contains_key(nic.name.as_str()) {
                summary.replumbed.push(nic.name.clone());
            } else {
                summary.added.push(nic.name.clone());
            }
            ports.push(Arc::new(Port {
                id,
                serial,
                spec,
                queues: queues.expect("built above"),
            }));
        }
        // IP forwarding of a kept NIC changed: the guest follows it (a new
        // namespace got it at build).
        for (nic, port) in topology.nics.iter().zip(&ports) {
            let before = old_ports
                .get(nic.name.as_str())
                .filter(|(_, p)| Arc::ptr_eq(p, port))
                .map(|(i, _)| old.snapshot.topology.nics[*i].ip_forwarding);
            if before.is_some_and(|b| b != nic.ip_forwarding) {
                if let Err(e) = netlink::set_namespace_forwarding(
                    &port.spec.name,
                    INTERFACE_NAME,
                    nic.ip_forwarding,
                ) {
                    eprintln!(
                        "vnetd: setting forwarding {} in {}: {e:#}",
                        if nic.ip_forwarding { "on" } else { "off" },
                        port.spec.name
                    );
                }
            }
        }
        let snapshot = Snapshot::compile_after(topology, generation, &old.snapshot);
        self.plane.store(Arc::new(Plane {
            snapshot: Arc::new(snapshot),
            ports,
        }));
        // A worker in the middle of a batch finishes it with the old plane;
        // wait (briefly: workers look at least every 100 ms) until every
        // worker forwards with the new one, so that when apply returns, the
        // next packet meets the new rules.
        self.wait_for_workers(generation);
        // Only now that no new packet can reach them: the departing NICs
        // lose their namespace, their flows, and in time their slot.
        for (name, port) in &leaving {
            if !summary.replumbed.iter().any(|n| n == name) {
                summary.removed.push(name.to_string());
            }
            if state.lab.namespace(&port.spec.name).is_some()
                && !replaced.iter().any(|(_, s)| s.name == port.spec.name)
            {
                if let Err(e) = state.lab.remove(&port.spec.name) {
                    eprintln!("vnetd: removing namespace {}: {e:#}", port.spec.name);
                }
            }
            self.forget_flows_of(port.id);
            state.slots.retiring.push((port.id, generation));
        }
        Ok(summary)
    }

    /// Waits, at most a second, until every worker forwards with plane
    /// `generation` or a newer one.
    fn wait_for_workers(&self, generation: u64) {
        let deadline = Instant::now() + std::time::Duration::from_secs(1);
        while self.oldest_worker_generation() < generation && Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    /// Frees the slots of departed NICs once every worker forwards with a
    /// plane that no longer has them, clearing their counters and flows
    /// (a worker on an older plane may have touched both after the apply).
    fn recycle_slots(&self, state: &mut Mutable) {
        let oldest = self.oldest_worker_generation();
        let mut still = Vec::new();
        for (slot, generation) in std::mem::take(&mut state.slots.retiring) {
            if generation <= oldest {
                for counters in &self.counters {
                    if let Some(c) = counters.ports.get(slot) {
                        c.reset();
                    }
                }
                self.forget_flows_of(slot);
                state.slots.free.push(slot);
            } else {
                still.push((slot, generation));
            }
        }
        state.slots.retiring = still;
    }

    /// Removes the namespaces an apply built before a host failure, and
    /// rebuilds the departed ones it had replaced, giving their queues to a
    /// republished old plane. Returns a note on what could not be restored.
    fn undo_builds(
        &self,
        state: &mut Mutable,
        specs: &TiSlice<NicIdx, NamespaceSpec>,
        built: &TiSlice<NicIdx, Option<Vec<TunQueue>>>,
        old: &Arc<Plane>,
        replaced: &[(NicIdx, NamespaceSpec)],
    ) -> String {
        for (spec, b) in specs.iter().zip(built) {
            if b.is_some() {
                if let Err(e) = state.lab.remove(&spec.name) {
                    eprintln!("vnetd: removing namespace {}: {e:#}", spec.name);
                }
            }
        }
        if replaced.is_empty() {
            return String::new();
        }
        let mut ports = old.ports.clone();
        let mut lost = Vec::new();
        for (index, spec) in replaced {
            if state.lab.namespace(&spec.name).is_some() {
                let _ = state.lab.remove(&spec.name);
            }
            match state.lab.add(spec) {
                Ok(plumbed) => {
                    let old_port = &old.ports[*index];
                    ports[*index] = Arc::new(Port {
                        id: old_port.id,
                        serial: old_port.serial,
                        spec: spec.clone(),
                        queues: plumbed.take_queues(),
                    });
                }
                Err(e) => lost.push(format!("{}: {e:#}", spec.name)),
            }
        }
        self.plane.store(Arc::new(Plane {
            snapshot: old.snapshot.clone(),
            ports,
        }));
        if lost.is_empty() {
            String::new()
        } else {
            format!(" (but could not rebuild {})", lost.join("; "))
        }
    }

    fn forget_flows_of(&self, port: PortId) {
        let now = self.now_ms();
        let mut keys: Vec<FlowKey> = Vec::new();
        self.flows.for_each(now, |k, _| {
            if k.nic == port.get() {
                keys.push(*k);
            }
        });
        for k in keys {
            self.flows.remove(&k, now);
        }
    }

    /// Stops the workers and removes every namespace the lab created. It
    /// takes `&self` so that a client still holding the daemon (a control
    /// connection) never delays or prevents the removal; later requests
    /// are told the lab is shutting down.
    pub fn shutdown(&self) -> Result<()> {
        self.stop_workers();
        let state = self
            .mutable
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        match state {
            Some(s) => s.lab.teardown(),
            None => Ok(()),
        }
    }

    fn stop_workers(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let handles: Vec<_> = self
            .handles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect();
        for handle in handles {
            let _ = handle.join();
        }
        let logger = self
            .flow_logger
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some((stop, handle)) = logger {
            stop.store(true, Ordering::Relaxed);
            let _ = handle.join();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop_workers();
        // The lab removes its namespaces when dropped.
        self.mutable
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }
}

/// True when a NIC can keep its namespace and TUN device: same namespace,
/// addresses, gateways and MTU (a change of IP forwarding needs no
/// re-plumbing).
fn same_plumbing(old: &NamespaceSpec, new: &NamespaceSpec) -> bool {
    old.name == new.name
        && old.addresses == new.addresses
        && old.gateways == new.gateways
        && old.mtu == new.mtu
        && old.queues == new.queues
}

/// Frees the slots of idle flows a little at a time, so inserts find free
/// slots without sweeping on the packet path.
fn housekeep(flows: &FlowTable, stop: &AtomicBool, epoch: Instant) {
    const PERIOD: std::time::Duration = std::time::Duration::from_millis(100);
    // A whole table every ten seconds at most.
    let budget = (flows.capacity() / 100).max(1024);
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(PERIOD);
        flows.sweep(epoch.elapsed().as_millis() as u64, budget);
    }
}

/// Removes the namespaces a topology's lab created and a crash left behind;
/// namespaces of those names that vnetd did not create, or that a running
/// vnetd still uses, are left alone and listed.
pub fn down(topology: &Topology) -> Result<crate::host::Leftovers> {
    cleanup_leftovers(&namespace_names(topology))
}
