//! Routing daemons and sites on real namespaces (needs root, and bird,
//! FRR and gobgpd installed).
//!
//! Every namespace is named `vnetdr-<pid>-<test>-<n>` so parallel tests and
//! runs never collide; a guard removes the namespaces and run directories
//! even when an assertion fails, and each daemon driver kills its daemon
//! when dropped. Addresses are only those of the namespaces made here: a
//! hub namespace (`-0`, the gobgpd side, 10.77.0.1/24 on a bridge) and
//! spokes (10.77.0.2, .3, ... on `eth0`), one veth pair each.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use ipnet::Ipv4Net;
use vnetd::host::routing::{
    BgpNeighbor, BgpRouter, BgpRouterSpec, BirdRouter, FrrRouter, GobgpNeighbor, GobgpSpeaker,
    GobgpSpec, SessionLimits,
};
use vnetd::host::site::{build_site, remove_site, SiteHostSpec, SiteSpec};
use vnetd::host::{self, netns};

const HUB: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const HUB_ASN: u32 = 65515;
/// The timers and prefix limit the speakers here are given.
const LIMITS: SessionLimits = SessionLimits {
    keepalive_secs: 60,
    hold_secs: 180,
    max_prefixes: 4000,
};
/// Sessions come up within a few seconds (connect retry 2 s).
const SESSION_WAIT: Duration = Duration::from_secs(20);
/// Route changes propagate within this.
const ROUTE_WAIT: Duration = Duration::from_secs(10);

/// Panics without root: a skipped test would hide broken drivers.
fn assert_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the host routing tests need root: they build network namespaces and run routing daemons"
    );
}

fn net(text: &str) -> Ipv4Net {
    text.parse().expect("literal prefix")
}

fn spoke_address(index: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 77, 0, 1 + index as u8)
}

