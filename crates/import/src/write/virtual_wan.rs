//! Azure Virtual WAN: `azurerm_virtual_wan`, `azurerm_virtual_hub` with
//! what belongs to a hub (`azurerm_virtual_hub_route_table` and `_route`,
//! `azurerm_virtual_hub_connection`, `azurerm_virtual_hub_bgp_connection`,
//! `azurerm_virtual_hub_routing_intent`, the hub's VPN and ExpressRoute
//! gateways and their connections, in `gateways`), and
//! `azurerm_vpn_site`, written as the topology's `virtual_wans`,
//! `virtual_hubs` (each hub holding its parts, by name) and `vpn_sites`.
//!
//! Azure names a hub's parts under the hub (`.../virtualHubs/HUB/
//! hubRouteTables/TABLE`), so an ID names the hub too: a route table of
//! the connection's own hub is written by its name (the hub's built-in
//! `defaultRouteTable` and `noneRouteTable` among them), one of another
//! hub as `hub/table` (`routing`). A hub route's next hop is a connection
//! (of another hub as `hub/connection`) or the hub's Azure Firewall, by
//! name. What a hub's route
//! tables and its connections name of each other is checked once every
//! resource is read, since either may be written first.
//!
//! Azure's defaults are not written (a Standard WAN, branch-to-branch
//! traffic allowed, an ExpressRoute routing preference, two routing
//! units, no internet security on a connection). A hub's `route` blocks
//! (the hub's older route table, not its hub route tables) are not
//! written, and a comment says so; nor is a VPN link's shared key: vnetd
//! does not need it, and the file should not spread it.

mod gateways;
mod render;
mod routing;

use super::attrs::{Attrs, Nested};
use super::ids::id_names;
use super::model::{add_separate, Model};
use super::output::{flow_list, plain_or_quoted, scalar};
use super::rules::sorted_prefixes;
use crate::ImportError;
use routing::{hub_table_ref, Routing, DEFAULT_TABLE, NONE_TABLE};
use std::collections::BTreeMap;

/// How the routes routing intent puts in `defaultRouteTable` are named
/// (`_policy_PrivateTraffic`, `_policy_PublicTraffic`).
const INTENT_ROUTE_PREFIX: &str = "_policy_";

/// The virtual WANs, hubs and VPN sites of the input.
#[derive(Debug, Default)]
pub(super) struct VirtualWans {
    wans: BTreeMap<String, Part>,
    hubs: BTreeMap<String, Hub>,
    sites: BTreeMap<String, VpnSite>,
    /// The hub of each hub VPN gateway, by the gateway's name.
    vpn_gateways: BTreeMap<String, String>,
    /// The hub of each hub ExpressRoute gateway, by the gateway's name.
    express_route_gateways: BTreeMap<String, String>,
}

impl VirtualWans {
    pub(super) fn is_empty(&self) -> bool {
        self.wans.is_empty() && self.hubs.is_empty() && self.sites.is_empty()
    }

    /// Whether the input has the hub `name`.
    pub(super) fn has_hub(&self, name: &str) -> bool {
        self.hubs.contains_key(name)
    }
}

