//! A bounded, lock-free connection-tracking table: the state that makes
//! network security rules stateful.
//!
//! Nothing here knows about Azure. The packet path uses it the way Azure's
//! NSGs need (docs/azure-behaviour.md §4, "Statefulness"):
//!
//! - **Return traffic allowed by state.** Rules run on a flow's first packet
//!   only; the caller records the outcome with [`FlowTable::insert`] (an
//!   opaque `verdict_tag`, e.g. which rule allowed the flow, and the snapshot
//!   `generation` it was decided under). Later packets, in either direction,
//!   find the flow with [`FlowTable::lookup`] (the caller looks up the
//!   [`FlowKey::reversed`] key for replies) and count themselves with
//!   [`FlowRef::touch`]. Because rule changes affect only new connections,
//!   the caller decides what a stale `generation` means; it can re-evaluate
//!   and record the new outcome with [`FlowTable::update_verdict`].
//! - **Idle timeout.** Each flow carries its own idle timeout (Azure's
//!   `FlowTimeoutInMinutes` is 4..30 minutes). A flow not seen for longer is
//!   dead: lookups ignore it and inserts may reuse its slot at once;
//!   [`FlowTable::sweep`] clears dead slots a few at a time. The table never
//!   reads the clock: callers pass a coarse `now_ms`.
//! - **Bounded.** The table is allocated once, at a fixed power-of-two
//!   capacity, and never grows. A per-NIC quota keeps one NIC (a VM sending a
//!   SYN flood) from taking the slots of the others: a NIC over its quota can
//!   only recycle its own slots, never another NIC's live flow.
//!
//! # Layout
//!
//! Open addressing with bounded linear probing: a key may live only in the
//! [`PROBE_WINDOW`] slots that follow its hash. Each slot has a 64-bit state
//! word, kept in an array of its own so that a probe reads one or two cache
//! lines of state words and touches a slot's body only when the 16-bit
//! fingerprint in the state word matches the key's.
//!
//! State word: `fingerprint:16 | key_epoch:24 | verdict_epoch:22 | kind:2`.
//! `kind` is `FREE`, `CLAIMED` (one writer owns the whole slot), `LIVE`, or
//! `UPDATING` (live, one writer is rewriting the verdict). `key_epoch` changes
//! whenever the slot changes hands, so it names one flow for the lifetime of
//! the slot; `verdict_epoch` changes on every verdict update.
//!
//! # Concurrency and memory ordering
//!
//! Every field of a slot is an atomic, so racing accesses are never
//! undefined behaviour; the protocol below keeps them meaningful. The state
//! word is a sequence lock over the key and the verdict:
//!
//! - A writer takes a slot with a compare-and-swap of the state word it
//!   observed to `CLAIMED` (or, for a verdict update, `LIVE` to `UPDATING`),
//!   always changing an epoch, issues a release fence, stores the fields with
//!   relaxed stores, and publishes with a release store of `LIVE`.
//! - A reader loads the state word with acquire (`s0`), skips it unless it is
//!   `LIVE` with the right fingerprint, loads the fields with relaxed loads,
//!   issues an acquire fence and loads the state word again (`s1`). It acts
//!   on what it read only if `s1 == s0`.
//!
//! Why a reader never acts on a torn key or verdict: if any relaxed load
//! observed a store made by a writer after its claim, that store follows the
//! writer's release fence, so the reader's acquire fence synchronizes with
//! it and the writer's claim happens before the reader's second load of the
//! state word; `s1` is then the claim or a later value, and since every
//! transition changes an epoch (and the kind), `s1 != s0`. If instead `s0`
//! was a publication, the acquire load of `s0` makes every field store of
//! that writer visible. (This is the seqlock of H.-J. Boehm, "Can seqlocks
//! get along with programming language memory models?", MSPC 2012.) Epochs
//! wrap, so an ABA needs 2^22 rewrites of one slot during one read: not a
//! concern for reads that take nanoseconds.
//!
//! Transitions that start from an observed state word (reusing an expired
//! slot, removal, sweeping) read the body between an acquire load of `s0`
//! and an acquire-release compare-and-swap from `s0`: the swap succeeds only
//! if no writer claimed the slot in between, which validates those reads the
//! same way.
//!
//! Counters and the last-seen time are updated with relaxed atomic
//! operations outside the sequence lock: they are statistics and an expiry
//! hint, each a single word, and never need to be consistent with each other.
//!
//! # Limits
//!
//! - A key that cannot find a usable slot among its [`PROBE_WINDOW`] slots is
//!   refused ([`InsertOutcome::Full`]) even if the table has room elsewhere.
//! - [`FlowTable::len`] counts occupied slots, including dead flows not yet
//!   swept or reused, and may lag concurrent inserts and removals.
//! - Two threads inserting the same new key at the same instant may both
//!   succeed; lookups then find the first copy in probe order and the other
//!   idles out. (A flow's packets reach one worker queue, so this is rare.)
//! - A [`FlowRef::touch`] (or [`FlowRef::shorten_idle_timeout`]) that races
//!   with the removal or reuse of its slot may credit its packet to (or
//!   shorten the timeout of) the slot's next flow.

