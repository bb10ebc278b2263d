//! What a path's MTU does to a packet, as Azure does it (see the book's
//! "Azure behaviour", §8): a packet that fits passes; an IPv4 packet
//! without DF that does not is fragmented; one with DF, and any IPv6
//! packet, is dropped, with no ICMP "fragmentation needed" or "packet too
//! big" (the fabric sends no ICMP of its own). A VPN tunnel also clamps
//! the MSS of TCP SYNs, so that TCP fits its MTU from the start.
//!
//! Byte work only, on a packet as a TUN device hands it over (IP, no link
//! header); no allocation: fragments are written into the caller's
//! buffer one at a time.

use super::checksum::{fold, set_ipv4_header_checksum, sum16};

/// What the path does to a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    Fits,
    /// IPv4 without DF: cut into fragments that fit.
    Fragment,
    /// Dropped: DF set, IPv6, or a super-packet whose segments do not fit.
    TooBig,
}

/// The fate of `packet` (IP bytes) on a path of `mtu` bytes. `gso_size`
/// is the virtio-net header's (0 when the packet is no super-packet) and
/// `headers_len` the headers each segment repeats.
pub fn fit(packet: &[u8], mtu: u16, gso_size: u16, headers_len: u16) -> Fit {
    let mtu = usize::from(mtu);
    if gso_size > 0 && headers_len > 0 {
        // The wire sees the segments, never the super-packet.
        let segment = usize::from(headers_len) + usize::from(gso_size);
        return if segment <= mtu {
            Fit::Fits
        } else {
            Fit::TooBig
        };
    }
    if packet.len() <= mtu {
        return Fit::Fits;
    }
    match packet.first().map(|b| b >> 4) {
        Some(4) if packet.len() >= 20 && packet[6] & 0x40 == 0 => Fit::Fragment,
        _ => Fit::TooBig,
    }
}

/// Completes a checksum the sender left to the device (`NEEDS_CSUM`: the
/// field at `start + offset` holds the pseudo-header's sum): sums from
/// `start` to the end and stores the result. Needed before a packet is
/// cut into fragments, since no receiver can finish it across them.
pub fn finish_checksum(packet: &mut [u8], start: usize, offset: usize) -> bool {
    let at = start + offset;
    if at + 2 > packet.len() || start > packet.len() {
        return false;
    }
    let mut sum = !fold(sum16(&packet[start..], 0));
    // UDP writes an all-zero result as all ones (zero means "none").
    if sum == 0 && packet.get(9) == Some(&17) {
        sum = 0xffff;
    }
    packet[at..at + 2].copy_from_slice(&sum.to_be_bytes());
    true
}

/// Cuts an IPv4 packet into fragments of at most `mtu` bytes, each written
/// to `out` after its first `prefix` bytes (left as they are: the caller's
/// virtio-net header) and handed to `emit`. False when the packet cannot
/// be cut (not IPv4, a header too long for the MTU, or `out` too small).
pub fn fragment_ipv4(
    packet: &[u8],
    mtu: u16,
    out: &mut [u8],
    prefix: usize,
    mut emit: impl FnMut(&[u8]),
) -> bool {
    if packet.len() < 20 || packet[0] >> 4 != 4 {
        return false;
    }
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([packet[2], packet[3]])).min(packet.len());
    let mtu = usize::from(mtu);
    if ihl < 20 || total <= ihl || mtu < ihl + 8 || out.len() < prefix + mtu {
        return false;
    }
    let chunk = (mtu - ihl) / 8 * 8;
    let flags_offset = u16::from_be_bytes([packet[6], packet[7]]);
    let more_after = flags_offset & 0x2000 != 0;
    let base = flags_offset & 0x1fff;
    let payload = &packet[ihl..total];
    let mut pos = 0;
    while pos < payload.len() {
        let len = chunk.min(payload.len() - pos);
        let last = pos + len == payload.len();
        let frag = &mut out[prefix..prefix + ihl + len];
        frag[..ihl].copy_from_slice(&packet[..ihl]);
        frag[ihl..].copy_from_slice(&payload[pos..pos + len]);
        frag[2..4].copy_from_slice(&((ihl + len) as u16).to_be_bytes());
        let mf = if last && !more_after { 0 } else { 0x2000 };
        let offset = base + (pos / 8) as u16;
        frag[6..8].copy_from_slice(&(mf | offset).to_be_bytes());
        set_ipv4_header_checksum(&mut frag[..ihl]);
        emit(&out[..prefix + ihl + len]);
        pos += len;
    }
    true
}

/// Lowers the MSS option of a TCP SYN to `clamp` when it is larger,
/// keeping the TCP checksum right (left alone when the sender left it to
/// the device: it then covers only the pseudo-header). True when changed.
pub fn clamp_mss(packet: &mut [u8], clamp: u16, checksum_partial: bool) -> bool {
    let (tcp, proto) = match packet.first().map(|b| b >> 4) {
        Some(4) if packet.len() >= 20 => (usize::from(packet[0] & 0x0f) * 4, packet[9]),
        Some(6) if packet.len() >= 40 => (40, packet[6]),
        _ => return false,
    };
    if proto != 6 || packet.len() < tcp + 20 || packet[tcp + 13] & 0x02 == 0 {
        return false;
    }
    let options_end = (tcp + usize::from(packet[tcp + 12] >> 4) * 4).min(packet.len());
    let mut at = tcp + 20;
    while at < options_end {
        match packet[at] {
            0 => return false,
            1 => at += 1,
            kind => {
                let Some(&len) = packet.get(at + 1) else {
                    return false;
                };
                let len = usize::from(len);
                if len < 2 || at + len > options_end {
                    return false;
                }
                if kind == 2 && len == 4 {
                    let old = u16::from_be_bytes([packet[at + 2], packet[at + 3]]);
                    if old <= clamp {
                        return false;
                    }
                    packet[at + 2..at + 4].copy_from_slice(&clamp.to_be_bytes());
                    if !checksum_partial {
                        // RFC 1624: HC' = ~(~HC + ~m + m').
                        let field = tcp + 16;
                        let hc = u16::from_be_bytes([packet[field], packet[field + 1]]);
                        let sum = u32::from(!hc) + u32::from(!old) + u32::from(clamp);
                        let updated = !fold(sum);
                        packet[field..field + 2].copy_from_slice(&updated.to_be_bytes());
                    }
                    return true;
                }
                at += len;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests;
