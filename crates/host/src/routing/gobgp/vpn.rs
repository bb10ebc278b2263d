//! A gobgpd that carries VPNv4 routes (RFC 4364) between machines: each
//! route an IPv4 prefix behind a route distinguisher, so that one prefix
//! may be carried many times, once per distinguisher, each with its own
//! next hop, AS path, origin and large communities (RFC 8092). It runs in
//! the caller's namespace (or a named one) and listens on a port of its
//! own, so that it stands beside any BGP daemon of the machine.
//!
//! Its API listens on no TCP port, where any local user could add routes:
//! it is a Unix socket ([`API_SOCKET`]), mode 0600, in its run directory,
//! mode 0700, both root's. Only root reaches it.
//!
//! It dies with the process that started it (`setpriv --pdeathsig`), so
//! that a machine whose daemon is killed is withdrawn by the others.
//!
//! The routes it originates are added to and removed from its RIB through
//! the `gobgp` client; the routes its neighbours send are read from its
//! RIB, and a monitor (`gobgp monitor global rib`) tells when they change.

use super::super::commands::{in_namespace, run_checked, wait_for};
use super::super::daemon::Daemon;
use super::super::run_dir::{create_run_dir, remove_files};
use super::{gobgpd_args, Origin, START_TIMEOUT};
use anyhow::{bail, Context, Result};
use ipnet::Ipv4Net;
use serde_json::Value;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Sender;

const CONFIG: &str = "gobgpd-vpn.toml";
const LOG: &str = "gobgpd-vpn.log";
/// The Unix socket of the speaker's API, in its run directory.
pub const API_SOCKET: &str = "gobgpd-vpn.sock";

/// A VPNv4 speaker: its identity, its ports and its iBGP neighbours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpnSpeakerSpec {
    /// The namespace it runs in ("" for the caller's).
    pub netns: String,
    pub asn: u32,
    /// Its router id, the address it listens on and opens sessions from.
    pub address: Ipv4Addr,
    /// The BGP port it listens on and connects to.
    pub port: u16,
    /// The neighbours, each in the speaker's own AS.
    pub neighbors: Vec<Ipv4Addr>,
    pub keepalive_secs: u32,
    pub hold_secs: u32,
    /// Where the configuration, the log and the API's socket go: made
    /// root's alone (0700).
    pub run_dir: PathBuf,
}

/// The gobgpd configuration of `spec`.
pub fn vpn_config(spec: &VpnSpeakerSpec) -> String {
    let mut out = String::from("# Written by vnetd.\n");
    let _ = write!(
        out,
        "[global.config]\n  as = {asn}\n  router-id = \"{address}\"\n  port = {port}\n  \
         local-address-list = [\"{address}\"]\n",
        asn = spec.asn,
        address = spec.address,
        port = spec.port,
    );
    for neighbor in &spec.neighbors {
        let _ = write!(
            out,
            "\n[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{neighbor}\"\n    \
             peer-as = {asn}\n  \
             [neighbors.timers.config]\n    connect-retry = 1\n    hold-time = {hold}\n    \
             keepalive-interval = {keepalive}\n  \
             [neighbors.transport.config]\n    local-address = \"{address}\"\n    \
             remote-port = {port}\n  \
             [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      \
             afi-safi-name = \"l3vpn-ipv4-unicast\"\n",
            asn = spec.asn,
            hold = spec.hold_secs,
            keepalive = spec.keepalive_secs,
            address = spec.address,
            port = spec.port,
        );
    }
    out
}

/// One VPNv4 route.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VpnRoute {
    /// The route distinguisher, type 1: an address and a number.
    pub distinguisher: (Ipv4Addr, u16),
    pub prefix: Ipv4Net,
    pub next_hop: Ipv4Addr,
    /// The AS path, nearest AS first.
    pub as_path: Vec<u32>,
    pub origin: Origin,
    pub large_communities: Vec<(u32, u32, u32)>,
    /// The neighbour it came from; `None` for one this speaker originates.
    pub from: Option<Ipv4Addr>,
}

