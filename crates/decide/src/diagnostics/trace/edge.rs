//! A trace between two on-premises sites whose circuits Global Reach
//! joins: the customer edge sends to Microsoft's edge router of its
//! circuit, which hands the packet to the edge router of the other circuit
//! over the Global Reach link, which delivers it to that circuit's
//! customer edge. The fabric and every VNet gateway stay out of it.
//!
//! The routes are the edge routers' own, as the snapshot holds them (what
//! their speakers learned in a running lab, or what the BGP model predicts
//! from a file), on the primary link: the customer edge spreads flows over
//! both links by its own hash, and the secondary link's routers hold the
//! same routes.

use super::answer::{Bottleneck, HopShaping, RouteUsed, Trace, TraceHop};
use super::question::{empty_trace, site_without_route, TraceQuery, NO_TUNNEL, SITE_UNREACHABLE};
use super::site::{no_route_hop, site_entry, SiteEntry};
use crate::policy::gateways::LearnedRoute;
use crate::snapshot::Snapshot;
use crate::topology::{Access, CircuitIdx, GlobalReach, SiteIdx};
use std::net::IpAddr;

/// The link traced: the primary.
const LINK: usize = 0;

/// The best route an edge router holds to `to` (longest prefix).
fn best_route(snap: &Snapshot, circuit: CircuitIdx, to: IpAddr) -> Option<&LearnedRoute> {
    let name = snap.topology.circuits[circuit].edge_router_name(LINK);
    snap.learned
        .of(&name, 0)
        .iter()
        .filter(|r| r.prefix.contains(&to))
        .max_by_key(|r| r.prefix.prefix_len())
}

/// The Global Reach link and far circuit a route of `circuit`'s edge
/// router leads to, when it was learned from a Global Reach peer.
fn reached_by<'a>(
    snap: &'a Snapshot,
    circuit: CircuitIdx,
    route: &LearnedRoute,
) -> Option<(&'a GlobalReach, CircuitIdx)> {
    snap.topology.global_reach.iter().find_map(|reach| {
        let (_, far) = reach.ends(circuit, LINK)?;
        (IpAddr::V4(far) == route.peer).then(|| (reach, reach.other(circuit).expect("an end")))
    })
}

/// A hop between routers outside the fabric.
fn hop(
    from: String,
    over: String,
    src: IpAddr,
    to_addr: IpAddr,
    route: RouteUsed,
    to: String,
) -> TraceHop {
    TraceHop {
        route: Some(route),
        to: Some(to),
        ..TraceHop::sending(from, over, src, to_addr)
    }
}

