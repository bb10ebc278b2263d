//! Handles to flow entries: [`FlowHandle`], which names one entry of one
//! slot and acts on it without another lookup, and [`FlowRef`], what a
//! lookup returns.

use super::state::{is_reply, KIND_FREE};
use super::{FlowKey, FlowTable, FlowValue, Traffic};

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
    pub(super) key: FlowKey,
    pub(super) verdict_tag: u32,
    pub(super) generation: u64,
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
