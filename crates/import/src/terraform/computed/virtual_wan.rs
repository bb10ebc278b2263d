//! What Azure computes for Virtual WAN that a configuration refers to: the
//! IDs of a hub's parts (under the hub's, as Azure names them), a hub's
//! `default_route_table_id` (the route table every hub has, which a
//! connection's `routing` names) and `virtual_router_asn`, and the ID of
//! each `link` of a VPN site (which a VPN connection's `vpn_link` names).

use super::ids::IdParts;
use hcl::{Map, Value};

impl IdParts<'_> {
    /// The ID of a resource of Virtual WAN.
    pub(super) fn virtual_wan_id(&self, kind: &str) -> Option<String> {
        let name = self.name;
        Some(match kind {
            "azurerm_virtual_wan" => self.network(format!("virtualWans/{name}")),
            "azurerm_virtual_hub" => self.network(format!("virtualHubs/{name}")),
            "azurerm_virtual_hub_connection" => {
                self.under("virtual_hub_id", "hubVirtualNetworkConnections")
            }
            "azurerm_virtual_hub_route_table" => self.under("virtual_hub_id", "hubRouteTables"),
            "azurerm_virtual_hub_route_table_route" => self.under("route_table_id", "routes"),
            "azurerm_virtual_hub_routing_intent" => self.under("virtual_hub_id", "routingIntent"),
            "azurerm_virtual_hub_bgp_connection" => self.under("virtual_hub_id", "bgpConnections"),
            "azurerm_vpn_gateway" => self.network(format!("vpnGateways/{name}")),
            "azurerm_vpn_site" => self.network(format!("vpnSites/{name}")),
            "azurerm_vpn_gateway_connection" => self.under("vpn_gateway_id", "vpnConnections"),
            "azurerm_express_route_gateway" => self.network(format!("expressRouteGateways/{name}")),
            "azurerm_express_route_connection" => {
                self.under("express_route_gateway_id", "expressRouteConnections")
            }
            _ => return None,
        })
    }
}

/// A hub's `default_route_table_id` and `virtual_router_asn` (65515, the
/// ASN of every hub's router, which Azure does not let change), and the
/// `id` of each link of a VPN site, for the resource whose ID is `id`.
pub(super) fn computed(kind: &str, id: &str, attributes: &mut Map<String, Value>) {
    match kind {
        "azurerm_virtual_hub" => {
            attributes
                .entry("default_route_table_id".to_string())
                .or_insert_with(|| Value::from(format!("{id}/hubRouteTables/defaultRouteTable")));
            attributes
                .entry("virtual_router_asn".to_string())
                .or_insert_with(|| Value::from(vnetd_model::topology::HUB_ROUTER_ASN));
        }
        "azurerm_vpn_site" => {
            let Some(Value::Array(links)) = attributes.get_mut("link") else {
                return;
            };
            for link in links {
                let Value::Object(link) = link else { continue };
                let Some(Value::String(name)) = link.get("name") else {
                    continue;
                };
                let link_id = format!("{id}/vpnSiteLinks/{name}");
                link.entry("id".to_string())
                    .or_insert_with(|| Value::from(link_id));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::{computed_attributes, SUBSCRIPTION};
    use hcl::{Map, Value};

    fn computed(kind: &str, json: serde_json::Value) -> serde_json::Value {
        let mut attributes: Map<String, Value> = match hcl::to_value(json).unwrap() {
            Value::Object(map) => map,
            other => panic!("not an object: {other:?}"),
        };
        computed_attributes(kind, "label", &mut attributes);
        serde_json::to_value(&attributes).unwrap()
    }

    /// A hub's parts are under its ID, its default route table too; a
    /// VPN site's links are under the site's.
    #[test]
    fn a_hub_and_its_parts_get_azure_ids() {
        let net =
            format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Network");
        let hub = computed(
            "azurerm_virtual_hub",
            serde_json::json!({"name": "hub1", "resource_group_name": "rg"}),
        );
        let hub_id = format!("{net}/virtualHubs/hub1");
        assert_eq!(hub["id"], hub_id);
        assert_eq!(
            hub["default_route_table_id"],
            format!("{hub_id}/hubRouteTables/defaultRouteTable")
        );
        assert_eq!(hub["virtual_router_asn"], 65515);

        let table = computed(
            "azurerm_virtual_hub_route_table",
            serde_json::json!({"name": "RT_BLUE", "virtual_hub_id": hub_id}),
        );
        assert_eq!(table["id"], format!("{hub_id}/hubRouteTables/RT_BLUE"));
        let route = computed(
            "azurerm_virtual_hub_route_table_route",
            serde_json::json!({"name": "to-nva", "route_table_id": table["id"]}),
        );
        assert_eq!(
            route["id"],
            format!("{hub_id}/hubRouteTables/RT_BLUE/routes/to-nva")
        );
        let connection = computed(
            "azurerm_virtual_hub_connection",
            serde_json::json!({"name": "conn1", "virtual_hub_id": hub_id}),
        );
        assert_eq!(
            connection["id"],
            format!("{hub_id}/hubVirtualNetworkConnections/conn1")
        );

        let site = computed(
            "azurerm_vpn_site",
            serde_json::json!({"name": "branch1", "resource_group_name": "rg",
                "link": [{"name": "link1", "ip_address": "203.0.113.10"}]}),
        );
        assert_eq!(
            site["link"][0]["id"],
            format!("{net}/vpnSites/branch1/vpnSiteLinks/link1")
        );
    }
}
