//! The fabric's kernel program (`bpf/fabric.h`) packet by packet: the
//! object vnetd embeds is loaded with no namespace
//! (`Fabric::load_for_test`) and `from_port` is run on packets made here
//! (`BPF_PROG_RUN`), through the maps and the `Fabric` methods the daemon
//! uses; each test checks the verdict, the packet as it left the program
//! and the counters slots afterwards. A test run does not say where
//! `bpf_redirect` sent a packet: the fast path is told from the slow one
//! by what it does to the packet (the egress `eth0`'s MAC written in) and
//! by its slot counting it; the slow path leaves both untouched.
//!
//! Needs root (to load BPF programs) and a build that compiled them: they
//! fail, saying so, otherwise.

use super::{
    flow_key, forwarded, from_port, load, one_port, slot, tcp4, udp4, SkbLayout, HOST_END,
    SENDER_MAC, TC_ACT_REDIRECT, TC_ACT_SHOT,
};
use etherparse::{ArpHardwareId, ArpOperation, ArpPacket, EtherType, Icmpv6Type, PacketBuilder};
use vnetd::host::fabric::{
    FabricPrograms, FastCounters, FastEntry, FastKey, GenerationFault, PortCounters, Touched,
    FABRIC_MAC, SLOTS_PER_CHUNK,
};
use vnetd::net::{IPPROTO_TCP, IPPROTO_UDP};

/// The egress port's host end (a device that exists: the loopback device
/// again, the only one a test run has) and its `eth0`'s MAC.
pub(super) const EGRESS: u32 = HOST_END;
pub(super) const EGRESS_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
/// The host end of a port whose `eth0` was deleted: no such device.
const GONE: u32 = 2002;
const GONE_TUN: u32 = 2003;

pub(super) const SOURCE: [u8; 4] = [10, 0, 1, 4];
pub(super) const DESTINATION: [u8; 4] = [10, 0, 2, 4];
pub(super) const PORTS: (u16, u16) = (40000, 5201);
pub(super) const SLOT: u32 = 5;

pub(super) fn key(protocol: u8) -> FastKey {
    flow_key(protocol, SOURCE, DESTINATION, PORTS)
}

fn install(programs: &FabricPrograms, key: &FastKey, generation: u64) {
    let entry = FastEntry {
        egress: EGRESS,
        egress_port: 0,
        mac: EGRESS_MAC,
        generation,
        slot: SLOT,
        rewrite: None,
        path_mtu: None,
    };
    programs.fabric().install(key, entry).expect("installing");
}

/// Every slot of the first chunk that counted anything.
fn counted(programs: &FabricPrograms) -> Vec<(u32, FastCounters)> {
    let chunk = programs.fabric().counters_chunk(0).expect("reading");
    (0..SLOTS_PER_CHUNK)
        .zip(chunk)
        .filter(|(_, c)| *c != FastCounters::default())
        .collect()
}

/// Asserts that `frame` took the slow path: redirected (to the port's
/// TUN), unchanged, counted nowhere.
pub(super) fn assert_slow(programs: &FabricPrograms, frame: &[u8], what: &str) {
    let outcome = from_port(programs, frame, None);
    assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "{what}: verdict");
    assert_eq!(
        outcome.packet, frame,
        "{what}: the slow path changes nothing"
    );
    assert_eq!(counted(programs), vec![], "{what}: counted in a slot");
}

fn arp(op: ArpOperation, sender: [u8; 4], target: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(SENDER_MAC, [0xff; 6])
        .arp(
            ArpPacket::new(
                ArpHardwareId::ETHERNET,
                EtherType::IPV4,
                op,
                &SENDER_MAC,
                &sender,
                &[0; 6],
                &target,
            )
            .unwrap(),
        )
        .write(&mut out)
        .unwrap();
    out
}

