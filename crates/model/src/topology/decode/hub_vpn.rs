//! Decoders for a virtual hub's site-to-site VPN, as azurerm names it: the
//! hub's `vpn_gateway` (`azurerm_vpn_gateway`), its `vpn_connections`
//! (`azurerm_vpn_gateway_connection`, each with its `routing` block and
//! `vpn_links`) and the WAN's `vpn_sites` (`azurerm_vpn_site`, each with
//! its `links` and their `bgp`), with vnetd's own `site`: the
//! `on_premises_sites` entry that plays the branch. What vnetd does not
//! run (route maps, IPsec policies, traffic selectors, NAT rules) is read
//! and warned about; the rules between items are `resolve/hub_vpn.rs`'s.

use super::hub_routing::RawPropagation;
use super::reader::{Decoder, Fields, Head, NameRef, Record};
use ipnet::IpNet;
use std::net::IpAddr;

/// A hub's `vpn_gateway` as written.
#[derive(Debug)]
pub struct RawVpnGateway {
    pub name: String,
    pub key: String,
    pub scale_units: u32,
    /// `bgp_settings.asn`, with its line, when given.
    pub asn: Option<(u32, usize)>,
    pub line: usize,
}

/// A hub's VPN connection as written.
#[derive(Debug)]
pub struct RawVpnConnection {
    pub name: String,
    pub key: String,
    pub vpn_site: NameRef,
    pub internet_security: bool,
    pub routing: Option<RawVpnRouting>,
    pub links: Vec<RawVpnLink>,
    pub line: usize,
}

/// A VPN connection's `routing` block.
#[derive(Debug)]
pub struct RawVpnRouting {
    pub associated: Option<NameRef>,
    pub propagated: Option<RawPropagation>,
    pub key: String,
    pub line: usize,
}

/// One `vpn_links` item of a VPN connection.
#[derive(Debug)]
pub struct RawVpnLink {
    pub name: String,
    pub key: String,
    pub site_link: NameRef,
    pub bgp_enabled: bool,
    pub line: usize,
}

/// A VPN site as written.
#[derive(Debug)]
pub struct RawVpnSite {
    pub name: String,
    pub key: String,
    pub wan: NameRef,
    /// The on-premises site that plays it (vnetd's own key).
    pub site: Option<NameRef>,
    pub address_cidrs: Vec<(IpNet, usize)>,
    pub links: Vec<RawVpnSiteLink>,
    pub line: usize,
}

/// One link of a VPN site as written.
#[derive(Debug)]
pub struct RawVpnSiteLink {
    pub name: String,
    pub key: String,
    pub ip_address: Option<IpAddr>,
    pub speed_mbps: Option<u32>,
    pub bgp: Option<RawSiteLinkBgp>,
    pub line: usize,
}

/// A VPN site link's `bgp` block.
#[derive(Debug)]
pub struct RawSiteLinkBgp {
    pub asn: Option<(u32, usize)>,
    pub peering_address: Option<(IpAddr, usize)>,
    pub key: String,
    pub line: usize,
}

/// Why some keys are read and not run.
const NOT_RUN: &str = "read but not run by vnetd: the tunnel carries every prefix as Azure's \
    defaults do";

record!(VPN_CONNECTION_KEYS: RawVpnConnection { name, key, line } "a VPN connection" {
    vpn_site: "vpn_site" => required_ref,
    internet_security: "internet_security_enabled" => flag(false),
    routing: "routing" => vpn_routing,
    links: "vpn_links" => list,
    _: "traffic_selector_policy" => not_emulated(NOT_RUN),
});

record!(VPN_LINK_KEYS: RawVpnLink { name, key, line } "a VPN link" {
    site_link: "vpn_site_link" => required_ref,
    bgp_enabled: "bgp_enabled" => flag(false),
    _: "shared_key" => text,
    _: "route_weight" => routing_weight,
    _: "connection_mode" => text,
    _: "protocol" => text,
    _: "bandwidth_mbps" => text,
    _: "ratelimit_enabled" => flag(false),
    _: "local_azure_ip_address_enabled" => flag(false),
    _: "policy_based_traffic_selector_enabled" => flag(false),
    _: "ipsec_policy" => not_run_block(NOT_RUN),
    _: "custom_bgp_address" => not_emulated(NOT_RUN),
    _: "egress_nat_rule_ids" => not_emulated(NOT_RUN),
    _: "ingress_nat_rule_ids" => not_emulated(NOT_RUN),
});

record!(VPN_SITE_KEYS: RawVpnSite { name, key, line } "a VPN site" {
    wan: "virtual_wan" => required_ref,
    site: "site" => optional_ref,
    address_cidrs: "address_cidrs" => optional_cidr_list,
    links: "links" => list,
    _: "device_model" => text,
    _: "device_vendor" => text,
    _: "o365_policy" => not_run_block(NOT_RUN),
});

record!(VPN_SITE_LINK_KEYS: RawVpnSiteLink { name, key, line } "a VPN site link" {
    ip_address: "ip_address" => optional_ip,
    _: "fqdn" => text,
    _: "provider_name" => text,
    speed_mbps: "speed_in_mbps" => link_speed,
    bgp: "bgp" => site_link_bgp,
});