use crate::engine::fragments::FragmentMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{fence, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// How many consecutive slots, starting at a key's hash, may hold the key.
pub const PROBE_WINDOW: usize = 16;

/// The smallest per-NIC quota [`FlowTable::default_quota`] proposes.
pub const DEFAULT_QUOTA_FLOOR: u32 = 1024;

/// How often a reader retries a slot whose verdict is being rewritten (a
/// window of two stores) before treating the flow as absent for this packet.
const READ_ATTEMPTS: usize = 32;

/// How often an insert starts over after losing a race for a slot.
const INSERT_ATTEMPTS: usize = 4;

/// The identity of one flow as one NIC sees it in one direction.
///
/// IPv4 addresses are stored in the first four bytes of `src` and `dst`, the
/// other twelve zero, with `v6 == false`; IPv6 addresses use all sixteen
/// bytes with `v6 == true`. The flag keeps the two families apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// Dense NIC index, below the table's `max_nics`.
    pub nic: u32,
    /// Opaque to the table (e.g. ingress or egress of `nic`).
    pub direction: u8,
    /// IP protocol number.
    pub proto: u8,
    /// Whether `src` and `dst` are IPv6 addresses.
    pub v6: bool,
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub src_port: u16,
    pub dst_port: u16,
}

impl FlowKey {
    /// An IPv4 flow key.
    pub fn v4(
        nic: u32,
        direction: u8,
        proto: u8,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        src_port: u16,
        dst_port: u16,
    ) -> FlowKey {
        let mut s = [0u8; 16];
        let mut d = [0u8; 16];
        s[..4].copy_from_slice(&src.octets());
        d[..4].copy_from_slice(&dst.octets());
        FlowKey {
            nic,
            direction,
            proto,
            v6: false,
            src: s,
            dst: d,
            src_port,
            dst_port,
        }
    }

    /// An IPv6 flow key.
    pub fn v6(
        nic: u32,
        direction: u8,
        proto: u8,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        src_port: u16,
        dst_port: u16,
    ) -> FlowKey {
        FlowKey {
            nic,
            direction,
            proto,
            v6: true,
            src: src.octets(),
            dst: dst.octets(),
            src_port,
            dst_port,
        }
    }

    /// A flow key from addresses of either family; `None` if the two
    /// addresses are of different families (no packet has such a pair).
    pub fn from_ips(
        nic: u32,
        direction: u8,
        proto: u8,
        src: IpAddr,
        dst: IpAddr,
        src_port: u16,
        dst_port: u16,
    ) -> Option<FlowKey> {
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                Some(FlowKey::v4(nic, direction, proto, s, d, src_port, dst_port))
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                Some(FlowKey::v6(nic, direction, proto, s, d, src_port, dst_port))
            }
            _ => None,
        }
    }

    /// The key of the reply direction: addresses and ports swapped, the
    /// NIC and direction kept.
    pub fn reversed(&self) -> FlowKey {
        FlowKey {
            src: self.dst,
            dst: self.src,
            src_port: self.dst_port,
            dst_port: self.src_port,
            ..*self
        }
    }

    pub fn src_ip(&self) -> IpAddr {
        address(self.v6, &self.src)
    }

    pub fn dst_ip(&self) -> IpAddr {
        address(self.v6, &self.dst)
    }

    /// The key as the six words a slot stores.
    fn to_words(self) -> [u64; 6] {
        let half = |bytes: &[u8; 16], at: usize| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(word)
        };
        [
            u64::from(self.nic)
                | u64::from(self.direction) << 32
                | u64::from(self.proto) << 40
                | u64::from(self.v6) << 48,
            half(&self.src, 0),
            half(&self.src, 8),
            half(&self.dst, 0),
            half(&self.dst, 8),
            u64::from(self.src_port) | u64::from(self.dst_port) << 16,
        ]
    }

    fn from_words(words: &[u64; 6]) -> FlowKey {
        let bytes = |lo: u64, hi: u64| {
            let mut out = [0u8; 16];
            out[..8].copy_from_slice(&lo.to_le_bytes());
            out[8..].copy_from_slice(&hi.to_le_bytes());
            out
        };
        FlowKey {
            nic: words[0] as u32,
            direction: (words[0] >> 32) as u8,
            proto: (words[0] >> 40) as u8,
            v6: (words[0] >> 48) & 1 == 1,
            src: bytes(words[1], words[2]),
            dst: bytes(words[3], words[4]),
            src_port: words[5] as u16,
            dst_port: (words[5] >> 16) as u16,
        }
    }
}

fn address(v6: bool, bytes: &[u8; 16]) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(*bytes))
    } else {
        IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
    }
}

