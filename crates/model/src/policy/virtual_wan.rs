//! The virtual hub router: what each hub route table holds and which
//! route wins, what a connected VNet's NICs receive from their hub, and
//! where the hub delivers a packet. Implements `docs/src/azure-behaviour.md`
//! §"Virtual WAN":
//!
//! - A connection gives its VNet's IPv4 ranges (and, with "propagate
//!   static routes", its static routes' prefixes) to every table it
//!   propagates to: by table, or by label in every hub of its WAN. In its
//!   own hub the route's next hop is the connection (`Virtual Network
//!   Connection`, `asPath` empty); in another hub of a Standard WAN it is
//!   `Remote Hub`, with `65520-65520` before the path. 0.0.0.0/0 never
//!   leaves its hub. A Basic WAN's hubs are not meshed.
//! - A table's static routes (to a connection or the hub's firewall), and
//!   routing intent's `_policy_PrivateTraffic` (the RFC 1918 aggregates)
//!   and `_policy_PublicTraffic` (0.0.0.0/0) in `defaultRouteTable`.
//! - Selection at one prefix (Azure's "Virtual hub routing preference"):
//!   static over dynamic; then a local VNet connection's own prefixes
//!   (system routes) over BGP; then with preference ExpressRoute local
//!   over remote, then ExpressRoute over VPN in the hub and VPN over
//!   ExpressRoute through a remote hub (whatever the AS path), then the
//!   shorter AS path; with VpnGateway local over remote, then VPN over
//!   ExpressRoute, then the shorter AS path; with ASPath the shorter AS
//!   path, then a branch's route over a remote hub's VNet, then local over
//!   remote, then ExpressRoute over VPN as above. The first listed wins
//!   what is left.
//! - A connected VNet's NICs receive the routes of the table their
//!   connection is associated with, as `VirtualNetworkGateway` routes,
//!   except prefixes inside the VNet's own ranges (Virtual WAN programs only
//!   shorter ones), the routes the connection itself gave, and 0.0.0.0/0
//!   unless `internet_security_enabled`.
//! - Delivery: into the connection's VNet, to the next hop of the
//!   connection's static route covering the prefix (unless it bypasses the
//!   VNet's own ranges); through a remote hub to the connection there (its
//!   firewall first when that hub's routing intent covers private
//!   traffic); or to the hub's firewall; a branch's route to the VPN
//!   gateway of its hub (that hub's firewall first when its routing intent
//!   covers private traffic).
//! - A hub route, its next hop type and how routes to one prefix rank:
//!   `virtual_wan/route.rs`; what each table holds and what a secured
//!   hub's firewall reaches: `virtual_wan/table.rs`. Branches (what a VPN
//!   connection gives the tables): `virtual_wan/branches.rs`; circuits
//!   (what an ExpressRoute connection gives them):
//!   `virtual_wan/express_route.rs`; appliances peering with the hub router
//!   (what a hub BGP connection gives them): `virtual_wan/appliances.rs`;
//!   what the hub's gateways advertise to its branches and circuits, and
//!   what its router announces to the appliances: `virtual_wan/exports.rs`.

use super::learned::LearnedRoutes;
use crate::topology::model::*;
use ipnet::IpNet;
use std::net::Ipv4Addr;

mod appliances;
mod branches;
mod exports;
mod express_route;
mod route;
mod table;
pub use appliances::appliance_routes;
pub use branches::*;
pub use exports::{
    connection_peers, hub_gateway_exports, hub_of_gateway, hub_router_exports,
    static_device_ranges, BranchAdvertisement, HubGatewayExports,
};
pub use express_route::circuit_routes;
use route::ipv4_default;
pub use route::{HubHop, HubHopType, HubOrigin, HubRoute};
pub use table::{firewall_routes, hub_table_candidates, hub_table_routes};

/// Where the hub delivers what a route carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HubTarget {
    /// To the owner of the destination address in this VNet.
    Vnet(VnetIdx),
    /// To this appliance address in this VNet (a connection's static
    /// route).
    Appliance { ip: Ipv4Addr, vnet: VnetIdx },
    /// To this VPN gateway (a hub's), which hands the packet to the
    /// branch's tunnel by its own table.
    Gateway(GatewayIdx),
    /// Nowhere: a hub route to a firewall the hub does not have.
    Unreachable,
}

