//! What the host mesh's routes carry, and what a machine takes of what it
//! receives: the route of a machine's numbering digest, the routes its
//! gateways learned and the backends its probes found down (see the
//! module above for the whole), each named by positions in the lab's
//! numbering; and, on the receiving side, what was heard from whom, which
//! machines are trusted, and the routes and health taken only from the
//! machine that runs the gateway or probes the load balancer.

use crate::daemon::forwarding::underlay::{Heard, PeerTrust};
use crate::host::routing::gobgp::vpn::VpnRoute;
use crate::host::routing::gobgp::Origin;
use crate::policy::gateways::{BgpOrigin, LearnedRoute, LearnedRoutes};
use crate::policy::load_balancers::{BackendHealth, ProbeTarget};
use crate::topology::ByName;
use crate::topology::{GatewayIdx, LoadBalancerIdx, NicIdx, Topology, VnetIdx};
use ipnet::{IpNet, Ipv4Net};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

/// A learned route's large community: `LEARNED_TAG:<gateway>:<instance>`.
const LEARNED_TAG: u32 = 4_200_000_001;
/// The numbering digest's large community: `DIGEST_TAG:<high>:<low>`.
const DIGEST_TAG: u32 = 4_200_000_002;
/// A backend a probe found down: `DOWN_TAG:<load balancer>:<probe>` and
/// `DOWN_NIC_TAG:<NIC>:0`.
const DOWN_TAG: u32 = 4_200_000_003;
const DOWN_NIC_TAG: u32 = 4_200_000_004;
/// The route that carries a machine's digest: its own address, behind a
/// distinguisher of its own address and 0.
pub(super) fn digest_route(address: Ipv4Addr, digest: u64) -> VpnRoute {
    VpnRoute {
        distinguisher: (address, 0),
        prefix: Ipv4Net::new(address, 32).expect("a /32"),
        next_hop: address,
        as_path: Vec::new(),
        origin: Origin::Igp,
        large_communities: vec![(DIGEST_TAG, (digest >> 32) as u32, digest as u32)],
        from: None,
    }
}

/// The digest a received route carries, if it is its sender's digest
/// route.
fn digest_of(route: &VpnRoute) -> Option<u64> {
    let from = route.from?;
    if route.distinguisher != (from, 0) || route.prefix != Ipv4Net::new(from, 32).ok()? {
        return None;
    }
    (route.large_communities.iter())
        .find(|(tag, _, _)| *tag == DIGEST_TAG)
        .map(|(_, high, low)| (u64::from(*high) << 32) | u64::from(*low))
}

/// The routes this machine announces: the digest of the numbering it
/// forwards with, what its gateways learned and what its probes found
/// down.
pub(super) fn announced(
    topology: &Topology,
    digest: u64,
    learned: &LearnedRoutes,
    health: &BackendHealth,
    address: Ipv4Addr,
) -> BTreeSet<VpnRoute> {
    let mut out = BTreeSet::new();
    out.insert(digest_route(address, digest));
    for target in health.down() {
        let Some((lb, probe, nic)) = target_indices(topology, target) else {
            continue;
        };
        // Only the machine of the load balancer's VNet probes it.
        let vnet = topology.load_balancers[LoadBalancerIdx::new(lb as usize)].vnet;
        if !topology
            .placement
            .is_local(topology.placement.vnet_host(vnet))
        {
            continue;
        }
        out.insert(VpnRoute {
            distinguisher: (address, 1 + (lb * 64 + probe) as u16),
            // The route's prefix only keys it: the NIC's position.
            prefix: Ipv4Net::new(Ipv4Addr::from(nic), 32).expect("a /32"),
            next_hop: address,
            as_path: Vec::new(),
            origin: Origin::Igp,
            large_communities: vec![(DOWN_TAG, lb, probe), (DOWN_NIC_TAG, nic, 0)],
            from: None,
        });
    }
    for (g, gateway) in topology.gateways.iter_enumerated() {
        if !topology.gateway_is_local(g) {
            continue;
        }
        let Some(instances) = learned.gateways.get(&gateway.name) else {
            continue;
        };
        for (instance, routes) in instances.iter().enumerate() {
            let number = u16::try_from(g.index() * 16 + instance).unwrap_or(u16::MAX);
            for route in routes {
                let (IpNet::V4(prefix), IpAddr::V4(peer), IpAddr::V4(next_hop)) =
                    (route.prefix, route.peer, route.next_hop)
                else {
                    continue;
                };
                out.insert(VpnRoute {
                    distinguisher: (peer, number),
                    prefix,
                    next_hop,
                    as_path: route.as_path.clone(),
                    origin: match route.origin {
                        BgpOrigin::Igp => Origin::Igp,
                        BgpOrigin::Egp => Origin::Egp,
                        BgpOrigin::Incomplete => Origin::Incomplete,
                    },
                    large_communities: vec![(LEARNED_TAG, g.index() as u32, instance as u32)],
                    from: None,
                });
            }
        }
    }
    out
}

