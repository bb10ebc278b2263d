//! The walk of one packet through the fabric, hop by hop: each hop one
//! pass of the packet path's own decision on the packet built byte by
//! byte, with the hop's details read from what that pass reported
//! (the NSG rules met, the route, the gateways and load balancer
//! crossed) and from the snapshot's tables (the peering crossed, what
//! the hop adds and limits). The
//! request and its reply both walk here; `trace` starts the request, and
//! `reply` walks the way back.

use super::answer::{Bottleneck, HopShaping, LoadBalancerStep, RouteUsed, Trace, TraceHop};
use super::flows::{HopReport, TraceFlows};
use super::internet::{edge_details, firewall_dnat, firewall_translation};
use super::question::{ROUTING_LOOP, SITE_UNREACHABLE, TRACE_SOURCE_PORT};
use super::{internet, virtual_hub};
use crate::dataplane::nat::{translate, Rewrite};
use crate::dataplane::{decide, PacketView, Verdict};
use crate::diagnostics::az::SYSTEM_ROUTE;
use crate::plan::PortIdx;
use crate::snapshot::edge::PublicTarget;
use crate::snapshot::{RouteTarget, Snapshot};
use crate::topology::{Access, Direction, ExpectedProtocol, GatewayIdx, SiteIdx};
use etherparse::PacketBuilder;
use std::net::IpAddr;

/// Hops a trace follows before it gives up (a path through the fabric has
/// a few; a loop is caught when a NIC is left twice).
const MAX_HOPS: usize = 32;

/// The names of a topology's endpoints as the trace prints them.
pub(super) fn nic_name(snap: &Snapshot, nic: PortIdx) -> String {
    snap.plan.ports[nic].name.clone()
}

/// What a receiving port stands for in a path: a NIC of the file by its
/// name, a gateway's port by the gateway's name.
pub(super) fn path_name(snap: &Snapshot, nic: PortIdx) -> Option<String> {
    snap.plan.ports[nic].resource_name(&snap.topology)
}

/// Where a Deny happened, in the words of a path: the NIC, or the gateway
/// of a gateway's port or site tunnel (`verify` names the place of a drop
/// counter the same way); a health prober by its port's name.
pub fn place_name(snap: &Snapshot, nic: PortIdx) -> String {
    path_name(snap, nic).unwrap_or_else(|| nic_name(snap, nic))
}

/// Adds `name` to a path unless the path just crossed it (a site's
/// packets enter at the gateway their route then leads through). A name
/// crossed again later stays: a routing loop shows the appliance it came
/// back to.
pub(super) fn cross(path: &mut Vec<String>, name: String) {
    if path.last() != Some(&name) {
        path.push(name);
    }
}

/// Which way a traced packet goes: the request, or its reply (the
/// destination's kernel answering: ports swapped, a TCP SYN-ACK, an ICMP
/// echo reply).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leg {
    Request,
    Reply,
}

/// The packet of a trace, byte by byte: a TCP SYN, a UDP datagram or an
/// ICMP echo request; or, for the reply, a SYN-ACK from `port`, a datagram
/// from `port` or an echo reply.
pub(super) fn build_packet(
    src: IpAddr,
    dst: IpAddr,
    protocol: ExpectedProtocol,
    port: u16,
    leg: Leg,
) -> Vec<u8> {
    let builder = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), 64),
        (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ipv6(s.octets(), d.octets(), 64),
        // The caller picks a source of the destination's family.
        _ => unreachable!("mixed address families"),
    };
    let (from_port, to_port) = match leg {
        Leg::Request => (TRACE_SOURCE_PORT, port),
        Leg::Reply => (port, TRACE_SOURCE_PORT),
    };
    let mut out = Vec::new();
    let written = match (protocol, dst, leg) {
        (ExpectedProtocol::Tcp, _, Leg::Request) => builder
            .tcp(from_port, to_port, 1, 64240)
            .syn()
            .write(&mut out, &[]),
        (ExpectedProtocol::Tcp, _, Leg::Reply) => builder
            .tcp(from_port, to_port, 1, 64240)
            .syn()
            .ack(2)
            .write(&mut out, &[]),
        (ExpectedProtocol::Udp, _, _) => builder.udp(from_port, to_port).write(&mut out, b"trace"),
        (ExpectedProtocol::Icmp, IpAddr::V4(_), Leg::Request) => {
            builder.icmpv4_echo_request(1, 1).write(&mut out, b"trace")
        }
        (ExpectedProtocol::Icmp, IpAddr::V4(_), Leg::Reply) => {
            builder.icmpv4_echo_reply(1, 1).write(&mut out, b"trace")
        }
        (ExpectedProtocol::Icmp, IpAddr::V6(_), Leg::Request) => {
            builder.icmpv6_echo_request(1, 1).write(&mut out, b"trace")
        }
        (ExpectedProtocol::Icmp, IpAddr::V6(_), Leg::Reply) => {
            builder.icmpv6_echo_reply(1, 1).write(&mut out, b"trace")
        }
    };
    written.expect("a packet built from valid parts");
    out
}

