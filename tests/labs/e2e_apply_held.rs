//! Nothing waits for an `apply`: with an apply held half-way (its lock
//! held, its new namespace built, its plane not yet published, through
//! the daemon's fault injection), `stats`, `flows`, the metrics, `lb
//! show`, the running topology and the convergence report are answered
//! from the plane still published, and a backend's health change is
//! published. Once released, the apply publishes after that health and
//! keeps it. Needs root (see `common::require_root`).
//!
//! The namespaces start with `ah31`, and the prober's is named after a
//! VNet no other test has.

use crate::common;

use common::Lab;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::mpsc;
use std::time::Duration;
use vnetd::api::{client, Request, Response};

use vnetd::daemon::threads::ThreadKind;
use vnetd::policy::load_balancers::ProbeTarget;

/// `web1` behind load balancer `ilb` (probe TCP 80 every 5 s, one answer
/// decides; nothing listens at first, so web1 goes down) and a `client`.
const PROBED: &str = "\
vnets:
  - name: ah31app
    address_space: [10.0.0.0/16]
    location: westeurope
    subnets:
      - name: web
        address_prefixes: [10.0.1.0/24]
network_interfaces:
  - name: web1
    subnet: ah31app/web
    private_ip_address: 10.0.1.4
  - name: client
    subnet: ah31app/web
    private_ip_address: 10.0.1.6
load_balancers:
  - name: ilb
    frontend_ip_configurations:
      - {name: fe, subnet: ah31app/web, private_ip_address: 10.0.1.100}
    backend_address_pools:
      - {name: web, network_interfaces: [web1]}
    probes:
      - {name: health, protocol: Tcp, port: 80, interval_in_seconds: 5, probe_threshold: 1}
    rules:
      - {name: http, frontend_ip_configuration: fe, backend_address_pool: web, probe: health,
         protocol: Tcp, frontend_port: 80, backend_port: 80}
";

/// The same with a third NIC, `web3`: the apply builds its namespace.
fn with_web3(text: &str) -> String {
    text.replace(
        "load_balancers:\n",
        "  - name: web3\n    subnet: ah31app/web\n    private_ip_address: 10.0.1.7\n\
         load_balancers:\n",
    )
}

/// How long an answer may take while the apply is held: far more than
/// any answer needs, and an answer that waits for the apply never comes.
const ANSWER_LIMIT: Duration = Duration::from_secs(20);

/// Runs `ask` on a thread of its own and returns its answer; fails when
/// none comes within [`ANSWER_LIMIT`].
fn answered<T: Send + 'static>(what: &str, ask: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(ask());
    });
    rx.recv_timeout(ANSWER_LIMIT)
        .unwrap_or_else(|_| panic!("{what}: no answer within {ANSWER_LIMIT:?} while apply held"))
}

fn wait_for(what: &str, secs: u64, done: impl FnMut() -> bool) {
    assert!(
        common::wait_for(Duration::from_secs(secs), done),
        "{what}: not within {secs} s"
    );
}

fn ask(socket: &std::path::Path, request: Request) -> Response {
    let socket = socket.to_path_buf();
    answered(&format!("{request:?}"), move || {
        client::request(&socket, &request).unwrap()
    })
}

fn scrape(addr: SocketAddr, request: &str) -> String {
    let request = request.to_string();
    answered("a scrape of the metrics", move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    })
}

fn web1() -> ProbeTarget {
    ProbeTarget {
        load_balancer: "ilb".into(),
        probe: "health".into(),
        nic: "web1".into(),
    }
}

/// web1's state as `lb show` says it.
fn web1_state(socket: &std::path::Path) -> String {
    let Response::LoadBalancer(status) = ask(
        socket,
        Request::LbShow {
            load_balancer: "ilb".into(),
        },
    ) else {
        panic!("lb show answered with something else");
    };
    let rows: Vec<_> = status.backends.iter().filter(|b| b.nic == "web1").collect();
    assert_eq!(rows.len(), 1, "{status:?}");
    rows[0].state.clone()
}

