//! An Azure Firewall: a port named after the firewall, and so is its
//! namespace, behind the lab's `netns_prefix`; in its VNet's
//! `AzureFirewallSubnet`, owning the firewall's private (front) address
//! and its instances' addresses (see
//! [`crate::topology::AzureFirewall::instance_addresses`]: the sources of
//! what it DNATs), with IP forwarding. The daemon judges what reaches it by the firewall's policy
//! (its inbound stage, see `snapshot::firewalls`); the namespace's kernel
//! forwards what is admitted back into the fabric, where the
//! `AzureFirewallSubnet`'s routes take it on; what only its application
//! rules admit (TCP no network rule matched, to an application rule's
//! port) goes to its proxy there instead, which judges the name asked
//! and connects onward.

use super::super::{Port, PortIdx, PortKind};
use crate::topology::IpConfiguration;
use crate::topology::{TiVec, Topology};

pub const KIND: &str = "firewall";

/// The loopback port of the firewall's proxy in its namespace: what its
/// application rules judge by name is handed to it there.
pub const PROXY_LISTENER: u16 = 61090;

/// The IP configurations of the instances' addresses are named
/// `instance0`, `instance1`, after the front address's `ipconfig1`.
pub const INSTANCE_CONFIGURATION: &str = "instance";

/// The namespace of the firewall `name`, in a lab whose `netns_prefix` is
/// `prefix`.
pub fn netns(prefix: &str, name: &str) -> String {
    format!("{prefix}{name}")
}

/// One port per firewall, in file order.
pub fn derive(topology: &Topology, ports: &mut TiVec<PortIdx, Port>) {
    for (f, fw) in topology.firewalls.iter_enumerated() {
        let port = super::one_address::one_address(
            PortKind::Firewall { firewall: f },
            fw.name.clone(),
            netns(&topology.netns_prefix, &fw.name),
            (fw.subnet, fw.private_ip),
            fw.line,
            topology.placement.vnet_host(fw.vnet),
        );
        let mut ip_configurations = port.ip_configurations.clone();
        ip_configurations.extend(fw.instance_addresses().into_iter().enumerate().map(
            |(n, address)| IpConfiguration {
                name: format!("{INSTANCE_CONFIGURATION}{n}"),
                address,
            },
        ));
        ports.push(Port {
            ip_forwarding: true,
            ip_configurations,
            ..port
        });
    }
}
