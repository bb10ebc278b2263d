//! What a crashed run left on this machine, removed: the namespaces a
//! vnetd created (by their marks) whose creator has ended, the routing
//! daemons still running in them, and their run directories. Namespaces
//! of those names that vnetd did not create, or whose creator still runs,
//! are left alone and listed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::super::{netns, process};

/// What [`cleanup_leftovers`] and [`cleanup_marked`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Leftovers {
    /// Namespaces created here by a process that has ended: removed.
    pub removed: Vec<String>,
    /// Namespaces of those names that were not created here: left alone.
    pub foreign: Vec<String>,
    /// Namespaces a running process created (and uses): left alone.
    pub in_use: Vec<(String, u32)>,
    /// Processes still running in the removed namespaces (routing daemons
    /// a crashed lab started there): stopped.
    pub stopped: Vec<StoppedProcess>,
    /// The removed namespaces' run directories: removed.
    pub removed_dirs: Vec<PathBuf>,
    /// Devices a crashed run left outside its namespaces: removed.
    pub removed_devices: Vec<String>,
}

/// A process [`cleanup_leftovers`] stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoppedProcess {
    /// The namespace it ran in.
    pub namespace: String,
    pub pid: u32,
    /// Its command name (`gobgpd`, `bird`, `zebra`, ...).
    pub name: String,
}

/// How long stopped processes get to exit on SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Stops the processes still running in namespace `name` (routing daemons
/// a crashed lab started there): SIGTERM, then SIGKILL to those still
/// running after [`STOP_GRACE`]. Returns once all have ended.
fn stop_processes_in(name: &str) -> Result<Vec<StoppedProcess>> {
    let running: Vec<(process::Identity, String)> = netns::processes_in(name)?
        .into_iter()
        .filter_map(|pid| {
            let stat = process::stat(pid).filter(|s| !s.has_ended())?;
            let who = process::Identity {
                pid,
                start_time: stat.start_time,
            };
            Some((who, process::name_of(pid).unwrap_or_default()))
        })
        .collect();
    let signal_all = |signal: Signal| {
        for (who, _) in &running {
            // Only the very process listed, never a later one of its pid.
            if process::is_running(*who) {
                let _ = kill(Pid::from_raw(who.pid as i32), signal);
            }
        }
    };
    let all_ended = |within: Duration| {
        let deadline = Instant::now() + within;
        loop {
            if running.iter().all(|(who, _)| !process::is_running(*who)) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    signal_all(Signal::SIGTERM);
    if !all_ended(STOP_GRACE) {
        signal_all(Signal::SIGKILL);
        if !all_ended(STOP_GRACE) {
            let left: Vec<String> = running
                .iter()
                .filter(|(who, _)| process::is_running(*who))
                .map(|(who, name)| format!("{name} (pid {})", who.pid))
                .collect();
            bail!(
                "the processes {} in network namespace {name} do not exit",
                left.join(", ")
            );
        }
    }
    Ok(running
        .into_iter()
        .map(|(who, process_name)| StoppedProcess {
            namespace: name.to_owned(),
            pid: who.pid,
            name: process_name,
        })
        .collect())
}

/// Removes `root/name` for each of `run_dirs`, where it exists.
fn remove_run_dirs(name: &str, run_dirs: &[&Path], done: &mut Leftovers) -> Result<()> {
    for root in run_dirs {
        let dir = root.join(name);
        match std::fs::symlink_metadata(&dir) {
            Ok(meta) if meta.is_dir() => {
                std::fs::remove_dir_all(&dir)
                    .with_context(|| format!("removing {}", dir.display()))?;
                done.removed_dirs.push(dir);
            }
            _ => {}
        }
    }
    Ok(())
}

/// Removes the named namespaces among `names` that a process of this
/// program created and that it no longer uses, e.g. what a crashed run left
/// behind (see [`netns::owner`]), after stopping the processes still
/// running there. Their TUN devices died with the crashed process's fds or
/// go with the namespace.
pub fn cleanup_leftovers<S: AsRef<str>>(names: &[S]) -> Result<Leftovers> {
    cleanup_named(names, &[])
}

/// [`cleanup_leftovers`], which also removes `ROOT/NAME` for each root of
/// `run_dirs` (where the processes of namespace NAME kept their files) with
/// each namespace removed, and where namespace NAME no longer exists.
pub fn cleanup_named<S: AsRef<str>>(names: &[S], run_dirs: &[&Path]) -> Result<Leftovers> {
    let mut done = Leftovers::default();
    let mut failures = Vec::new();
    for name in names {
        let name = name.as_ref();
        match netns::owner(name) {
            netns::Owner::Absent => {
                if let Err(err) = remove_run_dirs(name, run_dirs, &mut done) {
                    failures.push(format!("{err:#}"));
                }
            }
            netns::Owner::Foreign => done.foreign.push(name.to_owned()),
            netns::Owner::InUse { pid } => done.in_use.push((name.to_owned(), pid)),
            netns::Owner::Ours => {
                let removed = stop_processes_in(name).and_then(|stopped| {
                    done.stopped.extend(stopped);
                    netns::delete(name)?;
                    done.removed.push(name.to_owned());
                    remove_run_dirs(name, run_dirs, &mut done)
                });
                if let Err(err) = removed {
                    failures.push(format!("{err:#}"));
                }
            }
        }
    }
    if failures.is_empty() {
        Ok(done)
    } else {
        bail!("removing leftover namespaces: {}", failures.join("; "))
    }
}

/// Removes every namespace marked as created here (see [`netns::marked`])
/// whose creator has ended, whatever lab it belonged to, as
/// [`cleanup_named`] does; marks of namespaces that no longer exist are
/// forgotten. A marked namespace of a running creator is listed in
/// `in_use`; one that is not ours (a namespace of that name made since) is
/// not listed.
pub fn cleanup_marked(run_dirs: &[&Path]) -> Result<Leftovers> {
    let names = netns::marked()?;
    let mut done = cleanup_named(&names, run_dirs)?;
    done.foreign.clear();
    for name in &names {
        netns::forget_stale_mark(name)?;
    }
    Ok(done)
}
