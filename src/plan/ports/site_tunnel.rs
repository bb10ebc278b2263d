//! The tunnel from an on-premises site to one gateway instance: a TUN
//! `vtiN` named `<site>-to-<gateway>-<instance>`. What comes out of it
//! enters the fabric at the gateway's `GatewaySubnet`.
//!
//! For a VPN site it is in the router's namespace (numbered per site, in
//! the order the connections first name the site's gateways). For an
//! ExpressRoute circuit it is in the namespace of Microsoft's edge router
//! (MSEE) whose link the instance ends (link `i` to instance `i`),
//! numbered per MSEE: the customer edge reaches the VNet through
//! Microsoft's edge, as in Azure.

use super::super::names::{msee_netns, tunnel_name, tunnels};
use super::super::{Port, PortIdx, PortKind};
use crate::topology::{TiVec, Topology};
use std::collections::HashMap;

pub const KIND: &str = "site-tunnel";

/// The port's name.
pub fn name(site: &str, gateway: &str, instance: usize) -> String {
    tunnel_name(site, gateway, instance)
}

/// The TUN's name inside the router's namespace: the site's `n`th tunnel.
pub fn interface(n: usize) -> String {
    format!("vti{n}")
}

/// One port per instance of each gateway a site is connected to (by a
/// site-to-site connection or an ExpressRoute circuit), in connection
/// order.
pub fn derive(topology: &Topology, ports: &mut TiVec<PortIdx, Port>) {
    let mut per_netns: HashMap<String, usize> = HashMap::new();
    for (site, g) in tunnels(topology) {
        let gw = &topology.gateways[g];
        let s = &topology.sites[site];
        let circuit = topology.circuit_of(site, g);
        for i in 0..gw.instances.len() {
            let netns = match circuit {
                Some(c) => msee_netns(topology, &topology.circuits[c], i),
                None => s.router_netns.clone(),
            };
            let n = per_netns.entry(netns.clone()).or_default();
            let interface = interface(*n);
            *n += 1;
            ports.push(Port {
                kind: PortKind::SiteTunnel {
                    site,
                    gateway: g,
                    instance: i,
                },
                name: name(&s.name, &gw.name, i),
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
