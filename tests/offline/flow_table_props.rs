//! The flow table against its contract: unit cases, a single-threaded
//! reference model, concurrent readers and writers, and per-NIC fairness.
//! Flow pairs (a flow and its reply in one entry) are in flow_table_pairs.rs.

use proptest::prelude::*;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use vnetd::engine::flow_table::{
    FlowKey, FlowOwner, FlowTable, InsertOutcome, Traffic, PROBE_WINDOW,
};

use crate::flow_table_shared;
use flow_table_shared::{churn, key, Rng, LONG, TCP, THREADS, TIME_LIMIT};

// ---------------------------------------------------------------- keys

#[test]
fn ipv4_and_ipv6_keys_never_collide() {
    let v4 = FlowKey::v4(
        FlowOwner::new(0),
        0,
        TCP,
        Ipv4Addr::new(1, 2, 3, 4),
        Ipv4Addr::new(5, 6, 7, 8),
        1,
        2,
    );
    let mapped = FlowKey::v6(
        FlowOwner::new(0),
        0,
        TCP,
        Ipv4Addr::new(1, 2, 3, 4).to_ipv6_mapped(),
        Ipv4Addr::new(5, 6, 7, 8).to_ipv6_mapped(),
        1,
        2,
    );
    let mut prefix_bytes = [0u8; 16];
    prefix_bytes[..4].copy_from_slice(&[1, 2, 3, 4]);
    let mut dst_bytes = [0u8; 16];
    dst_bytes[..4].copy_from_slice(&[5, 6, 7, 8]);
    let same_bytes = FlowKey::v6(
        FlowOwner::new(0),
        0,
        TCP,
        Ipv6Addr::from(prefix_bytes),
        Ipv6Addr::from(dst_bytes),
        1,
        2,
    );
    assert_ne!(v4, mapped);
    assert_ne!(v4, same_bytes);

    let table = FlowTable::new(64, 1, 0);
    assert_eq!(
        table.insert(&v4, 4, 0, LONG, 0, Traffic::packet(0)),
        InsertOutcome::Inserted
    );
    assert!(table.lookup(&same_bytes, 0).is_none());
    assert!(table.lookup(&mapped, 0).is_none());
    assert_eq!(
        table.insert(&same_bytes, 6, 0, LONG, 0, Traffic::packet(0)),
        InsertOutcome::Inserted
    );
    assert_eq!(table.lookup(&v4, 0).map(|f| f.verdict_tag()), Some(4));
    assert_eq!(
        table.lookup(&same_bytes, 0).map(|f| f.verdict_tag()),
        Some(6)
    );
}

#[test]
fn reversed_swaps_addresses_and_ports_only() {
    let k = FlowKey::from_ips(
        FlowOwner::new(3),
        1,
        17,
        "2001:db8::1".parse().unwrap(),
        "2001:db8::2".parse().unwrap(),
        5353,
        53,
    )
    .unwrap();
    let r = k.reversed();
    assert_eq!(
        (r.owner, r.direction, r.proto, r.v6),
        (FlowOwner::new(3), 1, 17, true)
    );
    assert_eq!(r.src_ip(), k.dst_ip());
    assert_eq!(r.dst_ip(), k.src_ip());
    assert_eq!((r.src_port, r.dst_port), (53, 5353));
    assert_eq!(r.reversed(), k);
    assert_eq!(
        key(0, 7).src_ip(),
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)),
        "IPv4 keys give IPv4 addresses back"
    );
}

#[test]
fn mixed_families_make_no_key() {
    let v4: IpAddr = "10.0.0.1".parse().unwrap();
    let v6: IpAddr = "::1".parse().unwrap();
    assert!(FlowKey::from_ips(FlowOwner::new(0), 0, TCP, v4, v6, 1, 2).is_none());
    assert!(FlowKey::from_ips(FlowOwner::new(0), 0, TCP, v6, v4, 1, 2).is_none());
}

// ---------------------------------------------------------------- basics

