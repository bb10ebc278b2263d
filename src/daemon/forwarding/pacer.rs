//! A worker's share of shaping: what it does to a packet once the packet's
//! egress is decided, with the plane's compiled [`ShapingTables`](crate::snapshot::shaping::ShapingTables). The
//! path's MTU (fragment IPv4 without DF, drop the rest, as Azure), a VPN
//! tunnel's MSS clamp, then, unless shaping is off (`--no-shaping`), the
//! path's loss, rate caps and delay ([`crate::dataplane::pacing`]): a
//! packet that must wait goes to the worker's [`DelayLine`] and is written
//! when due. A plane's held packets leave through that plane's queues,
//! even after `apply` publishes another.
//!
//! A flow keeps its order: a packet is never released before an earlier
//! one of its flow, which any worker may hold (the flows' departure clocks
//! are the plane's, shared), and a worker writes the held packets that are
//! due before any packet it reads after them.
//!
//! Per packet: no allocation, no lock; a worker's delay line is allocated
//! when it first holds a packet (and kept, emptied, across planes).

use std::io;
use std::sync::Arc;

use super::plane::{Egress, Plane};
use super::port_id::PortId;
use super::stats::WorkerCounters;
use crate::dataplane::coalesce::{vnet_header, F_NEEDS_CSUM};
use crate::dataplane::delay_line::DelayLine;
use crate::dataplane::pacing::{pace, Pace, Rng};
use crate::dataplane::path_mtu::{clamp_mss, finish_checksum, fit, fragment_ipv4, Fit};
use crate::dataplane::DropReason;
use crate::engine::flow_table::Traffic;
use crate::host::{gso_segment_size, VNET_HDR_LEN};
use crate::plan::PortIdx;

/// Packet memory of a worker's delay line: a path of 200 ms at 1 Gbit/s
/// holds 25 MB.
const LINE_BYTES: usize = 32 << 20;
/// Packets a delay line holds at once.
const LINE_PACKETS: usize = 1 << 16;
/// Largest buffer a fragment is written to: its header and up to 64 KiB.
const SCRATCH: usize = VNET_HDR_LEN + 65_536;

/// What the pacer did with a packet.
pub enum Paced {
    /// Send it now, as it is in the buffer.
    Send,
    /// It is taken care of (held, fragmented and sent, or dropped and
    /// counted).
    Done,
}

pub struct Pacer {
    /// Shaping on (`--no-shaping` turns the delays and rates off; MTUs
    /// stay).
    pub shaping: bool,
    line: Option<DelayLine>,
    /// The previous plane and the packets still held under it.
    draining: Option<(Arc<Plane>, DelayLine)>,
    /// An emptied line whose memory serves the next plane.
    spare: Option<DelayLine>,
    rng: Rng,
    scratch: Vec<u8>,
}

impl Pacer {
    pub fn new(shaping: bool, seed: u64) -> Pacer {
        Pacer {
            shaping,
            line: None,
            draining: None,
            spare: None,
            rng: Rng::new(seed),
            scratch: Vec::new(),
        }
    }

    /// A new plane replaces `previous` (none at the worker's start):
    /// packets held under the old one keep their times and its queues.
    pub fn plane_changed(
        &mut self,
        previous: Option<&Arc<Plane>>,
        worker: usize,
        counters: &WorkerCounters,
    ) {
        let held = self.line.as_ref().is_some_and(|l| !l.is_empty());
        if let (true, Some(previous), Some(line)) = (held, previous, self.line.take()) {
            if let Some((plane, mut older)) = self.draining.take() {
                // Two changes within one delay: the oldest go now.
                release(&plane, &mut older, u64::MAX, worker, counters);
                self.spare = Some(older);
            }
            self.draining = Some((previous.clone(), line));
            self.line = self.spare.take();
        }
    }

    /// When the next held packet is due, if any is held.
    pub fn next_release(&self) -> Option<u64> {
        let current = self.line.as_ref().and_then(DelayLine::next_release);
        let older = self.draining.as_ref().and_then(|(_, l)| l.next_release());
        current.into_iter().chain(older).min()
    }

