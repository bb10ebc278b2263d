//! The Graphviz DOT spelling of a [`Picture`](super::Picture)
//! (`dot -Tsvg`).

use super::model::*;
use super::style::{
    escaped, quoted_label, FRONTEND_FILL, INTERNET, INTERNET_FILL, LOAD_BALANCING, NAT_GATEWAY,
    NAT_GATEWAY_FILL, ROUTE_SERVER, ROUTE_SERVER_FILL,
};
use std::fmt::Write;

/// Escapes label text for a double-quoted DOT string: backslashes (which
/// DOT reads as label escapes such as `\n`) and quotes.
pub fn dot_escape(text: &str) -> String {
    escaped(text, &[('\\', "\\\\"), ('"', "\\\"")])
}

pub(super) fn dot_label(lines: &[String]) -> String {
    quoted_label(lines, dot_escape, "\\n")
}

/// Opens the cluster of a box (VNet, subnet or site) with its label and
/// `style`; `}` closes it.
fn cluster(out: &mut String, indent: &str, id: &str, label: &[String], style: &str) {
    let _ = writeln!(out, "{indent}subgraph cluster_{id} {{");
    let _ = writeln!(out, "{indent}  label={};", dot_label(label));
    let _ = writeln!(out, "{indent}  style=\"{style}\";");
}

pub(super) fn dot(picture: &Picture) -> String {
    let mut out = String::from("digraph vnetd {\n");
    // compound lets edges end at a cluster's border (lhead/ltail): a VNet or
    // subnet is drawn as a cluster and reached through an invisible anchor
    // node inside it, which also keeps an empty cluster visible.
    out.push_str("  graph [compound=true, rankdir=LR, fontname=\"Helvetica\", fontsize=11];\n");
    out.push_str("  node [shape=box, style=\"rounded\", fontname=\"Helvetica\", fontsize=10];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=9];\n");
    for vnet in &picture.vnets {
        cluster(&mut out, "  ", &vnet.id, &vnet.label, "rounded,bold");
        let _ = writeln!(out, "    {} [shape=point, style=invis];", vnet.id);
        for subnet in &vnet.subnets {
            cluster(
                &mut out,
                "    ",
                &subnet.id,
                &subnet.label,
                "rounded,dashed",
            );
            let _ = writeln!(out, "      {} [shape=point, style=invis];", subnet.id);
            for nic in &subnet.nics {
                dot_node(&mut out, "      ", nic);
            }
            out.push_str("    }\n");
        }
        out.push_str("  }\n");
    }
    for site in &picture.sites {
        cluster(&mut out, "  ", &site.id, &site.label, "rounded,bold");
        for node in &site.nodes {
            dot_node(&mut out, "    ", node);
        }
        out.push_str("  }\n");
    }
    for circuit in &picture.outside {
        dot_node(&mut out, "  ", circuit);
    }
    for ip in picture.unreachable_hops() {
        let label = dot_label(&[ip.to_string(), "no reachable NIC: dropped".to_string()]);
        let _ = writeln!(
            out,
            "  {} [label={label}, shape=octagon, color=red];",
            unreachable_id(ip)
        );
    }
    for edge in &picture.peerings {
        let (from, to) = (&edge.from_id, &edge.to_id);
        let style = edge.state.pick([
            "dir=none, style=solid, penwidth=2",
            "style=dashed",
            "dir=none, style=dotted, penwidth=2",
        ]);
        let _ = writeln!(
            out,
            "  {from} -> {to} [label={}, {style}, ltail=cluster_{from}, lhead=cluster_{to}];",
            dot_label(&edge.label)
        );
    }
    for edge in &picture.appliance_routes {
        let from = &edge.from_id;
        let _ = writeln!(
            out,
            "  {from} -> {} [label={}, color=\"#c46b00\", ltail=cluster_{from}];",
            edge.to_id,
            dot_label(&edge.label()),
        );
    }
    // Gateway connections and load balancing, each in its own style.
    let balancing = format!("color=\"{LOAD_BALANCING}\"");
    let connection = "dir=both, style=bold, color=\"#1f5fa8\"";
    let edges = (picture.connections.iter())
        .map(|e| (&e.from_id, &e.to_id, &e.label, connection))
        .chain(
            (picture.load_balancing.iter())
                .map(|e| (&e.from_id, &e.to_id, &e.label, balancing.as_str())),
        );
    for (from, to, label, style) in edges {
        let _ = writeln!(
            out,
            "  {from} -> {to} [label={}, {style}];",
            dot_label(label)
        );
    }
    // The ways to the Internet (solid) and from it (dashed); a subnet's
    // way to its NAT gateway starts at the subnet's border.
    for edge in &picture.internet {
        let (from, to) = (&edge.from_id, &edge.to_id);
        let style = match edge.link {
            InternetLink::NatSubnet { .. } => format!(", ltail=cluster_{from}"),
            link if link.inbound() => ", style=dashed".to_string(),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  {from} -> {to} [label={}, color=\"{INTERNET}\"{style}];",
            dot_label(&edge.label)
        );
    }
    out.push_str("}\n");
    out
}

/// One node: NVAs (and site routers) as filled hexagons, gateways as
/// trapezia, load balancer frontends as filled ovals, ExpressRoute
/// circuits as double octagons, the Internet as a filled ellipse, Route
/// Servers and NAT gateways as filled boxes, ordinary NICs as boxes.
pub(super) fn dot_node(out: &mut String, indent: &str, node: &NicNode) {
    let shape = if node.internet_edge == Some(InternetPart::Internet) {
        format!(", shape=ellipse, style=filled, penwidth=2, color=\"{INTERNET}\", fillcolor=\"{INTERNET_FILL}\"")
    } else if node.internet_edge == Some(InternetPart::NatGateway) {
        format!(
            ", style=\"rounded,filled\", color=\"{NAT_GATEWAY}\", fillcolor=\"{NAT_GATEWAY_FILL}\""
        )
    } else if node.circuit {
        ", shape=doubleoctagon, color=\"#1f5fa8\"".to_string()
    } else if node.frontend {
        format!(", shape=oval, style=filled, fillcolor=\"{FRONTEND_FILL}\"")
    } else if node.appliance {
        ", shape=hexagon, style=filled, fillcolor=\"#fde7c8\"".to_string()
    } else if node.gateway {
        ", shape=trapezium".to_string()
    } else if node.route_server {
        format!(", style=\"rounded,filled\", color=\"{ROUTE_SERVER}\", fillcolor=\"{ROUTE_SERVER_FILL}\"")
    } else {
        String::new()
    };
    let label = dot_label(&node.label);
    let _ = writeln!(out, "{indent}{} [label={label}{shape}];", node.id);
}
