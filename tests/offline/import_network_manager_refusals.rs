//! What an import of Azure Virtual Network Manager cannot hold, and what
//! it refuses, from the fixtures of `import_network_manager` changed one
//! thing at a time: a group of subnets (in a routing rule collection),
//! a static member from outside the configuration and a deployment Azure
//! has not committed are named and left out; the peerings Azure made stay when nothing of the dump
//! makes them again; a reference to what the input lacks, and what vnetd
//! refuses of what is written, are refused at the file and line of their
//! source (a deployment status, which has no ID, at its entry).

use super::import_network_manager::{
    az_copy_with, checked, copy_of, line_with, topology, NETWORK_MANAGERS, TERRAFORM_DIR,
};
use super::import_state::{imported, refused, vnetd};
use serde_json::{json, Value};

/// What the file cannot hold of a routing configuration: a group of
/// subnets is left out of a rule collection (and one on groups of subnets
/// only is a comment); `NoNextHop` is the file's `None`; a destination
/// given as a service tag is written, and vnetd warns that it leaves it
/// out; azurerm's default for BGP route propagation (off) is written.
#[test]
fn what_a_routing_configuration_cannot_hold_is_said() {
    let dir = copy_of(TERRAFORM_DIR);
    std::fs::write(
        dir.path().join("routing.tf"),
        r#"resource "azurerm_network_manager_network_group" "apps" {
  name               = "apps"
  network_manager_id = azurerm_network_manager.avnm.id
  member_type        = "Subnet"
}

resource "azurerm_network_manager_routing_configuration" "more" {
  name               = "more"
  network_manager_id = azurerm_network_manager.avnm.id
}

resource "azurerm_network_manager_routing_rule_collection" "mixed" {
  name                     = "mixed"
  routing_configuration_id = azurerm_network_manager_routing_configuration.more.id
  network_group_ids = [
    azurerm_network_manager_network_group.spokes.id,
    azurerm_network_manager_network_group.apps.id,
  ]
}

resource "azurerm_network_manager_routing_rule_collection" "apps_only" {
  name                     = "apps-only"
  routing_configuration_id = azurerm_network_manager_routing_configuration.more.id
  network_group_ids        = [azurerm_network_manager_network_group.apps.id]
}

resource "azurerm_network_manager_routing_rule" "black_hole" {
  name               = "black-hole"
  rule_collection_id = azurerm_network_manager_routing_rule_collection.mixed.id

  destination {
    type    = "AddressPrefix"
    address = "172.16.0.0/12"
  }

  next_hop {
    type = "NoNextHop"
  }
}

resource "azurerm_network_manager_routing_rule" "storage" {
  name               = "storage"
  rule_collection_id = azurerm_network_manager_routing_rule_collection.mixed.id

  destination {
    type    = "ServiceTag"
    address = "Storage"
  }

  next_hop {
    type = "Internet"
  }
}
"#,
    )
    .unwrap();
    let text = imported(&["import", "terraform", dir.path().to_str().unwrap()]);
    assert!(
        text.contains(
            "#   azurerm_network_manager_network_group.apps (routing.tf:1): a network group of \
             subnets (member_type Subnet), which only routing configurations use: the file's \
             network groups hold VNets\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "    routing_configurations:
      # routing.tf:7
      - name: more
        rule_collections:
          # routing.tf:21: rule collection `apps-only` left out: it applies to groups of subnets (apps) only, and the file's network groups hold VNets
          # routing.tf:12
          - name: mixed
            # network group `apps`, a group of subnets, is left out: the file's network groups hold VNets
            network_groups: [spokes]
            bgp_route_propagation_enabled: false
            rules:
              # routing.tf:27
              - {name: black-hole, destination: 172.16.0.0/12, next_hop_type: None}
              # routing.tf:41
              - {name: storage, destination: Storage, next_hop_type: Internet}
      # network-manager.tf:103
      - name: through-the-hub
"
        ),
        "{text}"
    );
    let lab = dir.path().join("lab.yaml");
    std::fs::write(&lab, &text).unwrap();
    let out = vnetd(&["check", lab.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "`Storage` is a service tag: routing rules to service tags are not emulated, the \
             lab runs without this one"
        ),
        "{stderr}"
    );
}

