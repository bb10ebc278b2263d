//! Azure Route Server offline: a valid hub with a Route Server and two
//! appliances loads with the instances and speakers Azure would give it;
//! each broken Route Server, BGP connection or appliance key is refused by
//! `vnetd check` at its line with its reason, none panics; and what Azure
//! accepts but does not program (or advises against) is warned about at
//! its line, the file still accepted.

use crate::common;

use common::broken_files::{assert_refused_with_words, check, line_of, Case};
use vnetd::topology::{parse_str, BgpSpeaker, HubRoutingPreference, RouteServerIdx, Severity};

const TAG: &str = "route-server";

/// A hub whose Route Server peers with two FRR appliances, and a spoke
/// that uses the hub's Route Server through the peering.
const BASE: &str = "\
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    location: westeurope
    subnets:
      - name: RouteServerSubnet
        address_prefixes: [10.0.1.0/26]
      - name: nva
        address_prefixes: [10.0.2.0/24]
  - name: spoke
    address_space: [10.1.0.0/16]
    location: westeurope
    subnets:
      - name: app
        address_prefixes: [10.1.1.0/24]

peerings:
  - {name: hub-to-spoke, virtual_network: hub, remote_virtual_network: spoke, allow_gateway_transit: true}
  - {name: spoke-to-hub, virtual_network: spoke, remote_virtual_network: hub, allow_forwarded_traffic: true, use_remote_gateways: true}

network_interfaces:
  - name: nva1
    subnet: hub/nva
    private_ip_address: 10.0.2.4
    ip_forwarding_enabled: true
    bgp_speaker: frr
    bgp_announce: [10.100.0.0/16]
  - name: nva2
    subnet: hub/nva
    private_ip_address: 10.0.2.5
    ip_forwarding_enabled: true
    bgp_speaker: frr
    bgp_announce: [10.100.0.0/16]
  - {name: vm1, subnet: spoke/app, private_ip_address: 10.1.1.4}

route_servers:
  - name: hub-rs
    virtual_network: hub
    branch_to_branch_traffic: false
    hub_routing_preference: ExpressRoute
    bgp_connections:
      - {name: nva1, peer_ip: 10.0.2.4, peer_asn: 65001}
      - {name: nva2, peer_ip: 10.0.2.5, peer_asn: 65001}
";

/// The spoke with a `RouteServerSubnet` of its own.
const SPOKE_RS_SUBNET: (&str, &str) = (
    "      - name: app\n",
    "      - name: RouteServerSubnet\n        address_prefixes: [10.1.0.0/26]\n      - name: app\n",
);

/// An edit that adds `$more` after the last BGP connection of the base.
macro_rules! after_last_connection {
    ($more:literal) => {
        (
            "      - {name: nva2, peer_ip: 10.0.2.5, peer_asn: 65001}\n",
            concat!(
                "      - {name: nva2, peer_ip: 10.0.2.5, peer_asn: 65001}\n",
                $more
            ),
        )
    };
}

#[test]
fn a_hub_with_a_route_server_loads_with_its_instances_and_speakers() {
    let loaded = parse_str("rs.yaml", BASE).unwrap_or_else(|e| panic!("{e:#?}"));
    assert!(loaded.warnings.is_empty(), "{:#?}", loaded.warnings);
    let topo = &loaded.topology;
    assert_eq!(topo.route_servers.len(), 1);
    let rs = &topo.route_servers[RouteServerIdx::new(0)];
    assert_eq!(rs.name, "hub-rs");
    assert_eq!(topo.subnet_path(rs.subnet), "hub/RouteServerSubnet");
    let instances: Vec<String> = rs.instances.iter().map(|i| i.to_string()).collect();
    assert_eq!(instances, ["10.0.1.4", "10.0.1.5"]);
    assert!(!rs.branch_to_branch_traffic);
    assert_eq!(
        rs.hub_routing_preference,
        HubRoutingPreference::ExpressRoute
    );
    assert_eq!(rs.bgp_connections.len(), 2);
    assert_eq!(topo.appliance_speakers.len(), 2);
    for (speaker, (name, peer)) in topo
        .appliance_speakers
        .iter()
        .zip([("nva1", 0), ("nva2", 1)])
    {
        assert_eq!(topo.nics[speaker.nic].name, name);
        assert_eq!(rs.bgp_connections[peer].nic, Some(speaker.nic));
        assert_eq!(speaker.speaker, BgpSpeaker::Frr);
        assert_eq!(speaker.asn, 65001);
        let announce: Vec<String> = speaker.announce.iter().map(|n| n.to_string()).collect();
        assert_eq!(announce, ["10.100.0.0/16"]);
    }
    // `vnetd check` agrees: accepted, nothing to warn about.
    let (code, stderr, _) = check(TAG, "valid", BASE);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
}

