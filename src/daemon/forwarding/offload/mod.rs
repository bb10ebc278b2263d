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
//! NIC to another's (NVA legs included, each leg an entry of its own), and
//! the Internet edge's translated TCP and UDP flows and ICMP echoes of
//! either family (the identifier kept, which the kernel keys them by)
//! between a VM's NIC
//! and the Internet, which is a port of the fabric too: out through a NAT
//! gateway, a public IP or default outbound access with the source
//! translated, their replies translated back, and a public IP's inbound
//! 1:1 with its answers. So are load-balanced flows between two ports of
//! the fabric, as the load balancer's pin places them: a client's packets
//! to a frontend, their destination rewritten to the pinned backend's
//! address and the rule's backend port, and the backend's replies, their
//! source rewritten back to the frontend (nothing rewritten with floating
//! IP or behind HA ports). The kernel's entry rewrites each packet as the
//! workers would (`eligibility` and `balanced` say which translations it
//! takes), and each reading keeps the translation or the pin alive as the
//! workers' packets do; an entry goes at the next reading once its translation is gone
//! (expired, or its public address removed by `apply`, whose new
//! generation has already sent the flow back to the workers), or once its
//! pin is gone, records another placement, or is about to idle out. A
//! backend's health changing is a new plane for the pools' ports, so their
//! flows are placed again in the workers (an established connection on a
//! backend gone down stays there, in the workers, as Azure keeps it).
//!
//! In a lab spread over machines, a leg between a NIC of this machine and
//! one of another is carried by the kernel at both ends, as AccelNet
//! carries an admitted flow between two of Azure's hosts ([`Leg`]): the
//! sending machine's entry (asked for by the worker that delivered a
//! packet to the underlay) puts the packets into the VXLAN device with the
//! receiving machine's address, the receiving port's VNI and its MAC
//! between machines (see [`crate::plan::wire`]); the receiving machine's
//! entry (asked for by the worker that took a packet in from the underlay
//! and delivered it) takes the frames of that VNI, MAC and 5-tuple straight
//! into the receiving NIC's `eth0`. Each machine decides, judges, counts
//! and ends its own entries under its own generation, as it decides its
//! own half of every packet in userspace: the sender's routes and NSGs on
//! one, the receiver's NSGs on the other, and each counts at its own NIC.
//! What stays in userspace, counted there as before: load-balanced flows
//! the kernel would not carry exactly as the workers do (pinned to a
//! backend gone down, unpinned, between machines, through two frontends),
//! shaped paths and translations the kernel does not take (IPv6)
//! (`eligibility`, judged once per flow direction and plane, with the
//! reason kept for `flows`), anything to or from a gateway, a site, a
//! firewall (whose namespace translates) or a health prober, ICMP (but
//! the edge's echoes) and other protocols, new flows
//! once the fabric holds its cap of entries, and new flows of a NIC that
//! holds its share of the cap (so that one VM cannot lock the others out).
//!
//! Every entry carries the generation of the plane its flow was decided
//! under, and the kernel uses it only while it is not older than the
//! generation of either of its ports: every plane published (by `apply`,
//! the BGP watchers, the health probes) first raises the generation of the
//! ports it may decide otherwise ([`PublishedPlane`]: their routes, NSGs,
//! learned routes or backends' health changed; every port's for another
//! topology), so the next packet of each of their offloaded flows comes
//! back to the workers, is decided again under the new rules, and is
//! offloaded again if still admitted, while the flows of the other ports
//! stay in the kernel. An entry asked for under an older plane, installed
//! late, is never used where it could be wrong; stale entries are removed
//! at the next read, with those whose egress port left the fabric.
//!
//! A port whose `eth0` is deleted behind the lab's back leaves the fabric
//! with it (one set down by its guest, until it is up again): the kernel
//! drops what an entry would still hand there, and
//! what the daemon writes there, counting each (the entry's slot, the
//! port's counters); this module counts them as `egress_gone` drops at
//! the port, never as delivered, and installs no entry toward it again.
//! What the programs drop of a port's own packets (IPv6 kept on the link,
//! frames of no protocol the fabric carries) is counted at the port too,
//! as the workers count what they drop.
//!
//! The workers only ask, with a non-blocking send of a fixed-size request
//! on a bounded channel that this module's thread polls while requests
//! come (so that asking wakes no thread: no syscall on the packet path);
//! after a quiet spell, the first request rings its `Doorbell`, one wake
//! per quiet spell, so that a new flow leaves userspace at once. It
//! installs, and every [`SYNC_PERIOD`] (and for each report) reads what the kernel
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
//! It may use the plane, the flow table, the counters and the
//! threads' fault injection.

