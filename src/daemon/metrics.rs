//! Prometheus metrics of a running lab (`vnetd run --metrics ADDR`): the
//! counters `vnetd stats` prints and its load balancers' backend health, in the Prometheus text exposition format
//! (version 0.0.4), served over plain HTTP/1.1 as `GET /metrics` on a TCP
//! listener. One slow-path thread answers one request at a time from
//! [`stats_of`], which reads the workers' counters without ever stopping
//! them; the packet path knows nothing of it.
//!
//! It may use the daemon, its reports, its counters and the shared accept
//! loop, never the control socket.

use super::report::{stats_of, BackendReport, StatsReport};
use super::stats::NicStats;
use super::threads::{ThreadKind, ThreadPanics};
use super::Daemon;
use crate::dataplane::DropReason;
use anyhow::Context;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The media type of the text exposition format, version 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// How long a client may take to send its request or read the answer; a
/// silent client holds its connection thread no longer than this.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest request head read; longer requests are refused.
const MAX_REQUEST_HEAD: usize = 8 * 1024;

#[derive(Clone, Copy, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
enum MetricType {
    Counter,
    Gauge,
}

impl MetricType {
    fn as_str(self) -> &'static str {
        self.into()
    }
}

fn family_header(out: &mut String, name: &str, kind: MetricType, help: &str) {
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

/// The HTTP listener: connections are served concurrently (see
/// [`super::serve`]); stops when dropped, without waiting for clients.
pub struct MetricsServer {
    local_addr: SocketAddr,
    server: super::serve::Server,
}

impl MetricsServer {
    /// Listens at `addr` (port 0 picks a free port; see
    /// [`MetricsServer::local_addr`]).
    pub fn start(addr: SocketAddr, daemon: Arc<Daemon>) -> anyhow::Result<MetricsServer> {
        let panics = daemon.thread_panics().clone();
        MetricsServer::serving(
            addr,
            move || {
                daemon.faults().check(ThreadKind::Metrics);
                render(&stats_of(&daemon))
            },
            panics,
        )
    }

    /// Listens at `addr` and answers `GET /metrics` with what `exposition`
    /// returns at the time of each request; a request whose answer panics
    /// gets none (its connection is closed), counted in `panics`.
    fn serving(
        addr: SocketAddr,
        exposition: impl Fn() -> String + Send + Sync + 'static,
        panics: Arc<ThreadPanics>,
    ) -> anyhow::Result<MetricsServer> {
        let listener =
            TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
        let local_addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let server = super::serve::Server::start(
            "vnetd-metrics",
            listener,
            move |stream: TcpStream| {
                let configured = stream.set_read_timeout(Some(CLIENT_TIMEOUT)).is_ok()
                    && stream.set_write_timeout(Some(CLIENT_TIMEOUT)).is_ok();
                if configured {
                    handle(stream, &exposition);
                }
            },
            |stream: TcpStream| {
                let _ = stream.set_write_timeout(Some(CLIENT_TIMEOUT));
                write_response(
                    stream,
                    &Response::plain("503 Service Unavailable", "too many scrapes at once"),
                );
            },
            Arc::new(move |payload| {
                panics.caught(ThreadKind::Metrics, "a metrics connection", payload)
            }),
        )?;
        Ok(MetricsServer { local_addr, server })
    }

    /// The address actually listened on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Scrapes being answered now.
    pub fn connections(&self) -> usize {
        self.server.connections()
    }
}

/// Reads the request head (up to the blank line), or None when the client
/// goes silent, closes early or sends too much. The whole head must arrive
/// within [`CLIENT_TIMEOUT`], so a client trickling bytes is cut off too.
fn read_request_head(stream: &mut TcpStream) -> Option<String> {
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let left = deadline.saturating_duration_since(Instant::now());
        if head.len() > MAX_REQUEST_HEAD || left.is_zero() {
            return None;
        }
        stream.set_read_timeout(Some(left)).ok()?;
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8(head).ok()
}

/// What to answer: status line, and the body with its content type.
struct Response {
    status: &'static str,
    content_type: &'static str,
    body: String,
    allow_get_only: bool,
}

impl Response {
    fn plain(status: &'static str, body: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{body}\n"),
            allow_get_only: false,
        }
    }
}

/// The answer to one request head; the metrics are read only for a GET of
/// `/metrics`.
fn respond(head: Option<&str>, metrics: impl FnOnce() -> String) -> Response {
    let request_line = head.and_then(|h| h.lines().next()).unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Response::plain("400 Bad Request", "bad request");
    };
    if !version.starts_with("HTTP/1.") {
        return Response::plain("400 Bad Request", "bad request");
    }
    let path = target.split('?').next().unwrap_or_default();
    if path != "/metrics" {
        return Response::plain("404 Not Found", "not found; the metrics are at /metrics");
    }
    if method != "GET" {
        return Response {
            allow_get_only: true,
            ..Response::plain("405 Method Not Allowed", "only GET is allowed")
        };
    }
    Response {
        status: "200 OK",
        content_type: CONTENT_TYPE,
        body: metrics(),
        allow_get_only: false,
    }
}

fn handle(mut stream: TcpStream, exposition: &dyn Fn() -> String) {
    let head = read_request_head(&mut stream);
    write_response(stream, &respond(head.as_deref(), exposition));
}

