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
//!   namespace: Azure's ASN, keepalive 60 s and hold 180 s, at most 4000
//!   prefixes a session, prefixes identical to a served VNet refused, and
//!   never a default route or a VNet-overlapping prefix passed on. It
//!   originates the served VNets' ranges, as
//!   [`crate::policy::gateways::advertised`] says.
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
//! [`Hybrid::learned`] gathers what the speakers learned; the daemon's
//! watcher compiles a new snapshot when it changes. Before that, in each
//! round, it calls [`Hybrid::supervise`]:
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
//! Dropping a `Hybrid` stops every daemon and removes the sites.

use crate::host::routing::bird::BirdRouter;
use crate::host::routing::frr::FrrRouter;
use crate::host::routing::gobgp::{GobgpNeighbor, GobgpSpeaker, GobgpSpec, NeighborStatus, Origin};
use crate::host::routing::{
    BgpNeighbor, BgpRouter, BgpRouterSpec, ProcessExit, ProcessStatus, ProgramSearch, Suite,
};
use crate::host::site::{build_site, remove_site, SiteHostSpec, SiteSpec};
use crate::plan::PortKind;
use crate::policy::gateways::{
    served_ranges, BgpOrigin, LearnedRoute, LearnedRoutes, MAX_LEARNED_PREFIXES, PREFIX_LIMIT_RETRY,
};
use crate::topology::{
    BgpSpeaker, ConnectionPeer, Diagnostic, GatewayIdx, GatewayType, Severity, Site, SiteIdx,
    Topology, MICROSOFT_EDGE_ASN,
};
use anyhow::{Context, Result};
use ipnet::{IpNet, Ipv4Net};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::Command;

/// Where the routing daemons keep their configuration, sockets and logs,
/// one directory per namespace. Not under `/run/vnetd`, which only root may
/// enter: FRR's daemons run as the `frr` user.
pub const RUN_DIR: &str = "/run/vnetd-bgp";

/// The first wait before a routing daemon that exited is started again.
const RESTART_FIRST: std::time::Duration = std::time::Duration::from_millis(500);
/// The longest wait between two restarts of a daemon that keeps failing.
const RESTART_MAX: std::time::Duration = std::time::Duration::from_secs(30);
/// A daemon that ran this long before it exited is restarted after
/// [`RESTART_FIRST`] again, not after a doubled wait.
const STABLE_RUN: std::time::Duration = std::time::Duration::from_secs(60);
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

/// How the watcher looks after one instance's routing daemons: which
/// instance they serve, and when to start them again while one is down.
struct Supervision {
    /// What the daemons serve, in words (`gateway G instance 0`, `site S`).
    serves: String,
    netns: String,
    /// When the daemons last started.
    started: std::time::Instant,
    /// While a daemon is down: when to try starting it again.
    retry_at: Option<std::time::Instant>,
    /// The wait before the next attempt after this one.
    backoff: std::time::Duration,
    /// Why the last restart failed, until one succeeds.
    restart_error: Option<String>,
}

impl Supervision {
    fn new(serves: String, netns: &str) -> Self {
        Self {
            serves,
            netns: netns.to_owned(),
            started: std::time::Instant::now(),
            retry_at: None,
            backoff: RESTART_FIRST,
            restart_error: None,
        }
    }

    /// Says on stderr which daemons exited, and schedules a restart: soon
    /// after a long run, later and later when they keep dying.
    fn exited(&mut self, exits: &[ProcessExit], now: std::time::Instant) {
        for exit in exits {
            eprintln!(
                "vnetd: {} (pid {}) of {} in {} exited: {}; restarting it",
                exit.program, exit.pid, self.serves, self.netns, exit.how
            );
        }
        if exits.is_empty() || self.retry_at.is_some() {
            return;
        }
        if now.duration_since(self.started) >= STABLE_RUN {
            self.backoff = RESTART_FIRST;
        }
        self.retry_at = Some(now + self.backoff);
        self.backoff = (self.backoff * 2).min(RESTART_MAX);
    }

