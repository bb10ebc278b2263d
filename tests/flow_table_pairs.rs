//! The flow table's pairs against their contract: a flow and its reply
//! held as one entry, found by either key, counted once, and a reference
//! model and concurrent churn of pairs.

use proptest::prelude::*;
use std::collections::HashMap;
use std::net::Ipv6Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use vnetd::engine::flow_table::{
    FlowKey, FlowOwner, FlowPair, FlowTable, InsertOutcome, Memo, Traffic, MEMO_WORDS, PROBE_WINDOW,
};

mod flow_table_shared;
use flow_table_shared::{churn, key, LONG};

// ---------------------------------------------------------------- pairs

/// The reply key of `key`: the reversed 5-tuple, in the other direction.
fn reply_of(key: &FlowKey) -> FlowKey {
    let mut reply = key.reversed();
    reply.direction ^= 1;
    reply
}

#[test]
fn a_reply_is_found_with_one_lookup_of_its_own_key() {
    let table = FlowTable::new(1024, 4, 0);
    let k = key(1, 7);
    let r = reply_of(&k);
    assert_eq!(
        table.insert_pair(
            FlowPair { key: &k, reply: &r },
            42,
            3,
            LONG,
            1_000,
            Traffic::packet(100)
        ),
        InsertOutcome::Inserted
    );
    let forward = table.lookup(&k, 1_001).unwrap();
    assert!(!forward.is_reply());
    let reply = table.lookup(&r, 1_002).unwrap();
    assert!(reply.is_reply());
    assert_eq!(reply.key(), r);
    assert_eq!((reply.verdict_tag(), reply.generation()), (42, 3));
    assert!(reply.touch(1_003, Traffic::packet(60), false));
    // One flow, counted in its own orientation whichever entry is asked.
    for flow in [forward, reply] {
        let v = flow.value().unwrap();
        assert_eq!(
            [
                v.forward_packets,
                v.forward_bytes,
                v.reverse_packets,
                v.reverse_bytes
            ],
            [1, 100, 1, 60]
        );
        assert_eq!((v.created_ms, v.last_seen_ms), (1_000, 1_003));
    }
    assert_eq!(table.len(), 1);
    let mut listed = Vec::new();
    table.for_each(1_004, |k, v| listed.push((*k, v.reverse_packets)));
    assert_eq!(listed, vec![(k, 1)]);
    // A pair's entries belong to one NIC.
    let mut foreign = r;
    foreign.owner = FlowOwner::new(2);
    assert_eq!(
        table.insert_pair(
            FlowPair {
                key: &key(1, 8),
                reply: &foreign
            },
            1,
            1,
            LONG,
            1_000,
            Traffic::packet(0)
        ),
        InsertOutcome::NicOutOfRange
    );
}

#[test]
fn a_pair_lives_while_either_side_is_seen_and_goes_as_one() {
    let table = FlowTable::new(1024, 4, 0);
    let k = key(0, 3);
    let r = reply_of(&k);
    table.insert_pair(
        FlowPair { key: &k, reply: &r },
        1,
        1,
        100,
        0,
        Traffic::packet(10),
    );
    // Only the replies keep coming: the flow stays.
    assert!(table
        .lookup(&r, 90)
        .unwrap()
        .touch(90, Traffic::packet(10), false));
    assert!(table.lookup(&k, 150).is_some());
    assert_eq!(table.sweep(150, 1024), 0);
    // Both sides idle past the timeout: dead by either key, and one sweep
    // frees both entries.
    assert!(table.lookup(&k, 191).is_none());
    assert!(table.lookup(&r, 191).is_none());
    assert_eq!(table.sweep(191, 1024), 1);
    assert_eq!(table.len(), 0);
    assert_eq!(
        table.insert_pair(
            FlowPair { key: &k, reply: &r },
            2,
            2,
            100,
            200,
            Traffic::packet(10)
        ),
        InsertOutcome::Inserted
    );
    // Removing by the reply key takes the whole flow.
    assert!(table.remove(&r, 201));
    assert!(table.lookup(&k, 201).is_none());
    assert_eq!(table.owner_len(FlowOwner::new(0)), 0);
}

