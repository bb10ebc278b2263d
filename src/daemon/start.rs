//! A lab's start: what is refused before anything is built, the
//! namespaces and the fabric built in order, the first plane published,
//! and the daemon's threads started (the forwarding workers, each run
//! again with fresh state when it fails; the flow-log thread; the routing
//! daemons' supervisor, the health prober, housekeeping and the offload
//! thread). On failure, whatever was built is removed again.
//!
//! It is the daemon's root: it starts every room's threads, so it may use
//! every room.

use super::answering::{self, Answering};
use super::changing::change_set::Building;
use super::changing::hybrid::{self, Hybrid, Watch};
use super::changing::lb;
use super::changing::mesh;
use super::changing::publish::{publish_fqdns, publish_health, publish_learned, Records};
use super::changing::service::Changing;
use super::changing::state::{Mutable, Slots};
use super::forwarding::deny_feed::{deny_channel, DenySink};
use super::forwarding::drop_feed;
use super::forwarding::firewall_log::{firewall_log_channel, FirewallLogSource};
use super::forwarding::global_reach;
use super::forwarding::housekeeping::housekeep;
use super::forwarding::offload;
use super::forwarding::plane::{self, LivePort, Plane, PublishedPlane};
use super::forwarding::port_id::PortId;
use super::forwarding::queue_drops;
use super::forwarding::service::Forwarding;
use super::forwarding::stats::WorkerCounters;
use super::forwarding::underlay::UnderlayLink;
use super::forwarding::worker;
use super::options::{self, RunOptions, MAX_NICS};
use super::reporting::flow_log::FlowLogger;
use super::threads::{self, Backoff, Faults, ThreadKind, ThreadPanics};
use super::Daemon;
use crate::engine::flow_table::{FlowTable, DEFAULT_QUOTA_FLOOR};
use crate::host::{HostLab, NamespaceSpec};
use crate::plan::PortIdx;
use crate::policy::load_balancers::BackendHealth;
use crate::snapshot::Snapshot;
use crate::topology::{TiVec, Topology};
use anyhow::{Context, Result};
use arc_swap::ArcSwapOption;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Instant;

/// Room in the process's open files beyond the ports' queues: the
/// daemon's own descriptors and some growth by `apply`.
const OPEN_FILES_ROOM: u64 = 1024;

/// How long a start waits for Azure DNS and the lab's responders to
/// listen (they take milliseconds; a machine under load, longer).
const ANSWERS_READY: std::time::Duration = std::time::Duration::from_secs(30);

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

