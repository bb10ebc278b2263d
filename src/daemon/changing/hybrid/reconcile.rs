//! Bringing the hybrid half of a running lab to a topology, part by part:
//! each site's namespaces, the tunnels' addresses and routes, each gateway
//! instance's speaker and each site router is compared with what runs,
//! and only what changed is touched. Starting a lab is the same step from
//! nothing.
//!
//! Azure changes a gateway's connections in place: adding or removing a
//! connection, a gateway or a site never resets another site's tunnel or
//! BGP session. Here too:
//! - a site whose namespaces are unchanged (router and hosts, addresses)
//!   keeps them, with every process running in them and its tunnels;
//! - a speaker whose neighbours or policies change is reconfigured in
//!   place ([`GobgpSpeaker::reconfigure`]): the sessions that stay are
//!   not reset;
//! - a site router whose configuration changes is restarted (BIRD and FRR
//!   are started from a file vnetd writes), its sessions reset, and the
//!   summary says so;
//! - what a site's `latency_ms`, a link's impairments or a VM's size
//!   change lives in the daemon's tables, not here, and touches nothing.

use super::daemons::{lock, InstanceSpeaker, SiteRouter, SupervisedRouter};
use super::running::{Hybrid, HybridChanges};
use super::specs::RUN_DIR;
use super::specs::{
    appliance_is_local, appliance_router_spec, gobgp_neighbors, host_routes, originated_by,
    route_server_is_local, site_peer_links, site_router_spec, site_spec,
};
use super::specs::{v4, v4_nets};
use super::supervision::Supervision;
use super::watch::{Watch, Watcher};
use crate::host::netlink;
use crate::host::routing::bird::BirdRouter;
use crate::host::routing::frr::FrrRouter;
use crate::host::routing::gobgp::{
    same_identity, Announcement, GobgpNeighbor, GobgpSpeaker, GobgpSpec, SessionLimits,
};
use crate::host::routing::BgpRouterSpec;
use crate::host::site::{build_site, peer_link_name, remove_site};
use crate::policy::bgp::{peer_host_groups, route_server_neighbors, withheld_from};
use crate::policy::gateways::{
    served_ranges, LearnedRoutes, BGP_HOLD, BGP_KEEPALIVE, MAX_LEARNED_PREFIXES,
};
use crate::policy::virtual_wan::{hub_gateway_exports, static_device_ranges};
use crate::topology::{
    BgpSpeaker, GatewayType, RouterRef, Topology, ROUTE_SERVER_ASN,
    ROUTE_SERVER_MAX_ROUTES_PER_PEER,
};
use anyhow::{Context, Result};
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// What one speaker should be: a gateway instance's, or a circuit's edge
/// router's (named `gateway`, instance 0).
struct SpeakerPlan {
    gateway: String,
    instance: usize,
    spec: GobgpSpec,
    originated: Vec<Announcement>,
    /// What the supervisor calls it on stderr and in `stats`.
    label: String,
    /// An edge router's: its watcher installs its best routes in the
    /// namespace's kernel.
    programs_kernel: bool,
}

impl SpeakerPlan {
    /// The speaker of instance `instance` of `what` (`gateway`, `route
    /// server`) `name`, originating `originated`, installing nothing in
    /// its namespace's kernel.
    fn instance_of(
        (what, name): (&str, &str),
        instance: usize,
        spec: GobgpSpec,
        originated: Vec<Ipv4Net>,
    ) -> SpeakerPlan {
        SpeakerPlan {
            gateway: name.to_owned(),
            instance,
            spec,
            originated: originated.into_iter().map(Announcement::plain).collect(),
            label: format!("{what} {name} instance {instance}"),
            programs_kernel: false,
        }
    }
}

