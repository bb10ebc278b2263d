//! The fabric's maps as the kernel programs read them: a port's entry
//! (keyed by the ifindex of its host end or its TUN), a flow entry (one
//! direction of a flow, keyed by the host end it arrives at and its
//! 5-tuple), a tunnel entry (one direction that leaves by the tunnel, keyed
//! the same way), an arrival's key (one direction as it arrives from
//! another host: its VNI, its destination MAC and its 5-tuple), the
//! tunnel's settings, a counters slot and a port's counters, written as the byte layouts of
//! `bpf/fabric.h`. Where each member lies is in [`layout`], which
//! `tests/bpf/layouts.rs` checks against the object's BTF.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use layout::*;

/// Length of `struct flow_key`.
pub const FLOW_KEY_LEN: usize = 44;
/// Length of `struct flow_entry`.
pub const FLOW_ENTRY_LEN: usize = 48;
/// Length of `struct flow_counters`: a cache line.
pub const FLOW_COUNTERS_LEN: usize = 64;
/// Slots in one `struct counters_chunk` (`SLOTS_PER_CHUNK`).
pub const SLOTS_PER_CHUNK: u32 = 1024;
/// Length of `struct counters_chunk`.
pub const CHUNK_LEN: usize = SLOTS_PER_CHUNK as usize * FLOW_COUNTERS_LEN;
/// Length of `struct port`.
pub const PORT_LEN: usize = 24;
/// Length of `struct port_counters`.
pub const PORT_COUNTERS_LEN: usize = 48;
/// Ports in one `struct port_counters_chunk` (`PORTS_PER_CHUNK`).
pub const PORTS_PER_CHUNK: u32 = 1024;
/// Length of `struct port_counters_chunk`.
pub const PORT_CHUNK_LEN: usize = PORTS_PER_CHUNK as usize * PORT_COUNTERS_LEN;
/// Length of `struct tunnel_entry`.
pub const TUNNEL_ENTRY_LEN: usize = 32;
/// Length of `struct arrival_key`.
pub const ARRIVAL_KEY_LEN: usize = 56;
/// Length of `struct tunnel_settings`.
pub const TUNNEL_SETTINGS_LEN: usize = 12;

