//! `vnetd run --metrics ADDR` as users run it: the endpoint serves the
//! lab's counters in the Prometheus text format, as read by a real client
//! (`curl`, sending the token as Prometheus does from a `credentials_file`)
//! and a grammar-based parser of that format, and nothing without the
//! token; a port already taken refuses the run and leaves no lab behind.
//! Needs root (see `common::require_root`).

use crate::common;

use common::LabProcess;
use openmetrics_parser::prometheus::parse_prometheus;
use openmetrics_parser::{PrometheusType, PrometheusValue};
use std::process::Command;

const HUB_SPOKE: &str = include_str!("../../config/hub-spoke.yaml");

/// Every family the endpoint serves, with its type.
const FAMILIES: [(&str, PrometheusType); 30] = [
    ("vnetd_nic_packets_total", PrometheusType::Counter),
    ("vnetd_nic_bytes_total", PrometheusType::Counter),
    ("vnetd_nic_offloaded_packets_total", PrometheusType::Counter),
    ("vnetd_nic_drops_total", PrometheusType::Counter),
    ("vnetd_lb_backend_up", PrometheusType::Gauge),
    ("vnetd_lb_backend_flows", PrometheusType::Gauge),
    ("vnetd_flow_table_flows", PrometheusType::Gauge),
    ("vnetd_flow_table_capacity", PrometheusType::Gauge),
    ("vnetd_flow_table_inserted_total", PrometheusType::Counter),
    ("vnetd_flow_table_evictions_total", PrometheusType::Counter),
    (
        "vnetd_flow_table_failed_inserts_total",
        PrometheusType::Counter,
    ),
    ("vnetd_flow_log_events_lost_total", PrometheusType::Counter),
    ("vnetd_worker_restarts_total", PrometheusType::Counter),
    ("vnetd_snapshot_generation", PrometheusType::Gauge),
    ("vnetd_thread_panics_total", PrometheusType::Counter),
    ("vnetd_dns_queries_total", PrometheusType::Counter),
    ("vnetd_dns_answers_total", PrometheusType::Counter),
    ("vnetd_dns_malformed_total", PrometheusType::Counter),
    ("vnetd_dns_forwarded_total", PrometheusType::Counter),
    ("vnetd_dns_forward_timeouts_total", PrometheusType::Counter),
    ("vnetd_dns_forward_loops_cut_total", PrometheusType::Counter),
    ("vnetd_dns_tcp_refused_total", PrometheusType::Counter),
    ("vnetd_paas_requests_total", PrometheusType::Counter),
    (
        "vnetd_firewall_application_requests_total",
        PrometheusType::Counter,
    ),
    (
        "vnetd_dns_server_failed_starts_total",
        PrometheusType::Counter,
    ),
    ("vnetd_http_refused_total", PrometheusType::Counter),
    ("vnetd_http_clients_cut_total", PrometheusType::Counter),
    ("vnetd_http_captures_cut_total", PrometheusType::Counter),
    ("vnetd_http_captures_running", PrometheusType::Gauge),
    ("vnetd_http_accept_errors_total", PrometheusType::Counter),
];

/// The control socket of the test's lab.
fn socket_of(prefix: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("vnetd-{prefix}-{}.sock", std::process::id()))
}

/// `vnetd run` with its own control socket and a topology whose
/// namespaces are prefixed by `prefix`, so the test never meets another lab.
fn vnetd_run(prefix: &str, metrics: &str) -> Command {
    let config = std::env::temp_dir().join(format!("vnetd-{prefix}-{}.yaml", std::process::id()));
    std::fs::write(&config, common::with_netns_prefix(HUB_SPOKE, prefix)).unwrap();
    let mut c = common::vnetd_command(&socket_of(prefix));
    c.arg("run").arg(config).args(["--metrics", metrics]);
    c
}

/// The header Prometheus sends with `authorization: {credentials_file: FILE}`:
/// the file's text, trimmed, as a bearer token.
fn bearer_from(file: &std::path::Path) -> String {
    let token = std::fs::read_to_string(file).unwrap();
    format!("Authorization: Bearer {}", token.trim())
}

/// Starts the lab and returns it with the metrics URL it printed.
fn start(prefix: &str, metrics: &str) -> (LabProcess, String) {
    common::spawn_lab(vnetd_run(prefix, metrics), "metrics: ")
}

fn stop(mut child: LabProcess) {
    common::stop_lab(&mut child)
}

