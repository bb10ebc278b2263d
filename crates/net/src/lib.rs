//! Plain network vocabulary that every layer shares: IP protocol numbers,
//! port ranges, and the 5-tuple that rules and flows look at. Nothing here
//! knows Azure, TUN devices or lookup structures; it sits below them all.
//!
//! It owns these types and may use nothing of the crate.

use std::net::IpAddr;

pub const IPPROTO_ICMP: u8 = 1;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_ESP: u8 = 50;
pub const IPPROTO_AH: u8 = 51;
pub const IPPROTO_ICMPV6: u8 = 58;

/// Inclusive port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRange {
    pub lo: u16,
    pub hi: u16,
}

/// The ports a rule matches. `Any` (`*`) also matches packets that carry no
/// ports (ICMP, ESP, AH); a list of ranges matches only TCP and UDP packets
/// whose port falls in one of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PortSpec {
    Any,
    Ranges(Vec<PortRange>),
}

impl PortSpec {
    /// `port` is `None` for packets without ports.
    pub fn matches(&self, port: Option<u16>) -> bool {
        match (self, port) {
            (PortSpec::Any, _) => true,
            (PortSpec::Ranges(_), None) => false,
            (PortSpec::Ranges(r), Some(p)) => r.iter().any(|r| r.lo <= p && p <= r.hi),
        }
    }
}

/// The fields of a packet that rules look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PacketKey {
    /// IP protocol number (IPv4 protocol / IPv6 next header).
    pub proto: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// `None` for protocols without ports.
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
}

impl PacketKey {
    /// The same packet seen from the other end: addresses and ports swapped.
    pub fn reversed(&self) -> PacketKey {
        PacketKey {
            proto: self.proto,
            src: self.dst,
            dst: self.src,
            src_port: self.dst_port,
            dst_port: self.src_port,
        }
    }
}
