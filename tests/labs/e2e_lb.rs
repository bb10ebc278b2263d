//! An internal load balancer in front of two real web servers (Python's
//! `http.server`), reached by `curl` from a peered spoke: new connections
//! spread over both backends, each backend sees the client's own address,
//! SourceIP distribution keeps a client on one backend, a stopped server is
//! probed down (from 168.63.129.16, through the fabric) and gets no new
//! connections while an established one to it keeps working, and an NSG
//! denying the AzureLoadBalancer tag marks a backend down. Needs root (see
//! `common::require_root`).

use crate::common;

use common::{with_netns_prefix, Lab};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vnetd::dataplane::DropReason;
use vnetd::host::netns;

const PREFIX: &str = "elb";

/// Probes every 5 s (Azure's minimum), one failure marks a backend down:
/// a stopped server is down within 5 s (+ 2 s of slack).
const LAB: &str = r#"
vnets:
  - name: lbhub
    address_space: [10.30.0.0/16]
    subnets:
      - name: web
        address_prefixes: [10.30.2.0/24]
  - name: lbspoke
    address_space: [10.31.0.0/16]
    subnets:
      - name: app
        address_prefixes: [10.31.1.0/24]
peerings:
  - name: hub-to-spoke
    virtual_network: lbhub
    remote_virtual_network: lbspoke
  - name: spoke-to-hub
    virtual_network: lbspoke
    remote_virtual_network: lbhub
network_interfaces:
  - name: web1
    subnet: lbhub/web
    private_ip_address: 10.30.2.4
  - name: web2
    subnet: lbhub/web
    private_ip_address: 10.30.2.5
  - name: client
    subnet: lbspoke/app
    private_ip_address: 10.31.1.4
load_balancers:
  - name: web-ilb
    frontend_ip_configurations:
      - {name: fe, subnet: lbhub/web, private_ip_address: 10.30.2.100}
    backend_address_pools:
      - {name: webs, network_interfaces: [web1, web2]}
    probes:
      - {name: http, protocol: Http, port: 80, request_path: /, interval_in_seconds: 5, probe_threshold: 1}
    rules:
      - {name: http, frontend_ip_configuration: fe, backend_address_pool: webs, probe: http,
         protocol: Tcp, frontend_port: 80, backend_port: 80, load_distribution: Default}
      - {name: echo, frontend_ip_configuration: fe, backend_address_pool: webs, probe: http,
         protocol: Tcp, frontend_port: 9000, backend_port: 9000}
"#;

const FRONTEND: &str = "10.30.2.100";
const INTERVAL_SECS: u64 = 5;
const THRESHOLD: u64 = 1;

const WEB_SERVER: &str = "import functools, http.server, socketserver, sys
socketserver.TCPServer.allow_reuse_address = True
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
socketserver.TCPServer(('0.0.0.0', 80), handler).serve_forever()
";

/// A real web server in a backend's namespace: `http.server` serving a
/// page that names the backend, its access log (client addresses) kept.
struct WebServer {
    child: Child,
    log: std::path::PathBuf,
}

