//! What the queues between each NIC and the daemon dropped: packets a NIC
//! sent faster than the workers read them, lost before any worker saw
//! them. Azure counts what a VM's NIC sends; so does vnetd, and a packet
//! lost on its way in is a drop with its reason (`ingress_queue_full`),
//! never a packet gone unseen.
//!
//! The kernel counts these drops on the devices themselves, and they are
//! read from its link statistics, off the packet path (see
//! [`crate::host::link_drops`]):
//!
//! - a port whose `eth0` is its TUN device (every NIC with `--no-offload`;
//!   gateway instances, sites and probers always): that device's transmit
//!   drops, in the port's namespace (its queue toward the workers was
//!   full);
//! - a port on the fabric: its TUN device's transmit drops (the queue
//!   toward the workers) and its host end's receive drops (the backlog of
//!   frames from `eth0` before the fabric's program), in the fabric's
//!   namespace.
//!
//! Each is counted at the port that sent the packets, as sent and dropped.
//! The devices of a port are read when it sent something since the last
//! reading (a queue drops only what a busy port sends), and every one of
//! them every [`FULL_READ_EVERY`] readings. It may use the plane, the
//! counters and their port ids.

use super::plane::Plane;
use super::port_id::PortId;
use super::stats::WorkerCounters;
use crate::dataplane::DropReason;
use crate::engine::flow_table::Traffic;
use crate::host::link_drops::{Device, LinkDropReader, LinkId};
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

/// Every port's devices are read at least once in this many readings (at
/// the housekeeping's pace of two a second: every minute), whatever it
/// sent: a queue no worker reads at all still has its drops counted. (A
/// reading of a thousand NICs' devices costs the daemon tens of
/// milliseconds; once a minute, an idle lab hardly notices.)
pub const FULL_READ_EVERY: u64 = 120;

/// Which of a port's queues a reading is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Queue {
    /// The TUN device's queue toward the workers (its transmit drops).
    Tun,
    /// The fabric host end's backlog (its receive drops).
    HostEnd,
}

/// The reader of one lab's queue drops, and where it counts them.
#[derive(Debug)]
pub struct QueueDrops {
    /// `None` when no netlink socket could be opened (said once, at start).
    reader: Mutex<Option<LinkDropReader>>,
    /// The fabric's namespace, when the lab has one.
    fabric: Option<String>,
    /// A block of counters of its own among the workers'.
    counters: Arc<WorkerCounters>,
    book: Mutex<Book>,
}

/// What was read last: each queue's device and its drops then, each
/// port's sent packets then, and how many readings there have been.
#[derive(Debug, Default)]
struct Book {
    dropped: HashMap<(PortId, Queue), (LinkId, u64)>,
    sent: HashMap<PortId, u64>,
    readings: u64,
}

impl QueueDrops {
    /// A reader in the daemon's namespace, for a lab whose fabric (if
    /// any) is namespace `fabric`, counting into a block of its own that it
    /// adds to `blocks`.
    pub fn counting_into(
        fabric: Option<String>,
        blocks: &mut Vec<Arc<WorkerCounters>>,
    ) -> Arc<QueueDrops> {
        let counters = Arc::new(WorkerCounters::new(
            crate::daemon::options::MAX_NICS as usize,
        ));
        blocks.push(counters.clone());
        Arc::new(QueueDrops::new(fabric, counters))
    }

    /// A reader in the daemon's namespace, counting into `counters`, for a
    /// lab whose fabric (if any) is namespace `fabric`.
    pub fn new(fabric: Option<String>, counters: Arc<WorkerCounters>) -> QueueDrops {
        let reader = match LinkDropReader::open() {
            Ok(reader) => Some(reader),
            Err(err) => {
                tracing::warn!("the queues' drops will not be counted: {err:#}");
                None
            }
        };
        QueueDrops {
            reader: Mutex::new(reader),
            fabric,
            counters,
            book: Mutex::new(Book::default()),
        }
    }

