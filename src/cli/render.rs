//! What the commands answered by the running lab print: the daemon's
//! typed answers ([`crate::api::Response`]) laid out as text or JSON, with
//! the exit code each ends with, and the faults the daemon met while
//! answering ([`warnings`]), which the command says on stderr.

use super::Failure;
use crate::api::{ApplyOutcome, FlowReport, FlowsReport, Response, StatsReport};
use crate::diagnostics;

/// The printed form of one answer: stdout, or the failure (its message for
/// stderr and its exit code).
pub fn printed(response: &Response, json: bool) -> Result<String, Failure> {
    Ok(match response {
        Response::Applied(outcome) => render_applied(outcome),
        Response::Diagnosis(d) => d.output.clone(),
        Response::Stats(report) => render_stats(report, json),
        Response::Flows(report) => render_flows(report, json),
        Response::BgpPeerStatus(status) => {
            diagnostics::gateway::render_peer_status(&status.gateway, &status.peers, json)?
        }
        Response::LoadBalancer(status) => diagnostics::load_balancer::render_status(status, json)?,
        Response::RunningTopology(running) => serde_json::to_string(running)
            .map(|text| text + "\n")
            .map_err(|e| Failure::refused(format!("cannot write the running topology: {e}")))?,
        Response::Convergence(state) => serde_json::to_string(state)
            .map(|text| text + "\n")
            .map_err(|e| Failure::refused(format!("cannot write the convergence: {e}")))?,
        Response::Error(e) => {
            return Err(Failure {
                code: e.exit_code(),
                message: e.to_string(),
            })
        }
    })
}

/// The faults the daemon met while answering, which did not stop the
/// answer (each also in its log): an `apply`'s, or what a report could not
/// read. The command says each on stderr, `vnetd: warning: ...`.
pub fn warnings(response: &Response) -> &[String] {
    match response {
        Response::Applied(outcome) => &outcome.warnings,
        Response::Stats(report) => &report.warnings,
        Response::Flows(report) => &report.warnings,
        _ => &[],
    }
}

/// [`warnings`] as the command says them on stderr, a line each.
pub fn warning_lines(response: &Response) -> String {
    warnings(response)
        .iter()
        .map(|w| format!("vnetd: warning: {w}\n"))
        .collect()
}

/// `FILE: applied, generation N; added ...; removed ...; re-plumbed ...`.
pub fn render_applied(s: &ApplyOutcome) -> String {
    let mut out = format!("{}: applied, generation {}", s.source, s.generation);
    for (what, names) in [
        ("added", &s.added),
        ("removed", &s.removed),
        ("re-plumbed", &s.replumbed),
    ] {
        if !names.is_empty() {
            out.push_str(&format!("; {what} {}", names.join(", ")));
        }
    }
    out.push('\n');
    if !s.file.is_empty() {
        out.push_str(&format!("  in the file: {}\n", s.file.join(" ")));
    }
    for (what, lines) in [("changed", &s.changed), ("rebuilt", &s.rebuilt)] {
        for line in lines {
            out.push_str(&format!("  {what}: {line}\n"));
        }
    }
    if s.rebuilt.is_empty() {
        out.push_str("  nothing else was rebuilt: every other namespace, process and BGP session kept running\n");
    }
    out
}

