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
//! The rooms: [`options`] (how a lab is run), [`plane`] (what the workers
//! forward with), [`publish`] (planes published without a lock, never
//! over each other), [`apply`](mod@apply) (live changes and port slots),
//! [`worker`], [`housekeeping`], [`lb`] (the load balancers' health
//! prober), [`offload`] (flows handed to the kernel fast path), [`stats`], [`flow_log`], [`drop_feed`] (drops as events, for the
//! live page), [`report`], [`threads`] (panics
//! caught, counted and restarted; fault injection), [`speakers`] (what
//! the BGP speakers say, in Azure's words), [`convergence`] (whether the
//! sessions, learned routes and first probes are all there),
//! the control socket [`control`] (served by the accept loop of
//! [`crate::host::listener`]), and [`metrics`] (the Prometheus exposition the HTTP server of
//! [`crate::web`] serves). This module owns the [`Daemon`]'s life: start, accessors,
//! shutdown. Which room may use which is checked by `tests/offline/layering.rs`.

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

pub mod apply;
pub mod control;
pub mod convergence;
mod down;
pub mod flow_log;
pub mod global_reach;
pub mod housekeeping;
pub mod hybrid;
pub mod lb;
pub mod mesh;
pub use down::{down, down_all};
pub mod drop_feed;
pub mod metrics;
pub mod offload;
pub mod options;
pub mod pacer;
pub mod plane;
pub mod port_id;
pub mod ports;
pub mod publish;
pub mod queue_drops;
pub mod report;
pub mod speakers;
pub mod stats;
pub mod threads;
pub mod underlay;

use underlay::UnderlayLink;
pub mod worker;

pub use apply::{ApplyError, ApplySummary};
pub use hybrid::RoutingDaemon;
pub use options::{default_flow_table_slots, RunOptions, MAX_NICS};
pub use plane::{namespace_names, Egress, LivePort, Plane, PortConntrack, PublishedPlane};
pub use port_id::PortId;
pub use ports::namespace_spec;

use crate::engine::flow_table::{FlowTable, DEFAULT_QUOTA_FLOOR};
use crate::host::{HostLab, NamespaceSpec};
use crate::plan::PortIdx;
use crate::policy::load_balancers::BackendHealth;
use crate::snapshot::Snapshot;
use crate::topology::{TiVec, Topology};
use anyhow::{Context, Result};
use apply::{Mutable, Slots};
use arc_swap::ArcSwapOption;
use flow_log::{DenySink, FlowLogger};
use housekeeping::housekeep;
use hybrid::{Hybrid, Roster, Watch};
use publish::{publish_applied, publish_health, publish_learned, Records};
use stats::WorkerCounters;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Instant;
use threads::{Backoff, Faults, ThreadKind, ThreadPanics};

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
}

/// Room in the process's open files beyond the ports' queues: the
/// daemon's own descriptors and some growth by `apply`.
const OPEN_FILES_ROOM: u64 = 1024;

/// How many TUN queues each of `ports` ports gets. One per worker, so that
/// every worker reads every NIC, when the process may hold that many
/// descriptors; past that (10,000 NICs and two workers need 20,000, this
/// kind of machine's usual hard limit), one queue per port, which every
/// worker writes and one reads, the NICs spread over the workers: the lab
/// runs, and says so, rather than being refused for a limit it can live
/// with. Fails, naming the limit, when even one per port is too many.
fn queues_per_port(ports: usize, workers: usize) -> Result<usize> {
    let ports = ports as u64;
    if crate::host::allow_open_files(ports * workers as u64 + OPEN_FILES_ROOM).is_ok() {
        return Ok(workers);
    }
    crate::host::allow_open_files(ports + OPEN_FILES_ROOM)?;
    tracing::warn!(
        "{ports} NICs with a TUN queue per worker need more open files than this process may \
         hold (`ulimit -Hn`); each NIC gets one queue, read by one of the {workers} workers"
    );
    Ok(1)
}

