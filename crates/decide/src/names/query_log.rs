//! What Azure Firewall's DNS proxy logs of one query, in the shape of the
//! resource-specific table `AZFWDnsQuery` (Azure Monitor reference,
//! "AZFWDnsQuery": "Contains all DNS Proxy events log data"): the asker's
//! address and port, the question (id, type, class, name), the transport,
//! the sizes, the EDNS buffer size and DNSSEC OK bit, the response code
//! and flags, and the time from the question's arrival to the answer.
//! Read from the query's and the response's bytes with `hickory-proto`;
//! bytes that are not a query give no entry.

use hickory_proto::op::{Message, MessageType, ResponseCode};
use serde::Serialize;
use std::net::SocketAddr;

/// The size a requester without EDNS may be answered with (RFC 1035).
const NO_EDNS_BUFFER: u16 = 512;

/// The table's columns, as Azure names them.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct DnsQueryEntry {
    pub source_ip: String,
    pub source_port: u16,
    pub query_id: u16,
    pub query_type: String,
    pub query_class: String,
    /// The name asked, with its final dot, as it was asked.
    pub query_name: String,
    /// `UDP` or `TCP`.
    pub protocol: &'static str,
    pub request_size: usize,
    pub dnssec_ok_bit: bool,
    #[serde(rename = "EDNS0BufferSize")]
    pub edns0_buffer_size: u16,
    /// `NOERROR`, `NXDOMAIN`, `SERVFAIL`, …
    pub response_code: String,
    /// The flags set in the response, comma-separated (`qr,rd,ra`).
    pub response_flags: String,
    pub response_size: usize,
    pub request_duration_secs: f64,
    /// The response code's number, 0 for an answer without error.
    pub error_number: u16,
    /// The response code's meaning when it is an error; empty otherwise.
    pub error_message: String,
}

/// The entry of `query` from `from`, answered with `response` over
/// `protocol` (`UDP`, `TCP`) after `duration_secs`; `None` when `query` is
/// not a DNS query.
pub fn dns_query_entry(
    query: &[u8],
    response: &[u8],
    from: SocketAddr,
    protocol: &'static str,
    duration_secs: f64,
) -> Option<DnsQueryEntry> {
    let asked = Message::from_vec(query).ok()?;
    if asked.metadata.message_type != MessageType::Query {
        return None;
    }
    let question = asked.queries.first()?;
    let answered = Message::from_vec(response).ok();
    let code = answered
        .as_ref()
        .map_or(ResponseCode::ServFail, |m| m.metadata.response_code);
    let flags = answered.as_ref().map_or_else(String::new, |m| {
        let h = &m.metadata;
        [
            (true, "qr"),
            (h.authoritative, "aa"),
            (h.truncation, "tc"),
            (h.recursion_desired, "rd"),
            (h.recursion_available, "ra"),
            (h.authentic_data, "ad"),
            (h.checking_disabled, "cd"),
        ]
        .iter()
        .filter(|(set, _)| *set)
        .map(|(_, name)| *name)
        .collect::<Vec<_>>()
        .join(",")
    });
    let error_number = u16::from(code);
    Some(DnsQueryEntry {
        source_ip: from.ip().to_string(),
        source_port: from.port(),
        query_id: asked.metadata.id,
        query_type: question.query_type().to_string(),
        query_class: question.query_class().to_string(),
        query_name: question.name().to_string(),
        protocol,
        request_size: query.len(),
        dnssec_ok_bit: asked.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok),
        edns0_buffer_size: asked
            .edns
            .as_ref()
            .map_or(NO_EDNS_BUFFER, |e| e.max_payload()),
        response_code: format!("{code:?}").to_uppercase(),
        response_flags: flags,
        response_size: response.len(),
        request_duration_secs: duration_secs,
        error_number,
        error_message: if error_number == 0 {
            String::new()
        } else {
            code.to_str().to_string()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{question, QueryType};

    #[test]
    fn a_query_and_its_answer_give_the_tables_columns() {
        let query = question("api.contoso.com", QueryType::A, 0x1234).unwrap();
        let mut response = Message::from_vec(&query).unwrap();
        response.metadata.message_type = MessageType::Response;
        response.metadata.recursion_available = true;
        response.metadata.response_code = ResponseCode::NXDomain;
        let response = response.to_vec().unwrap();
        let from: SocketAddr = "10.1.1.4:40000".parse().unwrap();
        let entry = dns_query_entry(&query, &response, from, "UDP", 0.25).unwrap();
        let json = serde_json::to_value(&entry).unwrap();
        assert_eq!(json["SourceIp"], "10.1.1.4");
        assert_eq!(json["SourcePort"], 40000);
        assert_eq!(json["QueryId"], 0x1234);
        assert_eq!(json["QueryType"], "A");
        assert_eq!(json["QueryClass"], "IN");
        assert_eq!(json["QueryName"], "api.contoso.com.");
        assert_eq!(json["Protocol"], "UDP");
        assert_eq!(json["RequestSize"], query.len());
        assert_eq!(json["DnssecOkBit"], false);
        assert_eq!(json["EDNS0BufferSize"], 512);
        assert_eq!(json["ResponseCode"], "NXDOMAIN");
        assert_eq!(json["ResponseFlags"], "qr,rd,ra");
        assert_eq!(json["ResponseSize"], response.len());
        assert_eq!(json["RequestDurationSecs"], 0.25);
        assert_eq!(json["ErrorNumber"], 3);
        assert_eq!(json["ErrorMessage"], "Non-Existent Domain");
    }

    #[test]
    fn bytes_that_are_no_query_give_no_entry() {
        let from: SocketAddr = "10.1.1.4:40000".parse().unwrap();
        assert!(dns_query_entry(b"\x00", b"", from, "UDP", 0.0).is_none());
        let query = question("a.example", QueryType::A, 1).unwrap();
        let mut response = Message::from_vec(&query).unwrap();
        response.metadata.message_type = MessageType::Response;
        let response = response.to_vec().unwrap();
        assert!(dns_query_entry(&response, &response, from, "UDP", 0.0).is_none());
    }
}
