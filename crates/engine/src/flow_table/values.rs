//! What the table takes from its callers and gives back, as plain
//! values: the two keys of a pair ([`FlowPair`]), what a packet stands
//! for on the wire ([`Traffic`]), a flow's value ([`FlowValue`]), what an
//! insert did ([`InsertOutcome`]) and the table's counters
//! ([`FlowTableStats`]); and what an insert records of a new flow
//! (`NewFlow`), from which the slots it takes are written.

use super::key::FlowKey;
use super::memo::Memo;

/// The two keys of a flow entered with [`FlowTable::insert_pair`]: the
/// flow's own key and the key its replies will carry.
///
/// [`FlowTable::insert_pair`]: super::FlowTable::insert_pair
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowPair<'k> {
    pub key: &'k FlowKey,
    pub reply: &'k FlowKey,
}

/// What an insert records: the flow's key (and its reply key, for a
/// pair), the caller's verdict, and the first packet.
#[derive(Clone, Copy)]
pub(super) struct NewFlow<'k> {
    pub(super) key: &'k FlowKey,
    pub(super) reply: Option<&'k FlowKey>,
    pub(super) verdict_tag: u32,
    pub(super) generation: u64,
    pub(super) idle_timeout_ms: u64,
    pub(super) now_ms: u64,
    pub(super) first_packet: Traffic,
    /// Written to both entries before they are published.
    pub(super) memo: Option<&'k Memo>,
    /// Whether the flow may take the slot of its owner's least recently
    /// seen live flow (over its quota, or with its window full of live
    /// flows): false refuses it instead ([`InsertOutcome::Full`]).
    pub(super) may_evict: bool,
}

impl<'k> NewFlow<'k> {
    /// A pair with neither verdict nor memo.
    pub(super) fn pair(
        keys: FlowPair<'k>,
        idle_timeout_ms: u64,
        now_ms: u64,
        first_packet: Traffic,
    ) -> NewFlow<'k> {
        NewFlow {
            key: keys.key,
            reply: Some(keys.reply),
            verdict_tag: 0,
            generation: 0,
            idle_timeout_ms,
            now_ms,
            first_packet,
            memo: None,
            may_evict: true,
        }
    }
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
///
/// [`FlowTable::insert`]: super::FlowTable::insert
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
    ///
    /// [`FlowTable::memory_bytes`]: super::FlowTable::memory_bytes
    pub memory_bytes: usize,
    /// Approximate; see [`FlowTable::len`].
    ///
    /// [`FlowTable::len`]: super::FlowTable::len
    pub occupied: usize,
    pub inserted: u64,
    pub evicted: u64,
    /// Inserts refused: [`InsertOutcome::Full`] and
    /// [`InsertOutcome::NicOutOfRange`].
    pub failed_inserts: u64,
}
