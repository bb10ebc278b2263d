//! `vnetd trace`'s table: one block of hops per direction (the request,
//! then its reply), a verdict line, what the path adds and the names
//! crossed.

use super::answer::{NsgCheck, Trace};
use super::question::reply_failure;
use crate::diagnostics::lookup::QueryError;
use crate::diagnostics::names::render_lookup;
use crate::diagnostics::render::{json_text, table};
use crate::topology::Access;
use std::fmt::Write as _;

/// Microseconds as milliseconds, as short as they are exact to 0.1 ms.
fn ms(us: u32) -> String {
    let tenths = (us + 50) / 100;
    if tenths.is_multiple_of(10) {
        format!("{} ms", tenths / 10)
    } else {
        format!("{}.{} ms", tenths / 10, tenths % 10)
    }
}

/// One side's NSGs: admitted by the flow's state, or the rules met.
fn describe_side(by_state: bool, checks: &[NsgCheck]) -> String {
    if by_state {
        return "reply of an admitted flow (stateful)".to_string();
    }
    describe_checks(checks)
}

fn describe_checks(checks: &[NsgCheck]) -> String {
    if checks.is_empty() {
        return "no NSG".to_string();
    }
    checks
        .iter()
        .map(|c| {
            format!(
                "{} {}: {} ({} {})",
                c.level,
                c.nsg,
                c.rule_name,
                c.priority,
                c.admin_action.unwrap_or(c.access)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The trace as a table of hops and a verdict line, or as JSON.
pub fn render_trace(trace: &Trace, json: bool) -> Result<String, QueryError> {
    if json {
        return json_text(trace);
    }
    let mut out = String::new();
    let flow = match trace.port {
        Some(port) => format!("{} port {port}", trace.protocol),
        None => trace.protocol.clone(),
    };
    // A destination written as a name: how it was found, first.
    let named = match &trace.resolution {
        Some(lookup) => {
            out.push_str(&render_lookup(lookup, &trace.from));
            format!(" ({})", lookup.name)
        }
        None => String::new(),
    };
    let _ = writeln!(
        out,
        "Trace from {} ({}) to {}{named}, {flow}:",
        trace.from, trace.source, trace.destination
    );
    out.push_str(&hop_table(trace));
    if let Some(reply) = &trace.reply {
        let _ = writeln!(
            out,
            "Reply from {} ({}) to {}:",
            reply.from, reply.source, reply.destination
        );
        out.push_str(&hop_table(reply));
    }
    let reply_failed = trace
        .reply
        .as_ref()
        .filter(|r| r.verdict != Access::Allow.as_str());
    let verdict = match (reply_failed, &trace.reason, &trace.delivered_to) {
        (Some(reply), _, _) => {
            let mut text = format!(
                "Deny: {}",
                reply_failure(
                    reply.reason.as_deref(),
                    reply.at.as_deref(),
                    &reply.source,
                    &reply.destination
                )
            );
            if let Some(rule) = &reply.rule {
                let _ = write!(text, " ({rule})");
            }
            text
        }
        (None, None, Some(to)) => {
            let mut text = format!("Allow, delivered to {to}");
            if let Some(back) = trace.reply.as_ref().and_then(|r| r.delivered_to.as_ref()) {
                let _ = write!(text, ", the reply to {back}");
            }
            text
        }
        (None, Some(reason), _) => {
            let mut text = format!("Deny: {reason}");
            if let Some(at) = &trace.at {
                let _ = write!(text, " at {at}");
            }
            if let Some(rule) = &trace.rule {
                let _ = write!(text, " ({rule})");
            }
            text
        }
        (None, None, None) => trace.verdict.clone(),
    };
    let _ = writeln!(out, "Verdict: {verdict}");
    if let Some(service) = &trace.service {
        let _ = writeln!(out, "Service: {service}");
    }
    if let Some(judged) = &trace.application_rule {
        let _ = writeln!(out, "Application rule: {judged}");
    }
    if trace.added_latency_us > 0 || trace.bottleneck.is_some() {
        let mut line = format!("Adds +{} one way", ms(trace.added_latency_us));
        if let Some(b) = &trace.bottleneck {
            let _ = write!(line, "; bottleneck {}", b.what);
        }
        let _ = writeln!(out, "{line}");
    }
    if !trace.path.is_empty() {
        let _ = writeln!(out, "Path: {} > {}", trace.from, trace.path.join(" > "));
    }
    if let Some(reply) = trace.reply.as_ref().filter(|r| !r.path.is_empty()) {
        let _ = writeln!(
            out,
            "Reply path: {} > {}",
            reply.from,
            reply.path.join(" > ")
        );
    }
    Ok(out)
}

/// The table of one direction's hops.
fn hop_table(trace: &Trace) -> String {
    let mut rows = Vec::new();
    for (i, hop) in trace.hops.iter().enumerate() {
        let number = (i + 1).to_string();
        rows.push(vec![
            number,
            hop.nic.clone(),
            "sends".to_string(),
            format!("{} -> {} ({})", hop.source, hop.destination, hop.subnet),
        ]);
        let mut detail = |what: &str, text: String| {
            rows.push(vec![String::new(), String::new(), what.to_string(), text]);
        };
        detail(
            "outbound",
            describe_side(hop.outbound_by_state, &hop.outbound),
        );
        if let Some(public) = &hop.public_address {
            detail("public", public.clone());
        }
        if let Some(route) = &hop.route {
            let ip = if route.next_hop_ip_address.is_empty() {
                String::new()
            } else {
                format!(" {}", route.next_hop_ip_address.join(","))
            };
            detail(
                "route",
                format!(
                    "{} {} -> {}{ip} ({})",
                    route.source, route.address_prefix, route.next_hop_type, route.route_table
                ),
            );
            if let Some(h) = &route.hub {
                let path = if h.as_path.is_empty() {
                    String::new()
                } else {
                    format!(", asPath {}", h.as_path)
                };
                let name = h
                    .route_name
                    .as_deref()
                    .map(|n| format!(" `{n}`"))
                    .unwrap_or_default();
                detail(
                    "hub",
                    format!(
                        "{} {}{name}: {} -> {} {}{path}",
                        h.hub, h.route_table, h.address_prefix, h.next_hop_type, h.next_hop
                    ),
                );
            }
        }
        if let Some(gateway) = &hop.gateway {
            let chain = std::iter::once(gateway).chain(&hop.handed_on);
            detail("gateway", chain.cloned().collect::<Vec<_>>().join(" > "));
        }
        if let Some(peering) = &hop.peering {
            detail("peering", peering.clone());
        }
        if let Some(group) = &hop.connected_group {
            detail(
                "connected",
                format!("connected group of {group} (no peering)"),
            );
        }
        if let Some(lb) = &hop.load_balancer {
            detail(
                "load balancer",
                format!(
                    "{} frontend {}, rule {}, backend {}",
                    lb.name,
                    lb.frontend,
                    lb.rule.as_deref().unwrap_or("none"),
                    lb.backend.as_deref().unwrap_or("none")
                ),
            );
        }
        if let Some(to) = &hop.to {
            let dst = hop
                .received_destination
                .as_ref()
                .filter(|d| **d != hop.destination)
                .map(|d| format!(" (as {d})"))
                .unwrap_or_default();
            if let Some(egress) = &hop.egress {
                detail("leaves by", egress.clone());
            }
            detail("to", format!("{to}{dst}"));
            detail("inbound", describe_side(hop.inbound_by_state, &hop.inbound));
        }
        if let Some(shaping) = &hop.shaping {
            let mut adds = format!("+{} one way", ms(shaping.added_latency_us));
            if shaping.latency_estimated {
                adds.push_str(" (estimated: Azure publishes no round trip for these regions)");
            }
            if shaping.jitter_us > 0 {
                let _ = write!(adds, " (jitter {})", ms(shaping.jitter_us));
            }
            if shaping.loss_ppm > 0 {
                let _ = write!(adds, ", {} % lost", f64::from(shaping.loss_ppm) / 10_000.0);
            }
            let _ = write!(adds, ", MTU {}", shaping.mtu);
            if let Some(mss) = shaping.mss_clamp {
                let _ = write!(adds, ", TCP MSS {mss}");
            }
            detail("adds", adds);
            if let Some(b) = &shaping.bottleneck {
                detail("bottleneck", b.what.clone());
            }
        }
    }
    table(&["HOP", "NIC", "STEP", "DETAIL"], &rows)
}
