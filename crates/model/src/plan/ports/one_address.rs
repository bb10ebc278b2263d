//! The shape of a port vnetd adds for a service of its own (a firewall,
//! a gateway instance, Azure DNS, a Private Endpoint and the like): one
//! address, no NSG. A file apart from `ports/mod.rs`, which names instances
//! after `plan/names.rs`, since the name checks read these ports' modules.

use super::super::{Port, PORT_INTERFACE};
use super::kind::PortKind;
use crate::topology::{HostIdx, IpConfiguration, SubnetRef};
use std::net::IpAddr;

/// A port vnetd adds with one address (`ipconfig1`): no NSG or ASGs, no IP
/// forwarding, its TUN named [`PORT_INTERFACE`].
pub(super) fn one_address(
    kind: PortKind,
    name: String,
    netns: String,
    (subnet, address): (SubnetRef, IpAddr),
    line: usize,
    host: HostIdx,
) -> Port {
    Port {
        kind,
        name,
        subnet,
        ip_configurations: vec![IpConfiguration {
            name: "ipconfig1".into(),
            address,
        }],
        ip_forwarding: false,
        network_security_group: None,
        application_security_groups: Vec::new(),
        netns,
        interface: PORT_INTERFACE.into(),
        line,
        host,
    }
}
