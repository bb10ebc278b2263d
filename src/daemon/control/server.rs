//! The daemon's end of the control socket: claiming the path, accepting
//! connections on the shared bounded server, reading one request line under
//! a deadline, and answering it from the daemon's current plane. A request
//! whose answer panics gets no reply (its connection is closed); the panic
//! is counted as the `control` kind's and the server goes on.

use crate::api::{ApiError, ApplyOutcome, BgpPeerStatus, Diagnosis, Request, Response};
use crate::daemon::report::{flows_of, stats_of};
use crate::daemon::threads::ThreadKind;
use crate::daemon::{serve, ApplyError, Daemon};
use crate::diagnostics;
use crate::topology::ParseOptions;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

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

/// The listening side: connections are served concurrently (see
/// [`crate::daemon::serve`]); stops when dropped, without waiting for clients.
pub struct ControlServer {
    path: PathBuf,
    server: serve::Server,
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
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        listener.set_nonblocking(true)?;
        let panics = daemon.thread_panics().clone();
        // Connections hold the daemon weakly: a client never keeps a lab
        // that is shutting down alive.
        let daemon = Arc::downgrade(&daemon);
        let server = serve::Server::start(
            "vnetd-control",
            listener,
            move |stream| handle(stream, &daemon),
            |stream: UnixStream| {
                let busy = ApiError::refused(format!(
                    "vnetd is answering {} requests already; try again",
                    serve::MAX_CONNECTIONS
                ));
                write_reply(&stream, &busy.into());
            },
            Arc::new(move |payload| {
                panics.caught(ThreadKind::Control, "a control connection", payload)
            }),
        )?;
        Ok(ControlServer {
            path: path.to_path_buf(),
            server,
        })
    }
}

impl ControlServer {
    /// Connections being answered now (each holds one of
    /// [`serve::MAX_CONNECTIONS`] slots).
    pub fn connections(&self) -> usize {
        self.server.connections()
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads one request line, all of it within [`REQUEST_TIMEOUT`] and at most
/// [`MAX_REQUEST_BYTES`] long.
fn read_request(mut stream: &UnixStream) -> Result<Vec<u8>, ApiError> {
    use std::io::Read;
    let deadline = std::time::Instant::now() + REQUEST_TIMEOUT;
    let mut line = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(ApiError::usage("the request did not arrive in time"));
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|e| ApiError::refused(e.to_string()))?;
        let n = match stream.read(&mut buf) {
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

fn write_reply(mut stream: &UnixStream, reply: &Response) {
    if let Ok(mut text) = serde_json::to_string(reply) {
        text.push('\n');
        let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
        let _ = stream.write_all(text.as_bytes());
    }
}

fn handle(stream: UnixStream, daemon: &std::sync::Weak<Daemon>) {
    let reply = match read_request(&stream) {
        Err(e) => e.into(),
        Ok(line) => match serde_json::from_slice::<Request>(&line) {
            Err(e) => ApiError::usage(format!("unreadable request: {e}")).into(),
            // The daemon is held only while the answer is computed.
            Ok(req) => match daemon.upgrade() {
                Some(daemon) => {
                    daemon.faults().check(ThreadKind::Control);
                    answer(&daemon, req)
                }
                None => ApiError::refused("the lab is shutting down").into(),
            },
        },
    };
    write_reply(&stream, &reply);
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
            Ok(s) => Response::Applied(ApplyOutcome {
                source,
                generation: s.generation,
                added: s.added,
                removed: s.removed,
                replumbed: s.replumbed,
                changed: s.changed,
                rebuilt: s.rebuilt,
                file: s.file,
            }),
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
            Response::Flows(flows_of(daemon, nic.as_deref()))
        }
    })
}