/// Refuses, before any namespace is built, a lab that could not start: one
/// past the size limits, or whose routing daemons are missing (a daemon
/// that cannot start would only be found half-way, under the lab being
/// removed again).
fn refuse_what_cannot_start(
    topology: &Topology,
    plan: &crate::plan::Plan,
    options: &RunOptions,
) -> Result<()> {
    let mut missing = options::lab_size_errors(topology, plan);
    missing.extend(hybrid::missing_routing(topology, &options.programs));
    if !missing.is_empty() {
        let lines: Vec<String> = missing.iter().map(ToString::to_string).collect();
        anyhow::bail!("{}", lines.join("\n"));
    }
    Ok(())
}

/// The plane's ports: each spec with the queues and the place on the
/// fabric of the namespace `lab` built for it. The lab's namespaces are
/// in spec order: no search by name, which would cost a lab of thousands
/// of NICs millions of comparisons.
///
/// A port placed on another machine of a spread lab has no namespace here
/// ([`LivePort::remote`]): what is delivered to it goes over the underlay.
fn ports_of(
    plan: &crate::plan::Plan,
    specs: Vec<NamespaceSpec>,
    lab: &mut HostLab,
    underlay: Option<&Arc<UnderlayLink>>,
) -> Result<TiVec<PortIdx, Arc<LivePort>>> {
    let mut ports = TiVec::new();
    let mut built = lab.namespaces_mut().iter_mut();
    for ((id, spec), port) in (0..).zip(specs).zip(plan.ports.keys()) {
        if !plan.is_local(port) {
            let underlay = underlay
                .cloned()
                .context("a port on another machine, but no underlay to reach it")?;
            ports.push(Arc::new(LivePort::remote(
                PortId::new(id),
                id,
                spec,
                underlay,
            )));
            continue;
        }
        let plumbed = built
            .next()
            .with_context(|| format!("namespace {} was not built", spec.key()))?;
        anyhow::ensure!(
            plumbed.spec().key() == spec.key(),
            "namespace {} was built out of order",
            spec.key()
        );
        let fast = plane::FastPort::of(plumbed);
        let queues = plumbed.take_queues();
        ports.push(Arc::new(LivePort {
            id: PortId::new(id),
            serial: id,
            spec,
            queues,
            fast,
            remote: None,
        }));
    }
    Ok(ports)
}

