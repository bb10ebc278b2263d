//! Broken ExpressRoute topologies (circuits, ExpressRoute gateways and
//! connections, overlapping ranges of one routing domain) are refused by
//! `vnetd check` with exit code 1 and a message naming the file, the line
//! and the problem; none panics. Each case is `config/expressroute.yaml`
//! with one change, checked through the real binary, so every other line
//! of the file stays valid.

use crate::common;

use common::broken_files::{assert_refused_with_words, check, Case};

/// The directory of this test's files under the system's temporary one.
const TAG: &str = "er";

const BASE: &str = include_str!("../../config/expressroute.yaml");

/// A second site, `dc2`, with its own circuit and a connection to the hub's
/// gateway; `RANGE` is its address space.
macro_rules! second_site {
    ($range:literal) => {
        &[
            (
                "express_route_circuits:",
                concat!(
                    "  - name: dc2\n    address_space: [",
                    $range,
                    "]\n    router: {netns: dc2, asn: 65030, bgp_speaker: frr}\n\nexpress_route_circuits:"
                ),
            ),
            (
                "virtual_network_gateways:",
                "  - name: dc2-circuit\n    site: dc2\n    bandwidth_in_mbps: 500\n    private_peering: {peer_asn: 65030, primary_peer_address_prefix: 172.16.1.0/30, secondary_peer_address_prefix: 172.16.1.4/30}\n\nvirtual_network_gateways:",
            ),
            (
                "expectations:",
                "  - {name: hub-to-dc2, type: ExpressRoute, virtual_network_gateway: hub-ergw, express_route_circuit: dc2-circuit}\n\nexpectations:",
            ),
        ]
    };
}

/// The three edits of `second_site!("172.21.0.0/16")`, one by one.
const DC2_SITE: (&str, &str) = second_site!("172.21.0.0/16")[0];
const DC2_CIRCUIT: (&str, &str) = second_site!("172.21.0.0/16")[1];
const DC2_CONNECTION: (&str, &str) = second_site!("172.21.0.0/16")[2];

