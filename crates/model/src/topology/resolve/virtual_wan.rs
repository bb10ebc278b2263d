//! Resolution of Azure Virtual WAN, with the rules Azure applies:
//!
//! - a hub belongs to one WAN, has a location, and an IPv4 address prefix
//!   of a /24 or larger ("cannot be smaller than a /24") that overlaps no
//!   other hub and no VNet connected to it;
//! - the hub router's ASN is 65515; its two addresses are the file's
//!   `virtual_router_ips` (two IPv4 addresses inside the prefix) or
//!   vnetd's estimate, the prefix's 69th and 70th addresses;
//! - every hub has `defaultRouteTable` (label `default`) and
//!   `noneRouteTable` (label `none`); listing `defaultRouteTable` adds
//!   labels and routes to it; `noneRouteTable` takes neither;
//! - a VNet is connected to one hub at most ("A virtual network can only be
//!   connected to one virtual hub at a time"), has no gateway or Route
//!   Server of its own ("the remote virtual network can't have a
//!   gateway"), and overlaps no other VNet connected to the WAN;
//! - a connection is associated with a table of its own hub (absent:
//!   `defaultRouteTable`) and propagates to tables by name (`table` in its
//!   hub, `hub/table` in another of the WAN) and to labels; without a
//!   `routing` block or a `propagated_route_table`, to `defaultRouteTable`
//!   and the `default` label, as Azure does; a block that names tables and
//!   no labels propagates to those tables only (what the API receives);
//! - a static route of a connection names an IPv4 next hop; static routes
//!   to non-RFC 1918 prefixes all use one next hop;
//! - a hub table's route names a connection of the same hub or the hub's
//!   own firewall ("The deployment of custom routes to point the Firewall of
//!   another secured hub's will fail");
//! - routing intent sends to the hub's own firewall, one policy per kind of
//!   traffic, and is refused beside custom route tables or static routes
//!   whose next hop is a VNet connection ("the routing intent creation
//!   operation fails"); it then manages every connection: associated with
//!   `defaultRouteTable`, propagating to the `default` label with an
//!   Internet policy only, to `noneRouteTable` with a private one; its
//!   branches' VPN connections too;
//! - the hub's VPN gateway, its connections and the VPN sites: see
//!   `resolve/hub_vpn.rs`.

use super::super::decode::{
    RawFirewall, RawHubConnection, RawHubRouteTable, RawRoutingIntent, RawVirtualHub,
    RawVirtualWan, RawVpnSite,
};
use super::resolver::{overlaps, NameRule, Names, Resolver};
use crate::topology::model::*;
use ipnet::{IpNet, Ipv4Net};
use std::net::{IpAddr, Ipv4Addr};

pub const VIRTUAL_WAN_NAME: NameRule = NameRule::new("virtual WAN", 1, 80);
pub const VIRTUAL_HUB_NAME: NameRule = NameRule::new("virtual hub", 1, 80);
pub const HUB_ROUTE_TABLE_NAME: NameRule = NameRule::new("hub route table", 1, 80);
pub const HUB_CONNECTION_NAME: NameRule = NameRule::new("hub connection", 1, 80);

/// The offset of the hub router's first address in the hub prefix, when
/// the file gives none: Azure publishes no rule, so vnetd picks the 69th
/// and 70th addresses, which the router subnet of a hub holds in the
/// deployments published.
const ROUTER_OFFSET: u32 = 68;

