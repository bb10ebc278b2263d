//! Decoders for Azure Virtual WAN: `virtual_wans`, `virtual_hubs` with
//! their `route_tables`, `connections` (each with azurerm's `routing`
//! block) and `routing_intent`, as azurerm names them; the hub's VPN
//! gateway, its connections and the VPN sites are `decode/hub_vpn.rs`'s.
//! The ExpressRoute gateway, its connections and BGP connections to
//! appliances are read here too; their rules are `resolve/`'s. A wrong
//! value is
//! reported at its line and the item kept where it can be, so that what
//! refers to it draws no second error; the rules between items are
//! `resolve/virtual_wan.rs`'s.

use super::hub_routing::RawPropagation;
use super::reader::{Decoder, Fields, Head, NameRef, Record};
use super::values::choice_list;
use crate::topology::model::{HubRoutingPreference, RoutingPolicyDestination, WanType};
use ipnet::IpNet;
use std::net::IpAddr;

/// A virtual WAN as written.
#[derive(Debug)]
pub struct RawVirtualWan {
    pub name: String,
    pub key: String,
    pub kind: WanType,
    pub branch_to_branch: bool,
    pub line: usize,
}

/// A virtual hub as written.
#[derive(Debug)]
pub struct RawVirtualHub {
    pub name: String,
    pub key: String,
    pub wan: NameRef,
    pub location: String,
    /// The prefix and its line; `None` when missing or broken (reported).
    pub address_prefix: Option<(IpNet, usize)>,
    pub routing_preference: HubRoutingPreference,
    pub routing_units: u32,
    pub router_ips: Option<(Vec<IpAddr>, usize)>,
    pub route_tables: Vec<RawHubRouteTable>,
    pub connections: Vec<RawHubConnection>,
    pub routing_intent: Option<RawRoutingIntent>,
    pub vpn_gateway: Option<super::RawVpnGateway>,
    pub vpn_connections: Vec<super::RawVpnConnection>,
    pub express_route_gateway: Option<super::RawExpressRouteGateway>,
    pub express_route_connections: Vec<super::RawExpressRouteConnection>,
    pub bgp_connections: Vec<RawHubBgpConnection>,
    pub line: usize,
}

/// A hub route table as written.
#[derive(Debug)]
pub struct RawHubRouteTable {
    pub name: String,
    pub key: String,
    pub labels: Vec<(String, usize)>,
    pub routes: Vec<RawHubRoute>,
    pub line: usize,
}

/// A static route of a hub route table as written.
#[derive(Debug)]
pub struct RawHubRoute {
    pub name: String,
    pub key: String,
    pub destinations: Vec<(IpNet, usize)>,
    /// False for destinations vnetd has no address for (`ResourceId`,
    /// `Service`): the route is read and warned about, not applied.
    pub applied: bool,
    /// A connection of the hub, or the hub's firewall, by name.
    pub next_hop: NameRef,
    pub line: usize,
}

/// A hub's VNet connection as written.
#[derive(Debug)]
pub struct RawHubConnection {
    pub name: String,
    pub key: String,
    pub vnet: NameRef,
    pub internet_security: bool,
    pub routing: Option<RawHubRouting>,
    pub line: usize,
}

/// A connection's `routing` block.
#[derive(Debug)]
pub struct RawHubRouting {
    pub associated: Option<NameRef>,
    /// `propagated_route_table`, when given.
    pub propagated: Option<RawPropagation>,
    pub static_routes: Vec<RawConnectionStaticRoute>,
    /// `static_vnet_local_route_override_criteria = Equal`.
    pub bypass_local: bool,
    pub propagate_static_routes: bool,
    pub key: String,
    pub line: usize,
}

/// A connection's `static_vnet_route` as written.
#[derive(Debug)]
pub struct RawConnectionStaticRoute {
    pub name: String,
    pub key: String,
    pub address_prefixes: Vec<(IpNet, usize)>,
    pub next_hop: Option<(IpAddr, usize)>,
    pub line: usize,
}

/// `routing_intent` as written.
#[derive(Debug)]
pub struct RawRoutingIntent {
    pub name: String,
    pub key: String,
    pub policies: Vec<RawRoutingPolicy>,
    pub line: usize,
}

