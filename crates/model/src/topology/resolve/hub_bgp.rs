//! Checks of a virtual hub's BGP connections to appliances in connected
//! VNets (`azurerm_virtual_hub_bgp_connection`), with the rules Azure
//! applies ("Scenario: BGP peering with a virtual hub"): a 16-bit peer ASN
//! that Azure and IANA do not reserve; a peer IPv4 address; a VNet
//! connection of the same hub, which "must always be associated and
//! propagating to defaultRouteTable"; in a secured hub, only with routing
//! intent.
//!
//! The accepted connections are lowered onto the Route Server vnetd runs:
//! the hub router becomes a Route Server named `<hub>-router` (or
//! `<hub>-router-<k>` where the file has a Route Server of that name) in the hub's
//! own network, whose two instances take the router's addresses (its
//! `RouteServerSubnet` is the hub prefix's second /26, vnetd's estimate)
//! and peer with each appliance, as the appliance's speaker peers with
//! both ("The NVA must peer with both router IPs"). What the appliance
//! announces enters the hub's tables (`policy::virtual_wan`).

use super::super::decode::RawHubBgpConnection;
use super::hybrid::reserved_asn;
use super::resolver::{NameRule, Names, Resolver};
use super::speakers::Claim;
use crate::topology::model::*;
use ipnet::{IpNet, Ipv4Net};
use std::net::{IpAddr, Ipv4Addr};

pub const HUB_BGP_CONNECTION_NAME: NameRule = NameRule::new("hub BGP connection", 1, 80);

impl Resolver<'_> {
    /// The hub's BGP connections, checked as Azure checks them; after
    /// routing intent, which decides what a secured hub takes. Those
    /// accepted are given to the hub router's speakers.
    pub(super) fn hub_bgp_connections(&mut self, hub: VirtualHubIdx, raw: &[RawHubBgpConnection]) {
        let mut names = Names::new(HUB_BGP_CONNECTION_NAME);
        for c in raw {
            self.check_name(&mut names, &c.name, c.line, &c.key);
            if let Some(accepted) = self.hub_bgp_connection(hub, c) {
                self.claim_appliance(hub, &accepted, c);
                self.topo.virtual_hubs[hub].bgp_connections.push(accepted);
            }
        }
        if !self.topo.virtual_hubs[hub].bgp_connections.is_empty() {
            self.hub_router(hub);
        }
    }

    /// Records the appliance `c` names for its speaker: the NIC holding
    /// its address in the connection's VNet (none is warned about, as for
    /// a Route Server's peer).
    fn claim_appliance(
        &mut self,
        hub: VirtualHubIdx,
        c: &HubBgpConnection,
        raw: &RawHubBgpConnection,
    ) {
        let vnet = self.topo.virtual_hubs[hub].connections[c.connection].vnet;
        let ip = IpAddr::V4(c.peer_ip);
        let nic = self.appliance_nic(hub, c);
        if nic.is_none() {
            let why = format!(
                "no NIC holds {ip} in `{}`, the VNet of connection `{}`: the session will not \
                 come up",
                self.topo.vnets[vnet].name, raw.connection.name
            );
            self.diags
                .warning(raw.line, &format!("{}.peer_ip", raw.key), why);
        }
        let claim = Claim {
            peer_ip: Some(ip),
            asn: Some(c.peer_asn),
            nic,
            vnet: self.topo.virtual_hubs[hub].vnet,
            key: raw.key.clone(),
            line: raw.peer_asn.map_or(raw.line, |(_, line)| line),
        };
        if let Some((_, claims)) = self.pending_speakers.as_mut() {
            claims.push(claim);
        }
    }

    /// The NIC holding `c`'s address in the VNet of its connection.
    fn appliance_nic(&self, hub: VirtualHubIdx, c: &HubBgpConnection) -> Option<NicIdx> {
        let vnet = self.topo.virtual_hubs[hub].connections[c.connection].vnet;
        let ip = IpAddr::V4(c.peer_ip);
        (self.topo.nics).position(|n| n.subnet.vnet == vnet && n.owns(ip))
    }

    /// The hub router's speakers: a Route Server of the hub's own network
    /// at the router's two addresses, peering with every accepted
    /// connection.
    fn hub_router(&mut self, hub: VirtualHubIdx) {
        let h = &self.topo.virtual_hubs[hub];
        // `<hub>-router`, or the first `<hub>-router-<k>` no Route Server
        // of the file has: Azure refuses no name for it.
        let taken = |name: &str| self.topo.route_servers.by_name(name).is_some();
        let mut name = format!("{}-router", h.name);
        let mut k = 2;
        while taken(&name) {
            name = format!("{}-router-{k}", h.name);
            k += 1;
        }
        let at = router_subnet(h.address_prefix, h.router_ips);
        let vnet = self.hub_vnet(hub, HUB_ROUTER_SUBNET_NAME, at);
        let h = &self.topo.virtual_hubs[hub];
        let subnet = SubnetRef {
            vnet,
            subnet: self.topo.vnets[vnet]
                .subnets
                .by_name(HUB_ROUTER_SUBNET_NAME)
                .expect("the subnet just added"),
        };
        let peers = (h.bgp_connections.iter())
            .map(|c| RouteServerPeer {
                name: c.name.clone(),
                peer_ip: IpAddr::V4(c.peer_ip),
                peer_asn: c.peer_asn,
                nic: self.appliance_nic(hub, c),
                line: c.line,
            })
            .collect();
        let router = self.topo.route_servers.push_and_get_key(RouteServer {
            name,
            vnet,
            subnet,
            instances: h.router_ips.iter().map(|a| IpAddr::V4(*a)).collect(),
            branch_to_branch_traffic: false,
            hub_routing_preference: h.routing_preference,
            bgp_connections: peers,
            hub: Some(hub),
            line: h.line,
        });
        self.topo.virtual_hubs[hub].router = Some(router);
    }

    /// `c` as Azure accepts it, or `None` once its refusals are reported.
    fn hub_bgp_connection(
        &mut self,
        hub: VirtualHubIdx,
        c: &RawHubBgpConnection,
    ) -> Option<HubBgpConnection> {
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
        let ci = self.lookup(&c.connection, "hub connection", found)?;
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
            return self.refuse_ref(&c.connection, why);
        }
        let (Some((peer_asn, _)), Some(IpAddr::V4(peer_ip))) = (c.peer_asn, c.peer_ip) else {
            return None;
        };
        accepted.then(|| HubBgpConnection {
            name: c.name.clone(),
            peer_ip,
            peer_asn,
            connection: ci,
            line: c.line,
        })
    }
}

/// Where the router's subnet lies in `prefix`: the second /26, or the /26
/// of the router's first address where the file places it elsewhere.
fn router_subnet(prefix: Ipv4Net, router_ips: [Ipv4Addr; 2]) -> (u32, u8) {
    let base = u32::from(prefix.network());
    let (offset, len) = HUB_ROUTER_SUBNET;
    let default = Ipv4Net::new(Ipv4Addr::from(base + offset), len).map(IpNet::V4);
    if default.is_ok_and(|d| router_ips.iter().all(|a| d.contains(&IpAddr::V4(*a)))) {
        return HUB_ROUTER_SUBNET;
    }
    let first = u32::from(router_ips[0]) & !((1 << (32 - len)) - 1);
    (first - base, len)
}
