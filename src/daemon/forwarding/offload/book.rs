//! What the offload has put in the kernel: each installed direction (in
//! the map that carries it: between two ports of the fabric, into the
//! tunnel, or from it) with its generation and counters slot, the slots of removed entries waiting
//! to be read a last time, the free slots with what they had counted, each
//! NIC's count of entries against its share, and the flows judged not to
//! leave userspace (with why) under the current generation.
//!
//! A slot only grows: what an entry carried is its slot's reading minus
//! the reading when it was last accounted. A removed entry's slot is read
//! once more after [`DRAIN_GRACE`] (no packet can still be counting there
//! by then) before another entry takes it, so nothing an entry carried is
//! lost or counted twice.

use super::eligibility::Ineligible;
use super::request::EntryKey;
use super::FastTuple;
use crate::daemon::forwarding::port_id::PortId;
use crate::dataplane::conntrack::PinMemo;
use crate::engine::flow_table::FlowKey;
use crate::host::fabric::FastCounters;
use crate::topology::Direction;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// How long a removed entry's slot waits before its last reading: a packet
/// that found the entry just before it was removed is counted within
/// microseconds (a tc program runs to its end under RCU); this is far more.
pub const DRAIN_GRACE: Duration = Duration::from_millis(50);

/// One installed direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Installed {
    /// The sending port: [`PortId::NONE`] for an arrival from another
    /// machine (its sender is counted there).
    pub ingress: PortId,
    /// The receiving port (on another machine, for an entry into the
    /// tunnel).
    pub egress: PortId,
    /// The host end of the egress port on the fabric; `None` on another
    /// machine.
    pub egress_host_end: Option<u32>,
    /// How the flow is tracked at the ingress port: outbound for the
    /// sender of the flow's first packet, inbound for its replies. At the
    /// egress port it is tracked the other way.
    pub ingress_direction: Direction,
    /// The direction as sent.
    pub tuple: FastTuple,
    /// The direction as it arrives: `tuple`, or, for a translated one,
    /// `tuple` rewritten as the kernel rewrites it.
    pub arrived: FastTuple,
    /// For a translated direction, the key of the Internet edge's
    /// translation its packets keep alive (the entry goes with it).
    pub translation: Option<FlowKey>,
    /// For a load-balanced direction, the load balancer's pin its packets
    /// are found by and keep alive, with what it records: the entry goes
    /// when the pin goes or records otherwise.
    pub pin: Option<(FlowKey, PinMemo)>,
    pub generation: u64,
    /// The fabric's indexes of the ports whose generations the entry must
    /// not be older than: its sender's and its receiver's on this machine
    /// (one port twice for a leg to or from another machine).
    pub fabric_ports: [u32; 2],
    pub slot: u32,
    /// The slot's reading when the entry was last accounted.
    pub counted: FastCounters,
    /// The NIC of this machine the entry counts against, in its share of
    /// the cap: its sender; for an arrival from another machine, or a
    /// direction the Internet sends, its receiver.
    pub charged: PortId,
}

impl Installed {
    /// The NIC the entry counts against.
    pub fn local_port(&self) -> PortId {
        self.charged
    }

    /// Where the flow it carries is tracked on this machine, and in which
    /// direction the entry's packets pass there: out of the sender, or,
    /// for an arrival, into the receiver.
    pub fn tracked_at(&self) -> (PortId, Direction) {
        match self.ingress {
            PortId::NONE => (self.egress, Direction::Inbound),
            sender => (sender, Direction::Outbound),
        }
    }
}

