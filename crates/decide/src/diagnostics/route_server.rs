//! The Route Server answers, in the JSON shapes of `az network routeserver
//! peering list-learned-routes` and `list-advertised-routes`, and as
//! tables.
//!
//! Both are an object keyed by instance (`RouteServiceRole_IN_0`,
//! `RouteServiceRole_IN_1`: instance i is `IN_i`), each an array of
//! routes sorted by network, then source peer:
//!
//! - learned: every route the instance learned from an appliance (origin
//!   `EBgp`, the appliance as source peer and next hop, its AS path,
//!   weight 32768), read from the learned routes the snapshot was compiled
//!   with: the BGP model's prediction offline, what the lab's speakers
//!   learned in a running lab;
//! - advertised: what the instance sends one peer, next hop itself, weight
//!   0: origin `Igp` for what it originates (the ranges of the VNets it
//!   serves, AS path `65515`), `EBgp` for a route passed on from another
//!   appliance. Offline it is the [`BgpModel`]'s prediction; a running lab
//!   answers from its speakers (gobgpd's adj-RIB-out) with the same rows,
//!   made by [`advertised_row`].

use super::lookup::{find_named, listed, QueryError};
use super::render::{as_path_text, Column, Tabular};
use crate::policy::bgp::{BgpModel, SpeakerId};
use crate::snapshot::Snapshot;
use crate::topology::RouteServerIdx;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// A Route Server listing: per instance role (`RouteServiceRole_IN_0`,
/// ...), its routes. Serialised as the bare object `az` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RouteServerRouteList {
    pub roles: BTreeMap<String, Vec<RouteServerRouteRow>>,
}

/// One route as `az network routeserver peering list-learned-routes` (and
/// `list-advertised-routes`, without `sourcePeer`) print it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteServerRouteRow {
    pub as_path: String,
    pub local_address: String,
    pub network: String,
    pub next_hop: String,
    pub origin: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_peer: Option<String>,
    pub weight: u32,
}

/// Azure's own BGP weight for every route a Route Server lists as learned.
const LEARNED_WEIGHT: u32 = 32768;

/// The name `az` gives instance `instance` of a Route Server.
pub fn role_name(instance: usize) -> String {
    format!("RouteServiceRole_IN_{instance}")
}

fn as_path(path: &[u32]) -> String {
    as_path_text(path, "-")
}

/// The listing of `roles` (one Vec per instance, in instance order), each
/// role's routes sorted by network, then source peer (as addresses, not
/// as text).
pub fn route_list(roles: Vec<Vec<RouteServerRouteRow>>) -> RouteServerRouteList {
    let key = |r: &RouteServerRouteRow| {
        (
            r.network.parse::<IpNet>().ok(),
            r.source_peer
                .as_deref()
                .and_then(|p| p.parse::<IpAddr>().ok()),
            r.network.clone(),
            r.source_peer.clone(),
            r.next_hop.clone(),
            r.as_path.clone(),
        )
    };
    RouteServerRouteList {
        roles: roles
            .into_iter()
            .enumerate()
            .map(|(i, mut rows)| {
                rows.sort_by_cached_key(key);
                (role_name(i), rows)
            })
            .collect(),
    }
}

/// The Route Server named `name`, or a refusal listing the Route Servers
/// there are.
pub fn find_route_server(snap: &Snapshot, name: &str) -> Result<RouteServerIdx, QueryError> {
    let route_servers = &snap.topology.route_servers;
    find_named(snap, route_servers, name, "Route Server", "Route Servers")
}

/// `peer` parsed and checked to be the address of one of `route_server`'s
/// BGP connections.
pub fn bgp_peer(
    snap: &Snapshot,
    route_server: RouteServerIdx,
    peer: &str,
) -> Result<IpAddr, QueryError> {
    let rs = &snap.topology.route_servers[route_server];
    let peer_ip: IpAddr = peer
        .parse()
        .map_err(|_| QueryError::usage(format!("--peer `{peer}`: expected an IP address")))?;
    if rs.bgp_connections.iter().any(|c| c.peer_ip == peer_ip) {
        return Ok(peer_ip);
    }
    let known: Vec<String> = rs
        .bgp_connections
        .iter()
        .map(|c| format!("{} ({})", c.peer_ip, c.name))
        .collect();
    Err(QueryError::refused(format!(
        "{peer} is not a BGP peer of Route Server `{}` (peers: {})",
        rs.name,
        listed(&known)
    )))
}

