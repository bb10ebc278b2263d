//! Golden effective routes and next hops for hand-written topologies.
//!
//! Each case is a topology file under `tests/golden/`, a NIC, the exact
//! effective-route rows of the NIC's subnet (source, state, prefix, next hop
//! type, next hop IP) and the next hop for a few destinations (nextHopType,
//! nextHopIpAddress, routeTableId), as `az network nic
//! show-effective-route-table` and `az network watcher show-next-hop` would
//! print them. A user route's `routeTableId` is the route table's resource
//! ID ("routeTableId: The resource identifier for the route table
//! associated with the route being returned", NextHopResult,
//! learn.microsoft.com/javascript/api/@azure/arm-network/nexthopresult),
//! with the lab's
//! placeholder subscription and resource group; the cases below name the
//! table and [`RT_ID`] completes it. System routes say `System Route`. The expectations were worked out by hand from the rules in
//! `docs/src/azure-behaviour.md` §1–2, not produced by the code under test.

use std::net::IpAddr;
use vnetd::diagnostics;
use vnetd::snapshot::Snapshot;
use vnetd::topology::parse_str;

/// (source, state, addressPrefix, nextHopType, nextHopIpAddress)
type Row = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);
/// (destination, nextHopType, nextHopIpAddress, routeTableId)
type Hop = (&'static str, &'static str, &'static str, &'static str);

/// Next-hop type standing for "no route matched" (the packet is dropped).
const NO_ROUTE: &str = "(no route)";
const SYSTEM: &str = "System Route";
/// Resource ID of a route table, up to its name.
const RT_ID: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/VNETD/providers/Microsoft.Network/routeTables/";

fn check(file: &str, nic: &str, rows: &[Row], hops: &[Hop]) {
    let path = format!("{}/tests/golden/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let loaded = parse_str(file, &text).unwrap_or_else(|d| panic!("{file}: {d:#?}"));
    // The answers come from the compiled snapshot, as the commands and the
    // packet path read it.
    let snap = Snapshot::compile(loaded.topology, 0);
    let nic_idx = snap
        .port_by_name(nic)
        .unwrap_or_else(|| panic!("{file}: no NIC {nic}"));

    let got: Vec<(String, String, String, String, String)> = diagnostics::routes(&snap, nic_idx)
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
        .collect();
    let want: Vec<(String, String, String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r.0.to_string(),
                r.1.to_string(),
                r.2.to_string(),
                r.3.to_string(),
                r.4.to_string(),
            )
        })
        .collect();
    assert_eq!(got, want, "{file}, NIC {nic}: effective routes");

    for &(dst, hop_type, hop_ip, table_id) in hops {
        let addr: IpAddr = dst.parse().unwrap();
        let got = if snap.route(nic_idx, addr).is_none() {
            (NO_ROUTE.to_string(), String::new(), String::new())
        } else {
            let hop = diagnostics::next_hop(&snap, nic_idx, addr);
            (
                hop.next_hop_type.to_string(),
                hop.next_hop_ip_address,
                hop.route_table_id,
            )
        };
        let want = (
            hop_type.to_string(),
            hop_ip.to_string(),
            if hop_type == NO_ROUTE {
                String::new()
            } else if table_id == SYSTEM {
                SYSTEM.to_string()
            } else {
                format!("{RT_ID}{table_id}")
            },
        );
        assert_eq!(got, want, "{file}, NIC {nic}: next hop for {dst}");
    }
}

#[test]
fn golden_01_vnet_default_routes() {
    check(
        "01-vnet-defaults.yaml",
        "vm1",
        &[
            ("Default", "Active", "10.1.0.0/16", "VnetLocal", ""),
            ("Default", "Active", "0.0.0.0/0", "Internet", ""),
            ("Default", "Active", "10.0.0.0/8", "None", ""),
            ("Default", "Active", "100.64.0.0/10", "None", ""),
            ("Default", "Active", "172.16.0.0/12", "None", ""),
            ("Default", "Active", "192.168.0.0/16", "None", ""),
        ],
        &[
            ("10.1.2.5", "VnetLocal", "", SYSTEM),
            ("10.1.1.4", "VnetLocal", "", SYSTEM),
            ("10.2.0.4", "None", "", SYSTEM),
            ("8.8.8.8", "Internet", "", SYSTEM),
            ("100.64.1.1", "None", "", SYSTEM),
            ("100.128.0.1", "Internet", "", SYSTEM),
            ("172.20.0.1", "None", "", SYSTEM),
            ("192.168.0.1", "None", "", SYSTEM),
            ("2001:db8::1", NO_ROUTE, "", ""),
        ],
    );
}