    /// Writes every held packet that is due.
    pub fn release_due(
        &mut self,
        plane: &Plane,
        now_ns: u64,
        worker: usize,
        counters: &WorkerCounters,
    ) {
        if let Some((old, line)) = &mut self.draining {
            release(old, line, now_ns, worker, counters);
            if line.is_empty() {
                self.spare = self.draining.take().map(|(_, line)| line);
            }
        }
        if let Some(line) = &mut self.line {
            release(plane, line, now_ns, worker, counters);
        }
    }

    /// What the path from `ingress` to `egress` does to the packet in
    /// `buf[..len]` (virtio-net header first) of the flow whose hash is
    /// `flow`, counted as `traffic`.
    #[allow(clippy::too_many_arguments)]
    pub fn shape(
        &mut self,
        plane: &Plane,
        headers_len: u16,
        ingress: PortIdx,
        egress: PortIdx,
        flow: u64,
        buf: &mut [u8],
        len: usize,
        traffic: Traffic,
        now_ns: u64,
        worker: usize,
        counters: &WorkerCounters,
    ) -> Paced {
        let tables = &plane.snapshot.shaping;
        let index = tables.profile_index(ingress, egress);
        let profile = tables.profiles[index];
        let sender = plane.port_id(ingress);
        let header = vnet_header(buf);
        let gso = gso_segment_size(&buf[..VNET_HDR_LEN]);
        match fit(
            &buf[VNET_HDR_LEN..len],
            profile.shaping.mtu,
            gso,
            headers_len,
        ) {
            Fit::Fits => {}
            Fit::TooBig => {
                counters.dropped_many(sender, DropReason::TooBig, traffic.packets);
                return Paced::Done;
            }
            Fit::Fragment => {
                if let Some(h) = header.filter(|h| h.flags & F_NEEDS_CSUM != 0) {
                    let (start, offset) = (usize::from(h.csum_start), usize::from(h.csum_offset));
                    finish_checksum(&mut buf[VNET_HDR_LEN..len], start, offset);
                }
                if self.scratch.is_empty() {
                    self.scratch = vec![0; SCRATCH];
                }
                let mut scratch = std::mem::take(&mut self.scratch);
                scratch[..VNET_HDR_LEN].fill(0);
                let cut = fragment_ipv4(
                    &buf[VNET_HDR_LEN..len],
                    profile.shaping.mtu,
                    &mut scratch,
                    VNET_HDR_LEN,
                    |fragment| {
                        let traffic = Traffic::packet((fragment.len() - VNET_HDR_LEN) as u64);
                        let packet = (ingress, egress, flow);
                        if let Paced::Send =
                            self.pace_one(plane, index, packet, fragment, traffic, now_ns, counters)
                        {
                            send(plane, egress, fragment, traffic, worker, counters);
                        }
                    },
                );
                self.scratch = scratch;
                if !cut {
                    counters.dropped_many(sender, DropReason::TooBig, traffic.packets);
                }
                return Paced::Done;
            }
        }
        if let Some(clamp) = profile.shaping.mss_clamp {
            let partial = header.is_some_and(|h| h.flags & F_NEEDS_CSUM != 0);
            clamp_mss(&mut buf[VNET_HDR_LEN..len], clamp, partial);
        }
        self.pace_one(
            plane,
            index,
            (ingress, egress, flow),
            &buf[..len],
            traffic,
            now_ns,
            counters,
        )
    }

