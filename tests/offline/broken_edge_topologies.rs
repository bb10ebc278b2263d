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
        Case {
            name: "ipv6-address-on-a-standard-nat-gateway",
            edits: &[(
                "{name: nat-pip, sku: Standard, ip_address: 198.51.100.10,",
                "{name: nat-pip, sku: Standard, ip_address: \"2001:db8:100::10\",",
            )],
            expect: &[(
                "public_ip_addresses: [nat-pip]",
                "public IP address `nat-pip` is IPv6: a Standard NAT gateway takes IPv4 \
                 addresses only (StandardV2 takes IPv6 too)",
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

const PUBLIC_LB: &str = include_str!("../../config/public-load-balancer.yaml");

/// What Azure refuses of a public load balancer, each a change of
/// `config/public-load-balancer.yaml`.
fn public_load_balancer_cases() -> Vec<Case> {
    vec![
        Case {
            name: "plb-public-and-private-frontends",
            edits: &[(
                "      - {name: out-fe, public_ip_address: out-pip}",
                "      - {name: out-fe, public_ip_address: out-pip}\n      - {name: inside, \
                 subnet: app/web, private_ip_address: 10.3.1.100}",
            )],
            expect: &[(
                "{name: inside,",
                "frontend `inside` and frontend `web-fe` are one public and one private: Azure \
                 keeps a load balancer's frontends all public or all private",
            )],
        },
        Case {
            name: "plb-basic-public-ip-on-a-frontend",
            edits: &[(
                "{name: web-pip, sku: Standard,",
                "{name: web-pip, sku: Basic,",
            )],
            expect: &[(
                "{name: web-fe, public_ip_address: web-pip}",
                "is Basic: a Standard load balancer takes Standard public IPs",
            )],
        },
        Case {
            name: "plb-public-ip-of-another-region",
            edits: &[(
                "ip_address: 198.51.100.51, location: westeurope}",
                "ip_address: 198.51.100.51, location: northeurope}",
            )],
            expect: &[(
                "{name: out-fe, public_ip_address: out-pip}",
                "is in northeurope, the resource using it in westeurope",
            )],
        },
        Case {
            name: "plb-rule-keeps-its-snat-beside-an-outbound-rule",
            edits: &[
                (
                    "backend_port: 80, disable_outbound_snat: true}",
                    "backend_port: 80, disable_outbound_snat: false}",
                ),
                (
                    "frontend_ip_configurations: [out-fe]",
                    "frontend_ip_configurations: [web-fe]",
                ),
            ],
            expect: &[(
                "- {name: http, frontend_ip_configuration: web-fe",
                "Azure requires `disable_outbound_snat: true` on that rule",
            )],
        },
        Case {
            name: "plb-more-ports-than-the-frontend-offers",
            edits: &[(
                "protocol: All, idle_timeout_in_minutes: 4}",
                "protocol: All, idle_timeout_in_minutes: 4, allocated_outbound_ports: 32000}",
            )],
            expect: &[(
                "allocated_outbound_ports: 32000",
                "32000 ports for each of the 3 NICs of pool `webs` is 96000 ports, more than the \
                 64000 its 1 frontend address(es) offer",
            )],
        },
        Case {
            name: "plb-ports-not-in-blocks-of-eight",
            edits: &[(
                "protocol: All, idle_timeout_in_minutes: 4}",
                "protocol: All, idle_timeout_in_minutes: 4, allocated_outbound_ports: 100}",
            )],
            expect: &[(
                "allocated_outbound_ports: 100",
                "100 is not a multiple of 8: Azure allocates ports in blocks of 8",
            )],
        },
        Case {
            name: "plb-public-ip-used-twice",
            edits: &[(
                "{name: web3, subnet: app/web, private_ip_address: 10.3.1.6, public_ip_address: \
                 web3-pip}",
                "{name: web3, subnet: app/web, private_ip_address: 10.3.1.6, public_ip_address: \
                 out-pip}",
            )],
            expect: &[(
                "public_ip_address: out-pip}",
                "public IP address `out-pip` is already used by frontend `out-fe` of load \
                 balancer `web-lb`",
            )],
        },
    ]
}

#[test]
fn what_azure_refuses_of_a_public_load_balancer_is_refused_with_its_line() {
    for case in public_load_balancer_cases() {
        assert_refused_with_words("plb", PUBLIC_LB, &case);
    }
}
