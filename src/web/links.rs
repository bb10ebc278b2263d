//! Which of the picture's links a flow crosses: the peering between the
//! sender's VNet and the VNet of the address its route leads to, the
//! appliance route that leads it to an appliance, and at the Internet edge
//! the sender's way out (its subnet's NAT gateway and the gateway's way to
//! the Internet, or its own public IP or default outbound address) for a
//! flow whose route says `Internet`, and for a flow the Internet opens, the
//! public IP or DNAT rule it comes in by. Built once per published
//! snapshot, from the same picture the page draws.

use crate::api::FlowReport;
use crate::graph::cytoscape::{appliance_route_edge_id, internet_edge_id, peering_edge_id};
use crate::graph::{ApplianceHop, InternetLink, Picture};
use crate::snapshot::edge::EgressHop;
use crate::snapshot::Snapshot;
use crate::topology::{NatGatewayIdx, SubnetRef, VnetIdx};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

#[derive(Debug, Default)]
pub struct LinkMap {
    /// Each port's subnet, by the port's name.
    subnet_of_port: HashMap<String, SubnetRef>,
    /// The VNet of each address a port or firewall holds.
    vnet_of_address: HashMap<IpAddr, VnetIdx>,
    /// Peering edges, under both orders of their VNets.
    peerings: HashMap<(VnetIdx, VnetIdx), String>,
    /// Appliance route edges, by the subnet and the appliance's address.
    appliance_routes: HashMap<(SubnetRef, IpAddr), String>,
    /// The edges a port's packets for the Internet cross, by the port's
    /// name.
    ways_out: HashMap<String, Vec<String>>,
    /// The edge the Internet's packets to a NIC's public IP cross, by the
    /// address.
    public_ips: HashMap<IpAddr, String>,
    /// The edge of each DNAT rule, by its public address and port.
    dnat_rules: HashMap<SocketAddr, String>,
    /// Each NAT gateway's edge to the Internet, with the gateway's name.
    nat_gateways: Vec<(String, String)>,
    /// The name of the Internet's port, whose flows come from outside.
    internet_port: Option<String>,
}

/// The address of a flow's endpoint as `vnetd flows` writes it
/// (`10.1.1.4:80`, `[fd00::4]:80`, or an address alone).
fn address(endpoint: &str) -> Option<IpAddr> {
    endpoint
        .parse::<SocketAddr>()
        .map(|a| a.ip())
        .or_else(|_| endpoint.parse::<IpAddr>())
        .ok()
}

impl LinkMap {
    pub fn of(snapshot: &Snapshot, picture: &Picture) -> LinkMap {
        let topo = &snapshot.topology;
        let mut map = LinkMap::default();
        // The Internet's port names a subnet only as a placeholder: its
        // addresses are in no VNet.
        let in_vnets = snapshot.plan.ports.iter().filter(|p| p.kind.in_vnet());
        for port in in_vnets {
            map.subnet_of_port.insert(port.name.clone(), port.subnet);
            for c in &port.ip_configurations {
                map.vnet_of_address.insert(c.address, port.subnet.vnet);
            }
        }
        for fw in &topo.firewalls {
            map.vnet_of_address.insert(fw.private_ip, fw.subnet.vnet);
        }
        for (i, p) in picture.peerings.iter().enumerate() {
            map.peerings.insert((p.from, p.to), peering_edge_id(i));
            map.peerings.insert((p.to, p.from), peering_edge_id(i));
        }
        for (i, r) in picture.appliance_routes.iter().enumerate() {
            let addresses: Vec<IpAddr> = match r.hop {
                ApplianceHop::Nic(nic) => topo.nics[nic]
                    .ip_configurations
                    .iter()
                    .map(|c| c.address)
                    .collect(),
                ApplianceHop::Firewall(fw) => vec![topo.firewalls[fw].private_ip],
                ApplianceHop::Frontend { .. } | ApplianceHop::Unreachable(_) => vec![],
            };
            for a in addresses {
                map.appliance_routes
                    .insert((r.subnet, a), appliance_route_edge_id(i));
            }
        }
        map.internet_edge(snapshot, picture);
        map
    }

