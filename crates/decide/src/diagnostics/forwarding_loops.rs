//! `vnetd check`'s errors for DNS forwarding loops: each rule that sends a
//! question round a loop (see [`crate::names::forwarding_loops`]), at its
//! line, with the way round and Azure's caution. Azure accepts such a
//! ruleset, so the file still loads (`run` warns of the simplest loop and
//! cuts any at run time); `check`, which judges whether the design works,
//! fails on it.

use crate::names::{forwarding_loops, ForwardingLoop, LoopTurn, NameTables};
use crate::topology::{Diagnostic, Severity, Topology};
use std::collections::HashSet;

/// Azure's caution, quoted in every error.
const AZURE_CAUTION: &str = "Azure cautions: \"This can cause a DNS resolution loop if the VNet \
                             where the resolver is provisioned is also linked to the ruleset\"";

/// One error for each rule that takes part in a forwarding loop of
/// `topology`, at the rule's line, in the order of the file.
pub fn forwarding_loop_errors(topology: &Topology) -> Vec<Diagnostic> {
    let tables = NameTables::compile(topology);
    let mut said = HashSet::new();
    let mut errors: Vec<Diagnostic> = Vec::new();
    for found in forwarding_loops(topology, &tables) {
        for turn in &found.turns {
            if !said.insert((turn.ruleset.clone(), turn.rule.clone())) {
                continue;
            }
            errors.push(Diagnostic {
                file: topology.source.clone(),
                line: rule_line(topology, turn),
                severity: Severity::Error,
                key: format!(
                    "dns_forwarding_rulesets[{}].rules[{}]",
                    turn.ruleset, turn.rule
                ),
                message: message(topology, &found, turn),
            });
        }
    }
    errors.sort_by_key(|d| d.line);
    errors
}

/// The line of the rule a turn takes (the ruleset's, should the rule not
/// be found).
fn rule_line(topology: &Topology, turn: &LoopTurn) -> usize {
    let set = (topology.forwarding_rulesets.iter()).find(|s| s.name == turn.ruleset);
    set.map_or(0, |s| {
        (s.rules.iter())
            .find(|r| r.name == turn.rule)
            .map_or(s.line, |r| r.line)
    })
}

/// What `turn` does and the way round the loop it is part of.
fn message(topology: &Topology, found: &ForwardingLoop, turn: &LoopTurn) -> String {
    let endpoint = |t: &LoopTurn| {
        let resolver = &topology.dns_resolvers[t.endpoint.0];
        let inbound = &resolver.inbound[t.endpoint.1];
        let vnet = &topology.vnets[resolver.vnet].name;
        format!(
            "the inbound endpoint `{}/{}` ({}) of VNet `{vnet}`",
            resolver.name, inbound.name, t.target
        )
    };
    let name = if turn.name.is_empty() {
        "."
    } else {
        &turn.name
    };
    let mut said = if found.turns.len() == 1 {
        format!(
            "the rule sends `{name}` to {}, linked to this ruleset, whose Azure DNS sends it to \
             this rule again",
            endpoint(turn)
        )
    } else {
        let way: Vec<String> = (found.turns.iter())
            .map(|t| {
                format!(
                    "VNet `{}` (rule `{}` of ruleset `{}`) to {}",
                    topology.vnets[t.vnet].name,
                    t.rule,
                    t.ruleset,
                    endpoint(t)
                )
            })
            .collect();
        format!("`{name}` goes round {}, and back", way.join(", then "))
    };
    said.push_str(&format!(
        ": the question never leaves the lab, a DNS resolution loop ({AZURE_CAUTION})"
    ));
    said
}