#[test]
fn inserted_flow_is_found_with_its_verdict_and_counts() {
    let table = FlowTable::new(1024, 4, 0);
    let k = key(1, 1);
    assert_eq!(
        table.insert(&k, 42, 7, LONG, 1000, Traffic::packet(60)),
        InsertOutcome::Inserted
    );
    let flow = table.lookup(&k, 1001).expect("inserted flow");
    assert_eq!(flow.key(), k);
    assert_eq!((flow.verdict_tag(), flow.generation()), (42, 7));
    assert!(flow.touch(1002, Traffic::packet(1500), true));
    assert!(flow.touch(1003, Traffic::packet(40), false));
    let v = flow.value().unwrap();
    assert_eq!((v.forward_packets, v.forward_bytes), (2, 1560));
    assert_eq!((v.reverse_packets, v.reverse_bytes), (1, 40));
    assert_eq!((v.created_ms, v.last_seen_ms), (1000, 1003));
    assert_eq!(v.idle_timeout_ms, LONG);
    assert!(table.lookup(&k.reversed(), 1003).is_none());
    assert_eq!(table.len(), 1);
    assert_eq!(table.owner_len(FlowOwner::new(1)), 1);
}

#[test]
fn second_insert_counts_the_packet_and_keeps_the_first_verdict() {
    let table = FlowTable::new(1024, 4, 0);
    let k = key(0, 1);
    assert_eq!(
        table.insert(&k, 1, 1, LONG, 0, Traffic::packet(10)),
        InsertOutcome::Inserted
    );
    assert_eq!(
        table.insert(&k, 2, 2, LONG, 5, Traffic::packet(20)),
        InsertOutcome::Existing
    );
    let v = table.lookup(&k, 5).unwrap().value().unwrap();
    assert_eq!((v.verdict_tag, v.generation), (1, 1));
    assert_eq!(
        (v.forward_packets, v.forward_bytes, v.last_seen_ms),
        (2, 30, 5)
    );
    assert_eq!(table.len(), 1);
    assert_eq!(table.stats().inserted, 1);
}

#[test]
fn idle_flow_dies_and_its_key_can_start_again() {
    let table = FlowTable::new(1024, 4, 0);
    let k = key(0, 1);
    table.insert(&k, 1, 1, 100, 0, Traffic::packet(0));
    assert!(
        table.lookup(&k, 100).is_some(),
        "idle for exactly the timeout"
    );
    let flow = table.lookup(&k, 50).unwrap();
    assert!(flow.touch(50, Traffic::packet(1), true));
    assert!(table.lookup(&k, 150).is_some(), "the touch refreshed it");
    assert!(table.lookup(&k, 151).is_none());
    assert_eq!(
        table.insert(&k, 2, 2, 100, 151, Traffic::packet(0)),
        InsertOutcome::Inserted
    );
    let v = table.lookup(&k, 151).unwrap().value().unwrap();
    assert_eq!(
        (v.verdict_tag, v.forward_packets, v.created_ms),
        (2, 1, 151)
    );
    assert_eq!(table.len(), 1, "the dead slot was reused, not duplicated");
}

#[test]
fn remove_frees_the_flow_and_the_quota() {
    let table = FlowTable::new(1024, 2, 1);
    let (a, b) = (key(1, 1), key(1, 2));
    assert_eq!(
        table.insert(&a, 0, 0, LONG, 0, Traffic::packet(0)),
        InsertOutcome::Inserted
    );
    let stale = table.lookup(&a, 0).unwrap();
    assert!(table.remove(&a, 0));
    assert!(!table.remove(&a, 0));
    assert!(table.lookup(&a, 0).is_none());
    assert!(
        !stale.touch(0, Traffic::packet(1), true),
        "a handle to a removed flow counts nothing"
    );
    assert!(stale.value().is_none());
    assert!(!stale.update_verdict(9, 9));
    assert_eq!(table.owner_len(FlowOwner::new(1)), 0);
    assert_eq!(
        table.insert(&b, 0, 0, LONG, 0, Traffic::packet(0)),
        InsertOutcome::Inserted
    );
}

