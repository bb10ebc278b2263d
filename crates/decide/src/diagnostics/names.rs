//! `vnetd resolve`: what a NIC's name server answers for a name, with the
//! chain that produced the answer (the linked zone and its link, the VM
//! names or the public names, each CNAME followed), read from the
//! snapshot's [`NameTables`](crate::names::NameTables), the tables the
//! running lab's Azure DNS answers from.
//!
//! A NIC whose own or whose VNet's `dns_servers` name other servers does
//! not ask Azure DNS: the answer names the server asked and is not
//! decided, since that server's answer is its own.
//!
//! The same answer gives `trace` and the expectations the address of a
//! destination written as a name ([`lookup_destination`]), and tests a
//! `resolves` expectation ([`expected_name_answer`]), with the same
//! refusal where vnetd cannot know the answer offline.

use super::lookup::QueryError;
use super::render::{json_text, table};
use crate::names::{
    NameServers, Origin, QueryType, Rcode, Reply, Resolution, Source, Step, StepResult,
    INTERNAL_SUFFIX, MAX_CNAME_STEPS,
};
use crate::snapshot::Snapshot;
use crate::topology::{Endpoint, Loaded, Resolve, VnetIdx, AZURE_DNS};
use serde::Serialize;
use serde_json::{json, Value};
use std::net::IpAddr;
use std::str::FromStr;

/// The answer to one `resolve` question.
#[derive(Debug, Clone)]
pub struct NameAnswer {
    pub nic: String,
    pub vnet: String,
    pub name: String,
    pub query_type: QueryType,
    pub servers: NameServers,
    /// Azure DNS's answer; `None` when the NIC asks other servers.
    pub resolution: Option<Resolution>,
    /// What the NIC's first server answered a real question sent from the
    /// NIC's namespace, in a running lab; `None` offline.
    pub live: Option<LiveAnswer>,
}

/// A real question's fate: the server asked and its reply, or why there
/// is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveAnswer {
    pub server: std::net::IpAddr,
    pub reply: Result<Reply, String>,
}

impl NameAnswer {
    /// Whether vnetd knows the answer: Azure DNS was asked, and answered
    /// without forwarding.
    pub fn decided(&self) -> bool {
        self.resolution
            .as_ref()
            .is_some_and(|r| r.forward.is_none())
    }
}

/// A question type as `dig` writes it (`A`, `aaaa`, `MX`, `ANY`).
pub fn parse_query_type(text: &str) -> Result<QueryType, QueryError> {
    QueryType::from_str(&text.to_ascii_uppercase())
        .ok()
        .filter(|t| !matches!(t, QueryType::Unknown(_)))
        .ok_or_else(|| {
            QueryError::usage(format!(
                "--type `{text}`: expected a DNS record type (A, AAAA, CNAME, MX, PTR, SRV, TXT, ANY, ...)"
            ))
        })
}

/// What the NIC named `nic` is answered when it asks for `name`.
pub fn resolve(
    snap: &Snapshot,
    nic: &str,
    name: &str,
    query_type: QueryType,
) -> Result<NameAnswer, QueryError> {
    let t = &snap.topology;
    // A VM stands for its primary NIC; an on-premises host asks its own
    // servers.
    let idx = match (t.endpoint_nic(nic), t.site_host(nic)) {
        (Some(idx), _) => idx,
        (None, Some((site, host))) => {
            let host = &t.sites[site].hosts[host];
            return Ok(NameAnswer {
                nic: nic.to_string(),
                vnet: format!("site {}", t.sites[site].name),
                name: crate::names::normalise(name),
                query_type,
                servers: NameServers::Host(host.dns_servers.clone()),
                resolution: None,
                live: None,
            });
        }
        (None, None) => super::lookup::find_named(snap, &t.nics, nic, "NIC", "NICs")?,
    };
    let vnet = t.nics[idx].subnet.vnet;
    let servers = NameServers::of(t, idx);
    let resolution =
        (servers == NameServers::AzureDns).then(|| snap.names.resolve(vnet, name, query_type));
    Ok(NameAnswer {
        nic: nic.to_string(),
        vnet: t.vnets[vnet].name.clone(),
        name: crate::names::normalise(name),
        query_type,
        servers,
        resolution,
        live: None,
    })
}

