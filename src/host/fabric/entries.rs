//! The fabric's maps as the kernel programs read them: a port's entry
//! (keyed by the ifindex of its host end or its TUN), a flow entry (one
//! direction of a flow, keyed by the host end it arrives at and its
//! 5-tuple) and a counters slot, written as the byte layouts of
//! `fabric.bpf.c`. Where each member lies is in [`layout`], which
//! `tests/labs/fabric_program.rs` checks against the object's BTF.

use std::net::IpAddr;

use layout::*;

/// Length of `struct flow_key`.
pub const FLOW_KEY_LEN: usize = 44;
/// Length of `struct flow_entry`.
pub const FLOW_ENTRY_LEN: usize = 24;
/// Length of `struct flow_counters`.
pub const FLOW_COUNTERS_LEN: usize = 24;
/// Slots in one `struct counters_chunk` (`SLOTS_PER_CHUNK`).
pub const SLOTS_PER_CHUNK: u32 = 2048;
/// Length of `struct counters_chunk`.
pub const CHUNK_LEN: usize = SLOTS_PER_CHUNK as usize * FLOW_COUNTERS_LEN;
/// Length of `struct port`.
pub const PORT_LEN: usize = 16;

/// The bytes each member of the maps' structs occupies, named
/// `<STRUCT>_<MEMBER>` after `fabric.bpf.c` (padding left out: it is
/// always written as zeros).
pub mod layout {
    use std::ops::Range;

    /// `struct flow_key.ifindex` (native order).
    pub const FLOW_KEY_IFINDEX: Range<usize> = 0..4;
    /// `struct flow_key.family`: 4 or 6.
    pub const FLOW_KEY_FAMILY: Range<usize> = 4..5;
    /// `struct flow_key.proto`.
    pub const FLOW_KEY_PROTO: Range<usize> = 5..6;
    /// `struct flow_key.sport` (network order).
    pub const FLOW_KEY_SPORT: Range<usize> = 6..8;
    /// `struct flow_key.dport` (network order).
    pub const FLOW_KEY_DPORT: Range<usize> = 8..10;
    /// `struct flow_key.saddr`: an IPv4 address in its first 4 bytes.
    pub const FLOW_KEY_SADDR: Range<usize> = 12..28;
    /// `struct flow_key.daddr`: an IPv4 address in its first 4 bytes.
    pub const FLOW_KEY_DADDR: Range<usize> = 28..44;

    /// `struct flow_entry.generation` (native order).
    pub const FLOW_ENTRY_GENERATION: Range<usize> = 0..8;
    /// `struct flow_entry.out_ifindex` (native order).
    pub const FLOW_ENTRY_OUT_IFINDEX: Range<usize> = 8..12;
    /// `struct flow_entry.slot` (native order).
    pub const FLOW_ENTRY_SLOT: Range<usize> = 12..16;
    /// `struct flow_entry.dst_mac`.
    pub const FLOW_ENTRY_DST_MAC: Range<usize> = 16..22;

    /// `struct flow_counters.packets` (native order).
    pub const FLOW_COUNTERS_PACKETS: Range<usize> = 0..8;
    /// `struct flow_counters.bytes` (native order).
    pub const FLOW_COUNTERS_BYTES: Range<usize> = 8..16;
    /// `struct flow_counters.last_used_ns` (native order).
    pub const FLOW_COUNTERS_LAST_USED_NS: Range<usize> = 16..24;

    /// `struct counters_chunk.slot`: `SLOTS_PER_CHUNK` `struct
    /// flow_counters`.
    pub const COUNTERS_CHUNK_SLOT: Range<usize> = 0..super::CHUNK_LEN;

    /// `struct port.kind` (native order).
    pub const PORT_KIND: Range<usize> = 0..4;
    /// `struct port.peer_ifindex` (native order).
    pub const PORT_PEER_IFINDEX: Range<usize> = 4..8;
    /// `struct port.mac`.
    pub const PORT_MAC: Range<usize> = 8..14;
    /// `struct port.mtu`.
    pub const PORT_MTU: Range<usize> = 14..16;
}

/// `struct port`'s kinds.
pub(super) const PORT_HOST_END: u32 = 1;
pub(super) const PORT_TUN: u32 = 2;

/// One direction of a flow as it arrives at a port's host end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FastKey {
    /// The ifindex (in the fabric namespace) of the host end it arrives at.
    pub ingress: u32,
    /// IP protocol number (TCP or UDP).
    pub protocol: u8,
    pub source: IpAddr,
    pub destination: IpAddr,
    pub source_port: u16,
    pub destination_port: u16,
}

