//! The fabric's way between hosts, packet by packet: `from_port` run on
//! packets of flows installed to leave by the tunnel (`BPF_PROG_RUN`, as in
//! `tests/labs/fabric_program.rs`), and `from_tunnel` on a frame that came
//! from no tunnel; and the layouts of the structs the way between hosts
//! shares with the daemon, read from the object's BTF.
//!
//! A test run does not say where `bpf_redirect` sent a packet, nor which
//! tunnel key it set: the tunnel's path is told from the slow path by what
//! it does to the packet (the receiving port's MAC between hosts written
//! in) and by its slot counting it; the slow path leaves both untouched.
//! Where the tunnel key takes a frame is checked with real packets, by
//! `tests/labs/several_hosts.rs`.

use super::btf::Btf;
use super::{forwarded, from_port, load, slot, tcp4, udp4, SkbLayout, SENDER_MAC, TC_ACT_REDIRECT};
use aya::programs::TestRunOptions;
use std::net::Ipv4Addr;
use vnetd::host::fabric::{
    layout, FabricPrograms, FastEntry, FastKey, TunnelEntry, TunnelSettings, ARRIVAL_KEY_LEN,
    FLOW_ENTRY_LEN, FLOW_KEY_LEN, TUNNEL_ENTRY_LEN, TUNNEL_SETTINGS_LEN,
};
use vnetd::net::{IPPROTO_TCP, IPPROTO_UDP};

/// The loopback device as the sending port's host end (see
/// `fabric_program.rs`), its TUN a number only.
const HOST_END: u32 = 1;
const TUN: u32 = 1001;
/// The VXLAN device (a number only: a test run redirects nowhere).
const VXLAN: u32 = 4004;
const LOCAL: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const REMOTE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// The receiving port's name between hosts.
const WIRE_MAC: [u8; 6] = [0x02, 0x56, 0x58, 0, 0, 1];
const VNI: u32 = 1;
const SOURCE: [u8; 4] = [10, 1, 1, 4];
const DESTINATION: [u8; 4] = [10, 0, 2, 4];
const PORTS: (u16, u16) = (40000, 5201);
const SLOT: u32 = 9;
/// `TC_ACT_UNSPEC` as a test run reports it: left to the next program.
const TC_ACT_UNSPEC: u32 = u32::MAX;

/// The programs with one port at generation 3, a tunnel of inner MTU
/// `mtu` and the hosts `trusted`.
fn with_tunnel(mtu: u32, trusted: &[Ipv4Addr]) -> FabricPrograms {
    let programs = load(16);
    programs
        .add_port(HOST_END, TUN, SENDER_MAC, 1500)
        .expect("adding the port");
    programs.fabric().advance_generation(3).unwrap();
    let settings = TunnelSettings {
        vxlan: VXLAN,
        local: LOCAL,
        mtu,
    };
    programs.fabric().set_tunnel(settings, trusted).unwrap();
    programs
}

fn key(protocol: u8) -> FastKey {
    FastKey {
        ingress: HOST_END,
        protocol,
        source: SOURCE.into(),
        destination: DESTINATION.into(),
        source_port: PORTS.0,
        destination_port: PORTS.1,
    }
}

fn into_tunnel(programs: &FabricPrograms, protocol: u8, generation: u64) {
    let entry = TunnelEntry {
        remote: REMOTE,
        vni: VNI,
        mac: WIRE_MAC,
        generation,
        slot: SLOT,
    };
    programs
        .fabric()
        .install_tunnel(&key(protocol), entry)
        .expect("installing");
}

/// Asserts that `frame` took the slow path: unchanged, its slot
/// untouched.
fn assert_slow(programs: &FabricPrograms, frame: &[u8], what: &str) {
    let before = slot(programs, SLOT).packets;
    let outcome = from_port(programs, frame, None);
    assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "{what}: verdict");
    assert_eq!(
        outcome.packet, frame,
        "{what}: the slow path changes nothing"
    );
    assert_eq!(slot(programs, SLOT).packets, before, "{what}: counted");
}

