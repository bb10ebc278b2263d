use super::*;
use crate::topology::catalog::round_trips::round_trip_ms;
use crate::topology::{parse_str, ByName};

fn load(name: &str, text: &str) -> Topology {
    parse_str(name, text).expect("the lab parses").topology
}

/// The lab `text`, named `name`, with its first `old` replaced by `new`.
fn edited(name: &str, text: &str, old: &str, new: &str) -> Topology {
    load(name, &text.replacen(old, new, 1))
}

fn nic(topo: &Topology, name: &str) -> Endpoint {
    Endpoint::Nic(topo.nic_by_name(name).expect("the NIC"))
}

fn gateway(topo: &Topology, name: &str) -> Endpoint {
    Endpoint::Gateway(topo.gateways.by_name(name).expect("the gateway"))
}

/// The triangle, its branch site 12 ms away.
fn triangle_with_site_latency() -> Topology {
    edited(
        "triangle",
        TRIANGLE,
        "router: {netns: tri-branch, asn: 65050, bgp_speaker: bird}",
        "router: {netns: tri-branch, asn: 65050, bgp_speaker: bird}\n    latency_ms: 12",
    )
}

/// The triangle's branch site as reached through gateway `gateway`.
fn branch_site(gateway: GatewayIdx) -> Endpoint {
    Endpoint::Site {
        site: SiteIdx::new(0),
        gateway,
    }
}

const MESH: &str = include_str!("../../../../../config/three-region-mesh.yaml");
const TRIANGLE: &str = include_str!("../../../../../config/vnet2vnet-triangle.yaml");

#[test]
fn a_global_peering_takes_half_the_published_round_trip_of_its_direction() {
    let topo = load("mesh", MESH);
    for (a, b, from, to) in [
        ("weu-vm", "eus-vm", "westeurope", "eastus"),
        ("eus-vm", "weu-vm", "eastus", "westeurope"),
        ("sea-vm", "weu-vm", "southeastasia", "westeurope"),
    ] {
        let hop = hop(&topo, nic(&topo, a), nic(&topo, b));
        let published = u32::from(round_trip_ms(from, to).unwrap());
        assert_eq!(hop.delay_us, published * 500, "{a} -> {b}");
        assert!(matches!(hop.delay_source, DelaySource::Regions { .. }));
        assert_eq!(
            hop.mtu, PATH_MTU_OUTSIDE_VNET,
            "global peering carries 1500"
        );
        assert_eq!(hop.bottleneck(), None);
        assert!(hop.holds_packets());
    }
}

#[test]
fn a_ping_round_trip_is_the_mean_of_the_two_directions() {
    let topo = load("mesh", MESH);
    let there = hop(&topo, nic(&topo, "weu-vm"), nic(&topo, "eus-vm")).delay_us;
    let back = hop(&topo, nic(&topo, "eus-vm"), nic(&topo, "weu-vm")).delay_us;
    // 85 ms west to east, 83 ms east to west.
    assert_eq!(there + back, 84_000);
}

#[test]
fn a_link_s_impairments_replace_the_regions_delay_and_cap_it() {
    let topo = edited(
        "mesh",
        MESH,
        "{ name: weu-to-eus, virtual_network: weu, remote_virtual_network: eus }",
        "{ name: weu-to-eus, virtual_network: weu, remote_virtual_network: eus, impairments: {latency_ms: 5, jitter_ms: 1, loss_percent: 0.1, rate_mbps: 500} }",
    );
    let hop = hop(&topo, nic(&topo, "weu-vm"), nic(&topo, "eus-vm"));
    assert_eq!(hop.delay_us, 5_000);
    assert_eq!(hop.delay_source, DelaySource::Link);
    assert_eq!(hop.jitter_us, 1_000);
    assert_eq!(hop.loss_ppm, 1_000);
    assert_eq!(
        hop.bottleneck(),
        Some(Cap::Link {
            link: Link::Peering(0),
            mbps: 500
        })
    );
    // The other direction is the other link, unimpaired.
    let back = super::hop(&topo, nic(&topo, "eus-vm"), nic(&topo, "weu-vm"));
    assert_eq!(back.delay_us, 83 * 500);
    assert_eq!(back.bottleneck(), None);
}

