//! Forwarding loops, found offline: a question that a ruleset's rule sends
//! to an inbound endpoint of the lab is answered there as Azure DNS of the
//! endpoint's VNet, whose own rulesets may send it on again. When that
//! comes back to a VNet it already went through, the question goes round
//! for ever. Azure accepts such a ruleset, and cautions against the
//! simplest one ("This can cause a DNS resolution loop if the VNet where
//! the resolver is provisioned is also linked to the ruleset", Azure's
//! quickstart "Create an Azure DNS Private Resolver using the Azure
//! portal").
//!
//! Each question is followed as Azure DNS answers it, with the same
//! tables (the longest rule that covers the name, unless a linked zone at
//! least as long holds it; CNAMEs followed before a rule), through every
//! target of the rule that is an inbound endpoint (a later target is asked
//! when the earlier ones do not answer). The questions tried are the
//! domains of the rules: a loop through rules of several domains takes
//! the names below the longest of them, and that domain itself goes round
//! it, whatever zones and longer rules take others. A loop through a
//! server outside the lab (an on-premises forwarder sending a name back to
//! an inbound endpoint) cannot be seen here; the running lab cuts it.

use super::resolution::Source;
use super::tables::NameTables;
use super::vocabulary::QueryType;
use crate::topology::{ResolverIdx, Topology, VnetIdx};
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;

/// The port an inbound endpoint answers on.
const DNS_PORT: u16 = 53;

/// One turn of a loop: in the view of `vnet`, `rule` of `ruleset` sends
/// `name` to `target`, an inbound endpoint of `resolver`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LoopTurn {
    pub vnet: VnetIdx,
    pub name: String,
    pub ruleset: String,
    pub rule: String,
    pub target: SocketAddr,
    /// The resolver and the index of its inbound endpoint.
    pub endpoint: (ResolverIdx, usize),
}

/// A question that comes back to where it was asked: its turns, in order;
/// the last one's endpoint answers in the first one's VNet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardingLoop {
    pub turns: Vec<LoopTurn>,
}

/// A question in a VNet's view: where a turn starts.
type Asked = (VnetIdx, String);

/// Where a question is in the search: being followed (on the path), or
/// followed to the end.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Seen {
    OnPath,
    Done,
}

/// Every forwarding loop of `topology`, whose names `tables` answer;
/// each loop once, whichever of its turns it was found from.
pub fn forwarding_loops(topology: &Topology, tables: &NameTables) -> Vec<ForwardingLoop> {
    let domains: BTreeSet<&str> = (topology.forwarding_rulesets.iter())
        .flat_map(|set| set.rules.iter().filter(|r| r.enabled))
        .map(|r| r.domain.as_str())
        .collect();
    let linked: BTreeSet<VnetIdx> = (topology.forwarding_rulesets.iter())
        .flat_map(|set| set.links.iter().copied())
        .collect();
    let mut search = Search {
        topology,
        tables,
        seen: HashMap::new(),
        path: Vec::new(),
        found: Vec::new(),
    };
    for domain in domains {
        search.seen.clear();
        for &vnet in &linked {
            search.follow((vnet, domain.to_string()));
        }
    }
    search.found
}

struct Search<'a> {
    topology: &'a Topology,
    tables: &'a NameTables,
    seen: HashMap<Asked, Seen>,
    /// The questions being followed, each with the turn that left it.
    path: Vec<(Asked, Option<LoopTurn>)>,
    found: Vec<ForwardingLoop>,
}

impl Search<'_> {
    /// Follows `asked` through every turn it takes, recording each loop
    /// that comes back to a question on the path.
    fn follow(&mut self, asked: Asked) {
        if self.seen.contains_key(&asked) {
            return;
        }
        self.seen.insert(asked.clone(), Seen::OnPath);
        self.path.push((asked.clone(), None));
        for turn in self.turns(&asked) {
            let next: Asked = (
                self.topology.dns_resolvers[turn.endpoint.0].vnet,
                turn.name.clone(),
            );
            if let Some(last) = self.path.last_mut() {
                last.1 = Some(turn);
            }
            match self.seen.get(&next) {
                Some(Seen::OnPath) => self.record(&next),
                Some(Seen::Done) => {}
                None => self.follow(next),
            }
        }
        self.path.pop();
        self.seen.insert(asked, Seen::Done);
    }

    /// The turns `asked` takes: its rule's targets that are inbound
    /// endpoints, each with the name sent (the one asked, or a CNAME's
    /// target).
    fn turns(&self, (vnet, name): &Asked) -> Vec<LoopTurn> {
        let resolution = self.tables.resolve(*vnet, name, QueryType::A);
        let Some(forward) = resolution.forward else {
            return Vec::new();
        };
        let Some(Source::Rule { ruleset, rule, .. }) = resolution.chain.last().map(|s| &s.source)
        else {
            return Vec::new();
        };
        let endpoints = self
            .topology
            .dns_resolvers
            .iter_enumerated()
            .flat_map(|(r, resolver)| {
                (resolver.inbound.iter().enumerate()).map(move |(i, e)| ((r, i), e.address))
            });
        let endpoints: Vec<_> = endpoints.collect();
        (forward.targets.iter())
            .filter(|t| t.port() == DNS_PORT)
            .filter_map(|target| {
                let (endpoint, _) = endpoints.iter().find(|(_, a)| *a == target.ip())?;
                Some(LoopTurn {
                    vnet: *vnet,
                    name: forward.name.clone(),
                    ruleset: ruleset.clone(),
                    rule: rule.clone(),
                    target: *target,
                    endpoint: *endpoint,
                })
            })
            .collect()
    }

    /// Records the loop from `back` (a question on the path) to the end
    /// of the path, unless it is one already found from another turn.
    fn record(&mut self, back: &Asked) {
        let Some(start) = self.path.iter().position(|(a, _)| a == back) else {
            return;
        };
        let turns: Vec<LoopTurn> = self.path[start..]
            .iter()
            .filter_map(|(_, t)| t.clone())
            .collect();
        let mut key = turns.clone();
        key.sort();
        let known = self.found.iter().any(|l| {
            let mut other = l.turns.clone();
            other.sort();
            other == key
        });
        if !known {
            self.found.push(ForwardingLoop { turns });
        }
    }
}
