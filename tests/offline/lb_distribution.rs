//! How a load-balancing rule spreads new flows: each `load_distribution`
//! mode is a pure function of the fields it names (the same flow always
//! lands on the same backend, and so does its reply), and 10,000 flows
//! spread over 4 backends within 10% of even.

use std::net::{IpAddr, Ipv4Addr};
use vnetd::net::{PacketKey, IPPROTO_TCP, IPPROTO_UDP};
use vnetd::snapshot::{LbBackend, LbRuleTables};
use vnetd::topology::{LbProtocol, LoadDistribution, NicIdx};

const FRONTEND: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 2, 100));

fn rule(distribution: LoadDistribution, backends: usize) -> LbRuleTables {
    let pool: Box<[LbBackend]> = (0..backends)
        .map(|i| LbBackend {
            nic: NicIdx::new(i),
            address: IpAddr::V4(Ipv4Addr::new(10, 0, 2, 4 + i as u8)),
        })
        .collect();
    LbRuleTables {
        rule: 0,
        protocol: LbProtocol::All,
        frontend_port: 0,
        backend_port: 0,
        distribution,
        floating_ip: false,
        idle_timeout_ms: 240_000,
        placement_since: 1,
        healthy: pool.clone(),
        pool,
    }
}

/// Flow `i` of a synthetic population: clients across 10.1.0.0/16 and
/// 10.2.0.0/16 with ephemeral ports, TCP and UDP, to the frontend.
fn flow(i: u32) -> PacketKey {
    let client = Ipv4Addr::from(0x0a01_0000 + (i.wrapping_mul(2_654_435_761) % 0x2_0000));
    PacketKey {
        proto: if i.is_multiple_of(3) {
            IPPROTO_UDP
        } else {
            IPPROTO_TCP
        },
        src: IpAddr::V4(client),
        dst: FRONTEND,
        src_port: Some(32768 + (i % 28232) as u16),
        dst_port: Some(80),
    }
}

fn picked(rule: &LbRuleTables, key: &PacketKey) -> NicIdx {
    rule.pick(key).expect("every backend is healthy").nic
}

const MODES: [LoadDistribution; 3] = [
    LoadDistribution::Default,
    LoadDistribution::SourceIp,
    LoadDistribution::SourceIpProtocol,
];

#[test]
fn ten_thousand_flows_spread_within_ten_percent_of_even_over_four_backends() {
    for mode in MODES {
        let rule = rule(mode, 4);
        let mut counts = [0u32; 4];
        // SourceIP modes hash only addresses: the population varies them.
        for i in 0..10_000 {
            counts[picked(&rule, &flow(i)).index()] += 1;
        }
        for (backend, &n) in counts.iter().enumerate() {
            assert!(
                (2_250..=2_750).contains(&n),
                "{mode:?}: backend {backend} got {n} of 10,000 flows ({counts:?})"
            );
        }
    }
}

#[test]
fn every_mode_is_deterministic_and_symmetric() {
    for mode in MODES {
        let rule = rule(mode, 4);
        for i in 0..1_000 {
            let key = flow(i);
            let first = picked(&rule, &key);
            assert_eq!(picked(&rule, &key), first, "{mode:?}: the same flow moved");
            assert_eq!(
                picked(&rule, &key.reversed()),
                first,
                "{mode:?}: the reply lands elsewhere"
            );
        }
    }
}

#[test]
fn each_mode_hashes_exactly_the_fields_it_names() {
    let same_client_other_port = |k: PacketKey| PacketKey {
        src_port: k.src_port.map(|p| p ^ 0x5a5),
        ..k
    };
    let same_client_other_protocol = |k: PacketKey| PacketKey {
        proto: if k.proto == IPPROTO_TCP {
            IPPROTO_UDP
        } else {
            IPPROTO_TCP
        },
        ..k
    };
    let source_ip = rule(LoadDistribution::SourceIp, 4);
    let source_ip_protocol = rule(LoadDistribution::SourceIpProtocol, 4);
    let five_tuple = rule(LoadDistribution::Default, 4);
    let (mut port_moved, mut protocol_moved, mut five_tuple_port_moved) = (0, 0, 0);
    for i in 0..1_000 {
        let key = flow(i);
        // SourceIP: one client stays on one backend whatever its ports
        // and protocol.
        let at = picked(&source_ip, &key);
        assert_eq!(picked(&source_ip, &same_client_other_port(key)), at);
        assert_eq!(picked(&source_ip, &same_client_other_protocol(key)), at);
        // SourceIPProtocol: ports do not matter, the protocol does.
        let at = picked(&source_ip_protocol, &key);
        assert_eq!(
            picked(&source_ip_protocol, &same_client_other_port(key)),
            at
        );
        if picked(&source_ip_protocol, &same_client_other_protocol(key)) != at {
            protocol_moved += 1;
        }
        // Default: the ports matter.
        if picked(&five_tuple, &same_client_other_port(key)) != picked(&five_tuple, &key) {
            five_tuple_port_moved += 1;
        }
        if picked(&source_ip, &same_client_other_port(key)) != picked(&source_ip, &key) {
            port_moved += 1;
        }
    }
    assert_eq!(port_moved, 0);
    // With 4 backends a changed field moves about 3 flows in 4.
    assert!(protocol_moved > 600, "{protocol_moved}");
    assert!(five_tuple_port_moved > 600, "{five_tuple_port_moved}");
}

#[test]
fn only_healthy_backends_get_new_flows_and_none_when_all_are_down() {
    let mut rule = rule(LoadDistribution::Default, 4);
    rule.healthy = rule
        .pool
        .iter()
        .copied()
        .filter(|b| b.nic != NicIdx::new(1))
        .collect();
    for i in 0..2_000 {
        assert_ne!(picked(&rule, &flow(i)), NicIdx::new(1));
    }
    rule.healthy = Box::new([]);
    assert_eq!(rule.pick(&flow(0)), None);
}
