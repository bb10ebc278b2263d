//! What a virtual hub's route tables hold: every route offered to a
//! table (its connections' VNets and static routes, the branches',
//! circuits' and appliances' routes, the table's static routes and
//! routing intent's), the best route of each prefix, and what a secured
//! hub's firewall reaches. Implements `docs/src/azure-behaviour.md`
//! §"Virtual WAN" (the propagation and selection rules the parent module
//! lists).

use super::appliances::appliance_candidates;
use super::branches::branch_candidates;
use super::express_route::{circuit_candidates, circuit_reaches};
use super::route::{ipv4_default, select, HubHop, HubOrigin, HubRoute};
use crate::policy::learned::LearnedRoutes;
use crate::topology::model::*;
use ipnet::{IpNet, Ipv4Net};

/// Whether `connection` propagates to `table` of `hub`.
fn propagates_to(topo: &Topology, c: &HubConnection, hub: VirtualHubIdx, table: usize) -> bool {
    let t = &topo.virtual_hubs[hub].route_tables[table];
    c.propagated_tables.contains(&(hub, table))
        || c.propagated_labels.iter().any(|l| t.labels.contains(l))
}

/// Every route offered to `table` of `hub`, before selection, in the
/// order: connections (hub by hub, in file order: VNets, then branches),
/// the table's static routes, routing intent's. `learned` is what the
/// hubs' VPN gateways learned from their branches.
pub fn hub_table_candidates(
    topo: &Topology,
    learned: &LearnedRoutes,
    hub: VirtualHubIdx,
    table: usize,
) -> Vec<HubRoute> {
    let Some(h) = topo.virtual_hubs.get(hub) else {
        return Vec::new();
    };
    let Some(t) = h.route_tables.get(table) else {
        return Vec::new();
    };
    // What propagates to `noneRouteTable` goes nowhere.
    if table == 1 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (from, other) in hubs_in_reach(topo, hub) {
        for (ci, c) in other.connections.iter().enumerate() {
            if !propagates_to(topo, c, hub, table) {
                continue;
            }
            let own = topo.vnets[c.vnet].address_space.iter().copied();
            let statics = (c.static_routes.iter())
                .filter(|_| c.propagate_static_routes)
                .flat_map(|s| s.address_prefixes.iter().copied());
            let own: Vec<(IpNet, bool)> = own.map(|p| (p.trunc(), false)).collect();
            let statics: Vec<(IpNet, bool)> = statics.map(|p| (p, true)).collect();
            for (prefix, is_static) in own.into_iter().chain(statics) {
                if !matches!(prefix, IpNet::V4(_)) {
                    continue;
                }
                let local = from == hub;
                if !local && prefix == ipv4_default() {
                    continue;
                }
                out.push(if local {
                    HubRoute {
                        prefix,
                        hop: HubHop::Connection {
                            hub,
                            connection: ci,
                        },
                        origin: HubOrigin::Connection {
                            hub,
                            connection: ci,
                        },
                        as_path: Vec::new(),
                        is_static,
                        name: None,
                    }
                } else {
                    HubRoute {
                        prefix,
                        hop: HubHop::RemoteHub {
                            hub: from,
                            connection: ci,
                        },
                        origin: HubOrigin::RemoteHub(from),
                        as_path: vec![INTER_HUB_ASN, INTER_HUB_ASN],
                        is_static: false,
                        name: None,
                    }
                });
            }
        }
        let reaches = |c: &HubVpnConnection| {
            let t = &topo.virtual_hubs[hub].route_tables[table];
            c.propagated_tables.contains(&(hub, table))
                || c.propagated_labels.iter().any(|l| t.labels.contains(l))
        };
        for (ci, c) in other.vpn_connections.iter().enumerate() {
            if reaches(c) {
                out.extend(branch_candidates(topo, learned, (hub, from), ci));
            }
        }
        for (ci, c) in other.express_route_connections.iter().enumerate() {
            if circuit_reaches(topo, c, hub, table) {
                out.extend(circuit_candidates(topo, learned, (hub, from), ci));
            }
        }
        for (bi, b) in other.bgp_connections.iter().enumerate() {
            if propagates_to(topo, &other.connections[b.connection], hub, table) {
                out.extend(appliance_candidates(topo, learned, (hub, from), bi));
            }
        }
    }
    for route in &t.routes {
        let hop = match route.next_hop {
            HubNextHop::Connection {
                hub: at,
                connection,
            } if at == hub => HubHop::Connection { hub, connection },
            HubNextHop::Connection {
                hub: at,
                connection,
            } => HubHop::RemoteHub {
                hub: at,
                connection,
            },
            HubNextHop::Firewall => HubHop::Firewall { hub },
        };
        for prefix in &route.destinations {
            out.push(HubRoute {
                prefix: *prefix,
                hop,
                origin: HubOrigin::Table { hub, table },
                as_path: Vec::new(),
                is_static: true,
                name: Some(route.name.clone()),
            });
        }
    }
    if let (0, Some(intent)) = (table, &h.routing_intent) {
        let private = PRIVATE_TRAFFIC_PREFIXES
            .iter()
            .filter(|_| intent.private)
            .filter_map(|(a, l)| Ipv4Net::new(*a, *l).ok().map(IpNet::V4))
            .map(|p| (p, "_policy_PrivateTraffic"));
        let internet = intent
            .internet
            .then(|| (ipv4_default(), "_policy_PublicTraffic"));
        for (prefix, name) in private.chain(internet) {
            // Routing intent replaces a route of the table to the same prefix.
            out.retain(|r| r.prefix != prefix || r.origin != HubOrigin::Table { hub, table });
            out.push(HubRoute {
                prefix,
                hop: HubHop::Firewall { hub },
                origin: HubOrigin::Table { hub, table },
                as_path: Vec::new(),
                is_static: true,
                name: Some(name.to_string()),
            });
        }
    }
    out
}

