//! Azure Virtual WAN imported: the Terraform configuration
//! `tests/import/terraform/virtual-wan` (a Standard WAN; two secured hubs
//! in two regions with routing intent, VNet connections, a VPN branch
//! whose link speaks BGP and a datacenter over ExpressRoute; a third hub
//! isolating its VNets with RT_BLUE and RT_RED, a shared NVA VNet with a
//! static route, hub routes to it and a BGP connection), its Terraform
//! state once applied, and the `az` dump of the same network. Each
//! imports exactly to its expected file, `vnetd check` accepts it, and
//! vnetd reads every hub, table, route and connection as written; broken
//! inputs are refused at the place of the problem.

use super::import_state::{imported, refused, repo, vnetd, without_comments};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;
use vnetd::topology::{HubNextHop, Topology};

const TERRAFORM_DIR: &str = "tests/import/terraform/virtual-wan";
const STATE: &str = "tests/import/tfstate/virtual-wan.tfstate";
const STATE_EXPECTED: &str = "tests/import/tfstate/virtual-wan.expected.yaml";
const AZ_DIR: &str = "tests/import/az/virtual-wan";

/// `vnetd check` on `text`, written to a file: exit 0, and no warning but
/// those about what the lab reads and does not run yet, and about a VPN
/// site no on-premises site of the file plays (Terraform has none: the
/// import leaves a comment asking for one).
fn checked(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lab.yaml");
    std::fs::write(&path, text).unwrap();
    let out = vnetd(&["check", path.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}\n{text}");
    for line in stderr.lines() {
        assert!(
            line.contains("read but not yet run by vnetd")
                || line.contains("no on-premises site plays this VPN site"),
            "an unexpected warning: {line}"
        );
    }
    stdout
}

fn topology(text: &str) -> Topology {
    vnetd::topology::parse_str("lab.yaml", text)
        .unwrap_or_else(|e| panic!("{e:?}"))
        .topology
}

/// Every hub as vnetd reads it, one line per hub, table and connection.
fn described(t: &Topology) -> String {
    let mut out = String::new();
    for hub in &t.virtual_hubs {
        let firewall = hub.firewall.map(|f| t.firewalls[f].name.as_str());
        let intent = hub.routing_intent.as_ref().map(|i| {
            let kinds = [(i.private, "private"), (i.internet, "internet")];
            let kinds: Vec<&str> = kinds.iter().filter(|k| k.0).map(|k| k.1).collect();
            format!("{} {}", i.name, kinds.join("+"))
        });
        let _ = writeln!(
            out,
            "{} wan={} {} {} router={:?} firewall={firewall:?} intent={intent:?}",
            hub.name,
            t.virtual_wans[hub.wan].name,
            hub.location,
            hub.address_prefix,
            hub.router_ips,
        );
        for table in &hub.route_tables {
            let routes: Vec<String> = (table.routes.iter())
                .map(|r| {
                    let next_hop = match r.next_hop {
                        HubNextHop::Connection { hub: h, connection } => {
                            t.virtual_hubs[h].connections[connection].name.as_str()
                        }
                        HubNextHop::Firewall => "firewall",
                    };
                    format!("{} {:?} -> {next_hop}", r.name, r.destinations)
                })
                .collect();
            let _ = writeln!(out, "  table {} {:?} {routes:?}", table.name, table.labels);
        }
        for c in &hub.connections {
            let propagated: Vec<String> = (c.propagated_tables.iter())
                .map(|(h, table)| {
                    let h = &t.virtual_hubs[*h];
                    format!("{}/{}", h.name, h.route_tables[*table].name)
                })
                .collect();
            let statics: Vec<String> = (c.static_routes.iter())
                .map(|s| format!("{} {:?} -> {}", s.name, s.address_prefixes, s.next_hop))
                .collect();
            let _ = writeln!(
                out,
                "  connection {} vnet={} internet={} associated={} propagated={propagated:?} \
                 labels={:?} static={statics:?} bypass={}",
                c.name,
                t.vnets[c.vnet].name,
                c.internet_security,
                hub.route_tables[c.associated].name,
                c.propagated_labels,
                c.bypass_local,
            );
        }
    }
    out
}

/// The three hubs of the configuration as vnetd reads them (the router's
/// addresses are vnetd's estimate, the ones the state gives).
const HUBS: &str = r#"hub1 wan=wan1 westeurope 10.100.0.0/23 router=[10.100.0.68, 10.100.0.69] firewall=Some("fw-hub1") intent=Some("ri-hub1 private+internet")
  table defaultRouteTable ["default"] []
  table noneRouteTable ["none"] []
  connection conn-spoke1 vnet=spoke1 internet=true associated=defaultRouteTable propagated=["hub1/noneRouteTable"] labels=[] static=[] bypass=false
hub2 wan=wan1 northeurope 10.101.0.0/23 router=[10.101.0.68, 10.101.0.69] firewall=Some("fw-hub2") intent=Some("ri-hub2 private")
  table defaultRouteTable ["default"] []
  table noneRouteTable ["none"] []
  connection conn-spoke2 vnet=spoke2 internet=true associated=defaultRouteTable propagated=["hub2/noneRouteTable"] labels=[] static=[] bypass=false
hub3 wan=wan1 uksouth 10.102.0.0/23 router=[10.102.0.68, 10.102.0.69] firewall=None intent=None
  table defaultRouteTable ["default"] ["default-to-indirect [10.35.0.0/16] -> conn-nva"]
  table noneRouteTable ["none"] []
  table RT_BLUE ["blue"] ["blue-to-indirect [10.35.0.0/16] -> conn-nva"]
  table RT_RED ["red"] ["red-to-indirect [10.35.0.0/16] -> conn-nva"]
  connection conn-blue1 vnet=blue1 internet=false associated=RT_BLUE propagated=["hub3/RT_BLUE", "hub1/defaultRouteTable", "hub2/defaultRouteTable"] labels=["blue"] static=[] bypass=false
  connection conn-isolated vnet=isolated internet=false associated=defaultRouteTable propagated=["hub3/noneRouteTable"] labels=[] static=[] bypass=false
  connection conn-nva vnet=nva internet=false associated=defaultRouteTable propagated=["hub3/defaultRouteTable"] labels=["blue", "default", "red"] static=["to-indirect [10.35.0.0/16] -> 10.34.1.4"] bypass=true
  connection conn-red1 vnet=red1 internet=false associated=RT_RED propagated=["hub3/RT_RED"] labels=["red"] static=[] bypass=false
"#;

/// The configuration imports exactly to its expected file (the library's
/// test holds the same file), `vnetd check` accepts it, and vnetd reads
/// every hub as the configuration means it: tables of the connection's
/// hub and of others, the built-in ones, routes to the NVA's connection,
/// the secured hubs' firewalls and routing intent (which manages their
/// connections' routing).
#[test]
fn terraform_imports_every_hub_as_written() {
    let text = imported(&["import", "terraform", TERRAFORM_DIR]);
    let expected = std::fs::read_to_string(repo(&format!("{TERRAFORM_DIR}/expected.yaml")));
    assert!(text == expected.unwrap(), "{text}");
    let stdout = checked(&text);
    assert!(
        stdout.contains("2 Azure Firewalls (fw-hub1 at 10.100.0.132, fw-hub2 at 10.101.0.132)"),
        "{stdout}"
    );
    let t = topology(&text);
    assert_eq!(described(&t), HUBS);
    let wans: Vec<(&str, bool)> = (t.virtual_wans.iter())
        .map(|w| (w.name.as_str(), w.hubs_meshed() && w.branch_to_branch))
        .collect();
    assert_eq!(wans, [("wan1", true)]);
}

/// The state of the configuration imports exactly to its expected file;
/// vnetd reads it as the configuration (the routing the state shows for
/// the secured hubs' connections is the one routing intent gives them).
#[test]
fn the_state_imports_as_the_configuration() {
    let text = imported(&["import", "tfstate", STATE]);
    let expected = std::fs::read_to_string(repo(STATE_EXPECTED)).unwrap();
    assert!(text == expected, "{text}");
    checked(&text);
    assert_eq!(described(&topology(&text)), HUBS);
    // Comments aside, it is the configuration's with what only the state
    // knows: the router addresses, and the routing routing intent gives
    // the secured hubs' connections.
    let mut state = without_comments(&text);
    let managed =
        "        routing:\n          associated_route_table: defaultRouteTable\n          \
                   propagated_route_table:\n            labels: [none]\n            \
                   route_table_ids: [noneRouteTable]\n";
    assert_eq!(state.matches(managed).count(), 4, "{state}");
    state = state.replace(managed, "");
    let routers: Vec<&str> = (state.lines())
        .filter(|l| l.starts_with("    virtual_router_ips: "))
        .collect();
    assert_eq!(
        routers,
        [
            "    virtual_router_ips: [10.100.0.68, 10.100.0.69]",
            "    virtual_router_ips: [10.101.0.68, 10.101.0.69]",
            "    virtual_router_ips: [10.102.0.68, 10.102.0.69]",
        ]
    );
    let state: String = (state.lines())
        .filter(|l| !l.starts_with("    virtual_router_ips: "))
        .map(|l| format!("{l}\n"))
        .collect();
    let terraform = imported(&["import", "terraform", TERRAFORM_DIR]);
    assert_eq!(state, without_comments(&terraform));
}

/// A copy of the state with `change` applied to its text, in a temporary
/// directory.
fn state_with(change: impl FnOnce(String) -> String) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("virtual-wan.tfstate");
    let text = std::fs::read_to_string(repo(STATE)).unwrap();
    std::fs::write(&path, change(text)).unwrap();
    (dir, path.to_str().unwrap().to_string())
}

