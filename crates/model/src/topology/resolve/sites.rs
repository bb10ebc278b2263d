//! Resolution of on-premises sites: each one `router`, or several
//! `routers` (devices in front of the same network), with hosts behind
//! them; the router a local network gateway stands for; and the BGP
//! connections whose sessions no router can hold.
//!
//! - a site gives `router` or `routers`, not both; router names are unique
//!   in their site; every namespace is used once; a router that speaks
//!   BGP needs an ASN that neither Azure nor IANA reserves;
//! - site hosts sit inside the site's address space, with room on their
//!   link for an address of each router;
//! - a local network gateway of a site with several routers names its
//!   own with `router`;
//! - a router holds one BGP address on its tunnels to a gateway: a second
//!   local network gateway of the same router and gateway is warned about,
//!   its sessions never coming up; so is a router of several that nothing
//!   connects (the flows hosts hand it go nowhere).

use super::super::decode::{RawLocalGateway, RawRouterSettings, RawSite};
use super::fabric_names::Namespaces;
use super::hybrid::reserved_asn;
use super::nics::NIC_NAME;
use super::resolver::{NameRule, Names, Resolver};
use crate::topology::model::*;
use ipnet::IpNet;
use std::net::IpAddr;

pub const SITE_NAME: NameRule = NameRule::new("on-premises site", 1, 80);
pub const ROUTER_NAME: NameRule = NameRule::new("router", 1, 80);

/// A router of a site as the file writes it, before its namespace is
/// claimed.
struct WrittenRouter {
    name: String,
    label: String,
    key: String,
    settings: RawRouterSettings,
    line: usize,
}

/// Why a host at `address` leaves no room for the addresses of `routers`
/// routers on its link: each router takes an address of the host's prefix
/// (at most a /24, see [`host_link_prefix_len`]) that the host does not
/// hold. `None` when there is room.
fn no_room_for_routers(address: IpAddr, range: Option<&IpNet>, routers: usize) -> Option<String> {
    if routers <= 1 {
        return None;
    }
    let len = host_link_prefix_len(address, range);
    let room = match address {
        IpAddr::V4(_) => (1u64 << (32 - u32::from(len))).saturating_sub(3),
        IpAddr::V6(_) => u64::MAX,
    };
    (room < routers as u64).then(|| {
        format!("{address}/{len} leaves no address for each of the site's {routers} routers")
    })
}

/// The prefix length of a site host's link to its routers: that of the
/// site range holding it, at most a /24 (a /64 for IPv6), so each router
/// takes an address of it.
pub fn host_link_prefix_len(address: IpAddr, range: Option<&IpNet>) -> u8 {
    match address {
        IpAddr::V4(_) => range.map_or(24, |r| r.prefix_len().max(24)),
        IpAddr::V6(_) => range.map_or(64, |r| r.prefix_len().max(64)),
    }
}

