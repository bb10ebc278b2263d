//! The load balancers' health prober in a running lab (needs root, see
//! `common::require_root`): the prober's namespace as the daemon builds
//! it, a backend with nothing listening marked down and published in the
//! snapshot, `lb show` over the control protocol, the backends in
//! `stats` and the metrics, the flows counted per backend, and an apply
//! that removes the load balancer taking its health with it.
//!
//! The backends' namespaces are the test's own; the prober's is named
//! after the VNet, which no other test uses.

use crate::common;

use serde_json::Value;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};
use vnetd::api::Request;
use vnetd::daemon::control;
use vnetd::daemon::{Daemon, RunOptions};
use vnetd::host::netns;
use vnetd::policy::load_balancers::ProbeTarget;
use vnetd::topology::Topology;

const PREFIX: &str = "e2lb";

const APP: &str = "\
vnets:
  - name: probeapp
    address_space: [10.0.0.0/16]
    location: westeurope
    subnets:
      - name: web
        address_prefixes: [10.0.1.0/24]
network_interfaces:
  - name: web1
    subnet: probeapp/web
    private_ip_address: 10.0.1.4
  - name: web2
    subnet: probeapp/web
    private_ip_address: 10.0.1.5
  - name: client
    subnet: probeapp/web
    private_ip_address: 10.0.1.6
";

/// Load balancer `ilb`: frontend 10.0.1.100, pool `web` of both web
/// NICs, probe `health` (TCP 80, every 5 s, one failure is down) on rule
/// `http`, and rule `bare` (port 8080 to 80) without a probe.
const ILB: &str = "\
load_balancers:
  - name: ilb
    frontend_ip_configurations:
      - {name: fe, subnet: probeapp/web, private_ip_address: 10.0.1.100}
    backend_address_pools:
      - {name: web, network_interfaces: [web1, web2]}
    probes:
      - {name: health, protocol: Tcp, port: 80, interval_in_seconds: 5, probe_threshold: 1}
    rules:
      - {name: http, frontend_ip_configuration: fe, backend_address_pool: web, probe: health,
         protocol: Tcp, frontend_port: 80, backend_port: 80}
      - {name: bare, frontend_ip_configuration: fe, backend_address_pool: web,
         protocol: Tcp, frontend_port: 8080, backend_port: 80}
";

/// The VNet's prober: vnetd names it after the VNet, behind the lab's
/// prefix.
fn prober_ns() -> String {
    vnetd::plan::names::prober_netns(&format!("{PREFIX}-"), "probeapp")
}

/// `APP` with `ILB`, each NIC in a namespace of its own for this test.
fn topology() -> Topology {
    let text = format!("{}{ILB}", common::with_netns_prefix(APP, PREFIX));
    vnetd::topology::parse_str("lb.yaml", &text)
        .unwrap_or_else(|e| panic!("{e:?}"))
        .topology
}

/// The daemon, shut down when dropped.
struct Running(Option<Daemon>);

