//! Raw netlink datagrams, for the readers that speak netlink without a
//! library ([`crate::link_drops`] and the fabric's link watch): a message
//! and an attribute written, and a datagram's messages and an attribute
//! area's attributes read back.

/// Length of `struct nlmsghdr`.
pub(crate) const NLMSG_HEADER_LEN: usize = 16;
/// Length of `struct ifinfomsg`.
pub(crate) const IFINFO_LEN: usize = 16;
/// `RTM_NEWLINK`.
pub(crate) const RTM_NEWLINK: u16 = 16;
/// `IFLA_IFNAME`.
pub(crate) const IFLA_IFNAME: u16 = 3;

/// A netlink message of `kind` with `body`.
pub(crate) fn message(kind: u16, flags: u16, sequence: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(NLMSG_HEADER_LEN + body.len());
    out.extend(((NLMSG_HEADER_LEN + body.len()) as u32).to_ne_bytes());
    out.extend(kind.to_ne_bytes());
    out.extend(flags.to_ne_bytes());
    out.extend(sequence.to_ne_bytes());
    out.extend(0u32.to_ne_bytes());
    out.extend(body);
    out
}

/// Appends a netlink attribute, padded to 4 bytes.
pub(crate) fn push_attribute(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    out.extend(((4 + value.len()) as u16).to_ne_bytes());
    out.extend(kind.to_ne_bytes());
    out.extend(value);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// Each message of `datagram`: its kind, sequence number and body;
/// anything malformed ends the walk.
pub(crate) fn messages(datagram: &[u8]) -> impl Iterator<Item = (u16, u32, &[u8])> {
    let mut rest = datagram;
    std::iter::from_fn(move || {
        if rest.len() < NLMSG_HEADER_LEN {
            return None;
        }
        let length = u32::from_ne_bytes(rest[0..4].try_into().ok()?) as usize;
        let kind = u16::from_ne_bytes(rest[4..6].try_into().ok()?);
        let sequence = u32::from_ne_bytes(rest[8..12].try_into().ok()?);
        if length < NLMSG_HEADER_LEN || length > rest.len() {
            return None;
        }
        let body = &rest[NLMSG_HEADER_LEN..length];
        rest = rest.get((length + 3) & !3..).unwrap_or_default();
        Some((kind, sequence, body))
    })
}

/// The attributes (kind, value) of an attribute area; anything malformed
/// ends the walk.
pub(crate) fn attributes(mut area: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if area.len() < 4 {
            return None;
        }
        let length = u16::from_ne_bytes([area[0], area[1]]) as usize;
        // The kind without the nested and byte-order flags.
        let kind = u16::from_ne_bytes([area[2], area[3]]) & 0x3fff;
        if length < 4 || length > area.len() {
            return None;
        }
        let value = &area[4..length];
        area = area.get((length + 3) & !3..).unwrap_or_default();
        Some((kind, value))
    })
}
