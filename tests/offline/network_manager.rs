//! Azure Virtual Network Manager in a topology file: security admin rules
//! judged before the NSGs exactly as a plain reference does (admin rules
//! in priority order, then each NSG), connected groups and the peerings a
//! hub-and-spoke configuration creates, deployments by region, and what
//! Azure refuses, refused at its line.

use crate::common;
use common::broken_files::{assert_refused_with_words, check, Case};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr};
use vnetd::engine::classifier::PacketKey;
use vnetd::plan::PortIdx;
use vnetd::policy::admin::{first_decision, Decider};
use vnetd::policy::gateways::LearnedRoutes;
use vnetd::policy::nsg::{effective_rules_at, first_match, nsg_chain, EffectiveRule};
use vnetd::snapshot::Snapshot;
use vnetd::topology::*;

const TAG: &str = "avnm";
const EXAMPLE: &str = include_str!("../../config/network-manager.yaml");

fn load(text: &str) -> Topology {
    match parse_str("test.yaml", text) {
        Ok(loaded) => loaded.topology,
        Err(errors) => panic!("refused: {errors:#?}\n{text}"),
    }
}

// ---- admin rules against the plain reference -----------------------------

/// Addresses rules and packets are drawn from: the NIC, its VNet, the
/// other VNet, the Internet.
const ADDRESSES: [&str; 5] = ["10.1.1.4", "10.1.2.9", "10.2.1.4", "203.0.113.7", "8.8.8.8"];
const PREFIXES: [&str; 7] = [
    "10.1.1.4/32",
    "10.1.0.0/16",
    "10.2.0.0/16",
    "203.0.113.0/24",
    "0.0.0.0/0",
    "Internet",
    "VirtualNetwork",
];
pub(crate) const PORTS: [u16; 5] = [22, 80, 443, 3389, 9100];
const PROTOCOLS: [(&str, u8); 5] = [
    ("Tcp", 6),
    ("Udp", 17),
    ("Icmp", 1),
    ("Esp", 50),
    ("Any", 0),
];

#[derive(Debug, Clone)]
pub(crate) struct AdminSpec {
    priority: u16,
    inbound: bool,
    action: &'static str,
    protocol: usize,
    sources: Vec<usize>,
    destinations: Vec<usize>,
    port: Option<usize>,
}

#[derive(Debug, Clone)]
pub(crate) struct NsgSpec {
    inbound: bool,
    allow: bool,
    protocol: usize,
    source: usize,
    destination: usize,
    port: Option<usize>,
}

pub(crate) fn admin_spec() -> impl Strategy<Value = AdminSpec> {
    (
        1u16..12,
        any::<bool>(),
        prop::sample::select(vec!["Allow", "AlwaysAllow", "Deny"]),
        0..PROTOCOLS.len(),
        prop::collection::vec(0..PREFIXES.len(), 0..3),
        prop::collection::vec(0..PREFIXES.len(), 0..3),
        prop::option::of(0..PORTS.len()),
    )
        .prop_map(
            |(priority, inbound, action, protocol, sources, destinations, port)| AdminSpec {
                priority,
                inbound,
                action,
                protocol,
                sources,
                destinations,
                port,
            },
        )
}

pub(crate) fn nsg_spec() -> impl Strategy<Value = NsgSpec> {
    (
        any::<bool>(),
        any::<bool>(),
        0..PROTOCOLS.len(),
        0..PREFIXES.len(),
        0..PREFIXES.len(),
        prop::option::of(0..PORTS.len()),
    )
        .prop_map(
            |(inbound, allow, protocol, source, destination, port)| NsgSpec {
                inbound,
                allow,
                protocol,
                source,
                destination,
                port,
            },
        )
}

fn direction(inbound: bool) -> &'static str {
    if inbound {
        "Inbound"
    } else {
        "Outbound"
    }
}

fn nsg_protocol(i: usize) -> &'static str {
    match PROTOCOLS[i].0 {
        "Any" => "\"*\"",
        name => name,
    }
}

