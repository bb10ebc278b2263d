//! What a topology asks of the hybrid part, in the host layer's terms:
//! sites, the gateway instances' BGP sessions, the site routers' specs, and
//! which routing daemons a lab needs.

use crate::host::routing::gobgp::GobgpNeighbor;
use crate::host::routing::{BgpNeighbor, BgpRouterSpec, ProgramSearch, Suite};
use crate::host::site::{SiteHostSpec, SiteSpec};
/// The address, when it is IPv4, as the BGP model reads it.
pub(super) use crate::policy::bgp::v4;
use crate::policy::bgp::{
    appliance_neighbors, instance_neighbors, peer_host_groups, route_server_neighbors,
    router_neighbors, router_own_address, site_peer_neighbors, RouterNeighbor,
};
use crate::policy::gateways::served_ranges;
use crate::topology::resolve::host_link_prefix_len;
use crate::topology::{
    BgpSpeaker, Diagnostic, GatewayIdx, RouteServerIdx, RouterRef, Severity, Site, SiteIdx,
    Topology,
};
use ipnet::{IpNet, Ipv4Net};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

/// Where the routing daemons keep their configuration, sockets and logs,
/// one directory per namespace. Not under `/run/vnetd`, which only root may
/// enter: FRR's daemons run as the `frr` user.
pub const RUN_DIR: &str = "/run/vnetd-bgp";

/// A site as the host layer builds it: its routers' namespaces, each host
/// on a link of its own to each router, with the prefix of the site range
/// that holds it (at most a /24).
pub(super) fn site_spec(site: &Site) -> SiteSpec {
    SiteSpec {
        routers: site.routers.iter().map(|r| r.netns.clone()).collect(),
        hosts: site
            .hosts
            .iter()
            .map(|h| {
                let range = site.address_space.iter().find(|r| r.contains(&h.address));
                let len = host_link_prefix_len(h.address, range);
                SiteHostSpec {
                    netns: h.netns.clone(),
                    address: IpNet::new(h.address, len).expect("a valid prefix length"),
                    resolv_conf: (!h.dns_servers.is_empty()).then(|| {
                        let servers: String = (h.dns_servers.iter())
                            .map(|s| format!("nameserver {s}\n"))
                            .collect();
                        format!("# vnetd: the DNS servers of host {}\n{servers}", h.name)
                    }),
                }
            })
            .collect(),
    }
}

pub(super) fn v4_nets(nets: impl IntoIterator<Item = IpNet>) -> Vec<Ipv4Net> {
    nets.into_iter()
        .filter_map(|n| match n {
            IpNet::V4(n) => Some(n),
            IpNet::V6(_) => None,
        })
        .collect()
}

/// The sessions each instance of `gateway` holds, as gobgpd neighbours:
/// [`instance_neighbors`], the IPv4 ones.
pub(super) fn gobgp_neighbors(topo: &Topology, gateway: GatewayIdx) -> Vec<GobgpNeighbor> {
    instance_neighbors(topo, gateway)
        .into_iter()
        .filter_map(|n| {
            let mut neighbor = GobgpNeighbor::new(v4(n.address)?, n.asn, true);
            neighbor.local_as = n.local_as;
            Some(neighbor)
        })
        .collect()
}

/// The /32s of `addresses`, the IPv4 ones.
pub(super) fn host_routes(addresses: &[IpAddr]) -> Vec<Ipv4Net> {
    addresses
        .iter()
        .filter_map(|a| v4(*a))
        .map(Ipv4Net::from)
        .collect()
}

/// What every instance of `gateway` originates: the served VNets' ranges
/// and the host routes of its BGP peers ([`peer_host_groups`]).
pub(super) fn originated_by(topo: &Topology, gateway: GatewayIdx) -> Vec<Ipv4Net> {
    let mut originated = v4_nets(served_ranges(topo, gateway));
    originated.extend(host_routes(&peer_host_groups(topo, gateway).concat()));
    originated
}

/// Whether instance `instance` of `gateway` runs a BGP speaker: it has an
/// IPv4 address and at least one session.
fn instance_speaks_bgp(topo: &Topology, gateway: GatewayIdx, instance: usize) -> bool {
    let gw = &topo.gateways[gateway];
    gw.instances.get(instance).copied().and_then(v4).is_some()
        && !gobgp_neighbors(topo, gateway).is_empty()
}

