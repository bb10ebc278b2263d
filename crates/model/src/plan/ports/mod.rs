//! The kinds of port, one module each: what identifies a port of the kind,
//! how it and its namespace and interface are named, and in which order the
//! kind's ports are derived from the topology. The plan lists the kinds in
//! this order: VM NICs, gateway instances, site tunnels, health probers,
//! firewalls, Route Server instances, Azure DNS, Private Endpoints, DNS Private Resolver endpoints, the Internet.

pub mod azure_dns;
pub mod firewall;
pub mod gateway_instance;
pub mod internet;
pub mod private_endpoint;
pub mod prober;
pub mod resolver_endpoint;
pub mod route_server_instance;
pub mod site_tunnel;
pub mod vm;

mod one_address;

use super::names::{instance_name, instance_netns};
use super::{Port, PortKind};
use crate::topology::{HostIdx, SubnetRef, Topology};
use one_address::one_address;
use std::net::IpAddr;

/// The ports of a resource run as instances, one per address in `subnet`:
/// instance `i` is named `<name>-<i>`, and so is its namespace, behind the
/// lab's `netns_prefix`.
fn instances<'a>(
    topology: &'a Topology,
    (name, line): (&'a str, usize),
    (subnet, host): (SubnetRef, HostIdx),
    addresses: &'a [IpAddr],
    kind: impl Fn(usize) -> PortKind + 'a,
) -> impl Iterator<Item = Port> + 'a {
    addresses.iter().enumerate().map(move |(i, address)| {
        one_address(
            kind(i),
            instance_name(name, i),
            instance_netns(&topology.netns_prefix, name, i),
            (subnet, *address),
            line,
            host,
        )
    })
}
