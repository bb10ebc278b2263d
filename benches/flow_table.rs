//! Flow table costs on the packet path: a hit (an established flow's
//! packet), a miss (a new flow's first packet, before the NSG runs) and the
//! insert of a new flow, at 1M slots with 100k live flows. Then a reply's
//! lookup two ways, in the same run: one lookup of its own key when flows
//! are entered as pairs, against a miss on its own key and a hit on the
//! reversed one when they are entered alone (what a reply cost before
//! pairs).

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};
use vnetd::engine::flow_table::{FlowKey, FlowOwner, FlowPair, FlowTable, InsertOutcome, Traffic};

const CAPACITY: usize = 1 << 20;
const LIVE: u32 = 100_000;
const NICS: u32 = 64;
const IDLE_TIMEOUT_MS: u64 = 4 * 60 * 1000;
/// Inserted flows are removed (untimed) after each chunk, so the table
/// stays at 100k live flows however many iterations criterion asks for.
const INSERT_CHUNK: u64 = 50_000;

fn key(n: u32) -> FlowKey {
    FlowKey::v4(
        FlowOwner::new(n % NICS),
        0,
        6,
        Ipv4Addr::from(0x0a00_0000 | (n & 0x00ff_ffff)),
        Ipv4Addr::from(0x0a80_0000 | (n >> 8)),
        (n % 60_000) as u16 + 1024,
        443,
    )
}

/// The key a flow's replies carry: reversed, in the other direction.
fn reply_of(key: &FlowKey) -> FlowKey {
    let mut reply = key.reversed();
    reply.direction ^= 1;
    reply
}

fn flow_table(c: &mut Criterion) {
    let table = FlowTable::new(CAPACITY, NICS, 0);
    for n in 0..LIVE {
        assert_eq!(
            table.insert(&key(n), n, 1, IDLE_TIMEOUT_MS, 0, Traffic::packet(64)),
            InsertOutcome::Inserted
        );
    }
    let hits: Vec<FlowKey> = (0..LIVE).map(key).collect();
    let misses: Vec<FlowKey> = (LIVE..2 * LIVE).map(key).collect();

    let mut i = 0usize;
    c.bench_function("flow_table/lookup_hit", |b| {
        b.iter(|| {
            i = (i + 1) % hits.len();
            black_box(
                table
                    .lookup(black_box(&hits[i]), 1)
                    .map(|f| f.verdict_tag()),
            )
        })
    });
    let mut i = 0usize;
    c.bench_function("flow_table/lookup_hit_touch", |b| {
        b.iter(|| {
            i = (i + 1) % hits.len();
            if let Some(flow) = table.lookup(black_box(&hits[i]), 1) {
                flow.touch(1, Traffic::packet(1500), true);
            }
        })
    });
    let mut i = 0usize;
    c.bench_function("flow_table/lookup_miss", |b| {
        b.iter(|| {
            i = (i + 1) % misses.len();
            black_box(table.lookup(black_box(&misses[i]), 1).is_some())
        })
    });
    let mut next = 2 * LIVE;
    c.bench_function("flow_table/insert_new", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let chunk = left.min(INSERT_CHUNK);
                let keys: Vec<FlowKey> = (0..chunk as u32).map(|j| key(next + j)).collect();
                next = next.wrapping_add(chunk as u32);
                let start = Instant::now();
                for k in &keys {
                    black_box(table.insert(k, 7, 1, IDLE_TIMEOUT_MS, 1, Traffic::packet(64)));
                }
                total += start.elapsed();
                for k in &keys {
                    table.remove(k, 1);
                }
                left -= chunk;
            }
            total
        })
    });
    assert_eq!(
        table.len(),
        LIVE as usize,
        "the bench left the table as it found it"
    );

    let replies: Vec<FlowKey> = hits.iter().map(reply_of).collect();
    let mut i = 0usize;
    c.bench_function("flow_table/reply_hit_two_lookups", |b| {
        b.iter(|| {
            i = (i + 1) % replies.len();
            let asked = black_box(&replies[i]);
            let found = table.lookup(asked, 1).or_else(|| {
                let mut forward = asked.reversed();
                forward.direction ^= 1;
                table.lookup(&forward, 1)
            });
            black_box(found.map(|f| f.verdict_tag()))
        })
    });
    drop(table);
    let paired = FlowTable::new(CAPACITY, NICS, 0);
    for (n, k) in (0..LIVE).zip(&hits) {
        assert_eq!(
            paired.insert_pair(
                FlowPair {
                    key: k,
                    reply: &reply_of(k)
                },
                n,
                1,
                IDLE_TIMEOUT_MS,
                0,
                Traffic::packet(64)
            ),
            InsertOutcome::Inserted
        );
    }
    let mut i = 0usize;
    c.bench_function("flow_table/reply_hit_paired", |b| {
        b.iter(|| {
            i = (i + 1) % replies.len();
            black_box(
                paired
                    .lookup(black_box(&replies[i]), 1)
                    .map(|f| f.verdict_tag()),
            )
        })
    });
    let mut next = 2 * LIVE;
    c.bench_function("flow_table/insert_pair_new", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let chunk = left.min(INSERT_CHUNK);
                let keys: Vec<FlowKey> = (0..chunk as u32).map(|j| key(next + j)).collect();
                let reply_keys: Vec<FlowKey> = keys.iter().map(reply_of).collect();
                next = next.wrapping_add(chunk as u32);
                let start = Instant::now();
                for (k, r) in keys.iter().zip(&reply_keys) {
                    black_box(paired.insert_pair(
                        FlowPair { key: k, reply: r },
                        7,
                        1,
                        IDLE_TIMEOUT_MS,
                        1,
                        Traffic::packet(64),
                    ));
                }
                total += start.elapsed();
                for k in &keys {
                    paired.remove(k, 1);
                }
                left -= chunk;
            }
            total
        })
    });
}

criterion_group!(benches, flow_table);
criterion_main!(benches);
