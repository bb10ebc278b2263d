//! A Route Server instance: a port in the Route Server's
//! `RouteServerSubnet` owning the instance's address (one of
//! `virtualRouterIps`), with no NSG. It is named `<route server>-<instance>`,
//! and so is its namespace, behind the lab's `netns_prefix`; the namespace
//! runs the instance's BGP speaker (ASN 65515), which peers with the
//! appliances. It carries only its own BGP sessions: traffic to a route it
//! programs goes to the appliance that announced it, never through it.

use super::super::names::{instance_name, instance_netns};
use super::super::{Port, PortIdx, PortKind, PORT_INTERFACE};
use crate::topology::{IpConfiguration, TiVec, Topology};

pub const KIND: &str = "route-server-instance";

/// One port per instance of each Route Server, in file order.
pub fn derive(topology: &Topology, ports: &mut TiVec<PortIdx, Port>) {
    for (r, rs) in topology.route_servers.iter_enumerated() {
        for (i, address) in rs.instances.iter().enumerate() {
            ports.push(Port {
                kind: PortKind::RouteServerInstance {
                    route_server: r,
                    instance: i,
                },
                name: instance_name(&rs.name, i),
                subnet: rs.subnet,
                ip_configurations: vec![IpConfiguration {
                    name: "ipconfig1".into(),
                    address: *address,
                }],
                ip_forwarding: false,
                network_security_group: None,
                application_security_groups: Vec::new(),
                netns: instance_netns(&topology.netns_prefix, &rs.name, i),
                interface: PORT_INTERFACE.into(),
                line: rs.line,
                host: topology.placement.vnet_host(rs.vnet),
            });
        }
    }
}