impl Resolver<'_> {
    pub(super) fn sites(&mut self, sites: Vec<RawSite>) {
        let mut seen = Names::new(SITE_NAME);
        let mut namespaces: Namespaces = self
            .topo
            .nics
            .iter()
            .map(|n| (n.netns.clone(), format!("NIC `{}`", n.name)))
            .collect();
        for site in sites {
            self.check_name(&mut seen, &site.name, site.line, &site.key);
            let written = self.site_routers(&site);
            if written.is_empty() {
                continue;
            }
            let mut routers = Vec::new();
            for w in written {
                let who = if w.label == site.name {
                    format!("the router of site `{}`", site.name)
                } else {
                    format!("router `{}` of site `{}`", w.name, site.name)
                };
                let label = (w.label.as_str(), w.line);
                let RawRouterSettings {
                    netns,
                    asn,
                    bgp_speaker,
                } = w.settings;
                let netns = self.claim_netns(&netns, label, &w.key, who, &mut namespaces);
                if let Some((asn, line)) = asn {
                    if let Some(why) = reserved_asn(asn) {
                        let key = format!("{}.asn", w.key);
                        self.diags.error(line, &key, format!("ASN {asn} is {why}"));
                    }
                }
                if asn.is_none() && bgp_speaker != BgpSpeaker::None {
                    let key = format!("{}.asn", w.key);
                    let why = "a router that speaks BGP needs an `asn`";
                    self.diags.error(w.line, &key, why);
                }
                routers.push(SiteRouter {
                    name: w.name,
                    label: w.label,
                    netns,
                    asn: asn.map(|(a, _)| a),
                    bgp_speaker,
                    line: w.line,
                });
            }
            let address_space: Vec<IpNet> = site.address_space.iter().map(|(n, _)| *n).collect();
            if address_space.is_empty() {
                let key = format!("{}.address_space", site.key);
                let why = "a site needs at least one address range";
                self.diags.error(site.line, &key, why);
            }
            let mut hosts = Vec::new();
            let mut host_names = Names::new(NIC_NAME);
            for host in site.hosts {
                self.check_name(&mut host_names, &host.name, host.line, &host.key);
                let Some(address) = host.address else {
                    let key = format!("{}.private_ip_address", host.key);
                    self.diags
                        .error(host.line, &key, "missing required key `private_ip_address`");
                    continue;
                };
                if !address_space.iter().any(|n| n.contains(&address)) {
                    let key = format!("{}.private_ip_address", host.key);
                    let why = format!("{address} is outside the site's address space");
                    self.diags.error(host.line, &key, why);
                }
                let range = address_space.iter().find(|n| n.contains(&address));
                if let Some(why) = no_room_for_routers(address, range, routers.len()) {
                    let key = format!("{}.private_ip_address", host.key);
                    self.diags.error(host.line, &key, why);
                }
                let who = format!("host `{}`", host.name);
                let name = (host.name.as_str(), host.line);
                let netns = self.claim_netns(&host.netns, name, &host.key, who, &mut namespaces);
                let dns_server = host.dns_server.map(|c| self.dns_server_config(c));
                hosts.push(SiteHost {
                    name: host.name,
                    address,
                    netns,
                    dns_servers: host.dns_servers,
                    dns_server,
                    line: host.line,
                });
            }
            self.topo.sites.push(Site {
                name: site.name,
                address_space,
                routers,
                hosts,
                latency_us: site.latency_us,
                line: site.line,
            });
        }
    }

    /// A site's routers as written: its one `router` (named and labelled
    /// like the site), or each of its `routers` (labelled
    /// `<site>-<name>`), names checked; none, with the error said, when
    /// the site gives neither (both is an error too, `router` read).
    fn site_routers(&mut self, site: &RawSite) -> Vec<WrittenRouter> {
        if site.router.is_some() && !site.routers.is_empty() {
            let why = "give either `router` (one device) or `routers` (several devices in front \
                       of the same network), not both";
            self.diags
                .error(site.line, &format!("{}.routers", site.key), why);
        }
        // With both, `router` is read, so that what refers to the site is
        // not refused again.
        match (&site.router, site.routers.is_empty()) {
            (None, true) => {
                let why = "missing required key `router` (its namespace, ASN and BGP speaker; \
                           or `routers`, one per device)";
                self.diags
                    .error(site.line, &format!("{}.router", site.key), why);
                Vec::new()
            }
            (Some(router), _) => vec![WrittenRouter {
                name: site.name.clone(),
                label: site.name.clone(),
                key: format!("{}.router", site.key),
                settings: router.settings.clone(),
                line: router.line,
            }],
            (None, false) => {
                let mut names = Names::new(ROUTER_NAME);
                let mut out = Vec::new();
                for r in &site.routers {
                    self.check_name(&mut names, &r.name, r.line, &r.key);
                    out.push(WrittenRouter {
                        name: r.name.clone(),
                        label: format!("{}-{}", site.name, r.name),
                        key: r.key.clone(),
                        settings: r.settings.clone(),
                        line: r.line,
                    });
                }
                out
            }
        }
    }

    /// The router of `site` a local network gateway stands for: the one
    /// its `router` names, or the site's only one. A site with several
    /// needs the name; a name the site does not have is refused with the
    /// ones it has.
    pub(super) fn local_gateway_router(
        &mut self,
        site: SiteIdx,
        lng: &RawLocalGateway,
    ) -> Option<usize> {
        let s = &self.topo.sites[site];
        let names = || {
            s.routers
                .iter()
                .map(|r| format!("`{}`", r.name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match &lng.router {
            None if s.routers.len() == 1 => Some(0),
            None => {
                let why = format!(
                    "site `{}` has {} routers ({}): name the one this local network gateway stands \
                     for with `router`",
                    s.name,
                    s.routers.len(),
                    names()
                );
                self.diags
                    .error(lng.line, &format!("{}.router", lng.key), why);
                None
            }
            Some(r) => match s.routers.by_name(&r.name) {
                Some(found) => Some(found),
                None => {
                    let why = format!(
                        "site `{}` has no router named `{}` (its routers: {})",
                        s.name,
                        r.name,
                        names()
                    );
                    self.refuse_ref(r, why)
                }
            },
        }
    }

    /// Warns about a BGP connection whose sessions can never come up
    /// because no router holds its local network gateway's BGP address: a
    /// router holds one BGP address on its tunnels to a gateway, that of
    /// the first of the gateway's BGP connections naming it (see
    /// [`Topology::router_bgp_address`]); a second local network gateway
    /// of the same router is a device no router plays.
    pub(super) fn check_held_peer_addresses(&mut self) {
        let mut warnings = Vec::new();
        for c in self.topo.connections.iter().filter(|c| c.bgp_enabled) {
            let ConnectionPeer::Local(l) = c.peer else {
                continue;
            };
            let lng = &self.topo.local_gateways[l];
            let Some(bgp) = lng.bgp else {
                continue;
            };
            let at = RouterRef {
                site: lng.site,
                router: lng.router,
            };
            let held = self.topo.router_bgp_address(at, c.gateway);
            if held == Some(bgp.peering_address) {
                continue;
            }
            let router = self.topo.router(at);
            let gateway = &self.topo.gateways[c.gateway].name;
            let whose = if router.label == self.topo.sites[lng.site].name {
                format!("the router of site `{}`", router.label)
            } else {
                format!(
                    "router `{}` of site `{}`",
                    router.name, self.topo.sites[lng.site].name
                )
            };
            let holder = held.map_or_else(String::new, |a| format!(" (it holds {a})"));
            warnings.push((
                c.line,
                format!(
                    "virtual_network_gateway_connections[{}].local_network_gateway",
                    c.name
                ),
                format!(
                    "the BGP sessions of gateway `{gateway}` with {} (local network gateway `{}`) \
                     never come up: no router holds that address on its tunnels to `{gateway}`, \
                     since {whose} holds one BGP address per gateway{holder}; give each device a \
                     router of its own (`routers`, and `router` on its local network gateway)",
                    bgp.peering_address, lng.name
                ),
            ));
        }
        for (line, key, why) in warnings {
            self.diags.warning(line, &key, why);
        }
        self.check_idle_routers();
    }

    /// Warns about a router of a site with several that no local network
    /// gateway stands for and that is no circuit's customer edge: it has
    /// no tunnel, yet the site's hosts hand it their share of the flows.
    fn check_idle_routers(&mut self) {
        let mut warnings = Vec::new();
        for (s, site) in self.topo.sites.iter_enumerated() {
            if site.routers.len() < 2 {
                continue;
            }
            for (r, router) in site.routers.iter().enumerate() {
                let stands_for = self
                    .topo
                    .local_gateways
                    .iter()
                    .any(|l| l.site == s && l.router == r);
                let edge = r == 0 && self.topo.circuits.iter().any(|c| c.site == s);
                if !stands_for && !edge {
                    warnings.push((
                        router.line,
                        format!("on_premises_sites[{}].routers[{}]", site.name, router.name),
                        format!(
                            "no local network gateway stands for router `{}` (nor is it a \
                             circuit's customer edge): it has no tunnel and no BGP session, so \
                             the share of flows the site's hosts hand it goes nowhere",
                            router.name
                        ),
                    ));
                }
            }
        }
        for (line, key, why) in warnings {
            self.diags.warning(line, &key, why);
        }
    }
}
