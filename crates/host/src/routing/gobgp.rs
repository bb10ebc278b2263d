//! A gobgpd BGP speaker in a namespace, with import and export policies.
//!
//! [`GobgpSpeaker::start`] writes a TOML configuration and starts gobgpd
//! in the foreground inside the namespace, its gRPC API on
//! `127.0.0.1:50051` of that namespace (each namespace has its own
//! loopback, so instances never collide, and only root can enter the
//! namespace, where nothing else runs: no other local user reaches the
//! API; the host mesh's speaker, in the machine's own namespace, answers
//! on a root-only Unix socket instead, see [`vpn`]). Everything else goes through the
//! `gobgp` client run inside the namespace with `-j`, parsed as JSON.
//!
//! Policies are global (gobgpd applies per-neighbour policies to
//! route-server clients only), so they apply to every neighbour:
//!
//! - import: routes learned from a neighbor whose prefix is exactly one of
//!   `reject_exact`, or one of `reject_within` or inside it, are refused; everything else is accepted (gobgpd
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
//! - withhold: per neighbour, prefixes never sent to it (a global export
//!   statement matching a neighbour set, which gobgpd matches against the
//!   neighbour the route goes to).
//!
//! Between equally good paths from two eBGP neighbours gobgpd would keep
//! the older one; `external-compare-router-id` makes it take the lower
//! router ID instead, so the choice does not depend on timing.
//!
//! A neighbour may be met with its own `local_as` (gobgpd's per-neighbour
//! `local-as`), from its own local address, with private ASNs removed from
//! what it is sent (`remove-private-as = "all"`), or with the speaker's
//! own address as next hop (an export statement setting `next-hop =
//! self` for that neighbour: gobgpd keeps the next hop towards an iBGP
//! neighbour). `not_handed_on` rejects, towards a set of neighbours, the
//! routes whose next hop is one of a set of addresses (the routes learned
//! from those neighbours): Microsoft's edge passes only the customer's
//! routes to gateways and Global Reach peers.
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
//!
//! The timers and the prefix limit are the caller's ([`SessionLimits`]):
//! this driver knows no cloud's values.
//!
//! [`GobgpApi`] is a handle on one instance's API that needs no access to
//! the speaker (a watcher thread holds one); [`RibMonitor`] follows its
//! RIB as gobgp streams it (`gobgp monitor ... -j`, one JSON line per
//! change, read by [`json::parse_monitor_line`]).

mod announce;
mod config;
pub mod json;
mod monitor;
mod routes;
mod spec;
pub mod vpn;

pub use config::config;
use config::{export_policies, parse_prefix_sets, prefix_sets, IMPORT_POLICY};

pub use json::{
    parse_advertised, parse_learned, parse_monitor_line, parse_neighbors, parse_originated,
    RibChange,
};
pub use monitor::{MonitorLines, MonitoredTable, RibMonitor};
pub use routes::{AdvertisedPath, Announcement, LearnedPath, NeighborStatus, Origin};
pub use spec::{GobgpNeighbor, GobgpSpec, NotHandedOn, SessionLimits};

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use ipnet::Ipv4Net;
use serde_json::Value;

use super::commands::{in_namespace, run_checked, wait_for};
use super::daemon::{Daemon, ProcessExit, ProcessStatus};
use super::run_dir::{create_run_dir, remove_files};

const CONFIG: &str = "gobgpd.toml";
const LOG: &str = "gobgpd.log";
const API_HOST: &str = "127.0.0.1";
const API_PORT: &str = "50051";

/// How long gobgpd gets to answer on its API.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `b` can be given to a gobgpd started with `a` without a
/// restart: everything but the neighbours and the policies' contents is
/// the same, it listens on the same addresses, and the same export
/// policies apply (gobgpd takes new policy contents on SIGHUP, not a new
/// list of them).
pub fn same_identity(a: &GobgpSpec, b: &GobgpSpec) -> bool {
    a.netns == b.netns
        && a.asn == b.asn
        && a.router_id == b.router_id
        && config::local_addresses(a) == config::local_addresses(b)
        && export_policies(a) == export_policies(b)
        && a.keepalive_secs == b.keepalive_secs
        && a.hold_secs == b.hold_secs
        && a.connect_retry_secs == b.connect_retry_secs
        && a.max_prefixes == b.max_prefixes
        && a.run_dir == b.run_dir
}

/// A running gobgpd.
#[derive(Debug)]
pub struct GobgpSpeaker {
    spec: GobgpSpec,
    daemon: Daemon,
    /// What [`GobgpSpeaker::set_announcements`] last made it originate: a
    /// restarted gobgpd is given it again (it lives in gobgpd's RIB, not
    /// in its configuration file).
    originated: Vec<Announcement>,
}

