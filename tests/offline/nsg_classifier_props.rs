//! The compiled classifier must pick exactly the rule that the plain
//! first-match reference picks, on random rule lists and on rules resolved
//! from a topology (tags, ASGs, default rules).

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use vnetd::engine::classifier::{Classifier, PacketKey, RuleMatch};
use vnetd::policy::gateways::LearnedRoutes;
use vnetd::policy::nsg::{effective_rules, first_match, nsg_chain, EffectiveRule};
use vnetd::snapshot::rule_match;
use vnetd::topology::*;

/// Addresses rules and packets are built around, so that matches happen.
const V4_POOL: [u32; 6] = [
    0x0a00_0000, // 10.0.0.0
    0x0a00_0100, // 10.0.1.0
    0xc0a8_0000, // 192.168.0.0
    0xa83f_8110, // 168.63.129.16
    0x0000_0000,
    0xffff_ff00,
];
const V6_POOL: [u128; 4] = [
    0x2001_0db8_0000_0000_0000_0000_0000_0000,
    0xfe80_0000_0000_0000_0000_0000_0000_0000,
    0,
    u128::MAX - 0xff,
];
const PORT_POOL: [u16; 9] = [0, 1, 22, 53, 80, 443, 1024, 65534, 65535];
const PROTO_POOL: [u8; 7] = [1, 6, 17, 50, 51, 58, 0];

fn v4_prefix() -> impl Strategy<Value = IpNet> {
    (
        0..V4_POOL.len(),
        any::<u8>(),
        prop_oneof![0u8..=32, 20u8..=32],
    )
        .prop_map(|(i, off, len)| {
            let addr = Ipv4Addr::from(V4_POOL[i].wrapping_add(u32::from(off)));
            IpNet::V4(Ipv4Net::new(addr, len).unwrap()).trunc()
        })
}

fn v6_prefix() -> impl Strategy<Value = IpNet> {
    (
        0..V6_POOL.len(),
        any::<u8>(),
        prop_oneof![0u8..=128, 112u8..=128],
    )
        .prop_map(|(i, off, len)| {
            let addr = Ipv6Addr::from(V6_POOL[i].wrapping_add(u128::from(off)));
            IpNet::V6(Ipv6Net::new(addr, len).unwrap()).trunc()
        })
}

fn any_address() -> Vec<IpNet> {
    vec![IpNet::V4(Ipv4Net::default()), IpNet::V6(Ipv6Net::default())]
}

fn addresses() -> impl Strategy<Value = Vec<IpNet>> {
    prop_oneof![
        2 => Just(any_address()),
        1 => Just(Vec::new()),
        6 => prop::collection::vec(prop_oneof![v4_prefix(), v6_prefix()], 1..5),
    ]
}

fn port() -> impl Strategy<Value = u16> {
    prop_oneof![prop::sample::select(PORT_POOL.to_vec()), any::<u16>()]
}

fn ports() -> impl Strategy<Value = PortSpec> {
    let range = (port(), port()).prop_map(|(a, b)| PortRange {
        lo: a.min(b),
        hi: a.max(b),
    });
    let single = port().prop_map(|p| PortRange { lo: p, hi: p });
    prop_oneof![
        2 => Just(PortSpec::Any),
        3 => prop::collection::vec(prop_oneof![single, range], 1..4).prop_map(PortSpec::Ranges),
    ]
}

fn protocol() -> impl Strategy<Value = Protocol> {
    prop::sample::select(vec![
        Protocol::Any,
        Protocol::Tcp,
        Protocol::Udp,
        Protocol::Icmp,
        Protocol::Esp,
        Protocol::Ah,
    ])
}

fn rule() -> impl Strategy<Value = EffectiveRule> {
    (
        100u16..=4096,
        protocol(),
        any::<bool>(),
        addresses(),
        addresses(),
        ports(),
        ports(),
    )
        .prop_map(
            |(priority, protocol, allow, src, dst, sports, dports)| EffectiveRule {
                name: format!("securityRules/r{priority}"),
                settings: SecurityRuleSettings {
                    priority,
                    direction: Direction::Inbound,
                    access: if allow { Access::Allow } else { Access::Deny },
                    protocol,
                    source_ports: sports,
                    destination_ports: dports,
                },
                source_prefixes: Vec::new(),
                destination_prefixes: Vec::new(),
                source_is_named: false,
                destination_is_named: false,
                expanded_source: src,
                expanded_destination: dst,
                admin_action: None,
            },
        )
}

