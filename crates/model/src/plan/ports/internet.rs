//! The emulated Internet: one port named `internet`, whose namespace is
//! named after the lab's first port's (`vm1.internet`), so two labs side
//! by side never share it. It holds every address that is not the lab's
//! (see [`lab_prefixes`] and [`holds`]): the file's Internet servers and
//! the PaaS public faces on its `eth0`, every other public address as its
//! own too (ping answers everywhere, and HTTP and HTTPS on
//! [`DEFAULT_ANSWERS`]). What the lab holds (its public addresses, its
//! VNets, the private ranges) it sends out of its TUN, so what the lab's
//! public addresses answer comes back through the fabric. It stands in no VNet:
//! the subnet it names (the first VNet's first) is a placeholder the
//! decision never reads, since packets from the Internet are decided by
//! the public addresses they are sent to.
//!
//! A lab spread over machines has its Internet on the first machine.

use super::super::{Port, PortIdx, PORT_INTERFACE};
use super::kind::{BringUp, NameClaim, PortKind, Traits};
use crate::topology::{
    HostIdx, IpConfiguration, SubnetIdx, SubnetRef, TiVec, Topology, VnetIdx, FIRST_HOST,
};
use ipnet::IpNet;
use std::net::IpAddr;

pub const KIND: &str = "internet";

/// What sets the Internet's port apart.
pub const TRAITS: Traits = Traits {
    name: KIND,
    bring_up: BringUp::Internet,
    // The kernel translates its flows with the lab's public addresses.
    fast_path: true,
    // It forwards to VMs, which would get the run whole.
    takes_udp_runs: false,
    listed: true,
    // It holds every address that is not the lab's: a packet sent to
    // one is decided by the edge.
    holds_addresses: false,
    // Its subnet is a placeholder the decision never reads.
    in_vnet: false,
    // Named after the lab's first port's.
    netns_derived: true,
};

/// The port's name.
pub const NAME: &str = "internet";

/// The Internet's namespace, named after the lab's first port's.
pub fn netns(first_port_netns: &str) -> String {
    format!("{first_port_netns}.internet")
}

/// The Internet's port, when the lab has an Internet and a port to name
/// its namespace after.
pub fn derive(topology: &Topology, ports: &mut TiVec<PortIdx, Port>) {
    if !topology.edge.has_internet() || topology.vnets.is_empty() {
        return;
    }
    let Some(first) = ports.first().map(|p| p.netns.clone()) else {
        return;
    };
    let servers = topology.edge.servers();
    let mut ip_configurations: Vec<IpConfiguration> = topology
        .edge
        .internet_addresses()
        .into_iter()
        .map(|address| IpConfiguration {
            name: servers
                .iter()
                .find(|s| s.address == address)
                .map_or_else(|| NAME.to_string(), |s| s.name.clone()),
            address,
        })
        .collect();
    // The public faces of the PaaS resources behind Private Endpoints.
    for (address, resource) in paas_public_faces(topology) {
        if !ip_configurations.iter().any(|c| c.address == address) {
            ip_configurations.push(IpConfiguration {
                name: resource,
                address,
            });
        }
    }
    ports.push(Port {
        kind: PortKind::Internet,
        name: NAME.into(),
        subnet: SubnetRef {
            vnet: VnetIdx::new(0),
            subnet: SubnetIdx::new(0),
        },
        ip_configurations,
        ip_forwarding: true,
        network_security_group: None,
        application_security_groups: Vec::new(),
        netns: netns(&first),
        interface: PORT_INTERFACE.into(),
        line: topology.edge.internet.as_ref().map_or(0, |i| i.line),
        host: internet_host(topology),
    });
}

