//! The one accept loop of every listening socket vnetd opens (the control
//! socket, the metrics endpoint, the live page, the PaaS responders, the
//! firewalls' proxies, Azure DNS over TCP): on a thread of its own with a
//! current-thread tokio runtime, it bounds what each client may hold. A
//! listener says only what it serves (a [`Service`]), where what happens
//! is counted or said (its [`Events`]) and its [`Limits`]; one server may
//! take connections from several sockets ([`Server::listen`]), each with a
//! service of its own, within the same limits:
//!
//! - at most [`Limits::per_caller`] connections from one caller (its IP
//!   address) are served at once on each socket; one more is handed to
//!   [`Service::busy`] and [`Events::refused_per_caller`] told, whatever
//!   the other callers hold, so that a caller over its share is refused as
//!   such however busy the rest are;
//! - at most [`Limits::connections`] connections are served at once, all
//!   sockets together; one more is handed to [`Service::busy`], which
//!   tells the client the server is busy within the shorter of the request
//!   and write deadlines (a refused client holds less than a served one),
//!   and is closed;
//! - a request must arrive within [`Limits::request`] of the connection:
//!   reading fails past it, until the service marks the request arrived
//!   ([`Arrival`]);
//! - a write may wait at most [`Limits::write`] on a client that takes none
//!   of it: then it fails, the connection is cut and [`Events::client_cut`]
//!   told;
//! - when `accept` fails (out of file descriptors or memory), the loop
//!   waits before it tries again, longer each time ([`AcceptBackoff`]);
//! - a service that panics has its connection closed and its slot freed
//!   before [`Events::panicked`] is told, so a panic counted means the slot
//!   is back;
//! - work that blocks runs on at most [`Limits::work_threads`] threads
//!   beside the loop's own (`spawn_blocking`), which end when idle;
//! - stopping never waits for a client: the loop ends at once and the
//!   connections still open end with the runtime.
//!
//! Plain Linux sockets: it knows nothing of what it serves.

use futures::FutureExt;
use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{Notify, Semaphore};
use tokio::time::Sleep;

/// The longest wait between two tries of a failing `accept`.
pub const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// How long a thread for blocking work waits idle for more before it ends
/// (and gives back the stack it touched).
const WORK_THREAD_KEEP_ALIVE: Duration = Duration::from_secs(2);

/// What a listener allows each client, and all of them together.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once, all sockets of the server together.
    pub connections: usize,
    /// Connections one caller (an IP address) is served at once on one
    /// socket; `None`: no such bound (a Unix socket's callers have no
    /// address, and are never bounded so).
    pub per_caller: Option<usize>,
    /// How long a client may take to send its request.
    pub request: Duration,
    /// How long a write may wait on a client that takes none of it.
    pub write: Duration,
    /// Threads for the work that blocks; more waits for one of them.
    pub work_threads: usize,
}

impl Limits {
    /// How long the busy answer may take: the shorter of the two
    /// deadlines, so a refused client holds less than a served one.
    fn busy(&self) -> Duration {
        self.request.min(self.write)
    }
}

/// A listening socket the loop takes connections from.
pub trait Listener: Send + 'static {
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The next connection, and its caller's address (none on a Unix
    /// socket).
    fn accept_one(&self)
        -> impl Future<Output = io::Result<(Self::Stream, Option<IpAddr>)>> + Send;
}

impl Listener for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;
    async fn accept_one(&self) -> io::Result<(Self::Stream, Option<IpAddr>)> {
        (self.accept().await).map(|(stream, peer)| (stream, Some(peer.ip())))
    }
}

impl Listener for tokio::net::UnixListener {
    type Stream = tokio::net::UnixStream;
    async fn accept_one(&self) -> io::Result<(Self::Stream, Option<IpAddr>)> {
        self.accept().await.map(|(stream, _)| (stream, None))
    }
}

/// What a listener serves.
pub trait Service<S>: Send + Sync + 'static {
    /// Serves one connection.
    fn serve(&self, client: Client<S>) -> impl Future<Output = ()> + Send;
    /// Tells a connection beyond [`Limits::connections`] that the server
    /// is busy; it is given [`Limits::request`] or [`Limits::write`],
    /// whichever is shorter.
    fn busy(&self, stream: S) -> impl Future<Output = ()> + Send;
}

/// What the loop tells a listener's owner, to be counted or said where
/// its users look.
pub trait Events: Send + Sync + 'static {
    /// `accept` failed, and the loop waits before it tries again.
    fn accept_failed(&self, error: &io::Error);
    /// A connection was refused: every slot was taken.
    fn refused_busy(&self);
    /// A connection was refused: its caller held [`Limits::per_caller`]
    /// connections on that socket already. Never told without that bound.
    fn refused_per_caller(&self) {}
    /// A connection was cut: its client took nothing of an answer for
    /// [`Limits::write`].
    fn client_cut(&self);
    /// A service panicked (its connection is closed, its slot free).
    fn panicked(&self, payload: &(dyn Any + Send));
}

