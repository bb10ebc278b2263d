//! The command line of `vnetd`. Exit codes: 0 success, 1 refused input (an
//! invalid topology, an unknown NIC, an address outside the topology), 2
//! usage errors.
//!
//! It owns argument parsing, the lab's life as a process and the mapping
//! of errors to exit codes; it may use every layer, and no layer uses it.

use crate::daemon::control::{self, ControlError, Request};
use crate::daemon::metrics::MetricsServer;
use crate::diagnostics::{Query, QueryError};
use crate::graph::GraphFormat;
use crate::topology::{self, Diagnostic, Loaded, ParseOptions};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "vnetd",
    version,
    about = "Azure virtual networking on one Linux host: real packets through Azure's routes, peering and NSGs"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build the lab (a namespace and TUN per NIC) and forward packets until
    /// SIGINT or SIGTERM; then remove everything. Without CONFIG, runs the
    /// built-in hub-and-spoke example (config/hub-spoke.yaml). Needs root.
    Run {
        /// The topology file (YAML).
        config: Option<PathBuf>,
        /// Forwarding threads (default: one per core), 1 to 256.
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
        workers: Option<u16>,
        /// Serve Prometheus metrics at http://ADDR/metrics (e.g.
        /// 127.0.0.1:9469); off by default.
        #[arg(long, value_name = "ADDR")]
        metrics: Option<SocketAddr>,
        /// Write NSG flow logs (Azure's version 2 format, PT1H.json files at
        /// Azure's blob paths) under this directory.
        #[arg(long, value_name = "DIR")]
        flow_log_dir: Option<PathBuf>,
        /// Seconds between flow-log records (Azure: 60), 1 to 3600.
        #[arg(long, value_name = "N", requires = "flow_log_dir",
              value_parser = clap::value_parser!(u64).range(1..=3600))]
        flow_log_interval_secs: Option<u64>,
        #[command(flatten)]
        empty: AllowEmpty,
    },
    /// Replace the running lab's topology without a restart; an invalid file
    /// is refused and the running topology stays.
    Apply {
        /// The topology file (YAML).
        config: PathBuf,
        #[command(flatten)]
        empty: AllowEmpty,
    },
    /// The running lab's tracked flows: 5-tuple, NIC and direction, the NSG
    /// rule that allowed it, the next hop, packets and bytes each way.
    Flows {
        #[arg(long)]
        nic: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The running lab's counters: per NIC packets, bytes and drops by reason.
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// Remove the namespaces a crashed `run` left behind. Needs root.
    Down {
        /// The topology file that was running (default: the built-in example).
        config: Option<PathBuf>,
    },
    /// Print the network namespace that stands for a NIC (for scripts).
    Netns {
        #[arg(long)]
        nic: String,
        /// The topology file (default: the built-in lab).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Validate a topology file: exit 0, or 1 with every error listed.
    Check {
        /// The topology file (YAML).
        config: PathBuf,
        #[command(flatten)]
        empty: AllowEmpty,
    },
    /// Draw the topology: VNets, subnets, NICs, peerings and the user
    /// routes through virtual appliances, as Mermaid or Graphviz DOT.
    Graph {
        /// The topology file (YAML).
        config: PathBuf,
        /// The picture language.
        #[arg(long, default_value = "mermaid")]
        format: GraphFormat,
    },
    /// Effective routes of a NIC's subnet (like `az network nic show-effective-route-table`).
    Routes {
        #[arg(long)]
        nic: String,
        #[command(flatten)]
        source: Source,
    },
    /// The route a packet from the NIC to DST takes (like `az network watcher show-next-hop`).
    NextHop {
        #[arg(long)]
        nic: String,
        #[arg(long)]
        dst: String,
        #[command(flatten)]
        source: Source,
    },
    /// The NSG verdict on a flow and the deciding rule (like `az network watcher test-ip-flow`).
    FlowVerify {
        #[arg(long)]
        nic: String,
        /// Inbound or Outbound (case-insensitive).
        #[arg(long, value_enum, ignore_case = true)]
        direction: DirectionArg,
        /// TCP or UDP (case-insensitive): IP flow verify tests TCP and UDP
        /// only, as in Azure.
        #[arg(long, value_enum, ignore_case = true)]
        protocol: ProtocolArg,
        /// The NIC's side of the flow, IP:PORT.
        #[arg(long)]
        local: String,
        /// The other side of the flow, IP:PORT.
        #[arg(long)]
        remote: String,
        #[command(flatten)]
        source: Source,
    },
    /// Effective security rules of a NIC: subnet and NIC NSGs, tags expanded.
    Rules {
        #[arg(long)]
        nic: String,
        #[command(flatten)]
        source: Source,
    },
}

/// `--allow-empty`: a topology that declares nothing (an empty or
/// comment-only file) is refused unless this says it is meant (applied to
/// a running lab, it removes every NIC).
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct AllowEmpty {
    /// Accept a topology that declares nothing (an empty lab).
    #[arg(long = "allow-empty")]
    pub allow_empty: bool,
}

impl AllowEmpty {
    fn options(self) -> ParseOptions {
        ParseOptions {
            allow_empty: self.allow_empty,
        }
    }
}

/// Where a diagnostic command takes its topology from, and how it prints.
#[derive(clap::Args, Debug)]
pub struct Source {
    /// Answer from this topology file instead of the running daemon.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Print the JSON that `az` prints instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// An outcome with its exit code: 1 for refused input, 2 for usage.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn refused(message: impl Into<String>) -> Self {
        Failure {
            code: 1,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
        }
    }
}

