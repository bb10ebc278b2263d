//! One queue of the underlay's TAP device, read and written as if it were
//! a TUN queue.
//!
//! A TAP carries Ethernet frames where a TUN device carries IP packets,
//! and its `virtio_net_hdr` counts offsets from the start of the frame.
//! Each read and write here is one `readv` or `writev` that puts the
//! Ethernet header in a buffer of its own, and moves the header's offsets
//! by its 14 bytes, so that the rest of the buffer is exactly what a TUN
//! queue holds: the header, then the IP packet. Nothing is copied but the
//! 10-byte header on a write, and nothing allocated.

use std::io::{self, IoSlice, IoSliceMut};

use tun_rs::SyncDevice;

use crate::tun::VNET_HDR_LEN;

/// Length of an Ethernet header (no VLAN tag).
pub const ETH_HLEN: usize = 14;

/// Offsets of the `virtio_net_hdr` fields that count from the start of the
/// frame (each a native-endian u16, as the kernel reads a TUN/TAP header
/// unless told otherwise).
const FLAGS: usize = 0;
const HDR_LEN: usize = 2;
const CSUM_START: usize = 6;

/// The `flags` bit of a packet whose checksum is left to finish, from
/// `csum_start` on. `tun-rs` defines it but does not export it.
const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;

/// Field `at` of `header`, moved by `delta`; `None` out of the u16 range.
fn moved(header: &[u8; VNET_HDR_LEN], at: usize, delta: i32) -> Option<[u8; 2]> {
    let value = i32::from(u16::from_ne_bytes([header[at], header[at + 1]]));
    Some(u16::try_from(value + delta).ok()?.to_ne_bytes())
}

/// Moves the offsets of the `virtio_net_hdr` `header` by `delta` bytes:
/// `csum_start` when the checksum is left to finish (`NEEDS_CSUM`), and
/// `hdr_len` (the length of the headers, a hint) when it is set. `None`,
/// changing nothing, when `csum_start` would leave the u16 range.
fn shift(header: &mut [u8; VNET_HDR_LEN], delta: i32) -> Option<()> {
    if header[FLAGS] & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0 {
        let csum_start = moved(header, CSUM_START, delta)?;
        header[CSUM_START..CSUM_START + 2].copy_from_slice(&csum_start);
    }
    if header[HDR_LEN..HDR_LEN + 2] != [0, 0] {
        // A hint only: one too short is raised by the kernel, not refused.
        let hdr_len = moved(header, HDR_LEN, delta).unwrap_or_default();
        header[HDR_LEN..HDR_LEN + 2].copy_from_slice(&hdr_len);
    }
    Some(())
}

/// The header of a frame read from a TAP, made that of its IP packet.
pub(super) fn header_from_tap(header: &mut [u8; VNET_HDR_LEN]) -> Option<()> {
    shift(header, -(ETH_HLEN as i32))
}

/// The header of an IP packet, made that of the frame it is written in.
pub(super) fn header_to_tap(header: &mut [u8; VNET_HDR_LEN]) -> Option<()> {
    shift(header, ETH_HLEN as i32)
}

/// One queue of the underlay's TAP device: one non-blocking fd, read and
/// written by one thread.
pub struct UnderlayQueue {
    device: SyncDevice,
    udp_segmentation: bool,
}

impl UnderlayQueue {
    pub(super) fn new(device: SyncDevice, udp_segmentation: bool) -> UnderlayQueue {
        UnderlayQueue {
            device,
            udp_segmentation,
        }
    }