/// [`resolve`] from a topology file, compiled here as the daemon would.
pub fn resolve_offline(
    loaded: &Loaded,
    nic: &str,
    name: &str,
    query_type: QueryType,
) -> Result<NameAnswer, QueryError> {
    let snap = Snapshot::compile(loaded.topology.clone(), 0);
    resolve(&snap, nic, name, query_type)
}

/// Who is asked, in words.
fn server_text(servers: &NameServers) -> String {
    match servers {
        NameServers::AzureDns => format!("Azure DNS ({AZURE_DNS})"),
        NameServers::Nic(l) => format!("{} (the NIC's dns_servers)", addresses_text(l)),
        NameServers::Vnet(l) => format!("{} (the VNet's dns_servers)", addresses_text(l)),
        NameServers::Host(l) if l.is_empty() => "no server (the host has no resolv.conf)".into(),
        NameServers::Host(l) => format!("{} (the host's resolv.conf)", addresses_text(l)),
    }
}

/// Addresses joined by commas.
fn addresses_text(addresses: &[IpAddr]) -> String {
    addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn origin_text(origin: &Origin) -> String {
    match origin {
        Origin::Written { line } => format!("written at line {line}"),
        Origin::ZoneGroup { endpoint } => {
            format!("written by endpoint {endpoint}'s DNS zone group")
        }
        Origin::Registered { vm } => format!("VM {vm} registered by the link"),
    }
}

/// Who answered a step, in words.
fn source_text(source: &Source) -> String {
    match source {
        Source::Zone {
            zone,
            link,
            resolution_policy,
            origin,
            wildcard,
        } => {
            let mut s = format!("Private DNS zone {zone} (link {link}");
            if *resolution_policy != crate::topology::ResolutionPolicy::Default {
                s += &format!(", {}", resolution_policy.as_str());
            }
            s.push(')');
            if let Some(w) = wildcard {
                s += &format!(", wildcard {w}");
            }
            if let Some(o) = origin {
                s += &format!(", {}", origin_text(o));
            }
            s
        }
        Source::VmNames { vm: Some(vm) } => format!("VM names ({INTERNAL_SUFFIX}), VM {vm}"),
        Source::VmNames { vm: None } => format!("VM names ({INTERNAL_SUFFIX})"),
        Source::PublicNames { resource } => format!("public name of {resource}"),
        Source::Rule {
            ruleset,
            rule,
            domain,
        } => format!("forwarding rule {rule} ({domain}) of ruleset {ruleset}"),
        Source::Nobody => "nobody: no linked zone, VM or public name holds it".into(),
    }
}

fn result_text(result: &StepResult, query_type: QueryType) -> String {
    match result {
        StepResult::Records { count: 1 } => format!("1 {query_type} record"),
        StepResult::Records { count } => format!("{count} {query_type} records"),
        StepResult::Cname { target } => format!("CNAME to {target}"),
        StepResult::NoData => format!("no {query_type} record (NODATA)"),
        StepResult::NxDomain => "no such name (NXDOMAIN)".into(),
        StepResult::Redirected => "no such name: NxDomainRedirect asks public names".into(),
        StepResult::Loop { target } => {
            format!("CNAME to {target}, asked before: a loop (SERVFAIL)")
        }
        StepResult::TooLong { target } => {
            format!("CNAME to {target}: over {MAX_CNAME_STEPS} CNAMEs (SERVFAIL)")
        }
        StepResult::Forwarded { targets } => format!("sent on to {}", targets.join(", ")),
    }
}

/// The answer as a table, or as vnetd's own JSON.
pub fn render_resolution(answer: &NameAnswer, json: bool) -> Result<String, QueryError> {
    if json {
        return json_text(&json_of(answer));
    }
    let place = match answer.servers {
        NameServers::Host(_) => answer.vnet.clone(),
        _ => format!("VNet {}", answer.vnet),
    };
    let mut out = format!(
        "{} ({place}) asks {} for {} {}\n",
        answer.nic,
        server_text(&answer.servers),
        answer.name,
        answer.query_type
    );
    if let Some(live) = &answer.live {
        out += &live_text(live);
    }
    let Some(r) = &answer.resolution else {
        if answer.live.is_none() {
            out += "\nAzure DNS is not asked: the answer is that server's own, which vnetd \
                    cannot know from the file.\n";
        }
        return Ok(out);
    };
    if answer.live.is_some() {
        out += "\nHow Azure DNS finds it:\n";
    }
    match &r.forward {
        Some(f) => {
            let targets: Vec<String> = f.targets.iter().map(ToString::to_string).collect();
            out += &format!(
                "\nStatus: forwarded: {} is asked of {}, whose answer vnetd cannot know from \
                 the file\n\n",
                f.name,
                targets.join(", ")
            );
        }
        None => out += &format!("\nStatus: {}\n\n", r.rcode.as_str()),
    }
    out += &answers_table(
        (r.answers.iter()).map(|a| (&a.name, a.ttl, a.record_type().as_str(), a.data.text())),
    );
    out += "\nHow it was found:\n\n";
    let steps = step_rows(&r.chain, answer.query_type);
    out += &table(&["Step", "Name", "Answered by", "Result"], &steps);
    Ok(out)
}

/// The rows of a chain's table: the step's number (from 1), its name,
/// who answered it and what it found for a `query_type` question.
fn step_rows(chain: &[Step], query_type: QueryType) -> Vec<Vec<String>> {
    (1..)
        .zip(chain)
        .map(|(i, s)| {
            vec![
                i.to_string(),
                s.name.clone(),
                source_text(&s.source),
                result_text(&s.result, query_type),
            ]
        })
        .collect()
}

/// A real question's reply, as a table.
fn live_text(live: &LiveAnswer) -> String {
    match &live.reply {
        Err(why) => format!("\nAsked {} from the NIC's namespace: {why}\n", live.server),
        Ok(reply) => {
            let mut out = format!(
                "\nAsked {} from the NIC's namespace: {}{}\n\n",
                live.server,
                reply.rcode.as_str(),
                if reply.truncated { ", truncated" } else { "" }
            );
            out += &answers_table(
                (reply.answers.iter())
                    .map(|a| (&a.name, a.ttl, a.record_type.as_str(), a.data.clone())),
            );
            out
        }
    }
}

/// Answer records (name, TTL, type, value) as a table, or a line saying
/// there are none.
fn answers_table<'a>(records: impl Iterator<Item = (&'a String, u32, &'a str, String)>) -> String {
    let rows: Vec<Vec<String>> = records
        .map(|(name, ttl, kind, value)| {
            vec![name.clone(), ttl.to_string(), kind.to_string(), value]
        })
        .collect();
    if rows.is_empty() {
        return "No answer records.\n".to_string();
    }
    table(&["Name", "TTL", "Type", "Value"], &rows)
}

