//! vnetd: Azure virtual networking on one Linux host.
//!
//! vnetd is a workspace whose crates are its layers, so that the compiler
//! holds each layer to the ones below it (a wrong import does not build):
//!
//! | crate | modules | may use |
//! |---|---|---|
//! | `vnetd-net` (`crates/net`) | [`net`] | nothing of vnetd |
//! | `vnetd-engine` (`crates/engine`) | [`engine`] | net |
//! | `vnetd-model` (`crates/model`) | [`topology`], [`policy`], [`plan`] | net |
//! | `vnetd-decide` (`crates/decide`) | [`snapshot`], [`dataplane`], [`diagnostics`], [`graph`], [`names`] | net, engine, model |
//! | `vnetd-import` (`crates/import`) | [`import`] | net, model |
//! | `vnetd-host` (`crates/host`) | [`host`] | nothing of vnetd |
//! | `vnetd` (this crate) | [`api`], [`daemon`], [`verify`], [`web`], [`cli`] | all of the above |
//!
//! This crate re-exports the layers below under their module names, so
//! `vnetd::topology` is `vnetd_model::topology`. The modules:
//!
//! - [`topology`]: the topology file (YAML), its decoding and validation into
//!   a resolved model. Knows Azure's vocabulary and refusals, nothing else.
//! - [`policy`]: Azure's decisions on a topology: effective routes of a
//!   subnet, NSG rules with the default rules and service tags expanded.
//! - [`engine`]: generic lookup structures with no Azure knowledge: a
//!   longest-prefix-match table, a first-match 5-tuple classifier and a
//!   bounded lock-free flow table.
//! - [`plan`]: the lab a topology needs on the host, derived in one pure
//!   step: every port of the fabric (the file's NICs, and the gateway
//!   instances, site tunnels and health probers vnetd adds), the namespace
//!   and interface of each, and every namespace; and what changes between
//!   two plans.
//! - [`snapshot`]: the policy compiled into engines, one immutable value
//!   that both the packet path and the diagnostics read.
//! - [`dataplane`]: the per-packet decision, reading a snapshot: Azure's
//!   checks in Azure's order, with stateful NSGs.
//! - [`diagnostics`]: the answers of `routes`, `next-hop`, `flow-verify` and
//!   `rules`, computed from a snapshot, as tables or as `az`-shaped JSON.
//! - [`graph`]: the topology as a picture (Mermaid or Graphviz DOT) for
//!   `vnetd graph`.
//! - [`names`]: Azure DNS (168.63.129.16) as each VNet sees it: linked
//!   Private DNS zones, VM names and Private Link names, answered for
//!   `vnetd resolve` and as DNS messages for the running lab.
//! - [`api`]: the control API of a running lab: typed requests, answers
//!   and reports, their wire format and the socket's client.
//! - [`daemon`]: the running lab, where the two sides meet: namespaces and
//!   TUNs built from the topology, forwarding workers reading one published
//!   snapshot.
//! - [`host`]: host plumbing in plain Linux terms: named network namespaces,
//!   multi-queue TUN devices with offload, links, addresses and routes.
//! - [`import`]: topology files written from Terraform configurations,
//!   Terraform state and `az` JSON dumps.
//! - [`web`]: the running lab's HTTP server: the Prometheus metrics and
//!   the live page (the picture with rates, drops, flows and traces, and
//!   capture downloads), read from the daemon's snapshot and reports.
//! - [`verify`]: the topology's expectations tested on the running lab with
//!   real packets from inside its namespaces, confirmed by the fabric's own
//!   flow records and counters (`vnetd verify`).

pub mod api;
pub mod cli;
pub mod daemon;
pub mod verify;
pub mod web;

pub use vnetd_decide::{dataplane, diagnostics, graph, names, snapshot};
pub use vnetd_engine as engine;
pub use vnetd_host as host;
pub use vnetd_import as import;
pub use vnetd_model::{plan, policy, topology};
pub use vnetd_net as net;
