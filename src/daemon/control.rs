//! The control socket of a running lab: a Unix socket (by default
//! `/run/vnetd/vnetd.sock`, mode 0600, so only root can drive the lab; no TCP
//! listener). Each connection carries one JSON request line and gets one
//! JSON reply line: the exit code, and what to print on stdout and stderr.
//! `vnetd apply`, `flows`, `stats` and the diagnostic commands without
//! `--config` are its clients; the daemon answers from the plane it is
//! forwarding with.

use super::stats::NicStats;
use super::{ApplyError, Daemon};
use crate::cli::Failure;
use crate::dataplane::conntrack::direction_code;
use crate::diagnostics::{self, Query};
use crate::topology::{
    Direction, ParseOptions, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

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
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Reply {
    pub code: u8,
    pub stdout: String,
    pub stderr: String,
}

impl Reply {
    fn ok(stdout: String) -> Reply {
        Reply {
            code: 0,
            stdout,
            stderr: String::new(),
        }
    }

    fn failed(f: Failure) -> Reply {
        Reply {
            code: f.code,
            stdout: String::new(),
            stderr: f.message,
        }
    }
}

/// Sends one request to the daemon listening at `path`.
pub fn request(path: &Path, req: &Request) -> Result<Reply, Failure> {
    let mut stream = UnixStream::connect(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            Failure::refused(format!(
                "permission denied on the control socket {} ({e}): the running lab answers \
                 root only; run as root, or give --config FILE",
                path.display()
            ))
        } else {
            Failure::refused(format!(
                "no running vnetd at {} ({e}); start one with `vnetd run`, or give --config FILE",
                path.display()
            ))
        }
    })?;
    let mut line = serde_json::to_string(req).map_err(|e| Failure::refused(e.to_string()))?;
    line.push('\n');
    stream
        .write_all(line.as_bytes())
        .map_err(|e| Failure::refused(format!("talking to vnetd: {e}")))?;
    let mut reply = String::new();
    BufReader::new(stream)
        .read_line(&mut reply)
        .map_err(|e| Failure::refused(format!("talking to vnetd: {e}")))?;
    serde_json::from_str(&reply)
        .map_err(|e| Failure::refused(format!("vnetd answered something unreadable: {e}")))
}

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
/// [`super::serve`]); stops when dropped, without waiting for clients.
pub struct ControlServer {
    path: PathBuf,
    _server: super::serve::Server,
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
        // Connections hold the daemon weakly: a client never keeps a lab
        // that is shutting down alive.
        let daemon = Arc::downgrade(&daemon);
        let server = super::serve::Server::start(
            "vnetd-control",
            listener,
            move |stream| handle(stream, &daemon),
            |stream: UnixStream| {
                let busy = Reply::failed(Failure::refused(format!(
                    "vnetd is answering {} requests already; try again",
                    super::serve::MAX_CONNECTIONS
                )));
                write_reply(&stream, &busy);
            },
        )?;
        Ok(ControlServer {
            path: path.to_path_buf(),
            _server: server,
        })
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads one request line, all of it within [`REQUEST_TIMEOUT`] and at most
/// [`MAX_REQUEST_BYTES`] long.
fn read_request(mut stream: &UnixStream) -> Result<Vec<u8>, Failure> {
    use std::io::Read;
    let deadline = std::time::Instant::now() + REQUEST_TIMEOUT;
    let mut line = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(Failure::usage("the request did not arrive in time"));
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|e| Failure::refused(e.to_string()))?;
        let n = match stream.read(&mut buf) {
            Ok(0) => return Err(Failure::usage("the request ended before its newline")),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(Failure::usage("the request did not arrive in time")),
        };
        if let Some(end) = buf[..n].iter().position(|&b| b == b'\n') {
            line.extend_from_slice(&buf[..end]);
            return Ok(line);
        }
        line.extend_from_slice(&buf[..n]);
        if line.len() > MAX_REQUEST_BYTES {
            return Err(Failure::usage(format!(
                "request longer than {MAX_REQUEST_BYTES} bytes: refused"
            )));
        }
    }
}

fn write_reply(mut stream: &UnixStream, reply: &Reply) {
    if let Ok(mut text) = serde_json::to_string(reply) {
        text.push('\n');
        let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
        let _ = stream.write_all(text.as_bytes());
    }
}

fn handle(stream: UnixStream, daemon: &std::sync::Weak<Daemon>) {
    let reply = match read_request(&stream) {
        Err(f) => Reply::failed(f),
        Ok(line) => match serde_json::from_slice::<Request>(&line) {
            Err(e) => Reply::failed(Failure::usage(format!("unreadable request: {e}"))),
            // The daemon is held only while the answer is computed.
            Ok(req) => match daemon.upgrade() {
                Some(daemon) => answer(&daemon, req),
                None => Reply::failed(Failure::refused("the lab is shutting down")),
            },
        },
    };
    write_reply(&stream, &reply);
}

