//! The [`Picture`] as Cytoscape.js elements (its JSON form), for the live
//! page of a running lab: VNets, subnets and sites are compound nodes
//! holding what sits in them, and every node and edge keeps the identifier
//! the other renderers use, so rates, drops and traces can be put on them.
//! The ways to the Internet are edges of kind `egress`, those from it
//! `ingress`. The page lays the elements out itself.

use super::model::{unreachable_id, PeeringState, Picture};
use super::parts::{InternetPart, NicNode};
use serde_json::{json, Value};

/// The edge identifiers the picture's edges get here, by kind and
/// position in the picture.
pub fn peering_edge_id(index: usize) -> String {
    format!("peering_{index}")
}

pub fn appliance_route_edge_id(index: usize) -> String {
    format!("route_{index}")
}

pub fn internet_edge_id(index: usize) -> String {
    format!("internet_{index}")
}

fn node(id: &str, parent: Option<&str>, kind: &str, label: &[String]) -> Value {
    let mut data = json!({ "id": id, "kind": kind, "label": label.join("\n") });
    if let Some(parent) = parent {
        data["parent"] = json!(parent);
    }
    json!({ "group": "nodes", "data": data })
}

fn member(n: &NicNode, parent: &str, in_site: bool) -> Value {
    // The first kind that holds, in this order.
    let kinds = [
        (n.internet_edge == Some(InternetPart::Internet), "internet"),
        (
            n.internet_edge == Some(InternetPart::NatGateway),
            "nat_gateway",
        ),
        (in_site, "site_node"),
        (n.gateway, "gateway"),
        (n.frontend, "frontend"),
        (n.firewall, "firewall"),
        (n.route_server, "route_server"),
        (n.circuit, "circuit"),
        (n.appliance, "appliance"),
    ];
    let kind = kinds
        .into_iter()
        .find_map(|(holds, kind)| holds.then_some(kind))
        .unwrap_or("nic");
    let mut value = node(&n.id, Some(parent), kind, &n.label);
    value["data"]["name"] = json!(n.name);
    if parent.is_empty() {
        value["data"].as_object_mut().map(|d| d.remove("parent"));
    }
    value
}

fn edge(id: String, from: &str, to: &str, kind: &str, label: &[String]) -> Value {
    json!({ "group": "edges", "data": {
        "id": id, "source": from, "target": to, "kind": kind, "label": label.join("\n"),
    }})
}

/// Every element of the picture, nodes before the edges that join them.
pub fn elements(picture: &Picture) -> Vec<Value> {
    let mut out = Vec::new();
    for vnet in &picture.vnets {
        out.push(node(&vnet.id, None, "vnet", &vnet.label));
        for subnet in &vnet.subnets {
            out.push(node(&subnet.id, Some(&vnet.id), "subnet", &subnet.label));
            out.extend(subnet.nics.iter().map(|n| member(n, &subnet.id, false)));
        }
    }
    for site in &picture.sites {
        out.push(node(&site.id, None, "site", &site.label));
        out.extend(site.nodes.iter().map(|n| member(n, &site.id, true)));
    }
    out.extend(picture.outside.iter().map(|c| member(c, "", false)));
    for ip in picture.unreachable_hops() {
        let label = [ip.to_string(), "no reachable NIC: dropped".to_string()];
        out.push(node(&unreachable_id(ip), None, "unreachable", &label));
    }
    for (i, p) in picture.peerings.iter().enumerate() {
        let mut e = edge(
            peering_edge_id(i),
            &p.from_id,
            &p.to_id,
            "peering",
            &p.label,
        );
        e["data"]["state"] = json!(match p.state {
            PeeringState::Connected => "connected",
            PeeringState::Initiated => "initiated",
            PeeringState::ConnectedGroup => "connected-group",
        });
        out.push(e);
    }
    for (i, r) in picture.appliance_routes.iter().enumerate() {
        let id = appliance_route_edge_id(i);
        out.push(edge(
            id,
            &r.from_id,
            &r.to_id,
            "appliance_route",
            &r.label(),
        ));
    }
    for (i, c) in picture.connections.iter().enumerate() {
        let id = format!("connection_{i}");
        out.push(edge(id, &c.from_id, &c.to_id, "connection", &c.label));
    }
    for (i, l) in picture.load_balancing.iter().enumerate() {
        let id = format!("balancing_{i}");
        out.push(edge(id, &l.from_id, &l.to_id, "load_balancing", &l.label));
    }
    for (i, e) in picture.internet.iter().enumerate() {
        let kind = if e.link.inbound() {
            "ingress"
        } else {
            "egress"
        };
        let id = internet_edge_id(i);
        out.push(edge(id, &e.from_id, &e.to_id, kind, &e.label));
    }
    out
}
