//! A Private Endpoint: a port named after the endpoint, and so is its
//! namespace, behind the lab's `netns_prefix`; in the endpoint's subnet,
//! owning its address. Its namespace holds the PaaS resource's face as
//! reached through the endpoint: a responder that names the resource and
//! the address it was reached on.

use super::super::{Port, PortIdx, PortKind};
use crate::topology::{TiVec, Topology};

pub const KIND: &str = "private-endpoint";

/// The namespace of the endpoint `name`, in a lab whose `netns_prefix` is
/// `prefix`.
pub fn netns(prefix: &str, name: &str) -> String {
    format!("{prefix}{name}")
}

/// One port per Private Endpoint, in file order.
pub fn derive(topology: &Topology, ports: &mut TiVec<PortIdx, Port>) {
    for (e, pe) in topology.private_endpoints.iter_enumerated() {
        ports.push(super::one_address::one_address(
            PortKind::PrivateEndpoint { endpoint: e },
            pe.name.clone(),
            netns(&topology.netns_prefix, &pe.name),
            (pe.subnet, pe.address),
            pe.line,
            topology.placement.vnet_host(pe.subnet.vnet),
        ));
    }
}