/// The speakers `topo` asks for: one per gateway instance with an IPv4
/// address and at least one session, and one per edge router of each
/// circuit.
fn speaker_plans(topo: &Topology, learned: &LearnedRoutes) -> Vec<SpeakerPlan> {
    let limits = SessionLimits {
        keepalive_secs: BGP_KEEPALIVE.as_secs() as u32,
        hold_secs: BGP_HOLD.as_secs() as u32,
        max_prefixes: u32::try_from(MAX_LEARNED_PREFIXES).expect("the prefix limit fits a u32"),
    };
    let mut plans: Vec<SpeakerPlan> = super::circuits::edge_speakers(topo, limits, RUN_DIR)
        .into_iter()
        .map(|(name, spec)| SpeakerPlan {
            label: format!("Microsoft edge router {name}"),
            gateway: name,
            instance: 0,
            spec,
            originated: Vec::new(),
            programs_kernel: true,
        })
        .collect();
    for (g, gw) in topo.gateways.iter_enumerated() {
        if !topo.gateway_is_local(g) {
            continue;
        }
        let express_route = gw.gateway_type == GatewayType::ExpressRoute;
        let served = v4_nets(served_ranges(topo, g));
        // A VPN gateway originates a host route to each BGP peer,
        // withheld from the peers of that peer's own connection.
        let groups = peer_host_groups(topo, g);
        let originated = originated_by(topo, g);
        let hub = hub_gateway_exports(topo, learned, g);
        for (i, address) in gw.instances.iter().enumerate() {
            let Some(address) = v4(*address) else {
                continue;
            };
            let neighbors = gobgp_neighbors(topo, g);
            if neighbors.is_empty() {
                continue;
            }
            let mut spec = instance_spec(topo, (&gw.name, i), gw.asn, address, limits);
            spec.withheld = neighbors
                .iter()
                .map(|n| {
                    let group = withheld_from(&groups, std::net::IpAddr::V4(n.address));
                    (n.address, host_routes(&group))
                })
                .filter(|(_, w)| !w.is_empty())
                .collect();
            spec.neighbors = neighbors;
            let transit = crate::policy::bgp::route_server::express_route_transit(topo, g);
            spec.pass_on_learned = !express_route || transit.is_some();
            spec.not_handed_on = transit.map(|edges| {
                let edges: Vec<Ipv4Addr> = edges.into_iter().filter_map(v4).collect();
                crate::host::routing::gobgp::NotHandedOn {
                    to: edges.clone(),
                    next_hops: edges,
                }
            });
            spec.reject_exact = served.clone();
            spec.export_deny_overlapping = served.clone();
            let mut plan =
                SpeakerPlan::instance_of(("gateway", &gw.name), i, spec, originated.clone());
            if let Some(exports) = &hub {
                // A hub's gateway: what the hub advertises to branches.
                plan.originated = super::hub_speakers::announcements(exports);
                super::hub_speakers::shape(&mut plan.spec, exports);
            }
            plans.push(plan);
        }
    }
    plans.extend(route_server_plans(topo, learned, limits));
    plans
}

/// A speaker of ASN `asn` at `address` for instance `i` of `name`, in the
/// instance's namespace and run directory.
fn instance_spec(
    topo: &Topology,
    (name, i): (&str, usize),
    asn: u32,
    address: Ipv4Addr,
    limits: SessionLimits,
) -> GobgpSpec {
    let netns = crate::plan::names::instance_netns(&topo.netns_prefix, name, i);
    let run_dir = PathBuf::from(RUN_DIR).join(&netns);
    GobgpSpec::new(&netns, asn, address, run_dir, limits)
}

