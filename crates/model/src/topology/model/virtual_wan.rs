//! Azure Virtual WAN as the file describes it, resolved: virtual WANs,
//! their virtual hubs (each a hub router of ASN 65515 with its route
//! tables), the hubs' connections of VNets with their routing
//! configuration, routing intent, and the gateways and sites a hub joins.
//! `resolve/virtual_wan.rs` holds the rules Azure applies to them;
//! `policy/virtual_wan.rs` the routes the hub routers compute.

use super::firewalls::FirewallIdx;
use super::hybrid::LocalBgp;
use super::indices::{CircuitIdx, GatewayIdx, LocalGatewayIdx, SiteIdx, VirtualHubIdx, VnetIdx};
use super::route_servers::HubRoutingPreference;
use super::spelled_enum;
use ipnet::{IpNet, Ipv4Net};
use std::net::{IpAddr, Ipv4Addr};

super::index_type!(
    /// Index of a virtual WAN in [`super::Topology::virtual_wans`].
    VirtualWanIdx
);

/// The ASN of every virtual hub router and of the hub's gateways
/// ("Virtual WAN doesn't support ASN changes for Virtual Hubs or any
/// gateways").
pub const HUB_ROUTER_ASN: u32 = 65515;

/// The ASN a hub prepends twice to the routes it gives another hub of its
/// WAN (the `asPath` `65520-65520` of a `Remote Hub` route).
pub const INTER_HUB_ASN: u32 = 65520;

/// The name of the route table every hub has, with label `default`.
pub const DEFAULT_ROUTE_TABLE: &str = "defaultRouteTable";
/// The name of the route table every hub has, with label `none`: a
/// connection propagating to it gives its routes to no table.
pub const NONE_ROUTE_TABLE: &str = "noneRouteTable";
/// The label of every hub's `defaultRouteTable`.
pub const DEFAULT_LABEL: &str = "default";
/// The label of every hub's `noneRouteTable`.
pub const NONE_LABEL: &str = "none";

/// The prefixes routing intent's private traffic policy puts in the
/// `defaultRouteTable` (route `_policy_PrivateTraffic`).
pub const PRIVATE_TRAFFIC_PREFIXES: [(Ipv4Addr, u8); 3] = [
    (Ipv4Addr::new(10, 0, 0, 0), 8),
    (Ipv4Addr::new(172, 16, 0, 0), 12),
    (Ipv4Addr::new(192, 168, 0, 0), 16),
];

/// The prefix of a secured hub's own network's name (`HV_<hub>`).
pub const HUB_VNET_PREFIX: &str = "HV_";

/// Where a secured hub's `AzureFirewallSubnet` starts in the hub prefix
/// (its firewall takes the subnet's first usable address, `.132`), and
/// its length: vnetd's estimate, since Azure publishes neither.
pub const HUB_FIREWALL_SUBNET: (u32, u8) = (128, 26);

/// Where a hub's `GatewaySubnet` (its VPN and ExpressRoute gateways') starts in the hub
/// prefix, and its length: vnetd's estimate, since Azure publishes
/// neither. The first /26 leaves the router's addresses (the 69th and 70th)
/// and the firewall's subnet (from the 129th) alone; the gateway's two
/// instances take its `.4` and `.5`, as an active-active gateway's do.
pub const HUB_GATEWAY_SUBNET: (u32, u8) = (0, 26);

/// Where the subnet of the hub router's two addresses starts in the hub
/// prefix, and its length: the second /26, which holds the router's
/// default addresses (`.68` and `.69`). vnetd's estimate: Azure publishes
/// neither. It holds the router's instances once a BGP connection needs
/// them to speak.
pub const HUB_ROUTER_SUBNET: (u32, u8) = (64, 26);

/// The name of that subnet: the hub router is a Route Server, and so is
/// its subnet's name.
pub const HUB_ROUTER_SUBNET_NAME: &str = "RouteServerSubnet";

/// The throughput of one scale unit of a hub's VPN gateway, in Mbit/s
/// ("1 scale unit = 500 Mbps").
pub const VPN_SCALE_UNIT_MBPS: u32 = 500;