#[allow(
    clippy::too_many_lines,
    reason = "the sections of the stats report, in the order they print"
)]
pub fn render_stats(report: &StatsReport, json: bool) -> String {
    if json {
        return serde_json::to_string_pretty(report).unwrap_or_default() + "\n";
    }
    let mut out = match &report.host {
        Some(host) => format!("host {host}, generation {}\n", report.generation),
        None => format!("generation {}\n", report.generation),
    };
    out.push_str(&format!(
        "{:<14} {:>10} {:>12} {:>13} {:>14} {:>11} {:>15}  drops\n",
        "NIC",
        "sent pkts",
        "sent bytes",
        "received pkts",
        "received bytes",
        "kernel sent",
        "kernel received"
    ));
    for (name, s) in &report.nics {
        let drops: Vec<String> = s.drops.iter().map(|(r, n)| format!("{r}={n}")).collect();
        out.push_str(&format!(
            "{:<14} {:>10} {:>12} {:>13} {:>14} {:>11} {:>15}  {}\n",
            name,
            s.packets_sent,
            s.bytes_sent,
            s.packets_received,
            s.bytes_received,
            s.offloaded_packets_sent,
            s.offloaded_packets_received,
            drops.join(" ")
        ));
    }
    let t = &report.flow_table;
    out.push_str(&format!(
        "flow table: {} flows of {} slots ({:.1} MiB), {} inserted, {} evicted, {} refused\n",
        t.flows,
        t.capacity,
        mebibytes(t.memory_bytes),
        t.inserted,
        t.evicted,
        t.failed_inserts
    ));
    match &report.offload {
        Some(o) => {
            out.push_str(&format!(
                "offload: {} flow directions in the kernel (at most {}, {} per NIC), {} installed, {} removed ({} for a newer plane, {} with their egress gone), {} refused at the cap, {} at a NIC's share, {} toward a NIC gone\n",
                o.entries,
                o.capacity,
                o.share_per_nic,
                o.installed,
                o.removed,
                o.removed_stale,
                o.removed_egress_gone,
                o.refused_full,
                o.refused_share,
                o.refused_egress_gone
            ));
            for (nic, refused) in &o.nics_at_share {
                out.push_str(&format!(
                    "  {nic} held its share: {refused} flows left in userspace\n"
                ));
            }
        }
        None => out.push_str("offload: off (every packet takes the userspace path)\n"),
    }
    if let Some(u) = &report.underlay {
        out.push_str(&format!(
            "underlay: MTU {} between hosts, {} packets sent, {} received, dropped: {} untrusted, \
             {} for hosts not trusted, {} without destination, {} with a wrong VNI, {} for no \
             port here, {} malformed, {} failed\n",
            u.inner_mtu,
            u.sent,
            u.received,
            u.untrusted,
            u.not_trusted,
            u.no_destination,
            u.wrong_vni,
            u.unknown_port,
            u.malformed,
            u.failed
        ));
        for h in &u.hosts {
            let trust = match h.why.as_str() {
                "" => "trusted".to_owned(),
                why => format!("not trusted ({why})"),
            };
            out.push_str(&format!(
                "  host {} ({}): {trust}; {} packets refused, {} not sent\n",
                h.host, h.address, h.refused, h.not_sent
            ));
        }
    }
    for r in &report.global_reach {
        out.push_str(&format!(
            "global reach {}: +{}.{} ms one way, {} packets carried, {} dropped\n",
            r.name,
            r.delay_us / 1000,
            r.delay_us % 1000 / 100,
            r.packets,
            r.dropped
        ));
    }
    if let Some(n) = report.names.as_ref().filter(|n| {
        n.dns_queries
            + n.paas_requests
            + n.application_allowed
            + n.application_denied
            + n.dns_servers_ready
            + n.dns_servers_starting
            + n.dns_servers_failed_starts
            > 0
    }) {
        out.push_str(&format!(
            "azure dns: {} queries, {} answers, {} malformed (dropped), {} forwarded ({} timed out, \
             {} loops cut)\n",
            n.dns_queries,
            n.dns_answers,
            n.dns_malformed,
            n.dns_forwarded,
            n.dns_forward_timeouts,
            n.dns_forward_loops_cut
        ));
        out.push_str(&format!(
            "azure dns over tcp: {} connections refused over a source's share, {} with every one \
             held\n",
            n.dns_tcp_refused_per_source, n.dns_tcp_refused_at_capacity
        ));
        out.push_str(&format!(
            "paas responders: {} requests, {} refused\n",
            n.paas_requests, n.paas_refused
        ));
        if n.application_allowed + n.application_denied + n.application_refused > 0 {
            out.push_str(&format!(
                "firewall application rules: {} allowed, {} denied, {} allowed but unreachable, \
                 {} refused\n",
                n.application_allowed,
                n.application_denied,
                n.application_unreachable,
                n.application_refused
            ));
        }
        out.push_str(&format!(
            "dns servers: {} ready, {} starting, {} failed starts\n",
            n.dns_servers_ready, n.dns_servers_starting, n.dns_servers_failed_starts
        ));
    }
    match &report.shaping {
        Some(s) if !s.on => out.push_str("shaping: off (--no-shaping): no delays or rates\n"),
        Some(s) if s.limits.is_empty() && s.delayed_paths == 0 => {
            out.push_str("shaping: on, nothing to delay or limit\n")
        }
        Some(s) => {
            out.push_str(&format!(
                "shaping: on, {} delayed paths, {} limits\n",
                s.delayed_paths,
                s.limits.len()
            ));
            for line in s.limits.iter().chain(&s.delays) {
                out.push_str(&format!("  {line}\n"));
            }
        }
        None => {}
    }
    if report.flow_log_events_lost > 0 {
        out.push_str(&format!(
            "flow logs: {} deny events lost (the flow-log thread fell behind)\n",
            report.flow_log_events_lost
        ));
    }
    if !report.load_balancer_backends.is_empty() {
        out.push_str(&format!(
            "{:<14} {:<14} {:<14} {:<5} {:<20}  {:>5}  reason\n",
            "load balancer", "probe", "NIC", "state", "since", "flows"
        ));
        for b in &report.load_balancer_backends {
            out.push_str(
                format!(
                    "{:<14} {:<14} {:<14} {:<5} {:<20}  {:>5}  {}",
                    b.load_balancer,
                    b.probe,
                    b.nic,
                    if b.up { "Up" } else { "Down" },
                    b.since,
                    b.flows,
                    b.reason.as_deref().unwrap_or("")
                )
                .trim_end(),
            );
            out.push('\n');
        }
    }
    if !report.routing_daemons.is_empty() {
        out.push_str(&format!(
            "{:<8} {:<16} {:<26} {:<7} {:>8} {:>8}  last exit\n",
            "daemon", "namespace", "serves", "state", "pid", "restarts"
        ));
        for d in &report.routing_daemons {
            let mut last = d.last_exit.clone().unwrap_or_default();
            if let Some(e) = &d.restart_error {
                last.push_str(&format!("; restart failed: {e}"));
            }
            out.push_str(
                format!(
                    "{:<8} {:<16} {:<26} {:<7} {:>8} {:>8}  {}",
                    d.program,
                    d.netns,
                    d.serves,
                    d.state,
                    d.pid.map_or_else(|| "-".to_owned(), |p| p.to_string()),
                    d.restarts,
                    last
                )
                .trim_end(),
            );
            out.push('\n');
        }
    }
    if report.worker_restarts > 0 {
        out.push_str(&format!(
            "workers: failed and restarted {} times (see the daemon's stderr)\n",
            report.worker_restarts
        ));
    }
    let panicked: Vec<String> = report
        .thread_panics
        .iter()
        .filter(|(_, &n)| n > 0)
        .map(|(kind, n)| format!("{kind}={n}"))
        .collect();
    if !panicked.is_empty() {
        out.push_str(&format!(
            "thread panics: {} (caught; threads restarted, connections closed; see the \
             daemon's stderr)\n",
            panicked.join(" ")
        ));
    }
    out
}

