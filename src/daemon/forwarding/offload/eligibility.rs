//! Whether an admitted flow's direction may leave userspace, judged once
//! per flow direction and plane generation (the verdict is kept in the
//! offload's book, with its reason when it may not), never per packet.
//!
//! What stays in userspace, as on Azure's hosts where what needs the
//! virtual switch's software stays there: paths that delay or cap packets
//! (the daemon does that). A path that clamps the TCP MSS (a VPN tunnel)
//! leaves userspace all the same, since every SYN reaches the daemon; one
//! that carries less than its sender may send (a tunnel's MTU) leaves with
//! that bound in its entry ([`path_mtu`]), and a larger packet still
//! reaches the daemon, which drops or fragments it and says so.
//!
//! A direction that arrives from another machine was routed, paced and
//! balanced there: on the receiving machine only a load balancer's backend
//! keeps it in userspace.
//!
//! A translated direction leaves userspace when the translation is the
//! Internet edge's (a NAT gateway's, a public IP's, default outbound
//! access's, each way, and a public IP's inbound 1:1), of IPv4 TCP, UDP or
//! ICMP echo, between two ports of the fabric: the kernel rewrites the
//! packets as the daemon would ([`crate::host::fabric::FastRewrite`]), and
//! keeps the translation alive while it carries them.
//!
//! A load-balanced direction between two ports of the fabric leaves
//! userspace when the load balancer's own pin of the flow, as the workers
//! find it, says exactly what the kernel will do (`super::balanced`): the
//! client's packets to a frontend go to the pinned backend, their
//! destination rewritten to the backend's address and the rule's backend
//! port (unchanged for floating IP and HA ports); the backend's replies
//! leave with the frontend as their source (unchanged for floating IP); an
//! appliance's leg onward behind HA ports is delivered as it is. The entry
//! keeps the pin alive and goes with it. What stays: a flow pinned to a
//! backend its probe finds down (Azure keeps it there; the workers do), a
//! flow left unpinned by a full table, load-balanced legs between
//! machines, and a backend's packets that are none of its frontends'
//! flows (a later client's pin may make them replies). Translations of
//! either family are carried (TCP, UDP, and the edge's ICMP echo).

use super::request::FastTuple;
use crate::daemon::forwarding::plane::Plane;
use crate::dataplane::conntrack::{
    EdgeMemo, FlowOwners, TrackedFlows, EDGE_DIRECTION, EDGE_STABLE_ID,
};
use crate::dataplane::nat::Rewrite;
use crate::dataplane::{route_step, FrontendHop, Hop, HopTo};
use crate::engine::flow_table::{FlowKey, FlowTable};
use crate::host::fabric::FastRewrite;
use crate::net::{PacketKey, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP};
use crate::plan::PortIdx;
use crate::snapshot::edge::PublicTarget;
use crate::snapshot::Snapshot;
use std::net::IpAddr;

/// Why a flow's direction stays in userspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ineligible {
    /// A load balancer takes part in a way the kernel does not follow: a
    /// leg between machines, two frontends on one path, a backend of
    /// several frontends that translate answering one, or a backend's
    /// packets that are none of its frontends' flows.
    LoadBalanced,
    /// Pinned to a backend whose probe finds it down: an established
    /// connection Azure keeps there, which the workers carry.
    BackendDown,
    /// Through a frontend, but not pinned (the table's room for the
    /// frontend's flows was full): placed packet by packet.
    Unpinned,
    /// Its path paces or delays packets (shaping on).
    Shaped,
    /// Its translation is not one the kernel carries: none of the
    /// Internet edge's or a load balancer's (the firewall's DNAT is its
    /// namespace's), or one between machines.
    Translated,
    /// To or from a service through a service endpoint: untranslated, but
    /// admitted from the Internet only as the reply of a flow the daemon
    /// tracks, so it stays there.
    ServiceEndpoint,
    /// To or from an Azure Firewall's proxy, where its application rules
    /// judge the name asked: the firewall's part runs in userspace, and
    /// the legs to it stay with it.
    ApplicationRule,
    /// Not a judgment but a refusal, asked again at the flow's next
    /// packets: the fabric holds its cap of entries.
    Full,
    /// A refusal: its NIC holds its share of the cap.
    NicShare,
    /// A refusal: the receiving NIC's `eth0` is gone or down.
    EgressDown,
}

