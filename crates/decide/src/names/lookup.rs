//! The resolution of one question in one VNet's view: Azure DNS's order
//! (linked zones, VM names, public names, nothing), each CNAME followed
//! from the top of that order.

use super::resolution::{AnswerRecord, Forward, Rcode, Resolution, Source, Step, StepResult};
use super::tables::{LinkedZone, NameTables, PublicName};
use super::vocabulary::{
    normalise, query_type, QueryType, INTERNAL_SUFFIX, MAX_CNAME_STEPS, PUBLIC_NAME_TTL,
    VM_NAME_TTL,
};
use super::zones::{Node, Set};
use crate::topology::{RecordData, RecordType, ResolutionPolicy, VnetIdx};
use std::net::IpAddr;

/// What one step ends with.
enum Found {
    /// The answer is complete (records, NODATA or NXDOMAIN).
    Done(Rcode),
    /// A CNAME to follow.
    Alias(String),
    /// A forwarding rule takes the rest (set in the resolution).
    Forwarded,
}

impl NameTables {
    /// What Azure DNS (168.63.129.16) answers a VM of `vnet` that asks for
    /// `name` (any case, with or without the final dot) of type
    /// `query_type`. A VNet the tables do not know sees only nothing
    /// (NXDOMAIN).
    pub fn resolve(&self, vnet: VnetIdx, name: &str, query_type: QueryType) -> Resolution {
        let asked = normalise(name);
        let mut resolution = Resolution {
            name: asked.clone(),
            query_type,
            rcode: Rcode::NoError,
            answers: Vec::new(),
            chain: Vec::new(),
            forward: None,
        };
        let mut current = asked;
        let mut seen = vec![current.clone()];
        loop {
            match self.step(vnet, &current, query_type, &mut resolution) {
                Found::Done(rcode) => {
                    resolution.rcode = rcode;
                    return resolution;
                }
                Found::Forwarded => return resolution,
                Found::Alias(target) => {
                    let stop = if seen.contains(&target) {
                        Some(StepResult::Loop {
                            target: target.clone(),
                        })
                    } else if seen.len() > MAX_CNAME_STEPS {
                        Some(StepResult::TooLong {
                            target: target.clone(),
                        })
                    } else {
                        None
                    };
                    if let Some(result) = stop {
                        if let Some(last) = resolution.chain.last_mut() {
                            last.result = result;
                        }
                        resolution.rcode = Rcode::ServFail;
                        resolution.answers.clear();
                        return resolution;
                    }
                    seen.push(target.clone());
                    current = target;
                }
            }
        }
    }

    /// One name in Azure DNS's order: the longest linked zone that holds
    /// it, else the VM names, else the public names, else nothing.
    fn step(&self, vnet: VnetIdx, name: &str, qtype: QueryType, out: &mut Resolution) -> Found {
        let linked = self.views.get(vnet).and_then(|view| {
            view.iter()
                .find(|l| self.zones.get(l.zone).is_some_and(|z| z.holds(name)))
        });
        // A rule beats a linked zone only when its domain is longer: for
        // the same domain the zone answers, NXDOMAIN included (Azure's
        // answers in azure-docs issues 100273 and 109292).
        let zone_labels = linked.map_or(0, |l| self.zones[l.zone].labels());
        let rule = (self.rules.get(vnet).into_iter().flatten())
            .find(|r| r.covers(name))
            .filter(|r| linked.is_none() || r.labels() > zone_labels);
        if let Some(rule) = rule {
            let domain = if rule.domain.is_empty() {
                ".".to_string()
            } else {
                rule.domain.clone()
            };
            push(
                out,
                name,
                Source::Rule {
                    ruleset: rule.ruleset.clone(),
                    rule: rule.rule.clone(),
                    domain,
                },
                StepResult::Forwarded {
                    targets: rule.targets.iter().map(|t| t.to_string()).collect(),
                },
            );
            out.forward = Some(Forward {
                name: name.to_string(),
                targets: rule.targets.clone(),
                outbound: rule.outbound.clone(),
            });
            return Found::Forwarded;
        }
        if let Some(link) = linked {
            if let Some(found) = self.in_zone(link, name, qtype, out) {
                return found;
            }
            // NxDomainRedirect: on to public resolution.
            return self.public(name, qtype, out);
        }
        if let Some(vm) = name.strip_suffix(INTERNAL_SUFFIX) {
            if vm.is_empty() || vm.ends_with('.') {
                return self.vm_name(vnet, name, vm.trim_end_matches('.'), qtype, out);
            }
        }
        self.public(name, qtype, out)
    }

    /// The answer of a linked zone, or `None` when the name is not there
    /// and the link redirects the question to public resolution.
    fn in_zone(
        &self,
        link: &LinkedZone,
        name: &str,
        qtype: QueryType,
        out: &mut Resolution,
    ) -> Option<Found> {
        let zone = &self.zones[link.zone];
        let source = |origin, wildcard: Option<&str>| Source::Zone {
            zone: zone.name.clone(),
            link: link.link.clone(),
            resolution_policy: link.policy,
            origin,
            wildcard: wildcard.map(str::to_string),
        };
        let (sets, wildcard) = match zone.node(name) {
            Node::Exists { sets, wildcard } => (sets, wildcard),
            Node::NxDomain => {
                // Azure redirects A, AAAA and CNAME questions only.
                let redirected = link.policy == ResolutionPolicy::NxDomainRedirect
                    && matches!(qtype, QueryType::A | QueryType::AAAA | QueryType::CNAME);
                let result = if redirected {
                    StepResult::Redirected
                } else {
                    StepResult::NxDomain
                };
                push(out, name, source(None, None), result);
                return (!redirected).then_some(Found::Done(Rcode::NxDomain));
            }
        };
        let alias = sets.iter().find(|s| s.record_type == RecordType::Cname);
        if let (Some(set), false) = (alias, answers_alias(qtype)) {
            let target = match set.records.first() {
                Some(RecordData::Cname(target)) => target.clone(),
                _ => return Some(Found::Done(Rcode::ServFail)),
            };
            add(out, name, set);
            let result = StepResult::Cname {
                target: target.clone(),
            };
            push(
                out,
                name,
                source(Some(set.origin.clone()), wildcard),
                result,
            );
            return Some(Found::Alias(target));
        }
        let matching: Vec<&Set> = sets
            .iter()
            .filter(|s| qtype == QueryType::ANY || query_type(s.record_type) == qtype)
            .collect();
        let count = matching.iter().map(|s| s.records.len()).sum();
        for set in &matching {
            add(out, name, set);
        }
        let origin = matching.first().map(|s| s.origin.clone());
        let result = if count == 0 {
            StepResult::NoData
        } else {
            StepResult::Records { count }
        };
        push(out, name, source(origin, wildcard), result);
        Some(Found::Done(Rcode::NoError))
    }