#[test]
fn update_verdict_rewrites_tag_and_generation() {
    let table = FlowTable::new(1024, 1, 0);
    let k = key(0, 9);
    table.insert(&k, 1, 10, LONG, 0, Traffic::packet(0));
    assert!(table.update_verdict(&k, 2, 11, 0));
    let flow = table.lookup(&k, 0).unwrap();
    assert_eq!((flow.verdict_tag(), flow.generation()), (2, 11));
    assert!(
        flow.touch(1, Traffic::packet(1), true),
        "verdict updates keep handles valid"
    );
    assert!(!table.update_verdict(&key(0, 10), 2, 11, 0));
}

#[test]
fn sweep_frees_dead_flows_within_its_budget() {
    let table = FlowTable::new(256, 2, 0);
    for n in 0..40 {
        let timeout = if n % 2 == 0 { 10 } else { LONG };
        table.insert(&key(n % 2, n), 0, 0, timeout, 0, Traffic::packet(0));
    }
    assert_eq!(table.len(), 40);
    let mut freed = 0;
    let mut calls = 0;
    while calls < 256 / 16 {
        let n = table.sweep(11, 16);
        assert!(n <= 16);
        freed += n;
        calls += 1;
    }
    assert_eq!(freed, 20);
    assert_eq!(table.len(), 20);
    assert_eq!(table.owner_len(FlowOwner::new(0)), 0);
    assert_eq!(table.sweep(11, 1000), 0);
}

#[test]
fn for_each_lists_live_flows_only() {
    let table = FlowTable::new(256, 2, 0);
    table.insert(&key(0, 1), 11, 0, 10, 0, Traffic::packet(5));
    table.insert(&key(1, 2), 22, 0, LONG, 0, Traffic::packet(6));
    let mut seen = Vec::new();
    table.for_each(20, |k, v| seen.push((*k, v.verdict_tag, v.forward_bytes)));
    assert_eq!(seen, vec![(key(1, 2), 22, 6)]);
}

#[test]
fn odd_parameters_are_normalised_not_fatal() {
    let table = FlowTable::new(0, 0, 0);
    assert_eq!(table.capacity(), PROBE_WINDOW);
    assert_eq!(
        table.insert(&key(0, 1), 0, 0, LONG, 0, Traffic::packet(0)),
        InsertOutcome::NicOutOfRange
    );
    assert!(table.lookup(&key(0, 1), 0).is_none());
    assert!(!table.remove(&key(u32::MAX, 1), 0));
    assert_eq!(FlowTable::new(1000, 1, 0).capacity(), 1024);
    assert_eq!(table.stats().failed_inserts, 1);
    assert!(table.is_empty());
    assert_eq!(FlowTable::default_quota(1 << 20, 8, 1024), 1 << 17);
    assert_eq!(FlowTable::default_quota(4096, 100, 1024), 1024);
    assert_eq!(FlowTable::default_quota(512, 0, 1024), 512);
}

/// docs/src/commands.md states the table's size per slot (200 bytes: a
/// three-cache-line body and an 8-byte state word) and `vnetd stats` reports
/// the total.
#[test]
fn memory_is_200_bytes_a_slot_and_stats_report_it() {
    let per_slot = FlowTable::memory_bytes(2048, 4) - FlowTable::memory_bytes(1024, 4);
    assert_eq!(per_slot, 1024 * 200);
    // Sizes round up as the table's capacity does.
    assert_eq!(
        FlowTable::memory_bytes(1000, 4),
        FlowTable::memory_bytes(1024, 4)
    );
    let table = FlowTable::new(1000, 4, 0);
    assert_eq!(table.stats().memory_bytes, FlowTable::memory_bytes(1024, 4));
}

// ---------------------------------------------------------------- fairness

