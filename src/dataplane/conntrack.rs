//! NSG statefulness on the generic flow table: a flow is recorded per NIC
//! and direction when that NIC's NSGs allow its first packet; later packets
//! of the flow, and its replies (the reversed 5-tuple in the other
//! direction), are admitted by state without running the rules again, as
//! Azure does. Idle flows expire after the VNet's `flow_timeout_in_minutes`.

use super::decide::Conntrack;
use super::packet::PacketView;
use crate::engine::flow_table::{FlowKey, FlowTable};
use crate::topology::{Direction, NicIdx};

fn direction_code(d: Direction) -> u8 {
    match d {
        Direction::Inbound => 0,
        Direction::Outbound => 1,
    }
}

fn opposite(d: Direction) -> Direction {
    match d {
        Direction::Inbound => Direction::Outbound,
        Direction::Outbound => Direction::Inbound,
    }
}

/// The flow key of a packet at a NIC, in a direction.
pub fn flow_key(nic: NicIdx, direction: Direction, p: &PacketView) -> Option<FlowKey> {
    let (sport, dport) = p.flow_ports;
    FlowKey::from_ips(
        nic as u32,
        direction_code(direction),
        p.key.proto,
        p.key.src,
        p.key.dst,
        sport,
        dport,
    )
}

impl Conntrack for FlowTable {
    #[inline]
    fn admitted(&self, nic: NicIdx, direction: Direction, p: &PacketView, now_ms: u64) -> bool {
        let Some(key) = flow_key(nic, direction, p) else {
            return false;
        };
        let bytes = p.len as u64;
        if let Some(flow) = self.lookup(&key, now_ms) {
            flow.touch(now_ms, bytes, true);
            return true;
        }
        // A reply: the reversed tuple, recorded in the other direction.
        let mut reply = key.reversed();
        reply.direction = direction_code(opposite(direction));
        match self.lookup(&reply, now_ms) {
            Some(flow) => {
                flow.touch(now_ms, bytes, false);
                true
            }
            None => false,
        }
    }

    #[inline]
    fn admit(
        &self,
        nic: NicIdx,
        direction: Direction,
        p: &PacketView,
        rule_tag: u32,
        idle_timeout_ms: u64,
        now_ms: u64,
    ) {
        if let Some(key) = flow_key(nic, direction, p) {
            // A full table (for this NIC) leaves the flow untracked: its
            // packets are still judged by the rules, one by one.
            let _ = self.insert(&key, rule_tag, 0, idle_timeout_ms, now_ms, p.len as u64);
        }
    }
}
