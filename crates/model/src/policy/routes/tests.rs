//! Tests of effective routes.

use super::*;
use crate::fixtures::{first_subnet, net, peering, private_endpoint, route, table, vnet};
use crate::topology::model::{Peering, Route, SubnetIdx, Vnet};

/// (source, state, prefix, next hop) of each row, as strings.
fn summary(rows: &[EffectiveRoute]) -> Vec<(&'static str, &'static str, String, &'static str)> {
    rows.iter()
        .map(|r| {
            (
                r.source.as_str(),
                r.state.as_str(),
                r.address_prefix.to_string(),
                r.next_hop_type.as_str(),
            )
        })
        .collect()
}

fn row(
    source: &'static str,
    state: &'static str,
    prefix: &str,
    hop: &'static str,
) -> (&'static str, &'static str, String, &'static str) {
    (source, state, prefix.to_string(), hop)
}

fn decide<'a>(rows: &'a [EffectiveRoute], dst: &str) -> Option<&'a EffectiveRoute> {
    deciding_row(rows, dst.parse().unwrap()).and_then(|i| rows.get(i))
}

/// The next hop type of the row deciding `dst`, which one must.
fn hop(rows: &[EffectiveRoute], dst: &str) -> NextHopType {
    decide(rows, dst).unwrap().next_hop_type
}

/// A topology of `vnets` and the `peerings` between them.
fn peered(vnets: Vec<Vnet>, peerings: Vec<Peering>) -> Topology {
    Topology {
        vnets: vnets.into(),
        peerings,
        ..Default::default()
    }
}

/// VNet `a` over `ranges`, alone.
fn alone(ranges: &[&str]) -> Topology {
    peered(vec![vnet("a", "westus", ranges, None)], vec![])
}

/// VNet `a` (10.0.0.0/16), whose subnet's route table holds `routes`.
fn with_routes(routes: Vec<Route>) -> Topology {
    Topology {
        route_tables: vec![table(routes)].into(),
        ..peered(vec![vnet("a", "westus", &["10.0.0.0/16"], Some(0))], vec![])
    }
}

#[test]
fn default_routes_of_a_plain_vnet() {
    let topo = alone(&["10.0.0.0/16"]);
    let rows = effective_routes(&topo, first_subnet(0));
    assert_eq!(
        summary(&rows),
        [
            row("Default", "Active", "10.0.0.0/16", "VnetLocal"),
            row("Default", "Active", "0.0.0.0/0", "Internet"),
            row("Default", "Active", "10.0.0.0/8", "None"),
            row("Default", "Active", "100.64.0.0/10", "None"),
            row("Default", "Active", "172.16.0.0/12", "None"),
            row("Default", "Active", "192.168.0.0/16", "None"),
        ]
    );
    assert_eq!(hop(&rows, "10.0.5.5"), NextHopType::VnetLocal);
    assert_eq!(hop(&rows, "10.1.5.5"), NextHopType::None);
    assert_eq!(hop(&rows, "8.8.8.8"), NextHopType::Internet);
    assert!(decide(&rows, "2001:db8::1").is_none());
}

#[test]
fn vnet_range_equal_to_a_reserved_prefix_replaces_its_none_row() {
    let topo = alone(&["172.16.0.0/12"]);
    let rows = effective_routes(&topo, first_subnet(0));
    let for_prefix: Vec<_> = summary(&rows)
        .into_iter()
        .filter(|r| r.2 == "172.16.0.0/12")
        .collect();
    assert_eq!(
        for_prefix,
        [row("Default", "Active", "172.16.0.0/12", "VnetLocal")]
    );
    assert_eq!(rows.len(), 5);
}

#[test]
fn vnet_range_containing_a_reserved_prefix_removes_its_none_row() {
    let topo = alone(&["192.0.0.0/8"]);
    let rows = effective_routes(&topo, first_subnet(0));
    assert!(rows
        .iter()
        .all(|r| r.address_prefix != net("192.168.0.0/16")));
    assert_eq!(hop(&rows, "192.168.1.1"), NextHopType::VnetLocal);
    // The other reserved rows stay.
    assert!(rows.iter().any(|r| r.address_prefix == net("10.0.0.0/8")));
}

#[test]
fn vnet_range_inside_a_reserved_prefix_keeps_both_rows() {
    let topo = alone(&["192.168.10.0/24"]);
    let rows = effective_routes(&topo, first_subnet(0));
    assert!(rows
        .iter()
        .any(|r| r.address_prefix == net("192.168.0.0/16") && r.is_active()));
    assert_eq!(hop(&rows, "192.168.10.9"), NextHopType::VnetLocal);
    assert_eq!(hop(&rows, "192.168.11.9"), NextHopType::None);
}

