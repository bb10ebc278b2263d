//! Broken sizes, regions, MTUs and impairments are refused by `vnetd
//! check` with exit code 1 and a message naming the file, the line and the
//! problem: a VM size that is not Azure's (with the nearest known one), an
//! MTU Azure does not allow, a delay given twice, and negative or absurd
//! impairments. What Azure accepts passes with a warning: a region pair
//! its latency page does not list, a size whose page documents no
//! bandwidth. Each case is
//! `config/three-region-mesh.yaml` with one change, checked through the
//! real binary.

use crate::common;

use common::broken_files::{assert_refused_with_words, check, Case};

const TAG: &str = "realism";

const BASE: &str = include_str!("../../config/three-region-mesh.yaml");

const WEU_TO_EUS: &str = "{ name: weu-to-eus, virtual_network: weu, remote_virtual_network: eus }";

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "unknown-size",
            edits: &[("size: Standard_D2s_v3", "size: Standard_D2s_v9")],
            expect: &[(
                "size: Standard_D2s_v9",
                "`Standard_D2s_v9` is not an Azure VM size; did you mean `Standard_D2s_v3`?",
            )],
        },
        Case {
            name: "not-an-azure-size",
            edits: &[("size: Standard_D2s_v3", "size: Standard_D2s_v4x")],
            expect: &[(
                "size: Standard_D2s_v4x",
                "`Standard_D2s_v4x` is not an Azure VM size; did you mean `Standard_D2s_v4`?",
            )],
        },
        Case {
            name: "mtu-above-azure",
            edits: &[("mtu: 1500", "mtu: 9500")],
            expect: &[("mtu: 9500", "9500 is out of range: Azure NICs take 1280 to 9000")],
        },
        Case {
            name: "mtu-below-ipv6",
            edits: &[("mtu: 1500", "mtu: 576")],
            expect: &[("mtu: 576", "576 is out of range")],
        },
        Case {
            name: "delay-given-twice",
            edits: &[(
                WEU_TO_EUS,
                "{ name: weu-to-eus, virtual_network: weu, remote_virtual_network: eus, impairments: {latency_ms: 5, round_trip_ms: 10} }",
            )],
            expect: &[(
                "name: weu-to-eus",
                "`latency_ms` (one way) and `round_trip_ms` say the same delay twice",
            )],
        },
        Case {
            name: "negative-latency",
            edits: &[(
                WEU_TO_EUS,
                "{ name: weu-to-eus, virtual_network: weu, remote_virtual_network: eus, impairments: {latency_ms: -5} }",
            )],
            expect: &[("name: weu-to-eus", "-5 is out of range: a delay from 0 to 10000 ms")],
        },
        Case {
            name: "absurd-loss",
            edits: &[(
                WEU_TO_EUS,
                "{ name: weu-to-eus, virtual_network: weu, remote_virtual_network: eus, impairments: {loss_percent: 150} }",
            )],
            expect: &[("name: weu-to-eus", "150 is out of range: a share from 0 to 100 percent")],
        },
        Case {
            name: "jitter-above-latency",
            edits: &[(
                WEU_TO_EUS,
                "{ name: weu-to-eus, virtual_network: weu, remote_virtual_network: eus, impairments: {latency_ms: 2, jitter_ms: 5} }",
            )],
            expect: &[("name: weu-to-eus", "jitter of 5 ms is more than the latency of 2 ms")],
        },
        Case {
            name: "zero-rate",
            edits: &[(
                WEU_TO_EUS,
                "{ name: weu-to-eus, virtual_network: weu, remote_virtual_network: eus, impairments: {rate_mbps: 0} }",
            )],
            expect: &[("name: weu-to-eus", "0 is out of range: a rate from 1 to 100000 Mbps")],
        },
        Case {
            name: "nic-in-two-vms",
            edits: &[("network_interfaces: [eus-vm]", "network_interfaces: [weu-vm]")],
            expect: &[
                ("size: Standard_D4s_v3", "NIC `weu-vm` already belongs to virtual machine `weu-vm`"),
            ],
        },
        Case {
            name: "vm-outside-its-nics-region",
            edits: &[("location: eastus, network_interfaces", "location: westus, network_interfaces")],
            expect: &[(
                "size: Standard_D4s_v3",
                "NIC `eus-vm` is in eastus, virtual machine `eus-vm` in westus",
            )],
        },
    ]
}

