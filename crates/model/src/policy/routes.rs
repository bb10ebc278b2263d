//! Effective routes of a subnet, as Azure computes them
//! (`az network nic show-effective-route-table`), and their compilation
//! into a longest-prefix-match table for the packet path.
//!
//! Implements `docs/src/azure-behaviour.md` §1 (routing) and §2 (VNet
//! peering):
//!
//! - Default system routes (§1.1): one `VnetLocal` row per address range of
//!   the VNet; `0.0.0.0/0 → Internet`; `::/0 → Internet` when the VNet has
//!   an IPv6 range; `None` (drop) rows for 10.0.0.0/8, 100.64.0.0/10,
//!   172.16.0.0/12 and 192.168.0.0/16.
//! - Reserved `None` prefixes against address ranges (§1.1): a range equal
//!   to a reserved prefix gives a single row for that prefix with the
//!   range's next hop (no `None` row); a range strictly containing it
//!   removes the `None` row; a range inside it leaves both rows and LPM
//!   decides. The same rule is applied to the ranges of connected peers:
//!   Azure documents it for "the VNet's address space", and a peered range
//!   is reachable in the same way, so a `None` row must not shadow it.
//! - Peering routes (§1.2, §2): one row per address range of the peer, only
//!   while the peering is Connected (both links exist), `VNetPeering` within
//!   one location, `VNetGlobalPeering` across locations. A one-sided
//!   (Initiated) peering adds nothing; peering is not transitive. The rows
//!   do not depend on `allowVirtualNetworkAccess`: that setting gates
//!   traffic, which the dataplane enforces, not routes.
//! - Connected group routes: one `ConnectedGroup` row per address range
//!   of each VNet a Virtual Network Manager connected group joins this
//!   one with, after the peering rows, where no Connected peering joins
//!   the two (the peering's rows stand for that VNet); they reach what a
//!   peering would.
//! - User routes (§1.3, §1.7): the rows of the subnet's route table, in
//!   table order.
//! - Selection (§1.4): at an equal prefix, User beats VirtualNetworkGateway
//!   beats Default; the losers stay listed as `Invalid`. Rows of the same
//!   source and prefix (which validation should refuse) resolve to the
//!   first one listed.
//! - A user route for `0.0.0.0/0`, whatever its next hop, removes the four
//!   reserved `None` rows (§1.5). This follows the documented example in
//!   Azure's UDR overview, where adding a 0/0 route to an appliance made the
//!   private-range `None` routes disappear so that unused private space
//!   follows the 0/0 route; we read it as applying to every next-hop type
//!   and to all four reserved prefixes. The default `0.0.0.0/0 → Internet`
//!   row stays, `Invalid`.
//! - A virtual hub's 0.0.0.0/0 (a connected VNet's, with
//!   `internet_security_enabled`) removes them too, as Microsoft's
//!   scenario of isolated VNets and branches needs: its VNets reach the
//!   branches through the hub's firewall by that route alone.
//! - A user route equal to a VNet range makes the system row `Invalid`
//!   (§1.6); this is the equal-prefix rule above.
//!
//! - Private Endpoint routes (§1, "Private Endpoint routes"): one
//!   `InterfaceEndpoint` row per endpoint of the VNet and of its connected
//!   peers, for the endpoint's address alone (/32, or /128), after the
//!   peering rows; by prefix length it beats every wider route, user
//!   routes to an appliance included. Where the endpoint's subnet has the
//!   route-table network policy on (`RouteTableEnabled` or `Enabled`), a
//!   user route of this subnet that contains the address with a prefix at
//!   least as long as the endpoint VNet's range containing it makes the
//!   row `Invalid`, and the user route decides; a 0.0.0.0/0 user route
//!   never does. A /32 user route for the address beats the row at equal
//!   prefix, whatever the policy.
//! - Gateway routes (§1.2, see [`super::gateways`]): one
//!   `VirtualNetworkGateway` row per prefix the serving gateway knows
//!   (static, or learned over BGP), listed after the peering rows, unless
//!   the subnet's route table turns propagation off. A gateway row equal to
//!   or inside the VNet's range or a connected peer's is left out, whatever
//!   its length and even where a user route overrides that peering row:
//!   those system routes beat even more specific gateway routes, and Azure
//!   does not list the gateway's (§1.4).
//!
//! - Service endpoint routes: one `VirtualNetworkServiceEndpoint` row per
//!   service of the subnet's `service_endpoints`, for vnetd's prefix of the
//!   service (Azure's are the service's public prefixes of the region),
//!   on that subnet alone, after the Private Endpoint rows; a public face
//!   of such a service outside that prefix gets a host row of its own.
//!
//! Not modelled: the reachability check on a `VirtualAppliance` next
//! hop (an unreachable appliance address makes Azure mark the route
//! invalid); the route is kept Active and the dataplane drops what it
//! cannot deliver.

