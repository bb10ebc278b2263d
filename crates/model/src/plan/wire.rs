//! How a lab spread over machines names its ports between them: the same
//! on every machine, since each derives it from the same file.
//!
//! Azure's hosts carry a VNet's traffic between them encapsulated, with an
//! identifier of the virtual network and the destination VM's own MAC
//! inside. vnetd does the same in VXLAN: each VNet has a VXLAN network
//! identifier ([`vnet_vni`]), and each port a MAC address ([`port_mac`])
//! that the receiving machine turns back into the port.
//!
//! The machines also tell each other, over the host mesh, what their
//! gateways learned and their probes found, naming gateways, load
//! balancers, probes and NICs by their positions in the file. Two machines
//! understand each other exactly when they number all of these alike:
//! [`wire_digest`] is the digest of that numbering, which the machines
//! compare before they take each other's packets and routes.

use super::{Plan, PortIdx};
use crate::topology::{Topology, VnetIdx};
use std::hash::Hasher;

/// The first three bytes of every port's MAC: locally administered,
/// `56:58` ("VX").
const PORT_MAC_PREFIX: [u8; 3] = [0x02, 0x56, 0x58];

/// The most ports a spread lab names (24 bits of MAC).
pub const MAX_WIRE_PORTS: usize = 1 << 24;

/// The MAC a port is addressed by between machines.
#[inline]
pub fn port_mac(port: PortIdx) -> [u8; 6] {
    let [_, high, middle, low] = (port.index() as u32).to_be_bytes();
    let [a, b, c] = PORT_MAC_PREFIX;
    [a, b, c, high, middle, low]
}

/// The port a MAC names, if it names one.
#[inline]
pub fn port_of_mac(mac: &[u8]) -> Option<PortIdx> {
    match mac {
        [a, b, c, high, middle, low] if [*a, *b, *c] == PORT_MAC_PREFIX => Some(PortIdx::new(
            u32::from_be_bytes([0, *high, *middle, *low]) as usize,
        )),
        _ => None,
    }
}

/// The VXLAN network identifier of a VNet: its position in the file, from
/// 1 (a VNI of 0 is left unused).
#[inline]
pub fn vnet_vni(vnet: VnetIdx) -> u32 {
    vnet.index() as u32 + 1
}

impl Plan {
    /// The VNI a port's packets travel with: its VNet's (a gateway's
    /// ports, and a site's tunnels to it, are in the gateway's VNet).
    #[inline]
    pub fn port_vni(&self, port: PortIdx) -> u32 {
        vnet_vni(self.ports[port].subnet.vnet)
    }
}

/// Bumped whenever what [`wire_digest`] covers, or how the wire names
/// things, changes: machines of two vnetd versions that would name ports
/// otherwise never trust each other.
const WIRE_SCHEME: &str = "vnetd wire 1";