/// Where a walk delivered its packet: the receiving port, the destination
/// as received (after a load balancer's translation), the site that holds
/// it when the port is a site's tunnel, and every port the packet left or
/// reached on the way.
pub(super) struct Delivered {
    pub(super) port: PortIdx,
    pub(super) destination: IpAddr,
    pub(super) site: Option<SiteIdx>,
    pub(super) ports: Vec<PortIdx>,
    /// The Azure Firewall that translated the packet's source to its own
    /// address on the way, with the source it had: the reply goes to the
    /// firewall, which translates it back.
    pub(super) translated_by: Option<(PortIdx, IpAddr)>,
    /// The Internet edge's translation on the way out: the source the
    /// packet had and the public address it left with. The reply comes
    /// back to the public address, and the edge translates it back.
    pub(super) edge: Option<(IpAddr, IpAddr)>,
    /// The destination a firewall's DNAT rule translated on the way: the
    /// reply leaves the firewall from it.
    pub(super) dnat: Option<IpAddr>,
    /// The public load balancer frontend (address and port) that
    /// translated the packet from the Internet: the backend's reply leaves
    /// with it as its source.
    pub(super) public_frontend: Option<(IpAddr, u16)>,
    /// The Internet edge's translation on the way in, to a NIC behind its
    /// public IP: the private address it reached and the public address it
    /// was sent to. The reply leaves from that public address, whatever
    /// way out the NIC's new flows take, as the flow table keeps it.
    pub(super) edge_in: Option<(IpAddr, IpAddr)>,
}

/// Walks `packet` from `ingress` hop by hop with `flows`' state, filling
/// `answer`'s hops, path and verdict; the delivery, when it was delivered.
pub(super) fn walk(
    snap: &Snapshot,
    flows: &TraceFlows,
    mut ingress: PortIdx,
    mut packet: Vec<u8>,
    answer: &mut Trace,
) -> Option<Delivered> {
    let t = &snap.topology;
    // A site's packets enter the fabric at the gateway their tunnel ends at.
    if snap.plan.ports[ingress].kind.site_tunnel().is_some() {
        answer.path.extend(path_name(snap, ingress));
    }
    let mut left: Vec<PortIdx> = Vec::new();
    let mut translated_by = None;
    let mut edge = None;
    let mut dnat = None;
    let mut public_frontend = None;
    let mut edge_in = None;
    for _ in 0..MAX_HOPS {
        if left.contains(&ingress) {
            answer.reason = Some(ROUTING_LOOP.to_string());
            answer.at = Some(place_name(snap, ingress));
            return None;
        }
        left.push(ingress);
        let view = PacketView::parse(&packet).expect("a packet the trace built");
        let verdict = decide(snap, flows, ingress, &packet, 0);
        let report = flows.take_report();
        let mut hop = hop_details(snap, ingress, &view, &verdict, &report, &mut answer.path);
        edge_details(snap, ingress, &view, &verdict, &mut hop);
        let received = match verdict {
            Verdict::Drop { reason, at, .. } => {
                answer.reason = Some(reason.as_str().to_string());
                answer.at = Some(place_name(snap, at));
                answer.rule = hop
                    .outbound
                    .iter()
                    .chain(&hop.inbound)
                    .find(|c| c.access == Access::Deny.as_str())
                    .map(|c| c.rule_name.clone());
                answer.hops.push(hop);
                return None;
            }
            Verdict::Deliver(nic) => {
                edge = internet::untranslated_edge(snap, &hop, nic, &view).or(edge);
                nic
            }
            Verdict::Translate { nic, rewrite } => {
                if let (true, Rewrite::Source { address, .. }) =
                    (snap.nics[nic].kind.is_internet(), rewrite)
                {
                    edge = Some((view.key.src, address));
                }
                match (snap.edge.public.get(&view.key.dst), rewrite) {
                    (Some(PublicTarget::Frontend(_)), Rewrite::Destination { .. }) => {
                        public_frontend = Some((view.key.dst, view.flow_ports.1));
                    }
                    (Some(PublicTarget::Nic { .. }), Rewrite::Destination { address, .. }) => {
                        edge_in = Some((address, view.key.dst));
                    }
                    _ => {}
                }
                translate(&mut packet, rewrite, false).expect("a packet the trace built");
                nic
            }
        };
        let dst = PacketView::parse(&packet)
            .expect("a packet the trace built")
            .key
            .dst;
        hop.received_destination = Some(dst.to_string());
        answer.hops.push(hop);
        let mut delivered = Delivered {
            port: received,
            destination: dst,
            site: None,
            ports: left.clone(),
            translated_by,
            edge,
            dnat,
            public_frontend,
            edge_in,
        };
        delivered.ports.push(received);
        // The Internet holds every address but the lab's (its namespace
        // answers them): there the packet ends.
        let internet_holds =
            snap.nics[received].kind.is_internet() && snap.edge.internet_holds(dst);
        if snap.nics[received].owns(dst) || internet_holds {
            answer.service = internet::service_rule(snap, received, &packet);
            answer.verdict = Access::Allow.as_str().to_string();
            answer.delivered_to = Some(nic_name(snap, received));
            return Some(delivered);
        }
        if let Some((site, _, _)) = snap.plan.ports[received].kind.site_tunnel() {
            let s = &t.sites[site];
            if s.hosts.iter().any(|h| h.address == dst)
                || s.address_space.iter().any(|n| n.contains(&dst))
            {
                answer.verdict = Access::Allow.as_str().to_string();
                answer.delivered_to = Some(format!("site {}", s.name));
                delivered.site = Some(site);
                return Some(delivered);
            }
            answer.reason = Some(SITE_UNREACHABLE.to_string());
            answer.at = Some(place_name(snap, received));
            return None;
        }
        // An appliance: it forwards by its own subnet's routes; an Azure
        // Firewall translates the destination of what its DNAT rules match
        // (and the source with it), or the source where Azure's does.
        if let Some((source, destination)) = firewall_dnat(snap, received, &mut packet) {
            translated_by = Some((received, source));
            dnat = Some(destination);
        } else if let Some(original) = firewall_translation(snap, received, &mut packet) {
            translated_by = Some((received, original));
        }
        ingress = received;
    }
    answer.reason = Some(ROUTING_LOOP.to_string());
    answer.at = Some(place_name(snap, ingress));
    None
}

