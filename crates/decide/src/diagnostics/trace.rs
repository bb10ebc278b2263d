//! `vnetd trace`: the whole path of one packet through the fabric, hop by
//! hop, with Azure's rules, from a compiled snapshot (like Batfish's
//! traceroute, with Azure's routes, peering and NSGs).
//!
//! Each hop is one pass of the packet path's own decision
//! ([`decide()`](crate::dataplane::decide())) on a real packet built byte
//! by byte, so a trace can never disagree with forwarding; the hop's
//! details are what that pass reports of its steps
//! ([`DecisionObserver`](crate::dataplane::DecisionObserver), read in
//! `flows`): the sender's outbound NSG rules (NIC, then subnet), the
//! deciding route, the gateways and load balancer crossed, and the
//! receiver's inbound NSG rules (subnet, then NIC).
//!
//! The walk goes on where Azure's fabric would: a network virtual
//! appliance (a NIC with IP forwarding that receives a packet not
//! addressed to it) forwards it by its own subnet's effective routes; a
//! load balancer's translation is applied to the packet; a packet handed
//! to an on-premises site's tunnel ends at the site when the site holds
//! the address. A packet that comes back to a NIC it already left is a
//! routing loop. A trace from an on-premises host starts at its site's
//! router, which sends it by its own routes (the `site` room): into the
//! fabric by the tunnel its route leads to, over Global Reach (the `edge`
//! room), or nowhere (a Deny `route_none` at the site).
//!
//! Once the request is delivered, its reply is walked back the same way
//! (`reply`): a conversation needs both directions, and a reply with no
//! way back is the trace's Deny.
//!
//! This file asks the question and starts the walk; the walk itself is
//! `walk`, the query and the words every part shares are `question`.

use super::lookup::QueryError;
use crate::plan::PortIdx;
use crate::snapshot::Snapshot;
use crate::topology::{Access, Endpoint, ExpectedProtocol, SiteIdx, Topology};
use flows::TraceFlows;
use question::empty_trace;
use site::{site_entry, SiteEntry};
use std::net::IpAddr;
use walk::{build_packet, nic_name, walk};

mod answer;
mod application;
mod edge;
mod flows;
mod internet;
mod question;
mod render;
mod reply;
mod site;
mod virtual_hub;
mod walk;

pub use answer::*;
pub use application::judge_by_name;
pub use question::{
    reply_failure, site_without_route, TraceQuery, NO_TUNNEL, ROUTING_LOOP, SITE_UNREACHABLE,
    TRACE_REASONS, TRACE_SOURCE_PORT,
};
pub use render::render_trace;
pub use walk::{place_name, Leg};

/// Where a trace starts: the NIC, or the on-premises site whose router
/// sends the packet on; and the source address.
fn start(snap: &Snapshot, query: &TraceQuery) -> Result<(Start, IpAddr), QueryError> {
    let t = &snap.topology;
    let family = |a: &IpAddr| a.is_ipv4() == query.to.is_ipv4();
    match query.from {
        Endpoint::Nic(nic) => {
            let n = &t.nics[nic];
            let src = n
                .ip_configurations
                .iter()
                .map(|c| c.address)
                .find(family)
                .ok_or_else(|| {
                    QueryError::refused(format!(
                        "NIC `{}` has no {} address to send to {} from",
                        n.name,
                        if query.to.is_ipv4() { "IPv4" } else { "IPv6" },
                        query.to
                    ))
                })?;
            Ok((Start::Nic(PortIdx::of_nic(nic)), src))
        }
        Endpoint::SiteHost { site, host } => {
            let src = t.sites[site].hosts[host].address;
            if !family(&src) {
                return Err(QueryError::refused(format!(
                    "host `{}` has no address of {}'s family",
                    t.sites[site].hosts[host].name, query.to
                )));
            }
            Ok((Start::Site(site), src))
        }
        Endpoint::Internet(server) => {
            let port = snap.edge.internet.ok_or_else(|| {
                QueryError::refused("the lab has no Internet to send from".to_string())
            })?;
            let src = t
                .edge
                .internet_source(server, query.to.is_ipv4())
                .ok_or_else(|| {
                    QueryError::refused(format!(
                        "{} has no address of {}'s family",
                        t.edge.internet_name(server),
                        query.to
                    ))
                })?;
            Ok((Start::Nic(port), src))
        }
    }
}