/// What the input lacks, or what Azure refuses, is refused at the
/// resource it is about (its ID), exit 1.
#[test]
fn broken_states_are_refused_at_the_resource() {
    let net = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-vwan/\
               providers/Microsoft.Network";
    // A route of hub3's RT_RED to hub1's firewall.
    let conn_nva = format!("{net}/virtualHubs/hub3/hubVirtualNetworkConnections/conn-nva");
    let (_dir, path) = state_with(|text| {
        let red = text.find("\"name\": \"red-to-indirect\"").unwrap();
        let at = red + text[red..].find(&conn_nva).unwrap();
        let firewall = format!("{net}/azureFirewalls/fw-hub1");
        format!("{}{firewall}{}", &text[..at], &text[at + conn_nva.len()..])
    });
    let stderr = refused(&["import", "tfstate", &path]);
    assert_eq!(
        stderr,
        format!(
            "{net}/virtualHubs/hub3/hubRouteTables/RT_RED: route `red-to-indirect` of hub route \
             table `hub3/RT_RED`: its next hop, Azure Firewall `fw-hub1`, is not the firewall of \
             virtual hub `hub3`: Azure refuses a route to another hub's firewall\n"
        )
    );
    // A connection associated with a table no hub has.
    let associated =
        format!("\"associated_route_table_id\": \"{net}/virtualHubs/hub3/hubRouteTables/RT_RED\"");
    let (_dir, path) =
        state_with(|text| text.replace(&associated, &associated.replace("RT_RED", "RT_GONE")));
    let stderr = refused(&["import", "tfstate", &path]);
    assert!(
        stderr.contains("RT_GONE` names a route table that is not in the input"),
        "{stderr}"
    );
    // What vnetd refuses of the written file (a hub prefix smaller than a
    // /24) is reported at the hub's ID.
    let (_dir, path) = state_with(|text| text.replace("10.102.0.0/23", "10.102.0.0/25"));
    let stderr = refused(&["import", "tfstate", &path]);
    assert!(
        stderr.starts_with(&format!(
            "{net}/virtualHubs/hub3: vnetd refuses what this imports to"
        )),
        "{stderr}"
    );
}

