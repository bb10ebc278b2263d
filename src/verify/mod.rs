//! `vnetd verify`: the topology's `expectations` tested on the running lab
//! with real packets, where `vnetd check` reasons over the compiled tables.
//! What the fabric really does (the NVA's kernel forwarding, a load
//! balancer's probes, BGP routes an on-premises router learned) is only
//! seen this way.
//!
//! For each expectation, in file order:
//!
//! 1. Servers: for TCP and UDP, a listener on the destination port in the
//!    namespace that owns the destination address (a NIC of the file, an
//!    on-premises host, or each backend of a load balancer's frontend at
//!    the rule's backend port), unless that port is bound there already (a
//!    server the user runs, which then answers instead; see [`listeners`]).
//! 2. The probe, from inside the source's namespace: an ICMP echo, a TCP
//!    handshake and one line, or UDP datagrams and their echo (see
//!    [`probe`]). Answered is Allow; no answer in time is Deny.
//! 3. The fabric's own records, asked from the running daemon over the
//!    control socket before and after the probe: the flow table's records
//!    of the probe's flow give the hops it crossed (`via`: NICs, the
//!    gateways their routes lead through, load balancers), and for a Deny
//!    the drop counter that moved gives the reason and the NIC where it was
//!    dropped, a gateway's port named by its gateway; a Deny whose request
//!    a record shows delivered lost its reply (see [`path`]). A probe the
//!    fabric never saw, between two sites joined by Global Reach, is
//!    followed through Microsoft's edge routers instead (see [`edge`]);
//!    one from a site whose router has no route for it (or a reply that
//!    router has none back for) was dropped there, `route_none` at the
//!    site, as the router's own lookup finds.
//!    These are the words of `vnetd check`, so the two can be compared.
//! 4. The verdict, by [`ExpectationResult::judge`], the rows `vnetd check`
//!    prints too. A failed one ends with a reason line ([`Evidence`]):
//!    what the probe saw (no answer within its wait, a reset, an ICMP
//!    error, a connection that opened and did not echo), who else
//!    answered its flow (a backend whose reply was not translated back),
//!    whether any drop counter moved, and what `check` finds for it on
//!    the compiled tables. A Deny that fails its expectation while the lab
//!    has not converged (see [`crate::api::Convergence`]) says what the
//!    lab still lacks: a session down or a route not learned yet explains
//!    a probe with no reply better than any rule.
//!
//! A conversation whose `to` is a DNS name asks for it first, with the
//! real `dig` in the source's namespace, and probes the first address of
//! the answer. A `resolves` expectation is that question alone: the
//! answer's status and addresses, judged as `check` judges Azure DNS's
//! answer from the tables.
//!
//! Probes run one at a time, so the counters that move belong to one probe
//! (traffic of its own in the lab may still move them: the reason is then
//! a best guess, and a drop that no counter shows leaves it unknown).
//! The servers are closed when the run ends, however it ends.

pub mod edge;
pub mod junit;
pub mod listeners;
pub mod path;
pub mod probe;

use crate::api::client::{Client, ClientError};
use crate::api::{Convergence, FlowReport, StatsReport};
use crate::diagnostics::expectations::{
    answer_outcome, describe_outcome, evaluate_offline, ExpectationResult, Outcome,
};
use crate::diagnostics::names::Unresolved;
use crate::topology::ByName;
use crate::topology::{
    self, Destination, Endpoint, Expectation, ExpectedProtocol, Loaded, Reach, Resolve, Test,
    Topology,
};
use listeners::{Listeners, Server, Transport};
use probe::Source;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// Why verify could not run: the daemon could not be asked, or the file
/// does not describe the running lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyError(pub String);

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for VerifyError {}

impl From<ClientError> for VerifyError {
    fn from(e: ClientError) -> Self {
        VerifyError(e.message())
    }
}

