//! A gateway instance: a port in the gateway's `GatewaySubnet` owning the
//! instance's address, with IP forwarding and no NSG. It is named
//! `<gateway>-<instance>`, and so is its namespace, behind the lab's
//! `netns_prefix`; the namespace runs the gateway's BGP speaker.

use super::super::names::{instance_name, instance_netns};
use super::super::{Port, PortIdx, PortKind, PORT_INTERFACE};
use crate::topology::{IpConfiguration, TiVec, Topology};

pub const KIND: &str = "gateway-instance";

/// The port's name, which is its namespace's name too, behind the lab's
/// `netns_prefix`.
pub fn name(gateway: &str, instance: usize) -> String {
    instance_name(gateway, instance)
}

/// One port per instance of each gateway, in gateway order.
pub fn derive(topology: &Topology, ports: &mut TiVec<PortIdx, Port>) {
    for (g, gw) in topology.gateways.iter_enumerated() {
        for (i, address) in gw.instances.iter().enumerate() {
            let name = name(&gw.name, i);
            ports.push(Port {
                kind: PortKind::GatewayInstance {
                    gateway: g,
                    instance: i,
                },
                name: name.clone(),
                subnet: gw.subnet,
                ip_configurations: vec![IpConfiguration {
                    name: "ipconfig1".into(),
                    address: *address,
                }],
                ip_forwarding: true,
                network_security_group: None,
                application_security_groups: Vec::new(),
                netns: instance_netns(&topology.netns_prefix, &gw.name, i),
                interface: PORT_INTERFACE.into(),
                line: gw.line,
                host: topology.placement.vnet_host(gw.vnet),
            });
        }
    }
}