    /// `<vm>.internal.cloudapp.net`: the VNet's own VMs.
    fn vm_name(
        &self,
        vnet: VnetIdx,
        name: &str,
        label: &str,
        qtype: QueryType,
        out: &mut Resolution,
    ) -> Found {
        let vm = self.vms.get(vnet).and_then(|vms| vms.get(label));
        let source = Source::VmNames {
            vm: vm.map(|v| v.name.clone()),
        };
        let Some(vm) = vm else {
            // The suffix itself exists (it holds the VMs); nothing else.
            let (result, rcode) = if label.is_empty() {
                (StepResult::NoData, Rcode::NoError)
            } else {
                (StepResult::NxDomain, Rcode::NxDomain)
            };
            push(out, name, source, result);
            return Found::Done(rcode);
        };
        let data = match qtype {
            QueryType::A => vm.v4.map(RecordData::A),
            QueryType::AAAA => vm.v6.map(RecordData::Aaaa),
            QueryType::ANY => vm.v4.map(RecordData::A).or(vm.v6.map(RecordData::Aaaa)),
            _ => None,
        };
        answer_one(out, name, source, data, VM_NAME_TTL)
    }

    /// The public names vnetd knows, else nothing.
    fn public(&self, name: &str, qtype: QueryType, out: &mut Resolution) -> Found {
        match self.public.get(name) {
            Some(PublicName::Alias { target, resource }) => {
                let source = Source::PublicNames {
                    resource: resource.clone(),
                };
                if answers_alias(qtype) {
                    let data = Some(RecordData::Cname(target.clone()));
                    return answer_one(out, name, source, data, PUBLIC_NAME_TTL);
                }
                out.answers.push(AnswerRecord {
                    name: name.to_string(),
                    ttl: PUBLIC_NAME_TTL,
                    data: RecordData::Cname(target.clone()),
                });
                let result = StepResult::Cname {
                    target: target.clone(),
                };
                push(out, name, source, result);
                Found::Alias(target.clone())
            }
            Some(PublicName::Address { address, resource }) => {
                let source = Source::PublicNames {
                    resource: resource.clone(),
                };
                let data = matches!(qtype, QueryType::A | QueryType::ANY)
                    .then_some(RecordData::A(*address));
                answer_one(out, name, source, data, PUBLIC_NAME_TTL)
            }
            Some(PublicName::Internet { addresses }) => {
                let source = Source::PublicNames {
                    resource: "the Internet".to_string(),
                };
                let records: Vec<RecordData> = (addresses.iter())
                    .filter_map(|a| match (a, qtype) {
                        (IpAddr::V4(a), QueryType::A | QueryType::ANY) => Some(RecordData::A(*a)),
                        (IpAddr::V6(a), QueryType::AAAA | QueryType::ANY) => {
                            Some(RecordData::Aaaa(*a))
                        }
                        _ => None,
                    })
                    .collect();
                let result = if records.is_empty() {
                    StepResult::NoData
                } else {
                    StepResult::Records {
                        count: records.len(),
                    }
                };
                out.answers
                    .extend(records.into_iter().map(|data| AnswerRecord {
                        name: name.to_string(),
                        ttl: PUBLIC_NAME_TTL,
                        data,
                    }));
                push(out, name, source, result);
                Found::Done(Rcode::NoError)
            }
            None => {
                push(out, name, Source::Nobody, StepResult::NxDomain);
                Found::Done(Rcode::NxDomain)
            }
        }
    }
}

/// A question whose answer is the CNAME itself, not its target's records.
fn answers_alias(qtype: QueryType) -> bool {
    matches!(qtype, QueryType::CNAME | QueryType::ANY)
}

fn push(out: &mut Resolution, name: &str, source: Source, result: StepResult) {
    out.chain.push(Step {
        name: name.to_string(),
        source,
        result,
    });
}

/// The records of `set`, owned by `name` (the name asked, also for a
/// wildcard's).
fn add(out: &mut Resolution, name: &str, set: &Set) {
    out.answers
        .extend(set.records.iter().map(|data| AnswerRecord {
            name: name.to_string(),
            ttl: set.ttl,
            data: data.clone(),
        }));
}

/// One record, or NODATA without one.
fn answer_one(
    out: &mut Resolution,
    name: &str,
    source: Source,
    data: Option<RecordData>,
    ttl: u32,
) -> Found {
    let result = match data {
        Some(data) => {
            out.answers.push(AnswerRecord {
                name: name.to_string(),
                ttl,
                data,
            });
            StepResult::Records { count: 1 }
        }
        None => StepResult::NoData,
    };
    push(out, name, source, result);
    Found::Done(Rcode::NoError)
}
