//! Azure Route Server: `azurerm_route_server` with its
//! `azurerm_route_server_bgp_connection`s, written as the topology's
//! `route_servers` with their `bgp_connections`.
//!
//! A Route Server lives in its VNet's subnet named `RouteServerSubnet`, so
//! its `subnet_id` names the VNet written as its `virtual_network`; a
//! `subnet_id` that names another subnet is refused, since the file could
//! only move it there. Its `sku` and `public_ip_address_id` are not
//! written: vnetd needs neither. `branch_to_branch_traffic` and
//! `hub_routing_preference` are written when not Azure's default (false,
//! ExpressRoute).
//!
//! What the appliances run is not written either: a NIC's `bgp_speaker`
//! and `bgp_announce` are vnetd's own keys (Azure has no such setting; the
//! appliance's BGP daemon is its owner's), so the NICs that hold the
//! connections' `peer_ip`s are written without them, and a comment before
//! `route_servers` says so.

use super::attrs::Attrs;
use super::model::Model;
use super::output::{plain_or_quoted, scalar, Output};
use crate::ImportError;
use std::collections::BTreeMap;
use vnetd_model::topology::ROUTE_SERVER_SUBNET;

/// Azure's hub routing preference when none is given.
const DEFAULT_PREFERENCE: &str = "ExpressRoute";

/// A Route Server and its BGP connections, by name.
#[derive(Debug)]
pub(super) struct RouteServer {
    source: String,
    vnet: String,
    branch_to_branch: bool,
    /// Written when given and not [`DEFAULT_PREFERENCE`].
    preference: Option<String>,
    connections: BTreeMap<String, Connection>,
}

/// One BGP connection: the appliance's address and ASN.
#[derive(Debug)]
struct Connection {
    source: String,
    peer_ip: String,
    peer_asn: String,
}

impl<'r> Model<'r> {
    pub(super) fn add_route_server(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.new_name(&self.route_servers, "Route Server", |f| &f.source)?;
        let (vnet, subnet) = a.subnet_id("subnet_id")?;
        self.subnet_mut(a, &vnet, &subnet)?;
        if subnet != ROUTE_SERVER_SUBNET {
            return Err(a.error(format!(
                "Route Server `{name}`: subnet_id names the subnet `{vnet}/{subnet}`: Azure \
                 deploys a Route Server only in the subnet named {ROUTE_SERVER_SUBNET}"
            )));
        }
        let preference = a
            .str("hub_routing_preference")
            .filter(|p| p != DEFAULT_PREFERENCE);
        let route_server = RouteServer {
            source: a.r.source.clone(),
            vnet,
            branch_to_branch: a.bool("branch_to_branch_traffic_enabled") == Some(true),
            preference,
            connections: BTreeMap::new(),
        };
        self.route_servers.insert(name, route_server);
        Ok(())
    }

    pub(super) fn add_route_server_connection(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.name()?;
        let server = a.id_name("route_server_id", "virtualHubs")?;
        let connection = Connection {
            source: a.r.source.clone(),
            peer_ip: a.required_str("peer_ip")?,
            peer_asn: a.required_str("peer_asn")?,
        };
        let Some(rs) = self.route_servers.get_mut(&server) else {
            return Err(a.dangling("route_server_id"));
        };
        let what = format!("BGP connection of Route Server `{server}`");
        a.insert_unique(&mut rs.connections, &what, name, connection, |f| &f.source)
    }

