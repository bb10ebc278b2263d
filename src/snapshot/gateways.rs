//! Gateways compiled for the packet path: each gateway's own table
//! ([`crate::policy::gateways::gateway_table`]) as a longest-prefix-match
//! table whose rows say where the gateway hands a packet on: into a site,
//! through the tunnel of one of its instances (several instances carrying a
//! prefix share the flows by hash, as Azure's active-active gateways do), or
//! to another gateway (Vnet2Vnet), which forwards by its GatewaySubnet's
//! routes. Traffic arriving from a site enters at the gateway and follows
//! GatewaySubnet's routes too: the tunnel's port sits in GatewaySubnet.
//!
//! Global Reach ([`global_reach_routes`]) joins two circuits' sites without
//! any VNet: a packet entering from one circuit's tunnel for the other
//! circuit's site goes straight into one of that circuit's tunnels.

use crate::engine::lpm::Lpm;
use crate::plan::Plan;
use crate::plan::PortIdx;
use crate::policy::gateways::{gateway_table, GatewayEgress, GatewayRoute, LearnedRoutes};
use crate::topology::{GatewayIdx, SubnetRef, TiVec, Topology, VnetIdx};
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::IpAddr;

/// Where a gateway hands on a packet for one row of its table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayHop {
    /// Into a site, through the tunnel of one of these (instance, port)
    /// pairs.
    Tunnels(Box<[(usize, PortIdx)]>),
    /// To another gateway, which forwards by its GatewaySubnet's routes.
    Gateway(GatewayIdx),
    /// The site has no tunnel for the instances that know the prefix.
    Unreachable,
}

/// One gateway, compiled.
#[derive(Debug)]
pub struct GatewayTables {
    pub vnet: VnetIdx,
    /// Its GatewaySubnet, whose routes traffic handed on by the gateway
    /// follows.
    pub subnet: SubnetRef,
    /// The gateway's own table, in listing order.
    pub routes: Vec<GatewayRoute>,
    /// Where each row of `routes` hands packets on.
    pub hops: Vec<GatewayHop>,
    /// Rows by prefix: the value indexes `routes` and `hops`.
    pub lpm: Lpm<usize>,
    /// The port of each instance.
    pub instances: Vec<PortIdx>,
}

impl GatewayTables {
    /// Where the gateway hands on a packet for `dst`.
    #[inline]
    pub fn hop(&self, dst: IpAddr) -> Option<&GatewayHop> {
        self.lpm.lookup(dst).map(|(_, &row)| &self.hops[row])
    }
}

/// Compiles every gateway of `topo`.
pub fn compile(
    topo: &Topology,
    plan: &Plan,
    learned: &LearnedRoutes,
) -> TiVec<GatewayIdx, GatewayTables> {
    let mut tunnels: HashMap<(usize, GatewayIdx, usize), PortIdx> = HashMap::new();
    let mut instances: HashMap<(GatewayIdx, usize), PortIdx> = HashMap::new();
    for (idx, port) in plan.ports.iter_enumerated() {
        if let Some((site, gateway, instance)) = port.kind.site_tunnel() {
            tunnels.insert((site.index(), gateway, instance), idx);
        }
        if let Some(at) = port.kind.gateway_instance() {
            instances.insert(at, idx);
        }
    }
    topo.gateways
        .iter_enumerated()
        .map(|(g, gw)| {
            let routes = gateway_table(topo, learned, g);
            let hops: Vec<GatewayHop> = routes
                .iter()
                .map(|row| match &row.egress {
                    GatewayEgress::Gateway(other) => GatewayHop::Gateway(*other),
                    GatewayEgress::Site {
                        site,
                        instances: carrying,
                    } => {
                        let ports: Box<[(usize, PortIdx)]> = carrying
                            .iter()
                            .filter_map(|&i| {
                                tunnels.get(&(site.index(), g, i)).map(|&nic| (i, nic))
                            })
                            .collect();
                        if ports.is_empty() {
                            GatewayHop::Unreachable
                        } else {
                            GatewayHop::Tunnels(ports)
                        }
                    }
                })
                .collect();
            let lpm = routes
                .iter()
                .enumerate()
                .map(|(i, r)| (r.prefix, i))
                .collect();
            GatewayTables {
                vnet: gw.vnet,
                subnet: gw.subnet,
                routes,
                hops,
                lpm,
                instances: (0..gw.instances.len())
                    .filter_map(|i| instances.get(&(g, i)).copied())
                    .collect(),
            }
        })
        .collect()
}

/// The (instance, port) tunnels of one circuit.
pub type CircuitTunnels = Box<[(usize, PortIdx)]>;

/// Where a circuit's tunnel hands on what Global Reach carries: per range
/// of a site joined by a Global Reach link, the tunnels of that site's
/// circuit.
pub type ReachRoutes = Box<[(IpNet, CircuitTunnels)]>;

/// The Global Reach routes of every circuit tunnel that has any.
pub fn global_reach_routes(topo: &Topology, plan: &Plan) -> HashMap<PortIdx, ReachRoutes> {
    let mut out = HashMap::new();
    if topo.global_reach.is_empty() {
        return out;
    }
    // Each circuit's tunnels, with the instance (link) each one ends.
    let mut tunnels: HashMap<crate::topology::CircuitIdx, Vec<(usize, PortIdx)>> = HashMap::new();
    for (idx, port) in plan.ports.iter_enumerated() {
        if let Some((site, gateway, instance)) = port.kind.site_tunnel() {
            if let Some(circuit) = topo.circuit_of(site, gateway) {
                tunnels.entry(circuit).or_default().push((instance, idx));
            }
        }
    }
    for (circuit, own) in &tunnels {
        let mut routes: Vec<(IpNet, CircuitTunnels)> = Vec::new();
        for peer in topo.reach_peers(*circuit) {
            let Some(ports) = tunnels.get(&peer) else {
                continue;
            };
            let site = &topo.sites[topo.circuits[peer].site];
            for range in &site.address_space {
                routes.push((range.trunc(), ports.clone().into_boxed_slice()));
            }
        }
        if routes.is_empty() {
            continue;
        }
        let routes: ReachRoutes = routes.into_boxed_slice();
        for &(_, port) in own {
            out.insert(port, routes.clone());
        }
    }
    out
}
