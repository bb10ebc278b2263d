//! The routing daemons of a running lab are supervised, end to end, as
//! root, with real gobgpd, BIRD and FRR: a daemon killed with SIGKILL is
//! reaped (no zombie), told in `stats`, and started again from its
//! configuration; while a gateway instance's speaker is down, what it
//! learned leaves the VNet and `bgp-peer-status` shows that instance as
//! not running next to the healthy one; a session dropped for the 4000
//! prefix limit shows the reason and comes back once the site is under
//! the limit.
//!
//! Each lab has its own namespace prefix (`rsg`, `rsb`, `rsf`, `rsp`), so
//! the tests run side by side; every wait polls a condition against a
//! generous deadline, and each lab is removed when its test ends, passed
//! or failed (the `Lab` guard).

use crate::common;

use common::hybrid::{hybrid_lab, BRANCH_HOST, HUB_VM};
use common::{ping, vnetd_command, wait_for, Lab};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use vnetd::daemon::RoutingDaemon;
use vnetd::diagnostics::{self, gateway};

/// The instances of an active-active gateway in 10.0.255.224/27.
const INSTANCE_0: &str = "10.0.255.228";
const INSTANCE_1: &str = "10.0.255.229";
/// Sessions come up within seconds; restarts back off up to 30 s.
const DEADLINE: Duration = Duration::from_secs(90);

/// The next hops of the hub VM's Active gateway route to `prefix`, sorted
/// (empty without one).
fn gateway_next_hops(lab: &Lab, prefix: &str) -> Vec<String> {
    let snap = lab.daemon().snapshot();
    let idx = snap.port_by_name("hub-vm").unwrap();
    let mut hops: Vec<String> = diagnostics::routes(&snap, idx)
        .value
        .into_iter()
        .filter(|r| {
            r.source == "VirtualNetworkGateway"
                && r.state == "Active"
                && r.address_prefix == [prefix]
        })
        .flat_map(|r| r.next_hop_ip_address)
        .collect();
    hops.sort();
    hops
}

/// The instances (local addresses) whose learned routes list `prefix`,
/// as `gateway learned-routes` shows them.
fn learned_by(lab: &Lab, gw: &str, prefix: &str) -> Vec<String> {
    let snap = lab.daemon().snapshot();
    let g = gateway::find_gateway(&snap, gw).unwrap();
    let mut locals: Vec<String> = gateway::learned_routes(&snap, g)
        .value
        .into_iter()
        .filter(|r| r.origin == "EBgp" && r.network == prefix)
        .map(|r| r.local_address)
        .collect();
    locals.sort();
    locals
}

/// (local address, state, reason) of each row of `bgp-peer-status`.
fn peer_rows(lab: &Lab, gw: &str) -> Vec<(String, String, Option<String>)> {
    let mut rows: Vec<_> = lab
        .daemon()
        .bgp_peer_status(gw)
        .unwrap()
        .value
        .into_iter()
        .map(|p| (p.local_address, p.state, p.reason))
        .collect();
    rows.sort();
    rows
}

fn connected(local: &str) -> (String, String, Option<String>) {
    (local.to_string(), "Connected".to_string(), None)
}

/// The routing daemon `program` serving `serves`, as `stats` lists it.
fn daemon_row(lab: &Lab, program: &str, serves: &str) -> RoutingDaemon {
    let rows = lab.daemon().routing_daemons();
    rows.iter()
        .find(|d| d.program == program && d.serves == serves)
        .unwrap_or_else(|| panic!("no {program} serving {serves} in {rows:#?}"))
        .clone()
}

fn kill9(pid: u32) {
    use nix::sys::signal::{kill, Signal};
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap());
    kill(pid, Signal::SIGKILL).unwrap();
}