/// A static member naming a VNet that comes from outside the
/// configuration (a data source) is left out with the reason; one naming a
/// VNet of the configuration that is not a VNet is refused at its block.
#[test]
fn a_static_member_outside_the_configuration_is_left_out() {
    let dir = copy_of(TERRAFORM_DIR);
    std::fs::write(
        dir.path().join("shared.tf"),
        r#"data "azurerm_virtual_network" "shared" {
  name                = "shared-services"
  resource_group_name = "rg-shared"
}

resource "azurerm_network_manager_static_member" "shared" {
  name                      = "member-shared"
  network_group_id          = azurerm_network_manager_network_group.spokes.id
  target_virtual_network_id = data.azurerm_virtual_network.shared.id
}
"#,
    )
    .unwrap();
    let text = imported(&["import", "terraform", dir.path().to_str().unwrap()]);
    assert!(
        text.contains(
            "#   azurerm_network_manager_static_member.member-shared (target_virtual_network_id \
             comes from data.azurerm_virtual_network.shared.id, outside the configuration) \
             (shared.tf:6)\n"
        ),
        "{text}"
    );
    assert!(text.ends_with(NETWORK_MANAGERS), "{text}");

    std::fs::write(
        dir.path().join("shared.tf"),
        r#"resource "azurerm_network_manager_static_member" "shared" {
  name                      = "member-shared"
  network_group_id          = azurerm_network_manager_network_group.spokes.id
  target_virtual_network_id = azurerm_subnet.shared.id
}
"#,
    )
    .unwrap();
    let stderr = refused(&["import", "terraform", dir.path().to_str().unwrap()]);
    assert_eq!(
        stderr,
        format!(
            "{}/shared.tf:1: target_virtual_network_id `/subscriptions/00000000-0000-0000-0000-\
             000000000000/resourceGroups/rg-avnm/providers/Microsoft.Network/virtualNetworks/hub/\
             subnets/shared` is not the ID of a virtualNetworks resource (.../virtualNetworks/\
             NAME)\n",
            dir.path().display()
        )
    );
}

