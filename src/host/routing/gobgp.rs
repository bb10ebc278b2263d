//! A gobgpd BGP speaker in a namespace, with import and export policies.
//!
//! [`GobgpSpeaker::start`] writes a TOML configuration and starts gobgpd
//! in the foreground inside the namespace, its gRPC API on
//! `127.0.0.1:50051` of that namespace (each namespace has its own
//! loopback, so instances never collide). Everything else goes through the
//! `gobgp` client run inside the namespace with `-j`, parsed as JSON.
//!
//! Policies are global (gobgpd applies per-neighbour policies to
//! route-server clients only), so they apply to every neighbour:
//!
//! - import: routes learned from a neighbor whose prefix is exactly one of
//!   `reject_exact` are refused; everything else is accepted (gobgpd
//!   applies the global import policy to the speaker's own routes too, so
//!   the policy names learned routes only).
//! - export: a route learned from a neighbor is never passed on if its
//!   prefix overlaps one of `export_deny_overlapping` (is inside it, or
//!   contains it) or is `0.0.0.0/0`; what the speaker originates is always
//!   advertised. "Contains" is spelt out as the exact supernets of each
//!   denied prefix, since gobgpd prefix sets only match more-specifics.
//!   Everything else, including routes learned from another eBGP
//!   neighbour (transit), is advertised, unless `pass_on_learned` is off:
//!   then no learned route is passed on at all (an ExpressRoute gateway
//!   carries nothing from one circuit to another).
//!
//! A neighbour may be met with its own `local_as` (gobgpd's per-neighbour
//! `local-as`): an ExpressRoute gateway instance presents Microsoft's edge
//! ASN, 12076, to a circuit's customer edge.
//!
//! Each neighbour has a prefix limit: past `max_prefixes` received routes,
//! gobgpd sends a Cease notification and keeps the session down (admin
//! state `PrefixLimit`) until [`GobgpSpeaker::enable_neighbor`]: gobgpd
//! 3.10 reads a prefix limit's `restart-timer` but never acts on it, so
//! whoever wants the session back asks for it.
//!
//! [`GobgpSpeaker::reap`] notices that gobgpd has exited (and reaps it);
//! [`GobgpSpeaker::restart`] starts it again from the same configuration
//! file and originates again what it originated.
//!
//! gobgpd logs policy errors and runs on without the policy, so `start`
//! checks the policies it reports before returning.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use ipnet::Ipv4Net;
use serde_json::Value;

use super::{
    create_run_dir, in_namespace, remove_files, run_checked, wait_for, Daemon, ProcessExit,
    ProcessStatus,
};

const CONFIG: &str = "gobgpd.toml";
const LOG: &str = "gobgpd.log";
const API_HOST: &str = "127.0.0.1";
const API_PORT: &str = "50051";
const IMPORT_POLICY: &str = "refuse-rejected";
const EXPORT_POLICY: &str = "deny-overlapping";
const NO_TRANSIT_POLICY: &str = "no-transit";

/// How long gobgpd gets to answer on its API.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A neighbour of a [`GobgpSpec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GobgpNeighbor {
    /// The neighbour's address.
    pub address: Ipv4Addr,
    /// The neighbour's AS number.
    pub asn: u32,
    /// eBGP multihop (TTL 255).
    pub multihop: bool,
    /// The AS number shown to this neighbour, when not the speaker's own.
    pub local_as: Option<u32>,
}

/// A gobgpd instance: its identity, neighbours, timers and policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GobgpSpec {
    /// The namespace it runs in.
    pub netns: String,
    /// The local AS number.
    pub asn: u32,
    /// The BGP router id.
    pub router_id: Ipv4Addr,
    /// The address it listens on and opens sessions from.
    pub local_address: Ipv4Addr,
    /// The neighbours.
    pub neighbors: Vec<GobgpNeighbor>,
    /// Keepalive interval offered, in seconds.
    pub keepalive_secs: u32,
    /// Hold time offered, in seconds.
    pub hold_secs: u32,
    /// Seconds between connection attempts.
    pub connect_retry_secs: u32,
    /// Routes a neighbour may send; one more drops its session.
    pub max_prefixes: u32,
    /// Import: these exact prefixes are refused.
    pub reject_exact: Vec<Ipv4Net>,
    /// Export: no prefix learned from a neighbor and overlapping any of
    /// these is passed on, nor a learned `0.0.0.0/0`; what the speaker
    /// originates itself is always advertised.
    pub export_deny_overlapping: Vec<Ipv4Net>,
    /// Export: routes learned from a neighbour are passed on to the others
    /// (off: only what the speaker originates is advertised).
    pub pass_on_learned: bool,
    /// Where the configuration and log go.
    pub run_dir: PathBuf,
}

