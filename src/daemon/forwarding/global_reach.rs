//! The Global Reach links of a running lab, delayed as the circuits they
//! join: a packet from one circuit's site to the other's takes both
//! circuits' `latency_ms` each way, as `trace` says (see
//! [`crate::policy::shaping::global_reach_delay_us`]).
//!
//! Each link between two edge routers (one per link of the private
//! peerings, primary and secondary) is a pair of TUN devices, one in each
//! router's namespace ([`crate::host::site::join_routers_through_tun`]),
//! and one thread of the daemon carries what each end sends to the other:
//! it holds each packet in a delay line, the mechanism the workers delay
//! regions, sites and circuits with (the host's kernel has no `netem`),
//! and writes it on the other end when it falls due. A timer (`timerfd`)
//! wakes the thread at the release time to the microsecond, so that a
//! ping across takes the circuits' delay and not a millisecond more.
//!
//! Per packet: one read, one write, no allocation (the delay line's
//! memory is taken once). A packet the delay line has no room for, or
//! that the other end refuses, is counted dropped on its link
//! (in `vnetd stats`). With `--no-shaping` packets cross
//! at once. The delay of a link follows `apply` in place (a circuit's
//! `latency_ms` changed); a link that goes, or whose routers are built
//! again, takes its devices with it.
//!
//! It may use the host layer's TUN queues, the delay line, the threads'
//! supervision and fault injection.

use crate::api::GlobalReachReport;
use crate::daemon::threads::{self, Faults, ThreadKind, ThreadPanics};
use crate::dataplane::delay_line::DelayLine;
use crate::dataplane::PacketView;
use crate::host::{gso_segment_size, TunQueue, VNET_HDR_LEN};
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Bytes of packet memory the thread holds packets in: 50 ms of a
/// 10 Gbps circuit, the fastest Azure sells.
const RING_BYTES: usize = 64 << 20;
/// Packets held at once at most.
const HELD_PACKETS: usize = 65_536;
/// Largest packet a queue hands over: the header and a 64 KiB super-packet.
const BUFFER_LEN: usize = VNET_HDR_LEN + 65_535;
/// Packets read from one end before looking at the others.
const BATCH: usize = 64;
/// How long a wait lasts before the stop flag and the links are looked at
/// again.
const WAIT_MS: u16 = 100;
/// The epoll data of the timer (no end has it).
const TIMER: u64 = u64::MAX;

/// One link: its two ends and what it adds.
pub struct ReachWire {
    /// Stable for the link's life: what a held packet names its way out by.
    id: u32,
    name: String,
    ends: [TunQueue; 2],
    delay_ns: AtomicU64,
    packets: AtomicU64,
    dropped: AtomicU64,
}

impl ReachWire {
    fn report(&self) -> GlobalReachReport {
        GlobalReachReport {
            name: self.name.clone(),
            delay_us: self.delay_ns.load(Relaxed) / 1000,
            packets: self.packets.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
        }
    }
}

/// The lab's Global Reach links and the thread that carries them.
pub struct ReachLines {
    wires: Mutex<Vec<Arc<ReachWire>>>,
    /// Raised at every change of `wires`: the thread takes them again.
    version: AtomicU64,
    next_id: AtomicU64,
    /// `--no-shaping`: nothing is delayed.
    shaping: bool,
    thread: Mutex<Option<JoinHandle<()>>>,
    stop: Arc<AtomicBool>,
    panics: Arc<ThreadPanics>,
    faults: Arc<Faults>,
    /// The span the thread logs in: the one `new` was called in (the
    /// lab's), not that of the apply that adds the first link.
    span: tracing::Span,
}

impl std::fmt::Debug for ReachLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReachLines")
            .field("links", &self.lock().len())
            .finish_non_exhaustive()
    }
}

