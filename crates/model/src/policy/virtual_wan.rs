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
//! - Branches (what a VPN connection gives the tables) and what a hub's VPN
//!   gateway advertises to them: `virtual_wan/branches.rs`; circuits (what
//!   an ExpressRoute connection gives them): `virtual_wan/express_route.rs`;
//!   appliances peering with the hub router (what a hub BGP connection
//!   gives them, and what the router announces): `virtual_wan/appliances.rs`.

use super::learned::LearnedRoutes;
use crate::topology::model::*;
use ipnet::{IpNet, Ipv4Net};
use std::net::Ipv4Addr;

mod appliances;
mod branches;
mod express_route;
use appliances::appliance_candidates;
pub use appliances::{appliance_routes, hub_router_exports};
pub use branches::*;
pub use express_route::circuit_routes;
use express_route::{circuit_candidates, circuit_reaches};

/// The next hop type `az network vhub get-effective-routes` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr)]
pub enum HubHopType {
    #[strum(serialize = "Virtual Network Connection")]
    VirtualNetworkConnection,
    #[strum(serialize = "Remote Hub")]
    RemoteHub,
    #[strum(serialize = "Azure Firewall")]
    AzureFirewall,
    #[strum(serialize = "VPN_S2S_Gateway")]
    VpnS2sGateway,
    #[strum(serialize = "ExpressRouteGateway")]
    ExpressRouteGateway,
    #[strum(serialize = "HubBgpConnection")]
    HubBgpConnection,
}

impl HubHopType {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Where a hub route leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HubHop {
    /// A connection of the route's own hub.
    Connection {
        hub: VirtualHubIdx,
        connection: usize,
    },
    /// Another hub of the WAN, and the connection there the route came
    /// from.
    RemoteHub {
        hub: VirtualHubIdx,
        connection: usize,
    },
    /// The hub's own firewall.
    Firewall { hub: VirtualHubIdx },
    /// A VPN connection of the route's own hub (index in its
    /// `vpn_connections`): the branch, through the hub's VPN gateway.
    VpnGateway {
        hub: VirtualHubIdx,
        connection: usize,
    },
    /// Another hub of the WAN, and the VPN connection there the route came
    /// from: a branch of that hub (`Remote Hub`).
    RemoteBranch {
        hub: VirtualHubIdx,
        connection: usize,
    },
    /// An ExpressRoute connection of the route's own hub (index in its
    /// `express_route_connections`): the circuit, through the hub's
    /// ExpressRoute gateway.
    ExpressRouteGateway {
        hub: VirtualHubIdx,
        connection: usize,
    },
    /// Another hub of the WAN, and the ExpressRoute connection there the
    /// route came from (`Remote Hub`).
    RemoteCircuit {
        hub: VirtualHubIdx,
        connection: usize,
    },
    /// A BGP connection of the route's own hub (index in its
    /// `bgp_connections`): the appliance that announced the route.
    BgpConnection {
        hub: VirtualHubIdx,
        connection: usize,
    },
    /// Another hub of the WAN, and the BGP connection there the route came
    /// from (`Remote Hub`).
    RemoteBgp {
        hub: VirtualHubIdx,
        connection: usize,
    },
}

/// Where a hub route came from (`routeOrigin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HubOrigin {
    Connection {
        hub: VirtualHubIdx,
        connection: usize,
    },
    /// A VPN connection of the hub (index in its `vpn_connections`).
    VpnConnection {
        hub: VirtualHubIdx,
        connection: usize,
    },
    /// An ExpressRoute connection of the hub (index in its
    /// `express_route_connections`).
    ExpressRouteConnection {
        hub: VirtualHubIdx,
        connection: usize,
    },
    /// A BGP connection of the hub (index in its `bgp_connections`).
    BgpConnection {
        hub: VirtualHubIdx,
        connection: usize,
    },
    /// A static route of this table.
    Table {
        hub: VirtualHubIdx,
        table: usize,
    },
    RemoteHub(VirtualHubIdx),
}

/// One route of a hub route table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubRoute {
    pub prefix: IpNet,
    pub hop: HubHop,
    pub origin: HubOrigin,
    /// ASNs, nearest first (`65520-65520` for a remote hub's route).
    pub as_path: Vec<u32>,
    /// A static route (of the table, of routing intent, or a connection's
    /// propagated static route).
    pub is_static: bool,
    /// The static route's name.
    pub name: Option<String>,
}

