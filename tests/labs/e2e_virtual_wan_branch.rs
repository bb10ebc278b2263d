//! Virtual WAN branches end to end, as root, with real daemons: two hubs
//! of a Standard WAN, each with its VPN gateway (gobgpd in each instance's
//! namespace) and a branch whose router runs BIRD
//! (`tests/data/vwan_branches/two-hubs.yaml`). Each branch router learns
//! the VNets of both hubs and the other branch with the AS paths and
//! ORIGIN Azure shows a branch router, and never the other hub's prefix;
//! a spoke pings a branch host of its own hub and of the other; a prefix
//! the branch withdraws leaves every hub table within a second (asked of
//! the running lab through its control socket, as `vnetd routes --hub`),
//! and the other hub's branch loses it too.
//!
//! Namespaces are named behind `vwb-`, so the lab runs beside others.

use crate::common;

use common::virtual_wan::{hub_prefixes, withdraw_from_bird};
use common::{in_netns, ping, wait_for, Lab};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const PREFIX: &str = "vwb";
/// What branch1 announces besides its hosts' range, to withdraw.
const EXTRA: &str = "172.21.0.0/16";

fn lab_text() -> String {
    let text = include_str!("../data/vwan_branches/two-hubs.yaml");
    text.replace(
        "    address_space: [192.168.10.0/24]\n",
        &format!("    address_space: [192.168.10.0/24, {EXTRA}]\n"),
    )
}

/// Each prefix branch `site`'s BIRD holds from the hub, with the AS paths
/// and ORIGINs of its routes (one per gateway instance, alike).
fn bird_routes(site: &str) -> BTreeMap<String, BTreeSet<String>> {
    let router = format!("{PREFIX}-{site}");
    let ctl = format!("/run/vnetd-bgp/{router}/bird.ctl");
    let text = in_netns(&router, &["birdc", "-s", &ctl, "show", "route", "all"]);
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let (mut prefix, mut origin) = (String::new(), String::new());
    for line in text.lines() {
        if let Some(first) = line.split_whitespace().next() {
            if !line.starts_with(char::is_whitespace) && first.contains('/') {
                prefix = first.to_string();
            }
        }
        let line = line.trim();
        if let Some(o) = line.strip_prefix("BGP.origin: ") {
            origin = o.to_string();
        }
        if let Some(path) = line.strip_prefix("BGP.as_path: ") {
            let seen = format!("{path} {origin}");
            out.entry(prefix.clone()).or_default().insert(seen);
        }
    }
    out
}

/// What the branch should hold: each prefix with its one path and ORIGIN.
fn expected(rows: &[(&str, &str)]) -> BTreeMap<String, BTreeSet<String>> {
    rows.iter()
        .map(|(p, seen)| (p.to_string(), BTreeSet::from([seen.to_string()])))
        .collect()
}

#[test]
fn branches_learn_both_hubs_reach_the_spokes_and_a_withdrawal_leaves_every_hub() {
    let mut lab = Lab::start(PREFIX, &lab_text());
    let socket = lab.serve_control();

    // What Azure shows a branch router: its hub's VNet and prefix behind
    // 65515, the other hub's VNet and branch behind 65515 65520 65520
    // (ORIGIN EGP), never the other hub's prefix.
    let branch1 = expected(&[
        ("10.1.0.0/16", "65515 IGP"),
        ("10.100.0.0/23", "65515 IGP"),
        ("10.2.0.0/16", "65515 65520 65520 EGP"),
        ("192.168.20.0/24", "65515 65520 65520 65002 EGP"),
    ]);
    let branch2 = expected(&[
        ("10.2.0.0/16", "65515 IGP"),
        ("10.200.0.0/23", "65515 IGP"),
        ("10.1.0.0/16", "65515 65520 65520 EGP"),
        ("192.168.10.0/24", "65515 65520 65520 65001 EGP"),
        (EXTRA, "65515 65520 65520 65001 EGP"),
    ]);
    let learned = wait_for(Duration::from_secs(90), || {
        bird_routes("branch1") == branch1 && bird_routes("branch2") == branch2
    });
    assert!(
        learned,
        "the branches never learned what Azure advertises:\nbranch1 {:#?}\nbranch2 {:#?}",
        bird_routes("branch1"),
        bird_routes("branch2")
    );

    // Real packets: a spoke to its hub's branch, and across the hubs.
    assert!(ping(&lab.ns("vm1"), "192.168.10.10"), "vm1 to branch1-host");
    assert!(ping(&lab.ns("vm2"), "192.168.10.10"), "vm2 to branch1-host");
    assert!(
        ping(&format!("{PREFIX}-branch2-host"), "10.1.1.4"),
        "branch2-host to vm1"
    );

    // Both hubs hold the extra prefix; the branch withdraws it.
    for hub in ["hub1", "hub2"] {
        assert!(
            wait_for(Duration::from_secs(10), || hub_prefixes(&socket, hub)
                .contains(&EXTRA.to_string())),
            "{hub}: {:?}",
            hub_prefixes(&socket, hub)
        );
    }
    let withdrawn_at = withdraw_from_bird(&format!("{PREFIX}-branch1"), EXTRA);
    let gone = wait_for(Duration::from_secs(1), || {
        ["hub1", "hub2"]
            .iter()
            .all(|hub| !hub_prefixes(&socket, hub).contains(&EXTRA.to_string()))
    });
    assert!(
        gone,
        "{EXTRA} stayed in a hub table over 1 s: hub1 {:?}, hub2 {:?}",
        hub_prefixes(&socket, "hub1"),
        hub_prefixes(&socket, "hub2")
    );
    eprintln!(
        "{EXTRA} left both hubs' tables in {:?}",
        withdrawn_at.elapsed()
    );
    // The other hub's branch loses it too, and keeps the rest.
    let mut without = branch2.clone();
    without.remove(EXTRA);
    assert!(
        wait_for(Duration::from_secs(10), || bird_routes("branch2")
            == without),
        "branch2 after the withdrawal: {:#?}",
        bird_routes("branch2")
    );
    assert!(ping(&lab.ns("vm1"), "192.168.10.10"), "vm1 to branch1-host");
}

/// The example `config/virtual-wan.yaml`: two secured hubs with routing
/// intent and a BGP branch on hub-weu. The branch reaches a spoke of each
/// hub through the firewalls; every expectation of the file holds with
/// real packets as `vnetd check` found it, and the hub gateway's sessions,
/// learned and advertised routes and every NIC's effective routes are
/// what the BGP model predicts from the file.
#[test]
fn the_virtual_wan_example_runs_with_its_branch() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/virtual-wan.yaml"
    ))
    .unwrap();
    let mut lab = Lab::start("vwbx", &text);
    let host = "vwbx-branch1-host";
    assert!(
        wait_for(Duration::from_secs(90), || ping(host, "10.21.1.4")),
        "the branch never reached vm21 over its BGP routes"
    );
    assert!(ping(&lab.ns("vm11"), "192.168.10.10"), "vm11 to the branch");
    assert!(
        lab.stats("fw-weu").packets_received >= 6,
        "the pings crossed hub-weu's firewall"
    );
    let running = lab.daemon().snapshot().topology.text.to_string();
    let report = common::check_agreement::assert_verify_agrees_with_check(&mut lab, &running);
    assert_eq!(report["failed"], 0, "{report:#}");
    common::bgp_agreement::assert_live_equals_offline(&lab, &running);
}
