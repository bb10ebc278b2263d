//! Whether the running lab has converged: what `vnetd run` and `apply`
//! report as it comes up, and what `vnetd verify --wait` waits for.
//!
//! Converged means, against the topology the plane forwards with:
//!
//! - every BGP session the file configures is Established, as the
//!   supervisor last found it: each session of a gateway instance (with a
//!   site's router, a circuit's edge router, a Vnet2Vnet peer's instance,
//!   a Route Server's instance; [`crate::policy::bgp::instance_neighbors`])
//!   and each session of a Route Server instance with an appliance (its
//!   `bgp_connections`). The count is of what the file configures, not of
//!   what came up: a session that cannot come up (the other end does not
//!   name this one, no router holds the address, the prefix limit drops
//!   it) is counted, and keeps the lab from converging (`vnetd check`
//!   warns about it);
//! - every gateway instance has learned every route the model predicts
//!   it learns, by prefix and neighbour, and the plane forwards with it
//!   (the learned routes are the snapshot's, not only the speakers');
//! - every load balancer backend has had its first probe's verdict (an
//!   answer, or the probe's timeout).
//!
//! - in a spread lab, every other machine is trusted: it announces, over
//!   the host mesh, the numbering of the lab this machine forwards with
//!   (see [`crate::daemon::forwarding::underlay::PeerTrust`]), and its mesh session is up.
//!
//! A lab without BGP or load balancers is converged from the start.

use crate::api::{Convergence, RouteRef, SessionRef};
use crate::policy::bgp::{BgpModel, SpeakerId};
use crate::policy::gateways::LearnedRoutes;
use crate::topology::Topology;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

/// The Established neighbours of each gateway instance, by gateway name
/// and instance: what the routing daemons' supervisor last found
/// ([`SessionBook`](crate::daemon::changing::hybrid::SessionBook)), in the
/// shape this report counts them in.
pub type Established = BTreeMap<(String, usize), Vec<Ipv4Addr>>;

/// The state `model` predicts `topo` converges to, held against what the
/// lab has now: the sessions `established`, the routes `learned`, and per
/// probed backend (`lb/nic`) whether its first probe has answered.
pub fn convergence_of(
    topo: &Topology,
    model: &BgpModel,
    learned: &LearnedRoutes,
    established: &Established,
    backends: &[(String, bool)],
    uptime_ms: u64,
) -> Convergence {
    let mut state = Convergence {
        uptime_ms,
        ..Convergence::default()
    };
    let mut session = |speaker: &str, instance: usize, neighbor: IpAddr| {
        let up = established
            .get(&(speaker.to_owned(), instance))
            .map_or(&[][..], Vec::as_slice);
        state.sessions_expected += 1;
        if matches!(neighbor, IpAddr::V4(a) if up.contains(&a)) {
            state.sessions_established += 1;
        } else {
            state.sessions_down.push(SessionRef {
                gateway: speaker.to_owned(),
                instance,
                neighbor: neighbor.to_string(),
            });
        }
    };
    for (g, gw) in topo.gateways.iter_enumerated() {
        // A gateway on another machine holds its sessions there; what it
        // learns reaches this one over the host mesh, counted below.
        if !topo.gateway_is_local(g) {
            continue;
        }
        for instance in 0..gw.instances.len() {
            for s in model.sessions(g, instance) {
                session(&gw.name, instance, s.neighbor);
            }
        }
    }
    for (r, rs) in topo.route_servers.iter_enumerated() {
        if !topo.placement.is_local(topo.placement.vnet_host(rs.vnet)) {
            continue;
        }
        for instance in 0..rs.instances.len() {
            let id = SpeakerId::RouteServer {
                route_server: r,
                instance,
            };
            for s in model.sessions_of(id) {
                // Its sessions with the VNet's gateways are counted at the
                // gateways.
                if rs.bgp_connections.iter().any(|c| c.peer_ip == s.neighbor) {
                    session(&rs.name, instance, s.neighbor);
                }
            }
        }
    }
    for (gateway, instances) in &model.learned(topo).gateways {
        if !learned_here(topo, gateway) {
            continue;
        }
        for (instance, routes) in instances.iter().enumerate() {
            let have: BTreeSet<_> = learned
                .of(gateway, instance)
                .iter()
                .map(|r| (r.prefix, r.peer))
                .collect();
            let want: BTreeSet<_> = routes.iter().map(|r| (r.prefix, r.peer)).collect();
            for (prefix, peer) in want {
                state.prefixes_expected += 1;
                if have.contains(&(prefix, peer)) {
                    state.prefixes_learned += 1;
                } else {
                    state.prefixes_missing.push(RouteRef {
                        gateway: gateway.clone(),
                        instance,
                        neighbor: peer.to_string(),
                        prefix: prefix.to_string(),
                    });
                }
            }
        }
    }
    for (backend, answered) in backends {
        state.backends_expected += 1;
        if *answered {
            state.backends_probed += 1;
        } else {
            state.backends_unprobed.push(backend.clone());
        }
    }
    state.converged = state.sessions_down.is_empty()
        && state.prefixes_missing.is_empty()
        && state.backends_unprobed.is_empty();
    state
}