/// The details of one hop, from what the decision reported of it
/// (`report`); adds what the hop crosses to `path`.
pub(super) fn hop_details(
    snap: &Snapshot,
    ingress: PortIdx,
    view: &PacketView,
    verdict: &Verdict,
    report: &HopReport,
    path: &mut Vec<String>,
) -> TraceHop {
    let t = &snap.topology;
    let sender = &snap.plan.ports[ingress];
    let key = view.key;
    let mut hop = TraceHop {
        outbound_by_state: report.by_state(ingress, Direction::Outbound),
        outbound: report.checks(ingress, Direction::Outbound),
        ..TraceHop::sending(
            sender.name.clone(),
            t.subnet_path(sender.subnet),
            key.src,
            key.dst,
        )
    };
    if report.denied(ingress, Direction::Outbound) {
        return hop;
    }
    let route_gateway = route_used(snap, ingress, report, &mut hop);
    // A site's packets enter the fabric at the gateway their tunnel ends at.
    let entry_gateway = sender.kind.site_tunnel().map(|(_, gateway, _)| gateway);
    hop.gateway = route_gateway
        .or(entry_gateway)
        .map(|g| t.gateways[g].name.clone());
    hop.load_balancer = report.balanced.as_ref().map(|step| {
        let fe = snap.frontend(step.frontend);
        let lb = &t.load_balancers[fe.load_balancer];
        LoadBalancerStep {
            name: lb.name.clone(),
            frontend: lb.frontends[fe.frontend].name.clone(),
            rule: step.rule.map(|r| lb.rules[fe.rules[r].rule].name.clone()),
            backend: step.chosen.ok().map(|(b, _)| nic_name(snap, b)),
        }
    });
    // Every gateway crossed, a Vnet2Vnet chain's middle ones too; a site's
    // packets cross the gateway their tunnel ends at.
    let mut crossed = report.gateways.clone();
    crossed.dedup();
    if crossed.first().is_some_and(|&g| Some(g) == route_gateway) {
        crossed.remove(0);
    }
    hop.handed_on = crossed
        .iter()
        .map(|&g| t.gateways[g].name.clone())
        .collect();
    // The gateways come before a load balancer they lead to.
    for gateway in hop.gateway.iter().chain(&hop.handed_on) {
        cross(path, gateway.clone());
    }
    if let Some(lb) = &hop.load_balancer {
        cross(path, lb.name.clone());
    }
    let receiver = match *verdict {
        Verdict::Deliver(nic) | Verdict::Translate { nic, .. } => Some(nic),
        Verdict::Drop { at, .. } if at != ingress => Some(at),
        Verdict::Drop { .. } => None,
    };
    if let Some(receiver) = receiver {
        received(snap, ingress, receiver, route_gateway, report, &mut hop);
        // A receiver that refused the packet was not crossed.
        let delivered = verdict.egress().is_some();
        if let Some(name) = path_name(snap, receiver).filter(|_| delivered) {
            cross(path, name);
        }
    }
    hop
}