fn write_response(mut stream: TcpStream, response: &Response) {
    let mut text = format!(
        "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        response.status,
        response.content_type,
        response.body.len()
    );
    if response.allow_get_only {
        text.push_str("Allow: GET\r\n");
    }
    text.push_str("\r\n");
    text.push_str(&response.body);
    let _ = stream.write_all(text.as_bytes());
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::report::FlowTableReport;
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
            thread_panics: ThreadPanics::default().by_kind(),
            load_balancer_backends: vec![
                backend("web1", true, None),
                backend("web2", false, Some("HTTP 404")),
            ],
            routing_daemons: Vec::new(),
            offload: None,
            shaping: None,
            underlay: None,
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
vnetd_thread_panics_total{thread=\"bgp-watcher\"} 0
vnetd_thread_panics_total{thread=\"control\"} 0
vnetd_thread_panics_total{thread=\"flow-log\"} 0
vnetd_thread_panics_total{thread=\"housekeeping\"} 0
vnetd_thread_panics_total{thread=\"metrics\"} 0
vnetd_thread_panics_total{thread=\"offload\"} 0
vnetd_thread_panics_total{thread=\"prober\"} 0
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
    fn http_answers_by_path_and_method() {
        let metrics = || "m 1\n".to_string();
        let ok = respond(Some("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), metrics);
        assert_eq!(
            (ok.status, ok.content_type, ok.body.as_str()),
            ("200 OK", CONTENT_TYPE, "m 1\n")
        );
        let query = respond(Some("GET /metrics?x=1 HTTP/1.0\r\n\r\n"), metrics);
        assert_eq!(query.status, "200 OK");
        assert_eq!(
            respond(Some("GET /nope HTTP/1.1\r\n\r\n"), metrics).status,
            "404 Not Found"
        );
        let post = respond(Some("POST /metrics HTTP/1.1\r\n\r\n"), metrics);
        assert_eq!(post.status, "405 Method Not Allowed");
        assert!(post.allow_get_only);
        assert_eq!(respond(None, metrics).status, "400 Bad Request");
        assert_eq!(
            respond(Some("GET\r\n\r\n"), metrics).status,
            "400 Bad Request"
        );
        assert_eq!(
            respond(Some("GET /metrics SPDY/3\r\n\r\n"), metrics).status,
            "400 Bad Request"
        );
    }

    fn get(addr: SocketAddr, request: &str) -> String {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    #[test]
    fn serves_over_tcp_and_outlasts_a_silent_client() {
        let server = MetricsServer::serving(
            "127.0.0.1:0".parse().unwrap(),
            || "vnetd_snapshot_generation 1\n".to_string(),
            Arc::default(),
        )
        .unwrap();
        let addr = server.local_addr();
        assert_ne!(addr.port(), 0);
        // A client that connects and says nothing is given up on.
        let _silent = TcpStream::connect(addr).unwrap();
        let started = Instant::now();
        let answer = get(addr, "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n");
        assert!(started.elapsed() < CLIENT_TIMEOUT + Duration::from_secs(3));
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("\r\nContent-Type: text/plain; version=0.0.4\r\n"));
        assert!(answer.contains("\r\nConnection: close\r\n"));
        assert!(answer.ends_with("\r\n\r\nvnetd_snapshot_generation 1\n"));
        let not_found = get(addr, "GET /nope HTTP/1.1\r\n\r\n");
        assert!(not_found.starts_with("HTTP/1.1 404 Not Found\r\n"));
        let post = get(addr, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        assert!(post.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(post.contains("\r\nAllow: GET\r\n"));
        // Dropping stops the thread and frees the port.
        drop(server);
        assert!(TcpListener::bind(addr).is_ok());
    }

    #[test]
    fn a_client_trickling_its_request_is_cut_off() {
        let server =
            MetricsServer::serving("127.0.0.1:0".parse().unwrap(), String::new, Arc::default())
                .unwrap();
        let mut stream = TcpStream::connect(server.local_addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut writer = stream.try_clone().unwrap();
        let started = Instant::now();
        std::thread::spawn(move || {
            while started.elapsed() < Duration::from_secs(6) && writer.write_all(b"G").is_ok() {
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        // The answer arrives before the connection is reset by the bytes
        // still being written, so read what comes until the stream ends.
        let mut answer = Vec::new();
        let mut buf = [0u8; 256];
        while let Ok(n @ 1..) = stream.read(&mut buf) {
            answer.extend_from_slice(&buf[..n]);
        }
        assert!(started.elapsed() < CLIENT_TIMEOUT + Duration::from_millis(1500));
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{answer}"
        );
    }

    #[test]
    fn a_scrape_that_panics_is_closed_counted_and_the_next_is_served() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let panics = Arc::new(ThreadPanics::default());
        let first = AtomicBool::new(true);
        let server = MetricsServer::serving(
            "127.0.0.1:0".parse().unwrap(),
            move || {
                if first.swap(false, Ordering::Relaxed) {
                    panic!("a broken exposition");
                }
                "vnetd_snapshot_generation 1\n".to_string()
            },
            panics.clone(),
        )
        .unwrap();
        let addr = server.local_addr();
        // The connection is closed without an answer.
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
            .unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        assert_eq!(answer, b"");
        let deadline = Instant::now() + Duration::from_secs(10);
        while panics.count(ThreadKind::Metrics) == 0 {
            assert!(Instant::now() < deadline, "the panic was not counted");
            std::thread::sleep(Duration::from_millis(10));
        }
        // Counted once the slot was freed.
        assert_eq!(server.connections(), 0);
        assert_eq!(panics.by_kind()["metrics"], 1);
        let answer = get(addr, "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n");
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.ends_with("\r\n\r\nvnetd_snapshot_generation 1\n"));
        assert_eq!(panics.count(ThreadKind::Metrics), 1);
    }
}