impl ReachLines {
    /// No link yet; the thread starts with the first. It stops with
    /// `stop`, the daemon's.
    pub fn new(
        shaping: bool,
        (stop, panics, faults): (Arc<AtomicBool>, Arc<ThreadPanics>, Arc<Faults>),
    ) -> ReachLines {
        ReachLines {
            wires: Mutex::new(Vec::new()),
            version: AtomicU64::new(0),
            next_id: AtomicU64::new(0),
            shaping,
            thread: Mutex::new(None),
            stop,
            panics,
            faults,
            span: tracing::Span::current(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Arc<ReachWire>>> {
        self.wires.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Carries link `name` between `ends`, delaying each packet by
    /// `delay_us` one way; starts the thread if it is not running.
    pub fn add(
        self: &Arc<Self>,
        name: &str,
        ends: [TunQueue; 2],
        delay_us: u32,
    ) -> Result<(), String> {
        let wire = Arc::new(ReachWire {
            id: self.next_id.fetch_add(1, Relaxed) as u32,
            name: name.to_owned(),
            ends,
            delay_ns: AtomicU64::new(self.delay_ns(delay_us)),
            packets: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        });
        self.lock().push(wire);
        self.version.fetch_add(1, Relaxed);
        self.start()
    }

    /// Stops carrying link `name`: its devices go once the thread lets
    /// them go (at its next wake-up).
    pub fn remove(&self, name: &str) {
        self.lock().retain(|w| w.name != name);
        self.version.fetch_add(1, Relaxed);
    }

    /// Stops carrying every link.
    pub fn clear(&self) {
        self.lock().clear();
        self.version.fetch_add(1, Relaxed);
    }

    /// Gives link `name` a new delay, in place.
    pub fn set_delay(&self, name: &str, delay_us: u32) {
        for wire in self.lock().iter().filter(|w| w.name == name) {
            wire.delay_ns.store(self.delay_ns(delay_us), Relaxed);
        }
    }

    /// Waits for the thread to end, once the daemon's stop is set.
    pub fn join(&self) {
        let handle = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }

    /// What each link carried, in the order they were joined.
    pub fn report(&self) -> Vec<GlobalReachReport> {
        self.lock().iter().map(|w| w.report()).collect()
    }

    fn delay_ns(&self, delay_us: u32) -> u64 {
        if self.shaping {
            u64::from(delay_us) * 1000
        } else {
            0
        }
    }

    fn start(self: &Arc<Self>) -> Result<(), String> {
        let mut thread = self.thread.lock().unwrap_or_else(|p| p.into_inner());
        if thread.is_some() {
            return Ok(());
        }
        let lines = self.clone();
        let (panics, stop) = (self.panics.clone(), self.stop.clone());
        let _in_lab = self.span.enter();
        let handle = threads::spawn_supervised(
            "vnetd-reach",
            ThreadKind::GlobalReach,
            "the Global Reach thread",
            (panics, stop),
            move || {
                // An error of epoll or the timer ends one run; the links
                // are taken up again by the next.
                while let Err(e) = lines.run() {
                    tracing::error!(
                        kind = ThreadKind::GlobalReach.as_str(),
                        "the Global Reach thread failed ({e}); restarting it"
                    );
                    std::thread::sleep(Duration::from_millis(WAIT_MS.into()));
                }
            },
        )
        .map_err(|e| format!("starting the Global Reach thread: {e}"))?;
        *thread = Some(handle);
        Ok(())
    }

    /// Carries the links until the daemon stops. Returns early (to be run
    /// again) on an error of epoll or the timer.
    fn run(&self) -> Result<(), Errno> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        let timer = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        epoll.add(&timer, EpollEvent::new(EpollFlags::EPOLLIN, TIMER))?;
        let epoch = Instant::now();
        let mut line = DelayLine::new(RING_BYTES, HELD_PACKETS);
        let mut buf = vec![0u8; BUFFER_LEN];
        let mut events = [EpollEvent::empty(); 16];
        let mut seen = u64::MAX;
        let mut current: Vec<Arc<ReachWire>> = Vec::new();
        while !self.stop.load(Relaxed) {
            let version = self.version.load(Relaxed);
            if version != seen {
                seen = version;
                let next = self.lock().clone();
                for wire in current
                    .iter()
                    .filter(|w| !next.iter().any(|n| n.id == w.id))
                {
                    for end in &wire.ends {
                        let _ = epoll.delete(end);
                    }
                }
                for wire in next
                    .iter()
                    .filter(|w| !current.iter().any(|c| c.id == w.id))
                {
                    for (side, end) in wire.ends.iter().enumerate() {
                        let data = u64::from(wire.id) << 1 | side as u64;
                        // A device gone already is found at its next read.
                        let _ = epoll.add(end, EpollEvent::new(EpollFlags::EPOLLIN, data));
                    }
                }
                current = next;
            }
            match line.next_release() {
                Some(at) => {
                    let now = epoch.elapsed().as_nanos() as u64;
                    let wait = Duration::from_nanos(at.saturating_sub(now).max(1));
                    timer.set(
                        Expiration::OneShot(TimeSpec::from_duration(wait)),
                        TimerSetTimeFlags::empty(),
                    )?;
                }
                None => timer.unset()?,
            }
            let ready = match epoll.wait(&mut events, WAIT_MS) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e),
            };
            self.faults.check(ThreadKind::GlobalReach);
            let now = epoch.elapsed().as_nanos() as u64;
            line.release_due(now, |egress, _, packet| {
                let (id, side) = (egress >> 1, (egress & 1) as usize);
                if let Some(wire) = current.iter().find(|w| w.id == id) {
                    write(wire, side, packet);
                }
            });
            for event in &events[..ready] {
                let data = event.data();
                if data == TIMER {
                    continue;
                }
                let (id, from) = ((data >> 1) as u32, (data & 1) as usize);
                let Some(wire) = current.iter().find(|w| w.id == id) else {
                    continue;
                };
                let to = 1 - from;
                let delay = wire.delay_ns.load(Relaxed);
                for _ in 0..BATCH {
                    let len = match wire.ends[from].recv(&mut buf) {
                        Ok(len) => len,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        // Its device is gone (its router was built again):
                        // the link is joined again, or removed, by `apply`.
                        Err(_) => {
                            let _ = epoll.delete(&wire.ends[from]);
                            break;
                        }
                    };
                    let packet = &buf[..len];
                    if delay == 0 {
                        write(wire, to, packet);
                        continue;
                    }
                    let egress = wire.id << 1 | to as u32;
                    if !line.hold(packet, egress, 0, now + delay) {
                        wire.dropped.fetch_add(segments(packet), Relaxed);
                    }
                }
            }
        }
        Ok(())
    }
}

/// The packets a buffer read from a queue stands for on the wire: its
/// segments, when the kernel handed over a super-packet.
fn segments(packet: &[u8]) -> u64 {
    let Some(ip) = packet.get(VNET_HDR_LEN..) else {
        return 1;
    };
    match PacketView::parse(ip) {
        Ok(view) => {
            view.segmented(gso_segment_size(&packet[..VNET_HDR_LEN]))
                .traffic()
                .packets
        }
        Err(_) => 1,
    }
}

/// Writes `packet` on end `side` of `wire`, counted.
fn write(wire: &ReachWire, side: usize, packet: &[u8]) {
    let count = segments(packet);
    match wire.ends[side].send(packet) {
        Ok(_) => wire.packets.fetch_add(count, Relaxed),
        Err(_) => wire.dropped.fetch_add(count, Relaxed),
    };
}
