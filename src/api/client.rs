//! The client of the control socket: where it is, one request sent and its
//! typed answer read back (see the wire format in [`crate::api`]).

use super::{
    ApiError, ApplyOutcome, BgpPeerStatus, Convergence, Diagnosis, FlowReport, Request, Response,
    RunningTopology, StatsReport,
};
use crate::diagnostics::load_balancer::LoadBalancerStatus;
use crate::diagnostics::Query;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// Where `vnetd run` listens unless told otherwise (`VNETD_SOCKET`).
pub const DEFAULT_SOCKET: &str = "/run/vnetd/vnetd.sock";

/// The socket path clients and `vnetd run` use.
pub fn socket_path() -> PathBuf {
    std::env::var_os("VNETD_SOCKET").map_or_else(|| PathBuf::from(DEFAULT_SOCKET), PathBuf::from)
}

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The daemon could not be asked: nothing listens, permission was
    /// denied, the exchange broke, or its answer was unreadable.
    Unreachable(String),
    /// The daemon refused the request.
    Refused(ApiError),
}

impl ClientError {
    /// The text to show: the daemon's refusal, or why it could not be asked.
    pub fn message(&self) -> String {
        match self {
            ClientError::Unreachable(m) => m.clone(),
            ClientError::Refused(e) => e.to_string(),
        }
    }
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for ClientError {}

/// Sends one request to the daemon listening at `path` and reads its
/// answer, a refusal included ([`Response::Error`]).
pub fn request(path: &Path, req: &Request) -> Result<Response, ClientError> {
    let unreachable = ClientError::Unreachable;
    let mut stream = UnixStream::connect(path).map_err(|e| {
        unreachable(if e.kind() == std::io::ErrorKind::PermissionDenied {
            format!(
                "permission denied on the control socket {} ({e}): the running lab answers \
                 root only; run as root, or give --config FILE",
                path.display()
            )
        } else {
            format!(
                "no running vnetd at {} ({e}); start one with `vnetd run`, or give --config FILE",
                path.display()
            )
        })
    })?;
    let mut line = serde_json::to_string(req).map_err(|e| unreachable(e.to_string()))?;
    line.push('\n');
    stream
        .write_all(line.as_bytes())
        .map_err(|e| unreachable(format!("talking to vnetd: {e}")))?;
    let mut reply = String::new();
    BufReader::new(stream)
        .read_line(&mut reply)
        .map_err(|e| unreachable(format!("talking to vnetd: {e}")))?;
    serde_json::from_str(&reply)
        .map_err(|e| unreachable(format!("vnetd answered something unreadable: {e}")))
}

/// A client of the daemon at one socket path, with one method per request
/// that returns its answer's data; a refusal is [`ClientError::Refused`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub path: PathBuf,
}

/// The `pick` for [`Client::ask_for`] that takes the data out of an answer
/// of kind `$kind` and hands an answer of any other kind back.
macro_rules! answer_of {
    ($kind:path) => {
        |answer| match answer {
            $kind(data) => Ok(data),
            other => Err(Box::new(other)),
        }
    };
}

impl Client {
    pub fn new(path: impl Into<PathBuf>) -> Client {
        Client { path: path.into() }
    }

    /// The daemon at [`socket_path`].
    pub fn from_env() -> Client {
        Client::new(socket_path())
    }

    /// Sends `req`; a refusal is an error.
    pub fn ask(&self, req: &Request) -> Result<Response, ClientError> {
        match request(&self.path, req)? {
            Response::Error(e) => Err(ClientError::Refused(e)),
            answer => Ok(answer),
        }
    }

    /// Sends `req`; `pick` takes the data out of its answer, or hands back one of another kind.
    fn ask_for<T>(
        &self,
        req: Request,
        pick: impl FnOnce(Response) -> Result<T, Box<Response>>,
    ) -> Result<T, ClientError> {
        pick(self.ask(&req)?).map_err(|other| unexpected(&req, &other))
    }

    pub fn apply(
        &self,
        source: &str,
        text: &str,
        allow_empty: bool,
    ) -> Result<ApplyOutcome, ClientError> {
        let req = Request::Apply {
            source: source.to_string(),
            text: text.to_string(),
            allow_empty,
        };
        self.ask_for(req, answer_of!(Response::Applied))
    }

    pub fn diagnose(&self, query: Query, json: bool) -> Result<Diagnosis, ClientError> {
        let req = Request::Diagnose { query, json };
        self.ask_for(req, answer_of!(Response::Diagnosis))
    }

    pub fn stats(&self) -> Result<StatsReport, ClientError> {
        self.ask_for(Request::Stats, answer_of!(Response::Stats))
    }

    /// The tracked flows, of the NIC `nic` or of all.
    pub fn flows(&self, nic: Option<&str>) -> Result<Vec<FlowReport>, ClientError> {
        let req = Request::Flows {
            nic: nic.map(str::to_string),
        };
        self.ask_for(req, answer_of!(Response::Flows))
            .map(|report| report.flows)
    }

    pub fn bgp_peer_status(&self, gateway: &str) -> Result<BgpPeerStatus, ClientError> {
        let req = Request::BgpPeerStatus {
            gateway: gateway.to_string(),
        };
        self.ask_for(req, answer_of!(Response::BgpPeerStatus))
    }

    pub fn lb_show(&self, load_balancer: &str) -> Result<LoadBalancerStatus, ClientError> {
        let req = Request::LbShow {
            load_balancer: load_balancer.to_string(),
        };
        self.ask_for(req, answer_of!(Response::LoadBalancer))
    }

    pub fn running_topology(&self) -> Result<RunningTopology, ClientError> {
        self.ask_for(
            Request::RunningTopology,
            answer_of!(Response::RunningTopology),
        )
    }

    /// Whether the lab has converged, and what is missing when not.
    pub fn convergence(&self) -> Result<Convergence, ClientError> {
        self.ask_for(Request::Convergence, answer_of!(Response::Convergence))
    }
}

/// An answer of another kind than the request asks for.
fn unexpected(req: &Request, answer: &Response) -> ClientError {
    let name = |v: serde_json::Result<serde_json::Value>| {
        v.ok()
            .and_then(|v| match v {
                serde_json::Value::String(s) => Some(s),
                serde_json::Value::Object(m) => m
                    .get("command")
                    .and_then(|c| c.as_str().map(str::to_string))
                    .or_else(|| m.keys().next().cloned()),
                _ => None,
            })
            .unwrap_or_default()
    };
    ClientError::Unreachable(format!(
        "vnetd answered `{}` to `{}`",
        name(serde_json::to_value(answer)),
        name(serde_json::to_value(req))
    ))
}
