//! The answers of the diagnostic commands, computed from a compiled
//! [`Snapshot`] (the same tables the packet path forwards with):
//!
//! - `routes`: effective routes of a NIC's subnet, like
//!   `az network nic show-effective-route-table`;
//! - `next-hop`: the deciding route for a destination, like
//!   `az network watcher show-next-hop`;
//! - `flow-verify`: the NSG verdict and deciding rule for a TCP/UDP flow,
//!   like `az network watcher test-ip-flow`;
//! - `rules`: effective security rules, like
//!   `az network nic list-effective-nsg`;
//! - `gateway learned-routes` and `advertised-routes`, like
//!   `az network vnet-gateway list-learned-routes` and
//!   `list-advertised-routes` ([`gateway`]);
//! - `lb show`: a load balancer's backends with their probes' verdicts, in
//!   vnetd's own shape ([`load_balancer`]).
//!
//! Each comes as a value with the JSON shape `az` prints (the contract's
//! keys, in its order) and as a readable table.
//!
//! The rooms: [`az`] computes the answers in `az`'s shapes, [`query`] is
//! the question as it travels (from the command line or over the control
//! socket), [`render`] lays answers out as tables or JSON. They may use the
//! snapshot, the policy's effective rows and the dataplane's decision
//! steps, never the daemon or the host.

pub mod az;
pub mod expectations;
pub mod gateway;
pub mod load_balancer;
pub mod query;
pub mod render;

pub use az::{
    flow_verify, next_hop, routes, rules, EffectiveNsgList, FlowAnswer, FlowVerdict, NextHop,
    RouteList, RouteRow, SecurityRuleRow, SYSTEM_ROUTE,
};
pub use query::{FlowQuery, Query};

use crate::snapshot::Snapshot;
use crate::topology::{Loaded, NicIdx, SubnetRef};
use render::{render_flow_verify, render_next_hop, render_routes, render_rules};

/// Why a question got no answer. The CLI renders it: `Usage` (the
/// question itself is malformed) exits 2, `Refused` (it names what is not
/// there) exits 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    Usage(String),
    Refused(String),
}

impl QueryError {
    pub fn usage(message: impl Into<String>) -> Self {
        QueryError::Usage(message.into())
    }

    pub fn refused(message: impl Into<String>) -> Self {
        QueryError::Refused(message.into())
    }

    pub fn message(&self) -> &str {
        match self {
            QueryError::Usage(m) | QueryError::Refused(m) => m,
        }
    }
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for QueryError {}

/// The NIC named `name`, or a refusal that lists the NICs there are.
pub fn find_nic(snap: &Snapshot, name: &str) -> Result<NicIdx, QueryError> {
    snap.nic_by_name(name).ok_or_else(|| {
        let known: Vec<&str> = snap.topology.nics.iter().map(|n| n.name.as_str()).collect();
        QueryError::refused(format!(
            "no NIC named `{name}` in {} (NICs: {})",
            snap.topology.source,
            known.join(", ")
        ))
    })
}

/// Whose effective routes `routes` lists.
#[derive(Debug, Clone, Copy)]
pub enum RoutesOf {
    Nic(NicIdx),
    Subnet(SubnetRef),
}

/// The subnet written `vnet/subnet`, or a refusal that lists the subnets
/// there are.
pub fn find_subnet(snap: &Snapshot, path: &str) -> Result<SubnetRef, QueryError> {
    let topo = &snap.topology;
    topo.subnet_refs()
        .find(|s| topo.subnet_path(*s) == path)
        .ok_or_else(|| {
            let known: Vec<String> = topo.subnet_refs().map(|s| topo.subnet_path(s)).collect();
            QueryError::refused(format!(
                "no subnet `{path}` in {} (subnets: {})",
                topo.source,
                known.join(", ")
            ))
        })
}

/// The printed answer to `query`: a table, or `az`-shaped JSON.
pub fn answer(snap: &Snapshot, query: &Query, json: bool) -> Result<String, QueryError> {
    match query {
        Query::Routes { nic, subnet } => {
            let subnet = match (nic, subnet) {
                (Some(nic), None) => RoutesOf::Nic(find_nic(snap, nic)?),
                (None, Some(path)) => RoutesOf::Subnet(find_subnet(snap, path)?),
                _ => {
                    return Err(QueryError::usage(
                        "routes: give exactly one of --nic and --subnet",
                    ))
                }
            };
            render_routes(snap, subnet, json)
        }
        Query::NextHop { nic, dst } => render_next_hop(snap, nic, dst, json),
        Query::FlowVerify {
            nic,
            direction,
            protocol,
            local,
            remote,
        } => {
            let q = FlowQuery::parse(direction, protocol, local, remote)?;
            render_flow_verify(snap, nic, &q, json)
        }
        Query::Rules { nic } => render_rules(snap, nic, json),
        Query::GatewayLearnedRoutes { gateway } => {
            let g = gateway::find_gateway(snap, gateway)?;
            let title = format!("Routes gateway {gateway} knows:");
            gateway::render_route_list(&title, &gateway::learned_routes(snap, g), json)
        }
        Query::GatewayAdvertisedRoutes { gateway, peer } => {
            let g = gateway::find_gateway(snap, gateway)?;
            let title = format!("Routes gateway {gateway} advertises to {peer}:");
            gateway::render_route_list(&title, &gateway::advertised_routes(snap, g, peer)?, json)
        }
    }
}

/// Answers from a topology file (compiled here, as the daemon would).
pub fn answer_offline(loaded: &Loaded, query: &Query, json: bool) -> Result<String, QueryError> {
    answer(&Snapshot::compile(loaded.topology.clone(), 0), query, json)
}
