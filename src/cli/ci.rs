//! `vnetd ci FILE`: a lab's whole test in one command, for CI pipelines.
//! It builds the lab, waits for it to converge, tests every expectation
//! with real packets (as `vnetd verify`), writes JUnit and the JSON
//! report, keeps the evidence of each failed expectation in an artifacts
//! folder (a capture of each end that is a port of the lab while the
//! probe is sent again, as pcapng; `trace` of the same flow; the source's flow records; the lab's
//! counters; the gateways' BGP sessions; the NSG flow logs of the whole
//! run), and always takes the lab down: when it is done, when the run's
//! time is up, and on SIGINT or SIGTERM. Killed with SIGKILL, it leaves
//! its lab to its guardian ([`super::guardian`]); what a killed run left
//! unguarded, the next run of the same file removes before it builds.
//! Its JUnit report exists from its start to whatever its end
//! ([`super::ci_report`]).
//!
//! Exit codes: 0 every expectation holds; 1 one failed (each named on
//! stderr); 2 the file or the machine stopped the run before anything was
//! tested, or the run's time ran out (one line says which); 128 + the
//! signal's number when interrupted.

use super::args::CiArgs;
use super::ci_report::{environment, RunReport};
use super::guardian::Word;
use super::lab::{remove_killed_runs, require_root, KILLED_RUN};
use super::render::printed;
use super::{converge, Failure};
use super::{
    expectations, failed_expectations, load_with_text, refuse_unknown_reasons, say, say_err,
};
use crate::api::{client, Request};
use crate::daemon::control::{self, ControlServer};
use crate::daemon::options::FlowLogOptions;
use crate::daemon::{Daemon, RunOptions};
use crate::diagnostics::expectations::ExpectationResult;
use crate::diagnostics::Query;
use crate::host::capture::{CaptureLimit, CaptureSocket, SNAPLEN};
use crate::topology::{ParseOptions, Topology};
use crate::verify::{self, ControlSocket, Verified};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the flow logs are written during a run: short, so that a
/// short run's flows are in them (the last records are written when the
/// lab stops).
const FLOW_LOG_INTERVAL: Duration = Duration::from_secs(5);

/// How long the capture of a failed expectation's second probe goes on
/// after the probe ends, for its last answers.
const CAPTURE_TAIL: Duration = Duration::from_millis(300);

/// The control socket at `socket` could not be had: a fault of the
/// environment.
fn socket_unusable(socket: &Path) -> impl Fn(anyhow::Error) -> Failure + '_ {
    move |e| {
        environment(format!(
            "vnetd ci: control socket {}: {e:#}",
            socket.display()
        ))
    }
}

/// The lab's removal, done once, by whoever comes first: the run when it
/// is done, or the watchdog on a signal or at the deadline.
struct Teardown {
    daemon: Arc<Daemon>,
    socket: PathBuf,
    done: Mutex<bool>,
}

