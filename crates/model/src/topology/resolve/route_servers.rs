//! Resolution of Azure Route Servers and of the appliances' BGP speakers
//! that peer with them, with the rules Azure applies:
//!
//! - a Route Server lives in its VNet's subnet named exactly
//!   `RouteServerSubnet`, an IPv4 /27 or larger (Azure's guidance today is a
//!   /26, which a /27 is warned about), which holds nothing else (no NIC)
//!   and takes neither a route table nor an NSG (warned about); a VNet has
//!   at most one;
//! - its two instances take the fourth and fifth addresses of that subnet
//!   (`.4` and `.5`: Azure reserves the first four), its
//!   `virtualRouterIps`;
//! - it takes at most 8 BGP peers, each an IPv4 address once, with a
//!   16-bit ASN that is neither Azure's nor one IANA reserves (65515 is the
//!   Route Server's own);
//! - a peer is the NIC holding its address in the Route Server's VNet or a
//!   VNet peered with it both ways; none, the session never comes up
//!   (warned about);
//! - a peered VNet may use it through `use_remote_gateways`, as it would a
//!   gateway (Azure's "Use the remote virtual network's gateway or Route
//!   Server");
//! - a NIC's `bgp_speaker` (vnetd's own) needs a Route Server that peers
//!   with one of its addresses, with one ASN over all its connections; its
//!   `bgp_announce` needs a speaker, and a prefix equal to or inside the
//!   Route Server's VNet is not programmed, nor are the routes of a peer
//!   announcing more than 1000 (both warned about).

use super::super::decode::{RawAnnounce, RawRouteServer};
use super::resolver::{NameRule, Names, Resolver};
use super::speakers::{Claim, NicBgp};
use crate::topology::model::*;
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

pub const ROUTE_SERVER_NAME: NameRule = NameRule::new("Route Server", 1, 80);
pub const BGP_CONNECTION_NAME: NameRule = NameRule::new("Route Server BGP connection", 1, 80);

/// The offset of a Route Server's first instance in its subnet: Azure
/// reserves the first four addresses; the second instance is the next one.
const FIRST_INSTANCE: u32 = 4;

