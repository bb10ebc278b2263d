//! A bounded, lock-free connection-tracking table: the state that makes
//! network security rules stateful.
//!
//! Nothing here knows about Azure. The packet path uses it the way Azure's
//! NSGs need (docs/src/azure-behaviour.md §4, "Statefulness"):
//!
//! - **Return traffic allowed by state.** Rules run on a flow's first packet
//!   only; the caller records the outcome with [`FlowTable::insert_pair`]
//!   (an opaque `verdict_tag`, e.g. which rule allowed the flow, and the
//!   snapshot `generation` it was decided under), giving the flow's own key
//!   and the key its replies will carry. Both are entered at once, as a
//!   pair, so that a later packet in either direction finds the flow with
//!   one [`FlowTable::lookup`] of its own key, which says whether it is a
//!   reply ([`FlowRef::is_reply`]), and counts itself with
//!   [`FlowRef::touch`]. The lookup's [`FlowHandle`] lets the caller act on
//!   the flow again without another lookup: re-record its verdict
//!   ([`FlowTable::update_verdict_of`], after re-evaluating it under a new
//!   snapshot: rule changes affect only new connections unless the caller
//!   says otherwise), shorten its timeout, or remove it. A pair is one flow:
//!   one quota unit, one item of [`FlowTable::for_each`], removed, evicted
//!   and expired as one. ([`FlowTable::insert`] enters a flow without a
//!   reply entry.)
//! - **Idle timeout.** Each flow carries its own idle timeout (Azure's
//!   `FlowTimeoutInMinutes` is 4..30 minutes). A flow neither of whose
//!   entries was seen for longer is dead: lookups ignore it and inserts may reuse its slot at once;
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
//! State word: `fingerprint:16 | key_epoch:24 | verdict_epoch:21 | reply:1 |
//! kind:2`.
//! `kind` is `FREE`, `CLAIMED` (one writer owns the whole slot), `LIVE`, or
//! `UPDATING` (live, one writer is rewriting the verdict). `key_epoch` changes
//! whenever the slot changes hands, so it names one flow for the lifetime of
//! the slot; `verdict_epoch` changes on every verdict update. `reply` marks
//! the second entry of a pair. Each entry's body holds a link to its
//! partner (slot index and key epoch), fixed while the slot has its owner,
//! so a link to an entry that has since changed hands no longer holds.
//!
//! A pair is written reply entry first, then forward entry, each published
//! by its own release store; a reader meeting a reply entry whose forward
//! entry is not (or no longer) there treats it by its own expiry. Only the
//! thread that holds a pair's forward entry (claimed, being freed, or with
//! its verdict being rewritten) ever writes the reply entry's state word:
//! removal, eviction, sweeping and verdict updates all go through the
//! forward entry.
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
//! - [`FlowTable::len`] counts flows (a pair once), including dead flows not
//!   yet swept or reused, and may lag concurrent inserts and removals.
//! - Two threads inserting the same new key at the same instant may both
//!   succeed; lookups then find the first copy in probe order and the other
//!   idles out. (A flow's packets reach one worker queue, so this is rare.)
//! - A [`FlowRef::touch`] (or [`FlowRef::shorten_idle_timeout`]) that races
//!   with the removal or reuse of its slot may credit its packet to (or
//!   shorten the timeout of) the slot's next flow.
//! - A pair takes two slots: the table holds half as many flows as it has
//!   slots.

