//! Private Endpoints' routes and NSGs against plain references, over
//! variants of `config/private-endpoints.yaml`: the route-table and NSG
//! network policies of the endpoint's subnet, the spokes' user routes
//! (0.0.0.0/0 alone, or with a route for the hub's range, a wider one, a
//! narrower one, or the endpoint's own /32), the peerings (as written,
//! spoke2's link taken away, partner peered too) and an IPv6 endpoint in a
//! dual-stack hub.
//!
//! The references are linear scans written from the rules of
//! `docs/src/azure-behaviour.md` §1 ("Private Endpoint routes"): every
//! port of the lab (VM NICs, the firewall, the endpoint itself, Azure DNS)
//! must list exactly the expected `InterfaceEndpoint` rows, in endpoint
//! order and state, and a packet from each NIC to each endpoint must reach
//! the endpoint, the firewall or nothing as the deciding route says.

use ipnet::IpNet;
use std::net::IpAddr;
use vnetd::dataplane::{decide, DropReason, Stateless, Verdict};
use vnetd::diagnostics::trace::trace;
use vnetd::diagnostics::{self, trace_query};
use vnetd::plan::PortIdx;
use vnetd::snapshot::Snapshot;
use vnetd::topology::{parse_str, NextHopType, SubnetRef, Topology};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/private-endpoints.yaml");

/// The example's text with each `(replace, with)` edit made; every edit
/// must find its text.
fn edited(edits: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(EXAMPLE).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "no `{from}` in the example");
        text = text.replacen(from, to, 1);
    }
    text
}

fn compile(name: &str, text: &str) -> Snapshot {
    let loaded = parse_str(name, text).unwrap_or_else(|d| panic!("{name}: {d:#?}"));
    Snapshot::compile(loaded.topology, 0)
}

const POLICY: &str = "private_endpoint_network_policies: Disabled";
const DEFAULT_ROUTE: &str = "      - {name: everything-to-the-firewall";
const SPOKE2_LINK: &str = "  - {name: spoke2-to-hub, virtual_network: spoke2, remote_virtual_network: hub, allow_forwarded_traffic: true, use_remote_gateways: true}\n";
const LAST_PEERING: &str = "  - {name: spoke2-to-hub,";
const ENDPOINT: &str = "private_endpoints:\n";

