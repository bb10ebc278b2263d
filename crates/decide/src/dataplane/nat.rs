//! Address and port translation for internal load balancers: a new flow
//! to a frontend has its destination rewritten to the backend (Azure's
//! load balancer without floating IP), and the backend's replies have
//! their source rewritten back to the frontend, so that the client only
//! ever sees the address it connected to.
//!
//! Rewriting happens in place, with the checksums updated incrementally
//! (RFC 1624): the IPv4 header checksum, and the TCP, UDP or ICMPv6
//! checksum whose pseudo-header holds the addresses. A packet whose
//! transport checksum is left to the receiving kernel (the virtio-net
//! header's `NEEDS_CSUM`, as every GSO super-packet carries) holds only
//! the pseudo-header sum, uncomplemented: the addresses are updated in it,
//! the ports are not (they are in the part the kernel sums). GSO
//! super-packets therefore stay whole. No allocation, no copy.

use super::checksum::fold;
use crate::net::{IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP};
use etherparse::IpSlice;
use std::net::IpAddr;

/// Which end of a packet changes, and to what. `port` applies to TCP and
/// UDP only (ICMP keeps its identifier).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rewrite {
    Destination { address: IpAddr, port: u16 },
    Source { address: IpAddr, port: u16 },
}

/// Why a packet could not be rewritten: not readable IP, or an address of
/// the other family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Untranslatable;

/// Rewrites `packet` (an IP packet, without the virtio-net header) as
/// `rewrite` says. `partial_checksum` is the virtio-net header's
/// `NEEDS_CSUM`: the transport checksum field holds the pseudo-header sum.
pub fn translate(
    packet: &mut [u8],
    rewrite: Rewrite,
    partial_checksum: bool,
) -> Result<(), Untranslatable> {
    let (proto, transport, first_fragment) = {
        let ip = IpSlice::from_slice(packet).map_err(|_| Untranslatable)?;
        let payload = ip.payload();
        let offset = payload.payload.as_ptr() as usize - packet.as_ptr() as usize;
        let first = match &ip {
            IpSlice::Ipv4(v4) => v4.header().fragments_offset().value() == 0,
            IpSlice::Ipv6(_) => !payload.fragmented || fragment_offset_zero_v6(&ip),
        };
        (payload.ip_number.0, offset, first)
    };
    let (address, port, destination) = match rewrite {
        Rewrite::Destination { address, port } => (address, port, true),
        Rewrite::Source { address, port } => (address, port, false),
    };
    let v4 = packet[0] >> 4 == 4;
    let (at, len) = match (v4, address, destination) {
        (true, IpAddr::V4(_), false) => (12, 4),
        (true, IpAddr::V4(_), true) => (16, 4),
        (false, IpAddr::V6(_), false) => (8, 16),
        (false, IpAddr::V6(_), true) => (24, 16),
        _ => return Err(Untranslatable),
    };
    // Words of the old and new address, for the checksums.
    let mut old = [0u8; 16];
    old[..len].copy_from_slice(&packet[at..at + len]);
    let mut new = [0u8; 16];
    match address {
        IpAddr::V4(a) => new[..4].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => new.copy_from_slice(&a.octets()),
    }
    packet[at..at + len].copy_from_slice(&new[..len]);
    if v4 {
        let check = be16(packet, 10);
        let updated = update(check, &old[..len], &new[..len], true);
        packet[10..12].copy_from_slice(&updated.to_be_bytes());
    }
    if !first_fragment {
        return Ok(());
    }
    let (check_at, has_ports) = match proto {
        IPPROTO_TCP => (16, true),
        IPPROTO_UDP => (6, true),
        IPPROTO_ICMPV6 => (2, false),
        // ICMPv4's checksum does not cover the addresses.
        _ => return Ok(()),
    };
    let check_at = transport + check_at;
    if packet.len() < check_at + 2 || (has_ports && packet.len() < transport + 4) {
        return Err(Untranslatable);
    }
    let mut check = be16(packet, check_at);
    // An IPv4 UDP checksum of zero means "none": it stays none.
    let udp_without_checksum = proto == IPPROTO_UDP && v4 && check == 0 && !partial_checksum;
    if udp_without_checksum {
        if has_ports {
            let port_at = transport + if destination { 2 } else { 0 };
            packet[port_at..port_at + 2].copy_from_slice(&port.to_be_bytes());
        }
        return Ok(());
    }
    let complemented = !partial_checksum;
    check = update(check, &old[..len], &new[..len], complemented);
    if has_ports {
        let port_at = transport + if destination { 2 } else { 0 };
        let old_port = [packet[port_at], packet[port_at + 1]];
        packet[port_at..port_at + 2].copy_from_slice(&port.to_be_bytes());
        if complemented {
            check = update(check, &old_port, &port.to_be_bytes(), true);
        }
    }
    if proto == IPPROTO_UDP && complemented && check == 0 {
        // UDP sends a computed zero as all ones (zero means "none").
        check = 0xffff;
    }
    packet[check_at..check_at + 2].copy_from_slice(&check.to_be_bytes());
    Ok(())
}

fn fragment_offset_zero_v6(ip: &IpSlice) -> bool {
    match ip {
        IpSlice::Ipv6(v6) => v6.extensions().clone().into_iter().all(|ext| match ext {
            etherparse::Ipv6ExtensionSlice::Fragment(f) => f.fragment_offset().value() == 0,
            _ => true,
        }),
        IpSlice::Ipv4(_) => true,
    }
}

#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Replaces the 16-bit words `old` by `new` in a ones' complement sum
/// field: the complemented checksum (RFC 1624, eqn. 3: `~(~HC + ~m + m')`)
/// or, for a partial checksum, the plain pseudo-header sum.
fn update(field: u16, old: &[u8], new: &[u8], complemented: bool) -> u16 {
    let mut sum = u32::from(if complemented { !field } else { field });
    for (o, n) in old.as_chunks::<2>().0.iter().zip(new.as_chunks::<2>().0) {
        sum += u32::from(!u16::from_be_bytes(*o));
        sum += u32::from(u16::from_be_bytes(*n));
    }
    let folded = fold(sum);
    if complemented {
        !folded
    } else {
        folded
    }
}
