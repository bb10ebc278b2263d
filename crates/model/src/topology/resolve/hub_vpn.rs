//! Resolution of a virtual hub's site-to-site VPN, lowered onto the VPN
//! gateways vnetd already runs, with the rules Azure applies:
//!
//! - a VPN site belongs to one WAN and is played by an on-premises site of
//!   the file (`site`, vnetd's own key; without one it is warned about and
//!   its connections left out, since Azure needs no device to accept
//!   it); each of its links is a device of
//!   that site: its only router, or the router of the link's position when
//!   the site has several; a link's `bgp` names the device's ASN (never one
//!   Azure or IANA reserves, and the router's own when the router has one)
//!   and its BGP address; a site whose links have no BGP needs
//!   `address_cidrs` ("`address_cidrs` has to be set when `link.bgp` isn't
//!   specified");
//! - each link becomes a local network gateway named `<site>-<link>`
//!   (the link's BGP speaker, or `address_cidrs` as its static prefixes
//!   when it has no BGP);
//! - a hub's `vpn_gateway` becomes an active-active, route-based VPN
//!   gateway of ASN 65515 ("Virtual WAN doesn't support ASN changes for
//!   Virtual Hubs or any gateways") in the hub's own network `HV_<hub>`,
//!   whose `GatewaySubnet` vnetd puts at the hub prefix's first /26; its two
//!   instances take the subnet's `.4` and `.5`; its throughput is 500 Mbps
//!   per scale unit;
//! - each `vpn_connections` item connects the gateway to a VPN site of the
//!   hub's WAN, one connection per site link (`<connection>-<link>`,
//!   IPsec, BGP as the `vpn_links` item says, which needs the link's
//!   `bgp`); a branch is associated with `defaultRouteTable` ("All VPN,
//!   ExpressRoute, and User VPN connections are associated to the same
//!   (default) route table": another table is refused) and propagates as
//!   a VNet connection does, to `defaultRouteTable` and the `default` label
//!   without a `routing` block or a `propagated_route_table`; the site's
//!   ranges must not overlap the hub's prefix ("The hub range must not
//!   overlap the VNets or on-premises ranges you connect").

use super::super::decode::{RawVpnConnection, RawVpnGateway, RawVpnSite};
use super::hybrid::reserved_asn;
use super::resolver::{overlaps, NameRule, Names, Resolver};
use crate::topology::model::*;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr};

pub const VPN_SITE_NAME: NameRule = NameRule::new("VPN site", 1, 80);
pub const VPN_CONNECTION_NAME: NameRule = NameRule::new("VPN connection", 1, 80);