/// One `routing_policies` item.
#[derive(Debug)]
pub struct RawRoutingPolicy {
    pub name: String,
    pub key: String,
    pub destinations: Vec<(RoutingPolicyDestination, usize)>,
    pub next_hop: NameRef,
    pub line: usize,
}

/// A hub's BGP connection to an appliance in a connected VNet
/// (`azurerm_virtual_hub_bgp_connection`) as written.
#[derive(Debug)]
pub struct RawHubBgpConnection {
    pub name: String,
    pub key: String,
    pub peer_asn: Option<(u32, usize)>,
    pub peer_ip: Option<IpAddr>,
    pub connection: NameRef,
    pub line: usize,
}

record!(HUB_BGP_CONNECTION_KEYS: RawHubBgpConnection { name, key, line }
    "a hub BGP connection" {
    peer_asn: "peer_asn" => asn,
    peer_ip: "peer_ip" => optional_ip,
    connection: "virtual_network_connection" => required_ref,
});

record!(VIRTUAL_WAN_KEYS: RawVirtualWan { name, key, line } "a virtual WAN" {
    kind: "type" => one_of_or(WanType::Standard),
    branch_to_branch: "allow_branch_to_branch_traffic" => flag(true),
    _: "disable_vpn_encryption" => flag(false),
    _: "office365_local_breakout_category" => text,
});

record!(VIRTUAL_HUB_KEYS: RawVirtualHub { name, key, line } "a virtual hub" {
    wan: "virtual_wan" => required_ref,
    location: "location" => region,
    address_prefix: "address_prefix" => hub_prefix,
    _: "sku" => hub_sku,
    routing_preference: "hub_routing_preference" => hub_routing_preference,
    _: "branch_to_branch_traffic_enabled" => flag(false),
    routing_units: "virtual_router_auto_scale_min_capacity" => routing_units,
    router_ips: "virtual_router_ips" => router_ips,
    route_tables: "route_tables" => list,
    connections: "connections" => list,
    routing_intent: "routing_intent" => routing_intent,
    bgp_connections: "bgp_connections" => list,
    vpn_gateway: "vpn_gateway" => vpn_gateway,
    vpn_connections: "vpn_connections" => vpn_connections,
    express_route_gateway: "express_route_gateway" => express_route_gateway,
    express_route_connections: "express_route_connections" => express_route_connections,
});

record!(HUB_ROUTE_TABLE_KEYS: RawHubRouteTable { name, key, line } "a hub route table" {
    labels: "labels" => labels,
    routes: "routes" => list,
});

record!(HUB_ROUTE_KEYS: RawHubRoute { name, key, line } "a hub route" {
    (destinations, applied): "destinations" | "destinations_type" => hub_route_destinations,
    _: "next_hop_type" => resource_id_next_hop,
    next_hop: "next_hop" => required_ref,
});

record!(HUB_CONNECTION_KEYS: RawHubConnection { name, key, line } "a hub connection" {
    vnet: "remote_virtual_network" => required_ref,
    internet_security: "internet_security_enabled" => flag(false),
    routing: "routing" => hub_routing,
});

record!(STATIC_VNET_ROUTE_KEYS: RawConnectionStaticRoute { name, key, line }
    "a static VNet route" {
    address_prefixes: "address_prefixes" => cidr_list,
    next_hop: "next_hop_ip_address" => required_ip_or_none,
});

record!(ROUTING_POLICY_KEYS: RawRoutingPolicy { name, key, line } "a routing policy" {
    destinations: "destinations" => policy_destinations,
    next_hop: "next_hop" => required_ref,
});

const ROUTING_KEYS: &[&str] = &[
    "associated_route_table",
    "propagated_route_table",
    "static_vnet_route",
    "static_vnet_local_route_override_criteria",
    "static_vnet_propagate_static_routes_enabled",
    "inbound_route_map",
    "outbound_route_map",
];

const ROUTING_INTENT_KEYS: &[&str] = &["name", "routing_policies"];

