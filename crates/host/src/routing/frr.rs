//! An FRR (zebra + bgpd) BGP router in a namespace.
//!
//! Both daemons run in the foreground inside the namespace with every path
//! pointed into the instance's run directory, so instances in different
//! namespaces never share a file: configuration (`-f`), pid files (`-i`),
//! the zebra API socket (`-z`, bgpd connects to the same path) and the vty
//! sockets (`--vty_socket`, which `vtysh --vty_socket` then reaches). The
//! TCP vty is off (`-P 0`). bgpd is not given `-l`: that implies `-n`, no
//! routes to the kernel.
//!
//! The daemons drop privileges to the `frr` user, which is in the vty
//! group (`frrvty`) they insist on; running them as root fails, as root is
//! not in that group. So the run directory is handed to `frr`.
//!
//! bgpd's configuration: `no bgp ebgp-requires-policy` (eBGP routes flow
//! in with no route-map; out, a route map lets only the router's own
//! prefixes go, as a site announces its address space and passes nothing
//! on), `no bgp network import-check` (a `network` is
//! announced without a matching route, and nothing is installed locally
//! for it), `ebgp-multihop 255` (for a multihop neighbour) and `timers
//! connect 2` per neighbour; a router in front of the same network
//! (`pass_on`) gets `next-hop-self` and everything the router learned
//! instead of the route map,
//! timers 60/180, and `maximum-paths 2` so that two equal paths through
//! two sessions become one ECMP kernel route (zebra installs them).
//! Runtime changes go through `vtysh`.
//!
//! A restart starts what is down: bgpd alone (its configuration written
//! again from what the instance announces now, since `vtysh` changes live
//! only in the running bgpd), or zebra and then bgpd when zebra is down.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use ipnet::Ipv4Net;
use serde_json::Value;

use super::commands::{run_checked, wait_for};
use super::daemon::{Daemon, ProcessExit, ProcessStatus};
use super::router::{BgpRouter, BgpRouterSpec};
use super::run_dir::{create_run_dir, remove_files};

const ZEBRA: &str = "/usr/lib/frr/zebra";
const BGPD: &str = "/usr/lib/frr/bgpd";
const ZSERV: &str = "zserv.api";
const FILES: &[&str] = &[
    "zebra.conf",
    "bgpd.conf",
    "zebra.pid",
    "bgpd.pid",
    "zebra.vty",
    "bgpd.vty",
    "zebra.log",
    "bgpd.log",
    "zebra.out",
    "bgpd.out",
    ZSERV,
];

/// How long the daemons get to come up.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// The route map (and AS-path list) that lets only the router's own
/// prefixes out: a site announces its address space, like BIRD's
/// `export where proto = "announced"`, and passes nothing on.
const OWN_ONLY: &str = "OWN-ONLY";

/// The user FRR's daemons run as.
const FRR_USER: &str = "frr";

/// A running FRR instance.
#[derive(Debug)]
pub struct FrrRouter {
    spec: BgpRouterSpec,
    // Dropped in order: bgpd first, then zebra.
    bgpd: Daemon,
    zebra: Daemon,
}

/// bgpd's configuration for `spec` (see the module documentation).
pub fn bgpd_config(spec: &BgpRouterSpec) -> String {
    let mut text = format!(
        "! Written by vnetd.\n\
         frr defaults traditional\n\
         hostname bgpd\n\
         !\n\
         router bgp {asn}\n\
         \x20bgp router-id {router_id}\n\
         \x20no bgp ebgp-requires-policy\n\
         \x20no bgp network import-check\n\
         \x20timers bgp 60 180\n",
        asn = spec.asn,
        router_id = spec.router_id,
    );
    if !spec.install_learned {
        // Learned routes stay in bgpd (`bgp no-rib` is global: before the
        // router).
        text = text.replacen("router bgp", "bgp no-rib\n!\nrouter bgp", 1);
    }
    for neighbor in &spec.neighbors {
        let address = neighbor.address;
        text.push_str(&format!(
            " neighbor {address} remote-as {}\n neighbor {address} timers connect 2\n",
            neighbor.asn
        ));
        if neighbor.multihop {
            text.push_str(&format!(" neighbor {address} ebgp-multihop 255\n"));
        }
        if let Some(local) = neighbor.local_address {
            text.push_str(&format!(" neighbor {address} update-source {local}\n"));
        }
    }
    text.push_str(" address-family ipv4 unicast\n");
    for prefix in &spec.announce {
        text.push_str(&format!("  network {prefix}\n"));
    }
    for neighbor in &spec.neighbors {
        if neighbor.pass_on {
            // A router of the same network: what was learned, through
            // this router (FRR passes nothing learned over iBGP to another
            // iBGP neighbour, and prefers eBGP to iBGP, `maximum-paths`
            // merging eBGP paths only).
            text.push_str(&format!("  neighbor {} next-hop-self\n", neighbor.address));
        } else {
            text.push_str(&format!(
                "  neighbor {} route-map {OWN_ONLY} out\n",
                neighbor.address
            ));
        }
    }
    text.push_str("  maximum-paths 2\n exit-address-family\n!\n");
    // What the router originates has an empty AS path: only that goes out.
    text.push_str(&format!(
        "bgp as-path access-list {OWN_ONLY} seq 5 permit ^$\n!\n\
         route-map {OWN_ONLY} permit 10\n match as-path {OWN_ONLY}\nexit\n!\n"
    ));
    text
}

