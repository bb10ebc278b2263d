//! The TCP reset a NAT gateway answers an unknown connection with ("Azure
//! NAT Gateway resource", timers: "TCP reset: NAT gateway sends TCP RST
//! for unrecognized connections"): a TCP segment sent from the Internet to
//! one of its addresses that belongs to no flow it translates (a
//! connection it never saw, or one whose translation timed out) is
//! answered with a reset, so that the remote end learns at once that the
//! connection is gone instead of retrying into silence.
//!
//! The reset follows RFC 9293 §3.10.7.1: to a segment with ACK, a RST
//! whose sequence number is that acknowledgment; to one without, a
//! RST+ACK acknowledging everything the segment occupied. A segment that
//! is itself a reset is never answered.
//!
//! Byte work only, on a packet as a TUN device hands it over (IP, no link
//! header); no allocation: the reset is written into the caller's buffer.

use crate::dataplane::PacketView;
use crate::snapshot::edge::PublicTarget;
use crate::snapshot::Snapshot;
use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TransportSlice};

/// Whether a packet dropped as unsolicited is answered with a reset: a
/// TCP segment to a NAT gateway's address (default outbound addresses
/// stay silent).
pub fn answers_with_reset(snap: &Snapshot, view: &PacketView) -> bool {
    view.key.proto == crate::net::IPPROTO_TCP
        && matches!(
            snap.edge.public.get(&view.key.dst),
            Some(PublicTarget::NatGateway(_))
        )
}

/// Room a reset needs: an IPv6 header and a TCP header without options.
pub const TCP_RESET_LEN: usize = 40 + 20;

/// Writes into `out` the reset that answers `packet` (IP bytes), and
/// returns its length; `None` when `packet` is no TCP segment, is itself
/// a reset, or `out` is too short.
pub fn tcp_reset(packet: &[u8], out: &mut [u8]) -> Option<usize> {
    let sliced = SlicedPacket::from_ip(packet).ok()?;
    let Some(TransportSlice::Tcp(tcp)) = &sliced.transport else {
        return None;
    };
    if tcp.rst() {
        return None;
    }
    // What the segment occupies of the sequence space.
    let occupied = tcp.payload().len() as u32 + u32::from(tcp.syn()) + u32::from(tcp.fin());
    let builder = match sliced.net? {
        NetSlice::Ipv4(ip) => {
            let h = ip.header();
            PacketBuilder::ipv4(h.destination(), h.source(), 64)
        }
        NetSlice::Ipv6(ip) => {
            let h = ip.header();
            PacketBuilder::ipv6(h.destination(), h.source(), 64)
        }
        NetSlice::Arp(_) => return None,
    };
    let (sport, dport) = (tcp.destination_port(), tcp.source_port());
    let reset = if tcp.ack() {
        builder
            .tcp(sport, dport, tcp.acknowledgment_number(), 0)
            .rst()
    } else {
        builder
            .tcp(sport, dport, 0, 0)
            .rst()
            .ack(tcp.sequence_number().wrapping_add(occupied))
    };
    let len = reset.size(0);
    let mut at = out.get_mut(..len)?;
    reset.write(&mut at, &[]).ok()?;
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::TcpHeaderSlice;

    fn segment(syn: bool, ack: Option<u32>, payload: &[u8]) -> Vec<u8> {
        let mut b = PacketBuilder::ipv4([203, 0, 113, 10], [198, 51, 100, 10], 64)
            .tcp(40_000, 80, 1_000, 64_000);
        if syn {
            b = b.syn();
        }
        if let Some(ack) = ack {
            b = b.ack(ack);
        }
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    fn reset_of(packet: &[u8]) -> Option<Vec<u8>> {
        let mut out = [0u8; TCP_RESET_LEN];
        let len = tcp_reset(packet, &mut out)?;
        Some(out[..len].to_vec())
    }

    #[test]
    fn a_syn_is_answered_with_rst_ack_of_its_sequence_and_ports_swapped() {
        let reset = reset_of(&segment(true, None, &[])).unwrap();
        let parsed = SlicedPacket::from_ip(&reset).unwrap();
        let Some(NetSlice::Ipv4(ip)) = &parsed.net else {
            panic!()
        };
        assert_eq!(ip.header().source(), [198, 51, 100, 10]);
        assert_eq!(ip.header().destination(), [203, 0, 113, 10]);
        let tcp = TcpHeaderSlice::from_slice(&reset[20..]).unwrap();
        assert_eq!((tcp.source_port(), tcp.destination_port()), (80, 40_000));
        assert!(tcp.rst() && tcp.ack() && !tcp.syn());
        assert_eq!(tcp.sequence_number(), 0);
        assert_eq!(tcp.acknowledgment_number(), 1_001);
        // Checksums a receiving kernel accepts: etherparse's own check.
        let header = tcp.to_header();
        assert_eq!(
            header.checksum,
            header
                .calc_checksum_ipv4_raw([198, 51, 100, 10], [203, 0, 113, 10], &[])
                .unwrap()
        );
    }

    #[test]
    fn a_segment_with_ack_gets_a_bare_rst_at_that_sequence() {
        let reset = reset_of(&segment(false, Some(77), b"hello")).unwrap();
        let tcp = TcpHeaderSlice::from_slice(&reset[20..]).unwrap();
        assert!(tcp.rst() && !tcp.ack());
        assert_eq!(tcp.sequence_number(), 77);
    }

    #[test]
    fn a_reset_and_what_is_not_tcp_are_never_answered() {
        let mut rst = Vec::new();
        PacketBuilder::ipv4([203, 0, 113, 10], [198, 51, 100, 10], 64)
            .tcp(40_000, 80, 5, 0)
            .rst()
            .write(&mut rst, &[])
            .unwrap();
        assert_eq!(reset_of(&rst), None);
        let mut udp = Vec::new();
        PacketBuilder::ipv4([203, 0, 113, 10], [198, 51, 100, 10], 64)
            .udp(1, 2)
            .write(&mut udp, b"x")
            .unwrap();
        assert_eq!(reset_of(&udp), None);
        assert_eq!(reset_of(&[0x45, 0, 0]), None);
    }
}