    /// The links of the Internet edge.
    fn internet_edge(&mut self, snapshot: &Snapshot, picture: &Picture) {
        let edge = &snapshot.topology.edge;
        self.internet_port = (snapshot.edge.internet).map(|p| snapshot.plan.ports[p].name.clone());
        let mut nat_subnets: HashMap<(SubnetRef, NatGatewayIdx), String> = HashMap::new();
        let mut nat_ways: HashMap<NatGatewayIdx, String> = HashMap::new();
        for (i, e) in picture.internet.iter().enumerate() {
            let id = internet_edge_id(i);
            match e.link {
                InternetLink::NatSubnet { subnet, gateway } => {
                    nat_subnets.insert((subnet, gateway), id);
                }
                InternetLink::NatGateway(g) => {
                    let name = edge.nat_gateways[g].name.clone();
                    self.nat_gateways.push((id.clone(), name));
                    nat_ways.insert(g, id);
                }
                InternetLink::Direct(port) | InternetLink::PublicIpInbound(port) => {
                    let ports = &snapshot.plan.ports;
                    let public = snapshot
                        .plan
                        .nic(port)
                        .and_then(|n| edge.nic_public_address(n));
                    if let Some(public) = public {
                        self.public_ips.insert(public, id.clone());
                    }
                    if matches!(e.link, InternetLink::Direct(_)) {
                        self.ways_out.insert(ports[port].name.clone(), vec![id]);
                    }
                }
                InternetLink::Dnat { public, .. } => {
                    self.dnat_rules.entry(public).or_insert(id);
                }
            }
        }
        // A port that leaves by its subnet's NAT gateway crosses the
        // subnet's edge to the gateway, then the gateway's to the Internet.
        for (port, p) in snapshot.plan.ports.iter_enumerated() {
            let EgressHop::NatGateway(n) = snapshot.nics[port].egress else {
                continue;
            };
            let Some(gateway) = snapshot.edge.nat_gateways.get(usize::from(n)) else {
                continue;
            };
            let g = gateway.gateway;
            let way: Vec<String> = [nat_subnets.get(&(p.subnet, g)), nat_ways.get(&g)]
                .into_iter()
                .flatten()
                .cloned()
                .collect();
            self.ways_out.insert(p.name.clone(), way);
        }
    }

    /// Each NAT gateway's edge to the Internet, with the gateway's name:
    /// what crosses it is what the gateway carries.
    pub fn nat_gateways(&self) -> &[(String, String)] {
        &self.nat_gateways
    }