impl GobgpSpec {
    /// A spec with the usual timers and limits (keepalive 60 s, hold 180 s,
    /// connect retry 2 s, 4000 prefixes) and no neighbours or policies.
    pub fn new(netns: &str, asn: u32, router_id: Ipv4Addr, run_dir: PathBuf) -> Self {
        Self {
            netns: netns.to_owned(),
            asn,
            router_id,
            local_address: router_id,
            neighbors: Vec::new(),
            keepalive_secs: 60,
            hold_secs: 180,
            connect_retry_secs: 2,
            max_prefixes: 4000,
            reject_exact: Vec::new(),
            export_deny_overlapping: Vec::new(),
            pass_on_learned: true,
            run_dir,
        }
    }
}

/// The BGP ORIGIN attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Igp,
    Egp,
    Incomplete,
}

/// A route received from a neighbour and accepted by the import policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnedPath {
    pub prefix: Ipv4Net,
    /// The neighbour it came from.
    pub neighbor: Ipv4Addr,
    pub next_hop: Ipv4Addr,
    /// The AS path, flattened (sets and sequences alike), nearest AS first.
    pub as_path: Vec<u32>,
    pub origin: Origin,
}

/// A route as advertised to one neighbour (after the export policy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvertisedPath {
    pub prefix: Ipv4Net,
    pub next_hop: Ipv4Addr,
    pub as_path: Vec<u32>,
    pub origin: Origin,
}

/// The state of one neighbour's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighborStatus {
    pub address: Ipv4Addr,
    pub asn: u32,
    /// `Idle`, `Connect`, `Active`, `OpenSent`, `OpenConfirm`,
    /// `Established` (or `Unknown`).
    pub state: String,
    /// `Up`, `Down` (shut down by an operator) or `PrefixLimit` (dropped
    /// for sending more than the maximum of prefixes).
    pub admin_state: String,
    /// How long the session has been established; `None` when it is not.
    pub uptime_secs: Option<u64>,
    /// Routes received in the session (before the import policy).
    pub routes_received: u64,
    /// Routes accepted by the import policy.
    pub routes_accepted: u64,
    pub messages_sent: u64,
    pub messages_received: u64,
}

/// A running gobgpd.
#[derive(Debug)]
pub struct GobgpSpeaker {
    spec: GobgpSpec,
    daemon: Daemon,
    /// What [`GobgpSpeaker::set_announced`] last made it originate: a
    /// restarted gobgpd is given it again (it lives in gobgpd's RIB, not
    /// in its configuration file).
    originated: Vec<Ipv4Net>,
}

/// The prefix-list entries (prefix, mask length range) that match every
/// prefix overlapping `denied`: its more-specifics and itself, and each of
/// its supernets exactly.
fn overlapping_entries(denied: Ipv4Net) -> Vec<(Ipv4Net, String)> {
    let len = denied.prefix_len();
    let mut entries = vec![(denied.trunc(), format!("{len}..32"))];
    for shorter in 0..len {
        let supernet = Ipv4Net::new(denied.addr(), shorter)
            .expect("a shorter length is valid")
            .trunc();
        entries.push((supernet, format!("{shorter}..{shorter}")));
    }
    entries
}

fn toml_prefix_set(out: &mut String, name: &str, entries: &[(Ipv4Net, String)]) {
    let _ = write!(
        out,
        "\n[[defined-sets.prefix-sets]]\n  prefix-set-name = \"{name}\"\n"
    );
    for (prefix, range) in entries {
        let _ = write!(
            out,
            "  [[defined-sets.prefix-sets.prefix-list]]\n    ip-prefix = \"{prefix}\"\n    masklength-range = \"{range}\"\n"
        );
    }
}

