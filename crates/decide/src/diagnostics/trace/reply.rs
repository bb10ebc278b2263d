//! The second half of a conversation: once a request is delivered, its
//! reply is traced back, from the address that received it (a backend's
//! own behind a load balancer, a site host's) to the source, as the
//! receiver's kernel sends it: routed by the receiver's effective routes,
//! or entering from a site by the tunnel its router sends by.
//!
//! A request an Azure Firewall translated (its source made the firewall's
//! address) is answered to the firewall, which translates the reply back
//! and forwards it to the request's source.
//!
//! NSGs are stateful in Azure: a port the request left or reached admitted
//! its flow, so the reply passes its NSGs without their rules
//! ([`TraceFlows`]); a port the request never crossed judges the reply as a
//! packet of its own. Routes, peerings, appliances and gateways are
//! stateless: the reply needs a way back of its own, and when it has none
//! the whole trace is a Deny at the reply's place.

use super::answer::Trace;
use super::flows::TraceFlows;
use super::question::{empty_trace, site_without_route, TraceQuery, NO_TUNNEL};
use super::site::{self, site_entry, SiteEntry};
use super::walk::{build_packet, nic_name, walk, Delivered, Leg};
use crate::snapshot::Snapshot;
use crate::topology::Access;
use std::net::IpAddr;

/// Traces the reply of the request `query` from `src`, delivered as
/// `delivered`, into `answer.reply`; a reply that does not come back makes
/// `answer` a Deny with the reply's reason, place and rule.
pub(super) fn follow_reply(
    snap: &Snapshot,
    query: &TraceQuery,
    src: IpAddr,
    delivered: &Delivered,
    answer: &mut Trace,
) {
    let t = &snap.topology;
    let from = delivered.destination;
    let (entry, name) = match delivered.site {
        None => (
            SiteEntry::Tunnel(delivered.port),
            nic_name(snap, delivered.port),
        ),
        Some(site) => {
            let s = &t.sites[site];
            let name = s
                .hosts
                .iter()
                .find(|h| h.address == from)
                .map_or_else(|| format!("site {}", s.name), |h| h.name.clone());
            (site_entry(snap, site, src), name)
        }
    };
    let mut reply = empty_trace(name, from, src, query);
    match entry {
        // A site's router sends the reply by its own routes: over Global
        // Reach when they lead there, and with none back to the source it
        // never comes back.
        SiteEntry::GlobalReach => {
            let site = delivered.site.expect("a site's entry");
            if super::edge::global_reach_walk(snap, site, from, src, &mut reply).is_none() {
                reply.reason = Some(NO_TUNNEL.to_string());
            }
        }
        SiteEntry::NoRoute => {
            let site = delivered.site.expect("a site's entry");
            reply.hops.push(site::no_route_hop(snap, site, from, src));
            let (reason, at) = site_without_route(&t.sites[site].name);
            (reply.reason, reply.at) = (Some(reason), Some(at));
        }
        SiteEntry::NoTunnel => reply.reason = Some(NO_TUNNEL.to_string()),
        SiteEntry::Tunnel(ingress) => {
            let flows = TraceFlows {
                ports: delivered.ports.clone(),
                edge: delivered.edge,
                public_frontend: delivered.public_frontend,
                edge_in: delivered.edge_in,
                ..TraceFlows::request(snap)
            };
            let port = query.port.unwrap_or(0);
            // The Internet answers the public address the request left
            // with; the edge translates it back.
            let answered = delivered.edge.map_or(src, |(_, public)| public);
            match delivered.translated_by {
                None => {
                    let packet = build_packet(from, answered, query.protocol, port, Leg::Reply);
                    walk(snap, &flows, ingress, packet, &mut reply);
                }
                // The request reached its receiver with the firewall's
                // address as source: the reply goes to the firewall, whose
                // kernel translates it back and sends it on.
                Some((firewall, _)) => {
                    // What a DNAT rule translated left from the firewall's
                    // instance address, the rest from its front address.
                    let translated =
                        match (delivered.dnat, snap.plan.ports[firewall].kind.firewall()) {
                            (Some(_), Some(f)) => {
                                crate::policy::firewall::dnat_source(&t.firewalls[f])
                            }
                            _ => snap.nics[firewall].addresses[0],
                        };
                    let address = delivered.edge.map_or(translated, |(_, public)| public);
                    let packet = build_packet(from, address, query.protocol, port, Leg::Reply);
                    let back = walk(snap, &flows, ingress, packet, &mut reply);
                    if back.is_some_and(|b| b.port == firewall) {
                        // Delivered only once at the request's source.
                        reply.verdict = Access::Deny.as_str().to_string();
                        reply.delivered_to = None;
                        // A DNAT reply leaves the firewall from the public
                        // address the request was sent to.
                        let from = delivered.dnat.unwrap_or(from);
                        let packet = build_packet(from, src, query.protocol, port, Leg::Reply);
                        walk(snap, &flows, firewall, packet, &mut reply);
                    }
                }
            }
        }
    }
    answer.set_reply(reply);
}