impl Teardown {
    fn run(&self) {
        let mut done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        if *done {
            return;
        }
        *done = true;
        if let Err(e) = self.daemon.shutdown() {
            say_err(&format!("vnetd ci: removing the lab: {e:#}\n"));
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// Ends the process, lab removed and report written, on SIGINT or
/// SIGTERM (caught by `signals` since before the lab was built) or when
/// the run's time is up; returns once `finished` is set.
fn watchdog(
    mut signals: signal_hook::iterator::Signals,
    teardown: Arc<Teardown>,
    report: Arc<RunReport>,
    finished: Arc<AtomicBool>,
    deadline: Instant,
    timeout: Duration,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || loop {
        if finished.load(Ordering::Acquire) {
            return;
        }
        let (code, why) = if let Some(signal) = signals.pending().next() {
            (128 + signal, format!("interrupted (signal {signal})"))
        } else if Instant::now() >= deadline {
            let why = format!(
                "the run did not finish within {} s (--timeout)",
                timeout.as_secs()
            );
            (2, why)
        } else {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        say_err(&format!("vnetd ci: {why}: removing the lab\n"));
        report.at("removing the lab");
        teardown.run();
        say_err("vnetd ci: lab removed\n");
        let kind = if code == 2 { "timeout" } else { "interrupted" };
        report.ended_without_results(
            kind,
            &format!("{why} before it could report"),
            "vnetd ci removed the lab and ended",
        );
        report.finished();
        std::process::exit(code);
    })
}

pub(super) fn ci(args: CiArgs) -> Result<(), Failure> {
    let source = args.config.display().to_string();
    let socket = client::socket_path();
    let report = Arc::new(RunReport::start(&source, args.junit.as_deref(), &socket)?);
    let outcome = run(&args, &socket, &report);
    if let Err(failure) = &outcome {
        report.ended_on(failure);
    }
    report.finished();
    outcome
}

/// What the run builds its lab from, once the file and the machine are
/// known to allow it.
struct Prepared {
    topology: Topology,
    options: RunOptions,
}

/// Reads the file and looks at the machine: every reason to stop before
/// anything is built (exit 2).
fn prepare(args: &CiArgs, report: &RunReport) -> Result<Prepared, Failure> {
    let (loaded, text) = load_with_text(&args.config, ParseOptions::default())
        .map_err(|f| environment(f.message))?;
    let topology = loaded.topology;
    report.tell(&Word::Lab {
        source: topology.source.clone(),
        text,
    });
    if topology.expectations.is_empty() {
        return Err(environment(format!(
            "vnetd ci: {} has no expectations: nothing to test",
            topology.source
        )));
    }
    refuse_unknown_reasons(&topology).map_err(|f| environment(f.message))?;
    require_root("ci", "builds the lab's namespaces and TUN devices")
        .map_err(|f| environment(f.message))?;
    // What the machine offers, one line each; without the first two no
    // lab can be built.
    for offer in crate::host::machine::offers() {
        say(&format!("vnetd ci: {}\n", offer.line()))?;
        if offer.needed && !offer.present {
            return Err(environment(format!("vnetd ci: {}", offer.line())));
        }
    }
    let options = RunOptions {
        offload: RunOptions::default().offload && !args.no_offload,
        flow_log: Some(FlowLogOptions {
            dir: args.artifacts.join("flow-logs"),
            interval: FLOW_LOG_INTERVAL,
        }),
        ..RunOptions::default()
    };
    let missing = crate::daemon::changing::hybrid::missing_routing(&topology, &options.programs);
    if !missing.is_empty() {
        return Err(environment(super::render_diagnostics(&missing).trim_end()));
    }
    std::fs::create_dir_all(&args.artifacts).map_err(|e| {
        environment(format!(
            "vnetd ci: cannot create the artifacts folder {}: {e}",
            args.artifacts.display()
        ))
    })?;
    Ok(Prepared { topology, options })
}

fn run(args: &CiArgs, socket: &Path, report: &Arc<RunReport>) -> Result<(), Failure> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.timeout);
    report.at("reading the file");
    let Prepared { topology, options } = prepare(args, report)?;
    // What a killed run of this file left goes first, said line by line;
    // a lab of this file that runs is not touched, and stops this run.
    let left = remove_killed_runs(&topology, socket, &format!("vnetd ci: {KILLED_RUN}"))
        .map_err(|f| environment(format!("vnetd ci: {}", f.message)))?;
    say(&left)?;
    control::claim_socket_path(socket).map_err(socket_unusable(socket))?;
    // Caught from here on: a signal while the lab is built is handled
    // once it is, by taking it down.
    let signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .map_err(|e| environment(format!("vnetd ci: cannot watch signals: {e}")))?;
    let plan = crate::plan::Plan::derive(&topology);
    say(&format!(
        "vnetd ci: building the lab of {}: {} ports, {} expectations\n",
        topology.source,
        plan.ports.len(),
        topology.expectations.len()
    ))?;
    report.at("building the lab");
    let daemon = Arc::new(
        Daemon::start(topology.clone(), &options)
            .map_err(|e| environment(format!("vnetd ci: cannot start the lab: {e:#}")))?,
    );
    say(&format!(
        "vnetd ci: lab up after {:.1} s; waiting for it to converge (at most {} s)\n",
        started.elapsed().as_secs_f64(),
        args.converge_timeout
    ))?;
    let teardown = Arc::new(Teardown {
        daemon: daemon.clone(),
        socket: socket.to_path_buf(),
        done: Mutex::new(false),
    });
    let finished = Arc::new(AtomicBool::new(false));
    watchdog(
        signals,
        teardown.clone(),
        report.clone(),
        finished.clone(),
        deadline,
        Duration::from_secs(args.timeout),
    );
    let tested = test(args, &topology, &daemon, socket, started, report);
    finished.store(true, Ordering::Release);
    report.at("removing the lab");
    teardown.run();
    let (verified, converged) = tested?;
    let results: Vec<ExpectationResult> = verified.iter().map(|v| v.result.clone()).collect();
    // The flow logs' last records are written as the lab stops.
    let logs = flow_log_tuples(&args.artifacts.join("flow-logs"));
    for failed in results.iter().filter(|r| !r.passed && r.skipped.is_none()) {
        let lines = failure_tuples(&topology, failed, &logs);
        let file = args
            .artifacts
            .join(folder_name(&failed.name))
            .join("flow-log.txt");
        if !lines.is_empty() && std::fs::write(&file, lines).is_err() {
            say_err(&format!("vnetd ci: cannot write {}\n", file.display()));
        }
    }
    let failed = failed_expectations(&topology.source, &results);
    say(&format!(
        "vnetd ci: {} passed, {} failed, in {:.1} s{}; lab removed; artifacts in {}\n",
        results.len() - failed.len(),
        failed.len(),
        started.elapsed().as_secs_f64(),
        if converged { "" } else { " (not converged)" },
        args.artifacts.display()
    ))?;
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::refused(failed.join("\n")))
    }
}

