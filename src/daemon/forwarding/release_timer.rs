//! A worker's wake-up for its next held packet: a `timerfd` armed to the
//! packet's release time and a quarter of a millisecond
//! ([`RELEASE_SLACK_NS`]). Epoll's own timeout counts
//! whole milliseconds, so a worker woken by it alone releases a delayed
//! packet up to a millisecond late on each delayed hop (a round trip
//! between two regions about 2 ms above their figure); the Global Reach
//! thread wakes the same way.
//!
//! The timer is set only when the next release time changes, and read
//! when it fires, so that its descriptor stops waking epoll: at most one
//! system call per wake-up of a worker that holds packets, none per
//! packet, and none for a worker that holds none.

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollEvent, EpollFlags};
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use std::time::Duration;

/// The epoll data of the timer's events: no descriptor number.
pub const RELEASE_TIMER: u64 = u64::MAX - 1;

/// How long after a release time the timer fires. A wake-up's clock is
/// read before its packets are, so a packet may be stamped up to a
/// wake-up's work before it arrived; this much slack keeps such a packet
/// from leaving before its delay is over, where a loaded host serves a
/// wake-up slowly.
pub const RELEASE_SLACK_NS: u64 = 250_000;

pub struct ReleaseTimer {
    timer: TimerFd,
    /// The release time (ns since the worker's epoch) it is armed for.
    armed_for: Option<u64>,
}

impl ReleaseTimer {
    /// A disarmed timer, watched by `epoll`.
    pub fn new(epoll: &Epoll) -> Result<ReleaseTimer, Errno> {
        let timer = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        epoll.add(&timer, EpollEvent::new(EpollFlags::EPOLLIN, RELEASE_TIMER))?;
        Ok(ReleaseTimer {
            timer,
            armed_for: None,
        })
    }

    /// Arms the timer for the next release `at` (ns since the epoch; `now`
    /// is now), or disarms it when nothing is held; nothing when that is
    /// what it is armed for already.
    pub fn arm(&mut self, at: Option<u64>, now: u64) -> Result<(), Errno> {
        if at == self.armed_for {
            return Ok(());
        }
        match at {
            Some(at) => {
                let due = at.saturating_add(RELEASE_SLACK_NS);
                let wait = Duration::from_nanos(due.saturating_sub(now).max(1));
                self.timer.set(
                    Expiration::OneShot(TimeSpec::from_duration(wait)),
                    TimerSetTimeFlags::empty(),
                )?;
            }
            None => self.timer.unset()?,
        }
        self.armed_for = at;
        Ok(())
    }

    /// The timer fired: takes its expiry, so that it stops waking epoll,
    /// and leaves it to be armed again.
    pub fn fired(&mut self) {
        // Nothing to take (EAGAIN) when it was re-armed since it fired.
        let _ = self.timer.wait();
        self.armed_for = None;
    }
}