/// The lab's flow table: its slots for `nic_count` NICs (and the
/// Internet edge's translations with NAT gateways), shared by quota.
fn flow_table_for(options: &RunOptions, nic_count: usize, nat_gateways: bool) -> Arc<FlowTable> {
    let slots = options.flow_table_slots_for(nic_count, nat_gateways);
    // A tracked flow takes two slots: the quota shares the flows.
    Arc::new(
        FlowTable::new(
            slots,
            MAX_NICS + crate::dataplane::conntrack::FRONTEND_OWNERS,
            FlowTable::default_quota(slots / 2, nic_count.max(1) as u32, DEFAULT_QUOTA_FLOOR),
        )
        .with_owner_quota(
            plane::frontend_flow_owner(crate::dataplane::conntrack::EDGE_STABLE_ID),
            options::edge_translations_quota(slots),
        ),
    )
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
        // One CA for this lab alone, made before the VMs that trust it.
        let tls = Arc::new(answering::tls::LabTls::make(&plan).context("making the lab's CA")?);
        // Each port's namespace, built as every `apply` builds them.
        let building = Building {
            queues_per_port,
            shaping: options.shaping,
            offload: fabric.is_some(),
            trust_store: tls.store().clone(),
        };
        let specs: Vec<NamespaceSpec> = building.specs(&topology, &plan);
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
        // What the log calls the lab's NICs: its ports but Azure DNS's,
        // which are the platform's.
        let local_ports = (plan.ports.iter_enumerated())
            .filter(|(p, port)| plan.is_local(*p) && port.kind.listed())
            .count();
        hybrid.start_routing((&topology, &plan), &watch)?;
        let ports = ports_of(&plan, specs, &mut lab, underlay.as_ref())?;
        if let Some(underlay) = &underlay {
            underlay.direct(&topology, &plan)?;
            // No worker forwards yet.
            underlay.settled()?;
        }
        let used = ports.len() as u32;
        let nic_count = plan.ports.len();
        let nat_gateways = !topology.edge.nat_gateways.is_empty();
        let plane = Arc::new(PublishedPlane::new(
            Plane::new(
                Arc::new(Snapshot::compile_learned(
                    topology,
                    records.learned.current(),
                    1,
                )),
                ports,
            ),
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
        let flows = flow_table_for(options, nic_count, nat_gateways);
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
        let (firewall_log, firewall_log_source) = firewall_log_channel();
        let hybrid_roster = hybrid.roster();
        let daemon = Daemon {
            forwarding: Forwarding {
                plane,
                underlay,
                worker_generations: Arc::new((0..workers).map(|_| AtomicU64::new(1)).collect()),
                workers,
                queues_per_port,
                flows,
                counters,
                stop,
                handles: Mutex::new(Vec::new()),
                epoch,
                deny_events_lost: Arc::new(AtomicU64::new(0)),
                firewall_log,
                drop_events: Mutex::new(None),
                worker_restarts: Arc::new(AtomicU64::new(0)),
                offload,
                queue_drops,
                shaping: options.shaping,
                reach,
            },
            changing: Changing {
                mutable: Arc::new(Mutex::new(Some(Mutable {
                    lab,
                    hybrid,
                    slots: Slots::new(used),
                    next_serial: used,
                }))),
                routing: Arc::new(ArcSwapOption::from_pointee(hybrid_roster)),
                records,
                watch,
                programs: options.programs.clone(),
                probes: Arc::new(lb::ProbeBook::default()),
                mesh: Mutex::new(mesh),
            },
            answering: Answering {
                names: Default::default(),
                tls,
            },
            flow_logger: Mutex::new(None),
            panics,
            faults,
            span,
            unmounted: Mutex::new(None),
        };
        let deny_sink = daemon.start_flow_log(options, firewall_log_source)?;
        let drop_sink = options.drop_events.then(|| {
            let (sink, source) = drop_feed::drop_channel();
            *daemon
                .forwarding
                .drop_events
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(source);
            sink
        });
        daemon.start_workers(options, deny_sink, drop_sink)?;
        daemon.start_background()?;
        daemon.wait_for_answers();
        tracing::info!(nics = local_ports, workers, "started");
        Ok(daemon)
    }

    /// Waits until Azure DNS and the lab's responders listen for the first
    /// plane, so that a started lab (`vnetd run`'s "lab up") answers a
    /// VM's first question and first request: their threads open their
    /// sockets after they start, and a question sent before would meet
    /// none. Bounded by [`ANSWERS_READY`]: past it the lab runs and says
    /// so (the threads follow late; `vnetd wait` waits for them).
    fn wait_for_answers(&self) {
        let generation = self.forwarding.plane.load().snapshot.generation;
        let deadline = Instant::now() + ANSWERS_READY;
        while !self.answering.listening_for(generation) {
            if Instant::now() >= deadline {
                tracing::warn!(
                    "Azure DNS or the lab's responders are not listening after {} s; \
                     the lab runs, and `vnetd wait` says when they are",
                    ANSWERS_READY.as_secs()
                );
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    /// Starts the flow-log thread, when the options ask for flow logs:
    /// returns where the workers report denies to it.
    fn start_flow_log(
        &self,
        options: &RunOptions,
        firewall_rows: FirewallLogSource,
    ) -> Result<Option<DenySink>> {
        let Some(log_options) = &options.flow_log else {
            return Ok(None);
        };
        let (sink, source) = deny_channel(self.forwarding.deny_events_lost.clone());
        let stop = Arc::new(AtomicBool::new(false));
        let mut logger = FlowLogger::new(
            log_options.clone(),
            self.forwarding.plane.clone(),
            self.forwarding.flows.clone(),
            (source, firewall_rows),
            stop.clone(),
            self.forwarding.epoch,
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
        for w in 0..self.forwarding.workers {
            let worker = worker::Worker {
                index: w,
                plane: self.forwarding.plane.clone(),
                generations: self.forwarding.worker_generations.clone(),
                flows: self.forwarding.flows.clone(),
                counters: self.forwarding.counters[w].clone(),
                stop: self.forwarding.stop.clone(),
                epoch: self.forwarding.epoch,
                denies: deny_sink.clone(),
                drops: drop_sink.clone(),
                busy_poll: options.busy_poll,
                udp_coalescing: options.udp_coalescing,
                underlay: self.forwarding.underlay.clone(),
                faults: self.faults.clone(),
                offload: self.forwarding.offload.as_ref().map(|o| o.requests()),
                asked: Default::default(),
                shaping: options.shaping,
            };
            let (restarts, panics) = (self.forwarding.worker_restarts.clone(), self.panics.clone());
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
        let epoch = self.forwarding.epoch;
        {
            let (routing, stop) = (self.changing.routing.clone(), self.forwarding.stop.clone());
            let faults = self.faults.clone();
            self.keep_supervised(
                ("vnetd-bgp", ThreadKind::BgpWatcher),
                "the routing daemons' supervisor",
                "starting the routing daemons' supervisor",
                move || hybrid::supervise_routing(&routing, &stop, &faults),
            )?;
        }
        {
            let (plane, records) = (self.forwarding.plane.clone(), self.changing.records.clone());
            let publish = move |health: &BackendHealth| publish_health(&plane, &records, health);
            let prober = lb::start_prober(
                self.forwarding.plane.clone(),
                self.changing.probes.clone(),
                publish,
                self.forwarding.stop.clone(),
                (self.faults.clone(), self.panics.clone()),
            )
            .context("starting the health prober")?;
            self.keep_thread(prober);
        }
        {
            let supervision = (self.faults.clone(), self.panics.clone());
            let dns = answering::azure_dns::start(
                self.forwarding.plane.clone(),
                (
                    self.answering.names.0.clone(),
                    self.forwarding.firewall_log.clone(),
                ),
                self.forwarding.stop.clone(),
                supervision.clone(),
            )
            .context("starting Azure DNS")?;
            self.keep_thread(dns);
            let (plane, records) = (self.forwarding.plane.clone(), self.changing.records.clone());
            let publish = move |fqdns| publish_fqdns(&plane, &records, fqdns);
            let fqdns = answering::fqdn_refresh::start(
                self.forwarding.plane.clone(),
                publish,
                self.forwarding.stop.clone(),
                supervision.clone(),
            )
            .context("starting the firewalls' FQDN resolver")?;
            self.keep_thread(fqdns);
            let services = answering::services::start(
                self.forwarding.plane.clone(),
                self.answering.names.1.clone(),
                self.answering.tls.clone(),
                self.forwarding.firewall_log.clone(),
                self.forwarding.stop.clone(),
                supervision,
            )
            .context("starting the lab's services")?;
            self.keep_thread(services);
        }
        let (flows, stop) = (self.forwarding.flows.clone(), self.forwarding.stop.clone());
        let faults = self.faults.clone();
        let (queue_drops, plane) = (
            self.forwarding.queue_drops.clone(),
            self.forwarding.plane.clone(),
        );
        let counters = self.forwarding.counters.clone();
        self.keep_supervised(
            ("vnetd-housekeeping", ThreadKind::Housekeeping),
            "housekeeping",
            "starting the housekeeping thread",
            move || {
                let mut read_queues = || queue_drops.sync(&plane.load(), &counters, false);
                housekeep(&flows, &stop, epoch, &faults, &mut read_queues)
            },
        )?;
        if let Some(offload) = self.forwarding.offload.clone() {
            let (plane, flows, stop) = (
                self.forwarding.plane.clone(),
                self.forwarding.flows.clone(),
                self.forwarding.stop.clone(),
            );
            let faults = self.faults.clone();
            self.keep_supervised(
                ("vnetd-offload", ThreadKind::Offload),
                "the offload thread",
                "starting the offload thread",
                move || offload.run(&plane, &flows, &stop, &faults),
            )?;
        }
        Ok(())
    }

    /// Keeps a thread of the daemon's, to be joined when it stops.
    /// Starts `body` on thread `name`, supervised as `who` of `kind` until
    /// the daemon stops, and keeps it; `starting` says what failed to start.
    fn keep_supervised(
        &self,
        (name, kind): (&str, ThreadKind),
        who: &'static str,
        starting: &'static str,
        body: impl FnMut() + Send + 'static,
    ) -> Result<()> {
        let thread = threads::spawn_supervised(
            name,
            kind,
            who,
            (self.panics.clone(), self.forwarding.stop.clone()),
            body,
        )
        .context(starting)?;
        self.keep_thread(thread);
        Ok(())
    }

    fn keep_thread(&self, handle: JoinHandle<()>) {
        self.forwarding
            .handles
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(handle);
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
