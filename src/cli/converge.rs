//! The lab's convergence as the command line shows it and waits for it:
//! `vnetd run` reports BGP sessions and learned prefixes as they come up
//! and one line once the lab has converged ([`Reporter`], a thread of its
//! own that never holds the lab up); `vnetd apply` and `vnetd verify
//! --wait` ask the running lab over the control socket until it has
//! converged or their deadline passes ([`wait_converged`]). What
//! "converged" means is [`crate::daemon::reporting::convergence`]'s.

use super::say;
use crate::api::client::{Client, ClientError};
use crate::api::Convergence;
use crate::daemon::Daemon;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the convergence is looked at while waiting for it.
const POLL: Duration = Duration::from_millis(200);

/// The line that says a lab converged, `elapsed` counted as `what` says
/// ("after start", "after the apply", "of waiting").
pub(super) fn converged_line(state: &Convergence, elapsed: Duration, what: &str) -> String {
    format!(
        "vnetd: converged: {} ({:.1} s {what})\n",
        state.summary(),
        elapsed.as_secs_f64()
    )
}

/// The line that says how far a lab has come.
fn progress_line(state: &Convergence) -> String {
    format!("vnetd: {}\n", state.progress())
}

/// Prints a running lab's convergence on stdout from a thread of its own:
/// a progress line each time the counts change, then the converged line,
/// and then it ends.
pub(super) struct Reporter {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Reporter {
    /// Starts reporting on `daemon`, its time counted from `since` (the
    /// moment `what` names).
    pub(super) fn start(daemon: Arc<Daemon>, since: Instant, what: &'static str) -> Reporter {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("vnetd-converge".into())
            .spawn(move || report(&daemon, since, what, &flag))
            .ok();
        Reporter { stop, thread }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn report(daemon: &Daemon, since: Instant, what: &str, stop: &AtomicBool) {
    let mut last = String::new();
    while !stop.load(Ordering::Relaxed) {
        let state = daemon.convergence();
        if state.converged {
            let _ = say(&converged_line(&state, since.elapsed(), what));
            return;
        }
        let line = progress_line(&state);
        if line != last {
            let _ = say(&line);
            last = line;
        }
        std::thread::sleep(POLL);
    }
}

/// Why a wait ended without convergence.
pub(super) enum NotConverged {
    /// The lab answered, but had not converged by the deadline.
    Missing(Box<Convergence>),
    /// Nobody answered on the control socket by the deadline.
    Unreachable(ClientError),
}

/// Asks the lab at `client` until it reports converged or `timeout` has
/// passed, handing `print` a progress line each time the counts change;
/// a control socket that does not answer yet (a lab still starting) is
/// asked again until the deadline. Returns the converged state, and the
/// time waited.
pub(super) fn wait_converged(
    client: &Client,
    timeout: Duration,
    print: &dyn Fn(&str),
) -> Result<(Convergence, Duration), NotConverged> {
    let started = Instant::now();
    let deadline = started + timeout;
    let mut last = String::new();
    loop {
        let outcome = client.convergence();
        match &outcome {
            Ok(state) if state.converged => return Ok((state.clone(), started.elapsed())),
            Ok(state) => {
                let line = progress_line(state);
                if line != last {
                    print(&line);
                    last = line;
                }
            }
            // A refusal (the lab shutting down, a daemon that does not
            // know the request) does not get better by waiting.
            Err(ClientError::Refused(_)) => {
                return Err(NotConverged::Unreachable(outcome.unwrap_err()))
            }
            Err(ClientError::Unreachable(_)) => {
                let line = "vnetd: waiting for the lab's control socket\n".to_string();
                if line != last {
                    print(&line);
                    last = line;
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(match outcome {
                Ok(state) => NotConverged::Missing(Box::new(state)),
                Err(e) => NotConverged::Unreachable(e),
            });
        }
        std::thread::sleep(POLL.min(deadline.saturating_duration_since(Instant::now())));
    }
}

/// Why a wait of `timeout` ended, in one message.
pub(super) fn not_converged_message(why: &NotConverged, timeout: Duration) -> String {
    match why {
        NotConverged::Missing(state) => format!(
            "the lab did not converge within {} s: {}; still missing: {}",
            timeout.as_secs(),
            state.progress(),
            state.missing()
        ),
        NotConverged::Unreachable(e) => {
            format!("the lab did not answer within {} s: {e}", timeout.as_secs())
        }
    }
}