/// The hub and connection `vnet` is connected through.
pub fn hub_connection_of(topo: &Topology, vnet: VnetIdx) -> Option<(VirtualHubIdx, usize)> {
    topo.virtual_hubs
        .iter_enumerated()
        .find_map(|(h, hub)| (hub.connections.iter().position(|c| c.vnet == vnet)).map(|c| (h, c)))
}

/// The routes the NICs of `vnet` receive from its hub: the routes of the
/// table its connection is associated with, less the VNet's own prefixes,
/// what the connection itself gave, and 0.0.0.0/0 unless the connection
/// propagates the default route. With the hub and the connection.
pub fn vnet_hub_routes(
    topo: &Topology,
    learned: &LearnedRoutes,
    vnet: VnetIdx,
) -> Option<(VirtualHubIdx, usize, Vec<HubRoute>)> {
    let (hub, ci) = hub_connection_of(topo, vnet)?;
    let h = &topo.virtual_hubs[hub];
    let c = &h.connections[ci];
    let own = &topo.vnets[vnet].address_space;
    // A Basic WAN's hubs carry no VNet-to-VNet transit (site-to-site VPN
    // only): its VNets receive no other VNet's routes.
    let transit = topo
        .virtual_wans
        .get(h.wan)
        .is_some_and(VirtualWan::hubs_meshed);
    let rows = hub_table_routes(topo, learned, hub, c.associated)
        .into_iter()
        .filter(|r| {
            transit || !matches!(r.hop, HubHop::Connection { .. } | HubHop::RemoteHub { .. })
        })
        .filter(|r| !own.iter().any(|range| range.contains(&r.prefix)))
        .filter(|r| match r.origin {
            HubOrigin::Connection {
                hub: at,
                connection,
            } => (at, connection) != (hub, ci),
            // What the VNet's own appliance announced is its own.
            HubOrigin::BgpConnection {
                hub: at,
                connection,
            } => at != hub || h.bgp_connections[connection].connection != ci,
            _ => true,
        })
        .filter(|r| r.prefix != ipv4_default() || c.internet_security)
        .collect();
    Some((hub, ci, rows))
}

/// Where `route` delivers.
pub fn hub_target(topo: &Topology, route: &HubRoute) -> HubTarget {
    match route.hop {
        HubHop::Connection { hub, connection } => {
            connection_target(topo, hub, connection, route.prefix)
        }
        HubHop::RemoteHub { hub, connection } => {
            if private_intent(topo, hub) {
                firewall_target(topo, hub)
            } else {
                connection_target(topo, hub, connection, route.prefix)
            }
        }
        HubHop::Firewall { hub } => firewall_target(topo, hub),
        HubHop::VpnGateway { hub, .. } => gateway_target(topo.virtual_hubs[hub].vpn_gateway),
        HubHop::ExpressRouteGateway { hub, .. } => {
            gateway_target(topo.virtual_hubs[hub].express_route_gateway)
        }
        HubHop::BgpConnection { hub, connection } => appliance_target(topo, hub, connection),
        HubHop::RemoteBgp { hub, connection } => {
            if private_intent(topo, hub) {
                firewall_target(topo, hub)
            } else {
                appliance_target(topo, hub, connection)
            }
        }
        HubHop::RemoteBranch { hub, .. } | HubHop::RemoteCircuit { hub, .. } => {
            let h = &topo.virtual_hubs[hub];
            if private_intent(topo, hub) {
                firewall_target(topo, hub)
            } else if matches!(route.hop, HubHop::RemoteCircuit { .. }) {
                gateway_target(h.express_route_gateway)
            } else {
                gateway_target(h.vpn_gateway)
            }
        }
    }
}

/// To the appliance of BGP connection `connection` of `hub`, in its VNet.
fn appliance_target(topo: &Topology, hub: VirtualHubIdx, connection: usize) -> HubTarget {
    let h = &topo.virtual_hubs[hub];
    let b = &h.bgp_connections[connection];
    HubTarget::Appliance {
        ip: b.peer_ip,
        vnet: h.connections[b.connection].vnet,
    }
}