#[test]
fn an_arp_request_is_answered_with_the_fabric_mac_and_gratuitous_arp_is_dropped() {
    let programs = one_port();
    let outcome = from_port(
        &programs,
        &arp(ArpOperation::REQUEST, SOURCE, [10, 0, 1, 1]),
        None,
    );
    assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "the reply goes back out");
    let mut reply = Vec::new();
    PacketBuilder::ethernet2(FABRIC_MAC, SENDER_MAC)
        .arp(
            ArpPacket::new(
                ArpHardwareId::ETHERNET,
                EtherType::IPV4,
                ArpOperation::REPLY,
                &FABRIC_MAC,
                &[10, 0, 1, 1],
                &SENDER_MAC,
                &SOURCE,
            )
            .unwrap(),
        )
        .write(&mut reply)
        .unwrap();
    assert_eq!(outcome.packet, reply);
    assert_eq!(&outcome.packet[20..22], &[0, 2], "op is reply");
    for (what, frame) in [
        ("gratuitous ARP", arp(ArpOperation::REQUEST, SOURCE, SOURCE)),
        ("an ARP probe", arp(ArpOperation::REQUEST, [0; 4], SOURCE)),
        (
            "an ARP reply",
            arp(ArpOperation::REPLY, SOURCE, [10, 0, 1, 1]),
        ),
    ] {
        assert_eq!(
            from_port(&programs, &frame, None).verdict,
            TC_ACT_SHOT,
            "{what}"
        );
    }
}