impl HubRoute {
    pub fn hop_type(&self) -> HubHopType {
        match self.hop {
            HubHop::Connection { .. } => HubHopType::VirtualNetworkConnection,
            HubHop::RemoteHub { .. }
            | HubHop::RemoteBranch { .. }
            | HubHop::RemoteCircuit { .. }
            | HubHop::RemoteBgp { .. } => HubHopType::RemoteHub,
            HubHop::Firewall { .. } => HubHopType::AzureFirewall,
            HubHop::VpnGateway { .. } => HubHopType::VpnS2sGateway,
            HubHop::ExpressRouteGateway { .. } => HubHopType::ExpressRouteGateway,
            HubHop::BgpConnection { .. } => HubHopType::HubBgpConnection,
        }
    }

    /// The `asPath` string: ASNs joined with `-`, empty for none.
    pub fn as_path_text(&self) -> String {
        let asns: Vec<String> = self.as_path.iter().map(u32::to_string).collect();
        asns.join("-")
    }

    fn remote(&self) -> bool {
        matches!(
            self.hop,
            HubHop::RemoteHub { .. }
                | HubHop::RemoteBranch { .. }
                | HubHop::RemoteCircuit { .. }
                | HubHop::RemoteBgp { .. }
        )
    }

    /// The kind of branch the route leads to: VPN, ExpressRoute, or
    /// neither.
    fn branch_kind(&self) -> BranchKind {
        match self.hop {
            HubHop::VpnGateway { .. } | HubHop::RemoteBranch { .. } => BranchKind::Vpn,
            HubHop::ExpressRouteGateway { .. } | HubHop::RemoteCircuit { .. } => {
                BranchKind::ExpressRoute
            }
            _ => BranchKind::None,
        }
    }

    /// Rank at an equal prefix: lower wins. Static routes first; then a
    /// local VNet connection's own prefixes ("system routes are preferred
    /// over routes learned by the hub through BGP"); then by the hub's
    /// routing preference:
    /// - ExpressRoute: local over remote; then between ExpressRoute and
    ///   VPN, ExpressRoute when local and VPN when remote ("any transit
    ///   between ER to ER is supported only if the circuits have ER Global
    ///   Reach enabled"), whatever the AS path; then the shorter AS path;
    /// - VpnGateway: local over remote; then VPN over ExpressRoute; then
    ///   the shorter AS path;
    /// - ASPath: the shorter AS path; then a branch's route over a remote
    ///   hub's VNet ("Remote site-to-site VPN will be preferred" on a
    ///   tie); then local over remote; then ExpressRoute when local and VPN
    ///   when remote.
    fn rank(&self, preference: HubRoutingPreference) -> (u8, u8, usize, usize, usize, u8) {
        let is_static = u8::from(!self.is_static);
        let system = u8::from(!matches!(self.hop, HubHop::Connection { .. }));
        let remote = self.remote();
        let kind = self.branch_kind();
        let path = self.as_path.len();
        // ExpressRoute over VPN in the hub, VPN over ExpressRoute through
        // another hub; what is neither ranks between them.
        let er_first: u8 = match (kind, remote) {
            (BranchKind::None, _) => 1,
            (BranchKind::ExpressRoute, false) | (BranchKind::Vpn, true) => 0,
            (BranchKind::ExpressRoute, true) | (BranchKind::Vpn, false) => 2,
        };
        let vpn_first: u8 = match kind {
            BranchKind::Vpn => 0,
            BranchKind::None => 1,
            BranchKind::ExpressRoute => 2,
        };
        let remote = usize::from(remote);
        match preference {
            HubRoutingPreference::ExpressRoute => {
                (is_static, system, remote, er_first.into(), path, 0)
            }
            HubRoutingPreference::VpnGateway => {
                (is_static, system, remote, vpn_first.into(), path, 0)
            }
            HubRoutingPreference::AsPath => {
                let branch = usize::from(kind == BranchKind::None);
                (is_static, system, path, branch, remote, er_first)
            }
        }
    }
}

/// What kind of branch a hub route leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BranchKind {
    Vpn,
    ExpressRoute,
    None,
}

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

/// Whether `connection` propagates to `table` of `hub`.
fn propagates_to(topo: &Topology, c: &HubConnection, hub: VirtualHubIdx, table: usize) -> bool {
    let t = &topo.virtual_hubs[hub].route_tables[table];
    c.propagated_tables.contains(&(hub, table))
        || c.propagated_labels.iter().any(|l| t.labels.contains(l))
}

