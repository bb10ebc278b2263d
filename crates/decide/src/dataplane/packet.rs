//! A parsed view of one IP packet as the fabric sees it: addresses,
//! protocol, ports (TCP/UDP) or echo identifier (ICMP), with no copy and no
//! allocation. Headers are sliced with `etherparse`; anything it refuses is
//! malformed and dropped by the caller.
//!
//! Packets may be GSO super-packets (up to 64 KiB of TCP or UDP with one
//! header): they are described once, exactly like a single segment, and
//! [`PacketView::segmented`] says how many packets they stand for on the
//! wire, which is what every counter counts.

use super::nat::Rewrite;
use crate::engine::classifier::PacketKey;
use crate::engine::flow_table::Traffic;
use crate::topology::{IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP};
use etherparse::{IpSlice, Ipv6ExtensionSlice};

/// TCP flag bits as they appear in [`PacketView::tcp_flags`].
pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_ACK: u8 = 0x10;

/// Protocols the Azure fabric does not carry (GRE, IP-in-IP, IPv6-in-IP).
const BLOCKED_PROTOCOLS: [u8; 3] = [47, 4, 41];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketView {
    /// What NSG rules look at (ports only for TCP/UDP first fragments).
    pub key: PacketKey,
    /// Ports as connection tracking sees them: TCP/UDP ports, or the echo
    /// identifier on both sides for ICMP echo, so a reply maps to its request.
    pub flow_ports: (u16, u16),
    /// The TCP flags byte (FIN, SYN, RST, ...); 0 when the packet is not
    /// TCP or not the first fragment. Lets connection tracking end a flow
    /// when its connection closes.
    pub tcp_flags: u8,
    /// True for protocols Azure blocks (GRE, IP-in-IP).
    pub blocked_protocol: bool,
    /// True for broadcast, multicast and other destinations Azure never
    /// delivers (layer 3 only).
    pub unroutable_destination: bool,
    /// IP bytes on the wire: the packet's length, or for a super-packet
    /// the lengths of the segments it stands for, each with its headers.
    pub len: usize,
    /// Packets on the wire: 1, or the segments (TCP) or datagrams (UDP) of
    /// a super-packet ([`PacketView::segmented`]).
    pub packets: u32,
    /// The IP and transport headers every segment repeats (IP header with
    /// options or extensions, then the TCP or UDP header); 0 when the
    /// packet is neither TCP nor UDP, or is a fragment.
    pub headers_len: u16,
    /// Set when the packet is a fragment of a larger datagram.
    pub fragment: Option<Fragment>,
}

/// A fragment's place in its datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment {
    /// The datagram's identification (16 bits in IPv4, 32 in IPv6).
    pub ident: u32,
    /// Offset 0: this fragment holds the transport header.
    pub first: bool,
}

impl PacketView {
    /// The view of a later fragment with its datagram's ports (those its
    /// first fragment carried), so that it is judged as the first was.
    pub fn with_datagram_ports(&self, ports: (u16, u16)) -> PacketView {
        let mut view = *self;
        view.flow_ports = ports;
        if matches!(view.key.proto, IPPROTO_TCP | IPPROTO_UDP) {
            view.key.src_port = Some(ports.0);
            view.key.dst_port = Some(ports.1);
        }
        view
    }

    /// The view of this packet after `rewrite` (a load balancer's
    /// translation of one end: address, and port for TCP and UDP).
    #[inline]
    pub fn translated(&self, rewrite: Rewrite) -> PacketView {
        let mut view = *self;
        let ports = matches!(view.key.proto, IPPROTO_TCP | IPPROTO_UDP);
        match rewrite {
            Rewrite::Destination { address, port } => {
                view.key.dst = address;
                if ports {
                    view.key.dst_port = Some(port);
                    view.flow_ports.1 = port;
                }
            }
            Rewrite::Source { address, port } => {
                view.key.src = address;
                if ports {
                    view.key.src_port = Some(port);
                    view.flow_ports.0 = port;
                }
            }
        }
        view
    }

    /// The packet as it is counted: its wire packets and bytes.
    #[inline]
    pub fn traffic(&self) -> Traffic {
        Traffic {
            packets: u64::from(self.packets),
            bytes: self.len as u64,
        }
    }