impl From<QueryError> for Failure {
    fn from(e: QueryError) -> Failure {
        match e {
            QueryError::Usage(m) => Failure::usage(m),
            QueryError::Refused(m) => Failure::refused(m),
        }
    }
}

impl From<ControlError> for Failure {
    fn from(e: ControlError) -> Failure {
        Failure::refused(e.0)
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                say_err(&format!("{}\n", f.message.trim_end()));
            }
            ExitCode::from(f.code)
        }
    }
}

/// Writes command output to stdout. When the reader has gone (`vnetd flows
/// | head -1`), the command ends quietly with exit 0, as `head` asked for
/// no more; any other write error (`> /dev/full`) is reported, exit 1.
fn say(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Failure {
            code: 0,
            message: String::new(),
        }),
        Err(e) => Err(Failure::refused(format!(
            "vnetd: error writing output: {e}"
        ))),
    }
}

/// Writes to stderr; a closed or full stderr loses the text, never panics.
fn say_err(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

pub fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Run {
            config,
            workers,
            metrics,
            flow_log_dir,
            flow_log_interval_secs,
            empty,
        } => run_lab(
            config.as_deref(),
            empty.options(),
            workers,
            metrics,
            flow_log_dir,
            flow_log_interval_secs,
        ),
        Command::Down { config } => down(config.as_deref()),
        Command::Check { config, empty } => check(&config, empty.options()),
        Command::Netns { nic, config } => {
            let loaded = load_or_builtin(config.as_deref(), ParseOptions::default())?;
            let t = &loaded.topology;
            match t.nic_by_name(&nic) {
                Some(i) => say(&format!("{}\n", t.nics[i].netns)),
                None => Err(Failure::refused(format!(
                    "no NIC named `{nic}` in {}",
                    t.source
                ))),
            }
        }
        Command::Graph { config, format } => graph(&config, format),
        Command::Apply { config, empty } => apply(&config, empty.options()),
        Command::Flows { nic, json } => online(&Request::Flows { nic, json }),
        Command::Stats { json } => online(&Request::Stats { json }),
        Command::Routes { nic, source } => diagnose(Query::Routes { nic }, &source),
        Command::NextHop { nic, dst, source } => diagnose(Query::NextHop { nic, dst }, &source),
        Command::FlowVerify {
            nic,
            direction,
            protocol,
            local,
            remote,
            source,
        } => diagnose(
            Query::FlowVerify {
                nic,
                direction: direction.as_str().to_string(),
                protocol: protocol.as_str().to_string(),
                local,
                remote,
            },
            &source,
        ),
        Command::Rules { nic, source } => diagnose(Query::Rules { nic }, &source),
    }
}

