//! Tests of the picture and of both renderers.

use super::dot::*;
use super::mermaid::*;
use super::model::*;
use super::*;
use crate::topology::parse_str;
use crate::topology::{LoadBalancerIdx, NicIdx, VnetIdx};
use std::net::IpAddr;

/// The VNet `hub` with its subnet `nva` (10.0.1.0/24), the start of
/// several tests' topologies.
const HUB_WITH_NVA: &str = "
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    location: westeurope
    subnets:
      - { name: nva, address_prefixes: [10.0.1.0/24] }
";

const SPOKES: &str = "  - name: spoke-a
    address_space: [10.1.0.0/16]
    location: westeurope
  - name: spoke.b
    address_space: [10.2.0.0/16]
    location: eastus
";

/// The picture of the topology `text` (named `file` in its errors).
fn picture_of(file: &str, text: &str) -> Picture {
    let loaded = match parse_str(file, text) {
        Ok(loaded) => loaded,
        Err(e) => panic!("test topology refused: {e:?}"),
    };
    Picture::of(&Snapshot::compile(loaded.topology, 0))
}

/// Asserts that the Mermaid text of `p` holds each of `in_mermaid` and
/// its DOT text each of `in_dot`.
fn assert_drawn(p: &Picture, in_mermaid: &[&str], in_dot: &[&str]) {
    let (mermaid, dot) = (mermaid(p), dot(p));
    for part in in_mermaid {
        assert!(mermaid.contains(part), "{part}");
    }
    for part in in_dot {
        assert!(dot.contains(part), "{part}");
    }
}

/// The hub and two spokes, with `peerings`.
fn picture(peerings: &str) -> Picture {
    picture_of(
        "test.yaml",
        &format!("{HUB_WITH_NVA}{SPOKES}\npeerings:\n{peerings}"),
    )
}

