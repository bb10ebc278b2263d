//! The daemon's end of the control socket: claiming the path, accepting
//! connections on the accept loop every listener shares
//! ([`crate::host::listener`]), reading one request line under a
//! deadline, and answering it from the daemon's current plane off the
//! loop's thread. A request whose answer panics gets no reply (its
//! connection is closed); the panic is counted as the `control` kind's and
//! the server goes on.
//!
//! Its bounds are the shared loop's, with the control socket's figures:
//! [`MAX_CONNECTIONS`] at once (one more is answered with a `refused`
//! error and closed), the whole request line within [`REQUEST_TIMEOUT`]
//! and at most [`MAX_REQUEST_BYTES`] long, an answer waiting at most
//! [`WRITE_TIMEOUT`] on a client that does not read (then it is cut). A
//! connection waiting for its request holds no thread; an answer being
//! computed holds one of as many threads as there are connections, so no
//! answer waits for a thread another holds (a long `apply`, a trace). The
//! busy answer, like every listener's, may take the shorter of the request
//! and write deadlines (5 s). The socket's clients are root's own commands
//! and it has no counters of its own (the metrics' `vnetd_http_*` families
//! are the HTTP listeners'): a client cut for not reading and a failing
//! `accept` are said in the daemon's log instead.

use crate::api::{ApiError, BgpPeerStatus, Diagnosis, Request, Response};
use crate::daemon::reporting::report::{flows_report, stats_of};
use crate::daemon::threads::{ThreadKind, ThreadPanics};
use crate::daemon::{ApplyError, Daemon};
use crate::diagnostics;
use crate::host::listener::{self, Client, Limits};
use crate::topology::ParseOptions;
use std::any::Any;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What is at a control socket's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketState {
    Absent,
    /// A socket a daemon answers on.
    Live,
    /// A socket nobody answers on: left by a daemon that was killed.
    Stale,
    /// Something else, named ("a regular file"): never ours to remove.
    NotASocket(&'static str),
}

/// Looks at `path` without following a symlink there.
pub fn socket_state(path: &Path) -> SocketState {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return SocketState::Absent;
    };
    let kind = meta.file_type();
    if !kind.is_socket() {
        return SocketState::NotASocket(if kind.is_symlink() {
            "a symbolic link"
        } else if kind.is_dir() {
            "a directory"
        } else if kind.is_file() {
            "a regular file"
        } else {
            "a special file"
        });
    }
    match UnixStream::connect(path) {
        Ok(_) => SocketState::Live,
        // Somebody's socket we may not use is not stale.
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => SocketState::Live,
        Err(_) => SocketState::Stale,
    }
}

/// Makes `path` free for a new control socket: nothing there, or a stale
/// socket (removed). A live daemon there, or any file that is not a
/// socket, is an error, and the file is left alone.
pub fn claim_socket_path(path: &Path) -> anyhow::Result<()> {
    match socket_state(path) {
        SocketState::Absent => Ok(()),
        SocketState::Stale => Ok(std::fs::remove_file(path)?),
        SocketState::Live => {
            anyhow::bail!(
                "another vnetd is already running (control socket {})",
                path.display()
            )
        }
        SocketState::NotASocket(kind) => anyhow::bail!(
            "{} exists and is {kind}, not a socket; it is left alone (choose another path \
             with VNETD_SOCKET)",
            path.display()
        ),
    }
}

/// The longest request line the daemon reads: an `apply` carries a whole
/// topology file (at most [`crate::topology::MAX_FILE_BYTES`]), which JSON
/// escaping may double. Anything longer is refused unread.
pub const MAX_REQUEST_BYTES: usize = 2 * crate::topology::MAX_FILE_BYTES as usize + 65_536;

/// How long a client has to send its whole request line.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long writing an answer may block on a client that does not read.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections answered at once.
pub const MAX_CONNECTIONS: usize = 64;

/// The listening side; stops when dropped, without waiting for clients.
pub struct ControlServer {
    path: PathBuf,
    server: listener::Server,
}

