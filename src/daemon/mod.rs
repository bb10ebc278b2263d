//! The running lab: it turns a topology into namespaces and TUN devices
//! (through [`crate::host`]), publishes what the workers forward with as one
//! immutable [`Plane`] behind `arc-swap`, and runs one forwarding
//! [`forwarding::worker::Worker`] per core. This is the one place where the Azure side
//! and the host side meet.
//!
//! [`Daemon::apply`] replaces the topology without a restart, as Azure
//! changes peerings, routes and NSGs without downtime: the new file is
//! validated and compiled first (a refused file changes nothing), NICs that
//! appeared get their namespace, NICs that went away lose theirs, NICs whose
//! addresses or namespace changed are re-plumbed, and every other NIC keeps
//! its TUN queues, its counters and its tracked flows; a VM's new size
//! changes its rate cap in place. The hybrid half changes part by part
//! (`hybrid::reconcile`): sites, speakers and site routers that did not
//! change keep running, with their BGP sessions. New namespaces are
//! built first; a host failure there removes what was built and changes
//! nothing. The new plane is then published in one atomic swap (workers
//! pick it up at their next wake-up, within 100 ms), and only then are the
//! departing namespaces removed and their flows forgotten. Nothing else
//! waits for an `apply` in progress: the reports (`stats`, `flows`, the
//! metrics, `lb show`, the BGP sessions) read what is published, and the
//! health prober and the BGP watchers publish without its lock.
//!
//! Each NIC's port has a serial, unique for the lab's life (it names the
//! NIC's MAC address in flow logs), and a slot, which indexes its counters
//! and flows. A slot is given to a new NIC only once every worker has moved
//! past the plane that last used it, and its counters and flows are cleared
//! then: a new NIC never inherits a departed one's counters or flows.
//!
//! The daemon has four rooms, each a folder with a map of its files and
//! its invariants in its module doc:
//!
//! | room | folder | what it holds |
//! |---|---|---|
//! | [`forwarding`] | `daemon/forwarding/` | what carries packets: the workers, the plane they forward with, the egress write, the kernel fast path, the underlay, the per-packet counters and the events the workers send |
//! | [`changing`] | `daemon/changing/` | what changes the lab: `apply`, publication, the hybrid half, the host mesh, the health prober, port plumbing, `down` |
//! | [`reporting`] | `daemon/reporting/` | what only reports: the reports, the metrics, the flow logs, convergence |
//! | [`answering`] | `daemon/answering/` | what answers in the lab as Azure's platform does: Azure DNS at 168.63.129.16, the PaaS resources behind Private Endpoints |
//!
//! A room uses only the rooms below it: `changing` may use `reporting`
//! and `forwarding`, `reporting` may use `forwarding` and `answering` (its
//! counters), `answering` may use `forwarding` (and the `Daemon` it answers for), and `forwarding`
//! none (`tests/offline/layering.rs` checks it). The rooms meet at
//! the [`Daemon`] of this root, whose methods each room writes for what it
//! owns. Beside the rooms, at the root: [`options`] (how a lab is run,
//! plain settings every room reads), [`threads`] (panics caught, counted
//! and restarted; fault injection: every room's threads are supervised
//! alike), `start` (a lab's start: it builds the lab and starts every
//! room's threads, so it belongs to no one room) and the control socket
//! [`control`] (served by the accept loop of [`crate::host::listener`]):
//! it answers `apply` as well as the reports, so it is the daemon's front
//! door rather than a report. This module owns the [`Daemon`]'s state,
//! accessors and shutdown.
/// Says a fault met while doing what a command asked in the daemon's log
/// (a warning, in the caller's module and spans) and keeps its words in
/// `$into`, a `Vec<String>`, for that command's answer: a fault an `apply`
/// caused reaches the `apply` as well as the log.
macro_rules! warn_and_keep {
    ($into:expr, $($words:tt)+) => {{
        let message = format!($($words)+);
        tracing::warn!("{message}");
        $into.push(message);
    }};
}

pub mod answering;
pub mod changing;
pub mod control;
pub mod forwarding;
pub mod options;
pub mod reporting;
mod start;
pub mod threads;

pub use changing::apply::ApplyError;
pub use changing::down::{down, down_all};
pub use changing::hybrid::RoutingDaemon;
pub use changing::ports::namespace_spec;
pub use forwarding::plane::{
    namespace_names, Egress, LivePort, Plane, PortConntrack, PublishedPlane,
};
pub use forwarding::port_id::PortId;
pub use options::{default_flow_table_slots, RunOptions, MAX_NICS};

use crate::engine::flow_table::FlowTable;
use crate::snapshot::Snapshot;
use crate::topology::TiVec;
use anyhow::Result;
use arc_swap::ArcSwapOption;
use changing::apply::Mutable;
use changing::hybrid::{Roster, Watch};
use changing::publish::{publish_applied, Records};
use changing::{lb, mesh};
use forwarding::underlay::UnderlayLink;
use forwarding::{drop_feed, global_reach, offload, queue_drops, stats::WorkerCounters};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;
use threads::{Faults, ThreadPanics};