#[test]
fn a_pair_counts_once_against_the_quota() {
    // One probe window: every flow may replace every other.
    let table = FlowTable::new(PROBE_WINDOW, 2, 2);
    for n in 0..2 {
        let k = key(1, n);
        assert_eq!(
            table.insert_pair(
                FlowPair {
                    key: &k,
                    reply: &reply_of(&k)
                },
                n,
                1,
                LONG,
                0,
                Traffic::packet(0)
            ),
            InsertOutcome::Inserted
        );
    }
    assert_eq!((table.owner_len(FlowOwner::new(1)), table.len()), (2, 2));
    // Over the quota the NIC replaces its own least recently seen flow,
    // both entries of it.
    assert!(table
        .lookup(&key(1, 0), 5)
        .unwrap()
        .touch(5, Traffic::packet(1), true));
    let k = key(1, 9);
    assert_eq!(
        table.insert_pair(
            FlowPair {
                key: &k,
                reply: &reply_of(&k)
            },
            9,
            1,
            LONG,
            10,
            Traffic::packet(0)
        ),
        InsertOutcome::Evicted
    );
    assert_eq!(table.owner_len(FlowOwner::new(1)), 2);
    assert!(table.lookup(&key(1, 1), 10).is_none());
    assert!(table.lookup(&reply_of(&key(1, 1)), 10).is_none());
    assert!(table.lookup(&reply_of(&key(1, 0)), 10).is_some());
    assert!(table.lookup(&reply_of(&k), 10).is_some());
    // Another NIC is untouched by the first one's quota.
    let other = key(0, 1);
    assert_eq!(
        table.insert_pair(
            FlowPair {
                key: &other,
                reply: &reply_of(&other)
            },
            1,
            1,
            LONG,
            10,
            Traffic::packet(0)
        ),
        InsertOutcome::Inserted
    );
}

#[test]
fn a_handle_does_nothing_once_its_flow_has_left_the_slot() {
    // Sixteen slots, all taken again by eight new pairs: the freed ones are
    // certainly reused.
    let table = FlowTable::new(PROBE_WINDOW, 2, 0);
    let k = key(0, 1);
    table.insert_pair(
        FlowPair {
            key: &k,
            reply: &reply_of(&k),
        },
        5,
        1,
        LONG,
        0,
        Traffic::packet(0),
    );
    let stale = table.lookup(&reply_of(&k), 0).unwrap().handle();
    let stale_forward = table.lookup(&k, 0).unwrap().handle();
    assert!(table.remove_flow(stale, 1));
    let mut fresh = Vec::new();
    for n in 2..10 {
        let k = key(0, n);
        assert_eq!(
            table.insert_pair(
                FlowPair {
                    key: &k,
                    reply: &reply_of(&k)
                },
                n,
                1,
                LONG,
                2,
                Traffic::packet(0)
            ),
            InsertOutcome::Inserted
        );
        fresh.push(k);
    }
    assert_eq!(table.len(), 8);
    for stale in [stale, stale_forward] {
        assert!(!table.touch(stale, 3, Traffic::packet(1_000), false));
        assert!(!table.touch(stale, 3, Traffic::packet(1_000), true));
        assert!(!table.shorten_idle_timeout(stale, 1));
        assert!(!table.update_verdict_of(stale, 99, 99));
        assert!(!table.remove_flow(stale, 3));
        assert!(table.value(stale).is_none());
    }
    for (n, k) in (2..).zip(&fresh) {
        let v = table.lookup(k, 4).unwrap().value().unwrap();
        assert_eq!((v.verdict_tag, v.idle_timeout_ms), (n, LONG));
        assert_eq!(
            [
                v.forward_packets,
                v.forward_bytes,
                v.reverse_packets,
                v.reverse_bytes
            ],
            [1, 0, 0, 0]
        );
    }
    assert_eq!(table.len(), 8);
}

/// Forward keys only (direction 0): their reply keys (direction 1) are
/// never another flow's forward key.
fn pair_pool() -> Vec<FlowKey> {
    let mut keys = Vec::new();
    for n in 0..8u32 {
        keys.push(key(n % 3, n));
        keys.push(FlowKey::v6(
            FlowOwner::new(n % 3),
            0,
            17,
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n as u16),
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xffff),
            n as u16 + 1,
            53,
        ));
    }
    keys
}

#[derive(Debug, Clone)]
enum PairOp {
    Insert {
        key: usize,
        tag: u32,
        bytes: u64,
    },
    /// A packet of the flow, by its own key or (`reply`) its reply key.
    Packet {
        key: usize,
        reply: bool,
        bytes: u64,
    },
    Remove {
        key: usize,
        reply: bool,
    },
    /// Through the handle of a lookup by either key.
    RemoveByHandle {
        key: usize,
        reply: bool,
    },
    UpdateVerdict {
        key: usize,
        reply: bool,
        tag: u32,
    },
    Shorten {
        key: usize,
        reply: bool,
        ms: u64,
    },
    Advance {
        ms: u64,
    },
    Sweep,
}

