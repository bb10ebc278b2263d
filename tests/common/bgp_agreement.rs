//! Live equals offline: a running lab's gateway answers, read from its BGP
//! speakers (learned routes, advertised routes, sessions), each Route
//! Server's learned routes (all, and per peer) and what it advertises to
//! each peer, as the JSON `vnetd route-server` prints, each circuit's
//! route table on both links (its Microsoft edge routers' speakers) and
//! every NIC's effective routes, against the BGP model's prediction from
//! the same file. Times and message counters are left out; everything
//! else must be the same rows.

use super::{wait_for, Lab};
use std::collections::BTreeMap;
use std::time::Duration;
use vnetd::diagnostics::circuit;
use vnetd::diagnostics::gateway::{self, BgpPeerStatusList, GatewayRouteList};
use vnetd::diagnostics::route_server::{self, RouteServerRouteList};
use vnetd::policy::bgp::expected_learned;
use vnetd::policy::gateways::bgp_peer_addresses;
use vnetd::snapshot::Snapshot;
use vnetd::topology::{parse_str, GatewayIdx, RouteServerIdx};

type Row = (String, String, String, String, String, Option<String>, u32);

/// (neighbor, asn, state, local address, routes received, reason)
type Session = (String, u32, String, String, u64, Option<String>);

/// (network, next hop, path) of a circuit route table's row.
type CircuitRow = (String, String, String);

/// (source, state, prefixes, next hop type, next hop addresses) of an
/// effective route.
type EffectiveRow = (String, String, Vec<String>, String, Vec<String>);

/// Every gateway answer of a lab, rows sorted.
#[derive(Debug, PartialEq, Eq)]
pub struct GatewayAnswers {
    learned: BTreeMap<String, Vec<Row>>,
    advertised: BTreeMap<(String, String), Vec<Row>>,
    sessions: BTreeMap<String, Vec<Session>>,
    circuits: BTreeMap<(String, usize), Vec<CircuitRow>>,
    effective: BTreeMap<String, Vec<EffectiveRow>>,
    route_servers: RouteServerAnswers,
}

/// Every Route Server answer of a lab, as the JSON `vnetd route-server
/// learned-routes` and `advertised-routes` print.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RouteServerAnswers {
    /// By Route Server and peer (`None`: from every peer).
    learned: BTreeMap<(String, Option<String>), serde_json::Value>,
    /// By Route Server and peer.
    advertised: BTreeMap<(String, String), serde_json::Value>,
}

/// The Route Server answers, Route Server by Route Server and peer by
/// peer: learned routes from the snapshot's, `advertised` from the model
/// or the speakers.
fn route_server_answers(
    snap: &Snapshot,
    advertised: impl Fn(RouteServerIdx, &str) -> RouteServerRouteList,
) -> RouteServerAnswers {
    let json = |list: RouteServerRouteList| serde_json::to_value(list).unwrap();
    let mut out = RouteServerAnswers::default();
    for (r, rs) in snap.topology.route_servers.iter_enumerated() {
        out.learned.insert(
            (rs.name.clone(), None),
            json(route_server::learned_routes(snap, r, None)),
        );
        for c in &rs.bgp_connections {
            let peer = c.peer_ip.to_string();
            out.learned.insert(
                (rs.name.clone(), Some(peer.clone())),
                json(route_server::learned_routes(snap, r, Some(c.peer_ip))),
            );
            out.advertised
                .insert((rs.name.clone(), peer.clone()), json(advertised(r, &peer)));
        }
    }
    out
}

fn rows(list: GatewayRouteList) -> Vec<Row> {
    let mut rows: Vec<Row> = list
        .value
        .into_iter()
        .map(|r| {
            (
                r.local_address,
                r.network,
                r.next_hop,
                r.as_path,
                r.origin,
                r.source_peer,
                r.weight,
            )
        })
        .collect();
    rows.sort();
    rows
}

fn sessions(list: BgpPeerStatusList) -> Vec<Session> {
    let mut rows: Vec<_> = list
        .value
        .into_iter()
        .map(|p| {
            (
                p.neighbor,
                p.asn,
                p.state,
                p.local_address,
                p.routes_received,
                p.reason,
            )
        })
        .collect();
    rows.sort();
    rows
}