/// The positions of a probe target's load balancer, probe and NIC in the
/// topology, as the mesh carries them.
fn target_indices(topology: &Topology, target: &ProbeTarget) -> Option<(u32, u32, u32)> {
    let lb = topology.load_balancers.by_name(&target.load_balancer)?;
    let probe = topology.load_balancers[lb].probes.by_name(&target.probe)?;
    let nic = topology.nic_by_name(&target.nic)?;
    (lb.index() < 1024 && probe < 64).then_some((
        lb.index() as u32,
        probe as u32,
        nic.index() as u32,
    ))
}

/// The underlay address of the machine that runs the parts of VNet `vnet`
/// (its gateways, its prober).
fn vnet_address(topology: &Topology, vnet: VnetIdx) -> Option<Ipv4Addr> {
    let placement = &topology.placement;
    (placement.hosts.get(placement.vnet_host(vnet))).map(|h| h.underlay_address)
}

/// The routes of `routes` sent by a `trusted` machine, each with its sender.
fn from_trusted<'a>(
    routes: &'a [VpnRoute],
    trusted: &'a BTreeSet<Ipv4Addr>,
) -> impl Iterator<Item = (Ipv4Addr, &'a VpnRoute)> + 'a {
    let sender = |route: &VpnRoute| route.from.filter(|from| trusted.contains(from));
    routes
        .iter()
        .filter_map(move |route| Some((sender(route)?, route)))
}

/// The backends the other machines' probes found down, from the routes
/// received: only from `trusted` machines, and for each load balancer only
/// from the machine that probes it (its VNet's).
pub(super) fn received_health(
    topology: &Topology,
    routes: &[VpnRoute],
    trusted: &BTreeSet<Ipv4Addr>,
) -> BackendHealth {
    let mut health = BackendHealth::default();
    for (from, route) in from_trusted(routes, trusted) {
        let find = |tag: u32| {
            (route.large_communities.iter()).find_map(|(t, a, b)| (*t == tag).then_some((*a, *b)))
        };
        let (Some((lb, probe)), Some((nic, _))) = (find(DOWN_TAG), find(DOWN_NIC_TAG)) else {
            continue;
        };
        let Some(balancer) = topology
            .load_balancers
            .get(LoadBalancerIdx::new(lb as usize))
        else {
            continue;
        };
        if vnet_address(topology, balancer.vnet) != Some(from) {
            continue;
        }
        let (Some(probe), Some(nic)) = (
            balancer.probes.get(probe as usize),
            topology.nics.get(NicIdx::new(nic as usize)),
        ) else {
            continue;
        };
        let target = ProbeTarget {
            load_balancer: balancer.name.clone(),
            probe: probe.name.clone(),
            nic: nic.name.clone(),
        };
        health.set(target, false);
    }
    health
}

/// What gateways on other machines learned, by gateway name and instance.
pub(super) type LearnedElsewhere = BTreeMap<(String, usize), Vec<LearnedRoute>>;

/// What was heard from each machine that sent anything: the digest it
/// announces, or that it announces none.
pub(super) fn heard_from(routes: &[VpnRoute]) -> BTreeMap<Ipv4Addr, Heard> {
    let mut heard = BTreeMap::new();
    for route in routes {
        let Some(from) = route.from else {
            continue;
        };
        let entry = heard.entry(from).or_insert(Heard::NoDigest);
        if let Some(digest) = digest_of(route) {
            *entry = Heard::Digest(digest);
        }
    }
    heard
}

/// The machines heard announcing `digest`.
pub(super) fn trusted_of(heard: &BTreeMap<Ipv4Addr, Heard>, digest: u64) -> BTreeSet<Ipv4Addr> {
    (heard.iter())
        .filter(|(_, h)| PeerTrust::of(**h, digest) == PeerTrust::Trusted)
        .map(|(address, _)| *address)
        .collect()
}

/// What the other machines' gateways learned, from the routes received,
/// per gateway name and instance: only from `trusted` machines, and for
/// each gateway only from the machine that runs it (its VNet's).
pub(super) fn received(
    topology: &Topology,
    routes: &[VpnRoute],
    trusted: &BTreeSet<Ipv4Addr>,
) -> LearnedElsewhere {
    let mut learned = LearnedElsewhere::new();
    // Every instance of every gateway on another machine, empty unless a
    // route says otherwise: what is no longer received is withdrawn.
    for (g, gateway) in topology.gateways.iter_enumerated() {
        if !topology.gateway_is_local(g) {
            for instance in 0..gateway.instances.len() {
                learned.insert((gateway.name.clone(), instance), Vec::new());
            }
        }
    }
    for (from, route) in from_trusted(routes, trusted) {
        for (tag, gateway, instance) in &route.large_communities {
            let g = GatewayIdx::new(*gateway as usize);
            let Some(gw) = topology.gateways.get(g) else {
                continue;
            };
            if *tag != LEARNED_TAG
                || topology.gateway_is_local(g)
                || vnet_address(topology, gw.vnet) != Some(from)
            {
                continue;
            }
            let Some(list) = learned.get_mut(&(gw.name.clone(), *instance as usize)) else {
                continue;
            };
            list.push(LearnedRoute {
                prefix: IpNet::V4(route.prefix),
                peer: IpAddr::V4(route.distinguisher.0),
                next_hop: IpAddr::V4(route.next_hop),
                as_path: route.as_path.clone(),
                origin: match route.origin {
                    Origin::Igp => BgpOrigin::Igp,
                    Origin::Egp => BgpOrigin::Egp,
                    Origin::Incomplete => BgpOrigin::Incomplete,
                },
            });
        }
    }
    for list in learned.values_mut() {
        list.sort_by_key(|r| (r.prefix, r.peer));
    }
    learned
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::wire::wire_digest;

    const H1: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const H2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
    const H3: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 3);

    /// The hybrid example over three hosts: the hub (and its gateway) on
    /// h1, the rest on h1 too; run as `host`.
    fn hybrid_on(host: &str) -> Topology {
        let text = include_str!("../../../../config/hybrid.yaml").replace(
            "\nvnets:\n",
            "\nhosts:\n  - {name: h1, underlay_address: 192.0.2.1}\n  - {name: h2, underlay_address: 192.0.2.2}\n  - {name: h3, underlay_address: 192.0.2.3}\n\nvnets:\n",
        );
        let mut topology = crate::topology::parse_str("hybrid.yaml", &text)
            .unwrap()
            .topology;
        topology.placement.run_on(Some(host)).unwrap();
        topology
    }

    fn digest(topology: &Topology) -> u64 {
        wire_digest(topology, &crate::plan::Plan::derive(topology))
    }

    /// What `topology`'s machine at `address` announces, as another
    /// machine receives it.
    fn sent_by(
        topology: &Topology,
        address: Ipv4Addr,
        learned: &LearnedRoutes,
        health: &BackendHealth,
    ) -> Vec<VpnRoute> {
        announced(topology, digest(topology), learned, health, address)
            .into_iter()
            .map(|mut r| {
                r.from = Some(address);
                r
            })
            .collect()
    }

    fn learned_by_the_hub_gateway(topology: &Topology) -> (String, LearnedRoute, LearnedRoutes) {
        let gateway = topology.gateways[GatewayIdx::new(0)].name.clone();
        let route = LearnedRoute {
            prefix: "192.168.0.0/16".parse().unwrap(),
            peer: "10.0.255.230".parse().unwrap(),
            next_hop: "10.0.255.230".parse().unwrap(),
            as_path: vec![65010, 65011],
            origin: BgpOrigin::Igp,
        };
        let mut learned = LearnedRoutes::default();
        learned
            .gateways
            .insert(gateway.clone(), vec![vec![route.clone()]]);
        (gateway, route, learned)
    }

    #[test]
    fn a_learned_route_crosses_to_the_other_machines_as_it_was_learned() {
        let sender = hybrid_on("h1");
        let (gateway, route, learned) = learned_by_the_hub_gateway(&sender);
        let sent = sent_by(&sender, H1, &learned, &BackendHealth::default());
        assert_eq!(sent.len(), 2, "the digest and the route: {sent:?}");
        let receiver = hybrid_on("h2");
        let heard = heard_from(&sent);
        assert_eq!(heard, [(H1, Heard::Digest(digest(&receiver)))].into());
        let trusted = trusted_of(&heard, digest(&receiver));
        assert_eq!(trusted, [H1].into());
        let got = received(&receiver, &sent, &trusted);
        assert_eq!(got[&(gateway.clone(), 0)], vec![route]);
        // The sender's own gateways are never taken back from others.
        assert!(received(&sender, &sent, &trusted).is_empty());
        // A machine that numbers the lab otherwise is not trusted, and its
        // routes are unused.
        let other = trusted_of(&heard, digest(&receiver) ^ 1);
        assert!(other.is_empty());
        assert_eq!(received(&receiver, &sent, &other)[&(gateway, 0)], vec![]);
    }

    #[test]
    fn a_route_for_a_gateway_is_taken_only_from_the_machine_that_runs_it() {
        // h3 announces, with the right digest, a route for the hub's
        // gateway, which runs on h1: h2 does not take it.
        let liar = hybrid_on("h3");
        let (gateway, route, _) = learned_by_the_hub_gateway(&liar);
        let mut sent = vec![digest_route(H3, digest(&liar))];
        sent.push(VpnRoute {
            distinguisher: (Ipv4Addr::new(10, 0, 255, 230), 0),
            prefix: "192.168.0.0/16".parse().unwrap(),
            next_hop: "10.0.255.230".parse().unwrap(),
            as_path: route.as_path.clone(),
            origin: Origin::Igp,
            large_communities: vec![(LEARNED_TAG, 0, 0)],
            from: None,
        });
        for r in &mut sent {
            r.from = Some(H3);
        }
        let receiver = hybrid_on("h2");
        let trusted = trusted_of(&heard_from(&sent), digest(&receiver));
        assert_eq!(trusted, [H3].into(), "h3 itself is trusted");
        let got = received(&receiver, &sent, &trusted);
        assert_eq!(got[&(gateway.clone(), 0)], vec![], "{got:?}");
        // The same route from h1, the gateway's machine, is taken.
        for r in &mut sent {
            r.from = Some(H1);
            if r.distinguisher.0 == H3 {
                *r = VpnRoute {
                    from: Some(H1),
                    ..digest_route(H1, digest(&receiver))
                };
            }
        }
        let trusted = trusted_of(&heard_from(&sent), digest(&receiver));
        assert_eq!(
            received(&receiver, &sent, &trusted)[&(gateway, 0)],
            vec![route]
        );
    }

    #[test]
    fn a_machine_that_announces_no_digest_is_heard_but_not_trusted() {
        let sender = hybrid_on("h1");
        let (gateway, _, learned) = learned_by_the_hub_gateway(&sender);
        // Its routes, but no digest route; nor one that only carries the
        // community on another route.
        let sent: Vec<VpnRoute> = sent_by(&sender, H1, &learned, &BackendHealth::default())
            .into_iter()
            .filter(|r| digest_of(r).is_none())
            .map(|mut r| {
                r.large_communities.push((
                    DIGEST_TAG,
                    (digest(&sender) >> 32) as u32,
                    digest(&sender) as u32,
                ));
                r
            })
            .collect();
        assert_eq!(sent.len(), 1);
        let receiver = hybrid_on("h2");
        let heard = heard_from(&sent);
        assert_eq!(heard, [(H1, Heard::NoDigest)].into());
        let trusted = trusted_of(&heard, digest(&receiver));
        assert!(trusted.is_empty());
        assert_eq!(received(&receiver, &sent, &trusted)[&(gateway, 0)], vec![]);
    }

    #[test]
    fn a_backend_found_down_where_its_balancer_is_probed_is_down_everywhere() {
        let text = include_str!("../../../../config/ha-nva.yaml").replace(
            "\nvnets:\n",
            "\nhosts:\n  - {name: h1, underlay_address: 192.0.2.1}\n  - {name: h2, underlay_address: 192.0.2.2}\n\nvnets:\n",
        )
        .replace("  - name: spoke1\n", "  - name: spoke1\n    host: h2\n");
        let topology = crate::topology::parse_str("ha-nva.yaml", &text)
            .unwrap()
            .topology;
        let down = ProbeTarget {
            load_balancer: "nva-ilb".into(),
            probe: topology.load_balancers[LoadBalancerIdx::new(0)].probes[0]
                .name
                .clone(),
            nic: "nva2".into(),
        };
        let mut health = BackendHealth::default();
        health.set(down.clone(), false);
        let mut prober = topology.clone();
        prober.placement.run_on(Some("h1")).unwrap();
        let sent = sent_by(&prober, H1, &LearnedRoutes::default(), &health);
        let mut client = topology;
        client.placement.run_on(Some("h2")).unwrap();
        let got = received_health(&client, &sent, &[H1].into());
        assert_eq!(got.down().collect::<Vec<_>>(), [&down]);
        // Nothing of a machine that is not trusted.
        assert_eq!(
            received_health(&client, &sent, &BTreeSet::new()),
            BackendHealth::default()
        );
        // Nothing from a machine that does not probe the balancer, trusted
        // or not.
        let relayed: Vec<VpnRoute> = (sent.iter().cloned())
            .map(|mut r| {
                r.from = Some(H2);
                r
            })
            .collect();
        assert_eq!(
            received_health(&prober, &relayed, &[H2].into()),
            BackendHealth::default()
        );
        // A machine that does not probe the balancer announces nothing of it.
        assert_eq!(
            announced(&client, 0, &LearnedRoutes::default(), &health, H2).len(),
            1
        );
    }
}