/// One request with the real curl: status code, headers and body.
fn curl(args: &[&str], url: &str) -> (u16, String, String) {
    let out = Command::new("curl")
        .args(["--silent", "--show-error", "--include", "--max-time", "5"])
        .args(args)
        .arg(url)
        .output()
        .expect("curl is installed");
    assert!(
        out.status.success(),
        "curl {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_string(), body.to_string())
}

fn namespaces_with(prefix: &str) -> usize {
    common::namespaces_with(prefix).len()
}

#[test]
fn metrics_endpoint_serves_the_labs_counters() {
    common::require_root();
    // Port 0: the kernel picks a free port, and vnetd prints which.
    let (child, url) = start("e2met", "127.0.0.1:0");
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/metrics"),
        "{url}"
    );
    assert!(common::ping("e2met-vm1", "10.0.2.4"));

    // The run's token is beside its control socket, for root alone.
    let token_file = socket_of("e2met").with_extension("http-token");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&token_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let auth = bearer_from(&token_file);
    let (status, head, body) = curl(&[], &url);
    assert_eq!(status, 401, "{head}");
    assert!(!body.contains("vnetd_nic_packets_total"), "{body}");
    let (status, head, _) = curl(&["--header", "Authorization: Bearer not-the-token"], &url);
    assert_eq!(status, 401, "{head}");
    let (status, head, _) = curl(
        &["--header", "Host: rebind.example", "--header", &auth],
        &url,
    );
    assert_eq!(status, 403, "{head}");

    let (status, head, body) = curl(&["--header", &auth], &url);
    assert_eq!(status, 200, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("\r\ncontent-type: text/plain; version=0.0.4"),
        "{head}"
    );
    let exposition = parse_prometheus(&body).unwrap_or_else(|e| panic!("{e:?}\n{body}"));
    for (name, kind) in FAMILIES {
        let family = exposition
            .families
            .get(name)
            .unwrap_or_else(|| panic!("no family {name} in\n{body}"));
        assert_eq!(family.family_type, kind, "{name}");
        assert!(!family.help.is_empty(), "{name} has no HELP");
        assert!(
            body.contains(&format!("\n# HELP {name} "))
                || body.starts_with(&format!("# HELP {name} "))
        );
        assert!(body.contains(&format!("\n# TYPE {name} ")));
    }
    assert_eq!(exposition.families.len(), FAMILIES.len());

    // A sample by its labels, named (the parser orders a family's labels
    // its own way).
    let value = |name: &str, labels: &[(&str, &str)]| -> f64 {
        let family = &exposition.families[name];
        let values: Vec<String> = family
            .get_label_names()
            .iter()
            .map(|label| {
                let (_, v) = labels
                    .iter()
                    .find(|(l, _)| l == label)
                    .unwrap_or_else(|| panic!("{name} has label {label}, not given"));
                v.to_string()
            })
            .collect();
        assert_eq!(values.len(), labels.len(), "{name}: labels {labels:?}");
        let sample = family
            .get_sample_by_label_values(&values)
            .unwrap_or_else(|| panic!("no {name}{labels:?}"));
        match &sample.value {
            PrometheusValue::Counter(c) => c.value.as_f64(),
            PrometheusValue::Gauge(g) => g.as_f64(),
            other => panic!("{name}: unexpected {other:?}"),
        }
    };
    // The pings vm1 sent, and the replies it received.
    assert!(
        value(
            "vnetd_nic_packets_total",
            &[("nic", "vm1"), ("direction", "sent")]
        ) >= 3.0
    );
    assert!(
        value(
            "vnetd_nic_packets_total",
            &[("nic", "vm1"), ("direction", "received")]
        ) >= 3.0
    );
    assert!(
        value(
            "vnetd_nic_bytes_total",
            &[("nic", "shared1"), ("direction", "sent")]
        ) > 0.0
    );
    for family in [
        "vnetd_nic_packets_total",
        "vnetd_nic_bytes_total",
        "vnetd_nic_offloaded_packets_total",
    ] {
        let mut labels = exposition.families[family].get_label_names().to_vec();
        labels.sort();
        assert_eq!(labels, ["direction", "nic"], "{family}");
    }
    assert_eq!(value("vnetd_snapshot_generation", &[]), 1.0);
    // The firewalls' proxies, by outcome, zero here.
    for outcome in ["allowed", "denied", "unreachable", "refused"] {
        assert_eq!(
            value(
                "vnetd_firewall_application_requests_total",
                &[("outcome", outcome)]
            ),
            0.0
        );
    }
    // Every kind of thread has a panic count, zero here.
    for kind in vnetd::daemon::threads::ThreadKind::ALL {
        assert_eq!(
            value("vnetd_thread_panics_total", &[("thread", kind.as_str())]),
            0.0
        );
    }
    assert!(value("vnetd_flow_table_capacity", &[]) > 0.0);
    // The refusals above, counted.
    assert_eq!(
        value("vnetd_http_refused_total", &[("reason", "token")]),
        2.0
    );
    assert_eq!(
        value("vnetd_http_refused_total", &[("reason", "host")]),
        1.0
    );
    assert!(value("vnetd_flow_table_inserted_total", &[]) >= 1.0);
    // Every NIC has every drop reason, zero or not.
    let drops = &exposition.families["vnetd_nic_drops_total"];
    assert_eq!(drops.get_label_names(), ["nic", "reason"]);
    for nic in ["nva1", "shared1", "vm1", "vm2"] {
        for reason in vnetd::dataplane::DropReason::ALL {
            assert!(
                drops
                    .get_sample_by_label_values(&[nic.to_string(), reason.as_str().to_string()])
                    .is_some(),
                "no drop series for {nic} {}",
                reason.as_str()
            );
        }
    }

    let base = url.trim_end_matches("/metrics");
    assert_eq!(curl(&[], &format!("{base}/nope")).0, 404);
    assert_eq!(curl(&["--request", "POST", "--header", &auth], &url).0, 405);
    stop(child);
    assert_eq!(namespaces_with("e2met"), 0);
    assert!(!token_file.exists(), "the run's token outlived it");
}

