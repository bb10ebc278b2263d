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
mod table;
mod update;
mod values;

pub use handle::{FlowHandle, FlowRef};
pub use key::{FlowKey, FlowOwner, KeyWords};
pub use memo::{Memo, MEMO_WORDS};
pub use table::{FlowTable, DEFAULT_QUOTA_FLOOR, PROBE_WINDOW};
pub use values::{FlowPair, FlowTableStats, FlowValue, InsertOutcome, Traffic};

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
