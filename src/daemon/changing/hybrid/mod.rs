//! The hybrid half of a running lab: on-premises sites, their routers'
//! BGP daemons, and the gateways' BGP speakers.
//!
//! - Each site is built before the lab's ports (its router's namespace must
//!   exist for the tunnels' TUN devices): router and host namespaces joined
//!   by veth pairs.
//! - Once the ports exist, each tunnel gets the router's BGP address with the
//!   gateway instance's address as its peer (a point-to-point link the
//!   routing daemons see as connected), or a plain route to the instance
//!   where the site has no BGP; a connection without BGP gets static routes
//!   in the router to the VNets the gateway serves, or what a hub's gateway
//!   advertises (what an administrator
//!   configures on a policy-free VPN device), spread over the tunnels.
//! - Each instance of a gateway with a BGP connection runs gobgpd in its
//!   namespace: Azure's ASN, timers and prefix limit (keepalive 60 s, hold
//!   180 s, at most 4000 prefixes a session, from
//!   [`crate::policy::gateways`]), prefixes identical to a served VNet refused, and
//!   never a default route or a VNet-overlapping prefix passed on. It
//!   originates the served VNets' ranges and, on a VPN gateway, a host
//!   route to each BGP peer, withheld from the peers of that peer's own
//!   connection; ties between equally long paths go to the lower router
//!   ID. [`crate::policy::bgp`] models exactly these sessions and rules.
//! - A virtual hub's VPN gateway originates instead what its hub
//!   advertises to branches, with the paths of other hubs' routes, kept to
//!   what the gateways learn (`hub_speakers`).
//! - A site router whose `bgp_speaker` is `bird` or `frr` runs that daemon,
//!   announcing the site's address space to every gateway instance it has a
//!   BGP connection to (eBGP multihop), learned routes into its kernel. The
//!   routers of a site with several meet each other over the links between
//!   them (their BGP addresses on both ends), each passing the others what
//!   it learned, itself as next hop.
//! - An ExpressRoute circuit meets Microsoft's edge (`edge`): two edge
//!   routers (MSEE, gobgpd with ASN 12076) in namespaces of their own, the
//!   customer edge's router joined to each over the link's /30, each
//!   holding the tunnel to the instance of each connected gateway that
//!   ends its link. The gateway instance peers with the edge router, and
//!   passes on no learned route, so nothing goes from one circuit to
//!   another through a gateway.
//! - Global Reach joins two circuits' edge routers directly, by a link the
//!   daemon carries delayed by both circuits' latency
//!   ([`crate::daemon::forwarding::global_reach`]); the customer edges learn each other's
//!   ranges from them over BGP.
//!
//! Each speaker has a watcher ([`watch`]) that follows what it learns as
//! gobgpd reports it and records it in the daemon's [`LearnedBook`]; the
//! daemon publishes a new snapshot when it changes. The daemon's supervisor
//! thread takes the [`Roster`] of the lab's daemons and calls
//! [`Roster::supervise`] every round, outside the lock `apply` takes (a
//! restart may take seconds):
//!
//! - A routing daemon that exited is reaped, said in the log (inside its
//!   speaker's span: a gateway instance's or a site router's) and started
//!   again (after 0.5 s, then waits doubling to 30 s while it keeps
//!   failing); [`Roster::routing_daemons`] is what `stats` shows of them.
//! - A gateway instance whose speaker is not running has learned nothing,
//!   so its routes leave the snapshot until the restarted speaker learns
//!   them again; [`Roster::peer_status`] shows its sessions with the
//!   reason, next to the other instances'.
//! - A session gobgpd dropped for more than
//!   [`crate::policy::gateways::MAX_LEARNED_PREFIXES`] is let up again every
//!   [`PREFIX_LIMIT_RETRY`], as Azure re-establishes it (gobgpd alone
//!   keeps it down for good).
//!
//! Dropping a `Hybrid` stops every daemon and watcher and removes the
//! sites.
//!
//! The rooms: `specs` (what a topology asks of the host layer),
//! `supervision` (restarts and what `stats` shows), [`watch`],
//! [`established`] (the sessions up, as the supervisor last found them,
//! for the convergence report) and `reconcile` (bringing the hybrid half
//! to a topology, part by part).

mod edge;
pub mod established;
mod hub_speakers;
mod reconcile;
mod specs;
mod supervision;
pub mod watch;

pub use established::SessionBook;
pub use reconcile::HybridChanges;

pub use specs::{missing_routing, routing_needs, RoutingNeed};
pub(crate) use supervision::supervise_routing;
pub use supervision::RoutingDaemon;
pub use watch::{LearnedBook, Watch};