/// The deciding route the decision reported for the packet `ingress`
/// sent, into `hop`; the gateway it leads to, if any.
fn route_used(
    snap: &Snapshot,
    ingress: PortIdx,
    report: &HopReport,
    hop: &mut TraceHop,
) -> Option<GatewayIdx> {
    let t = &snap.topology;
    let (_, row) = report.route.filter(|(nic, _)| *nic == ingress)?;
    let routes = snap.nic_routes(ingress);
    let route = &routes.routes[row];
    hop.route = Some(RouteUsed {
        source: route.source.as_str(),
        address_prefix: route.address_prefix.to_string(),
        next_hop_type: route.next_hop_type.as_str(),
        next_hop_ip_address: route
            .next_hop_addresses(t)
            .iter()
            .map(|ip| ip.to_string())
            .collect(),
        route_table: match route.route_table {
            Some(rt) => t.route_tables[rt].name.clone(),
            None => SYSTEM_ROUTE.to_string(),
        },
        hub: route
            .hub
            .as_deref()
            .map(|h| virtual_hub::hub_route_used(t, h)),
    });
    match routes.targets[row] {
        RouteTarget::Gateway(gateway) => Some(gateway),
        _ => None,
    }
}

/// The receiving end of a hop into `hop`: the peering or connected group
/// crossed, the receiver's inbound rules as the decision reported them,
/// and what the hop adds.
fn received(
    snap: &Snapshot,
    ingress: PortIdx,
    receiver: PortIdx,
    route_gateway: Option<GatewayIdx>,
    report: &HopReport,
    hop: &mut TraceHop,
) {
    let t = &snap.topology;
    // Through a gateway, the peering crossed is the one to the gateway's
    // VNet (gateway transit); else the one to the receiver's.
    let from_vnet = snap.nics[ingress].vnet;
    let to_vnet = match route_gateway {
        Some(gateway) => snap.gateways[gateway].vnet,
        None => snap.nics[receiver].vnet,
    };
    // The Internet stands in no VNet: reaching it, or coming from it,
    // crosses no peering (its placeholder subnet means nothing).
    let internet = snap.nics[ingress].kind.is_internet() || snap.nics[receiver].kind.is_internet();
    let crosses = from_vnet != to_vnet && !internet;
    if crosses && t.peering_connected(from_vnet, to_vnet) {
        hop.peering = t
            .peerings
            .iter()
            .find(|p| p.vnet == from_vnet && p.remote == to_vnet)
            .map(|p| p.name.clone());
    } else if crosses {
        hop.connected_group = t
            .connected_group(from_vnet, to_vnet)
            .map(|g| g.configuration.clone());
    }
    hop.to = Some(nic_name(snap, receiver));
    hop.inbound_by_state = report.by_state(receiver, Direction::Inbound);
    hop.inbound = report.checks(receiver, Direction::Inbound);
    hop.shaping = hop_shaping(snap, ingress, receiver);
}

/// What the hop from `ingress` to `receiver` adds and limits, from the
/// snapshot's shaping tables; `None` when it is a plain 1500-byte hop.
pub(super) fn hop_shaping(
    snap: &Snapshot,
    ingress: PortIdx,
    receiver: PortIdx,
) -> Option<HopShaping> {
    let t = &snap.topology;
    let path = snap.shaping.profile(ingress, receiver).shaping;
    let caps = path.caps.iter().flatten().map(|c| Bottleneck {
        mbps: c.mbps(),
        what: c.describe(t),
    });
    let sender_vm = snap
        .plan
        .nic(ingress)
        .and_then(|nic| crate::policy::shaping::vm_egress(t, nic))
        .map(|egress| {
            let (vm, mbps) = (&t.virtual_machines[egress.vm], egress.mbps);
            Bottleneck {
                mbps,
                what: format!("{mbps} Mbps: VM {} ({})", vm.name, vm.size),
            }
        });
    let bottleneck = caps.chain(sender_vm).min_by_key(|b| b.mbps);
    let plain = path.delay_us == 0
        && path.jitter_us == 0
        && path.loss_ppm == 0
        && bottleneck.is_none()
        && path.mtu == crate::topology::DEFAULT_MTU
        && path.mss_clamp.is_none();
    (!plain).then_some(HopShaping {
        added_latency_us: path.delay_us,
        latency_estimated: path.delay_estimated,
        jitter_us: path.jitter_us,
        loss_ppm: path.loss_ppm,
        bottleneck,
        mtu: path.mtu,
        mss_clamp: path.mss_clamp,
    })
}