#[test]
fn golden_02_vnet_range_equal_to_none_prefix() {
    check(
        "02-range-equal-to-none-prefix.yaml",
        "vm1",
        &[
            ("Default", "Active", "192.168.0.0/16", "VnetLocal", ""),
            ("Default", "Active", "10.0.0.0/8", "VnetLocal", ""),
            ("Default", "Active", "0.0.0.0/0", "Internet", ""),
            ("Default", "Active", "100.64.0.0/10", "None", ""),
            ("Default", "Active", "172.16.0.0/12", "None", ""),
        ],
        &[
            ("192.168.200.1", "VnetLocal", "", SYSTEM),
            ("10.9.9.9", "VnetLocal", "", SYSTEM),
            ("172.16.0.1", "None", "", SYSTEM),
            ("11.0.0.1", "Internet", "", SYSTEM),
        ],
    );
}

#[test]
fn golden_03_vnet_range_containing_none_prefix() {
    check(
        "03-range-contains-none-prefix.yaml",
        "vm1",
        &[
            ("Default", "Active", "172.0.0.0/11", "VnetLocal", ""),
            ("Default", "Active", "100.0.0.0/9", "VnetLocal", ""),
            ("Default", "Active", "0.0.0.0/0", "Internet", ""),
            ("Default", "Active", "10.0.0.0/8", "None", ""),
            ("Default", "Active", "192.168.0.0/16", "None", ""),
        ],
        &[
            ("172.20.1.1", "VnetLocal", "", SYSTEM),
            ("172.1.1.1", "VnetLocal", "", SYSTEM),
            ("100.100.1.1", "VnetLocal", "", SYSTEM),
            ("172.40.0.1", "Internet", "", SYSTEM),
            ("10.1.1.1", "None", "", SYSTEM),
        ],
    );
}

#[test]
fn golden_04_vnet_range_inside_none_prefix() {
    check(
        "04-range-inside-none-prefix.yaml",
        "vm1",
        &[
            ("Default", "Active", "10.10.0.0/16", "VnetLocal", ""),
            ("Default", "Active", "192.168.5.0/24", "VnetLocal", ""),
            ("Default", "Active", "0.0.0.0/0", "Internet", ""),
            ("Default", "Active", "10.0.0.0/8", "None", ""),
            ("Default", "Active", "100.64.0.0/10", "None", ""),
            ("Default", "Active", "172.16.0.0/12", "None", ""),
            ("Default", "Active", "192.168.0.0/16", "None", ""),
        ],
        &[
            ("10.10.3.3", "VnetLocal", "", SYSTEM),
            ("10.11.0.1", "None", "", SYSTEM),
            ("192.168.5.77", "VnetLocal", "", SYSTEM),
            ("192.168.6.1", "None", "", SYSTEM),
        ],
    );
}

#[test]
fn golden_05_local_peering() {
    check(
        "05-local-peering.yaml",
        "hub-vm",
        &[
            ("Default", "Active", "10.0.0.0/16", "VnetLocal", ""),
            ("Default", "Active", "10.1.0.0/16", "VNetPeering", ""),
            ("Default", "Active", "10.101.0.0/16", "VNetPeering", ""),
            ("Default", "Active", "0.0.0.0/0", "Internet", ""),
            ("Default", "Active", "10.0.0.0/8", "None", ""),
            ("Default", "Active", "100.64.0.0/10", "None", ""),
            ("Default", "Active", "172.16.0.0/12", "None", ""),
            ("Default", "Active", "192.168.0.0/16", "None", ""),
        ],
        &[
            ("10.1.1.4", "VNetPeering", "", SYSTEM),
            ("10.101.0.9", "VNetPeering", "", SYSTEM),
            ("10.2.0.1", "None", "", SYSTEM),
        ],
    );
}

