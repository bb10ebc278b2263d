//! Waking the offload thread when a worker asks after a quiet spell.
//!
//! The offload thread polls its request channel: while requests come, it
//! looks every poll period, and no worker ever wakes it. Once a look finds
//! nothing, it sleeps longer and longer, and a flow asked for then would
//! wait in userspace until the thread next looked (tens of milliseconds, in
//! which one TCP stream sends tens of megabytes through the workers and
//! overtakes them once its entry lands). So a thread that sleeps after an
//! empty look arms the doorbell, and the first request queued while it is
//! armed rings it: one `unpark` (a futex wake) per arming, never one per
//! packet or per request, since ringing disarms it.

use arc_swap::ArcSwapOption;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::Thread;
use std::time::Duration;

/// The offload thread's doorbell, shared with every worker's request end.
#[derive(Debug, Default)]
pub struct Doorbell {
    armed: AtomicBool,
    sleeper: ArcSwapOption<Thread>,
}

impl Doorbell {
    /// Called by a worker once it has queued a request: wakes the thread if
    /// it sleeps armed. No lock and no system call unless it does.
    #[inline]
    pub fn ring(&self) {
        // Pairs with the fence in `sleep_armed`: either the thread sees the
        // request queued, or this sees it armed.
        fence(Ordering::SeqCst);
        if self.armed.load(Ordering::Relaxed) && self.armed.swap(false, Ordering::AcqRel) {
            if let Some(thread) = self.sleeper.load().as_ref() {
                thread.unpark();
            }
        }
    }

    /// Called by the offload thread when it starts (or starts again after a
    /// panic): the thread `ring` wakes.
    pub fn answer_from_here(&self) {
        self.sleeper.store(Some(Arc::new(std::thread::current())));
    }

    /// Sleeps up to `period`, or until a worker rings, unless `queued` says
    /// a request is already waiting (asked after arming, so that a request
    /// queued just before is never left for the whole period).
    pub fn sleep_armed(&self, period: Duration, queued: impl Fn() -> bool) {
        self.armed.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if !queued() {
            std::thread::park_timeout(period);
        }
        self.armed.store(false, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// The thread sleeps armed for an hour; one ring must wake it, however
    /// the machine schedules the two threads.
    #[test]
    fn a_ring_wakes_a_thread_sleeping_armed() {
        let bell = Arc::new(Doorbell::default());
        let queued = Arc::new(AtomicUsize::new(0));
        let (done, woke) = crossbeam_channel::bounded(1);
        let sleeper = {
            let (bell, queued) = (bell.clone(), queued.clone());
            std::thread::spawn(move || {
                bell.answer_from_here();
                // Spurious wake-ups of `park_timeout` return early too:
                // sleep again until the request is seen.
                while queued.load(Ordering::SeqCst) == 0 {
                    bell.sleep_armed(Duration::from_secs(3600), || {
                        queued.load(Ordering::SeqCst) > 0
                    });
                }
                done.send(()).unwrap();
            })
        };
        // Rung once the thread is armed: it sleeps, or is about to.
        while !bell.armed.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        queued.store(1, Ordering::SeqCst);
        bell.ring();
        woke.recv_timeout(Duration::from_secs(60))
            .expect("the ring did not wake the sleeping thread");
        sleeper.join().unwrap();
    }

    #[test]
    fn ringing_disarms_and_a_bell_nobody_answers_is_harmless() {
        let bell = Doorbell::default();
        bell.ring();
        bell.armed.store(true, Ordering::SeqCst);
        bell.ring();
        assert!(!bell.armed.load(Ordering::SeqCst));
        // Armed with a request already queued: no sleep at all.
        bell.sleep_armed(Duration::from_secs(3600), || true);
        assert!(!bell.armed.load(Ordering::SeqCst));
    }
}
