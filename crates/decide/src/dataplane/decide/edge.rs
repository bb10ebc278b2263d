//! The Internet edge in the decision: a packet whose route says `Internet`
//! leaves through its sender's way out ([`EgressHop`], Azure's precedence
//! compiled per port) with its source translated to a public address, and
//! a packet the Internet sends to a public address is translated back (a
//! reply), translated to the NIC behind a public IP (unsolicited, past
//! the NIC's NSGs), handed to the firewall that owns it (whose DNAT rules
//! translate it in its namespace), or dropped.
//!
//! A packet whose route is a service endpoint's
//! (`VirtualNetworkServiceEndpoint`) leaves untranslated: the service sees
//! the VM's private address. Its flow is kept as a translation to itself,
//! so that the service's replies reach the VM, and no other packet from
//! the Internet to a private address does.
//!
//! A translation lives in the flow table as a pair: the flow as the private
//! side sends it and as the Internet sends it. It is found again by every
//! later packet of the flow under any snapshot (an existing flow keeps its
//! way out when a NAT gateway is added, as in Azure) for as long as its
//! public address still belongs to the lab; a translation whose address is
//! gone is forgotten and the flow decided anew.
//!
//! A NAT gateway gives a flow the address [`nat_address`] picks for its
//! source and the first free port towards its destination from
//! [`NAT_PORTS`], so that ports run out where Azure's do: 50,000 flows to
//! one destination from one address (`snat_port_exhausted`). A
//! translation is never evicted for another (Azure keeps a port while its
//! connection lives); a flow with a free port but no room in the flow
//! table is dropped as `flow_table_full`, the lab's limit, not Azure's.

use super::balancing::report_balance;
use super::receiving::{receive, Decided};
use super::{
    balance, Balanced, Conntrack, DropReason, FrontendHop, NewTranslation, Untranslated, Verdict,
};
use crate::dataplane::nat::Rewrite;
use crate::dataplane::packet::PacketView;
use crate::net::{IPPROTO_TCP, IPPROTO_UDP};
use crate::snapshot::edge::{
    nat_address, EgressHop, PublicTarget, NAT_PORTS, NAT_UDP_IDLE_MS, ONE_TO_ONE_IDLE_MS,
};
use crate::snapshot::{PortIdx, Snapshot};
use crate::topology::NextHopType;
use std::net::IpAddr;

const IPPROTO_ICMP: u8 = 1;

