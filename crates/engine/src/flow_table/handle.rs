//! Handles to flow entries: [`FlowHandle`], which names one entry of one
//! slot and acts on it without another lookup, and [`FlowRef`], what a
//! lookup returns.

use super::key::{FlowKey, KeyWords};
use super::memo::Memo;
use super::slot::Slot;
use super::state::{
    holds_flow, is_reply, same_flow, KEY_EPOCH_MASK, KEY_EPOCH_SHIFT, KIND_FREE, REPLY,
};
use super::table::FlowTable;
use super::values::{FlowValue, Traffic};
use crate::sync::Ordering;

/// Where a flow entry was found: its slot and the state word it had then.
/// Operations on a handle act on that slot without looking the key up
/// again, and do nothing once the slot has changed hands (its key epoch
/// moved on). A handle is plain data: it holds no reference to the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowHandle {
    pub(super) index: usize,
    pub(super) state: u64,
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

    /// The handle in one word, for keeping it in a memo: its slot, key
    /// epoch and reply mark, which name one entry (the fingerprint follows
    /// from the key). `None` for a slot beyond 2^32, or the empty handle.
    #[inline]
    pub fn to_word(self) -> Option<u64> {
        let index = u32::try_from(self.index).ok()?;
        if !holds_flow(self.state) {
            return None;
        }
        let epoch = (self.state & KEY_EPOCH_MASK) >> KEY_EPOCH_SHIFT;
        Some(u64::from(index) | epoch << 32 | u64::from(is_reply(self.state)) << 56 | 1 << 63)
    }
}

impl FlowTable {
    /// The entry a word from [`FlowHandle::to_word`] names, if it still
    /// holds its slot.
    #[inline]
    pub fn handle_of_word(&self, word: u64) -> Option<FlowHandle> {
        if word & 1 << 63 == 0 {
            return None;
        }
        let index = (word & 0xffff_ffff) as usize;
        let state = self.states.get(index)?.load(Ordering::Acquire);
        let epoch = (word >> 32) & 0xff_ffff;
        let reply = word & 1 << 56 != 0;
        (holds_flow(state)
            && (state & KEY_EPOCH_MASK) >> KEY_EPOCH_SHIFT == epoch
            && (state & REPLY != 0) == reply)
            .then_some(FlowHandle { index, state })
    }
}

impl FlowTable {
    /// The slot of the entry a word from [`FlowHandle::to_word`] names,
    /// with the entry's handle, if the entry still holds its slot and its
    /// flow is live as [`FlowTable::lookup`] would find it.
    #[inline]
    fn live_entry_of_word(&self, word: u64, now_ms: u64) -> Option<(FlowHandle, &Slot)> {
        let handle = self.handle_of_word(word)?;
        let slot = &self.slots[handle.index];
        if slot.expired(now_ms) && !self.is_live(handle, now_ms) {
            return None;
        }
        Some((handle, slot))
    }

    /// Counts `traffic` on the entry a word from [`FlowHandle::to_word`]
    /// names, in its own orientation (a reply entry's as replies), if it
    /// still holds its slot and its flow is live as [`FlowTable::lookup`]
    /// would find it. Returns whether it counted.
    #[inline]
    pub fn touch_word(&self, word: u64, now_ms: u64, traffic: Traffic) -> bool {
        let Some((handle, slot)) = self.live_entry_of_word(word, now_ms) else {
            return false;
        };
        slot.count(now_ms, traffic, !handle.is_reply());
        true
    }

    /// Marks the entry a word from [`FlowHandle::to_word`] names as seen
    /// (see [`FlowTable::keep_alive`]), if it is still there and live.
    #[inline]
    pub fn keep_alive_word(&self, word: u64, now_ms: u64) -> bool {
        let Some((_, slot)) = self.live_entry_of_word(word, now_ms) else {
            return false;
        };
        slot.mark_seen(now_ms);
        true
    }
}

impl FlowTable {
    /// The memo of the entry `handle` names, read whole. `None` if none was
    /// written for that entry, the entry left its slot, or another thread
    /// is writing its memo at this instant.
    #[inline]
    pub fn memo_of(&self, handle: FlowHandle) -> Option<Memo> {
        let memo = self.memos.get(handle.index)?.read(handle.state)?;
        same_flow(
            self.states[handle.index].load(Ordering::Acquire),
            handle.state,
        )
        .then_some(memo)
    }

    /// Writes the memo of the entry `handle` names. Returns false, writing
    /// nothing, if the entry left its slot or another thread is writing its
    /// memo at this instant (that writer's memo then stands).
    #[inline]
    pub fn set_memo_of(&self, handle: FlowHandle, memo: &Memo) -> bool {
        let Some(cell) = self.memos.get(handle.index) else {
            return false;
        };
        let state_word = &self.states[handle.index];
        cell.write(handle.state, memo, false, || {
            same_flow(state_word.load(Ordering::Acquire), handle.state)
        })
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
    pub(super) table: &'t FlowTable,
    pub(super) handle: FlowHandle,
    pub(super) key: KeyWords,
    pub(super) verdict_tag: u32,
    pub(super) generation: u64,
}

impl FlowRef<'_> {
    /// The key stored in the slot (equal to the key looked up).
    pub fn key(&self) -> FlowKey {
        self.key.key()
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

    /// The entry's memo (see [`FlowTable::memo_of`]).
    #[inline]
    pub fn memo(&self) -> Option<Memo> {
        self.table.memo_of(self.handle)
    }

    /// See [`FlowTable::set_memo_of`].
    #[inline]
    pub fn set_memo(&self, memo: &Memo) -> bool {
        self.table.set_memo_of(self.handle, memo)
    }

    /// See [`FlowTable::update_verdict_of`].
    pub fn update_verdict(&self, verdict_tag: u32, generation: u64) -> bool {
        self.table
            .update_verdict_of(self.handle, verdict_tag, generation)
    }
}
