//! Azure VMware Solution private clouds from a file: the example's cloud
//! resolves to its Tier-0 router as a site and its circuit, its /22 is
//! carved as Azure carves it, its circuit's peering sits on the
//! ExpressRoute /27, and a block that is not a /22 is refused at its line,
//! without a second error for what names its circuit.

use std::net::Ipv4Addr;
use vnetd::topology::{parse_str, PrivateCloud, PRIVATE_CLOUD_ASN};

fn example() -> String {
    let path = format!(
        "{}/config/avs-expressroute.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn a_private_cloud_is_its_tier0_site_and_its_circuit() {
    let topo = parse_str("avs.yaml", &example()).unwrap().topology;
    assert_eq!(topo.private_clouds.len(), 1);
    let cloud = &topo.private_clouds[0];
    assert_eq!(
        (
            cloud.name.as_str(),
            cloud.sku.as_str(),
            cloud.location.as_str()
        ),
        ("avs1", "av36", "westeurope")
    );
    let site = &topo.sites[cloud.site];
    let ranges: Vec<String> = site.address_space.iter().map(ToString::to_string).collect();
    assert_eq!(ranges, ["10.100.0.0/22", "10.110.1.0/24"]);
    assert_eq!(site.first_router().asn, Some(PRIVATE_CLOUD_ASN));
    let hosts: Vec<(String, String)> = site
        .hosts
        .iter()
        .map(|h| (h.name.clone(), h.address.to_string()))
        .collect();
    assert_eq!(
        hosts,
        [
            ("avs1-vcenter".to_string(), "10.100.0.2".to_string()),
            ("avs-vm".to_string(), "10.110.1.10".to_string()),
        ]
    );
    let circuit = &topo.circuits[cloud.circuit];
    assert_eq!(circuit.name, "avs1");
    assert_eq!(circuit.site, cloud.site);
    assert_eq!(circuit.bandwidth_mbps, 10_000);
    let peering = &circuit.private_peering;
    assert_eq!(peering.peer_asn, PRIVATE_CLOUD_ASN);
    assert_eq!(
        (peering.primary.to_string(), peering.secondary.to_string()),
        ("10.100.0.224/30".to_string(), "10.100.0.228/30".to_string())
    );
    // Microsoft's edge takes the second address of each.
    assert_eq!(peering.microsoft_address(0).to_string(), "10.100.0.226");
    assert_eq!(peering.microsoft_address(1).to_string(), "10.100.0.230");
}

#[test]
fn the_slash_22_is_carved_into_azures_segments_without_gap_or_overlap() {
    let block = "10.100.0.0/22".parse().unwrap();
    let carving = PrivateCloud::carving(block);
    let named = |what: &str| {
        carving
            .iter()
            .find(|(w, _)| w.starts_with(what))
            .map(|(_, n)| n.to_string())
            .unwrap()
    };
    assert_eq!(named("management"), "10.100.0.0/26");
    assert_eq!(named("ExpressRoute"), "10.100.0.224/27");
    assert_eq!(named("vMotion"), "10.100.1.128/25");
    assert_eq!(named("vSAN"), "10.100.2.128/25");
    // Every segment inside the /22, none overlapping another (a linear
    // scan over every pair).
    for (i, (a_what, a)) in carving.iter().enumerate() {
        assert!(block.contains(a), "{a_what} {a}");
        for (b_what, b) in &carving[i + 1..] {
            assert!(
                !a.contains(&b.network()) && !b.contains(&a.network()),
                "{a_what} {a} overlaps {b_what} {b}"
            );
        }
    }
    let (primary, secondary) = PrivateCloud::peering_links(block);
    let er = named("ExpressRoute").parse::<ipnet::Ipv4Net>().unwrap();
    assert!(er.contains(&primary) && er.contains(&secondary));
    assert_eq!(
        PrivateCloud::vcenter_address(block),
        Ipv4Addr::new(10, 100, 0, 2)
    );
}

#[test]
fn a_network_block_that_is_not_a_slash_22_is_refused_at_its_line() {
    for (block, why) in [
        ("10.100.0.0/23", "is not an IPv4 /22"),
        ("fd00::/56", "is not an IPv4 /22"),
        ("10.100.1.0/22", "has host bits set"),
    ] {
        let text = example().replace(
            "network_subnet_cidr: 10.100.0.0/22",
            &format!("network_subnet_cidr: {block}"),
        );
        let errors = parse_str("avs.yaml", &text).unwrap_err();
        let line = text
            .lines()
            .position(|l| l.contains("network_subnet_cidr"))
            .unwrap()
            + 1;
        assert!(
            errors.iter().any(|d| d.line == line
                && d.key == "vmware_private_clouds[avs1].network_subnet_cidr"
                && d.message.contains(why)),
            "{block}: {errors:#?}"
        );
        if why.starts_with("is not") {
            // The connection and the Global Reach link that name the cloud's
            // circuit are not refused again for it.
            assert!(
                !errors.iter().any(|d| d.message.contains("circuit")),
                "{block}: {errors:#?}"
            );
        }
    }
}