/// The bytes each member of the maps' structs occupies, named
/// `<STRUCT>_<MEMBER>` after `bpf/fabric.h` (padding left out: it is
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
    /// `struct flow_entry.rewrite`: `REWRITE_NONE`, `REWRITE_SOURCE` or
    /// `REWRITE_DESTINATION`.
    pub const FLOW_ENTRY_REWRITE: Range<usize> = 22..23;
    /// `struct flow_entry.to_family`: 4 or 6, the family of `to_addr`.
    pub const FLOW_ENTRY_TO_FAMILY: Range<usize> = 23..24;
    /// `struct flow_entry.to_port` (network order).
    pub const FLOW_ENTRY_TO_PORT: Range<usize> = 24..26;
    /// `struct flow_entry.mtu` (native order): 0 for none.
    pub const FLOW_ENTRY_MTU: Range<usize> = 26..28;
    /// `struct flow_entry.out_port` (native order): the egress port's
    /// index in `port_generations`.
    pub const FLOW_ENTRY_OUT_PORT: Range<usize> = 28..32;
    /// `struct flow_entry.to_addr`: an IPv6 address, or an IPv4 one in its
    /// first 4 bytes.
    pub const FLOW_ENTRY_TO_ADDR: Range<usize> = 32..48;

    /// `struct flow_counters.packets` (native order).
    pub const FLOW_COUNTERS_PACKETS: Range<usize> = 0..8;
    /// `struct flow_counters.bytes` (native order).
    pub const FLOW_COUNTERS_BYTES: Range<usize> = 8..16;
    /// `struct flow_counters.last_used_ns` (native order).
    pub const FLOW_COUNTERS_LAST_USED_NS: Range<usize> = 16..24;
    /// `struct flow_counters.gone_packets` (native order).
    pub const FLOW_COUNTERS_GONE_PACKETS: Range<usize> = 24..32;
    /// `struct flow_counters.gone_bytes` (native order).
    pub const FLOW_COUNTERS_GONE_BYTES: Range<usize> = 32..40;

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
    /// `struct port.counters_index` (native order).
    pub const PORT_COUNTERS_INDEX: Range<usize> = 16..20;

    /// `struct port_counters.unroutable_packets` (native order).
    pub const PORT_COUNTERS_UNROUTABLE_PACKETS: Range<usize> = 0..8;
    /// `struct port_counters.unroutable_bytes` (native order).
    pub const PORT_COUNTERS_UNROUTABLE_BYTES: Range<usize> = 8..16;
    /// `struct port_counters.malformed_packets` (native order).
    pub const PORT_COUNTERS_MALFORMED_PACKETS: Range<usize> = 16..24;
    /// `struct port_counters.malformed_bytes` (native order).
    pub const PORT_COUNTERS_MALFORMED_BYTES: Range<usize> = 24..32;
    /// `struct port_counters.undelivered_packets` (native order).
    pub const PORT_COUNTERS_UNDELIVERED_PACKETS: Range<usize> = 32..40;
    /// `struct port_counters.undelivered_bytes` (native order).
    pub const PORT_COUNTERS_UNDELIVERED_BYTES: Range<usize> = 40..48;

    /// `struct port_counters_chunk.port`: `PORTS_PER_CHUNK` `struct
    /// port_counters`.
    pub const PORT_COUNTERS_CHUNK_PORT: Range<usize> = 0..super::PORT_CHUNK_LEN;

    /// `struct tunnel_entry.generation` (native order).
    pub const TUNNEL_ENTRY_GENERATION: Range<usize> = 0..8;
    /// `struct tunnel_entry.slot` (native order).
    pub const TUNNEL_ENTRY_SLOT: Range<usize> = 8..12;
    /// `struct tunnel_entry.remote_ipv4` (native order, the address in host
    /// order).
    pub const TUNNEL_ENTRY_REMOTE_IPV4: Range<usize> = 12..16;
    /// `struct tunnel_entry.vni` (native order).
    pub const TUNNEL_ENTRY_VNI: Range<usize> = 16..20;
    /// `struct tunnel_entry.dst_mac`.
    pub const TUNNEL_ENTRY_DST_MAC: Range<usize> = 20..26;

    /// `struct arrival_key.flow`: a `struct flow_key` whose ifindex is 0.
    pub const ARRIVAL_KEY_FLOW: Range<usize> = 0..super::FLOW_KEY_LEN;
    /// `struct arrival_key.vni` (native order).
    pub const ARRIVAL_KEY_VNI: Range<usize> = 44..48;
    /// `struct arrival_key.mac`.
    pub const ARRIVAL_KEY_MAC: Range<usize> = 48..54;

    /// `struct tunnel_settings.vxlan_ifindex` (native order).
    pub const TUNNEL_SETTINGS_VXLAN_IFINDEX: Range<usize> = 0..4;
    /// `struct tunnel_settings.local_ipv4` (native order, the address in
    /// host order).
    pub const TUNNEL_SETTINGS_LOCAL_IPV4: Range<usize> = 4..8;
    /// `struct tunnel_settings.mtu` (native order).
    pub const TUNNEL_SETTINGS_MTU: Range<usize> = 8..12;
}

/// `struct port`'s kinds.
pub(super) const PORT_HOST_END: u32 = 1;
pub(super) const PORT_TUN: u32 = 2;

/// One direction of a flow as it arrives at a port's host end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FastKey {
    /// The ifindex (in the fabric namespace) of the host end it arrives at.
    pub ingress: u32,
    /// IP protocol number (TCP, UDP, or ICMP or ICMPv6 for an echo, whose
    /// identifier is both its ports).
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
/// port and the MAC address of that port's `eth0`), what their headers
/// become on the way, the generation of the rules that decided it, and the
/// slot its packets are counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastEntry {
    pub egress: u32,
    /// The egress port's index (its [`super::FabricPort::index`]), whose
    /// generation the entry must not be older than.
    pub egress_port: u32,
    pub mac: [u8; 6],
    pub generation: u64,
    pub slot: u32,
    /// An address translation on the way, if any: the kernel rewrites
    /// TCP and UDP packets of either family (to an address of their own
    /// family alone), and the address of an ICMP echo whose identifier
    /// is the rewrite's port (it stays), checksums fixed; anything else
    /// of an entry with a rewrite goes to the slow path.
    pub rewrite: Option<FastRewrite>,
    /// The largest IP packet the path carries, when less than the sending
    /// port takes (a VPN tunnel's 1400): a larger packet, or a
    /// super-packet whose segments are, goes to the slow path.
    pub path_mtu: Option<u16>,
}

