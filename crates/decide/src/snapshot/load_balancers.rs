//! Internal load balancers as the packet path reads them: per frontend
//! address, its rules, and per rule the pool's backends and those the
//! probes find healthy, resolved once per snapshot.
//!
//! A frontend is reached two ways, as in Azure: as a packet's destination
//! (the load balancer translates the destination to the backend unless the
//! rule has floating IP), or as the `VirtualAppliance` next hop of a route
//! (HA ports in front of appliances: the packet keeps its destination and
//! goes to the backend the hash picks). The choice among healthy backends
//! hashes the rule's `load_distribution` fields
//! ([`crate::policy::load_balancers::distribution_hash`]).

use crate::net::{PacketKey, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP};
use crate::plan::PortIdx;
use crate::policy::load_balancers::{distribution_hash, BackendHealth, ProbeTarget};
use crate::topology::{
    LbProtocol, LoadBalancerIdx, LoadDistribution, Nic, NicIdx, Topology, VnetIdx,
};
use std::net::IpAddr;

/// Index of a frontend in [`crate::snapshot::Snapshot::frontends`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrontendIdx(pub u32);

/// A backend of a rule: the NIC and the address flows are sent to (its
/// first address of the frontend's family).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LbBackend {
    /// The NIC of the file in the pool (a pool holds NICs only).
    pub nic: NicIdx,
    pub address: IpAddr,
}

impl LbBackend {
    /// The port the backend's NIC is.
    #[inline(always)]
    pub fn port(&self) -> PortIdx {
        PortIdx::of_nic(self.nic)
    }
}

/// One load-balancing rule of a frontend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LbRuleTables {
    /// The rule's index in its load balancer's `rules`.
    pub rule: usize,
    pub protocol: LbProtocol,
    pub frontend_port: u16,
    pub backend_port: u16,
    pub distribution: LoadDistribution,
    pub floating_ip: bool,
    pub idle_timeout_ms: u64,
    /// Every backend of the rule's pool.
    pub pool: Box<[LbBackend]>,
    /// The backends the rule's probe finds up (all of them without a
    /// probe), in pool order.
    pub healthy: Box<[LbBackend]>,
    /// The generation of the snapshot since which the rule places new
    /// flows as it does now (its pool and healthy backends unchanged): a
    /// flow admitted under it or later sits where the hash puts it.
    pub placement_since: u64,
}

impl LbRuleTables {
    /// True for an HA-ports rule.
    #[inline]
    pub fn ha_ports(&self) -> bool {
        self.protocol == LbProtocol::All
    }

    /// Whether the rule carries a packet of `proto` to `dst_port` (as sent
    /// to the frontend). HA ports carry TCP, UDP and ICMP; a TCP or UDP
    /// rule its own protocol and frontend port.
    #[inline]
    pub fn carries(&self, proto: u8, dst_port: Option<u16>) -> bool {
        match self.protocol {
            LbProtocol::All => matches!(
                proto,
                IPPROTO_TCP | IPPROTO_UDP | IPPROTO_ICMP | IPPROTO_ICMPV6
            ),
            LbProtocol::Tcp => proto == IPPROTO_TCP && dst_port == Some(self.frontend_port),
            LbProtocol::Udp => proto == IPPROTO_UDP && dst_port == Some(self.frontend_port),
        }
    }

    /// The healthy backend a new flow goes to; `None` when every backend
    /// is down.
    #[inline(always)]
    pub fn pick(&self, key: &PacketKey) -> Option<&LbBackend> {
        if self.healthy.is_empty() {
            return None;
        }
        let h = distribution_hash(self.distribution, key);
        self.healthy.get((h % self.healthy.len() as u64) as usize)
    }

    /// The pool member on `port`, if it is one.
    #[inline]
    pub fn member(&self, port: PortIdx) -> Option<&LbBackend> {
        self.pool.iter().find(|b| b.port() == port)
    }

    /// True when the probe finds the backend on `port` up.
    #[inline]
    pub fn is_healthy(&self, port: PortIdx) -> bool {
        self.healthy.iter().any(|b| b.port() == port)
    }

    /// The destination port a backend receives a packet on: the rule's
    /// backend port, or the packet's own with HA ports.
    #[inline]
    pub fn backend_port_for(&self, dst_port: u16) -> u16 {
        if self.ha_ports() {
            dst_port
        } else {
            self.backend_port
        }
    }
}

/// A frontend address with its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontendTables {
    pub load_balancer: LoadBalancerIdx,
    /// The frontend's index in its load balancer's `frontend_ip_configurations`.
    pub frontend: usize,
    pub address: IpAddr,
    pub vnet: VnetIdx,
    /// A number from the load balancer's and frontend's names, the same in
    /// every snapshot: it keys the frontend's flows in the flow table.
    pub stable_id: u32,
    /// Port rules first, HA ports last, so that a specific rule wins.
    pub rules: Box<[LbRuleTables]>,
}

