//! What the workers ask of the offload thread, and the names it finds the
//! kernel's entries by: a packet's flow as the fast path keys it
//! ([`FastTuple`]), what a delivered packet asks ([`Ask`]), the way it
//! took ([`Leg`]: between two ports of the fabric, into the tunnel to
//! another machine, or from it), and the request a worker sends without
//! waiting ([`OffloadRequests`]).

use super::doorbell::Doorbell;
use crate::daemon::forwarding::plane::FastPort;
use crate::daemon::forwarding::port_id::PortId;
use crate::dataplane::conntrack::direction_code;
use crate::dataplane::nat::Rewrite;
use crate::dataplane::packet::{TCP_FIN, TCP_RST, TCP_SYN};
use crate::dataplane::PacketView;
use crate::engine::flow_table::FlowKey;
use crate::host::fabric::{ArrivalKey, FastKey};
use crate::net::{PacketKey, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP};
use crate::plan::wire::port_mac;
use crate::plan::{Plan, PortIdx};
use crate::topology::Direction;
use crossbeam_channel::{Sender, TrySendError};
use std::cell::Cell;
use std::net::IpAddr;
use std::sync::Arc;

/// Where the kernel holds an installed direction: which map, under which
/// key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKey {
    /// In `flows`: to another port of the fabric.
    Fabric(FastKey),
    /// In `to_tunnel`: into the tunnel, to a port on another machine.
    Tunnel(FastKey),
    /// In `arrivals`: from another machine, to a port of the fabric.
    Arrival(ArrivalKey),
}

/// A packet's flow as the fast path keys it, when the packet may be
/// offloaded: TCP without SYN, FIN or RST, or UDP, not a fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FastTuple {
    pub protocol: u8,
    pub source: IpAddr,
    pub destination: IpAddr,
    pub source_port: u16,
    pub destination_port: u16,
}

/// What a delivered packet asks of the fast path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// Offload its flow's direction (TCP without SYN, FIN or RST, or UDP).
    Install(FastTuple),
    /// Its TCP connection is ending (FIN or RST): take the flow's entries
    /// out, so that short connections do not fill the table while they
    /// idle out; the last packets take the userspace path.
    Remove(FastTuple),
}

impl Ask {
    /// What `view` asks, if anything (fragments never ask).
    #[inline]
    pub fn of(view: &PacketView) -> Option<Ask> {
        if view.fragment.is_some() {
            return None;
        }
        let tuple = FastTuple::of_view(view);
        match view.key.proto {
            IPPROTO_UDP => Some(Ask::Install(tuple)),
            IPPROTO_TCP if view.tcp_flags & (TCP_FIN | TCP_RST) != 0 => Some(Ask::Remove(tuple)),
            IPPROTO_TCP if view.tcp_flags & TCP_SYN == 0 => Some(Ask::Install(tuple)),
            _ => None,
        }
    }

    /// What an ICMP echo `view` of either family asks when it is
    /// translated (the edge translates its address and keeps its
    /// identifier, which the fast path keys it by): what [`Ask::of`] does
    /// not ask, a translated packet may.
    #[inline]
    pub fn of_echo(view: &PacketView) -> Option<Ask> {
        let icmp = match view.key.proto {
            IPPROTO_ICMP => view.key.src.is_ipv4(),
            IPPROTO_ICMPV6 => view.key.src.is_ipv6(),
            _ => false,
        };
        if !icmp || view.fragment.is_some() {
            return None;
        }
        Some(Ask::Install(FastTuple::of_view(view)))
    }
}

impl FastTuple {
    /// The tuple of the packet `view`, its ports as it carries them.
    #[inline]
    pub fn of_view(view: &PacketView) -> FastTuple {
        FastTuple {
            protocol: view.key.proto,
            source: view.key.src,
            destination: view.key.dst,
            source_port: view.flow_ports.0,
            destination_port: view.flow_ports.1,
        }
    }

    /// The tuple of a tracked TCP, UDP or ICMP flow, keyed `key` (an ICMP
    /// echo by its identifier both ways).
    pub fn of_key(key: &FlowKey) -> Option<FastTuple> {
        let carried = match key.proto {
            IPPROTO_TCP | IPPROTO_UDP => true,
            IPPROTO_ICMP => !key.v6,
            IPPROTO_ICMPV6 => key.v6,
            _ => false,
        };
        carried.then(|| FastTuple {
            protocol: key.proto,
            source: key.src_ip(),
            destination: key.dst_ip(),
            source_port: key.src_port,
            destination_port: key.dst_port,
        })
    }

