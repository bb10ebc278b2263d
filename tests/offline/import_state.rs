//! `vnetd import tfstate` and `vnetd import az` on one network, the hub
//! and spoke with an NVA of tests/import/terraform/hub-spoke-nva/: the
//! Terraform state of that configuration once applied, the same state as
//! `terraform show -json` prints it, and the `az ... list -o json` output of
//! the same deployment. All three give the topology the configuration
//! itself imports to, each object after a comment holding its resource ID;
//! broken inputs are refused with the place and the reason, exit 1, through
//! the real binary.

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};
use vnetd::import::{az, tfstate, Resource};

const STATE: &str = "tests/import/tfstate/hub-spoke-nva.tfstate";
const SHOW: &str = "tests/import/tfstate/hub-spoke-nva.show.json";
const AZ_DIR: &str = "tests/import/az/hub-spoke-nva";
/// The topology `vnetd import terraform` gives for the configuration:
/// the three imports must give it too, comments aside.
const EXPECTED: &str = "tests/import/terraform/hub-spoke-nva/expected.yaml";

const NET: &str =
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-lab/providers/Microsoft.Network";

pub(crate) fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

pub(crate) fn vnetd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

/// The topology an import prints; the command must succeed.
pub(crate) fn imported(args: &[&str]) -> String {
    let out = vnetd(args);
    assert!(
        out.status.success(),
        "{args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The stderr of an import that must be refused with exit 1 (not a
/// panic, whose code is 101) and print nothing on stdout.
pub(crate) fn refused(args: &[&str]) -> String {
    let out = vnetd(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?} printed a topology");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// The text without comments: whole-line comments and blank lines
/// dropped, trailing `  # ...` cut.
pub(crate) fn without_comments(text: &str) -> String {
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#') && !line.trim().is_empty())
        .map(|line| match line.find("  # ") {
            Some(at) => line[..at].trim_end(),
            None => line,
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

fn read_json(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo(path)).unwrap()).unwrap()
}

#[test]
fn the_state_and_its_show_output_give_the_same_resources() {
    let from_state = tfstate::read(&repo(STATE)).unwrap();
    let from_show = tfstate::read(&repo(SHOW)).unwrap();
    assert_eq!(from_state, from_show);
    let listed: Vec<(&str, &str)> = from_state
        .iter()
        .map(|r| (r.kind.as_str(), r.name.as_str()))
        .collect();
    assert_eq!(
        listed,
        [
            ("azurerm_linux_virtual_machine", "vm1"),
            ("azurerm_network_interface", "nva1"),
            ("azurerm_network_interface", "vm1"),
            ("azurerm_network_interface", "vm2"),
            ("azurerm_network_security_group", "app-nsg"),
            ("azurerm_resource_group", "rg-lab"),
            ("azurerm_route", "to-spoke1"),
            ("azurerm_route", "to-spoke2"),
            ("azurerm_route_table", "spokes-rt"),
            ("azurerm_subnet", "nva"),
            ("azurerm_subnet", "shared"),
            ("azurerm_subnet", "app"),
            ("azurerm_subnet", "app"),
            (
                "azurerm_subnet_network_security_group_association",
                "spoke1_app"
            ),
            (
                "azurerm_subnet_network_security_group_association",
                "spoke2_app"
            ),
            ("azurerm_subnet_route_table_association", "spoke1_app"),
            ("azurerm_subnet_route_table_association", "spoke2_app"),
            ("azurerm_virtual_network", "hub"),
            ("azurerm_virtual_network", "spoke1"),
            ("azurerm_virtual_network", "spoke2"),
            ("azurerm_virtual_network_peering", "hub-to-spoke1"),
            ("azurerm_virtual_network_peering", "hub-to-spoke2"),
            ("azurerm_virtual_network_peering", "spoke1-to-hub"),
            ("azurerm_virtual_network_peering", "spoke2-to-hub"),
        ]
    );
    for r in &from_state {
        assert_eq!(Some(r.source.as_str()), r.attributes["id"].as_str());
    }
    // Attributes as the provider (3.x) stored them, both names of a
    // renamed one included...
    let nva = &from_state[1];
    assert_eq!(nva.attributes["enable_ip_forwarding"], json!(true));
    assert_eq!(nva.attributes["ip_forwarding_enabled"], json!(true));
    assert_eq!(
        nva.attributes["ip_configuration"],
        json!([{
            "gateway_load_balancer_frontend_ip_configuration_id": "",
            "name": "internal",
            "primary": true,
            "private_ip_address": "10.0.1.4",
            "private_ip_address_allocation": "Static",
            "private_ip_address_version": "IPv4",
            "public_ip_address_id": "",
            "subnet_id": format!("{NET}/virtualNetworks/hub/subnets/nva"),
        }])
    );
    let table = &from_state[8];
    assert_eq!(
        table.attributes["disable_bgp_route_propagation"],
        json!(true)
    );
    assert_eq!(
        table.attributes["bgp_route_propagation_enabled"],
        json!(false)
    );
    assert_eq!(
        from_state[4].attributes["security_rule"][0]["destination_port_range"],
        json!("23")
    );
    // ...except the copies of the separate routes and subnets, which come
    // from their own resources.
    assert_eq!(table.attributes["route"], json!([]));
    assert_eq!(from_state[17].attributes["subnet"], json!([]));
    assert_eq!(
        from_state[17].attributes["guid"],
        json!("3036f719-0281-5ec5-ad1d-857ca71f0253")
    );
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one network's resources held one by one to the dump they came from"
)]
fn the_az_dump_gives_the_azurerm_resources_of_the_same_network() {
    let resources = az::read_dir(&repo(AZ_DIR)).unwrap();
    let listed: Vec<(&str, &str, String)> = resources
        .iter()
        .map(|r| {
            let source = r.source.strip_prefix(NET).unwrap_or(&r.source).to_string();
            (r.kind.as_str(), r.name.as_str(), source)
        })
        .collect();
    let subnet_app = |vnet: &str| format!("/virtualNetworks/{vnet}/subnets/app");
    let expected: Vec<(&str, &str, String)> = vec![
        (
            "azurerm_virtual_network",
            "hub",
            "/virtualNetworks/hub".into(),
        ),
        (
            "azurerm_subnet",
            "nva",
            "/virtualNetworks/hub/subnets/nva".into(),
        ),
        (
            "azurerm_subnet",
            "shared",
            "/virtualNetworks/hub/subnets/shared".into(),
        ),
        (
            "azurerm_virtual_network_peering",
            "hub-to-spoke1",
            "/virtualNetworks/hub/virtualNetworkPeerings/hub-to-spoke1".into(),
        ),
        (
            "azurerm_virtual_network_peering",
            "hub-to-spoke2",
            "/virtualNetworks/hub/virtualNetworkPeerings/hub-to-spoke2".into(),
        ),
        (
            "azurerm_virtual_network",
            "spoke1",
            "/virtualNetworks/spoke1".into(),
        ),
        ("azurerm_subnet", "app", subnet_app("spoke1")),
        (
            "azurerm_subnet_network_security_group_association",
            "app",
            subnet_app("spoke1"),
        ),
        (
            "azurerm_subnet_route_table_association",
            "app",
            subnet_app("spoke1"),
        ),
        (
            "azurerm_virtual_network_peering",
            "spoke1-to-hub",
            "/virtualNetworks/spoke1/virtualNetworkPeerings/spoke1-to-hub".into(),
        ),
        (
            "azurerm_virtual_network",
            "spoke2",
            "/virtualNetworks/spoke2".into(),
        ),
        ("azurerm_subnet", "app", subnet_app("spoke2")),
        (
            "azurerm_subnet_network_security_group_association",
            "app",
            subnet_app("spoke2"),
        ),
        (
            "azurerm_subnet_route_table_association",
            "app",
            subnet_app("spoke2"),
        ),
        (
            "azurerm_virtual_network_peering",
            "spoke2-to-hub",
            "/virtualNetworks/spoke2/virtualNetworkPeerings/spoke2-to-hub".into(),
        ),
        (
            "azurerm_network_security_group",
            "app-nsg",
            "/networkSecurityGroups/app-nsg".into(),
        ),
        (
            "azurerm_route_table",
            "spokes-rt",
            "/routeTables/spokes-rt".into(),
        ),
        (
            "azurerm_network_interface",
            "nva1",
            "/networkInterfaces/nva1".into(),
        ),
        (
            "azurerm_network_interface",
            "vm1",
            "/networkInterfaces/vm1".into(),
        ),
        (
            "azurerm_network_interface",
            "vm2",
            "/networkInterfaces/vm2".into(),
        ),
        (
            "azurerm_linux_virtual_machine",
            "vm1",
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-lab/providers/Microsoft.Compute/virtualMachines/vm1".into(),
        ),
    ];
    assert_eq!(listed, expected);

    let by = |kind: &str, name: &str| -> &Resource {
        resources
            .iter()
            .find(|r| r.kind == kind && r.name == name)
            .unwrap()
    };
    assert_eq!(
        by("azurerm_subnet", "nva").attributes,
        json!({"id": format!("{NET}/virtualNetworks/hub/subnets/nva"), "name": "nva",
               "resource_group_name": "rg-lab", "virtual_network_name": "hub",
               "address_prefixes": ["10.0.1.0/24"],
               "private_endpoint_network_policies": "Disabled"})
    );
    // Azure answered this reference with `RG-LAB`; it is written as the
    // NSG's own ID.
    assert_eq!(
        resources[7].attributes,
        json!({"id": format!("{NET}{}", subnet_app("spoke1")),
               "subnet_id": format!("{NET}{}", subnet_app("spoke1")),
               "network_security_group_id": format!("{NET}/networkSecurityGroups/app-nsg")})
    );
    assert_eq!(
        by("azurerm_virtual_network_peering", "spoke1-to-hub").attributes,
        json!({"id": format!("{NET}/virtualNetworks/spoke1/virtualNetworkPeerings/spoke1-to-hub"),
               "name": "spoke1-to-hub", "resource_group_name": "rg-lab",
               "virtual_network_name": "spoke1",
               "remote_virtual_network_id": format!("{NET}/virtualNetworks/hub"),
               "allow_virtual_network_access": true, "allow_forwarded_traffic": true,
               "allow_gateway_transit": false, "use_remote_gateways": false})
    );
    assert_eq!(
        by("azurerm_network_interface", "vm1").attributes,
        json!({"id": format!("{NET}/networkInterfaces/vm1"), "name": "vm1",
               "resource_group_name": "rg-lab", "location": "westeurope",
               "enable_ip_forwarding": false, "dns_servers": [],
               "ip_configuration": [{
                   "name": "internal", "primary": true,
                   "private_ip_address": "10.1.1.4",
                   "private_ip_address_allocation": "Dynamic",
                   "private_ip_address_version": "IPv4",
                   "subnet_id": format!("{NET}{}", subnet_app("spoke1"))}]})
    );
    assert_eq!(
        by("azurerm_network_interface", "nva1").attributes["enable_ip_forwarding"],
        json!(true)
    );
    // The default rules are not carried over.
    assert_eq!(
        by("azurerm_network_security_group", "app-nsg").attributes,
        json!({"id": format!("{NET}/networkSecurityGroups/app-nsg"), "name": "app-nsg",
               "resource_group_name": "rg-lab", "location": "westeurope",
               "security_rule": [{
                   "name": "deny-telnet", "priority": 100, "direction": "Inbound",
                   "access": "Deny", "protocol": "Tcp",
                   "source_port_range": "*", "destination_port_range": "23",
                   "source_address_prefix": "*", "destination_address_prefix": "*"}]})
    );
    assert_eq!(
        by("azurerm_route_table", "spokes-rt").attributes,
        json!({"id": format!("{NET}/routeTables/spokes-rt"), "name": "spokes-rt",
               "resource_group_name": "rg-lab", "location": "westeurope",
               "disable_bgp_route_propagation": true,
               "route": [
                   {"name": "to-spoke1", "address_prefix": "10.1.0.0/16",
                    "next_hop_type": "VirtualAppliance", "next_hop_in_ip_address": "10.0.1.4"},
                   {"name": "to-spoke2", "address_prefix": "10.2.0.0/16",
                    "next_hop_type": "VirtualAppliance", "next_hop_in_ip_address": "10.0.1.4"}]})
    );
}

#[test]
fn the_three_imports_give_the_expected_topology() {
    let expected = without_comments(&std::fs::read_to_string(repo(EXPECTED)).unwrap());
    for args in [
        ["import", "tfstate", STATE],
        ["import", "tfstate", SHOW],
        ["import", "az", AZ_DIR],
    ] {
        let text = imported(&args);
        assert_eq!(without_comments(&text), expected, "{args:?}");
        let loaded = vnetd::topology::parse_str("import", &text)
            .unwrap_or_else(|e| panic!("{args:?} does not parse: {e:?}"));
        // The one warning: vm1's size has no documented bandwidth.
        let warned: Vec<&str> = loaded.warnings.iter().map(|w| w.key.as_str()).collect();
        assert_eq!(
            warned,
            ["virtual_machines[vm1].size"],
            "{:?}",
            loaded.warnings
        );
        assert_eq!(loaded.topology.nics.len(), 3);
    }
}

/// Each object of the topology follows a comment holding its resource ID
/// (an inline route's or rule's is its table's or NSG's, since azurerm
/// keeps them as blocks of it: the rule in both inputs, the routes in the
/// az output, while the state has them as `azurerm_route`s); every ID
/// written is one the input holds.
#[test]
fn every_object_follows_the_comment_of_its_resource_id() {
    let state_ids: Vec<String> = tfstate::read(&repo(STATE))
        .unwrap()
        .into_iter()
        .map(|r| r.source)
        .collect();
    let az_ids: Vec<String> = az::read_dir(&repo(AZ_DIR))
        .unwrap()
        .into_iter()
        .map(|r| r.source)
        .collect();
    for (args, ids, routes_have_own_ids) in [
        (["import", "tfstate", STATE], &state_ids, true),
        (["import", "tfstate", SHOW], &state_ids, true),
        (["import", "az", AZ_DIR], &az_ids, false),
    ] {
        let text = imported(&args);
        let lines: Vec<&str> = text.lines().collect();
        let mut section = "";
        let mut objects = 0;
        for (at, line) in lines.iter().enumerate() {
            if !line.starts_with(' ') && line.ends_with(':') {
                section = line.trim_end_matches(':');
            }
            let Some(name) = line.trim_start().strip_prefix("- name: ") else {
                continue;
            };
            objects += 1;
            let comment = lines[at - 1].trim_start();
            let id = comment
                .strip_prefix("# ")
                .unwrap_or_else(|| panic!("{args:?}: no source before line {}", at + 1));
            assert!(
                ids.iter().any(|i| i == id),
                "{args:?}: `{id}` is no input ID"
            );
            let indent = line.len() - line.trim_start().len();
            let own = match (section, indent) {
                ("vnets", 2) => format!("/virtualNetworks/{name}"),
                ("vnets", _) => format!("/subnets/{name}"),
                ("peerings", _) => format!("/virtualNetworkPeerings/{name}"),
                ("network_interfaces", _) => format!("/networkInterfaces/{name}"),
                ("route_tables", 2) => format!("/routeTables/{name}"),
                ("route_tables", _) if routes_have_own_ids => {
                    format!("/routeTables/spokes-rt/routes/{name}")
                }
                ("route_tables", _) => "/routeTables/spokes-rt".to_string(),
                ("network_security_groups", 2) => format!("/networkSecurityGroups/{name}"),
                ("network_security_groups", _) => "/networkSecurityGroups/app-nsg".to_string(),
                ("virtual_machines", _) => format!("/virtualMachines/{name}"),
                other => panic!("{args:?}: an object in {other:?}"),
            };
            assert!(id.ends_with(&own), "{args:?}: `{name}` follows `{id}`");
        }
        // 3 VNets, 4 subnets, 4 peerings, 3 NICs, 1 VM (Standard_B1s, a
        // real size without documented bandwidth), 1 route table with 2
        // routes, 1 NSG with 1 rule.
        assert_eq!(objects, 20, "{args:?}");
    }
}

#[test]
fn a_state_of_another_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.tfstate");
    std::fs::write(
        &path,
        r#"{"version": 3, "terraform_version": "0.11.14", "modules": []}"#,
    )
    .unwrap();
    let stderr = refused(&["import", "tfstate", path.to_str().unwrap()]);
    assert_eq!(
        stderr,
        format!(
            "{}: (the document): Terraform state version 3 is not supported: \
             vnetd reads version 4, which Terraform 0.12 and later write (`terraform state \
             pull` prints the state in the version of the Terraform that runs it)\n",
            path.display()
        )
    );
    let stderr = refused(&["import", "tfstate", "tests/import/tfstate/missing.tfstate"]);
    assert!(
        stderr.starts_with("tests/import/tfstate/missing.tfstate: cannot read the file: "),
        "{stderr}"
    );
    std::fs::write(&path, "{\"version\": 4,\n \"resources\": [}\n").unwrap();
    let stderr = refused(&["import", "tfstate", path.to_str().unwrap()]);
    assert!(
        stderr.starts_with(&format!("{}:2: not valid JSON: ", path.display())),
        "{stderr}"
    );
}

/// A copy of the az fixture in a temporary directory, `change` applied to
/// one of its files.
fn az_copy_with(file: &str, change: impl FnOnce(&mut Value)) -> tempfile::TempDir {
    az_copy_of(AZ_DIR, file, change)
}

/// A copy of the az dump `source` in a temporary directory, `change`
/// applied to one of its files.
fn az_copy_of(source: &str, file: &str, change: impl FnOnce(&mut Value)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo(source)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let mut document = read_json(&format!("{source}/{file}"));
    change(&mut document);
    std::fs::write(
        dir.path().join(file),
        serde_json::to_string_pretty(&document).unwrap(),
    )
    .unwrap();
    dir
}

/// The line (from 1) of the `nth` line (from 0) of `file` in `dir` that
/// holds `needle`.
fn line_with(dir: &Path, file: &str, needle: &str, nth: usize) -> usize {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let (at, _) = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .nth(nth)
        .unwrap_or_else(|| panic!("{needle} is not in {file} {} times", nth + 1));
    at + 1
}

#[test]
fn an_az_file_of_the_wrong_shape_is_refused_at_its_path() {
    let dir = az_copy_with("nics.json", |nics| {
        nics[1]["ipConfigurations"] = json!({"name": "internal"});
    });
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    assert_eq!(
        stderr,
        format!(
            "{}/nics.json:{}: [1].ipConfigurations: expected a list, found an object\n",
            dir.path().display(),
            line_with(dir.path(), "nics.json", "\"ipConfigurations\"", 1)
        )
    );
    // `az network vnet show` output (one object) saved instead of a list.
    let dir = az_copy_with("vnets.json", |vnets| *vnets = vnets[0].clone());
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    assert_eq!(
        stderr,
        format!(
            "{}/vnets.json: (the document): expected a list, found an object\n",
            dir.path().display()
        )
    );
}

#[test]
fn a_nic_in_a_subnet_that_is_not_there_is_refused() {
    let missing = format!("{NET}/virtualNetworks/spoke1/subnets/db");
    let dir = az_copy_with("nics.json", |nics| {
        nics[1]["ipConfigurations"][0]["subnet"]["id"] = json!(missing);
    });
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    assert_eq!(
        stderr,
        format!(
            "{}/nics.json:{}: [1].ipConfigurations[0].subnet.id: `{missing}` \
             names no subnet of vnets.json\n",
            dir.path().display(),
            line_with(dir.path(), "nics.json", &missing, 0)
        )
    );

    // In a state the writer finds it: at the NIC's resource ID.
    let mut state = read_json(STATE);
    let vm1 = state["resources"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["type"] == "azurerm_network_interface" && r["name"] == "vm1")
        .unwrap();
    vm1["instances"][0]["attributes"]["ip_configuration"][0]["subnet_id"] = json!(missing);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("terraform.tfstate");
    std::fs::write(&path, state.to_string()).unwrap();
    let stderr = refused(&["import", "tfstate", path.to_str().unwrap()]);
    assert_eq!(
        stderr,
        format!("{NET}/networkInterfaces/vm1: subnet `spoke1/db` is not in the input\n")
    );
}

/// What the writer refuses in an az dump (an address that is not one) is
/// placed at the line of the object it belongs to, the one with its ID.
#[test]
fn an_az_value_the_writer_refuses_is_placed_at_its_object() {
    let dir = az_copy_with("nics.json", |nics| {
        nics[0]["ipConfigurations"][0]["privateIPAddress"] = json!("10.0.1.300");
    });
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    let nic = format!("{NET}/networkInterfaces/nva1");
    assert_eq!(
        stderr,
        format!(
            "{}/nics.json:{}: {nic}: ip_configuration `internal`: `10.0.1.300` is not an IP \
             address\n",
            dir.path().display(),
            line_with(dir.path(), "nics.json", &format!("\"id\": \"{nic}\""), 0)
        )
    );
}

#[test]
fn an_az_directory_that_is_not_one_is_refused() {
    let stderr = refused(&["import", "az", STATE]);
    assert_eq!(
        stderr,
        format!(
            "{STATE}: not a directory: `vnetd import az` reads a directory of \
             `az ... list -o json` files\n"
        )
    );
}

/// ASGs are not in the fixture network: one added to the dump, with vm1
/// as a member and an NSG rule towards it, reaches the topology as the
/// NIC's and the rule's ASG names.
#[test]
fn an_application_security_group_of_the_az_dump_reaches_the_topology() {
    let asg_id = format!("{NET}/applicationSecurityGroups/web");
    let dir = az_copy_with("asgs.json", |asgs| {
        *asgs = json!([{"etag": "W/\"1\"", "id": asg_id, "location": "westeurope",
                        "name": "web", "provisioningState": "Succeeded",
                        "resourceGroup": "rg-lab", "resourceGuid": "x",
                        "type": "Microsoft.Network/applicationSecurityGroups"}]);
    });
    let add_member = |nics: &mut Value| {
        nics[1]["ipConfigurations"][0]["applicationSecurityGroups"] =
            json!([{"id": asg_id.replace("rg-lab", "RG-LAB"), "resourceGroup": "RG-LAB"}]);
    };
    let mut nics = read_json(&format!("{AZ_DIR}/nics.json"));
    add_member(&mut nics);
    std::fs::write(dir.path().join("nics.json"), nics.to_string()).unwrap();
    let mut nsgs = read_json(&format!("{AZ_DIR}/nsgs.json"));
    let mut rule = nsgs[0]["securityRules"][0].clone();
    rule["name"] = json!("allow-web");
    rule["priority"] = json!(200);
    rule["access"] = json!("Allow");
    rule["destinationPortRange"] = json!("443");
    rule["destinationAddressPrefix"] = Value::Null;
    rule["destinationApplicationSecurityGroups"] = json!([{"id": asg_id}]);
    nsgs[0]["securityRules"].as_array_mut().unwrap().push(rule);
    std::fs::write(dir.path().join("nsgs.json"), nsgs.to_string()).unwrap();

    let text = without_comments(&imported(&["import", "az", dir.path().to_str().unwrap()]));
    assert!(
        text.contains(
            "  - name: vm1\n    subnet: spoke1/app\n    private_ip_address: 10.1.1.4\n    \
             application_security_groups: [web]\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "      - name: allow-web\n        priority: 200\n        direction: Inbound\n        \
             access: Allow\n        protocol: Tcp\n        source_port_range: \"*\"\n        \
             destination_port_range: \"443\"\n        source_address_prefix: \"*\"\n        \
             destination_application_security_groups: [web]\n"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("application_security_groups:\n  - name: web\n"),
        "{text}"
    );
}

/// The `az` dump of the network of tests/import/terraform/hub-spoke-firewall.
const FIREWALL_AZ_DIR: &str = "tests/import/az/hub-spoke-firewall";

/// An Azure Firewall, its policy, rule collection group, IP group and
/// public IP, as `az` lists them, import to the topology their Terraform
/// configuration imports to: the route's next hop, which az knows, is the
/// address the configuration's import gives the firewall. The public IP's
/// address is Azure's in the dump, and the DNAT rule's destination with
/// it; the configuration does not know it, and its import leaves the
/// address to vnetd, which gives it 198.51.100.1, and the rule that one.
/// The firewall's management public IP is left out of both, with what
/// holds it.
#[test]
fn the_az_dump_of_a_firewall_imports_as_its_terraform_configuration() {
    let text = imported(&["import", "az", FIREWALL_AZ_DIR]);
    let expected = std::fs::read_to_string(repo(
        "tests/import/terraform/hub-spoke-firewall/expected.yaml",
    ))
    .unwrap();
    let azure_address = "  - name: hub-fw-pip\n    ip_address: 20.61.14.9\n";
    assert!(text.contains(azure_address), "{text}");
    assert!(
        text.contains("                destination_address: 20.61.14.9\n"),
        "{text}"
    );
    let vnetd_address = "destination_address: 198.51.100.1  # public IP `hub-fw-pip`: the \
                         address vnetd gives it (Azure's is known only after apply)\n";
    assert!(expected.contains(vnetd_address), "{expected}");
    let known_here = text
        .replace(azure_address, "  - name: hub-fw-pip\n")
        .replace(
            "destination_address: 20.61.14.9\n",
            "destination_address: 198.51.100.1\n",
        );
    assert_eq!(without_comments(&known_here), without_comments(&expected));
    assert!(
        text.contains("        next_hop_in_ip_address: 10.0.1.4\n"),
        "{text}"
    );
    for text in [&text, &expected] {
        assert!(
            text.contains(
                "): held by the management IP configuration of Azure Firewall `hub-fw`: the \
                 lab gives it no public address\n"
            ),
            "{text}"
        );
    }
}

/// A firewall's classic rules (inline in `az network firewall list`)
/// become a policy of the importer's own; with a policy as well, which
/// Azure does not allow, the dump is refused at the collection.
#[test]
fn classic_rules_of_an_az_firewall_are_a_policy_of_their_own() {
    let collection = json!({
        "action": {"type": "Allow"},
        "id": "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-fw-lab/providers/Microsoft.Network/azureFirewalls/hub-fw/networkRuleCollections/dns",
        "name": "dns", "priority": 150, "provisioningState": "Succeeded",
        "rules": [{"description": null, "destinationAddresses": ["10.0.2.4"],
                   "destinationFqdns": [], "destinationIpGroups": [], "destinationPorts": ["53"],
                   "name": "to-shared1", "protocols": ["UDP", "TCP"],
                   "sourceAddresses": [], "sourceIpGroups": [
                       "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/RG-FW-LAB/providers/Microsoft.Network/ipGroups/spokes"]}]});
    let classic = collection.clone();
    let dir = az_copy_of(FIREWALL_AZ_DIR, "firewalls.json", move |firewalls| {
        firewalls[0]["firewallPolicy"] = Value::Null;
        firewalls[0]["networkRuleCollections"] = json!([classic]);
    });
    let text = without_comments(&imported(&["import", "az", dir.path().to_str().unwrap()]));
    assert!(
        text.contains(
            "  - name: hub-fw-rules\n    rule_collection_groups:\n      - name: classic\n        \
             priority: 100\n        network_rule_collections:\n          - name: dns\n            \
             priority: 150\n            action: Allow\n            rules:\n              - name: \
             to-shared1\n                protocols: [TCP, UDP]\n                source_ip_groups: \
             [spokes]\n                destination_addresses: [10.0.2.4]\n                \
             destination_ports: [\"53\"]\n"
        ),
        "{text}"
    );
    assert!(
        text.ends_with(
            "    firewall_policy: hub-fw-rules\n    public_ip_addresses: [hub-fw-pip]\n"
        ),
        "{text}"
    );

    let id = collection["id"].as_str().unwrap().to_string();
    let dir = az_copy_of(FIREWALL_AZ_DIR, "firewalls.json", move |firewalls| {
        firewalls[0]["networkRuleCollections"] = json!([collection]);
    });
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    assert_eq!(
        stderr,
        format!(
            "{}/firewalls.json:{}: {id}: Azure Firewall `hub-fw` has the policy `hub-fw-policy` \
             and classic rules (this rule collection): Azure does not allow both on one firewall\n",
            dir.path().display(),
            line_with(
                dir.path(),
                "firewalls.json",
                "networkRuleCollections/dns",
                0
            )
        )
    );
}

/// A rule's IP group must be one of ip-groups.json.
#[test]
fn an_az_rule_naming_an_ip_group_not_listed_is_refused_at_its_path() {
    let dir = az_copy_of(FIREWALL_AZ_DIR, "ip-groups.json", |groups| {
        *groups = json!([]);
    });
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    let group = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/RG-FW-LAB/\
                 providers/Microsoft.Network/ipGroups/spokes";
    assert_eq!(
        stderr,
        format!(
            "{}/firewall-rule-collection-groups.json:{}: [0].ruleCollections[1].rules[1].\
             sourceIpGroups[0]: `{group}` names no IP group of ip-groups.json\n",
            dir.path().display(),
            line_with(
                dir.path(),
                "firewall-rule-collection-groups.json",
                "RG-FW-LAB",
                0
            )
        )
    );
}