/// A policy rejecting the routes of `prefix_set`; with `learned_only`,
/// only routes learned from a neighbor (`route-type = external`), never
/// the ones this speaker originates.
fn toml_reject_policy(out: &mut String, policy: &str, prefix_set: &str, learned_only: bool) {
    // Statement names are global in gobgpd: derive them from the policy.
    let _ = write!(
        out,
        "\n[[policy-definitions]]\n  name = \"{policy}\"\n  \
         [[policy-definitions.statements]]\n    name = \"{policy}-reject\"\n    \
         [policy-definitions.statements.conditions.match-prefix-set]\n      \
         prefix-set = \"{prefix_set}\"\n      match-set-options = \"any\"\n"
    );
    if learned_only {
        out.push_str(
            "    [policy-definitions.statements.conditions.bgp-conditions]\n      \
             route-type = \"external\"\n",
        );
    }
    out.push_str(
        "    [policy-definitions.statements.actions]\n      route-disposition = \"reject-route\"\n",
    );
}

/// The gobgpd TOML configuration of `spec` (see the module documentation).
pub fn config(spec: &GobgpSpec) -> String {
    let mut out = String::from("# Written by vnetd.\n");
    let import_list = if spec.reject_exact.is_empty() {
        String::new()
    } else {
        format!("\"{IMPORT_POLICY}\"")
    };
    let _ = write!(
        out,
        "[global.config]\n  as = {asn}\n  router-id = \"{router_id}\"\n  \
         local-address-list = [\"{local}\"]\n\
         [global.apply-policy.config]\n  import-policy-list = [{import_list}]\n  \
         default-import-policy = \"accept-route\"\n  \
         export-policy-list = [{export_list}]\n  \
         default-export-policy = \"accept-route\"\n",
        export_list = if spec.pass_on_learned {
            format!("\"{EXPORT_POLICY}\"")
        } else {
            format!("\"{NO_TRANSIT_POLICY}\", \"{EXPORT_POLICY}\"")
        },
        asn = spec.asn,
        router_id = spec.router_id,
        local = spec.local_address,
    );
    for neighbor in &spec.neighbors {
        let _ = write!(
            out,
            "\n[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{address}\"\n    \
             peer-as = {asn}\n{local_as}  \
             [neighbors.timers.config]\n    connect-retry = {retry}\n    hold-time = {hold}\n    \
             keepalive-interval = {keepalive}\n  \
             [neighbors.transport.config]\n    local-address = \"{local}\"\n",
            address = neighbor.address,
            asn = neighbor.asn,
            local_as = neighbor
                .local_as
                .map_or(String::new(), |a| format!("    local-as = {a}\n")),
            retry = spec.connect_retry_secs,
            hold = spec.hold_secs,
            keepalive = spec.keepalive_secs,
            local = spec.local_address,
        );
        if neighbor.multihop {
            out.push_str(
                "  [neighbors.ebgp-multihop.config]\n    enabled = true\n    multihop-ttl = 255\n",
            );
        }
        let _ = write!(
            out,
            "  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      \
             afi-safi-name = \"ipv4-unicast\"\n    \
             [neighbors.afi-safis.prefix-limit.config]\n      max-prefixes = {max}\n",
            max = spec.max_prefixes,
        );
    }

    if !spec.reject_exact.is_empty() {
        let entries: Vec<(Ipv4Net, String)> = spec
            .reject_exact
            .iter()
            .map(|p| {
                let len = p.prefix_len();
                (p.trunc(), format!("{len}..{len}"))
            })
            .collect();
        toml_prefix_set(&mut out, "reject-exact", &entries);
        toml_reject_policy(&mut out, IMPORT_POLICY, "reject-exact", true);
    }

    let default_route = Ipv4Net::default();
    let mut deny: BTreeSet<(Ipv4Net, String)> = BTreeSet::new();
    deny.insert((default_route, "0..0".to_owned()));
    for denied in &spec.export_deny_overlapping {
        deny.extend(overlapping_entries(*denied));
    }
    let deny: Vec<_> = deny.into_iter().collect();
    toml_prefix_set(&mut out, "export-deny", &deny);
    toml_reject_policy(&mut out, EXPORT_POLICY, "export-deny", true);
    if !spec.pass_on_learned {
        let _ = write!(
            out,
            "\n[[policy-definitions]]\n  name = \"{NO_TRANSIT_POLICY}\"\n  \
             [[policy-definitions.statements]]\n    name = \"{NO_TRANSIT_POLICY}-reject\"\n    \
             [policy-definitions.statements.conditions.bgp-conditions]\n      \
             route-type = \"external\"\n    \
             [policy-definitions.statements.actions]\n      route-disposition = \"reject-route\"\n"
        );
    }
    out
}