/// What sends a trace's packet first.
enum Start {
    Nic(PortIdx),
    /// An on-premises host's packet, which its site's router routes.
    Site(SiteIdx),
}

/// Follows one packet from `query.from` to `query.to` through `snap`, and
/// once delivered its reply back: their hops, the verdict, and what
/// Azure's network adds over the hops the request took.
pub fn trace(snap: &Snapshot, query: &TraceQuery) -> Result<Trace, QueryError> {
    let mut answer = follow(snap, query)?;
    answer.added_latency_us = answer
        .hops
        .iter()
        .filter_map(|h| h.shaping.as_ref())
        .map(|s| s.added_latency_us)
        .sum();
    answer.bottleneck = answer
        .hops
        .iter()
        .filter_map(|h| h.shaping.as_ref()?.bottleneck.clone())
        .min_by_key(|b| b.mbps);
    Ok(answer)
}

/// The name of a source (a trace's, an expectation's), as written.
pub fn endpoint_name(topology: &Topology, endpoint: Endpoint) -> String {
    match endpoint {
        Endpoint::Nic(nic) => topology.nics[nic].name.clone(),
        Endpoint::SiteHost { site, host } => topology.sites[site].hosts[host].name.clone(),
        Endpoint::Internet(server) => topology.edge.internet_name(server),
    }
}

fn follow(snap: &Snapshot, query: &TraceQuery) -> Result<Trace, QueryError> {
    let t = &snap.topology;
    if query.protocol != ExpectedProtocol::Icmp && query.port.is_none() {
        return Err(QueryError::usage(format!(
            "--port is needed with protocol {}",
            query.protocol.as_str()
        )));
    }
    let (first, src) = start(snap, query)?;
    let from = endpoint_name(t, query.from);
    let mut answer = empty_trace(from, src, query.to, query);
    let ingress = match first {
        Start::Nic(nic) => nic,
        Start::Site(site) => match site_entry(snap, site, query.to) {
            SiteEntry::Tunnel(tunnel) => tunnel,
            SiteEntry::GlobalReach => {
                if edge::global_reach_walk(snap, site, src, query.to, &mut answer).is_some() {
                    edge::global_reach_reply(snap, query, src, &mut answer);
                } else {
                    answer.reason = Some(NO_TUNNEL.to_string());
                }
                return Ok(answer);
            }
            SiteEntry::NoRoute => {
                answer
                    .hops
                    .push(site::no_route_hop(snap, site, src, query.to));
                let (reason, at) = site_without_route(&t.sites[site].name);
                (answer.reason, answer.at) = (Some(reason), Some(at));
                return Ok(answer);
            }
            SiteEntry::NoTunnel => {
                answer.reason = Some(NO_TUNNEL.to_string());
                return Ok(answer);
            }
        },
    };
    let packet = build_packet(
        src,
        query.to,
        query.protocol,
        query.port.unwrap_or(0),
        Leg::Request,
    );
    // The Internet sending to an address it holds itself (a server of its
    // own, a PaaS resource's public face) delivers it there, in its own
    // namespace: the lab never sees the packet.
    let to_itself = snap.nics[ingress].owns(query.to) || snap.edge.internet_holds(query.to);
    if snap.nics[ingress].kind.is_internet() && to_itself {
        answer.verdict = Access::Allow.as_str().to_string();
        answer.delivered_to = Some(nic_name(snap, ingress));
        answer.service = internet::service_rule(snap, ingress, &packet);
        return Ok(answer);
    }
    let flows = TraceFlows::request(snap);
    let Some(delivered) = walk(snap, &flows, ingress, packet, &mut answer) else {
        return Ok(answer);
    };
    reply::follow_reply(snap, query, src, &delivered, &mut answer);
    Ok(answer)
}
