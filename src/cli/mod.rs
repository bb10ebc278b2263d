//! The command line of `vnetd`. Exit codes: 0 success, 1 refused input (an
//! invalid topology, an unknown NIC, an address outside the topology), 2
//! usage errors, 3 an answer vnetd cannot know (`resolve` for a NIC that
//! asks custom DNS servers).
//!
//! It owns argument parsing, the lab's life as a process and the mapping
//! of errors to exit codes; it may use every layer, and no layer uses it.
//!
//! The rooms: [`args`] is what clap reads, [`lab`] runs and removes labs,
//! [`log`] writes the daemon's log (levels, spans, text or JSON),
//! `converge` reports and waits for the lab's convergence,
//! `capture` writes what crosses a port as pcapng,
//! [`failure`] turns the errors below into exit codes, `render` prints the
//! running lab's typed answers, `loading` reads a lab file for a command
//! (its warnings said, its refusal turned into an exit code) and `output`
//! writes to stdout and stderr; this module dispatches the commands and
//! answers the short ones, using them all, and none of them uses it.

pub mod args;
mod capture;
mod ci;
mod ci_report;
mod converge;
pub mod failure;
mod guardian;
pub mod lab;
mod loading;
pub mod log;
mod manual;
mod output;
pub mod render;

pub use args::{
    AllowEmpty, CircuitCommand, Cli, Command, DirectionArg, GatewayCommand, ImportCommand,
    LbCommand, ProtocolArg, RouteServerCommand, Source,
};
pub use failure::Failure;
pub use lab::BUILTIN_LAB;

use crate::api::{client, Request};
use crate::diagnostics::{expectations, Query};
use crate::graph::GraphFormat;
use crate::policy::bgp::expected_learned;
use crate::snapshot::Snapshot;
use crate::topology::{self, ParseOptions};
use clap::Parser;
use lab::{down, run_lab};
use loading::{
    failed_expectations, load, load_with_text, refuse_forwarding_loops, refuse_invalid,
    refuse_unknown_reasons, render_diagnostics,
};
use output::{say, say_err};
use std::path::Path;
use std::process::ExitCode;

pub fn main() -> ExitCode {
    // The guardian a `vnetd ci` run starts is not a command of the CLI:
    // `vnetd ci-guardian ARGS`, read by its own parser.
    let outcome = if std::env::args_os().nth(1).as_deref() == Some(guardian::COMMAND.as_ref()) {
        let args = <args::GuardianArgs as clap::Parser>::parse_from(std::env::args_os().skip(1));
        guardian::guard(&args)
    } else {
        let cli = Cli::parse();
        log::init(cli.log_format).and_then(|()| run(cli))
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                say_err(&format!("{}\n", f.message.trim_end()));
            }
            ExitCode::from(f.code)
        }
    }
}