/// vnetd's own JSON shape of an answer.
fn json_of(answer: &NameAnswer) -> Value {
    let (kind, addresses) = match &answer.servers {
        NameServers::AzureDns => ("azure_dns", answer.servers.addresses()),
        NameServers::Nic(l) => ("nic_dns_servers", l.clone()),
        NameServers::Vnet(l) => ("vnet_dns_servers", l.clone()),
        NameServers::Host(l) => ("host_dns_servers", l.clone()),
    };
    let (status, answers, chain) = match &answer.resolution {
        Some(r) => (
            match r.forward {
                Some(_) => json!("Forwarded"),
                None => json!(r.rcode.as_str()),
            },
            r.answers
                .iter()
                .map(|a| {
                    json!({"name": a.name, "ttl": a.ttl,
                           "type": a.record_type().as_str(), "data": a.data.text()})
                })
                .collect(),
            r.chain.iter().map(step_json).collect(),
        ),
        None => (Value::Null, Vec::new(), Vec::new()),
    };
    // A real reply is the answer; the chain says how Azure DNS found it.
    let (status, answers, asked) = match &answer.live {
        Some(LiveAnswer {
            server,
            reply: Ok(reply),
        }) => (
            json!(reply.rcode.as_str()),
            reply.answers.iter().map(|a| json!(a)).collect(),
            json!({"server": server.to_string(), "truncated": reply.truncated}),
        ),
        Some(LiveAnswer {
            server,
            reply: Err(why),
        }) => (
            Value::Null,
            Vec::new(),
            json!({"server": server.to_string(), "error": why}),
        ),
        None => (status, answers, Value::Null),
    };
    json!({
        "nic": answer.nic,
        "vnet": answer.vnet,
        "server": {"kind": kind, "addresses": addresses},
        "decided": answer.decided(),
        "question": {"name": answer.name, "type": answer.query_type.to_string()},
        "status": status,
        "answers": answers,
        "chain": chain,
        "live": asked,
    })
}