impl FrontendTables {
    /// The rule that carries a packet sent to the frontend address.
    #[inline]
    pub fn rule_for(&self, proto: u8, dst_port: Option<u16>) -> Option<usize> {
        self.rules.iter().position(|r| r.carries(proto, dst_port))
    }

    /// The rule that carries packets routed to the frontend as a next hop:
    /// an HA-ports rule (port rules match only the frontend's own address).
    #[inline]
    pub fn next_hop_rule(&self, proto: u8) -> Option<usize> {
        self.rules
            .iter()
            .position(|r| r.ha_ports() && r.carries(proto, None))
    }

    /// True when `nic` is a backend of one of the frontend's rules: its
    /// packets through its own frontend would come back to the pool (Azure
    /// does not hairpin).
    #[inline]
    pub fn serves(&self, nic: PortIdx) -> bool {
        self.rules.iter().any(|r| r.member(nic).is_some())
    }
}

/// Where a backend NIC receives a frontend's flows: its first address of
/// the frontend's family.
pub fn backend_address(nic: &Nic, frontend: IpAddr) -> Option<IpAddr> {
    nic.ip_configurations
        .iter()
        .map(|c| c.address)
        .find(|a| a.is_ipv6() == frontend.is_ipv6())
}

/// A stable number for a frontend (FNV-1a over the names).
pub fn stable_id(load_balancer: &str, frontend: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in load_balancer
        .bytes()
        .chain(std::iter::once(b'/'))
        .chain(frontend.bytes())
    {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Compiles every frontend of every load balancer of `topo`, with the
/// backends `health` finds up, as snapshot `generation`. `previous` (the
/// topology and frontends of the snapshot before) keeps each rule's
/// [`LbRuleTables::placement_since`] when it places flows as before.
pub fn compile(
    topo: &Topology,
    health: &BackendHealth,
    generation: u64,
    previous: Option<(&Topology, &[FrontendTables])>,
) -> Vec<FrontendTables> {
    let mut frontends = Vec::new();
    for (l, lb) in topo.load_balancers.iter_enumerated() {
        for (f, fe) in lb.frontends.iter().enumerate() {
            let backend = |nic: NicIdx| {
                backend_address(&topo.nics[nic], fe.address)
                    .map(|address| LbBackend { nic, address })
            };
            let mut rules: Vec<LbRuleTables> = lb
                .rules
                .iter()
                .enumerate()
                .filter(|(_, r)| r.frontend == f)
                .map(|(i, r)| {
                    let pool: Box<[LbBackend]> = lb.pools[r.pool]
                        .nics
                        .iter()
                        .filter_map(|&n| backend(n))
                        .collect();
                    let healthy = pool
                        .iter()
                        .filter(|b| {
                            r.probe.is_none_or(|p| {
                                health.is_up(&ProbeTarget {
                                    load_balancer: lb.name.clone(),
                                    probe: lb.probes[p].name.clone(),
                                    nic: topo.nics[b.nic].name.clone(),
                                })
                            })
                        })
                        .copied()
                        .collect();
                    LbRuleTables {
                        rule: i,
                        protocol: r.settings.protocol,
                        frontend_port: r.settings.frontend_port,
                        backend_port: r.settings.backend_port,
                        distribution: r.settings.distribution,
                        floating_ip: r.settings.floating_ip,
                        idle_timeout_ms: u64::from(r.settings.idle_timeout_minutes) * 60_000,
                        placement_since: generation,
                        pool,
                        healthy,
                    }
                })
                .collect();
            rules.sort_by_key(|r| r.ha_ports());
            frontends.push(FrontendTables {
                load_balancer: l,
                frontend: f,
                address: fe.address,
                vnet: lb.vnet,
                stable_id: stable_id(&lb.name, &fe.name),
                rules: rules.into(),
            });
        }
    }
    if let Some((before, previous)) = previous {
        for fe in &mut frontends {
            let lb = &topo.load_balancers[fe.load_balancer];
            for rule in fe.rules.iter_mut() {
                let name = &lb.rules[rule.rule].name;
                let earlier = previous.iter().find_map(|p| {
                    let plb = &before.load_balancers[p.load_balancer];
                    (plb.name == lb.name)
                        .then(|| p.rules.iter().find(|r| plb.rules[r.rule].name == *name))
                        .flatten()
                });
                let names = |t: &Topology, backends: &[LbBackend]| -> Vec<String> {
                    backends
                        .iter()
                        .map(|b| t.nics[b.nic].name.clone())
                        .collect()
                };
                if let Some(earlier) = earlier {
                    let same = earlier.distribution == rule.distribution
                        && names(before, &earlier.pool) == names(topo, &rule.pool)
                        && names(before, &earlier.healthy) == names(topo, &rule.healthy);
                    if same {
                        rule.placement_since = earlier.placement_since;
                    }
                }
            }
        }
    }
    frontends
}
