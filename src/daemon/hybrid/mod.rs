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
//!   in the router to the VNets the gateway serves (what an administrator
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
//! - A site router whose `bgp_speaker` is `bird` or `frr` runs that daemon,
//!   announcing the site's address space to every gateway instance it has a
//!   BGP connection to (eBGP multihop), learned routes into its kernel.
//! - An ExpressRoute circuit is a BGP connection whose site is the customer
//!   edge: link `i` of its private peering joins the router to instance `i`
//!   of each connected gateway (the tunnel holds the customer edge's
//!   address of that link), the instance meets the edge as Microsoft's
//!   edge (ASN 12076, gobgpd's `local-as`) and passes on no learned route,
//!   so nothing goes from one circuit to another. What the router sends
//!   into a circuit's tunnel is shaped to `bandwidth_in_mbps` (tc tbf).
//! - Global Reach: the router of each joined circuit's site gets static
//!   routes to the other site's ranges over its circuit's tunnels, and the
//!   fabric hands such packets from one circuit's tunnel to the other's.
//!
//! Each speaker has a watcher ([`watch`]) that follows what it learns as
//! gobgpd reports it and records it in the daemon's [`LearnedBook`]; the
//! daemon publishes a new snapshot when it changes. The daemon's supervisor
//! thread takes the [`Roster`] of the lab's daemons and calls
//! [`Roster::supervise`] every round, outside the lock `apply` takes (a
//! restart may take seconds):
//!
//! - A routing daemon that exited is reaped, said on stderr and started
//!   again (after 0.5 s, then waits doubling to 30 s while it keeps
//!   failing); [`Hybrid::routing_daemons`] is what `stats` shows of them.
//! - A gateway instance whose speaker is not running has learned nothing,
//!   so its routes leave the snapshot until the restarted speaker learns
//!   them again; [`Hybrid::peer_status`] shows its sessions with the
//!   reason, next to the other instances'.
//! - A session gobgpd dropped for more than
//!   [`MAX_LEARNED_PREFIXES`] is let up again every
//!   [`PREFIX_LIMIT_RETRY`], as Azure re-establishes it (gobgpd alone
//!   keeps it down for good).
//!
//! Dropping a `Hybrid` stops every daemon and watcher and removes the
//! sites.
//!
//! The rooms: `specs` (what a topology asks of the host layer),
//! `supervision` (restarts and what `stats` shows), [`watch`] and
//! [`established`] (the sessions up, as the supervisor last found them,
//! for the convergence report).

pub mod established;
mod specs;
mod supervision;
pub mod watch;

pub use established::{Established, SessionBook};
pub use specs::{missing_routing, routing_needs, same_hybrid_part, RoutingNeed};
pub use supervision::RoutingDaemon;
pub use watch::{LearnedBook, Watch};

use specs::{
    gobgp_neighbors, host_routes, originated_by, site_router_spec, site_spec, v4, v4_nets,
};
use supervision::Supervision;
use watch::{Nudge, Watcher};

use crate::host::routing::bird::BirdRouter;
use crate::host::routing::frr::FrrRouter;
use crate::host::routing::gobgp::{GobgpSpeaker, GobgpSpec, NeighborStatus, SessionLimits};
use crate::host::routing::{BgpRouter, ProcessExit, ProcessStatus};
use crate::host::site::{build_site, remove_site, SiteSpec};
use crate::host::{netlink, shaping};
use crate::plan::PortKind;
use crate::policy::bgp::{peer_host_groups, withheld_from};
use crate::policy::gateways::{
    served_ranges, BGP_HOLD, BGP_KEEPALIVE, MAX_LEARNED_PREFIXES, PREFIX_LIMIT_RETRY,
};
use crate::topology::{BgpSpeaker, ConnectionPeer, GatewayType, Topology};
use anyhow::{Context, Result};
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

