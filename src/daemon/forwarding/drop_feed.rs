//! The drops a running lab decides, as events, for the live page
//! (`vnetd run --ui`): each packet a decision drops, with the reason and
//! the rule its decision named, reported by the worker that dropped it.
//!
//! It costs the packet path one `try_send` of a small fixed-size
//! [`DropEvent`] on a bounded channel, and only when a consumer asked for
//! drops at start: a full channel loses the event and counts it, never
//! blocks or drops a packet, and the consumer polls, so no worker ever
//! wakes it. The counters (`vnetd stats`) count every drop
//! whatever happens here.

use super::port_id::PortId;
use crate::dataplane::decide::DropReason;
use crate::dataplane::packet::PacketView;
use crate::net::PacketKey;
use crate::snapshot::RuleId;
use crate::topology::Direction;
use crossbeam_channel::{Receiver, Sender};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Events the channel holds before it loses the next one.
const CAPACITY: usize = 4096;

/// How often the consumer looks for events while there are none.
pub const POLL: Duration = Duration::from_millis(20);

/// One dropped packet, as a worker reports it. Fixed size, no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropEvent {
    /// The stable port number of the NIC the decision names (the sender
    /// for what is dropped on the way out, the receiver for what its
    /// inbound rules deny).
    pub port: PortId,
    pub reason: DropReason,
    /// The direction the decision judged it in at that NIC
    /// ([`DropReason::direction`]), as the flow logs record it.
    pub direction: Direction,
    /// The NSG or firewall rule that denied it, or [`RuleId::NONE`].
    pub rule: RuleId,
    pub key: PacketKey,
    /// The daemon's clock (milliseconds since it started).
    pub time_ms: u64,
}

/// The workers' end.
#[derive(Debug, Clone)]
pub struct DropSink {
    sender: Sender<DropEvent>,
    lost: Arc<AtomicU64>,
}

impl DropSink {
    /// Reports a dropped packet; never blocks.
    #[inline]
    pub fn dropped(
        &self,
        port: PortId,
        (reason, direction): (DropReason, Direction),
        rule: RuleId,
        view: &PacketView,
        now_ms: u64,
    ) {
        let event = DropEvent {
            port,
            reason,
            direction,
            rule,
            key: view.key,
            time_ms: now_ms,
        };
        if self.sender.try_send(event).is_err() {
            self.lost.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The consumer's end.
#[derive(Debug)]
pub struct DropSource {
    receiver: Receiver<DropEvent>,
    lost: Arc<AtomicU64>,
}

impl DropSource {
    /// The next event, waiting at most `wait`. It looks again every
    /// [`POLL`] rather than waiting on the channel: a consumer asleep on it
    /// would have every worker's `try_send` wake it, a system call on the
    /// packet path.
    pub fn next(&self, wait: Duration) -> Option<DropEvent> {
        let deadline = Instant::now() + wait;
        loop {
            if let Ok(event) = self.receiver.try_recv() {
                return Some(event);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            std::thread::sleep(POLL.min(left));
        }
    }

    /// Events lost because the channel was full.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }
}

pub fn drop_channel() -> (DropSink, DropSource) {
    let (sender, receiver) = crossbeam_channel::bounded(CAPACITY);
    let lost = Arc::new(AtomicU64::new(0));
    (
        DropSink {
            sender,
            lost: lost.clone(),
        },
        DropSource { receiver, lost },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_channel_loses_events_and_counts_them() {
        let (sink, source) = drop_channel();
        let packet =
            etherparse::PacketBuilder::ipv4([10, 1, 1, 4], [10, 2, 1, 4], 64).udp(40000, 53);
        let mut bytes = Vec::new();
        packet.write(&mut bytes, b"x").unwrap();
        let view = PacketView::parse(&bytes).unwrap();
        for _ in 0..CAPACITY + 3 {
            sink.dropped(
                PortId::new(1),
                (DropReason::NoRoute, Direction::Outbound),
                RuleId::NONE,
                &view,
                7,
            );
        }
        assert_eq!(source.lost(), 3);
        let first = source.next(Duration::ZERO).unwrap();
        assert_eq!(first.key, view.key);
        assert_eq!((first.reason, first.time_ms), (DropReason::NoRoute, 7));
        assert_eq!(source.receiver.len(), CAPACITY - 1);
    }
}