#[test]
fn golden_05_local_peering_other_side() {
    check(
        "05-local-peering.yaml",
        "spoke-vm",
        &[
            ("Default", "Active", "10.1.0.0/16", "VnetLocal", ""),
            ("Default", "Active", "10.101.0.0/16", "VnetLocal", ""),
            ("Default", "Active", "10.0.0.0/16", "VNetPeering", ""),
            ("Default", "Active", "0.0.0.0/0", "Internet", ""),
            ("Default", "Active", "10.0.0.0/8", "None", ""),
            ("Default", "Active", "100.64.0.0/10", "None", ""),
            ("Default", "Active", "172.16.0.0/12", "None", ""),
            ("Default", "Active", "192.168.0.0/16", "None", ""),
        ],
        &[
            ("10.0.1.4", "VNetPeering", "", SYSTEM),
            ("10.101.0.9", "VnetLocal", "", SYSTEM),
        ],
    );
}

#[test]
fn golden_06_global_and_local_peering() {
    check(
        "06-global-peering.yaml",
        "us-vm",
        &[
            ("Default", "Active", "10.0.0.0/16", "VnetLocal", ""),
            ("Default", "Active", "10.5.0.0/16", "VNetGlobalPeering", ""),
            ("Default", "Active", "10.6.0.0/16", "VNetPeering", ""),
            ("Default", "Active", "0.0.0.0/0", "Internet", ""),
            ("Default", "Active", "10.0.0.0/8", "None", ""),
            ("Default", "Active", "100.64.0.0/10", "None", ""),
            ("Default", "Active", "172.16.0.0/12", "None", ""),
            ("Default", "Active", "192.168.0.0/16", "None", ""),
        ],
        &[
            ("10.5.1.4", "VNetGlobalPeering", "", SYSTEM),
            ("10.6.1.4", "VNetPeering", "", SYSTEM),
            ("10.7.1.4", "None", "", SYSTEM),
        ],
    );
}

const PLAIN_10_0: &[Row] = &[
    ("Default", "Active", "10.0.0.0/16", "VnetLocal", ""),
    ("Default", "Active", "0.0.0.0/0", "Internet", ""),
    ("Default", "Active", "10.0.0.0/8", "None", ""),
    ("Default", "Active", "100.64.0.0/10", "None", ""),
    ("Default", "Active", "172.16.0.0/12", "None", ""),
    ("Default", "Active", "192.168.0.0/16", "None", ""),
];

#[test]
fn golden_07_one_sided_peering_gives_no_route() {
    check(
        "07-one-sided-peering.yaml",
        "a-vm",
        PLAIN_10_0,
        &[("10.1.1.4", "None", "", SYSTEM)],
    );
}

#[test]
fn golden_07_one_sided_peering_gives_no_route_on_the_other_side() {
    check(
        "07-one-sided-peering.yaml",
        "b-vm",
        &[
            ("Default", "Active", "10.1.0.0/16", "VnetLocal", ""),
            ("Default", "Active", "0.0.0.0/0", "Internet", ""),
            ("Default", "Active", "10.0.0.0/8", "None", ""),
            ("Default", "Active", "100.64.0.0/10", "None", ""),
            ("Default", "Active", "172.16.0.0/12", "None", ""),
            ("Default", "Active", "192.168.0.0/16", "None", ""),
        ],
        &[("10.0.1.4", "None", "", SYSTEM)],
    );
}

#[test]
fn golden_08_peering_is_not_transitive() {
    check(
        "08-non-transitive.yaml",
        "a-vm",
        &[
            ("Default", "Active", "10.0.0.0/16", "VnetLocal", ""),
            ("Default", "Active", "10.1.0.0/16", "VNetPeering", ""),
            ("Default", "Active", "0.0.0.0/0", "Internet", ""),
            ("Default", "Active", "10.0.0.0/8", "None", ""),
            ("Default", "Active", "100.64.0.0/10", "None", ""),
            ("Default", "Active", "172.16.0.0/12", "None", ""),
            ("Default", "Active", "192.168.0.0/16", "None", ""),
        ],
        &[
            ("10.1.1.4", "VNetPeering", "", SYSTEM),
            ("10.2.1.4", "None", "", SYSTEM),
        ],
    );
}