use crate::engine::fragments::{FragmentMap, FRAGMENT_SLOTS};
use crate::engine::sync::{fence, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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
    #[inline]
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

    #[inline]
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

/// Whether two keys' words are equal: every word compared, without a
/// branch per word or a call to `memcmp` (which an array `==` of this size
/// becomes), since a lookup compares a key for every fingerprint match.
#[inline]
fn same_words(a: &[u64; 6], b: &[u64; 6]) -> bool {
    a.iter().zip(b).fold(0, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// A word-at-a-time multiplicative hash (the FxHash step) with a final
/// avalanche (MurmurHash3's fmix64), so that both the low bits (slot index)
/// and the high bits (fingerprint) depend on every key bit.
#[inline]
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

/// What one packet as read stands for on the wire: the segments or
/// datagrams it carries and their bytes. A GSO super-packet is many packets
/// (Azure counts packets on the wire, never super-packets).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    pub packets: u64,
    pub bytes: u64,
}

impl Traffic {
    /// One packet of `bytes` bytes.
    #[inline]
    pub const fn packet(bytes: u64) -> Traffic {
        Traffic { packets: 1, bytes }
    }
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
    /// What the table took when it was allocated ([`FlowTable::memory_bytes`]).
    pub memory_bytes: usize,
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
/// Set in the state word of a reply entry (the second slot of a pair).
const REPLY: u64 = 1 << 2;
const VERDICT_EPOCH_SHIFT: u32 = 3;
const VERDICT_EPOCH_MASK: u64 = ((1 << 21) - 1) << VERDICT_EPOCH_SHIFT;
const KEY_EPOCH_SHIFT: u32 = 24;
const KEY_EPOCH_MASK: u64 = ((1 << 24) - 1) << KEY_EPOCH_SHIFT;
const FINGERPRINT_SHIFT: u32 = 48;
const FINGERPRINT_MASK: u64 = 0xffff << FINGERPRINT_SHIFT;

/// A slot's `partner` word when the flow has one entry only.
const NO_PARTNER: u64 = u64::MAX;

fn kind(state: u64) -> u64 {
    state & KIND_MASK
}

fn fingerprint(state: u64) -> u64 {
    state >> FINGERPRINT_SHIFT
}

fn holds_flow(state: u64) -> bool {
    matches!(kind(state), KIND_LIVE | KIND_UPDATING)
}

fn is_reply(state: u64) -> bool {
    state & REPLY != 0
}

/// Whether two state words name the same entry in the same slot (verdict
/// updates aside).
fn same_flow(a: u64, b: u64) -> bool {
    const OWNER: u64 = FINGERPRINT_MASK | KEY_EPOCH_MASK | REPLY;
    holds_flow(a) && holds_flow(b) && a & OWNER == b & OWNER
}

fn with_kind(state: u64, new_kind: u64) -> u64 {
    (state & !KIND_MASK) | new_kind
}

/// The state word of a slot changing hands: next key epoch, new kind, no
/// reply mark.
fn next_owner(state: u64, new_kind: u64) -> u64 {
    let epoch = (state & KEY_EPOCH_MASK).wrapping_add(1 << KEY_EPOCH_SHIFT) & KEY_EPOCH_MASK;
    (state & !(KEY_EPOCH_MASK | KIND_MASK | REPLY)) | epoch | new_kind
}

fn next_verdict(state: u64, new_kind: u64) -> u64 {
    let epoch =
        (state & VERDICT_EPOCH_MASK).wrapping_add(1 << VERDICT_EPOCH_SHIFT) & VERDICT_EPOCH_MASK;
    (state & !(VERDICT_EPOCH_MASK | KIND_MASK)) | epoch | new_kind
}

fn with_fingerprint(state: u64, fp: u64) -> u64 {
    (state & !FINGERPRINT_MASK) | (fp << FINGERPRINT_SHIFT)
}

/// The `partner` word naming the entry at `index` whose state word is
/// `state`: the slot index and its key epoch.
fn link(index: usize, state: u64) -> u64 {
    (index as u64) << 24 | (state & KEY_EPOCH_MASK) >> KEY_EPOCH_SHIFT
}

fn link_index(link: u64) -> usize {
    (link >> 24) as usize
}

/// Whether the state word `state` is the entry `link` names.
fn links_to(link: u64, state: u64) -> bool {
    holds_flow(state) && (state & KEY_EPOCH_MASK) >> KEY_EPOCH_SHIFT == link & 0xff_ffff
}

fn is_expired(now_ms: u64, last_seen_ms: u64, idle_timeout_ms: u64) -> bool {
    now_ms.saturating_sub(last_seen_ms) > idle_timeout_ms
}

/// The body of one slot: two cache lines, the first holding what a lookup
/// compares and returns, the second the expiry and the counters of this
/// entry's side of the flow.
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
    /// The other entry of the pair ([`link`]), or [`NO_PARTNER`]. Written
    /// with the key, before publication; fixed while the slot has its owner.
    partner: AtomicU64,
}

impl Slot {
    #[inline]
    fn load_key(&self) -> [u64; 6] {
        std::array::from_fn(|i| self.key[i].load(Ordering::Relaxed))
    }

    fn owner(&self) -> u32 {
        self.key[0].load(Ordering::Relaxed) as u32
    }

    #[inline]
    fn partner(&self) -> u64 {
        self.partner.load(Ordering::Relaxed)
    }

    fn last_seen(&self) -> u64 {
        self.last_seen_ms.load(Ordering::Relaxed)
    }

    #[inline]
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

    /// Counts `traffic`; returns when this entry was last seen before it.
    #[inline]
    fn count(&self, now_ms: u64, traffic: Traffic, forward: bool) -> u64 {
        let (packets, total) = if forward {
            (&self.forward_packets, &self.forward_bytes)
        } else {
            (&self.reverse_packets, &self.reverse_bytes)
        };
        packets.fetch_add(traffic.packets, Ordering::Relaxed);
        total.fetch_add(traffic.bytes, Ordering::Relaxed);
        // Most packets arrive within the same coarse millisecond: skip the
        // store then, so the cache line is not dirtied for nothing.
        let last_seen = self.last_seen_ms.load(Ordering::Relaxed);
        if last_seen < now_ms {
            self.last_seen_ms.store(now_ms, Ordering::Relaxed);
        }
        last_seen
    }

    /// Writes a new entry's body (the slot is claimed by the caller).
    #[allow(clippy::too_many_arguments)]
    fn write(
        &self,
        words: &[u64; 6],
        verdict_tag: u32,
        generation: u64,
        idle_timeout_ms: u64,
        now_ms: u64,
        first_packet: Option<Traffic>,
        partner: u64,
    ) {
        for (field, word) in self.key.iter().zip(words) {
            field.store(*word, Ordering::Relaxed);
        }
        self.verdict_tag.store(verdict_tag, Ordering::Relaxed);
        self.generation.store(generation, Ordering::Relaxed);
        self.idle_timeout_ms
            .store(idle_timeout_ms, Ordering::Relaxed);
        self.created_ms.store(now_ms, Ordering::Relaxed);
        self.last_seen_ms.store(now_ms, Ordering::Relaxed);
        let first = first_packet.unwrap_or_default();
        self.forward_packets.store(first.packets, Ordering::Relaxed);
        self.forward_bytes.store(first.bytes, Ordering::Relaxed);
        self.reverse_packets.store(0, Ordering::Relaxed);
        self.reverse_bytes.store(0, Ordering::Relaxed);
        self.partner.store(partner, Ordering::Relaxed);
    }
}

/// Where a flow entry was found: its slot and the state word it had then.
/// Operations on a handle act on that slot without looking the key up
/// again, and do nothing once the slot has changed hands (its key epoch
/// moved on). A handle is plain data: it holds no reference to the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowHandle {
    index: usize,
    state: u64,
}

impl FlowHandle {
    /// A handle that names no flow: every operation on it does nothing.
    pub const NONE: FlowHandle = FlowHandle {
        index: usize::MAX,
        state: KIND_FREE,
    };

    /// Whether the handle names the reply entry of a pair.
    #[inline]
    pub fn is_reply(&self) -> bool {
        is_reply(self.state)
    }
}

impl Default for FlowHandle {
    fn default() -> Self {
        FlowHandle::NONE
    }
}

/// A flow found by [`FlowTable::lookup`]: its verdict as read, and a handle
/// to count packets on it.
#[derive(Debug, Clone, Copy)]
pub struct FlowRef<'t> {
    table: &'t FlowTable,
    handle: FlowHandle,
    key: FlowKey,
    verdict_tag: u32,
    generation: u64,
}