impl Resolver<'_> {
    /// The Route Servers, then the appliances' speakers that peer with them.
    /// Returns the VNet of every Route Server, refused or not (`None`: its
    /// VNet does not exist, reported).
    pub(super) fn route_servers(&mut self, servers: Vec<RawRouteServer>, nics: Vec<NicBgp>) {
        let mut seen = Names::new(ROUTE_SERVER_NAME);
        let mut claims = Vec::new();
        for rs in servers {
            self.check_name(&mut seen, &rs.name, rs.line, &rs.key);
            let vnet = self.vnet_ref(&rs.vnet);
            let placed = vnet.and_then(|v| self.place_route_server(&rs, v));
            let bgp_connections = self.bgp_connections(&rs, vnet, &mut claims);
            let (Some(vnet), Some((subnet, instances))) = (vnet, placed) else {
                // Reported: a peering using its VNet's gateways is not
                // refused for it again.
                self.refused_route_servers.push(vnet);
                continue;
            };
            self.topo.route_servers.push(RouteServer {
                name: rs.name,
                vnet,
                subnet,
                instances,
                branch_to_branch_traffic: rs.branch_to_branch_traffic,
                hub_routing_preference: rs.hub_routing_preference,
                bgp_connections,
                hub: None,
                line: rs.line,
            });
        }
        self.pending_speakers = Some((nics, claims));
    }

    /// The appliances' speakers, once every BGP connection that may name
    /// them (the Route Servers' and the virtual hubs') is known.
    pub(super) fn finish_appliance_speakers(&mut self) {
        if let Some((nics, claims)) = self.pending_speakers.take() {
            self.appliance_speakers(nics, &claims);
        }
    }

    /// The Route Server's `RouteServerSubnet` and its instances' addresses,
    /// or `None` once its refusal is reported.
    fn place_route_server(
        &mut self,
        rs: &RawRouteServer,
        vnet: VnetIdx,
    ) -> Option<(SubnetRef, Vec<IpAddr>)> {
        let v = &self.topo.vnets[vnet];
        if let Some(other) = self.topo.route_servers.iter().find(|r| r.vnet == vnet) {
            let why = format!(
                "VNet `{}` already has the Route Server `{}`: Azure deploys one Route Server per \
                 virtual network",
                v.name, other.name
            );
            return self.refuse_ref(&rs.vnet, why);
        }
        let Some(subnet) = v.subnets.by_name(ROUTE_SERVER_SUBNET) else {
            let why = format!(
                "VNet `{}` has no subnet named {ROUTE_SERVER_SUBNET}: Azure deploys a Route Server \
                 in it (an IPv4 /{ROUTE_SERVER_SUBNET_MAX_PREFIX_LEN} or larger; \
                 /{ROUTE_SERVER_SUBNET_ADVISED_PREFIX_LEN} is advised)",
                v.name
            );
            return self.refuse_ref(&rs.vnet, why);
        };
        let s = &v.subnets[subnet];
        let key = format!("vnets[{}].subnets[{ROUTE_SERVER_SUBNET}]", v.name);
        let path = format!("{}/{ROUTE_SERVER_SUBNET}", v.name);
        let first_v4 = s.address_prefixes.iter().find_map(|p| match p {
            IpNet::V4(net) => Some(*net),
            IpNet::V6(_) => None,
        });
        let Some(net) = first_v4.filter(|n| n.prefix_len() <= ROUTE_SERVER_SUBNET_MAX_PREFIX_LEN)
        else {
            let shown = first_v4.map_or("no IPv4 prefix".to_string(), |n| n.to_string());
            let why = format!(
                "Azure needs a {ROUTE_SERVER_SUBNET} of /{ROUTE_SERVER_SUBNET_MAX_PREFIX_LEN} or \
                 larger; /{ROUTE_SERVER_SUBNET_ADVISED_PREFIX_LEN} is advised ({path} has {shown})"
            );
            self.diags.error(s.line, &key, why);
            return None;
        };
        if net.prefix_len() > ROUTE_SERVER_SUBNET_ADVISED_PREFIX_LEN {
            let why = format!(
                "{path} is {net}: Azure's current guidance is a \
                 /{ROUTE_SERVER_SUBNET_ADVISED_PREFIX_LEN} for {ROUTE_SERVER_SUBNET}"
            );
            self.diags.warning(s.line, &key, why);
        }
        let subnet = SubnetRef { vnet, subnet };
        self.check_route_server_subnet(rs, subnet, &key, &path);
        let first = u32::from(net.network()) + FIRST_INSTANCE;
        let instances = (first..first + 2)
            .map(|a| IpAddr::V4(Ipv4Addr::from(a)))
            .collect();
        Some((subnet, instances))
    }

    /// `RouteServerSubnet` is the Route Server's alone: a NIC in it is
    /// refused; a route table or an NSG on it, which Azure does not
    /// support there, is warned about.
    fn check_route_server_subnet(
        &mut self,
        rs: &RawRouteServer,
        subnet: SubnetRef,
        key: &str,
        path: &str,
    ) {
        let why = format!(
            "{path} is dedicated to the Route Server `{}`: Azure allows no NIC in it",
            rs.name
        );
        self.refuse_nics_in(subnet, &why);
        let s = self.topo.subnet(subnet);
        let line = s.line;
        if let Some(table) = s.route_table {
            let why = format!(
                "Azure does not support a route table on {ROUTE_SERVER_SUBNET}: `{}` is \
                 associated with {path}",
                self.topo.route_tables[table].name
            );
            self.diags.warning(line, &format!("{key}.route_table"), why);
        }
        if let Some(nsg) = self.topo.subnet(subnet).network_security_group {
            let why = format!(
                "Azure does not support a network security group on {ROUTE_SERVER_SUBNET}: `{}` \
                 is associated with {path}",
                self.topo.nsgs[nsg].name
            );
            self.diags
                .warning(line, &format!("{key}.network_security_group"), why);
        }
    }

    /// A Route Server's BGP connections, each also kept as a [`Claim`].
    fn bgp_connections(
        &mut self,
        rs: &RawRouteServer,
        vnet: Option<VnetIdx>,
        claims: &mut Vec<Claim>,
    ) -> Vec<RouteServerPeer> {
        let mut names = Names::new(BGP_CONNECTION_NAME);
        let mut addresses: HashMap<IpAddr, &str> = HashMap::new();
        let mut peers = Vec::new();
        for (i, c) in rs.bgp_connections.iter().enumerate() {
            self.check_name(&mut names, &c.name, c.line, &c.key);
            if i == ROUTE_SERVER_MAX_PEERS {
                let why = format!(
                    "Route Server `{}` has more than {ROUTE_SERVER_MAX_PEERS} BGP connections: \
                     Azure allows {ROUTE_SERVER_MAX_PEERS} peers per Route Server",
                    rs.name
                );
                self.diags.error(c.line, &c.key, why);
            }
            let asn_key = format!("{}.peer_asn", c.key);
            let asn = c
                .peer_asn
                .filter(|&(asn, line)| self.check_peer_asn(asn, line, &asn_key))
                .map(|(asn, _)| asn);
            let ip_key = format!("{}.peer_ip", c.key);
            let mut nic = None;
            if let Some((ip, line)) = c.peer_ip {
                if let Some(first) = addresses.insert(ip, &c.name) {
                    let why = format!(
                        "{ip} is already the peer_ip of the connection `{first}`: a Route Server \
                         peers with an address once"
                    );
                    self.diags.error(line, &ip_key, why);
                }
                nic = self.peer_nic(ip, vnet, line, &ip_key);
            }
            claims.push(Claim {
                peer_ip: c.peer_ip.map(|(ip, _)| ip),
                asn,
                nic,
                vnet,
                key: c.key.clone(),
                line: c.peer_asn.map_or(c.line, |(_, line)| line),
            });
            if let (Some((peer_ip, _)), Some(peer_asn)) = (c.peer_ip, asn) {
                peers.push(RouteServerPeer {
                    name: c.name.clone(),
                    peer_ip,
                    peer_asn,
                    nic,
                    line: c.line,
                });
            }
        }
        peers
    }

    /// Refuses a peer ASN Route Server does not take; true when it does.
    fn check_peer_asn(&mut self, asn: u32, line: usize, key: &str) -> bool {
        let why = if asn == ROUTE_SERVER_ASN {
            format!(
                "{asn} is the Route Server's own ASN: Azure refuses it for a peer, which needs an \
                 ASN of its own"
            )
        } else if reserved_peer_asn(asn) {
            format!(
                "ASN {asn} is reserved: Route Server refuses Azure's ASNs (8074, 8075, 12076, \
                 65515, 65517 to 65520) and IANA's reserved ones (23456, 64496 to 64511, 65535 \
                 to 65551) for a peer"
            )
        } else {
            return true;
        };
        self.diags.error(line, key, why);
        false
    }

    /// The NIC holding `ip` in `vnet` or a VNet peered with it both ways;
    /// none is warned about. With the VNet unknown (reported), any NIC
    /// holding it, silently.
    fn peer_nic(
        &mut self,
        ip: IpAddr,
        vnet: Option<VnetIdx>,
        line: usize,
        key: &str,
    ) -> Option<NicIdx> {
        let topo = &self.topo;
        let Some(vnet) = vnet else {
            return topo.nics.position(|n| n.owns(ip));
        };
        let reachable = |v: VnetIdx| v == vnet || topo.peering_connected(vnet, v);
        let found = topo
            .nics
            .position(|n| n.subnet.vnet == vnet && n.owns(ip))
            .or_else(|| {
                topo.nics
                    .position(|n| reachable(n.subnet.vnet) && n.owns(ip))
            });
        if found.is_none() {
            let why = format!(
                "no NIC holds {ip} in `{}` or a VNet peered with it: the session will not come up",
                topo.vnets[vnet].name
            );
            self.diags.warning(line, key, why);
        }
        found
    }

    /// The speakers of the NICs that run one, checked against the
    /// connections that name them.
    fn appliance_speakers(&mut self, nics: Vec<NicBgp>, claims: &[Claim]) {
        // A connection whose address was refused may have named any NIC.
        let uncertain = claims.iter().any(|c| c.peer_ip.is_none());
        for n in nics {
            let found = self
                .topo
                .nics
                .position(|x| x.name == n.name && x.line == n.line);
            let Some(nic) = found else {
                continue;
            };
            let (speaker, speaker_line) = match n.speaker {
                // Refused already: its announcements are not checked either.
                Some((None, _)) => continue,
                Some((Some(s @ (BgpSpeaker::Bird | BgpSpeaker::Frr)), line)) => (s, line),
                Some((Some(BgpSpeaker::None), _)) | None => {
                    if let Some(RawAnnounce { line, .. }) = n.announce {
                        let why = format!(
                            "bgp_announce needs bgp_speaker bird or frr: without a BGP daemon, \
                             NIC `{}` announces nothing to a Route Server",
                            n.name
                        );
                        self.diags
                            .error(line, &format!("{}.bgp_announce", n.key), why);
                    }
                    continue;
                }
            };
            let named: Vec<&Claim> = claims.iter().filter(|c| c.nic == Some(nic)).collect();
            if named.is_empty() {
                if !uncertain {
                    self.no_route_server_peers(nic, &n, speaker_line);
                }
                continue;
            }
            let asn = self.agreeing_asn(nic, &named);
            let announce: Vec<IpNet> = n.announce.as_ref().map_or(Vec::new(), |a| {
                a.prefixes.iter().map(|(net, _)| *net).collect()
            });
            self.check_announce(&n, &named);
            if let Some(asn) = asn {
                self.topo.appliance_speakers.push(ApplianceSpeaker {
                    nic,
                    speaker,
                    asn,
                    announce,
                    line: speaker_line,
                });
            }
        }
    }

    fn no_route_server_peers(&mut self, nic: NicIdx, n: &NicBgp, line: usize) {
        let addresses: Vec<String> = self.topo.nics[nic]
            .ip_configurations
            .iter()
            .map(|c| c.address.to_string())
            .collect();
        let why = format!(
            "NIC `{}` runs a BGP speaker but no route server peers with it: give a Route \
             Server's bgp_connections a peer_ip of one of its addresses ({})",
            n.name,
            addresses.join(", ")
        );
        self.diags
            .error(line, &format!("{}.bgp_speaker", n.key), why);
    }

    /// The one ASN the connections naming `nic` agree on; each that
    /// differs from the first is refused. `None` when they disagree or an
    /// ASN was refused (reported).
    fn agreeing_asn(&mut self, nic: NicIdx, named: &[&Claim]) -> Option<u32> {
        let first = named.iter().find(|c| c.asn.is_some())?;
        let asn = first.asn?;
        let mut agree = named.iter().all(|c| c.asn.is_some());
        for c in named {
            match c.asn {
                Some(other) if other != asn => {
                    let why = format!(
                        "peer_asn {other} differs from {asn}, the peer_asn of `{}`, which names \
                         the same NIC `{}`: an appliance's speaker has one ASN",
                        first.key, self.topo.nics[nic].name
                    );
                    self.diags
                        .error(c.line, &format!("{}.peer_asn", c.key), why);
                    agree = false;
                }
                _ => {}
            }
        }
        agree.then_some(asn)
    }

    /// What Route Server does not program of what the NIC announces:
    /// prefixes equal to or inside its VNet's address space, and all of
    /// them past 1000, which drops the session.
    fn check_announce(&mut self, n: &NicBgp, named: &[&Claim]) {
        let Some(RawAnnounce {
            prefixes: announce,
            line: list_line,
        }) = &n.announce
        else {
            return;
        };
        let key = format!("{}.bgp_announce", n.key);
        if announce.len() > ROUTE_SERVER_MAX_ROUTES_PER_PEER {
            let why = format!(
                "{} prefixes: Route Server drops a session that announces more than \
                 {ROUTE_SERVER_MAX_ROUTES_PER_PEER} routes",
                announce.len()
            );
            self.diags.warning(*list_line, &key, why);
        }
        let mut vnets: Vec<VnetIdx> = named.iter().filter_map(|c| c.vnet).collect();
        vnets.sort();
        vnets.dedup();
        for (net, line) in announce {
            for &vnet in &vnets {
                let v = &self.topo.vnets[vnet];
                let Some(space) = v.address_space.iter().find(|s| s.contains(net)) else {
                    continue;
                };
                let why = format!(
                    "{net} is equal to or inside {space}, the address space of `{}`: Route \
                     Server does not program a prefix equal to or longer than the virtual \
                     network's address space",
                    v.name
                );
                self.diags.warning(*line, &key, why);
            }
        }
    }
}