#[test]
fn golden_08_the_middle_vnet_reaches_both() {
    check(
        "08-non-transitive.yaml",
        "b-vm",
        &[
            ("Default", "Active", "10.1.0.0/16", "VnetLocal", ""),
            ("Default", "Active", "10.0.0.0/16", "VNetPeering", ""),
            ("Default", "Active", "10.2.0.0/16", "VNetPeering", ""),
            ("Default", "Active", "0.0.0.0/0", "Internet", ""),
            ("Default", "Active", "10.0.0.0/8", "None", ""),
            ("Default", "Active", "100.64.0.0/10", "None", ""),
            ("Default", "Active", "172.16.0.0/12", "None", ""),
            ("Default", "Active", "192.168.0.0/16", "None", ""),
        ],
        &[
            ("10.0.1.4", "VNetPeering", "", SYSTEM),
            ("10.2.1.4", "VNetPeering", "", SYSTEM),
        ],
    );
}

#[test]
fn golden_09_user_route_beats_system_route_at_equal_prefix() {
    check(
        "09-udr-equal-prefix.yaml",
        "app-vm",
        &[
            ("Default", "Active", "10.1.0.0/16", "VnetLocal", ""),
            ("Default", "Invalid", "10.0.0.0/16", "VNetPeering", ""),
            ("Default", "Active", "0.0.0.0/0", "Internet", ""),
            ("Default", "Active", "10.0.0.0/8", "None", ""),
            ("Default", "Active", "100.64.0.0/10", "None", ""),
            ("Default", "Active", "172.16.0.0/12", "None", ""),
            ("Default", "Invalid", "192.168.0.0/16", "None", ""),
            (
                "User",
                "Active",
                "10.0.0.0/16",
                "VirtualAppliance",
                "10.0.1.4",
            ),
            (
                "User",
                "Active",
                "192.168.0.0/16",
                "VirtualAppliance",
                "10.0.1.4",
            ),
        ],
        &[
            ("10.0.2.4", "VirtualAppliance", "10.0.1.4", "spoke-rt"),
            ("10.0.1.4", "VirtualAppliance", "10.0.1.4", "spoke-rt"),
            ("192.168.77.1", "VirtualAppliance", "10.0.1.4", "spoke-rt"),
            ("10.1.0.9", "VnetLocal", "", SYSTEM),
            ("172.16.0.1", "None", "", SYSTEM),
        ],
    );
}

#[test]
fn golden_09_hub_without_route_table_keeps_system_routes() {
    check(
        "09-udr-equal-prefix.yaml",
        "nva1",
        &[
            ("Default", "Active", "10.0.0.0/16", "VnetLocal", ""),
            ("Default", "Active", "10.1.0.0/16", "VNetPeering", ""),
            ("Default", "Active", "0.0.0.0/0", "Internet", ""),
            ("Default", "Active", "10.0.0.0/8", "None", ""),
            ("Default", "Active", "100.64.0.0/10", "None", ""),
            ("Default", "Active", "172.16.0.0/12", "None", ""),
            ("Default", "Active", "192.168.0.0/16", "None", ""),
        ],
        &[("10.1.1.4", "VNetPeering", "", SYSTEM)],
    );
}

#[test]
fn golden_10_default_user_route_to_nva_removes_none_rows() {
    check(
        "10-forced-tunnel.yaml",
        "app-vm",
        &[
            ("Default", "Active", "10.1.0.0/16", "VnetLocal", ""),
            ("Default", "Active", "10.0.0.0/16", "VNetPeering", ""),
            ("Default", "Invalid", "0.0.0.0/0", "Internet", ""),
            (
                "User",
                "Active",
                "0.0.0.0/0",
                "VirtualAppliance",
                "10.0.1.4",
            ),
        ],
        &[
            ("8.8.8.8", "VirtualAppliance", "10.0.1.4", "spoke-rt"),
            ("192.168.1.1", "VirtualAppliance", "10.0.1.4", "spoke-rt"),
            ("10.9.0.1", "VirtualAppliance", "10.0.1.4", "spoke-rt"),
            ("100.64.0.1", "VirtualAppliance", "10.0.1.4", "spoke-rt"),
            ("10.0.1.4", "VNetPeering", "", SYSTEM),
            ("10.1.1.5", "VnetLocal", "", SYSTEM),
        ],
    );
}

