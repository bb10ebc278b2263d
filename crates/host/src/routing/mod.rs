//! BGP speakers running inside network namespaces.
//!
//! Each driver writes a routing daemon's configuration, starts the daemon
//! inside a namespace (`ip netns exec`), keeps every file of the instance
//! (configuration, control sockets, pid files, logs) under the instance's
//! own run directory so that several instances coexist, drives it at run
//! time through its own command-line client, and kills it when stopped or
//! dropped.
//!
//! - [`bird`]: BIRD 2 ([`BirdRouter`]).
//! - [`frr`]: FRR's zebra and bgpd ([`FrrRouter`]).
//! - [`gobgp`]: gobgpd with import/export policies and prefix limits,
//!   queried through the `gobgp` client's JSON ([`GobgpSpeaker`]).
//!
//! BIRD and FRR share one contract, [`BgpRouterSpec`] and the
//! [`BgpRouter`] trait. They know namespaces, addresses, prefixes, ASNs and
//! neighbours only.
//!
//! Supervision: each daemon is the driver's own child, so only the driver
//! can reap it. A supervisor calls `reap` now and then (which also keeps
//! a killed daemon from lingering as a zombie), learns which daemons
//! ended and how ([`ProcessExit`]), and calls `restart`, which starts
//! them again the way they were first started. What to do while one is
//! down, and how soon to restart, is the supervisor's business.
//!
//! [`Suite`] names each daemon's programs and the Debian package that
//! installs them, and [`ProgramSearch`] finds them before anything is
//! started, so that a missing one is named with its package.

pub mod bird;
pub mod frr;
pub mod gobgp;

use std::ffi::OsStr;
use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ipnet::Ipv4Net;

use crate::log_relay::Relay;

pub use bird::BirdRouter;
pub use frr::FrrRouter;
pub use gobgp::{
    AdvertisedPath, GobgpApi, GobgpNeighbor, GobgpSpeaker, GobgpSpec, LearnedPath, NeighborStatus,
    Origin, SessionLimits,
};

/// The routing daemons run here, each as one Debian package installs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Suite {
    /// gobgpd and its client `gobgp` ([`GobgpSpeaker`]).
    Gobgp,
    /// BIRD 2 and its client `birdc` ([`BirdRouter`]).
    Bird,
    /// FRR's zebra and bgpd, driven through `vtysh` ([`FrrRouter`]).
    Frr,
}

/// Where Debian installs FRR's daemons, outside `$PATH`.
pub const FRR_DAEMON_DIR: &str = "/usr/lib/frr";

impl Suite {
    /// The daemon as people call it.
    pub fn name(self) -> &'static str {
        match self {
            Suite::Gobgp => "gobgpd",
            Suite::Bird => "BIRD",
            Suite::Frr => "FRR",
        }
    }

    /// The Debian package that installs every program of the suite.
    pub fn package(self) -> &'static str {
        match self {
            Suite::Gobgp => "gobgpd",
            Suite::Bird => "bird2",
            Suite::Frr => "frr",
        }
    }

    /// The programs run: the daemons and the clients that drive them.
    pub fn programs(self) -> &'static [&'static str] {
        match self {
            Suite::Gobgp => &["gobgpd", "gobgp"],
            Suite::Bird => &["bird", "birdc"],
            Suite::Frr => &["zebra", "bgpd", "vtysh"],
        }
    }
}

/// Where programs are looked for: a list of directories, searched in order
/// as `$PATH` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramSearch {
    dirs: Vec<PathBuf>,
}

impl ProgramSearch {
    /// The directories of a `$PATH`-like list (separated by `:`).
    pub fn new(path: impl AsRef<OsStr>) -> Self {
        ProgramSearch {
            dirs: std::env::split_paths(path.as_ref())
                .filter(|d| !d.as_os_str().is_empty())
                .collect(),
        }
    }

    /// Where the daemons are started from: `$PATH`, then
    /// [`FRR_DAEMON_DIR`].
    pub fn from_env() -> Self {
        let mut search = Self::new(std::env::var_os("PATH").unwrap_or_default());
        search.dirs.push(PathBuf::from(FRR_DAEMON_DIR));
        search
    }

    /// The first executable file named `program` in the directories.
    pub fn find(&self, program: &str) -> Option<PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        self.dirs.iter().map(|d| d.join(program)).find(|path| {
            std::fs::metadata(path)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    }

    /// The programs of `suite` that are not found.
    pub fn missing(&self, suite: Suite) -> Vec<&'static str> {
        suite
            .programs()
            .iter()
            .copied()
            .filter(|p| self.find(p).is_none())
            .collect()
    }
}

/// A BGP neighbour of a [`BgpRouterSpec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpNeighbor {
    /// The neighbour's address.
    pub address: Ipv4Addr,
    /// The neighbour's AS number.
    pub asn: u32,
    /// The local address of the session (the source of its TCP connection);
    /// the kernel picks one when `None`.
    pub local_address: Option<Ipv4Addr>,
    /// eBGP multihop (TTL 255): the neighbour need not be on a shared link.
    pub multihop: bool,
    /// A router in front of the same network: it is sent every route the
    /// router learned over BGP from the others, with the router itself as
    /// the next hop (so it can forward through this router when its own
    /// way is gone), and nothing it originates. Others are sent only what
    /// the router originates.
    pub pass_on: bool,
}

