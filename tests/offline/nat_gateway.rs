//! A NAT gateway's ports on real packets through the decision: with one
//! public address, exactly 50,000 UDP flows to one destination get a port
//! each (Azure's "50,000 concurrent connections per public IP address to
//! the same destination"), every one distinct and from 1024 on; the next
//! is dropped as `snat_port_exhausted`, while another destination port
//! still gets one. Each reply finds its flow's private address and port;
//! a Standard gateway drops a ping, a StandardV2 one translates it, and
//! IPv6 flows to IPv6 addresses of its own. A flow table with no room
//! for a translation drops the flow as `flow_table_full`, never as SNAT
//! exhaustion, and keeps every translation it holds.

use crate::common::packets::{ping4, udp4};
use std::collections::HashSet;
use std::net::IpAddr;
use vnetd::dataplane::conntrack::{NicOwners, EDGE_STABLE_ID, FRONTEND_OWNERS};
use vnetd::dataplane::{decide, DropReason, Rewrite, Verdict};
use vnetd::engine::flow_table::{FlowOwner, FlowTable};
use vnetd::snapshot::Snapshot;

fn lab(sku: &str) -> Snapshot {
    let text = format!(
        "internet:
  servers: [{{name: echo, address: 203.0.113.10, ports: [80]}}]
public_ip_addresses:
  - {{name: nat-pip, ip_address: 198.51.100.10}}
nat_gateways:
  - {{name: nat, sku_name: {sku}, public_ip_addresses: [nat-pip], subnets: [vn/app]}}
vnets:
  - name: vn
    address_space: [10.1.0.0/16]
    subnets:
      - {{name: app, address_prefixes: [10.1.1.0/24]}}
network_interfaces:
  - {{name: vm1, subnet: vn/app, private_ip_address: 10.1.1.4}}
  - {{name: vm2, subnet: vn/app, private_ip_address: 10.1.1.5}}
"
    );
    let loaded = vnetd::plan::parse_str("nat.yaml", &text).unwrap();
    Snapshot::compile(loaded.topology, 1)
}

fn table() -> FlowTable {
    FlowTable::new(1 << 20, NicOwners::MAX_OWNERS, 400_000)
}

#[test]
fn one_address_carries_50000_flows_to_one_destination_and_no_more() {
    let snap = lab("Standard");
    let flows = table();
    let vm1 = snap.port_by_name("vm1").unwrap();
    let internet = snap.port_by_name("internet").unwrap();
    let nat: IpAddr = "198.51.100.10".parse().unwrap();
    let mut ports = HashSet::new();
    let mut first = None;
    for sport in 10_000..60_000u16 {
        let verdict = decide(
            &snap,
            &flows,
            vm1,
            &udp4("10.1.1.4", "203.0.113.10", sport, 53),
            0,
        );
        match verdict {
            Verdict::Translate {
                nic,
                rewrite: Rewrite::Source { address, port },
            } if nic == internet && address == nat => {
                assert!((1024..51_024).contains(&port), "port {port}");
                assert!(ports.insert(port), "port {port} given twice");
                first.get_or_insert((sport, port));
            }
            other => panic!("flow from port {sport}: {other:?}"),
        }
    }
    assert_eq!(ports.len(), 50_000);
    let next = decide(
        &snap,
        &flows,
        vm1,
        &udp4("10.1.1.4", "203.0.113.10", 60_000, 53),
        0,
    );
    assert_eq!(
        next,
        Verdict::dropped(DropReason::SnatPortExhausted, vm1),
        "the 50,001st flow to one destination"
    );
    // Ports are per destination: another port of the same server has all
    // of them.
    let other = decide(
        &snap,
        &flows,
        vm1,
        &udp4("10.1.1.4", "203.0.113.10", 60_000, 54),
        0,
    );
    assert!(
        matches!(other, Verdict::Translate { nic, .. } if nic == internet),
        "{other:?}"
    );
    // A reply finds its flow.
    let (sport, port) = first.unwrap();
    let reply = decide(
        &snap,
        &flows,
        internet,
        &udp4("203.0.113.10", "198.51.100.10", 53, port),
        0,
    );
    assert_eq!(
        reply,
        Verdict::Translate {
            nic: vm1,
            rewrite: Rewrite::Destination {
                address: "10.1.1.4".parse().unwrap(),
                port: sport
            }
        }
    );
}