fn step_json<T: Serialize>(step: &T) -> Value {
    serde_json::to_value(step).unwrap_or(Value::Null)
}

/// How `trace` and the expectations find the address of a destination
/// written as a DNS name: Azure DNS's answer in the sender's view, read
/// from the snapshot's tables (what the sender's own question gets in the
/// running lab).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameLookup {
    /// The name asked: lower case, without the final dot.
    pub name: String,
    /// `A`, or `AAAA` for a sender without an IPv4 address.
    #[serde(rename = "type")]
    pub query_type: String,
    /// The sender's VNet, whose Azure DNS answers.
    pub vnet: String,
    /// The server asked (168.63.129.16).
    pub server: String,
    pub status: String,
    /// The addresses the answer ends at, in its order: a trace goes to the
    /// first.
    pub addresses: Vec<IpAddr>,
    /// How Azure DNS found them, as `resolve --json` prints its chain.
    pub chain: Vec<Step>,
}

/// Why a destination name gives no address to go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// The answer's status when it holds no address (`NXDOMAIN`,
    /// `NOERROR` for NODATA, `SERVFAIL`); `None` when there is no answer
    /// to go by: vnetd cannot know it offline, or none came.
    pub status: Option<String>,
    /// In words.
    pub why: String,
}

impl Unresolved {
    fn undecided(why: String) -> Self {
        Unresolved { status: None, why }
    }
}

/// The VNet whose Azure DNS answers `from`'s question for `name`; or why
/// vnetd cannot know offline what `from` is answered: it asks other
/// servers (custom `dns_servers`, or an on-premises host's own).
fn azure_dns_view(snap: &Snapshot, from: Endpoint, name: &str) -> Result<VnetIdx, String> {
    let t = &snap.topology;
    match from {
        Endpoint::Nic(nic) => match NameServers::of(t, nic) {
            NameServers::AzureDns => Ok(t.nics[nic].subnet.vnet),
            servers => Err(format!(
                "{} asks {} for {name}, not Azure DNS: vnetd cannot know that server's answer \
                 offline",
                t.nics[nic].name,
                server_text(&servers)
            )),
        },
        Endpoint::SiteHost { site, host } => {
            let host = &t.sites[site].hosts[host];
            if host.dns_servers.is_empty() {
                return Err(format!(
                    "on-premises host {} has no DNS server (`dns_servers`) to ask for {name}",
                    host.name
                ));
            }
            Err(format!(
                "on-premises host {} asks {} for {name}, not Azure DNS: vnetd cannot know that \
                 server's answer offline",
                host.name,
                addresses_text(&host.dns_servers)
            ))
        }
        Endpoint::Internet(_) => Err(format!(
            "the Internet asks no DNS server of the lab for {name}: vnetd cannot know its answer"
        )),
    }
}

/// Why a resolution that a forwarding rule sent on is not known offline.
fn forwarded_text(snap: &Snapshot, vnet: VnetIdx, resolution: &Resolution) -> Option<String> {
    let forward = resolution.forward.as_ref()?;
    let targets: Vec<String> = forward.targets.iter().map(ToString::to_string).collect();
    let rule = resolution.chain.iter().rev().find_map(|s| match &s.source {
        Source::Rule { ruleset, rule, .. } => {
            Some(format!(" (forwarding rule {rule} of ruleset {ruleset})"))
        }
        _ => None,
    });
    Some(format!(
        "Azure DNS of VNet {} sends {} on to {}{}: vnetd cannot know that server's answer offline",
        snap.topology.vnets[vnet].name,
        forward.name,
        targets.join(", "),
        rule.unwrap_or_default()
    ))
}