/// `--direction` of `flow-verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, strum::IntoStaticStr)]
pub enum DirectionArg {
    Inbound,
    Outbound,
}

/// `--protocol` of `flow-verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, strum::IntoStaticStr)]
pub enum ProtocolArg {
    Tcp,
    Udp,
}

impl DirectionArg {
    /// As the diagnostic question spells it.
    fn as_str(self) -> &'static str {
        self.into()
    }
}

impl ProtocolArg {
    fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Answers a diagnostic question from `--config`, or else from the running
/// daemon.
fn diagnose(query: Query, source: &Source) -> Result<(), Failure> {
    match &source.config {
        Some(path) => {
            let loaded = load(path, ParseOptions::default())?;
            say(&crate::diagnostics::answer_offline(
                &loaded,
                &query,
                source.json,
            )?)
        }
        None => online(&Request::Diagnose {
            query,
            json: source.json,
        }),
    }
}

/// Sends a request to the running daemon and prints its answer.
fn online(req: &Request) -> Result<(), Failure> {
    let reply = control::request(&control::socket_path(), req)?;
    say(&reply.stdout)?;
    if reply.code == 0 {
        say_err(&reply.stderr);
        Ok(())
    } else {
        Err(Failure {
            code: reply.code,
            message: reply.stderr,
        })
    }
}

fn apply(path: &Path, options: ParseOptions) -> Result<(), Failure> {
    // The same refusals as `vnetd check`, before bothering the daemon.
    let text = topology::read_file(path).map_err(|d| Failure::refused(render(&[d])))?;
    refuse_invalid(
        path,
        topology::parse_str_with(&path.display().to_string(), &text, options),
    )?;
    online(&Request::Apply {
        source: path.display().to_string(),
        text,
        allow_empty: options.allow_empty,
    })
}

fn render(diags: &[Diagnostic]) -> String {
    diags.iter().map(|d| format!("{d}\n")).collect()
}

fn load(path: &Path, options: ParseOptions) -> Result<Loaded, Failure> {
    refuse_invalid(path, topology::load_file_with(path, options))
}

/// Prints a valid topology's warnings; turns a refusal into its message.
fn refuse_invalid(path: &Path, parsed: Result<Loaded, Vec<Diagnostic>>) -> Result<Loaded, Failure> {
    match parsed {
        Ok(loaded) => {
            if !loaded.warnings.is_empty() {
                say_err(&render(&loaded.warnings));
            }
            Ok(loaded)
        }
        Err(errors) => {
            let count = errors
                .iter()
                .filter(|d| d.severity == topology::Severity::Error)
                .count();
            let noun = if count == 1 { "error" } else { "errors" };
            Err(Failure::refused(format!(
                "{}{}: refused, {count} {noun}",
                render(&errors),
                path.display()
            )))
        }
    }
}

/// The built-in example lab, the same file as `config/hub-spoke.yaml`.
pub const BUILTIN_LAB: &str = include_str!("../config/hub-spoke.yaml");
const BUILTIN_NAME: &str = "built-in hub-spoke.yaml";

fn load_or_builtin(path: Option<&Path>, options: ParseOptions) -> Result<Loaded, Failure> {
    match path {
        Some(p) => load(p, options),
        None => {
            topology::parse_str(BUILTIN_NAME, BUILTIN_LAB).map_err(|e| Failure::refused(render(&e)))
        }
    }
}

/// Refuses a command that needs root; `doing` says what it does that needs
/// it ("creates network namespaces and TUN devices").
fn require_root(what: &str, doing: &str) -> Result<(), Failure> {
    if !nix::unistd::geteuid().is_root() {
        return Err(Failure::refused(format!(
            "vnetd {what} {doing}: it needs root (CAP_NET_ADMIN)"
        )));
    }
    Ok(())
}

fn run_lab(
    path: Option<&Path>,
    parse_options: ParseOptions,
    workers: Option<u16>,
    metrics: Option<SocketAddr>,
    flow_log_dir: Option<PathBuf>,
    flow_log_interval_secs: Option<u64>,
) -> Result<(), Failure> {
    let loaded = load_or_builtin(path, parse_options)?;
    require_root("run", "creates network namespaces and TUN devices")?;
    let mut options = crate::daemon::RunOptions::default();
    if let Some(w) = workers {
        options.workers = usize::from(w);
    }
    if let Some(dir) = flow_log_dir {
        let mut log = crate::daemon::flow_log::FlowLogOptions::new(dir);
        if let Some(secs) = flow_log_interval_secs {
            log.interval = std::time::Duration::from_secs(secs);
        }
        options.flow_log = Some(log);
    }
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ])
    .map_err(|e| Failure::refused(format!("cannot watch signals: {e}")))?;
    let topo = loaded.topology;
    let summary: Vec<String> = topo
        .nics
        .iter()
        .map(|n| {
            let ips: Vec<String> = n
                .ip_configurations
                .iter()
                .map(|c| c.address.to_string())
                .collect();
            format!("  {:<12} netns {:<12} {}", n.name, n.netns, ips.join(", "))
        })
        .collect();
    let first = topo.nics.first().map(|n| n.netns.clone());
    let socket = control::socket_path();
    // Before building anything: the socket's path must be free, or hold a
    // socket a killed run left (removed here).
    control::claim_socket_path(&socket)
        .map_err(|e| Failure::refused(format!("control socket {}: {e:#}", socket.display())))?;
    let daemon = std::sync::Arc::new(
        crate::daemon::Daemon::start(topo, &options)
            .map_err(|e| Failure::refused(format!("cannot start the lab: {e:#}")))?,
    );
    let server = control::ControlServer::start(&socket, daemon.clone())
        .map_err(|e| Failure::refused(format!("control socket {}: {e:#}", socket.display())));
    let server = match server {
        Ok(s) => s,
        Err(f) => {
            let _ = daemon.shutdown();
            return Err(f);
        }
    };
    let metrics_server = metrics
        .map(|addr| {
            MetricsServer::start(addr, daemon.clone())
                .map_err(|e| Failure::refused(format!("--metrics: {e:#}")))
        })
        .transpose();
    let metrics_server = match metrics_server {
        Ok(m) => m,
        Err(f) => {
            drop(server);
            let _ = daemon.shutdown();
            return Err(f);
        }
    };
    // The lab runs on whatever becomes of its stdout: the banner is best effort.
    let mut banner = format!(
        "vnetd: lab up, {} workers, {} NICs:\n",
        options.workers,
        summary.len()
    );
    for line in &summary {
        banner.push_str(&format!("{line}\n"));
    }
    banner.push_str(&format!("control socket: {}\n", socket.display()));
    if let Some(m) = &metrics_server {
        banner.push_str(&format!("metrics: http://{}/metrics\n", m.local_addr()));
    }
    if let Some(log) = &options.flow_log {
        banner.push_str(&format!(
            "NSG flow logs: {}, a record every {} s\n",
            log.dir.display(),
            log.interval.as_secs()
        ));
    }
    if let Some(ns) = first {
        banner.push_str(&format!(
            "try: ip netns exec {ns} ping <address>; stop with Ctrl-C\n"
        ));
    }
    let _ = say(&banner);
    for signal in signals.forever() {
        if signal != signal_hook::consts::SIGHUP {
            break;
        }
        // SIGHUP: read the file again and apply it, as `vnetd apply` would.
        let reloaded = match path {
            Some(p) => topology::read_file(p).map(|t| (p.display().to_string(), t)),
            None => Ok((BUILTIN_NAME.to_string(), BUILTIN_LAB.to_string())),
        };
        match reloaded {
            Ok((source, text)) => {
                let request = Request::Apply {
                    source,
                    text,
                    allow_empty: parse_options.allow_empty,
                };
                let reply = control::answer(&daemon, request);
                let _ = say(&reply.stdout);
                say_err(&reply.stderr);
            }
            Err(d) => say_err(&format!("vnetd: reloading on SIGHUP: {d}\n")),
        }
    }
    drop(metrics_server);
    drop(server);
    daemon
        .shutdown()
        .map_err(|e| Failure::refused(format!("removing the lab: {e:#}")))?;
    let _ = say("vnetd: lab removed\n");
    Ok(())
}

