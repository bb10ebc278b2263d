//! The BGP model on the triangle example, every row worked out by hand
//! from the rules in the module docs; the failover; the prefix limit; and
//! sessions that cannot come up.

use super::*;
use crate::policy::gateways::{LearnedRoutes, MAX_LEARNED_PREFIXES};
use crate::topology::{parse_str, ByName, GatewayIdx, RouteServerIdx, Topology};
use ipnet::IpNet;

const TRIANGLE: &str = include_str!("../../../../../config/vnet2vnet-triangle.yaml");

fn triangle() -> Topology {
    parse_str("vnet2vnet-triangle.yaml", TRIANGLE)
        .expect("the example parses")
        .topology
}

/// The triangle without the two connections between gw-a and gw-c.
fn failover() -> Topology {
    let text: String = TRIANGLE
        .lines()
        .filter(|l| !l.contains("name: a-to-c") && !l.contains("name: c-to-a"))
        .map(|l| format!("{l}\n"))
        .collect();
    parse_str("failover.yaml", &text)
        .expect("the failover parses")
        .topology
}

fn gateway(topo: &Topology, name: &str) -> GatewayIdx {
    topo.gateways.by_name(name).unwrap()
}

/// (prefix, peer, AS path) of what `gateway`'s instance `i` learned,
/// sorted.
fn learned_rows(topo: &Topology, name: &str, i: usize) -> Vec<(String, String, Vec<u32>)> {
    let mut rows: Vec<(String, String, Vec<u32>)> = expected_learned(topo)
        .of(name, i)
        .iter()
        .map(|r| (r.prefix.to_string(), r.peer.to_string(), r.as_path.clone()))
        .collect();
    rows.sort();
    rows
}

fn rows(want: &[Learned]) -> Vec<(String, String, Vec<u32>)> {
    let mut rows: Vec<(String, String, Vec<u32>)> = want
        .iter()
        .map(|(p, n, a)| (p.to_string(), n.to_string(), a.to_vec()))
        .collect();
    rows.sort();
    rows
}

/// `text` with its first `list` (`key: [prefix]`) followed by `count`
/// host routes of 172.16.0.0/12.
fn with_host_routes(text: &str, list: &str, count: usize) -> String {
    let routes: Vec<String> = (0..count as u32)
        .map(|i| format!("172.{}.{}.{}/32", 16 + i / 65536, (i / 256) % 256, i % 256))
        .collect();
    let longer = format!("{}, {}]", list.trim_end_matches(']'), routes.join(", "));
    text.replacen(list, &longer, 1)
}

/// The session with `neighbor`, which one of `sessions` must be.
fn session_with(sessions: Vec<PredictedSession>, neighbor: &str) -> PredictedSession {
    sessions
        .into_iter()
        .find(|s| s.neighbor.to_string() == neighbor)
        .unwrap_or_else(|| panic!("no session with {neighbor}"))
}

// Addresses: gw-a 10.10.255.30, gw-b 10.20.255.4 and .5, gw-c
// 10.30.255.30, the branch's BGP address 192.168.255.1.
const A: &str = "10.10.255.30";
const B0: &str = "10.20.255.4";
const B1: &str = "10.20.255.5";
const C: &str = "10.30.255.30";
const BRANCH: &str = "192.168.255.1";