impl FlowRef<'_> {
    /// The key stored in the slot (equal to the key looked up).
    pub fn key(&self) -> FlowKey {
        self.key
    }

    #[inline]
    pub fn verdict_tag(&self) -> u32 {
        self.verdict_tag
    }

    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether the key looked up is the reply key of a pair (see
    /// [`FlowTable::insert_pair`]): the packet goes against the flow.
    #[inline]
    pub fn is_reply(&self) -> bool {
        self.handle.is_reply()
    }

    /// The entry, for later operations without a lookup.
    #[inline]
    pub fn handle(&self) -> FlowHandle {
        self.handle
    }

    /// Counts `traffic` on the flow, in the flow's orientation if
    /// `forward`, else as replies, and refreshes its last-seen time.
    /// Returns false, counting nothing, if the entry has left its slot since
    /// the lookup.
    #[inline]
    pub fn touch(&self, now_ms: u64, traffic: Traffic, forward: bool) -> bool {
        self.table.touch(self.handle, now_ms, traffic, forward)
    }

    /// See [`FlowTable::touch_seen`].
    #[inline]
    pub fn touch_seen(&self, now_ms: u64, traffic: Traffic, forward: bool) -> Option<u64> {
        self.table.touch_seen(self.handle, now_ms, traffic, forward)
    }

    /// See [`FlowTable::keep_alive`].
    #[inline]
    pub fn keep_alive(&self, now_ms: u64) -> bool {
        self.table.keep_alive(self.handle, now_ms)
    }

    /// See [`FlowTable::shorten_idle_timeout`].
    pub fn shorten_idle_timeout(&self, max_idle_ms: u64) -> bool {
        self.table.shorten_idle_timeout(self.handle, max_idle_ms)
    }

    /// See [`FlowTable::value`].
    pub fn value(&self) -> Option<FlowValue> {
        self.table.value(self.handle)
    }

    /// See [`FlowTable::update_verdict_of`].
    pub fn update_verdict(&self, verdict_tag: u32, generation: u64) -> bool {
        self.table
            .update_verdict_of(self.handle, verdict_tag, generation)
    }
}

/// The connection-tracking table. See the module documentation.
pub struct FlowTable {
    states: Box<[AtomicU64]>,
    slots: Box<[Slot]>,
    mask: usize,
    /// Flows (live or dead but not yet reclaimed) per NIC; a pair is one.
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
    verdict_tag: u32,
    generation: u64,
    /// This entry's side has been idle too long (the other side of a pair
    /// may still be live).
    expired: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
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

/// What one pass over a probe window found.
#[derive(Default)]
struct Scan {
    same_key_dead: Option<(usize, u64)>,
    own_dead: Option<(usize, u64)>,
    free: Option<(usize, u64)>,
    other_dead: Option<(usize, u64)>,
    own_oldest: Option<(usize, u64, u64)>,
}

/// A slot chosen for a new entry, as observed before claiming it.
#[derive(Clone, Copy)]
struct Choice {
    index: usize,
    observed: u64,
    candidate: Candidate,
}

impl FlowTable {
    /// A table of `capacity` slots (rounded up to a power of two, at least
    /// [`PROBE_WINDOW`]) for NICs `0..max_nics`, each allowed
    /// `per_nic_quota` flows (0 means no limit beyond capacity).
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

    /// Bytes of memory a table of `capacity` slots takes (after the same
    /// rounding as [`FlowTable::new`]), for `max_nics` NICs: slot bodies,
    /// state words, per-NIC counts and the fragment map.
    pub fn memory_bytes(capacity: usize, max_nics: u32) -> usize {
        let capacity = capacity
            .max(PROBE_WINDOW)
            .checked_next_power_of_two()
            .unwrap_or(1 << (usize::BITS - 1));
        capacity * (std::mem::size_of::<Slot>() + std::mem::size_of::<AtomicU64>())
            + max_nics as usize * std::mem::size_of::<AtomicU32>()
            + std::mem::size_of::<FragmentMap>()
            + 2 * FRAGMENT_SLOTS * std::mem::size_of::<AtomicU64>()
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

    /// Flows held: live ones plus dead ones not yet swept or reused; a
    /// pair counts once. Approximate while other threads insert or remove.
    pub fn len(&self) -> usize {
        self.nic_flows
            .iter()
            .map(|n| n.load(Ordering::Relaxed) as usize)
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Flows held by one NIC (0 for an unknown NIC).
    pub fn nic_len(&self, nic: u32) -> usize {
        self.nic_flows
            .get(nic as usize)
            .map_or(0, |n| n.load(Ordering::Relaxed) as usize)
    }

    pub fn stats(&self) -> FlowTableStats {
        FlowTableStats {
            capacity: self.capacity(),
            memory_bytes: FlowTable::memory_bytes(self.capacity(), self.nic_flows.len() as u32),
            occupied: self.len(),
            inserted: self.inserted.load(Ordering::Relaxed),
            evicted: self.evicted.load(Ordering::Relaxed),
            failed_inserts: self.failed_inserts.load(Ordering::Relaxed),
        }
    }

    #[inline]
    fn probe(&self, key: &FlowKey) -> Probe {
        let words = key.to_words();
        let hash = hash_words(&words);
        Probe {
            words,
            home: hash as usize & self.mask,
            fingerprint: hash >> FINGERPRINT_SHIFT,
        }
    }

    #[inline]
    fn window(&self, probe: &Probe) -> impl Iterator<Item = usize> + '_ {
        let home = probe.home;
        (0..PROBE_WINDOW).map(move |i| (home + i) & self.mask)
    }

    /// Reads the slot at `index` under the sequence lock. `None` if it holds
    /// no flow with the probe's fingerprint, or if its verdict stayed in the
    /// middle of an update for all attempts.
    #[inline]
    fn read_slot(&self, index: usize, probe: &Probe, now_ms: u64) -> Option<SlotRead> {
        let state_word = &self.states[index];
        let slot = &self.slots[index];
        for _ in 0..READ_ATTEMPTS {
            let s0 = state_word.load(Ordering::Acquire);
            if fingerprint(s0) != probe.fingerprint || !holds_flow(s0) {
                return None;
            }
            if kind(s0) == KIND_UPDATING {
                spin();
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
                    key_matches: same_words(&key, &probe.words),
                    verdict_tag,
                    generation,
                    expired,
                });
            }
        }
        None
    }

    /// Whether the entry `partner` names is still that entry and its side
    /// of the flow has been seen within its idle timeout.
    fn side_live(&self, partner: u64, now_ms: u64) -> bool {
        self.side_last_seen(partner, now_ms)
            .is_some_and(|(_, live)| live)
    }

    /// The last-seen time of the entry `partner` names, and whether its
    /// side is live; `None` if the link no longer holds.
    fn side_last_seen(&self, partner: u64, now_ms: u64) -> Option<(u64, bool)> {
        if partner == NO_PARTNER {
            return None;
        }
        let index = link_index(partner);
        let state_word = self.states.get(index)?;
        let s0 = state_word.load(Ordering::Acquire);
        if !links_to(partner, s0) {
            return None;
        }
        let slot = &self.slots[index];
        let last_seen = slot.last_seen();
        let live = !slot.expired(now_ms);
        fence(Ordering::Acquire);
        same_flow(state_word.load(Ordering::Relaxed), s0).then_some((last_seen, live))
    }

    /// Whether a flow whose entry's own side is `expired` is dead, both
    /// sides considered.
    #[inline]
    fn pair_dead(&self, expired: bool, partner: u64, now_ms: u64) -> bool {
        expired && !self.side_live(partner, now_ms)
    }