impl FastKey {
    /// The key's bytes; `None` for addresses of two families.
    pub fn to_bytes(&self) -> Option<[u8; FLOW_KEY_LEN]> {
        let mut out = [0u8; FLOW_KEY_LEN];
        out[FLOW_KEY_IFINDEX].copy_from_slice(&self.ingress.to_ne_bytes());
        out[FLOW_KEY_PROTO].copy_from_slice(&[self.protocol]);
        out[FLOW_KEY_SPORT].copy_from_slice(&self.source_port.to_be_bytes());
        out[FLOW_KEY_DPORT].copy_from_slice(&self.destination_port.to_be_bytes());
        match (self.source, self.destination) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                out[FLOW_KEY_FAMILY].copy_from_slice(&[4]);
                out[FLOW_KEY_SADDR][..4].copy_from_slice(&s.octets());
                out[FLOW_KEY_DADDR][..4].copy_from_slice(&d.octets());
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                out[FLOW_KEY_FAMILY].copy_from_slice(&[6]);
                out[FLOW_KEY_SADDR].copy_from_slice(&s.octets());
                out[FLOW_KEY_DADDR].copy_from_slice(&d.octets());
            }
            _ => return None,
        }
        Some(out)
    }

    /// The key a map holds, read back; `None` for bytes no key has.
    pub fn from_bytes(bytes: &[u8; FLOW_KEY_LEN]) -> Option<FastKey> {
        let port =
            |at: std::ops::Range<usize>| u16::from_be_bytes(bytes[at].try_into().expect("2 bytes"));
        let (source, destination) = match bytes[FLOW_KEY_FAMILY.start] {
            4 => {
                let s: [u8; 4] = bytes[FLOW_KEY_SADDR][..4].try_into().expect("4 bytes");
                let d: [u8; 4] = bytes[FLOW_KEY_DADDR][..4].try_into().expect("4 bytes");
                (IpAddr::from(s), IpAddr::from(d))
            }
            6 => {
                let s: [u8; 16] = bytes[FLOW_KEY_SADDR].try_into().expect("16 bytes");
                let d: [u8; 16] = bytes[FLOW_KEY_DADDR].try_into().expect("16 bytes");
                (IpAddr::from(s), IpAddr::from(d))
            }
            _ => return None,
        };
        Some(FastKey {
            ingress: u32::from_ne_bytes(bytes[FLOW_KEY_IFINDEX].try_into().expect("4 bytes")),
            protocol: bytes[FLOW_KEY_PROTO.start],
            source,
            destination,
            source_port: port(FLOW_KEY_SPORT),
            destination_port: port(FLOW_KEY_DPORT),
        })
    }
}

/// A flow entry: where the flow's packets go (the host end of the egress
/// port and the MAC address of that port's `eth0`), the generation of the
/// rules that decided it, and the slot its packets are counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastEntry {
    pub egress: u32,
    pub mac: [u8; 6],
    pub generation: u64,
    pub slot: u32,
}

impl FastEntry {
    pub fn to_bytes(self) -> [u8; FLOW_ENTRY_LEN] {
        let mut out = [0u8; FLOW_ENTRY_LEN];
        out[FLOW_ENTRY_GENERATION].copy_from_slice(&self.generation.to_ne_bytes());
        out[FLOW_ENTRY_OUT_IFINDEX].copy_from_slice(&self.egress.to_ne_bytes());
        out[FLOW_ENTRY_SLOT].copy_from_slice(&self.slot.to_ne_bytes());
        out[FLOW_ENTRY_DST_MAC].copy_from_slice(&self.mac);
        out
    }

    pub fn from_bytes(bytes: &[u8; FLOW_ENTRY_LEN]) -> FastEntry {
        FastEntry {
            generation: u64::from_ne_bytes(
                bytes[FLOW_ENTRY_GENERATION].try_into().expect("8 bytes"),
            ),
            egress: u32::from_ne_bytes(bytes[FLOW_ENTRY_OUT_IFINDEX].try_into().expect("4 bytes")),
            slot: u32::from_ne_bytes(bytes[FLOW_ENTRY_SLOT].try_into().expect("4 bytes")),
            mac: bytes[FLOW_ENTRY_DST_MAC].try_into().expect("6 bytes"),
        }
    }
}

/// What the kernel counted in a slot: wire packets (a super-packet's
/// segments), their IP bytes, and when the last one passed
/// (`CLOCK_MONOTONIC` nanoseconds; 0 while none has). A slot only grows:
/// what an entry carried is the difference between two readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FastCounters {
    pub packets: u64,
    pub bytes: u64,
    pub last_used_ns: u64,
}

