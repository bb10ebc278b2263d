//! Entering flows: the scan of a probe window for a slot to take, the
//! choice between free, dead and evictable slots under the per-NIC quota,
//! and the claim and publication of a flow's one or two entries.

use super::handle::FlowHandle;
use super::key::FlowKey;
use super::lookup::{Probe, READ_ATTEMPTS};
use super::memo::Memo;
use super::state::*;
use super::table::FlowTable;
use super::values::{FlowPair, InsertOutcome, NewFlow, Traffic};
use crate::sync::{fence, spin, AtomicU32, Ordering};

/// How often an insert starts over after losing a race for a slot.
const INSERT_ATTEMPTS: usize = 4;

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
        self.insert_entries(&NewFlow {
            key,
            reply: None,
            verdict_tag,
            generation,
            idle_timeout_ms,
            now_ms,
            first_packet,
            memo: None,
            may_evict: true,
        })
    }

    /// Like [`FlowTable::insert`], and records `keys.reply` (the key the
    /// flow's replies will be looked up with, of the same NIC) in a second
    /// slot of the reply key's own probe window, so that a reply is found
    /// with one lookup that says it is a reply. The two entries are one
    /// flow: one quota unit, one count in [`FlowTable::len`], one item of
    /// [`FlowTable::for_each`], removed, evicted and expired together. The
    /// flow is refused ([`InsertOutcome::Full`]) unless both windows have
    /// room; a reply key of another NIC than `keys.key` is refused as
    /// [`InsertOutcome::NicOutOfRange`].
    pub fn insert_pair(
        &self,
        keys: FlowPair<'_>,
        verdict_tag: u32,
        generation: u64,
        idle_timeout_ms: u64,
        now_ms: u64,
        first_packet: Traffic,
    ) -> InsertOutcome {
        self.insert_entries(&NewFlow {
            verdict_tag,
            generation,
            ..NewFlow::pair(keys, idle_timeout_ms, now_ms, first_packet)
        })
    }

    /// Like [`FlowTable::insert_pair`], for a flow whose caller keeps what
    /// it knows of it in a memo ([`FlowRef::memo`](super::FlowRef::memo))
    /// rather than in a verdict: both entries carry `memo` from the
    /// instant they are published (their verdict tag and generation are
    /// 0). On [`InsertOutcome::Existing`] the live flow's memo stands.
    pub fn insert_pair_with_memo(
        &self,
        keys: FlowPair<'_>,
        memo: &Memo,
        idle_timeout_ms: u64,
        now_ms: u64,
        first_packet: Traffic,
    ) -> InsertOutcome {
        self.insert_entries(&NewFlow {
            memo: Some(memo),
            ..NewFlow::pair(keys, idle_timeout_ms, now_ms, first_packet)
        })
    }

    /// Like [`FlowTable::insert_pair_with_memo`], for a flow that must
    /// never end another: where its owner is over its quota, or its probe
    /// windows hold only live flows, it is refused
    /// ([`InsertOutcome::Full`]) rather than taking the owner's least
    /// recently seen live flow's slots.
    pub fn insert_pair_with_memo_keeping_live(
        &self,
        keys: FlowPair<'_>,
        memo: &Memo,
        idle_timeout_ms: u64,
        now_ms: u64,
        first_packet: Traffic,
    ) -> InsertOutcome {
        self.insert_entries(&NewFlow {
            memo: Some(memo),
            may_evict: false,
            ..NewFlow::pair(keys, idle_timeout_ms, now_ms, first_packet)
        })
    }

    /// Inlined into each entry point, with [`FlowTable::try_insert`], so
    /// that each is compiled for its own kind of flow (one entry or a
    /// pair, a memo or none, evicting or not): left to the compiler, a
    /// fourth entry point made it call one shared copy, and
    /// `flow_table/insert_new` took a third longer (`cargo bench --bench
    /// flow_table`).
    #[inline(always)]
    fn insert_entries(&self, flow: &NewFlow<'_>) -> InsertOutcome {
        let outcome = self.try_insert(flow);
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

    #[inline(always)]
    #[allow(
        clippy::too_many_lines,
        reason = "the hot insert path: one probe loop under the slots' sequence locks, kept whole so that its atomics read in the order loom and Miri check"
    )]
    fn try_insert(&self, flow: &NewFlow<'_>) -> InsertOutcome {
        let NewFlow {
            key,
            reply,
            now_ms,
            first_packet,
            ..
        } = *flow;
        let (Some(nic_flows), Some(&quota)) = (
            self.nic_flows.get(key.owner.index()),
            self.quotas.get(key.owner.index()),
        ) else {
            return InsertOutcome::NicOutOfRange;
        };
        if reply.is_some_and(|r| r.owner != key.owner) {
            return InsertOutcome::NicOutOfRange;
        }
        let probe = self.probe(key);
        let reply_probe = reply.map(|r| self.probe(r));
        for _ in 0..INSERT_ATTEMPTS {
            // Most inserts find a free slot: take it without weighing the
            // other flows of the window.
            let Ok(quick) = self.scan(
                &probe,
                key.owner.get(),
                now_ms,
                Some(first_packet),
                usize::MAX,
                false,
            ) else {
                return InsertOutcome::Existing;
            };
            let quick_choice = match (quick.same_key_dead, quick.free) {
                (Some((index, observed)), _) => Some((index, observed, Candidate::OwnDead)),
                (None, Some((index, observed))) if Self::reserve_quota(nic_flows, quota) => {
                    Some((index, observed, Candidate::Free))
                }
                _ => None,
            };
            let scan = match quick_choice {
                Some(_) => Scan::default(),
                None => match self.scan(
                    &probe,
                    key.owner.get(),
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
                if Self::reserve_quota(nic_flows, quota) {
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
                    (scan.own_oldest.filter(|_| flow.may_evict))
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
                    let Ok(quick) =
                        self.scan(rp, key.owner.get(), now_ms, None, forward.index, false)
                    else {
                        unreachable!("scan without `existing` reports no existing entry");
                    };
                    let scan = if quick.free.is_some() {
                        quick
                    } else {
                        let Ok(scan) =
                            self.scan(rp, key.owner.get(), now_ms, None, forward.index, true)
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
                        .or((scan.own_oldest.filter(|_| flow.may_evict))
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
            let fits = self.still_fits(&forward, key.owner.get(), now_ms)
                && second.is_none_or(|c| self.still_fits(&c, key.owner.get(), now_ms));
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
                        flow,
                        None,
                        link(forward.index, forward_live),
                    );
                    self.write_new_memo(c.index, reply_live, flow);
                    Some((c.index, reply_live))
                }
                _ => None,
            };
            self.slots[forward.index].write(
                &probe.words,
                flow,
                Some(first_packet),
                partner.map_or(NO_PARTNER, |(index, state)| link(index, state)),
            );
            self.write_new_memo(forward.index, forward_live, flow);
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

    /// Writes a new entry's memo, if it has one, before it is published
    /// with the state word `state`.
    #[inline]
    fn write_new_memo(&self, index: usize, state: u64, flow: &NewFlow<'_>) {
        if let Some(memo) = flow.memo {
            // The slot is claimed: no writer for its new entry can be
            // here, only one finishing for the entry it held before.
            self.memos[index].write(state, memo, true, || true);
        }
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
    pub(super) fn free_partner(&self, partner: u64) {
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
    fn reserve_quota(nic_flows: &AtomicU32, quota: u32) -> bool {
        // The loop `fetch_update` (renamed `try_update` in newer Rust)
        // runs, written out so that every supported toolchain builds it.
        let mut taken = nic_flows.load(Ordering::Relaxed);
        loop {
            if taken >= quota {
                return false;
            }
            match nic_flows.compare_exchange_weak(
                taken,
                taken + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => taken = now,
            }
        }
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
}