/// What verify asks the running daemon between probes.
pub trait Fabric {
    /// Every tracked flow (`vnetd flows --json`).
    fn flows(&self) -> Result<Vec<FlowReport>, VerifyError>;
    /// The counters (`vnetd stats --json`).
    fn stats(&self) -> Result<StatsReport, VerifyError>;
    /// Whether the lab has converged, when it can say.
    fn convergence(&self) -> Option<Convergence> {
        None
    }
}

/// The running daemon, through its control socket.
pub struct ControlSocket(pub Client);

impl Fabric for ControlSocket {
    fn flows(&self) -> Result<Vec<FlowReport>, VerifyError> {
        Ok(self.0.flows(None)?)
    }

    fn stats(&self) -> Result<StatsReport, VerifyError> {
        Ok(self.0.stats()?)
    }

    fn convergence(&self) -> Option<Convergence> {
        self.0.convergence().ok()
    }
}

impl ControlSocket {
    /// The topology the daemon runs now, read from the file text it keeps.
    /// In a lab spread over machines, it is seen as the machine the
    /// daemon runs as sees it.
    pub fn running_topology(&self) -> Result<Loaded, VerifyError> {
        let running = self.0.running_topology()?;
        let options = topology::ParseOptions { allow_empty: true };
        let mut loaded = crate::plan::parse_str_with(&running.source, &running.text, options)
            .map_err(|errors| {
                let list: Vec<String> = errors.iter().map(|d| d.to_string()).collect();
                VerifyError(format!(
                    "the running topology ({}) does not read here:\n{}",
                    running.source,
                    list.join("\n")
                ))
            })?;
        let host = self.0.stats()?.host;
        loaded
            .topology
            .placement
            .run_on(host.as_deref())
            .map_err(VerifyError)?;
        Ok(loaded)
    }
}

/// One expectation's verdict and how long testing it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub result: ExpectationResult,
    pub time: Duration,
}

