//! A BIRD 2 BGP router in a namespace.
//!
//! The configuration, in short:
//!
//! - `protocol device` (interface scan) and `protocol direct` (the
//!   namespace's connected prefixes in BIRD's table). The direct routes are
//!   what BGP next hops resolve through: each session uses `gateway
//!   recursive` with `igp table master4`, so a multihop route's next hop is
//!   looked up in the table and the route is usable (not unreachable) as
//!   soon as the next hop is on a connected prefix. `protocol kernel` with
//!   `learn` would not do: the kernel's own connected routes are never
//!   learned.
//! - `protocol static announced`: the originated prefixes as `unreachable`
//!   routes, exported to BGP only.
//! - `protocol kernel`: exports BGP routes only (`source = RTS_BGP`), never
//!   the static or direct ones, with `merge paths on`, so equal BGP paths
//!   through two sessions become one ECMP kernel route.
//! - One `protocol bgp peer_A_B_C_D` per neighbour: multihop 255 (or
//!   direct), connect retry 2 s, error wait 2..10 s, hold 180 / keepalive
//!   60, import everything, export the static prefixes; to a router in
//!   front of the same network (`pass_on`), the routes learned over BGP
//!   instead, with `next hop self` (BIRD never passes a route learned over
//!   iBGP to another iBGP neighbour, and prefers a route learned over eBGP
//!   to one learned over iBGP, merging only equals into ECMP).
//!
//! Runtime changes of the originated set rewrite the configuration and
//! `birdc configure`; neighbours are disabled and enabled with `birdc`.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use ipnet::Ipv4Net;

use crate::config_text::bird::string;
use crate::config_text::Refused;

use super::commands::{run_checked, wait_for};
use super::daemon::{Daemon, ProcessExit, ProcessStatus};
use super::router::{BgpRouter, BgpRouterSpec};
use super::run_dir::{create_run_dir, remove_files};

const CONFIG: &str = "bird.conf";
const SOCKET: &str = "bird.ctl";
const PID: &str = "bird.pid";
const LOG: &str = "bird.log";
const OUTPUT: &str = "bird.out";

/// How long BIRD gets to open its control socket.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running BIRD instance.
#[derive(Debug)]
pub struct BirdRouter {
    spec: BgpRouterSpec,
    daemon: Daemon,
}

/// The name of the BGP protocol of the session with `neighbor`.
pub fn protocol_name(neighbor: Ipv4Addr) -> String {
    let [a, b, c, d] = neighbor.octets();
    format!("peer_{a}_{b}_{c}_{d}")
}

/// The BIRD 2 configuration of `spec` (see the module documentation), or
/// the path BIRD's strings cannot hold. Its one string, the log's path,
/// is written by [`crate::config_text::bird`]; the rest are typed values
/// (addresses, prefixes, numbers) and vnetd's own words.
pub fn config(spec: &BgpRouterSpec) -> Result<String, Refused> {
    let mut text = format!(
        "# Written by vnetd.\n\
         router id {router_id};\n\
         log {log} all;\n\
         \n\
         protocol device {{ scan time 10; }}\n\
         \n\
         # Connected prefixes: what BGP next hops resolve through.\n\
         protocol direct {{ ipv4; interface \"*\"; }}\n\
         \n\
         protocol static announced {{\n  ipv4;\n",
        router_id = spec.router_id,
        log = string(&spec.run_dir.join(LOG).display().to_string())?,
    );
    for prefix in &spec.announce {
        text.push_str(&format!("  route {prefix} unreachable;\n"));
    }
    text.push_str("}\n");
    if spec.install_learned {
        text.push_str(
            "\n\
             # Only routes learned over BGP reach the kernel.\n\
             protocol kernel {\n\
             \x20 ipv4 { import none; export where source = RTS_BGP; };\n\
             \x20 merge paths on;\n\
             }\n",
        );
    }
    for neighbor in &spec.neighbors {
        let hops = if neighbor.multihop {
            "multihop 255;"
        } else {
            "direct;"
        };
        let source = neighbor
            .local_address
            .map(|address| format!("  source address {address};\n"))
            .unwrap_or_default();
        // A router of the same network gets what was learned, through
        // this one; every other neighbour only what is originated here.
        let export = if neighbor.pass_on {
            "export where source = RTS_BGP;\n\x20   next hop self;"
        } else {
            "export where proto = \"announced\";"
        };
        text.push_str(&format!(
            "\nprotocol bgp {name} {{\n\
             \x20 local as {local_as};\n\
             \x20 neighbor {address} as {asn};\n\
             {source}\
             \x20 {hops}\n\
             \x20 connect delay time 1;\n\
             \x20 connect retry time 2;\n\
             \x20 error wait time 2, 10;\n\
             \x20 hold time 180;\n\
             \x20 keepalive time 60;\n\
             \x20 ipv4 {{\n\
             \x20   import all;\n\
             \x20   {export}\n\
             \x20   gateway recursive;\n\
             \x20   igp table master4;\n\
             \x20 }};\n\
             }}\n",
            name = protocol_name(neighbor.address),
            local_as = spec.asn,
            address = neighbor.address,
            asn = neighbor.asn,
        ));
    }
    Ok(text)
}