/// Hands `dir` and everything in it to the FRR user.
fn give_to_frr(dir: &Path) -> Result<()> {
    let user = nix::unistd::User::from_name(FRR_USER)
        .context("looking up the frr user")?
        .with_context(|| format!("no user {FRR_USER}: is FRR installed?"))?;
    let chown = |path: &Path| {
        nix::unistd::chown(path, Some(user.uid), Some(user.gid))
            .with_context(|| format!("giving {} to {FRR_USER}", path.display()))
    };
    chown(dir)?;
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        chown(&entry.context("reading the run directory")?.path())?;
    }
    Ok(())
}

/// Waits until zebra's API socket exists.
fn wait_zebra(zebra: &mut Daemon, spec: &BgpRouterSpec) -> Result<()> {
    wait_for(START_TIMEOUT, "zebra's API socket", || {
        zebra.check_running()?;
        Ok(spec.run_dir.join(ZSERV).exists().then_some(()))
    })
    .with_context(|| format!("starting zebra in {}", spec.netns))
}

fn daemon_args(dir: &Path, daemon: &str) -> Vec<String> {
    let path = |name: String| dir.join(name).display().to_string();
    vec![
        "-f".into(),
        path(format!("{daemon}.conf")),
        "-i".into(),
        path(format!("{daemon}.pid")),
        "-z".into(),
        path(ZSERV.into()),
        "--vty_socket".into(),
        dir.display().to_string(),
        "-A".into(),
        "127.0.0.1".into(),
        "-P".into(),
        "0".into(),
        "--log".into(),
        format!("file:{}", path(format!("{daemon}.log"))),
    ]
}

impl FrrRouter {
    /// Writes the configurations and starts zebra, then bgpd, inside
    /// `spec.netns`; returns once bgpd answers through vtysh.
    pub fn start(spec: BgpRouterSpec) -> Result<Self> {
        let dir = spec.run_dir.clone();
        create_run_dir(&dir)?;
        std::fs::write(dir.join("zebra.conf"), "hostname zebra\n").context("writing zebra.conf")?;
        std::fs::write(dir.join("bgpd.conf"), bgpd_config(&spec)).context("writing bgpd.conf")?;
        give_to_frr(&dir)?;

        let mut zebra = Daemon::spawn(
            &spec.netns,
            ZEBRA,
            &daemon_args(&dir, "zebra"),
            &dir.join("zebra.out"),
        )?;
        wait_zebra(&mut zebra, &spec)?;
        let bgpd = Daemon::spawn(
            &spec.netns,
            BGPD,
            &daemon_args(&dir, "bgpd"),
            &dir.join("bgpd.out"),
        )?;
        let mut router = Self { spec, bgpd, zebra };
        router.wait_bgpd()?;
        Ok(router)
    }

    fn wait_bgpd(&mut self) -> Result<()> {
        wait_for(START_TIMEOUT, "bgpd through vtysh", || {
            self.zebra.check_running()?;
            self.bgpd.check_running()?;
            Ok(self.vtysh(&["show bgp summary json"]).ok())
        })
        .map(drop)
        .with_context(|| format!("starting bgpd in {}", self.spec.netns))
    }