/// The words `bgp-peer-status` uses for a session dropped for the prefix
/// limit.
fn prefix_limit_reason() -> String {
    format!("prefix limit {MAX_LEARNED_PREFIXES} exceeded")
}

/// The sites and routing daemons of a running lab.
#[derive(Default)]
pub struct Hybrid {
    sites: Vec<SiteSpec>,
    roster: Roster,
    watchers: Vec<Watcher>,
    /// Where the watchers record what the speakers learn.
    book: Option<Arc<LearnedBook>>,
    /// Where the supervisor records the sessions up.
    sessions: Option<Arc<SessionBook>>,
    /// The daemons' directories, removed with them.
    run_dirs: Vec<PathBuf>,
}

impl Hybrid {
    /// Builds the sites' namespaces (before the lab's ports). On failure
    /// what was built is removed.
    pub fn build_sites(topo: &Topology) -> Result<Hybrid> {
        let mut hybrid = Hybrid::default();
        for site in &topo.sites {
            let spec = site_spec(site);
            build_site(&spec).with_context(|| format!("building site {}", site.name))?;
            hybrid.sites.push(spec);
        }
        Ok(hybrid)
    }

    /// Once the tunnels exist: their addresses and the routers' routes, then
    /// the gateways' speakers, each with its watcher recording in `watch`,
    /// and the sites' daemons.
    pub fn start_routing(&mut self, topo: &Topology, watch: &Watch) -> Result<()> {
        self.plumb_tunnels(topo)?;
        self.book = Some(watch.book.clone());
        self.sessions = Some(watch.sessions.clone());
        self.start_speakers(topo, watch)?;
        self.start_site_routers(topo)
    }

    /// The routing daemons, for the supervisor.
    pub fn roster(&self) -> Roster {
        self.roster.clone()
    }

    fn plumb_tunnels(&self, topo: &Topology) -> Result<()> {
        let mut static_routes: Vec<(String, Ipv4Net, Vec<String>)> = Vec::new();
        for nic in &crate::plan::Plan::derive(topo).ports {
            let PortKind::SiteTunnel {
                site,
                gateway,
                instance,
            } = &nic.kind
            else {
                continue;
            };
            let interface = &nic.interface;
            let gw = &topo.gateways[*gateway];
            let router = &topo.sites[*site].router_netns;
            let Some(peer) = gw.instances.get(*instance).copied() else {
                continue;
            };
            let Some(peer) = v4(peer) else {
                anyhow::bail!("the tunnel {interface} of {router} ends at an IPv6 address {peer}");
            };
            match crate::policy::bgp::router_bgp_address(topo, *site, *gateway, *instance) {
                Some(local) => {
                    let Some(local) = v4(local) else {
                        anyhow::bail!("the BGP address {local} of {router} is not IPv4");
                    };
                    netlink::add_peer_address(router, interface, local, peer)?
                }
                None => netlink::replace_device_route(
                    router,
                    Ipv4Net::from(peer),
                    std::slice::from_ref(interface),
                )?,
            }
            if let Some(circuit) = topo.circuit_of(*site, *gateway) {
                shaping::shape(router, interface, topo.circuits[circuit].bandwidth_mbps)?;
                // Global Reach: the sites of joined circuits, through this
                // circuit's tunnels.
                for peer in topo.reach_peers(circuit) {
                    let far = &topo.sites[topo.circuits[peer].site];
                    for range in v4_nets(far.address_space.iter().copied()) {
                        match static_routes
                            .iter_mut()
                            .find(|(r, p, _)| r == router && *p == range)
                        {
                            Some((_, _, devs)) => devs.push(interface.clone()),
                            None => {
                                static_routes.push((router.clone(), range, vec![interface.clone()]))
                            }
                        }
                    }
                }
            }
            let without_bgp = topo.connections_of(*gateway).any(|c| {
                !c.bgp_enabled
                    && matches!(c.peer, ConnectionPeer::Local(l) if topo.local_gateways[l].site == *site)
            });
            if without_bgp {
                for range in v4_nets(served_ranges(topo, *gateway)) {
                    match static_routes
                        .iter_mut()
                        .find(|(r, p, _)| r == router && *p == range)
                    {
                        Some((_, _, devs)) => devs.push(interface.clone()),
                        None => {
                            static_routes.push((router.clone(), range, vec![interface.clone()]))
                        }
                    }
                }
            }
        }
        for (router, range, devices) in static_routes {
            netlink::replace_device_route(&router, range, &devices)?;
        }
        Ok(())
    }