impl WebServer {
    fn start(ns: &str, name: &str) -> WebServer {
        let dir = std::env::temp_dir().join(format!("vnetd-{ns}-www"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("index.html"), name).unwrap();
        let log = std::env::temp_dir().join(format!("vnetd-{ns}-access.log"));
        // socketserver rather than `python3 -m http.server`, which looks
        // up its host name first (the lab has no DNS); the handler logs
        // each request with the client's address to stderr.
        let child = Command::new("ip")
            .args(["netns", "exec", ns, "python3", "-c", WEB_SERVER])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("python3 runs the web servers");
        WebServer { child, log }
    }

    fn access_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One new connection from the client to the frontend: the backend that
/// answered, from the page it serves.
fn fetch(lab: &Lab) -> Option<String> {
    let out = Command::new("ip")
        .args(["netns", "exec", &lab.ns("client")])
        .args(["curl", "--silent", "--max-time", "2"])
        .arg(format!("http://{FRONTEND}/"))
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Echo servers on port 9000 in both backends; each records the backends
/// it accepted a connection in.
struct EchoServers {
    stop: Arc<AtomicBool>,
    accepted_by: Arc<Mutex<Vec<String>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl EchoServers {
    fn start(lab: &Lab, backends: &[(&str, &str)]) -> EchoServers {
        let stop = Arc::new(AtomicBool::new(false));
        let accepted_by = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Vec::new();
        for &(name, address) in backends {
            let at: SocketAddr = format!("{address}:9000").parse().unwrap();
            let listener =
                netns::run_in(&lab.ns(name), move || Ok(TcpListener::bind(at)?)).unwrap();
            listener.set_nonblocking(true).unwrap();
            let (stop, accepted_by, name) = (stop.clone(), accepted_by.clone(), name.to_string());
            threads.push(std::thread::spawn(move || {
                let mut streams = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((stream, _)) = listener.accept() {
                        stream.set_nonblocking(true).unwrap();
                        accepted_by.lock().unwrap().push(name.clone());
                        streams.push(stream);
                    }
                    for s in &mut streams {
                        let mut buf = [0u8; 64];
                        if let Ok(n) = s.read(&mut buf) {
                            let _ = s.write_all(&buf[..n]);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }));
        }
        EchoServers {
            stop,
            accepted_by,
            threads,
        }
    }
}

impl Drop for EchoServers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn echo(stream: &mut TcpStream, text: &[u8]) -> bool {
    let mut buf = vec![0u8; text.len()];
    stream.write_all(text).is_ok() && stream.read_exact(&mut buf).is_ok() && buf == text
}

/// Names of the backends the probes find down now.
fn down(lab: &Lab) -> Vec<String> {
    lab.daemon()
        .plane()
        .snapshot
        .health
        .down()
        .map(|t| t.nic.clone())
        .collect()
}

/// Waits until the last probe of every backend succeeded (a backend is up
/// before its first probe, too).
fn wait_until_probed_up(lab: &Lab, limit: Duration) {
    let start = Instant::now();
    loop {
        let states = lab.daemon().lb_backends();
        if !states.is_empty()
            && states
                .iter()
                .all(|(_, s)| s.up && s.consecutive_successes >= 1)
        {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "after {:?} not every backend answers its probe: {states:?}",
            start.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until the backends down are exactly `expected`; how long it took.
fn wait_for_down(lab: &Lab, expected: &[&str], limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let now = down(lab);
        if now == expected {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "after {:?} the backends down are {now:?}, not {expected:?}",
            start.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_internal_load_balancer_spreads_probes_and_fails_over() {
    let text = with_netns_prefix(LAB, PREFIX);
    let lab = Lab::start_exact(PREFIX, &text);
    let web1 = WebServer::start(&lab.ns("web1"), "web1");
    let web2 = WebServer::start(&lab.ns("web2"), "web2");
    // Probes find both servers answering 200 (the first probes may have
    // run before they listened).
    wait_until_probed_up(&lab, Duration::from_secs(3 * INTERVAL_SECS + 2));

    // 1. Twenty new connections are all answered, by both backends, and
    //    each backend sees the client's own address.
    let mut served = std::collections::BTreeMap::<String, u32>::new();
    for _ in 0..20 {
        let by = fetch(&lab).expect("every connection to the frontend is answered");
        *served.entry(by).or_default() += 1;
    }
    assert_eq!(served.len(), 2, "{served:?}");
    assert!(served.values().all(|&n| n >= 3), "{served:?}");
    for server in [&web1, &web2] {
        let log = server.access_log();
        assert!(
            log.contains("10.31.1.4 - - ") && log.contains("\"GET / HTTP/1.1\" 200"),
            "the backend logs the client's own address: {log}"
        );
        assert!(!log.contains(FRONTEND), "{log}");
    }

    // SourceIP keeps one client on one backend.
    let source_ip = text.replace("load_distribution: Default", "load_distribution: SourceIP");
    lab.daemon()
        .apply("source-ip", &source_ip)
        .unwrap_or_else(|e| panic!("{e:?}"));
    let first = fetch(&lab).unwrap();
    for _ in 0..10 {
        assert_eq!(fetch(&lab).as_deref(), Some(first.as_str()));
    }
    lab.daemon().apply("default", &text).unwrap();

    // 2. A long-lived connection through the frontend, then its backend's
    //    web server stops: the backend is probed down in time, new
    //    connections all go to the other, and the established connection
    //    (another port, still listening) keeps working.
    let echoes = EchoServers::start(&lab, &[("web1", "10.30.2.4"), ("web2", "10.30.2.5")]);
    let frontend: SocketAddr = format!("{FRONTEND}:9000").parse().unwrap();
    let mut long_lived = netns::run_in(&lab.ns("client"), move || {
        Ok(TcpStream::connect_timeout(
            &frontend,
            Duration::from_secs(2),
        )?)
    })
    .unwrap();
    long_lived
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    assert!(echo(&mut long_lived, b"before"));
    let holder = echoes.accepted_by.lock().unwrap()[0].clone();
    let other = if holder == "web1" { "web2" } else { "web1" };
    let (mut stopped, _running) = if holder == "web1" {
        (web1, web2)
    } else {
        (web2, web1)
    };
    stopped.stop();
    let took = wait_for_down(
        &lab,
        &[holder.as_str()],
        Duration::from_secs(INTERVAL_SECS * THRESHOLD + 2),
    );
    eprintln!("{holder} probed down {took:?} after its server stopped");
    for _ in 0..10 {
        assert_eq!(fetch(&lab).as_deref(), Some(other));
    }
    assert!(
        echo(&mut long_lived, b"after"),
        "the established connection to {holder} broke"
    );
    let listing = lab
        .daemon()
        .lb_status("web-ilb")
        .expect("lb show knows the load balancer");
    let rows: Vec<_> = listing
        .backends
        .iter()
        .filter(|b| b.nic == holder)
        .collect();
    assert_eq!(rows.len(), 2, "one row per rule: {listing:?}");
    assert!(rows.iter().all(|r| r.state == "Down"), "{listing:?}");
    // The long-lived connection is a flow the load balancer placed there.
    assert!(
        rows.iter().any(|r| r.rule == "echo" && r.flows >= 1),
        "{listing:?}"
    );
    drop(echoes);

    // 3. An NSG denying AzureLoadBalancer inbound marks a backend down.
    //    The stopped server runs again first, and both are up.
    let _restarted = WebServer::start(&lab.ns(&holder), &holder);
    wait_for_down(
        &lab,
        &[],
        Duration::from_secs(INTERVAL_SECS * THRESHOLD + 2),
    );
    let denied = format!(
        "{}network_security_groups:\n  - name: no-probes\n    security_rules:\n      - {{name: deny-probes, priority: 100, direction: Inbound, access: Deny, protocol: '*', source_port_range: '*', destination_port_range: '*', source_address_prefix: AzureLoadBalancer, destination_address_prefix: '*'}}\n",
        text.replace(
            "    private_ip_address: 10.30.2.5\n",
            "    private_ip_address: 10.30.2.5\n    network_security_group: no-probes\n",
        )
    );
    lab.daemon().apply("deny-probes", &denied).unwrap();
    // A denied probe is one that times out, which takes up to an interval
    // more than a refused one.
    wait_for_down(
        &lab,
        &["web2"],
        Duration::from_secs(2 * INTERVAL_SECS * THRESHOLD + 2),
    );
    assert!(
        lab.stats("web2").drops_for(DropReason::NsgInbound) > 0,
        "the probes were denied by web2's NSG"
    );
    for _ in 0..5 {
        assert_eq!(fetch(&lab).as_deref(), Some("web1"));
    }
}
