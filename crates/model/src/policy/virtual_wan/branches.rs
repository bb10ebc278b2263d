//! A virtual hub's branches: what its VPN connections give the hub's
//! route tables, and what the hub's VPN gateway advertises to them
//! (`docs/src/azure-behaviour.md`, "Virtual WAN", "Branches"):
//!
//! - A VPN connection gives the hub the prefixes its branch's devices
//!   announce to the hub's VPN gateway over BGP (what the gateway's
//!   instances learned, with the branch's AS path), or, on a link without
//!   BGP, the VPN site's `address_cidrs`. In its own hub the route's next
//!   hop is the connection (`VPN_S2S_Gateway`); in another hub of a
//!   Standard WAN it is `Remote Hub`, with `65520-65520` before the
//!   branch's path; 0.0.0.0/0 never leaves its hub.
//! - The hub's VPN gateway advertises to its branches what the table
//!   branches are associated with (`defaultRouteTable`) holds: the VNets
//!   of its hub (which the branch sees with path `65515`), the VNets and
//!   branches of the other hubs (`65515 65520 65520 [...]`, ORIGIN EGP),
//!   and the hub's own prefix; never another hub's prefix. With routing
//!   intent for private traffic the table holds only the aggregates, and
//!   the branch is sent what the firewall reaches instead: every VNet and
//!   branch of the WAN. With routing intent for Internet traffic, a
//!   connection with `internet_security_enabled` is sent 0.0.0.0/0 too.
//!   Another branch's routes (of this hub or another) only with
//!   `allow_branch_to_branch_traffic`.

use super::{hub_table_routes, HubHop, HubOrigin, HubRoute};
use crate::policy::gateways::{accepted, served_ranges};
use crate::policy::learned::LearnedRoutes;
use crate::topology::model::*;
use ipnet::{IpNet, Ipv4Net};
use std::net::IpAddr;

/// The prefixes the branch of VPN connection `connection` of `hub` gives
/// the hub, each with the branch's AS path (empty for `address_cidrs`):
/// the shorter path of the instances' and links' where several carry one.
pub fn branch_routes(
    topo: &Topology,
    learned: &LearnedRoutes,
    hub: VirtualHubIdx,
    connection: usize,
) -> Vec<(IpNet, Vec<u32>)> {
    let h = &topo.virtual_hubs[hub];
    let (Some(gateway), Some(c)) = (h.vpn_gateway, h.vpn_connections.get(connection)) else {
        return Vec::new();
    };
    let gw = &topo.gateways[gateway];
    let served = served_ranges(topo, gateway);
    let mut out: Vec<(IpNet, Vec<u32>)> = Vec::new();
    let mut offer = |prefix: IpNet, path: &[u32]| keep_shortest(&mut out, prefix, path);
    for link in &c.links {
        let lng = &topo.local_gateways[link.local_gateway];
        for prefix in &lng.address_space {
            offer(*prefix, &[]);
        }
        let Some(bgp) = lng.bgp.filter(|_| link.bgp_enabled) else {
            continue;
        };
        for i in 0..gw.instances.len() {
            for r in accepted(learned.of(&gw.name, i), bgp.peering_address, &served) {
                offer(r.prefix, &r.as_path);
            }
        }
    }
    out
}

/// Adds IPv4 `prefix` with `path` to `out`, or shortens the path held for
/// it: where several instances, links or edges carry one prefix, the hub
/// takes the shorter path.
pub(super) fn keep_shortest(out: &mut Vec<(IpNet, Vec<u32>)>, prefix: IpNet, path: &[u32]) {
    let prefix = prefix.trunc();
    if !matches!(prefix, IpNet::V4(_)) {
        return;
    }
    match out.iter_mut().find(|(p, _)| *p == prefix) {
        Some(held) if path.len() < held.1.len() => held.1 = path.to_vec(),
        Some(_) => {}
        None => out.push((prefix, path.to_vec())),
    }
}

