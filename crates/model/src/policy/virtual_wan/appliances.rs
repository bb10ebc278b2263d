//! Appliances in connected VNets that peer with a virtual hub's router
//! (`azurerm_virtual_hub_bgp_connection`; Microsoft's "Scenario: BGP
//! peering with a virtual hub"), as `docs/src/azure-behaviour.md`
//! §"Virtual WAN" says:
//!
//! - What the appliance announces to the router's instances enters the
//!   tables its VNet's connection propagates to: in its own hub as
//!   `HubBgpConnection` with the appliance's AS path and its address as
//!   the next hop; in another hub of a Standard WAN as `Remote Hub`, with
//!   `65520-65520` before the path; 0.0.0.0/0 never leaves its hub. A
//!   prefix inside the hub's own range is refused when learned. Where
//!   instances disagree, the shorter path wins.
//! - The appliance's own VNet does not receive back what its appliance
//!   announced (as a connection's own prefixes are not sent back).

use super::branches::{keep_shortest, learned_candidates};
use super::route::{HubHop, HubOrigin, HubRoute};
use crate::policy::learned::LearnedRoutes;
use crate::topology::model::*;
use ipnet::IpNet;
use std::net::IpAddr;

/// The prefixes the appliance of BGP connection `connection` of `hub`
/// gives the hub, each with the AS path it announced: what the router's
/// instances learned from its address, the shorter path where they
/// differ, less prefixes inside the hub's own range.
pub fn appliance_routes(
    topo: &Topology,
    learned: &LearnedRoutes,
    hub: VirtualHubIdx,
    connection: usize,
) -> Vec<(IpNet, Vec<u32>)> {
    let h = &topo.virtual_hubs[hub];
    let (Some(router), Some(b)) = (h.router, h.bgp_connections.get(connection)) else {
        return Vec::new();
    };
    let rs = &topo.route_servers[router];
    let own = IpNet::V4(h.address_prefix);
    let mut out: Vec<(IpNet, Vec<u32>)> = Vec::new();
    for instance in 0..rs.instances.len() {
        for r in learned.of(&rs.name, instance) {
            if r.peer == IpAddr::V4(b.peer_ip) && !own.contains(&r.prefix.trunc()) {
                keep_shortest(&mut out, r.prefix, &r.as_path);
            }
        }
    }
    out
}

/// The routes BGP connection `connection` of hub `from` offers to a table
/// of hub `to` (the same hub, or another of a Standard WAN).
pub(super) fn appliance_candidates(
    topo: &Topology,
    learned: &LearnedRoutes,
    (to, from): (VirtualHubIdx, VirtualHubIdx),
    connection: usize,
) -> Vec<HubRoute> {
    learned_candidates(
        appliance_routes(topo, learned, from, connection),
        (to, from),
        (
            HubHop::BgpConnection {
                hub: to,
                connection,
            },
            HubOrigin::BgpConnection {
                hub: to,
                connection,
            },
        ),
        HubHop::RemoteBgp {
            hub: from,
            connection,
        },
    )
}