/// Whether `hub`'s routing intent sends private traffic to its firewall.
fn private_intent(topo: &Topology, hub: VirtualHubIdx) -> bool {
    (topo.virtual_hubs[hub].routing_intent.as_ref()).is_some_and(|i| i.private)
}

/// To a gateway of a hub, if it has one.
fn gateway_target(gateway: Option<GatewayIdx>) -> HubTarget {
    gateway.map_or(HubTarget::Unreachable, HubTarget::Gateway)
}

/// To the firewall of `hub`, in the hub's own network.
fn firewall_target(topo: &Topology, hub: VirtualHubIdx) -> HubTarget {
    let h = &topo.virtual_hubs[hub];
    match (h.firewall.map(|f| topo.firewalls[f].private_ip), h.vnet) {
        (Some(std::net::IpAddr::V4(ip)), Some(vnet)) => HubTarget::Appliance { ip, vnet },
        _ => HubTarget::Unreachable,
    }
}

/// The prefixes of the static routes of the connection `route` reaches
/// that lie strictly inside the route's prefix (and are not bypassed for
/// the VNet's own addresses): where the hub router sends part of the
/// route's traffic to an appliance. None when the route crosses a secured
/// hub's firewall first.
pub fn static_routes_inside(topo: &Topology, route: &HubRoute) -> Vec<IpNet> {
    let (hub, connection) = match route.hop {
        HubHop::Connection { hub, connection } => (hub, connection),
        HubHop::RemoteHub { hub, connection } => {
            if private_intent(topo, hub) {
                return Vec::new();
            }
            (hub, connection)
        }
        HubHop::Firewall { .. }
        | HubHop::VpnGateway { .. }
        | HubHop::RemoteBranch { .. }
        | HubHop::ExpressRouteGateway { .. }
        | HubHop::RemoteCircuit { .. }
        | HubHop::BgpConnection { .. }
        | HubHop::RemoteBgp { .. } => return Vec::new(),
    };
    let c = &topo.virtual_hubs[hub].connections[connection];
    let own = &topo.vnets[c.vnet].address_space;
    (c.static_routes.iter())
        .flat_map(|s| s.address_prefixes.iter().copied())
        .filter(|p| route.prefix.contains(p) && *p != route.prefix)
        .filter(|p| !(c.bypass_local && own.iter().any(|r| r.contains(p))))
        .collect()
}

/// Into the VNet of `connection`, or to its static route's next hop.
fn connection_target(
    topo: &Topology,
    hub: VirtualHubIdx,
    connection: usize,
    prefix: IpNet,
) -> HubTarget {
    let c = &topo.virtual_hubs[hub].connections[connection];
    let in_vnet = topo.vnets[c.vnet]
        .address_space
        .iter()
        .any(|r| r.contains(&prefix));
    if !(c.bypass_local && in_vnet) {
        let covering = (c.static_routes.iter())
            .flat_map(|s| s.address_prefixes.iter().map(move |p| (p, s.next_hop)))
            .filter(|(p, _)| p.contains(&prefix))
            .max_by_key(|(p, _)| p.prefix_len());
        if let Some((_, ip)) = covering {
            return HubTarget::Appliance { ip, vnet: c.vnet };
        }
    }
    HubTarget::Vnet(c.vnet)
}

/// The WAN `vnet` is connected to, through its hub, or whose secured
/// hub's own network it is.
pub fn wan_of(topo: &Topology, vnet: VnetIdx) -> Option<VirtualWanIdx> {
    hub_connection_of(topo, vnet)
        .map(|(hub, _)| hub)
        .or_else(|| hub_of_vnet(topo, vnet))
        .map(|hub| topo.virtual_hubs[hub].wan)
}

/// The secured hub whose own network `vnet` is.
pub fn hub_of_vnet(topo: &Topology, vnet: VnetIdx) -> Option<VirtualHubIdx> {
    topo.virtual_hubs
        .iter_enumerated()
        .find_map(|(h, hub)| (hub.vnet == Some(vnet)).then_some(h))
}
