//! Azure Firewall offline: broken firewalls and policies are refused by
//! `vnetd check` at their line with their reason, none panics; and the
//! compiled firewall decides packets exactly as a naive first match over
//! the policy as written (groups by priority, then collections by
//! priority, then rules in order; default deny), on random policies and
//! real packets through `decide`.

use crate::common;

use common::broken_files::{assert_refused_with_words, check, Case};
use etherparse::PacketBuilder;
use proptest::prelude::*;
use vnetd::dataplane::{decide, DropReason, Stateless, Verdict};
use vnetd::snapshot::Snapshot;
use vnetd::topology::parse_str;

const TAG: &str = "firewall";

const BASE: &str = include_str!("../../config/hub-spoke-firewall.yaml");

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "no-firewall-subnet",
            edits: &[(
                "      - name: AzureFirewallSubnet\n",
                "      - name: firewall\n",
            )],
            expect: &[(
                "    virtual_network: hub",
                "VNet `hub` has no subnet named AzureFirewallSubnet",
            )],
        },
        Case {
            name: "firewall-subnet-too-small",
            edits: &[(
                "address_prefixes: [10.0.1.0/26]",
                "address_prefixes: [10.0.1.0/27]",
            )],
            expect: &[(
                "- name: AzureFirewallSubnet",
                "hub/AzureFirewallSubnet must have an IPv4 prefix of /26 or larger",
            )],
        },
        Case {
            name: "nic-in-the-firewall-subnet",
            edits: &[(
                "subnet: hub/shared\n    private_ip_address: 10.0.2.4",
                "subnet: hub/AzureFirewallSubnet\n    private_ip_address: 10.0.1.10",
            )],
            expect: &[(
                "- name: shared1",
                "hub/AzureFirewallSubnet is reserved for the Azure Firewall `hub-fw`",
            )],
        },
        Case {
            name: "unknown-policy",
            edits: &[(
                "firewall_policy: hub-fw-policy",
                "firewall_policy: hub-policy",
            )],
            expect: &[(
                "firewall_policy: hub-policy",
                "no firewall policy named `hub-policy` in this file",
            )],
        },
        Case {
            name: "unknown-ip-group",
            edits: &[("source_ip_groups: [spokes]", "source_ip_groups: [spoke]")],
            expect: &[(
                "source_ip_groups: [spoke]",
                "no IP group named `spoke` in this file; did you mean `spokes`?",
            )],
        },
        Case {
            name: "priority-out-of-range",
            edits: &[(
                "priority: 200\n        network",
                "priority: 70000\n        network",
            )],
            expect: &[(
                "priority: 70000",
                "firewall rule collection groups and collections take priorities 100 to 65000",
            )],
        },
        Case {
            name: "unknown-protocol",
            edits: &[("protocols: [ICMP]", "protocols: [GRE]")],
            expect: &[(
                "protocols: [GRE]",
                "`GRE` is not one of TCP, UDP, ICMP, Any",
            )],
        },
        Case {
            name: "virtual-wan-firewall",
            edits: &[("sku_tier: Basic", "sku_tier: Basic\n    sku_name: AZFW_Hub")],
            expect: &[(
                "sku_name: AZFW_Hub",
                "an AZFW_Hub firewall is placed in a virtual hub",
            )],
        },
        Case {
            name: "rule-without-source",
            edits: &[("source_addresses: [10.1.0.0/16], ", "")],
            expect: &[(
                "{name: spoke1-to-spoke2-web",
                "a network rule needs source_addresses or source_ip_groups",
            )],
        },
    ]
}

#[test]
fn broken_firewalls_are_refused_with_line_and_reason() {
    for case in &cases() {
        assert_refused_with_words(TAG, BASE, case);
    }
}

/// Texts replaced in a file, in order.
type Edits<'a> = &'a [(&'a str, &'a str)];

