//! The tunnel from an on-premises site to one gateway instance: a TUN
//! `vtiN` named `<site>-to-<gateway>-<instance>`. What comes out of it
//! enters the fabric at the gateway's `GatewaySubnet`.
//!
//! For a VPN site it is in the namespace of the router the connection's
//! local network gateway stands for (numbered per router, in the order the
//! connections first name its gateways). For an
//! ExpressRoute circuit it is in the namespace of Microsoft's edge router
//! (MSEE) whose link the instance ends (link `i` to instance `i`),
//! numbered per MSEE: the customer edge reaches the VNet through
//! Microsoft's edge, as in Azure.

use super::super::names::{msee_netns, tunnel_name, tunnels};
use super::super::{Port, PortIdx};
use super::kind::{BringUp, PortKind, Traits};
use crate::topology::{TiVec, Topology};
use std::collections::HashMap;

pub const KIND: &str = "site-tunnel";

/// What sets a site's tunnel apart.
pub const TRAITS: Traits = Traits {
    name: KIND,
    // A TUN of its own name in the router's namespace, which the
    // site builds (see the daemon's `hybrid`).
    bring_up: BringUp::Tunnel,
    // Every packet a gateway carries stays in the workers.
    fast_path: false,
    // The site's router ends the datagrams or routes them on-premises.
    takes_udp_runs: true,
    listed: true,
    holds_addresses: true,
    in_vnet: true,
    netns_derived: false,
};

/// The port's name, from the router's label.
pub fn name(router: &str, gateway: &str, instance: usize) -> String {
    tunnel_name(router, gateway, instance)
}

/// The TUN's name inside the router's namespace: the site's `n`th tunnel.
pub fn interface(n: usize) -> String {
    format!("vti{n}")
}

/// One port per instance of each gateway a site's router is connected to
/// (by a site-to-site connection or an ExpressRoute circuit), in
/// connection order.
pub fn derive(topology: &Topology, ports: &mut TiVec<PortIdx, Port>) {
    let mut per_netns: HashMap<String, usize> = HashMap::new();
    for (at, g) in tunnels(topology) {
        let gw = &topology.gateways[g];
        let site = at.site;
        let s = &topology.sites[site];
        let router = topology.router(at);
        let circuit = topology.circuit_of(site, g);
        for i in 0..gw.instances.len() {
            let netns = match circuit {
                Some(c) => msee_netns(topology, &topology.circuits[c], i),
                None => router.netns.clone(),
            };
            let n = per_netns.entry(netns.clone()).or_default();
            let interface = interface(*n);
            *n += 1;
            ports.push(Port {
                kind: PortKind::SiteTunnel {
                    site,
                    router: at.router,
                    gateway: g,
                    instance: i,
                },
                name: name(&router.label, &gw.name, i),
                subnet: gw.subnet,
                ip_configurations: Vec::new(),
                ip_forwarding: true,
                network_security_group: None,
                application_security_groups: Vec::new(),
                netns,
                interface,
                line: s.line,
                host: topology.placement.site_host(site),
            });
        }
    }
}