/// The address family a sender asks for: A when it has an IPv4 address,
/// else AAAA.
fn family_question(snap: &Snapshot, from: Endpoint) -> QueryType {
    let t = &snap.topology;
    let has_v4 = match from {
        Endpoint::Nic(nic) => t.nics[nic]
            .ip_configurations
            .iter()
            .any(|c| c.address.is_ipv4()),
        Endpoint::SiteHost { site, host } => t.sites[site].hosts[host].address.is_ipv4(),
        Endpoint::Internet(_) => true,
    };
    if has_v4 {
        QueryType::A
    } else {
        QueryType::AAAA
    }
}

/// The addresses `from` resolves `name` to, with how they were found; or
/// why vnetd cannot say offline, or that the name has no address.
pub fn lookup_destination(
    snap: &Snapshot,
    from: Endpoint,
    name: &str,
) -> Result<NameLookup, Unresolved> {
    let name = crate::names::normalise(name);
    let vnet = azure_dns_view(snap, from, &name).map_err(Unresolved::undecided)?;
    let query_type = family_question(snap, from);
    let resolution = snap.names.resolve(vnet, &name, query_type);
    if let Some(why) = forwarded_text(snap, vnet, &resolution) {
        return Err(Unresolved::undecided(why));
    }
    let addresses = resolution.addresses();
    let vnet_name = snap.topology.vnets[vnet].name.clone();
    if addresses.is_empty() {
        let status = match resolution.rcode {
            Rcode::NoError => format!("no {query_type} record (NODATA)"),
            rcode => rcode.as_str().to_string(),
        };
        return Err(Unresolved {
            status: Some(resolution.rcode.as_str().to_string()),
            why: format!(
                "{name} has no address in VNet {vnet_name}'s view: Azure DNS answers {status}"
            ),
        });
    }
    Ok(NameLookup {
        name,
        query_type: query_type.to_string(),
        vnet: vnet_name,
        server: AZURE_DNS.to_string(),
        status: resolution.rcode.as_str().to_string(),
        addresses,
        chain: resolution.chain,
    })
}

/// What Azure DNS answers `from` for a `resolves` expectation's name (A,
/// and AAAA when it expects an IPv6 address): the status of the A
/// question and every address, sorted; or why vnetd cannot say offline.
pub fn expected_name_answer(
    snap: &Snapshot,
    from: Endpoint,
    expected: &Resolve,
) -> Result<(Rcode, Vec<IpAddr>), String> {
    let vnet = azure_dns_view(snap, from, &expected.name)?;
    let mut types = vec![QueryType::A];
    if expected.asks_aaaa() {
        types.push(QueryType::AAAA);
    }
    let mut status = Rcode::NoError;
    let mut addresses = Vec::new();
    for (i, query_type) in types.into_iter().enumerate() {
        let resolution = snap.names.resolve(vnet, &expected.name, query_type);
        if let Some(why) = forwarded_text(snap, vnet, &resolution) {
            return Err(why);
        }
        if i == 0 {
            status = resolution.rcode;
        }
        addresses.extend(resolution.addresses());
    }
    addresses.sort();
    addresses.dedup();
    Ok((status, addresses))
}

/// The lookup as the lines `trace` prints before its hops: what was asked
/// and answered, then one line per step of the chain.
pub fn render_lookup(lookup: &NameLookup, from: &str) -> String {
    let mut out = format!(
        "{from} (VNet {}) asks Azure DNS ({}) for {} {}: {}, {}\n",
        lookup.vnet,
        lookup.server,
        lookup.name,
        lookup.query_type,
        lookup.status,
        addresses_text(&lookup.addresses)
    );
    let query_type = QueryType::from_str(&lookup.query_type).unwrap_or(QueryType::A);
    let steps = step_rows(&lookup.chain, query_type);
    out += &table(&["STEP", "NAME", "ANSWERED BY", "RESULT"], &steps);
    out
}
