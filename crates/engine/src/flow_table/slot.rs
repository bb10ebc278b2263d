//! The body of one slot: the key, the verdict and the counters of one
//! entry, each an atomic read and written under the sequence lock of the
//! slot's state word.

use super::state::is_expired;
use super::values::{FlowValue, NewFlow, Traffic};
use crate::sync::{AtomicU32, AtomicU64, Ordering};

/// The body of one slot: two cache lines, the first holding what a lookup
/// compares and returns, the second the expiry and the counters of this
/// entry's side of the flow.
#[derive(Default)]
#[repr(C, align(64))]
pub(super) struct Slot {
    pub(super) key: [AtomicU64; 6],
    pub(super) verdict_tag: AtomicU32,
    pub(super) generation: AtomicU64,
    pub(super) idle_timeout_ms: AtomicU64,
    pub(super) last_seen_ms: AtomicU64,
    pub(super) created_ms: AtomicU64,
    pub(super) forward_packets: AtomicU64,
    pub(super) forward_bytes: AtomicU64,
    pub(super) reverse_packets: AtomicU64,
    pub(super) reverse_bytes: AtomicU64,
    /// The other entry of the pair ([`link`](super::state::link)), or [`NO_PARTNER`](super::state::NO_PARTNER). Written
    /// with the key, before publication; fixed while the slot has its owner.
    pub(super) partner: AtomicU64,
}

impl Slot {
    #[inline]
    pub(super) fn load_key(&self) -> [u64; 6] {
        std::array::from_fn(|i| self.key[i].load(Ordering::Relaxed))
    }

    pub(super) fn owner(&self) -> u32 {
        self.key[0].load(Ordering::Relaxed) as u32
    }

    #[inline]
    pub(super) fn partner(&self) -> u64 {
        self.partner.load(Ordering::Relaxed)
    }

    pub(super) fn last_seen(&self) -> u64 {
        self.last_seen_ms.load(Ordering::Relaxed)
    }

    #[inline]
    pub(super) fn expired(&self, now_ms: u64) -> bool {
        is_expired(
            now_ms,
            self.last_seen_ms.load(Ordering::Relaxed),
            self.idle_timeout_ms.load(Ordering::Relaxed),
        )
    }

    /// Marks the entry as seen at `now_ms` without counting a packet: one
    /// read, and a store at most once per millisecond.
    #[inline]
    pub(super) fn mark_seen(&self, now_ms: u64) {
        if self.last_seen_ms.load(Ordering::Relaxed) < now_ms {
            self.last_seen_ms.store(now_ms, Ordering::Relaxed);
        }
    }

    /// The entry's value, without its memo (kept apart, see
    /// [`super::memo`]).
    pub(super) fn value(&self) -> FlowValue {
        FlowValue {
            memo: None,
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
    pub(super) fn count(&self, now_ms: u64, traffic: Traffic, forward: bool) -> u64 {
        let (packets, total) = if forward {
            (&self.forward_packets, &self.forward_bytes)
        } else {
            (&self.reverse_packets, &self.reverse_bytes)
        };
        // Read before the counters' read-modify-writes, which would hold
        // this load back until they complete.
        let last_seen = self.last_seen_ms.load(Ordering::Relaxed);
        packets.fetch_add(traffic.packets, Ordering::Relaxed);
        total.fetch_add(traffic.bytes, Ordering::Relaxed);
        // Most packets arrive within the same coarse millisecond: skip the
        // store then, so the cache line is not dirtied for nothing.
        if last_seen < now_ms {
            self.last_seen_ms.store(now_ms, Ordering::Relaxed);
        }
        last_seen
    }

    /// Writes a new entry's body (the slot is claimed by the caller).
    /// `words` is the entry's key (the flow's, or its reply key), whose
    /// verdict and times come from `flow`; `first_packet` is counted
    /// forward (the forward entry's). Inlined: inserts call it from
    /// another module, which may be compiled apart from this one.
    #[inline(always)]
    pub(super) fn write(
        &self,
        words: &[u64; 6],
        flow: &NewFlow<'_>,
        first_packet: Option<Traffic>,
        partner: u64,
    ) {
        let NewFlow {
            verdict_tag,
            generation,
            idle_timeout_ms,
            now_ms,
            ..
        } = *flow;
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
