//! The BGP sessions a file configures that can never come up, as warnings
//! for `vnetd check`, `run` and `apply`: the convergence report counts
//! every configured session, so a lab holding one of these never
//! converges, and the file should say why before it runs.
//!
//! A session of a gateway or Route Server instance is warned about when
//! the BGP model ([`BgpModel`]) leaves it down and vnetd runs both ends:
//! the far end is another gateway's or Route Server's instance, a
//! circuit's edge router, or a site router or appliance whose daemon
//! vnetd writes, and it has no session with this one (a Vnet2Vnet
//! connection with BGP on one side only), or the far end sends more
//! routes than the session takes (the prefix limit drops it). A session
//! whose far end is the user's own router (`bgp_speaker: none`) may come
//! up once the user's daemon runs, and is not warned about; one whose
//! address no router holds is refused or warned about by the file's own
//! checks (`topology::resolve`).

use super::fixpoint::BgpModel;
use super::speaker::SpeakerId;
use crate::topology::{ConnectionPeer, Diagnostic, GatewayIdx, Severity, Topology};
use std::collections::BTreeSet;
use std::net::IpAddr;

/// Every configured session of a gateway or Route Server instance that
/// cannot come up, as one warning per (speaker, neighbour) pair, both
/// instances named together.
pub fn sessions_never_up(topo: &Topology) -> Vec<Diagnostic> {
    let model = BgpModel::of(topo);
    let vnetd_runs = model.own_addresses(topo);
    let mut out = Vec::new();
    for (g, gw) in topo.gateways.iter_enumerated() {
        let mut down: Vec<(IpAddr, Vec<usize>, Option<String>)> = Vec::new();
        for instance in 0..gw.instances.len() {
            for s in model.sessions(g, instance) {
                let never = match s.state {
                    "Stopped" => true,
                    "Connecting" => vnetd_runs.contains(&s.neighbor),
                    _ => false,
                };
                if !never {
                    continue;
                }
                match down.iter_mut().find(|(n, _, _)| *n == s.neighbor) {
                    Some((_, instances, _)) => instances.push(instance),
                    None => down.push((s.neighbor, vec![instance], s.reason.clone())),
                }
            }
        }
        for (neighbor, instances, reason) in down {
            let (line, key, why) = gateway_session_place(topo, g, neighbor);
            let why = reason.map_or(why, |r| format!("it is dropped: {r}"));
            out.push(Diagnostic {
                file: topo.source.clone(),
                line,
                severity: Severity::Warning,
                key,
                message: format!(
                    "the BGP session of gateway `{}` ({}) with {neighbor} never comes up: {why}; \
                     the lab counts it, so it does not converge",
                    gw.name,
                    instances_named(&instances)
                ),
            });
        }
    }
    for (r, rs) in topo.route_servers.iter_enumerated() {
        let mut down: BTreeSet<(IpAddr, String)> = BTreeSet::new();
        for instance in 0..rs.instances.len() {
            let id = SpeakerId::RouteServer {
                route_server: r,
                instance,
            };
            for s in model.sessions_of(id) {
                if let Some(reason) = s.reason.filter(|_| s.state == "Stopped") {
                    down.insert((s.neighbor, reason));
                }
            }
        }
        for (neighbor, reason) in down {
            out.push(Diagnostic {
                file: topo.source.clone(),
                line: rs.line,
                severity: Severity::Warning,
                key: format!("route_servers[{}]", rs.name),
                message: format!(
                    "the BGP sessions of Route Server `{}` with {neighbor} never stay up: they are \
                     dropped: {reason}; the lab counts them, so it does not converge",
                    rs.name
                ),
            });
        }
    }
    out
}

/// `instance 0`, `instances 0 and 1`.
fn instances_named(instances: &[usize]) -> String {
    match instances {
        [one] => format!("instance {one}"),
        _ => {
            let list: Vec<String> = instances.iter().map(ToString::to_string).collect();
            format!("instances {}", list.join(" and "))
        }
    }
}

/// The line and key of the connection of `gateway` that makes its session
/// with `neighbor`, and why the far end does not answer; the gateway's own
/// when no connection does (a Route Server's instance).
fn gateway_session_place(
    topo: &Topology,
    gateway: GatewayIdx,
    neighbor: IpAddr,
) -> (usize, String, String) {
    let gw = &topo.gateways[gateway];
    for c in topo.connections_of(gateway) {
        if let ConnectionPeer::Gateway(other) = c.peer {
            let o = &topo.gateways[other];
            if o.instances.contains(&neighbor) {
                let why = format!(
                    "gateway `{}` has no BGP connection to `{}` (a Vnet2Vnet connection runs BGP \
                     only when both sides hold one with BGP on)",
                    o.name, gw.name
                );
                return (
                    c.line,
                    format!("virtual_network_gateway_connections[{}]", c.name),
                    why,
                );
            }
        }
    }
    let why = format!("the speaker at {neighbor} has no session with it");
    (
        gw.line,
        format!("virtual_network_gateways[{}]", gw.name),
        why,
    )
}
