//! What changes the running lab: a new topology applied live, the planes
//! published, the hybrid half's sites and routing daemons, the host mesh
//! of a spread lab, the load balancers' health prober, and the plumbing
//! of each port on the host.
//!
//! The files:
//!
//! - [`apply`](mod@apply): a new topology without a restart, and the port
//!   slots it hands out and takes back;
//! - [`change_set`]: what an `apply` changes, worked out before the host is
//!   touched (pure, tested without root);
//! - [`steps`]: the steps an `apply` runs on the host from its change set,
//!   each with its undo;
//! - [`publish`]: planes published without a lock, never over each other;
//! - [`hybrid`]: on-premises sites, their routers' BGP daemons, the
//!   gateways' BGP speakers and their supervision;
//! - [`mesh`]: what the machines of a spread lab learn from each other,
//!   over BGP;
//! - [`lb`]: the load balancers' health prober (and what `vnetd lb show`
//!   reads from it);
//! - [`speakers`]: what the BGP speakers say, in Azure's words, asked of
//!   the routing daemons the hybrid half runs;
//! - [`ports`]: bringing up a port of the lab plan on the host;
//! - [`down`]: what a crashed `run` left on the machine, removed;
//! - [`state`]: what `apply` changes under its lock, and the port slots;
//! - [`service`]: the room as the daemon holds it
//!   ([`service::Changing`]), and what the reports read of it.
//!
//! Its invariants:
//!
//! - **A refused change changes nothing.** `apply` validates and compiles
//!   the new file first; new namespaces are built before the new plane is
//!   published (a host failure there removes what was built), and the
//!   departing ones are removed only after it.
//! - **Publication is one atomic swap, and generations only grow.**
//!   `apply`, the health prober and the BGP watchers each record what they
//!   know, then swap in a plane built from the one they loaded only if it
//!   is still published (compare-and-swap): none waits for another, none
//!   publishes over another.
//! - **A slot is reused only once no worker forwards with the plane that
//!   last used it,** and its counters and flows are cleared then: a new
//!   NIC never inherits a departed one's.
//! - **Nothing else waits for an `apply`.** Only `apply` and shutdown
//!   take its lock; reports read what is published.
//!
//! It may use the rooms below it: [`super::forwarding`] (the planes it
//! builds and publishes, the slots, the counters it clears) and
//! [`super::reporting`] (the convergence report's shape of the sessions
//! that are up, which the routing daemons' supervisor fills, and the
//! calendar the reports write dates in). Nothing below it uses it.

pub mod apply;
pub mod change_set;
pub mod down;
pub mod hybrid;
pub mod lb;
pub mod mesh;
pub mod ports;
pub mod publish;
pub mod service;
pub mod speakers;
pub mod state;
pub mod steps;
