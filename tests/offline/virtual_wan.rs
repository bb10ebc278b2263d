//! Virtual WAN offline: Microsoft's documented routing scenarios
//! (`tests/data/vwan_scenarios/`, each a topology with what the page states
//! under `scenario_expected`) hold in vnetd's tables and traces: every cell
//! of each connectivity matrix between VNets and branches is what `trace`
//! finds (with what the BGP model predicts the hubs learn from the
//! branches), through the firewalls or appliances the page names; each
//! connection is associated and propagates as the page's design says; the
//! route tables the pages print are what `vnetd routes --hub` prints.
//! Cells that end at the Internet are counted apart: a secured hub's
//! Internet breakout is checked by its own tests.
//!
//! Also here: a hub route table against a plain reading of Azure's rules
//! (every connection of the WAN offered to every table it propagates to,
//! the best route of each prefix by static, then local, then AS path), on
//! generated WANs; and the files Azure refuses, each at its line.

use crate::common;

use common::broken_files::{assert_refused_with_words, Case};
use std::collections::BTreeSet;
use vnetd::diagnostics::trace_words;
use vnetd::policy::virtual_wan::{hub_table_routes, HubHop};
use vnetd::snapshot::Snapshot;
use vnetd::topology::{self, Topology, VirtualHubIdx};
use yaml_rust2::{Yaml, YamlLoader};

pub(crate) const SCENARIOS: &[(&str, &str)] = &[
    (
        "any-to-any",
        include_str!("../data/vwan_scenarios/any-to-any.yaml"),
    ),
    (
        "isolate-vnets",
        include_str!("../data/vwan_scenarios/isolate-vnets.yaml"),
    ),
    (
        "isolate-vnets-custom",
        include_str!("../data/vwan_scenarios/isolate-vnets-custom.yaml"),
    ),
    (
        "shared-services-vnet",
        include_str!("../data/vwan_scenarios/shared-services-vnet.yaml"),
    ),
    (
        "route-through-nva",
        include_str!("../data/vwan_scenarios/route-through-nva.yaml"),
    ),
    (
        "isolate-virtual-networks-branches",
        include_str!("../data/vwan_scenarios/isolate-virtual-networks-branches.yaml"),
    ),
    (
        "routing-intent-dual-hub",
        include_str!("../data/vwan_scenarios/routing-intent-dual-hub.yaml"),
    ),
];

/// The topology text before `scenario_expected:`, and what follows it.
pub(crate) fn split(text: &str) -> (String, Yaml) {
    let at = text
        .find("\nscenario_expected:")
        .expect("a scenario states what it expects");
    let expected = YamlLoader::load_from_str(&text[at..]).unwrap();
    (
        text[..at].to_string(),
        expected[0]["scenario_expected"].clone(),
    )
}

/// The snapshot `vnetd check` answers from: with what the BGP model
/// predicts the gateways learn from the branches.
pub(crate) fn snapshot(name: &str, text: &str) -> Snapshot {
    let loaded = topology::parse_str(&format!("{name}.yaml"), text)
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    let learned = vnetd::policy::bgp::expected_learned(&loaded.topology);
    Snapshot::compile_learned(loaded.topology, learned, 1)
}

/// The first NIC of VNet `vnet`, when `vnet` is a VNet with one.
fn nic_in(topo: &Topology, vnet: &str) -> Option<(String, String)> {
    let v = topo.vnets.iter().position(|v| v.name == vnet)?;
    topo.nics
        .iter()
        .find(|n| n.subnet.vnet.index() == v)
        .map(|n| (n.name.clone(), n.ip_configurations[0].address.to_string()))
}

/// The first NIC of a VNet, or the first host of an on-premises site (a
/// branch), by the VNet's or site's name.
fn endpoint(topo: &Topology, name: &str) -> Option<(String, String)> {
    nic_in(topo, name).or_else(|| {
        let site = topo.sites.iter().find(|s| s.name == name)?;
        let host = site.hosts.first()?;
        Some((host.name.clone(), host.address.to_string()))
    })
}