use supervision::Supervision;
use watch::{Nudge, Watcher};

use crate::daemon::forwarding::global_reach::ReachLines;
use crate::host::routing::bird::BirdRouter;
use crate::host::routing::frr::FrrRouter;
use crate::host::routing::gobgp::{GobgpSpeaker, NeighborStatus};
use crate::host::routing::{BgpRouter, ProcessExit, ProcessStatus};
use crate::host::site::{remove_site, SiteSpec};
use crate::policy::gateways::PREFIX_LIMIT_RETRY;
use crate::topology::{BgpSpeaker, Topology};
use anyhow::Result;
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};

/// Where the routing daemons keep their configuration, sockets and logs,
/// one directory per namespace. Not under `/run/vnetd`, which only root may
/// enter: FRR's daemons run as the `frr` user.
pub const RUN_DIR: &str = "/run/vnetd-bgp";

/// How often each speaker's sessions are looked at for the prefix limit.
const SESSION_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// A site router's daemon (it stops when dropped).
enum SiteRouter {
    Bird(BirdRouter),
    Frr(FrrRouter),
}

impl SiteRouter {
    fn router(&mut self) -> &mut dyn BgpRouter {
        match self {
            SiteRouter::Bird(r) => r,
            SiteRouter::Frr(r) => r,
        }
    }

    fn processes(&self) -> Vec<ProcessStatus> {
        match self {
            SiteRouter::Bird(r) => r.processes(),
            SiteRouter::Frr(r) => r.processes(),
        }
    }
}

/// One gateway instance's speaker.
struct InstanceSpeaker {
    gateway: String,
    instance: usize,
    speaker: GobgpSpeaker,
    supervision: Supervision,
    /// Neighbours whose session gobgpd dropped for the prefix limit, and
    /// when to let each up again.
    prefix_limited: BTreeMap<Ipv4Addr, std::time::Instant>,
    /// When the sessions were last looked at.
    sessions_checked: Option<std::time::Instant>,
    /// The sessions established when they were last looked at.
    established: Vec<Ipv4Addr>,
    /// Where they are recorded for the convergence report.
    sessions: Arc<SessionBook>,
    /// Its watcher's mailbox.
    watcher: Sender<Nudge>,
    /// The lab no longer runs it: gobgpd was stopped for good.
    retired: bool,
}

/// A site router's daemons; `None` once the lab stopped them for good.
struct SupervisedRouter {
    router: Option<SiteRouter>,
    supervision: Supervision,
    /// The router's namespace.
    netns: String,
    /// The daemon it runs, and the spec it was started with.
    kind: BgpSpeaker,
    /// Whether it is started again when it exits (a site's router is; an
    /// appliance's daemon is the appliance's own, left stopped).
    restarts: bool,
    spec: crate::host::routing::BgpRouterSpec,
}

/// Takes a speaker's or router's lock, as it is if a holder panicked.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The routing daemons of a lab, for the supervisor: each locked on its
/// own while it is looked after.
#[derive(Clone, Default)]
pub struct Roster {
    speakers: Vec<Arc<Mutex<InstanceSpeaker>>>,
    routers: Vec<Arc<Mutex<SupervisedRouter>>>,
    /// Keeps the virtual hubs' VPN gateways announcing what their hubs
    /// advertise to branches, as the learned routes change.
    hubs: Option<Arc<hub_speakers::HubAnnouncer>>,
}

/// One BGP session of a gateway instance as `bgp-peer-status` shows it.
#[derive(Debug, Clone)]
pub struct PeerSession {
    pub address: Ipv4Addr,
    pub asn: u32,
    /// What the speaker says of it; `None` when the speaker cannot be
    /// asked.
    pub status: Option<NeighborStatus>,
    /// Why it is down, when vnetd knows: `speaker not running`, `speaker
    /// not answering`, `prefix limit 4000 exceeded`.
    pub reason: Option<String>,
}

/// The words `bgp-peer-status` uses for a session `s` dropped for its
/// prefix limit ([`crate::policy::gateways::MAX_LEARNED_PREFIXES`] on a gateway, 1000 on a Route
/// Server).
fn prefix_limit_reason(s: &InstanceSpeaker) -> String {
    format!("prefix limit {} exceeded", s.speaker.spec().max_prefixes)
}