/// What one side of a packet (address and port) becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FastRewrite {
    Source { address: IpAddr, port: u16 },
    Destination { address: IpAddr, port: u16 },
}

/// `struct flow_entry.rewrite`'s values (REWRITE_NONE is 0, an entry's
/// bytes left as they are).
const REWRITE_SOURCE: u8 = 1;
const REWRITE_DESTINATION: u8 = 2;

impl FastEntry {
    pub fn to_bytes(self) -> [u8; FLOW_ENTRY_LEN] {
        let mut out = [0u8; FLOW_ENTRY_LEN];
        out[FLOW_ENTRY_GENERATION].copy_from_slice(&self.generation.to_ne_bytes());
        out[FLOW_ENTRY_OUT_IFINDEX].copy_from_slice(&self.egress.to_ne_bytes());
        out[FLOW_ENTRY_SLOT].copy_from_slice(&self.slot.to_ne_bytes());
        out[FLOW_ENTRY_DST_MAC].copy_from_slice(&self.mac);
        out[FLOW_ENTRY_OUT_PORT].copy_from_slice(&self.egress_port.to_ne_bytes());
        out[FLOW_ENTRY_MTU].copy_from_slice(&self.path_mtu.unwrap_or(0).to_ne_bytes());
        let (kind, address, port) = match self.rewrite {
            None => return out,
            Some(FastRewrite::Source { address, port }) => (REWRITE_SOURCE, address, port),
            Some(FastRewrite::Destination { address, port }) => {
                (REWRITE_DESTINATION, address, port)
            }
        };
        out[FLOW_ENTRY_REWRITE].copy_from_slice(&[kind]);
        match address {
            IpAddr::V4(v4) => {
                out[FLOW_ENTRY_TO_FAMILY].copy_from_slice(&[4]);
                out[FLOW_ENTRY_TO_ADDR][..4].copy_from_slice(&v4.octets());
            }
            IpAddr::V6(v6) => {
                out[FLOW_ENTRY_TO_FAMILY].copy_from_slice(&[6]);
                out[FLOW_ENTRY_TO_ADDR].copy_from_slice(&v6.octets());
            }
        }
        out[FLOW_ENTRY_TO_PORT].copy_from_slice(&port.to_be_bytes());
        out
    }

    pub fn from_bytes(bytes: &[u8; FLOW_ENTRY_LEN]) -> FastEntry {
        let octets: [u8; 16] = bytes[FLOW_ENTRY_TO_ADDR].try_into().expect("16 bytes");
        let address = match bytes[FLOW_ENTRY_TO_FAMILY.start] {
            6 => IpAddr::V6(Ipv6Addr::from(octets)),
            _ => IpAddr::V4(Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3])),
        };
        let port = u16::from_be_bytes(bytes[FLOW_ENTRY_TO_PORT].try_into().expect("2 bytes"));
        FastEntry {
            generation: u64::from_ne_bytes(
                bytes[FLOW_ENTRY_GENERATION].try_into().expect("8 bytes"),
            ),
            egress: u32::from_ne_bytes(bytes[FLOW_ENTRY_OUT_IFINDEX].try_into().expect("4 bytes")),
            egress_port: u32::from_ne_bytes(
                bytes[FLOW_ENTRY_OUT_PORT].try_into().expect("4 bytes"),
            ),
            slot: u32::from_ne_bytes(bytes[FLOW_ENTRY_SLOT].try_into().expect("4 bytes")),
            mac: bytes[FLOW_ENTRY_DST_MAC].try_into().expect("6 bytes"),
            rewrite: match bytes[FLOW_ENTRY_REWRITE.start] {
                REWRITE_SOURCE => Some(FastRewrite::Source { address, port }),
                REWRITE_DESTINATION => Some(FastRewrite::Destination { address, port }),
                _ => None,
            },
            path_mtu: match u16::from_ne_bytes(bytes[FLOW_ENTRY_MTU].try_into().expect("2 bytes")) {
                0 => None,
                mtu => Some(mtu),
            },
        }
    }
}