fn ipv4_default() -> IpNet {
    IpNet::V4(Ipv4Net::default())
}

/// Every route offered to `table` of `hub`, before selection, in the
/// order: connections (hub by hub, in file order: VNets, then branches),
/// the table's static routes, routing intent's. `learned` is what the
/// hubs' VPN gateways learned from their branches.
pub fn hub_table_candidates(
    topo: &Topology,
    learned: &LearnedRoutes,
    hub: VirtualHubIdx,
    table: usize,
) -> Vec<HubRoute> {
    let Some(h) = topo.virtual_hubs.get(hub) else {
        return Vec::new();
    };
    let Some(t) = h.route_tables.get(table) else {
        return Vec::new();
    };
    // What propagates to `noneRouteTable` goes nowhere.
    if table == 1 {
        return Vec::new();
    }
    let meshed = topo
        .virtual_wans
        .get(h.wan)
        .is_some_and(VirtualWan::hubs_meshed);
    let mut out = Vec::new();
    for (from, other) in topo.virtual_hubs.iter_enumerated() {
        if other.wan != h.wan || (from != hub && !meshed) {
            continue;
        }
        for (ci, c) in other.connections.iter().enumerate() {
            if !propagates_to(topo, c, hub, table) {
                continue;
            }
            let own = topo.vnets[c.vnet].address_space.iter().copied();
            let statics = (c.static_routes.iter())
                .filter(|_| c.propagate_static_routes)
                .flat_map(|s| s.address_prefixes.iter().copied());
            let own: Vec<(IpNet, bool)> = own.map(|p| (p.trunc(), false)).collect();
            let statics: Vec<(IpNet, bool)> = statics.map(|p| (p, true)).collect();
            for (prefix, is_static) in own.into_iter().chain(statics) {
                if !matches!(prefix, IpNet::V4(_)) {
                    continue;
                }
                let local = from == hub;
                if !local && prefix == ipv4_default() {
                    continue;
                }
                out.push(if local {
                    HubRoute {
                        prefix,
                        hop: HubHop::Connection {
                            hub,
                            connection: ci,
                        },
                        origin: HubOrigin::Connection {
                            hub,
                            connection: ci,
                        },
                        as_path: Vec::new(),
                        is_static,
                        name: None,
                    }
                } else {
                    HubRoute {
                        prefix,
                        hop: HubHop::RemoteHub {
                            hub: from,
                            connection: ci,
                        },
                        origin: HubOrigin::RemoteHub(from),
                        as_path: vec![INTER_HUB_ASN, INTER_HUB_ASN],
                        is_static: false,
                        name: None,
                    }
                });
            }
        }
        let reaches = |c: &HubVpnConnection| {
            let t = &topo.virtual_hubs[hub].route_tables[table];
            c.propagated_tables.contains(&(hub, table))
                || c.propagated_labels.iter().any(|l| t.labels.contains(l))
        };
        for (ci, c) in other.vpn_connections.iter().enumerate() {
            if reaches(c) {
                out.extend(branch_candidates(topo, learned, (hub, from), ci));
            }
        }
        for (ci, c) in other.express_route_connections.iter().enumerate() {
            if circuit_reaches(topo, c, hub, table) {
                out.extend(circuit_candidates(topo, learned, (hub, from), ci));
            }
        }
        for (bi, b) in other.bgp_connections.iter().enumerate() {
            if propagates_to(topo, &other.connections[b.connection], hub, table) {
                out.extend(appliance_candidates(topo, learned, (hub, from), bi));
            }
        }
    }
    for route in &t.routes {
        let hop = match route.next_hop {
            HubNextHop::Connection {
                hub: at,
                connection,
            } if at == hub => HubHop::Connection { hub, connection },
            HubNextHop::Connection {
                hub: at,
                connection,
            } => HubHop::RemoteHub {
                hub: at,
                connection,
            },
            HubNextHop::Firewall => HubHop::Firewall { hub },
        };
        for prefix in &route.destinations {
            out.push(HubRoute {
                prefix: *prefix,
                hop,
                origin: HubOrigin::Table { hub, table },
                as_path: Vec::new(),
                is_static: true,
                name: Some(route.name.clone()),
            });
        }
    }
    if let (0, Some(intent)) = (table, &h.routing_intent) {
        let private = PRIVATE_TRAFFIC_PREFIXES
            .iter()
            .filter(|_| intent.private)
            .filter_map(|(a, l)| Ipv4Net::new(*a, *l).ok().map(IpNet::V4))
            .map(|p| (p, "_policy_PrivateTraffic"));
        let internet = intent
            .internet
            .then(|| (ipv4_default(), "_policy_PublicTraffic"));
        for (prefix, name) in private.chain(internet) {
            // Routing intent replaces a route of the table to the same prefix.
            out.retain(|r| r.prefix != prefix || r.origin != HubOrigin::Table { hub, table });
            out.push(HubRoute {
                prefix,
                hop: HubHop::Firewall { hub },
                origin: HubOrigin::Table { hub, table },
                as_path: Vec::new(),
                is_static: true,
                name: Some(name.to_string()),
            });
        }
    }
    out
}