/// True once `pid` is gone from the process table: it ended and was
/// reaped (a zombie still has its `/proc` entry).
fn reaped(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

/// Runs `vnetd ARGS` against the lab's control socket: exit code, stdout.
fn vnetd(socket: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = vnetd_command(socket).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn a_killed_gateway_speaker_is_reaped_withdrawn_reported_and_restarted() {
    let prefix = "rsg";
    let gw = format!("{prefix}-gw");
    let mut lab = Lab::start_exact(prefix, &hybrid_lab(prefix, "bird", true));
    let socket = lab.serve_control();
    let both = vec![INSTANCE_0.to_string(), INSTANCE_1.to_string()];
    assert!(
        wait_for(DEADLINE, || gateway_next_hops(&lab, "192.168.0.0/16")
            == both),
        "the branch was never learned by both instances: {:?}",
        gateway_next_hops(&lab, "192.168.0.0/16")
    );
    assert!(wait_for(DEADLINE, || peer_rows(&lab, &gw)
        == [connected(INSTANCE_0), connected(INSTANCE_1)]));
    let serves_0 = format!("gateway {gw} instance 0");
    let serves_1 = format!("gateway {gw} instance 1");
    let first = daemon_row(&lab, "gobgpd", &serves_0);
    assert_eq!(
        (
            first.state.as_str(),
            first.restarts,
            first.last_exit.clone()
        ),
        ("running", 0, None)
    );
    let pid = first.pid.unwrap();

    // Instance 0's gobgpd is killed while its configuration file is away,
    // so it stays down (each restart fails) until the file is back: the
    // down state is held as long as the test looks at it.
    let run_dir = format!("/run/vnetd-bgp/{gw}-0");
    let config = format!("{run_dir}/gobgpd.toml");
    let held = format!("{run_dir}/gobgpd.toml.held");
    std::fs::rename(&config, &held).unwrap();
    kill9(pid);
    assert!(wait_for(DEADLINE, || reaped(pid)), "gobgpd left a zombie");
    assert!(
        wait_for(DEADLINE, || daemon_row(&lab, "gobgpd", &serves_0)
            .restart_error
            .is_some()),
        "no failed restart told: {:#?}",
        lab.daemon().routing_daemons()
    );
    let down = daemon_row(&lab, "gobgpd", &serves_0);
    assert_eq!((down.state.as_str(), down.pid), ("down", None), "{down:#?}");
    assert!(
        down.restart_error
            .as_deref()
            .is_some_and(|e| e.contains("gobgpd.toml")),
        "{down:#?}"
    );
    // What instance 0 learned is withdrawn: the VNet reaches the branch
    // through instance 1 alone, and only instance 1 lists the route. The
    // instance's watcher withdraws it when the supervisor tells it the
    // speaker is down, on a thread of its own: the failed restart may be
    // reported first.
    let withdrawn = || {
        gateway_next_hops(&lab, "192.168.0.0/16") == [INSTANCE_1]
            && learned_by(&lab, &gw, "192.168.0.0/16") == [INSTANCE_1]
    };
    assert!(
        wait_for(DEADLINE, withdrawn),
        "instance 0's routes were never withdrawn: {:?}, learned by {:?}",
        gateway_next_hops(&lab, "192.168.0.0/16"),
        learned_by(&lab, &gw, "192.168.0.0/16")
    );
    // Each instance on its own: the dead one says so, the other's session
    // still shows.
    assert_eq!(
        peer_rows(&lab, &gw),
        [
            (
                INSTANCE_0.to_string(),
                "Unknown".to_string(),
                Some("speaker not running".to_string())
            ),
            connected(INSTANCE_1)
        ]
    );
    let (code, out) = vnetd(&socket, &["gateway", "bgp-peer-status", "--gateway", &gw]);
    assert_eq!(code, Some(0), "{out}");
    let rows: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("192.168.255.1"))
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert!(
        rows.iter()
            .any(|r| r.contains(INSTANCE_0) && r.ends_with("speaker not running")),
        "{out}"
    );
    assert!(
        rows.iter()
            .any(|r| r.contains(INSTANCE_1) && r.contains("Connected")),
        "{out}"
    );
    assert!(
        !out.contains("netns exec") && !out.contains("rpc error"),
        "{out}"
    );
    let (code, out) = vnetd(&socket, &["stats"]);
    assert_eq!(code, Some(0), "{out}");
    let row = out
        .lines()
        .find(|l| l.starts_with("gobgpd") && l.contains(&serves_0))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(row.contains(" down "), "{row}");

    // The configuration is back: the next attempt starts gobgpd from it,
    // and the routes and the session come back.
    std::fs::rename(&held, &config).unwrap();
    assert!(
        wait_for(DEADLINE, || gateway_next_hops(&lab, "192.168.0.0/16")
            == both),
        "instance 0 never learned the branch again: {:#?}",
        lab.daemon().routing_daemons()
    );
    assert_eq!(learned_by(&lab, &gw, "192.168.0.0/16"), both);
    assert!(wait_for(DEADLINE, || peer_rows(&lab, &gw)
        == [connected(INSTANCE_0), connected(INSTANCE_1)]));
    let back = daemon_row(&lab, "gobgpd", &serves_0);
    assert_eq!(
        (back.state.as_str(), back.restart_error.as_deref()),
        ("running", None)
    );
    assert!(back.restarts >= 2, "a failed and a good restart: {back:#?}");
    assert!(back.pid.is_some_and(|p| p != pid));

    // Instance 1's gobgpd killed with nothing held: restarted once, at
    // once, from its configuration.
    let other = daemon_row(&lab, "gobgpd", &serves_1);
    let pid = other.pid.unwrap();
    kill9(pid);
    assert!(wait_for(DEADLINE, || reaped(pid)), "gobgpd left a zombie");
    assert!(wait_for(DEADLINE, || daemon_row(&lab, "gobgpd", &serves_1)
        .restarts
        == 1));
    let restarted = daemon_row(&lab, "gobgpd", &serves_1);
    assert_eq!(
        (
            restarted.state.as_str(),
            restarted.last_exit.as_deref(),
            restarted.restart_error
        ),
        ("running", Some("killed by signal 9 (SIGKILL)"), None)
    );
    assert!(restarted.pid.is_some_and(|p| p != pid));
    assert!(wait_for(DEADLINE, || peer_rows(&lab, &gw)
        == [connected(INSTANCE_0), connected(INSTANCE_1)]));
    assert!(wait_for(DEADLINE, || gateway_next_hops(
        &lab,
        "192.168.0.0/16"
    ) == both));
    assert!(ping(&format!("{prefix}-onprem"), HUB_VM));
}

/// Kills the site router's `program` and waits for it to be reaped,
/// restarted once and the branch host to reach the hub again.
fn a_killed_site_daemon_is_restarted(prefix: &str, speaker: &str, program: &str) {
    let lab = Lab::start_exact(prefix, &hybrid_lab(prefix, speaker, false));
    let onprem = format!("{prefix}-onprem");
    assert!(
        wait_for(DEADLINE, || ping(&onprem, HUB_VM)),
        "the branch never reached the hub"
    );
    let before = daemon_row(&lab, program, "site branch1");
    assert_eq!((before.state.as_str(), before.restarts), ("running", 0));
    let pid = before.pid.unwrap();
    kill9(pid);
    assert!(
        wait_for(DEADLINE, || reaped(pid)),
        "{program} left a zombie"
    );
    assert!(
        wait_for(DEADLINE, || daemon_row(&lab, program, "site branch1")
            .restarts
            == 1),
        "{:#?}",
        lab.daemon().routing_daemons()
    );
    let after = daemon_row(&lab, program, "site branch1");
    assert_eq!(
        (
            after.state.as_str(),
            after.last_exit.as_deref(),
            after.restart_error
        ),
        ("running", Some("killed by signal 9 (SIGKILL)"), None)
    );
    assert!(after.pid.is_some_and(|p| p != pid));
    assert!(
        wait_for(DEADLINE, || ping(&onprem, HUB_VM)),
        "the branch stayed cut off after {program} was restarted"
    );
    assert!(ping(&lab.ns("hub-vm"), BRANCH_HOST));
}

#[test]
fn a_killed_bird_is_restarted_and_the_site_reachable_again() {
    a_killed_site_daemon_is_restarted("rsb", "bird", "bird");
}

#[test]
fn a_killed_frr_bgpd_is_restarted_and_the_site_reachable_again() {
    a_killed_site_daemon_is_restarted("rsf", "frr", "bgpd");
}

#[test]
fn a_session_over_the_prefix_limit_is_dropped_shown_and_let_up_again() {
    let prefix = "rsp";
    let gw = format!("{prefix}-gw");
    let mut lab = Lab::start_exact(prefix, &hybrid_lab(prefix, "bird", false));
    let socket = lab.serve_control();
    // The single instance of an active-standby gateway: the last usable
    // address of GatewaySubnet.
    let instance = "10.0.255.254";
    assert!(wait_for(DEADLINE, || gateway_next_hops(
        &lab,
        "192.168.0.0/16"
    ) == [instance]));
    assert_eq!(peer_rows(&lab, &gw), [connected(instance)]);

    // The branch announces 4001 prefixes: its two ranges and 3999 /32s.
    let run_dir = format!("/run/vnetd-bgp/{prefix}-branch1");
    let config_path = format!("{run_dir}/bird.conf");
    let original = std::fs::read_to_string(&config_path).unwrap();
    let anchor = "  route 172.20.0.0/16 unreachable;\n";
    assert!(original.contains(anchor), "{original}");
    let extra: String = (0..3999u32)
        .map(|i| format!("  route 100.64.{}.{}/32 unreachable;\n", i / 256, i % 256))
        .collect();
    let birdc_configure = || {
        let reply = Command::new("birdc")
            .args(["-s", &format!("{run_dir}/bird.ctl"), "configure"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&reply.stdout).into_owned();
        assert!(text.contains("Reconfigured"), "{text}");
    };
    std::fs::write(
        &config_path,
        original.replace(anchor, &(anchor.to_string() + &extra)),
    )
    .unwrap();
    birdc_configure();
    let reason = Some("prefix limit 4000 exceeded".to_string());
    assert!(
        wait_for(DEADLINE, || peer_rows(&lab, &gw)
            == [(
                instance.to_string(),
                "Stopped".to_string(),
                reason.clone()
            )]),
        "{:?}",
        peer_rows(&lab, &gw)
    );
    assert!(wait_for(DEADLINE, || gateway_next_hops(
        &lab,
        "192.168.0.0/16"
    )
    .is_empty()));
    let (code, out) = vnetd(&socket, &["gateway", "bgp-peer-status", "--gateway", &gw]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("192.168.255.1") && l.ends_with("prefix limit 4000 exceeded")),
        "{out}"
    );

    // Back to one prefix: the gateway lets the session up again and it
    // stays up.
    let one = original.replace(anchor, "");
    assert_ne!(one, original);
    std::fs::write(&config_path, one).unwrap();
    birdc_configure();
    assert!(
        wait_for(DEADLINE, || peer_rows(&lab, &gw) == [connected(instance)]),
        "{:?}",
        peer_rows(&lab, &gw)
    );
    assert!(wait_for(DEADLINE, || gateway_next_hops(
        &lab,
        "192.168.0.0/16"
    ) == [instance]));
    assert!(gateway_next_hops(&lab, "172.20.0.0/16").is_empty());
    let status = lab.daemon().bgp_peer_status(&gw).unwrap();
    assert_eq!(status.value[0].routes_received, 1);
    assert!(ping(&format!("{prefix}-onprem"), HUB_VM));
}