/// What Azure refuses in a policy's application rules and FQDNs is
/// refused at its line, with Azure's reason; what it accepts is accepted.
#[test]
fn application_rules_and_fqdns_are_refused_only_where_azure_refuses_them() {
    let app = "        application_rule_collections:\n          - name: web\n            priority: 300\n            action: Allow\n            rules:\n              - {name: ubuntu, protocols: [{type: Https, port: 443}], source_addresses: [10.1.0.0/16], destination_fqdns: [\"*.ubuntu.com\"]}\n        network_rule_collections:\n";
    let fqdn = "destination_fqdns: [db.contoso.com], destination_ports: [\"22\"]";
    let proxy = "  - name: hub-fw-policy\n    dns: {proxy_enabled: true}\n";
    let refused: [(Edits, &str, &str); 4] = [
        (
            &[(
                "destination_addresses: [10.2.0.0/16], destination_ports: [\"22\"]",
                fqdn,
            )],
            "destination_fqdns: [db.contoso.com]",
            "FQDNs in network rules need the policy's DNS proxy",
        ),
        (
            &[
                (
                    "destination_addresses: [10.2.0.0/16], destination_ports: [\"22\"]",
                    "destination_fqdns: [\"*.contoso.com\"], destination_ports: [\"22\"]",
                ),
                ("  - name: hub-fw-policy\n", proxy),
            ],
            "destination_fqdns: [\"*.contoso.com\"]",
            "network rules take FQDNs without wildcards",
        ),
        (
            &[
                ("        network_rule_collections:\n", app),
                ("\"*.ubuntu.com\"", "\"ubuntu.*.com\""),
            ],
            "ubuntu.*.com",
            "a wildcard only at the start",
        ),
        (
            &[
                ("        network_rule_collections:\n", app),
                (
                    "  - name: hub-fw-policy\n",
                    "  - name: hub-fw-policy\n    sku: Basic\n    dns: {proxy_enabled: true}\n",
                ),
            ],
            "dns: {proxy_enabled: true}",
            "Azure Firewall Basic has no DNS proxy",
        ),
    ];
    for (edits, needle, words) in refused {
        let mut text = BASE.to_string();
        for (from, to) in edits {
            let edited = text.replacen(from, to, 1);
            assert_ne!(edited, text, "{from}");
            text = edited;
        }
        let (code, stderr, path) = check(TAG, "fqdn-refused", &text);
        assert_ne!(code, Some(0), "{needle}: {stderr}");
        let line = common::broken_files::line_of(&text, needle, needle);
        let prefix = format!("{}:{line}: ", path.display());
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(&prefix) && l.contains(words)),
            "{needle}: {stderr}"
        );
    }
    let accepted = BASE
        .replacen("        network_rule_collections:\n", app, 1)
        .replacen(
            "destination_addresses: [10.2.0.0/16], destination_ports: [\"22\"]",
            fqdn,
            1,
        )
        .replacen("  - name: hub-fw-policy\n", proxy, 1);
    let (code, stderr, _) = check(TAG, "fqdn-accepted", &accepted);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
}

/// A route table that sends the firewall's own default route elsewhere
/// than the Internet is Azure's forced tunnelling: with the management
/// subnet the lab follows the route silently, as Azure does; without it
/// the lab still follows the route, and warns at its line that Azure wants
/// the subnet.
#[test]
fn the_firewall_subnets_default_route_elsewhere_needs_the_management_subnet() {
    let tunnelled = BASE
        .replacen(
            "      - name: AzureFirewallSubnet\n        address_prefixes: [10.0.1.0/26]\n",
            "      - name: AzureFirewallSubnet\n        address_prefixes: [10.0.1.0/26]\n        route_table: firewall-rt\n",
            1,
        )
        .replacen(
            "route_tables:\n",
            "route_tables:\n  - name: firewall-rt\n    routes:\n      - {name: default-to-onprem, address_prefix: 0.0.0.0/0, next_hop_type: None}\n",
            1,
        );
    let (code, stderr, _) = check(TAG, "forced-tunnel", &tunnelled);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("forced"), "{stderr}");
    let unmanaged = tunnelled.replacen(
        "      - name: AzureFirewallManagementSubnet\n        address_prefixes: [10.0.1.64/26]\n",
        "",
        1,
    );
    assert_ne!(unmanaged, tunnelled);
    let (code, stderr, path) = check(TAG, "forced-tunnel-unmanaged", &unmanaged);
    assert_eq!(code, Some(0), "{stderr}");
    let line = common::broken_files::line_of(&unmanaged, "default-to-onprem", "forced-tunnel");
    let want = format!(
        "{}:{line}: warning: route_tables[firewall-rt].routes[default-to-onprem]: \
         AzureFirewallSubnet of Azure Firewall `hub-fw` sends 0.0.0.0/0 to None: Azure's forced \
         tunnelling needs the management NIC in AzureFirewallManagementSubnet, which this VNet \
         lacks; the lab follows the route",
        path.display()
    );
    assert!(stderr.lines().any(|l| l == want), "{stderr}");
}

