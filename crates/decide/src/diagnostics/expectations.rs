//! The outcome of the file's `expectations` (vnetd's own; Azure has
//! none), however they were tested: `vnetd check` walks each one through
//! the compiled tables ([`super::trace`]), `vnetd verify` sends real
//! packets. Both report with the same [`ExpectationResult`] rows, the same
//! table and the same JSON.

use super::render::{json_text, table};
use super::trace::{reply_failure, trace, Trace, TraceQuery, TRACE_REASONS};
use super::QueryError;
use crate::dataplane::DropReason;
use crate::policy::bgp::expected_learned;
use crate::snapshot::Snapshot;
use crate::topology::{Access, Diagnostic, Endpoint, Expectation, Severity, Topology, Waypoint};
use serde::Serialize;
use std::net::IpAddr;

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
}

/// A verdict on a path: Allow or Deny, the drop reason and where, and the
/// hops crossed (the `via` asked for, or the path found).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Outcome {
    pub result: String,
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
    skipped: usize,
    expectations: &'r [ExpectationResult],
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The name of an expectation's source, as written.
pub fn endpoint_name(topology: &Topology, endpoint: Endpoint) -> String {
    match endpoint {
        Endpoint::Nic(nic) => topology.nics[nic].name.clone(),
        Endpoint::SiteHost { site, host } => topology.sites[site].hosts[host].name.clone(),
    }
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
    /// Compares what was observed with what `expectation` asks: the
    /// result, the reason of a Deny when one is named, and every `via`
    /// hop among those crossed (`observed.via`).
    pub fn judge(topology: &Topology, expectation: &Expectation, observed: Outcome) -> Self {
        let expected = Outcome {
            result: expectation.result.as_str().to_string(),
            reason: expectation.reason.as_ref().map(|(r, _)| r.clone()),
            at: None,
            via: expectation
                .via
                .iter()
                .map(|w| waypoint_name(topology, *w))
                .collect(),
            reply: false,
        };
        let mut problems = Vec::new();
        if observed.result != expected.result && observed.reply {
            let from = expectation.to.to_string();
            let to = source_address(topology, expectation).map_or_else(
                || endpoint_name(topology, expectation.from),
                |a| a.to_string(),
            );
            let reply = reply_failure(
                observed.reason.as_deref(),
                observed.at.as_deref(),
                &from,
                &to,
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
        } else if expectation.result == Access::Deny {
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
            to: expectation.to_written.clone(),
            protocol: expectation.protocol.as_str().to_string(),
            port: expectation.port,
            passed: problems.is_empty(),
            message: problems.join("; "),
            expected,
            observed,
            skipped: None,
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
}

/// The address an expectation's source sends from: its address of the
/// destination's family.
pub fn source_address(topology: &Topology, expectation: &Expectation) -> Option<IpAddr> {
    let family = |a: &IpAddr| a.is_ipv4() == expectation.to.is_ipv4();
    match expectation.from {
        Endpoint::Nic(nic) => topology.nics[nic]
            .ip_configurations
            .iter()
            .map(|c| c.address)
            .find(family),
        Endpoint::SiteHost { site, host } => {
            Some(topology.sites[site].hosts[host].address).filter(family)
        }
    }
}

/// An outcome in the words of the table's EXPECTED and FOUND columns:
/// `Deny (nsg_inbound) at vm2 via nva1`.
pub fn describe_outcome(outcome: &Outcome) -> String {
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

/// The results as a table (one row per expectation, then a count), or as
/// JSON.
pub fn render_results(results: &[ExpectationResult], json: bool) -> Result<String, QueryError> {
    let skipped = results.iter().filter(|r| r.skipped.is_some()).count();
    let passed = results.iter().filter(|r| r.passed).count() - skipped;
    let failed = results.len() - passed - skipped;
    if json {
        return json_text(&Report {
            passed,
            failed,
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
            let (result, found) = match &r.skipped {
                Some(why) => ("skip", why.clone()),
                None if r.passed => ("ok", describe_outcome(&r.observed)),
                None => ("FAIL", describe_outcome(&r.observed)),
            };
            vec![
                result.to_string(),
                r.name.clone(),
                format!("{} -> {}", r.from, r.to),
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
    match skipped {
        0 => out.push_str(&format!("{passed} passed, {failed} failed\n")),
        _ => out.push_str(&format!(
            "{passed} passed, {failed} failed, {skipped} skipped (their sources run on other hosts)\n"
        )),
    }
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
            let (reason, line) = e.reason.as_ref()?;
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

/// What the compiled tables say of each expectation: its path traced hop
/// by hop ([`trace`]) and judged.
pub fn evaluate(snap: &Snapshot) -> Vec<ExpectationResult> {
    let t = &snap.topology;
    t.expectations
        .iter()
        .map(|e| {
            let query = TraceQuery {
                from: e.from,
                to: e.to,
                protocol: e.protocol,
                port: e.port,
            };
            match trace(snap, &query) {
                Ok(found) => ExpectationResult::judge(t, e, outcome_of(&found)),
                Err(error) => {
                    let mut result = ExpectationResult::judge(t, e, Outcome::default());
                    result.passed = false;
                    result.message = error.message().to_string();
                    result
                }
            }
        })
        .collect()
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
        reason: found.reason.clone(),
        at: found.at.clone(),
        via: found.path.clone(),
        reply,
    }
}