#[test]
fn connected_peer_ranges_follow_the_same_reserved_prefix_rule() {
    let topo = peered(
        vec![
            vnet("a", "westus", &["10.0.0.0/8"], None),
            vnet("b", "westus", &["172.16.0.0/12"], None),
        ],
        vec![peering(0, 1), peering(1, 0)],
    );
    let rows = effective_routes(&topo, first_subnet(0));
    assert_eq!(
        summary(&rows),
        [
            row("Default", "Active", "10.0.0.0/8", "VnetLocal"),
            row("Default", "Active", "172.16.0.0/12", "VNetPeering"),
            row("Default", "Active", "0.0.0.0/0", "Internet"),
            row("Default", "Active", "100.64.0.0/10", "None"),
            row("Default", "Active", "192.168.0.0/16", "None"),
        ]
    );
    assert_eq!(rows[1].peer_vnet, Some(VnetIdx::new(1)));
}

#[test]
fn peering_routes_need_both_links_and_name_local_or_global() {
    let mut topo = peered(
        vec![
            vnet("a", "westus", &["10.0.0.0/16"], None),
            vnet("b", "westus", &["10.1.0.0/16", "10.11.0.0/16"], None),
            vnet("c", "eastus", &["10.2.0.0/16"], None),
        ],
        vec![peering(0, 1), peering(1, 0), peering(0, 2)],
    );
    let rows = effective_routes(&topo, first_subnet(0));
    let peer_rows: Vec<_> = rows.iter().filter(|r| r.peer_vnet.is_some()).collect();
    assert_eq!(peer_rows.len(), 2);
    assert_eq!(peer_rows[0].address_prefix, net("10.1.0.0/16"));
    assert_eq!(peer_rows[1].address_prefix, net("10.11.0.0/16"));
    assert!(peer_rows
        .iter()
        .all(|r| r.next_hop_type == NextHopType::VNetPeering));
    // One-sided towards c: no route, c's range falls into 10/8 → None.
    assert_eq!(hop(&rows, "10.2.0.4"), NextHopType::None);

    topo.peerings.push(peering(2, 0));
    let rows = effective_routes(&topo, first_subnet(0));
    let to_c = decide(&rows, "10.2.0.4").unwrap();
    assert_eq!(to_c.next_hop_type, NextHopType::VNetGlobalPeering);
    assert_eq!(to_c.peer_vnet, Some(VnetIdx::new(2)));
}

#[test]
fn peering_is_not_transitive() {
    let topo = peered(
        vec![
            vnet("a", "westus", &["10.0.0.0/16"], None),
            vnet("b", "westus", &["10.1.0.0/16"], None),
            vnet("c", "westus", &["10.2.0.0/16"], None),
        ],
        vec![peering(0, 1), peering(1, 0), peering(1, 2), peering(2, 1)],
    );
    let rows = effective_routes(&topo, first_subnet(0));
    assert!(rows.iter().all(|r| r.address_prefix != net("10.2.0.0/16")));
    assert_eq!(hop(&rows, "10.2.0.4"), NextHopType::None);
    let hub = effective_routes(&topo, first_subnet(1));
    assert_eq!(hub.iter().filter(|r| r.peer_vnet.is_some()).count(), 2);
}

#[test]
fn user_route_beats_system_route_at_equal_prefix() {
    let topo = with_routes(vec![route(
        "whole-vnet",
        "10.0.0.0/16",
        NextHopType::VirtualAppliance,
        Some("10.0.9.4"),
    )]);
    let rows = effective_routes(&topo, first_subnet(0));
    assert_eq!(rows[0].state, RouteState::Invalid);
    let user = rows.last().unwrap();
    assert_eq!(user.state, RouteState::Active);
    assert_eq!(user.name.as_deref(), Some("whole-vnet"));
    assert_eq!(user.route_table, Some(RouteTableIdx::new(0)));
    let decided = decide(&rows, "10.0.0.5").unwrap();
    assert_eq!(decided.source, RouteSource::User);
    assert_eq!(decided.next_hop_ip, Some("10.0.9.4".parse().unwrap()));
}