#[test]
fn golden_11_user_route_equal_to_vnet_range_with_local_subnet_route() {
    check(
        "11-udr-vnet-range-local-subnet.yaml",
        "vm1",
        &[
            ("Default", "Invalid", "10.0.0.0/16", "VnetLocal", ""),
            ("Default", "Active", "0.0.0.0/0", "Internet", ""),
            ("Default", "Active", "10.0.0.0/8", "None", ""),
            ("Default", "Active", "100.64.0.0/10", "None", ""),
            ("Default", "Active", "172.16.0.0/12", "None", ""),
            ("Default", "Active", "192.168.0.0/16", "None", ""),
            (
                "User",
                "Active",
                "10.0.0.0/16",
                "VirtualAppliance",
                "10.0.100.4",
            ),
            ("User", "Active", "10.0.0.0/24", "VnetLocal", ""),
        ],
        &[
            ("10.0.0.5", "VnetLocal", "", "subnet1-rt"),
            ("10.0.1.5", "VirtualAppliance", "10.0.100.4", "subnet1-rt"),
            ("10.0.100.4", "VirtualAppliance", "10.0.100.4", "subnet1-rt"),
            ("10.1.0.1", "None", "", SYSTEM),
            ("1.1.1.1", "Internet", "", SYSTEM),
        ],
    );
}

#[test]
fn golden_11_nva_subnet_is_unaffected() {
    check(
        "11-udr-vnet-range-local-subnet.yaml",
        "nva1",
        PLAIN_10_0,
        &[("10.0.0.4", "VnetLocal", "", SYSTEM)],
    );
}

#[test]
fn golden_12_none_user_routes_drop() {
    check(
        "12-none-udr.yaml",
        "a-vm",
        &[
            ("Default", "Active", "10.0.0.0/16", "VnetLocal", ""),
            ("Default", "Invalid", "10.1.0.0/16", "VNetPeering", ""),
            ("Default", "Active", "10.2.0.0/16", "VNetPeering", ""),
            ("Default", "Active", "0.0.0.0/0", "Internet", ""),
            ("Default", "Active", "10.0.0.0/8", "None", ""),
            ("Default", "Active", "100.64.0.0/10", "None", ""),
            ("Default", "Active", "172.16.0.0/12", "None", ""),
            ("Default", "Active", "192.168.0.0/16", "None", ""),
            ("User", "Active", "10.1.0.0/16", "None", ""),
            ("User", "Active", "203.0.113.0/24", "None", ""),
        ],
        &[
            ("10.1.1.4", "None", "", "a-rt"),
            ("10.2.1.4", "VNetPeering", "", SYSTEM),
            ("203.0.113.9", "None", "", "a-rt"),
            ("203.0.114.1", "Internet", "", SYSTEM),
        ],
    );
}

#[test]
fn golden_13_more_specific_user_route_to_another_subnet_via_nva() {
    check(
        "13-inter-subnet-nva.yaml",
        "web-vm",
        &[
            ("Default", "Active", "10.0.0.0/16", "VnetLocal", ""),
            ("Default", "Active", "0.0.0.0/0", "Internet", ""),
            ("Default", "Active", "10.0.0.0/8", "None", ""),
            ("Default", "Active", "100.64.0.0/10", "None", ""),
            ("Default", "Active", "172.16.0.0/12", "None", ""),
            ("Default", "Active", "192.168.0.0/16", "None", ""),
            (
                "User",
                "Active",
                "10.0.2.0/24",
                "VirtualAppliance",
                "10.0.3.4",
            ),
        ],
        &[
            ("10.0.2.4", "VirtualAppliance", "10.0.3.4", "web-rt"),
            ("10.0.1.5", "VnetLocal", "", SYSTEM),
            ("10.0.3.4", "VnetLocal", "", SYSTEM),
        ],
    );
}

#[test]
fn golden_13_return_path_is_symmetric() {
    check(
        "13-inter-subnet-nva.yaml",
        "db-vm",
        &[
            ("Default", "Active", "10.0.0.0/16", "VnetLocal", ""),
            ("Default", "Active", "0.0.0.0/0", "Internet", ""),
            ("Default", "Active", "10.0.0.0/8", "None", ""),
            ("Default", "Active", "100.64.0.0/10", "None", ""),
            ("Default", "Active", "172.16.0.0/12", "None", ""),
            ("Default", "Active", "192.168.0.0/16", "None", ""),
            (
                "User",
                "Active",
                "10.0.1.0/24",
                "VirtualAppliance",
                "10.0.3.4",
            ),
        ],
        &[
            ("10.0.1.4", "VirtualAppliance", "10.0.3.4", "db-rt"),
            ("10.0.2.5", "VnetLocal", "", SYSTEM),
        ],
    );
}

