//! The HTTP server's promises, over real TCP: answers by path and method,
//! only to whom shows the token and names the lab's host, a silent or
//! trickling client given up on, a client that does not read cut and
//! counted, a panicking handler's connection closed and counted, and one
//! connection beyond the cap told the server is busy.

use super::access::{Access, Gate, Token};
use super::counters::{HttpCounters, Refusal};
use super::routes::{metrics_router, Exposition};
use super::server::{HttpServer, CLIENT_TIMEOUT, MAX_CONNECTIONS, WRITE_TIMEOUT};
use crate::daemon::threads::{ThreadKind, ThreadPanics};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn gate() -> Gate {
    let access = Access::new(Token::generate().unwrap(), &["lab1.example".into()]).unwrap();
    Gate {
        access: Arc::new(access),
        counters: Arc::default(),
    }
}

/// A server of `router` on a free port of 127.0.0.1.
fn serve(
    router: axum::Router,
    panics: Arc<ThreadPanics>,
    counters: Arc<HttpCounters>,
) -> HttpServer {
    let addr = "127.0.0.1:0".parse().unwrap();
    HttpServer::start("test-http", addr, router, panics, counters).unwrap()
}

/// A metrics server, and the header that shows its token.
fn metrics_server(exposition: Exposition, panics: Arc<ThreadPanics>) -> (HttpServer, Gate) {
    let gate = gate();
    let router = metrics_router(exposition, gate.clone());
    let server = serve(router, panics, gate.counters.clone());
    (server, gate)
}

/// A connection that sent `GET path` and reads nothing yet.
fn send_get(addr: SocketAddr, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
        .unwrap();
    stream
}

/// Sets its flag when dropped: a handler's work was dropped.
struct Dropped(Arc<AtomicBool>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn bearer(gate: &Gate) -> String {
    format!("Authorization: Bearer {}\r\n", gate.access.token().as_str())
}

/// One request on its own connection; the whole answer, with headers
/// lower-cased.
fn get(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).to_lowercase()
}

const CLOSE: &str = "Connection: close\r\n\r\n";

#[test]
fn metrics_are_answered_by_path_and_method() {
    let (server, gate) = metrics_server(
        Arc::new(|| "vnetd_snapshot_generation 1\n".to_string()),
        Arc::default(),
    );
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    let auth = bearer(&gate);
    // A client that connects and says nothing holds no one up.
    let _silent = TcpStream::connect(addr).unwrap();
    let ok = get(
        addr,
        &format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\n{auth}{CLOSE}"),
    );
    assert!(ok.starts_with("http/1.1 200 ok\r\n"), "{ok}");
    assert!(
        ok.contains("\r\ncontent-type: text/plain; version=0.0.4\r\n"),
        "{ok}"
    );
    assert!(
        ok.ends_with("\r\n\r\nvnetd_snapshot_generation 1\n"),
        "{ok}"
    );
    // One request per connection, even when the client would keep it.
    let kept = get(
        addr,
        &format!("GET /metrics HTTP/1.1\r\nHost: localhost\r\n{auth}\r\n"),
    );
    assert!(kept.contains("\r\nconnection: close\r\n"), "{kept}");
    let query = get(addr, &format!("GET /metrics?x=1 HTTP/1.0\r\n{auth}{CLOSE}"));
    assert!(query.starts_with("http/1.0 200 ok\r\n"), "{query}");
    let missing = get(addr, &format!("GET /nope HTTP/1.1\r\n{CLOSE}"));
    assert!(
        missing.starts_with("http/1.1 404 not found\r\n"),
        "{missing}"
    );
    assert!(
        missing.ends_with("the metrics are at /metrics\n"),
        "{missing}"
    );
    let post = get(
        addr,
        &format!("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n{auth}{CLOSE}"),
    );
    assert!(
        post.starts_with("http/1.1 405 method not allowed\r\n"),
        "{post}"
    );
    assert!(post.contains("\r\nallow: get,head\r\n"), "{post}");
    let garbage = get(addr, "GET\r\n\r\n");
    assert!(
        garbage.starts_with("http/1.1 400 bad request\r\n"),
        "{garbage}"
    );
    // Dropping stops the server and frees the port.
    drop(server);
    assert!(TcpListener::bind(addr).is_ok());
}

#[test]
fn a_client_trickling_its_request_is_cut_off() {
    let (server, _) = metrics_server(Arc::new(String::new), Arc::default());
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
    let mut buf = [0u8; 256];
    while let Ok(1..) = stream.read(&mut buf) {}
    assert!(
        started.elapsed() < CLIENT_TIMEOUT + Duration::from_millis(1500),
        "held for {:?}",
        started.elapsed()
    );
}