/// The routes VPN connection `connection` of hub `from` offers to a table
/// of hub `to` (the same hub, or another of a Standard WAN).
pub(super) fn branch_candidates(
    topo: &Topology,
    learned: &LearnedRoutes,
    (to, from): (VirtualHubIdx, VirtualHubIdx),
    connection: usize,
) -> Vec<HubRoute> {
    learned_candidates(
        branch_routes(topo, learned, from, connection),
        (to, from),
        (
            HubHop::VpnGateway {
                hub: to,
                connection,
            },
            HubOrigin::VpnConnection {
                hub: to,
                connection,
            },
        ),
        HubHop::RemoteBranch {
            hub: from,
            connection,
        },
    )
}

/// What a gateway connection of hub `from` learned (`routes`: prefixes
/// and their paths) offers to a table of hub `to`: in its own hub as
/// `local` (hop and origin), with the path as learned; through another
/// hub as `remote`, with `65520-65520` before the path, and never
/// 0.0.0.0/0.
pub(super) fn learned_candidates(
    routes: Vec<(IpNet, Vec<u32>)>,
    (to, from): (VirtualHubIdx, VirtualHubIdx),
    (hop, origin): (HubHop, HubOrigin),
    remote: HubHop,
) -> Vec<HubRoute> {
    let local = to == from;
    let default = IpNet::V4(Ipv4Net::default());
    routes
        .into_iter()
        .filter(|(prefix, _)| local || *prefix != default)
        .map(|(prefix, path)| {
            let (hop, origin, as_path) = if local {
                (hop, origin, path)
            } else {
                let mut as_path = vec![INTER_HUB_ASN, INTER_HUB_ASN];
                as_path.extend(path);
                (remote, HubOrigin::RemoteHub(from), as_path)
            };
            HubRoute {
                prefix,
                hop,
                origin,
                as_path,
                is_static: false,
                name: None,
            }
        })
        .collect()
}

/// The hub whose VPN or ExpressRoute gateway `gateway` is.
pub fn hub_of_gateway(topo: &Topology, gateway: GatewayIdx) -> Option<VirtualHubIdx> {
    (topo.virtual_hubs.iter_enumerated()).find_map(|(h, hub)| {
        (hub.vpn_gateway == Some(gateway) || hub.express_route_gateway == Some(gateway))
            .then_some(h)
    })
}

/// A route a hub's VPN gateway originates towards its branches: the path
/// after the gateway's own ASN (which it puts first when it sends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchAdvertisement {
    pub prefix: Ipv4Net,
    pub as_path: Vec<u32>,
    /// ORIGIN EGP, as the routes of other hubs reach a branch.
    pub egp: bool,
}

/// What a hub's VPN gateway sends its branches beyond what it passes on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HubGatewayExports {
    /// What it originates, in the order of the hub's table.
    pub originated: Vec<BranchAdvertisement>,
    /// The branch peers 0.0.0.0/0 is not sent to (their connection lacks
    /// `internet_security_enabled`).
    pub default_withheld_from: Vec<IpAddr>,
    /// Whether it passes a branch's routes on to the others of its hub
    /// (`allow_branch_to_branch_traffic`).
    pub pass_on_learned: bool,
}

/// The BGP peers of VPN connection `c`: its BGP links' devices.
pub fn connection_peers(topo: &Topology, c: &HubVpnConnection) -> Vec<IpAddr> {
    (c.links.iter())
        .filter(|l| l.bgp_enabled)
        .filter_map(|l| topo.local_gateways[l.local_gateway].bgp)
        .map(|b| b.peering_address)
        .collect()
}

