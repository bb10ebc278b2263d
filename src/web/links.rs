//! Which of the picture's links a flow crosses: the peering between the
//! sender's VNet and the VNet of the address its route leads to, and the
//! appliance route that leads it to an appliance. Built once per
//! published snapshot, from the same picture the page draws.

use crate::api::FlowReport;
use crate::graph::cytoscape::{appliance_route_edge_id, peering_edge_id};
use crate::graph::{ApplianceHop, Picture};
use crate::snapshot::Snapshot;
use crate::topology::{SubnetRef, VnetIdx};
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
        for port in &snapshot.plan.ports {
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
        map
    }

    /// The links an outbound flow's packets cross on their way from its
    /// NIC to the next hop; inbound records are the same packets seen at
    /// the receiver, so they cross none here.
    pub fn links_of(&self, flow: &FlowReport) -> Vec<String> {
        let mut links = Vec::new();
        if flow.direction != "Outbound" {
            return links;
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