/// One speaker per instance of each Route Server with a BGP connection:
/// ASN 65515 at the instance's address, eBGP multihop to each appliance
/// (Azure's timers, at most [`ROUTE_SERVER_MAX_ROUTES_PER_PEER`] routes a
/// session), originating the ranges of the VNets it serves, refusing a
/// learned prefix equal to or inside one of them, and passing what one
/// appliance announces on to the others. A virtual hub's router
/// originates what the hub announces to its appliances instead, and
/// refuses only the hub's prefix.
fn route_server_plans(
    topo: &Topology,
    learned: &LearnedRoutes,
    limits: SessionLimits,
) -> Vec<SpeakerPlan> {
    let mut plans = Vec::new();
    for (r, rs) in topo.route_servers.iter_enumerated() {
        if !route_server_is_local(topo, r) {
            continue;
        }
        let (originated, refused) = crate::policy::bgp::route_server_prefixes(topo, learned, r);
        let neighbors: Vec<GobgpNeighbor> = route_server_neighbors(topo, r)
            .into_iter()
            .filter_map(|n| {
                let mut neighbor = GobgpNeighbor::new(v4(n.address)?, n.asn, true);
                // The VNet's gateways with branch-to-branch: reflected
                // between.
                neighbor.route_reflector_client = n.asn == ROUTE_SERVER_ASN;
                Some(neighbor)
            })
            .collect();
        if neighbors.is_empty() {
            continue;
        }
        for (i, address) in rs.instances.iter().enumerate() {
            let Some(address) = v4(*address) else {
                continue;
            };
            let limits = SessionLimits {
                max_prefixes: ROUTE_SERVER_MAX_ROUTES_PER_PEER as u32,
                ..limits
            };
            let mut spec = instance_spec(topo, (&rs.name, i), ROUTE_SERVER_ASN, address, limits);
            spec.neighbors = neighbors.clone();
            spec.reject_within = refused.clone();
            plans.push(SpeakerPlan::instance_of(
                ("route server", &rs.name),
                i,
                spec,
                originated.clone(),
            ));
        }
    }
    plans
}

/// Whether `new` drops a neighbour of `old`. gobgpd does not withdraw
/// from a peer a route whose new best path it may not send that peer (the
/// peer's AS is on it), so removing a neighbour in place can leave the
/// routes learned through it on the other peers: such a speaker is
/// restarted instead, and its peers learn afresh.
fn loses_a_neighbour(old: &GobgpSpec, new: &GobgpSpec) -> bool {
    old.neighbors
        .iter()
        .any(|n| !new.neighbors.iter().any(|m| m.address == n.address))
}

/// The neighbours `new` has and `old` has not, and the other way round, in
/// words (`+10.2.255.4 -10.3.255.4`).
fn neighbour_change(old: &GobgpSpec, new: &GobgpSpec) -> String {
    let has = |spec: &GobgpSpec, a: Ipv4Addr| spec.neighbors.iter().any(|n| n.address == a);
    let mut words: Vec<String> = new
        .neighbors
        .iter()
        .filter(|n| !has(old, n.address))
        .map(|n| format!("+{}", n.address))
        .collect();
    words.extend(
        old.neighbors
            .iter()
            .filter(|n| !has(new, n.address))
            .map(|n| format!("-{}", n.address)),
    );
    if words.is_empty() {
        "policies".to_owned()
    } else {
        format!("neighbours {}", words.join(" "))
    }
}

impl Hybrid {
    /// Before the lab's ports: removes the sites that are gone or changed
    /// (their routers' daemons first) and builds the new and changed ones.
    /// A site whose namespaces are the same is kept whole.
    pub fn update_sites(&mut self, topo: &Topology, changes: &mut HybridChanges) -> Result<()> {
        let wanted: Vec<_> = (topo.sites.iter_enumerated())
            .filter(|(s, _)| topo.site_is_local(*s))
            .map(|(_, site)| site_spec(site))
            .collect();
        let site_name = |router: &str| {
            topo.sites
                .iter()
                .find(|s| s.first_router().netns == router)
                .map_or_else(|| router.to_owned(), |s| s.name.clone())
        };
        let mut kept = Vec::new();
        for old in std::mem::take(&mut self.sites) {
            match wanted.iter().find(|w| w.router() == old.router()) {
                Some(w) if *w == old => {
                    kept.push(old);
                    continue;
                }
                Some(_) => {
                    changes.rebuilt.push(format!(
                        "site {}: its namespaces are built again (its routers, hosts or \
                         addresses changed): processes in them end, its tunnels and BGP sessions \
                         restart",
                        site_name(old.router())
                    ));
                    changes.rebuilt_routers.extend(old.routers.iter().cloned());
                }
                None => changes
                    .removed
                    .push(format!("site router {}", old.router())),
            }
            for router in &old.routers {
                self.stop_router(router);
            }
            if let Err(e) = remove_site(&old) {
                warn_and_keep!(changes.warnings, "removing site {}: {e:#}", old.router());
            }
        }
        self.sites = kept;
        for w in wanted {
            if self.sites.iter().any(|s| s.router() == w.router()) {
                continue;
            }
            let name = site_name(w.router());
            build_site(&w).with_context(|| format!("building site {name}"))?;
            if !changes.rebuilt_routers.iter().any(|r| r == w.router()) {
                changes.added.push(format!("site {name}"));
            }
            self.sites.push(w);
        }
        self.update_edge(topo, changes)
    }