impl Daemon {
    /// Builds the lab and starts forwarding. On failure, whatever was built
    /// is removed again.
    pub fn start(topology: Topology, options: &RunOptions) -> Result<Daemon> {
        let span = tracing::info_span!(
            "lab",
            file = %topology.source,
            host = tracing::field::Empty
        );
        if let Some(host) = topology.placement.local_name() {
            span.record("host", host.as_str());
        }
        // The threads started here log inside the lab's span.
        let _in_lab = span.clone().entered();
        let workers = options.workers.clamp(1, crate::host::tun::MAX_QUEUES);
        let plan = crate::plan::Plan::derive(&topology);
        refuse_what_cannot_start(&topology, &plan, options)?;
        let queues_per_port = queues_per_port(plan.ports.len(), workers)?;
        let fabric = match options.offload {
            true => open_fabric(&plan, options.offload_max_flows),
            false => None,
        };
        // A spread lab's machine reaches the others over VXLAN, from the
        // fabric's namespace when there is one (whose fast path then
        // carries admitted flows between machines too).
        let underlay = UnderlayLink::open(&topology, fabric.as_ref(), workers)?.map(Arc::new);
        let mut topology = topology;
        topology.placement.inner_mtu = underlay.as_ref().map(|u| u.inner_mtu());
        let specs: Vec<NamespaceSpec> = plan
            .ports
            .iter()
            .map(|port| {
                let mut spec = namespace_spec(&topology, port, queues_per_port, options.shaping);
                spec.on_fabric = fabric.is_some() && ports::offloadable(port);
                spec
            })
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let faults = Arc::new(Faults::default());
        let panics = Arc::new(ThreadPanics::default());
        let records = Arc::new(Records::default());
        // The watchers start before the plane exists: what they publish
        // before it does is in the book the first snapshot is compiled
        // with, and in a publication right after.
        let plane_cell: Arc<OnceLock<Arc<PublishedPlane>>> = Arc::new(OnceLock::new());
        let watch = watch_for(&plane_cell, &records, (&stop, &faults, &panics), &span);
        let threads = (stop.clone(), panics.clone(), faults.clone());
        let reach = Arc::new(global_reach::ReachLines::new(options.shaping, threads));
        // Sites first: their routers hold the tunnels' TUN devices.
        let mut hybrid = Hybrid::build_sites(&topology, reach.clone())?;
        let local: Vec<NamespaceSpec> = (specs.iter().zip(plan.ports.keys()))
            .filter(|(_, port)| plan.is_local(*port))
            .map(|(spec, _)| spec.clone())
            .collect();
        let mut lab = HostLab::build_on(options.host.clone(), fabric.clone(), &local)
            .context("building the lab's namespaces")?;
        let local_ports = local.len();
        hybrid.start_routing(&topology, &watch)?;
        let ports = ports_of(&plan, specs, &mut lab, underlay.as_ref())?;
        if let Some(underlay) = &underlay {
            underlay.direct(&topology, &plan)?;
            // No worker forwards yet.
            underlay.settled()?;
        }
        let used = ports.len() as u32;
        let nic_count = plan.ports.len();
        let plane = Arc::new(PublishedPlane::new(
            Plane {
                snapshot: Arc::new(Snapshot::compile_learned(
                    topology,
                    records.learned.current(),
                    1,
                )),
                ports,
            },
            fabric.clone(),
        ));
        let _ = plane_cell.set(plane.clone());
        publish_learned(&plane, &records);
        // A spread lab's machines tell each other what their gateways
        // learn.
        let mesh = mesh::HostMesh::start(
            &plane.load().snapshot.topology,
            plane_cell.clone(),
            records.clone(),
            watch.clone(),
            underlay.clone(),
        )
        .context("starting the host mesh's BGP speaker")?;
        let slots = options.flow_table_slots_for(nic_count);
        // A tracked flow takes two slots: the quota shares the flows.
        let flows = Arc::new(FlowTable::new(
            slots,
            MAX_NICS + crate::dataplane::conntrack::FRONTEND_OWNERS,
            FlowTable::default_quota(slots / 2, nic_count.max(1) as u32, DEFAULT_QUOTA_FLOOR),
        ));
        let epoch = Instant::now();
        // One block per worker, and one for what the kernel carries.
        let mut counters: Vec<_> = (0..workers)
            .map(|_| Arc::new(WorkerCounters::new(MAX_NICS as usize)))
            .collect();
        let fabric_namespace = fabric.as_ref().map(|f| f.namespace().to_owned());
        let offload = fabric.map(|fabric| {
            let block = Arc::new(WorkerCounters::new(MAX_NICS as usize));
            counters.push(block.clone());
            Arc::new(offload::Offload::new(fabric, block, epoch, options.shaping))
        });
        let queue_drops = queue_drops::QueueDrops::counting_into(fabric_namespace, &mut counters);
        let daemon = Daemon {
            plane,
            worker_generations: Arc::new((0..workers).map(|_| AtomicU64::new(1)).collect()),
            routing: Arc::new(ArcSwapOption::from_pointee(hybrid.roster())),
            mutable: Arc::new(Mutex::new(Some(Mutable {
                lab,
                hybrid,
                slots: Slots::new(used),
                next_serial: used,
            }))),
            records,
            watch,
            workers,
            queues_per_port,
            flows,
            counters,
            stop,
            handles: Mutex::new(Vec::new()),
            flow_logger: Mutex::new(None),
            deny_events_lost: Arc::new(AtomicU64::new(0)),
            drop_events: Mutex::new(None),
            worker_restarts: Arc::new(AtomicU64::new(0)),
            panics,
            faults,
            probes: Arc::new(lb::ProbeBook::default()),
            programs: options.programs.clone(),
            epoch,
            offload,
            queue_drops,
            shaping: options.shaping,
            underlay,
            mesh: Mutex::new(mesh),
            reach,
            span,
        };
        let deny_sink = daemon.start_flow_log(options)?;
        let drop_sink = options.drop_events.then(|| {
            let (sink, source) = drop_feed::drop_channel();
            *daemon.drop_events.lock().unwrap_or_else(|p| p.into_inner()) = Some(source);
            sink
        });
        daemon.start_workers(options, deny_sink, drop_sink)?;
        daemon.start_background()?;
        tracing::info!(nics = local_ports, workers, "started");
        Ok(daemon)
    }

