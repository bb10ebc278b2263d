//! Azure DNS on the wire: a DNS query's bytes in, the response's bytes
//! out, as a recursive resolver answers (RD copied, RA set, never AA),
//! read and written with `hickory-proto`. Bytes that are not a DNS query
//! are [`Outcome::Malformed`], for the caller to drop and count; nothing
//! here panics on any input.
//!
//! - QUERY with one question of class IN is answered from
//!   [`NameTables::resolve`]; zone transfers and other meta types are
//!   NOTIMP, other classes REFUSED;
//! - other opcodes are NOTIMP, a query that is not one question or whose
//!   body cannot be read FORMERR (with its id), an EDNS version other
//!   than 0 BADVERS (RFC 6891);
//! - with EDNS in the query the response has EDNS too (payload
//!   [`MAX_UDP_PAYLOAD`], no DNSSEC);
//! - over UDP a response longer than the requester's size (its EDNS
//!   payload size, at least [`MIN_UDP_PAYLOAD`]; 512 without EDNS; at
//!   most [`MAX_UDP_PAYLOAD`]) goes without its records, with TC set, so
//!   that the requester asks again over TCP;
//! - a forwarded question's answer is relayed ([`relay`]) the same way,
//!   truncated too when the target's own UDP answer was; over TCP
//!   ([`relay_tcp`]) it goes whole.

use super::resolution::{AnswerRecord, Forward, Rcode, Resolution};
use super::tables::NameTables;
use super::vocabulary::{normalise, QueryType};
use crate::topology::{RecordData, VnetIdx};
use hickory_proto::op::{Edns, Header, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, PTR, SRV, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

/// The largest UDP response sent whatever the requester offers: the
/// EDNS buffer size DNS Flag Day 2020 settled on (no IP fragments).
pub const MAX_UDP_PAYLOAD: u16 = 1232;
/// The size a UDP response always may have (RFC 1035; RFC 6891 reads a
/// smaller EDNS size as this one).
pub const MIN_UDP_PAYLOAD: u16 = 512;

/// What became of a query's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A response is in `out`: send it back to the requester.
    Answered(Answered),
    /// Not a DNS query (too short, or a response): nothing to send; drop
    /// and count it.
    Malformed,
    /// A forwarding rule takes the question: nothing is in `out`. Ask
    /// [`Forward::targets`] with [`forward_query`], and answer the
    /// requester with [`relay`] of what comes back.
    Forward(Box<Forwarded>),
}

/// A question a forwarding rule sends on, with what was found before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    pub forward: Forward,
    pub query_type: QueryType,
    /// The CNAMEs followed before the rule took the question.
    pub before: Vec<AnswerRecord>,
}

/// The response that was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answered {
    pub rcode: Rcode,
    /// Records in the answer section.
    pub answers: usize,
    /// The answer did not fit the requester's UDP size: TC, no records.
    pub truncated: bool,
}

/// How the query came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Udp,
    Tcp,
}

impl NameTables {
    /// Answers the DNS query `query` (one UDP datagram's payload) that a
    /// VM of `vnet` sent to 168.63.129.16, writing the response into
    /// `out` (cleared first).
    pub fn answer(&self, vnet: VnetIdx, query: &[u8], out: &mut Vec<u8>) -> Outcome {
        self.respond(vnet, query, out, Transport::Udp)
    }

    /// [`NameTables::answer`] for a query that came over TCP (the message
    /// without its two-byte length): never truncated, up to 65,535 bytes.
    pub fn answer_tcp(&self, vnet: VnetIdx, query: &[u8], out: &mut Vec<u8>) -> Outcome {
        self.respond(vnet, query, out, Transport::Tcp)
    }

