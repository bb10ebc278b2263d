//! The outcome of the file's `expectations` (vnetd's own; Azure has
//! none), however they were tested: `vnetd check` walks each one through
//! the compiled tables ([`super::trace`]), `vnetd verify` sends real
//! packets. Both report with the same [`ExpectationResult`] rows, the same
//! table and the same JSON.

use super::render::{json_text, table};
use super::trace::{trace, Trace, TraceQuery, TRACE_REASONS};
use super::QueryError;
use crate::dataplane::DropReason;
use crate::snapshot::Snapshot;
use crate::topology::{Access, Diagnostic, Endpoint, Expectation, Severity, Topology, Waypoint};
use serde::Serialize;

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
}

/// A verdict on a path: Allow or Deny, the drop reason and where, and the
/// hops crossed (the `via` asked for, or the path found).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Outcome {
    pub result: String,
    pub reason: Option<String>,
    pub at: Option<String>,
    pub via: Vec<String>,
}

/// The JSON of `check --json` and `verify --json`.
#[derive(Debug, Serialize)]
struct Report<'r> {
    passed: usize,
    failed: usize,
    expectations: &'r [ExpectationResult],
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
        };
        let mut problems = Vec::new();
        if observed.result != expected.result {
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
        }
    }
}

fn describe(outcome: &Outcome) -> String {
    let mut text = outcome.result.clone();
    if let Some(reason) = &outcome.reason {
        text.push_str(&format!(" ({reason})"));
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
    let passed = results.iter().filter(|r| r.passed).count();
    let failed = results.len() - passed;
    if json {
        return json_text(&Report {
            passed,
            failed,
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
            vec![
                if r.passed { "ok" } else { "FAIL" }.to_string(),
                r.name.clone(),
                format!("{} -> {}", r.from, r.to),
                flow,
                describe(&r.expected),
                if r.passed {
                    describe(&r.observed)
                } else {
                    r.message.clone()
                },
            ]
        })
        .collect();
    let mut out = table(
        &["RESULT", "EXPECTATION", "PATH", "FLOW", "EXPECTED", "FOUND"],
        &rows,
    );
    out.push_str(&format!("{passed} passed, {failed} failed\n"));
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

/// A trace's verdict as an expectation's outcome.
pub fn outcome_of(found: &Trace) -> Outcome {
    Outcome {
        result: found.verdict.clone(),
        reason: found.reason.clone(),
        at: found.at.clone(),
        via: found.path.clone(),
    }
}