#[test]
fn a_standard_gateway_drops_pings_and_a_standard_v2_translates_them() {
    let snap = lab("Standard");
    let vm2 = snap.port_by_name("vm2").unwrap();
    let verdict = decide(&snap, &table(), vm2, &ping4("10.1.1.5", "203.0.113.10"), 0);
    assert_eq!(verdict, Verdict::dropped(DropReason::NatProtocol, vm2));
    let snap = lab("StandardV2");
    let internet = snap.port_by_name("internet").unwrap();
    let verdict = decide(&snap, &table(), vm2, &ping4("10.1.1.5", "203.0.113.10"), 0);
    assert!(
        matches!(verdict, Verdict::Translate { nic, rewrite: Rewrite::Source { address, .. } }
            if nic == internet && address == "198.51.100.10".parse::<IpAddr>().unwrap()),
        "{verdict:?}"
    );
}

#[test]
fn an_unsolicited_packet_to_the_gateway_is_dropped() {
    let snap = lab("Standard");
    let internet = snap.port_by_name("internet").unwrap();
    let verdict = decide(
        &snap,
        &table(),
        internet,
        &udp4("203.0.113.10", "198.51.100.10", 53, 4000),
        0,
    );
    assert_eq!(
        verdict,
        Verdict::dropped(DropReason::NatUnsolicited, internet)
    );
}

/// A StandardV2 NAT gateway with an address of each family: an IPv6 flow
/// leaves with its IPv6 address, an IPv4 one with its IPv4 address, and
/// the IPv6 reply finds its flow.
#[test]
fn a_standard_v2_gateway_translates_each_family_to_its_own_address() {
    let text = include_str!("../fixtures/nat-v2-dual-stack.yaml");
    let snap = Snapshot::compile(
        vnetd::plan::parse_str("nat6.yaml", text).unwrap().topology,
        1,
    );
    let flows = table();
    let vm1 = snap.port_by_name("vm1").unwrap();
    let internet = snap.port_by_name("internet").unwrap();
    let udp6 = |src: &str, dst: &str, sport: u16, dport: u16| {
        let (IpAddr::V6(s), IpAddr::V6(d)) = (src.parse().unwrap(), dst.parse().unwrap()) else {
            unreachable!()
        };
        let mut out = Vec::new();
        etherparse::PacketBuilder::ipv6(s.octets(), d.octets(), 64)
            .udp(sport, dport)
            .write(&mut out, b"x")
            .unwrap();
        out
    };
    let out = decide(
        &snap,
        &flows,
        vm1,
        &udp6("fd00:1:0:1::4", "2001:db8:ffff::10", 5000, 53),
        0,
    );
    let Verdict::Translate {
        nic,
        rewrite: Rewrite::Source { address, port },
    } = out
    else {
        panic!("{out:?}")
    };
    assert_eq!(
        (nic, address),
        (internet, "2001:db8:100::10".parse().unwrap())
    );
    let back = decide(
        &snap,
        &flows,
        internet,
        &udp6("2001:db8:ffff::10", "2001:db8:100::10", 53, port),
        0,
    );
    assert_eq!(
        back,
        Verdict::Translate {
            nic: vm1,
            rewrite: Rewrite::Destination {
                address: "fd00:1:0:1::4".parse().unwrap(),
                port: 5000
            }
        }
    );
    let v4 = decide(
        &snap,
        &flows,
        vm1,
        &udp4("10.1.1.4", "203.0.113.10", 5000, 53),
        0,
    );
    assert!(
        matches!(v4, Verdict::Translate { rewrite: Rewrite::Source { address, .. }, .. }
            if address == "198.51.100.10".parse::<IpAddr>().unwrap()),
        "{v4:?}"
    );
}

