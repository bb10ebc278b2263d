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

#[allow(
    clippy::too_many_lines,
    reason = "the table of broken files, one case each"
)]
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
        Case {
            name: "router-and-routers",
            edits: &[(
                "    router: {netns: branch1, asn: 65050, bgp_speaker: bird}\n",
                "    router: {netns: branch1, asn: 65050, bgp_speaker: bird}\n    routers: [{name: edge2, asn: 65050, bgp_speaker: frr}]\n",
            )],
            expect: &[(
                "  - name: branch1\n",
                "routers: give either `router` (one device) or `routers`",
            )],
        },
        Case {
            name: "several-routers-and-a-gateway-naming-none",
            edits: &[(
                "    router: {netns: branch1, asn: 65050, bgp_speaker: bird}\n",
                "    routers:\n      - {name: edge1, asn: 65050, bgp_speaker: bird}\n      - {name: edge2, asn: 65050, bgp_speaker: frr}\n",
            )],
            expect: &[(
                "  - name: branch1-lng",
                "local_network_gateways[branch1-lng].router: site `branch1` has 2 routers (`edge1`, `edge2`): name the one",
            )],
        },
        Case {
            name: "a-gateway-naming-a-router-the-site-lacks",
            edits: &[
                (
                    "    router: {netns: branch1, asn: 65050, bgp_speaker: bird}\n",
                    "    routers:\n      - {name: edge1, asn: 65050, bgp_speaker: bird}\n      - {name: edge2, asn: 65050, bgp_speaker: frr}\n",
                ),
                ("    site: branch1\n", "    site: branch1\n    router: edge9\n"),
            ],
            expect: &[(
                "router: edge9",
                "site `branch1` has no router named `edge9` (its routers: `edge1`, `edge2`)",
            )],
        },
        Case {
            name: "two-routers-of-one-name",
            edits: &[(
                "    router: {netns: branch1, asn: 65050, bgp_speaker: bird}\n",
                "    routers:\n      - {name: edge1, asn: 65050, bgp_speaker: bird}\n      - {name: edge1, asn: 65050, bgp_speaker: frr}\n",
            ), ("    site: branch1\n", "    site: branch1\n    router: edge1\n")],
            expect: &[
                ("{name: edge1, asn: 65050, bgp_speaker: frr}", "duplicate router name `edge1`"),
                (
                    "{name: edge1, asn: 65050, bgp_speaker: frr}",
                    "namespace `branch1-edge1` is already used by router `edge1` of site `branch1`",
                ),
            ],
        },
        Case {
            // Without BGP the gateway routes the site's static prefixes:
            // Azure takes one network from several local network
            // gateways only over BGP.
            name: "two-sites-of-one-range-one-without-bgp",
            edits: &[
                (
                    "virtual_network_gateways:",
                    "  - name: branch2\n    address_space: [192.168.0.0/16]\n    router: {netns: branch2, bgp_speaker: none}\n\nvirtual_network_gateways:",
                ),
                (
                    "virtual_network_gateway_connections:",
                    "  - {name: branch2-lng, site: branch2, gateway_address: 203.0.113.20, address_space: [192.168.0.0/16]}\n\nvirtual_network_gateway_connections:",
                ),
                (
                    "# What must hold",
                    "  - {name: hub-to-branch2, type: IPsec, virtual_network_gateway: hub-vpngw, local_network_gateway: branch2-lng}\n\n# What must hold",
                ),
            ],
            expect: &[(
                "  - name: branch1\n",
                "range 192.168.0.0/16 of site `branch1` overlaps site `branch2` (192.168.0.0/16), in the same routing domain, and a connection to one of them has no BGP",
            )],
        },
    ]
}

/// `vnetd check` of `base` with `edits`: exit 0, and a warning at the
/// first line holding `at` that contains `words`.
fn assert_valid_with_warning(
    name: &str,
    base: &str,
    edits: &[(&str, &str)],
    at: &str,
    words: &str,
) {
    let mut text = base.to_string();
    for (from, to) in edits {
        assert!(text.contains(from), "{name}: `{from}` not found");
        text = text.replacen(from, to, 1);
    }
    let (code, stderr, path) = check(TAG, name, &text);
    assert_eq!(code, Some(0), "{name}: {stderr}");
    let line = common::broken_files::line_of(&text, at, name);
    let prefix = format!("{}:{line}: warning: ", path.display());
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with(&prefix) && l.contains(words)),
        "{name}: expected a warning at line {line} containing {words:?}; got:\n{stderr}"
    );
}

