//! The writer's Virtual Network Manager: what is written, what is left
//! out with its reason, what is refused and where, and what vnetd reads
//! of the written file.

use super::super::tests::resource;
use super::super::topology_yaml;
use crate::assert_has;
use crate::Resource;
use serde_json::{json, Value};

const NET: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Network";

fn nm() -> String {
    format!("{NET}/networkManagers/nm")
}

fn vnet(name: &str, space: &str, line: usize) -> Resource {
    resource(
        "azurerm_virtual_network",
        name,
        json!({"name": name, "address_space": [space], "location": "westeurope",
               "subnet": [{"name": "app", "address_prefixes": [space.replace(".0.0/16", ".1.0/24")]}]}),
        line,
    )
}

/// Two VNets (`va`, `vb`), a manager and a group `g` with `members`.
fn base(members: &[&str]) -> Vec<Resource> {
    let mut resources = vec![
        vnet("va", "10.1.0.0/16", 1),
        vnet("vb", "10.2.0.0/16", 2),
        resource("azurerm_network_manager", "nm", json!({"name": "nm"}), 3),
        resource(
            "azurerm_network_manager_network_group",
            "g",
            json!({"name": "g", "network_manager_id": nm()}),
            4,
        ),
    ];
    for (i, member) in members.iter().enumerate() {
        resources.push(static_member(member, 5 + i));
    }
    resources
}

/// The VNet `member` as a static member of group `g`, at `line`.
fn static_member(member: &str, line: usize) -> Resource {
    resource(
        "azurerm_network_manager_static_member",
        member,
        json!({"name": member, "network_group_id": format!("{}/networkGroups/g", nm()),
               "target_virtual_network_id": format!("{NET}/virtualNetworks/{member}")}),
        line,
    )
}

/// A deployment of the connectivity configuration `configuration` in
/// West Europe, at `line`.
fn deployment(configuration: &str, line: usize) -> Resource {
    resource(
        "azurerm_network_manager_deployment",
        "d",
        json!({"network_manager_id": nm(), "location": "West Europe",
               "scope_access": "Connectivity",
               "configuration_ids": [format!("{}/connectivityConfigurations/{configuration}", nm())]}),
        line,
    )
}

/// A security admin configuration `sec`, its collection `c` on group
/// `g`, and one rule with `extra` attributes.
fn admin_rule(extra: Value) -> Vec<Resource> {
    let sec = format!("{}/securityAdminConfigurations/sec", nm());
    let mut rule = json!({"name": "r", "admin_rule_collection_id": format!("{sec}/ruleCollections/c"),
                          "action": "Deny", "direction": "Inbound", "priority": 100,
                          "protocol": "Tcp"});
    for (key, value) in extra.as_object().unwrap() {
        rule[key] = value.clone();
    }
    vec![
        resource(
            "azurerm_network_manager_security_admin_configuration",
            "sec",
            json!({"name": "sec", "network_manager_id": nm()}),
            10,
        ),
        resource(
            "azurerm_network_manager_admin_rule_collection",
            "c",
            json!({"name": "c", "security_admin_configuration_id": sec,
                   "network_group_ids": [format!("{}/networkGroups/g", nm())]}),
            11,
        ),
        resource("azurerm_network_manager_admin_rule", "r", rule, 12),
    ]
}

/// A group's sources as a group of the same manager: written as its
/// static members' address spaces, which is what Azure matches.
#[test]
fn a_network_group_as_an_address_is_its_members_address_spaces() {
    let mut resources = base(&["va", "vb"]);
    let group = format!("{}/networkGroups/g", nm());
    resources.extend(admin_rule(json!({"source": [
        {"address_prefix_type": "NetworkGroup", "address_prefix": group}]})));
    let text = topology_yaml(&resources, "t").unwrap();
    assert!(
        text.ends_with(
            "              # main.tf:12
              - name: r
                priority: 100
                direction: Inbound
                action: Deny
                protocol: Tcp
                sources: [10.1.0.0/16, 10.2.0.0/16]
"
        ),
        "{text}"
    );
}

