//! UDP segmentation offload on the way out: consecutive datagrams of one
//! flow that the daemon forwards to one egress are written as a single
//! UDP super-packet (the virtio-net header's `GSO_UDP_L4`, "USO"), which
//! the receiving kernel takes whole through its IP layer and splits only
//! when it queues the datagrams on the socket. One write then stands for
//! up to [`MAX_SEGMENTS`] datagrams. It changes no byte a receiver reads:
//! every datagram keeps its payload, its addresses, ports, TTL and DSCP,
//! and gets its own correct checksum from the kernel. The receiving
//! device counts the run as one packet, though: the daemon joins runs only
//! for the ports that are not a VM's NIC (gateways, sites, probers), whose
//! device counters no guest reads as its NIC's.
//!
//! TCP needs no such help: a sender's kernel already hands TCP to its TUN
//! as segmentation-offload super-packets, which cross the fabric whole.
//!
//! Only plain datagrams are joined: no GSO of their own, IPv4 without
//! options or fragmentation, IPv6 without extension headers, the UDP length
//! matching the IP length. A run ends at the first datagram shorter than
//! the others (the kernel's segments are all `gso_size` long but the last),
//! at [`MAX_SEGMENTS`], or before the IP length would pass 65,535 bytes.
//!
//! The packets handled here are the bytes a TUN queue moves: a
//! [`VIRTIO_NET_HDR_LEN`]-byte `virtio_net_hdr`, then the IP packet. The
//! caller owns the writing; [`UdpCoalescer`] holds one run at a time in a
//! buffer allocated once.

use super::checksum::{fold, set_ipv4_header_checksum, sum16};
use crate::net::IPPROTO_UDP;
use tun_rs::{VirtioNetHdr, VIRTIO_NET_HDR_GSO_UDP_L4};

/// Length of the `virtio_net_hdr` (without `num_buffers`) in front of
/// every packet.
pub const VIRTIO_NET_HDR_LEN: usize = tun_rs::VIRTIO_NET_HDR_LEN;
/// Most datagrams joined into one super-packet. The kernel takes up to 128
/// (`UDP_MAX_SEGMENTS`). Longer runs save writes but arrive at the
/// receiving socket all at once: 64 lost more at 2 Gbit/s than 32
/// (`benchmarks/throughput.md`), when a receiver with the default 208 KiB buffer fell
/// behind.
pub const MAX_SEGMENTS: usize = 32;
/// The header's flag for a transport checksum left to the receiver
/// (`VIRTIO_NET_HDR_F_NEEDS_CSUM`, which `tun-rs` does not export).
pub const F_NEEDS_CSUM: u8 = 1;
/// `gso_type` of a packet without segmentation offload
/// (`VIRTIO_NET_HDR_GSO_NONE`, which `tun-rs` does not export).
const GSO_NONE: u8 = 0;
const UDP_HEADER_LEN: usize = 8;
/// Offset of the checksum within the UDP header.
const UDP_CHECKSUM_OFFSET: usize = 6;
/// Largest IPv4 total length, and largest IPv6 payload length.
const MAX_IP_LENGTH: usize = 65_535;

/// Where a datagram's headers are, and what makes two datagrams one flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Datagram {
    /// Length of the IP header (20 for IPv4, 40 for IPv6).
    ip_header_len: usize,
    /// Length of the UDP payload.
    payload_len: usize,
    ipv6: bool,
}

/// The `virtio_net_hdr` at the start of `packet`, `None` when the packet is
/// shorter than one. The length is checked first, so the header is read
/// without the error `VirtioNetHdr::decode` would build for a short buffer.
#[inline]
pub fn vnet_header(packet: &[u8]) -> Option<VirtioNetHdr> {
    VirtioNetHdr::decode(packet.get(..VIRTIO_NET_HDR_LEN)?).ok()
}

