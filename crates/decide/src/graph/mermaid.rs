//! The Mermaid spelling of a [`Picture`](super::Picture): a flowchart
//! GitHub renders inside a ```` ```mermaid ```` block.

use super::model::*;
use super::style::{
    escaped, quoted_label, FRONTEND_FILL, INTERNET, INTERNET_FILL, LOAD_BALANCING, NAT_GATEWAY,
    NAT_GATEWAY_FILL, ROUTE_SERVER, ROUTE_SERVER_FILL,
};
use std::fmt::Write;

/// Escapes label text for a quoted Mermaid label (`["..."]`, `|"..."|`):
/// quotes and the characters Mermaid reads as markup become entity codes.
pub fn mermaid_escape(text: &str) -> String {
    let entities = [
        ('"', "#quot;"),
        ('#', "#35;"),
        ('<', "#lt;"),
        ('>', "#gt;"),
        ('&', "#amp;"),
        ('`', "#96;"),
    ];
    escaped(text, &entities)
}

pub(super) fn mermaid_label(lines: &[String]) -> String {
    quoted_label(lines, mermaid_escape, "<br/>")
}

/// One node: NVAs (and site routers) as hexagons, gateways as trapezia,
/// load balancer frontends as stadiums, ExpressRoute circuits as
/// subroutines (a box with double sides), the Internet as a circle,
/// ordinary NICs, Route Servers and NAT gateways (coloured by their class)
/// as rectangles.
pub(super) fn mermaid_node(out: &mut String, indent: &str, node: &NicNode, label: &str) {
    if node.internet_edge == Some(InternetPart::Internet) {
        let _ = writeln!(out, "{indent}{}(({label}))", node.id);
    } else if node.circuit {
        let _ = writeln!(out, "{indent}{}[[{label}]]", node.id);
    } else if node.frontend {
        let _ = writeln!(out, "{indent}{}([{label}])", node.id);
    } else if node.appliance {
        let _ = writeln!(out, "{indent}{}{{{{{label}}}}}", node.id);
    } else if node.gateway {
        let _ = writeln!(out, "{indent}{}[/{label}\\]", node.id);
    } else {
        let _ = writeln!(out, "{indent}{}[{label}]", node.id);
    }
}

/// Opens the subgraph of a box (VNet, subnet or site); `end` closes it.
fn subgraph(out: &mut String, indent: &str, id: &str, label: &[String]) {
    let _ = writeln!(out, "{indent}subgraph {id}[{}]", mermaid_label(label));
}

pub(super) fn mermaid(picture: &Picture) -> String {
    let mut out = String::from("flowchart LR\n");
    for vnet in &picture.vnets {
        subgraph(&mut out, "  ", &vnet.id, &vnet.label);
        for subnet in &vnet.subnets {
            subgraph(&mut out, "    ", &subnet.id, &subnet.label);
            for nic in &subnet.nics {
                let label = mermaid_label(&nic.label);
                mermaid_node(&mut out, "      ", nic, &label);
            }
            out.push_str("    end\n");
        }
        out.push_str("  end\n");
    }
    for site in &picture.sites {
        subgraph(&mut out, "  ", &site.id, &site.label);
        for node in &site.nodes {
            mermaid_node(&mut out, "    ", node, &mermaid_label(&node.label));
        }
        out.push_str("  end\n");
    }
    for circuit in &picture.outside {
        mermaid_node(&mut out, "  ", circuit, &mermaid_label(&circuit.label));
    }
    for ip in picture.unreachable_hops() {
        let label = mermaid_label(&[ip.to_string(), "no reachable NIC: dropped".to_string()]);
        let _ = writeln!(out, "  {}[{label}]", unreachable_id(ip));
    }
    for edge in &picture.peerings {
        let (from, to) = (&edge.from_id, &edge.to_id);
        let arrow = edge.state.pick(["---", "-.->", "-.-"]);
        let _ = writeln!(out, "  {from} {arrow}|{}| {to}", mermaid_label(&edge.label));
    }
    // Appliance routes, gateway connections, load balancing and the ways
    // to (solid) and from (dotted) the Internet, each with its own arrow.
    let internet_arrow = |e: &InternetEdge| if e.link.inbound() { "-.->" } else { "-->" };
    let edges = (picture.appliance_routes.iter())
        .map(|e| (&e.from_id, "-->", e.label(), &e.to_id))
        .chain((picture.connections.iter()).map(|e| (&e.from_id, "===", e.label.clone(), &e.to_id)))
        .chain(
            (picture.load_balancing.iter()).map(|e| (&e.from_id, "==>", e.label.clone(), &e.to_id)),
        )
        .chain(
            (picture.internet.iter())
                .map(|e| (&e.from_id, internet_arrow(e), e.label.clone(), &e.to_id)),
        );
    for (from, arrow, label, to) in edges {
        let _ = writeln!(out, "  {from} {arrow}|{}| {to}", mermaid_label(&label));
    }
    let nodes = || {
        picture
            .vnets
            .iter()
            .flat_map(|v| v.subnets.iter())
            .flat_map(|s| s.nics.iter())
            .chain(picture.sites.iter().flat_map(|s| s.nodes.iter()))
            .chain(picture.outside.iter())
    };
    let ids = |is: fn(&NicNode) -> bool| -> Vec<String> {
        nodes().filter(|n| is(n)).map(|n| n.id.clone()).collect()
    };
    // Each class with its style and the nodes drawn in it.
    let classes = [
        (
            "nva",
            "fill:#fde7c8,stroke:#c46b00".to_string(),
            ids(|n| n.appliance),
        ),
        (
            "frontend",
            format!("fill:{FRONTEND_FILL},stroke:{LOAD_BALANCING}"),
            ids(|n| n.frontend),
        ),
        (
            "routeServer",
            format!("fill:{ROUTE_SERVER_FILL},stroke:{ROUTE_SERVER}"),
            ids(|n| n.route_server),
        ),
        (
            "internet",
            format!("fill:{INTERNET_FILL},stroke:{INTERNET},stroke-width:2px"),
            ids(|n| n.internet_edge == Some(InternetPart::Internet)),
        ),
        (
            "natGateway",
            format!("fill:{NAT_GATEWAY_FILL},stroke:{NAT_GATEWAY}"),
            ids(|n| n.internet_edge == Some(InternetPart::NatGateway)),
        ),
        (
            "unreachable",
            "stroke:#d00000,stroke-width:2px".to_string(),
            picture
                .unreachable_hops()
                .into_iter()
                .map(unreachable_id)
                .collect(),
        ),
    ];
    for (class, style, members) in classes {
        if !members.is_empty() {
            let _ = writeln!(out, "  classDef {class} {style}");
            let _ = writeln!(out, "  class {} {class}", members.join(","));
        }
    }
    out
}