/// A group without a static member says so; a rule whose address is that
/// group would match nothing vnetd knows of, and is left out as a comment.
#[test]
fn a_group_without_a_static_member_is_said_and_its_rules_left_out() {
    let mut resources = base(&[]);
    let group = format!("{}/networkGroups/g", nm());
    resources.extend(admin_rule(json!({"destination": [
        {"address_prefix_type": "NetworkGroup", "address_prefix": group}]})));
    let text = topology_yaml(&resources, "t").unwrap();
    assert_has(
        &text,
        "      - name: g\n        # No static member: the members Azure Policy adds, if \
             any, are not imported\n",
    );
    assert_has(
        &text,
        "            rules:\n              # main.tf:12: admin rule `r` left out: its network \
             group `g` has no static member, so vnetd cannot tell its addresses\n",
    );
    assert!(!text.contains("- name: r\n"), "{text}");
}

/// Every port and the any address are the file's defaults, whichever way
/// the input spells them.
#[test]
fn every_port_and_any_address_are_not_written() {
    let mut resources = base(&["va"]);
    resources.extend(admin_rule(json!({
        "source_port_ranges": ["0-65535"], "destination_port_ranges": ["*"],
        "destination": [{"address_prefix_type": "IPPrefix", "address_prefix": "*"}],
        "source": [{"address_prefix_type": "IPPrefix", "address_prefix": "192.0.2.0/24"}]})));
    let text = topology_yaml(&resources, "t").unwrap();
    assert!(
        text.ends_with("                protocol: Tcp\n                sources: [192.0.2.0/24]\n"),
        "{text}"
    );
}

/// A group of subnets serves routing configurations only: it is listed
/// as ignored with its members; a configuration that names it is refused.
#[test]
fn a_group_of_subnets_is_left_out_with_its_members() {
    let mut resources = base(&[]);
    resources.push(resource(
        "azurerm_network_manager_network_group",
        "subnets",
        json!({"name": "subnets", "network_manager_id": nm(), "member_type": "Subnet"}),
        20,
    ));
    resources.push(resource(
        "azurerm_network_manager_static_member",
        "m",
        json!({"name": "m", "network_group_id": format!("{}/networkGroups/subnets", nm()),
               "target_virtual_network_id": format!("{NET}/virtualNetworks/va/subnets/app")}),
        21,
    ));
    let text = topology_yaml(&resources, "t").unwrap();
    assert_has(&text, "#   azurerm_network_manager_network_group.subnets (main.tf:20): a network group of \
             subnets (member_type Subnet), which only routing configurations use: the file's \
             network groups hold VNets\n#   azurerm_network_manager_static_member.m (main.tf:21): a \
             member of network group `subnets`, a group of subnets, which is left out\n");
    let mut with_rules = resources.clone();
    let mut rules = admin_rule(json!({}));
    rules[1].attributes["network_group_ids"] = json!([format!("{}/networkGroups/subnets", nm())]);
    with_rules.extend(rules);
    let err = topology_yaml(&with_rules, "t").unwrap_err();
    err.assert_is(
        "main.tf:11",
        &format!(
            "network_group_ids: `{}/networkGroups/subnets` is a group of subnets, which \
                 security admin and connectivity configurations cannot use",
            nm()
        ),
    );
}

/// What names a part of the input must name one: a group of another
/// manager, a member VNet, a rule's collection, a deployment's
/// configuration.
#[test]
fn dangling_references_are_refused_at_their_resource() {
    let mut rules = admin_rule(json!({}));
    rules[1].attributes["network_group_ids"] =
        json!([format!("{NET}/networkManagers/other/networkGroups/g")]);
    for (more, location, message) in [
        (
            vec![static_member("gone", 30)],
            "main.tf:30",
            format!(
                "target_virtual_network_id `{NET}/virtualNetworks/gone` names a resource that \
                 is not in the input"
            ),
        ),
        (
            vec![deployment("gone", 31)],
            "main.tf:31",
            format!(
                "configuration_ids: `{}/connectivityConfigurations/gone` names a resource \
                 that is not in the input",
                nm()
            ),
        ),
        (
            rules,
            "main.tf:11",
            format!(
                "network_group_ids: `{NET}/networkManagers/other/networkGroups/g` is a \
                 network group of network manager `other`, not of `nm`"
            ),
        ),
    ] {
        let mut resources = base(&["va"]);
        resources.extend(more);
        let err = topology_yaml(&resources, "t").unwrap_err();
        err.assert_is(location, &message);
    }
}

