//! The endpoints of a DNS Private Resolver: a port per inbound and per
//! outbound endpoint, named `<resolver>-<endpoint>`, and so is its
//! namespace, behind the lab's `netns_prefix`; in the endpoint's subnet,
//! owning its address. The daemon answers the DNS queries that reach an
//! inbound endpoint as Azure DNS of the resolver's VNet, and sends the
//! queries its forwarding rules take from an outbound endpoint.

use super::super::{Port, PortIdx};
use super::kind::{BringUp, DnsRole, NameClaim, PortKind, Traits};
use crate::topology::{ResolverEndpoint, ResolverIdx, TiVec, Topology};
use std::net::IpAddr;

pub const INBOUND_KIND: &str = "resolver-inbound";
pub const OUTBOUND_KIND: &str = "resolver-outbound";

/// What sets an inbound endpoint apart.
pub const INBOUND_TRAITS: Traits = Traits {
    name: INBOUND_KIND,
    // It sends and receives through its subnet like a VM.
    bring_up: BringUp::Guest,
    fast_path: false,
    takes_udp_runs: false,
    listed: true,
    holds_addresses: true,
    in_vnet: true,
    netns_derived: false,
};

/// What sets an outbound endpoint apart.
pub const OUTBOUND_TRAITS: Traits = Traits {
    name: OUTBOUND_KIND,
    // It sends and receives through its subnet like a VM.
    bring_up: BringUp::Guest,
    fast_path: false,
    takes_udp_runs: false,
    listed: true,
    holds_addresses: true,
    in_vnet: true,
    netns_derived: false,
};

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

/// An inbound endpoint answers at its `address` as Azure DNS of the
/// resolver's VNet.
pub fn inbound_dns_role(topology: &Topology, resolver: ResolverIdx, address: IpAddr) -> DnsRole {
    DnsRole::Answers {
        view: topology.dns_resolvers[resolver].vnet,
        address,
        proxy: None,
    }
}

/// An outbound endpoint sends from its `address` what the resolver's
/// rulesets forward through it.
pub fn outbound_dns_role(resolver: ResolverIdx, endpoint: usize, address: IpAddr) -> DnsRole {
    DnsRole::Sends {
        resolver,
        endpoint,
        address,
    }
}

/// The refusal of its name speaks of the resolver's endpoint, at the
/// resolver.
pub fn name_claim(topology: &Topology, resolver: ResolverIdx) -> NameClaim {
    NameClaim {
        what: "the resolver's endpoint".to_string(),
        key: format!(
            "private_dns_resolvers[{}]",
            topology.dns_resolvers[resolver].name
        ),
    }
}
