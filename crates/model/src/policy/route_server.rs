//! Azure Route Server's routes (`docs/src/azure-behaviour.md`, "Azure
//! Route Server"):
//!
//! - Which VNets it programs ([`served_vnets`]): none for a virtual hub's
//!   router (`policy::virtual_wan` gives what it learns to the hub's
//!   tables); else its own, and each VNet
//!   peered with it whose link uses the remote VNet's gateways ("Use the
//!   remote virtual network's gateway or Route Server") while the link held
//!   in the Route Server's VNet allows gateway transit.
//! - What it programs there ([`route_server_rows`]): for every prefix its
//!   instances learned from the appliances, the routes of the shortest AS
//!   path, one next hop per appliance that announced it so (ECMP: "Azure
//!   Route Server programs multiple copies of the route, each with a
//!   different next hop"); a longer AS path is not programmed. Listed as
//!   Azure lists them: source and next hop type `VirtualNetworkGateway`,
//!   the appliances' addresses as next hops. A prefix equal to or inside
//!   the Route Server's VNet or a served spoke is refused when learned
//!   (the instances' import policy), and the VNet and peering system
//!   routes beat more specific learned routes anyway (`routes.rs`).
//! - The learned routes are the one input that does not come from the
//!   file: a running lab's Route Server speakers gather them, and
//!   [`crate::policy::bgp::BgpModel`] predicts them offline.

use super::learned::LearnedRoutes;
use crate::topology::{RouteServerIdx, SubnetRef, Topology, VnetIdx};
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The VNets whose subnets receive `route_server`'s routes: its own, then
/// the spokes that use it through gateway transit, in VNet order.
pub fn served_vnets(topo: &Topology, route_server: RouteServerIdx) -> Vec<VnetIdx> {
    let rs = &topo.route_servers[route_server];
    // A virtual hub's router: the hub's tables carry what it learns.
    if rs.hub.is_some() {
        return Vec::new();
    }
    let home = rs.vnet;
    let mut vnets = vec![home];
    for v in topo.vnets.keys() {
        if v != home && uses_remote(topo, v, home) {
            vnets.push(v);
        }
    }
    vnets
}

/// Whether `vnet` uses the gateways (or Route Server) of `hub`: its link to
/// the hub says so, and the hub's link back allows gateway transit.
fn uses_remote(topo: &Topology, vnet: VnetIdx, hub: VnetIdx) -> bool {
    topo.peerings
        .iter()
        .any(|p| p.vnet == vnet && p.remote == hub && p.flags.use_remote_gateways)
        && topo
            .peering_link(hub, vnet)
            .is_some_and(|back| back.flags.allow_gateway_transit)
}

/// The Route Server whose routes `vnet` receives, if any.
pub fn serving_route_server(topo: &Topology, vnet: VnetIdx) -> Option<RouteServerIdx> {
    topo.route_servers
        .iter_enumerated()
        .find(|(r, _)| served_vnets(topo, *r).contains(&vnet))
        .map(|(r, _)| r)
}

/// The address ranges of the VNets `route_server` programs: what its
/// instances originate towards the appliances, and what they refuse to
/// learn (equal or longer).
pub fn served_ranges(topo: &Topology, route_server: RouteServerIdx) -> Vec<IpNet> {
    served_vnets(topo, route_server)
        .into_iter()
        .flat_map(|v| topo.vnets[v].address_space.iter().map(|r| r.trunc()))
        .collect()
}

/// One prefix a Route Server programs: the appliances it leads to (ECMP)
/// and the length of the AS path they announced it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteServerRow {
    pub prefix: IpNet,
    pub route_server: RouteServerIdx,
    /// The appliances' addresses (the BGP next hops), in address order.
    pub next_hops: Vec<IpAddr>,
    pub as_path_len: usize,
}