#[test]
fn the_firewall_takes_the_first_usable_address_of_its_subnet() {
    let text = BASE.replace("[10.0.1.0/26]", "[10.0.1.128/25]");
    // 10.0.1.128/25 overlaps nothing else of the hub; the routes name the
    // address the firewall now has.
    let text = text.replace(
        "next_hop_in_ip_address: 10.0.1.4",
        "next_hop_in_ip_address: 10.0.1.132",
    );
    let loaded = parse_str("fw.yaml", &text).unwrap();
    let fw = &loaded.topology.firewalls[vnetd::topology::FirewallIdx::new(0)];
    assert_eq!(fw.private_ip.to_string(), "10.0.1.132");
    let snap = Snapshot::compile(loaded.topology, 1);
    let port = snap.port_by_name("hub-fw").unwrap();
    assert!(snap.nics[port].owns("10.0.1.132".parse().unwrap()));
}

// ---- the compiled firewall against a naive first match -----------------

const ADDRESSES: &[&str] = &[
    "\"*\"",
    "10.1.0.0/16",
    "10.1.1.4",
    "10.2.0.0/16",
    "10.2.1.0-10.2.1.7",
    "10.0.0.0/8",
    "192.168.0.0/16",
];
const PORTS: &[&str] = &["\"*\"", "\"22\"", "\"80\"", "\"1000-2000\"", "\"443\""];
const PROTOCOLS: &[&str] = &["TCP", "UDP", "ICMP", "Any"];

#[derive(Debug, Clone)]
struct RuleSpec {
    protocols: Vec<usize>,
    sources: Vec<usize>,
    /// Sources through the IP group `spokes` (10.1.0.0/16, 10.2.0.0/16).
    source_group: bool,
    destinations: Vec<usize>,
    ports: Vec<usize>,
}

#[derive(Debug, Clone)]
struct CollectionSpec {
    priority: u16,
    allow: bool,
    rules: Vec<RuleSpec>,
}

#[derive(Debug, Clone)]
struct GroupSpec {
    priority: u16,
    collections: Vec<CollectionSpec>,
}

fn rule_spec() -> impl Strategy<Value = RuleSpec> {
    (
        prop::collection::vec(0..PROTOCOLS.len(), 1..3),
        prop::collection::vec(0..ADDRESSES.len(), 0..3),
        any::<bool>(),
        prop::collection::vec(0..ADDRESSES.len(), 1..3),
        prop::collection::vec(0..PORTS.len(), 1..3),
    )
        .prop_map(
            |(protocols, sources, group, destinations, ports)| RuleSpec {
                protocols,
                source_group: group || sources.is_empty(),
                sources,
                destinations,
                ports,
            },
        )
}

fn policy_spec() -> impl Strategy<Value = Vec<GroupSpec>> {
    let collection = (
        100u16..400,
        any::<bool>(),
        prop::collection::vec(rule_spec(), 1..4),
    )
        .prop_map(|(priority, allow, rules)| CollectionSpec {
            priority,
            allow,
            rules,
        });
    let group = (100u16..400, prop::collection::vec(collection, 1..4)).prop_map(
        |(priority, collections)| GroupSpec {
            priority,
            collections,
        },
    );
    prop::collection::vec(group, 1..3)
}

fn list(items: &[usize], names: &[&str]) -> String {
    let v: Vec<&str> = items.iter().map(|i| names[*i]).collect();
    format!("[{}]", v.join(", "))
}