/// The public address of each PaaS resource behind a Private Endpoint,
/// then of each declared in `paas_resources`, each once, with the
/// resource's public name: on the Internet, its
/// public face answers there.
pub fn paas_public_faces(topology: &Topology) -> Vec<(std::net::IpAddr, String)> {
    let mut out: Vec<(std::net::IpAddr, String)> = Vec::new();
    for pe in &topology.private_endpoints {
        let address = std::net::IpAddr::V4(pe.target.public_address);
        if !out.iter().any(|(a, _)| *a == address) {
            out.push((address, pe.target.public_name()));
        }
    }
    for r in &topology.paas_resources {
        let address = std::net::IpAddr::V4(r.public_address);
        if !out.iter().any(|(a, _)| *a == address) {
            out.push((address, r.public_name()));
        }
    }
    out
}

/// The TCP ports the Internet answers on every address it holds that no
/// server of its own is bound to, each with the loopback port its default
/// responder listens on (outside Linux's ephemeral range, so no client of
/// the namespace ever holds it): HTTP and HTTPS, as `ifconfig.me` does.
pub const DEFAULT_ANSWERS: [(u16, u16); 2] = [(80, 61_080), (443, 61_443)];

/// Ranges no Internet address is in: RFC 1918, the shared address space
/// of carrier-grade NAT (RFC 6598) and IPv6 unique local addresses. What
/// the Internet sends there goes to the lab, which drops what is not a
/// reply it expects.
const NOT_ON_THE_INTERNET: [&str; 5] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "fc00::/7",
];

/// What the Internet's namespace sends out of its TUN, to the lab: every
/// public address and prefix of the lab (public IPs and prefixes, NAT
/// gateways', load balancers' public frontends, default outbound
/// addresses), every VNet's address space (a VNet may use public ranges,
/// which the Internet then does not hold) and the private ranges. The
/// rest of the address space the Internet holds. Sorted, each once.
pub fn lab_prefixes(topology: &Topology) -> Vec<IpNet> {
    let edge = &topology.edge;
    let mut out: Vec<IpNet> = NOT_ON_THE_INTERNET
        .iter()
        .map(|n| n.parse().expect("a literal prefix"))
        .collect();
    let addresses = (edge.public_ips.iter().map(|p| p.address))
        .chain(
            edge.nat_gateways
                .iter()
                .flat_map(|g| g.addresses.iter().copied()),
        )
        .chain(edge.default_outbound_addresses.values().copied())
        .chain(
            (topology.load_balancers.iter())
                .flat_map(|lb| lb.frontends.iter().filter(|f| f.is_public()))
                .map(|f| f.address),
        );
    out.extend(addresses.map(IpNet::from));
    out.extend(edge.public_ip_prefixes.iter().map(|p| p.prefix.trunc()));
    out.extend(
        topology
            .vnets
            .iter()
            .flat_map(|v| v.address_space.iter().map(IpNet::trunc)),
    );
    out.sort();
    out.dedup();
    out
}

/// Whether the Internet holds `address`: it is in none of
/// [`lab_prefixes`] (`prefixes`), nor an address no host may have
/// (unspecified, loopback, link-local, multicast, broadcast).
pub fn holds(prefixes: &[IpNet], address: IpAddr) -> bool {
    let special = match address {
        IpAddr::V4(a) => {
            a.is_unspecified()
                || a.is_loopback()
                || a.is_link_local()
                || a.is_multicast()
                || a.is_broadcast()
                || a.octets()[0] == 0
        }
        IpAddr::V6(a) => {
            a.is_unspecified()
                || a.is_loopback()
                || a.is_multicast()
                || (a.segments()[0] & 0xffc0) == 0xfe80
        }
    };
    !special && !prefixes.iter().any(|p| p.contains(&address))
}

/// The machine the Internet runs on: the first.
fn internet_host(_topology: &Topology) -> HostIdx {
    FIRST_HOST
}

/// The refusal of its name speaks of the Internet, at the file's
/// `internet`.
pub fn name_claim() -> NameClaim {
    NameClaim {
        what: "the Internet".to_string(),
        key: "internet".to_string(),
    }
}
