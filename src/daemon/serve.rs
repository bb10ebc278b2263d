//! The control socket's accept loop (the HTTP server of [`crate::web`]
//! keeps the same promises on its own): connections are served concurrently, each on a thread
//! of its own, at most [`MAX_CONNECTIONS`] at once; one more gets the
//! `busy` answer and is closed. The listener is watched with `poll`, so a
//! connection is accepted the moment it arrives and the stop flag is seen
//! within [`STOP_POLL`]. Stopping never waits for a client: the accept loop
//! ends, and connection threads end on their own timeouts. A handler that
//! panics has its panic caught and handed to the server's owner, its
//! connection closed and its slot freed: a bug in one answer never eats
//! the server's capacity.
//!
//! It knows nothing of what it serves and uses no other room of the
//! daemon.

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::any::Any;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Connections served at once by one server.
pub const MAX_CONNECTIONS: usize = 64;

/// How often the accept loop looks at the stop flag while idle.
pub const STOP_POLL: Duration = Duration::from_millis(100);

/// A listening socket whose connections a [`Server`] hands out.
pub trait Listener: AsFd + Send + 'static {
    type Stream: Send + 'static;
    fn accept_one(&self) -> io::Result<Self::Stream>;
}

impl Listener for UnixListener {
    type Stream = UnixStream;
    fn accept_one(&self) -> io::Result<UnixStream> {
        let (stream, _) = self.accept()?;
        stream.set_nonblocking(false)?;
        Ok(stream)
    }
}

impl Listener for TcpListener {
    type Stream = TcpStream;
    fn accept_one(&self) -> io::Result<TcpStream> {
        let (stream, _) = self.accept()?;
        stream.set_nonblocking(false)?;
        Ok(stream)
    }
}

/// A running accept loop; stops (without waiting for clients) when dropped.
pub struct Server {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Connections being served now.
    active: Arc<AtomicUsize>,
}

/// What a server's owner is told of a handler's panic: its payload.
pub type PanicReport = dyn Fn(&(dyn Any + Send)) + Send + Sync;

impl Server {
    /// Serves `listener` (which must be non-blocking) on a thread called
    /// `name`: `handle` answers one connection, `busy` refuses one when
    /// [`MAX_CONNECTIONS`] are being served, `on_panic` is told of a
    /// handler that panicked (after its slot was freed).
    pub fn start<L, H, B>(
        name: &str,
        listener: L,
        handle: H,
        busy: B,
        on_panic: Arc<PanicReport>,
    ) -> io::Result<Server>
    where
        L: Listener,
        H: Fn(L::Stream) + Send + Sync + 'static,
        B: Fn(L::Stream) + Send + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let active = Arc::new(AtomicUsize::new(0));
        let thread = {
            let stop = stop.clone();
            let handle = Arc::new(handle);
            let active = active.clone();
            let name = name.to_string();
            std::thread::Builder::new()
                .name(name.clone())
                .spawn(move || {
                    accept_loop(&name, &listener, &stop, &active, &handle, &busy, &on_panic)
                })?
        };
        Ok(Server {
            stop,
            thread: Some(thread),
            active,
        })
    }

    /// Connections being served now (each holds one of the
    /// [`MAX_CONNECTIONS`] slots).
    pub fn connections(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop<L, H, B>(
    name: &str,
    listener: &L,
    stop: &AtomicBool,
    active: &Arc<AtomicUsize>,
    handle: &Arc<H>,
    busy: &B,
    on_panic: &Arc<PanicReport>,
) where
    L: Listener,
    H: Fn(L::Stream) + Send + Sync + 'static,
    B: Fn(L::Stream),
{
    let wait = PollTimeout::try_from(STOP_POLL.as_millis() as i32).unwrap_or(PollTimeout::NONE);
    while !stop.load(Ordering::Relaxed) {
        let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, wait) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => {
                std::thread::sleep(STOP_POLL);
                continue;
            }
        }
        // Accept everything waiting.
        while let Ok(stream) = listener.accept_one() {
            if active.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
                active.fetch_sub(1, Ordering::AcqRel);
                busy(stream);
                continue;
            }
            let (mine, handle, on_panic) = (active.clone(), handle.clone(), on_panic.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("{name}-conn"))
                .spawn(move || {
                    // The stream is dropped (the connection closed) while
                    // the panic unwinds; the handler's own state goes with
                    // it, so nothing half-done is seen again.
                    let served =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handle(stream)));
                    // The slot is freed whatever happened, before the
                    // panic is told, so a count of it means the slot is
                    // back.
                    mine.fetch_sub(1, Ordering::AcqRel);
                    if let Err(payload) = served {
                        on_panic(&*payload);
                    }
                });
            if spawned.is_err() {
                active.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
}