impl ControlServer {
    /// Listens at `path`. A live daemon already there is an error; a stale
    /// socket file left by a crash is replaced; any other file is left
    /// alone and is an error.
    pub fn start(path: &Path, daemon: Arc<Daemon>) -> anyhow::Result<ControlServer> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        claim_socket_path(path)?;
        let socket = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        socket.set_nonblocking(true)?;
        let limits = Limits {
            connections: MAX_CONNECTIONS,
            per_caller: None,
            request: REQUEST_TIMEOUT,
            write: WRITE_TIMEOUT,
            // One thread for each answer being computed, as many as there
            // are connections: no answer waits for another's thread.
            work_threads: MAX_CONNECTIONS,
        };
        let panics = daemon.thread_panics().clone();
        // Connections hold the daemon weakly: a client never keeps a lab
        // that is shutting down alive.
        let control = Control {
            daemon: Arc::downgrade(&daemon),
        };
        let server = listener::Server::start::<tokio::net::UnixListener, _, _, _>(
            "vnetd-control",
            socket,
            limits,
            control,
            ControlEvents { panics },
        )?;
        Ok(ControlServer {
            path: path.to_path_buf(),
            server,
        })
    }

    /// Connections being answered now (each holds one of
    /// [`MAX_CONNECTIONS`] slots).
    pub fn connections(&self) -> usize {
        self.server.connections()
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// What the control socket serves: one request line, one answer line.
struct Control {
    daemon: Weak<Daemon>,
}

impl listener::Service<tokio::net::UnixStream> for Control {
    async fn serve(&self, mut client: Client<tokio::net::UnixStream>) {
        let reply = match read_request(&mut client).await {
            Err(e) => e.into(),
            Ok(line) => match serde_json::from_slice::<Request>(&line) {
                Err(e) => ApiError::usage(format!("unreadable request: {e}")).into(),
                Ok(req) => answer_off_the_loop(self.daemon.clone(), req).await,
            },
        };
        write_reply(&mut client, &reply).await;
    }

    async fn busy(&self, mut stream: tokio::net::UnixStream) {
        let busy = ApiError::refused(format!(
            "vnetd is answering {MAX_CONNECTIONS} requests already; try again"
        ));
        write_reply(&mut stream, &busy.into()).await;
    }
}

/// Where the control socket's events go: its panics under the control
/// kind, a cut client and a failing `accept` in the log.
struct ControlEvents {
    panics: Arc<ThreadPanics>,
}

impl listener::Events for ControlEvents {
    fn accept_failed(&self, error: &std::io::Error) {
        tracing::warn!("the control socket cannot accept a connection ({error}); trying again");
    }

    fn refused_busy(&self) {
        // The client was told; its command says so.
    }

    fn client_cut(&self) {
        tracing::warn!(
            "a control client took nothing of its answer for {} s; its connection was cut",
            WRITE_TIMEOUT.as_secs()
        );
    }

    fn panicked(&self, payload: &(dyn Any + Send)) {
        self.panics
            .caught(ThreadKind::Control, "a control connection", payload);
    }
}

/// Reads one request line, at most [`MAX_REQUEST_BYTES`] long (the loop
/// gives up on it after [`REQUEST_TIMEOUT`]).
async fn read_request(stream: &mut (impl AsyncRead + Unpin)) -> Result<Vec<u8>, ApiError> {
    let mut line = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) => return Err(ApiError::usage("the request ended before its newline")),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(ApiError::usage("the request did not arrive in time")),
        };
        if let Some(end) = buf[..n].iter().position(|&b| b == b'\n') {
            line.extend_from_slice(&buf[..end]);
            return Ok(line);
        }
        line.extend_from_slice(&buf[..n]);
        if line.len() > MAX_REQUEST_BYTES {
            return Err(ApiError::usage(format!(
                "request longer than {MAX_REQUEST_BYTES} bytes: refused"
            )));
        }
    }
}

/// Answers `req` on a thread for blocking work (an `apply` plumbs
/// namespaces, a trace walks the lab); a panic there goes on in the
/// connection's task, where the loop catches it.
async fn answer_off_the_loop(daemon: Weak<Daemon>, req: Request) -> Response {
    let answered = tokio::task::spawn_blocking(move || {
        // The daemon is held only while the answer is computed.
        match daemon.upgrade() {
            Some(daemon) => {
                daemon.faults().check(ThreadKind::Control);
                answer(&daemon, req)
            }
            None => ApiError::refused("the lab is shutting down").into(),
        }
    })
    .await;
    match answered {
        Ok(reply) => reply,
        Err(e) => match e.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(_) => ApiError::refused("the lab is shutting down").into(),
        },
    }
}

