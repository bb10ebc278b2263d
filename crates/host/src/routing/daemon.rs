//! A routing daemon's process: started in the foreground inside a
//! namespace, its output to a file of its run directory or to vnetd's
//! log, reaped, started again the way it was first started, and killed
//! ([`Daemon`]); and what a supervisor sees of it ([`ProcessStatus`],
//! [`ProcessExit`]).

use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use crate::log_relay::Relay;

use super::commands::in_namespace;

/// A daemon process started in the foreground inside a namespace, killed
/// when dropped. It remembers how it was started, so that a supervisor
/// that reaped its exit ([`Daemon::reap`]) can start it again the same way
/// ([`Daemon::respawn`]).
#[derive(Debug)]
pub(crate) struct Daemon {
    name: String,
    netns: String,
    program: String,
    args: Vec<String>,
    output: Output,
    child: Option<Child>,
    /// Times it was started again after the first start.
    restarts: u64,
    /// How it last ended, once reaped.
    last_exit: Option<String>,
}

/// Where a [`Daemon`]'s standard output and error go.
#[derive(Debug, Clone)]
pub(crate) enum Output {
    /// A file of the instance's run directory, appended to on a restart.
    File(PathBuf),
    /// vnetd's own log, line by line, at the daemon's levels.
    Relayed(Arc<Relay>),
}

/// What a supervisor sees of one routing daemon process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessStatus {
    /// The program's short name (`gobgpd`, `bird`, `zebra`, `bgpd`).
    pub program: String,
    /// Its process id while it runs; `None` once it ended.
    pub pid: Option<u32>,
    /// Times it was started again.
    pub restarts: u64,
    /// How it last ended (`killed by signal 9 (SIGKILL)`, `exit status
    /// 1`), if it ever did.
    pub last_exit: Option<String>,
}

/// One process of an instance that has ended, as a driver's `reap`
/// tells it (once; the process is reaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessExit {
    /// The program's short name.
    pub program: String,
    /// Its process id, now gone.
    pub pid: u32,
    /// How it ended.
    pub how: String,
}

/// How a process ended, in words.
pub fn exit_text(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => match nix::sys::signal::Signal::try_from(signal) {
            Ok(name) => format!("killed by signal {signal} ({name})"),
            Err(_) => format!("killed by signal {signal}"),
        },
        (None, None) => status.to_string(),
    }
}

impl Daemon {
    /// Starts `program ARGS` inside `netns`, its standard output and error
    /// going to `log`. `ip netns exec` execs the program, so the child is
    /// the daemon itself.
    pub(crate) fn spawn(netns: &str, program: &str, args: &[String], log: &Path) -> Result<Self> {
        Self::spawn_to(netns, program, args, Output::File(log.to_owned()))
    }

    /// Starts `program ARGS` inside `netns`, its standard output and error
    /// going to `output`.
    pub(crate) fn spawn_to(
        netns: &str,
        program: &str,
        args: &[String],
        output: Output,
    ) -> Result<Self> {
        let mut daemon = Self {
            name: format!("{program} in {netns}"),
            netns: netns.to_owned(),
            program: program.to_owned(),
            args: args.to_vec(),
            output,
            child: None,
            restarts: 0,
            last_exit: None,
        };
        daemon.child = Some(daemon.start(false)?);
        Ok(daemon)
    }

    /// Starts the process; a file output is created anew, or appended to
    /// when `again`.
    fn start(&self, again: bool) -> Result<Child> {
        let (output, errors) = match &self.output {
            Output::File(log) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .write(true)
                    .append(again)
                    .truncate(!again)
                    .open(log)
                    .with_context(|| format!("opening {}", log.display()))?;
                let errors = file
                    .try_clone()
                    .with_context(|| format!("opening {} twice", log.display()))?;
                (OwnedFd::from(file), OwnedFd::from(errors))
            }
            Output::Relayed(relay) => {
                let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                    .context("a pipe for the daemon's output")?;
                let errors = write
                    .try_clone()
                    .context("the daemon's output pipe twice")?;
                relay
                    .follow(read)
                    .with_context(|| format!("relaying the output of {}", self.name))?;
                (write, errors)
            }
        };
        in_namespace(&self.netns, &self.program)?
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(output)
            .stderr(errors)
            .spawn()
            .with_context(|| format!("starting {}", self.name))
    }

    /// Starts the daemon again as it was first started (same program,
    /// arguments and namespace), its output appended to the same log so
    /// that what the last run said is kept. A running one is killed
    /// first.
    pub(crate) fn respawn(&mut self) -> Result<()> {
        self.kill();
        self.child = Some(self.start(true)?);
        self.restarts += 1;
        Ok(())
    }

    /// Reaps the daemon if it has exited (so it never lingers as a
    /// zombie) and says how it ended; `None` while it runs, or when it was
    /// reaped before.
    pub(crate) fn reap(&mut self) -> Option<ProcessExit> {
        let child = self.child.as_mut()?;
        let pid = child.id();
        // An error here means there is no child to wait for any more.
        let how = match child.try_wait() {
            Ok(None) => return None,
            Ok(Some(status)) => exit_text(status),
            Err(e) => format!("lost ({e})"),
        };
        self.child = None;
        self.last_exit = Some(how.clone());
        Some(ProcessExit {
            program: self.short_name(),
            pid,
            how,
        })
    }

    /// Whether the daemon runs (as far as the last [`Daemon::reap`] saw).
    pub(crate) fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The program's file name (`/usr/lib/frr/bgpd` is `bgpd`).
    fn short_name(&self) -> String {
        Path::new(&self.program).file_name().map_or_else(
            || self.program.clone(),
            |n| n.to_string_lossy().into_owned(),
        )
    }

    /// What a supervisor reports of it.
    pub(crate) fn status(&self) -> ProcessStatus {
        ProcessStatus {
            program: self.short_name(),
            pid: self.pid(),
            restarts: self.restarts,
            last_exit: self.last_exit.clone(),
        }
    }

    /// Fails, with the end of its log, if the daemon has exited.
    pub(crate) fn check_running(&mut self) -> Result<()> {
        if self.child.is_none() {
            bail!("{} is not running", self.name);
        }
        if let Some(exit) = self.reap() {
            bail!(
                "{} exited ({}): {}",
                self.name,
                exit.how,
                self.last_lines().join("\n")
            );
        }
        Ok(())
    }

    /// The last lines the daemon wrote (of its log file, or relayed).
    pub(crate) fn last_lines(&self) -> Vec<String> {
        match &self.output {
            Output::File(log) => {
                let log = std::fs::read_to_string(log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(20).collect();
                tail.into_iter().rev().map(str::to_owned).collect()
            }
            Output::Relayed(relay) => relay.last_lines(),
        }
    }

    /// Sends the daemon SIGHUP: the daemons vnetd runs read their
    /// configuration file again on it.
    pub(crate) fn hang_up(&self) -> Result<()> {
        let pid = self
            .pid()
            .with_context(|| format!("{} is not running", self.name))?;
        let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).context("a pid out of range")?);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP)
            .with_context(|| format!("sending SIGHUP to {}", self.name))
    }

    /// The daemon's process id, while it runs.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the daemon and reaps it.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}
