//! Resolution of a virtual hub's ExpressRoute, lowered onto the
//! ExpressRoute gateways vnetd already runs, with the rules Azure applies:
//!
//! - a hub's `express_route_gateway` becomes an ExpressRoute gateway of
//!   ASN 65515 ("Virtual WAN doesn't support ASN changes for Virtual Hubs
//!   or any gateways") with two instances, in the hub's own network
//!   `HV_<hub>`; it shares the hub's `GatewaySubnet` with the VPN gateway,
//!   as two gateways of a VNet do, its instances at the subnet's `.6` and
//!   `.7` (the VPN gateway's are `.4` and `.5`); its throughput is 2 Gbps
//!   per scale unit;
//! - each `express_route_connections` item connects the gateway to a
//!   circuit of the file (its private peering, whose customer edge is the
//!   circuit's site) as an ExpressRoute gateway connection of the same
//!   name; it is associated with `defaultRouteTable` ("All VPN,
//!   ExpressRoute, and User VPN connections are associated to the same
//!   (default) route table": another table is refused) and propagates as a
//!   VNet connection does; the circuit's site must not overlap the hub's
//!   prefix; a circuit is connected to a hub once.

use super::super::decode::{RawExpressRouteConnection, RawExpressRouteGateway};
use super::resolver::{overlaps, NameRule, Names, Resolver};
use crate::topology::model::*;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr};

pub const EXPRESS_ROUTE_CONNECTION_NAME: NameRule = NameRule::new("ExpressRoute connection", 1, 80);

