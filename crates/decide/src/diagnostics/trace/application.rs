//! What an Azure Firewall's application rules make of a traced request
//! for a name: the network stage passes a connection no network rule
//! matched on to the application rules ([`APPLICATION_RULES`]), and they
//! judge the name the client asks for, which a packet alone does not
//! carry. A trace to a DNS name carries it: the request is judged as a
//! client of the port's usual protocol would send it (HTTP on 80, MSSQL
//! on 1433, TLS with the name as its SNI on any other port), by the same
//! rules and the same matching the firewall's proxy uses
//! ([`crate::policy::firewall::judge_application`]).

use super::Trace;
use crate::policy::firewall::{judge_application, rules_owner, APPLICATION_RULES, DEFAULT_ACTION};
use crate::snapshot::Snapshot;
use crate::topology::{Access, ApplicationProtocol};
use std::net::IpAddr;

/// The application protocol a client speaks to `port`, as the trace takes
/// it.
pub fn protocol_of_port(port: u16) -> ApplicationProtocol {
    match port {
        80 => ApplicationProtocol::Http,
        1433 => ApplicationProtocol::Mssql,
        _ => ApplicationProtocol::Https,
    }
}

/// Judges `found`, a trace of a request for `name` to `port`, by the
/// application rules of the firewall whose network stage passed it on to
/// them; a denial makes the trace a Deny at the firewall (`firewall_denied`,
/// the rule or the default action). A trace that met no such stage is
/// left as it is.
pub fn judge_by_name(snap: &Snapshot, found: &mut Trace, name: &str, port: Option<u16>) {
    let t = &snap.topology;
    let Some(hop) = found
        .hops
        .iter()
        .find(|h| h.inbound.iter().any(|c| c.rule_name == APPLICATION_RULES))
    else {
        return;
    };
    let (Some(receiver), Ok(source)) = (hop.to.clone(), hop.source.parse::<IpAddr>()) else {
        return;
    };
    let Some(firewall) = t.firewalls.iter().find(|f| f.name == receiver) else {
        return;
    };
    let port = port.unwrap_or(0);
    let protocol = protocol_of_port(port);
    let rule = judge_application(t, firewall, source, protocol, port, name);
    let owner = rules_owner(t, firewall);
    let action = rule.map_or(Access::Deny, |r| r.action);
    let named = rule.map_or_else(|| DEFAULT_ACTION.to_string(), |r| r.path());
    found.application_rule = Some(format!(
        "{receiver} judges {name} over {}:{port}: {} by {owner}/{named}",
        protocol.as_str(),
        action.as_str()
    ));
    if action == Access::Deny {
        found.verdict = Access::Deny.as_str().to_string();
        found.reason = Some("firewall_denied".to_string());
        found.at = Some(receiver);
        found.rule = Some(named);
        found.delivered_to = None;
        found.reply = None;
    }
}