    fn restart_daemons(&mut self) -> Result<()> {
        let dir = self.spec.run_dir.clone();
        if !self.zebra.is_running() {
            // A dead zebra's API socket would make the wait below pass at
            // once. bgpd follows zebra: started again after it, it
            // registers its routes with the new zebra from the start.
            let _ = std::fs::remove_file(dir.join(ZSERV));
            self.bgpd.kill();
            self.zebra.respawn()?;
            wait_zebra(&mut self.zebra, &self.spec)?;
        }
        if !self.bgpd.is_running() {
            // Runtime changes went through vtysh, not into the file: the
            // file is written again from what the instance announces now.
            std::fs::write(dir.join("bgpd.conf"), bgpd_config(&self.spec))
                .context("writing bgpd.conf")?;
            give_to_frr(&dir)?;
            self.bgpd.respawn()?;
            self.wait_bgpd()?;
        }
        Ok(())
    }

    /// Runs `vtysh` on this instance, one `-c` per command.
    pub fn vtysh(&self, commands: &[&str]) -> Result<String> {
        let mut command = Command::new("vtysh");
        command.arg("--vty_socket").arg(&self.spec.run_dir);
        for each in commands {
            command.args(["-c", each]);
        }
        let text = run_checked(&mut command)?;
        // vtysh reports some configuration errors with exit status 0.
        if text.contains("% Unknown command") || text.contains("% Invalid") {
            bail!("vtysh {commands:?}: {}", text.trim());
        }
        Ok(text)
    }

    fn configure_bgp(&self, lines: &[String]) -> Result<()> {
        let router = format!("router bgp {}", self.spec.asn);
        let mut commands = vec!["configure terminal", router.as_str()];
        commands.extend(lines.iter().map(String::as_str));
        self.vtysh(&commands).map(drop)
    }

    fn known_neighbor(&self, neighbor: Ipv4Addr) -> Result<()> {
        if !self.spec.neighbors.iter().any(|n| n.address == neighbor) {
            bail!(
                "{neighbor} is not a neighbour of FRR in {}",
                self.spec.netns
            );
        }
        Ok(())
    }
}

impl BgpRouter for FrrRouter {
    fn neighbor_state(&self, neighbor: Ipv4Addr) -> Result<String> {
        self.known_neighbor(neighbor)?;
        let text = self.vtysh(&[&format!("show bgp neighbors {neighbor} json")])?;
        let reply: Value =
            serde_json::from_str(&text).with_context(|| format!("parsing vtysh's JSON: {text}"))?;
        reply[neighbor.to_string()]["bgpState"]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("no bgpState in {text}"))
    }

    fn disable_neighbor(&mut self, neighbor: Ipv4Addr) -> Result<()> {
        self.known_neighbor(neighbor)?;
        self.configure_bgp(&[format!("neighbor {neighbor} shutdown")])
    }

    fn enable_neighbor(&mut self, neighbor: Ipv4Addr) -> Result<()> {
        self.known_neighbor(neighbor)?;
        self.configure_bgp(&[format!("no neighbor {neighbor} shutdown")])
    }

    fn announce(&mut self, prefix: Ipv4Net) -> Result<()> {
        if self.spec.announce.contains(&prefix) {
            return Ok(());
        }
        self.configure_bgp(&[
            "address-family ipv4 unicast".into(),
            format!("network {prefix}"),
        ])?;
        self.spec.announce.push(prefix);
        Ok(())
    }

    fn withdraw(&mut self, prefix: Ipv4Net) -> Result<()> {
        if !self.spec.announce.contains(&prefix) {
            return Ok(());
        }
        self.configure_bgp(&[
            "address-family ipv4 unicast".into(),
            format!("no network {prefix}"),
        ])?;
        self.spec.announce.retain(|p| *p != prefix);
        Ok(())
    }

    fn announced(&self) -> Vec<Ipv4Net> {
        self.spec.announce.clone()
    }

    fn reap(&mut self) -> Vec<ProcessExit> {
        [self.zebra.reap(), self.bgpd.reap()]
            .into_iter()
            .flatten()
            .collect()
    }

    /// zebra (and then bgpd with it) if zebra is down, else bgpd alone.
    fn restart(&mut self) -> Result<()> {
        let restarted = self.restart_daemons();
        if restarted.is_err() {
            self.bgpd.kill();
            self.zebra.kill();
        }
        restarted
    }

    fn processes(&self) -> Vec<ProcessStatus> {
        vec![self.zebra.status(), self.bgpd.status()]
    }

    fn stop(mut self) -> Result<()> {
        self.bgpd.kill();
        self.zebra.kill();
        remove_files(&self.spec.run_dir, FILES);
        Ok(())
    }
}