/// `az network vwan list`, `vhub list` (a Route Server among the hubs),
/// the hubs' connections, route tables (the built-in ones with routing
/// intent's own routes), routing intents and BGP connections, the VPN
/// sites and the hubs' gateways with their connections give the file the
/// state gives, comments aside; routing intent's routes are named in a
/// comment, and `vnetd check` accepts the file.
#[test]
fn the_az_dump_imports_as_the_state() {
    let az = imported(&["import", "az", AZ_DIR]);
    let state = imported(&["import", "tfstate", STATE]);
    assert_eq!(without_comments(&az), without_comments(&state));
    assert!(!az.contains("other-rs"), "{az}");
    assert!(
        az.contains(
            "    # The routes _policy_PublicTraffic, _policy_PrivateTraffic of its \
             defaultRouteTable are routing intent's own, which vnetd adds from the hub's \
             routing_intent: not written\n"
        ),
        "{az}"
    );
    checked(&az);
    assert_eq!(described(&topology(&az)), HUBS);
}

/// A copy of the az dump in a temporary directory, `change` applied to
/// one of its files.
fn az_copy_with(file: &str, change: impl FnOnce(&mut Value)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo(AZ_DIR)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let text = std::fs::read_to_string(repo(&format!("{AZ_DIR}/{file}"))).unwrap();
    let mut document: Value = serde_json::from_str(&text).unwrap();
    change(&mut document);
    let text = serde_json::to_string_pretty(&document).unwrap();
    std::fs::write(dir.path().join(file), text).unwrap();
    dir
}

