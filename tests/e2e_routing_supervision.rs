//! The routing daemons of a running lab are supervised, end to end, as
//! root, with real gobgpd, BIRD and FRR: a daemon killed with SIGKILL is
//! reaped (no zombie), told in `stats`, and started again from its
//! configuration, and the site it serves is reachable again.
//!
//! Each lab has its own namespace prefix (`rsb`, `rsf`), so the tests run
//! side by side; every wait polls a condition against a generous
//! deadline, and each lab is removed when its test ends, passed or failed
//! (the `Lab` guard).

mod common;

use common::{ping, Lab};
use std::path::Path;
use std::time::{Duration, Instant};
use vnetd::daemon::RoutingDaemon;

const BRANCH_HOST: &str = "192.168.1.10";
const HUB_VM: &str = "10.0.1.4";
/// Sessions come up within seconds; restarts back off up to 30 s.
const DEADLINE: Duration = Duration::from_secs(90);

/// A hub with a BGP gateway (two instances when `active_active`) and a
/// branch with one host whose router runs `speaker`.
fn lab_text(prefix: &str, speaker: &str, active_active: bool) -> String {
    format!(
        "
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    location: westeurope
    subnets:
      - {{name: default, address_prefixes: [10.0.1.0/24]}}
      - {{name: GatewaySubnet, address_prefixes: [10.0.255.224/27]}}
network_interfaces:
  - {{name: hub-vm, subnet: hub/default, private_ip_address: {HUB_VM}, netns: {prefix}-hub-vm}}
on_premises_sites:
  - name: branch1
    address_space: [192.168.0.0/16, 172.20.0.0/16]
    router: {{netns: {prefix}-branch1, asn: 65050, bgp_speaker: {speaker}}}
    hosts:
      - {{name: onprem-vm, private_ip_address: {BRANCH_HOST}, netns: {prefix}-onprem}}
virtual_network_gateways:
  - {{name: {prefix}-gw, virtual_network: hub, type: Vpn, vpn_type: RouteBased, sku: VpnGw1, active_active: {active_active}, bgp_enabled: true}}
local_network_gateways:
  - name: branch1-lng
    site: branch1
    gateway_address: 203.0.113.10
    bgp_settings: {{asn: 65050, bgp_peering_address: 192.168.255.1}}
virtual_network_gateway_connections:
  - {{name: hub-to-branch1, type: IPsec, virtual_network_gateway: {prefix}-gw, local_network_gateway: branch1-lng, bgp_enabled: true, shared_key: lab}}
"
    )
}

/// Polls `done` every 50 ms until it holds or `limit` passes.
fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
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

/// Kills the site router's `program` and waits for it to be reaped,
/// restarted once and the branch host to reach the hub again.
fn a_killed_site_daemon_is_restarted(prefix: &str, speaker: &str, program: &str) {
    let Some(lab) = Lab::start_exact(prefix, &lab_text(prefix, speaker, false)) else {
        return;
    };
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