/// Scale units a hub's VPN gateway takes (up to 20 Gbps).
pub const VPN_SCALE_UNITS: std::ops::RangeInclusive<i64> = 1..=40;

/// The throughput of one scale unit of a hub's ExpressRoute gateway, in
/// Mbit/s ("each scale unit is 2 Gbps").
pub const EXPRESS_ROUTE_SCALE_UNIT_MBPS: u32 = 2_000;

/// Scale units a hub's ExpressRoute gateway takes (up to 20 Gbps).
pub const EXPRESS_ROUTE_SCALE_UNITS: std::ops::RangeInclusive<i64> = 1..=10;

/// Where a hub's ExpressRoute gateway's two instances sit in the hub's
/// `GatewaySubnet`, which it shares with the VPN gateway as two gateways of
/// a VNet do: `.6` and `.7`, after the VPN gateway's `.4` and `.5` (vnetd's
/// choice, since Azure publishes neither), whichever gateways the hub has.
pub const HUB_EXPRESS_ROUTE_INSTANCES: [u32; 2] = [6, 7];

/// The smallest hub address prefix Azure takes: a /24.
pub const HUB_MAX_PREFIX_LEN: u8 = 24;

/// Routing infrastructure units a hub router takes.
pub const HUB_ROUTING_UNITS: std::ops::RangeInclusive<i64> = 2..=50;

spelled_enum! {
    /// `type` of a virtual WAN.
    #[derive(Default)]
    pub enum WanType {
        Basic,
        #[default]
        Standard,
    }
}

spelled_enum! {
    /// What a routing policy of routing intent sends to its next hop.
    pub enum RoutingPolicyDestination {
        Internet,
        PrivateTraffic,
    }
}

/// A virtual WAN (`azurerm_virtual_wan`).
#[derive(Debug, Clone)]
pub struct VirtualWan {
    pub name: String,
    pub kind: WanType,
    /// `allow_branch_to_branch_traffic`: VPN to VPN and VPN to
    /// ExpressRoute transit through the hubs.
    pub branch_to_branch: bool,
    pub line: usize,
}

impl VirtualWan {
    /// Whether its hubs are full-meshed over Microsoft's backbone: a
    /// Standard WAN's are, always; a Basic WAN's are not.
    pub fn hubs_meshed(&self) -> bool {
        self.kind == WanType::Standard
    }
}

/// A virtual hub (`azurerm_virtual_hub`) and its router.
#[derive(Debug, Clone)]
pub struct VirtualHub {
    pub name: String,
    pub wan: VirtualWanIdx,
    /// Normalised region name.
    pub location: String,
    pub address_prefix: Ipv4Net,
    pub routing_preference: HubRoutingPreference,
    /// Routing infrastructure units (2 to 50): 1 Gbps each, and 3 Gbps for
    /// the first two.
    pub routing_units: u32,
    /// The hub router's two addresses (`virtualRouterIps`).
    pub router_ips: [Ipv4Addr; 2],
    /// Its route tables: `defaultRouteTable` first, `noneRouteTable`
    /// second, then the file's own.
    pub route_tables: Vec<HubRouteTable>,
    pub connections: Vec<HubConnection>,
    pub routing_intent: Option<RoutingIntent>,
    /// A secured hub's firewall (`AZFW_Hub`), in [`super::Topology::firewalls`].
    pub firewall: Option<FirewallIdx>,
    /// A hub's own network, which Azure manages: the hub prefix, with the
    /// firewall's `AzureFirewallSubnet` in a secured hub and the VPN
    /// gateway's `GatewaySubnet` (named `HV_<hub>`, as Azure names it
    /// without the suffix).
    pub vnet: Option<VnetIdx>,
    /// The hub's VPN gateway (`azurerm_vpn_gateway`), in
    /// [`super::Topology::gateways`]: an active-active, route-based VPN
    /// gateway of ASN 65515 in the hub's own network.
    pub vpn_gateway: Option<GatewayIdx>,
    /// Its connections to VPN sites (`azurerm_vpn_gateway_connection`).
    pub vpn_connections: Vec<HubVpnConnection>,
    /// The hub's ExpressRoute gateway (`azurerm_express_route_gateway`),
    /// in [`super::Topology::gateways`]: ASN 65515, two instances, in the
    /// hub's `GatewaySubnet`.
    pub express_route_gateway: Option<GatewayIdx>,
    /// Its connections to circuits (`azurerm_express_route_connection`).
    pub express_route_connections: Vec<HubExpressRouteConnection>,
    /// Its BGP connections to appliances in connected VNets
    /// (`azurerm_virtual_hub_bgp_connection`).
    pub bgp_connections: Vec<HubBgpConnection>,
    /// The hub router's speakers, once a BGP connection needs them: a
    /// Route Server of the hub's own network at the router's two
    /// addresses, in [`super::Topology::route_servers`].
    pub router: Option<super::route_servers::RouteServerIdx>,
    pub line: usize,
}

