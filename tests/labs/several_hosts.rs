//! One lab over three hosts (namespaces on an underlay bridge, each with
//! its own `vnetd run --host`): the hub-and-spoke example with the hub on
//! one host and each spoke on another passes every expectation, each
//! tested by `vnetd verify` on the host of its source and skipped on the
//! others, with offload on and off; a host killed with SIGKILL takes only
//! its own NICs' traffic with it, `vnetd down --host` removes what it
//! left, and once started again it carries traffic again.

use crate::common;

use common::hosts::Cluster;
use common::placement::{hub_spoke_three_hosts, THREE_HOSTS};
use std::collections::BTreeMap;

/// Each host's `vnetd verify --json`: per expectation, the hosts that
/// tested it and passed, and those that skipped it; failures, with their
/// message.
fn verify_on_every_host(cluster: &Cluster) -> (BTreeMap<String, Vec<String>>, Vec<String>) {
    let mut passed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut failed = Vec::new();
    for (host, _) in THREE_HOSTS {
        let out = cluster.ask(host, &["verify", "--json", "--wait", "30"]);
        let text = String::from_utf8_lossy(&out.stdout);
        let report: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!(
                "verify on {host}: {e}: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        for result in report["expectations"].as_array().unwrap() {
            let name = result["name"].as_str().unwrap().to_string();
            if result.get("skipped").is_some() {
                continue;
            }
            if result["passed"].as_bool() == Some(true) {
                passed.entry(name).or_default().push(host.to_string());
            } else {
                failed.push(format!("{name} on {host}: {}", result["message"]));
            }
        }
    }
    (passed, failed)
}

fn hub_spoke_passes_from_the_hosts(tag: &str, offload: bool) {
    let cluster = Cluster::start(tag, &hub_spoke_three_hosts(), &THREE_HOSTS, offload);
    let (passed, failed) = verify_on_every_host(&cluster);
    assert_eq!(failed, Vec::<String>::new());
    // Every expectation, tested once: on its source's host.
    let sources = [
        ("spoke1-pings-spoke2-through-the-nva", "h2"),
        ("spoke1-reaches-spoke2-web-through-the-nva", "h2"),
        ("spoke1-reaches-spoke2-via-nva", "h2"),
        ("spoke2-answers-dns-from-spoke1", "h2"),
        ("spoke2-pings-spoke1-via-nva", "h3"),
        ("telnet-to-spoke2-is-blocked", "h2"),
        ("spoke1-dns-to-shared", "h2"),
        ("hub-shared-reaches-spoke1-ssh", "h1"),
    ];
    let expected: BTreeMap<String, Vec<String>> = sources
        .iter()
        .map(|(name, host)| (name.to_string(), vec![host.to_string()]))
        .collect();
    assert_eq!(passed, expected);
    // Each host says which it is, lists its own NICs and what crossed its
    // underlay: packets both ways, none from an untrusted source.
    for (host, nics) in [
        ("h1", vec!["nva1", "shared1"]),
        ("h2", vec!["vm1"]),
        ("h3", vec!["vm2"]),
    ] {
        let out = cluster.ask(host, &["stats", "--json"]);
        let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(stats["host"], host);
        let listed: Vec<&str> = stats["nics"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(listed, nics);
        let underlay = &stats["underlay"];
        assert_eq!(underlay["inner_mtu"], 1500, "{underlay}");
        assert!(underlay["sent"].as_u64().unwrap() > 0, "{underlay}");
        assert!(underlay["received"].as_u64().unwrap() > 0, "{underlay}");
        assert_eq!(underlay["untrusted"], 0, "{underlay}");
    }
}

#[test]
fn hub_spoke_over_three_hosts_passes_without_offload() {
    hub_spoke_passes_from_the_hosts("sh3n", false);
}

#[test]
fn hub_spoke_over_three_hosts_passes_with_offload() {
    hub_spoke_passes_from_the_hosts("sh3o", true);
}

#[test]
fn a_killed_host_takes_only_its_own_traffic_and_rejoins() {
    let mut cluster = Cluster::start("sh3k", &hub_spoke_three_hosts(), &THREE_HOSTS, false);
    let (vm1, vm2) = (cluster.ns("vm1"), cluster.ns("vm2"));
    assert!(common::ping(&vm1, "10.2.1.4"), "vm1 reaches vm2 before");
    cluster.kill9("h3");
    // vm1 (h2) and shared1 (h1) still talk; vm2 (h3) is gone with its host.
    assert!(common::ping(&vm1, "10.0.2.4"), "vm1 reaches shared1");
    assert!(
        !common::ping(&vm1, "10.2.1.4"),
        "vm2 answered with its host down"
    );
    let down = cluster.down("h3");
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    assert!(!common::namespaces_with("sh3k").contains(&vm2));
    cluster.start_host("h3");
    assert!(
        common::wait_for(std::time::Duration::from_secs(10), || common::ping(
            &vm1, "10.2.1.4"
        )),
        "vm1 reaches vm2 once h3 is back"
    );
}
