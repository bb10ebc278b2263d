//! Which ports a new plane may decide otherwise than the one before it
//! (`Snapshot::changed_ports_since`), the ports whose offloaded flows go
//! back to the workers when it is published: against a naive reference
//! that compares every port's effective routes and NSG rules as text, a
//! route learned by the hybrid example's gateway changes the ports that
//! learn it and not the spoke whose route table does not propagate
//! gateway routes; a route learned by a gateway that two VNets' Vnet2Vnet
//! path crosses changes both their VMs, whose routes lead into gateways;
//! a plane of the same rules changes no port.
//!
//! A topology applied anew (a Virtual Network Manager commit, an NSG rule)
//! changes only the ports whose tables differ, checked against what the
//! decision does: every packet between two ports left unchanged is decided
//! alike before and after, on every example; a topology with other ports
//! changes every one.

use etherparse::PacketBuilder;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use vnetd::dataplane::{decide, Stateless, Verdict};
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
fn a_plane_of_the_same_rules_changes_no_port_nor_does_the_same_file_applied_again() {
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
    // The same file applied again: only the ports whose service reads
    // the topology itself (names, firewall policies) are sent back.
    let applied = Snapshot::compile_after(first.topology.clone(), 4, &rehealthed);
    let changed = only(applied.changed_ports_since(&rehealthed));
    let serving: BTreeSet<PortIdx> = (applied.plan.ports.iter_enumerated())
        .filter(|(_, p)| p.kind.serves_names() || p.kind.is_firewall())
        .map(|(idx, _)| idx)
        .collect();
    assert_eq!(changed, serving);
}

const NETWORK_MANAGER: &str = include_str!("../../config/network-manager.yaml");

/// `text` with `edit` made (the text to replace must be there).
fn edited(text: &str, (from, to): (&str, &str)) -> String {
    assert!(text.contains(from), "no `{from}`");
    text.replace(from, to)
}

/// A packet from `src` to `dst`: a TCP SYN to `port`, or with no port an
/// ICMP echo request.
fn packet(src: Ipv4Addr, dst: Ipv4Addr, port: Option<u16>) -> Vec<u8> {
    let ip = PacketBuilder::ipv4(src.octets(), dst.octets(), 64);
    let mut bytes = Vec::new();
    match port {
        Some(port) => ip.tcp(40000, port, 1, 64240).syn().write(&mut bytes, &[]),
        None => ip.icmpv4_echo_request(7, 1).write(&mut bytes, &[]),
    }
    .unwrap();
    bytes
}

/// A verdict by names, so that two snapshots' verdicts compare.
fn said(snap: &Snapshot, verdict: Verdict) -> String {
    let name = |port: PortIdx| snap.plan.ports[port].name.clone();
    match verdict {
        Verdict::Deliver(to) => format!("deliver to {}", name(to)),
        Verdict::Translate { nic, rewrite } => format!("translate {rewrite:?} to {}", name(nic)),
        Verdict::Drop { reason, at, rule } => {
            let rule = snap.rule_names.get(rule).map(|r| (r.nsg, r.rule));
            format!("drop {reason:?} at {} by {rule:?}", name(at))
        }
    }
}

/// The ports a verdict hands the packet to or drops it at.
fn reached(verdict: Verdict) -> Option<PortIdx> {
    match verdict {
        Verdict::Deliver(to) => Some(to),
        Verdict::Translate { nic, .. } => Some(nic),
        Verdict::Drop { at, .. } => Some(at),
    }
}

/// Decides packets from every port to every address of every port (and
/// the public addresses) in both snapshots, and fails on a packet decided
/// otherwise that neither its sender nor where it went in either is
/// `changed`. Returns how many packets were decided otherwise.
fn decided_alike_outside(now: &Snapshot, before: &Snapshot, changed: &BTreeSet<PortIdx>) -> usize {
    let mut targets: Vec<Ipv4Addr> = (now.plan.ports.iter())
        .flat_map(|p| p.ip_configurations.iter().map(|c| c.address))
        .filter_map(|a| match a {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        })
        .collect();
    targets.extend(now.edge.public.keys().filter_map(|a| match a {
        IpAddr::V4(a) => Some(*a),
        IpAddr::V6(_) => None,
    }));
    let mut differing = 0;
    for (from, port) in now.plan.ports.iter_enumerated() {
        let Some(IpAddr::V4(src)) = port.ip_configurations.first().map(|c| c.address) else {
            continue;
        };
        for &dst in &targets {
            for dport in [Some(22), Some(80), Some(443), Some(3389), Some(9100), None] {
                let bytes = packet(src, dst, dport);
                let a = decide(now, &Stateless, from, &bytes, 0);
                let b = decide(before, &Stateless, from, &bytes, 0);
                if said(now, a) == said(before, b) {
                    continue;
                }
                differing += 1;
                let touched = [Some(from), reached(a), reached(b)];
                assert!(
                    touched.iter().flatten().any(|p| changed.contains(p)),
                    "{} -> {dst} {dport:?}: {} now, {} before, and no port of it changed ({changed:?})",
                    port.name,
                    said(now, a),
                    said(before, b)
                );
            }
        }
    }
    differing
}

