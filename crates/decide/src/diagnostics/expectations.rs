//! The outcome of the file's `expectations` (vnetd's own; Azure has
//! none), however they were tested: `vnetd check` walks each conversation
//! through the compiled tables ([`super::trace`]) and reads each name's
//! answer from Azure DNS's tables ([`super::names`]), `vnetd verify` sends
//! real packets and real DNS questions. Both report with the same
//! [`ExpectationResult`] rows, the same table and the same JSON.
//!
//! A conversation whose `to` is a DNS name goes to the first address the
//! source's question gets; offline, that is Azure DNS's answer in the
//! source's VNet. An expectation whose answer is another server's (the
//! source's custom DNS servers, an on-premises host's own, a forwarding
//! rule's targets) cannot be decided offline: `check` reports it apart,
//! as live only ([`ExpectationResult::live_only`], found `Undecided`), and
//! only a running lab tests it.

use super::lookup::QueryError;
use super::names::{expected_name_answer, lookup_destination};
use super::render::{json_text, table};
use super::trace::{endpoint_name, reply_failure, trace, Trace, TraceQuery, TRACE_REASONS};
use crate::dataplane::DropReason;
use crate::policy::bgp::expected_learned;
use crate::snapshot::Snapshot;
use crate::topology::{
    Access, Destination, Diagnostic, DnsStatus, Endpoint, Expectation, Reach, Resolve, Severity,
    Test, Topology, Waypoint,
};
use serde::Serialize;
use std::net::IpAddr;

/// The `protocol` of a `resolves` expectation's row: a DNS question.
pub const DNS_PROTOCOL: &str = "DNS";

/// The `result` of an outcome vnetd cannot know offline (the answer of
/// custom DNS servers, or of a forwarding rule's targets).
pub const UNDECIDED: &str = "Undecided";

/// One expectation, what it asked for, what was found, and whether the two
/// agree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpectationResult {
    pub name: String,
    pub from: String,
    pub to: String,
    pub protocol: String,
    pub port: Option<u16>,
    pub expected: Outcome,
    pub observed: Outcome,
    pub passed: bool,
    /// Why it failed, in words (empty when it passed).
    pub message: String,
    /// Why it was not tested here: in a lab spread over machines, its
    /// source runs on another (`passed` is then true, and `observed`
    /// empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Why only a running lab can decide it: its answer is another DNS
    /// server's, which vnetd cannot know offline (`passed` is then true,
    /// and `observed` is `Undecided`). Never set by a live test.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_only: Option<String>,
}

/// A verdict on a path: Allow or Deny, the drop reason and where, and the
/// hops crossed (the `via` asked for, or the path found); or a name's
/// answer: its status (NOERROR, NXDOMAIN, SERVFAIL) and addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Outcome {
    pub result: String,
    /// The addresses a name's answer ends at: for a `resolves`
    /// expectation, the ones expected (sorted; absent when only the status
    /// is) and found; for a conversation whose `to` is a name, the ones it
    /// resolved to, in the answer's order (the first is the one reached).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<String>>,
    pub reason: Option<String>,
    /// Where the Deny was: a NIC, or a gateway for its ports and the site
    /// tunnels into it.
    pub at: Option<String>,
    pub via: Vec<String>,
    /// The request was delivered and its reply did not come back: `reason`
    /// and `at` are the reply's.
    pub reply: bool,
}

/// The JSON of `check --json` and `verify --json`.
#[derive(Debug, Serialize)]
struct Report<'r> {
    passed: usize,
    failed: usize,
    #[serde(skip_serializing_if = "is_zero")]
    live_only: usize,
    #[serde(skip_serializing_if = "is_zero")]
    skipped: usize,
    expectations: &'r [ExpectationResult],
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The name of a `via` hop, as written.
pub fn waypoint_name(topology: &Topology, waypoint: Waypoint) -> String {
    match waypoint {
        Waypoint::Nic(nic) => topology.nics[nic].name.clone(),
        Waypoint::Gateway(gateway) => topology.gateways[gateway].name.clone(),
        Waypoint::LoadBalancer(lb) => topology.load_balancers[lb].name.clone(),
        Waypoint::Circuit(circuit) => topology.circuits[circuit].name.clone(),
        Waypoint::Firewall(firewall) => topology.firewalls[firewall].name.clone(),
    }
}

