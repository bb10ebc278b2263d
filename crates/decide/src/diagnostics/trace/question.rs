//! The question a trace answers and the words its answer shares: the
//! traced packet's query, the reasons of a Deny only a multi-hop walk
//! finds, how a site without a route and a reply that did not come back
//! are worded, and the empty answer every walk starts from. A leaf of
//! `trace`: the walk, the reply, Global Reach and the table all read it,
//! and it reads none of them.

use super::answer::Trace;
use crate::dataplane::DropReason;
use crate::topology::{Access, Endpoint, ExpectedProtocol};
use std::net::IpAddr;

/// The source port of a traced TCP or UDP packet: the first port of
/// Linux's ephemeral range, as a client's first connection would use.
pub const TRACE_SOURCE_PORT: u16 = 32768;

/// Reasons of a Deny that only a multi-hop walk finds (the packet path
/// decides one hop at a time): the packet came back to a NIC it already
/// left, a site's router received a packet for an address the site does
/// not hold, or a site has no tunnel into the fabric.
pub const ROUTING_LOOP: &str = "routing_loop";
pub const SITE_UNREACHABLE: &str = "site_unreachable";
pub const NO_TUNNEL: &str = "no_tunnel";
pub const TRACE_REASONS: [&str; 3] = [ROUTING_LOOP, SITE_UNREACHABLE, NO_TUNNEL];

/// The reason and place of a Deny at an on-premises router that has no
/// route for the destination: `route_none` at `site <name>` (`verify`
/// names what the live router drops the same way).
pub fn site_without_route(site: &str) -> (String, String) {
    (
        DropReason::RouteNone.as_str().to_string(),
        format!("site {site}"),
    )
}

/// The question: a packet from a NIC or on-premises host to an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceQuery {
    pub from: Endpoint,
    pub to: IpAddr,
    pub protocol: ExpectedProtocol,
    /// The destination port (TCP and UDP).
    pub port: Option<u16>,
}

/// A trace's answer before its walk: a Deny with nothing found yet.
pub(super) fn empty_trace(from: String, src: IpAddr, dst: IpAddr, query: &TraceQuery) -> Trace {
    Trace {
        resolution: None,
        from,
        source: src.to_string(),
        destination: dst.to_string(),
        protocol: query.protocol.as_str().to_string(),
        port: query.port,
        verdict: Access::Deny.as_str().to_string(),
        reason: None,
        at: None,
        rule: None,
        delivered_to: None,
        path: Vec::new(),
        hops: Vec::new(),
        reply: None,
        added_latency_us: 0,
        bottleneck: None,
        service: None,
        application_rule: None,
    }
}

/// A reply that did not come back, in words: `reply: no route from
/// 10.1.1.4 to 192.168.1.10 (route_none at vm1)`. `from` and `to` are the
/// reply's source and destination; `check`, `trace` and `verify` word it
/// alike.
pub fn reply_failure(reason: Option<&str>, at: Option<&str>, from: &str, to: &str) -> String {
    let no_route = [
        "no_route",
        "route_none",
        "next_hop_internet",
        "next_hop_gateway",
        "gateway_no_route",
        "no_tunnel",
    ];
    let what = match reason {
        Some(r) if no_route.contains(&r) => "no route",
        _ => "no way back",
    };
    let mut text = format!("reply: {what} from {from} to {to}");
    match (reason, at) {
        (Some(reason), Some(at)) => text.push_str(&format!(" ({reason} at {at})")),
        (Some(reason), None) => text.push_str(&format!(" ({reason})")),
        (None, Some(at)) => text.push_str(&format!(" (at {at})")),
        (None, None) => {}
    }
    text
}