/// A file with the NIC `vm` (10.1.1.4) in spoke1, whose subnet NSG and NIC
/// NSG hold `nsgs` (split between them), and admin rules split between two
/// collections of two configurations, deployed to spoke1's region only:
/// spoke2 (another region) gets none.
pub(crate) fn file(admin: &[AdminSpec], nsgs: &[NsgSpec]) -> String {
    let mut t = String::from(
        "vnets:\n\
         - {name: spoke1, address_space: [10.1.0.0/16], location: westeurope, subnets: [{name: app, address_prefixes: [10.1.1.0/24], network_security_group: subnet-nsg}]}\n\
         - {name: spoke2, address_space: [10.2.0.0/16], location: northeurope, subnets: [{name: app, address_prefixes: [10.2.1.0/24]}]}\n\
         network_interfaces:\n\
         - {name: vm, subnet: spoke1/app, private_ip_address: 10.1.1.4, network_security_group: nic-nsg}\n\
         - {name: other, subnet: spoke2/app, private_ip_address: 10.2.1.4}\n\
         network_security_groups:\n",
    );
    for (n, name) in ["subnet-nsg", "nic-nsg"].into_iter().enumerate() {
        t.push_str(&format!("- name: {name}\n  security_rules:\n"));
        let mine = nsgs.iter().enumerate().filter(|(i, _)| i % 2 == n);
        for (i, r) in mine {
            let port = r
                .port
                .map_or("\"*\"".to_string(), |p| format!("\"{}\"", PORTS[p]));
            t.push_str(&format!(
                "  - {{name: r{i}, priority: {}, direction: {}, access: {}, protocol: {}, \
                 source_address_prefix: {}, source_port_range: \"*\", destination_address_prefix: {}, \
                 destination_port_range: {port}}}\n",
                100 + i,
                direction(r.inbound),
                if r.allow { "Allow" } else { "Deny" },
                nsg_protocol(r.protocol),
                PREFIXES[r.source],
                PREFIXES[r.destination],
            ));
        }
        if !nsgs.iter().enumerate().any(|(i, _)| i % 2 == n) {
            t.push_str("  []\n");
            t = t.replace("  security_rules:\n  []\n", "  security_rules: []\n");
        }
    }
    t.push_str(
        "network_managers:\n\
         - name: avnm\n  network_groups:\n  - {name: all, member_name_contains: [spoke]}\n  \
         security_admin_configurations:\n",
    );
    for (c, config) in ["first", "second"].into_iter().enumerate() {
        t.push_str(&format!(
            "  - name: {config}\n    rule_collections:\n    - name: coll\n      network_groups: [all]\n      rules:\n"
        ));
        let mine: Vec<_> = admin
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == c)
            .collect();
        if mine.is_empty() {
            t = t.trim_end_matches("      rules:\n").to_string() + "\n      rules: []\n";
        }
        for (i, r) in mine {
            let list = |l: &[usize]| {
                let items: Vec<&str> = l.iter().map(|&p| PREFIXES[p]).collect();
                format!("[{}]", items.join(", "))
            };
            let ports = r.port.map_or(String::new(), |p| {
                format!(", destination_port_ranges: [\"{}\"]", PORTS[p])
            });
            t.push_str(&format!(
                "      - {{name: a{i}, priority: {}, direction: {}, action: {}, protocol: {}, \
                 sources: {}, destinations: {}{ports}}}\n",
                // Unique in a collection; equal across the two now and then.
                r.priority * 100 + u16::try_from(i / 2).unwrap(),
                direction(r.inbound),
                r.action,
                PROTOCOLS[r.protocol].0,
                list(&r.sources),
                list(&r.destinations),
            ));
        }
    }
    t.push_str(
        "  deployments:\n  - {location: westeurope, scope_access: SecurityAdmin, configurations: [first, second]}\n",
    );
    t
}