fn parse_origin(value: u64) -> Result<Origin> {
    match value {
        0 => Ok(Origin::Igp),
        1 => Ok(Origin::Egp),
        2 => Ok(Origin::Incomplete),
        other => bail!("unknown ORIGIN {other}"),
    }
}

/// The attributes of a path in gobgp's JSON that these types carry.
struct PathAttributes {
    next_hop: Ipv4Addr,
    as_path: Vec<u32>,
    origin: Origin,
}

/// Reads `attrs` of one path of `gobgp -j ... rib`: type 1 ORIGIN
/// (`value`), type 2 AS_PATH (`as_paths[].asns[]`), type 3 NEXT_HOP
/// (`nexthop`) or type 14 MP_REACH_NLRI (`nexthop`).
fn parse_attributes(path: &Value) -> Result<PathAttributes> {
    let attrs = path["attrs"]
        .as_array()
        .ok_or_else(|| anyhow!("path without attrs: {path}"))?;
    let mut origin = None;
    let mut as_path = Vec::new();
    let mut next_hop = None;
    for attr in attrs {
        match attr["type"].as_u64() {
            Some(1) => {
                let value = attr["value"].as_u64().unwrap_or(0);
                origin = Some(parse_origin(value)?);
            }
            Some(2) => {
                for segment in attr["as_paths"].as_array().into_iter().flatten() {
                    for asn in segment["asns"].as_array().into_iter().flatten() {
                        let asn = asn
                            .as_u64()
                            .and_then(|asn| u32::try_from(asn).ok())
                            .ok_or_else(|| anyhow!("bad ASN in {attr}"))?;
                        as_path.push(asn);
                    }
                }
            }
            Some(3) | Some(14) => {
                if let Some(text) = attr["nexthop"].as_str() {
                    next_hop = Some(
                        text.parse()
                            .with_context(|| format!("next hop {text:?} of {path}"))?,
                    );
                }
            }
            _ => {}
        }
    }
    Ok(PathAttributes {
        next_hop: next_hop.ok_or_else(|| anyhow!("path without a next hop: {path}"))?,
        as_path,
        origin: origin.unwrap_or(Origin::Incomplete),
    })
}

/// Each path of a `gobgp -j ... rib` reply (an object of prefix to the
/// list of its paths), with its prefix.
fn rib_paths(rib: &Value) -> Result<Vec<(Ipv4Net, &Value)>> {
    let Some(destinations) = rib.as_object() else {
        bail!("a RIB reply is not an object: {rib}");
    };
    let mut out = Vec::new();
    for (prefix, paths) in destinations {
        let prefix: Ipv4Net = prefix
            .parse()
            .with_context(|| format!("prefix {prefix:?} of the RIB"))?;
        for path in paths.as_array().into_iter().flatten() {
            out.push((prefix, path));
        }
    }
    Ok(out)
}

/// Parses `gobgp -j global rib`: the paths with a `neighbor-ip` were
/// learned, the others are originated here.
pub fn parse_learned(rib: &Value) -> Result<Vec<LearnedPath>> {
    let mut out = Vec::new();
    for (prefix, path) in rib_paths(rib)? {
        let Some(neighbor) = path["neighbor-ip"].as_str() else {
            continue;
        };
        let Ok(neighbor) = neighbor.parse() else {
            continue;
        };
        let attrs = parse_attributes(path)?;
        out.push(LearnedPath {
            prefix,
            neighbor,
            next_hop: attrs.next_hop,
            as_path: attrs.as_path,
            origin: attrs.origin,
        });
    }
    Ok(out)
}