#[test]
fn the_instances_are_the_fourth_and_fifth_address_of_the_subnet() {
    let text = BASE.replace("[10.0.1.0/26]", "[10.0.1.128/25]").replace(
        "hub_routing_preference: ExpressRoute",
        "hub_routing_preference: aspath",
    );
    let loaded = parse_str("rs.yaml", &text).unwrap_or_else(|e| panic!("{e:#?}"));
    let rs = &loaded.topology.route_servers[RouteServerIdx::new(0)];
    let instances: Vec<String> = rs.instances.iter().map(|i| i.to_string()).collect();
    assert_eq!(instances, ["10.0.1.132", "10.0.1.133"]);
    assert_eq!(rs.hub_routing_preference, HubRoutingPreference::AsPath);
}

/// An appliance in a VNet peered both ways with the Route Server's is its
/// peer; one peered one way only is not (warned about).
#[test]
fn a_peer_is_found_across_a_peering_in_both_directions_only() {
    let text = BASE
        .replacen(
            "  - {name: vm1, subnet: spoke/app, private_ip_address: 10.1.1.4}",
            "  - {name: vm1, subnet: spoke/app, private_ip_address: 10.1.1.4, bgp_speaker: bird}",
            1,
        )
        .replacen(
            "      - {name: nva2, peer_ip: 10.0.2.5, peer_asn: 65001}\n",
            "      - {name: nva2, peer_ip: 10.0.2.5, peer_asn: 65001}\n      - {name: spoke-nva, peer_ip: 10.1.1.4, peer_asn: 65010}\n",
            1,
        );
    let loaded = parse_str("rs.yaml", &text).unwrap_or_else(|e| panic!("{e:#?}"));
    let topo = &loaded.topology;
    let vm1 = topo.nic_by_name("vm1").unwrap();
    let rs = &topo.route_servers[RouteServerIdx::new(0)];
    assert_eq!(rs.bgp_connections[2].nic, Some(vm1));
    let speaker = topo.appliance_speakers.iter().find(|s| s.nic == vm1);
    let speaker = speaker.expect("vm1 speaks BGP");
    assert_eq!((speaker.speaker, speaker.asn), (BgpSpeaker::Bird, 65010));

    // Without the link back, the peering is Initiated: no session.
    let one_way = text.replacen(
        "  - {name: spoke-to-hub, virtual_network: spoke, remote_virtual_network: hub, allow_forwarded_traffic: true, use_remote_gateways: true}\n",
        "",
        1,
    );
    let refused = parse_str("rs.yaml", &one_way).unwrap_err();
    let warned = refused.iter().any(|d| {
        d.key == "route_servers[hub-rs].bgp_connections[spoke-nva].peer_ip"
            && d.message
                .contains("no NIC holds 10.1.1.4 in `hub` or a VNet peered with it")
    });
    assert!(warned, "{refused:#?}");
    let refused_vm1 = refused
        .iter()
        .any(|d| d.key == "network_interfaces[vm1].bgp_speaker");
    assert!(refused_vm1, "{refused:#?}");
}

// ---- errors: one test each ---------------------------------------------

fn refused(case: Case) {
    assert_refused_with_words(TAG, BASE, &case);
}

