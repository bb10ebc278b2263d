//! Decoders for a virtual hub's ExpressRoute, as azurerm names it: the
//! hub's `express_route_gateway` (`azurerm_express_route_gateway`) and its
//! `express_route_connections` (`azurerm_express_route_connection`, each
//! to a circuit of the file, with the same `routing` block as a VPN
//! connection). What vnetd does not run (FastPath, route maps) is read and
//! warned about; the rules between items are
//! `resolve/hub_express_route.rs`'s.

use super::hub_vpn::RawVpnRouting;
use super::reader::{Decoder, Fields, Head, NameRef, Record};

/// A hub's `express_route_gateway` as written.
#[derive(Debug)]
pub struct RawExpressRouteGateway {
    pub name: String,
    pub key: String,
    pub scale_units: u32,
    pub line: usize,
}

/// A hub's ExpressRoute connection as written.
#[derive(Debug)]
pub struct RawExpressRouteConnection {
    pub name: String,
    pub key: String,
    pub circuit: NameRef,
    pub routing_weight: u32,
    pub internet_security: bool,
    pub routing: Option<RawVpnRouting>,
    pub line: usize,
}

/// Why some keys are read and not run.
const NOT_RUN: &str = "read but not run by vnetd: traffic from the circuit crosses the hub's \
    ExpressRoute gateway as Azure's defaults have it";

record!(EXPRESS_ROUTE_CONNECTION_KEYS: RawExpressRouteConnection { name, key, line }
    "an ExpressRoute connection" {
    circuit: "express_route_circuit" => required_ref,
    routing_weight: "routing_weight" => routing_weight,
    internet_security: "internet_security_enabled" => flag(false),
    routing: "routing" => vpn_routing,
    _: "authorization_key" => text,
    _: "express_route_gateway_bypass_enabled" => not_emulated(NOT_RUN),
    _: "private_link_fast_path_enabled" => not_emulated(NOT_RUN),
});

const EXPRESS_ROUTE_GATEWAY_KEYS: &[&str] =
    &["name", "scale_units", "allow_non_virtual_wan_traffic"];

impl Decoder<'_> {
    /// A hub's `express_route_connections`.
    pub(super) fn express_route_connections(
        &mut self,
        f: &Fields,
        key: &str,
    ) -> Option<Vec<RawExpressRouteConnection>> {
        self.list(f, key)
    }

    /// A hub's `express_route_gateway`.
    pub(super) fn express_route_gateway(
        &mut self,
        f: &Fields,
        key: &str,
    ) -> Option<Option<RawExpressRouteGateway>> {
        let Some(node) = f.given(key) else {
            return Some(None);
        };
        let k = f.key(key);
        let g = self.fields(
            node,
            &k,
            "an ExpressRoute gateway",
            EXPRESS_ROUTE_GATEWAY_KEYS,
        )?;
        let name = self.required_string(&g, "name").unwrap_or_default();
        let scale_units = match g.given("scale_units") {
            None => 1,
            Some(n) => {
                let why = "a hub's ExpressRoute gateway takes 1 to 10 scale units (2 Gbps each)";
                let units = crate::topology::model::EXPRESS_ROUTE_SCALE_UNITS;
                self.number_in(n, &g.key("scale_units"), units, why)
                    .map_or(1, |v| v as u32)
            }
        };
        self.flag(&g, "allow_non_virtual_wan_traffic", false);
        Some(Some(RawExpressRouteGateway {
            name,
            key: k,
            scale_units,
            line: node.line,
        }))
    }
}
