//! How a packet leaves for the Internet, in Azure's precedence ("What is
//! Azure NAT Gateway", "Default outbound access in Azure"): a user-defined
//! route to an appliance or a gateway first (the routes decide that before
//! this module is asked), then a NAT gateway on the subnet, then the NIC's
//! own public IP, then a public load balancer's outbound rule (or a
//! load-balancing rule's implicit SNAT) for a NIC in its pool, then default
//! outbound access, which a private subnet (`default_outbound_access:
//! false`) does not have, nor a NIC in a Standard load balancer's pool.
//!
//! An Azure Firewall leaves through a NAT gateway on `AzureFirewallSubnet`
//! when there is one ("Scale SNAT ports with Azure NAT Gateway"), else
//! through its own public IP (the first, where Azure picks one of them).

use crate::topology::{
    FirewallIdx, LbOutbound, LoadBalancerIdx, NatGatewayIdx, NicIdx, SubnetRef, Topology,
};
use std::net::IpAddr;

/// A sender the egress question is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EgressSender {
    Nic(NicIdx),
    Firewall(FirewallIdx),
}

/// How a sender's Internet-bound traffic leaves, and with which public
/// address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Egress {
    /// The subnet's NAT gateway: its addresses, ports allocated per
    /// destination.
    NatGateway(NatGatewayIdx),
    /// The NIC's (or firewall's) own public IP, one to one.
    PublicIp(IpAddr),
    /// A public load balancer's frontends, ports from the NIC's block.
    LoadBalancer(LoadBalancerIdx, LbOutbound),
    /// Default outbound access's implicit address.
    DefaultOutbound(IpAddr),
    /// No way out: the packet is dropped at the `Internet` next hop.
    None,
}

impl Egress {
    /// The method's name, as `next-hop`, `trace` and `flows` show it.
    pub fn method(self) -> &'static str {
        match self {
            Egress::NatGateway(_) => "NatGateway",
            Egress::PublicIp(_) => "PublicIp",
            Egress::LoadBalancer(..) => "LoadBalancer",
            Egress::DefaultOutbound(_) => "DefaultOutbound",
            Egress::None => "None",
        }
    }

    /// The public address a flow leaves with, for those methods that have
    /// one address (a NAT gateway's flows take one of its addresses each).
    pub fn single_address(self) -> Option<IpAddr> {
        match self {
            Egress::PublicIp(a) | Egress::DefaultOutbound(a) => Some(a),
            Egress::NatGateway(_) | Egress::LoadBalancer(..) | Egress::None => None,
        }
    }
}

/// The way out of `sender` in `subnet`.
pub fn egress(topo: &Topology, sender: EgressSender, subnet: SubnetRef) -> Egress {
    let edge = &topo.edge;
    if let Some(gateway) = edge.nat_gateway_of(subnet) {
        if !edge.nat_gateways[gateway].addresses.is_empty() {
            return Egress::NatGateway(gateway);
        }
    }
    match sender {
        EgressSender::Nic(nic) => {
            if let Some(address) = edge.nic_public_address(nic) {
                return Egress::PublicIp(address);
            }
            if let Some((lb, way)) = topo.lb_egress(nic) {
                return Egress::LoadBalancer(lb, way);
            }
            match edge.default_outbound_addresses.get(&nic) {
                Some(&address) => Egress::DefaultOutbound(address),
                None => Egress::None,
            }
        }
        EgressSender::Firewall(firewall) => match edge.firewall_addresses(firewall).first() {
            Some(&address) => Egress::PublicIp(address),
            None => Egress::None,
        },
    }
}