pub struct Daemon {
    plane: Arc<PublishedPlane>,
    /// The VXLAN underlay to the other machines of a spread lab.
    underlay: Option<Arc<UnderlayLink>>,
    /// The BGP mesh to the other machines of a spread lab.
    mesh: Mutex<Option<mesh::HostMesh>>,
    /// The plane generation each worker forwards with (see [`Slots`]).
    worker_generations: Arc<Vec<AtomicU64>>,
    /// What `apply` changes, under the lock it takes. Only `apply` and
    /// shutdown take it: reports read what is published (the plane,
    /// `routing`, the counters), and publishers publish without it.
    mutable: Arc<Mutex<Option<Mutable>>>,
    /// The lab's routing daemons, published at start and whenever an
    /// `apply` ends (each daemon is locked on its own while it is asked);
    /// `None` once the lab is shutting down.
    routing: Arc<ArcSwapOption<Roster>>,
    /// What the BGP watchers and the health prober last found: what every
    /// plane is published with (see [`publish`]).
    records: Arc<Records>,
    /// What the speakers' watchers are started with.
    watch: Watch,
    workers: usize,
    /// TUN queues each port gets: one per worker, or one in a lab too
    /// large for that (see [`queues_per_port`]).
    queues_per_port: usize,
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
    /// The handle the firewalls' log rows are appended with.
    firewall_log: forwarding::firewall_log::FirewallLog,
    /// The consumer's end of the drop events, until it is taken
    /// ([`Daemon::take_drop_events`]); `None` unless asked for at start.
    drop_events: Mutex<Option<drop_feed::DropSource>>,
    /// Times a worker failed (an error or a panic) and was started again.
    worker_restarts: Arc<AtomicU64>,
    /// Panics caught in the daemon's threads, per kind.
    panics: Arc<ThreadPanics>,
    /// This daemon's fault injection, handed to each thread at its start.
    faults: Arc<Faults>,
    /// What the load balancers' health probes found, per backend.
    probes: Arc<lb::ProbeBook>,
    /// What Azure DNS was asked, and the PaaS responders answered.
    names: (
        Arc<answering::azure_dns::DnsCounters>,
        Arc<answering::paas::PaasCounters>,
    ),
    /// Where the routing daemons' programs must be, for `apply` too.
    programs: crate::host::routing::ProgramSearch,
    /// The kernel fast path, when the lab has one.
    offload: Option<Arc<offload::Offload>>,
    /// What the queues between the NICs and the workers dropped.
    queue_drops: Arc<queue_drops::QueueDrops>,
    /// Azure's delays and rates apply (not `--no-shaping`).
    shaping: bool,
    /// The Global Reach links between edge routers, carried delayed.
    reach: Arc<global_reach::ReachLines>,
    /// The lab's span in the log (its file, and the host it runs as in a
    /// spread lab): every thread of the lab logs inside it, each apply
    /// and each BGP speaker in a span of its own below it.
    span: tracing::Span,
    /// The lab's CA: the certificates its responders present, trusted by
    /// its VMs.
    tls: Arc<answering::tls::LabTls>,
    /// The namespaces of the lab once removed, alive until the daemon is
    /// dropped: declared last, so that they die after the plane above has
    /// closed the ports' TUN queues (see [`crate::host::UnmountedNamespaces`]).
    unmounted: Mutex<Option<crate::host::UnmountedNamespaces>>,
}

impl Daemon {
    /// The lab's span in the log: what is said of the lab (a reload on
    /// SIGHUP, say) is said inside it.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Where the lab's CA certificate is written (PEM), for clients
    /// outside the VMs' namespaces to trust.
    pub fn lab_ca_path(&self) -> &std::path::Path {
        self.tls.path()
    }

    /// The lab's CA certificate (PEM), which the VMs' namespaces trust.
    pub fn lab_ca_pem(&self) -> Arc<str> {
        self.tls.pem().clone()
    }

    /// The certificate store the lab's VMs trust (the system's and the
    /// lab's CA), which each VM's namespace links to.
    pub fn lab_trust_store(&self) -> Arc<std::path::Path> {
        self.tls.store().clone()
    }

