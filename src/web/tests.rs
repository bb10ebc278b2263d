//! The HTTP server's promises, over real TCP: answers by path and method,
//! a silent or trickling client given up on, a panicking handler's
//! connection closed and counted, and one connection beyond the cap told
//! the server is busy.

use super::routes::{metrics_router, Exposition};
use super::server::{HttpServer, CLIENT_TIMEOUT, MAX_CONNECTIONS};
use crate::daemon::threads::{ThreadKind, ThreadPanics};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn metrics_server(exposition: Exposition, panics: Arc<ThreadPanics>) -> HttpServer {
    let addr = "127.0.0.1:0".parse().unwrap();
    HttpServer::start("test-http", addr, metrics_router(exposition), panics).unwrap()
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
    let server = metrics_server(
        Arc::new(|| "vnetd_snapshot_generation 1\n".to_string()),
        Arc::default(),
    );
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    // A client that connects and says nothing holds no one up.
    let _silent = TcpStream::connect(addr).unwrap();
    let ok = get(
        addr,
        &format!("GET /metrics HTTP/1.1\r\nHost: t\r\n{CLOSE}"),
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
    let kept = get(addr, "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(kept.contains("\r\nconnection: close\r\n"), "{kept}");
    let query = get(addr, &format!("GET /metrics?x=1 HTTP/1.0\r\n{CLOSE}"));
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
        &format!("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n{CLOSE}"),
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
    let server = metrics_server(Arc::new(String::new), Arc::default());
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
    use std::sync::atomic::{AtomicBool, Ordering};
    let panics = Arc::new(ThreadPanics::default());
    let first = Arc::new(AtomicBool::new(true));
    let server = metrics_server(
        Arc::new(move || {
            if first.swap(false, Ordering::Relaxed) {
                panic!("a broken exposition");
            }
            "vnetd_snapshot_generation 1\n".to_string()
        }),
        panics.clone(),
    );
    let addr = server.local_addr();
    let unanswered = get(addr, "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(unanswered, "", "the connection is closed without an answer");
    let deadline = Instant::now() + Duration::from_secs(10);
    while panics.count(ThreadKind::Metrics) == 0 || server.connections() > 0 {
        assert!(Instant::now() < deadline, "the panic was not counted");
        std::thread::sleep(Duration::from_millis(10));
    }
    let answer = get(addr, &format!("GET /metrics HTTP/1.1\r\n{CLOSE}"));
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
    let addr = "127.0.0.1:0".parse().unwrap();
    let server = HttpServer::start("test-http", addr, router, Arc::default()).unwrap();
    let addr = server.local_addr();
    let held: Vec<TcpStream> = (0..MAX_CONNECTIONS)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")
                .unwrap();
            s
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.connections() < MAX_CONNECTIONS {
        assert!(Instant::now() < deadline, "{} held", server.connections());
        std::thread::sleep(Duration::from_millis(10));
    }
    let busy = get(addr, "GET /hold HTTP/1.1\r\n\r\n");
    assert!(
        busy.starts_with("http/1.1 503 service unavailable\r\n"),
        "{busy}"
    );
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.connections() > 0 {
        assert!(Instant::now() < deadline, "closed clients still counted");
        std::thread::sleep(Duration::from_millis(10));
    }
}
