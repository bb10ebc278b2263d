//! Azure Virtual WAN as the Azure CLI lists it (`az network vwan list`,
//! `az network vhub list`, and for each hub `az network vhub connection
//! list`, `route-table list`, `routing-intent list` and `bgpconnection
//! list`; `az network vpn-site list`, `az network vpn-gateway list` and
//! `az network express-route gateway list`, which print each gateway's
//! connections inside it), turned into the azurerm resources Terraform
//! would hold for it: `azurerm_virtual_wan`, `azurerm_virtual_hub`,
//! `azurerm_virtual_hub_connection`, `azurerm_virtual_hub_route_table`
//! (its routes as `route` blocks), `azurerm_virtual_hub_routing_intent`,
//! `azurerm_virtual_hub_bgp_connection`, `azurerm_vpn_site`,
//! `azurerm_vpn_gateway` with its `azurerm_vpn_gateway_connection`s and
//! `azurerm_express_route_gateway` with its
//! `azurerm_express_route_connection`s.
//!
//! A connection's `routingConfiguration` becomes azurerm's `routing`
//! block (`associatedRouteTable.id`, `propagatedRouteTables.{ids,
//! labels}`, `vnetRoutes.staticRoutes` and `staticRoutesConfig`). A hub
//! part's ID names its hub (`.../virtualHubs/HUB/hubRouteTables/NAME`). A
//! Route Server is a virtual hub without a WAN to Azure, and `vhub list`
//! prints it too: it is left to `route-servers.json`. The route tables
//! every hub has (`defaultRouteTable`, `noneRouteTable`) may be referred
//! to without the dump listing them.

use super::attributes::{given, identity, put_given, put_str, put_text, resource, top_level};
use super::known::Known;
use super::list::List;
use super::model::{
    ExpressRouteConnection, ExpressRouteGateway, HubBgpConnection, RoutingIntent, VirtualWan,
    VpnGateway,
};
use super::model::{
    HubConnection, HubRoute, HubRouteTable, HubRouting, VirtualHub, VpnConnection, VpnSite,
};
use crate::json_file::Place;
use crate::write::id_names;
use crate::{ImportError, Resource};
use serde_json::{json, Map, Value};

/// The lists of a dump that hold Virtual WAN, read.
#[derive(Default)]
pub struct Lists<'a> {
    pub wans: List<'a, VirtualWan>,
    pub hubs: List<'a, VirtualHub>,
    pub connections: List<'a, HubConnection>,
    pub route_tables: List<'a, HubRouteTable>,
    pub routing_intents: List<'a, RoutingIntent>,
    pub bgp_connections: List<'a, HubBgpConnection>,
    pub vpn_sites: List<'a, VpnSite>,
    pub vpn_gateways: List<'a, VpnGateway>,
    pub express_route_gateways: List<'a, ExpressRouteGateway>,
}

