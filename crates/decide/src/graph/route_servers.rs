//! Azure Route Servers in the [`Picture`](super::Picture): each drawn in
//! its `RouteServerSubnet` (instances, ASN, branch-to-branch), with a BGP
//! session to every appliance NIC it peers with (labelled with the peer's
//! AS and what the appliance announces) and, with branch-to-branch traffic
//! on, a link to each gateway of its VNet.

use super::parts::{gateway_id, in_subnet, join, nic_id, sanitise, ConnectionEdge, NicNode};
use crate::topology::{RouteServerIdx, SubnetRef, Topology, ROUTE_SERVER_ASN};

pub(super) fn route_server_id(topo: &Topology, r: RouteServerIdx) -> String {
    format!("route_server_{r}_{}", sanitise(&topo.route_servers[r].name))
}

/// The Route Servers that live in `subnet` (a RouteServerSubnet).
pub(super) fn route_server_nodes(topo: &Topology, subnet: SubnetRef) -> Vec<NicNode> {
    in_subnet(&topo.route_servers, subnet, |rs| rs.subnet)
        .map(|(r, rs)| {
            let mut label = vec![
                format!("Route Server {}", rs.name),
                join(&rs.instances),
                format!("ASN {ROUTE_SERVER_ASN}"),
            ];
            if rs.branch_to_branch_traffic {
                label.push("branch-to-branch".to_string());
            }
            NicNode {
                route_server: true,
                ..NicNode::new(route_server_id(topo, r), rs.name.clone(), label)
            }
        })
        .collect()
}

/// For each Route Server, a BGP session to the NIC of each of its
/// connections (the peer's AS, and what the NIC's speaker announces), then,
/// with branch-to-branch traffic on, a link to each gateway of its VNet.
pub(super) fn route_server_edges(topo: &Topology) -> Vec<ConnectionEdge> {
    let mut edges = Vec::new();
    for (r, rs) in topo.route_servers.iter_enumerated() {
        let from_id = route_server_id(topo, r);
        for peer in &rs.bgp_connections {
            let Some(nic) = peer.nic else {
                continue;
            };
            let mut label = format!("BGP AS {}", peer.peer_asn);
            let speaker = topo.appliance_speakers.iter().find(|s| s.nic == nic);
            if let Some(speaker) = speaker.filter(|s| !s.announce.is_empty()) {
                label.push_str(&format!(": {}", join(&speaker.announce)));
            }
            edges.push(ConnectionEdge {
                from_id: from_id.clone(),
                to_id: nic_id(topo, nic),
                label: vec![label],
            });
        }
        if !rs.branch_to_branch_traffic {
            continue;
        }
        for (g, _) in topo
            .gateways
            .iter_enumerated()
            .filter(|(_, g)| g.vnet == rs.vnet)
        {
            edges.push(ConnectionEdge {
                from_id: from_id.clone(),
                to_id: gateway_id(topo, g),
                label: vec!["branch-to-branch".to_string()],
            });
        }
    }
    edges
}