#[test]
fn ranking_is_user_then_gateway_then_default() {
    let mut rows = vec![
        EffectiveRoute::system(net("10.5.0.0/16"), NextHopType::VnetLocal, None),
        EffectiveRoute {
            source: RouteSource::VirtualNetworkGateway,
            ..EffectiveRoute::system(net("10.5.0.0/16"), NextHopType::VirtualNetworkGateway, None)
        },
        EffectiveRoute {
            source: RouteSource::User,
            ..EffectiveRoute::system(net("10.5.0.0/16"), NextHopType::None, None)
        },
        EffectiveRoute::system(net("192.168.0.0/16"), NextHopType::None, None),
        EffectiveRoute {
            source: RouteSource::VirtualNetworkGateway,
            ..EffectiveRoute::system(
                net("192.168.0.0/16"),
                NextHopType::VirtualNetworkGateway,
                None,
            )
        },
    ];
    mark_invalid(&mut rows);
    let states: Vec<_> = rows.iter().map(|r| r.state).collect();
    use RouteState::*;
    assert_eq!(states, [Invalid, Invalid, Active, Invalid, Active]);
}

#[test]
fn user_default_route_removes_the_none_rows() {
    let topo = with_routes(vec![route(
        "all-via-nva",
        "0.0.0.0/0",
        NextHopType::VirtualAppliance,
        Some("10.0.9.4"),
    )]);
    let rows = effective_routes(&topo, first_subnet(0));
    assert_eq!(
        summary(&rows),
        [
            row("Default", "Active", "10.0.0.0/16", "VnetLocal"),
            row("Default", "Invalid", "0.0.0.0/0", "Internet"),
            row("User", "Active", "0.0.0.0/0", "VirtualAppliance"),
        ]
    );
    assert_eq!(hop(&rows, "192.168.1.1"), NextHopType::VirtualAppliance);
}

#[test]
fn user_default_route_with_any_next_hop_removes_the_none_rows() {
    let topo = with_routes(vec![route(
        "all-to-internet",
        "0.0.0.0/0",
        NextHopType::Internet,
        None,
    )]);
    let rows = effective_routes(&topo, first_subnet(0));
    assert!(rows.iter().all(|r| r.next_hop_type != NextHopType::None));
}

#[test]
fn user_route_equal_to_the_vnet_range_with_a_local_subnet_exception() {
    let topo = with_routes(vec![
        route(
            "within-vnet",
            "10.0.0.0/16",
            NextHopType::VirtualAppliance,
            Some("10.0.100.4"),
        ),
        route("within-subnet", "10.0.0.0/24", NextHopType::VnetLocal, None),
    ]);
    let rows = effective_routes(&topo, first_subnet(0));
    assert_eq!(rows[0].state, RouteState::Invalid);
    assert_eq!(
        decide(&rows, "10.0.0.9").unwrap().name.as_deref(),
        Some("within-subnet")
    );
    assert_eq!(
        decide(&rows, "10.0.1.9").unwrap().name.as_deref(),
        Some("within-vnet")
    );
}

#[test]
fn ipv6_default_route_only_for_dual_stack_vnets() {
    let topo = peered(
        vec![
            vnet("a", "westus", &["10.0.0.0/16", "fd00:a::/48"], None),
            vnet("b", "eastus", &["fd00:b::/48"], None),
        ],
        vec![peering(0, 1), peering(1, 0)],
    );
    let rows = effective_routes(&topo, first_subnet(0));
    assert_eq!(
        summary(&rows)[..4],
        [
            row("Default", "Active", "10.0.0.0/16", "VnetLocal"),
            row("Default", "Active", "fd00:a::/48", "VnetLocal"),
            row("Default", "Active", "fd00:b::/48", "VNetGlobalPeering"),
            row("Default", "Active", "0.0.0.0/0", "Internet"),
        ]
    );
    assert_eq!(hop(&rows, "2001:db8::1"), NextHopType::Internet);
    assert_eq!(
        decide(&rows, "fd00:b::9").unwrap().peer_vnet,
        Some(VnetIdx::new(1))
    );

    let v6_only = effective_routes(&topo, first_subnet(1));
    assert!(v6_only.iter().any(|r| r.address_prefix == net("::/0")));
}

#[test]
fn missing_subnet_or_table_gives_no_panic() {
    let topo = peered(vec![vnet("a", "westus", &["10.0.0.0/16"], Some(7))], vec![]);
    assert!(effective_routes(&topo, first_subnet(3)).is_empty());
    assert!(effective_routes(
        &topo,
        SubnetRef {
            vnet: VnetIdx::new(0),
            subnet: SubnetIdx::new(3)
        }
    )
    .is_empty());
    // A dangling table index is ignored.
    assert_eq!(effective_routes(&topo, first_subnet(0)).len(), 6);
}