impl Lists<'_> {
    /// The IDs others refer to: WANs, hubs (not Route Servers), their
    /// connections and tables, VPN sites and their links.
    pub(super) fn add_known(&self, known: &mut Known) {
        self.wans.add_known("virtual_wan", known);
        for hub in self.hubs.items.iter().filter(|h| h.virtual_wan.is_some()) {
            known.add("virtual_hub", &hub.id);
        }
        self.connections.add_known("hub_connection", known);
        self.route_tables.add_known("hub_route_table", known);
        self.vpn_sites.add_known("vpn_site", known);
        for site in &self.vpn_sites.items {
            for link in &site.vpn_site_links {
                known.add("vpn_site_link", &link_id(&site.id, &link.name));
            }
        }
    }

    /// The azurerm resources of the lists.
    pub(super) fn resources(
        &self,
        known: &Known,
        out: &mut Vec<Resource>,
    ) -> Result<(), ImportError> {
        for (at, wan) in self.wans.each() {
            let (name, id, mut attributes) = top_level(&at, wan, wan.location.as_deref())?;
            put_text(&mut attributes, "type", wan.virtual_wan_type.as_deref());
            put_given(
                &mut attributes,
                [
                    (
                        "allow_branch_to_branch_traffic",
                        wan.allow_branch_to_branch_traffic,
                    ),
                    ("disable_vpn_encryption", wan.disable_vpn_encryption),
                ],
            );
            let breakout = wan.office365_local_breakout_category.as_deref();
            put_text(
                &mut attributes,
                "office365_local_breakout_category",
                breakout,
            );
            out.push(resource("azurerm_virtual_wan", &name, attributes, &id));
        }
        for (at, hub) in self.hubs.each() {
            hub_resource(&at, hub, known, out)?;
        }
        for (at, table) in self.route_tables.each() {
            out.push(route_table(&at, table, known)?);
        }
        for (at, connection) in self.connections.each() {
            out.push(hub_connection(&at, connection, known)?);
        }
        for (at, intent) in self.routing_intents.each() {
            out.push(routing_intent(&at, intent, known)?);
        }
        for (at, connection) in self.bgp_connections.each() {
            out.push(bgp_connection(&at, connection, known)?);
        }
        for (at, site) in self.vpn_sites.each() {
            out.push(vpn_site(&at, site, known)?);
        }
        for (at, gateway) in self.vpn_gateways.each() {
            vpn_gateway(&at, gateway, known, out)?;
        }
        for (at, gateway) in self.express_route_gateways.each() {
            express_route_gateway(&at, gateway, known, out)?;
        }
        Ok(())
    }
}

/// The ID of the link `name` of the VPN site `site`.
fn link_id(site: &str, name: &str) -> String {
    format!("{site}/vpnSiteLinks/{name}")
}

/// A hub of a WAN; a Route Server (no WAN) gives nothing.
fn hub_resource(
    at: &Place<'_>,
    hub: &VirtualHub,
    known: &Known,
    out: &mut Vec<Resource>,
) -> Result<(), ImportError> {
    let Some(wan) = &hub.virtual_wan else {
        return Ok(());
    };
    let (name, id, mut attributes) = top_level(at, hub, hub.location.as_deref())?;
    let wan = known.resolve("virtual_wan", &at.key("virtualWan").key("id"), &wan.id)?;
    attributes.insert("virtual_wan_id".into(), json!(wan));
    put_text(
        &mut attributes,
        "address_prefix",
        hub.address_prefix.as_deref(),
    );
    put_text(&mut attributes, "sku", hub.sku.as_deref());
    let preference = hub.hub_routing_preference.as_deref();
    put_text(&mut attributes, "hub_routing_preference", preference);
    let units = (hub.virtual_router_auto_scale_configuration.as_ref()).and_then(|a| a.min_capacity);
    put_given(
        &mut attributes,
        [(
            "branch_to_branch_traffic_enabled",
            hub.allow_branch_to_branch_traffic,
        )],
    );
    put_given(
        &mut attributes,
        [("virtual_router_auto_scale_min_capacity", units)],
    );
    attributes.insert("virtual_router_ips".into(), json!(hub.virtual_router_ips));
    let routes = hub.route_table.as_ref().map_or(&[][..], |t| &t.routes[..]);
    attributes.insert("route".into(), json!(routes));
    out.push(resource("azurerm_virtual_hub", &name, attributes, &id));
    Ok(())
}

/// The hub whose part the object at `at` (with ID `id`) is, found in its
/// ID under `children` (`hubRouteTables`, ...).
fn hub_of(known: &Known, at: &Place<'_>, id: &str, children: &str) -> Result<String, ImportError> {
    let what = format!("a virtual hub's part (.../virtualHubs/HUB/{children}/NAME)");
    known.parent("virtual_hub", at, id, children, what)
}

