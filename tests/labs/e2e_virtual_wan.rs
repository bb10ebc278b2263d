//! Virtual WAN with real packets: the two examples run, and what `vnetd
//! check` finds offline is what the packets do (`vnetd verify`, both
//! directions). In the secured WAN every packet between spokes crosses
//! the firewall of each hub it passes: ping, TCP and iperf3 go through,
//! SSH is stopped by the firewall's rule (counted at the firewall, named in
//! its `AZFWNetworkRule` log), and a round trip between the hubs takes the
//! two regions' figure. With custom isolation blue reaches blue in both
//! hubs and never red, and the hub route tables a running lab answers
//! (`vnetd routes --hub`) are those of the file. Needs root (see
//! `common::require_root`); runs with the kernel fast path on, and off
//! under `VNETD_NO_OFFLOAD`.

use crate::common;

use common::check_agreement::{firewall_log, verify_live};
use common::traffic::{median, round_trips};
use common::{iperf3_server_on, iperf3_transfer_to, ping, tcp_echo, vnetd_command, wait_for, Lab};
use std::process::Command;
use std::time::Duration;
use vnetd::daemon::options::FlowLogOptions;
use vnetd::daemon::RunOptions;
use vnetd::dataplane::DropReason;
use vnetd::topology::catalog::round_trips::{fit, round_trip};