fn ip(args: &[&str]) -> String {
    let output = Command::new("ip").args(args).output().expect("running ip");
    assert!(
        output.status.success(),
        "ip {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A hub namespace and spokes joined on one segment; removes them and the
/// run directories when dropped. Declare it before the daemons, so they
/// are killed first.
struct Lab {
    names: Vec<String>,
    run_dir: PathBuf,
}

impl Lab {
    /// The hub (index 0) and `spokes` spokes (1..=spokes).
    fn new(test: &str, spokes: usize) -> Self {
        assert_root();
        let prefix = format!("vnetdr-{}-{test}", std::process::id());
        let lab = Self {
            names: (0..=spokes).map(|i| format!("{prefix}-{i}")).collect(),
            run_dir: std::env::temp_dir().join(&prefix),
        };
        let hub = lab.names[0].as_str();
        netns::create(hub).expect("creating the hub namespace");
        ip(&["-n", hub, "link", "set", "lo", "up"]);
        ip(&["-n", hub, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", hub, "address", "add", "10.77.0.1/24", "dev", "br0"]);
        ip(&["-n", hub, "link", "set", "br0", "up"]);
        for (index, spoke) in lab.names.iter().enumerate().skip(1).take(spokes) {
            let spoke = spoke.as_str();
            netns::create(spoke).expect("creating a spoke namespace");
            ip(&["-n", spoke, "link", "set", "lo", "up"]);
            let port = format!("p{index}");
            ip(&[
                "-n", hub, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
                spoke,
            ]);
            ip(&["-n", hub, "link", "set", &port, "master", "br0", "up"]);
            let address = format!("{}/24", spoke_address(index));
            ip(&["-n", spoke, "address", "add", &address, "dev", "eth0"]);
            ip(&["-n", spoke, "link", "set", "eth0", "up"]);
        }
        lab
    }

    fn netns(&self, index: usize) -> &str {
        &self.names[index]
    }

    fn dir(&self, daemon: &str) -> PathBuf {
        self.run_dir.join(daemon)
    }

    /// gobgpd on the hub, peering (multihop) with the given spokes and ASNs.
    fn gobgp_spec(&self, neighbors: &[(usize, u32)]) -> GobgpSpec {
        let mut spec = GobgpSpec::new(self.netns(0), HUB_ASN, HUB, self.dir("gobgp"), LIMITS);
        spec.neighbors = neighbors
            .iter()
            .map(|&(index, asn)| GobgpNeighbor::new(spoke_address(index), asn, true))
            .collect();
        spec
    }

    /// A router on spoke `index`, peering with the hub.
    fn router_spec(&self, index: usize, asn: u32, announce: &[&str]) -> BgpRouterSpec {
        let address = spoke_address(index);
        BgpRouterSpec {
            netns: self.netns(index).to_owned(),
            asn,
            router_id: address,
            announce: announce.iter().map(|p| net(p)).collect(),
            neighbors: vec![BgpNeighbor {
                address: HUB,
                asn: HUB_ASN,
                local_address: Some(address),
                multihop: true,
                pass_on: false,
            }],
            install_learned: true,
            run_dir: self.dir(&format!("router{index}")),
        }
    }

    fn kernel_routes(&self, index: usize) -> String {
        ip(&["-n", self.netns(index), "-4", "route", "show"])
    }

    /// Whether spoke `index`'s kernel routes `prefix` through the hub.
    fn routes_via_hub(&self, index: usize, prefix: &str) -> bool {
        self.kernel_routes(index)
            .lines()
            .any(|line| line.starts_with(&format!("{prefix} ")) && line.contains("via 10.77.0.1 "))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Err(err) = host::cleanup_leftovers(&self.names) {
            eprintln!("cleanup failed: {err:#}");
        }
        let _ = std::fs::remove_dir_all(&self.run_dir);
    }
}

/// Polls `check` until it holds, panicking with `what` after `timeout`.
fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn state_of(speaker: &GobgpSpeaker, neighbor: Ipv4Addr) -> (String, String) {
    let status = speaker.neighbors().expect("gobgp neighbor");
    let status = status
        .into_iter()
        .find(|s| s.address == neighbor)
        .expect("the neighbour is configured");
    (status.state, status.admin_state)
}

fn wait_established(speaker: &GobgpSpeaker, neighbor: Ipv4Addr) {
    wait_until(
        &format!("gobgpd's session with {neighbor} established"),
        SESSION_WAIT,
        || state_of(speaker, neighbor).0 == "Established",
    );
}

fn learned_prefixes(speaker: &GobgpSpeaker, neighbor: Ipv4Addr) -> Vec<Ipv4Net> {
    let mut prefixes: Vec<Ipv4Net> = speaker
        .learned()
        .expect("gobgp global rib")
        .into_iter()
        .filter(|path| path.neighbor == neighbor)
        .map(|path| path.prefix)
        .collect();
    prefixes.sort();
    prefixes
}

fn advertised_prefixes(speaker: &GobgpSpeaker, neighbor: Ipv4Addr) -> Vec<Ipv4Net> {
    let mut prefixes: Vec<Ipv4Net> = speaker
        .advertised(neighbor)
        .expect("gobgp adj-out")
        .into_iter()
        .map(|path| path.prefix)
        .collect();
    prefixes.sort();
    prefixes
}

/// gobgpd on the hub and a site router (BIRD or FRR) on the spoke exchange
/// routes both ways, the router installs what it learns, and withdrawals
/// and neighbour shutdowns reach gobgpd.
fn exchange_routes<R: BgpRouter>(
    test: &str,
    start: fn(BgpRouterSpec) -> anyhow::Result<R>,
    site_asn: u32,
) {
    let lab = Lab::new(test, 1);
    let site = spoke_address(1);
    let mut gobgp = GobgpSpeaker::start(lab.gobgp_spec(&[(1, site_asn)])).expect("starting gobgpd");
    gobgp
        .set_announced(&[net("10.1.0.0/16")])
        .expect("announcing from gobgpd");
    assert_eq!(
        gobgp.announced().expect("originated"),
        vec![net("10.1.0.0/16")]
    );
    let mut router = start(lab.router_spec(1, site_asn, &["192.168.10.0/24", "192.168.11.0/24"]))
        .expect("starting the site router");

    wait_established(&gobgp, site);
    assert_eq!(
        router.neighbor_state(HUB).expect("router's session state"),
        "Established"
    );
    wait_until("gobgpd learns both site prefixes", ROUTE_WAIT, || {
        learned_prefixes(&gobgp, site) == vec![net("192.168.10.0/24"), net("192.168.11.0/24")]
    });
    let path = gobgp
        .learned()
        .expect("learned")
        .into_iter()
        .find(|path| path.prefix == net("192.168.10.0/24"))
        .expect("learned above");
    assert_eq!(path.as_path, vec![site_asn]);
    assert_eq!(path.next_hop, site);
    let status = gobgp.neighbors().expect("neighbors");
    assert_eq!(status[0].asn, site_asn);
    assert!(status[0].uptime_secs.is_some());
    assert!(status[0].messages_received > 0 && status[0].messages_sent > 0);
    assert!(status[0].routes_received >= 2, "{status:?}");

    wait_until(
        "the site router installs gobgpd's prefix",
        ROUTE_WAIT,
        || lab.routes_via_hub(1, "10.1.0.0/16"),
    );
    let routes = lab.kernel_routes(1);
    assert!(
        !routes.contains("192.168.10.0"),
        "the router installed its own announced prefix: {routes}"
    );

    router
        .withdraw(net("192.168.11.0/24"))
        .expect("withdrawing on the router");
    assert_eq!(router.announced(), vec![net("192.168.10.0/24")]);
    wait_until("the withdrawal reaches gobgpd", ROUTE_WAIT, || {
        learned_prefixes(&gobgp, site) == vec![net("192.168.10.0/24")]
    });
    router
        .announce(net("192.168.12.0/24"))
        .expect("announcing on the router");
    wait_until("the new announcement reaches gobgpd", ROUTE_WAIT, || {
        learned_prefixes(&gobgp, site).contains(&net("192.168.12.0/24"))
    });

    gobgp.set_announced(&[]).expect("withdrawing from gobgpd");
    wait_until("gobgpd's withdrawal leaves the kernel", ROUTE_WAIT, || {
        !lab.kernel_routes(1).contains("10.1.0.0/16")
    });

    router.disable_neighbor(HUB).expect("disabling the session");
    wait_until("the session goes down", ROUTE_WAIT, || {
        state_of(&gobgp, site).0 != "Established"
    });
    assert!(learned_prefixes(&gobgp, site).is_empty());
    router.enable_neighbor(HUB).expect("enabling the session");
    wait_established(&gobgp, site);
    router.stop().expect("stopping the router");
    gobgp.stop().expect("stopping gobgpd");
}

#[test]
fn bird_and_gobgpd_exchange_and_install_routes() {
    exchange_routes("bird", BirdRouter::start, 65010);
}

#[test]
fn frr_and_gobgpd_exchange_and_install_routes() {
    exchange_routes("frr", FrrRouter::start, 65020);
}

#[test]
fn gobgpd_refuses_rejected_exact_prefixes_and_dies_when_dropped() {
    let lab = Lab::new("reject", 1);
    let site = spoke_address(1);
    let mut spec = lab.gobgp_spec(&[(1, 65010)]);
    spec.reject_exact = vec![net("10.200.0.0/16")];
    let gobgp = GobgpSpeaker::start(spec).expect("starting gobgpd");
    let _bird = BirdRouter::start(lab.router_spec(1, 65010, &["10.200.0.0/16", "10.200.1.0/24"]))
        .expect("starting BIRD");
    wait_established(&gobgp, site);
    wait_until("gobgpd learns the allowed prefix", ROUTE_WAIT, || {
        learned_prefixes(&gobgp, site).contains(&net("10.200.1.0/24"))
    });
    wait_until("gobgpd has received both prefixes", ROUTE_WAIT, || {
        gobgp.neighbors().expect("neighbors")[0].routes_received == 2
    });
    assert_eq!(learned_prefixes(&gobgp, site), vec![net("10.200.1.0/24")]);

    let pid = gobgp.pid().expect("gobgpd runs");
    assert!(PathBuf::from(format!("/proc/{pid}")).exists());
    drop(gobgp);
    assert!(
        !PathBuf::from(format!("/proc/{pid}")).exists(),
        "gobgpd {pid} survived its driver"
    );
}

#[test]
fn gobgpd_readvertises_between_neighbors_except_denied_prefixes() {
    let lab = Lab::new("transit", 2);
    let (site_a, site_b) = (spoke_address(1), spoke_address(2));
    let mut spec = lab.gobgp_spec(&[(1, 65010), (2, 65020)]);
    spec.export_deny_overlapping = vec![net("10.50.1.0/24"), net("10.60.0.0/16")];
    let gobgp = GobgpSpeaker::start(spec).expect("starting gobgpd");
    let _bird_a = BirdRouter::start(lab.router_spec(
        1,
        65010,
        &[
            "0.0.0.0/0",
            "10.50.0.0/16",
            "10.60.1.0/24",
            "192.168.20.0/24",
        ],
    ))
    .expect("starting BIRD A");
    let _bird_b = BirdRouter::start(lab.router_spec(2, 65020, &["192.168.30.0/24"]))
        .expect("starting BIRD B");
    wait_established(&gobgp, site_a);
    wait_established(&gobgp, site_b);
    wait_until("gobgpd learns all of A's prefixes", ROUTE_WAIT, || {
        learned_prefixes(&gobgp, site_a).len() == 4
    });
    wait_until("A's allowed prefix is advertised to B", ROUTE_WAIT, || {
        advertised_prefixes(&gobgp, site_b) == vec![net("192.168.20.0/24")]
    });
    let path = gobgp.advertised(site_b).expect("adj-out")[0].clone();
    assert_eq!(path.as_path, vec![HUB_ASN, 65010]);
    assert_eq!(path.next_hop, HUB);
    wait_until("B's prefix is advertised to A", ROUTE_WAIT, || {
        advertised_prefixes(&gobgp, site_a) == vec![net("192.168.30.0/24")]
    });
    wait_until("B installs A's allowed prefix", ROUTE_WAIT, || {
        lab.routes_via_hub(2, "192.168.20.0/24")
    });
    let routes = lab.kernel_routes(2);
    for denied in ["default", "10.50.0.0", "10.60.1.0"] {
        assert!(!routes.contains(denied), "B got {denied}: {routes}");
    }
    assert_eq!(
        advertised_prefixes(&gobgp, site_b),
        vec![net("192.168.20.0/24")]
    );
}

#[test]
fn gobgpd_drops_a_session_past_its_prefix_limit() {
    let lab = Lab::new("maxpfx", 1);
    let site = spoke_address(1);
    let mut spec = lab.gobgp_spec(&[(1, 65010)]);
    spec.max_prefixes = 5;
    let gobgp = GobgpSpeaker::start(spec).expect("starting gobgpd");
    let five = [
        "10.1.0.0/24",
        "10.1.1.0/24",
        "10.1.2.0/24",
        "10.1.3.0/24",
        "10.1.4.0/24",
    ];
    let mut bird = BirdRouter::start(lab.router_spec(1, 65010, &five)).expect("starting BIRD");
    wait_established(&gobgp, site);
    wait_until("gobgpd learns the five prefixes", ROUTE_WAIT, || {
        learned_prefixes(&gobgp, site).len() == 5
    });
    assert_eq!(state_of(&gobgp, site).0, "Established");

    bird.announce(net("10.1.5.0/24")).expect("a sixth prefix");
    wait_until(
        "the session is dropped for the prefix limit",
        ROUTE_WAIT,
        || state_of(&gobgp, site) == ("Idle".to_owned(), "PrefixLimit".to_owned()),
    );
    assert!(learned_prefixes(&gobgp, site).is_empty());
    assert_ne!(
        bird.neighbor_state(HUB).expect("BIRD's state"),
        "Established"
    );

    // Back under the limit, the session stays down (gobgpd has no
    // restart timer) until it is enabled again.
    bird.withdraw(net("10.1.5.0/24")).expect("back to five");
    wait_until("BIRD tries the session again", SESSION_WAIT, || {
        bird.neighbor_state(HUB).is_ok_and(|s| s != "Idle")
    });
    assert_eq!(
        state_of(&gobgp, site),
        ("Idle".to_owned(), "PrefixLimit".to_owned())
    );
    gobgp.enable_neighbor(site).expect("enabling the session");
    wait_established(&gobgp, site);
    wait_until("gobgpd learns the five prefixes again", ROUTE_WAIT, || {
        learned_prefixes(&gobgp, site).len() == 5
    });
    assert_eq!(state_of(&gobgp, site).1, "Up");
}

/// Sends SIGKILL to a process.
fn kill9(pid: u32) {
    use nix::sys::signal::{kill, Signal};
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).expect("a pid"));
    kill(pid, Signal::SIGKILL).expect("killing a daemon");
}

/// The state letter of `/proc/PID/stat` (`Z` for a zombie); `None` once
/// the process is gone (reaped).
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, in parentheses, may hold spaces: the state
    // follows the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Polls `reap` until it tells of an exit.
fn wait_for_exit<T>(what: &str, mut reap: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + SESSION_WAIT;
    loop {
        if let Some(exit) = reap() {
            return exit;
        }
        assert!(Instant::now() < deadline, "{what}: no exit seen");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn gobgpd_killed_is_reaped_and_restarted_with_its_configuration() {
    let lab = Lab::new("gobgpkill", 1);
    let site = spoke_address(1);
    let mut gobgp = GobgpSpeaker::start(lab.gobgp_spec(&[(1, 65010)])).expect("starting gobgpd");
    gobgp
        .set_announced(&[net("10.1.0.0/16")])
        .expect("announcing from gobgpd");
    let _bird =
        BirdRouter::start(lab.router_spec(1, 65010, &["192.168.10.0/24"])).expect("starting BIRD");
    wait_established(&gobgp, site);
    assert!(gobgp.reap().is_none(), "a running gobgpd has no exit");

    let pid = gobgp.pid().expect("gobgpd runs");
    kill9(pid);
    let exit = wait_for_exit("gobgpd killed", || gobgp.reap());
    assert_eq!(
        (exit.program.as_str(), exit.pid, exit.how.as_str()),
        ("gobgpd", pid, "killed by signal 9 (SIGKILL)")
    );
    assert_eq!(process_state(pid), None, "gobgpd was not reaped");
    assert!(!gobgp.is_running());
    assert!(gobgp.reap().is_none(), "an exit is told once");
    assert_eq!(gobgp.status().pid, None);

    gobgp.restart().expect("restarting gobgpd");
    let status = gobgp.status();
    assert_eq!(status.restarts, 1);
    assert_eq!(
        status.last_exit.as_deref(),
        Some("killed by signal 9 (SIGKILL)")
    );
    assert!(status.pid.is_some_and(|p| p != pid));
    // Same configuration (the neighbour, its policies), and what it
    // originated before.
    assert_eq!(
        gobgp.announced().expect("originated"),
        vec![net("10.1.0.0/16")]
    );
    wait_established(&gobgp, site);
    wait_until("gobgpd learns the site again", ROUTE_WAIT, || {
        learned_prefixes(&gobgp, site) == vec![net("192.168.10.0/24")]
    });
    wait_until(
        "the site installs gobgpd's prefix again",
        SESSION_WAIT,
        || lab.routes_via_hub(1, "10.1.0.0/16"),
    );
}

/// Kills each daemon of a site router in turn (by program name), checks
/// that the exit is reaped and told, and that a restart brings the
/// session and the routes back.
fn router_daemons_killed_are_reaped_and_restarted<R: BgpRouter>(
    test: &str,
    start: fn(BgpRouterSpec) -> anyhow::Result<R>,
    kill_order: &[&str],
) {
    let lab = Lab::new(test, 1);
    let site = spoke_address(1);
    let mut gobgp = GobgpSpeaker::start(lab.gobgp_spec(&[(1, 65010)])).expect("starting gobgpd");
    gobgp
        .set_announced(&[net("10.1.0.0/16")])
        .expect("announcing from gobgpd");
    let mut router =
        start(lab.router_spec(1, 65010, &["192.168.10.0/24"])).expect("starting the router");
    wait_established(&gobgp, site);
    for (round, program) in kill_order.iter().enumerate() {
        let pid_of = |router: &R, program: &str| {
            router
                .processes()
                .into_iter()
                .find(|p| p.program == program)
                .and_then(|p| p.pid)
        };
        let pid = pid_of(&router, program).expect("the daemon runs");
        kill9(pid);
        let exits = wait_for_exit(program, || Some(router.reap()).filter(|e| !e.is_empty()));
        assert_eq!(exits.len(), 1, "round {round}, {program}: {exits:?}");
        assert_eq!(
            (
                exits[0].program.as_str(),
                exits[0].pid,
                exits[0].how.as_str()
            ),
            (*program, pid, "killed by signal 9 (SIGKILL)")
        );
        assert_eq!(process_state(pid), None, "{program} was not reaped");
        assert!(router.reap().is_empty());
        // A killed daemon may leave its kernel routes behind: remove the
        // one learned, so that only a working restart brings it back.
        let _ = Command::new("ip")
            .args(["-n", lab.netns(1), "route", "del", "10.1.0.0/16"])
            .output();
        assert!(!lab.routes_via_hub(1, "10.1.0.0/16"));

        router.restart().expect("restarting the router");
        let restarted = router
            .processes()
            .into_iter()
            .find(|p| p.program == *program)
            .expect("the daemon is listed");
        assert!(restarted.pid.is_some_and(|p| p != pid), "{restarted:?}");
        assert!(restarted.restarts >= 1, "round {round}: {restarted:?}");
        assert_eq!(
            restarted.last_exit.as_deref(),
            Some("killed by signal 9 (SIGKILL)")
        );
        assert!(router.processes().iter().all(|p| p.pid.is_some()));
        wait_established(&gobgp, site);
        wait_until("gobgpd learns the site again", ROUTE_WAIT, || {
            learned_prefixes(&gobgp, site) == vec![net("192.168.10.0/24")]
        });
        wait_until(
            "the site installs gobgpd's prefix again",
            SESSION_WAIT,
            || lab.routes_via_hub(1, "10.1.0.0/16"),
        );
    }
}

#[test]
fn bird_killed_is_reaped_and_restarted_with_its_configuration() {
    router_daemons_killed_are_reaped_and_restarted("birdkill", BirdRouter::start, &["bird"]);
}

#[test]
fn frr_daemons_killed_are_reaped_and_restarted() {
    router_daemons_killed_are_reaped_and_restarted("frrkill", FrrRouter::start, &["bgpd", "zebra"]);
}

/// Removes a site when dropped.
struct SiteGuard(SiteSpec);

impl Drop for SiteGuard {
    fn drop(&mut self) {
        if let Err(err) = remove_site(&self.0) {
            eprintln!("cleanup failed: {err:#}");
        }
    }
}

#[test]
fn site_hosts_reach_each_other_through_the_router() {
    assert_root();
    let name = |part: &str| format!("vnetdr-{}-site-{part}", std::process::id());
    let spec = SiteSpec {
        routers: vec![name("r")],
        hosts: vec![
            SiteHostSpec {
                netns: name("a"),
                address: "192.168.1.10/24".parse().expect("literal"),
                resolv_conf: None,
            },
            SiteHostSpec {
                netns: name("b"),
                address: "192.168.2.1/24".parse().expect("literal"),
                resolv_conf: None,
            },
        ],
    };
    let guard = SiteGuard(spec.clone());
    build_site(&spec).expect("building the site");

    let ping = Command::new("ip")
        .args(["netns", "exec", &name("a"), "ping", "-c", "1", "-W", "5"])
        .arg("192.168.2.1")
        .output()
        .expect("running ping");
    assert!(
        ping.status.success(),
        "host a cannot ping host b: {}",
        String::from_utf8_lossy(&ping.stdout)
    );
    let router_addresses = ip(&["-n", spec.router(), "-4", "address", "show"]);
    assert!(
        router_addresses.contains("192.168.1.1/32"),
        "{router_addresses}"
    );
    // Host b has the first address, so the router takes the next one.
    assert!(
        router_addresses.contains("192.168.2.2/32"),
        "{router_addresses}"
    );
    let hash = Command::new("ip")
        .args(["netns", "exec", spec.router(), "sysctl", "-n"])
        .arg("net.ipv4.fib_multipath_hash_policy")
        .output()
        .expect("running sysctl");
    assert_eq!(String::from_utf8_lossy(&hash.stdout).trim(), "1");

    remove_site(&spec).expect("removing the site");
    for each in [spec.router(), &name("a"), &name("b")] {
        assert!(!netns::exists(each), "{each} left behind");
    }
    drop(guard);
}

/// The interface a host of a site would send a UDP flow from `sport` by,
/// as its kernel routes it now (`ip route get`, the multipath hash
/// included).
fn route_out(host: &str, sport: u16) -> String {
    let sport = sport.to_string();
    let got = ip(&[
        "-n", host, "route", "get", "10.9.9.9", "ipproto", "udp", "sport", &sport, "dport", "5001",
    ]);
    got.split_whitespace()
        .skip_while(|w| *w != "dev")
        .nth(1)
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_site_with_two_routers_spreads_each_hosts_flows_over_both() {
    assert_root();
    let name = |part: &str| format!("vnetdr-{}-two-{part}", std::process::id());
    let spec = SiteSpec {
        routers: vec![name("r1"), name("r2")],
        hosts: vec![SiteHostSpec {
            netns: name("a"),
            address: "192.168.1.10/24".parse().expect("literal"),
            resolv_conf: None,
        }],
    };
    let guard = SiteGuard(spec.clone());
    build_site(&spec).expect("building the site");
    let host = name("a");
    // Each router on its own link, at the next address the host lacks.
    for (router, address) in [(name("r1"), "192.168.1.1"), (name("r2"), "192.168.1.2")] {
        let listed = ip(&["-n", &router, "-4", "address", "show", "h0"]);
        assert!(listed.contains(&format!("{address}/32")), "{listed}");
        let ping = Command::new("ip")
            .args([
                "netns", "exec", &host, "ping", "-c", "1", "-W", "5", address,
            ])
            .output()
            .expect("running ping");
        assert!(ping.status.success(), "the host cannot reach {router}");
    }
    // The routers are joined to each other, up, for their own sessions.
    assert!(ip(&["-n", &name("r1"), "link", "show", "r1"]).contains("state UP"));
    assert!(ip(&["-n", &name("r2"), "link", "show", "r0"]).contains("state UP"));
    // One default route through both; flows of different ports take both.
    let default = ip(&["-n", &host, "route", "show", "default"]);
    assert_eq!(default.matches("nexthop").count(), 2, "{default}");
    let ways: std::collections::BTreeSet<String> = (40_000..40_064)
        .map(|sport| route_out(&host, sport))
        .collect();
    assert_eq!(
        ways.into_iter().collect::<Vec<_>>(),
        ["eth0", "eth1"],
        "64 flows"
    );
    // A router whose link is down is skipped.
    ip(&["-n", &name("r1"), "link", "set", "h0", "down"]);
    let ways: std::collections::BTreeSet<String> = (40_000..40_064)
        .map(|sport| route_out(&host, sport))
        .collect();
    assert_eq!(ways.into_iter().collect::<Vec<_>>(), ["eth1"]);

    remove_site(&spec).expect("removing the site");
    for each in spec.routers.iter().chain([&host]) {
        assert!(!netns::exists(each), "{each} left behind");
    }
    drop(guard);
}

/// A site router (on the hub namespace) peering with two gobgpd speakers
/// that announce one prefix: the two equal paths become one ECMP kernel
/// route with both next hops.
fn equal_paths_become_one_ecmp_route<R: BgpRouter>(
    test: &str,
    start: fn(BgpRouterSpec) -> anyhow::Result<R>,
) {
    let lab = Lab::new(test, 2);
    let site_asn = 65030;
    let mut speakers = Vec::new();
    for index in [1, 2] {
        let address = spoke_address(index);
        let mut spec = GobgpSpec::new(
            lab.netns(index),
            HUB_ASN,
            address,
            lab.dir(&format!("gobgp{index}")),
            LIMITS,
        );
        spec.neighbors = vec![GobgpNeighbor::new(HUB, site_asn, true)];
        let mut speaker = GobgpSpeaker::start(spec).expect("starting gobgpd");
        speaker
            .set_announced(&[net("10.9.0.0/16")])
            .expect("announcing");
        speakers.push(speaker);
    }
    let neighbor = |index| BgpNeighbor {
        address: spoke_address(index),
        asn: HUB_ASN,
        local_address: Some(HUB),
        multihop: true,
        pass_on: false,
    };
    let _router = start(BgpRouterSpec {
        netns: lab.netns(0).to_owned(),
        asn: site_asn,
        router_id: HUB,
        announce: vec![net("192.168.40.0/24")],
        neighbors: vec![neighbor(1), neighbor(2)],
        install_learned: true,
        run_dir: lab.dir("router"),
    })
    .expect("starting the site router");
    for speaker in &speakers {
        wait_established(speaker, HUB);
    }
    wait_until("one kernel route with two next hops", SESSION_WAIT, || {
        let routes = lab.kernel_routes(0);
        routes.contains("10.9.0.0/16")
            && routes.contains("nexthop via 10.77.0.2 ")
            && routes.contains("nexthop via 10.77.0.3 ")
    });
}

#[test]
fn bird_merges_equal_paths_into_ecmp() {
    equal_paths_become_one_ecmp_route("bird-ecmp", BirdRouter::start);
}

#[test]
fn frr_merges_equal_paths_into_ecmp() {
    equal_paths_become_one_ecmp_route("frr-ecmp", FrrRouter::start);
}