#[test]
fn inside_a_region_nothing_is_added_and_the_receiver_s_mtu_holds() {
    let topo = edited(
        "mesh",
        MESH,
        "{ name: eus-vm, subnet: eus/default, private_ip_address: 10.20.1.4 }",
        "{ name: eus-vm, subnet: eus/default, private_ip_address: 10.20.1.4, mtu: 9000 }\n  - { name: eus-vm2, subnet: eus/default, private_ip_address: 10.20.1.5, mtu: 3900 }",
    );
    let hop = hop(&topo, nic(&topo, "eus-vm"), nic(&topo, "eus-vm2"));
    assert_eq!(
        hop,
        HopShaping {
            mtu: 3900,
            ..HopShaping::NONE
        }
    );
    assert!(!hop.holds_packets());
    // Across the global peering the path stops at 1500 whatever the NICs say.
    let global = super::hop(&topo, nic(&topo, "weu-vm"), nic(&topo, "eus-vm"));
    assert_eq!(global.mtu, 1500);
}

#[test]
fn a_vnet2vnet_tunnel_takes_the_regions_delay_the_vpn_mtu_and_the_gateway_it_leaves() {
    let topo = load("triangle", TRIANGLE);
    let hop = hop(&topo, gateway(&topo, "gw-a"), gateway(&topo, "gw-b"));
    assert_eq!(
        hop.delay_us,
        u32::from(round_trip_ms("westeurope", "northeurope").unwrap()) * 500
    );
    assert_eq!(hop.mtu, VPN_TUNNEL_MTU);
    assert_eq!(hop.mss_clamp, Some(VPN_TCP_MSS));
    let Some(Cap::Gateway { mbps, .. }) = hop.gateway_cap else {
        panic!("the hop leaves gw-a");
    };
    assert_eq!(mbps, 650, "VpnGw1");
}

#[test]
fn a_site_s_tunnel_takes_its_latency_and_a_vpn_s_mtu() {
    let topo = triangle_with_site_latency();
    let Endpoint::Gateway(gw_c) = gateway(&topo, "gw-c") else {
        unreachable!()
    };
    let site = branch_site(gw_c);
    let out = hop(&topo, Endpoint::Gateway(gw_c), site);
    let back = hop(&topo, site, Endpoint::Gateway(gw_c));
    for h in [out, back] {
        assert_eq!(h.delay_us, 12_000);
        assert_eq!(h.delay_source, DelaySource::Site(SiteIdx::new(0)));
        assert_eq!((h.mtu, h.mss_clamp), (1400, Some(1350)));
    }
    // Only the hop that leaves the gateway is charged to it.
    assert!(out.gateway_cap.is_some());
    assert!(back.gateway_cap.is_none());
    // Into the VNet from the gateway: charged, a 1500 path, same region.
    let into = hop(&topo, Endpoint::Gateway(gw_c), nic(&topo, "vm-c"));
    assert_eq!(into.delay_us, 0);
    assert_eq!(into.mtu, 1500);
    assert!(into.gateway_cap.is_some());
}

#[test]
fn a_vm_s_egress_limit_is_its_size_s() {
    let topo = load("mesh", MESH);
    let weu = topo.nic_by_name("weu-vm").unwrap();
    let sea = topo.nic_by_name("sea-vm").unwrap();
    assert_eq!(
        vm_egress(&topo, weu).map(|v| v.mbps),
        Some(1_000),
        "Standard_D2s_v3"
    );
    assert_eq!(vm_egress(&topo, sea), None, "no VM owns sea-vm");
}

