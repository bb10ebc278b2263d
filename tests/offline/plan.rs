//! The lab plan of the shipped topologies, port by port, against a
//! reference written out by hand: which ports a topology needs (the file's
//! NICs, then gateway instances, site tunnels and health probers), their
//! names, namespaces, interfaces and addresses; and what changes between
//! two plans.

use vnetd::plan::{Plan, PortIdx};
use vnetd::topology::{parse_str, Topology};

fn load(source: &str, text: &str) -> Topology {
    parse_str(source, text)
        .unwrap_or_else(|e| panic!("{source}: {e:?}"))
        .topology
}

/// (kind, name, namespace, interface, addresses) of every port, in order.
fn ports(plan: &Plan) -> Vec<(String, String, String, String, Vec<String>)> {
    plan.ports
        .iter()
        .map(|p| {
            (
                p.kind.name().to_string(),
                p.name.clone(),
                p.netns.clone(),
                p.interface.clone(),
                p.ip_configurations
                    .iter()
                    .map(|c| c.address.to_string())
                    .collect(),
            )
        })
        .collect()
}

fn reference(
    rows: &[(&str, &str, &str, &str, &[&str])],
) -> Vec<(String, String, String, String, Vec<String>)> {
    rows.iter()
        .map(|(kind, name, netns, interface, addresses)| {
            (
                kind.to_string(),
                name.to_string(),
                netns.to_string(),
                interface.to_string(),
                addresses.iter().map(|a| a.to_string()).collect(),
            )
        })
        .collect()
}

#[test]
fn the_built_in_lab_is_its_four_vms() {
    let t = load(
        "hub-spoke.yaml",
        include_str!("../../config/hub-spoke.yaml"),
    );
    let plan = Plan::derive(&t);
    assert_eq!(
        ports(&plan),
        reference(&[
            ("vm", "nva1", "nva1", "eth0", &["10.0.1.4"]),
            ("vm", "shared1", "shared1", "eth0", &["10.0.2.4"]),
            ("vm", "vm1", "vm1", "eth0", &["10.1.1.4"]),
            ("vm", "vm2", "vm2", "eth0", &["10.2.1.4"]),
            // Each VNet's Azure DNS, owning 168.63.129.16.
            (
                "azure-dns",
                "dns-hub",
                "nva1.dns",
                "eth0",
                &["168.63.129.16"]
            ),
            (
                "azure-dns",
                "dns-spoke1",
                "vm1.dns",
                "eth0",
                &["168.63.129.16"]
            ),
            (
                "azure-dns",
                "dns-spoke2",
                "vm2.dns",
                "eth0",
                &["168.63.129.16"]
            ),
        ])
    );
    assert_eq!(
        plan.namespaces,
        ["nva1", "shared1", "vm1", "vm2", "nva1.dns", "vm1.dns", "vm2.dns"]
    );
    // The topology holds the file's NICs only, at the same indices.
    assert_eq!(t.nics.len(), 4);
    for (i, nic) in t.nics.iter_enumerated() {
        assert_eq!(plan.ports[PortIdx::of_nic(i)].name, nic.name);
    }
}

#[test]
fn a_hybrid_lab_adds_the_gateway_instance_and_the_sites_tunnel() {
    let t = load("hybrid.yaml", include_str!("../../config/hybrid.yaml"));
    let plan = Plan::derive(&t);
    assert_eq!(
        ports(&plan),
        reference(&[
            ("vm", "hub-vm", "hub-vm", "eth0", &["10.0.1.4"]),
            ("vm", "vm1", "vm1", "eth0", &["10.1.1.4"]),
            ("vm", "vm2", "vm2", "eth0", &["10.2.1.4"]),
            // Not active-active: the one instance holds the GatewaySubnet's
            // last usable address (10.0.255.224/27).
            (
                "gateway-instance",
                "hub-vpngw-0",
                "hub-vpngw-0",
                "eth0",
                &["10.0.255.254"]
            ),
            (
                "site-tunnel",
                "branch1-to-hub-vpngw-0",
                "branch1",
                "vti0",
                &[]
            ),
            (
                "azure-dns",
                "dns-hub",
                "hub-vm.dns",
                "eth0",
                &["168.63.129.16"]
            ),
            (
                "azure-dns",
                "dns-spoke1",
                "vm1.dns",
                "eth0",
                &["168.63.129.16"]
            ),
            (
                "azure-dns",
                "dns-spoke2",
                "vm2.dns",
                "eth0",
                &["168.63.129.16"]
            ),
        ])
    );
    assert_eq!(
        plan.namespaces,
        [
            "hub-vm",
            "vm1",
            "vm2",
            "hub-vpngw-0",
            "branch1",
            "hub-vm.dns",
            "vm1.dns",
            "vm2.dns",
            "onprem-vm"
        ]
    );
    assert_eq!(t.nics.len(), 3);
    // The gateway's ports are in its GatewaySubnet, forward and have no NSG.
    for p in plan.ports.iter().filter(|p| p.kind.gateway().is_some()) {
        assert_eq!(t.subnet(p.subnet).name, "GatewaySubnet");
        assert!(p.ip_forwarding);
        assert_eq!(p.network_security_group, None);
    }
}