pub fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Run(args) => run_lab(args),
        Command::Down { config, host } => down(config.as_deref(), host.as_deref()),
        Command::Wait { timeout } => wait(std::time::Duration::from_secs(timeout)),
        Command::Completions { shell } => manual::completions(shell),
        Command::Man { dir } => manual::man_pages(dir.as_deref()),
        Command::Ci(args) => ci::ci(args),
        Command::Check {
            config,
            empty,
            json,
            strict,
        } => check(&config, empty.options(), json, strict),
        Command::Trace {
            from,
            to,
            protocol,
            port,
            source,
        } => diagnose(
            Query::Trace {
                from,
                to,
                protocol,
                port,
            },
            &source,
        ),
        Command::Verify {
            config,
            junit,
            json,
            wait,
        } => verify(
            config.as_deref(),
            junit.as_deref(),
            json,
            wait.map(std::time::Duration::from_secs),
        ),
        Command::Gateway { what } => match what {
            GatewayCommand::LearnedRoutes { gateway, source } => {
                diagnose(Query::GatewayLearnedRoutes { gateway }, &source)
            }
            GatewayCommand::AdvertisedRoutes {
                gateway,
                peer,
                source,
            } => diagnose(Query::GatewayAdvertisedRoutes { gateway, peer }, &source),
            GatewayCommand::BgpPeerStatus { gateway, source } => match source.config {
                Some(_) => diagnose(Query::GatewayBgpPeerStatus { gateway }, &source),
                None => online(&Request::BgpPeerStatus { gateway }, source.json),
            },
        },
        Command::RouteServer { what } => route_server(what),
        Command::Circuit {
            what:
                CircuitCommand::Routes {
                    circuit,
                    path,
                    source,
                },
        } => diagnose(Query::CircuitRoutes { circuit, path }, &source),
        Command::Lb {
            what:
                LbCommand::Show {
                    load_balancer,
                    json,
                },
        } => online(&Request::LbShow { load_balancer }, json),
        Command::Netns { nic, config } => lab::print_netns(&nic, config.as_deref()),
        Command::Capture {
            nic,
            filter,
            write,
            count,
            seconds,
        } => capture::capture(&capture::CaptureArgs {
            nic: &nic,
            filter: filter.as_deref(),
            write: write.as_deref(),
            count,
            seconds,
        }),
        Command::Graph { config, format } => graph(&config, format),
        Command::Apply {
            config,
            empty,
            no_wait,
        } => apply(&config, empty.options(), !no_wait),
        Command::Flows { nic, json } => online(&Request::Flows { nic }, json),
        Command::Stats { json } => online(&Request::Stats, json),
        Command::Routes {
            hub: Some(hub),
            table,
            source,
            ..
        } => diagnose(Query::HubRoutes { hub, table }, &source),
        Command::Routes {
            nic,
            subnet,
            source,
            ..
        } => diagnose(Query::Routes { nic, subnet }, &source),
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
        Command::Resolve {
            nic,
            name,
            record_type,
            config,
            json,
        } => match config {
            Some(config) => resolve(&config, &nic, &name, &record_type, json),
            None => online(
                &Request::Diagnose {
                    query: Query::Resolve {
                        nic,
                        name,
                        record_type,
                    },
                    json,
                },
                json,
            ),
        },
        Command::Import { what } => import(what),
    }
}

/// Prints the topology file written from the input; a problem with the
/// input is refused (exit 1) as `file:line: message`, the file named from
/// the working directory.
fn import(what: ImportCommand) -> Result<(), Failure> {
    use crate::import::{az, tfstate, topology_yaml, ImportError, Resource};
    // State and az input: a problem's location is a file (with the path
    // of the value inside it) or a resource ID.
    let written = |resources: Result<Vec<Resource>, ImportError>, origin: &str| {
        let text = resources
            .and_then(|resources| topology_yaml(&resources, origin))
            .map_err(|e| Failure::refused(e.to_string()))?;
        say(&text)
    };
    match what {
        ImportCommand::Terraform { dir, vars } => {
            let text = crate::import::terraform_topology(&dir, &vars).map_err(|e| {
                let file = e.location.split(':').next().unwrap_or_default();
                let location = if !file.is_empty() && dir.join(file).symlink_metadata().is_ok() {
                    dir.join(&e.location).display().to_string()
                } else {
                    e.location
                };
                Failure::refused(format!("{location}: {}", e.message))
            })?;
            say(&text)
        }
        ImportCommand::Tfstate { file } => written(
            tfstate::read(&file),
            &format!("the Terraform state {}", file.display()),
        ),
        ImportCommand::Az { dir } => {
            let text = az::topology(&dir, &format!("the az output in {}", dir.display()))
                .map_err(|e| Failure::refused(e.to_string()))?;
            say(&text)
        }
    }
}

/// `vnetd route-server ...`: from `--config`, or else from the running
/// daemon (what the instances advertise from their speakers).
fn route_server(what: RouteServerCommand) -> Result<(), Failure> {
    match what {
        RouteServerCommand::LearnedRoutes {
            route_server,
            peer,
            source,
        } => diagnose(
            Query::RouteServerLearnedRoutes { route_server, peer },
            &source,
        ),
        RouteServerCommand::AdvertisedRoutes {
            route_server,
            peer,
            source,
        } => diagnose(
            Query::RouteServerAdvertisedRoutes { route_server, peer },
            &source,
        ),
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
        None => online(
            &Request::Diagnose {
                query,
                json: source.json,
            },
            source.json,
        ),
    }
}