/// Writes gobgpd's configuration `text` (TOML) to `config_path`, and
/// gives gobgpd's arguments: that file, no profiler, its API at
/// `api_hosts`.
fn gobgpd_args(config_path: &Path, text: &str, api_hosts: &str) -> Result<Vec<String>> {
    std::fs::write(config_path, text)
        .with_context(|| format!("writing {}", config_path.display()))?;
    Ok(vec![
        "-f".to_owned(),
        config_path.display().to_string(),
        "-t".to_owned(),
        "toml".to_owned(),
        "-p".to_owned(),
        "--pprof-disable".to_owned(),
        format!("--api-hosts={api_hosts}"),
    ])
}

impl GobgpSpeaker {
    /// Writes the configuration, starts gobgpd inside `spec.netns` (with
    /// `lo` up there, for the API) and returns once its API answers and
    /// its policies are in place.
    pub fn start(spec: GobgpSpec) -> Result<Self> {
        create_run_dir(&spec.run_dir)?;
        crate::netlink::set_link_up(&spec.netns, "lo")?;
        let config_path = spec.run_dir.join(CONFIG);
        let args = gobgpd_args(
            &config_path,
            &config(&spec),
            &format!("{API_HOST}:{API_PORT}"),
        )?;
        let daemon = Daemon::spawn(&spec.netns, "gobgpd", &args, &spec.run_dir.join(LOG))?;
        let mut speaker = Self {
            spec,
            daemon,
            originated: Vec::new(),
        };
        speaker.wait_ready()?;
        Ok(speaker)
    }

