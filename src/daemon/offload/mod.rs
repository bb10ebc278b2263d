//! Accelerated networking: the flows the daemon admitted leave userspace.
//!
//! As on Azure's hosts, where VFP decides a flow's first packets and the
//! NIC's flow table carries the rest, the workers decide every packet they
//! read, and a flow that has been admitted (its NSGs passed, its route
//! found, at least two packets seen, so a flood of first packets installs
//! nothing) is handed to the fabric's kernel fast path, one direction at a
//! time ([`crate::host::fabric`]). From then on its packets go from the
//! sender's `eth0` straight to the receiver's, except TCP SYN, FIN and RST
//! and fragments, which the kernel still sends to the workers, so that
//! connection state and flow-log begin and end events stay exact.
//!
//! What is offloaded: TCP and UDP flows delivered unchanged from one VM's
//! NIC to another's (NVA legs included, each leg an entry of its own).
//! What stays in userspace, counted there as before: load-balanced flows
//! and shaped paths (`eligibility`, judged once per flow direction and
//! plane, with the reason kept for `flows`), anything to or from a
//! gateway, a site or a health prober, ICMP and other protocols, new flows
//! once the fabric holds its cap of entries, and new flows of a NIC that
//! holds its share of the cap (so that one VM cannot lock the others out).
//!
//! Every entry carries the generation of the plane its flow was decided
//! under, and the kernel uses only entries of the current one: every plane
//! published (by `apply`, the BGP watchers, the health probes) raises the
//! fabric's generation first ([`PublishedPlane`]), so the next packet of
//! every offloaded flow comes back to the workers, is decided again under
//! the new rules, and is offloaded again if still admitted. An entry asked
//! for under an older plane, installed late, is never used; old entries are
//! removed at the next read, with those whose egress port left the fabric.
//!
//! The workers only ask, with a non-blocking send of a fixed-size request
//! on a bounded channel that this module's thread polls (so that asking
//! never wakes a thread: no syscall on the packet path); it installs, and
//! every [`SYNC_PERIOD`] (and for each report) reads what the kernel
//! counted, a chunk of thousands of slots per system call, and adds it
//! where the workers would have: the NICs' counters (`offloaded` among
//! them) and the flows' packets, bytes and last-seen times, so that
//! `flows`, `stats`, the metrics, idle timeouts and NSG flow logs see
//! offloaded packets as packets. Each entry counts in a slot that outlives
//! it and is read a last time after the entry is gone (`book`), so no
//! packet is lost between a reading and a removal. A TCP FIN or RST, which
//! always reaches the workers, takes its flow's entries out at once (the
//! connection's last packets take the userspace path), and a flow whose
//! tracking ended (idle, flushed) loses its entries at the next read.
//!
//! It may use the daemon's plane, the flow table, the counters and the
//! threads' fault injection.

mod book;
mod eligibility;

pub use eligibility::Ineligible;

use super::plane::{FastPort, Plane, PublishedPlane};
use super::stats::WorkerCounters;
use super::threads::{Faults, ThreadKind};
use crate::daemon::port_id::PortId;
use crate::dataplane::conntrack::{direction_code, TrackedFlow};
use crate::dataplane::decide::CLOSING_IDLE_TIMEOUT_MS;
use crate::dataplane::packet::{TCP_FIN, TCP_RST, TCP_SYN};
use crate::dataplane::PacketView;
use crate::engine::flow_table::{FlowKey, FlowTable, Traffic};
use crate::host::fabric::{
    Fabric, FastCounters, FastEntry, FastKey, InstallError, SLOTS_PER_CHUNK,
};
use crate::net::{PacketKey, IPPROTO_TCP, IPPROTO_UDP};
use crate::plan::PortIdx;
use crate::topology::Direction;
use book::{Book, Installed};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How often what the kernel counted is added to the daemon's counters.
pub const SYNC_PERIOD: Duration = Duration::from_millis(500);

/// How often the offload thread looks for requests while they come.
const POLL_PERIOD: Duration = Duration::from_millis(5);

/// After each look that found nothing the wait doubles, up to
/// `POLL_PERIOD << IDLE_DOUBLINGS` (80 ms): an idle lab's thread wakes a
/// dozen times a second, not two hundred, and the first request after a
/// quiet spell waits that long at most (its flow is in userspace meanwhile).
const IDLE_DOUBLINGS: u32 = 4;

