//! `config/public-load-balancer.yaml`, live: real web servers behind the
//! public frontend answer `curl` from the Internet's namespace, new
//! connections spread over the pool, each backend sees the client's own
//! address, and the answer comes from the frontend's address; the backends
//! leave for the Internet's echo server by the outbound rule's address,
//! the one with its own public IP by that, and the VM outside the pool by
//! default outbound access; a port without a rule is dropped and counted;
//! `verify`'s real packets say what `check` says. Needs root.

use crate::common;

use common::check_agreement::assert_verify_agrees_with_check;
use common::Lab;
use std::collections::BTreeSet;
use std::time::Duration;
use vnetd::dataplane::DropReason;

const EXAMPLE: &str = include_str!("../../config/public-load-balancer.yaml");
const BACKENDS: [&str; 3] = ["web1", "web2", "web3"];

#[test]
fn a_public_load_balancer_serves_the_internet_and_its_pool_leaves_by_its_outbound_rule() {
    let mut lab = Lab::start("explb", EXAMPLE);
    let _servers: Vec<common::servers::EchoServer> = BACKENDS
        .iter()
        .map(|b| common::servers::EchoServer::start(&lab.ns(b), 80, Some(b), None))
        .collect();
    let up = |lab: &Lab| {
        let backends = lab.daemon().lb_backends();
        BACKENDS.iter().all(|b| {
            backends
                .iter()
                .any(|(t, s)| t.nic == *b && s.consecutive_successes >= 1)
        })
    };
    assert!(
        common::wait_for(Duration::from_secs(30), || up(&lab)),
        "probes: {:?}",
        lab.daemon().lb_backends()
    );

    // From the Internet: each connection reaches one backend, which sees
    // the client's address; they spread over the pool.
    let internet = format!("{}.internet", lab.ns("web1"));
    let mut answered = BTreeSet::new();
    for _ in 0..24 {
        let answer = common::stdout_in(
            &internet,
            &["curl", "-s", "-m", "3", "http://198.51.100.50/"],
        );
        let (client, backend) = answer
            .trim()
            .split_once(' ')
            .unwrap_or_else(|| panic!("no answer from the frontend: {answer:?}"));
        assert!(
            client.starts_with("203.0.113."),
            "a backend saw {client}, not the Internet's address"
        );
        answered.insert(backend.to_string());
    }
    assert!(answered.len() >= 2, "every connection went to {answered:?}");

    // A port without a rule is dropped at the Internet, counted.
    let before = lab.stats("internet").drops_for(DropReason::LbNoRule);
    let answer = common::stdout_in(
        &internet,
        &["curl", "-s", "-m", "2", "http://198.51.100.50:8080/"],
    );
    assert_eq!(answer, "");
    assert!(lab.stats("internet").drops_for(DropReason::LbNoRule) > before);

    // The ways out, in Azure's precedence.
    for (vm, source, way) in [
        ("web1", "198.51.100.51", "outbound rule"),
        ("web2", "198.51.100.51", "outbound rule"),
        ("web3", "198.51.100.52", "its own public IP"),
        ("jump", "192.0.2.1", "default outbound access"),
    ] {
        assert_eq!(
            common::servers::echo_seen(&lab.ns(vm)),
            source,
            "{vm}: {way}"
        );
    }

    // `verify`'s real packets, both ways, say what `check` says.
    let text = lab.daemon().snapshot().topology.text.to_string();
    let report = assert_verify_agrees_with_check(&mut lab, &text);
    assert_eq!(report["failed"], 0, "{report:#}");
    assert_eq!(report["passed"], 6, "{report:#}");
}
