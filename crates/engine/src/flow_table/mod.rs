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
//!   only recycle its own slots, never another NIC's live flow. A flow
//!   entered with [`FlowTable::insert_pair_with_memo_keeping_live`] takes
//!   no live flow's slots at all, its owner's included: it is refused
//!   instead.
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
//! Each entry may also carry a memo ([`Memo`]): words the caller keeps with
//! it (the packet path keeps a flow's known hop there, a load balancer its
//! pin), in an array of their own, one cache line per slot, under a
//! sequence number of their own and tagged with the entry they were written
//! for (see `memo.rs`). Any thread that holds a handle may write an entry's
//! memo; readers see a memo whole or not at all, and never one written for
//! an earlier owner of the slot.
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

mod handle;
mod insert;
mod key;
mod lookup;
mod memo;
mod remove;
mod slot;
mod state;
mod update;

pub use handle::{FlowHandle, FlowRef};
pub use insert::FlowPair;
pub use key::{FlowKey, FlowOwner, KeyWords};

use crate::fragments::{FragmentMap, FRAGMENT_SLOTS};
use crate::sync::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use memo::MemoCell;
use slot::Slot;
use state::KIND_FREE;

/// Words in an entry's memo ([`Memo`]).
pub const MEMO_WORDS: usize = 6;

/// What the caller keeps with one entry, beyond the verdict: words the
/// table stores and returns whole but never reads (the packet path keeps
/// there what it decided for the packets that find the entry). Written
/// with [`FlowTable::set_memo_of`] or at insert
/// ([`FlowTable::insert_pair_with_memo`]), read with [`FlowRef::memo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Memo(pub [u64; MEMO_WORDS]);

/// How many consecutive slots, starting at a key's hash, may hold the key.
pub const PROBE_WINDOW: usize = 16;

/// The smallest per-NIC quota [`FlowTable::default_quota`] proposes.
pub const DEFAULT_QUOTA_FLOOR: u32 = 1024;

/// How often a reader retries a slot whose verdict is being rewritten (a
/// window of two stores) before treating the flow as absent for this packet.
const READ_ATTEMPTS: usize = 32;

/// How often an insert starts over after losing a race for a slot.
const INSERT_ATTEMPTS: usize = 4;
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
    /// The entry's memo, if one was written for it and could be read
    /// whole (the forward entry's, for a pair).
    pub memo: Option<Memo>,
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
    /// No slot could be used without taking another NIC's live flow (or,
    /// for a flow that keeps live ones, any live flow).
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

/// The connection-tracking table. See the module documentation.
pub struct FlowTable {
    states: Box<[AtomicU64]>,
    slots: Box<[Slot]>,
    /// One memo per slot ([`memo`]).
    memos: Box<[MemoCell]>,
    mask: usize,
    /// Flows (live or dead but not yet reclaimed) per NIC; a pair is one.
    nic_flows: Box<[AtomicU32]>,
    per_nic_quota: u32,
    /// Each owner's quota: `per_nic_quota`, unless
    /// [`FlowTable::with_owner_quota`] gave it its own.
    quotas: Box<[u32]>,
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

/// The slots a table asked for `capacity` has: a power of two, at least
/// [`PROBE_WINDOW`].
fn rounded_capacity(capacity: usize) -> usize {
    capacity
        .max(PROBE_WINDOW)
        .checked_next_power_of_two()
        .unwrap_or(1 << (usize::BITS - 1))
}

impl FlowTable {
    /// A table of `capacity` slots (rounded up to a power of two, at least
    /// [`PROBE_WINDOW`]) for NICs `0..max_nics`, each allowed
    /// `per_nic_quota` flows (0 means no limit beyond capacity).
    /// All memory is allocated here, once.
    pub fn new(capacity: usize, max_nics: u32, per_nic_quota: u32) -> FlowTable {
        let capacity = rounded_capacity(capacity);
        let per_nic_quota = if per_nic_quota == 0 {
            u32::MAX
        } else {
            per_nic_quota
        };
        FlowTable {
            states: (0..capacity).map(|_| AtomicU64::new(KIND_FREE)).collect(),
            slots: (0..capacity).map(|_| Slot::default()).collect(),
            memos: (0..capacity).map(|_| MemoCell::default()).collect(),
            mask: capacity - 1,
            nic_flows: (0..max_nics).map(|_| AtomicU32::new(0)).collect(),
            per_nic_quota,
            quotas: vec![per_nic_quota; max_nics as usize].into_boxed_slice(),
            sweep_cursor: AtomicUsize::new(0),
            inserted: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            failed_inserts: AtomicU64::new(0),
            fragments: FragmentMap::default(),
        }
    }

    /// The same table with `owner`'s quota `quota` flows instead of the
    /// per-NIC one (0 means no limit beyond capacity): for an owner that
    /// holds the flows of many NICs. An owner out of range is left alone.
    pub fn with_owner_quota(mut self, owner: FlowOwner, quota: u32) -> FlowTable {
        if let Some(q) = self.quotas.get_mut(owner.index()) {
            *q = if quota == 0 { u32::MAX } else { quota };
        }
        self
    }

    /// Bytes of memory a table of `capacity` slots takes (after the same
    /// rounding as [`FlowTable::new`]), for `max_nics` NICs: slot bodies,
    /// memos, state words, per-NIC counts and quotas, and the fragment
    /// map.
    pub fn memory_bytes(capacity: usize, max_nics: u32) -> usize {
        let capacity = rounded_capacity(capacity);
        capacity
            * (std::mem::size_of::<Slot>()
                + std::mem::size_of::<MemoCell>()
                + std::mem::size_of::<AtomicU64>())
            + max_nics as usize * (std::mem::size_of::<AtomicU32>() + std::mem::size_of::<u32>())
            + std::mem::size_of::<FragmentMap>()
            + 2 * FRAGMENT_SLOTS * std::mem::size_of::<AtomicU64>()
    }

    /// The ports of fragmented datagrams, by datagram (see
    /// [`crate::fragments`]).
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

    /// The flows `owner` may hold (0 for an unknown owner).
    pub fn quota_of(&self, owner: FlowOwner) -> u32 {
        self.quotas.get(owner.index()).copied().unwrap_or(0)
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

    /// Flows held by one owner (0 for an unknown owner).
    pub fn owner_len(&self, owner: FlowOwner) -> usize {
        self.nic_flows
            .get(owner.index())
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
}

fn spin() {
    #[cfg(vnetd_loom)]
    loom::thread::yield_now();
    #[cfg(not(vnetd_loom))]
    std::hint::spin_loop();
}

#[cfg(test)]
mod tests;

/// Model-checked interleavings of the sequence lock (docs/src/testing.md):
/// `RUSTFLAGS="--cfg vnetd_loom" cargo test --release -p vnetd-engine --lib loom`.
/// Every atomic access of the table is a point where loom may switch
/// threads; each test explores the interleavings of one writer and one
/// reader (up to a preemption bound) and checks that the reader never acts
/// on a torn key or verdict.
#[cfg(all(test, vnetd_loom))]
mod loom_tests;