/// What the VPN or ExpressRoute gateway `gateway` of a hub advertises to
/// its branches or circuits, by the module's rules; `None` for a gateway
/// of no hub. A VPN gateway passes on a circuit's routes (its own hub's or
/// another's) as a branch's, with branch-to-branch traffic; an
/// ExpressRoute gateway sends the hub's VPN branches (with
/// branch-to-branch traffic) as originated routes, with their paths, and
/// never a circuit's route nor anything it learned.
pub fn hub_gateway_exports(
    topo: &Topology,
    learned: &LearnedRoutes,
    gateway: GatewayIdx,
) -> Option<HubGatewayExports> {
    let hub = hub_of_gateway(topo, gateway)?;
    let h = &topo.virtual_hubs[hub];
    let express_route = h.express_route_gateway == Some(gateway);
    let branch_to_branch = topo.virtual_wans[h.wan].branch_to_branch;
    let intent = h.routing_intent.as_ref();
    let routes = if intent.is_some_and(|i| i.private) {
        super::firewall_routes(topo, learned, hub)
    } else {
        hub_table_routes(topo, learned, hub, 0)
    };
    let mut originated = vec![BranchAdvertisement {
        prefix: h.address_prefix,
        as_path: Vec::new(),
        egp: false,
    }];
    for r in routes {
        let IpNet::V4(prefix) = r.prefix else {
            continue;
        };
        let (as_path, egp) = match r.hop {
            // A table's static route to a connection or to the hub's
            // firewall too: the branches reach an NVA's spokes, or VNets
            // through the firewall, by it (Microsoft's NVA scenario, and
            // its scenario of isolated VNets and branches). A hub with
            // private routing intent offers its connections' ranges
            // instead (`firewall_routes` above).
            HubHop::Connection { .. } | HubHop::Firewall { .. } => (Vec::new(), false),
            HubHop::RemoteHub { .. } => (r.as_path, true),
            HubHop::RemoteBranch { .. } if branch_to_branch => (r.as_path, true),
            HubHop::VpnGateway { .. } if branch_to_branch && express_route => (r.as_path, false),
            HubHop::ExpressRouteGateway { .. } if branch_to_branch && !express_route => {
                (r.as_path, false)
            }
            HubHop::RemoteCircuit { .. } if branch_to_branch && !express_route => (r.as_path, true),
            // An appliance's routes reach branches only with
            // branch-to-branch ("Branch-to-branch must be on for the NVA
            // to exchange routes with VPN/ER sites").
            HubHop::BgpConnection { .. } if branch_to_branch => (r.as_path, false),
            HubHop::RemoteBgp { .. } if branch_to_branch => (r.as_path, true),
            _ => continue,
        };
        if !originated.iter().any(|a| a.prefix == prefix) {
            originated.push(BranchAdvertisement {
                prefix,
                as_path,
                egp,
            });
        }
    }
    let mut default_withheld_from = Vec::new();
    if express_route {
        let secured = intent.is_some_and(|i| i.internet)
            && (h.express_route_connections.iter()).any(|c| c.internet_security);
        if secured {
            originated.push(BranchAdvertisement {
                prefix: Ipv4Net::default(),
                as_path: Vec::new(),
                egp: false,
            });
        }
        return Some(HubGatewayExports {
            originated,
            default_withheld_from,
            pass_on_learned: false,
        });
    }
    if intent.is_some_and(|i| i.internet) && h.vpn_connections.iter().any(|c| c.internet_security) {
        originated.push(BranchAdvertisement {
            prefix: Ipv4Net::default(),
            as_path: Vec::new(),
            egp: false,
        });
        for c in h.vpn_connections.iter().filter(|c| !c.internet_security) {
            default_withheld_from.extend(connection_peers(topo, c));
        }
    }
    Some(HubGatewayExports {
        originated,
        default_withheld_from,
        pass_on_learned: branch_to_branch,
    })
}

/// What a device on a connection of `gateway` without BGP routes to the
/// gateway (what an administrator configures on a policy-free VPN
/// device): for a hub's VPN gateway, what the hub advertises to its
/// branches but 0.0.0.0/0 (the VNets of the WAN and the hub's prefix); for
/// a VNet's gateway, the ranges of the VNets it serves.
pub fn static_device_ranges(topo: &Topology, gateway: GatewayIdx) -> Vec<IpNet> {
    match hub_gateway_exports(topo, &LearnedRoutes::default(), gateway) {
        Some(exports) => (exports.originated.iter())
            .filter(|a| a.prefix.prefix_len() > 0)
            .map(|a| IpNet::V4(a.prefix))
            .collect(),
        None => served_ranges(topo, gateway),
    }
}