/// Four VNets: `a` (10.0.0.0/16, a Private Endpoint at 10.0.0.4 in its
/// only subnet, whose network policies are `policies`), `b` peered with
/// it (both links, its subnet's route table 0 holds `routes`), `c` with a
/// one-sided link to it, and `d` on its own.
fn endpoint_topology(
    policies: crate::topology::EndpointNetworkPolicies,
    routes: Vec<crate::topology::model::Route>,
) -> Topology {
    let vnets = vec![
        vnet("a", "westus", &["10.0.0.0/16"], None),
        vnet("b", "westus", &["10.1.0.0/16"], Some(0)),
        vnet("c", "westus", &["10.2.0.0/16"], None),
        vnet("d", "westus", &["10.3.0.0/16"], None),
    ];
    let mut topo = Topology {
        route_tables: vec![table(routes)].into(),
        private_endpoints: vec![private_endpoint(
            first_subnet(0),
            "10.0.0.4".parse().unwrap(),
        )]
        .into(),
        ..peered(vnets, vec![peering(0, 1), peering(1, 0), peering(2, 0)])
    };
    topo.vnets[VnetIdx::new(0)].subnets[SubnetIdx::new(0)].endpoint_policies = policies;
    topo
}

fn endpoint_rows(
    rows: &[EffectiveRoute],
) -> Vec<(&'static str, &'static str, String, &'static str)> {
    summary(rows)
        .into_iter()
        .filter(|r| r.3 == "InterfaceEndpoint")
        .collect()
}

#[test]
fn an_endpoint_is_a_host_route_in_its_vnet_and_connected_peers_only() {
    use crate::topology::EndpointNetworkPolicies::Disabled;
    let topo = endpoint_topology(Disabled, Vec::new());
    let own = effective_routes(&topo, first_subnet(0));
    assert_eq!(
        summary(&own)[..3],
        [
            row("Default", "Active", "10.0.0.0/16", "VnetLocal"),
            row("Default", "Active", "10.1.0.0/16", "VNetPeering"),
            row("Default", "Active", "10.0.0.4/32", "InterfaceEndpoint"),
        ]
    );
    assert_eq!(own[2].endpoint, Some(PrivateEndpointIdx::new(0)));
    assert!(own[2].next_hop_addresses(&topo).is_empty());
    let peer = effective_routes(&topo, first_subnet(1));
    assert_eq!(
        summary(&peer)[..3],
        [
            row("Default", "Active", "10.1.0.0/16", "VnetLocal"),
            row("Default", "Active", "10.0.0.0/16", "VNetPeering"),
            row("Default", "Active", "10.0.0.4/32", "InterfaceEndpoint"),
        ]
    );
    assert_eq!(
        decide(&peer, "10.0.0.4").unwrap().next_hop_type,
        NextHopType::InterfaceEndpoint
    );
    // Initiated (one link) and no peering: no row.
    for vnet in [2, 3] {
        assert!(endpoint_rows(&effective_routes(&topo, first_subnet(vnet))).is_empty());
    }
}

#[test]
fn only_the_route_table_policy_lets_a_user_route_invalidate_the_endpoint_row() {
    use crate::topology::EndpointNetworkPolicies::{self, *};
    let fw = || Some("10.0.1.4");
    let cases: [(EndpointNetworkPolicies, &str, &str); 10] = [
        // A user route as specific as the endpoint VNet's range, or more.
        (Disabled, "10.0.0.0/16", "Active"),
        (NetworkSecurityGroupEnabled, "10.0.0.0/16", "Active"),
        (RouteTableEnabled, "10.0.0.0/16", "Invalid"),
        (Enabled, "10.0.0.0/16", "Invalid"),
        (Enabled, "10.0.0.0/24", "Invalid"),
        // Less specific than the range, or not containing the address.
        (Enabled, "10.0.0.0/8", "Active"),
        (Enabled, "0.0.0.0/0", "Active"),
        (Enabled, "10.0.1.0/24", "Active"),
        // Equal prefix: the user route wins whatever the policy.
        (Disabled, "10.0.0.4/32", "Invalid"),
        (Enabled, "10.0.0.4/32", "Invalid"),
    ];
    for (policies, prefix, state) in cases {
        let topo = endpoint_topology(
            policies,
            vec![route("r", prefix, NextHopType::VirtualAppliance, fw())],
        );
        let rows = effective_routes(&topo, first_subnet(1));
        let what = format!("{policies:?} with {prefix}");
        assert_eq!(
            endpoint_rows(&rows),
            [row("Default", state, "10.0.0.4/32", "InterfaceEndpoint")],
            "{what}"
        );
        let decided = decide(&rows, "10.0.0.4").unwrap();
        let expected = if state == "Active" {
            NextHopType::InterfaceEndpoint
        } else {
            NextHopType::VirtualAppliance
        };
        assert_eq!(decided.next_hop_type, expected, "{what}");
        // The endpoint's own VNet has no route table: its row stays.
        let own = effective_routes(&topo, first_subnet(0));
        assert_eq!(endpoint_rows(&own)[0].1, "Active", "{what}");
    }
}
