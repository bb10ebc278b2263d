//! Azure DNS's bounds, live (needs root, see `common::require_root`):
//!
//! - a ruleset that forwards `self.example` to its own resolver's inbound
//!   endpoint (a loop Azure accepts and cautions against, which `vnetd
//!   check` refuses and `run` only warns of): the VM's question is
//!   forwarded once, its turns from the outbound endpoint exactly
//!   [`MAX_IDENTICAL_IN_FLIGHT`] times, the next turn is cut and counted,
//!   and the VM gets SERVFAIL;
//! - a loop through a real DNS server in a VM (unbound, vnetd's
//!   `dns_server` key) that forwards `corp.example` back to the inbound
//!   endpoint, which vnetd cannot see offline: unbound holds a question
//!   that comes back on the one it waits for, and its retries of it are
//!   one asker's identical questions, so the loop costs at most
//!   [`MAX_IDENTICAL_IN_FLIGHT`] forwards past the client's own, each
//!   ending counted (a timeout, or a turn cut), and the client gets
//!   SERVFAIL; eight clients asking at once are all forwarded;
//! - one VM holding 64 TCP connections to 168.63.129.16: exactly
//!   [`MAX_TCP_PER_SOURCE`] are taken, the rest refused and counted, and
//!   another VM of the VNet still resolves over TCP;
//! - the ruleset's loop asked over TCP: each turn is forwarded over TCP
//!   and holds a connection from the outbound endpoint to the inbound
//!   endpoint, so the per-source bound refuses the turn past
//!   [`MAX_TCP_PER_SOURCE`], counted once, and the VM gets SERVFAIL.

use crate::common;

use common::Lab;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use vnetd::daemon::answering::azure_dns::in_flight::MAX_IDENTICAL_IN_FLIGHT;
use vnetd::daemon::answering::azure_dns::tcp::MAX_TCP_PER_SOURCE;
use vnetd::daemon::answering::azure_dns::DnsCounters;
use vnetd::host::netns;

const LAB: &str = "vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    location: westeurope
    subnets:
      - {name: app, address_prefixes: [10.0.1.0/24]}
      - {name: dns-in, address_prefixes: [10.0.4.0/28]}
      - {name: dns-out, address_prefixes: [10.0.4.16/28]}
network_interfaces:
  - {name: vm1, subnet: hub/app, private_ip_address: 10.0.1.4}
  - {name: vm2, subnet: hub/app, private_ip_address: 10.0.1.5}
  - name: dns1
    subnet: hub/app
    private_ip_address: 10.0.1.53
    dns_server:
      software: unbound
      forwarders:
        - {domain: corp.example, addresses: [10.0.4.4]}
        - {domain: ., addresses: [168.63.129.16]}
private_dns_resolvers:
  - name: resolver
    virtual_network: hub
    inbound_endpoints: [{name: in, subnet: hub/dns-in}]
    outbound_endpoints: [{name: out, subnet: hub/dns-out}]
dns_forwarding_rulesets:
  - name: loops
    outbound_endpoints: [resolver/out]
    virtual_network_links: [hub]
    rules:
      - {name: itself, domain_name: self.example., target_dns_servers: [{ip_address: 10.0.4.4, port: 53}]}
      - {name: through-dns1, domain_name: corp.example., target_dns_servers: [{ip_address: 10.0.1.53, port: 53}]}
";

/// The lab's Azure DNS counters.
fn counters(lab: &Lab) -> &DnsCounters {
    lab.daemon().names_counters().0
}