#[test]
fn the_example_lab_itself_is_valid() {
    let (code, stderr, _) = check(TAG, "unchanged", BASE);
    assert_eq!(code, Some(0), "{stderr}");
}

/// `vnetd check` of `text`: its exit code and what it said on stderr.
fn warnings_of(name: &str, text: &str) -> (Option<i32>, String) {
    let (code, stderr, _) = check(TAG, name, text);
    (code, stderr)
}

#[test]
fn an_unpublished_pair_takes_the_estimate_with_a_warning_per_link() {
    let text = BASE.replacen("location: southeastasia", "location: westindia", 1);
    let (code, stderr) = warnings_of("estimate", &text);
    assert_eq!(code, Some(0), "{stderr}");
    for (link, from, to) in [
        ("weu-to-sea", "westeurope", "westindia"),
        ("sea-to-weu", "westindia", "westeurope"),
        ("eus-to-sea", "eastus", "westindia"),
        ("sea-to-eus", "westindia", "eastus"),
    ] {
        let line = stderr
            .lines()
            .find(|l| l.contains(&format!("peerings[{link}]")))
            .unwrap_or_else(|| panic!("no warning for {link}:\n{stderr}"));
        assert!(line.contains(": warning: "), "{line}");
        assert!(
            line.contains(&format!(
                "Azure publishes no round trip between {from} and {to}: vnetd estimates"
            )),
            "{line}"
        );
    }
    assert_eq!(stderr.matches("vnetd estimates").count(), 4, "{stderr}");
}

#[test]
fn a_size_without_documented_bandwidth_runs_unshaped_with_a_warning() {
    let text = BASE.replacen("size: Standard_D2s_v3", "size: Standard_B1s", 1);
    assert_ne!(text, BASE);
    let (code, stderr) = warnings_of("b1s", &text);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: virtual_machines[")
            && stderr.contains("Azure documents no network bandwidth for `Standard_B1s`")
            && stderr.contains("the VM runs without a rate cap"),
        "{stderr}"
    );
    let topo = vnetd::topology::parse_str("b1s.yaml", &text)
        .unwrap()
        .topology;
    let vm = topo
        .virtual_machines
        .iter()
        .find(|v| v.size == "Standard_B1s")
        .unwrap();
    assert_eq!(vm.egress_mbps, None);
    assert_eq!(vnetd::policy::shaping::vm_egress(&topo, vm.nics[0]), None);
}

#[test]
fn an_unpublished_pair_with_its_own_latency_is_valid() {
    let mut text = BASE.replacen("location: southeastasia", "location: westindia", 1);
    for (name, from, to) in [
        ("weu-to-sea", "weu", "sea"),
        ("sea-to-weu", "sea", "weu"),
        ("eus-to-sea", "eus", "sea"),
        ("sea-to-eus", "sea", "eus"),
    ] {
        let plain =
            format!("{{ name: {name}, virtual_network: {from}, remote_virtual_network: {to} }}");
        let timed = format!("{{ name: {name}, virtual_network: {from}, remote_virtual_network: {to}, impairments: {{round_trip_ms: 121}} }}");
        assert!(text.contains(&plain), "{plain}");
        text = text.replacen(&plain, &timed, 1);
    }
    let (code, stderr, _) = check(TAG, "own-latency", &text);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("estimates"), "{stderr}");
    // A round trip of 121 ms is 60.5 ms each way.
    let topo = vnetd::topology::parse_str("own.yaml", &text)
        .unwrap()
        .topology;
    let link = topo
        .peerings
        .iter()
        .find(|p| p.name == "weu-to-sea")
        .unwrap();
    assert_eq!(link.impairments.and_then(|i| i.latency_us), Some(60_500));
}

#[test]
fn broken_sizes_regions_mtus_and_impairments_are_refused_with_line_and_reason() {
    let all = cases();
    for case in &all {
        assert_refused_with_words(TAG, BASE, case);
    }
}
