//! The format-neutral [`Picture`]: the facts `vnetd graph` draws (VNets,
//! subnets, NICs, gateways, Route Servers, virtual hubs, sites, ExpressRoute circuits,
//! load balancers, peerings, appliance routes, BGP sessions, Private
//! Endpoints, resolvers, Private DNS zones and rulesets, the Internet and
//! its NAT gateways, public addresses and DNAT rules), gathered once from
//! the snapshot, and the identifiers both languages use for them.

use super::internet::{default_outbound_line, internet_edges, internet_nodes, public_line};
pub use super::internet::{InternetEdge, InternetLink, INTERNET_ID};
pub(super) use super::parts::{firewall_id, subnet_id, vnet_id};
use super::parts::{frontend_id, frontend_node, gateway_id, in_subnet, join, nic_id};
pub use super::parts::{sanitise, ConnectionEdge, InternetPart, NicNode};
use super::route_servers::{route_server_edges, route_server_nodes};
use crate::policy::routes::RouteSource;
use crate::snapshot::{RouteTarget, Snapshot};
use crate::topology::catalog::round_trips::round_trip;
use crate::topology::{
    CircuitIdx, ConnectionPeer, FirewallIdx, HostIdx, LoadBalancerIdx, NextHopType, NicIdx,
    RouterRef, SiteIdx, SubnetRef, Topology, VnetIdx,
};
use std::net::IpAddr;

/// Everything the picture shows, independent of the output language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    pub vnets: Vec<VnetBox>,
    pub peerings: Vec<PeeringEdge>,
    pub appliance_routes: Vec<ApplianceRouteEdge>,
    pub sites: Vec<SiteBox>,
    /// What is drawn apart from every VNet and site: ExpressRoute
    /// circuits, where they meet Microsoft's edge (between a site's router
    /// and the gateways connected to the circuit), then Private DNS zones
    /// and forwarding rulesets, then the Internet and the NAT gateways.
    pub outside: Vec<NicNode>,
    pub connections: Vec<ConnectionEdge>,
    pub load_balancing: Vec<LoadBalancingEdge>,
    /// The ways to and from the Internet: NAT gateways' subnets and their
    /// way out, senders leaving by their own address, DNAT rules.
    pub internet: Vec<InternetEdge>,
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

/// The Azure peering state seen from the pair of VNets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeeringState {
    /// Both links exist: traffic can flow.
    Connected,
    /// Only the link held in `from` exists: no traffic flows yet.
    Initiated,
    /// No Connected peering: a Virtual Network Manager connected group
    /// joins the two VNets.
    ConnectedGroup,
}

