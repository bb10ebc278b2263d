//! The BGP model speaks IPv4 alone: these keep the IPv4 addresses and
//! networks of what the topology gives and drop the IPv6 ones.

use ipnet::{IpNet, Ipv4Net};
use std::net::{IpAddr, Ipv4Addr};

/// The address, when it is IPv4: the model speaks IPv4 only.
pub fn v4(ip: IpAddr) -> Option<Ipv4Addr> {
    match ip {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(_) => None,
    }
}

/// The IPv4 networks of `nets`, each truncated to its prefix.
pub(super) fn v4_nets(nets: impl IntoIterator<Item = IpNet>) -> Vec<Ipv4Net> {
    nets.into_iter()
        .filter_map(|n| match n {
            IpNet::V4(n) => Some(n.trunc()),
            IpNet::V6(_) => None,
        })
        .collect()
}
