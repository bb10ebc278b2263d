//! A Private Endpoint's host route, live, with real pings: in a copy of
//! `config/private-endpoints.yaml` whose spokes also route the hub's range
//! (10.0.0.0/16) to the hub's firewall, a spoke VM's pings to the endpoint
//! (whose namespace's kernel answers them) go straight to the endpoint by
//! its /32 (InterfaceEndpoint) while hub/pe's route-table policy is off,
//! and through the firewall once `RouteTableEnabled` lets the user route
//! decide. The firewall's own counters tell which, and the offline trace
//! says the same. Needs root (see `common::require_root`).

use crate::common;

use common::Lab;
use vnetd::diagnostics::trace::{trace, TraceQuery};
use vnetd::topology::{Endpoint, ExpectedProtocol};

const EXAMPLE: &str = include_str!("../../config/private-endpoints.yaml");

const ENDPOINT: &str = "pe-stcontoso-blob";
const ENDPOINT_ADDRESS: &str = "10.0.3.4";
const PINGS: u64 = 3;

/// The example with the spokes' route for the hub's range to the
/// firewall, a firewall rule admitting the spokes' pings to hub/pe, and
/// hub/pe's network policies `policies`.
fn lab_text(policies: &str) -> String {
    let edits = [
        (
            "private_endpoint_network_policies: Disabled",
            format!("private_endpoint_network_policies: {policies}"),
        ),
        (
            "      - {name: everything-to-the-firewall",
            "      - {name: hub-to-the-firewall, address_prefix: 10.0.0.0/16, next_hop_type: \
             VirtualAppliance, next_hop_in_ip_address: 10.0.1.4}\n      \
             - {name: everything-to-the-firewall"
                .to_string(),
        ),
        (
            "              - {name: ping-between-spokes",
            "              - {name: ping-the-endpoints, protocols: [ICMP], source_addresses: \
             [10.1.0.0/16, 10.2.0.0/16], destination_addresses: [10.0.3.0/24], destination_ports: \
             [\"*\"]}\n              - {name: ping-between-spokes"
                .to_string(),
        ),
    ];
    let mut text = EXAMPLE.to_string();
    for (from, to) in edits {
        assert!(text.contains(from), "no `{from}` in the example");
        text = text.replacen(from, &to, 1);
    }
    text
}

/// The echo requests the firewall and the endpoint received while vm1's
/// three pings were all answered.
fn received_during_pings(lab: &Lab) -> (u64, u64) {
    let received = |port: &str| lab.stats(port).packets_received;
    let (firewall, endpoint) = (received("hub-fw"), received(ENDPOINT));
    assert!(
        common::ping(&lab.ns("vm1"), ENDPOINT_ADDRESS),
        "vm1's pings to the endpoint are answered"
    );
    (received("hub-fw") - firewall, received(ENDPOINT) - endpoint)
}

/// The path the offline trace gives vm1's ping to the endpoint, from the
/// running lab's snapshot.
fn traced_path(lab: &Lab) -> Vec<String> {
    let snap = lab.daemon().snapshot();
    let query = TraceQuery {
        from: Endpoint::Nic(snap.topology.nic_by_name("vm1").unwrap()),
        to: ENDPOINT_ADDRESS.parse().unwrap(),
        protocol: ExpectedProtocol::Icmp,
        port: None,
    };
    let answer = trace(&snap, &query).unwrap();
    assert_eq!(answer.verdict, "Allow", "{answer:#?}");
    answer.path
}

#[test]
fn without_the_route_table_policy_a_spoke_pings_the_endpoint_past_the_firewall() {
    let lab = Lab::start("pedirect", &lab_text("Disabled"));
    assert_eq!(received_during_pings(&lab), (0, PINGS));
    assert_eq!(traced_path(&lab), [ENDPOINT]);
}

#[test]
fn with_the_route_table_policy_a_spoke_pings_the_endpoint_through_the_firewall() {
    let lab = Lab::start("pefwall", &lab_text("RouteTableEnabled"));
    assert_eq!(received_during_pings(&lab), (PINGS, PINGS));
    assert_eq!(traced_path(&lab), ["hub-fw", ENDPOINT]);
}