/// The IPv4 sessions of a BIRD or FRR router, with its router ID: its
/// address on the first. `pass_on` marks routers of the same network.
fn bgp_neighbors(
    sessions: Vec<RouterNeighbor>,
    pass_on: bool,
) -> (Vec<BgpNeighbor>, Option<Ipv4Addr>) {
    let mut neighbors = Vec::new();
    let mut router_id = None;
    for n in sessions {
        let (Some(local), Some(peer)) = (v4(n.local_address), v4(n.address)) else {
            continue;
        };
        router_id.get_or_insert(local);
        neighbors.push(BgpNeighbor {
            address: peer,
            asn: n.asn,
            local_address: Some(local),
            multihop: n.multihop,
            pass_on,
        });
    }
    (neighbors, router_id)
}

/// The BGP daemon of router `at` of a site, when it runs one: a
/// `bgp_speaker`, an ASN and at least one BGP session to a gateway
/// instance or a circuit's edge ([`router_neighbors`], the IPv4 ones),
/// and one with each other router of its site that has one
/// ([`site_peer_neighbors`]).
pub(super) fn site_router_spec(topo: &Topology, at: RouterRef) -> Option<BgpRouterSpec> {
    let router = topo.router(at);
    let asn = router.asn?;
    let (mut neighbors, router_id) = bgp_neighbors(router_neighbors(topo, at), false);
    let router_id = router_id?;
    neighbors.extend(bgp_neighbors(site_peer_neighbors(topo, at), true).0);
    let site = &topo.sites[at.site];
    Some(BgpRouterSpec {
        netns: router.netns.clone(),
        asn,
        router_id,
        announce: v4_nets(site.address_space.iter().copied()),
        neighbors,
        install_learned: true,
        run_dir: PathBuf::from(RUN_DIR).join(&router.netns),
    })
}

/// The links between the routers of site `site` that carry a session
/// ([`site_peer_neighbors`]): each pair once, as (router, its address,
/// other router, its address), the first the lower index.
pub(super) fn site_peer_links(
    topo: &Topology,
    site: SiteIdx,
) -> Vec<(usize, Ipv4Addr, usize, Ipv4Addr)> {
    let mut links = Vec::new();
    for (r, _) in topo.sites[site].routers.iter().enumerate() {
        let at = RouterRef { site, router: r };
        let Some(own) = router_own_address(topo, at).and_then(v4) else {
            continue;
        };
        for (other, _) in topo.sites[site].routers.iter().enumerate().skip(r + 1) {
            let peer = RouterRef {
                site,
                router: other,
            };
            let Some(theirs) = router_own_address(topo, peer).and_then(v4) else {
                continue;
            };
            let speaks = |at: RouterRef| {
                let router = topo.router(at);
                router.bgp_speaker != BgpSpeaker::None && router.asn.is_some()
            };
            if own != theirs && speaks(at) && speaks(peer) {
                links.push((r, own, other, theirs));
            }
        }
    }
    links
}

/// The BGP daemon of appliance speaker `appliance`
/// ([`Topology::appliance_speakers`]), when it has a session: in the NIC's
/// namespace, announcing its `bgp_announce` prefixes to both instances of
/// each Route Server that peers with it (eBGP multihop).
pub(super) fn appliance_router_spec(topo: &Topology, appliance: usize) -> Option<BgpRouterSpec> {
    let a = &topo.appliance_speakers[appliance];
    let nic = &topo.nics[a.nic];
    let (neighbors, router_id) = bgp_neighbors(appliance_neighbors(topo, appliance), false);
    Some(BgpRouterSpec {
        netns: nic.netns.clone(),
        asn: a.asn,
        router_id: router_id?,
        announce: v4_nets(a.announce.iter().copied()),
        neighbors,
        // The appliance's NIC routes through the fabric: what it learns
        // stays in its daemon (a route to the VNets through a Route Server
        // instance would otherwise take the session's own path away).
        install_learned: false,
        run_dir: PathBuf::from(RUN_DIR).join(&nic.netns),
    })
}

/// Whether appliance speaker `appliance` runs on this machine.
pub(super) fn appliance_is_local(topo: &Topology, appliance: usize) -> bool {
    let nic = topo.appliance_speakers[appliance].nic;
    topo.placement.is_local(topo.nic_host(nic))
}

