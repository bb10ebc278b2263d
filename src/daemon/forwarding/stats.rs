//! Per-NIC traffic and drop counters. Each worker thread owns one block of
//! counters (written with relaxed atomic adds, never shared between
//! workers, so no cache line bounces on the packet path); readers sum the
//! blocks.
//!
//! It owns the counters, keyed by [`PortId`]; it uses nothing of the daemon but
//! the port ids.

use super::port_id::PortId;
use crate::dataplane::DropReason;
use crate::engine::flow_table::Traffic;
use crate::topology::TiVec;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters of one NIC as seen by one worker, named from the NIC's side as
/// Azure's VM metrics are ("Packets Sent", "Packets Received").
#[derive(Debug)]
pub struct NicCounters {
    /// Packets and bytes the NIC sent: what the daemon read from the NIC's
    /// TUN device, what the kernel fast path took from it, and what a
    /// queue on the way dropped (packets only).
    pub packets_sent: AtomicU64,
    pub bytes_sent: AtomicU64,
    /// Packets and bytes the NIC received: what the daemon wrote to the
    /// NIC's TUN device, and what the fast path handed to its `eth0`.
    pub packets_received: AtomicU64,
    pub bytes_received: AtomicU64,
    /// Of those, the packets the kernel fast path carried.
    pub offloaded_packets_sent: AtomicU64,
    pub offloaded_packets_received: AtomicU64,
    /// Of the packets and bytes received, those the fabric could not hand
    /// to the NIC after all (its `eth0` was gone when the packet, written
    /// to its TUN device, got there): counted as `egress_gone` drops, and
    /// left out of the received totals ([`total`]).
    pub undelivered_packets: AtomicU64,
    pub undelivered_bytes: AtomicU64,
    pub drops: [AtomicU64; DropReason::COUNT],
}

impl Default for NicCounters {
    fn default() -> Self {
        Self {
            packets_sent: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            packets_received: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
            offloaded_packets_sent: AtomicU64::new(0),
            offloaded_packets_received: AtomicU64::new(0),
            undelivered_packets: AtomicU64::new(0),
            undelivered_bytes: AtomicU64::new(0),
            // More reasons than the arrays `Default` covers.
            drops: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl NicCounters {
    /// Zeroes every counter, for a port slot given to a new NIC.
    pub fn reset(&self) {
        for c in [
            &self.packets_sent,
            &self.bytes_sent,
            &self.packets_received,
            &self.bytes_received,
            &self.offloaded_packets_sent,
            &self.offloaded_packets_received,
            &self.undelivered_packets,
            &self.undelivered_bytes,
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
    pub ports: TiVec<PortId, NicCounters>,
}

impl WorkerCounters {
    pub fn new(port_slots: usize) -> Self {
        WorkerCounters {
            ports: (0..port_slots).map(|_| NicCounters::default()).collect(),
        }
    }

    /// Counts what the NIC sent (read from its TUN device, or carried from
    /// it by the kernel fast path): wire packets (a super-packet's segments
    /// or datagrams) and their bytes.
    #[inline]
    pub fn nic_sent(&self, port: PortId, traffic: Traffic) {
        if let Some(c) = self.ports.get(port) {
            c.packets_sent.fetch_add(traffic.packets, Relaxed);
            c.bytes_sent.fetch_add(traffic.bytes, Relaxed);
        }
    }

    /// Counts what the NIC received (written to its TUN device, or carried
    /// to it by the kernel fast path), as [`Self::nic_sent`].
    #[inline]
    pub fn nic_received(&self, port: PortId, traffic: Traffic) {
        if let Some(c) = self.ports.get(port) {
            c.packets_received.fetch_add(traffic.packets, Relaxed);
            c.bytes_received.fetch_add(traffic.bytes, Relaxed);
        }
    }

    /// Counts one dropped packet (one that could not be read as more).
    #[inline]
    pub fn dropped(&self, port: PortId, reason: DropReason) {
        self.dropped_many(port, reason, 1);
    }

    /// Counts `packets` wire packets dropped for `reason`.
    #[inline]
    pub fn dropped_many(&self, port: PortId, reason: DropReason, packets: u64) {
        if let Some(c) = self.ports.get(port) {
            c.drops[reason as usize].fetch_add(packets, Relaxed);
        }
    }

    /// Counts `traffic`, written for the NIC and counted received then, as
    /// never delivered after all: its `eth0` was gone (an `egress_gone`
    /// drop at the NIC).
    pub fn undelivered(&self, port: PortId, traffic: Traffic) {
        if let Some(c) = self.ports.get(port) {
            c.undelivered_packets.fetch_add(traffic.packets, Relaxed);
            c.undelivered_bytes.fetch_add(traffic.bytes, Relaxed);
            c.drops[DropReason::EgressGone as usize].fetch_add(traffic.packets, Relaxed);
        }
    }
}

/// Totals of one NIC across workers: a report of the control API, whose
/// drop counts are read here by reason.
pub use crate::api::NicStats;

impl NicStats {
    pub fn drops_for(&self, reason: DropReason) -> u64 {
        self.drops.get(reason.as_str()).copied().unwrap_or(0)
    }
}

/// Sums the workers' counters for one port: what the NIC received leaves
/// out what was written for it and never delivered.
pub fn total(workers: &[std::sync::Arc<WorkerCounters>], port: PortId) -> NicStats {
    let mut out = NicStats::default();
    let (mut undelivered_packets, mut undelivered_bytes) = (0, 0);
    for w in workers {
        let Some(c) = w.ports.get(port) else { continue };
        out.packets_sent += c.packets_sent.load(Relaxed);
        out.bytes_sent += c.bytes_sent.load(Relaxed);
        out.packets_received += c.packets_received.load(Relaxed);
        out.bytes_received += c.bytes_received.load(Relaxed);
        out.offloaded_packets_sent += c.offloaded_packets_sent.load(Relaxed);
        out.offloaded_packets_received += c.offloaded_packets_received.load(Relaxed);
        undelivered_packets += c.undelivered_packets.load(Relaxed);
        undelivered_bytes += c.undelivered_bytes.load(Relaxed);
        for reason in DropReason::ALL {
            let n = c.drops[reason as usize].load(Relaxed);
            if n > 0 {
                *out.drops.entry(reason.as_str().to_string()).or_default() += n;
            }
        }
    }
    out.packets_received = out.packets_received.saturating_sub(undelivered_packets);
    out.bytes_received = out.bytes_received.saturating_sub(undelivered_bytes);
    out
}