/// The prefixes originated here in a `gobgp -j global rib` reply.
pub fn parse_originated(rib: &Value) -> Result<Vec<Ipv4Net>> {
    let mut out: Vec<Ipv4Net> = rib_paths(rib)?
        .into_iter()
        .filter(|(_, path)| {
            path["neighbor-ip"]
                .as_str()
                .is_none_or(|ip| ip.parse::<Ipv4Addr>().is_err())
        })
        .map(|(prefix, _)| prefix)
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// Parses `gobgp -j neighbor N adj-out`.
pub fn parse_advertised(rib: &Value) -> Result<Vec<AdvertisedPath>> {
    rib_paths(rib)?
        .into_iter()
        .map(|(prefix, path)| {
            let attrs = parse_attributes(path)?;
            Ok(AdvertisedPath {
                prefix,
                next_hop: attrs.next_hop,
                as_path: attrs.as_path,
                origin: attrs.origin,
            })
        })
        .collect()
}

fn session_state_name(code: u64) -> &'static str {
    match code {
        1 => "Idle",
        2 => "Connect",
        3 => "Active",
        4 => "OpenSent",
        5 => "OpenConfirm",
        6 => "Established",
        _ => "Unknown",
    }
}

fn admin_state_name(code: u64) -> &'static str {
    match code {
        0 => "Up",
        1 => "Down",
        2 => "PrefixLimit",
        _ => "Unknown",
    }
}

/// Parses `gobgp -j neighbor` (a list of peers): `conf.neighbor_address`,
/// `conf.peer_asn`, `state.session_state` and `state.admin_state` (enum
/// numbers), `state.messages.{sent,received}.total`,
/// `timers.state.uptime.seconds` (the Unix time the session came up) and
/// `afi_safis[].state.{received,accepted}`. Absent numbers are 0 (gobgp
/// omits zero values).
pub fn parse_neighbors(peers: &Value, now_unix: u64) -> Result<Vec<NeighborStatus>> {
    if peers.is_null() {
        return Ok(Vec::new());
    }
    let Some(peers) = peers.as_array() else {
        bail!("the neighbour list is not a list: {peers}");
    };
    let number = |value: &Value| value.as_u64().unwrap_or(0);
    let mut out = Vec::new();
    for peer in peers {
        let address = peer["conf"]["neighbor_address"]
            .as_str()
            .ok_or_else(|| anyhow!("a neighbour without an address: {peer}"))?;
        let address = address
            .parse()
            .with_context(|| format!("neighbour address {address:?}"))?;
        let asn = u32::try_from(number(&peer["conf"]["peer_asn"])).context("peer ASN")?;
        let state = session_state_name(number(&peer["state"]["session_state"]));
        let uptime_secs = (state == "Established").then(|| {
            now_unix.saturating_sub(number(&peer["timers"]["state"]["uptime"]["seconds"]))
        });
        let (mut received, mut accepted) = (0, 0);
        for family in peer["afi_safis"].as_array().into_iter().flatten() {
            received += number(&family["state"]["received"]);
            accepted += number(&family["state"]["accepted"]);
        }
        out.push(NeighborStatus {
            address,
            asn,
            state: state.to_owned(),
            admin_state: admin_state_name(number(&peer["state"]["admin_state"])).to_owned(),
            uptime_secs,
            routes_received: received,
            routes_accepted: accepted,
            messages_sent: number(&peer["state"]["messages"]["sent"]["total"]),
            messages_received: number(&peer["state"]["messages"]["received"]["total"]),
        });
    }
    Ok(out)
}

