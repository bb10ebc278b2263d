//! `vnetd graph`: the topology as a picture an Azure network engineer can
//! read at a glance, as Mermaid (rendered by GitHub in Markdown) or as
//! Graphviz DOT.
//!
//! The picture shows each VNet as a box (name, address space, location)
//! holding its subnets (prefixes, NSG and route table associations), which
//! hold their NICs (addresses, NIC-level NSG and ASGs, NVAs marked). Edges
//! show peerings between VNets (Connected: one solid undirected edge;
//! Initiated: a dashed arrow from the VNet that holds the only link) and the
//! user routes that send a subnet's traffic to a virtual appliance, resolved
//! to the appliance's NIC the way the packet path resolves them. A virtual
//! network gateway is drawn in its GatewaySubnet (type, ASN, instance
//! addresses), each on-premises site as a box holding its router and hosts,
//! and each gateway connection as a bold edge from the gateway to the site
//! (IPsec) or to the peer gateway (Vnet2Vnet), labelled with its name and
//! whether it runs BGP. Each internal load balancer's frontend is drawn in
//! its subnet, with an edge to every backend NIC of each of its rules,
//! labelled with the rule's name, protocol and ports; a user route whose
//! appliance address is a frontend leads to that frontend. An Azure Route
//! Server is drawn in its RouteServerSubnet (instance addresses, ASN), with
//! a bold edge for each BGP session to an appliance NIC (the peer's AS and
//! what the appliance announces) and, with branch-to-branch traffic on, to
//! each gateway of its VNet. The Internet, when the lab has one, is a node
//! outside every VNet with its servers; each NAT gateway is a node (SKU,
//! idle timeout, public addresses) the subnets it serves lead to, with its
//! way to the Internet; a NIC's or a firewall's public IP and a subnet's
//! default outbound access are lines of their labels, and a sender that
//! leaves by its own address (Azure's precedence, as forwarding follows
//! it) has an edge to the Internet labelled with the method and the
//! address; each firewall DNAT rule is an edge from the Internet to the
//! firewall. The probers' ports vnetd adds are not drawn.
//!
//! The facts are gathered once into a format-neutral [`Picture`]; the
//! renderers (Mermaid, DOT, and the Cytoscape.js elements the live page
//! draws) only decide how to spell them. Identifiers are built from the
//! object's kind, its position and its sanitised name, so they are unique and
//! safe in both languages; output follows file order.
//!
//! It owns the pictures; it may use [`crate::snapshot`], [`crate::policy`],
//! [`crate::topology`] and [`crate::net`].

pub mod cytoscape;
mod dot;
mod internet;
mod mermaid;
mod model;
mod names;
mod parts;
mod route_servers;
mod style;
mod virtual_wan;

pub use dot::dot_escape;
pub use mermaid::mermaid_escape;
pub use model::{
    sanitise, ApplianceHop, ApplianceRouteEdge, ConnectionEdge, InternetEdge, InternetLink,
    InternetPart, LoadBalancingEdge, NicNode, PeeringEdge, PeeringState, Picture, SiteBox,
    SubnetBox, VnetBox, INTERNET_ID,
};

use crate::snapshot::Snapshot;
use dot::dot;
use mermaid::mermaid;

/// The picture languages `vnetd graph` speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// Mermaid flowchart (GitHub renders it inside a ```mermaid block).
    Mermaid,
    /// Graphviz DOT (`dot -Tsvg`).
    Dot,
}

/// Renders the snapshot's topology in `format`; the text ends with a newline.
pub fn render(snapshot: &Snapshot, format: GraphFormat) -> String {
    let picture = Picture::of(snapshot);
    match format {
        GraphFormat::Mermaid => mermaid(&picture),
        GraphFormat::Dot => dot(&picture),
    }
}

#[cfg(test)]
mod tests;
