//! Azure DNS on the wire: any bytes a VM sends to 168.63.129.16 (over
//! UDP or TCP) go through `NameTables::answer`, which must never panic.
//! The input layout and the invariants are those of `checks::answer_dns`
//! (`fuzz/checks.rs`), which `cargo test` also runs on the seeds.

#![no_main]

#[allow(dead_code)] // each target uses part of the shared checks
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::answer_dns(data));
