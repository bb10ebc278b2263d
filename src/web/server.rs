//! The HTTP server: axum's router on hyper, served by the accept loop
//! every listener of vnetd shares ([`crate::host::listener`]), which bounds
//! what each client may hold: at most [`MAX_CONNECTIONS`] at once (one
//! more is answered 503 and closed), a request head must arrive within
//! [`CLIENT_TIMEOUT`], one request per connection (`Connection: close`),
//! an answer may wait at most [`WRITE_TIMEOUT`] on a client that does not
//! read (then the connection is cut and counted, and what it was
//! streaming ends), and a connection whose handler panics is closed and
//! counted, the next one served. When `accept` fails (out of file
//! descriptors), the loop waits before it tries again, longer each time,
//! and counts it. Work that takes long runs on at most
//! [`MAX_BLOCKING_THREADS`] threads beside the server's own. Stopping
//! never waits for a client.

use super::counters::{HttpCounters, Refusal};
use crate::daemon::threads::{ThreadKind, ThreadPanics};
use crate::host::listener::{self, Arrival, Client, Limits};
use anyhow::Context;
use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use std::any::Any;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Connections served at once; the live page holds one for its events.
pub const MAX_CONNECTIONS: usize = 64;

/// How long a client may take to send a request's head, and to take the
/// busy answer.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long an answer may wait on a client that takes none of it (the
/// control socket's figure).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Threads for the work that takes long (a scrape, the picture, flows, a
/// trace, opening a capture); more waits for one of them.
pub const MAX_BLOCKING_THREADS: usize = 4;

/// What a connection buffers at most, each way: a request head, and an
/// answer's bytes not yet taken by the kernel.
const MAX_BUFFER: usize = 64 << 10;

/// A running server; stops when dropped.
pub struct HttpServer {
    local_addr: SocketAddr,
    server: listener::Server,
}

impl HttpServer {
    /// Listens at `addr` (bound before returning, so a taken port is an
    /// error here) and serves `app` on a thread named `name`.
    pub fn start(
        name: &str,
        addr: SocketAddr,
        app: Router,
        panics: Arc<ThreadPanics>,
        counters: Arc<HttpCounters>,
    ) -> anyhow::Result<HttpServer> {
        let socket = TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
        let local_addr = socket.local_addr()?;
        socket.set_nonblocking(true)?;
        let limits = Limits {
            connections: MAX_CONNECTIONS,
            per_caller: None,
            request: CLIENT_TIMEOUT,
            write: WRITE_TIMEOUT,
            work_threads: MAX_BLOCKING_THREADS,
        };
        let server = listener::Server::start::<tokio::net::TcpListener, _, _, _>(
            name,
            socket,
            limits,
            Http { app },
            HttpEvents { counters, panics },
        )?;
        Ok(HttpServer { local_addr, server })
    }

    /// The address actually listened on (port 0 picks a free one).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Connections being served now.
    pub fn connections(&self) -> usize {
        self.server.connections()
    }
}

/// What the HTTP server serves: `app`, one request per connection.
struct Http {
    app: Router,
}

impl listener::Service<TcpStream> for Http {
    async fn serve(&self, client: Client<TcpStream>) {
        // One request per connection: an idle keep-alive client would hold
        // its slot with no timeout to end it. hyper keeps reading while it
        // answers: a client that closes its connection has its answer
        // dropped (and the work behind it, a capture's filter compiler) at
        // once. The request has arrived when hyper hands its head to the
        // router.
        let app = Arrived {
            arrival: client.arrival(),
            app: TowerToHyperService::new(self.app.clone()),
        };
        let _ = hyper::server::conn::http1::Builder::new()
            // The loop's request deadline bounds the head.
            .header_read_timeout(None)
            .keep_alive(false)
            .max_buf_size(MAX_BUFFER)
            .serve_connection(TokioIo::new(client), app)
            .await;
    }

    async fn busy(&self, mut stream: TcpStream) {
        const BODY: &str = "too many connections at once\n";
        let answer = format!(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
            BODY.len()
        );
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
    }
}

/// The router, marking the connection's request arrived when hyper calls
/// it with the request's head.
struct Arrived<S> {
    arrival: Arrival,
    app: S,
}

impl<R, S: hyper::service::Service<R>> hyper::service::Service<R> for Arrived<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn call(&self, request: R) -> S::Future {
        self.arrival.mark();
        self.app.call(request)
    }
}

/// Where the HTTP server's events go: the run's HTTP counters, and its
/// panics under the metrics kind.
struct HttpEvents {
    counters: Arc<HttpCounters>,
    panics: Arc<ThreadPanics>,
}

impl listener::Events for HttpEvents {
    fn accept_failed(&self, _: &std::io::Error) {
        self.counters.accept_failed();
    }

    fn refused_busy(&self) {
        self.counters.refused(Refusal::Connections);
    }

    fn client_cut(&self) {
        self.counters.client_cut();
    }

    fn panicked(&self, payload: &(dyn Any + Send)) {
        self.panics
            .caught(ThreadKind::Metrics, "an HTTP connection", payload);
    }
}
