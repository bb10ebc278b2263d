//! The hybrid half as a lab runs it ([`Hybrid`]): the sites built, the
//! routing daemons' roster, the watchers and what they record, the
//! circuits' edge routers and Global Reach links; and what dropping it
//! stops and removes. How it is brought to a topology is `reconcile`'s
//! and `edge`'s.

use super::circuits::{EdgeRouterSpec, ReachLink};
use super::daemons::lock;
use super::established::SessionBook;
use super::roster::Roster;
use super::watch::{LearnedBook, Watch, Watcher};
use crate::daemon::forwarding::global_reach::ReachLines;
use crate::host::site::{remove_site, SiteSpec};
use crate::topology::Topology;
use anyhow::Result;
use ipnet::Ipv4Net;
use std::path::PathBuf;
use std::sync::Arc;

/// The sites and routing daemons of a running lab.
#[derive(Default)]
pub struct Hybrid {
    pub(super) sites: Vec<SiteSpec>,
    pub(super) roster: Roster,
    /// Each speaker's watcher, by gateway and instance.
    pub(super) watchers: Vec<(String, usize, Watcher)>,
    /// Where the watchers record what the speakers learn.
    pub(super) book: Option<Arc<LearnedBook>>,
    /// Where the supervisor records the sessions up.
    pub(super) sessions: Option<Arc<SessionBook>>,
    /// The lab's span in the log, the parent of each speaker's.
    pub(super) lab: Option<tracing::Span>,
    /// The daemons' directories, removed with them.
    pub(super) run_dirs: Vec<PathBuf>,
    /// The static routes the site routers were given (router namespace,
    /// range, tunnels).
    pub(super) static_routes: Vec<(String, Ipv4Net, Vec<String>)>,
    /// The addresses put on appliances' loopbacks (namespace, address).
    pub(super) appliance_addresses: Vec<(String, ipnet::IpNet)>,
    /// Microsoft's edge routers of the circuits, as built.
    pub(super) edge_routers: Vec<EdgeRouterSpec>,
    /// The Global Reach links between them, as joined.
    pub(super) reach_links: Vec<ReachLink>,
    /// What carries the Global Reach links, delayed by their circuits.
    pub(super) reach: Option<Arc<ReachLines>>,
}

impl Hybrid {
    /// Builds the sites' namespaces (before the lab's ports). On failure
    /// what was built is removed.
    pub fn build_sites(topo: &Topology, reach: Arc<ReachLines>) -> Result<Hybrid> {
        let mut hybrid = Hybrid::default();
        hybrid.reach = Some(reach);
        hybrid.update_sites(topo, &mut HybridChanges::default())?;
        Ok(hybrid)
    }

    /// Once the tunnels exist: their addresses and the routers' routes, then
    /// the gateways' speakers, each with its watcher recording in `watch`,
    /// and the sites' daemons.
    pub fn start_routing(
        &mut self,
        planned: (&Topology, &crate::plan::Plan),
        watch: &Watch,
    ) -> Result<()> {
        self.update_routing(planned, watch, &mut HybridChanges::default())
    }

    /// The routing daemons, for the supervisor and the reports.
    pub fn roster(&self) -> Roster {
        self.roster.clone()
    }
}

impl Drop for Hybrid {
    fn drop(&mut self) {
        // The daemons first, then their watchers and what they recorded,
        // then the namespaces they ran in. A supervisor holding a daemon
        // finishes with it first, and finds it retired.
        for r in self.roster.routers.drain(..) {
            lock(&r).router = None;
        }
        let mut gateways = Vec::new();
        for s in self.roster.speakers.drain(..) {
            let mut s = lock(&s);
            s.retired = true;
            s.speaker.kill();
            gateways.push(s.gateway.clone());
        }
        for (_, _, mut watcher) in self.watchers.drain(..) {
            watcher.stop();
        }
        if let Some(sessions) = self.sessions.take() {
            for gateway in &gateways {
                sessions.forget(gateway);
            }
        }
        if let Some(book) = self.book.take() {
            for gateway in gateways {
                book.forget(&gateway);
            }
        }
        for dir in self.run_dirs.drain(..) {
            let _ = std::fs::remove_dir_all(dir);
        }
        self.remove_edge();
        for site in self.sites.drain(..).rev() {
            if let Err(e) = remove_site(&site) {
                tracing::warn!("removing site {}: {e:#}", site.router());
            }
        }
    }
}

/// What bringing the hybrid half to a topology did, in words for the
/// summary of an `apply`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HybridChanges {
    /// Parts started that did not run before.
    pub added: Vec<String>,
    /// Parts changed in place, each with what changed.
    pub changed: Vec<String>,
    /// Parts stopped and built again, each with what is lost with it.
    pub rebuilt: Vec<String>,
    /// Parts stopped for good.
    pub removed: Vec<String>,
    /// Router namespaces built anew: the tunnels in them are new too.
    pub rebuilt_routers: Vec<String>,
    /// Faults met on the way that did not stop it (a site's namespace
    /// that could not be removed), each said in the log too.
    pub warnings: Vec<String>,
}