/// The run on the lab: convergence, the expectations, the reports and the
/// evidence. The results, and whether the lab converged.
fn test(
    args: &CiArgs,
    topology: &Topology,
    daemon: &Arc<Daemon>,
    socket: &Path,
    started: Instant,
    run: &RunReport,
) -> Result<(Vec<Verified>, bool), Failure> {
    run.at("waiting for the lab to converge");
    let _server = ControlServer::start(socket, daemon.clone()).map_err(socket_unusable(socket))?;
    let fabric = ControlSocket(client::Client::new(socket));
    let print = |line: &str| {
        let _ = say(line);
    };
    let converged = match converge::wait_converged(
        &fabric.0,
        Duration::from_secs(args.converge_timeout),
        &print,
    ) {
        Ok((state, _)) => {
            print(&converge::converged_line(
                &state,
                started.elapsed(),
                "after start",
            ));
            true
        }
        // Tested all the same: each failure says what was missing.
        Err(why) => {
            print(&format!(
                "vnetd ci: {}; testing anyway\n",
                converge::not_converged_message(&why, Duration::from_secs(args.converge_timeout))
            ));
            false
        }
    };
    let running = fabric
        .running_topology()
        .map_err(|e| environment(e.0))?
        .topology;
    let total = topology.expectations.len();
    let mut tested = 0;
    run.at(format!("testing the expectations: 0 of {total} tested"));
    let verified = verify::verify_each(topology, &running, &fabric, &mut |v| {
        tested += 1;
        run.at(format!(
            "testing the expectations: {tested} of {total} tested"
        ));
        let r = &v.result;
        let line = match (&r.skipped, r.passed) {
            (Some(why), _) => format!("  skip  {}: {why}\n", r.name),
            (None, true) => format!("  pass  {} ({:.1} s)\n", r.name, v.time.as_secs_f64()),
            (None, false) => format!("  FAIL  {}: {}\n", r.name, r.message),
        };
        print(&line);
    })
    .map_err(|e| environment(e.0))?;
    let results: Vec<ExpectationResult> = verified.iter().map(|v| v.result.clone()).collect();
    let report = expectations::render_results(&results, true)?;
    write(&args.artifacts.join("report.json"), &report)?;
    if args.junit.is_some() {
        let xml = verify::junit::junit_xml(&topology.source, &verified)
            .map_err(|e| environment(format!("vnetd ci: {e}")))?;
        run.results(&xml)?;
    }
    run.at("keeping the evidence of the failed expectations");
    for failed in results.iter().filter(|r| !r.passed && r.skipped.is_none()) {
        let dir = args.artifacts.join(folder_name(&failed.name));
        if let Err(e) = evidence(topology, &running, daemon, &fabric, failed, &dir) {
            print(&format!(
                "vnetd ci: evidence of {} incomplete: {}\n",
                failed.name, e.message
            ));
        }
    }
    Ok((verified, converged))
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text)
        .map_err(|e| environment(format!("vnetd ci: cannot write {}: {e}", path.display())))
}

