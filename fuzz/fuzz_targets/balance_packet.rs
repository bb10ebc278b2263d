//! Load balancers on the packet path: any packet a VM (or the health
//! prober) writes goes through `decide` on the load-balancer lab, and a
//! translation it asks for is applied to the packet's bytes; neither may
//! panic. The input layout and the invariants are those of
//! `checks::balance_packet` (`fuzz/checks.rs`), which `cargo test` also
//! runs on the seeds.

#![no_main]

#[allow(dead_code)] // each target uses part of the shared checks
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::balance_packet(data));