    /// Whether a restart is due.
    fn due(&self, now: std::time::Instant) -> bool {
        self.retry_at.is_some_and(|at| now >= at)
    }

    /// Records how a restart went, and says so on stderr.
    fn restarted(&mut self, outcome: Result<()>, pids: &[ProcessStatus], now: std::time::Instant) {
        match outcome {
            Ok(()) => {
                let pids: Vec<String> = pids
                    .iter()
                    .map(|p| format!("{} pid {}", p.program, p.pid.unwrap_or(0)))
                    .collect();
                eprintln!(
                    "vnetd: restarted the routing daemons of {} in {} ({})",
                    self.serves,
                    self.netns,
                    pids.join(", ")
                );
                self.started = now;
                self.retry_at = None;
                self.restart_error = None;
            }
            Err(e) => {
                eprintln!(
                    "vnetd: restarting the routing daemons of {} in {} failed: {e:#}; \
                     trying again in {:?}",
                    self.serves, self.netns, self.backoff
                );
                self.retry_at = Some(now + self.backoff);
                self.backoff = (self.backoff * 2).min(RESTART_MAX);
                self.restart_error = Some(one_line(&format!("{e:#}")));
            }
        }
    }

    fn report(&self, processes: Vec<ProcessStatus>) -> Vec<RoutingDaemon> {
        processes
            .into_iter()
            .map(|p| RoutingDaemon {
                state: if p.pid.is_some() { "running" } else { "down" }.to_owned(),
                program: p.program,
                netns: self.netns.clone(),
                serves: self.serves.clone(),
                pid: p.pid,
                restarts: p.restarts,
                last_exit: p.last_exit,
                restart_error: self.restart_error.clone(),
            })
            .collect()
    }
}

/// A message on one line for a table: its first line and, when it has
/// more (a daemon's log), its last.
fn one_line(text: &str) -> String {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default();
    match lines.next_back() {
        Some(last) => format!("{first} ... {last}"),
        None => first.to_owned(),
    }
}

/// One routing daemon process as `vnetd stats` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RoutingDaemon {
    /// `gobgpd`, `bird`, `zebra` or `bgpd`.
    pub program: String,
    pub netns: String,
    /// What it serves: `gateway G instance I` or `site S`.
    pub serves: String,
    /// `running`, or `down` (exited; a restart is scheduled).
    pub state: String,
    pub pid: Option<u32>,
    /// Times vnetd started it again.
    pub restarts: u64,
    /// How it last ended (`killed by signal 9 (SIGKILL)`, `exit status 1`).
    pub last_exit: Option<String>,
    /// Why the last attempt to start it again failed, until one succeeds.
    pub restart_error: Option<String>,
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
}

/// A site router's daemons.
struct SupervisedRouter {
    router: SiteRouter,
    supervision: Supervision,
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
    routers: Vec<SupervisedRouter>,
    speakers: Vec<InstanceSpeaker>,
    /// The daemons' directories, removed with them.
    run_dirs: Vec<PathBuf>,
}

/// A site as the host layer builds it: each host on a link of its own,
/// with the prefix of the site range that holds it (at most a /24).
fn site_spec(site: &Site) -> SiteSpec {
    SiteSpec {
        router: site.router_netns.clone(),
        hosts: site
            .hosts
            .iter()
            .map(|h| {
                let range = site.address_space.iter().find(|r| r.contains(&h.address));
                let len = match h.address {
                    IpAddr::V4(_) => range.map_or(24, |r| r.prefix_len().max(24)),
                    IpAddr::V6(_) => range.map_or(64, |r| r.prefix_len().max(64)),
                };
                SiteHostSpec {
                    netns: h.netns.clone(),
                    address: IpNet::new(h.address, len).expect("a valid prefix length"),
                }
            })
            .collect(),
    }
}

