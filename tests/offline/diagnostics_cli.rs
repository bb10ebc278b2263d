//! The diagnostic commands through the real binary, offline with
//! `--config`: exact JSON (the contract's keys and values), the deciding
//! NSG rule of `flow-verify` for user rules, default rules, service tags and
//! application security groups in both directions, and exit codes.

use crate::common::golden_cases::check_cases;
use serde_json::{json, Value};

/// The resource IDs of the lab: placeholder subscription and resource group
/// (the same as the flow logs'), Azure's ARM spelling.
const ARM: &str =
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/VNETD/providers/Microsoft.Network";
use std::process::{Command, Output};

pub(crate) fn vnetd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

pub(crate) fn json_of(args: &[&str]) -> Value {
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
        json!({"nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.0.1.4",
               "routeTableId": format!("{ARM}/routeTables/spoke1-rt")})
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

/// The verdicts of `flow-verify`: the cases are data,
/// `tests/golden/flow-verify/cases.yaml`, and each case's answers its
/// snapshot there.
#[test]
fn flow_verify_golden() {
    check_cases("tests/golden/flow-verify", |case| {
        let mut out = String::new();
        for flow in case.list("flows") {
            let words =
                ["config", "nic", "direction", "protocol", "local", "remote"].map(|k| flow.text(k));
            let [config, nic, direction, protocol, local, remote] =
                words.each_ref().map(String::as_str);
            let v = flow_verify(config, nic, direction, protocol, local, remote);
            out += &format!(
                "{} => {}\n",
                words.join(" "),
                serde_json::to_string(&v).unwrap()
            );
        }
        out
    });
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
    // The next-hop table names the route table, not its ID.
    let out = vnetd(&[
        "next-hop", "--config", HUB, "--nic", "vm1", "--dst", "10.2.1.4",
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("route table:     spoke1-rt\n"));
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
    assert_eq!(
        list[0]["networkSecurityGroup"]["id"],
        format!("{ARM}/networkSecurityGroups/tiers-nsg")
    );
    assert_eq!(
        list[0]["association"]["subnet"]["id"],
        format!("{ARM}/virtualNetworks/app-vnet/subnets/db")
    );
    assert_eq!(
        list[1]["networkSecurityGroup"]["id"],
        format!("{ARM}/networkSecurityGroups/db-nic-nsg")
    );
    assert_eq!(
        list[1]["association"]["networkInterface"]["id"],
        format!("{ARM}/networkInterfaces/db1")
    );
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

/// `rules --json` key for key as Azure's effective security rules. Sources:
/// the example response of "Network Interfaces - List Effective Network
/// Security Groups" (learn.microsoft.com/rest/api/virtualnetwork/
/// network-interfaces/list-effective-network-security-groups): IDs of the
/// NSG and of the subnet or NIC it is associated with, `securityRules/` and
/// `defaultSecurityRules/` names, protocol `All` for `*`, ports as `lo-hi`,
/// `0.0.0.0/0` for `*`, a single address as `1.1.1.1/32`, an expansion only
/// for tags; and the same API's output quoted in
/// github.com/Azure/azure-powershell/issues/4972: the key order, the
/// `sourcePortRanges`/`destinationPortRanges`/`sourceAddressPrefixes`/
/// `destinationAddressPrefixes` arrays next to the single values, and
/// `expanded*AddressPrefix` absent (as `az` prints it: null) for
/// `0.0.0.0/0`. The VirtualNetwork tag is listed as Azure lists it ("the
/// virtual network address space, ..., peered virtual networks, ..., the
/// virtual IP address of the host, and address prefixes used on
/// user-defined routes", learn.microsoft.com/azure/virtual-network/
/// service-tags-overview), unmerged. The golden file was checked by hand
/// against those sources, rule by rule.
#[test]
fn rules_json_golden_is_azures_shape() {
    let config = "tests/golden/16-effective-nsg.yaml";
    let out = vnetd(&["rules", "--config", config, "--nic", "web1", "--json"]);
    assert!(out.status.success());
    let want = std::fs::read_to_string(format!(
        "{}/tests/golden/16-effective-nsg.rules.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    // Text equality: key order and nulls are part of the shape.
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);

    let v: Value = serde_json::from_str(&want).unwrap();
    let subnet_nsg = &v["value"][0];
    assert_eq!(
        subnet_nsg["networkSecurityGroup"]["id"],
        format!("{ARM}/networkSecurityGroups/web-nsg")
    );
    assert_eq!(
        subnet_nsg["association"],
        json!({"subnet": {"id": format!("{ARM}/virtualNetworks/app/subnets/web")}})
    );
    let rules = &subnet_nsg["effectiveSecurityRules"];
    // An augmented rule: several prefixes and ports, so no single value.
    assert_eq!(
        rules[0],
        json!({
            "name": "securityRules/allow-admin", "protocol": "Tcp",
            "sourcePortRange": "0-65535", "destinationPortRange": null,
            "sourcePortRanges": ["0-65535"], "destinationPortRanges": ["22-22", "3389-3389"],
            "sourceAddressPrefix": null, "destinationAddressPrefix": "0.0.0.0/0",
            "sourceAddressPrefixes": ["203.0.113.0/24", "198.51.100.7/32"],
            "destinationAddressPrefixes": ["0.0.0.0/0"],
            "expandedSourceAddressPrefix": null, "expandedDestinationAddressPrefix": null,
            "access": "Allow", "priority": 100, "direction": "Inbound"
        })
    );
    // An ASG expands to its members.
    assert_eq!(rules[1]["destinationAddressPrefix"], "web-asg");
    assert_eq!(
        rules[1]["expandedDestinationAddressPrefix"],
        json!(["10.60.1.4/32"])
    );
    // The VirtualNetwork tag, unmerged, in Azure's order.
    assert_eq!(
        rules[2]["expandedSourceAddressPrefix"],
        json!([
            "10.60.0.0/16",
            "10.61.0.0/16",
            "168.63.129.16/32",
            "10.70.0.0/16"
        ])
    );
    assert_eq!(
        rules[3]["expandedSourceAddressPrefix"],
        json!(["168.63.129.16/32"])
    );
    assert_eq!(rules[3]["expandedDestinationAddressPrefix"], Value::Null);
    assert_eq!(
        rules[5]["destinationAddressPrefixes"],
        json!(["10.61.0.53/32"])
    );
    let nic_nsg = &v["value"][1];
    assert_eq!(
        nic_nsg["association"],
        json!({"networkInterface": {"id": format!("{ARM}/networkInterfaces/web1")}})
    );
}

/// A 0/0 user route and the VirtualNetwork tag: Azure puts the route's
/// prefix in the tag ("This tag might also contain default routes",
/// learn.microsoft.com/azure/virtual-network/service-tags-overview), and
/// then reports the tag as 0.0.0.0/0 alone ("In that case the VirtualNetwork
/// Tag contains only one prefix: 0.0.0.0/0",
/// github.com/MicrosoftDocs/azure-docs/issues/22178; the same expansion of
/// AllowVnetInBound in github.com/Azure/azure-powershell/issues/4972).
#[test]
fn default_user_route_makes_the_vnet_tag_the_default_route() {
    let config = "tests/golden/18-vnet-tag-default-udr.yaml";
    let v = json_of(&["rules", "--config", config, "--nic", "tunnel-vm", "--json"]);
    let vnet_rule = &v["value"][0]["effectiveSecurityRules"][0];
    assert_eq!(vnet_rule["name"], "defaultSecurityRules/AllowVnetInBound");
    assert_eq!(
        vnet_rule["expandedSourceAddressPrefix"],
        json!(["0.0.0.0/0"])
    );
    assert_eq!(
        vnet_rule["expandedDestinationAddressPrefix"],
        json!(["0.0.0.0/0"])
    );
    // So an Internet source is admitted by AllowVnetInBound, as in Azure...
    let v = flow_verify(
        config,
        "tunnel-vm",
        "Inbound",
        "TCP",
        "10.0.2.4:22",
        "203.0.113.9:40000",
    );
    assert_eq!(
        v,
        json!({"access": "Allow", "ruleName": "defaultSecurityRules/AllowVnetInBound"})
    );
    // ...while in the subnet without the route it is denied.
    let v = flow_verify(
        config,
        "fw",
        "Inbound",
        "TCP",
        "10.0.1.4:22",
        "203.0.113.9:40000",
    );
    assert_eq!(
        v,
        json!({"access": "Deny", "ruleName": "defaultSecurityRules/DenyAllInBound"})
    );
    let v = json_of(&["rules", "--config", config, "--nic", "fw", "--json"]);
    assert_eq!(
        v["value"][0]["effectiveSecurityRules"][0]["expandedSourceAddressPrefix"],
        json!(["10.0.0.0/16", "168.63.129.16/32"])
    );
}

/// `next-hop` for 168.63.129.16 under forced tunnelling: not the user
/// route, since the address "isn't subject to user defined routes"
/// (learn.microsoft.com/azure/virtual-network/what-is-ip-address-168-63-129-16).
#[test]
fn next_hop_for_the_host_vip_is_not_the_forced_tunnel() {
    let v = json_of(&[
        "next-hop",
        "--config",
        "config/forced-tunnel.yaml",
        "--nic",
        "spoke-vm",
        "--dst",
        "168.63.129.16",
        "--json",
    ]);
    assert_eq!(
        v,
        json!({"nextHopType": "Internet", "nextHopIpAddress": "", "routeTableId": "System Route"})
    );
    let v = json_of(&[
        "next-hop",
        "--config",
        "config/forced-tunnel.yaml",
        "--nic",
        "spoke-vm",
        "--dst",
        "168.63.129.15",
        "--json",
    ]);
    assert_eq!(
        v,
        json!({"nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.0.1.4",
               "routeTableId": format!("{ARM}/routeTables/spoke-default-via-nva")})
    );
}
