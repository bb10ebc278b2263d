//! The answers of the diagnostic commands, computed from a compiled
//! [`Snapshot`] (the same tables the packet path forwards with):
//!
//! - `routes`: effective routes of a NIC's subnet, like
//!   `az network nic show-effective-route-table`;
//! - `next-hop`: the deciding route for a destination, like
//!   `az network watcher show-next-hop`;
//! - `flow-verify`: the NSG verdict and deciding rule for a TCP/UDP flow,
//!   like `az network watcher test-ip-flow`;
//! - `rules`: effective security rules, like
//!   `az network nic list-effective-nsg`;
//! - `gateway learned-routes`, `advertised-routes` and, from a file,
//!   `bgp-peer-status`, like `az network vnet-gateway list-learned-routes`,
//!   `list-advertised-routes` and `list-bgp-peer-status` ([`gateway`]);
//! - `route-server learned-routes` and `advertised-routes`, like
//!   `az network routeserver peering list-learned-routes` and
//!   `list-advertised-routes` ([`route_server`]);
//! - `circuit routes`: an ExpressRoute circuit's route table, like
//!   `az network express-route list-route-tables` ([`circuit`]);
//! - `lb show`: a load balancer's backends with their probes' verdicts, in
//!   vnetd's own shape ([`load_balancer`]);
//! - `resolve`: what a NIC's name server answers for a name, and how Azure
//!   DNS found it, in vnetd's own shape ([`names`]);
//! - `check`'s judgement of the DNS forwarding rulesets: the loops they
//!   make ([`forwarding_loops`]).
//!
//! Each comes as a value with the JSON shape `az` prints (the contract's
//! keys, in its order) and as a readable table.
//!
//! The rooms: [`az`] computes the answers in `az`'s shapes, [`query`] is
//! the question as it travels (from the command line or over the control
//! socket), [`render`] lays answers out as tables or JSON. They may use the
//! snapshot, its name tables, the policy's effective rows and the
//! dataplane's decision steps, never the daemon or the host.

pub mod az;
pub mod circuit;
pub mod expectations;
pub mod forwarding_loops;
pub mod gateway;
pub mod load_balancer;
mod lookup;
pub mod names;
pub mod query;
pub mod render;
pub mod route_server;
pub mod trace;
pub mod virtual_hub;

pub use az::{
    flow_verify, gateways_crossed, next_hop, routes, rules, EffectiveNsgList, FlowAnswer,
    FlowVerdict, NextHop, RouteList, RouteRow, SecurityRuleRow, SYSTEM_ROUTE,
};
pub use lookup::{find_named, find_nic, find_subnet, listed, QueryError, RoutesOf};
pub use query::{FlowQuery, Query};

use crate::policy::bgp::expected_learned;
use crate::snapshot::Snapshot;
use crate::topology::{Endpoint, ExpectedProtocol, Loaded};
use render::{render_flow_verify, render_next_hop, render_routes, render_rules, Tabular};
use std::net::IpAddr;

