//! Whether a load-balanced direction may leave userspace, and what its
//! kernel entry then does: the rewrite the workers made of its packets, as
//! the load balancer's own pin of the flow gives it (Azure's Standard load
//! balancer: a flow stays on the backend it was placed on; its replies
//! leave as the frontend), and the pin the entry keeps alive and goes
//! with.
//!
//! The workers place a flow through a frontend on a backend and record it
//! in a pin (`crate::dataplane::conntrack`); later packets follow the pin
//! while the backend is in the rule's pool and up (an established TCP
//! connection stays on a backend gone down), with the destination
//! translated to the backend unless the rule has floating IP or the
//! frontend is a route's next hop (HA ports); a backend's replies are
//! found by the pin and translated back to the frontend. Every change of
//! pools or health is a new plane, whose generation already takes the
//! flow back to the workers: what may change within a plane is the pin
//! itself, which each reading of the kernel's counters checks
//! ([`pin_holds`]).

use super::eligibility::{kernel_rewrite, Balancing, Ineligible};
use super::request::FastTuple;
use crate::daemon::forwarding::plane::Plane;
use crate::dataplane::conntrack::{FlowOwners, FoundPin, PinMemo, TrackedFlows};
use crate::dataplane::nat::Rewrite;
use crate::dataplane::{route_step, DropReason, FrontendHop, Hop, HopTo, Verdict};
use crate::engine::flow_table::{FlowKey, FlowTable};
use crate::host::fabric::FastRewrite;
use crate::net::{PacketKey, IPPROTO_TCP, IPPROTO_UDP};
use crate::plan::PortIdx;
use crate::snapshot::{FrontendTables, Snapshot};
use std::time::Duration;

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
    let judged = Judged {
        snap,
        tracked,
        sender,
        receiver,
        tuple,
        now_ms,
    };
    let (pin, expected) = match balancing {
        Balancing::None => return Err(Ineligible::LoadBalanced),
        Balancing::Frontend(hop) => judged.through_frontend(hop)?,
        Balancing::FromBackend => judged.sent_by_backend()?,
    };
    if rewrite != expected {
        return Err(Ineligible::LoadBalanced);
    }
    let rewrite = expected.map(kernel_rewrite);
    Ok(PinnedRewrite {
        rewrite,
        pin: pin.key,
        memo: pin.memo,
    })
}

/// One load-balanced direction under judgement: the tuple as sent from
/// `sender`, delivered to `receiver`, read against one snapshot and its
/// pins at `now_ms`.
struct Judged<'a, 'f, O: FlowOwners> {
    snap: &'a Snapshot,
    tracked: &'a TrackedFlows<'f, O>,
    sender: PortIdx,
    receiver: PortIdx,
    tuple: FastTuple,
    now_ms: u64,
}

