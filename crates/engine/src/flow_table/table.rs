//! The table itself ([`FlowTable`]): its arrays of state words, slot
//! bodies and memos, allocated once at a power-of-two capacity of at
//! least [`PROBE_WINDOW`] slots, the flows each NIC holds and may hold,
//! and what it says of itself (capacity, occupancy, counters). Lookups,
//! inserts, removals, verdict updates and handles act on it from the
//! files named for them.

use super::key::FlowOwner;
use super::memo::MemoCell;
use super::slot::Slot;
use super::state::KIND_FREE;
use super::values::FlowTableStats;
use crate::fragments::{FragmentMap, FRAGMENT_SLOTS};
use crate::sync::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// How many consecutive slots, starting at a key's hash, may hold the key.
pub const PROBE_WINDOW: usize = 16;

/// The smallest per-NIC quota [`FlowTable::default_quota`] proposes.
pub const DEFAULT_QUOTA_FLOOR: u32 = 1024;

/// The connection-tracking table. See the [module documentation](super).
pub struct FlowTable {
    pub(super) states: Box<[AtomicU64]>,
    pub(super) slots: Box<[Slot]>,
    /// One memo per slot ([`memo`](super::memo)).
    pub(super) memos: Box<[MemoCell]>,
    pub(super) mask: usize,
    /// Flows (live or dead but not yet reclaimed) per NIC; a pair is one.
    pub(super) nic_flows: Box<[AtomicU32]>,
    pub(super) per_nic_quota: u32,
    /// Each owner's quota: `per_nic_quota`, unless
    /// [`FlowTable::with_owner_quota`] gave it its own.
    pub(super) quotas: Box<[u32]>,
    pub(super) sweep_cursor: AtomicUsize,
    pub(super) inserted: AtomicU64,
    pub(super) evicted: AtomicU64,
    pub(super) failed_inserts: AtomicU64,
    /// Later fragments of datagrams are matched to their first here.
    pub(super) fragments: FragmentMap,
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