/// The hub route table `id` (at `at`) names, as the dump spells it; a
/// built-in table of a hub of the dump needs no listing.
fn table_reference(known: &Known, at: &Place<'_>, id: &str) -> Result<String, ImportError> {
    let listed = known.resolve("hub_route_table", at, id);
    let Err(error) = listed else {
        return listed;
    };
    let built_in = ["defaultRouteTable", "noneRouteTable"];
    let names = id_names(id, &["virtualHubs", "hubRouteTables"]);
    let Some(names) = names else {
        return Err(error);
    };
    let Some(table) = built_in.iter().find(|t| t.eq_ignore_ascii_case(&names[1])) else {
        return Err(error);
    };
    let end = id.len() - "/hubRouteTables/".len() - names[1].len();
    let hub = known
        .resolve("virtual_hub", at, &id[..end])
        .map_err(|_| error)?;
    Ok(format!("{hub}/hubRouteTables/{table}"))
}

/// A next hop (a route's, a routing policy's): a hub connection's or a
/// firewall's ID, as the dump spells it; anything else as given (the
/// writer says what it is not).
fn next_hop(known: &Known, at: &Place<'_>, id: &str) -> Result<String, ImportError> {
    if id_names(id, &["hubVirtualNetworkConnections"]).is_some() {
        return known.resolve("hub_connection", at, id);
    }
    if id_names(id, &["azureFirewalls"]).is_some() {
        return known.resolve("firewall", at, id);
    }
    Ok(id.to_string())
}

fn route_table(
    at: &Place<'_>,
    table: &HubRouteTable,
    known: &Known,
) -> Result<Resource, ImportError> {
    let (name, id, mut attributes) = top_level(at, table, None)?;
    let hub = hub_of(known, at, &id, "hubRouteTables")?;
    attributes.insert("virtual_hub_id".into(), json!(hub));
    attributes.insert("labels".into(), json!(table.labels));
    let mut routes = Vec::new();
    for (index, route) in table.routes.iter().enumerate() {
        let at = at.key("routes").index(index);
        routes.push(hub_route(&at, route, known)?);
    }
    attributes.insert("route".into(), Value::Array(routes));
    let kind = "azurerm_virtual_hub_route_table";
    Ok(resource(kind, &name, attributes, &id))
}

fn hub_route(at: &Place<'_>, route: &HubRoute, known: &Known) -> Result<Value, ImportError> {
    let mut block = Map::new();
    block.insert("name".into(), json!(route.name));
    put_text(
        &mut block,
        "destinations_type",
        route.destination_type.as_deref(),
    );
    block.insert("destinations".into(), json!(route.destinations));
    put_text(&mut block, "next_hop_type", route.next_hop_type.as_deref());
    if let Some(hop) = given(route.next_hop.as_deref()) {
        block.insert(
            "next_hop".into(),
            json!(next_hop(known, &at.key("nextHop"), &hop)?),
        );
    }
    Ok(Value::Object(block))
}

/// A connection's `routing` block from its `routingConfiguration`;
/// `associated` is azurerm's name of the associated table's attribute.
fn routing(
    at: &Place<'_>,
    config: &HubRouting,
    associated: &str,
    known: &Known,
) -> Result<Value, ImportError> {
    let mut block = Map::new();
    if let Some(table) = &config.associated_route_table {
        let at = at.key("associatedRouteTable").key("id");
        block.insert(
            associated.into(),
            json!(table_reference(known, &at, &table.id)?),
        );
    }
    if let Some(propagated) = &config.propagated_route_tables {
        let at = at.key("propagatedRouteTables").key("ids");
        let mut ids = Vec::new();
        for (index, table) in propagated.ids.iter().enumerate() {
            ids.push(table_reference(
                known,
                &at.index(index).key("id"),
                &table.id,
            )?);
        }
        let tables = json!([{"labels": propagated.labels, "route_table_ids": ids}]);
        block.insert("propagated_route_table".into(), tables);
    }
    if let Some(vnet_routes) = &config.vnet_routes {
        let routes: Vec<Value> = (vnet_routes.static_routes.iter())
            .map(|r| {
                let mut route = Map::new();
                route.insert("name".into(), json!(r.name));
                route.insert("address_prefixes".into(), json!(r.address_prefixes));
                put_text(
                    &mut route,
                    "next_hop_ip_address",
                    r.next_hop_ip_address.as_deref(),
                );
                Value::Object(route)
            })
            .collect();
        block.insert("static_vnet_route".into(), Value::Array(routes));
        if let Some(config) = &vnet_routes.static_routes_config {
            let criteria = config.vnet_local_route_override_criteria.as_deref();
            put_text(
                &mut block,
                "static_vnet_local_route_override_criteria",
                criteria,
            );
            let propagate = config.propagate_static_routes;
            put_given(
                &mut block,
                [("static_vnet_propagate_static_routes_enabled", propagate)],
            );
        }
    }
    Ok(json!([block]))
}

