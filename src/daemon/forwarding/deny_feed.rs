//! The NSG denies the workers report for the flow logs, as events: each
//! packet an NSG (or an Azure Firewall) denies, with the rule its decision
//! named, handed from the worker that dropped it to the flow-log thread
//! ([`crate::daemon::reporting::flow_log`]).
//!
//! It costs the packet path one `try_send` of a small fixed-size
//! [`DenyEvent`] on a bounded channel, and only with flow logs on: a full
//! channel loses the event and counts it, never blocks or drops a packet.
//! This is the sender's side, with the workers; the flow-log thread holds
//! the [`DenySource`] and reads it.

use super::port_id::PortId;
use crate::dataplane::PacketView;
use crate::engine::classifier::PacketKey;
use crate::snapshot::RuleId;
use crate::topology::Direction;
use crossbeam_channel::{Receiver, Sender};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Deny events waiting for the flow-log thread; more are counted as lost.
const DENY_CHANNEL_CAPACITY: usize = 4096;

/// One packet denied by an NSG, as a worker reports it. Fixed size, no
/// allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DenyEvent {
    /// The stable port number of the NIC whose NSG denied it.
    pub port: PortId,
    pub direction: Direction,
    /// The rule that denied it, as the decision named it.
    pub rule: RuleId,
    pub key: PacketKey,
    pub flow_ports: (u16, u16),
    /// The daemon's clock (milliseconds since it started).
    pub time_ms: u64,
}

/// The workers' end of the deny channel.
#[derive(Debug, Clone)]
pub struct DenySink {
    sender: Sender<DenyEvent>,
    lost: Arc<AtomicU64>,
}

impl DenySink {
    /// Reports a denied packet; never blocks. When the flow-log thread is
    /// behind, the event is lost and counted.
    #[inline]
    pub fn denied(
        &self,
        port: PortId,
        direction: Direction,
        rule: RuleId,
        view: &PacketView,
        now_ms: u64,
    ) {
        let event = DenyEvent {
            port,
            direction,
            rule,
            key: view.key,
            flow_ports: view.flow_ports,
            time_ms: now_ms,
        };
        if self.sender.try_send(event).is_err() {
            self.lost.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The flow-log thread's end of the deny channel.
pub struct DenySource {
    receiver: Receiver<DenyEvent>,
    lost: Arc<AtomicU64>,
}

impl DenySource {
    /// Every event waiting now, without waiting for more.
    pub fn waiting(&self) -> impl Iterator<Item = DenyEvent> + '_ {
        self.receiver.try_iter()
    }

    /// Events lost because the channel was full.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }
}

/// A bounded deny channel; events it cannot take are counted in `lost`.
pub fn deny_channel(lost: Arc<AtomicU64>) -> (DenySink, DenySource) {
    let (sender, receiver) = crossbeam_channel::bounded(DENY_CHANNEL_CAPACITY);
    (
        DenySink {
            sender,
            lost: lost.clone(),
        },
        DenySource { receiver, lost },
    )
}
