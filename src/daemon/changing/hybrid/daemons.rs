//! The routing daemons the hybrid half runs, each under a lock of its
//! own: a gateway instance's speaker (gobgpd, with its watcher's mailbox
//! and what its sessions last showed) and a site router's daemons (BIRD
//! or FRR), with their supervision.

use super::established::SessionBook;
use super::supervision::Supervision;
use super::watch::Nudge;
use crate::host::routing::bird::BirdRouter;
use crate::host::routing::frr::FrrRouter;
use crate::host::routing::gobgp::GobgpSpeaker;
use crate::host::routing::{BgpRouter, ProcessStatus};
use crate::topology::BgpSpeaker;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};

/// A site router's daemon (it stops when dropped).
pub(super) enum SiteRouter {
    Bird(BirdRouter),
    Frr(FrrRouter),
}

impl SiteRouter {
    pub(super) fn router(&mut self) -> &mut dyn BgpRouter {
        match self {
            SiteRouter::Bird(r) => r,
            SiteRouter::Frr(r) => r,
        }
    }

    pub(super) fn processes(&self) -> Vec<ProcessStatus> {
        match self {
            SiteRouter::Bird(r) => r.processes(),
            SiteRouter::Frr(r) => r.processes(),
        }
    }
}

/// One gateway instance's speaker.
pub(super) struct InstanceSpeaker {
    pub(super) gateway: String,
    pub(super) instance: usize,
    pub(super) speaker: GobgpSpeaker,
    pub(super) supervision: Supervision,
    /// Neighbours whose session gobgpd dropped for the prefix limit, and
    /// when to let each up again.
    pub(super) prefix_limited: BTreeMap<Ipv4Addr, std::time::Instant>,
    /// When the sessions were last looked at.
    pub(super) sessions_checked: Option<std::time::Instant>,
    /// The sessions established when they were last looked at.
    pub(super) established: Vec<Ipv4Addr>,
    /// Where they are recorded for the convergence report.
    pub(super) sessions: Arc<SessionBook>,
    /// Its watcher's mailbox.
    pub(super) watcher: Sender<Nudge>,
    /// The lab no longer runs it: gobgpd was stopped for good.
    pub(super) retired: bool,
}

/// A site router's daemons; `None` once the lab stopped them for good.
pub(super) struct SupervisedRouter {
    pub(super) router: Option<SiteRouter>,
    pub(super) supervision: Supervision,
    /// The router's namespace.
    pub(super) netns: String,
    /// The daemon it runs, and the spec it was started with.
    pub(super) kind: BgpSpeaker,
    /// Whether it is started again when it exits (a site's router is; an
    /// appliance's daemon is the appliance's own, left stopped).
    pub(super) restarts: bool,
    pub(super) spec: crate::host::routing::BgpRouterSpec,
}

/// Takes a speaker's or router's lock, as it is if a holder panicked.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