/// Reads `packet` (header and IP packet) as a datagram that may join a run,
/// or `None`.
fn plain_datagram(packet: &[u8]) -> Option<Datagram> {
    if vnet_header(packet)?.gso_type != GSO_NONE {
        return None;
    }
    let ip = &packet[VIRTIO_NET_HDR_LEN..];
    let (ip_header_len, ipv6) = match ip.first()? >> 4 {
        4 => {
            let header = ip.get(..20)?;
            let total = usize::from(u16::from_be_bytes([header[2], header[3]]));
            let fragmented = u16::from_be_bytes([header[6], header[7]]) & 0x3fff != 0;
            if header[0] & 0x0f != 5 || total != ip.len() || fragmented || header[9] != IPPROTO_UDP
            {
                return None;
            }
            (20, false)
        }
        6 => {
            let header = ip.get(..40)?;
            let payload = usize::from(u16::from_be_bytes([header[4], header[5]]));
            if payload + 40 != ip.len() || header[6] != IPPROTO_UDP {
                return None;
            }
            (40, true)
        }
        _ => return None,
    };
    let udp = ip.get(ip_header_len..ip_header_len + UDP_HEADER_LEN)?;
    let udp_len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    if udp_len != ip.len() - ip_header_len || udp_len == UDP_HEADER_LEN {
        return None;
    }
    Some(Datagram {
        ip_header_len,
        payload_len: udp_len - UDP_HEADER_LEN,
        ipv6,
    })
}

/// Whether two IP headers agree on everything a segment inherits from the
/// first: version, DSCP/ECN (and IPv6 flow label), TTL or hop limit,
/// protocol, DF, addresses. Lengths, IPv4 identification and header
/// checksum may differ.
fn same_flow_headers(first: &[u8], next: &[u8], datagram: Datagram) -> bool {
    let ports_at = datagram.ip_header_len..datagram.ip_header_len + 4;
    if first[ports_at.clone()] != next[ports_at] {
        return false;
    }
    if datagram.ipv6 {
        first[..4] == next[..4] && first[6..40] == next[6..40]
    } else {
        first[..2] == next[..2] && first[6..10] == next[6..10] && first[12..20] == next[12..20]
    }
}

/// One run of datagrams being joined, and the buffer holding it.
pub struct UdpCoalescer {
    /// Header, IP and UDP headers of the first datagram, then every
    /// datagram's payload in order.
    buffer: Vec<u8>,
    /// Whose run it is (the caller's egress), `None` when empty.
    egress: Option<usize>,
    first: Option<Datagram>,
    segments: usize,
    /// A datagram shorter than the first ended the run.
    closed: bool,
    /// The datagrams' IP bytes as read, summed: what the caller counts as
    /// delivered.
    bytes: usize,
}

impl Default for UdpCoalescer {
    fn default() -> Self {
        Self::new()
    }
}

impl UdpCoalescer {
    /// An empty coalescer with room for the largest super-packet.
    pub fn new() -> Self {
        UdpCoalescer {
            buffer: Vec::with_capacity(VIRTIO_NET_HDR_LEN + MAX_IP_LENGTH),
            egress: None,
            first: None,
            segments: 0,
            closed: false,
            bytes: 0,
        }
    }

    /// Whether no run is pending.
    pub fn is_empty(&self) -> bool {
        self.egress.is_none()
    }

    /// [`offer`](Self::offer), saying only whether the packet was taken.
    pub fn push(&mut self, egress: usize, packet: &[u8]) -> bool {
        self.offer(egress, packet) == Offer::Taken
    }

    /// Takes `packet` (header and IP packet) bound for `egress` into the
    /// run: starts one if none is pending, or appends its payload if it
    /// continues the pending run. Otherwise it takes nothing and says why:
    /// the packet can never join a run (send it on its own), or it does not
    /// continue this one (finish the run, then offer it again).
    pub fn offer(&mut self, egress: usize, packet: &[u8]) -> Offer {
        let Some(datagram) = plain_datagram(packet) else {
            return Offer::Ineligible;
        };
        let (Some(pending), Some(first)) = (self.egress, self.first) else {
            self.buffer.clear();
            self.buffer.extend_from_slice(packet);
            self.egress = Some(egress);
            self.first = Some(datagram);
            self.segments = 1;
            self.closed = false;
            self.bytes = packet.len() - VIRTIO_NET_HDR_LEN;
            return Offer::Taken;
        };
        let ip_len = self.buffer.len() - VIRTIO_NET_HDR_LEN;
        let joins = pending == egress
            && !self.closed
            && self.segments < MAX_SEGMENTS
            && datagram.ipv6 == first.ipv6
            && datagram.payload_len <= first.payload_len
            && ip_len + datagram.payload_len <= MAX_IP_LENGTH
            && same_flow_headers(
                &self.buffer[VIRTIO_NET_HDR_LEN..],
                &packet[VIRTIO_NET_HDR_LEN..],
                datagram,
            );
        if !joins {
            return Offer::Mismatch;
        }
        let payload_at = VIRTIO_NET_HDR_LEN + datagram.ip_header_len + UDP_HEADER_LEN;
        self.buffer.extend_from_slice(&packet[payload_at..]);
        self.segments += 1;
        self.closed = datagram.payload_len < first.payload_len;
        self.bytes += packet.len() - VIRTIO_NET_HDR_LEN;
        Offer::Taken
    }

