//! The fabric's kernel program rewriting the packets of translated flows
//! (`bpf/fabric.h`'s `rewrite`): each packet the program leaves as the
//! workers' own translation (`vnetd::dataplane::nat::translate`) writes
//! it, its checksums right, counted once; IPv4 TCP, UDP and ICMP echo and
//! IPv6 TCP and UDP, and an entry of the other family than its packet
//! left to the daemon. Run as `fabric_program`'s tests are
//! (`BPF_PROG_RUN`); needs root.

use super::fabric_program::{
    assert_slow, key, DESTINATION, EGRESS, EGRESS_MAC, PORTS, SLOT, SOURCE,
};
use super::{
    flow_key, forwarded, from_port, one_port, slot, tcp4, udp4, HOST_END, SENDER_MAC,
    TC_ACT_REDIRECT,
};
use etherparse::PacketBuilder;
use vnetd::dataplane::nat::{translate, Rewrite};
use vnetd::host::fabric::{FastEntry, FastKey, FastRewrite, FABRIC_MAC};
use vnetd::net::{IPPROTO_TCP, IPPROTO_UDP};

/// An entry of the current generation toward [`EGRESS`], counted in
/// [`SLOT`], that rewrites its packets as `rewrite` says.
fn translating(rewrite: FastRewrite) -> FastEntry {
    FastEntry {
        egress: EGRESS,
        egress_port: 0,
        mac: EGRESS_MAC,
        generation: 3,
        slot: SLOT,
        rewrite: Some(rewrite),
        path_mtu: None,
    }
}

/// The key of a direction from `src` to `dst` over IPv6, arriving at
/// [`HOST_END`] (an echo's "ports" are its identifier both ways).
fn key6(protocol: u8, src: [u8; 16], dst: [u8; 16], ports: (u16, u16)) -> FastKey {
    FastKey {
        ingress: HOST_END,
        protocol,
        source: src.into(),
        destination: dst.into(),
        source_port: ports.0,
        destination_port: ports.1,
    }
}

/// `frame` as the workers would write it translated as `rewrite` says
/// (the reference the kernel's rewrite is held to), forwarded to the
/// egress port.
fn translated_by_the_workers(frame: &[u8], rewrite: Rewrite) -> Vec<u8> {
    let mut out = forwarded(frame, EGRESS_MAC);
    translate(&mut out[14..], rewrite, false).expect("the workers translate it");
    out
}

/// Whether the IPv4 header's checksum and the TCP or UDP checksum of
/// `frame` (an Ethernet frame) are right; a UDP checksum of zero is none.
fn checksums_hold(frame: &[u8]) -> bool {
    let ip = etherparse::Ipv4HeaderSlice::from_slice(&frame[14..]).unwrap();
    let header = ip.to_header();
    let payload = &frame[14 + header.header_len()..];
    let l4 = match header.protocol {
        etherparse::IpNumber::TCP => {
            let tcp = etherparse::TcpHeaderSlice::from_slice(payload).unwrap();
            let data = &payload[tcp.slice().len()..];
            tcp.to_header().calc_checksum_ipv4(&header, data).unwrap() == tcp.checksum()
        }
        _ => {
            let udp = etherparse::UdpHeaderSlice::from_slice(payload).unwrap();
            udp.checksum() == 0
                || udp
                    .to_header()
                    .calc_checksum_ipv4(&header, &payload[8..])
                    .unwrap()
                    == udp.checksum()
        }
    };
    header.calc_header_checksum() == header.header_checksum && l4
}

#[test]
fn a_translated_flow_is_rewritten_as_the_workers_rewrite_it_with_its_checksums_fixed() {
    let public = [198, 51, 100, 30];
    let rewrites = [
        // Leaving: the private source becomes the public one.
        FastRewrite::Source {
            address: public.into(),
            port: 1025,
        },
        // A reply from the Internet: the public destination becomes the
        // private one.
        FastRewrite::Destination {
            address: public.into(),
            port: 1025,
        },
    ];
    for rewrite in rewrites {
        let reference = match rewrite {
            FastRewrite::Source { address, port } => Rewrite::Source { address, port },
            FastRewrite::Destination { address, port } => Rewrite::Destination { address, port },
        };
        for (protocol, frame) in [
            (IPPROTO_UDP, udp4(SOURCE, DESTINATION, PORTS, 100)),
            (
                IPPROTO_TCP,
                tcp4(SOURCE, DESTINATION, PORTS, |b| b.psh(), 333),
            ),
        ] {
            let programs = one_port();
            let entry = translating(rewrite);
            programs.fabric().install(&key(protocol), entry).unwrap();
            let outcome = from_port(&programs, &frame, None);
            let what = format!("{rewrite:?}, protocol {protocol}");
            assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "{what}");
            assert_eq!(
                outcome.packet,
                translated_by_the_workers(&frame, reference),
                "{what}"
            );
            assert!(checksums_hold(&outcome.packet), "{what}");
            let counted = slot(&programs, SLOT);
            assert_eq!(
                (counted.packets, counted.bytes),
                (1, (frame.len() - 14) as u64),
                "{what}: counted once, as it was sent"
            );
        }
    }
}