/// A word-at-a-time multiplicative hash (the FxHash step) with a final
/// avalanche (MurmurHash3's fmix64), so that both the low bits (slot index)
/// and the high bits (fingerprint) depend on every key bit.
fn hash_words(words: &[u64; 6]) -> u64 {
    const SEED: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = 0u64;
    for &word in words {
        h = (h.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// What the table keeps about a flow, as a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowValue {
    pub verdict_tag: u32,
    pub generation: u64,
    pub idle_timeout_ms: u64,
    pub created_ms: u64,
    pub last_seen_ms: u64,
    /// Packets and bytes in the key's orientation.
    pub forward_packets: u64,
    pub forward_bytes: u64,
    /// Packets and bytes of the replies.
    pub reverse_packets: u64,
    pub reverse_bytes: u64,
}

/// What [`FlowTable::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InsertOutcome {
    /// A new flow took a free or dead slot.
    Inserted,
    /// The key already had a live flow; the packet was counted on it and its
    /// verdict left unchanged.
    Existing,
    /// The NIC was over its quota (or its probe window was full) and the new
    /// flow replaced the NIC's own least recently seen flow in the window.
    Evicted,
    /// No slot could be used without taking another NIC's live flow.
    Full,
    /// The key's NIC is not below the table's `max_nics`.
    NicOutOfRange,
}

/// Counters for `stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowTableStats {
    pub capacity: usize,
    /// Approximate; see [`FlowTable::len`].
    pub occupied: usize,
    pub inserted: u64,
    pub evicted: u64,
    /// Inserts refused: [`InsertOutcome::Full`] and
    /// [`InsertOutcome::NicOutOfRange`].
    pub failed_inserts: u64,
}

const KIND_FREE: u64 = 0;
const KIND_CLAIMED: u64 = 1;
const KIND_LIVE: u64 = 2;
const KIND_UPDATING: u64 = 3;
const KIND_MASK: u64 = 0b11;
const VERDICT_EPOCH_SHIFT: u32 = 2;
const VERDICT_EPOCH_MASK: u64 = ((1 << 22) - 1) << VERDICT_EPOCH_SHIFT;
const KEY_EPOCH_SHIFT: u32 = 24;
const KEY_EPOCH_MASK: u64 = ((1 << 24) - 1) << KEY_EPOCH_SHIFT;
const FINGERPRINT_SHIFT: u32 = 48;
const FINGERPRINT_MASK: u64 = 0xffff << FINGERPRINT_SHIFT;

fn kind(state: u64) -> u64 {
    state & KIND_MASK
}

fn fingerprint(state: u64) -> u64 {
    state >> FINGERPRINT_SHIFT
}

fn holds_flow(state: u64) -> bool {
    matches!(kind(state), KIND_LIVE | KIND_UPDATING)
}

/// Whether two state words name the same flow in the same slot (verdict
/// updates aside).
fn same_flow(a: u64, b: u64) -> bool {
    holds_flow(a)
        && holds_flow(b)
        && a & (FINGERPRINT_MASK | KEY_EPOCH_MASK) == b & (FINGERPRINT_MASK | KEY_EPOCH_MASK)
}

fn with_kind(state: u64, new_kind: u64) -> u64 {
    (state & !KIND_MASK) | new_kind
}

/// The state word of a slot changing hands: next key epoch, new kind.
fn next_owner(state: u64, new_kind: u64) -> u64 {
    let epoch = (state & KEY_EPOCH_MASK).wrapping_add(1 << KEY_EPOCH_SHIFT) & KEY_EPOCH_MASK;
    (state & !(KEY_EPOCH_MASK | KIND_MASK)) | epoch | new_kind
}

fn next_verdict(state: u64, new_kind: u64) -> u64 {
    let epoch =
        (state & VERDICT_EPOCH_MASK).wrapping_add(1 << VERDICT_EPOCH_SHIFT) & VERDICT_EPOCH_MASK;
    (state & !(VERDICT_EPOCH_MASK | KIND_MASK)) | epoch | new_kind
}

fn with_fingerprint(state: u64, fp: u64) -> u64 {
    (state & !FINGERPRINT_MASK) | (fp << FINGERPRINT_SHIFT)
}

fn is_expired(now_ms: u64, last_seen_ms: u64, idle_timeout_ms: u64) -> bool {
    now_ms.saturating_sub(last_seen_ms) > idle_timeout_ms
}

/// The body of one slot: two cache lines, the first holding what a lookup
/// compares and returns.
#[derive(Default)]
#[repr(C, align(64))]
struct Slot {
    key: [AtomicU64; 6],
    verdict_tag: AtomicU32,
    generation: AtomicU64,
    idle_timeout_ms: AtomicU64,
    last_seen_ms: AtomicU64,
    created_ms: AtomicU64,
    forward_packets: AtomicU64,
    forward_bytes: AtomicU64,
    reverse_packets: AtomicU64,
    reverse_bytes: AtomicU64,
}

impl Slot {
    fn load_key(&self) -> [u64; 6] {
        std::array::from_fn(|i| self.key[i].load(Ordering::Relaxed))
    }

    fn owner(&self) -> u32 {
        self.key[0].load(Ordering::Relaxed) as u32
    }

