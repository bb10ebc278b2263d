//! How a lab's routing daemons are looked after: when one that exited is
//! started again, and what `stats` shows of each.

use crate::host::routing::{ProcessExit, ProcessStatus};
use anyhow::Result;

/// The first wait before a routing daemon that exited is started again.
const RESTART_FIRST: std::time::Duration = std::time::Duration::from_millis(500);
/// The longest wait between two restarts of a daemon that keeps failing.
const RESTART_MAX: std::time::Duration = std::time::Duration::from_secs(30);
/// A daemon that ran this long before it exited is restarted after
/// [`RESTART_FIRST`] again, not after a doubled wait.
const STABLE_RUN: std::time::Duration = std::time::Duration::from_secs(60);

/// How the supervisor looks after one instance's routing daemons: which
/// instance they serve, and when to start them again while one is down.
pub(super) struct Supervision {
    /// What the daemons serve, in words (`gateway G instance 0`, `site S`).
    pub(super) serves: String,
    pub(super) netns: String,
    /// The speaker's span in the log (a gateway instance's or a site
    /// router's, below the lab's): what is said of its daemons is said in
    /// it.
    pub(super) span: tracing::Span,
    /// When the daemons last started.
    started: std::time::Instant,
    /// While a daemon is down: when to try starting it again.
    retry_at: Option<std::time::Instant>,
    /// The wait before the next attempt after this one.
    backoff: std::time::Duration,
    /// Why the last restart failed, until one succeeds.
    restart_error: Option<String>,
}

impl Supervision {
    pub(super) fn new(serves: String, netns: &str, span: tracing::Span) -> Self {
        Self {
            serves,
            netns: netns.to_owned(),
            span,
            started: std::time::Instant::now(),
            retry_at: None,
            backoff: RESTART_FIRST,
            restart_error: None,
        }
    }

    /// Says in the log which daemons exited, and schedules a restart: soon
    /// after a long run, later and later when they keep dying.
    pub(super) fn exited(&mut self, exits: &[ProcessExit], now: std::time::Instant) {
        let _in_speaker = self.span.enter();
        for exit in exits {
            tracing::warn!(
                program = %exit.program,
                pid = exit.pid,
                "{} (pid {}) of {} in {} exited: {}; restarting it",
                exit.program,
                exit.pid,
                self.serves,
                self.netns,
                exit.how
            );
        }
        if exits.is_empty() || self.retry_at.is_some() {
            return;
        }
        if now.duration_since(self.started) >= STABLE_RUN {
            self.backoff = RESTART_FIRST;
        }
        self.retry_at = Some(now + self.backoff);
        self.backoff = (self.backoff * 2).min(RESTART_MAX);
    }

    /// Whether a restart is due.
    pub(super) fn due(&self, now: std::time::Instant) -> bool {
        self.retry_at.is_some_and(|at| now >= at)
    }

    /// Records how a restart went, and says so in the log.
    pub(super) fn restarted(
        &mut self,
        outcome: Result<()>,
        pids: &[ProcessStatus],
        now: std::time::Instant,
    ) {
        let span = self.span.clone();
        let _in_speaker = span.enter();
        match outcome {
            Ok(()) => {
                let pids: Vec<String> = pids
                    .iter()
                    .map(|p| format!("{} pid {}", p.program, p.pid.unwrap_or(0)))
                    .collect();
                tracing::info!(
                    "restarted the routing daemons of {} in {} ({})",
                    self.serves,
                    self.netns,
                    pids.join(", ")
                );
                self.started = now;
                self.retry_at = None;
                self.restart_error = None;
            }
            Err(e) => {
                tracing::error!(
                    "restarting the routing daemons of {} in {} failed: {e:#}; \
                     trying again in {:?}",
                    self.serves,
                    self.netns,
                    self.backoff
                );
                self.retry_at = Some(now + self.backoff);
                self.backoff = (self.backoff * 2).min(RESTART_MAX);
                self.restart_error = Some(one_line(&format!("{e:#}")));
            }
        }
    }

    pub(super) fn report(&self, processes: Vec<ProcessStatus>) -> Vec<RoutingDaemon> {
        processes
            .into_iter()
            .map(|p| RoutingDaemon {
                state: if p.pid.is_some() { "running" } else { "down" }.to_owned(),
                program: p.program,
                netns: self.netns.clone(),
                serves: self.serves.clone(),
                pid: p.pid,
                restarts: p.restarts,
                last_exit: p.last_exit,
                restart_error: self.restart_error.clone(),
            })
            .collect()
    }
}

/// A message on one line for a table: its first line and, when it has
/// more (a daemon's log), its last.
fn one_line(text: &str) -> String {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default();
    match lines.next_back() {
        Some(last) => format!("{first} ... {last}"),
        None => first.to_owned(),
    }
}

/// One routing daemon process as `vnetd stats` reports it: the control
/// API's report, filled here.
pub use crate::api::RoutingDaemonReport as RoutingDaemon;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn killed() -> Vec<ProcessExit> {
        vec![ProcessExit {
            program: "gobgpd".into(),
            pid: 7,
            how: "killed by signal 9 (SIGKILL)".into(),
        }]
    }

    #[test]
    fn restarts_back_off_while_they_fail_and_start_soon_after_a_long_run() {
        let start = Instant::now();
        let mut s = Supervision::new(
            "gateway gw instance 0".into(),
            "gw-0",
            tracing::Span::none(),
        );
        s.started = start;
        s.exited(&[], start);
        assert_eq!(s.retry_at, None, "nothing exited");
        s.exited(&killed(), start);
        assert_eq!(s.retry_at, Some(start + RESTART_FIRST));
        assert!(!s.due(start) && s.due(start + RESTART_FIRST));
        // Each failed attempt doubles the wait, up to RESTART_MAX.
        let mut now = start + RESTART_FIRST;
        let mut waits = Vec::new();
        for _ in 0..8 {
            s.restarted(Err(anyhow::anyhow!("no\nluck")), &[], now);
            let next = s.retry_at.expect("another attempt");
            waits.push(next - now);
            now = next;
        }
        let secs: Vec<f64> = waits.iter().map(Duration::as_secs_f64).collect();
        assert_eq!(secs, [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]);
        assert_eq!(s.restart_error.as_deref(), Some("no ... luck"));
        s.restarted(Ok(()), &[], now);
        assert_eq!((s.retry_at, s.restart_error.as_deref()), (None, None));
        // Dying at once after a restart keeps the long wait; dying after a
        // long run starts from RESTART_FIRST again.
        s.exited(&killed(), now + Duration::from_secs(1));
        assert_eq!(s.retry_at, Some(now + Duration::from_secs(31)));
        s.restarted(Ok(()), &[], now);
        s.exited(&killed(), now + STABLE_RUN);
        assert_eq!(s.retry_at, Some(now + STABLE_RUN + RESTART_FIRST));
    }
}
