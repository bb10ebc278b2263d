//! A real DNS server in a namespace: unbound or BIND 9's `named`, from
//! Debian's packages, in the foreground, with a configuration written from
//! a [`DnsServerSpec`]: zones it answers itself, and forwarders by domain
//! (the root's, `None`, takes every other name). Without a root forwarder
//! it resolves from the Internet's root servers, as a freshly installed
//! server does; a lab reaches none, so such names fail.
//!
//! How a server lives:
//! - **Typed configuration.** Every name is a [`DnsName`], every record
//!   value a [`RecordValue`]; the files are written by [`unbound`] and
//!   [`named`] through the writers of [`crate::config_text`], and checked
//!   by the package's own checker (`unbound-checkconf`,
//!   `named-checkconf -z`) before the server starts, so a file it would
//!   refuse is reported with the checker's words.
//! - **Its own directory, nobody else's.** Each start makes the run
//!   directory anew (what a last run left is removed first, never
//!   followed): root's, readable by the server's group only (mode 0750,
//!   its files 0640); BIND's working directory inside it is the one place
//!   the server may write. The directory is removed when the server
//!   stops.
//! - **Unprivileged and chrooted.** unbound runs as `unbound`, named as
//!   `bind` (the users the packages create), each chrooted to its
//!   directory (`chroot:`, `named -t`).
//! - **Its words in vnetd's log.** What the server writes goes to vnetd's
//!   own log at the level the server gave each line
//!   ([`crate::log_relay`]), not to a file.
//! - **Ready when it answers what it is configured to answer.** The SOA
//!   of each of its zones (NOERROR), or, with no zone, `version.bind` in
//!   the CHAOS class, which both answer themselves: never a name that
//!   needs the Internet. [`DnsServer::spawn`] never waits for that;
//!   [`DnsServer::poll`] says how it stands, so one server that does not
//!   come up holds up no other.
//!
//! Plain DNS: it knows nothing of Azure.

pub mod named;
mod readiness;
mod spec;
pub mod unbound;

pub use crate::config_text::dns::DnsName;
use crate::log_relay::Relay;
use crate::routing::{check_run_dir, Daemon, Output};
use anyhow::{bail, Context, Result};
use readiness::{Probe, ProbeState};
pub use spec::{
    DnsServerSpec, DnsSoftware, ForwarderSpec, Owner, RecordValue, ZoneRecord, ZoneSpec,
};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a server gets to answer its readiness questions.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a server that listens on port 53 may stay silent to its
/// readiness questions at its first start: unbound and BIND answer within
/// milliseconds of listening (their zones are loaded by then), so a
/// server that listens and says nothing is held (a firewall in its
/// namespace, a hung server) and is not waited for longer. A server that
/// failed before gets twice as long at each try, up to
/// [`START_TIMEOUT`], so a slow one is given its time in the end.
pub const SILENCE: Duration = Duration::from_millis(600);

/// How a starting server stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Not answering yet; within its time.
    Starting,
    /// It answers what it is configured to answer.
    Ready,
    /// It ended, or did not answer in time: why, with its last words.
    Failed(String),
}

/// A running DNS server; stopped, and its directory removed, when dropped.
#[derive(Debug)]
pub struct DnsServer {
    spec: DnsServerSpec,
    daemon: Daemon,
    relay: Arc<Relay>,
    probe: Probe,
    deadline: Instant,
    /// How long it may listen and say nothing.
    silence: Duration,
    /// Since when it listens on port 53, once seen.
    listening: Option<Instant>,
    ready: bool,
}

impl DnsServer {
    /// Makes the server's directory, writes and checks its configuration,
    /// and starts it in `spec.netns`; returns at once, without waiting for
    /// it to answer ([`DnsServer::poll`] tells). `earlier_failures` is how
    /// many starts of the same server failed before: each doubles the time
    /// it may listen and say nothing ([`SILENCE`]).
    pub fn spawn(spec: DnsServerSpec, earlier_failures: u32) -> Result<DnsServer> {
        let user = nix::unistd::User::from_name(spec.software.user())
            .context("looking up the server's user")?
            .with_context(|| {
                format!(
                    "no user `{}`: it comes with Debian's {} package, and vnetd runs {} as \
                     that user, never as root",
                    spec.software.user(),
                    spec.software.package(),
                    spec.software.program()
                )
            })?;
        let files = match spec.software {
            DnsSoftware::Unbound => unbound::files(&spec)?,
            DnsSoftware::Bind => named::files(&spec)?,
        };
        make_run_dir(&spec.run_dir, &user)?;
        let started = Self::start_in_run_dir(&spec, &files, &user);
        let (daemon, relay, probe) = match started {
            Ok(started) => started,
            Err(error) => {
                let _ = std::fs::remove_dir_all(&spec.run_dir);
                return Err(error);
            }
        };
        Ok(DnsServer {
            spec,
            daemon,
            relay,
            probe,
            deadline: Instant::now() + START_TIMEOUT,
            silence: SILENCE
                .saturating_mul(1u32.checked_shl(earlier_failures).unwrap_or(u32::MAX))
                .min(START_TIMEOUT),
            listening: None,
            ready: false,
        })
    }