/// A running server: its thread and the sockets it takes connections
/// from; stops when dropped, without waiting for clients.
pub struct Server {
    stop: Arc<Notify>,
    slots: Arc<Semaphore>,
    limits: Limits,
    events: Arc<dyn Events>,
    runtime: tokio::runtime::Handle,
    name: String,
    /// The socket [`Server::start`] was given, served as long as the
    /// server.
    first: Option<Accepting>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `listener` (a non-blocking socket of the standard library)
    /// on a thread named `name`, its blocking work on threads named
    /// `name-work`.
    pub fn start<L, T, S, E>(
        name: &str,
        listener: T,
        limits: Limits,
        service: S,
        events: E,
    ) -> anyhow::Result<Server>
    where
        L: Listener,
        T: TryInto<L, Error = io::Error>,
        S: Service<L::Stream>,
        E: Events,
    {
        let mut server = Server::idle(name, limits, events)?;
        server.first = Some(server.listen(listener, service)?);
        Ok(server)
    }

    /// A server on a thread named `name` (its blocking work on threads
    /// named `name-work`) that takes no connection until a socket is given
    /// to [`Server::listen`].
    pub fn idle<E: Events>(name: &str, limits: Limits, events: E) -> anyhow::Result<Server> {
        use anyhow::Context as _;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(limits.work_threads)
            .thread_keep_alive(WORK_THREAD_KEEP_ALIVE)
            .thread_name(format!("{name}-work"))
            .build()
            .with_context(|| format!("starting {name}'s runtime"))?;
        let handle = runtime.handle().clone();
        let stop = Arc::new(Notify::new());
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                // The accept loops run on this thread until the server
                // stops.
                runtime.block_on(stopped.notified());
                // Connections still open (an event stream, a client that
                // does not read) end with the runtime; nothing waits for
                // their clients, nor for blocking work under way.
                runtime.shutdown_background();
            })
            .with_context(|| format!("starting {name}'s thread"))?;
        Ok(Server {
            stop,
            slots: Arc::new(Semaphore::new(limits.connections)),
            limits,
            events: Arc::new(events),
            runtime: handle,
            name: name.to_owned(),
            first: None,
            thread: Some(thread),
        })
    }

    /// Takes connections from `listener` too (a non-blocking socket of the
    /// standard library), served by `service` within this server's limits:
    /// they share its [`Limits::connections`], and [`Limits::per_caller`]
    /// counts each caller on this socket alone. Until the [`Accepting`]
    /// returned is dropped.
    pub fn listen<L, T, S>(&self, listener: T, service: S) -> anyhow::Result<Accepting>
    where
        L: Listener,
        T: TryInto<L, Error = io::Error>,
        S: Service<L::Stream>,
    {
        use anyhow::Context as _;
        let listener: L = {
            // The socket is registered with this server's reactor.
            let _entered = self.runtime.enter();
            listener.try_into()
        }
        .with_context(|| format!("registering {}'s socket", self.name))?;
        let stop = Arc::new(Notify::new());
        let accept = AcceptLoop {
            service: Arc::new(service),
            events: self.events.clone(),
            limits: self.limits,
            slots: self.slots.clone(),
            callers: Arc::default(),
            stop: stop.clone(),
        };
        self.runtime.spawn(accept.run(listener));
        Ok(Accepting { stop })
    }

    /// Connections being served now (each holds one of
    /// [`Limits::connections`] slots).
    pub fn connections(&self) -> usize {
        self.limits.connections - self.slots.available_permits()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A socket a [`Server`] takes connections from: dropping it stops taking
/// them and closes the socket (the connections taken are served to their
/// end).
pub struct Accepting {
    stop: Arc<Notify>,
}

impl Drop for Accepting {
    fn drop(&mut self) {
        self.stop.notify_one();
    }
}

/// The connections each caller holds on one socket, for
/// [`Limits::per_caller`].
#[derive(Default)]
struct Callers(Mutex<HashMap<IpAddr, usize>>);

impl Callers {
    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `caller` holds `bound` connections already.
    fn full(&self, caller: IpAddr, bound: usize) -> bool {
        self.held().get(&caller).is_some_and(|n| *n >= bound)
    }

    /// One more connection of `caller`'s, given back when the share is
    /// dropped.
    fn take(self: &Arc<Self>, caller: IpAddr) -> CallerShare {
        *self.held().entry(caller).or_default() += 1;
        CallerShare {
            callers: self.clone(),
            caller,
        }
    }
}

/// One connection of a caller's.
struct CallerShare {
    callers: Arc<Callers>,
    caller: IpAddr,
}

impl Drop for CallerShare {
    fn drop(&mut self) {
        let mut held = self.callers.held();
        if let Some(n) = held.get_mut(&self.caller) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.caller);
            }
        }
    }
}