#[test]
fn a_flow_installed_into_the_tunnel_is_addressed_to_the_receiving_port_and_counted() {
    let programs = with_tunnel(1500, &[REMOTE]);
    into_tunnel(&programs, IPPROTO_UDP, 3);
    let frame = udp4(SOURCE, DESTINATION, PORTS, 100);
    let outcome = from_port(&programs, &frame, None);
    assert_eq!(outcome.verdict, TC_ACT_REDIRECT);
    assert_eq!(outcome.packet, forwarded(&frame, WIRE_MAC));
    let counted = slot(&programs, SLOT);
    assert_eq!(
        (counted.packets, counted.bytes),
        (1, (frame.len() - 14) as u64)
    );
    // A super-packet is its segments, each with its own headers.
    let tcp = with_tunnel(1500, &[REMOTE]);
    into_tunnel(&tcp, IPPROTO_TCP, 3);
    let frame = tcp4(SOURCE, DESTINATION, PORTS, |b| b, 2800);
    let context = SkbLayout::of_object().context(HOST_END, Some((1000, 3)));
    let outcome = from_port(&tcp, &frame, Some(&context));
    assert_eq!(outcome.packet, forwarded(&frame, WIRE_MAC));
    let counted = slot(&tcp, SLOT);
    assert_eq!((counted.packets, counted.bytes), (3, 2800 + 3 * 40));
}

#[test]
fn the_tunnel_carries_nothing_of_another_generation_too_large_or_to_an_untrusted_host() {
    let frame = udp4(SOURCE, DESTINATION, PORTS, 100);
    let stale = with_tunnel(1500, &[REMOTE]);
    into_tunnel(&stale, IPPROTO_UDP, 2);
    assert_slow(&stale, &frame, "an entry of another generation");
    let untrusted = with_tunnel(1500, &[Ipv4Addr::new(192, 0, 2, 3)]);
    into_tunnel(&untrusted, IPPROTO_UDP, 3);
    assert_slow(&untrusted, &frame, "a host not trusted");
    // Trusted again, it carries.
    untrusted
        .fabric()
        .set_tunnel(
            TunnelSettings {
                vxlan: VXLAN,
                local: LOCAL,
                mtu: 1500,
            },
            &[REMOTE],
        )
        .unwrap();
    assert_eq!(
        from_port(&untrusted, &frame, None).packet,
        forwarded(&frame, WIRE_MAC)
    );
    // 100 bytes of payload and 28 of headers do not fit an inner MTU of 120.
    let small = with_tunnel(120, &[REMOTE]);
    into_tunnel(&small, IPPROTO_UDP, 3);
    assert_slow(&small, &frame, "larger than the tunnel carries");
    // A TCP SYN is the daemon's, entry or not.
    let syn = with_tunnel(1500, &[REMOTE]);
    into_tunnel(&syn, IPPROTO_TCP, 3);
    assert_slow(
        &syn,
        &tcp4(SOURCE, DESTINATION, PORTS, |b| b.syn(), 0),
        "a SYN",
    );
}

#[test]
fn without_a_tunnel_its_entries_carry_nothing_and_a_local_entry_goes_first() {
    let frame = udp4(SOURCE, DESTINATION, PORTS, 100);
    let programs = load(16);
    programs.add_port(HOST_END, TUN, SENDER_MAC, 1500).unwrap();
    programs.fabric().advance_generation(3).unwrap();
    into_tunnel(&programs, IPPROTO_UDP, 3);
    assert_slow(&programs, &frame, "no tunnel set");
    // With the tunnel set, a current entry to a port of the fabric goes
    // first; one of an older generation gives way to the tunnel's.
    let programs = with_tunnel(1500, &[REMOTE]);
    into_tunnel(&programs, IPPROTO_UDP, 3);
    let egress_mac = [0x02, 0, 0, 0, 0, 0x02];
    let local = |generation| FastEntry {
        // The loopback device: a host end that exists.
        egress: HOST_END,
        mac: egress_mac,
        generation,
        slot: SLOT + 1,
    };
    programs
        .fabric()
        .install(&key(IPPROTO_UDP), local(3))
        .unwrap();
    assert_eq!(
        from_port(&programs, &frame, None).packet,
        forwarded(&frame, egress_mac)
    );
    programs
        .fabric()
        .install(&key(IPPROTO_UDP), local(2))
        .unwrap();
    assert_eq!(
        from_port(&programs, &frame, None).packet,
        forwarded(&frame, WIRE_MAC)
    );
    assert_eq!(slot(&programs, SLOT).packets, 1);
    assert_eq!(slot(&programs, SLOT + 1).packets, 1);
    // Removed, the tunnel's entry carries no more.
    assert!(programs.fabric().remove_tunnel(&key(IPPROTO_UDP)));
    assert_slow(&programs, &frame, "its entry removed");
}

