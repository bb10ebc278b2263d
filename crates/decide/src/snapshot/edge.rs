//! The compiled side of the Internet edge: the Internet's port, each
//! port's way out ([`crate::policy::egress`], compiled once per snapshot),
//! what every public address of the lab stands for, and the NAT gateways'
//! addresses and timers. The decision reads these tables alone.

use crate::plan::{Plan, PortIdx, PortKind};
use crate::policy::egress::{egress, Egress, EgressSender};
use crate::topology::{
    NatGatewayIdx, Topology, VnetIdx, NAT_CONNECTIONS_PER_DESTINATION, NAT_FIRST_PORT,
};
use rustc_hash::FxHashMap;
use std::net::IpAddr;

/// A port's way out, as the decision uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EgressHop {
    /// No way out: dropped at the `Internet` next hop.
    #[default]
    None,
    /// Through a NAT gateway, by its position in [`EdgeTables::nat_gateways`].
    NatGateway(u16),
    /// One to one to this public address (the NIC's or the firewall's
    /// public IP), ports kept.
    PublicIp(IpAddr),
    /// Default outbound access's implicit address, ports kept.
    DefaultOutbound(IpAddr),
}

impl EgressHop {
    /// The method's name, as `next-hop`, `trace` and `flows` show it.
    pub fn method(self) -> &'static str {
        match self {
            EgressHop::None => Egress::None.method(),
            EgressHop::NatGateway(_) => "NatGateway",
            EgressHop::PublicIp(_) => "PublicIp",
            EgressHop::DefaultOutbound(_) => "DefaultOutbound",
        }
    }
}

/// What a public address of the lab stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicTarget {
    /// A NIC's public IP: unsolicited packets go to `private`, the NIC's
    /// primary address, past its inbound NSGs.
    Nic { port: PortIdx, private: IpAddr },
    /// An address of a NAT gateway: only replies come in.
    NatGateway(u16),
    /// A NIC's implicit default outbound address: only replies come in.
    DefaultOutbound(PortIdx),
    /// A public IP of an Azure Firewall: delivered to the firewall, whose
    /// DNAT rules translate it.
    Firewall(PortIdx),
}

/// A NAT gateway as the decision uses it.
#[derive(Debug, Clone)]
pub struct NatTables {
    pub gateway: NatGatewayIdx,
    /// The VNet of the subnets it serves.
    pub vnet: VnetIdx,
    pub addresses: Box<[IpAddr]>,
    /// StandardV2 translates ICMP echo too.
    pub icmp: bool,
    /// Idle timeout of its TCP flows (UDP's is fixed at 4 minutes).
    pub tcp_idle_ms: u64,
}

/// The UDP idle timeout of a NAT gateway: fixed, 4 minutes.
pub const NAT_UDP_IDLE_MS: u64 = 4 * 60_000;

/// The ports a NAT gateway hands out per destination, from
/// [`NAT_FIRST_PORT`]: Azure's 50,000 connections per public address per
/// destination.
pub const NAT_PORTS: std::ops::Range<u32> =
    NAT_FIRST_PORT as u32..NAT_FIRST_PORT as u32 + NAT_CONNECTIONS_PER_DESTINATION as u32;

/// Idle timeout of a one-to-one translation (a public IP, default
/// outbound access): a VNet's flow timeout is the flows' own; the
/// translation lives as long as Azure's longest, 30 minutes.
pub const ONE_TO_ONE_IDLE_MS: u64 = 30 * 60_000;

/// The edge, compiled.
#[derive(Debug, Clone, Default)]
pub struct EdgeTables {
    /// The Internet's port, if the lab has an Internet.
    pub internet: Option<PortIdx>,
    pub public: FxHashMap<IpAddr, PublicTarget>,
    pub nat_gateways: Vec<NatTables>,
}

