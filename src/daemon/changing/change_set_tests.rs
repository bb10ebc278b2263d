//! The change set of every kind of change, without root: from a small
//! lab's file to the same file edited, what is kept, built, left to
//! another machine, replaced in its namespace's name, and changed in
//! place.

use super::*;
use crate::topology::Topology;

const LAB: &str = "
hosts:
  - {name: h1, underlay_address: 192.0.2.1}
  - {name: h2, underlay_address: 192.0.2.2}
internet: {}
public_ip_addresses:
  - {name: web-pip, sku: Standard, ip_address: 198.51.100.10, location: westeurope}
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    location: westeurope
    subnets:
      - {name: nva, address_prefixes: [10.0.1.0/24]}
  - name: spoke
    address_space: [10.1.0.0/16]
    location: westeurope
    subnets:
      - {name: app, address_prefixes: [10.1.1.0/24]}
peerings:
  - {name: hub-to-spoke, virtual_network: hub, remote_virtual_network: spoke}
  - {name: spoke-to-hub, virtual_network: spoke, remote_virtual_network: hub}
network_interfaces:
  - {name: nva1, subnet: hub/nva, private_ip_address: 10.0.1.4, ip_forwarding_enabled: true}
  - {name: web, subnet: spoke/app, private_ip_address: 10.1.1.4}
  - {name: db, subnet: spoke/app, private_ip_address: 10.1.1.5}
virtual_machines:
  - {name: web-vm, size: Standard_D2s_v3, network_interfaces: [web]}
";

fn building() -> Building {
    Building {
        queues_per_port: 2,
        shaping: true,
        offload: true,
        trust_store: Arc::from(Path::new("/nonexistent/ca")),
    }
}

/// The topology of `text`, run as host h1 when it names hosts.
fn loaded(text: &str) -> (Topology, Plan) {
    let mut topology = crate::topology::parse_str("lab.yaml", text)
        .unwrap_or_else(|e| panic!("{e:?}"))
        .topology;
    if !topology.placement.hosts.is_empty() {
        topology.placement.run_on(Some("h1")).unwrap();
    }
    let plan = Plan::derive(&topology);
    (topology, plan)
}

/// The change set from `old` running (every port here) to `new`, with
/// `rebuilt` routers.
fn between(old: &(Topology, Plan), new: &(Topology, Plan), rebuilt: &[String]) -> ChangeSet {
    let (old_topology, old_plan) = old;
    let specs: Vec<NamespaceSpec> = (old_plan.ports.iter())
        .map(|p| building().spec(old_topology, p))
        .collect();
    let running: TiVec<PortIdx, Running<'_>> = (old_plan.ports.keys())
        .zip(&specs)
        .map(|(i, spec)| Running {
            spec,
            remote: !old_plan.is_local(i),
        })
        .collect();
    change_set(
        (old_topology, old_plan, &running),
        (&new.0, &new.1),
        &building(),
        rebuilt,
    )
}

/// The change set from `LAB` running to `LAB` with each edit made.
fn changes(edits: &[(&str, &str)]) -> (ChangeSet, Plan, Plan) {
    let mut text = LAB.to_string();
    for (from, to) in edits {
        assert!(text.contains(from), "no `{from}` in the lab");
        text = text.replacen(from, to, 1);
    }
    let old = loaded(LAB);
    let new = loaded(&text);
    let set = between(&old, &new, &[]);
    (set, old.1, new.1)
}

/// The fate of the new plan's port `name`.
fn fate(set: &ChangeSet, plan: &Plan, name: &str) -> Fate {
    set.fates[plan
        .port_by_name(name)
        .unwrap_or_else(|| panic!("no port {name}"))]
}

/// The names of the running ports that leave.
fn leaving(set: &ChangeSet, old: &Plan) -> Vec<String> {
    (set.leaving.iter())
        .map(|&i| old.ports[i].name.clone())
        .collect()
}

/// The in-place changes of port `name`.
fn in_place_of(set: &ChangeSet, plan: &Plan, name: &str) -> Vec<InPlace> {
    let port = plan.port_by_name(name).unwrap();
    (set.in_place.iter())
        .filter(|k| k.port == port)
        .flat_map(|k| k.changes.clone())
        .collect()
}

