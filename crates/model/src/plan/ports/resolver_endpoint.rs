//! The endpoints of a DNS Private Resolver: a port per inbound and per
//! outbound endpoint, named `<resolver>-<endpoint>`, and so is its
//! namespace, behind the lab's `netns_prefix`; in the endpoint's subnet,
//! owning its address. The daemon answers the DNS queries that reach an
//! inbound endpoint as Azure DNS of the resolver's VNet, and sends the
//! queries its forwarding rules take from an outbound endpoint.

use super::super::{Port, PortIdx, PortKind};
use crate::topology::{ResolverEndpoint, TiVec, Topology};

pub const INBOUND_KIND: &str = "resolver-inbound";
pub const OUTBOUND_KIND: &str = "resolver-outbound";

/// The name of endpoint `endpoint` of `resolver`: its port's, and its
/// namespace's behind the lab's `netns_prefix`.
pub fn name(resolver: &str, endpoint: &str) -> String {
    format!("{resolver}-{endpoint}")
}

/// One port per endpoint: every resolver's inbound endpoints, then its
/// outbound ones, in file order.
pub fn derive(topology: &Topology, ports: &mut TiVec<PortIdx, Port>) {
    for (r, resolver) in topology.dns_resolvers.iter_enumerated() {
        let inbound = (resolver.inbound.iter().enumerate()).map(|(e, endpoint)| {
            let kind = PortKind::ResolverInbound {
                resolver: r,
                endpoint: e,
            };
            (kind, endpoint)
        });
        let outbound = (resolver.outbound.iter().enumerate()).map(|(e, endpoint)| {
            let kind = PortKind::ResolverOutbound {
                resolver: r,
                endpoint: e,
            };
            (kind, endpoint)
        });
        for (kind, endpoint) in inbound.chain(outbound) {
            ports.push(port(topology, &resolver.name, kind, endpoint));
        }
    }
}

fn port(topology: &Topology, resolver: &str, kind: PortKind, endpoint: &ResolverEndpoint) -> Port {
    let name = name(resolver, &endpoint.name);
    let subnet = endpoint.subnet;
    super::one_address::one_address(
        kind,
        name.clone(),
        format!("{}{name}", topology.netns_prefix),
        (subnet, endpoint.address),
        endpoint.line,
        topology.placement.vnet_host(subnet.vnet),
    )
}
