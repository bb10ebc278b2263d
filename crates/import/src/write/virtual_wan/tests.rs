//! The Virtual WAN the writer writes, as text, before `vnetd check` reads
//! it: the configuration `tests/import/terraform/virtual-wan` whole, and
//! each rule on resources as state and `az` give them.

use crate::assert_has;
use crate::write::tests::{net_id, resource};
use crate::write::written;
use crate::{ImportError, Resource};
use serde_json::{json, Value};

/// The text written for `resources`, before it is checked.
fn text(resources: &[Resource]) -> String {
    written(resources, "a test").unwrap().text
}

fn refusal(resources: &[Resource]) -> ImportError {
    match written(resources, "a test") {
        Ok(out) => panic!("written:\n{}", out.text),
        Err(e) => e,
    }
}

/// The file's text from `key:` (a section) to the end.
fn from_section<'t>(text: &'t str, key: &str) -> &'t str {
    let at = text
        .find(&format!("\n{key}:\n"))
        .unwrap_or_else(|| panic!("no {key}:\n{text}"));
    &text[at + 1..]
}

/// The configuration imports as its `expected.yaml` (which the offline
/// tests hold `vnetd import terraform` and `vnetd check` to), exactly:
/// every reference written as a name (a hub's default table as
/// `defaultRouteTable`, its none table as `noneRouteTable`, another hub's
/// table as `hub/table`, a route's next hop as the connection's name, a
/// VPN link's site link by its name), Azure's defaults left out, the
/// shared key not written.
#[test]
fn the_configuration_writes_every_part_of_the_wan() {
    let case = "tests/import/terraform/virtual-wan";
    let (resources, placeholders) = crate::terraform::read_dir(&repo(case), &[]).unwrap();
    assert!(placeholders.is_empty(), "{placeholders:?}");
    let text = written(
        &resources,
        &format!("the Terraform configuration in {case}"),
    )
    .unwrap()
    .text;
    assert!(!text.contains("not-a-real-key"), "{text}");
    assert_is_file(&text, &format!("{case}/expected.yaml"));
}

/// The state of that configuration once applied imports as its
/// `virtual-wan.expected.yaml`: what only Azure knows is written (the
/// hubs' router addresses, and the routing that routing intent gives the
/// secured hubs' connections: associated with `defaultRouteTable`,
/// propagating to `noneRouteTable`), the route the provider lists in its
/// table too is written once, the shared key is not.
#[test]
fn the_state_writes_what_azure_knows_too() {
    let state = "tests/import/tfstate/virtual-wan.tfstate";
    let resources = crate::tfstate::read(&repo(state)).unwrap();
    let text = written(&resources, &format!("the Terraform state {state}"))
        .unwrap()
        .text;
    assert!(!text.contains("not-a-real-key"), "{text}");
    assert_eq!(
        text.matches("- name: blue-to-indirect\n").count(),
        1,
        "{text}"
    );
    assert_is_file(&text, "tests/import/tfstate/virtual-wan.expected.yaml");
}

/// `path` from the repository's root.
fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// Asserts that `text` is the file at `path` (from the repository's root),
/// which `VNETD_BLESS=1` writes instead.
#[track_caller]
fn assert_is_file(text: &str, path: &str) {
    if std::env::var_os("VNETD_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(repo(path), text).unwrap();
    }
    let expected = std::fs::read_to_string(repo(path)).unwrap();
    assert!(text == expected, "{path}:\n{text}");
    for section in [
        "azure_firewalls",
        "virtual_wans",
        "virtual_hubs",
        "vpn_sites",
    ] {
        from_section(text, section);
    }
}

/// A WAN, a hub with what state lists for it: the defaults are not
/// written, the rest is; `route` blocks are named in a comment.
fn wan_and_hub(wan: Value, hub: Value) -> Vec<Resource> {
    let mut wan_attributes = json!({"name": "wan1", "location": "westeurope"});
    merge(&mut wan_attributes, wan);
    let mut hub_attributes = json!({"name": "hub1", "location": "West Europe",
        "virtual_wan_id": net_id("virtualWans/wan1"), "address_prefix": "10.100.0.0/23"});
    merge(&mut hub_attributes, hub);
    vec![
        resource("azurerm_virtual_wan", "wan1", wan_attributes, 1),
        resource("azurerm_virtual_hub", "hub1", hub_attributes, 2),
    ]
}

fn merge(into: &mut Value, more: Value) {
    for (key, value) in more.as_object().unwrap() {
        into[key] = value.clone();
    }
}

