//! Checks of a virtual hub's BGP connections to appliances in connected
//! VNets (`azurerm_virtual_hub_bgp_connection`), with the rules Azure
//! applies ("Scenario: BGP peering with a virtual hub"): a 16-bit peer ASN
//! that Azure and IANA do not reserve; a peer IPv4 address; a VNet
//! connection of the same hub, which "must always be associated and
//! propagating to defaultRouteTable"; in a secured hub, only with routing
//! intent. vnetd does not yet run the sessions: an accepted connection is
//! warned about, and the hub tables hold no routes from it.

use super::super::decode::RawHubBgpConnection;
use super::hybrid::reserved_asn;
use super::{NameRule, Names, Resolver};
use crate::topology::model::*;

pub const HUB_BGP_CONNECTION_NAME: NameRule = NameRule::new("hub BGP connection", 1, 80);

/// Why an accepted BGP connection is warned about.
const NOT_RUN: &str = "a virtual hub's BGP connections to appliances are read but not yet run \
    by vnetd: the hub tables hold no routes from this appliance";

impl Resolver<'_> {
    /// The hub's BGP connections, checked and warned about; after routing
    /// intent, which decides what a secured hub takes.
    pub(super) fn hub_bgp_connections(&mut self, hub: VirtualHubIdx, raw: &[RawHubBgpConnection]) {
        let mut names = Names::new(HUB_BGP_CONNECTION_NAME);
        for c in raw {
            self.check_name(&mut names, &c.name, c.line, &c.key);
            if self.hub_bgp_connection(hub, c) {
                self.diags.warning(c.line, &c.key, NOT_RUN);
            }
        }
    }

    /// Whether `c` is one Azure accepts, its refusals reported.
    fn hub_bgp_connection(&mut self, hub: VirtualHubIdx, c: &RawHubBgpConnection) -> bool {
        let h = &self.topo.virtual_hubs[hub];
        let mut accepted = true;
        if h.firewall.is_some() && h.routing_intent.is_none() {
            let why = format!(
                "hub `{}` is secured without routing intent: BGP peering with a secured hub is \
                 supported only when routing intent is configured",
                h.name
            );
            self.diags.error(c.line, &c.key, why);
            accepted = false;
        }
        match c.peer_asn {
            None => {
                let why = "missing required key `peer_asn`: the appliance's ASN";
                self.diags
                    .error(c.line, &format!("{}.peer_asn", c.key), why);
                accepted = false;
            }
            Some((asn, line)) => {
                let key = format!("{}.peer_asn", c.key);
                if asn > 65_535 {
                    let why = format!("ASN {asn}: a hub's BGP peer takes a 16-bit ASN only");
                    self.diags.error(line, &key, why);
                    accepted = false;
                } else if let Some(why) = reserved_asn(asn) {
                    self.diags.error(line, &key, format!("ASN {asn} is {why}"));
                    accepted = false;
                }
            }
        }
        match c.peer_ip {
            None => {
                let why = "missing required key `peer_ip`: the appliance's address";
                self.diags.error(c.line, &format!("{}.peer_ip", c.key), why);
                accepted = false;
            }
            Some(std::net::IpAddr::V6(ip)) => {
                let why = format!("{ip}: a virtual hub is IPv4 only");
                self.diags.error(c.line, &format!("{}.peer_ip", c.key), why);
                accepted = false;
            }
            Some(_) => {}
        }
        let h = &self.topo.virtual_hubs[hub];
        let found = (h.connections.iter()).position(|v| v.name == c.connection.name);
        let Some(ci) = self.lookup(&c.connection, "hub connection", found) else {
            return false;
        };
        let h = &self.topo.virtual_hubs[hub];
        let v = &h.connections[ci];
        let propagates = v.propagated_tables.contains(&(hub, 0))
            || (v.propagated_labels.iter()).any(|l| h.route_tables[0].labels.contains(l));
        if h.routing_intent.is_none() && (v.associated != 0 || !propagates) {
            let why = format!(
                "connection `{}` of the appliance's VNet must always be associated and \
                 propagating to defaultRouteTable",
                v.name
            );
            return self.refuse_ref::<()>(&c.connection, why).is_some();
        }
        accepted
    }
}
