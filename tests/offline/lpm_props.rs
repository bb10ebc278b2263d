//! Property tests: the longest-prefix-match table against a linear scan,
//! and the compiled route table of random topologies against a linear scan
//! over their Active rows.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use vnetd::engine::lpm::Lpm;
use vnetd::policy::routes::{effective_routes, EffectiveRoute};
use vnetd::snapshot::compile_lpm;
use vnetd::topology::model::{
    NextHopType, Peering, PeeringFlags, Route, RouteTable, RouteTableIdx, Subnet, SubnetIdx,
    SubnetRef, Topology, Vnet, VnetIdx,
};

/// A few base addresses per family, so that random prefixes nest and
/// collide instead of scattering over the whole space.
const V4_POOL: [u32; 6] = [
    0x0A00_0000, // 10.0.0.0
    0x0A01_0203, // 10.1.2.3
    0x0AFF_FFFF, // 10.255.255.255
    0xC0A8_0101, // 192.168.1.1
    0x0000_0000,
    0xFFFF_FFFF,
];
const V6_POOL: [u128; 5] = [
    0x2001_0db8_0000_0000_0000_0000_0000_0000,
    0x2001_0db8_0001_0002_0003_0004_0005_0006,
    0xfd00_0000_0000_0000_0000_0000_0000_0001,
    0,
    u128::MAX,
];

fn v4_addr() -> impl Strategy<Value = u32> {
    prop_oneof![
        (0..V4_POOL.len(), any::<u32>(), 0u32..=32)
            .prop_map(|(i, noise, keep)| V4_POOL[i] ^ (noise.checked_shr(keep).unwrap_or(0))),
        any::<u32>(),
    ]
}

fn v6_addr() -> impl Strategy<Value = u128> {
    prop_oneof![
        (0..V6_POOL.len(), any::<u128>(), 0u32..=128)
            .prop_map(|(i, noise, keep)| V6_POOL[i] ^ (noise.checked_shr(keep).unwrap_or(0))),
        any::<u128>(),
    ]
}

fn address() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        v4_addr().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        v6_addr().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
    ]
}

fn prefix() -> impl Strategy<Value = IpNet> {
    prop_oneof![
        (v4_addr(), 0u8..=32)
            .prop_map(|(a, l)| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), l).unwrap())),
        (v6_addr(), 0u8..=128)
            .prop_map(|(a, l)| IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), l).unwrap())),
    ]
}

/// The reference: the longest matching prefix, the later entry on a tie
/// (equal prefixes: the last one given wins).
fn linear_lookup(entries: &[(IpNet, usize)], addr: IpAddr) -> Option<(IpNet, usize)> {
    let mut best: Option<(IpNet, usize)> = None;
    for (net, value) in entries {
        let net = net.trunc();
        if net.contains(&addr) {
            match best {
                Some((b, _)) if b.prefix_len() > net.prefix_len() => {}
                _ => best = Some((net, *value)),
            }
        }
    }
    best
}

/// Addresses worth probing for a prefix: its first and last address and
/// the addresses just outside it.
fn probes_of(net: &IpNet) -> Vec<IpAddr> {
    let mut out = vec![net.network(), net.broadcast()];
    match net {
        IpNet::V4(n) => {
            let lo = u32::from(n.network());
            let hi = u32::from(n.broadcast());
            out.push(IpAddr::V4(Ipv4Addr::from(lo.wrapping_sub(1))));
            out.push(IpAddr::V4(Ipv4Addr::from(hi.wrapping_add(1))));
        }
        IpNet::V6(n) => {
            let lo = u128::from(n.network());
            let hi = u128::from(n.broadcast());
            out.push(IpAddr::V6(Ipv6Addr::from(lo.wrapping_sub(1))));
            out.push(IpAddr::V6(Ipv6Addr::from(hi.wrapping_add(1))));
        }
    }
    out
}