/// A BGP router in a namespace: what it announces and whom it peers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpRouterSpec {
    /// The namespace the daemon runs in.
    pub netns: String,
    /// The local AS number.
    pub asn: u32,
    /// The BGP router id.
    pub router_id: Ipv4Addr,
    /// The prefixes originated (never installed in the local kernel).
    pub announce: Vec<Ipv4Net>,
    /// The neighbours.
    pub neighbors: Vec<BgpNeighbor>,
    /// Whether learned routes go into the namespace's kernel (a router's
    /// do; an appliance behind a platform that routes for it keeps its
    /// kernel's own routes).
    pub install_learned: bool,
    /// Where the instance's configuration, sockets, pid files and logs go.
    pub run_dir: PathBuf,
}

/// What BIRD and FRR drivers can do at run time.
pub trait BgpRouter {
    /// The BGP state of the session with `neighbor` as the daemon names it
    /// (`Established` once up).
    fn neighbor_state(&self, neighbor: Ipv4Addr) -> Result<String>;
    /// Shuts the session with `neighbor` down administratively.
    fn disable_neighbor(&mut self, neighbor: Ipv4Addr) -> Result<()>;
    /// Lets the session with `neighbor` come back up.
    fn enable_neighbor(&mut self, neighbor: Ipv4Addr) -> Result<()>;
    /// Originates `prefix` too (nothing happens if it already is).
    fn announce(&mut self, prefix: Ipv4Net) -> Result<()>;
    /// Stops originating `prefix` (nothing happens if it is not).
    fn withdraw(&mut self, prefix: Ipv4Net) -> Result<()>;
    /// The prefixes originated now.
    fn announced(&self) -> Vec<Ipv4Net>;
    /// Reaps every daemon of the instance that has exited (so none
    /// lingers as a zombie) and says how each ended; empty while all run.
    fn reap(&mut self) -> Vec<ProcessExit>;
    /// Starts again, in the same namespace and from the same
    /// configuration, every daemon of the instance that is not running.
    /// On failure those daemons are left stopped.
    fn restart(&mut self) -> Result<()>;
    /// Each daemon of the instance: pid, restarts, last exit.
    fn processes(&self) -> Vec<ProcessStatus>;
    /// Kills the daemon(s) and removes the instance's files.
    fn stop(self) -> Result<()>;
}

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

/// Creates `dir` (and its parents), root's alone (mode 0700: its
/// configurations, sockets and logs are nobody else's to read; a driver
/// whose daemon drops privileges hands it to the daemon's user). `dir` is
/// made of names (a lab's, a host's, a namespace's), so it must be an
/// absolute path that never climbs (`..`): a name that would lead a
/// routing daemon's files out of vnetd's directories is refused here,
/// whatever checked it before.
pub(crate) fn create_run_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    check_run_dir(dir)?;
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            return Err(e).with_context(|| format!("creating {}", dir.display()))
        }
        _ => {}
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making {} root's alone", dir.display()))
}

/// Refuses a run directory that is relative or climbs out of its parent.
pub(crate) fn check_run_dir(dir: &Path) -> Result<()> {
    use std::path::Component;
    let plain = dir.is_absolute()
        && dir
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)))
        && !dir.as_os_str().as_encoded_bytes().contains(&0);
    if !plain {
        anyhow::bail!(
            "{} is not a plain directory under vnetd's own: a name it is made of holds `..`, \
             `/` or NUL",
            dir.display()
        );
    }
    Ok(())
}

/// Removes the listed files of an instance, ignoring missing ones, and the
/// run directory itself if that leaves it empty.
pub(crate) fn remove_files(dir: &Path, names: &[&str]) {
    for name in names {
        let _ = std::fs::remove_file(dir.join(name));
    }
    let _ = std::fs::remove_dir(dir);
}

/// The prefixes of `list` with `prefix` added (no duplicates).
pub(crate) fn with_prefix(list: &[Ipv4Net], prefix: Ipv4Net) -> Vec<Ipv4Net> {
    let mut out = list.to_vec();
    if !out.contains(&prefix) {
        out.push(prefix);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_directory_never_climbs_out_of_its_parent() {
        for refused in [
            "/run/vnetd-bgp/../../x",
            "/run/vnetd-bgp/mesh-../../../x",
            "/run/vnetd-bgp/..",
            "run/vnetd-bgp/h1",
            "/run/vnetd-bgp/a\0b",
        ] {
            let dir = Path::new(refused);
            assert!(check_run_dir(dir).is_err(), "{refused:?} was accepted");
            assert!(create_run_dir(dir).is_err(), "{refused:?} was created");
        }
        for accepted in ["/run/vnetd-bgp/lab-mesh-h1", "/run/vnetd-bgp/a..b"] {
            check_run_dir(Path::new(accepted)).unwrap();
        }
    }
}