/// A running VPNv4 speaker.
pub struct VpnSpeaker {
    spec: VpnSpeakerSpec,
    daemon: Daemon,
}

impl VpnSpeaker {
    /// Writes the configuration, starts gobgpd and returns once its API
    /// answers.
    pub fn start(spec: VpnSpeakerSpec) -> Result<VpnSpeaker> {
        // Root's alone: whoever may enter the directory may reach the
        // API's socket.
        create_run_dir(&spec.run_dir)?;
        let socket = spec.run_dir.join(API_SOCKET);
        // gobgpd does not listen on a socket file that is left over.
        match std::fs::remove_file(&socket) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing {}", socket.display()))
            }
            _ => {}
        }
        let config_path = spec.run_dir.join(CONFIG);
        let api_hosts = format!("unix://{}", socket.display());
        // Killed with the process that started it (also by SIGKILL): a
        // speaker left running would go on announcing for a machine
        // whose daemon is gone.
        let mut args: Vec<String> = ["--pdeathsig", "KILL", "--", "gobgpd"]
            .map(str::to_owned)
            .to_vec();
        args.extend(gobgpd_args(&config_path, &vpn_config(&spec), &api_hosts)?);
        let daemon = Daemon::spawn(&spec.netns, "setpriv", &args, &spec.run_dir.join(LOG))?;
        let mut speaker = VpnSpeaker { spec, daemon };
        // The socket first: the `gobgp` client waits a whole second for a
        // socket nobody listens on yet, a second a lab's bring-up would
        // wait.
        wait_for(START_TIMEOUT, "gobgpd's API socket", || {
            speaker.daemon.check_running()?;
            Ok(std::os::unix::net::UnixStream::connect(&socket)
                .ok()
                .map(drop))
        })
        .context("starting the VPNv4 speaker")?;
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("making {} root's alone", socket.display()))?;
        let api = speaker.api();
        wait_for(START_TIMEOUT, "gobgpd's API", || {
            speaker.daemon.check_running()?;
            Ok(api.gobgp(&["global"]).ok())
        })
        .context("starting the VPNv4 speaker")?;
        Ok(speaker)
    }

    /// Its API.
    pub fn api(&self) -> VpnApi {
        VpnApi {
            socket: self.spec.run_dir.join(API_SOCKET),
        }
    }

    /// True while gobgpd runs.
    pub fn is_running(&self) -> bool {
        self.daemon.is_running()
    }

    /// Kills gobgpd and removes its files.
    pub fn stop(mut self) {
        self.daemon.kill();
        remove_files(&self.spec.run_dir, &[CONFIG, LOG, API_SOCKET]);
    }
}

/// Kills the gobgpd a killed process left running with its files in
/// `run_dir` (found by its configuration's path among the processes'
/// command lines), and removes the files; returns the pids it killed.
pub fn stop_leftover(run_dir: &std::path::Path) -> Result<Vec<u32>> {
    let config = run_dir.join(CONFIG).display().to_string();
    let mut found = Vec::new();
    for (pid, dir) in crate::process::listed::<i32>().context("reading /proc")? {
        let Ok(cmdline) = std::fs::read(dir.join("cmdline")) else {
            continue;
        };
        let mut args = cmdline.split(|b| *b == 0);
        let is_gobgpd = args
            .next()
            .is_some_and(|program| program.ends_with(b"gobgpd"));
        if is_gobgpd && args.any(|a| a == config.as_bytes()) {
            let process = nix::unistd::Pid::from_raw(pid);
            if nix::sys::signal::kill(process, nix::sys::signal::Signal::SIGKILL).is_ok() {
                found.push(pid as u32);
            }
        }
    }
    remove_files(run_dir, &[CONFIG, LOG, API_SOCKET]);
    Ok(found)
}

/// The API of a VPNv4 speaker, through the `gobgp` client (from any
/// namespace: its socket is a file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpnApi {
    socket: PathBuf,
}

