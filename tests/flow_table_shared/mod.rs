//! What the flow table's test files share: a key per (NIC, flow number),
//! the protocol and timeout they use, and the generator and limits of the
//! concurrent tests.

#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use vnetd::engine::flow_table::{FlowKey, FlowOwner};

pub const TCP: u8 = 6;
pub const LONG: u64 = 30 * 60 * 1000;

/// Flow `n` of NIC `nic`: TCP from 10.0.x.y to 10.1.0.4:443.
pub fn key(nic: u32, n: u32) -> FlowKey {
    FlowKey::v4(
        FlowOwner::new(nic),
        0,
        TCP,
        Ipv4Addr::from(0x0a00_0000 | n),
        Ipv4Addr::new(10, 1, 0, 4),
        (n % 50_000) as u16 + 1024,
        443,
    )
}

/// A small xorshift generator, so threads need no shared state.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

pub const THREADS: u64 = 4;
pub const TIME_LIMIT: Duration = Duration::from_secs(2);

/// The concurrent tests' harness: [`THREADS`] threads each take up to
/// `ops` steps (fewer once [`TIME_LIMIT`] has passed), each step
/// `step(thread, random)` with a random number of the thread's own
/// generator (seeded from `seed`). A step that finds something wrong
/// returns why: every thread stops, and the test fails with it.
pub fn churn(seed: u64, ops: u64, step: impl Fn(u64, u64) -> Result<(), String> + Sync) {
    let stop = AtomicBool::new(false);
    let deadline = Instant::now() + TIME_LIMIT;
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let (stop, step) = (&stop, &step);
            scope.spawn(move || {
                let mut rng = Rng(seed ^ (t + 1));
                for i in 0..ops {
                    if stop.load(Ordering::Relaxed) || (i % 1024 == 0 && Instant::now() > deadline)
                    {
                        break;
                    }
                    if let Err(why) = step(t, rng.next()) {
                        stop.store(true, Ordering::Relaxed);
                        panic!("{why}");
                    }
                }
            });
        }
    });
}