const VPN_GATEWAY_KEYS: &[&str] = &[
    "name",
    "scale_unit",
    "bgp_settings",
    "routing_preference",
    "bgp_route_translation_for_nat_enabled",
];
const VPN_GATEWAY_BGP_KEYS: &[&str] = &[
    "asn",
    "peer_weight",
    "instance_0_bgp_peering_address",
    "instance_1_bgp_peering_address",
];
const VPN_ROUTING_KEYS: &[&str] = &[
    "associated_route_table",
    "propagated_route_table",
    "inbound_route_map",
    "outbound_route_map",
];
const SITE_LINK_BGP_KEYS: &[&str] = &["asn", "peering_address"];

impl Decoder<'_> {
    /// The file's `vpn_sites`.
    pub(super) fn vpn_sites(&mut self, f: &Fields, key: &str) -> Vec<RawVpnSite> {
        self.list(f, key).unwrap_or_default()
    }

    /// A hub's `vpn_connections`.
    pub(super) fn vpn_connections(
        &mut self,
        f: &Fields,
        key: &str,
    ) -> Option<Vec<RawVpnConnection>> {
        self.list(f, key)
    }

    /// A hub's `vpn_gateway`.
    pub(super) fn vpn_gateway(&mut self, f: &Fields, key: &str) -> Option<Option<RawVpnGateway>> {
        let Some(node) = f.given(key) else {
            return Some(None);
        };
        let k = f.key(key);
        let g = self.fields(node, &k, "a VPN gateway", VPN_GATEWAY_KEYS)?;
        let name = self.required_string(&g, "name").unwrap_or_default();
        let scale_units = match g.given("scale_unit") {
            None => 1,
            Some(n) => {
                let why = "a hub's VPN gateway takes 1 to 40 scale units (500 Mbps each)";
                let units = crate::topology::model::VPN_SCALE_UNITS;
                self.number_in(n, &g.key("scale_unit"), units, why)
                    .map_or(1, |v| v as u32)
            }
        };
        let mut asn = None;
        if let Some(b) = g.given("bgp_settings") {
            let bk = g.key("bgp_settings");
            if let Some(b) = self.fields(b, &bk, "VPN gateway BGP settings", VPN_GATEWAY_BGP_KEYS) {
                asn = self.asn(&b, "asn").flatten();
                for custom in [
                    "instance_0_bgp_peering_address",
                    "instance_1_bgp_peering_address",
                ] {
                    if let Some(n) = b.given(custom) {
                        let why = "custom BGP addresses are read but not used: vnetd's \
                            instances peer from their own addresses";
                        self.diags.warning(n.line, &b.key(custom), why);
                    }
                }
            }
        }
        if let Some(n) = g.given("routing_preference") {
            self.string(n, &g.key("routing_preference"));
        }
        self.flag(&g, "bgp_route_translation_for_nat_enabled", false);
        Some(Some(RawVpnGateway {
            name,
            key: k,
            scale_units,
            asn,
            line: node.line,
        }))
    }

    /// A VPN connection's `routing` block.
    pub(super) fn vpn_routing(&mut self, f: &Fields, key: &str) -> Option<Option<RawVpnRouting>> {
        let Some(node) = f.given(key) else {
            return Some(None);
        };
        let k = f.key(key);
        let r = self.fields(node, &k, "a routing configuration", VPN_ROUTING_KEYS)?;
        let associated = self.optional_ref(&r, "associated_route_table")?;
        let propagated = self.hub_propagation(&r, "propagated_route_table");
        for map in ["inbound_route_map", "outbound_route_map"] {
            if let Some(n) = r.given(map) {
                let why = "route maps are read but not applied by vnetd: the routes pass unchanged";
                self.diags.warning(n.line, &r.key(map), why);
            }
        }
        Some(Some(RawVpnRouting {
            associated,
            propagated,
            key: k,
            line: node.line,
        }))
    }

    /// A VPN site link's `speed_in_mbps`.
    fn link_speed(&mut self, f: &Fields, key: &str) -> Option<Option<u32>> {
        let Some(n) = f.given(key) else {
            return Some(None);
        };
        let why = "a link's speed is 0 to 100000 Mbps";
        Some(
            self.number_in(n, &f.key(key), 0..=100_000, why)
                .map(|v| v as u32),
        )
    }

    /// A VPN site link's `bgp` block: the branch device's ASN and BGP
    /// address.
    fn site_link_bgp(&mut self, f: &Fields, key: &str) -> Option<Option<RawSiteLinkBgp>> {
        let Some(node) = f.given(key) else {
            return Some(None);
        };
        let k = f.key(key);
        let b = self.fields(node, &k, "a link's BGP settings", SITE_LINK_BGP_KEYS)?;
        let asn = self.asn(&b, "asn")?;
        let peering_address = match self.required(&b, "peering_address") {
            Some(n) => self.ip(n, &b.key("peering_address")).map(|ip| (ip, n.line)),
            None => None,
        };
        if asn.is_none() {
            let why = "missing required key `asn`: a BGP link names the device's ASN";
            self.diags.error(node.line, &b.key("asn"), why);
        }
        Some(Some(RawSiteLinkBgp {
            asn,
            peering_address,
            key: k,
            line: node.line,
        }))
    }
}