    fn start_speakers(&mut self, topo: &Topology, watch: &Watch) -> Result<()> {
        let limits = SessionLimits {
            keepalive_secs: BGP_KEEPALIVE.as_secs() as u32,
            hold_secs: BGP_HOLD.as_secs() as u32,
            max_prefixes: u32::try_from(MAX_LEARNED_PREFIXES).expect("the prefix limit fits a u32"),
        };
        for (g, gw) in topo.gateways.iter_enumerated() {
            let express_route = gw.gateway_type == GatewayType::ExpressRoute;
            let served = v4_nets(served_ranges(topo, g));
            // A VPN gateway originates a host route to each BGP peer,
            // withheld from the peers of that peer's own connection.
            let groups = peer_host_groups(topo, g);
            let originated = originated_by(topo, g);
            for (i, address) in gw.instances.iter().enumerate() {
                let Some(address) = v4(*address) else {
                    continue;
                };
                let instance_neighbors = gobgp_neighbors(topo, g, i);
                if instance_neighbors.is_empty() {
                    continue;
                }
                let netns = crate::topology::resolve::instance_netns(&gw.name, i);
                let run_dir = PathBuf::from(RUN_DIR).join(&netns);
                self.run_dirs.push(run_dir.clone());
                let mut spec = GobgpSpec::new(&netns, gw.asn, address, run_dir, limits);
                spec.withheld = instance_neighbors
                    .iter()
                    .map(|n| {
                        let group = withheld_from(&groups, std::net::IpAddr::V4(n.address));
                        (n.address, host_routes(&group))
                    })
                    .filter(|(_, w)| !w.is_empty())
                    .collect();
                spec.neighbors = instance_neighbors;
                spec.pass_on_learned = !express_route;
                spec.reject_exact = served.clone();
                spec.export_deny_overlapping = served.clone();
                let mut speaker = GobgpSpeaker::start(spec)
                    .with_context(|| format!("starting the BGP speaker of {netns}"))?;
                speaker
                    .set_announced(&originated)
                    .with_context(|| format!("announcing the VNets from {netns}"))?;
                let watcher = Watcher::start(speaker.api(), gw.name.clone(), i, watch.clone())?;
                let mailbox = watcher.mailbox();
                self.watchers.push(watcher);
                self.roster
                    .speakers
                    .push(Arc::new(Mutex::new(InstanceSpeaker {
                        gateway: gw.name.clone(),
                        instance: i,
                        speaker,
                        supervision: Supervision::new(
                            format!("gateway {} instance {i}", gw.name),
                            &netns,
                        ),
                        prefix_limited: BTreeMap::new(),
                        sessions_checked: None,
                        established: Vec::new(),
                        sessions: watch.sessions.clone(),
                        watcher: mailbox,
                        retired: false,
                    })));
            }
        }
        Ok(())
    }