/// Answers one request from the daemon's current plane.
pub fn answer(daemon: &Daemon, req: Request) -> Reply {
    match req {
        Request::Apply {
            source,
            text,
            allow_empty,
        } => match daemon.apply_with(&source, &text, ParseOptions { allow_empty }) {
            Ok(s) => {
                let mut out = format!("{source}: applied, generation {}", s.generation);
                for (what, names) in [
                    ("added", &s.added),
                    ("removed", &s.removed),
                    ("re-plumbed", &s.replumbed),
                ] {
                    if !names.is_empty() {
                        out.push_str(&format!("; {what} {}", names.join(", ")));
                    }
                }
                out.push('\n');
                Reply::ok(out)
            }
            Err(ApplyError::Invalid(errors)) => {
                let n = errors
                    .iter()
                    .filter(|d| d.severity == crate::topology::Severity::Error)
                    .count();
                let mut msg: String = errors.iter().map(|d| format!("{d}\n")).collect();
                msg.push_str(&format!(
                    "{source}: refused, {n} errors; the running topology is unchanged\n"
                ));
                Reply::failed(Failure::refused(msg))
            }
            Err(ApplyError::Host(e)) => Reply::failed(Failure::refused(format!(
                "{source}: refused: {e:#}; the running topology is unchanged"
            ))),
        },
        Request::Diagnose { query, json } => {
            match diagnostics::answer(&daemon.snapshot(), &query, json) {
                Ok(out) => Reply::ok(out),
                Err(f) => Reply::failed(f),
            }
        }
        Request::Stats { json } => Reply::ok(render_stats(&stats_of(daemon), json)),
        Request::Flows { nic, json } => {
            if let Some(name) = &nic {
                if let Err(f) = diagnostics::find_nic(&daemon.snapshot(), name) {
                    return Reply::failed(f);
                }
            }
            Reply::ok(render_flows(&flows_of(daemon, nic.as_deref()), json))
        }
    }
}

/// `vnetd stats --json`.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatsReport {
    pub generation: u64,
    pub nics: BTreeMap<String, NicStats>,
    pub flow_table: FlowTableReport,
    /// Deny events that could not reach the flow logs (0 without them).
    #[serde(default)]
    pub flow_log_events_lost: u64,
    /// Times a forwarding worker failed and was started again.
    #[serde(default)]
    pub worker_restarts: u64,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FlowTableReport {
    pub capacity: usize,
    pub flows: usize,
    pub inserted: u64,
    pub evicted: u64,
    pub failed_inserts: u64,
}

pub fn stats_of(daemon: &Daemon) -> StatsReport {
    let plane = daemon.plane();
    let nics = plane
        .snapshot
        .topology
        .nics
        .iter()
        .filter_map(|n| Some((n.name.clone(), daemon.nic_stats(&n.name)?)))
        .collect();
    let t = daemon.flows().stats();
    StatsReport {
        generation: plane.snapshot.generation,
        nics,
        flow_table: FlowTableReport {
            capacity: t.capacity,
            flows: t.occupied,
            inserted: t.inserted,
            evicted: t.evicted,
            failed_inserts: t.failed_inserts,
        },
        flow_log_events_lost: daemon.flow_log_events_lost(),
        worker_restarts: daemon.worker_restarts(),
    }
}

fn render_stats(report: &StatsReport, json: bool) -> String {
    if json {
        return serde_json::to_string_pretty(report).unwrap_or_default() + "\n";
    }
    let mut out = format!("generation {}\n", report.generation);
    out.push_str(&format!(
        "{:<14} {:>10} {:>12} {:>10} {:>12}  drops\n",
        "NIC", "rx pkts", "rx bytes", "tx pkts", "tx bytes"
    ));
    for (name, s) in &report.nics {
        let drops: Vec<String> = s.drops.iter().map(|(r, n)| format!("{r}={n}")).collect();
        out.push_str(&format!(
            "{:<14} {:>10} {:>12} {:>10} {:>12}  {}\n",
            name,
            s.rx_packets,
            s.rx_bytes,
            s.tx_packets,
            s.tx_bytes,
            drops.join(" ")
        ));
    }
    let t = &report.flow_table;
    out.push_str(&format!(
        "flow table: {} flows of {} slots, {} inserted, {} evicted, {} refused\n",
        t.flows, t.capacity, t.inserted, t.evicted, t.failed_inserts
    ));
    if report.flow_log_events_lost > 0 {
        out.push_str(&format!(
            "flow logs: {} deny events lost (the flow-log thread fell behind)\n",
            report.flow_log_events_lost
        ));
    }
    if report.worker_restarts > 0 {
        out.push_str(&format!(
            "workers: failed and restarted {} times (see the daemon's stderr)\n",
            report.worker_restarts
        ));
    }
    out
}

