//! What Azure refuses at the Internet edge is refused by `vnetd check` at
//! its line, with Azure's reason, and nothing else: each case is
//! `config/internet-edge.yaml` with one change. What Azure accepts (a
//! public address inside a VNet's range) is a warning, not a refusal.

use crate::common;

use common::broken_files::{assert_refused_with_words, check, Case};

const TAG: &str = "edge";
const BASE: &str = include_str!("../../config/internet-edge.yaml");

const NAT_SUBNETS: &str = "    subnets: [hub/AzureFirewallSubnet]";

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "nat-gateway-on-gateway-subnet",
            edits: &[
                (
                    "        address_prefixes: [10.0.1.0/26]\n",
                    "        address_prefixes: [10.0.1.0/26]\n      - name: GatewaySubnet\n        \
                     address_prefixes: [10.0.255.0/27]\n",
                ),
                (NAT_SUBNETS, "    subnets: [hub/GatewaySubnet]"),
            ],
            expect: &[(
                "subnets: [hub/GatewaySubnet]",
                "Azure refuses a NAT gateway on GatewaySubnet",
            )],
        },
        Case {
            name: "two-nat-gateways-on-one-subnet",
            edits: &[(
                NAT_SUBNETS,
                "    subnets: [hub/AzureFirewallSubnet]\n  - {name: second-nat, subnets: \
                 [hub/AzureFirewallSubnet]}",
            )],
            expect: &[(
                "name: second-nat",
                "already has the NAT gateway `hub-nat`: Azure allows one per subnet",
            )],
        },
        Case {
            name: "nat-gateway-across-vnets",
            edits: &[(NAT_SUBNETS, "    subnets: [hub/AzureFirewallSubnet, spoke1/app]")],
            expect: &[(
                "subnets: [hub/AzureFirewallSubnet, spoke1/app]",
                "a NAT gateway cannot span virtual networks",
            )],
        },
        Case {
            name: "basic-public-ip-on-a-nat-gateway",
            edits: &[(
                "{name: nat-pip, sku: Standard,",
                "{name: nat-pip, sku: Basic,",
            )],
            expect: &[(
                "public_ip_addresses: [nat-pip]",
                "is Basic: Azure's NAT gateway takes Standard public IPs only",
            )],
        },
        Case {
            name: "public-ip-of-another-region",
            edits: &[(
                "ip_address: 198.51.100.10, location: westeurope",
                "ip_address: 198.51.100.10, location: northeurope",
            )],
            expect: &[(
                "public_ip_addresses: [nat-pip]",
                "is in northeurope, the resource using it in westeurope",
            )],
        },
        Case {
            name: "public-ip-used-twice",
            edits: &[(
                "private_ip_address: 10.2.2.4}",
                "private_ip_address: 10.2.2.4, public_ip_address: vm2-pip}",
            )],
            expect: &[(
                "private_ip_address: 10.2.2.4, public_ip_address: vm2-pip",
                "is already used by NIC `vm2`",
            )],
        },
        Case {
            name: "more-than-16-addresses",
            edits: &[
                (
                    "public_ip_addresses:\n",
                    "public_ip_prefixes:\n  - {name: more, ip_prefix: 198.51.100.64/28}\n\
                     public_ip_addresses:\n",
                ),
                (
                    "    public_ip_addresses: [nat-pip]\n",
                    "    public_ip_addresses: [nat-pip]\n    public_ip_prefixes: [more]\n",
                ),
            ],
            expect: &[(
                "  - name: hub-nat",
                "holds at most 16 public addresses (its public IPs and prefixes together), and \
                 this one has 17",
            )],
        },
    ]
}

#[test]
fn what_azure_refuses_at_the_edge_is_refused_with_its_line() {
    for case in cases() {
        assert_refused_with_words(TAG, BASE, &case);
    }
}

#[test]
fn a_public_address_in_a_vnets_range_is_a_warning() {
    let text = BASE.replacen(
        "public_ip_addresses:\n",
        "public_ip_addresses:\n  - {name: spare-pip, ip_address: 10.2.9.9}\n",
        1,
    );
    let (code, stderr, path) = check(TAG, "public-in-private", &text);
    assert_eq!(code, Some(0), "{stderr}");
    let line = common::broken_files::line_of(&text, "ip_address: 10.2.9.9", "warning");
    let want = format!(
        "{}:{line}: warning: public_ip_addresses[spare-pip]: 10.2.9.9 is inside VNet `spoke2`'s \
         range 10.2.0.0/16: packets to it from the lab stay in the lab",
        path.display()
    );
    assert!(
        stderr.lines().any(|l| l == want),
        "expected\n{want}\ngot:\n{stderr}"
    );
}