/// The book of one fabric.
#[derive(Debug)]
pub struct Book {
    pub installed: HashMap<EntryKey, Installed>,
    /// Removed entries whose slots wait for their last reading, with when.
    pub draining: Vec<(Installed, Instant)>,
    /// Slots no entry uses, each with its reading when it was freed (the
    /// next entry's starting point); the lowest first, so that the slots
    /// in use stay in few chunks.
    free: Vec<(u32, FastCounters)>,
    /// Entries per NIC of this machine they are charged to (the sender,
    /// or the receiver of an arrival).
    per_sender: HashMap<PortId, u32>,
    /// Directions judged to stay in userspace, under `judged_generation`.
    judged: HashMap<(PortId, FastTuple), Ineligible>,
    judged_generation: u64,
    /// Directions refused an entry (the cap, a NIC's share, a receiver
    /// gone), under `judged_generation`: asked again at their next
    /// packets, so never consulted before an install, only reported.
    refused: HashMap<(PortId, FastTuple), Ineligible>,
    /// Refusals because a NIC held its share, per NIC.
    pub refused_share: HashMap<PortId, u64>,
}

/// At most this many judged directions are kept; more clear the record
/// (they are judged again on their next packet).
const JUDGED_KEPT: usize = 65536;

impl Book {
    /// A book with `slots` free slots.
    pub fn new(slots: u32) -> Book {
        Book {
            installed: HashMap::new(),
            draining: Vec::new(),
            free: (0..slots)
                .rev()
                .map(|s| (s, FastCounters::default()))
                .collect(),
            per_sender: HashMap::new(),
            judged: HashMap::new(),
            judged_generation: 0,
            refused: HashMap::new(),
            refused_share: HashMap::new(),
        }
    }

    /// Takes a free slot, with its reading now.
    pub fn take_slot(&mut self) -> Option<(u32, FastCounters)> {
        self.free.pop()
    }

    /// Gives back a slot an install could not use (its reading unchanged).
    pub fn untake_slot(&mut self, slot: u32, reading: FastCounters) {
        self.free.push((slot, reading));
    }

    /// Records an installed direction.
    pub fn insert(&mut self, key: EntryKey, installed: Installed) {
        *self.per_sender.entry(installed.local_port()).or_default() += 1;
        if let Some(old) = self.installed.insert(key, installed) {
            self.forget_sender(old.local_port());
            self.draining.push((old, Instant::now()));
        }
    }

    /// Takes `key` out of the installed directions; its slot waits for its
    /// last reading from now on. The caller removes the kernel's entry
    /// first.
    pub fn retire(&mut self, key: &EntryKey) -> Option<Installed> {
        let installed = self.installed.remove(key)?;
        self.forget_sender(installed.local_port());
        self.draining.push((installed, Instant::now()));
        Some(installed)
    }

    fn forget_sender(&mut self, port: PortId) {
        if let Some(n) = self.per_sender.get_mut(&port) {
            *n -= 1;
            if *n == 0 {
                self.per_sender.remove(&port);
            }
        }
    }

    /// How many entries `port` sends on.
    pub fn sent_by(&self, port: PortId) -> u32 {
        self.per_sender.get(&port).copied().unwrap_or(0)
    }

    /// Removes and returns the draining entries removed at least
    /// [`DRAIN_GRACE`] before `read_at` (their slots' readings taken at
    /// `read_at` are final); the caller accounts them and frees each slot
    /// with [`Book::free_slot`].
    pub fn drained_by(&mut self, read_at: Instant) -> Vec<Installed> {
        let mut done = Vec::new();
        self.draining.retain(|(installed, since)| {
            let final_reading = read_at.checked_duration_since(*since) >= Some(DRAIN_GRACE);
            if final_reading {
                done.push(*installed);
            }
            !final_reading
        });
        done
    }

    /// Frees `slot`, whose last reading is `reading`.
    pub fn free_slot(&mut self, slot: u32, reading: FastCounters) {
        self.free.push((slot, reading));
    }

    /// The verdict recorded for the direction `tuple` sent by `port` under
    /// `generation`, if one was.
    pub fn judged(
        &mut self,
        port: PortId,
        tuple: FastTuple,
        generation: u64,
    ) -> Option<Ineligible> {
        if generation != self.judged_generation {
            self.forget_judgments(generation);
            return None;
        }
        self.judged.get(&(port, tuple)).copied()
    }

    /// Forgets every judgment and refusal: they were made under another
    /// plane than `generation`'s, or there are too many to keep.
    fn forget_judgments(&mut self, generation: u64) {
        self.judged.clear();
        self.refused.clear();
        self.judged_generation = generation;
    }