/// The example with its policy replaced by `groups`.
fn with_policy(groups: &[GroupSpec]) -> String {
    let start = BASE.find("firewall_policies:").unwrap();
    let mut text = BASE[..start].to_string();
    text.push_str("firewall_policies:\n  - name: hub-fw-policy\n    rule_collection_groups:\n");
    for (g, group) in groups.iter().enumerate() {
        text.push_str(&format!(
            "      - name: g{g}\n        priority: {}\n        network_rule_collections:\n",
            group.priority
        ));
        for (c, coll) in group.collections.iter().enumerate() {
            let action = if coll.allow { "Allow" } else { "Deny" };
            text.push_str(&format!(
                "          - name: c{c}\n            priority: {}\n            action: {action}\n            rules:\n",
                coll.priority
            ));
            for (r, rule) in coll.rules.iter().enumerate() {
                let mut line = format!(
                    "              - {{name: r{r}, protocols: {}, destination_addresses: {}, destination_ports: {}",
                    list(&rule.protocols, PROTOCOLS),
                    list(&rule.destinations, ADDRESSES),
                    list(&rule.ports, PORTS)
                );
                if !rule.sources.is_empty() {
                    line.push_str(&format!(
                        ", source_addresses: {}",
                        list(&rule.sources, ADDRESSES)
                    ));
                }
                if rule.source_group {
                    line.push_str(", source_ip_groups: [spokes]");
                }
                line.push_str("}\n");
                text.push_str(&line);
            }
        }
    }
    text
}

fn v4(text: &str) -> u32 {
    u32::from(text.parse::<std::net::Ipv4Addr>().unwrap())
}

/// Whether `ip` falls in one written address of [`ADDRESSES`].
fn address_holds(written: &str, ip: u32) -> bool {
    let written = written.trim_matches('"');
    if written == "*" {
        return true;
    }
    if let Some((a, b)) = written.split_once('-') {
        return (v4(a)..=v4(b)).contains(&ip);
    }
    match written.split_once('/') {
        Some((net, len)) => {
            let len: u32 = len.parse().unwrap();
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            ip & mask == v4(net) & mask
        }
        None => ip == v4(written),
    }
}

