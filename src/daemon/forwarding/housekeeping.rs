//! The slow-path thread that keeps the flow table roomy: it frees the slots
//! of idle flows a little at a time, so inserts on the packet path find
//! free slots without sweeping; and twice a second it runs the daemon's
//! other upkeep it is handed (reading what the queues dropped). It uses no
//! other room but the threads' fault injection.

use crate::daemon::threads::{Faults, ThreadKind};
use crate::engine::flow_table::FlowTable;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Frees the slots of idle flows a little at a time, so inserts find free
/// slots without sweeping on the packet path, and runs `upkeep` every
/// fifth round (twice a second).
pub fn housekeep(
    flows: &FlowTable,
    stop: &AtomicBool,
    epoch: Instant,
    faults: &Faults,
    upkeep: &mut dyn FnMut(),
) {
    const PERIOD: std::time::Duration = std::time::Duration::from_millis(100);
    const UPKEEP_EVERY: u32 = 5;
    // A whole table every ten seconds at most.
    let budget = (flows.capacity() / 100).max(1024);
    let mut round = 0u32;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(PERIOD);
        faults.check(ThreadKind::Housekeeping);
        flows.sweep(epoch.elapsed().as_millis() as u64, budget);
        round = round.wrapping_add(1);
        if round.is_multiple_of(UPKEEP_EVERY) {
            upkeep();
        }
    }
}
