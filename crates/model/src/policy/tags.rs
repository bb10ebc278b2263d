//! Azure service tags that NSG rules may name, computed from the topology
//! for one subnet (Azure resolves them per NIC; every NIC of a subnet gets
//! the same answer here).
//!
//! - `VirtualNetwork` ("Azure service tags overview": "the virtual network
//!   address space, all connected on-premises address spaces, peered
//!   virtual networks, virtual networks connected to a virtual network
//!   gateway, the virtual IP address of the host, and address prefixes used
//!   on user-defined routes. This tag might also contain default routes."),
//!   listed unmerged in that order, as Azure's effective security rules
//!   list it: the VNet's own ranges, the on-premises ranges connected
//!   through the gateway serving the VNet (its own or, with gateway
//!   transit, the hub's: local network gateway prefixes and, over BGP, the
//!   site's address space), every prefix that gateway's instances learned
//!   over BGP but a default route (from sites, other gateways and circuits,
//!   transit included: Azure counts "all connected on-premises address
//!   spaces" and "virtual networks connected to a virtual network gateway",
//!   and what BGP brings is connected), the ranges of every peered VNet whose peering
//!   is Connected and whose link held in this VNet allows virtual network
//!   access, the VNets behind the gateway's Vnet2Vnet connections, the host
//!   virtual IP 168.63.129.16, then the prefixes of the user-defined routes
//!   of the subnet's route table (exact duplicates listed once).
//!
//!   A default route among the user routes (0.0.0.0/0 or ::/0) makes the
//!   tag of that family that default route alone, as Azure reports it: with
//!   forced tunnelling "the VirtualNetwork Tag contains only one prefix:
//!   0.0.0.0/0" (github.com/MicrosoftDocs/azure-docs/issues/22178), and
//!   `Get-AzEffectiveNetworkSecurityGroup` shows AllowVnetInBound expanded
//!   to `0.0.0.0/0` (github.com/Azure/azure-powershell/issues/4972). The
//!   classifier merges nothing: overlapping prefixes match alike.
//! - `Internet`: public address space outside the `VirtualNetwork` tag's
//!   ranges, default routes aside (the same report still lists the public
//!   blocks under `Internet` while `VirtualNetwork` is 0.0.0.0/0). IPv4
//!   public space is everything except the special-purpose blocks listed in
//!   [`PUBLIC_V4_EXCLUDED`]; IPv6 public space is the global unicast block
//!   2000::/3.
//! - `AzureLoadBalancer`: 168.63.129.16, the source of health probes.

use super::gateways::{connected_ranges, LearnedRoutes};
use crate::topology::{SubnetRef, Topology};
use ipnet::{IpNet, Ipv4Net, Ipv4Subnets, Ipv6Net, Ipv6Subnets};
use std::net::{Ipv4Addr, Ipv6Addr};

/// The host virtual IP (DHCP, DNS, health probes, WireServer).
pub const AZURE_HOST_VIP: Ipv4Addr = crate::topology::PROBE_SOURCE;

/// The host virtual IP as a prefix.
pub const AZURE_HOST_VIP_NET: Ipv4Net = Ipv4Net::new_assert(AZURE_HOST_VIP, 32);

/// IPv4 blocks that are not public Internet space: "this network",
/// RFC 1918, shared address space (RFC 6598), loopback, link-local,
/// multicast, reserved, and the Azure host virtual IP.
pub const PUBLIC_V4_EXCLUDED: [Ipv4Net; 10] = [
    Ipv4Net::new_assert(Ipv4Addr::new(0, 0, 0, 0), 8),
    Ipv4Net::new_assert(Ipv4Addr::new(10, 0, 0, 0), 8),
    Ipv4Net::new_assert(Ipv4Addr::new(100, 64, 0, 0), 10),
    Ipv4Net::new_assert(Ipv4Addr::new(127, 0, 0, 0), 8),
    Ipv4Net::new_assert(Ipv4Addr::new(169, 254, 0, 0), 16),
    Ipv4Net::new_assert(Ipv4Addr::new(172, 16, 0, 0), 12),
    Ipv4Net::new_assert(Ipv4Addr::new(192, 168, 0, 0), 16),
    Ipv4Net::new_assert(Ipv4Addr::new(224, 0, 0, 0), 4),
    Ipv4Net::new_assert(Ipv4Addr::new(240, 0, 0, 0), 4),
    AZURE_HOST_VIP_NET,
];