#[test]
fn a_frame_from_no_tunnel_is_left_to_the_underlay() {
    let programs = with_tunnel(1500, &[REMOTE]);
    let frame = udp4(SOURCE, DESTINATION, PORTS, 100);
    let mut out = vec![0u8; frame.len() + 64];
    let result = programs
        .run(
            "from_tunnel",
            TestRunOptions {
                data_in: Some(&frame),
                data_out: Some(&mut out),
                ..TestRunOptions::default()
            },
        )
        .unwrap_or_else(|err| panic!("{err:#}"));
    assert_eq!(result.return_value, TC_ACT_UNSPEC);
    assert_eq!(&out[..result.data_size_out as usize], &frame[..]);
}

/// A struct's name, its length, and where `entries.rs` writes each of its
/// members (padding aside).
type Layout = (
    &'static str,
    usize,
    Vec<(&'static str, std::ops::Range<usize>)>,
);

#[test]
fn the_structs_between_hosts_are_laid_out_as_the_daemon_writes_them() {
    use layout::*;
    let btf = Btf::of_object(FabricPrograms::object()).expect("the object's BTF");
    let expected: [Layout; 3] = [
        (
            "tunnel_entry",
            TUNNEL_ENTRY_LEN,
            vec![
                ("generation", TUNNEL_ENTRY_GENERATION),
                ("slot", TUNNEL_ENTRY_SLOT),
                ("remote_ipv4", TUNNEL_ENTRY_REMOTE_IPV4),
                ("vni", TUNNEL_ENTRY_VNI),
                ("dst_mac", TUNNEL_ENTRY_DST_MAC),
            ],
        ),
        (
            "arrival_key",
            ARRIVAL_KEY_LEN,
            vec![
                ("flow", ARRIVAL_KEY_FLOW),
                ("vni", ARRIVAL_KEY_VNI),
                ("mac", ARRIVAL_KEY_MAC),
            ],
        ),
        (
            "tunnel_settings",
            TUNNEL_SETTINGS_LEN,
            vec![
                ("vxlan_ifindex", TUNNEL_SETTINGS_VXLAN_IFINDEX),
                ("local_ipv4", TUNNEL_SETTINGS_LOCAL_IPV4),
                ("mtu", TUNNEL_SETTINGS_MTU),
            ],
        ),
    ];
    let mut wrong = Vec::new();
    for (name, len, members) in expected {
        let id = btf
            .struct_id(name)
            .unwrap_or_else(|| panic!("struct {name} is not in the object"));
        if btf.size_of(id) != len as u64 {
            wrong.push(format!(
                "struct {name}: {} bytes, {len} in entries.rs",
                btf.size_of(id)
            ));
        }
        for m in btf.members(id) {
            let at = (m.bit_offset / 8) as usize;
            let bytes = at..at + btf.size_of(m.type_id) as usize;
            match members.iter().find(|(n, _)| *n == m.name) {
                Some((_, rust)) if *rust == bytes => {}
                Some((_, rust)) => wrong.push(format!("{name}.{}: {bytes:?}, {rust:?}", m.name)),
                None if m.name.starts_with("pad") => {}
                None => wrong.push(format!("{name}.{} is not written by entries.rs", m.name)),
            }
        }
    }
    for (map, key, value) in [
        (
            "to_tunnel",
            ("struct flow_key", FLOW_KEY_LEN),
            ("struct tunnel_entry", TUNNEL_ENTRY_LEN),
        ),
        (
            "arrivals",
            ("struct arrival_key", ARRIVAL_KEY_LEN),
            ("struct flow_entry", FLOW_ENTRY_LEN),
        ),
        (
            "tunnel",
            ("__u32", 4),
            ("struct tunnel_settings", TUNNEL_SETTINGS_LEN),
        ),
        ("trusted", ("__u32", 4), ("__u8", 1)),
    ] {
        let (key_id, value_id) = btf
            .map_key_value(map)
            .unwrap_or_else(|| panic!("the object has no map {map}"));
        for (what, id, (c_name, len)) in [("key", key_id, key), ("value", value_id, value)] {
            let found = (btf.name_of(id), btf.size_of(id) as usize);
            if found != (c_name.to_owned(), len) {
                wrong.push(format!("map {map}'s {what}: {found:?}, ({c_name}, {len})"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the layouts disagree:\n{}",
        wrong.join("\n")
    );
}