    fn respond(
        &self,
        vnet: VnetIdx,
        query: &[u8],
        out: &mut Vec<u8>,
        transport: Transport,
    ) -> Outcome {
        out.clear();
        let Ok(header) = Header::read(&mut BinDecoder::new(query)) else {
            return Outcome::Malformed;
        };
        let asked = header.metadata;
        if asked.message_type != MessageType::Query {
            return Outcome::Malformed;
        }
        let mut response = Message::response(asked.id, asked.op_code);
        response.metadata.recursion_desired = asked.recursion_desired;
        response.metadata.recursion_available = true;
        response.metadata.checking_disabled = asked.checking_disabled;
        if asked.op_code != OpCode::Query {
            return write(response, Rcode::NotImp, None, out);
        }
        let Ok(message) = Message::from_vec(query) else {
            return write(response, Rcode::FormErr, None, out);
        };
        let limit = match (transport, &message.edns) {
            (Transport::Tcp, _) => u16::MAX,
            (Transport::Udp, None) => MIN_UDP_PAYLOAD,
            (Transport::Udp, Some(edns)) => {
                edns.max_payload().clamp(MIN_UDP_PAYLOAD, MAX_UDP_PAYLOAD)
            }
        };
        if let Some(theirs) = &message.edns {
            let mut edns = Edns::new();
            edns.set_max_payload(MAX_UDP_PAYLOAD).set_version(0);
            response.set_edns(edns);
            if theirs.version() != 0 {
                return write(response, Rcode::BadVers, Some(limit), out);
            }
        }
        let [question] = message.queries.as_slice() else {
            return write(response, Rcode::FormErr, Some(limit), out);
        };
        response.add_query(question.clone());
        if question.query_class() != DNSClass::IN {
            return write(response, Rcode::Refused, Some(limit), out);
        }
        if !answerable(question.query_type()) {
            return write(response, Rcode::NotImp, Some(limit), out);
        }
        let name = question.name().to_lowercase().to_ascii();
        let resolution = self.resolve(vnet, &name, question.query_type());
        if let Some(forward) = resolution.forward {
            return Outcome::Forward(Box::new(Forwarded {
                forward,
                query_type: question.query_type(),
                before: resolution.answers,
            }));
        }
        response.add_answers(records(&resolution));
        write(response, resolution.rcode, Some(limit), out)
    }
}

/// The query an outbound endpoint sends a rule's target: the name reached,
/// of the type asked, recursion desired, with the id `id`.
pub fn forward_query(forwarded: &Forwarded, id: u16, out: &mut Vec<u8>) -> bool {
    out.clear();
    let Some(name) = fqdn(&forwarded.forward.name) else {
        return false;
    };
    let mut query = Message::new(id, MessageType::Query, OpCode::Query);
    query.metadata.recursion_desired = true;
    query.add_query(Query::query(name, forwarded.query_type));
    match query.to_vec() {
        Ok(bytes) => {
            *out = bytes;
            true
        }
        Err(_) => false,
    }
}

/// The answer to the requester's `query` (it came over UDP) from a
/// target's `upstream` response: the requester's id and question, the
/// CNAMEs followed before the rule, then the target's answer section and
/// response code. An upstream message that cannot be read is SERVFAIL;
/// `None` for a query that is not one. The answer is truncated (TC, no
/// records) when it is longer than the requester's UDP size, or when the
/// target's was (its answer section is not whole): the requester asks
/// again over TCP, and [`relay_tcp`] then relays the target's whole
/// answer.
pub fn relay(
    query: &[u8],
    forwarded: &Forwarded,
    upstream: Option<&[u8]>,
    out: &mut Vec<u8>,
) -> Outcome {
    relay_over(query, forwarded, upstream, out, Transport::Udp)
}

/// [`relay`] for a requester that asked over TCP (the message without its
/// two-byte length), from the target's answer over TCP: never truncated,
/// up to 65,535 bytes.
pub fn relay_tcp(
    query: &[u8],
    forwarded: &Forwarded,
    upstream: Option<&[u8]>,
    out: &mut Vec<u8>,
) -> Outcome {
    relay_over(query, forwarded, upstream, out, Transport::Tcp)
}