#[test]
fn a_spoke_vm_reaches_a_site_through_its_hub_gateway_and_the_site_s_path() {
    let topo = triangle_with_site_latency();
    let Endpoint::Gateway(gw_a) = gateway(&topo, "gw-a") else {
        unreachable!()
    };
    let Endpoint::Gateway(gw_c) = gateway(&topo, "gw-c") else {
        unreachable!()
    };
    let site = branch_site(gw_c);
    let spoke = nic(&topo, "spoke-vm");
    assert_eq!(
        path(&topo, spoke, site),
        vec![
            spoke,
            Endpoint::Gateway(gw_a),
            Endpoint::Gateway(gw_c),
            site
        ]
    );
    let shaping = between(&topo, spoke, site);
    // Spoke to hub-a: one region; gw-a to gw-c: West Europe to UK South;
    // then the site's 12 ms.
    let regions = u32::from(round_trip_ms("westeurope", "uksouth").unwrap()) * 500;
    assert_eq!(shaping.delay_us, regions + 12_000);
    assert_eq!(shaping.mtu, VPN_TUNNEL_MTU);
    assert_eq!(shaping.mss_clamp, Some(VPN_TCP_MSS));
    let caps: Vec<Cap> = shaping.caps.iter().flatten().copied().collect();
    assert_eq!(
        caps,
        vec![
            Cap::Gateway {
                gateway: gw_a,
                mbps: 650
            },
            Cap::Gateway {
                gateway: gw_c,
                mbps: 650
            }
        ]
    );
    // The way back: site, gw-c, gw-a, the spoke.
    let back = between(&topo, site, spoke);
    assert_eq!(
        back.delay_us,
        12_000 + u32::from(round_trip_ms("uksouth", "westeurope").unwrap()) * 500
    );
    assert_eq!(back.caps.iter().flatten().count(), 2);
}

#[test]
fn peered_vms_take_the_peering_not_a_gateway() {
    let topo = load("mesh", MESH);
    let (a, b) = (nic(&topo, "weu-vm"), nic(&topo, "sea-vm"));
    assert_eq!(path(&topo, a, b), vec![a, b]);
    assert_eq!(between(&topo, a, b).delay_us, hop(&topo, a, b).delay_us);
}

#[test]
fn losses_compound_and_the_three_lowest_caps_bind() {
    let mut hop1 = HopShaping::NONE;
    hop1.loss_ppm = 100_000;
    let link = |mbps| {
        Some(Cap::Link {
            link: Link::Peering(0),
            mbps,
        })
    };
    hop1.link_cap = link(900);
    let mut hop2 = HopShaping::NONE;
    hop2.loss_ppm = 100_000;
    hop2.link_cap = link(300);
    hop2.gateway_cap = link(700);
    let mut hop3 = HopShaping::NONE;
    hop3.link_cap = link(500);
    let path = [hop1, hop2, hop3]
        .iter()
        .fold(PathShaping::plain(u16::MAX), |p, h| p.then(h));
    // 1 - 0.9 * 0.9
    assert_eq!(path.loss_ppm, 190_000);
    let mut caps: Vec<u32> = path.caps.iter().flatten().map(|c| c.mbps()).collect();
    caps.sort_unstable();
    assert_eq!(caps, vec![300, 500, 700]);
    assert_eq!(path.bottleneck().map(Cap::mbps), Some(300));
}

#[test]
fn what_a_firewall_forwards_counts_against_its_tier_towards_the_internet_too() {
    const FIREWALL: &str = include_str!("../../../../../config/hub-spoke-firewall.yaml");
    let topo = load("fw", FIREWALL);
    let fw = Endpoint::Firewall(FirewallIdx::new(0));
    let basic = Some(Cap::Firewall {
        firewall: FirewallIdx::new(0),
        mbps: 250,
    });
    // Every hop that leaves it is charged, whether to a VNet or out.
    for to in [nic(&topo, "vm2"), Endpoint::Internet] {
        let out = hop(&topo, fw, to);
        assert_eq!(out.gateway_cap, basic, "to {to:?}");
        assert!(out.holds_packets(), "to {to:?}");
    }
    // What reaches it is charged where it leaves, not twice.
    for from in [nic(&topo, "vm1"), Endpoint::Internet] {
        assert_eq!(hop(&topo, from, fw), HopShaping::NONE, "from {from:?}");
    }
    // The Internet's own hops add nothing.
    assert_eq!(
        hop(&topo, nic(&topo, "vm1"), Endpoint::Internet),
        HopShaping::NONE
    );
}
