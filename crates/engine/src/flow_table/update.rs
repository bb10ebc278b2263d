//! Re-recording a live flow's verdict (after re-evaluating it under a new
//! snapshot), on both entries of a pair, under the sequence lock.

use super::handle::FlowHandle;
use super::key::FlowKey;
use super::state::*;
use super::table::FlowTable;
use crate::sync::{fence, Ordering};

impl FlowTable {
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
        let (index, state_word, current) = self.linked(partner)?;
        if kind(current) != KIND_LIVE {
            return None;
        }
        let updating = next_verdict(current, KIND_UPDATING);
        state_word
            .compare_exchange(current, updating, Ordering::AcqRel, Ordering::Relaxed)
            .ok()?;
        fence(Ordering::Release);
        Some((index, updating))
    }
}