/// A mesh, its flags and a deployment by the region's display name are
/// written as the file spells them, and vnetd makes one global connected
/// group of the two VNets; the input's wish for network intent policies
/// is said, not written.
#[test]
fn a_global_mesh_is_written_and_read_back() {
    let mut resources = base(&["va", "vb"]);
    resources.push(resource(
        "azurerm_network_manager_connectivity_configuration",
        "mesh",
        json!({"name": "mesh", "network_manager_id": nm(), "connectivity_topology": "Mesh",
               "global_mesh_enabled": "True", "delete_existing_peering_enabled": true,
               "applies_to_group": [{"network_group_id": format!("{}/networkGroups/g", nm()),
                                     "group_connectivity": "None", "use_hub_gateway": "False"}]}),
        40,
    ));
    resources.push(resource(
        "azurerm_network_manager_security_admin_configuration",
        "sec",
        json!({"name": "sec", "network_manager_id": nm(),
               "apply_on_network_intent_policy_based_services": ["All"]}),
        41,
    ));
    resources.push(deployment("mesh", 42));
    let text = topology_yaml(&resources, "t").unwrap();
    assert_has(
        &text,
        "      - name: mesh\n        connectivity_topology: Mesh\n        \
             global_mesh_enabled: true\n        delete_existing_peering_enabled: true\n        \
             applies_to_group:\n          - {network_group: g, group_connectivity: None}\n",
    );
    assert_has(
        &text,
        "      - name: sec\n        # apply_on_network_intent_policy_based_services is All: \
             the file has no such setting, and vnetd leaves VNets with network intent policies \
             out, as Azure does by default\n",
    );
    assert!(
        text.ends_with(
            "    deployments:\n      # main.tf:42\n      - {location: westeurope, scope_access: \
             Connectivity, configurations: [mesh]}\n"
        ),
        "{text}"
    );
    let t = vnetd_model::topology::parse_str("t", &text)
        .unwrap()
        .topology;
    let groups = &t.network_management.connected_groups;
    assert_eq!(groups.len(), 1);
    assert!(groups[0].global);
    let members: Vec<&str> = (groups[0].members.iter())
        .map(|v| t.vnets[*v].name.as_str())
        .collect();
    assert_eq!(members, ["va", "vb"]);
}

/// A VNet's tags are written as a mapping, quoted where YAML would
/// misread them; a subnet keeps its first delegation and says what else
/// it had.
#[test]
fn tags_and_delegations_are_written() {
    let resources = vec![
        resource(
            "azurerm_virtual_network",
            "vnet1",
            json!({"name": "vnet1", "address_space": ["10.9.0.0/16"],
                   "tags": {"role": "spoke", "cost center": 1234, "on": true}}),
            1,
        ),
        resource(
            "azurerm_subnet",
            "mi",
            json!({"name": "mi", "virtual_network_name": "vnet1", "address_prefixes": ["10.9.1.0/24"],
                   "delegation": [
                       {"name": "sqlmi", "service_delegation": [{"name": "Microsoft.Sql/managedInstances"}]},
                       {"name": "other", "service_delegation": [{"name": "Microsoft.Web/serverFarms"}]}]}),
            2,
        ),
    ];
    let text = topology_yaml(&resources, "t").unwrap();
    assert_has(
        &text,
        "    tags: {\"cost center\": \"1234\", \"on\": \"true\", role: spoke}\n",
    );
    assert_has(
        &text,
        "        # Also delegated to Microsoft.Web/serverFarms: the file keeps one delegation, \
             the first\n        delegation: Microsoft.Sql/managedInstances\n",
    );
    let t = vnetd_model::topology::parse_str("t", &text)
        .unwrap()
        .topology;
    let v = &t.vnets[vnetd_model::topology::VnetIdx::new(0)];
    let cost = v.tags.iter().find(|(k, _)| k.as_str() == "cost center");
    assert_eq!(cost.map(|(_, v)| v.as_str()), Some("1234"));
    let subnet = v.subnets.iter().next().unwrap();
    assert_eq!(
        subnet.delegation.as_deref(),
        Some("Microsoft.Sql/managedInstances")
    );
}