/// Every variant: its name and edits.
fn variants() -> Vec<(String, Vec<(&'static str, String)>)> {
    let policies = [
        "Disabled",
        "NetworkSecurityGroupEnabled",
        "RouteTableEnabled",
        "Enabled",
    ];
    // A user route beside the spokes' 0.0.0.0/0, to the firewall or
    // dropped.
    let extra_routes = [
        None,
        Some(("10.0.0.0/16", true)),
        Some(("10.0.0.0/8", true)),
        Some(("10.0.3.0/24", false)),
        Some(("10.0.3.4/32", true)),
    ];
    let peerings = ["as written", "spoke2 Initiated", "partner peered"];
    let mut out = Vec::new();
    for policy in policies {
        for extra in extra_routes {
            for peering in peerings {
                for ipv6 in [false, true] {
                    let mut edits: Vec<(&str, String)> = vec![(
                        POLICY,
                        format!("private_endpoint_network_policies: {policy}"),
                    )];
                    if let Some((prefix, to_firewall)) = extra {
                        let hop = if to_firewall {
                            "VirtualAppliance, next_hop_in_ip_address: 10.0.1.4"
                        } else {
                            "None"
                        };
                        edits.push((
                            DEFAULT_ROUTE,
                            format!(
                                "      - {{name: extra, address_prefix: {prefix}, next_hop_type: {hop}}}\n{DEFAULT_ROUTE}"
                            ),
                        ));
                    }
                    match peering {
                        "spoke2 Initiated" => edits.push((SPOKE2_LINK, String::new())),
                        "partner peered" => edits.push((
                            LAST_PEERING,
                            "  - {name: hub-to-partner, virtual_network: hub, remote_virtual_network: partner}\n  \
                             - {name: partner-to-hub, virtual_network: partner, remote_virtual_network: hub}\n  \
                             - {name: spoke2-to-hub,"
                                .to_string(),
                        )),
                        _ => {}
                    }
                    if ipv6 {
                        // The hub becomes dual-stack, with a second
                        // endpoint on an IPv6 address of hub/pe; the spokes
                        // drop the hub's IPv6 range.
                        edits.push((
                            "address_space: [10.0.0.0/16]",
                            "address_space: [10.0.0.0/16, \"fd00:0:0::/48\"]".to_string(),
                        ));
                        edits.push((
                            "address_prefixes: [10.0.3.0/24]",
                            "address_prefixes: [10.0.3.0/24, \"fd00:0:0:3::/64\"]".to_string(),
                        ));
                        edits.push((
                            ENDPOINT,
                            format!(
                                "{ENDPOINT}  - {{name: pe-stcontoso-blob6, subnet: hub/pe, private_ip_address: \"fd00:0:0:3::4\", \
                                 private_service_connection: {{resource: stcontoso6, kind: storage_account, subresource_names: [blob]}}}}\n"
                            ),
                        ));
                        edits.push((
                            DEFAULT_ROUTE,
                            format!(
                                "      - {{name: hub-v6-dropped, address_prefix: \"fd00:0:0::/48\", next_hop_type: None}}\n{DEFAULT_ROUTE}"
                            ),
                        ));
                    }
                    let name = format!(
                        "{policy}, extra route {}, {peering}{}",
                        extra.map_or("none", |(p, _)| p),
                        if ipv6 { ", IPv6" } else { "" }
                    );
                    out.push((name, edits));
                }
            }
        }
    }
    out
}

fn variant_snapshot(name: &str, edits: &[(&str, String)]) -> Snapshot {
    let edits: Vec<(&str, &str)> = edits.iter().map(|(a, b)| (*a, b.as_str())).collect();
    compile(name, &edited(&edits))
}

/// The host route of an address: /32 or /128.
fn host(address: IpAddr) -> IpNet {
    IpNet::from(address)
}

/// The user routes of a subnet's route table, as (prefix, next hop, next
/// hop address).
fn user_routes(topo: &Topology, subnet: SubnetRef) -> Vec<(IpNet, NextHopType, Option<IpAddr>)> {
    topo.subnet(subnet)
        .route_table
        .map(|t| {
            topo.route_tables[t]
                .routes
                .iter()
                .map(|r| (r.address_prefix.trunc(), r.next_hop_type, r.next_hop_ip))
                .collect()
        })
        .unwrap_or_default()
}

/// The reference: the `InterfaceEndpoint` rows a port in `subnet` lists,
/// as (prefix, state, endpoint index), in endpoint order.
fn expected_rows(topo: &Topology, subnet: SubnetRef) -> Vec<(IpNet, &'static str, usize)> {
    let mut rows = Vec::new();
    let users = user_routes(topo, subnet);
    for (e, pe) in topo.private_endpoints.iter().enumerate() {
        let there = pe.subnet.vnet;
        let linked = |a, b| topo.peerings.iter().any(|p| p.vnet == a && p.remote == b);
        if there != subnet.vnet && !(linked(subnet.vnet, there) && linked(there, subnet.vnet)) {
            continue;
        }
        let route_policy = matches!(
            topo.subnet(pe.subnet).endpoint_policies.as_str(),
            "RouteTableEnabled" | "Enabled"
        );
        let range = topo.vnets[there]
            .address_space
            .iter()
            .find(|r| r.contains(&pe.address))
            .expect("the endpoint lies in its VNet");
        let overridden = users.iter().any(|(prefix, _, _)| {
            *prefix == host(pe.address)
                || (route_policy
                    && prefix.contains(&pe.address)
                    && prefix.prefix_len() >= range.prefix_len())
        });
        let state = if overridden { "Invalid" } else { "Active" };
        rows.push((host(pe.address), state, e));
    }
    rows
}

/// The `InterfaceEndpoint` rows `vnetd routes --nic` prints for a port.
fn listed_rows(snap: &Snapshot, port: PortIdx) -> Vec<(IpNet, &'static str)> {
    diagnostics::routes(snap, port)
        .value
        .into_iter()
        .filter(|r| r.next_hop_type == "InterfaceEndpoint")
        .map(|r| {
            assert_eq!(r.source, "Default");
            assert!(r.next_hop_ip_address.is_empty());
            assert_eq!(r.address_prefix.len(), 1);
            (r.address_prefix[0].parse().unwrap(), r.state)
        })
        .collect()
}

/// A TCP SYN to port 443, which the firewall's policy admits from the
/// spokes to hub/pe.
fn https(src: IpAddr, dst: IpAddr) -> Vec<u8> {
    let (IpAddr::V4(src), IpAddr::V4(dst)) = (src, dst) else {
        panic!("IPv4 only: {src} > {dst}");
    };
    let mut out = Vec::new();
    etherparse::PacketBuilder::ipv4(src.octets(), dst.octets(), 64)
        .tcp(40000, 443, 1, 64000)
        .syn()
        .write(&mut out, &[])
        .unwrap();
    out
}

#[test]
fn every_port_lists_the_endpoint_routes_the_reference_expects() {
    let mut checked_rows = 0;
    let mut states = std::collections::BTreeSet::new();
    for (name, edits) in variants() {
        let snap = variant_snapshot(&name, &edits);
        let topo = &snap.topology;
        for (port, p) in snap.plan.ports.iter_enumerated() {
            let expected: Vec<(IpNet, &str)> = expected_rows(topo, p.subnet)
                .into_iter()
                .map(|(prefix, state, _)| (prefix, state))
                .collect();
            assert_eq!(
                listed_rows(&snap, port),
                expected,
                "{name}: port {} in {}",
                p.name,
                topo.subnet_path(p.subnet)
            );
            checked_rows += expected.len();
            states.extend(
                expected
                    .iter()
                    .map(|(prefix, state)| (prefix.addr(), *state)),
            );
        }
    }
    // The variants reach both states of both endpoints.
    assert_eq!(states.len(), 4, "{states:?}");
    assert!(checked_rows > 1000, "{checked_rows}");
}

/// Where a packet from a NIC to an endpoint must go, by the reference's
/// rows: an Active row delivers to the endpoint; an Invalid one leaves it
/// to the longest user route covering the address (to the firewall, or
/// dropped by a None route); with no row, it never reaches the endpoint.
#[test]
fn packets_to_an_endpoint_go_where_the_reference_route_says() {
    let mut delivered = [0usize; 3];
    for (name, edits) in variants() {
        let snap = variant_snapshot(&name, &edits);
        let topo = &snap.topology;
        let port = |n: &str| snap.port_by_name(n).unwrap();
        for (n, nic) in topo.nics.iter().enumerate() {
            let from = PortIdx::new(n);
            let src = nic.ip_configurations[0].address;
            let rows = expected_rows(topo, nic.subnet);
            for (e, pe) in topo.private_endpoints.iter().enumerate() {
                if !pe.address.is_ipv4() {
                    continue;
                }
                let what = format!("{name}: {} -> {}", nic.name, pe.name);
                let got = decide(&snap, &Stateless, from, &https(src, pe.address), 0);
                let hop = diagnostics::next_hop(&snap, from, pe.address);
                match rows.iter().find(|(_, _, row_of)| *row_of == e) {
                    Some((_, "Active", _)) => {
                        assert_eq!(got, Verdict::Deliver(port(&pe.name)), "{what}");
                        assert_eq!(hop.next_hop_type, "InterfaceEndpoint", "{what}");
                        delivered[0] += 1;
                    }
                    Some(_) => {
                        let (prefix, next_hop, _) = user_routes(topo, nic.subnet)
                            .into_iter()
                            .filter(|(prefix, _, _)| prefix.contains(&pe.address))
                            .max_by_key(|(prefix, _, _)| prefix.prefix_len())
                            .expect("an Invalid row is overridden by a user route");
                        assert_eq!(hop.next_hop_type, next_hop.as_str(), "{what} ({prefix})");
                        match next_hop {
                            NextHopType::VirtualAppliance => {
                                assert_eq!(got, Verdict::Deliver(port("hub-fw")), "{what}");
                                delivered[1] += 1;
                            }
                            NextHopType::None => {
                                assert_eq!(
                                    got,
                                    Verdict::dropped(DropReason::RouteNone, from),
                                    "{what}"
                                );
                                delivered[2] += 1;
                            }
                            other => panic!("{what}: no such user route here: {other:?}"),
                        }
                    }
                    None => {
                        assert_ne!(hop.next_hop_type, "InterfaceEndpoint", "{what}");
                        assert!(
                            !matches!(got, Verdict::Deliver(to) if to == port(&pe.name)),
                            "{what}: {got:?}"
                        );
                    }
                }
            }
        }
    }
    // Each outcome happens.
    assert!(delivered.iter().all(|&n| n > 0), "{delivered:?}");
}

/// The trace of vm1's HTTPS to the endpoint: `(path, route of the first
/// hop)`.
fn vm1_to_the_endpoint(snap: &Snapshot) -> (Vec<String>, String) {
    let query = trace_query(snap, "vm1", "10.0.3.4", Some("Tcp"), Some(443)).unwrap();
    let t = trace(snap, &query).unwrap();
    assert_eq!(
        t.delivered_to.as_deref(),
        Some("pe-stcontoso-blob"),
        "{t:#?}"
    );
    let r = t.hops[0].route.as_ref().unwrap();
    let route = format!("{} {} {}", r.source, r.address_prefix, r.next_hop_type);
    (t.path, route)
}

#[test]
fn a_trace_crosses_the_firewall_only_where_the_policy_lets_the_user_route_decide() {
    let hub_route = (
        DEFAULT_ROUTE,
        "      - {name: hub-to-the-firewall, address_prefix: 10.0.0.0/16, next_hop_type: VirtualAppliance, next_hop_in_ip_address: 10.0.1.4}\n      - {name: everything-to-the-firewall",
    );
    let cases: [(&str, bool, &[&str], &str); 4] = [
        (
            "Disabled",
            false,
            &["pe-stcontoso-blob"],
            "Default 10.0.3.4/32 InterfaceEndpoint",
        ),
        (
            "Disabled",
            true,
            &["pe-stcontoso-blob"],
            "Default 10.0.3.4/32 InterfaceEndpoint",
        ),
        (
            "RouteTableEnabled",
            false,
            &["pe-stcontoso-blob"],
            "Default 10.0.3.4/32 InterfaceEndpoint",
        ),
        (
            "RouteTableEnabled",
            true,
            &["hub-fw", "pe-stcontoso-blob"],
            "User 10.0.0.0/16 VirtualAppliance",
        ),
    ];
    for (policy, with_hub_route, path, route) in cases {
        let policy_line = format!("private_endpoint_network_policies: {policy}");
        let mut edits = vec![(POLICY, policy_line.as_str())];
        if with_hub_route {
            edits.push(hub_route);
        }
        let snap = compile("variant.yaml", &edited(&edits));
        let (got_path, got_route) = vm1_to_the_endpoint(&snap);
        let what = format!("{policy}, hub route {with_hub_route}");
        assert_eq!(got_path, path, "{what}");
        assert_eq!(got_route, route, "{what}");
    }
}

/// hub/pe's NSG denies TCP 443 from 10.0.0.0/8: it binds to the endpoint
/// with the NSG policy alone.
#[test]
fn a_subnet_nsg_binds_to_the_endpoint_with_the_nsg_policy_only() {
    let nsg = "\nnetwork_security_groups:\n  - name: pe-nsg\n    security_rules:\n      - {name: deny-https, priority: 100, direction: Inbound, access: Deny, protocol: Tcp, source_port_range: '*', destination_port_range: '443', source_address_prefix: 10.0.0.0/8, destination_address_prefix: '*'}\n";
    for policy in [
        "Disabled",
        "NetworkSecurityGroupEnabled",
        "RouteTableEnabled",
        "Enabled",
    ] {
        let line =
            format!("{POLICY}\n        network_security_group: pe-nsg").replace("Disabled", policy);
        let snap = compile("nsg.yaml", &(edited(&[(POLICY, &line)]) + nsg));
        let bound = matches!(policy, "NetworkSecurityGroupEnabled" | "Enabled");
        let pe = snap.port_by_name("pe-stcontoso-blob").unwrap();
        // `vnetd rules` for the endpoint: the subnet's NSG, or nothing.
        let rules = diagnostics::rules(&snap, pe);
        assert_eq!(rules.value.len(), usize::from(bound), "{policy}");
        // The trace of HTTPS from vm1, and flow-verify at the endpoint.
        let query = trace_query(&snap, "vm1", "10.0.3.4", Some("Tcp"), Some(443)).unwrap();
        let t = trace(&snap, &query).unwrap();
        let flow =
            diagnostics::FlowQuery::parse("Inbound", "Tcp", "10.0.3.4:443", "10.1.1.4:40000")
                .unwrap();
        let verified = diagnostics::flow_verify(&snap, pe, &flow).verdict;
        if bound {
            assert_eq!(t.reason.as_deref(), Some("nsg_inbound"), "{policy}: {t:#?}");
            assert_eq!(
                t.rule.as_deref(),
                Some("securityRules/deny-https"),
                "{policy}"
            );
            assert_eq!(verified.access, "Deny", "{policy}");
            assert_eq!(
                verified.rule_name.as_deref(),
                Some("securityRules/deny-https")
            );
        } else {
            assert_eq!(
                t.delivered_to.as_deref(),
                Some("pe-stcontoso-blob"),
                "{policy}"
            );
            assert_eq!(
                (verified.access, verified.rule_name),
                ("Allow", None),
                "{policy}"
            );
        }
        // Port 80 meets only the default rules, which admit the VNet.
        let query = trace_query(&snap, "vm1", "10.0.3.4", Some("Tcp"), Some(80)).unwrap();
        let t = trace(&snap, &query).unwrap();
        assert_eq!(
            t.delivered_to.as_deref(),
            Some("pe-stcontoso-blob"),
            "{policy}"
        );
    }
}