/// Checked on the topology alone: two Route Servers of one name also give
/// their instances' ports one name, which the lab plan refuses besides.
#[test]
fn a_duplicate_route_server_name_is_refused() {
    let case = Case {
        name: "duplicate-name",
        edits: &[
            SPOKE_RS_SUBNET,
            after_last_connection!("  - {name: HUB-RS, virtual_network: spoke}\n"),
        ],
        expect: &[],
    };
    let text = case.edited(BASE);
    let line = line_of(&text, "{name: HUB-RS, virtual_network: spoke}", case.name);
    let refused = parse_str("rs.yaml", &text).unwrap_err();
    let errors: Vec<_> = refused
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{refused:#?}");
    assert_eq!(errors[0].line, line);
    assert_eq!(errors[0].key, "route_servers[HUB-RS]");
    assert!(
        errors[0]
            .message
            .contains("duplicate Route Server name `HUB-RS`"),
        "{refused:#?}"
    );
}

#[test]
fn an_unknown_virtual_network_is_refused() {
    refused(Case {
        name: "unknown-vnet",
        edits: &[("    virtual_network: hub\n", "    virtual_network: hubb\n")],
        expect: &[(
            "virtual_network: hubb",
            "no virtual network named `hubb` in this file",
        )],
    });
}

#[test]
fn a_vnet_without_route_server_subnet_is_refused() {
    refused(Case {
        name: "no-route-server-subnet",
        edits: &[("      - name: RouteServerSubnet\n", "      - name: rs\n")],
        expect: &[(
            "    virtual_network: hub",
            "VNet `hub` has no subnet named RouteServerSubnet",
        )],
    });
}

#[test]
fn a_route_server_subnet_smaller_than_a_27_is_refused() {
    refused(Case {
        name: "subnet-too-small",
        edits: &[("[10.0.1.0/26]", "[10.0.1.0/28]")],
        expect: &[(
            "- name: RouteServerSubnet",
            "Azure needs a RouteServerSubnet of /27 or larger; /26 is advised",
        )],
    });
}

#[test]
fn a_second_route_server_in_a_vnet_is_refused() {
    refused(Case {
        name: "second-in-vnet",
        edits: &[after_last_connection!(
            "  - {name: hub-rs2, virtual_network: hub}\n"
        )],
        // The first in file order is kept; the second is the one at fault.
        expect: &[(
            "{name: hub-rs2",
            "VNet `hub` already has the Route Server `hub-rs`",
        )],
    });
}

#[test]
fn a_nic_in_route_server_subnet_is_refused() {
    refused(Case {
        name: "nic-in-subnet",
        edits: &[(
            "  - {name: vm1,",
            "  - {name: stray, subnet: hub/RouteServerSubnet, private_ip_address: 10.0.1.10}\n  - {name: vm1,",
        )],
        expect: &[(
            "{name: stray",
            "hub/RouteServerSubnet is dedicated to the Route Server `hub-rs`",
        )],
    });
}

#[test]
fn an_unknown_hub_routing_preference_is_refused() {
    refused(Case {
        name: "hub-routing-preference",
        edits: &[(
            "hub_routing_preference: ExpressRoute",
            "hub_routing_preference: Vpn",
        )],
        expect: &[(
            "hub_routing_preference: Vpn",
            "Azure accepts ExpressRoute, VpnGateway, ASPath",
        )],
    });
}

#[test]
fn a_duplicate_connection_name_is_refused() {
    refused(Case {
        name: "duplicate-connection",
        edits: &[("{name: nva2, peer_ip", "{name: nva1, peer_ip")],
        expect: &[(
            "{name: nva1, peer_ip: 10.0.2.5",
            "duplicate Route Server BGP connection name `nva1`",
        )],
    });
}

#[test]
fn an_ipv6_peer_is_refused() {
    refused(Case {
        name: "ipv6-peer",
        edits: &[("peer_ip: 10.0.2.5", "peer_ip: \"fd00::5\"")],
        expect: &[("peer_ip: \"fd00::5\"", "Route Server is IPv4 only")],
    });
}

#[test]
fn a_duplicate_peer_ip_is_refused() {
    refused(Case {
        name: "duplicate-peer-ip",
        edits: &[(
            "      - {name: nva2, peer_ip: 10.0.2.5, peer_asn: 65001}\n",
            "      - {name: nva2, peer_ip: 10.0.2.5, peer_asn: 65001}\n      - {name: nva1-again, peer_ip: 10.0.2.4, peer_asn: 65001}\n",
        )],
        expect: &[(
            "{name: nva1-again",
            "10.0.2.4 is already the peer_ip of the connection `nva1`",
        )],
    });
}

#[test]
fn a_32_bit_peer_asn_is_refused() {
    refused(Case {
        name: "peer-asn-32-bit",
        edits: &[(
            "peer_ip: 10.0.2.4, peer_asn: 65001",
            "peer_ip: 10.0.2.4, peer_asn: 4200000001",
        )],
        expect: &[(
            "peer_asn: 4200000001",
            "Route Server supports only 16-bit ASNs",
        )],
    });
}

#[test]
fn a_reserved_peer_asn_is_refused() {
    refused(Case {
        name: "peer-asn-reserved",
        edits: &[(
            "peer_ip: 10.0.2.4, peer_asn: 65001",
            "peer_ip: 10.0.2.4, peer_asn: 64500",
        )],
        expect: &[(
            "peer_asn: 64500",
            "ASN 64500 is reserved: Route Server refuses Azure's ASNs",
        )],
    });
}

#[test]
fn the_route_servers_own_asn_is_refused_for_a_peer() {
    refused(Case {
        name: "peer-asn-65515",
        edits: &[(
            "peer_ip: 10.0.2.4, peer_asn: 65001",
            "peer_ip: 10.0.2.4, peer_asn: 65515",
        )],
        expect: &[("peer_asn: 65515", "65515 is the Route Server's own ASN")],
    });
}

#[test]
fn a_ninth_peer_is_refused() {
    refused(Case {
        name: "nine-peers",
        edits: &[(
            "      - {name: nva2, peer_ip: 10.0.2.5, peer_asn: 65001}\n",
            "      - {name: nva2, peer_ip: 10.0.2.5, peer_asn: 65001}\n\
             \x20     - {name: p3, peer_ip: 10.0.2.13, peer_asn: 65003}\n\
             \x20     - {name: p4, peer_ip: 10.0.2.14, peer_asn: 65004}\n\
             \x20     - {name: p5, peer_ip: 10.0.2.15, peer_asn: 65005}\n\
             \x20     - {name: p6, peer_ip: 10.0.2.16, peer_asn: 65006}\n\
             \x20     - {name: p7, peer_ip: 10.0.2.17, peer_asn: 65007}\n\
             \x20     - {name: p8, peer_ip: 10.0.2.18, peer_asn: 65008}\n\
             \x20     - {name: p9, peer_ip: 10.0.2.19, peer_asn: 65009}\n",
        )],
        expect: &[(
            "{name: p9,",
            "Route Server `hub-rs` has more than 8 BGP connections",
        )],
    });
}

#[test]
fn an_unknown_bgp_speaker_is_refused() {
    refused(Case {
        name: "unknown-speaker",
        edits: &[("bgp_speaker: frr", "bgp_speaker: quagga")],
        expect: &[(
            "bgp_speaker: quagga",
            "`quagga` is not one of Bird, Frr, None",
        )],
    });
}

#[test]
fn a_speaker_no_route_server_peers_with_is_refused() {
    refused(Case {
        name: "speaker-without-peer",
        edits: &[(
            "      - {name: nva1, peer_ip: 10.0.2.4, peer_asn: 65001}\n",
            "",
        )],
        expect: &[(
            "bgp_speaker: frr",
            "NIC `nva1` runs a BGP speaker but no route server peers with it",
        )],
    });
}

#[test]
fn connections_that_disagree_on_the_asn_are_refused() {
    refused(Case {
        name: "asn-disagreement",
        edits: &[
            SPOKE_RS_SUBNET,
            (
                "route_servers:\n",
                "route_servers:\n  - name: spoke-rs\n    virtual_network: spoke\n    bgp_connections:\n      - {name: hub-nva1, peer_ip: 10.0.2.4, peer_asn: 65002}\n",
            ),
        ],
        // spoke-rs comes first in the file: hub-rs's connection is the one
        // that differs from it.
        expect: &[(
            "{name: nva1, peer_ip: 10.0.2.4, peer_asn: 65001}",
            "peer_asn 65001 differs from 65002",
        )],
    });
}

#[test]
fn bgp_announce_without_a_speaker_is_refused() {
    refused(Case {
        name: "announce-without-speaker",
        edits: &[(
            "  - {name: vm1, subnet: spoke/app, private_ip_address: 10.1.1.4}",
            "  - {name: vm1, subnet: spoke/app, private_ip_address: 10.1.1.4, bgp_announce: [10.200.0.0/16]}",
        )],
        expect: &[(
            "{name: vm1",
            "bgp_announce needs bgp_speaker bird or frr",
        )],
    });
}

#[test]
fn an_ipv6_announcement_is_refused() {
    refused(Case {
        name: "announce-ipv6",
        edits: &[(
            "bgp_announce: [10.100.0.0/16]",
            "bgp_announce: [\"fd00:100::/48\"]",
        )],
        expect: &[(
            "bgp_announce: [\"fd00:100::/48\"]",
            "fd00:100::/48 is an IPv6 prefix: Route Server is IPv4 only",
        )],
    });
}

#[test]
fn an_invalid_announcement_is_refused() {
    refused(Case {
        name: "announce-invalid",
        edits: &[(
            "bgp_announce: [10.100.0.0/16]",
            "bgp_announce: [10.100.0.1/16]",
        )],
        expect: &[(
            "bgp_announce: [10.100.0.1/16]",
            "`10.100.0.1/16` has host bits set",
        )],
    });
}

// ---- warnings: one test each -------------------------------------------

/// `text` is accepted by `vnetd check`, with a warning at the first line
/// holding `needle`, whose key and message contain `words`.
fn assert_warned(name: &str, text: &str, needle: &str, words: &str) {
    assert_ne!(text, BASE, "{name}: the edit found nothing");
    let (code, stderr, path) = check(TAG, name, text);
    assert_eq!(code, Some(0), "{name}: {stderr}");
    let line = line_of(text, needle, name);
    let prefix = format!("{}:{line}: warning: ", path.display());
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with(&prefix) && l.contains(words)),
        "{name}: expected a warning at line {line} containing {words:?}; got:\n{stderr}"
    );
}

