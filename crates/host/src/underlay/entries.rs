//! The underlay's maps as its kernel programs read them: the settings
//! (where each program finds the other's device), a destination (the host
//! and VNI a MAC is reached with, and whether that host is trusted), and
//! what the programs counted (of all frames, and of each other host's),
//! written and read as the byte layouts of `bpf/underlay.h`. Where each
//! member lies is in [`layout`], which `tests/bpf/layouts.rs` checks
//! against the object's BTF.

use std::net::Ipv4Addr;

use layout::*;

/// Length of `struct underlay_settings`.
pub const UNDERLAY_SETTINGS_LEN: usize = 12;
/// Length of `struct mac_key`.
pub const MAC_KEY_LEN: usize = 6;
/// Length of `struct destination`.
pub const DESTINATION_LEN: usize = 12;
/// Length of `struct frame_counters`.
pub const FRAME_COUNTERS_LEN: usize = 48;
/// Length of `struct host_counters`.
pub const HOST_COUNTERS_LEN: usize = 16;

/// The bytes each member of the maps' structs occupies, named
/// `<STRUCT>_<MEMBER>` after `bpf/underlay.h`; every member is in native
/// order, and an address in host order (as tunnel keys hold it).
pub mod layout {
    use std::ops::Range;

    pub const UNDERLAY_SETTINGS_VXLAN_IFINDEX: Range<usize> = 0..4;
    pub const UNDERLAY_SETTINGS_TAP_IFINDEX: Range<usize> = 4..8;
    pub const UNDERLAY_SETTINGS_LOCAL_IPV4: Range<usize> = 8..12;

    pub const MAC_KEY_MAC: Range<usize> = 0..6;

    pub const DESTINATION_REMOTE_IPV4: Range<usize> = 0..4;
    pub const DESTINATION_VNI: Range<usize> = 4..8;
    /// 1 if the host is trusted, else 0.
    pub const DESTINATION_TRUSTED: Range<usize> = 8..12;

    pub const FRAME_COUNTERS_SENT: Range<usize> = 0..8;
    pub const FRAME_COUNTERS_RECEIVED: Range<usize> = 8..16;
    pub const FRAME_COUNTERS_UNTRUSTED: Range<usize> = 16..24;
    pub const FRAME_COUNTERS_NO_DESTINATION: Range<usize> = 24..32;
    pub const FRAME_COUNTERS_FAILED: Range<usize> = 32..40;
    pub const FRAME_COUNTERS_NOT_TRUSTED: Range<usize> = 40..48;

    pub const HOST_COUNTERS_REFUSED: Range<usize> = 0..8;
    pub const HOST_COUNTERS_NOT_SENT: Range<usize> = 8..16;
}

/// `struct underlay_settings`: the VXLAN device's index, the TAP's and
/// this host's underlay address.
pub(super) fn settings(vxlan: u32, tap: u32, local: Ipv4Addr) -> [u8; UNDERLAY_SETTINGS_LEN] {
    let mut out = [0u8; UNDERLAY_SETTINGS_LEN];
    out[UNDERLAY_SETTINGS_VXLAN_IFINDEX].copy_from_slice(&vxlan.to_ne_bytes());
    out[UNDERLAY_SETTINGS_TAP_IFINDEX].copy_from_slice(&tap.to_ne_bytes());
    out[UNDERLAY_SETTINGS_LOCAL_IPV4].copy_from_slice(&u32::from(local).to_ne_bytes());
    out
}

/// `struct destination`: the host a MAC is on, the VNI it is reached
/// with, and whether that host is trusted.
pub(super) fn destination(remote: Ipv4Addr, vni: u32, trusted: bool) -> [u8; DESTINATION_LEN] {
    let mut out = [0u8; DESTINATION_LEN];
    out[DESTINATION_REMOTE_IPV4].copy_from_slice(&u32::from(remote).to_ne_bytes());
    out[DESTINATION_VNI].copy_from_slice(&vni.to_ne_bytes());
    out[DESTINATION_TRUSTED].copy_from_slice(&u32::from(trusted).to_ne_bytes());
    out
}

fn word(bytes: &[u8], at: std::ops::Range<usize>) -> u64 {
    u64::from_ne_bytes(bytes[at].try_into().expect("8 bytes"))
}

/// What the programs counted since the underlay was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnderlayCounters {
    /// Frames the daemon wrote that went into the tunnel.
    pub sent: u64,
    /// Frames from other hosts handed to the daemon.
    pub received: u64,
    /// Frames from other hosts dropped because their source address was
    /// not trusted.
    pub untrusted: u64,
    /// Frames the daemon wrote that were dropped because their destination
    /// MAC had no entry.
    pub no_destination: u64,
    /// Frames the daemon wrote that were dropped because the host their
    /// destination MAC is on was not trusted.
    pub not_trusted: u64,
    /// Frames dropped for any other reason: a frame without a tunnel key
    /// (or of an IPv6 underlay), or a helper that failed.
    pub failed: u64,
}

