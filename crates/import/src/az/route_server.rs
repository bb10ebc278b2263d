//! Azure Route Server as the Azure CLI lists it (`az network routeserver
//! list`, and `az network routeserver peering list` for each Route
//! Server), turned into the azurerm resources Terraform would hold for it:
//! `azurerm_route_server` and one `azurerm_route_server_bgp_connection`
//! per peering.
//!
//! The CLI prints a Route Server's IP configurations as references only,
//! so its subnet is found as Azure links them: an
//! `ipConfigurations[].subnet.id`, when the CLI expands it; else the
//! subnet of `vnets.json` whose `ipConfigurations` list one of the Route
//! Server's (`.../virtualHubs/RS/ipConfigurations/...`); else the one
//! `RouteServerSubnet` holding its `virtualRouterIps`. A peering's ID
//! names its Route Server (`.../virtualHubs/RS/bgpConnections/NAME`).

use super::attributes::{given, identity, put_str, put_text, resource, top_level};
use super::known::Known;
use super::list::List;
use super::model::{RouteServer, RouteServerPeering, Subnet, Vnet};
use crate::json_file::Place;
use crate::{ImportError, Resource};
use ipnet::IpNet;
use serde_json::{json, Map};
use std::net::IpAddr;

/// The two lists of a dump that hold Route Servers, read.
#[derive(Default)]
pub struct Lists<'a> {
    pub servers: List<'a, RouteServer>,
    pub peerings: List<'a, RouteServerPeering>,
}

impl Lists<'_> {
    /// The IDs the peerings refer to: the Route Servers'.
    pub(super) fn add_known(&self, known: &mut Known) {
        self.servers.add_known("route_server", known);
    }

    /// The azurerm resources of the two lists; `vnets` for the subnet of
    /// each Route Server.
    pub(super) fn resources(
        &self,
        vnets: &List<'_, Vnet>,
        known: &Known,
        out: &mut Vec<Resource>,
    ) -> Result<(), ImportError> {
        for (at, server) in self.servers.each() {
            let (name, id, mut attributes) = top_level(&at, server, server.location.as_deref())?;
            let subnet = subnet_of(&at, server, &name, vnets, known)?;
            attributes.insert("subnet_id".into(), json!(subnet));
            if let Some(allow) = server.allow_branch_to_branch_traffic {
                attributes.insert("branch_to_branch_traffic_enabled".into(), json!(allow));
            }
            let preference = given(server.hub_routing_preference.as_deref());
            put_str(&mut attributes, "hub_routing_preference", preference);
            if !server.virtual_router_ips.is_empty() {
                let ips = json!(server.virtual_router_ips);
                attributes.insert("virtual_router_ips".into(), ips);
            }
            out.push(resource("azurerm_route_server", &name, attributes, &id));
        }
        for (at, peering) in self.peerings.each() {
            let (name, id, group) = identity(&at, peering)?;
            let what = "a Route Server's peering \
                        (.../virtualHubs/ROUTE_SERVER/bgpConnections/NAME)";
            let server = known.parent("route_server", &at, &id, "bgpConnections", what)?;
            let mut attributes = Map::new();
            attributes.insert("id".into(), json!(id));
            attributes.insert("name".into(), json!(name));
            attributes.insert("resource_group_name".into(), json!(group));
            attributes.insert("route_server_id".into(), json!(server));
            if let Some(asn) = peering.peer_asn {
                attributes.insert("peer_asn".into(), json!(asn));
            }
            put_text(&mut attributes, "peer_ip", peering.peer_ip.as_deref());
            let kind = "azurerm_route_server_bgp_connection";
            out.push(resource(kind, &name, attributes, &id));
        }
        Ok(())
    }
}

/// The ID of the subnet a Route Server is in (see the module's docs), or
/// an error at the Route Server.
fn subnet_of(
    at: &Place<'_>,
    server: &RouteServer,
    name: &str,
    vnets: &List<'_, Vnet>,
    known: &Known,
) -> Result<String, ImportError> {
    for (index, config) in server.ip_configurations.iter().enumerate() {
        let at = at.key("ipConfigurations").index(index);
        let subnet = known.reference("subnet", &at.key("subnet"), config.subnet.as_ref())?;
        if let Some(subnet) = subnet {
            return Ok(subnet);
        }
    }
    let subnets = || vnets.items.iter().flat_map(|v| &v.subnets);
    let configurations = format!("{}/ipconfigurations/", server.id.to_ascii_lowercase());
    let lists_one = |s: &&Subnet| {
        (s.ip_configurations.iter()).any(|c| c.id.to_ascii_lowercase().starts_with(&configurations))
    };
    if let Some(subnet) = subnets().find(lists_one) {
        return Ok(subnet.id.clone());
    }
    let ips: Vec<IpAddr> = (server.virtual_router_ips.iter())
        .filter_map(|ip| ip.parse().ok())
        .collect();
    let holds_ips = |s: &&Subnet| {
        s.name == vnetd_model::topology::ROUTE_SERVER_SUBNET
            && (s.address_prefixes.iter().chain(&s.address_prefix))
                .filter_map(|p| p.parse::<IpNet>().ok())
                .any(|net| ips.iter().any(|ip| net.contains(ip)))
    };
    let holding: Vec<&Subnet> = subnets().filter(holds_ips).collect();
    match holding.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => Err(at.error(format!(
            "Route Server `{name}`: no subnet of vnets.json is its RouteServerSubnet (none \
             lists one of its ipConfigurations, and no RouteServerSubnet holds its \
             virtualRouterIps)"
        ))),
        [first, second, ..] => Err(at.error(format!(
            "Route Server `{name}`: its virtualRouterIps are in two RouteServerSubnets of \
             vnets.json, `{}` and `{}`, and neither lists one of its ipConfigurations",
            first.id, second.id
        ))),
    }
}