impl Running {
    fn daemon(&self) -> &Daemon {
        self.0.as_ref().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(daemon) = self.0.take() {
            if let Err(e) = daemon.shutdown() {
                eprintln!("removing lab {PREFIX}: {e:#}");
            }
        }
    }
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn json(reply_stdout: &str) -> Value {
    serde_json::from_str(reply_stdout).unwrap_or_else(|e| panic!("{e}: {reply_stdout}"))
}

fn web2() -> ProbeTarget {
    ProbeTarget {
        load_balancer: "ilb".into(),
        probe: "health".into(),
        nic: "web2".into(),
    }
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one scenario: a backend silenced, found down, reported, then back"
)]
fn the_prober_marks_a_silent_backend_down_and_the_lab_reports_it() {
    common::require_root();
    let running = Running(Some(
        Daemon::start(
            topology(),
            &RunOptions {
                workers: 1,
                ..RunOptions::default()
            },
        )
        .expect("starting the lab"),
    ));
    let daemon = running.daemon();

    // The prober owns 168.63.129.16 alone and routes through its TUN.
    let routes = common::in_netns(&prober_ns(), &["ip", "-4", "route", "show"]);
    assert!(
        routes
            .lines()
            .any(|l| l.starts_with("default dev eth0 ") && l.contains("scope link")),
        "{routes}"
    );
    let addresses = common::in_netns(&prober_ns(), &["ip", "-4", "-o", "addr", "show", "eth0"]);
    assert!(addresses.contains("inet 168.63.129.16/32"), "{addresses}");

    // Nothing listens on web2:80: its probe fails, and with a threshold
    // of one the next snapshot has it down.
    wait_for("web2 down in the snapshot", || {
        !daemon.snapshot().health.is_up(&web2())
    });
    assert!(daemon.snapshot().generation > 1);

    // web1 listens on 80; a client holds a connection through the
    // frontend, which the load balancer can only place on web1 (web2 is
    // down): one flow on web1. The backend sees the client's address.
    let web1: SocketAddr = "10.0.1.4:80".parse().unwrap();
    let listener = netns::run_in(&format!("{PREFIX}-web1"), move || {
        Ok(TcpListener::bind(web1)?)
    })
    .unwrap();
    let accepting = std::thread::spawn(move || {
        let mut held = Vec::new();
        listener.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok((stream, _)) = listener.accept() {
                held.push(stream);
            }
            if held.iter().any(|s: &TcpStream| {
                s.peer_addr()
                    .is_ok_and(|a| a.ip().to_string() == "10.0.1.6")
            }) {
                // Keep the connection open until the client closes it.
                let client = held
                    .into_iter()
                    .find(|s| {
                        s.peer_addr()
                            .is_ok_and(|a| a.ip().to_string() == "10.0.1.6")
                    })
                    .unwrap();
                client.set_nonblocking(false).unwrap();
                let _ = (&client).read(&mut [0u8; 1]);
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    // web1's first probe may have come before it listened: wait for one
    // that found it.
    wait_for("web1 answering its probe", || {
        daemon
            .lb_backends()
            .iter()
            .any(|(t, s)| t.nic == "web1" && s.up && s.consecutive_successes >= 1)
    });
    let frontend: SocketAddr = "10.0.1.100:80".parse().unwrap();
    let client = netns::run_in(&format!("{PREFIX}-client"), move || {
        Ok(TcpStream::connect_timeout(
            &frontend,
            Duration::from_secs(3),
        )?)
    })
    .expect("the client connects through the frontend");
    wait_for("one flow placed on web1", || {
        daemon.lb_flow_counts("ilb").get("web1") == Some(&1)
    });
    assert_eq!(daemon.lb_flow_counts("ilb").get("web2"), Some(&0));

    // lb show --json, as the control socket answers it.
    let reply = common::printed(
        &control::answer(
            daemon,
            Request::LbShow {
                load_balancer: "ilb".into(),
            },
        ),
        true,
    );
    assert_eq!(reply.code, 0, "{}", reply.stderr);
    let shown = json(&reply.stdout);
    assert_eq!(shown["loadBalancer"], "ilb");
    let rows = shown["backends"].as_array().unwrap();
    let row = |rule: &str, nic: &str| {
        rows.iter()
            .find(|r| r["rule"] == rule && r["nic"] == nic)
            .unwrap_or_else(|| panic!("no row {rule}/{nic} in {shown}"))
    };
    assert_eq!(rows.len(), 4, "{shown}");
    let down = row("http", "web2");
    assert_eq!(down["pool"], "web");
    assert_eq!(down["ipAddress"], "10.0.1.5");
    assert_eq!(
        down["probe"],
        serde_json::json!({"name": "health", "protocol": "Tcp", "port": 80})
    );
    assert_eq!(down["state"], "Down");
    assert!(
        down["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{down}"
    );
    let since = down["since"].as_str().unwrap();
    assert!(
        since.len() == 20 && since.ends_with('Z') && since.as_bytes()[10] == b'T',
        "{since}"
    );
    assert_eq!(down["flows"], 0);
    assert_eq!(row("http", "web1")["flows"], 1);
    let bare = row("bare", "web2");
    assert_eq!(
        (&bare["probe"], &bare["state"], &bare["since"]),
        (&Value::Null, &Value::from("Up"), &Value::Null)
    );

    // The table names the same backend.
    let table = common::printed(
        &control::answer(
            daemon,
            Request::LbShow {
                load_balancer: "ilb".into(),
            },
        ),
        false,
    );
    assert!(
        table
            .stdout
            .lines()
            .any(|l| l.starts_with("http") && l.contains("web2") && l.contains("Down")),
        "{}",
        table.stdout
    );

    // An unknown name is refused, naming the load balancers there are.
    let unknown = common::printed(
        &control::answer(
            daemon,
            Request::LbShow {
                load_balancer: "nope".into(),
            },
        ),
        false,
    );
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("`nope`") && unknown.stderr.contains("(load balancers: ilb)"),
        "{}",
        unknown.stderr
    );

    // stats --json and the metrics carry the same verdict.
    let stats = json(&common::printed(&control::answer(daemon, Request::Stats), true).stdout);
    let backend = stats["load_balancer_backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["nic"] == "web2")
        .cloned()
        .unwrap_or_else(|| panic!("web2 not in {stats}"));
    assert_eq!(
        (&backend["load_balancer"], &backend["probe"], &backend["up"]),
        (
            &Value::from("ilb"),
            &Value::from("health"),
            &Value::from(false)
        )
    );
    let placed = |nic: &str| {
        stats["load_balancer_backends"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["nic"] == nic)
            .map(|b| b["flows"].clone())
    };
    assert_eq!(placed("web1"), Some(Value::from(1)), "{stats}");
    assert_eq!(placed("web2"), Some(Value::from(0)), "{stats}");
    let metrics =
        vnetd::daemon::reporting::metrics::render(&vnetd::daemon::control::stats_of(daemon));
    assert!(
        metrics.contains(
            "vnetd_lb_backend_up{load_balancer=\"ilb\",probe=\"health\",nic=\"web2\"} 0\n"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "vnetd_lb_backend_flows{load_balancer=\"ilb\",probe=\"health\",nic=\"web1\"} 1\n"
        ),
        "{metrics}"
    );
    drop(client);
    let _ = accepting.join();

    // The file without the load balancer (or its prober): the backends
    // are forgotten, and so is their health.
    let text = common::with_netns_prefix(APP, PREFIX);
    daemon.apply("app.yaml", &text).expect("applying the file");
    wait_for("the health of the removed load balancer dropped", || {
        daemon.snapshot().health.down().count() == 0 && daemon.lb_backends().is_empty()
    });
    assert!(!netns::exists(&prober_ns()));
    let gone = common::printed(
        &control::answer(
            daemon,
            Request::LbShow {
                load_balancer: "ilb".into(),
            },
        ),
        true,
    );
    assert_eq!(gone.code, 1);
    assert!(
        gone.stderr.contains("load balancers: none"),
        "{}",
        gone.stderr
    );
}