/// One direction of a flow that leaves by the tunnel (keyed by the
/// [`FastKey`] of the host end it arrives at): the receiving host's
/// underlay address, the VNI and the MAC the receiving port has between
/// hosts, the generation of the rules that decided it, and the slot its
/// packets are counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunnelEntry {
    pub remote: Ipv4Addr,
    pub vni: u32,
    pub mac: [u8; 6],
    pub generation: u64,
    pub slot: u32,
}

impl TunnelEntry {
    pub fn to_bytes(self) -> [u8; TUNNEL_ENTRY_LEN] {
        let mut out = [0u8; TUNNEL_ENTRY_LEN];
        out[TUNNEL_ENTRY_GENERATION].copy_from_slice(&self.generation.to_ne_bytes());
        out[TUNNEL_ENTRY_SLOT].copy_from_slice(&self.slot.to_ne_bytes());
        out[TUNNEL_ENTRY_REMOTE_IPV4].copy_from_slice(&u32::from(self.remote).to_ne_bytes());
        out[TUNNEL_ENTRY_VNI].copy_from_slice(&self.vni.to_ne_bytes());
        out[TUNNEL_ENTRY_DST_MAC].copy_from_slice(&self.mac);
        out
    }

    pub fn from_bytes(bytes: &[u8; TUNNEL_ENTRY_LEN]) -> TunnelEntry {
        let word =
            |at: std::ops::Range<usize>| u32::from_ne_bytes(bytes[at].try_into().expect("4 bytes"));
        TunnelEntry {
            generation: u64::from_ne_bytes(
                bytes[TUNNEL_ENTRY_GENERATION].try_into().expect("8 bytes"),
            ),
            slot: word(TUNNEL_ENTRY_SLOT),
            remote: Ipv4Addr::from(word(TUNNEL_ENTRY_REMOTE_IPV4)),
            vni: word(TUNNEL_ENTRY_VNI),
            mac: bytes[TUNNEL_ENTRY_DST_MAC].try_into().expect("6 bytes"),
        }
    }
}

/// One direction of a flow as it arrives from another host: the VNI it
/// travels with, the MAC it is addressed to (the receiving port's between
/// hosts) and its 5-tuple. Its entry is a [`FastEntry`]: the receiving
/// port's host end and its `eth0`'s MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArrivalKey {
    pub vni: u32,
    pub mac: [u8; 6],
    /// IP protocol number (TCP or UDP).
    pub protocol: u8,
    pub source: IpAddr,
    pub destination: IpAddr,
    pub source_port: u16,
    pub destination_port: u16,
}

impl ArrivalKey {
    /// The 5-tuple as a [`FastKey`] of no host end (ifindex 0).
    fn flow(&self) -> FastKey {
        FastKey {
            ingress: 0,
            protocol: self.protocol,
            source: self.source,
            destination: self.destination,
            source_port: self.source_port,
            destination_port: self.destination_port,
        }
    }

    /// The key's bytes; `None` for addresses of two families.
    pub fn to_bytes(&self) -> Option<[u8; ARRIVAL_KEY_LEN]> {
        let mut out = [0u8; ARRIVAL_KEY_LEN];
        out[ARRIVAL_KEY_FLOW].copy_from_slice(&self.flow().to_bytes()?);
        out[ARRIVAL_KEY_VNI].copy_from_slice(&self.vni.to_ne_bytes());
        out[ARRIVAL_KEY_MAC].copy_from_slice(&self.mac);
        Some(out)
    }

    /// The key a map holds, read back; `None` for bytes no key has.
    pub fn from_bytes(bytes: &[u8; ARRIVAL_KEY_LEN]) -> Option<ArrivalKey> {
        let flow = FastKey::from_bytes(bytes[ARRIVAL_KEY_FLOW].try_into().expect("a flow key"))?;
        Some(ArrivalKey {
            vni: u32::from_ne_bytes(bytes[ARRIVAL_KEY_VNI].try_into().expect("4 bytes")),
            mac: bytes[ARRIVAL_KEY_MAC].try_into().expect("6 bytes"),
            protocol: flow.protocol,
            source: flow.source,
            destination: flow.destination,
            source_port: flow.source_port,
            destination_port: flow.destination_port,
        })
    }
}

