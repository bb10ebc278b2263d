//! VNet flow logs offline: `config/network-manager.yaml`'s flow log on
//! spoke1 logs spoke1's NIC and no other; a subnet's or a NIC's flow log
//! takes precedence over its VNet's, a disabled one too; and broken flow
//! logs are refused by `vnetd check` at their line with Azure's reason,
//! none panics.

use crate::common;

use common::broken_files::{assert_refused_with_words, Case};
use vnetd::topology::{parse_str, FlowLogTarget};

const TAG: &str = "vnet-flow-logs";
const BASE: &str = include_str!("../../config/network-manager.yaml");
const LOG: &str = "  - {name: spoke1-flows, virtual_network: spoke1}\n";

/// The flow log each NIC of `text` is logged by.
fn logged_by(text: &str) -> Vec<(String, Option<String>)> {
    let topology = parse_str("t.yaml", text).unwrap().topology;
    topology
        .nics
        .iter_enumerated()
        .map(|(n, nic)| {
            let log = topology.vnet_flow_log_of(nic.subnet, Some(n));
            (nic.name.clone(), log.map(|l| l.name.clone()))
        })
        .collect()
}

fn logs(names: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
    (names.iter())
        .map(|(n, l)| (n.to_string(), l.map(str::to_string)))
        .collect()
}

#[test]
fn the_example_logs_spoke1_alone() {
    let topology = parse_str("t.yaml", BASE).unwrap().topology;
    assert_eq!(topology.flow_logs.len(), 1);
    let spoke1 = topology
        .vnets
        .iter()
        .position(|v| v.name == "spoke1")
        .unwrap();
    assert_eq!(
        topology.flow_logs[0].target,
        FlowLogTarget::VirtualNetwork(vnetd::topology::VnetIdx::new(spoke1))
    );
    assert_eq!(
        logged_by(BASE),
        logs(&[
            ("hub1", None),
            ("mon1", None),
            ("vm1", Some("spoke1-flows")),
            ("vm2", None),
            ("vm3", None),
        ])
    );
}

#[test]
fn the_most_specific_target_takes_precedence() {
    let more = format!(
        "{LOG}  - {{name: hub-flows, virtual_network: hub}}\n  - {{name: monitoring-flows, subnet: hub/monitoring}}\n  - {{name: hub1-off, network_interface: hub1, enabled: false}}\n"
    );
    let text = BASE.replace(LOG, &more);
    assert_eq!(
        logged_by(&text),
        logs(&[
            ("hub1", None),
            ("mon1", Some("monitoring-flows")),
            ("vm1", Some("spoke1-flows")),
            ("vm2", None),
            ("vm3", None),
        ])
    );
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "two-targets",
            edits: &[(LOG, "  - {name: spoke1-flows, virtual_network: spoke1, network_interface: vm1}\n")],
            expect: &[("- {name: spoke1-flows", "a flow log targets one resource")],
        },
        Case {
            name: "no-target",
            edits: &[(LOG, "  - {name: spoke1-flows, enabled: true}\n")],
            expect: &[("- {name: spoke1-flows", "a flow log targets one resource")],
        },
        Case {
            name: "unknown-vnet",
            edits: &[(LOG, "  - {name: spoke1-flows, virtual_network: spoke9}\n")],
            expect: &[("- {name: spoke1-flows", "no virtual network named `spoke9`")],
        },
        Case {
            name: "unknown-subnet",
            edits: &[(LOG, "  - {name: spoke1-flows, subnet: spoke1/web}\n")],
            expect: &[("- {name: spoke1-flows", "VNet `spoke1` has no subnet named `web`")],
        },
        Case {
            name: "unknown-nic",
            edits: &[(LOG, "  - {name: spoke1-flows, network_interface: vm9}\n")],
            expect: &[("- {name: spoke1-flows", "no network interface named `vm9`")],
        },
        Case {
            name: "one-target-two-logs",
            edits: &[(
                LOG,
                "  - {name: spoke1-flows, virtual_network: spoke1}\n  - {name: again, virtual_network: spoke1}\n",
            )],
            expect: &[(
                "- {name: again",
                "its target already has the flow log `spoke1-flows`: Azure allows one flow log per resource",
            )],
        },
        Case {
            name: "duplicate-name",
            edits: &[(
                LOG,
                "  - {name: spoke1-flows, virtual_network: spoke1}\n  - {name: Spoke1-Flows, virtual_network: spoke2}\n",
            )],
            expect: &[("- {name: Spoke1-Flows", "duplicate flow log name `Spoke1-Flows`")],
        },
        Case {
            name: "not-a-flag",
            edits: &[(LOG, "  - {name: spoke1-flows, virtual_network: spoke1, enabled: maybe}\n")],
            expect: &[("- {name: spoke1-flows", "enabled")],
        },
    ]
}

#[test]
fn broken_flow_logs_are_refused_with_line_and_reason() {
    for case in &cases() {
        assert_refused_with_words(TAG, BASE, case);
    }
}
