//! The packet path: any bytes a VM can write to its TUN device go through
//! `decide`, which must never panic. The input layout and the invariants
//! are those of `checks::decide_packet` (`fuzz/checks.rs`), which
//! `cargo test` also runs on the seeds.

#![no_main]

#[allow(dead_code)] // each target uses half of the shared checks
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::decide_packet(data));
