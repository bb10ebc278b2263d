//! The per-packet cost of shaping in a worker: pacing a packet through two
//! rate caps (two compare-and-swaps, the delay arithmetic and the flow's
//! departure clock), holding it
//! in the delay line and releasing it (two copies of its bytes and a heap
//! push and pop), and the path-MTU check of a packet that fits. Figures
//! are nanoseconds per packet; `scripts/bench-shaping.sh` measures what
//! they cost a real transfer.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::sync::atomic::AtomicU64;
use vnetd::dataplane::delay_line::DelayLine;
use vnetd::dataplane::pacing::{pace, Pace, Rng};
use vnetd::dataplane::path_mtu::{fit, Fit};
use vnetd::snapshot::shaping::{Bucket, PathShaping};

fn bucket(mbps: u32) -> Bucket {
    Bucket {
        mbps,
        what: String::new(),
        free_at_ns: AtomicU64::new(0),
    }
}

fn shaping(c: &mut Criterion) {
    let path = PathShaping {
        delay_us: 42_500,
        ..PathShaping::plain(1500)
    };
    let (gateway, link) = (bucket(100_000), bucket(100_000));
    let mut rng = Rng::new(7);
    let last = AtomicU64::new(0);
    let mut now = 0u64;
    c.bench_function("pace through two caps", |b| {
        b.iter(|| {
            // Time moves 1 us per packet: the caps never fill.
            now += 1_000;
            let paced = pace(&path, [&gateway, &link], now, 1500, 1, &mut rng, &last);
            assert!(matches!(paced, Pace::At(_)));
            black_box(paced)
        })
    });
    let packet = vec![0x45u8; 1500];
    let mut line = DelayLine::new(32 << 20, 1 << 16);
    let mut release = 0u64;
    c.bench_function("delay line hold and release (1500 bytes)", |b| {
        b.iter(|| {
            release += 1;
            assert!(line.hold(black_box(&packet), 3, 1, release));
            line.release_due(release, |egress, tag, bytes| {
                black_box((egress, tag, bytes.len()));
            });
        })
    });
    c.bench_function("path MTU check of a packet that fits", |b| {
        b.iter(|| assert_eq!(fit(black_box(&packet), 1500, 0, 0), Fit::Fits))
    });
}

criterion_group!(benches, shaping);
criterion_main!(benches);