mod balanced;
mod book;
mod counting;
mod doorbell;
mod eligibility;
mod request;

use eligibility::Balancing;
pub use eligibility::Ineligible;
pub use request::{Ask, AskThrottle, FastTuple, Leg, OffloadRequest, OffloadRequests, Wire};

use super::plane::{FastPort, Plane, PublishedPlane};
use super::port_id::PortId;
use super::stats::WorkerCounters;
use crate::daemon::threads::{Faults, ThreadKind};
use crate::dataplane::conntrack::PinMemo;
use crate::dataplane::decide::CLOSING_IDLE_TIMEOUT_MS;
use crate::engine::flow_table::{FlowKey, FlowTable};
use crate::host::fabric::{
    Fabric, FastEntry, FastRewrite, InstallError, TunnelEntry, SLOTS_PER_CHUNK,
};
use crate::plan::PortIdx;
use crate::topology::Direction;
use book::{Book, Installed};
use crossbeam_channel::{Receiver, Sender};
use doorbell::Doorbell;
use request::EntryKey;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How often what the kernel counted is added to the daemon's counters.
pub const SYNC_PERIOD: Duration = Duration::from_millis(500);

/// How often the offload thread looks for requests while they come.
const POLL_PERIOD: Duration = Duration::from_millis(1);

/// After each look that found nothing the wait doubles, up to
/// `POLL_PERIOD << IDLE_DOUBLINGS` (128 ms): an idle lab's thread wakes
/// eight times a second. It sleeps armed then ([`Doorbell`]): the first
/// request after a quiet spell wakes it, and its flow leaves userspace at
/// once rather than after the rest of the wait.
const IDLE_DOUBLINGS: u32 = 7;

/// Requests waiting for the offload thread at most; more are dropped (the
/// flow's next packet asks again).
const REQUEST_QUEUE: usize = 4096;

/// A NIC may always send on this many entries, however many NICs share
/// the cap.
const SHARE_FLOOR: u32 = 1024;

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
    /// Installs refused because the egress port had left the fabric.
    pub refused_egress_gone: AtomicU64,
}

/// Which tracked flows the kernel carries, and which stay in userspace
/// and why, for `flows`.
#[derive(Debug, Default)]
pub struct FlowPaths {
    /// Each (port, direction as tracked there, the flow's one name) a
    /// kernel entry carries packets of.
    pub kernel: HashSet<(PortId, Direction, FastTuple)>,
    /// Each (sending port, the flow's one name) judged to stay in
    /// userspace or refused an entry, and why.
    pub ineligible: HashMap<(PortId, FastTuple), Ineligible>,
}

impl FlowPaths {
    /// Whether the kernel carries the packets the flow tracked at `port`
    /// as `direction` sends from there or receives there.
    pub fn in_kernel(&self, port: PortId, direction: Direction, tuple: FastTuple) -> bool {
        self.kernel.contains(&(port, direction, tuple.canonical()))
    }

    /// Why the flow tracked at `port` stays in userspace, if it was judged
    /// so or refused an entry.
    pub fn why_not(&self, port: PortId, tuple: FastTuple) -> Option<Ineligible> {
        self.ineligible.get(&(port, tuple.canonical())).copied()
    }
}