impl Decoder<'_> {
    /// A hub's `address_prefix`: an IPv4 prefix (the hub is IPv4 only).
    pub(super) fn hub_prefix(&mut self, f: &Fields, key: &str) -> Option<Option<(IpNet, usize)>> {
        let Some(node) = self.required(f, key) else {
            return Some(None);
        };
        let line = node.line;
        let Some(net) = self.required_cidr(f, key) else {
            return Some(None);
        };
        if net.trunc() != net {
            let why = format!(
                "`{net}` has host bits set: the prefix starts at {}",
                net.trunc()
            );
            self.diags.error(line, &f.key(key), why);
            return Some(None);
        }
        Some(Some((net, line)))
    }

    /// A hub's `sku`: Basic or Standard, read and checked.
    pub(super) fn hub_sku(&mut self, f: &Fields, key: &str) -> Option<()> {
        if f.given(key).is_some() {
            self.one_of::<WanType>(f, key);
        }
        Some(())
    }

    /// `virtual_router_auto_scale_min_capacity`: 2 to 50 routing units.
    pub(super) fn routing_units(&mut self, f: &Fields, key: &str) -> Option<u32> {
        let Some(node) = f.given(key) else {
            return Some(2);
        };
        let why = "a hub router takes 2 to 50 routing infrastructure units";
        let range = crate::topology::model::HUB_ROUTING_UNITS;
        Some(
            self.number_in(node, &f.key(key), range, why)
                .map_or(2, |v| v as u32),
        )
    }

    /// `virtual_router_ips`: the router's two addresses, when the file
    /// gives them (Azure picks them; vnetd estimates them otherwise).
    pub(super) fn router_ips(
        &mut self,
        f: &Fields,
        key: &str,
    ) -> Option<Option<(Vec<IpAddr>, usize)>> {
        let Some(node) = f.given(key) else {
            return Some(None);
        };
        let k = f.key(key);
        let items = self.items(Some(node), &k);
        let read = self.texts(items, &k, |d, text, line, k| match text.parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                d.diags
                    .error(line, k, format!("`{text}` is not an IP address"));
                None
            }
        });
        let ips: Vec<IpAddr> = read.into_iter().flatten().collect();
        Some(Some((ips, node.line)))
    }

    /// A list of labels, each kept with its line.
    pub(super) fn labels(&mut self, f: &Fields, key: &str) -> Option<Vec<(String, usize)>> {
        let k = f.key(key);
        let items = self.items(f.get(key), &k);
        let read = self.texts(items, &k, |_, text, line, _| Some((text, line)));
        Some(read.into_iter().flatten().collect())
    }

    /// A hub route's `destinations` as its `destinations_type` says:
    /// CIDR prefixes (the default), or resource IDs and service tags
    /// (`ResourceId`, `Service`), which Azure accepts and vnetd has no
    /// address for: those are read and warned about, and the route is not
    /// applied.
    pub(super) fn hub_route_destinations(
        &mut self,
        f: &Fields,
        key: &str,
        type_key: &str,
    ) -> Option<(Vec<(IpNet, usize)>, bool)> {
        let kind = match f.given(type_key) {
            None => None,
            Some(node) => Some((self.string(node, &f.key(type_key))?, node.line)),
        };
        match kind {
            Some((text, line)) if !text.eq_ignore_ascii_case("cidr") => {
                if !matches!(text.to_ascii_lowercase().as_str(), "resourceid" | "service") {
                    let why = format!("`{text}` is not one of CIDR, ResourceId, Service");
                    self.diags.error(line, &f.key(type_key), why);
                    return None;
                }
                let k = f.key(key);
                let items = self.items(f.get(key), &k);
                self.texts(items, &k, |_, _, _, _| Some(()));
                let why = format!(
                    "`{text}` destinations name resources vnetd has no address for: the route \
                     is read and not applied (give CIDR destinations to apply it)"
                );
                self.diags.warning(line, &f.key(type_key), why);
                Some((Vec::new(), false))
            }
            _ => Some((self.cidr_list(f, key)?, true)),
        }
    }

    /// A hub route's `next_hop_type`: `ResourceId`, azurerm's only value.
    pub(super) fn resource_id_next_hop(&mut self, f: &Fields, key: &str) -> Option<()> {
        let Some(node) = f.given(key) else {
            return Some(());
        };
        let k = f.key(key);
        let text = self.string(node, &k)?;
        if !text.eq_ignore_ascii_case("resourceid") {
            let why =
                format!("`{text}` is not a hub route's next hop type: Azure takes ResourceId");
            self.diags.error(node.line, &k, why);
        }
        Some(())
    }

    /// A block vnetd reads but does not run: a mapping, warned about.
    pub(super) fn not_run_block(&mut self, f: &Fields, key: &str, why: &str) -> Option<()> {
        if let Some(node) = f.given(key) {
            self.diags.warning(node.line, &f.key(key), why);
        }
        Some(())
    }

    /// A connection's `routing` block.
    pub(super) fn hub_routing(&mut self, f: &Fields, key: &str) -> Option<Option<RawHubRouting>> {
        let Some(node) = f.given(key) else {
            return Some(None);
        };
        let k = f.key(key);
        let r = self.fields(node, &k, "a routing configuration", ROUTING_KEYS)?;
        let associated = self.optional_ref(&r, "associated_route_table")?;
        let propagated = self.hub_propagation(&r, "propagated_route_table");
        let static_routes = self.list(&r, "static_vnet_route").unwrap_or_default();
        let bypass_local = self.override_criteria(&r, "static_vnet_local_route_override_criteria");
        let propagate_static_routes = self
            .flag(&r, "static_vnet_propagate_static_routes_enabled", true)
            .unwrap_or(true);
        for map in ["inbound_route_map", "outbound_route_map"] {
            if let Some(n) = r.given(map) {
                let why = "route maps are read but not applied by vnetd: the routes pass unchanged";
                self.diags.warning(n.line, &r.key(map), why);
            }
        }
        Some(Some(RawHubRouting {
            associated,
            propagated,
            static_routes,
            bypass_local,
            propagate_static_routes,
            key: k,
            line: node.line,
        }))
    }

    /// `static_vnet_local_route_override_criteria`: `Contains` (Azure's
    /// default) or `Equal`; true for `Equal`.
    fn override_criteria(&mut self, f: &Fields, key: &str) -> bool {
        let Some(node) = f.given(key) else {
            return false;
        };
        let k = f.key(key);
        let Some(text) = self.string(node, &k) else {
            return false;
        };
        match text.to_ascii_lowercase().as_str() {
            "contains" => false,
            "equal" | "equals" => true,
            _ => {
                let why = format!("`{text}` is not one of Contains, Equal");
                self.diags.error(node.line, &k, why);
                false
            }
        }
    }

    /// A hub's `routing_intent`.
    pub(super) fn routing_intent(
        &mut self,
        f: &Fields,
        key: &str,
    ) -> Option<Option<RawRoutingIntent>> {
        let Some(node) = f.given(key) else {
            return Some(None);
        };
        let k = f.key(key);
        let r = self.fields(node, &k, "a routing intent", ROUTING_INTENT_KEYS)?;
        let name = self.required_string(&r, "name").unwrap_or_default();
        let policies = self.list(&r, "routing_policies").unwrap_or_default();
        Some(Some(RawRoutingIntent {
            name,
            key: k,
            policies,
            line: node.line,
        }))
    }

    /// A routing policy's `destinations`: `Internet` and/or
    /// `PrivateTraffic`.
    pub(super) fn policy_destinations(
        &mut self,
        f: &Fields,
        key: &str,
    ) -> Option<Vec<(RoutingPolicyDestination, usize)>> {
        let k = f.key(key);
        let node = self.required(f, key)?;
        let items = self.nonempty_items(node, &k, "a routing policy needs a destination")?;
        let read = self.texts(items, &k, |d, text, line, k| match text.parse() {
            Ok(v) => Some((v, line)),
            Err(_) => {
                let choices = choice_list::<RoutingPolicyDestination>();
                d.diags
                    .error(line, k, format!("`{text}` is not one of {choices}"));
                None
            }
        });
        Some(read.into_iter().flatten().collect())
    }
}