/// With capacity == PROBE_WINDOW every key's window is the whole table.
#[test]
fn nic_over_quota_evicts_its_own_least_recently_seen_flow() {
    let table = FlowTable::new(PROBE_WINDOW, 2, 4);
    for n in 0..4 {
        assert_eq!(
            table.insert(&key(0, n), n, 0, LONG, u64::from(n), Traffic::packet(0)),
            InsertOutcome::Inserted
        );
    }
    table
        .lookup(&key(0, 0), 10)
        .unwrap()
        .touch(10, Traffic::packet(1), true);
    table.insert(&key(1, 100), 0, 0, LONG, 10, Traffic::packet(0));
    assert_eq!(
        table.insert(&key(0, 4), 4, 0, LONG, 11, Traffic::packet(0)),
        InsertOutcome::Evicted
    );
    assert!(
        table.lookup(&key(0, 1), 11).is_none(),
        "flow 1 was the least recently seen"
    );
    for n in [0, 2, 3, 4] {
        assert!(table.lookup(&key(0, n), 11).is_some(), "flow {n}");
    }
    assert!(table.lookup(&key(1, 100), 11).is_some());
    assert_eq!(table.owner_len(FlowOwner::new(0)), 4);
    assert_eq!(table.stats().evicted, 1);
}

#[test]
fn full_window_of_other_nics_flows_refuses_the_insert() {
    let table = FlowTable::new(PROBE_WINDOW, 2, 0);
    for n in 0..PROBE_WINDOW as u32 {
        assert_eq!(
            table.insert(&key(0, n), 0, 0, LONG, 0, Traffic::packet(0)),
            InsertOutcome::Inserted
        );
    }
    assert_eq!(
        table.insert(&key(1, 1), 0, 0, LONG, 0, Traffic::packet(0)),
        InsertOutcome::Full
    );
    assert_eq!(table.stats().failed_inserts, 1);
    // Once NIC 0's flows idle out, NIC 1 takes their slots.
    assert_eq!(
        table.insert(&key(1, 1), 0, 0, 10, LONG + 1, Traffic::packet(0)),
        InsertOutcome::Inserted
    );
    assert_eq!(table.owner_len(FlowOwner::new(0)), PROBE_WINDOW - 1);
    assert_eq!(table.owner_len(FlowOwner::new(1)), 1);
}

#[test]
fn a_flooding_nic_cannot_starve_another() {
    const CAPACITY: usize = 4096;
    let quota = FlowTable::default_quota(CAPACITY, 4, 64);
    let table = FlowTable::new(CAPACITY, 4, quota);
    // NIC 2 has flows before the flood, and keeps them.
    for n in 0..200 {
        assert_eq!(
            table.insert(&key(2, n), 2, 0, LONG, 0, Traffic::packet(0)),
            InsertOutcome::Inserted
        );
    }
    let mut outcomes = HashMap::new();
    for n in 0..10 * CAPACITY as u32 {
        *outcomes
            .entry(table.insert(&key(1, n), 1, 0, LONG, 1, Traffic::packet(0)))
            .or_insert(0) += 1;
    }
    assert_eq!(table.owner_len(FlowOwner::new(1)), quota as usize);
    assert!(outcomes.get(&InsertOutcome::Evicted).copied().unwrap_or(0) > 0);
    for n in 0..200 {
        assert!(table.lookup(&key(2, n), 2).is_some(), "NIC 2 lost flow {n}");
    }
    for n in 200..400 {
        assert_eq!(
            table.insert(&key(2, n), 2, 0, LONG, 2, Traffic::packet(0)),
            InsertOutcome::Inserted,
            "NIC 2 refused flow {n}"
        );
    }
    assert_eq!(table.owner_len(FlowOwner::new(2)), 400);
}

// ---------------------------------------------------------------- model

/// A few keys across NICs, directions and families.
fn pool() -> Vec<FlowKey> {
    let mut keys = Vec::new();
    for n in 0..12u32 {
        keys.push(key(n % 3, n));
        keys.push(FlowKey::v6(
            FlowOwner::new(n % 3),
            1,
            17,
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n as u16),
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xffff),
            (n % 3) as u16,
            53,
        ));
    }
    keys
}