impl ExpectationResult {
    /// Compares what was observed with what `expectation` asks: for a
    /// conversation, the result, the reason of a Deny when one is named,
    /// and every `via` hop among those crossed (`observed.via`); for a
    /// name, the status and the addresses, in any order.
    pub fn judge(topology: &Topology, expectation: &Expectation, observed: Outcome) -> Self {
        match &expectation.test {
            Test::Reach(reach) => Self::judge_reach(topology, expectation, reach, observed),
            Test::Resolve(resolve) => Self::judge_name(topology, expectation, resolve, observed),
        }
    }

    fn judge_reach(
        topology: &Topology,
        expectation: &Expectation,
        reach: &Reach,
        observed: Outcome,
    ) -> Self {
        let expected = Outcome {
            result: reach.result.as_str().to_string(),
            reason: reach.reason.as_ref().map(|(r, _)| r.clone()),
            via: reach
                .via
                .iter()
                .map(|w| waypoint_name(topology, *w))
                .collect(),
            ..Outcome::default()
        };
        let mut problems = Vec::new();
        // The address reached: as written, or the first the name resolved to.
        let to = reach.to.address().or_else(|| {
            let first = observed.addresses.as_ref()?.first()?;
            first.parse().ok()
        });
        if observed.result != expected.result && observed.reply {
            let from = to.map_or_else(|| reach.to_written.clone(), |a| a.to_string());
            let back_to = to
                .and_then(|to| source_address(topology, expectation.from, to))
                .map_or_else(
                    || endpoint_name(topology, expectation.from),
                    |a| a.to_string(),
                );
            let reply = reply_failure(
                observed.reason.as_deref(),
                observed.at.as_deref(),
                &from,
                &back_to,
            );
            problems.push(format!(
                "expected {}, found {}: {reply}",
                expected.result, observed.result
            ));
        } else if observed.result != expected.result {
            let mut found = observed.result.clone();
            if let Some(reason) = &observed.reason {
                found.push_str(&format!(" ({reason}"));
                if let Some(at) = &observed.at {
                    found.push_str(&format!(" at {at}"));
                }
                found.push(')');
            }
            problems.push(format!("expected {}, found {found}", expected.result));
        } else if reach.result == Access::Deny {
            if let (Some(want), Some(got)) = (&expected.reason, &observed.reason) {
                if want != got {
                    problems.push(format!("expected reason {want}, found {got}"));
                }
            }
        }
        let missing: Vec<&String> = expected
            .via
            .iter()
            .filter(|hop| !observed.via.contains(hop))
            .collect();
        if !missing.is_empty() {
            let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
            problems.push(format!("did not cross {}", names.join(", ")));
        }
        ExpectationResult {
            name: expectation.name.clone(),
            from: endpoint_name(topology, expectation.from),
            to: reach.to_written.clone(),
            protocol: reach.protocol.as_str().to_string(),
            port: reach.port,
            passed: problems.is_empty(),
            message: problems.join("; "),
            expected,
            observed,
            skipped: None,
            live_only: None,
        }
    }

    fn judge_name(
        topology: &Topology,
        expectation: &Expectation,
        resolve: &Resolve,
        observed: Outcome,
    ) -> Self {
        let expected = expected_answer(resolve);
        let mut found: Option<Vec<IpAddr>> = observed
            .addresses
            .as_ref()
            .map(|l| l.iter().filter_map(|a| a.parse().ok()).collect());
        if let Some(found) = &mut found {
            found.sort();
        }
        let holds = observed.result == expected.result
            && resolve
                .addresses
                .as_ref()
                .is_none_or(|want| found.as_ref() == Some(want));
        let message = match holds {
            true => String::new(),
            false => format!(
                "expected {}, found {}",
                describe_outcome(&expected),
                describe_outcome(&observed)
            ),
        };
        ExpectationResult {
            name: expectation.name.clone(),
            from: endpoint_name(topology, expectation.from),
            to: resolve.name.clone(),
            protocol: DNS_PROTOCOL.to_string(),
            port: None,
            passed: holds,
            message,
            expected,
            observed,
            skipped: None,
            live_only: None,
        }
    }

