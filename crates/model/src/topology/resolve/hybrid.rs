//! Resolution of hybrid networking: on-premises sites, virtual and local
//! network gateways and their connections, with Azure's refusals:
//!
//! - a gateway lives in its VNet's subnet named exactly `GatewaySubnet`
//!   (a subnet spelled otherwise is refused, as is a NIC in it); one gateway
//!   of each type per VNet;
//! - BGP only on RouteBased gateways of a SKU other than Basic;
//! - ASNs: Azure's and IANA's reserved numbers are refused on sites and
//!   local network gateways (the gateway itself may keep Azure's 65515), and
//!   the two ends of a BGP connection need different ASNs;
//! - connections: IPsec needs a local network gateway, Vnet2Vnet a peer
//!   gateway, both on a Vpn gateway; ExpressRoute needs a circuit and an
//!   ExpressRoute gateway, one connection per gateway and circuit;
//! - ExpressRoute circuits: a site whose router is the customer edge (run
//!   by vnetd's BIRD or FRR, or by the user with `bgp_speaker: none`), a
//!   private peering with the router's ASN (never one Azure or
//!   IANA reserves, so never 12076 or 65515) and two distinct /30 links
//!   no other circuit uses;
//!   a site is the customer edge of one circuit at most;
//! - ExpressRoute gateways: an ExpressRoute SKU (Standard, HighPerformance,
//!   UltraPerformance, ErGw1AZ-ErGw3AZ, ErGwScale); like Azure's, they
//!   always run two instances;
//! - Global Reach: two different circuits (connected to a VNet gateway or
//!   not: the link is between their Microsoft edges), one link per pair,
//!   an IPv4 /29 that overlaps neither
//!   circuit's links nor another link's /29, and sites whose ranges do not
//!   overlap (the link makes them one routing domain);
//! - address ranges of one routing domain (the VNets a gateway serves, the
//!   gateways of those VNets, and the sites they connect to) never overlap:
//!   a site range overlapping a VNet is refused, naming both, and so is one
//!   overlapping another site's unless both sites reach the gateways over
//!   BGP alone (Azure takes one network's prefixes from several local
//!   network gateways over BGP; that is warned about);
//! - `use_remote_gateways` needs a gateway in the remote VNet
//!   (RemoteVnetHasNoGateways) and none in its own;
//! - sites and their routers: see `sites`.
//!
//! Gateway instances get the addresses real gateways show (an observed
//! pattern, not documented): the last usable address of GatewaySubnet for
//! active-standby, the first two usable ones (`.4` and `.5`) for
//! active-active.

use super::super::decode::{ConnectionType, NameRef, RawConnection, RawGateway, RawLocalGateway};
use super::resolver::{NameRule, Names, Resolver};
use crate::topology::model::*;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr};

pub const GATEWAY_NAME: NameRule = NameRule::new("virtual network gateway", 1, 80);
pub const LOCAL_GATEWAY_NAME: NameRule = NameRule::new("local network gateway", 1, 80);
pub const CONNECTION_NAME: NameRule = NameRule::new("connection", 1, 80);
pub const GLOBAL_REACH_NAME: NameRule = NameRule::new("Global Reach connection", 1, 80);
pub const CIRCUIT_NAME: NameRule = NameRule::new("ExpressRoute circuit", 1, 80);

/// The SKUs of an ExpressRoute gateway.
pub const EXPRESS_ROUTE_SKUS: &[&str] = &[
    "Standard",
    "HighPerformance",
    "UltraPerformance",
    "ErGw1AZ",
    "ErGw2AZ",
    "ErGw3AZ",
    "ErGwScale",
];

/// ASNs no on-premises device may use: Azure's own (8074, 8075, 12076,
/// 65515, 65517-65520) and IANA's reserved ones (23456, 64496-64511,
/// 65535-65551, 4294967295).
pub fn reserved_asn(asn: u32) -> Option<&'static str> {
    match asn {
        8074 | 8075 | 12076 | 65515 | 65517..=65520 => Some("reserved by Azure"),
        23456 | 64496..=64511 | 65535..=65551 | 4_294_967_295 => Some("reserved by IANA"),
        _ => None,
    }
}
/// The addresses of a gateway's instances in GatewaySubnet.
pub fn instance_addresses(prefix: &IpNet, active_active: bool) -> Vec<IpAddr> {
    let IpNet::V4(p) = prefix else {
        return Vec::new();
    };
    let network = u32::from(p.network());
    let broadcast = u32::from(p.broadcast());
    if active_active {
        vec![
            IpAddr::V4(Ipv4Addr::from(network + 4)),
            IpAddr::V4(Ipv4Addr::from(network + 5)),
        ]
    } else {
        vec![IpAddr::V4(Ipv4Addr::from(broadcast - 1))]
    }
}