fn v4(ip: IpAddr) -> Option<Ipv4Addr> {
    match ip {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(_) => None,
    }
}

fn v4_nets(nets: impl IntoIterator<Item = IpNet>) -> Vec<Ipv4Net> {
    nets.into_iter()
        .filter_map(|n| match n {
            IpNet::V4(n) => Some(n),
            IpNet::V6(_) => None,
        })
        .collect()
}

/// Runs a host tool (`ip`, `tc`) to completion; a failure says which
/// command and what it printed.
fn run(program: &str, args: &[&str]) -> Result<()> {
    let out = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("running {program} {}", args.join(" ")))?;
    anyhow::ensure!(
        out.status.success(),
        "{program} {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

fn ip(args: &[&str]) -> Result<()> {
    run("ip", args)
}

/// Shapes what the router sends into a circuit's tunnel to the circuit's
/// bandwidth: a token bucket of `mbps`, with 10 ms of traffic (at least a
/// jumbo frame) as burst and 50 ms of queue.
fn shape(router: &str, interface: &str, mbps: u32) -> Result<()> {
    let burst_bytes = (u64::from(mbps) * 1_000_000 / 8 / 100).max(9_000);
    let args = [
        "-n",
        router,
        "qdisc",
        "replace",
        "dev",
        interface,
        "root",
        "tbf",
        "rate",
        &format!("{mbps}mbit"),
        "burst",
        &burst_bytes.to_string(),
        "latency",
        "50ms",
    ];
    run("tc", &args)
}

/// The BGP address a site's router uses towards instance `instance` of
/// `gateway`: the peering address of the local network gateway a BGP
/// connection of the gateway names for the site, or for a circuit the
/// customer edge's address on the link that instance ends.
fn router_bgp_address(
    topo: &Topology,
    site: SiteIdx,
    gateway: GatewayIdx,
    instance: usize,
) -> Option<IpAddr> {
    topo.connections_of(gateway)
        .filter(|c| c.bgp_enabled)
        .find_map(|c| match c.peer {
            ConnectionPeer::Local(l) if topo.local_gateways[l].site == site => {
                topo.local_gateways[l].bgp.map(|b| b.peering_address)
            }
            ConnectionPeer::Circuit(e) if topo.circuits[e].site == site => {
                Some(topo.circuits[e].private_peering.customer_address(instance))
            }
            _ => None,
        })
}

/// The sessions instance `instance` of `gateway` holds on its circuits:
/// the customer edge of the link it ends, met as Microsoft's edge.
fn circuit_neighbors(topo: &Topology, gateway: GatewayIdx, instance: usize) -> Vec<GobgpNeighbor> {
    topo.connections_of(gateway)
        .filter_map(|c| match c.peer {
            ConnectionPeer::Circuit(e) => Some(&topo.circuits[e].private_peering),
            _ => None,
        })
        .filter_map(|peering| {
            Some(GobgpNeighbor {
                address: v4(peering.customer_address(instance))?,
                asn: peering.peer_asn,
                multihop: true,
                local_as: Some(MICROSOFT_EDGE_ASN),
            })
        })
        .collect()
}

/// The sessions every instance of `gateway` holds over its BGP
/// connections: the local network gateways' peering addresses and the
/// other gateway's instances (circuits come per instance, from
/// [`circuit_neighbors`]).
fn gateway_neighbors(topo: &Topology, gateway: GatewayIdx) -> Vec<GobgpNeighbor> {
    let mut neighbors: Vec<GobgpNeighbor> = Vec::new();
    for c in topo.connections_of(gateway).filter(|c| c.bgp_enabled) {
        let peers: Vec<(IpAddr, u32)> = match c.peer {
            ConnectionPeer::Local(l) => topo.local_gateways[l]
                .bgp
                .map(|b| (b.peering_address, b.asn))
                .into_iter()
                .collect(),
            ConnectionPeer::Gateway(other) => {
                let o = &topo.gateways[other];
                o.instances.iter().map(|a| (*a, o.asn)).collect()
            }
            // A circuit's sessions are per instance.
            ConnectionPeer::Circuit(_) => Vec::new(),
        };
        for (address, asn) in peers {
            if let Some(address) = v4(address) {
                if !neighbors.iter().any(|n| n.address == address) {
                    neighbors.push(GobgpNeighbor {
                        address,
                        asn,
                        multihop: true,
                        local_as: None,
                    });
                }
            }
        }
    }
    neighbors
}

/// Whether instance `instance` of `gateway` runs a BGP speaker: it has an
/// IPv4 address and at least one session.
fn instance_speaks_bgp(topo: &Topology, gateway: GatewayIdx, instance: usize) -> bool {
    let gw = &topo.gateways[gateway];
    gw.instances.get(instance).copied().and_then(v4).is_some()
        && (!gateway_neighbors(topo, gateway).is_empty()
            || !circuit_neighbors(topo, gateway, instance).is_empty())
}

/// The BGP router of site `site`, when it runs one: a `bgp_speaker`, an
/// ASN and at least one BGP session to a gateway instance.
fn site_router_spec(topo: &Topology, site: SiteIdx) -> Option<BgpRouterSpec> {
    let s = &topo.sites[site];
    if s.bgp_speaker == BgpSpeaker::None {
        return None;
    }
    let asn = s.asn?;
    let mut neighbors = Vec::new();
    let mut router_id = None;
    for (g, gw) in topo.gateways.iter_enumerated() {
        // Towards an ExpressRoute gateway the router meets Microsoft's edge.
        let peer_asn = if topo.circuit_of(site, g).is_some() {
            MICROSOFT_EDGE_ASN
        } else {
            gw.asn
        };
        for (i, peer) in gw.instances.iter().enumerate() {
            let (Some(local), Some(peer)) =
                (router_bgp_address(topo, site, g, i).and_then(v4), v4(*peer))
            else {
                continue;
            };
            router_id.get_or_insert(local);
            neighbors.push(BgpNeighbor {
                address: peer,
                asn: peer_asn,
                local_address: Some(local),
                multihop: true,
            });
        }
    }
    Some(BgpRouterSpec {
        netns: s.router_netns.clone(),
        asn,
        router_id: router_id?,
        announce: v4_nets(s.address_space.iter().copied()),
        neighbors,
        run_dir: PathBuf::from(RUN_DIR).join(&s.router_netns),
    })
}

/// A routing daemon a lab runs, and the first entry of its file that
/// needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingNeed {
    pub suite: Suite,
    pub line: usize,
    /// The entry, as a key path (`virtual_network_gateways[hub-vpngw]`).
    pub key: String,
}

