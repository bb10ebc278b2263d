//! Reading the table: a key's probe window, the sequence-locked read of a
//! slot, lookups, counting packets on a found flow, and snapshots of flows'
//! values.

use super::handle::{FlowHandle, FlowRef};
use super::key::{hash_words, same_words, FlowKey, KeyWords};
use super::state::*;
use super::table::{FlowTable, PROBE_WINDOW};
use super::values::{FlowValue, Traffic};
use crate::sync::{fence, spin, AtomicU64, Ordering};

/// How often a reader retries a slot whose verdict is being rewritten (a
/// window of two stores) before treating the flow as absent for this packet.
pub(super) const READ_ATTEMPTS: usize = 32;

/// Where a key's probe starts and the fingerprint its slot carries.
#[derive(Clone, Copy)]
pub(super) struct Probe {
    pub(super) words: [u64; 6],
    pub(super) home: usize,
    pub(super) fingerprint: u64,
}

/// One consistent read of a slot holding a flow.
pub(super) struct SlotRead {
    pub(super) state: u64,
    pub(super) key_matches: bool,
    pub(super) verdict_tag: u32,
    pub(super) generation: u64,
    /// This entry's side has been idle too long (the other side of a pair
    /// may still be live).
    pub(super) expired: bool,
}

impl FlowTable {
    #[inline]
    pub(super) fn probe(&self, key: &FlowKey) -> Probe {
        self.probe_words(key.to_words())
    }

    #[inline]
    pub(super) fn probe_words(&self, words: [u64; 6]) -> Probe {
        let hash = hash_words(&words);
        Probe {
            words,
            home: hash as usize & self.mask,
            fingerprint: hash >> FINGERPRINT_SHIFT,
        }
    }

    #[inline]
    pub(super) fn window(&self, probe: &Probe) -> impl Iterator<Item = usize> + '_ {
        let home = probe.home;
        (0..PROBE_WINDOW).map(move |i| (home + i) & self.mask)
    }

    /// Reads the slot at `index` under the sequence lock. `None` if it holds
    /// no flow with the probe's fingerprint, or if its verdict stayed in the
    /// middle of an update for all attempts.
    #[inline]
    pub(super) fn read_slot(&self, index: usize, probe: &Probe, now_ms: u64) -> Option<SlotRead> {
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

    /// The slot `partner` names, its state word and that word's value,
    /// read once; `None` if there is no partner or the link no longer
    /// holds.
    #[inline]
    pub(super) fn linked(&self, partner: u64) -> Option<(usize, &AtomicU64, u64)> {
        if partner == NO_PARTNER {
            return None;
        }
        let index = link_index(partner);
        let state_word = self.states.get(index)?;
        let s0 = state_word.load(Ordering::Acquire);
        links_to(partner, s0).then_some((index, state_word, s0))
    }

    /// The last-seen time of the entry `partner` names, and whether its
    /// side is live; `None` if the link no longer holds.
    pub(super) fn side_last_seen(&self, partner: u64, now_ms: u64) -> Option<(u64, bool)> {
        let (index, state_word, s0) = self.linked(partner)?;
        let slot = &self.slots[index];
        let last_seen = slot.last_seen();
        let live = !slot.expired(now_ms);
        fence(Ordering::Acquire);
        same_flow(state_word.load(Ordering::Relaxed), s0).then_some((last_seen, live))
    }

    /// Whether a flow whose entry's own side is `expired` is dead, both
    /// sides considered.
    #[inline]
    pub(super) fn pair_dead(&self, expired: bool, partner: u64, now_ms: u64) -> bool {
        expired && !self.side_live(partner, now_ms)
    }

    /// The live flow of `key`, if any: the forward entry of a flow, or the
    /// reply entry of a pair ([`FlowRef::is_reply`]). One probe; no lock,
    /// allocation or system call.
    #[inline]
    pub fn lookup(&self, key: &FlowKey, now_ms: u64) -> Option<FlowRef<'_>> {
        self.lookup_words(&KeyWords::of(key), now_ms)
    }

    /// [`FlowTable::lookup`] of a key given as its words.
    #[inline]
    pub fn lookup_words(&self, key: &KeyWords, now_ms: u64) -> Option<FlowRef<'_>> {
        let probe = self.probe_words(key.0);
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

    /// Whether the entry `handle` names still holds its slot and its flow
    /// is live as [`FlowTable::lookup`] would find it: its own side seen
    /// within its idle timeout, or the other side of its pair. For entries
    /// found earlier, before they are counted again.
    #[inline]
    pub fn is_live(&self, handle: FlowHandle, now_ms: u64) -> bool {
        let Some(state_word) = self.states.get(handle.index) else {
            return false;
        };
        same_flow(state_word.load(Ordering::Acquire), handle.state)
            && (!self.slots[handle.index].expired(now_ms)
                || self
                    .partner_of(handle)
                    .is_some_and(|partner| self.side_live(partner, now_ms)))
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
        self.slots[handle.index].mark_seen(now_ms);
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
    pub(super) fn partner_of(&self, handle: FlowHandle) -> Option<u64> {
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
        value.memo = self.memos[handle.index].read(handle.state);
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
        let (index, state_word, s0) = self.linked(partner)?;
        let mut value = self.slots[index].value();
        value.memo = self.memos[index].read(s0);
        fence(Ordering::Acquire);
        same_flow(state_word.load(Ordering::Relaxed), s0).then_some(value)
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
                let mut value = slot.value();
                value.memo = self.memos[index].read(s0);
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