impl UnderlayCounters {
    /// One CPU's `struct frame_counters`.
    pub(super) fn from_bytes(bytes: &[u8; FRAME_COUNTERS_LEN]) -> UnderlayCounters {
        UnderlayCounters {
            sent: word(bytes, FRAME_COUNTERS_SENT),
            received: word(bytes, FRAME_COUNTERS_RECEIVED),
            untrusted: word(bytes, FRAME_COUNTERS_UNTRUSTED),
            no_destination: word(bytes, FRAME_COUNTERS_NO_DESTINATION),
            not_trusted: word(bytes, FRAME_COUNTERS_NOT_TRUSTED),
            failed: word(bytes, FRAME_COUNTERS_FAILED),
        }
    }

    /// The sum of two readings (of two CPUs).
    pub(super) fn plus(self, other: UnderlayCounters) -> UnderlayCounters {
        UnderlayCounters {
            sent: self.sent.wrapping_add(other.sent),
            received: self.received.wrapping_add(other.received),
            untrusted: self.untrusted.wrapping_add(other.untrusted),
            no_destination: self.no_destination.wrapping_add(other.no_destination),
            not_trusted: self.not_trusted.wrapping_add(other.not_trusted),
            failed: self.failed.wrapping_add(other.failed),
        }
    }
}

/// What was dropped of one other host's frames, and of the frames for it,
/// while it was not trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostCounters {
    pub address: Ipv4Addr,
    /// Frames from it dropped at the VXLAN device's ingress.
    pub refused: u64,
    /// Frames the daemon wrote for a port on it, dropped at the TAP.
    pub not_sent: u64,
}

impl HostCounters {
    /// Nothing counted yet of host `address`.
    pub(super) fn none(address: Ipv4Addr) -> HostCounters {
        HostCounters {
            address,
            refused: 0,
            not_sent: 0,
        }
    }

    /// Adds one CPU's `struct host_counters`.
    pub(super) fn plus(self, bytes: &[u8; HOST_COUNTERS_LEN]) -> HostCounters {
        HostCounters {
            refused: self
                .refused
                .wrapping_add(word(bytes, HOST_COUNTERS_REFUSED)),
            not_sent: self
                .not_sent
                .wrapping_add(word(bytes, HOST_COUNTERS_NOT_SENT)),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_and_destinations_are_laid_out_as_the_kernel_programs_read_them() {
        let bytes = settings(12, 13, Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(&bytes[0..4], &12u32.to_ne_bytes());
        assert_eq!(&bytes[4..8], &13u32.to_ne_bytes());
        assert_eq!(&bytes[8..12], &0xc000_0201u32.to_ne_bytes());
        let bytes = destination(Ipv4Addr::new(192, 0, 2, 3), 0x0a0b0c, true);
        assert_eq!(&bytes[0..4], &0xc000_0203u32.to_ne_bytes());
        assert_eq!(&bytes[4..8], &0x0a0b0cu32.to_ne_bytes());
        assert_eq!(&bytes[8..12], &1u32.to_ne_bytes());
        let untrusted = destination(Ipv4Addr::new(192, 0, 2, 3), 1, false);
        assert_eq!(&untrusted[8..12], &[0; 4]);
    }

    #[test]
    fn counters_are_read_in_the_order_the_kernel_programs_count_them() {
        let mut bytes = [0u8; FRAME_COUNTERS_LEN];
        for (i, word) in bytes.chunks_exact_mut(8).enumerate() {
            word.copy_from_slice(&(i as u64 + 1).to_ne_bytes());
        }
        let one = UnderlayCounters::from_bytes(&bytes);
        let expected = UnderlayCounters {
            sent: 1,
            received: 2,
            untrusted: 3,
            no_destination: 4,
            failed: 5,
            not_trusted: 6,
        };
        assert_eq!(one, expected);
        assert_eq!(
            UnderlayCounters::default().plus(one).plus(one).not_trusted,
            12
        );
        let mut host = [0u8; HOST_COUNTERS_LEN];
        host[0..8].copy_from_slice(&3u64.to_ne_bytes());
        host[8..16].copy_from_slice(&4u64.to_ne_bytes());
        let counted = HostCounters::none(Ipv4Addr::new(192, 0, 2, 2))
            .plus(&host)
            .plus(&host);
        assert_eq!((counted.refused, counted.not_sent), (6, 8));
    }
}