/// Whether what `speaker` (a gateway, or a circuit's edge router) learns
/// is known on this machine: every gateway's is (its own, or over the host
/// mesh), an edge router's only on the machine of its circuit.
fn learned_here(topo: &Topology, speaker: &str) -> bool {
    topo.circuits
        .iter_enumerated()
        .find(|(_, c)| (0..2).any(|link| c.edge_router_name(link) == speaker))
        .is_none_or(|(c, _)| topo.circuit_is_local(c))
}

/// Whether the lab's servers (Azure DNS, the responders of Private
/// Endpoints and of the Internet, the DNS servers of `dns_server` keys)
/// listen for the plane forwarded with: a lab converges once Azure DNS
/// has opened its sockets for that plane, the services thread has started
/// the responders and each DNS server has answered (or failed, and been
/// reported).
pub fn servers_convergence(
    snapshot: &crate::snapshot::Snapshot,
    (azure_dns, counters): (
        &crate::daemon::answering::azure_dns::DnsCounters,
        &crate::daemon::answering::paas::PaasCounters,
    ),
    state: &mut Convergence,
) {
    let has_servers =
        (snapshot.plan.ports.iter()).any(|p| p.kind.servers() != crate::plan::ports::Servers::None);
    let topology = &snapshot.topology;
    let has_dns_servers = topology.nics.iter().any(|n| n.dns_server.is_some())
        || (topology.sites.iter()).any(|s| s.hosts.iter().any(|h| h.dns_server.is_some()));
    let serving = counters
        .serving_generation
        .load(std::sync::atomic::Ordering::Acquire);
    // A DNS server counts as started once it answered or failed once (a
    // failed one is reported, and does not hold the lab up).
    let dns_starting =
        (counters.dns_servers.starting).load(std::sync::atomic::Ordering::Relaxed) > 0;
    let azure_dns_serving =
        (azure_dns.serving_generation).load(std::sync::atomic::Ordering::Acquire);
    state.servers_starting = ((has_servers || has_dns_servers) && serving < snapshot.generation)
        || azure_dns_serving < snapshot.generation
        || dns_starting;
    state.converged &= !state.servers_starting;
}