/// IPv6 global unicast space, 2000::/3.
pub const PUBLIC_V6: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3);

/// The `VirtualNetwork` tag of `subnet`, in Azure's listing order (see the
/// module docs), unmerged. A subnet reference outside the topology yields
/// only the host virtual IP.
pub fn virtual_network_tag(
    topo: &Topology,
    learned: &LearnedRoutes,
    subnet: SubnetRef,
) -> Vec<IpNet> {
    let nets = tag_ranges(topo, learned, subnet);
    let v4_default = nets
        .iter()
        .any(|n| matches!(n, IpNet::V4(_)) && n.prefix_len() == 0);
    let v6_default = nets
        .iter()
        .any(|n| matches!(n, IpNet::V6(_)) && n.prefix_len() == 0);
    nets.into_iter()
        .filter(|n| match n {
            IpNet::V4(_) => !v4_default || n.prefix_len() == 0,
            IpNet::V6(_) => !v6_default || n.prefix_len() == 0,
        })
        .collect()
}

/// Every range the tag is made of, default routes included, in listing
/// order, each once.
fn tag_ranges(topo: &Topology, learned: &LearnedRoutes, subnet: SubnetRef) -> Vec<IpNet> {
    let mut nets: Vec<IpNet> = Vec::new();
    let mut push = |n: IpNet| {
        let n = n.trunc();
        if !nets.contains(&n) {
            nets.push(n);
        }
    };
    let Some(vnet) = topo.vnets.get(subnet.vnet) else {
        push(IpNet::V4(AZURE_HOST_VIP_NET));
        return nets;
    };
    vnet.address_space.iter().copied().for_each(&mut push);
    let (on_premises, gateway_vnets) = connected_ranges(topo, subnet.vnet);
    on_premises.into_iter().for_each(&mut push);
    for g in topo.serving_gateways(subnet.vnet) {
        let Some(instances) = learned.gateways.get(&topo.gateways[g].name) else {
            continue;
        };
        let mut prefixes: Vec<IpNet> = instances
            .iter()
            .flatten()
            .map(|r| r.prefix)
            .filter(|p| p.prefix_len() != 0)
            .collect();
        prefixes.sort();
        prefixes.into_iter().for_each(&mut push);
    }

    for link in topo.peerings.iter().filter(|p| p.vnet == subnet.vnet) {
        if link.flags.allow_virtual_network_access && topo.peering_connected(link.vnet, link.remote)
        {
            if let Some(peer) = topo.vnets.get(link.remote) {
                peer.address_space.iter().copied().for_each(&mut push);
            }
        }
    }

    // The VNets of its connected groups: reached as peers are.
    for peer in topo.connected_group_peers(subnet.vnet) {
        topo.vnets[peer]
            .address_space
            .iter()
            .copied()
            .for_each(&mut push);
    }

    gateway_vnets.into_iter().for_each(&mut push);
    push(IpNet::V4(AZURE_HOST_VIP_NET));

    let route_table = vnet
        .subnets
        .get(subnet.subnet)
        .and_then(|s| s.route_table)
        .and_then(|rt| topo.route_tables.get(rt));
    if let Some(table) = route_table {
        table
            .routes
            .iter()
            .map(|r| r.address_prefix)
            .for_each(&mut push);
    }
    nets
}

/// The `Internet` tag of `subnet`: public space minus the ranges of the
/// subnet's `VirtualNetwork` tag other than default routes, as a minimal
/// sorted list of CIDRs.
pub fn internet_tag(topo: &Topology, learned: &LearnedRoutes, subnet: SubnetRef) -> Vec<IpNet> {
    let ranges: Vec<IpNet> = tag_ranges(topo, learned, subnet)
        .into_iter()
        .filter(|n| n.prefix_len() != 0)
        .collect();
    subtract_prefixes(&public_space(), &ranges)
}

/// The `AzureLoadBalancer` tag.
pub fn azure_load_balancer_tag() -> Vec<IpNet> {
    vec![IpNet::V4(AZURE_HOST_VIP_NET)]
}