#[derive(Debug, Clone)]
enum Op {
    Insert {
        key: usize,
        tag: u32,
        timeout: u64,
        bytes: u64,
    },
    Lookup {
        key: usize,
    },
    Touch {
        key: usize,
        bytes: u64,
        forward: bool,
    },
    Remove {
        key: usize,
    },
    UpdateVerdict {
        key: usize,
        tag: u32,
        generation: u64,
    },
    Advance {
        ms: u64,
    },
    Sweep,
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..24usize;
    prop_oneof![
        3 => (key.clone(), any::<u32>(), prop::sample::select(vec![5u64, 50, 500]), 0..65_536u64)
            .prop_map(|(key, tag, timeout, bytes)| Op::Insert { key, tag, timeout, bytes }),
        2 => key.clone().prop_map(|key| Op::Lookup { key }),
        3 => (key.clone(), 0..65_536u64, any::<bool>())
            .prop_map(|(key, bytes, forward)| Op::Touch { key, bytes, forward }),
        1 => key.clone().prop_map(|key| Op::Remove { key }),
        1 => (key, any::<u32>(), any::<u64>())
            .prop_map(|(key, tag, generation)| Op::UpdateVerdict { key, tag, generation }),
        2 => prop::sample::select(vec![1u64, 5, 6, 40, 499, 501]).prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::Sweep),
    ]
}

#[derive(Debug, Clone, Copy)]
struct RefFlow {
    tag: u32,
    generation: u64,
    timeout: u64,
    created: u64,
    last_seen: u64,
    counts: [u64; 4],
}