    /// Ends the pending run: returns its egress, the packet to write (a
    /// lone datagram as it came; several as one super-packet), how many
    /// datagrams it holds and their bytes as read. `None` when empty.
    pub fn finish(&mut self) -> Option<Finished<'_>> {
        let egress = self.egress.take()?;
        let first = self.first.take()?;
        if self.segments > 1 {
            self.seal(first);
        }
        Some(Finished {
            egress,
            packet: &self.buffer,
            datagrams: self.segments,
            bytes: self.bytes,
        })
    }

    /// Rewrites the first datagram's headers to describe the whole run:
    /// the virtio-net header for USO, the IP length (and IPv4 header
    /// checksum), the UDP length, and in the UDP checksum field the
    /// pseudo-header sum the kernel completes for each segment.
    fn seal(&mut self, first: Datagram) {
        let ip_start = VIRTIO_NET_HDR_LEN;
        let ip_len = self.buffer.len() - ip_start;
        let udp_start = ip_start + first.ip_header_len;
        let udp_len = ip_len - first.ip_header_len;
        let header_len = first.ip_header_len + UDP_HEADER_LEN;
        // virtio-net header fields are in the host's byte order (TUN's
        // default, without TUNSETVNETLE/BE), as `encode` writes them.
        let header = VirtioNetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: VIRTIO_NET_HDR_GSO_UDP_L4,
            hdr_len: header_len as u16,
            gso_size: first.payload_len as u16,
            csum_start: first.ip_header_len as u16,
            csum_offset: UDP_CHECKSUM_OFFSET as u16,
        };
        header
            .encode(&mut self.buffer[..VIRTIO_NET_HDR_LEN])
            .expect("the buffer holds a whole header");
        let ip = &mut self.buffer[ip_start..];
        let mut pseudo: u32 = u32::from(IPPROTO_UDP) + udp_len as u32;
        if first.ipv6 {
            ip[4..6].copy_from_slice(&(udp_len as u16).to_be_bytes());
            pseudo += sum16(&ip[8..40], 0);
        } else {
            ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
            set_ipv4_header_checksum(&mut ip[..20]);
            pseudo += sum16(&ip[12..20], 0);
        }
        let udp = &mut self.buffer[udp_start..];
        udp[4..6].copy_from_slice(&(udp_len as u16).to_be_bytes());
        udp[6..8].copy_from_slice(&fold(pseudo).to_be_bytes());
    }
}

/// What [`UdpCoalescer::offer`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// It started or continued the pending run.
    Taken,
    /// It may join a run, but not the pending one.
    Mismatch,
    /// It can never join a run: not a plain UDP datagram.
    Ineligible,
}

/// A run ready to be written.
#[derive(Debug)]
pub struct Finished<'a> {
    pub egress: usize,
    /// Header and IP packet, to write as one.
    pub packet: &'a [u8],
    pub datagrams: usize,
    /// The datagrams' IP bytes as they were read.
    pub bytes: usize,
}