/// Removes what a crashed `run` left: the namespaces it created and its
/// stale control socket. Refuses while a lab answers on the socket: taking
/// namespaces from under a running daemon leaves it forwarding into nothing.
fn down(path: Option<&Path>) -> Result<(), Failure> {
    let loaded = load_or_builtin(path, ParseOptions::default())?;
    require_root("down", "removes network namespaces")?;
    let socket = control::socket_path();
    let socket_state = control::socket_state(&socket);
    if socket_state == control::SocketState::Live {
        return Err(Failure::refused(format!(
            "a vnetd is running (control socket {}): stop it with SIGTERM or Ctrl-C, which \
             removes its lab; down is for what a crash left",
            socket.display()
        )));
    }
    let done =
        crate::daemon::down(&loaded.topology).map_err(|e| Failure::refused(format!("{e:#}")))?;
    let mut report = String::new();
    if !done.removed.is_empty() {
        report.push_str(&format!(
            "vnetd: removed namespaces {}\n",
            done.removed.join(", ")
        ));
    }
    if socket_state == control::SocketState::Stale {
        std::fs::remove_file(&socket).map_err(|e| {
            Failure::refused(format!(
                "removing the stale socket {}: {e}",
                socket.display()
            ))
        })?;
        report.push_str(&format!(
            "vnetd: removed the stale control socket {}\n",
            socket.display()
        ));
    }
    if report.is_empty() {
        report.push_str("vnetd: nothing to remove\n");
    }
    say(&report)?;
    // A namespace someone else made is not a leftover: a note, exit 0. One
    // a running process uses is: down could not finish, exit 1.
    for name in &done.foreign {
        say_err(&format!(
            "vnetd: namespace {name} was not created by vnetd: left alone\n"
        ));
    }
    let in_use: Vec<String> = done
        .in_use
        .iter()
        .map(|(name, pid)| {
            format!("vnetd: namespace {name} belongs to process {pid}, which is still running: left alone")
        })
        .collect();
    if in_use.is_empty() {
        Ok(())
    } else {
        Err(Failure::refused(in_use.join("\n")))
    }
}

fn check(path: &Path, options: ParseOptions) -> Result<(), Failure> {
    let loaded = load(path, options)?;
    let t = &loaded.topology;
    say(&format!(
        "{}: ok ({} VNets, {} peering links, {} NICs, {} route tables, {} NSGs)\n",
        path.display(),
        t.vnets.len(),
        t.peerings.len(),
        t.nics.len(),
        t.route_tables.len(),
        t.nsgs.len()
    ))
}

fn graph(path: &Path, format: GraphFormat) -> Result<(), Failure> {
    let loaded = load(path, ParseOptions::default())?;
    let snapshot = crate::snapshot::Snapshot::compile(loaded.topology, 0);
    let picture = crate::graph::render(&snapshot, format);
    say(&picture)
}