fn relay_over(
    query: &[u8],
    forwarded: &Forwarded,
    upstream: Option<&[u8]>,
    out: &mut Vec<u8>,
    transport: Transport,
) -> Outcome {
    out.clear();
    let Ok(message) = Message::from_vec(query) else {
        return Outcome::Malformed;
    };
    let mut response = Message::response(message.metadata.id, message.metadata.op_code);
    response.metadata.recursion_desired = message.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.queries.extend(message.queries.iter().cloned());
    let mut limit = match &message.edns {
        None => MIN_UDP_PAYLOAD,
        Some(edns) => {
            let mut ours = Edns::new();
            ours.set_max_payload(MAX_UDP_PAYLOAD).set_version(0);
            response.set_edns(ours);
            edns.max_payload().clamp(MIN_UDP_PAYLOAD, MAX_UDP_PAYLOAD)
        }
    };
    if transport == Transport::Tcp {
        limit = u16::MAX;
    }
    let before = Resolution {
        name: String::new(),
        query_type: forwarded.query_type,
        rcode: Rcode::NoError,
        answers: forwarded.before.clone(),
        chain: Vec::new(),
        forward: None,
    };
    response.add_answers(records(&before));
    let rcode = match upstream.and_then(|bytes| Message::from_vec(bytes).ok()) {
        // Over UDP the target's answer was cut short: so is the
        // requester's, which asks again over TCP.
        Some(answer) if answer.metadata.truncation && transport == Transport::Udp => {
            limit = 0;
            rcode_of(answer.metadata.response_code)
        }
        Some(answer) => {
            response.add_answers(answer.answers.iter().cloned());
            rcode_of(answer.metadata.response_code)
        }
        None => Rcode::ServFail,
    };
    write(response, rcode, Some(limit), out)
}

/// An upstream response code as vnetd's (anything else: SERVFAIL).
fn rcode_of(code: ResponseCode) -> Rcode {
    match code {
        ResponseCode::NoError => Rcode::NoError,
        ResponseCode::NXDomain => Rcode::NxDomain,
        ResponseCode::Refused => Rcode::Refused,
        ResponseCode::NotImp => Rcode::NotImp,
        ResponseCode::FormErr => Rcode::FormErr,
        _ => Rcode::ServFail,
    }
}

/// The question types answered from the tables: every data type (a name
/// without records of the type is NODATA) and ANY, not zone transfers or
/// the other meta types.
fn answerable(qtype: QueryType) -> bool {
    !matches!(
        qtype,
        QueryType::AXFR | QueryType::IXFR | QueryType::OPT | QueryType::TSIG | QueryType::ZERO
    )
}

/// The answer's records as DNS records (a value that is no DNS name is
/// left out: the topology's names are checked, so none is).
fn records(resolution: &Resolution) -> Vec<Record> {
    resolution
        .answers
        .iter()
        .filter_map(|r| {
            let data = match &r.data {
                RecordData::A(a) => RData::A(A(*a)),
                RecordData::Aaaa(a) => RData::AAAA(AAAA(*a)),
                RecordData::Cname(n) => RData::CNAME(CNAME(fqdn(n)?)),
                RecordData::Ptr(n) => RData::PTR(PTR(fqdn(n)?)),
                RecordData::Mx {
                    preference,
                    exchange,
                } => RData::MX(MX::new(*preference, fqdn(exchange)?)),
                RecordData::Srv {
                    priority,
                    weight,
                    port,
                    target,
                } => RData::SRV(SRV::new(*priority, *weight, *port, fqdn(target)?)),
                RecordData::Txt(text) => RData::TXT(TXT::new(character_strings(text))),
            };
            Some(Record::from_rdata(fqdn(&r.name)?, r.ttl, data))
        })
        .collect()
}

/// A name of the tables (no final dot) as an absolute DNS name.
fn fqdn(name: &str) -> Option<Name> {
    Name::from_ascii(format!("{name}.")).ok()
}

/// A TXT value as character-strings of at most 255 bytes each, as a zone
/// file splits a long value.
fn character_strings(text: &str) -> Vec<String> {
    let mut strings = Vec::new();
    let mut rest = text;
    while rest.len() > 255 {
        let mut cut = 255;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (head, tail) = rest.split_at(cut);
        strings.push(head.to_string());
        rest = tail;
    }
    strings.push(rest.to_string());
    strings
}

fn response_code(rcode: Rcode) -> ResponseCode {
    match rcode {
        Rcode::NoError => ResponseCode::NoError,
        Rcode::FormErr => ResponseCode::FormErr,
        Rcode::ServFail => ResponseCode::ServFail,
        Rcode::NxDomain => ResponseCode::NXDomain,
        Rcode::NotImp => ResponseCode::NotImp,
        Rcode::Refused => ResponseCode::Refused,
        Rcode::BadVers => ResponseCode::BADVERS,
    }
}