/// The exit code of an answer vnetd cannot know: `resolve` for a NIC that
/// asks custom DNS servers (the answer is theirs).
pub const EXIT_UNDECIDED: u8 = 3;

/// `vnetd resolve`: Azure DNS's answer from the file, with its chain; exit
/// [`EXIT_UNDECIDED`] after printing when the NIC asks other servers.
fn resolve(
    config: &Path,
    nic: &str,
    name: &str,
    record_type: &str,
    json: bool,
) -> Result<(), Failure> {
    use crate::diagnostics::names;
    let query_type = names::parse_query_type(record_type)?;
    let loaded = load(config, ParseOptions::default())?;
    let answer = names::resolve_offline(&loaded, nic, name, query_type)?;
    say(&names::render_resolution(&answer, json)?)?;
    if answer.decided() {
        return Ok(());
    }
    Err(Failure {
        code: EXIT_UNDECIDED,
        message: String::new(),
    })
}

/// Sends a request to the running daemon and prints its answer, as a
/// table or (`json`) as JSON, and on stderr the faults the daemon met
/// while answering (in the JSON too).
fn online(req: &Request, json: bool) -> Result<(), Failure> {
    let response = client::request(&client::socket_path(), req)?;
    let printed = render::printed(&response, json)?;
    say_err(&render::warning_lines(&response));
    say(&printed)
}

fn apply(path: &Path, options: ParseOptions, wait: bool) -> Result<(), Failure> {
    // The same refusals as `vnetd check`, before bothering the daemon.
    let text = topology::read_file(path).map_err(|d| Failure::refused(render_diagnostics(&[d])))?;
    refuse_invalid(
        path,
        crate::plan::parse_str_with(&path.display().to_string(), &text, options),
    )?;
    online(
        &Request::Apply {
            source: path.display().to_string(),
            text,
            allow_empty: options.allow_empty,
        },
        false,
    )?;
    if !wait {
        return Ok(());
    }
    // The apply holds whatever comes of the wait: a lab that has not
    // converged by then is said on stderr, exit 0.
    let print = |line: &str| {
        let _ = say(line);
    };
    match converge::wait_converged(&client::Client::from_env(), APPLY_WAIT, &print) {
        Ok((state, waited)) => say(&converge::converged_line(&state, waited, "after the apply")),
        Err(why) => {
            say_err(&format!(
                "vnetd apply: {}\n",
                converge::not_converged_message(&why, APPLY_WAIT)
            ));
            Ok(())
        }
    }
}

/// `vnetd wait`: until the running lab has converged, at most `timeout`.
fn wait(timeout: std::time::Duration) -> Result<(), Failure> {
    let print = |line: &str| {
        let _ = say(line);
    };
    match converge::wait_converged(&client::Client::from_env(), timeout, &print) {
        Ok((state, waited)) => say(&converge::converged_line(&state, waited, "of waiting")),
        Err(why) => Err(Failure::refused(format!(
            "vnetd wait: {}",
            converge::not_converged_message(&why, timeout)
        ))),
    }
}

