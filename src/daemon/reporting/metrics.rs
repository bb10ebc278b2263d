//! Prometheus metrics of a running lab: the counters `vnetd stats` prints
//! and its load balancers' backend health, in the Prometheus text
//! exposition format (version 0.0.4), rendered from a [`StatsReport`],
//! which reads the workers' counters without ever stopping them. The HTTP
//! server that answers `GET /metrics` (`vnetd run --metrics ADDR`, and the
//! live page's server) is [`crate::web`]'s; the packet path knows nothing
//! of either.
//!
//! It may use the daemon's reports and the forwarding room's counters.

use super::report::{BackendReport, StatsReport};
use crate::daemon::forwarding::stats::NicStats;
use crate::dataplane::DropReason;
use std::fmt::Write as _;

/// Azure DNS's and the PaaS responders' counters, when reported.
fn names(out: &mut String, report: &StatsReport) {
    let Some(n) = &report.names else {
        return;
    };
    let families = [
        (
            "vnetd_dns_queries_total",
            "Datagrams that reached Azure DNS (168.63.129.16 or a resolver's inbound endpoint).",
            n.dns_queries,
        ),
        (
            "vnetd_dns_answers_total",
            "Answers Azure DNS sent, NXDOMAIN and SERVFAIL among them.",
            n.dns_answers,
        ),
        (
            "vnetd_dns_malformed_total",
            "Datagrams to Azure DNS that were not a DNS query: dropped.",
            n.dns_malformed,
        ),
        (
            "vnetd_dns_forwarded_total",
            "Queries a forwarding rule sent on from an outbound endpoint.",
            n.dns_forwarded,
        ),
        (
            "vnetd_dns_forward_timeouts_total",
            "Forwarded queries no target answered in time (answered SERVFAIL).",
            n.dns_forward_timeouts,
        ),
        (
            "vnetd_dns_forward_loops_cut_total",
            "Questions answered SERVFAIL unforwarded: a forwarding loop cut.",
            n.dns_forward_loops_cut,
        ),
        (
            "vnetd_paas_requests_total",
            "Requests the PaaS resources behind Private Endpoints answered.",
            n.paas_requests,
        ),
        (
            "vnetd_dns_server_failed_starts_total",
            "Starts of the file's DNS servers that failed (ended, or no answer in time).",
            n.dns_servers_failed_starts,
        ),
    ];
    for (name, help, value) in families {
        family_header(out, name, MetricType::Counter, help);
        let _ = writeln!(out, "{name} {value}");
    }
    let name = "vnetd_firewall_application_requests_total";
    let help = "Requests Azure Firewalls' proxies judged by their application rules, by outcome.";
    family_header(out, name, MetricType::Counter, help);
    for (outcome, value) in [
        ("allowed", n.application_allowed),
        ("denied", n.application_denied),
        ("unreachable", n.application_unreachable),
        ("refused", n.application_refused),
    ] {
        let _ = writeln!(out, "{name}{{outcome=\"{outcome}\"}} {value}");
    }
    let name = "vnetd_dns_tcp_refused_total";
    let help = "TCP connections to Azure DNS closed at once, by the limit that refused them.";
    family_header(out, name, MetricType::Counter, help);
    for (limit, value) in [
        ("per_source", n.dns_tcp_refused_per_source),
        ("capacity", n.dns_tcp_refused_at_capacity),
    ] {
        let _ = writeln!(out, "{name}{{limit=\"{limit}\"}} {value}");
    }
}

/// The media type of the text exposition format, version 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// A metric family's `# TYPE`.
#[derive(Clone, Copy, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub(crate) enum MetricType {
    Counter,
    Gauge,
}