    /// An expectation not tested here, and why.
    pub fn skipped(topology: &Topology, expectation: &Expectation, why: String) -> Self {
        let mut result = Self::judge(topology, expectation, Outcome::default());
        result.passed = true;
        result.message = String::new();
        result.skipped = Some(why);
        result
    }

    /// An expectation only a running lab can decide, and why: its answer
    /// is another DNS server's.
    pub fn live_only(
        topology: &Topology,
        expectation: &Expectation,
        observed: Outcome,
        why: String,
    ) -> Self {
        let mut result = Self::judge(topology, expectation, observed);
        result.passed = true;
        result.message = String::new();
        result.live_only = Some(why);
        result
    }

    /// Whether it neither failed, nor was left to another machine or to
    /// a running lab.
    pub fn held(&self) -> bool {
        self.passed && self.skipped.is_none() && self.live_only.is_none()
    }

    /// An expectation that failed before anything could be compared: its
    /// destination's name or its answer is not known (`result` says how),
    /// or its trace was refused; `why` is the message.
    pub fn failed(
        topology: &Topology,
        expectation: &Expectation,
        observed: Outcome,
        why: String,
    ) -> Self {
        let mut result = Self::judge(topology, expectation, observed);
        result.passed = false;
        result.message = why;
        result
    }
}

/// What a `resolves` expectation asks, as an outcome: its status and,
/// when written, its addresses.
pub fn expected_answer(resolve: &Resolve) -> Outcome {
    Outcome {
        result: resolve.status.as_str().to_string(),
        addresses: resolve
            .addresses
            .as_ref()
            .map(|l| l.iter().map(ToString::to_string).collect()),
        ..Outcome::default()
    }
}

/// A name's answer as an outcome: its status and addresses (sorted).
pub fn answer_outcome(status: &str, addresses: &[IpAddr]) -> Outcome {
    let mut sorted = addresses.to_vec();
    sorted.sort();
    sorted.dedup();
    Outcome {
        result: status.to_string(),
        addresses: Some(sorted.iter().map(ToString::to_string).collect()),
        ..Outcome::default()
    }
}

/// The address an expectation's source sends to `to` from: its address
/// of `to`'s family.
pub fn source_address(topology: &Topology, from: Endpoint, to: IpAddr) -> Option<IpAddr> {
    let family = |a: &IpAddr| a.is_ipv4() == to.is_ipv4();
    match from {
        Endpoint::Nic(nic) => topology.nics[nic]
            .ip_configurations
            .iter()
            .map(|c| c.address)
            .find(family),
        Endpoint::SiteHost { site, host } => {
            Some(topology.sites[site].hosts[host].address).filter(family)
        }
        Endpoint::Internet(server) => topology.edge.internet_source(server, to.is_ipv4()),
    }
}

/// An outcome in the words of the table's EXPECTED and FOUND columns:
/// `Deny (nsg_inbound) at vm2 via nva1`.
pub fn describe_outcome(outcome: &Outcome) -> String {
    if let Some(addresses) = &outcome.addresses {
        return describe_answer(outcome, addresses);
    }
    let mut text = outcome.result.clone();
    match (&outcome.reason, outcome.reply) {
        (Some(reason), false) => text.push_str(&format!(" ({reason})")),
        (Some(reason), true) => text.push_str(&format!(" (reply: {reason})")),
        (None, true) => text.push_str(" (reply)"),
        (None, false) => {}
    }
    if let Some(at) = &outcome.at {
        text.push_str(&format!(" at {at}"));
    }
    if !outcome.via.is_empty() {
        text.push_str(&format!(" via {}", outcome.via.join(" > ")));
    }
    text
}

