//! The running lab: it turns a topology into namespaces and TUN devices
//! (through [`crate::host`]), publishes the compiled [`Snapshot`] behind
//! `arc-swap`, and runs one forwarding [`worker::Worker`] per core. This is
//! the one place where the Azure side and the host side meet.

pub mod stats;
pub mod worker;

use crate::dataplane::Conntrack;
use crate::engine::flow_table::{FlowTable, DEFAULT_QUOTA_FLOOR};
use crate::host::{cleanup_leftovers, HostLab, NamespaceSpec};
use crate::snapshot::Snapshot;
use crate::topology::{Nic, Topology};
use anyhow::{Context, Result};
use arc_swap::ArcSwap;
use ipnet::IpNet;
use stats::{NicStats, WorkerCounters};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// How a lab is run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Forwarding threads (and TUN queues per NIC).
    pub workers: usize,
    /// Slots of the flow table (tracked flows of all NICs together).
    pub flow_capacity: usize,
}

/// NICs a lab may have over its life (flow-table quotas are kept per NIC).
pub const MAX_NICS: u32 = 4096;

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            flow_capacity: 1 << 20,
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

pub struct Daemon {
    lab: Option<HostLab>,
    flows: Arc<FlowTable>,
    housekeeping: Option<JoinHandle<()>>,
    snapshot: Arc<ArcSwap<Snapshot>>,
    counters: Vec<Arc<WorkerCounters>>,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<std::io::Result<()>>>,
}

impl Daemon {
    /// Builds the lab and starts forwarding. On failure, whatever was built
    /// is removed again.
    pub fn start(topology: Topology, options: &RunOptions) -> Result<Daemon> {
        let workers = options.workers.clamp(1, crate::host::tun::MAX_QUEUES);
        let specs: Vec<NamespaceSpec> = topology
            .nics
            .iter()
            .map(|nic| namespace_spec(&topology, nic, workers))
            .collect();
        let mut lab = HostLab::build(&specs).context("building the lab's namespaces")?;
        // queues[w][nic]: worker w's queue of each NIC.
        let mut queues: Vec<Vec<_>> = (0..workers).map(|_| Vec::new()).collect();
        for nic in &topology.nics {
            let mut per_nic = lab
                .take_queues(&nic.netns)
                .with_context(|| format!("no queues for namespace {}", nic.netns))?;
            anyhow::ensure!(
                per_nic.len() == workers,
                "namespace {} has {} queues",
                nic.netns,
                per_nic.len()
            );
            for (w, q) in per_nic.drain(..).enumerate() {
                queues[w].push(q);
            }
        }
        let nic_count = topology.nics.len();
        let snapshot = Arc::new(ArcSwap::from_pointee(Snapshot::compile(topology, 1)));
        let flow_table = Arc::new(FlowTable::new(
            options.flow_capacity,
            MAX_NICS,
            FlowTable::default_quota(options.flow_capacity, nic_count as u32, DEFAULT_QUOTA_FLOOR),
        ));
        let flows: Arc<dyn Conntrack + Send + Sync> = flow_table.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let epoch = Instant::now();
        let mut counters = Vec::new();
        let mut handles = Vec::new();
        for (w, queues) in queues.into_iter().enumerate() {
            let c = Arc::new(WorkerCounters::new(nic_count));
            counters.push(c.clone());
            let worker = worker::Worker {
                queues,
                snapshot: snapshot.clone(),
                flows: flows.clone(),
                counters: c,
                stop: stop.clone(),
                epoch,
            };
            let handle = std::thread::Builder::new()
                .name(format!("vnetd-worker-{w}"))
                .spawn(move || worker.run())
                .context("starting a worker thread")?;
            handles.push(handle);
        }
        let housekeeping = {
            let (flows, stop) = (flow_table.clone(), stop.clone());
            std::thread::Builder::new()
                .name("vnetd-housekeeping".into())
                .spawn(move || housekeep(&flows, &stop, epoch))
                .context("starting the housekeeping thread")?
        };
        Ok(Daemon {
            housekeeping: Some(housekeeping),
            flows: flow_table,
            lab: Some(lab),
            snapshot,
            counters,
            stop,
            workers: handles,
        })
    }

    /// The snapshot the workers forward with now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Traffic and drop counters of a NIC, summed over workers.
    pub fn nic_stats(&self, nic: &str) -> Option<NicStats> {
        let idx = self.snapshot.load().nic_by_name(nic)?;
        Some(stats::total(&self.counters, idx))
    }

    /// Stops the workers and removes every namespace the lab created.
    pub fn shutdown(mut self) -> Result<()> {
        self.stop_workers();
        match self.lab.take() {
            Some(lab) => lab.teardown(),
            None => Ok(()),
        }
    }

    fn stop_workers(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for handle in self.workers.drain(..) {
            let _ = handle.join();
        }
        if let Some(handle) = self.housekeeping.take() {
            let _ = handle.join();
        }
    }

    /// The flow table the workers track connections in.
    pub fn flows(&self) -> &FlowTable {
        &self.flows
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop_workers();
        // The lab removes its namespaces when dropped.
        self.lab.take();
    }
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

/// Removes the namespaces a topology's lab would have created (after a
/// crash). Returns the names removed.
pub fn down(topology: &Topology) -> Result<Vec<String>> {
    cleanup_leftovers(&namespace_names(topology))
}