    fn expired(&self, now_ms: u64) -> bool {
        is_expired(
            now_ms,
            self.last_seen_ms.load(Ordering::Relaxed),
            self.idle_timeout_ms.load(Ordering::Relaxed),
        )
    }

    fn value(&self) -> FlowValue {
        FlowValue {
            verdict_tag: self.verdict_tag.load(Ordering::Relaxed),
            generation: self.generation.load(Ordering::Relaxed),
            idle_timeout_ms: self.idle_timeout_ms.load(Ordering::Relaxed),
            created_ms: self.created_ms.load(Ordering::Relaxed),
            last_seen_ms: self.last_seen_ms.load(Ordering::Relaxed),
            forward_packets: self.forward_packets.load(Ordering::Relaxed),
            forward_bytes: self.forward_bytes.load(Ordering::Relaxed),
            reverse_packets: self.reverse_packets.load(Ordering::Relaxed),
            reverse_bytes: self.reverse_bytes.load(Ordering::Relaxed),
        }
    }

    fn count(&self, now_ms: u64, bytes: u64, forward: bool) {
        let (packets, total) = if forward {
            (&self.forward_packets, &self.forward_bytes)
        } else {
            (&self.reverse_packets, &self.reverse_bytes)
        };
        packets.fetch_add(1, Ordering::Relaxed);
        total.fetch_add(bytes, Ordering::Relaxed);
        // Most packets arrive within the same coarse millisecond: skip the
        // store then, so the cache line is not dirtied for nothing.
        if self.last_seen_ms.load(Ordering::Relaxed) < now_ms {
            self.last_seen_ms.store(now_ms, Ordering::Relaxed);
        }
    }
}

/// A flow found by [`FlowTable::lookup`]: its verdict as read, and a handle
/// to count packets on it.
#[derive(Debug, Clone, Copy)]
pub struct FlowRef<'t> {
    table: &'t FlowTable,
    index: usize,
    state: u64,
    key: FlowKey,
    verdict_tag: u32,
    generation: u64,
}

impl FlowRef<'_> {
    /// The key stored in the slot (equal to the key looked up).
    pub fn key(&self) -> FlowKey {
        self.key
    }

    pub fn verdict_tag(&self) -> u32 {
        self.verdict_tag
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Counts one packet of `bytes` on the flow, in the key's orientation if
    /// `forward`, else as a reply, and refreshes its last-seen time. Returns
    /// false, counting nothing, if the flow has left its slot since the
    /// lookup.
    pub fn touch(&self, now_ms: u64, bytes: u64, forward: bool) -> bool {
        let state = self.table.states[self.index].load(Ordering::Relaxed);
        if !same_flow(state, self.state) {
            return false;
        }
        self.table.slots[self.index].count(now_ms, bytes, forward);
        true
    }

    /// Lowers the flow's idle timeout to at most `max_idle_ms` (never raises
    /// it), so that a connection known to be over leaves the table soon
    /// after its last packet. One relaxed atomic, outside the sequence lock
    /// like the counters. Returns false if the flow has left its slot since
    /// the lookup.
    pub fn shorten_idle_timeout(&self, max_idle_ms: u64) -> bool {
        let state = self.table.states[self.index].load(Ordering::Relaxed);
        if !same_flow(state, self.state) {
            return false;
        }
        self.table.slots[self.index]
            .idle_timeout_ms
            .fetch_min(max_idle_ms, Ordering::Relaxed);
        true
    }

    /// A snapshot of the flow's counters and times (relaxed reads: fields may
    /// be from slightly different instants). `None` if the flow has left its
    /// slot since the lookup.
    pub fn value(&self) -> Option<FlowValue> {
        let value = self.table.slots[self.index].value();
        fence(Ordering::Acquire);
        let state = self.table.states[self.index].load(Ordering::Relaxed);
        same_flow(state, self.state).then_some(value)
    }

    /// Re-records the flow's verdict. Returns false if the flow has left its
    /// slot or another thread is updating its verdict at this instant (its
    /// result then stands).
    pub fn update_verdict(&self, verdict_tag: u32, generation: u64) -> bool {
        let state_word = &self.table.states[self.index];
        let current = state_word.load(Ordering::Relaxed);
        if kind(current) != KIND_LIVE || !same_flow(current, self.state) {
            return false;
        }
        let updating = next_verdict(current, KIND_UPDATING);
        if state_word
            .compare_exchange(current, updating, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        fence(Ordering::Release);
        let slot = &self.table.slots[self.index];
        slot.verdict_tag.store(verdict_tag, Ordering::Relaxed);
        slot.generation.store(generation, Ordering::Relaxed);
        state_word.store(with_kind(updating, KIND_LIVE), Ordering::Release);
        true
    }
}

/// The connection-tracking table. See the module documentation.
pub struct FlowTable {
    states: Box<[AtomicU64]>,
    slots: Box<[Slot]>,
    mask: usize,
    /// Occupied slots (live or dead but not yet reclaimed) per NIC.
    nic_flows: Box<[AtomicU32]>,
    per_nic_quota: u32,
    sweep_cursor: AtomicUsize,
    inserted: AtomicU64,
    evicted: AtomicU64,
    failed_inserts: AtomicU64,
    /// Later fragments of datagrams are matched to their first here.
    fragments: FragmentMap,
}

impl std::fmt::Debug for FlowTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowTable")
            .field("capacity", &self.capacity())
            .field("max_nics", &self.nic_flows.len())
            .field("per_nic_quota", &self.per_nic_quota)
            .finish_non_exhaustive()
    }
}