    /// Once the tunnels exist: their addresses and the routers' routes,
    /// then each gateway instance's speaker (with its watcher recording in
    /// `watch`) and each site's BGP daemon, each started, reconfigured,
    /// restarted or stopped as `topo` (with its `plan`) asks.
    pub fn update_routing(
        &mut self,
        (topo, plan): (&Topology, &crate::plan::Plan),
        watch: &Watch,
        changes: &mut HybridChanges,
    ) -> Result<()> {
        self.book = Some(watch.book.clone());
        self.sessions = Some(watch.sessions.clone());
        self.lab = Some(watch.lab.clone());
        self.plumb_tunnels((topo, plan))?;
        self.roster.hubs =
            super::hub_speakers::HubAnnouncer::of(topo, watch.book.clone()).map(Arc::new);
        self.update_speakers(topo, watch, changes)?;
        self.update_routers(topo, changes)
    }

    /// Stops the BGP daemon of the site router in `netns`, if it runs one.
    fn stop_router(&mut self, netns: &str) {
        self.roster.routers.retain(|r| {
            let mut r = lock(r);
            if r.netns != netns {
                return true;
            }
            r.router = None;
            false
        });
    }

    /// Gives every tunnel the router's BGP address with the gateway
    /// instance's address as its peer (or a plain route to the instance),
    /// shapes a circuit's tunnels to its bandwidth, and routes what the
    /// routers must route statically (Global Reach, connections without
    /// BGP). Every step replaces what is there, so a tunnel plumbed before
    /// is left as it was; a static route no longer wanted is removed.
    fn plumb_tunnels(&mut self, (topo, plan): (&Topology, &crate::plan::Plan)) -> Result<()> {
        let mut static_routes: Vec<(String, Ipv4Net, Vec<String>)> = Vec::new();
        let mut route = |router: &str, range: Ipv4Net, interface: &str| match static_routes
            .iter_mut()
            .find(|(r, p, _)| r == router && *p == range)
        {
            Some((_, _, devs)) => devs.push(interface.to_owned()),
            None => static_routes.push((router.to_owned(), range, vec![interface.to_owned()])),
        };
        for nic in &plan.ports {
            let (Some(at), Some((site, gateway, instance))) =
                (nic.kind.tunnel_router(), nic.kind.site_tunnel())
            else {
                continue;
            };
            // Another machine plumbs the tunnels of its own sites.
            if !topo.site_is_local(site) {
                continue;
            }
            let interface = &nic.interface;
            let gw = &topo.gateways[gateway];
            let router = &nic.netns;
            let Some(peer) = gw.instances.get(instance).copied() else {
                continue;
            };
            let Some(peer) = v4(peer) else {
                anyhow::bail!("the tunnel {interface} of {router} ends at an IPv6 address {peer}");
            };
            if let Some(circuit) = topo.circuit_of(site, gateway) {
                // The edge router's end: its address of the link, and the
                // gateway's other instances reached through it.
                let own = crate::policy::bgp::edge_address(topo, circuit, instance.min(1));
                netlink::add_peer_address(router, interface, own, peer)?;
                for other in gw.instances.iter().filter_map(|a| v4(*a)) {
                    if other != peer {
                        route(router, Ipv4Net::from(other), interface);
                    }
                }
                continue;
            }
            match crate::policy::bgp::router_bgp_address(topo, at, gateway) {
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
            let without_bgp = topo
                .connections_of(gateway)
                .any(|c| !c.bgp_enabled && topo.tunnel_router(c.peer) == Some(at));
            if without_bgp {
                for range in v4_nets(static_device_ranges(topo, gateway)) {
                    route(router, range, interface);
                }
            }
        }
        for (router, range, devices) in &static_routes {
            netlink::replace_device_route(router, *range, devices)?;
        }
        // The links between the routers of a site: each end its router's
        // address, the other's as its peer, for their sessions.
        for (s, site) in topo.sites.iter_enumerated() {
            if !topo.site_is_local(s) {
                continue;
            }
            for (a, own, b, theirs) in site_peer_links(topo, s) {
                let (here, there) = (&site.routers[a].netns, &site.routers[b].netns);
                netlink::add_peer_address(here, &peer_link_name(b), own, theirs)?;
                netlink::add_peer_address(there, &peer_link_name(a), theirs, own)?;
            }
        }
        // Routes set before and not wanted now, in routers that still run.
        for (router, range, _) in &self.static_routes {
            let wanted = static_routes
                .iter()
                .any(|(r, p, _)| r == router && p == range);
            let router_kept = self.sites.iter().any(|s| s.routers.contains(router));
            if !wanted && router_kept {
                netlink::delete_route(router, *range)?;
            }
        }
        self.static_routes = static_routes;
        Ok(())
    }

    /// Starts, reconfigures, restarts or stops each gateway instance's
    /// speaker so that it matches `topo`, and makes each originate what its
    /// gateway advertises.
    fn update_speakers(
        &mut self,
        topo: &Topology,
        watch: &Watch,
        changes: &mut HybridChanges,
    ) -> Result<()> {
        let plans = speaker_plans(topo, &watch.book.current());
        let wanted = |gateway: &str, instance: usize| {
            plans
                .iter()
                .any(|p| p.gateway == gateway && p.instance == instance)
        };
        // Gone: stopped, their watchers too, and what they learned
        // forgotten.
        let mut gone = Vec::new();
        self.roster.speakers.retain(|s| {
            let mut s = lock(s);
            if wanted(&s.gateway, s.instance) {
                return true;
            }
            s.retired = true;
            s.speaker.kill();
            gone.push((s.gateway.clone(), s.instance));
            false
        });
        for (gateway, instance) in gone {
            self.stop_watcher(&gateway, instance);
            changes.removed.push(format!(
                "BGP speaker of gateway {gateway} instance {instance}"
            ));
        }
        for plan in plans {
            let running = self
                .roster
                .speakers
                .iter()
                .find(|s| {
                    let s = lock(s);
                    s.gateway == plan.gateway && s.instance == plan.instance
                })
                .cloned();
            let what = format!("gateway {} instance {}", plan.gateway, plan.instance);
            match running {
                Some(speaker) => {
                    let mut s = lock(&speaker);
                    let old = s.speaker.spec().clone();
                    if old == plan.spec {
                        // Only what it originates may have changed.
                    } else if same_identity(&old, &plan.spec)
                        && !loses_a_neighbour(&old, &plan.spec)
                    {
                        let change = neighbour_change(&old, &plan.spec);
                        s.speaker
                            .reconfigure(plan.spec.clone())
                            .with_context(|| format!("reconfiguring the speaker of {what}"))?;
                        changes
                            .changed
                            .push(format!("{what}: BGP {change} (its other sessions kept)"));
                    } else {
                        drop(s);
                        self.retire_speaker(&plan.gateway, plan.instance);
                        self.start_speaker(&plan, watch)?;
                        let why = if same_identity(&old, &plan.spec) {
                            "a neighbour went"
                        } else {
                            "its AS, address or timers changed"
                        };
                        changes.rebuilt.push(format!(
                            "{what}: BGP speaker restarted ({why}): its sessions reset"
                        ));
                        continue;
                    }
                    s.speaker
                        .set_announcements(&plan.originated)
                        .with_context(|| format!("announcing from {what}"))?;
                }
                None => {
                    self.start_speaker(&plan, watch)?;
                    changes.added.push(format!("BGP speaker of {what}"));
                }
            }
        }
        Ok(())
    }

    /// Starts one instance's speaker and its watcher.
    fn start_speaker(&mut self, plan: &SpeakerPlan, watch: &Watch) -> Result<()> {
        let netns = plan.spec.netns.clone();
        if !self.run_dirs.contains(&plan.spec.run_dir) {
            self.run_dirs.push(plan.spec.run_dir.clone());
        }
        let span = tracing::info_span!(
            parent: &watch.lab,
            "speaker",
            gateway = %plan.gateway,
            instance = plan.instance
        );
        let mut speaker = GobgpSpeaker::start(plan.spec.clone())
            .with_context(|| format!("starting the BGP speaker of {netns}"))?;
        span.in_scope(|| tracing::info!("started gobgpd in {netns} for {}", plan.label));
        speaker
            .set_announcements(&plan.originated)
            .with_context(|| format!("announcing the VNets from {netns}"))?;
        let kernel = plan.programs_kernel.then(|| netns.clone());
        let watcher = Watcher::start(
            speaker.api(),
            (plan.gateway.clone(), plan.instance),
            kernel,
            watch.clone(),
            span.clone(),
        )?;
        let mailbox = watcher.mailbox();
        self.watchers
            .push((plan.gateway.clone(), plan.instance, watcher));
        self.roster
            .speakers
            .push(Arc::new(Mutex::new(InstanceSpeaker {
                gateway: plan.gateway.clone(),
                instance: plan.instance,
                speaker,
                supervision: Supervision::new(plan.label.clone(), &netns, span),
                prefix_limited: BTreeMap::new(),
                sessions_checked: None,
                established: Vec::new(),
                sessions: watch.sessions.clone(),
                watcher: mailbox,
                retired: false,
            })));
        Ok(())
    }

    /// Stops one instance's speaker and watcher for good.
    pub(super) fn retire_speaker(&mut self, gateway: &str, instance: usize) {
        self.roster.speakers.retain(|s| {
            let mut s = lock(s);
            if s.gateway != gateway || s.instance != instance {
                return true;
            }
            s.retired = true;
            s.speaker.kill();
            false
        });
        self.stop_watcher(gateway, instance);
    }

    /// Stops the watcher of one instance and forgets what it learned.
    fn stop_watcher(&mut self, gateway: &str, instance: usize) {
        if let Some(i) = self
            .watchers
            .iter()
            .position(|(g, n, _)| g == gateway && *n == instance)
        {
            let (_, _, mut watcher) = self.watchers.remove(i);
            watcher.stop();
        }
        if let Some(book) = &self.book {
            book.set(gateway, instance, Vec::new());
        }
        if let Some(sessions) = &self.sessions {
            sessions.set(gateway, instance, Vec::new());
        }
    }

    /// Starts, restarts or stops each site's BGP daemon so that it matches
    /// `topo` (the daemons of removed sites were stopped with them).
    fn update_routers(&mut self, topo: &Topology, changes: &mut HybridChanges) -> Result<()> {
        // (what it serves, its daemon, its spec, whether it is restarted)
        let mut specs: Vec<(String, BgpSpeaker, BgpRouterSpec, bool)> = Vec::new();
        for (s, site) in topo.sites.iter_enumerated() {
            if !topo.site_is_local(s) {
                continue;
            }
            for (r, router) in site.routers.iter().enumerate() {
                if router.bgp_speaker == BgpSpeaker::None {
                    continue;
                }
                let at = RouterRef { site: s, router: r };
                if let Some(spec) = site_router_spec(topo, at) {
                    let name = if router.label == site.name {
                        format!("site {}", site.name)
                    } else {
                        format!("site {} router {}", site.name, router.name)
                    };
                    specs.push((name, router.bgp_speaker, spec, true));
                }
            }
        }
        for (k, a) in topo.appliance_speakers.iter().enumerate() {
            if a.speaker == BgpSpeaker::None || !appliance_is_local(topo, k) {
                continue;
            }
            if let Some(spec) = appliance_router_spec(topo, k) {
                let name = format!("appliance {}", topo.nics[a.nic].name);
                specs.push((name, a.speaker, spec, false));
            }
        }
        self.own_appliance_prefixes(topo)?;
        let wanted_spec = |netns: &str| specs.iter().find(|(_, _, spec, _)| spec.netns == netns);
        // Daemons no longer wanted, or wanted otherwise.
        let mut restart = Vec::new();
        let mut stopped = Vec::new();
        self.roster.routers.retain(|r| {
            let mut r = lock(r);
            match wanted_spec(&r.netns) {
                Some((_, kind, spec, _)) if *spec == r.spec && *kind == r.kind => true,
                Some(_) => {
                    restart.push(r.netns.clone());
                    r.router = None;
                    false
                }
                None => {
                    stopped.push(r.netns.clone());
                    r.router = None;
                    false
                }
            }
        });
        for netns in stopped {
            changes.removed.push(format!("BGP daemon in {netns}"));
        }
        for (name, kind, spec, restarts) in &specs {
            let running = self
                .roster
                .routers
                .iter()
                .any(|r| lock(r).netns == spec.netns);
            if running {
                continue;
            }
            self.start_router(name, *kind, spec.clone(), *restarts)?;
            if restart.contains(&spec.netns) {
                changes.rebuilt.push(format!(
                    "{name}: its BGP daemon restarted with its new configuration: its sessions \
                     reset"
                ));
            } else if !changes.rebuilt_routers.contains(&spec.netns) {
                changes.added.push(format!("BGP daemon of {name}"));
            }
        }
        Ok(())
    }

    /// Puts the first address of each prefix an appliance announces (but
    /// `0.0.0.0/0`) on its namespace's loopback, so the network it stands
    /// for answers; an address already there stays.
    fn own_appliance_prefixes(&mut self, topo: &Topology) -> Result<()> {
        for (k, a) in topo.appliance_speakers.iter().enumerate() {
            if !appliance_is_local(topo, k) {
                continue;
            }
            let netns = &topo.nics[a.nic].netns;
            for first in crate::policy::route_server::appliance_loopback_addresses(topo, a.nic) {
                let address = ipnet::IpNet::from(first);
                if !self.appliance_addresses.contains(&(netns.clone(), address)) {
                    netlink::add_address(netns, "lo", address)?;
                    self.appliance_addresses.push((netns.clone(), address));
                }
            }
        }
        Ok(())
    }

    /// Starts the BGP daemon of `name` (`site S`, `appliance N`); an
    /// appliance's is not restarted when it exits (it is the appliance's
    /// own software).
    fn start_router(
        &mut self,
        name: &str,
        kind: BgpSpeaker,
        spec: BgpRouterSpec,
        restarts: bool,
    ) -> Result<()> {
        if !self.run_dirs.contains(&spec.run_dir) {
            self.run_dirs.push(spec.run_dir.clone());
        }
        let netns = spec.netns.clone();
        let span = tracing::info_span!(
            parent: self.lab.as_ref().and_then(tracing::Span::id),
            "speaker",
            router = %name
        );
        let router = match kind {
            BgpSpeaker::Bird => SiteRouter::Bird(
                BirdRouter::start(spec.clone())
                    .with_context(|| format!("starting BIRD for {name}"))?,
            ),
            BgpSpeaker::Frr => SiteRouter::Frr(
                FrrRouter::start(spec.clone())
                    .with_context(|| format!("starting FRR for {name}"))?,
            ),
            BgpSpeaker::None => return Ok(()),
        };
        span.in_scope(|| tracing::info!("started the BGP daemon of {name} in {netns}"));
        self.roster
            .routers
            .push(Arc::new(Mutex::new(SupervisedRouter {
                router: Some(router),
                supervision: Supervision::new(name.to_owned(), &netns, span),
                restarts,
                netns,
                kind,
                spec,
            })));
        Ok(())
    }
}
