//! The walk of one packet through the fabric, hop by hop: each hop one
//! pass of the packet path's own decision on the packet built byte by
//! byte, with the decision's steps run beside it for the hop's details
//! (the NSG rules met, the route, the peering or gateway crossed, the
//! load balancer's translation, what the hop adds and limits). The
//! request and its reply both walk here; `trace` starts the request, and
//! `reply` walks the way back.

use super::answer::{
    Bottleneck, HopShaping, LoadBalancerStep, NsgCheck, RouteUsed, Trace, TraceHop,
};
use super::internet::{edge_details, firewall_dnat, firewall_translation};
use super::question::{ROUTING_LOOP, SITE_UNREACHABLE, TRACE_SOURCE_PORT};
use super::{internet, virtual_hub};
use crate::dataplane::decide::FrontendHop;
use crate::dataplane::nat::{translate, Rewrite};
use crate::dataplane::{
    balance, decide, route_step_through, Balanced, Conntrack, HopTo, PacketView, Stateless, Verdict,
};
use crate::diagnostics::az::SYSTEM_ROUTE;
use crate::net::PacketKey;
use crate::plan::PortIdx;
use crate::snapshot::edge::PublicTarget;
use crate::snapshot::{NsgStage, RouteTarget, Snapshot, StageObserver};
use crate::topology::{Access, AdminAction, Direction, ExpectedProtocol, SiteIdx};
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

