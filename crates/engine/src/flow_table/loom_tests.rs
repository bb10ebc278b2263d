//! Model-checked interleavings of the sequence lock (see the declaration
//! of this module in [`super`]).

use super::*;
use loom::sync::Arc;
use loom::thread;
use std::net::Ipv4Addr;

fn key(n: u8) -> FlowKey {
    FlowKey::v4(
        FlowOwner::new(0),
        0,
        6,
        Ipv4Addr::new(10, 0, 0, n),
        Ipv4Addr::new(10, 1, 0, 4),
        40000 + u16::from(n),
        443,
    )
}

fn reply(key: &FlowKey) -> FlowKey {
    let mut reply = key.reversed();
    reply.direction ^= 1;
    reply
}

/// Enters `key` and its reply with `verdict_tag` and `generation`, idle
/// for up to a second from time 0.
fn insert_pair(table: &FlowTable, key: &FlowKey, verdict_tag: u32, generation: u64) {
    table.insert_pair(
        FlowPair {
            key,
            reply: &reply(key),
        },
        verdict_tag,
        generation,
        1_000,
        0,
        Traffic::packet(0),
    );
}

fn model(test: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(test);
}

/// A verdict rewritten while a reader looks the flow up: the reader
/// sees the old verdict or the new one, never half of each.
#[test]
fn a_verdict_update_is_never_seen_torn() {
    model(|| {
        let table = Arc::new(FlowTable::new(PROBE_WINDOW, 1, 0));
        let k = key(1);
        insert_pair(&table, &k, 1, 100);
        let writer = {
            let table = table.clone();
            thread::spawn(move || {
                let flow = table.lookup(&k, 0).unwrap();
                table.update_verdict_of(flow.handle(), 2, 200);
            })
        };
        if let Some(flow) = table.lookup(&reply(&k), 0) {
            assert!(flow.is_reply());
            let seen = (flow.verdict_tag(), flow.generation());
            assert!(
                seen == (1, 100) || seen == (2, 200),
                "torn verdict {seen:?}"
            );
        }
        writer.join().unwrap();
        let flow = table.lookup(&reply(&k), 0).unwrap();
        assert_eq!((flow.verdict_tag(), flow.generation()), (2, 200));
    });
}

/// A flow removed and its slots taken by another while a reader looks
/// the first one up: the reader finds the flow it asked for, with its
/// own verdict, or nothing.
#[test]
fn a_reused_slot_never_answers_for_its_old_key() {
    model(|| {
        let table = Arc::new(FlowTable::new(PROBE_WINDOW, 1, 0));
        let (a, b) = (key(1), key(2));
        insert_pair(&table, &a, 1, 1);
        let writer = {
            let table = table.clone();
            thread::spawn(move || {
                table.remove(&a, 0);
                insert_pair(&table, &b, 2, 2);
            })
        };
        for asked in [a, reply(&a)] {
            if let Some(flow) = table.lookup(&asked, 0) {
                assert_eq!(flow.key(), asked);
                assert_eq!((flow.verdict_tag(), flow.generation()), (1, 1));
            }
        }
        writer.join().unwrap();
        assert!(table.lookup(&a, 0).is_none());
        assert_eq!(
            table.lookup(&reply(&b), 0).map(|f| f.verdict_tag()),
            Some(2)
        );
        assert_eq!(table.len(), 1);
    });
}

/// A pair being entered while its reply is looked up: the reply is
/// found complete (a reply entry, the flow's verdict) or not at all.
#[test]
fn a_pair_being_entered_is_found_whole_or_not_at_all() {
    model(|| {
        let table = Arc::new(FlowTable::new(PROBE_WINDOW, 1, 0));
        let k = key(3);
        let writer = {
            let table = table.clone();
            thread::spawn(move || {
                insert_pair(&table, &k, 7, 70);
            })
        };
        if let Some(flow) = table.lookup(&reply(&k), 0) {
            assert!(flow.is_reply());
            assert_eq!((flow.verdict_tag(), flow.generation()), (7, 70));
        }
        writer.join().unwrap();
        assert!(table.lookup(&reply(&k), 0).is_some());
    });
}

/// A memo rewritten while a reader reads it: the reader sees the old memo
/// or the new one whole, or none, never half of each.
#[test]
fn a_memo_is_never_seen_torn() {
    model(|| {
        let table = Arc::new(FlowTable::new(PROBE_WINDOW, 1, 0));
        let k = key(1);
        table.insert_pair_with_memo(
            FlowPair {
                key: &k,
                reply: &reply(&k),
            },
            &Memo([1; MEMO_WORDS]),
            1_000,
            0,
            Traffic::packet(0),
        );
        let handle = table.lookup(&k, 0).unwrap().handle();
        let writer = {
            let table = table.clone();
            thread::spawn(move || table.set_memo_of(handle, &Memo([2; MEMO_WORDS])))
        };
        if let Some(Memo(words)) = table.memo_of(handle) {
            assert!(
                words == [1; MEMO_WORDS] || words == [2; MEMO_WORDS],
                "torn memo {words:?}"
            );
        }
        assert!(writer.join().unwrap());
        assert_eq!(table.memo_of(handle), Some(Memo([2; MEMO_WORDS])));
    });
}

/// A flow removed and its slot taken by another while a writer writes the
/// first one's memo: the new flow never answers with the old one's memo.
#[test]
fn a_memo_never_outlives_its_entry() {
    model(|| {
        let table = Arc::new(FlowTable::new(PROBE_WINDOW, 1, 0));
        let (a, b) = (key(1), key(2));
        table.insert(&a, 1, 1, 1_000, 0, Traffic::packet(0));
        let stale = table.lookup(&a, 0).unwrap().handle();
        let writer = {
            let table = table.clone();
            thread::spawn(move || {
                table.set_memo_of(stale, &Memo([7; MEMO_WORDS]));
            })
        };
        table.remove(&a, 0);
        table.insert(&b, 2, 1, 1_000, 0, Traffic::packet(0));
        writer.join().unwrap();
        let fresh = table.lookup(&b, 0).unwrap();
        assert_eq!(fresh.memo(), None, "the new flow has no memo of its own");
    });
}