/// The effective routes of `table` of `hub`: the best route of each
/// prefix, in the order the candidates were offered. Empty while the hub
/// has no connection, as Azure shows it.
pub fn hub_table_routes(
    topo: &Topology,
    learned: &LearnedRoutes,
    hub: VirtualHubIdx,
    table: usize,
) -> Vec<HubRoute> {
    let Some(h) = topo.virtual_hubs.get(hub) else {
        return Vec::new();
    };
    if h.connections.is_empty()
        && h.vpn_connections.is_empty()
        && h.express_route_connections.is_empty()
    {
        return Vec::new();
    }
    let candidates = hub_table_candidates(topo, learned, hub, table);
    select(candidates, h.routing_preference)
}

/// Where a secured hub's firewall sends what it let through: every
/// connection's VNet (and static routes) and branch of its hub, and
/// through the other hubs of a Standard WAN their connections' and
/// branches' (to their firewalls first where their routing intent covers
/// private traffic). The firewall sees every connection whatever the
/// tables say: routing intent propagates them to no table, and the
/// firewall is what joins them.
pub fn firewall_routes(
    topo: &Topology,
    learned: &LearnedRoutes,
    hub: VirtualHubIdx,
) -> Vec<HubRoute> {
    let Some(h) = topo.virtual_hubs.get(hub) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (from, other) in hubs_in_reach(topo, hub) {
        for (connection, c) in other.connections.iter().enumerate() {
            let own = topo.vnets[c.vnet].address_space.iter().map(|p| p.trunc());
            let statics = c
                .static_routes
                .iter()
                .flat_map(|s| s.address_prefixes.iter().copied());
            for prefix in own.chain(statics).filter(|p| matches!(p, IpNet::V4(_))) {
                let (hop, origin, as_path) = if from == hub {
                    let at = HubHop::Connection { hub, connection };
                    (at, HubOrigin::Connection { hub, connection }, Vec::new())
                } else {
                    let at = HubHop::RemoteHub {
                        hub: from,
                        connection,
                    };
                    (
                        at,
                        HubOrigin::RemoteHub(from),
                        vec![INTER_HUB_ASN, INTER_HUB_ASN],
                    )
                };
                out.push(HubRoute {
                    prefix,
                    hop,
                    origin,
                    as_path,
                    is_static: false,
                    name: None,
                });
            }
        }
        for connection in 0..other.vpn_connections.len() {
            out.extend(branch_candidates(topo, learned, (hub, from), connection));
        }
        for connection in 0..other.express_route_connections.len() {
            out.extend(circuit_candidates(topo, learned, (hub, from), connection));
        }
        for connection in 0..other.bgp_connections.len() {
            out.extend(appliance_candidates(topo, learned, (hub, from), connection));
        }
    }
    select(out, h.routing_preference)
}

/// The hubs whose connections a table of `hub` may hear from: `hub`
/// itself, and the other hubs of its Virtual WAN when its hubs are meshed.
fn hubs_in_reach(
    topo: &Topology,
    hub: VirtualHubIdx,
) -> impl Iterator<Item = (VirtualHubIdx, &VirtualHub)> {
    let wan = topo.virtual_hubs.get(hub).map(|h| h.wan);
    let meshed = wan
        .and_then(|w| topo.virtual_wans.get(w))
        .is_some_and(VirtualWan::hubs_meshed);
    topo.virtual_hubs
        .iter_enumerated()
        .filter(move |(from, other)| Some(other.wan) == wan && (*from == hub || meshed))
}
