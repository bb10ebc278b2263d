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

use super::super::{Port, PortIdx};
use super::kind::{BringUp, DnsRole, PortKind, Traits};
use crate::topology::IpConfiguration;
use crate::topology::{FirewallIdx, TiVec, Topology};

pub const KIND: &str = "firewall";

/// What sets a firewall's port apart.
pub const TRAITS: Traits = Traits {
    name: KIND,
    // A forwarding guest without a VM size (the firewall's SKU caps
    // it in the fabric instead), whose kernel translates the sources
    // towards destinations outside its private ranges.
    bring_up: BringUp::Firewall,
    // A forwarding guest whose policy the workers judge on each
    // flow's first packets, as an NSG's.
    fast_path: true,
    // It forwards to VMs, which would get the run whole.
    takes_udp_runs: false,
    listed: true,
    holds_addresses: true,
    in_vnet: true,
    netns_derived: false,
};

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

/// Azure Firewall's DNS proxy with Azure DNS upstream: what it relays, at
/// its private address, is Azure DNS's answer in its VNet. None for a
/// firewall without a policy, whose policy's proxy is off, or which asks
/// DNS servers of its own.
pub fn dns_role(topology: &Topology, firewall: FirewallIdx) -> Option<DnsRole> {
    let fw = &topology.firewalls[firewall];
    let dns = &topology.firewall_policies[fw.policy?].dns;
    if !dns.proxy_enabled || !dns.servers.is_empty() {
        return None;
    }
    Some(DnsRole::Answers {
        view: fw.vnet,
        address: fw.private_ip,
        proxy: Some(firewall),
    })
}
