//! Azure's model of a network, with no I/O beyond reading a file: what a
//! topology file says, what Azure decides from it, and the lab it needs.
//!
//! - [`topology`]: the topology file (YAML), its decoding and validation
//!   into a resolved model. Knows Azure's vocabulary and refusals.
//! - [`policy`]: Azure's decisions on a topology: effective routes of a
//!   subnet, NSG rules with the default rules and service tags expanded,
//!   what gateways and Route Servers learn over BGP.
//! - [`plan`]: the lab a topology needs on the host, derived in one pure
//!   step: every port of the fabric and its namespace and interface, and
//!   what changes between two plans.
//!
//! The crate depends on `vnetd-net` alone among vnetd's: the compiler
//! refuses a use of the lookups, the host or the daemon here. Inside it,
//! `topology` uses neither `policy` nor `plan` (checked by
//! `tests/offline/layering.rs`).

pub use vnetd_net as net;

#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod plan;
pub mod policy;
pub mod topology;
