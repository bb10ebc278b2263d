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
//! appliance address is a frontend leads to that frontend. The probers'
//! ports vnetd adds are not drawn.
//!
//! The facts are gathered once into a format-neutral [`Picture`]; the two
//! renderers only decide how to spell them. Identifiers are built from the
//! object's kind, its position and its sanitised name, so they are unique and
//! safe in both languages; output follows file order.
//!
//! It owns the pictures; it may use [`crate::snapshot`], [`crate::policy`],
//! [`crate::topology`] and [`crate::net`].

use crate::policy::routes::RouteSource;
use crate::snapshot::{RouteTarget, Snapshot};
use crate::topology::{
    ConnectionPeer, GatewayIdx, LoadBalancerIdx, NextHopType, NicIdx, SiteIdx, SubnetRef, Topology,
    VnetIdx,
};
use std::fmt::Write;
use std::net::IpAddr;

/// The colour of load-balancing edges and of frontends' outline.
const LOAD_BALANCING: &str = "#2f855a";
/// The fill of a load balancer frontend's node.
const FRONTEND_FILL: &str = "#d9f2e3";

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

/// Everything the picture shows, independent of the output language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    pub vnets: Vec<VnetBox>,
    pub peerings: Vec<PeeringEdge>,
    pub appliance_routes: Vec<ApplianceRouteEdge>,
    pub sites: Vec<SiteBox>,
    pub connections: Vec<ConnectionEdge>,
    pub load_balancing: Vec<LoadBalancingEdge>,
}

/// One rule of a load balancer reaching one backend: from the frontend's
/// node to the backend NIC's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancingEdge {
    pub from_id: String,
    pub to_id: String,
    /// The rule's name, then its protocol and ports.
    pub label: Vec<String>,
}

/// An on-premises site: its router and hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteBox {
    pub id: String,
    pub label: Vec<String>,
    pub nodes: Vec<NicNode>,
}

/// A gateway connection, from the gateway's node to the site's router or
/// to the peer gateway's node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionEdge {
    pub from_id: String,
    pub to_id: String,
    pub label: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VnetBox {
    pub id: String,
    pub label: Vec<String>,
    pub subnets: Vec<SubnetBox>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetBox {
    pub id: String,
    pub label: Vec<String>,
    pub nics: Vec<NicNode>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicNode {
    pub id: String,
    pub label: Vec<String>,
    /// IP forwarding is on: the NIC stands for a network virtual appliance.
    pub appliance: bool,
    /// A virtual network gateway (drawn as a trapezium).
    pub gateway: bool,
    /// A load balancer's frontend (drawn as a stadium).
    pub frontend: bool,
}

/// The Azure peering state seen from the pair of VNets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeeringState {
    /// Both links exist: traffic can flow.
    Connected,
    /// Only the link held in `from` exists: no traffic flows yet.
    Initiated,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeeringEdge {
    /// The ids of the two VNets' boxes, in the order of `from` and `to`.
    pub from_id: String,
    pub to_id: String,
    /// For Initiated, the VNet that holds the link; for Connected, the VNet
    /// whose link comes first in the file.
    pub from: VnetIdx,
    pub to: VnetIdx,
    pub state: PeeringState,
    /// The two VNets are in different locations.
    pub global: bool,
    pub label: Vec<String>,
}

/// Where a subnet's VirtualAppliance routes lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplianceHop {
    Nic(NicIdx),
    /// A load balancer's frontend (`frontend` indexes its frontends)
    /// directly reachable from the subnet.
    Frontend {
        load_balancer: LoadBalancerIdx,
        frontend: usize,
    },
    /// No NIC directly reachable from the subnet holds this address: the
    /// route drops what it matches.
    Unreachable(IpAddr),
}

/// The user routes of one subnet's route table that lead to one appliance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplianceRouteEdge {
    pub subnet: SubnetRef,
    pub hop: ApplianceHop,
    /// The ids of the subnet's box and of the hop's node.
    pub from_id: String,
    pub to_id: String,
    pub route_table: String,
    /// The routes' address prefixes, in the route table's order.
    pub prefixes: Vec<String>,
}

impl ApplianceRouteEdge {
    fn label(&self) -> Vec<String> {
        vec![
            self.prefixes.join(", "),
            format!("route table {}", self.route_table),
        ]
    }
}

impl Picture {
    pub fn of(snapshot: &Snapshot) -> Picture {
        let topo = &snapshot.topology;
        Picture {
            vnets: vnet_boxes(topo),
            peerings: peering_edges(topo),
            appliance_routes: appliance_route_edges(snapshot),
            sites: site_boxes(topo),
            connections: connection_edges(topo),
            load_balancing: load_balancing_edges(topo),
        }
    }

    /// Appliance addresses that no reachable NIC holds, in edge order,
    /// without repeats: each becomes one warning node.
    fn unreachable_hops(&self) -> Vec<IpAddr> {
        let mut hops = Vec::new();
        for edge in &self.appliance_routes {
            if let ApplianceHop::Unreachable(ip) = edge.hop {
                if !hops.contains(&ip) {
                    hops.push(ip);
                }
            }
        }
        hops
    }
}