/// The plain reading of one admin rule on one packet.
fn admin_matches(rule: &AdminRule, key: &PacketKey, subnet_rules: &[EffectiveRule]) -> bool {
    let side = |specs: &[AddressSpec], ip: IpAddr| {
        specs.is_empty()
            || specs.iter().any(|s| match s {
                AddressSpec::Any => true,
                AddressSpec::Prefixes(p) => p.iter().any(|n| n.contains(&ip)),
                // Tags expand as the NSG's default rules expand them.
                AddressSpec::Tag(ServiceTag::VirtualNetwork) => subnet_rules
                    .iter()
                    .find(|r| r.name.ends_with("AllowVnetInBound"))
                    .is_some_and(|r| r.expanded_source.iter().any(|n| n.contains(&ip))),
                AddressSpec::Tag(ServiceTag::Internet) => subnet_rules
                    .iter()
                    .find(|r| r.name.ends_with("AllowInternetOutBound"))
                    .is_some_and(|r| r.expanded_destination.iter().any(|n| n.contains(&ip))),
                AddressSpec::Tag(_) | AddressSpec::Asgs(_) => false,
            })
    };
    let s = &rule.settings;
    s.protocol.matches(key.proto)
        && side(&s.sources, key.src)
        && side(&s.destinations, key.dst)
        && s.source_ports.matches(key.src_port)
        && s.destination_ports.matches(key.dst_port)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The compiled stages decide every packet as the reference does:
    /// the first admin rule by priority decides on Deny and AlwaysAllow,
    /// hands on with Allow or no match, and every NSG must then allow.
    #[test]
    fn admin_rules_then_nsgs_decide_as_the_plain_reference(
        admin in prop::collection::vec(admin_spec(), 0..7),
        nsgs in prop::collection::vec(nsg_spec(), 0..6),
        packets in prop::collection::vec(
            (0..ADDRESSES.len(), 0..PROTOCOLS.len(), 0..PORTS.len(), any::<bool>()), 1..12),
    ) {
        let text = file(&admin, &nsgs);
        let topo = load(&text);
        let snap = Snapshot::compile(topo.clone(), 1);
        let vm = PortIdx::new(0);
        let other = PortIdx::new(1);
        let subnet = snap.plan.ports[vm].subnet;
        let learned = LearnedRoutes::default();
        for (peer, proto, port, inbound) in packets {
            let dir = if inbound { Direction::Inbound } else { Direction::Outbound };
            let peer: IpAddr = ADDRESSES[peer].parse().unwrap();
            let own = IpAddr::V4(Ipv4Addr::new(10, 1, 1, 4));
            let (src, dst) = if inbound { (peer, own) } else { (own, peer) };
            let proto = if PROTOCOLS[proto].1 == 0 { 47 } else { PROTOCOLS[proto].1 };
            let ported = proto == 6 || proto == 17;
            let key = PacketKey {
                src,
                dst,
                proto,
                src_port: ported.then_some(50_000),
                dst_port: ported.then_some(PORTS[port]),
            };
            // The reference: admin rules of the VNet and direction, by
            // priority then file order, scanned linearly.
            let mut held: Vec<&AdminRule> = topo.network_management.admin_rules.iter()
                .filter(|r| r.settings.direction == dir && r.applies_to.contains(&subnet.vnet))
                .collect();
            held.sort_by_key(|r| r.settings.priority);
            let chain: Vec<Vec<EffectiveRule>> = nsg_chain(&topo, NicIdx::new(0), dir)
                .into_iter()
                .map(|(_, nsg)| effective_rules_at(&topo, &learned, nsg, subnet, &[], dir))
                .collect();
            let defaults = effective_rules_at(&topo, &learned, NsgIdx::new(0), subnet, &[], Direction::Inbound)
                .into_iter()
                .chain(effective_rules_at(&topo, &learned, NsgIdx::new(0), subnet, &[], Direction::Outbound))
                .collect::<Vec<_>>();
            let first_admin = held.iter().position(|r| admin_matches(r, &key, &defaults));
            let expected: (Access, Option<String>) = match first_admin.map(|i| held[i]) {
                Some(r) if r.settings.action == AdminAction::Deny => (Access::Deny, Some(r.path())),
                Some(r) if r.settings.action == AdminAction::AlwaysAllow => (Access::Allow, Some(r.path())),
                allowed => {
                    let mut verdict = (Access::Allow, allowed.map(AdminRule::path));
                    for rules in &chain {
                        let r = first_match(rules, &key).expect("default rules match everything");
                        let name = rules[r].name.clone();
                        if rules[r].settings.access == Access::Deny {
                            verdict = (Access::Deny, Some(name));
                            break;
                        }
                        verdict = (Access::Allow, Some(name));
                    }
                    verdict
                }
            };
            // The compiled stages.
            let verdict = snap.evaluate(vm, dir, &key);
            let got_rule = snap.deciding_rule(vm, dir, &verdict).map(|(_, r)| {
                r.name.strip_prefix("securityAdminRules/").unwrap_or(&r.name).to_string()
            });
            prop_assert_eq!((verdict.access, got_rule.clone()), expected.clone(), "{:?} {:?}\n{}", dir, key, text);
            // The policy's own reference agrees too.
            let admin_rules = vnetd::policy::admin::effective_admin_rules(&topo, &learned, subnet, dir);
            let (access, decider) = first_decision(&admin_rules, &chain, &key);
            prop_assert_eq!(access, expected.0);
            if let Decider::Admin(i) = decider {
                prop_assert_eq!(Some(admin_rules[i].name.trim_start_matches("securityAdminRules/").to_string()), expected.1);
            }
            // A VNet of a region the configurations are not deployed to
            // meets no admin rule: its verdicts name no admin rule.
            let elsewhere = snap.evaluate(other, dir, &key);
            prop_assert!(!elsewhere.by_admin);
        }
    }
}

