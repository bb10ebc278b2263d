//! Azure Virtual Network Manager imported three ways: the Terraform
//! configuration `tests/import/terraform/network-manager`, its state once
//! applied (`tests/import/tfstate/network-manager.tfstate`) and the `az`
//! dump `tests/import/az/network-manager` are the design of
//! `config/network-manager.yaml` (a hub and three spokes in two regions;
//! hub-and-spoke with direct connectivity, global; admin rules that deny
//! RDP and SSH from the Internet and always allow the hub's monitoring
//! subnet; an NSG that allows RDP; spoke2 peered by hand), with one
//! routing configuration more ([`ROUTING`]: the spokes of West Europe send
//! 192.168.0.0/16 to the hub's appliance). All import to the same
//! `network_managers`, which `vnetd check` accepts, and decide as the
//! hand-written example with that routing configuration does: every trace
//! of a matrix of flows (the admin rules' verdicts among them), every
//! NIC's effective routes (the `ConnectedGroup` ones and the routing
//! rule's user route among them) and the `ANM_` peerings are the
//! example's; the policy that adds members and the peerings Azure made
//! are named. What else the file cannot hold, and what is refused, is
//! `import_network_manager_refusals`'.

use super::import_state::{imported, repo, vnetd, without_comments};
use serde_json::Value;
use std::net::IpAddr;
use std::path::Path;
use vnetd::diagnostics::trace::{trace, TraceQuery};
use vnetd::plan::PortIdx;
use vnetd::policy::bgp::expected_learned;
use vnetd::snapshot::Snapshot;
use vnetd::topology::{Endpoint, ExpectedProtocol, Topology};

pub(crate) const TERRAFORM_DIR: &str = "tests/import/terraform/network-manager";
pub(crate) const AZ_DIR: &str = "tests/import/az/network-manager";
const STATE: &str = "tests/import/tfstate/network-manager.tfstate";
const EXAMPLE: &str = "config/network-manager.yaml";

/// The routing configuration of the imports, which the example lacks: it
/// is appended to the example's network manager (whose last key is
/// `deployments`) to judge them.
const ROUTING: &str = "      - {location: westeurope, scope_access: Routing, configurations: [through-the-hub]}
    routing_configurations:
      - name: through-the-hub
        route_table_usage_mode: ManagedOnly
        rule_collections:
          - name: spokes
            network_groups: [spokes]
            rules:
              - {name: private-to-the-nva, destination: 192.168.0.0/16, next_hop_type: VirtualAppliance, next_hop_address: 10.0.1.4}
";