    /// The snapshot the workers forward with now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.plane.load().snapshot.clone()
    }

    /// The plane the workers forward with now.
    pub fn plane(&self) -> Arc<Plane> {
        self.plane.load_full()
    }

    /// Deny events lost on the way to the flow logs (the flow-log thread
    /// fell behind; the packets themselves were dropped as decided).
    pub fn flow_log_events_lost(&self) -> u64 {
        self.deny_events_lost.load(Ordering::Relaxed)
    }

    /// The handle that appends a row to an Azure Firewall's logs
    /// (`AZFWNetworkRule`, `AZFWNatRule`, `AZFWApplicationRule`,
    /// `AZFWDnsQuery`), written with the flow logs; see
    /// [`forwarding::firewall_log`].
    pub fn firewall_log(&self) -> forwarding::firewall_log::FirewallLog {
        self.firewall_log.clone()
    }

    /// The drop events the workers report, for the one consumer that asked
    /// for them at start ([`RunOptions::drop_events`]); `None` when not
    /// asked for, or already taken.
    pub fn take_drop_events(&self) -> Option<drop_feed::DropSource> {
        self.drop_events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Times a worker failed (an error or a panic) and was started again.
    pub fn worker_restarts(&self) -> u64 {
        self.worker_restarts.load(Ordering::Relaxed)
    }

    /// What Azure DNS was asked and the PaaS responders answered.
    pub fn names_counters(
        &self,
    ) -> (
        &answering::azure_dns::DnsCounters,
        &answering::paas::PaasCounters,
    ) {
        (&self.names.0, &self.names.1)
    }

    /// Panics caught in the daemon's threads, per kind (shared with the
    /// servers, which count their connections' panics here).
    pub fn thread_panics(&self) -> &Arc<ThreadPanics> {
        &self.panics
    }

    /// This daemon's fault injection: tests arm a panic in a kind of its
    /// threads here.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The kernel fast path, when the lab has one.
    pub fn offload(&self) -> Option<&Arc<offload::Offload>> {
        self.offload.as_ref()
    }

    /// Adds what the kernel counted so far to the counters and flows: what
    /// the fast path carried and dropped, and what the queues between the
    /// NICs and the workers dropped, so that a report made next is exact.
    /// Returns what could not be read (each said in the log too), for the
    /// report's answer: its counts leave that out.
    pub fn sync_offload(&self) -> Vec<String> {
        let plane = self.plane.load();
        let faults = match &self.offload {
            Some(offload) => offload.sync(&plane, &self.flows),
            None => Vec::new(),
        };
        self.queue_drops.sync(&plane, &self.counters, false);
        faults
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

    /// Stops the workers and removes every namespace the lab created. It
    /// takes `&self` so that a client still holding the daemon (a control
    /// connection) never delays or prevents the removal; later requests
    /// are told the lab is shutting down.
    pub fn shutdown(&self) -> Result<()> {
        let _in_lab = self.span.enter();
        tracing::info!("stopping: removing the lab");
        self.stop_workers();
        // The other machines withdraw this one's routes first.
        self.mesh.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.routing.store(None);
        let state = self
            .mutable
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let ports = match state {
            Some(s) => {
                // The daemons and sites go first, then the ports.
                drop(s.hybrid);
                s.lab.teardown().map(|unmounted| {
                    *self.unmounted.lock().unwrap_or_else(|p| p.into_inner()) = Some(unmounted);
                })
            }
            None => Ok(()),
        };
        // Then the fabric they were on.
        let fabric = match &self.offload {
            Some(offload) => offload.fabric().remove_namespace(),
            None => Ok(()),
        };
        self.tls.remove();
        ports.and(fabric)
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
        self.reach.join();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // The other machines withdraw this one's routes first.
        self.mesh.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.stop_workers();
        self.routing.store(None);
        // The lab removes its namespaces when dropped.
        self.mutable
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }
}

impl Daemon {
    /// Publishes the plane `apply` built (see [`publish::publish_applied`])
    /// and returns its generation; a fast path that could not follow is
    /// kept in `faults`.
    pub(crate) fn publish_applied(
        &self,
        snapshot: Arc<Snapshot>,
        ports: TiVec<crate::plan::PortIdx, Arc<LivePort>>,
        faults: &mut Vec<String>,
    ) -> u64 {
        // Refused (the fault is in `faults`): the plane published stays,
        // and so does its generation.
        publish_applied(&self.plane, &self.records, snapshot, (ports, faults))
            .unwrap_or_else(|_| self.plane.load().snapshot.generation)
    }

    /// Publishes the routing daemons as `state` runs them now, for the
    /// reports and the supervisor (at the end of every `apply`).
    fn publish_routing(&self, state: &Mutable) {
        self.routing.store(Some(Arc::new(state.hybrid.roster())));
    }

    /// The routing daemons as last published; `None` once the lab is
    /// shutting down.
    pub(crate) fn routing(&self) -> Option<Arc<Roster>> {
        self.routing.load_full()
    }

    /// What the gateway instances have learned now (what `apply` compiles
    /// with).
    pub(crate) fn learned_now(&self) -> crate::policy::gateways::LearnedRoutes {
        self.records.learned.current()
    }

    /// What the speakers' watchers are started with (for `apply`, which
    /// starts one for each new gateway instance speaker).
    pub(crate) fn watch(&self) -> &Watch {
        &self.watch
    }
}