/// Refuses a file whose NICs or on-premises hosts are not the running
/// lab's: each must be there under the same name, in the same namespace.
pub fn same_namespaces(file: &Topology, running: &Topology) -> Result<(), VerifyError> {
    let mut missing = Vec::new();
    for nic in &file.nics {
        let found = running
            .nics
            .iter()
            .any(|r| r.name == nic.name && r.netns == nic.netns);
        if !found {
            missing.push(format!("NIC {} (namespace {})", nic.name, nic.netns));
        }
    }
    let running_hosts: Vec<_> = running.sites.iter().flat_map(|s| &s.hosts).collect();
    for host in file.sites.iter().flat_map(|s| &s.hosts) {
        if !running_hosts
            .iter()
            .any(|r| r.name == host.name && r.netns == host.netns)
        {
            missing.push(format!(
                "on-premises host {} (namespace {})",
                host.name, host.netns
            ));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(VerifyError(format!(
        "{}: the running lab ({}) has no {}; verify tests the lab that runs: apply the file first",
        file.source,
        running.source,
        missing.join(", no ")
    )))
}

/// Tests every expectation of `topology` on the lab `fabric` runs
/// (`running`, whose namespaces `topology` shares), one at a time, and
/// judges each. The listeners it opens are closed before it returns,
/// also on an error or a panic.
pub fn verify(
    topology: &Topology,
    running: &Topology,
    fabric: &dyn Fabric,
) -> Result<Vec<Verified>, VerifyError> {
    verify_each(topology, running, fabric, &mut |_| {})
}

/// [`verify`], calling `on_result` with each result as soon as it is known
/// (`vnetd ci` prints them as they come).
pub fn verify_each(
    topology: &Topology,
    running: &Topology,
    fabric: &dyn Fabric,
    on_result: &mut dyn FnMut(&Verified),
) -> Result<Vec<Verified>, VerifyError> {
    let mut listeners = Listeners::default();
    let mut out = Vec::new();
    // What `check` finds, computed once the first probe fails.
    let mut predicted: Option<Vec<ExpectationResult>> = None;
    for (n, expectation) in topology.expectations.iter().enumerate() {
        if let Some(why) = placed_elsewhere(topology, running, expectation) {
            let skipped = Verified {
                result: ExpectationResult::skipped(topology, expectation, why),
                time: Duration::ZERO,
            };
            on_result(&skipped);
            out.push(skipped);
            continue;
        }
        let started = Instant::now();
        let (observed, evidence) = match &expectation.test {
            Test::Reach(reach) => observe(
                topology,
                running,
                expectation,
                reach,
                fabric,
                &mut listeners,
            )?,
            Test::Resolve(resolve) => observe_name(topology, expectation.from, resolve),
        };
        let tested = observed.result != "Error";
        let mut result = ExpectationResult::judge(topology, expectation, observed);
        if !result.passed && tested {
            let predicted = predicted.get_or_insert_with(|| evaluate_offline(topology.clone()));
            let check = predicted.get(n).map(|p| describe_outcome(&p.observed));
            result
                .message
                .push_str(&evidence.reason_line(check.as_deref()));
        }
        explain_unconverged(&mut result, fabric);
        let verified = Verified {
            result,
            time: started.elapsed(),
        };
        on_result(&verified);
        out.push(verified);
    }
    listeners.close();
    Ok(out)
}

/// What a probe saw beside its outcome, for a failure's reason line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// What came back, in words ([`probe::Seen::describe`]).
    pub seen: String,
    /// Others than the destination that answered the probe's flow.
    pub answered_by: Vec<String>,
    /// A Deny that no drop counter of the fabric (nor a site's router)
    /// explains.
    pub unexplained: bool,
}

impl Evidence {
    /// The reason line a failed expectation's message ends with: what the
    /// probe saw, who else answered, whether the fabric counted a drop,
    /// and what `check` finds on the compiled tables (`check`).
    pub fn reason_line(&self, check: Option<&str>) -> String {
        let mut line = format!("; observed: {}", self.seen);
        if !self.answered_by.is_empty() {
            line.push_str(&format!(
                "; answered by {} instead (a reply that was not translated back, or sent \
                 from another address)",
                self.answered_by.join(", ")
            ));
        }
        if self.unexplained {
            line.push_str("; no drop counter of the fabric moved");
        }
        if let Some(check) = check {
            line.push_str(&format!("; check finds {check}"));
        }
        line
    }
}

/// In a lab spread over machines, why an expectation's probe is not sent
/// from this one: its source runs on another, whose `vnetd verify` tests
/// it. `None` when the source is here.
fn placed_elsewhere(
    topology: &Topology,
    running: &Topology,
    expectation: &Expectation,
) -> Option<String> {
    let placement = &running.placement;
    placement.local?;
    let (name, host) = match expectation.from {
        Endpoint::Nic(nic) => {
            let name = &topology.nics[nic].name;
            (
                name,
                running.nic_by_name(name).map(|n| running.nic_host(n))?,
            )
        }
        Endpoint::SiteHost { site, .. } => {
            let name = &topology.sites[site].name;
            let found = running.sites.by_name(name)?;
            (name, placement.site_host(found))
        }
        // The Internet runs on the first machine.
        Endpoint::Internet(_) => (&"the Internet".to_string(), crate::topology::FIRST_HOST),
    };
    if placement.is_local(host) {
        return None;
    }
    Some(format!(
        "{name} runs on host {}",
        placement.hosts[host].name
    ))
}

/// Adds to a failed expectation that found Deny, when the lab has not
/// converged at that moment, what it still lacks: a probe into a lab whose
/// BGP sessions are not all up finds Deny for want of a route, not for a
/// rule.
fn explain_unconverged(result: &mut ExpectationResult, fabric: &dyn Fabric) {
    if result.passed || result.observed.result != "Deny" {
        return;
    }
    let Some(state) = fabric.convergence().filter(|s| !s.converged) else {
        return;
    };
    let why = match result.observed.reason {
        None => "no reply",
        Some(_) => "maybe",
    };
    result
        .message
        .push_str(&format!("; {why}: lab not converged: {}", state.missing()));
}

/// The outcome of a probe that could not be sent: neither Allow nor Deny.
fn not_tested(why: String) -> Outcome {
    Outcome {
        result: "Error".to_string(),
        reason: Some(why),
        ..Outcome::default()
    }
}

/// Where a source's DNS questions are asked: its name and namespace, or
/// why it has no server to ask (an on-premises host without
/// `dns_servers` has no `resolv.conf` of the lab's).
fn asker(topology: &Topology, from: Endpoint) -> Result<(String, String), String> {
    match from {
        Endpoint::Nic(nic) => {
            let nic = &topology.nics[nic];
            Ok((nic.name.clone(), nic.netns.clone()))
        }
        Endpoint::SiteHost { site, host } => {
            let host = &topology.sites[site].hosts[host];
            if host.dns_servers.is_empty() {
                return Err(format!(
                    "on-premises host {} has no DNS server (`dns_servers`) to ask",
                    host.name
                ));
            }
            Ok((host.name.clone(), host.netns.clone()))
        }
        Endpoint::Internet(server) => Err(format!(
            "{} asks no DNS server of the lab",
            topology.edge.internet_name(server)
        )),
    }
}

/// The addresses a conversation's destination name resolves to, asked
/// for real from the source's namespace: A records, or AAAA for a source
/// without an IPv4 address, in the answer's order. Without an address,
/// the answer's status, or none when no answer came.
fn resolve_destination(
    topology: &Topology,
    from: Endpoint,
    name: &str,
) -> Result<Vec<IpAddr>, Unresolved> {
    let error = |why| Unresolved { status: None, why };
    let (source, netns) = asker(topology, from).map_err(error)?;
    let has_v4 = match from {
        Endpoint::Nic(nic) => topology.nics[nic]
            .ip_configurations
            .iter()
            .any(|c| c.address.is_ipv4()),
        Endpoint::SiteHost { site, host } => topology.sites[site].hosts[host].address.is_ipv4(),
        Endpoint::Internet(_) => true,
    };
    let query_type = if has_v4 { "A" } else { "AAAA" };
    let answer = probe::dig(&netns, name, query_type).map_err(error)?;
    if answer.addresses.is_empty() {
        let status = match answer.status.as_str() {
            "NOERROR" => format!("no {query_type} record (NODATA)"),
            status => status.to_string(),
        };
        let why = format!("{name} has no address for {source}: its DNS server answers {status}");
        return Err(Unresolved {
            status: Some(answer.status),
            why,
        });
    }
    Ok(answer.addresses)
}

/// Asks a `resolves` expectation's question for real, from the source's
/// namespace (A, and AAAA when an IPv6 address is expected): the status
/// of the A question and every address.
fn observe_name(topology: &Topology, from: Endpoint, resolve: &Resolve) -> (Outcome, Evidence) {
    let untested = |why| (not_tested(why), Evidence::default());
    let (source, netns) = match asker(topology, from) {
        Ok(asker) => asker,
        Err(why) => return untested(why),
    };
    let mut types = vec!["A"];
    if resolve.asks_aaaa() {
        types.push("AAAA");
    }
    let mut status = String::new();
    let mut addresses = Vec::new();
    for query_type in types {
        match probe::dig(&netns, &resolve.name, query_type) {
            Ok(answer) => {
                if status.is_empty() {
                    status = answer.status;
                }
                addresses.extend(answer.addresses);
            }
            Err(why) => return untested(why),
        }
    }
    let outcome = answer_outcome(&status, &addresses);
    let found = match outcome.addresses.as_deref() {
        Some([]) | None => String::new(),
        Some(list) => format!(", {}", list.join(", ")),
    };
    let evidence = Evidence {
        seen: format!(
            "`dig {}` in {source}'s namespace got {status}{found}",
            resolve.name
        ),
        ..Evidence::default()
    };
    (outcome, evidence)
}

/// Where an expectation's probe starts: the source's namespace and its
/// address of the destination's family.
fn source_of(topology: &Topology, from: Endpoint, to: IpAddr) -> Result<Source, String> {
    let (name, netns, addresses): (&str, &str, Vec<IpAddr>) = match from {
        Endpoint::Nic(nic) => {
            let nic = &topology.nics[nic];
            (
                &nic.name,
                &nic.netns,
                nic.ip_configurations.iter().map(|c| c.address).collect(),
            )
        }
        Endpoint::SiteHost { site, host } => {
            let host = &topology.sites[site].hosts[host];
            (&host.name, &host.netns, vec![host.address])
        }
        Endpoint::Internet(server) => {
            let plan = crate::plan::Plan::derive(topology);
            let Some(port) = plan.internet().map(|p| &plan.ports[p]) else {
                return Err("the lab has no Internet to send from".to_string());
            };
            let address = topology
                .edge
                .internet_source(server, to.is_ipv4())
                .ok_or_else(|| {
                    format!(
                        "{} has no address of {to}'s family",
                        topology.edge.internet_name(server)
                    )
                })?;
            return Ok(Source {
                name: topology.edge.internet_name(server),
                netns: port.netns.clone(),
                address,
            });
        }
    };
    let address = addresses
        .into_iter()
        .find(|a| a.is_ipv4() == to.is_ipv4())
        .ok_or_else(|| {
            let family = if to.is_ipv4() { "IPv4" } else { "IPv6" };
            format!("{name} has no {family} address to reach {to} from")
        })?;
    Ok(Source {
        name: name.to_string(),
        netns: netns.to_string(),
        address,
    })
}

/// Sends one conversation's probe (to the first address its destination
/// name resolves to, when it has one) and reads what the fabric recorded
/// of it: the outcome, and what the probe saw beside it.
fn observe(
    topology: &Topology,
    running: &Topology,
    expectation: &Expectation,
    reach: &Reach,
    fabric: &dyn Fabric,
    listeners: &mut Listeners,
) -> Result<(Outcome, Evidence), VerifyError> {
    let (destination, resolved) = match &reach.to {
        Destination::Address(address) => (*address, None),
        Destination::Name(name) => match resolve_destination(topology, expectation.from, name) {
            Ok(addresses) => (addresses[0], Some(addresses)),
            Err(Unresolved { status, why }) => {
                let outcome = match status {
                    Some(status) => answer_outcome(&status, &[]),
                    None => not_tested(why.clone()),
                };
                let evidence = Evidence {
                    seen: why,
                    ..Evidence::default()
                };
                return Ok((outcome, evidence));
            }
        },
    };
    let (mut outcome, evidence) = probe_and_read(
        topology,
        running,
        expectation.from,
        destination,
        reach,
        fabric,
        listeners,
    )?;
    outcome.addresses = resolved.map(|l| l.iter().map(ToString::to_string).collect());
    Ok((outcome, evidence))
}

/// Sends a conversation's probe from `from` to `destination` and reads
/// what the fabric recorded of it.
fn probe_and_read(
    topology: &Topology,
    running: &Topology,
    from: Endpoint,
    destination: IpAddr,
    reach: &Reach,
    fabric: &dyn Fabric,
    listeners: &mut Listeners,
) -> Result<(Outcome, Evidence), VerifyError> {
    let untested = |why| Ok((not_tested(why), Evidence::default()));
    let source = match source_of(topology, from, destination) {
        Ok(source) => source,
        Err(why) => return untested(why),
    };
    let protocol = reach.protocol;
    let port = reach.port.unwrap_or(0);
    let servers = listeners::servers_of(topology, destination, protocol, port);
    let transport = match protocol {
        ExpectedProtocol::Tcp => Some(Transport::Tcp),
        ExpectedProtocol::Udp => Some(Transport::Udp),
        ExpectedProtocol::Icmp => None,
    };
    let mut all_ours = !servers.is_empty();
    if let Some(transport) = transport {
        for at in &servers {
            // A destination on another machine of a spread lab answers
            // with its own server there (a closed TCP port's reset
            // proves the path too).
            if running.placement.local.is_some() && !crate::host::netns::exists(&at.netns) {
                all_ours = false;
                continue;
            }
            match listeners.ensure(at, transport) {
                Ok(Server::Ours) => {}
                Ok(Server::Theirs) => all_ours = false,
                Err(why) => return untested(why),
            }
        }
    }
    let stats_before = fabric.stats()?;
    let flows_before = fabric.flows()?;
    let to = SocketAddr::new(destination, port);
    let probed = match protocol {
        ExpectedProtocol::Icmp => probe::ping(&source, destination),
        // A name asked of a server not verify's own: asked for by name,
        // as a client does, so that what judges names (a firewall's
        // application rules) judges it.
        ExpectedProtocol::Tcp => match &reach.to {
            crate::topology::Destination::Name(name)
                if !all_ours && judged_by_name(topology, port) =>
            {
                probe::tcp_named(&source, to, name)
            }
            _ => probe::tcp(&source, to, all_ours),
        },
        ExpectedProtocol::Udp => probe::udp(&source, to, all_ours),
    };
    let probed = match probed {
        Ok(probed) => probed,
        Err(why) => return untested(why),
    };
    let flows_after = fabric.flows()?;
    let stats_after = fabric.stats()?;
    let mut destinations = vec![destination];
    destinations.extend(
        servers
            .iter()
            .map(|s| s.bind.ip())
            .filter(|ip| !ip.is_unspecified() && *ip != destination),
    );
    let (translated_sources, translated) =
        path::edge_translations(running, destination, protocol, port);
    destinations.extend(translated);
    let flow = path::ProbeFlow {
        protocol,
        source: source.address,
        translated_sources,
        source_port: probed.source_port,
        destinations,
    };
    let records = path::probe_records(&flows_before, &flows_after, &flow);
    let mut via = path::hops(running, &records, &source.name, destination);
    if records.is_empty() {
        via = edge::global_reach_hops(topology, from, destination);
    }
    // A server of the user's that does not answer UDP: the datagram was
    // let through if a NIC that serves the port received it.
    let delivered = records
        .iter()
        .any(|r| r.direction == "Inbound" && servers.iter().any(|s| s.holder == r.nic));
    let mut near: Vec<String> = vec![source.name.clone()];
    near.extend(records.iter().map(|r| r.nic.clone()));
    near.extend(servers.iter().map(|s| s.holder.clone()));
    let dropped = path::drop_of(running, &stats_before, &stats_after, &near);
    // A reset the fabric sent for a SYN it dropped (a NAT gateway's answer
    // to an unknown connection) opened nothing: the probe was denied.
    let mut seen = probed.seen;
    if seen == probe::Seen::Reset && dropped.is_some() {
        seen = probe::Seen::ResetByFabric;
    }
    let answered = probed.answered && seen != probe::Seen::ResetByFabric;
    let allowed = answered || (protocol == ExpectedProtocol::Udp && !all_ours && delivered);
    let mut evidence = Evidence {
        seen: seen.describe(protocol, to),
        answered_by: path::answered_by_others(
            &flows_before,
            &flows_after,
            &flow,
            &source.name,
            destination,
        ),
        unexplained: false,
    };
    if allowed {
        let outcome = Outcome {
            result: "Allow".to_string(),
            via,
            ..Outcome::default()
        };
        return Ok((outcome, evidence));
    }
    // Delivered and not answered: the reply is what was lost.
    let reply = path::delivered(running, &records);
    let (mut reason, mut at) = dropped.unzip();
    if let probe::Seen::RefusedByName(_) = &seen {
        // A firewall's proxy refused the name: the firewall it crossed,
        // whatever else its counters met meanwhile (its kernel's own
        // packets the fabric does not route).
        if let Some(firewall) = path::firewall_crossed(topology, &records) {
            (reason, at) = (Some("firewall_denied".to_string()), Some(firewall));
        }
    }
    if reason.is_none() {
        // No counter of the fabric moved: an on-premises router that has
        // no route drops what the fabric never sees (the request from its
        // site, or the reply back from a site it reached).
        let dropped = match (from, reply) {
            (Endpoint::SiteHost { site, .. }, false) => {
                edge::site_router_drop(topology, site, destination)
            }
            (_, true) => path::site_of_delivery(running, &records)
                .and_then(|site| topology.sites.by_name(&running.sites[site].name))
                .and_then(|site| edge::site_router_drop(topology, site, source.address)),
            _ => None,
        };
        (reason, at) = dropped.unzip();
        evidence.unexplained = reason.is_none();
    }
    let outcome = Outcome {
        result: "Deny".to_string(),
        reason,
        at,
        via,
        reply,
        ..Outcome::default()
    };
    Ok((outcome, evidence))
}

/// Whether a firewall of `topology` may judge TCP to `port` by the name
/// asked: one of its application rules takes that port.
fn judged_by_name(topology: &Topology, port: u16) -> bool {
    topology
        .firewall_policies
        .iter()
        .flat_map(|p| &p.application_rules)
        .any(|r| r.protocols.iter().any(|p| p.port == port))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HUB_SPOKE: &str = include_str!("../../config/hub-spoke.yaml");

    fn topology(source: &str, text: &str) -> Topology {
        topology::parse_str(source, text)
            .unwrap_or_else(|e| panic!("{e:?}"))
            .topology
    }

    #[test]
    fn a_file_is_verified_only_on_a_lab_with_its_nics_in_its_namespaces() {
        let running = topology("running.yaml", HUB_SPOKE);
        assert_eq!(
            same_namespaces(&topology("same.yaml", HUB_SPOKE), &running),
            Ok(())
        );
        let moved = HUB_SPOKE.replace(
            "  - name: vm2\n    subnet: spoke2/app\n",
            "  - name: vm2\n    subnet: spoke2/app\n    netns: elsewhere\n",
        );
        assert_eq!(
            same_namespaces(&topology("moved.yaml", &moved), &running),
            Err(VerifyError(
                "moved.yaml: the running lab (running.yaml) has no NIC vm2 (namespace \
                 elsewhere); verify tests the lab that runs: apply the file first"
                    .to_string()
            ))
        );
    }

    #[test]
    fn a_failures_reason_line_says_what_was_seen_and_what_check_finds() {
        let evidence = Evidence {
            seen: "no answer to the TCP SYN to 10.0.2.100:80 within 2 s (neither SYN-ACK nor \
                   reset)"
                .into(),
            answered_by: vec!["10.0.2.4:80".into()],
            unexplained: true,
        };
        assert_eq!(
            evidence.reason_line(Some("Allow via web-ilb > web1")),
            "; observed: no answer to the TCP SYN to 10.0.2.100:80 within 2 s (neither SYN-ACK \
             nor reset); answered by 10.0.2.4:80 instead (a reply that was not translated back, \
             or sent from another address); no drop counter of the fabric moved; check finds \
             Allow via web-ilb > web1"
        );
    }

    #[test]
    fn the_source_speaks_the_destinations_family() {
        let t = topology("lab.yaml", HUB_SPOKE);
        let e = t.expectations[0].clone();
        let to = e.reach().unwrap().to.address().unwrap();
        assert_eq!(
            source_of(&t, e.from, to),
            Ok(Source {
                name: "vm1".into(),
                netns: "vm1".into(),
                address: "10.1.1.4".parse().unwrap(),
            })
        );
        assert_eq!(
            source_of(&t, e.from, "fd00::4".parse().unwrap()),
            Err("vm1 has no IPv6 address to reach fd00::4 from".to_string())
        );
    }
}
