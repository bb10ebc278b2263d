//! The gateways' BGP watchers end to end, as root, with real daemons: what
//! a BIRD branch announces and withdraws reaches the gateway instances'
//! learned routes from gobgp's stream, exactly, and `apply` is never held
//! up by a watcher, even one that stalls half-way through a publication.

mod common;

use common::hybrid::{hybrid_lab, reconfigure_branch};
use common::{wait_for, Lab};
use std::collections::BTreeSet;
use std::sync::mpsc;
use std::time::Duration;
use vnetd::daemon::threads::ThreadKind;

/// The prefixes instance `instance` of `gateway` learned, in the plane the
/// workers forward with now.
fn learned(lab: &Lab, gateway: &str, instance: usize) -> BTreeSet<String> {
    lab.daemon()
        .snapshot()
        .learned
        .of(gateway, instance)
        .iter()
        .map(|r| r.prefix.to_string())
        .collect()
}

fn set(prefixes: &[&str]) -> BTreeSet<String> {
    prefixes.iter().map(|p| p.to_string()).collect()
}

const ANNOUNCED: &str = "  route 172.20.0.0/16 unreachable;\n";

#[test]
fn announcements_and_withdrawals_reach_the_learned_routes_exactly() {
    let prefix = "bgw";
    let gateway = format!("{prefix}-gw");
    let lab = Lab::start_exact(prefix, &hybrid_lab(prefix, "bird", false));
    let branch = set(&["172.20.0.0/16", "192.168.0.0/16"]);
    assert!(
        wait_for(Duration::from_secs(60), || learned(&lab, &gateway, 0)
            == branch),
        "learned: {:?}",
        learned(&lab, &gateway, 0)
    );
    // A new prefix on the branch: learned, and nothing else.
    reconfigure_branch(prefix, |c| {
        c.replace(
            ANNOUNCED,
            &format!("{ANNOUNCED}  route 10.99.0.0/16 unreachable;\n"),
        )
    });
    let more = set(&["10.99.0.0/16", "172.20.0.0/16", "192.168.0.0/16"]);
    assert!(
        wait_for(Duration::from_secs(20), || learned(&lab, &gateway, 0)
            == more),
        "learned: {:?}",
        learned(&lab, &gateway, 0)
    );
    // Two withdrawn at once: exactly the third stays.
    reconfigure_branch(prefix, |c| {
        c.replace(ANNOUNCED, "")
            .replace("  route 10.99.0.0/16 unreachable;\n", "")
    });
    let fewer = set(&["192.168.0.0/16"]);
    assert!(
        wait_for(Duration::from_secs(20), || learned(&lab, &gateway, 0)
            == fewer),
        "learned: {:?}",
        learned(&lab, &gateway, 0)
    );
}

#[test]
fn apply_completes_while_a_bgp_watcher_is_stalled() {
    let prefix = "bgs";
    let gateway = format!("{prefix}-gw");
    let text = hybrid_lab(prefix, "bird", false);
    let lab = Lab::start_exact(prefix, &text);
    let branch = set(&["172.20.0.0/16", "192.168.0.0/16"]);
    assert!(
        wait_for(Duration::from_secs(60), || learned(&lab, &gateway, 0)
            == branch),
        "learned: {:?}",
        learned(&lab, &gateway, 0)
    );
    // The watcher stops in the middle of publishing a withdrawal.
    let faults_held = || lab.daemon().faults().stalled(ThreadKind::BgpWatcher) > 0;
    lab.daemon().faults().arm_stall(ThreadKind::BgpWatcher);
    reconfigure_branch(prefix, |c| c.replace(ANNOUNCED, ""));
    assert!(
        wait_for(Duration::from_secs(30), faults_held),
        "the watcher reached its stall point"
    );
    // An apply that adds a NIC finishes all the same.
    let added = text.replace(
        "network_interfaces:\n",
        &format!(
            "network_interfaces:\n  - {{name: vm3, subnet: spoke1/app, private_ip_address: 10.1.1.5, netns: {prefix}-vm3}}\n"
        ),
    );
    assert_ne!(added, text);
    let (done, applied) = mpsc::channel();
    let daemon = lab.shared();
    let apply = std::thread::spawn(move || {
        let outcome = daemon.apply("added.yaml", &added);
        let _ = done.send(());
        outcome
    });
    let finished = wait_for(Duration::from_secs(60), || applied.try_recv().is_ok());
    let still_held = faults_held();
    // Released before any assertion, so that a failure leaves no thread
    // held.
    lab.daemon().faults().release_stall(ThreadKind::BgpWatcher);
    assert!(finished, "apply did not finish while the watcher stalled");
    assert!(still_held, "the watcher was held during the whole apply");
    let summary = apply.join().unwrap().unwrap();
    assert_eq!(summary.added, ["vm3"]);
    // The applied plane carries what the watcher had read: the withdrawal.
    let snapshot = lab.daemon().snapshot();
    assert!(snapshot.nic_by_name("vm3").is_some());
    assert_eq!(learned(&lab, &gateway, 0), set(&["192.168.0.0/16"]));
    // The released watcher publishes nothing older over it.
    assert!(wait_for(Duration::from_secs(30), || !faults_held()));
    let after = lab.daemon().snapshot();
    assert!(after.nic_by_name("vm3").is_some());
    assert!(after.generation >= snapshot.generation);
    assert_eq!(learned(&lab, &gateway, 0), set(&["192.168.0.0/16"]));
}