// ---- connectivity ------------------------------------------------------------

#[test]
fn the_example_connects_spokes_without_peerings_and_peers_the_hub() {
    let topo = load(EXAMPLE);
    let snap = Snapshot::compile(topo.clone(), 1);
    let vm1 = snap.port_by_name("vm1").unwrap();
    let rows: Vec<(String, &'static str)> = snap
        .nic_routes(vm1)
        .routes
        .iter()
        .map(|r| (r.address_prefix.to_string(), r.next_hop_type.as_str()))
        .collect();
    for (prefix, hop) in [
        ("10.0.0.0/16", "VNetPeering"),
        ("10.2.0.0/16", "ConnectedGroup"),
        ("10.3.0.0/16", "ConnectedGroup"),
    ] {
        assert!(rows.contains(&(prefix.to_string(), hop)), "{rows:?}");
    }
    // The hub-and-spoke configuration peered the hub with spoke1 and
    // spoke3 (both ways), and left spoke2's own peering as it was.
    let mut anm: Vec<String> = topo
        .peerings
        .iter()
        .filter(|p| p.name.starts_with("ANM_"))
        .map(|p| format!("{}->{}", topo.vnets[p.vnet].name, topo.vnets[p.remote].name))
        .collect();
    anm.sort();
    assert_eq!(
        anm,
        ["hub->spoke1", "hub->spoke3", "spoke1->hub", "spoke3->hub"]
    );
    assert_eq!(
        topo.network_management.groups[NetworkGroupIdx::new(0)]
            .members
            .iter()
            .map(|&v| topo.vnets[v].name.as_str())
            .collect::<Vec<_>>(),
        ["spoke1", "spoke2", "spoke3"]
    );
}

#[test]
fn without_the_hubs_link_spoke2_reaches_the_hub_through_the_connected_group() {
    let text = EXAMPLE.replace(
        "  - {name: hub-to-spoke2, virtual_network: hub, remote_virtual_network: spoke2}\n",
        "",
    );
    let snap = Snapshot::compile(load(&text), 1);
    let vm2 = snap.port_by_name("vm2").unwrap();
    let hub1: IpAddr = "10.0.1.4".parse().unwrap();
    let route = snap.route(vm2, hub1).unwrap();
    assert_eq!(route.next_hop_type, NextHopType::ConnectedGroup);
    // Without direct connectivity there is no connected group: the hub is
    // out of reach once its link is gone.
    let plain = text.replace(
        "group_connectivity: DirectlyConnected",
        "group_connectivity: None",
    );
    let snap = Snapshot::compile(load(&plain), 1);
    let route = snap.route(snap.port_by_name("vm2").unwrap(), hub1).unwrap();
    assert_eq!(route.next_hop_type, NextHopType::None);
}

/// A two-region mesh: `global` decides whether the regions are joined.
fn mesh(global: bool) -> String {
    format!(
        "vnets:\n\
         - {{name: aa, address_space: [10.1.0.0/16], location: westeurope, subnets: [{{name: s, address_prefixes: [10.1.1.0/24]}}]}}\n\
         - {{name: bb, address_space: [10.2.0.0/16], location: westeurope, subnets: [{{name: s, address_prefixes: [10.2.1.0/24]}}]}}\n\
         - {{name: cc, address_space: [10.3.0.0/16], location: eastus, subnets: [{{name: s, address_prefixes: [10.3.1.0/24]}}]}}\n\
         network_interfaces:\n\
         - {{name: va, subnet: aa/s, private_ip_address: 10.1.1.4}}\n\
         network_managers:\n\
         - name: m\n  network_groups: [{{name: g, static_members: [aa, bb, cc]}}]\n  \
         connectivity_configurations:\n  - name: mesh\n    connectivity_topology: Mesh\n    global_mesh_enabled: {global}\n    \
         applies_to_group: [{{network_group: g}}]\n  \
         deployments:\n  - {{location: westeurope, scope_access: Connectivity, configurations: [mesh]}}\n  \
         - {{location: eastus, scope_access: Connectivity, configurations: [mesh]}}\n"
    )
}

#[test]
fn a_mesh_joins_one_region_and_only_a_global_mesh_joins_two() {
    for global in [false, true] {
        let snap = Snapshot::compile(load(&mesh(global)), 1);
        let va = snap.port_by_name("va").unwrap();
        let hop = |dst: &str| snap.route(va, dst.parse().unwrap()).unwrap().next_hop_type;
        assert_eq!(hop("10.2.1.4"), NextHopType::ConnectedGroup);
        let across = if global {
            NextHopType::ConnectedGroup
        } else {
            NextHopType::None
        };
        assert_eq!(hop("10.3.1.4"), across, "global: {global}");
        assert!(
            snap.topology.peerings.is_empty(),
            "a mesh creates no peering"
        );
    }
}

#[test]
fn a_configuration_takes_effect_only_in_the_regions_it_is_deployed_to() {
    let text = mesh(true).replace(
        "  - {location: eastus, scope_access: Connectivity, configurations: [mesh]}\n",
        "",
    );
    let snap = Snapshot::compile(load(&text), 1);
    let va = snap.port_by_name("va").unwrap();
    let hop = |dst: &str| snap.route(va, dst.parse().unwrap()).unwrap().next_hop_type;
    assert_eq!(hop("10.2.1.4"), NextHopType::ConnectedGroup);
    assert_eq!(hop("10.3.1.4"), NextHopType::None);
}

#[test]
fn admin_rules_leave_out_vnets_with_network_intent_policies_and_say_so() {
    let text = EXAMPLE.replace(
        "      - {name: app, address_prefixes: [10.3.1.0/24]}\n",
        "      - {name: app, address_prefixes: [10.3.1.0/24]}\n      - {name: sqlmi, address_prefixes: [10.3.9.0/24], delegation: Microsoft.Sql/managedInstances}\n",
    );
    let loaded = parse_str("test.yaml", &text).expect("accepted");
    assert!(
        loaded.warnings.iter().any(|w| w.message.contains(
            "VNet `spoke3` runs a service with network intent policies (a subnet delegated to \
             Microsoft.Sql/managedInstances): Azure does not apply security admin rules there"
        )),
        "{:#?}",
        loaded.warnings
    );
    let rules = &loaded.topology.network_management.admin_rules;
    let spoke3 = loaded.topology.vnets.by_name("spoke3").unwrap();
    assert!(rules.iter().all(|r| !r.applies_to.contains(&spoke3)));
    assert!(rules.iter().all(|r| r.applies_to.len() == 2));
}

// ---- refusals ------------------------------------------------------------------

const RULE: &str = "{name: deny-rdp-and-ssh-from-the-internet, priority: 100,";

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "admin-priority-zero",
            edits: &[(RULE, "{name: deny-rdp-and-ssh-from-the-internet, priority: 0,")],
            expect: &[(RULE_LINE, "security admin rules take priorities 1 to 4096")],
        },
        Case {
            name: "admin-priority-too-high",
            edits: &[(RULE, "{name: deny-rdp-and-ssh-from-the-internet, priority: 4097,")],
            expect: &[(RULE_LINE, "security admin rules take priorities 1 to 4096")],
        },
        Case {
            name: "admin-action-unknown",
            edits: &[("action: Deny,", "action: Block,")],
            expect: &[(RULE_LINE, "`Block` is not one of Allow, Alwaysallow, Deny")],
        },
        Case {
            name: "always-allow-in-an-nsg",
            edits: &[(
                "{name: deny-the-hub, priority: 100, direction: Inbound, access: Deny,",
                "{name: deny-the-hub, priority: 100, direction: Inbound, access: AlwaysAllow,",
            )],
            expect: &[("name: deny-the-hub", "`AlwaysAllow` is not one of Allow, Deny")],
        },
        Case {
            name: "admin-protocol-gre",
            edits: &[("action: Deny, protocol: Tcp,", "action: Deny, protocol: Gre,")],
            expect: &[(RULE_LINE, "`Gre` is not one of Tcp, Udp, Icmp, Esp, Ah, Any")],
        },
        Case {
            name: "unknown-network-group",
            edits: &[("network_groups: [spokes]", "network_groups: [spokez]")],
            expect: &[(
                "network_groups: [spokez]",
                "no network group of this network manager named `spokez`",
            )],
        },
        Case {
            name: "deployment-of-the-wrong-kind",
            edits: &[(
                "{location: westeurope, scope_access: SecurityAdmin, configurations: [guardrails]}",
                "{location: westeurope, scope_access: SecurityAdmin, configurations: [hub-and-spoke]}",
            )],
            expect: &[(
                "scope_access: SecurityAdmin, configurations: [hub-and-spoke]",
                "`hub-and-spoke` is a Connectivity configuration, and this deployment commits \
                 SecurityAdmin ones",
            )],
        },
        Case {
            name: "hub-and-spoke-without-a-hub",
            edits: &[("        hub: hub\n", "")],
            expect: &[(
                "  - name: hub-and-spoke",
                "a hub-and-spoke configuration needs its `hub` VNet",
            )],
        },
        Case {
            name: "unknown-static-member",
            edits: &[("static_members: [spoke1]", "static_members: [spoke9]")],
            expect: &[(
                "static_members: [spoke9]",
                "no virtual network named `spoke9`",
            )],
        },
        Case {
            name: "two-rules-with-one-priority",
            edits: &[(
                "{name: always-allow-monitoring, priority: 110,",
                "{name: always-allow-monitoring, priority: 100,",
            )],
            expect: &[(
                "{name: always-allow-monitoring, priority: 100,",
                "priority 100 is already taken by `deny-rdp-and-ssh-from-the-internet`",
            )],
        },
    ]
}