#[test]
fn reports_and_health_go_on_while_an_apply_is_held() {
    let prefix = "ah31";
    let text = common::with_netns_prefix(PROBED, prefix);
    let mut lab = Lab::start_exact(prefix, &text);
    let socket = lab.serve_control();
    let (metrics, scrape_request) = lab.serve_metrics();
    let daemon = lab.shared();

    // Before: web1 down (nothing listens on its port 80), and one flow
    // from the client to web1.
    wait_for("web1 published down", 20, || {
        !daemon.snapshot().health.is_up(&web1())
    });
    let sender =
        vnetd::host::netns::run_in(&lab.ns("client"), || Ok(UdpSocket::bind("10.0.1.6:0")?))
            .unwrap();
    let source = format!("10.0.1.6:{}", sender.local_addr().unwrap().port());
    sender.send_to(b"hello", "10.0.1.4:7").unwrap();
    let has_the_flow = |flows: &[vnetd::api::FlowReport]| {
        flows
            .iter()
            .any(|f| f.nic == "client" && f.source == source && f.destination == "10.0.1.4:7")
    };
    wait_for("the client's flow tracked", 10, || {
        has_the_flow(&vnetd::daemon::reporting::report::flows_of(&daemon, None))
    });
    let before = daemon.snapshot().generation;

    // An apply that adds web3, held once its namespace is built.
    daemon.faults().arm_apply_stall();
    let (applied_tx, applied) = mpsc::channel();
    {
        let (socket, text) = (
            socket.clone(),
            common::with_netns_prefix(&with_web3(PROBED), prefix),
        );
        std::thread::spawn(move || {
            let request = Request::Apply {
                source: "with-web3.yaml".into(),
                text,
                allow_empty: false,
            };
            let _ = applied_tx.send(client::request(&socket, &request));
        });
    }
    wait_for("the apply held at its stall point", 60, || {
        daemon.faults().applies_stalled() == 1
    });
    assert!(vnetd::host::netns::exists(&lab.ns("web3")));

    // Every report answers, from the plane still published.
    let Response::Stats(stats) = ask(&socket, Request::Stats) else {
        panic!("stats answered with something else");
    };
    assert_eq!(stats.generation, before);
    let nics: Vec<&str> = stats.nics.keys().map(|n| n.as_str()).collect();
    assert!(
        nics.contains(&"web1") && !nics.contains(&"web3"),
        "{nics:?}"
    );
    let out = answered("vnetd stats", {
        let socket = socket.clone();
        move || {
            common::vnetd_command(&socket)
                .arg("stats")
                .output()
                .unwrap()
        }
    });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let Response::Flows(flows) = ask(&socket, Request::Flows { nic: None }) else {
        panic!("flows answered with something else");
    };
    assert!(has_the_flow(&flows.flows), "{flows:?}");
    let scraped = scrape(metrics.local_addr(), &scrape_request);
    assert!(scraped.starts_with("HTTP/1.1 200 OK\r\n"), "{scraped}");
    assert!(
        scraped.contains(&format!("\nvnetd_snapshot_generation {before}\n")),
        "{scraped}"
    );
    let Response::RunningTopology(running) = ask(&socket, Request::RunningTopology) else {
        panic!("the running topology answered with something else");
    };
    assert_eq!(running.text, text);
    assert!(matches!(
        ask(&socket, Request::Convergence),
        Response::Convergence(_)
    ));
    assert_eq!(web1_state(&socket), "Down");

    // web1 answers its probe now: the prober publishes it up while the
    // apply still holds.
    let _listener =
        vnetd::host::netns::run_in(&lab.ns("web1"), || Ok(TcpListener::bind("10.0.1.4:80")?))
            .unwrap();
    wait_for("web1 published up", 20, || {
        daemon.snapshot().health.is_up(&web1())
    });
    assert_eq!(web1_state(&socket), "Up");
    assert!(daemon.snapshot().generation > before);
    assert_eq!(&*daemon.snapshot().topology.text, text.as_str());
    assert_eq!(daemon.faults().applies_stalled(), 1);
    assert!(applied.try_recv().is_err(), "the apply went on while held");

    // The prober held too, so that it cannot mend what the apply
    // publishes: the applied plane must keep web1 up on its own.
    daemon.faults().arm_stall(ThreadKind::Prober);
    wait_for("the prober held", 20, || {
        daemon.faults().stalled(ThreadKind::Prober) == 1
    });
    let healthy = daemon.snapshot().generation;
    daemon.faults().release_apply_stall();
    let outcome = applied
        .recv_timeout(Duration::from_secs(60))
        .expect("the apply finished once released")
        .unwrap();
    let Response::Applied(outcome) = outcome else {
        panic!("apply refused: {outcome:?}");
    };
    assert_eq!(outcome.added, ["web3"]);
    assert_eq!(outcome.generation, healthy + 1);
    let published = daemon.snapshot();
    assert_eq!(published.generation, outcome.generation);
    assert!(
        published.health.is_up(&web1()),
        "the apply lost web1's health"
    );
    assert!(published.port_by_name("web3").is_some());
    daemon.faults().release_stall(ThreadKind::Prober);
    assert_eq!(web1_state(&socket), "Up");
}
