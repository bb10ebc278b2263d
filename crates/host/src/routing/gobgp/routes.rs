//! A speaker's routes as the driver hands them over: what it originates
//! ([`Announcement`]), what it learned ([`LearnedPath`]) and advertised to
//! a neighbour ([`AdvertisedPath`]), each with its ORIGIN ([`Origin`]);
//! and the state of each of its sessions ([`NeighborStatus`]).

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// One route a speaker originates.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Announcement {
    pub prefix: Ipv4Net,
    /// The ASNs after the speaker's own, nearest first; none for its own
    /// prefix.
    pub as_path: Vec<u32>,
    /// ORIGIN EGP (else IGP).
    pub egp: bool,
}

impl Announcement {
    /// The speaker's own prefix: no path, ORIGIN IGP.
    pub fn plain(prefix: Ipv4Net) -> Self {
        Announcement {
            prefix: prefix.trunc(),
            as_path: Vec::new(),
            egp: false,
        }
    }
}

/// The BGP ORIGIN attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    Igp,
    Egp,
    Incomplete,
}

/// A route received from a neighbour and accepted by the import policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnedPath {
    pub prefix: Ipv4Net,
    /// The neighbour it came from.
    pub neighbor: Ipv4Addr,
    pub next_hop: Ipv4Addr,
    /// The AS path, flattened (sets and sequences alike), nearest AS first.
    pub as_path: Vec<u32>,
    pub origin: Origin,
    /// gobgpd's best path to the prefix.
    pub best: bool,
}

/// A route as advertised to one neighbour (after the export policy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvertisedPath {
    pub prefix: Ipv4Net,
    pub next_hop: Ipv4Addr,
    pub as_path: Vec<u32>,
    pub origin: Origin,
}

/// The state of one neighbour's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighborStatus {
    pub address: Ipv4Addr,
    pub asn: u32,
    /// `Idle`, `Connect`, `Active`, `OpenSent`, `OpenConfirm`,
    /// `Established` (or `Unknown`).
    pub state: String,
    /// `Up`, `Down` (shut down by an operator) or `PrefixLimit` (dropped
    /// for sending more than the maximum of prefixes).
    pub admin_state: String,
    /// How long the session has been established; `None` when it is not.
    pub uptime_secs: Option<u64>,
    /// Routes received in the session (before the import policy).
    pub routes_received: u64,
    /// Routes accepted by the import policy.
    pub routes_accepted: u64,
    pub messages_sent: u64,
    pub messages_received: u64,
}
