//! The emulated Internet: one port named `internet`, whose namespace is
//! named after the lab's first port's (`vm1.internet`), so two labs side
//! by side never share it. It owns the addresses of the file's Internet
//! servers and sends everything else out of its TUN: what the lab's public
//! addresses answer comes back through the fabric. It stands in no VNet:
//! the subnet it names (the first VNet's first) is a placeholder the
//! decision never reads, since packets from the Internet are decided by
//! the public addresses they are sent to.
//!
//! A lab spread over machines has its Internet on the first machine.

use super::super::{Port, PortIdx, PortKind, PORT_INTERFACE};
use crate::topology::{
    HostIdx, IpConfiguration, SubnetIdx, SubnetRef, TiVec, Topology, VnetIdx, FIRST_HOST,
};

pub const KIND: &str = "internet";

/// The port's name.
pub const NAME: &str = "internet";

/// The Internet's namespace, named after the lab's first port's.
pub fn netns(first_port_netns: &str) -> String {
    format!("{first_port_netns}.internet")
}

/// The Internet's port, when the lab has an Internet and a port to name
/// its namespace after.
pub fn derive(topology: &Topology, ports: &mut TiVec<PortIdx, Port>) {
    if !topology.edge.has_internet() || topology.vnets.is_empty() {
        return;
    }
    let Some(first) = ports.first().map(|p| p.netns.clone()) else {
        return;
    };
    let servers = topology.edge.servers();
    let mut ip_configurations: Vec<IpConfiguration> = topology
        .edge
        .internet_addresses()
        .into_iter()
        .map(|address| IpConfiguration {
            name: servers
                .iter()
                .find(|s| s.address == address)
                .map_or_else(|| NAME.to_string(), |s| s.name.clone()),
            address,
        })
        .collect();
    // The public faces of the PaaS resources behind Private Endpoints.
    for (address, resource) in paas_public_faces(topology) {
        if !ip_configurations.iter().any(|c| c.address == address) {
            ip_configurations.push(IpConfiguration {
                name: resource,
                address,
            });
        }
    }
    ports.push(Port {
        kind: PortKind::Internet,
        name: NAME.into(),
        subnet: SubnetRef {
            vnet: VnetIdx::new(0),
            subnet: SubnetIdx::new(0),
        },
        ip_configurations,
        ip_forwarding: true,
        network_security_group: None,
        application_security_groups: Vec::new(),
        netns: netns(&first),
        interface: PORT_INTERFACE.into(),
        line: topology.edge.internet.as_ref().map_or(0, |i| i.line),
        host: internet_host(topology),
    });
}

/// The public address of each PaaS resource behind a Private Endpoint,
/// then of each declared in `paas_resources`, each once, with the
/// resource's public name: on the Internet, its
/// public face answers there.
pub fn paas_public_faces(topology: &Topology) -> Vec<(std::net::IpAddr, String)> {
    let mut out: Vec<(std::net::IpAddr, String)> = Vec::new();
    for pe in &topology.private_endpoints {
        let address = std::net::IpAddr::V4(pe.target.public_address);
        if !out.iter().any(|(a, _)| *a == address) {
            out.push((address, pe.target.public_name()));
        }
    }
    for r in &topology.paas_resources {
        let address = std::net::IpAddr::V4(r.public_address);
        if !out.iter().any(|(a, _)| *a == address) {
            out.push((address, r.public_name()));
        }
    }
    out
}

/// The machine the Internet runs on: the first.
fn internet_host(_topology: &Topology) -> HostIdx {
    FIRST_HOST
}
