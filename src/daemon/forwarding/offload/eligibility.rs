//! Whether an admitted flow's direction may leave userspace, judged once
//! per flow direction and plane generation (the verdict is kept in the
//! offload's book, with its reason when it may not), never per packet.
//!
//! What stays in userspace, as on Azure's hosts where what needs the
//! virtual switch's software stays there: paths that delay, cap, clamp or
//! shrink packets (the daemon does that). A direction that arrives from
//! another machine was routed, paced and balanced there: on the receiving
//! machine only a load balancer's backend keeps it in userspace.
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
//! find it, says exactly what the kernel will do ([`judge_balanced`]): the
//! client's packets to a frontend go to the pinned backend, their
//! destination rewritten to the backend's address and the rule's backend
//! port (unchanged for floating IP and HA ports); the backend's replies
//! leave with the frontend as their source (unchanged for floating IP); an
//! appliance's leg onward behind HA ports is delivered as it is. The entry
//! keeps the pin alive and goes with it. What stays: a flow pinned to a
//! backend its probe finds down (Azure keeps it there; the workers do), a
//! flow left unpinned by a full table, IPv6 translations, load-balanced
//! legs between machines, and a backend's packets that are none of its
//! frontends' flows (a later client's pin may make them replies).

use super::request::FastTuple;
use crate::daemon::forwarding::plane::Plane;
use crate::dataplane::conntrack::{
    EdgeMemo, FlowOwners, FoundPin, PinMemo, TrackedFlows, EDGE_DIRECTION, EDGE_STABLE_ID,
};
use crate::dataplane::nat::Rewrite;
use crate::dataplane::{route_step, DropReason, FrontendHop, Hop, HopTo, Verdict};
use crate::engine::flow_table::{FlowKey, FlowTable};
use crate::host::fabric::FastRewrite;
use crate::net::{PacketKey, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP};
use crate::plan::PortIdx;
use crate::snapshot::edge::PublicTarget;
use crate::snapshot::Snapshot;
use std::net::IpAddr;
use std::time::Duration;

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
    /// Its path paces, delays, clamps the MSS or has a smaller MTU than its
    /// sender.
    Shaped,
    /// Its translation is not one the kernel carries: IPv6, or none of the
    /// Internet edge's or a load balancer's (the firewall's DNAT is its
    /// namespace's).
    Translated,
}

