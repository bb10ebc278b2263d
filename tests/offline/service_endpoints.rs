//! Service endpoints and the PaaS resources' own network rules over
//! `config/service-endpoints.yaml` and variants of it: each subnet's
//! `VirtualNetworkServiceEndpoint` rows against the rows its endpoints
//! imply, the packets' route and way out against those rows, every
//! resource's judgement of every source against a naive reading of
//! Azure's rules, and Azure's refusals at their lines.

use crate::common;

use common::broken_files::{assert_refused_with_words, Case};
use ipnet::IpNet;
use std::net::IpAddr;
use vnetd::dataplane::{decide, Stateless, Verdict};
use vnetd::policy::routes::effective_routes;
use vnetd::policy::service_access::{judge, Arrival, DecidingRule};
use vnetd::snapshot::Snapshot;
use vnetd::topology::{
    parse_str, DefaultAction, NextHopType, PaasKind, PaasResourceIdx, SubnetRef, Topology,
};

const TAG: &str = "service-endpoints";
const BASE: &str = include_str!("../../config/service-endpoints.yaml");

fn topology(text: &str) -> Topology {
    parse_str("service-endpoints.yaml", text)
        .unwrap_or_else(|d| panic!("{d:#?}"))
        .topology
}

/// The rows a subnet's endpoints imply: each service's prefix, once.
fn expected_rows(topo: &Topology, subnet: SubnetRef) -> Vec<IpNet> {
    let mut out: Vec<IpNet> = Vec::new();
    for s in &topo.subnet(subnet).services.endpoints {
        let p = IpNet::V4(s.prefix());
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

fn subnets(topo: &Topology) -> Vec<SubnetRef> {
    (topo.vnets.iter_enumerated())
        .flat_map(|(vnet, v)| {
            v.subnets
                .keys()
                .map(move |subnet| SubnetRef { vnet, subnet })
        })
        .collect()
}

fn variants() -> Vec<String> {
    vec![
        BASE.to_string(),
        BASE.replacen(
            "service_endpoints: [Microsoft.Storage]",
            "service_endpoints: [Microsoft.Storage, Microsoft.Storage.Global, Microsoft.Sql, \
             Microsoft.KeyVault]",
            1,
        ),
        BASE.replacen(
            "        default_outbound_access: true\n",
            "        default_outbound_access: true\n        service_endpoints: [Microsoft.Sql]\n",
            1,
        ),
    ]
}

#[test]
fn each_subnet_lists_the_rows_of_its_service_endpoints_and_no_other() {
    for text in variants() {
        let topo = topology(&text);
        for subnet in subnets(&topo) {
            let rows: Vec<IpNet> = effective_routes(&topo, subnet)
                .into_iter()
                .filter(|r| r.next_hop_type == NextHopType::VirtualNetworkServiceEndpoint)
                .map(|r| r.address_prefix)
                .collect();
            assert_eq!(
                rows,
                expected_rows(&topo, subnet),
                "{}",
                topo.subnet_path(subnet)
            );
        }
    }
}

#[test]
fn the_rows_are_listed_as_azure_lists_them() {
    let topo = topology(BASE);
    let web = SubnetRef {
        vnet: 0.into(),
        subnet: 0.into(),
    };
    let row = effective_routes(&topo, web)
        .into_iter()
        .find(|r| r.next_hop_type == NextHopType::VirtualNetworkServiceEndpoint)
        .expect("a service endpoint row");
    assert_eq!(row.address_prefix.to_string(), "198.19.1.0/24");
    assert_eq!(row.next_hop_type.as_str(), "VirtualNetworkServiceEndpoint");
    assert!(row.is_active());
    // The account's public face lies in its service's prefix.
    assert_eq!(
        topo.paas_resources[PaasResourceIdx::new(0)]
            .public_address
            .to_string(),
        "198.19.1.4"
    );
}

#[test]
fn a_packet_to_the_service_leaves_untranslated_only_through_the_endpoint() {
    let snap = Snapshot::compile(topology(BASE), 0);
    let internet = snap.edge.internet.expect("the lab has an Internet");
    for (nic, source, translated) in [
        ("vm-web", "10.1.1.4", false),
        ("vm-batch", "10.1.2.4", true),
    ] {
        let port = snap
            .plan
            .ports
            .iter_enumerated()
            .find(|(_, p)| p.name == nic)
            .unwrap()
            .0;
        let packet = common::packets::syn4(source, "198.19.1.4", 40000, 80);
        let verdict = decide(&snap, &Stateless, port, &packet, 0);
        match (verdict, translated) {
            (Verdict::Deliver(to), false) => assert_eq!(to, internet, "{nic}"),
            (Verdict::Translate { nic: to, .. }, true) => assert_eq!(to, internet, "{nic}"),
            (v, _) => panic!("{nic}: {v:?}"),
        }
    }
}

/// The naive reading of Azure's rules for a request at a public face:
/// access disabled refuses; a policy of the source's subnet that does not
/// list the account refuses; Allow lets in; Deny lets in an allowed subnet
/// through its endpoint or a public source in an IP rule.
fn reference(topo: &Topology, r: PaasResourceIdx, source: IpAddr) -> bool {
    let res = &topo.paas_resources[r];
    if !res.public_network_access {
        return false;
    }
    let mut from_subnet = None;
    for subnet in subnets(topo) {
        let s = topo.subnet(subnet);
        if s.address_prefixes.iter().any(|p| p.contains(&source))
            && s.services.endpoints.iter().any(|e| e.covers(res.kind))
        {
            from_subnet = Some(subnet);
            break;
        }
    }
    if let Some(subnet) = from_subnet {
        let policies = &topo.subnet(subnet).services.policies;
        if res.kind == PaasKind::StorageAccount
            && !policies.is_empty()
            && !policies.iter().any(|&p| {
                topo.service_endpoint_policies[p]
                    .definitions
                    .iter()
                    .any(|d| d.resources.contains(&r))
            })
        {
            return false;
        }
    }
    if res.network_rules.default_action == DefaultAction::Allow {
        return true;
    }
    match from_subnet {
        Some(s) => res.network_rules.subnets.contains(&s),
        None => res
            .network_rules
            .ip_rules
            .iter()
            .any(|n| n.contains(&source)),
    }
}

#[test]
fn every_resource_judges_every_source_as_the_reference_does() {
    let policy_dropped = BASE.replacen(
        "        service_endpoint_policy_ids: [web-storage-only]\n",
        "",
        1,
    );
    let policy_narrowed = BASE.replacen(
        "service_resources: [stcontosodata, stcontosolocked]",
        "service_resources: [stcontosolocked]",
        1,
    );
    let allow_all = BASE.replacen("default_action: Deny", "default_action: Allow", 1);
    let sources = [
        "10.1.1.4",
        "10.1.2.4",
        "10.1.3.4",
        "203.0.113.10",
        "198.51.100.7",
        "10.9.9.9",
    ];
    for text in [BASE.to_string(), policy_dropped, policy_narrowed, allow_all] {
        let topo = topology(&text);
        for (r, res) in topo.paas_resources.iter_enumerated() {
            for source in sources {
                let source: IpAddr = source.parse().unwrap();
                let judged = judge(&topo, res.kind, Some(r), Arrival::PublicFace { source });
                assert_eq!(
                    judged.allowed,
                    reference(&topo, r, source),
                    "{} from {source}: {:?}",
                    res.name,
                    judged.rule
                );
            }
            let through_pe = judge(&topo, res.kind, Some(r), Arrival::PrivateEndpoint);
            assert!(through_pe.allowed);
            assert_eq!(through_pe.rule, DecidingRule::PrivateEndpoint);
        }
    }
}

#[test]
fn the_deciding_rule_is_named() {
    let topo = topology(BASE);
    let data = PaasResourceIdx::new(0);
    let kind = PaasKind::StorageAccount;
    let face = |s: &str| Arrival::PublicFace {
        source: s.parse().unwrap(),
    };
    let rule = |s: &str| judge(&topo, kind, Some(data), face(s)).rule.describe(&topo);
    assert_eq!(rule("10.1.1.4"), "virtual network rule app/web");
    assert_eq!(rule("203.0.113.10"), "ip rule 203.0.113.10/32");
    assert_eq!(rule("198.51.100.7"), "default action Deny");
    let locked = judge(&topo, kind, Some(PaasResourceIdx::new(1)), face("10.1.1.4"));
    assert_eq!(locked.rule, DecidingRule::PublicNetworkAccessDisabled);
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "se-unknown-service",
            edits: &[("service_endpoints: [Microsoft.Storage]", "service_endpoints: [Microsoft.Storage, Microsoft.Foo]")],
            expect: &[(
                "service_endpoints: [Microsoft.Storage, Microsoft.Foo]",
                "`Microsoft.Foo` is not a service Azure offers service endpoints for",
            )],
        },
        Case {
            name: "se-rule-for-a-subnet-without-the-endpoint",
            edits: &[("virtual_network_subnet_ids: [app/web]", "virtual_network_subnet_ids: [app/web, app/batch]")],
            expect: &[(
                "virtual_network_subnet_ids: [app/web, app/batch]",
                "Subnets batch of virtual network app do not have ServiceEndpoints for Microsoft.Storage resources configured",
            )],
        },
        Case {
            name: "se-policy-for-an-account-in-another-region",
            edits: &[(
                "  - name: stcontosolocked\n    kind: storage_account\n    location: westeurope",
                "  - name: stcontosolocked\n    kind: storage_account\n    location: eastus",
            )],
            expect: &[(
                "service_resources: [stcontosodata, stcontosolocked]",
                "storage account `stcontosolocked` is in eastus, service endpoint policy `web-storage-only` in westeurope",
            )],
        },
        Case {
            name: "se-policy-on-a-subnet-without-storage-endpoint",
            edits: &[("service_endpoints: [Microsoft.Storage]", "service_endpoints: [Microsoft.Sql]")],
            expect: &[
                ("service_endpoint_policy_ids: [web-storage-only]", "has no Microsoft.Storage service endpoint"),
                ("virtual_network_subnet_ids: [app/web]", "do not have ServiceEndpoints for Microsoft.Storage"),
            ],
        },
        Case {
            name: "se-bad-storage-account-name",
            edits: &[("  - name: stcontosodata\n", "  - name: StContosoData\n")],
            expect: &[("  - name: StContosoData", "is not a storage account name")],
        },
        Case {
            name: "se-private-ip-rule",
            edits: &[("ip_rules: [203.0.113.10]", "ip_rules: [10.1.2.0/24]")],
            expect: &[("ip_rules: [10.1.2.0/24]", "is a private range")],
        },
        Case {
            name: "se-service-endpoint-as-a-user-route",
            edits: &[(
                "network_interfaces:\n",
                "route_tables:\n  - name: rt\n    routes:\n      - {name: se, address_prefix: 198.19.1.0/24, next_hop_type: VirtualNetworkServiceEndpoint}\n\nnetwork_interfaces:\n",
            )],
            expect: &[("next_hop_type: VirtualNetworkServiceEndpoint", "is not allowed in a user-defined route")],
        },
    ]
}

