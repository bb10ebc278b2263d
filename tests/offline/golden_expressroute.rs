//! Golden ExpressRoute routes and traces, on
//! `tests/golden/33-expressroute-coexistence.yaml` (a hub with a VPN and an
//! ExpressRoute gateway, datacenter dc1 on a circuit and a backup VPN,
//! datacenter dc2 on its own circuit), with the routes each BGP session
//! learned given as input. The expected rows were worked out by hand from
//! `docs/src/azure-behaviour.md` §6 (ExpressRoute): the longest prefix first,
//! then ExpressRoute over VPN, then the shorter AS path; instance `i` of the
//! ExpressRoute gateway ends link `i` of each circuit, whose Microsoft
//! edge router holds the second address of the link's /30 and prepends
//! 12076; nothing goes from one circuit to another through a gateway; the
//! customer edge learns the VNets from ASN 12076; Global Reach joins two
//! circuits at their edge routers, outside the fabric.

use etherparse::PacketBuilder;
use vnetd::dataplane::{decide, DropReason, Stateless, Verdict};
use vnetd::diagnostics;
use vnetd::plan::PortIdx;
use vnetd::policy::gateways::{BgpOrigin, LearnedRoute, LearnedRoutes};
use vnetd::snapshot::Snapshot;
use vnetd::topology::{parse_str, GatewayIdx, Topology};

const GW: &str = "VirtualNetworkGateway";
const FILE: &str = "33-expressroute-coexistence.yaml";
/// The VPN gateway's instance, and the ExpressRoute gateway's two.
const VPN: &str = "10.0.255.254";
const ER0: &str = "10.0.255.228";
const ER1: &str = "10.0.255.229";