/// The sites and routing daemons of a running lab.
#[derive(Default)]
pub struct Hybrid {
    sites: Vec<SiteSpec>,
    roster: Roster,
    /// Each speaker's watcher, by gateway and instance.
    watchers: Vec<(String, usize, Watcher)>,
    /// Where the watchers record what the speakers learn.
    book: Option<Arc<LearnedBook>>,
    /// Where the supervisor records the sessions up.
    sessions: Option<Arc<SessionBook>>,
    /// The lab's span in the log, the parent of each speaker's.
    lab: Option<tracing::Span>,
    /// The daemons' directories, removed with them.
    run_dirs: Vec<PathBuf>,
    /// The static routes the site routers were given (router namespace,
    /// range, tunnels).
    static_routes: Vec<(String, Ipv4Net, Vec<String>)>,
    /// The addresses put on appliances' loopbacks (namespace, address).
    appliance_addresses: Vec<(String, ipnet::IpNet)>,
    /// Microsoft's edge routers of the circuits, as built.
    edge_routers: Vec<edge::EdgeRouterSpec>,
    /// The Global Reach links between them, as joined.
    reach_links: Vec<edge::ReachLink>,
    /// What carries the Global Reach links, delayed by their circuits.
    reach: Option<Arc<ReachLines>>,
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
    pub fn start_routing(&mut self, topo: &Topology, watch: &Watch) -> Result<()> {
        self.update_routing(topo, watch, &mut HybridChanges::default())
    }

    /// The routing daemons, for the supervisor and the reports.
    pub fn roster(&self) -> Roster {
        self.roster.clone()
    }
}

impl Roster {
    /// Every routing daemon of the lab, for `vnetd stats`.
    pub fn routing_daemons(&self) -> Vec<RoutingDaemon> {
        let speakers = self.speakers.iter().flat_map(|s| {
            let s = lock(s);
            s.supervision.report(vec![s.speaker.status()])
        });
        let routers = self.routers.iter().flat_map(|r| {
            let r = lock(r);
            let processes = r.router.as_ref().map(SiteRouter::processes);
            r.supervision.report(processes.unwrap_or_default())
        });
        speakers.chain(routers).collect()
    }

    /// The BGP sessions of every instance of `gateway`, each instance on
    /// its own: one that cannot be asked lists its configured neighbours
    /// with the reason, and never hides the others.
    pub fn peer_status(&self, gateway: &str) -> Vec<(usize, Vec<PeerSession>)> {
        self.speakers
            .iter()
            .map(|s| lock(s))
            .filter(|s| s.gateway == gateway)
            .map(|s| (s.instance, sessions_of(&s)))
            .collect()
    }
}

impl Roster {
    /// What each instance of `gateway` whose speaker has `peer` as a
    /// neighbour advertises to it, read from gobgpd (its adj-RIB-out), by
    /// instance; an instance whose speaker does not answer says why.
    pub fn advertised(
        &self,
        gateway: &str,
        peer: Ipv4Addr,
    ) -> Vec<(
        usize,
        Result<Vec<crate::host::routing::gobgp::AdvertisedPath>>,
    )> {
        self.speakers
            .iter()
            .map(|s| lock(s))
            .filter(|s| {
                s.gateway == gateway && s.speaker.spec().neighbors.iter().any(|n| n.address == peer)
            })
            .map(|s| (s.instance, s.speaker.advertised(peer)))
            .collect()
    }
}

impl Roster {
    /// Looks after the routing daemons, once per supervisor round: reaps
    /// those that exited and says so (a speaker's watcher withdraws what it
    /// learned), starts them again when due, lets a session the prefix
    /// limit dropped up again after [`PREFIX_LIMIT_RETRY`] (as Azure
    /// re-establishes it), and brings the virtual hubs' gateways to what
    /// their hubs advertise now. Each daemon is locked on its own, so a restart
    /// holds up only who asks about that daemon.
    pub fn supervise(&self) {
        for s in &self.speakers {
            let mut s = lock(s);
            if s.retired {
                continue;
            }
            let span = s.supervision.span.clone();
            let _in_speaker = span.enter();
            let now = std::time::Instant::now();
            let exits: Vec<ProcessExit> = s.speaker.reap().into_iter().collect();
            if !exits.is_empty() {
                // A restarted gobgpd starts its sessions afresh.
                s.prefix_limited.clear();
                s.established.clear();
                s.sessions.set(&s.gateway, s.instance, Vec::new());
                let _ = s.watcher.send(Nudge::Down);
            }
            s.supervision.exited(&exits, now);
            if s.supervision.due(now) {
                let outcome = s.speaker.restart();
                let up = outcome.is_ok();
                let status = [s.speaker.status()];
                s.supervision.restarted(outcome, &status, now);
                if up {
                    let _ = s.watcher.send(Nudge::Up);
                }
            }
            if s.speaker.is_running() {
                check_sessions(&mut s, now);
            }
        }
        if let Some(hubs) = &self.hubs {
            hubs.refresh(&self.speakers);
        }
        for r in &self.routers {
            let mut r = lock(r);
            let r = &mut *r;
            let Some(router) = r.router.as_mut() else {
                continue;
            };
            let span = r.supervision.span.clone();
            let _in_speaker = span.enter();
            let now = std::time::Instant::now();
            let exits = router.router().reap();
            if !r.restarts {
                for exit in &exits {
                    tracing::warn!(
                        program = %exit.program,
                        pid = exit.pid,
                        "{} (pid {}) of {} in {} exited: {}; an appliance's daemon is not \
                         restarted",
                        exit.program,
                        exit.pid,
                        r.supervision.serves,
                        r.netns,
                        exit.how
                    );
                }
                continue;
            }
            r.supervision.exited(&exits, now);
            if r.supervision.due(now) {
                let outcome = router.router().restart();
                r.supervision.restarted(outcome, &router.processes(), now);
            }
        }
    }
}