    /// The links an outbound flow's packets cross on their way from its
    /// NIC to the next hop; inbound records are the same packets seen at
    /// the receiver, so they cross none here.
    pub fn links_of(&self, flow: &FlowReport) -> Vec<String> {
        let mut links = Vec::new();
        if flow.direction != "Outbound" {
            return links;
        }
        // The Internet stands in no VNet: what it sends crosses only the
        // public IP or DNAT rule it is addressed to.
        if self.internet_port.as_ref() == Some(&flow.nic) {
            let to = flow.destination.parse::<SocketAddr>().ok();
            let link = (to.and_then(|to| self.dnat_rules.get(&to)))
                .or_else(|| address(&flow.destination).and_then(|a| self.public_ips.get(&a)));
            links.extend(link.cloned());
            return links;
        }
        if flow.next_hop_type.as_deref() == Some("Internet") {
            links.extend(self.ways_out.get(&flow.nic).into_iter().flatten().cloned());
        }
        let Some(&subnet) = self.subnet_of_port.get(&flow.nic) else {
            return links;
        };
        let appliance = flow
            .next_hop_ip_address
            .as_deref()
            .filter(|_| flow.next_hop_type.as_deref() == Some("VirtualAppliance"))
            .and_then(address);
        if let Some(route) = appliance.and_then(|a| self.appliance_routes.get(&(subnet, a))) {
            links.push(route.clone());
        }
        let next = appliance.or_else(|| address(&flow.destination));
        let next_vnet = next.and_then(|a| self.vnet_of_address.get(&a));
        if let Some(peering) = next_vnet.and_then(|v| self.peerings.get(&(subnet.vnet, *v))) {
            links.push(peering.clone());
        }
        links
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::cytoscape::elements;

    /// A flow record as `vnetd flows` reports it.
    fn flow(nic: &str, destination: &str, next_hop: Option<(&str, &str)>) -> FlowReport {
        FlowReport {
            next_hop_type: next_hop.map(|(t, _)| t.to_string()),
            next_hop_ip_address: next_hop
                .map(|(_, a)| a.to_string())
                .filter(|a| !a.is_empty()),
            packets_forward: 1,
            bytes_forward: 100,
            packets_reverse: 1,
            bytes_reverse: 100,
            ..crate::api::report::sample_flow(nic, "10.9.9.9:40000", destination)
        }
    }

    /// On the Internet edge example, each way out and in carries the
    /// flows that take it: the edges are found by their ends in the
    /// page's own elements.
    #[test]
    fn internet_flows_cross_the_way_their_sender_leaves_or_they_come_in() {
        let text = include_str!("../../config/internet-edge.yaml");
        let loaded = crate::plan::parse_str("internet-edge.yaml", text).expect("the example");
        let snapshot = Snapshot::compile(loaded.topology, 0);
        let picture = Picture::of(&snapshot);
        let map = LinkMap::of(&snapshot, &picture);
        let drawn = elements(&picture);
        let edge = |from: &str, to: &str| -> String {
            let found = drawn.iter().find(|e| {
                e["data"]["source"].as_str() == Some(from)
                    && e["data"]["target"].as_str() == Some(to)
            });
            let id = found.and_then(|e| e["data"]["id"].as_str());
            id.unwrap_or_else(|| panic!("no edge {from} -> {to}"))
                .to_string()
        };
        let (nat, subnet) = ("nat_gateway_0_hub_nat", "subnet_0_0_AzureFirewallSubnet");
        let internet = Some(("Internet", ""));
        let echo = "203.0.113.10:80";
        assert_eq!(
            map.links_of(&flow("hub-fw", echo, internet)),
            [edge(subnet, nat), edge(nat, "internet")]
        );
        assert_eq!(
            map.links_of(&flow("vm2", echo, internet)),
            [edge("nic_1_vm2", "internet")]
        );
        assert_eq!(
            map.links_of(&flow("vm3", echo, internet)),
            [edge("nic_2_vm3", "internet")]
        );
        assert_eq!(
            map.links_of(&flow("vm1", echo, Some(("VirtualAppliance", "10.0.1.4")))),
            [
                edge("subnet_1_0_app", "firewall_0_hub_fw"),
                edge("vnet_0_hub", "vnet_1_spoke1")
            ]
        );
        // From the Internet: by the DNAT rule's address and port, by a
        // NIC's public IP; a NAT gateway's address takes nothing unasked.
        assert_eq!(
            map.links_of(&flow("internet", "198.51.100.20:443", None)),
            [edge("internet", "firewall_0_hub_fw")]
        );
        assert_eq!(
            map.links_of(&flow("internet", "198.51.100.30:80", None)),
            [edge("nic_1_vm2", "internet")]
        );
        assert!(map
            .links_of(&flow("internet", "198.51.100.20:8443", None))
            .is_empty());
        assert!(map
            .links_of(&flow("internet", "198.51.100.10:80", None))
            .is_empty());
        assert_eq!(
            map.nat_gateways(),
            [(edge(nat, "internet"), "hub-nat".to_string())]
        );
    }
}