#[test]
fn the_same_file_keeps_every_port_and_changes_nothing() {
    let (set, old, plan) = changes(&[]);
    for (i, port) in plan.ports.iter_enumerated() {
        assert_eq!(
            set.fates[i],
            Fate::Kept(old.port_by_name(&port.name).unwrap()),
            "{}",
            port.name
        );
    }
    assert!(set.leaving.is_empty() && set.added.is_empty() && set.replumbed.is_empty());
    assert!(set.in_place.is_empty(), "{:?}", set.in_place);
    assert!(set.fresh_namespaces.is_empty());
    assert_eq!(set.slots_needed(), 0);
    assert!(set.build_order().is_empty());
}

#[test]
fn a_new_nic_is_built_in_a_fresh_namespace() {
    let (set, _, plan) = changes(&[(
        "  - {name: db,",
        "  - {name: cache, subnet: spoke/app, private_ip_address: 10.1.1.6}\n  - {name: db,",
    )]);
    assert_eq!(fate(&set, &plan, "cache"), Fate::Built { replacing: None });
    assert_eq!(set.added, ["cache"]);
    assert_eq!(set.fresh_namespaces, ["cache"]);
    assert_eq!(set.slots_needed(), 1);
    assert_eq!(set.build_order(), [plan.port_by_name("cache").unwrap()]);
    assert!(matches!(fate(&set, &plan, "db"), Fate::Kept(_)));
}

#[test]
fn a_removed_nic_leaves_and_the_others_stay() {
    let (set, old, plan) = changes(&[(
        "  - {name: db, subnet: spoke/app, private_ip_address: 10.1.1.5}\n",
        "",
    )]);
    assert_eq!(leaving(&set, &old), ["db"]);
    assert!(matches!(fate(&set, &plan, "web"), Fate::Kept(_)));
    assert_eq!(set.slots_needed(), 0);
    assert!(set.added.is_empty() && set.replumbed.is_empty());
}

#[test]
fn a_new_address_rebuilds_the_nic_in_place_of_its_own_namespace() {
    let (set, old, plan) = changes(&[(
        "private_ip_address: 10.1.1.5",
        "private_ip_address: 10.1.1.9",
    )]);
    let db = old.port_by_name("db").unwrap();
    assert_eq!(
        fate(&set, &plan, "db"),
        Fate::Built {
            replacing: Some(db)
        }
    );
    assert_eq!(set.replumbed, ["db"]);
    assert_eq!(leaving(&set, &old), ["db"]);
    // Its namespace's name is freed by the port it replaces.
    assert!(
        set.fresh_namespaces.is_empty(),
        "{:?}",
        set.fresh_namespaces
    );
    assert_eq!(set.slots_needed(), 1);
}

#[test]
fn a_renamed_nic_takes_the_departing_ones_namespace_after_the_fresh_ones() {
    let (set, old, plan) = changes(&[
        (
            "  - {name: db, subnet: spoke/app, private_ip_address: 10.1.1.5}",
            "  - {name: db2, subnet: spoke/app, private_ip_address: 10.1.1.5, netns: db}",
        ),
        (
            "virtual_machines:\n",
            "  - {name: cache, subnet: spoke/app, private_ip_address: 10.1.1.6}\nvirtual_machines:\n",
        ),
    ]);
    let db = old.port_by_name("db").unwrap();
    assert_eq!(
        fate(&set, &plan, "db2"),
        Fate::Built {
            replacing: Some(db)
        }
    );
    assert_eq!(set.added, ["db2", "cache"]);
    assert_eq!(leaving(&set, &old), ["db"]);
    assert_eq!(set.fresh_namespaces, ["cache"]);
    // The fresh namespace first, then the one that waits for its name.
    let order: Vec<&str> = (set.build_order().into_iter())
        .map(|i| plan.ports[i].name.as_str())
        .collect();
    assert_eq!(order, ["cache", "db2"]);
}

#[test]
fn a_nic_moved_to_another_machine_leaves_here_and_is_built_there() {
    let (set, old, plan) = changes(&[(
        "private_ip_address: 10.1.1.5}",
        "private_ip_address: 10.1.1.5, host: h2}",
    )]);
    assert_eq!(fate(&set, &plan, "db"), Fate::Elsewhere);
    assert_eq!(leaving(&set, &old), ["db"]);
    assert_eq!(set.replumbed, ["db"]);
    assert!(set.build_order().is_empty() && set.fresh_namespaces.is_empty());
}