impl Ineligible {
    pub fn as_str(self) -> &'static str {
        match self {
            Ineligible::LoadBalanced => "load_balanced",
            Ineligible::BackendDown => "backend_down",
            Ineligible::Unpinned => "unpinned",
            Ineligible::Shaped => "shaped",
            Ineligible::Translated => "translated",
            Ineligible::ServiceEndpoint => "service_endpoint",
            Ineligible::ApplicationRule => "application_rule",
            Ineligible::Full => "offload_full",
            Ineligible::NicShare => "nic_share",
            Ineligible::EgressDown => "egress_down",
        }
    }
}

/// The load balancer's part in a direction, as the workers decide it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balancing {
    /// None: no frontend on its path, and its sender is no backend of a
    /// frontend that translates.
    None,
    /// Its route (or, from the Internet, its public destination) reaches
    /// a frontend.
    Frontend(FrontendHop),
    /// Its sender is a backend of a frontend that translates: its packets
    /// are looked up as the replies of its frontends' flows first.
    FromBackend,
}

/// Judges the direction `key` from `nic` to `egress` under `plane`, with
/// shaping on or off for the lab: the load balancer's part in it, if it
/// is not kept in userspace.
pub fn judge(
    plane: &Plane,
    nic: PortIdx,
    egress: PortIdx,
    key: &PacketKey,
    shaping: bool,
) -> Result<Balancing, Ineligible> {
    let snap = &plane.snapshot;
    if application_rules(snap, nic, egress, key) {
        return Err(Ineligible::ApplicationRule);
    }
    // A path that delays or caps packets keeps them in the daemon, where
    // that happens (a single-NIC VM's own cap is its eth0's, and holds on
    // either path).
    let tables = &snap.shaping;
    if tables.active && shaping && tables.paces(nic, tables.profile_index(nic, egress)) {
        return Err(Ineligible::Shaped);
    }
    if service_endpoint(snap, nic, key) {
        return Err(Ineligible::ServiceEndpoint);
    }
    balancing(snap, nic, key).ok_or(Ineligible::LoadBalanced)
}

/// Whether the direction `key` from `nic` to `egress` is a leg of a
/// connection a firewall's proxy takes: to a firewall whose network stage
/// passes it on to the application rules, or that firewall's answer.
fn application_rules(snap: &Snapshot, nic: PortIdx, egress: PortIdx, key: &PacketKey) -> bool {
    use crate::policy::firewall::APPLICATION_RULES;
    use crate::topology::Direction;
    let passed_on = |port: PortIdx, key: &PacketKey| {
        let firewall = snap.nics.get(port).is_some_and(|n| n.kind.is_firewall());
        firewall && {
            let verdict = snap.evaluate(port, Direction::Inbound, key);
            snap.deciding_rule(port, Direction::Inbound, &verdict)
                .is_some_and(|(_, rule)| rule.name == APPLICATION_RULES)
        }
    };
    key.proto == IPPROTO_TCP && (passed_on(egress, key) || passed_on(nic, &key.reversed()))
}

/// Whether the direction `key` from `nic` is a service endpoint's: routed
/// by a `VirtualNetworkServiceEndpoint` row, or the Internet's reply to a
/// private address of a subnet with service endpoints.
fn service_endpoint(snap: &Snapshot, nic: PortIdx, key: &PacketKey) -> bool {
    let sources = &snap.edge.service_endpoint_sources;
    if sources.is_empty() {
        return false;
    }
    if snap.nics.get(nic).is_some_and(|n| n.kind.is_internet()) {
        return !snap.edge.public.contains_key(&key.dst)
            && sources.iter().any(|(range, _)| range.contains(&key.dst));
    }
    snap.route(nic, key.dst).map(|r| r.next_hop_type)
        == Some(crate::topology::NextHopType::VirtualNetworkServiceEndpoint)
}

