//! A NIC of the topology file: a namespace of its own standing for the VM,
//! named as the file says, with the TUN `eth0`.

use super::super::{Port, PortIdx, PORT_INTERFACE};
use super::kind::{BringUp, PortKind, Traits};
use crate::topology::{TiVec, Topology};

pub const KIND: &str = "vm";

/// What sets a VM's NIC apart.
pub const TRAITS: Traits = Traits {
    name: KIND,
    bring_up: BringUp::Vm,
    // An NVA's and a backend's among them.
    fast_path: true,
    // Its `eth0` counts each datagram, as a NIC counts the packets
    // on the wire (and as vnetd counts them).
    takes_udp_runs: false,
    listed: true,
    holds_addresses: true,
    in_vnet: true,
    netns_derived: false,
};

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