/// What vnetd refuses of a configuration (an admin rule's priority past
/// 4096, a second deployment of one kind to a region) is refused at the
/// block it comes from.
#[test]
fn what_vnetd_refuses_is_placed_at_the_terraform_block() {
    let dir = copy_of(TERRAFORM_DIR);
    let path = dir.path().join("network-manager.tf");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace(
            "priority                 = 110",
            "priority                 = 5000",
        ),
    )
    .unwrap();
    let stderr = refused(&["import", "terraform", dir.path().to_str().unwrap()]);
    assert!(
        stderr.starts_with(&format!(
            "{}/network-manager.tf:69: vnetd refuses what this imports to: ",
            dir.path().display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("1 to 4096"), "{stderr}");

    let dir = copy_of(TERRAFORM_DIR);
    std::fs::write(
        dir.path().join("again.tf"),
        r#"resource "azurerm_network_manager_deployment" "again" {
  network_manager_id = azurerm_network_manager.avnm.id
  location           = "West Europe"
  scope_access       = "Connectivity"
  configuration_ids  = [azurerm_network_manager_connectivity_configuration.hub_and_spoke.id]
}
"#,
    )
    .unwrap();
    let stderr = refused(&["import", "terraform", dir.path().to_str().unwrap()]);
    // The second of the two is the one refused.
    assert!(
        stderr.starts_with(&format!(
            "{}/again.tf:1: vnetd refuses what this imports to: ",
            dir.path().display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("a second Connectivity deployment to westeurope"),
        "{stderr}"
    );
}

/// An az reference to what the dump lacks is refused at its path: a
/// static member's VNet, a rule collection's group, a deployment's
/// configuration.
#[test]
fn an_az_reference_to_what_the_dump_lacks_is_refused_at_its_path() {
    let net = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-avnm/\
               providers/Microsoft.Network";
    let dir = az_copy_with("network-manager-static-members.json", |members| {
        members[2]["resourceId"] = json!(format!("{net}/virtualNetworks/spoke9"));
    });
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    let file = "network-manager-static-members.json";
    assert_eq!(
        stderr,
        format!(
            "{}/{file}:{}: [2].resourceId: `{net}/virtualNetworks/spoke9` names no virtual \
             network of vnets.json\n",
            dir.path().display(),
            line_with(dir.path(), file, "virtualNetworks/spoke9", 0)
        )
    );

    let dir = az_copy_with("network-manager-groups.json", |groups| {
        *groups = json!([]);
    });
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    let file = "network-manager-static-members.json";
    assert!(
        stderr.starts_with(&format!(
            "{}/{file}:{}: [0].id: `{net}/networkManagers/contoso-avnm/networkGroups/spokes` \
             names no network group of network-manager-groups.json\n",
            dir.path().display(),
            line_with(dir.path(), file, "staticMembers/member-spoke1", 0)
        )),
        "{stderr}"
    );

    let dir = az_copy_with("network-manager-security-admin-configs.json", |configs| {
        *configs = json!([]);
    });
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    assert!(
        stderr.contains("network-manager-admin-rule-collections.json:"),
        "{stderr}"
    );

    let dir = az_copy_with("network-manager-connectivity-configs.json", |configs| {
        *configs = json!([]);
    });
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    let file = "network-manager-deployments.json";
    assert_eq!(
        stderr,
        format!(
            "{}/{file}:{}: [0].configurationIds[0]: `{net}/networkManagers/contoso-avnm/\
             connectivityConfigurations/hub-and-spoke` names no configuration of \
             network-manager-connectivity-configs.json, network-manager-security-admin-\
             configs.json or network-manager-routing-configs.json\n",
            dir.path().display(),
            line_with(
                dir.path(),
                file,
                "connectivityConfigurations/hub-and-spoke",
                0
            )
        )
    );
}

/// What vnetd refuses of a dump is placed at the object: an admin rule at
/// the line of its ID, a deployment status, which has none, at its entry.
#[test]
fn what_vnetd_refuses_of_an_az_dump_is_placed_at_its_object() {
    let dir = az_copy_with("network-manager-admin-rules.json", |rules| {
        rules[1]["priority"] = json!(0);
    });
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    let file = "network-manager-admin-rules.json";
    let line = line_with(dir.path(), file, "rules/always-allow-monitoring", 0);
    assert!(
        stderr.starts_with(&format!("{}/{file}:{line}: ", dir.path().display())),
        "{stderr}"
    );
    assert!(stderr.contains("1 to 4096"), "{stderr}");

    let dir = az_copy_with("network-manager-deployments.json", |statuses| {
        // North Europe's SecurityAdmin commit names the connectivity
        // configuration.
        statuses[3]["configurationIds"] = statuses[2]["configurationIds"].clone();
    });
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    let file = "network-manager-deployments.json";
    let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
    let document: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (&document[3]["region"], &document[3]["deploymentType"]),
        (&json!("northeurope"), &json!("SecurityAdmin"))
    );
    // The fourth entry's opening brace.
    let line = (text.lines().enumerate())
        .filter(|(_, l)| l.trim() == "{")
        .nth(3)
        .unwrap()
        .0
        + 1;
    assert_eq!(
        stderr,
        format!(
            "{}/{file}:{line}: /subscriptions/11111111-2222-3333-4444-555555555555/\
             resourceGroups/rg-avnm/providers/Microsoft.Network/networkManagers/contoso-avnm/\
             commit|northeurope|SecurityAdmin: vnetd refuses what this imports to: \
             network_managers[contoso-avnm].deployments[1].configurations[0]: `hub-and-spoke` \
             is a Connectivity configuration, and this deployment commits SecurityAdmin ones\n",
            dir.path().display()
        )
    );
}

/// A deployment Azure has not committed (its status `Failed`) is listed
/// as ignored, and what it would commit is not deployed in the file.
#[test]
fn an_az_deployment_azure_has_not_committed_is_left_out() {
    let dir = az_copy_with("network-manager-deployments.json", |statuses| {
        statuses[2]["deploymentStatus"] = json!("Failed");
    });
    let text = imported(&["import", "az", dir.path().to_str().unwrap()]);
    assert!(
        text.contains(
            "#   azurerm_network_manager_deployment.northeurope Connectivity (its deployment \
             status is Failed: Azure has not committed it) (/subscriptions/11111111-2222-3333-\
             4444-555555555555/resourceGroups/rg-avnm/providers/Microsoft.Network/\
             networkManagers/contoso-avnm/commit|northeurope|Connectivity)\n"
        ),
        "{text}"
    );
    let stdout = checked(&text);
    // spoke3, in North Europe, is out of the connected group.
    assert!(
        stdout.contains("connected group of hub-and-spoke (global): hub, spoke1, spoke2\n"),
        "{stdout}"
    );
}

/// Without a connectivity deployment in the dump, the file's network
/// manager makes no peering: those Azure made (`ANM_…`) are then written
/// as the dump has them, and the lab keeps them.
#[test]
fn az_peerings_of_the_manager_stay_when_nothing_deploys_them() {
    let dir = az_copy_with("network-manager-deployments.json", |statuses| {
        *statuses = json!([]);
    });
    let text = imported(&["import", "az", dir.path().to_str().unwrap()]);
    assert!(!text.contains("made by Virtual Network Manager"), "{text}");
    let t = topology("import", &text);
    let mut peerings: Vec<String> = (t.peerings.iter())
        .map(|p| format!("{} {}", t.vnets[p.vnet].name, p.name))
        .collect();
    peerings.sort();
    assert_eq!(
        peerings,
        [
            "hub ANM_4f1e9c2a7d3b45e8a6c0b9d2e1f37a58_spoke1",
            "hub ANM_4f1e9c2a7d3b45e8a6c0b9d2e1f37a58_spoke3",
            "hub hub-to-spoke2",
            "spoke1 ANM_4f1e9c2a7d3b45e8a6c0b9d2e1f37a58_hub",
            "spoke2 spoke2-to-hub",
            "spoke3 ANM_4f1e9c2a7d3b45e8a6c0b9d2e1f37a58_hub",
        ]
    );
    assert!(t.network_management.connected_groups.is_empty());
}

/// An az routing rule collection that disables BGP route propagation
/// (`"True"`, as Azure writes it) and a rule with no next hop
/// (`NoNextHop`) are the file's `bgp_route_propagation_enabled: false`
/// and `None`; a rule of a collection the dump lacks is refused at its
/// ID.
#[test]
fn az_routing_flags_and_next_hops_are_the_files() {
    let dir = az_copy_with("network-manager-routing-rule-collections.json", |c| {
        c[0]["disableBgpRoutePropagation"] = json!("True");
    });
    let file = dir.path().join("network-manager-routing-rules.json");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut rules: Value = serde_json::from_str(&text).unwrap();
    rules[0]["nextHop"] = json!({"nextHopType": "NoNextHop", "nextHopAddress": ""});
    std::fs::write(&file, serde_json::to_string_pretty(&rules).unwrap()).unwrap();
    let text = imported(&["import", "az", dir.path().to_str().unwrap()]);
    assert!(
        text.contains(
            "            network_groups: [spokes]
            bgp_route_propagation_enabled: false
            rules:
"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "              - {name: private-to-the-nva, destination: 192.168.0.0/16, \
             next_hop_type: None}\n"
        ),
        "{text}"
    );
    checked(&text);

    let dir = az_copy_with("network-manager-routing-rule-collections.json", |c| {
        *c = json!([]);
    });
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    let file = "network-manager-routing-rules.json";
    assert!(
        stderr.starts_with(&format!(
            "{}/{file}:{}: [0].id: ",
            dir.path().display(),
            line_with(dir.path(), file, "rules/private-to-the-nva", 0)
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "names no routing rule collection of network-manager-routing-rule-collections.json"
        ),
        "{stderr}"
    );
}