    fn start_site_routers(&mut self, topo: &Topology) -> Result<()> {
        for (s, site) in topo.sites.iter_enumerated() {
            let Some(spec) = site_router_spec(topo, s) else {
                continue;
            };
            self.run_dirs.push(spec.run_dir.clone());
            let supervision = Supervision::new(format!("site {}", site.name), &site.router_netns);
            let router = match site.bgp_speaker {
                BgpSpeaker::Bird => SiteRouter::Bird(
                    BirdRouter::start(spec)
                        .with_context(|| format!("starting BIRD for {}", site.name))?,
                ),
                BgpSpeaker::Frr => SiteRouter::Frr(
                    FrrRouter::start(spec)
                        .with_context(|| format!("starting FRR for {}", site.name))?,
                ),
                BgpSpeaker::None => continue,
            };
            self.roster
                .routers
                .push(Arc::new(Mutex::new(SupervisedRouter {
                    router: Some(router),
                    supervision,
                })));
        }
        Ok(())
    }

    /// Makes every speaker originate what `topo` says its gateway
    /// advertises (after an `apply` changed the VNets it serves).
    pub fn refresh_announcements(&mut self, topo: &Topology) {
        for s in &self.roster.speakers {
            let mut s = lock(s);
            let Some(g) = topo.gateways.position(|g| g.name == s.gateway) else {
                continue;
            };
            let originated = originated_by(topo, g);
            if let Err(e) = s.speaker.set_announced(&originated) {
                eprintln!("vnetd: announcing from {}: {e:#}", s.speaker.spec().netns);
            }
        }
    }

    /// Every routing daemon of the lab, for `vnetd stats`.
    pub fn routing_daemons(&self) -> Vec<RoutingDaemon> {
        let speakers = self.roster.speakers.iter().flat_map(|s| {
            let s = lock(s);
            s.supervision.report(vec![s.speaker.status()])
        });
        let routers = self.roster.routers.iter().flat_map(|r| {
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
        self.roster
            .speakers
            .iter()
            .map(|s| lock(s))
            .filter(|s| s.gateway == gateway)
            .map(|s| (s.instance, sessions_of(&s)))
            .collect()
    }
}

impl Hybrid {
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
        self.roster
            .speakers
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
    /// learned), starts them again when due, and lets a session the prefix
    /// limit dropped up again after [`PREFIX_LIMIT_RETRY`] (as Azure
    /// re-establishes it). Each daemon is locked on its own, so a restart
    /// holds up only who asks about that daemon.
    pub fn supervise(&self) {
        for s in &self.speakers {
            let mut s = lock(s);
            if s.retired {
                continue;
            }
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
        for r in &self.routers {
            let mut r = lock(r);
            let r = &mut *r;
            let Some(router) = r.router.as_mut() else {
                continue;
            };
            let now = std::time::Instant::now();
            let exits = router.router().reap();
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
                    .then(prefix_limit_reason),
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
        s.sessions.set(&s.gateway, s.instance, established.clone());
        s.established = established;
        let _ = s.watcher.send(Nudge::Resync);
    }
    for n in neighbors {
        if n.admin_state == "PrefixLimit" {
            let retry_at = s.prefix_limited.entry(n.address).or_insert_with(|| {
                eprintln!(
                    "vnetd: {} dropped its session with {}: {}; letting it up again in {:?}",
                    s.supervision.serves,
                    n.address,
                    prefix_limit_reason(),
                    PREFIX_LIMIT_RETRY
                );
                now + PREFIX_LIMIT_RETRY
            });
            if now >= *retry_at {
                *retry_at = now + PREFIX_LIMIT_RETRY;
                if let Err(e) = s.speaker.enable_neighbor(n.address) {
                    eprintln!(
                        "vnetd: letting the session of {} with {} up again: {e:#}",
                        s.supervision.serves, n.address
                    );
                }
            }
        } else if n.state == "Established" && s.prefix_limited.remove(&n.address).is_some() {
            eprintln!(
                "vnetd: the session of {} with {} is up again",
                s.supervision.serves, n.address
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
        for mut watcher in self.watchers.drain(..) {
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
        for site in self.sites.drain(..).rev() {
            if let Err(e) = remove_site(&site) {
                eprintln!("vnetd: removing site {}: {e:#}", site.router);
            }
        }
    }
}