#[test]
fn a_27_is_warned_about() {
    let text = BASE.replacen("[10.0.1.0/26]", "[10.0.1.0/27]", 1);
    assert_warned(
        "subnet-27",
        &text,
        "- name: RouteServerSubnet",
        "Azure's current guidance is a /26 for RouteServerSubnet",
    );
}

#[test]
fn a_route_table_on_route_server_subnet_is_warned_about() {
    let text = BASE
        .replacen(
            "        address_prefixes: [10.0.1.0/26]\n",
            "        address_prefixes: [10.0.1.0/26]\n        route_table: rs-rt\n",
            1,
        )
        .replacen(
            "route_servers:\n",
            "route_tables:\n  - {name: rs-rt, routes: []}\n\nroute_servers:\n",
            1,
        );
    assert_warned(
        "route-table",
        &text,
        "- name: RouteServerSubnet",
        "Azure does not support a route table on RouteServerSubnet",
    );
}

#[test]
fn an_nsg_on_route_server_subnet_is_warned_about() {
    let text = BASE
        .replacen(
            "        address_prefixes: [10.0.1.0/26]\n",
            "        address_prefixes: [10.0.1.0/26]\n        network_security_group: rs-nsg\n",
            1,
        )
        .replacen(
            "route_servers:\n",
            "network_security_groups:\n  - {name: rs-nsg}\n\nroute_servers:\n",
            1,
        );
    assert_warned(
        "nsg",
        &text,
        "- name: RouteServerSubnet",
        "Azure does not support a network security group on RouteServerSubnet",
    );
}