/// What gw-a learns from each instance of gw-b, with or without the
/// connections between gw-a and gw-c: gw-b's range and its host route of
/// gw-c (originated by gw-b, path 65020); what gw-b learned from gw-c, with
/// 65020 prepended (gw-b's best is the direct path from gw-c).
type Learned = (&'static str, &'static str, &'static [u32]);

fn from_gw_b() -> Vec<Learned> {
    [B0, B1]
        .into_iter()
        .flat_map(|b| -> [Learned; 5] {
            [
                ("10.20.0.0/16", b, &[65020]),
                ("10.30.255.30/32", b, &[65020]),
                ("10.30.0.0/16", b, &[65020, 65030]),
                ("192.168.0.0/16", b, &[65020, 65030, 65050]),
                ("192.168.255.1/32", b, &[65020, 65030]),
            ]
        })
        .collect()
}

#[test]
fn gw_a_learns_every_range_directly_and_one_as_longer_through_the_third_gateway() {
    let topo = triangle();
    let mut want = from_gw_b();
    // From gw-c: its range, the host routes of its other peers (gw-b's
    // instances and the branch), the branch's range, and gw-b's range one
    // AS longer. Never gw-a's own ranges: their paths hold 65010.
    want.extend([
        ("10.30.0.0/16", C, &[65030][..]),
        ("10.20.255.4/32", C, &[65030]),
        ("10.20.255.5/32", C, &[65030]),
        ("192.168.255.1/32", C, &[65030]),
        ("192.168.0.0/16", C, &[65030, 65050]),
        ("10.20.0.0/16", C, &[65030, 65020]),
    ]);
    assert_eq!(learned_rows(&topo, "gw-a", 0), rows(&want));
}

#[test]
fn after_the_failover_gw_a_learns_the_branch_through_gw_b_only() {
    let topo = failover();
    let want = from_gw_b();
    assert_eq!(learned_rows(&topo, "gw-a", 0), rows(&want));
    // And the branch learns gw-a's VNets through gw-c then gw-b.
    let model = BgpModel::of(&topo);
    let c = gateway(&topo, "gw-c");
    let to_branch = model.advertised(c, 0, BRANCH.parse().unwrap()).unwrap();
    let spoke = to_branch
        .iter()
        .find(|r| r.prefix.to_string() == "10.11.0.0/16")
        .expect("the spoke's range reaches the branch");
    assert_eq!(spoke.as_path, [65030, 65020, 65010]);
    assert_eq!(spoke.next_hop.to_string(), C);
}

#[test]
fn a_peer_is_never_sent_its_own_host_route_nor_a_route_through_its_own_as() {
    let topo = triangle();
    let model = BgpModel::of(&topo);
    let c = gateway(&topo, "gw-c");
    let mut to_a: Vec<(String, Vec<u32>)> = model
        .advertised(c, 0, A.parse().unwrap())
        .unwrap()
        .into_iter()
        .map(|r| (r.prefix.to_string(), r.as_path))
        .collect();
    to_a.sort();
    let mut want = vec![
        ("10.30.0.0/16".to_string(), vec![65030]),
        ("10.20.255.4/32".to_string(), vec![65030]),
        ("10.20.255.5/32".to_string(), vec![65030]),
        ("192.168.255.1/32".to_string(), vec![65030]),
        ("192.168.0.0/16".to_string(), vec![65030, 65050]),
        ("10.20.0.0/16".to_string(), vec![65030, 65020]),
    ];
    want.sort();
    assert_eq!(to_a, want);
    // gw-c's best to gw-a's ranges came from gw-a: not sent back.
    assert!(!to_a
        .iter()
        .any(|(p, _)| p.starts_with("10.10.") || p.starts_with("10.11.")));
}

#[test]
fn every_session_of_the_triangle_is_connected_with_what_it_receives() {
    let topo = triangle();
    let model = BgpModel::of(&topo);
    let b = gateway(&topo, "gw-b");
    let sessions: Vec<(String, u32, &str, u64)> = model
        .sessions(b, 1)
        .into_iter()
        .map(|s| (s.neighbor.to_string(), s.asn, s.state, s.routes_received))
        .collect();
    // gw-b instance 1: gw-a sends its two ranges, the host routes of
    // gw-c, and what it learned from gw-c (10.30/16, the branch and its
    // /32): 6. gw-c sends its range, its host routes of gw-a and the
    // branch, the branch's range and gw-a's two ranges one AS longer: 6.
    assert_eq!(
        sessions,
        [
            (A.to_string(), 65010, "Connected", 6),
            (C.to_string(), 65030, "Connected", 6),
        ]
    );
}

#[test]
fn a_one_sided_vnet2vnet_connection_never_comes_up() {
    let text = TRIANGLE.replace(
        "  - {name: c-to-a, type: Vnet2Vnet, virtual_network_gateway: gw-c, peer_virtual_network_gateway: gw-a, bgp_enabled: true, shared_key: lab}\n",
        "",
    );
    let topo = parse_str("one-sided.yaml", &text).unwrap().topology;
    let model = BgpModel::of(&topo);
    let a = gateway(&topo, "gw-a");
    let states: Vec<(String, &str, u64)> = model
        .sessions(a, 0)
        .into_iter()
        .map(|s| (s.neighbor.to_string(), s.state, s.routes_received))
        .collect();
    assert_eq!(
        states,
        [
            (B0.to_string(), "Connected", 5),
            (B1.to_string(), "Connected", 5),
            (C.to_string(), "Connecting", 0),
        ]
    );
    assert!(learned_rows(&topo, "gw-a", 0)
        .iter()
        .all(|(_, peer, _)| peer != C));
}

#[test]
fn a_site_announcing_more_than_the_limit_is_dropped_and_nothing_of_it_is_learned() {
    // 4001 /32s in the branch's address space.
    let list = "address_space: [192.168.0.0/16]";
    let text = with_host_routes(TRIANGLE, list, MAX_LEARNED_PREFIXES + 1);
    let topo = parse_str("big.yaml", &text).unwrap().topology;
    let model = BgpModel::of(&topo);
    let c = gateway(&topo, "gw-c");
    let branch = session_with(model.sessions(c, 0), BRANCH);
    assert_eq!(branch.state, "Stopped");
    assert_eq!(branch.routes_received, MAX_LEARNED_PREFIXES as u64 + 2);
    assert!(learned_rows(&topo, "gw-c", 0)
        .iter()
        .all(|(_, peer, _)| peer != BRANCH));
    // Nobody learns the branch's range any more.
    assert!(!learned_rows(&topo, "gw-a", 0)
        .iter()
        .any(|(p, _, _)| p == "192.168.0.0/16"));
}

/// What BGP brings is connected: after the failover, spoke A's
/// `VirtualNetwork` tag holds hub C's range (learned through gw-b, no
/// connection of gw-a reaches it) and the branch's, which the topology's
/// connections alone do not give.
#[test]
fn ranges_learned_through_transit_join_the_virtual_network_tag() {
    use crate::policy::tags::virtual_network_tag;
    let topo = failover();
    let spoke = topo.vnets.by_name("spoke-a").unwrap();
    let app = crate::topology::SubnetRef {
        vnet: spoke,
        subnet: crate::topology::SubnetIdx::new(0),
    };
    let net = |s: &str| -> IpNet { s.parse().unwrap() };
    let without = virtual_network_tag(&topo, &LearnedRoutes::default(), app);
    assert!(!without.contains(&net("10.30.0.0/16")), "{without:?}");
    assert!(!without.contains(&net("192.168.0.0/16")), "{without:?}");
    let with = virtual_network_tag(&topo, &expected_learned(&topo), app);
    for range in [
        "10.11.0.0/16",
        "10.10.0.0/16",
        "10.20.0.0/16",
        "10.30.0.0/16",
        "192.168.0.0/16",
    ] {
        assert!(with.contains(&net(range)), "{range} missing from {with:?}");
    }
    // Each range once, the default route never.
    let mut sorted = with.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), with.len());
    assert!(with.iter().all(|n| n.prefix_len() != 0));
}