/// A packet of `ingress` whose route goes to the Internet.
#[inline(never)]
pub(super) fn leave<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    ingress: PortIdx,
    view: &PacketView,
    now_ms: u64,
) -> Decided {
    let drop = |reason| Decided::verdict(Verdict::dropped(reason, ingress));
    let Some(internet) = snap.edge.internet else {
        return drop(DropReason::NextHopInternet);
    };
    // What a firewall sends from its own public address it translated
    // itself (the replies of its DNAT rules).
    if snap.edge.public.get(&view.key.src) == Some(&PublicTarget::Firewall(ingress)) {
        return receive(snap, flows, internet, view, None, now_ms);
    }
    if let Some(t) = flows.edge_translation(view, true, now_ms) {
        if t.public == t.private {
            return out_untranslated(snap, flows, internet, view, t.handle, now_ms);
        }
        if snap.edge.public.contains_key(&t.public.0) {
            return out_through(snap, flows, internet, view, t.public, t.handle, now_ms);
        }
        flows.edge_forget(&t, now_ms);
    }
    // A lab without service endpoints never looks the route up again.
    if !snap.edge.service_endpoint_sources.is_empty()
        && snap.route(ingress, view.key.dst).map(|r| r.next_hop_type)
            == Some(NextHopType::VirtualNetworkServiceEndpoint)
    {
        return to_service_endpoint(snap, flows, internet, ingress, view, now_ms);
    }
    let (public, idle_timeout_ms) = match snap.nics[ingress].egress {
        EgressHop::None => return drop(DropReason::NextHopInternet),
        // An address of the other family has no way out to give.
        EgressHop::PublicIp(address) | EgressHop::DefaultOutbound(address)
            if address.is_ipv6() != view.key.src.is_ipv6() =>
        {
            return drop(DropReason::NextHopInternet)
        }
        EgressHop::PublicIp(address) | EgressHop::DefaultOutbound(address) => {
            ((address, view.flow_ports.0), ONE_TO_ONE_IDLE_MS)
        }
        EgressHop::NatGateway(g) => {
            let gateway = &snap.edge.nat_gateways[g as usize];
            let carried = match view.key.proto {
                IPPROTO_TCP | IPPROTO_UDP => true,
                IPPROTO_ICMP => gateway.icmp,
                _ => false,
            };
            if !carried {
                return drop(DropReason::NatProtocol);
            }
            let Some(address) = nat_address(&gateway.addresses, view.key.src) else {
                return drop(DropReason::NextHopInternet);
            };
            let idle = if view.key.proto == IPPROTO_TCP {
                gateway.tcp_idle_ms
            } else {
                NAT_UDP_IDLE_MS
            };
            match free_port(flows, view, address, NAT_PORTS, now_ms) {
                Some(port) => ((address, port), idle),
                None => return drop(DropReason::SnatPortExhausted),
            }
        }
        EgressHop::LoadBalancer { outbound, slot } => {
            let way = &snap.edge.outbound[outbound as usize];
            let carried = match view.key.proto {
                IPPROTO_TCP => way.tcp,
                IPPROTO_UDP => way.udp,
                _ => false,
            };
            if !carried {
                return drop(DropReason::NatProtocol);
            }
            // The NIC's block on each frontend address in turn.
            let v6 = view.key.src.is_ipv6();
            let same_family = way.addresses.iter().filter(|a| a.is_ipv6() == v6);
            let found = same_family.copied().find_map(|address| {
                let port = free_port(flows, view, address, way.ports(slot), now_ms)?;
                Some((address, port))
            });
            match found {
                Some(public) => (public, way.idle_ms),
                None => return drop(DropReason::SnatPortExhausted),
            }
        }
    };
    let new = NewTranslation {
        proto: view.key.proto,
        private: (view.key.src, view.flow_ports.0),
        public,
        remote: (view.key.dst, view.flow_ports.1),
        idle_timeout_ms,
    };
    match flows.edge_translate(new, now_ms) {
        Ok(handle) => out_through(snap, flows, internet, view, public, handle, now_ms),
        Err(Untranslated::TableFull) => drop(DropReason::FlowTableFull),
        // Another packet of the flow recorded its translation first: the
        // flow leaves by that one (unless it cannot be read at this
        // instant, as if there were no room for this packet).
        Err(Untranslated::Taken) => match flows.edge_translation(view, true, now_ms) {
            Some(t) => out_through(snap, flows, internet, view, t.public, t.handle, now_ms),
            None => drop(DropReason::FlowTableFull),
        },
    }
}

/// A packet routed by a service endpoint: it leaves to the service with
/// its private source, as Azure's do (the service judges it by its
/// subnet). The flow is tracked as an edge translation to itself, so that
/// the service's replies to the private address are delivered
/// ([`service_endpoint_reply`]) and nothing else from the Internet is.
fn to_service_endpoint<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    internet: PortIdx,
    ingress: PortIdx,
    view: &PacketView,
    now_ms: u64,
) -> Decided {
    let own = (view.key.src, view.flow_ports.0);
    let new = NewTranslation {
        proto: view.key.proto,
        private: own,
        public: own,
        remote: (view.key.dst, view.flow_ports.1),
        idle_timeout_ms: ONE_TO_ONE_IDLE_MS,
    };
    let full = Decided::verdict(Verdict::dropped(DropReason::FlowTableFull, ingress));
    match flows.edge_translate(new, now_ms) {
        Ok(handle) => out_untranslated(snap, flows, internet, view, handle, now_ms),
        Err(Untranslated::TableFull) => full,
        Err(Untranslated::Taken) => match flows.edge_translation(view, true, now_ms) {
            Some(t) => out_untranslated(snap, flows, internet, view, t.handle, now_ms),
            None => full,
        },
    }
}