/// Where the tunnel is: the VXLAN device (by its index in the fabric
/// namespace), this host's underlay address, and the largest inner packet
/// it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunnelSettings {
    pub vxlan: u32,
    pub local: Ipv4Addr,
    pub mtu: u32,
}

impl TunnelSettings {
    pub fn to_bytes(self) -> [u8; TUNNEL_SETTINGS_LEN] {
        let mut out = [0u8; TUNNEL_SETTINGS_LEN];
        out[TUNNEL_SETTINGS_VXLAN_IFINDEX].copy_from_slice(&self.vxlan.to_ne_bytes());
        out[TUNNEL_SETTINGS_LOCAL_IPV4].copy_from_slice(&u32::from(self.local).to_ne_bytes());
        out[TUNNEL_SETTINGS_MTU].copy_from_slice(&self.mtu.to_ne_bytes());
        out
    }
}

/// What the kernel counted in a slot: wire packets (a super-packet's
/// segments), their IP bytes, and when the last one passed
/// (`CLOCK_MONOTONIC` nanoseconds; 0 while none has), and the wire packets
/// and IP bytes it dropped because the entry's egress port was gone (in
/// neither of the first two). A slot only grows: what an entry carried is
/// the difference between two readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FastCounters {
    pub packets: u64,
    pub bytes: u64,
    pub last_used_ns: u64,
    pub gone_packets: u64,
    pub gone_bytes: u64,
}

impl FastCounters {
    pub fn from_bytes(bytes: &[u8]) -> FastCounters {
        let word =
            |at: std::ops::Range<usize>| u64::from_ne_bytes(bytes[at].try_into().expect("8 bytes"));
        FastCounters {
            packets: word(FLOW_COUNTERS_PACKETS),
            bytes: word(FLOW_COUNTERS_BYTES),
            last_used_ns: word(FLOW_COUNTERS_LAST_USED_NS),
            gone_packets: word(FLOW_COUNTERS_GONE_PACKETS),
            gone_bytes: word(FLOW_COUNTERS_GONE_BYTES),
        }
    }
}

/// What the programs dropped of one port's packets (sent by its `eth0`)
/// and of the packets written for it (to its TUN device), by why: IPv6
/// kept on the link (`unroutable_*`, with their IP bytes), frames of no
/// protocol the fabric carries (`malformed_*`, with their bytes past the
/// Ethernet header), and the daemon's packets for a port whose host end
/// was gone (`undelivered_*`, as wire packets and their IP bytes).
/// Counters only grow: what happened between two readings is their
/// difference ([`PortCounters::since`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PortCounters {
    pub unroutable_packets: u64,
    pub unroutable_bytes: u64,
    pub malformed_packets: u64,
    pub malformed_bytes: u64,
    pub undelivered_packets: u64,
    pub undelivered_bytes: u64,
}

impl PortCounters {
    pub fn from_bytes(bytes: &[u8]) -> PortCounters {
        let word =
            |at: std::ops::Range<usize>| u64::from_ne_bytes(bytes[at].try_into().expect("8 bytes"));
        PortCounters {
            unroutable_packets: word(PORT_COUNTERS_UNROUTABLE_PACKETS),
            unroutable_bytes: word(PORT_COUNTERS_UNROUTABLE_BYTES),
            malformed_packets: word(PORT_COUNTERS_MALFORMED_PACKETS),
            malformed_bytes: word(PORT_COUNTERS_MALFORMED_BYTES),
            undelivered_packets: word(PORT_COUNTERS_UNDELIVERED_PACKETS),
            undelivered_bytes: word(PORT_COUNTERS_UNDELIVERED_BYTES),
        }
    }

    /// What was counted between `earlier` and this reading.
    pub fn since(&self, earlier: &PortCounters) -> PortCounters {
        let less = |now: u64, then: u64| now.saturating_sub(then);
        PortCounters {
            unroutable_packets: less(self.unroutable_packets, earlier.unroutable_packets),
            unroutable_bytes: less(self.unroutable_bytes, earlier.unroutable_bytes),
            malformed_packets: less(self.malformed_packets, earlier.malformed_packets),
            malformed_bytes: less(self.malformed_bytes, earlier.malformed_bytes),
            undelivered_packets: less(self.undelivered_packets, earlier.undelivered_packets),
            undelivered_bytes: less(self.undelivered_bytes, earlier.undelivered_bytes),
        }
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        *self == PortCounters::default()
    }
}