/// A hub's BGP connection to an appliance in a connected VNet
/// (`azurerm_virtual_hub_bgp_connection`): both router addresses peer with
/// it, and what it announces enters the hub's tables as
/// `HubBgpConnection` routes, propagated as its VNet's connection is.
#[derive(Debug, Clone)]
pub struct HubBgpConnection {
    pub name: String,
    pub peer_ip: Ipv4Addr,
    pub peer_asn: u32,
    /// The VNet connection of the appliance's VNet (index in the hub's
    /// `connections`).
    pub connection: usize,
    pub line: usize,
}

impl VirtualHub {
    /// The index of the table named `name` (Azure's names are
    /// case-insensitive).
    pub fn table(&self, name: &str) -> Option<usize> {
        self.route_tables
            .iter()
            .position(|t| t.name.eq_ignore_ascii_case(name))
    }

    /// The router's capacity in Mbit/s: 3 Gbps for the first two units,
    /// 1 Gbps for each further one (Azure's "Virtual hub settings").
    pub fn router_mbps(&self) -> u64 {
        3000 + 1000 * u64::from(self.routing_units.saturating_sub(2))
    }
}

/// One route table of a hub (`azurerm_virtual_hub_route_table`).
#[derive(Debug, Clone)]
pub struct HubRouteTable {
    pub name: String,
    /// Its labels, lower-cased (labels match case-insensitively);
    /// `defaultRouteTable` always has `default`, `noneRouteTable` `none`.
    pub labels: Vec<String>,
    pub routes: Vec<HubStaticRoute>,
    pub line: usize,
}

/// A static route of a hub route table.
#[derive(Debug, Clone)]
pub struct HubStaticRoute {
    pub name: String,
    pub destinations: Vec<IpNet>,
    pub next_hop: HubNextHop,
    pub line: usize,
}

/// The next hop of a hub table's static route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubNextHop {
    /// A VNet connection (index in its hub's `connections`), of this hub
    /// or, written `hub/connection`, of another hub of the WAN (Azure's
    /// second static route model puts the route in every hub's tables):
    /// the traffic enters that VNet, at the connection's static route's
    /// next hop where one covers the destination.
    Connection {
        hub: VirtualHubIdx,
        connection: usize,
    },
    /// The hub's own Azure Firewall (a route cannot name another hub's).
    Firewall,
}

/// A hub's connection of a VNet (`azurerm_virtual_hub_connection`).
#[derive(Debug, Clone)]
pub struct HubConnection {
    pub name: String,
    pub vnet: VnetIdx,
    /// `internet_security_enabled` ("Propagate Default Route"): whether a
    /// 0.0.0.0/0 of the associated table reaches the VNet.
    pub internet_security: bool,
    /// The table it forwards by (index in the hub's `route_tables`).
    pub associated: usize,
    /// The tables it gives its routes to, by ID: (hub, table index).
    pub propagated_tables: Vec<(VirtualHubIdx, usize)>,
    /// The labels it gives its routes to, lower-cased: every table of
    /// every hub of the WAN carrying one of them.
    pub propagated_labels: Vec<String>,
    /// `static_vnet_route`: prefixes the hub sends into the VNet to an
    /// address in it (an appliance).
    pub static_routes: Vec<ConnectionStaticRoute>,
    /// `static_vnet_local_route_override_criteria = Equal` ("Bypass next
    /// hop IP for workloads within this VNet"): traffic to the VNet's own
    /// addresses skips the static routes.
    pub bypass_local: bool,
    /// `static_vnet_propagate_static_routes_enabled`: the static routes
    /// propagate as the VNet's own prefixes do.
    pub propagate_static_routes: bool,
    pub line: usize,
}

