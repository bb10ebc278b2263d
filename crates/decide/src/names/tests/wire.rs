//! Azure DNS on the wire: real queries written with `hickory-proto`, the
//! responses read back with its `Message`, checked field by field.

use super::{lab, vnet};
use crate::names::{
    Answered, NameTables, Outcome, QueryType, Rcode, MAX_UDP_PAYLOAD, MIN_UDP_PAYLOAD,
};
use crate::topology::{parse_str, VnetIdx};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData};
use proptest::prelude::*;

fn query(id: u16, name: &str, qtype: QueryType, edns: Option<u16>) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

fn respond(tables: &NameTables, v: VnetIdx, bytes: &[u8]) -> (Answered, Message) {
    let mut out = Vec::new();
    let Outcome::Answered(answered) = tables.answer(v, bytes, &mut out) else {
        panic!("no response");
    };
    (
        answered,
        Message::from_vec(&out).expect("a readable response"),
    )
}

#[test]
fn a_response_copies_the_id_and_question_and_answers_as_a_resolver() {
    let (t, n) = lab();
    let bytes = query(
        0xbeef,
        "StContoso.blob.core.windows.net.",
        QueryType::A,
        None,
    );
    let (answered, m) = respond(&n, vnet(&t, "spoke"), &bytes);
    assert_eq!(
        answered,
        Answered {
            rcode: Rcode::NoError,
            answers: 2,
            truncated: false
        }
    );
    assert_eq!(m.metadata.id, 0xbeef);
    assert_eq!(m.metadata.message_type, MessageType::Response);
    assert_eq!(m.metadata.op_code, OpCode::Query);
    assert!(m.metadata.recursion_desired && m.metadata.recursion_available);
    assert!(!m.metadata.authoritative && !m.metadata.truncation);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    // The question as asked, its case kept.
    assert_eq!(m.queries.len(), 1);
    assert_eq!(
        m.queries[0].name().to_ascii(),
        "StContoso.blob.core.windows.net."
    );
    assert!(m.edns.is_none());
    let answers: Vec<(String, u32, String)> = m
        .answers
        .iter()
        .map(|r| (r.name.to_ascii(), r.ttl, r.data.to_string()))
        .collect();
    assert_eq!(
        answers,
        [
            (
                "stcontoso.blob.core.windows.net.".to_string(),
                300,
                "stcontoso.privatelink.blob.core.windows.net.".to_string()
            ),
            (
                "stcontoso.privatelink.blob.core.windows.net.".to_string(),
                10,
                "10.0.3.4".to_string()
            ),
        ]
    );
}

#[test]
fn nxdomain_nodata_and_servfail_reach_the_wire() {
    use ResponseCode::{NXDomain, NoError, ServFail};
    let (t, n) = lab();
    let hub = vnet(&t, "hub");
    let code = |name: &str, q| {
        let (answered, m) = respond(&n, hub, &query(7, name, q, None));
        assert_eq!(answered.answers, m.answers.len());
        (m.metadata.response_code, m.answers.len())
    };
    for (name, q, rcode, answers) in [
        ("nosuch.contoso.internal.", QueryType::A, NXDomain, 0),
        ("www.example.com.", QueryType::A, NXDomain, 0),
        ("shared.contoso.internal.", QueryType::AAAA, NoError, 0),
        ("loop1.contoso.internal.", QueryType::A, ServFail, 0),
        // A CNAME to a missing name: the CNAME with NXDOMAIN (RFC 6604).
        ("alias.contoso.internal.", QueryType::A, NXDomain, 1),
    ] {
        assert_eq!(code(name, q), (rcode, answers), "{name} {q}");
    }
    // Other types are written as hickory reads them.
    let (_, m) = respond(
        &n,
        hub,
        &query(8, "_sip._tcp.contoso.internal.", QueryType::SRV, None),
    );
    match &m.answers[0].data {
        RData::SRV(srv) => {
            assert_eq!((srv.priority, srv.weight, srv.port), (10, 5, 5060));
            assert_eq!(srv.target.to_ascii(), "sip.contoso.internal.");
        }
        other => panic!("{other:?}"),
    }
    let (_, m) = respond(&n, hub, &query(9, "contoso.internal.", QueryType::MX, None));
    assert!(matches!(&m.answers[0].data, RData::MX(mx) if mx.preference == 10));
}

