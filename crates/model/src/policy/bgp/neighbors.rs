//! The sessions the file implies, as each speaker is configured with
//! them: a gateway instance's neighbours (its BGP connections' peers,
//! Vnet2Vnet peers' instances, Microsoft's edge routers of its circuits,
//! and, with Route Server's branch-to-branch, the Route Server's
//! instances in its VNet), a site router's, and the host routes a VPN
//! gateway originates for its peers.

use super::edge_address;
use crate::topology::{
    BgpSpeaker, ConnectionPeer, GatewayIdx, GatewayType, RouterRef, Topology, MICROSOFT_EDGE_ASN,
    ROUTE_SERVER_ASN,
};
use std::net::IpAddr;

/// A BGP neighbour as a gateway instance's speaker is configured with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceNeighbor {
    pub address: IpAddr,
    pub asn: u32,
    /// The ASN shown to this neighbour when not the gateway's own
    /// (Microsoft's edge, towards a circuit's customer edge).
    pub local_as: Option<u32>,
}

/// A BGP neighbour of a site router: a gateway instance (eBGP multihop,
/// over a VPN tunnel) or Microsoft's edge router of a circuit link (on
/// the link's /30, one hop), and the router's own address on that session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterNeighbor {
    pub local_address: IpAddr,
    pub address: IpAddr,
    pub asn: u32,
    pub multihop: bool,
}

/// The sessions each instance of `gateway` holds: the peering
/// addresses of its BGP connections' local network gateways, every
/// instance of a Vnet2Vnet peer's gateway, and both edge routers of each
/// circuit, each once, in connection order.
pub fn instance_neighbors(topo: &Topology, gateway: GatewayIdx) -> Vec<InstanceNeighbor> {
    let mut neighbors: Vec<InstanceNeighbor> = Vec::new();
    let mut add = |n: InstanceNeighbor| {
        if !neighbors.iter().any(|m| m.address == n.address) {
            neighbors.push(n);
        }
    };
    for c in topo.connections_of(gateway) {
        match c.peer {
            ConnectionPeer::Local(l) if c.bgp_enabled => {
                if let Some(b) = topo.local_gateways[l].bgp {
                    add(InstanceNeighbor {
                        address: b.peering_address,
                        asn: b.asn,
                        local_as: None,
                    });
                }
            }
            ConnectionPeer::Gateway(other) if c.bgp_enabled => {
                let o = &topo.gateways[other];
                for address in &o.instances {
                    add(InstanceNeighbor {
                        address: *address,
                        asn: o.asn,
                        local_as: None,
                    });
                }
            }
            ConnectionPeer::Circuit(e) => {
                // Microsoft's edge routers of both links.
                for link in 0..2 {
                    add(InstanceNeighbor {
                        address: IpAddr::V4(edge_address(topo, e, link)),
                        asn: MICROSOFT_EDGE_ASN,
                        local_as: None,
                    });
                }
            }
            _ => {}
        }
    }
    // With branch-to-branch, both instances of the VNet's Route Server
    // (iBGP with a gateway of ASN 65515, as Azure requires of a VPN
    // gateway beside a Route Server).
    let vnet = topo.gateways[gateway].vnet;
    for rs in topo
        .route_servers
        .iter()
        .filter(|rs| rs.vnet == vnet && rs.branch_to_branch_traffic)
    {
        for address in &rs.instances {
            add(InstanceNeighbor {
                address: *address,
                asn: ROUTE_SERVER_ASN,
                local_as: None,
            });
        }
    }
    neighbors
}

/// The BGP address router `at` of a site uses towards the instances of
/// `gateway` over its VPN tunnels: the peering address of the local
/// network gateway of the first BGP connection of the gateway that names
/// the router ([`Topology::router_bgp_address`]).
pub fn router_bgp_address(topo: &Topology, at: RouterRef, gateway: GatewayIdx) -> Option<IpAddr> {
    topo.router_bgp_address(at, gateway)
}

