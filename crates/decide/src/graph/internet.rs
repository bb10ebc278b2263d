//! The Internet edge in the [`Picture`](super::Picture): the Internet as
//! one node outside every VNet (its servers' names and addresses), each NAT
//! gateway as a node (SKU, idle timeout, public addresses) that the subnets
//! it serves lead to and that leads to the Internet, and each sender's own
//! way out, in Azure's precedence as the snapshot compiled it
//! ([`crate::policy::egress`]): a NIC or a firewall that leaves by its own
//! public IP or by default outbound access has an edge to the Internet
//! labelled with the method and the address it leaves as; a NIC whose public
//! IP only takes what comes in (its subnet's NAT gateway takes its way out)
//! has an edge from the Internet. Each DNAT rule of a firewall is an edge
//! from the Internet to the firewall, labelled with the public address and
//! port and what they are translated to.
//!
//! A user route comes before every way out: where the routes send Internet
//! traffic elsewhere (to an appliance, a gateway, or nowhere), no edge says
//! the sender leaves by its public IP, and the subnet's edge to its NAT
//! gateway says where the routes send it instead.

use super::parts::{
    firewall_id, frontend_node, join, nic_id, sanitise, subnet_id, InternetPart, NicNode,
};
use crate::snapshot::edge::EgressHop;
use crate::snapshot::{PortIdx, Snapshot};
use crate::topology::{NatGatewayIdx, NextHopType, SubnetRef, Topology};
use std::net::{IpAddr, SocketAddr};

/// The Internet's node: one per lab.
pub const INTERNET_ID: &str = "internet";

/// What an edge of the Internet edge stands for, so that the traffic of
/// the flows that take it can be put on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InternetLink {
    /// A subnet to the NAT gateway that serves it.
    NatSubnet {
        subnet: SubnetRef,
        gateway: NatGatewayIdx,
    },
    /// A NAT gateway to the Internet.
    NatGateway(NatGatewayIdx),
    /// A port (a NIC or a firewall) to the Internet, by its own public IP
    /// or by default outbound access; a public IP takes what comes in
    /// over it too.
    Direct(PortIdx),
    /// The Internet to a NIC's public IP, when the NIC leaves another way.
    PublicIpInbound(PortIdx),
    /// A DNAT rule: the Internet to the firewall (its port) that owns the
    /// rule's public address and port.
    Dnat {
        firewall: PortIdx,
        public: SocketAddr,
    },
}

impl InternetLink {
    /// True for what comes in from the Internet (drawn from the
    /// Internet's node, dashed).
    pub fn inbound(self) -> bool {
        matches!(
            self,
            InternetLink::PublicIpInbound(_) | InternetLink::Dnat { .. }
        )
    }
}

/// One edge of the Internet edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternetEdge {
    pub from_id: String,
    pub to_id: String,
    pub link: InternetLink,
    pub label: Vec<String>,
}

pub(super) fn nat_gateway_id(topo: &Topology, g: NatGatewayIdx) -> String {
    let name = &topo.edge.nat_gateways[g].name;
    format!("nat_gateway_{g}_{}", sanitise(name))
}

/// The line that names a NIC's or a firewall's public addresses.
pub(super) fn public_line(addresses: &[IpAddr]) -> Option<String> {
    (!addresses.is_empty()).then(|| format!("public {}", join(addresses)))
}

/// The line that marks a subnet with default outbound access.
pub(super) fn default_outbound_line(topo: &Topology, subnet: SubnetRef) -> Option<String> {
    topo.edge
        .default_outbound
        .contains(&subnet)
        .then(|| "default outbound access".to_string())
}

/// The Internet, when the lab has one, then each NAT gateway. The
/// Internet's node is named after its port (`internet`), under which its
/// counters and flows are reported.
pub(super) fn internet_nodes(snapshot: &Snapshot) -> Vec<NicNode> {
    let topo = &snapshot.topology;
    let node = |id: String, name: String, label: Vec<String>, part| NicNode {
        internet_edge: Some(part),
        ..NicNode::new(id, name, label)
    };
    let edge = &topo.edge;
    let mut nodes = Vec::new();
    if edge.has_internet() {
        let mut label = vec!["Internet".to_string()];
        label.extend(edge.servers().iter().map(|s| {
            let ports = match s.ports.as_slice() {
                [] => String::new(),
                [one] => format!(", port {one}"),
                many => format!(", ports {}", join(many)),
            };
            format!("{} {}{ports}", s.name, s.address)
        }));
        let port = (snapshot.edge.internet).map(|p| snapshot.plan.ports[p].name.clone());
        let (id, name) = (INTERNET_ID.to_string(), port.unwrap_or(INTERNET_ID.into()));
        nodes.push(node(id, name, label, InternetPart::Internet));
    }
    for (g, gateway) in edge.nat_gateways.iter_enumerated() {
        let mut public: Vec<String> = (gateway.public_ips.iter())
            .map(|&p| edge.public_ips[p].address.to_string())
            .collect();
        public.extend(
            (gateway.prefixes.iter()).map(|&p| edge.public_ip_prefixes[p].prefix.to_string()),
        );
        let mut label = vec![
            format!("NAT gateway {}", gateway.name),
            format!(
                "{}, idle {} min",
                gateway.sku.as_str(),
                gateway.idle_timeout_minutes
            ),
        ];
        if !public.is_empty() {
            label.push(format!("public {}", public.join(", ")));
        }
        let id = nat_gateway_id(topo, g);
        nodes.push(node(
            id,
            gateway.name.clone(),
            label,
            InternetPart::NatGateway,
        ));
    }
    // A public load balancer's frontends sit in no subnet: they are drawn
    // beside the Internet, and lead to their pools as internal ones do.
    for (l, lb) in topo.load_balancers.iter_enumerated() {
        for (f, frontend) in lb.frontends.iter().enumerate() {
            if !frontend.is_public() {
                continue;
            }
            nodes.push(frontend_node(topo, l, f, "public load balancer"));
        }
    }
    nodes
}