impl GobgpSpeaker {
    /// Writes the configuration, starts gobgpd inside `spec.netns` (with
    /// `lo` up there, for the API) and returns once its API answers and
    /// its policies are in place.
    pub fn start(spec: GobgpSpec) -> Result<Self> {
        create_run_dir(&spec.run_dir)?;
        run_checked(Command::new("ip").args(["-n", &spec.netns, "link", "set", "lo", "up"]))?;
        let config_path = spec.run_dir.join(CONFIG);
        std::fs::write(&config_path, config(&spec))
            .with_context(|| format!("writing {}", config_path.display()))?;
        let args = vec![
            "-f".to_owned(),
            config_path.display().to_string(),
            "-t".to_owned(),
            "toml".to_owned(),
            "-p".to_owned(),
            "--pprof-disable".to_owned(),
            format!("--api-hosts={API_HOST}:{API_PORT}"),
        ];
        let daemon = Daemon::spawn(&spec.netns, "gobgpd", &args, &spec.run_dir.join(LOG))?;
        let mut speaker = Self {
            spec,
            daemon,
            originated: Vec::new(),
        };
        speaker.wait_ready()?;
        Ok(speaker)
    }

    /// Waits until gobgpd answers on its API with its policies in place.
    fn wait_ready(&mut self) -> Result<()> {
        wait_for(START_TIMEOUT, "gobgpd's API", || {
            self.daemon.check_running()?;
            Ok(self.gobgp(&["global"]).ok())
        })
        .with_context(|| format!("starting gobgpd in {}", self.spec.netns))?;
        self.check_policies()
            .with_context(|| format!("starting gobgpd in {}", self.spec.netns))
    }

    /// Reaps gobgpd if it has exited, and says how it ended.
    pub fn reap(&mut self) -> Option<ProcessExit> {
        self.daemon.reap()
    }

    /// Whether gobgpd runs (as far as the last [`GobgpSpeaker::reap`]
    /// saw).
    pub fn is_running(&self) -> bool {
        self.daemon.is_running()
    }

    /// gobgpd's pid, restarts and last exit.
    pub fn status(&self) -> ProcessStatus {
        self.daemon.status()
    }

    /// Starts gobgpd again in the same namespace from the same
    /// configuration file, and originates again what it originated
    /// before. On failure gobgpd is left stopped.
    pub fn restart(&mut self) -> Result<()> {
        self.daemon.respawn()?;
        let ready = self.wait_ready().and_then(|()| {
            let originated = self.originated.clone();
            self.set_announced(&originated)
                .with_context(|| format!("originating again from {}", self.spec.netns))
        });
        if ready.is_err() {
            self.daemon.kill();
        }
        ready
    }

    /// The spec it was started with.
    pub fn spec(&self) -> &GobgpSpec {
        &self.spec
    }

    /// gobgpd's process id.
    pub fn pid(&self) -> Option<u32> {
        self.daemon.pid()
    }

    /// Fails unless gobgpd holds the export (and import) policy: it runs on
    /// without a policy it could not create.
    fn check_policies(&self) -> Result<()> {
        let mut expected = vec![("export", EXPORT_POLICY)];
        if !self.spec.pass_on_learned {
            expected.push(("export", NO_TRANSIT_POLICY));
        }
        if !self.spec.reject_exact.is_empty() {
            expected.push(("import", IMPORT_POLICY));
        }
        for (direction, name) in expected {
            let reply = self.gobgp_json(&["global", "policy", direction])?;
            let present = reply["policies"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|policy| policy["name"] == name);
            if !present {
                let log = std::fs::read_to_string(self.spec.run_dir.join(LOG)).unwrap_or_default();
                bail!("gobgpd did not take its {direction} policy {name}; its log:\n{log}");
            }
        }
        Ok(())
    }

    /// Runs the `gobgp` client inside the namespace against this instance.
    pub fn gobgp(&self, args: &[&str]) -> Result<String> {
        run_checked(
            in_namespace(&self.spec.netns, "gobgp")
                .args(["-u", API_HOST, "-p", API_PORT])
                .args(args),
        )
    }

    /// Runs `gobgp -j ARGS` and parses its reply.
    fn gobgp_json(&self, args: &[&str]) -> Result<Value> {
        let mut full = vec!["-j"];
        full.extend_from_slice(args);
        let text = self.gobgp(&full)?;
        let text = text.trim();
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(text).with_context(|| format!("parsing gobgp's JSON: {text}"))
    }

