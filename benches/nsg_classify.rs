//! NSG classification speed: one NSG at Azure's limit of 1,000 user rules
//! (plus the default rules), resolved for one NIC through
//! `effective_rules`, then 4,096 pre-generated packets classified in turn,
//! with the compiled classifier and with the plain first-match reference.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use vnetd::engine::classifier::{Classifier, PacketKey, RuleMatch};
use vnetd::policy::nsg::{effective_rules, first_match, EffectiveRule};
use vnetd::snapshot::rule_match;
use vnetd::topology::*;

const USER_RULES: usize = 1000;
const PACKETS: usize = 4096;

/// splitmix64: deterministic, so every run measures the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn v4(&mut self) -> Ipv4Addr {
        // Mostly inside 10.0.0.0/8 so that rules overlap and packets hit them.
        if self.below(4) == 0 {
            Ipv4Addr::from(self.next() as u32)
        } else {
            Ipv4Addr::from(0x0a00_0000 | (self.next() as u32 & 0x00ff_ffff))
        }
    }

    fn v6(&mut self) -> Ipv6Addr {
        let low = u128::from(self.next() & 0xffff_ffff);
        Ipv6Addr::from(0x2001_0db8_u128 << 96 | (u128::from(self.below(256)) << 64) | low)
    }

    /// Without `anywhere`, IPv4 prefixes stay inside 10.0.0.0/8.
    fn prefix(&mut self, anywhere: bool) -> IpNet {
        if self.below(5) == 0 {
            let len = 48 + self.below(81) as u8;
            IpNet::V6(Ipv6Net::new(self.v6(), len).unwrap()).trunc()
        } else {
            let len = 8 + self.below(25) as u8;
            let addr = if anywhere {
                self.v4()
            } else {
                Ipv4Addr::from(0x0a00_0000 | (self.next() as u32 & 0x00ff_ffff))
            };
            IpNet::V4(Ipv4Net::new(addr, len).unwrap()).trunc()
        }
    }

    fn address(&mut self, wildcards: bool) -> AddressSpec {
        match if wildcards { self.below(6) } else { 2 } {
            0 => AddressSpec::Any,
            1 => AddressSpec::Tag(ServiceTag::VirtualNetwork),
            _ => AddressSpec::Prefixes(
                (0..1 + self.below(4))
                    .map(|_| self.prefix(wildcards))
                    .collect(),
            ),
        }
    }

    fn port(&mut self) -> u16 {
        const COMMON: [u16; 8] = [22, 53, 80, 443, 3389, 5432, 8080, 8443];
        if self.below(2) == 0 {
            COMMON[self.below(8) as usize]
        } else {
            self.next() as u16
        }
    }

    fn ports(&mut self) -> PortSpec {
        if self.below(3) == 0 {
            return PortSpec::Any;
        }
        let ranges = (0..1 + self.below(3))
            .map(|_| {
                let lo = self.port();
                let hi = if self.below(2) == 0 {
                    lo
                } else {
                    lo.saturating_add(self.below(2000) as u16)
                };
                PortRange { lo, hi }
            })
            .collect();
        PortSpec::Ranges(ranges)
    }

    fn protocol(&mut self) -> Protocol {
        const ALL: [Protocol; 6] = [
            Protocol::Tcp,
            Protocol::Tcp,
            Protocol::Udp,
            Protocol::Any,
            Protocol::Icmp,
            Protocol::Esp,
        ];
        ALL[self.below(6) as usize]
    }

    fn packet(&mut self) -> PacketKey {
        const PROTOS: [u8; 6] = [6, 6, 6, 17, 17, 1];
        let proto = PROTOS[self.below(6) as usize];
        let (src, dst) = if self.below(5) == 0 {
            (IpAddr::V6(self.v6()), IpAddr::V6(self.v6()))
        } else {
            (IpAddr::V4(self.v4()), IpAddr::V4(self.v4()))
        };
        let has_ports = proto != 1;
        PacketKey {
            proto,
            src,
            dst,
            src_port: has_ports.then(|| self.next() as u16 | 1024),
            dst_port: has_ports.then(|| self.port()),
        }
    }
}