/// The routing daemons `topo`'s lab runs, each once, with the first entry
/// that needs it: gobgpd for gateway instances with BGP sessions, BIRD or
/// FRR for site routers that speak BGP.
pub fn routing_needs(topo: &Topology) -> Vec<RoutingNeed> {
    let mut needs: Vec<RoutingNeed> = Vec::new();
    let mut add = |suite: Suite, line: usize, key: String| {
        if !needs.iter().any(|n| n.suite == suite) {
            needs.push(RoutingNeed { suite, line, key });
        }
    };
    for (g, gw) in topo.gateways.iter_enumerated() {
        if (0..gw.instances.len()).any(|i| instance_speaks_bgp(topo, g, i)) {
            add(
                Suite::Gobgp,
                gw.line,
                format!("virtual_network_gateways[{}]", gw.name),
            );
        }
    }
    for (s, site) in topo.sites.iter_enumerated() {
        let suite = match site.bgp_speaker {
            BgpSpeaker::Bird => Suite::Bird,
            BgpSpeaker::Frr => Suite::Frr,
            BgpSpeaker::None => continue,
        };
        if site_router_spec(topo, s).is_some() {
            add(
                suite,
                site.line,
                format!("on_premises_sites[{}].router.bgp_speaker", site.name),
            );
        }
    }
    needs.sort_by_key(|n| n.line);
    needs
}

