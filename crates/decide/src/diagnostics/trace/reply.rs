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
//! ([`ReplyOf`]); a port the request never crossed judges the reply as a
//! packet of its own. Routes, peerings, appliances and gateways are
//! stateless: the reply needs a way back of its own, and when it has none
//! the whole trace is a Deny at the reply's place.

use super::answer::Trace;
use super::question::{empty_trace, site_without_route, TraceQuery, NO_TUNNEL};
use super::site::{self, site_entry, SiteEntry};
use super::walk::{build_packet, nic_name, walk, Delivered, Leg};
use crate::dataplane::{Admission, Allowed, Conntrack, EdgeTranslation, PacketView, Pin};
use crate::engine::flow_table::FlowHandle;
use crate::plan::PortIdx;
use crate::snapshot::FrontendTables;
use crate::snapshot::Snapshot;
use crate::topology::{Access, Direction};
use std::net::IpAddr;

/// The flow state a reply meets: every port the request left or reached
/// admitted the flow, so the reply is admitted there by state.
struct ReplyOf {
    ports: Vec<PortIdx>,
    generation: u64,
    /// The Internet edge's translation of the request: its private source
    /// and public address.
    edge: Option<(IpAddr, IpAddr)>,
    /// The public frontend (address, port) the request came in by.
    public_frontend: Option<(IpAddr, u16)>,
    /// The Internet edge's translation of a request that came in to a
    /// public IP: the private address it reached and the public one.
    edge_in: Option<(IpAddr, IpAddr)>,
}

impl Conntrack for ReplyOf {
    fn admitted(&self, nic: PortIdx, _: Direction, _: &PacketView, _: u64) -> Option<Admission> {
        self.ports.contains(&nic).then_some(Admission {
            generation: self.generation,
            reply: true,
            handle: FlowHandle::NONE,
        })
    }
    fn admit(&self, _: PortIdx, _: Direction, _: &PacketView, _: Allowed, _: u64, _: u64) {}
    fn refresh(&self, _: PortIdx, _: Direction, _: &PacketView, _: Admission, _: Allowed, _: u64) {}
    fn revoke(&self, _: PortIdx, _: Direction, _: &PacketView, _: Admission, _: u64) {}
    fn pinned(&self, frontend: &FrontendTables, _: &PacketView, _: u64) -> Option<Pin> {
        let (address, original_port) = self.public_frontend?;
        (frontend.address == address).then_some(Pin {
            backend: 0,
            original_port,
            translated: true,
            reply: true,
            handle: FlowHandle::NONE,
        })
    }
    /// As the flow table finds a translation: a packet leaving for the
    /// Internet by its private side (the reply of a request that came in
    /// to a public IP leaves from it), one from the Internet by its public
    /// side (the reply of a request that left).
    fn edge_translation(&self, p: &PacketView, leaving: bool, _: u64) -> Option<EdgeTranslation> {
        if leaving {
            let (private, public) = self.edge_in?;
            return (p.key.src == private).then_some(EdgeTranslation {
                private: (private, p.flow_ports.0),
                public: (public, p.flow_ports.0),
                handle: FlowHandle::NONE,
            });
        }
        let (private, public) = self.edge?;
        (p.key.dst == public).then_some(EdgeTranslation {
            private: (private, p.flow_ports.1),
            public: (public, p.flow_ports.1),
            handle: FlowHandle::NONE,
        })
    }
}

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
            let flows = ReplyOf {
                ports: delivered.ports.clone(),
                generation: snap.generation,
                edge: delivered.edge,
                public_frontend: delivered.public_frontend,
                edge_in: delivered.edge_in,
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
