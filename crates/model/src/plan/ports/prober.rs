//! The platform's health prober of a VNet with load balancers: a port named
//! `probe-<vnet>`, and so is its namespace, behind the lab's `netns_prefix`;
//! in the subnet of the first frontend of the
//! VNet's first load balancer, owning 168.63.129.16 (Azure's host virtual
//! IP, the source of every health probe). Replies to that address from the
//! VNet end here, consumed by the fabric.

use super::super::names::{prober_name, prober_netns};
use super::super::{Port, PortIdx};
use super::kind::{BringUp, PortKind, Traits};
use crate::topology::{TiVec, Topology, PROBE_SOURCE};
use std::net::IpAddr;

pub const KIND: &str = "prober";

/// What sets a health prober apart.
pub const TRAITS: Traits = Traits {
    name: KIND,
    // 168.63.129.16 alone, as a /32 in no subnet, everything out of
    // its TUN with no gateway address: the fabric takes its probes to
    // the backends of its VNet.
    bring_up: BringUp::PlatformAddress,
    // Every probe stays in the workers.
    fast_path: false,
    // Its namespace ends the datagrams.
    takes_udp_runs: true,
    listed: true,
    holds_addresses: true,
    in_vnet: true,
    netns_derived: false,
};

/// The port's name, which is its namespace's name too, behind the lab's
/// `netns_prefix`.
pub fn name(vnet: &str) -> String {
    prober_name(vnet)
}

/// One port per VNet with a load balancer (that has a frontend), in VNet
/// order.
pub fn derive(topology: &Topology, ports: &mut TiVec<PortIdx, Port>) {
    for (v, vnet, lb) in topology.probed_vnets() {
        // A private frontend's subnet, else (a public load balancer) a
        // backend's.
        let backends = lb.pools.iter().flat_map(|p| p.nics.iter());
        let subnet = lb
            .frontends
            .iter()
            .find_map(|f| f.subnet)
            .or_else(|| backends.map(|&n| topology.nics[n].subnet).next());
        let Some(subnet) = subnet else {
            continue;
        };
        ports.push(super::one_address::one_address(
            PortKind::Prober { vnet: v },
            name(&vnet.name),
            prober_netns(&topology.netns_prefix, &vnet.name),
            (subnet, IpAddr::V4(PROBE_SOURCE)),
            lb.line,
            topology.placement.vnet_host(v),
        ));
    }
}
