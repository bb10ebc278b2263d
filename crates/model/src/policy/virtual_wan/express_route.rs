//! A virtual hub's ExpressRoute: what its circuit connections give the
//! hub's route tables (`docs/src/azure-behaviour.md`, "Virtual WAN",
//! "ExpressRoute in the hub"):
//!
//! - An ExpressRoute connection gives the tables it propagates to what the
//!   hub's ExpressRoute gateway learned from the circuit's edge routers,
//!   with the path as learned (`12076` and the customer edge's path). In
//!   its own hub the next hop is the hub's ExpressRoute gateway
//!   (`ExpressRouteGateway`); in another hub of a Standard WAN it is
//!   `Remote Hub`, with `65520-65520` before the path; 0.0.0.0/0 never
//!   leaves its hub.
//! - What the gateway advertises to the circuit is what the hub advertises
//!   to a branch (`exports.rs`), less every route learned from a circuit,
//!   here or in another hub: no ExpressRoute-to-ExpressRoute transit
//!   through the hubs ("Prefixes learned from one ExpressRoute circuit
//!   aren't advertised to other ExpressRoute circuits unless Global Reach
//!   is enabled").

use super::route::{HubHop, HubOrigin, HubRoute};
use crate::policy::gateways::{accepted, served_ranges};
use crate::policy::learned::LearnedRoutes;
use crate::topology::model::*;
use ipnet::IpNet;
use std::net::IpAddr;

/// The prefixes ExpressRoute connection `connection` of `hub` gives the
/// hub, each with its AS path as the gateway learned it from the circuit's
/// edge routers: the shorter path of the instances' and edges' where
/// several carry one.
pub fn circuit_routes(
    topo: &Topology,
    learned: &LearnedRoutes,
    hub: VirtualHubIdx,
    connection: usize,
) -> Vec<(IpNet, Vec<u32>)> {
    let h = &topo.virtual_hubs[hub];
    let (Some(gateway), Some(c)) = (
        h.express_route_gateway,
        h.express_route_connections.get(connection),
    ) else {
        return Vec::new();
    };
    let gw = &topo.gateways[gateway];
    let served = served_ranges(topo, gateway);
    let peering = &topo.circuits[c.circuit].private_peering;
    let edges: Vec<IpAddr> = (0..2).map(|l| peering.microsoft_address(l)).collect();
    let mut out: Vec<(IpNet, Vec<u32>)> = Vec::new();
    for i in 0..gw.instances.len() {
        for edge in &edges {
            for r in accepted(learned.of(&gw.name, i), *edge, &served) {
                super::branches::keep_shortest(&mut out, r.prefix, &r.as_path);
            }
        }
    }
    out
}

/// The routes ExpressRoute connection `connection` of hub `from` offers
/// to a table of hub `to` (the same hub, or another of a Standard WAN).
pub(super) fn circuit_candidates(
    topo: &Topology,
    learned: &LearnedRoutes,
    (to, from): (VirtualHubIdx, VirtualHubIdx),
    connection: usize,
) -> Vec<HubRoute> {
    super::branches::learned_candidates(
        circuit_routes(topo, learned, from, connection),
        (to, from),
        (
            HubHop::ExpressRouteGateway {
                hub: to,
                connection,
            },
            HubOrigin::ExpressRouteConnection {
                hub: to,
                connection,
            },
        ),
        HubHop::RemoteCircuit {
            hub: from,
            connection,
        },
    )
}

/// Whether ExpressRoute connection `c` gives its routes to `table` of
/// `hub`.
pub(super) fn circuit_reaches(
    topo: &Topology,
    c: &HubExpressRouteConnection,
    hub: VirtualHubIdx,
    table: usize,
) -> bool {
    let t = &topo.virtual_hubs[hub].route_tables[table];
    c.propagated_tables.contains(&(hub, table))
        || c.propagated_labels.iter().any(|l| t.labels.contains(l))
}