    /// Loss, caps and delay for one packet (header and IP bytes) of the
    /// flow hashed `flow`, from `ingress` to `egress`.
    #[allow(clippy::too_many_arguments)]
    fn pace_one(
        &mut self,
        plane: &Plane,
        index: usize,
        (ingress, egress, flow): (PortIdx, PortIdx, u64),
        packet: &[u8],
        traffic: Traffic,
        now_ns: u64,
        counters: &WorkerCounters,
    ) -> Paced {
        let tables = &plane.snapshot.shaping;
        if !self.shaping || !tables.paces(ingress, index) {
            return Paced::Send;
        }
        let profile = &tables.profiles[index];
        let vm = tables.vm_bucket[ingress];
        let caps = vm
            .into_iter()
            .chain(profile.buckets.iter().flatten().copied())
            .map(|b| &tables.buckets[usize::from(b)]);
        let sender = plane.port_id(ingress);
        match pace(
            &profile.shaping,
            caps,
            now_ns,
            traffic.bytes,
            traffic.packets,
            &mut self.rng,
            tables.departure(index, flow),
        ) {
            Pace::Now => Paced::Send,
            Pace::Lost => {
                counters.dropped_many(sender, DropReason::ImpairedLoss, traffic.packets);
                Paced::Done
            }
            Pace::QueueFull => {
                counters.dropped_many(sender, DropReason::RateQueueFull, traffic.packets);
                Paced::Done
            }
            Pace::At(release) => {
                let spare = &mut self.spare;
                let line = self.line.get_or_insert_with(|| {
                    spare
                        .take()
                        .unwrap_or_else(|| DelayLine::new(LINE_BYTES, LINE_PACKETS))
                });
                let tag = (traffic.packets << 32) | (traffic.bytes & 0xffff_ffff);
                if !line.hold(packet, usize::from(egress) as u32, tag, release) {
                    counters.dropped_many(sender, DropReason::DelayLineFull, traffic.packets);
                }
                Paced::Done
            }
        }
    }
}

/// Why a write to an egress device failed, as a drop reason: a full queue
/// (the kernel's backpressure), a device that is gone, or anything else.
pub fn send_error_reason(err: &io::Error) -> DropReason {
    match err.raw_os_error() {
        Some(libc::EAGAIN | libc::ENOBUFS) => DropReason::EgressFull,
        Some(libc::EIO | libc::EBADF | libc::EBADFD | libc::ENODEV | libc::ENXIO | libc::EPIPE) => {
            DropReason::EgressGone
        }
        _ if err.kind() == io::ErrorKind::WouldBlock => DropReason::EgressFull,
        _ => DropReason::EgressError,
    }
}

/// Writes `packet` to `queue`, the egress port's queue of this worker (if
/// it still has one), and counts it at `port`: received by the NIC, or dropped with
/// the write's reason (a full queue loses the packet, as a full link
/// would).
pub fn write_counted(
    counters: &WorkerCounters,
    port: PortId,
    queue: Option<Egress<'_>>,
    packet: &[u8],
    traffic: Traffic,
) {
    match queue.map(|q| q.send(packet)) {
        Some(Ok(_)) => counters.nic_received(port, traffic),
        Some(Err(e)) => counters.dropped_many(port, send_error_reason(&e), traffic.packets),
        None => counters.dropped_many(port, DropReason::EgressGone, traffic.packets),
    }
}

/// Writes `packet` to this worker's queue of `egress` and counts it.
fn send(
    plane: &Plane,
    egress: PortIdx,
    packet: &[u8],
    traffic: Traffic,
    worker: usize,
    counters: &WorkerCounters,
) {
    let queue = plane.egress(egress, worker, packet);
    write_counted(counters, plane.port_id(egress), queue, packet, traffic);
}

/// Writes what `line` holds that is due, through `plane`'s queues.
fn release(
    plane: &Plane,
    line: &mut DelayLine,
    now_ns: u64,
    worker: usize,
    counters: &WorkerCounters,
) {
    line.release_due(now_ns, |egress, tag, packet| {
        let traffic = Traffic {
            packets: tag >> 32,
            bytes: tag & 0xffff_ffff,
        };
        send(
            plane,
            PortIdx::from(egress as usize),
            packet,
            traffic,
            worker,
            counters,
        );
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn send_errors_have_reasons_of_their_own() {
        let reason = |errno| send_error_reason(&io::Error::from_raw_os_error(errno));
        assert_eq!(reason(libc::EAGAIN), DropReason::EgressFull);
        assert_eq!(reason(libc::ENOBUFS), DropReason::EgressFull);
        assert_eq!(reason(libc::EBADFD), DropReason::EgressGone);
        assert_eq!(reason(libc::EIO), DropReason::EgressGone);
        assert_eq!(reason(libc::ENODEV), DropReason::EgressGone);
        assert_eq!(reason(libc::EINVAL), DropReason::EgressError);
        assert_eq!(reason(libc::EMSGSIZE), DropReason::EgressError);
        assert_eq!(
            send_error_reason(&io::Error::from(io::ErrorKind::WouldBlock)),
            DropReason::EgressFull
        );
    }
}
