//! What the kernel counted, added where the workers would have counted
//! it: each entry's packets at its NICs (`offloaded` among their
//! counters) and on its flow at both ends, with the kernel's last-use
//! time as the flow's last-seen time, and what the Internet edge's
//! translation or the load balancer's pin it keeps alive; and what the
//! fabric's programs dropped of a port's own packets, at the port. As
//! Azure counts packets on the wire: a super-packet is its segments or
//! datagrams.

use super::book::Installed;
use super::Offload;
use crate::daemon::forwarding::plane::Plane;
use crate::daemon::forwarding::port_id::PortId;
use crate::dataplane::DropReason;
use crate::engine::flow_table::{FlowTable, Traffic};
use crate::host::fabric::{FastCounters, PortCounters};
use crate::topology::Direction;
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;

impl Offload {
    /// Counts at the ports of `plane` what the programs dropped of their
    /// packets since the last reading, as a worker counts what it drops:
    /// IPv6 kept on the link (`unroutable`) and frames of no protocol the
    /// fabric carries (`malformed`), each sent by the port and dropped;
    /// and what was written for a port whose `eth0` was gone, counted
    /// received when written, now an `egress_gone` drop instead.
    pub(super) fn count_port_drops(&self, plane: &Plane, faults: &mut Vec<String>) {
        let drops = match self.fabric.port_drops() {
            Ok(drops) => drops,
            Err(err) => {
                warn_and_keep!(faults, "{err:#}");
                return;
            }
        };
        if drops.is_empty() {
            return;
        }
        let port_of: HashMap<u32, PortId> = (plane.ports.iter())
            .filter_map(|p| Some((p.fast?.host_end, p.id)))
            .collect();
        for (host_end, dropped) in drops {
            let Some(&port) = port_of.get(&host_end) else {
                continue;
            };
            self.count_dropped(port, &dropped);
        }
    }

    fn count_dropped(&self, port: PortId, dropped: &PortCounters) {
        for (reason, packets, bytes) in [
            (
                DropReason::Unroutable,
                dropped.unroutable_packets,
                dropped.unroutable_bytes,
            ),
            (
                DropReason::Malformed,
                dropped.malformed_packets,
                dropped.malformed_bytes,
            ),
        ] {
            if packets > 0 {
                self.counters.nic_sent(port, Traffic { packets, bytes });
                self.counters.dropped_many(port, reason, packets);
            }
        }
        if dropped.undelivered_packets > 0 {
            let traffic = Traffic {
                packets: dropped.undelivered_packets,
                bytes: dropped.undelivered_bytes,
            };
            self.counters.undelivered(port, traffic);
        }
    }

    /// Counts what the kernel carried on `installed` since it was last
    /// read, and what it dropped because the egress port was gone: at the
    /// NICs, as the workers count, and on the flow at both ends, as the
    /// tracking of a packet in the slow path would.
    pub(super) fn account(
        &self,
        installed: &mut Installed,
        now: FastCounters,
        flows: &FlowTable,
        now_ms: u64,
    ) {
        let before = installed.counted;
        let traffic = Traffic {
            packets: now.packets.saturating_sub(before.packets),
            bytes: now.bytes.saturating_sub(before.bytes),
        };
        let gone = Traffic {
            packets: now.gone_packets.saturating_sub(before.gone_packets),
            bytes: now.gone_bytes.saturating_sub(before.gone_bytes),
        };
        installed.counted = now;
        if traffic.packets == 0 && gone.packets == 0 {
            return;
        }
        let taken = Traffic {
            packets: traffic.packets + gone.packets,
            bytes: traffic.bytes + gone.bytes,
        };
        // As a worker counts: sent by the sender of this machine (none for
        // an arrival, whose sender's machine counts it), received by the
        // receiver (one on another machine too), or dropped there, its
        // `eth0` gone. The kernel received it only at a receiver of this
        // machine.
        self.counters.nic_sent(installed.ingress, taken);
        if traffic.packets > 0 {
            self.counters.nic_received(installed.egress, traffic);
        }
        if gone.packets > 0 {
            (self.counters).dropped_many(installed.egress, DropReason::EgressGone, gone.packets);
        }
        if let Some(c) = self.counters.ports.get(installed.ingress) {
            c.offloaded_packets_sent.fetch_add(taken.packets, Relaxed);
        }
        let received_here = installed.egress_host_end.is_some();
        if let Some(c) = (self.counters.ports.get(installed.egress)).filter(|_| received_here) {
            c.offloaded_packets_received
                .fetch_add(traffic.packets, Relaxed);
        }
        let last_ms = now
            .last_used_ns
            .saturating_sub(self.epoch_monotonic_ns)
            .checked_div(1_000_000)
            .unwrap_or(now_ms)
            .min(now_ms);
        // At the receiver, a translated direction is tracked as it arrives.
        for (port, direction, tuple) in [
            (installed.ingress, Direction::Outbound, installed.tuple),
            (installed.egress, Direction::Inbound, installed.arrived),
        ] {
            let Some(key) = tuple.flow_key(port, direction) else {
                continue;
            };
            if let Some(flow) = flows.lookup(&key, now_ms) {
                flow.touch(last_ms, taken, !flow.is_reply());
            }
        }
        // The translation's idle timer runs from the last packet carried,
        // as a worker's packet keeps it alive (counting nothing: the flows
        // above count).
        if let Some(flow) = (installed.translation).and_then(|k| flows.lookup(&k, now_ms)) {
            flow.keep_alive(last_ms);
        }
        // So does a load balancer's pin, as the packets that find it.
        if let Some(flow) = (installed.pin).and_then(|(k, _)| flows.lookup(&k, now_ms)) {
            flow.keep_alive(last_ms);
        }
    }
}
