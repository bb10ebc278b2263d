//! Health checks on real namespaces (needs root): a prober namespace and a
//! server namespace joined by a veth pair, real listeners in the server
//! namespace (Rust sockets, python3's http.server, with TLS for HTTPS), and
//! the exact outcome of each check.
//!
//! Namespaces are named `vnetdt-<pid>-<test>` so parallel runs never
//! collide, and are removed by a guard even when an assertion fails
//! (which also stops the servers still running inside).

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use vnetd::host::probe::{HealthProbe, ProbeKind, ProbeOutcome};
use vnetd::host::{netns, HostLab, NamespaceSpec, VNET_HDR_LEN};

const PROBER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
/// Routed from the prober to the server, which does not forward: packets
/// to it vanish without an answer.
const BLACKHOLED: Ipv4Addr = Ipv4Addr::new(10, 77, 1, 9);

fn have_root() -> bool {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the probe tests need root: they build network namespaces"
    );
    true
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("running ip");
    assert!(
        out.status.success(),
        "ip {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two namespaces joined by a veth pair; removed (with whatever runs
/// inside) when dropped.
struct Pair {
    prober: String,
    server: String,
    children: Vec<Child>,
}

impl Pair {
    fn new(test: &str) -> Pair {
        let pid = std::process::id();
        let pair = Pair {
            prober: format!("vnetdt-{pid}-{test}-p"),
            server: format!("vnetdt-{pid}-{test}-s"),
            children: Vec::new(),
        };
        netns::create(&pair.prober).expect("creating the prober namespace");
        netns::create(&pair.server).expect("creating the server namespace");
        let (p, s) = (pair.prober.as_str(), pair.server.as_str());
        ip(&[
            "-n", p, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1", "netns", s,
        ]);
        ip(&[
            "-n",
            p,
            "addr",
            "add",
            &format!("{PROBER}/24"),
            "dev",
            "veth0",
        ]);
        ip(&[
            "-n",
            s,
            "addr",
            "add",
            &format!("{SERVER}/24"),
            "dev",
            "veth1",
        ]);
        for (ns, dev) in [(p, "veth0"), (s, "veth1")] {
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        ip(&[
            "-n",
            p,
            "route",
            "add",
            &format!("{BLACKHOLED}/32"),
            "via",
            &SERVER.to_string(),
        ]);
        netns::run_in(s, || {
            std::fs::write("/proc/sys/net/ipv4/ip_forward", "0")?;
            Ok(())
        })
        .expect("turning forwarding off in the server namespace");
        pair
    }

    /// A TCP listener inside the server namespace.
    fn listen(&self, port: u16) -> TcpListener {
        netns::run_in(&self.server, || {
            Ok(TcpListener::bind(SocketAddr::new(SERVER.into(), port))?)
        })
        .expect("listening in the server namespace")
    }

    /// Starts `program args` inside the server namespace.
    fn spawn_in_server(&mut self, program: &str, args: &[&str]) {
        let child = netns::run_in(&self.server, || {
            Ok(Command::new(program)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?)
        })
        .unwrap_or_else(|e| panic!("starting {program}: {e:#}"));
        self.children.push(child);
    }

    /// Waits until something listens on `port` in the server namespace.
    fn wait_for_listener(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let target = SocketAddr::new(SERVER.into(), port);
        loop {
            let up = netns::run_in(&self.server, || {
                Ok(
                    std::net::TcpStream::connect_timeout(&target, Duration::from_millis(200))
                        .is_ok(),
                )
            })
            .unwrap_or(false);
            if up {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nothing listens on {target} after 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn probe(&self, target: SocketAddr, kind: ProbeKind, timeout: Duration) -> ProbeOutcome {
        HealthProbe {
            namespace: self.prober.clone(),
            target,
            kind,
            timeout,
        }
        .run()
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Err(e) = vnetd::host::cleanup_leftovers(&[&self.prober, &self.server]) {
            eprintln!("cleanup failed: {e:#}");
        }
    }
}

fn server(port: u16) -> SocketAddr {
    SocketAddr::new(SERVER.into(), port)
}

fn http(path: &str) -> ProbeKind {
    ProbeKind::Http { path: path.into() }
}

fn https(path: &str) -> ProbeKind {
    ProbeKind::Https { path: path.into() }
}

fn down(reason: &str) -> ProbeOutcome {
    ProbeOutcome::Down(reason.into())
}

const TIMEOUT: Duration = Duration::from_secs(2);

/// A directory with one file, `health`, for python3's http.server.
fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("health"), "ok\n").expect("writing the health page");
    dir
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/probe-tls")
        .join(name)
}

#[test]
fn tcp_is_up_when_the_handshake_completes_from_the_namespace_address() {
    if !have_root() {
        return;
    }
    let pair = Pair::new("tcp");
    let listener = pair.listen(7001);
    let (seen, peer) = mpsc::channel();
    std::thread::spawn(move || {
        if let Ok((_, from)) = listener.accept() {
            let _ = seen.send(from);
        }
    });
    assert_eq!(
        pair.probe(server(7001), ProbeKind::Tcp, TIMEOUT),
        ProbeOutcome::Up
    );
    let from = peer
        .recv_timeout(Duration::from_secs(5))
        .expect("the listener saw the probe");
    assert_eq!(from.ip(), IpAddr::V4(PROBER), "the probe's source address");

    assert_eq!(
        pair.probe(server(7002), ProbeKind::Tcp, TIMEOUT),
        down("connection refused")
    );
}

#[test]
fn a_target_that_never_answers_times_out_within_the_timeout() {
    if !have_root() {
        return;
    }
    let pair = Pair::new("silent");
    let timeout = Duration::from_secs(1);
    let started = Instant::now();
    assert_eq!(
        pair.probe(
            SocketAddr::new(BLACKHOLED.into(), 80),
            ProbeKind::Tcp,
            timeout
        ),
        down("timed out")
    );
    let took = started.elapsed();
    assert!(
        took >= timeout && took < timeout + Duration::from_millis(800),
        "{took:?}"
    );

    // Accepted, and never answered: the HTTP check gives up in time too.
    let listener = pair.listen(7003);
    let held = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accepting the probe");
        std::thread::sleep(Duration::from_secs(2));
        drop(stream);
    });
    let started = Instant::now();
    assert_eq!(
        pair.probe(server(7003), http("/health"), timeout),
        down("timed out")
    );
    let took = started.elapsed();
    assert!(took < timeout + Duration::from_millis(800), "{took:?}");
    held.join().expect("the silent server");
}

#[test]
fn http_is_up_on_200_only() {
    if !have_root() {
        return;
    }
    let mut pair = Pair::new("http");
    let site = site();
    let root = site.path().to_str().expect("a UTF-8 path").to_owned();
    pair.spawn_in_server(
        "python3",
        &[
            "-m",
            "http.server",
            "7080",
            "--bind",
            &SERVER.to_string(),
            "--directory",
            &root,
        ],
    );
    pair.wait_for_listener(7080);
    assert_eq!(
        pair.probe(server(7080), http("/health"), TIMEOUT),
        ProbeOutcome::Up
    );
    assert_eq!(
        pair.probe(server(7080), http("/missing"), TIMEOUT),
        down("HTTP 404")
    );
    assert_eq!(
        pair.probe(server(7081), http("/health"), TIMEOUT),
        down("connection refused")
    );
}

#[test]
fn http_sends_host_and_connection_close_and_a_reset_is_down() {
    if !have_root() {
        return;
    }
    let pair = Pair::new("reset");
    let listener = pair.listen(7004);
    let (seen, request) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let _ = seen.send(String::from_utf8_lossy(&head).into_owned());
        // Closing with unread data and a zero linger sends a reset.
        let socket = socket2::Socket::from(stream);
        let _ = socket.set_linger(Some(Duration::ZERO));
        drop(socket);
    });
    assert_eq!(
        pair.probe(server(7004), http("/probe?x=1"), TIMEOUT),
        down("connection reset")
    );
    let head = request
        .recv_timeout(Duration::from_secs(5))
        .expect("the server read the request");
    assert!(head.starts_with("GET /probe?x=1 HTTP/1.1\r\n"), "{head:?}");
    assert!(head.contains("\r\nHost: 10.77.0.2:7004\r\n"), "{head:?}");
    assert!(head.contains("\r\nConnection: close\r\n"), "{head:?}");

    // A server that answers a status line of its own choosing.
    let listener = pair.listen(7005);
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let _ =
                stream.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
        }
    });
    assert_eq!(
        pair.probe(server(7005), http("/"), TIMEOUT),
        down("HTTP 503")
    );
}

