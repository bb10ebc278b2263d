//! Where an on-premises site's router sends a packet, as a trace follows
//! it: by the router's own routes, not straight into the fabric. A router
//! holds what the lab gives it and what it learns over BGP:
//!
//! - a static route to each range a gateway serves (for a virtual hub's
//!   gateway, each prefix the hub advertises to its branches), over the
//!   tunnels of a connection without BGP (what the lab installs for a
//!   policy-free VPN device);
//! - over a BGP connection, what each gateway instance advertises to the
//!   router's BGP address, as the BGP model predicts it (a route whose AS
//!   path holds the router's own ASN refused, as BGP refuses it);
//! - as a circuit's customer edge, what Microsoft's edge router of each
//!   link holds from others than the customer edge (the VNets of the
//!   connected gateways, the sites of the circuits Global Reach joins), as
//!   the snapshot holds the edge routers' routes: what their speakers
//!   learned in a running lab, or what the BGP model predicts from a file.
//!
//! A router whose `bgp_speaker` is `none` is the user's own, configured as
//! the file says: it takes what its neighbours send, as vnetd's would. A
//! site with several routers (devices in front of one network) sends by
//! the first, in file order, that has a route: its hosts spread their
//! flows over all of them, and the trace follows one.
//! The longest prefix wins; between equal ones a static route (the lab's,
//! lower metric than a routing daemon's), then the shorter AS path. A
//! router without a route for the destination drops the packet: the trace
//! is a Deny `route_none` at `site <name>`, and the packet never reaches
//! Microsoft's edge or a gateway.

use super::{RouteUsed, TraceHop};
use crate::plan::PortIdx;
use crate::policy::bgp::{router_bgp_address, BgpModel};
use crate::policy::virtual_wan::static_device_ranges;
use crate::snapshot::Snapshot;
use crate::topology::{CircuitIdx, ConnectionPeer, GatewayIdx, GlobalReach, RouterRef, SiteIdx};
use ipnet::IpNet;
use std::net::IpAddr;

/// Where a site's route leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SiteNextHop {
    /// A gateway's tunnel (of the instance that advertised the route, when
    /// one did).
    Gateway {
        gateway: GatewayIdx,
        instance: Option<usize>,
    },
    /// Microsoft's edge router of link `link` of the site's circuit.
    Edge { circuit: CircuitIdx, link: usize },
}

/// The route a site's router takes to a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SiteRoute {
    pub prefix: IpNet,
    /// `Static` or `BGP`.
    pub source: &'static str,
    pub next_hop: IpAddr,
    pub via: SiteNextHop,
    as_path_len: usize,
}

/// Where a packet from a site's router goes into the fabric, or why it
/// does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SiteEntry {
    /// Into the fabric by this tunnel.
    Tunnel(PortIdx),
    /// Over the circuit's edge router to a Global Reach peer.
    GlobalReach,
    /// The router has no route: it drops the packet.
    NoRoute,
    /// The route leads to a gateway with no tunnel from the site.
    NoTunnel,
}

/// The static routes of router `at`: the ranges each gateway it has a
/// connection without BGP to serves.
fn static_routes(snap: &Snapshot, at: RouterRef, out: &mut Vec<SiteRoute>) {
    let t = &snap.topology;
    for c in t.connections.iter().filter(|c| !c.bgp_enabled) {
        if t.tunnel_router(c.peer) != Some(at) || matches!(c.peer, ConnectionPeer::Circuit(_)) {
            continue;
        }
        let Some(&instance) = t.gateways[c.gateway].instances.first() else {
            continue;
        };
        for prefix in static_device_ranges(t, c.gateway)
            .into_iter()
            .filter(|p| p.addr().is_ipv4())
        {
            out.push(SiteRoute {
                prefix,
                source: "Static",
                next_hop: instance,
                via: SiteNextHop::Gateway {
                    gateway: c.gateway,
                    instance: None,
                },
                as_path_len: 0,
            });
        }
    }
}

/// What the gateways router `at` has BGP connections to advertise to it,
/// as the BGP model predicts.
fn vpn_routes(snap: &Snapshot, at: RouterRef, out: &mut Vec<SiteRoute>) {
    let t = &snap.topology;
    let Some(asn) = t.router(at).asn else {
        return;
    };
    let mut model: Option<BgpModel> = None;
    for (g, gw) in t.gateways.iter_enumerated() {
        if t.circuit_of(at.site, g).is_some() {
            continue;
        }
        let Some(own) = router_bgp_address(t, at, g) else {
            continue;
        };
        let model = model.get_or_insert_with(|| BgpModel::of(t));
        for (instance, address) in gw.instances.iter().enumerate() {
            let advertised = model.advertised(g, instance, own).unwrap_or_default();
            for route in advertised.into_iter().filter(|r| !r.as_path.contains(&asn)) {
                out.push(SiteRoute {
                    prefix: route.prefix,
                    source: "BGP",
                    next_hop: *address,
                    via: SiteNextHop::Gateway {
                        gateway: g,
                        instance: Some(instance),
                    },
                    as_path_len: route.as_path.len(),
                });
            }
        }
    }
}

