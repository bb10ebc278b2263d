//! The lab's life as a process: `vnetd run` builds it (the built-in lab
//! when no file is given), serves the control socket and metrics, reports
//! its convergence, reloads on SIGHUP and removes everything on
//! SIGINT/SIGTERM; `vnetd down` removes what a crashed run left; `vnetd
//! netns` names a NIC's namespace, the running lab's first.

use super::args::RunArgs;
use super::converge::Reporter;
use super::{load, render_diagnostics, say, say_err, Failure};
use crate::api::client;
use crate::daemon::control;
use crate::topology::{self, Loaded, ParseOptions};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The built-in example lab, the same file as `config/hub-spoke.yaml`.
pub const BUILTIN_LAB: &str = include_str!("../../config/hub-spoke.yaml");
const BUILTIN_NAME: &str = "built-in hub-spoke.yaml";

pub(super) fn load_or_builtin(
    path: Option<&Path>,
    options: ParseOptions,
) -> Result<Loaded, Failure> {
    match path {
        Some(p) => load(p, options),
        None => crate::plan::parse_str(BUILTIN_NAME, BUILTIN_LAB)
            .map_err(|e| Failure::refused(render_diagnostics(&e))),
    }
}

/// Refuses a command that needs root; `doing` says what it does that needs
/// it ("creates network namespaces and TUN devices").
pub(super) fn require_root(what: &str, doing: &str) -> Result<(), Failure> {
    if !nix::unistd::geteuid().is_root() {
        return Err(Failure::refused(format!(
            "vnetd {what} {doing}: it needs root (CAP_NET_ADMIN)"
        )));
    }
    Ok(())
}

