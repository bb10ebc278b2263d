//! A forwarding worker: run to completion on one thread. Worker `w` owns
//! queue `w` of every NIC's TUN device (the kernel steers each flow to one
//! queue, and writes of a flow on a queue pull its replies to the same
//! queue), waits on them with epoll, and for each packet reads, decides and
//! writes it to the same-numbered queue of the egress TUN, virtio-net
//! header and all, so that GSO super-packets cross the fabric whole.
//! Consecutive UDP datagrams of one flow bound for one egress that takes
//! UDP segmentation offload are joined into one super-packet
//! ([`crate::dataplane::coalesce`]) and written at once, at the latest when
//! the queue being drained is empty or its batch is done; never for a VM's
//! NIC, whose `eth0` counts each datagram it is handed as a NIC counts
//! packets on the wire.
//!
//! Per packet: one read, at most one write, no allocation, no lock, no
//! channel hop (with flow logs on, a packet denied by an NSG also costs one
//! non-blocking `try_send` of a fixed-size event). With `--busy-poll` the
//! wait for ready queues never sleeps.
//! The plane (snapshot and ports) is loaded once per wake-up through
//! `arc-swap`; when `apply` published a new one, the worker re-registers
//! its queues before forwarding with it.
//!
//! A panic ends the run like an error: the daemon catches it, counts it
//! and runs the worker again (see [`crate::daemon::threads`]). The worker's fault
//! check point costs one relaxed load per wake-up.
//!
//! It may use the rest of its room (the plane, the pacer, the underlay,
//! the offload requests, the deny and drop feeds, the counters) and the
//! threads' fault injection; nothing of the rooms that change the lab or
//! report on it.

use super::deny_feed::DenySink;
use super::offload::{Ask, AskThrottle, Leg, OffloadRequest, OffloadRequests, Wire};
use super::pacer::{write_counted, Paced, Pacer};
use super::plane::{Plane, PortConntrack, PublishedPlane};
use super::port_id::PortId;
use super::release_timer::{ReleaseTimer, RELEASE_TIMER};
use super::stats::WorkerCounters;
use super::underlay::{frame_vni, Discard, UnderlayLink};
use crate::daemon::threads::{Faults, ThreadKind};
use crate::dataplane::coalesce::{vnet_header, Offer, UdpCoalescer, F_NEEDS_CSUM};
use crate::dataplane::nat::{translate, Rewrite};
use crate::dataplane::tcp_reset::{answers_with_reset, tcp_reset, TCP_RESET_LEN};
use crate::dataplane::{decide_arrival, decide_parsed, flow_hash, DropReason, PacketView, Verdict};
use crate::engine::flow_table::FlowTable;
use crate::engine::flow_table::Traffic;
use crate::host::underlay::{UnderlayQueue, ETH_HLEN};
use crate::host::{gso_segment_size, TunQueue, VNET_HDR_LEN};
use crate::plan::wire::port_of_mac;
use crate::plan::PortIdx;
use crate::topology::DEFAULT_MTU;
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use std::collections::HashMap;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Largest packet a queue hands over: the header and a 64 KiB super-packet.
pub const BUFFER_LEN: usize = VNET_HDR_LEN + 65_535;
/// Packets read from one queue before looking at the others (fairness).
const BATCH_PER_QUEUE: usize = 64;
/// How long a wait may last before the stop flag is looked at again.
const WAIT_MS: u16 = 100;

pub struct Worker {
    /// Which queue of every TUN device is this worker's.
    pub index: usize,
    pub plane: Arc<PublishedPlane>,
    /// Where this worker says which plane generation it forwards with
    /// (entry `index`), so that `apply` knows when a departed NIC's slot is
    /// no longer in use.
    pub generations: Arc<Vec<AtomicU64>>,
    pub flows: Arc<FlowTable>,
    pub counters: Arc<WorkerCounters>,
    pub stop: Arc<AtomicBool>,
    /// The daemon's start: flow timestamps are milliseconds since then.
    pub epoch: Instant,
    /// Where NSG denies are reported for flow logs (`None`: logs are off).
    pub denies: Option<DenySink>,
    /// Where every drop is reported for the live page (`None`: not asked).
    pub drops: Option<super::drop_feed::DropSink>,
    /// Poll for ready queues without sleeping.
    pub busy_poll: bool,
    /// Join consecutive UDP datagrams of a flow into super-packets.
    pub udp_coalescing: bool,
    /// The daemon's fault injection, looked at once per wake-up.
    pub faults: Arc<Faults>,
    /// Where flows admitted between two ports on the fabric, or between a
    /// port on the fabric and one on another machine, are handed to the
    /// kernel fast path (`None`: every packet stays here).
    pub offload: Option<OffloadRequests>,
    /// How often this worker has asked for each flow direction (its own:
    /// a worker runs on one thread).
    pub asked: AskThrottle,
    /// Apply the delays and rates of the plane's shaping tables (off with
    /// `--no-shaping`; path MTUs hold either way).
    pub shaping: bool,
    /// The underlay of a spread lab: this worker also takes in what other
    /// machines send to the ports of this one.
    pub underlay: Option<Arc<UnderlayLink>>,
}