/// The rules a packet meets at `nic` in `direction`, as the decision's
/// own stages report them ([`Snapshot::evaluate_observed`]): the security
/// admin rule that matches, if any, then one per NSG, up to the rule that
/// ends evaluation (a deny, or an admin rule's `AlwaysAllow`); with the
/// stages' verdict.
pub(super) fn nsg_checks(
    snap: &Snapshot,
    nic: PortIdx,
    direction: Direction,
    key: &PacketKey,
) -> (Vec<NsgCheck>, Access) {
    struct Checks<'s> {
        snap: &'s Snapshot,
        met: Vec<NsgCheck>,
    }
    impl StageObserver for Checks<'_> {
        fn met(&mut self, stage: &NsgStage, r: usize) {
            let rule = &stage.rules[r];
            self.met.push(NsgCheck {
                level: stage.level.as_str(),
                nsg: stage.owner.name(&self.snap.topology).to_string(),
                rule_name: rule.name.clone(),
                priority: rule.settings.priority,
                access: rule.settings.access.as_str(),
                admin_action: rule.admin_action.map(AdminAction::as_str),
            });
        }
    }
    let mut checks = Checks {
        snap,
        met: Vec::new(),
    };
    let verdict = snap.evaluate_observed(nic, direction, key, &mut checks);
    (checks.met, verdict.access)
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
pub(super) fn walk<C: Conntrack>(
    snap: &Snapshot,
    flows: &C,
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
        let mut hop = hop_details(snap, flows, ingress, &view, &verdict, &mut answer.path);
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
                edge = internet::untranslated_edge(snap, ingress, nic, &view).or(edge);
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

/// The details of one hop, from the decision's steps; adds what the hop
/// crosses to `path`.
#[allow(
    clippy::too_many_lines,
    reason = "one hop follows the decision's steps in order, each adding to the path the next step reads"
)]
pub(super) fn hop_details<C: Conntrack>(
    snap: &Snapshot,
    flows: &C,
    ingress: PortIdx,
    view: &PacketView,
    verdict: &Verdict,
    path: &mut Vec<String>,
) -> TraceHop {
    let t = &snap.topology;
    let sender = &snap.plan.ports[ingress];
    let key = view.key;
    let by_state = |nic, direction| flows.admitted(nic, direction, view, 0).is_some();
    let outbound_by_state = by_state(ingress, Direction::Outbound);
    let (outbound, outbound_access) = match outbound_by_state {
        true => (Vec::new(), Access::Allow),
        false => nsg_checks(snap, ingress, Direction::Outbound, &key),
    };
    let mut hop = TraceHop {
        outbound_by_state,
        outbound,
        ..TraceHop::sending(
            sender.name.clone(),
            t.subnet_path(sender.subnet),
            key.src,
            key.dst,
        )
    };
    if outbound_access == Access::Deny {
        return hop;
    }
    let mut crossed = Vec::new();
    let step = route_step_through(snap, ingress, &key, &mut |g| crossed.push(g));
    let row = match &step {
        Ok(h) => h.row,
        // A refusal after the lookup still had a deciding row.
        Err(_) => snap.route_target(ingress, key.dst).map(|(row, _)| row),
    };
    let mut route_gateway = None;
    if let Some(row) = row.filter(|_| !snap.nics[ingress].kind.is_prober()) {
        let route = &snap.nic_routes(ingress).routes[row];
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
        if let RouteTarget::Gateway(gateway) = snap.nic_routes(ingress).targets[row] {
            route_gateway = Some(gateway);
        }
    }
    // A site's packets enter the fabric at the gateway their tunnel ends at.
    let entry_gateway = sender.kind.site_tunnel().map(|(_, gateway, _)| gateway);
    hop.gateway = route_gateway
        .or(entry_gateway)
        .map(|g| t.gateways[g].name.clone());
    let mut translated = None;
    // A frontend reached by the route, or from the Internet, a public one.
    let reached = match step.as_ref().map(|h| h.to) {
        Ok(HopTo::Frontend {
            frontend,
            addressed,
        }) => Some((frontend, addressed)),
        _ if snap.nics[ingress].kind.is_internet() => match snap.edge.public.get(&key.dst) {
            Some(&PublicTarget::Frontend(frontend)) => Some((frontend, true)),
            _ => None,
        },
        _ => None,
    };
    {
        if let Some((frontend, addressed)) = reached {
            let fe = snap.frontend(frontend);
            let lb = &t.load_balancers[fe.load_balancer];
            let rule = if addressed {
                fe.rule_for(key.proto, key.dst_port)
            } else {
                fe.next_hop_rule(key.proto)
            };
            let chosen = balance(
                snap,
                &Stateless,
                ingress,
                view,
                FrontendHop {
                    frontend,
                    addressed,
                },
                0,
            );
            if let Ok(Balanced {
                rewrite: Some(rewrite),
                ..
            }) = chosen
            {
                translated = Some(view.translated(rewrite).key);
            }
            hop.load_balancer = Some(LoadBalancerStep {
                name: lb.name.clone(),
                frontend: lb.frontends[fe.frontend].name.clone(),
                rule: rule.map(|r| lb.rules[fe.rules[r].rule].name.clone()),
                backend: chosen.ok().map(|b| nic_name(snap, b.backend)),
            });
        }
    }
    // Every gateway crossed, a Vnet2Vnet chain's middle ones too; a site's
    // packets cross the gateway their tunnel ends at.
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
        // Through a gateway, the peering crossed is the one to the
        // gateway's VNet (gateway transit); else the one to the receiver's.
        let from_vnet = snap.nics[ingress].vnet;
        let to_vnet = match route_gateway {
            Some(gateway) => snap.gateways[gateway].vnet,
            None => snap.nics[receiver].vnet,
        };
        // The Internet stands in no VNet: reaching it, or coming from it,
        // crosses no peering (its placeholder subnet means nothing).
        let internet =
            snap.nics[ingress].kind.is_internet() || snap.nics[receiver].kind.is_internet();
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
        let received_key = translated.unwrap_or(key);
        hop.inbound_by_state = by_state(receiver, Direction::Inbound);
        if !hop.inbound_by_state {
            hop.inbound = nsg_checks(snap, receiver, Direction::Inbound, &received_key).0;
        }
        hop.shaping = hop_shaping(snap, ingress, receiver);
        // A receiver that refused the packet was not crossed.
        let delivered = verdict.egress().is_some();
        if let Some(name) = path_name(snap, receiver).filter(|_| delivered) {
            cross(path, name);
        }
    }
    hop
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