fn check_against_linear(prefixes: Vec<IpNet>, addrs: Vec<IpAddr>) -> Result<(), TestCaseError> {
    let entries: Vec<(IpNet, usize)> = prefixes
        .into_iter()
        .enumerate()
        .map(|(i, p)| (p, i))
        .collect();
    let table = Lpm::new(entries.clone());
    let mut probes = addrs;
    // Probing around a few hundred prefixes is enough; the linear
    // reference is slow on the large tables.
    for (net, _) in entries.iter().take(300) {
        probes.extend(probes_of(net));
    }
    for addr in probes {
        let got = table.lookup(addr).map(|(n, v)| (n, *v));
        prop_assert_eq!(got, linear_lookup(&entries, addr), "address {}", addr);
        let family = match addr {
            IpAddr::V4(a) => table.lookup_v4(a),
            IpAddr::V6(a) => table.lookup_v6(a),
        };
        prop_assert_eq!(family.map(|(n, v)| (n, *v)), got);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn lpm_matches_linear_scan(
        prefixes in prop::collection::vec(prefix(), 0..120),
        addrs in prop::collection::vec(address(), 0..64),
    ) {
        check_against_linear(prefixes, addrs)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Large enough for the wide first stride of both families.
    #[test]
    fn large_lpm_matches_linear_scan(
        prefixes in prop::collection::vec(prefix(), 2100..2600),
        addrs in prop::collection::vec(address(), 0..256),
    ) {
        check_against_linear(prefixes, addrs)?;
    }
}

// ---- Random topologies -------------------------------------------------

/// Ranges VNets, peers and routes are drawn from: reserved prefixes,
/// containers and contents of them, public space, IPv6.
const RANGES: [&str; 16] = [
    "10.0.0.0/16",
    "10.1.0.0/16",
    "10.0.0.0/8",
    "10.0.0.0/24",
    "172.16.0.0/12",
    "172.0.0.0/11",
    "192.168.0.0/16",
    "192.168.5.0/24",
    "100.64.0.0/10",
    "100.0.0.0/9",
    "20.0.0.0/8",
    "0.0.0.0/0",
    "fd00:1::/48",
    "fd00:2::/48",
    "fd00::/16",
    "::/0",
];

fn range() -> impl Strategy<Value = IpNet> {
    (0..RANGES.len()).prop_map(|i| RANGES[i].parse().unwrap())
}

fn next_hop() -> impl Strategy<Value = (NextHopType, Option<IpAddr>)> {
    prop_oneof![
        Just((
            NextHopType::VirtualAppliance,
            Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 4)))
        )),
        Just((NextHopType::VnetLocal, None)),
        Just((NextHopType::Internet, None)),
        Just((NextHopType::None, None)),
        Just((NextHopType::VirtualNetworkGateway, None)),
    ]
}

fn route_table() -> impl Strategy<Value = RouteTable> {
    prop::collection::vec((range(), next_hop()), 0..6).prop_map(|routes| RouteTable {
        name: "rt".into(),
        bgp_route_propagation_enabled: true,
        routes: routes
            .into_iter()
            .enumerate()
            .map(|(i, (prefix, (hop, ip)))| Route {
                name: format!("r{i}"),
                address_prefix: prefix,
                next_hop_type: hop,
                next_hop_ip: ip,
                line: 0,
            })
            .collect(),
        line: 0,
    })
}

fn topology() -> impl Strategy<Value = Topology> {
    let vnet = (
        prop::collection::vec(range(), 1..3),
        prop::bool::ANY,
        prop::option::of(0usize..2),
    );
    (
        prop::collection::vec(vnet, 1..5),
        prop::collection::vec((0usize..4, 0usize..4), 0..10),
        prop::collection::vec(route_table(), 2),
    )
        .prop_map(|(vnets, links, route_tables)| {
            let count = vnets.len();
            Topology {
                vnets: vnets
                    .into_iter()
                    .enumerate()
                    .map(|(i, (space, east, table))| Vnet {
                        tags: Default::default(),
                        dns_servers: Vec::new(),
                        name: format!("v{i}"),
                        address_space: space.clone(),
                        location: if east {
                            "eastus".into()
                        } else {
                            "westus".into()
                        },
                        flow_timeout_minutes: 4,
                        subnets: vec![Subnet {
                            endpoint_policies: Default::default(),
                            delegation: None,
                            services: Default::default(),
                            name: "s".into(),
                            address_prefixes: vec![space[0]],
                            network_security_group: None,
                            route_table: table.map(RouteTableIdx::new),
                            line: 0,
                        }]
                        .into(),
                        line: 0,
                    })
                    .collect(),
                peerings: links
                    .into_iter()
                    .filter(|&(a, b)| a < count && b < count && a != b)
                    .map(|(a, b)| Peering {
                        name: format!("{a}-{b}"),
                        vnet: VnetIdx::new(a),
                        remote: VnetIdx::new(b),
                        flags: PeeringFlags::default(),
                        impairments: None,
                        line: 0,
                    })
                    .collect(),
                route_tables: route_tables.into(),
                ..Default::default()
            }
        })
}

/// The reference: the Active row with the longest prefix containing `addr`.
fn linear_route(rows: &[EffectiveRoute], addr: IpAddr) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, row) in rows.iter().enumerate() {
        if row.is_active() && row.address_prefix.contains(&addr) {
            match best {
                Some(b)
                    if rows[b].address_prefix.prefix_len() >= row.address_prefix.prefix_len() => {}
                _ => best = Some(i),
            }
        }
    }
    best
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn compiled_routes_match_linear_scan_over_active_rows(
        topo in topology(),
        addrs in prop::collection::vec(address(), 0..32),
    ) {
        for vnet in topo.vnets.keys() {
            let rows = effective_routes(&topo, SubnetRef { vnet, subnet: SubnetIdx::new(0) });
            // Exactly one Active row per prefix.
            for row in &rows {
                let active = rows
                    .iter()
                    .filter(|r| r.is_active() && r.address_prefix == row.address_prefix)
                    .count();
                prop_assert_eq!(active, 1, "prefix {}", row.address_prefix);
            }
            let lpm = compile_lpm(&rows);
            let mut probes = addrs.clone();
            for row in &rows {
                probes.extend(probes_of(&row.address_prefix));
            }
            for addr in probes {
                let got = lpm.lookup(addr).map(|(_, &i)| i);
                prop_assert_eq!(got, linear_route(&rows, addr), "address {}", addr);
            }
        }
    }
}