#[allow(
    clippy::too_many_lines,
    reason = "the life of `vnetd run`, from the file to the last line it prints, in order"
)]
pub(super) fn run_lab(asked: RunArgs) -> Result<(), Failure> {
    let RunArgs {
        config,
        workers,
        metrics,
        ui,
        http_token_file,
        allow_host,
        flow_log_dir,
        flow_log_interval_secs,
        flow_table_slots,
        busy_poll,
        no_udp_coalescing,
        no_offload,
        no_shaping,
        offload_max_flows,
        host,
        empty,
    } = asked;
    let (path, parse_options) = (config.as_deref(), empty.options());
    let mut loaded = load_or_builtin(path, parse_options)?;
    loaded
        .topology
        .placement
        .run_on(host.as_deref())
        .map_err(Failure::refused)?;
    require_root("run", "creates network namespaces and TUN devices")?;
    if crate::host::netns::in_private_mount_namespace() {
        tracing::warn!("{}", private_mount_namespace_warning(host.as_deref()));
    }
    let mut options = crate::daemon::RunOptions::default();
    if let Some(w) = workers {
        options.workers = usize::from(w);
    }
    options.flow_table_slots = flow_table_slots.and_then(|n| usize::try_from(n).ok());
    options.busy_poll = busy_poll;
    options.udp_coalescing = !no_udp_coalescing;
    options.offload &= !no_offload;
    options.shaping = !no_shaping;
    options.drop_events = ui.is_some();
    if let Some(n) = offload_max_flows {
        options.offload_max_flows = n;
    }
    if let Some(dir) = flow_log_dir {
        let mut log = crate::daemon::options::FlowLogOptions::new(dir);
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
    let plan = crate::plan::Plan::derive(&topo);
    // Azure DNS's ports are the platform's: not listed among the NICs.
    let summary: Vec<String> = plan
        .ports
        .iter_enumerated()
        .filter(|(p, n)| plan.is_local(*p) && n.kind.listed())
        .map(|(_, n)| {
            let ips: Vec<String> = n
                .ip_configurations
                .iter()
                .map(|c| c.address.to_string())
                .collect();
            format!("  {:<12} netns {:<12} {}", n.name, n.netns, ips.join(", "))
        })
        .collect();
    let first = plan.ports.first().map(|n| n.netns.clone());
    // A routing daemon that is not installed is named with its package
    // before anything is built.
    let missing = crate::daemon::changing::hybrid::missing_routing(&topo, &options.programs);
    if !missing.is_empty() {
        return Err(Failure::refused(render_diagnostics(&missing).trim_end()));
    }
    // What the machine lacks, one line each, and what works without it.
    for offer in crate::host::machine::offers()
        .into_iter()
        .filter(|o| !o.present)
    {
        if offer.needed {
            return Err(Failure::refused(format!("vnetd run: {}", offer.line())));
        }
        tracing::warn!("{}", offer.line());
    }
    let socket = client::socket_path();
    // Before building anything: what a killed run of this lab left goes,
    // and the socket's path must be free.
    let left = remove_killed_runs(&topo, &socket, &format!("vnetd: {KILLED_RUN}"))?;
    say(&left)?;
    control::claim_socket_path(&socket)
        .map_err(|e| Failure::refused(format!("control socket {}: {e:#}", socket.display())))?;
    let started = std::time::Instant::now();
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
    let http = HttpAsked {
        metrics,
        ui,
        token_file: http_token_file,
        allow_host,
        socket: socket.clone(),
    };
    let servers = start_http(&daemon, http);
    let http = match servers {
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
    banner.push_str(&format!(
        "lab CA: {} (the VMs trust it; HTTPS on 443 presents its certificates)\n",
        daemon.lab_ca_path().display()
    ));
    let table = daemon.flows().stats();
    banner.push_str(&format!(
        "flow table: {} slots ({} tracked flows, {:.1} MiB)\n",
        table.capacity,
        table.capacity / 2,
        table.memory_bytes as f64 / (1024.0 * 1024.0)
    ));
    if let Some(m) = &http.metrics {
        banner.push_str(&format!("metrics: http://{}/metrics\n", m.local_addr()));
    }
    if let Some(page) = &http.page {
        banner.push_str(&format!(
            "live page: http://{}/?token={}\n",
            page.server.local_addr(),
            http.token.as_str()
        ));
    }
    if let Some(file) = &http.token_file {
        banner.push_str(&format!(
            "HTTP token: {} (send Authorization: Bearer TOKEN)\n",
            file.display()
        ));
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
    // BGP sessions and learned prefixes as they come up, then one line
    // once converged, from a thread of its own.
    let mut reporter = Some(Reporter::start(daemon.clone(), started, "after start"));
    for signal in signals.forever() {
        if signal != signal_hook::consts::SIGHUP {
            break;
        }
        // SIGHUP: read the file again and apply it, as `vnetd apply` would;
        // nobody asked but the signal, so what goes wrong is the log's.
        let _in_lab = daemon.span().enter();
        tracing::info!("SIGHUP: applying the file again");
        let reloaded = match path {
            Some(p) => topology::read_file(p).map(|t| (p.display().to_string(), t)),
            None => Ok((BUILTIN_NAME.to_string(), BUILTIN_LAB.to_string())),
        };
        match reloaded {
            Ok((source, text)) => {
                let request = crate::api::Request::Apply {
                    source,
                    text,
                    allow_empty: parse_options.allow_empty,
                };
                let applied_at = std::time::Instant::now();
                match super::render::printed(&control::answer(&daemon, request), false) {
                    Ok(text) => {
                        let _ = say(&text);
                        drop(reporter.take());
                        reporter = Some(Reporter::start(
                            daemon.clone(),
                            applied_at,
                            "after the apply",
                        ));
                    }
                    Err(f) => tracing::warn!("reloading on SIGHUP: {}", f.message),
                }
            }
            Err(d) => tracing::warn!("reloading on SIGHUP: {d}"),
        }
    }
    drop(reporter);
    drop(http);
    drop(server);
    daemon
        .shutdown()
        .map_err(|e| Failure::refused(format!("removing the lab: {e:#}")))?;
    let _ = say("vnetd: lab removed\n");
    Ok(())
}

/// Removes what a crashed `run` left: the namespaces it created, the
/// routing daemons still running in them and their run directories, and
/// its stale control socket. With CONFIG, the namespaces of that file's
/// lab; without, every namespace a vnetd created whose creator has ended,
/// whatever its file. Refuses while a lab answers on the socket: taking
/// namespaces from under a running daemon leaves it forwarding into nothing.
pub(super) fn down(path: Option<&Path>, host: Option<&str>) -> Result<(), Failure> {
    let mut loaded = path.map(|p| load(p, ParseOptions::default())).transpose()?;
    if let Some(loaded) = &mut loaded {
        loaded
            .topology
            .placement
            .run_on(host)
            .map_err(Failure::refused)?;
    }
    require_root("down", "removes network namespaces")?;
    let socket = client::socket_path();
    let socket_state = control::socket_state(&socket);
    if socket_state == control::SocketState::Live {
        return Err(Failure::refused(format!(
            "a vnetd is running (control socket {}): stop it with SIGTERM or Ctrl-C, which \
             removes its lab; down is for what a crash left",
            socket.display()
        )));
    }
    let done = match &loaded {
        Some(loaded) => crate::daemon::down(&loaded.topology),
        None => crate::daemon::down_all(),
    }
    .map_err(|e| Failure::refused(format!("{e:#}")))?;
    let mut report = removed_lines(&done, "vnetd: ");
    let socket_files = remove_stale_socket(&socket).map_err(Failure::refused)?;
    report.extend(socket_files.lines().map(|l| format!("vnetd: {l}\n")));
    if report.is_empty() {
        report.push_str("vnetd: nothing to remove\n");
    }
    say(&report)?;
    // A namespace someone else made is not a leftover: a note, exit 0.
    for name in &done.foreign {
        say_err(&format!(
            "vnetd: namespace {name} was not created by vnetd: left alone\n"
        ));
    }
    if loaded.is_none() {
        // Without a file, the namespaces of running labs are simply not
        // leftovers: a note per lab, exit 0.
        let mut by_creator: std::collections::BTreeMap<u32, Vec<&str>> = Default::default();
        for (name, pid) in &done.in_use {
            by_creator.entry(*pid).or_default().push(name);
        }
        for (pid, names) in by_creator {
            let shown: Vec<&str> = names.iter().take(3).copied().collect();
            let more = if names.len() > shown.len() {
                ", ..."
            } else {
                ""
            };
            let what = if names.len() == 1 {
                "namespace".to_string()
            } else {
                format!("{} namespaces", names.len())
            };
            say_err(&format!(
                "vnetd: {what} {}{more} of process {pid}, which is still running: left alone\n",
                shown.join(", ")
            ));
        }
        return Ok(());
    }
    // With a file, one its lab's namespaces that a running process uses
    // means down could not finish: exit 1.
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

/// What each line of [`remove_killed_runs`] starts with, after the
/// command's own name.
pub(super) const KILLED_RUN: &str = "left by a killed run: ";

/// Before the lab of `topology` is built on this machine: what a killed
/// run of the same lab left, removed as `vnetd down FILE` removes it (its
/// namespaces whose creator has ended, the daemons still running there
/// and their run directories), and the stale control socket at `socket`
/// with its token file. One line per thing removed, each after `prefix`.
/// Refused, with nothing removed, when a running process holds one of the
/// lab's namespaces: a lab of this file runs already. A lab spread over
/// machines is left to `vnetd down FILE --host NAME`: its machine's VXLAN
/// device has one name for every lab.
pub(super) fn remove_killed_runs(
    topology: &topology::Topology,
    socket: &Path,
    prefix: &str,
) -> Result<String, Failure> {
    use crate::host::netns;
    let mut out = String::new();
    if topology.placement.local.is_none() {
        let names = crate::daemon::namespace_names(topology);
        if let Some((name, pid)) = names.iter().find_map(|name| match netns::owner(name) {
            netns::Owner::InUse { pid } => Some((name, pid)),
            _ => None,
        }) {
            return Err(Failure::refused(format!(
                "namespace {name} belongs to process {pid}, which is still running: a lab of \
                 {} runs already (stop it first)",
                topology.source
            )));
        }
        let done = crate::daemon::down(topology)
            .map_err(|e| Failure::refused(format!("removing what a killed run left: {e:#}")))?;
        out.push_str(&removed_lines(&done, prefix));
    }
    let socket_files = remove_stale_socket(socket).map_err(Failure::refused)?;
    out.extend(socket_files.lines().map(|l| format!("{prefix}{l}\n")));
    Ok(out)
}

/// Removes the control socket at `socket` when nothing answers on it, and
/// the token file a run wrote beside it (see [`token_file_of`]); one line
/// for each removed, or why one could not be.
pub(super) fn remove_stale_socket(socket: &Path) -> Result<String, String> {
    let state = control::socket_state(socket);
    let mut out = String::new();
    if state == control::SocketState::Stale {
        std::fs::remove_file(socket)
            .map_err(|e| format!("removing the stale socket {}: {e}", socket.display()))?;
        out.push_str(&format!(
            "removed the stale control socket {}\n",
            socket.display()
        ));
    }
    let token = token_file_of(socket);
    if state != control::SocketState::Live && token.exists() {
        std::fs::remove_file(&token)
            .map_err(|e| format!("removing the token file {}: {e}", token.display()))?;
        out.push_str(&format!("removed the token file {}\n", token.display()));
    }
    Ok(out)
}

/// One line per thing `done` removed, each after `prefix`: the processes
/// stopped, the namespaces, devices and run directories removed.
pub(super) fn removed_lines(done: &crate::host::Leftovers, prefix: &str) -> String {
    let mut out = String::new();
    for stopped in &done.stopped {
        out.push_str(&format!(
            "{prefix}stopped {} (pid {}) in {}\n",
            stopped.name, stopped.pid, stopped.namespace
        ));
    }
    if !done.removed.is_empty() {
        out.push_str(&format!(
            "{prefix}removed namespaces {}\n",
            done.removed.join(", ")
        ));
    }
    for device in &done.removed_devices {
        out.push_str(&format!("{prefix}removed device {device}\n"));
    }
    for dir in &done.removed_dirs {
        out.push_str(&format!("{prefix}removed {}\n", dir.display()));
    }
    out
}

/// What `vnetd run` logs when it runs in a mount namespace of its own.
fn private_mount_namespace_warning(host: Option<&str>) -> String {
    let host = host.map(|h| format!(" --host {h}")).unwrap_or_default();
    let example = format!("nsenter --net=/run/netns/NAME vnetd run FILE{host}");
    format!(
        "this process runs in a mount namespace of its own (as `ip netns exec` \
         gives it): the lab's namespaces will be seen only by processes in that mount \
         namespace, and `ip netns`, `vnetd` commands and tools started elsewhere will not find \
         them. To run in another network namespace with the machine's mounts, use \
         `{example}`"
    )
}

/// What `vnetd run` was asked for of its HTTP listeners.
struct HttpAsked {
    metrics: Option<SocketAddr>,
    ui: Option<SocketAddr>,
    token_file: Option<PathBuf>,
    allow_host: Vec<String>,
    /// The control socket: a run's own token is written beside it.
    socket: PathBuf,
}

/// The running HTTP listeners and their token; dropping them stops them
/// (the page first) and removes the token file the run wrote.
struct HttpListeners {
    page: Option<crate::web::LivePage>,
    metrics: Option<crate::web::HttpServer>,
    token: crate::web::Token,
    /// Where the token can be read, when a listener asks for it.
    token_file: Option<PathBuf>,
    /// The run's own token file, removed at the end.
    written: Option<PathBuf>,
}

impl Drop for HttpListeners {
    fn drop(&mut self) {
        drop(self.page.take());
        drop(self.metrics.take());
        if let Some(file) = &self.written {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// The file a run writes its own token to: beside the control socket,
/// named after it (`/run/vnetd/vnetd.http-token`).
pub(super) fn token_file_of(socket: &Path) -> PathBuf {
    socket.with_extension("http-token")
}

/// The metrics endpoint and the live page, where asked for, with the token
/// they ask for.
fn start_http(
    daemon: &Arc<crate::daemon::Daemon>,
    asked: HttpAsked,
) -> Result<HttpListeners, Failure> {
    use crate::web::{Access, Listeners, Token};
    let refused = |e: anyhow::Error| Failure::refused(format!("--http-token-file: {e:#}"));
    let wanted = asked.metrics.is_some() || asked.ui.is_some();
    let (token, token_file, written) = match &asked.token_file {
        Some(file) if wanted => (
            Token::read_or_create(file).map_err(refused)?,
            Some(file.clone()),
            None,
        ),
        _ => {
            let token = Token::generate().map_err(refused)?;
            let file = token_file_of(&asked.socket);
            if wanted {
                token
                    .write_private(&file)
                    .map_err(|e| Failure::refused(format!("the HTTP listeners' token: {e:#}")))?;
            }
            (token, wanted.then(|| file.clone()), wanted.then_some(file))
        }
    };
    let access = Access::new(token.clone(), &asked.allow_host)
        .map_err(|e| Failure::refused(format!("--allow-host: {e:#}")))?;
    let listeners = Listeners::new(access);
    let mut http = HttpListeners {
        page: None,
        metrics: None,
        token,
        token_file,
        written,
    };
    if let Some(addr) = asked.metrics {
        http.metrics = Some(
            listeners
                .serve_metrics(addr, daemon.clone())
                .map_err(|e| Failure::refused(format!("--metrics: {e:#}")))?,
        );
    }
    if let Some(addr) = asked.ui {
        http.page = Some(
            listeners
                .serve_page(addr, daemon.clone())
                .map_err(|e| Failure::refused(format!("--ui: {e:#}")))?,
        );
    }
    Ok(http)
}

/// The running lab's topology as it reads it, and its plan; refused when no
/// lab runs or it cannot be asked.
pub(super) fn running_plan() -> Result<(topology::Topology, crate::plan::Plan), Failure> {
    let socket = client::socket_path();
    let running = client::Client::new(&socket).running_topology()?;
    let topology = running_topology(&running)?;
    let plan = crate::plan::Plan::derive(&topology);
    Ok((topology, plan))
}

fn running_topology(running: &crate::api::RunningTopology) -> Result<topology::Topology, Failure> {
    let options = ParseOptions { allow_empty: true };
    crate::plan::parse_str_with(&running.source, &running.text, options)
        .map(|loaded| loaded.topology)
        .map_err(|e| {
            Failure::refused(format!(
                "{}the running topology ({}) does not read here",
                render_diagnostics(&e),
                running.source
            ))
        })
}

/// Prints the namespace of the NIC (or port) named `nic`: the running
/// lab's, asked over the control socket, since its file may name it
/// otherwise than `path` or the built-in lab. Only when no lab runs is the
/// answer read from `path` (the built-in lab without one), and a note on
/// stderr says so. With `path` and a running lab, a file that puts the NIC
/// elsewhere is noted too.
pub(super) fn print_netns(nic: &str, path: Option<&Path>) -> Result<(), Failure> {
    let socket = client::socket_path();
    match client::Client::new(&socket).running_topology() {
        Ok(running) => {
            let topology = running_topology(&running)?;
            let netns = netns_of(&topology, nic).ok_or_else(|| {
                Failure::refused(format!(
                    "no NIC named `{nic}` in the running lab ({})",
                    topology.source
                ))
            })?;
            if let Some(path) = path {
                let file = load(path, ParseOptions::default())?;
                if let Some(other) = netns_of(&file.topology, nic).filter(|o| *o != netns) {
                    say_err(&format!(
                        "vnetd netns: {} puts {nic} in namespace {other}; the running lab ({}) \
                         has it in {netns}\n",
                        path.display(),
                        topology.source
                    ));
                }
            }
            say(&format!("{netns}\n"))
        }
        // A lab runs but may not be asked (the socket answers root only):
        // the file could name what it does not run, so no answer.
        Err(unreachable @ client::ClientError::Unreachable(_))
            if control::socket_state(&socket) == control::SocketState::Live =>
        {
            Err(unreachable.into())
        }
        Err(client::ClientError::Unreachable(_)) => {
            let loaded = load_or_builtin(path, ParseOptions::default())?;
            let t = &loaded.topology;
            let netns = netns_of(t, nic)
                .ok_or_else(|| Failure::refused(format!("no NIC named `{nic}` in {}", t.source)))?;
            say_err(&format!(
                "vnetd netns: no lab is running (nothing answers at {}): the namespace {} gives \
                 {nic}\n",
                socket.display(),
                t.source
            ));
            say(&format!("{netns}\n"))
        }
        Err(refused) => Err(refused.into()),
    }
}

/// The namespace of the port named `name` in `topology`'s plan.
fn netns_of(topology: &topology::Topology, name: &str) -> Option<String> {
    let plan = crate::plan::Plan::derive(topology);
    plan.port_by_name(name).map(|i| plan.ports[i].netns.clone())
}