/// The routing daemons `topo`'s lab runs whose programs `search` does not
/// find: an error for each, at the first entry that needs it, naming the
/// Debian package to install.
pub fn missing_routing(topo: &Topology, search: &ProgramSearch) -> Vec<Diagnostic> {
    routing_needs(topo)
        .into_iter()
        .filter_map(|need| {
            let missing = search.missing(need.suite);
            if missing.is_empty() {
                return None;
            }
            Some(Diagnostic {
                file: topo.source.clone(),
                line: need.line,
                severity: Severity::Error,
                key: need.key,
                message: format!(
                    "needs {}, which is not installed (no {} found): install the Debian \
                     package {} (apt-get install {})",
                    need.suite.name(),
                    missing.join(", "),
                    need.suite.package(),
                    need.suite.package()
                ),
            })
        })
        .collect()
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
    /// the gateways' speakers and the sites' daemons.
    pub fn start_routing(&mut self, topo: &Topology) -> Result<()> {
        self.plumb_tunnels(topo)?;
        self.start_speakers(topo)?;
        self.start_site_routers(topo)
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
            match router_bgp_address(topo, *site, *gateway, *instance) {
                Some(local) => ip(&[
                    "-n",
                    router,
                    "addr",
                    "add",
                    &format!("{local}/32"),
                    "peer",
                    &format!("{peer}/32"),
                    "dev",
                    interface,
                ])?,
                None => ip(&[
                    "-n",
                    router,
                    "route",
                    "replace",
                    &format!("{peer}/32"),
                    "dev",
                    interface,
                ])?,
            }
            if let Some(circuit) = topo.circuit_of(*site, *gateway) {
                shape(router, interface, topo.circuits[circuit].bandwidth_mbps)?;
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
            let mut args: Vec<String> = ["-n", &router, "route", "replace", &range.to_string()]
                .iter()
                .map(|s| s.to_string())
                .collect();
            for dev in devices {
                args.extend(["nexthop".into(), "dev".into(), dev]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ip(&args)?;
        }
        Ok(())
    }

    fn start_speakers(&mut self, topo: &Topology) -> Result<()> {
        for (g, gw) in topo.gateways.iter_enumerated() {
            let neighbors = gateway_neighbors(topo, g);
            let express_route = gw.gateway_type == GatewayType::ExpressRoute;
            let served = v4_nets(served_ranges(topo, g));
            for (i, address) in gw.instances.iter().enumerate() {
                let Some(address) = v4(*address) else {
                    continue;
                };
                let mut instance_neighbors = neighbors.clone();
                instance_neighbors.extend(circuit_neighbors(topo, g, i));
                if instance_neighbors.is_empty() {
                    continue;
                }
                let netns = crate::topology::resolve::instance_netns(&gw.name, i);
                let run_dir = PathBuf::from(RUN_DIR).join(&netns);
                self.run_dirs.push(run_dir.clone());
                let mut spec = GobgpSpec::new(&netns, gw.asn, address, run_dir);
                spec.max_prefixes =
                    u32::try_from(MAX_LEARNED_PREFIXES).expect("the prefix limit fits a u32");
                spec.neighbors = instance_neighbors;
                spec.pass_on_learned = !express_route;
                spec.reject_exact = served.clone();
                spec.export_deny_overlapping = served.clone();
                let mut speaker = GobgpSpeaker::start(spec)
                    .with_context(|| format!("starting the BGP speaker of {netns}"))?;
                speaker
                    .set_announced(&served)
                    .with_context(|| format!("announcing the VNets from {netns}"))?;
                self.speakers.push(InstanceSpeaker {
                    gateway: gw.name.clone(),
                    instance: i,
                    speaker,
                    supervision: Supervision::new(
                        format!("gateway {} instance {i}", gw.name),
                        &netns,
                    ),
                    prefix_limited: BTreeMap::new(),
                    sessions_checked: None,
                });
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
            self.routers.push(SupervisedRouter {
                router,
                supervision,
            });
        }
        Ok(())
    }

    /// Makes every speaker originate what `topo` says its gateway
    /// advertises (after an `apply` changed the VNets it serves).
    pub fn refresh_announcements(&mut self, topo: &Topology) {
        for s in &mut self.speakers {
            let Some(g) = topo.gateways.position(|g| g.name == s.gateway) else {
                continue;
            };
            let originated = v4_nets(served_ranges(topo, g));
            if let Err(e) = s.speaker.set_announced(&originated) {
                eprintln!("vnetd: announcing from {}: {e:#}", s.speaker.spec().netns);
            }
        }
    }

    /// Looks after the routing daemons, once per watcher round: reaps
    /// those that exited and says so, starts them again when due, and
    /// lets a session the prefix limit dropped up again after
    /// [`PREFIX_LIMIT_RETRY`] (as Azure re-establishes it).
    pub fn supervise(&mut self) {
        let now = std::time::Instant::now();
        for s in &mut self.speakers {
            let exits: Vec<ProcessExit> = s.speaker.reap().into_iter().collect();
            if !exits.is_empty() {
                // A restarted gobgpd starts its sessions afresh.
                s.prefix_limited.clear();
            }
            s.supervision.exited(&exits, now);
            if s.supervision.due(now) {
                let outcome = s.speaker.restart();
                s.supervision.restarted(outcome, &[s.speaker.status()], now);
            }
            if s.speaker.is_running() {
                check_prefix_limits(s, now);
            }
        }
        for r in &mut self.routers {
            let exits = r.router.router().reap();
            r.supervision.exited(&exits, now);
            if r.supervision.due(now) {
                let outcome = r.router.router().restart();
                r.supervision.restarted(outcome, &r.router.processes(), now);
            }
        }
    }

    /// Every routing daemon of the lab, for `vnetd stats`.
    pub fn routing_daemons(&self) -> Vec<RoutingDaemon> {
        let speakers = self
            .speakers
            .iter()
            .flat_map(|s| s.supervision.report(vec![s.speaker.status()]));
        let routers = self
            .routers
            .iter()
            .flat_map(|r| r.supervision.report(r.router.processes()));
        speakers.chain(routers).collect()
    }

    /// What every gateway instance has learned now. A speaker that is not
    /// running has learned nothing (its sessions are down, so Azure would
    /// have withdrawn their routes); one that runs but does not answer
    /// keeps what it had in `previous`.
    pub fn learned(&self, previous: &LearnedRoutes) -> LearnedRoutes {
        let mut out = LearnedRoutes::default();
        for s in &self.speakers {
            let answer = if s.speaker.is_running() {
                s.speaker.learned()
            } else {
                Ok(Vec::new())
            };
            let routes = match answer {
                Ok(paths) => paths
                    .into_iter()
                    .map(|p| LearnedRoute {
                        prefix: IpNet::V4(p.prefix),
                        peer: IpAddr::V4(p.neighbor),
                        next_hop: IpAddr::V4(p.next_hop),
                        as_path: p.as_path,
                        origin: match p.origin {
                            Origin::Igp => BgpOrigin::Igp,
                            Origin::Egp => BgpOrigin::Egp,
                            Origin::Incomplete => BgpOrigin::Incomplete,
                        },
                    })
                    .collect(),
                Err(_) => previous.of(&s.gateway, s.instance).to_vec(),
            };
            let instances = out.gateways.entry(s.gateway.clone()).or_default();
            if instances.len() <= s.instance {
                instances.resize(s.instance + 1, Vec::new());
            }
            instances[s.instance] = routes;
        }
        out
    }

    /// The BGP sessions of every instance of `gateway`, each instance on
    /// its own: one that cannot be asked lists its configured neighbours
    /// with the reason, and never hides the others.
    pub fn peer_status(&self, gateway: &str) -> Vec<(usize, Vec<PeerSession>)> {
        self.speakers
            .iter()
            .filter(|s| s.gateway == gateway)
            .map(|s| (s.instance, sessions_of(s)))
            .collect()
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
/// passed; one still over the limit is dropped again, and waits again.
fn check_prefix_limits(s: &mut InstanceSpeaker, now: std::time::Instant) {
    if s.sessions_checked
        .is_some_and(|at| now.duration_since(at) < SESSION_CHECK)
    {
        return;
    }
    s.sessions_checked = Some(now);
    let Ok(neighbors) = s.speaker.neighbors() else {
        return;
    };
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
        // The daemons first (each stops when dropped), then the namespaces
        // they ran in.
        self.routers.clear();
        self.speakers.clear();
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

/// True when two topologies have the same sites, gateways, local network
/// gateways and connections (lines aside): what a running lab can keep.
pub fn same_hybrid_part(a: &Topology, b: &Topology) -> bool {
    fn strip(t: &Topology) -> String {
        let mut sites = t.sites.clone();
        sites.iter_mut().for_each(|s| {
            s.line = 0;
            s.hosts.iter_mut().for_each(|h| h.line = 0);
        });
        let mut gateways = t.gateways.clone();
        gateways.iter_mut().for_each(|g| g.line = 0);
        let mut locals = t.local_gateways.clone();
        locals.iter_mut().for_each(|l| l.line = 0);
        let mut connections = t.connections.clone();
        connections.iter_mut().for_each(|c| c.line = 0);
        let mut circuits = t.circuits.clone();
        circuits.iter_mut().for_each(|c| c.line = 0);
        let mut reach = t.global_reach.clone();
        reach.iter_mut().for_each(|g| g.line = 0);
        format!("{sites:?}{gateways:?}{locals:?}{connections:?}{circuits:?}{reach:?}")
    }
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn killed() -> Vec<ProcessExit> {
        vec![ProcessExit {
            program: "gobgpd".into(),
            pid: 7,
            how: "killed by signal 9 (SIGKILL)".into(),
        }]
    }

    #[test]
    fn restarts_back_off_while_they_fail_and_start_soon_after_a_long_run() {
        let start = Instant::now();
        let mut s = Supervision::new("gateway gw instance 0".into(), "gw-0");
        s.started = start;
        s.exited(&[], start);
        assert_eq!(s.retry_at, None, "nothing exited");
        s.exited(&killed(), start);
        assert_eq!(s.retry_at, Some(start + RESTART_FIRST));
        assert!(!s.due(start) && s.due(start + RESTART_FIRST));
        // Each failed attempt doubles the wait, up to RESTART_MAX.
        let mut now = start + RESTART_FIRST;
        let mut waits = Vec::new();
        for _ in 0..8 {
            s.restarted(Err(anyhow::anyhow!("no\nluck")), &[], now);
            let next = s.retry_at.expect("another attempt");
            waits.push(next - now);
            now = next;
        }
        let secs: Vec<f64> = waits.iter().map(Duration::as_secs_f64).collect();
        assert_eq!(secs, [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]);
        assert_eq!(s.restart_error.as_deref(), Some("no ... luck"));
        s.restarted(Ok(()), &[], now);
        assert_eq!((s.retry_at, s.restart_error.as_deref()), (None, None));
        // Dying at once after a restart keeps the long wait; dying after a
        // long run starts from RESTART_FIRST again.
        s.exited(&killed(), now + Duration::from_secs(1));
        assert_eq!(s.retry_at, Some(now + Duration::from_secs(31)));
        s.restarted(Ok(()), &[], now);
        s.exited(&killed(), now + STABLE_RUN);
        assert_eq!(s.retry_at, Some(now + STABLE_RUN + RESTART_FIRST));
    }
}
