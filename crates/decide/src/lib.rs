//! The decisions read from one compiled snapshot of Azure's model.
//!
//! - [`snapshot`]: the policy compiled into lookups, one immutable value
//!   that both the packet path and the diagnostics read.
//! - [`dataplane`]: the per-packet decision, reading a snapshot: Azure's
//!   checks in Azure's order, with stateful NSGs.
//! - [`diagnostics`]: the answers of `routes`, `next-hop`, `flow-verify`,
//!   `rules`, `trace` and `check`, computed from a snapshot, as tables or
//!   as `az`-shaped JSON.
//! - [`graph`]: the topology as a picture (Mermaid, Graphviz DOT,
//!   Cytoscape elements).
//! - [`names`]: Azure DNS (168.63.129.16) as each VNet sees it: linked
//!   Private DNS zones, VM names and Private Link names, answered as a
//!   resolution with its chain or as DNS messages.
//!
//! The crate depends on `vnetd-net`, `vnetd-engine` and `vnetd-model`:
//! nothing here can reach a TUN device, a namespace or the daemon, so
//! forwarding and diagnostics share these tables and cannot disagree.

pub use vnetd_engine as engine;
pub use vnetd_model::{plan, policy, topology};
pub use vnetd_net as net;

pub mod dataplane;
pub mod diagnostics;
pub mod graph;
pub mod names;
pub mod snapshot;