fn hub_connection(
    at: &Place<'_>,
    connection: &HubConnection,
    known: &Known,
) -> Result<Resource, ImportError> {
    let (name, id, mut attributes) = top_level(at, connection, None)?;
    let hub = hub_of(known, at, &id, "hubVirtualNetworkConnections")?;
    attributes.insert("virtual_hub_id".into(), json!(hub));
    let what = format_args!("hub connection `{name}`");
    let vnet = connection.remote_virtual_network.as_ref();
    let vnet = known.required("vnet", at, "remoteVirtualNetwork", vnet, what)?;
    attributes.insert("remote_virtual_network_id".into(), json!(vnet));
    let security = connection.enable_internet_security;
    put_given(&mut attributes, [("internet_security_enabled", security)]);
    if let Some(config) = &connection.routing_configuration {
        let at = at.key("routingConfiguration");
        let block = routing(&at, config, "associated_route_table_id", known)?;
        attributes.insert("routing".into(), block);
    }
    Ok(resource(
        "azurerm_virtual_hub_connection",
        &name,
        attributes,
        &id,
    ))
}

fn routing_intent(
    at: &Place<'_>,
    intent: &RoutingIntent,
    known: &Known,
) -> Result<Resource, ImportError> {
    let (name, id, mut attributes) = top_level(at, intent, None)?;
    let hub = hub_of(known, at, &id, "routingIntent")?;
    attributes.insert("virtual_hub_id".into(), json!(hub));
    let mut policies = Vec::new();
    for (index, policy) in intent.routing_policies.iter().enumerate() {
        let at = at.key("routingPolicies").index(index);
        let mut block = Map::new();
        block.insert("name".into(), json!(policy.name));
        block.insert("destinations".into(), json!(policy.destinations));
        if let Some(hop) = given(policy.next_hop.as_deref()) {
            block.insert(
                "next_hop".into(),
                json!(next_hop(known, &at.key("nextHop"), &hop)?),
            );
        }
        policies.push(Value::Object(block));
    }
    attributes.insert("routing_policy".into(), Value::Array(policies));
    let kind = "azurerm_virtual_hub_routing_intent";
    Ok(resource(kind, &name, attributes, &id))
}

fn bgp_connection(
    at: &Place<'_>,
    connection: &HubBgpConnection,
    known: &Known,
) -> Result<Resource, ImportError> {
    let (name, id, mut attributes) = top_level(at, connection, None)?;
    let hub = hub_of(known, at, &id, "bgpConnections")?;
    attributes.insert("virtual_hub_id".into(), json!(hub));
    put_given(&mut attributes, [("peer_asn", connection.peer_asn)]);
    put_text(&mut attributes, "peer_ip", connection.peer_ip.as_deref());
    let vnet_connection = connection.hub_virtual_network_connection.as_ref();
    let at_connection = at.key("hubVirtualNetworkConnection");
    if let Some(c) = known.reference("hub_connection", &at_connection, vnet_connection)? {
        attributes.insert("virtual_network_connection_id".into(), json!(c));
    }
    let kind = "azurerm_virtual_hub_bgp_connection";
    Ok(resource(kind, &name, attributes, &id))
}