/// An object written as its source and its `key: value` lines after
/// `name`, values already in YAML.
#[derive(Debug)]
struct Part {
    source: String,
    fields: Vec<(&'static str, String)>,
}

/// A virtual hub and what belongs to it, each by name.
#[derive(Debug)]
struct Hub {
    source: String,
    fields: Vec<(&'static str, String)>,
    /// What of the hub is not written, and why.
    notes: Vec<String>,
    route_tables: BTreeMap<String, HubTable>,
    connections: BTreeMap<String, Connection>,
    bgp_connections: BTreeMap<String, Part>,
    routing_intent: Option<(String, RoutingIntent)>,
    vpn_gateway: Option<(String, Part)>,
    vpn_connections: BTreeMap<String, Connection>,
    express_route_gateway: Option<(String, Part)>,
    express_route_connections: BTreeMap<String, Connection>,
}

/// A hub route table: its labels and routes.
#[derive(Debug)]
struct HubTable {
    source: String,
    labels: Vec<String>,
    routes: Vec<HubRoute>,
    /// The routes left out, and why.
    notes: Vec<String>,
}

/// A static route of a hub route table.
#[derive(Debug)]
struct HubRoute {
    name: String,
    source: String,
    /// A table's `route` block (state lists a separate route there too).
    inline: bool,
    destinations_type: Option<String>,
    destinations: Vec<String>,
    next_hop: NextHop,
}

/// What a hub route's `next_hop` ID names.
#[derive(Debug)]
enum NextHop {
    /// A VNet connection, of the hub named first (its table's, or another
    /// of the WAN).
    Connection(String, String),
    Firewall(String),
}

impl NextHop {
    /// The name the file gives it from a table of `hub`: a connection of
    /// another hub as `hub/connection` (Azure's second way to a spoke's
    /// appliance repeats the route in every hub's tables).
    fn written_from(&self, hub: &str) -> String {
        match self {
            NextHop::Connection(owner, name) if owner != hub => format!("{owner}/{name}"),
            NextHop::Connection(_, name) | NextHop::Firewall(name) => name.clone(),
        }
    }
}

/// A connection of a hub (a VNet's, a VPN site's or a circuit's): its
/// lines before `routing`, its routing, and a VPN connection's links.
#[derive(Debug)]
struct Connection {
    source: String,
    fields: Vec<(&'static str, String)>,
    routing: Option<Routing>,
    /// A VPN connection's `vpn_links`, each its name and its lines.
    links: Vec<(String, Vec<(&'static str, String)>)>,
}

/// A hub's routing intent: its policies, each its name, destinations and
/// next hop (a firewall of the hub).
#[derive(Debug)]
struct RoutingIntent {
    source: String,
    policies: Vec<(String, Vec<String>, String)>,
}

/// A VPN site: its lines before `links`, and its links.
#[derive(Debug)]
struct VpnSite {
    source: String,
    wan: String,
    address_cidrs: Vec<String>,
    links: Vec<SiteLink>,
}

#[derive(Debug)]
struct SiteLink {
    name: String,
    ip_address: Option<String>,
    fields: Vec<(&'static str, String)>,
}

impl<'r> Model<'r> {
    pub(super) fn add_virtual_wan(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let wans = &self.virtual_wans.wans;
        let name = a.new_name(wans, "virtual WAN", |w| &w.source)?;
        let mut fields = Vec::new();
        if let Some(kind) = a
            .str("type")
            .filter(|t| !t.eq_ignore_ascii_case("Standard"))
        {
            fields.push(("type", scalar(&kind)));
        }
        if a.bool("allow_branch_to_branch_traffic") == Some(false) {
            fields.push(("allow_branch_to_branch_traffic", "false".into()));
        }
        if a.bool("disable_vpn_encryption") == Some(true) {
            fields.push(("disable_vpn_encryption", "true".into()));
        }
        let breakout = a.str("office365_local_breakout_category");
        if let Some(category) = breakout.filter(|c| !c.eq_ignore_ascii_case("None")) {
            fields.push(("office365_local_breakout_category", scalar(&category)));
        }
        let part = Part {
            source: a.r.source.clone(),
            fields,
        };
        self.virtual_wans.wans.insert(name, part);
        Ok(())
    }

    pub(super) fn add_virtual_hub(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.new_name(&self.virtual_wans.hubs, "virtual hub", |h| &h.source)?;
        let wan = a.referred("virtual_wan_id", "virtualWans", &self.virtual_wans.wans)?;
        let location = a.required_str("location")?;
        let location =
            vnetd_model::topology::regions::canonical(&location).map_or(location, str::to_string);
        let prefix = a.required_str("address_prefix")?;
        let mut fields = vec![
            ("virtual_wan", scalar(&wan)),
            ("location", scalar(&location)),
            ("address_prefix", scalar(&prefix)),
        ];
        let not =
            |key: &str, default: &str| a.str(key).filter(|v| !v.eq_ignore_ascii_case(default));
        if let Some(sku) = not("sku", "Standard") {
            fields.push(("sku", scalar(&sku)));
        }
        if let Some(preference) = not("hub_routing_preference", "ExpressRoute") {
            fields.push(("hub_routing_preference", scalar(&preference)));
        }
        if a.bool("branch_to_branch_traffic_enabled") == Some(true) {
            fields.push(("branch_to_branch_traffic_enabled", "true".into()));
        }
        if let Some(units) = not("virtual_router_auto_scale_min_capacity", "2") {
            let key = "virtual_router_auto_scale_min_capacity";
            fields.push((key, plain_or_quoted(&units)));
        }
        let router_ips = a.list("virtual_router_ips");
        if !router_ips.is_empty() {
            fields.push(("virtual_router_ips", flow_list(&router_ips)));
        }
        let mut notes = Vec::new();
        let routes = a.blocks("route").len();
        if routes > 0 {
            notes.push(format!(
                "Its {routes} route block(s) (the hub's older route table, not a hub route \
                 table) are not written: write them as routes of defaultRouteTable"
            ));
        }
        let hub = Hub {
            source: a.r.source.clone(),
            fields,
            notes,
            route_tables: BTreeMap::new(),
            connections: BTreeMap::new(),
            bgp_connections: BTreeMap::new(),
            routing_intent: None,
            vpn_gateway: None,
            vpn_connections: BTreeMap::new(),
            express_route_gateway: None,
            express_route_connections: BTreeMap::new(),
        };
        self.virtual_wans.hubs.insert(name, hub);
        Ok(())
    }

    pub(super) fn add_vpn_site(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.new_name(&self.virtual_wans.sites, "VPN site", |s| &s.source)?;
        let wan = a.referred("virtual_wan_id", "virtualWans", &self.virtual_wans.wans)?;
        let mut links = Vec::new();
        for block in a.blocks("link") {
            let l = Attrs::nested(a.r, block);
            let link_name = l.required_str("name")?;
            let ip_address = l.str("ip_address");
            let mut fields = Vec::new();
            if let Some(ip) = &ip_address {
                fields.push(("ip_address", scalar(ip)));
            }
            if let Some(fqdn) = l.str("fqdn") {
                fields.push(("fqdn", scalar(&fqdn)));
            }
            if let Some(speed) = l.str("speed_in_mbps").filter(|s| s != "0") {
                fields.push(("speed_in_mbps", plain_or_quoted(&speed)));
            }
            if let Some(bgp) = l.blocks("bgp").into_iter().next() {
                let b = Attrs::nested(a.r, bgp);
                let (asn, address) = (b.required_str("asn")?, b.required_str("peering_address")?);
                let value = format!(
                    "{{asn: {}, peering_address: {}}}",
                    plain_or_quoted(&asn),
                    scalar(&address)
                );
                fields.push(("bgp", value));
            }
            if links.iter().any(|l: &SiteLink| l.name == link_name) {
                let why = format!("VPN site `{name}` has two links named `{link_name}`");
                return Err(a.error(why));
            }
            links.push(SiteLink {
                name: link_name,
                ip_address,
                fields,
            });
        }
        links.sort_by(|x, y| x.name.cmp(&y.name));
        let site = VpnSite {
            source: a.r.source.clone(),
            wan,
            address_cidrs: sorted_prefixes(a.list("address_cidrs")),
            links,
        };
        self.virtual_wans.sites.insert(name, site);
        Ok(())
    }

    /// `azurerm_virtual_hub_route_table`: a table of a hub, with its
    /// labels and `route` blocks.
    pub(super) fn add_hub_route_table(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.name()?;
        let hub_name = a.id_name("virtual_hub_id", "virtualHubs")?;
        let mut routes = Vec::new();
        let mut notes = Vec::new();
        let mut intent_routes = Vec::new();
        for block in a.blocks("route") {
            let b = Attrs::nested(a.r, block);
            let route_name = b.str("name").unwrap_or_default();
            if route_name.starts_with(INTENT_ROUTE_PREFIX) {
                intent_routes.push(route_name);
                continue;
            }
            match hub_route(&b, true)? {
                Ok(route) => routes.push(route),
                Err(note) => notes.push(note),
            }
        }
        // A built-in table's own label is the hub's to give.
        let own_label = match name.as_str() {
            DEFAULT_TABLE => Some("default"),
            NONE_TABLE => Some("none"),
            _ => None,
        };
        let mut labels = sorted_labels(a.list("labels"));
        labels.retain(|l| Some(l.as_str()) != own_label);
        let table = HubTable {
            source: a.r.source.clone(),
            labels,
            routes,
            notes,
        };
        let hub = self.hub_mut(a, "virtual_hub_id", &hub_name)?;
        if !intent_routes.is_empty() {
            hub.notes.push(format!(
                "The routes {} of its {name} are routing intent's own, which vnetd adds \
                 from the hub's routing_intent: not written",
                intent_routes.join(", ")
            ));
        }
        let what = format!("route table of virtual hub `{hub_name}`");
        a.insert_unique(&mut hub.route_tables, &what, name, table, |t| &t.source)
    }

    /// `azurerm_virtual_hub_route_table_route`: one more route of a table
    /// (a built-in one's too, which no table resource declares).
    pub(super) fn add_hub_route(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let id = a.required_str("route_table_id")?;
        let table_ref = hub_table_ref(&a.own(), &id, "route_table_id")?;
        let route = hub_route(&a.own(), false)?;
        let hub = self.hub_mut(a, "route_table_id", &table_ref.hub)?;
        let table = match hub.route_tables.get_mut(&table_ref.table) {
            Some(table) => table,
            None if is_built_in(&table_ref.table) => {
                let table = HubTable {
                    source: a.r.source.clone(),
                    labels: Vec::new(),
                    routes: Vec::new(),
                    notes: Vec::new(),
                };
                hub.route_tables
                    .entry(table_ref.table.clone())
                    .or_insert(table)
            }
            None => return Err(a.dangling("route_table_id")),
        };
        let route = match route {
            Ok(route) => route,
            Err(note) => {
                table.notes.push(note);
                return Ok(());
            }
        };
        let what = format!("route of hub route table `{}`", table_ref.table);
        add_separate(a, &mut table.routes, route, &what, |r| {
            (r.name.as_str(), r.inline, r.source.as_str())
        })
    }

    pub(super) fn add_hub_connection(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.name()?;
        let hub_name = a.id_name("virtual_hub_id", "virtualHubs")?;
        let vnet = a.id_name("remote_virtual_network_id", "virtualNetworks")?;
        if !self.vnets.contains_key(&vnet) {
            return Err(a.dangling("remote_virtual_network_id"));
        }
        let mut fields = vec![("remote_virtual_network", scalar(&vnet))];
        if a.bool("internet_security_enabled") == Some(true) {
            fields.push(("internet_security_enabled", "true".into()));
        }
        let connection = Connection {
            source: a.r.source.clone(),
            fields,
            routing: Routing::read(&a.own(), "associated_route_table_id", &hub_name)?,
            links: Vec::new(),
        };
        let hub = self.hub_mut(a, "virtual_hub_id", &hub_name)?;
        let what = format!("connection of virtual hub `{hub_name}`");
        a.insert_unique(&mut hub.connections, &what, name, connection, |c| &c.source)
    }

    pub(super) fn add_hub_bgp_connection(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.name()?;
        let hub_name = a.id_name("virtual_hub_id", "virtualHubs")?;
        let mut fields = vec![
            ("peer_asn", plain_or_quoted(&a.required_str("peer_asn")?)),
            ("peer_ip", scalar(&a.required_str("peer_ip")?)),
        ];
        let key = "virtual_network_connection_id";
        let connection = match a.str(key) {
            Some(id) => Some(hub_connection(a, &id, key)?),
            None => None,
        };
        let hub = self.hub_mut(a, "virtual_hub_id", &hub_name)?;
        if let Some((connection_hub, connection)) = connection {
            if connection_hub != hub_name || !hub.connections.contains_key(&connection) {
                return Err(a.error(format!(
                    "{key} `{}` is not a connection of virtual hub `{hub_name}` in the input",
                    a.str(key).unwrap_or_default()
                )));
            }
            fields.push(("virtual_network_connection", scalar(&connection)));
        }
        let part = Part {
            source: a.r.source.clone(),
            fields,
        };
        let what = format!("BGP connection of virtual hub `{hub_name}`");
        a.insert_unique(&mut hub.bgp_connections, &what, name, part, |p| &p.source)
    }

    /// `azurerm_virtual_hub_routing_intent`: its `routing_policy` blocks,
    /// each next hop a firewall of the hub. One whose next hop is a
    /// network virtual appliance in the hub (which vnetd does not run) is
    /// left out, with the reason.
    pub(super) fn add_routing_intent(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.name()?;
        let hub_name = a.id_name("virtual_hub_id", "virtualHubs")?;
        let mut policies = Vec::new();
        for block in a.blocks("routing_policy") {
            let p = Attrs::nested(a.r, block);
            let policy = p.required_str("name")?;
            let next_hop = p.required_str("next_hop")?;
            let Some(firewall) = id_names(&next_hop, &["azureFirewalls"]) else {
                let why = format!(
                    "the next hop of its policy `{policy}` is `{next_hop}`, not an Azure \
                     Firewall: vnetd runs a secured hub's firewall, not a virtual appliance in \
                     the hub"
                );
                self.ignored.push((a.r, why));
                return Ok(());
            };
            let firewall = firewall[0].clone();
            match self.firewalls.hub_of(&firewall) {
                None => {
                    return Err(p.error(format!(
                        "routing_policy.next_hop `{next_hop}` names a resource that is not in the \
                     input"
                    )))
                }
                Some(hub) if hub != Some(hub_name.as_str()) => {
                    return Err(p.error(format!(
                        "routing policy `{policy}`: its next hop, Azure Firewall `{firewall}`, \
                         is not in virtual hub `{hub_name}`: Azure takes the hub's own firewall"
                    )))
                }
                Some(_) => {}
            }
            let mut destinations = p.list("destinations");
            destinations.sort();
            policies.push((policy, destinations, firewall));
        }
        policies.sort();
        let intent = RoutingIntent {
            source: a.r.source.clone(),
            policies,
        };
        let hub = self.hub_mut(a, "virtual_hub_id", &hub_name)?;
        if let Some((_, first)) = &hub.routing_intent {
            let what = format!("routing intent of virtual hub `{hub_name}`");
            return Err(a.duplicate(&what, &name, &first.source));
        }
        hub.routing_intent = Some((name, intent));
        Ok(())
    }

    /// The hub `name` that the ID attribute `key` names, which the input
    /// must hold.
    fn hub_mut(&mut self, a: &Attrs, key: &str, name: &str) -> Result<&mut Hub, ImportError> {
        self.virtual_wans
            .hubs
            .get_mut(name)
            .ok_or_else(|| a.dangling(key))
    }

    /// Refuses what a hub's route tables and connections name of each
    /// other that the input lacks: a table (of any hub), a route's next
    /// hop (a connection of any hub, or the hub's own firewall).
    pub(super) fn check_virtual_wans(&self) -> Result<(), ImportError> {
        let hubs = &self.virtual_wans.hubs;
        for (hub_name, hub) in hubs {
            let connections = hub.connections.values();
            let vpn = hub.vpn_connections.values();
            let er = hub.express_route_connections.values();
            for routing in connections
                .chain(vpn)
                .chain(er)
                .filter_map(|c| c.routing.as_ref())
            {
                for table in routing.tables() {
                    let known = hubs.get(&table.hub).is_some_and(|h| {
                        is_built_in(&table.table) || h.route_tables.contains_key(&table.table)
                    });
                    if !known {
                        return Err(ImportError::new(
                            &routing.source,
                            format!(
                                "{} `{}` names a route table that is not in the input",
                                table.key, table.id
                            ),
                        ));
                    }
                }
            }
            for (table_name, table) in &hub.route_tables {
                for route in &table.routes {
                    self.check_next_hop(hub_name, hub, table_name, route)?;
                }
            }
        }
        Ok(())
    }

    fn check_next_hop(
        &self,
        hub_name: &str,
        hub: &Hub,
        table: &str,
        route: &HubRoute,
    ) -> Result<(), ImportError> {
        let what = format!(
            "route `{}` of hub route table `{hub_name}/{table}`",
            route.name
        );
        let hubs = &self.virtual_wans.hubs;
        let why = match &route.next_hop {
            NextHop::Connection(owner, name) => {
                let owner_hub = if owner == hub_name {
                    Some(hub)
                } else {
                    hubs.get(owner)
                };
                if owner_hub.is_some_and(|h| h.connections.contains_key(name)) {
                    return Ok(());
                }
                format!(
                    "{what}: its next hop, the connection `{name}` of virtual hub `{owner}`, is \
                     not in the input"
                )
            }
            NextHop::Firewall(name) => match self.firewalls.hub_of(name) {
                None => {
                    format!("{what}: its next hop, Azure Firewall `{name}`, is not in the input")
                }
                Some(Some(owner)) if owner == hub_name => return Ok(()),
                Some(_) => format!(
                    "{what}: its next hop, Azure Firewall `{name}`, is not the firewall of \
                     virtual hub `{hub_name}`: Azure refuses a route to another hub's firewall"
                ),
            },
        };
        Err(ImportError::new(&route.source, why))
    }
}

/// Whether `table` is one of the route tables every hub has.
fn is_built_in(table: &str) -> bool {
    table == DEFAULT_TABLE || table == NONE_TABLE
}

/// Labels as the file writes them: sorted, once each.
fn sorted_labels(mut labels: Vec<String>) -> Vec<String> {
    labels.sort();
    labels.dedup();
    labels
}

/// The hub and the name of the hub connection `id` names (given under
/// `key`).
fn hub_connection(a: &Attrs, id: &str, key: &str) -> Result<(String, String), ImportError> {
    match id_names(id, &["virtualHubs", "hubVirtualNetworkConnections"]) {
        Some(mut names) => {
            let name = names.remove(1);
            Ok((names.remove(0), name))
        }
        None => Err(a.error(format!(
            "{key} `{id}` is not the ID of a hub virtual network connection \
             (.../virtualHubs/HUB/hubVirtualNetworkConnections/NAME)"
        ))),
    }
}

/// A hub route (a table's `route` block, `inline`, or a route resource's
/// attributes): the route, or why it is left out (destinations that are
/// not prefixes).
fn hub_route(b: &Nested, inline: bool) -> Result<Result<HubRoute, String>, ImportError> {
    let name = b.required_str("name")?;
    let destinations_type = b.str("destinations_type");
    if let Some(kind) = destinations_type
        .as_deref()
        .filter(|k| !k.eq_ignore_ascii_case("CIDR"))
    {
        return Ok(Err(format!(
            "Its route `{name}` is left out: its destinations are of type {kind}, and vnetd \
             takes CIDR destinations, the prefixes a route stands for"
        )));
    }
    let next_hop = b.required_str("next_hop")?;
    let next_hop = if let Some(mut names) =
        id_names(&next_hop, &["virtualHubs", "hubVirtualNetworkConnections"])
    {
        let connection = names.remove(1);
        NextHop::Connection(names.remove(0), connection)
    } else if let Some(mut names) = id_names(&next_hop, &["azureFirewalls"]) {
        NextHop::Firewall(names.remove(0))
    } else {
        return Err(b.error(format!(
            "route `{name}`: next_hop `{next_hop}` is neither a hub virtual network \
             connection's ID nor an Azure Firewall's"
        )));
    };
    Ok(Ok(HubRoute {
        name,
        source: b.source(),
        inline,
        destinations_type,
        destinations: sorted_prefixes(b.list("destinations")),
        next_hop,
    }))
}

#[cfg(test)]
mod tests;
