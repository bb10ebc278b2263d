//! A count of things held at once (captures, filter compilers), taken
//! only while it is below its cap: what bounds how much one caller of a
//! listening surface may hold.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Adds one to `held` if it is below `cap`; false, and `held` unchanged,
/// when it is not. Give the place back with `held.fetch_sub(1, ..)`.
pub fn take_below(held: &AtomicUsize, cap: usize) -> bool {
    // A compare-and-swap loop rather than `fetch_update`, which newer Rust
    // renames (`try_update`) and warns about.
    let mut seen = held.load(Ordering::Acquire);
    while seen < cap {
        match held.compare_exchange_weak(seen, seen + 1, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return true,
            Err(now) => seen = now,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_up_to_the_cap_and_no_more() {
        let held = AtomicUsize::new(0);
        let taken: Vec<bool> = (0..5).map(|_| take_below(&held, 3)).collect();
        assert_eq!(taken, [true, true, true, false, false]);
        assert_eq!(held.load(Ordering::Acquire), 3);
        held.fetch_sub(1, Ordering::AcqRel);
        assert!(take_below(&held, 3));
        assert!(!take_below(&held, 0));
    }

    /// Threads racing for the places take exactly the cap between them.
    #[test]
    fn racing_threads_take_exactly_the_cap() {
        let held = AtomicUsize::new(0);
        let taken = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..100 {
                        if take_below(&held, 50) {
                            taken.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(taken.load(Ordering::Relaxed), 50);
        assert_eq!(held.load(Ordering::Acquire), 50);
    }
}