/// The sessions of one instance's speaker, with the reason of those vnetd
/// knows to be down.
fn sessions_of(s: &InstanceSpeaker) -> Vec<PeerSession> {
    let unavailable = |reason: &str| {
        s.speaker
            .spec()
            .neighbors
            .iter()
            .map(|n| PeerSession {
                address: n.address,
                asn: n.asn,
                status: None,
                reason: Some(reason.to_owned()),
            })
            .collect()
    };
    if !s.speaker.is_running() {
        return unavailable("speaker not running");
    }
    match s.speaker.neighbors() {
        Ok(neighbors) => neighbors
            .into_iter()
            .map(|n| PeerSession {
                address: n.address,
                asn: n.asn,
                reason: (n.admin_state == "PrefixLimit"
                    || (s.prefix_limited.contains_key(&n.address) && n.state != "Established"))
                    .then(|| prefix_limit_reason(s)),
                status: Some(n),
            })
            .collect(),
        Err(_) => unavailable("speaker not answering"),
    }
}

/// Notices sessions gobgpd dropped for the prefix limit (it keeps them
/// down for good) and enables each again once [`PREFIX_LIMIT_RETRY`] has
/// passed; one still over the limit is dropped again, and waits again. A
/// change of the established sessions wakes the watcher: a session that
/// ended took its routes with it, best or not.
fn check_sessions(s: &mut InstanceSpeaker, now: std::time::Instant) {
    if s.sessions_checked
        .is_some_and(|at| now.duration_since(at) < SESSION_CHECK)
    {
        return;
    }
    s.sessions_checked = Some(now);
    let Ok(neighbors) = s.speaker.neighbors() else {
        return;
    };
    let established: Vec<Ipv4Addr> = neighbors
        .iter()
        .filter(|n| n.state == "Established")
        .map(|n| n.address)
        .collect();
    if established != s.established {
        for up in established.iter().filter(|a| !s.established.contains(a)) {
            tracing::info!(neighbor = %up, "the session with {up} is established");
        }
        for down in s.established.iter().filter(|a| !established.contains(a)) {
            tracing::info!(neighbor = %down, "the session with {down} is down");
        }
        s.sessions.set(&s.gateway, s.instance, established.clone());
        s.established = established;
        let _ = s.watcher.send(Nudge::Resync);
    }
    for n in neighbors {
        if n.admin_state == "PrefixLimit" {
            let reason = prefix_limit_reason(s);
            let retry_at = s.prefix_limited.entry(n.address).or_insert_with(|| {
                tracing::warn!(
                    neighbor = %n.address,
                    "{} dropped its session with {}: {reason}; letting it up again in {:?}",
                    s.supervision.serves,
                    n.address,
                    PREFIX_LIMIT_RETRY
                );
                now + PREFIX_LIMIT_RETRY
            });
            if now >= *retry_at {
                *retry_at = now + PREFIX_LIMIT_RETRY;
                if let Err(e) = s.speaker.enable_neighbor(n.address) {
                    tracing::warn!(
                        neighbor = %n.address,
                        "letting the session of {} with {} up again: {e:#}",
                        s.supervision.serves,
                        n.address
                    );
                }
            }
        } else if n.state == "Established" && s.prefix_limited.remove(&n.address).is_some() {
            tracing::info!(
                neighbor = %n.address,
                "the session of {} with {} is up again",
                s.supervision.serves,
                n.address
            );
        }
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