    /// Waits until gobgpd answers on its API, then until it holds its
    /// policies (it answers before reading them); one still missing at the
    /// deadline is an error, as gobgpd runs on without it.
    fn wait_ready(&mut self) -> Result<()> {
        wait_for(START_TIMEOUT, "gobgpd's API", || {
            self.daemon.check_running()?;
            Ok(self.gobgp(&["global"]).ok())
        })
        .with_context(|| format!("starting gobgpd in {}", self.spec.netns))?;
        let mut missing = Vec::new();
        let placed = wait_for(START_TIMEOUT, "gobgpd's policies", || {
            missing = self.missing_policies()?;
            Ok(missing.is_empty().then_some(()))
        });
        if placed.is_err() && !missing.is_empty() {
            let log = std::fs::read_to_string(self.spec.run_dir.join(LOG)).unwrap_or_default();
            bail!(
                "starting gobgpd in {}: gobgpd did not take its policies {}; its log:\n{log}",
                self.spec.netns,
                missing.join(", ")
            );
        }
        placed.with_context(|| format!("starting gobgpd in {}", self.spec.netns))
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
            self.set_announcements(&originated)
                .with_context(|| format!("originating again from {}", self.spec.netns))
        });
        if ready.is_err() {
            self.daemon.kill();
        }
        ready
    }

    /// Gives the running gobgpd a new spec of the same identity (namespace,
    /// AS, router id, address, timers and limits): neighbours added or
    /// removed, policies changed. gobgpd reads its file again on SIGHUP and
    /// applies the difference, so the sessions of neighbours that stay are
    /// not reset; their advertisements are sent again under the new export
    /// policies (a soft reset out). Returns once gobgpd holds exactly the
    /// new neighbours and prefix sets.
    pub fn reconfigure(&mut self, spec: GobgpSpec) -> Result<()> {
        anyhow::ensure!(
            same_identity(&self.spec, &spec),
            "gobgpd in {} cannot take a spec of another identity without a restart",
            self.spec.netns
        );
        let config_path = spec.run_dir.join(CONFIG);
        std::fs::write(&config_path, config(&spec))
            .with_context(|| format!("writing {}", config_path.display()))?;
        self.spec = spec;
        self.daemon.hang_up()?;
        let mut differs = String::new();
        let held = wait_for(START_TIMEOUT, "gobgpd's new configuration", || {
            self.daemon.check_running()?;
            differs = self.what_differs()?.unwrap_or_default();
            Ok(differs.is_empty().then_some(()))
        });
        held.with_context(|| format!("reconfiguring gobgpd in {}: {differs}", self.spec.netns))?;
        if !self.spec.neighbors.is_empty() {
            self.gobgp(&["neighbor", "all", "softresetout"])
                .with_context(|| format!("advertising again from {}", self.spec.netns))?;
        }
        Ok(())
    }

    /// What gobgpd holds otherwise than its spec says (neighbours,
    /// policies, prefix sets), in words; `None` when it holds exactly that.
    fn what_differs(&self) -> Result<Option<String>> {
        let wanted: BTreeSet<Ipv4Addr> = self.spec.neighbors.iter().map(|n| n.address).collect();
        let held: BTreeSet<Ipv4Addr> = self.neighbors()?.iter().map(|n| n.address).collect();
        if wanted != held {
            return Ok(Some(format!("neighbours {held:?}, not {wanted:?}")));
        }
        let missing = self.missing_policies()?;
        if !missing.is_empty() {
            return Ok(Some(format!("policies missing: {}", missing.join(", "))));
        }
        let held = parse_prefix_sets(&self.gobgp_json(&["policy", "prefix"])?);
        for (name, entries) in prefix_sets(&self.spec) {
            let entries: BTreeSet<_> = entries.into_iter().collect();
            if !held.iter().any(|(n, e)| *n == name && *e == entries) {
                return Ok(Some(format!("prefix set {name} is not {entries:?}")));
            }
        }
        Ok(None)
    }

    /// The spec it was started with.
    pub fn spec(&self) -> &GobgpSpec {
        &self.spec
    }

    /// gobgpd's process id.
    pub fn pid(&self) -> Option<u32> {
        self.daemon.pid()
    }

    /// The export (and import) policies gobgpd does not hold yet, as
    /// `direction name`.
    fn missing_policies(&self) -> Result<Vec<String>> {
        let mut expected: Vec<(&str, &str)> = export_policies(&self.spec)
            .into_iter()
            .map(|p| ("export", p))
            .collect();
        if config::imports_refused(&self.spec) {
            expected.push(("import", IMPORT_POLICY));
        }
        let mut missing = Vec::new();
        for (direction, name) in expected {
            let reply = self.gobgp_json(&["global", "policy", direction])?;
            let present = reply["policies"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|policy| policy["name"] == name);
            if !present {
                missing.push(format!("{direction} {name}"));
            }
        }
        Ok(missing)
    }

    /// A handle on this instance's API.
    pub fn api(&self) -> GobgpApi {
        GobgpApi {
            netns: self.spec.netns.clone(),
        }
    }

    /// Runs the `gobgp` client inside the namespace against this instance.
    pub fn gobgp(&self, args: &[&str]) -> Result<String> {
        self.api().gobgp(args)
    }

    fn gobgp_json(&self, args: &[&str]) -> Result<Value> {
        self.api().gobgp_json(args)
    }

    /// The prefixes originated here now.
    pub fn announced(&self) -> Result<Vec<Ipv4Net>> {
        parse_originated(&self.api().global_rib()?)
    }

    /// Makes the originated set exactly `prefixes`, each with no path
    /// and ORIGIN IGP ([`GobgpSpeaker::set_announcements`]).
    pub fn set_announced(&mut self, prefixes: &[Ipv4Net]) -> Result<()> {
        let wanted: Vec<Announcement> = prefixes.iter().map(|p| Announcement::plain(*p)).collect();
        self.set_announcements(&wanted)
    }

    /// The routes received from neighbours and accepted by the import
    /// policy.
    pub fn learned(&self) -> Result<Vec<LearnedPath>> {
        self.api().learned()
    }

    /// The routes advertised to `neighbor` (its adj-RIB-out).
    /// A session that is not established advertises nothing (gobgp
    /// refuses to list it).
    pub fn advertised(&self, neighbor: Ipv4Addr) -> Result<Vec<AdvertisedPath>> {
        let rib =
            match self.gobgp_json(&["neighbor", &neighbor.to_string(), "adj-out", "-a", "ipv4"]) {
                Ok(rib) => rib,
                Err(e) if format!("{e:#}").contains("session is not established") => {
                    return Ok(Vec::new())
                }
                Err(e) => return Err(e),
            };
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

    /// Kills gobgpd (it is not reported as an exit, and is not started
    /// again unless [`GobgpSpeaker::restart`] is called).
    pub fn kill(&mut self) {
        self.daemon.kill();
    }

    /// Kills gobgpd and removes its files.
    pub fn stop(mut self) -> Result<()> {
        self.daemon.kill();
        remove_files(&self.spec.run_dir, &[CONFIG, LOG]);
        Ok(())
    }
}

/// The API of the gobgpd of one namespace, asked through the `gobgp`
/// client run inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GobgpApi {
    netns: String,
}

impl GobgpApi {
    /// The API of the gobgpd [`GobgpSpeaker::start`] started in `netns`.
    pub fn new(netns: &str) -> Self {
        Self {
            netns: netns.to_owned(),
        }
    }