#[test]
fn a_udp_datagram_without_a_checksum_keeps_none_when_translated() {
    let programs = one_port();
    let rewrite = FastRewrite::Source {
        address: [192, 0, 2, 1].into(),
        port: 1025,
    };
    let entry = translating(rewrite);
    programs.fabric().install(&key(IPPROTO_UDP), entry).unwrap();
    let mut frame = udp4(SOURCE, DESTINATION, PORTS, 100);
    frame[14 + 20 + 6..14 + 20 + 8].copy_from_slice(&[0, 0]);
    let outcome = from_port(&programs, &frame, None);
    assert_eq!(outcome.verdict, TC_ACT_REDIRECT);
    let reference = Rewrite::Source {
        address: [192, 0, 2, 1].into(),
        port: 1025,
    };
    assert_eq!(outcome.packet, translated_by_the_workers(&frame, reference));
    assert_eq!(&outcome.packet[14 + 20 + 6..14 + 20 + 8], &[0, 0]);
    assert!(checksums_hold(&outcome.packet));
}

fn echo_request(id: u16) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(super::SENDER_MAC, FABRIC_MAC)
        .ipv4(SOURCE, DESTINATION, 64)
        .icmpv4_echo_request(id, 7)
        .write(&mut out, &[0x5a; 56])
        .unwrap();
    out
}

#[test]
fn an_icmp_echo_keeps_its_identifier_and_has_its_address_translated() {
    const ID: u16 = 0x4242;
    let programs = one_port();
    let key = flow_key(1, SOURCE, DESTINATION, (ID, ID));
    let rewrite = |port| FastRewrite::Source {
        address: [198, 51, 100, 10].into(),
        port,
    };
    let entry = |port| translating(rewrite(port));
    programs.fabric().install(&key, entry(ID)).unwrap();
    let frame = echo_request(ID);
    let outcome = from_port(&programs, &frame, None);
    assert_eq!(outcome.verdict, TC_ACT_REDIRECT);
    let reference = Rewrite::Source {
        address: [198, 51, 100, 10].into(),
        port: ID,
    };
    assert_eq!(outcome.packet, translated_by_the_workers(&frame, reference));
    let ip = etherparse::Ipv4HeaderSlice::from_slice(&outcome.packet[14..])
        .unwrap()
        .to_header();
    assert_eq!(ip.calc_header_checksum(), ip.header_checksum);
    assert_eq!(
        &outcome.packet[34..],
        &frame[34..],
        "the echo itself, its checksum included, is unchanged"
    );
    assert_eq!(slot(&programs, SLOT).packets, 1);
    // An entry that would change the identifier is not the kernel's to
    // apply: the daemon takes the echo.
    let programs = one_port();
    programs.fabric().install(&key, entry(ID + 1)).unwrap();
    assert_slow(&programs, &frame, "an identifier the entry would change");
    // Nor is an echo of another identifier, which has no entry.
    let programs = one_port();
    programs.fabric().install(&key, entry(ID)).unwrap();
    assert_slow(&programs, &echo_request(ID + 1), "another identifier");
}

/// A TCP segment (with PSH) or a UDP datagram of `payload` bytes over
/// IPv6, from `src` to `dst`, sent by [`SENDER_MAC`] to the fabric.
fn l4_over_ipv6(
    protocol: u8,
    src: [u8; 16],
    dst: [u8; 16],
    ports: (u16, u16),
    payload: usize,
) -> Vec<u8> {
    let mut out = Vec::new();
    let ip = PacketBuilder::ethernet2(SENDER_MAC, FABRIC_MAC).ipv6(src, dst, 64);
    let payload = vec![0x5a; payload];
    match protocol {
        IPPROTO_TCP => ip
            .tcp(ports.0, ports.1, 1000, 65535)
            .ack(1)
            .psh()
            .write(&mut out, &payload),
        _ => ip.udp(ports.0, ports.1).write(&mut out, &payload),
    }
    .expect("building an IPv6 packet");
    out
}

