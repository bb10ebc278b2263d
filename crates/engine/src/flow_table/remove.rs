//! Ending flows: removal by key or by handle and the sweep that frees dead
//! flows a few slots at a time. Both entries of a pair go together, always
//! through the forward entry.

use super::handle::FlowHandle;
use super::key::FlowKey;
use super::lookup::READ_ATTEMPTS;
use super::state::*;
use super::table::FlowTable;
use crate::sync::{spin, Ordering};

impl FlowTable {
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
    pub(super) fn forward_of(&self, handle: FlowHandle) -> Option<(usize, u64)> {
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
