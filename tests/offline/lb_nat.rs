//! The load balancer's translation on real packets: a destination rewritten
//! to a backend and the reply's source rewritten back leave every checksum
//! valid (as etherparse computes it from scratch), and rewriting there and
//! back gives the original bytes. Packets whose transport checksum is left
//! to the receiver (virtio-net `NEEDS_CSUM`, every GSO super-packet) keep
//! the pseudo-header sum of their new addresses.

use etherparse::{NetHeaders, PacketBuilder, PacketHeaders, TransportHeader};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use vnetd::dataplane::nat::{translate, Rewrite};
use vnetd::dataplane::PacketView;

const PAYLOAD: &[u8] = b"GET / HTTP/1.1\r\nHost: web\r\n\r\n";

fn v4(s: &str) -> [u8; 4] {
    s.parse::<Ipv4Addr>().unwrap().octets()
}

fn v6(s: &str) -> [u8; 16] {
    s.parse::<Ipv6Addr>().unwrap().octets()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Each kind of packet a load balancer translates, client 10.1.0.4:40000
/// (or 2001:db8:1::4) to frontend 10.0.2.100:80 (or 2001:db8::100).
fn packets() -> Vec<(&'static str, Vec<u8>)> {
    let (c4, f4) = (v4("10.1.0.4"), v4("10.0.2.100"));
    let (c6, f6) = (v6("2001:db8:1::4"), v6("2001:db8::100"));
    let build = |builder: PacketBuilderStepAny| {
        let mut out = Vec::new();
        match builder {
            PacketBuilderStepAny::Tcp(b) => b.write(&mut out, PAYLOAD).unwrap(),
            PacketBuilderStepAny::Udp(b) => b.write(&mut out, PAYLOAD).unwrap(),
            PacketBuilderStepAny::Icmp4(b) => b.write(&mut out, PAYLOAD).unwrap(),
            PacketBuilderStepAny::Icmp6(b) => b.write(&mut out, PAYLOAD).unwrap(),
        }
        out
    };
    vec![
        (
            "tcp4",
            build(PacketBuilderStepAny::Tcp(
                PacketBuilder::ipv4(c4, f4, 64)
                    .tcp(40000, 80, 7, 64240)
                    .syn(),
            )),
        ),
        (
            "udp4",
            build(PacketBuilderStepAny::Udp(
                PacketBuilder::ipv4(c4, f4, 64).udp(40000, 53),
            )),
        ),
        (
            "icmp4",
            build(PacketBuilderStepAny::Icmp4(
                PacketBuilder::ipv4(c4, f4, 64).icmpv4_echo_request(9, 1),
            )),
        ),
        (
            "tcp6",
            build(PacketBuilderStepAny::Tcp(
                PacketBuilder::ipv6(c6, f6, 64)
                    .tcp(40000, 80, 7, 64240)
                    .ack(1),
            )),
        ),
        (
            "udp6",
            build(PacketBuilderStepAny::Udp(
                PacketBuilder::ipv6(c6, f6, 64).udp(40000, 53),
            )),
        ),
        (
            "icmp6",
            build(PacketBuilderStepAny::Icmp6(
                PacketBuilder::ipv6(c6, f6, 64).icmpv6_echo_request(9, 1),
            )),
        ),
    ]
}

enum PacketBuilderStepAny {
    Tcp(etherparse::PacketBuilderStep<etherparse::TcpHeader>),
    Udp(etherparse::PacketBuilderStep<etherparse::UdpHeader>),
    Icmp4(etherparse::PacketBuilderStep<etherparse::Icmpv4Header>),
    Icmp6(etherparse::PacketBuilderStep<etherparse::Icmpv6Header>),
}

/// Every checksum of `packet` as etherparse computes it afresh, against
/// the packet's own fields: `Err` names the first that differs.
fn checksums_valid(packet: &[u8]) -> Result<(), String> {
    let headers = PacketHeaders::from_ip_slice(packet).map_err(|e| e.to_string())?;
    let payload = headers.payload.slice();
    match (&headers.net, &headers.transport) {
        (Some(NetHeaders::Ipv4(ip4, _)), transport) => {
            if ip4.header_checksum != ip4.calc_header_checksum() {
                return Err("IPv4 header".into());
            }
            match transport {
                Some(TransportHeader::Tcp(t)) => (t.checksum
                    == t.calc_checksum_ipv4(ip4, payload).unwrap())
                .then_some(())
                .ok_or("TCP".to_string()),
                Some(TransportHeader::Udp(u)) => (u.checksum
                    == u.calc_checksum_ipv4(ip4, payload).unwrap())
                .then_some(())
                .ok_or("UDP".to_string()),
                Some(TransportHeader::Icmpv4(i)) => (i.checksum
                    == i.icmp_type.calc_checksum(payload))
                .then_some(())
                .ok_or("ICMPv4".to_string()),
                other => Err(format!("unexpected transport {other:?}")),
            }
        }
        (Some(NetHeaders::Ipv6(ip6, _)), transport) => match transport {
            Some(TransportHeader::Tcp(t)) => (t.checksum
                == t.calc_checksum_ipv6(ip6, payload).unwrap())
            .then_some(())
            .ok_or("TCP".to_string()),
            Some(TransportHeader::Udp(u)) => (u.checksum
                == u.calc_checksum_ipv6(ip6, payload).unwrap())
            .then_some(())
            .ok_or("UDP".to_string()),
            Some(TransportHeader::Icmpv6(i)) => (i.checksum
                == i.icmp_type
                    .calc_checksum(ip6.source, ip6.destination, payload)
                    .unwrap())
            .then_some(())
            .ok_or("ICMPv6".to_string()),
            other => Err(format!("unexpected transport {other:?}")),
        },
        other => Err(format!("unexpected network header {other:?}")),
    }
}

fn backend_of(packet: &[u8]) -> IpAddr {
    if packet[0] >> 4 == 4 {
        ip("10.0.2.5")
    } else {
        ip("2001:db8::5")
    }
}

#[test]
fn the_built_packets_are_valid_to_start_with() {
    for (name, packet) in packets() {
        assert_eq!(checksums_valid(&packet), Ok(()), "{name}");
    }
}

#[test]
fn destination_translation_and_back_keeps_checksums_and_round_trips() {
    for (name, original) in packets() {
        let view = PacketView::parse(&original).unwrap();
        let frontend = (view.key.dst, view.flow_ports.1);
        let backend = backend_of(&original);
        let mut packet = original.clone();
        // To the backend, on port 8080 (ICMP keeps its identifier).
        let there = Rewrite::Destination {
            address: backend,
            port: 8080,
        };
        translate(&mut packet, there, false).unwrap();
        assert_eq!(checksums_valid(&packet), Ok(()), "{name} translated");
        let seen = PacketView::parse(&packet).unwrap();
        assert_eq!(seen, view.translated(there), "{name}: the view agrees");
        assert_eq!(seen.key.dst, backend, "{name}");
        assert_eq!(seen.key.src, view.key.src, "{name}: the client is kept");
        if view.key.dst_port.is_some() {
            assert_eq!(seen.key.dst_port, Some(8080), "{name}");
        }
        // And back: the same bytes as before.
        let back = Rewrite::Destination {
            address: frontend.0,
            port: frontend.1,
        };
        translate(&mut packet, back, false).unwrap();
        assert_eq!(packet, original, "{name} round trip");
    }
}

#[test]
fn a_reply_translated_back_to_the_frontend_is_valid() {
    for (name, request) in packets() {
        let view = PacketView::parse(&request).unwrap();
        let backend = backend_of(&request);
        // The backend's reply as it sends it: from itself to the client.
        let mut reply = request.clone();
        translate(
            &mut reply,
            Rewrite::Destination {
                address: view.key.src,
                port: view.flow_ports.0,
            },
            false,
        )
        .unwrap();
        translate(
            &mut reply,
            Rewrite::Source {
                address: backend,
                port: 8080,
            },
            false,
        )
        .unwrap();
        assert_eq!(checksums_valid(&reply), Ok(()), "{name} reply as sent");
        // The load balancer puts the frontend back as its source.
        translate(
            &mut reply,
            Rewrite::Source {
                address: view.key.dst,
                port: view.flow_ports.1,
            },
            false,
        )
        .unwrap();
        assert_eq!(checksums_valid(&reply), Ok(()), "{name} reply translated");
        let seen = PacketView::parse(&reply).unwrap();
        assert_eq!(seen.key.src, view.key.dst, "{name}");
        assert_eq!(seen.key.dst, view.key.src, "{name}");
        if view.key.src_port.is_some() {
            assert_eq!(seen.key.src_port, view.key.dst_port, "{name}");
        }
    }
}

/// The ones' complement sum (folded, not complemented) of the pseudo-header
/// of a TCP or UDP packet: what its checksum field holds when the checksum
/// is left to the receiver.
fn pseudo_header_sum(packet: &[u8]) -> u16 {
    let v4 = packet[0] >> 4 == 4;
    let (addresses, proto, len) = if v4 {
        let ihl = usize::from(packet[0] & 0xf) * 4;
        (&packet[12..20], packet[9], packet.len() - ihl)
    } else {
        (&packet[8..40], packet[6], packet.len() - 40)
    };
    let mut sum: u32 = addresses
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    sum += u32::from(proto);
    sum += (len as u32 >> 16) + (len as u32 & 0xffff);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[test]
fn a_partial_checksum_keeps_the_pseudo_header_sum_of_the_new_addresses() {
    for (name, original) in packets() {
        let proto = PacketView::parse(&original).unwrap().key.proto;
        let check_at = match proto {
            6 => 16,
            17 => 6,
            _ => continue,
        };
        let transport = if original[0] >> 4 == 4 {
            usize::from(original[0] & 0xf) * 4
        } else {
            40
        };
        // As the sending kernel leaves it with checksum offload.
        let mut packet = original.clone();
        let partial = pseudo_header_sum(&packet);
        packet[transport + check_at..transport + check_at + 2]
            .copy_from_slice(&partial.to_be_bytes());
        translate(
            &mut packet,
            Rewrite::Destination {
                address: backend_of(&original),
                port: 8080,
            },
            true,
        )
        .unwrap();
        let field = u16::from_be_bytes([
            packet[transport + check_at],
            packet[transport + check_at + 1],
        ]);
        assert_eq!(field, pseudo_header_sum(&packet), "{name}");
        assert_eq!(
            u16::from_be_bytes([packet[transport + 2], packet[transport + 3]]),
            8080,
            "{name}: the port is rewritten"
        );
        if original[0] >> 4 == 4 {
            let headers = PacketHeaders::from_ip_slice(&packet).unwrap();
            let Some(NetHeaders::Ipv4(ip4, _)) = headers.net else {
                unreachable!()
            };
            assert_eq!(ip4.header_checksum, ip4.calc_header_checksum(), "{name}");
        }
    }
}

#[test]
fn an_ipv4_udp_packet_without_checksum_stays_without() {
    let mut packet = Vec::new();
    PacketBuilder::ipv4(v4("10.1.0.4"), v4("10.0.2.100"), 64)
        .udp(40000, 53)
        .write(&mut packet, PAYLOAD)
        .unwrap();
    packet[20 + 6] = 0;
    packet[20 + 7] = 0;
    translate(
        &mut packet,
        Rewrite::Destination {
            address: ip("10.0.2.5"),
            port: 5353,
        },
        false,
    )
    .unwrap();
    assert_eq!(&packet[26..28], &[0, 0]);
    assert_eq!(&packet[22..24], &5353u16.to_be_bytes());
    assert_eq!(&packet[16..20], &v4("10.0.2.5"));
}

#[test]
fn an_address_of_the_other_family_or_a_broken_packet_is_refused() {
    let (_, mut packet) = packets().remove(0);
    let before = packet.clone();
    let wrong = Rewrite::Destination {
        address: ip("2001:db8::5"),
        port: 80,
    };
    assert!(translate(&mut packet, wrong, false).is_err());
    assert_eq!(packet, before, "a refused rewrite changes nothing");
    let mut short = before[..10].to_vec();
    let rewrite = Rewrite::Destination {
        address: ip("10.0.2.5"),
        port: 80,
    };
    assert!(translate(&mut short, rewrite, false).is_err());
}
