//! The fabric's maps as the kernel programs read them: a port's entry
//! (keyed by the ifindex of its host end or its TUN) and a flow entry (one
//! direction of a flow, keyed by the host end it arrives at and its
//! 5-tuple), written as the byte layouts of `fabric.bpf.c`.

use std::net::IpAddr;

/// Length of `struct flow_key`.
pub const FLOW_KEY_LEN: usize = 44;
/// Length of `struct flow_entry`.
pub const FLOW_ENTRY_LEN: usize = 40;
/// Length of `struct port`.
pub const PORT_LEN: usize = 16;

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
        out[0..4].copy_from_slice(&self.ingress.to_ne_bytes());
        out[5] = self.protocol;
        out[6..8].copy_from_slice(&self.source_port.to_be_bytes());
        out[8..10].copy_from_slice(&self.destination_port.to_be_bytes());
        match (self.source, self.destination) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                out[4] = 4;
                out[12..16].copy_from_slice(&s.octets());
                out[28..32].copy_from_slice(&d.octets());
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                out[4] = 6;
                out[12..28].copy_from_slice(&s.octets());
                out[28..44].copy_from_slice(&d.octets());
            }
            _ => return None,
        }
        Some(out)
    }

    /// The key a map holds, read back; `None` for bytes no key has.
    pub fn from_bytes(bytes: &[u8; FLOW_KEY_LEN]) -> Option<FastKey> {
        let word = |at: usize| u32::from_ne_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let port = |at: usize| u16::from_be_bytes([bytes[at], bytes[at + 1]]);
        let (source, destination) = match bytes[4] {
            4 => {
                let s: [u8; 4] = bytes[12..16].try_into().expect("4 bytes");
                let d: [u8; 4] = bytes[28..32].try_into().expect("4 bytes");
                (IpAddr::from(s), IpAddr::from(d))
            }
            6 => {
                let s: [u8; 16] = bytes[12..28].try_into().expect("16 bytes");
                let d: [u8; 16] = bytes[28..44].try_into().expect("16 bytes");
                (IpAddr::from(s), IpAddr::from(d))
            }
            _ => return None,
        };
        Some(FastKey {
            ingress: word(0),
            protocol: bytes[5],
            source,
            destination,
            source_port: port(6),
            destination_port: port(8),
        })
    }
}

/// Where an installed flow's packets go: the host end of the egress port,
/// and the MAC address of that port's `eth0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastTarget {
    pub egress: u32,
    pub mac: [u8; 6],
}

impl FastTarget {
    /// A new entry's bytes: the target, with its counters at zero.
    pub fn to_bytes(self) -> [u8; FLOW_ENTRY_LEN] {
        let mut out = [0u8; FLOW_ENTRY_LEN];
        out[0..4].copy_from_slice(&self.egress.to_ne_bytes());
        out[4..10].copy_from_slice(&self.mac);
        out
    }
}

/// What the kernel counted on a flow entry: wire packets (a super-packet's
/// segments), their IP bytes, and when the last one passed
/// (`CLOCK_MONOTONIC` nanoseconds; 0 while none has).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FastCounters {
    pub packets: u64,
    pub bytes: u64,
    pub last_used_ns: u64,
}

impl FastCounters {
    pub fn from_bytes(bytes: &[u8; FLOW_ENTRY_LEN]) -> FastCounters {
        let word = |at: usize| u64::from_ne_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        FastCounters {
            packets: word(16),
            bytes: word(24),
            last_used_ns: word(32),
        }
    }
}

/// A port's entry: for its host end, the TUN that is its slow path; for
/// its TUN, the host end the daemon's packets leave by. Both carry the MAC
/// and the MTU the port's `eth0` was given.
pub(super) fn port_entry(kind: u32, peer: u32, mac: [u8; 6], mtu: u16) -> [u8; PORT_LEN] {
    let mut out = [0u8; PORT_LEN];
    out[0..4].copy_from_slice(&kind.to_ne_bytes());
    out[4..8].copy_from_slice(&peer.to_ne_bytes());
    out[8..14].copy_from_slice(&mac);
    out[14..16].copy_from_slice(&mtu.to_ne_bytes());
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
    fn entries_start_with_their_target_and_zero_counters() {
        let target = FastTarget {
            egress: 9,
            mac: [2, 0, 0, 0, 0, 0x0b],
        };
        let bytes = target.to_bytes();
        assert_eq!(&bytes[0..4], &9u32.to_ne_bytes());
        assert_eq!(&bytes[4..10], &[2, 0, 0, 0, 0, 0x0b]);
        assert_eq!(FastCounters::from_bytes(&bytes), FastCounters::default());
        let mut counted = bytes;
        counted[16..24].copy_from_slice(&3u64.to_ne_bytes());
        counted[24..32].copy_from_slice(&4500u64.to_ne_bytes());
        counted[32..40].copy_from_slice(&77u64.to_ne_bytes());
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