const RULE_LINE: &str = "{name: deny-rdp-and-ssh-from-the-internet,";

#[test]
fn what_azure_refuses_in_a_network_manager_is_refused_with_its_line() {
    for case in cases() {
        assert_refused_with_words(TAG, EXAMPLE, &case);
    }
}

/// The example with a routing configuration deployed to West Europe only:
/// the spokes there send 192.168.0.0/16 to hub1.
fn with_routing(rules: &str) -> String {
    EXAMPLE.replace(
        "    deployments:\n",
        &format!(
            "    routing_configurations:\n      - name: through-the-hub\n        rule_collections:\n          \
             - name: spokes\n            network_groups: [spokes]\n            rules:\n{rules}    deployments:\n      \
             - {{location: westeurope, scope_access: Routing, configurations: [through-the-hub]}}\n"
        ),
    )
}

const TO_HUB1: &str = "              - {name: private-to-hub1, destination: 192.168.0.0/16, \
                       next_hop_type: VirtualAppliance, next_hop_address: 10.0.1.4}\n";

#[test]
fn routing_rules_write_user_routes_into_the_deployed_members_subnets() {
    let tagged =
        "              - {name: to-a-tag, destination: AzureCloud, next_hop_type: Internet}\n";
    let text = with_routing(&format!("{TO_HUB1}{tagged}"));
    let loaded = parse_str("test.yaml", &text).expect("accepted");
    assert!(
        loaded.warnings.iter().any(|w| w.message.contains(
            "`AzureCloud` is a service tag: routing rules to service tags are not emulated"
        )),
        "{:#?}",
        loaded.warnings
    );
    let snap = Snapshot::compile(loaded.topology, 1);
    let dst: IpAddr = "192.168.1.1".parse().unwrap();
    for vm in ["vm1", "vm2"] {
        let route = snap.route(snap.port_by_name(vm).unwrap(), dst).unwrap();
        assert_eq!(route.next_hop_type, NextHopType::VirtualAppliance, "{vm}");
        assert_eq!(route.next_hop_ip, Some("10.0.1.4".parse().unwrap()));
        assert_eq!(route.name.as_deref(), Some("private-to-hub1"));
        let table = &snap.topology.route_tables[route.route_table.unwrap()];
        assert_eq!(
            table.name,
            format!("ANM_through-the-hub_spoke{}_app", &vm[2..])
        );
    }
    // spoke3 is in a region the configuration is not deployed to; the hub
    // is in no group.
    for vm in ["vm3", "hub1"] {
        let route = snap.route(snap.port_by_name(vm).unwrap(), dst).unwrap();
        assert_eq!(route.next_hop_type, NextHopType::None, "{vm}");
    }
}