struct AcceptLoop<S> {
    service: Arc<S>,
    events: Arc<dyn Events>,
    limits: Limits,
    slots: Arc<Semaphore>,
    callers: Arc<Callers>,
    stop: Arc<Notify>,
}

impl<S> AcceptLoop<S> {
    async fn run<L>(self, listener: L)
    where
        L: Listener,
        S: Service<L::Stream>,
    {
        let mut backoff = AcceptBackoff::default();
        loop {
            let accepted = tokio::select! {
                () = self.stop.notified() => return,
                accepted = listener.accept_one() => accepted,
            };
            let (stream, caller) = match accepted {
                Ok(accepted) => {
                    backoff.succeeded();
                    accepted
                }
                Err(e) => {
                    let Some(wait) = backoff.failed(&e) else {
                        continue;
                    };
                    self.events.accept_failed(&e);
                    tokio::select! {
                        () = self.stop.notified() => return,
                        () = tokio::time::sleep(wait) => continue,
                    }
                }
            };
            // The caller's share first: one over it is refused as such,
            // however many the others hold.
            let bounded = caller.zip(self.limits.per_caller);
            if bounded.is_some_and(|(caller, bound)| self.callers.full(caller, bound)) {
                self.events.refused_per_caller();
                self.refuse(stream);
                continue;
            }
            let Ok(slot) = self.slots.clone().try_acquire_owned() else {
                self.events.refused_busy();
                self.refuse(stream);
                continue;
            };
            let share = bounded.map(|(caller, _)| self.callers.take(caller));
            let service = self.service.clone();
            let events = self.events.clone();
            let client = Client::new(stream, &self.limits, events.clone());
            tokio::spawn(async move {
                let served = AssertUnwindSafe(service.serve(client)).catch_unwind().await;
                // The connection went with the service's future; the
                // caller's share and the slot go before the panic is told
                // (the share first: a free slot means a free share).
                drop((share, slot));
                if let Err(payload) = served {
                    events.panicked(payload.as_ref());
                }
            });
        }
    }

    /// Hands a refused connection to [`Service::busy`], for the shorter of
    /// the deadlines.
    fn refuse<T: Send + 'static>(&self, stream: T)
    where
        S: Service<T>,
    {
        let service = self.service.clone();
        let patience = self.limits.busy();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(patience, service.busy(stream)).await;
        });
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

/// Marks a connection's request arrived, which ends its request deadline;
/// a handle, for a service that hands the connection to a protocol library
/// and hears of the request from it.
#[derive(Debug, Clone, Default)]
pub struct Arrival(Arc<AtomicBool>);

impl Arrival {
    pub fn mark(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn marked(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// One accepted connection as a service reads and writes it: reading fails
/// once [`Limits::request`] has passed without the request marked arrived,
/// and a write fails once the client has taken nothing for
/// [`Limits::write`] (what was being written, a stream of events or a
/// capture, is dropped with the connection).
pub struct Client<S> {
    stream: S,
    arrival: Arrival,
    /// Running until the request arrives.
    request_deadline: Option<Pin<Box<Sleep>>>,
    write_timeout: Duration,
    /// Running while a write waits for the client.
    stalled: Option<Pin<Box<Sleep>>>,
    events: Arc<dyn Events>,
}

impl<S> Client<S> {
    fn new(stream: S, limits: &Limits, events: Arc<dyn Events>) -> Client<S> {
        Client {
            stream,
            arrival: Arrival::default(),
            request_deadline: Some(Box::pin(tokio::time::sleep(limits.request))),
            write_timeout: limits.write,
            stalled: None,
            events,
        }
    }

    /// The connection itself (to read its addresses).
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The handle that marks this connection's request arrived.
    pub fn arrival(&self) -> Arrival {
        self.arrival.clone()
    }

    /// Whether a read may go on: an error once the request is late.
    fn request_late(&mut self, cx: &mut Context<'_>) -> bool {
        if self.arrival.marked() {
            self.request_deadline = None;
        }
        self.request_deadline
            .as_mut()
            .is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready())
    }

    /// What a write the client did not take answers: wait, or past the
    /// deadline, an error.
    fn waiting<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let timeout = self.write_timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match stalled.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                self.stalled = None;
                self.events.client_cut();
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
        cx: &mut Context<'_>,
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

impl<S: AsyncRead + Unpin> AsyncRead for Client<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.request_late(cx) {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request did not arrive in time",
            )));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Client<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.progressed(result, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.progressed(result, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.stream).poll_flush(cx);
        this.progressed(result, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.stream).poll_shutdown(cx);
        this.progressed(result, cx)
    }
}

#[cfg(test)]
mod tests;