/// Whether Route Server `r`'s instances run on this machine.
pub(super) fn route_server_is_local(topo: &Topology, r: RouteServerIdx) -> bool {
    topo.placement
        .is_local(topo.placement.vnet_host(topo.route_servers[r].vnet))
}

/// A routing daemon a lab runs, and the first entry of its file that
/// needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingNeed {
    pub suite: Suite,
    pub line: usize,
    /// The entry, as a key path (`virtual_network_gateways[hub-vpngw]`).
    pub key: String,
}

/// The routing daemons `topo`'s lab runs, each once, with the first entry
/// that needs it: gobgpd for gateway instances with BGP sessions and for
/// circuits' edge routers, BIRD or FRR for site routers that speak BGP.
pub fn routing_needs(topo: &Topology) -> Vec<RoutingNeed> {
    let mut needs: Vec<RoutingNeed> = Vec::new();
    let mut add = |suite: Suite, line: usize, key: String| {
        if !needs.iter().any(|n| n.suite == suite) {
            needs.push(RoutingNeed { suite, line, key });
        }
    };
    for (g, gw) in topo.gateways.iter_enumerated() {
        let speaks = (0..gw.instances.len()).any(|i| instance_speaks_bgp(topo, g, i));
        if speaks && topo.gateway_is_local(g) {
            add(
                Suite::Gobgp,
                gw.line,
                format!("virtual_network_gateways[{}]", gw.name),
            );
        }
    }
    // Microsoft's edge routers of every circuit run gobgpd.
    let local_circuit = (topo.circuits.iter_enumerated()).find(|(c, _)| topo.circuit_is_local(*c));
    if let Some((_, circuit)) = local_circuit {
        add(
            Suite::Gobgp,
            circuit.line,
            format!("express_route_circuits[{}]", circuit.name),
        );
    }
    for (r, rs) in topo.route_servers.iter_enumerated() {
        if route_server_is_local(topo, r) && !route_server_neighbors(topo, r).is_empty() {
            add(Suite::Gobgp, rs.line, format!("route_servers[{}]", rs.name));
        }
    }
    for (k, a) in topo.appliance_speakers.iter().enumerate() {
        let suite = match a.speaker {
            BgpSpeaker::Bird => Suite::Bird,
            BgpSpeaker::Frr => Suite::Frr,
            BgpSpeaker::None => continue,
        };
        if appliance_is_local(topo, k) && appliance_router_spec(topo, k).is_some() {
            let nic = &topo.nics[a.nic].name;
            add(
                suite,
                a.line,
                format!("network_interfaces[{nic}].bgp_speaker"),
            );
        }
    }
    for (s, site) in topo.sites.iter_enumerated() {
        if !topo.site_is_local(s) {
            continue;
        }
        for (r, router) in site.routers.iter().enumerate() {
            let suite = match router.bgp_speaker {
                BgpSpeaker::Bird => Suite::Bird,
                BgpSpeaker::Frr => Suite::Frr,
                BgpSpeaker::None => continue,
            };
            if site_router_spec(topo, RouterRef { site: s, router: r }).is_some() {
                // A site's one router is named at the site's line.
                let (line, key) = if router.label == site.name {
                    let key = format!("on_premises_sites[{}].router.bgp_speaker", site.name);
                    (site.line, key)
                } else {
                    let key = format!(
                        "on_premises_sites[{}].routers[{}].bgp_speaker",
                        site.name, router.name
                    );
                    (router.line, key)
                };
                add(suite, line, key);
            }
        }
    }
    needs.sort_by_key(|n| n.line);
    needs
}

/// The routing daemons `topo`'s lab runs whose programs `search` does not
/// find: an error for each, at the first entry that needs it, naming the
/// Debian package to install.
pub fn missing_routing(topo: &Topology, search: &ProgramSearch) -> Vec<Diagnostic> {
    routing_needs(topo)
        .into_iter()
        .filter_map(|need| {
            let missing = search.missing(need.suite);
            if missing.is_empty() {
                return None;
            }
            Some(Diagnostic {
                file: topo.source.clone(),
                line: need.line,
                severity: Severity::Error,
                key: need.key,
                message: format!(
                    "needs {}, which is not installed (no {} found): install the Debian \
                     package {} (apt-get install {})",
                    need.suite.name(),
                    missing.join(", "),
                    need.suite.package(),
                    need.suite.package()
                ),
            })
        })
        .collect()
}
