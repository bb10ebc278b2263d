//! An ExpressRoute lab end to end, as root, with real daemons: a hub with
//! an ExpressRoute gateway (two instances running gobgpd), a transit spoke,
//! and a circuit to a datacenter whose router (the customer edge) runs
//! BIRD. The edge's sessions come up on both links, each side learns the
//! other's ranges, and real pings cross the circuit both ways.

use crate::common;

use common::{in_netns, ping, wait_for, Lab};
use std::time::{Duration, Instant};
use vnetd::diagnostics::{self, circuit, gateway};
use vnetd::snapshot::Snapshot;

const DC_HOST: &str = "172.20.1.10";
const VM1: &str = "10.1.1.4";
const HUB_VM: &str = "10.0.1.4";

fn expressroute_lab(prefix: &str) -> String {
    format!(
        "
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    location: westeurope
    subnets:
      - {{name: default, address_prefixes: [10.0.1.0/24]}}
      - {{name: GatewaySubnet, address_prefixes: [10.0.255.224/27]}}
  - name: spoke1
    address_space: [10.1.0.0/16]
    location: westeurope
    subnets:
      - {{name: app, address_prefixes: [10.1.1.0/24]}}
peerings:
  - {{name: hub-to-spoke1, virtual_network: hub, remote_virtual_network: spoke1, allow_gateway_transit: true}}
  - {{name: spoke1-to-hub, virtual_network: spoke1, remote_virtual_network: hub, use_remote_gateways: true}}
network_interfaces:
  - {{name: hub-vm, subnet: hub/default, private_ip_address: {HUB_VM}, netns: {prefix}-hub-vm}}
  - {{name: vm1, subnet: spoke1/app, private_ip_address: {VM1}, netns: {prefix}-vm1}}
on_premises_sites:
  - name: dc1
    address_space: [172.20.0.0/16]
    router: {{netns: {prefix}-dc1, asn: 65020, bgp_speaker: bird}}
    hosts:
      - {{name: dc-host, private_ip_address: {DC_HOST}, netns: {prefix}-dc-host}}
express_route_circuits:
  - name: dc1-circuit
    site: dc1
    service_provider_name: Equinix
    peering_location: Amsterdam
    bandwidth_in_mbps: 1000
    private_peering: {{peer_asn: 65020, primary_peer_address_prefix: 172.16.0.0/30, secondary_peer_address_prefix: 172.16.0.4/30, vlan_id: 100}}
virtual_network_gateways:
  - {{name: {prefix}-ergw, virtual_network: hub, type: ExpressRoute, sku: Standard}}
virtual_network_gateway_connections:
  - {{name: hub-to-dc1, type: ExpressRoute, virtual_network_gateway: {prefix}-ergw, express_route_circuit: dc1-circuit}}
"
    )
}

/// The Active gateway rows of `nic`'s effective routes: (prefix, next hops).
fn gateway_rows(snap: &Snapshot, nic: &str) -> Vec<(String, String)> {
    let idx = snap.port_by_name(nic).unwrap();
    diagnostics::routes(snap, idx)
        .value
        .into_iter()
        .filter(|r| r.source == "VirtualNetworkGateway" && r.state == "Active")
        .map(|r| (r.address_prefix.join(","), r.next_hop_ip_address.join(",")))
        .collect()
}

/// The gateway learns the datacenter as Azure shows it: on each instance,
/// from each edge router, AS path 12076 then the customer's AS (waiting,
/// bounded, for the sessions that came up after the first routes).
fn assert_learned_from_both_edge_routers(lab: &Lab, gw: &str) {
    let from = |instance: usize| {
        let learned = lab.daemon().snapshot().learned.clone();
        let mut from: Vec<(String, Vec<u32>)> = learned
            .of(gw, instance)
            .iter()
            .filter(|r| r.prefix.to_string() == "172.20.0.0/16")
            .map(|r| (r.peer.to_string(), r.as_path.clone()))
            .collect();
        from.sort();
        from
    };
    let want = [
        ("172.16.0.2".to_string(), vec![12076, 65020]),
        ("172.16.0.6".to_string(), vec![12076, 65020]),
    ];
    wait_for(Duration::from_secs(60), || (0..2).all(|i| from(i) == want));
    for instance in 0..2 {
        assert_eq!(from(instance), want, "instance {instance}");
    }
}