fn pair_op() -> impl Strategy<Value = PairOp> {
    let key = 0..16usize;
    prop_oneof![
        3 => (key.clone(), any::<u32>(), 0..65_536u64)
            .prop_map(|(key, tag, bytes)| PairOp::Insert { key, tag, bytes }),
        4 => (key.clone(), any::<bool>(), 0..65_536u64)
            .prop_map(|(key, reply, bytes)| PairOp::Packet { key, reply, bytes }),
        1 => (key.clone(), any::<bool>()).prop_map(|(key, reply)| PairOp::Remove { key, reply }),
        1 => (key.clone(), any::<bool>())
            .prop_map(|(key, reply)| PairOp::RemoveByHandle { key, reply }),
        1 => (key.clone(), any::<bool>(), any::<u32>())
            .prop_map(|(key, reply, tag)| PairOp::UpdateVerdict { key, reply, tag }),
        1 => (key, any::<bool>(), prop::sample::select(vec![3u64, 30, 300]))
            .prop_map(|(key, reply, ms)| PairOp::Shorten { key, reply, ms }),
        2 => prop::sample::select(vec![1u64, 20, 60, 101, 250]).prop_map(|ms| PairOp::Advance { ms }),
        1 => Just(PairOp::Sweep),
    ]
}

/// The reference of one paired flow: each side's last sighting.
#[derive(Debug, Clone, Copy)]
struct RefPair {
    tag: u32,
    generation: u64,
    timeout: u64,
    created: u64,
    seen: [u64; 2],
    counts: [u64; 4],
}