/// Delivery to the Internet as the packet is, its flow pinned by `handle`.
fn out_untranslated<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    internet: PortIdx,
    view: &PacketView,
    handle: crate::engine::flow_table::FlowHandle,
    now_ms: u64,
) -> Decided {
    let decided = receive(snap, flows, internet, view, None, now_ms);
    Decided {
        pin: (handle != crate::engine::flow_table::FlowHandle::NONE).then_some(handle),
        ..decided
    }
}

/// A packet the Internet sends to a private address: the reply of a
/// service-endpoint flow that address opened, delivered to its sender;
/// `None` for anything else.
fn service_endpoint_reply<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    view: &PacketView,
    now_ms: u64,
) -> Option<Decided> {
    let sources = &snap.edge.service_endpoint_sources;
    if sources.is_empty() {
        return None;
    }
    let t = flows.edge_translation(view, false, now_ms)?;
    if t.public != t.private || t.private.0 != view.key.dst {
        return None;
    }
    let receiver = (sources.iter())
        .filter(|(range, _)| range.contains(&view.key.dst))
        .find_map(|(_, vnet)| snap.forwarding.owner(*vnet, view.key.dst))?;
    let decided = receive(snap, flows, receiver, view, None, now_ms);
    Some(Decided {
        pin: Some(t.handle),
        ..decided
    })
}

/// The first port of `ports` on `address` free towards the packet's
/// destination, from a start that spreads sources over the range; ICMP
/// keeps its identifier (the NAT gateway translates the address only).
fn free_port<C: Conntrack + ?Sized>(
    flows: &C,
    view: &PacketView,
    address: IpAddr,
    ports: std::ops::Range<u32>,
    now_ms: u64,
) -> Option<u16> {
    let remote = (view.key.dst, view.flow_ports.1);
    if view.key.proto == IPPROTO_ICMP {
        let id = view.flow_ports.0;
        return (!flows.edge_taken(view.key.proto, remote, (address, id), now_ms)).then_some(id);
    }
    let span = ports.end.saturating_sub(ports.start);
    if span == 0 {
        return None;
    }
    let start = u32::from(view.flow_ports.0) % span;
    (0..span)
        .map(|i| (ports.start + (start + i) % span) as u16)
        .find(|&port| !flows.edge_taken(view.key.proto, remote, (address, port), now_ms))
}

/// Delivery to the Internet with the source translated to `public`.
fn out_through<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    internet: PortIdx,
    view: &PacketView,
    public: (IpAddr, u16),
    handle: crate::engine::flow_table::FlowHandle,
    now_ms: u64,
) -> Decided {
    let rewrite = Rewrite::Source {
        address: public.0,
        port: public.1,
    };
    let decided = receive_rewritten(snap, flows, internet, view, rewrite, now_ms);
    Decided {
        pin: (handle != crate::engine::flow_table::FlowHandle::NONE).then_some(handle),
        ..decided
    }
}

/// The receiving end for `view` rewritten as `rewrite` says.
fn receive_rewritten<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    receiver: PortIdx,
    view: &PacketView,
    rewrite: Rewrite,
    now_ms: u64,
) -> Decided {
    receive(
        snap,
        flows,
        receiver,
        &view.translated(rewrite),
        Some(rewrite),
        now_ms,
    )
}