impl Resolver<'_> {
    pub(super) fn virtual_wans(
        &mut self,
        wans: Vec<RawVirtualWan>,
        hubs: Vec<RawVirtualHub>,
        (firewalls, vpn_sites): (Vec<RawFirewall>, Vec<RawVpnSite>),
    ) {
        let mut seen = Names::new(VIRTUAL_WAN_NAME);
        for w in wans {
            self.check_name(&mut seen, &w.name, w.line, &w.key);
            self.topo.virtual_wans.push(VirtualWan {
                name: w.name,
                kind: w.kind,
                branch_to_branch: w.branch_to_branch,
                line: w.line,
            });
        }
        self.vpn_sites(vpn_sites);
        let mut seen = Names::new(VIRTUAL_HUB_NAME);
        let mut accepted = Vec::new();
        let mut refused = Vec::new();
        for h in hubs {
            self.check_name(&mut seen, &h.name, h.line, &h.key);
            match self.virtual_hub(&h) {
                Some(hub) => {
                    self.topo.virtual_hubs.push(hub);
                    accepted.push(h);
                }
                None => {
                    // Its gateway goes with it, without a second error.
                    if let Some(gw) = &h.vpn_gateway {
                        self.refused_gateways.push((gw.name.clone(), None));
                    }
                    if let Some(gw) = &h.express_route_gateway {
                        self.refused_gateways.push((gw.name.clone(), None));
                    }
                    refused.push(h.name);
                }
            }
        }
        // A refused hub's firewall is refused with it, without a second
        // error, and so is what names the firewall.
        let (orphaned, firewalls): (Vec<_>, Vec<_>) = firewalls.into_iter().partition(|f| {
            let hub = f.hub.as_ref().map(|r| r.name.as_str());
            refused.iter().any(|r| Some(r.as_str()) == hub)
        });
        self.refused_firewalls
            .extend(orphaned.into_iter().map(|f| f.name));
        self.hub_firewalls(firewalls);
        // Tables first, in every hub: a connection may propagate to a
        // table of another hub.
        for (i, h) in accepted.iter().enumerate() {
            let hub = VirtualHubIdx::from(i);
            for t in &h.route_tables {
                self.hub_route_table(hub, t);
            }
        }
        for (i, h) in accepted.iter().enumerate() {
            let hub = VirtualHubIdx::from(i);
            let mut names = Names::new(HUB_CONNECTION_NAME);
            for c in &h.connections {
                self.check_name(&mut names, &c.name, c.line, &c.key);
                if let Some(conn) = self.hub_connection(hub, c) {
                    self.topo.virtual_hubs[hub].connections.push(conn);
                }
            }
            if let Some(g) = &h.vpn_gateway {
                self.hub_vpn_gateway(hub, g);
            }
            self.hub_vpn_connections(hub, &h.vpn_connections);
            if let Some(g) = &h.express_route_gateway {
                self.hub_express_route_gateway(hub, g);
            }
            let written = h.express_route_gateway.is_some();
            self.hub_express_route_connections(hub, &h.express_route_connections, written);
        }
        for (i, h) in accepted.iter().enumerate() {
            let hub = VirtualHubIdx::from(i);
            for t in &h.route_tables {
                self.hub_table_routes(hub, t);
            }
            if let Some(intent) = &h.routing_intent {
                self.routing_intent(hub, intent);
            }
            self.hub_bgp_connections(hub, &h.bgp_connections);
        }
    }

    /// A hub without its tables' routes and its connections, or `None`
    /// once its refusal is reported.
    fn virtual_hub(&mut self, h: &RawVirtualHub) -> Option<VirtualHub> {
        let found = self.topo.virtual_wans.by_name(&h.wan.name);
        let wan = self.lookup(&h.wan, "virtual WAN", found);
        if h.location.is_empty() {
            let why = "missing required key `location`: a virtual hub is in one region";
            self.diags
                .error(h.line, &format!("{}.location", h.key), why);
        }
        let (prefix, line) = h.address_prefix?;
        let key = format!("{}.address_prefix", h.key);
        let IpNet::V4(prefix) = prefix else {
            let why = format!("{prefix} is an IPv6 prefix: a virtual hub is IPv4 only");
            self.diags.error(line, &key, why);
            return None;
        };
        if prefix.prefix_len() > HUB_MAX_PREFIX_LEN {
            let why = format!(
                "{prefix} is smaller than a /24: a virtual hub's address prefix \"cannot be \
                 smaller than a /24\" (Azure recommends a /23)"
            );
            self.diags.error(line, &key, why);
            return None;
        }
        if let Some(other) = (self.topo.virtual_hubs.iter())
            .find(|o| overlaps(&IpNet::V4(o.address_prefix), &IpNet::V4(prefix)))
        {
            let why = format!(
                "{prefix} overlaps hub `{}`'s {}: hub address spaces do not overlap",
                other.name, other.address_prefix
            );
            self.diags.error(line, &key, why);
            return None;
        }
        let router_ips = self.router_ips(h, prefix)?;
        let wan = wan?;
        Some(VirtualHub {
            name: h.name.clone(),
            wan,
            location: h.location.clone(),
            address_prefix: prefix,
            routing_preference: h.routing_preference,
            routing_units: h.routing_units,
            router_ips,
            route_tables: vec![
                builtin_table(DEFAULT_ROUTE_TABLE, DEFAULT_LABEL, h.line),
                builtin_table(NONE_ROUTE_TABLE, NONE_LABEL, h.line),
            ],
            connections: Vec::new(),
            routing_intent: None,
            firewall: None,
            vnet: None,
            vpn_gateway: None,
            vpn_connections: Vec::new(),
            express_route_gateway: None,
            express_route_connections: Vec::new(),
            bgp_connections: Vec::new(),
            router: None,
            line: h.line,
        })
    }

    /// The router's two addresses: the file's, or vnetd's estimate.
    fn router_ips(&mut self, h: &RawVirtualHub, prefix: Ipv4Net) -> Option<[Ipv4Addr; 2]> {
        let Some((ips, line)) = &h.router_ips else {
            let base = u32::from(prefix.network());
            return Some([
                Ipv4Addr::from(base + ROUTER_OFFSET),
                Ipv4Addr::from(base + ROUTER_OFFSET + 1),
            ]);
        };
        let key = format!("{}.virtual_router_ips", h.key);
        let v4: Vec<Ipv4Addr> = (ips.iter())
            .filter_map(|ip| match ip {
                IpAddr::V4(a) if prefix.contains(a) => Some(*a),
                _ => None,
            })
            .collect();
        match v4[..] {
            [a, b] if a != b => Some([a, b]),
            _ => {
                let why =
                    format!("a hub router has two IPv4 addresses, both inside the hub's {prefix}");
                self.diags.error(*line, &key, why);
                None
            }
        }
    }

    /// One of the file's tables of `hub`: added, or merged into
    /// `defaultRouteTable`; its routes come later, once connections exist.
    fn hub_route_table(&mut self, hub: VirtualHubIdx, t: &RawHubRouteTable) {
        if let Some(refusal) = HUB_ROUTE_TABLE_NAME.refusal(&t.name) {
            self.diags.error(t.line, &t.key, refusal);
        }
        let labels: Vec<String> = t
            .labels
            .iter()
            .map(|(l, _)| l.to_ascii_lowercase())
            .collect();
        let h = &mut self.topo.virtual_hubs[hub];
        match h.table(&t.name) {
            Some(0) => {
                let table = &mut h.route_tables[0];
                table.line = t.line;
                for l in labels {
                    if !table.labels.contains(&l) {
                        table.labels.push(l);
                    }
                }
            }
            Some(1) => {
                let why = "noneRouteTable is Azure's own: it takes no labels and no routes";
                self.diags.error(t.line, &t.key, why);
            }
            Some(_) => {
                let why = format!("duplicate hub route table name `{}`", t.name);
                self.diags.error(t.line, &t.key, why);
            }
            None => h.route_tables.push(HubRouteTable {
                name: t.name.clone(),
                labels,
                routes: Vec::new(),
                line: t.line,
            }),
        }
    }

    /// The routes of one of the file's tables, once the hub's connections
    /// are known.
    fn hub_table_routes(&mut self, hub: VirtualHubIdx, t: &RawHubRouteTable) {
        let Some(table) = self.topo.virtual_hubs[hub].table(&t.name) else {
            return;
        };
        if table == 1 {
            return;
        }
        for r in t.routes.iter().filter(|r| r.applied) {
            let h = &self.topo.virtual_hubs[hub];
            let elsewhere = r.next_hop.name.split_once('/').and_then(|(other, conn)| {
                let at = self.topo.virtual_hubs.by_name(other)?;
                let c = self.topo.virtual_hubs[at].connections.by_name(conn)?;
                (self.topo.virtual_hubs[at].wan == h.wan).then_some((at, c))
            });
            let next_hop = if let Some(c) = h.connections.by_name(&r.next_hop.name) {
                HubNextHop::Connection { hub, connection: c }
            } else if let Some((at, c)) = elsewhere {
                HubNextHop::Connection {
                    hub: at,
                    connection: c,
                }
            } else if h
                .firewall
                .is_some_and(|f| self.topo.firewalls[f].name == r.next_hop.name)
            {
                HubNextHop::Firewall
            } else {
                let firewalls = &self.topo.firewalls;
                let elsewhere = (self.topo.virtual_hubs.iter()).find(|o| {
                    o.firewall
                        .is_some_and(|f| firewalls[f].name == r.next_hop.name)
                });
                let why = match elsewhere {
                    Some(o) => format!(
                        "`{}` is the firewall of hub `{}`: each hub routes to its own firewall \
                         only (Azure refuses a route to another secured hub's firewall)",
                        r.next_hop.name, o.name
                    ),
                    None => format!(
                        "no connection or firewall named `{}` in hub `{}` (a connection of \
                         another hub of the WAN is written `hub/connection`)",
                        r.next_hop.name, h.name
                    ),
                };
                self.diags.error(r.next_hop.line, &r.next_hop.key, why);
                continue;
            };
            let route = HubStaticRoute {
                name: r.name.clone(),
                destinations: r.destinations.iter().map(|(n, _)| n.trunc()).collect(),
                next_hop,
                line: r.line,
            };
            self.topo.virtual_hubs[hub].route_tables[table]
                .routes
                .push(route);
        }
    }

    /// The secured hubs' firewalls: one per hub, each in its hub's own
    /// network (`HV_<hub>`, made here: the hub prefix, with an
    /// `AzureFirewallSubnet`), resolved as a VNet's firewall is.
    fn hub_firewalls(&mut self, firewalls: Vec<RawFirewall>) {
        for fw in firewalls {
            let Some(hub_ref) = fw.hub.clone() else {
                continue;
            };
            let found = self.topo.virtual_hubs.by_name(&hub_ref.name);
            let Some(hub) = self.lookup(&hub_ref, "virtual hub", found) else {
                self.refused_firewalls.push(fw.name);
                continue;
            };
            if !self.standard_hub(hub, hub_ref.line, &hub_ref.key, "Azure Firewall") {
                self.refused_firewalls.push(fw.name);
                continue;
            }
            if let Some(other) = self.topo.virtual_hubs[hub].firewall {
                let why = format!(
                    "hub `{}` already has the firewall `{}`: each hub has its own firewall, one",
                    hub_ref.name, self.topo.firewalls[other].name
                );
                self.diags.error(hub_ref.line, &hub_ref.key, why);
                self.refused_firewalls.push(fw.name);
                continue;
            }
            let vnet = self.hub_vnet(hub, FIREWALL_SUBNET, HUB_FIREWALL_SUBNET);
            let vnet_ref = super::super::decode::NameRef {
                name: self.topo.vnets[vnet].name.clone(),
                line: hub_ref.line,
                key: hub_ref.key.clone(),
            };
            match self.firewall(&fw, &vnet_ref) {
                Some(firewall) => {
                    let idx = self.topo.firewalls.push_and_get_key(firewall);
                    self.topo.virtual_hubs[hub].firewall = Some(idx);
                }
                None => self.refused_firewalls.push(fw.name),
            }
        }
    }

    /// The hub's own network (`HV_<hub>`: its prefix, made on first use)
    /// with the subnet `name` at `(offset, len)` of the hub prefix added:
    /// a secured hub's `AzureFirewallSubnet`, the VPN gateway's
    /// `GatewaySubnet`.
    pub(super) fn hub_vnet(&mut self, hub: VirtualHubIdx, name: &str, at: (u32, u8)) -> VnetIdx {
        let h = &self.topo.virtual_hubs[hub];
        let (offset, len) = at;
        let base = u32::from(h.address_prefix.network());
        let prefix = Ipv4Net::new(Ipv4Addr::from(base + offset), len)
            .map(IpNet::V4)
            .unwrap_or(IpNet::V4(h.address_prefix));
        let subnet = Subnet {
            name: name.to_string(),
            address_prefixes: vec![prefix],
            network_security_group: None,
            route_table: None,
            endpoint_policies: EndpointNetworkPolicies::Disabled,
            delegation: None,
            services: Default::default(),
            line: h.line,
        };
        if let Some(vnet) = h.vnet {
            self.topo.vnets[vnet].subnets.push(subnet);
            return vnet;
        }
        let mut subnets = TiVec::new();
        subnets.push(subnet);
        let vnet = self.topo.vnets.push_and_get_key(Vnet {
            name: format!("{HUB_VNET_PREFIX}{}", h.name),
            address_space: vec![IpNet::V4(h.address_prefix)],
            location: h.location.clone(),
            flow_timeout_minutes: 4,
            subnets,
            dns_servers: DnsServers::default(),
            tags: Default::default(),
            line: h.line,
        });
        self.topo.virtual_hubs[hub].vnet = Some(vnet);
        vnet
    }

    /// Whether `hub` is in a Standard WAN; a Basic one is refused for
    /// `what` at `line` ("A Basic WAN has Basic hubs, which offer
    /// site-to-site VPN only").
    fn standard_hub(&mut self, hub: VirtualHubIdx, line: usize, key: &str, what: &str) -> bool {
        let h = &self.topo.virtual_hubs[hub];
        let wan = &self.topo.virtual_wans[h.wan];
        if wan.kind == WanType::Standard {
            return true;
        }
        let why = format!(
            "hub `{}` is in the Basic virtual WAN `{}`, whose hubs offer site-to-site VPN only: \
             {what} needs a Standard WAN",
            h.name, wan.name
        );
        self.diags.error(line, key, why);
        false
    }

    /// One VNet connection of `hub`, or `None` once its refusal is
    /// reported.
    fn hub_connection(
        &mut self,
        hub: VirtualHubIdx,
        c: &RawHubConnection,
    ) -> Option<HubConnection> {
        let vnet = self.vnet_ref(&c.vnet)?;
        self.check_connected_vnet(hub, vnet, c)?;
        let h = &self.topo.virtual_hubs[hub];
        let routing = c.routing.as_ref();
        let associated = match routing.and_then(|r| r.associated.as_ref()) {
            None => 0,
            Some(r) => match h.table(&r.name) {
                Some(t) => t,
                None => {
                    let why = match r.name.split_once('/') {
                        Some((other, _)) if !other.eq_ignore_ascii_case(&h.name) => format!(
                            "`{}` is a table of hub `{other}`: a connection is associated with a \
                             route table of its own hub",
                            r.name
                        ),
                        _ => format!("no route table named `{}` in hub `{}`", r.name, h.name),
                    };
                    return self.refuse_ref(r, why);
                }
            },
        };
        let (labels, tables) = match routing.and_then(|r| r.propagated.as_ref()) {
            None => (vec![DEFAULT_LABEL.to_string()], vec![(hub, 0)]),
            Some(p) => {
                let labels = p
                    .labels
                    .iter()
                    .map(|(l, _)| l.to_ascii_lowercase())
                    .collect();
                let mut tables = Vec::new();
                for t in &p.tables {
                    if let Some(found) = self.table_ref(hub, t) {
                        tables.push(found);
                    }
                }
                (labels, tables)
            }
        };
        let static_routes = self.connection_static_routes(c);
        Some(HubConnection {
            name: c.name.clone(),
            vnet,
            internet_security: c.internet_security,
            associated,
            propagated_tables: tables,
            propagated_labels: labels,
            static_routes,
            bypass_local: routing.is_some_and(|r| r.bypass_local),
            propagate_static_routes: routing.is_none_or(|r| r.propagate_static_routes),
            line: c.line,
        })
    }

    /// Azure's refusals of a VNet for a hub connection.
    fn check_connected_vnet(
        &mut self,
        hub: VirtualHubIdx,
        vnet: VnetIdx,
        c: &RawHubConnection,
    ) -> Option<()> {
        let v = &self.topo.vnets[vnet];
        let h = &self.topo.virtual_hubs[hub];
        let mut why = None;
        if let Some((other, _)) = (self.topo.virtual_hubs.iter())
            .flat_map(|o| o.connections.iter().map(move |cn| (o, cn)))
            .find(|(_, cn)| cn.vnet == vnet)
        {
            why = Some(format!(
                "VNet `{}` is already connected to hub `{}`: a virtual network can only be \
                 connected to one virtual hub at a time",
                v.name, other.name
            ));
        } else if let Some(gw) = self.topo.gateways.iter().find(|g| g.vnet == vnet) {
            why = Some(format!(
                "VNet `{}` has the gateway `{}`: a VNet connected to a virtual hub can't have a \
                 gateway of its own",
                v.name, gw.name
            ));
        } else if let Some(rs) = self.topo.route_servers.iter().find(|r| r.vnet == vnet) {
            why = Some(format!(
                "VNet `{}` has the Route Server `{}`: a VNet connected to a virtual hub can't \
                 have a gateway of its own",
                v.name, rs.name
            ));
        } else if let Some(range) =
            (v.address_space.iter()).find(|r| overlaps(r, &IpNet::V4(h.address_prefix)))
        {
            why = Some(format!(
                "VNet `{}`'s {range} overlaps hub `{}`'s {}: the hub's range must not overlap \
                 the VNets connected to it",
                v.name, h.name, h.address_prefix
            ));
        } else if let Some((other, range)) = self.overlapping_connected_vnet(h.wan, vnet) {
            why = Some(format!(
                "VNet `{}` overlaps VNet `{other}` ({range}), already connected to this WAN: \
                 Azure does not support connecting overlapping VNets to virtual hubs",
                v.name
            ));
        }
        match why {
            Some(why) => self.refuse_ref(&c.vnet, why),
            None => Some(()),
        }
    }

    /// A VNet connected to a hub of `wan` whose range overlaps `vnet`'s.
    fn overlapping_connected_vnet(
        &self,
        wan: VirtualWanIdx,
        vnet: VnetIdx,
    ) -> Option<(String, IpNet)> {
        let mine = &self.topo.vnets[vnet].address_space;
        (self.topo.virtual_hubs.iter())
            .filter(|h| h.wan == wan)
            .flat_map(|h| h.connections.iter())
            .map(|c| &self.topo.vnets[c.vnet])
            .find_map(|other| {
                let range = other
                    .address_space
                    .iter()
                    .find(|r| mine.iter().any(|m| overlaps(m, r)))?;
                Some((other.name.clone(), *range))
            })
    }

    /// A propagation target: `table` of `hub`, or `other/table` of
    /// another hub of the same WAN.
    pub(super) fn table_ref(
        &mut self,
        hub: VirtualHubIdx,
        r: &super::super::decode::NameRef,
    ) -> Option<(VirtualHubIdx, usize)> {
        let (target, table) = match r.name.split_once('/') {
            None => (hub, r.name.as_str()),
            Some((hub_name, table)) => {
                let found = self.topo.virtual_hubs.by_name(hub_name);
                let Some(other) = found else {
                    return self.refuse_ref(r, format!("no virtual hub named `{hub_name}`"));
                };
                (other, table)
            }
        };
        let h = &self.topo.virtual_hubs[target];
        if h.wan != self.topo.virtual_hubs[hub].wan {
            let why = format!("hub `{}` is in another virtual WAN", h.name);
            return self.refuse_ref(r, why);
        }
        match h.table(table) {
            Some(t) => Some((target, t)),
            None => {
                let why = format!("no route table named `{table}` in hub `{}`", h.name);
                self.refuse_ref(r, why)
            }
        }
    }

    /// A connection's static routes; Azure refuses non-RFC 1918 ones with
    /// different next hops.
    fn connection_static_routes(&mut self, c: &RawHubConnection) -> Vec<ConnectionStaticRoute> {
        let Some(routing) = &c.routing else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut public_hop: Option<Ipv4Addr> = None;
        for r in &routing.static_routes {
            let Some((ip, line)) = r.next_hop else {
                continue;
            };
            let IpAddr::V4(next_hop) = ip else {
                let why = format!("{ip} is an IPv6 address: a virtual hub is IPv4 only");
                self.diags
                    .error(line, &format!("{}.next_hop_ip_address", r.key), why);
                continue;
            };
            let prefixes: Vec<IpNet> = r.address_prefixes.iter().map(|(n, _)| n.trunc()).collect();
            let public = prefixes.iter().any(|p| !is_rfc1918(p));
            if public {
                match public_hop {
                    Some(hop) if hop != next_hop => {
                        let why = format!(
                            "static routes to non-RFC 1918 prefixes all use one next hop, here \
                             {hop}: Azure refuses several"
                        );
                        self.diags.error(line, &r.key, why);
                        continue;
                    }
                    _ => public_hop = Some(next_hop),
                }
            }
            out.push(ConnectionStaticRoute {
                name: r.name.clone(),
                address_prefixes: prefixes,
                next_hop,
                line: r.line,
            });
        }
        out
    }

    /// A hub's routing intent, with Azure's refusals; it then manages the
    /// hub's connections' association and propagation.
    fn routing_intent(&mut self, hub: VirtualHubIdx, ri: &RawRoutingIntent) {
        if !self.standard_hub(hub, ri.line, &ri.key, "routing intent") {
            return;
        }
        let h = &self.topo.virtual_hubs[hub];
        if let Some(custom) = h.route_tables.get(2) {
            let why = format!(
                "hub `{}` has the custom route table `{}`: routing intent needs a hub whose only \
                 route tables are defaultRouteTable and noneRouteTable",
                h.name, custom.name
            );
            self.diags.error(ri.line, &ri.key, why);
            return;
        }
        let to_connection = h.route_tables[0]
            .routes
            .iter()
            .find(|r| matches!(r.next_hop, HubNextHop::Connection { .. }));
        if let Some(route) = to_connection {
            let why = format!(
                "defaultRouteTable's route `{}` has a VNet connection as its next hop: routing \
                 intent does not take static routes with next hop Virtual Network Connection",
                route.name
            );
            self.diags.error(ri.line, &ri.key, why);
            return;
        }
        let firewall = h.firewall.map(|f| self.topo.firewalls[f].name.clone());
        let (mut private, mut internet) = (false, false);
        for p in &ri.policies {
            if firewall.as_deref() != Some(p.next_hop.name.as_str()) {
                let why = format!(
                    "`{}` is not hub `{}`'s firewall: a routing policy's next hop is the hub's \
                     own security solution",
                    p.next_hop.name, h.name
                );
                self.diags.error(p.next_hop.line, &p.next_hop.key, why);
                continue;
            }
            for (d, line) in &p.destinations {
                let seen = match d {
                    RoutingPolicyDestination::PrivateTraffic => &mut private,
                    RoutingPolicyDestination::Internet => &mut internet,
                };
                if *seen {
                    let why = format!("a hub has one {} routing policy", d.as_str());
                    self.diags.error(*line, &p.key, why);
                }
                *seen = true;
            }
        }
        let h = &mut self.topo.virtual_hubs[hub];
        let managed = |labels: &mut Vec<String>, tables: &mut Vec<(VirtualHubIdx, usize)>| {
            labels.clear();
            tables.clear();
            if private {
                tables.push((hub, 1));
            } else {
                labels.push(DEFAULT_LABEL.to_string());
            }
        };
        for c in &mut h.connections {
            c.associated = 0;
            managed(&mut c.propagated_labels, &mut c.propagated_tables);
        }
        for c in &mut h.vpn_connections {
            managed(&mut c.propagated_labels, &mut c.propagated_tables);
        }
        for c in &mut h.express_route_connections {
            managed(&mut c.propagated_labels, &mut c.propagated_tables);
        }
        h.routing_intent = Some(RoutingIntent {
            name: ri.name.clone(),
            private,
            internet,
            line: ri.line,
        });
    }
}

fn builtin_table(name: &str, label: &str, line: usize) -> HubRouteTable {
    HubRouteTable {
        name: name.to_string(),
        labels: vec![label.to_string()],
        routes: Vec::new(),
        line,
    }
}

/// Whether `prefix` lies in one of RFC 1918's three ranges.
pub fn is_rfc1918(prefix: &IpNet) -> bool {
    let IpNet::V4(p) = prefix else {
        return false;
    };
    PRIVATE_TRAFFIC_PREFIXES
        .iter()
        .filter_map(|(a, l)| Ipv4Net::new(*a, *l).ok())
        .any(|range| range.contains(p))
}
