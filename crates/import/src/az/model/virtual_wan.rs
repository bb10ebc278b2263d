//! The shapes of Virtual WAN's objects: virtual WANs, virtual hubs (a
//! Route Server is one too, without a WAN), a hub's VNet connections,
//! route tables, routing intent and BGP connections, VPN sites, and the
//! hubs' VPN and ExpressRoute gateways with their connections (which the
//! CLI prints inside their gateway). A connection's routing is
//! `routingConfiguration`, as Azure's API has it.

use super::common::Reference;
use serde::Deserialize;

/// `az network vwan list`: a virtual WAN. The CLI prints its type as
/// `virtualWanType` (`type` is the resource type); Azure's API calls it
/// `type` inside `properties`, which a generated client names
/// `typePropertiesType`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VirtualWan {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    #[serde(alias = "typePropertiesType")]
    pub virtual_wan_type: Option<String>,
    pub allow_branch_to_branch_traffic: Option<bool>,
    pub disable_vpn_encryption: Option<bool>,
    pub office365_local_breakout_category: Option<String>,
}

/// `az network vhub list`: a virtual hub of a WAN, or a Route Server
/// (no `virtualWan`), which `route-servers.json` holds.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VirtualHub {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    pub virtual_wan: Option<Reference>,
    pub address_prefix: Option<String>,
    pub sku: Option<String>,
    pub hub_routing_preference: Option<String>,
    pub allow_branch_to_branch_traffic: Option<bool>,
    #[serde(default)]
    pub virtual_router_ips: Vec<String>,
    pub virtual_router_auto_scale_configuration: Option<AutoScale>,
    /// The hub's older route table (`routeTable.routes`).
    pub route_table: Option<HubOldRouteTable>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoScale {
    pub min_capacity: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub struct HubOldRouteTable {
    #[serde(default)]
    pub routes: Vec<serde_json::Value>,
}

/// `az network vhub connection list`: a VNet connected to a hub (its ID
/// names the hub).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HubConnection {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub remote_virtual_network: Option<Reference>,
    pub enable_internet_security: Option<bool>,
    pub routing_configuration: Option<HubRouting>,
}

/// A connection's `routingConfiguration`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HubRouting {
    pub associated_route_table: Option<Reference>,
    pub propagated_route_tables: Option<PropagatedRouteTables>,
    pub vnet_routes: Option<VnetRoutes>,
}

#[derive(Debug, Deserialize)]
pub struct PropagatedRouteTables {
    #[serde(default)]
    pub ids: Vec<Reference>,
    #[serde(default)]
    pub labels: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnetRoutes {
    #[serde(default)]
    pub static_routes: Vec<StaticRoute>,
    pub static_routes_config: Option<StaticRoutesConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StaticRoute {
    pub name: String,
    #[serde(default)]
    pub address_prefixes: Vec<String>,
    pub next_hop_ip_address: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StaticRoutesConfig {
    pub propagate_static_routes: Option<bool>,
    pub vnet_local_route_override_criteria: Option<String>,
}

/// `az network vhub route-table list`: a hub route table (its ID names
/// the hub), `defaultRouteTable` and `noneRouteTable` among them.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HubRouteTable {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub routes: Vec<HubRoute>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HubRoute {
    pub name: String,
    pub destination_type: Option<String>,
    #[serde(default)]
    pub destinations: Vec<String>,
    pub next_hop_type: Option<String>,
    pub next_hop: Option<String>,
}

/// `az network vhub routing-intent list`: a hub's routing intent (its ID
/// names the hub).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingIntent {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    #[serde(default)]
    pub routing_policies: Vec<RoutingPolicy>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingPolicy {
    pub name: String,
    #[serde(default)]
    pub destinations: Vec<String>,
    pub next_hop: Option<String>,
}

/// `az network vhub bgpconnection list`: a BGP peering of a hub's router
/// with an appliance (its ID names the hub).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HubBgpConnection {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub peer_asn: Option<u64>,
    pub peer_ip: Option<String>,
    pub hub_virtual_network_connection: Option<Reference>,
}

/// `az network vpn-site list`: a branch, with its links.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpnSite {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    pub virtual_wan: Option<Reference>,
    pub address_space: Option<super::common::AddressSpace>,
    #[serde(default)]
    pub vpn_site_links: Vec<VpnSiteLink>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpnSiteLink {
    pub name: String,
    pub ip_address: Option<String>,
    pub fqdn: Option<String>,
    pub link_properties: Option<LinkProperties>,
    pub bgp_properties: Option<LinkBgp>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkProperties {
    pub link_speed_in_mbps: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkBgp {
    pub asn: Option<u64>,
    pub bgp_peering_address: Option<String>,
}

/// `az network vpn-gateway list`: a hub's VPN gateway, with its
/// connections to VPN sites.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpnGateway {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    pub virtual_hub: Option<Reference>,
    pub vpn_gateway_scale_unit: Option<u64>,
    pub bgp_settings: Option<VpnBgpSettings>,
    #[serde(default)]
    pub connections: Vec<VpnConnection>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpnBgpSettings {
    pub asn: Option<u64>,
    pub peer_weight: Option<u64>,
}

/// A VPN gateway's connection to a VPN site, link by link.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpnConnection {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub remote_vpn_site: Option<Reference>,
    pub enable_internet_security: Option<bool>,
    pub routing_configuration: Option<HubRouting>,
    #[serde(default)]
    pub vpn_link_connections: Vec<VpnLinkConnection>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpnLinkConnection {
    pub name: String,
    pub vpn_site_link: Option<Reference>,
    pub enable_bgp: Option<bool>,
}

/// `az network express-route gateway list`: a hub's ExpressRoute
/// gateway, with its connections to circuits.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpressRouteGateway {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    pub virtual_hub: Option<Reference>,
    pub auto_scale_configuration: Option<ErAutoScale>,
    #[serde(default)]
    pub express_route_connections: Vec<ExpressRouteConnection>,
}

#[derive(Debug, Deserialize)]
pub struct ErAutoScale {
    pub bounds: Option<ErBounds>,
}

#[derive(Debug, Deserialize)]
pub struct ErBounds {
    pub min: Option<u64>,
}

/// An ExpressRoute gateway's connection to a circuit's private peering.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpressRouteConnection {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub express_route_circuit_peering: Option<Reference>,
    pub routing_weight: Option<u64>,
    pub enable_internet_security: Option<bool>,
    pub routing_configuration: Option<HubRouting>,
}