/// What an entry does besides delivering its packets: the rewrite it
/// makes, and what it keeps alive (and goes with): the Internet edge's
/// translation, or the load balancer's pin (with what it must record).
#[derive(Debug, Clone, Copy, Default)]
struct Carried {
    rewrite: Option<FastRewrite>,
    translation: Option<FlowKey>,
    pin: Option<(FlowKey, PinMemo)>,
}

/// The offload of one lab: the fabric, what is installed on it, and the
/// counters block where offloaded traffic is counted.
pub struct Offload {
    fabric: Arc<Fabric>,
    sender: Sender<OffloadRequest>,
    receiver: Receiver<OffloadRequest>,
    doorbell: Arc<Doorbell>,
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
            doorbell: Arc::default(),
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
        OffloadRequests {
            sender: self.sender.clone(),
            doorbell: self.doorbell.clone(),
        }
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
        self.doorbell.answer_from_here();
        while !stop.load(Relaxed) {
            // Polled while requests come: a worker's request then has no
            // sleeping thread to wake, and costs it no syscall. After a
            // look that found nothing, the first request wakes the thread.
            if empty_looks == 0 {
                std::thread::sleep(POLL_PERIOD);
            } else {
                self.doorbell
                    .sleep_armed(POLL_PERIOD * (1 << empty_looks), || {
                        !self.receiver.is_empty()
                    });
            }
            empty_looks = (empty_looks + 1).min(IDLE_DOUBLINGS);
            let mut looked = false;
            while let Ok(request) = self.receiver.try_recv() {
                // A port deleted since the last look takes no entry: the
                // kernel's notice of it is read first.
                if !looked {
                    self.reap(&mut Vec::new());
                    looked = true;
                }
                empty_looks = 0;
                self.handle(request, plane, flows);
            }
            faults.check(ThreadKind::Offload);
            if Instant::now() >= next_sync {
                // What it could not read is in the log; nobody asked.
                let _ = self.sync(&plane.load(), flows);
                next_sync = Instant::now() + SYNC_PERIOD;
            }
        }
    }

    /// Takes the ports whose `eth0` was deleted behind the lab's back off
    /// the fabric, and those whose `eth0` was set down until it is up
    /// again (reading the kernel's link notifications, nothing when there
    /// are none): a deleted port's TUN device goes, so the workers' writes
    /// there fail and are counted, and no entry is installed toward either
    /// meanwhile. A failure is said in the log and kept in `faults`.
    fn reap(&self, faults: &mut Vec<String>) {
        if let Err(err) = self.fabric.reap_orphans() {
            warn_and_keep!(faults, "looking for ports gone from the fabric: {err:#}");
        }
    }

    fn handle(&self, request: OffloadRequest, plane: &PublishedPlane, flows: &FlowTable) {
        match request.ask {
            Ask::Install(tuple) => self.install(request, tuple, plane, flows),
            Ask::Remove(tuple) => {
                let mut book = self.book();
                for key in request.keys(tuple) {
                    self.retire(&mut book, &key);
                }
            }
        }
    }

    /// Removes the kernel's entry of `key` and retires it in the book (its
    /// slot is read a last time later).
    fn retire(&self, book: &mut Book, key: &EntryKey) -> bool {
        if !book.installed.contains_key(key) {
            return false;
        }
        match key {
            EntryKey::Fabric(key) => self.fabric.remove(key),
            EntryKey::Tunnel(key) => self.fabric.remove_tunnel(key),
            EntryKey::Arrival(key) => self.fabric.remove_arrival(key),
        };
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
        // Between machines only once the fabric has joined the underlay.
        let between_machines = !matches!(request.leg, Leg::Local { .. });
        if between_machines && self.fabric.tunnel().is_none() {
            return;
        }
        let key = request.leg.key(tuple);
        let local = request.local_port();
        let mut book = self.book();
        if book
            .installed
            .get(&key)
            .is_some_and(|i| i.generation == request.generation)
        {
            return;
        }
        if book
            .judged(local, tuple.canonical(), request.generation)
            .is_some()
        {
            return;
        }
        let judged = match request.leg {
            Leg::In { .. } => {
                eligibility::judge_arrival(&plane, request.egress_nic).map(|()| Balancing::None)
            }
            Leg::Local { .. } | Leg::Out { .. } => eligibility::judge(
                &plane,
                request.ingress_nic,
                request.egress_nic,
                &tuple.packet_key(),
                self.shaping,
            )
            .and_then(|balancing| {
                // A tunnel entry holds no bound of its path's own: a path
                // that carries less than its sender may send stays here.
                let (from, to) = (request.ingress_nic, request.egress_nic);
                let bounded = eligibility::path_mtu(&plane.snapshot, from, to).is_some();
                match (request.leg, bounded) {
                    (Leg::Out { .. }, true) => Err(Ineligible::Shaped),
                    _ => Ok(balancing),
                }
            }),
        };
        let carried =
            judged.and_then(|balancing| self.carried(&plane, &request, tuple, balancing, flows));
        let carried = match carried {
            Ok(carried) => carried,
            Err(why) => {
                book.judge(local, tuple.canonical(), request.generation, why);
                return;
            }
        };
        // Never toward a port whose `eth0` is gone or down: the workers
        // still deliver there, and the drops are counted.
        let named = tuple.canonical();
        let generation = request.generation;
        if request
            .leg
            .receiver_here()
            .is_some_and(|to| !self.fabric.has_port(to.host_end))
        {
            self.totals.refused_egress_gone.fetch_add(1, Relaxed);
            book.refuse(local, named, generation, Ineligible::EgressDown);
            return;
        }
        let Some(ingress_direction) = self.admitted(&request, tuple, flows) else {
            return;
        };
        let replacing = book.installed.contains_key(&key);
        if !replacing && book.installed.len() >= self.fabric.capacity() as usize {
            self.totals.refused_full.fetch_add(1, Relaxed);
            book.refuse(local, named, generation, Ineligible::Full);
            return;
        }
        // What the Internet sends counts against its receiver's share: it
        // answers every VM's flows, and is no VM to hold a share of its own.
        let from_the_internet = (plane.snapshot.nics.get(request.ingress_nic))
            .is_some_and(|n| n.kind.is_internet() && matches!(request.leg, Leg::Local { .. }));
        let charged = if from_the_internet {
            request.egress
        } else {
            local
        };
        let share = self.share(&plane);
        if !replacing && book.sent_by(charged) >= share {
            self.totals.refused_share.fetch_add(1, Relaxed);
            *book.refused_share.entry(charged).or_default() += 1;
            book.refuse(local, named, generation, Ineligible::NicShare);
            return;
        }
        let Some((slot, counted)) = book.take_slot() else {
            self.totals.refused_full.fetch_add(1, Relaxed);
            book.refuse(local, named, generation, Ineligible::Full);
            return;
        };
        let rewrite = carried.rewrite;
        // Not if a plane published since made it stale (the kernel may not
        // have been told: see `Fabric::installing`).
        let put = self
            .fabric
            .installing(request.generation, request.leg.fabric_ports(), || {
                self.put(&plane, &request, &key, slot, rewrite)
            });
        let put = put.unwrap_or(Err(InstallError::Other("stale".into())));
        let egress_host_end = match put {
            Ok(host_end) => host_end,
            Err(err) => {
                book.untake_slot(slot, counted);
                if err == InstallError::Full {
                    self.totals.refused_full.fetch_add(1, Relaxed);
                    book.refuse(local, named, generation, Ineligible::Full);
                }
                return;
            }
        };
        self.totals.installed.fetch_add(1, Relaxed);
        book.installed_for(local, named);
        book.insert(
            key,
            Installed {
                ingress: request.ingress,
                egress: request.egress,
                egress_host_end,
                ingress_direction,
                tuple,
                arrived: tuple.rewritten(request.rewrite),
                translation: carried.translation,
                pin: carried.pin,
                generation: request.generation,
                fabric_ports: request.leg.fabric_ports(),
                slot,
                counted,
                charged,
            },
        );
    }

    /// What the kernel's entry for the direction `tuple` of `request` does
    /// besides delivering it, judged against the flow table: the Internet
    /// edge's translation, or the load balancer's part (`balancing`), each
    /// only between two ports of this machine's fabric; or why it stays.
    fn carried(
        &self,
        plane: &Plane,
        request: &OffloadRequest,
        tuple: FastTuple,
        balancing: Balancing,
        flows: &FlowTable,
    ) -> Result<Carried, Ineligible> {
        let local = matches!(request.leg, Leg::Local { .. });
        let now = self.now_ms();
        let edge = |rewrite| {
            let edge = eligibility::judge_translation(plane, flows, tuple, rewrite, now)?;
            Ok(Carried {
                rewrite: Some(edge.rewrite),
                translation: Some(edge.translation),
                pin: None,
            })
        };
        match (balancing, request.rewrite) {
            (Balancing::None, None) => Ok(Carried::default()),
            (Balancing::None, Some(_)) if !local => Err(Ineligible::Translated),
            (Balancing::None, Some(rewrite)) => edge(rewrite),
            (_, _) if !local => Err(Ineligible::LoadBalanced),
            (balancing, rewrite) => {
                // What the Internet sends to a public frontend's address
                // may answer a backend's flow out through it (an outbound
                // rule's translation), which is the edge's.
                if let (Balancing::Frontend(_), Some(rewrite)) = (balancing, rewrite) {
                    if let Ok(carried) = edge(rewrite) {
                        return Ok(carried);
                    }
                }
                let pinned = balanced::judge_balanced(
                    plane,
                    flows,
                    (request.ingress_nic, request.egress_nic),
                    tuple,
                    balancing,
                    rewrite,
                    now,
                )?;
                Ok(Carried {
                    rewrite: pinned.rewrite,
                    translation: None,
                    pin: Some((pinned.pin, pinned.memo)),
                })
            }
        }
    }

    /// Whether the flow of direction `tuple` is admitted where it is
    /// tracked on this machine (at its sender, or for an arrival at its
    /// receiver), not on its first packet and not ending (a FIN or RST was
    /// seen: its last ACKs stay in userspace); if so, how it is tracked at
    /// the sender: outbound for the flow's opener, inbound for its replies.
    fn admitted(
        &self,
        request: &OffloadRequest,
        tuple: FastTuple,
        flows: &FlowTable,
    ) -> Option<Direction> {
        let (port, direction) = match request.leg {
            Leg::In { .. } => (request.egress, Direction::Inbound),
            Leg::Local { .. } | Leg::Out { .. } => (request.ingress, Direction::Outbound),
        };
        let flow = flows.lookup(&tuple.flow_key(port, direction)?, self.now_ms())?;
        let value = flow.value()?;
        if value.forward_packets + value.reverse_packets < 2
            || value.idle_timeout_ms <= CLOSING_IDLE_TIMEOUT_MS
        {
            return None;
        }
        Some(match flow.is_reply() {
            true => Direction::Inbound,
            false => Direction::Outbound,
        })
    }

    /// Writes the kernel's entry of `key` for `request`, counting in
    /// `slot`, rewriting its packets as `rewrite` says (only between two
    /// ports of the fabric); returns the host end of its egress port
    /// (`None` for a port on another machine).
    fn put(
        &self,
        plane: &Plane,
        request: &OffloadRequest,
        key: &EntryKey,
        slot: u32,
        rewrite: Option<FastRewrite>,
    ) -> Result<Option<u32>, InstallError> {
        let generation = request.generation;
        let to_port = |to: FastPort, rewrite, path_mtu| FastEntry {
            egress: to.host_end,
            egress_port: to.index,
            mac: to.mac,
            generation,
            slot,
            rewrite,
            path_mtu,
        };
        match (key, request.leg) {
            (EntryKey::Fabric(key), Leg::Local { to, .. }) => {
                let bound =
                    eligibility::path_mtu(&plane.snapshot, request.ingress_nic, request.egress_nic);
                self.fabric.install(key, to_port(to, rewrite, bound))?;
                Ok(Some(to.host_end))
            }
            (_, _) if rewrite.is_some() => {
                Err(InstallError::Other("a rewrite between machines".into()))
            }
            (EntryKey::Arrival(key), Leg::In { to, .. }) => {
                self.fabric.install_arrival(key, to_port(to, None, None))?;
                Ok(Some(to.host_end))
            }
            (EntryKey::Tunnel(key), Leg::Out { .. }) => {
                let Some((remote, wire)) = destination(plane, request.egress_nic) else {
                    return Err(InstallError::Other("no machine for the port".into()));
                };
                let entry = TunnelEntry {
                    remote,
                    vni: wire.vni,
                    mac: wire.mac,
                    generation,
                    slot,
                };
                self.fabric.install_tunnel(key, entry)?;
                Ok(None)
            }
            _ => Err(InstallError::Other("a key of another leg".into())),
        }
    }

    /// The most entries one NIC may send on: an even share of the cap
    /// among the plane's NICs on the fabric (the Internet's port, which
    /// holds no share, aside), never below [`SHARE_FLOOR`] or half the
    /// cap, whichever is less (nor above the cap).
    fn share(&self, plane: &Plane) -> u32 {
        let nics = &plane.snapshot.nics;
        let on_fabric = (plane.ports.iter_enumerated())
            .filter(|(i, p)| p.fast.is_some() && nics.get(*i).is_none_or(|n| !n.kind.is_internet()))
            .count();
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
    /// left the fabric (a port whose `eth0` was deleted is taken off it
    /// first). What the programs dropped of `plane`'s ports is counted at
    /// the ports. Returns what could not be read (each said in the log
    /// too): the counts leave it out until a later reading.
    #[must_use = "what could not be read belongs to the answer that asked for the reading"]
    pub fn sync(&self, plane: &Plane, flows: &FlowTable) -> Vec<String> {
        let mut faults = Vec::new();
        self.reap(&mut faults);
        self.count_port_drops(plane, &mut faults);
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
                Err(err) => warn_and_keep!(faults, "{err:#}"),
            }
        }
        let reading = |slot: u32| {
            readings
                .get(&(slot / SLOTS_PER_CHUNK))
                .and_then(|c| c.get((slot % SLOTS_PER_CHUNK) as usize))
                .copied()
        };
        let now = self.now_ms();
        let mut book = self.book();
        let mut gone = Vec::new();
        for (key, installed) in book.installed.iter_mut() {
            if let Some(now_counted) = reading(installed.slot) {
                self.account(installed, now_counted, flows, now);
            }
            let (port, direction) = installed.tracked_at();
            // A translated flow lives as long as its translation too: one
            // that expired, or whose public address went, is decided anew.
            let tracked = (installed.tuple.flow_key(port, direction))
                .and_then(|k| flows.lookup(&k, now))
                .is_some()
                && (installed.translation).is_none_or(|k| flows.lookup(&k, now).is_some())
                && (installed.pin).is_none_or(|pin| balanced::pin_holds(flows, pin, now));
            let stale = !self
                .fabric
                .holds(installed.generation, installed.fabric_ports);
            let egress_gone = (installed.egress_host_end).is_some_and(|h| !self.fabric.has_port(h));
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
        // What removed entries carried so far counts now, so that a report
        // right after a flow's end has it (the last reading adds the rest).
        for (installed, _) in book.draining.iter_mut() {
            if let Some(now_counted) = reading(installed.slot) {
                self.account(installed, now_counted, flows, now);
            }
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
        faults
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

/// Where the tunnel takes packets for `port`, a port of `plane` on another
/// machine: that machine's underlay address, and the port's name between
/// machines. `None` for a port of this machine (or of no machine).
fn destination(plane: &Plane, port: PortIdx) -> Option<(Ipv4Addr, Wire)> {
    let snapshot = &plane.snapshot;
    let placed = snapshot.plan.ports.get(port)?;
    if snapshot.plan.is_local(port) {
        return None;
    }
    let host = snapshot.topology.placement.hosts.get(placed.host)?;
    Some((host.underlay_address, Wire::of(&snapshot.plan, port)))
}