#[test]
fn mermaid_escape_turns_quotes_and_markup_into_entities() {
    assert_eq!(mermaid_escape(r#"say "hi""#), "say #quot;hi#quot;");
    assert_eq!(mermaid_escape("a<b>&#`c"), "a#lt;b#gt;#amp;#35;#96;c");
    assert_eq!(mermaid_escape("two\nlines"), "two lines");
    assert_eq!(
        mermaid_escape("10.0.0.0/16, hub-rt_1"),
        "10.0.0.0/16, hub-rt_1"
    );
}

#[test]
fn dot_escape_protects_quotes_and_backslashes() {
    assert_eq!(dot_escape(r#"say "hi""#), r#"say \"hi\""#);
    assert_eq!(dot_escape(r"a\nb"), r"a\\nb");
    assert_eq!(dot_escape("two\nlines"), "two lines");
}

#[test]
fn labels_join_lines_in_each_language() {
    let lines = vec!["VNet \"x\"".to_string(), "10.0.0.0/16".to_string()];
    assert_eq!(
        mermaid_label(&lines),
        "\"VNet #quot;x#quot;<br/>10.0.0.0/16\""
    );
    assert_eq!(dot_label(&lines), r#""VNet \"x\"\n10.0.0.0/16""#);
}

#[test]
fn sanitise_keeps_only_identifier_characters() {
    assert_eq!(sanitise("spoke-1.prod_x"), "spoke_1_prod_x");
    assert_eq!(sanitise("fd00:10::4"), "fd00_10__4");
}

#[test]
fn both_links_make_one_connected_edge() {
    let p = picture(
            "  - { name: hub-to-a, virtual_network: hub, remote_virtual_network: spoke-a }
  - { name: a-to-hub, virtual_network: spoke-a, remote_virtual_network: hub, allow_forwarded_traffic: true }
",
        );
    assert_eq!(p.peerings.len(), 1);
    let edge = &p.peerings[0];
    assert_eq!(edge.state, PeeringState::Connected);
    assert!(!edge.global);
    assert_eq!((edge.from, edge.to), (VnetIdx::new(0), VnetIdx::new(1)));
    assert_eq!(edge.from_id, "vnet_0_hub");
    assert_eq!(edge.to_id, "vnet_1_spoke_a");
    assert_eq!(
        edge.label,
        vec!["peering Connected", "forwarded traffic into spoke-a"]
    );
    assert_drawn(
        &p,
        &["  vnet_0_hub ---|\"peering Connected<br/>forwarded traffic into spoke-a\"| vnet_1_spoke_a\n"],
        &["vnet_0_hub -> vnet_1_spoke_a [label=\"peering Connected\\nforwarded traffic into spoke-a\", dir=none"],
    );
}

#[test]
fn one_link_makes_a_dashed_arrow_from_its_holder() {
    let p =
        picture("  - { name: a-to-hub, virtual_network: spoke-a, remote_virtual_network: hub }\n");
    assert_eq!(p.peerings.len(), 1);
    let edge = &p.peerings[0];
    assert_eq!(edge.state, PeeringState::Initiated);
    assert_eq!((edge.from, edge.to), (VnetIdx::new(1), VnetIdx::new(0)));
    assert_eq!(edge.label, vec!["peering Initiated", "only link a-to-hub"]);
    assert!(mermaid(&p).contains("  vnet_1_spoke_a -.->|"));
    let dot = dot(&p);
    assert!(dot.contains("vnet_1_spoke_a -> vnet_0_hub ["));
    assert!(dot.contains("style=dashed"));
    assert!(!dot.contains("dir=none"));
}

#[test]
fn peering_across_locations_is_global() {
    let p = picture(
        "  - { name: b-to-hub, virtual_network: spoke.b, remote_virtual_network: hub }
  - { name: hub-to-b, virtual_network: hub, remote_virtual_network: spoke.b }
  - { name: a-to-b, virtual_network: spoke-a, remote_virtual_network: spoke.b }
",
    );
    assert_eq!(p.peerings.len(), 2);
    let connected = &p.peerings[0];
    assert_eq!(connected.state, PeeringState::Connected);
    assert!(connected.global);
    assert_eq!(connected.from_id, "vnet_2_spoke_b");
    // West Europe and East US: 85 ms one way round, 83 the other.
    assert_eq!(
        connected.label,
        vec!["global peering Connected", "round trip 84 ms"]
    );
    let initiated = &p.peerings[1];
    assert_eq!(initiated.state, PeeringState::Initiated);
    assert!(initiated.global);
    assert_eq!(initiated.label[0], "global peering Initiated");
}

#[test]
fn access_off_on_either_link_is_shown() {
    let p = picture(
            "  - { name: hub-to-a, virtual_network: hub, remote_virtual_network: spoke-a }
  - { name: a-to-hub, virtual_network: spoke-a, remote_virtual_network: hub, allow_virtual_network_access: false }
",
        );
    assert_eq!(
        p.peerings[0].label,
        vec!["peering Connected", "VNet access off: no traffic"]
    );
}

#[test]
fn appliance_routes_group_by_appliance_and_flag_unreachable_hops() {
    let rest = "      - { name: app, address_prefixes: [10.0.2.0/24], route_table: app-rt }
network_interfaces:
  - { name: fw, subnet: hub/nva, private_ip_address: 10.0.1.4, ip_forwarding_enabled: true }
route_tables:
  - name: app-rt
    routes:
      - { name: a, address_prefix: 10.8.0.0/16, next_hop_type: VirtualAppliance, next_hop_in_ip_address: 10.0.1.4 }
      - { name: b, address_prefix: 10.9.0.0/16, next_hop_type: VirtualAppliance, next_hop_in_ip_address: 10.0.1.9 }
      - { name: c, address_prefix: 10.7.0.0/16, next_hop_type: VirtualAppliance, next_hop_in_ip_address: 10.0.1.4 }
      - { name: d, address_prefix: 10.6.0.0/16, next_hop_type: None }
";
    let p = picture_of("test.yaml", &[HUB_WITH_NVA, rest].concat());
    assert_eq!(p.appliance_routes.len(), 2);
    let to_fw = &p.appliance_routes[0];
    assert_eq!(to_fw.hop, ApplianceHop::Nic(NicIdx::new(0)));
    assert_eq!(to_fw.from_id, "subnet_0_1_app");
    assert_eq!(to_fw.to_id, "nic_0_fw");
    assert_eq!(to_fw.prefixes, vec!["10.8.0.0/16", "10.7.0.0/16"]);
    assert_eq!(
        to_fw.label(),
        vec!["10.8.0.0/16, 10.7.0.0/16", "route table app-rt"]
    );
    let nowhere = &p.appliance_routes[1];
    let ip: IpAddr = match "10.0.1.9".parse() {
        Ok(ip) => ip,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(nowhere.hop, ApplianceHop::Unreachable(ip));
    assert_eq!(nowhere.to_id, "unreachable_10_0_1_9");
    assert_drawn(
        &p,
        &[
            "  unreachable_10_0_1_9[\"10.0.1.9<br/>no reachable NIC: dropped\"]\n",
            "  nic_0_fw{{\"NIC fw<br/>10.0.1.4<br/>NVA: IP forwarding on\"}}\n",
            "  subnet_0_1_app -->|\"10.8.0.0/16, 10.7.0.0/16<br/>route table app-rt\"| nic_0_fw\n",
        ],
        &["unreachable_10_0_1_9 [label=\"10.0.1.9\\nno reachable NIC: dropped\", shape=octagon"],
    );
}

#[test]
fn load_balancers_draw_frontends_rule_edges_and_routes_to_their_frontends() {
    let rest = "  - name: spoke
    address_space: [10.1.0.0/16]
    location: westeurope
    subnets:
      - { name: app, address_prefixes: [10.1.1.0/24], route_table: app-rt }
peerings:
  - { name: hub-to-spoke, virtual_network: hub, remote_virtual_network: spoke }
  - { name: spoke-to-hub, virtual_network: spoke, remote_virtual_network: hub }
network_interfaces:
  - { name: fw1, subnet: hub/nva, private_ip_address: 10.0.1.4, ip_forwarding_enabled: true }
  - { name: fw2, subnet: hub/nva, private_ip_address: 10.0.1.5, ip_forwarding_enabled: true }
route_tables:
  - name: app-rt
    routes:
      - { name: all, address_prefix: 0.0.0.0/0, next_hop_type: VirtualAppliance, next_hop_in_ip_address: 10.0.1.100 }
load_balancers:
  - name: fw-ilb
    frontend_ip_configurations:
      - { name: fe, subnet: hub/nva, private_ip_address: 10.0.1.100 }
    backend_address_pools:
      - { name: fws, network_interfaces: [fw1, fw2] }
    rules:
      - { name: ha, frontend_ip_configuration: fe, backend_address_pool: fws, protocol: All, floating_ip_enabled: true }
      - { name: dns, frontend_ip_configuration: fe, backend_address_pool: fws, protocol: Udp, frontend_port: 53, backend_port: 5353, floating_ip_enabled: true }
";
    let p = picture_of("test.yaml", &[HUB_WITH_NVA, rest].concat());
    let nva = &p.vnets[0].subnets[0].nics;
    let ids: Vec<&str> = nva.iter().map(|n| n.id.as_str()).collect();
    // The prober's port (probe-hub) is not drawn.
    assert_eq!(
        ids,
        vec!["nic_0_fw1", "nic_1_fw2", "frontend_0_0_fw_ilb_fe"]
    );
    assert!(nva[2].frontend && !nva[2].appliance && !nva[2].gateway);
    assert_eq!(
        nva[2].label,
        vec!["load balancer fw-ilb / fe", "10.0.1.100"]
    );

    let edges: Vec<(&str, Vec<String>)> = p
        .load_balancing
        .iter()
        .map(|e| (e.to_id.as_str(), e.label.clone()))
        .collect();
    let ha = vec![
        "ha".to_string(),
        "All 0→0 (HA ports) floating IP".to_string(),
    ];
    let dns = vec!["dns".to_string(), "Udp 53→5353 floating IP".to_string()];
    assert_eq!(
        edges,
        vec![
            ("nic_0_fw1", ha.clone()),
            ("nic_1_fw2", ha),
            ("nic_0_fw1", dns.clone()),
            ("nic_1_fw2", dns),
        ]
    );

    // Across the peering, the route leads to the frontend, not to a
    // warning node.
    assert_eq!(p.appliance_routes.len(), 1);
    assert_eq!(
        p.appliance_routes[0].hop,
        ApplianceHop::Frontend {
            load_balancer: LoadBalancerIdx::new(0),
            frontend: 0
        }
    );
    assert!(p.unreachable_hops().is_empty());

    assert_drawn(
        &p,
        &[
            "      frontend_0_0_fw_ilb_fe([\"load balancer fw-ilb / fe<br/>10.0.1.100\"])\n",
            "  frontend_0_0_fw_ilb_fe ==>|\"ha<br/>All 0→0 (HA ports) floating IP\"| nic_0_fw1\n",
            "  subnet_1_0_app -->|\"0.0.0.0/0<br/>route table app-rt\"| frontend_0_0_fw_ilb_fe\n",
        ],
        &[
            "frontend_0_0_fw_ilb_fe [label=\"load balancer fw-ilb / fe\\n10.0.1.100\", shape=oval",
            "frontend_0_0_fw_ilb_fe -> nic_1_fw2 [label=\"dns\\nUdp 53→5353 floating IP\", color=",
        ],
    );
    assert!(!mermaid(&p).contains("probe-hub"));
    assert!(!dot(&p).contains("probe"));
}

#[test]
fn output_ends_with_a_newline() {
    let p = picture("  []\n");
    assert!(mermaid(&p).ends_with("end\n"));
    assert!(dot(&p).ends_with("}\n"));
}

#[test]
fn a_spread_lab_names_each_vnets_host_and_a_nic_placed_apart() {
    let text = "
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    location: westeurope
    host: h1
    subnets:
      - { name: nva, address_prefixes: [10.0.1.0/24] }
network_interfaces:
  - { name: nva1, subnet: hub/nva, private_ip_address: 10.0.1.4 }
  - { name: nva2, subnet: hub/nva, private_ip_address: 10.0.1.5, host: h2 }
hosts:
  - { name: h1, underlay_address: 192.0.2.1 }
  - { name: h2, underlay_address: 192.0.2.2 }
";
    let picture = picture_of("spread.yaml", text);
    let vnet = &picture.vnets[0];
    assert_eq!(vnet.label.last().unwrap(), "on host h1 (192.0.2.1)");
    let nics = &vnet.subnets[0].nics;
    assert!(!nics[0].label.iter().any(|l| l.starts_with("on host")));
    assert_eq!(nics[1].label.last().unwrap(), "on host h2 (192.0.2.2)");
    // A lab on one machine says nothing of hosts.
    let one = picture_of_one_machine();
    assert!(one
        .vnets
        .iter()
        .all(|v| !v.label.iter().any(|l| l.contains("host"))));
}

fn picture_of_one_machine() -> Picture {
    picture("")
}

#[test]
fn a_route_server_is_drawn_in_its_subnet_with_its_bgp_sessions_and_gateways() {
    let text = "
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    location: westeurope
    subnets:
      - { name: RouteServerSubnet, address_prefixes: [10.0.1.0/26] }
      - { name: nva, address_prefixes: [10.0.2.0/24] }
      - { name: GatewaySubnet, address_prefixes: [10.0.255.224/27] }
route_servers:
  - name: hub-rs
    virtual_network: hub
    branch_to_branch_traffic: true
    bgp_connections:
      - { name: nva1, peer_ip: 10.0.2.4, peer_asn: 65001 }
      - { name: nva2, peer_ip: 10.0.2.5, peer_asn: 65002 }
network_interfaces:
  - name: nva1
    subnet: hub/nva
    private_ip_address: 10.0.2.4
    ip_forwarding_enabled: true
    bgp_speaker: frr
    bgp_announce: [10.100.0.0/16, 10.101.0.0/16]
  - name: nva2
    subnet: hub/nva
    private_ip_address: 10.0.2.5
    ip_forwarding_enabled: true
    bgp_speaker: bird
virtual_network_gateways:
  - name: hub-vpngw
    virtual_network: hub
    type: Vpn
    vpn_type: RouteBased
    sku: VpnGw1
    bgp_enabled: true
    bgp_settings: {asn: 65515}
";
    let p = picture_of("test.yaml", text);
    let rs = &p.vnets[0].subnets[0].nics;
    assert_eq!(rs.len(), 1);
    assert!(rs[0].route_server && !rs[0].appliance && !rs[0].gateway);
    assert_eq!(rs[0].id, "route_server_0_hub_rs");
    assert_eq!(
        rs[0].label,
        vec![
            "Route Server hub-rs",
            "10.0.1.4, 10.0.1.5",
            "ASN 65515",
            "branch-to-branch"
        ]
    );
    let edges: Vec<(&str, &str, Vec<String>)> = p
        .connections
        .iter()
        .map(|e| (e.from_id.as_str(), e.to_id.as_str(), e.label.clone()))
        .collect();
    assert_eq!(
        edges,
        vec![
            (
                "route_server_0_hub_rs",
                "nic_0_nva1",
                vec!["BGP AS 65001: 10.100.0.0/16, 10.101.0.0/16".to_string()]
            ),
            (
                "route_server_0_hub_rs",
                "nic_1_nva2",
                vec!["BGP AS 65002".to_string()]
            ),
            (
                "route_server_0_hub_rs",
                "gateway_0_hub_vpngw",
                vec!["branch-to-branch".to_string()]
            ),
        ]
    );

    assert_drawn(
        &p,
        &[
            "      route_server_0_hub_rs[\"Route Server hub-rs<br/>10.0.1.4, 10.0.1.5<br/>ASN 65515<br/>branch-to-branch\"]\n",
            "  route_server_0_hub_rs ===|\"BGP AS 65002\"| nic_1_nva2\n",
            "  class route_server_0_hub_rs routeServer\n",
        ],
        &[
            "route_server_0_hub_rs [label=\"Route Server hub-rs\\n10.0.1.4, 10.0.1.5\\nASN 65515\\nbranch-to-branch\", style=\"rounded,filled\"",
            "route_server_0_hub_rs -> gateway_0_hub_vpngw [label=\"branch-to-branch\", dir=both",
        ],
    );
}

/// The Cytoscape elements of the built-in lab: one node per box and NIC
/// of the picture, in the box that holds it, and edges only between
/// nodes that exist.
#[test]
fn cytoscape_elements_hold_every_node_of_the_picture() {
    let text = include_str!("../../../../config/hub-spoke.yaml");
    let picture = picture_of("hub-spoke.yaml", text);
    let elements = cytoscape::elements(&picture);
    let data = |group: &str| -> Vec<&serde_json::Value> {
        elements
            .iter()
            .filter(|e| e["group"] == group)
            .map(|e| &e["data"])
            .collect()
    };
    let nodes = data("nodes");
    let ids: Vec<&str> = nodes.iter().map(|n| n["id"].as_str().unwrap()).collect();
    // The reference: a walk of the picture's boxes.
    let mut expected = Vec::new();
    for vnet in &picture.vnets {
        expected.push((vnet.id.clone(), None, "vnet".to_string()));
        for subnet in &vnet.subnets {
            expected.push((subnet.id.clone(), Some(vnet.id.clone()), "subnet".into()));
            for nic in &subnet.nics {
                let kind = if nic.appliance { "appliance" } else { "nic" };
                expected.push((nic.id.clone(), Some(subnet.id.clone()), kind.into()));
            }
        }
    }
    let got: Vec<(String, Option<String>, String)> = nodes
        .iter()
        .map(|n| {
            (
                n["id"].as_str().unwrap().to_string(),
                n["parent"].as_str().map(str::to_string),
                n["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    let mut names: Vec<&str> = nodes.iter().filter_map(|n| n["name"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["nva1", "shared1", "vm1", "vm2"]);
    let edges = data("edges");
    for e in &edges {
        for end in ["source", "target"] {
            assert!(ids.contains(&e[end].as_str().unwrap()), "{e}");
        }
    }
    let kinds: Vec<(&str, &str)> = edges
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["id"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("peering", "peering_0"),
            ("peering", "peering_1"),
            ("appliance_route", "route_0"),
            ("appliance_route", "route_1"),
        ]
    );
    assert!(edges[..2].iter().all(|e| e["state"] == "connected"));
}

/// The Internet edge in Azure's precedence: a NAT gateway before a NIC's
/// own public IP (which then only takes what comes in), a user route
/// before every way out, default outbound access last; a lab without any
/// of it draws no Internet.
#[test]
fn the_internet_edge_follows_azures_precedence() {
    let text = "
internet:
  servers:
    - {name: echo, address: 203.0.113.10, ports: [80, 443]}
public_ip_addresses:
  - {name: nat-pip, ip_address: 198.51.100.10}
  - {name: web-pip, ip_address: 198.51.100.30}
  - {name: nva-pip, ip_address: 198.51.100.40}
public_ip_prefixes:
  - {name: nat-prefix, ip_prefix: 198.51.100.16/30}
nat_gateways:
  - {name: app-nat, sku_name: StandardV2, public_ip_addresses: [nat-pip], public_ip_prefixes: [nat-prefix], subnets: [hub/app, hub/routed]}
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    location: westeurope
    subnets:
      - {name: app, address_prefixes: [10.0.1.0/24]}
      - {name: routed, address_prefixes: [10.0.2.0/24], route_table: to-nva}
      - {name: legacy, address_prefixes: [10.0.3.0/24], default_outbound_access: true, route_table: to-nva}
      - {name: nva, address_prefixes: [10.0.4.0/24]}
      - {name: open, address_prefixes: [10.0.5.0/24], default_outbound_access: true}
network_interfaces:
  - {name: web, subnet: hub/app, private_ip_address: 10.0.1.4, public_ip_address: web-pip}
  - {name: batch, subnet: hub/routed, private_ip_address: 10.0.2.4}
  - {name: old, subnet: hub/legacy, private_ip_address: 10.0.3.4}
  - {name: nva1, subnet: hub/nva, private_ip_address: 10.0.4.4, ip_forwarding_enabled: true, public_ip_address: nva-pip}
  - {name: open1, subnet: hub/open, private_ip_address: 10.0.5.4}
route_tables:
  - name: to-nva
    routes:
      - {name: out, address_prefix: 0.0.0.0/0, next_hop_type: VirtualAppliance, next_hop_in_ip_address: 10.0.4.4}
";
    let p = picture_of("edge.yaml", text);
    let internet = p.outside.iter().find(|n| n.id == INTERNET_ID);
    let internet = internet.expect("the Internet's node");
    assert_eq!(internet.name, "internet");
    assert_eq!(internet.internet_edge, Some(InternetPart::Internet));
    assert_eq!(
        internet.label,
        ["Internet", "echo 203.0.113.10, ports 80, 443"]
    );
    let nat = p.outside.iter().find(|n| n.id == "nat_gateway_0_app_nat");
    let nat = nat.expect("the NAT gateway's node");
    assert_eq!(
        nat.label,
        [
            "NAT gateway app-nat",
            "StandardV2, idle 4 min",
            "public 198.51.100.10, 198.51.100.16/30"
        ]
    );
    let edges: Vec<(&str, &str, Vec<&str>)> = (p.internet.iter())
        .map(|e| {
            let label = e.label.iter().map(String::as_str).collect();
            (e.from_id.as_str(), e.to_id.as_str(), label)
        })
        .collect();
    assert_eq!(
        edges,
        [
            (
                "subnet_0_0_app",
                "nat_gateway_0_app_nat",
                vec!["leaves by NatGateway"]
            ),
            (
                "subnet_0_1_routed",
                "nat_gateway_0_app_nat",
                vec!["associated", "Internet routed to VirtualAppliance"]
            ),
            (
                "nat_gateway_0_app_nat",
                "internet",
                vec!["outbound TCP, UDP, ICMP echo"]
            ),
            // The NAT gateway takes web's way out; its public IP still
            // takes what comes in.
            (
                "internet",
                "nic_0_web",
                vec!["to public 198.51.100.30", "inbound only"]
            ),
            // old's default outbound access is never reached: its route
            // sends the Internet to nva1.
            (
                "nic_3_nva1",
                "internet",
                vec!["leaves by PublicIp", "as 198.51.100.40"]
            ),
            (
                "nic_4_open1",
                "internet",
                vec!["leaves by DefaultOutbound", "as 192.0.2.2"]
            ),
        ]
    );
    let inbound: Vec<bool> = p.internet.iter().map(|e| e.link.inbound()).collect();
    assert_eq!(inbound, [false, false, false, true, false, false]);
    let web = &p.vnets[0].subnets[0].nics[0];
    assert_eq!(web.label, ["NIC web", "10.0.1.4", "public 198.51.100.30"]);
    let legacy = &p.vnets[0].subnets[2];
    assert_eq!(
        legacy.label,
        [
            "subnet legacy",
            "10.0.3.0/24",
            "route table to-nva",
            "default outbound access"
        ]
    );
    assert_drawn(
        &p,
        &[
            "  internet((\"Internet<br/>echo 203.0.113.10, ports 80, 443\"))\n",
            "  internet -.->|\"to public 198.51.100.30<br/>inbound only\"| nic_0_web\n",
            "  class nat_gateway_0_app_nat natGateway\n",
        ],
        &[
            "  subnet_0_0_app -> nat_gateway_0_app_nat [label=\"leaves by NatGateway\", color=\"#2b6cb0\", ltail=cluster_subnet_0_0_app];\n",
            "  internet [label=\"Internet\\necho 203.0.113.10, ports 80, 443\", shape=ellipse",
        ],
    );
    let elements = cytoscape::elements(&p);
    let kinds: Vec<(&str, &str)> = (elements.iter())
        .filter(|e| {
            e["data"]["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("internet"))
        })
        .map(|e| {
            (
                e["data"]["id"].as_str().unwrap_or(""),
                e["data"]["kind"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("internet", "internet"),
            ("internet_0", "egress"),
            ("internet_1", "egress"),
            ("internet_2", "egress"),
            ("internet_3", "ingress"),
            ("internet_4", "egress"),
            ("internet_5", "egress"),
        ]
    );

    // Without public addresses, default outbound access or servers, no
    // Internet is drawn.
    let plain = picture(
        "  - {name: hub-to-spoke-a, virtual_network: hub, remote_virtual_network: spoke-a}\n",
    );
    assert!(plain.internet.is_empty());
    assert!(plain.outside.iter().all(|n| n.internet_edge.is_none()));
}
