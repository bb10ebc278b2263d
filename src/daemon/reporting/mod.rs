//! What only reports: what the running lab says about itself, read from
//! what the other rooms publish and count, without stopping a worker or
//! waiting for an `apply`.
//!
//! The files:
//!
//! - [`report`]: per-NIC counters, the flow table's occupancy, the load
//!   balancers' backends, the routing daemons and the tracked flows, in
//!   the control API's shapes; the control socket and the metrics both
//!   read them from here;
//! - [`metrics`]: the Prometheus exposition of those reports (served by
//!   [`crate::web`]'s HTTP server);
//! - [`flow_log`]: NSG flow logs in Azure's version 2 format, written by
//!   one thread from the flow table and the workers' deny events;
//! - [`convergence`]: whether the sessions, the learned routes and the
//!   first probes are all there.
//!
//! Its invariants: a report reads what is published (the plane, the
//! counters, the flow table, the routing daemons as last published) and
//! never takes the lock `apply` holds; nothing on the packet path waits
//! for a report (the counters are summed from the workers' blocks, and
//! the flow-log thread reads the deny events a worker could hand it
//! without blocking, counting those it could not).
//!
//! It may use [`super::forwarding`] (the plane, the counters, the deny
//! events' receiving end) and never [`super::changing`]: what the rooms
//! that change the lab know (the probes' findings, the sessions up, the
//! host mesh) it reads through the [`Daemon`](super::Daemon)'s methods
//! and fields, and the shapes it reads them in are its own (the
//! convergence report's [`Established`](convergence::Established)).

pub mod convergence;
pub mod flow_log;
pub mod metrics;
pub mod report;