impl PeeringState {
    /// The one of `[connected, initiated, connected_group]` for this state.
    pub(super) fn pick<T>(self, [connected, initiated, group]: [T; 3]) -> T {
        match self {
            PeeringState::Connected => connected,
            PeeringState::Initiated => initiated,
            PeeringState::ConnectedGroup => group,
        }
    }
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
    /// An Azure Firewall's private address.
    Firewall(FirewallIdx),
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
    pub(super) fn label(&self) -> Vec<String> {
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
            outside: circuit_nodes(topo)
                .into_iter()
                .chain(super::virtual_wan::hub_nodes(topo))
                .chain(super::names::name_nodes(topo))
                .chain(internet_nodes(snapshot))
                .collect(),
            connections: connection_edges(topo)
                .into_iter()
                .chain(route_server_edges(topo))
                .chain(super::virtual_wan::hub_edges(topo))
                .chain(super::names::name_edges(topo))
                .collect(),
            load_balancing: load_balancing_edges(topo),
            internet: internet_edges(snapshot),
        }
    }

    /// Appliance addresses that no reachable NIC holds, in edge order,
    /// without repeats: each becomes one warning node.
    pub(super) fn unreachable_hops(&self) -> Vec<IpAddr> {
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

pub(super) fn unreachable_id(ip: IpAddr) -> String {
    format!("unreachable_{}", sanitise(&ip.to_string()))
}

/// The line naming the machine a part runs on, in a lab spread over
/// several.
fn host_line(topo: &Topology, host: HostIdx) -> Option<String> {
    let placed = topo.placement.hosts.get(host)?;
    Some(format!(
        "on host {} ({})",
        placed.name, placed.underlay_address
    ))
}

pub(super) fn vnet_boxes(topo: &Topology) -> Vec<VnetBox> {
    topo.vnets
        .iter_enumerated()
        .map(|(v, vnet)| VnetBox {
            id: vnet_id(topo, v),
            label: [
                format!("VNet {}", vnet.name),
                join(&vnet.address_space),
                vnet.location.clone(),
            ]
            .into_iter()
            .chain(host_line(topo, topo.placement.vnet_host(v)))
            .collect(),
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
                    label.extend(default_outbound_line(topo, r));
                    let mut nics = nic_nodes(topo, r);
                    nics.extend(gateway_nodes(topo, r));
                    nics.extend(frontend_nodes(topo, r));
                    nics.extend(firewall_nodes(topo, r));
                    nics.extend(route_server_nodes(topo, r));
                    nics.extend(super::names::endpoint_nodes(topo, r));
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

pub(super) fn nic_nodes(topo: &Topology, subnet: SubnetRef) -> Vec<NicNode> {
    in_subnet(&topo.nics, subnet, |nic| nic.subnet)
        .map(|(i, nic)| {
            let addresses: Vec<IpAddr> = nic.ip_configurations.iter().map(|c| c.address).collect();
            let mut label = vec![format!("NIC {}", nic.name), join(&addresses)];
            let public: Vec<IpAddr> = topo.edge.nic_public_address(i).into_iter().collect();
            label.extend(public_line(&public));
            if let Some(egress) = crate::policy::shaping::vm_egress(topo, i) {
                let (vm, mbps) = (&topo.virtual_machines[egress.vm], egress.mbps);
                label.push(format!("VM {} ({}, {mbps} Mbps out)", vm.name, vm.size));
            }
            if nic.mtu != crate::topology::DEFAULT_MTU {
                label.push(format!("MTU {}", nic.mtu));
            }
            // A NIC placed apart from its VNet says where.
            let host = topo.nic_host(i);
            if host != topo.placement.vnet_host(nic.subnet.vnet) {
                label.extend(host_line(topo, host));
            }
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
                appliance: nic.ip_forwarding,
                ..NicNode::new(nic_id(topo, i), nic.name.clone(), label)
            }
        })
        .collect()
}

pub(super) fn site_id(topo: &Topology, s: SiteIdx) -> String {
    format!("site_{s}_{}", sanitise(&topo.sites[s].name))
}

/// A site router's node: `router_<site>_<name>` for a site's one router,
/// `router_<site>_<n>_<label>` for each of several.
pub(super) fn router_id(topo: &Topology, at: RouterRef) -> String {
    let site = &topo.sites[at.site];
    if site.routers.len() == 1 {
        format!("router_{}_{}", at.site, sanitise(&site.name))
    } else {
        let label = &site.routers[at.router].label;
        format!("router_{}_{}_{}", at.site, at.router, sanitise(label))
    }
}

/// The gateways that live in `subnet` (a GatewaySubnet).
pub(super) fn gateway_nodes(topo: &Topology, subnet: SubnetRef) -> Vec<NicNode> {
    in_subnet(&topo.gateways, subnet, |g| g.subnet)
        .map(|(i, g)| {
            let kind = <&str>::from(g.gateway_type);
            let mode = if g.active_active {
                "active-active"
            } else {
                "active-standby"
            };
            NicNode {
                gateway: true,
                ..NicNode::new(
                    gateway_id(topo, i),
                    g.name.clone(),
                    vec![
                        format!("{kind} gateway {}", g.name),
                        format!("{}, {} Mbps", g.sku, g.throughput_mbps),
                        format!("AS {}, {mode}", g.asn),
                        join(&g.instances),
                    ],
                )
            }
        })
        .collect()
}

/// The Azure Firewall that lives in `subnet` (an AzureFirewallSubnet),
/// drawn as the appliance it is.
pub(super) fn firewall_nodes(topo: &Topology, subnet: SubnetRef) -> Vec<NicNode> {
    in_subnet(&topo.firewalls, subnet, |fw| fw.subnet)
        .map(|(f, fw)| {
            let mut label = vec![
                format!("Azure Firewall {}", fw.name),
                fw.private_ip.to_string(),
            ];
            label.extend(public_line(&topo.edge.firewall_addresses(f)));
            label.push(format!(
                "{}, {} Mbps",
                fw.sku.as_str(),
                fw.sku.throughput_mbps()
            ));
            if let Some(p) = fw.policy {
                label.push(format!("policy {}", topo.firewall_policies[p].name));
            }
            NicNode {
                appliance: true,
                firewall: true,
                ..NicNode::new(firewall_id(topo, f), fw.name.clone(), label)
            }
        })
        .collect()
}

/// The load balancer frontends that sit in `subnet`.
pub(super) fn frontend_nodes(topo: &Topology, subnet: SubnetRef) -> Vec<NicNode> {
    let mut nodes = Vec::new();
    for (l, lb) in topo.load_balancers.iter_enumerated() {
        for (f, frontend) in lb.frontends.iter().enumerate() {
            if frontend.subnet != Some(subnet) {
                continue;
            }
            nodes.push(frontend_node(topo, l, f, "load balancer"));
        }
    }
    nodes
}

/// For each rule of each load balancer, an edge from its frontend to each
/// NIC of its pool.
pub(super) fn load_balancing_edges(topo: &Topology) -> Vec<LoadBalancingEdge> {
    let mut edges = Vec::new();
    for (l, lb) in topo.load_balancers.iter_enumerated() {
        for rule in &lb.rules {
            let protocol = <&str>::from(rule.settings.protocol);
            let mut ports = format!(
                "{protocol} {}→{}",
                rule.settings.frontend_port, rule.settings.backend_port
            );
            if rule.ha_ports() {
                ports.push_str(" (HA ports)");
            }
            if rule.settings.floating_ip {
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

pub(super) fn site_boxes(topo: &Topology) -> Vec<SiteBox> {
    topo.sites
        .iter_enumerated()
        .map(|(s, site)| {
            let cloud = topo.private_clouds.iter().find(|c| c.site == s);
            let what = if cloud.is_some() {
                "NSX Tier-0 router"
            } else {
                "router"
            };
            let mut nodes: Vec<NicNode> = site
                .routers
                .iter()
                .enumerate()
                .map(|(r, router)| {
                    let speaker = <&str>::from(router.bgp_speaker);
                    let mut label = vec![format!("{what} {}", router.netns)];
                    match router.asn {
                        Some(asn) => label.push(format!("AS {asn}, BGP: {speaker}")),
                        None => label.push(format!("BGP: {speaker}")),
                    }
                    NicNode {
                        appliance: true,
                        ..NicNode::new(
                            router_id(topo, RouterRef { site: s, router: r }),
                            router.netns.clone(),
                            label,
                        )
                    }
                })
                .collect();
            nodes.extend(site.hosts.iter().enumerate().map(|(h, host)| {
                NicNode::new(
                    format!("host_{s}_{h}_{}", sanitise(&host.name)),
                    host.name.clone(),
                    vec![format!("host {}", host.name), host.address.to_string()],
                )
            }));
            let label = match cloud {
                Some(cloud) => {
                    let mut label = vec![
                        format!("Azure VMware Solution private cloud {}", site.name),
                        format!("{} (Azure's /22)", cloud.network_block),
                    ];
                    if !cloud.workload_segments.is_empty() {
                        label.push(format!("segments {}", join(&cloud.workload_segments)));
                    }
                    label
                }
                None => vec![
                    format!("on-premises site {}", site.name),
                    join(&site.address_space),
                ],
            };
            let label = label
                .into_iter()
                .chain(host_line(topo, topo.placement.site_host(s)))
                .collect();
            SiteBox {
                id: site_id(topo, s),
                label,
                nodes,
            }
        })
        .collect()
}

pub(super) fn circuit_id(topo: &Topology, e: CircuitIdx) -> String {
    format!("circuit_{e}_{}", sanitise(&topo.circuits[e].name))
}

/// A circuit's name, bandwidth, peering location and provider (the last
/// two when the file gives them).
fn circuit_label(circuit: &crate::topology::Circuit) -> Vec<String> {
    let mut speed = format!("{} Mbps", circuit.bandwidth_mbps);
    if !circuit.peering_location.is_empty() {
        speed.push_str(&format!(", {}", circuit.peering_location));
    }
    let mut label = vec![format!("ExpressRoute circuit {}", circuit.name), speed];
    if !circuit.service_provider_name.is_empty() {
        label.push(circuit.service_provider_name.clone());
    }
    label
}

/// One node per ExpressRoute circuit: its name, bandwidth, peering
/// location and provider.
pub(super) fn circuit_nodes(topo: &Topology) -> Vec<NicNode> {
    topo.circuits
        .iter_enumerated()
        .map(|(e, circuit)| NicNode {
            circuit: true,
            ..NicNode::new(
                circuit_id(topo, e),
                circuit.name.clone(),
                circuit_label(circuit),
            )
        })
        .collect()
}

pub(super) fn connection_edges(topo: &Topology) -> Vec<ConnectionEdge> {
    let mut edges: Vec<ConnectionEdge> = Vec::new();
    for c in &topo.connections {
        let bgp = if c.bgp_enabled { "BGP" } else { "static" };
        let (to_id, kind) = match c.peer {
            ConnectionPeer::Local(l) => (
                router_id(
                    topo,
                    topo.tunnel_router(c.peer)
                        .expect("a local gateway's router"),
                ),
                format!("IPsec via {}", topo.local_gateways[l].name),
            ),
            ConnectionPeer::Gateway(g) => (gateway_id(topo, g), "Vnet2Vnet".to_string()),
            ConnectionPeer::Circuit(e) => (circuit_id(topo, e), "ExpressRoute".to_string()),
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
    // Each circuit's private peering: the site's router (the customer
    // edge) to Microsoft's edge, over the two links' /30s.
    for (e, circuit) in topo.circuits.iter_enumerated() {
        let peering = &circuit.private_peering;
        edges.push(ConnectionEdge {
            from_id: router_id(
                topo,
                RouterRef {
                    site: circuit.site,
                    router: 0,
                },
            ),
            to_id: circuit_id(topo, e),
            label: vec![
                "private peering".to_string(),
                format!(
                    "AS {}, {}, {}",
                    peering.peer_asn, peering.primary, peering.secondary
                ),
            ],
        });
    }
    // Global Reach joins two circuits at Microsoft's edge, without any
    // gateway.
    for link in &topo.global_reach {
        edges.push(ConnectionEdge {
            from_id: circuit_id(topo, link.circuit),
            to_id: circuit_id(topo, link.peer_circuit),
            label: vec![
                link.name.clone(),
                format!("Global Reach, {}", link.address_prefix),
            ],
        });
    }
    edges
}

pub(super) fn peering_edges(topo: &Topology) -> Vec<PeeringEdge> {
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
                // (round trip in ms, estimated by vnetd)
                let figure = |l: &crate::topology::Peering| {
                    let (a, b) = (&topo.vnets[l.vnet].location, &topo.vnets[l.remote].location);
                    match l.impairments.and_then(|i| i.latency_us) {
                        Some(us) => Some((us / 500, false)),
                        None => round_trip(a, b).map(|r| (r.us / 1000, r.estimated)),
                    }
                };
                if let (true, Some((there, e1)), Some((back_ms, e2))) =
                    (global, figure(link), figure(back))
                {
                    let estimated = if e1 || e2 { " (estimated)" } else { "" };
                    label.push(format!(
                        "round trip {} ms{estimated}",
                        (there + back_ms).div_ceil(2)
                    ));
                }
                for l in [link, back] {
                    if let Some(rate) = l.impairments.and_then(|i| i.rate_mbps) {
                        label.push(format!("{} capped at {rate} Mbps", l.name));
                    }
                }
                if !(link.flags.allow_virtual_network_access
                    && back.flags.allow_virtual_network_access)
                {
                    label.push("VNet access off: no traffic".to_string());
                }
                // The link held in a VNet decides whether that VNet accepts
                // traffic that started elsewhere (an NVA's forwarded packets).
                for l in [link, back] {
                    if l.flags.allow_forwarded_traffic {
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
    // Connected groups join members that no Connected peering joins.
    for a in topo.vnets.keys() {
        for b in topo.connected_group_peers(a).into_iter().filter(|&b| b > a) {
            let Some(group) = topo.connected_group(a, b) else {
                continue;
            };
            let global = topo.vnets[a].location != topo.vnets[b].location;
            edges.push(PeeringEdge {
                from_id: vnet_id(topo, a),
                to_id: vnet_id(topo, b),
                from: a,
                to: b,
                state: PeeringState::ConnectedGroup,
                global,
                label: vec![format!("connected group of {}", group.configuration)],
            });
        }
    }
    edges
}

pub(super) fn appliance_route_edges(snapshot: &Snapshot) -> Vec<ApplianceRouteEdge> {
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
            let target = row.and_then(|r| tables.targets.get(r));
            let appliance = match target {
                Some(RouteTarget::Appliance { nic, .. }) => snapshot.plan.nic(*nic),
                _ => None,
            };
            let firewall = match target {
                Some(RouteTarget::Appliance { nic, .. }) => {
                    snapshot.plan.ports[*nic].kind.firewall()
                }
                _ => None,
            };
            let hop = match (appliance, firewall, target) {
                (Some(nic), _, _) => ApplianceHop::Nic(nic),
                (None, Some(f), _) => ApplianceHop::Firewall(f),
                (None, None, Some(RouteTarget::Balanced { frontend, .. })) => {
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
                        ApplianceHop::Firewall(f) => firewall_id(topo, f),
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
