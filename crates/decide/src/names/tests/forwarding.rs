//! Forwarding rulesets in Azure DNS's order: a linked rule takes a name
//! unless a linked zone of at least as long a domain holds it (the zone
//! then answers, NXDOMAIN included); the longest rule wins; a CNAME that
//! leads into a rule's domain is forwarded from there; and on the wire the
//! question sent on and the answer relayed back, truncated over UDP when
//! it is too long or the target's was, whole over TCP.

use super::super::*;
use crate::topology::{parse_str, RecordData, VnetIdx};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record};

const LAB: &str = r#"
vnets:
  - {name: hub, address_space: [10.0.0.0/16], location: westeurope,
     subnets: [{name: app, address_prefixes: [10.0.1.0/24]}, {name: out, address_prefixes: [10.0.4.16/28]}]}
  - {name: unlinked, address_space: [10.9.0.0/16], location: westeurope,
     subnets: [{name: app, address_prefixes: [10.9.1.0/24]}]}
network_interfaces:
  - {name: vm1, subnet: hub/app, private_ip_address: 10.0.1.4}
  - {name: vm9, subnet: unlinked/app, private_ip_address: 10.9.1.4}
private_dns_zones:
  - name: contoso.internal
    records:
      - {name: shared, type: A, records: [10.0.1.50]}
      - {name: files, type: CNAME, records: [nas.corp.contoso.com]}
    virtual_network_links: [{name: hub, virtual_network: hub}]
private_dns_resolvers:
  - {name: r, virtual_network: hub, outbound_endpoints: [{name: out, subnet: hub/out}]}
dns_forwarding_rulesets:
  - name: onprem
    outbound_endpoints: [r/out]
    virtual_network_links: [hub]
    rules:
      - {name: corp, domain_name: corp.contoso.com., target_dns_servers: [{ip_address: 192.168.1.10}, {ip_address: 192.168.1.11, port: 5353}]}
      - {name: same-as-zone, domain_name: contoso.internal., target_dns_servers: [{ip_address: 192.168.1.12}]}
      - {name: deeper, domain_name: lab.contoso.internal., target_dns_servers: [{ip_address: 192.168.1.13}]}
      - {name: off, domain_name: off.example.com., enabled: false, target_dns_servers: [{ip_address: 192.168.1.14}]}
"#;

fn tables() -> (Topology, NameTables) {
    let topology = parse_str("forwarding.yaml", LAB)
        .expect("the lab parses")
        .topology;
    let tables = NameTables::compile(&topology);
    (topology, tables)
}

fn hub(t: &Topology) -> VnetIdx {
    t.vnets.position(|v| v.name == "hub").unwrap()
}

/// The targets a question was sent to, or `None` when Azure DNS answered.
fn forwarded_to(r: &Resolution) -> Option<Vec<String>> {
    r.forward
        .as_ref()
        .map(|f| f.targets.iter().map(ToString::to_string).collect())
}

#[test]
fn a_linked_rule_takes_its_domain_and_the_longest_rule_wins() {
    let (t, n) = tables();
    let r = n.resolve(hub(&t), "app.corp.contoso.com", QueryType::A);
    assert_eq!(
        forwarded_to(&r),
        Some(vec!["192.168.1.10:53".into(), "192.168.1.11:5353".into()])
    );
    assert_eq!(r.forward.as_ref().unwrap().name, "app.corp.contoso.com");
    assert!(matches!(
        &r.chain[0].source,
        Source::Rule { rule, ruleset, domain } if rule == "corp" && ruleset == "onprem" && domain == "corp.contoso.com"
    ));
    // A rule longer than the linked zone's domain beats the zone.
    let r = n.resolve(hub(&t), "x.lab.contoso.internal", QueryType::A);
    assert_eq!(forwarded_to(&r), Some(vec!["192.168.1.13:53".into()]));
}

#[test]
fn a_linked_zone_of_the_rules_own_domain_answers_nxdomain_included() {
    let (t, n) = tables();
    let r = n.resolve(hub(&t), "shared.contoso.internal", QueryType::A);
    assert_eq!(r.forward, None);
    assert_eq!(
        r.addresses(),
        vec!["10.0.1.50".parse::<std::net::IpAddr>().unwrap()]
    );
    let r = n.resolve(hub(&t), "missing.contoso.internal", QueryType::A);
    assert_eq!((r.forward.clone(), r.rcode), (None, Rcode::NxDomain));
}

#[test]
fn a_disabled_rule_and_an_unlinked_vnet_forward_nothing() {
    let (t, n) = tables();
    let r = n.resolve(hub(&t), "x.off.example.com", QueryType::A);
    assert_eq!((r.forward.clone(), r.rcode), (None, Rcode::NxDomain));
    let unlinked = t.vnets.position(|v| v.name == "unlinked").unwrap();
    let r = n.resolve(unlinked, "app.corp.contoso.com", QueryType::A);
    assert_eq!((r.forward.clone(), r.rcode), (None, Rcode::NxDomain));
}

#[test]
fn a_cname_into_a_rules_domain_is_forwarded_from_there() {
    let (t, n) = tables();
    let r = n.resolve(hub(&t), "files.contoso.internal", QueryType::A);
    let forward = r.forward.as_ref().expect("forwarded");
    assert_eq!(forward.name, "nas.corp.contoso.com");
    assert_eq!(r.answers.len(), 1, "the CNAME followed before the rule");
    assert_eq!(
        r.answers[0].data,
        RecordData::Cname("nas.corp.contoso.com".into())
    );
}

