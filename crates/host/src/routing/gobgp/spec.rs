//! What a gobgpd instance is started with ([`GobgpSpec`]): its identity,
//! its neighbours ([`GobgpNeighbor`]), the timers and prefix limit it
//! offers ([`SessionLimits`]), and its policies' contents, among them the
//! routes it does not hand on ([`NotHandedOn`]). What each policy does is
//! in the parent module; `config.rs` writes them as gobgpd's TOML.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use ipnet::Ipv4Net;

/// A neighbour of a [`GobgpSpec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GobgpNeighbor {
    /// The neighbour's address.
    pub address: Ipv4Addr,
    /// The neighbour's AS number.
    pub asn: u32,
    /// eBGP multihop (TTL 255).
    pub multihop: bool,
    /// The AS number shown to this neighbour, when not the speaker's own.
    pub local_as: Option<u32>,
    /// The speaker's own address on this session, when not the spec's
    /// `local_address` (it is listened on too).
    pub local_address: Option<Ipv4Addr>,
    /// Private AS numbers are removed from the paths sent to it.
    pub remove_private_as: bool,
    /// Routes sent to it carry the speaker's own address as next hop (for
    /// an iBGP neighbour, which would otherwise keep the next hop).
    pub next_hop_self: bool,
    /// An iBGP neighbour the speaker reflects routes to (route reflection,
    /// the speaker's router ID as cluster ID).
    pub route_reflector_client: bool,
}

impl GobgpNeighbor {
    /// A neighbour at `address` in AS `asn`, met from the spec's own
    /// address, with nothing else set.
    pub fn new(address: Ipv4Addr, asn: u32, multihop: bool) -> Self {
        Self {
            address,
            asn,
            multihop,
            local_as: None,
            local_address: None,
            remove_private_as: false,
            next_hop_self: false,
            route_reflector_client: false,
        }
    }
}

/// Routes a speaker does not pass on to some neighbours: those whose next
/// hop is one of `next_hops` (learned from those neighbours), towards any
/// of `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotHandedOn {
    pub to: Vec<Ipv4Addr>,
    pub next_hops: Vec<Ipv4Addr>,
}

/// The timers a speaker offers each neighbour, and the routes it takes
/// from one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// Keepalive interval offered, in seconds.
    pub keepalive_secs: u32,
    /// Hold time offered, in seconds.
    pub hold_secs: u32,
    /// Routes a neighbour may send; one more drops its session.
    pub max_prefixes: u32,
}

/// A gobgpd instance: its identity, neighbours, timers and policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GobgpSpec {
    /// The namespace it runs in.
    pub netns: String,
    /// The local AS number.
    pub asn: u32,
    /// The BGP router id.
    pub router_id: Ipv4Addr,
    /// The address it listens on and opens sessions from.
    pub local_address: Ipv4Addr,
    /// The neighbours.
    pub neighbors: Vec<GobgpNeighbor>,
    /// Keepalive interval offered, in seconds.
    pub keepalive_secs: u32,
    /// Hold time offered, in seconds.
    pub hold_secs: u32,
    /// Seconds between connection attempts.
    pub connect_retry_secs: u32,
    /// Routes a neighbour may send; one more drops its session.
    pub max_prefixes: u32,
    /// Import: these exact prefixes are refused.
    pub reject_exact: Vec<Ipv4Net>,
    /// Import: these prefixes and every prefix inside them are refused.
    pub reject_within: Vec<Ipv4Net>,
    /// Export: no prefix learned from a neighbor and overlapping any of
    /// these is passed on, nor a learned `0.0.0.0/0`; what the speaker
    /// originates itself is always advertised.
    pub export_deny_overlapping: Vec<Ipv4Net>,
    /// Export: routes learned from a neighbour are passed on to the others
    /// (off: only what the speaker originates is advertised).
    pub pass_on_learned: bool,
    /// Export: these prefixes are never sent to this neighbour.
    pub withheld: Vec<(Ipv4Addr, Vec<Ipv4Net>)>,
    /// Export: routes learned from some neighbours are not passed on to
    /// some others.
    pub not_handed_on: Option<NotHandedOn>,
    /// Where the configuration and log go.
    pub run_dir: PathBuf,
}

impl GobgpSpec {
    /// A spec with `limits`, a connect retry of 2 s, and no neighbours or
    /// policies.
    pub fn new(
        netns: &str,
        asn: u32,
        router_id: Ipv4Addr,
        run_dir: PathBuf,
        limits: SessionLimits,
    ) -> Self {
        Self {
            netns: netns.to_owned(),
            asn,
            router_id,
            local_address: router_id,
            neighbors: Vec::new(),
            keepalive_secs: limits.keepalive_secs,
            hold_secs: limits.hold_secs,
            connect_retry_secs: 2,
            max_prefixes: limits.max_prefixes,
            reject_exact: Vec::new(),
            reject_within: Vec::new(),
            export_deny_overlapping: Vec::new(),
            pass_on_learned: true,
            withheld: Vec::new(),
            not_handed_on: None,
            run_dir,
        }
    }
}