#[test]
fn edns_is_answered_with_edns_and_sizes_truncate_udp() {
    // Six TXT values of 200 bytes: about 1,300 bytes of answer.
    let values: Vec<String> = (0..6)
        .map(|i| format!("\"{}\"", char::from(b'a' + i).to_string().repeat(200)))
        .collect();
    let text = format!(
        r#"
vnets:
  - {{name: vnet1, address_space: [10.0.0.0/16], location: westeurope, subnets: [{{name: sub1, address_prefixes: [10.0.0.0/24]}}]}}
network_interfaces:
  - {{name: vm1, subnet: vnet1/sub1, private_ip_address: 10.0.0.4}}
private_dns_zones:
  - name: example.internal
    records:
      - {{name: big, type: TXT, ttl: 60, records: [{}]}}
      - {{name: mid, type: TXT, ttl: 60, records: [{}]}}
    virtual_network_links: [{{name: vnet1, virtual_network: vnet1}}]
"#,
        values.join(", "),
        values[..3].join(", ")
    );
    let t = parse_str("big.yaml", &text).expect("valid").topology;
    let n = NameTables::compile(&t);
    let v = VnetIdx::new(0);
    // ~650 bytes: over 512 without EDNS, within an EDNS size of 1232.
    let (a, m) = respond(
        &n,
        v,
        &query(1, "mid.example.internal.", QueryType::TXT, None),
    );
    assert!(a.truncated && m.metadata.truncation && m.answers.is_empty());
    assert_eq!(m.queries.len(), 1);
    assert!(m.edns.is_none());
    let (a, m) = respond(
        &n,
        v,
        &query(2, "mid.example.internal.", QueryType::TXT, Some(4096)),
    );
    assert!(!a.truncated && !m.metadata.truncation);
    assert_eq!(m.answers.len(), 3);
    let edns = m.edns.expect("EDNS answered with EDNS");
    assert_eq!(edns.max_payload(), MAX_UDP_PAYLOAD);
    assert_eq!(edns.version(), 0);
    // An EDNS size below 512 is read as 512.
    let (a, _) = respond(
        &n,
        v,
        &query(3, "mid.example.internal.", QueryType::TXT, Some(100)),
    );
    assert!(a.truncated);
    // ~1,300 bytes: over the largest UDP answer whatever is offered.
    let mut out = Vec::new();
    let big = query(4, "big.example.internal.", QueryType::TXT, Some(65_000));
    let Outcome::Answered(a) = n.answer(v, &big, &mut out) else {
        panic!()
    };
    assert!(a.truncated && out.len() <= usize::from(MAX_UDP_PAYLOAD));
    assert!(out.len() <= usize::from(MIN_UDP_PAYLOAD));
    // Over TCP nothing is truncated.
    let Outcome::Answered(a) = n.answer_tcp(v, &big, &mut out) else {
        panic!()
    };
    assert!(!a.truncated);
    let m = Message::from_vec(&out).unwrap();
    assert_eq!((m.answers.len(), m.metadata.truncation), (6, false));
    assert!(out.len() > usize::from(MAX_UDP_PAYLOAD));
}