/// The sessions router `at` of a site holds when it speaks BGP (a
/// `bgp_speaker` and an ASN): one to every instance of each gateway a BGP
/// connection joins to it, and, when it is a circuit's customer edge (a
/// site's first router), one to Microsoft's edge router of each link (ASN
/// 12076, at Microsoft's address of the link's /30, from its own).
pub fn router_neighbors(topo: &Topology, at: RouterRef) -> Vec<RouterNeighbor> {
    let router = topo.router(at);
    if router.bgp_speaker == BgpSpeaker::None || router.asn.is_none() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (g, gw) in topo.gateways.iter_enumerated() {
        if topo.circuit_of(at.site, g).is_some() {
            continue;
        }
        for address in &gw.instances {
            if let Some(local_address) = router_bgp_address(topo, at, g) {
                out.push(RouterNeighbor {
                    local_address,
                    address: *address,
                    asn: gw.asn,
                    multihop: true,
                });
            }
        }
    }
    if at.router == 0 {
        if let Some(circuit) = topo.circuit_of_site(at.site) {
            let peering = &topo.circuits[circuit].private_peering;
            for link in 0..2 {
                out.push(RouterNeighbor {
                    local_address: peering.customer_address(link),
                    address: peering.microsoft_address(link),
                    asn: MICROSOFT_EDGE_ASN,
                    multihop: false,
                });
            }
        }
    }
    out
}

/// The address router `at` of a site is known by to the other routers of
/// its site: the local address of its first session with Azure.
pub fn router_own_address(topo: &Topology, at: RouterRef) -> Option<IpAddr> {
    router_neighbors(topo, at).first().map(|n| n.local_address)
}

/// The sessions router `at` holds with the other routers of its site (the
/// devices in front of the same network), each over a link of its own
/// between the two: every router that speaks BGP and has an address
/// ([`router_own_address`]) meets every other one, iBGP when they share
/// an ASN. What one learns from Azure it passes to the others, itself as
/// the next hop, so a device that lost its own tunnels forwards through
/// the others. These sessions are the site's own, not Azure's: the BGP
/// model and the convergence report leave them out.
pub fn site_peer_neighbors(topo: &Topology, at: RouterRef) -> Vec<RouterNeighbor> {
    let Some(own) = router_own_address(topo, at) else {
        return Vec::new();
    };
    let site = &topo.sites[at.site];
    (0..site.routers.len())
        .filter(|&other| other != at.router)
        .filter_map(|other| {
            let peer = RouterRef {
                site: at.site,
                router: other,
            };
            Some(RouterNeighbor {
                local_address: own,
                address: router_own_address(topo, peer)?,
                asn: topo.router(peer).asn?,
                multihop: false,
            })
        })
        .filter(|n| n.address != own)
        .collect()
}

/// The BGP peers of a VPN gateway whose host routes it originates, grouped
/// by connection: a local network gateway's peering address, or the
/// instances of a Vnet2Vnet peer. A peer is not sent its own group.
pub fn peer_host_groups(topo: &Topology, gateway: GatewayIdx) -> Vec<Vec<IpAddr>> {
    if topo.gateways[gateway].gateway_type == GatewayType::ExpressRoute {
        return Vec::new();
    }
    let mut groups: Vec<Vec<IpAddr>> = Vec::new();
    for c in topo.connections_of(gateway).filter(|c| c.bgp_enabled) {
        let group: Vec<IpAddr> = match c.peer {
            ConnectionPeer::Local(l) => topo.local_gateways[l]
                .bgp
                .map(|b| b.peering_address)
                .into_iter()
                .collect(),
            ConnectionPeer::Gateway(g) => topo.gateways[g].instances.clone(),
            ConnectionPeer::Circuit(_) => Vec::new(),
        };
        if !group.is_empty() && !groups.iter().flatten().any(|a| group.contains(a)) {
            groups.push(group);
        }
    }
    groups
}

/// What a speaker originates towards `neighbor`: its own prefixes, less
/// the host routes of `neighbor`'s own connection.
pub fn withheld_from(groups: &[Vec<IpAddr>], neighbor: IpAddr) -> Vec<IpAddr> {
    groups
        .iter()
        .find(|g| g.contains(&neighbor))
        .cloned()
        .unwrap_or_default()
}
