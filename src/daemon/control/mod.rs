//! The control socket of a running lab: a Unix socket (by default
//! `/run/vnetd/vnetd.sock`, mode 0600, so only root can drive the lab; no TCP
//! listener). Each connection carries one JSON request line and gets one
//! JSON reply line: the exit code, and what to print on stdout and stderr.
//! `vnetd apply`, `flows`, `stats` and the diagnostic commands without
//! `--config` are its clients; the daemon answers from the plane it is
//! forwarding with.

//!
//! This module holds the protocol and the client; [`server`] the daemon's
//! end, `render` the text of `stats` and `flows`. It may use the daemon's
//! reports and the diagnostics; nothing below it knows it.

use crate::diagnostics::{Query, QueryError};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// Where `vnetd run` listens unless told otherwise (`VNETD_SOCKET`).
pub const DEFAULT_SOCKET: &str = "/run/vnetd/vnetd.sock";

/// The socket path clients and `vnetd run` use.
pub fn socket_path() -> PathBuf {
    std::env::var_os("VNETD_SOCKET").map_or_else(|| PathBuf::from(DEFAULT_SOCKET), PathBuf::from)
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Request {
    Apply {
        source: String,
        text: String,
        /// Accept a topology that declares nothing (`--allow-empty`).
        #[serde(default)]
        allow_empty: bool,
    },
    Diagnose {
        query: Query,
        json: bool,
    },
    Stats {
        json: bool,
    },
    Flows {
        nic: Option<String>,
        json: bool,
    },
    /// The live BGP sessions of a gateway (only a running lab has them).
    BgpPeerStatus {
        gateway: String,
        json: bool,
    },
    /// A load balancer's backends as its health probes see them now.
    LbShow {
        load_balancer: String,
        json: bool,
    },
    /// The topology the lab runs now, as its file said it: answered with
    /// a [`RunningTopology`] in JSON (what `vnetd verify` reads its
    /// expectations and namespaces from).
    RunningTopology,
}

/// The answer to [`Request::RunningTopology`]: the name the running
/// topology came under (a path, or the built-in lab) and its file's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningTopology {
    pub source: String,
    pub text: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Reply {
    pub code: u8,
    pub stdout: String,
    pub stderr: String,
}

impl Reply {
    pub fn ok(stdout: String) -> Reply {
        Reply {
            code: 0,
            stdout,
            stderr: String::new(),
        }
    }

    /// A refusal: exit code 1, `message` on stderr.
    pub fn refused(message: impl Into<String>) -> Reply {
        Reply {
            code: EXIT_REFUSED,
            stdout: String::new(),
            stderr: message.into(),
        }
    }

    /// A malformed request: exit code 2.
    pub fn usage(message: impl Into<String>) -> Reply {
        Reply {
            code: EXIT_USAGE,
            stdout: String::new(),
            stderr: message.into(),
        }
    }
}

impl From<QueryError> for Reply {
    fn from(e: QueryError) -> Reply {
        match e {
            QueryError::Usage(m) => Reply::usage(m),
            QueryError::Refused(m) => Reply::refused(m),
        }
    }
}

/// The exit code a reply carries for refused input.
pub const EXIT_REFUSED: u8 = 1;
/// The exit code a reply carries for a malformed request.
pub const EXIT_USAGE: u8 = 2;

/// The daemon could not be asked: nothing listens, permission was denied,
/// or the exchange broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlError(pub String);

impl std::fmt::Display for ControlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ControlError {}

impl Reply {}

/// Sends one request to the daemon listening at `path`.
pub fn request(path: &Path, req: &Request) -> Result<Reply, ControlError> {
    let mut stream = UnixStream::connect(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            ControlError(format!(
                "permission denied on the control socket {} ({e}): the running lab answers \
                 root only; run as root, or give --config FILE",
                path.display()
            ))
        } else {
            ControlError(format!(
                "no running vnetd at {} ({e}); start one with `vnetd run`, or give --config FILE",
                path.display()
            ))
        }
    })?;
    let mut line = serde_json::to_string(req).map_err(|e| ControlError(e.to_string()))?;
    line.push('\n');
    stream
        .write_all(line.as_bytes())
        .map_err(|e| ControlError(format!("talking to vnetd: {e}")))?;
    let mut reply = String::new();
    BufReader::new(stream)
        .read_line(&mut reply)
        .map_err(|e| ControlError(format!("talking to vnetd: {e}")))?;
    serde_json::from_str(&reply)
        .map_err(|e| ControlError(format!("vnetd answered something unreadable: {e}")))
}

/// Sends `req` and reads its answer's stdout as JSON (a request made with
/// `json: true`, or one that only answers in JSON); a refusal is an error
/// with the daemon's message.
pub fn request_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    req: &Request,
) -> Result<T, ControlError> {
    let reply = request(path, req)?;
    if reply.code != 0 {
        return Err(ControlError(reply.stderr.trim_end().to_string()));
    }
    serde_json::from_str(&reply.stdout)
        .map_err(|e| ControlError(format!("vnetd answered something unreadable: {e}")))
}

mod render;
pub mod server;

pub use super::report::{flows_of, stats_of, FlowReport, FlowTableReport, StatsReport};
pub use server::{
    answer, claim_socket_path, socket_state, ControlServer, SocketState, MAX_REQUEST_BYTES,
    REQUEST_TIMEOUT, WRITE_TIMEOUT,
};
