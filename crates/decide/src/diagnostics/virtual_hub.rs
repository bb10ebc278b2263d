//! A virtual hub route table's effective routes, in the shape `az network
//! vhub get-effective-routes` prints (`{"value": [{"addressPrefixes",
//! "nextHops", "nextHopType", "routeOrigin", "asPath"}]}`), and as a table.
//!
//! The rows are [`crate::policy::virtual_wan::hub_table_routes`]: the best
//! route of each prefix the table holds, in the order the hub router
//! offers them (connections of this hub and of the others, then the
//! table's static routes and routing intent's). `nextHops` and
//! `routeOrigin` are resource IDs: the connection, the remote hub, the
//! firewall, or the table for its own static routes; `asPath` is the
//! hyphen-joined path, empty for a local connection or a static route.

use super::lookup::{find_named, QueryError};
use super::render::{Column, Tabular};
use crate::policy::gateways::LearnedRoutes;
use crate::policy::ids;
use crate::policy::virtual_wan::{hub_table_routes, HubHop, HubOrigin, HubRoute};
use crate::snapshot::Snapshot;
use crate::topology::{Topology, VirtualHubIdx, DEFAULT_ROUTE_TABLE};
use serde::Serialize;

/// `{"value": [...]}` of a hub route table.
#[derive(Debug, Serialize)]
pub struct HubEffectiveRoutes {
    pub value: Vec<HubEffectiveRoute>,
}

/// One row as `az network vhub get-effective-routes` prints it.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HubEffectiveRoute {
    pub address_prefixes: Vec<String>,
    pub next_hops: Vec<String>,
    pub next_hop_type: String,
    pub route_origin: String,
    pub as_path: String,
}

impl Tabular for HubEffectiveRoutes {
    type Row = HubEffectiveRoute;

    const COLUMNS: &'static [Column<HubEffectiveRoute>] = &[
        ("AddressPrefix", |r| r.address_prefixes.join(",")),
        ("NextHopType", |r| r.next_hop_type.clone()),
        ("NextHop", |r| last_segment(r.next_hops.first())),
        ("Origin", |r| last_segment(Some(&r.route_origin))),
        ("AsPath", |r| r.as_path.clone()),
    ];

    fn for_each_row(&self, row: impl FnMut(&HubEffectiveRoute)) {
        self.value.iter().for_each(row)
    }
}

/// The name at the end of a resource ID, for the table's narrow columns.
fn last_segment(id: Option<&String>) -> String {
    id.map(|id| id.rsplit('/').next().unwrap_or(id).to_string())
        .unwrap_or_default()
}

/// The hub named `name`, or a refusal listing the hubs there are.
pub fn find_hub(snap: &Snapshot, name: &str) -> Result<VirtualHubIdx, QueryError> {
    let hubs = &snap.topology.virtual_hubs;
    find_named(snap, hubs, name, "virtual hub", "hubs")
}

/// The table of `hub` named `table` (default `defaultRouteTable`), or a
/// refusal listing the hub's tables.
pub fn find_table(
    snap: &Snapshot,
    hub: VirtualHubIdx,
    table: Option<&str>,
) -> Result<usize, QueryError> {
    let h = &snap.topology.virtual_hubs[hub];
    let name = table.unwrap_or(DEFAULT_ROUTE_TABLE);
    h.table(name).ok_or_else(|| {
        let names: Vec<&str> = h.route_tables.iter().map(|t| t.name.as_str()).collect();
        QueryError::refused(format!(
            "no route table named `{name}` in hub `{}` (tables: {})",
            h.name,
            names.join(", ")
        ))
    })
}

/// The effective routes of `table` of `hub`, with what the hubs' VPN
/// gateways learned from their branches.
pub fn effective_routes(
    topo: &Topology,
    learned: &LearnedRoutes,
    hub: VirtualHubIdx,
    table: usize,
) -> HubEffectiveRoutes {
    HubEffectiveRoutes {
        value: (hub_table_routes(topo, learned, hub, table).iter())
            .map(|r| row(topo, r))
            .collect(),
    }
}

/// One route as `az` prints it.
pub fn row(topo: &Topology, r: &HubRoute) -> HubEffectiveRoute {
    let hub_name = |h: VirtualHubIdx| topo.virtual_hubs[h].name.as_str();
    let connection = |h: VirtualHubIdx, c: usize| {
        ids::hub_connection_id(hub_name(h), &topo.virtual_hubs[h].connections[c].name)
    };
    let bgp_connection = |h: VirtualHubIdx, c: usize| {
        ids::hub_bgp_connection_id(hub_name(h), &topo.virtual_hubs[h].bgp_connections[c].name)
    };
    let gateway = |h: VirtualHubIdx| {
        let gw = topo.virtual_hubs[h].vpn_gateway;
        gw.map_or("", |g| topo.gateways[g].name.as_str())
    };
    let er_gateway = |h: VirtualHubIdx| {
        let gw = topo.virtual_hubs[h].express_route_gateway;
        ids::express_route_gateway_id(gw.map_or("", |g| topo.gateways[g].name.as_str()))
    };
    let next_hop = match r.hop {
        HubHop::Connection { hub, connection: c } => connection(hub, c),
        HubHop::RemoteHub { hub, .. }
        | HubHop::RemoteBranch { hub, .. }
        | HubHop::RemoteCircuit { hub, .. }
        | HubHop::RemoteBgp { hub, .. } => ids::virtual_hub_id(hub_name(hub)),
        HubHop::BgpConnection { hub, connection: c } => bgp_connection(hub, c),
        HubHop::ExpressRouteGateway { hub, .. } => er_gateway(hub),
        HubHop::Firewall { hub } => {
            let fw = topo.virtual_hubs[hub].firewall;
            ids::firewall_id(fw.map_or("", |f| topo.firewalls[f].name.as_str()))
        }
        HubHop::VpnGateway { hub, .. } => ids::vpn_gateway_id(gateway(hub)),
    };
    let origin = match r.origin {
        HubOrigin::Connection { hub, connection: c } => connection(hub, c),
        HubOrigin::VpnConnection { hub, connection: c } => {
            let name = &topo.virtual_hubs[hub].vpn_connections[c].name;
            ids::vpn_connection_id(gateway(hub), name)
        }
        HubOrigin::Table { hub, table } => {
            let t = &topo.virtual_hubs[hub].route_tables[table].name;
            ids::hub_route_table_id(hub_name(hub), t)
        }
        HubOrigin::ExpressRouteConnection { hub, .. } => er_gateway(hub),
        HubOrigin::BgpConnection { hub, connection: c } => bgp_connection(hub, c),
        HubOrigin::RemoteHub(hub) => ids::virtual_hub_id(hub_name(hub)),
    };
    HubEffectiveRoute {
        address_prefixes: vec![r.prefix.to_string()],
        next_hops: vec![next_hop],
        next_hop_type: r.hop_type().as_str().to_string(),
        route_origin: origin,
        as_path: r.as_path_text(),
    }
}
