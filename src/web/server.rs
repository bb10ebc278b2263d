//! The HTTP server: axum's router on hyper, on one thread with a
//! current-thread tokio runtime, and an accept loop of vnetd's own that
//! bounds what each client may hold: at most [`MAX_CONNECTIONS`] at once
//! (one more is answered 503 and closed), a request head must arrive
//! within [`CLIENT_TIMEOUT`], one request per connection (`Connection:
//! close`), an answer may wait at most [`WRITE_TIMEOUT`] on a client that
//! does not read (then the connection is cut and counted, and what it was
//! streaming ends), and a connection whose handler panics is closed and
//! counted, the next one served. When `accept` fails (out of file
//! descriptors), the loop waits before it tries again, longer each time.
//! Work that takes long runs on at most [`MAX_BLOCKING_THREADS`] threads
//! beside the server's own. Stopping never waits for a client.

use super::counters::{HttpCounters, Refusal};
use crate::daemon::threads::{ThreadKind, ThreadPanics};
use anyhow::Context;
use axum::Router;
use futures::FutureExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::{Notify, Semaphore};
use tokio::time::Sleep;

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

/// How long a thread for long work waits idle for more before it ends.
const BLOCKING_KEEP_ALIVE: Duration = Duration::from_secs(2);

/// What a connection buffers at most, each way: a request head, and an
/// answer's bytes not yet taken by the kernel.
const MAX_BUFFER: usize = 64 << 10;

/// The longest wait between two tries of a failing `accept`.
pub const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

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
        counters: Arc<HttpCounters>,
    ) -> anyhow::Result<HttpServer> {
        let listener =
            TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
        let local_addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(MAX_BLOCKING_THREADS)
            // An idle one gives its stack back soon (a scrape touches
            // hundreds of KiB of it).
            .thread_keep_alive(BLOCKING_KEEP_ALIVE)
            .thread_name(format!("{name}-work"))
            .build()
            .context("starting the HTTP server's runtime")?;
        let stop = Arc::new(Notify::new());
        let connections = Arc::new(AtomicUsize::new(0));
        let accept = AcceptLoop {
            app,
            panics,
            counters,
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
    counters: Arc<HttpCounters>,
    stop: Arc<Notify>,
    connections: Arc<AtomicUsize>,
}

impl AcceptLoop {
    async fn run(self, listener: TcpListener) {
        let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
            return;
        };
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let mut backoff = AcceptBackoff::default();
        loop {
            let accepted = tokio::select! {
                () = self.stop.notified() => return,
                accepted = listener.accept() => accepted,
            };
            let stream = match accepted {
                Ok((stream, _)) => {
                    backoff.succeeded();
                    stream
                }
                Err(e) => {
                    let Some(wait) = backoff.failed(&e) else {
                        continue;
                    };
                    self.counters.accept_failed();
                    tokio::select! {
                        () = self.stop.notified() => return,
                        () = tokio::time::sleep(wait) => continue,
                    }
                }
            };
            match slots.clone().try_acquire_owned() {
                Ok(slot) => {
                    self.connections.fetch_add(1, Ordering::Relaxed);
                    let (app, panics) = (self.app.clone(), self.panics.clone());
                    let (connections, counters) = (self.connections.clone(), self.counters.clone());
                    tokio::spawn(async move {
                        serve(stream, app, &panics, counters).await;
                        connections.fetch_sub(1, Ordering::Relaxed);
                        drop(slot);
                    });
                }
                Err(_) => {
                    self.counters.refused(Refusal::Connections);
                    tokio::spawn(busy(stream));
                }
            }
        }
    }
}

/// How long the accept loop waits after `accept` failed: nothing for a
/// connection that went away before it was taken, else 10 ms doubling up
/// to [`ACCEPT_BACKOFF_MAX`] while it keeps failing (out of file
/// descriptors or memory: trying again at once would spin).
#[derive(Debug, Default)]
pub struct AcceptBackoff {
    next: Option<Duration>,
}

impl AcceptBackoff {
    pub fn failed(&mut self, error: &io::Error) -> Option<Duration> {
        if matches!(
            error.kind(),
            io::ErrorKind::ConnectionAborted
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::Interrupted
        ) {
            return None;
        }
        let wait = self.next.unwrap_or(Duration::from_millis(10));
        self.next = Some((wait * 2).min(ACCEPT_BACKOFF_MAX));
        Some(wait)
    }

    pub fn succeeded(&mut self) {
        self.next = None;
    }
}

/// Serves one connection; a handler's panic closes it and is counted.
async fn serve(
    stream: tokio::net::TcpStream,
    app: Router,
    panics: &ThreadPanics,
    counters: Arc<HttpCounters>,
) {
    // One request per connection: an idle keep-alive client would hold
    // its slot with no timeout to end it. hyper keeps reading while it
    // answers: a client that closes its connection has its answer dropped
    // (and the work behind it, a capture's filter compiler) at once.
    let io = ClientIo::new(stream, WRITE_TIMEOUT, counters);
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(CLIENT_TIMEOUT)
        .keep_alive(false)
        .max_buf_size(MAX_BUFFER)
        .serve_connection(TokioIo::new(io), TowerToHyperService::new(app));
    if let Err(payload) = AssertUnwindSafe(connection).catch_unwind().await {
        panics.caught(ThreadKind::Metrics, "an HTTP connection", payload.as_ref());
    }
}

/// The connection as hyper reads and writes it, whose writes fail once
/// the client has taken nothing for `timeout`: hyper then drops the
/// connection, and with it the answer being streamed (an event stream, a
/// capture, whose thread sees its reader gone).
struct ClientIo {
    stream: tokio::net::TcpStream,
    timeout: Duration,
    /// Running while a write waits for the client.
    stalled: Option<Pin<Box<Sleep>>>,
    counters: Arc<HttpCounters>,
}

impl ClientIo {
    fn new(
        stream: tokio::net::TcpStream,
        timeout: Duration,
        counters: Arc<HttpCounters>,
    ) -> ClientIo {
        ClientIo {
            stream,
            timeout,
            stalled: None,
            counters,
        }
    }

    /// What a write the client did not take answers: wait, or past the
    /// deadline, an error.
    fn waiting<T>(&mut self, cx: &mut TaskContext<'_>) -> Poll<io::Result<T>> {
        let timeout = self.timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match stalled.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                self.stalled = None;
                self.counters.client_cut();
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client took nothing of the answer in time",
                )))
            }
        }
    }

    fn progressed<T>(
        &mut self,
        result: Poll<io::Result<T>>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<io::Result<T>> {
        match result {
            Poll::Ready(r) => {
                self.stalled = None;
                Poll::Ready(r)
            }
            Poll::Pending => self.waiting(cx),
        }
    }
}

impl AsyncRead for ClientIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ClientIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.progressed(result, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.progressed(result, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.stream).poll_flush(cx);
        this.progressed(result, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.stream).poll_shutdown(cx);
        this.progressed(result, cx)
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