/// Writes `response` with `rcode`; when it is longer than `limit`, again
/// without its records and with TC set. A response that cannot be
/// written is written as SERVFAIL.
fn write(mut response: Message, rcode: Rcode, limit: Option<u16>, out: &mut Vec<u8>) -> Outcome {
    response.metadata.response_code = response_code(rcode);
    let limit = usize::from(limit.unwrap_or(MIN_UDP_PAYLOAD));
    let mut answers = response.answers.len();
    let mut truncated = false;
    let mut bytes = match response.to_vec() {
        Ok(bytes) => bytes,
        Err(_) => return write_failure(response, out),
    };
    if bytes.len() > limit {
        answers = 0;
        truncated = true;
        response.answers.clear();
        response.metadata.truncation = true;
        bytes = match response.to_vec() {
            Ok(bytes) => bytes,
            Err(_) => return write_failure(response, out),
        };
    }
    *out = bytes;
    Outcome::Answered(Answered {
        rcode,
        answers,
        truncated,
    })
}

/// SERVFAIL with the response's header and question only.
fn write_failure(response: Message, out: &mut Vec<u8>) -> Outcome {
    let mut failed = Message::response(response.metadata.id, response.metadata.op_code);
    failed.metadata = response.metadata;
    failed.metadata.response_code = ResponseCode::ServFail;
    failed.metadata.truncation = false;
    let question: Option<Query> = response.queries.first().cloned();
    failed.queries.extend(question);
    match failed.to_vec() {
        Ok(bytes) => {
            *out = bytes;
            Outcome::Answered(Answered {
                rcode: Rcode::ServFail,
                answers: 0,
                truncated: false,
            })
        }
        Err(_) => Outcome::Malformed,
    }
}

/// A question of `query_type` for `name`, recursion desired, with the id
/// `id`: what a VM's resolver sends. `None` for a name that is no DNS name.
pub fn question(name: &str, query_type: QueryType, id: u16) -> Option<Vec<u8>> {
    let mut query = Message::new(id, MessageType::Query, OpCode::Query);
    query.metadata.recursion_desired = true;
    query.add_query(Query::query(fqdn(&normalise(name))?, query_type));
    query.to_vec().ok()
}

/// One record of an answer as a server sent it, in the words the tables
/// use (names without their final dot).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReplyRecord {
    pub name: String,
    pub ttl: u32,
    #[serde(rename = "type")]
    pub record_type: String,
    pub data: String,
}

/// A server's answer as read off the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub id: u16,
    pub rcode: Rcode,
    pub truncated: bool,
    pub answers: Vec<ReplyRecord>,
}

/// Reads a response's bytes; `None` for bytes that are not one.
pub fn read_reply(bytes: &[u8]) -> Option<Reply> {
    let message = Message::from_vec(bytes).ok()?;
    if message.metadata.message_type != MessageType::Response {
        return None;
    }
    let unqualified = |n: &Name| {
        n.to_lowercase()
            .to_ascii()
            .trim_end_matches('.')
            .to_string()
    };
    let answers = (message.answers.iter())
        .map(|r| {
            let data = match &r.data {
                RData::CNAME(n) => unqualified(&n.0),
                RData::PTR(n) => unqualified(&n.0),
                RData::MX(mx) => format!("{} {}", mx.preference, unqualified(&mx.exchange)),
                RData::SRV(srv) => format!(
                    "{} {} {} {}",
                    srv.priority,
                    srv.weight,
                    srv.port,
                    unqualified(&srv.target)
                ),
                RData::TXT(txt) => txt
                    .txt_data
                    .iter()
                    .map(|part| String::from_utf8_lossy(part).into_owned())
                    .collect(),
                other => other.to_string(),
            };
            ReplyRecord {
                name: unqualified(&r.name),
                ttl: r.ttl,
                record_type: r.record_type().to_string(),
                data,
            }
        })
        .collect();
    Some(Reply {
        id: message.metadata.id,
        rcode: rcode_of(message.metadata.response_code),
        truncated: message.metadata.truncation,
        answers,
    })
}