/// A packet the Internet sent: decided by the public address it is sent
/// to.
#[inline(never)]
pub(super) fn arrive<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    internet: PortIdx,
    view: &PacketView,
    now_ms: u64,
) -> Decided {
    let drop = |reason| Decided::verdict(Verdict::dropped(reason, internet));
    let Some(&target) = snap.edge.public.get(&view.key.dst) else {
        return service_endpoint_reply(snap, flows, view, now_ms)
            .unwrap_or_else(|| drop(DropReason::NoDestination));
    };
    if let Some(t) = flows.edge_translation(view, false, now_ms) {
        let Some(receiver) = private_owner(snap, target, t.private.0) else {
            return drop(DropReason::NoDestination);
        };
        let rewrite = Rewrite::Destination {
            address: t.private.0,
            port: t.private.1,
        };
        let decided = receive_rewritten(snap, flows, receiver, view, rewrite, now_ms);
        return Decided {
            pin: Some(t.handle),
            ..decided
        };
    }
    match target {
        PublicTarget::Nic { port, private } => {
            if snap.nics[port].inbound.is_empty() {
                return drop(DropReason::PublicIpClosed);
            }
            let rewrite = Rewrite::Destination {
                address: private,
                port: view.flow_ports.1,
            };
            let decided = receive_rewritten(snap, flows, port, view, rewrite, now_ms);
            if decided.verdict.egress().is_none() {
                return decided;
            }
            // The NIC's answers leave through the address they came in on.
            let new = NewTranslation {
                proto: view.key.proto,
                private: (private, view.flow_ports.1),
                public: (view.key.dst, view.flow_ports.1),
                remote: (view.key.src, view.flow_ports.0),
                idle_timeout_ms: ONE_TO_ONE_IDLE_MS,
            };
            // With no room, the answers leave by the NIC's way out anyway.
            let handle = flows.edge_translate(new, now_ms).ok();
            Decided {
                pin: handle.filter(|h| *h != crate::engine::flow_table::FlowHandle::NONE),
                ..decided
            }
        }
        PublicTarget::NatGateway(_) | PublicTarget::DefaultOutbound(_) => {
            drop(DropReason::NatUnsolicited)
        }
        PublicTarget::Firewall(port) => receive(snap, flows, port, view, None, now_ms),
        PublicTarget::Frontend(frontend) => {
            let reached = FrontendHop {
                frontend,
                addressed: true,
            };
            let chosen = balance(snap, flows, internet, view, reached, now_ms);
            report_balance(snap, flows, internet, view, reached, &chosen);
            match chosen {
                // A Standard load balancer is closed to the Internet until
                // an NSG opens it, as a Standard public IP is.
                Ok(b) if snap.nics[b.backend].inbound.is_empty() => {
                    drop(DropReason::PublicIpClosed)
                }
                Ok(Balanced {
                    backend,
                    rewrite: Some(there),
                    pin,
                }) => receive_rewritten(snap, flows, backend, view, there, now_ms).balanced(pin),
                Ok(Balanced {
                    backend,
                    rewrite: None,
                    pin,
                }) => receive(snap, flows, backend, view, None, now_ms).balanced(pin),
                Err(verdict) => Decided::verdict(verdict),
            }
        }
    }
}

/// A backend's packet to the Internet: a reply the load balancer
/// translated back to its public frontend (`back`) goes out as it is;
/// anything else leaves by the backend's way out.
#[inline(never)]
pub(super) fn leave_from_backend<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    ingress: PortIdx,
    view: &PacketView,
    sent: &PacketView,
    back: Option<Rewrite>,
    now_ms: u64,
) -> Decided {
    let answered = back.is_some()
        && matches!(
            snap.edge.public.get(&sent.key.src),
            Some(PublicTarget::Frontend(_))
        );
    match (answered, snap.edge.internet) {
        (true, Some(internet)) => receive(snap, flows, internet, sent, back, now_ms),
        (true, None) => Decided::verdict(Verdict::dropped(DropReason::NextHopInternet, ingress)),
        (false, _) => leave(snap, flows, ingress, view, now_ms),
    }
}

/// The port that owns `private` behind the public address `target`.
fn private_owner(snap: &Snapshot, target: PublicTarget, private: IpAddr) -> Option<PortIdx> {
    let vnet = match target {
        PublicTarget::Nic { port, .. }
        | PublicTarget::DefaultOutbound(port)
        | PublicTarget::Firewall(port) => snap.nics[port].vnet,
        PublicTarget::NatGateway(g) => snap.edge.nat_gateways[g as usize].vnet,
        PublicTarget::Frontend(f) => snap.frontend(f).vnet,
    };
    snap.forwarding.owner(vnet, private)
}
