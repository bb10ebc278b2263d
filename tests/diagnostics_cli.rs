//! The diagnostic commands through the real binary, offline with
//! `--config`: exact JSON (the contract's keys and values), the deciding
//! NSG rule of `flow-verify` for user rules, default rules, service tags and
//! application security groups in both directions, and exit codes.

use serde_json::{json, Value};
use std::process::{Command, Output};

fn vnetd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn json_of(args: &[&str]) -> Value {
    let out = vnetd(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn flow_verify(
    config: &str,
    nic: &str,
    direction: &str,
    protocol: &str,
    local: &str,
    remote: &str,
) -> Value {
    json_of(&[
        "flow-verify",
        "--config",
        config,
        "--nic",
        nic,
        "--direction",
        direction,
        "--protocol",
        protocol,
        "--local",
        local,
        "--remote",
        remote,
        "--json",
    ])
}

const HUB: &str = "config/hub-spoke.yaml";
const TIERS: &str = "config/three-tier-nsg.yaml";

#[test]
fn routes_json_is_the_contract_shape() {
    let v = json_of(&["routes", "--config", HUB, "--nic", "vm1", "--json"]);
    let row = |prefix: &str, hop: &str| {
        json!({"source": "Default", "state": "Active", "addressPrefix": [prefix],
               "nextHopType": hop, "nextHopIpAddress": [], "name": null,
               "disableBgpRoutePropagation": false})
    };
    let expected = json!({"value": [
        row("10.1.0.0/16", "VnetLocal"),
        row("10.0.0.0/16", "VNetPeering"),
        row("0.0.0.0/0", "Internet"),
        row("10.0.0.0/8", "None"),
        row("100.64.0.0/10", "None"),
        row("172.16.0.0/12", "None"),
        row("192.168.0.0/16", "None"),
        {"source": "User", "state": "Active", "addressPrefix": ["10.2.0.0/16"],
         "nextHopType": "VirtualAppliance", "nextHopIpAddress": ["10.0.1.4"],
         "name": "to-spoke2-via-nva", "disableBgpRoutePropagation": false}
    ]});
    assert_eq!(v, expected);
    // Key order is part of the shape users see.
    let out = vnetd(&["routes", "--config", HUB, "--nic", "vm1", "--json"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let keys = [
        "\"source\"",
        "\"state\"",
        "\"addressPrefix\"",
        "\"nextHopType\"",
        "\"nextHopIpAddress\"",
        "\"name\"",
        "\"disableBgpRoutePropagation\"",
    ];
    let positions: Vec<usize> = keys.iter().map(|k| text.find(k).unwrap()).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "key order: {text}"
    );
}

#[test]
fn next_hop_json_is_the_contract_shape() {
    let v = json_of(&[
        "next-hop", "--config", HUB, "--nic", "vm1", "--dst", "10.2.1.4", "--json",
    ]);
    assert_eq!(
        v,
        json!({"nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.0.1.4", "routeTableId": "spoke1-rt"})
    );
    let v = json_of(&[
        "next-hop", "--config", HUB, "--nic", "vm1", "--dst", "10.0.2.4", "--json",
    ]);
    assert_eq!(
        v,
        json!({"nextHopType": "VNetPeering", "nextHopIpAddress": "", "routeTableId": "System Route"})
    );
    let v = json_of(&[
        "next-hop", "--config", HUB, "--nic", "vm1", "--dst", "10.9.9.9", "--json",
    ]);
    assert_eq!(
        v,
        json!({"nextHopType": "None", "nextHopIpAddress": "", "routeTableId": "System Route"})
    );
    let v = json_of(&[
        "next-hop", "--config", HUB, "--nic", "vm1", "--dst", "1.1.1.1", "--json",
    ]);
    assert_eq!(
        v,
        json!({"nextHopType": "Internet", "nextHopIpAddress": "", "routeTableId": "System Route"})
    );
}

#[test]
fn flow_verify_user_rules_both_directions() {
    // Inbound user deny on the subnet NSG.
    let v = flow_verify(
        HUB,
        "vm2",
        "Inbound",
        "TCP",
        "10.2.1.4:23",
        "10.1.1.4:40000",
    );
    assert_eq!(
        v,
        json!({"access": "Deny", "ruleName": "securityRules/deny-telnet"})
    );
    // Outbound user deny on the NIC NSG, with the Internet tag.
    let v = flow_verify(
        TIERS,
        "db1",
        "Outbound",
        "TCP",
        "10.50.3.4:40000",
        "8.8.8.8:443",
    );
    assert_eq!(
        v,
        json!({"access": "Deny", "ruleName": "securityRules/deny-outbound-internet"})
    );
    // Inbound user allow by prefix list on the NIC NSG (the last NSG to allow names the rule).
    let v = flow_verify(
        TIERS,
        "db1",
        "Inbound",
        "TCP",
        "10.50.3.4:5432",
        "10.50.2.4:40000",
    );
    assert_eq!(
        v,
        json!({"access": "Allow", "ruleName": "securityRules/allow-app-tier"})
    );
}

#[test]
fn flow_verify_default_rules_both_directions() {
    let v = flow_verify(
        HUB,
        "vm2",
        "inbound",
        "tcp",
        "10.2.1.4:22",
        "10.1.1.4:40000",
    );
    assert_eq!(
        v,
        json!({"access": "Allow", "ruleName": "defaultSecurityRules/AllowVnetInBound"})
    );
    let v = flow_verify(
        HUB,
        "vm2",
        "Inbound",
        "TCP",
        "10.2.1.4:22",
        "203.0.113.7:40000",
    );
    assert_eq!(
        v,
        json!({"access": "Deny", "ruleName": "defaultSecurityRules/DenyAllInBound"})
    );
    let v = flow_verify(
        HUB,
        "vm2",
        "Outbound",
        "UDP",
        "10.2.1.4:5000",
        "10.0.1.4:53",
    );
    assert_eq!(
        v,
        json!({"access": "Allow", "ruleName": "defaultSecurityRules/AllowVnetOutBound"})
    );
    let v = flow_verify(
        HUB,
        "vm2",
        "Outbound",
        "TCP",
        "10.2.1.4:40000",
        "8.8.8.8:443",
    );
    assert_eq!(
        v,
        json!({"access": "Allow", "ruleName": "defaultSecurityRules/AllowInternetOutBound"})
    );
    // Private space outside the VNet tag is neither VirtualNetwork nor Internet.
    let v = flow_verify(
        HUB,
        "vm2",
        "Outbound",
        "TCP",
        "10.2.1.4:40000",
        "192.168.5.5:443",
    );
    assert_eq!(
        v,
        json!({"access": "Deny", "ruleName": "defaultSecurityRules/DenyAllOutBound"})
    );
    // The host VIP is in the VirtualNetwork tag, so AllowVnetInBound decides first.
    let v = flow_verify(
        HUB,
        "vm2",
        "Inbound",
        "TCP",
        "10.2.1.4:80",
        "168.63.129.16:5000",
    );
    assert_eq!(
        v,
        json!({"access": "Allow", "ruleName": "defaultSecurityRules/AllowVnetInBound"})
    );
}

#[test]
fn flow_verify_service_tags() {
    // Internet tag as a user rule's source.
    let v = flow_verify(
        TIERS,
        "web1",
        "Inbound",
        "TCP",
        "10.50.1.4:443",
        "203.0.113.9:50000",
    );
    assert_eq!(
        v,
        json!({"access": "Allow", "ruleName": "securityRules/allow-internet-to-web"})
    );
    // A private address is not Internet: the same port is denied.
    let v = flow_verify(
        TIERS,
        "web1",
        "Inbound",
        "TCP",
        "10.50.1.4:443",
        "192.168.1.9:50000",
    );
    assert_eq!(
        v,
        json!({"access": "Deny", "ruleName": "defaultSecurityRules/DenyAllInBound"})
    );
    // VirtualNetwork tag as a user rule's source and destination.
    let v = flow_verify(
        TIERS,
        "app1",
        "Inbound",
        "UDP",
        "10.50.2.4:9999",
        "10.50.1.5:50000",
    );
    assert_eq!(
        v,
        json!({"access": "Deny", "ruleName": "securityRules/deny-other-vnet-inbound"})
    );
}

#[test]
fn flow_verify_application_security_groups() {
    // Source ASG web-asg, destination ASG app-asg.
    let v = flow_verify(
        TIERS,
        "app1",
        "Inbound",
        "TCP",
        "10.50.2.4:8080",
        "10.50.1.5:50000",
    );
    assert_eq!(
        v,
        json!({"access": "Allow", "ruleName": "securityRules/allow-web-to-app"})
    );
    // The db tier is not in web-asg: the rule does not match it.
    let v = flow_verify(
        TIERS,
        "app1",
        "Inbound",
        "TCP",
        "10.50.2.4:8080",
        "10.50.3.4:50000",
    );
    assert_eq!(
        v,
        json!({"access": "Deny", "ruleName": "securityRules/deny-other-vnet-inbound"})
    );
    // A destination-ASG rule applies only to member NICs: web1 is not in app-asg.
    let v = flow_verify(
        TIERS,
        "web1",
        "Inbound",
        "TCP",
        "10.50.1.4:8080",
        "10.50.1.5:50000",
    );
    assert_eq!(
        v,
        json!({"access": "Deny", "ruleName": "securityRules/deny-other-vnet-inbound"})
    );
}

#[test]
fn flow_verify_without_nsg_allows_everything() {
    let v = flow_verify(
        HUB,
        "vm1",
        "Inbound",
        "TCP",
        "10.1.1.4:22",
        "203.0.113.7:40000",
    );
    assert_eq!(v, json!({"access": "Allow", "ruleName": null}));
}

#[test]
fn exit_codes() {
    // Unknown NIC and a foreign local address are refused input: 1.
    let out = vnetd(&["routes", "--config", HUB, "--nic", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no NIC named `nope`"));
    let out = vnetd(&[
        "flow-verify",
        "--config",
        HUB,
        "--nic",
        "vm2",
        "--direction",
        "Inbound",
        "--protocol",
        "TCP",
        "--local",
        "10.2.1.5:22",
        "--remote",
        "10.1.1.4:1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    // Usage errors: 2.
    let out = vnetd(&[
        "flow-verify",
        "--config",
        HUB,
        "--nic",
        "vm2",
        "--direction",
        "Inbound",
        "--protocol",
        "ICMP",
        "--local",
        "10.2.1.4:22",
        "--remote",
        "10.1.1.4:1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = vnetd(&[
        "next-hop",
        "--config",
        HUB,
        "--nic",
        "vm1",
        "--dst",
        "not-an-ip",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = vnetd(&["routes", "--nic"]);
    assert_eq!(out.status.code(), Some(2));
    // Tables are printed without --json.
    let out = vnetd(&["routes", "--config", HUB, "--nic", "vm1"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("VirtualAppliance  10.0.1.4"));
}

#[test]
fn rules_json_lists_each_associated_nsg_with_expanded_tags() {
    let v = json_of(&["rules", "--config", TIERS, "--nic", "db1", "--json"]);
    let list = v["value"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["networkSecurityGroup"]["id"], "tiers-nsg");
    assert_eq!(list[0]["association"]["subnet"]["id"], "app-vnet/db");
    assert_eq!(list[1]["networkSecurityGroup"]["id"], "db-nic-nsg");
    assert_eq!(list[1]["association"]["networkInterface"]["id"], "db1");
    let names: Vec<&str> = list[0]["effectiveSecurityRules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    // Rules scoped to other tiers' ASGs are not db1's.
    assert_eq!(
        names,
        [
            "securityRules/allow-app-to-db",
            "securityRules/allow-icmp-in-vnet",
            "securityRules/deny-other-vnet-inbound",
            "defaultSecurityRules/AllowVnetInBound",
            "defaultSecurityRules/AllowAzureLoadBalancerInBound",
            "defaultSecurityRules/DenyAllInBound",
            "defaultSecurityRules/AllowVnetOutBound",
            "defaultSecurityRules/AllowInternetOutBound",
            "defaultSecurityRules/DenyAllOutBound",
        ]
    );
    let first = &list[0]["effectiveSecurityRules"][0];
    assert_eq!(
        first["expandedSourceAddressPrefix"],
        json!(["10.50.2.4/32"])
    );
    assert_eq!(
        first["expandedDestinationAddressPrefix"],
        json!(["10.50.3.4/32"])
    );
    assert_eq!(first["destinationPortRange"], "5432-5432");
    let vnet_rule = &list[0]["effectiveSecurityRules"][3];
    assert_eq!(vnet_rule["sourceAddressPrefix"], "VirtualNetwork");
    assert_eq!(
        vnet_rule["expandedSourceAddressPrefix"],
        json!(["10.50.0.0/16", "168.63.129.16/32"])
    );
}

/// Runs `vnetd ARGS` with stdout connected to `stdout`.
fn vnetd_to(args: &[&str], stdout: std::process::Stdio) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(stdout)
        .output()
        .unwrap()
}

#[test]
fn a_closed_or_full_stdout_never_panics() {
    let routes = [
        "routes",
        "--config",
        "config/hub-spoke.yaml",
        "--nic",
        "vm1",
    ];
    // A reader that has gone, as after `| head -1`: exit 0, nothing said.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = vnetd_to(&routes, writer.into());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    // A full disk: the error, exit 1.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = vnetd_to(&routes, full.into());
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "vnetd: error writing output: No space left on device (os error 28)\n"
    );
    // The same for the picture and for check.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = vnetd_to(&["graph", "config/hub-spoke.yaml"], full.into());
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = vnetd_to(&["check", "config/hub-spoke.yaml"], writer.into());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn numbers_out_of_range_are_usage_errors() {
    for (args, words) in [
        (
            &["--flow-log-dir", "/nonexistent-vnetd", "--flow-log-interval-secs", "18446744073709551615"][..],
            "invalid value '18446744073709551615' for '--flow-log-interval-secs <N>': 18446744073709551615 is not in 1..=3600",
        ),
        (
            &["--flow-log-dir", "/nonexistent-vnetd", "--flow-log-interval-secs", "0"][..],
            "0 is not in 1..=3600",
        ),
        (&["--workers", "0"][..], "0 is not in 1..=256"),
        (&["--workers", "100000"][..], "100000 is not in 1..=256"),
    ] {
        let out = vnetd(&[&["run", "config/hub-spoke.yaml"][..], args].concat());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(words), "{args:?}: {stderr}");
    }
}