#[test]
fn a_subnets_own_route_wins_over_a_routing_rule_for_the_same_destination() {
    let text = with_routing(TO_HUB1)
        .replace(
            "      - {name: app, address_prefixes: [10.1.1.0/24], network_security_group: app-nsg}",
            "      - {name: app, address_prefixes: [10.1.1.0/24], network_security_group: app-nsg, route_table: own}",
        )
        .replace(
            "network_managers:\n",
            "route_tables:\n  - name: own\n    bgp_route_propagation_enabled: false\n    routes:\n      \
             - {name: private-to-nowhere, address_prefix: 192.168.0.0/16, next_hop_type: None}\n\
             network_managers:\n",
        );
    let loaded = parse_str("test.yaml", &text).expect("accepted");
    assert!(
        loaded.warnings.iter().any(|w| w.message.contains(
            "subnet `spoke1/app`'s route table has a route for 192.168.0.0/16 already: Azure \
             ignores this rule there"
        )),
        "{:#?}",
        loaded.warnings
    );
    let snap = Snapshot::compile(loaded.topology, 1);
    let vm1 = snap.port_by_name("vm1").unwrap();
    let route = snap.route(vm1, "192.168.1.1".parse().unwrap()).unwrap();
    assert_eq!(route.name.as_deref(), Some("private-to-nowhere"));
    // The managed table keeps the subnet's own table's propagation.
    assert!(!snap
        .topology
        .propagates_gateway_routes(snap.plan.ports[vm1].subnet));
}

#[test]
fn conflicting_routing_rules_and_routes_to_peerings_are_refused_at_their_line() {
    let conflict = "              - {name: private-elsewhere, destination: 192.168.0.0/16, \
                    next_hop_type: Internet}\n";
    let text = with_routing(&format!("{TO_HUB1}{conflict}"));
    let (code, stderr, path) = check(TAG, "routing-conflict", &text);
    assert_eq!(code, Some(1), "{stderr}");
    let line = common::broken_files::line_of(&text, "name: private-elsewhere", "conflict");
    assert!(
        stderr.contains(&format!(
            "{}:{line}: error: network_managers[contoso-avnm].routing_configurations[through-the-hub].rule_collections[spokes].rules[private-elsewhere]: rule `private-to-hub1` already sends 192.168.0.0/16 elsewhere in subnet `spoke1/app`",
            path.display()
        )),
        "{stderr}"
    );
    let to_group = "              - {name: to-the-group, destination: 10.2.0.0/16, \
                    next_hop_type: ConnectedGroup}\n";
    let (code, stderr, _) = check(TAG, "routing-system-hop", &with_routing(to_group));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("`ConnectedGroup` is not allowed in a user-defined route"),
        "{stderr}"
    );
}
