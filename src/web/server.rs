//! The HTTP server: axum's router on hyper, on one thread with a
//! current-thread tokio runtime, and an accept loop of vnetd's own that
//! holds what the metrics endpoint always promised: at most
//! [`MAX_CONNECTIONS`] at once (one more is answered 503 and closed), a
//! request head must arrive within [`CLIENT_TIMEOUT`], one request per
//! connection (`Connection: close`), and a connection
//! whose handler panics is closed and counted, the next one served.
//! Stopping never waits for a client.

use crate::daemon::threads::{ThreadKind, ThreadPanics};
use anyhow::Context;
use axum::Router;
use futures::FutureExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::net::{SocketAddr, TcpListener};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::{Notify, Semaphore};

/// Connections served at once; the live page holds one for its events.
pub const MAX_CONNECTIONS: usize = 64;

/// How long a client may take to send a request's head, and to take the
/// busy answer.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// A running server; stops when dropped.
pub struct HttpServer {
    local_addr: SocketAddr,
    stop: Arc<Notify>,
    connections: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Listens at `addr` (bound before returning, so a taken port is an
    /// error here) and serves `app` on a thread named `name`.
    pub fn start(
        name: &str,
        addr: SocketAddr,
        app: Router,
        panics: Arc<ThreadPanics>,
    ) -> anyhow::Result<HttpServer> {
        let listener =
            TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
        let local_addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the HTTP server's runtime")?;
        let stop = Arc::new(Notify::new());
        let connections = Arc::new(AtomicUsize::new(0));
        let accept = AcceptLoop {
            app,
            panics,
            stop: stop.clone(),
            connections: connections.clone(),
        };
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                runtime.block_on(accept.run(listener));
                // Connections still open (an event stream) end with the
                // runtime; nothing waits for their clients.
                runtime.shutdown_background();
            })
            .context("starting the HTTP server's thread")?;
        Ok(HttpServer {
            local_addr,
            stop,
            connections,
            thread: Some(thread),
        })
    }

    /// The address actually listened on (port 0 picks a free one).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Connections being served now.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct AcceptLoop {
    app: Router,
    panics: Arc<ThreadPanics>,
    stop: Arc<Notify>,
    connections: Arc<AtomicUsize>,
}

impl AcceptLoop {
    async fn run(self, listener: TcpListener) {
        let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
            return;
        };
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let stream = tokio::select! {
                () = self.stop.notified() => return,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => continue,
                },
            };
            match slots.clone().try_acquire_owned() {
                Ok(slot) => {
                    self.connections.fetch_add(1, Ordering::Relaxed);
                    let (app, panics) = (self.app.clone(), self.panics.clone());
                    let connections = self.connections.clone();
                    tokio::spawn(async move {
                        serve(stream, app, &panics).await;
                        connections.fetch_sub(1, Ordering::Relaxed);
                        drop(slot);
                    });
                }
                Err(_) => {
                    tokio::spawn(busy(stream));
                }
            }
        }
    }
}

/// Serves one connection; a handler's panic closes it and is counted.
async fn serve(stream: tokio::net::TcpStream, app: Router, panics: &ThreadPanics) {
    // One request per connection: an idle keep-alive client would hold
    // its slot with no timeout to end it.
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(CLIENT_TIMEOUT)
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    if let Err(payload) = AssertUnwindSafe(connection).catch_unwind().await {
        panics.caught(ThreadKind::Metrics, "an HTTP connection", payload.as_ref());
    }
}

/// The answer to a connection beyond [`MAX_CONNECTIONS`].
async fn busy(mut stream: tokio::net::TcpStream) {
    const BODY: &str = "too many connections at once\n";
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tokio::time::timeout(CLIENT_TIMEOUT, async {
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}
