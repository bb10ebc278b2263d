//! What Microsoft's edge routers did with a probe between two on-premises
//! sites: such a probe never enters the fabric, so the fabric's records
//! say nothing of it. The routers are asked instead, as they route now
//! (the kernel's own lookup, `ip route get`): the customer edge names the
//! link of its circuit it sends by (`msee0` or `msee1`), and that link's
//! edge router names the Global Reach link it hands the packet to (`grN`,
//! the N-th link of the file). The two circuits are the hops crossed, in
//! the words of `vnetd check`.

use crate::diagnostics::trace::site_without_route;
use crate::host::netlink::route_interface;
use crate::plan::names::msee_netns;
use crate::topology::{Endpoint, SiteIdx, Topology};
use std::net::IpAddr;

/// The circuits a probe from `from` to `to` crosses at Microsoft's edge:
/// its own and the one Global Reach joins it to; empty when the routers
/// do not send it over Global Reach.
pub fn global_reach_hops(topology: &Topology, from: Endpoint, to: IpAddr) -> Vec<String> {
    let (Endpoint::SiteHost { site, .. }, IpAddr::V4(to)) = (from, to) else {
        return Vec::new();
    };
    let Some(circuit) = topology.circuit_of_site(site) else {
        return Vec::new();
    };
    let router = &topology.sites[site].first_router().netns;
    let link = match route_interface(router, to).ok().flatten().as_deref() {
        Some("msee0") => 0,
        Some("msee1") => 1,
        _ => return Vec::new(),
    };
    let edge = msee_netns(topology, &topology.circuits[circuit], link);
    let reach = route_interface(&edge, to)
        .ok()
        .flatten()
        .and_then(|dev| dev.strip_prefix("gr")?.parse::<usize>().ok())
        .and_then(|n| topology.global_reach.get(n))
        .and_then(|reach| reach.other(circuit));
    match reach {
        Some(far) => vec![
            topology.circuits[circuit].name.clone(),
            topology.circuits[far].name.clone(),
        ],
        None => Vec::new(),
    }
}

/// Why a site's routers dropped a packet for `to`: none of them has a
/// route for it (each kernel's own lookup finds none), `route_none` at
/// `site <name>`, in the words of `vnetd check`. `None` when one has, or
/// they cannot be asked (a site on another machine, an IPv6 address).
pub fn site_router_drop(
    topology: &Topology,
    site: SiteIdx,
    to: IpAddr,
) -> Option<(String, String)> {
    let IpAddr::V4(to) = to else {
        return None;
    };
    let s = &topology.sites[site];
    let none = (s.routers.iter()).all(|r| matches!(route_interface(&r.netns, to), Ok(None)));
    none.then(|| site_without_route(&s.name))
}
