//! The forwarding room as the daemon holds it: the plane the workers
//! forward with, their threads, counters and flow table, the kernel fast
//! path, the underlay and the Global Reach links; and what the other
//! rooms and the reports read of it. The workers themselves get clones
//! of the parts they use at their start ([`crate::daemon`]'s `start`);
//! this handle is what outlives them.

use super::drop_feed::DropSource;
use super::firewall_log::FirewallLog;
use super::global_reach::ReachLines;
use super::offload::Offload;
use super::plane::{Plane, PublishedPlane};
use super::port_id::PortId;
use super::queue_drops::QueueDrops;
use super::stats::{self, NicStats, WorkerCounters};
use super::underlay::UnderlayLink;
use crate::engine::flow_table::FlowTable;
use crate::snapshot::Snapshot;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

/// What carries packets, held by the daemon.
pub struct Forwarding {
    pub(in crate::daemon) plane: Arc<PublishedPlane>,
    /// The VXLAN underlay to the other machines of a spread lab.
    pub(in crate::daemon) underlay: Option<Arc<UnderlayLink>>,
    /// The plane generation each worker forwards with (a slot is reused
    /// only once every worker is past the plane that last used it).
    pub(in crate::daemon) worker_generations: Arc<Vec<AtomicU64>>,
    pub(in crate::daemon) workers: usize,
    /// TUN queues each port gets: one per worker, or one in a lab too
    /// large for that.
    pub(in crate::daemon) queues_per_port: usize,
    pub(in crate::daemon) flows: Arc<FlowTable>,
    /// One block per worker, then the kernel's and the queues' blocks.
    pub(in crate::daemon) counters: Vec<Arc<WorkerCounters>>,
    /// Set once to stop every thread of the lab.
    pub(in crate::daemon) stop: Arc<AtomicBool>,
    /// The workers' and the background threads' handles.
    pub(in crate::daemon) handles: Mutex<Vec<JoinHandle<()>>>,
    /// The flow table's clock starts here.
    pub(in crate::daemon) epoch: Instant,
    /// Deny events the workers could not hand to the flow-log thread.
    pub(in crate::daemon) deny_events_lost: Arc<AtomicU64>,
    /// The handle the firewalls' log rows are appended with.
    pub(in crate::daemon) firewall_log: FirewallLog,
    /// The consumer's end of the drop events, until it is taken; `None`
    /// unless asked for at start.
    pub(in crate::daemon) drop_events: Mutex<Option<DropSource>>,
    /// Times a worker failed (an error or a panic) and was started again.
    pub(in crate::daemon) worker_restarts: Arc<AtomicU64>,
    /// The kernel fast path, when the lab has one.
    pub(in crate::daemon) offload: Option<Arc<Offload>>,
    /// What the queues between the NICs and the workers dropped.
    pub(in crate::daemon) queue_drops: Arc<QueueDrops>,
    /// Azure's delays and rates apply (not `--no-shaping`).
    pub(in crate::daemon) shaping: bool,
    /// The Global Reach links between edge routers, carried delayed.
    pub(in crate::daemon) reach: Arc<ReachLines>,
}

impl Forwarding {
    /// The snapshot the workers forward with now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.plane.load().snapshot.clone()
    }

    /// The plane the workers forward with now.
    pub fn plane(&self) -> Arc<Plane> {
        self.plane.load_full()
    }

    /// Deny events lost on the way to the flow logs.
    pub fn flow_log_events_lost(&self) -> u64 {
        self.deny_events_lost.load(Ordering::Relaxed)
    }

    /// The drop events the workers report, for the one consumer that
    /// asked for them at start; `None` when not asked for, or taken.
    pub fn take_drop_events(&self) -> Option<DropSource> {
        self.drop_events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Times a worker failed and was started again.
    pub fn worker_restarts(&self) -> u64 {
        self.worker_restarts.load(Ordering::Relaxed)
    }

    /// Adds what the kernel counted so far to the counters and flows: what
    /// the fast path carried and dropped, and what the queues between the
    /// NICs and the workers dropped, so that a report made next is exact.
    /// Returns what could not be read (each said in the log too).
    pub fn sync_offload(&self) -> Vec<String> {
        let plane = self.plane.load();
        let faults = match &self.offload {
            Some(offload) => offload.sync(&plane, &self.flows),
            None => Vec::new(),
        };
        self.queue_drops.sync(&plane, &self.counters, false);
        faults
    }

    /// The oldest plane generation a worker still forwards with.
    pub fn oldest_worker_generation(&self) -> u64 {
        self.worker_generations
            .iter()
            .map(|g| g.load(Ordering::Acquire))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Milliseconds since the lab started (the flow table's clock).
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Traffic and drop counters of a NIC, summed over workers (after a
    /// reading of the kernel's counters).
    pub fn nic_stats(&self, nic: &str) -> Option<NicStats> {
        self.sync_offload();
        let plane = self.plane.load();
        let idx = plane.snapshot.port_by_name(nic)?;
        Some(self.nic_totals(plane.port_id(idx)))
    }

    /// The counters of the NIC in slot `port`, summed over workers, as
    /// they stand (without reading the kernel's first).
    pub fn nic_totals(&self, port: PortId) -> NicStats {
        stats::total(&self.counters, port)
    }

    /// Traffic and drop counters of a NIC, one entry per worker (by
    /// worker index): which of the queues carried what.
    pub fn nic_stats_by_worker(&self, nic: &str) -> Option<Vec<NicStats>> {
        let plane = self.plane.load();
        let port = plane.port_id(plane.snapshot.port_by_name(nic)?);
        Some(
            self.counters
                .iter()
                .take(self.workers)
                .map(|c| stats::total(std::slice::from_ref(c), port))
                .collect(),
        )
    }

    /// Stops the workers and the background threads, and waits for them.
    pub(in crate::daemon) fn stop_threads(&self) {
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
    }
}