#[test]
fn golden_14_dual_stack_global_peering_with_ipv6_default_user_route() {
    check(
        "14-dual-stack-global.yaml",
        "left-vm",
        &[
            ("Default", "Active", "10.60.0.0/16", "VnetLocal", ""),
            ("Default", "Active", "fd00:10::/48", "VnetLocal", ""),
            ("Default", "Active", "10.70.0.0/16", "VNetGlobalPeering", ""),
            ("Default", "Active", "fd00:20::/48", "VNetGlobalPeering", ""),
            ("Default", "Active", "0.0.0.0/0", "Internet", ""),
            ("Default", "Invalid", "::/0", "Internet", ""),
            ("Default", "Active", "10.0.0.0/8", "None", ""),
            ("Default", "Active", "100.64.0.0/10", "None", ""),
            ("Default", "Active", "172.16.0.0/12", "None", ""),
            ("Default", "Active", "192.168.0.0/16", "None", ""),
            (
                "User",
                "Active",
                "::/0",
                "VirtualAppliance",
                "fd00:10:0:2::4",
            ),
        ],
        &[
            ("fd00:20:0:1::4", "VNetGlobalPeering", "", SYSTEM),
            ("fd00:10:0:1::5", "VnetLocal", "", SYSTEM),
            ("fd00:10:0:ffff::1", "VnetLocal", "", SYSTEM),
            (
                "fd00:10:1::1",
                "VirtualAppliance",
                "fd00:10:0:2::4",
                "left-rt",
            ),
            (
                "2001:db8::1",
                "VirtualAppliance",
                "fd00:10:0:2::4",
                "left-rt",
            ),
            (
                "fd00:30::1",
                "VirtualAppliance",
                "fd00:10:0:2::4",
                "left-rt",
            ),
            ("8.8.8.8", "Internet", "", SYSTEM),
            ("10.70.1.4", "VNetGlobalPeering", "", SYSTEM),
            ("10.80.1.4", "None", "", SYSTEM),
        ],
    );
}

#[test]
fn golden_14_dual_stack_peer_side() {
    check(
        "14-dual-stack-global.yaml",
        "right-vm",
        &[
            ("Default", "Active", "10.70.0.0/16", "VnetLocal", ""),
            ("Default", "Active", "fd00:20::/48", "VnetLocal", ""),
            ("Default", "Active", "10.60.0.0/16", "VNetGlobalPeering", ""),
            ("Default", "Active", "fd00:10::/48", "VNetGlobalPeering", ""),
            ("Default", "Active", "0.0.0.0/0", "Internet", ""),
            ("Default", "Active", "::/0", "Internet", ""),
            ("Default", "Active", "10.0.0.0/8", "None", ""),
            ("Default", "Active", "100.64.0.0/10", "None", ""),
            ("Default", "Active", "172.16.0.0/12", "None", ""),
            ("Default", "Active", "192.168.0.0/16", "None", ""),
        ],
        &[
            ("fd00:10:0:1::4", "VNetGlobalPeering", "", SYSTEM),
            ("2001:db8::1", "Internet", "", SYSTEM),
        ],
    );
}

#[test]
fn golden_15_ipv4_vnet_with_dual_stack_peer_has_no_ipv6_default() {
    check(
        "15-ipv4-vnet-dual-stack-peer.yaml",
        "v4-vm",
        &[
            ("Default", "Active", "10.0.0.0/16", "VnetLocal", ""),
            ("Default", "Active", "10.1.0.0/16", "VNetPeering", ""),
            ("Default", "Active", "fd00:b::/48", "VNetPeering", ""),
            ("Default", "Active", "0.0.0.0/0", "Internet", ""),
            ("Default", "Active", "10.0.0.0/8", "None", ""),
            ("Default", "Active", "100.64.0.0/10", "None", ""),
            ("Default", "Active", "172.16.0.0/12", "None", ""),
            ("Default", "Active", "192.168.0.0/16", "None", ""),
        ],
        &[
            ("fd00:b:0:1::4", "VNetPeering", "", SYSTEM),
            ("2001:db8::1", NO_ROUTE, "", ""),
            ("10.1.1.4", "VNetPeering", "", SYSTEM),
        ],
    );
}