use super::gateways::{bgp_peer_addresses, gateway_effective_routes, LearnedRoutes};
use super::virtual_wan::{
    firewall_routes, hub_connection_of, hub_of_vnet, hub_table_routes, hub_target,
    static_routes_inside, vnet_hub_routes, HubHop, HubRoute, HubTarget,
};
use crate::topology::model::{
    GatewayIdx, NextHopType, PrivateEndpointIdx, RouteServerIdx, RouteTableIdx, Subnet, SubnetRef,
    Topology, VirtualHubIdx, VnetIdx, GATEWAY_SUBNET,
};
use ipnet::{IpNet, Ipv4Net};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

/// Where a route comes from, as the effective-routes listing names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr)]
pub enum RouteSource {
    /// A system route.
    Default,
    /// A user-defined route of the subnet's route table.
    User,
    /// A route of a virtual network gateway: a local network gateway's
    /// prefix, or learned over BGP.
    VirtualNetworkGateway,
}

impl RouteSource {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Rank at an equal prefix: lower wins (User > gateway > system).
    fn rank(self) -> u8 {
        match self {
            RouteSource::User => 0,
            RouteSource::VirtualNetworkGateway => 1,
            RouteSource::Default => 2,
        }
    }
}

/// Whether a route takes part in forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr)]
pub enum RouteState {
    Active,
    /// Listed, but beaten by a route of higher priority for the same prefix.
    Invalid,
}

impl RouteState {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One row of a subnet's effective routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveRoute {
    pub source: RouteSource,
    pub state: RouteState,
    pub address_prefix: IpNet,
    pub next_hop_type: NextHopType,
    /// The appliance address of a `VirtualAppliance` route.
    pub next_hop_ip: Option<IpAddr>,
    /// The user route's name.
    pub name: Option<String>,
    /// The route table a user route belongs to.
    pub route_table: Option<RouteTableIdx>,
    /// The peer VNet of a peering route.
    pub peer_vnet: Option<VnetIdx>,
    /// The gateway a `VirtualNetworkGateway` next hop leads to.
    pub gateway: Option<GatewayIdx>,
    /// Which of its instances carry a gateway route (their addresses are
    /// the next hops Azure lists).
    pub gateway_instances: Vec<usize>,
    /// The Route Server that programs a `VirtualNetworkGateway` route
    /// learned from appliances.
    pub route_server: Option<RouteServerIdx>,
    /// Those appliances' addresses: the next hops Azure lists, between
    /// which flows are spread by hash (ECMP).
    pub appliances: Vec<IpAddr>,
    /// The Private Endpoint an `InterfaceEndpoint` route leads to.
    pub endpoint: Option<PrivateEndpointIdx>,
    /// The virtual hub route a `VirtualNetworkGateway` row of a connected
    /// VNet stands for, and where the hub delivers it.
    pub hub: Option<Box<HubRow>>,
}

/// A virtual hub's route as a connected VNet's NICs receive it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubRow {
    pub hub: VirtualHubIdx,
    /// The table the VNet's connection is associated with; `None` for the
    /// routes of a secured hub's firewall, which come from no table.
    pub table: Option<usize>,
    pub route: HubRoute,
    pub target: HubTarget,
}

impl EffectiveRoute {
    fn system(prefix: IpNet, next_hop_type: NextHopType, peer_vnet: Option<VnetIdx>) -> Self {
        EffectiveRoute {
            source: RouteSource::Default,
            state: RouteState::Active,
            address_prefix: prefix,
            next_hop_type,
            next_hop_ip: None,
            name: None,
            route_table: None,
            peer_vnet,
            gateway: None,
            gateway_instances: Vec::new(),
            route_server: None,
            appliances: Vec::new(),
            endpoint: None,
            hub: None,
        }
    }

    pub fn is_active(&self) -> bool {
        self.state == RouteState::Active
    }