impl RefFlow {
    fn live(&self, now: u64) -> bool {
        now.saturating_sub(self.last_seen) <= self.timeout
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// At low load (24 keys in 1,024 slots) no probe window ever fills, so
    /// the table must behave exactly like a map with the same expiry rules.
    #[test]
    fn table_agrees_with_a_map_at_low_load(ops in prop::collection::vec(op(), 1..200)) {
        let keys = pool();
        let table = FlowTable::new(1024, 3, 0);
        let mut model: HashMap<FlowKey, RefFlow> = HashMap::new();
        let mut now = 1_000u64;
        for op in ops {
            match op {
                Op::Insert { key, tag, timeout, bytes } => {
                    let k = keys[key];
                    let got = table.insert(&k, tag, 7, timeout, now, Traffic::packet(bytes));
                    match model.get_mut(&k).filter(|f| f.live(now)) {
                        Some(flow) => {
                            prop_assert_eq!(got, InsertOutcome::Existing);
                            flow.counts[0] += 1;
                            flow.counts[1] += bytes;
                            flow.last_seen = flow.last_seen.max(now);
                        }
                        None => {
                            prop_assert_eq!(got, InsertOutcome::Inserted);
                            model.insert(k, RefFlow {
                                tag, generation: 7, timeout, created: now, last_seen: now,
                                counts: [1, bytes, 0, 0],
                            });
                        }
                    }
                }
                Op::Lookup { key } | Op::Touch { key, .. } => {
                    let k = keys[key];
                    let expected = model.get_mut(&k).filter(|f| f.live(now));
                    let got = table.lookup(&k, now);
                    prop_assert_eq!(got.is_some(), expected.is_some());
                    if let (Some(flow), Some(reference)) = (got, expected) {
                        prop_assert_eq!(flow.key(), k);
                        if let Op::Touch { bytes, forward, .. } = op {
                            prop_assert!(flow.touch(now, Traffic::packet(bytes), forward));
                            let at = if forward { 0 } else { 2 };
                            reference.counts[at] += 1;
                            reference.counts[at + 1] += bytes;
                            reference.last_seen = reference.last_seen.max(now);
                        }
                        let v = flow.value().unwrap();
                        prop_assert_eq!((v.verdict_tag, v.generation), (reference.tag, reference.generation));
                        prop_assert_eq!((v.created_ms, v.last_seen_ms, v.idle_timeout_ms),
                            (reference.created, reference.last_seen, reference.timeout));
                        prop_assert_eq!(
                            [v.forward_packets, v.forward_bytes, v.reverse_packets, v.reverse_bytes],
                            reference.counts
                        );
                    }
                }
                Op::Remove { key } => {
                    let k = keys[key];
                    let expected = model.remove(&k).is_some_and(|f| f.live(now));
                    prop_assert_eq!(table.remove(&k, now), expected);
                }
                Op::UpdateVerdict { key, tag, generation } => {
                    let k = keys[key];
                    let expected = model.get_mut(&k).filter(|f| f.live(now));
                    prop_assert_eq!(table.update_verdict(&k, tag, generation, now), expected.is_some());
                    if let Some(flow) = expected {
                        flow.tag = tag;
                        flow.generation = generation;
                    }
                }
                Op::Advance { ms } => now += ms,
                Op::Sweep => {
                    table.sweep(now, table.capacity());
                    model.retain(|_, f| f.live(now));
                    prop_assert_eq!(table.len(), model.len());
                }
            }
            let live = model.values().filter(|f| f.live(now)).count();
            let mut listed = 0;
            table.for_each(now, |k, v| {
                listed += 1;
                assert_eq!(model.get(k).map(|f| f.tag), Some(v.verdict_tag));
            });
            prop_assert_eq!(listed, live);
            prop_assert!(table.len() >= live);
        }
    }

    /// With a quota of 4 flows per NIC: under the quota inserts succeed;
    /// over it they fail or replace one of the NIC's own flows, never
    /// another NIC's.
    #[test]
    fn quota_bounds_each_nic_and_only_evicts_its_own_flows(
        ops in prop::collection::vec((0..24usize, 0..4u8), 1..150)
    ) {
        const QUOTA: usize = 4;
        let keys = pool();
        let table = FlowTable::new(1024, 3, QUOTA as u32);
        let mut model: HashMap<FlowKey, u32> = HashMap::new();
        for (step, (key, action)) in ops.into_iter().enumerate() {
            let k = keys[key];
            let tag = step as u32;
            if action == 0 {
                prop_assert_eq!(table.remove(&k, 0), model.remove(&k).is_some());
            } else {
                let got = table.insert(&k, tag, 0, LONG, 0, Traffic::packet(0));
                let own = model.keys().filter(|o| o.owner == k.owner).count();
                if model.contains_key(&k) {
                    prop_assert_eq!(got, InsertOutcome::Existing);
                } else if own < QUOTA {
                    prop_assert_eq!(got, InsertOutcome::Inserted);
                    model.insert(k, tag);
                } else {
                    prop_assert!(matches!(got, InsertOutcome::Evicted | InsertOutcome::Full));
                    if got == InsertOutcome::Evicted {
                        let gone: Vec<FlowKey> = model
                            .keys()
                            .filter(|o| table.lookup(o, 0).is_none())
                            .copied()
                            .collect();
                        prop_assert_eq!(gone.len(), 1);
                        prop_assert_eq!(gone[0].owner, k.owner);
                        model.remove(&gone[0]);
                        model.insert(k, tag);
                    }
                }
            }
            for (k, tag) in &model {
                prop_assert_eq!(table.lookup(k, 0).map(|f| f.verdict_tag()), Some(*tag));
            }
            for nic in 0..3 {
                let own = model.keys().filter(|o| o.owner == FlowOwner::new(nic)).count();
                prop_assert_eq!(table.owner_len(FlowOwner::new(nic)), own);
                prop_assert!(own <= QUOTA);
            }
        }
    }
}

// ---------------------------------------------------------------- threads

/// Threads share 512 keys; every packet is either inserted or touched, and
/// nothing is removed, so the counters must account for every packet.
#[test]
fn concurrent_counters_add_up() {
    const KEYS: u32 = 512;
    const OPS: u64 = 50_000;
    let table = FlowTable::new(4096, 4, 0);
    let deadline = Instant::now() + TIME_LIMIT;
    let totals: Vec<(u64, u64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let table = &table;
                scope.spawn(move || {
                    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (t + 1));
                    let (mut forward, mut reverse) = (0, 0);
                    for i in 0..OPS {
                        if i % 1024 == 0 && Instant::now() > deadline {
                            break;
                        }
                        let r = rng.next();
                        let n = (r % u64::from(KEYS)) as u32;
                        let k = key(n % 4, n);
                        match table.lookup(&k, 0) {
                            Some(flow) => {
                                assert_eq!(flow.key(), k);
                                assert_eq!(flow.verdict_tag(), n);
                                let fwd = r & (1 << 40) != 0;
                                assert!(flow.touch(0, Traffic::packet(100), fwd));
                                if fwd {
                                    forward += 1;
                                } else {
                                    reverse += 1;
                                }
                            }
                            None => {
                                let got = table.insert(&k, n, 0, LONG, 0, Traffic::packet(100));
                                assert!(
                                    matches!(
                                        got,
                                        InsertOutcome::Inserted | InsertOutcome::Existing
                                    ),
                                    "{got:?}"
                                );
                                forward += 1;
                            }
                        }
                    }
                    (forward, reverse)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let (forward, reverse) = totals
        .iter()
        .fold((0, 0), |(f, r), (tf, tr)| (f + tf, r + tr));
    let (mut seen_forward, mut seen_reverse, mut bytes) = (0, 0, 0);
    table.for_each(0, |k, v| {
        assert_eq!(
            k.src_ip(),
            IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | v.verdict_tag))
        );
        seen_forward += v.forward_packets;
        seen_reverse += v.reverse_packets;
        bytes += v.forward_bytes + v.reverse_bytes;
    });
    assert_eq!((seen_forward, seen_reverse), (forward, reverse));
    assert_eq!(bytes, 100 * (forward + reverse));
}

/// Writers insert, remove and re-verdict keys in a small table (slots change
/// hands constantly) while readers check that every flow found is the key
/// asked for, with a verdict written for that key as one consistent pair.
#[test]
fn concurrent_churn_never_yields_a_wrong_or_torn_flow() {
    const KEYS: u64 = 200;
    const OPS: u64 = 200_000;
    let table = FlowTable::new(64, 2, 0);
    let hits = AtomicU64::new(0);
    // verdict_tag = key number, generation = key number * 1000 + version.
    churn(0x2545_f491_4f6c_dd1d, OPS, |t, r| {
        let n = r % KEYS;
        let k = key((n % 2) as u32, n as u32);
        let version = (r >> 32) % 1000;
        if t < 2 {
            match (r >> 20) % 3 {
                0 => {
                    table.insert(
                        &k,
                        n as u32,
                        n * 1000 + version,
                        LONG,
                        0,
                        Traffic::packet(1),
                    );
                }
                1 => {
                    table.remove(&k, 0);
                }
                _ => {
                    table.update_verdict(&k, n as u32, n * 1000 + version, 0);
                }
            }
        } else if let Some(flow) = table.lookup(&k, 0) {
            let ok = flow.key() == k
                && u64::from(flow.verdict_tag()) == n
                && flow.generation() / 1000 == n;
            if !ok {
                return Err(format!(
                    "asked for {k:?}, got {:?} tag {} generation {}",
                    flow.key(),
                    flow.verdict_tag(),
                    flow.generation()
                ));
            }
            flow.touch(0, Traffic::packet(1), r & 1 == 0);
            hits.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    assert!(hits.load(Ordering::Relaxed) > 0, "readers found flows");
    let mut occupied = 0;
    table.for_each(0, |_, _| occupied += 1);
    assert_eq!(
        table.len(),
        occupied,
        "per-NIC counts match the occupied slots"
    );
}