/// Two local network gateways of one router: it holds the first one's BGP
/// address on its tunnels, so the second one's sessions can never come up.
/// Azure takes the file (it knows no routers); `check` says so.
#[test]
fn a_second_local_gateway_of_one_router_is_warned_about() {
    assert_valid_with_warning(
        "second-gateway-of-one-router",
        BASE,
        &[
            (
                "virtual_network_gateway_connections:",
                "  - {name: branch1-lng2, site: branch1, gateway_address: 203.0.113.11, address_space: [], bgp_settings: {asn: 65050, bgp_peering_address: 192.168.255.2}}\n\nvirtual_network_gateway_connections:",
            ),
            (
                "# What must hold",
                "  - {name: hub-to-branch1-2, type: IPsec, virtual_network_gateway: hub-vpngw, local_network_gateway: branch1-lng2, bgp_enabled: true}\n\n# What must hold",
            ),
        ],
        "{name: hub-to-branch1-2",
        "virtual_network_gateway_connections[hub-to-branch1-2].local_network_gateway: the BGP \
         sessions of gateway `hub-vpngw` with 192.168.255.2 (local network gateway `branch1-lng2`) \
         never come up: no router holds that address on its tunnels to `hub-vpngw`, since the \
         router of site `branch1` holds one BGP address per gateway (it holds 192.168.255.1)",
    );
}

/// Two sites holding the same range, both over BGP: Azure takes the prefix
/// from both local network gateways and spreads flows over both, so the
/// file is valid; `check` warns that these are two networks.
#[test]
fn two_sites_of_one_range_over_bgp_are_valid_with_a_warning() {
    assert_valid_with_warning(
        "two-sites-of-one-range-over-bgp",
        BASE,
        &[
            (
                "virtual_network_gateways:",
                "  - name: branch2\n    address_space: [192.168.0.0/16]\n    router: {netns: branch2, asn: 65060, bgp_speaker: frr}\n\nvirtual_network_gateways:",
            ),
            (
                "virtual_network_gateway_connections:",
                "  - {name: branch2-lng, site: branch2, gateway_address: 203.0.113.20, address_space: [], bgp_settings: {asn: 65060, bgp_peering_address: 192.168.254.1}}\n\nvirtual_network_gateway_connections:",
            ),
            (
                "# What must hold",
                "  - {name: hub-to-branch2, type: IPsec, virtual_network_gateway: hub-vpngw, local_network_gateway: branch2-lng, bgp_enabled: true}\n\n# What must hold",
            ),
        ],
        "  - name: branch1\n",
        "range 192.168.0.0/16 of site `branch1` overlaps site `branch2` (192.168.0.0/16): both \
         reach the gateway over BGP",
    );
}

/// A third router that no local network gateway stands for: valid, with
/// a warning that the flows the hosts hand it go nowhere.
#[test]
fn a_router_nothing_connects_is_warned_about() {
    let base = include_str!("../../config/dual-device-vpn.yaml");
    assert_valid_with_warning(
        "idle-router",
        base,
        &[(
            "      - {name: vpn2, asn: 65050, bgp_speaker: frr}\n",
            "      - {name: vpn2, asn: 65050, bgp_speaker: frr}\n      - {name: vpn3, asn: 65050, bgp_speaker: bird}\n",
        )],
        "{name: vpn3",
        "on_premises_sites[onprem].routers[vpn3]: no local network gateway stands for router \
         `vpn3`",
    );
}

/// The dual-device example, as a user writes it, is valid without a
/// warning.
#[test]
fn the_dual_device_example_is_valid_without_warnings() {
    let text = include_str!("../../config/dual-device-vpn.yaml");
    let (code, stderr, _) = check(TAG, "dual-device", text);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
}

/// A Vnet2Vnet connection with BGP held on one side only: the sessions it
/// configures never come up, and `check` says so at the connection.
#[test]
fn a_one_sided_bgp_vnet2vnet_connection_is_warned_about() {
    let base = include_str!("../../config/vnet2vnet-triangle.yaml");
    let without_c_to_a: String = base
        .lines()
        .filter(|l| !l.contains("name: c-to-a"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(without_c_to_a, base, "the triangle has a c-to-a connection");
    assert_valid_with_warning(
        "one-sided-vnet2vnet",
        &without_c_to_a,
        &[],
        "name: a-to-c",
        "virtual_network_gateway_connections[a-to-c]: the BGP session of gateway `gw-a` \
         (instance 0) with",
    );
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