fn mebibytes(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// `vnetd flows`: a table, or (`json`) `{"flows":[...]}` with the
/// report's `warnings` when there are any.
pub fn render_flows(report: &FlowsReport, json: bool) -> String {
    if json {
        return serde_json::to_string_pretty(report).unwrap_or_default() + "\n";
    }
    let flows: &[FlowReport] = &report.flows;
    // A spread lab's machine lists its own NICs' flows, and says which.
    let mut out = match flows.iter().find_map(|f| f.host.as_deref()) {
        Some(host) => format!("host {host}\n"),
        None => String::new(),
    };
    out += &format!(
        "{:<10} {:<8} {:<5} {:<22} {:<22} {:>8} {:>8} {:>7} {:<6}  rule / next hop\n",
        "NIC", "dir", "proto", "source", "destination", "pkts >", "pkts <", "idle s", "path"
    );
    for f in flows {
        out.push_str(&format!(
            "{:<10} {:<8} {:<5} {:<22} {:<22} {:>8} {:>8} {:>7} {:<6}  {} {}{}{}{}{}\n",
            f.nic,
            f.direction,
            f.protocol,
            f.source,
            f.destination,
            f.packets_forward,
            f.packets_reverse,
            f.idle_ms / 1000,
            if f.offloaded { "kernel" } else { "vnetd" },
            f.rule.as_deref().unwrap_or("(no NSG)"),
            f.next_hop_type.as_deref().unwrap_or(""),
            if f.gateways.is_empty() {
                String::new()
            } else {
                format!(" ({})", f.gateways.join(" > "))
            },
            match &f.hub {
                Some(hub) => format!(" via hub {hub}"),
                None => String::new(),
            },
            match &f.translated {
                Some(t) => format!("; {t}"),
                None => String::new(),
            },
            match &f.not_offloaded_because {
                Some(why) => format!("; stays in vnetd: {why}"),
                None => String::new(),
            },
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::report::{BackendReport, FlowTableReport, RoutingDaemonReport};
    use std::collections::BTreeMap;

    #[test]
    fn flows_name_each_legs_path_and_why_a_judged_flow_stays_in_vnetd() {
        let flow = |offloaded, why: Option<&str>| FlowReport {
            protocol: "Udp".into(),
            next_hop_type: Some("VirtualAppliance".into()),
            next_hop_ip_address: Some("10.0.1.4".into()),
            packets_forward: 3,
            bytes_forward: 120,
            offloaded,
            not_offloaded_because: why.map(str::to_string),
            ..crate::api::report::sample_flow("vm1", "10.1.1.4:40000", "10.2.1.4:53")
        };
        let report = FlowsReport {
            flows: vec![flow(true, None), flow(false, Some("load_balanced"))],
            warnings: Vec::new(),
        };
        let text = render_flows(&report, false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[1].contains(" kernel ") && !lines[1].contains("stays"),
            "{text}"
        );
        assert!(
            lines[2].contains(" vnetd ")
                && lines[2].ends_with("VirtualAppliance; stays in vnetd: load_balanced"),
            "{text}"
        );
    }

    /// The lines of `text` below the first that starts with `heading`; `what` names the table.
    fn rows_below<'a>(text: &'a str, heading: &str, what: &str) -> Vec<&'a str> {
        let lines: Vec<&str> = text.lines().collect();
        let header = lines
            .iter()
            .position(|l| l.starts_with(heading))
            .expect(what);
        lines[header + 1..].to_vec()
    }

    #[test]
    fn stats_list_the_probed_backends_with_the_reason_of_a_down_one() {
        let backend = |nic: &str, up: bool, reason: Option<&str>| BackendReport {
            load_balancer: "ilb".into(),
            probe: "health".into(),
            nic: nic.into(),
            up,
            since: "2026-11-23T07:50:08Z".into(),
            consecutive_successes: 0,
            consecutive_failures: 0,
            reason: reason.map(str::to_string),
            flows: u64::from(up) * 3,
        };
        let report = StatsReport {
            generation: 4,
            flow_table: FlowTableReport {
                capacity: 1024,
                ..Default::default()
            },
            load_balancer_backends: vec![
                backend("web1", true, None),
                backend("web2", false, Some("connection refused")),
            ],
            ..Default::default()
        };
        let text = render_stats(&report, false);
        let rows = rows_below(&text, "load balancer", "a backend table");
        assert_eq!(
            rows[0],
            "ilb            health         web1           Up    2026-11-23T07:50:08Z      3"
        );
        assert_eq!(
            rows[1],
            "ilb            health         web2           Down  2026-11-23T07:50:08Z      0  connection refused"
        );
        // Without load balancers, no table.
        let quiet = StatsReport {
            load_balancer_backends: Vec::new(),
            ..report
        };
        assert!(!render_stats(&quiet, false).contains("load balancer"));
        // JSON keeps every key, the new one included.
        let json: serde_json::Value = serde_json::from_str(&render_stats(&quiet, true)).unwrap();
        assert_eq!(json["load_balancer_backends"], serde_json::json!([]));
    }

    #[test]
    fn stats_name_each_nics_counters_from_its_side() {
        let report = StatsReport {
            generation: 2,
            nics: BTreeMap::from([(
                "vm1".to_string(),
                crate::api::NicStats {
                    packets_sent: 11,
                    bytes_sent: 1100,
                    packets_received: 7,
                    bytes_received: 700,
                    offloaded_packets_sent: 5,
                    offloaded_packets_received: 3,
                    drops: BTreeMap::from([("nsg_outbound".to_string(), 1)]),
                },
            )]),
            ..Default::default()
        };
        let text = render_stats(&report, false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[1],
            "NIC             sent pkts   sent bytes received pkts received bytes kernel sent kernel received  drops"
        );
        assert_eq!(
            lines[2],
            "vm1                    11         1100             7            700           5               3  nsg_outbound=1"
        );
        let json: serde_json::Value = serde_json::from_str(&render_stats(&report, true)).unwrap();
        assert_eq!(
            json["nics"]["vm1"],
            serde_json::json!({
                "packets_sent": 11, "bytes_sent": 1100,
                "packets_received": 7, "bytes_received": 700,
                "offloaded_packets_sent": 5, "offloaded_packets_received": 3,
                "drops": {"nsg_outbound": 1}
            })
        );
    }

    #[test]
    fn stats_name_the_kinds_of_thread_that_panicked() {
        let report = StatsReport {
            generation: 1,
            flow_table: FlowTableReport {
                capacity: 1024,
                ..Default::default()
            },
            worker_restarts: 1,
            thread_panics: BTreeMap::from([
                ("control".to_string(), 2),
                ("prober".to_string(), 0),
                ("worker".to_string(), 1),
            ]),
            ..Default::default()
        };
        let text = render_stats(&report, false);
        assert!(
            text.ends_with(
                "workers: failed and restarted 1 times (see the daemon's stderr)\n\
                 thread panics: control=2 worker=1 (caught; threads restarted, connections \
                 closed; see the daemon's stderr)\n"
            ),
            "{text}"
        );
        let json: serde_json::Value = serde_json::from_str(&render_stats(&report, true)).unwrap();
        assert_eq!(
            json["thread_panics"],
            serde_json::json!({"control": 2, "prober": 0, "worker": 1})
        );
        // Nothing panicked: no line.
        let quiet = StatsReport {
            thread_panics: BTreeMap::from([("worker".to_string(), 0)]),
            ..report
        };
        assert!(!render_stats(&quiet, false).contains("panic"));
    }

    #[test]
    fn stats_list_the_routing_daemons_with_restarts_and_last_exit() {
        let daemon =
            |program: &str, pid: Option<u32>, restarts, exit: Option<&str>| RoutingDaemonReport {
                program: program.into(),
                netns: "hub-gw-0".into(),
                serves: "gateway hub-gw instance 0".into(),
                state: if pid.is_some() { "running" } else { "down" }.into(),
                pid,
                restarts,
                last_exit: exit.map(str::to_string),
                restart_error: None,
            };
        let old = r#"{"generation": 1, "nics": {}, "flow_table": {"capacity": 1024,
            "flows": 0, "inserted": 0, "evicted": 0, "failed_inserts": 0}}"#;
        let mut report: StatsReport = serde_json::from_str(old).unwrap();
        assert!(!render_stats(&report, false).contains("restarts"));
        report.routing_daemons = vec![
            daemon(
                "gobgpd",
                Some(4242),
                1,
                Some("killed by signal 9 (SIGKILL)"),
            ),
            daemon("bird", None, 0, Some("exit status 1")),
        ];
        let text = render_stats(&report, false);
        let rows = rows_below(&text, "daemon ", "a routing daemon table");
        assert_eq!(
            rows[0],
            "gobgpd   hub-gw-0         gateway hub-gw instance 0  running     4242        1  \
             killed by signal 9 (SIGKILL)"
        );
        assert_eq!(
            rows[1],
            "bird     hub-gw-0         gateway hub-gw instance 0  down           -        0  \
             exit status 1"
        );
        let json: serde_json::Value = serde_json::from_str(&render_stats(&report, true)).unwrap();
        assert_eq!(json["routing_daemons"][0]["restarts"], 1);
        assert_eq!(json["routing_daemons"][1]["state"], "down");
    }

    #[test]
    fn stats_from_a_daemon_without_backends_still_read() {
        let old = r#"{"generation": 1, "nics": {}, "flow_table": {"capacity": 1024,
            "flows": 0, "inserted": 0, "evicted": 0, "failed_inserts": 0}}"#;
        let report: StatsReport = serde_json::from_str(old).unwrap();
        assert!(report.load_balancer_backends.is_empty());
        assert!(report.thread_panics.is_empty());
    }

    #[test]
    fn a_spread_labs_underlay_gives_its_drops_and_each_hosts_trust() {
        let report = StatsReport {
            host: Some("h2".into()),
            underlay: Some(Box::new(crate::api::UnderlayReport {
                inner_mtu: 1500,
                sent: 812,
                received: 790,
                untrusted: 4,
                not_trusted: 3,
                wrong_vni: 1,
                unknown_port: 1,
                hosts: crate::api::report::sample_underlay_hosts(),
                ..Default::default()
            })),
            ..Default::default()
        };
        let text = render_stats(&report, false);
        let at = text.find("underlay:").expect(&text);
        let lines: Vec<&str> = text[at..].lines().take(3).collect();
        assert_eq!(
            lines,
            [
                "underlay: MTU 1500 between hosts, 812 packets sent, 790 received, dropped: 4 \
                 untrusted, 3 for hosts not trusted, 0 without destination, 1 with a wrong VNI, 1 \
                 for no port here, 0 malformed, 0 failed",
                "  host h1 (192.0.2.1): trusted; 0 packets refused, 0 not sent",
                "  host h3 (192.0.2.3): not trusted (it announces no digest of the lab's \
                 numbering); 4 packets refused, 3 not sent",
            ]
        );
    }
}