#[test]
fn a_vnet_with_load_balancers_gets_one_prober_after_the_vms() {
    let t = load("ha-nva.yaml", include_str!("../../config/ha-nva.yaml"));
    let plan = Plan::derive(&t);
    assert_eq!(
        ports(&plan),
        reference(&[
            ("vm", "nva1", "nva1", "eth0", &["10.0.1.4"]),
            ("vm", "nva2", "nva2", "eth0", &["10.0.1.5"]),
            ("vm", "web1", "web1", "eth0", &["10.0.2.4"]),
            ("vm", "web2", "web2", "eth0", &["10.0.2.5"]),
            ("vm", "vm1", "vm1", "eth0", &["10.1.1.4"]),
            ("vm", "vm2", "vm2", "eth0", &["10.2.1.4"]),
            (
                "prober",
                "probe-hub",
                "probe-hub",
                "eth0",
                &["168.63.129.16"]
            ),
            (
                "azure-dns",
                "dns-hub",
                "nva1.dns",
                "eth0",
                &["168.63.129.16"]
            ),
            (
                "azure-dns",
                "dns-spoke1",
                "vm1.dns",
                "eth0",
                &["168.63.129.16"]
            ),
            (
                "azure-dns",
                "dns-spoke2",
                "vm2.dns",
                "eth0",
                &["168.63.129.16"]
            ),
        ])
    );
    // In the subnet of the first frontend of the VNet's first balancer.
    let prober = plan.ports.iter().nth(6).unwrap();
    assert_eq!(t.subnet_path(prober.subnet), "hub/nva");
    assert!(!prober.ip_forwarding);
}

const TWO_VNETS: &str = "\
vnets:
  - name: va
    address_space: [10.1.0.0/16]
    location: westeurope
    subnets:
      - name: app
        address_prefixes: [10.1.1.0/24]
  - name: vb
    address_space: [10.2.0.0/16]
    location: westeurope
    subnets:
      - name: app
        address_prefixes: [10.2.1.0/24]
      - name: GatewaySubnet
        address_prefixes: [10.2.255.224/27]
network_interfaces:
  - name: vm-a
    subnet: va/app
    private_ip_address: 10.1.1.4
  - name: vm-b
    subnet: vb/app
    private_ip_address: 10.2.1.4
virtual_network_gateways:
  - name: gw-b
    virtual_network: vb
    type: Vpn
    vpn_type: RouteBased
    sku: VpnGw1
    active_active: true
    bgp_enabled: true
    bgp_settings: {asn: 65515}
";

const ONE_VNET: &str = "\
vnets:
  - name: va
    address_space: [10.1.0.0/16]
    location: westeurope
    subnets:
      - name: app
        address_prefixes: [10.1.1.0/24]
network_interfaces:
  - name: vm-a
    subnet: va/app
    private_ip_address: 10.1.1.4
";

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_same_file_twice_is_an_empty_diff() {
    let plan = Plan::derive(&load("two.yaml", TWO_VNETS));
    let again = Plan::derive(&load("two.yaml", TWO_VNETS));
    let diff = plan.diff(&again);
    assert!(diff.is_empty(), "{diff:?}");
    assert_eq!(
        diff.kept,
        names(&["vm-a", "vm-b", "gw-b-0", "gw-b-1", "dns-va", "dns-vb"])
    );
}

#[test]
fn an_added_nic_is_an_added_port_and_namespace() {
    let before = Plan::derive(&load("one.yaml", ONE_VNET));
    let text = format!(
        "{ONE_VNET}  - name: vm-a2\n    subnet: va/app\n    private_ip_address: 10.1.1.5\n"
    );
    let after = Plan::derive(&load("one.yaml", &text));
    let diff = before.diff(&after);
    assert_eq!(diff.added, names(&["vm-a2"]));
    assert_eq!(diff.namespaces_added, names(&["vm-a2"]));
    assert_eq!(diff.kept, names(&["vm-a", "dns-va"]));
    assert!(diff.removed.is_empty() && diff.changed.is_empty());
    assert!(diff.namespaces_removed.is_empty());
}

#[test]
fn a_removed_vnet_takes_its_nics_and_gateway_instances_with_it() {
    let before = Plan::derive(&load("two.yaml", TWO_VNETS));
    let after = Plan::derive(&load("one.yaml", ONE_VNET));
    let diff = before.diff(&after);
    assert!(diff.added.is_empty());
    assert_eq!(diff.removed, names(&["vm-b", "gw-b-0", "gw-b-1", "dns-vb"]));
    assert_eq!(diff.kept, names(&["vm-a", "dns-va"]));
    assert!(diff.changed.is_empty());
    assert_eq!(
        diff.namespaces_removed,
        names(&["vm-b", "gw-b-0", "gw-b-1", "vm-b.dns"])
    );
    assert!(diff.namespaces_added.is_empty());
    // And back: the same ports appear again.
    let back = after.diff(&before);
    assert_eq!(back.added, names(&["vm-b", "gw-b-0", "gw-b-1", "dns-vb"]));
    assert!(back.removed.is_empty());
}