/// Where a key's probe starts and the fingerprint its slot carries.
#[derive(Clone, Copy)]
struct Probe {
    words: [u64; 6],
    home: usize,
    fingerprint: u64,
}

/// One consistent read of a slot holding a flow.
struct SlotRead {
    state: u64,
    key_matches: bool,
    key: [u64; 6],
    verdict_tag: u32,
    generation: u64,
    expired: bool,
}

enum Candidate {
    /// Reusing a dead flow of the inserting NIC (its quota count is already
    /// held).
    OwnDead,
    /// A free slot: needs quota.
    Free,
    /// A dead flow of another NIC: needs quota, releases the owner's.
    OtherDead,
    /// The inserting NIC's least recently seen live flow.
    OwnOldest,
}

impl FlowTable {
    /// A table of `capacity` slots (rounded up to a power of two, at least
    /// [`PROBE_WINDOW`]) for NICs `0..max_nics`, each allowed
    /// `per_nic_quota` occupied slots (0 means no limit beyond capacity).
    /// All memory is allocated here, once.
    pub fn new(capacity: usize, max_nics: u32, per_nic_quota: u32) -> FlowTable {
        let capacity = capacity
            .max(PROBE_WINDOW)
            .checked_next_power_of_two()
            .unwrap_or(1 << (usize::BITS - 1));
        let per_nic_quota = if per_nic_quota == 0 {
            u32::MAX
        } else {
            per_nic_quota
        };
        FlowTable {
            states: (0..capacity).map(|_| AtomicU64::new(KIND_FREE)).collect(),
            slots: (0..capacity).map(|_| Slot::default()).collect(),
            mask: capacity - 1,
            nic_flows: (0..max_nics).map(|_| AtomicU32::new(0)).collect(),
            per_nic_quota,
            sweep_cursor: AtomicUsize::new(0),
            inserted: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            failed_inserts: AtomicU64::new(0),
            fragments: FragmentMap::default(),
        }
    }

    /// The ports of fragmented datagrams, by datagram (see
    /// [`crate::engine::fragments`]).
    pub fn fragments(&self) -> &FragmentMap {
        &self.fragments
    }

    /// The quota that shares `capacity` evenly among `nics_hint` NICs, but
    /// never below `floor` (a NIC with few neighbours may use more than its
    /// share; the floor keeps a busy NIC usable when there are many), and
    /// never above `capacity`.
    pub fn default_quota(capacity: usize, nics_hint: u32, floor: u32) -> u32 {
        let capacity = u32::try_from(capacity).unwrap_or(u32::MAX);
        let share = capacity / nics_hint.max(1);
        share.max(floor).min(capacity).max(1)
    }

    pub fn capacity(&self) -> usize {
        self.mask + 1
    }

    pub fn per_nic_quota(&self) -> u32 {
        self.per_nic_quota
    }

    /// Occupied slots: live flows plus dead ones not yet swept or reused.
    /// Approximate while other threads insert or remove.
    pub fn len(&self) -> usize {
        self.nic_flows
            .iter()
            .map(|n| n.load(Ordering::Relaxed) as usize)
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Occupied slots of one NIC (0 for an unknown NIC).
    pub fn nic_len(&self, nic: u32) -> usize {
        self.nic_flows
            .get(nic as usize)
            .map_or(0, |n| n.load(Ordering::Relaxed) as usize)
    }

    pub fn stats(&self) -> FlowTableStats {
        FlowTableStats {
            capacity: self.capacity(),
            occupied: self.len(),
            inserted: self.inserted.load(Ordering::Relaxed),
            evicted: self.evicted.load(Ordering::Relaxed),
            failed_inserts: self.failed_inserts.load(Ordering::Relaxed),
        }
    }

    fn probe(&self, key: &FlowKey) -> Probe {
        let words = key.to_words();
        let hash = hash_words(&words);
        Probe {
            words,
            home: hash as usize & self.mask,
            fingerprint: hash >> FINGERPRINT_SHIFT,
        }
    }

    fn window(&self, probe: &Probe) -> impl Iterator<Item = usize> + '_ {
        let home = probe.home;
        (0..PROBE_WINDOW).map(move |i| (home + i) & self.mask)
    }