#[test]
fn a_taken_metrics_port_refuses_the_run_and_removes_the_lab() {
    common::require_root();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = vnetd_run("e2mettaken", &addr).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--metrics") && stderr.contains(&addr),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("lab up"));
    assert_eq!(namespaces_with("e2mettaken"), 0);
}

/// The control socket and the metrics endpoint of a real `vnetd run` under
/// clients that connect and say nothing, send 100 MB without a newline, or
/// never read their answer: every other client is served at once, and
/// SIGTERM is not held up by any of them.
#[test]
fn slow_path_servers_outlast_abusive_clients() {
    common::require_root();
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    let prefix = "e2abuse";
    let socket = socket_of(prefix);
    // A fixed token, as a Prometheus credentials_file holds it (readable by
    // its group, not by every user).
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("vnetd.token");
    std::fs::write(
        &token_file,
        "prometheus-scrapes-vnetd-with-this-token-0123456789\n",
    )
    .unwrap();
    std::fs::set_permissions(
        &token_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o640),
    )
    .unwrap();
    let mut run = vnetd_run(prefix, "127.0.0.1:0");
    run.arg("--http-token-file").arg(&token_file);
    let (mut child, url) = common::spawn_lab(run, "metrics: ");
    let url = url.trim().to_string();
    let auth = bearer_from(&token_file);
    assert_eq!(
        auth,
        "Authorization: Bearer prometheus-scrapes-vnetd-with-this-token-0123456789"
    );

    // Control: two idle clients do not delay `stats` (before, each held
    // the only serving thread for 10 s, so this took 20).
    let _idle: Vec<UnixStream> = (0..2)
        .map(|_| UnixStream::connect(&socket).unwrap())
        .collect();
    let stats = Command::new("timeout")
        .arg("5")
        .arg(env!("CARGO_BIN_EXE_vnetd"))
        .args(["stats", "--json"])
        .env("VNETD_SOCKET", &socket)
        .output()
        .unwrap();
    assert_eq!(stats.status.code(), Some(0), "{stats:?}");

    // A line 32 MiB past the limit is refused once it passes the limit,
    // never buffered whole.
    let flood_bytes = vnetd::daemon::control::MAX_REQUEST_BYTES + (32 << 20);
    let mut flood = UnixStream::connect(&socket).unwrap();
    let mut reader = flood.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'x'; 1 << 20];
        let mut sent = 0usize;
        while sent < flood_bytes && flood.write_all(&chunk).is_ok() {
            sent += chunk.len();
        }
        sent
    });
    let mut answer = String::new();
    reader
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let _ = reader.read_to_string(&mut answer);
    let sent = writer.join().unwrap();
    assert!(
        answer.contains(&format!(
            "request longer than {} bytes: refused",
            vnetd::daemon::control::MAX_REQUEST_BYTES
        )),
        "{answer}"
    );
    assert!(sent < flood_bytes, "the daemon read all {sent} bytes");

    // Metrics: 20 half-open connections do not delay a scrape (before,
    // 2 s each, one at a time), and 200 scrapes in a row all succeed.
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .parse()
        .unwrap();
    let _half_open: Vec<std::net::TcpStream> = (0..20)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    let (status, _, _) = curl(&["--header", &auth], &url);
    assert_eq!(status, 200);
    let mut ok = 0;
    for _ in 0..200 {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\n{auth}\r\n\r\n").as_bytes())
            .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        ok += usize::from(text.starts_with("HTTP/1.1 200 OK\r\n"));
    }
    assert_eq!(ok, 200);

    // A client that asked for flows and never reads, and an idle one: the
    // lab still stops at once on SIGTERM.
    let mut lazy = UnixStream::connect(&socket).unwrap();
    lazy.write_all(b"{\"command\":\"flows\",\"nic\":null,\"json\":true}\n")
        .unwrap();
    let _idle_too = UnixStream::connect(&socket).unwrap();
    common::signal(&child, libc::SIGTERM);
    let stopped = std::time::Instant::now();
    let status = common::wait_exit(&mut child);
    assert!(status.success(), "{status}");
    assert!(
        stopped.elapsed() < std::time::Duration::from_secs(5),
        "SIGTERM waited {:?} on clients",
        stopped.elapsed()
    );
    assert_eq!(namespaces_with(prefix), 0);
    assert!(
        token_file.exists(),
        "a token file of the user's own is kept"
    );
}