/// The route to `prefix` an instance at `local` holds, by `next_hop`
/// with AS path `path`, as `origin` with `weight`.
fn row(
    local: IpAddr,
    prefix: IpNet,
    next_hop: IpAddr,
    path: &[u32],
    origin: &str,
    weight: u32,
) -> RouteServerRouteRow {
    RouteServerRouteRow {
        as_path: as_path(path),
        local_address: local.to_string(),
        network: prefix.to_string(),
        next_hop: next_hop.to_string(),
        origin: origin.to_string(),
        source_peer: None,
        weight,
    }
}

/// One route an instance at `local` learned from `peer`.
pub fn learned_row(
    local: IpAddr,
    prefix: IpNet,
    peer: IpAddr,
    next_hop: IpAddr,
    path: &[u32],
) -> RouteServerRouteRow {
    RouteServerRouteRow {
        source_peer: Some(peer.to_string()),
        ..row(local, prefix, next_hop, path, "EBgp", LEARNED_WEIGHT)
    }
}

/// What each instance of `route_server` learned (only from `peer`, when
/// given), from the routes the snapshot was compiled with.
pub fn learned_routes(
    snap: &Snapshot,
    route_server: RouteServerIdx,
    peer: Option<IpAddr>,
) -> RouteServerRouteList {
    let rs = &snap.topology.route_servers[route_server];
    let roles = rs
        .instances
        .iter()
        .enumerate()
        .map(|(i, local)| {
            snap.learned
                .of(&rs.name, i)
                .iter()
                .filter(|r| peer.is_none_or(|p| r.peer == p))
                .map(|r| learned_row(*local, r.prefix, r.peer, r.next_hop, &r.as_path))
                .collect()
        })
        .collect();
    route_list(roles)
}

/// One route an instance at `local` advertises, as the peer receives it:
/// its own (`Igp`) when the AS path holds no ASN but the Route Server's,
/// else passed on from another peer (`EBgp`).
pub fn advertised_row(
    local: IpAddr,
    prefix: IpNet,
    next_hop: IpAddr,
    path: &[u32],
) -> RouteServerRouteRow {
    let origin = if path.len() <= 1 { "Igp" } else { "EBgp" };
    row(local, prefix, next_hop, path, origin, 0)
}

/// What each instance of `route_server` advertises to `peer`, as the
/// [`BgpModel`] predicts it.
pub fn advertised_routes(
    snap: &Snapshot,
    route_server: RouteServerIdx,
    peer: &str,
) -> Result<RouteServerRouteList, QueryError> {
    let topo = &snap.topology;
    let peer_ip = bgp_peer(snap, route_server, peer)?;
    let model = BgpModel::of(topo);
    let roles = topo.route_servers[route_server]
        .instances
        .iter()
        .enumerate()
        .map(|(instance, local)| {
            let id = SpeakerId::RouteServer {
                route_server,
                instance,
            };
            model
                .advertised_by(id, peer_ip)
                .unwrap_or_default()
                .into_iter()
                .map(|r| advertised_row(*local, r.prefix, r.next_hop, &r.as_path))
                .collect()
        })
        .collect();
    Ok(route_list(roles))
}

/// A row of the table: the role that learned or advertises the route,
/// and the route.
type RoleRow = (String, RouteServerRouteRow);

impl Tabular for RouteServerRouteList {
    type Row = RoleRow;

    const COLUMNS: &'static [Column<RoleRow>] = &[
        ("Role", |(role, _)| role.clone()),
        ("Local Address", |(_, r)| r.local_address.clone()),
        ("Network", |(_, r)| r.network.clone()),
        ("Next Hop", |(_, r)| r.next_hop.clone()),
        ("Source Peer", |(_, r)| {
            r.source_peer.clone().unwrap_or_default()
        }),
        ("Origin", |(_, r)| r.origin.clone()),
        ("AS Path", |(_, r)| r.as_path.clone()),
        ("Weight", |(_, r)| r.weight.to_string()),
    ];

    fn for_each_row(&self, mut row: impl FnMut(&RoleRow)) {
        for (role, routes) in &self.roles {
            for route in routes {
                row(&(role.clone(), route.clone()));
            }
        }
    }
}