/// The printed answer to `query`: a table, or `az`-shaped JSON.
pub fn answer(snap: &Snapshot, query: &Query, json: bool) -> Result<String, QueryError> {
    match query {
        Query::Routes { nic, subnet } => {
            let subnet = match (nic, subnet) {
                (Some(nic), None) => RoutesOf::Nic(find_nic(snap, nic)?),
                (None, Some(path)) => RoutesOf::Subnet(find_subnet(snap, path)?),
                _ => {
                    return Err(QueryError::usage(
                        "routes: give exactly one of --nic and --subnet",
                    ))
                }
            };
            render_routes(snap, subnet, json)
        }
        Query::HubRoutes { hub, table } => {
            let h = virtual_hub::find_hub(snap, hub)?;
            let t = virtual_hub::find_table(snap, h, table.as_deref())?;
            let table_name = &snap.topology.virtual_hubs[h].route_tables[t].name;
            let title = format!("Effective routes of hub {hub}, route table {table_name}:");
            virtual_hub::effective_routes(&snap.topology, &snap.learned, h, t).render(&title, json)
        }
        Query::NextHop { nic, dst } => render_next_hop(snap, nic, dst, json),
        Query::FlowVerify {
            nic,
            direction,
            protocol,
            local,
            remote,
        } => {
            let q = FlowQuery::parse(direction, protocol, local, remote)?;
            render_flow_verify(snap, nic, &q, json)
        }
        Query::Rules { nic } => render_rules(snap, nic, json),
        Query::GatewayLearnedRoutes { gateway } => {
            let g = gateway::find_gateway(snap, gateway)?;
            let title = format!("Routes gateway {gateway} knows:");
            gateway::render_route_list(&title, &gateway::learned_routes(snap, g), json)
        }
        Query::GatewayAdvertisedRoutes { gateway, peer } => {
            let g = gateway::find_gateway(snap, gateway)?;
            let title = format!("Routes gateway {gateway} advertises to {peer}:");
            gateway::render_route_list(&title, &gateway::advertised_routes(snap, g, peer)?, json)
        }
        Query::GatewayBgpPeerStatus { gateway } => {
            let g = gateway::find_gateway(snap, gateway)?;
            gateway::render_peer_status(gateway, &gateway::predicted_peer_status(snap, g), json)
        }
        Query::RouteServerLearnedRoutes { route_server, peer } => {
            let r = route_server::find_route_server(snap, route_server)?;
            let peer = peer
                .as_deref()
                .map(|p| route_server::bgp_peer(snap, r, p))
                .transpose()?;
            let title = match peer {
                Some(p) => format!("Routes Route Server {route_server} learned from {p}:"),
                None => format!("Routes Route Server {route_server} learned:"),
            };
            let list = route_server::learned_routes(snap, r, peer);
            route_server::render_route_list(&title, &list, json)
        }
        Query::RouteServerAdvertisedRoutes { route_server, peer } => {
            let r = route_server::find_route_server(snap, route_server)?;
            let title = format!("Routes Route Server {route_server} advertises to {peer}:");
            let list = route_server::advertised_routes(snap, r, peer)?;
            route_server::render_route_list(&title, &list, json)
        }
        Query::CircuitRoutes { circuit, path } => {
            let c = circuit::find_circuit(snap, circuit)?;
            let link = circuit::parse_link(path.as_deref())?;
            let which = if link == 0 { "primary" } else { "secondary" };
            let title = format!("Route table of circuit {circuit} ({which} link):");
            circuit::route_table(snap, c, link).render(&title, json)
        }
        Query::Trace {
            from,
            to,
            protocol,
            port,
        } => {
            let found = trace_words(snap, from, to, protocol.as_deref(), *port)?;
            trace::render_trace(&found, json)
        }
        Query::Resolve {
            nic,
            name,
            record_type,
        } => {
            let query_type = names::parse_query_type(record_type)?;
            names::render_resolution(&names::resolve(snap, nic, name, query_type)?, json)
        }
    }
}

/// `vnetd trace` from its words ([`trace_request`]): the trace, with how
/// the destination was resolved when it was written as a DNS name.
pub fn trace_words(
    snap: &Snapshot,
    from: &str,
    to: &str,
    protocol: Option<&str>,
    port: Option<u16>,
) -> Result<trace::Trace, QueryError> {
    let (query, resolution) = trace_request(snap, from, to, protocol, port)?;
    let mut found = trace::trace(snap, &query)?;
    if let Some(lookup) = &resolution {
        trace::judge_by_name(snap, &mut found, &lookup.name, query.port);
    }
    found.resolution = resolution;
    Ok(found)
}

/// The question of `trace` from its words ([`trace_request`]), without
/// how a destination name was resolved.
pub fn trace_query(
    snap: &Snapshot,
    from: &str,
    to: &str,
    protocol: Option<&str>,
    port: Option<u16>,
) -> Result<trace::TraceQuery, QueryError> {
    trace_request(snap, from, to, protocol, port).map(|(query, _)| query)
}