    /// Starts the flow-log thread, when the options ask for flow logs:
    /// returns where the workers report denies to it.
    fn start_flow_log(&self, options: &RunOptions) -> Result<Option<DenySink>> {
        let Some(log_options) = &options.flow_log else {
            return Ok(None);
        };
        let (sink, source) = flow_log::deny_channel(self.deny_events_lost.clone());
        let stop = Arc::new(AtomicBool::new(false));
        let mut logger = FlowLogger::new(
            log_options.clone(),
            self.plane.clone(),
            self.flows.clone(),
            source,
            stop.clone(),
            self.epoch,
        );
        let faults = self.faults.clone();
        let handle = threads::spawn_supervised(
            "vnetd-flow-log",
            ThreadKind::FlowLog,
            "the flow-log thread",
            (self.panics.clone(), stop.clone()),
            move || logger.run(&faults),
        )
        .context("starting the flow-log thread")?;
        *self.flow_logger.lock().unwrap_or_else(|p| p.into_inner()) = Some((stop, handle));
        Ok(Some(sink))
    }

    /// Starts the workers, each restarted with fresh state when it fails
    /// or panics: its share of every NIC's flows must not go dark.
    fn start_workers(
        &self,
        options: &RunOptions,
        deny_sink: Option<DenySink>,
        drop_sink: Option<drop_feed::DropSink>,
    ) -> Result<()> {
        for w in 0..self.workers {
            let worker = worker::Worker {
                index: w,
                plane: self.plane.clone(),
                generations: self.worker_generations.clone(),
                flows: self.flows.clone(),
                counters: self.counters[w].clone(),
                stop: self.stop.clone(),
                epoch: self.epoch,
                denies: deny_sink.clone(),
                drops: drop_sink.clone(),
                busy_poll: options.busy_poll,
                udp_coalescing: options.udp_coalescing,
                underlay: self.underlay.clone(),
                faults: self.faults.clone(),
                offload: self.offload.as_ref().map(|o| o.requests()),
                shaping: options.shaping,
            };
            let (restarts, panics) = (self.worker_restarts.clone(), self.panics.clone());
            let span = self.span.clone();
            let handle = std::thread::Builder::new()
                .name(format!("vnetd-worker-{w}"))
                .spawn(move || {
                    // Only a failure is logged here, never a packet.
                    let _in_lab = span.entered();
                    // A worker that fails or panics is counted, said in
                    // the log and run again with fresh state: its share of
                    // every NIC's flows must not go dark.
                    let who = format!("worker {w}");
                    let mut backoff = Backoff::default();
                    loop {
                        let started = Instant::now();
                        match panics.catch(ThreadKind::Worker, &who, || worker.run()) {
                            Some(Ok(())) => break,
                            Some(Err(e)) => tracing::error!(
                                kind = ThreadKind::Worker.as_str(),
                                "{who} failed ({e}); restarting it"
                            ),
                            // Said in the log and counted by `catch`.
                            None => {}
                        }
                        restarts.fetch_add(1, Ordering::Relaxed);
                        if !backoff.pause(started.elapsed(), &worker.stop) {
                            break;
                        }
                    }
                })
                .context("starting a worker thread")?;
            self.keep_thread(handle);
        }
        Ok(())
    }

