//! Tests of the snapshot's compilation: the longest-prefix table against
//! the rows it is built from, the classifier against the plain first-match
//! evaluation.

use super::*;
use crate::engine::classifier::{Classifier, PacketKey, RuleMatch};
use crate::net::{PortRange, PortSpec, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP};
use crate::policy::nsg::{effective_rules, first_match};
use crate::policy::routes::{active_routes, effective_routes};
use crate::topology::{Access, NicIdx};
use crate::topology::{AddressSpec, NextHopType, Protocol, ServiceTag};
use vnetd_model::fixtures::{first_subnet, ip, route, sec_rule, table, topo, vnet};

#[test]
fn compiled_table_points_at_active_rows_only() {
    let topo = Topology {
        vnets: vec![vnet("a", "westus", &["10.0.0.0/16"], Some(0))].into(),
        route_tables: vec![table(vec![route(
            "drop",
            "10.0.0.0/16",
            NextHopType::None,
            None,
        )])]
        .into(),
        ..Default::default()
    };
    let rows = effective_routes(&topo, first_subnet(0));
    let lpm = compile_lpm(&rows);
    assert_eq!(lpm.len(), active_routes(&rows).count());
    for (_, &i) in lpm.iter() {
        assert!(rows[i].is_active());
    }
}

#[test]
fn classifier_agrees_with_reference_on_effective_rules() {
    let mut udp = sec_rule(
        "udp-dns",
        120,
        Direction::Inbound,
        AddressSpec::Tag(ServiceTag::Internet),
        AddressSpec::Any,
    );
    udp.settings.protocol = Protocol::Udp;
    udp.settings.access = Access::Deny;
    udp.settings.destination_ports = PortSpec::Ranges(vec![PortRange { lo: 53, hi: 53 }]);
    let t = topo(vec![
        sec_rule(
            "web",
            100,
            Direction::Inbound,
            AddressSpec::Any,
            AddressSpec::Asgs(vec![AsgIdx::new(0)]),
        ),
        udp,
    ]);
    let rules = effective_rules(
        &t,
        &LearnedRoutes::default(),
        NsgIdx::new(0),
        NicIdx::new(0),
        Direction::Inbound,
    );
    let matches: Vec<RuleMatch> = rules.iter().map(rule_match).collect();
    let classifier = Classifier::new(&matches);
    for proto in [IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, 58, 50] {
        for src in [
            "10.0.1.5",
            "8.8.8.8",
            "168.63.129.16",
            "192.168.0.1",
            "2001:db8::1",
        ] {
            for dst in ["10.0.1.4", "10.0.1.6", "::1"] {
                for port in [None, Some(53), Some(80), Some(81)] {
                    let k = PacketKey {
                        proto,
                        src: ip(src),
                        dst: ip(dst),
                        src_port: port,
                        dst_port: port,
                    };
                    assert_eq!(classifier.classify(&k), first_match(&rules, &k), "{k:?}");
                }
            }
        }
    }
}