impl Ineligible {
    pub fn as_str(self) -> &'static str {
        match self {
            Ineligible::LoadBalanced => "load_balanced",
            Ineligible::BackendDown => "backend_down",
            Ineligible::Unpinned => "unpinned",
            Ineligible::Shaped => "shaped",
            Ineligible::Translated => "translated",
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
    // A path that delays, caps, clamps or cuts packets keeps them in the
    // daemon, where that happens (a single-NIC VM's own cap is its eth0's,
    // and holds on either path).
    let tables = &snap.shaping;
    if tables.active {
        let index = tables.profile_index(nic, egress);
        let path = &tables.profiles[index].shaping;
        let paced = shaping && tables.paces(nic, index);
        if paced || path.mss_clamp.is_some() || tables.mtu[nic] > path.mtu {
            return Err(Ineligible::Shaped);
        }
    }
    balancing(snap, nic, key).ok_or(Ineligible::LoadBalanced)
}

/// The load balancer's part in a packet `key` that `nic` sends under
/// `snap`, as the decision takes it (`None` for a port it does not know).
pub fn balancing(snap: &Snapshot, nic: PortIdx, key: &PacketKey) -> Option<Balancing> {
    let sender = snap.nics.get(nic)?;
    if !sender.translated_frontends.is_empty() {
        return Some(Balancing::FromBackend);
    }
    if sender.internet {
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

/// A load-balanced direction the kernel may carry: the rewrite in the
/// kernel's terms (none for floating IP, HA ports and an appliance's leg
/// onward), and the pin its packets are found by, which each reading
/// keeps alive and checks: the entry goes when the pin goes or changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinnedRewrite {
    pub rewrite: Option<FastRewrite>,
    pub pin: FlowKey,
    pub memo: PinMemo,
}

/// Judges the load-balanced direction `tuple` (as sent) that the workers
/// delivered from `sender` to `receiver` with `rewrite` (or none) under
/// `plane`, the load balancer's part in it being `balancing`: the kernel
/// carries it when the pin in `flows` makes the workers do exactly that
/// (see [`balanced_rewrite`]).
#[allow(clippy::too_many_arguments)]
pub fn judge_balanced(
    plane: &Plane,
    flows: &FlowTable,
    (sender, receiver): (PortIdx, PortIdx),
    tuple: FastTuple,
    balancing: Balancing,
    rewrite: Option<Rewrite>,
    now_ms: u64,
) -> Result<PinnedRewrite, Ineligible> {
    let tracked = TrackedFlows {
        table: flows,
        owners: plane,
    };
    balanced_rewrite(
        &plane.snapshot,
        &tracked,
        (sender, receiver),
        tuple,
        balancing,
        rewrite,
        now_ms,
    )
}

/// [`judge_balanced`] on a snapshot and a flow table keyed by any owners.
///
/// Through a frontend, the workers send a pinned flow's packets to the
/// pinned backend while it is in the rule's pool, and while it is up
/// (only an established TCP connection stays on a backend that went down,
/// and that one stays in the workers: `BackendDown`), with the
/// destination translated unless the rule has floating IP or the frontend
/// is a route's next hop (HA ports). A backend's packet that is a reply
/// of its frontend's translated flow leaves with the frontend's address
/// and the port the client sent to as its source. Every change of the
/// pools or the backends' health is a new plane whose generation already
/// takes the flow back to the workers; what may change within a plane is
/// the pin itself, which each reading checks. The rewrite the workers
/// made (`rewrite`) must be the one the pin gives.
#[allow(clippy::too_many_arguments)]
pub fn balanced_rewrite<O: FlowOwners>(
    snap: &Snapshot,
    tracked: &TrackedFlows<'_, O>,
    (sender, receiver): (PortIdx, PortIdx),
    tuple: FastTuple,
    balancing: Balancing,
    rewrite: Option<Rewrite>,
    now_ms: u64,
) -> Result<PinnedRewrite, Ineligible> {
    let carried = matches!(tuple.protocol, IPPROTO_TCP | IPPROTO_UDP);
    if !carried {
        return Err(Ineligible::LoadBalanced);
    }
    let (pin, expected) = match balancing {
        Balancing::None => return Err(Ineligible::LoadBalanced),
        Balancing::Frontend(hop) => through_frontend(snap, tracked, receiver, tuple, hop, now_ms)?,
        Balancing::FromBackend => from_backend(snap, tracked, sender, receiver, tuple, now_ms)?,
    };
    if rewrite != expected {
        return Err(Ineligible::LoadBalanced);
    }
    let rewrite = match expected {
        None => None,
        Some(Rewrite::Destination {
            address: IpAddr::V4(address),
            port,
        }) => Some(FastRewrite::Destination { address, port }),
        Some(Rewrite::Source {
            address: IpAddr::V4(address),
            port,
        }) => Some(FastRewrite::Source { address, port }),
        // The kernel rewrites IPv4 alone.
        Some(_) => return Err(Ineligible::Translated),
    };
    Ok(PinnedRewrite {
        rewrite,
        pin: pin.key,
        memo: pin.memo,
    })
}

/// A packet that reached frontend `hop`: its pin, which must name
/// `receiver`, a backend of the rule that carries it and up, and the
/// rewrite the workers make of it.
fn through_frontend<O: FlowOwners>(
    snap: &Snapshot,
    tracked: &TrackedFlows<'_, O>,
    receiver: PortIdx,
    tuple: FastTuple,
    hop: FrontendHop,
    now_ms: u64,
) -> Result<(FoundPin, Option<Rewrite>), Ineligible> {
    let fe = snap.frontend(hop.frontend);
    let rule = match hop.addressed {
        true => fe.rule_for(tuple.protocol, Some(tuple.destination_port)),
        false => fe.next_hop_rule(tuple.protocol),
    };
    let rule = rule.map(|r| &fe.rules[r]).ok_or(Ineligible::LoadBalanced)?;
    let pin = tracked
        .pin_of(
            fe,
            tuple.protocol,
            (tuple.source, tuple.source_port),
            (tuple.destination, tuple.destination_port),
            now_ms,
        )
        .ok_or(Ineligible::Unpinned)?;
    let backend = rule
        .pool
        .iter()
        .find(|b| tracked.backend_of(b.port()) == pin.memo.backend)
        .filter(|b| b.port() == receiver)
        .ok_or(Ineligible::LoadBalanced)?;
    if !rule.is_healthy(backend.port()) {
        return Err(Ineligible::BackendDown);
    }
    let translate = hop.addressed && !rule.floating_ip;
    if !translate {
        return Ok((pin, None));
    }
    // The pinned flow's own packets, to the port it was pinned by.
    if pin.reply || pin.memo.original_port != tuple.destination_port || !pin.memo.translated {
        return Err(Ineligible::LoadBalanced);
    }
    let there = Rewrite::Destination {
        address: backend.address,
        port: rule.backend_port_for(pin.memo.original_port),
    };
    Ok((pin, Some(there)))
}

/// A packet of a backend of a frontend that translates: the pin it is
/// found by as its frontend's flow (as a reply, translated back to the
/// frontend; or, behind HA ports, an appliance's leg onward), when the
/// backend has one such frontend (with several, a pin another frontend
/// makes later may claim the same packets) and the packet goes on to
/// `receiver` as that flow's without meeting another frontend. A packet
/// that is no pinned flow's reaches a frontend of its own, or stays.
fn from_backend<O: FlowOwners>(
    snap: &Snapshot,
    tracked: &TrackedFlows<'_, O>,
    sender: PortIdx,
    receiver: PortIdx,
    tuple: FastTuple,
    now_ms: u64,
) -> Result<(FoundPin, Option<Rewrite>), Ineligible> {
    let frontends = &snap.nics[sender].translated_frontends;
    let found = frontends.iter().find_map(|&f| {
        let fe = snap.frontend(f);
        let pin = tracked.pin_of(
            fe,
            tuple.protocol,
            (tuple.source, tuple.source_port),
            (tuple.destination, tuple.destination_port),
            now_ms,
        )?;
        Some((fe, pin))
    });
    let key = tuple.packet_key();
    let Some((fe, pin)) = found else {
        // Not a pinned flow's: only a packet to a frontend of its own
        // (a backend of one load balancer that is another's client).
        return match route_step(snap, sender, &key) {
            Ok(Hop {
                to:
                    HopTo::Frontend {
                        frontend,
                        addressed,
                    },
                ..
            }) => through_frontend(
                snap,
                tracked,
                receiver,
                tuple,
                FrontendHop {
                    frontend,
                    addressed,
                },
                now_ms,
            ),
            _ => Err(Ineligible::LoadBalanced),
        };
    };
    if frontends.len() != 1 {
        return Err(Ineligible::LoadBalanced);
    }
    // A flow kept on a backend that went down stays in the workers both
    // ways, as its packets to the frontend do.
    let rule = fe
        .rule_for(tuple.protocol, Some(pin.memo.original_port))
        .map(|r| &fe.rules[r])
        .ok_or(Ineligible::LoadBalanced)?;
    let pinned = (rule.pool.iter()).find(|b| tracked.backend_of(b.port()) == pin.memo.backend);
    match pinned {
        Some(b) if rule.is_healthy(b.port()) => {}
        Some(_) => return Err(Ineligible::BackendDown),
        None => return Err(Ineligible::LoadBalanced),
    }
    let back = (pin.reply && pin.memo.translated).then_some(Rewrite::Source {
        address: fe.address,
        port: pin.memo.original_port,
    });
    let sent = match back {
        Some(Rewrite::Source { address, port }) => PacketKey {
            src: address,
            src_port: Some(port),
            ..key
        },
        _ => key,
    };
    // Onward to a port, or (a public frontend's reply) to the Internet;
    // never to another frontend.
    match route_step(snap, sender, &sent) {
        Ok(Hop {
            to: HopTo::Nic(_), ..
        }) => {}
        Err(Verdict::Drop {
            reason: DropReason::NextHopInternet,
            ..
        }) if back.is_some() && snap.edge.internet == Some(receiver) => {}
        _ => return Err(Ineligible::LoadBalanced),
    }
    Ok((pin, back))
}

/// Whether the load balancer's pin `pin` (its key, and what it recorded
/// when the entry was installed) still holds at `now_ms`, and will until
/// well after the next reading: its packets would otherwise meet another
/// pin or none in the workers (a flow idle for its rule's timeout is
/// placed anew), so the entry goes first, and the flow's next packet is
/// decided in the workers again.
pub fn pin_holds(flows: &FlowTable, (key, memo): (FlowKey, PinMemo), now_ms: u64) -> bool {
    let Some(flow) = flows.lookup(&key, now_ms) else {
        return false;
    };
    let same = flow
        .memo()
        .as_ref()
        .and_then(PinMemo::from_memo)
        .is_some_and(|m| m == memo);
    let lasts = flow.value().is_some_and(|v| {
        v.last_seen_ms.saturating_add(v.idle_timeout_ms)
            > now_ms + PIN_EXPIRY_MARGIN.as_millis() as u64
    });
    same && lasts
}

/// A pin whose idle timer would run out within this of a reading takes
/// its entries out at that reading: far more than a reading's period, so
/// that no reading comes too late, and far less than any rule's idle
/// timeout (four minutes at least).
pub const PIN_EXPIRY_MARGIN: Duration = Duration::from_secs(10);

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
/// `flows` (by the packet as sent, from either side), of IPv4 TCP, UDP or
/// ICMP echo (its identifier kept: the memo's port on both sides).
pub fn judge_translation(
    plane: &Plane,
    flows: &FlowTable,
    tuple: FastTuple,
    rewrite: Rewrite,
    now_ms: u64,
) -> Result<EdgeRewrite, Ineligible> {
    let carried = matches!(tuple.protocol, IPPROTO_TCP | IPPROTO_UDP | IPPROTO_ICMP);
    let (IpAddr::V4(_), IpAddr::V4(_), true) = (tuple.source, tuple.destination, carried) else {
        return Err(Ineligible::Translated);
    };
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
    match rewrite {
        Rewrite::Source {
            address: IpAddr::V4(address),
            port,
        } if sent.0 == memo.private && (IpAddr::V4(address), port) == memo.public => {
            Some(FastRewrite::Source { address, port })
        }
        Rewrite::Destination {
            address: IpAddr::V4(address),
            port,
        } if sent.1 == memo.public && (IpAddr::V4(address), port) == memo.private => {
            Some(FastRewrite::Destination { address, port })
        }
        _ => None,
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
        // IPv6 stays in userspace.
        let v6 = EdgeMemo {
            private: at("fd00::4", 40000),
            public: at("2001:db8::30", 40000),
        };
        let leave = Rewrite::Source {
            address: v6.public.0,
            port: 40000,
        };
        let remote6 = at("2001:db8:1::10", 7001);
        assert_eq!(edge_rewrite(v6, (v6.private, remote6), leave), None);
    }

    mod balanced {
        use super::super::*;
        use crate::dataplane::conntrack::NicOwners;
        use crate::dataplane::decide;
        use crate::policy::load_balancers::{BackendHealth, ProbeTarget};
        use etherparse::PacketBuilder;

        const HA_NVA: &str = include_str!("../../../../config/ha-nva.yaml");

        fn lab() -> Snapshot {
            let loaded = crate::topology::parse_str("ha-nva.yaml", HA_NVA).unwrap();
            Snapshot::compile(loaded.topology, 1)
        }

        fn table() -> FlowTable {
            FlowTable::new(4096, NicOwners::MAX_OWNERS, 1024)
        }

        fn port(snap: &Snapshot, name: &str) -> PortIdx {
            snap.plan.port_by_name(name).unwrap()
        }

        fn tcp(src: ([u8; 4], u16), dst: ([u8; 4], u16), syn: bool) -> Vec<u8> {
            let b = PacketBuilder::ipv4(src.0, dst.0, 64).tcp(src.1, dst.1, 1, 1024);
            let b = if syn { b.syn() } else { b.ack(1) };
            let mut out = Vec::new();
            b.write(&mut out, b"data").unwrap();
            out
        }

        fn udp(src: ([u8; 4], u16), dst: ([u8; 4], u16)) -> Vec<u8> {
            let mut out = Vec::new();
            PacketBuilder::ipv4(src.0, dst.0, 64)
                .udp(src.1, dst.1)
                .write(&mut out, b"datagram")
                .unwrap();
            out
        }

        fn tuple_of(packet: &[u8]) -> FastTuple {
            let view = crate::dataplane::PacketView::parse(packet).unwrap();
            FastTuple {
                protocol: view.key.proto,
                source: view.key.src,
                destination: view.key.dst,
                source_port: view.flow_ports.0,
                destination_port: view.flow_ports.1,
            }
        }

        /// The decision of `packet` from `sender` (recorded in `flows`),
        /// and what the offload judges of the direction as the workers
        /// delivered it.
        fn offer(
            snap: &Snapshot,
            flows: &FlowTable,
            sender: PortIdx,
            packet: &[u8],
        ) -> (Verdict, Result<PinnedRewrite, Ineligible>) {
            let verdict = decide(snap, flows, sender, packet, 10);
            let (receiver, rewrite) = match verdict {
                Verdict::Deliver(to) => (to, None),
                Verdict::Translate { nic, rewrite } => (nic, Some(rewrite)),
                Verdict::Drop { .. } => panic!("dropped: {verdict:?}"),
            };
            let tuple = tuple_of(packet);
            let tracked = TrackedFlows {
                table: flows,
                owners: NicOwners,
            };
            let balancing = balancing(snap, sender, &tuple.packet_key()).unwrap();
            let judged = balanced_rewrite(
                snap,
                &tracked,
                (sender, receiver),
                tuple,
                balancing,
                rewrite,
                10,
            );
            (verdict, judged)
        }

        /// The kernel's rewrite of `verdict`'s, as the workers made it.
        fn kernel(verdict: Verdict) -> Option<FastRewrite> {
            match verdict {
                Verdict::Translate {
                    rewrite:
                        Rewrite::Destination {
                            address: IpAddr::V4(address),
                            port,
                        },
                    ..
                } => Some(FastRewrite::Destination { address, port }),
                Verdict::Translate {
                    rewrite:
                        Rewrite::Source {
                            address: IpAddr::V4(address),
                            port,
                        },
                    ..
                } => Some(FastRewrite::Source { address, port }),
                _ => None,
            }
        }

        const VM1: [u8; 4] = [10, 1, 1, 4];
        const VM2: [u8; 4] = [10, 2, 1, 4];
        const WEB_FE: [u8; 4] = [10, 0, 2, 100];

        #[test]
        fn a_frontends_flow_is_carried_as_its_pin_translates_it_both_ways() {
            let snap = lab();
            let flows = table();
            let vm1 = port(&snap, "vm1");
            decide(
                &snap,
                &flows,
                vm1,
                &tcp((VM1, 40000), (WEB_FE, 80), true),
                0,
            );
            let (verdict, judged) =
                offer(&snap, &flows, vm1, &tcp((VM1, 40000), (WEB_FE, 80), false));
            let Verdict::Translate { nic: web, .. } = verdict else {
                panic!("{verdict:?}");
            };
            let verdict_there = verdict;
            let judged = judged.unwrap();
            assert!(matches!(
                judged.rewrite,
                Some(FastRewrite::Destination { port: 80, .. })
            ));
            assert_eq!(judged.rewrite, kernel(verdict));
            assert!(pin_holds(&flows, (judged.pin, judged.memo), 10));
            // The backend's answer leaves as the frontend's.
            let address = match snap.nics[web].addresses.first() {
                Some(IpAddr::V4(a)) => a.octets(),
                other => panic!("{other:?}"),
            };
            let (verdict, judged) = judged_reply(&snap, &flows, web, address);
            let judged = judged.unwrap();
            assert_eq!(
                judged.rewrite,
                Some(FastRewrite::Source {
                    address: WEB_FE.into(),
                    port: 80
                })
            );
            assert_eq!(judged.rewrite, kernel(verdict));
            // Another rewrite than the pin's is not the workers'.
            let tuple = tuple_of(&tcp((VM1, 40000), (WEB_FE, 80), false));
            let tracked = TrackedFlows {
                table: &flows,
                owners: NicOwners,
            };
            let other = snap
                .plan
                .ports
                .iter_enumerated()
                .map(|(i, _)| i)
                .find(|&p| p != web && snap.plan.ports[p].name.starts_with("web"))
                .unwrap();
            let wrong = Rewrite::Destination {
                address: snap.nics[other].addresses[0],
                port: 80,
            };
            let hop = balancing(&snap, vm1, &tuple.packet_key()).unwrap();
            let Verdict::Translate { rewrite: mine, .. } = verdict_there else {
                panic!("{verdict_there:?}");
            };
            assert_eq!(
                balanced_rewrite(&snap, &tracked, (vm1, other), tuple, hop, Some(wrong), 10),
                Err(Ineligible::LoadBalanced)
            );
            // Without its pin (a table that holds none), it stays.
            let empty = table();
            let tracked = TrackedFlows {
                table: &empty,
                owners: NicOwners,
            };
            assert_eq!(
                balanced_rewrite(&snap, &tracked, (vm1, web), tuple, hop, Some(mine), 10),
                Err(Ineligible::Unpinned)
            );
        }

        fn judged_reply(
            snap: &Snapshot,
            flows: &FlowTable,
            web: PortIdx,
            address: [u8; 4],
        ) -> (Verdict, Result<PinnedRewrite, Ineligible>) {
            offer(snap, flows, web, &tcp((address, 80), (VM1, 40000), false))
        }

        #[test]
        fn a_flow_kept_on_a_backend_gone_down_stays_and_a_new_one_is_carried_to_another() {
            let snap = lab();
            let flows = table();
            let vm1 = port(&snap, "vm1");
            decide(
                &snap,
                &flows,
                vm1,
                &tcp((VM1, 40001), (WEB_FE, 80), true),
                0,
            );
            let (verdict, _) = offer(&snap, &flows, vm1, &tcp((VM1, 40001), (WEB_FE, 80), false));
            let Verdict::Translate { nic: web, .. } = verdict else {
                panic!("{verdict:?}");
            };
            let mut health = BackendHealth::default();
            health.set(
                ProbeTarget {
                    load_balancer: "web-ilb".into(),
                    probe: "http".into(),
                    nic: snap.plan.ports[web].name.clone(),
                },
                false,
            );
            let down = Snapshot::rehealthed(&snap, health, 2);
            // The established connection stays on its backend, in the
            // workers.
            let (verdict, judged) =
                offer(&down, &flows, vm1, &tcp((VM1, 40001), (WEB_FE, 80), false));
            assert!(matches!(verdict, Verdict::Translate { nic, .. } if nic == web));
            assert_eq!(judged, Err(Ineligible::BackendDown));
            // Its backend's answers too, translated back in the workers.
            let address = match down.nics[web].addresses.first() {
                Some(IpAddr::V4(a)) => a.octets(),
                other => panic!("{other:?}"),
            };
            let answer = tcp((address, 80), (VM1, 40001), false);
            let (verdict, judged) = offer(&down, &flows, web, &answer);
            assert!(matches!(verdict, Verdict::Translate { nic, .. } if nic == vm1));
            assert_eq!(judged, Err(Ineligible::BackendDown));
            // A new connection goes to the other backend, and is carried.
            for source_port in 41000..41010 {
                decide(
                    &down,
                    &flows,
                    vm1,
                    &tcp((VM1, source_port), (WEB_FE, 80), true),
                    0,
                );
                let (verdict, judged) = offer(
                    &down,
                    &flows,
                    vm1,
                    &tcp((VM1, source_port), (WEB_FE, 80), false),
                );
                assert!(matches!(verdict, Verdict::Translate { nic, .. } if nic != web));
                assert_eq!(judged.unwrap().rewrite, kernel(verdict));
            }
        }

        #[test]
        fn ha_ports_carry_each_leg_unchanged_on_the_pinned_appliance() {
            let snap = lab();
            let flows = table();
            let (vm1, vm2) = (port(&snap, "vm1"), port(&snap, "vm2"));
            let out = udp((VM1, 5000), (VM2, 6000));
            decide(&snap, &flows, vm1, &out, 0);
            let (verdict, judged) = offer(&snap, &flows, vm1, &out);
            let Verdict::Deliver(nva) = verdict else {
                panic!("{verdict:?}");
            };
            assert_eq!(judged.unwrap().rewrite, None);
            // The appliance's leg onward, and vm2's answer back to it.
            let (verdict, judged) = offer(&snap, &flows, nva, &out);
            assert_eq!(verdict, Verdict::Deliver(vm2));
            assert_eq!(judged.unwrap().rewrite, None);
            let back = udp((VM2, 6000), (VM1, 5000));
            let (verdict, judged) = offer(&snap, &flows, vm2, &back);
            assert_eq!(verdict, Verdict::Deliver(nva));
            let judged = judged.unwrap();
            assert_eq!(judged.rewrite, None);
            assert!(pin_holds(&flows, (judged.pin, judged.memo), 10));
        }

        #[test]
        fn a_pin_holds_until_shortly_before_it_would_expire_and_while_it_records_the_same() {
            let snap = lab();
            let flows = table();
            let vm1 = port(&snap, "vm1");
            decide(
                &snap,
                &flows,
                vm1,
                &tcp((VM1, 40002), (WEB_FE, 80), true),
                0,
            );
            let (_, judged) = offer(&snap, &flows, vm1, &tcp((VM1, 40002), (WEB_FE, 80), false));
            let judged = judged.unwrap();
            let pin = (judged.pin, judged.memo);
            let idle = 4 * 60 * 1000;
            let margin = PIN_EXPIRY_MARGIN.as_millis() as u64;
            assert!(pin_holds(&flows, pin, 10 + idle - margin - 1));
            assert!(!pin_holds(&flows, pin, 10 + idle - margin));
            let moved = PinMemo {
                backend: judged.memo.backend + 1,
                ..judged.memo
            };
            assert!(!pin_holds(&flows, (judged.pin, moved), 10));
        }
    }
}