/// The answers, gateway by gateway and peer by peer, from `learned` (the
/// snapshot's), `advertised` and `peers`; the Route Servers' with
/// `rs_advertised`.
fn answers(
    snap: &Snapshot,
    advertised: impl Fn(GatewayIdx, &str) -> GatewayRouteList,
    peers: impl Fn(GatewayIdx) -> BgpPeerStatusList,
    rs_advertised: impl Fn(RouteServerIdx, &str) -> RouteServerRouteList,
) -> GatewayAnswers {
    let topo = &snap.topology;
    let mut out = GatewayAnswers {
        learned: BTreeMap::new(),
        advertised: BTreeMap::new(),
        sessions: BTreeMap::new(),
        circuits: BTreeMap::new(),
        effective: BTreeMap::new(),
        route_servers: route_server_answers(snap, rs_advertised),
    };
    for (c, circ) in topo.circuits.iter_enumerated() {
        for link in 0..2 {
            let rows = circuit::route_table(snap, c, link)
                .value
                .into_iter()
                .map(|r| (r.network, r.next_hop, r.path))
                .collect();
            out.circuits.insert((circ.name.clone(), link), rows);
        }
    }
    for nic in &topo.nics {
        let port = snap.port_by_name(&nic.name).expect("a NIC's port");
        let rows = vnetd::diagnostics::routes(snap, port)
            .value
            .into_iter()
            .map(|r| {
                (
                    r.source.to_string(),
                    r.state.to_string(),
                    r.address_prefix,
                    r.next_hop_type.to_string(),
                    r.next_hop_ip_address,
                )
            })
            .collect();
        out.effective.insert(nic.name.clone(), rows);
    }
    for (g, gw) in topo.gateways.iter_enumerated() {
        out.learned
            .insert(gw.name.clone(), rows(gateway::learned_routes(snap, g)));
        for peer in bgp_peer_addresses(topo, g) {
            let peer = peer.to_string();
            out.advertised
                .insert((gw.name.clone(), peer.clone()), rows(advertised(g, &peer)));
        }
        out.sessions.insert(gw.name.clone(), sessions(peers(g)));
    }
    out
}

/// What the BGP model predicts for `text`.
pub fn offline(text: &str) -> GatewayAnswers {
    let topo = parse_str("offline.yaml", text).unwrap().topology;
    let learned = expected_learned(&topo);
    let snap = Snapshot::compile_learned(topo, learned, 0);
    answers(
        &snap,
        |g, peer| gateway::advertised_routes(&snap, g, peer).unwrap(),
        |g| gateway::predicted_peer_status(&snap, g),
        |r, peer| route_server::advertised_routes(&snap, r, peer).unwrap(),
    )
}

/// What the running lab's speakers say now.
pub fn live(lab: &Lab) -> GatewayAnswers {
    let daemon = lab.daemon();
    let snap = daemon.snapshot();
    answers(
        &snap,
        |g, peer| {
            daemon
                .advertised_routes(&snap.topology.gateways[g].name, peer)
                .unwrap()
        },
        |g| {
            daemon
                .bgp_peer_status(&snap.topology.gateways[g].name)
                .unwrap()
        },
        |r, peer| {
            daemon
                .route_server_advertised_routes(&snap.topology.route_servers[r].name, peer)
                .unwrap()
        },
    )
}

/// Waits (bounded) for the lab's speakers to settle on what the model
/// predicts for `text`, then requires the same rows.
pub fn assert_live_equals_offline(lab: &Lab, text: &str) {
    let want = offline(text);
    wait_for(Duration::from_secs(90), || live(lab) == want);
    let got = live(lab);
    assert_eq!(
        got.sessions, want.sessions,
        "sessions: live (left) and offline (right)"
    );
    assert_eq!(
        got.learned, want.learned,
        "learned routes: live (left) and offline (right)"
    );
    assert_eq!(
        got.advertised, want.advertised,
        "advertised routes: live (left) and offline (right)"
    );
    assert_eq!(
        got.circuits, want.circuits,
        "circuit route tables: live (left) and offline (right)"
    );
    assert_eq!(
        got.effective, want.effective,
        "effective routes: live (left) and offline (right)"
    );
    assert_eq!(
        got.route_servers.learned, want.route_servers.learned,
        "Route Server learned routes: live (left) and offline (right)"
    );
    assert_eq!(
        got.route_servers.advertised, want.route_servers.advertised,
        "Route Server advertised routes: live (left) and offline (right)"
    );
}

/// The JSON of `vnetd route-server learned-routes --route-server RS`
/// (`peer`: `--peer`) and `advertised-routes --peer`, as the BGP model
/// predicts them for `text`; `None` when it has no such Route Server or
/// peer.
pub fn offline_route_server_json(
    text: &str,
    route_server: &str,
    peer: Option<&str>,
    advertised: bool,
) -> Option<serde_json::Value> {
    let answers = offline(text).route_servers;
    let peer = peer.map(str::to_string);
    if advertised {
        answers
            .advertised
            .get(&(route_server.to_string(), peer?))
            .cloned()
    } else {
        answers
            .learned
            .get(&(route_server.to_string(), peer))
            .cloned()
    }
}
