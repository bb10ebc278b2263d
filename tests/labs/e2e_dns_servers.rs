//! The file's DNS servers (vnetd's `dns_server` key) in a running lab
//! (needs root, see `common::require_root`):
//!
//! - unbound and BIND with zones and no forwarder for `.` become ready:
//!   the lab converges once they answer, `stats` counts both ready and no
//!   failed start, and a VM gets their records through the fabric;
//! - each runs from a directory of its own under `/run/vnetd-dns`,
//!   root's and its group's to read, gone with the lab;
//! - a server that never becomes ready (its namespace drops every
//!   question sent to it over its loopback, where its readiness is asked)
//!   is counted as a failed start and tried again, and holds up neither
//!   an `apply` of another server's key nor that server: the lab
//!   converges and the other answers its new record while the first still
//!   fails; once its namespace lets questions through again, it answers.

use crate::common::{self, wait_for, Lab};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::sync::atomic::Ordering;
use std::time::Duration;

const LAB: &str = r#"
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    subnets:
      - {name: app, address_prefixes: [10.0.1.0/24]}
network_interfaces:
  - name: dns1
    subnet: hub/app
    private_ip_address: 10.0.1.10
    dns_server:
      software: unbound
      zones: [{name: one.example, records: [{name: app, type: A, records: [10.0.1.21]}]}]
  - name: dns2
    subnet: hub/app
    private_ip_address: 10.0.1.11
    dns_server:
      software: bind
      zones: [{name: two.example, records: [{name: app, type: A, records: [10.0.1.22]}]}]
  - {name: client, subnet: hub/app, private_ip_address: 10.0.1.4}
"#;

/// The servers ready, starting, and the starts that failed.
fn servers(lab: &Lab) -> (u64, u64, u64) {
    let counters = &lab.daemon().names_counters().1.dns_servers;
    (
        counters.ready.load(Ordering::Relaxed),
        counters.starting.load(Ordering::Relaxed),
        counters.failed_starts.load(Ordering::Relaxed),
    )
}

/// `dig +short NAME @SERVER` from `ns`, one line per answer.
fn dig(ns: &str, server: &str, name: &str) -> Vec<String> {
    let at = format!("@{server}");
    common::stdout_in(ns, &["dig", &at, "+short", "+time=2", "+tries=1", name])
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.starts_with(';'))
        .collect()
}

fn converged(lab: &Lab) -> bool {
    wait_for(Duration::from_secs(60), || {
        lab.daemon().convergence().converged
    })
}

/// Applies `text` (namespaces prefixed as the lab's) and waits for the
/// lab to converge; says how long that took (not a figure the test
/// holds: machines differ).
fn apply(lab: &Lab, text: &str) {
    let generation = lab.daemon().snapshot().generation;
    let started = std::time::Instant::now();
    lab.daemon()
        .apply("changed.yaml", &common::with_netns_prefix(text, "dnss"))
        .unwrap();
    assert!(lab.daemon().snapshot().generation > generation);
    assert!(converged(lab), "the lab converges after the apply");
    eprintln!("applied and converged in {:?}", started.elapsed());
}

#[test]
fn dns_servers_answer_without_a_root_forwarder_and_never_wait_for_each_other() {
    let lab = Lab::start("dnss", LAB);
    assert!(converged(&lab), "the lab converges");
    // Converged: each server answered or failed once; both answered.
    assert_eq!(servers(&lab), (2, 0, 0));
    let client = lab.ns("client");
    assert_eq!(dig(&client, "10.0.1.10", "app.one.example"), ["10.0.1.21"]);
    assert_eq!(dig(&client, "10.0.1.11", "app.two.example"), ["10.0.1.22"]);
    for (nic, group) in [("dns1", "unbound"), ("dns2", "bind")] {
        let dir = std::path::Path::new("/run/vnetd-dns").join(lab.ns(nic));
        let meta = std::fs::metadata(&dir).unwrap();
        let gid = nix::unistd::Group::from_name(group).unwrap().unwrap().gid;
        assert_eq!(
            (meta.permissions().mode() & 0o777, meta.uid(), meta.gid()),
            (0o750, 0, gid.as_raw()),
            "{}",
            dir.display()
        );
    }

    // dns1's namespace drops what its loopback carries to port 53: the
    // server runs, but never answers its readiness questions.
    let dns1 = lab.ns("dns1");
    common::in_netns(
        &dns1,
        &[
            "nft",
            "add table inet hold; add chain inet hold in { type filter hook input priority 0; }; \
             add rule inet hold in iif lo udp dport 53 drop",
        ],
    );
    let restarted = LAB.replace(
        "records: [{name: app, type: A, records: [10.0.1.21]}]",
        "records: [{name: app, type: A, records: [10.0.1.21]}, {name: app2, type: A, records: \
         [10.0.1.31]}]",
    );
    apply(&lab, &restarted);
    assert!(
        wait_for(Duration::from_secs(60), || servers(&lab).2 >= 1),
        "dns1's start fails: {:?}",
        servers(&lab)
    );
    // Another server's key changes: it answers its new record, and the
    // lab converges, while dns1 still fails.
    let changed = restarted.replace("records: [10.0.1.22]", "records: [10.0.1.23]");
    apply(&lab, &changed);
    assert!(
        wait_for(Duration::from_secs(30), || {
            dig(&client, "10.0.1.11", "app.two.example") == ["10.0.1.23"]
        }),
        "dns2 answers its new record"
    );
    let (ready, _, failed) = servers(&lab);
    assert_eq!(ready, 1, "dns2 alone answers");
    assert!(failed >= 1);

    // Questions let through again: dns1 answers after its back-off.
    common::in_netns(&dns1, &["nft", "delete table inet hold"]);
    assert!(
        wait_for(Duration::from_secs(90), || servers(&lab).0 == 2),
        "dns1 answers again: {:?}",
        servers(&lab)
    );
    assert_eq!(dig(&client, "10.0.1.10", "app2.one.example"), ["10.0.1.31"]);

    let dirs: Vec<_> = ["dns1", "dns2"]
        .map(|nic| std::path::Path::new("/run/vnetd-dns").join(lab.ns(nic)))
        .to_vec();
    drop(lab);
    for dir in dirs {
        assert!(!dir.exists(), "{} is left", dir.display());
    }
}