/// Whether the TCP or UDP checksum of `frame` (an Ethernet frame of IPv6,
/// no extension headers) is right.
fn checksums_hold_v6(frame: &[u8]) -> bool {
    let ip = etherparse::Ipv6HeaderSlice::from_slice(&frame[14..])
        .unwrap()
        .to_header();
    let payload = &frame[14 + 40..];
    match ip.next_header {
        etherparse::IpNumber::TCP => {
            let tcp = etherparse::TcpHeaderSlice::from_slice(payload).unwrap();
            let data = &payload[tcp.slice().len()..];
            tcp.to_header().calc_checksum_ipv6(&ip, data).unwrap() == tcp.checksum()
        }
        _ => {
            let udp = etherparse::UdpHeaderSlice::from_slice(payload).unwrap();
            udp.to_header()
                .calc_checksum_ipv6(&ip, &payload[8..])
                .unwrap()
                == udp.checksum()
        }
    }
}

/// IPv6 TCP and UDP, translated by the kernel (a StandardV2 NAT
/// gateway's or a public IPv6 address's translation, a load balancer's
/// IPv6 frontend), against the workers' own translation of the same
/// packet: generated addresses, ports, sizes and rewrites, each packet
/// left exactly as the workers would write it, its checksum right, and
/// counted once.
#[test]
fn an_ipv6_translated_flow_is_rewritten_as_the_workers_rewrite_it() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let programs = one_port();
    let case = (
        prop_oneof![Just(IPPROTO_TCP), Just(IPPROTO_UDP)],
        any::<[u8; 16]>(),
        any::<[u8; 16]>(),
        (1u16.., 1u16..),
        0usize..1200,
        any::<bool>(),
        any::<[u8; 16]>(),
        1u16..,
    );
    let mut runner = TestRunner::new(Config {
        cases: 128,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(
            &case,
            |(protocol, mut src, mut dst, ports, payload, source, to, to_port)| {
                // Unicast both (link-scope multicast stays on the link).
                (src[0], dst[0]) = (0xfd, 0x20);
                let key = key6(protocol, src, dst, ports);
                let address = std::net::IpAddr::from(to);
                let (rewrite, reference) = if source {
                    (
                        FastRewrite::Source {
                            address,
                            port: to_port,
                        },
                        Rewrite::Source {
                            address,
                            port: to_port,
                        },
                    )
                } else {
                    (
                        FastRewrite::Destination {
                            address,
                            port: to_port,
                        },
                        Rewrite::Destination {
                            address,
                            port: to_port,
                        },
                    )
                };
                let entry = translating(rewrite);
                programs.fabric().install(&key, entry).unwrap();
                let before = slot(&programs, SLOT).packets;
                let frame = l4_over_ipv6(protocol, src, dst, ports, payload);
                let outcome = from_port(&programs, &frame, None);
                programs.fabric().remove(&key);
                prop_assert_eq!(outcome.verdict, TC_ACT_REDIRECT);
                prop_assert_eq!(
                    &outcome.packet,
                    &translated_by_the_workers(&frame, reference)
                );
                prop_assert!(checksums_hold_v6(&outcome.packet));
                prop_assert_eq!(slot(&programs, SLOT).packets, before + 1);
                Ok(())
            },
        )
        .unwrap();
}

/// An entry whose address is of the other family than its packet's is
/// never applied: the daemon takes the packet, unchanged and uncounted.
#[test]
fn a_rewrite_to_the_other_family_is_left_to_the_daemon() {
    let src = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4];
    let dst = [
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    for (protocol, frame, key, to) in [
        (
            IPPROTO_TCP,
            l4_over_ipv6(IPPROTO_TCP, src, dst, PORTS, 100),
            key6(IPPROTO_TCP, src, dst, PORTS),
            std::net::IpAddr::from([198, 51, 100, 10]),
        ),
        (
            IPPROTO_UDP,
            udp4(SOURCE, DESTINATION, PORTS, 100),
            key(IPPROTO_UDP),
            std::net::IpAddr::from(dst),
        ),
    ] {
        let programs = one_port();
        let entry = translating(FastRewrite::Source {
            address: to,
            port: 1025,
        });
        programs.fabric().install(&key, entry).unwrap();
        assert_slow(&programs, &frame, &format!("protocol {protocol} to {to}"));
    }
}

/// An ICMPv6 echo request from `src` to `dst` with identifier `id`, sent
/// by [`SENDER_MAC`] to the fabric.
fn echo6_request(src: [u8; 16], dst: [u8; 16], id: u16) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(SENDER_MAC, FABRIC_MAC)
        .ipv6(src, dst, 64)
        .icmpv6_echo_request(id, 7)
        .write(&mut out, &[0x5a; 56])
        .unwrap();
    out
}

