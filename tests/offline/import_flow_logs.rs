//! Network Watcher's flow logs imported three ways, from the network
//! manager's design (`tests/import/terraform/network-manager`, its state
//! and its `az` dump): each holds a VNet flow log of spoke1 and an NSG
//! flow log of locked-nsg. The VNet flow log is written as
//! `network_watcher_flow_logs`, exactly as `config/network-manager.yaml`
//! has it; the NSG flow log is named in the header and left out with its
//! reason. A target of another kind, or one the input does not hold, is
//! refused at its place with the reason.

use super::import_network_manager::{az_copy_with, line_with, topology};
use super::import_state::{imported, refused, repo, without_comments};
use serde_json::{json, Value};

const TERRAFORM_DIR: &str = "tests/import/terraform/network-manager";
const STATE: &str = "tests/import/tfstate/network-manager.tfstate";
const AZ_DIR: &str = "tests/import/az/network-manager";
const EXAMPLE: &str = "config/network-manager.yaml";

/// The section every import writes, comments aside.
const SECTION: &str = "network_watcher_flow_logs:\n  - name: spoke1-flows\n    virtual_network: spoke1\nnetwork_managers:\n";

const NSG_NOTE: &str = ": an NSG flow log: vnetd writes every NSG's flow log with `vnetd run \
                        --flow-log-dir`, and Azure creates no new NSG flow logs\n";

#[test]
fn each_import_writes_the_vnet_flow_log_of_the_example_and_names_the_nsg_flow_log() {
    let example_text = std::fs::read_to_string(repo(EXAMPLE)).unwrap();
    let example = topology(EXAMPLE, &example_text).flow_logs;
    for args in [
        ["import", "terraform", TERRAFORM_DIR],
        ["import", "tfstate", STATE],
        ["import", "az", AZ_DIR],
    ] {
        let text = imported(&args);
        assert!(
            without_comments(&text).contains(SECTION),
            "{args:?}\n{text}"
        );
        let note = text
            .lines()
            .find(|l| l.starts_with("#   azurerm_network_watcher_flow_log.locked-nsg-flows ("))
            .unwrap_or_else(|| panic!("{args:?}: the NSG flow log is not named\n{text}"));
        assert!(format!("{note}\n").ends_with(NSG_NOTE), "{note}");
        let written: Vec<_> = topology("import", &text)
            .flow_logs
            .into_iter()
            .map(|f| (f.name, f.enabled))
            .collect();
        let expected: Vec<_> = example
            .iter()
            .map(|f| (f.name.clone(), f.enabled))
            .collect();
        assert_eq!(written, expected, "{args:?}");
    }
}

/// The dump's spoke1 flow log with `change` made to it.
fn az_with(change: impl FnOnce(&mut Value)) -> tempfile::TempDir {
    az_copy_with("flow-logs.json", |logs| change(&mut logs[0]))
}

#[test]
fn a_disabled_flow_log_is_written_disabled() {
    let dir = az_with(|log| log["enabled"] = json!(false));
    let text = imported(&["import", "az", dir.path().to_str().unwrap()]);
    assert!(
        without_comments(&text).contains(
            "network_watcher_flow_logs:\n  - name: spoke1-flows\n    virtual_network: spoke1\n    enabled: false\n"
        ),
        "{text}"
    );
    let logs = topology("import", &text).flow_logs;
    assert!(!logs[0].enabled);
}

#[test]
fn a_flow_log_of_a_subnet_or_a_nic_keeps_its_target() {
    let sub = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-avnm/providers/Microsoft.Network";
    for (target, written) in [
        (
            format!("{sub}/virtualNetworks/spoke2/subnets/app"),
            "    subnet: spoke2/app\n",
        ),
        (
            format!("{sub}/networkInterfaces/vm3"),
            "    network_interface: vm3\n",
        ),
    ] {
        let dir = az_with(|log| log["targetResourceId"] = json!(target));
        let text = imported(&["import", "az", dir.path().to_str().unwrap()]);
        let expected = format!("network_watcher_flow_logs:\n  - name: spoke1-flows\n{written}");
        assert!(without_comments(&text).contains(&expected), "{text}");
    }
}

#[test]
fn a_target_of_another_kind_or_not_in_the_input_is_refused_at_its_place() {
    let sub = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-avnm/providers/Microsoft.Network";
    for (target, why) in [
        (
            format!("{sub}/publicIPAddresses/vm1-pip"),
            "is neither a virtual network, a subnet nor a network interface",
        ),
        (
            format!("{sub}/virtualNetworks/spoke9"),
            "names a resource that is not in the input",
        ),
    ] {
        let dir = az_with(|log| log["targetResourceId"] = json!(target));
        let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
        let line = line_with(dir.path(), "flow-logs.json", "flowLogs/spoke1-flows", 0);
        assert!(stderr.contains(why), "{stderr}");
        assert!(
            stderr.contains(&format!("flow-logs.json:{line}: ")),
            "line {line}: {stderr}"
        );
    }
}