fn read(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// What `dig` in `ns` prints of `args`: the status and the answers.
fn dig(ns: &str, args: &[&str]) -> String {
    let mut all = vec!["dig", "+tries=1", "+time=10"];
    all.extend_from_slice(args);
    common::stdout_in(ns, &all)
}

/// The loop a ruleset makes by forwarding to its own resolver's inbound
/// endpoint, and the one a VM's unbound makes by forwarding back to it:
/// each cut and counted, the VM answered SERVFAIL.
#[test]
fn a_forwarding_loop_is_cut_after_a_bounded_number_of_turns_and_counted() {
    let lab = Lab::start("dnsbl", LAB);
    let vm1 = lab.ns("vm1");
    let dns = counters(&lab);

    let (forwarded, cut) = (read(&dns.forwarded), read(&dns.forward_loops_cut));
    let out = dig(&vm1, &["app.self.example"]);
    assert!(out.contains("status: SERVFAIL"), "{out}");
    // The VM's answer is the last of the loop's: every count is in.
    assert_eq!(
        [
            read(&dns.forwarded) - forwarded,
            read(&dns.forward_loops_cut) - cut
        ],
        [1 + MAX_IDENTICAL_IN_FLIGHT as u64, 1],
        "forwards (the VM's, then the outbound endpoint's turns) and loops cut"
    );

    // unbound in dns1 is up once it answers a VM's name through Azure DNS.
    let up = common::wait_for(Duration::from_secs(30), || {
        dig(&vm1, &["+short", "@10.0.1.53", "vm2.internal.cloudapp.net"]).contains("10.0.1.5")
    });
    assert!(up, "unbound in dns1 never answered");

    // One client: the loop goes round through unbound, which holds the
    // question that comes back on the one it waits for; its retries are
    // one asker's identical questions, so at most MAX_IDENTICAL_IN_FLIGHT
    // of them are forwarded. Every forward ends counted, and the client
    // gets SERVFAIL.
    let before = (
        read(&dns.forwarded),
        read(&dns.forward_timeouts),
        read(&dns.forward_loops_cut),
    );
    let out = dig(&vm1, &["app.corp.example"]);
    assert!(out.contains("status: SERVFAIL"), "{out}");
    let forwarded = read(&dns.forwarded) - before.0;
    assert!(
        (2..=1 + MAX_IDENTICAL_IN_FLIGHT as u64).contains(&forwarded),
        "{forwarded} forwards: the loop goes round, and no further than the bound"
    );
    let ended = common::wait_for(Duration::from_secs(30), || {
        read(&dns.forward_timeouts) - before.1 >= forwarded
    });
    assert!(
        ended,
        "each of the {forwarded} forwards ends counted as a timeout"
    );

    // Eight clients ask one name of the loop at once: none is cut for the
    // others (each forward is the VM's own); all get SERVFAIL.
    let (forwarded, cut) = (read(&dns.forwarded), read(&dns.forward_loops_cut));
    let rcodes = ask_at_once(&vm1, "db.corp.example", MAX_IDENTICAL_IN_FLIGHT);
    assert_eq!(rcodes, vec![SERVFAIL; MAX_IDENTICAL_IN_FLIGHT]);
    let (forwarded, cut) = (
        read(&dns.forwarded) - forwarded,
        read(&dns.forward_loops_cut) - cut,
    );
    assert!(
        forwarded >= MAX_IDENTICAL_IN_FLIGHT as u64,
        "{forwarded} forwarded, {cut} cut: every client's question is forwarded"
    );
    assert!(
        forwarded <= 2 * MAX_IDENTICAL_IN_FLIGHT as u64,
        "{forwarded} forwarded: unbound's turns are bounded too"
    );
}

const SERVFAIL: u8 = 2;

/// Asks Azure DNS (168.63.129.16) for `name`'s A record from `clients`
/// sockets of `ns` at once; each one's response code.
fn ask_at_once(ns: &str, name: &str, clients: usize) -> Vec<u8> {
    let mut query = vec![0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 1, 0, 1]);
    netns::run_in(ns, || {
        let sockets = (0..clients)
            .map(|id| {
                let socket = UdpSocket::bind("0.0.0.0:0")?;
                socket.set_read_timeout(Some(Duration::from_secs(10)))?;
                query[..2].copy_from_slice(&(id as u16 + 1).to_be_bytes());
                socket.send_to(&query, "168.63.129.16:53")?;
                Ok(socket)
            })
            .collect::<anyhow::Result<Vec<UdpSocket>>>()?;
        let mut answer = [0u8; 512];
        sockets
            .iter()
            .map(|s| {
                s.recv(&mut answer)?;
                Ok(answer[3] & 0x0f)
            })
            .collect()
    })
    .unwrap()
}