#[test]
fn a_moved_address_is_a_changed_port() {
    let before = Plan::derive(&load("one.yaml", ONE_VNET));
    let after = Plan::derive(&load("one.yaml", &ONE_VNET.replace("10.1.1.4", "10.1.1.9")));
    let diff = before.diff(&after);
    assert_eq!(diff.changed, names(&["vm-a"]));
    assert_eq!(diff.kept, names(&["vm-a", "dns-va"]));
    assert!(diff.added.is_empty() && diff.removed.is_empty());
}

/// The hybrid lab with a load balancer in the hub, its site's router and
/// host without an explicit namespace, and the lab-wide `netns_prefix`.
fn prefixed_hybrid_lab(prefix: &str) -> String {
    let text = include_str!("../../config/hybrid.yaml")
        .replace("router: {netns: branch1, ", "router: {")
        .replace(", netns: onprem-vm}", "}");
    format!(
        "netns_prefix: {prefix}\n{text}
load_balancers:
  - name: hub-ilb
    sku: Standard
    frontend_ip_configurations:
      - {{name: fe, subnet: hub/default, private_ip_address: 10.0.1.100}}
    backend_address_pools:
      - {{name: vms, network_interfaces: [hub-vm]}}
    probes:
      - {{name: ssh, protocol: Tcp, port: 22, interval_in_seconds: 5, probe_threshold: 1}}
    rules:
      - {{name: ssh, frontend_ip_configuration: fe, backend_address_pool: vms, probe: ssh,
         protocol: Tcp, frontend_port: 22, backend_port: 22}}
"
    )
}

#[test]
fn a_netns_prefix_is_before_every_namespace_vnetd_names() {
    let t = load("prefixed.yaml", &prefixed_hybrid_lab("lab1-"));
    let plan = Plan::derive(&t);
    // Every kind of namespace: VMs, the gateway instance, the site's
    // router (its tunnel's), the prober, each VNet's Azure DNS, the site's
    // host.
    assert_eq!(
        plan.namespaces,
        [
            "lab1-hub-vm",
            "lab1-vm1",
            "lab1-vm2",
            "lab1-hub-vpngw-0",
            "lab1-branch1",
            "lab1-probe-hub",
            "lab1-hub-vm.dns",
            "lab1-vm1.dns",
            "lab1-vm2.dns",
            "lab1-onprem-vm",
        ]
    );
    assert_eq!(plan.fabric_namespace.as_deref(), Some("lab1-hub-vm.fabric"));
    // What `vnetd down FILE` removes: the same names, the fabric's too.
    let removed = vnetd::daemon::namespace_names(&t);
    assert_eq!(removed.len(), plan.namespaces.len() + 1);
    for name in removed.iter().chain(plan.ports.iter().map(|p| &p.netns)) {
        assert!(name.starts_with("lab1-"), "{name}");
    }
    // The ports keep their names: counters, flows and traces name them so.
    let port_names: Vec<&str> = plan.ports.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        port_names,
        [
            "hub-vm",
            "vm1",
            "vm2",
            "hub-vpngw-0",
            "branch1-to-hub-vpngw-0",
            "probe-hub",
            "dns-hub",
            "dns-spoke1",
            "dns-spoke2",
        ]
    );
    // The resolved topology holds the prefixed names (`verify` and the
    // routing daemons use them).
    assert_eq!(
        t.sites.iter().next().unwrap().first_router().netns,
        "lab1-branch1"
    );
    assert_eq!(
        t.sites.iter().next().unwrap().hosts[0].netns,
        "lab1-onprem-vm"
    );
}

#[test]
fn an_explicit_netns_is_used_as_written_beside_a_prefix() {
    let text = prefixed_hybrid_lab("lab1-").replace(
        "  - name: hub-vm\n    subnet: hub/default\n",
        "  - name: hub-vm\n    subnet: hub/default\n    netns: mine\n",
    );
    let plan = Plan::derive(&load("explicit.yaml", &text));
    assert_eq!(plan.ports.iter().next().unwrap().netns, "mine");
    assert_eq!(plan.ports.iter().nth(1).unwrap().netns, "lab1-vm1");
    // The fabric is vnetd's: behind the prefix, even after a first
    // namespace the file names.
    assert_eq!(plan.fabric_namespace.as_deref(), Some("lab1-mine.fabric"));
}

#[test]
fn two_labs_with_the_same_names_and_other_prefixes_share_no_namespace() {
    let names = |prefix: &str| {
        vnetd::daemon::namespace_names(&load("lab.yaml", &prefixed_hybrid_lab(prefix)))
    };
    let (a, b) = (names("a-"), names("b-"));
    assert_eq!(a.len(), b.len());
    assert!(a.iter().all(|n| !b.contains(n)), "{a:?} {b:?}");
}