#[test]
fn defaults_are_left_out_and_the_rest_written() {
    let defaults = wan_and_hub(
        json!({"type": "Standard", "allow_branch_to_branch_traffic": true,
               "disable_vpn_encryption": false, "office365_local_breakout_category": "None"}),
        json!({"sku": "Standard", "hub_routing_preference": "ExpressRoute",
               "branch_to_branch_traffic_enabled": false,
               "virtual_router_auto_scale_min_capacity": 2, "virtual_router_ips": [],
               "virtual_router_asn": 65515, "route": []}),
    );
    assert!(
        text(&defaults).ends_with(
            "virtual_wans:\n  # main.tf:1\n  - name: wan1\n\nvirtual_hubs:\n  # main.tf:2\n  \
             - name: hub1\n    virtual_wan: wan1\n    location: westeurope\n    \
             address_prefix: 10.100.0.0/23\n"
        ),
        "{}",
        text(&defaults)
    );
    let others = wan_and_hub(
        json!({"type": "Basic", "allow_branch_to_branch_traffic": false,
               "disable_vpn_encryption": true, "office365_local_breakout_category": "All"}),
        json!({"sku": "Basic", "hub_routing_preference": "ASPath",
               "branch_to_branch_traffic_enabled": true,
               "virtual_router_auto_scale_min_capacity": 4,
               "virtual_router_ips": ["10.100.0.68", "10.100.0.69"],
               "route": [{"address_prefixes": ["10.9.0.0/16"], "next_hop_ip_address": "10.1.0.4"}]}),
    );
    assert!(
        text(&others).ends_with(
            "virtual_wans:\n  # main.tf:1\n  - name: wan1\n    type: Basic\n    \
             allow_branch_to_branch_traffic: false\n    disable_vpn_encryption: true\n    \
             office365_local_breakout_category: All\n\nvirtual_hubs:\n  # main.tf:2\n  \
             - name: hub1\n    # Its 1 route block(s) (the hub's older route table, not a hub \
             route table) are not written: write them as routes of defaultRouteTable\n    \
             virtual_wan: wan1\n    location: westeurope\n    address_prefix: 10.100.0.0/23\n    \
             sku: Basic\n    hub_routing_preference: ASPath\n    \
             branch_to_branch_traffic_enabled: true\n    \
             virtual_router_auto_scale_min_capacity: 4\n    \
             virtual_router_ips: [10.100.0.68, 10.100.0.69]\n"
        ),
        "{}",
        text(&others)
    );
}

/// Two hubs, a VNet for each, and a connection of `vnet1` to hub1 with
/// `routing` (line 20).
fn connected(routing: Value) -> Vec<Resource> {
    let mut resources = wan_and_hub(json!({}), json!({}));
    let mut hub2 = resources[1].attributes.clone();
    hub2["name"] = json!("hub2");
    hub2["address_prefix"] = json!("10.101.0.0/23");
    resources.push(resource("azurerm_virtual_hub", "hub2", hub2, 3));
    for (i, name) in ["vnet1", "vnet2"].into_iter().enumerate() {
        let space = format!("10.{}.0.0/16", i + 1);
        resources.push(resource(
            "azurerm_virtual_network",
            name,
            json!({"name": name, "address_space": [space]}),
            4 + i,
        ));
    }
    resources.push(resource(
        "azurerm_virtual_hub_connection",
        "conn1",
        json!({"name": "conn1", "virtual_hub_id": net_id("virtualHubs/hub1"),
               "remote_virtual_network_id": net_id("virtualNetworks/vnet1"),
               "internet_security_enabled": false, "routing": routing}),
        20,
    ));
    resources
}

/// What state lists for a connection written without `routing` (Azure's
/// own routing) is not written either, whatever the case of the IDs.
#[test]
fn azure_default_routing_is_not_written() {
    let default = net_id("virtualHubs/hub1/hubRouteTables/DefaultRouteTable");
    let text = text(&connected(json!([{
        "associated_route_table_id": default,
        "propagated_route_table": [{"labels": ["default"], "route_table_ids": [default]}],
        "static_vnet_route": [], "inbound_route_map_id": "", "outbound_route_map_id": "",
        "static_vnet_local_route_override_criteria": "Contains",
        "static_vnet_propagate_static_routes_enabled": true}])));
    assert_has(
        &text,
        "    connections:\n      # main.tf:20\n      - name: conn1\n        \
         remote_virtual_network: vnet1\n  # main.tf:3\n  - name: hub2\n",
    );
}