/// Public IPv4 and IPv6 space before any VNet is taken out of it.
pub fn public_space() -> Vec<IpNet> {
    let excluded = PUBLIC_V4_EXCLUDED.map(IpNet::V4);
    let mut space = subtract_prefixes(&[IpNet::V4(Ipv4Net::default())], &excluded);
    space.push(IpNet::V6(PUBLIC_V6));
    space
}

/// The addresses covered by `minuend` and not by `subtrahend`, as the
/// minimal sorted list of CIDRs (IPv4 first). Exact: the result covers
/// precisely the set difference.
pub fn subtract_prefixes(minuend: &[IpNet], subtrahend: &[IpNet]) -> Vec<IpNet> {
    let mut out = Vec::new();
    for v6 in [false, true] {
        let keep = merged_ranges(minuend, v6);
        let cut = merged_ranges(subtrahend, v6);
        for (lo, hi) in subtract_ranges(&keep, &cut) {
            push_range_as_cidrs(&mut out, lo, hi, v6);
        }
    }
    out
}

/// The prefixes of one family as sorted, disjoint, non-adjacent inclusive
/// ranges of `u128`.
fn merged_ranges(nets: &[IpNet], v6: bool) -> Vec<(u128, u128)> {
    let mut ranges: Vec<(u128, u128)> = nets
        .iter()
        .filter_map(|n| match (n, v6) {
            (IpNet::V4(n), false) => Some((
                u128::from(u32::from(n.network())),
                u128::from(u32::from(n.broadcast())),
            )),
            (IpNet::V6(n), true) => Some((u128::from(n.network()), u128::from(n.broadcast()))),
            _ => None,
        })
        .collect();
    ranges.sort_unstable();
    let mut merged: Vec<(u128, u128)> = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        match merged.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    merged
}

/// `keep` minus `cut`; both sorted and disjoint.
fn subtract_ranges(keep: &[(u128, u128)], cut: &[(u128, u128)]) -> Vec<(u128, u128)> {
    let mut out = Vec::new();
    for &(lo, hi) in keep {
        let mut cursor = Some(lo);
        for &(clo, chi) in cut {
            let Some(start) = cursor else { break };
            if chi < start || clo > hi {
                continue;
            }
            if clo > start {
                out.push((start, clo - 1));
            }
            cursor = chi.checked_add(1).filter(|&next| next <= hi);
        }
        if let Some(start) = cursor {
            out.push((start, hi));
        }
    }
    out
}

