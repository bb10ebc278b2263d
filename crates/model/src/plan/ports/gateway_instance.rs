//! A gateway instance: a port in the gateway's `GatewaySubnet` owning the
//! instance's address, with IP forwarding and no NSG. It is named
//! `<gateway>-<instance>`, and so is its namespace, behind the lab's
//! `netns_prefix`; the namespace runs the gateway's BGP speaker.

use super::super::names::instance_name;
use super::super::{Port, PortIdx, PortKind};
use crate::topology::{TiVec, Topology};

pub const KIND: &str = "gateway-instance";

/// The port's name, which is its namespace's name too, behind the lab's
/// `netns_prefix`.
pub fn name(gateway: &str, instance: usize) -> String {
    instance_name(gateway, instance)
}

/// One port per instance of each gateway, in gateway order.
pub fn derive(topology: &Topology, ports: &mut TiVec<PortIdx, Port>) {
    for (g, gw) in topology.gateways.iter_enumerated() {
        let host = topology.placement.vnet_host(gw.vnet);
        let kind = |instance| PortKind::GatewayInstance {
            gateway: g,
            instance,
        };
        let each = super::instances(
            topology,
            (&gw.name, gw.line),
            (gw.subnet, host),
            &gw.instances,
            kind,
        );
        ports.extend(each.map(|port| Port {
            ip_forwarding: true,
            ..port
        }));
    }
}