/// Requests waiting for the offload thread at most; more are dropped (the
/// flow's next packet asks again).
const REQUEST_QUEUE: usize = 4096;

/// A NIC may always send on this many entries, however many NICs share
/// the cap.
const SHARE_FLOOR: u32 = 1024;

/// A packet's flow as the fast path keys it, when the packet may be
/// offloaded: TCP without SYN, FIN or RST, or UDP, not a fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FastTuple {
    pub protocol: u8,
    pub source: IpAddr,
    pub destination: IpAddr,
    pub source_port: u16,
    pub destination_port: u16,
}

/// What a delivered packet asks of the fast path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// Offload its flow's direction (TCP without SYN, FIN or RST, or UDP).
    Install(FastTuple),
    /// Its TCP connection is ending (FIN or RST): take the flow's entries
    /// out, so that short connections do not fill the table while they
    /// idle out; the last packets take the userspace path.
    Remove(FastTuple),
}

impl Ask {
    /// What `view` asks, if anything (fragments never ask).
    #[inline]
    pub fn of(view: &PacketView) -> Option<Ask> {
        if view.fragment.is_some() {
            return None;
        }
        let tuple = FastTuple {
            protocol: view.key.proto,
            source: view.key.src,
            destination: view.key.dst,
            source_port: view.flow_ports.0,
            destination_port: view.flow_ports.1,
        };
        match view.key.proto {
            IPPROTO_UDP => Some(Ask::Install(tuple)),
            IPPROTO_TCP if view.tcp_flags & (TCP_FIN | TCP_RST) != 0 => Some(Ask::Remove(tuple)),
            IPPROTO_TCP if view.tcp_flags & TCP_SYN == 0 => Some(Ask::Install(tuple)),
            _ => None,
        }
    }
}

impl FastTuple {
    /// The tuple of a tracked TCP or UDP flow.
    pub fn of_tracked(flow: &TrackedFlow) -> Option<FastTuple> {
        if !matches!(flow.key.proto, IPPROTO_TCP | IPPROTO_UDP) {
            return None;
        }
        Some(FastTuple {
            protocol: flow.key.proto,
            source: flow.key.src,
            destination: flow.key.dst,
            source_port: flow.key.src_port?,
            destination_port: flow.key.dst_port?,
        })
    }

    /// The tuple as the decision reads a packet's key.
    pub fn packet_key(self) -> PacketKey {
        PacketKey {
            proto: self.protocol,
            src: self.source,
            dst: self.destination,
            src_port: Some(self.source_port),
            dst_port: Some(self.destination_port),
        }
    }

    /// The fast path's key of this direction arriving at `host_end`.
    fn key_at(self, host_end: u32) -> FastKey {
        FastKey {
            ingress: host_end,
            protocol: self.protocol,
            source: self.source,
            destination: self.destination,
            source_port: self.source_port,
            destination_port: self.destination_port,
        }
    }

    fn reversed(self) -> FastTuple {
        FastTuple {
            source: self.destination,
            destination: self.source,
            source_port: self.destination_port,
            destination_port: self.source_port,
            ..self
        }
    }

    /// One name for both directions of a flow.
    fn canonical(self) -> FastTuple {
        let reversed = self.reversed();
        let order = |t: &FastTuple| (t.source, t.source_port, t.destination, t.destination_port);
        if order(&reversed) < order(&self) {
            reversed
        } else {
            self
        }
    }

    fn flow_key(self, port: PortId, direction: Direction) -> Option<FlowKey> {
        FlowKey::from_ips(
            port.owner(),
            direction_code(direction),
            self.protocol,
            self.source,
            self.destination,
            self.source_port,
            self.destination_port,
        )
    }
}

/// What a worker asks: offload one direction of a delivered flow.
#[derive(Debug, Clone, Copy)]
pub struct OffloadRequest {
    /// The plane generation the packet was decided under.
    pub generation: u64,
    pub ingress: PortId,
    pub egress: PortId,
    /// The same ports as that plane indexes its NICs.
    pub ingress_nic: PortIdx,
    pub egress_nic: PortIdx,
    pub ask: Ask,
    pub from: FastPort,
    pub to: FastPort,
}

/// A worker's end of the request channel.
#[derive(Debug, Clone)]
pub struct OffloadRequests(Sender<OffloadRequest>);