impl VpnApi {
    /// The socket the API listens on.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The `gobgp` client, pointed at the speaker.
    fn client(&self) -> Result<Command> {
        let mut command = in_namespace("", "gobgp")?;
        command.arg(format!("--target=unix://{}", self.socket.display()));
        Ok(command)
    }

    fn gobgp(&self, args: &[&str]) -> Result<String> {
        run_checked(self.client()?.args(args))
    }

    /// Originates `route` (replacing the one of the same distinguisher and
    /// prefix).
    pub fn add(&self, route: &VpnRoute) -> Result<()> {
        let (rd_address, rd_number) = route.distinguisher;
        let mut args: Vec<String> = ["global", "rib", "-a", "vpnv4", "add"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend([
            route.prefix.to_string(),
            "label".into(),
            "0".into(),
            "rd".into(),
            format!("{rd_address}:{rd_number}"),
            "nexthop".into(),
            route.next_hop.to_string(),
            "origin".into(),
            match route.origin {
                Origin::Igp => "igp",
                Origin::Egp => "egp",
                Origin::Incomplete => "incomplete",
            }
            .into(),
        ]);
        if !route.as_path.is_empty() {
            let path: Vec<String> = route.as_path.iter().map(u32::to_string).collect();
            args.extend(["aspath".into(), path.join(",")]);
        }
        if !route.large_communities.is_empty() {
            let list: Vec<String> = route
                .large_communities
                .iter()
                .map(|(a, b, c)| format!("{a}:{b}:{c}"))
                .collect();
            args.extend(["large-community".into(), list.join(",")]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.gobgp(&args).map(drop)
    }

    /// Stops originating the route of `distinguisher` and `prefix`.
    pub fn remove(&self, distinguisher: (Ipv4Addr, u16), prefix: Ipv4Net) -> Result<()> {
        let rd = format!("{}:{}", distinguisher.0, distinguisher.1);
        let prefix = prefix.to_string();
        let args = [
            "global", "rib", "-a", "vpnv4", "del", &prefix, "label", "0", "rd", &rd,
        ];
        self.gobgp(&args).map(drop)
    }

    /// Every route of its RIB: the ones it originates and the ones its
    /// neighbours sent.
    pub fn routes(&self) -> Result<Vec<VpnRoute>> {
        let text = self.gobgp(&["-j", "global", "rib", "-a", "vpnv4"])?;
        let text = text.trim();
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let rib: Value =
            serde_json::from_str(text).with_context(|| format!("parsing gobgp's JSON: {text}"))?;
        parse_vpn_rib(&rib)
    }

    /// Starts `gobgp monitor global rib -a vpnv4`: each line it prints (a
    /// change) is sent on `changes` until the child is killed or the
    /// receiver is gone.
    pub fn monitor(&self, changes: Sender<()>) -> Result<Child> {
        let mut command = self.client()?;
        command.args(["-j", "monitor", "global", "rib", "-a", "vpnv4"]);
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting gobgp monitor")?;
        let stdout = child.stdout.take().context("the monitor's output")?;
        std::thread::Builder::new()
            .name("vnetd-vpn-monitor".into())
            .spawn(move || {
                for _ in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if changes.send(()).is_err() {
                        break;
                    }
                }
            })
            .context("starting the monitor's reader")?;
        Ok(child)
    }
}

/// The routes of `gobgp -j global rib -a vpnv4`: an object of
/// `RD:prefix` to a list of paths.
pub fn parse_vpn_rib(rib: &Value) -> Result<Vec<VpnRoute>> {
    let Some(destinations) = rib.as_object() else {
        bail!("a VPNv4 RIB that is no object: {rib}");
    };
    let mut out = Vec::new();
    for paths in destinations.values() {
        for path in paths.as_array().into_iter().flatten() {
            if let Some(route) = parse_vpn_path(path) {
                out.push(route);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn parse_vpn_path(path: &Value) -> Option<VpnRoute> {
    let nlri = &path["nlri"];
    let prefix: Ipv4Net = nlri["prefix"].as_str()?.parse().ok()?;
    let rd = &nlri["rd"];
    let distinguisher = (
        rd["admin"].as_str()?.parse().ok()?,
        u16::try_from(rd["assigned"].as_u64()?).ok()?,
    );
    let mut route = VpnRoute {
        distinguisher,
        prefix,
        next_hop: Ipv4Addr::UNSPECIFIED,
        as_path: Vec::new(),
        origin: Origin::Incomplete,
        large_communities: Vec::new(),
        from: path["neighbor-ip"].as_str().and_then(|a| a.parse().ok()),
    };
    for attr in path["attrs"].as_array()? {
        match attr["type"].as_u64()? {
            1 => {
                route.origin = match attr["value"].as_u64()? {
                    0 => Origin::Igp,
                    1 => Origin::Egp,
                    _ => Origin::Incomplete,
                }
            }
            2 => {
                for segment in attr["as_paths"].as_array()? {
                    for asn in segment["asns"].as_array()? {
                        route.as_path.push(u32::try_from(asn.as_u64()?).ok()?);
                    }
                }
            }
            14 => route.next_hop = attr["nexthop"].as_str()?.parse().ok()?,
            32 => {
                for c in attr["value"].as_array()? {
                    let part = |k: &str| c[k].as_u64().and_then(|v| u32::try_from(v).ok());
                    route.large_communities.push((
                        part("ASN")?,
                        part("LocalData1")?,
                        part("LocalData2")?,
                    ));
                }
            }
            _ => {}
        }
    }
    Some(route)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_received_path_reads_with_its_distinguisher_attributes_and_neighbour() {
        let rib: Value = serde_json::from_str(
            r#"{"172.16.1.1:3:10.9.0.0/16":[{"nlri":{"prefix":"10.9.0.0/16","labels":[0],"rd":{"type":1,"admin":"172.16.1.1","assigned":3}},"age":1,"best":true,"attrs":[{"type":1,"value":0},{"type":2,"as_paths":[{"segment_type":2,"num":2,"asns":[65001,65002]}]},{"type":5,"value":100},{"type":32,"value":[{"ASN":4200000001,"LocalData1":1,"LocalData2":2}]},{"type":14,"nexthop":"172.16.1.1","afi":1,"safi":128,"value":[]}],"stale":false,"source-id":"192.0.2.1","neighbor-ip":"192.0.2.1"}]}"#,
        )
        .unwrap();
        let routes = parse_vpn_rib(&rib).unwrap();
        assert_eq!(
            routes,
            [VpnRoute {
                distinguisher: ("172.16.1.1".parse().unwrap(), 3),
                prefix: "10.9.0.0/16".parse().unwrap(),
                next_hop: "172.16.1.1".parse().unwrap(),
                as_path: vec![65001, 65002],
                origin: Origin::Igp,
                large_communities: vec![(4_200_000_001, 1, 2)],
                from: Some("192.0.2.1".parse().unwrap()),
            }]
        );
        assert_eq!(parse_vpn_rib(&serde_json::json!({})).unwrap(), []);
    }

    #[test]
    fn the_configuration_peers_over_its_own_port_in_vpnv4() {
        let spec = VpnSpeakerSpec {
            netns: String::new(),
            asn: 4_200_000_000,
            address: "192.0.2.1".parse().unwrap(),
            port: 1790,
            neighbors: vec!["192.0.2.2".parse().unwrap()],
            keepalive_secs: 1,
            hold_secs: 3,
            run_dir: PathBuf::from("/tmp/x"),
        };
        let text = vpn_config(&spec);
        assert!(text.contains("port = 1790\n"), "{text}");
        assert!(text.contains("remote-port = 1790\n"), "{text}");
        assert!(text.contains("neighbor-address = \"192.0.2.2\""), "{text}");
        assert!(
            text.contains("afi-safi-name = \"l3vpn-ipv4-unicast\""),
            "{text}"
        );
        assert!(text.contains("peer-as = 4200000000"), "{text}");
    }
}