impl BirdRouter {
    /// Writes the configuration and starts BIRD in the foreground inside
    /// `spec.netns`; returns once its control socket answers.
    pub fn start(spec: BgpRouterSpec) -> Result<Self> {
        create_run_dir(&spec.run_dir)?;
        let config_path = spec.run_dir.join(CONFIG);
        std::fs::write(&config_path, config(&spec)?)
            .with_context(|| format!("writing {}", config_path.display()))?;
        let path_arg = |name: &str| spec.run_dir.join(name).display().to_string();
        let args = vec![
            "-f".to_owned(),
            "-c".to_owned(),
            path_arg(CONFIG),
            "-s".to_owned(),
            path_arg(SOCKET),
            "-P".to_owned(),
            path_arg(PID),
        ];
        let daemon = Daemon::spawn(&spec.netns, "bird", &args, &spec.run_dir.join(OUTPUT))?;
        let mut router = Self { spec, daemon };
        router.wait_ready()?;
        Ok(router)
    }

    fn wait_ready(&mut self) -> Result<()> {
        wait_for(START_TIMEOUT, "BIRD's control socket", || {
            self.daemon.check_running()?;
            let status = self.birdc(&["show", "status"]).unwrap_or_default();
            Ok(status.contains("Daemon is up").then_some(()))
        })
        .with_context(|| format!("starting BIRD in {}", self.spec.netns))
    }

    /// The instance's run directory.
    pub fn run_dir(&self) -> &Path {
        &self.spec.run_dir
    }

    /// Runs `birdc` on this instance's control socket.
    /// birdc exits 0 even when BIRD refuses a command: callers check the
    /// reply.
    pub fn birdc(&self, args: &[&str]) -> Result<String> {
        run_checked(
            Command::new("birdc")
                .arg("-s")
                .arg(self.spec.run_dir.join(SOCKET))
                .args(args),
        )
    }

    fn reconfigure(&mut self, announce: Vec<Ipv4Net>) -> Result<()> {
        let mut spec = self.spec.clone();
        spec.announce = announce;
        let path = spec.run_dir.join(CONFIG);
        std::fs::write(&path, config(&spec)?)
            .with_context(|| format!("writing {}", path.display()))?;
        let reply = self.birdc(&["configure"])?;
        if !reply.contains("Reconfigured") && !reply.contains("Reconfiguration in progress") {
            // Keep the running (old) configuration on disk too.
            if let Ok(old) = config(&self.spec) {
                let _ = std::fs::write(&path, old);
            }
            bail!("BIRD refused the new configuration: {}", reply.trim());
        }
        self.spec = spec;
        Ok(())
    }

    /// Runs `birdc VERB PROTOCOL` (`enable`/`disable`), which answers
    /// `PROTOCOL: enabled` (or `disabled`, or `already ...`).
    fn switch_protocol(&self, verb: &str, name: &str) -> Result<()> {
        let reply = self.birdc(&[verb, name])?;
        if !reply.contains(&format!("{name}: ")) {
            bail!("birdc {verb} {name}: {}", reply.trim());
        }
        Ok(())
    }

    fn known_neighbor(&self, neighbor: Ipv4Addr) -> Result<String> {
        if !self.spec.neighbors.iter().any(|n| n.address == neighbor) {
            bail!(
                "{neighbor} is not a neighbour of BIRD in {}",
                self.spec.netns
            );
        }
        Ok(protocol_name(neighbor))
    }
}

impl BgpRouter for BirdRouter {
    fn neighbor_state(&self, neighbor: Ipv4Addr) -> Result<String> {
        let name = self.known_neighbor(neighbor)?;
        let text = self.birdc(&["show", "protocols", "all", &name])?;
        text.lines()
            .find_map(|line| line.trim().strip_prefix("BGP state:"))
            .map(|state| state.trim().to_owned())
            .with_context(|| format!("no BGP state in birdc's reply: {text}"))
    }

    fn disable_neighbor(&mut self, neighbor: Ipv4Addr) -> Result<()> {
        let name = self.known_neighbor(neighbor)?;
        self.switch_protocol("disable", &name)
    }