#[test]
fn a_peer_no_nic_holds_is_warned_about() {
    let text = BASE.replacen(
        "      - {name: nva2, peer_ip: 10.0.2.5, peer_asn: 65001}\n",
        "      - {name: nva2, peer_ip: 10.0.2.5, peer_asn: 65001}\n      - {name: nva3, peer_ip: 10.0.2.6, peer_asn: 65001}\n",
        1,
    );
    assert_warned(
        "no-nic",
        &text,
        "{name: nva3",
        "no NIC holds 10.0.2.6 in `hub` or a VNet peered with it: the session will not come up",
    );
}

#[test]
fn an_announcement_inside_the_vnet_is_warned_about() {
    let text = BASE.replacen(
        "bgp_announce: [10.100.0.0/16]",
        "bgp_announce: [10.100.0.0/16, 10.0.5.0/24]",
        1,
    );
    assert_warned(
        "announce-inside-vnet",
        &text,
        "10.0.5.0/24",
        "Route Server does not program a prefix equal to or longer than the virtual network's \
         address space",
    );
}

#[test]
fn more_than_1000_announcements_are_warned_about() {
    let prefixes: Vec<String> = (0..1001u32)
        .map(|i| format!("10.100.{}.{}/32", i / 256, i % 256))
        .collect();
    let text = BASE.replacen(
        "bgp_announce: [10.100.0.0/16]",
        &format!("bgp_announce: [{}]", prefixes.join(", ")),
        1,
    );
    assert_warned(
        "announce-1001",
        &text,
        "10.100.3.232/32",
        "Route Server drops a session that announces more than 1000 routes",
    );
}
