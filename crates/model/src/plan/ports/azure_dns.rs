//! Azure DNS of a VNet: a port named `dns-<vnet>`, whose namespace is named
//! after the VNet's first port's (`vm1.dns`); in the VNet's first subnet, owning
//! 168.63.129.16 (Azure's host virtual IP, where every VNet's VMs ask their
//! names). The daemon answers the queries that reach its namespace with the
//! VNet's view of names (linked Private DNS zones, VM names, public names).
//! Every VNet with a NIC or a Private Endpoint has one.

use super::super::names::{azure_dns_name, azure_dns_netns};
use super::super::{Port, PortIdx};
use super::kind::{BringUp, DnsRole, NameClaim, PortKind, Traits};
use crate::topology::{SubnetIdx, SubnetRef, TiVec, Topology, VnetIdx, AZURE_DNS};
use std::net::IpAddr;

pub const KIND: &str = "azure-dns";

/// What sets Azure DNS's port apart.
pub const TRAITS: Traits = Traits {
    name: KIND,
    // Like the prober: 168.63.129.16 alone, everything out of its TUN.
    bring_up: BringUp::PlatformAddress,
    fast_path: false,
    takes_udp_runs: false,
    // The platform's, one per VNet: not among the lab's NICs.
    listed: false,
    // It holds 168.63.129.16 beside the prober; only its own step of
    // the decision reaches it.
    holds_addresses: false,
    in_vnet: true,
    // Named after the VNet's first port's.
    netns_derived: true,
};

/// One port per VNet that has a NIC or a Private Endpoint, in VNet order.
pub fn derive(topology: &Topology, ports: &mut TiVec<PortIdx, Port>) {
    for (v, vnet) in topology.vnets.iter_enumerated() {
        let first = (topology.nics.iter().find(|n| n.subnet.vnet == v))
            .map(|n| n.netns.clone())
            .or_else(|| {
                (topology
                    .private_endpoints
                    .iter()
                    .find(|p| p.subnet.vnet == v))
                .map(|p| super::private_endpoint::netns(&topology.netns_prefix, &p.name))
            });
        let (Some(first), false) = (first, vnet.subnets.is_empty()) else {
            continue;
        };
        let subnet = SubnetRef {
            vnet: v,
            subnet: SubnetIdx::new(0),
        };
        ports.push(super::one_address::one_address(
            PortKind::AzureDns { vnet: v },
            azure_dns_name(&vnet.name),
            azure_dns_netns(&first),
            (subnet, IpAddr::V4(AZURE_DNS)),
            vnet.line,
            topology.placement.vnet_host(v),
        ));
    }
}

/// It answers at 168.63.129.16 as Azure DNS of its VNet.
pub fn dns_role(vnet: VnetIdx) -> DnsRole {
    DnsRole::Answers {
        view: vnet,
        address: IpAddr::V4(AZURE_DNS),
        proxy: None,
    }
}

/// The refusal of its name speaks of the VNet's Azure DNS, at the VNet.
pub fn name_claim(topology: &Topology, vnet: VnetIdx) -> NameClaim {
    let name = &topology.vnets[vnet].name;
    NameClaim {
        what: format!("Azure DNS of VNet `{name}`"),
        key: format!("vnets[{name}]"),
    }
}