#[allow(
    clippy::too_many_lines,
    reason = "the table of broken files, one case each"
)]
fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "site-range-overlaps-a-spoke",
            edits: &[("address_space: [172.20.0.0/16]", "address_space: [10.1.0.0/20]")],
            expect: &[
                ("- name: dc1\n", "range 10.1.0.0/20 of site `dc1` overlaps VNet `spoke1` (10.1.0.0/16)"),
                ("{name: dc-host", "outside the site's address space"),
            ],
        },
        Case {
            name: "vmware-private-cloud-overlaps-the-hub",
            edits: &[
                (
                    "express_route_circuits:",
                    "  - name: avs1\n    address_space: [10.0.4.0/22]\n    router: {netns: avs1, asn: 65040, bgp_speaker: frr}\n\nexpress_route_circuits:",
                ),
                (
                    "virtual_network_gateways:",
                    "  - name: avs1-circuit\n    site: avs1\n    bandwidth_in_mbps: 10000\n    private_peering: {peer_asn: 65040, primary_peer_address_prefix: 172.16.2.0/30, secondary_peer_address_prefix: 172.16.2.4/30}\n\nvirtual_network_gateways:",
                ),
                (
                    "expectations:",
                    "  - {name: hub-to-avs1, type: ExpressRoute, virtual_network_gateway: hub-ergw, express_route_circuit: avs1-circuit}\n\nexpectations:",
                ),
            ],
            expect: &[(
                "- name: avs1\n",
                "range 10.0.4.0/22 of site `avs1` overlaps VNet `hub` (10.0.0.0/16), in the same routing domain",
            )],
        },
        Case {
            name: "circuit-without-site",
            edits: &[("    site: dc1\n", "")],
            expect: &[
                ("- name: dc1-circuit", "needs `site`: the on-premises site whose router is the customer edge"),
            ],
        },
        Case {
            name: "primary-link-not-a-slash-30",
            edits: &[(
                "primary_peer_address_prefix: 172.16.0.0/30",
                "primary_peer_address_prefix: 172.16.0.0/29",
            )],
            expect: &[(
                "primary_peer_address_prefix: 172.16.0.0/29",
                "`172.16.0.0/29` is not a /30",
            )],
        },
        Case {
            name: "links-overlap",
            edits: &[(
                "secondary_peer_address_prefix: 172.16.0.4/30",
                "secondary_peer_address_prefix: 172.16.0.0/30",
            )],
            expect: &[(
                "secondary_peer_address_prefix: 172.16.0.0/30",
                "overlaps the primary link 172.16.0.0/30",
            )],
        },
        Case {
            name: "expressroute-connection-on-a-vpn-gateway",
            edits: &[("type: ExpressRoute\n    sku: Standard", "type: Vpn\n    sku: VpnGw1")],
            expect: &[(
                "    virtual_network_gateway: hub-ergw",
                "gateway `hub-ergw` is of type Vpn, but a connection of type ExpressRoute needs a ExpressRoute gateway",
            )],
        },
        Case {
            name: "ipsec-connection-on-an-expressroute-gateway",
            edits: &[
                ("    type: ExpressRoute\n    virtual_network_gateway", "    type: IPsec\n    local_network_gateway: dc1-lng\n    virtual_network_gateway"),
                (
                    "virtual_network_gateway_connections:",
                    "local_network_gateways:\n  - {name: dc1-lng, site: dc1, gateway_address: 203.0.113.20, address_space: [172.20.0.0/16]}\n\nvirtual_network_gateway_connections:",
                ),
            ],
            expect: &[(
                "    virtual_network_gateway: hub-ergw",
                "gateway `hub-ergw` is of type ExpressRoute, but a connection of type IPsec needs a Vpn gateway",
            )],
        },
        Case {
            name: "vpn-sku-on-an-expressroute-gateway",
            edits: &[("sku: Standard", "sku: VpnGw1")],
            expect: &[("sku: VpnGw1", "`VpnGw1` is not an ExpressRoute gateway SKU")],
        },
        Case {
            name: "dangling-names",
            edits: &[
                ("    site: dc1\n", "    site: dc9\n"),
                ("express_route_circuit: dc1-circuit", "express_route_circuit: dc9-circuit"),
            ],
            expect: &[
                ("site: dc9", "no on-premises site named `dc9`"),
                (
                    "express_route_circuit: dc9-circuit",
                    "no ExpressRoute circuit named `dc9-circuit`",
                ),
            ],
        },
        Case {
            name: "two-circuits-share-a-link",
            edits: &[
                DC2_SITE,
                (
                    "virtual_network_gateways:",
                    "  - name: dc2-circuit\n    site: dc2\n    bandwidth_in_mbps: 500\n    private_peering: {peer_asn: 65030, primary_peer_address_prefix: 172.16.1.0/30, secondary_peer_address_prefix: 172.16.0.4/30}\n\nvirtual_network_gateways:",
                ),
            ],
            expect: &[(
                "- name: dc2-circuit",
                "overlaps 172.16.0.4/30, a link of circuit `dc1-circuit`",
            )],
        },
        Case {
            name: "second-connection-to-one-circuit",
            edits: &[(
                "expectations:",
                "  - {name: hub-to-dc1-again, type: ExpressRoute, virtual_network_gateway: hub-ergw, express_route_circuit: dc1-circuit}\n\nexpectations:",
            )],
            expect: &[(
                "name: hub-to-dc1-again",
                "gateway `hub-ergw` is already connected to circuit `dc1-circuit` by `hub-to-dc1`",
            )],
        },
        Case {
            name: "peer-asn-is-microsofts",
            edits: &[
                ("peer_asn: 65020", "peer_asn: 12076"),
                ("asn: 65020, bgp_speaker", "asn: 65021, bgp_speaker"),
            ],
            expect: &[("peer_asn: 12076", "ASN 12076 is reserved by Azure")],
        },
        Case {
            name: "peer-asn-is-the-gateways",
            edits: &[("peer_asn: 65020", "peer_asn: 65515")],
            expect: &[("peer_asn: 65515", "ASN 65515 is reserved by Azure")],
        },
        Case {
            name: "peer-asn-differs-from-the-router",
            edits: &[("peer_asn: 65020", "peer_asn: 65021")],
            expect: &[(
                "peer_asn: 65021",
                "peer ASN 65021 differs from 65020, the ASN of site `dc1`'s router",
            )],
        },
        Case {
            name: "bandwidth-not-sold",
            edits: &[("bandwidth_in_mbps: 1000", "bandwidth_in_mbps: 1500")],
            expect: &[("bandwidth_in_mbps: 1500", "1500 Mbps is not a circuit size Azure offers")],
        },
        Case {
            name: "global-reach-joins-a-circuit-to-itself",
            edits: &[(
                "virtual_network_gateways:",
                "express_route_circuit_connections:\n  - {name: gr, circuit: dc1-circuit, peer_circuit: dc1-circuit, address_prefix_ipv4: 192.168.8.0/29}\n\nvirtual_network_gateways:",
            )],
            expect: &[("- {name: gr,", "Global Reach joins two different circuits")],
        },
        Case {
            name: "global-reach-prefix-not-a-slash-29",
            edits: &[
                DC2_SITE,
                DC2_CIRCUIT,
                DC2_CONNECTION,
                (
                    "virtual_network_gateways:",
                    "express_route_circuit_connections:\n  - {name: gr, circuit: dc1-circuit, peer_circuit: dc2-circuit, address_prefix_ipv4: 192.168.8.0/28}\n\nvirtual_network_gateways:",
                ),
            ],
            expect: &[(
                "- {name: gr,",
                "`192.168.8.0/28` is not a /29: Global Reach takes an IPv4 /29",
            )],
        },
        Case {
            name: "global-reach-joins-overlapping-sites",
            edits: &[
                (
                    "peerings:",
                    "  - name: hub2\n    address_space: [10.9.0.0/16]\n    location: westeurope\n    subnets:\n      - {name: GatewaySubnet, address_prefixes: [10.9.255.224/27]}\n\npeerings:",
                ),
                (
                    "express_route_circuits:",
                    "  - name: dc2\n    address_space: [172.20.128.0/22]\n    router: {netns: dc2, asn: 65030, bgp_speaker: frr}\n\nexpress_route_circuits:",
                ),
                (
                    "virtual_network_gateways:",
                    "  - name: dc2-circuit\n    site: dc2\n    bandwidth_in_mbps: 500\n    private_peering: {peer_asn: 65030, primary_peer_address_prefix: 172.16.1.0/30, secondary_peer_address_prefix: 172.16.1.4/30}\n\nexpress_route_circuit_connections:\n  - {name: gr, circuit: dc1-circuit, peer_circuit: dc2-circuit, address_prefix_ipv4: 192.168.8.0/29}\n\nvirtual_network_gateways:\n  - {name: hub2-ergw, virtual_network: hub2, type: ExpressRoute}",
                ),
                (
                    "expectations:",
                    "  - {name: hub2-to-dc2, type: ExpressRoute, virtual_network_gateway: hub2-ergw, express_route_circuit: dc2-circuit}\n\nexpectations:",
                ),
            ],
            expect: &[(
                "- {name: gr,",
                "range 172.20.0.0/16 of site `dc1` overlaps site `dc2` (172.20.128.0/22), which this link joins to it",
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
fn a_second_circuit_with_its_own_range_is_valid() {
    let mut text = BASE.to_string();
    for (from, to) in second_site!("172.21.0.0/16") {
        text = text.replacen(from, to, 1);
    }
    let (code, stderr, _) = check(TAG, "second-circuit", &text);
    assert_eq!(code, Some(0), "{stderr}");
}

/// Two circuits announcing overlapping ranges over BGP, as a datacenter
/// on two circuits for redundancy does: Azure takes the prefix from both,
/// so the file is valid, with a warning naming both sites.
#[test]
fn two_sites_overlapping_over_bgp_alone_are_valid_with_a_warning() {
    let mut text = BASE.to_string();
    for (from, to) in second_site!("172.20.128.0/22") {
        text = text.replacen(from, to, 1);
    }
    let (code, stderr, path) = check(TAG, "overlap-over-bgp", &text);
    assert_eq!(code, Some(0), "{stderr}");
    let line = common::broken_files::line_of(&text, "- name: dc1\n", "overlap-over-bgp");
    let warning = format!(
        "{}:{line}: warning: on_premises_sites[dc1].address_space: range 172.20.0.0/16 of site \
         `dc1` overlaps site `dc2` (172.20.128.0/22): both reach the gateway over BGP",
        path.display()
    );
    assert!(stderr.lines().any(|l| l.starts_with(&warning)), "{stderr}");
}

#[test]
fn broken_expressroute_files_are_refused_with_line_and_reason() {
    let all = cases();
    assert!(all.len() >= 6);
    for case in &all {
        assert_refused_with_words(TAG, BASE, case);
    }
}