fn push_range_as_cidrs(out: &mut Vec<IpNet>, lo: u128, hi: u128, v6: bool) {
    if v6 {
        let subnets = Ipv6Subnets::new(Ipv6Addr::from(lo), Ipv6Addr::from(hi), 0);
        out.extend(subnets.map(IpNet::V6));
    } else if let (Ok(lo), Ok(hi)) = (u32::try_from(lo), u32::try_from(hi)) {
        let subnets = Ipv4Subnets::new(Ipv4Addr::from(lo), Ipv4Addr::from(hi), 0);
        out.extend(subnets.map(IpNet::V4));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{self, first_subnet, net, peering, table, vnet};
    use crate::topology::{NextHopType, Peering, Route, VnetIdx};
    use proptest::prelude::*;
    use std::net::IpAddr;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| net(s)).collect()
    }

    fn link(from: usize, to: usize, access: bool) -> Peering {
        let mut link = peering(from, to);
        link.flags.allow_virtual_network_access = access;
        link
    }

    /// A route to `prefix` through the appliance 10.0.1.4.
    fn route(prefix: &str) -> Route {
        let appliance = Some("10.0.1.4");
        fixtures::route(prefix, prefix, NextHopType::VirtualAppliance, appliance)
    }

    /// hub 10.0/16 (with route table 0), spoke1 10.1/16, spoke2 10.2/16,
    /// spoke3 10.3/16.
    fn topo(peerings: Vec<Peering>, routes: Vec<Route>) -> Topology {
        Topology {
            vnets: vec![
                vnet("hub", "westus", &["10.0.0.0/16", "fd00::/48"], Some(0)),
                vnet("spoke1", "westus", &["10.1.0.0/16"], None),
                vnet("spoke2", "westus", &["10.2.0.0/16"], None),
                vnet("spoke3", "westus", &["10.3.0.0/16"], None),
            ]
            .into(),
            peerings,
            route_tables: vec![table(routes)].into(),
            ..Topology::default()
        }
    }

    /// Nothing learned over BGP.
    static NONE: std::sync::LazyLock<LearnedRoutes> =
        std::sync::LazyLock::new(LearnedRoutes::default);

    const HUB: SubnetRef = first_subnet(0);

    #[test]
    fn vnet_tag_has_own_space_and_host_vip() {
        let t = topo(vec![], vec![]);
        assert_eq!(
            virtual_network_tag(&t, &NONE, HUB),
            nets(&["10.0.0.0/16", "fd00::/48", "168.63.129.16/32"])
        );
    }

    #[test]
    fn vnet_tag_peering_connected_one_sided_and_access_off() {
        let t = topo(
            vec![
                // spoke1: connected, access allowed from the hub side.
                link(0, 1, true),
                link(1, 0, true),
                // spoke2: only the hub's link exists (Initiated).
                link(0, 2, true),
                // spoke3: connected, but the hub's link denies access.
                link(0, 3, false),
                link(3, 0, true),
            ],
            vec![],
        );
        let cases: [(SubnetRef, &[&str]); 3] = [
            // Only spoke1 joins, listed after the hub's own ranges, unmerged.
            (
                HUB,
                &[
                    "10.0.0.0/16",
                    "fd00::/48",
                    "10.1.0.0/16",
                    "168.63.129.16/32",
                ],
            ),
            // From spoke3 the hub is in the tag: spoke3's own link allows access.
            (
                first_subnet(3),
                &[
                    "10.3.0.0/16",
                    "10.0.0.0/16",
                    "fd00::/48",
                    "168.63.129.16/32",
                ],
            ),
            // spoke2 holds no link at all.
            (first_subnet(2), &["10.2.0.0/16", "168.63.129.16/32"]),
        ];
        for (subnet, tag) in cases {
            let found = virtual_network_tag(&t, &NONE, subnet);
            assert_eq!(found, nets(tag), "from {subnet:?}");
        }
    }

    #[test]
    fn vnet_tag_lists_udr_prefixes_last_as_written() {
        let t = topo(vec![], vec![route("192.168.7.0/24"), route("10.0.5.0/24")]);
        assert_eq!(
            virtual_network_tag(&t, &NONE, HUB),
            nets(&[
                "10.0.0.0/16",
                "fd00::/48",
                "168.63.129.16/32",
                "192.168.7.0/24",
                "10.0.5.0/24"
            ])
        );
    }

    /// MicrosoftDocs/azure-docs#22178, Azure/azure-powershell#4972: with a
    /// 0/0 user route the tag is 0.0.0.0/0 alone; the other family keeps
    /// its ranges until it has a default route of its own.
    #[test]
    fn vnet_tag_with_a_default_udr_is_that_default_route() {
        let t = topo(vec![], vec![route("192.168.7.0/24"), route("0.0.0.0/0")]);
        assert_eq!(
            virtual_network_tag(&t, &NONE, HUB),
            nets(&["fd00::/48", "0.0.0.0/0"])
        );
        let t = topo(vec![], vec![route("0.0.0.0/0"), route("::/0")]);
        assert_eq!(
            virtual_network_tag(&t, &NONE, HUB),
            nets(&["0.0.0.0/0", "::/0"])
        );
        // The Internet tag still leaves out only the real ranges.
        let tag = internet_tag(&t, &NONE, HUB);
        let inside = |a: &str| {
            let a: IpAddr = a.parse().unwrap();
            tag.iter().any(|n| n.contains(&a))
        };
        assert!(inside("1.1.1.1") && inside("2600::1"));
        assert!(!inside("10.0.0.4") && !inside("168.63.129.16"));
    }

    #[test]
    fn vnet_tag_is_not_merged() {
        let mut t = topo(vec![], vec![route("10.0.128.0/17"), route("10.1.0.0/16")]);
        t.vnets[VnetIdx::new(0)].address_space = nets(&["10.0.0.0/17", "10.0.64.0/18"]);
        assert_eq!(
            virtual_network_tag(&t, &NONE, HUB),
            nets(&[
                "10.0.0.0/17",
                "10.0.64.0/18",
                "168.63.129.16/32",
                "10.0.128.0/17",
                "10.1.0.0/16"
            ])
        );
    }

    #[test]
    fn internet_tag_excludes_private_space_and_the_vnet() {
        let mut t = topo(vec![], vec![route("8.8.8.0/24")]);
        t.vnets[VnetIdx::new(0)].address_space = nets(&["10.0.0.0/16", "2001:db8::/32"]);
        let tag = internet_tag(&t, &NONE, HUB);
        let inside = |a: &str| {
            let a: IpAddr = a.parse().unwrap();
            tag.iter().any(|n| n.contains(&a))
        };
        for public in [
            "1.1.1.1",
            "8.8.9.1",
            "203.0.113.7",
            "2600::1",
            "168.63.129.15",
        ] {
            assert!(inside(public), "{public}");
        }
        for private in [
            "10.0.0.4",
            "10.9.0.1",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "127.0.0.1",
            "169.254.1.1",
            "224.0.0.1",
            "255.255.255.255",
            "0.1.2.3",
            "168.63.129.16",
            "8.8.8.8",
            "2001:db8::1",
            "fd00::1",
            "::1",
        ] {
            assert!(!inside(private), "{private}");
        }
    }

    #[test]
    fn load_balancer_tag_is_the_host_vip() {
        assert_eq!(azure_load_balancer_tag(), nets(&["168.63.129.16/32"]));
    }

    #[test]
    fn subtract_whole_space() {
        assert_eq!(
            subtract_prefixes(&nets(&["0.0.0.0/0", "::/0"]), &nets(&["0.0.0.0/1"])),
            nets(&["128.0.0.0/1", "::/0"])
        );
        assert_eq!(
            subtract_prefixes(&nets(&["::/0"]), &nets(&["::/0"])),
            Vec::<IpNet>::new()
        );
        assert_eq!(
            subtract_prefixes(&nets(&["255.255.255.0/24"]), &nets(&["255.255.255.255/32"])),
            nets(&[
                "255.255.255.0/25",
                "255.255.255.128/26",
                "255.255.255.192/27",
                "255.255.255.224/28",
                "255.255.255.240/29",
                "255.255.255.248/30",
                "255.255.255.252/31",
                "255.255.255.254/32"
            ])
        );
    }

    /// A prefix inside 10.0.0.0/24 (or 2001:db8::/120), so that membership
    /// can be checked address by address.
    fn small_prefix() -> impl Strategy<Value = IpNet> {
        (any::<bool>(), any::<u8>(), 24u8..=32).prop_map(|(v6, host, len)| {
            if v6 {
                let a = Ipv6Addr::from(
                    u128::from(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0)) | u128::from(host),
                );
                IpNet::V6(Ipv6Net::new(a, len + 96).unwrap()).trunc()
            } else {
                let a = Ipv4Addr::new(10, 0, 0, host);
                IpNet::V4(Ipv4Net::new(a, len).unwrap()).trunc()
            }
        })
    }

    proptest! {
        #[test]
        fn subtraction_matches_brute_force(
            a in prop::collection::vec(small_prefix(), 0..6),
            b in prop::collection::vec(small_prefix(), 0..6),
        ) {
            let diff = subtract_prefixes(&a, &b);
            for host in 0..=255u8 {
                let v6 = Ipv6Addr::from(u128::from(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0)) | u128::from(host));
                for addr in [IpAddr::V4(Ipv4Addr::new(10, 0, 0, host)), IpAddr::V6(v6)] {
                    let expected = a.iter().any(|n| n.contains(&addr)) && !b.iter().any(|n| n.contains(&addr));
                    let got = diff.iter().filter(|n| n.contains(&addr)).count();
                    prop_assert_eq!(got, usize::from(expected), "{}", addr);
                }
            }
            // Minimal: no two output prefixes could be merged.
            prop_assert_eq!(IpNet::aggregate(&diff).len(), diff.len());
        }
    }
}