#[test]
fn a_datacenter_on_a_circuit_reaches_the_hub_and_the_transit_spoke() {
    let prefix = "erb";
    let mut lab = Lab::start_exact(prefix, &expressroute_lab(prefix));
    let gw = format!("{prefix}-ergw");
    let site_row = (
        "172.20.0.0/16".to_string(),
        "10.0.255.228,10.0.255.229".to_string(),
    );
    // Both links' sessions learn the datacenter: the row leads to both
    // instances, in the hub and in the transit spoke.
    let learned = wait_for(Duration::from_secs(60), || {
        gateway_rows(&lab.daemon().snapshot(), "vm1").contains(&site_row)
    });
    let snap = lab.daemon().snapshot();
    assert!(
        learned,
        "vm1's gateway routes: {:?}",
        gateway_rows(&snap, "vm1")
    );
    assert!(gateway_rows(&snap, "hub-vm").contains(&site_row));

    // Each instance holds a session with both of Microsoft's edge
    // routers, ASN 12076, at Microsoft's address of each link's /30.
    assert_learned_from_both_edge_routers(&lab, &gw);
    let peers = lab.daemon().bgp_peer_status(&gw).unwrap();
    let mut sessions: Vec<(String, u32, String)> = peers
        .value
        .iter()
        .map(|p| (p.neighbor.clone(), p.asn, p.state.clone()))
        .collect();
    sessions.sort();
    let up = |n: &str| (n.to_string(), 12076, "Connected".to_string());
    assert_eq!(
        sessions,
        [
            up("172.16.0.2"),
            up("172.16.0.2"),
            up("172.16.0.6"),
            up("172.16.0.6")
        ]
    );

    // The customer edge learns the hub and the spoke from Microsoft's
    // edge, ASN 12076, over both links.
    let router = format!("{prefix}-dc1");
    let learned_vnets = wait_for(Duration::from_secs(30), || {
        let routes = in_netns(&router, &["ip", "route"]);
        ["10.0.0.0/16", "10.1.0.0/16"]
            .iter()
            .all(|p| routes.contains(p))
    });
    assert!(
        learned_vnets,
        "the customer edge never learned the VNets:\n{}",
        in_netns(&router, &["ip", "route"])
    );
    let ctl = format!("/run/vnetd-bgp/{router}/bird.ctl");
    let bird = in_netns(
        &router,
        &[
            "birdc", "-s", &ctl, "show", "route", "for", "10.1.0.0", "all",
        ],
    );
    assert!(bird.contains("BGP.as_path: 12076"), "{bird}");

    // Both ends of each link are shaped to the circuit's 1000 Mbps.
    for (netns, link) in [
        (router.clone(), "msee0"),
        (router.clone(), "msee1"),
        (format!("{router}-msee-primary"), "ce"),
        (format!("{router}-msee-secondary"), "ce"),
    ] {
        let qdisc = in_netns(&netns, &["tc", "qdisc", "show", "dev", link]);
        assert!(
            qdisc.contains("qdisc tbf") && qdisc.contains("rate 1Gbit"),
            "{netns} {link}: {qdisc}"
        );
    }

    // Real packets, both ways.
    let dc_host = format!("{prefix}-dc-host");
    assert!(ping(&lab.ns("hub-vm"), DC_HOST), "hub VM to the datacenter");
    assert!(
        ping(&lab.ns("vm1"), DC_HOST),
        "transit spoke to the datacenter"
    );
    assert!(ping(&dc_host, HUB_VM), "datacenter to the hub VM");
    assert!(ping(&dc_host, VM1), "datacenter to the transit spoke");

    // The circuit's route table, online: the VNets from both instances and
    // the datacenter from the customer edge of the primary link.
    let snap = lab.daemon().snapshot();
    let c = circuit::find_circuit(&snap, "dc1-circuit").unwrap();
    let rows: Vec<(String, String, String)> = circuit::route_table(&snap, c, 0)
        .value
        .into_iter()
        .map(|r| (r.network, r.next_hop, r.path))
        .collect();
    let row = |n: &str, h: &str, p: &str| (n.to_string(), h.to_string(), p.to_string());
    assert_eq!(
        rows,
        [
            row("10.0.0.0/16", "10.0.255.228", "65515"),
            row("10.0.0.0/16", "10.0.255.229", "65515"),
            row("10.1.0.0/16", "10.0.255.228", "65515"),
            row("10.1.0.0/16", "10.0.255.229", "65515"),
            row("172.20.0.0/16", "172.16.0.1", "65020"),
        ]
    );
    // The same table through the command line and the lab's control
    // socket, in az's JSON shape.
    let socket = lab.serve_control();
    let out = common::vnetd_command(&socket)
        .args([
            "circuit",
            "routes",
            "--circuit",
            "dc1-circuit",
            "--path",
            "secondary",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = json["value"].as_array().unwrap();
    assert_eq!(rows.len(), 5, "{json}");
    assert_eq!(
        rows[4],
        serde_json::json!({"network": "172.20.0.0/16", "nextHop": "172.16.0.5", "locPrf": "", "weight": 0, "path": "65020"})
    );
    // What the gateway advertises to an edge router: the VNets, from its
    // own AS.
    let g = gateway::find_gateway(&snap, &gw).unwrap();
    let advertised = gateway::advertised_routes(&snap, g, "172.16.0.2").unwrap();
    let got: Vec<(&str, &str)> = advertised
        .value
        .iter()
        .map(|r| (r.network.as_str(), r.as_path.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("10.0.0.0/16", "65515"),
            ("10.1.0.0/16", "65515"),
            ("10.0.0.0/16", "65515"),
            ("10.1.0.0/16", "65515")
        ]
    );
}

/// The datacenter reaches the hub by its circuit and by a site-to-site VPN
/// as backup: a VNet with both gateways.
fn coexistence_lab(prefix: &str) -> String {
    expressroute_lab(prefix)
        .replace(
            "virtual_network_gateways:\n",
            &format!(
                "virtual_network_gateways:\n  - {{name: {prefix}-vpngw, virtual_network: hub, type: Vpn, vpn_type: RouteBased, sku: VpnGw1, bgp_enabled: true}}\n"
            ),
        )
        .replace(
            "virtual_network_gateway_connections:\n",
            &format!(
                "local_network_gateways:\n  - {{name: dc1-lng, site: dc1, gateway_address: 203.0.113.20, bgp_settings: {{asn: 65020, bgp_peering_address: 192.168.255.1}}}}\nvirtual_network_gateway_connections:\n  - {{name: hub-to-dc1-vpn, type: IPsec, virtual_network_gateway: {prefix}-vpngw, local_network_gateway: dc1-lng, bgp_enabled: true, shared_key: lab}}\n"
            ),
        )
}

#[test]
fn expressroute_wins_over_the_backup_vpn_and_the_vpn_takes_over_when_the_circuit_fails() {
    let prefix = "erc";
    let lab = Lab::start_exact(prefix, &coexistence_lab(prefix));
    let over_expressroute = (
        "172.20.0.0/16".to_string(),
        "10.0.255.228,10.0.255.229".to_string(),
    );
    let over_vpn = ("172.20.0.0/16".to_string(), "10.0.255.254".to_string());
    // Every session up: the VPN one and both links of the circuit.
    let all_up = wait_for(Duration::from_secs(60), || {
        let up = |gw: &str, n: usize| {
            lab.daemon()
                .bgp_peer_status(gw)
                .is_ok_and(|p| p.value.len() == n && p.value.iter().all(|s| s.state == "Connected"))
        };
        up(&format!("{prefix}-vpngw"), 1) && up(&format!("{prefix}-ergw"), 4)
    });
    assert!(all_up, "not every session came up");
    // Both gateways learn the datacenter (the routes follow the sessions
    // within a poll or two): the subnets take ExpressRoute.
    let both_learned = wait_for(Duration::from_secs(20), || {
        let snap = lab.daemon().snapshot();
        let learned_by = |gw: &str| {
            let g = gateway::find_gateway(&snap, gw).unwrap();
            gateway::learned_routes(&snap, g)
                .value
                .iter()
                .any(|r| r.network == "172.20.0.0/16" && r.origin == "EBgp")
        };
        // Both instances of the ExpressRoute gateway carry it, and the VPN
        // gateway knows it too.
        learned_by(&format!("{prefix}-vpngw"))
            && gateway_rows(&snap, "vm1").contains(&over_expressroute)
    });
    let rows = gateway_rows(&lab.daemon().snapshot(), "vm1");
    assert!(both_learned, "{rows:?}");
    assert!(rows.contains(&over_expressroute), "{rows:?}");
    assert!(!rows.contains(&over_vpn), "{rows:?}");
    let dc_host = format!("{prefix}-dc-host");
    assert!(ping(&lab.ns("vm1"), DC_HOST));
    let tunnels =
        |names: &[&str]| -> u64 { names.iter().map(|n| lab.stats(n).packets_received).sum() };
    let er_tunnels = ["dc1-to-erc-ergw-0", "dc1-to-erc-ergw-1"];
    let vpn_tunnel = ["dc1-to-erc-vpngw-0"];
    let (er_before, vpn_before) = (tunnels(&er_tunnels), tunnels(&vpn_tunnel));
    assert!(ping(&lab.ns("vm1"), DC_HOST));
    assert!(
        tunnels(&er_tunnels) >= er_before + 3,
        "the circuit carried the pings"
    );

    // The circuit fails: the customer edge's sessions with Microsoft's
    // edge go down on both links.
    let router = format!("{prefix}-dc1");
    let ctl = format!("/run/vnetd-bgp/{router}/bird.ctl");
    for peer in ["peer_172_16_0_2", "peer_172_16_0_6"] {
        let out = in_netns(&router, &["birdc", "-s", &ctl, "disable", peer]);
        assert!(out.contains("disabled"), "{out}");
    }
    let failed_over = wait_for(Duration::from_secs(20), || {
        gateway_rows(&lab.daemon().snapshot(), "vm1").contains(&over_vpn)
    });
    assert!(
        failed_over,
        "the VPN never took over: {:?}",
        gateway_rows(&lab.daemon().snapshot(), "vm1")
    );
    let vpn_before = vpn_before.max(tunnels(&vpn_tunnel));
    assert!(
        ping(&lab.ns("vm1"), DC_HOST),
        "spoke to the datacenter over the VPN"
    );
    assert!(ping(&dc_host, VM1), "datacenter to the spoke over the VPN");
    assert!(
        tunnels(&vpn_tunnel) >= vpn_before + 3,
        "the VPN tunnel carried the pings"
    );

    // The circuit comes back: the traffic fails back to it.
    for peer in ["peer_172_16_0_2", "peer_172_16_0_6"] {
        let out = in_netns(&router, &["birdc", "-s", &ctl, "enable", peer]);
        assert!(out.contains("enabled"), "{out}");
    }
    let failed_back = wait_for(Duration::from_secs(60), || {
        let rows = gateway_rows(&lab.daemon().snapshot(), "vm1");
        rows.contains(&over_expressroute) && !rows.contains(&over_vpn)
    });
    assert!(
        failed_back,
        "the traffic never failed back to the circuit: {:?}",
        gateway_rows(&lab.daemon().snapshot(), "vm1")
    );
    let er_before = tunnels(&er_tunnels);
    assert!(
        ping(&lab.ns("vm1"), DC_HOST),
        "spoke to the datacenter over the circuit again"
    );
    assert!(
        ping(&dc_host, VM1),
        "datacenter to the spoke over the circuit again"
    );
    assert!(
        tunnels(&er_tunnels) >= er_before + 3,
        "the circuit carried the pings again"
    );
}

#[test]
fn a_circuit_carries_no_more_than_its_bandwidth() {
    let prefix = "erw";
    let text =
        expressroute_lab(prefix).replace("bandwidth_in_mbps: 1000", "bandwidth_in_mbps: 500");
    let lab = Lab::start_exact(prefix, &text);
    let dc_host = format!("{prefix}-dc-host");
    assert!(
        wait_for(Duration::from_secs(60), || ping(&dc_host, HUB_VM)),
        "the datacenter never reached the hub VM"
    );
    let _server = common::iperf3_server(&lab.ns("hub-vm"), HUB_VM);
    let report = in_netns(&dc_host, &["iperf3", "-c", HUB_VM, "-t", "3", "-J"]);
    let report: serde_json::Value =
        serde_json::from_str(&report).unwrap_or_else(|e| panic!("iperf3's report: {e}: {report}"));
    let bits = report["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .unwrap_or_else(|| panic!("no rate in {report}"));
    // A 500 Mbps token bucket: never more than 5 % past it, whatever the
    // machine (how close TCP gets to it depends on the machine, so that is
    // measured by scripts/bench-circuit.sh, not asserted here).
    assert!(
        bits > 0.0 && bits <= 525e6,
        "the datacenter sent at {:.1} Mbps over a 500 Mbps circuit",
        bits / 1e6
    );
}

/// A second datacenter, on a circuit of its own to the same gateway, with
/// its router running FRR; with `global_reach`, a link joins the circuits.
fn two_circuits_lab(prefix: &str, global_reach: bool) -> String {
    let reach = if global_reach {
        "express_route_circuit_connections:\n  - {name: dc1-dc2, circuit: dc1-circuit, peer_circuit: dc2-circuit, address_prefix_ipv4: 192.168.8.0/29}\n"
    } else {
        ""
    };
    expressroute_lab(prefix)
        .replace(
            "express_route_circuits:\n",
            &format!(
                "  - name: dc2\n    address_space: [172.21.0.0/16]\n    router: {{netns: {prefix}-dc2, asn: 65030, bgp_speaker: frr}}\n    hosts:\n      - {{name: dc2-host, private_ip_address: {DC2_HOST}, netns: {prefix}-dc2-host}}\nexpress_route_circuits:\n  - name: dc2-circuit\n    site: dc2\n    bandwidth_in_mbps: 500\n    private_peering: {{peer_asn: 65030, primary_peer_address_prefix: 172.16.1.0/30, secondary_peer_address_prefix: 172.16.1.4/30}}\n"
            ),
        )
        .replace(
            "virtual_network_gateways:\n",
            &format!("{reach}virtual_network_gateways:\n"),
        )
        .replace(
            "virtual_network_gateway_connections:\n",
            &format!(
                "virtual_network_gateway_connections:\n  - {{name: hub-to-dc2, type: ExpressRoute, virtual_network_gateway: {prefix}-ergw, express_route_circuit: dc2-circuit}}\n"
            ),
        )
}

const DC2_HOST: &str = "172.21.1.10";

/// Both datacenters reach the spoke over their circuits.
fn both_datacenters_reach_the_spoke(lab: &Lab, prefix: &str) {
    for host in ["dc-host", "dc2-host"] {
        let ns = format!("{prefix}-{host}");
        assert!(
            wait_for(Duration::from_secs(60), || ping(&ns, VM1)),
            "{host} never reached the spoke"
        );
    }
    assert!(ping(&lab.ns("vm1"), DC2_HOST));
}

#[test]
fn two_circuits_reach_each_other_only_through_global_reach() {
    // Without Global Reach: each datacenter reaches the VNets, never the
    // other datacenter (its router learns no route to it, and the fabric
    // would drop it as circuit_transit).
    let prefix = "ern";
    let lab = Lab::start_exact(prefix, &two_circuits_lab(prefix, false));
    both_datacenters_reach_the_spoke(&lab, prefix);
    let dc1 = format!("{prefix}-dc1");
    let routes = in_netns(&dc1, &["ip", "route"]);
    assert!(!routes.contains("172.21.0.0/16"), "{routes}");
    assert!(!ping(&format!("{prefix}-dc-host"), DC2_HOST));
    drop(lab);

    // With Global Reach: the datacenters reach each other, each router
    // learning the other's range over BGP from both of its circuit's edge
    // routers (BIRD installs one route over both links).
    let prefix = "erg";
    let lab = Lab::start_exact(prefix, &two_circuits_lab(prefix, true));
    both_datacenters_reach_the_spoke(&lab, prefix);
    let dc1 = format!("{prefix}-dc1");
    let learned = wait_for(Duration::from_secs(30), || {
        let routes = in_netns(&dc1, &["ip", "route", "show", "172.21.0.0/16"]);
        routes.contains("proto bird")
            && routes.contains("via 172.16.0.2 dev msee0")
            && routes.contains("via 172.16.0.6 dev msee1")
    });
    assert!(
        learned,
        "dc1's route to dc2 over both links: {}",
        in_netns(&dc1, &["ip", "route", "show", "172.21.0.0/16"])
    );
    assert!(ping(&format!("{prefix}-dc-host"), DC2_HOST), "dc1 to dc2");
    assert!(ping(&format!("{prefix}-dc2-host"), DC_HOST), "dc2 to dc1");
}

#[test]
fn global_reach_added_live_by_apply_joins_the_datacenters() {
    let prefix = "era";
    let lab = Lab::start_exact(prefix, &two_circuits_lab(prefix, false));
    both_datacenters_reach_the_spoke(&lab, prefix);
    let dc1_host = format!("{prefix}-dc-host");
    assert!(!ping(&dc1_host, DC2_HOST));
    // The link comes with an apply: the hybrid part is rebuilt, sessions
    // come up again, and the datacenters reach each other.
    lab.daemon()
        .apply("global-reach.yaml", &two_circuits_lab(prefix, true))
        .unwrap_or_else(|e| panic!("apply: {e:?}"));
    assert!(
        wait_for(Duration::from_secs(60), || ping(&dc1_host, DC2_HOST)),
        "dc1 never reached dc2 after the link was applied"
    );
    both_datacenters_reach_the_spoke(&lab, prefix);
    // And it goes away with the next apply.
    lab.daemon()
        .apply("no-global-reach.yaml", &two_circuits_lab(prefix, false))
        .unwrap_or_else(|e| panic!("apply: {e:?}"));
    both_datacenters_reach_the_spoke(&lab, prefix);
    assert!(!ping(&dc1_host, DC2_HOST));
}

const AVS_HOST: &str = "10.100.1.10";

/// An Azure VMware Solution private cloud: a site with a single /22 on a
/// circuit of its own, its router running FRR; with `global_reach`, a link
/// joins its circuit to the datacenter's.
fn avs_lab(prefix: &str, global_reach: bool) -> String {
    two_circuits_lab(prefix, global_reach)
        .replace(
            "  - name: dc2\n    address_space: [172.21.0.0/16]\n",
            "  - name: avs\n    address_space: [10.100.0.0/22]\n",
        )
        .replace(&format!("{prefix}-dc2"), &format!("{prefix}-avs"))
        .replace(
            &format!("{{name: dc2-host, private_ip_address: {DC2_HOST}"),
            &format!("{{name: avs-host, private_ip_address: {AVS_HOST}"),
        )
        .replace("dc2-circuit", "avs-circuit")
        .replace("site: dc2", "site: avs")
        .replace("dc1-dc2", "dc1-avs")
        .replace("hub-to-dc2", "hub-to-avs")
}

/// One ping of one packet, waiting at most 500 ms for the reply.
fn ping_once(ns: &str, dst: &str) -> bool {
    std::process::Command::new("ip")
        .args([
            "netns", "exec", ns, "ping", "-n", "-q", "-c", "1", "-W", "0.5", dst,
        ])
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn global_reach_to_a_private_cloud_stops_within_five_seconds_of_an_apply_without_it() {
    let prefix = "erv";
    let lab = Lab::start_exact(prefix, &avs_lab(prefix, true));
    let dc_host = format!("{prefix}-dc-host");
    let avs_host = format!("{prefix}-avs-host");
    let vm_reaches_both_sites = |why: &str| {
        for (site, host) in [("dc1", DC_HOST), ("avs", AVS_HOST)] {
            assert!(
                wait_for(Duration::from_secs(60), || ping(&lab.ns("vm1"), host)),
                "the VM never reached {site} {why}"
            );
        }
    };
    // With Global Reach: the datacenter and the private cloud reach each
    // other, and the VM reaches both.
    assert!(
        wait_for(Duration::from_secs(60), || ping(&dc_host, AVS_HOST)),
        "the datacenter never reached the private cloud"
    );
    assert!(ping(&avs_host, DC_HOST), "private cloud to the datacenter");
    vm_reaches_both_sites("with Global Reach");
    // The VNet's effective routes hold both sites' prefixes, from
    // VirtualNetworkGateway, each over both instances of the gateway.
    let instances = "10.0.255.228,10.0.255.229".to_string();
    let both_rows = [
        ("172.20.0.0/16".to_string(), instances.clone()),
        ("10.100.0.0/22".to_string(), instances),
    ];
    let rows = gateway_rows(&lab.daemon().snapshot(), "vm1");
    assert!(
        both_rows.iter().all(|row| rows.contains(row)),
        "vm1's gateway routes: {rows:?}"
    );

    // An apply without the link: the datacenter loses the private cloud
    // within 5 s, the VM keeps both sites.
    lab.daemon()
        .apply("no-global-reach.yaml", &avs_lab(prefix, false))
        .unwrap_or_else(|e| panic!("apply: {e:?}"));
    let start = Instant::now();
    while ping_once(&dc_host, AVS_HOST) && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let elapsed = start.elapsed();
    assert!(
        elapsed <= Duration::from_secs(5),
        "the datacenter still reached the private cloud {elapsed:?} after the apply"
    );
    vm_reaches_both_sites("without Global Reach");
    assert!(!ping(&dc_host, AVS_HOST), "datacenter to the private cloud");
    assert!(!ping(&avs_host, DC_HOST), "private cloud to the datacenter");

    // Re-adding the link restores the path.
    lab.daemon()
        .apply("global-reach.yaml", &avs_lab(prefix, true))
        .unwrap_or_else(|e| panic!("apply: {e:?}"));
    assert!(
        wait_for(Duration::from_secs(60), || ping(&dc_host, AVS_HOST)),
        "the datacenter never reached the private cloud again"
    );
    assert!(ping(&avs_host, DC_HOST), "private cloud to the datacenter");
    vm_reaches_both_sites("once Global Reach is back");
}