fn port_holds(written: &str, port: u16) -> bool {
    let written = written.trim_matches('"');
    match written.split_once('-') {
        _ if written == "*" => true,
        Some((a, b)) => (a.parse().unwrap()..=b.parse().unwrap()).contains(&port),
        None => port == written.parse::<u16>().unwrap(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Proto {
    Tcp,
    Udp,
    Icmp,
}

/// The naive answer: the first rule, in Azure's order, that matches;
/// `None` is the default action.
fn first_match(
    groups: &[GroupSpec],
    proto: Proto,
    src: u32,
    dst: u32,
    port: u16,
) -> Option<(bool, String)> {
    let spokes = ["10.1.0.0/16", "10.2.0.0/16"];
    let mut ordered: Vec<(usize, &GroupSpec)> = groups.iter().enumerate().collect();
    ordered.sort_by_key(|(_, g)| g.priority);
    for (g, group) in ordered {
        let mut collections: Vec<(usize, &CollectionSpec)> =
            group.collections.iter().enumerate().collect();
        collections.sort_by_key(|(_, c)| c.priority);
        for (c, coll) in collections {
            for (r, rule) in coll.rules.iter().enumerate() {
                let protocol = rule.protocols.iter().any(|p| match PROTOCOLS[*p] {
                    "TCP" => proto == Proto::Tcp,
                    "UDP" => proto == Proto::Udp,
                    "ICMP" => proto == Proto::Icmp,
                    _ => true,
                });
                let source = rule
                    .sources
                    .iter()
                    .any(|a| address_holds(ADDRESSES[*a], src))
                    || (rule.source_group && spokes.iter().any(|a| address_holds(a, src)));
                let destination = rule
                    .destinations
                    .iter()
                    .any(|a| address_holds(ADDRESSES[*a], dst));
                // ICMP rules ignore ports; Any with ports matches only
                // packets with ports.
                let ports = match proto {
                    Proto::Icmp => {
                        rule.protocols.iter().any(|p| PROTOCOLS[*p] == "ICMP")
                            || rule.ports.iter().any(|p| PORTS[*p] == "\"*\"")
                    }
                    _ => rule.ports.iter().any(|p| port_holds(PORTS[*p], port)),
                };
                if protocol && source && destination && ports {
                    return Some((coll.allow, format!("g{g}/c{c}/r{r}")));
                }
            }
        }
    }
    None
}

fn packet(proto: Proto, src: &str, dst: &str, port: u16) -> Vec<u8> {
    let octets = |s: &str| s.parse::<std::net::Ipv4Addr>().unwrap().octets();
    let b = PacketBuilder::ipv4(octets(src), octets(dst), 64);
    let mut out = Vec::new();
    match proto {
        Proto::Tcp => b
            .tcp(40000, port, 1, 64000)
            .syn()
            .write(&mut out, b"x")
            .unwrap(),
        Proto::Udp => b.udp(40000, port).write(&mut out, b"x").unwrap(),
        Proto::Icmp => b.icmpv4_echo_request(7, 1).write(&mut out, b"x").unwrap(),
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_firewall_decides_as_a_naive_first_match(groups in policy_spec()) {
        let text = with_policy(&groups);
        let loaded = parse_str("fw.yaml", &text).map_err(|e| TestCaseError::fail(format!("{e:?}\n{text}")))?;
        let snap = Snapshot::compile(loaded.topology, 1);
        let fw = snap.port_by_name("hub-fw").unwrap();
        let ends = [("vm1", "10.1.1.4", "vm2", "10.2.1.4"), ("vm2", "10.2.1.4", "vm1", "10.1.1.4")];
        for (from, src, to, dst) in ends {
            let (sender, receiver) = (snap.port_by_name(from).unwrap(), snap.port_by_name(to).unwrap());
            for proto in [Proto::Tcp, Proto::Udp, Proto::Icmp] {
                for port in [22u16, 80, 443, 1500, 3000] {
                    let bytes = packet(proto, src, dst, port);
                    // The firewall judges what reaches it: the sender's
                    // hop ends there, or is dropped there.
                    let first = decide(&snap, &Stateless, sender, &bytes, 0);
                    match first_match(&groups, proto, v4(src), v4(dst), port) {
                        Some((true, _)) => {
                            prop_assert_eq!(first, Verdict::Deliver(fw));
                            let on = decide(&snap, &Stateless, fw, &bytes, 0);
                            prop_assert_eq!(on, Verdict::Deliver(receiver));
                        }
                        denied => {
                            let want = denied.map_or("Default action".to_string(), |(_, n)| n);
                            let Verdict::Drop { reason, at, rule } = first else {
                                return Err(TestCaseError::fail(format!(
                                    "{proto:?} {src}->{dst}:{port} passed; expected a drop by {want}"
                                )));
                            };
                            prop_assert_eq!(reason, DropReason::FirewallDenied);
                            prop_assert_eq!(at, fw);
                            let name = snap.rule_names.get(rule).unwrap().rule;
                            prop_assert_eq!(name, want, "{:?} {}->{}:{}", proto, src, dst, port);
                        }
                    }
                }
            }
        }
    }
}

// ---- FQDNs in network rules, resolved as the DNS proxy asks ------------

/// The example with its web rule written to the FQDN `api.contoso.com`,
/// the DNS proxy on, and `contoso.com` a private DNS zone linked to the
/// hub (the firewall's VNet) where `api` is `api_address`; `expectations`
/// replace the file's.
fn with_fqdn_rule(api_address: &str, expectations: &str) -> String {
    let start = BASE.find("expectations:\n").unwrap();
    let end = BASE.find("\nvnets:\n").unwrap();
    let mut text = format!(
        "{}expectations:\n{expectations}{}",
        &BASE[..start],
        &BASE[end..]
    );
    for (from, to) in [
        (
            "destination_addresses: [10.2.0.0/16], destination_ports: [\"80\", \"443\"]",
            "destination_fqdns: [api.contoso.com], destination_ports: [\"80\", \"443\"]",
        ),
        (
            "  - name: hub-fw-policy\n",
            "  - name: hub-fw-policy\n    dns: {proxy_enabled: true}\n",
        ),
    ] {
        let edited = text.replacen(from, to, 1);
        assert_ne!(edited, text, "{from}");
        text = edited;
    }
    text.push_str(&format!(
        "\nprivate_dns_zones:\n  - name: contoso.com\n    records:\n      - {{name: api, type: A, ttl: 5, records: [{api_address}]}}\n    virtual_network_links:\n      - {{name: hub, virtual_network: hub}}\n"
    ));
    text
}

/// A network rule to an FQDN matches the address Azure DNS answers in the
/// firewall's VNet, in `check` and `trace`: the address the name holds is
/// allowed, the one it no longer holds meets the default action, and the
/// way back is judged by the rules as written.
#[test]
fn a_network_rule_to_an_fqdn_matches_what_azure_dns_answers_for_it() {
    let to_vm2 = "  - {name: web-to-api, from: vm1, to: vm2, protocol: Tcp, port: 443, result: Allow, via: [hub-fw]}\n  - {name: back-is-not-the-rule, from: vm2, to: vm1, protocol: Tcp, port: 443, result: Deny, reason: firewall_denied}\n";
    let elsewhere = "  - {name: web-to-vm2-denied, from: vm1, to: vm2, protocol: Tcp, port: 443, result: Deny, reason: firewall_denied}\n  - {name: back-is-not-the-rule, from: vm2, to: vm1, protocol: Tcp, port: 443, result: Deny, reason: firewall_denied}\n";
    for (name, address, expectations, pass) in [
        ("fqdn-is-vm2", "10.2.1.4", to_vm2, true),
        ("fqdn-is-elsewhere", "10.2.1.5", elsewhere, true),
        // The reference: the opposite expectations must fail.
        ("fqdn-is-elsewhere-wrong", "10.2.1.5", to_vm2, false),
        ("fqdn-is-vm2-wrong", "10.2.1.4", elsewhere, false),
    ] {
        let text = with_fqdn_rule(address, expectations);
        let (code, stderr, path) = check(TAG, name, &text);
        assert_eq!(code == Some(0), pass, "{name}: {stderr}");
        if !pass {
            continue;
        }
        let out = vnetd_cli(&[
            "trace",
            "--config",
            path.to_str().unwrap(),
            "--from",
            "vm1",
            "--to",
            "vm2",
            "--protocol",
            "tcp",
            "--port",
            "443",
        ]);
        let trace = String::from_utf8_lossy(&out.stdout);
        let allowed = address == "10.2.1.4";
        assert_eq!(
            trace.contains("spoke1-to-spoke2-web"),
            allowed,
            "{name}: {trace}"
        );
        assert_eq!(
            trace.contains("Default action"),
            !allowed,
            "{name}: {trace}"
        );
    }
}

/// The live answers a snapshot was compiled with win over the offline
/// ones, are kept by an `apply` and by every republish of the same
/// topology, and a new answer moves the rule to the new address.
#[test]
fn live_fqdn_answers_are_carried_over_and_move_the_rule() {
    use vnetd::snapshot::fqdns::FqdnResolutions;
    let text = with_fqdn_rule("10.2.1.4", "");
    let topology = parse_str("fw.yaml", &text).unwrap().topology;
    let first = Snapshot::compile(topology.clone(), 1);
    let to_vm2 = |snap: &Snapshot| web_to(snap, "10.2.1.4");
    assert!(to_vm2(&first), "offline: Azure DNS's answer");
    assert!(first.fqdns.iter().next().is_none());
    let moved = std::sync::Arc::new(FqdnResolutions::default().with(
        "hub-fw",
        "api.contoso.com",
        vec!["10.2.1.5".parse().unwrap()],
    ));
    let live = Snapshot::reresolved(&first, moved.clone(), 2);
    assert_eq!(live.generation, 2);
    assert_eq!(live.topology_version, first.topology_version);
    assert!(!to_vm2(&live), "the live answer wins");
    assert!(web_to(&live, "10.2.1.5"));
    let applied = Snapshot::compile_after(topology, 3, &live);
    assert_eq!(applied.fqdns, moved, "an apply keeps the live answers");
    assert!(!to_vm2(&applied) && web_to(&applied, "10.2.1.5"));
    let rehealthed = Snapshot::rehealthed(&applied, applied.health.clone(), 4);
    assert_eq!(rehealthed.fqdns, moved);
    let relearned = Snapshot::relearned(&applied, applied.learned.clone(), 5);
    assert_eq!(relearned.fqdns, moved);
    assert!(web_to(&relearned, "10.2.1.5") && !to_vm2(&relearned));
}

/// Whether vm1's TCP 443 to `dst` passes the firewall (the firewall
/// judges what reaches it: vm1's hop ends there, or is dropped there).
fn web_to(snap: &Snapshot, dst: &str) -> bool {
    let vm1 = snap.port_by_name("vm1").unwrap();
    let fw = snap.port_by_name("hub-fw").unwrap();
    let bytes = packet(Proto::Tcp, "10.1.1.4", dst, 443);
    decide(snap, &Stateless, vm1, &bytes, 0) == Verdict::Deliver(fw)
}

fn vnetd_cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .args(args)
        .output()
        .unwrap()
}