#[test]
fn what_azure_refuses_of_service_endpoints_is_refused_with_its_line() {
    for case in cases() {
        assert_refused_with_words(TAG, BASE, &case);
    }
}

/// With a real flow table: the service's reply to vm-web's flow through
/// its endpoint is delivered to vm-web, untranslated; the same packet
/// before that flow, another port's, and a packet from another Internet
/// address are not.
#[test]
fn only_the_reply_of_a_service_endpoint_flow_reaches_a_private_address_from_the_internet() {
    use vnetd::dataplane::DropReason;
    use vnetd::engine::flow_table::FlowTable;
    let snap = Snapshot::compile(topology(BASE), 1);
    let internet = snap.edge.internet.expect("the lab has an Internet");
    let web = snap.port_by_name("vm-web").unwrap();
    // Room for every NIC's owner and the frontends' (the edge's among them).
    let table = FlowTable::new(1024, 256, 0);
    let reply = common::packets::udp4("198.19.1.4", "10.1.1.4", 7001, 40000);
    let no_destination = |v: Verdict| {
        matches!(
            v,
            Verdict::Drop {
                reason: DropReason::NoDestination,
                ..
            }
        )
    };
    assert!(no_destination(decide(&snap, &table, internet, &reply, 0)));
    let request = common::packets::udp4("10.1.1.4", "198.19.1.4", 40000, 7001);
    assert_eq!(
        decide(&snap, &table, web, &request, 0),
        Verdict::Deliver(internet)
    );
    assert_eq!(
        decide(&snap, &table, internet, &reply, 1),
        Verdict::Deliver(web)
    );
    for (src, sport, dport) in [("198.19.1.4", 7001, 40001), ("203.0.113.10", 7001, 40000)] {
        let other = common::packets::udp4(src, "10.1.1.4", sport, dport);
        assert!(
            no_destination(decide(&snap, &table, internet, &other, 1)),
            "{src}:{sport} -> {dport}"
        );
    }
}