/// A name's answer in the table's words: its addresses (`10.0.3.4`), its
/// status when it has none (`NXDOMAIN`, `NOERROR, no address`), or the
/// status alone when no address is stated. A conversation to a name shows
/// its address in the PATH column instead.
fn describe_answer(outcome: &Outcome, addresses: &[String]) -> String {
    if DnsStatus::parse(&outcome.result).is_none() {
        return describe_outcome(&Outcome {
            addresses: None,
            ..outcome.clone()
        });
    }
    match (addresses, outcome.result.as_str()) {
        ([], "NOERROR") => "NOERROR, no address".to_string(),
        ([], status) => status.to_string(),
        (list, "NOERROR") => list.join(", "),
        (list, status) => format!("{status}, {}", list.join(", ")),
    }
}

/// The results as a table (one row per expectation, then a count), or as
/// JSON.
pub fn render_results(results: &[ExpectationResult], json: bool) -> Result<String, QueryError> {
    let skipped = results.iter().filter(|r| r.skipped.is_some()).count();
    let live_only = results.iter().filter(|r| r.live_only.is_some()).count();
    let passed = results.iter().filter(|r| r.held()).count();
    let failed = results.iter().filter(|r| !r.passed).count();
    if json {
        return json_text(&Report {
            passed,
            failed,
            live_only,
            skipped,
            expectations: results,
        });
    }
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            let flow = match r.port {
                Some(port) => format!("{} {}", r.protocol, port),
                None => r.protocol.clone(),
            };
            let (result, found) = match (&r.skipped, &r.live_only) {
                (Some(why), _) => ("skip", why.clone()),
                (None, Some(_)) => ("live", describe_outcome(&r.observed)),
                (None, None) if r.passed => ("ok", describe_outcome(&r.observed)),
                (None, None) => ("FAIL", describe_outcome(&r.observed)),
            };
            // A conversation to a name: the address it went to.
            let reached = match (r.protocol.as_str(), &r.observed.addresses) {
                (DNS_PROTOCOL, _) | (_, None) => String::new(),
                (_, Some(list)) => list.first().map(|a| format!(" ({a})")).unwrap_or_default(),
            };
            vec![
                result.to_string(),
                r.name.clone(),
                format!("{} -> {}{reached}", r.from, r.to),
                flow,
                describe_outcome(&r.expected),
                found,
            ]
        })
        .collect();
    let mut out = table(
        &["RESULT", "EXPECTATION", "PATH", "FLOW", "EXPECTED", "FOUND"],
        &rows,
    );
    out.push_str(&format!("{passed} passed, {failed} failed"));
    if live_only > 0 {
        out.push_str(&format!(", {live_only} live only"));
    }
    if skipped > 0 {
        out.push_str(&format!(
            ", {skipped} skipped (their sources run on other hosts)"
        ));
    }
    out.push('\n');
    Ok(out)
}

/// Each `reason` of the file that names no drop reason, as a refusal
/// with its line. The topology cannot check them: the reasons are the
/// packet path's ([`DropReason`]) and the trace's own ([`TRACE_REASONS`]).
pub fn unknown_reasons(topology: &Topology) -> Vec<Diagnostic> {
    let known: Vec<&str> = DropReason::ALL
        .iter()
        .map(|r| r.as_str())
        .chain(TRACE_REASONS)
        .collect();
    topology
        .expectations
        .iter()
        .filter_map(|e| {
            let (reason, line) = e.reach()?.reason.as_ref()?;
            if known.contains(&reason.as_str()) {
                return None;
            }
            let hint = strsim_closest(reason, &known)
                .map(|k| format!("; did you mean `{k}`?"))
                .unwrap_or_default();
            Some(Diagnostic {
                file: topology.source.clone(),
                line: *line,
                severity: Severity::Error,
                key: format!("expectations[{}].reason", e.name),
                message: format!("`{reason}` is not a drop reason{hint}"),
            })
        })
        .collect()
}

fn strsim_closest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (strsim::levenshtein(word, k), *k))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, k)| k)
}