/// One NSG with 1,000 random inbound rules. With `wildcards` false, no rule
/// uses `*` or a tag and IPv4 prefixes stay inside 10.0.0.0/8.
fn topology(rng: &mut Rng, wildcards: bool) -> Topology {
    let rules = (0..USER_RULES)
        .map(|i| SecurityRule {
            name: format!("rule{i}"),
            settings: SecurityRuleSettings {
                priority: 100 + i as u16,
                direction: Direction::Inbound,
                access: if rng.below(2) == 0 {
                    Access::Allow
                } else {
                    Access::Deny
                },
                protocol: rng.protocol(),
                source_ports: if rng.below(4) == 0 {
                    rng.ports()
                } else {
                    PortSpec::Any
                },
                destination_ports: rng.ports(),
            },
            source: rng.address(wildcards),
            destination: rng.address(wildcards),
            line: 0,
        })
        .collect();
    Topology {
        source: "bench".into(),
        vnets: vec![Vnet {
            tags: Default::default(),
            dns_servers: Vec::new(),
            name: "vnet".into(),
            address_space: vec!["10.0.0.0/16".parse().unwrap()],
            location: "westus".into(),
            flow_timeout_minutes: 4,
            subnets: vec![Subnet {
                endpoint_policies: Default::default(),
                delegation: None,
                services: Default::default(),
                name: "app".into(),
                address_prefixes: vec!["10.0.1.0/24".parse().unwrap()],
                network_security_group: Some(NsgIdx::new(0)),
                route_table: None,
                line: 0,
            }]
            .into(),
            line: 0,
        }]
        .into(),
        nics: vec![Nic {
            dns_servers: Vec::new(),
            dns_server: None,
            name: "vm1".into(),
            subnet: SubnetRef {
                vnet: VnetIdx::new(0),
                subnet: SubnetIdx::new(0),
            },
            ip_configurations: vec![IpConfiguration {
                name: "ipconfig1".into(),
                address: "10.0.1.4".parse().unwrap(),
            }],
            ip_forwarding: false,
            network_security_group: None,
            application_security_groups: vec![],
            netns: "vm1".into(),
            mtu: 1500,
            line: 0,
        }]
        .into(),
        nsgs: vec![Nsg {
            name: "big".into(),
            flush_connection: false,
            security_rules: rules,
            line: 0,
        }]
        .into(),
        ..Topology::default()
    }
}

/// Resolves the NSG and compiles it; checks the classifier against the
/// reference on `keys` and reports how many a user rule decides.
fn prepare(topo: &Topology, keys: &[PacketKey]) -> (Vec<EffectiveRule>, Classifier) {
    let learned = vnetd::policy::gateways::LearnedRoutes::default();
    let rules = effective_rules(
        topo,
        &learned,
        NsgIdx::new(0),
        NicIdx::new(0),
        Direction::Inbound,
    );
    let matches: Vec<RuleMatch> = rules.iter().map(rule_match).collect();
    let classifier = Classifier::new(&matches);
    let decided_by_user_rules = keys
        .iter()
        .filter(|k| {
            let hit = classifier.classify(k);
            assert_eq!(hit, first_match(&rules, k));
            hit.is_some_and(|i| i < USER_RULES)
        })
        .count();
    eprintln!(
        "{} rules, {} distinct bitsets; {decided_by_user_rules}/{} packets decided by a user rule",
        classifier.len(),
        classifier.distinct_bitsets(),
        keys.len()
    );
    (rules, classifier)
}

fn bench(c: &mut Criterion) {
    let mut rng = Rng(0x5eed);
    let mixed = topology(&mut rng, true);
    let keys: Vec<PacketKey> = (0..PACKETS).map(|_| rng.packet()).collect();
    let (rules, classifier) = prepare(&mixed, &keys);

    // Worst case for the early exit: no user rule matches, so every word of
    // the bitsets is scanned before DenyAllInBound is found.
    let prefixes_only = topology(&mut rng, false);
    let miss_keys: Vec<PacketKey> = keys
        .iter()
        .map(|k| PacketKey {
            src: IpAddr::V4(Ipv4Addr::from(
                0xc633_6400 | (k.src_port.unwrap_or(0) as u32 & 0xff),
            )),
            dst: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)),
            ..*k
        })
        .collect();
    let (miss_rules, miss_classifier) = prepare(&prefixes_only, &miss_keys);
    let matches: Vec<RuleMatch> = rules.iter().map(rule_match).collect();

    let mut group = c.benchmark_group("nsg_classify");
    group.throughput(Throughput::Elements(1));
    let n = rules.len();
    for (name, rules, classifier, keys) in [
        ("mixed", &rules, &classifier, &keys),
        ("defaults_only", &miss_rules, &miss_classifier, &miss_keys),
    ] {
        group.bench_function(BenchmarkId::new(format!("bitvector/{name}"), n), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % PACKETS;
                black_box(classifier.classify(black_box(&keys[i])))
            })
        });
        group.bench_function(BenchmarkId::new(format!("first_match/{name}"), n), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % PACKETS;
                black_box(first_match(black_box(rules), black_box(&keys[i])))
            })
        });
    }
    group.finish();

    c.bench_function("nsg_compile/1003", |b| {
        b.iter(|| black_box(Classifier::new(black_box(&matches))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