impl RefPair {
    fn live(&self, now: u64) -> bool {
        self.seen
            .iter()
            .any(|&seen| now.saturating_sub(seen) <= self.timeout)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Paired flows against a map of flows: found by either key, counted
    /// in the flow's orientation, alive while either side is seen, removed,
    /// re-judged and shortened as one, through keys and handles alike.
    #[test]
    fn pairs_agree_with_a_map_of_flows(ops in prop::collection::vec(pair_op(), 1..200)) {
        const TIMEOUT: u64 = 100;
        let keys = pair_pool();
        let table = FlowTable::new(1024, 3, 0);
        let mut model: HashMap<FlowKey, RefPair> = HashMap::new();
        let mut now = 1_000u64;
        for op in ops {
            match op {
                PairOp::Insert { key, tag, bytes } => {
                    let k = keys[key];
                    let got = table.insert_pair(FlowPair { key: &k, reply: &reply_of(&k) }, tag, 7, TIMEOUT, now, Traffic::packet(bytes));
                    match model.get_mut(&k).filter(|f| f.live(now)) {
                        Some(flow) => {
                            prop_assert_eq!(got, InsertOutcome::Existing);
                            flow.counts[0] += 1;
                            flow.counts[1] += bytes;
                            flow.seen[0] = now;
                        }
                        None => {
                            prop_assert_eq!(got, InsertOutcome::Inserted);
                            model.insert(k, RefPair {
                                tag, generation: 7, timeout: TIMEOUT, created: now,
                                seen: [now, now], counts: [1, bytes, 0, 0],
                            });
                        }
                    }
                }
                PairOp::Packet { key, reply, bytes } => {
                    let k = keys[key];
                    let asked = if reply { reply_of(&k) } else { k };
                    let expected = model.get_mut(&k).filter(|f| f.live(now));
                    let got = table.lookup(&asked, now);
                    prop_assert_eq!(got.is_some(), expected.is_some());
                    if let (Some(flow), Some(reference)) = (got, expected) {
                        prop_assert_eq!(flow.is_reply(), reply);
                        prop_assert_eq!(flow.key(), asked);
                        prop_assert!(flow.touch(now, Traffic::packet(bytes), !reply));
                        let side = usize::from(reply);
                        reference.counts[2 * side] += 1;
                        reference.counts[2 * side + 1] += bytes;
                        reference.seen[side] = now;
                        let v = flow.value().unwrap();
                        prop_assert_eq!((v.verdict_tag, v.generation), (reference.tag, reference.generation));
                        prop_assert_eq!((v.created_ms, v.idle_timeout_ms), (reference.created, reference.timeout));
                        prop_assert_eq!(v.last_seen_ms, reference.seen[0].max(reference.seen[1]));
                        prop_assert_eq!(
                            [v.forward_packets, v.forward_bytes, v.reverse_packets, v.reverse_bytes],
                            reference.counts
                        );
                    }
                }
                PairOp::Remove { key, reply } => {
                    let k = keys[key];
                    let asked = if reply { reply_of(&k) } else { k };
                    let expected = model.remove(&k).is_some_and(|f| f.live(now));
                    prop_assert_eq!(table.remove(&asked, now), expected);
                    prop_assert!(table.lookup(&k, now).is_none());
                    prop_assert!(table.lookup(&reply_of(&k), now).is_none());
                }
                PairOp::RemoveByHandle { key, reply } => {
                    let k = keys[key];
                    let asked = if reply { reply_of(&k) } else { k };
                    if let Some(flow) = table.lookup(&asked, now) {
                        prop_assert!(model.remove(&k).is_some_and(|f| f.live(now)));
                        prop_assert!(table.remove_flow(flow.handle(), now));
                        prop_assert!(!table.remove_flow(flow.handle(), now));
                    } else {
                        prop_assert!(!model.get(&k).is_some_and(|f| f.live(now)));
                    }
                }
                PairOp::UpdateVerdict { key, reply, tag } => {
                    let k = keys[key];
                    let asked = if reply { reply_of(&k) } else { k };
                    if let Some(flow) = table.lookup(&asked, now) {
                        prop_assert!(table.update_verdict_of(flow.handle(), tag, 9));
                        let reference = model.get_mut(&k).unwrap();
                        reference.tag = tag;
                        reference.generation = 9;
                        // Both entries carry the new verdict.
                        for entry in [k, reply_of(&k)] {
                            let found = table.lookup(&entry, now).unwrap();
                            prop_assert_eq!((found.verdict_tag(), found.generation()), (tag, 9));
                        }
                    }
                }
                PairOp::Shorten { key, reply, ms } => {
                    let k = keys[key];
                    let asked = if reply { reply_of(&k) } else { k };
                    if let Some(flow) = table.lookup(&asked, now) {
                        prop_assert!(table.shorten_idle_timeout(flow.handle(), ms));
                        let reference = model.get_mut(&k).unwrap();
                        reference.timeout = reference.timeout.min(ms);
                    }
                }
                PairOp::Advance { ms } => now += ms,
                PairOp::Sweep => {
                    table.sweep(now, table.capacity());
                    model.retain(|_, f| f.live(now));
                    prop_assert_eq!(table.len(), model.len());
                }
            }
            let live: HashMap<FlowKey, RefPair> =
                model.iter().filter(|(_, f)| f.live(now)).map(|(k, f)| (*k, *f)).collect();
            let mut listed = 0;
            let mut wrong = Vec::new();
            table.for_each(now, |k, v| {
                listed += 1;
                match live.get(k) {
                    Some(f) if f.tag == v.verdict_tag && f.counts
                        == [v.forward_packets, v.forward_bytes, v.reverse_packets, v.reverse_bytes] => {}
                    _ => wrong.push(*k),
                }
            });
            prop_assert_eq!(wrong, Vec::<FlowKey>::new());
            prop_assert_eq!(listed, live.len());
            // A pair is one unit of its NIC's count; dead flows count
            // until swept or reused, which the map cannot foresee.
            for nic in 0..3 {
                let held = model.keys().filter(|k| k.owner == FlowOwner::new(nic)).count();
                let alive = live.keys().filter(|k| k.owner == FlowOwner::new(nic)).count();
                let counted = table.owner_len(FlowOwner::new(nic));
                prop_assert!(alive <= counted && counted <= held, "nic {}: {} live, {} held, {} counted", nic, alive, held, counted);
            }
        }
    }
}

/// Writers insert, remove (by either key or a handle) and re-judge pairs
/// in a small table while readers look flows up by either key: every entry
/// found is the key asked for, says rightly whether it is a reply, and
/// carries a verdict written for its flow; at the end the per-NIC counts
/// match the flows listed, and no reply entry outlives its flow.
#[test]
fn concurrent_pair_churn_never_yields_a_wrong_or_torn_entry() {
    const KEYS: u64 = 100;
    const OPS: u64 = 200_000;
    let table = FlowTable::new(128, 2, 0);
    let hits = AtomicU64::new(0);
    churn(0x9e37_79b9_7f4a_7c15, OPS, |t, r| {
        let n = r % KEYS;
        let k = key((n % 2) as u32, n as u32);
        let reply = r & (1 << 40) != 0;
        let asked = if reply { reply_of(&k) } else { k };
        let version = (r >> 32) % 1000;
        if t < 2 {
            match (r >> 20) % 4 {
                0 => {
                    table.insert_pair(
                        FlowPair {
                            key: &k,
                            reply: &reply_of(&k),
                        },
                        n as u32,
                        n * 1000 + version,
                        LONG,
                        0,
                        Traffic::packet(1),
                    );
                }
                1 => {
                    table.remove(&asked, 0);
                }
                2 => {
                    if let Some(flow) = table.lookup(&asked, 0) {
                        table.remove_flow(flow.handle(), 0);
                    }
                }
                _ => {
                    if let Some(flow) = table.lookup(&asked, 0) {
                        table.update_verdict_of(flow.handle(), n as u32, n * 1000 + version);
                    }
                }
            }
        } else if let Some(flow) = table.lookup(&asked, 0) {
            let ok = flow.key() == asked
                && flow.is_reply() == reply
                && u64::from(flow.verdict_tag()) == n
                && flow.generation() / 1000 == n;
            if !ok {
                return Err(format!(
                    "asked for {asked:?}, got {:?} (reply {}) tag {} generation {}",
                    flow.key(),
                    flow.is_reply(),
                    flow.verdict_tag(),
                    flow.generation()
                ));
            }
            flow.touch(0, Traffic::packet(1), !reply);
            hits.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    assert!(hits.load(Ordering::Relaxed) > 0, "readers found flows");
    let mut flows = Vec::new();
    table.for_each(0, |k, _| flows.push(*k));
    assert_eq!(table.len(), flows.len(), "per-NIC counts match the flows");
    for n in 0..KEYS {
        let k = key((n % 2) as u32, n as u32);
        assert_eq!(
            table.lookup(&reply_of(&k), 0).is_some(),
            flows.contains(&k),
            "{k:?}: a reply entry without its flow, or the reverse"
        );
    }
}

// ---------------------------------------------------------------- memos

/// A memo of six equal words: a torn read shows two different ones.
fn memo(n: u64) -> Memo {
    Memo([n; MEMO_WORDS])
}

#[test]
fn a_handle_keeps_its_entrys_memo_and_nobody_elses() {
    let table = FlowTable::new(PROBE_WINDOW, 2, 0);
    let k = key(0, 1);
    let pair = FlowPair {
        key: &k,
        reply: &reply_of(&k),
    };
    table.insert_pair(pair, 5, 1, LONG, 0, Traffic::packet(0));
    let forward = table.lookup(&k, 0).unwrap();
    let reply = table.lookup(&reply_of(&k), 0).unwrap();
    assert_eq!(forward.memo(), None, "no memo until one is written");
    assert!(reply.set_memo(&memo(7)));
    // Each entry has its own memo; the value of a pair shows the forward
    // entry's.
    assert_eq!(reply.memo(), Some(memo(7)));
    assert_eq!(forward.memo(), None);
    assert!(forward.set_memo(&memo(8)));
    assert_eq!(table.value(reply.handle()).unwrap().memo, Some(memo(8)));
    // A verdict update leaves the memos alone.
    assert!(table.update_verdict_of(forward.handle(), 6, 2));
    assert_eq!(table.memo_of(reply.handle()), Some(memo(7)));
    // Once the flow has left, its handles neither read nor write memos, and
    // the flows that take its slots start without one.
    let stale = [forward.handle(), reply.handle()];
    assert!(table.remove_flow(forward.handle(), 1));
    for n in 2..10 {
        let k = key(0, n);
        let pair = FlowPair {
            key: &k,
            reply: &reply_of(&k),
        };
        assert_eq!(
            table.insert_pair(pair, n, 1, LONG, 2, Traffic::packet(0)),
            InsertOutcome::Inserted
        );
        assert_eq!(table.lookup(&k, 2).unwrap().memo(), None);
        assert_eq!(table.lookup(&reply_of(&k), 2).unwrap().memo(), None);
    }
    for handle in stale {
        assert_eq!(table.memo_of(handle), None);
        assert!(!table.set_memo_of(handle, &memo(9)));
    }
    for n in 2..10 {
        assert_eq!(table.lookup(&key(0, n), 3).unwrap().memo(), None);
    }
}

#[test]
fn a_handle_memo_given_at_insert_is_on_both_entries_from_the_start() {
    let table = FlowTable::new(1024, 2, 0);
    let k = key(1, 3);
    let pair = FlowPair {
        key: &k,
        reply: &reply_of(&k),
    };
    assert_eq!(
        table.insert_pair_with_memo(pair, &memo(3), LONG, 0, Traffic::packet(100)),
        InsertOutcome::Inserted
    );
    for found in [&k, &reply_of(&k)] {
        assert_eq!(table.lookup(found, 0).unwrap().memo(), Some(memo(3)));
    }
    // An insert of a flow that is already there leaves its memo.
    assert_eq!(
        table.insert_pair_with_memo(pair, &memo(4), LONG, 1, Traffic::packet(100)),
        InsertOutcome::Existing
    );
    assert_eq!(table.lookup(&k, 1).unwrap().memo(), Some(memo(3)));
    let value = table.lookup(&k, 1).unwrap().value().unwrap();
    assert_eq!((value.forward_packets, value.forward_bytes), (2, 200));
}

/// A pair entered to keep live flows (the Internet edge's translations)
/// never takes its owner's live flow: over the quota it is refused, where
/// a plain pair takes the least recently seen flow's slots.
#[test]
fn a_pair_that_keeps_live_flows_is_refused_where_a_plain_one_evicts() {
    // One probe window: every flow's slots are in every key's window.
    let table = FlowTable::new(PROBE_WINDOW, 2, 2);
    let keys: Vec<FlowKey> = (1..=3).map(|n| key(1, n)).collect();
    let replies: Vec<FlowKey> = keys.iter().map(reply_of).collect();
    let pair = |n: usize| FlowPair {
        key: &keys[n],
        reply: &replies[n],
    };
    let none = Traffic::default();
    for n in 0..2 {
        let outcome =
            table.insert_pair_with_memo_keeping_live(pair(n), &memo(1), LONG, n as u64, none);
        assert_eq!(outcome, InsertOutcome::Inserted);
    }
    let refused = table.insert_pair_with_memo_keeping_live(pair(2), &memo(2), LONG, 5, none);
    assert_eq!(refused, InsertOutcome::Full);
    assert_eq!(table.stats().failed_inserts, 1);
    for k in &keys[..2] {
        assert_eq!(table.lookup(k, 5).and_then(|f| f.memo()), Some(memo(1)));
    }
    assert!(table.lookup(&keys[2], 5).is_none());
    // The plain insert of the same flow takes the oldest one's place.
    let evicted = table.insert_pair_with_memo(pair(2), &memo(2), LONG, 5, none);
    assert_eq!(evicted, InsertOutcome::Evicted);
    assert!(table.lookup(&keys[0], 5).is_none());
    assert_eq!((table.len(), table.stats().evicted), (2, 1));
}

/// Writers rewriting one entry's memo while readers read it: a reader
/// sees one writer's memo whole, or nothing.
#[test]
fn a_handle_memo_is_never_read_torn_while_others_write_it() {
    let rounds: u64 = if cfg!(miri) { 40 } else { 20_000 };
    let table = FlowTable::new(1024, 2, 0);
    let k = key(0, 1);
    let pair = FlowPair {
        key: &k,
        reply: &reply_of(&k),
    };
    table.insert_pair_with_memo(pair, &memo(1), LONG, 0, Traffic::packet(0));
    let handle = table.lookup(&k, 0).unwrap().handle();
    let (written, read) = std::thread::scope(|s| {
        let writers: Vec<_> = (0..2u64)
            .map(|w| {
                let table = &table;
                s.spawn(move || {
                    (0..rounds)
                        .filter(|n| table.set_memo_of(handle, &memo(2 + 2 * n + w)))
                        .count()
                })
            })
            .collect();
        let reader = s.spawn(|| {
            let mut read = 0;
            for _ in 0..rounds {
                if let Some(Memo(words)) = table.memo_of(handle) {
                    assert!(words.iter().all(|w| *w == words[0]), "torn memo {words:?}");
                    read += 1;
                }
            }
            read
        });
        let written: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
        (written, reader.join().unwrap())
    });
    // Of two writers, one holds the memo whenever the other fails: some
    // writes land. (How many reads found the memo between writes depends
    // on the scheduler, and is only reported.)
    assert!(written > 0, "{written} written, {read} read");
    let Memo(last) = table.memo_of(handle).unwrap();
    assert!(last.iter().all(|w| *w == last[0]));
}
