//! What one question got: the answer's records and response code, and the
//! chain of steps that produced them (which zone and link, the VM names
//! or the public names, each CNAME followed, each NxDomainRedirect
//! fallback), for the diagnostics to show.

use super::vocabulary::QueryType;
use crate::topology::{RecordData, RecordType, ResolutionPolicy};
use serde::Serialize;

/// The response codes Azure DNS's answers carry, spelled as `dig` prints
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, strum::IntoStaticStr)]
#[serde(rename_all = "UPPERCASE")]
#[strum(serialize_all = "UPPERCASE")]
pub enum Rcode {
    /// An answer, or a name with no record of the type asked (NODATA).
    NoError,
    /// The question could not be read.
    FormErr,
    /// A CNAME loop or a chain too long to follow.
    ServFail,
    /// No such name.
    NxDomain,
    /// An operation or question type vnetd does not answer.
    NotImp,
    /// A class other than IN.
    Refused,
    /// An EDNS version other than 0.
    BadVers,
}

impl Rcode {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One record of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerRecord {
    /// Its owner: lower case, without the final dot.
    pub name: String,
    pub ttl: u32,
    pub data: RecordData,
}

impl AnswerRecord {
    pub fn record_type(&self) -> RecordType {
        type_of(&self.data)
    }
}

/// The type of a record holding `data`.
pub(super) fn type_of(data: &RecordData) -> RecordType {
    match data {
        RecordData::A(_) => RecordType::A,
        RecordData::Aaaa(_) => RecordType::Aaaa,
        RecordData::Cname(_) => RecordType::Cname,
        RecordData::Mx { .. } => RecordType::Mx,
        RecordData::Ptr(_) => RecordType::Ptr,
        RecordData::Srv { .. } => RecordType::Srv,
        RecordData::Txt(_) => RecordType::Txt,
    }
}

/// Where a record set of a zone comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// Written in the topology file, at this line.
    Written { line: usize },
    /// Written by a Private Endpoint's DNS zone group.
    ZoneGroup { endpoint: String },
    /// A VM registered by a link with `registration_enabled`.
    Registered { vm: String },
}

/// Who answered one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// A Private DNS zone linked to the VNet, through this link.
    Zone {
        zone: String,
        link: String,
        #[serde(serialize_with = "policy_name")]
        resolution_policy: ResolutionPolicy,
        /// The record set that answered, if one did.
        #[serde(skip_serializing_if = "Option::is_none")]
        origin: Option<Origin>,
        /// The answer was made from the zone's wildcard record set (its
        /// owner name).
        #[serde(skip_serializing_if = "Option::is_none")]
        wildcard: Option<String>,
    },
    /// Azure DNS's names of the VNet's own VMs.
    VmNames {
        #[serde(skip_serializing_if = "Option::is_none")]
        vm: Option<String>,
    },
    /// A public name vnetd knows: a Private Link resource's (`stcontoso
    /// (blob)`).
    PublicNames { resource: String },
    /// A rule of a DNS forwarding ruleset linked to the VNet: the longest
    /// rule that covers the name, more specific than any linked zone that
    /// holds it.
    Rule {
        ruleset: String,
        rule: String,
        /// The rule's domain (`.` for the root).
        domain: String,
    },
    /// No zone, VM or public name vnetd knows holds the name; vnetd asks
    /// no server on the Internet.
    Nobody,
}

/// A link's resolution policy as Azure spells it.
fn policy_name<S: serde::Serializer>(policy: &ResolutionPolicy, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(policy.as_str())
}

/// What one step found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepResult {
    /// Records of the type asked (`count` of them).
    Records { count: usize },
    /// A CNAME, followed to its target.
    Cname { target: String },
    /// The name exists without records of the type asked (NODATA).
    NoData,
    /// No such name.
    NxDomain,
    /// No such name in the zone, and its link's `NxDomainRedirect` sends
    /// the question on to public resolution.
    Redirected,
    /// The CNAME's target was already asked in this chain: SERVFAIL.
    Loop { target: String },
    /// The chain has more than [`super::vocabulary::MAX_CNAME_STEPS`] CNAMEs: SERVFAIL.
    TooLong { target: String },
    /// Sent on to the rule's targets from an outbound endpoint: their
    /// answer is the rest of the answer.
    Forwarded { targets: Vec<String> },
}

/// One step of a resolution: the name asked, who answered, what it found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub name: String,
    pub source: Source,
    pub result: StepResult,
}

/// The answer to one question from one VNet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// The name asked, lower case, without the final dot.
    pub name: String,
    pub query_type: QueryType,
    pub rcode: Rcode,
    /// The answer section: each CNAME followed, then the records found.
    pub answers: Vec<AnswerRecord>,
    /// How the answer was found, step by step.
    pub chain: Vec<Step>,
    /// Where a forwarding rule sends the rest of the question; `answers`
    /// then holds the CNAMEs followed before it.
    pub forward: Option<Forward>,
}

/// The part of a question a forwarding rule sends on: the name reached
/// (the one asked, or a CNAME's target), to the rule's targets, from one
/// of the ruleset's outbound endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub name: String,
    pub targets: Vec<std::net::SocketAddr>,
    /// `(resolver, outbound endpoint)`, in the ruleset's order.
    pub outbound: Vec<(crate::topology::ResolverIdx, usize)>,
}

impl Resolution {
    /// The addresses the answer ends at (what `dig +short` prints last).
    pub fn addresses(&self) -> Vec<std::net::IpAddr> {
        self.answers
            .iter()
            .filter_map(|r| match r.data {
                RecordData::A(a) => Some(a.into()),
                RecordData::Aaaa(a) => Some(a.into()),
                _ => None,
            })
            .collect()
    }
}
