//! Broken sizes, regions, MTUs and impairments are refused by `vnetd
//! check` with exit code 1 and a message naming the file, the line and the
//! problem: an unknown VM size (with the nearest known one), a region pair
//! Azure publishes no round trip for, an MTU Azure does not allow, and
//! negative or absurd impairments. Each case is
//! `config/three-region-mesh.yaml` with one change, checked through the
//! real binary.

mod common;

use common::broken_files::{assert_refused_with_words, check, Case};

const TAG: &str = "realism";

const BASE: &str = include_str!("../config/three-region-mesh.yaml");

const WEU_TO_EUS: &str = "{ name: weu-to-eus, virtual_network: weu, remote_virtual_network: eus }";

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "unknown-size",
            edits: &[("size: Standard_D2s_v3", "size: Standard_D2s_v9")],
            expect: &[(
                "size: Standard_D2s_v9",
                "`Standard_D2s_v9` is not a VM size vnetd knows the bandwidth of; did you mean `Standard_D2s_v3`?",
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
            name: "region-pair-without-a-figure",
            edits: &[("location: southeastasia", "location: westindia")],
            expect: &[
                ("name: weu-to-sea", "Azure publishes no round trip between westeurope and westindia"),
                ("name: sea-to-weu", "between westindia and westeurope"),
                ("name: eus-to-sea", "between eastus and westindia"),
                ("name: sea-to-eus", "between westindia and eastus"),
            ],
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
        let timed = format!("{{ name: {name}, virtual_network: {from}, remote_virtual_network: {to}, impairments: {{latency_ms: 60.5}} }}");
        assert!(text.contains(&plain), "{plain}");
        text = text.replacen(&plain, &timed, 1);
    }
    let (code, stderr, _) = check(TAG, "own-latency", &text);
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn broken_sizes_regions_mtus_and_impairments_are_refused_with_line_and_reason() {
    let all = cases();
    for case in &all {
        assert_refused_with_words(TAG, BASE, case);
    }
}