    /// Reads the slot at `index` under the sequence lock. `None` if it holds
    /// no flow with the probe's fingerprint, or if its verdict stayed in the
    /// middle of an update for all attempts.
    fn read_slot(&self, index: usize, probe: &Probe, now_ms: u64) -> Option<SlotRead> {
        let state_word = &self.states[index];
        let slot = &self.slots[index];
        for _ in 0..READ_ATTEMPTS {
            let s0 = state_word.load(Ordering::Acquire);
            if fingerprint(s0) != probe.fingerprint || !holds_flow(s0) {
                return None;
            }
            if kind(s0) == KIND_UPDATING {
                std::hint::spin_loop();
                continue;
            }
            let key = slot.load_key();
            let verdict_tag = slot.verdict_tag.load(Ordering::Relaxed);
            let generation = slot.generation.load(Ordering::Relaxed);
            let expired = slot.expired(now_ms);
            fence(Ordering::Acquire);
            if state_word.load(Ordering::Relaxed) == s0 {
                return Some(SlotRead {
                    state: s0,
                    key_matches: key == probe.words,
                    key,
                    verdict_tag,
                    generation,
                    expired,
                });
            }
        }
        None
    }

    /// The live flow of `key`, if any. No lock, allocation or system call.
    pub fn lookup(&self, key: &FlowKey, now_ms: u64) -> Option<FlowRef<'_>> {
        let probe = self.probe(key);
        self.window(&probe).find_map(|index| {
            let read = self.read_slot(index, &probe, now_ms)?;
            (read.key_matches && !read.expired).then(|| FlowRef {
                table: self,
                index,
                state: read.state,
                key: FlowKey::from_words(&read.key),
                verdict_tag: read.verdict_tag,
                generation: read.generation,
            })
        })
    }

    /// Records a new flow whose first packet has `bytes` bytes, or counts
    /// the packet on the live flow the key already has. No lock, allocation
    /// or system call.
    pub fn insert(
        &self,
        key: &FlowKey,
        verdict_tag: u32,
        generation: u64,
        idle_timeout_ms: u64,
        now_ms: u64,
        bytes: u64,
    ) -> InsertOutcome {
        let outcome = self.try_insert(key, verdict_tag, generation, idle_timeout_ms, now_ms, bytes);
        let counter = match outcome {
            InsertOutcome::Inserted => &self.inserted,
            InsertOutcome::Evicted => {
                self.inserted.fetch_add(1, Ordering::Relaxed);
                &self.evicted
            }
            InsertOutcome::Existing => return outcome,
            InsertOutcome::Full | InsertOutcome::NicOutOfRange => &self.failed_inserts,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        outcome
    }

    fn try_insert(
        &self,
        key: &FlowKey,
        verdict_tag: u32,
        generation: u64,
        idle_timeout_ms: u64,
        now_ms: u64,
        bytes: u64,
    ) -> InsertOutcome {
        let Some(nic_flows) = self.nic_flows.get(key.nic as usize) else {
            return InsertOutcome::NicOutOfRange;
        };
        let probe = self.probe(key);
        for _ in 0..INSERT_ATTEMPTS {
            let mut same_key_dead = None;
            let mut own_dead = None;
            let mut free = None;
            let mut other_dead = None;
            let mut own_oldest: Option<(usize, u64, u64)> = None;
            for index in self.window(&probe) {
                let state = self.states[index].load(Ordering::Acquire);
                match kind(state) {
                    KIND_FREE => {
                        free.get_or_insert((index, state));
                        continue;
                    }
                    KIND_CLAIMED => continue,
                    _ => {}
                }
                // Fingerprint aside, this is `read_slot`: the slot may hold
                // any key, and the owner and age matter too.
                let slot = &self.slots[index];
                let words = slot.load_key();
                let last_seen = slot.last_seen_ms.load(Ordering::Relaxed);
                let dead = slot.expired(now_ms);
                fence(Ordering::Acquire);
                if !same_flow(self.states[index].load(Ordering::Relaxed), state) {
                    continue;
                }
                let own = words[0] as u32 == key.nic;
                // A slot whose verdict is being rewritten is in use: it may
                // be the key's flow, but never a slot to take.
                let takeable = kind(state) == KIND_LIVE;
                if words == probe.words {
                    if !dead {
                        let flow = FlowRef {
                            table: self,
                            index,
                            state,
                            key: *key,
                            verdict_tag: 0,
                            generation: 0,
                        };
                        flow.touch(now_ms, bytes, true);
                        return InsertOutcome::Existing;
                    }
                    if takeable {
                        same_key_dead.get_or_insert((index, state));
                    }
                } else if !takeable {
                    continue;
                } else if dead && own {
                    own_dead.get_or_insert((index, state));
                } else if dead {
                    other_dead.get_or_insert((index, state));
                } else if own && own_oldest.is_none_or(|(_, _, oldest)| last_seen < oldest) {
                    own_oldest = Some((index, state, last_seen));
                }
            }

            let choice = if let Some((i, s)) = same_key_dead.or(own_dead) {
                Some((i, s, Candidate::OwnDead))
            } else if free.is_some() || other_dead.is_some() {
                if self.reserve_quota(nic_flows) {
                    free.map(|(i, s)| (i, s, Candidate::Free))
                        .or(other_dead.map(|(i, s)| (i, s, Candidate::OtherDead)))
                } else {
                    None
                }
            } else {
                None
            };
            let choice =
                choice.or_else(|| own_oldest.map(|(i, s, _)| (i, s, Candidate::OwnOldest)));
            let Some((index, observed, candidate)) = choice else {
                return InsertOutcome::Full;
            };

            let needs_release = matches!(candidate, Candidate::Free | Candidate::OtherDead);
            let Some(claimed) = self.claim(index, observed) else {
                if needs_release {
                    nic_flows.fetch_sub(1, Ordering::Relaxed);
                }
                continue;
            };
            let slot = &self.slots[index];
            // The slot is ours: its body no longer changes under us. Check
            // that it is still what the scan saw (a flow may have been
            // touched back to life in between) before overwriting it.
            let still_fits = match candidate {
                Candidate::Free => true,
                Candidate::OwnDead => slot.owner() == key.nic && slot.expired(now_ms),
                Candidate::OtherDead => slot.expired(now_ms),
                Candidate::OwnOldest => slot.owner() == key.nic,
            };
            if !still_fits {
                self.states[index].store(with_kind(claimed, KIND_LIVE), Ordering::Release);
                if needs_release {
                    nic_flows.fetch_sub(1, Ordering::Relaxed);
                }
                continue;
            }
            if let Candidate::OtherDead = candidate {
                if let Some(owner) = self.nic_flows.get(slot.owner() as usize) {
                    owner.fetch_sub(1, Ordering::Relaxed);
                }
            }
            for (field, word) in slot.key.iter().zip(probe.words) {
                field.store(word, Ordering::Relaxed);
            }
            slot.verdict_tag.store(verdict_tag, Ordering::Relaxed);
            slot.generation.store(generation, Ordering::Relaxed);
            slot.idle_timeout_ms
                .store(idle_timeout_ms, Ordering::Relaxed);
            slot.created_ms.store(now_ms, Ordering::Relaxed);
            slot.last_seen_ms.store(now_ms, Ordering::Relaxed);
            slot.forward_packets.store(1, Ordering::Relaxed);
            slot.forward_bytes.store(bytes, Ordering::Relaxed);
            slot.reverse_packets.store(0, Ordering::Relaxed);
            slot.reverse_bytes.store(0, Ordering::Relaxed);
            let live = with_fingerprint(with_kind(claimed, KIND_LIVE), probe.fingerprint);
            self.states[index].store(live, Ordering::Release);
            return match candidate {
                Candidate::OwnOldest => InsertOutcome::Evicted,
                _ => InsertOutcome::Inserted,
            };
        }
        InsertOutcome::Full
    }

    /// Takes one unit of the NIC's quota, if it has one left.
    fn reserve_quota(&self, nic_flows: &AtomicU32) -> bool {
        let quota = self.per_nic_quota;
        nic_flows
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < quota).then_some(n + 1)
            })
            .is_ok()
    }

    /// Takes the slot at `index` for rewriting if its state is still
    /// `observed`. The acquire half pairs with the previous writer's
    /// publication; the release fence orders the claim before our field
    /// stores (see the module documentation).
    fn claim(&self, index: usize, observed: u64) -> Option<u64> {
        let claimed = next_owner(observed, KIND_CLAIMED);
        self.states[index]
            .compare_exchange(observed, claimed, Ordering::AcqRel, Ordering::Relaxed)
            .ok()?;
        fence(Ordering::Release);
        Some(claimed)
    }

    /// Removes the flow of `key`, live or dead. Returns whether a live flow
    /// was removed.
    pub fn remove(&self, key: &FlowKey, now_ms: u64) -> bool {
        let probe = self.probe(key);
        let mut removed_live = false;
        for index in self.window(&probe) {
            for _ in 0..READ_ATTEMPTS {
                let state = self.states[index].load(Ordering::Acquire);
                if fingerprint(state) != probe.fingerprint || !holds_flow(state) {
                    break;
                }
                if kind(state) == KIND_UPDATING {
                    std::hint::spin_loop();
                    continue;
                }
                let slot = &self.slots[index];
                let words = slot.load_key();
                let dead = slot.expired(now_ms);
                fence(Ordering::Acquire);
                if self.states[index].load(Ordering::Relaxed) != state {
                    continue;
                }
                if words != probe.words {
                    break;
                }
                if self.free_slot(index, state, key.nic) {
                    removed_live |= !dead;
                    break;
                }
            }
        }
        removed_live
    }

    /// Frees the slot at `index` if its state is still `observed` (which
    /// validates the reads of its body the caller made since loading
    /// `observed`), and gives the quota back to `owner`.
    fn free_slot(&self, index: usize, observed: u64, owner: u32) -> bool {
        let freed = next_owner(observed, KIND_FREE);
        if self.states[index]
            .compare_exchange(observed, freed, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        if let Some(count) = self.nic_flows.get(owner as usize) {
            count.fetch_sub(1, Ordering::Relaxed);
        }
        true
    }

    /// Re-records the verdict of `key`'s live flow, e.g. after re-evaluating
    /// it under a new snapshot. Returns false if there is no such flow or
    /// another thread is updating it at this instant.
    pub fn update_verdict(
        &self,
        key: &FlowKey,
        verdict_tag: u32,
        generation: u64,
        now_ms: u64,
    ) -> bool {
        self.lookup(key, now_ms)
            .is_some_and(|flow| flow.update_verdict(verdict_tag, generation))
    }

    /// Frees up to `budget` dead slots' worth of scanning: examines the next
    /// `budget` slots (round robin, shared between callers) and frees those
    /// whose flow is dead. Returns how many it freed.
    pub fn sweep(&self, now_ms: u64, budget: usize) -> usize {
        let budget = budget.min(self.capacity());
        let start = self.sweep_cursor.fetch_add(budget, Ordering::Relaxed);
        let mut freed = 0;
        for offset in 0..budget {
            let index = start.wrapping_add(offset) & self.mask;
            let state = self.states[index].load(Ordering::Acquire);
            if kind(state) != KIND_LIVE {
                continue;
            }
            let slot = &self.slots[index];
            let owner = slot.owner();
            if slot.expired(now_ms) && self.free_slot(index, state, owner) {
                freed += 1;
            }
        }
        freed
    }

    /// Calls `f` with every live flow, read consistently one by one (the
    /// table as a whole is not frozen). For diagnostics, not the packet path.
    pub fn for_each(&self, now_ms: u64, mut f: impl FnMut(&FlowKey, &FlowValue)) {
        for (index, state_word) in self.states.iter().enumerate() {
            let slot = &self.slots[index];
            for _ in 0..READ_ATTEMPTS {
                let s0 = state_word.load(Ordering::Acquire);
                if !holds_flow(s0) {
                    break;
                }
                if kind(s0) == KIND_UPDATING {
                    std::hint::spin_loop();
                    continue;
                }
                let words = slot.load_key();
                let value = slot.value();
                fence(Ordering::Acquire);
                if state_word.load(Ordering::Relaxed) != s0 {
                    continue;
                }
                if !is_expired(now_ms, value.last_seen_ms, value.idle_timeout_ms) {
                    f(&FlowKey::from_words(&words), &value);
                }
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_survive_the_word_encoding() {
        let k = FlowKey::v6(
            u32::MAX,
            255,
            58,
            "2001:db8::1".parse().unwrap(),
            "fe80::ffff".parse().unwrap(),
            65535,
            1,
        );
        assert_eq!(FlowKey::from_words(&k.to_words()), k);
        let v4 = k.reversed();
        assert_eq!(FlowKey::from_words(&v4.to_words()), v4);
    }

    #[test]
    fn shortened_idle_timeout_expires_the_flow_early_and_never_grows() {
        let table = FlowTable::new(64, 4, 64);
        let key = FlowKey::v4(
            1,
            0,
            6,
            "10.1.1.4".parse().unwrap(),
            "10.2.1.4".parse().unwrap(),
            40000,
            7400,
        );
        table.insert(&key, 7, 1, 240_000, 1_000, 60);
        let flow = table.lookup(&key, 1_000).unwrap();
        assert!(flow.shorten_idle_timeout(5_000));
        assert_eq!(flow.value().unwrap().idle_timeout_ms, 5_000);
        // A later, longer request leaves the shorter timeout.
        assert!(flow.shorten_idle_timeout(60_000));
        assert_eq!(flow.value().unwrap().idle_timeout_ms, 5_000);
        assert!(table.lookup(&key, 5_900).is_some());
        assert!(table.lookup(&key, 6_001).is_none());
        assert_eq!(table.sweep(6_001, 64), 1);
        // A handle to a flow that left its slot does nothing.
        assert!(!flow.shorten_idle_timeout(1));
    }

    #[test]
    fn epochs_wrap_inside_their_fields() {
        let state = with_fingerprint(KEY_EPOCH_MASK | VERDICT_EPOCH_MASK | KIND_LIVE, 0xabcd);
        let owner = next_owner(state, KIND_CLAIMED);
        assert_eq!(kind(owner), KIND_CLAIMED);
        assert_eq!(owner & KEY_EPOCH_MASK, 0);
        assert_eq!(owner & VERDICT_EPOCH_MASK, VERDICT_EPOCH_MASK);
        assert_eq!(fingerprint(owner), 0xabcd);
        let verdict = next_verdict(state, KIND_UPDATING);
        assert_eq!(verdict & VERDICT_EPOCH_MASK, 0);
        assert_eq!(verdict & KEY_EPOCH_MASK, KEY_EPOCH_MASK);
        assert!(same_flow(state, with_kind(verdict, KIND_LIVE)));
        assert!(!same_flow(state, with_kind(owner, KIND_LIVE)));
        assert_ne!(state, with_kind(verdict, KIND_LIVE));
    }
}