const ROUTE_SERVER: &str = include_str!("../../../../../config/route-server.yaml");

#[test]
fn a_route_server_learns_from_both_appliances_and_sends_them_the_vnets() {
    let topo = parse_str("route-server.yaml", ROUTE_SERVER)
        .unwrap()
        .topology;
    for i in 0..2 {
        assert_eq!(
            learned_rows(&topo, "hub-rs", i),
            [
                ("10.100.0.0/16".into(), "10.0.2.4".into(), vec![65001]),
                ("10.100.0.0/16".into(), "10.0.2.5".into(), vec![65001]),
            ]
        );
    }
    let model = BgpModel::of(&topo);
    let rs = SpeakerId::RouteServer {
        route_server: RouteServerIdx::new(0),
        instance: 1,
    };
    let sent: Vec<(String, String, Vec<u32>)> = model
        .advertised_by(rs, "10.0.2.4".parse().unwrap())
        .unwrap()
        .into_iter()
        .map(|a| (a.prefix.to_string(), a.next_hop.to_string(), a.as_path))
        .collect();
    // The hub and the spoke using its gateways; not the appliances' own
    // prefix back (both are AS 65001).
    assert_eq!(
        sent,
        [
            ("10.0.0.0/16".into(), "10.0.1.5".into(), vec![65515]),
            ("10.1.0.0/16".into(), "10.0.1.5".into(), vec![65515]),
        ]
    );
}

#[test]
fn an_appliance_announcing_more_than_a_route_servers_limit_is_dropped() {
    let list = "bgp_announce: [10.100.0.0/16]";
    let many = crate::topology::ROUTE_SERVER_MAX_ROUTES_PER_PEER + 1;
    let text = with_host_routes(ROUTE_SERVER, list, many);
    let topo = parse_str("many.yaml", &text).unwrap().topology;
    let model = BgpModel::of(&topo);
    let sessions = model.sessions_of(SpeakerId::RouteServer {
        route_server: RouteServerIdx::new(0),
        instance: 0,
    });
    let nva1 = session_with(sessions, "10.0.2.4");
    assert_eq!(nva1.state, "Stopped");
    assert_eq!(nva1.reason.as_deref(), Some("prefix limit 1000 exceeded"));
    assert_eq!(
        learned_rows(&topo, "hub-rs", 0),
        [("10.100.0.0/16".into(), "10.0.2.5".into(), vec![65001])]
    );
}
