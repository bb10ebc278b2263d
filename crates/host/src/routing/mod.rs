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
//! [`BgpRouter`] trait (`router.rs`). They know namespaces, addresses,
//! prefixes, ASNs and neighbours only. Every driver runs its daemons as a
//! `Daemon` (`daemon.rs`), its clients with the commands of
//! `commands.rs`, and keeps its files in a run directory (`run_dir.rs`).
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
mod commands;
mod daemon;
pub mod frr;
pub mod gobgp;
mod router;
mod run_dir;

use std::ffi::OsStr;
use std::path::PathBuf;

pub use bird::BirdRouter;
pub use daemon::{exit_text, ProcessExit, ProcessStatus};
pub(crate) use daemon::{Daemon, Output};
pub use frr::FrrRouter;
pub use gobgp::{
    AdvertisedPath, GobgpApi, GobgpNeighbor, GobgpSpeaker, GobgpSpec, LearnedPath, NeighborStatus,
    Origin, SessionLimits,
};
pub use router::{BgpNeighbor, BgpRouter, BgpRouterSpec};
pub(crate) use run_dir::check_run_dir;

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
