//! Which ports a new plane may decide otherwise than the one before it
//! (`Snapshot::changed_ports_since`), the ports whose offloaded flows go
//! back to the workers when it is published: against a naive reference
//! that compares every port's effective routes and NSG rules as text, a
//! route learned by the hybrid example's gateway changes the ports that
//! learn it and not the spoke whose route table does not propagate
//! gateway routes; a route learned by a gateway that two VNets' Vnet2Vnet
//! path crosses changes both their VMs, whose routes lead into gateways;
//! a plane of the same rules changes no port; an `apply` changes every
//! one.

use std::collections::BTreeSet;
use vnetd::plan::PortIdx;
use vnetd::policy::learned::{BgpOrigin, LearnedRoute, LearnedRoutes};
use vnetd::snapshot::{ChangedPorts, Snapshot};
use vnetd::topology;

const HYBRID: &str = include_str!("../../config/hybrid.yaml");
const VNET2VNET: &str = include_str!("../../scripts/labs/vnet2vnet.yaml");

fn compiled(name: &str, text: &str) -> Snapshot {
    let loaded = topology::parse_str(name, text).expect("the example parses");
    Snapshot::compile(loaded.topology, 1)
}

fn hybrid() -> Snapshot {
    compiled("hybrid.yaml", HYBRID)
}

/// `prefixes` learned by the hub's gateway, first instance, from the
/// branch.
fn learned(prefixes: &[&str]) -> LearnedRoutes {
    learned_by("hub-vpngw", prefixes)
}

/// `prefixes` learned by `gateway`'s first instance from a branch.
fn learned_by(gateway: &str, prefixes: &[&str]) -> LearnedRoutes {
    let mut learned = LearnedRoutes::default();
    learned.gateways.insert(
        gateway.into(),
        vec![prefixes
            .iter()
            .map(|p| LearnedRoute {
                prefix: p.parse().unwrap(),
                peer: "192.168.255.1".parse().unwrap(),
                next_hop: "192.168.255.1".parse().unwrap(),
                as_path: vec![65050],
                origin: BgpOrigin::Igp,
            })
            .collect()],
    );
    learned
}

/// The reference: the ports whose effective routes or NSG rules read
/// otherwise, or, for a port with a route into a gateway, the gateways'
/// tables, compared as text.
fn differing(now: &Snapshot, before: &Snapshot) -> BTreeSet<PortIdx> {
    let seen = |s: &Snapshot, idx: PortIdx| {
        let nic = &s.nics[idx];
        let routes = &s.subnets[nic.subnet_slot].routes;
        let rules: Vec<_> = (nic.inbound.iter().chain(&nic.outbound))
            .map(|stage| format!("{:?}", stage.rules))
            .collect();
        let into_a_gateway = routes
            .iter()
            .any(|r| format!("{:?}", r.next_hop_type) == "VirtualNetworkGateway");
        let gateways = match into_a_gateway {
            true => format!("{:?}", s.gateways),
            false => String::new(),
        };
        format!("{routes:?} {rules:?} {gateways}")
    };
    (now.plan.ports.keys())
        .filter(|&idx| seen(now, idx) != seen(before, idx))
        .collect()
}

fn only(changed: ChangedPorts) -> BTreeSet<PortIdx> {
    match changed {
        ChangedPorts::Only(ports) => ports.into_iter().collect(),
        ChangedPorts::All => panic!("every port changed"),
    }
}

#[test]
fn a_learned_route_changes_the_ports_that_learn_it_and_no_other() {
    let first = hybrid();
    let one = Snapshot::relearned(&first, learned(&["192.168.0.0/16"]), 2);
    let two = Snapshot::relearned(&one, learned(&["192.168.0.0/16", "172.20.0.0/16"]), 3);
    for (now, before) in [(&one, &first), (&two, &one)] {
        let changed = only(now.changed_ports_since(before));
        let reference = differing(now, before);
        assert!(
            reference.is_subset(&changed),
            "ports whose routes or rules differ but are not changed: {:?}",
            reference.difference(&changed).collect::<Vec<_>>()
        );
        let port = |name: &str| now.port_by_name(name).unwrap();
        for learns in ["hub-vm", "vm1"] {
            assert!(changed.contains(&port(learns)), "{learns}: {changed:?}");
        }
        // spoke2's route table does not propagate gateway routes: its VM
        // decides as before, and its offloaded flows stay in the kernel.
        assert!(!changed.contains(&port("vm2")), "{changed:?}");
        assert!(!reference.contains(&port("vm2")));
    }
}

#[test]
fn a_route_a_crossed_gateway_learns_changes_the_vms_whose_routes_lead_into_it() {
    let first = compiled("vnet2vnet.yaml", VNET2VNET);
    let now = Snapshot::relearned(&first, learned_by("gw-b", &["192.168.0.0/16"]), 2);
    let changed = only(now.changed_ports_since(&first));
    let reference = differing(&now, &first);
    assert!(reference.is_subset(&changed), "{reference:?} {changed:?}");
    for vm in ["vm-a", "vm-b"] {
        let port = now.port_by_name(vm).unwrap();
        assert!(changed.contains(&port), "{vm}: {changed:?}");
    }
    // Nothing learned changed: no port.
    let same = Snapshot::relearned(&now, learned_by("gw-b", &["192.168.0.0/16"]), 3);
    assert_eq!(
        same.changed_ports_since(&now),
        ChangedPorts::Only(Vec::new())
    );
}

#[test]
fn a_plane_of_the_same_rules_changes_no_port_and_an_apply_changes_every_one() {
    let first = hybrid();
    let same = Snapshot::relearned(&first, LearnedRoutes::default(), 2);
    assert_eq!(
        same.changed_ports_since(&first),
        ChangedPorts::Only(Vec::new())
    );
    let rehealthed = Snapshot::rehealthed(&same, same.health.clone(), 3);
    assert_eq!(
        rehealthed.changed_ports_since(&same),
        ChangedPorts::Only(Vec::new())
    );
    let applied = Snapshot::compile_after(first.topology.clone(), 4, &rehealthed);
    assert_eq!(applied.changed_ports_since(&rehealthed), ChangedPorts::All);
}