fn texts(y: &Yaml) -> Vec<String> {
    y.as_vec()
        .map(|v| {
            v.iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Every matrix cell between two VNets, traced from the first NIC of one
/// to the first NIC of the other: the verdict, and the firewalls or
/// appliances crossed (`via`), in order. Returns the cells checked and the
/// cells left to other tests.
pub(crate) fn check_reach(name: &str, snap: &Snapshot, expected: &Yaml) -> (usize, usize) {
    let (mut checked, mut apart) = (0, 0);
    let mut failures = Vec::new();
    for row in expected["reach"].as_vec().into_iter().flatten() {
        let from = row["from"].as_str().unwrap();
        let to = row["to"].as_str().unwrap();
        let (Some((nic, _)), Some((_, address))) =
            (endpoint(&snap.topology, from), endpoint(&snap.topology, to))
        else {
            apart += 1;
            continue;
        };
        checked += 1;
        let want = row["result"].as_str().unwrap();
        let trace = trace_words(snap, &nic, &address, Some("icmp"), None)
            .unwrap_or_else(|e| panic!("{name}: trace {from} -> {to}: {e:?}"));
        // The appliances and firewalls crossed (the pages name those; a
        // hub's gateways are crossed by every branch's traffic).
        let gateway = |p: &String| snap.topology.gateways.iter().any(|g| &g.name == p);
        let crossed: Vec<String> = trace
            .path
            .iter()
            .filter(|p| Some(*p) != trace.delivered_to.as_ref() && !gateway(p))
            .cloned()
            .collect();
        let via = texts(&row["via"]);
        let via_ok = row["via"].is_badvalue() || crossed == via;
        if trace.verdict != want || (want == "Allow" && !via_ok) {
            failures.push(format!(
                "{from} -> {to}: expected {want} via {via:?}, found {} via {crossed:?} ({:?} at {:?})",
                trace.verdict, trace.reason, trace.at
            ));
        }
    }
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
    (checked, apart)
}

/// Each VNet connection's association and propagation, as tables of its
/// own hub, against the page's design.
fn check_association(name: &str, topo: &Topology, expected: &Yaml) -> usize {
    let mut checked = 0;
    for row in expected["association"].as_vec().into_iter().flatten() {
        let conn = row["connection"].as_str().unwrap();
        let found = topo.virtual_hubs.iter_enumerated().find_map(|(h, hub)| {
            hub.connections
                .iter()
                .find(|c| c.name == conn)
                .map(|c| (h, hub, c))
        });
        let Some((h, hub, c)) = found else {
            // A branch's connection: the VPN gateway's tests hold it.
            continue;
        };
        checked += 1;
        let associated = &hub.route_tables[c.associated].name;
        let want = row["associated"].as_str().unwrap();
        assert!(
            associated.eq_ignore_ascii_case(want),
            "{name}: {conn} associated with {associated}, the page says {want}"
        );
        let propagated: BTreeSet<String> = (hub.route_tables.iter().enumerate())
            .filter(|(t, table)| {
                c.propagated_tables.contains(&(h, *t))
                    || c.propagated_labels.iter().any(|l| table.labels.contains(l))
            })
            .map(|(_, table)| table.name.to_ascii_lowercase())
            .collect();
        let want: BTreeSet<String> = texts(&row["propagates_to"])
            .iter()
            .map(|t| t.to_ascii_lowercase())
            .collect();
        assert_eq!(propagated, want, "{name}: {conn} propagates to");
    }
    checked
}

/// The route tables the page prints, row for row (prefix, next hop type,
/// AS path when the page gives one).
fn check_tables(name: &str, snap: &Snapshot, expected: &Yaml) -> usize {
    let mut checked = 0;
    let Some(tables) = expected["route_tables"].as_hash() else {
        return 0;
    };
    for (key, rows) in tables {
        let key = key.as_str().unwrap();
        let (hub_name, table_name) = key.split_once('/').unwrap();
        let topo = &snap.topology;
        let hub = topo
            .virtual_hubs
            .iter()
            .position(|h| h.name == hub_name)
            .map(VirtualHubIdx::from)
            .unwrap();
        let table = topo.virtual_hubs[hub].table(table_name).unwrap();
        let found: BTreeSet<(String, String)> = hub_table_routes(topo, &snap.learned, hub, table)
            .iter()
            .map(|r| (r.prefix.to_string(), r.hop_type().as_str().to_string()))
            .collect();
        let want: BTreeSet<(String, String)> = (rows.as_vec().into_iter().flatten())
            .map(|r| {
                (
                    r["prefix"].as_str().unwrap().to_string(),
                    r["next_hop_type"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(found, want, "{name}: {key}");
        checked += 1;
    }
    checked
}

#[test]
fn microsofts_routing_scenarios_hold_cell_by_cell() {
    let mut total = 0;
    for (name, text) in SCENARIOS {
        let (topology_text, expected) = split(text);
        let snap = snapshot(name, &topology_text);
        let (checked, apart) = check_reach(name, &snap, &expected);
        let associations = check_association(name, &snap.topology, &expected);
        let tables = check_tables(name, &snap, &expected);
        assert!(
            checked > 0,
            "{name}: no matrix cell between VNets ({apart} left apart)"
        );
        total += checked + associations + tables;
    }
    assert!(total >= 150, "only {total} cells and designs checked");
}

/// The firewall each SSH attempt between spokes meets and is denied by,
/// in the dual secured hub scenario (vnetd's own policy check).
#[test]
fn routing_intent_denies_ssh_at_the_first_firewall_met() {
    let (_, text) = SCENARIOS[6];
    let (topology_text, expected) = split(text);
    let snap = snapshot("routing-intent-dual-hub", &topology_text);
    let rows = expected["policy_checks"].as_vec().unwrap();
    assert!(rows.len() >= 12);
    for row in rows {
        let from = row["from"].as_str().unwrap();
        let to = row["to"].as_str().unwrap();
        let (nic, _) = nic_in(&snap.topology, from).unwrap();
        let (_, address) = nic_in(&snap.topology, to).unwrap();
        let trace = trace_words(&snap, &nic, &address, Some("tcp"), Some(22)).unwrap();
        assert_eq!(trace.verdict, "Deny", "{from} -> {to}");
        assert_eq!(trace.reason.as_deref(), Some("firewall_denied"));
        assert_eq!(
            trace.at.as_deref(),
            row["denied_by"].as_str(),
            "{from} -> {to}"
        );
    }
}

/// A hub route table, read plainly: every connection of the WAN that
/// propagates to the table (by table or by label) offers its VNet's
/// ranges, a remote one with `65520-65520`, 0.0.0.0/0 only in its own hub;
/// the best of each prefix is static first, then (preference
/// ExpressRoute) local before remote, then the shorter path.
fn reference_table(topo: &Topology, hub: VirtualHubIdx, table: usize) -> BTreeSet<String> {
    let h = &topo.virtual_hubs[hub];
    let t = &h.route_tables[table];
    let mut offers: Vec<(String, bool, usize, String)> = Vec::new();
    for (from, other) in topo.virtual_hubs.iter_enumerated() {
        for c in &other.connections {
            let by_table = c.propagated_tables.contains(&(hub, table));
            let by_label = c.propagated_labels.iter().any(|l| t.labels.contains(l));
            if !(by_table || by_label) {
                continue;
            }
            for range in &topo.vnets[c.vnet].address_space {
                let remote = from != hub;
                let hop = if remote {
                    format!("Remote Hub {}", other.name)
                } else {
                    format!("Virtual Network Connection {}", c.name)
                };
                offers.push((range.to_string(), remote, usize::from(remote) * 2, hop));
            }
        }
    }
    let mut best: Vec<(String, bool, usize, String)> = Vec::new();
    for o in offers {
        match best.iter_mut().find(|b| b.0 == o.0) {
            Some(b) if (o.1, o.2) < (b.1, b.2) => *b = o,
            Some(_) => {}
            None => best.push(o),
        }
    }
    best.into_iter()
        .map(|(prefix, _, _, hop)| format!("{prefix} {hop}"))
        .collect()
}

fn rendered(topo: &Topology, hub: VirtualHubIdx, table: usize) -> BTreeSet<String> {
    hub_table_routes(topo, &Default::default(), hub, table)
        .iter()
        .map(|r| {
            let hop = match r.hop {
                HubHop::Connection { hub, connection } => format!(
                    "Virtual Network Connection {}",
                    topo.virtual_hubs[hub].connections[connection].name
                ),
                HubHop::RemoteHub { hub, .. } => {
                    format!("Remote Hub {}", topo.virtual_hubs[hub].name)
                }
                HubHop::Firewall { .. } => "Azure Firewall".to_string(),
                HubHop::VpnGateway { .. }
                | HubHop::RemoteBranch { .. }
                | HubHop::ExpressRouteGateway { .. }
                | HubHop::RemoteCircuit { .. }
                | HubHop::BgpConnection { .. }
                | HubHop::RemoteBgp { .. } => {
                    unreachable!("the generated WANs have no branches nor appliances")
                }
            };
            format!("{} {hop}", r.prefix)
        })
        .collect()
}

/// A WAN of `hubs` hubs with `spokes` VNets each; VNet `i` of every hub
/// propagates by label `l<i % labels>` and is associated with table
/// `T<i % tables>` (or the default table), so that generated WANs mix
/// labels, tables and hubs.
fn generated_wan(hubs: usize, spokes: usize, labels: usize, tables: usize) -> String {
    let mut vnets = String::from("vnets:\n");
    let mut hub_text = String::from("virtual_wans: [{name: wan}]\nvirtual_hubs:\n");
    for h in 0..hubs {
        hub_text.push_str(&format!(
            "  - name: hub{h}\n    virtual_wan: wan\n    location: westeurope\n    address_prefix: 10.{}.0.0/23\n    route_tables:\n",
            200 + h
        ));
        for t in 0..tables {
            hub_text.push_str(&format!(
                "      - {{name: T{t}, labels: [l{}]}}\n",
                (t + h) % labels.max(1)
            ));
        }
        hub_text.push_str("    connections:\n");
        for s in 0..spokes {
            let name = format!("h{h}s{s}");
            vnets.push_str(&format!(
                "  - {{name: {name}, address_space: [10.{}.{s}.0/24], location: westeurope}}\n",
                h + 1
            ));
            let associated = if s % 3 == 0 {
                "defaultRouteTable".to_string()
            } else {
                format!("T{}", s % tables.max(1))
            };
            hub_text.push_str(&format!(
                "      - {{name: c{name}, remote_virtual_network: {name}, routing: {{associated_route_table: {associated}, propagated_route_table: {{labels: [l{}{}], route_table_ids: [T{}]}}}}}}\n",
                s % labels.max(1),
                if s % 2 == 0 { ", default" } else { "" },
                (s + 1) % tables.max(1),
            ));
        }
    }
    vnets + &hub_text
}

#[test]
fn hub_tables_agree_with_a_plain_reading_of_the_rules() {
    for (hubs, spokes, labels, tables) in [(1, 4, 2, 2), (2, 5, 3, 2), (3, 6, 2, 3), (2, 7, 4, 4)] {
        let text = generated_wan(hubs, spokes, labels, tables);
        let loaded = topology::parse_str("generated.yaml", &text)
            .unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        let topo = &loaded.topology;
        for (hub, h) in topo.virtual_hubs.iter_enumerated() {
            for table in 0..h.route_tables.len() {
                assert_eq!(
                    rendered(topo, hub, table),
                    reference_table(topo, hub, table),
                    "hub {} table {}\n{text}",
                    h.name,
                    h.route_tables[table].name
                );
            }
        }
    }
}

const BASE: &str = include_str!("../../config/virtual-wan.yaml");
const TAG: &str = "virtual-wan";

fn broken() -> Vec<Case> {
    vec![
        Case {
            name: "hub-prefix-smaller-than-24",
            edits: &[("address_prefix: 10.100.0.0/23", "address_prefix: 10.100.0.0/25")],
            expect: &[("address_prefix: 10.100.0.0/25", "cannot be smaller than a /24")],
        },
        Case {
            name: "overlapping-hubs",
            edits: &[("address_prefix: 10.200.0.0/23", "address_prefix: 10.100.1.0/24")],
            expect: &[("address_prefix: 10.100.1.0/24", "overlaps hub `hub-weu`")],
        },
        Case {
            name: "vnet-connected-to-two-hubs",
            edits: &[(
                "spoke21-conn, remote_virtual_network: spoke21,",
                "spoke21-conn, remote_virtual_network: spoke11,",
            )],
            expect: &[(
                "spoke21-conn, remote_virtual_network: spoke11,",
                "can only be connected to one virtual hub at a time",
            )],
        },
        Case {
            name: "hub-overlaps-a-connected-vnet",
            edits: &[(
                "address_space: [10.12.0.0/16]",
                "address_space: [10.12.0.0/16, 10.100.0.0/22]",
            )],
            expect: &[(
                "{name: spoke12-conn",
                "10.100.0.0/22 overlaps hub `hub-weu`'s 10.100.0.0/23",
            )],
        },
        Case {
            name: "connected-vnets-overlap",
            edits: &[(
                "address_space: [10.22.0.0/16]",
                "address_space: [10.22.0.0/16, 10.21.128.0/17]",
            )],
            expect: &[(
                "{name: spoke22-conn",
                "overlaps VNet `spoke21`",
            )],
        },
        Case {
            name: "routing-intent-beside-a-custom-table",
            edits: &[(
                "    address_prefix: 10.100.0.0/23\n",
                "    address_prefix: 10.100.0.0/23\n    route_tables: [{name: RT_BLUE, labels: [blue]}]\n",
            )],
            expect: &[("name: weu-intent", "custom route table `RT_BLUE`")],
        },
        Case {
            name: "routing-intent-to-another-hubs-firewall",
            edits: &[(
                "{name: PrivateTrafficPolicy, destinations: [PrivateTraffic], next_hop: fw-weu}",
                "{name: PrivateTrafficPolicy, destinations: [PrivateTraffic], next_hop: fw-neu}",
            )],
            expect: &[("next_hop: fw-neu}", "is not hub `hub-weu`'s firewall")],
        },
        Case {
            name: "hub-firewall-in-a-vnet",
            edits: &[(
                "virtual_hub: {virtual_hub: hub-neu}}",
                "virtual_network: spoke21}",
            )],
            expect: &[
                (
                    "{name: fw-neu, sku_name: AZFW_Hub",
                    "an AZFW_Hub firewall is placed in a virtual hub",
                ),
                (
                    "{name: fw-neu, sku_name: AZFW_Hub",
                    "no subnet named AzureFirewallSubnet",
                ),
                ("next_hop: fw-neu}", "is not hub `hub-neu`'s firewall"),
                ("next_hop: fw-neu}", "is not hub `hub-neu`'s firewall"),
            ],
        },
        Case {
            name: "secured-hubs-in-a-basic-wan",
            edits: &[("    type: Standard", "    type: Basic")],
            expect: &[
                ("name: weu-intent", "whose hubs offer site-to-site VPN only: routing intent"),
                ("name: neu-intent", "whose hubs offer site-to-site VPN only: routing intent"),
                ("{name: fw-weu", "Azure Firewall needs a Standard WAN"),
                ("{name: fw-neu", "Azure Firewall needs a Standard WAN"),
            ],
        },
        Case {
            name: "unknown-wan",
            edits: &[("    virtual_wan: wan\n    location: northeurope", "    virtual_wan: wan2\n    location: northeurope")],
            expect: &[("virtual_wan: wan2", "no virtual WAN named `wan2`")],
        },
    ]
}

#[test]
fn designs_azure_refuses_are_refused_at_their_line() {
    for case in broken() {
        assert_refused_with_words(TAG, BASE, &case);
    }
}

#[test]
fn the_example_passes_check() {
    let (code, stderr, _) = common::broken_files::check(TAG, "example", BASE);
    assert_eq!(code, Some(0), "{stderr}");
}

/// A Basic WAN's hubs carry no VNet-to-VNet transit: the custom isolation
/// example's blue VNets, which reach each other in a Standard WAN, do not
/// once the WAN is Basic.
#[test]
fn a_basic_wan_carries_no_vnet_to_vnet_transit() {
    let standard = include_str!("../../config/virtual-wan-custom-isolation.yaml");
    let basic = standard.replace("type: Standard", "type: Basic");
    assert_ne!(basic, standard);
    for (text, want) in [(standard, "Allow"), (basic.as_str(), "Deny")] {
        let snap = snapshot("isolation", text);
        let trace = trace_words(&snap, "vm-blue1", "10.3.0.4", Some("icmp"), None).unwrap();
        assert_eq!(trace.verdict, want);
    }
}

/// The example and its Terraform twin, imported, answer alike: every hub
/// table, every NIC's routes, and every expectation of the example.
#[test]
fn the_terraform_of_the_example_imports_to_the_same_routes_and_verdicts() {
    let imported = common::import::terraform("virtual-wan-secured");
    let routes = |text: &str, args: &[&str]| {
        let (_, _, path) = common::broken_files::check(TAG, "routes", text);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vnetd"))
            .args(args)
            .arg("--json")
            .arg("--config")
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let mut compared = 0;
    for hub in ["hub-weu", "hub-neu"] {
        for table in ["defaultRouteTable", "noneRouteTable"] {
            let args = ["routes", "--hub", hub, "--table", table];
            assert_eq!(
                routes(BASE, &args),
                routes(&imported, &args),
                "{hub} {table}"
            );
            compared += 1;
        }
    }
    for nic in ["vm11", "vm12", "vm21", "vm22"] {
        let args = ["routes", "--nic", nic];
        assert_eq!(routes(BASE, &args), routes(&imported, &args), "{nic}");
        compared += 1;
    }
    assert_eq!(compared, 8);
    // The example's expectations hold on the imported file too.
    // Those that do not involve the branch, which Terraform has no device
    // for.
    let expectations: String = BASE
        [BASE.find("expectations:").unwrap()..BASE.find("\nvnets:").unwrap()]
        .lines()
        .filter(|l| !l.contains("branch"))
        .map(|l| format!("{l}\n"))
        .collect();
    let (code, stderr, _) =
        common::broken_files::check(TAG, "imported", &format!("{imported}\n{expectations}\n"));
    assert_eq!(code, Some(0), "{stderr}");
}