/// The question of `trace` from its words: `from` a NIC or on-premises
/// host, `to` an address, a NIC or host name, or a DNS name (two labels or
/// more) that the sender resolves first, as Azure DNS answers it in its
/// VNet ([`names::lookup_destination`]), the trace going to the first
/// address; the protocol is TCP when a port is given and ICMP otherwise,
/// unless written.
pub fn trace_request(
    snap: &Snapshot,
    from: &str,
    to: &str,
    protocol: Option<&str>,
    port: Option<u16>,
) -> Result<(trace::TraceQuery, Option<names::NameLookup>), QueryError> {
    let t = &snap.topology;
    let host = |name: &str| {
        let (site, host) = t.site_host(name)?;
        Some((site, host, t.sites[site].hosts[host].address))
    };
    let vm = |name: &str| t.endpoint_nic(name);
    let endpoints = || {
        t.nics
            .iter()
            .map(|n| n.name.as_str())
            .chain(t.virtual_machines.iter().map(|v| v.name.as_str()))
            .chain(
                t.sites
                    .iter()
                    .flat_map(|s| s.hosts.iter().map(|h| h.name.as_str())),
            )
            .collect::<Vec<_>>()
            .join(", ")
    };
    let internet = |name: &str| {
        if !t.edge.has_internet() {
            return None;
        }
        if name.eq_ignore_ascii_case(crate::topology::INTERNET_ENDPOINT) {
            return Some(None);
        }
        let found = t.edge.servers().iter().position(|s| s.name == name);
        found.map(Some)
    };
    let source = match (vm(from), host(from)) {
        (Some(nic), _) => Endpoint::Nic(nic),
        (None, Some((site, host, _))) => Endpoint::SiteHost { site, host },
        (None, None) if internet(from).is_some() => {
            Endpoint::Internet(internet(from).expect("checked"))
        }
        (None, None) => {
            return Err(QueryError::refused(format!(
                "--from: no NIC, VM or on-premises host named `{from}` in {} (there are: {})",
                t.source,
                endpoints()
            )))
        }
    };
    let protocol = match protocol.map(str::to_ascii_lowercase).as_deref() {
        None if port.is_some() => ExpectedProtocol::Tcp,
        None => ExpectedProtocol::Icmp,
        Some("tcp") => ExpectedProtocol::Tcp,
        Some("udp") => ExpectedProtocol::Udp,
        Some("icmp") => ExpectedProtocol::Icmp,
        Some(other) => {
            return Err(QueryError::usage(format!(
                "--protocol `{other}`: expected Tcp, Udp or Icmp"
            )))
        }
    };
    match (protocol, port) {
        (ExpectedProtocol::Icmp, Some(_)) => {
            return Err(QueryError::usage("--port: ICMP has no port"))
        }
        (ExpectedProtocol::Tcp | ExpectedProtocol::Udp, None) => {
            return Err(QueryError::usage(format!(
                "--port is needed with protocol {}",
                protocol.as_str()
            )))
        }
        _ => {}
    }
    let (destination, resolution) = match to.parse::<IpAddr>() {
        Ok(ip) => (ip, None),
        Err(_) => match (vm(to), host(to)) {
            (Some(nic), _) => (t.nics[nic].ip_configurations[0].address, None),
            (None, Some((_, _, address))) => (address, None),
            (None, None) if to.trim_end_matches('.').contains('.') => {
                let found = names::lookup_destination(snap, source, to)
                    .map_err(|u| QueryError::refused(format!("--to {to}: {}", u.why)))?;
                (found.addresses[0], Some(found))
            }
            (None, None) => {
                return Err(QueryError::refused(format!(
                    "--to: `{to}` is neither an address, a NIC or on-premises host of {} \
                     (there are: {}), nor a DNS name of two labels or more",
                    t.source,
                    endpoints()
                )))
            }
        },
    };
    let query = trace::TraceQuery {
        from: source,
        to: destination,
        protocol,
        port,
    };
    Ok((query, resolution))
}

/// Answers from a topology file, compiled here as the daemon would, with
/// the routes the gateways' BGP sessions learn once up as the BGP model
/// predicts them ([`expected_learned`]): every offline answer shows what a
/// running lab would.
pub fn answer_offline(loaded: &Loaded, query: &Query, json: bool) -> Result<String, QueryError> {
    let topology = loaded.topology.clone();
    let learned = expected_learned(&topology);
    let snap = Snapshot::compile_learned(topology, learned, 0);
    answer(&snap, query, json)
}
