use super::*;
use etherparse::{Ipv4HeaderSlice, PacketBuilder, SlicedPacket, TcpOptionElement, TransportSlice};

fn udp_v4(payload: usize, dont_fragment: bool) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4([10, 1, 1, 4], [10, 2, 1, 4], 64)
        .udp(40000, 5201)
        .write(&mut out, &(0..payload).map(|i| i as u8).collect::<Vec<_>>())
        .unwrap();
    set_df(&mut out, dont_fragment);
    out
}

fn set_df(packet: &mut [u8], on: bool) {
    if on {
        packet[6] |= 0x40;
    } else {
        packet[6] &= !0x40;
    }
    packet[10..12].copy_from_slice(&[0, 0]);
    let check = Ipv4HeaderSlice::from_slice(packet)
        .unwrap()
        .to_header()
        .calc_header_checksum();
    packet[10..12].copy_from_slice(&check.to_be_bytes());
}

fn udp_v6(payload: usize) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv6([0xfd; 16], [0xfe; 16], 64)
        .udp(40000, 5201)
        .write(&mut out, &vec![7u8; payload])
        .unwrap();
    out
}

#[test]
fn what_fits_passes_and_what_does_not_is_cut_or_dropped() {
    assert_eq!(fit(&udp_v4(1000, true), 1500, 0, 0), Fit::Fits);
    assert_eq!(fit(&udp_v4(1472, true), 1500, 0, 0), Fit::Fits);
    assert_eq!(fit(&udp_v4(1473, true), 1500, 0, 0), Fit::TooBig);
    assert_eq!(fit(&udp_v4(1473, false), 1500, 0, 0), Fit::Fragment);
    assert_eq!(fit(&udp_v6(1452), 1500, 0, 0), Fit::Fits);
    assert_eq!(fit(&udp_v6(1453), 1500, 0, 0), Fit::TooBig);
    // A super-packet is judged by its segments.
    let big = udp_v4(60_000, true);
    assert_eq!(fit(&big, 1500, 1448, 52), Fit::Fits);
    assert_eq!(fit(&big, 1400, 1448, 52), Fit::TooBig);
    assert_eq!(fit(&big, 1400, 1348, 52), Fit::Fits);
}

#[test]
fn fragments_fit_carry_valid_headers_and_rebuild_the_datagram() {
    let packet = udp_v4(3000, false);
    let mut out = vec![0u8; 10 + 1500];
    out[..10].copy_from_slice(&[9; 10]);
    let mut fragments: Vec<Vec<u8>> = Vec::new();
    assert!(fragment_ipv4(&packet, 1400, &mut out, 10, |f| fragments.push(f.to_vec())));
    assert_eq!(fragments.len(), 3);
    let mut rebuilt = Vec::new();
    for (i, f) in fragments.iter().enumerate() {
        assert_eq!(&f[..10], &[9; 10], "the prefix is left as it was");
        let ip = &f[10..];
        assert!(ip.len() <= 1400);
        let header = Ipv4HeaderSlice::from_slice(ip).unwrap();
        assert_eq!(header.total_len() as usize, ip.len());
        assert_eq!(
            header.to_header().calc_header_checksum(),
            header.header_checksum()
        );
        assert_eq!(
            header.identification(),
            Ipv4HeaderSlice::from_slice(&packet)
                .unwrap()
                .identification()
        );
        assert_eq!(header.more_fragments(), i + 1 < fragments.len());
        assert_eq!(
            usize::from(header.fragments_offset().value()) * 8,
            rebuilt.len()
        );
        rebuilt.extend_from_slice(&ip[20..]);
    }
    assert_eq!(rebuilt, packet[20..]);
}

#[test]
fn a_packet_that_cannot_be_cut_is_refused() {
    let mut out = vec![0u8; 2000];
    assert!(!fragment_ipv4(&udp_v6(3000), 1400, &mut out, 0, |_| ()));
    assert!(!fragment_ipv4(
        &udp_v4(3000, false),
        24,
        &mut out,
        0,
        |_| ()
    ));
    assert!(!fragment_ipv4(
        &udp_v4(3000, false),
        1400,
        &mut out[..100],
        0,
        |_| ()
    ));
}

#[test]
fn a_checksum_left_to_the_device_is_finished_as_the_device_would() {
    let packet = udp_v4(1000, false);
    let complete = u16::from_be_bytes([packet[26], packet[27]]);
    let mut partial = packet.clone();
    // What the kernel leaves with CHECKSUM_PARTIAL: the pseudo-header's
    // folded sum, not inverted.
    let mut pseudo = sum16(&packet[12..20], 0);
    pseudo += 17 + (packet.len() as u32 - 20);
    partial[26..28].copy_from_slice(&fold(pseudo).to_be_bytes());
    assert!(finish_checksum(&mut partial, 20, 6));
    assert_eq!(u16::from_be_bytes([partial[26], partial[27]]), complete);
    assert!(!finish_checksum(&mut partial, 20, 2_000));
}

fn syn(mss: u16, syn: bool) -> Vec<u8> {
    let builder =
        PacketBuilder::ipv4([192, 168, 1, 10], [10, 1, 1, 4], 64).tcp(40000, 22, 1, 64_240);
    let builder = if syn { builder.syn() } else { builder.ack(1) };
    let builder = builder
        .options(&[
            TcpOptionElement::MaximumSegmentSize(mss),
            TcpOptionElement::Noop,
            TcpOptionElement::WindowScale(7),
        ])
        .unwrap();
    let mut out = Vec::new();
    builder.write(&mut out, &[]).unwrap();
    out
}

fn mss_and_checksum_ok(packet: &[u8]) -> (u16, bool) {
    let sliced = SlicedPacket::from_ip(packet).unwrap();
    let Some(TransportSlice::Tcp(tcp)) = sliced.transport else {
        panic!("TCP");
    };
    let mss = tcp
        .options_iterator()
        .find_map(|o| match o {
            Ok(TcpOptionElement::MaximumSegmentSize(m)) => Some(m),
            _ => None,
        })
        .unwrap();
    let ip = Ipv4HeaderSlice::from_slice(packet).unwrap();
    let ok = tcp
        .calc_checksum_ipv4(ip.source(), ip.destination())
        .unwrap()
        == tcp.checksum();
    (mss, ok)
}

#[test]
fn a_syn_s_mss_is_clamped_with_its_checksum_kept_right() {
    let mut packet = syn(1460, true);
    assert!(clamp_mss(&mut packet, 1350, false));
    assert_eq!(mss_and_checksum_ok(&packet), (1350, true));
    // Already small enough, or not a SYN: untouched.
    let mut small = syn(1300, true);
    assert!(!clamp_mss(&mut small, 1350, false));
    assert_eq!(small, syn(1300, true));
    let mut data = syn(1460, false);
    assert!(!clamp_mss(&mut data, 1350, false));
    // A checksum left to the device is left alone.
    let mut partial = syn(1460, true);
    let before = [partial[36], partial[37]];
    assert!(clamp_mss(&mut partial, 1350, true));
    assert_eq!([partial[36], partial[37]], before);
}