    /// The live flow of `key`, if any: the forward entry of a flow, or the
    /// reply entry of a pair ([`FlowRef::is_reply`]). One probe; no lock,
    /// allocation or system call.
    #[inline]
    pub fn lookup(&self, key: &FlowKey, now_ms: u64) -> Option<FlowRef<'_>> {
        let probe = self.probe(key);
        self.window(&probe).find_map(|index| {
            let read = self.read_slot(index, &probe, now_ms)?;
            let handle = FlowHandle {
                index,
                state: read.state,
            };
            // The partner is read only for an entry whose own side idled
            // out: the common case reads one word less.
            let live = !read.expired
                || self
                    .partner_of(handle)
                    .is_some_and(|partner| self.side_live(partner, now_ms));
            (read.key_matches && live).then_some(FlowRef {
                table: self,
                handle,
                key: *key,
                verdict_tag: read.verdict_tag,
                generation: read.generation,
            })
        })
    }

    /// Counts one packet on the entry `handle` names (see
    /// [`FlowRef::touch`]). Returns false if the entry left its slot.
    #[inline]
    pub fn touch(&self, handle: FlowHandle, now_ms: u64, traffic: Traffic, forward: bool) -> bool {
        self.touch_seen(handle, now_ms, traffic, forward).is_some()
    }

    /// [`FlowTable::touch`], returning when the entry was last seen before
    /// this packet (`None` if the entry left its slot).
    #[inline]
    pub fn touch_seen(
        &self,
        handle: FlowHandle,
        now_ms: u64,
        traffic: Traffic,
        forward: bool,
    ) -> Option<u64> {
        let state_word = self.states.get(handle.index)?;
        if !same_flow(state_word.load(Ordering::Relaxed), handle.state) {
            return None;
        }
        Some(self.slots[handle.index].count(now_ms, traffic, forward))
    }

    /// Marks the entry `handle` names as seen at `now_ms`, without counting
    /// a packet: for entries whose traffic is counted elsewhere, this keeps
    /// them from idling out at the cost of one read (and a store at most
    /// once per millisecond). Returns false if the entry left its slot.
    #[inline]
    pub fn keep_alive(&self, handle: FlowHandle, now_ms: u64) -> bool {
        let Some(state_word) = self.states.get(handle.index) else {
            return false;
        };
        if !same_flow(state_word.load(Ordering::Relaxed), handle.state) {
            return false;
        }
        let last_seen = &self.slots[handle.index].last_seen_ms;
        if last_seen.load(Ordering::Relaxed) < now_ms {
            last_seen.store(now_ms, Ordering::Relaxed);
        }
        true
    }

    /// Lowers the idle timeout of the flow `handle` names, on both entries
    /// of a pair, to at most `max_idle_ms` (never raises it), so that a
    /// connection known to be over leaves the table soon after its last
    /// packet. Relaxed atomics outside the sequence lock, like the
    /// counters. Returns false if the entry left its slot.
    #[inline]
    pub fn shorten_idle_timeout(&self, handle: FlowHandle, max_idle_ms: u64) -> bool {
        let Some(partner) = self.partner_of(handle) else {
            return false;
        };
        self.slots[handle.index]
            .idle_timeout_ms
            .fetch_min(max_idle_ms, Ordering::Relaxed);
        if partner != NO_PARTNER {
            let index = link_index(partner);
            if self
                .states
                .get(index)
                .is_some_and(|s| links_to(partner, s.load(Ordering::Relaxed)))
            {
                self.slots[index]
                    .idle_timeout_ms
                    .fetch_min(max_idle_ms, Ordering::Relaxed);
            }
        }
        true
    }

    /// The partner link of the entry `handle` names, read consistently;
    /// `None` if the entry left its slot.
    fn partner_of(&self, handle: FlowHandle) -> Option<u64> {
        let state_word = self.states.get(handle.index)?;
        let partner = self.slots[handle.index].partner();
        fence(Ordering::Acquire);
        same_flow(state_word.load(Ordering::Relaxed), handle.state).then_some(partner)
    }

    /// A snapshot of the flow's counters and times, both entries of a pair
    /// merged (relaxed reads: fields may be from slightly different
    /// instants). Counters are in the flow's orientation, the idle timeout
    /// is the forward entry's. `None` if the entry left its slot.
    pub fn value(&self, handle: FlowHandle) -> Option<FlowValue> {
        let state_word = self.states.get(handle.index)?;
        let slot = &self.slots[handle.index];
        let mut value = slot.value();
        let partner = slot.partner();
        fence(Ordering::Acquire);
        if !same_flow(state_word.load(Ordering::Relaxed), handle.state) {
            return None;
        }
        if let Some(other) = self.partner_value(partner) {
            value = if handle.is_reply() {
                merge(&other, &value)
            } else {
                merge(&value, &other)
            };
        }
        Some(value)
    }

    /// The value of the entry `partner` names, if the link holds.
    fn partner_value(&self, partner: u64) -> Option<FlowValue> {
        if partner == NO_PARTNER {
            return None;
        }
        let index = link_index(partner);
        let state_word = self.states.get(index)?;
        let s0 = state_word.load(Ordering::Acquire);
        if !links_to(partner, s0) {
            return None;
        }
        let value = self.slots[index].value();
        fence(Ordering::Acquire);
        same_flow(state_word.load(Ordering::Relaxed), s0).then_some(value)
    }

    /// Records a new flow with its first packet's `first_packet`, or counts
    /// the packet on the live flow the key already has. No lock, allocation
    /// or system call.
    pub fn insert(
        &self,
        key: &FlowKey,
        verdict_tag: u32,
        generation: u64,
        idle_timeout_ms: u64,
        now_ms: u64,
        first_packet: Traffic,
    ) -> InsertOutcome {
        self.insert_entries(
            key,
            None,
            verdict_tag,
            generation,
            idle_timeout_ms,
            now_ms,
            first_packet,
        )
    }

    /// Like [`FlowTable::insert`], and records `reply` (the key the flow's
    /// replies will be looked up with, of the same NIC) in a second slot of
    /// the reply key's own probe window, so that a reply is found with one
    /// lookup that says it is a reply. The two entries are one flow: one
    /// quota unit, one count in [`FlowTable::len`], one item of
    /// [`FlowTable::for_each`], removed, evicted and expired together. The
    /// flow is refused ([`InsertOutcome::Full`]) unless both windows have
    /// room; `reply` of another NIC than `key` is refused as
    /// [`InsertOutcome::NicOutOfRange`].
    #[allow(clippy::too_many_arguments)]
    pub fn insert_pair(
        &self,
        key: &FlowKey,
        reply: &FlowKey,
        verdict_tag: u32,
        generation: u64,
        idle_timeout_ms: u64,
        now_ms: u64,
        first_packet: Traffic,
    ) -> InsertOutcome {
        self.insert_entries(
            key,
            Some(reply),
            verdict_tag,
            generation,
            idle_timeout_ms,
            now_ms,
            first_packet,
        )
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn insert_entries(
        &self,
        key: &FlowKey,
        reply: Option<&FlowKey>,
        verdict_tag: u32,
        generation: u64,
        idle_timeout_ms: u64,
        now_ms: u64,
        first_packet: Traffic,
    ) -> InsertOutcome {
        let outcome = self.try_insert(
            key,
            reply,
            verdict_tag,
            generation,
            idle_timeout_ms,
            now_ms,
            first_packet,
        );
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

    /// One pass over a probe window for an insert of `nic`. With
    /// `existing`, a live entry of the probe's key is counted on and
    /// reported as `Err(())`. `exclude` is a slot already chosen. A quick
    /// pass (`thorough` false) reads the body of a slot only when its
    /// fingerprint is the key's, so it finds the key's own entries and the
    /// free slots from the state words alone, and nothing else; a thorough
    /// one also weighs every other flow of the window (whose is it, is it
    /// dead, when was it seen), for when no free slot will do.
    #[inline]
    fn scan(
        &self,
        probe: &Probe,
        nic: u32,
        now_ms: u64,
        existing: Option<Traffic>,
        exclude: usize,
        thorough: bool,
    ) -> Result<Scan, ()> {
        let mut scan = Scan::default();
        for index in self.window(probe) {
            if index == exclude {
                continue;
            }
            let state = self.states[index].load(Ordering::Acquire);
            match kind(state) {
                KIND_FREE => {
                    scan.free.get_or_insert((index, state));
                    continue;
                }
                KIND_CLAIMED => continue,
                _ if !thorough && fingerprint(state) != probe.fingerprint => continue,
                _ => {}
            }
            // Fingerprint aside, this is `read_slot`: the slot may hold
            // any key, and the owner and age matter too.
            let slot = &self.slots[index];
            let words = slot.load_key();
            let last_seen = slot.last_seen();
            let expired = slot.expired(now_ms);
            let partner = slot.partner();
            fence(Ordering::Acquire);
            if !same_flow(self.states[index].load(Ordering::Relaxed), state) {
                continue;
            }
            let dead = self.pair_dead(expired, partner, now_ms);
            if let Some(traffic) = existing.filter(|_| words == probe.words && !dead) {
                let handle = FlowHandle { index, state };
                self.touch(handle, now_ms, traffic, !is_reply(state));
                return Err(());
            }
            // A slot whose verdict is being rewritten is in use, and a
            // reply entry goes only with its forward entry: neither is a
            // slot to take.
            if kind(state) != KIND_LIVE || is_reply(state) {
                continue;
            }
            let own = words[0] as u32 == nic;
            if words == probe.words && dead {
                scan.same_key_dead.get_or_insert((index, state));
            } else if dead && own {
                scan.own_dead.get_or_insert((index, state));
            } else if dead {
                scan.other_dead.get_or_insert((index, state));
            } else if own {
                let seen = self
                    .side_last_seen(partner, now_ms)
                    .map_or(last_seen, |(other, _)| other.max(last_seen));
                if scan.own_oldest.is_none_or(|(_, _, oldest)| seen < oldest) {
                    scan.own_oldest = Some((index, state, seen));
                }
            }
        }
        Ok(scan)
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn try_insert(
        &self,
        key: &FlowKey,
        reply: Option<&FlowKey>,
        verdict_tag: u32,
        generation: u64,
        idle_timeout_ms: u64,
        now_ms: u64,
        first_packet: Traffic,
    ) -> InsertOutcome {
        let Some(nic_flows) = self.nic_flows.get(key.nic as usize) else {
            return InsertOutcome::NicOutOfRange;
        };
        if reply.is_some_and(|r| r.nic != key.nic) {
            return InsertOutcome::NicOutOfRange;
        }
        let probe = self.probe(key);
        let reply_probe = reply.map(|r| self.probe(r));
        for _ in 0..INSERT_ATTEMPTS {
            // Most inserts find a free slot: take it without weighing the
            // other flows of the window.
            let Ok(quick) = self.scan(
                &probe,
                key.nic,
                now_ms,
                Some(first_packet),
                usize::MAX,
                false,
            ) else {
                return InsertOutcome::Existing;
            };
            let quick_choice = match (quick.same_key_dead, quick.free) {
                (Some((index, observed)), _) => Some((index, observed, Candidate::OwnDead)),
                (None, Some((index, observed))) if self.reserve_quota(nic_flows) => {
                    Some((index, observed, Candidate::Free))
                }
                _ => None,
            };
            let scan = match quick_choice {
                Some(_) => Scan::default(),
                None => match self.scan(
                    &probe,
                    key.nic,
                    now_ms,
                    Some(first_packet),
                    usize::MAX,
                    true,
                ) {
                    Ok(scan) => scan,
                    Err(()) => return InsertOutcome::Existing,
                },
            };
            let choice = if let Some(choice) = quick_choice {
                Some(choice)
            } else if let Some((index, observed)) = scan.same_key_dead.or(scan.own_dead) {
                Some((index, observed, Candidate::OwnDead))
            } else if scan.free.is_some() || scan.other_dead.is_some() {
                if self.reserve_quota(nic_flows) {
                    scan.free
                        .map(|(i, s)| (i, s, Candidate::Free))
                        .or(scan.other_dead.map(|(i, s)| (i, s, Candidate::OtherDead)))
                } else {
                    None
                }
            } else {
                None
            };
            let choice = choice
                .or_else(|| {
                    scan.own_oldest
                        .map(|(i, s, _)| (i, s, Candidate::OwnOldest))
                })
                .map(|(index, observed, candidate)| Choice {
                    index,
                    observed,
                    candidate,
                });
            let Some(forward) = choice else {
                return InsertOutcome::Full;
            };
            // The quota unit of the new flow is reserved (or taken over
            // from the flow `forward` replaces); give it back on failure.
            let reserved = matches!(forward.candidate, Candidate::Free | Candidate::OtherDead);
            let release = || {
                if reserved {
                    nic_flows.fetch_sub(1, Ordering::Relaxed);
                }
            };
            let second = match &reply_probe {
                None => None,
                Some(rp) => {
                    let Ok(quick) = self.scan(rp, key.nic, now_ms, None, forward.index, false)
                    else {
                        unreachable!("scan without `existing` reports no existing entry");
                    };
                    let scan = if quick.free.is_some() {
                        quick
                    } else {
                        let Ok(scan) = self.scan(rp, key.nic, now_ms, None, forward.index, true)
                        else {
                            unreachable!("scan without `existing` reports no existing entry");
                        };
                        scan
                    };
                    let choice = scan
                        .free
                        .map(|(i, s)| (i, s, Candidate::Free))
                        .or(scan.own_dead.map(|(i, s)| (i, s, Candidate::OwnDead)))
                        .or(scan
                            .same_key_dead
                            .map(|(i, s)| (i, s, Candidate::OtherDead)))
                        .or(scan.other_dead.map(|(i, s)| (i, s, Candidate::OtherDead)))
                        .or(scan
                            .own_oldest
                            .map(|(i, s, _)| (i, s, Candidate::OwnOldest)));
                    let Some((index, observed, candidate)) = choice else {
                        release();
                        return InsertOutcome::Full;
                    };
                    Some(Choice {
                        index,
                        observed,
                        candidate,
                    })
                }
            };

            let Some(forward_claim) = self.claim(forward.index, forward.observed) else {
                release();
                continue;
            };
            let second_claim = match second {
                None => None,
                Some(c) => match self.claim(c.index, c.observed) {
                    Some(claimed) => Some(claimed),
                    None => {
                        self.unclaim(&forward, forward_claim);
                        release();
                        continue;
                    }
                },
            };
            // The slots are ours: their bodies no longer change under us.
            // Check that they are still what the scans saw (a flow may have
            // been touched back to life in between) before overwriting.
            let fits = self.still_fits(&forward, key.nic, now_ms)
                && second.is_none_or(|c| self.still_fits(&c, key.nic, now_ms));
            if !fits {
                self.unclaim(&forward, forward_claim);
                if let (Some(c), Some(claimed)) = (second, second_claim) {
                    self.unclaim(&c, claimed);
                }
                release();
                continue;
            }
            let mut evicted = 0;
            for (choice, second) in [(Some(forward), false), (second, true)] {
                if let Some(c) = choice {
                    self.take_over(&c, second);
                    evicted += u64::from(c.candidate == Candidate::OwnOldest);
                }
            }
            // The outcome counts one eviction.
            if evicted > 1 {
                self.evicted.fetch_add(evicted - 1, Ordering::Relaxed);
            }

            let forward_live =
                with_fingerprint(with_kind(forward_claim, KIND_LIVE), probe.fingerprint);
            let partner = match (second, second_claim, &reply_probe) {
                (Some(c), Some(claimed), Some(rp)) => {
                    let reply_live =
                        with_fingerprint(with_kind(claimed, KIND_LIVE), rp.fingerprint) | REPLY;
                    self.slots[c.index].write(
                        &rp.words,
                        verdict_tag,
                        generation,
                        idle_timeout_ms,
                        now_ms,
                        None,
                        link(forward.index, forward_live),
                    );
                    Some((c.index, reply_live))
                }
                _ => None,
            };
            self.slots[forward.index].write(
                &probe.words,
                verdict_tag,
                generation,
                idle_timeout_ms,
                now_ms,
                Some(first_packet),
                partner.map_or(NO_PARTNER, |(index, state)| link(index, state)),
            );
            if let Some((index, state)) = partner {
                self.states[index].store(state, Ordering::Release);
            }
            self.states[forward.index].store(forward_live, Ordering::Release);
            return if evicted > 0 {
                InsertOutcome::Evicted
            } else {
                InsertOutcome::Inserted
            };
        }
        InsertOutcome::Full
    }

    /// Whether a claimed slot is still the candidate its scan saw.
    #[inline]
    fn still_fits(&self, choice: &Choice, nic: u32, now_ms: u64) -> bool {
        let slot = &self.slots[choice.index];
        let dead = || self.pair_dead(slot.expired(now_ms), slot.partner(), now_ms);
        match choice.candidate {
            Candidate::Free => true,
            Candidate::OwnDead => slot.owner() == nic && dead(),
            Candidate::OtherDead => dead(),
            Candidate::OwnOldest => slot.owner() == nic,
        }
    }

    /// Gives a claimed slot back as it was: free, or holding its flow
    /// under the same key epoch (so links to it hold again) with a new
    /// verdict epoch (so a reader that saw it before the claim retries).
    fn unclaim(&self, choice: &Choice, claimed: u64) {
        let restored = if choice.candidate == Candidate::Free {
            with_kind(claimed, KIND_FREE)
        } else {
            next_verdict(choice.observed, KIND_LIVE)
        };
        self.states[choice.index].store(restored, Ordering::Release);
    }

    /// The claimed slot of `choice` ends the flow it held: its partner
    /// entry is freed and its quota unit released, unless the new flow
    /// takes the unit over (the forward entry replacing a flow of the
    /// inserting NIC).
    #[inline]
    fn take_over(&self, choice: &Choice, second: bool) {
        if choice.candidate == Candidate::Free {
            return;
        }
        let slot = &self.slots[choice.index];
        self.free_partner(slot.partner());
        let transfers =
            !second && matches!(choice.candidate, Candidate::OwnDead | Candidate::OwnOldest);
        if !transfers {
            if let Some(owner) = self.nic_flows.get(slot.owner() as usize) {
                owner.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Frees the reply entry `partner` names. Called only by the thread that
    /// has just claimed or freed the forward entry, which makes it the only
    /// writer of the reply entry's state word (see the module
    /// documentation), so the first attempt succeeds.
    fn free_partner(&self, partner: u64) {
        if partner == NO_PARTNER {
            return;
        }
        let Some(state_word) = self.states.get(link_index(partner)) else {
            return;
        };
        for _ in 0..READ_ATTEMPTS {
            let state = state_word.load(Ordering::Acquire);
            if !links_to(partner, state) {
                return;
            }
            if kind(state) == KIND_UPDATING {
                spin();
                continue;
            }
            if state_word
                .compare_exchange(
                    state,
                    next_owner(state, KIND_FREE),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                return;
            }
        }
    }

    /// Takes one unit of the NIC's quota, if it has one left.
    #[inline]
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
    #[inline]
    fn claim(&self, index: usize, observed: u64) -> Option<u64> {
        let claimed = next_owner(observed, KIND_CLAIMED);
        self.states[index]
            .compare_exchange(observed, claimed, Ordering::AcqRel, Ordering::Relaxed)
            .ok()?;
        fence(Ordering::Release);
        Some(claimed)
    }

    /// Removes the flow of `key`, live or dead, found by its forward or its
    /// reply key; both entries of a pair go. Returns whether a live flow
    /// was removed.
    pub fn remove(&self, key: &FlowKey, now_ms: u64) -> bool {
        let probe = self.probe(key);
        let mut removed_live = false;
        for index in self.window(&probe) {
            for _ in 0..READ_ATTEMPTS {
                let Some(read) = self.read_slot(index, &probe, now_ms) else {
                    break;
                };
                if !read.key_matches {
                    break;
                }
                let handle = FlowHandle {
                    index,
                    state: read.state,
                };
                match self.remove_entry(handle, now_ms) {
                    Removal::Removed { live } => {
                        removed_live |= live;
                        break;
                    }
                    Removal::Gone => break,
                    Removal::Retry => spin(),
                }
            }
        }
        removed_live
    }

    /// Removes the flow `handle` names (both entries of a pair). Returns
    /// whether a live flow was removed; does nothing if the entry left its
    /// slot.
    pub fn remove_flow(&self, handle: FlowHandle, now_ms: u64) -> bool {
        for _ in 0..READ_ATTEMPTS {
            match self.remove_entry(handle, now_ms) {
                Removal::Removed { live } => return live,
                Removal::Gone => return false,
                Removal::Retry => spin(),
            }
        }
        false
    }

    /// The forward entry of the flow `handle` names, as (index, link to
    /// it); `None` if the entry left its slot.
    fn forward_of(&self, handle: FlowHandle) -> Option<(usize, u64)> {
        if !handle.is_reply() {
            self.states.get(handle.index)?;
            return Some((handle.index, link(handle.index, handle.state)));
        }
        let partner = self.partner_of(handle)?;
        (partner != NO_PARTNER).then_some((link_index(partner), partner))
    }

    /// One attempt at freeing the flow `handle` names: a compare-and-swap
    /// of its forward entry's state word from the value under which its
    /// body was read, then its reply entry.
    fn remove_entry(&self, handle: FlowHandle, now_ms: u64) -> Removal {
        let Some((index, forward)) = self.forward_of(handle) else {
            return Removal::Gone;
        };
        let Some(state_word) = self.states.get(index) else {
            return Removal::Gone;
        };
        let state = state_word.load(Ordering::Acquire);
        if !links_to(forward, state) || is_reply(state) {
            return Removal::Gone;
        }
        if handle.index == index && !same_flow(state, handle.state) {
            return Removal::Gone;
        }
        if kind(state) == KIND_UPDATING {
            return Removal::Retry;
        }
        let slot = &self.slots[index];
        let owner = slot.owner();
        let expired = slot.expired(now_ms);
        let partner = slot.partner();
        let live = !self.pair_dead(expired, partner, now_ms);
        if self.free_slot(index, state, owner) {
            self.free_partner(partner);
            Removal::Removed { live }
        } else {
            Removal::Retry
        }
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

    /// Re-records the verdict of the flow `handle` names, in both entries
    /// of a pair. Returns false if the entry left its slot or another
    /// thread is updating the verdict at this instant (its result then
    /// stands). The forward entry is locked first, always: a reply entry
    /// is only ever locked by the holder of its forward entry.
    #[inline]
    pub fn update_verdict_of(&self, handle: FlowHandle, verdict_tag: u32, generation: u64) -> bool {
        let Some((index, forward)) = self.forward_of(handle) else {
            return false;
        };
        let state_word = &self.states[index];
        let current = state_word.load(Ordering::Relaxed);
        if kind(current) != KIND_LIVE
            || !links_to(forward, current)
            || is_reply(current)
            || (handle.index == index && !same_flow(current, handle.state))
        {
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
        let slot = &self.slots[index];
        let partner = slot.partner();
        let reply = self.lock_partner(partner);
        slot.verdict_tag.store(verdict_tag, Ordering::Relaxed);
        slot.generation.store(generation, Ordering::Relaxed);
        if let Some((reply_index, reply_updating)) = reply {
            let reply_slot = &self.slots[reply_index];
            reply_slot.verdict_tag.store(verdict_tag, Ordering::Relaxed);
            reply_slot.generation.store(generation, Ordering::Relaxed);
            self.states[reply_index].store(with_kind(reply_updating, KIND_LIVE), Ordering::Release);
        }
        state_word.store(with_kind(updating, KIND_LIVE), Ordering::Release);
        true
    }

    /// Puts the reply entry `partner` names in `UPDATING`, for the holder
    /// of its forward entry.
    fn lock_partner(&self, partner: u64) -> Option<(usize, u64)> {
        if partner == NO_PARTNER {
            return None;
        }
        let index = link_index(partner);
        let state_word = self.states.get(index)?;
        let current = state_word.load(Ordering::Acquire);
        if kind(current) != KIND_LIVE || !links_to(partner, current) {
            return None;
        }
        let updating = next_verdict(current, KIND_UPDATING);
        state_word
            .compare_exchange(current, updating, Ordering::AcqRel, Ordering::Relaxed)
            .ok()?;
        fence(Ordering::Release);
        Some((index, updating))
    }

    /// Frees up to `budget` dead slots' worth of scanning: examines the next
    /// `budget` slots (round robin, shared between callers) and frees the
    /// flows whose forward entry is there and dead (with their reply
    /// entries, wherever they are). Returns how many flows it freed.
    pub fn sweep(&self, now_ms: u64, budget: usize) -> usize {
        let budget = budget.min(self.capacity());
        let start = self.sweep_cursor.fetch_add(budget, Ordering::Relaxed);
        let mut freed = 0;
        for offset in 0..budget {
            let index = start.wrapping_add(offset) & self.mask;
            let state = self.states[index].load(Ordering::Acquire);
            if kind(state) != KIND_LIVE || is_reply(state) {
                continue;
            }
            let slot = &self.slots[index];
            let owner = slot.owner();
            let partner = slot.partner();
            if self.pair_dead(slot.expired(now_ms), partner, now_ms)
                && self.free_slot(index, state, owner)
            {
                self.free_partner(partner);
                freed += 1;
            }
        }
        freed
    }

    /// Calls `f` with every live flow, once (by its forward key; a pair's
    /// two entries merged as [`FlowTable::value`] does), read consistently
    /// one by one (the table as a whole is not frozen). For diagnostics,
    /// not the packet path.
    pub fn for_each(&self, now_ms: u64, mut f: impl FnMut(&FlowKey, &FlowValue)) {
        for (index, state_word) in self.states.iter().enumerate() {
            let slot = &self.slots[index];
            for _ in 0..READ_ATTEMPTS {
                let s0 = state_word.load(Ordering::Acquire);
                if !holds_flow(s0) || is_reply(s0) {
                    break;
                }
                if kind(s0) == KIND_UPDATING {
                    spin();
                    continue;
                }
                let words = slot.load_key();
                let value = slot.value();
                let partner = slot.partner();
                fence(Ordering::Acquire);
                if state_word.load(Ordering::Relaxed) != s0 {
                    continue;
                }
                let own_live = !is_expired(now_ms, value.last_seen_ms, value.idle_timeout_ms);
                let other = self.partner_value(partner);
                let other_live =
                    other.is_some_and(|o| !is_expired(now_ms, o.last_seen_ms, o.idle_timeout_ms));
                if own_live || other_live {
                    let value = other.map_or(value, |o| merge(&value, &o));
                    f(&FlowKey::from_words(&words), &value);
                }
                break;
            }
        }
    }
}

/// What one attempt at removing a flow found.
enum Removal {
    Removed {
        live: bool,
    },
    /// The flow is no longer there.
    Gone,
    /// Its forward entry changed while being read (or its verdict is being
    /// rewritten): read it again.
    Retry,
}

/// One flow's value from its forward entry and its reply entry.
fn merge(forward: &FlowValue, reply: &FlowValue) -> FlowValue {
    FlowValue {
        last_seen_ms: forward.last_seen_ms.max(reply.last_seen_ms),
        forward_packets: forward.forward_packets + reply.forward_packets,
        forward_bytes: forward.forward_bytes + reply.forward_bytes,
        reverse_packets: forward.reverse_packets + reply.reverse_packets,
        reverse_bytes: forward.reverse_bytes + reply.reverse_bytes,
        ..*forward
    }
}

fn spin() {
    #[cfg(vnetd_loom)]
    loom::thread::yield_now();
    #[cfg(not(vnetd_loom))]
    std::hint::spin_loop();
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
        table.insert(&key, 7, 1, 240_000, 1_000, Traffic::packet(60));
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

/// Model-checked interleavings of the sequence lock (docs/src/testing.md):
/// `RUSTFLAGS="--cfg vnetd_loom" cargo test --release --lib loom`.
/// Every atomic access of the table is a point where loom may switch
/// threads; each test explores the interleavings of one writer and one
/// reader (up to a preemption bound) and checks that the reader never acts
/// on a torn key or verdict.
#[cfg(all(test, vnetd_loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    fn key(n: u8) -> FlowKey {
        FlowKey::v4(
            0,
            0,
            6,
            Ipv4Addr::new(10, 0, 0, n),
            Ipv4Addr::new(10, 1, 0, 4),
            40000 + u16::from(n),
            443,
        )
    }

    fn reply(key: &FlowKey) -> FlowKey {
        let mut reply = key.reversed();
        reply.direction ^= 1;
        reply
    }

    fn model(test: impl Fn() + Sync + Send + 'static) {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(2);
        builder.check(test);
    }

    /// A verdict rewritten while a reader looks the flow up: the reader
    /// sees the old verdict or the new one, never half of each.
    #[test]
    fn a_verdict_update_is_never_seen_torn() {
        model(|| {
            let table = Arc::new(FlowTable::new(PROBE_WINDOW, 1, 0));
            let k = key(1);
            table.insert_pair(&k, &reply(&k), 1, 100, 1_000, 0, Traffic::packet(0));
            let writer = {
                let table = table.clone();
                thread::spawn(move || {
                    let flow = table.lookup(&k, 0).unwrap();
                    table.update_verdict_of(flow.handle(), 2, 200);
                })
            };
            if let Some(flow) = table.lookup(&reply(&k), 0) {
                assert!(flow.is_reply());
                let seen = (flow.verdict_tag(), flow.generation());
                assert!(
                    seen == (1, 100) || seen == (2, 200),
                    "torn verdict {seen:?}"
                );
            }
            writer.join().unwrap();
            let flow = table.lookup(&reply(&k), 0).unwrap();
            assert_eq!((flow.verdict_tag(), flow.generation()), (2, 200));
        });
    }

    /// A flow removed and its slots taken by another while a reader looks
    /// the first one up: the reader finds the flow it asked for, with its
    /// own verdict, or nothing.
    #[test]
    fn a_reused_slot_never_answers_for_its_old_key() {
        model(|| {
            let table = Arc::new(FlowTable::new(PROBE_WINDOW, 1, 0));
            let (a, b) = (key(1), key(2));
            table.insert_pair(&a, &reply(&a), 1, 1, 1_000, 0, Traffic::packet(0));
            let writer = {
                let table = table.clone();
                thread::spawn(move || {
                    table.remove(&a, 0);
                    table.insert_pair(&b, &reply(&b), 2, 2, 1_000, 0, Traffic::packet(0));
                })
            };
            for asked in [a, reply(&a)] {
                if let Some(flow) = table.lookup(&asked, 0) {
                    assert_eq!(flow.key(), asked);
                    assert_eq!((flow.verdict_tag(), flow.generation()), (1, 1));
                }
            }
            writer.join().unwrap();
            assert!(table.lookup(&a, 0).is_none());
            assert_eq!(
                table.lookup(&reply(&b), 0).map(|f| f.verdict_tag()),
                Some(2)
            );
            assert_eq!(table.len(), 1);
        });
    }

    /// A pair being entered while its reply is looked up: the reply is
    /// found complete (a reply entry, the flow's verdict) or not at all.
    #[test]
    fn a_pair_being_entered_is_found_whole_or_not_at_all() {
        model(|| {
            let table = Arc::new(FlowTable::new(PROBE_WINDOW, 1, 0));
            let k = key(3);
            let writer = {
                let table = table.clone();
                thread::spawn(move || {
                    table.insert_pair(&k, &reply(&k), 7, 70, 1_000, 0, Traffic::packet(0));
                })
            };
            if let Some(flow) = table.lookup(&reply(&k), 0) {
                assert!(flow.is_reply());
                assert_eq!((flow.verdict_tag(), flow.generation()), (7, 70));
            }
            writer.join().unwrap();
            assert!(table.lookup(&reply(&k), 0).is_some());
        });
    }
}