/// How long `vnetd apply` waits for the lab to converge.
const APPLY_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// `vnetd check`: the file's errors, or its summary and its expectations
/// on the compiled tables; exit 1 for a failed one, and with `strict` for
/// one only a running lab can decide (else a note each on stderr).
fn check(path: &Path, options: ParseOptions, json: bool, strict: bool) -> Result<(), Failure> {
    let loaded = load(path, options)?;
    let t = &loaded.topology;
    refuse_unknown_reasons(t)?;
    refuse_forwarding_loops(t)?;
    // A lab `run` would refuse whatever the machine: an error.
    let too_large = crate::daemon::options::lab_size_errors(t, &crate::plan::Plan::derive(t));
    if !too_large.is_empty() {
        return Err(Failure::refused(render_diagnostics(&too_large)));
    }
    // The file is valid; that `run` would refuse it on this machine is a
    // warning.
    let mut missing = crate::daemon::changing::hybrid::missing_routing(
        t,
        &crate::host::routing::ProgramSearch::from_env(),
    );
    for diagnostic in &mut missing {
        diagnostic.severity = topology::Severity::Warning;
    }
    say_err(&render_diagnostics(&missing));
    if !json {
        say(&summary(path, t))?;
        say(&placement_summary(t))?;
        say(&network_manager_summary(t))?;
    }
    if t.expectations.is_empty() && !json {
        return Ok(());
    }
    // The tables the daemon would forward with once its BGP sessions are up.
    let learned = expected_learned(&loaded.topology);
    let snap = Snapshot::compile_learned(loaded.topology, learned, 0);
    let results = expectations::evaluate(&snap);
    say(&expectations::render_results(&results, json)?)?;
    let source = path.display().to_string();
    let mut failed = failed_expectations(&source, &results);
    for r in &results {
        let Some(why) = &r.live_only else { continue };
        if strict {
            failed.push(format!(
                "{source}: expectation `{}` is live only, which --strict refuses: {why}",
                r.name
            ));
        } else {
            say_err(&format!(
                "{source}: expectation `{}` is live only (`vnetd verify` and `vnetd ci` test \
                 it): {why}\n",
                r.name
            ));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::refused(failed.join("\n")))
    }
}

/// For a lab spread over machines, one line per host: what runs there.
fn placement_summary(t: &topology::Topology) -> String {
    let mut out = String::new();
    for (host, placed) in t.placement.hosts.iter_enumerated() {
        let vnets: Vec<&str> = t
            .vnets
            .iter_enumerated()
            .filter(|(v, _)| t.placement.vnet_host(*v) == host)
            .map(|(_, v)| v.name.as_str())
            .collect();
        let nics = t.nics.keys().filter(|n| t.nic_host(*n) == host).count();
        let sites: Vec<&str> = t
            .sites
            .iter_enumerated()
            .filter(|(s, _)| t.placement.site_host(*s) == host)
            .map(|(_, s)| s.name.as_str())
            .collect();
        let list = |names: &[&str]| match names {
            [] => "none".to_string(),
            names => names.join(", "),
        };
        out.push_str(&format!(
            "host {} ({}): VNets {}; {nics} NICs; sites {}\n",
            placed.name,
            placed.underlay_address,
            list(&vnets),
            list(&sites)
        ));
    }
    out
}