/// The effective routes of `table` of `hub`: the best route of each
/// prefix, in the order the candidates were offered. Empty while the hub
/// has no connection, as Azure shows it.
pub fn hub_table_routes(
    topo: &Topology,
    learned: &LearnedRoutes,
    hub: VirtualHubIdx,
    table: usize,
) -> Vec<HubRoute> {
    let Some(h) = topo.virtual_hubs.get(hub) else {
        return Vec::new();
    };
    if h.connections.is_empty()
        && h.vpn_connections.is_empty()
        && h.express_route_connections.is_empty()
    {
        return Vec::new();
    }
    let candidates = hub_table_candidates(topo, learned, hub, table);
    select(candidates, h.routing_preference)
}

/// The best route of each prefix: the first of the lowest rank.
fn select(candidates: Vec<HubRoute>, preference: HubRoutingPreference) -> Vec<HubRoute> {
    let mut best: Vec<HubRoute> = Vec::new();
    for c in candidates {
        match best.iter_mut().find(|b| b.prefix == c.prefix) {
            Some(held) if c.rank(preference) < held.rank(preference) => *held = c,
            Some(_) => {}
            None => best.push(c),
        }
    }
    best
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

/// Where a secured hub's firewall sends what it let through: every
/// connection's VNet (and static routes) and branch of its hub, and
/// through the other hubs of a Standard WAN their connections' and
/// branches' (to their firewalls first where their routing intent covers
/// private traffic). The firewall sees every connection whatever the
/// tables say: routing intent propagates them to no table, and the
/// firewall is what joins them.
pub fn firewall_routes(
    topo: &Topology,
    learned: &LearnedRoutes,
    hub: VirtualHubIdx,
) -> Vec<HubRoute> {
    let Some(h) = topo.virtual_hubs.get(hub) else {
        return Vec::new();
    };
    let meshed = topo
        .virtual_wans
        .get(h.wan)
        .is_some_and(VirtualWan::hubs_meshed);
    let mut out = Vec::new();
    for (from, other) in topo.virtual_hubs.iter_enumerated() {
        if other.wan != h.wan || (from != hub && !meshed) {
            continue;
        }
        for (connection, c) in other.connections.iter().enumerate() {
            let own = topo.vnets[c.vnet].address_space.iter().map(|p| p.trunc());
            let statics = c
                .static_routes
                .iter()
                .flat_map(|s| s.address_prefixes.iter().copied());
            for prefix in own.chain(statics).filter(|p| matches!(p, IpNet::V4(_))) {
                let (hop, origin, as_path) = if from == hub {
                    let at = HubHop::Connection { hub, connection };
                    (at, HubOrigin::Connection { hub, connection }, Vec::new())
                } else {
                    let at = HubHop::RemoteHub {
                        hub: from,
                        connection,
                    };
                    (
                        at,
                        HubOrigin::RemoteHub(from),
                        vec![INTER_HUB_ASN, INTER_HUB_ASN],
                    )
                };
                out.push(HubRoute {
                    prefix,
                    hop,
                    origin,
                    as_path,
                    is_static: false,
                    name: None,
                });
            }
        }
        for connection in 0..other.vpn_connections.len() {
            out.extend(branch_candidates(topo, learned, (hub, from), connection));
        }
        for connection in 0..other.express_route_connections.len() {
            out.extend(circuit_candidates(topo, learned, (hub, from), connection));
        }
        for connection in 0..other.bgp_connections.len() {
            out.extend(appliance_candidates(topo, learned, (hub, from), connection));
        }
    }
    select(out, h.routing_preference)
}
