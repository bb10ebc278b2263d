//! Golden effective routes and next hops for hand-written topologies.
//!
//! The cases are data: `tests/golden/routes/cases.yaml` names a topology
//! under `tests/golden/`, a NIC and destinations; `<case>.snap` beside it
//! holds the exact effective-route rows of the NIC's subnet and the next
//! hop of each destination, as `az network nic show-effective-route-table`
//! and `az network watcher show-next-hop` would print them. A user
//! route's `routeTableId` is the route table's resource ID ("routeTableId:
//! The resource identifier for the route table associated with the route
//! being returned", NextHopResult,
//! learn.microsoft.com/javascript/api/@azure/arm-network/nexthopresult),
//! with the lab's placeholder subscription and resource group: the
//! snapshots name the table, [`RT_ID`] completes it. System routes say
//! `System Route`. The expectations were worked out by hand from the rules
//! in `docs/src/azure-behaviour.md` §1–2, not produced by the code under
//! test.

use crate::common::golden_cases::{check_cases, Case};
use std::fmt::Write as _;
use std::net::IpAddr;
use vnetd::diagnostics;
use vnetd::snapshot::Snapshot;
use vnetd::topology::parse_str;

/// Next-hop type standing for "no route matched" (the packet is dropped).
const NO_ROUTE: &str = "(no route)";
/// Resource ID of a route table, up to its name.
const RT_ID: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/VNETD/providers/Microsoft.Network/routeTables/";

fn golden_snapshot(file: &str) -> Snapshot {
    let path = format!("{}/tests/golden/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let loaded = parse_str(file, &text).unwrap_or_else(|d| panic!("{file}: {d:#?}"));
    Snapshot::compile(loaded.topology, 0)
}

/// The effective routes of the case's NIC, one row a line (source,
/// state, prefixes, next hop type, next hop IPs), then the next hop of
/// each destination (type, IP, and the route table in parentheses), or
/// `(no route)`.
fn answers(case: &Case) -> String {
    let (file, nic) = (case.text("topology"), case.text("nic"));
    // The answers come from the compiled snapshot, as the commands and the
    // packet path read it.
    let snap = golden_snapshot(&file);
    let nic_idx = snap
        .port_by_name(&nic)
        .unwrap_or_else(|| panic!("{file}: no NIC {nic}"));
    let mut out = String::from("routes:\n");
    for r in diagnostics::routes(&snap, nic_idx).value {
        let mut cells = vec![
            r.source.to_string(),
            r.state.to_string(),
            r.address_prefix.join(","),
            r.next_hop_type.to_string(),
        ];
        cells.extend((!r.next_hop_ip_address.is_empty()).then(|| r.next_hop_ip_address.join(",")));
        let _ = writeln!(out, "  {}", cells.join(" "));
    }
    out.push_str("next hops:\n");
    for dst in case.texts("next_hops") {
        let addr: IpAddr = dst
            .parse()
            .unwrap_or_else(|_| panic!("{}: {dst}", case.name));
        if snap.route(nic_idx, addr).is_none() {
            let _ = writeln!(out, "  {dst} {NO_ROUTE}");
            continue;
        }
        let hop = diagnostics::next_hop(&snap, nic_idx, addr);
        let ip = match hop.next_hop_ip_address.as_str() {
            "" => String::new(),
            ip => format!(" {ip}"),
        };
        let table = hop
            .route_table_id
            .strip_prefix(RT_ID)
            .unwrap_or(&hop.route_table_id);
        let _ = writeln!(out, "  {dst} {}{ip} ({table})", hop.next_hop_type);
    }
    out
}

#[test]
fn golden_effective_routes_and_next_hops() {
    check_cases("tests/golden/routes", answers);
}

/// The fabric decides 168.63.129.16 from the same row `next-hop` names: the
/// packet is not carried to the NVA (nor dropped by the None route), but
/// meets the Internet next hop, which the lab does not have. A DNS query
/// there is Azure DNS's, whatever the routes say: it reaches the VNet's
/// Azure DNS port.
#[test]
fn golden_17_the_fabric_agrees_with_next_hop_for_the_host_vip() {
    use vnetd::dataplane::{decide, DropReason, Stateless, Verdict};
    let snap = golden_snapshot("17-host-vip-forced-tunnel.yaml");
    let nic = |n: &str| snap.port_by_name(n).unwrap();
    let udp = |src: [u8; 4], dst: [u8; 4]| {
        let mut out = Vec::new();
        etherparse::PacketBuilder::ipv4(src, dst, 64)
            .udp(40000, 8080)
            .write(&mut out, b"q")
            .unwrap();
        out
    };
    const VIP: [u8; 4] = [168, 63, 129, 16];
    let cases = [
        ("tunnel-vm", [10, 3, 1, 4], VIP, "Internet"),
        ("tunnel-vm", [10, 3, 1, 4], [8, 8, 8, 8], "VirtualAppliance"),
        ("sealed-vm", [10, 3, 2, 4], VIP, "Internet"),
        ("sealed-vm", [10, 3, 2, 4], [8, 8, 8, 8], "None"),
    ];
    for (from, src, dst, hop_type) in cases {
        let hop = diagnostics::next_hop(&snap, nic(from), IpAddr::from(dst));
        assert_eq!(hop.next_hop_type, hop_type, "{from} -> {dst:?}");
        let verdict = decide(&snap, &Stateless, nic(from), &udp(src, dst), 0);
        let expected = match hop_type {
            "Internet" => Verdict::dropped(DropReason::NextHopInternet, nic(from)),
            "None" => Verdict::dropped(DropReason::RouteNone, nic(from)),
            _ => Verdict::Deliver(nic("fw")),
        };
        assert_eq!(verdict, expected, "{from} -> {dst:?}");
    }
    for from in ["tunnel-vm", "sealed-vm"] {
        let mut query = Vec::new();
        let src = snap.topology.nics[snap.topology.nic_by_name(from).unwrap()].ip_configurations[0]
            .address;
        let std::net::IpAddr::V4(src) = src else {
            unreachable!("the golden lab is IPv4")
        };
        etherparse::PacketBuilder::ipv4(src.octets(), VIP, 64)
            .udp(40000, 53)
            .write(&mut query, b"q")
            .unwrap();
        let vnet = snap.topology.nics[snap.topology.nic_by_name(from).unwrap()]
            .subnet
            .vnet;
        let dns = snap
            .plan
            .azure_dns(vnet)
            .expect("every VNet with NICs has Azure DNS");
        let verdict = decide(&snap, &Stateless, nic(from), &query, 0);
        assert_eq!(verdict, Verdict::Deliver(dns), "{from} asks Azure DNS");
    }
}