    /// Reads the queues of `plane`'s ports that sent something since the
    /// last reading (all of them every [`FULL_READ_EVERY`] readings, or
    /// when `all`), and counts what they dropped since at the ports.
    /// `blocks` are every block of counters (what a port sent is their
    /// sum).
    pub fn sync(&self, plane: &Plane, blocks: &[Arc<WorkerCounters>], all: bool) {
        let mut book = self.book.lock().unwrap_or_else(|p| p.into_inner());
        book.readings += 1;
        let all = all || book.readings % FULL_READ_EVERY == 1;
        let mut wanted: Vec<(PortId, Queue, LinkId)> = Vec::new();
        for port in plane.ports.iter().filter(|p| !p.is_remote()) {
            let sent: u64 = (blocks.iter())
                .filter_map(|b| b.ports.get(port.id))
                .map(|c| c.packets_sent.load(Relaxed))
                .sum();
            let before = book.sent.insert(port.id, sent);
            if !all && before == Some(sent) {
                continue;
            }
            match (&port.fast, &self.fabric) {
                (Some(fast), Some(fabric)) => {
                    let on_fabric = |index| LinkId {
                        namespace: fabric.clone(),
                        device: Device::Index(index),
                    };
                    wanted.push((port.id, Queue::Tun, on_fabric(fast.tun)));
                    wanted.push((port.id, Queue::HostEnd, on_fabric(fast.host_end)));
                }
                _ if !port.queues.is_empty() => wanted.push((
                    port.id,
                    Queue::Tun,
                    LinkId {
                        namespace: port.spec.name.clone(),
                        device: Device::Name(port.spec.interface.clone()),
                    },
                )),
                _ => {}
            }
        }
        if wanted.is_empty() {
            return;
        }
        let links: Vec<LinkId> = wanted.iter().map(|(_, _, link)| link.clone()).collect();
        let read = {
            let mut reader = self.reader.lock().unwrap_or_else(|p| p.into_inner());
            match reader.as_mut() {
                Some(reader) => reader.read(&links),
                None => return,
            }
        };
        for ((port, queue, link), drops) in wanted.into_iter().zip(read) {
            let Some(drops) = drops else { continue };
            let now = match queue {
                Queue::Tun => drops.tx_dropped,
                Queue::HostEnd => drops.rx_dropped,
            };
            let new = book.new_drops(port, queue, link, now);
            if new > 0 {
                // Sent by the NIC, and lost before the workers saw it.
                (self.counters).nic_sent(
                    port,
                    Traffic {
                        packets: new,
                        bytes: 0,
                    },
                );
                (self.counters).dropped_many(port, DropReason::IngressQueueFull, new);
            }
        }
    }
}

impl Book {
    /// What `queue` of `port`, on device `link`, dropped since its last
    /// reading, now that it reads `now`: all of it for a device not read
    /// before (each is made with the lab, its counters at zero), or one
    /// made again since (its counters start over).
    fn new_drops(&mut self, port: PortId, queue: Queue, link: LinkId, now: u64) -> u64 {
        let before = match self.dropped.get(&(port, queue)) {
            Some((known, then)) if *known == link && *then <= now => *then,
            _ => 0,
        };
        self.dropped.insert((port, queue), (link, now));
        now - before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(namespace: &str) -> LinkId {
        LinkId {
            namespace: namespace.into(),
            device: Device::Name("eth0".into()),
        }
    }

    #[test]
    fn drops_count_once_from_zero_and_a_device_made_again_starts_over() {
        let mut book = Book::default();
        let port = PortId::new(3);
        assert_eq!(book.new_drops(port, Queue::Tun, link("a"), 10), 10);
        assert_eq!(book.new_drops(port, Queue::Tun, link("a"), 10), 0);
        assert_eq!(book.new_drops(port, Queue::Tun, link("a"), 25), 15);
        // The other queue of the port is its own.
        assert_eq!(book.new_drops(port, Queue::HostEnd, link("a"), 4), 4);
        // Its TUN device made again: its counters start from zero.
        assert_eq!(book.new_drops(port, Queue::Tun, link("a"), 3), 3);
        // Another namespace's device for the same port: counted from zero.
        assert_eq!(book.new_drops(port, Queue::Tun, link("b"), 7), 7);
    }
}