/// Whether the ICMPv6 checksum of `frame` (an Ethernet frame of IPv6, no
/// extension headers) is right.
fn icmpv6_checksum_holds(frame: &[u8]) -> bool {
    let ip = etherparse::Ipv6HeaderSlice::from_slice(&frame[14..])
        .unwrap()
        .to_header();
    let icmp = etherparse::Icmpv6Slice::from_slice(&frame[14 + 40..]).unwrap();
    let header = icmp.header();
    header
        .icmp_type
        .calc_checksum(ip.source, ip.destination, icmp.payload())
        .unwrap()
        == header.checksum
}

/// An ICMPv6 echo through a StandardV2 NAT gateway: its address rewritten
/// either way as the workers rewrite it, its identifier kept, its
/// checksum (which covers the addresses) right; an entry that would
/// change the identifier, or another identifier, is the daemon's.
#[test]
fn an_icmpv6_echo_keeps_its_identifier_and_has_its_address_translated() {
    const ID: u16 = 0x4242;
    let private = [0xfd, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 4];
    let public = [
        0x20, 0x01, 0x0d, 0xb8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let remote = [
        0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    // Out: the private source becomes the public one; back: the public
    // destination becomes the private one.
    let ways = [
        (
            private,
            remote,
            Rewrite::Source {
                address: public.into(),
                port: ID,
            },
        ),
        (
            remote,
            public,
            Rewrite::Destination {
                address: private.into(),
                port: ID,
            },
        ),
    ];
    for (src, dst, reference) in ways {
        let key = |id| key6(58, src, dst, (id, id));
        let entry = |port| {
            translating(match reference {
                Rewrite::Source { address, .. } => FastRewrite::Source { address, port },
                Rewrite::Destination { address, .. } => FastRewrite::Destination { address, port },
            })
        };
        let frame = echo6_request(src, dst, ID);
        let programs = one_port();
        programs.fabric().install(&key(ID), entry(ID)).unwrap();
        let outcome = from_port(&programs, &frame, None);
        let what = format!("{reference:?}");
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "{what}");
        assert_eq!(
            outcome.packet,
            translated_by_the_workers(&frame, reference),
            "{what}"
        );
        assert!(icmpv6_checksum_holds(&outcome.packet), "{what}");
        assert_eq!(slot(&programs, SLOT).packets, 1, "{what}");
        let programs = one_port();
        programs.fabric().install(&key(ID), entry(ID + 1)).unwrap();
        assert_slow(&programs, &frame, "an identifier the entry would change");
        let programs = one_port();
        programs.fabric().install(&key(ID), entry(ID)).unwrap();
        assert_slow(
            &programs,
            &echo6_request(src, dst, ID + 1),
            "another identifier",
        );
    }
}

/// An IPv6 UDP datagram with a checksum of zero, which IPv6 forbids, is
/// left to the daemon rather than rewritten.
#[test]
fn an_ipv6_datagram_without_a_checksum_is_left_to_the_daemon() {
    let src = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4];
    let dst = [
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let programs = one_port();
    let key = key6(IPPROTO_UDP, src, dst, PORTS);
    let entry = translating(FastRewrite::Source {
        address: [
            0x20, 0x01, 0x0d, 0xb8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ]
        .into(),
        port: 1025,
    });
    programs.fabric().install(&key, entry).unwrap();
    let mut frame = l4_over_ipv6(IPPROTO_UDP, src, dst, PORTS, 100);
    frame[14 + 40 + 6..14 + 40 + 8].copy_from_slice(&[0, 0]);
    assert_slow(&programs, &frame, "a zero checksum");
    // With its checksum, the same datagram is carried.
    let frame = l4_over_ipv6(IPPROTO_UDP, src, dst, PORTS, 100);
    assert_eq!(from_port(&programs, &frame, None).verdict, TC_ACT_REDIRECT);
    assert_eq!(slot(&programs, SLOT).packets, 1);
}
