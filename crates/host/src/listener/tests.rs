//! The accept loop's promises over a real Unix socket (the HTTP server's
//! tests in `src/web/tests.rs` hold them over TCP): a request that does not
//! arrive in time is given up on, a client that does not read is cut and
//! told, one connection beyond the cap gets the busy answer, a panicking
//! service frees its slot before its panic is told, and stopping waits for
//! no client; over TCP on the loopback, a caller beyond its share is
//! refused as such however full the server is; one server takes
//! connections from two sockets within one cap, until one is let go.

use super::{AcceptBackoff, Client, Events, Limits, Server, Service};
use crate::test_support::wait_until;
use std::any::Any;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIMITS: Limits = Limits {
    connections: 2,
    per_caller: None,
    request: Duration::from_millis(500),
    write: Duration::from_millis(500),
    work_threads: 1,
};

/// What the loop told, counted.
#[derive(Default)]
struct Told {
    busy: AtomicUsize,
    per_caller: AtomicUsize,
    cut: AtomicUsize,
    panics: AtomicUsize,
}

impl Events for Arc<Told> {
    fn accept_failed(&self, _: &std::io::Error) {}
    fn refused_busy(&self) {
        self.busy.fetch_add(1, Ordering::Relaxed);
    }
    fn refused_per_caller(&self) {
        self.per_caller.fetch_add(1, Ordering::Relaxed);
    }
    fn client_cut(&self) {
        self.cut.fetch_add(1, Ordering::Relaxed);
    }
    fn panicked(&self, _: &(dyn Any + Send)) {
        self.panics.fetch_add(1, Ordering::Relaxed);
    }
}

/// Reads a line and answers by it: with the line, `hold` never,
/// `flood` without end, `panic` by panicking; a late request is answered
/// `late`.
struct Lines;

impl<S> Service<S> for Lines
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    async fn serve(&self, mut client: Client<S>) {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            match client.read(&mut byte).await {
                Ok(1) if byte[0] != b'\n' => line.push(byte[0]),
                Ok(_) => break,
                Err(_) => {
                    let _ = client.write_all(b"late\n").await;
                    return;
                }
            }
        }
        match line.as_slice() {
            // Until the client goes (past the deadline: reads fail then
            // only before the request arrived).
            b"hold" => {
                client.arrival().mark();
                while let Ok(1..) = client.read(&mut byte).await {}
            }
            b"flood" => {
                let chunk = vec![b'x'; 64 << 10];
                while client.write_all(&chunk).await.is_ok() {}
            }
            b"panic" => panic!("a broken service"),
            _ => {
                line.push(b'\n');
                let _ = client.write_all(&line).await;
            }
        }
    }

    async fn busy(&self, mut stream: S) {
        let _ = stream.write_all(b"busy\n").await;
    }
}

/// A server of [`Lines`] on a socket of its own: the socket's directory,
/// its path, what the server told and the server.
fn start() -> (tempfile::TempDir, PathBuf, Arc<Told>, Server) {
    let dir = tempfile::tempdir().unwrap();
    let (path, socket) = unix_socket(dir.path(), "s.sock");
    let told = Arc::<Told>::default();
    let server = Server::start::<tokio::net::UnixListener, _, _, _>(
        "test-listener",
        socket,
        LIMITS,
        Lines,
        told.clone(),
    )
    .unwrap();
    (dir, path, told, server)
}

/// A socket at a path of its own in `dir`, ready to be served.
fn unix_socket(dir: &Path, name: &str) -> (PathBuf, UnixListener) {
    let path = dir.join(name);
    let socket = UnixListener::bind(&path).unwrap();
    socket.set_nonblocking(true).unwrap();
    (path, socket)
}

