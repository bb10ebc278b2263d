//! Every speaker a topology implies (gateway instances, site routers,
//! Microsoft's edge routers, Route Server instances and appliances, hub
//! gateways), with each neighbour joined to the speaker at its other end:
//! a session is up when both ends name each other with the right ASNs.

use super::edge::{edge_address, edge_neighbors};
use super::hub;
use super::ipv4::{v4, v4_nets};
use super::neighbors::{instance_neighbors, peer_host_groups, router_neighbors, withheld_from};
use super::route_server;
use super::speaker::{instances_in_session, Neighbor, Speaker, SpeakerId};
use crate::policy::gateways::{served_ranges, LearnedRoutes};
use crate::policy::virtual_wan::hub_gateway_exports;
use crate::topology::{GatewayType, RouterRef, Site, Topology, MICROSOFT_EDGE_ASN};
use ipnet::Ipv4Net;
use std::net::{IpAddr, Ipv4Addr};

/// Every speaker of `topo`, with its neighbours joined to the speakers at
/// their other ends; `learned`, what the gateways learned, gives a hub's
/// VPN gateway the branches of the other hubs, and a hub's router the
/// branches it announces to its appliances.
pub(super) fn speakers(topo: &Topology, learned: &LearnedRoutes) -> Vec<Speaker> {
    let mut out: Vec<Speaker> = Vec::new();
    for (g, gw) in topo.gateways.iter_enumerated() {
        if let Some(exports) = hub_gateway_exports(topo, learned, g) {
            out.extend(hub::gateway_speakers(topo, g, exports));
            continue;
        }
        let served = v4_nets(served_ranges(topo, g));
        let groups = peer_host_groups(topo, g);
        let transit: Option<Vec<Ipv4Addr>> = route_server::express_route_transit(topo, g)
            .map(|edges| edges.into_iter().filter_map(v4).collect());
        let hosts: Vec<Ipv4Net> = groups
            .iter()
            .flatten()
            .filter_map(|a| v4(*a))
            .map(Ipv4Net::from)
            .collect();
        let configured = instance_neighbors(topo, g);
        for (i, address, neighbors) in instances_in_session(&gw.instances, &configured, gw.asn) {
            let withheld = neighbors
                .iter()
                .map(|n| {
                    let w = withheld_from(&groups, IpAddr::V4(n.address))
                        .into_iter()
                        .filter_map(v4)
                        .map(Ipv4Net::from)
                        .collect();
                    (n.address, w)
                })
                .collect();
            let mut originated = served.clone();
            originated.extend(hosts.iter().copied());
            originated.sort();
            originated.dedup();
            let id = SpeakerId::Instance {
                gateway: g,
                instance: i,
            };
            out.push(Speaker {
                originated,
                withheld,
                pass_on_learned: gw.gateway_type != GatewayType::ExpressRoute || transit.is_some(),
                reject_exact: served.clone(),
                deny_overlapping: served.clone(),
                not_handed_on: transit.clone().map(|edges| (edges.clone(), edges)),
                ..Speaker::plain(id, gw.asn, address, neighbors)
            });
        }
    }
    for (s, site) in topo.sites.iter_enumerated() {
        for (r, router) in site.routers.iter().enumerate() {
            let at = RouterRef { site: s, router: r };
            let Some(asn) = router.asn else {
                continue;
            };
            out.extend(router_speaker(topo, at, asn, site));
        }
    }
    for (c, _) in topo.circuits.iter_enumerated() {
        for link in 0..2 {
            let neighbors: Vec<Neighbor> = edge_neighbors(topo, c, link)
                .into_iter()
                .map(|n| Neighbor {
                    address: n.address,
                    local_address: n.local_address,
                    asn: n.asn,
                    shown_asn: MICROSOFT_EDGE_ASN,
                    peer: None,
                    role: Some(n.role),
                })
                .collect();
            if neighbors.is_empty() {
                continue;
            }
            let id = SpeakerId::Edge { circuit: c, link };
            let router_id = edge_address(topo, c, link);
            out.push(Speaker {
                pass_on_learned: true,
                ..Speaker::plain(id, MICROSOFT_EDGE_ASN, router_id, neighbors)
            });
        }
    }
    route_server::speakers(topo, learned, &mut out);
    join_sessions(&mut out);
    out
}

/// The speaker of router `at` of `site` (ASN `asn`), when it has a
/// session.
fn router_speaker(topo: &Topology, at: RouterRef, asn: u32, site: &Site) -> Option<Speaker> {
    let neighbors: Vec<Neighbor> = router_neighbors(topo, at)
        .into_iter()
        .filter_map(|n| Neighbor::of_router(n, asn))
        .collect();
    let router_id = neighbors.first()?.local_address;
    Some(Speaker {
        originated: v4_nets(site.address_space.iter().copied()),
        ..Speaker::plain(SpeakerId::Router(at), asn, router_id, neighbors)
    })
}

/// Joins each speaker's neighbours to the speakers at their other ends.
fn join_sessions(out: &mut [Speaker]) {
    // A session is up when each end names the other's address as its
    // neighbour, from its own address, with the ASN the other shows.
    let ends: Vec<Vec<(Ipv4Addr, Ipv4Addr, u32, u32)>> = out
        .iter()
        .map(|s| {
            s.neighbors
                .iter()
                .map(|n| (n.local_address, n.address, n.shown_asn, n.asn))
                .collect()
        })
        .collect();
    for (a, speaker) in out.iter_mut().enumerate() {
        for n in &mut speaker.neighbors {
            n.peer = ends.iter().enumerate().position(|(b, theirs)| {
                b != a
                    && theirs.iter().any(|&(local, remote, shown, expects)| {
                        local == n.address
                            && remote == n.local_address
                            && shown == n.asn
                            && expects == n.shown_asn
                    })
            });
        }
    }
}