/// The network manager's example, then the same file with `edit` made,
/// applied over it: the ports changed by name, and how many packets were
/// decided otherwise (all of them at a changed port).
fn committed(edit: (&str, &str)) -> (BTreeSet<String>, usize) {
    let first = compiled("network-manager.yaml", NETWORK_MANAGER);
    let text = edited(NETWORK_MANAGER, edit);
    let loaded = topology::parse_str("network-manager.yaml", &text).expect("the edit parses");
    let now = Snapshot::compile_after(loaded.topology, 2, &first);
    let changed = only(now.changed_ports_since(&first));
    let reference = differing(&now, &first);
    assert!(reference.is_subset(&changed), "{reference:?} {changed:?}");
    let differing = decided_alike_outside(&now, &first, &changed);
    let names = (changed.iter())
        .map(|&p| now.plan.ports[p].name.clone())
        .filter(|name| {
            !now.plan.ports[now.port_by_name(name).unwrap()]
                .kind
                .serves_names()
        })
        .collect();
    (names, differing)
}

#[test]
fn a_security_admin_commit_to_one_region_changes_only_its_vnets_ports() {
    // Guardrails no longer committed to West Europe: spoke1's and
    // spoke2's VMs, not spoke3's in North Europe, nor the hub's.
    let (changed, differing) = committed((
        "      - {location: westeurope, scope_access: SecurityAdmin, configurations: [guardrails]}\n",
        "",
    ));
    let west: BTreeSet<String> = ["vm1", "vm2"].map(String::from).into();
    assert_eq!(changed, west);
    assert!(differing > 0, "the commit changes no decision");
}

#[test]
fn an_admin_rule_changed_changes_the_spokes_and_leaves_the_hub() {
    let (changed, differing) = committed((
        r#"destination_port_ranges: ["22", "3389"]"#,
        r#"destination_port_ranges: ["3389"]"#,
    ));
    let spokes: BTreeSet<String> = ["vm1", "vm2", "vm3"].map(String::from).into();
    assert_eq!(changed, spokes);
    assert!(differing > 0, "the commit changes no decision");
}

#[test]
fn a_spoke_taken_out_of_the_group_changes_the_vnets_it_reached() {
    let (changed, differing) =
        committed(("member_tags: {role: spoke}", "member_tags: {role: none}"));
    // spoke3 leaves the connected group and the hub's spokes: its VM and
    // the VMs of the VNets it reached change; nothing else decides
    // otherwise (checked packet by packet in `committed`).
    assert!(changed.contains("vm3"), "{changed:?}");
    assert!(
        changed.contains("vm1") && changed.contains("hub1"),
        "{changed:?}"
    );
    assert!(differing > 0, "the commit changes no decision");
}

#[test]
fn a_topology_with_another_port_changes_every_port() {
    let first = compiled("network-manager.yaml", NETWORK_MANAGER);
    let text = edited(
        NETWORK_MANAGER,
        (
            "  - {name: vm3, subnet: spoke3/app, private_ip_address: 10.3.1.4}\n",
            "  - {name: vm3, subnet: spoke3/app, private_ip_address: 10.3.1.4}\n  - {name: vm4, subnet: spoke3/app, private_ip_address: 10.3.1.5}\n",
        ),
    );
    let loaded = topology::parse_str("network-manager.yaml", &text).expect("the edit parses");
    let now = Snapshot::compile_after(loaded.topology, 2, &first);
    assert_eq!(now.changed_ports_since(&first), ChangedPorts::All);
}

#[test]
fn every_example_applied_again_sends_back_only_the_ports_that_serve_names_or_filter() {
    let dir = format!("{}/config", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = (std::fs::read_dir(&dir).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() > 10, "{files:?}");
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let first = compiled(&name, &text);
        let again = topology::parse_str(&name, &text).unwrap().topology;
        let now = Snapshot::compile_after(again, 2, &first);
        let ChangedPorts::Only(changed) = now.changed_ports_since(&first) else {
            panic!("{name}: every port changed");
        };
        for port in changed {
            let kind = &now.plan.ports[port].kind;
            assert!(
                kind.serves_names() || kind.is_firewall(),
                "{name}: {} changed",
                now.plan.ports[port].name
            );
        }
    }
}
