//! The state word of a slot: `fingerprint:16 | key_epoch:24 |
//! verdict_epoch:21 | reply:1 | kind:2` (see the layout in the module
//! documentation of [`super`]), its transitions, and the `partner` links
//! between the two entries of a pair.

pub(super) const KIND_FREE: u64 = 0;
pub(super) const KIND_CLAIMED: u64 = 1;
pub(super) const KIND_LIVE: u64 = 2;
pub(super) const KIND_UPDATING: u64 = 3;
pub(super) const KIND_MASK: u64 = 0b11;
/// Set in the state word of a reply entry (the second slot of a pair).
pub(super) const REPLY: u64 = 1 << 2;
pub(super) const VERDICT_EPOCH_SHIFT: u32 = 3;
pub(super) const VERDICT_EPOCH_MASK: u64 = ((1 << 21) - 1) << VERDICT_EPOCH_SHIFT;
pub(super) const KEY_EPOCH_SHIFT: u32 = 24;
pub(super) const KEY_EPOCH_MASK: u64 = ((1 << 24) - 1) << KEY_EPOCH_SHIFT;
pub(super) const FINGERPRINT_SHIFT: u32 = 48;
pub(super) const FINGERPRINT_MASK: u64 = 0xffff << FINGERPRINT_SHIFT;

/// A slot's `partner` word when the flow has one entry only.
pub(super) const NO_PARTNER: u64 = u64::MAX;

pub(super) fn kind(state: u64) -> u64 {
    state & KIND_MASK
}

pub(super) fn fingerprint(state: u64) -> u64 {
    state >> FINGERPRINT_SHIFT
}

pub(super) fn holds_flow(state: u64) -> bool {
    matches!(kind(state), KIND_LIVE | KIND_UPDATING)
}

pub(super) fn is_reply(state: u64) -> bool {
    state & REPLY != 0
}

/// Whether two state words name the same entry in the same slot (verdict
/// updates aside).
pub(super) fn same_flow(a: u64, b: u64) -> bool {
    holds_flow(a) && holds_flow(b) && owner(a) == owner(b)
}

/// The part of a state word that names one entry for the lifetime of its
/// slot's owner: fingerprint, key epoch and reply mark (never 0 for an
/// entry that holds a flow, whose key epoch moved on from the free slot's).
pub(super) fn owner(state: u64) -> u64 {
    state & (FINGERPRINT_MASK | KEY_EPOCH_MASK | REPLY)
}

pub(super) fn with_kind(state: u64, new_kind: u64) -> u64 {
    (state & !KIND_MASK) | new_kind
}

/// The state word of a slot changing hands: next key epoch, new kind, no
/// reply mark.
pub(super) fn next_owner(state: u64, new_kind: u64) -> u64 {
    let epoch = (state & KEY_EPOCH_MASK).wrapping_add(1 << KEY_EPOCH_SHIFT) & KEY_EPOCH_MASK;
    (state & !(KEY_EPOCH_MASK | KIND_MASK | REPLY)) | epoch | new_kind
}

pub(super) fn next_verdict(state: u64, new_kind: u64) -> u64 {
    let epoch =
        (state & VERDICT_EPOCH_MASK).wrapping_add(1 << VERDICT_EPOCH_SHIFT) & VERDICT_EPOCH_MASK;
    (state & !(VERDICT_EPOCH_MASK | KIND_MASK)) | epoch | new_kind
}

pub(super) fn with_fingerprint(state: u64, fp: u64) -> u64 {
    (state & !FINGERPRINT_MASK) | (fp << FINGERPRINT_SHIFT)
}

/// The `partner` word naming the entry at `index` whose state word is
/// `state`: the slot index and its key epoch.
pub(super) fn link(index: usize, state: u64) -> u64 {
    (index as u64) << 24 | (state & KEY_EPOCH_MASK) >> KEY_EPOCH_SHIFT
}

pub(super) fn link_index(link: u64) -> usize {
    (link >> 24) as usize
}

/// Whether the state word `state` is the entry `link` names.
pub(super) fn links_to(link: u64, state: u64) -> bool {
    holds_flow(state) && (state & KEY_EPOCH_MASK) >> KEY_EPOCH_SHIFT == link & 0xff_ffff
}

pub(super) fn is_expired(now_ms: u64, last_seen_ms: u64, idle_timeout_ms: u64) -> bool {
    now_ms.saturating_sub(last_seen_ms) > idle_timeout_ms
}