    /// Writes the files into the fresh run directory, checks them, opens
    /// the readiness probe and starts the server.
    fn start_in_run_dir(
        spec: &DnsServerSpec,
        files: &[(String, String)],
        user: &nix::unistd::User,
    ) -> Result<(Daemon, Arc<Relay>, Probe)> {
        for (name, text) in files {
            write_private(&spec.run_dir.join(name), text, user)?;
        }
        if spec.software == DnsSoftware::Bind {
            named::make_work_dir(&spec.run_dir, user)?;
        }
        let (checker, args) = match spec.software {
            DnsSoftware::Unbound => unbound::check_command(&spec.run_dir),
            DnsSoftware::Bind => named::check_command(&spec.run_dir),
        };
        check_with(checker, &args)?;
        let program = spec.software.program();
        let level_of = match spec.software {
            DnsSoftware::Unbound => unbound::level_of,
            DnsSoftware::Bind => named::level_of,
        };
        let relay = Relay::new(format!("{program} in {}", spec.netns), level_of);
        let args = match spec.software {
            DnsSoftware::Unbound => unbound::arguments(&spec.run_dir),
            DnsSoftware::Bind => named::arguments(&spec.run_dir),
        };
        let zones: Vec<DnsName> = spec.zones.iter().map(|z| z.name.clone()).collect();
        let probe = Probe::open(&spec.netns, &zones)?;
        let daemon = Daemon::spawn_to(&spec.netns, program, &args, Output::Relayed(relay.clone()))?;
        Ok((daemon, relay, probe))
    }

    /// Starts the server and waits until it is ready: [`DnsServer::spawn`]
    /// then [`DnsServer::poll`] until it says.
    pub fn start(spec: DnsServerSpec) -> Result<DnsServer> {
        let mut server = DnsServer::spawn(spec, 0)?;
        loop {
            match server.poll() {
                Readiness::Ready => return Ok(server),
                Readiness::Failed(why) => bail!("{why}"),
                Readiness::Starting => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    /// How the server stands, without waiting: its readiness questions
    /// sent (again) and their answers read.
    pub fn poll(&mut self) -> Readiness {
        if let Some(exit) = self.daemon.reap() {
            return Readiness::Failed(format!(
                "{} exited ({}){}",
                self.relay.name(),
                exit.how,
                said(&self.relay.last_lines())
            ));
        }
        if self.ready {
            return Readiness::Ready;
        }
        let now = Instant::now();
        let what = match self.probe.poll(now) {
            ProbeState::Ready => {
                self.ready = true;
                return Readiness::Ready;
            }
            ProbeState::Waiting(what) => what,
        };
        if self.listening.is_none() && self.daemon.pid().is_some_and(listens_on_dns) {
            self.listening = Some(now);
        }
        let silent_for = self.listening.map(|since| now.duration_since(since));
        if silent_for.is_some_and(|silent| silent >= self.silence) {
            return Readiness::Failed(format!(
                "{} listens on port 53 but did not answer {what} within {} ms{}",
                self.relay.name(),
                self.silence.as_millis(),
                said(&self.relay.last_lines())
            ));
        }
        if now >= self.deadline {
            return Readiness::Failed(format!(
                "{} did not answer {what} within {} s{}",
                self.relay.name(),
                START_TIMEOUT.as_secs(),
                said(&self.relay.last_lines())
            ));
        }
        Readiness::Starting
    }

    /// What it was started with.
    pub fn spec(&self) -> &DnsServerSpec {
        &self.spec
    }

    /// Whether its process has ended (reaped here, once), and how.
    pub fn exited(&mut self) -> Option<String> {
        let exit = self.daemon.reap()?;
        Some(format!("{}{}", exit.how, said(&self.relay.last_lines())))
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.daemon.kill();
        let _ = std::fs::remove_dir_all(&self.spec.run_dir);
    }
}

/// Whether a UDP socket bound to port 53 is in the namespace of process
/// `pid` (its `/proc/PID/net/udp`: the sockets of its namespace, the local
/// address and port in hexadecimal).
fn listens_on_dns(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/net/udp")).is_ok_and(|table| {
        table
            .lines()
            .skip(1)
            .filter_map(|line| line.split_whitespace().nth(1))
            .any(|local| local.ends_with(":0035"))
    })
}

/// A server's last lines, for a report: `; it said: ...`.
fn said(lines: &[String]) -> String {
    match lines {
        [] => String::new(),
        lines => format!("; it said: {}", lines.join(" | ")),
    }
}

/// The run directory, made anew: what a last run left there is removed
/// first (links are removed, never followed), then the directory is
/// created root's, readable by `user`'s group (0750). Its parent is
/// root's alone (0700).
fn make_run_dir(dir: &Path, user: &nix::unistd::User) -> Result<()> {
    check_run_dir(dir)?;
    if let Some(parent) = dir.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("removing the old {}", dir.display()))
        }
        _ => {}
    }
    std::fs::DirBuilder::new()
        .mode(0o750)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    nix::unistd::chown(dir, None, Some(user.gid))
        .with_context(|| format!("giving {} to group {}", dir.display(), user.name))
}

/// Writes `text` to a new file at `path`, root's, readable by `user`'s
/// group (0640); a file already there is an error (the directory was just
/// made).
fn write_private(path: &Path, text: &str, user: &nix::unistd::User) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o640)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    nix::unistd::fchown(&file, None, Some(user.gid))
        .with_context(|| format!("giving {} to group {}", path.display(), user.name))
}

/// Runs a configuration checker; fails with what it said unless it
/// accepts. A checker that is not installed checks nothing (the server
/// itself then says what it refuses).
fn check_with(checker: &str, args: &[String]) -> Result<()> {
    let output = match std::process::Command::new(checker)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("running {checker}")),
    };
    if !output.status.success() {
        let words = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        bail!(
            "{checker} refused the configuration ({}): {}",
            output.status,
            words.trim().replace('\n', " | ")
        );
    }
    Ok(())
}