/// `trace` names the rule that decides at the account, with the source
/// the account sees: vm-web's private address through its endpoint,
/// vm-batch's default outbound address.
#[test]
fn trace_names_the_deciding_rule_of_the_account() {
    use vnetd::diagnostics::trace::{trace, TraceQuery};
    use vnetd::topology::{Endpoint, ExpectedProtocol};
    let snap = Snapshot::compile(topology(BASE), 0);
    let service = |nic: &str, to: &str| {
        let query = TraceQuery {
            from: Endpoint::Nic(snap.topology.nic_by_name(nic).unwrap()),
            to: to.parse().unwrap(),
            protocol: ExpectedProtocol::Tcp,
            port: Some(80),
        };
        let answer = trace(&snap, &query).unwrap();
        assert_eq!(answer.verdict, "Allow", "{answer:#?}");
        answer.service.unwrap_or_default()
    };
    assert_eq!(
        service("vm-web", "198.19.1.4"),
        "stcontosodata allows 10.1.1.4: virtual network rule app/web"
    );
    assert_eq!(
        service("vm-batch", "198.19.1.4"),
        "stcontosodata refuses 192.0.2.1 (403): default action Deny"
    );
    assert_eq!(
        service("vm-batch", "198.19.1.5"),
        "stcontosolocked refuses 192.0.2.1 (403): public_network_access_enabled = false"
    );
    assert_eq!(service("vm-batch", "10.1.3.4"), "");
}
