//! The BGP model's Route Server sessions: each instance of a Route Server
//! (ASN 65515, at its address in `RouteServerSubnet`) peers with every
//! appliance its BGP connections name, and each appliance's speaker peers
//! with both instances (eBGP multihop; "you must peer each NVA instance
//! with both instances of Route Server").
//!
//! - An instance originates the ranges of the VNets it serves (its own and
//!   the spokes using it, AS path `65515`), refuses to learn a prefix equal
//!   to or inside one of them, and passes the best route it learned from
//!   one appliance on to the others (never back, never to an appliance
//!   whose ASN is on the path, never a default route).
//! - An appliance originates its `bgp_announce` prefixes and passes
//!   nothing on.

use super::ipv4::{v4, v4_nets};
use super::neighbors::{instance_neighbors, InstanceNeighbor, RouterNeighbor};
use super::speaker::{instances_in_session, Neighbor, Speaker, SpeakerId};
use crate::policy::route_server::served_ranges;
use crate::topology::{
    GatewayIdx, GatewayType, RouteServerIdx, Topology, MICROSOFT_EDGE_ASN, ROUTE_SERVER_ASN,
    ROUTE_SERVER_MAX_ROUTES_PER_PEER,
};
use ipnet::Ipv4Net;
use std::net::IpAddr;

/// The sessions each instance of `route_server` holds: one per BGP
/// connection, in file order, then, with branch-to-branch, one with each
/// instance of each gateway of its VNet (iBGP when the gateway's ASN is
/// 65515, as Azure requires; the Route Server reflects between them).
pub fn route_server_neighbors(
    topo: &Topology,
    route_server: RouteServerIdx,
) -> Vec<InstanceNeighbor> {
    let rs = &topo.route_servers[route_server];
    let mut out: Vec<InstanceNeighbor> = rs
        .bgp_connections
        .iter()
        .map(|c| InstanceNeighbor {
            address: c.peer_ip,
            asn: c.peer_asn,
            local_as: None,
        })
        .collect();
    if rs.branch_to_branch_traffic {
        for gw in topo.gateways.iter().filter(|g| g.vnet == rs.vnet) {
            for address in &gw.instances {
                out.push(InstanceNeighbor {
                    address: *address,
                    asn: gw.asn,
                    local_as: None,
                });
            }
        }
    }
    out
}

/// For an ExpressRoute gateway beside a Route Server with
/// branch-to-branch: the addresses of Microsoft's edge routers it peers
/// with. What it learns from them goes to the Route Server (and so to the
/// VPN gateway and the appliances), never to another edge router (no
/// transit between circuits). `None` otherwise: an ExpressRoute gateway
/// passes nothing learned on.
pub fn express_route_transit(topo: &Topology, gateway: GatewayIdx) -> Option<Vec<IpAddr>> {
    let gw = &topo.gateways[gateway];
    let b2b = topo
        .route_servers
        .iter()
        .any(|rs| rs.vnet == gw.vnet && rs.branch_to_branch_traffic);
    if gw.gateway_type != GatewayType::ExpressRoute || !b2b {
        return None;
    }
    Some(
        instance_neighbors(topo, gateway)
            .into_iter()
            .filter(|n| n.asn == MICROSOFT_EDGE_ASN)
            .map(|n| n.address)
            .collect(),
    )
}

/// The sessions of appliance speaker `appliance`
/// ([`Topology::appliance_speakers`]): both instances of every Route
/// Server with a connection to one of the NIC's addresses, from that
/// address.
pub fn appliance_neighbors(topo: &Topology, appliance: usize) -> Vec<RouterNeighbor> {
    let a = &topo.appliance_speakers[appliance];
    let nic = &topo.nics[a.nic];
    let mut out = Vec::new();
    for rs in &topo.route_servers {
        for c in rs.bgp_connections.iter().filter(|c| nic.owns(c.peer_ip)) {
            for instance in &rs.instances {
                out.push(RouterNeighbor {
                    local_address: c.peer_ip,
                    address: *instance,
                    asn: ROUTE_SERVER_ASN,
                    multihop: true,
                });
            }
        }
    }
    out
}

/// The speakers of every Route Server instance and appliance of `topo`.
pub(super) fn speakers(
    topo: &Topology,
    learned: &crate::policy::learned::LearnedRoutes,
    out: &mut Vec<Speaker>,
) {
    for (r, rs) in topo.route_servers.iter_enumerated() {
        let (originated, refused) = route_server_prefixes(topo, learned, r);
        let configured = route_server_neighbors(topo, r);
        for (i, address, neighbors) in
            instances_in_session(&rs.instances, &configured, ROUTE_SERVER_ASN)
        {
            let id = SpeakerId::RouteServer {
                route_server: r,
                instance: i,
            };
            out.push(Speaker {
                originated: originated.clone(),
                pass_on_learned: true,
                reject_within: refused.clone(),
                reflector: true,
                max_prefixes: ROUTE_SERVER_MAX_ROUTES_PER_PEER,
                ..Speaker::plain(id, ROUTE_SERVER_ASN, address, neighbors)
            });
        }
    }
    for (k, a) in topo.appliance_speakers.iter().enumerate() {
        let neighbors: Vec<Neighbor> = appliance_neighbors(topo, k)
            .into_iter()
            .filter_map(|n| Neighbor::of_router(n, a.asn))
            .collect();
        let Some(router_id) = topo.nics[a.nic]
            .ip_configurations
            .first()
            .and_then(|c| v4(c.address))
        else {
            continue;
        };
        if neighbors.is_empty() {
            continue;
        }
        out.push(Speaker {
            originated: v4_nets(a.announce.iter().copied()),
            ..Speaker::plain(SpeakerId::Appliance(k), a.asn, router_id, neighbors)
        });
    }
}

/// What each instance of `route_server` originates towards the
/// appliances, and the prefixes it refuses to learn (equal or longer): the
/// ranges of the VNets it serves for both; for a virtual hub's router,
/// what the hub announces to its appliances with what the gateways
/// `learned` ([`crate::policy::virtual_wan::hub_router_exports`]), and
/// the hub's own prefix.
pub fn route_server_prefixes(
    topo: &Topology,
    learned: &crate::policy::learned::LearnedRoutes,
    route_server: RouteServerIdx,
) -> (Vec<Ipv4Net>, Vec<Ipv4Net>) {
    match topo.route_servers[route_server].hub {
        Some(hub) => (
            crate::policy::virtual_wan::hub_router_exports(topo, learned, hub),
            vec![topo.virtual_hubs[hub].address_prefix],
        ),
        None => {
            let served: Vec<Ipv4Net> = v4_nets(served_ranges(topo, route_server));
            (served.clone(), served)
        }
    }
}

/// Whether `address` is an instance of some Route Server.
pub fn is_route_server_instance(topo: &Topology, address: IpAddr) -> bool {
    topo.route_servers
        .iter()
        .any(|rs| rs.instances.contains(&address))
}
