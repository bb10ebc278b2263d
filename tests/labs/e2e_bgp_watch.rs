//! The gateways' BGP watchers end to end, as root, with real daemons: what
//! a BIRD branch announces and withdraws reaches the gateway instances'
//! learned routes from gobgp's stream, exactly, and `apply` is never held
//! up by a watcher, even one that stalls half-way through a publication,
//! nor a watcher or a report by an `apply` held half-way.

use crate::common;

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
    assert!(snapshot.port_by_name("vm3").is_some());
    assert_eq!(learned(&lab, &gateway, 0), set(&["192.168.0.0/16"]));
    // The released watcher publishes nothing older over it.
    assert!(wait_for(Duration::from_secs(30), || !faults_held()));
    let after = lab.daemon().snapshot();
    assert!(after.port_by_name("vm3").is_some());
    assert!(after.generation >= snapshot.generation);
    assert_eq!(learned(&lab, &gateway, 0), set(&["192.168.0.0/16"]));
}

/// Runs `ask` on a thread of its own; fails when it has not answered
/// within 20 s (an answer that waits for a held apply never comes).
fn answered<T: Send + 'static>(what: &str, ask: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(ask());
    });
    rx.recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{what}: no answer while the apply was held"))
}

#[test]
fn routes_learned_and_the_speakers_answer_while_an_apply_is_held() {
    let prefix = "bga";
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
    // An apply that adds a NIC, held before it publishes.
    lab.daemon().faults().arm_apply_stall();
    let added = text.replace(
        "network_interfaces:\n",
        &format!(
            "network_interfaces:\n  - {{name: vm3, subnet: spoke1/app, private_ip_address: 10.1.1.5, netns: {prefix}-vm3}}\n"
        ),
    );
    let daemon = lab.shared();
    let apply = std::thread::spawn(move || daemon.apply("added.yaml", &added));
    assert!(
        wait_for(Duration::from_secs(60), || lab
            .daemon()
            .faults()
            .applies_stalled()
            == 1),
        "the apply reached its stall point"
    );
    // The speakers answer, and the routing daemons are reported.
    let daemon = lab.shared();
    let asked = gateway.clone();
    let peers = answered("bgp-peer-status", move || {
        daemon.bgp_peer_status(&asked).unwrap()
    });
    assert!(
        peers.value.iter().any(|p| p.state == "Connected"),
        "{peers:?}"
    );
    let daemon = lab.shared();
    let daemons = answered("the routing daemons", move || daemon.routing_daemons());
    assert!(
        daemons
            .iter()
            .any(|d| d.program == "gobgpd" && d.state == "running"),
        "{daemons:?}"
    );
    // A new prefix on the branch is learned and published meanwhile.
    reconfigure_branch(prefix, |c| {
        c.replace(
            ANNOUNCED,
            &format!("{ANNOUNCED}  route 10.99.0.0/16 unreachable;\n"),
        )
    });
    let more = set(&["10.99.0.0/16", "172.20.0.0/16", "192.168.0.0/16"]);
    let published = wait_for(Duration::from_secs(20), || {
        learned(&lab, &gateway, 0) == more
    });
    let still_held = lab.daemon().faults().applies_stalled() == 1;
    let learned_at = lab.daemon().snapshot().generation;
    // Released before any assertion, so that a failure leaves no apply
    // held.
    lab.daemon().faults().release_apply_stall();
    let summary = apply.join().unwrap().unwrap();
    assert!(published, "learned: {:?}", learned(&lab, &gateway, 0));
    assert!(
        still_held,
        "the apply was held while the route was published"
    );
    // The applied plane comes after, with the route learned meanwhile.
    assert_eq!(summary.added, ["vm3"]);
    assert!(summary.generation > learned_at);
    let snapshot = lab.daemon().snapshot();
    assert!(snapshot.port_by_name("vm3").is_some());
    assert_eq!(learned(&lab, &gateway, 0), more);
}