    fn global_rib(&self) -> Result<Value> {
        let rib = self.gobgp_json(&["global", "rib", "-a", "ipv4"])?;
        Ok(if rib.is_null() {
            Value::Object(Default::default())
        } else {
            rib
        })
    }

    /// The prefixes originated here now.
    pub fn announced(&self) -> Result<Vec<Ipv4Net>> {
        parse_originated(&self.global_rib()?)
    }

    /// Makes the originated set exactly `prefixes`: adds the missing ones
    /// (origin IGP) and deletes the others.
    pub fn set_announced(&mut self, prefixes: &[Ipv4Net]) -> Result<()> {
        let wanted: BTreeSet<Ipv4Net> = prefixes.iter().map(|p| p.trunc()).collect();
        // Remembered first: a restart after a failure half-way still aims
        // at the wanted set.
        self.originated = wanted.iter().copied().collect();
        let current: BTreeSet<Ipv4Net> = self.announced()?.into_iter().collect();
        for extra in current.difference(&wanted) {
            self.gobgp(&["global", "rib", "del", "-a", "ipv4", &extra.to_string()])
                .with_context(|| format!("withdrawing {extra}"))?;
        }
        for missing in wanted.difference(&current) {
            let prefix = missing.to_string();
            self.gobgp(&[
                "global", "rib", "add", "-a", "ipv4", &prefix, "origin", "igp",
            ])
            .with_context(|| format!("announcing {prefix}"))?;
        }
        Ok(())
    }

    /// The routes received from neighbours and accepted by the import
    /// policy.
    pub fn learned(&self) -> Result<Vec<LearnedPath>> {
        parse_learned(&self.global_rib()?)
    }

    /// The routes advertised to `neighbor` (its adj-RIB-out).
    pub fn advertised(&self, neighbor: Ipv4Addr) -> Result<Vec<AdvertisedPath>> {
        let rib = self.gobgp_json(&["neighbor", &neighbor.to_string(), "adj-out", "-a", "ipv4"])?;
        if rib.is_null() {
            return Ok(Vec::new());
        }
        parse_advertised(&rib)
    }