    /// The tuple as the decision reads a packet's key.
    pub fn packet_key(self) -> PacketKey {
        PacketKey {
            proto: self.protocol,
            src: self.source,
            dst: self.destination,
            src_port: Some(self.source_port),
            dst_port: Some(self.destination_port),
        }
    }

    /// The fast path's key of this direction arriving at `host_end`.
    pub(super) fn key_at(self, host_end: u32) -> FastKey {
        FastKey {
            ingress: host_end,
            protocol: self.protocol,
            source: self.source,
            destination: self.destination,
            source_port: self.source_port,
            destination_port: self.destination_port,
        }
    }

    /// The fast path's key of this direction arriving from another machine
    /// for the port named `wire` there.
    pub(super) fn arrival_at(self, wire: Wire) -> ArrivalKey {
        ArrivalKey {
            vni: wire.vni,
            mac: wire.mac,
            protocol: self.protocol,
            source: self.source,
            destination: self.destination,
            source_port: self.source_port,
            destination_port: self.destination_port,
        }
    }

    /// The tuple as it arrives after `rewrite` (itself without one).
    pub fn rewritten(self, rewrite: Option<Rewrite>) -> FastTuple {
        match rewrite {
            None => self,
            Some(Rewrite::Source { address, port }) => FastTuple {
                source: address,
                source_port: port,
                ..self
            },
            Some(Rewrite::Destination { address, port }) => FastTuple {
                destination: address,
                destination_port: port,
                ..self
            },
        }
    }

    pub(super) fn reversed(self) -> FastTuple {
        FastTuple {
            source: self.destination,
            destination: self.source,
            source_port: self.destination_port,
            destination_port: self.source_port,
            ..self
        }
    }

    /// One name for both directions of a flow.
    pub(super) fn canonical(self) -> FastTuple {
        let reversed = self.reversed();
        let order = |t: &FastTuple| (t.source, t.source_port, t.destination, t.destination_port);
        if order(&reversed) < order(&self) {
            reversed
        } else {
            self
        }
    }

    pub(super) fn flow_key(self, port: PortId, direction: Direction) -> Option<FlowKey> {
        FlowKey::from_ips(
            port.owner(),
            direction_code(direction),
            self.protocol,
            self.source,
            self.destination,
            self.source_port,
            self.destination_port,
        )
    }
}

/// A port's name between machines: the VNI its VNet travels with and the
/// MAC frames for it are addressed to (see [`crate::plan::wire`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Wire {
    pub vni: u32,
    pub mac: [u8; 6],
}

impl Wire {
    /// The name of `port` of `plan` between machines.
    #[inline]
    pub fn of(plan: &Plan, port: PortIdx) -> Wire {
        Wire {
            vni: plan.port_vni(port),
            mac: port_mac(port),
        }
    }
}

/// The way a delivered packet took, as the fast path would carry its
/// flow's direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leg {
    /// From a port of the fabric to another (an entry of `flows`).
    Local { from: FastPort, to: FastPort },
    /// From a port of the fabric into the tunnel, to a port on another
    /// machine (an entry of `to_tunnel`); `from` is named `wire` between
    /// machines, and its replies arrive so.
    Out { from: FastPort, wire: Wire },
    /// From another machine through the tunnel to a port of the fabric
    /// named `wire` between machines (an entry of `arrivals`).
    In { to: FastPort, wire: Wire },
}

impl Leg {
    /// The port of the fabric the leg delivers to, if it ends on this
    /// machine.
    pub fn receiver_here(&self) -> Option<FastPort> {
        match *self {
            Leg::Local { to, .. } | Leg::In { to, .. } => Some(to),
            Leg::Out { .. } => None,
        }
    }

    /// The fabric's indexes of the leg's ports on this machine, whose
    /// generations its entries must not be older than (one port twice for
    /// a leg to or from another machine).
    pub fn fabric_ports(&self) -> [u32; 2] {
        match *self {
            Leg::Local { from, to } => [from.index, to.index],
            Leg::Out { from, .. } => [from.index; 2],
            Leg::In { to, .. } => [to.index; 2],
        }
    }

