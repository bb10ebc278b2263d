//! The contract BIRD and FRR share: what a BGP router in a namespace
//! announces and whom it peers with ([`BgpRouterSpec`]), and what a
//! driver of either can do at run time ([`BgpRouter`]).

use std::net::Ipv4Addr;
use std::path::PathBuf;

use anyhow::Result;
use ipnet::Ipv4Net;

use super::daemon::{ProcessExit, ProcessStatus};

/// A BGP neighbour of a [`BgpRouterSpec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpNeighbor {
    /// The neighbour's address.
    pub address: Ipv4Addr,
    /// The neighbour's AS number.
    pub asn: u32,
    /// The local address of the session (the source of its TCP connection);
    /// the kernel picks one when `None`.
    pub local_address: Option<Ipv4Addr>,
    /// eBGP multihop (TTL 255): the neighbour need not be on a shared link.
    pub multihop: bool,
    /// A router in front of the same network: it is sent every route the
    /// router learned over BGP from the others, with the router itself as
    /// the next hop (so it can forward through this router when its own
    /// way is gone), and nothing it originates. Others are sent only what
    /// the router originates.
    pub pass_on: bool,
}

/// A BGP router in a namespace: what it announces and whom it peers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpRouterSpec {
    /// The namespace the daemon runs in.
    pub netns: String,
    /// The local AS number.
    pub asn: u32,
    /// The BGP router id.
    pub router_id: Ipv4Addr,
    /// The prefixes originated (never installed in the local kernel).
    pub announce: Vec<Ipv4Net>,
    /// The neighbours.
    pub neighbors: Vec<BgpNeighbor>,
    /// Whether learned routes go into the namespace's kernel (a router's
    /// do; an appliance behind a platform that routes for it keeps its
    /// kernel's own routes).
    pub install_learned: bool,
    /// Where the instance's configuration, sockets, pid files and logs go.
    pub run_dir: PathBuf,
}

/// What BIRD and FRR drivers can do at run time.
pub trait BgpRouter {
    /// The BGP state of the session with `neighbor` as the daemon names it
    /// (`Established` once up).
    fn neighbor_state(&self, neighbor: Ipv4Addr) -> Result<String>;
    /// Shuts the session with `neighbor` down administratively.
    fn disable_neighbor(&mut self, neighbor: Ipv4Addr) -> Result<()>;
    /// Lets the session with `neighbor` come back up.
    fn enable_neighbor(&mut self, neighbor: Ipv4Addr) -> Result<()>;
    /// Originates `prefix` too (nothing happens if it already is).
    fn announce(&mut self, prefix: Ipv4Net) -> Result<()>;
    /// Stops originating `prefix` (nothing happens if it is not).
    fn withdraw(&mut self, prefix: Ipv4Net) -> Result<()>;
    /// The prefixes originated now.
    fn announced(&self) -> Vec<Ipv4Net>;
    /// Reaps every daemon of the instance that has exited (so none
    /// lingers as a zombie) and says how each ended; empty while all run.
    fn reap(&mut self) -> Vec<ProcessExit>;
    /// Starts again, in the same namespace and from the same
    /// configuration, every daemon of the instance that is not running.
    /// On failure those daemons are left stopped.
    fn restart(&mut self) -> Result<()>;
    /// Each daemon of the instance: pid, restarts, last exit.
    fn processes(&self) -> Vec<ProcessStatus>;
    /// Kills the daemon(s) and removes the instance's files.
    fn stop(self) -> Result<()>;
}