/// `address` moved `by` addresses away from the edge of `prefix` it sits
/// at (up from the network, down from the broadcast address), for a gateway
/// whose usual addresses another gateway of the VNet already holds.
fn step_down(address: IpAddr, prefix: &Option<IpNet>, by: u32) -> IpAddr {
    let (IpAddr::V4(a), Some(IpNet::V4(p))) = (address, prefix) else {
        return address;
    };
    let (a, network) = (u32::from(a), u32::from(p.network()));
    let moved = if a - network < 8 {
        a + by
    } else {
        a.saturating_sub(by)
    };
    IpAddr::V4(Ipv4Addr::from(moved))
}

/// Finds a connection's peer by name among the resources of its kind.
type PeerByName = fn(&Topology, &str) -> Option<ConnectionPeer>;

impl Resolver<'_> {
    /// another case is refused.
    fn gateway_subnet(&mut self, vnet: VnetIdx) -> Option<SubnetRef> {
        let subnets = &self.topo.vnets[vnet].subnets;
        let exact = subnets.by_name(GATEWAY_SUBNET);
        exact.map(|subnet| SubnetRef { vnet, subnet })
    }

    /// Refuses subnets named like GatewaySubnet in another case, and NICs
    /// placed in a GatewaySubnet.
    pub(super) fn check_gateway_subnets(&mut self) {
        let mut errors = Vec::new();
        for vnet in self.topo.vnets.iter() {
            for subnet in vnet.subnets.iter() {
                if subnet.name != GATEWAY_SUBNET && subnet.name.eq_ignore_ascii_case(GATEWAY_SUBNET)
                {
                    errors.push((
                        subnet.line,
                        format!("vnets[{}].subnets[{}]", vnet.name, subnet.name),
                        format!(
                            "`{}` must be spelled exactly `{GATEWAY_SUBNET}` for a gateway to use it",
                            subnet.name
                        ),
                    ));
                }
            }
        }
        for nic in self.topo.nics.iter() {
            if self.topo.subnet(nic.subnet).name == GATEWAY_SUBNET {
                errors.push((
                    nic.line,
                    format!("network_interfaces[{}].subnet", nic.name),
                    format!(
                        "{} is reserved for virtual network gateways: no NIC may be placed in it",
                        self.topo.subnet_path(nic.subnet)
                    ),
                ));
            }
        }
        for (line, key, why) in errors {
            self.diags.error(line, &key, why);
        }
    }

    pub(super) fn gateways(&mut self, gateways: Vec<RawGateway>) {
        let mut seen = Names::new(GATEWAY_NAME);
        for gw in gateways {
            self.check_name(&mut seen, &gw.name, gw.line, &gw.key);
            let Some(vnet) = self.vnet_ref(&gw.vnet) else {
                self.refused_gateways.push((gw.name.clone(), None));
                continue;
            };
            let Some(subnet) = self.gateway_subnet(vnet) else {
                self.refused_gateways.push((gw.name.clone(), Some(vnet)));
                self.diags.error(
                    gw.vnet.line,
                    &gw.vnet.key,
                    format!(
                        "VNet `{}` has no subnet named `{GATEWAY_SUBNET}`, where a gateway lives",
                        gw.vnet.name
                    ),
                );
                continue;
            };
            if let Some(other) = self
                .topo
                .gateways
                .iter()
                .find(|g| g.vnet == vnet && g.gateway_type == gw.gateway_type)
            {
                let why = format!(
                    "VNet `{}` already has a {} gateway (`{}`): Azure allows one of each type",
                    gw.vnet.name,
                    <&str>::from(gw.gateway_type),
                    other.name
                );
                self.diags.error(gw.line, &gw.key, why);
                continue;
            }
            let sku = gw
                .sku
                .as_ref()
                .map_or("VpnGw1".to_string(), |(s, _)| s.clone());
            let asn = gw
                .bgp_settings
                .as_ref()
                .and_then(|b| b.asn)
                .map_or(AZURE_GATEWAY_ASN, |(a, _)| a);
            if let Some((asn, line)) = gw.bgp_settings.as_ref().and_then(|b| b.asn) {
                if asn != AZURE_GATEWAY_ASN {
                    if let Some(why) = reserved_asn(asn) {
                        let key = format!("{}.bgp_settings.asn", gw.key);
                        self.diags.error(line, &key, format!("ASN {asn} is {why}"));
                    }
                }
            }
            let express_route = gw.gateway_type == GatewayType::ExpressRoute;
            let sku = if express_route {
                self.express_route_sku(&gw)
            } else {
                self.vpn_sku(&gw, &sku)
            };
            let Some((sku, throughput_mbps)) = sku else {
                self.refused_gateways.push((gw.name.clone(), Some(vnet)));
                continue;
            };
            if gw.bgp_enabled && gw.vpn_type == VpnType::PolicyBased {
                let why = "BGP needs a RouteBased gateway: PolicyBased gateways do not support it";
                self.diags
                    .error(gw.line, &format!("{}.bgp_enabled", gw.key), why);
            }
            if gw.bgp_enabled && sku.eq_ignore_ascii_case("basic") {
                let why = "the Basic SKU does not support BGP";
                self.diags
                    .error(gw.line, &format!("{}.bgp_enabled", gw.key), why);
            }
            let prefix = self.topo.subnet(subnet).address_prefixes.first().copied();
            // An ExpressRoute gateway always runs two instances.
            let active_active = gw.active_active || express_route;
            let usual = prefix.map_or_else(Vec::new, |p| instance_addresses(&p, active_active));
            let mut instances = usual.clone();
            // A VPN and an ExpressRoute gateway share GatewaySubnet: the
            // second one takes the next free pair.
            let taken: Vec<IpAddr> = self
                .topo
                .gateways
                .iter()
                .filter(|g| g.vnet == vnet)
                .flat_map(|g| g.instances.iter().copied())
                .collect();
            let mut shift = 0;
            while shift < 64 && instances.iter().any(|a| taken.contains(a)) {
                shift += 2;
                instances = usual
                    .iter()
                    .map(|a| step_down(*a, &prefix, shift))
                    .collect();
            }
            self.topo.gateways.push(Gateway {
                name: gw.name,
                vnet,
                subnet,
                gateway_type: gw.gateway_type,
                vpn_type: gw.vpn_type,
                sku,
                throughput_mbps,
                active_active,
                bgp_enabled: gw.bgp_enabled || express_route,
                asn,
                instances,
                line: gw.line,
            });
        }
    }

    pub(super) fn local_gateways(&mut self, locals: Vec<RawLocalGateway>) {
        let mut seen = Names::new(LOCAL_GATEWAY_NAME);
        for lng in locals {
            self.check_name(&mut seen, &lng.name, lng.line, &lng.key);
            let found = self.topo.sites.by_name(&lng.site.name);
            let Some(site) = self.lookup(&lng.site, "on-premises site", found) else {
                self.refused_local_gateways.push(lng.name.clone());
                continue;
            };
            let Some(router) = self.local_gateway_router(site, &lng) else {
                self.refused_local_gateways.push(lng.name.clone());
                continue;
            };
            let gateway_address = lng
                .gateway_address
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            let bgp = match &lng.bgp_settings {
                None => None,
                Some(b) => {
                    let key = format!("{}.bgp_settings", lng.key);
                    match (b.asn, b.peering_address) {
                        (Some((asn, line)), Some((peering_address, _))) => {
                            if let Some(why) = reserved_asn(asn) {
                                let k = format!("{key}.asn");
                                self.diags.error(line, &k, format!("ASN {asn} is {why}"));
                            }
                            let device = &self.topo.sites[site].routers[router];
                            if let Some(router_asn) = device.asn {
                                if router_asn != asn {
                                    let k = format!("{key}.asn");
                                    let whose = if device.label == lng.site.name {
                                        format!("site `{}`'s router", lng.site.name)
                                    } else {
                                        format!(
                                            "router `{}` of site `{}`",
                                            device.name, lng.site.name
                                        )
                                    };
                                    let why = format!(
                                        "ASN {asn} differs from {router_asn}, the ASN of {whose}, which this gateway stands for"
                                    );
                                    self.diags.error(line, &k, why);
                                }
                            }
                            Some(LocalBgp {
                                asn,
                                peering_address,
                            })
                        }
                        _ => {
                            let why = "BGP settings need both `asn` and `bgp_peering_address`";
                            self.diags.error(b.line, &key, why);
                            None
                        }
                    }
                }
            };
            self.topo.local_gateways.push(LocalGateway {
                name: lng.name,
                site,
                router,
                gateway_address,
                address_space: lng.address_space.iter().map(|(n, _)| *n).collect(),
                bgp,
                line: lng.line,
            });
        }
    }

    /// The peer connection `c` names with `peer` (a `kind`, found by
    /// `by_name`), which a connection of its type needs: its absence is
    /// refused with `needs`, a name the file lacks with the reference.
    fn needed_peer(
        &mut self,
        c: &RawConnection,
        peer: Option<&NameRef>,
        needs: &str,
        kind: &str,
        by_name: PeerByName,
    ) -> Option<ConnectionPeer> {
        let Some(r) = peer else {
            self.diags.error(c.line, &c.key, needs);
            return None;
        };
        let found = by_name(&self.topo, &r.name);
        self.lookup(r, kind, found)
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one pass over the file's connections: each key is checked where it is read, so that its error names its line"
    )]
    pub(super) fn connections(&mut self, connections: Vec<RawConnection>) {
        let mut seen = Names::new(CONNECTION_NAME);
        for c in connections {
            self.check_name(&mut seen, &c.name, c.line, &c.key);
            if self
                .refused_gateways
                .iter()
                .any(|(n, _)| *n == c.gateway.name)
                || c.circuit
                    .as_ref()
                    .is_some_and(|r| self.refused_circuits.contains(&r.name))
                || c.local_gateway
                    .as_ref()
                    .is_some_and(|l| self.refused_local_gateways.contains(&l.name))
                || c.peer_gateway
                    .as_ref()
                    .is_some_and(|g| self.refused_gateways.iter().any(|(n, _)| *n == g.name))
            {
                continue;
            }
            let found = self.topo.gateways.by_name(&c.gateway.name);
            let gateway = self.lookup(&c.gateway, "virtual network gateway", found);
            let (peer, needs, kind, by_name): (_, _, _, PeerByName) = match c.connection_type {
                ConnectionType::IPsec => (
                    c.local_gateway.as_ref(),
                    "an IPsec connection needs `local_network_gateway`",
                    "local network gateway",
                    |topo, name| topo.local_gateways.by_name(name).map(ConnectionPeer::Local),
                ),
                ConnectionType::Vnet2Vnet => (
                    c.peer_gateway.as_ref(),
                    "a Vnet2Vnet connection needs `peer_virtual_network_gateway`",
                    "virtual network gateway",
                    |topo, name| topo.gateways.by_name(name).map(ConnectionPeer::Gateway),
                ),
                ConnectionType::ExpressRoute => (
                    c.circuit.as_ref(),
                    "an ExpressRoute connection needs `express_route_circuit`",
                    "ExpressRoute circuit",
                    |topo, name| topo.circuits.by_name(name).map(ConnectionPeer::Circuit),
                ),
            };
            let peer = self.needed_peer(&c, peer, needs, kind, by_name);
            let (Some(gateway), Some(peer)) = (gateway, peer) else {
                continue;
            };
            let gw = &self.topo.gateways[gateway];
            let wanted = match c.connection_type {
                ConnectionType::ExpressRoute => GatewayType::ExpressRoute,
                ConnectionType::IPsec | ConnectionType::Vnet2Vnet => GatewayType::Vpn,
            };
            if gw.gateway_type != wanted {
                let why = format!(
                    "gateway `{}` is of type {}, but a connection of type {} needs a {} gateway",
                    gw.name,
                    <&str>::from(gw.gateway_type),
                    connection_type_name(c.connection_type),
                    <&str>::from(wanted)
                );
                self.diags.error(c.gateway.line, &c.gateway.key, why);
                continue;
            }
            if let ConnectionPeer::Circuit(circuit) = peer {
                if let Some(other) = self
                    .topo
                    .connections
                    .iter()
                    .find(|o| o.gateway == gateway && o.peer == peer)
                {
                    let why = format!(
                        "gateway `{}` is already connected to circuit `{}` by `{}`",
                        gw.name, self.topo.circuits[circuit].name, other.name
                    );
                    self.diags.error(c.line, &c.key, why);
                    continue;
                }
                // The private peering always runs BGP.
                self.topo.connections.push(Connection {
                    name: c.name,
                    gateway,
                    peer,
                    bgp_enabled: true,
                    routing_weight: c.routing_weight,
                    impairments: c.impairments,
                    line: c.line,
                });
                continue;
            }
            if c.bgp_enabled && gw.vpn_type == VpnType::PolicyBased {
                let why = format!(
                    "gateway `{}` is PolicyBased: BGP needs a RouteBased gateway",
                    gw.name
                );
                self.diags
                    .error(c.line, &format!("{}.bgp_enabled", c.key), why);
            }
            let own_asn = gw.asn;
            if let ConnectionPeer::Gateway(other) = peer {
                if other == gateway {
                    let why = "a gateway cannot connect to itself";
                    self.diags.error(c.line, &c.key, why);
                    continue;
                }
            }
            if c.bgp_enabled {
                let peer_asn = match peer {
                    ConnectionPeer::Local(l) => match self.topo.local_gateways[l].bgp {
                        Some(b) => Some(b.asn),
                        None => {
                            let why = format!(
                                "BGP is enabled but local network gateway `{}` has no bgp_settings",
                                self.topo.local_gateways[l].name
                            );
                            self.diags
                                .error(c.line, &format!("{}.bgp_enabled", c.key), why);
                            None
                        }
                    },
                    ConnectionPeer::Gateway(g) => Some(self.topo.gateways[g].asn),
                    ConnectionPeer::Circuit(e) => {
                        Some(self.topo.circuits[e].private_peering.peer_asn)
                    }
                };
                if peer_asn == Some(own_asn) {
                    let why = format!(
                        "both ends of this BGP connection use ASN {own_asn}: they must differ"
                    );
                    self.diags
                        .error(c.line, &format!("{}.bgp_enabled", c.key), why);
                }
            }
            if let ConnectionPeer::Local(l) = peer {
                let lng = &self.topo.local_gateways[l];
                if !c.bgp_enabled && lng.address_space.is_empty() {
                    let why = format!(
                        "without BGP, local network gateway `{}` needs an address_space to route to",
                        lng.name
                    );
                    self.diags.warning(c.line, &c.key, why);
                }
            }
            self.topo.connections.push(Connection {
                name: c.name,
                gateway,
                peer,
                bgp_enabled: c.bgp_enabled,
                routing_weight: c.routing_weight,
                impairments: c.impairments,
                line: c.line,
            });
        }
    }
    /// `use_remote_gateways` needs a gateway or a Route Server at the
    /// remote end ("Use the remote virtual network's gateway or Route
    /// Server") and no gateway at home (Azure: RemoteVnetHasNoGateways, and
    /// a VNet with its own gateway cannot use a remote one). Runs after the
    /// Route Servers are resolved.
    pub(super) fn check_remote_gateways(&mut self) {
        let mut errors = Vec::new();
        for p in &self.topo.peerings {
            if !p.flags.use_remote_gateways {
                continue;
            }
            let key = format!("peerings[{}].use_remote_gateways", p.name);
            let remote = &self.topo.vnets[p.remote].name;
            let local = &self.topo.vnets[p.vnet].name;
            let refused_there = self
                .refused_gateways
                .iter()
                .any(|(_, v)| *v == Some(p.remote) || v.is_none());
            let route_server_there = self.topo.route_servers.iter().any(|r| r.vnet == p.remote)
                || self
                    .refused_route_servers
                    .iter()
                    .any(|v| *v == Some(p.remote) || v.is_none());
            if self.topo.gateway_of(p.remote).is_none() && !route_server_there && !refused_there {
                errors.push((
                    p.line,
                    key.clone(),
                    format!(
                        "VNet `{remote}` has no gateway to use (Azure: RemoteVnetHasNoGateways)"
                    ),
                ));
            }
            if let Some(own) = self.topo.gateway_of(p.vnet) {
                errors.push((
                    p.line,
                    key,
                    format!(
                        "VNet `{local}` has its own gateway `{}`: it cannot use a remote one",
                        self.topo.gateways[own].name
                    ),
                ));
            }
        }
        for (line, key, why) in errors {
            self.diags.error(line, &key, why);
        }
    }
}

fn connection_type_name(t: ConnectionType) -> &'static str {
    match t {
        ConnectionType::IPsec => "IPsec",
        ConnectionType::Vnet2Vnet => "Vnet2Vnet",
        ConnectionType::ExpressRoute => "ExpressRoute",
    }
}