/// One line per network group with the VNets it holds, and one per
/// connected group: what Virtual Network Manager puts in place.
fn network_manager_summary(t: &topology::Topology) -> String {
    let m = &t.network_management;
    let names = |vnets: &[topology::VnetIdx]| match vnets {
        [] => "no VNet".to_string(),
        vnets => (vnets.iter())
            .map(|&v| t.vnets[v].name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    };
    let mut out = String::new();
    for g in &m.groups {
        out.push_str(&format!(
            "network group {}/{}: {}\n",
            g.manager,
            g.name,
            names(&g.members)
        ));
    }
    for g in &m.connected_groups {
        out.push_str(&format!(
            "connected group of {}{}: {}\n",
            g.configuration,
            if g.global { " (global)" } else { "" },
            names(&g.members)
        ));
    }
    out
}

/// The first line of `check`: what the file declares.
fn summary(path: &Path, t: &topology::Topology) -> String {
    format!(
        "{}: ok ({} VNets, {} peering links, {} NICs, {} route tables, {} NSGs{}{}{}{}{})\n",
        path.display(),
        t.vnets.len(),
        t.peerings.len(),
        t.nics.len(),
        t.route_tables.len(),
        t.nsgs.len(),
        if t.is_hybrid() {
            format!(
                ", {} gateways, {} connections, {} on-premises sites",
                t.gateways.len(),
                t.connections.len(),
                t.sites.len()
            ) + &if t.circuits.is_empty() {
                String::new()
            } else {
                format!(", {} ExpressRoute circuits", t.circuits.len())
            }
        } else {
            String::new()
        },
        if t.load_balancers.is_empty() {
            String::new()
        } else {
            format!(", {} load balancers", t.load_balancers.len())
        },
        match t.firewalls.len() {
            0 => String::new(),
            n => {
                let fws: Vec<String> = (t.firewalls.iter())
                    .map(|f| format!("{} at {}", f.name, f.private_ip))
                    .collect();
                format!(", {n} Azure Firewalls ({})", fws.join(", "))
            }
        },
        names_summary(t),
        if t.expectations.is_empty() {
            String::new()
        } else {
            format!(", {} expectations", t.expectations.len())
        }
    )
}

/// What `check`'s first line says of names: zones, endpoints, resolvers.
fn names_summary(t: &topology::Topology) -> String {
    let parts: Vec<String> = [
        (t.private_dns_zones.len(), "Private DNS zones"),
        (t.private_endpoints.len(), "Private Endpoints"),
        (t.dns_resolvers.len(), "DNS Private Resolvers"),
        (t.forwarding_rulesets.len(), "forwarding rulesets"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!(", {n} {what}"))
    .collect();
    parts.concat()
}

/// `vnetd verify`: the expectations of CONFIG, or of the running lab's
/// own topology, tested on the running lab; exit 1 when one fails.
fn verify(
    config: Option<&Path>,
    junit: Option<&Path>,
    json: bool,
    wait: Option<std::time::Duration>,
) -> Result<(), Failure> {
    use crate::verify::{self, ControlSocket};
    let file = config
        .map(|path| load(path, ParseOptions::default()))
        .transpose()?;
    let daemon = ControlSocket(client::Client::from_env());
    if let Some(timeout) = wait {
        // Progress on stderr: stdout is the results' (JSON with --json).
        let print = |line: &str| say_err(line);
        match converge::wait_converged(&daemon.0, timeout, &print) {
            Ok((state, waited)) => say_err(&converge::converged_line(&state, waited, "of waiting")),
            Err(why) => {
                return Err(Failure::refused(format!(
                    "vnetd verify: {}; no expectation was tested",
                    converge::not_converged_message(&why, timeout)
                )))
            }
        }
    }
    let running = daemon
        .running_topology()
        .map_err(|e| Failure::refused(e.0))?
        .topology;
    let topology = match &file {
        Some(file) => {
            verify::same_namespaces(&file.topology, &running).map_err(|e| Failure::refused(e.0))?;
            &file.topology
        }
        None => &running,
    };
    // A reason no drop has is refused as `check` refuses it.
    refuse_unknown_reasons(topology)?;
    if topology.expectations.is_empty() {
        say_err(&format!(
            "vnetd verify: {} has no expectations\n",
            topology.source
        ));
    }
    let verified =
        verify::verify(topology, &running, &daemon).map_err(|e| Failure::refused(e.0))?;
    if let Some(path) = junit {
        let xml =
            verify::junit::junit_xml(&topology.source, &verified).map_err(Failure::refused)?;
        verify::junit::write_whole(path, &xml)
            .map_err(|e| Failure::refused(format!("cannot write {}: {e}", path.display())))?;
    }
    let results: Vec<_> = verified.into_iter().map(|v| v.result).collect();
    say(&expectations::render_results(&results, json)?)?;
    let failed = failed_expectations(&topology.source, &results);
    if failed.is_empty() {
        Ok(())
    } else {
        if let Ok(state) = daemon.0.convergence() {
            if !state.converged {
                say_err(&format!(
                    "vnetd verify: the lab has not converged ({}): {}; `vnetd verify --wait` \
                     waits for it\n",
                    state.progress(),
                    state.missing()
                ));
            }
        }
        Err(Failure::refused(failed.join("\n")))
    }
}

fn graph(path: &Path, format: GraphFormat) -> Result<(), Failure> {
    let loaded = load(path, ParseOptions::default())?;
    // The tables a running lab would draw, learned routes included.
    let learned = expected_learned(&loaded.topology);
    let snapshot = crate::snapshot::Snapshot::compile_learned(loaded.topology, learned, 0);
    let picture = crate::graph::render(&snapshot, format);
    say(&picture)
}