    /// The next-hop addresses Azure lists: the appliance of a
    /// VirtualAppliance route, or the gateway instances that carry a
    /// gateway route (two for an active-active gateway).
    pub fn next_hop_addresses(&self, topo: &Topology) -> Vec<IpAddr> {
        let mut out: Vec<IpAddr> = self.next_hop_ip.into_iter().collect();
        out.extend(self.appliances.iter().copied());
        if let Some(row) = &self.hub {
            let h = &topo.virtual_hubs[row.hub];
            // The gateway's instances for a branch's route; where the hub
            // hands the packet to an appliance (a secured hub's firewall,
            // a connection's static next hop, another hub's firewall), its
            // address; else the hub router's two.
            let gateway = (h.vpn_gateway).map(|g| &topo.gateways[g]);
            match (row.route.hop, row.target, gateway) {
                (HubHop::VpnGateway { .. }, _, Some(gw)) => out.extend(gw.instances.iter()),
                (_, HubTarget::Appliance { ip, .. }, _) => out.push(IpAddr::V4(ip)),
                _ => out.extend(h.router_ips.iter().copied().map(IpAddr::V4)),
            }
        }
        if let Some(gw) = self.gateway.and_then(|g| topo.gateways.get(g)) {
            if self.source == RouteSource::VirtualNetworkGateway {
                out.extend(
                    self.gateway_instances
                        .iter()
                        .filter_map(|&i| gw.instances.get(i).copied()),
                );
            }
        }
        out
    }
}

/// The private and shared address ranges that Azure routes to `None`
/// unless an address range or a 0/0 user route claims them, in listing
/// order.
pub const RESERVED_NONE_PREFIXES: [(Ipv4Addr, u8); 4] = [
    (Ipv4Addr::new(10, 0, 0, 0), 8),
    (Ipv4Addr::new(100, 64, 0, 0), 10),
    (Ipv4Addr::new(172, 16, 0, 0), 12),
    (Ipv4Addr::new(192, 168, 0, 0), 16),
];

fn reserved_none_prefixes() -> impl Iterator<Item = IpNet> {
    RESERVED_NONE_PREFIXES
        .into_iter()
        .filter_map(|(addr, len)| Ipv4Net::new(addr, len).ok().map(IpNet::V4))
}

fn ipv4_default() -> IpNet {
    IpNet::V4(Ipv4Net::default())
}

/// Every effective route of `subnet`, Active and Invalid.
///
/// Order: the VNet's ranges, the peers' ranges (peer by peer, in the order
/// of the subnet's VNet's peering links), the Private Endpoints' host
/// routes (in file order), the gateway rows, `0.0.0.0/0`, `::/0` (dual-stack
/// VNets only), the remaining reserved `None` prefixes, then the user
/// routes in table order. An out-of-range `subnet` has no routes.
pub fn effective_routes(topo: &Topology, subnet: SubnetRef) -> Vec<EffectiveRoute> {
    effective_routes_with(topo, &LearnedRoutes::default(), subnet)
}