#[test]
fn ip_forwarding_turned_off_changes_the_guest_in_place() {
    let (set, _, plan) = changes(&[(
        "private_ip_address: 10.0.1.4, ip_forwarding_enabled: true}",
        "private_ip_address: 10.0.1.4}",
    )]);
    assert!(matches!(fate(&set, &plan, "nva1"), Fate::Kept(_)));
    assert_eq!(
        in_place_of(&set, &plan, "nva1"),
        [InPlace::IpForwarding(false)]
    );
}

#[test]
fn a_new_vm_size_changes_the_rate_cap_in_place() {
    let (set, _, plan) = changes(&[("size: Standard_D2s_v3", "size: Standard_D4s_v3")]);
    assert!(matches!(fate(&set, &plan, "web"), Fate::Kept(_)));
    let changed = in_place_of(&set, &plan, "web");
    assert!(
        matches!(changed.as_slice(), [InPlace::RateCap { from: Some(a), to: Some(b) }] if b > a),
        "{changed:?}"
    );
}

#[test]
fn a_new_public_address_changes_the_internets_routes_in_place() {
    let (set, _, plan) = changes(&[(
        "vnets:\n",
        "  - {name: db-pip, sku: Standard, ip_address: 198.51.100.11, location: westeurope}\nvnets:\n",
    )]);
    let internet = (plan.ports.iter())
        .find(|p| p.kind.is_internet())
        .map(|p| p.name.clone())
        .expect("the lab's Internet");
    assert!(matches!(fate(&set, &plan, &internet), Fate::Kept(_)));
    assert_eq!(in_place_of(&set, &plan, &internet), [InPlace::DeviceRoutes]);
}

const HYBRID: &str = include_str!("../../../config/hybrid.yaml");

#[test]
fn a_site_router_rebuilt_takes_its_tunnels_with_it() {
    let lab = loaded(HYBRID);
    let (topology, plan) = &lab;
    let specs: Vec<NamespaceSpec> = (plan.ports.iter())
        .map(|p| building().spec(topology, p))
        .collect();
    let tunnel = (specs.iter().position(|s| s.existing_namespace))
        .map(PortIdx::new)
        .expect("a site's tunnel");
    let router = specs[tunnel.index()].name.clone();
    let set = between(&lab, &lab, std::slice::from_ref(&router));
    for (i, spec) in specs.iter().enumerate() {
        let i = PortIdx::new(i);
        let expected = match spec.existing_namespace && spec.name == router {
            // Built again where it was: into the rebuilt router.
            true => Fate::Built { replacing: Some(i) },
            false => Fate::Kept(i),
        };
        assert_eq!(set.fates[i], expected, "{}", plan.ports[i].name);
    }
    assert!(set.fates[tunnel] != Fate::Kept(tunnel));
    // A router's namespace exists: none of its tunnels is fresh.
    assert!(
        set.fresh_namespaces.is_empty(),
        "{:?}",
        set.fresh_namespaces
    );
}

const INTERNET_EDGE: &str = include_str!("../../../config/internet-edge.yaml");

#[test]
fn a_new_dnat_rule_changes_the_firewalls_rules_in_place() {
    let text = INTERNET_EDGE.replace(
        "translated_address: 10.2.1.4, translated_port: 443}",
        "translated_address: 10.2.1.4, translated_port: 443}\n              - {name: http-to-vm2, protocols: [TCP], source_addresses: [\"*\"], destination_address: 198.51.100.20, destination_ports: [\"80\"], translated_address: 10.2.1.4, translated_port: 80}",
    );
    assert_ne!(text, INTERNET_EDGE);
    let (_, plan) = loaded(&text);
    let set = between(&loaded(INTERNET_EDGE), &loaded(&text), &[]);
    assert!(set.leaving.is_empty() && set.slots_needed() == 0);
    let changed: Vec<(&str, &[InPlace])> = (set.in_place.iter())
        .map(|k| (plan.ports[k.port].name.as_str(), k.changes.as_slice()))
        .collect();
    assert_eq!(changed, [("hub-fw", &[InPlace::FirewallRules][..])]);
}