impl<O: FlowOwners> Judged<'_, '_, O> {
    /// A packet that reached frontend `hop`: its pin, which must name
    /// `receiver`, a backend of the rule that carries it and up, and the
    /// rewrite the workers make of it.
    fn through_frontend(
        &self,
        hop: FrontendHop,
    ) -> Result<(FoundPin, Option<Rewrite>), Ineligible> {
        let Self {
            snap,
            tracked,
            receiver,
            tuple,
            ..
        } = *self;
        let fe = snap.frontend(hop.frontend);
        let rule = match hop.addressed {
            true => fe.rule_for(tuple.protocol, Some(tuple.destination_port)),
            false => fe.next_hop_rule(tuple.protocol),
        };
        let rule = rule.map(|r| &fe.rules[r]).ok_or(Ineligible::LoadBalanced)?;
        let pin = self.pin_of(fe).ok_or(Ineligible::Unpinned)?;
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

    /// The pin of frontend `fe` that the packets of `tuple` are found by.
    fn pin_of(&self, fe: &FrontendTables) -> Option<FoundPin> {
        let tuple = self.tuple;
        self.tracked.pin_of(
            fe,
            tuple.protocol,
            (tuple.source, tuple.source_port),
            (tuple.destination, tuple.destination_port),
            self.now_ms,
        )
    }

    /// A packet of a backend of a frontend that translates: the pin it is
    /// found by as its frontend's flow (as a reply, translated back to the
    /// frontend; or, behind HA ports, an appliance's leg onward), when the
    /// backend has one such frontend (with several, a pin another frontend
    /// makes later may claim the same packets) and the packet goes on to
    /// `receiver` as that flow's without meeting another frontend. A packet
    /// that is no pinned flow's reaches a frontend of its own, or stays.
    fn sent_by_backend(&self) -> Result<(FoundPin, Option<Rewrite>), Ineligible> {
        let Self {
            snap,
            tracked,
            sender,
            receiver,
            tuple,
            ..
        } = *self;
        // The frontends of the packet's family: a pin of the other
        // family's can never claim its 5-tuple.
        let frontends = || {
            (snap.nics[sender].translated_frontends.iter())
                .map(|&f| snap.frontend(f))
                .filter(|fe| fe.address.is_ipv4() == tuple.source.is_ipv4())
        };
        let found = frontends().find_map(|fe| Some((fe, self.pin_of(fe)?)));
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
                }) => self.through_frontend(FrontendHop {
                    frontend,
                    addressed,
                }),
                _ => Err(Ineligible::LoadBalanced),
            };
        };
        if frontends().count() != 1 {
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

#[cfg(test)]
mod tests {
    use super::super::eligibility::balancing;
    use super::*;
    use crate::dataplane::conntrack::NicOwners;
    use crate::dataplane::decide;
    use crate::policy::load_balancers::{BackendHealth, ProbeTarget};
    use etherparse::PacketBuilder;
    use std::net::IpAddr;

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

    /// The first address of NIC `nic`, which must be IPv4.
    fn v4_of(snap: &Snapshot, nic: PortIdx) -> [u8; 4] {
        match snap.nics[nic].addresses.first() {
            Some(IpAddr::V4(a)) => a.octets(),
            other => panic!("{other:?}"),
        }
    }

    /// The flows of `table`, each NIC its own owner.
    fn tracked_flows(table: &FlowTable) -> TrackedFlows<'_, NicOwners> {
        TrackedFlows {
            table,
            owners: NicOwners,
        }
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
        FastTuple::of_view(&crate::dataplane::PacketView::parse(packet).unwrap())
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
        let tracked = tracked_flows(flows);
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

    /// vm1's connection from `source_port` to the frontend: its SYN
    /// decided, then its first ACK offered to the kernel's path.
    fn connect_to_frontend(
        snap: &Snapshot,
        flows: &FlowTable,
        vm1: PortIdx,
        source_port: u16,
    ) -> (Verdict, Result<PinnedRewrite, Ineligible>) {
        decide(
            snap,
            flows,
            vm1,
            &tcp((VM1, source_port), (WEB_FE, 80), true),
            0,
        );
        offer(
            snap,
            flows,
            vm1,
            &tcp((VM1, source_port), (WEB_FE, 80), false),
        )
    }

    /// The kernel's rewrite of `verdict`'s, as the workers made it.
    fn kernel(verdict: Verdict) -> Option<FastRewrite> {
        match verdict {
            Verdict::Translate { rewrite, .. } => Some(kernel_rewrite(rewrite)),
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
        let (verdict, judged) = connect_to_frontend(&snap, &flows, vm1, 40000);
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
        let address = v4_of(&snap, web);
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
        let tracked = tracked_flows(&flows);
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
        let tracked = tracked_flows(&empty);
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
        let (verdict, _) = connect_to_frontend(&snap, &flows, vm1, 40001);
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
        let (verdict, judged) = offer(&down, &flows, vm1, &tcp((VM1, 40001), (WEB_FE, 80), false));
        assert!(matches!(verdict, Verdict::Translate { nic, .. } if nic == web));
        assert_eq!(judged, Err(Ineligible::BackendDown));
        // Its backend's answers too, translated back in the workers.
        let address = v4_of(&down, web);
        let answer = tcp((address, 80), (VM1, 40001), false);
        let (verdict, judged) = offer(&down, &flows, web, &answer);
        assert!(matches!(verdict, Verdict::Translate { nic, .. } if nic == vm1));
        assert_eq!(judged, Err(Ineligible::BackendDown));
        // A new connection goes to the other backend, and is carried.
        for source_port in 41000..41010 {
            let (verdict, judged) = connect_to_frontend(&down, &flows, vm1, source_port);
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
        let (_, judged) = connect_to_frontend(&snap, &flows, vm1, 40002);
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
