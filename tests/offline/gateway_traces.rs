//! Golden traces of packets through gateways: a topology with learned
//! routes given as input, a packet built byte by byte, the port it comes
//! from, and the exact verdict. Worked out by hand from
//! `docs/src/azure-behaviour.md` §6: spokes reach a site through the hub's
//! gateway (gateway transit), what arrives from a site enters at the
//! gateway and follows GatewaySubnet's routes, an active-active gateway
//! spreads flows over its instances, and Vnet2Vnet hands packets to the
//! peer gateway; `vnetd trace` names every gateway of a Vnet2Vnet chain.

use etherparse::PacketBuilder;
use std::collections::HashSet;
use vnetd::dataplane::{decide, DropReason, Stateless, Verdict};
use vnetd::plan::PortIdx;
use vnetd::policy::gateways::{BgpOrigin, LearnedRoute, LearnedRoutes};
use vnetd::snapshot::Snapshot;
use vnetd::topology::parse_str;

/// `file` under `tests/golden/`, or `config/` for the example labs.
fn load(file: &str, learned: LearnedRoutes) -> Snapshot {
    let dir = if file.contains('/') {
        ""
    } else {
        "tests/golden/"
    };
    let path = format!("{}/{dir}{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let topo = parse_str(file, &text).unwrap().topology;
    Snapshot::compile_learned(topo, learned, 1)
}

/// What each instance of `gateway` learned from the branch at 192.168.255.1.
fn learned(gateway: &str, per_instance: &[&[&str]]) -> LearnedRoutes {
    let mut routes = LearnedRoutes::default();
    let peer = "192.168.255.1".parse().unwrap();
    routes.gateways.insert(
        gateway.into(),
        per_instance
            .iter()
            .map(|ps| {
                ps.iter()
                    .map(|p| LearnedRoute {
                        prefix: p.parse().unwrap(),
                        peer,
                        next_hop: peer,
                        as_path: vec![65050],
                        origin: BgpOrigin::Igp,
                    })
                    .collect()
            })
            .collect(),
    );
    routes
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

const VM1: [u8; 4] = [10, 1, 1, 4];
const VM2: [u8; 4] = [10, 2, 1, 4];
const HUB_VM: [u8; 4] = [10, 0, 1, 4];
const BRANCH_HOST: [u8; 4] = [192, 168, 1, 10];
const BRANCH_PEER: [u8; 4] = [192, 168, 255, 1];
const GW_PEER: [u8; 4] = [10, 0, 255, 254];

#[test]
fn spokes_reach_the_branch_through_the_hub_gateway() {
    let s = load(
        "config/hybrid.yaml",
        learned("hub-vpngw", &[&["192.168.0.0/16"]]),
    );
    let tunnel = nic(&s, "branch1-to-hub-vpngw-0");
    let go = |from: &str, p: Vec<u8>| decide(&s, &Stateless, nic(&s, from), &p, 0);
    // Transit spoke and hub: to the site's tunnel.
    assert_eq!(
        go("vm1", tcp(VM1, BRANCH_HOST, 1000)),
        Verdict::Deliver(tunnel)
    );
    assert_eq!(
        go("hub-vm", tcp(HUB_VM, BRANCH_HOST, 1000)),
        Verdict::Deliver(tunnel)
    );
    // Propagation off: the system None route for 192.168.0.0/16 drops it.
    assert_eq!(
        go("vm2", tcp(VM2, BRANCH_HOST, 1000)),
        Verdict::dropped(DropReason::RouteNone, nic(&s, "vm2"))
    );
    // From the site: in at the gateway, on by GatewaySubnet's routes, to a
    // transit spoke without `allow_forwarded_traffic` on its link.
    let from_tunnel = |p: Vec<u8>| decide(&s, &Stateless, tunnel, &p, 0);
    assert_eq!(
        from_tunnel(tcp(BRANCH_HOST, VM1, 2000)),
        Verdict::Deliver(nic(&s, "vm1"))
    );
    assert_eq!(
        from_tunnel(tcp(BRANCH_HOST, HUB_VM, 2000)),
        Verdict::Deliver(nic(&s, "hub-vm"))
    );
    // The BGP session: the router to the instance and back.
    assert_eq!(
        from_tunnel(tcp(BRANCH_PEER, GW_PEER, 179)),
        Verdict::Deliver(nic(&s, "hub-vpngw-0"))
    );
    assert_eq!(
        go("hub-vpngw-0", tcp(GW_PEER, BRANCH_PEER, 179)),
        Verdict::Deliver(tunnel)
    );
    // A destination nobody routes: GatewaySubnet's system None route.
    assert_eq!(
        from_tunnel(tcp(BRANCH_HOST, [172, 31, 0, 1], 2000)),
        Verdict::dropped(DropReason::RouteNone, tunnel)
    );
}

#[test]
fn a_withdrawn_prefix_leaves_forwarding_with_the_routes() {
    let s = load("config/hybrid.yaml", learned("hub-vpngw", &[&[]]));
    assert_eq!(
        decide(
            &s,
            &Stateless,
            nic(&s, "vm1"),
            &tcp(VM1, BRANCH_HOST, 1000),
            0
        ),
        Verdict::dropped(DropReason::RouteNone, nic(&s, "vm1"))
    );
}

#[test]
fn active_active_spreads_flows_over_both_instances() {
    let s = load(
        "31-gateway-active-active.yaml",
        learned(
            "hub-vpngw",
            &[&["192.168.0.0/16"], &["192.168.0.0/16", "172.30.0.0/16"]],
        ),
    );
    let t0 = nic(&s, "branch1-to-hub-vpngw-0");
    let t1 = nic(&s, "branch1-to-hub-vpngw-1");
    let mut seen = HashSet::new();
    for port in 1000..1064 {
        match decide(
            &s,
            &Stateless,
            nic(&s, "vm1"),
            &tcp(VM1, BRANCH_HOST, port),
            0,
        ) {
            Verdict::Deliver(t) => {
                assert!(t == t0 || t == t1);
                seen.insert(t);
                // Every packet of a flow takes the same instance.
                let again = decide(
                    &s,
                    &Stateless,
                    nic(&s, "vm1"),
                    &tcp(VM1, BRANCH_HOST, port),
                    0,
                );
                assert_eq!(again, Verdict::Deliver(t));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(seen.len(), 2, "64 flows all took one instance");
    // Only the second instance learned 172.30.0.0/16.
    for port in 1000..1016 {
        assert_eq!(
            decide(
                &s,
                &Stateless,
                nic(&s, "vm1"),
                &tcp(VM1, [172, 30, 0, 9], port),
                0
            ),
            Verdict::Deliver(t1)
        );
    }
    // Each instance's own session leaves by its own tunnel.
    for (i, tunnel) in [(0u8, t0), (1, t1)] {
        let addr = [10, 0, 255, 228 + i];
        assert_eq!(
            decide(
                &s,
                &Stateless,
                nic(&s, &format!("hub-vpngw-{i}")),
                &tcp(addr, BRANCH_PEER, 179),
                0
            ),
            Verdict::Deliver(tunnel)
        );
    }
}

#[test]
fn vnet2vnet_through_the_hub_firewall() {
    let s = load("32-vnet2vnet.yaml", LearnedRoutes::default());
    let go = |from: &str, src: [u8; 4], dst: [u8; 4]| {
        decide(&s, &Stateless, nic(&s, from), &tcp(src, dst, 3000), 0)
    };
    let (onprem, spoke, fw) = ([192, 168, 1, 4], [10, 6, 1, 4], [10, 5, 1, 4]);
    // On-premises to the spoke: to the hub's gateway, whose GatewaySubnet
    // sends the spoke's range to the firewall...
    assert_eq!(
        go("onprem-vm", onprem, spoke),
        Verdict::Deliver(nic(&s, "fw1"))
    );
    // ...which hands it on to the spoke.
    assert_eq!(
        go("fw1", onprem, spoke),
        Verdict::Deliver(nic(&s, "spoke-vm"))
    );
    // Back: the spoke's 0/0 goes to the firewall, the firewall's subnet
    // routes on-premises to the hub's gateway, which hands it to the
    // on-premises gateway, whose GatewaySubnet delivers it.
    assert_eq!(
        go("spoke-vm", spoke, onprem),
        Verdict::Deliver(nic(&s, "fw1"))
    );
    assert_eq!(
        go("fw1", spoke, onprem),
        Verdict::Deliver(nic(&s, "onprem-vm"))
    );
    // The firewall itself reaches on-premises too.
    assert_eq!(
        go("fw1", fw, onprem),
        Verdict::Deliver(nic(&s, "onprem-vm"))
    );
}

/// The vnetd binary, run from the crate's directory.
fn vnetd_cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

/// A trace through a Vnet2Vnet chain names every gateway crossed: on the
/// triangle the direct connection carries the packet; once gw-a and gw-c
/// lose theirs, BGP transit carries it through gw-b, both ways, and the
/// JSON lists the gateways handed on to.
#[test]
fn a_trace_names_every_gateway_of_a_vnet2vnet_chain() {
    let triangle = std::fs::read_to_string(format!(
        "{}/config/vnet2vnet-triangle.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let failover: String = triangle
        .lines()
        .filter(|l| !l.contains("name: a-to-c") && !l.contains("name: c-to-a"))
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let failover_path = dir.path().join("failover.yaml");
    std::fs::write(&failover_path, failover).unwrap();
    let path_line = |config: &str, from: &str, to: &str| -> String {
        let out = vnetd_cli(&["trace", "--config", config, "--from", from, "--to", to]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.starts_with("Path: "))
            .unwrap_or_default()
            .to_string()
    };
    let failover = failover_path.to_str().unwrap();
    let cases = [
        (
            "config/vnet2vnet-triangle.yaml",
            "spoke-vm",
            "onprem-vm",
            "Path: spoke-vm > gw-a > gw-c",
        ),
        (
            failover,
            "spoke-vm",
            "onprem-vm",
            "Path: spoke-vm > gw-a > gw-b > gw-c",
        ),
        (
            failover,
            "onprem-vm",
            "spoke-vm",
            "Path: onprem-vm > gw-c > gw-b > gw-a > spoke-vm",
        ),
        (
            failover,
            "vm-a",
            "vm-c",
            "Path: vm-a > gw-a > gw-b > gw-c > vm-c",
        ),
    ];
    for (config, from, to, want) in cases {
        assert_eq!(
            path_line(config, from, to),
            want,
            "{config}: {from} -> {to}"
        );
    }
    let out = vnetd_cli(&[
        "trace",
        "--config",
        failover,
        "--from",
        "spoke-vm",
        "--to",
        "onprem-vm",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trace: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = &trace["hops"][0];
    assert_eq!(first["gateway"], "gw-a", "{trace}");
    assert_eq!(
        first["handed_on"],
        serde_json::json!(["gw-b", "gw-c"]),
        "{trace}"
    );
}