/// A folder name for an expectation: its name with anything but letters,
/// digits, `-`, `_` and `.` made `_`.
fn folder_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// What the lab's control answers `request`, as `vnetd` prints it; the
/// refusal's words when it has no answer.
fn answered(daemon: &Daemon, request: Request) -> String {
    match printed(&control::answer(daemon, request), false) {
        Ok(text) => text,
        Err(f) => format!("{}\n", f.message),
    }
}

/// The evidence of the failed expectation `failed` in `dir`.
fn evidence(
    topology: &Topology,
    running: &Topology,
    daemon: &Daemon,
    fabric: &ControlSocket,
    failed: &ExpectationResult,
    dir: &Path,
) -> Result<(), Failure> {
    std::fs::create_dir_all(dir)
        .map_err(|e| environment(format!("vnetd ci: cannot create {}: {e}", dir.display())))?;
    write(&dir.join("result.txt"), &format!("{}\n", failed.message))?;
    let trace = Query::Trace {
        from: failed.from.clone(),
        to: failed.to.clone(),
        protocol: Some(failed.protocol.clone()),
        port: failed.port,
    };
    let query = Request::Diagnose {
        query: trace,
        json: false,
    };
    write(&dir.join("trace.txt"), &answered(daemon, query))?;
    let flows = Request::Flows {
        nic: Some(failed.from.clone()),
    };
    write(&dir.join("flows.txt"), &answered(daemon, flows))?;
    write(&dir.join("stats.txt"), &answered(daemon, Request::Stats))?;
    let bgp: String = running
        .gateways
        .iter()
        .map(|g| {
            let status = Request::BgpPeerStatus {
                gateway: g.name.clone(),
            };
            format!("gateway {}:\n{}\n", g.name, answered(daemon, status))
        })
        .collect();
    if !bgp.is_empty() {
        write(&dir.join("bgp.txt"), &bgp)?;
    }
    capture_again(topology, running, fabric, failed, dir)
}

