//! The BGP model: what every BGP session a topology implies carries once
//! it is up, computed from the file alone (`docs/src/azure-behaviour.md`,
//! "BGP between gateways and sites"). It is the one prediction of BGP
//! that every offline answer uses (`routes`, `next-hop`, `rules`, `trace`,
//! `check`, `gateway learned-routes`, `advertised-routes`,
//! `bgp-peer-status` and `circuit routes` with `--config`), and the
//! sessions it models are the ones a running lab opens: the daemon's
//! speakers take their neighbours from [`instance_neighbors`] and
//! [`router_neighbors`].
//!
//! Speakers:
//! - each IPv4 instance of a gateway with at least one BGP session, with
//!   the gateway's ASN; it originates the ranges of the VNets the gateway
//!   serves and, on a VPN gateway, a host route to each BGP peer's address
//!   (withheld from the peers of the same connection);
//! - each site router that speaks BGP (`bird` or `frr`), with its ASN; it
//!   originates the site's address space and passes nothing on to Azure
//!   (the sessions between the routers of one site are the site's own and
//!   carry nothing Azure learns: not modelled, see
//!   [`site_peer_neighbors`]).
//!
//! Sessions: gateway to site (a BGP connection to a local network
//! gateway, held by the router the local network gateway stands for),
//! gateway to gateway (a Vnet2Vnet connection with BGP held on
//! both sides, every instance with every instance of the other), and each
//! instance of an ExpressRoute gateway to the customer edge of the link it
//! ends, met as Microsoft's edge (ASN 12076). A session is up when both
//! ends name each other with the right ASNs.
//!
//! Propagation is a fixpoint over those sessions, by Azure's rules:
//! eBGP, the sender's ASN prepended on export; a route whose AS path holds
//! the receiver's ASN is neither sent nor taken (loop prevention); the
//! best route to a prefix is the one originated here, then the shortest AS
//! path, then the lowest router ID, then the lowest neighbour address;
//! only the best route is passed on, never back to the speaker it came
//! from, never a default route or a route overlapping a served VNet, and
//! never by an ExpressRoute gateway (no transit between circuits); a
//! prefix identical to a served VNet range is refused; a session that
//! would carry more than [`MAX_LEARNED_PREFIXES`](crate::policy::gateways::MAX_LEARNED_PREFIXES) routes is dropped, with
//! nothing learned from it.

pub mod edge;
mod fixpoint;
mod hub;
mod ipv4;
pub mod neighbors;
pub mod never_up;
pub mod route_server;
mod speaker;
mod speakers;

pub use edge::{edge_address, edge_neighbors, EdgeNeighbor, EdgeRole};
pub use fixpoint::{expected_learned, BgpModel, PredictedAdvertisement, PredictedSession};
pub use ipv4::v4;
pub use neighbors::{
    instance_neighbors, peer_host_groups, router_bgp_address, router_neighbors, router_own_address,
    site_peer_neighbors, withheld_from, InstanceNeighbor, RouterNeighbor,
};
pub use never_up::sessions_never_up;
pub use route_server::{appliance_neighbors, route_server_neighbors, route_server_prefixes};
pub use speaker::SpeakerId;

#[cfg(test)]
mod tests;