/// What `route_server` programs, from what its instances learned from
/// the appliances (what the VNet's gateways send it with branch-to-branch
/// is theirs to program): per prefix, the next hops of the shortest AS
/// path, in prefix order.
pub fn programmed(
    topo: &Topology,
    learned: &LearnedRoutes,
    route_server: RouteServerIdx,
) -> Vec<RouteServerRow> {
    let rs = &topo.route_servers[route_server];
    let mut best: BTreeMap<IpNet, (usize, Vec<IpAddr>)> = BTreeMap::new();
    let appliance = |peer: IpAddr| rs.bgp_connections.iter().any(|c| c.peer_ip == peer);
    for instance in 0..rs.instances.len() {
        for r in learned
            .of(&rs.name, instance)
            .iter()
            .filter(|r| appliance(r.peer))
        {
            let len = r.as_path.len();
            let entry = best.entry(r.prefix.trunc()).or_insert((len, Vec::new()));
            if len < entry.0 {
                *entry = (len, Vec::new());
            }
            if len == entry.0 && !entry.1.contains(&r.next_hop) {
                entry.1.push(r.next_hop);
            }
        }
    }
    best.into_iter()
        .map(|(prefix, (as_path_len, mut next_hops))| {
            next_hops.sort();
            RouteServerRow {
                prefix,
                route_server,
                next_hops,
                as_path_len,
            }
        })
        .collect()
}

/// The Route Server rows `subnet` receives, unless its route table turns
/// gateway route propagation off (which holds back Route Server's routes
/// too).
pub fn route_server_rows(
    topo: &Topology,
    learned: &LearnedRoutes,
    subnet: SubnetRef,
) -> Vec<RouteServerRow> {
    match serving_route_server(topo, subnet.vnet) {
        Some(r) if topo.propagates_gateway_routes(subnet) => programmed(topo, learned, r),
        _ => Vec::new(),
    }
}

/// The addresses an appliance speaker answers for besides its NIC's: the
/// first address of each IPv4 prefix it announces (but `0.0.0.0/0`), which
/// the lab puts on its loopback so that the network it stands for
/// answers. Empty for a NIC without a speaker.
pub fn appliance_loopback_addresses(topo: &Topology, nic: crate::topology::NicIdx) -> Vec<IpAddr> {
    topo.appliance_speakers
        .iter()
        .filter(|a| a.nic == nic)
        .flat_map(|a| a.announce.iter())
        .filter_map(|prefix| match prefix {
            IpNet::V4(p) if p.prefix_len() > 0 => p.trunc().hosts().next().map(IpAddr::V4),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::learned::{BgpOrigin, LearnedRoute};
    use crate::topology::{parse_str, ByName};

    fn route(prefix: &str, peer: &str, as_path: &[u32]) -> LearnedRoute {
        LearnedRoute {
            prefix: prefix.parse().unwrap(),
            peer: peer.parse().unwrap(),
            next_hop: peer.parse().unwrap(),
            as_path: as_path.to_vec(),
            origin: BgpOrigin::Igp,
        }
    }

    #[test]
    fn the_shortest_as_path_is_programmed_once_per_appliance() {
        let text = include_str!("../../../../config/route-server.yaml");
        let topo = parse_str("route-server.yaml", text).unwrap().topology;
        let mut learned = LearnedRoutes::default();
        let instance = vec![
            route("10.100.0.0/16", "10.0.2.4", &[65001]),
            route("10.100.0.0/16", "10.0.2.5", &[65001, 65001]),
            route("10.200.0.0/16", "10.0.2.4", &[65001]),
            route("10.200.0.0/16", "10.0.2.5", &[65002]),
            // Not an appliance's: a gateway's, with branch-to-branch.
            route("10.250.0.0/16", "10.0.255.4", &[65050]),
        ];
        learned
            .gateways
            .insert("hub-rs".into(), vec![instance.clone(), instance]);
        let rows: Vec<(String, Vec<String>, usize)> =
            programmed(&topo, &learned, RouteServerIdx::new(0))
                .into_iter()
                .map(|r| {
                    let hops = r.next_hops.iter().map(ToString::to_string).collect();
                    (r.prefix.to_string(), hops, r.as_path_len)
                })
                .collect();
        assert_eq!(
            rows,
            [
                ("10.100.0.0/16".into(), vec!["10.0.2.4".into()], 1),
                (
                    "10.200.0.0/16".into(),
                    vec!["10.0.2.4".into(), "10.0.2.5".into()],
                    1
                ),
            ]
        );
        // The spoke using the hub's gateways gets them; a VNet of its own
        // would not.
        let spoke = topo.vnets.by_name("spoke1").unwrap();
        assert_eq!(
            serving_route_server(&topo, spoke),
            Some(RouteServerIdx::new(0))
        );
    }
}