/// Sends one datagram of each of `sports` from vm1 to 203.0.113.10:53
/// through `flows`: the flows translated (source port, public port) and
/// the drops, in order.
fn send_flows(
    snap: &Snapshot,
    flows: &FlowTable,
    sports: std::ops::Range<u16>,
) -> (Vec<(u16, u16)>, Vec<DropReason>) {
    let vm1 = snap.port_by_name("vm1").unwrap();
    let (mut translated, mut dropped) = (Vec::new(), Vec::new());
    for sport in sports {
        match decide(
            snap,
            flows,
            vm1,
            &udp4("10.1.1.4", "203.0.113.10", sport, 53),
            0,
        ) {
            Verdict::Translate {
                rewrite: Rewrite::Source { port, .. },
                ..
            } => translated.push((sport, port)),
            Verdict::Drop { reason, at, .. } if at == vm1 => dropped.push(reason),
            other => panic!("flow from port {sport}: {other:?}"),
        }
    }
    (translated, dropped)
}

/// Each translated flow's reply still finds its private side.
fn assert_replies_find(snap: &Snapshot, flows: &FlowTable, translated: &[(u16, u16)]) {
    let internet = snap.port_by_name("internet").unwrap();
    let vm1 = snap.port_by_name("vm1").unwrap();
    for &(sport, port) in translated {
        let reply = udp4("203.0.113.10", "198.51.100.10", 53, port);
        assert_eq!(
            decide(snap, flows, internet, &reply, 0),
            Verdict::Translate {
                nic: vm1,
                rewrite: Rewrite::Destination {
                    address: "10.1.1.4".parse().unwrap(),
                    port: sport
                }
            },
            "the reply to port {port}"
        );
    }
}

/// The translations the table holds: the edge's flows.
fn edge_flows(flows: &FlowTable) -> usize {
    flows.owner_len(FlowOwner::new(
        NicOwners::NICS + EDGE_STABLE_ID % FRONTEND_OWNERS,
    ))
}

/// A table whose share for the edge's translations is 100 flows: the
/// first 100 flows are translated, every later one is dropped as
/// `flow_table_full` (ports are left: this is the lab's limit, not
/// Azure's), and none of the 100 is evicted for a newer one.
#[test]
fn a_flow_table_without_room_drops_as_flow_table_full_and_keeps_its_translations() {
    let snap = lab("Standard");
    let flows = FlowTable::new(1 << 16, NicOwners::MAX_OWNERS, 100);
    let (translated, dropped) = send_flows(&snap, &flows, 10_000..10_150);
    assert_eq!(translated.len(), 100);
    assert_eq!(translated.last().unwrap().0, 10_099, "the first 100 flows");
    assert_eq!(dropped, vec![DropReason::FlowTableFull; 50]);
    assert_eq!(edge_flows(&flows), 100);
    assert_replies_find(&snap, &flows, &translated);
}

/// A table too small for its flows (a translation is a pair of entries,
/// beside the sender's and the Internet's entries of the flow, which
/// may be evicted) fills where its probe windows do: every flow is
/// translated or dropped as `flow_table_full`, never as SNAT exhaustion,
/// and every translation made is still there.
#[test]
fn a_small_flow_table_fills_as_flow_table_full_never_as_snat_exhaustion() {
    let snap = lab("Standard");
    let flows = FlowTable::new(256, NicOwners::MAX_OWNERS, 0);
    let (translated, dropped) = send_flows(&snap, &flows, 10_000..10_200);
    assert!(
        !translated.is_empty() && !dropped.is_empty(),
        "{translated:?}"
    );
    assert!(translated.len() * 2 <= 256, "{} flows", translated.len());
    assert!(
        dropped.iter().all(|r| *r == DropReason::FlowTableFull),
        "{dropped:?}"
    );
    assert_eq!(edge_flows(&flows), translated.len());
    assert_replies_find(&snap, &flows, &translated);
}