/// Sorted by priority, as NSG evaluation orders them.
fn rule_list(max: usize) -> impl Strategy<Value = Vec<EffectiveRule>> {
    prop::collection::vec(rule(), 0..max).prop_map(|mut rules| {
        rules.sort_by_key(|r| r.settings.priority);
        rules
    })
}

/// A small deterministic generator for drawing packets from a rule list.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// An address at or next to a prefix boundary of some rule, from the
    /// pool, or anywhere.
    fn address(&mut self, prefixes: &[IpNet], v6: bool) -> IpAddr {
        let same_family: Vec<&IpNet> = prefixes
            .iter()
            .filter(|n| matches!(n, IpNet::V6(_)) == v6)
            .collect();
        let nudge = |d: &mut Draw| match d.below(3) {
            0 => 0u128,
            1 => 1,
            _ => u128::MAX, // -1
        };
        match self.below(4) {
            0 | 1 if !same_family.is_empty() => {
                let net = same_family[self.below(same_family.len())];
                let n = nudge(self);
                match net {
                    IpNet::V4(p) => {
                        let base = if self.below(2) == 0 {
                            p.network()
                        } else {
                            p.broadcast()
                        };
                        IpAddr::V4(Ipv4Addr::from(u32::from(base).wrapping_add(n as u32)))
                    }
                    IpNet::V6(p) => {
                        let base = if self.below(2) == 0 {
                            p.network()
                        } else {
                            p.broadcast()
                        };
                        IpAddr::V6(Ipv6Addr::from(u128::from(base).wrapping_add(n)))
                    }
                }
            }
            2 => {
                let off = self.next() & 0x1ff;
                if v6 {
                    let base = V6_POOL[self.below(V6_POOL.len())];
                    IpAddr::V6(Ipv6Addr::from(base.wrapping_add(u128::from(off))))
                } else {
                    let base = V4_POOL[self.below(V4_POOL.len())];
                    IpAddr::V4(Ipv4Addr::from(base.wrapping_add(off as u32)))
                }
            }
            _ => {
                if v6 {
                    let hi = u128::from(self.next()) << 64;
                    IpAddr::V6(Ipv6Addr::from(hi | u128::from(self.next())))
                } else {
                    IpAddr::V4(Ipv4Addr::from(self.next() as u32))
                }
            }
        }
    }

    fn port(&mut self, specs: &[&PortSpec]) -> Option<u16> {
        let ranges: Vec<PortRange> = specs
            .iter()
            .filter_map(|s| match s {
                PortSpec::Ranges(r) => Some(r.clone()),
                PortSpec::Any => None,
            })
            .flatten()
            .collect();
        match self.below(5) {
            0 => None,
            1 | 2 if !ranges.is_empty() => {
                let r = ranges[self.below(ranges.len())];
                let base = if self.below(2) == 0 { r.lo } else { r.hi };
                Some(match self.below(3) {
                    0 => base,
                    1 => base.wrapping_add(1),
                    _ => base.wrapping_sub(1),
                })
            }
            3 => Some(PORT_POOL[self.below(PORT_POOL.len())]),
            _ => Some(self.next() as u16),
        }
    }

    fn packet(&mut self, rules: &[EffectiveRule]) -> PacketKey {
        let sources: Vec<IpNet> = rules
            .iter()
            .flat_map(|r| r.expanded_source.iter().copied())
            .collect();
        let destinations: Vec<IpNet> = rules
            .iter()
            .flat_map(|r| r.expanded_destination.iter().copied())
            .collect();
        let sport_specs: Vec<&PortSpec> = rules.iter().map(|r| &r.settings.source_ports).collect();
        let dport_specs: Vec<&PortSpec> = rules
            .iter()
            .map(|r| &r.settings.destination_ports)
            .collect();
        let v6 = self.below(2) == 0;
        let proto = if self.below(4) == 0 {
            self.next() as u8
        } else {
            PROTO_POOL[self.below(PROTO_POOL.len())]
        };
        // Mostly one family, as real packets are; sometimes mixed.
        let dst_v6 = if self.below(16) == 0 { !v6 } else { v6 };
        PacketKey {
            proto,
            src: self.address(&sources, v6),
            dst: self.address(&destinations, dst_v6),
            src_port: self.port(&sport_specs),
            dst_port: self.port(&dport_specs),
        }
    }
}