/// Where the routes of `subnet` send traffic for the Internet (for its
/// first IPv4 address): `None` when the subnet has no tables (no port
/// sits in it) and so nothing of its own to decide.
fn internet_route(snapshot: &Snapshot, subnet: SubnetRef) -> Option<NextHopType> {
    let probe = snapshot.topology.edge.internet_addresses();
    let probe = probe.iter().find(|a| a.is_ipv4())?;
    let tables = snapshot.subnet_tables(subnet)?;
    let row = tables.decide(*probe);
    Some(row.map_or(NextHopType::None, |r| tables.routes[r].next_hop_type))
}

/// The node of a port that can leave for the Internet: a NIC's or a
/// firewall's.
fn sender_id(snapshot: &Snapshot, port: PortIdx) -> Option<String> {
    let topo = &snapshot.topology;
    match (
        snapshot.plan.nic(port),
        snapshot.plan.ports[port].kind.firewall(),
    ) {
        (Some(nic), _) => Some(nic_id(topo, nic)),
        (None, Some(f)) => Some(firewall_id(topo, f)),
        (None, None) => None,
    }
}

/// Every edge of the Internet edge, in file order: the NAT gateways'
/// subnets and their way to the Internet, then each port's own way out
/// (or in), then each firewall's DNAT rules.
pub(super) fn internet_edges(snapshot: &Snapshot) -> Vec<InternetEdge> {
    let topo = &snapshot.topology;
    let edge = &topo.edge;
    let mut edges = Vec::new();
    if !edge.has_internet() {
        return edges;
    }
    for (g, gateway) in edge.nat_gateways.iter_enumerated() {
        let to_id = nat_gateway_id(topo, g);
        for &subnet in &gateway.subnets {
            let label = match internet_route(snapshot, subnet) {
                None | Some(NextHopType::Internet) => vec!["leaves by NatGateway".to_string()],
                Some(other) => vec![
                    "associated".to_string(),
                    format!("Internet routed to {}", other.as_str()),
                ],
            };
            edges.push(InternetEdge {
                from_id: subnet_id(topo, subnet),
                to_id: to_id.clone(),
                link: InternetLink::NatSubnet { subnet, gateway: g },
                label,
            });
        }
        let protocols = if gateway.sku.carries_icmp() {
            "TCP, UDP, ICMP echo"
        } else {
            "TCP, UDP"
        };
        edges.push(InternetEdge {
            from_id: to_id,
            to_id: INTERNET_ID.to_string(),
            link: InternetLink::NatGateway(g),
            label: vec![format!("outbound {protocols}")],
        });
    }
    for (port, p) in snapshot.plan.ports.iter_enumerated() {
        let Some(id) = sender_id(snapshot, port) else {
            continue;
        };
        let routed_out = internet_route(snapshot, p.subnet) == Some(NextHopType::Internet);
        let egress = snapshot.nics[port].egress;
        let address = match egress {
            EgressHop::PublicIp(a) | EgressHop::DefaultOutbound(a) if routed_out => Some(a),
            EgressHop::LoadBalancer { outbound, .. } if routed_out => {
                let way = &snapshot.edge.outbound[outbound as usize];
                way.addresses.first().copied()
            }
            _ => None,
        };
        if let Some(address) = address {
            let method = match egress {
                EgressHop::LoadBalancer { .. } => egress.describe(snapshot),
                _ => egress.method().to_string(),
            };
            edges.push(InternetEdge {
                from_id: id,
                to_id: INTERNET_ID.to_string(),
                link: InternetLink::Direct(port),
                label: vec![format!("leaves by {method}"), format!("as {address}")],
            });
            continue;
        }
        // A NIC's public IP takes what comes in whatever way it leaves.
        let public = snapshot
            .plan
            .nic(port)
            .and_then(|n| edge.nic_public_address(n));
        if let Some(public) = public {
            edges.push(InternetEdge {
                from_id: INTERNET_ID.to_string(),
                to_id: id,
                link: InternetLink::PublicIpInbound(port),
                label: vec![format!("to public {public}"), "inbound only".to_string()],
            });
        }
    }
    for (port, p) in snapshot.plan.ports.iter_enumerated() {
        let Some(f) = p.kind.firewall() else {
            continue;
        };
        let Some(rules) =
            (topo.firewalls[f].policy).and_then(|policy| edge.dnat_rules.get(&policy))
        else {
            continue;
        };
        let owned = edge.firewall_addresses(f);
        for rule in rules.iter().filter(|r| owned.contains(&r.destination)) {
            // Azure Firewall spells its rules' protocols in capitals.
            let protocols: Vec<String> = (rule.protocols.iter())
                .map(|p| p.as_str().to_ascii_uppercase())
                .collect();
            let public = SocketAddr::new(rule.destination, rule.destination_port);
            let private = SocketAddr::new(rule.translated_address, rule.translated_port);
            edges.push(InternetEdge {
                from_id: INTERNET_ID.to_string(),
                to_id: firewall_id(topo, f),
                link: InternetLink::Dnat {
                    firewall: port,
                    public,
                },
                label: vec![
                    format!("DNAT {}", rule.name),
                    format!("{} {public} → {private}", protocols.join(", ")),
                ],
            });
        }
    }
    edges
}