fn topology() -> Topology {
    let path = format!("{}/tests/golden/{FILE}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    parse_str(FILE, &text)
        .unwrap_or_else(|d| panic!("{FILE}: {d:#?}"))
        .topology
}

fn route(prefix: &str, peer: &str, as_path: &[u32]) -> LearnedRoute {
    LearnedRoute {
        prefix: prefix.parse().unwrap(),
        peer: peer.parse().unwrap(),
        next_hop: peer.parse().unwrap(),
        as_path: as_path.to_vec(),
        origin: BgpOrigin::Igp,
    }
}

/// What the sessions learned:
/// - the VPN gateway, from dc1's backup VPN: dc1's range, a /24 inside it
///   only the VPN carries, and 10.50.0.0/16 with a two-AS path;
/// - the ExpressRoute gateway, from the edge router of each link of dc1's
///   circuit: dc1's range and 10.60.0.0/16 with a three-AS path behind
///   12076; from each link of dc2's circuit: dc2's range, 10.50.0.0/16 and
///   10.60.0.0/16, each with one AS behind 12076.
fn learned() -> LearnedRoutes {
    let mut routes = LearnedRoutes::default();
    let vpn = "192.168.255.1";
    routes.gateways.insert(
        "hub-vpngw".into(),
        vec![vec![
            route("172.20.0.0/16", vpn, &[65020]),
            route("172.20.5.0/24", vpn, &[65020]),
            route("10.50.0.0/16", vpn, &[65020, 65099]),
        ]],
    );
    let instance = |dc1_edge: &str, dc2_edge: &str| {
        vec![
            route("172.20.0.0/16", dc1_edge, &[12076, 65020]),
            route("10.60.0.0/16", dc1_edge, &[12076, 65020, 65100, 65101]),
            route("172.21.0.0/16", dc2_edge, &[12076, 65030]),
            route("10.50.0.0/16", dc2_edge, &[12076, 65030]),
            route("10.60.0.0/16", dc2_edge, &[12076, 65030]),
        ]
    };
    routes.gateways.insert(
        "hub-ergw".into(),
        vec![
            instance("172.16.0.2", "172.16.1.2"),
            instance("172.16.0.6", "172.16.1.6"),
        ],
    );
    routes
}

fn snapshot() -> Snapshot {
    Snapshot::compile_learned(topology(), learned(), 1)
}

fn gateway_rows(snap: &Snapshot, nic: &str) -> Vec<(String, String, String)> {
    let idx = snap.port_by_name(nic).expect("NIC");
    diagnostics::routes(snap, idx)
        .value
        .into_iter()
        .filter(|r| r.source == GW)
        .map(|r| {
            (
                r.state.to_string(),
                r.address_prefix.join(","),
                r.next_hop_ip_address.join(","),
            )
        })
        .collect()
}

fn owned(rows: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    rows.iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

#[test]
fn expressroute_wins_equal_prefixes_then_the_shorter_as_path() {
    let snap = snapshot();
    let both = format!("{ER0},{ER1}");
    let want = owned(&[
        // The VPN gateway's table first (file order), each prefix replaced
        // in place where the ExpressRoute gateway carries it too.
        ("Active", "192.168.255.1/32", VPN),
        // Equal prefix on both gateways: ExpressRoute.
        ("Active", "172.20.0.0/16", &both),
        // Longer prefix only the VPN carries: kept, and longest match
        // sends 172.20.5.0/24 over the VPN.
        ("Active", "172.20.5.0/24", VPN),
        // Two ASes on either path: ExpressRoute.
        ("Active", "10.50.0.0/16", &both),
        // Then the ExpressRoute gateway's own rows: each Microsoft edge
        // router on the instance ending its link.
        ("Active", "172.16.0.2/32", ER0),
        ("Active", "172.16.0.6/32", ER1),
        // Learned from both circuits: dc2's two-AS path beats dc1's four.
        ("Active", "172.16.1.2/32", ER0),
        ("Active", "172.16.1.6/32", ER1),
        ("Active", "10.60.0.0/16", &both),
        ("Active", "172.21.0.0/16", &both),
    ]);
    assert_eq!(gateway_rows(&snap, "hub-vm"), want);
    // The transit spoke receives the same rows.
    assert_eq!(gateway_rows(&snap, "vm1"), want);
}

fn nic(s: &Snapshot, name: &str) -> PortIdx {
    s.port_by_name(name)
        .unwrap_or_else(|| panic!("no port {name}"))
}

fn tcp(src: [u8; 4], dst: [u8; 4], sport: u16) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(src, dst, 64)
        .tcp(sport, 443, 1, 64000)
        .write(&mut out, b"x")
        .unwrap();
    out
}

const HUB_VM: [u8; 4] = [10, 0, 1, 4];
const VM1: [u8; 4] = [10, 1, 1, 4];
const DC1_HOST: [u8; 4] = [172, 20, 1, 10];
const DC2_HOST: [u8; 4] = [172, 21, 1, 10];

/// The tunnel a verdict delivers to, by name.
fn delivered_to(s: &Snapshot, v: Verdict) -> String {
    match v {
        Verdict::Deliver(n) => s.plan.ports[n].name.clone(),
        other => panic!("not delivered: {other:?}"),
    }
}

#[test]
fn traffic_takes_expressroute_and_the_vpn_only_for_its_longer_prefix() {
    let s = snapshot();
    let go = |from: &str, p: Vec<u8>| decide(&s, &Stateless, nic(&s, from), &p, 0);
    let er_tunnels = ["dc1-to-hub-ergw-0", "dc1-to-hub-ergw-1"];
    for port in 1000..1016 {
        let to = delivered_to(&s, go("hub-vm", tcp(HUB_VM, DC1_HOST, port)));
        assert!(er_tunnels.contains(&to.as_str()), "{to}");
        let to = delivered_to(&s, go("vm1", tcp(VM1, DC1_HOST, port)));
        assert!(er_tunnels.contains(&to.as_str()), "{to}");
    }
    assert_eq!(
        go("hub-vm", tcp(HUB_VM, [172, 20, 5, 10], 1000)),
        Verdict::Deliver(nic(&s, "dc1-to-hub-vpngw-0"))
    );
    // Each instance reaches the edge router of its own link.
    assert_eq!(
        go("hub-ergw-1", tcp([10, 0, 255, 229], [172, 16, 0, 6], 179)),
        Verdict::Deliver(nic(&s, "dc1-to-hub-ergw-1"))
    );
    assert_eq!(
        go("hub-ergw-0", tcp([10, 0, 255, 228], [172, 16, 1, 2], 179)),
        Verdict::Deliver(nic(&s, "dc2-to-hub-ergw-0"))
    );
}

#[test]
fn no_transit_from_one_circuit_to_another() {
    let s = snapshot();
    for tunnel in ["dc1-to-hub-ergw-0", "dc1-to-hub-ergw-1"] {
        let from = nic(&s, tunnel);
        // dc1 to dc2: both on circuits of the same gateway, refused.
        assert_eq!(
            decide(&s, &Stateless, from, &tcp(DC1_HOST, DC2_HOST, 3000), 0),
            Verdict::dropped(DropReason::CircuitTransit, from)
        );
        // dc1 to the hub and the transit spoke: delivered.
        assert_eq!(
            decide(&s, &Stateless, from, &tcp(DC1_HOST, HUB_VM, 3000), 0),
            Verdict::Deliver(nic(&s, "hub-vm"))
        );
        assert_eq!(
            decide(&s, &Stateless, from, &tcp(DC1_HOST, VM1, 3000), 0),
            Verdict::Deliver(nic(&s, "vm1"))
        );
    }
    let from = nic(&s, "dc2-to-hub-ergw-0");
    assert_eq!(
        decide(&s, &Stateless, from, &tcp(DC2_HOST, DC1_HOST, 3000), 0),
        Verdict::dropped(DropReason::CircuitTransit, from)
    );
    assert_eq!(DropReason::CircuitTransit.as_str(), "circuit_transit");
}

#[test]
fn the_customer_edge_learns_the_vnets_from_microsofts_edge_and_nothing_of_other_circuits() {
    use vnetd::policy::bgp::{BgpModel, SpeakerId};
    use vnetd::topology::CircuitIdx;
    let topo = topology();
    let model = BgpModel::of(&topo);
    let ergw = GatewayIdx::new(1);
    assert_eq!(topo.gateways[ergw].name, "hub-ergw");
    let vnets = |path: &[u32]| {
        vec![
            ("10.0.0.0/16".to_string(), path.to_vec()),
            ("10.1.0.0/16".to_string(), path.to_vec()),
        ]
    };
    // Each instance sends the VNets to every edge router, with its own AS.
    for (instance, edge) in [(0, "172.16.0.2"), (1, "172.16.0.6"), (0, "172.16.1.6")] {
        let got: Vec<(String, Vec<u32>)> = model
            .advertised(ergw, instance, edge.parse().unwrap())
            .expect("an edge router of the gateway")
            .into_iter()
            .map(|r| (r.prefix.to_string(), r.as_path))
            .collect();
        assert_eq!(got, vnets(&[65515]), "instance {instance} to {edge}");
    }
    // Each edge router sends its customer edge the VNets behind 12076 (the
    // private 65515 removed), and nothing of the other circuit.
    for (circuit, link, customer) in [
        (0, 0, "172.16.0.1"),
        (0, 1, "172.16.0.5"),
        (1, 0, "172.16.1.1"),
        (1, 1, "172.16.1.5"),
    ] {
        let id = SpeakerId::Edge {
            circuit: CircuitIdx::new(circuit),
            link,
        };
        let got: Vec<(String, Vec<u32>)> = model
            .advertised_by(id, customer.parse().unwrap())
            .expect("the customer edge of the link")
            .into_iter()
            .map(|r| (r.prefix.to_string(), r.as_path))
            .collect();
        assert_eq!(got, vnets(&[12076]), "to {customer}");
    }
}

/// (network, nextHop, path) of each row, in order.
fn circuit_rows(
    snap: &Snapshot,
    circuit: &str,
    path: Option<&str>,
) -> Vec<(String, String, String)> {
    use vnetd::diagnostics::circuit::{find_circuit, parse_link, route_table};
    let c = find_circuit(snap, circuit).unwrap();
    let link = parse_link(path).unwrap();
    route_table(snap, c, link)
        .value
        .into_iter()
        .map(|r| {
            assert_eq!((r.loc_prf.as_str(), r.weight), ("", 0));
            (r.network, r.next_hop, r.path)
        })
        .collect()
}

/// The snapshot with what the BGP model predicts every speaker learns (the
/// edge routers included), as `--config` answers.
fn predicted(topo: Topology) -> Snapshot {
    let learned = vnetd::policy::bgp::expected_learned(&topo);
    Snapshot::compile_learned(topo, learned, 1)
}

#[test]
fn each_circuit_route_table_holds_the_vnets_and_only_its_own_edges_routes() {
    let snap = predicted(topology());
    let vnets = |rows: &mut Vec<(&str, &str, &str)>| {
        for (network, hop) in [
            ("10.0.0.0/16", ER0),
            ("10.0.0.0/16", ER1),
            ("10.1.0.0/16", ER0),
            ("10.1.0.0/16", ER1),
        ] {
            rows.push((network, hop, "65515"));
        }
    };
    let mut want = Vec::new();
    vnets(&mut want);
    want.push(("172.20.0.0/16", "172.16.0.1", "65020"));
    assert_eq!(circuit_rows(&snap, "dc1-circuit", None), owned(&want));

    let mut want = Vec::new();
    vnets(&mut want);
    want.push(("172.21.0.0/16", "172.16.1.5", "65030"));
    assert_eq!(
        circuit_rows(&snap, "dc2-circuit", Some("secondary")),
        owned(&want)
    );
}

#[test]
fn circuit_routes_offline_predicts_the_edges_announcement_as_az_prints_it() {
    let file = format!("{}/tests/golden/{FILE}", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .args(["circuit", "routes", "--config", &file])
        .args(["--circuit", "dc2-circuit", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = |network: &str, hop: &str, path: &str| serde_json::json!({"network": network, "nextHop": hop, "locPrf": "", "weight": 0, "path": path});
    assert_eq!(
        got,
        serde_json::json!({"value": [
            row("10.0.0.0/16", ER0, "65515"),
            row("10.0.0.0/16", ER1, "65515"),
            row("10.1.0.0/16", ER0, "65515"),
            row("10.1.0.0/16", ER1, "65515"),
            row("172.21.0.0/16", "172.16.1.1", "65030"),
        ]})
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .args(["circuit", "routes", "--config", &file, "--circuit", "dc3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        format!(
            "no ExpressRoute circuit named `dc3` in {file} (circuits: dc1-circuit, dc2-circuit)"
        )
    );
}

/// The coexistence topology with a Global Reach link between the circuits,
/// with what the BGP model predicts every speaker learns.
fn with_global_reach() -> Snapshot {
    let path = format!("{}/tests/golden/{FILE}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "virtual_network_gateways:\n",
        "express_route_circuit_connections:\n  - {name: dc1-dc2, circuit: dc1-circuit, peer_circuit: dc2-circuit, address_prefix_ipv4: 192.168.8.0/29}\nvirtual_network_gateways:\n",
    );
    let topo = parse_str(FILE, &text)
        .unwrap_or_else(|d| panic!("{d:#?}"))
        .topology;
    assert_eq!(topo.global_reach.len(), 1);
    predicted(topo)
}

#[test]
fn global_reach_joins_the_circuits_at_microsofts_edge_without_the_vnet() {
    let s = with_global_reach();
    // The fabric still carries nothing from one circuit to another: Global
    // Reach traffic never enters it.
    for (from, src, dst) in [
        ("dc1-to-hub-ergw-0", DC1_HOST, DC2_HOST),
        ("dc2-to-hub-ergw-1", DC2_HOST, DC1_HOST),
    ] {
        let port = nic(&s, from);
        assert_eq!(
            decide(&s, &Stateless, port, &tcp(src, dst, 3000), 0),
            Verdict::dropped(DropReason::CircuitTransit, port),
            "{from}"
        );
    }
    // dc1 still reaches the spoke through the gateway.
    let from = nic(&s, "dc1-to-hub-ergw-0");
    assert_eq!(
        decide(&s, &Stateless, from, &tcp(DC1_HOST, VM1, 3000), 0),
        Verdict::Deliver(nic(&s, "vm1"))
    );
    // `trace` from a dc1 host: customer edge, dc1's edge router, dc2's,
    // dc2's customer edge; and the reply the same way back.
    let query = diagnostics::trace_query(&s, "dc1-host", "dc2-host", None, None).unwrap();
    let found = diagnostics::trace::trace(&s, &query).unwrap();
    assert_eq!(found.verdict, "Allow", "{found:#?}");
    assert_eq!(found.delivered_to.as_deref(), Some("site dc2"));
    let hops: Vec<(&str, Option<&str>)> = found
        .hops
        .iter()
        .map(|h| (h.nic.as_str(), h.to.as_deref()))
        .collect();
    assert_eq!(
        hops,
        [
            ("dc1", Some("dc1-circuit-msee-primary")),
            ("dc1-circuit-msee-primary", Some("dc2-circuit-msee-primary")),
            ("dc2-circuit-msee-primary", Some("site dc2")),
        ]
    );
    assert_eq!(found.path, ["dc1-circuit", "dc2-circuit"]);
    assert!(found.hops.iter().all(|h| h.gateway.is_none()));
    let reply = found.reply.as_ref().expect("a reply");
    assert_eq!(reply.delivered_to.as_deref(), Some("site dc1"));
    assert_eq!(reply.path, ["dc2-circuit", "dc1-circuit"]);
    // Bounded by the circuits, not by a gateway's SKU.
    let bottleneck = found.bottleneck.as_ref().expect("a bottleneck");
    assert!(bottleneck.what.contains("circuit"), "{bottleneck:?}");
    // dc1's primary edge router holds dc2's range from dc2's, over the /29.
    let rows = circuit_rows(&s, "dc1-circuit", None);
    assert!(
        rows.contains(&(
            "172.21.0.0/16".to_string(),
            "192.168.8.2".to_string(),
            "65030".to_string()
        )),
        "{rows:?}"
    );
    let rows = circuit_rows(&s, "dc2-circuit", Some("secondary"));
    assert!(
        rows.contains(&(
            "172.20.0.0/16".to_string(),
            "192.168.8.5".to_string(),
            "65020".to_string()
        )),
        "{rows:?}"
    );
    // Without the link, dc1's router has no route to dc2: the ExpressRoute
    // gateway passes nothing from one circuit to another, and the VPN
    // gateway never learns dc2's range (no Route Server joins the two), so
    // the packet never leaves dc1, as the BGP model predicts what dc1's
    // router learns.
    let plain = predicted(topology());
    let query = diagnostics::trace_query(&plain, "dc1-host", "dc2-host", None, None).unwrap();
    let found = diagnostics::trace::trace(&plain, &query).unwrap();
    assert_eq!(found.verdict, "Deny", "{found:#?}");
    assert_eq!(
        (found.reason.as_deref(), found.at.as_deref()),
        (Some("route_none"), Some("site dc1"))
    );
    assert!(found.path.is_empty(), "{found:#?}");
    assert_eq!(found.hops.len(), 1);
    assert_eq!(found.hops[0].nic, "dc1");
    // What it does reach, it reaches by the route its router prefers: the
    // spoke by the VPN, whose AS path (65515) is shorter than the
    // circuit's (12076 65515), as BGP chooses.
    let query = diagnostics::trace_query(&plain, "dc1-host", "vm1", None, None).unwrap();
    let found = diagnostics::trace::trace(&plain, &query).unwrap();
    assert_eq!(found.verdict, "Allow", "{found:#?}");
    assert_eq!(found.path.first().map(String::as_str), Some("hub-vpngw"));
}

/// `text` with spoke1's subnet under a route table that sends 0.0.0.0/0 to
/// VirtualNetworkGateway (forced tunnelling by user route).
fn with_default_to_gateway(text: &str, subnet_line: &str) -> Topology {
    let text = text
        .replacen(
            subnet_line,
            &format!("{}, route_table: to-gateway}}", subnet_line.trim_end_matches('}')),
            1,
        )
        .replacen(
            "peerings:",
            "route_tables:\n  - name: to-gateway\n    routes:\n      - {name: default, address_prefix: 0.0.0.0/0, next_hop_type: VirtualNetworkGateway}\npeerings:",
            1,
        );
    parse_str("forced.yaml", &text)
        .unwrap_or_else(|d| panic!("{d:#?}"))
        .topology
}

#[test]
fn a_user_route_to_virtual_network_gateway_takes_the_vpn_gateway_never_expressroute() {
    let internet = [203, 0, 113, 50];
    // Both gateways in the hub: the user route leads into the VPN
    // gateway, whose table has no row for the address.
    let path = format!("{}/tests/golden/{FILE}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let topo = with_default_to_gateway(
        &text,
        "      - {name: app, address_prefixes: [10.1.1.0/24]}",
    );
    let s = Snapshot::compile_learned(topo, learned(), 1);
    let idx = nic(&s, "vm1");
    assert_eq!(
        decide(&s, &Stateless, idx, &tcp(VM1, internet, 4000), 0),
        Verdict::dropped(DropReason::GatewayNoRoute, idx)
    );
    // An ExpressRoute gateway alone: the user route leads nowhere, as in
    // a VNet without a gateway.
    let text = std::fs::read_to_string(format!(
        "{}/config/expressroute.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let topo = with_default_to_gateway(
        &text.replace(
            "      - name: app\n        address_prefixes: [10.1.1.0/24]",
            "      - {name: app, address_prefixes: [10.1.1.0/24]}",
        ),
        "      - {name: app, address_prefixes: [10.1.1.0/24]}",
    );
    let s = Snapshot::compile_learned(topo, LearnedRoutes::default(), 1);
    let idx = nic(&s, "vm1");
    assert_eq!(
        decide(&s, &Stateless, idx, &tcp(VM1, internet, 4000), 0),
        Verdict::dropped(DropReason::NextHopGateway, idx)
    );
}