/// A static route of a VNet connection.
#[derive(Debug, Clone)]
pub struct ConnectionStaticRoute {
    pub name: String,
    pub address_prefixes: Vec<IpNet>,
    pub next_hop: Ipv4Addr,
    pub line: usize,
}

/// Routing intent of a hub (`azurerm_virtual_hub_routing_intent`): which
/// traffic goes to the hub's security solution.
#[derive(Debug, Clone)]
pub struct RoutingIntent {
    pub name: String,
    /// A private traffic policy: RFC 1918 traffic goes to the hub's
    /// firewall.
    pub private: bool,
    /// An Internet traffic policy: 0.0.0.0/0 goes to the hub's firewall.
    pub internet: bool,
    pub line: usize,
}

/// A VPN site (`azurerm_vpn_site`): a branch of a WAN, which vnetd plays
/// with an on-premises site of the file (`site`).
#[derive(Debug, Clone)]
pub struct VpnSite {
    pub name: String,
    pub wan: VirtualWanIdx,
    /// The on-premises site whose routers are the branch's devices.
    pub site: SiteIdx,
    /// `address_cidrs`: the prefixes a link without BGP stands for.
    pub address_cidrs: Vec<IpNet>,
    pub links: Vec<VpnSiteLink>,
    pub line: usize,
}

/// One link of a VPN site: a device of the branch (router `router` of its
/// site), with its BGP speaker when it runs one.
#[derive(Debug, Clone)]
pub struct VpnSiteLink {
    pub name: String,
    /// The index of the router of the site that plays the link.
    pub router: usize,
    pub ip_address: Option<IpAddr>,
    pub speed_mbps: Option<u32>,
    pub bgp: Option<LocalBgp>,
    pub line: usize,
}

/// A hub's connection to a VPN site (`azurerm_vpn_gateway_connection`).
/// A branch is always associated with `defaultRouteTable`.
#[derive(Debug, Clone)]
pub struct HubVpnConnection {
    pub name: String,
    /// Index in [`super::Topology::vpn_sites`].
    pub vpn_site: usize,
    /// `internet_security_enabled`: a 0.0.0.0/0 of the hub (routing
    /// intent's Internet policy) is advertised to the branch.
    pub internet_security: bool,
    /// The tables it gives its routes to, by ID: (hub, table index).
    pub propagated_tables: Vec<(VirtualHubIdx, usize)>,
    /// The labels it gives its routes to, lower-cased.
    pub propagated_labels: Vec<String>,
    /// One gateway connection per link, each to a local network gateway
    /// standing for the link's device.
    pub links: Vec<HubVpnLink>,
    pub line: usize,
}

/// One `vpn_links` item of a hub's VPN connection, as vnetd runs it: an
/// IPsec connection of the hub's gateway to a local network gateway.
#[derive(Debug, Clone)]
pub struct HubVpnLink {
    pub name: String,
    /// Index in [`super::Topology::connections`].
    pub connection: usize,
    pub local_gateway: LocalGatewayIdx,
    pub bgp_enabled: bool,
}

/// A hub's connection to an ExpressRoute circuit
/// (`azurerm_express_route_connection`), run as an ExpressRoute gateway
/// connection of the hub's gateway. Associated with `defaultRouteTable`,
/// as every branch connection is.
#[derive(Debug, Clone)]
pub struct HubExpressRouteConnection {
    pub name: String,
    pub circuit: CircuitIdx,
    /// Index in [`super::Topology::connections`].
    pub connection: usize,
    pub routing_weight: u32,
    /// `internet_security_enabled`: a 0.0.0.0/0 of the hub is advertised
    /// to the circuit.
    pub internet_security: bool,
    /// The tables it gives its routes to, by ID: (hub, table index).
    pub propagated_tables: Vec<(VirtualHubIdx, usize)>,
    /// The labels it gives its routes to, lower-cased.
    pub propagated_labels: Vec<String>,
    pub line: usize,
}
