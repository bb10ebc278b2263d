//! Gateways compiled for the packet path: each gateway's own table
//! ([`crate::policy::gateways::gateway_table`]) as a longest-prefix-match
//! table whose rows say where the gateway hands a packet on: into a site,
//! through the tunnel of one of its instances (several instances carrying a
//! prefix share the flows by hash, as Azure's active-active gateways do), or
//! to another gateway (Vnet2Vnet), which forwards by its GatewaySubnet's
//! routes. Traffic arriving from a site enters at the gateway and follows
//! GatewaySubnet's routes too: the tunnel's port sits in GatewaySubnet.
//!
//! Global Reach is not here: it joins two circuits at Microsoft's edge,
//! whose routers forward between the sites without the fabric.

use crate::engine::lpm::Lpm;
use crate::plan::Plan;
use crate::plan::PortIdx;
use crate::policy::gateways::{gateway_table, GatewayEgress, GatewayRoute, LearnedRoutes};
use crate::policy::virtual_wan::hub_of_gateway;
use crate::topology::{GatewayIdx, RouterRef, SubnetRef, TiVec, Topology, VnetIdx};
use std::collections::HashMap;
use std::net::IpAddr;

/// Where a gateway hands on a packet for one row of its table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayHop {
    /// Into a site, through the tunnel of one of these (instance, port)
    /// pairs: several per instance when several devices carry the prefix.
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
    /// An ExpressRoute gateway (else VPN).
    pub express_route: bool,
    /// Its VNet's Route Server allows branch-to-branch traffic: sites of
    /// its VPN and ExpressRoute gateways reach each other.
    pub branch_to_branch: bool,
    /// A virtual hub's VPN gateway: whether its WAN carries branch to
    /// branch traffic (`allow_branch_to_branch_traffic`), between the
    /// branches of one hub or of two; `None` for a VNet's gateway.
    pub hub_branch_to_branch: Option<bool>,
}

impl GatewayTables {
    /// Whether `other` hands packets on as this gateway does: the same
    /// table, hops, instances and settings (the prefix index is built
    /// from the table).
    pub fn hands_on_alike(&self, other: &GatewayTables) -> bool {
        let GatewayTables {
            vnet,
            subnet,
            routes,
            hops,
            lpm: _,
            instances,
            express_route,
            branch_to_branch,
            hub_branch_to_branch,
        } = self;
        *vnet == other.vnet
            && *subnet == other.subnet
            && *routes == other.routes
            && *hops == other.hops
            && *instances == other.instances
            && *express_route == other.express_route
            && *branch_to_branch == other.branch_to_branch
            && *hub_branch_to_branch == other.hub_branch_to_branch
    }

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
    let mut tunnels: HashMap<(RouterRef, GatewayIdx, usize), PortIdx> = HashMap::new();
    let mut instances: HashMap<(GatewayIdx, usize), PortIdx> = HashMap::new();
    for (idx, port) in plan.ports.iter_enumerated() {
        if let (Some((_, gateway, instance)), Some(router)) =
            (port.kind.site_tunnel(), port.kind.tunnel_router())
        {
            tunnels.insert((router, gateway, instance), idx);
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
                    GatewayEgress::Site { tunnels: carrying } => {
                        let ports: Box<[(usize, PortIdx)]> = carrying
                            .iter()
                            .filter_map(|t| {
                                let port = tunnels.get(&(t.router, g, t.instance))?;
                                Some((t.instance, *port))
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
                express_route: gw.gateway_type == crate::topology::GatewayType::ExpressRoute,
                branch_to_branch: topo
                    .route_servers
                    .iter()
                    .any(|rs| rs.vnet == gw.vnet && rs.branch_to_branch_traffic),
                hub_branch_to_branch: hub_of_gateway(topo, g)
                    .map(|h| topo.virtual_wans[topo.virtual_hubs[h].wan].branch_to_branch),
            }
        })
        .collect()
}