/// The largest packet the path from `nic` to `egress` carries under
/// `snap`, when it is less than what `nic` may send (a VPN tunnel's MTU, a
/// receiver's smaller one): the bound of the path's kernel entry.
pub fn path_mtu(snap: &Snapshot, nic: PortIdx, egress: PortIdx) -> Option<u16> {
    let tables = &snap.shaping;
    if !tables.active {
        return None;
    }
    let path = tables.profile(nic, egress).shaping.mtu;
    (path < tables.mtu[nic]).then_some(path)
}

/// The load balancer's part in a packet `key` that `nic` sends under
/// `snap`, as the decision takes it (`None` for a port it does not know).
pub fn balancing(snap: &Snapshot, nic: PortIdx, key: &PacketKey) -> Option<Balancing> {
    let sender = snap.nics.get(nic)?;
    if !sender.translated_frontends.is_empty() {
        return Some(Balancing::FromBackend);
    }
    if sender.kind.is_internet() {
        return Some(match snap.edge.public.get(&key.dst) {
            Some(&PublicTarget::Frontend(frontend)) => Balancing::Frontend(FrontendHop {
                frontend,
                addressed: true,
            }),
            _ => Balancing::None,
        });
    }
    Some(match route_step(snap, nic, key) {
        Ok(Hop {
            to: HopTo::Frontend {
                frontend,
                addressed,
            },
            ..
        }) => Balancing::Frontend(FrontendHop {
            frontend,
            addressed,
        }),
        _ => Balancing::None,
    })
}

/// Judges a direction that arrives from another machine for `receiver`
/// under `plane`. Only the receiver's inbound NSGs and delivery happen on
/// this machine (the sender's did the rest), so it stays in userspace only
/// when the receiver is the backend of a frontend that translates: its
/// flows are load balanced, and stay in the daemon whole.
pub fn judge_arrival(plane: &Plane, receiver: PortIdx) -> Result<(), Ineligible> {
    let balanced =
        (plane.snapshot.nics.get(receiver)).is_none_or(|n| !n.translated_frontends.is_empty());
    match balanced {
        true => Err(Ineligible::LoadBalanced),
        false => Ok(()),
    }
}

/// A translated direction the kernel may carry: the rewrite in the
/// kernel's terms, and the key of the Internet edge's translation its
/// packets keep alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeRewrite {
    pub rewrite: FastRewrite,
    pub translation: FlowKey,
}

/// Judges the direction `tuple` (as sent) that the workers translated as
/// `rewrite` between two ports of the fabric under `plane`: the kernel
/// carries it when the translation is the Internet edge's one, found in
/// `flows` (by the packet as sent, from either side), of TCP, UDP or
/// ICMP echo (its identifier kept: the memo's port on both sides).
pub fn judge_translation(
    plane: &Plane,
    flows: &FlowTable,
    tuple: FastTuple,
    rewrite: Rewrite,
    now_ms: u64,
) -> Result<EdgeRewrite, Ineligible> {
    // TCP, UDP and ICMP echo, of either family.
    let carried = match tuple.protocol {
        IPPROTO_TCP | IPPROTO_UDP => true,
        IPPROTO_ICMP => tuple.source.is_ipv4(),
        IPPROTO_ICMPV6 => tuple.source.is_ipv6(),
        _ => false,
    };
    if !carried || tuple.source.is_ipv4() != tuple.destination.is_ipv4() {
        return Err(Ineligible::Translated);
    }
    let sent = (
        (tuple.source, tuple.source_port),
        (tuple.destination, tuple.destination_port),
    );
    let tracked = TrackedFlows {
        table: flows,
        owners: plane,
    };
    let memo = tracked
        .edge_of(tuple.protocol, sent.0, sent.1, now_ms)
        .ok_or(Ineligible::Translated)?;
    let rewrite = edge_rewrite(memo, sent, rewrite).ok_or(Ineligible::Translated)?;
    let translation = FlowKey::from_ips(
        plane.frontend_owner(EDGE_STABLE_ID),
        EDGE_DIRECTION,
        tuple.protocol,
        tuple.source,
        tuple.destination,
        tuple.source_port,
        tuple.destination_port,
    )
    .ok_or(Ineligible::Translated)?;
    Ok(EdgeRewrite {
        rewrite,
        translation,
    })
}