/// The tables a connection names: its own hub's by name (the built-in
/// ones as Azure spells them), another hub's as `hub/table`; a static
/// route and a propagation flag that is not the default are written.
#[test]
fn tables_are_written_from_the_connection_s_hub() {
    let table =
        |hub: &str, table: &str| net_id(&format!("virtualHubs/{hub}/hubRouteTables/{table}"));
    let text = text(&connected(json!([{
        "associated_route_table_id": table("hub1", "defaultroutetable"),
        "propagated_route_table": [{"labels": ["b", "a", "b"],
            "route_table_ids": [table("hub2", "defaultRouteTable"), table("hub1", "NONEROUTETABLE")]}],
        "static_vnet_route": [{"name": "s2", "address_prefixes": ["10.9.0.0/16", "10.8.0.0/16"],
                               "next_hop_ip_address": "10.1.0.4"},
                              {"name": "s1", "address_prefixes": ["0.0.0.0/0"]}],
        "static_vnet_propagate_static_routes_enabled": false}])));
    assert_has(
        &text,
        "      - name: conn1\n        remote_virtual_network: vnet1\n        routing:\n          \
         associated_route_table: defaultRouteTable\n          propagated_route_table:\n            \
         labels: [a, b]\n            route_table_ids: [hub2/defaultRouteTable, noneRouteTable]\n          \
         static_vnet_route:\n            - name: s1\n              address_prefixes: [0.0.0.0/0]\n            \
         - name: s2\n              address_prefixes: [10.8.0.0/16, 10.9.0.0/16]\n              \
         next_hop_ip_address: 10.1.0.4\n          \
         static_vnet_propagate_static_routes_enabled: false\n",
    );
}

#[test]
fn a_table_the_input_lacks_is_refused_at_the_connection() {
    let gone = net_id("virtualHubs/hub2/hubRouteTables/RT_GONE");
    let err = refusal(&connected(json!([{"associated_route_table_id": gone}])));
    err.assert_is(
        "main.tf:20",
        &format!(
            "routing.associated_route_table_id `{gone}` names a route table that is not in the \
             input"
        ),
    );
    let err = refusal(&connected(
        json!([{"associated_route_table_id": net_id("routeTables/rt")}]),
    ));
    err.assert_contains("is not the ID of a hub route table");
}

/// `connected` with a table `RT` in hub1 (line 21) holding `route`, and
/// what `more` adds.
fn with_table_route(route: Value, more: Vec<Resource>) -> Vec<Resource> {
    let mut resources = connected(json!([]));
    resources.push(resource(
        "azurerm_virtual_hub_route_table",
        "RT",
        json!({"name": "RT", "virtual_hub_id": net_id("virtualHubs/hub1"), "labels": ["x"],
               "route": [route]}),
        21,
    ));
    resources.extend(more);
    resources
}

fn route_to(next_hop: &str) -> Value {
    json!({"name": "r1", "destinations_type": "CIDR", "destinations": ["10.9.0.0/16"],
           "next_hop_type": "ResourceId", "next_hop": next_hop})
}