impl OffloadRequests {
    /// Asks for `request`, without waiting: a full queue drops it.
    #[inline]
    pub fn ask(&self, request: OffloadRequest) {
        match self.0.try_send(request) {
            Ok(()) | Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

/// Totals for `stats` and the metrics.
#[derive(Debug, Default)]
pub struct OffloadTotals {
    pub installed: AtomicU64,
    pub removed: AtomicU64,
    pub refused_full: AtomicU64,
    /// Installs refused because the sending NIC held its share.
    pub refused_share: AtomicU64,
    /// Entries removed because a newer plane was published after them.
    pub removed_stale: AtomicU64,
    /// Entries removed because their egress port left the fabric.
    pub removed_egress_gone: AtomicU64,
}

/// Which tracked flows the kernel carries, and which stay in userspace
/// and why, for `flows`.
#[derive(Debug, Default)]
pub struct FlowPaths {
    /// Each (port, direction as tracked there, the flow's one name) a
    /// kernel entry carries packets of.
    pub kernel: HashSet<(PortId, Direction, FastTuple)>,
    /// Each (sending port, the flow's one name) judged to stay in
    /// userspace, and why.
    pub ineligible: HashMap<(PortId, FastTuple), Ineligible>,
}

impl FlowPaths {
    /// Whether the kernel carries the packets the flow tracked at `port`
    /// as `direction` sends from there or receives there.
    pub fn in_kernel(&self, port: PortId, direction: Direction, tuple: FastTuple) -> bool {
        self.kernel.contains(&(port, direction, tuple.canonical()))
    }

    /// Why the flow tracked at `port` stays in userspace, if it was judged
    /// so.
    pub fn why_not(&self, port: PortId, tuple: FastTuple) -> Option<Ineligible> {
        self.ineligible.get(&(port, tuple.canonical())).copied()
    }
}

/// The offload of one lab: the fabric, what is installed on it, and the
/// counters block where offloaded traffic is counted.
pub struct Offload {
    fabric: Arc<Fabric>,
    sender: Sender<OffloadRequest>,
    receiver: Receiver<OffloadRequest>,
    book: Mutex<Book>,
    counters: Arc<WorkerCounters>,
    /// Azure's paces and delays apply (they keep shaped paths here).
    shaping: bool,
    /// `CLOCK_MONOTONIC` nanoseconds at the daemon's epoch (the kernel
    /// stamps entries with that clock).
    epoch_monotonic_ns: u64,
    epoch: Instant,
    pub totals: OffloadTotals,
}

impl std::fmt::Debug for Offload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Offload")
            .field("fabric", &self.fabric)
            .finish_non_exhaustive()
    }
}

fn monotonic_ns() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
        .unwrap_or(0)
}

impl Offload {
    /// The offload over `fabric`, counting into `counters` (a block of its
    /// own among the workers' blocks).
    pub fn new(
        fabric: Arc<Fabric>,
        counters: Arc<WorkerCounters>,
        epoch: Instant,
        shaping: bool,
    ) -> Offload {
        let (sender, receiver) = crossbeam_channel::bounded(REQUEST_QUEUE);
        let since_epoch = epoch.elapsed().as_nanos() as u64;
        let book = Book::new(fabric.slots());
        Offload {
            fabric,
            sender,
            receiver,
            book: Mutex::new(book),
            counters,
            shaping,
            epoch_monotonic_ns: monotonic_ns().saturating_sub(since_epoch),
            epoch,
            totals: OffloadTotals::default(),
        }
    }

    /// The fabric the lab's VM ports are on.
    pub fn fabric(&self) -> &Arc<Fabric> {
        &self.fabric
    }

