//! Azure's internal Standard load balancer, as decisions over a topology:
//! which backends a rule may give a new flow to (those its probe finds
//! healthy), and which fields of a flow pick the backend (the rule's
//! `load_distribution`).
//!
//! - `Default` hashes the 5-tuple, `SourceIP` the source and destination
//!   addresses, `SourceIPProtocol` those and the protocol
//!   (docs/src/azure-behaviour.md §7).
//! - The hash is symmetric: a flow and its reply pick the same backend, so
//!   that the two directions of a connection through an HA-ports frontend
//!   cross the same appliance, as Azure guarantees for single-NIC NVAs.
//! - Health is an input, like learned routes: what the probes found, by
//!   names that survive an `apply`. A backend no probe has marked down is
//!   up (a snapshot compiled from a file alone sees every backend up).

use crate::net::PacketKey;
use crate::topology::LoadDistribution;
use std::collections::BTreeSet;
use std::net::IpAddr;

/// One probe of one load balancer against one backend NIC, by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProbeTarget {
    pub load_balancer: String,
    pub probe: String,
    pub nic: String,
}

/// What the health probes found: the targets that are down.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendHealth {
    down: BTreeSet<ProbeTarget>,
}

impl BackendHealth {
    /// True unless a probe marked the target down.
    pub fn is_up(&self, target: &ProbeTarget) -> bool {
        !self.down.contains(target)
    }

    /// Records the target's state; true when it changed.
    pub fn set(&mut self, target: ProbeTarget, up: bool) -> bool {
        if up {
            self.down.remove(&target)
        } else {
            self.down.insert(target)
        }
    }

    /// Every target marked down.
    pub fn down(&self) -> impl Iterator<Item = &ProbeTarget> {
        self.down.iter()
    }

    /// What both found: a target is down when either marked it down (each
    /// knows targets the other does not probe).
    pub fn union(&self, other: &BackendHealth) -> BackendHealth {
        BackendHealth {
            down: self.down.union(&other.down).cloned().collect(),
        }
    }
}

/// The hash that places a new flow on a backend: over the fields
/// `distribution` names, and the same for a packet and its reply (the two
/// ends are hashed alone and added, which does not care about their order).
#[inline(always)]
pub fn distribution_hash(distribution: LoadDistribution, key: &PacketKey) -> u64 {
    let with_ports = distribution == LoadDistribution::Default;
    let end = |ip: IpAddr, port: Option<u16>| {
        let port = if with_ports {
            u64::from(port.unwrap_or(0))
        } else {
            0
        };
        // One xor-shift and one multiply: not linear in the sum below,
        // so that flows whose ends add up alike still spread.
        let x = address_bits(ip) ^ port << 48;
        (x ^ x >> 29).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    };
    let mut h = end(key.src, key.src_port).wrapping_add(end(key.dst, key.dst_port));
    if distribution != LoadDistribution::SourceIp {
        h ^= u64::from(key.proto).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    finish(h)
}

#[inline]
fn address_bits(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v4) => u64::from(u32::from(v4)),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            (bits as u64) ^ ((bits >> 64) as u64).rotate_left(29)
        }
    }
}

/// MurmurHash3's finaliser: every input bit reaches the low bits that pick
/// the backend.
#[inline]
fn finish(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}
