//! Golden gateway routes: what a VPN gateway adds to the effective routes
//! of the subnets it serves, with routes learned over BGP given as input
//! (as the daemon's speakers would report them), and what it advertises.
//! The expected rows were worked out by hand from `docs/src/azure-behaviour.md`
//! ("VPN gateways and BGP", §1.4 route selection), not produced by the code
//! under test.

use ipnet::IpNet;
use vnetd::diagnostics;
use vnetd::policy::gateways::{BgpOrigin, LearnedRoute, LearnedRoutes, MAX_LEARNED_PREFIXES};
use vnetd::policy::tags::virtual_network_tag;
use vnetd::snapshot::Snapshot;
use vnetd::topology::{parse_str, SubnetRef, Topology, GATEWAY_SUBNET};

/// (source, state, addressPrefix, nextHopType, nextHopIpAddress)
type Row<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);

const GW: &str = "VirtualNetworkGateway";
const BRANCH_PEER: &str = "192.168.255.1";

fn load(file: &str) -> Topology {
    let path = format!("{}/tests/golden/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    parse_str(file, &text)
        .unwrap_or_else(|d| panic!("{file}: {d:#?}"))
        .topology
}

fn learned_route(prefix: &str, peer: &str) -> LearnedRoute {
    LearnedRoute {
        prefix: prefix.parse().unwrap(),
        peer: peer.parse().unwrap(),
        next_hop: peer.parse().unwrap(),
        as_path: vec![65050],
        origin: BgpOrigin::Igp,
    }
}

/// What each instance of `gateway` learned from the branch.
fn learned(gateway: &str, per_instance: &[&[&str]]) -> LearnedRoutes {
    let mut routes = LearnedRoutes::default();
    routes.gateways.insert(
        gateway.to_string(),
        per_instance
            .iter()
            .map(|prefixes| {
                prefixes
                    .iter()
                    .map(|p| learned_route(p, BRANCH_PEER))
                    .collect()
            })
            .collect(),
    );
    routes
}

/// What instance 0 of gateway `gw` advertises to `peer`, as the BGP model
/// predicts it from the file: (prefix, AS path), by prefix.
fn advertised_to(topo: &Topology, gw: usize, peer: &str) -> Vec<(String, Vec<u32>)> {
    let mut out: Vec<(String, Vec<u32>)> = vnetd::policy::bgp::BgpModel::of(topo)
        .advertised(
            vnetd::topology::GatewayIdx::new(gw),
            0,
            peer.parse().unwrap(),
        )
        .expect("a BGP peer of the gateway")
        .into_iter()
        .map(|r| (r.prefix.to_string(), r.as_path))
        .collect();
    out.sort();
    out
}

fn rows_of(snap: &Snapshot, nic: &str) -> Vec<(String, String, String, String, String)> {
    let idx = snap.port_by_name(nic).expect("NIC");
    diagnostics::routes(snap, idx)
        .value
        .into_iter()
        .map(|r| {
            (
                r.source.to_string(),
                r.state.to_string(),
                r.address_prefix.join(","),
                r.next_hop_type.to_string(),
                r.next_hop_ip_address.join(","),
            )
        })
        .collect()
}

fn assert_rows(snap: &Snapshot, nic: &str, want: &[Row]) {
    let got = rows_of(snap, nic);
    let want: Vec<(String, String, String, String, String)> = want
        .iter()
        .map(|(a, b, c, d, e)| {
            (
                a.to_string(),
                b.to_string(),
                c.to_string(),
                d.to_string(),
                e.to_string(),
            )
        })
        .collect();
    assert_eq!(got, want, "effective routes of {nic}");
}

fn next_hop(snap: &Snapshot, nic: &str, dst: &str) -> (String, String) {
    let idx = snap.port_by_name(nic).expect("NIC");
    let hop = diagnostics::next_hop(snap, idx, dst.parse().unwrap());
    (hop.next_hop_type.to_string(), hop.next_hop_ip_address)
}

#[test]
fn transit_spoke_learns_the_branch_and_a_user_route_beats_bgp() {
    let snap = Snapshot::compile_learned(
        load("30-gateway-transit.yaml"),
        learned(
            "hub-vpngw",
            &[&[
                "192.168.0.0/16",
                "172.20.0.0/16",
                "10.1.1.0/24",
                "10.0.0.0/16",
            ]],
        ),
        0,
    );
    let ip = "10.0.255.254";
    assert_rows(
        &snap,
        "vm1",
        &[
            ("Default", "Active", "10.1.0.0/16", "VnetLocal", ""),
            ("Default", "Active", "10.0.0.0/16", "VNetPeering", ""),
            (GW, "Active", "198.51.100.0/24", GW, ip),
            (GW, "Active", "192.168.255.1/32", GW, ip),
            (GW, "Active", "192.168.0.0/16", GW, ip),
            // A user route of the same prefix wins.
            (GW, "Invalid", "172.20.0.0/16", GW, ip),
            // Inside the VNet's own range (10.1.1.0/24): left out, the VNet
            // route wins although the BGP route is longer. 10.0.0.0/16,
            // identical to the hub's range, was refused by the gateway.
            ("Default", "Active", "0.0.0.0/0", "Internet", ""),
            ("Default", "Active", "10.0.0.0/8", "None", ""),
            ("Default", "Active", "100.64.0.0/10", "None", ""),
            ("Default", "Active", "172.16.0.0/12", "None", ""),
            // Equal prefix: the gateway route beats the system route.
            ("Default", "Invalid", "192.168.0.0/16", "None", ""),
            ("User", "Active", "172.20.0.0/16", "None", ""),
        ],
    );
    assert_eq!(
        next_hop(&snap, "vm1", "192.168.1.10"),
        (GW.to_string(), ip.to_string())
    );
    assert_eq!(
        next_hop(&snap, "vm1", "10.1.1.9"),
        ("VnetLocal".to_string(), String::new())
    );
    assert_eq!(
        next_hop(&snap, "vm1", "172.20.1.1"),
        ("None".to_string(), String::new())
    );
    // The hub's own subnets: the spoke range is a peering route there, so
    // the learned route inside it is left out too.
    let hub = rows_of(&snap, "hub-vm");
    assert!(!hub.iter().any(|r| r.2 == "10.1.1.0/24"));
    assert!(hub.contains(&(
        GW.into(),
        "Active".into(),
        "172.20.0.0/16".into(),
        GW.into(),
        ip.into()
    )));
}

#[test]
fn propagation_off_keeps_every_gateway_route_out() {
    let snap = Snapshot::compile_learned(
        load("30-gateway-transit.yaml"),
        learned("hub-vpngw", &[&["192.168.0.0/16"]]),
        0,
    );
    assert_rows(
        &snap,
        "vm2",
        &[
            ("Default", "Active", "10.2.0.0/16", "VnetLocal", ""),
            ("Default", "Active", "10.0.0.0/16", "VNetPeering", ""),
            ("Default", "Active", "0.0.0.0/0", "Internet", ""),
            ("Default", "Active", "10.0.0.0/8", "None", ""),
            ("Default", "Active", "100.64.0.0/10", "None", ""),
            ("Default", "Active", "172.16.0.0/12", "None", ""),
            ("Default", "Active", "192.168.0.0/16", "None", ""),
        ],
    );
    assert_eq!(
        next_hop(&snap, "vm2", "192.168.1.10"),
        ("None".to_string(), String::new())
    );
}

#[test]
fn active_active_lists_the_instances_that_carry_each_route() {
    let snap = Snapshot::compile_learned(
        load("31-gateway-active-active.yaml"),
        learned(
            "hub-vpngw",
            &[&["192.168.0.0/16"], &["192.168.0.0/16", "172.30.0.0/16"]],
        ),
        0,
    );
    let both = "10.0.255.228,10.0.255.229";
    let rows = rows_of(&snap, "vm1");
    let gateway_rows: Vec<_> = rows.iter().filter(|r| r.0 == GW).collect();
    assert_eq!(
        gateway_rows,
        [
            &(
                GW.into(),
                "Active".into(),
                "198.51.100.0/24".into(),
                GW.into(),
                both.into()
            ),
            &(
                GW.into(),
                "Active".into(),
                "192.168.255.1/32".into(),
                GW.into(),
                both.into()
            ),
            &(
                GW.into(),
                "Active".into(),
                "192.168.0.0/16".into(),
                GW.into(),
                both.into()
            ),
            // Only the second instance's session learned it.
            &(
                GW.into(),
                "Active".into(),
                "172.30.0.0/16".into(),
                GW.into(),
                "10.0.255.229".into()
            ),
        ]
    );
    let gw = &snap.topology.gateways[vnetd::topology::GatewayIdx::new(0)];
    let addresses: Vec<String> = gw.instances.iter().map(|a| a.to_string()).collect();
    assert_eq!(addresses, ["10.0.255.228", "10.0.255.229"]);
}

#[test]
fn a_session_over_four_thousand_prefixes_is_dropped_whole() {
    let many = |n: usize| -> Vec<String> {
        (0..n)
            .map(|i| format!("172.{}.{}.0/24", 16 + i / 256, i % 256))
            .collect()
    };
    let count_learned = |n: usize| {
        let prefixes = many(n);
        let refs: Vec<&str> = prefixes.iter().map(String::as_str).collect();
        let snap = Snapshot::compile_learned(
            load("30-gateway-transit.yaml"),
            learned("hub-vpngw", &[&refs]),
            0,
        );
        rows_of(&snap, "hub-vm")
            .iter()
            .filter(|r| r.0 == GW && r.2.starts_with("172."))
            .count()
    };
    assert_eq!(count_learned(MAX_LEARNED_PREFIXES), MAX_LEARNED_PREFIXES);
    assert_eq!(count_learned(MAX_LEARNED_PREFIXES + 1), 0);
}

#[test]
fn a_prefix_identical_to_a_vnet_is_refused_but_a_superset_is_kept() {
    let snap = Snapshot::compile_learned(
        load("30-gateway-transit.yaml"),
        learned("hub-vpngw", &[&["10.2.0.0/16", "10.0.0.0/8"]]),
        0,
    );
    let rows = rows_of(&snap, "hub-vm");
    assert!(!rows.iter().any(|r| r.0 == GW && r.2 == "10.2.0.0/16"));
    // The superset beats the system None route of the same prefix, and
    // the VNet and peering ranges inside it still win by their length.
    assert!(rows.contains(&(
        GW.into(),
        "Active".into(),
        "10.0.0.0/8".into(),
        GW.into(),
        "10.0.255.254".into()
    )));
    assert_eq!(
        next_hop(&snap, "hub-vm", "10.9.0.1"),
        (GW.to_string(), "10.0.255.254".to_string())
    );
    assert_eq!(
        next_hop(&snap, "hub-vm", "10.2.1.4"),
        ("VNetPeering".to_string(), String::new())
    );
}

#[test]
fn the_gateway_advertises_hub_and_spokes_never_a_default_route() {
    // The branch's own routes never go back to it.
    let topo = load("30-gateway-transit.yaml");
    assert_eq!(
        advertised_to(&topo, 0, BRANCH_PEER),
        [
            ("10.0.0.0/16".to_string(), vec![65515]),
            ("10.1.0.0/16".to_string(), vec![65515]),
            ("10.2.0.0/16".to_string(), vec![65515]),
        ]
    );
}

#[test]
fn the_virtual_network_tag_gains_the_connected_on_premises_ranges() {
    let topo = load("30-gateway-transit.yaml");
    let vm1 = topo.nics[topo.nic_by_name("vm1").unwrap()].subnet;
    let learned = vnetd::policy::bgp::expected_learned(&topo);
    let tag: Vec<String> = virtual_network_tag(&topo, &learned, vm1)
        .iter()
        .map(IpNet::to_string)
        .collect();
    assert_eq!(
        tag,
        [
            "10.1.0.0/16",
            "198.51.100.0/24",
            "192.168.0.0/16",
            "172.20.0.0/16",
            "10.0.0.0/16",
            "168.63.129.16/32",
        ]
    );
}

#[test]
fn vnet2vnet_routes_the_peer_gateways_vnets_and_gateway_subnet_udrs_apply() {
    let snap = Snapshot::compile(load("32-vnet2vnet.yaml"), 0);
    // The on-premises VNet's gateway serves only its VNet; the hub's serves
    // the hub and the spoke, which both appear on the other side.
    let onprem: Vec<_> = rows_of(&snap, "onprem-vm")
        .into_iter()
        .filter(|r| r.0 == GW)
        .collect();
    let ip = "192.168.255.30";
    assert_eq!(
        onprem,
        [
            (
                GW.into(),
                "Active".into(),
                "10.5.0.0/16".into(),
                GW.into(),
                ip.into()
            ),
            (
                GW.into(),
                "Active".into(),
                "10.6.0.0/16".into(),
                GW.into(),
                ip.into()
            ),
        ]
    );
    assert_eq!(
        next_hop(&snap, "fw1", "192.168.1.4"),
        (GW.to_string(), "10.5.255.30".to_string())
    );
    // The spoke turned propagation off and sends everything to the firewall.
    assert_eq!(
        next_hop(&snap, "spoke-vm", "192.168.1.4"),
        ("VirtualAppliance".to_string(), "10.5.1.4".to_string())
    );
    // Traffic arriving at the hub's gateway follows GatewaySubnet's routes:
    // the spoke's range goes through the firewall.
    let topo = &snap.topology;
    let hub = topo.vnets.position(|v| v.name == "hub").unwrap();
    let gateway_subnet = SubnetRef {
        vnet: hub,
        subnet: topo.vnets[hub]
            .subnets
            .position(|s| s.name == GATEWAY_SUBNET)
            .unwrap(),
    };
    let tables = snap.subnet_tables(gateway_subnet).unwrap();
    let row = &tables.routes[tables.decide("10.6.1.4".parse().unwrap()).unwrap()];
    assert_eq!(row.next_hop_type.as_str(), "VirtualAppliance");
    assert_eq!(row.next_hop_ip, Some("10.5.1.4".parse().unwrap()));
}

#[test]
fn routes_of_any_subnet_through_the_binary_gateway_subnet_included() {
    let file = format!(
        "{}/tests/golden/32-vnet2vnet.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .args([
            "routes",
            "--subnet",
            "hub/GatewaySubnet",
            "--json",
            "--config",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows: Vec<(String, String, String, String)> = json["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["source"].as_str().unwrap().to_string(),
                r["state"].as_str().unwrap().to_string(),
                r["addressPrefix"][0].as_str().unwrap().to_string(),
                r["nextHopType"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let row = |a: &str, b: &str, c: &str, d: &str| (a.into(), b.into(), c.into(), d.into());
    assert_eq!(
        rows,
        [
            row("Default", "Active", "10.5.0.0/16", "VnetLocal"),
            row("Default", "Invalid", "10.6.0.0/16", "VNetPeering"),
            row(GW, "Active", "192.168.0.0/16", GW),
            row("Default", "Active", "0.0.0.0/0", "Internet"),
            row("Default", "Active", "10.0.0.0/8", "None"),
            row("Default", "Active", "100.64.0.0/10", "None"),
            row("Default", "Active", "172.16.0.0/12", "None"),
            row("Default", "Invalid", "192.168.0.0/16", "None"),
            row("User", "Active", "10.6.0.0/16", "VirtualAppliance"),
        ]
    );
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .args(["routes", "--subnet", "hub/nope", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no subnet `hub/nope`"));
}

#[test]
fn routes_learned_from_one_site_are_passed_to_another_with_the_gateway_prepended() {
    let text = std::fs::read_to_string(format!(
        "{}/tests/golden/30-gateway-transit.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
        + "
  - name: branch2-lng
    site: branch2
    gateway_address: 203.0.113.20
    bgp_settings: {asn: 65060, bgp_peering_address: 192.168.254.1}
";
    let text = text
        .replace(
            "virtual_network_gateways:",
            "  - name: branch2
    address_space: [172.30.0.0/16]
    router: {netns: branch2, asn: 65060, bgp_speaker: frr}
virtual_network_gateways:",
        )
        .replace(
            "virtual_network_gateway_connections:\n",
            "virtual_network_gateway_connections:
  - {name: hub-to-branch2, type: IPsec, virtual_network_gateway: hub-vpngw, local_network_gateway: branch2-lng, bgp_enabled: true}
",
        );
    // The local network gateways are listed after the connections in the
    // file: move the appended one up among them.
    let (head, lng2) = text.split_at(text.find("  - name: branch2-lng").unwrap());
    let text = head.replace(
        "virtual_network_gateway_connections:",
        &format!("{lng2}virtual_network_gateway_connections:"),
    );
    let topo = parse_str("two-sites.yaml", &text)
        .unwrap_or_else(|e| panic!("{e:#?}\n{text}"))
        .topology;
    let vnets = [
        ("10.0.0.0/16".to_string(), vec![65515]),
        ("10.1.0.0/16".to_string(), vec![65515]),
        ("10.2.0.0/16".to_string(), vec![65515]),
    ];
    let sorted = |mut v: Vec<(String, Vec<u32>)>| {
        v.sort();
        v
    };
    // To branch2: what branch1 announces and branch1's BGP address, never a
    // route back to where it came from.
    let mut want = vnets.to_vec();
    want.push(("192.168.0.0/16".to_string(), vec![65515, 65050]));
    want.push(("172.20.0.0/16".to_string(), vec![65515, 65050]));
    want.push((format!("{BRANCH_PEER}/32"), vec![65515]));
    assert_eq!(advertised_to(&topo, 0, "192.168.254.1"), sorted(want));
    let mut want = vnets.to_vec();
    want.push(("172.30.0.0/16".to_string(), vec![65515, 65060]));
    want.push(("192.168.254.1/32".to_string(), vec![65515]));
    assert_eq!(advertised_to(&topo, 0, BRANCH_PEER), sorted(want));
}