fn compile(rules: &[EffectiveRule]) -> Classifier {
    let matches: Vec<RuleMatch> = rules.iter().map(rule_match).collect();
    Classifier::new(&matches)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn classifier_equals_first_match_on_random_rules(
        rules in rule_list(60),
        seed in any::<u64>(),
    ) {
        let classifier = compile(&rules);
        prop_assert_eq!(classifier.len(), rules.len());
        let mut draw = Draw(seed);
        for _ in 0..64 {
            let key = draw.packet(&rules);
            prop_assert_eq!(classifier.classify(&key), first_match(&rules, &key), "{:?}", key);
        }
    }
}

/// Two peered VNets, a route table, ASGs, a subnet NSG and a NIC NSG using
/// every kind of source and destination.
#[allow(clippy::too_many_lines, reason = "a topology written out as a literal")]
fn hand_built_topology() -> Topology {
    let net = |s: &str| -> IpNet { s.parse().unwrap() };
    let subnet = |name: &str, prefix: &str, nsg: Option<usize>, rt: Option<usize>| Subnet {
        endpoint_policies: Default::default(),
        delegation: None,
        services: Default::default(),
        name: name.into(),
        address_prefixes: vec![net(prefix)],
        network_security_group: nsg.map(NsgIdx::new),
        route_table: rt.map(RouteTableIdx::new),
        line: 0,
    };
    let nic = |name: &str,
               vnet: usize,
               sub: usize,
               addrs: &[&str],
               nsg: Option<usize>,
               asgs: Vec<usize>| Nic {
        dns_servers: Vec::new(),
        dns_server: None,
        name: name.into(),
        subnet: SubnetRef {
            vnet: VnetIdx::new(vnet),
            subnet: SubnetIdx::new(sub),
        },
        ip_configurations: addrs
            .iter()
            .enumerate()
            .map(|(i, a)| IpConfiguration {
                name: format!("ipconfig{i}"),
                address: a.parse().unwrap(),
            })
            .collect(),
        ip_forwarding: false,
        network_security_group: nsg.map(NsgIdx::new),
        application_security_groups: asgs.into_iter().map(AsgIdx::new).collect(),
        netns: name.into(),
        mtu: 1500,
        line: 0,
    };
    let peering = |vnet: usize, remote: usize| Peering {
        name: format!("{vnet}-{remote}"),
        vnet: VnetIdx::new(vnet),
        remote: VnetIdx::new(remote),
        flags: PeeringFlags::default(),
        impairments: None,
        line: 0,
    };
    let ranges = |list: &[(u16, u16)]| {
        PortSpec::Ranges(list.iter().map(|&(lo, hi)| PortRange { lo, hi }).collect())
    };
    let rule = |name: &str,
                priority,
                direction,
                access,
                protocol,
                source,
                destination,
                dports: PortSpec| SecurityRule {
        name: name.into(),
        settings: SecurityRuleSettings {
            priority,
            direction,
            access,
            protocol,
            source_ports: PortSpec::Any,
            destination_ports: dports,
        },
        source,
        destination,
        line: 0,
    };
    use AddressSpec as A;
    use Direction::{Inbound, Outbound};
    let subnet_rules = vec![
        rule(
            "deny-internet-ssh",
            100,
            Inbound,
            Access::Deny,
            Protocol::Tcp,
            A::Tag(ServiceTag::Internet),
            A::Any,
            ranges(&[(22, 22)]),
        ),
        rule(
            "web-from-vnet",
            110,
            Inbound,
            Access::Allow,
            Protocol::Tcp,
            A::Tag(ServiceTag::VirtualNetwork),
            A::Asgs(vec![AsgIdx::new(0)]),
            ranges(&[(80, 80), (443, 443)]),
        ),
        rule(
            "db-from-web",
            120,
            Inbound,
            Access::Allow,
            Protocol::Tcp,
            A::Asgs(vec![AsgIdx::new(0)]),
            A::Asgs(vec![AsgIdx::new(1)]),
            ranges(&[(5432, 5432)]),
        ),
        rule(
            "deny-db",
            130,
            Inbound,
            Access::Deny,
            Protocol::Any,
            A::Any,
            A::Asgs(vec![AsgIdx::new(1)]),
            PortSpec::Any,
        ),
        rule(
            "icmp-from-list",
            140,
            Inbound,
            Access::Allow,
            Protocol::Icmp,
            A::Prefixes(vec![
                net("10.1.0.0/24"),
                net("203.0.113.7/32"),
                net("2001:db8::/64"),
            ]),
            A::Any,
            PortSpec::Any,
        ),
        rule(
            "lb-probe",
            150,
            Inbound,
            Access::Allow,
            Protocol::Tcp,
            A::Tag(ServiceTag::AzureLoadBalancer),
            A::Any,
            ranges(&[(8080, 8090)]),
        ),
        rule(
            "no-internet-udp",
            100,
            Outbound,
            Access::Deny,
            Protocol::Udp,
            A::Any,
            A::Tag(ServiceTag::Internet),
            ranges(&[(0, 52), (54, 65535)]),
        ),
        rule(
            "web-out",
            110,
            Outbound,
            Access::Allow,
            Protocol::Any,
            A::Asgs(vec![AsgIdx::new(0)]),
            A::Prefixes(vec![net("0.0.0.0/1")]),
            PortSpec::Any,
        ),
        rule(
            "esp-out",
            120,
            Outbound,
            Access::Allow,
            Protocol::Esp,
            A::Any,
            A::Tag(ServiceTag::VirtualNetwork),
            PortSpec::Any,
        ),
    ];
    let nic_rules = vec![
        rule(
            "nic-allow-ah",
            200,
            Inbound,
            Access::Allow,
            Protocol::Ah,
            A::Any,
            A::Any,
            PortSpec::Any,
        ),
        rule(
            "nic-deny-1000s",
            210,
            Outbound,
            Access::Deny,
            Protocol::Tcp,
            A::Any,
            A::Any,
            ranges(&[(1000, 1999)]),
        ),
    ];
    Topology {
        source: "hand-built".into(),
        vnets: vec![
            Vnet {
                tags: Default::default(),
                dns_servers: Vec::new(),
                name: "hub".into(),
                address_space: vec![net("10.0.0.0/16"), net("fd00:0:0::/48")],
                location: "westus".into(),
                flow_timeout_minutes: 4,
                subnets: vec![subnet("app", "10.0.1.0/24", Some(0), Some(0))].into(),
                line: 0,
            },
            Vnet {
                tags: Default::default(),
                dns_servers: Vec::new(),
                name: "spoke".into(),
                address_space: vec![net("10.1.0.0/16")],
                location: "eastus".into(),
                flow_timeout_minutes: 4,
                subnets: vec![subnet("default", "10.1.0.0/24", Some(0), None)].into(),
                line: 0,
            },
        ]
        .into(),
        peerings: vec![peering(0, 1), peering(1, 0)],
        nics: vec![
            nic("web1", 0, 0, &["10.0.1.4", "fd00::4"], Some(1), vec![0]),
            nic("web2", 0, 0, &["10.0.1.5"], None, vec![0]),
            nic("db1", 0, 0, &["10.0.1.6"], Some(1), vec![1]),
            nic("spoke1", 1, 0, &["10.1.0.4"], None, vec![]),
        ]
        .into(),
        route_tables: vec![RouteTable {
            name: "hub-rt".into(),
            bgp_route_propagation_enabled: true,
            routes: vec![
                Route {
                    name: "default-via-nva".into(),
                    address_prefix: net("0.0.0.0/0"),
                    next_hop_type: NextHopType::VirtualAppliance,
                    next_hop_ip: Some("10.0.1.5".parse().unwrap()),
                    line: 0,
                },
                Route {
                    name: "onprem".into(),
                    address_prefix: net("198.51.100.0/24"),
                    next_hop_type: NextHopType::VirtualAppliance,
                    next_hop_ip: Some("10.0.1.5".parse().unwrap()),
                    line: 0,
                },
            ],
            line: 0,
        }]
        .into(),
        nsgs: vec![
            Nsg {
                name: "subnet-nsg".into(),
                flush_connection: false,
                security_rules: subnet_rules,
                line: 0,
            },
            Nsg {
                name: "nic-nsg".into(),
                flush_connection: false,
                security_rules: nic_rules,
                line: 0,
            },
        ]
        .into(),
        asgs: vec![
            Asg {
                name: "web".into(),
                line: 0,
            },
            Asg {
                name: "db".into(),
                line: 0,
            },
        ]
        .into(),
        ..Default::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn classifier_equals_first_match_on_topology_rules(seed in any::<u64>()) {
        let topo = hand_built_topology();
        let mut draw = Draw(seed);
        for nic in topo.nics.keys() {
            for direction in [Direction::Inbound, Direction::Outbound] {
                for (_, nsg) in nsg_chain(&topo, nic, direction) {
                    let rules = effective_rules(&topo, &LearnedRoutes::default(), nsg, nic, direction);
                    let classifier = compile(&rules);
                    for _ in 0..16 {
                        let key = draw.packet(&rules);
                        prop_assert_eq!(
                            classifier.classify(&key),
                            first_match(&rules, &key),
                            "nic {} {:?} nsg {} {:?}", nic, direction, nsg, key
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn topology_rules_decide_as_azure_would() {
    let topo = hand_built_topology();
    let verdict = |nic: NicIdx, direction, key: PacketKey| -> Vec<String> {
        nsg_chain(&topo, nic, direction)
            .into_iter()
            .map(|(_, nsg)| {
                let rules = effective_rules(&topo, &LearnedRoutes::default(), nsg, nic, direction);
                let i = compile(&rules)
                    .classify(&key)
                    .expect("default rules match all");
                rules[i].name.clone()
            })
            .collect()
    };
    let tcp = |src: &str, dst: &str, dport| PacketKey {
        proto: IPPROTO_TCP,
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        src_port: Some(40000),
        dst_port: Some(dport),
    };
    // SSH from the Internet to web1: denied by the subnet NSG.
    assert_eq!(
        verdict(
            NicIdx::new(0),
            Direction::Inbound,
            tcp("8.8.8.8", "10.0.1.4", 22)
        )[0],
        "securityRules/deny-internet-ssh"
    );
    // HTTP from the peered spoke to web1: the spoke is in VirtualNetwork.
    assert_eq!(
        verdict(
            NicIdx::new(0),
            Direction::Inbound,
            tcp("10.1.0.4", "10.0.1.4", 80)
        ),
        [
            "securityRules/web-from-vnet",
            "defaultSecurityRules/AllowVnetInBound"
        ]
    );
    // The UDR prefix 198.51.100.0/24 is in VirtualNetwork, and so is the
    // 0/0 UDR: as in Azure, the tag of a forced-tunnel subnet is 0.0.0.0/0
    // (learn.microsoft.com/azure/virtual-network/service-tags-overview:
    // "This tag might also contain default routes";
    // github.com/MicrosoftDocs/azure-docs/issues/22178).
    assert_eq!(
        verdict(
            NicIdx::new(0),
            Direction::Inbound,
            tcp("198.51.100.9", "10.0.1.4", 443)
        )[0],
        "securityRules/web-from-vnet"
    );
    assert_eq!(
        verdict(
            NicIdx::new(0),
            Direction::Inbound,
            tcp("203.0.113.9", "10.0.1.4", 443)
        )[0],
        "securityRules/web-from-vnet"
    );
    // The spoke's subnet has no 0/0 route: there an Internet source is no
    // VirtualNetwork address.
    assert!(!vnetd::policy::tags::virtual_network_tag(
        &topo,
        &LearnedRoutes::default(),
        vnetd::topology::SubnetRef {
            vnet: VnetIdx::new(1),
            subnet: SubnetIdx::new(0)
        }
    )
    .iter()
    .any(|n| n.contains(&"203.0.113.9".parse::<std::net::IpAddr>().unwrap())));
    // Postgres from web2 to db1 passes; from spoke1 it is denied.
    assert_eq!(
        verdict(
            NicIdx::new(2),
            Direction::Inbound,
            tcp("10.0.1.5", "10.0.1.6", 5432)
        )[0],
        "securityRules/db-from-web"
    );
    assert_eq!(
        verdict(
            NicIdx::new(2),
            Direction::Inbound,
            tcp("10.1.0.4", "10.0.1.6", 5432)
        )[0],
        "securityRules/deny-db"
    );
    // web-from-vnet is scoped to web members: db1 never sees it.
    assert!(effective_rules(
        &topo,
        &LearnedRoutes::default(),
        NsgIdx::new(0),
        NicIdx::new(2),
        Direction::Inbound,
    )
    .iter()
    .all(|r| r.name != "securityRules/web-from-vnet"));
}
