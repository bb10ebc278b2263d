//! An ExpressRoute circuit's route table, in the JSON shape of `az network
//! express-route list-route-tables` (`{"value": [{"network", "nextHop",
//! "locPrf", "weight", "path"}]}`), and as a table.
//!
//! The table is Microsoft's edge's on one link of the private peering
//! (`--path primary` or `secondary`): the VNets each connected
//! ExpressRoute gateway serves, next hop each gateway instance, path the
//! gateway's ASN; and what the customer edge announced on that link, as
//! the gateway instance ending the link learned it, next hop the customer
//! edge's address, path as announced; and the sites of circuits a Global
//! Reach link joins to it, next hop their customer edge on the same link,
//! path 12076 and their ASN. Rows are sorted by network, then next hop, as
//! `az` lists them.

use super::render::{json_text, table};
use super::QueryError;
use crate::policy::gateways::{accepted, served_ranges};
use crate::snapshot::Snapshot;
use crate::topology::{CircuitIdx, ConnectionPeer, MICROSOFT_EDGE_ASN};
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
    let topo = &snap.topology;
    topo.circuits.position(|c| c.name == name).ok_or_else(|| {
        let known: Vec<&str> = topo.circuits.iter().map(|c| c.name.as_str()).collect();
        QueryError::refused(format!(
            "no ExpressRoute circuit named `{name}` in {} (circuits: {})",
            topo.source,
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ))
    })
}

fn as_path(path: &[u32]) -> String {
    path.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The route table of `circuit` on link `link` (see the module docs).
pub fn route_table(snap: &Snapshot, circuit: CircuitIdx, link: usize) -> CircuitRouteTable {
    let topo = &snap.topology;
    let peering = &topo.circuits[circuit].private_peering;
    let edge = peering.customer_address(link);
    let mut rows: Vec<(IpNet, IpAddr, CircuitRoute)> = Vec::new();
    let gateways = topo
        .connections
        .iter()
        .filter(|c| c.peer == ConnectionPeer::Circuit(circuit))
        .map(|c| c.gateway);
    for g in gateways {
        let gw = &topo.gateways[g];
        let served = served_ranges(topo, g);
        for range in &served {
            for instance in &gw.instances {
                rows.push((
                    *range,
                    *instance,
                    CircuitRoute {
                        network: range.to_string(),
                        next_hop: instance.to_string(),
                        loc_prf: String::new(),
                        weight: 0,
                        path: gw.asn.to_string(),
                    },
                ));
            }
        }
        for route in accepted(snap.learned.of(&gw.name, link), edge, &served) {
            let row = (
                route.prefix,
                route.next_hop,
                CircuitRoute {
                    network: route.prefix.to_string(),
                    next_hop: route.next_hop.to_string(),
                    loc_prf: String::new(),
                    weight: 0,
                    path: as_path(&route.as_path),
                },
            );
            // Two gateways learn the same announcement: one row.
            if !rows.iter().any(|r| r.2 == row.2) {
                rows.push(row);
            }
        }
    }
    // Global Reach: the joined circuits' sites, from their customer edge
    // on the same link.
    for peer in topo.reach_peers(circuit) {
        let far = &topo.circuits[peer];
        let hop = far.private_peering.customer_address(link);
        for range in &topo.sites[far.site].address_space {
            rows.push((
                *range,
                hop,
                CircuitRoute {
                    network: range.to_string(),
                    next_hop: hop.to_string(),
                    loc_prf: String::new(),
                    weight: 0,
                    path: format!("{MICROSOFT_EDGE_ASN} {}", far.private_peering.peer_asn),
                },
            ));
        }
    }
    rows.sort_by_key(|a| (a.0, a.1));
    CircuitRouteTable {
        value: rows.into_iter().map(|(_, _, r)| r).collect(),
    }
}

/// A circuit route table as a table or `az`'s JSON.
pub fn render_route_table(
    title: &str,
    list: &CircuitRouteTable,
    json: bool,
) -> Result<String, QueryError> {
    if json {
        return json_text(list);
    }
    let rows: Vec<Vec<String>> = list
        .value
        .iter()
        .map(|r| {
            vec![
                r.network.clone(),
                r.next_hop.clone(),
                r.loc_prf.clone(),
                r.weight.to_string(),
                r.path.clone(),
            ]
        })
        .collect();
    Ok(format!(
        "{title}\n\n{}",
        table(&["Network", "NextHop", "LocPrf", "Weight", "Path"], &rows)
    ))
}