fn connect(path: &Path) -> UnixStream {
    let stream = UnixStream::connect(path).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Sends `request` and reads all that comes back.
fn ask(path: &Path, request: &str) -> String {
    let mut stream = connect(path);
    // A server that is busy answers and closes at once, maybe before the
    // request is written (a broken pipe): its answer is still there to read.
    let _ = stream.write_all(request.as_bytes());
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

#[test]
fn a_request_is_answered_and_a_late_one_given_up_on() {
    let (_dir, path, told, server) = start();
    assert_eq!(ask(&path, "hello\n"), "hello\n");
    // Half a line, then nothing: the service's read fails at the deadline.
    let started = Instant::now();
    assert_eq!(ask(&path, "hel"), "late\n");
    let waited = started.elapsed();
    assert!(
        waited >= LIMITS.request && waited < LIMITS.request + Duration::from_secs(2),
        "given up on after {waited:?}"
    );
    wait_until("the slots free", || server.connections() == 0);
    // A late request is no client cut for not reading.
    assert_eq!(told.cut.load(Ordering::Relaxed), 0);
}

#[test]
fn a_client_that_does_not_read_is_cut_and_told() {
    let (_dir, path, told, server) = start();
    let mut stalled = connect(&path);
    stalled.write_all(b"flood\n").unwrap();
    wait_until("the stalled client cut", || {
        told.cut.load(Ordering::Relaxed) == 1 && server.connections() == 0
    });
    // Others are served meanwhile and after.
    assert_eq!(ask(&path, "next\n"), "next\n");
    assert_eq!(told.cut.load(Ordering::Relaxed), 1);
}

#[test]
fn one_connection_beyond_the_cap_is_told_the_server_is_busy() {
    let (_dir, path, told, server) = start();
    let held: Vec<UnixStream> = (0..LIMITS.connections)
        .map(|_| {
            let mut s = connect(&path);
            s.write_all(b"hold\n").unwrap();
            s
        })
        .collect();
    wait_until("the slots taken", || {
        server.connections() == LIMITS.connections
    });
    assert_eq!(ask(&path, "more\n"), "busy\n");
    assert_eq!(told.busy.load(Ordering::Relaxed), 1);
    drop(held);
    wait_until("the slots freed", || server.connections() == 0);
    assert_eq!(ask(&path, "again\n"), "again\n");
}

#[test]
fn a_service_that_panics_frees_its_slot_before_the_panic_is_told() {
    let (_dir, path, told, server) = start();
    assert_eq!(ask(&path, "panic\n"), "", "closed without an answer");
    wait_until("the panic told", || {
        told.panics.load(Ordering::Relaxed) == 1
    });
    assert_eq!(server.connections(), 0);
    assert_eq!(ask(&path, "after\n"), "after\n");
}

#[test]
fn stopping_waits_for_no_client() {
    let (_dir, path, _, server) = start();
    let mut held = connect(&path);
    held.write_all(b"hold\n").unwrap();
    let _silent = connect(&path);
    wait_until("the slots taken", || server.connections() == 2);
    let started = Instant::now();
    drop(server);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // The held connection was closed with the server.
    let mut rest = Vec::new();
    assert_eq!(held.read_to_end(&mut rest).unwrap(), 0);
}

#[test]
fn a_failing_accept_is_tried_again_later_and_later() {
    let mut backoff = AcceptBackoff::default();
    let aborted = std::io::Error::from(std::io::ErrorKind::ConnectionAborted);
    assert_eq!(
        backoff.failed(&aborted),
        None,
        "a connection gone before it was taken"
    );
    let emfile = std::io::Error::from_raw_os_error(libc::EMFILE);
    let waits: Vec<u128> = (0..9)
        .map(|_| backoff.failed(&emfile).unwrap().as_millis())
        .collect();
    assert_eq!(waits, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
    backoff.succeeded();
    assert_eq!(backoff.failed(&emfile), Some(Duration::from_millis(10)));
}

/// Sends `request` on `stream` and reads all that comes back.
fn ask_on(mut stream: impl Read + Write, request: &str) -> String {
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

#[test]
fn a_caller_beyond_its_share_is_refused_as_such_however_full_the_server_is() {
    use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
    let limits = Limits {
        connections: 3,
        per_caller: Some(2),
        ..LIMITS
    };
    let socket = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = socket.local_addr().unwrap();
    socket.set_nonblocking(true).unwrap();
    let told = Arc::<Told>::default();
    let server = Server::start::<tokio::net::TcpListener, _, _, _>(
        "test-listener",
        socket,
        limits,
        Lines,
        told.clone(),
    )
    .unwrap();
    // Two callers: two addresses of the loopback.
    let from = |caller: [u8; 4]| {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None);
        let socket = socket.unwrap();
        let source = SocketAddr::new(IpAddr::from(caller), 0);
        socket.bind(&source.into()).unwrap();
        socket.connect(&address.into()).unwrap();
        let stream = TcpStream::from(socket);
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    };
    let hold = |caller: [u8; 4]| {
        let mut stream = from(caller);
        stream.write_all(b"hold\n").unwrap();
        stream
    };
    let (a, b) = ([127, 0, 0, 1], [127, 0, 0, 2]);
    let told_now = || {
        [
            told.per_caller.load(Ordering::Relaxed),
            told.busy.load(Ordering::Relaxed),
        ]
    };
    let mut held = vec![hold(a), hold(a)];
    wait_until("a's share taken", || server.connections() == 2);
    assert_eq!(ask_on(from(a), "more\n"), "busy\n");
    assert_eq!(told_now(), [1, 0], "refused for its share");
    // Another caller is served beside it, up to the cap.
    assert_eq!(ask_on(from(b), "b\n"), "b\n");
    held.push(hold(b));
    wait_until("every slot taken", || server.connections() == 3);
    // Full: a is still refused for its share, b for the cap.
    assert_eq!(ask_on(from(a), "more\n"), "busy\n");
    assert_eq!(told_now(), [2, 0]);
    assert_eq!(ask_on(from(b), "more\n"), "busy\n");
    assert_eq!(told_now(), [2, 1]);
    // A share given back is taken again.
    drop(held.remove(0));
    wait_until("a's connection gone", || server.connections() == 2);
    assert_eq!(ask_on(from(a), "again\n"), "again\n");
    assert_eq!(told_now(), [2, 1]);
}

#[test]
fn two_sockets_share_one_cap_until_one_is_let_go() {
    let dir = tempfile::tempdir().unwrap();
    let told = Arc::<Told>::default();
    let server = Server::idle("test-listener", LIMITS, told.clone()).unwrap();
    let (first, socket) = unix_socket(dir.path(), "first.sock");
    let _first = server
        .listen::<tokio::net::UnixListener, _, _>(socket, Lines)
        .unwrap();
    let (second, socket) = unix_socket(dir.path(), "second.sock");
    let accepting = server
        .listen::<tokio::net::UnixListener, _, _>(socket, Lines)
        .unwrap();
    assert_eq!(ask(&first, "one\n"), "one\n");
    assert_eq!(ask(&second, "two\n"), "two\n");
    let held: Vec<UnixStream> = [&first, &second]
        .iter()
        .map(|path| {
            let mut s = connect(path);
            s.write_all(b"hold\n").unwrap();
            s
        })
        .collect();
    wait_until("the slots taken", || {
        server.connections() == LIMITS.connections
    });
    assert_eq!(ask(&first, "more\n"), "busy\n");
    assert_eq!(ask(&second, "more\n"), "busy\n");
    assert_eq!(told.busy.load(Ordering::Relaxed), 2);
    drop(held);
    wait_until("the slots freed", || server.connections() == 0);
    // Let go: the second socket is closed, the first served on.
    drop(accepting);
    wait_until("the second socket closed", || {
        UnixStream::connect(&second).is_err()
    });
    assert_eq!(ask(&first, "still\n"), "still\n");
}
