//! The hybrid half of a running lab: on-premises sites, their routers'
//! BGP daemons, and the gateways' BGP speakers.
//!
//! - Each site is built before the lab's ports (its router's namespace must
//!   exist for the tunnels' TUN devices): router and host namespaces joined
//!   by veth pairs.
//! - Once the ports exist, each tunnel gets the router's BGP address with the
//!   gateway instance's address as its peer (a point-to-point link the
//!   routing daemons see as connected), or a plain route to the instance
//!   where the site has no BGP; a connection without BGP gets static routes
//!   in the router to the VNets the gateway serves, or what a hub's gateway
//!   advertises (what an administrator
//!   configures on a policy-free VPN device), spread over the tunnels.
//! - Each instance of a gateway with a BGP connection runs gobgpd in its
//!   namespace: Azure's ASN, timers and prefix limit (keepalive 60 s, hold
//!   180 s, at most 4000 prefixes a session, from
//!   [`crate::policy::gateways`]), prefixes identical to a served VNet refused, and
//!   never a default route or a VNet-overlapping prefix passed on. It
//!   originates the served VNets' ranges and, on a VPN gateway, a host
//!   route to each BGP peer, withheld from the peers of that peer's own
//!   connection; ties between equally long paths go to the lower router
//!   ID. [`crate::policy::bgp`] models exactly these sessions and rules.
//! - A virtual hub's VPN gateway originates instead what its hub
//!   advertises to branches, with the paths of other hubs' routes, kept to
//!   what the gateways learn (`hub_speakers`).
//! - A site router whose `bgp_speaker` is `bird` or `frr` runs that daemon,
//!   announcing the site's address space to every gateway instance it has a
//!   BGP connection to (eBGP multihop), learned routes into its kernel. The
//!   routers of a site with several meet each other over the links between
//!   them (their BGP addresses on both ends), each passing the others what
//!   it learned, itself as next hop.
//! - An ExpressRoute circuit meets Microsoft's edge (`edge`): two edge
//!   routers (MSEE, gobgpd with ASN 12076) in namespaces of their own, the
//!   customer edge's router joined to each over the link's /30, each
//!   holding the tunnel to the instance of each connected gateway that
//!   ends its link. The gateway instance peers with the edge router, and
//!   passes on no learned route, so nothing goes from one circuit to
//!   another through a gateway.
//! - Global Reach joins two circuits' edge routers directly, by a link the
//!   daemon carries delayed by both circuits' latency
//!   ([`crate::daemon::forwarding::global_reach`]); the customer edges learn each other's
//!   ranges from them over BGP.
//!
//! Each speaker has a watcher ([`watch`]) that follows what it learns as
//! gobgpd reports it and records it in the daemon's [`LearnedBook`]; the
//! daemon publishes a new snapshot when it changes. The daemon's supervisor
//! thread takes the [`Roster`] of the lab's daemons and calls
//! [`Roster::supervise`] every round, outside the lock `apply` takes (a
//! restart may take seconds):
//!
//! - A routing daemon that exited is reaped, said in the log (inside its
//!   speaker's span: a gateway instance's or a site router's) and started
//!   again (after 0.5 s, then waits doubling to 30 s while it keeps
//!   failing); [`Roster::routing_daemons`] is what `stats` shows of them.
//! - A gateway instance whose speaker is not running has learned nothing,
//!   so its routes leave the snapshot until the restarted speaker learns
//!   them again; [`Roster::peer_status`] shows its sessions with the
//!   reason, next to the other instances'.
//! - A session gobgpd dropped for more than
//!   [`crate::policy::gateways::MAX_LEARNED_PREFIXES`] is let up again
//!   every [`crate::policy::gateways::PREFIX_LIMIT_RETRY`], as Azure
//!   re-establishes it (gobgpd alone keeps it down for good).
//!
//! Dropping a `Hybrid` stops every daemon and watcher and removes the
//! sites.
//!
//! The rooms: `running` (the [`Hybrid`] a lab runs, and what dropping it
//! removes), `daemons` (each routing daemon under its own lock),
//! `roster` (the [`Roster`] of them the supervisor and the reports read,
//! and the supervisor's thread), `specs` (what a topology asks of the
//! host layer), `circuits` (Microsoft's edge routers and Global Reach
//! links a topology asks for), `supervision` (restarts and what `stats`
//! shows), [`watch`], [`established`] (the sessions up, as the
//! supervisor last found them, for the convergence report), and
//! `reconcile` and `edge` (bringing the hybrid half and the circuits'
//! edge to a topology, part by part). This file only names them: none of
//! them uses it.

mod circuits;
mod daemons;
mod edge;
pub mod established;
mod hub_speakers;
mod reconcile;
mod roster;
mod running;
mod specs;
mod supervision;
pub mod watch;

pub use established::SessionBook;
pub(crate) use roster::supervise_routing;
pub use roster::{PeerSession, Roster};
pub use running::Hybrid;
pub use running::HybridChanges;
pub use specs::RUN_DIR;

pub use specs::{missing_routing, routing_needs, RoutingNeed};
pub use supervision::RoutingDaemon;
pub use watch::{LearnedBook, Watch};