/// One tracked flow, as `vnetd flows --json` prints it.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, Clone)]
pub struct FlowReport {
    pub nic: String,
    pub direction: String,
    pub protocol: String,
    pub source: String,
    pub destination: String,
    /// The NSG rule that allowed the flow's first packet at this NIC
    /// (`securityRules/...`, `defaultSecurityRules/...`), or null when no
    /// NSG applies.
    pub rule: Option<String>,
    /// The route the flow's packets take now from this NIC (outbound only).
    pub next_hop_type: Option<String>,
    pub next_hop_ip_address: Option<String>,
    pub packets_forward: u64,
    pub bytes_forward: u64,
    pub packets_reverse: u64,
    pub bytes_reverse: u64,
    pub age_ms: u64,
    pub idle_ms: u64,
}

pub fn flows_of(daemon: &Daemon, only: Option<&str>) -> Vec<FlowReport> {
    let plane = daemon.plane();
    let snap = &plane.snapshot;
    let now = daemon.now_ms();
    let mut out = Vec::new();
    daemon.flows().for_each(now, |key, value| {
        let Some(nic) = plane.ports.iter().position(|p| p.id == key.nic) else {
            return;
        };
        let name = &snap.topology.nics[nic].name;
        if only.is_some_and(|o| o != name) {
            return;
        }
        let direction = if key.direction == direction_code(Direction::Inbound) {
            Direction::Inbound
        } else {
            Direction::Outbound
        };
        let (src, dst) = (key.src_ip(), key.dst_ip());
        let endpoint = |ip: std::net::IpAddr, port: u16| match key.proto {
            IPPROTO_TCP | IPPROTO_UDP => std::net::SocketAddr::new(ip, port).to_string(),
            _ => ip.to_string(),
        };
        let protocol = match key.proto {
            IPPROTO_TCP => "Tcp".to_string(),
            IPPROTO_UDP => "Udp".to_string(),
            IPPROTO_ICMP | IPPROTO_ICMPV6 => "Icmp".to_string(),
            other => other.to_string(),
        };
        // The tag names the rule for the lab's life, whatever was applied
        // since the flow was admitted.
        let rule = snap.rule_names.get(value.verdict_tag).map(|r| r.rule);
        let hop = (direction == Direction::Outbound).then(|| diagnostics::next_hop(snap, nic, dst));
        out.push(FlowReport {
            nic: name.clone(),
            direction: direction.as_str().to_string(),
            protocol,
            source: endpoint(src, key.src_port),
            destination: endpoint(dst, key.dst_port),
            rule,
            next_hop_type: hop.as_ref().map(|h| h.next_hop_type.to_string()),
            next_hop_ip_address: hop.map(|h| h.next_hop_ip_address).filter(|s| !s.is_empty()),
            packets_forward: value.forward_packets,
            bytes_forward: value.forward_bytes,
            packets_reverse: value.reverse_packets,
            bytes_reverse: value.reverse_bytes,
            age_ms: now.saturating_sub(value.created_ms),
            idle_ms: now.saturating_sub(value.last_seen_ms),
        });
    });
    out.sort_by(|a, b| {
        (&a.nic, &a.direction, &a.source, &a.destination).cmp(&(
            &b.nic,
            &b.direction,
            &b.source,
            &b.destination,
        ))
    });
    out
}

fn render_flows(flows: &[FlowReport], json: bool) -> String {
    if json {
        return serde_json::to_string_pretty(&serde_json::json!({ "flows": flows }))
            .unwrap_or_default()
            + "\n";
    }
    let mut out = format!(
        "{:<10} {:<8} {:<5} {:<22} {:<22} {:>8} {:>8} {:>7}  rule / next hop\n",
        "NIC", "dir", "proto", "source", "destination", "pkts >", "pkts <", "idle s"
    );
    for f in flows {
        out.push_str(&format!(
            "{:<10} {:<8} {:<5} {:<22} {:<22} {:>8} {:>8} {:>7}  {} {}\n",
            f.nic,
            f.direction,
            f.protocol,
            f.source,
            f.destination,
            f.packets_forward,
            f.packets_reverse,
            f.idle_ms / 1000,
            f.rule.as_deref().unwrap_or("(no NSG)"),
            f.next_hop_type.as_deref().unwrap_or("")
        ));
    }
    out
}