    /// Reads one frame: its `virtio_net_hdr` into `buf[..VNET_HDR_LEN]`,
    /// its Ethernet header into `eth` and the IP packet after the header,
    /// so that `buf` holds what a TUN queue would have given (the header's
    /// offsets count from the IP packet). Returns the length in `buf`
    /// (header and packet). A buffer of `VNET_HDR_LEN + 65535` bytes holds
    /// any frame.
    pub fn recv(&self, buf: &mut [u8], eth: &mut [u8; ETH_HLEN]) -> io::Result<usize> {
        let Some((header, packet)) = buf.split_first_chunk_mut::<VNET_HDR_LEN>() else {
            return Err(io::ErrorKind::InvalidInput.into());
        };
        let read = self.device.recv_vectored(&mut [
            IoSliceMut::new(header),
            IoSliceMut::new(eth),
            IoSliceMut::new(packet),
        ])?;
        // The kernel never hands a TAP reader less than a header and an
        // Ethernet header; an offset out of range would be its bug.
        if read < VNET_HDR_LEN + ETH_HLEN || header_from_tap(header).is_none() {
            return Err(io::ErrorKind::InvalidData.into());
        }
        Ok(read - ETH_HLEN)
    }

    /// Writes one frame: `packet` is a `virtio_net_hdr` and an IP packet,
    /// as read from a TUN queue (or from [`UnderlayQueue::recv`]), `eth`
    /// the Ethernet header to put between them. Returns `packet.len()`.
    pub fn send(&self, packet: &[u8], eth: &[u8; ETH_HLEN]) -> io::Result<usize> {
        let Some((header, ip)) = packet.split_first_chunk::<VNET_HDR_LEN>() else {
            return Err(io::ErrorKind::InvalidInput.into());
        };
        let mut header = *header;
        if header_to_tap(&mut header).is_none() {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        let written = self.device.send_vectored(&[
            IoSlice::new(&header),
            IoSlice::new(eth),
            IoSlice::new(ip),
        ])?;
        Ok(written.saturating_sub(ETH_HLEN))
    }

    /// Whether writes may carry UDP super-packets (`GSO_UDP_L4`): the
    /// device accepted USO4 and USO6.
    pub fn udp_segmentation(&self) -> bool {
        self.udp_segmentation
    }
}

crate::tun::queue_fd!(UnderlayQueue);

#[cfg(test)]
mod tests {
    use super::*;

    fn header(flags: u8, hdr_len: u16, csum_start: u16) -> [u8; VNET_HDR_LEN] {
        let mut header = [0u8; VNET_HDR_LEN];
        header[FLAGS] = flags;
        header[HDR_LEN..HDR_LEN + 2].copy_from_slice(&hdr_len.to_ne_bytes());
        header[CSUM_START..CSUM_START + 2].copy_from_slice(&csum_start.to_ne_bytes());
        header
    }

    #[test]
    fn offsets_move_by_the_ethernet_header_and_back() {
        let mut moved = header(VIRTIO_NET_HDR_F_NEEDS_CSUM, 54, 34);
        header_from_tap(&mut moved).unwrap();
        assert_eq!(moved, header(VIRTIO_NET_HDR_F_NEEDS_CSUM, 40, 20));
        header_to_tap(&mut moved).unwrap();
        assert_eq!(moved, header(VIRTIO_NET_HDR_F_NEEDS_CSUM, 54, 34));
    }

    #[test]
    fn a_header_without_offsets_is_left_alone() {
        let zero = header(0, 0, 0);
        let mut moved = zero;
        header_to_tap(&mut moved).unwrap();
        assert_eq!(moved, zero);
        // DATA_VALID: csum_start means nothing without NEEDS_CSUM.
        let valid = header(2, 0, 7);
        let mut moved = valid;
        header_from_tap(&mut moved).unwrap();
        assert_eq!(moved, valid);
    }

    #[test]
    fn offsets_out_of_range_are_refused_but_a_short_hint_is_dropped() {
        assert!(header_from_tap(&mut header(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 10)).is_none());
        assert!(header_to_tap(&mut header(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, u16::MAX)).is_none());
        let mut short = header(0, 8, 0);
        header_from_tap(&mut short).unwrap();
        assert_eq!(short, header(0, 0, 0));
    }
}