const REQUESTER: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4];
const TARGET: [u8; 16] = [0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

fn solicitation(source: [u8; 16], hop_limit: u8) -> Vec<u8> {
    let solicited_node = [
        0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, TARGET[13], TARGET[14], TARGET[15],
    ];
    let mut body = TARGET.to_vec();
    body.extend_from_slice(&[1, 1]); // source link-layer address
    body.extend_from_slice(&SENDER_MAC);
    let mut out = Vec::new();
    PacketBuilder::ethernet2(SENDER_MAC, [0x33, 0x33, 0xff, 0, 0, 1])
        .ipv6(source, solicited_node, hop_limit)
        .icmpv6(Icmpv6Type::NeighborSolicitation)
        .write(&mut out, &body)
        .unwrap();
    out
}

#[test]
fn a_neighbour_solicitation_is_answered_with_a_checksummed_advertisement_and_dad_is_dropped() {
    let programs = one_port();
    let outcome = from_port(&programs, &solicitation(REQUESTER, 255), None);
    assert_eq!(
        outcome.verdict, TC_ACT_REDIRECT,
        "the advertisement goes back out"
    );
    // The advertisement as etherparse writes it, with its own checksum.
    let mut body = TARGET.to_vec();
    body.extend_from_slice(&[2, 1]); // target link-layer address
    body.extend_from_slice(&FABRIC_MAC);
    let mut advertisement = Vec::new();
    PacketBuilder::ethernet2(FABRIC_MAC, SENDER_MAC)
        .ipv6(TARGET, REQUESTER, 255)
        .icmpv6(Icmpv6Type::NeighborAdvertisement(
            etherparse::icmpv6::NeighborAdvertisementHeader {
                router: false,
                solicited: true,
                r#override: true,
            },
        ))
        .write(&mut advertisement, &body)
        .unwrap();
    assert_eq!(outcome.packet, advertisement);
    let sliced = etherparse::SlicedPacket::from_ethernet(&outcome.packet).unwrap();
    let Some(etherparse::TransportSlice::Icmpv6(icmp)) = sliced.transport else {
        panic!("not ICMPv6: {:?}", outcome.packet);
    };
    assert!(
        icmp.is_checksum_valid(TARGET, REQUESTER),
        "the checksum is good"
    );
    for (what, frame) in [
        (
            "duplicate address detection (source ::)",
            solicitation([0; 16], 255),
        ),
        (
            "a solicitation from off the link (hop limit 64)",
            solicitation(REQUESTER, 64),
        ),
    ] {
        assert_eq!(
            from_port(&programs, &frame, None).verdict,
            TC_ACT_SHOT,
            "{what}"
        );
    }
}

#[test]
fn a_flow_of_the_current_generation_goes_to_its_egress_and_is_counted_once_in_its_slot() {
    let programs = one_port();
    install(&programs, &key(IPPROTO_UDP), 3);
    let frame = udp4(SOURCE, DESTINATION, PORTS, 100);
    let outcome = from_port(&programs, &frame, None);
    assert_eq!(outcome.verdict, TC_ACT_REDIRECT);
    assert_eq!(outcome.packet, forwarded(&frame, EGRESS_MAC));
    let ip_len = (frame.len() - 14) as u64;
    let first = slot(&programs, SLOT);
    assert_eq!((first.packets, first.bytes), (1, ip_len));
    assert!(
        first.last_used_ns > 0,
        "the time of the last packet is kept"
    );
    assert_eq!(counted(&programs).len(), 1, "only its slot counts");
    from_port(&programs, &frame, None);
    let second = slot(&programs, SLOT);
    assert_eq!((second.packets, second.bytes), (2, 2 * ip_len));
    assert!(second.last_used_ns >= first.last_used_ns);
}

#[test]
fn an_entry_of_another_generation_is_not_used_and_counts_nothing() {
    let programs = one_port();
    // Installed late, decided under generation 2.
    install(&programs, &key(IPPROTO_UDP), 2);
    let frame = udp4(SOURCE, DESTINATION, PORTS, 100);
    assert_slow(&programs, &frame, "an entry of generation 2 under 3");
    // Current, then a plane is published.
    install(&programs, &key(IPPROTO_UDP), 3);
    assert_eq!(
        from_port(&programs, &frame, None).packet,
        forwarded(&frame, EGRESS_MAC)
    );
    let before = slot(&programs, SLOT);
    programs.fabric().advance(4, Touched::All).unwrap();
    let outcome = from_port(&programs, &frame, None);
    assert_eq!(outcome.verdict, TC_ACT_REDIRECT);
    assert_eq!(outcome.packet, frame, "to the slow path after a publish");
    assert_eq!(
        slot(&programs, SLOT),
        before,
        "nothing counted after a publish"
    );
}

#[test]
fn a_generation_the_kernel_cannot_be_given_takes_the_entries_it_concerns_out_of_the_kernel() {
    let programs = one_port();
    let fabric = programs.fabric();
    // The port under test is the first (index 0); another port's entry is
    // not concerned by a change of the first port's rules.
    let other_host_end = 3004;
    let other = programs
        .add_port(other_host_end, 3005, EGRESS_MAC, 1500)
        .unwrap();
    install(&programs, &key(IPPROTO_UDP), 3);
    let others_key = FastKey {
        ingress: other_host_end,
        ..key(IPPROTO_UDP)
    };
    let others_entry = FastEntry {
        egress: other_host_end,
        egress_port: other,
        mac: EGRESS_MAC,
        generation: 3,
        slot: SLOT + 1,
        rewrite: None,
        path_mtu: None,
    };
    fabric.install(&others_key, others_entry).unwrap();
    let frame = udp4(SOURCE, DESTINATION, PORTS, 100);
    assert_eq!(
        from_port(&programs, &frame, None).packet,
        forwarded(&frame, EGRESS_MAC)
    );

    fabric.fail_next_generation_write();
    let fault = fabric.advance(4, Touched::Ports(&[0])).unwrap_err();
    assert!(matches!(fault, GenerationFault::Closed(_)), "{fault}");
    // The kernel was not told, so the entry is gone from it: the next
    // packet reaches the daemon, which decides it under the new rules.
    let before = slot(&programs, SLOT);
    let outcome = from_port(&programs, &frame, None);
    assert_eq!(outcome.verdict, TC_ACT_REDIRECT);
    assert_eq!(outcome.packet, frame, "to the slow path");
    assert_eq!(slot(&programs, SLOT), before, "nothing counted");
    let left: Vec<FastKey> = fabric.entries().into_iter().map(|(k, _)| k).collect();
    assert_eq!(left, vec![others_key], "only the other port's entry stays");
    // The daemon judges its entries by what it meant to write.
    assert!(!fabric.holds(3, [0, 0]));
    assert!(fabric.holds(3, [other, other]));
    assert!(fabric.holds(4, [0, other]));

    // The next write goes through: the map holds it.
    fabric.advance(5, Touched::Ports(&[other])).unwrap();
    assert_eq!(fabric.port_generation(other), 5);
    assert!(!fabric.holds(4, [0, other]));
}

#[test]
fn a_packet_larger_than_its_ports_mtu_goes_to_the_slow_path_even_with_an_entry() {
    let programs = one_port();
    install(&programs, &key(IPPROTO_UDP), 3);
    // 1501 bytes of IP do not fit the port's MTU (its guest raised its
    // own): the daemon fragments or counts it. 1500 fit.
    assert_slow(
        &programs,
        &udp4(SOURCE, DESTINATION, PORTS, 1501 - 28),
        "one byte over the MTU",
    );
    let fits = udp4(SOURCE, DESTINATION, PORTS, 1500 - 28);
    assert_eq!(
        from_port(&programs, &fits, None).packet,
        forwarded(&fits, EGRESS_MAC)
    );
    assert_eq!(slot(&programs, SLOT).packets, 1);
}

#[test]
fn an_unknown_flow_goes_to_the_slow_path() {
    let programs = one_port();
    install(&programs, &key(IPPROTO_UDP), 3);
    assert_slow(
        &programs,
        &udp4(SOURCE, DESTINATION, (40001, 5201), 100),
        "another port",
    );
    assert_slow(
        &programs,
        &udp4([10, 0, 1, 5], DESTINATION, PORTS, 100),
        "another source",
    );
    assert_slow(
        &programs,
        &tcp4(SOURCE, DESTINATION, PORTS, |b| b, 100),
        "TCP, not UDP",
    );
}

#[test]
fn tcp_syn_fin_and_rst_go_to_the_slow_path_even_with_an_entry() {
    let programs = one_port();
    install(&programs, &key(IPPROTO_TCP), 3);
    assert_slow(
        &programs,
        &tcp4(SOURCE, DESTINATION, PORTS, |b| b.syn(), 0),
        "SYN",
    );
    assert_slow(
        &programs,
        &tcp4(SOURCE, DESTINATION, PORTS, |b| b.fin(), 0),
        "FIN",
    );
    assert_slow(
        &programs,
        &tcp4(SOURCE, DESTINATION, PORTS, |b| b.rst(), 0),
        "RST",
    );
    let data = tcp4(SOURCE, DESTINATION, PORTS, |b| b.psh(), 100);
    assert_eq!(
        from_port(&programs, &data, None).packet,
        forwarded(&data, EGRESS_MAC)
    );
    assert_eq!(
        slot(&programs, SLOT).packets,
        1,
        "data of the same flow is carried"
    );
}

/// `frame` (IPv4 in Ethernet) as a fragment: more fragments and the
/// offset `offset_units` (in 8 bytes), its header checksum made good.
fn fragment(frame: &[u8], more: bool, offset_units: u16) -> Vec<u8> {
    let mut out = frame.to_vec();
    let flags_offset = (u16::from(more) << 13) | offset_units;
    out[20..22].copy_from_slice(&flags_offset.to_be_bytes());
    out[24..26].copy_from_slice(&[0, 0]);
    let header = etherparse::Ipv4HeaderSlice::from_slice(&out[14..])
        .unwrap()
        .to_header();
    out[24..26].copy_from_slice(&header.calc_header_checksum().to_be_bytes());
    out
}

#[test]
fn ipv4_fragments_go_to_the_slow_path_even_with_an_entry() {
    let programs = one_port();
    install(&programs, &key(IPPROTO_UDP), 3);
    let frame = udp4(SOURCE, DESTINATION, PORTS, 100);
    assert_slow(&programs, &fragment(&frame, true, 0), "a first fragment");
    assert_slow(&programs, &fragment(&frame, false, 100), "a last fragment");
}

#[test]
fn a_packet_on_a_device_with_no_host_end_entry_is_dropped() {
    let programs = load(16);
    let frame = udp4(SOURCE, DESTINATION, PORTS, 100);
    assert_eq!(
        from_port(&programs, &frame, None).verdict,
        TC_ACT_SHOT,
        "no port entry"
    );
    // The loopback device as a port's TUN, not as a host end.
    programs.add_port(3003, HOST_END, SENDER_MAC, 1500).unwrap();
    assert_eq!(
        from_port(&programs, &frame, None).verdict,
        TC_ACT_SHOT,
        "a TUN's entry"
    );
}

#[test]
fn a_gso_super_packet_counts_as_its_segments_each_with_its_headers() {
    let programs = one_port();
    install(&programs, &key(IPPROTO_TCP), 3);
    let payload = 2800;
    let frame = tcp4(SOURCE, DESTINATION, PORTS, |b| b, payload);
    let context = SkbLayout::of_object().context(HOST_END, Some((1000, 3)));
    let outcome = from_port(&programs, &frame, Some(&context));
    assert_eq!(outcome.verdict, TC_ACT_REDIRECT);
    assert_eq!(outcome.packet, forwarded(&frame, EGRESS_MAC));
    // Three segments of at most 1000 bytes of payload, each with its own
    // 20-byte IPv4 and 20-byte TCP headers.
    let counted = slot(&programs, SLOT);
    assert_eq!((counted.packets, counted.bytes), (3, 2800 + 3 * 40));
}

/// What the programs counted at the port whose host end is `host_end`
/// since the last reading.
fn port_drops(programs: &FabricPrograms, host_end: u32) -> PortCounters {
    programs
        .fabric()
        .port_drops()
        .expect("reading the ports' counters")
        .into_iter()
        .filter(|(h, _)| *h == host_end)
        .map(|(_, counted)| counted)
        .next()
        .unwrap_or_default()
}

#[test]
fn a_packet_for_a_port_whose_eth0_is_gone_is_dropped_and_counted_as_gone() {
    let programs = one_port();
    programs
        .add_port(GONE, GONE_TUN, EGRESS_MAC, 1500)
        .expect("a port whose host end is no device");
    let entry = |egress| FastEntry {
        egress,
        egress_port: 0,
        mac: EGRESS_MAC,
        generation: 3,
        slot: SLOT,
        rewrite: None,
        path_mtu: None,
    };
    programs
        .fabric()
        .install(&key(IPPROTO_UDP), entry(GONE))
        .unwrap();
    let frame = udp4(SOURCE, DESTINATION, PORTS, 100);
    let outcome = from_port(&programs, &frame, None);
    assert_eq!(outcome.verdict, TC_ACT_SHOT, "handed nowhere");
    let ip_len = (frame.len() - 14) as u64;
    let counted = slot(&programs, SLOT);
    assert_eq!(
        (counted.packets, counted.bytes),
        (0, 0),
        "nothing delivered"
    );
    assert_eq!((counted.gone_packets, counted.gone_bytes), (1, ip_len));
    // A super-packet is gone as its segments, each with its headers.
    install(&programs, &key(IPPROTO_TCP), 3);
    programs
        .fabric()
        .install(&key(IPPROTO_TCP), entry(GONE))
        .unwrap();
    let segment = tcp4(SOURCE, DESTINATION, PORTS, |b| b, 2800);
    let context = SkbLayout::of_object().context(HOST_END, Some((1000, 3)));
    assert_eq!(
        from_port(&programs, &segment, Some(&context)).verdict,
        TC_ACT_SHOT
    );
    let counted = slot(&programs, SLOT);
    assert_eq!(
        (counted.gone_packets, counted.gone_bytes),
        (1 + 3, ip_len + 2800 + 3 * 40)
    );
    // The same entry toward a port that is there carries the packet.
    programs
        .fabric()
        .install(&key(IPPROTO_UDP), entry(EGRESS))
        .unwrap();
    assert_eq!(
        from_port(&programs, &frame, None).packet,
        forwarded(&frame, EGRESS_MAC)
    );
    assert_eq!(slot(&programs, SLOT).packets, 1);
}

#[test]
fn what_the_program_drops_of_a_ports_own_packets_is_counted_at_the_port() {
    let programs = one_port();
    // A router solicitation and an MLD report to link-scope multicast:
    // they stay on the link, as on Azure's, counted as unroutable.
    let mut solicitation = Vec::new();
    PacketBuilder::ethernet2(SENDER_MAC, [0x33, 0x33, 0, 0, 0, 2])
        .ipv6(
            REQUESTER,
            [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            255,
        )
        .icmpv6(Icmpv6Type::Unknown {
            type_u8: 133,
            code_u8: 0,
            bytes5to8: [0; 4],
        })
        .write(&mut solicitation, &[])
        .unwrap();
    let mut multicast = Vec::new();
    PacketBuilder::ethernet2(SENDER_MAC, [0x33, 0x33, 0, 0, 0, 0xfb])
        .ipv6(
            REQUESTER,
            [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfb],
            255,
        )
        .udp(5353, 5353)
        .write(&mut multicast, &[0; 20])
        .unwrap();
    // A frame of no protocol the fabric carries (LLDP).
    let mut lldp = vec![0x01, 0x80, 0xc2, 0, 0, 0x0e];
    lldp.extend_from_slice(&SENDER_MAC);
    lldp.extend_from_slice(&[0x88, 0xcc]);
    lldp.extend_from_slice(&[0; 46]);
    for frame in [&solicitation, &multicast, &lldp] {
        assert_eq!(from_port(&programs, frame, None).verdict, TC_ACT_SHOT);
    }
    assert_eq!(
        port_drops(&programs, HOST_END),
        PortCounters {
            unroutable_packets: 2,
            unroutable_bytes: (solicitation.len() + multicast.len() - 28) as u64,
            malformed_packets: 1,
            malformed_bytes: 46,
            ..PortCounters::default()
        }
    );
    // Read once: the next reading has nothing new.
    assert_eq!(port_drops(&programs, HOST_END), PortCounters::default());
    // A neighbour solicitation is answered, not dropped: not counted.
    from_port(&programs, &solicitation_for_the_fabric(), None);
    assert_eq!(port_drops(&programs, HOST_END), PortCounters::default());
}

fn solicitation_for_the_fabric() -> Vec<u8> {
    solicitation(REQUESTER, 255)
}