fn vpn_site(at: &Place<'_>, site: &VpnSite, known: &Known) -> Result<Resource, ImportError> {
    let (name, id, mut attributes) = top_level(at, site, site.location.as_deref())?;
    let what = format_args!("VPN site `{name}`");
    let wan = known.required(
        "virtual_wan",
        at,
        "virtualWan",
        site.virtual_wan.as_ref(),
        what,
    )?;
    attributes.insert("virtual_wan_id".into(), json!(wan));
    let cidrs = site.address_space.as_ref().map(|s| &s.address_prefixes);
    attributes.insert(
        "address_cidrs".into(),
        json!(cidrs.cloned().unwrap_or_default()),
    );
    let links: Vec<Value> = (site.vpn_site_links.iter())
        .map(|link| {
            let mut block = Map::new();
            block.insert("name".into(), json!(link.name));
            block.insert("id".into(), json!(link_id(&id, &link.name)));
            put_text(&mut block, "ip_address", link.ip_address.as_deref());
            put_text(&mut block, "fqdn", link.fqdn.as_deref());
            let speed = link
                .link_properties
                .as_ref()
                .and_then(|p| p.link_speed_in_mbps);
            put_given(&mut block, [("speed_in_mbps", speed)]);
            if let Some(bgp) = &link.bgp_properties {
                let mut b = Map::new();
                put_given(&mut b, [("asn", bgp.asn)]);
                put_text(
                    &mut b,
                    "peering_address",
                    bgp.bgp_peering_address.as_deref(),
                );
                block.insert("bgp".into(), json!([b]));
            }
            Value::Object(block)
        })
        .collect();
    attributes.insert("link".into(), Value::Array(links));
    Ok(resource("azurerm_vpn_site", &name, attributes, &id))
}

/// The hub of a gateway (the object at `at`, `what`).
fn gateway_hub(
    known: &Known,
    at: &Place<'_>,
    hub: Option<&super::model::Reference>,
    what: std::fmt::Arguments<'_>,
) -> Result<String, ImportError> {
    known.required("virtual_hub", at, "virtualHub", hub, what)
}

fn vpn_gateway(
    at: &Place<'_>,
    gateway: &VpnGateway,
    known: &Known,
    out: &mut Vec<Resource>,
) -> Result<(), ImportError> {
    let (name, id, mut attributes) = top_level(at, gateway, gateway.location.as_deref())?;
    let what = format_args!("VPN gateway `{name}`");
    let hub = gateway_hub(known, at, gateway.virtual_hub.as_ref(), what)?;
    attributes.insert("virtual_hub_id".into(), json!(hub));
    put_given(
        &mut attributes,
        [("scale_unit", gateway.vpn_gateway_scale_unit)],
    );
    if let Some(bgp) = &gateway.bgp_settings {
        let mut block = Map::new();
        put_given(
            &mut block,
            [("asn", bgp.asn), ("peer_weight", bgp.peer_weight)],
        );
        attributes.insert("bgp_settings".into(), json!([block]));
    }
    out.push(resource("azurerm_vpn_gateway", &name, attributes, &id));
    for (index, connection) in gateway.connections.iter().enumerate() {
        let at = at.key("connections").index(index);
        out.push(vpn_connection(&at, connection, &id, known)?);
    }
    Ok(())
}

