//! A forwarding worker: run to completion on one thread. Worker `w` owns
//! queue `w` of every NIC's TUN device (the kernel steers each flow to one
//! queue, and writes of a flow on a queue pull its replies to the same
//! queue), waits on them with epoll, and for each packet reads, decides and
//! writes it to the same-numbered queue of the egress TUN, virtio-net
//! header and all, so that GSO super-packets cross the fabric whole.
//!
//! Per packet: one read, one write, no allocation, no lock (the snapshot is
//! loaded once per wake-up through `arc-swap`), no channel hop.

use super::stats::WorkerCounters;
use crate::dataplane::{decide, Conntrack, DropReason, Verdict};
use crate::host::{TunQueue, VNET_HDR_LEN};
use crate::snapshot::Snapshot;
use arc_swap::ArcSwap;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Largest packet a queue hands over: the header and a 64 KiB super-packet.
pub const BUFFER_LEN: usize = VNET_HDR_LEN + 65_535;
/// Packets read from one queue before looking at the others (fairness).
const BATCH_PER_QUEUE: usize = 64;
/// How long a wait may last before the stop flag is looked at again.
const WAIT_MS: i32 = 100;

pub struct Worker {
    /// This worker's queue of every NIC, indexed by NIC.
    pub queues: Vec<TunQueue>,
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub flows: Arc<dyn Conntrack + Send + Sync>,
    pub counters: Arc<WorkerCounters>,
    pub stop: Arc<AtomicBool>,
    /// The daemon's start: flow timestamps are milliseconds since then.
    pub epoch: Instant,
}

/// An epoll instance that closes itself.
struct Epoll(i32);

impl Epoll {
    fn new() -> io::Result<Epoll> {
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Epoll(fd))
    }

    fn watch(&self, fd: i32, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: `event` is a valid epoll_event for the call's duration.
        let rc = unsafe { libc::epoll_ctl(self.0, libc::EPOLL_CTL_ADD, fd, &mut event) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn wait(&self, events: &mut [libc::epoll_event], timeout_ms: i32) -> io::Result<usize> {
        // SAFETY: `events` is writable for `events.len()` entries.
        let n = unsafe {
            libc::epoll_wait(self.0, events.as_mut_ptr(), events.len() as i32, timeout_ms)
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        // SAFETY: the fd is owned by this value and closed once.
        unsafe { libc::close(self.0) };
    }
}

impl Worker {
    pub fn run(self) -> io::Result<()> {
        let epoll = Epoll::new()?;
        for (nic, queue) in self.queues.iter().enumerate() {
            epoll.watch(queue.as_raw_fd(), nic as u64)?;
        }
        let mut buf = vec![0u8; BUFFER_LEN];
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
        while !self.stop.load(Ordering::Relaxed) {
            let ready = match epoll.wait(&mut events, WAIT_MS) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if ready == 0 {
                continue;
            }
            let snapshot = self.snapshot.load();
            let now_ms = self.epoch.elapsed().as_millis() as u64;
            for event in &events[..ready] {
                let nic = event.u64 as usize;
                self.drain(&snapshot, nic, &mut buf, now_ms);
            }
        }
        Ok(())
    }

    /// Forwards up to a batch of packets waiting on `nic`'s queue.
    fn drain(&self, snapshot: &Snapshot, nic: usize, buf: &mut [u8], now_ms: u64) {
        let Some(queue) = self.queues.get(nic) else {
            return;
        };
        for _ in 0..BATCH_PER_QUEUE {
            let len = match queue.recv(buf) {
                Ok(len) => len,
                // Nothing more, or the namespace is gone: either way, move on.
                Err(_) => return,
            };
            if len < VNET_HDR_LEN {
                self.counters.dropped(nic, DropReason::Malformed);
                continue;
            }
            self.counters.received(nic, len - VNET_HDR_LEN);
            match decide(snapshot, &*self.flows, nic, &buf[VNET_HDR_LEN..len], now_ms) {
                Verdict::Deliver(egress) => {
                    let sent = self.queues.get(egress).map(|q| q.send(&buf[..len]));
                    match sent {
                        Some(Ok(_)) => self.counters.delivered(egress, len - VNET_HDR_LEN),
                        // A full egress queue loses the packet, as a full
                        // link would.
                        _ => self.counters.dropped(egress, DropReason::EgressFull),
                    }
                }
                Verdict::Drop { reason, at } => self.counters.dropped(at, reason),
            }
        }
    }
}