impl Resolver<'_> {
    /// The hub's ExpressRoute gateway, in its own network's
    /// `GatewaySubnet`.
    pub(super) fn hub_express_route_gateway(
        &mut self,
        hub: VirtualHubIdx,
        g: &RawExpressRouteGateway,
    ) {
        if let Some(other) = self.topo.gateways.by_name(&g.name) {
            let why = format!(
                "a virtual network gateway named `{}` is already in the file (line {}): an \
                 ExpressRoute gateway of a hub is one too",
                g.name, self.topo.gateways[other].line
            );
            self.diags.error(g.line, &g.key, why);
            return;
        }
        let vnet = match self.topo.virtual_hubs[hub].vnet {
            Some(v) if self.topo.vnets[v].subnets.by_name(GATEWAY_SUBNET).is_some() => v,
            _ => self.hub_vnet(hub, GATEWAY_SUBNET, HUB_GATEWAY_SUBNET),
        };
        let subnet = SubnetRef {
            vnet,
            subnet: self.topo.vnets[vnet]
                .subnets
                .by_name(GATEWAY_SUBNET)
                .expect("the hub's GatewaySubnet"),
        };
        let IpNet::V4(prefix) = self.topo.subnet(subnet).address_prefixes[0] else {
            return;
        };
        let base = u32::from(prefix.network());
        let instances = HUB_EXPRESS_ROUTE_INSTANCES
            .iter()
            .map(|at| IpAddr::V4(Ipv4Addr::from(base + at)))
            .collect();
        let units = g.scale_units;
        let gateway = self.topo.gateways.push_and_get_key(Gateway {
            name: g.name.clone(),
            vnet,
            subnet,
            gateway_type: GatewayType::ExpressRoute,
            vpn_type: VpnType::RouteBased,
            sku: format!("{units} scale unit{}", if units == 1 { "" } else { "s" }),
            throughput_mbps: units * EXPRESS_ROUTE_SCALE_UNIT_MBPS,
            active_active: true,
            bgp_enabled: true,
            asn: HUB_ROUTER_ASN,
            instances,
            line: g.line,
        });
        self.topo.virtual_hubs[hub].express_route_gateway = Some(gateway);
    }

    /// The hub's connections to circuits, each an ExpressRoute gateway
    /// connection; `gateway_written` says whether the hub names a gateway
    /// (one refused already reported, its connections are left out
    /// without a second error).
    pub(super) fn hub_express_route_connections(
        &mut self,
        hub: VirtualHubIdx,
        raw: &[RawExpressRouteConnection],
        gateway_written: bool,
    ) {
        let mut names = Names::new(EXPRESS_ROUTE_CONNECTION_NAME);
        for c in raw {
            self.check_name(&mut names, &c.name, c.line, &c.key);
            let Some(gateway) = self.topo.virtual_hubs[hub].express_route_gateway else {
                if gateway_written {
                    continue;
                }
                let why = format!(
                    "hub `{}` has no `express_route_gateway`: an ExpressRoute connection is one \
                     of its gateway's",
                    self.topo.virtual_hubs[hub].name
                );
                self.diags.error(c.line, &c.key, why);
                continue;
            };
            if let Some(conn) = self.hub_express_route_connection(hub, gateway, c) {
                self.topo.virtual_hubs[hub]
                    .express_route_connections
                    .push(conn);
            }
        }
    }

    fn hub_express_route_connection(
        &mut self,
        hub: VirtualHubIdx,
        gateway: GatewayIdx,
        c: &RawExpressRouteConnection,
    ) -> Option<HubExpressRouteConnection> {
        if self.refused_circuits.contains(&c.circuit.name) {
            return None;
        }
        let found = self.topo.circuits.by_name(&c.circuit.name);
        let circuit = self.lookup(&c.circuit, "ExpressRoute circuit", found)?;
        let h = &self.topo.virtual_hubs[hub];
        if h.express_route_connections
            .iter()
            .any(|o| o.circuit == circuit)
        {
            let why = format!(
                "circuit `{}` is already connected to hub `{}`",
                c.circuit.name, h.name
            );
            return self.refuse_ref(&c.circuit, why);
        }
        let site = &self.topo.sites[self.topo.circuits[circuit].site];
        let hub_prefix = IpNet::V4(h.address_prefix);
        if let Some(range) = (site.address_space.iter()).find(|r| overlaps(r, &hub_prefix)) {
            let why = format!(
                "site `{}`'s {range} overlaps hub `{}`'s {}: the hub's range must not overlap \
                 the on-premises ranges connected to it",
                site.name, h.name, h.address_prefix
            );
            return self.refuse_ref(&c.circuit, why);
        }
        let routing = c.routing.as_ref();
        if let Some(r) = routing.and_then(|r| r.associated.as_ref()) {
            if h.table(&r.name) != Some(0) {
                let why = format!(
                    "`{}`: a branch connection is associated with defaultRouteTable (all VPN, \
                     ExpressRoute and User VPN connections are associated to the same, default, \
                     route table)",
                    r.name
                );
                return self.refuse_ref(r, why);
            }
        }
        let (labels, tables) = match routing.and_then(|r| r.propagated.as_ref()) {
            None => (vec![DEFAULT_LABEL.to_string()], vec![(hub, 0)]),
            Some(p) => {
                let labels = (p.labels.iter())
                    .map(|(l, _)| l.to_ascii_lowercase())
                    .collect();
                let tables = (p.tables.iter())
                    .filter_map(|t| self.table_ref(hub, t))
                    .collect();
                (labels, tables)
            }
        };
        if self.topo.connections.iter().any(|o| o.name == c.name) {
            let why = format!(
                "a connection named `{}` is already in the file: rename one",
                c.name
            );
            self.diags.error(c.line, &c.key, why);
            return None;
        }
        let connection = self.topo.connections.len();
        self.topo.connections.push(Connection {
            name: c.name.clone(),
            gateway,
            peer: ConnectionPeer::Circuit(circuit),
            bgp_enabled: true,
            routing_weight: c.routing_weight,
            impairments: None,
            line: c.line,
        });
        Some(HubExpressRouteConnection {
            name: c.name.clone(),
            circuit,
            connection,
            routing_weight: c.routing_weight,
            internet_security: c.internet_security,
            propagated_tables: tables,
            propagated_labels: labels,
            line: c.line,
        })
    }
}