    /// Where the kernel holds the entry of direction `tuple` on this leg.
    pub fn key(&self, tuple: FastTuple) -> EntryKey {
        match *self {
            Leg::Local { from, .. } => EntryKey::Fabric(tuple.key_at(from.host_end)),
            Leg::Out { from, .. } => EntryKey::Tunnel(tuple.key_at(from.host_end)),
            Leg::In { wire, .. } => EntryKey::Arrival(tuple.arrival_at(wire)),
        }
    }

    /// Where the kernel holds the entry of the replies to direction
    /// `tuple`: the same leg, the other way.
    pub fn reverse_key(&self, tuple: FastTuple) -> EntryKey {
        let back = tuple.reversed();
        match *self {
            Leg::Local { to, .. } => EntryKey::Fabric(back.key_at(to.host_end)),
            Leg::Out { wire, .. } => EntryKey::Arrival(back.arrival_at(wire)),
            Leg::In { to, .. } => EntryKey::Tunnel(back.key_at(to.host_end)),
        }
    }
}

/// What a worker asks: offload one direction of a delivered flow.
#[derive(Debug, Clone, Copy)]
pub struct OffloadRequest {
    /// The plane generation the packet was decided under.
    pub generation: u64,
    /// The sending port: [`PortId::NONE`] for a packet from another
    /// machine, whose sender is counted there.
    pub ingress: PortId,
    pub egress: PortId,
    /// The same ports as that plane indexes its NICs (for a packet from
    /// another machine, `ingress_nic` is the receiver too).
    pub ingress_nic: PortIdx,
    pub egress_nic: PortIdx,
    pub ask: Ask,
    pub leg: Leg,
    /// The address translation the packet met on the way (the Internet
    /// edge's, or a load balancer's), if any.
    pub rewrite: Option<Rewrite>,
}

impl OffloadRequest {
    /// Where the kernel holds the entries of both directions of `tuple`'s
    /// flow on the request's leg: the direction as sent, and its replies
    /// as they come back (to the translated addresses, if it is
    /// translated).
    pub fn keys(&self, tuple: FastTuple) -> [EntryKey; 2] {
        [
            self.leg.key(tuple),
            self.leg.reverse_key(tuple.rewritten(self.rewrite)),
        ]
    }

    /// The port of this machine the entry is charged to (against its share
    /// of the cap) and judged for: the sender, or for a packet from another
    /// machine, the receiver.
    pub fn local_port(&self) -> PortId {
        match self.leg {
            Leg::In { .. } => self.egress,
            Leg::Local { .. } | Leg::Out { .. } => self.ingress,
        }
    }
}

/// Slots of a worker's [`AskThrottle`] (a power of two).
const THROTTLE_SLOTS: usize = 4096;