    /// Records that the direction `tuple` sent by `port` stays in
    /// userspace under `generation`, and why.
    pub fn judge(&mut self, port: PortId, tuple: FastTuple, generation: u64, why: Ineligible) {
        if generation != self.judged_generation || self.judged.len() >= JUDGED_KEPT {
            self.forget_judgments(generation);
        }
        self.judged.insert((port, tuple), why);
    }

    /// Records that the direction `tuple` sent by `port` was refused an
    /// entry under `generation`, and why, until an install of it
    /// ([`Book::installed_for`]).
    pub fn refuse(&mut self, port: PortId, tuple: FastTuple, generation: u64, why: Ineligible) {
        if generation != self.judged_generation {
            self.forget_judgments(generation);
        }
        if self.refused.len() >= JUDGED_KEPT {
            self.refused.clear();
        }
        self.refused.insert((port, tuple), why);
    }

    /// The direction `tuple` sent by `port` has an entry now: no refusal
    /// of it stands.
    pub fn installed_for(&mut self, port: PortId, tuple: FastTuple) {
        self.refused.remove(&(port, tuple));
    }

    /// Each judged or refused direction, by sending port and the flow's
    /// one name (a judgment over a refusal).
    pub fn judged_flows(&self) -> impl Iterator<Item = ((PortId, FastTuple), Ineligible)> + '_ {
        let refused_only = (self.refused.iter()).filter(|(k, _)| !self.judged.contains_key(k));
        refused_only
            .chain(self.judged.iter())
            .map(|(k, v)| (*k, *v))
    }

    /// Each leg the kernel carries packets of: the port, the direction the
    /// flow is tracked in there, and the flow's one name. An installed
    /// direction is a leg at its sending port and at its receiving port,
    /// so at an appliance the leg in and the leg out are told apart.
    pub fn legs(&self) -> HashSet<(PortId, Direction, FastTuple)> {
        let mut legs = HashSet::with_capacity(self.installed.len() * 2);
        for installed in self.installed.values() {
            let tuple = installed.tuple.canonical();
            // A translated flow is named at its receiver as it arrives.
            let arrived = installed.arrived.canonical();
            let egress_direction = match installed.ingress_direction {
                Direction::Outbound => Direction::Inbound,
                Direction::Inbound => Direction::Outbound,
            };
            // An arrival's sender, and an entry into the tunnel's receiver,
            // are legs of the machine they are on.
            if installed.ingress != PortId::NONE {
                legs.insert((installed.ingress, installed.ingress_direction, tuple));
            }
            if installed.egress_host_end.is_some() {
                legs.insert((installed.egress, egress_direction, arrived));
            }
        }
        legs
    }

    /// Every slot an installed or draining entry uses.
    pub fn slots_in_use(&self) -> impl Iterator<Item = u32> + '_ {
        self.installed
            .values()
            .map(|i| i.slot)
            .chain(self.draining.iter().map(|(i, _)| i.slot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::fabric::{ArrivalKey, FastKey};
    use crate::net::IPPROTO_UDP;

    fn tuple(source_port: u16) -> FastTuple {
        FastTuple {
            protocol: IPPROTO_UDP,
            source: "10.0.1.4".parse().unwrap(),
            destination: "10.0.2.4".parse().unwrap(),
            source_port,
            destination_port: 5201,
        }
    }

    fn fast_key(source_port: u16) -> FastKey {
        tuple(source_port).key_at(3)
    }

    fn key(source_port: u16) -> EntryKey {
        EntryKey::Fabric(fast_key(source_port))
    }

    /// An entry for `tuple` from `ingress` to `egress`, as it arrived,
    /// charged to `ingress`: generation 1, slot 0, host end 4.
    fn entry(
        ingress: PortId,
        egress: PortId,
        ingress_direction: Direction,
        tuple: FastTuple,
    ) -> Installed {
        Installed {
            ingress,
            egress,
            egress_host_end: Some(4),
            ingress_direction,
            tuple,
            arrived: tuple,
            translation: None,
            pin: None,
            generation: 1,
            fabric_ports: [0, 1],
            slot: 0,
            counted: FastCounters::default(),
            charged: ingress,
        }
    }

    fn installed(book: &mut Book, port: u16) -> Installed {
        let (slot, counted) = book.take_slot().unwrap();
        let entry = Installed {
            slot,
            counted,
            ..entry(
                PortId::new(1),
                PortId::new(2),
                Direction::Outbound,
                tuple(port),
            )
        };
        book.insert(key(port), entry);
        entry
    }

    #[test]
    fn slots_are_taken_lowest_first_and_a_removed_one_waits_for_its_last_reading() {
        let mut book = Book::new(4);
        let first = installed(&mut book, 1);
        let second = installed(&mut book, 2);
        assert_eq!((first.slot, second.slot), (0, 1));
        assert_eq!(book.sent_by(PortId::new(1)), 2);
        assert_eq!(book.retire(&key(1)), Some(first));
        assert_eq!(book.sent_by(PortId::new(1)), 1);
        // Read too soon: the slot is not final yet, and not free.
        let retired_at = book.draining[0].1;
        assert!(book.drained_by(retired_at).is_empty());
        assert_eq!(installed(&mut book, 3).slot, 2);
        let done = book.drained_by(retired_at + DRAIN_GRACE);
        assert_eq!(done, vec![first]);
        let last = FastCounters {
            packets: 7,
            bytes: 700,
            last_used_ns: 1,
            ..FastCounters::default()
        };
        book.free_slot(first.slot, last);
        // The freed slot is the next taken, starting from its last reading.
        assert_eq!(book.take_slot(), Some((0, last)));
        let mut in_use: Vec<u32> = book.slots_in_use().collect();
        in_use.sort_unstable();
        assert_eq!(in_use, vec![1, 2]);
    }

    #[test]
    fn an_entry_replaced_by_a_newer_generation_drains_its_slot() {
        let mut book = Book::new(4);
        let old = installed(&mut book, 1);
        let newer = Installed {
            generation: 2,
            fabric_ports: [0, 1],
            slot: book.take_slot().unwrap().0,
            ..old
        };
        book.insert(key(1), newer);
        assert_eq!(book.sent_by(PortId::new(1)), 1);
        assert_eq!(book.draining.len(), 1);
        assert_eq!(book.draining[0].0, old);
        assert_eq!(book.installed[&key(1)], newer);
    }

    #[test]
    fn an_appliance_leg_is_carried_only_when_its_own_direction_is_installed() {
        // vm1 (1) -> nva (2) -> vm2 (3): the same 5-tuple on both legs.
        let mut book = Book::new(8);
        let (vm1, nva, vm2) = (PortId::new(1), PortId::new(2), PortId::new(3));
        // A leg arriving on fabric port `at`.
        let insert_leg = |book: &mut Book, at, (ingress, egress), direction, tuple| {
            let key = FastKey {
                ingress: at,
                ..fast_key(1)
            };
            let leg = Installed {
                egress_host_end: Some(0),
                ..entry(ingress, egress, direction, tuple)
            };
            book.insert(EntryKey::Fabric(key), leg);
        };
        let forward = tuple(1);
        let reply = forward.reversed();
        // Only the leg into the appliance.
        insert_leg(&mut book, 10, (vm1, nva), Direction::Outbound, forward);
        let name = forward.canonical();
        let legs = book.legs();
        assert!(legs.contains(&(vm1, Direction::Outbound, name)));
        assert!(legs.contains(&(nva, Direction::Inbound, name)));
        assert!(!legs.contains(&(nva, Direction::Outbound, name)));
        assert!(!legs.contains(&(vm2, Direction::Inbound, name)));
        // vm2's replies on the leg out of the appliance (tracked inbound at
        // vm2, where they are replies): that leg is carried too.
        insert_leg(&mut book, 30, (vm2, nva), Direction::Inbound, reply);
        let legs = book.legs();
        assert!(legs.contains(&(nva, Direction::Outbound, name)));
        assert!(legs.contains(&(vm2, Direction::Inbound, name)));
        assert_eq!(legs.len(), 4);
    }

    #[test]
    fn legs_between_machines_are_legs_of_this_machine_and_charged_to_its_port() {
        // vm1 (1) here sends to shared1 (2) on another machine, whose
        // replies arrive here for vm1.
        let mut book = Book::new(8);
        let (vm1, shared1) = (PortId::new(1), PortId::new(2));
        let forward = tuple(1);
        let out = Installed {
            egress_host_end: None,
            ..entry(vm1, shared1, Direction::Outbound, forward)
        };
        let arrival = Installed {
            ingress: PortId::NONE,
            egress: vm1,
            egress_host_end: Some(4),
            ingress_direction: Direction::Inbound,
            slot: 1,
            ..out
        };
        assert_eq!(arrival.tracked_at(), (vm1, Direction::Inbound));
        assert_eq!(out.tracked_at(), (vm1, Direction::Outbound));
        book.insert(EntryKey::Tunnel(fast_key(1)), out);
        let arrival_key = ArrivalKey {
            vni: 1,
            mac: [2, 0x56, 0x58, 0, 0, 0],
            protocol: IPPROTO_UDP,
            source: forward.destination,
            destination: forward.source,
            source_port: forward.destination_port,
            destination_port: forward.source_port,
        };
        book.insert(EntryKey::Arrival(arrival_key), arrival);
        assert_eq!(book.sent_by(vm1), 2, "both are vm1's, against its share");
        let name = forward.canonical();
        let legs = book.legs();
        // vm1's flow is tracked outbound here (it opened it); shared1's
        // legs are its own machine's.
        assert_eq!(legs, HashSet::from([(vm1, Direction::Outbound, name)]));
        book.retire(&EntryKey::Arrival(arrival_key));
        assert_eq!(book.sent_by(vm1), 1);
    }

    #[test]
    fn a_translated_flow_is_a_leg_at_each_end_under_the_name_it_has_there() {
        // vm2 (1) leaves for the Internet (2) as its public IP; the
        // Internet's replies are translated back.
        let mut book = Book::new(8);
        let (vm2, internet) = (PortId::new(1), PortId::new(2));
        let private = tuple(40000);
        let public = FastTuple {
            source: "198.51.100.30".parse().unwrap(),
            ..private
        };
        let leave = Installed {
            arrived: public,
            ..entry(vm2, internet, Direction::Outbound, private)
        };
        let reply = Installed {
            ingress: internet,
            egress: vm2,
            egress_host_end: Some(3),
            ingress_direction: Direction::Inbound,
            tuple: public.reversed(),
            arrived: private.reversed(),
            slot: 1,
            ..leave
        };
        book.insert(EntryKey::Fabric(private.key_at(3)), leave);
        book.insert(EntryKey::Fabric(public.reversed().key_at(4)), reply);
        // Both count against vm2's share: the Internet sends for every VM.
        assert_eq!((book.sent_by(vm2), book.sent_by(internet)), (2, 0));
        // The VM tracks the flow by its private side, the Internet by
        // its public one: each sees its own legs.
        assert_eq!(
            book.legs(),
            HashSet::from([
                (vm2, Direction::Outbound, private.canonical()),
                (internet, Direction::Inbound, public.canonical()),
            ])
        );
    }

    #[test]
    fn judgements_hold_for_one_generation() {
        let mut book = Book::new(1);
        let port = PortId::new(1);
        assert_eq!(book.judged(port, tuple(1), 5), None);
        book.judge(port, tuple(1), 5, Ineligible::LoadBalanced);
        assert_eq!(
            book.judged(port, tuple(1), 5),
            Some(Ineligible::LoadBalanced)
        );
        assert_eq!(book.judged(port, tuple(2), 5), None);
        // A newer plane judges again.
        assert_eq!(book.judged(port, tuple(1), 6), None);
        assert_eq!(book.judged(port, tuple(1), 6), None);
    }
}