    fn enable_neighbor(&mut self, neighbor: Ipv4Addr) -> Result<()> {
        let name = self.known_neighbor(neighbor)?;
        self.switch_protocol("enable", &name)
    }

    fn announce(&mut self, prefix: Ipv4Net) -> Result<()> {
        if self.spec.announce.contains(&prefix) {
            return Ok(());
        }
        self.reconfigure(with_prefix(&self.spec.announce, prefix))
    }

    fn withdraw(&mut self, prefix: Ipv4Net) -> Result<()> {
        if !self.spec.announce.contains(&prefix) {
            return Ok(());
        }
        let rest = self
            .spec
            .announce
            .iter()
            .copied()
            .filter(|p| *p != prefix)
            .collect();
        self.reconfigure(rest)
    }

    fn announced(&self) -> Vec<Ipv4Net> {
        self.spec.announce.clone()
    }

    fn reap(&mut self) -> Vec<ProcessExit> {
        self.daemon.reap().into_iter().collect()
    }

    /// BIRD reads `bird.conf` as it is on disk: the configuration it last
    /// ran with, runtime changes included (they rewrite the file).
    fn restart(&mut self) -> Result<()> {
        if self.daemon.is_running() {
            return Ok(());
        }
        // The dead daemon's control socket would answer nothing.
        let _ = std::fs::remove_file(self.spec.run_dir.join(SOCKET));
        self.daemon.respawn()?;
        let ready = self.wait_ready();
        if ready.is_err() {
            self.daemon.kill();
        }
        ready
    }

    fn processes(&self) -> Vec<ProcessStatus> {
        vec![self.daemon.status()]
    }

    fn stop(mut self) -> Result<()> {
        self.daemon.kill();
        remove_files(&self.spec.run_dir, &[CONFIG, SOCKET, PID, LOG, OUTPUT]);
        Ok(())
    }
}

/// The prefixes of `list` with `prefix` added (no duplicates).
fn with_prefix(list: &[Ipv4Net], prefix: Ipv4Net) -> Vec<Ipv4Net> {
    let mut out = list.to_vec();
    if !out.contains(&prefix) {
        out.push(prefix);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::BgpNeighbor;
    use super::*;

    /// A router (AS, router ID, the prefix it announces) with one
    /// neighbour (address, AS), met from the router ID, `multihop` and
    /// `pass_on` as [`BgpNeighbor`] has them.
    fn spec(
        (asn, router_id, announce): (u32, Ipv4Addr, &str),
        (address, neighbor_asn): (Ipv4Addr, u32),
        multihop: bool,
        pass_on: bool,
    ) -> BgpRouterSpec {
        BgpRouterSpec {
            netns: "n".into(),
            asn,
            router_id,
            announce: vec![announce.parse().expect("literal")],
            neighbors: vec![BgpNeighbor {
                address,
                asn: neighbor_asn,
                local_address: Some(router_id),
                multihop,
                pass_on,
            }],
            install_learned: true,
            run_dir: "/run/x".into(),
        }
    }

    #[test]
    fn the_config_announces_statics_and_installs_only_bgp_routes() {
        let router = (65010, Ipv4Addr::new(10, 77, 0, 2), "192.168.1.0/24");
        let neighbor = (Ipv4Addr::new(10, 77, 0, 1), 65515);
        let text = config(&spec(router, neighbor, true, false)).unwrap();
        assert!(text.contains("route 192.168.1.0/24 unreachable;"));
        assert!(text.contains("export where source = RTS_BGP;"));
        assert!(text.contains("merge paths on;"));
        assert!(text.contains("protocol bgp peer_10_77_0_1 {"));
        assert!(text.contains("neighbor 10.77.0.1 as 65515;"));
        assert!(text.contains("source address 10.77.0.2;"));
        assert!(text.contains("multihop 255;"));
        assert!(text.contains("gateway recursive;"));
        assert!(text.contains("export where proto = \"announced\";"));
        assert!(!text.contains("next hop self;"));
    }

    #[test]
    fn a_router_of_the_same_network_is_sent_what_was_learned_through_this_one() {
        let router = (65050, Ipv4Addr::new(10, 52, 255, 253), "10.52.0.0/16");
        let neighbor = (Ipv4Addr::new(10, 52, 255, 254), 65050);
        let text = config(&spec(router, neighbor, false, true)).unwrap();
        let session = &text[text
            .find("protocol bgp peer_10_52_255_254")
            .expect("the session")..];
        assert!(session.contains("neighbor 10.52.255.254 as 65050;"));
        assert!(session.contains("direct;"));
        assert!(session.contains("export where source = RTS_BGP;"));
        assert!(session.contains("next hop self;"));
        assert!(!session.contains("proto = \"announced\""));
    }
}