    pub(super) fn render_route_servers(&self, out: &mut Output) {
        if self.route_servers.is_empty() {
            return;
        }
        out.line("");
        out.line("# The appliances' BGP daemons are not written: a NIC's bgp_speaker and");
        out.line("# bgp_announce are vnetd's own keys (Azure has no such setting), so the NICs");
        out.line("# of the peer_ips below run none, and the sessions come up once their own");
        out.line("# daemons do. For vnetd to run one, give the NIC bgp_speaker (bird or frr)");
        out.line("# and bgp_announce (the prefixes it announces).");
        out.line("route_servers:");
        for (name, rs) in &self.route_servers {
            out.item(2, &rs.source, name);
            out.field(4, "virtual_network", &scalar(&rs.vnet));
            if rs.branch_to_branch {
                out.line("    branch_to_branch_traffic: true");
            }
            out.scalar_field(4, "hub_routing_preference", rs.preference.as_deref());
            if rs.connections.is_empty() {
                continue;
            }
            out.line("    bgp_connections:");
            for (connection_name, c) in &rs.connections {
                out.source(6, &c.source);
                out.line(&format!(
                    "      - {{name: {}, peer_ip: {}, peer_asn: {}}}",
                    scalar(connection_name),
                    scalar(&c.peer_ip),
                    plain_or_quoted(&c.peer_asn)
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::write::tests::resource;
    use crate::write::topology_yaml;
    use crate::Resource;
    use serde_json::{json, Value};

    const SUB: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Network";

    fn hub() -> Resource {
        resource(
            "azurerm_virtual_network",
            "hub",
            json!({"name": "hub", "address_space": ["10.0.0.0/16"], "subnet": [
                {"name": "RouteServerSubnet", "address_prefixes": ["10.0.1.0/26"]},
                {"name": "nva", "address_prefixes": ["10.0.2.0/24"]}]}),
            1,
        )
    }

    fn route_server(subnet: &str, extra: Value) -> Resource {
        let mut attributes = json!({"name": "rs", "sku": "Standard",
            "public_ip_address_id": format!("{SUB}/publicIPAddresses/rs-ip"),
            "subnet_id": format!("{SUB}/virtualNetworks/hub/subnets/{subnet}")});
        for (key, value) in extra.as_object().unwrap() {
            attributes[key] = value.clone();
        }
        resource("azurerm_route_server", "rs", attributes, 2)
    }

    fn connection(name: &str, server: &str, line: usize) -> Resource {
        resource(
            "azurerm_route_server_bgp_connection",
            name,
            json!({"name": name, "route_server_id": format!("{SUB}/virtualHubs/{server}"),
                   "peer_asn": 65001, "peer_ip": "10.0.2.4"}),
            line,
        )
    }

    /// Azure's defaults (no branch-to-branch, ExpressRoute preferred) are
    /// not written; the others are, and a connection is one line.
    #[test]
    fn defaults_are_left_out_and_the_rest_written() {
        let defaults = json!({"branch_to_branch_traffic_enabled": false,
                              "hub_routing_preference": "ExpressRoute"});
        let resources = vec![
            hub(),
            route_server("RouteServerSubnet", defaults),
            connection("nva1", "rs", 3),
        ];
        let text = topology_yaml(&resources, "a test").unwrap();
        assert!(
            text.ends_with(
                "route_servers:\n  # main.tf:2\n  - name: rs\n    virtual_network: hub\n    \
                 bgp_connections:\n      # main.tf:3\n      - {name: nva1, peer_ip: 10.0.2.4, \
                 peer_asn: 65001}\n"
            ),
            "{text}"
        );
        let others = json!({"branch_to_branch_traffic_enabled": true,
                            "hub_routing_preference": "ASPath"});
        let text = topology_yaml(&[hub(), route_server("RouteServerSubnet", others)], "t").unwrap();
        assert!(
            text.ends_with(
                "  - name: rs\n    virtual_network: hub\n    branch_to_branch_traffic: true\n    \
                 hub_routing_preference: ASPath\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_route_server_outside_route_server_subnet_is_refused() {
        let err = topology_yaml(&[hub(), route_server("nva", json!({}))], "t").unwrap_err();
        err.assert_is(
            "main.tf:2",
            "Route Server `rs`: subnet_id names the subnet `hub/nva`: Azure deploys a Route \
                 Server only in the subnet named RouteServerSubnet",
        );
    }

    #[test]
    fn a_connection_of_a_route_server_not_in_the_input_is_refused() {
        let resources = vec![
            hub(),
            route_server("RouteServerSubnet", json!({})),
            connection("nva1", "gone", 7),
        ];
        let err = topology_yaml(&resources, "t").unwrap_err();
        assert_eq!(err.location, "main.tf:7");
        assert_eq!(
            err.message,
            format!("route_server_id `{SUB}/virtualHubs/gone` names a resource that is not in the input")
        );
    }

    /// What vnetd refuses (a peer ASN of Azure's) is reported at the
    /// connection it comes from.
    #[test]
    fn a_refused_connection_is_reported_at_its_source() {
        let mut bad = connection("nva1", "rs", 9);
        bad.attributes["peer_asn"] = json!(65515);
        let resources = vec![hub(), route_server("RouteServerSubnet", json!({})), bad];
        let err = topology_yaml(&resources, "t").unwrap_err();
        assert_eq!(err.location, "main.tf:9");
        err.assert_contains("65515");
    }
}