    /// The view of a GSO super-packet whose segments carry `gso_size` bytes
    /// of transport payload each (the virtio-net header's `gso_size`; 0 for
    /// a packet that is not one): it stands for that many TCP segments or
    /// UDP datagrams, the last one shorter, each with its own copy of the
    /// headers. Packets that are not TCP or UDP, and fragments, are one
    /// packet whatever the header says.
    #[inline]
    pub fn segmented(mut self, gso_size: u16) -> PacketView {
        let headers = usize::from(self.headers_len);
        if gso_size == 0 || headers == 0 {
            return self;
        }
        let payload = self.len.saturating_sub(headers);
        let segments = payload.div_ceil(usize::from(gso_size)).max(1);
        self.packets = u32::try_from(segments).unwrap_or(u32::MAX);
        self.len = payload + segments * headers;
        self
    }

    /// True for fragments whose ports matter to connection tracking (TCP,
    /// UDP, and ICMP echo through its identifier).
    pub fn fragment_needs_ports(&self) -> bool {
        matches!(
            self.key.proto,
            IPPROTO_TCP | IPPROTO_UDP | IPPROTO_ICMP | IPPROTO_ICMPV6
        )
    }
}

/// Why a packet could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

impl PacketView {
    pub fn parse(packet: &[u8]) -> Result<PacketView, Malformed> {
        let ip = IpSlice::from_slice(packet).map_err(|_| Malformed)?;
        let payload = ip.payload();
        let proto = payload.ip_number.0;
        let src = ip.source_addr();
        let dst = ip.destination_addr();
        // Only the first fragment carries the transport header.
        let fragment = if payload.fragmented {
            match &ip {
                IpSlice::Ipv4(v4) => Some(Fragment {
                    ident: u32::from(v4.header().identification()),
                    first: v4.header().fragments_offset().value() == 0,
                }),
                IpSlice::Ipv6(v6) => {
                    v6.extensions()
                        .clone()
                        .into_iter()
                        .find_map(|ext| match ext {
                            Ipv6ExtensionSlice::Fragment(f) => Some(Fragment {
                                ident: f.identification(),
                                first: f.fragment_offset().value() == 0,
                            }),
                            _ => None,
                        })
                }
            }
        } else {
            None
        };
        let first_fragment = fragment.is_none_or(|f| f.first);
        let data = payload.payload;
        let (ports, flow_ports) = match proto {
            IPPROTO_TCP | IPPROTO_UDP if first_fragment => {
                let s = be16(data, 0).ok_or(Malformed)?;
                let d = be16(data, 2).ok_or(Malformed)?;
                ((Some(s), Some(d)), (s, d))
            }
            IPPROTO_ICMP | IPPROTO_ICMPV6 if first_fragment => {
                let kind = *data.first().ok_or(Malformed)?;
                let echo = matches!(
                    (proto, kind),
                    (IPPROTO_ICMP, 0 | 8) | (IPPROTO_ICMPV6, 128 | 129)
                );
                let id = if echo {
                    be16(data, 4).ok_or(Malformed)?
                } else {
                    0
                };
                ((None, None), (id, id))
            }
            _ => ((None, None), (0, 0)),
        };
        // Byte 13 of the TCP header; a header too short to hold it is left
        // to the endpoints (the ports were readable, so the NSGs can judge).
        let tcp_flags = match proto {
            IPPROTO_TCP if first_fragment => data.get(13).copied().unwrap_or(0),
            _ => 0,
        };
        // What each segment of a super-packet repeats: the IP header (the
        // transport data starts right after it) and the transport header.
        let transport_header = match proto {
            IPPROTO_TCP if fragment.is_none() => data.get(12).map(|b| usize::from(b >> 4) * 4),
            IPPROTO_UDP if fragment.is_none() => Some(8),
            _ => None,
        };
        let ip_header = (data.as_ptr() as usize).saturating_sub(packet.as_ptr() as usize);
        let headers_len = transport_header
            .filter(|&t| t <= data.len())
            .and_then(|t| u16::try_from(ip_header + t).ok())
            .unwrap_or(0);
        let unroutable_destination = match dst {
            std::net::IpAddr::V4(a) => a.is_multicast() || a.is_broadcast() || a.is_unspecified(),
            std::net::IpAddr::V6(a) => a.is_multicast() || a.is_unspecified(),
        };
        Ok(PacketView {
            key: PacketKey {
                proto,
                src,
                dst,
                src_port: ports.0,
                dst_port: ports.1,
            },
            flow_ports,
            tcp_flags,
            blocked_protocol: BLOCKED_PROTOCOLS.contains(&proto),
            unroutable_destination,
            len: packet.len(),
            packets: 1,
            headers_len,
            fragment,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn udp4() -> Vec<u8> {
        let b = PacketBuilder::ipv4([10, 1, 1, 4], [10, 2, 1, 4], 64).udp(5000, 53);
        let mut out = Vec::new();
        b.write(&mut out, b"hello").unwrap();
        out
    }

    #[test]
    fn udp_ports_and_addresses() {
        let v = PacketView::parse(&udp4()).unwrap();
        assert_eq!(v.key.proto, IPPROTO_UDP);
        assert_eq!(v.key.src, "10.1.1.4".parse::<std::net::IpAddr>().unwrap());
        assert_eq!(v.key.dst, "10.2.1.4".parse::<std::net::IpAddr>().unwrap());
        assert_eq!((v.key.src_port, v.key.dst_port), (Some(5000), Some(53)));
        assert_eq!(v.flow_ports, (5000, 53));
        assert!(!v.blocked_protocol && !v.unroutable_destination);
    }

    #[test]
    fn tcp_flags_are_read_and_zero_for_other_protocols() {
        let mut out = Vec::new();
        PacketBuilder::ipv4([10, 1, 1, 4], [10, 2, 1, 4], 64)
            .tcp(40000, 7400, 1, 1024)
            .fin()
            .ack(7)
            .write(&mut out, b"bye")
            .unwrap();
        let v = PacketView::parse(&out).unwrap();
        assert_eq!(v.tcp_flags, TCP_FIN | TCP_ACK);
        let mut syn = Vec::new();
        PacketBuilder::ipv4([10, 1, 1, 4], [10, 2, 1, 4], 64)
            .tcp(40000, 7400, 1, 1024)
            .syn()
            .write(&mut syn, &[])
            .unwrap();
        assert_eq!(PacketView::parse(&syn).unwrap().tcp_flags, TCP_SYN);
        assert_eq!(PacketView::parse(&udp4()).unwrap().tcp_flags, 0);
    }

    #[test]
    fn icmp_echo_uses_its_identifier_and_no_ports() {
        let b = PacketBuilder::ipv6(
            "fd00::4".parse::<std::net::Ipv6Addr>().unwrap().octets(),
            "fd00::5".parse::<std::net::Ipv6Addr>().unwrap().octets(),
            64,
        )
        .icmpv6_echo_request(0x1234, 1);
        let mut out = Vec::new();
        b.write(&mut out, b"ping").unwrap();
        let v = PacketView::parse(&out).unwrap();
        assert_eq!(v.key.proto, IPPROTO_ICMPV6);
        assert_eq!((v.key.src_port, v.key.dst_port), (None, None));
        assert_eq!(v.flow_ports, (0x1234, 0x1234));
    }

    #[test]
    fn truncated_and_garbage_are_malformed() {
        let p = udp4();
        for cut in 0..28 {
            assert_eq!(PacketView::parse(&p[..cut]), Err(Malformed), "cut at {cut}");
        }
        assert_eq!(PacketView::parse(&[0x60; 3]), Err(Malformed));
        assert_eq!(PacketView::parse(&[0x10; 40]), Err(Malformed));
    }

    /// An IPv6 packet with a fragment header in front of a UDP header.
    fn udp6_fragment(offset_units: u16, more: bool) -> Vec<u8> {
        let mut udp = Vec::new();
        PacketBuilder::ipv6(
            [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4],
            [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5],
            64,
        )
        .udp(5000, 53)
        .write(&mut udp, b"fragmented")
        .unwrap();
        let (header, payload) = udp.split_at(40);
        let mut out = header.to_vec();
        out[6] = 44; // next header: fragment
        let len = (payload.len() + 8) as u16;
        out[4..6].copy_from_slice(&len.to_be_bytes());
        let frag = (offset_units << 3) | u16::from(more);
        out.extend_from_slice(&[17, 0]);
        out.extend_from_slice(&frag.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn ipv6_first_fragment_carries_ports_later_ones_do_not() {
        let first = PacketView::parse(&udp6_fragment(0, true)).unwrap();
        assert_eq!(
            (first.key.src_port, first.key.dst_port),
            (Some(5000), Some(53))
        );
        let later = PacketView::parse(&udp6_fragment(4, false)).unwrap();
        assert_eq!((later.key.src_port, later.key.dst_port), (None, None));
    }

    #[test]
    fn multicast_and_gre_are_flagged() {
        let mut p = udp4();
        p[16..20].copy_from_slice(&[224, 0, 0, 1]);
        // The checksum is not checked here; the fabric reads headers only.
        assert!(PacketView::parse(&p).unwrap().unroutable_destination);
        let mut gre = udp4();
        gre[9] = 47;
        assert!(PacketView::parse(&gre).unwrap().blocked_protocol);
    }

    /// The segments a super-packet is cut into, the simple way: the payload
    /// in `gso_size` pieces, each behind its own copy of the headers.
    fn segments_of(packet: &[u8], headers: usize, gso_size: usize) -> Vec<usize> {
        packet[headers..]
            .chunks(gso_size)
            .map(|piece| headers + piece.len())
            .collect()
    }

    fn assert_counts_like_its_segments(packet: &[u8], headers: usize, gso_size: u16) {
        let view = PacketView::parse(packet).unwrap();
        assert_eq!(usize::from(view.headers_len), headers);
        let segments = segments_of(packet, headers, usize::from(gso_size));
        let counted = view.segmented(gso_size).traffic();
        assert_eq!(counted.packets, segments.len() as u64);
        assert_eq!(counted.bytes, segments.iter().sum::<usize>() as u64);
    }

    #[test]
    fn a_tcp_super_packet_counts_as_its_segments() {
        // IPv4, and a TCP header with timestamps: 20 + 32 bytes a segment.
        let payload = vec![0xab; 64_000];
        let mut v4 = Vec::new();
        PacketBuilder::ipv4([10, 1, 1, 4], [10, 0, 2, 4], 64)
            .tcp(40000, 5201, 1, 1024)
            .options(&[etherparse::TcpOptionElement::Timestamp(1, 2)])
            .unwrap()
            .write(&mut v4, &payload)
            .unwrap();
        assert_counts_like_its_segments(&v4, 52, 1448);
        // IPv6 without options: 40 + 20, the last segment shorter.
        let mut v6 = Vec::new();
        PacketBuilder::ipv6([0x20; 16], [0x21; 16], 64)
            .tcp(40000, 5201, 1, 1024)
            .write(&mut v6, &payload[..10_001])
            .unwrap();
        assert_counts_like_its_segments(&v6, 60, 1440);
    }

    #[test]
    fn a_udp_super_packet_counts_as_its_datagrams() {
        let payload = vec![7; 50 * 1200];
        let mut v4 = Vec::new();
        PacketBuilder::ipv4([10, 1, 1, 4], [10, 2, 1, 4], 64)
            .udp(5000, 9999)
            .write(&mut v4, &payload)
            .unwrap();
        assert_counts_like_its_segments(&v4, 28, 1200);
        let mut v6 = Vec::new();
        PacketBuilder::ipv6([0x20; 16], [0x21; 16], 64)
            .udp(5000, 9999)
            .write(&mut v6, &payload[..1200 * 7 + 5])
            .unwrap();
        assert_counts_like_its_segments(&v6, 48, 1200);
    }

    #[test]
    fn packets_that_are_not_super_packets_count_once() {
        let plain = PacketView::parse(&udp4()).unwrap();
        assert_eq!(plain.segmented(0).traffic(), Traffic::packet(33));
        // ICMP and fragments carry no segmentation, whatever a header says.
        let mut ping = Vec::new();
        PacketBuilder::ipv4([10, 1, 1, 4], [10, 2, 1, 4], 64)
            .icmpv4_echo_request(1, 1)
            .write(&mut ping, &[0; 3000])
            .unwrap();
        let view = PacketView::parse(&ping).unwrap();
        assert_eq!(view.segmented(1400).traffic(), Traffic::packet(3028));
        let fragment = PacketView::parse(&udp6_fragment(0, true)).unwrap();
        assert_eq!(
            fragment.segmented(8).traffic(),
            Traffic::packet(fragment.len as u64)
        );
    }
}
