//! A Private Endpoint: a port named after the endpoint, and so is its
//! namespace, behind the lab's `netns_prefix`; in the endpoint's subnet,
//! owning its address. Its namespace holds the PaaS resource's face as
//! reached through the endpoint: a responder that names the resource and
//! the address it was reached on.

use super::super::{Port, PortIdx, PortKind, PORT_INTERFACE};
use crate::topology::{IpConfiguration, TiVec, Topology};

pub const KIND: &str = "private-endpoint";

/// The namespace of the endpoint `name`, in a lab whose `netns_prefix` is
/// `prefix`.
pub fn netns(prefix: &str, name: &str) -> String {
    format!("{prefix}{name}")
}

/// One port per Private Endpoint, in file order.
pub fn derive(topology: &Topology, ports: &mut TiVec<PortIdx, Port>) {
    for (e, pe) in topology.private_endpoints.iter_enumerated() {
        ports.push(Port {
            kind: PortKind::PrivateEndpoint { endpoint: e },
            name: pe.name.clone(),
            subnet: pe.subnet,
            ip_configurations: vec![IpConfiguration {
                name: "ipconfig1".into(),
                address: pe.address,
            }],
            ip_forwarding: false,
            network_security_group: None,
            application_security_groups: Vec::new(),
            netns: netns(&topology.netns_prefix, &pe.name),
            interface: PORT_INTERFACE.into(),
            line: pe.line,
            host: topology.placement.vnet_host(pe.subnet.vnet),
        });
    }
}
