//! A BGP update or a probe's finding replaces only the compiled tables it
//! changes: a snapshot of the same topology takes over every subnet's
//! route tables and every NSG stage whose inputs came out the same, and
//! what it compiles again equals a snapshot compiled afresh.

use std::net::IpAddr;
use std::sync::Arc;
use vnetd::policy::bgp::expected_learned;
use vnetd::snapshot::{LearnedRoutes, Snapshot};
use vnetd::topology::parse_str;

fn hybrid() -> vnetd::topology::Topology {
    let text = include_str!("../../config/hybrid.yaml");
    parse_str("hybrid.yaml", text).unwrap().topology
}

/// Every address a route of either snapshot names, and one inside it.
fn probes(a: &Snapshot, b: &Snapshot) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for snap in [a, b] {
        for tables in &snap.subnets {
            for route in &tables.routes {
                let net = route.address_prefix.network();
                out.push(net);
                if let IpAddr::V4(v4) = net {
                    out.push(IpAddr::V4((u32::from(v4) | 1).into()));
                }
            }
        }
    }
    out
}

/// `after` (relearned from `before`) holds exactly what `fresh` (compiled on
/// its own from the same inputs) holds, and shares with `before` exactly
/// the tables whose inputs did not change. Returns how many subnets it
/// shared and how many it compiled again.
fn assert_reuse(before: &Snapshot, after: &Snapshot, fresh: &Snapshot) -> (usize, usize) {
    assert_eq!(after.subnets.len(), fresh.subnets.len());
    let addresses = probes(after, fresh);
    let (mut shared, mut compiled) = (0, 0);
    for (i, tables) in after.subnets.iter().enumerate() {
        let reference = &fresh.subnets[i];
        assert_eq!(tables.subnet, reference.subnet);
        assert_eq!(tables.routes, reference.routes, "{:?}", tables.subnet);
        assert_eq!(tables.targets, reference.targets, "{:?}", tables.subnet);
        assert_eq!(tables.host_vip_row, reference.host_vip_row);
        for &ip in &addresses {
            assert_eq!(
                tables.decide(ip),
                reference.decide(ip),
                "{ip} in {:?}",
                tables.subnet
            );
        }
        let unchanged = before.subnets[i].routes == tables.routes;
        assert_eq!(
            Arc::ptr_eq(&before.subnets[i], tables),
            unchanged,
            "{:?}: shared exactly when its routes are the same",
            tables.subnet
        );
        if unchanged {
            shared += 1;
        } else {
            compiled += 1;
        }
    }
    for (port, nic) in after.nics.iter_enumerated() {
        let stages = [
            (
                &nic.inbound,
                &fresh.nics[port].inbound,
                &before.nics[port].inbound,
            ),
            (
                &nic.outbound,
                &fresh.nics[port].outbound,
                &before.nics[port].outbound,
            ),
        ];
        for (now, reference, earlier) in stages {
            assert_eq!(now.len(), reference.len());
            for (k, stage) in now.iter().enumerate() {
                assert_eq!(*stage.rules, *reference[k].rules);
                assert_eq!(*stage.rule_ids, *reference[k].rule_ids);
                assert_eq!(
                    Arc::ptr_eq(&stage.classifier, &earlier[k].classifier),
                    *stage.rules == *earlier[k].rules,
                    "port {port}: a stage is shared exactly when its rules are the same"
                );
            }
        }
    }
    (shared, compiled)
}

#[test]
fn an_unchanged_update_shares_every_table() {
    let topology = hybrid();
    let learned = expected_learned(&topology);
    let first = Snapshot::compile_learned(topology.clone(), learned.clone(), 1);
    let again = Snapshot::relearned(&first, learned.clone(), 2);
    let fresh = Snapshot::compile_learned(topology, learned, 2);
    let (shared, compiled) = assert_reuse(&first, &again, &fresh);
    assert_eq!((shared, compiled), (first.subnets.len(), 0));
    let rehealthed = Snapshot::rehealthed(&again, again.health.clone(), 3);
    let (shared, _) = assert_reuse(&again, &rehealthed, &fresh);
    assert_eq!(shared, first.subnets.len());
}

#[test]
fn a_withdrawal_compiles_again_only_the_subnets_whose_routes_it_changes() {
    let topology = hybrid();
    let learned = expected_learned(&topology);
    let first = Snapshot::compile_learned(topology.clone(), learned.clone(), 1);
    let mut withdrawn: LearnedRoutes = learned.clone();
    for instances in withdrawn.gateways.values_mut() {
        for routes in instances.iter_mut() {
            routes.clear();
        }
    }
    assert_ne!(withdrawn, learned, "the example learns routes");
    let after = Snapshot::relearned(&first, withdrawn.clone(), 2);
    let fresh = Snapshot::compile_learned(topology.clone(), withdrawn, 2);
    let (shared, compiled) = assert_reuse(&first, &after, &fresh);
    // The spoke whose route table turns off gateway route propagation
    // learns nothing: its tables stay; the hub and the transit spoke lose
    // the branch's prefixes and are compiled again.
    assert!(
        shared >= 1 && compiled >= 2,
        "shared {shared}, compiled {compiled}"
    );
    // And back: the announcement again.
    let back = Snapshot::relearned(&after, learned.clone(), 3);
    let fresh = Snapshot::compile_learned(topology, learned, 3);
    assert_reuse(&after, &back, &fresh);
}