/// A route's next hop is a connection (of another hub as
/// `hub/connection`) or the hub's own firewall: another hub's firewall,
/// or a connection not in the input, is refused at the table.
#[test]
fn a_route_s_next_hop_must_be_its_hub_s() {
    let own = net_id("virtualHubs/hub1/hubVirtualNetworkConnections/conn1");
    assert_has(
        &text(&with_table_route(route_to(&own), vec![])),
        "      - name: RT\n        labels: [x]\n        routes:\n          # main.tf:21\n          \
         - name: r1\n            destinations_type: CIDR\n            \
         destinations: [10.9.0.0/16]\n            next_hop: conn1\n",
    );
    // A connection of another hub is `hub/connection`.
    let other = net_id("virtualHubs/hub2/hubVirtualNetworkConnections/conn2");
    let conn2 = resource(
        "azurerm_virtual_hub_connection",
        "conn2",
        json!({"name": "conn2", "virtual_hub_id": net_id("virtualHubs/hub2"),
               "remote_virtual_network_id": net_id("virtualNetworks/vnet2")}),
        22,
    );
    assert_has(
        &text(&with_table_route(route_to(&other), vec![conn2])),
        "          - name: r1\n            destinations_type: CIDR\n            \
         destinations: [10.9.0.0/16]\n            next_hop: hub2/conn2\n",
    );
    refusal(&with_table_route(route_to(&other), vec![])).assert_is(
        "main.tf:21",
        "route `r1` of hub route table `hub1/RT`: its next hop, the connection `conn2` of \
         virtual hub `hub2`, is not in the input",
    );
    let firewall = resource(
        "azurerm_firewall",
        "fw2",
        json!({"name": "fw2", "sku_name": "AZFW_Hub", "sku_tier": "Standard",
               "virtual_hub": [{"virtual_hub_id": net_id("virtualHubs/hub2"),
                                "public_ip_count": 2}]}),
        22,
    );
    let resources = with_table_route(route_to(&net_id("azureFirewalls/fw2")), vec![firewall]);
    refusal(&resources).assert_is(
        "main.tf:21",
        "route `r1` of hub route table `hub1/RT`: its next hop, Azure Firewall `fw2`, is not the \
         firewall of virtual hub `hub1`: Azure refuses a route to another hub's firewall",
    );
    let mut resources = resources;
    resources.retain(|r| r.kind != "azurerm_virtual_hub_route_table");
    assert_has(
        &text(&resources),
        "  - name: fw2\n    virtual_hub: {virtual_hub: hub2, public_ip_count: 2}\n",
    );
    let gone = net_id("virtualHubs/hub1/hubVirtualNetworkConnections/gone");
    refusal(&with_table_route(route_to(&gone), vec![])).assert_is(
        "main.tf:21",
        "route `r1` of hub route table `hub1/RT`: its next hop, the connection `gone` of \
         virtual hub `hub1`, is not in the input",
    );
}

/// A route of another destination type is left out with why; state lists
/// a separate route inside its table too, and it is written once; one to
/// `defaultRouteTable`, which no table resource declares, makes it.
#[test]
fn routes_of_tables_are_written_once() {
    let own = net_id("virtualHubs/hub1/hubVirtualNetworkConnections/conn1");
    let mut service = route_to(&own);
    service["name"] = json!("to-storage");
    service["destinations_type"] = json!("Service");
    let separate = |table: &str, line| {
        let mut attributes = route_to(&own);
        attributes["route_table_id"] =
            json!(net_id(&format!("virtualHubs/hub1/hubRouteTables/{table}")));
        resource(
            "azurerm_virtual_hub_route_table_route",
            "r1",
            attributes,
            line,
        )
    };
    let mut resources = with_table_route(
        service,
        vec![separate("RT", 30), separate("defaultRouteTable", 31)],
    );
    if let Value::Array(routes) = &mut resources[6].attributes["route"] {
        routes.push(route_to(&own));
    }
    assert_has(
        &text(&resources),
        "      - name: RT\n        # Its route `to-storage` is left out: its destinations are of \
         type Service, and vnetd takes CIDR destinations, the prefixes a route stands for\n        \
         labels: [x]\n        routes:\n          # main.tf:30\n          - name: r1\n",
    );
    assert_has(
        &text(&resources),
        "      # main.tf:31\n      - name: defaultRouteTable\n        routes:\n          \
         # main.tf:31\n          - name: r1\n",
    );
}

/// Routing intent whose next hop is an appliance in the hub is left out
/// with why; one to another hub's firewall is refused.
#[test]
fn routing_intent_takes_the_hub_s_firewall() {
    let intent = |next_hop: String| {
        resource(
            "azurerm_virtual_hub_routing_intent",
            "ri",
            json!({"name": "ri", "virtual_hub_id": net_id("virtualHubs/hub1"),
                   "routing_policy": [{"name": "PrivateTrafficPolicy",
                       "destinations": ["PrivateTraffic"], "next_hop": next_hop}]}),
            30,
        )
    };
    let mut resources = connected(json!([]));
    resources.push(intent(net_id("networkVirtualAppliances/sdwan")));
    let why = format!(
        "#   azurerm_virtual_hub_routing_intent.ri (main.tf:30): the next hop of its policy \
         `PrivateTrafficPolicy` is `{}`, not an Azure Firewall: vnetd runs a secured hub's \
         firewall, not a virtual appliance in the hub\n",
        net_id("networkVirtualAppliances/sdwan")
    );
    assert_has(&text(&resources), &why);
    resources.pop();
    resources.push(resource(
        "azurerm_firewall",
        "fw2",
        json!({"name": "fw2", "sku_name": "AZFW_Hub",
               "virtual_hub": [{"virtual_hub_id": net_id("virtualHubs/hub2")}]}),
        29,
    ));
    resources.push(intent(net_id("azureFirewalls/fw2")));
    refusal(&resources).assert_is(
        "main.tf:30",
        "routing policy `PrivateTrafficPolicy`: its next hop, Azure Firewall `fw2`, is not in \
         virtual hub `hub1`: Azure takes the hub's own firewall",
    );
}

