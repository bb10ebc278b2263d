//! Broken hybrid topologies (gateways, local network gateways, connections,
//! on-premises sites) are refused by `vnetd check` with exit code 1 and a
//! message naming the file, the line and the problem; none panics. Each
//! case is `config/hybrid.yaml` with one change, checked through the real
//! binary, so every other line of the file stays valid.

use crate::common;

use common::broken_files::{assert_refused_with_words, check, Case};

/// The directory of this test's files under the system's temporary one.
const TAG: &str = "hybrid";

const BASE: &str = include_str!("../../config/hybrid.yaml");

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "gateway-subnet-misnamed",
            edits: &[("- name: GatewaySubnet", "- name: Gatewaysubnet")],
            expect: &[
                ("- name: Gatewaysubnet", "must be spelled exactly `GatewaySubnet`"),
                ("    virtual_network: hub\n", "has no subnet named `GatewaySubnet`"),
            ],
        },
        Case {
            name: "gateway-subnet-too-small",
            edits: &[("[10.0.255.224/27]", "[10.0.255.224/30]")],
            expect: &[("[10.0.255.224/30]", "smallest IPv4 subnet Azure allows is /29")],
        },
        Case {
            name: "nic-in-gateway-subnet",
            edits: &[(
                "    subnet: hub/default\n    private_ip_address: 10.0.1.4",
                "    subnet: hub/GatewaySubnet\n    private_ip_address: 10.0.255.230",
            )],
            expect: &[("name: hub-vm", "reserved for virtual network gateways")],
        },
        Case {
            name: "two-vpn-gateways-in-one-vnet",
            edits: &[(
                "local_network_gateways:",
                "  - {name: hub-vpngw2, virtual_network: hub, type: Vpn}\n\nlocal_network_gateways:",
            )],
            expect: &[("name: hub-vpngw2", "already has a Vpn gateway (`hub-vpngw`)")],
        },
        Case {
            name: "use-remote-gateways-without-remote-gateway",
            edits: &[(
                "network_interfaces:",
                "  - {name: spoke1-to-spoke3, virtual_network: spoke1, remote_virtual_network: spoke3, allow_gateway_transit: true}\n  - {name: spoke3-to-spoke1, virtual_network: spoke3, remote_virtual_network: spoke1, use_remote_gateways: true}\n\nnetwork_interfaces:",
            ), (
                "peerings:",
                "  - name: spoke3\n    address_space: [10.3.0.0/16]\n    location: westeurope\n\npeerings:",
            )],
            expect: &[("name: spoke3-to-spoke1", "`spoke1` has no gateway to use (Azure: RemoteVnetHasNoGateways)")],
        },
        Case {
            name: "use-remote-gateways-with-own-gateway",
            edits: &[(
                "        address_prefixes: [10.1.1.0/24]\n",
                "        address_prefixes: [10.1.1.0/24]\n      - name: GatewaySubnet\n        address_prefixes: [10.1.255.0/27]\n",
            ), (
                "local_network_gateways:",
                "  - {name: spoke1-vpngw, virtual_network: spoke1, type: Vpn}\n\nlocal_network_gateways:",
            )],
            expect: &[("name: spoke1-to-hub", "has its own gateway `spoke1-vpngw`")],
        },
        Case {
            name: "policy-based-with-bgp",
            edits: &[("vpn_type: RouteBased", "vpn_type: PolicyBased")],
            expect: &[
                ("- name: hub-vpngw", "PolicyBased gateways do not support it"),
                ("- name: hub-to-branch1", "is PolicyBased: BGP needs a RouteBased gateway"),
            ],
        },
        Case {
            name: "azure-reserved-asn-on-a-site",
            edits: &[
                ("asn: 65050, bgp_speaker: bird", "asn: 65517, bgp_speaker: bird"),
                ("{asn: 65050, bgp_peering_address", "{asn: 65517, bgp_peering_address"),
            ],
            expect: &[
                ("asn: 65517, bgp_speaker", "router.asn: ASN 65517 is reserved by Azure"),
                ("{asn: 65517, bgp_peering_address", "bgp_settings.asn: ASN 65517 is reserved by Azure"),
            ],
        },
        Case {
            name: "same-asn-on-both-ends",
            edits: &[("bgp_settings: {asn: 65515}", "bgp_settings: {asn: 65050}")],
            expect: &[("- name: hub-to-branch1", "both ends of this BGP connection use ASN 65050")],
        },
        Case {
            name: "dangling-names",
            edits: &[
                ("    site: branch1\n", "    site: branch9\n"),
                ("virtual_network: hub\n    type: Vpn", "virtual_network: hub9\n    type: Vpn"),
            ],
            expect: &[
                ("virtual_network: hub9", "no virtual network named `hub9`"),
                ("site: branch9", "no on-premises site named `branch9`"),
            ],
        },
    ]
}

#[test]
fn the_example_lab_itself_is_valid() {
    let (code, stderr, _) = check(TAG, "unchanged", BASE);
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn broken_hybrid_files_are_refused_with_line_and_reason() {
    let all = cases();
    assert!(all.len() >= 8);
    for case in &all {
        assert_refused_with_words(TAG, BASE, case);
    }
}