/// The digest (FNV-1a, 64 bits) of everything two machines of a spread lab
/// must agree on to understand each other's packets and routes, and
/// nothing else:
///
/// - the hosts, in order, by name and underlay address (the placement's
///   host numbers);
/// - the VNets, in order, by name, and the host of each (a VNet's VNI is
///   its position; its gateways and prober run on its host);
/// - the plan's ports, in order (a port's MAC is its position), by name
///   and kind, with the host it runs on and the VNI it is reached with;
/// - the gateways, in order, by name, VNet and number of instances (a
///   learned route names its gateway and instance by position);
/// - the load balancers, in order, by name and VNet, and their probes, in
///   order, by name (a backend found down names its load balancer, probe
///   and NIC by position; the NICs are the plan's first ports).
///
/// Routes, NSGs, addresses, peerings and every other policy are left out:
/// two machines may run different policies for a moment, as Azure's hosts
/// do while a change rolls out, and still deliver each packet to the port
/// it was meant for. Which machine computes it (`--host`) does not count.
pub fn wire_digest(topology: &Topology, plan: &Plan) -> u64 {
    let mut hasher = fnv::FnvHasher::default();
    let mut text = |part: &str| {
        hasher.write_usize(part.len());
        hasher.write(part.as_bytes());
    };
    text(WIRE_SCHEME);
    let placement = &topology.placement;
    for host in &placement.hosts {
        text("host");
        text(&host.name);
        text(&host.underlay_address.to_string());
    }
    for (index, vnet) in topology.vnets.iter_enumerated() {
        text("vnet");
        text(&vnet.name);
        text(&placement.vnet_host(index).index().to_string());
    }
    for (port, p) in plan.ports.iter_enumerated() {
        text("port");
        text(&p.name);
        text(p.kind.name());
        text(&p.host.index().to_string());
        text(&plan.port_vni(port).to_string());
    }
    for gateway in &topology.gateways {
        text("gateway");
        text(&gateway.name);
        text(&gateway.vnet.index().to_string());
        text(&gateway.instances.len().to_string());
    }
    for balancer in &topology.load_balancers {
        text("load balancer");
        text(&balancer.name);
        text(&balancer.vnet.index().to_string());
        for probe in &balancer.probes {
            text("probe");
            text(&probe.name);
        }
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ports_mac_names_it_back_and_nothing_else_does() {
        for index in [0, 1, 255, 256, 65_535, MAX_WIRE_PORTS - 1] {
            let port = PortIdx::new(index);
            assert_eq!(port_of_mac(&port_mac(port)), Some(port));
        }
        assert_eq!(port_mac(PortIdx::new(0x01_02_03)), [2, 0x56, 0x58, 1, 2, 3]);
        assert_eq!(port_of_mac(&[2, 0x56, 0x59, 0, 0, 1]), None);
        assert_eq!(port_of_mac(&[2, 0x56, 0x58, 0, 0]), None);
        assert_eq!(vnet_vni(VnetIdx::new(0)), 1);
    }

    const HOSTS: &str = "\nhosts:\n  - {name: h1, underlay_address: 192.0.2.1}\n  - {name: h2, underlay_address: 192.0.2.2}\n\nvnets:\n";

    /// The digest of `text` (the ha-nva example, spread over two hosts
    /// with `spoke1` on h2) as host `host` computes it.
    fn digest_of(text: &str, host: &str) -> u64 {
        let topology = crate::topology::parse_str("ha-nva.yaml", text)
            .unwrap_or_else(|e| panic!("{e:?}"))
            .topology;
        let mut topology = topology;
        topology.placement.run_on(Some(host)).unwrap();
        wire_digest(&topology, &Plan::derive(&topology))
    }

    fn spread() -> String {
        include_str!("../../../../config/ha-nva.yaml")
            .replace("\nvnets:\n", HOSTS)
            .replace("  - name: spoke1\n", "  - name: spoke1\n    host: h2\n")
    }

    #[test]
    fn policy_changes_keep_the_wire_digest_and_numbering_changes_do_not() {
        let text = spread();
        let digest = digest_of(&text, "h1");
        // Every machine computes the same.
        assert_eq!(digest_of(&text, "h2"), digest);
        // Policy: an NSG rule's priority, a route's prefix.
        let policy = text.replacen("priority: 100", "priority: 110", 1);
        assert_ne!(policy, text);
        assert_eq!(digest_of(&policy, "h1"), digest);
        let route = text.replacen(
            "address_prefix: 10.2.0.0/16",
            "address_prefix: 10.2.0.0/17",
            1,
        );
        assert_ne!(route, text);
        assert_eq!(digest_of(&route, "h1"), digest);
        // Numbering: a VNet moved to another host, a probe renamed, the
        // hosts' addresses.
        let moved = text.replace("  - name: spoke1\n    host: h2\n", "  - name: spoke1\n");
        assert_ne!(digest_of(&moved, "h1"), digest);
        let probe = text
            .replace("{name: ssh, protocol", "{name: ssh-check, protocol")
            .replace("probe: ssh,", "probe: ssh-check,");
        assert_ne!(probe, text);
        assert_ne!(digest_of(&probe, "h1"), digest);
        let address = text.replace("192.0.2.2}", "192.0.2.9}");
        assert_ne!(digest_of(&address, "h1"), digest);
    }
}