/// A VPN site's link whose address is a local network gateway's is that
/// gateway's site; a VPN link naming another site's link is refused.
#[test]
fn vpn_sites_and_their_links() {
    let mut resources = wan_and_hub(json!({}), json!({}));
    resources.push(resource(
        "azurerm_local_network_gateway",
        "branch-lng",
        json!({"name": "branch-lng", "gateway_address": "203.0.113.10",
               "address_space": ["192.168.10.0/24"]}),
        3,
    ));
    resources.push(resource(
        "azurerm_vpn_site",
        "branch1",
        json!({"name": "branch1", "virtual_wan_id": net_id("virtualWans/wan1"),
               "address_cidrs": ["192.168.10.0/24"],
               "link": [{"name": "link1", "ip_address": "203.0.113.10", "speed_in_mbps": 0,
                         "fqdn": "", "bgp": []}]}),
        4,
    ));
    resources.push(resource(
        "azurerm_vpn_gateway",
        "gw",
        json!({"name": "gw", "virtual_hub_id": net_id("virtualHubs/hub1")}),
        6,
    ));
    assert_has(
        &text(&resources),
        "  - name: branch1\n    virtual_wan: wan1\n    site: branch-lng\n    \
         address_cidrs: [192.168.10.0/24]\n    links:\n      - name: link1\n        \
         ip_address: 203.0.113.10\n",
    );
    assert_has(
        &text(&resources),
        "    vpn_gateway:\n      # main.tf:6\n      name: gw\n",
    );
    resources.push(resource(
        "azurerm_vpn_gateway_connection",
        "c",
        json!({"name": "c", "vpn_gateway_id": net_id("vpnGateways/gw"),
               "remote_vpn_site_id": net_id("vpnSites/branch1"),
               "vpn_link": [{"name": "l", "shared_key": "secret",
                   "vpn_site_link_id": net_id("vpnSites/branch2/vpnSiteLinks/link1")}]}),
        7,
    ));
    refusal(&resources).assert_is(
        "main.tf:7",
        &format!(
            "vpn_link `l`: vpn_site_link_id `{}` is not a link of VPN site `branch1` \
             (.../vpnSites/branch1/vpnSiteLinks/LINK)",
            net_id("vpnSites/branch2/vpnSiteLinks/link1")
        ),
    );
}

/// A secured hub's firewall is written in its hub, its policy with it;
/// classic rules naming it are listed as ignored (Azure manages it by a
/// policy only). One of `AZFW_Hub` without a hub, or in a hub the input
/// lacks, is refused.
#[test]
fn a_hub_firewall_is_written_in_its_hub_without_classic_rules() {
    let mut resources = wan_and_hub(json!({}), json!({}));
    resources.push(resource(
        "azurerm_firewall_policy",
        "p",
        json!({"name": "p", "private_ip_ranges": ["IANAPrivateRanges"]}),
        3,
    ));
    let firewall = |hub: &str| {
        json!({"name": "hub-fw", "sku_name": "AZFW_Hub", "sku_tier": "Premium",
               "firewall_policy_id": net_id("firewallPolicies/p"),
               "virtual_hub": [{"virtual_hub_id": net_id(&format!("virtualHubs/{hub}")),
                                "public_ip_count": 1}]})
    };
    resources.push(resource("azurerm_firewall", "hub-fw", firewall("hub1"), 4));
    resources.push(resource(
        "azurerm_firewall_application_rule_collection",
        "web",
        json!({"name": "web", "azure_firewall_name": "hub-fw", "priority": 100,
               "action": "Allow"}),
        5,
    ));
    let written = text(&resources);
    assert_has(
        &written,
        "#   azurerm_firewall_application_rule_collection.web (main.tf:5): belongs to Azure \
         Firewall `hub-fw`, a secured virtual hub's firewall, which Azure manages by a firewall \
         policy only\n",
    );
    assert_has(
        &written,
        "firewall_policies:\n  # main.tf:3\n  - name: p\n    private_ranges: \
         [IANAPrivateRanges]\n\nazure_firewalls:\n  # main.tf:4\n  - name: hub-fw\n    \
         virtual_hub: {virtual_hub: hub1}\n    sku_tier: Premium\n    sku_name: AZFW_Hub\n    \
         firewall_policy: p\n",
    );
    resources[3].attributes = firewall("gone");
    refusal(&resources).assert_is(
        "main.tf:4",
        &format!(
            "virtual_hub.virtual_hub_id `{}` names a resource that is not in the input",
            net_id("virtualHubs/gone")
        ),
    );
    resources[3]
        .attributes
        .as_object_mut()
        .unwrap()
        .remove("virtual_hub");
    refusal(&resources).assert_is(
        "main.tf:4",
        "Azure Firewall `hub-fw` is a hub's (AZFW_Hub) without a virtual_hub block",
    );
}