/// A Route Server listing as a table or `az`'s JSON.
pub fn render_route_list(
    title: &str,
    list: &RouteServerRouteList,
    json: bool,
) -> Result<String, QueryError> {
    list.render(title, json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn net(text: &str) -> IpNet {
        text.parse().unwrap()
    }

    #[test]
    fn learned_routes_are_keyed_by_role_and_sorted_by_network_then_peer() {
        let local0 = ip("10.0.1.4");
        let row = |local, prefix, peer, path: &[u32]| {
            learned_row(local, net(prefix), ip(peer), ip(peer), path)
        };
        let list = route_list(vec![
            vec![
                row(local0, "10.100.0.0/16", "10.0.2.5", &[65001]),
                row(local0, "10.20.0.0/16", "10.0.2.4", &[65514, 65514]),
                row(local0, "10.100.0.0/16", "10.0.2.4", &[65001]),
            ],
            Vec::new(),
        ]);
        let got = serde_json::to_value(&list).unwrap();
        let entry = |network: &str, peer: &str, path: &str| {
            json!({"asPath": path, "localAddress": "10.0.1.4", "network": network,
                   "nextHop": peer, "origin": "EBgp", "sourcePeer": peer, "weight": 32768})
        };
        // 10.20/16 before 10.100/16: by address, not by text.
        assert_eq!(
            got,
            json!({
                "RouteServiceRole_IN_0": [
                    entry("10.20.0.0/16", "10.0.2.4", "65514-65514"),
                    entry("10.100.0.0/16", "10.0.2.4", "65001"),
                    entry("10.100.0.0/16", "10.0.2.5", "65001"),
                ],
                "RouteServiceRole_IN_1": [],
            })
        );
        let keys: Vec<&String> = got.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["RouteServiceRole_IN_0", "RouteServiceRole_IN_1"]);
    }

    #[test]
    fn advertised_routes_say_igp_for_their_own_and_ebgp_for_what_they_pass_on() {
        let local = ip("10.0.1.5");
        let list = route_list(vec![
            Vec::new(),
            vec![
                advertised_row(local, net("10.200.0.0/16"), local, &[65515, 65002]),
                advertised_row(local, net("10.0.0.0/16"), local, &[65515]),
            ],
        ]);
        assert_eq!(
            serde_json::to_value(&list).unwrap(),
            json!({
                "RouteServiceRole_IN_0": [],
                "RouteServiceRole_IN_1": [
                    {"asPath": "65515", "localAddress": "10.0.1.5", "network": "10.0.0.0/16",
                     "nextHop": "10.0.1.5", "origin": "Igp", "weight": 0},
                    {"asPath": "65515-65002", "localAddress": "10.0.1.5",
                     "network": "10.200.0.0/16", "nextHop": "10.0.1.5", "origin": "EBgp",
                     "weight": 0},
                ],
            })
        );
        // The JSON reads back as the listing it came from.
        let text = render_route_list("t", &list, true).unwrap();
        let back: RouteServerRouteList = serde_json::from_str(&text).unwrap();
        assert_eq!(back, list);
    }

    #[test]
    fn the_table_names_each_rows_role() {
        let list = route_list(vec![
            vec![learned_row(
                ip("10.0.1.4"),
                net("10.100.0.0/16"),
                ip("10.0.2.4"),
                ip("10.0.2.4"),
                &[65001],
            )],
            vec![advertised_row(
                ip("10.0.1.5"),
                net("10.0.0.0/16"),
                ip("10.0.1.5"),
                &[65515],
            )],
        ]);
        let text = render_route_list("Routes:", &list, false).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "Routes:");
        assert!(
            lines[2].starts_with("Role                   Local Address  Network"),
            "{text}"
        );
        assert!(lines[2].ends_with("Origin  AS Path  Weight"), "{text}");
        assert!(
            lines[4].starts_with("RouteServiceRole_IN_0  10.0.1.4       10.100.0.0/16"),
            "{text}"
        );
        assert!(lines[4].ends_with("EBgp    65001    32768"), "{text}");
        assert!(
            lines[5].starts_with("RouteServiceRole_IN_1  10.0.1.5       10.0.0.0/16"),
            "{text}"
        );
        assert!(lines[5].ends_with("Igp     65515    0"), "{text}");
    }
}