/// What a circuit's customer edge (a site's first router) learns from the
/// edge router of each link: every route the edge router holds from
/// others than the customer edge.
fn circuit_routes(snap: &Snapshot, at: RouterRef, out: &mut Vec<SiteRoute>) {
    let t = &snap.topology;
    let Some(circuit) = t.circuit_of_site(at.site).filter(|_| at.router == 0) else {
        return;
    };
    let c = &t.circuits[circuit];
    let peering = &c.private_peering;
    for link in 0..2 {
        let customer = peering.customer_address(link);
        let name = c.edge_router_name(link);
        for route in snap
            .learned
            .of(&name, 0)
            .iter()
            .filter(|r| r.peer != customer)
        {
            out.push(SiteRoute {
                prefix: route.prefix,
                source: "BGP",
                next_hop: peering.microsoft_address(link),
                via: SiteNextHop::Edge { circuit, link },
                as_path_len: route.as_path.len() + 1,
            });
        }
    }
}

/// The route router `at` takes to `to`, if it has one.
fn router_route(snap: &Snapshot, at: RouterRef, to: IpAddr) -> Option<SiteRoute> {
    let mut routes = Vec::new();
    static_routes(snap, at, &mut routes);
    vpn_routes(snap, at, &mut routes);
    circuit_routes(snap, at, &mut routes);
    routes
        .into_iter()
        .filter(|r| r.prefix.contains(&to))
        .enumerate()
        .min_by_key(|(order, r)| {
            (
                std::cmp::Reverse(r.prefix.prefix_len()),
                r.source != "Static",
                r.as_path_len,
                *order,
            )
        })
        .map(|(_, r)| r)
}

/// The router of `site` a packet for `to` leaves by, and its route: the
/// first of the site's routers (in file order) that has one. A host
/// spreads its flows over every router; the trace follows the first that
/// sends the packet on.
pub(super) fn site_route(
    snap: &Snapshot,
    site: SiteIdx,
    to: IpAddr,
) -> Option<(RouterRef, SiteRoute)> {
    (0..snap.topology.sites[site].routers.len()).find_map(|router| {
        let at = RouterRef { site, router };
        router_route(snap, at, to).map(|route| (at, route))
    })
}

/// The tunnel of router `at` into `gateway`: instance `instance`'s when it
/// has one, else the first.
fn tunnel_into(
    snap: &Snapshot,
    at: RouterRef,
    gateway: GatewayIdx,
    instance: Option<usize>,
) -> Option<PortIdx> {
    let tunnels: Vec<(PortIdx, usize)> = snap
        .plan
        .ports
        .iter_enumerated()
        .filter_map(|(p, port)| {
            let (_, g, i) = port.kind.site_tunnel()?;
            (port.kind.tunnel_router() == Some(at) && g == gateway).then_some((p, i))
        })
        .collect();
    tunnels
        .iter()
        .find(|(_, i)| Some(*i) == instance)
        .or(tunnels.first())
        .map(|(p, _)| *p)
}

/// The Global Reach link a route of an edge router was learned over,
/// when it was.
fn reached_over(snap: &Snapshot, circuit: CircuitIdx, link: usize, peer: IpAddr) -> bool {
    snap.topology
        .global_reach
        .iter()
        .any(|reach: &GlobalReach| {
            reach
                .ends(circuit, link)
                .is_some_and(|(_, far)| IpAddr::V4(far) == peer)
        })
}

/// Where a packet for `to` from `site`'s router goes: by the router's
/// route, then for a circuit by its edge router's.
pub(super) fn site_entry(snap: &Snapshot, site: SiteIdx, to: IpAddr) -> SiteEntry {
    let Some((at, route)) = site_route(snap, site, to) else {
        return SiteEntry::NoRoute;
    };
    let entry = match route.via {
        SiteNextHop::Gateway { gateway, instance } => tunnel_into(snap, at, gateway, instance),
        SiteNextHop::Edge { circuit, link } => {
            let t = &snap.topology;
            let name = t.circuits[circuit].edge_router_name(link);
            let best = snap
                .learned
                .of(&name, 0)
                .iter()
                .filter(|r| r.prefix.contains(&to))
                .max_by_key(|r| r.prefix.prefix_len());
            let Some(best) = best else {
                return SiteEntry::NoTunnel;
            };
            if reached_over(snap, circuit, link, best.peer) {
                return SiteEntry::GlobalReach;
            }
            let gateway = t.gateways.position(|g| g.instances.contains(&best.peer));
            gateway.and_then(|g| {
                let instance = t.gateways[g].instances.iter().position(|a| *a == best.peer);
                tunnel_into(snap, at, g, Some(link).filter(|_| instance.is_some()))
            })
        }
    };
    entry.map_or(SiteEntry::NoTunnel, SiteEntry::Tunnel)
}

/// The hop of a router that has no route for `to`: it sends nothing on.
pub(super) fn no_route_hop(snap: &Snapshot, site: SiteIdx, src: IpAddr, to: IpAddr) -> TraceHop {
    let name = &snap.topology.sites[site].name;
    TraceHop {
        route: Some(RouteUsed {
            source: "Router",
            address_prefix: "no route".to_string(),
            next_hop_type: "None",
            next_hop_ip_address: Vec::new(),
            route_table: format!("router {name}"),
            hub: None,
        }),
        ..TraceHop::sending(name.clone(), "on-premises router".to_string(), src, to)
    }
}
