//! A Private Endpoint: a port named after the endpoint, and so is its
//! namespace, behind the lab's `netns_prefix`; in the endpoint's subnet,
//! owning its address. Its namespace holds the PaaS resource's face as
//! reached through the endpoint: a responder that names the resource and
//! the address it was reached on.

use super::super::{Port, PortIdx};
use super::kind::{BringUp, NameClaim, PortKind, Traits};
use crate::topology::{PrivateEndpointIdx, TiVec, Topology};

pub const KIND: &str = "private-endpoint";

/// What sets a Private Endpoint apart.
pub const TRAITS: Traits = Traits {
    name: KIND,
    // The PaaS resource's face: a guest with the endpoint's address.
    bring_up: BringUp::Guest,
    fast_path: false,
    takes_udp_runs: false,
    listed: true,
    holds_addresses: true,
    in_vnet: true,
    netns_derived: false,
};

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

/// The refusal of its name speaks of the Private Endpoint, at the
/// endpoint.
pub fn name_claim(topology: &Topology, endpoint: PrivateEndpointIdx) -> NameClaim {
    NameClaim {
        what: "the Private Endpoint".to_string(),
        key: format!(
            "private_endpoints[{}]",
            topology.private_endpoints[endpoint].name
        ),
    }
}
