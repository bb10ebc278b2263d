//! The fabric's way between hosts, packet by packet: `from_port` run on
//! packets of flows installed to leave by the tunnel (`BPF_PROG_RUN`, as in
//! `fabric_program.rs`), and `from_tunnel` on a frame that came from no
//! tunnel.
//!
//! A test run does not say where `bpf_redirect` sent a packet, nor which
//! tunnel key it set: the tunnel's path is told from the slow path by what
//! it does to the packet (the receiving port's MAC between hosts written
//! in) and by its slot counting it; the slow path leaves both untouched.
//! Where the tunnel key takes a frame is checked with real packets, by
//! `tests/labs/several_hosts.rs`.

use super::{
    flow_key, forwarded, from_port, one_port, slot, tcp4, udp4, SkbLayout, HOST_END,
    TC_ACT_REDIRECT,
};
use aya::programs::TestRunOptions;
use std::net::Ipv4Addr;
use vnetd::host::fabric::{FabricPrograms, FastEntry, FastKey, TunnelEntry, TunnelSettings};
use vnetd::net::{IPPROTO_TCP, IPPROTO_UDP};

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
    let programs = one_port();
    let settings = TunnelSettings {
        vxlan: VXLAN,
        local: LOCAL,
        mtu,
    };
    programs.fabric().set_tunnel(settings).unwrap();
    programs.trust(trusted).unwrap();
    programs
}

fn key(protocol: u8) -> FastKey {
    flow_key(protocol, SOURCE, DESTINATION, PORTS)
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
    untrusted.trust(&[REMOTE]).unwrap();
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
    let programs = one_port();
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
        egress_port: 0,
        mac: egress_mac,
        generation,
        slot: SLOT + 1,
        rewrite: None,
        path_mtu: None,
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