/// What the compiled tables say of each expectation: a conversation's
/// path traced hop by hop ([`trace`]) to its address (a name's first, as
/// Azure DNS answers the source), a name's answer read from Azure DNS's
/// tables; each judged.
pub fn evaluate(snap: &Snapshot) -> Vec<ExpectationResult> {
    let t = &snap.topology;
    t.expectations
        .iter()
        .map(|e| {
            let result = match &e.test {
                Test::Reach(reach) => evaluate_reach(snap, e, reach),
                Test::Resolve(resolve) => match expected_name_answer(snap, e.from, resolve) {
                    Ok((status, addresses)) => {
                        ExpectationResult::judge(t, e, answer_outcome(status.as_str(), &addresses))
                    }
                    Err(why) => ExpectationResult::failed(t, e, undecided(), why),
                },
            };
            // Undecided, but a running lab asks the source's server for
            // real: live only. A source with no server to ask fails.
            if result.observed.result == UNDECIDED && asks_a_server_live(t, e.from) {
                let (observed, why) = (result.observed, result.message);
                return ExpectationResult::live_only(t, e, observed, why);
            }
            result
        })
        .collect()
}

/// Whether `from`'s DNS questions are asked for real in a running lab: a
/// NIC's always (of Azure DNS or its own servers), an on-premises host's
/// when it has servers; the Internet asks none of the lab's.
fn asks_a_server_live(topology: &Topology, from: Endpoint) -> bool {
    match from {
        Endpoint::Nic(_) => true,
        Endpoint::SiteHost { site, host } => {
            !topology.sites[site].hosts[host].dns_servers.is_empty()
        }
        Endpoint::Internet(_) => false,
    }
}

/// The outcome of what vnetd cannot know offline.
fn undecided() -> Outcome {
    Outcome {
        result: UNDECIDED.to_string(),
        ..Outcome::default()
    }
}

fn evaluate_reach(snap: &Snapshot, e: &Expectation, reach: &Reach) -> ExpectationResult {
    let t = &snap.topology;
    let (to, addresses) = match &reach.to {
        Destination::Address(address) => (*address, None),
        Destination::Name(name) => match lookup_destination(snap, e.from, name) {
            Ok(found) => (found.addresses[0], Some(found.addresses)),
            Err(unresolved) => {
                let observed = match unresolved.status {
                    Some(status) => answer_outcome(&status, &[]),
                    None => undecided(),
                };
                return ExpectationResult::failed(t, e, observed, unresolved.why);
            }
        },
    };
    let query = TraceQuery {
        from: e.from,
        to,
        protocol: reach.protocol,
        port: reach.port,
    };
    let addresses = addresses.map(|l| l.iter().map(ToString::to_string).collect());
    match trace(snap, &query) {
        Ok(mut found) => {
            if let Destination::Name(name) = &reach.to {
                super::trace::judge_by_name(snap, &mut found, name, reach.port);
            }
            let observed = Outcome {
                addresses,
                ..outcome_of(&found)
            };
            ExpectationResult::judge(t, e, observed)
        }
        Err(error) => ExpectationResult::failed(
            t,
            e,
            Outcome {
                addresses,
                ..Outcome::default()
            },
            error.message().to_string(),
        ),
    }
}

/// What `vnetd check` finds for every expectation of `topology`: the
/// topology compiled as a running lab's daemon would, every part of it
/// (a spread lab's too), with what BGP is predicted to learn, then
/// [`evaluate`]d. `verify` names it beside a failure.
pub fn evaluate_offline(mut topology: Topology) -> Vec<ExpectationResult> {
    topology.placement.local = None;
    let learned = expected_learned(&topology);
    evaluate(&Snapshot::compile_learned(topology, learned, 0))
}

/// A trace's verdict as an expectation's outcome: the request's path, and
/// a Deny's reason and place, the reply's when the reply failed.
pub fn outcome_of(found: &Trace) -> Outcome {
    let reply = found
        .reply
        .as_ref()
        .is_some_and(|r| r.verdict != Access::Allow.as_str());
    Outcome {
        result: found.verdict.clone(),
        addresses: None,
        reason: found.reason.clone(),
        at: found.at.clone(),
        via: found.path.clone(),
        reply,
    }
}