/// python3's http.server behind TLS, with the test certificate.
const TLS_SERVER: &str = r#"
import http.server, ssl, sys
address, port, root, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=root, **k)
server = http.server.HTTPServer((address, port), handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"#;

#[test]
fn https_is_a_real_tls_exchange_up_on_200_only() {
    if !have_root() {
        return;
    }
    let mut pair = Pair::new("https");
    let site = site();
    let root = site.path().to_str().expect("a UTF-8 path").to_owned();
    let (cert, key) = (fixture("cert.pem"), fixture("key.pem"));
    pair.spawn_in_server(
        "python3",
        &[
            "-c",
            TLS_SERVER,
            &SERVER.to_string(),
            "7443",
            &root,
            cert.to_str().expect("a UTF-8 path"),
            key.to_str().expect("a UTF-8 path"),
        ],
    );
    pair.spawn_in_server(
        "python3",
        &[
            "-m",
            "http.server",
            "7080",
            "--bind",
            &SERVER.to_string(),
            "--directory",
            &root,
        ],
    );
    pair.wait_for_listener(7443);
    pair.wait_for_listener(7080);
    assert_eq!(
        pair.probe(server(7443), https("/health"), TIMEOUT),
        ProbeOutcome::Up
    );
    assert_eq!(
        pair.probe(server(7443), https("/missing"), TIMEOUT),
        down("HTTP 404")
    );
    // Plain HTTP where TLS was expected.
    assert_eq!(
        pair.probe(server(7080), https("/health"), TIMEOUT),
        down("TLS handshake failed")
    );
    // curl says "Couldn't connect to server", not always why.
    let closed = pair.probe(server(7444), https("/health"), TIMEOUT);
    assert!(
        [down("connection refused"), down("could not connect")].contains(&closed),
        "{closed:?}"
    );
    let started = Instant::now();
    let timeout = Duration::from_secs(1);
    assert_eq!(
        pair.probe(
            SocketAddr::new(BLACKHOLED.into(), 443),
            https("/health"),
            timeout
        ),
        down("timed out")
    );
    assert!(started.elapsed() < timeout + Duration::from_millis(900));
}

/// A prober's namespace as the daemon builds it: a TUN `eth0` owning one
/// address as a /32, and a default route through the device with no
/// gateway. A check from inside leaves through the TUN from that address.
#[test]
fn a_prober_namespace_sends_its_checks_out_of_its_tun_from_its_own_address() {
    if !have_root() {
        return;
    }
    let name = format!("vnetdt-{}-prober", std::process::id());
    struct Guard(String);
    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = vnetd::host::cleanup_leftovers(&[&self.0]);
        }
    }
    let _guard = Guard(name.clone());
    let mut spec = NamespaceSpec::new(&name);
    spec.addresses = vec!["168.63.129.16/32".parse().unwrap()];
    spec.device_routes = vec!["0.0.0.0/0".parse().unwrap()];
    spec.nonblocking = true;
    let lab = HostLab::build(&[spec]).expect("building the prober namespace");

    let out = Command::new("ip")
        .args(["-n", &name, "-4", "route", "show"])
        .output()
        .expect("ip route");
    let routes = String::from_utf8_lossy(&out.stdout);
    assert!(
        routes
            .lines()
            .any(|l| l.starts_with("default dev eth0 ") && l.contains(" scope link")),
        "{routes}"
    );
    let out = Command::new("ip")
        .args(["-n", &name, "-4", "-o", "addr", "show", "dev", "eth0"])
        .output()
        .expect("ip addr");
    assert!(String::from_utf8_lossy(&out.stdout).contains("inet 168.63.129.16/32"));

    let backend: SocketAddr = "10.0.1.4:80".parse().unwrap();
    let probing = std::thread::spawn({
        let name = name.clone();
        move || {
            HealthProbe {
                namespace: name,
                target: backend,
                kind: ProbeKind::Tcp,
                timeout: Duration::from_secs(1),
            }
            .run()
        }
    });
    let queue = &lab.namespace(&name).expect("built").queues()[0];
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = vec![0u8; VNET_HDR_LEN + 65535];
    let syn = loop {
        assert!(Instant::now() < deadline, "no SYN on the TUN");
        match queue.recv(&mut buf) {
            Ok(n) => {
                let packet =
                    etherparse::SlicedPacket::from_ip(&buf[VNET_HDR_LEN..n]).expect("an IP packet");
                let Some(etherparse::NetSlice::Ipv4(v4)) = packet.net else {
                    continue;
                };
                let Some(etherparse::TransportSlice::Tcp(tcp)) = packet.transport else {
                    continue;
                };
                if tcp.syn() {
                    break (
                        v4.header().source_addr(),
                        v4.header().destination_addr(),
                        tcp.destination_port(),
                    );
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => panic!("reading the TUN: {e}"),
        }
    };
    assert_eq!(
        syn,
        (
            Ipv4Addr::new(168, 63, 129, 16),
            Ipv4Addr::new(10, 0, 1, 4),
            80
        )
    );
    // Nobody answers on the far side of this TUN.
    assert_eq!(probing.join().expect("the check"), down("timed out"));
}
