//! The compiled side of the Internet edge: the Internet's port, each
//! port's way out ([`crate::policy::egress`], compiled once per snapshot),
//! what every public address of the lab stands for, and the NAT gateways'
//! addresses and timers. The decision reads these tables alone.

use crate::plan::{Plan, PortIdx};
use crate::policy::egress::{egress, Egress, EgressSender};
use crate::snapshot::FrontendIdx;
use crate::topology::{
    LbOutbound, LbProtocol, LoadBalancerIdx, NatGatewayIdx, Topology, VnetIdx,
    NAT_CONNECTIONS_PER_DESTINATION, NAT_FIRST_PORT,
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
    /// Through a public load balancer, by its way out's position in
    /// [`EdgeTables::outbound`], from the ports of block `slot` (the NIC's
    /// position in the pool).
    LoadBalancer { outbound: u16, slot: u16 },
}

impl EgressHop {
    /// The method's name, as `next-hop`, `trace` and `flows` show it.
    pub fn method(self) -> &'static str {
        match self {
            EgressHop::None => Egress::None.method(),
            EgressHop::NatGateway(_) => "NatGateway",
            EgressHop::PublicIp(_) => "PublicIp",
            EgressHop::DefaultOutbound(_) => "DefaultOutbound",
            EgressHop::LoadBalancer { .. } => "LoadBalancer",
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
    /// A public load balancer's frontend: its load-balancing rules carry
    /// what comes in; its outbound rules' replies come back through it.
    Frontend(FrontendIdx),
}

/// A public load balancer's way out, as the decision uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundTables {
    pub load_balancer: LoadBalancerIdx,
    pub way: LbOutbound,
    /// The load balancer's VNet.
    pub vnet: VnetIdx,
    /// Its frontends' public addresses.
    pub addresses: Box<[IpAddr]>,
    /// Ports each NIC of the pool has on each address, from
    /// [`NAT_FIRST_PORT`] + slot × this.
    pub ports_per_backend: u16,
    pub tcp: bool,
    pub udp: bool,
    pub idle_ms: u64,
}

impl OutboundTables {
    /// The ports of block `slot`.
    pub fn ports(&self, slot: u16) -> std::ops::Range<u32> {
        let start = u32::from(NAT_FIRST_PORT) + u32::from(slot) * u32::from(self.ports_per_backend);
        start..start + u32::from(self.ports_per_backend)
    }
}

/// A NAT gateway as the decision uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EdgeTables {
    /// The Internet's port, if the lab has an Internet.
    pub internet: Option<PortIdx>,
    pub public: FxHashMap<IpAddr, PublicTarget>,
    pub nat_gateways: Vec<NatTables>,
    /// Public load balancers' ways out (outbound rules and implicit SNAT)
    /// that some NIC takes.
    pub outbound: Vec<OutboundTables>,
    /// What the Internet sends to the lab rather than holding it itself
    /// (see [`crate::plan::ports::internet::lab_prefixes`]): the same
    /// list its namespace routes out of its TUN.
    pub lab_prefixes: Vec<ipnet::IpNet>,
    /// The address ranges of the subnets with service endpoints, with
    /// their VNets: where the Internet's replies to an untranslated
    /// service-endpoint flow are delivered (empty in a lab without
    /// service endpoints, which then never looks).
    pub service_endpoint_sources: Vec<(ipnet::IpNet, VnetIdx)>,
}

impl EdgeTables {
    pub fn compile(topology: &Topology, plan: &Plan) -> EdgeTables {
        let edge = &topology.edge;
        let internet = plan.internet();
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
        let mut frontend_index = 0u32;
        for lb in topology.load_balancers.iter() {
            for fe in &lb.frontends {
                if fe.is_public() {
                    public.insert(
                        fe.address,
                        PublicTarget::Frontend(FrontendIdx(frontend_index)),
                    );
                }
                frontend_index += 1;
            }
        }
        let mut outbound: Vec<OutboundTables> = Vec::new();
        for nic in plan
            .ports
            .iter_enumerated()
            .filter_map(|(p, _)| plan.nic(p))
        {
            let Some((l, way)) = topology.lb_egress(nic) else {
                continue;
            };
            if outbound
                .iter()
                .any(|o| o.load_balancer == l && o.way == way)
            {
                continue;
            }
            let lb = &topology.load_balancers[l];
            let w = lb.outbound_way(way);
            outbound.push(OutboundTables {
                load_balancer: l,
                way,
                vnet: lb.vnet,
                addresses: w
                    .frontends
                    .iter()
                    .map(|&f| lb.frontends[f].address)
                    .collect(),
                ports_per_backend: w.ports_per_backend.min(u32::from(u16::MAX)) as u16,
                tcp: matches!(w.protocol, LbProtocol::Tcp | LbProtocol::All),
                udp: matches!(w.protocol, LbProtocol::Udp | LbProtocol::All),
                idle_ms: u64::from(w.idle_timeout_minutes) * 60_000,
            });
        }
        let service_endpoint_sources = (topology.vnets.iter_enumerated())
            .flat_map(|(v, vnet)| {
                (vnet.subnets.iter())
                    .filter(|s| !s.services.endpoints.is_empty())
                    .flat_map(move |s| s.address_prefixes.iter().map(move |p| (*p, v)))
            })
            .collect();
        EdgeTables {
            internet,
            public,
            nat_gateways,
            outbound,
            lab_prefixes: crate::plan::ports::internet::lab_prefixes(topology),
            service_endpoint_sources,
        }
    }

    /// Whether the lab's Internet holds `address` as its own (every
    /// address but the lab's: a packet there is answered by the
    /// Internet's namespace). False for a lab without an Internet.
    pub fn internet_holds(&self, address: IpAddr) -> bool {
        self.internet.is_some() && crate::plan::ports::internet::holds(&self.lab_prefixes, address)
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
            Egress::LoadBalancer(l, way) => {
                let Some(nic) = plan.nic(port) else {
                    return EgressHop::None;
                };
                let lb = &topology.load_balancers[l];
                let pool = &lb.pools[lb.outbound_way(way).pool].nics;
                let slot = pool.iter().position(|&n| n == nic);
                let outbound =
                    (self.outbound.iter()).position(|o| o.load_balancer == l && o.way == way);
                match (outbound, slot) {
                    (Some(outbound), Some(slot)) => EgressHop::LoadBalancer {
                        outbound: outbound as u16,
                        slot: slot as u16,
                    },
                    _ => EgressHop::None,
                }
            }
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
    // Only an address of the source's family can stand for it.
    let same = |a: &&IpAddr| a.is_ipv6() == private.is_ipv6();
    let count = addresses.iter().filter(same).count();
    if count == 0 {
        return None;
    }
    let folded = match private {
        IpAddr::V4(a) => u64::from(u32::from(a)),
        IpAddr::V6(a) => {
            let n = u128::from(a);
            (n as u64) ^ ((n >> 64) as u64)
        }
    };
    let i = (folded.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize % count;
    addresses.iter().filter(same).nth(i).copied()
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
        // A source takes an address of its own family, or none.
        let v6: IpAddr = "2001:db8:100::10".parse().unwrap();
        let mixed = [addresses[0], v6];
        let from_v6: IpAddr = "fd00:1::4".parse().unwrap();
        assert_eq!(nat_address(&mixed, from_v6), Some(v6));
        assert_eq!(nat_address(&mixed, a), Some(addresses[0]));
        assert_eq!(nat_address(&addresses, from_v6), None);
    }
}