    /// The namespace the instance runs in.
    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// The `gobgp` client inside the namespace, pointed at the instance.
    fn client(&self) -> Result<Command> {
        let mut command = in_namespace(&self.netns, "gobgp")?;
        command.args(["-u", API_HOST, "-p", API_PORT]);
        Ok(command)
    }

    /// Runs `gobgp ARGS` against the instance.
    pub fn gobgp(&self, args: &[&str]) -> Result<String> {
        run_checked(self.client()?.args(args))
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

    /// The routes received from neighbours and accepted by the import
    /// policy.
    pub fn learned(&self) -> Result<Vec<LearnedPath>> {
        parse_learned(&self.global_rib()?)
    }

    /// Starts following `table` (see [`RibMonitor`]).
    pub fn monitor(&self, table: MonitoredTable) -> Result<RibMonitor> {
        RibMonitor::start(self.client()?, table)
    }
}

#[cfg(test)]
mod tests {
    use super::config::{overlapping_entries, NO_TRANSIT_POLICY};
    use super::*;
    use crate::test_support::v4_net as net;

    const LIMITS: SessionLimits = SessionLimits {
        keepalive_secs: 60,
        hold_secs: 180,
        max_prefixes: 4000,
    };

    #[test]
    fn overlap_covers_more_specifics_and_every_supernet() {
        let entries = overlapping_entries(net("10.50.1.0/24"));
        assert_eq!(entries.len(), 25);
        assert!(entries.contains(&(net("10.50.1.0/24"), "24..32".into())));
        assert!(entries.contains(&(net("10.50.0.0/16"), "16..16".into())));
        assert!(entries.contains(&(net("0.0.0.0/0"), "0..0".into())));
    }

    #[test]
    fn a_neighbour_met_as_another_as_and_no_transit_are_written() {
        let mut spec = GobgpSpec::new(
            "n",
            65515,
            Ipv4Addr::new(10, 0, 255, 228),
            "/x".into(),
            LIMITS,
        );
        let mut neighbor = GobgpNeighbor::new(Ipv4Addr::new(172, 16, 0, 1), 65020, true);
        neighbor.local_as = Some(12076);
        spec.neighbors = vec![neighbor];
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
    fn an_edge_routers_policies_are_written_in_the_order_gobgpd_applies_them() {
        let own = Ipv4Addr::new(172, 16, 0, 2);
        let mut spec = GobgpSpec::new("msee", 12076, own, "/x".into(), LIMITS);
        let mut customer = GobgpNeighbor::new(Ipv4Addr::new(172, 16, 0, 1), 65020, false);
        customer.remove_private_as = true;
        let gateway = GobgpNeighbor::new(Ipv4Addr::new(10, 0, 255, 4), 65515, true);
        let mut reach = GobgpNeighbor::new(Ipv4Addr::new(192, 168, 8, 2), 12076, false);
        reach.local_address = Some(Ipv4Addr::new(192, 168, 8, 1));
        reach.next_hop_self = true;
        spec.neighbors = vec![customer, gateway, reach];
        let far = vec![Ipv4Addr::new(10, 0, 255, 4), Ipv4Addr::new(192, 168, 8, 2)];
        spec.not_handed_on = Some(NotHandedOn {
            to: far.clone(),
            next_hops: far,
        });
        let text = config(&spec);
        assert!(text.contains("local-address-list = [\"172.16.0.2\", \"192.168.8.1\"]"));
        assert!(text.contains(
            "export-policy-list = [\"not-handed-on\", \"deny-overlapping\", \"next-hop-self\"]"
        ));
        assert!(text.contains("peer-as = 65020\n    remove-private-as = \"all\"\n"));
        assert!(text.contains("next-hop-in-list = [\"10.0.255.4/32\", \"192.168.8.2/32\"]"));
        assert!(text.contains("neighbor-info-list = [\"192.168.8.2/32\"]"));
        assert!(text.contains("set-next-hop = \"self\""));
        assert_eq!(text.matches("local-address = \"192.168.8.1\"").count(), 1);
        assert_eq!(text.matches("[neighbors.config]").count(), 3);
    }

    #[test]
    fn the_config_always_denies_the_default_route_on_export() {
        let mut spec = GobgpSpec::new("n", 65515, Ipv4Addr::new(10, 77, 0, 1), "/x".into(), LIMITS);
        let text = config(&spec);
        assert!(text.contains("ip-prefix = \"0.0.0.0/0\"\n    masklength-range = \"0..0\""));
        assert!(!text.contains(IMPORT_POLICY));
        spec.reject_exact = vec![net("10.200.0.0/16")];
        let text = config(&spec);
        assert!(text.contains("masklength-range = \"16..16\""));
        assert!(text.contains(&format!("import-policy-list = [\"{IMPORT_POLICY}\"]")));
    }
}
