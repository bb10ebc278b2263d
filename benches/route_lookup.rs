//! Lookup speed of the longest-prefix-match table with 100,000 random
//! prefixes, against `ip_network_table` (the tree bitmap it replaced).
//!
//! Each iteration looks up one address from a pre-generated set of 65,536
//! (cycled), so the figures are nanoseconds per lookup. "random" addresses
//! are uniform over the family; "inside" addresses are drawn inside the
//! table's prefixes, so every lookup walks to the prefix's depth.

use criterion::{criterion_group, criterion_main, Criterion};
use ip_network::{IpNetwork, Ipv4Network, Ipv6Network};
use ip_network_table::IpNetworkTable;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use vnetd::engine::lpm::Lpm;

const PREFIXES: usize = 100_000;
const ADDRESSES: usize = 1 << 16;

/// xorshift64*: reproducible and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn v4_prefixes(rng: &mut Rng) -> Vec<Ipv4Net> {
    (0..PREFIXES)
        .map(|_| {
            let len = 8 + rng.below(25) as u8; // 8..=32
            Ipv4Net::new(Ipv4Addr::from(rng.next() as u32), len)
                .map(|n| n.trunc())
                .unwrap_or_default()
        })
        .collect()
}

fn v6_prefixes(rng: &mut Rng) -> Vec<Ipv6Net> {
    (0..PREFIXES)
        .map(|_| {
            // Global unicast space, /16 to /64: what route tables hold.
            let len = 16 + rng.below(49) as u8;
            let bits =
                (u128::from(rng.next()) << 64 | u128::from(rng.next())) >> 3 | (0b001u128 << 125);
            Ipv6Net::new(Ipv6Addr::from(bits), len)
                .map(|n| n.trunc())
                .unwrap_or_default()
        })
        .collect()
}

fn v4_inside(rng: &mut Rng, prefixes: &[Ipv4Net]) -> Vec<Ipv4Addr> {
    (0..ADDRESSES)
        .map(|_| {
            let p = prefixes[rng.below(prefixes.len() as u64) as usize];
            let host = (rng.next() as u32) & !u32::from(p.netmask());
            Ipv4Addr::from(u32::from(p.network()) | host)
        })
        .collect()
}

fn v6_inside(rng: &mut Rng, prefixes: &[Ipv6Net]) -> Vec<Ipv6Addr> {
    (0..ADDRESSES)
        .map(|_| {
            let p = prefixes[rng.below(prefixes.len() as u64) as usize];
            let random = u128::from(rng.next()) << 64 | u128::from(rng.next());
            let host = random & !u128::from(p.netmask());
            Ipv6Addr::from(u128::from(p.network()) | host)
        })
        .collect()
}

fn bench_v4(c: &mut Criterion) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let prefixes = v4_prefixes(&mut rng);
    let lpm: Lpm<usize> = prefixes
        .iter()
        .enumerate()
        .map(|(i, p)| (IpNet::V4(*p), i))
        .collect();
    let mut tree = IpNetworkTable::new();
    for (i, p) in prefixes.iter().enumerate() {
        if let Ok(n) = Ipv4Network::new(p.network(), p.prefix_len()) {
            tree.insert(IpNetwork::V4(n), i);
        }
    }
    let random: Vec<Ipv4Addr> = (0..ADDRESSES)
        .map(|_| Ipv4Addr::from(rng.next() as u32))
        .collect();
    let inside = v4_inside(&mut rng, &prefixes);

    let mut group = c.benchmark_group("ipv4_100k");
    for (name, addrs) in [("random", &random), ("inside", &inside)] {
        group.bench_function(format!("lpm/{name}"), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) & (ADDRESSES - 1);
                black_box(lpm.lookup_v4(black_box(addrs[i])).map(|(_, v)| *v))
            })
        });
        group.bench_function(format!("ip_network_table/{name}"), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) & (ADDRESSES - 1);
                black_box(
                    tree.longest_match_ipv4(black_box(addrs[i]))
                        .map(|(_, v)| *v),
                )
            })
        });
    }
    group.finish();
}

fn bench_v6(c: &mut Criterion) {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let prefixes = v6_prefixes(&mut rng);
    let lpm: Lpm<usize> = prefixes
        .iter()
        .enumerate()
        .map(|(i, p)| (IpNet::V6(*p), i))
        .collect();
    let mut tree = IpNetworkTable::new();
    for (i, p) in prefixes.iter().enumerate() {
        if let Ok(n) = Ipv6Network::new(p.network(), p.prefix_len()) {
            tree.insert(IpNetwork::V6(n), i);
        }
    }
    let random: Vec<Ipv6Addr> = (0..ADDRESSES)
        .map(|_| {
            let bits =
                (u128::from(rng.next()) << 64 | u128::from(rng.next())) >> 3 | (0b001u128 << 125);
            Ipv6Addr::from(bits)
        })
        .collect();
    let inside = v6_inside(&mut rng, &prefixes);

    let mut group = c.benchmark_group("ipv6_100k");
    for (name, addrs) in [("random", &random), ("inside", &inside)] {
        group.bench_function(format!("lpm/{name}"), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) & (ADDRESSES - 1);
                black_box(lpm.lookup_v6(black_box(addrs[i])).map(|(_, v)| *v))
            })
        });
        group.bench_function(format!("ip_network_table/{name}"), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) & (ADDRESSES - 1);
                black_box(
                    tree.longest_match_ipv6(black_box(addrs[i]))
                        .map(|(_, v)| *v),
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_v4, bench_v6);
criterion_main!(benches);