/// Captures each end of the failed expectation that is a port of the lab
/// (its source, and its destination when it is one: a NIC, the Internet)
/// as pcapng into `dir/capture-PORT.pcapng`, while its probe is sent again.
fn capture_again(
    topology: &Topology,
    running: &Topology,
    fabric: &ControlSocket,
    failed: &ExpectationResult,
    dir: &Path,
) -> Result<(), Failure> {
    let plan = crate::plan::Plan::derive(running);
    let by_address = |end: &str| {
        let address: std::net::IpAddr = end.parse().ok()?;
        plan.ports
            .iter_enumerated()
            .find(|(_, p)| p.ip_configurations.iter().any(|c| c.address == address))
            .map(|(i, _)| i)
    };
    let mut ends: Vec<crate::plan::PortIdx> = Vec::new();
    for end in [&failed.from, &failed.to] {
        let found = plan.port_by_name(end).or_else(|| by_address(end));
        if let Some(port) = found.filter(|p| !ends.contains(p)) {
            ends.push(port);
        }
    }
    if ends.is_empty() {
        return Err(environment(format!(
            "neither {} nor {} is a port of the lab: no capture",
            failed.from, failed.to
        )));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for port in ends {
        let port = &plan.ports[port];
        let capture = CaptureSocket::open(&port.netns, &port.interface, None, &stop)
            .map_err(|e| environment(format!("capture on {}: {e:#}", port.name)))?;
        let file = dir.join(format!("capture-{}.pcapng", folder_name(&port.name)));
        let out = std::fs::File::create(&file)
            .map_err(|e| environment(format!("cannot create {}: {e}", file.display())))?;
        let (description, interface, name) = (
            port.capture_description(running),
            port.interface.clone(),
            port.name.clone(),
        );
        let writer_stop = stop.clone();
        writers.push(std::thread::spawn(move || {
            let limit = CaptureLimit {
                packets: None,
                duration: None,
            };
            let out = std::io::BufWriter::new(out);
            let written = capture.write_pcapng(
                &mut vec![0u8; SNAPLEN],
                out,
                &interface,
                &description,
                limit,
                &writer_stop,
            );
            written
                .map(|_| ())
                .map_err(|e| format!("capture on {name}: {e:#}"))
        }));
    }
    let mut again = topology.clone();
    again.expectations.retain(|e| e.name == failed.name);
    let probed = verify::verify(&again, running, fabric);
    std::thread::sleep(CAPTURE_TAIL);
    stop.store(true, Ordering::Release);
    for writer in writers {
        writer
            .join()
            .map_err(|_| environment("a capture's writer panicked"))?
            .map_err(environment)?;
    }
    probed.map_err(|e| environment(format!("probing again: {}", e.0)))?;
    Ok(())
}

/// Every flow tuple of the NSG flow logs under `dir`, with the rule it is
/// listed under: `(rule, tuple)`.
fn flow_log_tuples(dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    let mut tuples = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let Ok(log) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let records = log["records"].as_array().into_iter().flatten();
        for rule in records.flat_map(|r| r["properties"]["flows"].as_array().into_iter().flatten())
        {
            let name = rule["rule"].as_str().unwrap_or_default();
            let lists = rule["flows"].as_array().into_iter().flatten();
            for tuple in lists.flat_map(|f| f["flowTuples"].as_array().into_iter().flatten()) {
                if let Some(t) = tuple.as_str() {
                    tuples.push((name.to_string(), t.to_string()));
                }
            }
        }
    }
    tuples
}

/// The flow-log lines of a failed expectation's two ends, either way:
/// `rule: tuple` per line.
fn failure_tuples(
    topology: &Topology,
    failed: &ExpectationResult,
    logs: &[(String, String)],
) -> String {
    let address = |end: &str| -> Option<std::net::IpAddr> {
        end.parse().ok().or_else(|| {
            let nic = topology.nic_by_name(end)?;
            topology.nics[nic]
                .ip_configurations
                .first()
                .map(|c| c.address)
        })
    };
    let (Some(from), Some(to)) = (address(&failed.from), address(&failed.to)) else {
        return String::new();
    };
    // A tuple: time, source, destination, source port, destination port,
    // protocol, direction, decision...
    let of_the_flow = |t: &str| {
        let fields: Vec<&str> = t.split(',').collect();
        let (Some(src), Some(dst)) = (fields.get(1), fields.get(2)) else {
            return false;
        };
        let port = |i: usize| fields.get(i).and_then(|p| p.parse::<u16>().ok());
        let (from, to) = (from.to_string(), to.to_string());
        match (*src == from && *dst == to, *src == to && *dst == from) {
            (true, _) => failed.port.is_none_or(|p| port(4) == Some(p)),
            (_, true) => failed.port.is_none_or(|p| port(3) == Some(p)),
            _ => false,
        }
    };
    logs.iter()
        .filter(|(_, t)| of_the_flow(t))
        .map(|(rule, t)| format!("{rule}: {t}\n"))
        .collect()
}
