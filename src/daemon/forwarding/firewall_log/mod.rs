//! Azure Firewall's structured logs, as a feed: whatever judges traffic
//! for a firewall (the workers for its DNAT and network rules, the
//! application-rule proxy, the DNS proxy) hands one row at a time to the
//! flow-log thread ([`crate::daemon::reporting::flow_log`]), which writes
//! each to its table's hourly blob, where Azure's diagnostic settings
//! put it in a storage account:
//! `insights-logs-<table>/resourceId=/SUBSCRIPTIONS/…/AZUREFIREWALLS/<NAME>/y=…/m=…/d=…/h=…/m=00/PT1H.json`,
//! under the flow-log directory, one record per row:
//! `{"time", "resourceId", "category", "operationName", "properties"}`
//! with the table's columns in `properties` (see [`tables`]).
//!
//! The API, for a room that judges traffic for a firewall:
//!
//! - [`FirewallLog`] is the handle: cheap to clone, `Send + Sync`, one per
//!   daemon ([`crate::daemon::Daemon::firewall_log`]);
//! - [`FirewallLog::append`]`(firewall, row)` appends one row (a
//!   [`NetworkRule`], [`NatRule`], [`ApplicationRule`] or [`DnsQuery`],
//!   or a [`FirewallLogEntry`]) to the log of the firewall named
//!   `firewall` (its name in the file), stamped with the time of the
//!   call. It never blocks: rows wait on a bounded channel for the
//!   flow-log thread, which writes them every interval; a row the channel
//!   cannot take is counted ([`FirewallLog::lost`]) and dropped. Without
//!   flow logs (the daemon's `--flow-logs` not given) rows are dropped
//!   uncounted, as Azure writes nothing without a diagnostic setting.

pub mod tables;

pub use tables::{ApplicationRule, DnsQuery, FirewallLogEntry, NatRule, NetworkRule};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Rows waiting for the flow-log thread; more are counted as lost.
const CHANNEL_CAPACITY: usize = 8192;

/// One row on its way: when, which firewall, what.
#[derive(Debug, Clone, PartialEq)]
pub struct FirewallLogRow {
    /// Unix time in milliseconds.
    pub unix_ms: u64,
    /// The firewall's name.
    pub firewall: String,
    pub entry: FirewallLogEntry,
}

/// The handle every room appends the firewalls' log rows with.
#[derive(Debug, Clone)]
pub struct FirewallLog {
    sender: Sender<FirewallLogRow>,
    lost: Arc<AtomicU64>,
}

impl FirewallLog {
    /// Appends `row` to the log of the firewall named `firewall`, stamped
    /// now; never blocks.
    pub fn append(&self, firewall: &str, row: impl Into<FirewallLogEntry>) {
        let unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.append_at(unix_ms, firewall, row.into());
    }

    /// Appends `entry`, stamped `unix_ms` (Unix time in milliseconds).
    pub fn append_at(&self, unix_ms: u64, firewall: &str, entry: FirewallLogEntry) {
        let row = FirewallLogRow {
            unix_ms,
            firewall: firewall.to_string(),
            entry,
        };
        if let Err(TrySendError::Full(_)) = self.sender.try_send(row) {
            self.lost.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Rows dropped because the flow-log thread was behind.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }
}

/// The flow-log thread's end of the feed.
pub struct FirewallLogSource {
    receiver: Receiver<FirewallLogRow>,
}

impl FirewallLogSource {
    /// Every row waiting now, without waiting for more.
    pub fn waiting(&self) -> impl Iterator<Item = FirewallLogRow> + '_ {
        self.receiver.try_iter()
    }
}

/// A bounded feed: its handle and its source. Once the source is dropped
/// (no flow logs), rows appended are dropped uncounted.
pub fn firewall_log_channel() -> (FirewallLog, FirewallLogSource) {
    let (sender, receiver) = crossbeam_channel::bounded(CHANNEL_CAPACITY);
    (
        FirewallLog {
            sender,
            lost: Arc::new(AtomicU64::new(0)),
        },
        FirewallLogSource { receiver },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nat() -> NatRule {
        NatRule {
            protocol: "TCP".into(),
            source_ip: "203.0.113.10".into(),
            source_port: 50000,
            destination_ip: "198.51.100.20".into(),
            destination_port: 443,
            translated_ip: "10.2.1.4".into(),
            translated_port: 443,
            policy: "pol".into(),
            rule_collection_group: "g".into(),
            rule_collection: "dnat".into(),
            rule: "web".into(),
        }
    }

    #[test]
    fn rows_reach_the_source_in_order_from_every_clone() {
        let (log, source) = firewall_log_channel();
        let other = log.clone();
        log.append_at(1, "hub-fw", nat().into());
        std::thread::spawn(move || other.append_at(2, "hub-fw", nat().into()))
            .join()
            .unwrap();
        let rows: Vec<FirewallLogRow> = source.waiting().collect();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].unix_ms, rows[1].unix_ms), (1, 2));
        assert_eq!(rows[0].firewall, "hub-fw");
        assert_eq!(rows[0].entry, FirewallLogEntry::NatRule(nat()));
        assert_eq!(source.waiting().count(), 0);
    }

    #[test]
    fn a_full_feed_counts_what_it_drops_and_a_closed_one_drops_quietly() {
        let (log, source) = firewall_log_channel();
        for n in 0..CHANNEL_CAPACITY as u64 + 3 {
            log.append_at(n, "fw", nat().into());
        }
        assert_eq!(log.lost(), 3);
        assert_eq!(source.waiting().count(), CHANNEL_CAPACITY);
        drop(source);
        log.append("fw", nat());
        assert_eq!(log.lost(), 3);
    }
}