/// The line (from 1) of the first line of `file` in `dir` holding `needle`.
fn line_with(dir: &Path, file: &str, needle: &str) -> usize {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let found = text.lines().position(|l| l.contains(needle));
    found.unwrap_or_else(|| panic!("{needle} is not in {file}")) + 1
}

/// A reference to what the dump lacks is refused at its file, line and
/// path; what the writer refuses, at the line of the object's ID.
#[test]
fn broken_az_dumps_are_refused_where_they_are_wrong() {
    let dir = az_copy_with("virtual-hub-connections.json", |connections| {
        connections[2]["routingConfiguration"]["associatedRouteTable"]["id"] = json!(connections
            [2]["routingConfiguration"]["associatedRouteTable"]["id"]
            .as_str()
            .unwrap()
            .replace("RT_BLUE", "RT_GREEN"));
    });
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    let table = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/RG-VWAN/\
                 providers/Microsoft.Network/virtualHubs/hub3/hubRouteTables/RT_GREEN";
    assert_eq!(
        stderr,
        format!(
            "{}/virtual-hub-connections.json:{}: [2].routingConfiguration.associatedRouteTable.\
             id: `{table}` names no hub route table of virtual-hub-route-tables.json\n",
            dir.path().display(),
            line_with(dir.path(), "virtual-hub-connections.json", "RT_GREEN"),
        )
    );

    let dir = az_copy_with("vpn-gateways.json", |gateways| {
        let link = &mut gateways[0]["connections"][0]["vpnLinkConnections"][0];
        link["vpnSiteLink"]["id"] = json!(link["vpnSiteLink"]["id"]
            .as_str()
            .unwrap()
            .replace("link1", "link9"));
    });
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    assert!(
        stderr.contains(&format!(
            "/vpn-gateways.json:{}: [0].connections[0].vpnLinkConnections[0].vpnSiteLink.id: \
             `",
            line_with(dir.path(), "vpn-gateways.json", "vpnSiteLinks/link9")
        )),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("` names no VPN site link of vpn-sites.json\n"),
        "{stderr}"
    );

    // A hub route to another hub's firewall: refused at the table.
    let dir = az_copy_with("virtual-hub-route-tables.json", |tables| {
        let red = tables
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|t| t["name"] == "RT_RED");
        let route = &mut red.unwrap()["routes"][0];
        route["nextHop"] = json!(
            route["nextHop"]
                .as_str()
                .unwrap()
                .split("/virtualHubs/")
                .next()
                .unwrap()
                .to_string()
                + "/azureFirewalls/fw-hub1"
        );
    });
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    assert!(
        stderr.contains(&format!(
            "/virtual-hub-route-tables.json:{}: ",
            line_with(
                dir.path(),
                "virtual-hub-route-tables.json",
                "hubRouteTables/RT_RED\""
            )
        )),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(
            "route `red-to-indirect` of hub route table `hub3/RT_RED`: its next hop, Azure \
             Firewall `fw-hub1`, is not the firewall of virtual hub `hub3`: Azure refuses a \
             route to another hub's firewall\n"
        ),
        "{stderr}"
    );
}