/// A port's entry: for its host end, the TUN that is its slow path; for
/// its TUN, the host end the daemon's packets leave by. Both carry the MAC
/// and the MTU the port's `eth0` was given, and where the port's drops are
/// counted.
pub(super) fn port_entry(
    kind: u32,
    peer: u32,
    mac: [u8; 6],
    mtu: u16,
    counters_index: u32,
) -> [u8; PORT_LEN] {
    let mut out = [0u8; PORT_LEN];
    out[PORT_KIND].copy_from_slice(&kind.to_ne_bytes());
    out[PORT_PEER_IFINDEX].copy_from_slice(&peer.to_ne_bytes());
    out[PORT_MAC].copy_from_slice(&mac);
    out[PORT_MTU].copy_from_slice(&mtu.to_ne_bytes());
    out[PORT_COUNTERS_INDEX].copy_from_slice(&counters_index.to_ne_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_entry_is_laid_out_as_the_kernel_program_reads_it() {
        let entry = port_entry(PORT_HOST_END, 9, [1, 2, 3, 4, 5, 6], 1500, 77);
        assert_eq!(&entry[0..4], &PORT_HOST_END.to_ne_bytes());
        assert_eq!(&entry[4..8], &9u32.to_ne_bytes());
        assert_eq!(&entry[8..14], &[1, 2, 3, 4, 5, 6]);
        assert_eq!(&entry[14..16], &1500u16.to_ne_bytes());
        assert_eq!(&entry[16..20], &77u32.to_ne_bytes());
        assert_eq!(&entry[20..24], &[0; 4]);
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
    fn tunnel_entries_arrival_keys_and_settings_are_laid_out_as_the_kernel_program_reads_them() {
        let entry = TunnelEntry {
            remote: Ipv4Addr::new(192, 0, 2, 3),
            vni: 0x0a0b0c,
            mac: [2, 0x56, 0x58, 0, 0, 3],
            generation: 9,
            slot: 4097,
        };
        let bytes = entry.to_bytes();
        assert_eq!(&bytes[0..8], &9u64.to_ne_bytes());
        assert_eq!(&bytes[8..12], &4097u32.to_ne_bytes());
        assert_eq!(&bytes[12..16], &0xc000_0203u32.to_ne_bytes());
        assert_eq!(&bytes[16..20], &0x0a0b0cu32.to_ne_bytes());
        assert_eq!(&bytes[20..26], &[2, 0x56, 0x58, 0, 0, 3]);
        assert_eq!(&bytes[26..], &[0; 6]);
        assert_eq!(TunnelEntry::from_bytes(&bytes), entry);

        let key = ArrivalKey {
            vni: 3,
            mac: [2, 0x56, 0x58, 0, 0, 1],
            protocol: 6,
            source: "10.1.1.4".parse().unwrap(),
            destination: "10.0.2.4".parse().unwrap(),
            source_port: 40000,
            destination_port: 5201,
        };
        let bytes = key.to_bytes().unwrap();
        assert_eq!(&bytes[0..4], &[0; 4], "no host end");
        assert_eq!(bytes[4], 4);
        assert_eq!(bytes[5], 6);
        assert_eq!(&bytes[12..16], &[10, 1, 1, 4]);
        assert_eq!(&bytes[44..48], &3u32.to_ne_bytes());
        assert_eq!(&bytes[48..54], &[2, 0x56, 0x58, 0, 0, 1]);
        assert_eq!(ArrivalKey::from_bytes(&bytes), Some(key));

        let settings = TunnelSettings {
            vxlan: 12,
            local: Ipv4Addr::new(192, 0, 2, 1),
            mtu: 1500,
        }
        .to_bytes();
        assert_eq!(&settings[0..4], &12u32.to_ne_bytes());
        assert_eq!(&settings[4..8], &0xc000_0201u32.to_ne_bytes());
        assert_eq!(&settings[8..12], &1500u32.to_ne_bytes());
    }

    #[test]
    fn entries_and_counters_are_laid_out_as_the_kernel_program_reads_them() {
        let entry = FastEntry {
            egress: 9,
            egress_port: 5,
            mac: [2, 0, 0, 0, 0, 0x0b],
            generation: 0x0102_0304_0506_0708,
            slot: 77,
            rewrite: None,
            path_mtu: None,
        };
        let bytes = entry.to_bytes();
        assert_eq!(&bytes[0..8], &0x0102_0304_0506_0708u64.to_ne_bytes());
        assert_eq!(&bytes[8..12], &9u32.to_ne_bytes());
        assert_eq!(&bytes[12..16], &77u32.to_ne_bytes());
        assert_eq!(&bytes[16..22], &[2, 0, 0, 0, 0, 0x0b]);
        assert_eq!(&bytes[22..28], &[0; 6]);
        assert_eq!(&bytes[28..32], &5u32.to_ne_bytes());
        assert_eq!(&bytes[32..48], &[0; 16]);
        assert_eq!(FastEntry::from_bytes(&bytes), entry);
        let v4: IpAddr = Ipv4Addr::new(198, 51, 100, 10).into();
        // An IPv6 address whose last 12 bytes are zero: its family, not
        // its bytes, tells it from an IPv4 one.
        let v6: IpAddr = "2001:db8:100::".parse().unwrap();
        for (rewrite, kind, family, octets) in [
            (
                FastRewrite::Source {
                    address: v4,
                    port: 1025,
                },
                1,
                4,
                [&[198, 51, 100, 10][..], &[0; 12]].concat(),
            ),
            (
                FastRewrite::Destination {
                    address: v4,
                    port: 1025,
                },
                2,
                4,
                [&[198, 51, 100, 10][..], &[0; 12]].concat(),
            ),
            (
                FastRewrite::Source {
                    address: v6,
                    port: 1025,
                },
                1,
                6,
                [&[0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00][..], &[0; 10]].concat(),
            ),
        ] {
            let translated = FastEntry {
                rewrite: Some(rewrite),
                ..entry
            };
            let bytes = translated.to_bytes();
            assert_eq!((bytes[22], bytes[23]), (kind, family));
            assert_eq!(&bytes[24..26], &1025u16.to_be_bytes());
            assert_eq!(&bytes[32..48], &octets[..]);
            assert_eq!(FastEntry::from_bytes(&bytes), translated);
        }
        let bounded = FastEntry {
            path_mtu: Some(1400),
            ..entry
        };
        let bytes = bounded.to_bytes();
        assert_eq!(&bytes[26..28], &1400u16.to_ne_bytes());
        assert_eq!(FastEntry::from_bytes(&bytes), bounded);
        let mut counted = [0u8; FLOW_COUNTERS_LEN];
        counted[0..8].copy_from_slice(&3u64.to_ne_bytes());
        counted[8..16].copy_from_slice(&4500u64.to_ne_bytes());
        counted[16..24].copy_from_slice(&77u64.to_ne_bytes());
        counted[24..32].copy_from_slice(&2u64.to_ne_bytes());
        counted[32..40].copy_from_slice(&3000u64.to_ne_bytes());
        assert_eq!(
            FastCounters::from_bytes(&counted),
            FastCounters {
                packets: 3,
                bytes: 4500,
                last_used_ns: 77,
                gone_packets: 2,
                gone_bytes: 3000,
            }
        );
        let mut port = [0u8; PORT_COUNTERS_LEN];
        for (i, word) in port.chunks_exact_mut(8).enumerate() {
            word.copy_from_slice(&(i as u64 + 1).to_ne_bytes());
        }
        let read = PortCounters::from_bytes(&port);
        assert_eq!(
            read,
            PortCounters {
                unroutable_packets: 1,
                unroutable_bytes: 2,
                malformed_packets: 3,
                malformed_bytes: 4,
                undelivered_packets: 5,
                undelivered_bytes: 6,
            }
        );
        assert_eq!(
            read.since(&PortCounters {
                unroutable_packets: 1,
                ..PortCounters::default()
            }),
            PortCounters {
                unroutable_packets: 0,
                ..read
            }
        );
    }
}
