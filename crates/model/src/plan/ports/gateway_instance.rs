//! A gateway instance: a port in the gateway's `GatewaySubnet` owning the
//! instance's address, with IP forwarding and no NSG. It is named
//! `<gateway>-<instance>`, and so is its namespace, behind the lab's
//! `netns_prefix`; the namespace runs the gateway's BGP speaker.

use super::super::names::instance_name;
use super::super::{Port, PortIdx};
use super::kind::{BringUp, PortKind, Traits};
use crate::topology::{TiVec, Topology};

pub const KIND: &str = "gateway-instance";

/// What sets a gateway instance apart.
pub const TRAITS: Traits = Traits {
    name: KIND,
    // A VM's in GatewaySubnet, forwarding: it holds the instance's
    // address and runs the gateway's BGP speaker.
    bring_up: BringUp::Guest,
    // Every packet a gateway carries stays in the workers.
    fast_path: false,
    // Its namespace ends the datagrams or hands them out of Azure.
    takes_udp_runs: true,
    listed: true,
    holds_addresses: true,
    in_vnet: true,
    netns_derived: false,
};

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
        let each = super::instances::instances(
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