#[test]
fn a_scrape_that_panics_is_closed_counted_and_the_next_is_served() {
    let panics = Arc::new(ThreadPanics::default());
    let first = Arc::new(AtomicBool::new(true));
    let (server, gate) = metrics_server(
        Arc::new(move || {
            if first.swap(false, Ordering::Relaxed) {
                panic!("a broken exposition");
            }
            "vnetd_snapshot_generation 1\n".to_string()
        }),
        panics.clone(),
    );
    let addr = server.local_addr();
    let auth = bearer(&gate);
    let unanswered = get(
        addr,
        &format!("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n"),
    );
    assert_eq!(unanswered, "", "the connection is closed without an answer");
    wait_until(Duration::from_secs(10), "the panic counted", || {
        panics.count(ThreadKind::Metrics) > 0 && server.connections() == 0
    });
    let answer = get(addr, &format!("GET /metrics HTTP/1.1\r\n{auth}{CLOSE}"));
    assert!(
        answer.ends_with("\r\n\r\nvnetd_snapshot_generation 1\n"),
        "{answer}"
    );
    assert_eq!(panics.count(ThreadKind::Metrics), 1);
}

#[test]
fn one_connection_beyond_the_cap_is_told_the_server_is_busy() {
    let router = axum::Router::new().route(
        "/hold",
        axum::routing::get(futures::future::pending::<&'static str>),
    );
    let counters = Arc::new(HttpCounters::default());
    let server = serve(router, Arc::default(), counters.clone());
    let addr = server.local_addr();
    let held: Vec<TcpStream> = (0..MAX_CONNECTIONS)
        .map(|_| send_get(addr, "/hold"))
        .collect();
    wait_until(Duration::from_secs(10), "every connection held", || {
        server.connections() >= MAX_CONNECTIONS
    });
    let busy = get(addr, "GET /hold HTTP/1.1\r\n\r\n");
    assert!(
        busy.starts_with("http/1.1 503 service unavailable\r\n"),
        "{busy}"
    );
    assert_eq!(counters.refusals(Refusal::Connections), 1);
    drop(held);
    wait_until(
        Duration::from_secs(10),
        "the closed clients uncounted",
        || server.connections() == 0,
    );
}

/// Waits until `done`, for at most `patience`.
fn wait_until(patience: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + patience;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {patience:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The status line of an answer, lower-cased.
fn status(answer: &str) -> &str {
    answer.lines().next().unwrap_or_default()
}

#[test]
fn the_metrics_need_the_token() {
    let (server, gate) = metrics_server(Arc::new(|| "up 1\n".to_string()), Arc::default());
    let addr = server.local_addr();
    let token = gate.access.token().as_str().to_string();
    let none = get(
        addr,
        &format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\n{CLOSE}"),
    );
    assert_eq!(status(&none), "http/1.1 401 unauthorized", "{none}");
    assert!(
        none.contains("\r\nwww-authenticate: bearer realm=\"vnetd\"\r\n"),
        "{none}"
    );
    assert!(!none.contains("up 1"), "{none}");
    let wrong = get(
        addr,
        &format!(
            "GET /metrics HTTP/1.1\r\nAuthorization: Bearer {}x\r\n{CLOSE}",
            &token[1..]
        ),
    );
    assert_eq!(status(&wrong), "http/1.1 401 unauthorized", "{wrong}");
    let basic = get(
        addr,
        &format!("GET /metrics HTTP/1.1\r\nAuthorization: Basic {token}\r\n{CLOSE}"),
    );
    assert_eq!(status(&basic), "http/1.1 401 unauthorized", "{basic}");
    let header = get(
        addr,
        &format!("GET /metrics HTTP/1.1\r\nAuthorization: Bearer {token}\r\n{CLOSE}"),
    );
    assert_eq!(status(&header), "http/1.1 200 ok", "{header}");
    assert!(header.ends_with("\r\n\r\nup 1\n"), "{header}");
    let query = get(
        addr,
        &format!("GET /metrics?token={token} HTTP/1.1\r\n{CLOSE}"),
    );
    assert_eq!(status(&query), "http/1.1 200 ok", "{query}");
    assert_eq!(gate.counters.refusals(Refusal::Token), 3);
}

/// DNS rebinding (a name of the attacker's that resolves to 127.0.0.1) and
/// another site's page are refused on every path, token or not; an
/// address, localhost and an allowed name are answered, as Prometheus
/// scraping from another machine asks.
#[test]
fn a_foreign_host_or_another_site_is_refused() {
    let (server, gate) = metrics_server(Arc::new(|| "up 1\n".to_string()), Arc::default());
    let addr = server.local_addr();
    let auth = bearer(&gate);
    let port = addr.port();
    for host in [
        format!("rebind.example:{port}"),
        "rebind.example".to_string(),
        format!("127.0.0.1.nip.io:{port}"),
    ] {
        for path in ["/metrics", "/nope", "/"] {
            let answer = get(
                addr,
                &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}{CLOSE}"),
            );
            assert_eq!(
                status(&answer),
                "http/1.1 403 forbidden",
                "{host}{path}: {answer}"
            );
            assert!(!answer.contains("up 1"), "{answer}");
        }
    }
    for host in [
        addr.to_string(),
        format!("localhost:{port}"),
        format!("192.0.2.7:{port}"),
        format!("[::1]:{port}"),
        format!("lab1.example:{port}"),
    ] {
        let answer = get(
            addr,
            &format!("GET /metrics HTTP/1.1\r\nHost: {host}\r\n{auth}{CLOSE}"),
        );
        assert_eq!(status(&answer), "http/1.1 200 ok", "{host}: {answer}");
    }
    let from = |headers: &str| {
        get(
            addr,
            &format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\n{headers}{auth}{CLOSE}"),
        )
    };
    let own = from(&format!(
        "Origin: http://{addr}\r\nSec-Fetch-Site: same-origin\r\n"
    ));
    assert_eq!(status(&own), "http/1.1 200 ok", "{own}");
    assert!(own.contains("\r\nx-frame-options: deny\r\n"), "{own}");
    assert!(
        own.contains("\r\nreferrer-policy: no-referrer\r\n"),
        "{own}"
    );
    for foreign in [
        "Origin: http://rebind.example\r\n".to_string(),
        format!("Origin: http://127.0.0.1:{}\r\n", port.wrapping_add(1)),
        "Origin: null\r\n".to_string(),
        "Sec-Fetch-Site: cross-site\r\n".to_string(),
        "Sec-Fetch-Site: same-site\r\n".to_string(),
    ] {
        let answer = from(&foreign);
        assert_eq!(
            status(&answer),
            "http/1.1 403 forbidden",
            "{foreign}: {answer}"
        );
    }
    // A target in absolute form names a host too.
    let absolute = get(
        addr,
        &format!("GET http://rebind.example/metrics HTTP/1.1\r\nHost: {addr}\r\n{auth}{CLOSE}"),
    );
    assert_eq!(status(&absolute), "http/1.1 403 forbidden", "{absolute}");
    assert_eq!(gate.counters.refusals(Refusal::Host), 10);
    assert_eq!(gate.counters.refusals(Refusal::Origin), 5);
}

/// An answer that never ends (as a capture or an event stream), to a
/// client that never reads: cut at the write deadline, its body dropped,
/// counted; others are served meanwhile.
#[test]
fn a_client_that_does_not_read_is_cut_and_counted() {
    let ended = Arc::new(AtomicBool::new(false));
    let flag = ended.clone();
    let router = axum::Router::new()
        .route(
            "/flood",
            axum::routing::get(move || {
                let guard = Dropped(flag.clone());
                let chunk = axum::body::Bytes::from(vec![b'x'; 64 << 10]);
                let body = futures::stream::repeat_with(move || {
                    let _ = &guard;
                    Ok::<_, std::io::Error>(chunk.clone())
                });
                async move { axum::body::Body::from_stream(body) }
            }),
        )
        .route("/quick", axum::routing::get(|| async { "here\n" }));
    let counters = Arc::new(HttpCounters::default());
    let server = serve(router, Arc::default(), counters.clone());
    let addr = server.local_addr();
    let stalled = send_get(addr, "/flood");
    let started = Instant::now();
    wait_until(Duration::from_secs(10), "the flood answered", || {
        server.connections() == 1
    });
    let quick = get(addr, &format!("GET /quick HTTP/1.1\r\n{CLOSE}"));
    assert!(quick.ends_with("\r\n\r\nhere\n"), "{quick}");
    wait_until(
        WRITE_TIMEOUT + Duration::from_secs(10),
        "the stalled client cut",
        || server.connections() == 0,
    );
    assert!(
        started.elapsed() >= WRITE_TIMEOUT,
        "cut after {:?}",
        started.elapsed()
    );
    assert!(ended.load(Ordering::Relaxed), "the answer's body was kept");
    assert_eq!(counters.clients_cut(), 1);
    drop(stalled);
}

/// A client that closes its connection while its request is being
/// answered ends the answer's work at once: the handler is dropped (a
/// capture's filter compiler with it) and the slot freed.
#[test]
fn a_request_whose_client_leaves_is_dropped_at_once() {
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = dropped.clone();
    let router = axum::Router::new().route(
        "/work",
        axum::routing::get(move || {
            let guard = Dropped(flag.clone());
            async move {
                futures::future::pending::<()>().await;
                drop(guard);
                "never"
            }
        }),
    );
    let server = serve(router, Arc::default(), Arc::default());
    let client = send_get(server.local_addr(), "/work");
    wait_until(Duration::from_secs(10), "the request taken", || {
        server.connections() == 1
    });
    assert!(!dropped.load(Ordering::Relaxed));
    drop(client);
    wait_until(Duration::from_secs(2), "the work dropped", || {
        dropped.load(Ordering::Relaxed) && server.connections() == 0
    });
}