/// The walk from a host of `site` to `to` over Global Reach, when the
/// site's circuit's edge router reaches `to` through a Global Reach peer;
/// `None` when it does not (the packet then goes where the site's router
/// sends it otherwise).
pub(super) fn global_reach_walk(
    snap: &Snapshot,
    site: SiteIdx,
    src: IpAddr,
    to: IpAddr,
    answer: &mut Trace,
) -> Option<()> {
    let t = &snap.topology;
    let circuit = t.circuit_of_site(site)?;
    let route = best_route(snap, circuit, to)?;
    let (reach, far) = reached_by(snap, circuit, route)?;
    let (near_c, far_c) = (&t.circuits[circuit], &t.circuits[far]);
    let peering = &near_c.private_peering;
    let near_edge = near_c.edge_router_name(LINK);
    let far_edge = far_c.edge_router_name(LINK);
    let router = &t.sites[site].name;
    answer.hops.push(hop(
        router.clone(),
        format!("circuit {}", near_c.name),
        src,
        to,
        RouteUsed {
            source: "BGP",
            address_prefix: route.prefix.to_string(),
            next_hop_type: "MicrosoftEdge",
            next_hop_ip_address: (0..2)
                .map(|l| peering.microsoft_address(l).to_string())
                .collect(),
            route_table: format!("router {router}"),
            hub: None,
        },
        near_edge.clone(),
    ));
    let mut crossing = hop(
        near_edge,
        format!("Global Reach {}", reach.name),
        src,
        to,
        RouteUsed {
            source: "Global Reach",
            address_prefix: route.prefix.to_string(),
            next_hop_type: "MicrosoftEdge",
            next_hop_ip_address: vec![route.next_hop.to_string()],
            route_table: near_c.edge_router_name(LINK),
            hub: None,
        },
        far_edge.clone(),
    );
    let slower = if far_c.bandwidth_mbps < near_c.bandwidth_mbps {
        far_c
    } else {
        near_c
    };
    crossing.shaping = Some(HopShaping {
        added_latency_us: crate::policy::shaping::global_reach_delay_us(t, reach),
        latency_estimated: false,
        jitter_us: 0,
        loss_ppm: 0,
        bottleneck: Some(Bottleneck {
            mbps: slower.bandwidth_mbps,
            what: format!("{} Mbps: circuit {}", slower.bandwidth_mbps, slower.name),
        }),
        mtu: 1500,
        mss_clamp: None,
    });
    answer.hops.push(crossing);
    let far_site = &t.sites[far_c.site];
    let far_peering = &far_c.private_peering;
    answer.hops.push(hop(
        far_edge,
        format!("circuit {}", far_c.name),
        src,
        to,
        RouteUsed {
            source: "BGP",
            address_prefix: route.prefix.to_string(),
            next_hop_type: "CustomerEdge",
            next_hop_ip_address: vec![far_peering.customer_address(LINK).to_string()],
            route_table: far_c.edge_router_name(LINK),
            hub: None,
        },
        format!("site {}", far_site.name),
    ));
    answer
        .path
        .extend([near_c.name.clone(), far_c.name.clone()]);
    if far_site.address_space.iter().any(|r| r.contains(&to)) {
        answer.verdict = Access::Allow.as_str().to_string();
        answer.delivered_to = Some(format!("site {}", far_site.name));
    } else {
        answer.reason = Some(SITE_UNREACHABLE.to_string());
        answer.at = Some(format!("site {}", far_site.name));
    }
    Some(())
}

/// The site a host address belongs to, among those whose router is a
/// circuit's customer edge.
pub(super) fn site_of(snap: &Snapshot, address: IpAddr) -> Option<SiteIdx> {
    snap.topology
        .sites
        .iter_enumerated()
        .find(|(_, s)| s.address_space.iter().any(|r| r.contains(&address)))
        .map(|(i, _)| i)
}

/// The reply of a request Global Reach delivered: from the far site's
/// host back over Global Reach; a far site whose edge router has no way
/// back makes the trace a Deny.
pub(super) fn global_reach_reply(
    snap: &Snapshot,
    query: &TraceQuery,
    src: IpAddr,
    answer: &mut Trace,
) {
    if answer.delivered_to.is_none() {
        return;
    }
    let t = &snap.topology;
    let far = site_of(snap, query.to);
    let name = far
        .and_then(|s| t.sites[s].hosts.iter().find(|h| h.address == query.to))
        .map_or_else(|| query.to.to_string(), |h| h.name.clone());
    let mut reply = empty_trace(name, query.to, src, query);
    match far.map(|s| (s, site_entry(snap, s, src))) {
        Some((s, SiteEntry::GlobalReach)) => {
            if global_reach_walk(snap, s, query.to, src, &mut reply).is_none() {
                reply.reason = Some(NO_TUNNEL.to_string());
            }
        }
        // The far site's router has no route back: it drops the reply.
        Some((s, SiteEntry::NoRoute)) => {
            reply.hops.push(no_route_hop(snap, s, query.to, src));
            let (reason, at) = site_without_route(&t.sites[s].name);
            (reply.reason, reply.at) = (Some(reason), Some(at));
        }
        _ => reply.reason = Some(NO_TUNNEL.to_string()),
    }
    answer.set_reply(reply);
}
