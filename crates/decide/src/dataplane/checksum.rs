//! The Internet checksum's arithmetic (RFC 1071) for the byte work of the
//! packet path: ones' complement sums of 16-bit words, their folding to 16
//! bits, and an IPv4 header's checksum. No allocation.

/// The ones' complement sum of `bytes` as big-endian 16-bit words (an odd
/// last byte padded with zero), added to `sum`.
#[inline]
pub(super) fn sum16(bytes: &[u8], mut sum: u32) -> u32 {
    let (words, rest) = bytes.as_chunks::<2>();
    for word in words {
        sum += u32::from(u16::from_be_bytes(*word));
    }
    if let [last] = rest {
        sum += u32::from(*last) << 8;
    }
    sum
}

/// Folds a 32-bit ones' complement sum to 16 bits.
#[inline]
pub(super) fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Writes the checksum of the IPv4 header `header` (all of it, options
/// included) into its checksum field.
#[inline]
pub(super) fn set_ipv4_header_checksum(header: &mut [u8]) {
    header[10..12].copy_from_slice(&[0, 0]);
    let checksum = !fold(sum16(header, 0));
    header[10..12].copy_from_slice(&checksum.to_be_bytes());
}