fn query_bytes(name: &str, id: u16) -> Vec<u8> {
    let mut q = Message::new(id, MessageType::Query, OpCode::Query);
    q.metadata.recursion_desired = true;
    q.add_query(Query::query(Name::from_ascii(name).unwrap(), QueryType::A));
    q.to_vec().unwrap()
}

#[test]
fn on_the_wire_the_rest_is_asked_and_the_answer_relayed_after_the_cnames() {
    let (t, n) = tables();
    let query = query_bytes("files.contoso.internal.", 0x1234);
    let mut out = Vec::new();
    let Outcome::Forward(forwarded) = n.answer(hub(&t), &query, &mut out) else {
        panic!("forwarded")
    };
    assert!(out.is_empty());
    // What the outbound endpoint sends: the name reached, a fresh id.
    assert!(forward_query(&forwarded, 0x0707, &mut out));
    let sent = Message::from_vec(&out).unwrap();
    assert_eq!(sent.metadata.id, 0x0707);
    assert_eq!(sent.queries[0].name().to_ascii(), "nas.corp.contoso.com.");
    // The target's answer, relayed with the asker's id after the CNAME.
    let mut upstream = Message::response(0x0707, OpCode::Query);
    upstream.add_query(sent.queries[0].clone());
    upstream.add_answer(Record::from_rdata(
        Name::from_ascii("nas.corp.contoso.com.").unwrap(),
        60,
        RData::A(A::new(192, 168, 1, 30)),
    ));
    let upstream = upstream.to_vec().unwrap();
    let mut answer = Vec::new();
    let outcome = relay(&query, &forwarded, Some(&upstream), &mut answer);
    assert!(
        matches!(outcome, Outcome::Answered(a) if a.answers == 2),
        "{outcome:?}"
    );
    let relayed = Message::from_vec(&answer).unwrap();
    assert_eq!(relayed.metadata.id, 0x1234);
    assert_eq!(relayed.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        relayed.queries[0].name().to_ascii(),
        "files.contoso.internal."
    );
    let data: Vec<String> = relayed.answers.iter().map(|r| r.data.to_string()).collect();
    assert_eq!(data, ["nas.corp.contoso.com.", "192.168.1.30"]);
    // No target answered: SERVFAIL, the CNAME kept.
    let outcome = relay(&query, &forwarded, None, &mut answer);
    assert!(matches!(outcome, Outcome::Answered(a) if a.rcode == Rcode::ServFail));
}

/// The target's answer to the question forwarded for `query`: `count`
/// addresses, and TC when `truncated`.
fn upstream_answer(query: &[u8], count: u8, truncated: bool) -> Vec<u8> {
    let asked = Message::from_vec(query).unwrap();
    let mut upstream = Message::response(0x0707, OpCode::Query);
    upstream.add_query(asked.queries[0].clone());
    upstream.metadata.truncation = truncated;
    for n in 0..count {
        upstream.add_answer(Record::from_rdata(
            asked.queries[0].name().clone(),
            60,
            RData::A(A::new(192, 168, 2, n)),
        ));
    }
    upstream.to_vec().unwrap()
}

#[test]
fn a_long_answer_is_truncated_over_udp_and_relayed_whole_over_tcp() {
    let (t, n) = tables();
    let query = query_bytes("app.corp.contoso.com.", 0x4242);
    let mut out = Vec::new();
    let Outcome::Forward(forwarded) = n.answer(hub(&t), &query, &mut out) else {
        panic!("forwarded")
    };
    let truncated = |outcome: &Outcome, out: &[u8]| {
        let relayed = Message::from_vec(out).unwrap();
        assert_eq!(relayed.metadata.id, 0x4242);
        match outcome {
            Outcome::Answered(a) => {
                assert_eq!(a.truncated, relayed.metadata.truncation);
                assert_eq!(a.answers, relayed.answers.len());
                (a.truncated, a.answers)
            }
            other => panic!("{other:?}"),
        }
    };
    // 100 addresses: past 512 bytes over UDP, all of them over TCP.
    let long = upstream_answer(&query, 100, false);
    let outcome = relay(&query, &forwarded, Some(&long), &mut out);
    assert_eq!(truncated(&outcome, &out), (true, 0));
    let outcome = relay_tcp(&query, &forwarded, Some(&long), &mut out);
    assert_eq!(truncated(&outcome, &out), (false, 100));
    // The target's own UDP answer cut short (TC with what fitted): the
    // asker's is cut short too, though what came would fit.
    let cut = upstream_answer(&query, 3, true);
    let outcome = relay(&query, &forwarded, Some(&cut), &mut out);
    assert_eq!(truncated(&outcome, &out), (true, 0));
    // A short answer goes whole either way.
    let short = upstream_answer(&query, 3, false);
    let outcome = relay(&query, &forwarded, Some(&short), &mut out);
    assert_eq!(truncated(&outcome, &out), (false, 3));
    let outcome = relay_tcp(&query, &forwarded, Some(&short), &mut out);
    assert_eq!(truncated(&outcome, &out), (false, 3));
}