impl Resolver<'_> {
    /// The file's VPN sites, each with a local network gateway per link.
    pub(super) fn vpn_sites(&mut self, sites: Vec<RawVpnSite>) {
        let mut seen = Names::new(VPN_SITE_NAME);
        for s in sites {
            self.check_name(&mut seen, &s.name, s.line, &s.key);
            let found = self.topo.virtual_wans.by_name(&s.wan.name);
            let wan = self.lookup(&s.wan, "virtual WAN", found);
            let site = match &s.site {
                Some(r) => {
                    let found = self.topo.sites.by_name(&r.name);
                    self.lookup(r, "on-premises site", found)
                }
                None => {
                    // Azure needs no device to accept the site; the lab
                    // has none to run behind it.
                    let why = "no on-premises site plays this VPN site (`site`, vnetd's own \
                               key): the lab has no device behind it, so its connections never \
                               come up and the hubs learn nothing from it; name one to run the \
                               branch";
                    self.diags.warning(s.line, &s.key, why);
                    None
                }
            };
            let (Some(wan), Some(site)) = (wan, site) else {
                self.refused_vpn_sites.push(s.name);
                continue;
            };
            let mut links = Vec::new();
            for (i, l) in s.links.iter().enumerate() {
                if let Some(link) = self.vpn_site_link(site, i, l) {
                    links.push(link);
                }
            }
            if let Some(plain) = links.iter().find(|l| l.bgp.is_none()) {
                if s.address_cidrs.is_empty() {
                    let why = format!(
                        "`address_cidrs` has to be set when a link has no `bgp` (link `{}`): \
                         it is what the hub routes to the branch",
                        plain.name
                    );
                    self.diags
                        .error(plain.line, &format!("{}.address_cidrs", s.key), why);
                }
            }
            let address_cidrs: Vec<_> = s.address_cidrs.iter().map(|(n, _)| n.trunc()).collect();
            for link in &links {
                let name = format!("{}-{}", s.name, link.name);
                if self.topo.local_gateways.by_name(&name).is_some() {
                    let why = format!(
                        "local network gateway `{name}`, which stands for this link, is already \
                         in the file: rename one"
                    );
                    self.diags.error(link.line, &s.key, why);
                    continue;
                }
                self.topo.local_gateways.push(LocalGateway {
                    name,
                    site,
                    router: link.router,
                    gateway_address: link.ip_address.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                    address_space: if link.bgp.is_some() {
                        Vec::new()
                    } else {
                        address_cidrs.clone()
                    },
                    bgp: link.bgp,
                    line: link.line,
                });
            }
            self.topo.vpn_sites.push(VpnSite {
                name: s.name,
                wan,
                site,
                address_cidrs,
                links,
                line: s.line,
            });
        }
    }

    /// Link `i` of a VPN site played by `site`.
    fn vpn_site_link(
        &mut self,
        site: SiteIdx,
        i: usize,
        l: &super::super::decode::RawVpnSiteLink,
    ) -> Option<VpnSiteLink> {
        let s = &self.topo.sites[site];
        let router = match s.routers.len() {
            1 => 0,
            n if i < n => i,
            n => {
                let why = format!(
                    "site `{}` has {n} routers, one per link: this link has none",
                    s.name
                );
                self.diags.error(l.line, &l.key, why);
                return None;
            }
        };
        let device = &s.routers[router];
        let bgp = match &l.bgp {
            None => None,
            Some(b) => {
                let (Some((asn, asn_line)), Some((peering_address, _))) =
                    (b.asn, b.peering_address)
                else {
                    return None;
                };
                let key = format!("{}.asn", b.key);
                if let Some(why) = reserved_asn(asn) {
                    self.diags
                        .error(asn_line, &key, format!("ASN {asn} is {why}"));
                }
                if let Some(router_asn) = device.asn.filter(|a| *a != asn) {
                    let why = format!(
                        "ASN {asn} differs from {router_asn}, the ASN of router `{}` of site \
                         `{}`, which plays this link",
                        device.name, s.name
                    );
                    self.diags.error(asn_line, &key, why);
                }
                Some(LocalBgp {
                    asn,
                    peering_address,
                })
            }
        };
        Some(VpnSiteLink {
            name: l.name.clone(),
            router,
            ip_address: l.ip_address,
            speed_mbps: l.speed_mbps,
            bgp,
            line: l.line,
        })
    }

    /// The hub's VPN gateway, in its own network's `GatewaySubnet`.
    pub(super) fn hub_vpn_gateway(&mut self, hub: VirtualHubIdx, g: &RawVpnGateway) {
        if let Some(other) = self.topo.gateways.by_name(&g.name) {
            let why = format!(
                "a virtual network gateway named `{}` is already in the file (line {}): a VPN \
                 gateway of a hub is one too",
                g.name, self.topo.gateways[other].line
            );
            self.diags.error(g.line, &g.key, why);
            return;
        }
        if let Some((asn, line)) = g.asn.filter(|(a, _)| *a != HUB_ROUTER_ASN) {
            let why = format!(
                "ASN {asn}: a hub's VPN gateway has ASN {HUB_ROUTER_ASN} (Virtual WAN doesn't \
                 support ASN changes for virtual hubs or any gateways)"
            );
            self.diags
                .error(line, &format!("{}.bgp_settings.asn", g.key), why);
        }
        let vnet = self.hub_vnet(hub, GATEWAY_SUBNET, HUB_GATEWAY_SUBNET);
        let subnet = SubnetRef {
            vnet,
            subnet: self.topo.vnets[vnet]
                .subnets
                .by_name(GATEWAY_SUBNET)
                .expect("the subnet just added"),
        };
        let prefix = self.topo.subnet(subnet).address_prefixes[0];
        let units = g.scale_units;
        let gateway = self.topo.gateways.push_and_get_key(Gateway {
            name: g.name.clone(),
            vnet,
            subnet,
            gateway_type: GatewayType::Vpn,
            vpn_type: VpnType::RouteBased,
            sku: format!("{units} scale unit{}", if units == 1 { "" } else { "s" }),
            throughput_mbps: units * VPN_SCALE_UNIT_MBPS,
            active_active: true,
            bgp_enabled: true,
            asn: HUB_ROUTER_ASN,
            instances: super::instance_addresses(&prefix, true),
            line: g.line,
        });
        self.topo.virtual_hubs[hub].vpn_gateway = Some(gateway);
    }

    /// The hub's connections to VPN sites, each a gateway connection per
    /// site link.
    pub(super) fn hub_vpn_connections(&mut self, hub: VirtualHubIdx, raw: &[RawVpnConnection]) {
        let mut names = Names::new(VPN_CONNECTION_NAME);
        for c in raw {
            self.check_name(&mut names, &c.name, c.line, &c.key);
            let Some(gateway) = self.topo.virtual_hubs[hub].vpn_gateway else {
                let why = format!(
                    "hub `{}` has no `vpn_gateway`: a VPN connection is one of its gateway's",
                    self.topo.virtual_hubs[hub].name
                );
                self.diags.error(c.line, &c.key, why);
                continue;
            };
            if let Some(conn) = self.hub_vpn_connection(hub, gateway, c) {
                self.topo.virtual_hubs[hub].vpn_connections.push(conn);
            }
        }
    }

    fn hub_vpn_connection(
        &mut self,
        hub: VirtualHubIdx,
        gateway: GatewayIdx,
        c: &RawVpnConnection,
    ) -> Option<HubVpnConnection> {
        if self.refused_vpn_sites.contains(&c.vpn_site.name) {
            return None;
        }
        let found = (self.topo.vpn_sites.iter()).position(|s| s.name == c.vpn_site.name);
        let vpn_site = self.lookup(&c.vpn_site, "VPN site", found)?;
        let h = &self.topo.virtual_hubs[hub];
        let site = &self.topo.vpn_sites[vpn_site];
        if site.wan != h.wan {
            let why = format!(
                "VPN site `{}` is in virtual WAN `{}`, hub `{}` in `{}`",
                site.name,
                self.topo.virtual_wans[site.wan].name,
                h.name,
                self.topo.virtual_wans[h.wan].name
            );
            return self.refuse_ref(&c.vpn_site, why);
        }
        let ranges = &self.topo.sites[site.site].address_space;
        let hub_prefix = IpNet::V4(h.address_prefix);
        if let Some(range) = ranges.iter().find(|r| overlaps(r, &hub_prefix)) {
            let why = format!(
                "site `{}`'s {range} overlaps hub `{}`'s {}: the hub's range must not overlap \
                 the on-premises ranges connected to it",
                self.topo.sites[site.site].name, h.name, h.address_prefix
            );
            return self.refuse_ref(&c.vpn_site, why);
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
                let tables = p
                    .tables
                    .iter()
                    .filter_map(|t| self.table_ref(hub, t))
                    .collect();
                (labels, tables)
            }
        };
        let mut links = Vec::new();
        for l in &c.links {
            let site = &self.topo.vpn_sites[vpn_site];
            let Some(link) = site.links.iter().find(|k| k.name == l.site_link.name) else {
                let why = format!(
                    "VPN site `{}` has no link named `{}`",
                    site.name, l.site_link.name
                );
                self.diags.error(l.site_link.line, &l.site_link.key, why);
                continue;
            };
            let lng_name = format!("{}-{}", site.name, link.name);
            let Some(local_gateway) = self.topo.local_gateways.by_name(&lng_name) else {
                continue;
            };
            if l.bgp_enabled && link.bgp.is_none() {
                let why = format!(
                    "link `{}` of VPN site `{}` has no `bgp`: a BGP link names the device's ASN \
                     and address",
                    link.name, site.name
                );
                self.diags
                    .error(l.line, &format!("{}.bgp_enabled", l.key), why);
                continue;
            }
            let name = format!("{}-{}", c.name, l.name);
            if self.topo.connections.iter().any(|o| o.name == name) {
                let why = format!("a connection named `{name}` is already in the file: rename one");
                self.diags.error(l.line, &l.key, why);
                continue;
            }
            let connection = self.topo.connections.len();
            self.topo.connections.push(Connection {
                name,
                gateway,
                peer: ConnectionPeer::Local(local_gateway),
                bgp_enabled: l.bgp_enabled,
                routing_weight: 0,
                impairments: None,
                line: l.line,
            });
            links.push(HubVpnLink {
                name: l.name.clone(),
                connection,
                local_gateway,
                bgp_enabled: l.bgp_enabled,
            });
        }
        Some(HubVpnConnection {
            name: c.name.clone(),
            vpn_site,
            internet_security: c.internet_security,
            propagated_tables: tables,
            propagated_labels: labels,
            links,
            line: c.line,
        })
    }
}