/// In a spread lab, each other machine's trust over the underlay.
pub fn underlay_convergence(
    underlay: Option<&crate::daemon::forwarding::underlay::UnderlayLink>,
    state: &mut Convergence,
) {
    let Some(underlay) = underlay else {
        return;
    };
    for (host, address, trust) in underlay.peer_trust() {
        state.hosts_expected += 1;
        if trust == crate::daemon::forwarding::underlay::PeerTrust::Trusted {
            state.hosts_trusted += 1;
        } else {
            state.hosts_untrusted.push(crate::api::HostRef {
                host,
                address: address.to_string(),
                why: trust.why().to_owned(),
            });
        }
    }
    state.converged &= state.hosts_untrusted.is_empty();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::bgp::expected_learned;

    fn hybrid() -> Topology {
        let text = include_str!("../../../config/hybrid.yaml");
        crate::topology::parse_str("hybrid.yaml", text)
            .unwrap()
            .topology
    }

    /// Every session the model predicts up, Established: those of the
    /// gateways' and the Route Servers' instances.
    fn all_up(topo: &Topology, model: &BgpModel) -> Established {
        let connected = |sessions: Vec<crate::policy::bgp::PredictedSession>| {
            sessions
                .into_iter()
                .filter(|s| s.state == "Connected")
                .filter_map(|s| match s.neighbor {
                    IpAddr::V4(a) => Some(a),
                    IpAddr::V6(_) => None,
                })
                .collect()
        };
        let mut up = Established::new();
        for (g, gw) in topo.gateways.iter_enumerated() {
            for i in 0..gw.instances.len() {
                up.insert((gw.name.clone(), i), connected(model.sessions(g, i)));
            }
        }
        for (r, rs) in topo.route_servers.iter_enumerated() {
            for i in 0..rs.instances.len() {
                let id = SpeakerId::RouteServer {
                    route_server: r,
                    instance: i,
                };
                up.insert((rs.name.clone(), i), connected(model.sessions_of(id)));
            }
        }
        up
    }

    fn example(name: &str, text: &str) -> Topology {
        crate::topology::parse_str(name, text).unwrap().topology
    }

    /// The convergence of `topo` with what the model predicts learned and
    /// every predicted session up, after `change` took some of it away.
    fn converging(
        topo: &Topology,
        change: impl FnOnce(&mut LearnedRoutes, &mut Established),
    ) -> Convergence {
        let model = BgpModel::of(topo);
        let mut learned = expected_learned(topo);
        let mut up = all_up(topo, &model);
        change(&mut learned, &mut up);
        convergence_of(topo, &model, &learned, &up, &[], 0)
    }

    /// The example `name` and its convergence with nothing taken away, checked converged.
    fn converged_example(name: &str, text: &str) -> (Topology, Convergence) {
        let topo = example(name, text);
        let state = converging(&topo, |_, _| {});
        assert!(state.converged, "{state:?}");
        (topo, state)
    }

    /// Checks `state` unconverged, with `sessions` established of those
    /// expected and `missing` said missing.
    #[track_caller]
    fn assert_waiting(state: &Convergence, sessions: (usize, usize), missing: &str) {
        assert!(!state.converged);
        assert_eq!(counts(state)[0], sessions);
        assert_eq!(state.missing(), missing);
    }

    /// Sessions established of those expected, prefixes learned of those
    /// expected.
    fn counts(state: &Convergence) -> [(usize, usize); 2] {
        [
            (state.sessions_established, state.sessions_expected),
            (state.prefixes_learned, state.prefixes_expected),
        ]
    }

    #[test]
    fn the_dual_device_example_counts_four_sessions_and_waits_for_each() {
        let (topo, state) = converged_example(
            "dual-device-vpn.yaml",
            include_str!("../../../config/dual-device-vpn.yaml"),
        );
        assert_eq!(counts(&state)[0], (4, 4));
        // The second device's sessions with both instances drop.
        let second: std::net::Ipv4Addr = "10.52.255.254".parse().unwrap();
        let state = converging(&topo, |_, up| {
            for neighbors in up.values_mut() {
                neighbors.retain(|n| *n != second);
            }
        });
        assert!(!state.converged);
        assert!(state.progress().starts_with("BGP 2/4 sessions established"));
        assert_eq!(
            state.missing(),
            "session hub-vpngw/0 with 10.52.255.254 not established; session hub-vpngw/1 with \
             10.52.255.254 not established"
        );
    }

    #[test]
    fn a_session_that_cannot_come_up_is_counted_and_keeps_the_lab_unconverged() {
        // Two local network gateways on a site's one router: it holds the
        // first's BGP address, so the second's session never comes up.
        let text = include_str!("../../../config/hybrid.yaml")
            .replace(
                "virtual_network_gateway_connections:",
                "  - {name: branch1-lng2, site: branch1, gateway_address: 203.0.113.11, \
                 address_space: [], bgp_settings: {asn: 65050, bgp_peering_address: \
                 192.168.255.2}}\n\nvirtual_network_gateway_connections:",
            )
            .replace(
                "# What must hold",
                "  - {name: hub-to-branch1-2, type: IPsec, virtual_network_gateway: hub-vpngw, \
                 local_network_gateway: branch1-lng2, bgp_enabled: true}\n\n# What must hold",
            );
        let state = converging(&example("hybrid.yaml", &text), |_, _| {});
        assert_waiting(
            &state,
            (1, 2),
            "session hub-vpngw/0 with 192.168.255.2 not established",
        );
    }

    #[test]
    fn route_server_sessions_with_appliances_are_counted() {
        let (topo, state) = converged_example(
            "route-server.yaml",
            include_str!("../../../config/route-server.yaml"),
        );
        // Two instances, each with both appliances.
        assert_eq!(counts(&state)[0], (4, 4));
        let state = converging(&topo, |_, up| up.clear());
        assert!(!state.converged);
        assert_eq!(state.sessions_down.len(), 4);
        assert_eq!(state.sessions_down[0].gateway, "hub-rs");
    }

    #[test]
    fn the_hybrid_example_converges_once_its_session_and_route_are_there() {
        let topo = hybrid();
        let model = BgpModel::of(&topo);
        let state = convergence_of(
            &topo,
            &model,
            &expected_learned(&topo),
            &all_up(&topo, &model),
            &[],
            2100,
        );
        assert!(state.converged, "{state:?}");
        assert_eq!(counts(&state), [(1, 1), (1, 1)]);
        assert_eq!(state.missing(), "");
        assert_eq!(
            state.summary(),
            "BGP 1/1 sessions established, 1 prefix learned"
        );
    }

    #[test]
    fn a_prefix_not_learned_keeps_the_lab_unconverged_and_is_named() {
        let state = converging(&hybrid(), |learned, _| {
            let routes = &mut learned.gateways.get_mut("hub-vpngw").unwrap()[0];
            let gone = routes.remove(0);
            assert_eq!(gone.prefix.to_string(), "192.168.0.0/16");
        });
        assert!(!state.converged);
        assert_eq!(counts(&state)[1], (0, 1));
        assert_eq!(
            state.prefixes_missing,
            [RouteRef {
                gateway: "hub-vpngw".into(),
                instance: 0,
                neighbor: "192.168.255.1".into(),
                prefix: "192.168.0.0/16".into(),
            }]
        );
        assert_eq!(
            state.missing(),
            "hub-vpngw/0 has not learned 192.168.0.0/16 from 192.168.255.1"
        );
        assert_eq!(
            state.progress(),
            "BGP 1/1 sessions established, 0/1 prefixes learned"
        );
    }

    #[test]
    fn a_session_down_keeps_the_lab_unconverged_and_is_named() {
        // The route is there (a session that just dropped), the session not.
        let state = converging(&hybrid(), |_, up| up.clear());
        assert_waiting(
            &state,
            (0, 1),
            "session hub-vpngw/0 with 192.168.255.1 not established",
        );
    }

    #[test]
    fn a_route_the_model_does_not_predict_does_not_count() {
        let state = converging(&hybrid(), |learned, _| {
            let mut extra = learned.gateways["hub-vpngw"][0][0].clone();
            extra.prefix = "172.16.0.0/12".parse().unwrap();
            learned.gateways.get_mut("hub-vpngw").unwrap()[0].push(extra);
        });
        assert!(state.converged, "{state:?}");
        assert_eq!(counts(&state)[1], (1, 1));
    }

    #[test]
    fn a_lab_without_bgp_converges_at_once_and_waits_for_first_probes() {
        let text = include_str!("../../../config/hub-spoke.yaml");
        let topo = example("hub-spoke.yaml", text);
        let model = BgpModel::of(&topo);
        let none = LearnedRoutes::default();
        let state = convergence_of(&topo, &model, &none, &Established::new(), &[], 0);
        assert!(state.converged);
        assert_eq!(
            state.summary(),
            "no BGP sessions or load balancer probes to wait for"
        );
        let backends = [
            ("ilb/web1".to_string(), true),
            ("ilb/web2".to_string(), false),
        ];
        let state = convergence_of(&topo, &model, &none, &Established::new(), &backends, 0);
        assert!(!state.converged);
        assert_eq!(state.progress(), "load balancer probes 1/2 answered");
        assert_eq!(state.missing(), "no probe answer yet from backend ilb/web2");
    }
}
