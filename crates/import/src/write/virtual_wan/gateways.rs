//! A virtual hub's gateways and their connections: `azurerm_vpn_gateway`
//! with its `azurerm_vpn_gateway_connection`s (to VPN sites, link by
//! link), and `azurerm_express_route_gateway` with its
//! `azurerm_express_route_connection`s (to circuits), written under
//! their hub as `vpn_gateway`, `vpn_connections`, `express_route_gateway`
//! and `express_route_connections`.

use super::super::attrs::Attrs;
use super::super::model::Model;
use super::super::output::{plain_or_quoted, scalar};
use super::{Connection, Part, Routing};
use crate::ImportError;

impl<'r> Model<'r> {
    pub(in crate::write) fn add_vpn_gateway(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.name()?;
        let hub_name = a.id_name("virtual_hub_id", "virtualHubs")?;
        let mut fields = Vec::new();
        if let Some(units) = a.str("scale_unit") {
            fields.push(("scale_unit", plain_or_quoted(&units)));
        }
        if let Some(bgp) = a.first_block("bgp_settings") {
            let mut parts = Vec::new();
            for key in ["asn", "peer_weight"] {
                if let Some(value) = bgp.str(key) {
                    parts.push(format!("{key}: {}", plain_or_quoted(&value)));
                }
            }
            if !parts.is_empty() {
                fields.push(("bgp_settings", format!("{{{}}}", parts.join(", "))));
            }
        }
        let gateways = &self.virtual_wans.vpn_gateways;
        if let Some(other) = gateways.get(&name).filter(|hub| **hub != hub_name) {
            let why = format!(
                "a second VPN gateway named `{name}` (the first is in virtual hub `{other}`); \
                 vnetd names must be unique, across resource groups too"
            );
            return Err(a.error(why));
        }
        let hub = self.hub_mut(a, "virtual_hub_id", &hub_name)?;
        if let Some((first, part)) = &hub.vpn_gateway {
            let why = format!(
                "virtual hub `{hub_name}` has two VPN gateways, `{first}` (at {}) and \
                 `{name}`: a hub has one",
                part.source
            );
            return Err(a.error(why));
        }
        let part = Part {
            source: a.r.source.clone(),
            fields,
        };
        hub.vpn_gateway = Some((name.clone(), part));
        self.virtual_wans.vpn_gateways.insert(name, hub_name);
        Ok(())
    }

    pub(in crate::write) fn add_express_route_gateway(
        &mut self,
        a: &Attrs<'r>,
    ) -> Result<(), ImportError> {
        let name = a.name()?;
        let hub_name = a.id_name("virtual_hub_id", "virtualHubs")?;
        let mut fields = Vec::new();
        if let Some(units) = a.str("scale_units") {
            fields.push(("scale_units", plain_or_quoted(&units)));
        }
        let gateways = &self.virtual_wans.express_route_gateways;
        if let Some(other) = gateways.get(&name).filter(|hub| **hub != hub_name) {
            let why = format!(
                "a second ExpressRoute gateway named `{name}` (the first is in virtual hub \
                 `{other}`); vnetd names must be unique, across resource groups too"
            );
            return Err(a.error(why));
        }
        let hub = self.hub_mut(a, "virtual_hub_id", &hub_name)?;
        if let Some((first, part)) = &hub.express_route_gateway {
            let why = format!(
                "virtual hub `{hub_name}` has two ExpressRoute gateways, `{first}` (at {}) and \
                 `{name}`: a hub has one",
                part.source
            );
            return Err(a.error(why));
        }
        let part = Part {
            source: a.r.source.clone(),
            fields,
        };
        hub.express_route_gateway = Some((name.clone(), part));
        self.virtual_wans
            .express_route_gateways
            .insert(name, hub_name);
        Ok(())
    }