/// What the Terraform import writes for the network manager, exactly.
pub(crate) const NETWORK_MANAGERS: &str = "network_managers:
  # network-manager.tf:1
  - name: contoso-avnm
    network_groups:
      # network-manager.tf:13
      - name: spokes
        # Azure Policy adds members (policy.tf:3): not imported; write its condition as member_name_contains or member_tags
        static_members:
          # network-manager.tf:18
          - spoke1
          # network-manager.tf:18
          - spoke2
          # network-manager.tf:18
          - spoke3
    connectivity_configurations:
      # network-manager.tf:25
      - name: hub-and-spoke
        connectivity_topology: HubAndSpoke
        hub: hub
        applies_to_group:
          - {network_group: spokes, group_connectivity: DirectlyConnected, global_mesh_enabled: true}
    security_admin_configurations:
      # network-manager.tf:42
      - name: guardrails
        rule_collections:
          # network-manager.tf:47
          - name: internet-edge
            network_groups: [spokes]
            rules:
              # network-manager.tf:69
              - name: always-allow-monitoring
                priority: 110
                direction: Inbound
                action: AlwaysAllow
                protocol: Any
                sources: [10.0.3.0/24]
              # network-manager.tf:54
              - name: deny-rdp-and-ssh-from-the-internet
                priority: 100
                direction: Inbound
                action: Deny
                protocol: Tcp
                destination_port_ranges: [\"22\", \"3389\"]
                sources: [Internet]
    routing_configurations:
      # network-manager.tf:103
      - name: through-the-hub
        route_table_usage_mode: ManagedOnly
        rule_collections:
          # network-manager.tf:109
          - name: spokes
            network_groups: [spokes]
            rules:
              # network-manager.tf:116
              - {name: private-to-the-nva, destination: 192.168.0.0/16, next_hop_type: VirtualAppliance, next_hop_address: 10.0.1.4}
    deployments:
      # network-manager.tf:85
      - {location: northeurope, scope_access: Connectivity, configurations: [hub-and-spoke]}
      # network-manager.tf:93
      - {location: northeurope, scope_access: SecurityAdmin, configurations: [guardrails]}
      # network-manager.tf:85
      - {location: westeurope, scope_access: Connectivity, configurations: [hub-and-spoke]}
      # network-manager.tf:131
      - {location: westeurope, scope_access: Routing, configurations: [through-the-hub]}
      # network-manager.tf:93
      - {location: westeurope, scope_access: SecurityAdmin, configurations: [guardrails]}
";

/// `vnetd check` on `text`: exit 0, no warning; its stdout.
pub(crate) fn checked(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lab.yaml");
    std::fs::write(&path, text).unwrap();
    let out = vnetd(&["check", path.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}\n{text}");
    assert!(!stderr.contains("warning"), "{stderr}");
    stdout
}

pub(crate) fn topology(source: &str, text: &str) -> Topology {
    vnetd::plan::parse_str(source, text)
        .unwrap_or_else(|e| panic!("{source}: {e:?}"))
        .topology
}

/// A copy of the directory `source` (files only) in a temporary one.
pub(crate) fn copy_of(source: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo(source)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

/// A copy of the az dump, `change` applied to one of its files.
pub(crate) fn az_copy_with(file: &str, change: impl FnOnce(&mut Value)) -> tempfile::TempDir {
    let dir = copy_of(AZ_DIR);
    let path = dir.path().join(file);
    let mut document: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or("[]".into())).unwrap();
    change(&mut document);
    std::fs::write(&path, serde_json::to_string_pretty(&document).unwrap()).unwrap();
    dir
}

/// The line (from 1) of the `nth` line (from 0) of `file` in `dir`
/// holding `needle`.
pub(crate) fn line_with(dir: &Path, file: &str, needle: &str, nth: usize) -> usize {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let found = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .nth(nth);
    found
        .unwrap_or_else(|| panic!("{needle} is not in {file} {} times", nth + 1))
        .0
        + 1
}

/// The configuration's network manager, exactly, each part after the
/// comment naming its block; the policy that adds members is named in the
/// header and at its group; the file passes `vnetd check` and holds the
/// group and connected group of the example.
#[test]
fn terraform_writes_the_network_manager() {
    let text = imported(&["import", "terraform", TERRAFORM_DIR]);
    let block = &text[text
        .find("\nnetwork_managers:\n")
        .expect("network_managers")
        + 1..];
    assert_eq!(block, NETWORK_MANAGERS);
    assert!(
        text.contains(
            "#   azurerm_policy_definition.spokes-by-tag (policy.tf:3): adds VNets to network \
             group `spokes` of network manager `contoso-avnm` (Azure Policy): vnetd imports the \
             group's static members only\n"
        ),
        "{text}"
    );
    // The tag that the policy selects, and which the file's member_tags
    // would select, is kept.
    assert!(
        text.contains("  - name: spoke3\n    address_space: [10.3.0.0/16]\n    location: northeurope\n    tags: {role: spoke}\n"),
        "{text}"
    );
    let stdout = checked(&text);
    assert!(
        stdout.contains(
            "network group contoso-avnm/spokes: spoke1, spoke2, spoke3\nconnected group of \
             hub-and-spoke (global): hub, spoke1, spoke2, spoke3\n"
        ),
        "{stdout}"
    );
}

/// The dump imports as the configuration, comments aside, but for the
/// public address Azure gave (the configuration leaves it to vnetd); the
/// peerings Azure made for the connectivity configuration are named and
/// left to the file's network manager.
#[test]
fn the_az_dump_imports_as_the_terraform_configuration() {
    let az = imported(&["import", "az", AZ_DIR]);
    let terraform = imported(&["import", "terraform", TERRAFORM_DIR]);
    let az_known = without_comments(&az).replace("    ip_address: 198.51.100.40\n", "");
    assert_eq!(az_known, without_comments(&terraform));
    assert!(without_comments(&az).contains("  - name: vm1-pip\n    ip_address: 198.51.100.40\n"));
    for (vnet, peering) in [
        ("hub", "spoke1"),
        ("hub", "spoke3"),
        ("spoke1", "hub"),
        ("spoke3", "hub"),
    ] {
        let name = format!("ANM_4f1e9c2a7d3b45e8a6c0b9d2e1f37a58_{peering}");
        let line = format!(
            "#   azurerm_virtual_network_peering.{name} (made by Virtual Network Manager: the \
             network manager of the file makes it) (/subscriptions/11111111-2222-3333-4444-\
             555555555555/resourceGroups/rg-avnm/providers/Microsoft.Network/virtualNetworks/\
             {vnet}/virtualNetworkPeerings/{name})\n"
        );
        assert!(az.contains(&line), "{line}\n{az}");
    }
    assert!(
        az.contains(
            "#   azurerm_policy_definition.spokes-by-tag (/subscriptions/11111111-2222-3333-4444-\
             555555555555/providers/Microsoft.Authorization/policyDefinitions/spokes-by-tag): \
             adds VNets to network group `spokes` of network manager `contoso-avnm` (Azure \
             Policy): vnetd imports the group's static members only\n"
        ),
        "{az}"
    );
    checked(&az);
}

/// The state of the configuration once applied knows what Azure gave
/// (vm1's public address) and imports as the dump, comments aside; the
/// policy that adds members is named from its `policy_rule` text.
#[test]
fn the_state_imports_as_the_az_dump() {
    let state = imported(&["import", "tfstate", STATE]);
    let az = imported(&["import", "az", AZ_DIR]);
    assert_eq!(without_comments(&state), without_comments(&az));
    assert!(
        state.contains(
            "#   azurerm_policy_definition.spokes-by-tag (/subscriptions/00000000-0000-0000-0000-\
             000000000000/providers/Microsoft.Authorization/policyDefinitions/spokes-by-tag): \
             adds VNets to network group `spokes` of network manager `contoso-avnm` (Azure \
             Policy): vnetd imports the group's static members only\n"
        ),
        "{state}"
    );
    checked(&state);
}

/// Azure's REST API keeps an object's values under `properties`, where
/// the CLI flattens them: a dump in that shape imports the same.
#[test]
fn an_az_dump_with_properties_imports_the_same() {
    let nested = |objects: &mut Value| {
        const OWN: &[&str] = &[
            "id",
            "name",
            "type",
            "etag",
            "resourceGroup",
            "location",
            "systemData",
            "kind",
            "tags",
        ];
        for object in objects.as_array_mut().unwrap() {
            let object = object.as_object_mut().unwrap();
            let keys: Vec<String> = object
                .keys()
                .filter(|k| !OWN.contains(&k.as_str()))
                .cloned()
                .collect();
            let mut properties = serde_json::Map::new();
            for key in keys {
                properties.insert(key.clone(), object.remove(&key).unwrap());
            }
            object.insert("properties".into(), Value::Object(properties));
        }
    };
    let dir = copy_of(AZ_DIR);
    for file in [
        "network-managers.json",
        "network-manager-groups.json",
        "network-manager-static-members.json",
        "network-manager-connectivity-configs.json",
        "network-manager-security-admin-configs.json",
        "network-manager-admin-rule-collections.json",
        "network-manager-admin-rules.json",
        "network-manager-routing-configs.json",
        "network-manager-routing-rule-collections.json",
        "network-manager-routing-rules.json",
        "policy-definitions.json",
    ] {
        let path = dir.path().join(file);
        let mut document: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        nested(&mut document);
        assert!(document[0]["properties"].is_object());
        std::fs::write(&path, serde_json::to_string_pretty(&document).unwrap()).unwrap();
    }
    let flattened = imported(&["import", "az", AZ_DIR]);
    let nested = imported(&["import", "az", dir.path().to_str().unwrap()]);
    let header = |text: &str| text.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(header(&nested), header(&flattened));
}

/// The flows the imports are judged on: from every NIC and the Internet,
/// to every NIC's private address and to vm1's public one, TCP to the
/// ports the admin rules and NSGs name and to others, and ICMP.
fn flows() -> Vec<(ExpectedProtocol, Option<u16>)> {
    let mut flows: Vec<(ExpectedProtocol, Option<u16>)> = [22, 80, 443, 3389, 9100]
        .into_iter()
        .map(|port| (ExpectedProtocol::Tcp, Some(port)))
        .collect();
    flows.push((ExpectedProtocol::Udp, Some(53)));
    flows.push((ExpectedProtocol::Icmp, None));
    flows
}

/// Every trace of the matrix, as JSON, keyed by the flow; vm1's public
/// address (vnetd's own in the configuration's import) written `VM1-PIP`.
fn decisions(t: Topology) -> Vec<(String, String)> {
    let vm1 = t.nic_by_name("vm1").unwrap();
    let public = t
        .edge
        .nic_public_address(vm1)
        .expect("vm1 has a public address");
    let learned = expected_learned(&t);
    let snap = Snapshot::compile_learned(t, learned, 0);
    let t = &snap.topology;
    let mut sources: Vec<(String, Endpoint)> = (t.nics.iter_enumerated())
        .map(|(i, n)| (n.name.clone(), Endpoint::Nic(i)))
        .collect();
    sources.push(("internet".into(), Endpoint::Internet(None)));
    let mut destinations: Vec<(String, IpAddr)> = (t.nics.iter())
        .map(|n| (n.name.clone(), n.ip_configurations[0].address))
        .collect();
    destinations.push(("vm1-pip".into(), public));
    let mut out = Vec::new();
    for (from, endpoint) in &sources {
        for (to, address) in &destinations {
            for (protocol, port) in flows() {
                let query = TraceQuery {
                    from: *endpoint,
                    to: *address,
                    protocol,
                    port,
                };
                let answer = match trace(&snap, &query) {
                    Ok(t) => serde_json::to_string(&t).unwrap(),
                    Err(e) => format!("refused: {e}"),
                };
                let key = format!("{from} -> {to} {protocol:?} {port:?}");
                out.push((key, answer.replace(&public.to_string(), "VM1-PIP")));
            }
        }
    }
    out
}

/// Each NIC's effective routes, as `az network nic show-effective-route-
/// table` lists them.
fn routes(t: Topology) -> Vec<(String, String)> {
    let snap = Snapshot::compile_learned(t.clone(), expected_learned(&t), 0);
    (t.nics.iter_enumerated())
        .map(|(i, n)| {
            let list = vnetd::diagnostics::az::routes(&snap, PortIdx::of_nic(i));
            (n.name.clone(), serde_json::to_string(&list).unwrap())
        })
        .collect()
}

/// The `ANM_` peerings: name, VNet, remote and flags.
fn anm_peerings(t: &Topology) -> Vec<String> {
    let mut peerings: Vec<String> = (t.peerings.iter())
        .filter(|p| p.name.starts_with("ANM_"))
        .map(|p| {
            format!(
                "{} {} -> {} access={} forwarded={} transit={} remote_gateways={}",
                p.name,
                t.vnets[p.vnet].name,
                t.vnets[p.remote].name,
                p.flags.allow_virtual_network_access,
                p.flags.allow_forwarded_traffic,
                p.flags.allow_gateway_transit,
                p.flags.use_remote_gateways
            )
        })
        .collect();
    peerings.sort();
    peerings
}

/// Every import decides as the hand-written example with [`ROUTING`]: the
/// same traces (verdict, reason, place, the admin rule or NSG rule that
/// decided, the route, the peering or connected group crossed), the same
/// effective routes (the routing rule's among them, in the spokes of West
/// Europe only), the same ANM peerings; and the example's own
/// expectations hold on them.
#[test]
fn the_imports_decide_as_the_example() {
    let example_text = std::fs::read_to_string(repo(EXAMPLE)).unwrap();
    assert!(
        example_text.ends_with("configurations: [guardrails]}\n"),
        "the example's network manager ends with its deployments"
    );
    let example_text = example_text + ROUTING;
    let example = topology(EXAMPLE, &example_text);
    let peerings = anm_peerings(&example);
    assert_eq!(
        peerings,
        [
            "ANM_hub-and-spoke_hub spoke1 -> hub access=true forwarded=true transit=false \
             remote_gateways=false",
            "ANM_hub-and-spoke_hub spoke3 -> hub access=true forwarded=true transit=false \
             remote_gateways=false",
            "ANM_hub-and-spoke_spoke1 hub -> spoke1 access=true forwarded=true transit=false \
             remote_gateways=false",
            "ANM_hub-and-spoke_spoke3 hub -> spoke3 access=true forwarded=true transit=false \
             remote_gateways=false",
        ]
    );
    let example_routes = routes(example.clone());
    // The spokes reach each other over the connected group; the hub
    // reaches them over its peerings, which win.
    let connected: Vec<&str> = (example_routes.iter())
        .filter(|(_, list)| list.contains("\"ConnectedGroup\""))
        .map(|(nic, _)| nic.as_str())
        .collect();
    assert_eq!(connected, ["vm1", "vm2", "vm3"]);
    // The routing rule's user route, in the spokes its deployment reaches.
    let rule_route =
        "{\"source\":\"User\",\"state\":\"Active\",\"addressPrefix\":[\"192.168.0.0/16\"],\
                      \"nextHopType\":\"VirtualAppliance\",\"nextHopIpAddress\":[\"10.0.1.4\"],\
                      \"name\":\"private-to-the-nva\",";
    let routed: Vec<&str> = (example_routes.iter())
        .filter(|(_, list)| list.contains(rule_route))
        .map(|(nic, _)| nic.as_str())
        .collect();
    assert_eq!(routed, ["vm1", "vm2"], "{example_routes:?}");
    let example_decisions = decisions(example);
    let admin_denied = (example_decisions.iter())
        .filter(|(_, answer)| answer.contains("\"reason\":\"admin_denied\""))
        .count();
    assert!(admin_denied >= 2, "the matrix meets the admin rules");

    // What only the lab has, which no import can give: the example's
    // server on the Internet (where traces from the Internet start), and
    // its expectations.
    let section = |key: &str, next: &str| {
        let from = example_text.find(&format!("\n{key}:\n")).unwrap();
        let rest = &example_text[from..];
        rest[..rest.find(&format!("\n\n{next}:")).unwrap() + 1].to_string()
    };
    let expectations = section("expectations", "internet");
    let internet = section("internet", "public_ip_addresses");
    for args in [
        ["import", "terraform", TERRAFORM_DIR],
        ["import", "tfstate", STATE],
        ["import", "az", AZ_DIR],
    ] {
        let text = imported(&args) + &internet;
        let t = topology(args[1], &text);
        assert_eq!(anm_peerings(&t), peerings, "{args:?}");
        for ((nic, got), (_, want)) in routes(t.clone()).iter().zip(&example_routes) {
            assert_eq!(got, want, "{args:?}: the effective routes of {nic}");
        }
        let got = decisions(t);
        assert_eq!(got.len(), example_decisions.len());
        for ((flow, answer), (_, expected)) in got.iter().zip(&example_decisions) {
            assert_eq!(answer, expected, "{args:?}: {flow}");
        }

        // The example's expectations, to its public address where the
        // import has another.
        let vm1 = t_public_address(&text);
        let stdout = checked(&format!(
            "{text}{}",
            expectations.replace("198.51.100.40", &vm1)
        ));
        assert!(
            stdout.ends_with("10 passed, 0 failed\n"),
            "{args:?}: {stdout}"
        );
    }
}

/// vm1's public address in the file `text`.
fn t_public_address(text: &str) -> String {
    let t = topology("import", text);
    let vm1 = t.nic_by_name("vm1").unwrap();
    t.edge.nic_public_address(vm1).unwrap().to_string()
}