fn example(name: &str) -> String {
    std::fs::read_to_string(format!("{}/config/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// `vnetd routes --hub HUB [--table T] --json` from the running lab and
/// from the file it runs: the same answer.
fn assert_hub_routes_live_equal_offline(lab: &mut Lab, hub: &str, table: &str) {
    let socket = lab.serve_control();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &*lab.daemon().snapshot().topology.text).unwrap();
    let args = ["routes", "--hub", hub, "--table", table, "--json"];
    let live = vnetd_command(&socket).args(args).output().unwrap();
    let offline = Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .args(args)
        .arg("--config")
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        live.status.success(),
        "{}",
        String::from_utf8_lossy(&live.stderr)
    );
    assert!(
        offline.status.success(),
        "{}",
        String::from_utf8_lossy(&offline.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&live.stdout),
        String::from_utf8_lossy(&offline.stdout)
    );
    let rows: serde_json::Value = serde_json::from_slice(&live.stdout).unwrap();
    assert!(
        !rows["value"].as_array().unwrap().is_empty(),
        "{hub}/{table} holds routes"
    );
}

#[test]
fn secured_hubs_carry_every_spoke_packet_through_their_firewalls() {
    let logs = tempfile::tempdir().unwrap();
    let options = RunOptions {
        flow_log: Some(FlowLogOptions {
            dir: logs.path().to_path_buf(),
            interval: Duration::from_millis(500),
        }),
        ..RunOptions::default()
    };
    let text = common::with_netns_prefix(&example("virtual-wan.yaml"), "exvw");
    let mut lab = Lab::start_with("exvw", &text, options);
    let (vm11, vm12, vm21) = (lab.ns("vm11"), lab.ns("vm12"), lab.ns("vm21"));
    assert!(ping(&vm11, "10.12.1.4"), "same hub, through fw-weu");
    assert!(
        ping(&vm11, "10.21.1.4"),
        "across hubs, through both firewalls"
    );
    let carried = lab.stats("fw-weu").packets_sent;
    assert!(carried >= 6, "fw-weu carried the pings: {carried}");
    assert!(lab.stats("fw-neu").packets_sent >= 3, "fw-neu carried them");

    // TCP across the hubs, and SSH stopped by the firewall's rule.
    assert!(tcp_echo(&vm11, &vm21, "10.21.1.4:80".parse().unwrap()));
    let denied_before = lab.stats("fw-weu").drops_for(DropReason::FirewallDenied);
    assert!(!tcp_echo(&vm11, &vm12, "10.12.1.4:22".parse().unwrap()));
    let denied = lab.stats("fw-weu").drops_for(DropReason::FirewallDenied) - denied_before;
    assert!(denied >= 1, "the SSH attempt was dropped at fw-weu");

    // iperf3 across both hubs and both firewalls.
    let _server = iperf3_server_on(&vm21, "10.21.1.4", 5201);
    let report = iperf3_transfer_to(&vm11, "10.21.1.4", 5201, "8M");
    // The sender's count is what it put through; the receiver's report is
    // taken when the last bytes may still be in flight.
    let sent = report["end"]["sum_sent"]["bytes"].as_u64().unwrap();
    let received = report["end"]["sum_received"]["bytes"].as_u64().unwrap();
    assert!(sent >= 8 * 1024 * 1024 && received > 0, "{report:#}");

    // A round trip between the hubs takes the two regions' figure.
    let figure = f64::from(round_trip("westeurope", "northeurope").unwrap().us) / 1000.0;
    let rtt = median(round_trips(&vm11, "10.21.1.4", 30, "0.05"));
    assert!(
        rtt >= figure,
        "median {rtt} ms below the regions' {figure} ms"
    );
    assert!(
        rtt - figure <= fit().median_error_ms,
        "median {rtt} ms, the regions' figure {figure} ms"
    );

    // The firewall's log names the rule that stopped SSH.
    let mut records = Vec::new();
    let logged = wait_for(Duration::from_secs(30), || {
        records = firewall_log(logs.path());
        records.iter().any(|r| {
            let p = &r["properties"];
            p["Action"] == "Deny"
                && p["DestinationPort"] == 22
                && p["Rule"] == "no-ssh-between-spokes"
                && p["Policy"] == "spokes"
        })
    });
    assert!(logged, "{records:#?}");

    assert_hub_routes_live_equal_offline(&mut lab, "hub-weu", "defaultRouteTable");
    verify_live(&mut lab);
}

#[test]
fn custom_isolation_keeps_blue_and_red_apart_in_both_hubs() {
    let text = common::with_netns_prefix(&example("virtual-wan-custom-isolation.yaml"), "exvi");
    let mut lab = Lab::start_exact("exvi", &text);
    let (blue1, red1) = (lab.ns("vm-blue1"), lab.ns("vm-red1"));
    assert!(
        ping(&blue1, "10.3.0.4"),
        "blue1 reaches blue2 across the hubs"
    );
    assert!(ping(&lab.ns("vm-red2"), "10.2.0.4"), "red2 reaches red1");
    let unrouted = lab.stats("vm-blue1").drops_for(DropReason::RouteNone);
    assert!(!ping(&blue1, "10.2.0.4"), "blue never reaches red");
    assert!(!ping(&red1, "10.3.0.4"), "red never reaches blue");
    let dropped = lab.stats("vm-blue1").drops_for(DropReason::RouteNone) - unrouted;
    assert!(
        dropped >= 3,
        "dropped at the sender, as route_none: {dropped}"
    );
    assert_hub_routes_live_equal_offline(&mut lab, "hub1", "RT_BLUE");
    assert_hub_routes_live_equal_offline(&mut lab, "hub2", "RT_RED");
    verify_live(&mut lab);
}

/// The example's design written as a Terraform user writes it imports, and
/// runs with every expectation of the example holding, live as offline.
#[test]
fn the_terraform_of_the_secured_wan_imports_and_runs_as_the_example() {
    let imported = common::import::terraform("virtual-wan-secured");
    let example = example("virtual-wan.yaml");
    // Those that do not involve the branch, which Terraform has no device
    // for.
    let expectations: String = example
        [example.find("expectations:").unwrap()..example.find("\nvnets:").unwrap()]
        .lines()
        .filter(|l| !l.contains("branch"))
        .map(|l| format!("{l}\n"))
        .collect();
    let text = common::with_netns_prefix(&format!("{imported}\n{expectations}\n"), "exvt");
    let mut lab = Lab::start_exact("exvt", &text);
    assert!(
        ping(&lab.ns("vm11"), "10.21.1.4"),
        "across both secured hubs"
    );
    verify_live(&mut lab);
}
