//! The UDP coalescer on the way out: any sequence of packets a worker may
//! hand it. It must never panic, and what it joins must split back into
//! the datagrams that went in. The input layout and the invariants are
//! those of `checks::coalesce_udp` (`fuzz/checks.rs`), which `cargo test`
//! also runs on the seeds.

#![no_main]

#[allow(dead_code)] // each target uses part of the shared checks
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::coalesce_udp(data));
