//! The pieces of the [`Picture`](super::Picture) that more than one of
//! its builders make: a node, a connection edge, the identifiers of
//! NICs, gateways, firewalls, VNets and subnets, and which parts live in
//! a subnet.

use crate::topology::{
    FirewallIdx, GatewayIdx, LoadBalancerIdx, NicIdx, SubnetRef, TiVec, Topology, VnetIdx,
};

/// A link between two nodes of different places: a gateway connection
/// (from the gateway's node to a site's router, a circuit's node or the
/// peer gateway's node), a circuit's private peering (from the site's
/// router to the circuit's node), a Global Reach link (between two
/// circuits' nodes), a Route Server's BGP session (from its node to an
/// appliance NIC's) or branch-to-branch link (to a gateway's node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionEdge {
    pub from_id: String,
    pub to_id: String,
    pub label: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicNode {
    pub id: String,
    /// The name of what it stands for: the NIC's (its port's), the
    /// gateway's, the firewall's, `LB/FRONTEND`, the site router's
    /// namespace, the site host's, the circuit's, the Route Server's, the
    /// NAT gateway's, or `internet` (the Internet's port).
    pub name: String,
    pub label: Vec<String>,
    /// IP forwarding is on: the NIC stands for a network virtual appliance.
    pub appliance: bool,
    /// A virtual network gateway (drawn as a trapezium).
    pub gateway: bool,
    /// A load balancer's frontend (drawn as a stadium).
    pub frontend: bool,
    /// An ExpressRoute circuit at Microsoft's edge (drawn apart from
    /// every VNet and site).
    pub circuit: bool,
    /// An Azure Route Server (drawn in its own colour).
    pub route_server: bool,
    /// An Azure Firewall (also an appliance: routes lead to it).
    pub firewall: bool,
    /// The Internet or a NAT gateway, drawn apart from every VNet.
    pub internet_edge: Option<InternetPart>,
}

impl NicNode {
    /// A node of nothing drawn apart (a NIC, a site's host, a name's
    /// resource): every kind flag off; a builder sets the one its node is.
    pub(super) fn new(id: String, name: String, label: Vec<String>) -> Self {
        NicNode {
            id,
            name,
            label,
            appliance: false,
            gateway: false,
            frontend: false,
            circuit: false,
            route_server: false,
            firewall: false,
            internet_edge: None,
        }
    }
}

/// What stands at the Internet edge of the picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InternetPart {
    /// The emulated Internet, with its servers.
    Internet,
    /// A NAT gateway, between the subnets it serves and the Internet.
    NatGateway,
}

/// Replaces every character that is not an ASCII letter or digit with `_`,
/// so that the result is a valid identifier fragment in Mermaid and DOT.
pub fn sanitise(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

pub(super) fn nic_id(topo: &Topology, nic: NicIdx) -> String {
    let name = topo.nics.get(nic).map_or("", |n| n.name.as_str());
    format!("nic_{nic}_{}", sanitise(name))
}

pub(super) fn join<T: ToString>(items: &[T]) -> String {
    items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn gateway_id(topo: &Topology, g: GatewayIdx) -> String {
    format!("gateway_{g}_{}", sanitise(&topo.gateways[g].name))
}

/// The id of a VNet's box.
pub(super) fn vnet_id(topo: &Topology, vnet: VnetIdx) -> String {
    let name = topo.vnets.get(vnet).map_or("", |v| v.name.as_str());
    format!("vnet_{vnet}_{}", sanitise(name))
}

/// The id of a subnet's box.
pub(super) fn subnet_id(topo: &Topology, r: SubnetRef) -> String {
    let name = topo
        .vnets
        .get(r.vnet)
        .and_then(|v| v.subnets.get(r.subnet))
        .map_or("", |s| s.name.as_str());
    format!("subnet_{}_{}_{}", r.vnet, r.subnet, sanitise(name))
}

pub(super) fn firewall_id(topo: &Topology, f: FirewallIdx) -> String {
    format!("firewall_{f}_{}", sanitise(&topo.firewalls[f].name))
}

/// The node of a load balancer's frontend.
pub(super) fn frontend_id(topo: &Topology, lb: LoadBalancerIdx, frontend: usize) -> String {
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

/// The node of a load balancer's frontend, its label saying `kind` (`load
/// balancer`, `public load balancer`), the names and the address.
pub(super) fn frontend_node(
    topo: &Topology,
    lb: LoadBalancerIdx,
    frontend: usize,
    kind: &str,
) -> NicNode {
    let l = &topo.load_balancers[lb];
    let fe = &l.frontends[frontend];
    NicNode {
        frontend: true,
        ..NicNode::new(
            frontend_id(topo, lb, frontend),
            format!("{}/{}", l.name, fe.name),
            vec![
                format!("{kind} {} / {}", l.name, fe.name),
                fe.address.to_string(),
            ],
        )
    }
}

/// Each of `items` (with its index) whose subnet, as `subnet_of` reads
/// it, is `subnet`, in order.
pub(super) fn in_subnet<K: From<usize>, T>(
    items: &TiVec<K, T>,
    subnet: SubnetRef,
    subnet_of: impl Fn(&T) -> SubnetRef,
) -> impl Iterator<Item = (K, &T)> {
    (items.iter_enumerated()).filter(move |(_, item)| subnet_of(item) == subnet)
}
