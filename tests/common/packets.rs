//! IPv4 packets built for the offline decision tests: a UDP datagram, a
//! TCP SYN and an ICMP echo request between two addresses, one byte of
//! payload each where they carry one.

use etherparse::PacketBuilder;
use std::net::Ipv4Addr;

fn octets(address: &str) -> [u8; 4] {
    address.parse::<Ipv4Addr>().unwrap().octets()
}

/// A UDP datagram from `src`:`sport` to `dst`:`dport`.
pub fn udp4(src: &str, dst: &str, sport: u16, dport: u16) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(octets(src), octets(dst), 64)
        .udp(sport, dport)
        .write(&mut out, b"x")
        .unwrap();
    out
}

/// A TCP SYN from `src`:`sport` to `dst`:`dport`.
pub fn syn4(src: &str, dst: &str, sport: u16, dport: u16) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(octets(src), octets(dst), 64)
        .tcp(sport, dport, 1, 64_000)
        .syn()
        .write(&mut out, &[])
        .unwrap();
    out
}

/// An ICMP echo request from `src` to `dst`, identifier 7.
pub fn ping4(src: &str, dst: &str) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(octets(src), octets(dst), 64)
        .icmpv4_echo_request(7, 1)
        .write(&mut out, b"x")
        .unwrap();
    out
}