    /// A worker's end of the request channel.
    pub fn requests(&self) -> OffloadRequests {
        OffloadRequests(self.sender.clone())
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Installs what the workers ask and reads the kernel's counters every
    /// [`SYNC_PERIOD`], until `stop`.
    pub fn run(
        &self,
        plane: &PublishedPlane,
        flows: &FlowTable,
        stop: &AtomicBool,
        faults: &Faults,
    ) {
        let mut next_sync = Instant::now() + SYNC_PERIOD;
        let mut empty_looks = 0;
        while !stop.load(Relaxed) {
            // Polled, never waited on: a worker's request then never has a
            // sleeping thread to wake, and costs it no syscall.
            std::thread::sleep(POLL_PERIOD * (1 << empty_looks));
            empty_looks = (empty_looks + 1).min(IDLE_DOUBLINGS);
            while let Ok(request) = self.receiver.try_recv() {
                empty_looks = 0;
                self.handle(request, plane, flows);
            }
            faults.check(ThreadKind::Offload);
            if Instant::now() >= next_sync {
                // A port whose `eth0` was deleted behind the lab's back is
                // gone for the workers too (they count its drops), and its
                // entries go in the sync that follows.
                if let Err(err) = self.fabric.reap_orphans() {
                    eprintln!("vnetd: looking for ports gone from the fabric: {err:#}");
                }
                self.sync(flows);
                next_sync = Instant::now() + SYNC_PERIOD;
            }
        }
    }

    fn handle(&self, request: OffloadRequest, plane: &PublishedPlane, flows: &FlowTable) {
        match request.ask {
            Ask::Install(tuple) => self.install(request, tuple, plane, flows),
            Ask::Remove(tuple) => {
                let mut book = self.book();
                for key in [
                    tuple.key_at(request.from.host_end),
                    tuple.reversed().key_at(request.to.host_end),
                ] {
                    self.retire(&mut book, &key);
                }
            }
        }
    }

    /// Removes the kernel's entry of `key` and retires it in the book (its
    /// slot is read a last time later).
    fn retire(&self, book: &mut Book, key: &FastKey) -> bool {
        if !book.installed.contains_key(key) {
            return false;
        }
        self.fabric.remove(key);
        book.retire(key);
        self.totals.removed.fetch_add(1, Relaxed);
        true
    }

    fn install(
        &self,
        request: OffloadRequest,
        tuple: FastTuple,
        plane: &PublishedPlane,
        flows: &FlowTable,
    ) {
        // A decision under an earlier plane is not installed (were it, the
        // kernel would not use it: its generation is not current).
        let plane = plane.load();
        if request.generation != plane.snapshot.generation {
            return;
        }
        let key = tuple.key_at(request.from.host_end);
        let mut book = self.book();
        if book
            .installed
            .get(&key)
            .is_some_and(|i| i.generation == request.generation)
        {
            return;
        }
        if book
            .judged(request.ingress, tuple.canonical(), request.generation)
            .is_some()
        {
            return;
        }
        if let Err(why) = eligibility::judge(
            &plane,
            request.ingress_nic,
            request.egress_nic,
            &tuple.packet_key(),
            self.shaping,
        ) {
            book.judge(request.ingress, tuple.canonical(), request.generation, why);
            return;
        }
        // Admitted, not on its first packet, and not ending (a FIN or RST
        // was seen: its last ACKs stay in userspace).
        let now = self.now_ms();
        let Some(flow) = tuple
            .flow_key(request.ingress, Direction::Outbound)
            .and_then(|k| flows.lookup(&k, now))
        else {
            return;
        };
        let Some(value) = flow.value() else {
            return;
        };
        if value.forward_packets + value.reverse_packets < 2
            || value.idle_timeout_ms <= CLOSING_IDLE_TIMEOUT_MS
        {
            return;
        }
        let ingress_direction = if flow.is_reply() {
            Direction::Inbound
        } else {
            Direction::Outbound
        };
        let replacing = book.installed.contains_key(&key);
        if !replacing && book.installed.len() >= self.fabric.capacity() as usize {
            self.totals.refused_full.fetch_add(1, Relaxed);
            return;
        }
        let share = self.share(&plane);
        if !replacing && book.sent_by(request.ingress) >= share {
            self.totals.refused_share.fetch_add(1, Relaxed);
            *book.refused_share.entry(request.ingress).or_default() += 1;
            return;
        }
        let Some((slot, counted)) = book.take_slot() else {
            self.totals.refused_full.fetch_add(1, Relaxed);
            return;
        };
        let entry = FastEntry {
            egress: request.to.host_end,
            mac: request.to.mac,
            generation: request.generation,
            slot,
        };
        match self.fabric.install(&key, entry) {
            Ok(()) => {}
            Err(err) => {
                book.untake_slot(slot, counted);
                if err == InstallError::Full {
                    self.totals.refused_full.fetch_add(1, Relaxed);
                }
                return;
            }
        }
        self.totals.installed.fetch_add(1, Relaxed);
        book.insert(
            key,
            Installed {
                ingress: request.ingress,
                egress: request.egress,
                egress_host_end: request.to.host_end,
                ingress_direction,
                tuple,
                generation: request.generation,
                slot,
                counted,
            },
        );
    }

    /// The most entries one NIC may send on: an even share of the cap
    /// among the plane's ports on the fabric, never below [`SHARE_FLOOR`]
    /// or half the cap, whichever is less (nor above the cap).
    fn share(&self, plane: &Plane) -> u32 {
        let on_fabric = plane.ports.iter().filter(|p| p.fast.is_some()).count();
        let capacity = self.fabric.capacity();
        FlowTable::default_quota(
            capacity as usize,
            on_fabric.max(1) as u32,
            SHARE_FLOOR.min(capacity / 2),
        )
    }

    /// Adds what the kernel counted since the last reading to the NICs'
    /// counters and the flows (reading each chunk of slots in use with one
    /// system call, outside the book's lock), and removes the entries of
    /// flows no longer tracked, of older generations, or whose egress port
    /// left the fabric.
    pub fn sync(&self, flows: &FlowTable) {
        let chunks: BTreeSet<u32> = self
            .book()
            .slots_in_use()
            .map(|slot| slot / SLOTS_PER_CHUNK)
            .collect();
        let read_at = Instant::now();
        let mut readings = HashMap::with_capacity(chunks.len());
        for chunk in chunks {
            match self.fabric.counters_chunk(chunk) {
                Ok(counters) => {
                    readings.insert(chunk, counters);
                }
                Err(err) => eprintln!("vnetd: {err:#}"),
            }
        }
        let reading = |slot: u32| {
            readings
                .get(&(slot / SLOTS_PER_CHUNK))
                .and_then(|c| c.get((slot % SLOTS_PER_CHUNK) as usize))
                .copied()
        };
        let current = self.fabric.generation();
        let now = self.now_ms();
        let mut book = self.book();
        let mut gone = Vec::new();
        for (key, installed) in book.installed.iter_mut() {
            if let Some(now_counted) = reading(installed.slot) {
                self.account(installed, now_counted, flows, now);
            }
            let tracked = installed
                .tuple
                .flow_key(installed.ingress, Direction::Outbound)
                .and_then(|k| flows.lookup(&k, now))
                .is_some();
            let stale = installed.generation != current;
            let egress_gone = !self.fabric.has_port(installed.egress_host_end);
            if stale {
                self.totals.removed_stale.fetch_add(1, Relaxed);
            } else if egress_gone {
                self.totals.removed_egress_gone.fetch_add(1, Relaxed);
            }
            if stale || egress_gone || !tracked {
                gone.push(*key);
            }
        }
        for key in gone {
            self.retire(&mut book, &key);
        }
        // Slots removed long enough before the reading: it is their last.
        for mut installed in book.drained_by(read_at) {
            let Some(last) = reading(installed.slot) else {
                // Not read this time (its chunk could not be): next time.
                book.draining.push((installed, read_at));
                continue;
            };
            self.account(&mut installed, last, flows, now);
            book.free_slot(installed.slot, last);
        }
    }

    /// Counts what the kernel carried on `installed` since it was last
    /// read: at the NICs, as the workers count, and on the flow at both
    /// ends, as the tracking of a packet in the slow path would.
    fn account(
        &self,
        installed: &mut Installed,
        now: FastCounters,
        flows: &FlowTable,
        now_ms: u64,
    ) {
        let traffic = Traffic {
            packets: now.packets.saturating_sub(installed.counted.packets),
            bytes: now.bytes.saturating_sub(installed.counted.bytes),
        };
        installed.counted = now;
        if traffic.packets == 0 {
            return;
        }
        self.counters.nic_sent(installed.ingress, traffic);
        self.counters.nic_received(installed.egress, traffic);
        if let Some(c) = self.counters.ports.get(installed.ingress) {
            c.offloaded_packets_sent.fetch_add(traffic.packets, Relaxed);
        }
        if let Some(c) = self.counters.ports.get(installed.egress) {
            c.offloaded_packets_received
                .fetch_add(traffic.packets, Relaxed);
        }
        let last_ms = now
            .last_used_ns
            .saturating_sub(self.epoch_monotonic_ns)
            .checked_div(1_000_000)
            .unwrap_or(now_ms)
            .min(now_ms);
        for (port, direction) in [
            (installed.ingress, Direction::Outbound),
            (installed.egress, Direction::Inbound),
        ] {
            let Some(key) = installed.tuple.flow_key(port, direction) else {
                continue;
            };
            if let Some(flow) = flows.lookup(&key, now_ms) {
                flow.touch(last_ms, traffic, !flow.is_reply());
            }
        }
    }

    /// Which tracked flows the kernel carries now, leg by leg, and which
    /// were judged to stay in userspace.
    pub fn flow_paths(&self) -> FlowPaths {
        let book = self.book();
        FlowPaths {
            kernel: book.legs(),
            ineligible: book.judged_flows().collect(),
        }
    }

    /// Directions installed now.
    pub fn installed(&self) -> usize {
        self.book().installed.len()
    }

    /// The NICs that were refused an install because they held their
    /// share, with how many times.
    pub fn refused_share(&self) -> HashMap<PortId, u64> {
        self.book().refused_share.clone()
    }

    /// The most entries one NIC may send on under `plane`.
    pub fn share_under(&self, plane: &Plane) -> u32 {
        self.share(plane)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn tcp(
        flags: fn(
            etherparse::PacketBuilderStep<etherparse::TcpHeader>,
        ) -> etherparse::PacketBuilderStep<etherparse::TcpHeader>,
    ) -> Vec<u8> {
        let builder =
            flags(PacketBuilder::ipv4([10, 1, 1, 4], [10, 0, 2, 4], 64).tcp(40000, 5201, 1, 65535));
        let mut out = Vec::new();
        builder.write(&mut out, b"data").unwrap();
        out
    }

    fn ask(packet: &[u8]) -> Option<Ask> {
        Ask::of(&PacketView::parse(packet).unwrap())
    }

    fn tuple(protocol: u8) -> FastTuple {
        FastTuple {
            protocol,
            source: "10.1.1.4".parse().unwrap(),
            destination: "10.0.2.4".parse().unwrap(),
            source_port: 40000,
            destination_port: 5201,
        }
    }

    #[test]
    fn only_established_tcp_and_udp_ask_to_be_carried_and_fin_or_rst_end_it() {
        assert_eq!(ask(&tcp(|b| b.syn())), None);
        assert_eq!(ask(&tcp(|b| b.syn().ack(1))), None);
        assert_eq!(
            ask(&tcp(|b| b.ack(1))),
            Some(Ask::Install(tuple(IPPROTO_TCP)))
        );
        assert_eq!(
            ask(&tcp(|b| b.ack(1).psh())),
            Some(Ask::Install(tuple(IPPROTO_TCP)))
        );
        assert_eq!(
            ask(&tcp(|b| b.ack(1).fin())),
            Some(Ask::Remove(tuple(IPPROTO_TCP)))
        );
        assert_eq!(
            ask(&tcp(|b| b.rst())),
            Some(Ask::Remove(tuple(IPPROTO_TCP)))
        );
        let mut udp = Vec::new();
        PacketBuilder::ipv4([10, 1, 1, 4], [10, 0, 2, 4], 64)
            .udp(40000, 5201)
            .write(&mut udp, b"datagram")
            .unwrap();
        assert_eq!(ask(&udp), Some(Ask::Install(tuple(IPPROTO_UDP))));
        let mut icmp = Vec::new();
        PacketBuilder::ipv4([10, 1, 1, 4], [10, 0, 2, 4], 64)
            .icmpv4_echo_request(1, 1)
            .write(&mut icmp, b"ping")
            .unwrap();
        assert_eq!(ask(&icmp), None);
        // A first fragment (more fragments set) never asks.
        let mut fragment = udp.clone();
        fragment[6] |= 0x20;
        let header = etherparse::Ipv4HeaderSlice::from_slice(&fragment)
            .unwrap()
            .to_header();
        let checksum = header.calc_header_checksum();
        fragment[10..12].copy_from_slice(&checksum.to_be_bytes());
        assert_eq!(ask(&fragment), None);
    }

    #[test]
    fn both_directions_of_a_flow_share_one_name_and_keys_name_their_arrival() {
        let forward = tuple(IPPROTO_TCP);
        assert_eq!(forward.canonical(), forward.reversed().canonical());
        assert_ne!(forward, forward.reversed());
        let key = forward.reversed().key_at(7);
        assert_eq!(
            (key.ingress, key.source, key.source_port),
            (7, forward.destination, forward.destination_port)
        );
    }
}
