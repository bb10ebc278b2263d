//! Entries' memos: what the caller keeps with one entry, read whole and
//! written by one writer at a time under a sequence number of their own,
//! apart from the key's and verdict's sequence lock (so that writing a
//! memo never holds up a lookup, and a reply entry's memo is written by
//! whoever found it, not only by the holder of its forward entry). Memos
//! live in an array of their own, one cache line per slot, so that the
//! lookups that do not read them keep the two-line slots they touch.
//!
//! A memo is tagged with the entry it was written for (its fingerprint, key
//! epoch and reply mark): once the slot changes hands, the old memo
//! answers for nobody.

use super::state::owner;
use crate::sync::{fence, spin, AtomicU64, Ordering};

/// Words in an entry's memo ([`Memo`]).
pub const MEMO_WORDS: usize = 6;

/// What the caller keeps with one entry, beyond the verdict: words the
/// table stores and returns whole but never reads (the packet path keeps
/// there what it decided for the packets that find the entry). Written
/// with [`FlowTable::set_memo_of`] or at insert
/// ([`FlowTable::insert_pair_with_memo`]), read with [`FlowRef::memo`].
///
/// [`FlowTable::set_memo_of`]: super::FlowTable::set_memo_of
/// [`FlowTable::insert_pair_with_memo`]: super::FlowTable::insert_pair_with_memo
/// [`FlowRef::memo`]: super::FlowRef::memo
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Memo(pub [u64; MEMO_WORDS]);

/// One slot's memo.
#[derive(Default)]
#[repr(C, align(64))]
pub(super) struct MemoCell {
    /// Odd while a writer rewrites the memo.
    seq: AtomicU64,
    /// The owner part of the state word of the entry the memo was written
    /// for: a memo left by an earlier owner of the slot never answers for
    /// the current one.
    owner: AtomicU64,
    words: [AtomicU64; MEMO_WORDS],
}

impl MemoCell {
    /// The memo written for the entry whose state word is `state`, read
    /// whole: `None` if a writer is rewriting it at this instant, or if it
    /// was written for another entry (or never).
    #[inline]
    pub(super) fn read(&self, state: u64) -> Option<Memo> {
        let s0 = self.seq.load(Ordering::Acquire);
        if s0 & 1 == 1 {
            return None;
        }
        let written_for = self.owner.load(Ordering::Relaxed);
        let words = std::array::from_fn(|i| self.words[i].load(Ordering::Relaxed));
        fence(Ordering::Acquire);
        (self.seq.load(Ordering::Relaxed) == s0 && written_for == owner(state))
            .then_some(Memo(words))
    }

    /// Writes the memo of the entry whose state word is `state`, if no
    /// other writer holds it; `still_owned` is asked once the memo is held,
    /// so that a memo is never written for an entry that has left the
    /// slot. `wait` makes a held memo be waited for (a writer holds it for
    /// a few stores) instead of given up. Returns whether it was written.
    #[inline]
    pub(super) fn write(
        &self,
        state: u64,
        memo: &Memo,
        wait: bool,
        still_owned: impl Fn() -> bool,
    ) -> bool {
        let held = loop {
            let seq = self.seq.load(Ordering::Relaxed);
            if seq & 1 == 0
                && self
                    .seq
                    .compare_exchange(seq, seq + 1, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                break seq + 1;
            }
            if !wait {
                return false;
            }
            spin();
        };
        let owned = still_owned();
        if owned {
            fence(Ordering::Release);
            self.owner.store(owner(state), Ordering::Relaxed);
            for (field, word) in self.words.iter().zip(memo.0) {
                field.store(word, Ordering::Relaxed);
            }
        }
        self.seq.store(held + 1, Ordering::Release);
        owned
    }
}