/// 168.63.129.16 "isn't subject to user defined routes"
/// (learn.microsoft.com/azure/virtual-network/what-is-ip-address-168-63-129-16):
/// a 0/0 user route to an NVA or to None does not capture it. Its next hop
/// is the system 0.0.0.0/0 row (Internet, `System Route`), listed Invalid
/// because the user route wins for every other address; other destinations
/// still follow the user route.
#[test]
fn golden_17_host_vip_ignores_forced_tunnel_user_routes() {
    let rows_with = |user: (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    )| {
        vec![
            ("Default", "Active", "10.3.0.0/16", "VnetLocal", ""),
            ("Default", "Active", "10.0.0.0/16", "VNetPeering", ""),
            ("Default", "Invalid", "0.0.0.0/0", "Internet", ""),
            user,
        ]
    };
    check(
        "17-host-vip-forced-tunnel.yaml",
        "tunnel-vm",
        &rows_with((
            "User",
            "Active",
            "0.0.0.0/0",
            "VirtualAppliance",
            "10.0.1.4",
        )),
        &[
            ("168.63.129.16", "Internet", "", SYSTEM),
            (
                "168.63.129.17",
                "VirtualAppliance",
                "10.0.1.4",
                "default-via-nva",
            ),
            ("8.8.8.8", "VirtualAppliance", "10.0.1.4", "default-via-nva"),
        ],
    );
    check(
        "17-host-vip-forced-tunnel.yaml",
        "sealed-vm",
        &rows_with(("User", "Active", "0.0.0.0/0", "None", "")),
        &[
            ("168.63.129.16", "Internet", "", SYSTEM),
            ("8.8.8.8", "None", "", "default-none"),
        ],
    );
}

/// The fabric decides 168.63.129.16 from the same row `next-hop` names: the
/// packet is not carried to the NVA (nor dropped by the None route), but
/// meets the Internet next hop, which the lab does not have.
#[test]
fn golden_17_the_fabric_agrees_with_next_hop_for_the_host_vip() {
    use vnetd::dataplane::{decide, DropReason, Stateless, Verdict};
    let file = "17-host-vip-forced-tunnel.yaml";
    let path = format!("{}/tests/golden/{file}", env!("CARGO_MANIFEST_DIR"));
    let loaded = parse_str(file, &std::fs::read_to_string(&path).unwrap()).unwrap();
    let snap = Snapshot::compile(loaded.topology, 0);
    let nic = |n: &str| snap.port_by_name(n).unwrap();
    let udp = |src: [u8; 4], dst: [u8; 4]| {
        let mut out = Vec::new();
        etherparse::PacketBuilder::ipv4(src, dst, 64)
            .udp(40000, 53)
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
}

#[test]
fn golden_40_a_load_balancer_frontend_is_a_virtual_appliance_next_hop_across_peering() {
    check(
        "40-ilb-ha-ports.yaml",
        "vm1",
        &[
            ("Default", "Active", "10.1.0.0/16", "VnetLocal", ""),
            ("Default", "Active", "10.0.0.0/16", "VNetPeering", ""),
            ("Default", "Active", "0.0.0.0/0", "Internet", ""),
            ("Default", "Active", "10.0.0.0/8", "None", ""),
            ("Default", "Active", "100.64.0.0/10", "None", ""),
            ("Default", "Active", "172.16.0.0/12", "None", ""),
            ("Default", "Active", "192.168.0.0/16", "None", ""),
            (
                "User",
                "Active",
                "10.2.0.0/16",
                "VirtualAppliance",
                "10.0.1.100",
            ),
        ],
        &[
            ("10.2.1.4", "VirtualAppliance", "10.0.1.100", "spoke1-rt"),
            ("10.0.1.100", "VNetPeering", "", SYSTEM),
            ("10.0.2.100", "VNetPeering", "", SYSTEM),
        ],
    );
}