async fn write_reply(stream: &mut (impl AsyncWrite + Unpin), reply: &Response) {
    if let Ok(mut text) = serde_json::to_string(reply) {
        text.push('\n');
        let _ = stream.write_all(text.as_bytes()).await;
    }
}

/// A diagnostic question answered in the running lab: what the gateways
/// and Route Servers advertise and the gateways' sessions from the BGP
/// speakers themselves, the rest from the current snapshot.
fn live_answer(
    daemon: &Daemon,
    query: &diagnostics::Query,
    json: bool,
) -> Result<String, diagnostics::QueryError> {
    use diagnostics::gateway::{render_peer_status, render_route_list};
    match query {
        diagnostics::Query::GatewayAdvertisedRoutes { gateway, peer } => {
            let title = format!("Routes gateway {gateway} advertises to {peer}:");
            render_route_list(&title, &daemon.advertised_routes(gateway, peer)?, json)
        }
        diagnostics::Query::GatewayBgpPeerStatus { gateway } => {
            render_peer_status(gateway, &daemon.bgp_peer_status(gateway)?, json)
        }
        diagnostics::Query::RouteServerAdvertisedRoutes { route_server, peer } => {
            let title = format!("Routes Route Server {route_server} advertises to {peer}:");
            let list = daemon.route_server_advertised_routes(route_server, peer)?;
            diagnostics::route_server::render_route_list(&title, &list, json)
        }
        diagnostics::Query::Resolve {
            nic,
            name,
            record_type,
        } => {
            let query_type = diagnostics::names::parse_query_type(record_type)?;
            let answer =
                crate::daemon::answering::live::resolve_live(daemon, nic, name, query_type)?;
            diagnostics::names::render_resolution(&answer, json)
        }
        _ => diagnostics::answer(&daemon.snapshot(), query, json),
    }
}

/// Answers one request from the daemon's current plane.
pub fn answer(daemon: &Daemon, req: Request) -> Response {
    match answer_or_refuse(daemon, req) {
        Ok(response) => response,
        Err(e) => Response::Error(e),
    }
}

fn answer_or_refuse(daemon: &Daemon, req: Request) -> Result<Response, ApiError> {
    Ok(match req {
        Request::Apply {
            source,
            text,
            allow_empty,
        } => match daemon.apply_with(&source, &text, ParseOptions { allow_empty }) {
            Ok(outcome) => Response::Applied(outcome),
            Err(ApplyError::Invalid(errors)) => {
                let n = errors
                    .iter()
                    .filter(|d| d.severity == crate::topology::Severity::Error)
                    .count();
                return Err(ApiError {
                    diagnostics: errors,
                    ..ApiError::refused(format!(
                        "{source}: refused, {n} errors; the running topology is unchanged"
                    ))
                });
            }
            Err(ApplyError::Host(e)) => {
                return Err(ApiError::refused(format!(
                    "{source}: refused: {e:#}; the running topology is unchanged"
                )))
            }
        },
        Request::Diagnose { query, json } => Response::Diagnosis(Diagnosis {
            json,
            output: live_answer(daemon, &query, json)?,
        }),
        Request::Stats => Response::Stats(stats_of(daemon)),
        Request::BgpPeerStatus { gateway } => {
            let peers = daemon.bgp_peer_status(&gateway)?;
            Response::BgpPeerStatus(BgpPeerStatus { gateway, peers })
        }
        Request::LbShow { load_balancer } => {
            Response::LoadBalancer(daemon.lb_status(&load_balancer)?)
        }
        Request::RunningTopology => {
            let snapshot = daemon.snapshot();
            Response::RunningTopology(crate::api::RunningTopology {
                source: snapshot.topology.source.clone(),
                text: snapshot.topology.text.to_string(),
            })
        }
        Request::Convergence => Response::Convergence(daemon.convergence()),
        Request::Flows { nic } => {
            if let Some(name) = &nic {
                diagnostics::find_nic(&daemon.snapshot(), name)?;
            }
            Response::Flows(flows_report(daemon, nic.as_deref()))
        }
    })
}
