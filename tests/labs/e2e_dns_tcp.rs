//! Azure DNS forwarding over TCP, live (needs root, see
//! `common::require_root`): a forwarding ruleset sends `corp.example` from
//! the resolver's outbound endpoint to a real BIND in a VM, and real `dig`
//! in another VM asks 168.63.129.16:
//!
//! - `dig +tcp` for a forwarded name gets BIND's answer on its own TCP
//!   connection, the question forwarded exactly once;
//! - a name whose answer is too long for UDP (twenty long TXT values)
//!   comes truncated over UDP
//!   (BIND's own UDP answer was), and `dig` asking again over TCP gets
//!   every record, forwarded over TCP;
//! - a rule whose target holds no DNS server (it refuses the connection)
//!   is SERVFAIL over TCP, as over UDP, the target's silence counted.

use crate::common;

use common::Lab;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use vnetd::daemon::answering::azure_dns::DnsCounters;

/// `many.corp.example`'s TXT values: twenty (the most Azure holds in a
/// record set) of a hundred characters, past UDP's 1,232 bytes together.
fn many() -> Vec<String> {
    (1..=20)
        .map(|n| format!("{n:02}-{}", "x".repeat(97)))
        .collect()
}

/// The lab, with `many.corp.example`'s values filled in.
fn lab_text() -> String {
    LAB.replace("MANY", &many().join(", "))
}

const LAB: &str = "vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    location: westeurope
    subnets:
      - {name: app, address_prefixes: [10.0.1.0/24]}
      - {name: dns-out, address_prefixes: [10.0.4.16/28]}
network_interfaces:
  - {name: vm1, subnet: hub/app, private_ip_address: 10.0.1.4}
  - {name: quiet, subnet: hub/app, private_ip_address: 10.0.1.6}
  - name: dc
    subnet: hub/app
    private_ip_address: 10.0.1.53
    dns_server:
      software: bind
      zones:
        - name: corp.example
          records:
            - {name: app, type: A, ttl: 60, records: [10.0.1.20]}
            - {name: many, type: TXT, ttl: 60, records: [MANY]}
private_dns_resolvers:
  - name: resolver
    virtual_network: hub
    outbound_endpoints: [{name: out, subnet: hub/dns-out}]
dns_forwarding_rulesets:
  - name: corp
    outbound_endpoints: [resolver/out]
    virtual_network_links: [hub]
    rules:
      - {name: corp, domain_name: corp.example., target_dns_servers: [{ip_address: 10.0.1.53, port: 53}]}
      - {name: quiet, domain_name: quiet.example., target_dns_servers: [{ip_address: 10.0.1.6, port: 53}]}
";

fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// The forwards sent and the forwards no target answered, so far.
fn forwards(dns: &DnsCounters) -> [u64; 2] {
    [read(&dns.forwarded), read(&dns.forward_timeouts)]
}

/// What `dig` in `ns` prints of `args`, one try of ten seconds.
fn dig(ns: &str, args: &[&str]) -> String {
    let mut all = vec!["dig", "+tries=1", "+time=10"];
    all.extend_from_slice(args);
    common::stdout_in(ns, &all)
}

#[test]
fn a_forwarded_question_over_tcp_is_forwarded_over_tcp_and_answered_on_the_askers_connection() {
    let lab = Lab::start("dnstf", &lab_text());
    let vm1 = lab.ns("vm1");
    let dns = lab.daemon().names_counters().0;
    // BIND in dc is up once it answers its zone (asked directly, not
    // through Azure DNS, so that no forward is counted).
    let up = common::wait_for(Duration::from_secs(30), || {
        dig(&vm1, &["+short", "@10.0.1.53", "app.corp.example"]).trim() == "10.0.1.20"
    });
    assert!(up, "BIND in dc never answered");

    // Over TCP: BIND's answer, the question forwarded once.
    let before = forwards(dns);
    let out = dig(&vm1, &["+tcp", "+short", "app.corp.example"]);
    assert_eq!(out.trim(), "10.0.1.20", "over TCP");
    let [forwarded, unanswered] = forwards(dns);
    assert_eq!([forwarded - before[0], unanswered - before[1]], [1, 0]);

    // Too long for UDP: truncated there (TC, no records), as BIND's own
    // UDP answer was...
    let out = dig(&vm1, &["+ignore", "+noedns", "TXT", "many.corp.example"]);
    assert!(out.contains(" tc "), "the UDP answer is truncated: {out}");
    assert!(out.contains("ANSWER: 0,"), "{out}");
    // ...and whole once dig asks again over TCP.
    let before = forwards(dns);
    let out = dig(&vm1, &["+short", "TXT", "many.corp.example"]);
    let mut values: Vec<String> = (out.lines())
        .map(|l| l.trim().trim_matches('"').to_string())
        .collect();
    values.sort();
    assert_eq!(values, many(), "every value, over TCP");
    let [forwarded, unanswered] = forwards(dns);
    assert_eq!(
        [forwarded - before[0], unanswered - before[1]],
        [2, 0],
        "asked over UDP, then over TCP"
    );
}

#[test]
fn a_target_that_does_not_answer_over_tcp_is_servfail_as_over_udp() {
    let lab = Lab::start("dnstq", &lab_text());
    let vm1 = lab.ns("vm1");
    let dns = lab.daemon().names_counters().0;
    for transport in ["+notcp", "+tcp"] {
        let before = forwards(dns);
        let out = dig(&vm1, &[transport, "app.quiet.example"]);
        assert!(out.contains("status: SERVFAIL"), "{transport}: {out}");
        let [forwarded, unanswered] = forwards(dns);
        assert_eq!(
            [forwarded - before[0], unanswered - before[1]],
            [1, 1],
            "{transport}: the one target asked, and its silence counted"
        );
    }
}