/// `rewrite` in the kernel's terms, if it is the translation `memo` makes
/// of a packet sent from `sent.0` to `sent.1`: the private side's source
/// becomes the public one, or the public destination the private one. (An
/// ICMP echo's "port" is its identifier, which the edge keeps, so the
/// kernel's check that it stays holds.)
fn edge_rewrite(
    memo: EdgeMemo,
    sent: ((IpAddr, u16), (IpAddr, u16)),
    rewrite: Rewrite,
) -> Option<FastRewrite> {
    let edges = match rewrite {
        Rewrite::Source { address, port } => {
            sent.0 == memo.private && (address, port) == memo.public
        }
        Rewrite::Destination { address, port } => {
            sent.1 == memo.public && (address, port) == memo.private
        }
    };
    edges.then(|| kernel_rewrite(rewrite))
}

/// `rewrite` in the kernel's terms (either family: the kernel rewrites a
/// packet only to an address of its own family).
pub(super) fn kernel_rewrite(rewrite: Rewrite) -> FastRewrite {
    match rewrite {
        Rewrite::Destination { address, port } => FastRewrite::Destination { address, port },
        Rewrite::Source { address, port } => FastRewrite::Source { address, port },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(address: &str, port: u16) -> (IpAddr, u16) {
        (address.parse().unwrap(), port)
    }

    #[test]
    fn only_the_edges_own_translation_of_the_packet_is_carried() {
        let memo = EdgeMemo {
            private: at("10.2.1.4", 40000),
            public: at("198.51.100.30", 40000),
        };
        let remote = at("203.0.113.10", 7001);
        let (public, private) = (memo.public.0, memo.private.0);
        // Leaving: the private source becomes the public one.
        assert_eq!(
            edge_rewrite(
                memo,
                (memo.private, remote),
                Rewrite::Source {
                    address: public,
                    port: 40000
                }
            ),
            Some(FastRewrite::Source {
                address: [198, 51, 100, 30].into(),
                port: 40000
            })
        );
        // Its replies: the public destination becomes the private one.
        assert_eq!(
            edge_rewrite(
                memo,
                (remote, memo.public),
                Rewrite::Destination {
                    address: private,
                    port: 40000
                }
            ),
            Some(FastRewrite::Destination {
                address: [10, 2, 1, 4].into(),
                port: 40000
            })
        );
        // Another translation of the same packet (a load balancer's) is
        // not the edge's.
        let other = Rewrite::Source {
            address: "198.51.100.99".parse().unwrap(),
            port: 40000,
        };
        assert_eq!(edge_rewrite(memo, (memo.private, remote), other), None);
        let other_port = Rewrite::Destination {
            address: private,
            port: 40001,
        };
        assert_eq!(edge_rewrite(memo, (remote, memo.public), other_port), None);
        // IPv6 is carried the same way.
        let v6 = EdgeMemo {
            private: at("fd00::4", 40000),
            public: at("2001:db8::30", 1025),
        };
        let leave = Rewrite::Source {
            address: v6.public.0,
            port: 1025,
        };
        let remote6 = at("2001:db8:1::10", 7001);
        assert_eq!(
            edge_rewrite(v6, (v6.private, remote6), leave),
            Some(FastRewrite::Source {
                address: v6.public.0,
                port: 1025
            })
        );
        let back = Rewrite::Destination {
            address: v6.private.0,
            port: 40000,
        };
        assert_eq!(
            edge_rewrite(v6, (remote6, v6.public), back),
            Some(FastRewrite::Destination {
                address: v6.private.0,
                port: 40000
            })
        );
        // Not the memo's own port: not the edge's translation.
        let elsewhere = Rewrite::Source {
            address: v6.public.0,
            port: 1026,
        };
        assert_eq!(edge_rewrite(v6, (v6.private, remote6), elsewhere), None);
    }
}