/// What the receiving kernel makes of a super-packet: each segment as a
/// plain datagram with complete checksums, for tests to compare with what
/// went in. A packet without USO comes back as it is.
pub fn segment_like_the_kernel(packet: &[u8]) -> Vec<Vec<u8>> {
    let header = vnet_header(packet).expect("a packet with a virtio-net header");
    if header.gso_type != VIRTIO_NET_HDR_GSO_UDP_L4 {
        return vec![packet.to_vec()];
    }
    let gso_size = usize::from(header.gso_size);
    let ip_header_len = usize::from(header.csum_start);
    let ip = &packet[VIRTIO_NET_HDR_LEN..];
    let ipv6 = ip[0] >> 4 == 6;
    let headers = &ip[..ip_header_len + UDP_HEADER_LEN];
    let mut segments = Vec::new();
    for (index, payload) in ip[ip_header_len + UDP_HEADER_LEN..]
        .chunks(gso_size)
        .enumerate()
    {
        let mut segment = vec![0u8; VIRTIO_NET_HDR_LEN];
        segment.extend_from_slice(headers);
        segment.extend_from_slice(payload);
        let seg_ip = &mut segment[VIRTIO_NET_HDR_LEN..];
        let udp_len = UDP_HEADER_LEN + payload.len();
        let mut pseudo = u32::from(IPPROTO_UDP) + udp_len as u32;
        if ipv6 {
            seg_ip[4..6].copy_from_slice(&(udp_len as u16).to_be_bytes());
            pseudo += sum16(&seg_ip[8..40], 0);
        } else {
            let total = (ip_header_len + udp_len) as u16;
            seg_ip[2..4].copy_from_slice(&total.to_be_bytes());
            let id = u16::from_be_bytes([seg_ip[4], seg_ip[5]]).wrapping_add(index as u16);
            seg_ip[4..6].copy_from_slice(&id.to_be_bytes());
            set_ipv4_header_checksum(&mut seg_ip[..20]);
            pseudo += sum16(&seg_ip[12..20], 0);
        }
        let udp = &mut seg_ip[ip_header_len..];
        udp[4..6].copy_from_slice(&(udp_len as u16).to_be_bytes());
        udp[6..8].copy_from_slice(&[0, 0]);
        let checksum = match !fold(sum16(udp, pseudo)) {
            0 => 0xffff,
            c => c,
        };
        udp[6..8].copy_from_slice(&checksum.to_be_bytes());
        segments.push(segment);
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};

    fn datagram_v4(payload: &[u8], id: u16) -> Vec<u8> {
        let mut packet = vec![0u8; VIRTIO_NET_HDR_LEN];
        let builder = PacketBuilder::ipv4([10, 1, 1, 4], [10, 0, 2, 4], 64).udp(40000, 5201);
        let mut ip = Vec::new();
        builder.write(&mut ip, payload).unwrap();
        ip[4..6].copy_from_slice(&id.to_be_bytes());
        set_ipv4_header_checksum(&mut ip[..20]);
        packet.extend_from_slice(&ip);
        packet
    }

    fn datagram_v6(payload: &[u8]) -> Vec<u8> {
        let mut packet = vec![0u8; VIRTIO_NET_HDR_LEN];
        let src = "fd00:1::4".parse::<std::net::Ipv6Addr>().unwrap().octets();
        let dst = "fd00:2::4".parse::<std::net::Ipv6Addr>().unwrap().octets();
        PacketBuilder::ipv6(src, dst, 64)
            .udp(40000, 5201)
            .write(&mut packet, payload)
            .unwrap();
        packet
    }

    /// Whether a plain datagram's UDP checksum is right, by etherparse.
    fn udp_checksum_is_valid(packet: &[u8]) -> bool {
        let sliced = SlicedPacket::from_ip(&packet[VIRTIO_NET_HDR_LEN..]).unwrap();
        let Some(TransportSlice::Udp(udp)) = sliced.transport else {
            return false;
        };
        let header = udp.to_header();
        match sliced.net {
            Some(etherparse::NetSlice::Ipv4(v4)) => {
                header.calc_checksum_ipv4(&v4.header().to_header(), udp.payload())
                    == Ok(header.checksum)
            }
            Some(etherparse::NetSlice::Ipv6(v6)) => {
                header.calc_checksum_ipv6(&v6.header().to_header(), udp.payload())
                    == Ok(header.checksum)
            }
            _ => false,
        }
    }

    #[test]
    fn a_run_of_one_flow_becomes_one_super_packet_that_splits_back_into_the_datagrams() {
        let payloads: Vec<Vec<u8>> = (0..10u8)
            .map(|i| vec![i; if i == 9 { 300 } else { 1400 }])
            .collect();
        let mut coalescer = UdpCoalescer::new();
        for (i, payload) in payloads.iter().enumerate() {
            assert!(coalescer.push(7, &datagram_v4(payload, 100 + i as u16)));
        }
        let finished = coalescer.finish().unwrap();
        assert_eq!((finished.egress, finished.datagrams), (7, 10));
        assert_eq!(finished.bytes, 9 * (20 + 8 + 1400) + (20 + 8 + 300));
        let header = &finished.packet[..VIRTIO_NET_HDR_LEN];
        assert_eq!(
            (header[0], header[1]),
            (F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_UDP_L4)
        );
        assert_eq!(u16::from_ne_bytes([header[4], header[5]]), 1400);
        let segments = segment_like_the_kernel(finished.packet);
        assert_eq!(segments.len(), 10);
        for (i, segment) in segments.iter().enumerate() {
            assert_eq!(segment, &datagram_v4(&payloads[i], 100 + i as u16));
            assert!(udp_checksum_is_valid(segment));
        }
        assert!(coalescer.is_empty());
    }

    #[test]
    fn ipv6_runs_split_back_too() {
        let payloads: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i ^ 0x5a; 1200]).collect();
        let mut coalescer = UdpCoalescer::new();
        for payload in &payloads {
            assert!(coalescer.push(1, &datagram_v6(payload)));
        }
        let finished = coalescer.finish().unwrap();
        assert_eq!(finished.datagrams, 5);
        let segments = segment_like_the_kernel(finished.packet);
        let expected: Vec<Vec<u8>> = payloads.iter().map(|p| datagram_v6(p)).collect();
        assert_eq!(segments, expected);
    }

    #[test]
    fn a_lone_datagram_is_written_as_it_came() {
        let packet = datagram_v4(b"hello", 1);
        let mut coalescer = UdpCoalescer::new();
        assert!(coalescer.push(3, &packet));
        let finished = coalescer.finish().unwrap();
        assert_eq!((finished.packet, finished.datagrams), (&packet[..], 1));
        assert!(coalescer.finish().is_none());
    }

    #[test]
    fn runs_end_where_the_kernel_could_not_split_them_back() {
        let full = datagram_v4(&[1; 1000], 1);
        let mut coalescer = UdpCoalescer::new();
        assert!(coalescer.push(1, &full));
        // Another egress, a longer datagram, another flow: not joined.
        assert!(!coalescer.push(2, &full));
        assert!(!coalescer.push(1, &datagram_v4(&[1; 1001], 2)));
        let mut other_port = datagram_v4(&[1; 1000], 3);
        other_port[VIRTIO_NET_HDR_LEN + 20..VIRTIO_NET_HDR_LEN + 22]
            .copy_from_slice(&40001u16.to_be_bytes());
        assert!(!coalescer.push(1, &other_port));
        let mut other_ttl = datagram_v4(&[1; 1000], 4);
        other_ttl[VIRTIO_NET_HDR_LEN + 8] = 63;
        assert!(!coalescer.push(1, &other_ttl));
        // A shorter datagram closes the run.
        assert!(coalescer.push(1, &datagram_v4(&[1; 10], 5)));
        assert!(!coalescer.push(1, &full));
        assert_eq!(coalescer.finish().unwrap().datagrams, 2);
    }

    #[test]
    fn runs_stop_at_the_segment_and_length_limits() {
        let mut coalescer = UdpCoalescer::new();
        let small = datagram_v4(&[2; 100], 1);
        for _ in 0..MAX_SEGMENTS {
            assert!(coalescer.push(1, &small));
        }
        assert!(!coalescer.push(1, &small));
        assert_eq!(coalescer.finish().unwrap().datagrams, MAX_SEGMENTS);
        // Datagrams of a lab with a larger MTU reach the length limit first.
        let big = datagram_v4(&[3; 4000], 1);
        let fit = (MAX_IP_LENGTH - 28) / 4000;
        assert!(fit < MAX_SEGMENTS);
        for _ in 0..fit {
            assert!(coalescer.push(1, &big));
        }
        assert!(!coalescer.push(1, &big));
        let finished = coalescer.finish().unwrap();
        assert!(finished.packet.len() - VIRTIO_NET_HDR_LEN <= MAX_IP_LENGTH);
        assert_eq!(segment_like_the_kernel(finished.packet).len(), fit);
    }

    #[test]
    fn only_plain_udp_joins() {
        let mut coalescer = UdpCoalescer::new();
        let mut gso = datagram_v4(&[1; 100], 1);
        gso[1] = VIRTIO_NET_HDR_GSO_UDP_L4;
        assert!(!coalescer.push(1, &gso));
        let mut fragment = datagram_v4(&[1; 100], 1);
        fragment[VIRTIO_NET_HDR_LEN + 6] = 0x20; // more fragments
        assert!(!coalescer.push(1, &fragment));
        let mut tcp = vec![0u8; VIRTIO_NET_HDR_LEN];
        PacketBuilder::ipv4([10, 1, 1, 4], [10, 0, 2, 4], 64)
            .tcp(1, 2, 3, 4)
            .write(&mut tcp, &[0; 10])
            .unwrap();
        assert!(!coalescer.push(1, &tcp));
        let empty = datagram_v4(&[], 1);
        assert!(!coalescer.push(1, &empty));
        assert!(!coalescer.push(1, &[0; 5]));
        assert!(coalescer.is_empty());
    }
}