impl EdgeTables {
    pub fn compile(topology: &Topology, plan: &Plan) -> EdgeTables {
        let edge = &topology.edge;
        let internet = plan
            .ports
            .iter_enumerated()
            .find(|(_, p)| p.kind == PortKind::Internet)
            .map(|(i, _)| i);
        let nat_gateways: Vec<NatTables> = edge
            .nat_gateways
            .iter_enumerated()
            .map(|(gateway, g)| NatTables {
                gateway,
                vnet: g.subnets.first().map_or(VnetIdx::new(0), |s| s.vnet),
                addresses: g.addresses.clone().into(),
                icmp: g.sku.carries_icmp(),
                tcp_idle_ms: u64::from(g.idle_timeout_minutes) * 60_000,
            })
            .collect();
        let mut public = FxHashMap::default();
        for (i, g) in nat_gateways.iter().enumerate() {
            for &a in g.addresses.iter() {
                public.insert(a, PublicTarget::NatGateway(i as u16));
            }
        }
        for (port, p) in plan.ports.iter_enumerated() {
            if let Some(nic) = plan.nic(port) {
                if let Some(address) = edge.nic_public_address(nic) {
                    if let Some(private) = p.ip_configurations.first().map(|c| c.address) {
                        public.insert(address, PublicTarget::Nic { port, private });
                    }
                }
                if let Some(&address) = edge.default_outbound_addresses.get(&nic) {
                    public.insert(address, PublicTarget::DefaultOutbound(port));
                }
            }
            if let Some(f) = p.kind.firewall() {
                for address in edge.firewall_addresses(f) {
                    public.insert(address, PublicTarget::Firewall(port));
                }
            }
        }
        EdgeTables {
            internet,
            public,
            nat_gateways,
        }
    }

    /// The way out of `port`.
    pub fn egress_of(&self, topology: &Topology, plan: &Plan, port: PortIdx) -> EgressHop {
        if self.internet.is_none() {
            return EgressHop::None;
        }
        let p = &plan.ports[port];
        let sender = match (plan.nic(port), p.kind.firewall()) {
            (Some(nic), _) => EgressSender::Nic(nic),
            (None, Some(f)) => EgressSender::Firewall(f),
            (None, None) => return EgressHop::None,
        };
        match egress(topology, sender, p.subnet) {
            Egress::NatGateway(g) => self
                .nat_gateways
                .iter()
                .position(|t| t.gateway == g)
                .map_or(EgressHop::None, |i| EgressHop::NatGateway(i as u16)),
            Egress::PublicIp(a) => EgressHop::PublicIp(a),
            Egress::DefaultOutbound(a) => EgressHop::DefaultOutbound(a),
            Egress::None => EgressHop::None,
        }
    }
}

/// The NAT gateway address a flow from `private` leaves with: one of the
/// gateway's addresses, the same for every flow of one source address (so
/// a VM keeps one public address, as Azure's NAT gateway keeps a source on
/// one address while it has ports).
pub fn nat_address(addresses: &[IpAddr], private: IpAddr) -> Option<IpAddr> {
    if addresses.is_empty() {
        return None;
    }
    let folded = match private {
        IpAddr::V4(a) => u64::from(u32::from(a)),
        IpAddr::V6(a) => {
            let n = u128::from(a);
            (n as u64) ^ ((n >> 64) as u64)
        }
    };
    let i = (folded.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize % addresses.len();
    Some(addresses[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_source_keeps_one_nat_address_and_sources_spread() {
        let addresses: Vec<IpAddr> = (1..=4)
            .map(|i| format!("198.51.100.{i}").parse().unwrap())
            .collect();
        let a: IpAddr = "10.1.1.4".parse().unwrap();
        assert_eq!(nat_address(&addresses, a), nat_address(&addresses, a));
        let used: std::collections::BTreeSet<_> = (4..68)
            .map(|i| nat_address(&addresses, format!("10.1.1.{i}").parse().unwrap()).unwrap())
            .collect();
        assert_eq!(used.len(), 4, "{used:?}");
        assert_eq!(nat_address(&[], a), None);
    }
}