/// One VM opens 64 TCP connections to 168.63.129.16 and holds them: the
/// first [`MAX_TCP_PER_SOURCE`] are taken, every other is closed at once
/// and counted as over its source's share, and another VM of the VNet
/// still asks over TCP and is answered.
#[test]
fn one_vm_holding_64_tcp_connections_leaves_tcp_dns_to_the_others() {
    let lab = Lab::start("dnsbt", LAB);
    let dns = counters(&lab);
    let (per_source, at_capacity) = (
        read(&dns.tcp_refused_per_source),
        read(&dns.tcp_refused_at_capacity),
    );
    let azure_dns: SocketAddr = "168.63.129.16:53".parse().unwrap();
    // Azure DNS takes TCP (a lab just started on a loaded machine may still
    // be starting its listener): asked from vm2, whose share this leaves.
    let vm2 = lab.ns("vm2");
    assert!(
        common::wait_for(Duration::from_secs(10), || {
            netns::run_in(&vm2, move || {
                Ok(TcpStream::connect_timeout(&azure_dns, Duration::from_secs(1)).is_ok())
            })
            .unwrap()
        }),
        "Azure DNS never took a TCP connection"
    );
    let held = netns::run_in(&lab.ns("vm1"), move || {
        (0..64)
            .map(|_| {
                Ok(TcpStream::connect_timeout(
                    &azure_dns,
                    Duration::from_secs(5),
                )?)
            })
            .collect::<anyhow::Result<Vec<TcpStream>>>()
    })
    .unwrap();
    let refused = 64 - MAX_TCP_PER_SOURCE as u64;
    // Refused as they are accepted, which is when the thread gets to them.
    common::wait_for(Duration::from_secs(10), || {
        read(&dns.tcp_refused_per_source) - per_source >= refused
    });
    let out = dig(
        &lab.ns("vm2"),
        &["+tcp", "+short", "vm1.internal.cloudapp.net"],
    );
    assert_eq!(out.trim(), "10.0.1.4", "vm2 over TCP");
    assert_eq!(
        [
            read(&dns.tcp_refused_per_source) - per_source,
            read(&dns.tcp_refused_at_capacity) - at_capacity,
        ],
        [refused, 0],
        "refused over the source's share, and with every connection held"
    );
    drop(held);
}

/// The ruleset's loop to its own inbound endpoint, asked over TCP: every
/// turn is forwarded over TCP from the outbound endpoint and holds its
/// connection to the inbound endpoint while it waits, so the turn past
/// [`MAX_TCP_PER_SOURCE`] is refused for its source, counted once, and
/// SERVFAIL unwinds the loop back to the VM.
#[test]
fn a_forwarding_loop_over_tcp_is_cut_by_the_per_source_bound_and_counted() {
    let lab = Lab::start("dnsbx", LAB);
    let dns = counters(&lab);
    let before = [
        read(&dns.forwarded),
        read(&dns.forward_timeouts),
        read(&dns.tcp_refused_per_source),
        read(&dns.tcp_refused_at_capacity),
        read(&dns.forward_loops_cut),
    ];
    let out = dig(&lab.ns("vm1"), &["+tcp", "app.self.example"]);
    assert!(out.contains("status: SERVFAIL"), "{out}");
    let after = [
        read(&dns.forwarded),
        read(&dns.forward_timeouts),
        read(&dns.tcp_refused_per_source),
        read(&dns.tcp_refused_at_capacity),
        read(&dns.forward_loops_cut),
    ];
    let counted: Vec<u64> = after.iter().zip(before).map(|(a, b)| a - b).collect();
    assert_eq!(
        counted,
        [1 + MAX_TCP_PER_SOURCE as u64, 1, 1, 0, 0],
        "forwards (the VM's, then a turn's on each connection the bound lets \
         in), the refused turn's forward unanswered, refusals per source and \
         at capacity, UDP loops cut"
    );
}