impl MetricType {
    fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A metric family's `# HELP` and `# TYPE` lines.
pub(crate) fn family_header(out: &mut String, name: &str, kind: MetricType, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {}", kind.as_str());
}

/// A label value as the text format wants it inside double quotes:
/// backslash, double quote and newline escaped.
fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Reads one counter out of a NIC's totals.
type NicCounterOf = fn(&NicStats) -> u64;

/// What a backend gauge reads from a backend's report.
type BackendValue = fn(&BackendReport) -> u64;

/// The exposition of one stats report. Every NIC gets a drop series for
/// every [`DropReason`], zero when nothing was dropped for it, so series do
/// not appear and vanish with traffic.
/// A spread lab's machine, as an info metric (joined on `instance` in
/// queries over every host's scrape).
fn host_info(out: &mut String, report: &StatsReport) {
    if let Some(host) = &report.host {
        let name = "vnetd_host_info";
        let help =
            "The machine of a lab spread over several this daemon runs as (`vnetd run --host`).";
        family_header(out, name, MetricType::Gauge, help);
        let _ = writeln!(out, "{name}{{host=\"{}\"}} 1", escape_label_value(host));
    }
}

/// A spread lab's underlay: what crossed it, what it dropped by reason, and
/// each other machine's trust and what was dropped of its packets.
fn underlay(out: &mut String, report: &StatsReport) {
    let Some(u) = &report.underlay else {
        return;
    };
    let name = "vnetd_underlay_packets_total";
    family_header(
        out,
        name,
        MetricType::Counter,
        "Packets this machine's daemon sent to and received from the other machines of the lab over the underlay, labelled by direction.",
    );
    let _ = writeln!(out, "{name}{{direction=\"sent\"}} {}", u.sent);
    let _ = writeln!(out, "{name}{{direction=\"received\"}} {}", u.received);
    let name = "vnetd_underlay_drops_total";
    family_header(
        out,
        name,
        MetricType::Counter,
        "Packets the underlay dropped, by reason: untrusted (from no trusted host), not_trusted (for a host not trusted), no_destination, wrong_vni, unknown_port (for no port of this machine), malformed, failed.",
    );
    for (reason, n) in [
        ("untrusted", u.untrusted),
        ("not_trusted", u.not_trusted),
        ("no_destination", u.no_destination),
        ("wrong_vni", u.wrong_vni),
        ("unknown_port", u.unknown_port),
        ("malformed", u.malformed),
        ("failed", u.failed),
    ] {
        let _ = writeln!(out, "{name}{{reason=\"{reason}\"}} {n}");
    }
    let name = "vnetd_underlay_host_trusted";
    family_header(
        out,
        name,
        MetricType::Gauge,
        "1 while another machine of the lab is trusted (it announced the same numbering of the lab), 0 while not.",
    );
    for h in &u.hosts {
        let _ = writeln!(
            out,
            "{name}{{host=\"{}\"}} {}",
            escape_label_value(&h.host),
            u8::from(h.why.is_empty())
        );
    }
    let name = "vnetd_underlay_host_drops_total";
    family_header(
        out,
        name,
        MetricType::Counter,
        "Packets dropped while another machine was not trusted, labelled by that host and reason: refused (from it), not_sent (for its ports).",
    );
    for h in &u.hosts {
        let host = escape_label_value(&h.host);
        let _ = writeln!(
            out,
            "{name}{{host=\"{host}\",reason=\"refused\"}} {}",
            h.refused
        );
        let _ = writeln!(
            out,
            "{name}{{host=\"{host}\",reason=\"not_sent\"}} {}",
            h.not_sent
        );
    }
}

pub fn render(report: &StatsReport) -> String {
    let mut out = String::new();
    // Named from the NIC's side, as Azure's VM metrics are ("Packets
    // Sent", "Packets Received"); the direction is a label, so that a sum
    // over it is all the NIC's traffic.
    let per_nic: [(&str, &str, [NicCounterOf; 2]); 3] = [
        (
            "vnetd_nic_packets_total",
            "Packets the NIC sent and received, labelled by direction.",
            [|s| s.packets_sent, |s| s.packets_received],
        ),
        (
            "vnetd_nic_bytes_total",
            "IP bytes the NIC sent and received, labelled by direction.",
            [|s| s.bytes_sent, |s| s.bytes_received],
        ),
        (
            "vnetd_nic_offloaded_packets_total",
            "Of the packets the NIC sent and received, those the kernel fast path carried, labelled by direction.",
            [|s| s.offloaded_packets_sent, |s| s.offloaded_packets_received],
        ),
    ];
    for (name, help, [sent, received]) in per_nic {
        family_header(&mut out, name, MetricType::Counter, help);
        for (nic, stats) in &report.nics {
            let nic = escape_label_value(nic);
            for (direction, value) in [("sent", sent), ("received", received)] {
                let _ = writeln!(
                    out,
                    "{name}{{nic=\"{nic}\",direction=\"{direction}\"}} {}",
                    value(stats)
                );
            }
        }
    }

    let name = "vnetd_nic_drops_total";
    family_header(
        &mut out,
        name,
        MetricType::Counter,
        "Packets dropped, by the NIC where the refusing check ran and the reason.",
    );
    for (nic, stats) in &report.nics {
        let nic = escape_label_value(nic);
        for reason in DropReason::ALL {
            let _ = writeln!(
                out,
                "{name}{{nic=\"{nic}\",reason=\"{}\"}} {}",
                escape_label_value(reason.as_str()),
                stats.drops_for(reason)
            );
        }
    }

    let backend_gauges: [(&str, &str, BackendValue); 2] = [
        (
            "vnetd_lb_backend_up",
            "1 while the load balancer's probe finds the backend NIC up, 0 while down.",
            |b| u64::from(b.up),
        ),
        (
            "vnetd_lb_backend_flows",
            "Flows the load balancer placed on the backend NIC that are tracked now.",
            |b| b.flows,
        ),
    ];
    for (name, help, value) in backend_gauges {
        family_header(&mut out, name, MetricType::Gauge, help);
        for b in &report.load_balancer_backends {
            let _ = writeln!(
                out,
                "{name}{{load_balancer=\"{}\",probe=\"{}\",nic=\"{}\"}} {}",
                escape_label_value(&b.load_balancer),
                escape_label_value(&b.probe),
                escape_label_value(&b.nic),
                value(b)
            );
        }
    }

    let t = &report.flow_table;
    let scalars: [(&str, MetricType, &str, u64); 8] = [
        (
            "vnetd_flow_table_flows",
            MetricType::Gauge,
            "Flows tracked now.",
            t.flows as u64,
        ),
        (
            "vnetd_flow_table_capacity",
            MetricType::Gauge,
            "Slots of the flow table, for the flows of all NICs together.",
            t.capacity as u64,
        ),
        (
            "vnetd_flow_table_inserted_total",
            MetricType::Counter,
            "Flows inserted into the flow table.",
            t.inserted,
        ),
        (
            "vnetd_flow_table_evictions_total",
            MetricType::Counter,
            "Flows evicted from the flow table to make room.",
            t.evicted,
        ),
        (
            "vnetd_flow_table_failed_inserts_total",
            MetricType::Counter,
            "Flows the flow table refused for want of room.",
            t.failed_inserts,
        ),
        (
            "vnetd_flow_log_events_lost_total",
            MetricType::Counter,
            "Deny events that could not reach the flow logs (the flow-log thread fell behind).",
            report.flow_log_events_lost,
        ),
        (
            "vnetd_worker_restarts_total",
            MetricType::Counter,
            "Times a forwarding worker failed (an error or a panic) and was started again.",
            report.worker_restarts,
        ),
        (
            "vnetd_snapshot_generation",
            MetricType::Gauge,
            "Generation of the tables being forwarded with: 1 at start, one more per accepted apply, change of the routes learned over BGP and change of a backend's probe health.",
            report.generation,
        ),
    ];
    for (name, kind, help, value) in scalars {
        family_header(&mut out, name, kind, help);
        let _ = writeln!(out, "{name} {value}");
    }
    host_info(&mut out, report);
    underlay(&mut out, report);
    names(&mut out, report);

    let name = "vnetd_thread_panics_total";
    family_header(
        &mut out,
        name,
        MetricType::Counter,
        "Panics caught in the daemon's threads, by kind of thread (restarted, or its connection closed).",
    );
    for (thread, n) in &report.thread_panics {
        let _ = writeln!(
            out,
            "{name}{{thread=\"{}\"}} {n}",
            escape_label_value(thread)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::reporting::report::FlowTableReport;
    use std::collections::BTreeMap;

    fn report(nics: &[(&str, NicStats)]) -> StatsReport {
        StatsReport {
            generation: 3,
            host: None,
            nics: nics
                .iter()
                .map(|(n, s)| (n.to_string(), s.clone()))
                .collect(),
            flow_table: FlowTableReport {
                capacity: 1024,
                memory_bytes: 139_264,
                flows: 2,
                inserted: 5,
                evicted: 1,
                failed_inserts: 0,
            },
            flow_log_events_lost: 0,
            worker_restarts: 0,
            thread_panics: crate::daemon::threads::ThreadPanics::default().by_kind(),
            load_balancer_backends: vec![
                backend("web1", true, None),
                backend("web2", false, Some("HTTP 404")),
            ],
            routing_daemons: Vec::new(),
            offload: None,
            shaping: None,
            underlay: None,
            global_reach: Vec::new(),
            names: None,
            warnings: Vec::new(),
        }
    }

    fn backend(nic: &str, up: bool, reason: Option<&str>) -> BackendReport {
        BackendReport {
            load_balancer: "ilb".into(),
            probe: "health".into(),
            nic: nic.into(),
            up,
            since: "2026-11-23T07:50:08Z".into(),
            consecutive_successes: u32::from(up),
            consecutive_failures: u32::from(!up) * 2,
            reason: reason.map(str::to_string),
            flows: u64::from(up) * 3,
        }
    }

    fn vm1_stats() -> NicStats {
        NicStats {
            packets_sent: 10,
            bytes_sent: 840,
            packets_received: 9,
            bytes_received: 756,
            offloaded_packets_sent: 2,
            offloaded_packets_received: 1,
            drops: BTreeMap::from([("nsg_inbound".to_string(), 4)]),
        }
    }

    #[test]
    fn renders_exactly_these_lines_for_one_nic() {
        let text = render(&report(&[("vm1", vm1_stats())]));
        let mut expected = String::from(
            "\
# HELP vnetd_nic_packets_total Packets the NIC sent and received, labelled by direction.
# TYPE vnetd_nic_packets_total counter
vnetd_nic_packets_total{nic=\"vm1\",direction=\"sent\"} 10
vnetd_nic_packets_total{nic=\"vm1\",direction=\"received\"} 9
# HELP vnetd_nic_bytes_total IP bytes the NIC sent and received, labelled by direction.
# TYPE vnetd_nic_bytes_total counter
vnetd_nic_bytes_total{nic=\"vm1\",direction=\"sent\"} 840
vnetd_nic_bytes_total{nic=\"vm1\",direction=\"received\"} 756
# HELP vnetd_nic_offloaded_packets_total Of the packets the NIC sent and received, those the kernel fast path carried, labelled by direction.
# TYPE vnetd_nic_offloaded_packets_total counter
vnetd_nic_offloaded_packets_total{nic=\"vm1\",direction=\"sent\"} 2
vnetd_nic_offloaded_packets_total{nic=\"vm1\",direction=\"received\"} 1
# HELP vnetd_nic_drops_total Packets dropped, by the NIC where the refusing check ran and the reason.
# TYPE vnetd_nic_drops_total counter
",
        );
        for reason in DropReason::ALL {
            let n = if reason == DropReason::NsgInbound {
                4
            } else {
                0
            };
            expected.push_str(&format!(
                "vnetd_nic_drops_total{{nic=\"vm1\",reason=\"{}\"}} {n}\n",
                reason.as_str()
            ));
        }
        expected.push_str(
            "\
# HELP vnetd_lb_backend_up 1 while the load balancer's probe finds the backend NIC up, 0 while down.
# TYPE vnetd_lb_backend_up gauge
vnetd_lb_backend_up{load_balancer=\"ilb\",probe=\"health\",nic=\"web1\"} 1
vnetd_lb_backend_up{load_balancer=\"ilb\",probe=\"health\",nic=\"web2\"} 0
# HELP vnetd_lb_backend_flows Flows the load balancer placed on the backend NIC that are tracked now.
# TYPE vnetd_lb_backend_flows gauge
vnetd_lb_backend_flows{load_balancer=\"ilb\",probe=\"health\",nic=\"web1\"} 3
vnetd_lb_backend_flows{load_balancer=\"ilb\",probe=\"health\",nic=\"web2\"} 0
# HELP vnetd_flow_table_flows Flows tracked now.
# TYPE vnetd_flow_table_flows gauge
vnetd_flow_table_flows 2
# HELP vnetd_flow_table_capacity Slots of the flow table, for the flows of all NICs together.
# TYPE vnetd_flow_table_capacity gauge
vnetd_flow_table_capacity 1024
# HELP vnetd_flow_table_inserted_total Flows inserted into the flow table.
# TYPE vnetd_flow_table_inserted_total counter
vnetd_flow_table_inserted_total 5
# HELP vnetd_flow_table_evictions_total Flows evicted from the flow table to make room.
# TYPE vnetd_flow_table_evictions_total counter
vnetd_flow_table_evictions_total 1
# HELP vnetd_flow_table_failed_inserts_total Flows the flow table refused for want of room.
# TYPE vnetd_flow_table_failed_inserts_total counter
vnetd_flow_table_failed_inserts_total 0
# HELP vnetd_flow_log_events_lost_total Deny events that could not reach the flow logs (the flow-log thread fell behind).
# TYPE vnetd_flow_log_events_lost_total counter
vnetd_flow_log_events_lost_total 0
# HELP vnetd_worker_restarts_total Times a forwarding worker failed (an error or a panic) and was started again.
# TYPE vnetd_worker_restarts_total counter
vnetd_worker_restarts_total 0
# HELP vnetd_snapshot_generation Generation of the tables being forwarded with: 1 at start, one more per accepted apply, change of the routes learned over BGP and change of a backend's probe health.
# TYPE vnetd_snapshot_generation gauge
vnetd_snapshot_generation 3
# HELP vnetd_thread_panics_total Panics caught in the daemon's threads, by kind of thread (restarted, or its connection closed).
# TYPE vnetd_thread_panics_total counter
vnetd_thread_panics_total{thread=\"azure-dns\"} 0
vnetd_thread_panics_total{thread=\"bgp-watcher\"} 0
vnetd_thread_panics_total{thread=\"control\"} 0
vnetd_thread_panics_total{thread=\"flow-log\"} 0
vnetd_thread_panics_total{thread=\"global-reach\"} 0
vnetd_thread_panics_total{thread=\"housekeeping\"} 0
vnetd_thread_panics_total{thread=\"metrics\"} 0
vnetd_thread_panics_total{thread=\"offload\"} 0
vnetd_thread_panics_total{thread=\"prober\"} 0
vnetd_thread_panics_total{thread=\"services\"} 0
vnetd_thread_panics_total{thread=\"worker\"} 0
",
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn every_drop_reason_has_a_series_for_every_nic() {
        let text = render(&report(&[
            ("vm1", vm1_stats()),
            ("vm2", NicStats::default()),
        ]));
        for nic in ["vm1", "vm2"] {
            for reason in DropReason::ALL {
                let series = format!(
                    "vnetd_nic_drops_total{{nic=\"{nic}\",reason=\"{}\"}} ",
                    reason.as_str()
                );
                assert_eq!(
                    text.lines().filter(|l| l.starts_with(&series)).count(),
                    1,
                    "{series}"
                );
            }
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label_value(r"a\b"), r"a\\b");
        assert_eq!(escape_label_value("say \"hi\""), r#"say \"hi\""#);
        assert_eq!(escape_label_value("two\nlines"), r"two\nlines");
        assert_eq!(escape_label_value("plain-name_1"), "plain-name_1");
        let text = render(&report(&[("odd\"nic\\\n", NicStats::default())]));
        assert!(text
            .contains("vnetd_nic_packets_total{nic=\"odd\\\"nic\\\\\\n\",direction=\"sent\"} 0\n"));
        // Every sample stays on its own line.
        assert!(text
            .lines()
            .all(|l| l.starts_with("# ") || l.starts_with("vnetd_")));
    }

    #[test]
    fn every_family_has_help_and_type_before_its_samples() {
        let text = render(&report(&[("vm1", vm1_stats())]));
        let mut described = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                described.push(rest.split(' ').next().unwrap().to_string());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                assert_eq!(
                    Some(rest.split(' ').next().unwrap()),
                    described.last().map(|s| s.as_str())
                );
            } else {
                let name = line.split(['{', ' ']).next().unwrap();
                assert_eq!(Some(name), described.last().map(|s| s.as_str()), "{line}");
            }
        }
        assert_eq!(described.len(), 15);
    }

    #[test]
    fn a_spread_labs_underlay_is_counted_by_reason_and_by_host() {
        let mut spread = report(&[("vm1", vm1_stats())]);
        spread.host = Some("h2".into());
        spread.underlay = Some(Box::new(crate::api::UnderlayReport {
            inner_mtu: 1500,
            sent: 10,
            received: 9,
            untrusted: 4,
            not_trusted: 3,
            wrong_vni: 2,
            unknown_port: 1,
            hosts: crate::api::report::sample_underlay_hosts(),
            ..Default::default()
        }));
        let text = render(&spread);
        for line in [
            "vnetd_host_info{host=\"h2\"} 1",
            "vnetd_underlay_packets_total{direction=\"sent\"} 10",
            "vnetd_underlay_packets_total{direction=\"received\"} 9",
            "vnetd_underlay_drops_total{reason=\"untrusted\"} 4",
            "vnetd_underlay_drops_total{reason=\"not_trusted\"} 3",
            "vnetd_underlay_drops_total{reason=\"wrong_vni\"} 2",
            "vnetd_underlay_drops_total{reason=\"unknown_port\"} 1",
            "vnetd_underlay_drops_total{reason=\"malformed\"} 0",
            "vnetd_underlay_host_trusted{host=\"h1\"} 1",
            "vnetd_underlay_host_trusted{host=\"h3\"} 0",
            "vnetd_underlay_host_drops_total{host=\"h3\",reason=\"refused\"} 4",
            "vnetd_underlay_host_drops_total{host=\"h3\",reason=\"not_sent\"} 3",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line} in\n{text}");
        }
    }
}
