//! The atomics the flow table is built on: the standard library's, or,
//! when compiled with `--cfg vnetd_loom` (the model-checking tests, see
//! docs/src/testing.md), loom's, whose every access the model checker controls.

#[cfg(vnetd_loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(vnetd_loom))]
pub(crate) use std::sync::atomic::{fence, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Waits a moment before trying again: a hint to the processor, or,
/// under loom, a yield to the model checker's other threads.
pub(crate) fn spin() {
    #[cfg(vnetd_loom)]
    loom::thread::yield_now();
    #[cfg(not(vnetd_loom))]
    std::hint::spin_loop();
}