#[test]
fn what_a_resolver_refuses_it_refuses() {
    let (t, n) = lab();
    let hub = vnet(&t, "hub");
    let mut out = Vec::new();
    // Not a query: too short, or a response.
    assert_eq!(
        n.answer(hub, &[0x12, 0x34, 1], &mut out),
        Outcome::Malformed
    );
    assert!(out.is_empty());
    let mut response = query(5, "vm1.contoso.internal.", QueryType::A, None);
    response[2] |= 0x80;
    assert_eq!(n.answer(hub, &response, &mut out), Outcome::Malformed);
    // Another opcode: NOTIMP.
    let mut status = query(6, "vm1.contoso.internal.", QueryType::A, None);
    status[2] = (status[2] & 0x87) | (2 << 3);
    let (a, m) = respond(&n, hub, &status);
    assert_eq!(
        (a.rcode, m.metadata.response_code, m.metadata.id),
        (Rcode::NotImp, ResponseCode::NotImp, 6)
    );
    // Two questions, or none: FORMERR.
    let mut two = Message::new(10, MessageType::Query, OpCode::Query);
    two.add_query(Query::query(
        Name::from_ascii("a.contoso.internal.").unwrap(),
        QueryType::A,
    ));
    two.add_query(Query::query(
        Name::from_ascii("b.contoso.internal.").unwrap(),
        QueryType::A,
    ));
    let (a, m) = respond(&n, hub, &two.to_vec().unwrap());
    assert_eq!((a.rcode, m.metadata.id), (Rcode::FormErr, 10));
    let none = Message::new(11, MessageType::Query, OpCode::Query);
    assert_eq!(
        respond(&n, hub, &none.to_vec().unwrap()).0.rcode,
        Rcode::FormErr
    );
    // A header whose question is cut short: FORMERR with its id.
    let cut = query(12, "vm1.contoso.internal.", QueryType::A, None);
    let (a, m) = respond(&n, hub, &cut[..cut.len() - 3]);
    assert_eq!(
        (a.rcode, m.metadata.id, m.metadata.response_code),
        (Rcode::FormErr, 12, ResponseCode::FormErr)
    );
    // Class CHAOS: REFUSED; a zone transfer: NOTIMP.
    let mut chaos = Message::new(13, MessageType::Query, OpCode::Query);
    let mut q = Query::query(Name::from_ascii("version.bind.").unwrap(), QueryType::TXT);
    q.set_query_class(DNSClass::CH);
    chaos.add_query(q);
    assert_eq!(
        respond(&n, hub, &chaos.to_vec().unwrap()).0.rcode,
        Rcode::Refused
    );
    let axfr = query(14, "contoso.internal.", QueryType::AXFR, None);
    assert_eq!(respond(&n, hub, &axfr).0.rcode, Rcode::NotImp);
    // EDNS version 1: BADVERS (16, which hickory reads as BADSIG, its
    // twin code), carried in the OPT record's high bits.
    let mut v1 = Message::new(15, MessageType::Query, OpCode::Query);
    v1.add_query(Query::query(
        Name::from_ascii("vm1.contoso.internal.").unwrap(),
        QueryType::A,
    ));
    let mut e = Edns::new();
    e.set_version(1);
    v1.set_edns(e);
    let (a, m) = respond(&n, hub, &v1.to_vec().unwrap());
    assert_eq!(
        (a.rcode, u16::from(m.metadata.response_code)),
        (Rcode::BadVers, 16)
    );
}

proptest! {
    /// Any bytes: no panic; a response, when there is one, is a readable
    /// DNS response with the query's id.
    #[test]
    fn any_bytes_are_answered_or_dropped(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let (t, n) = lab();
        let v = vnet(&t, "spoke");
        let mut out = Vec::new();
        if let Outcome::Answered(_) = n.answer(v, &bytes, &mut out) {
            let m = Message::from_vec(&out).expect("a readable response");
            prop_assert_eq!(m.metadata.message_type, MessageType::Response);
            prop_assert_eq!(m.metadata.id, u16::from_be_bytes([bytes[0], bytes[1]]));
        }
    }

    /// A real query for any name the lab knows, from any VNet: the wire
    /// answer holds exactly the resolution's records, code and TTLs.
    #[test]
    fn the_wire_says_what_resolve_says(pick in 0usize..10_000, vnet_pick in 0usize..4, type_pick in 0usize..5) {
        let (t, n) = lab();
        let names = super::reference::names_to_ask(&t);
        let name = &names[pick % names.len()];
        prop_assume!(!name.is_empty());
        let q = [QueryType::A, QueryType::AAAA, QueryType::CNAME, QueryType::TXT, QueryType::MX][type_pick];
        let v = VnetIdx::new(vnet_pick % t.vnets.len());
        let r = n.resolve(v, name, q);
        let (a, m) = respond(&n, v, &query(42, &format!("{name}."), q, Some(4096)));
        prop_assert_eq!(a.rcode, r.rcode);
        let wire: Vec<(String, u32)> = m.answers.iter().map(|x| (x.name.to_ascii(), x.ttl)).collect();
        let want: Vec<(String, u32)> = r.answers.iter().map(|x| (format!("{}.", x.name), x.ttl)).collect();
        prop_assert_eq!(wire, want);
    }
}
