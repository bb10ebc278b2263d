//! What a virtual hub announces, read from its route tables: what its
//! VPN or ExpressRoute gateway advertises to its branches or circuits,
//! and what its router announces to the appliances peering with it
//! (`docs/src/azure-behaviour.md`, "Virtual WAN", "Branches"):
//!
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
//! - What the router announces to the appliance: the hub's prefix, and the
//!   prefixes of the tables the appliances' connections are associated
//!   with (0.0.0.0/0 where the connection propagates the default route):
//!   VNets, static routes, routing intent, and with branch-to-branch
//!   traffic the branches' and circuits' routes ("NVA in virtual networks
//!   connected to a virtual hub can learn virtual hub gateway … routes";
//!   "Branch-to-branch must be on for the NVA to exchange routes with
//!   VPN/ER sites"). They carry the router's ASN alone: Azure documents no
//!   longer path towards an appliance (vnetd's choice, in the book).

use super::route::HubHop;
use super::table::{firewall_routes, hub_table_routes};
use crate::policy::gateways::served_ranges;
use crate::policy::learned::LearnedRoutes;
use crate::topology::model::*;
use ipnet::{IpNet, Ipv4Net};
use std::net::IpAddr;

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
        firewall_routes(topo, learned, hub)
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

/// What the router of `hub` announces to its appliances, in prefix order:
/// its own prefix and the routes of the tables their connections are
/// associated with, by the module's rules; `learned` is what the hubs'
/// gateways learned from their branches and circuits.
pub fn hub_router_exports(
    topo: &Topology,
    learned: &LearnedRoutes,
    hub: VirtualHubIdx,
) -> Vec<Ipv4Net> {
    let h = &topo.virtual_hubs[hub];
    let branch_to_branch = topo.virtual_wans[h.wan].branch_to_branch;
    let mut out = vec![h.address_prefix];
    for b in &h.bgp_connections {
        let c = &h.connections[b.connection];
        let rows = hub_table_routes(topo, learned, hub, c.associated);
        for r in rows {
            let IpNet::V4(prefix) = r.prefix else {
                continue;
            };
            if prefix.prefix_len() == 0 && !c.internet_security {
                continue;
            }
            let branch = matches!(
                r.hop,
                HubHop::VpnGateway { .. }
                    | HubHop::RemoteBranch { .. }
                    | HubHop::ExpressRouteGateway { .. }
                    | HubHop::RemoteCircuit { .. }
            );
            // What this hub's appliances announced, the router's speakers
            // pass on themselves (never back to the appliance it came from).
            let appliance = matches!(r.hop, HubHop::BgpConnection { .. });
            if (branch && !branch_to_branch) || appliance {
                continue;
            }
            out.push(prefix);
        }
    }
    out.sort();
    out.dedup();
    out
}
