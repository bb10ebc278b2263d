//! The ports of a resource that runs as instances (a gateway, a Route
//! Server), one per address: named after the resource and the instance,
//! as `plan/names.rs` names them.

use super::super::names::{instance_name, instance_netns};
use super::super::Port;
use super::kind::PortKind;
use super::one_address::one_address;
use crate::topology::{HostIdx, SubnetRef, Topology};
use std::net::IpAddr;

/// The ports of a resource run as instances, one per address in `subnet`:
/// instance `i` is named `<name>-<i>`, and so is its namespace, behind the
/// lab's `netns_prefix`.
pub(super) fn instances<'a>(
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
