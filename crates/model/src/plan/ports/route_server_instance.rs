//! A Route Server instance: a port in the Route Server's
//! `RouteServerSubnet` owning the instance's address (one of
//! `virtualRouterIps`), with no NSG. It is named `<route server>-<instance>`,
//! and so is its namespace, behind the lab's `netns_prefix`; the namespace
//! runs the instance's BGP speaker (ASN 65515), which peers with the
//! appliances. It carries only its own BGP sessions: traffic to a route it
//! programs goes to the appliance that announced it, never through it.

use super::super::{Port, PortIdx};
use super::kind::{BringUp, PortKind, Traits};
use crate::topology::{TiVec, Topology};

pub const KIND: &str = "route-server-instance";

/// What sets a Route Server instance apart.
pub const TRAITS: Traits = Traits {
    name: KIND,
    // Like a gateway instance: its address in RouteServerSubnet, and
    // the instance's BGP speaker in the namespace.
    bring_up: BringUp::Guest,
    // It carries only its own BGP sessions.
    fast_path: false,
    takes_udp_runs: false,
    listed: true,
    holds_addresses: true,
    in_vnet: true,
    netns_derived: false,
};

/// One port per instance of each Route Server, in file order.
pub fn derive(topology: &Topology, ports: &mut TiVec<PortIdx, Port>) {
    for (r, rs) in topology.route_servers.iter_enumerated() {
        let host = topology.placement.vnet_host(rs.vnet);
        let kind = |instance| PortKind::RouteServerInstance {
            route_server: r,
            instance,
        };
        let each = super::instances::instances(
            topology,
            (&rs.name, rs.line),
            (rs.subnet, host),
            &rs.instances,
            kind,
        );
        ports.extend(each);
    }
}
