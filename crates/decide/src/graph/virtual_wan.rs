//! Virtual WAN in the [`Picture`](super::Picture): each virtual hub drawn
//! apart from every VNet (its prefix, its router's addresses and ASN, its
//! routing intent), a link from the hub to each VNet it connects
//! (labelled with the connection, the table it is associated with and
//! where it propagates), from a secured hub to its firewall (in the hub's
//! own network), and between the hubs of a Standard WAN (Microsoft's
//! backbone, with the regions' delay).

use super::parts::{firewall_id, join, sanitise, vnet_id, ConnectionEdge, NicNode};
use crate::topology::catalog::round_trips::round_trip;
use crate::topology::{Topology, VirtualHubIdx, VirtualWan, HUB_ROUTER_ASN};

pub(super) fn hub_id(topo: &Topology, hub: VirtualHubIdx) -> String {
    format!("hub_{hub}_{}", sanitise(&topo.virtual_hubs[hub].name))
}

/// One node per virtual hub.
pub(super) fn hub_nodes(topo: &Topology) -> Vec<NicNode> {
    (topo.virtual_hubs.iter_enumerated())
        .map(|(h, hub)| {
            let mut label = vec![
                format!("Virtual hub {}", hub.name),
                format!("{} {}", hub.address_prefix, hub.location),
                format!("router {}, ASN {HUB_ROUTER_ASN}", join(&hub.router_ips)),
            ];
            if let Some(intent) = &hub.routing_intent {
                let mut kinds = Vec::new();
                if intent.private {
                    kinds.push("private");
                }
                if intent.internet {
                    kinds.push("Internet");
                }
                label.push(format!("routing intent: {}", kinds.join(", ")));
            }
            NicNode {
                route_server: true,
                ..NicNode::new(hub_id(topo, h), hub.name.clone(), label)
            }
        })
        .collect()
}

/// The hubs' links: to each connected VNet, to a secured hub's firewall,
/// and between the hubs of a Standard WAN.
pub(super) fn hub_edges(topo: &Topology) -> Vec<ConnectionEdge> {
    let mut edges = Vec::new();
    for (h, hub) in topo.virtual_hubs.iter_enumerated() {
        let from_id = hub_id(topo, h);
        for c in &hub.connections {
            let table = &hub.route_tables[c.associated].name;
            let mut to: Vec<String> = (c.propagated_tables.iter())
                .map(|(th, t)| {
                    let name = &topo.virtual_hubs[*th].route_tables[*t].name;
                    if *th == h {
                        name.clone()
                    } else {
                        format!("{}/{name}", topo.virtual_hubs[*th].name)
                    }
                })
                .collect();
            to.extend(c.propagated_labels.iter().map(|l| format!("label {l}")));
            edges.push(ConnectionEdge {
                from_id: from_id.clone(),
                to_id: vnet_id(topo, c.vnet),
                label: vec![
                    format!("connection {}", c.name),
                    format!("associated {table}"),
                    format!("propagates to {}", to.join(", ")),
                ],
            });
        }
        if let Some(fw) = hub.firewall {
            edges.push(ConnectionEdge {
                from_id: from_id.clone(),
                to_id: firewall_id(topo, fw),
                label: vec!["secured hub".to_string()],
            });
        }
        let meshed = topo
            .virtual_wans
            .get(hub.wan)
            .is_some_and(VirtualWan::hubs_meshed);
        for (other, o) in topo.virtual_hubs.iter_enumerated() {
            if other <= h || o.wan != hub.wan || !meshed {
                continue;
            }
            let mut label = vec!["Microsoft backbone".to_string()];
            if let Some(rt) = round_trip(&hub.location, &o.location) {
                label.push(format!("{:.1} ms round trip", f64::from(rt.us) / 1000.0));
            }
            edges.push(ConnectionEdge {
                from_id: from_id.clone(),
                to_id: hub_id(topo, other),
                label,
            });
        }
    }
    edges
}