/// [`effective_routes`] with the routes the gateways learned over BGP.
/// Gateway rows come after the peering rows.
pub fn effective_routes_with(
    topo: &Topology,
    learned: &LearnedRoutes,
    subnet: SubnetRef,
) -> Vec<EffectiveRoute> {
    let Some(vnet) = topo.vnets.get(subnet.vnet) else {
        return Vec::new();
    };
    let Some(sub) = vnet.subnets.get(subnet.subnet) else {
        return Vec::new();
    };
    let table = sub
        .route_table
        .and_then(|idx| topo.route_tables.get(idx).map(|t| (idx, t)));

    let mut rows: Vec<EffectiveRoute> = Vec::new();

    // Address ranges this subnet reaches directly: its own VNet's, then
    // those of connected peers.
    for range in &vnet.address_space {
        rows.push(EffectiveRoute::system(
            range.trunc(),
            NextHopType::VnetLocal,
            None,
        ));
    }
    let mut peers: Vec<VnetIdx> = Vec::new();
    for link in topo.peerings.iter().filter(|p| p.vnet == subnet.vnet) {
        let peer = link.remote;
        if peer == subnet.vnet
            || peers.contains(&peer)
            || !topo.peering_connected(subnet.vnet, peer)
        {
            continue;
        }
        let Some(peer_vnet) = topo.vnets.get(peer) else {
            continue;
        };
        peers.push(peer);
        let hop = if peer_vnet.location == vnet.location {
            NextHopType::VNetPeering
        } else {
            NextHopType::VNetGlobalPeering
        };
        for range in &peer_vnet.address_space {
            rows.push(EffectiveRoute::system(range.trunc(), hop, Some(peer)));
        }
    }
    // The VNets of its connected groups that no Connected peering joins:
    // `ConnectedGroup` rows, with no peering behind them.
    if !topo.network_management.connected_groups.is_empty() {
        for peer in topo.connected_group_peers(subnet.vnet) {
            peers.push(peer);
            for range in &topo.vnets[peer].address_space {
                rows.push(EffectiveRoute::system(
                    range.trunc(),
                    NextHopType::ConnectedGroup,
                    Some(peer),
                ));
            }
        }
    }
    // A VNet connected to a virtual hub is peered with the hub's own
    // network: the hub's prefix, which holds no NIC of the file.
    if let Some((hub, _)) = hub_connection_of(topo, subnet.vnet) {
        let hub = &topo.virtual_hubs[hub];
        let hop = if hub.location == vnet.location {
            NextHopType::VNetPeering
        } else {
            NextHopType::VNetGlobalPeering
        };
        // What it holds (the router's speakers, a secured hub's firewall,
        // the gateways) is reached over that peering.
        rows.push(EffectiveRoute {
            peer_vnet: hub.vnet,
            ..EffectiveRoute::system(IpNet::V4(hub.address_prefix), hop, None)
        });
    }
    let reachable_ranges: Vec<IpNet> = rows.iter().map(|r| r.address_prefix).collect();

    // The Private Endpoints of the VNet and of its connected peers, each
    // its own host route, in file order.
    for (e, pe) in topo.private_endpoints.iter_enumerated() {
        let vnet_of_endpoint = pe.subnet.vnet;
        if vnet_of_endpoint == subnet.vnet || peers.contains(&vnet_of_endpoint) {
            rows.push(EffectiveRoute {
                endpoint: Some(e),
                ..EffectiveRoute::system(
                    IpNet::from(pe.address),
                    NextHopType::InterfaceEndpoint,
                    None,
                )
            });
        }
    }

    service_endpoint_rows(topo, sub, &mut rows);
    gateway_rows(topo, learned, subnet, &reachable_ranges, &mut rows);
    hub_rows(topo, learned, subnet, &reachable_ranges, &mut rows);

    rows.push(EffectiveRoute::system(
        ipv4_default(),
        NextHopType::Internet,
        None,
    ));
    if vnet.address_space.iter().any(|r| matches!(r, IpNet::V6(_))) {
        rows.push(EffectiveRoute::system(
            IpNet::V6(Default::default()),
            NextHopType::Internet,
            None,
        ));
    }

    let user_default_route = table.is_some_and(|(_, t)| {
        t.routes
            .iter()
            .any(|r| r.address_prefix.trunc() == ipv4_default())
    });
    // A virtual hub's 0.0.0.0/0 does too: Microsoft's scenario of isolated
    // VNets and branches sends VNet-to-branch traffic through the hub's
    // firewall by that route alone.
    let hub_default_route = rows
        .iter()
        .any(|r| r.hub.is_some() && r.address_prefix == ipv4_default());
    if !user_default_route && !hub_default_route {
        for reserved in reserved_none_prefixes() {
            // Equal: the range's own row already stands for the prefix.
            // Strictly containing: the reserved row is removed. Inside:
            // both stay.
            let claimed = reachable_ranges
                .iter()
                .any(|range| range.contains(&reserved));
            if !claimed {
                rows.push(EffectiveRoute::system(reserved, NextHopType::None, None));
            }
        }
    }

    if let Some((table_idx, t)) = table {
        for route in &t.routes {
            rows.push(EffectiveRoute {
                source: RouteSource::User,
                state: RouteState::Active,
                address_prefix: route.address_prefix.trunc(),
                next_hop_type: route.next_hop_type,
                next_hop_ip: route.next_hop_ip,
                name: Some(route.name.clone()),
                route_table: Some(table_idx),
                peer_vnet: None,
                gateway: (route.next_hop_type == NextHopType::VirtualNetworkGateway)
                    .then(|| topo.serving_gateway(subnet.vnet))
                    .flatten(),
                gateway_instances: Vec::new(),
                route_server: None,
                appliances: Vec::new(),
                endpoint: None,
                hub: None,
            });
        }
    }

    mark_invalid(&mut rows);
    invalidate_overridden_endpoints(topo, &mut rows);
    rows
}

