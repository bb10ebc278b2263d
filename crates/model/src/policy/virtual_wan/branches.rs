//! A virtual hub's branches: what its VPN connections give the hub's
//! route tables (`docs/src/azure-behaviour.md`, "Virtual WAN", "Branches"):
//!
//! - A VPN connection gives the hub the prefixes its branch's devices
//!   announce to the hub's VPN gateway over BGP (what the gateway's
//!   instances learned, with the branch's AS path), or, on a link without
//!   BGP, the VPN site's `address_cidrs`. In its own hub the route's next
//!   hop is the connection (`VPN_S2S_Gateway`); in another hub of a
//!   Standard WAN it is `Remote Hub`, with `65520-65520` before the
//!   branch's path; 0.0.0.0/0 never leaves its hub.

use super::route::{HubHop, HubOrigin, HubRoute};
use crate::policy::gateways::{accepted, served_ranges};
use crate::policy::learned::LearnedRoutes;
use crate::topology::model::*;
use ipnet::{IpNet, Ipv4Net};

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
