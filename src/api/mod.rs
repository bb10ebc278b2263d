//! The control API of a running lab: the requests its control socket
//! takes and the typed answers it gives, shared by the daemon's server and
//! every client ([`client`]).
//!
//! # Wire format
//!
//! The socket is a Unix socket (by default `/run/vnetd/vnetd.sock`, mode
//! 0600: only root drives the lab; no TCP listener). Each connection
//! carries exactly one exchange:
//!
//! - the client writes one [`Request`] as one line of JSON, tagged by
//!   `command`, ended by `\n`:
//!   `{"command":"flows","nic":"vm1"}`;
//! - the daemon writes one [`Response`] as one line of JSON, an object with
//!   one key naming the answer, ended by `\n`:
//!   `{"flows":[{"nic":"vm1",...}]}`, or `{"error":{"kind":"refused",
//!   "message":"no NIC named `vm9` in lab.yaml (...)"}}`;
//! - then the daemon closes the connection.
//!
//! Answers carry data, never text laid out for people: the command line
//! renders them (tables or JSON) on its side. The one exception is a
//! diagnostic answer ([`Diagnosis`]), laid out by the daemon because its
//! tables read the lab's compiled tables, which a client does not hold.
//! A refusal is an [`ApiError`]: its kind says whether the request was
//! malformed (`usage`, exit 2) or named what is not there (`refused`,
//! exit 1). A fault the daemon met while answering, which did not stop
//! the answer (a namespace an `apply` could not remove, the kernel fast
//! path's counters that could not be read for `stats`), is in the
//! answer's `warnings` as well as in the daemon's log.
//!
//! This module knows the diagnostics' questions and answer shapes and the
//! topology's diagnostics; it knows nothing of the daemon.

pub mod client;
pub mod convergence;
pub mod report;

pub use convergence::{Convergence, HostRef, RouteRef, SessionRef};
pub use report::{
    BackendReport, FlowReport, FlowTableReport, FlowsReport, GlobalReachReport, NamesReport,
    NicStats, RoutingDaemonReport, StatsReport, UnderlayHostReport, UnderlayReport,
};

use crate::diagnostics::gateway::BgpPeerStatusList;
use crate::diagnostics::load_balancer::LoadBalancerStatus;
use crate::diagnostics::{Query, QueryError};
use crate::topology::Diagnostic;
use serde::{Deserialize, Serialize};

/// One request line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Request {
    /// Replace the running topology by the file `text` (named `source`):
    /// answered with [`Response::Applied`].
    Apply {
        source: String,
        text: String,
        /// Accept a topology that declares nothing (`--allow-empty`).
        #[serde(default)]
        allow_empty: bool,
    },
    /// A diagnostic question, answered from the lab's own snapshot with
    /// [`Response::Diagnosis`], as a table or (`json`) in `az`'s shape.
    Diagnose { query: Query, json: bool },
    /// The lab's counters: [`Response::Stats`].
    Stats,
    /// The tracked flows, of one NIC or all: [`Response::Flows`].
    Flows {
        #[serde(default)]
        nic: Option<String>,
    },
    /// The live BGP sessions of a gateway (only a running lab has them):
    /// [`Response::BgpPeerStatus`].
    BgpPeerStatus { gateway: String },
    /// A load balancer's backends as its health probes see them now:
    /// [`Response::LoadBalancer`].
    LbShow { load_balancer: String },
    /// The topology the lab runs now, as its file said it:
    /// [`Response::RunningTopology`] (what `vnetd verify` reads its
    /// expectations and namespaces from).
    RunningTopology,
    /// Whether the lab has converged (BGP sessions up, the routes the
    /// BGP model predicts learned, the load balancers' first probes
    /// answered), and what is missing when not: [`Response::Convergence`]
    /// (what `vnetd verify --wait` polls).
    Convergence,
}

/// One reply line: the answer to a request, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Response {
    Applied(ApplyOutcome),
    Diagnosis(Diagnosis),
    Stats(StatsReport),
    Flows(FlowsReport),
    BgpPeerStatus(BgpPeerStatus),
    LoadBalancer(LoadBalancerStatus),
    RunningTopology(RunningTopology),
    Convergence(Convergence),
    Error(ApiError),
}

/// What an `apply` changed: the generation the lab forwards with now,
/// the NICs and parts added, removed and re-plumbed (their namespace or
/// addresses changed), by name, what changed in place, what had to be
/// built again with what is lost with it, and the faults met on the way
/// that did not undo it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyOutcome {
    /// The file applied, as the request named it.
    pub source: String,
    pub generation: u64,
    /// NICs (and the ports vnetd adds) that are new.
    pub added: Vec<String>,
    /// NICs and ports that are gone.
    pub removed: Vec<String>,
    /// NICs and ports whose namespace or TUN was built again.
    pub replumbed: Vec<String>,
    /// What changed in place, each with what changed: a VM's rate cap, a
    /// NIC's IP forwarding, a gateway's BGP neighbours, a new site.
    #[serde(default)]
    pub changed: Vec<String>,
    /// What had to be built again, each with what is lost with it.
    #[serde(default)]
    pub rebuilt: Vec<String>,
    /// The file's entries added (`+`), removed (`-`) or changed (`~`),
    /// by key path: `~route_tables[spoke1-rt]`.
    #[serde(default)]
    pub file: Vec<String>,
    /// Faults met on the way that did not undo the apply, each also in
    /// the daemon's log (a namespace that could not be removed, a rate
    /// cap that could not be changed): what did not take effect as asked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A diagnostic answer as it prints: a table, or `az`-shaped JSON when
/// the request asked for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub json: bool,
    pub output: String,
}

/// The BGP sessions of one gateway, as `az network vnet-gateway
/// list-bgp-peer-status` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BgpPeerStatus {
    pub gateway: String,
    pub peers: BgpPeerStatusList,
}

/// The running topology: the name it came under (a path, or the built-in
/// lab) and its file's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningTopology {
    pub source: String,
    pub text: String,
}

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
    /// The file's errors, for an `apply` refused because the file is
    /// invalid (empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Diagnostic>,
}

/// Whether a request named what is not there, or was malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// Refused input: exit code 1.
    Refused,
    /// A malformed request: exit code 2.
    Usage,
}

/// The exit code of refused input.
pub const EXIT_REFUSED: u8 = 1;
/// The exit code of a malformed request.
pub const EXIT_USAGE: u8 = 2;

impl ApiError {
    /// A refusal: exit code 1.
    pub fn refused(message: impl Into<String>) -> ApiError {
        ApiError {
            kind: ErrorKind::Refused,
            message: message.into(),
            diagnostics: Vec::new(),
        }
    }

    /// A malformed request: exit code 2.
    pub fn usage(message: impl Into<String>) -> ApiError {
        ApiError {
            kind: ErrorKind::Usage,
            message: message.into(),
            diagnostics: Vec::new(),
        }
    }

    /// The exit code the command line ends with.
    pub fn exit_code(&self) -> u8 {
        match self.kind {
            ErrorKind::Refused => EXIT_REFUSED,
            ErrorKind::Usage => EXIT_USAGE,
        }
    }
}

impl std::fmt::Display for ApiError {
    /// The file's diagnostics, one a line, then the message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for d in &self.diagnostics {
            writeln!(f, "{d}")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> ApiError {
        match e {
            QueryError::Usage(m) => ApiError::usage(m),
            QueryError::Refused(m) => ApiError::refused(m),
        }
    }
}

impl From<ApiError> for Response {
    fn from(e: ApiError) -> Response {
        Response::Error(e)
    }
}

#[cfg(test)]
mod tests;