/// The `VirtualNetworkServiceEndpoint` rows of a subnet's service
/// endpoints: each service's prefix ([`crate::topology::model::EndpointService::prefix`]), once
/// (`Microsoft.Storage` and `Microsoft.Storage.Global` share one), then a
/// host route for each public face of a resource of such a service that
/// lies outside its prefix (an address the file gave, or a face of a
/// resource named only by a Private Endpoint).
fn service_endpoint_rows(topo: &Topology, sub: &Subnet, rows: &mut Vec<EffectiveRoute>) {
    let endpoints = &sub.services.endpoints;
    if endpoints.is_empty() {
        return;
    }
    let mut prefixes: Vec<IpNet> = Vec::new();
    for service in endpoints {
        let prefix = IpNet::V4(service.prefix());
        if !prefixes.contains(&prefix) {
            prefixes.push(prefix);
        }
    }
    let faces = (topo.paas_resources.iter())
        .map(|r| (r.kind, r.public_address))
        .chain(
            (topo.private_endpoints.iter())
                .map(|pe| (pe.target.sub_resource.kind, pe.target.public_address)),
        );
    let mut hosts: Vec<IpNet> = Vec::new();
    for (kind, address) in faces {
        let host = IpNet::V4(Ipv4Net::from(address));
        let covered = sub.services.endpoint_for(kind).is_some();
        if covered && !prefixes.iter().any(|p| p.contains(&host)) && !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    for prefix in prefixes.into_iter().chain(hosts) {
        rows.push(EffectiveRoute::system(
            prefix,
            NextHopType::VirtualNetworkServiceEndpoint,
            None,
        ));
    }
}

/// The rows of the gateways and Route Server serving `subnet`'s VNet, after
/// the peering rows. A gateway route to a prefix equal to or inside the
/// VNet's own range or a connected peer's is left out, not listed as
/// Invalid (even where a user route overrides that peering row). A hub's
/// own network takes its routes from the hub router ([`hub_rows`]), but
/// for the host routes of its VPN and ExpressRoute gateways' BGP peers in its
/// `GatewaySubnet` (the sessions' own way into the tunnels).
fn gateway_rows(
    topo: &Topology,
    learned: &LearnedRoutes,
    subnet: SubnetRef,
    reachable_ranges: &[IpNet],
    rows: &mut Vec<EffectiveRoute>,
) {
    let in_gateway_subnet = topo.subnet(subnet).name == GATEWAY_SUBNET;
    let session_hosts: Option<Vec<IpNet>> = hub_of_vnet(topo, subnet.vnet).map(|hub| {
        let h = &topo.virtual_hubs[hub];
        let gateways = [h.vpn_gateway, h.express_route_gateway];
        (gateways.into_iter().flatten())
            .filter(|_| in_gateway_subnet)
            .flat_map(|g| bgp_peer_addresses(topo, g))
            .map(IpNet::from)
            .collect()
    });
    let kept = |prefix: &IpNet| session_hosts.as_ref().is_none_or(|h| h.contains(prefix));
    for row in gateway_effective_routes(topo, learned, subnet) {
        if !kept(&row.prefix) || reachable_ranges.iter().any(|r| r.contains(&row.prefix)) {
            continue;
        }
        rows.push(EffectiveRoute {
            source: RouteSource::VirtualNetworkGateway,
            gateway: row.gateway,
            gateway_instances: row.instances,
            route_server: row.route_server,
            appliances: row.next_hops,
            ..EffectiveRoute::system(row.prefix, NextHopType::VirtualNetworkGateway, None)
        });
    }
}

/// The routes a connected VNet receives from its virtual hub, as
/// `VirtualNetworkGateway` rows after the gateway rows, unless the subnet's
/// route table turns gateway route propagation off; a prefix equal to or
/// inside the VNet's range or a connected peer's is left out. In a hub's
/// own network, the VPN gateway's `GatewaySubnet` (where what the branches
/// send enters) follows the table branches are associated with,
/// `defaultRouteTable`; the firewall's subnet follows the firewall's
/// routes.
fn hub_rows(
    topo: &Topology,
    learned: &LearnedRoutes,
    subnet: SubnetRef,
    reachable_ranges: &[IpNet],
    rows: &mut Vec<EffectiveRoute>,
) {
    if !topo.propagates_gateway_routes(subnet) {
        return;
    }
    let (hub, table, routes) = match vnet_hub_routes(topo, learned, subnet.vnet) {
        Some((hub, connection, routes)) => {
            let table = topo.virtual_hubs[hub].connections[connection].associated;
            (hub, Some(table), routes)
        }
        None => match hub_of_vnet(topo, subnet.vnet) {
            Some(hub) if topo.subnet(subnet).name == GATEWAY_SUBNET => {
                (hub, Some(0), hub_table_routes(topo, learned, hub, 0))
            }
            Some(hub) => (hub, None, firewall_routes(topo, learned, hub)),
            None => return,
        },
    };
    let listed: Vec<IpNet> = routes.iter().map(|r| r.prefix).collect();
    let routes = routes.into_iter().flat_map(|route| {
        // The hub router applies a connection's static routes per
        // destination: where one is more specific than the route that
        // reaches the connection, the NIC carries it as a row of its own.
        let inner = static_routes_inside(topo, &route)
            .into_iter()
            .filter(|p| !listed.contains(p))
            .map(|prefix| HubRoute {
                prefix,
                ..route.clone()
            })
            .collect::<Vec<_>>();
        std::iter::once(route).chain(inner)
    });
    for route in routes {
        if reachable_ranges.iter().any(|r| r.contains(&route.prefix)) {
            continue;
        }
        let target = hub_target(topo, &route);
        rows.push(EffectiveRoute {
            source: RouteSource::VirtualNetworkGateway,
            hub: Some(Box::new(HubRow {
                hub,
                table,
                route: route.clone(),
                target,
            })),
            ..EffectiveRoute::system(route.prefix, NextHopType::VirtualNetworkGateway, None)
        });
    }
}

/// Marks `Invalid` the `InterfaceEndpoint` rows a user route overrides: the
/// endpoint's subnet has the route-table network policy on, and a user row
/// of the listing contains the endpoint's address with a prefix at least
/// as long as the endpoint VNet's address range containing it (so a
/// 0.0.0.0/0 user route never does). That user route then decides by
/// longest prefix.
fn invalidate_overridden_endpoints(topo: &Topology, rows: &mut [EffectiveRoute]) {
    let user_prefixes: Vec<IpNet> = rows
        .iter()
        .filter(|r| r.source == RouteSource::User)
        .map(|r| r.address_prefix)
        .collect();
    for row in rows.iter_mut() {
        let Some(pe) = row.endpoint.and_then(|e| topo.private_endpoints.get(e)) else {
            continue;
        };
        let Some(vnet) = topo.vnets.get(pe.subnet.vnet) else {
            continue;
        };
        let policed = vnet
            .subnets
            .get(pe.subnet.subnet)
            .is_some_and(|s| s.endpoint_policies.route_table());
        if !policed {
            continue;
        }
        let Some(range_len) = vnet
            .address_space
            .iter()
            .filter(|range| range.contains(&pe.address))
            .map(IpNet::prefix_len)
            .max()
        else {
            continue;
        };
        if user_prefixes
            .iter()
            .any(|p| p.contains(&pe.address) && p.prefix_len() >= range_len)
        {
            row.state = RouteState::Invalid;
        }
    }
}

/// At each prefix, keeps the best-ranked row Active (the first listed on a
/// tie) and marks the others Invalid.
fn mark_invalid(rows: &mut [EffectiveRoute]) {
    let mut winner: HashMap<IpNet, usize> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        match winner.get(&row.address_prefix) {
            Some(&w) if rows[w].source.rank() <= row.source.rank() => {}
            _ => {
                winner.insert(row.address_prefix, i);
            }
        }
    }
    for (i, row) in rows.iter_mut().enumerate() {
        row.state = if winner.get(&row.address_prefix) == Some(&i) {
            RouteState::Active
        } else {
            RouteState::Invalid
        };
    }
}

/// The rows that take part in forwarding.
pub fn active_routes(rows: &[EffectiveRoute]) -> impl Iterator<Item = &EffectiveRoute> + '_ {
    rows.iter().filter(|r| r.is_active())
}

/// The row (index in `rows`) that decides a packet to `dst`: the Active
/// row with the longest prefix containing it. The plain definition of route
/// selection; the snapshot compiles the same rows into a longest-prefix
/// table that must agree with it.
pub fn deciding_row(rows: &[EffectiveRoute], dst: IpAddr) -> Option<usize> {
    rows.iter()
        .enumerate()
        .filter(|(_, r)| r.is_active() && r.address_prefix.contains(&dst))
        .max_by_key(|(_, r)| r.address_prefix.prefix_len())
        .map(|(i, _)| i)
}

#[cfg(test)]
pub(crate) mod tests;
