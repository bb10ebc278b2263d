//! Per-NIC traffic and drop counters. Each worker thread owns one block of
//! counters (written with relaxed atomic adds, never shared between
//! workers, so no cache line bounces on the packet path); readers sum the
//! blocks.

use crate::dataplane::DropReason;
use crate::topology::NicIdx;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters of one NIC as seen by one worker.
#[derive(Debug, Default)]
pub struct NicCounters {
    /// Packets and bytes the NIC sent into the fabric.
    pub rx_packets: AtomicU64,
    pub rx_bytes: AtomicU64,
    /// Packets and bytes the fabric delivered to the NIC.
    pub tx_packets: AtomicU64,
    pub tx_bytes: AtomicU64,
    pub drops: [AtomicU64; DropReason::COUNT],
}

impl NicCounters {
    /// Zeroes every counter, for a port slot given to a new NIC.
    pub fn reset(&self) {
        for c in [
            &self.rx_packets,
            &self.rx_bytes,
            &self.tx_packets,
            &self.tx_bytes,
        ]
        .into_iter()
        .chain(&self.drops)
        {
            c.store(0, Relaxed);
        }
    }
}

/// One worker's counters for every NIC, aligned so that two workers never
/// share a cache line.
#[derive(Debug)]
#[repr(align(128))]
pub struct WorkerCounters {
    pub nics: Vec<NicCounters>,
}

impl WorkerCounters {
    pub fn new(nic_count: usize) -> Self {
        WorkerCounters {
            nics: (0..nic_count).map(|_| NicCounters::default()).collect(),
        }
    }

    #[inline]
    pub fn received(&self, nic: NicIdx, bytes: usize) {
        if let Some(c) = self.nics.get(nic) {
            c.rx_packets.fetch_add(1, Relaxed);
            c.rx_bytes.fetch_add(bytes as u64, Relaxed);
        }
    }

    #[inline]
    pub fn delivered(&self, nic: NicIdx, bytes: usize) {
        if let Some(c) = self.nics.get(nic) {
            c.tx_packets.fetch_add(1, Relaxed);
            c.tx_bytes.fetch_add(bytes as u64, Relaxed);
        }
    }

    #[inline]
    pub fn dropped(&self, nic: NicIdx, reason: DropReason) {
        if let Some(c) = self.nics.get(nic) {
            c.drops[reason as usize].fetch_add(1, Relaxed);
        }
    }
}

/// Totals of one NIC across workers.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NicStats {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Drops by reason (only reasons with a count above zero).
    pub drops: std::collections::BTreeMap<String, u64>,
}

impl NicStats {
    pub fn drops_for(&self, reason: DropReason) -> u64 {
        self.drops.get(reason.as_str()).copied().unwrap_or(0)
    }
}

/// Sums the workers' counters for one NIC.
pub fn total(workers: &[std::sync::Arc<WorkerCounters>], nic: NicIdx) -> NicStats {
    let mut out = NicStats::default();
    for w in workers {
        let Some(c) = w.nics.get(nic) else { continue };
        out.rx_packets += c.rx_packets.load(Relaxed);
        out.rx_bytes += c.rx_bytes.load(Relaxed);
        out.tx_packets += c.tx_packets.load(Relaxed);
        out.tx_bytes += c.tx_bytes.load(Relaxed);
        for reason in DropReason::ALL {
            let n = c.drops[reason as usize].load(Relaxed);
            if n > 0 {
                *out.drops.entry(reason.as_str().to_string()).or_default() += n;
            }
        }
    }
    out
}
