//! A NIC of the topology file: a namespace of its own standing for the VM,
//! named as the file says, with the TUN `eth0`.

use super::super::{Port, PortIdx, PortKind, PORT_INTERFACE};
use crate::topology::{TiVec, Topology};

pub const KIND: &str = "vm";

/// One port per NIC of the file, in file order (same indices).
pub fn derive(topology: &Topology, ports: &mut TiVec<PortIdx, Port>) {
    for (n, nic) in topology.nics.iter_enumerated() {
        ports.push(Port {
            kind: PortKind::Vm,
            name: nic.name.clone(),
            subnet: nic.subnet,
            ip_configurations: nic.ip_configurations.clone(),
            ip_forwarding: nic.ip_forwarding,
            network_security_group: nic.network_security_group,
            application_security_groups: nic.application_security_groups.clone(),
            netns: nic.netns.clone(),
            interface: PORT_INTERFACE.into(),
            line: nic.line,
            host: topology.nic_host(n),
        });
    }
}