/// The place of the underlay among a worker's watched fds (no port has it).
const UNDERLAY: PortIdx = PortIdx::new(usize::MAX);

/// The worker's view of one plane: which NIC each watched fd belongs to.
/// The plane is held so that its queue fds stay open (and their numbers
/// are not reused) for as long as they are registered.
struct Registered {
    plane: Arc<Plane>,
    nic_of_fd: HashMap<i32, PortIdx>,
}

impl Registered {
    /// The queue worker `worker` (of `workers`) reads for the port of
    /// `nic`, if the plane has it.
    fn queue(&self, nic: PortIdx, worker: usize, workers: usize) -> Option<&TunQueue> {
        self.plane
            .ports
            .get(nic)?
            .queue_read_by(worker, workers, nic)
    }
}

/// Epoll data of a watched queue: its fd number.
fn watch(fd: i32) -> EpollEvent {
    EpollEvent::new(EpollFlags::EPOLLIN, fd as u64)
}

impl Worker {
    /// Forwards until the stop flag is set. An error (epoll failing) ends
    /// the run; the daemon counts it and runs the worker again.
    pub fn run(&self) -> io::Result<()> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        let mut current = Registered {
            plane: self.plane.load_full(),
            nic_of_fd: HashMap::new(),
        };
        self.register(&epoll, &mut current, None)?;
        self.generations[self.index].store(current.plane.snapshot.generation, Ordering::Release);
        let mut buf = vec![0u8; BUFFER_LEN];
        let mut coalescer = UdpCoalescer::new();
        let mut pacer = Pacer::new(self.shaping, self.index as u64 + 1);
        pacer.plane_changed(None, self.index, &self.counters);
        let mut events = [EpollEvent::empty(); 64];
        let idle_ms = if self.busy_poll { 0 } else { WAIT_MS };
        let mut release_timer = ReleaseTimer::new(&epoll)?;
        while !self.stop.load(Ordering::Relaxed) {
            // Wake for the next held packet that falls due: the timer to
            // the microsecond, epoll's timeout to the millisecond after it.
            let next_release = pacer.next_release();
            let now = self.epoch.elapsed().as_nanos() as u64;
            release_timer.arm(next_release, now)?;
            let wait_ms = match next_release {
                Some(at) => {
                    let ms = at.saturating_sub(now).div_ceil(1_000_000);
                    idle_ms.min(u16::try_from(ms).unwrap_or(u16::MAX))
                }
                None => idle_ms,
            };
            let ready = match epoll.wait(&mut events, wait_ms) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            };
            self.faults.check(ThreadKind::Worker);
            let latest = self.plane.load();
            if !Arc::ptr_eq(&latest, &current.plane) {
                let next = Registered {
                    plane: latest.clone(),
                    nic_of_fd: HashMap::new(),
                };
                let previous = std::mem::replace(&mut current, next);
                self.register(&epoll, &mut current, Some(&previous))?;
                pacer.plane_changed(Some(&previous.plane), self.index, &self.counters);
                drop(previous);
                self.generations[self.index]
                    .store(current.plane.snapshot.generation, Ordering::Release);
                // Events fetched before the swap may name fds of the old
                // plane; they are read again on the next wait.
                continue;
            }
            let now = self.epoch.elapsed();
            let (now_ms, now_ns) = (now.as_millis() as u64, now.as_nanos() as u64);
            // Held packets due by now leave before any packet read in this
            // wake-up: one paced to go now is never ahead of an earlier
            // packet of its flow that is due too.
            pacer.release_due(&current.plane, now_ns, self.index, &self.counters);
            for event in &events[..ready] {
                if event.data() == RELEASE_TIMER {
                    release_timer.fired();
                    continue;
                }
                let fd = event.data() as i32;
                if current.nic_of_fd.get(&fd) == Some(&UNDERLAY) {
                    self.take_arrivals(&current.plane, &mut buf, now_ms);
                    continue;
                }
                if let Some(&nic) = current.nic_of_fd.get(&fd) {
                    // Up to a batch of the queue's packets, then the UDP
                    // run still pending: an error means the queue cannot be
                    // read any more (counted as `receive_error`).
                    let plane = &current.plane;
                    // Read just before this queue's batch: a packet that
                    // came in while earlier queues were served is not
                    // stamped before it arrived.
                    let now = self.epoch.elapsed();
                    let clock = (now.as_millis() as u64, now.as_nanos() as u64);
                    let drained =
                        self.forward_batch(plane, nic, &mut buf, &mut coalescer, &mut pacer, clock);
                    self.flush(plane, &mut coalescer);
                    if drained.is_err() {
                        // A queue that fails to read (its device is gone)
                        // would wake every wait: stop watching it until the
                        // next plane.
                        current.nic_of_fd.remove(&fd);
                        if let Some(queue) = current.queue(nic, self.index, self.workers()) {
                            let _ = epoll.delete(queue);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// This worker's queue of the underlay, in a spread lab.
    fn underlay_queue(&self) -> Option<&UnderlayQueue> {
        self.underlay.as_ref()?.queue_for(self.index)
    }

    /// Takes in up to a batch of packets other machines sent to this one's
    /// ports: each meets its receiver's inbound NSGs here and is delivered
    /// (see [`decide_arrival`]), and its flow's arrivals are offered to the
    /// fast path. The sending machine counted it sent; it is counted
    /// received, or dropped, at the receiver.
    fn take_arrivals(&self, plane: &Plane, buf: &mut [u8], now_ms: u64) {
        let Some(underlay) = self.underlay.as_deref() else {
            return;
        };
        let Some(queue) = underlay.queue_for(self.index) else {
            return;
        };
        let flows = PortConntrack {
            table: &self.flows,
            owners: plane,
        };
        let mut eth = [0u8; ETH_HLEN];
        for _ in 0..BATCH_PER_QUEUE {
            let len = match queue.recv(buf, &mut eth) {
                Ok(len) => len,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A frame too short to be one: no port to count it at.
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    underlay.discarded(Discard::Malformed);
                    continue;
                }
                Err(_) => return,
            };
            // Only a port of this machine, addressed with its own VNet's
            // identifier, receives.
            let plan = &plane.snapshot.plan;
            let receiver = port_of_mac(&eth[..6])
                .filter(|p| plan.ports.get(*p).is_some() && plan.is_local(*p));
            let Some(receiver) = receiver else {
                underlay.discarded(Discard::UnknownPort);
                continue;
            };
            if plan.port_vni(receiver) != frame_vni(&eth) {
                underlay.discarded(Discard::WrongVni);
                continue;
            }
            let port = plane.port_id(receiver);
            let parsed = PacketView::parse(&buf[VNET_HDR_LEN..len])
                .map(|view| view.segmented(gso_segment_size(&buf[..VNET_HDR_LEN])));
            let Ok(view) = parsed else {
                self.counters.dropped(port, DropReason::Malformed);
                continue;
            };
            let traffic = view.traffic();
            let ask = self.offload.as_ref().and_then(|_| Ask::of(&view));
            match decide_arrival(&plane.snapshot, &flows, receiver, &view, now_ms) {
                Verdict::Deliver(egress) => {
                    if let (Some(requests), Some(ask)) = (&self.offload, ask) {
                        ask_arrival(plane, requests, egress, ask);
                    }
                    let out = plane.egress(egress, self.index, &buf[..len]);
                    write_counted(
                        &self.counters,
                        plane.port_id(egress),
                        out,
                        &buf[..len],
                        traffic,
                    );
                }
                // A load-balanced packet for a backend of this machine:
                // translated here, never offloaded.
                Verdict::Translate {
                    nic: egress,
                    rewrite,
                } => {
                    let port = plane.port_id(egress);
                    if !translate_counted(buf, len, rewrite) {
                        self.counters
                            .dropped_many(port, DropReason::Malformed, traffic.packets);
                        continue;
                    }
                    let out = plane.egress(egress, self.index, &buf[..len]);
                    write_counted(&self.counters, port, out, &buf[..len], traffic);
                }
                Verdict::Drop { reason, at, rule } => {
                    // Arrivals from other machines are judged at their
                    // receiver.
                    let direction = reason.direction(false);
                    if let (Some(denies), true) = (&self.denies, reason.by_rule()) {
                        denies.denied(plane.port_id(at), direction, rule, &view, now_ms);
                    }
                    if let Some(drops) = &self.drops {
                        drops.dropped(plane.port_id(at), (reason, direction), rule, &view, now_ms);
                    }
                    self.counters
                        .dropped_many(plane.port_id(at), reason, traffic.packets);
                }
            }
        }
    }

    /// Feeds a packet the decision dropped to the flow logs' deny feed and
    /// the live page's drop feed; true when the drop is answered with a
    /// TCP reset (a NAT gateway's unknown connection).
    fn note_drop(
        &self,
        plane: &Plane,
        (reason, at, rule): (DropReason, PortIdx, crate::snapshot::RuleId),
        ingress: PortIdx,
        view: &PacketView,
        now_ms: u64,
    ) -> bool {
        // One direction for the flow logs and the live page: the sender's
        // stages judge its outbound packets.
        let direction = reason.direction(at == ingress);
        if let (Some(denies), true) = (&self.denies, reason.by_rule()) {
            denies.denied(plane.port_id(at), direction, rule, view, now_ms);
        }
        if let Some(drops) = &self.drops {
            drops.dropped(plane.port_id(at), (reason, direction), rule, view, now_ms);
        }
        reason == DropReason::NatUnsolicited && answers_with_reset(&plane.snapshot, view)
    }

    /// Answers `packet`, which came from `sender`, with a TCP reset
    /// written back to it (a NAT gateway's answer to an unknown
    /// connection), counted as a packet `sender` receives.
    #[cold]
    fn send_reset(&self, plane: &Plane, sender: PortIdx, packet: &[u8]) {
        let mut out = [0u8; VNET_HDR_LEN + TCP_RESET_LEN];
        let Some(len) = tcp_reset(packet, &mut out[VNET_HDR_LEN..]) else {
            return;
        };
        let reset = &out[..VNET_HDR_LEN + len];
        let queue = plane.egress(sender, self.index, reset);
        let traffic = Traffic::packet(len as u64);
        write_counted(&self.counters, plane.port_id(sender), queue, reset, traffic);
    }

    /// How many workers the daemon runs (each says its generation).
    fn workers(&self) -> usize {
        self.generations.len()
    }

    /// Watches this worker's queue of every port of `next.plane`, and stops
    /// watching the fds of `previous` that are gone.
    fn register(
        &self,
        epoll: &Epoll,
        next: &mut Registered,
        previous: Option<&Registered>,
    ) -> io::Result<()> {
        if previous.is_some() && self.faults.take_register_failure() {
            return Err(io::Error::other("injected failure re-registering queues"));
        }
        for (nic, port) in next.plane.ports.iter_enumerated() {
            if let Some(queue) = port.queue_read_by(self.index, self.workers(), nic) {
                next.nic_of_fd.insert(queue.as_raw_fd(), nic);
            }
        }
        if let Some(queue) = self.underlay_queue() {
            next.nic_of_fd.insert(queue.as_raw_fd(), UNDERLAY);
        }
        // The previous plane is still held, so its queues (and their fd
        // numbers) are still open here.
        if let Some(previous) = previous {
            for (fd, &nic) in &previous.nic_of_fd {
                if !next.nic_of_fd.contains_key(fd) {
                    if let Some(queue) = previous.queue(nic, self.index, self.workers()) {
                        let _ = epoll.delete(queue);
                    }
                }
            }
        }
        for (fd, &nic) in &next.nic_of_fd {
            let known = previous.is_some_and(|p| p.nic_of_fd.contains_key(fd));
            if known {
                continue;
            }
            if nic == UNDERLAY {
                if let Some(queue) = self.underlay_queue() {
                    epoll.add(queue, watch(*fd))?;
                }
            } else if let Some(queue) = next.queue(nic, self.index, self.workers()) {
                epoll.add(queue, watch(*fd))?;
            }
        }
        Ok(())
    }

    /// Writes the pending UDP run, if any, and counts it.
    fn flush(&self, plane: &Plane, coalescer: &mut UdpCoalescer) {
        let Some(run) = coalescer.finish() else {
            return;
        };
        let egress = PortIdx::from(run.egress);
        // Each joined datagram is a packet of its own on the wire.
        let traffic = Traffic {
            packets: run.datagrams as u64,
            bytes: run.bytes as u64,
        };
        let queue = plane.egress(egress, self.index, run.packet);
        let port = plane.port_id(egress);
        write_counted(&self.counters, port, queue, run.packet, traffic);
    }

    /// Asks the fast path to carry (or, at its end, stop carrying) the
    /// flow of a packet delivered from `nic` to `egress`, when `nic` is on
    /// the fabric and `egress` on the fabric too or, for a packet
    /// delivered unchanged, on another machine. `rewrite` is the
    /// translation the packet met here.
    #[inline]
    fn ask_offload(
        &self,
        plane: &Plane,
        requests: &OffloadRequests,
        (nic, egress): (PortIdx, PortIdx),
        ask: Ask,
        rewrite: Option<Rewrite>,
    ) {
        let (Some(from), Some(to)) = (
            plane.ports.get(nic).and_then(|p| p.fast),
            plane.ports.get(egress),
        ) else {
            return;
        };
        let leg = match to.fast {
            Some(to) => Leg::Local { from, to },
            // A translated packet between machines is translated where it
            // arrives (a load balancer's backend) or never leaves this one.
            None if to.is_remote() && rewrite.is_none() => Leg::Out {
                from,
                wire: Wire::of(&plane.snapshot.plan, nic),
            },
            None => return,
        };
        // Whether the flow may leave userspace is judged once per flow by
        // the offload thread, not here; a direction asks a few times, not
        // at every packet. The end of a connection always asks.
        if let Ask::Install(tuple) = ask {
            if !self
                .asked
                .due(nic.index(), &tuple, plane.snapshot.generation)
            {
                return;
            }
        }
        requests.ask(OffloadRequest {
            generation: plane.snapshot.generation,
            ingress: plane.port_id(nic),
            egress: plane.port_id(egress),
            ingress_nic: nic,
            egress_nic: egress,
            ask,
            leg,
            rewrite,
        });
    }

    /// Reads, decides and writes (or joins to the pending UDP run) up to a
    /// batch of packets from `nic`'s queue.
    fn forward_batch(
        &self,
        plane: &Plane,
        nic: PortIdx,
        buf: &mut [u8],
        coalescer: &mut UdpCoalescer,
        pacer: &mut Pacer,
        (now_ms, now_ns): (u64, u64),
    ) -> Result<(), ()> {
        let Some(queue) = plane
            .ports
            .get(nic)
            .and_then(|p| p.queue_read_by(self.index, self.workers(), nic))
        else {
            return Ok(());
        };
        let flows = PortConntrack {
            table: &self.flows,
            owners: plane,
        };
        let port = plane.port_id(nic);
        for _ in 0..BATCH_PER_QUEUE {
            let len = match queue.recv(buf) {
                Ok(len) => len,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.counters.dropped(port, DropReason::ReceiveError);
                    return Err(());
                }
            };
            if len < VNET_HDR_LEN {
                self.counters.dropped(port, DropReason::Malformed);
                continue;
            }
            // Counted as the packets it stands for on the wire: a
            // super-packet is its segments or datagrams.
            let parsed = PacketView::parse(&buf[VNET_HDR_LEN..len])
                .map(|view| view.segmented(gso_segment_size(&buf[..VNET_HDR_LEN])));
            let traffic = match &parsed {
                Ok(view) => view.traffic(),
                Err(_) => Traffic::packet((len - VNET_HDR_LEN) as u64),
            };
            self.counters.nic_sent(port, traffic);
            // What it asks delivered unchanged, and translated (an ICMP
            // echo the edge translates asks too).
            let (ask, ask_translated) = match (&self.offload, &parsed) {
                (Some(_), Ok(view)) => {
                    let ask = Ask::of(view);
                    (ask, ask.or_else(|| Ask::of_echo(view)))
                }
                _ => (None, None),
            };
            let headers_len = parsed.as_ref().map_or(0, |v| v.headers_len);
            // Which departure clock the packet's flow keeps its order by.
            let flow = match &parsed {
                Ok(view) if plane.snapshot.shaping.active => flow_hash(&view.key),
                _ => 0,
            };
            let mut reset = false;
            let verdict = match parsed {
                Ok(view) => {
                    let verdict = decide_parsed(&plane.snapshot, &flows, nic, &view, now_ms);
                    if let Verdict::Drop { reason, at, rule } = verdict {
                        reset = self.note_drop(plane, (reason, at, rule), nic, &view, now_ms);
                    }
                    verdict
                }
                Err(_) => Verdict::dropped(DropReason::Malformed, nic),
            };
            let egress = match verdict {
                Verdict::Deliver(egress) => {
                    if let (Some(requests), Some(ask)) = (&self.offload, ask) {
                        self.ask_offload(plane, requests, (nic, egress), ask, None);
                    }
                    egress
                }
                Verdict::Translate {
                    nic: egress,
                    rewrite,
                } => {
                    // A backend on another machine gets the client's packet
                    // as sent: its machine translates it and pins the flow,
                    // to translate the replies back (`decide_arrival`).
                    let leaves_untranslated = matches!(rewrite, Rewrite::Destination { .. })
                        && plane.ports.get(egress).is_some_and(|p| p.is_remote());
                    if !leaves_untranslated && !translate_counted(buf, len, rewrite) {
                        self.counters
                            .dropped_many(port, DropReason::Malformed, traffic.packets);
                        continue;
                    }
                    // Translated here: the kernel may carry the flow with
                    // the same translation (the offload thread judges
                    // which translations it takes).
                    if let (Some(requests), Some(ask), false) =
                        (&self.offload, ask_translated, leaves_untranslated)
                    {
                        self.ask_offload(plane, requests, (nic, egress), ask, Some(rewrite));
                    }
                    egress
                }
                Verdict::Drop { reason, at, .. } => {
                    self.counters
                        .dropped_many(plane.port_id(at), reason, traffic.packets);
                    if reset {
                        self.send_reset(plane, nic, &buf[VNET_HDR_LEN..len]);
                    }
                    continue;
                }
            };
            // A lab with nothing to shape has every MTU at 1500, which a
            // guest that raised its own `eth0`'s may still send beyond.
            let larger = len - VNET_HDR_LEN > usize::from(DEFAULT_MTU);
            if plane.snapshot.shaping.active || larger {
                let paced = pacer.shape(
                    plane,
                    headers_len,
                    nic,
                    egress,
                    flow,
                    buf,
                    len,
                    traffic,
                    now_ns,
                    self.index,
                    &self.counters,
                );
                if let Paced::Done = paced {
                    continue;
                }
            }
            let out = plane.egress(egress, self.index, &buf[..len]);
            let runs = self.udp_coalescing && plane.takes_udp_runs(egress);
            if runs && out.as_ref().is_some_and(|q| q.udp_segmentation()) {
                let egress_key = usize::from(egress);
                match coalescer.offer(egress_key, &buf[..len]) {
                    Offer::Taken => continue,
                    Offer::Mismatch => {
                        self.flush(plane, coalescer);
                        if coalescer.push(egress_key, &buf[..len]) {
                            continue;
                        }
                    }
                    // Packets of one flow keep their order: a run waiting
                    // for this egress goes first.
                    Offer::Ineligible => self.flush(plane, coalescer),
                }
            } else {
                // As above: a pending run goes first.
                self.flush(plane, coalescer);
            }
            let port = plane.port_id(egress);
            write_counted(&self.counters, port, out, &buf[..len], traffic);
        }
        Ok(())
    }
}

/// Applies a load balancer's `rewrite` to the packet of `buf[..len]`
/// (virtio-net header first); false for a packet it cannot rewrite.
#[inline]
fn translate_counted(buf: &mut [u8], len: usize, rewrite: Rewrite) -> bool {
    // With NEEDS_CSUM the transport checksum field holds only the
    // pseudo-header sum, for the receiver to finish.
    let partial = vnet_header(buf).is_some_and(|h| h.flags & F_NEEDS_CSUM != 0);
    translate(&mut buf[VNET_HDR_LEN..len], rewrite, partial).is_ok()
}

/// Asks the fast path to carry (or, at its end, stop carrying) the arrivals
/// of a flow from another machine that were delivered to `receiver`, when
/// it is on the fabric.
#[inline]
fn ask_arrival(plane: &Plane, requests: &OffloadRequests, receiver: PortIdx, ask: Ask) {
    let Some(to) = plane.ports.get(receiver).and_then(|p| p.fast) else {
        return;
    };
    requests.ask(OffloadRequest {
        generation: plane.snapshot.generation,
        ingress: PortId::NONE,
        egress: plane.port_id(receiver),
        ingress_nic: receiver,
        egress_nic: receiver,
        ask,
        leg: Leg::In {
            to,
            wire: Wire::of(&plane.snapshot.plan, receiver),
        },
        rewrite: None,
    });
}