impl FastCounters {
    pub fn from_bytes(bytes: &[u8]) -> FastCounters {
        let word =
            |at: std::ops::Range<usize>| u64::from_ne_bytes(bytes[at].try_into().expect("8 bytes"));
        FastCounters {
            packets: word(FLOW_COUNTERS_PACKETS),
            bytes: word(FLOW_COUNTERS_BYTES),
            last_used_ns: word(FLOW_COUNTERS_LAST_USED_NS),
        }
    }
}

/// A port's entry: for its host end, the TUN that is its slow path; for
/// its TUN, the host end the daemon's packets leave by. Both carry the MAC
/// and the MTU the port's `eth0` was given.
pub(super) fn port_entry(kind: u32, peer: u32, mac: [u8; 6], mtu: u16) -> [u8; PORT_LEN] {
    let mut out = [0u8; PORT_LEN];
    out[PORT_KIND].copy_from_slice(&kind.to_ne_bytes());
    out[PORT_PEER_IFINDEX].copy_from_slice(&peer.to_ne_bytes());
    out[PORT_MAC].copy_from_slice(&mac);
    out[PORT_MTU].copy_from_slice(&mtu.to_ne_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_entry_is_laid_out_as_the_kernel_program_reads_it() {
        let entry = port_entry(PORT_HOST_END, 9, [1, 2, 3, 4, 5, 6], 1500);
        assert_eq!(&entry[0..4], &PORT_HOST_END.to_ne_bytes());
        assert_eq!(&entry[4..8], &9u32.to_ne_bytes());
        assert_eq!(&entry[8..14], &[1, 2, 3, 4, 5, 6]);
        assert_eq!(&entry[14..16], &1500u16.to_ne_bytes());
    }

    #[test]
    fn keys_are_laid_out_as_the_kernel_program_reads_them() {
        let key = FastKey {
            ingress: 7,
            protocol: 6,
            source: "10.0.1.4".parse().unwrap(),
            destination: "10.0.2.4".parse().unwrap(),
            source_port: 40000,
            destination_port: 5201,
        };
        let bytes = key.to_bytes().unwrap();
        let mut expected = [0u8; FLOW_KEY_LEN];
        expected[0..4].copy_from_slice(&7u32.to_ne_bytes());
        expected[4] = 4;
        expected[5] = 6;
        expected[6..8].copy_from_slice(&[0x9c, 0x40]);
        expected[8..10].copy_from_slice(&[0x14, 0x51]);
        expected[12..16].copy_from_slice(&[10, 0, 1, 4]);
        expected[28..32].copy_from_slice(&[10, 0, 2, 4]);
        assert_eq!(bytes, expected);
        assert_eq!(FastKey::from_bytes(&bytes), Some(key));
    }

    #[test]
    fn ipv6_keys_read_back_and_mixed_families_have_no_key() {
        let key = FastKey {
            ingress: 1,
            protocol: 17,
            source: "fd00:1::4".parse().unwrap(),
            destination: "fd00:2::4".parse().unwrap(),
            source_port: 1,
            destination_port: 65535,
        };
        let bytes = key.to_bytes().unwrap();
        assert_eq!(bytes[4], 6);
        assert_eq!(FastKey::from_bytes(&bytes), Some(key));
        let mixed = FastKey {
            destination: "10.0.0.1".parse().unwrap(),
            ..key
        };
        assert_eq!(mixed.to_bytes(), None);
        let mut unknown = bytes;
        unknown[4] = 5;
        assert_eq!(FastKey::from_bytes(&unknown), None);
    }

    #[test]
    fn entries_and_counters_are_laid_out_as_the_kernel_program_reads_them() {
        let entry = FastEntry {
            egress: 9,
            mac: [2, 0, 0, 0, 0, 0x0b],
            generation: 0x0102_0304_0506_0708,
            slot: 77,
        };
        let bytes = entry.to_bytes();
        assert_eq!(&bytes[0..8], &0x0102_0304_0506_0708u64.to_ne_bytes());
        assert_eq!(&bytes[8..12], &9u32.to_ne_bytes());
        assert_eq!(&bytes[12..16], &77u32.to_ne_bytes());
        assert_eq!(&bytes[16..22], &[2, 0, 0, 0, 0, 0x0b]);
        assert_eq!(&bytes[22..24], &[0, 0]);
        assert_eq!(FastEntry::from_bytes(&bytes), entry);
        let mut counted = [0u8; FLOW_COUNTERS_LEN];
        counted[0..8].copy_from_slice(&3u64.to_ne_bytes());
        counted[8..16].copy_from_slice(&4500u64.to_ne_bytes());
        counted[16..24].copy_from_slice(&77u64.to_ne_bytes());
        assert_eq!(
            FastCounters::from_bytes(&counted),
            FastCounters {
                packets: 3,
                bytes: 4500,
                last_used_ns: 77
            }
        );
    }
}