/// How often a worker asks for one flow direction: at its 1st, 2nd, 4th,
/// 8th, ... packet under a plane, so that a direction that stays in
/// userspace (judged so once by the offload thread: a load-balanced or
/// shaped path, a full table) costs the channel a few requests rather than
/// one a packet, while one that may leave is asked for at once. Direct
/// mapped by the direction's hash, filled once at the worker's start: a
/// collision only starts a count afresh (an ask sooner).
#[derive(Debug)]
pub struct AskThrottle {
    slots: Box<[Cell<Asked>]>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Asked {
    hash: u64,
    generation: u64,
    packets: u32,
}

impl Default for AskThrottle {
    fn default() -> Self {
        AskThrottle {
            slots: vec![Cell::new(Asked::default()); THROTTLE_SLOTS].into_boxed_slice(),
        }
    }
}

impl AskThrottle {
    /// Whether the packet of direction `tuple` from port `nic` under plane
    /// `generation` should ask: its direction's count is a power of two.
    #[inline]
    pub fn due(&self, nic: usize, tuple: &FastTuple, generation: u64) -> bool {
        let hash = tuple.mixed(nic);
        let slot = &self.slots[(hash as usize) & (THROTTLE_SLOTS - 1)];
        let mut asked = slot.get();
        if asked.hash != hash || asked.generation != generation {
            asked = Asked {
                hash,
                generation,
                packets: 0,
            };
        }
        asked.packets = asked.packets.saturating_add(1);
        slot.set(asked);
        asked.packets.is_power_of_two()
    }
}

impl FastTuple {
    /// A cheap 64-bit mix of the direction and the port it leaves (not a
    /// hash anyone can be made to collide on purpose: a collision only
    /// makes a worker ask sooner).
    fn mixed(&self, nic: usize) -> u64 {
        let address = |a: IpAddr| match a {
            IpAddr::V4(v4) => u128::from(u32::from(v4)),
            IpAddr::V6(v6) => u128::from(v6),
        };
        let fold = |v: u128| (v as u64) ^ ((v >> 64) as u64);
        let mut h = (nic as u64) ^ (u64::from(self.protocol) << 56);
        for part in [
            fold(address(self.source)),
            fold(address(self.destination)),
            (u64::from(self.source_port) << 16) | u64::from(self.destination_port),
        ] {
            h = (h ^ part).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            h ^= h >> 29;
        }
        h
    }
}

/// A worker's end of the request channel.
#[derive(Debug, Clone)]
pub struct OffloadRequests {
    pub(super) sender: Sender<OffloadRequest>,
    pub(super) doorbell: Arc<Doorbell>,
}

impl OffloadRequests {
    /// Asks for `request`, without waiting: a full queue drops it. A
    /// request queued while the offload thread sleeps after a quiet spell
    /// wakes it (its `Doorbell`).
    #[inline]
    pub fn ask(&self, request: OffloadRequest) {
        match self.sender.try_send(request) {
            Ok(()) => self.doorbell.ring(),
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn tcp(
        flags: fn(
            etherparse::PacketBuilderStep<etherparse::TcpHeader>,
        ) -> etherparse::PacketBuilderStep<etherparse::TcpHeader>,
    ) -> Vec<u8> {
        let builder =
            flags(PacketBuilder::ipv4([10, 1, 1, 4], [10, 0, 2, 4], 64).tcp(40000, 5201, 1, 65535));
        let mut out = Vec::new();
        builder.write(&mut out, b"data").unwrap();
        out
    }

    fn ask(packet: &[u8]) -> Option<Ask> {
        Ask::of(&PacketView::parse(packet).unwrap())
    }

    fn tuple(protocol: u8) -> FastTuple {
        FastTuple {
            protocol,
            source: "10.1.1.4".parse().unwrap(),
            destination: "10.0.2.4".parse().unwrap(),
            source_port: 40000,
            destination_port: 5201,
        }
    }

    #[test]
    fn only_established_tcp_and_udp_ask_to_be_carried_and_fin_or_rst_end_it() {
        assert_eq!(ask(&tcp(|b| b.syn())), None);
        assert_eq!(ask(&tcp(|b| b.syn().ack(1))), None);
        assert_eq!(
            ask(&tcp(|b| b.ack(1))),
            Some(Ask::Install(tuple(IPPROTO_TCP)))
        );
        assert_eq!(
            ask(&tcp(|b| b.ack(1).psh())),
            Some(Ask::Install(tuple(IPPROTO_TCP)))
        );
        assert_eq!(
            ask(&tcp(|b| b.ack(1).fin())),
            Some(Ask::Remove(tuple(IPPROTO_TCP)))
        );
        assert_eq!(
            ask(&tcp(|b| b.rst())),
            Some(Ask::Remove(tuple(IPPROTO_TCP)))
        );
        let mut udp = Vec::new();
        PacketBuilder::ipv4([10, 1, 1, 4], [10, 0, 2, 4], 64)
            .udp(40000, 5201)
            .write(&mut udp, b"datagram")
            .unwrap();
        assert_eq!(ask(&udp), Some(Ask::Install(tuple(IPPROTO_UDP))));
        let mut icmp = Vec::new();
        PacketBuilder::ipv4([10, 1, 1, 4], [10, 0, 2, 4], 64)
            .icmpv4_echo_request(1, 1)
            .write(&mut icmp, b"ping")
            .unwrap();
        assert_eq!(ask(&icmp), None);
        // Translated, an ICMPv4 echo asks too, by its identifier both ways.
        let translated = Ask::of_echo(&PacketView::parse(&icmp).unwrap());
        assert_eq!(
            translated,
            Some(Ask::Install(FastTuple {
                protocol: crate::net::IPPROTO_ICMP,
                source_port: 1,
                destination_port: 1,
                ..tuple(IPPROTO_UDP)
            }))
        );
        assert_eq!(Ask::of_echo(&PacketView::parse(&udp).unwrap()), None);
        // An ICMPv6 echo, the same.
        let mut icmp6 = Vec::new();
        let (from6, to6) = (
            [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4],
            [0x20; 16],
        );
        PacketBuilder::ipv6(from6, to6, 64)
            .icmpv6_echo_request(7, 1)
            .write(&mut icmp6, b"ping")
            .unwrap();
        assert_eq!(ask(&icmp6), None);
        assert_eq!(
            Ask::of_echo(&PacketView::parse(&icmp6).unwrap()),
            Some(Ask::Install(FastTuple {
                protocol: IPPROTO_ICMPV6,
                source: from6.into(),
                destination: to6.into(),
                source_port: 7,
                destination_port: 7,
            }))
        );
        // A first fragment (more fragments set) never asks.
        let mut fragment = udp.clone();
        fragment[6] |= 0x20;
        let header = etherparse::Ipv4HeaderSlice::from_slice(&fragment)
            .unwrap()
            .to_header();
        let checksum = header.calc_header_checksum();
        fragment[10..12].copy_from_slice(&checksum.to_be_bytes());
        assert_eq!(ask(&fragment), None);
    }

    #[test]
    fn a_direction_asks_at_its_first_second_fourth_and_eighth_packet_under_a_plane() {
        let throttle = AskThrottle::default();
        let forward = tuple(IPPROTO_TCP);
        let asks = |generation| -> Vec<u32> {
            (1..=20)
                .filter(|_| throttle.due(3, &forward, generation))
                .collect()
        };
        assert_eq!(asks(1), vec![1, 2, 4, 8, 16]);
        // Counting on: of the 21st to 40th packets, the 32nd only.
        assert_eq!(asks(1), vec![12]);
        // A new plane counts afresh.
        assert_eq!(asks(2), vec![1, 2, 4, 8, 16]);
        // Another direction, or the same from another port, counts apart.
        assert!(throttle.due(3, &forward.reversed(), 2));
        assert!(throttle.due(4, &forward, 2));
    }

    #[test]
    fn each_leg_keys_a_direction_and_its_replies_in_the_map_that_carries_them() {
        let forward = tuple(IPPROTO_TCP);
        let (vm1, shared1) = (
            FastPort {
                host_end: 7,
                mac: [2, 0, 0, 0, 0, 7],
                tun: 8,
                index: 0,
            },
            FastPort {
                host_end: 9,
                mac: [2, 0, 0, 0, 0, 9],
                tun: 10,
                index: 1,
            },
        );
        let wire = Wire {
            vni: 2,
            mac: [2, 0x56, 0x58, 0, 0, 2],
        };
        let local = Leg::Local {
            from: vm1,
            to: shared1,
        };
        assert_eq!(local.key(forward), EntryKey::Fabric(forward.key_at(7)));
        assert_eq!(
            local.reverse_key(forward),
            EntryKey::Fabric(forward.reversed().key_at(9))
        );
        // Out of vm1 to another machine: its replies arrive for vm1's name.
        let out = Leg::Out { from: vm1, wire };
        assert_eq!(out.key(forward), EntryKey::Tunnel(forward.key_at(7)));
        let EntryKey::Arrival(reply) = out.reverse_key(forward) else {
            panic!("the replies to a flow out of the tunnel arrive from it");
        };
        assert_eq!((reply.vni, reply.mac), (2, wire.mac));
        assert_eq!(
            (reply.source, reply.source_port),
            (forward.destination, forward.destination_port)
        );
        // Into shared1 from another machine: its replies leave by the
        // tunnel from shared1's host end.
        let into = Leg::In { to: shared1, wire };
        assert_eq!(
            into.key(forward),
            EntryKey::Arrival(forward.arrival_at(wire))
        );
        assert_eq!(
            into.reverse_key(forward),
            EntryKey::Tunnel(forward.reversed().key_at(9))
        );
    }

    #[test]
    fn both_directions_of_a_flow_share_one_name_and_keys_name_their_arrival() {
        let forward = tuple(IPPROTO_TCP);
        assert_eq!(forward.canonical(), forward.reversed().canonical());
        assert_ne!(forward, forward.reversed());
        let key = forward.reversed().key_at(7);
        assert_eq!(
            (key.ingress, key.source, key.source_port),
            (7, forward.destination, forward.destination_port)
        );
    }
}
