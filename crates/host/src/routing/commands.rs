//! What the drivers run beside their daemons: a command inside a
//! namespace ([`in_namespace`]), run to its end and checked
//! ([`run_checked`]), and a wait for what a daemon is to reach
//! ([`wait_for`]).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// A command that runs `program` inside the named namespace, the name an
/// operand of `ip netns exec` ([`crate::config_text::argv`]). An empty
/// `netns` is the caller's own namespace.
pub(crate) fn in_namespace(netns: &str, program: &str) -> Result<Command> {
    if netns.is_empty() {
        return Ok(Command::new(program));
    }
    let mut command = Command::new("ip");
    command.args([
        "netns",
        "exec",
        crate::config_text::argv::operand(netns)?,
        program,
    ]);
    Ok(command)
}

/// Runs `command`, fails with its output unless it succeeds, and returns
/// its standard output.
pub(crate) fn run_checked(command: &mut Command) -> Result<String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {command:?}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!(
            "{command:?} failed ({}): {}{}",
            output.status,
            stdout.trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(stdout)
}

/// Polls `check` every 100 ms until it returns `Some`, or fails after
/// `timeout`. An error from `check` ends the wait at once: callers return
/// errors only for what no wait mends (the daemon they wait for exited).
pub(crate) fn wait_for<T>(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().with_context(|| format!("waiting for {what}"))? {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            bail!("{what} did not happen within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