    /// The state of every neighbour's session.
    pub fn neighbors(&self) -> Result<Vec<NeighborStatus>> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        parse_neighbors(&self.gobgp_json(&["neighbor"])?, now)
    }

    /// Lets the session with `neighbor` come up again: after an operator's
    /// shutdown, or after gobgpd dropped it for too many prefixes (gobgpd
    /// then keeps it down for good; it does not implement a restart
    /// timer).
    pub fn enable_neighbor(&self, neighbor: Ipv4Addr) -> Result<()> {
        self.gobgp(&["neighbor", &neighbor.to_string(), "enable"])
            .map(drop)
    }

    /// Kills gobgpd and removes its files.
    pub fn stop(mut self) -> Result<()> {
        self.daemon.kill();
        remove_files(&self.spec.run_dir, &[CONFIG, LOG]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> Ipv4Net {
        text.parse().expect("literal prefix")
    }

    #[test]
    fn overlap_covers_more_specifics_and_every_supernet() {
        let entries = overlapping_entries(net("10.50.1.0/24"));
        assert_eq!(entries.len(), 25);
        assert!(entries.contains(&(net("10.50.1.0/24"), "24..32".into())));
        assert!(entries.contains(&(net("10.50.0.0/16"), "16..16".into())));
        assert!(entries.contains(&(net("0.0.0.0/0"), "0..0".into())));
    }

    #[test]
    fn rib_json_is_read_into_learned_and_originated_paths() {
        let rib: Value = serde_json::from_str(
            r#"{"10.200.0.0/16":[{"nlri":{"prefix":"10.200.0.0/16"},"age":1,"best":true,
            "attrs":[{"type":1,"value":0},{"type":2,"as_paths":[{"segment_type":2,"num":1,"asns":[65010]}]},
            {"type":3,"nexthop":"10.77.0.2"}],"stale":false,"source-id":"10.77.0.2","neighbor-ip":"10.77.0.2"}],
            "172.16.0.0/16":[{"nlri":{"prefix":"172.16.0.0/16"},"age":1,"best":true,
            "attrs":[{"type":1,"value":2},{"type":3,"nexthop":"0.0.0.0"}],"stale":false}]}"#,
        )
        .expect("literal JSON");
        let learned = parse_learned(&rib).expect("parses");
        assert_eq!(
            learned,
            vec![LearnedPath {
                prefix: net("10.200.0.0/16"),
                neighbor: Ipv4Addr::new(10, 77, 0, 2),
                next_hop: Ipv4Addr::new(10, 77, 0, 2),
                as_path: vec![65010],
                origin: Origin::Igp,
            }]
        );
        assert_eq!(
            parse_originated(&rib).expect("parses"),
            vec![net("172.16.0.0/16")]
        );
    }

    #[test]
    fn neighbor_json_gives_state_uptime_and_counters() {
        let peers: Value = serde_json::from_str(
            r#"[{"conf":{"local_asn":65515,"neighbor_address":"10.77.0.2","peer_asn":65010},
            "state":{"messages":{"received":{"update":2,"total":4},"sent":{"total":3}},
            "session_state":6},"timers":{"state":{"uptime":{"seconds":1000}}},
            "afi_safis":[{"state":{"received":2,"accepted":1}}]},
            {"conf":{"neighbor_address":"10.77.0.3","peer_asn":65020},
            "state":{"session_state":1,"admin_state":2}}]"#,
        )
        .expect("literal JSON");
        let status = parse_neighbors(&peers, 1030).expect("parses");
        assert_eq!(status[0].state, "Established");
        assert_eq!(status[0].uptime_secs, Some(30));
        assert_eq!(status[0].routes_received, 2);
        assert_eq!(status[0].routes_accepted, 1);
        assert_eq!(
            (status[0].messages_sent, status[0].messages_received),
            (3, 4)
        );
        assert_eq!(status[1].state, "Idle");
        assert_eq!(status[1].admin_state, "PrefixLimit");
        assert_eq!(status[1].uptime_secs, None);
    }

    #[test]
    fn a_neighbour_met_as_another_as_and_no_transit_are_written() {
        let mut spec = GobgpSpec::new("n", 65515, Ipv4Addr::new(10, 0, 255, 228), "/x".into());
        spec.neighbors = vec![GobgpNeighbor {
            address: Ipv4Addr::new(172, 16, 0, 1),
            asn: 65020,
            multihop: true,
            local_as: Some(12076),
        }];
        let text = config(&spec);
        assert!(text.contains(
            "neighbor-address = \"172.16.0.1\"\n    peer-as = 65020\n    local-as = 12076\n"
        ));
        assert!(text.contains("export-policy-list = [\"deny-overlapping\"]"));
        assert!(!text.contains(NO_TRANSIT_POLICY));
        spec.pass_on_learned = false;
        let text = config(&spec);
        assert!(text.contains("export-policy-list = [\"no-transit\", \"deny-overlapping\"]"));
        assert!(text.contains(
            "name = \"no-transit-reject\"\n    \
             [policy-definitions.statements.conditions.bgp-conditions]\n      \
             route-type = \"external\"\n"
        ));
        // TOML allows a table once: local-as sits in the one
        // [neighbors.config] of the neighbour.
        assert_eq!(text.matches("[neighbors.config]").count(), 1);
    }

    #[test]
    fn the_config_always_denies_the_default_route_on_export() {
        let mut spec = GobgpSpec::new("n", 65515, Ipv4Addr::new(10, 77, 0, 1), "/x".into());
        let text = config(&spec);
        assert!(text.contains("ip-prefix = \"0.0.0.0/0\"\n    masklength-range = \"0..0\""));
        assert!(!text.contains(IMPORT_POLICY));
        spec.reject_exact = vec![net("10.200.0.0/16")];
        let text = config(&spec);
        assert!(text.contains("masklength-range = \"16..16\""));
        assert!(text.contains(&format!("import-policy-list = [\"{IMPORT_POLICY}\"]")));
    }
}
