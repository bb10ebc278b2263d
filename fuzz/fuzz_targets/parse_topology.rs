//! Topology files: any bytes go through `parse_str`, which must never
//! panic. The invariants are those of `checks::parse_topology`
//! (`fuzz/checks.rs`), which `cargo test` also runs on the seeds.

#![no_main]

#[allow(dead_code)] // each target uses half of the shared checks
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::parse_topology(data));