fn vpn_connection(
    at: &Place<'_>,
    connection: &VpnConnection,
    gateway: &str,
    known: &Known,
) -> Result<Resource, ImportError> {
    let (name, id, group) = identity(at, connection)?;
    let mut attributes = Map::new();
    attributes.insert("id".into(), json!(id));
    attributes.insert("name".into(), json!(name));
    attributes.insert("resource_group_name".into(), json!(group));
    attributes.insert("vpn_gateway_id".into(), json!(gateway));
    let what = format_args!("VPN connection `{name}`");
    let site = connection.remote_vpn_site.as_ref();
    let site = known.required("vpn_site", at, "remoteVpnSite", site, what)?;
    attributes.insert("remote_vpn_site_id".into(), json!(site));
    let security = connection.enable_internet_security;
    put_given(&mut attributes, [("internet_security_enabled", security)]);
    if let Some(config) = &connection.routing_configuration {
        let at = at.key("routingConfiguration");
        let block = routing(&at, config, "associated_route_table", known)?;
        attributes.insert("routing".into(), block);
    }
    let mut links = Vec::new();
    for (index, link) in connection.vpn_link_connections.iter().enumerate() {
        let at = at.key("vpnLinkConnections").index(index);
        let what = format_args!("VPN link connection `{}`", link.name);
        let site_link = link.vpn_site_link.as_ref();
        let site_link = known.required("vpn_site_link", &at, "vpnSiteLink", site_link, what)?;
        let mut block = Map::new();
        block.insert("name".into(), json!(link.name));
        block.insert("vpn_site_link_id".into(), json!(site_link));
        put_given(&mut block, [("bgp_enabled", link.enable_bgp)]);
        links.push(Value::Object(block));
    }
    attributes.insert("vpn_link".into(), Value::Array(links));
    let kind = "azurerm_vpn_gateway_connection";
    Ok(resource(kind, &name, attributes, &id))
}

fn express_route_gateway(
    at: &Place<'_>,
    gateway: &ExpressRouteGateway,
    known: &Known,
    out: &mut Vec<Resource>,
) -> Result<(), ImportError> {
    let (name, id, mut attributes) = top_level(at, gateway, gateway.location.as_deref())?;
    let what = format_args!("ExpressRoute gateway `{name}`");
    let hub = gateway_hub(known, at, gateway.virtual_hub.as_ref(), what)?;
    attributes.insert("virtual_hub_id".into(), json!(hub));
    let units = (gateway.auto_scale_configuration.as_ref())
        .and_then(|a| a.bounds.as_ref())
        .and_then(|b| b.min);
    put_given(&mut attributes, [("scale_units", units)]);
    out.push(resource(
        "azurerm_express_route_gateway",
        &name,
        attributes,
        &id,
    ));
    for (index, connection) in gateway.express_route_connections.iter().enumerate() {
        let at = at.key("expressRouteConnections").index(index);
        out.push(express_route_connection(&at, connection, &id, known)?);
    }
    Ok(())
}

fn express_route_connection(
    at: &Place<'_>,
    connection: &ExpressRouteConnection,
    gateway: &str,
    known: &Known,
) -> Result<Resource, ImportError> {
    let (name, id, group) = identity(at, connection)?;
    let mut attributes = Map::new();
    attributes.insert("id".into(), json!(id));
    attributes.insert("name".into(), json!(name));
    attributes.insert("resource_group_name".into(), json!(group));
    attributes.insert("express_route_gateway_id".into(), json!(gateway));
    let peering = connection.express_route_circuit_peering.as_ref();
    let Some(peering) = peering.and_then(|p| given(Some(&p.id))) else {
        return Err(at.error(format!(
            "ExpressRoute connection `{name}` has no `expressRouteCircuitPeering`"
        )));
    };
    put_str(
        &mut attributes,
        "express_route_circuit_peering_id",
        Some(peering),
    );
    put_given(
        &mut attributes,
        [("routing_weight", connection.routing_weight)],
    );
    let security = connection.enable_internet_security;
    put_given(&mut attributes, [("internet_security_enabled", security)]);
    if let Some(config) = &connection.routing_configuration {
        let at = at.key("routingConfiguration");
        let block = routing(&at, config, "associated_route_table_id", known)?;
        attributes.insert("routing".into(), block);
    }
    let kind = "azurerm_express_route_connection";
    Ok(resource(kind, &name, attributes, &id))
}