/// Replaces every character that is not an ASCII letter or digit with `_`,
/// so that the result is a valid identifier fragment in Mermaid and DOT.
pub fn sanitise(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn vnet_id(topo: &Topology, vnet: VnetIdx) -> String {
    let name = topo.vnets.get(vnet).map_or("", |v| v.name.as_str());
    format!("vnet_{vnet}_{}", sanitise(name))
}

fn subnet_id(topo: &Topology, r: SubnetRef) -> String {
    let name = topo
        .vnets
        .get(r.vnet)
        .and_then(|v| v.subnets.get(r.subnet))
        .map_or("", |s| s.name.as_str());
    format!("subnet_{}_{}_{}", r.vnet, r.subnet, sanitise(name))
}

fn unreachable_id(ip: IpAddr) -> String {
    format!("unreachable_{}", sanitise(&ip.to_string()))
}

fn frontend_id(topo: &Topology, lb: LoadBalancerIdx, frontend: usize) -> String {
    let (lb_name, name) = topo.load_balancers.get(lb).map_or(("", ""), |l| {
        let name = l.frontends.get(frontend).map_or("", |f| f.name.as_str());
        (l.name.as_str(), name)
    });
    format!(
        "frontend_{lb}_{frontend}_{}_{}",
        sanitise(lb_name),
        sanitise(name)
    )
}

fn nic_id(topo: &Topology, nic: NicIdx) -> String {
    let name = topo.nics.get(nic).map_or("", |n| n.name.as_str());
    format!("nic_{nic}_{}", sanitise(name))
}

fn join<T: ToString>(items: &[T]) -> String {
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn vnet_boxes(topo: &Topology) -> Vec<VnetBox> {
    topo.vnets
        .iter_enumerated()
        .map(|(v, vnet)| VnetBox {
            id: vnet_id(topo, v),
            label: vec![
                format!("VNet {}", vnet.name),
                join(&vnet.address_space),
                vnet.location.clone(),
            ],
            subnets: vnet
                .subnets
                .iter_enumerated()
                .map(|(s, subnet)| {
                    let r = SubnetRef { vnet: v, subnet: s };
                    let mut label = vec![
                        format!("subnet {}", subnet.name),
                        join(&subnet.address_prefixes),
                    ];
                    if let Some(nsg) = subnet.network_security_group.and_then(|i| topo.nsgs.get(i))
                    {
                        label.push(format!("NSG {}", nsg.name));
                    }
                    if let Some(rt) = subnet.route_table.and_then(|i| topo.route_tables.get(i)) {
                        label.push(format!("route table {}", rt.name));
                    }
                    let mut nics = nic_nodes(topo, r);
                    nics.extend(gateway_nodes(topo, r));
                    nics.extend(frontend_nodes(topo, r));
                    SubnetBox {
                        id: subnet_id(topo, r),
                        label,
                        nics,
                    }
                })
                .collect(),
        })
        .collect()
}

fn nic_nodes(topo: &Topology, subnet: SubnetRef) -> Vec<NicNode> {
    topo.nics
        .iter_enumerated()
        .filter(|(_, nic)| nic.subnet == subnet)
        .map(|(i, nic)| {
            let addresses: Vec<IpAddr> = nic.ip_configurations.iter().map(|c| c.address).collect();
            let mut label = vec![format!("NIC {}", nic.name), join(&addresses)];
            if nic.ip_forwarding {
                label.push("NVA: IP forwarding on".to_string());
            }
            if let Some(nsg) = nic.network_security_group.and_then(|n| topo.nsgs.get(n)) {
                label.push(format!("NSG {}", nsg.name));
            }
            let asgs: Vec<&str> = nic
                .application_security_groups
                .iter()
                .filter_map(|a| topo.asgs.get(*a))
                .map(|a| a.name.as_str())
                .collect();
            if !asgs.is_empty() {
                label.push(format!("ASG {}", asgs.join(", ")));
            }
            NicNode {
                id: nic_id(topo, i),
                label,
                appliance: nic.ip_forwarding,
                gateway: false,
                frontend: false,
            }
        })
        .collect()
}

fn gateway_id(topo: &Topology, g: GatewayIdx) -> String {
    format!("gateway_{g}_{}", sanitise(&topo.gateways[g].name))
}

fn site_id(topo: &Topology, s: SiteIdx) -> String {
    format!("site_{s}_{}", sanitise(&topo.sites[s].name))
}

fn router_id(topo: &Topology, s: SiteIdx) -> String {
    format!("router_{s}_{}", sanitise(&topo.sites[s].name))
}

/// The gateways that live in `subnet` (a GatewaySubnet).
fn gateway_nodes(topo: &Topology, subnet: SubnetRef) -> Vec<NicNode> {
    topo.gateways
        .iter_enumerated()
        .filter(|(_, g)| g.subnet == subnet)
        .map(|(i, g)| {
            let kind = <&str>::from(g.gateway_type);
            let mode = if g.active_active {
                "active-active"
            } else {
                "active-standby"
            };
            NicNode {
                id: gateway_id(topo, i),
                label: vec![
                    format!("{kind} gateway {}", g.name),
                    format!("AS {}, {mode}", g.asn),
                    join(&g.instances),
                ],
                appliance: false,
                gateway: true,
                frontend: false,
            }
        })
        .collect()
}

/// The load balancer frontends that sit in `subnet`.
fn frontend_nodes(topo: &Topology, subnet: SubnetRef) -> Vec<NicNode> {
    let mut nodes = Vec::new();
    for (l, lb) in topo.load_balancers.iter_enumerated() {
        for (f, frontend) in lb.frontends.iter().enumerate() {
            if frontend.subnet != subnet {
                continue;
            }
            nodes.push(NicNode {
                id: frontend_id(topo, l, f),
                label: vec![
                    format!("load balancer {} / {}", lb.name, frontend.name),
                    frontend.address.to_string(),
                ],
                appliance: false,
                gateway: false,
                frontend: true,
            });
        }
    }
    nodes
}

/// For each rule of each load balancer, an edge from its frontend to each
/// NIC of its pool.
fn load_balancing_edges(topo: &Topology) -> Vec<LoadBalancingEdge> {
    let mut edges = Vec::new();
    for (l, lb) in topo.load_balancers.iter_enumerated() {
        for rule in &lb.rules {
            let protocol = <&str>::from(rule.protocol);
            let mut ports = format!("{protocol} {}→{}", rule.frontend_port, rule.backend_port);
            if rule.ha_ports() {
                ports.push_str(" (HA ports)");
            }
            if rule.floating_ip {
                ports.push_str(" floating IP");
            }
            let Some(pool) = lb.pools.get(rule.pool) else {
                continue;
            };
            for &nic in &pool.nics {
                edges.push(LoadBalancingEdge {
                    from_id: frontend_id(topo, l, rule.frontend),
                    to_id: nic_id(topo, nic),
                    label: vec![rule.name.clone(), ports.clone()],
                });
            }
        }
    }
    edges
}

fn site_boxes(topo: &Topology) -> Vec<SiteBox> {
    topo.sites
        .iter_enumerated()
        .map(|(s, site)| {
            let speaker = <&str>::from(site.bgp_speaker);
            let mut router = vec![format!("router {}", site.router_netns)];
            match site.asn {
                Some(asn) => router.push(format!("AS {asn}, BGP: {speaker}")),
                None => router.push(format!("BGP: {speaker}")),
            }
            let mut nodes = vec![NicNode {
                id: router_id(topo, s),
                label: router,
                appliance: true,
                gateway: false,
                frontend: false,
            }];
            nodes.extend(site.hosts.iter().enumerate().map(|(h, host)| NicNode {
                id: format!("host_{s}_{h}_{}", sanitise(&host.name)),
                label: vec![format!("host {}", host.name), host.address.to_string()],
                appliance: false,
                gateway: false,
                frontend: false,
            }));
            SiteBox {
                id: site_id(topo, s),
                label: vec![
                    format!("on-premises site {}", site.name),
                    join(&site.address_space),
                ],
                nodes,
            }
        })
        .collect()
}

fn connection_edges(topo: &Topology) -> Vec<ConnectionEdge> {
    let mut edges: Vec<ConnectionEdge> = Vec::new();
    for c in &topo.connections {
        let bgp = if c.bgp_enabled { "BGP" } else { "static" };
        let (to_id, kind) = match c.peer {
            ConnectionPeer::Local(l) => (
                router_id(topo, topo.local_gateways[l].site),
                format!("IPsec via {}", topo.local_gateways[l].name),
            ),
            ConnectionPeer::Gateway(g) => (gateway_id(topo, g), "Vnet2Vnet".to_string()),
            ConnectionPeer::Circuit(e) => (
                router_id(topo, topo.circuits[e].site),
                format!("ExpressRoute via {}", topo.circuits[e].name),
            ),
        };
        let from_id = gateway_id(topo, c.gateway);
        // Vnet2Vnet is held on both sides: one edge for the pair.
        if edges
            .iter()
            .any(|e| e.from_id == to_id && e.to_id == from_id)
        {
            continue;
        }
        edges.push(ConnectionEdge {
            from_id,
            to_id,
            label: vec![c.name.clone(), format!("{kind}, {bgp}")],
        });
    }
    // Global Reach joins two circuits' edges, without any gateway.
    for link in &topo.global_reach {
        let edge = |c: crate::topology::CircuitIdx| router_id(topo, topo.circuits[c].site);
        edges.push(ConnectionEdge {
            from_id: edge(link.circuit),
            to_id: edge(link.peer_circuit),
            label: vec![
                link.name.clone(),
                format!("Global Reach, {}", link.address_prefix),
            ],
        });
    }
    edges
}

fn peering_edges(topo: &Topology) -> Vec<PeeringEdge> {
    let mut edges = Vec::new();
    for (i, link) in topo.peerings.iter().enumerate() {
        let reverse = topo
            .peerings
            .iter()
            .position(|p| p.vnet == link.remote && p.remote == link.vnet);
        // A Connected pair is drawn once, at the link that comes first.
        if reverse.is_some_and(|r| r < i) {
            continue;
        }
        let global = topo.vnets.get(link.vnet).map(|v| &v.location)
            != topo.vnets.get(link.remote).map(|v| &v.location);
        let kind = if global { "global peering" } else { "peering" };
        let vnet_name = |v: VnetIdx| topo.vnets.get(v).map_or("", |v| v.name.as_str());
        let (state, label) = match reverse.and_then(|r| topo.peerings.get(r)) {
            Some(back) => {
                let mut label = vec![format!("{kind} Connected")];
                if !(link.allow_virtual_network_access && back.allow_virtual_network_access) {
                    label.push("VNet access off: no traffic".to_string());
                }
                // The link held in a VNet decides whether that VNet accepts
                // traffic that started elsewhere (an NVA's forwarded packets).
                for l in [link, back] {
                    if l.allow_forwarded_traffic {
                        label.push(format!("forwarded traffic into {}", vnet_name(l.vnet)));
                    }
                }
                (PeeringState::Connected, label)
            }
            None => (
                PeeringState::Initiated,
                vec![
                    format!("{kind} Initiated"),
                    format!("only link {}", link.name),
                ],
            ),
        };
        edges.push(PeeringEdge {
            from_id: vnet_id(topo, link.vnet),
            to_id: vnet_id(topo, link.remote),
            from: link.vnet,
            to: link.remote,
            state,
            global,
            label,
        });
    }
    edges
}

fn appliance_route_edges(snapshot: &Snapshot) -> Vec<ApplianceRouteEdge> {
    let topo = &snapshot.topology;
    let mut edges: Vec<ApplianceRouteEdge> = Vec::new();
    for subnet in topo.subnet_refs() {
        let Some(table) = topo
            .vnets
            .get(subnet.vnet)
            .and_then(|v| v.subnets.get(subnet.subnet))
            .and_then(|s| s.route_table)
            .and_then(|t| topo.route_tables.get(t))
        else {
            continue;
        };
        let Some(tables) = snapshot.subnet_tables(subnet) else {
            continue;
        };
        let first_edge = edges.len();
        // The route table's own order, so the picture follows the file.
        for route in &table.routes {
            if route.next_hop_type != NextHopType::VirtualAppliance {
                continue;
            }
            let row = tables.routes.iter().position(|r| {
                r.source == RouteSource::User && r.address_prefix == route.address_prefix
            });
            let hop = match row.and_then(|r| tables.targets.get(r)) {
                Some(RouteTarget::Appliance { nic, .. }) => ApplianceHop::Nic(*nic),
                Some(RouteTarget::Balanced { frontend, .. }) => {
                    let fe = snapshot.frontend(*frontend);
                    ApplianceHop::Frontend {
                        load_balancer: fe.load_balancer,
                        frontend: fe.frontend,
                    }
                }
                _ => match route.next_hop_ip {
                    Some(ip) => ApplianceHop::Unreachable(ip),
                    None => continue,
                },
            };
            let prefix = route.address_prefix.to_string();
            match edges[first_edge..].iter_mut().find(|e| e.hop == hop) {
                Some(edge) => edge.prefixes.push(prefix),
                None => edges.push(ApplianceRouteEdge {
                    subnet,
                    hop,
                    from_id: subnet_id(topo, subnet),
                    to_id: match hop {
                        ApplianceHop::Nic(nic) => nic_id(topo, nic),
                        ApplianceHop::Frontend {
                            load_balancer,
                            frontend,
                        } => frontend_id(topo, load_balancer, frontend),
                        ApplianceHop::Unreachable(ip) => unreachable_id(ip),
                    },
                    route_table: table.name.clone(),
                    prefixes: vec![prefix],
                }),
            }
        }
    }
    edges
}

/// Escapes label text for a quoted Mermaid label (`["..."]`, `|"..."|`):
/// quotes and the characters Mermaid reads as markup become entity codes.
pub fn mermaid_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '`' => out.push_str("#96;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn mermaid_label(lines: &[String]) -> String {
    let escaped: Vec<String> = lines.iter().map(|l| mermaid_escape(l)).collect();
    format!("\"{}\"", escaped.join("<br/>"))
}

/// One node: NVAs (and site routers) as hexagons, gateways as trapezia,
/// load balancer frontends as stadiums, ordinary NICs as rectangles.
fn mermaid_node(out: &mut String, indent: &str, node: &NicNode, label: &str) {
    if node.frontend {
        let _ = writeln!(out, "{indent}{}([{label}])", node.id);
    } else if node.appliance {
        let _ = writeln!(out, "{indent}{}{{{{{label}}}}}", node.id);
    } else if node.gateway {
        let _ = writeln!(out, "{indent}{}[/{label}\\]", node.id);
    } else {
        let _ = writeln!(out, "{indent}{}[{label}]", node.id);
    }
}

fn mermaid(picture: &Picture) -> String {
    let mut out = String::from("flowchart LR\n");
    for vnet in &picture.vnets {
        let _ = writeln!(
            out,
            "  subgraph {}[{}]",
            vnet.id,
            mermaid_label(&vnet.label)
        );
        for subnet in &vnet.subnets {
            let _ = writeln!(
                out,
                "    subgraph {}[{}]",
                subnet.id,
                mermaid_label(&subnet.label)
            );
            for nic in &subnet.nics {
                let label = mermaid_label(&nic.label);
                mermaid_node(&mut out, "      ", nic, &label);
            }
            out.push_str("    end\n");
        }
        out.push_str("  end\n");
    }
    for site in &picture.sites {
        let _ = writeln!(
            out,
            "  subgraph {}[{}]",
            site.id,
            mermaid_label(&site.label)
        );
        for node in &site.nodes {
            mermaid_node(&mut out, "    ", node, &mermaid_label(&node.label));
        }
        out.push_str("  end\n");
    }
    for ip in picture.unreachable_hops() {
        let label = mermaid_label(&[ip.to_string(), "no reachable NIC: dropped".to_string()]);
        let _ = writeln!(out, "  {}[{label}]", unreachable_id(ip));
    }
    for edge in &picture.peerings {
        let (from, to) = (&edge.from_id, &edge.to_id);
        let arrow = match edge.state {
            PeeringState::Connected => "---",
            PeeringState::Initiated => "-.->",
        };
        let _ = writeln!(out, "  {from} {arrow}|{}| {to}", mermaid_label(&edge.label));
    }
    for edge in &picture.appliance_routes {
        let _ = writeln!(
            out,
            "  {} -->|{}| {}",
            edge.from_id,
            mermaid_label(&edge.label()),
            edge.to_id
        );
    }
    for edge in &picture.connections {
        let _ = writeln!(
            out,
            "  {} ===|{}| {}",
            edge.from_id,
            mermaid_label(&edge.label),
            edge.to_id
        );
    }
    for edge in &picture.load_balancing {
        let _ = writeln!(
            out,
            "  {} ==>|{}| {}",
            edge.from_id,
            mermaid_label(&edge.label),
            edge.to_id
        );
    }
    let nodes = || {
        picture
            .vnets
            .iter()
            .flat_map(|v| v.subnets.iter())
            .flat_map(|s| s.nics.iter())
            .chain(picture.sites.iter().flat_map(|s| s.nodes.iter()))
    };
    let appliances: Vec<&str> = nodes()
        .filter(|n| n.appliance)
        .map(|n| n.id.as_str())
        .collect();
    if !appliances.is_empty() {
        out.push_str("  classDef nva fill:#fde7c8,stroke:#c46b00\n");
        let _ = writeln!(out, "  class {} nva", appliances.join(","));
    }
    let frontends: Vec<&str> = nodes()
        .filter(|n| n.frontend)
        .map(|n| n.id.as_str())
        .collect();
    if !frontends.is_empty() {
        let _ = writeln!(
            out,
            "  classDef frontend fill:{FRONTEND_FILL},stroke:{LOAD_BALANCING}"
        );
        let _ = writeln!(out, "  class {} frontend", frontends.join(","));
    }
    let unreachable: Vec<String> = picture
        .unreachable_hops()
        .into_iter()
        .map(unreachable_id)
        .collect();
    if !unreachable.is_empty() {
        out.push_str("  classDef unreachable stroke:#d00000,stroke-width:2px\n");
        let _ = writeln!(out, "  class {} unreachable", unreachable.join(","));
    }
    out
}

/// Escapes label text for a double-quoted DOT string: backslashes (which
/// DOT reads as label escapes such as `\n`) and quotes.
pub fn dot_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn dot_label(lines: &[String]) -> String {
    let escaped: Vec<String> = lines.iter().map(|l| dot_escape(l)).collect();
    format!("\"{}\"", escaped.join("\\n"))
}

fn dot(picture: &Picture) -> String {
    let mut out = String::from("digraph vnetd {\n");
    // compound lets edges end at a cluster's border (lhead/ltail): a VNet or
    // subnet is drawn as a cluster and reached through an invisible anchor
    // node inside it, which also keeps an empty cluster visible.
    out.push_str("  graph [compound=true, rankdir=LR, fontname=\"Helvetica\", fontsize=11];\n");
    out.push_str("  node [shape=box, style=\"rounded\", fontname=\"Helvetica\", fontsize=10];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=9];\n");
    for vnet in &picture.vnets {
        let _ = writeln!(out, "  subgraph cluster_{} {{", vnet.id);
        let _ = writeln!(out, "    label={};", dot_label(&vnet.label));
        out.push_str("    style=\"rounded,bold\";\n");
        let _ = writeln!(out, "    {} [shape=point, style=invis];", vnet.id);
        for subnet in &vnet.subnets {
            let _ = writeln!(out, "    subgraph cluster_{} {{", subnet.id);
            let _ = writeln!(out, "      label={};", dot_label(&subnet.label));
            out.push_str("      style=\"rounded,dashed\";\n");
            let _ = writeln!(out, "      {} [shape=point, style=invis];", subnet.id);
            for nic in &subnet.nics {
                dot_node(&mut out, "      ", nic);
            }
            out.push_str("    }\n");
        }
        out.push_str("  }\n");
    }
    for site in &picture.sites {
        let _ = writeln!(out, "  subgraph cluster_{} {{", site.id);
        let _ = writeln!(out, "    label={};", dot_label(&site.label));
        out.push_str("    style=\"rounded,bold\";\n");
        for node in &site.nodes {
            dot_node(&mut out, "    ", node);
        }
        out.push_str("  }\n");
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
        let style = match edge.state {
            PeeringState::Connected => "dir=none, style=solid, penwidth=2",
            PeeringState::Initiated => "style=dashed",
        };
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
    for edge in &picture.connections {
        let _ = writeln!(
            out,
            "  {} -> {} [label={}, dir=both, style=bold, color=\"#1f5fa8\"];",
            edge.from_id,
            edge.to_id,
            dot_label(&edge.label)
        );
    }
    for edge in &picture.load_balancing {
        let _ = writeln!(
            out,
            "  {} -> {} [label={}, color=\"{LOAD_BALANCING}\"];",
            edge.from_id,
            edge.to_id,
            dot_label(&edge.label)
        );
    }
    out.push_str("}\n");
    out
}

/// One node: NVAs (and site routers) as filled hexagons, gateways as
/// trapezia, load balancer frontends as filled ovals, ordinary NICs as
/// boxes.
fn dot_node(out: &mut String, indent: &str, node: &NicNode) {
    let label = dot_label(&node.label);
    if node.frontend {
        let _ = writeln!(
            out,
            "{indent}{} [label={label}, shape=oval, style=filled, fillcolor=\"{FRONTEND_FILL}\"];",
            node.id
        );
    } else if node.appliance {
        let _ = writeln!(
            out,
            "{indent}{} [label={label}, shape=hexagon, style=filled, fillcolor=\"#fde7c8\"];",
            node.id
        );
    } else if node.gateway {
        let _ = writeln!(out, "{indent}{} [label={label}, shape=trapezium];", node.id);
    } else {
        let _ = writeln!(out, "{indent}{} [label={label}];", node.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::parse_str;

    const VNETS: &str = "
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    location: westeurope
    subnets:
      - { name: nva, address_prefixes: [10.0.1.0/24] }
  - name: spoke-a
    address_space: [10.1.0.0/16]
    location: westeurope
  - name: spoke.b
    address_space: [10.2.0.0/16]
    location: eastus
";

    fn picture(peerings: &str) -> Picture {
        let text = format!("{VNETS}\npeerings:\n{peerings}");
        let loaded = match parse_str("test.yaml", &text) {
            Ok(loaded) => loaded,
            Err(e) => panic!("test topology refused: {e:?}"),
        };
        Picture::of(&Snapshot::compile(loaded.topology, 0))
    }

    #[test]
    fn mermaid_escape_turns_quotes_and_markup_into_entities() {
        assert_eq!(mermaid_escape(r#"say "hi""#), "say #quot;hi#quot;");
        assert_eq!(mermaid_escape("a<b>&#`c"), "a#lt;b#gt;#amp;#35;#96;c");
        assert_eq!(mermaid_escape("two\nlines"), "two lines");
        assert_eq!(
            mermaid_escape("10.0.0.0/16, hub-rt_1"),
            "10.0.0.0/16, hub-rt_1"
        );
    }

    #[test]
    fn dot_escape_protects_quotes_and_backslashes() {
        assert_eq!(dot_escape(r#"say "hi""#), r#"say \"hi\""#);
        assert_eq!(dot_escape(r"a\nb"), r"a\\nb");
        assert_eq!(dot_escape("two\nlines"), "two lines");
    }

    #[test]
    fn labels_join_lines_in_each_language() {
        let lines = vec!["VNet \"x\"".to_string(), "10.0.0.0/16".to_string()];
        assert_eq!(
            mermaid_label(&lines),
            "\"VNet #quot;x#quot;<br/>10.0.0.0/16\""
        );
        assert_eq!(dot_label(&lines), r#""VNet \"x\"\n10.0.0.0/16""#);
    }

    #[test]
    fn sanitise_keeps_only_identifier_characters() {
        assert_eq!(sanitise("spoke-1.prod_x"), "spoke_1_prod_x");
        assert_eq!(sanitise("fd00:10::4"), "fd00_10__4");
    }

    #[test]
    fn both_links_make_one_connected_edge() {
        let p = picture(
            "  - { name: hub-to-a, virtual_network: hub, remote_virtual_network: spoke-a }
  - { name: a-to-hub, virtual_network: spoke-a, remote_virtual_network: hub, allow_forwarded_traffic: true }
",
        );
        assert_eq!(p.peerings.len(), 1);
        let edge = &p.peerings[0];
        assert_eq!(edge.state, PeeringState::Connected);
        assert!(!edge.global);
        assert_eq!((edge.from, edge.to), (VnetIdx::new(0), VnetIdx::new(1)));
        assert_eq!(edge.from_id, "vnet_0_hub");
        assert_eq!(edge.to_id, "vnet_1_spoke_a");
        assert_eq!(
            edge.label,
            vec!["peering Connected", "forwarded traffic into spoke-a"]
        );
        let mermaid = mermaid(&p);
        assert!(mermaid.contains("  vnet_0_hub ---|\"peering Connected<br/>forwarded traffic into spoke-a\"| vnet_1_spoke_a\n"));
        let dot = dot(&p);
        assert!(dot.contains("vnet_0_hub -> vnet_1_spoke_a [label=\"peering Connected\\nforwarded traffic into spoke-a\", dir=none"));
    }

    #[test]
    fn one_link_makes_a_dashed_arrow_from_its_holder() {
        let p = picture(
            "  - { name: a-to-hub, virtual_network: spoke-a, remote_virtual_network: hub }\n",
        );
        assert_eq!(p.peerings.len(), 1);
        let edge = &p.peerings[0];
        assert_eq!(edge.state, PeeringState::Initiated);
        assert_eq!((edge.from, edge.to), (VnetIdx::new(1), VnetIdx::new(0)));
        assert_eq!(edge.label, vec!["peering Initiated", "only link a-to-hub"]);
        assert!(mermaid(&p).contains("  vnet_1_spoke_a -.->|"));
        let dot = dot(&p);
        assert!(dot.contains("vnet_1_spoke_a -> vnet_0_hub ["));
        assert!(dot.contains("style=dashed"));
        assert!(!dot.contains("dir=none"));
    }

    #[test]
    fn peering_across_locations_is_global() {
        let p = picture(
            "  - { name: b-to-hub, virtual_network: spoke.b, remote_virtual_network: hub }
  - { name: hub-to-b, virtual_network: hub, remote_virtual_network: spoke.b }
  - { name: a-to-b, virtual_network: spoke-a, remote_virtual_network: spoke.b }
",
        );
        assert_eq!(p.peerings.len(), 2);
        let connected = &p.peerings[0];
        assert_eq!(connected.state, PeeringState::Connected);
        assert!(connected.global);
        assert_eq!(connected.from_id, "vnet_2_spoke_b");
        assert_eq!(connected.label, vec!["global peering Connected"]);
        let initiated = &p.peerings[1];
        assert_eq!(initiated.state, PeeringState::Initiated);
        assert!(initiated.global);
        assert_eq!(initiated.label[0], "global peering Initiated");
    }

    #[test]
    fn access_off_on_either_link_is_shown() {
        let p = picture(
            "  - { name: hub-to-a, virtual_network: hub, remote_virtual_network: spoke-a }
  - { name: a-to-hub, virtual_network: spoke-a, remote_virtual_network: hub, allow_virtual_network_access: false }
",
        );
        assert_eq!(
            p.peerings[0].label,
            vec!["peering Connected", "VNet access off: no traffic"]
        );
    }

    #[test]
    fn appliance_routes_group_by_appliance_and_flag_unreachable_hops() {
        let text = "
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    location: westeurope
    subnets:
      - { name: nva, address_prefixes: [10.0.1.0/24] }
      - { name: app, address_prefixes: [10.0.2.0/24], route_table: app-rt }
network_interfaces:
  - { name: fw, subnet: hub/nva, private_ip_address: 10.0.1.4, ip_forwarding_enabled: true }
route_tables:
  - name: app-rt
    routes:
      - { name: a, address_prefix: 10.8.0.0/16, next_hop_type: VirtualAppliance, next_hop_in_ip_address: 10.0.1.4 }
      - { name: b, address_prefix: 10.9.0.0/16, next_hop_type: VirtualAppliance, next_hop_in_ip_address: 10.0.1.9 }
      - { name: c, address_prefix: 10.7.0.0/16, next_hop_type: VirtualAppliance, next_hop_in_ip_address: 10.0.1.4 }
      - { name: d, address_prefix: 10.6.0.0/16, next_hop_type: None }
";
        let loaded = match parse_str("test.yaml", text) {
            Ok(loaded) => loaded,
            Err(e) => panic!("test topology refused: {e:?}"),
        };
        let p = Picture::of(&Snapshot::compile(loaded.topology, 0));
        assert_eq!(p.appliance_routes.len(), 2);
        let to_fw = &p.appliance_routes[0];
        assert_eq!(to_fw.hop, ApplianceHop::Nic(NicIdx::new(0)));
        assert_eq!(to_fw.from_id, "subnet_0_1_app");
        assert_eq!(to_fw.to_id, "nic_0_fw");
        assert_eq!(to_fw.prefixes, vec!["10.8.0.0/16", "10.7.0.0/16"]);
        assert_eq!(
            to_fw.label(),
            vec!["10.8.0.0/16, 10.7.0.0/16", "route table app-rt"]
        );
        let nowhere = &p.appliance_routes[1];
        let ip: IpAddr = match "10.0.1.9".parse() {
            Ok(ip) => ip,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(nowhere.hop, ApplianceHop::Unreachable(ip));
        assert_eq!(nowhere.to_id, "unreachable_10_0_1_9");
        let mermaid = mermaid(&p);
        assert!(mermaid
            .contains("  unreachable_10_0_1_9[\"10.0.1.9<br/>no reachable NIC: dropped\"]\n"));
        assert!(
            mermaid.contains("  nic_0_fw{{\"NIC fw<br/>10.0.1.4<br/>NVA: IP forwarding on\"}}\n")
        );
        assert!(mermaid.contains(
            "  subnet_0_1_app -->|\"10.8.0.0/16, 10.7.0.0/16<br/>route table app-rt\"| nic_0_fw\n"
        ));
        assert!(dot(&p).contains(
            "unreachable_10_0_1_9 [label=\"10.0.1.9\\nno reachable NIC: dropped\", shape=octagon"
        ));
    }

    #[test]
    fn load_balancers_draw_frontends_rule_edges_and_routes_to_their_frontends() {
        let text = "
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    location: westeurope
    subnets:
      - { name: nva, address_prefixes: [10.0.1.0/24] }
  - name: spoke
    address_space: [10.1.0.0/16]
    location: westeurope
    subnets:
      - { name: app, address_prefixes: [10.1.1.0/24], route_table: app-rt }
peerings:
  - { name: hub-to-spoke, virtual_network: hub, remote_virtual_network: spoke }
  - { name: spoke-to-hub, virtual_network: spoke, remote_virtual_network: hub }
network_interfaces:
  - { name: fw1, subnet: hub/nva, private_ip_address: 10.0.1.4, ip_forwarding_enabled: true }
  - { name: fw2, subnet: hub/nva, private_ip_address: 10.0.1.5, ip_forwarding_enabled: true }
route_tables:
  - name: app-rt
    routes:
      - { name: all, address_prefix: 0.0.0.0/0, next_hop_type: VirtualAppliance, next_hop_in_ip_address: 10.0.1.100 }
load_balancers:
  - name: fw-ilb
    frontend_ip_configurations:
      - { name: fe, subnet: hub/nva, private_ip_address: 10.0.1.100 }
    backend_address_pools:
      - { name: fws, network_interfaces: [fw1, fw2] }
    rules:
      - { name: ha, frontend_ip_configuration: fe, backend_address_pool: fws, protocol: All, floating_ip_enabled: true }
      - { name: dns, frontend_ip_configuration: fe, backend_address_pool: fws, protocol: Udp, frontend_port: 53, backend_port: 5353, floating_ip_enabled: true }
";
        let loaded = match parse_str("test.yaml", text) {
            Ok(loaded) => loaded,
            Err(e) => panic!("test topology refused: {e:?}"),
        };
        let p = Picture::of(&Snapshot::compile(loaded.topology, 0));
        let nva = &p.vnets[0].subnets[0].nics;
        let ids: Vec<&str> = nva.iter().map(|n| n.id.as_str()).collect();
        // The prober's port (probe-hub) is not drawn.
        assert_eq!(
            ids,
            vec!["nic_0_fw1", "nic_1_fw2", "frontend_0_0_fw_ilb_fe"]
        );
        assert!(nva[2].frontend && !nva[2].appliance && !nva[2].gateway);
        assert_eq!(
            nva[2].label,
            vec!["load balancer fw-ilb / fe", "10.0.1.100"]
        );

        let edges: Vec<(&str, Vec<String>)> = p
            .load_balancing
            .iter()
            .map(|e| (e.to_id.as_str(), e.label.clone()))
            .collect();
        let ha = vec![
            "ha".to_string(),
            "All 0→0 (HA ports) floating IP".to_string(),
        ];
        let dns = vec!["dns".to_string(), "Udp 53→5353 floating IP".to_string()];
        assert_eq!(
            edges,
            vec![
                ("nic_0_fw1", ha.clone()),
                ("nic_1_fw2", ha),
                ("nic_0_fw1", dns.clone()),
                ("nic_1_fw2", dns),
            ]
        );

        // Across the peering, the route leads to the frontend, not to a
        // warning node.
        assert_eq!(p.appliance_routes.len(), 1);
        assert_eq!(
            p.appliance_routes[0].hop,
            ApplianceHop::Frontend {
                load_balancer: LoadBalancerIdx::new(0),
                frontend: 0
            }
        );
        assert!(p.unreachable_hops().is_empty());

        let mermaid = mermaid(&p);
        assert!(mermaid.contains(
            "      frontend_0_0_fw_ilb_fe([\"load balancer fw-ilb / fe<br/>10.0.1.100\"])\n"
        ));
        assert!(mermaid.contains(
            "  frontend_0_0_fw_ilb_fe ==>|\"ha<br/>All 0→0 (HA ports) floating IP\"| nic_0_fw1\n"
        ));
        assert!(mermaid.contains(
            "  subnet_1_0_app -->|\"0.0.0.0/0<br/>route table app-rt\"| frontend_0_0_fw_ilb_fe\n"
        ));
        assert!(!mermaid.contains("probe-hub"));
        let dot = dot(&p);
        assert!(dot.contains(
            "frontend_0_0_fw_ilb_fe [label=\"load balancer fw-ilb / fe\\n10.0.1.100\", shape=oval"
        ));
        assert!(dot.contains(
            "frontend_0_0_fw_ilb_fe -> nic_1_fw2 [label=\"dns\\nUdp 53→5353 floating IP\", color="
        ));
        assert!(!dot.contains("probe"));
    }

    #[test]
    fn output_ends_with_a_newline() {
        let p = picture("  []\n");
        assert!(mermaid(&p).ends_with("end\n"));
        assert!(dot(&p).ends_with("}\n"));
    }
}