    /// Starts the threads that are not on the packets' path: the routing
    /// daemons' supervisor, the health prober, housekeeping and, with a
    /// fast path, the offload thread.
    fn start_background(&self) -> Result<()> {
        let epoch = self.epoch;
        {
            let (routing, stop) = (self.routing.clone(), self.stop.clone());
            let (faults, panics) = (self.faults.clone(), self.panics.clone());
            let watcher = threads::spawn_supervised(
                "vnetd-bgp",
                ThreadKind::BgpWatcher,
                "the routing daemons' supervisor",
                (panics, stop.clone()),
                move || hybrid::supervise_routing(&routing, &stop, &faults),
            )
            .context("starting the routing daemons' supervisor")?;
            self.keep_thread(watcher);
        }
        {
            let (plane, records) = (self.plane.clone(), self.records.clone());
            let publish = move |health: &BackendHealth| publish_health(&plane, &records, health);
            let prober = lb::start_prober(
                self.plane.clone(),
                self.probes.clone(),
                publish,
                self.stop.clone(),
                (self.faults.clone(), self.panics.clone()),
            )
            .context("starting the health prober")?;
            self.keep_thread(prober);
        }
        let (flows, stop) = (self.flows.clone(), self.stop.clone());
        let (faults, panics) = (self.faults.clone(), self.panics.clone());
        let (queue_drops, plane) = (self.queue_drops.clone(), self.plane.clone());
        let counters = self.counters.clone();
        let housekeeping = threads::spawn_supervised(
            "vnetd-housekeeping",
            ThreadKind::Housekeeping,
            "housekeeping",
            (panics, stop.clone()),
            move || {
                let mut read_queues = || queue_drops.sync(&plane.load(), &counters, false);
                housekeep(&flows, &stop, epoch, &faults, &mut read_queues)
            },
        )
        .context("starting the housekeeping thread")?;
        self.keep_thread(housekeeping);
        if let Some(offload) = self.offload.clone() {
            let (plane, flows, stop) = (self.plane.clone(), self.flows.clone(), self.stop.clone());
            let (faults, panics) = (self.faults.clone(), self.panics.clone());
            let thread = threads::spawn_supervised(
                "vnetd-offload",
                ThreadKind::Offload,
                "the offload thread",
                (panics, stop.clone()),
                move || offload.run(&plane, &flows, &stop, &faults),
            )
            .context("starting the offload thread")?;
            self.keep_thread(thread);
        }
        Ok(())
    }

    /// The lab's span in the log: what is said of the lab (a reload on
    /// SIGHUP, say) is said inside it.
    pub fn span(&self) -> &tracing::Span {
        &self.span
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

    /// Keeps a thread of the daemon's, to be joined when it stops.
    fn keep_thread(&self, handle: JoinHandle<()>) {
        self.handles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(handle);
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
                s.lab.teardown()
            }
            None => Ok(()),
        };
        // Then the fabric they were on.
        let fabric = match &self.offload {
            Some(offload) => offload.fabric().remove_namespace(),
            None => Ok(()),
        };
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

/// The fabric of a lab whose VM ports are offloaded, or `None`, said in one
/// warning in the log, where the build or the kernel lacks what it needs:
/// the lab then runs with every packet in userspace.
fn open_fabric(
    plan: &crate::plan::Plan,
    max_flows: u32,
) -> Option<Arc<crate::host::fabric::Fabric>> {
    let name = plane::fabric_namespace(plan)?;
    match crate::host::fabric::Fabric::create(&name, max_flows, MAX_NICS) {
        Ok(fabric) => Some(fabric),
        Err(err) => {
            tracing::warn!("no offload ({err:#}); every packet takes the userspace path");
            None
        }
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

/// What the speakers' watchers are started with: the book they record in,
/// a publication of what it holds (once the plane exists; a stall point
/// of the BGP watchers first), and their panics caught and counted.
fn watch_for(
    plane: &Arc<OnceLock<Arc<PublishedPlane>>>,
    records: &Arc<Records>,
    (stop, faults, panics): (&Arc<AtomicBool>, &Arc<Faults>, &Arc<ThreadPanics>),
    lab: &tracing::Span,
) -> Watch {
    let publish = {
        let (plane, records, stop, faults) =
            (plane.clone(), records.clone(), stop.clone(), faults.clone());
        move || {
            faults.stall_point(ThreadKind::BgpWatcher, &stop);
            if let Some(plane) = plane.get() {
                publish_learned(plane, &records);
            }
        }
    };
    let supervise = {
        let (stop, panics) = (stop.clone(), panics.clone());
        move |body: &mut dyn FnMut()| {
            threads::supervise(
                ThreadKind::BgpWatcher,
                "a BGP watcher",
                &panics,
                &stop,
                body,
            )
        }
    };
    Watch {
        book: records.learned.clone(),
        sessions: Arc::new(hybrid::SessionBook::default()),
        publish: Arc::new(publish),
        supervise: Arc::new(supervise),
        lab: lab.clone(),
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
        publish_applied(&self.plane, &self.records, snapshot, (ports, faults))
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