/// The built-in tables as `az` lists them: their own labels are the
/// hub's, routing intent's routes are its own (named in a comment), and a
/// table that adds nothing is not written.
#[test]
fn built_in_tables_are_written_for_what_they_add() {
    let own = net_id("virtualHubs/hub1/hubVirtualNetworkConnections/conn1");
    let table = |name: &str, labels: Value, routes: Value, line| {
        resource(
            "azurerm_virtual_hub_route_table",
            name,
            json!({"name": name, "virtual_hub_id": net_id("virtualHubs/hub1"),
                   "labels": labels, "route": routes}),
            line,
        )
    };
    let mut intent_route = route_to(&net_id("azureFirewalls/fw1"));
    intent_route["name"] = json!("_policy_PrivateTraffic");
    let mut resources = connected(json!([]));
    resources.push(table(
        "defaultRouteTable",
        json!(["default", "shared"]),
        json!([intent_route, route_to(&own)]),
        30,
    ));
    resources.push(table("noneRouteTable", json!(["none"]), json!([]), 31));
    let text = text(&resources);
    assert_has(
        &text,
        "  - name: hub1\n    # The routes _policy_PrivateTraffic of its defaultRouteTable are \
         routing intent's own, which vnetd adds from the hub's routing_intent: not written\n    \
         virtual_wan: wan1\n    location: westeurope\n    address_prefix: 10.100.0.0/23\n    \
         route_tables:\n      # main.tf:30\n      - name: defaultRouteTable\n        \
         labels: [shared]\n        routes:\n          # main.tf:30\n          - name: r1\n",
    );
    assert!(!text.contains("noneRouteTable"), "{text}");
}

/// A resource group known only after apply (a `random_pet`'s) takes a
/// placeholder in every ID, a hub route's next hop among them: the route
/// names the firewall all the same.
#[test]
fn a_next_hop_whose_id_is_known_only_after_apply_names_its_firewall() {
    let dir = tempfile::tempdir().unwrap();
    let config = r#"
resource "random_pet" "rg" {}

locals {
  rg = "rg-${random_pet.rg.id}"
}

resource "azurerm_virtual_wan" "wan" {
  name                = "wan1"
  resource_group_name = local.rg
}

resource "azurerm_virtual_hub" "hub" {
  name                = "hub1"
  resource_group_name = local.rg
  location            = "eastus"
  virtual_wan_id      = azurerm_virtual_wan.wan.id
  address_prefix      = "10.20.0.0/23"
}

resource "azurerm_firewall" "fw" {
  name                = "fw1"
  resource_group_name = local.rg
  sku_name            = "AZFW_Hub"
  sku_tier            = "Standard"
  virtual_hub {
    virtual_hub_id = azurerm_virtual_hub.hub.id
  }
}

resource "azurerm_virtual_hub_route_table" "rt" {
  name           = "rt1"
  virtual_hub_id = azurerm_virtual_hub.hub.id
  route {
    name              = "to-fw"
    destinations_type = "CIDR"
    destinations      = ["0.0.0.0/0"]
    next_hop_type     = "ResourceId"
    next_hop          = azurerm_firewall.fw.id
  }
}
"#;
    std::fs::write(dir.path().join("main.tf"), config).unwrap();
    let (resources, placeholders) = crate::terraform::read_dir(dir.path(), &[]).unwrap();
    assert_eq!(placeholders.keys().collect::<Vec<_>>(), ["rg"]);
    assert_has(
        &text(&resources),
        "      - name: rt1\n        routes:\n          # main.tf:34\n          - name: to-fw\n            \
         destinations_type: CIDR\n            destinations: [0.0.0.0/0]\n            \
         next_hop: fw1\n",
    );
}
