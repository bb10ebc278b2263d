//! An ExpressRoute circuit's route table, in the JSON shape of `az network
//! express-route list-route-tables` (`{"value": [{"network", "nextHop",
//! "locPrf", "weight", "path"}]}`), and as a table.
//!
//! The table is the one Microsoft's edge router of one link of the
//! private peering holds (`--path primary` or `secondary`): every route its
//! BGP speaker learned, as a running lab's speaker reports it or as the BGP
//! model predicts it from a file. That is the VNets each connected
//! ExpressRoute gateway serves (next hop each gateway instance, path the
//! gateway's ASN), what the customer edge announced (next hop its address
//! of the link, path as announced), and the sites of circuits a Global
//! Reach link joins to it (next hop the far edge router's address on the
//! Global Reach /29, path as that site announced it: the two edge routers
//! share Microsoft's AS). Rows are sorted by network, then next hop, as
//! `az` lists them.

use super::lookup::{find_named, QueryError};
use super::render::{as_path_text, Column, Tabular};
use crate::snapshot::Snapshot;
use crate::topology::CircuitIdx;
use ipnet::IpNet;
use serde::Serialize;
use std::net::IpAddr;

/// `{"value": [...]}` of a circuit route table.
#[derive(Debug, Serialize)]
pub struct CircuitRouteTable {
    pub value: Vec<CircuitRoute>,
}

/// One row as `az network express-route list-route-tables` prints it.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CircuitRoute {
    pub network: String,
    pub next_hop: String,
    /// Local preference: empty, as `az` shows it for these routes.
    pub loc_prf: String,
    pub weight: u32,
    /// The AS path, ASNs separated by spaces.
    pub path: String,
}

/// Which link of the private peering: 0 primary, 1 secondary.
pub fn parse_link(path: Option<&str>) -> Result<usize, QueryError> {
    match path.map(str::to_ascii_lowercase).as_deref() {
        None | Some("primary") => Ok(0),
        Some("secondary") => Ok(1),
        Some(other) => Err(QueryError::usage(format!(
            "--path `{other}`: expected primary or secondary"
        ))),
    }
}

/// The circuit named `name`, or a refusal listing the circuits there are.
pub fn find_circuit(snap: &Snapshot, name: &str) -> Result<CircuitIdx, QueryError> {
    let circuits = &snap.topology.circuits;
    find_named(snap, circuits, name, "ExpressRoute circuit", "circuits")
}

fn as_path(path: &[u32]) -> String {
    as_path_text(path, " ")
}

/// The route table of `circuit` on link `link` (see the module docs).
pub fn route_table(snap: &Snapshot, circuit: CircuitIdx, link: usize) -> CircuitRouteTable {
    let name = snap.topology.circuits[circuit].edge_router_name(link);
    let mut rows: Vec<(IpNet, IpAddr, CircuitRoute)> = snap
        .learned
        .of(&name, 0)
        .iter()
        .map(|route| {
            (
                route.prefix,
                route.next_hop,
                CircuitRoute {
                    network: route.prefix.to_string(),
                    next_hop: route.next_hop.to_string(),
                    loc_prf: String::new(),
                    weight: 0,
                    path: as_path(&route.as_path),
                },
            )
        })
        .collect();
    rows.sort_by_key(|a| (a.0, a.1));
    CircuitRouteTable {
        value: rows.into_iter().map(|(_, _, r)| r).collect(),
    }
}

impl Tabular for CircuitRouteTable {
    type Row = CircuitRoute;

    const COLUMNS: &'static [Column<CircuitRoute>] = &[
        ("Network", |r| r.network.clone()),
        ("NextHop", |r| r.next_hop.clone()),
        ("LocPrf", |r| r.loc_prf.clone()),
        ("Weight", |r| r.weight.to_string()),
        ("Path", |r| r.path.clone()),
    ];

    fn for_each_row(&self, row: impl FnMut(&CircuitRoute)) {
        self.value.iter().for_each(row)
    }
}