    /// `azurerm_vpn_gateway_connection`: a VPN site connected to a hub's
    /// VPN gateway, each of its `vpn_link`s a link of that site.
    pub(in crate::write) fn add_vpn_connection(
        &mut self,
        a: &Attrs<'r>,
    ) -> Result<(), ImportError> {
        let name = a.name()?;
        let gateways = &self.virtual_wans.vpn_gateways;
        let gateway = a.referred("vpn_gateway_id", "vpnGateways", gateways)?;
        let hub_name = gateways[&gateway].clone();
        let sites = &self.virtual_wans.sites;
        let site_name = a.referred("remote_vpn_site_id", "vpnSites", sites)?;
        let site = &sites[&site_name];
        let mut fields = vec![("vpn_site", scalar(&site_name))];
        if a.bool("internet_security_enabled") == Some(true) {
            fields.push(("internet_security_enabled", "true".into()));
        }
        let mut links = Vec::new();
        for block in a.blocks("vpn_link") {
            let l = Attrs::nested(a.r, block);
            let link_name = l.required_str("name")?;
            let id = l.required_str("vpn_site_link_id")?;
            let site_link = super::id_names(&id, &["vpnSites", "vpnSiteLinks"]);
            let Some(site_link) = site_link.filter(|names| names[0] == site_name) else {
                return Err(l.error(format!(
                    "vpn_link `{link_name}`: vpn_site_link_id `{id}` is not a link of VPN site \
                     `{site_name}` (.../vpnSites/{site_name}/vpnSiteLinks/LINK)"
                )));
            };
            if !site.links.iter().any(|s| s.name == site_link[1]) {
                return Err(l.error(format!(
                    "vpn_link `{link_name}`: VPN site `{site_name}` has no link `{}` in the input",
                    site_link[1]
                )));
            }
            let mut link_fields = vec![("vpn_site_link", scalar(&site_link[1]))];
            if l.bool("bgp_enabled") == Some(true) {
                link_fields.push(("bgp_enabled", "true".into()));
            }
            links.push((link_name, link_fields));
        }
        links.sort_by(|x, y| x.0.cmp(&y.0));
        let connection = Connection {
            source: a.r.source.clone(),
            fields,
            routing: Routing::read(&a.own(), "associated_route_table", &hub_name)?,
            links,
        };
        let hub = self.hub_mut(a, "vpn_gateway_id", &hub_name)?;
        let what = format!("VPN connection of virtual hub `{hub_name}`");
        a.insert_unique(&mut hub.vpn_connections, &what, name, connection, |c| {
            &c.source
        })
    }

    /// `azurerm_express_route_connection`: a circuit's private peering
    /// connected to a hub's ExpressRoute gateway.
    pub(in crate::write) fn add_express_route_connection(
        &mut self,
        a: &Attrs<'r>,
    ) -> Result<(), ImportError> {
        let name = a.name()?;
        let gateways = &self.virtual_wans.express_route_gateways;
        let gateway = a.referred("express_route_gateway_id", "expressRouteGateways", gateways)?;
        let hub_name = gateways[&gateway].clone();
        let key = "express_route_circuit_peering_id";
        let peering = a.required_str(key)?;
        let circuit = super::id_names(&peering, &["expressRouteCircuits", "peerings"]);
        let Some(circuit) = circuit.map(|mut names| names.remove(0)) else {
            return Err(a.error(format!(
                "{key} `{peering}` is not the ID of a circuit's peering \
                 (.../expressRouteCircuits/CIRCUIT/peerings/AzurePrivatePeering)"
            )));
        };
        if !self.has_circuit(&circuit) {
            return Err(a.dangling(key));
        }
        let mut fields = vec![("express_route_circuit", scalar(&circuit))];
        if let Some(weight) = a.str("routing_weight").filter(|w| w != "0") {
            fields.push(("routing_weight", plain_or_quoted(&weight)));
        }
        if a.bool("internet_security_enabled") == Some(true) {
            fields.push(("internet_security_enabled", "true".into()));
        }
        let connection = Connection {
            source: a.r.source.clone(),
            fields,
            routing: Routing::read(&a.own(), "associated_route_table_id", &hub_name)?,
            links: Vec::new(),
        };
        let hub = self.hub_mut(a, "express_route_gateway_id", &hub_name)?;
        let what = format!("ExpressRoute connection of virtual hub `{hub_name}`");
        let held = &mut hub.express_route_connections;
        a.insert_unique(held, &what, name, connection, |c| &c.source)
    }
}
