//! Changing a running lab without downtime (`Daemon::apply`), on real
//! namespaces: unrelated traffic loses nothing while routes, peerings and
//! NSGs change; IP forwarding and NSG flushes take effect on established
//! traffic as Azure's do; a broken file changes nothing; NICs come and go
//! with their namespaces. Needs root (see `common::require_root`).

use crate::common;

use common::{ping, Lab};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;
use vnetd::daemon::{ApplyError, PortId};
use vnetd::dataplane::DropReason;
use vnetd::host::netns;

const HUB_SPOKE: &str = include_str!("../../config/hub-spoke.yaml");

/// The built-in lab without its `expectations` block (before `vnets`),
/// for changes that rename or remove the NICs the expectations name.
fn without_expectations(text: &str) -> String {
    let start = text
        .find("\nexpectations:\n")
        .expect("an expectations block")
        + 1;
    let end = text.find("\nvnets:\n").expect("a vnets block") + 1;
    assert!(start < end, "the expectations come before the VNets");
    format!("{}{}", &text[..start], &text[end..])
}

fn apply(lab: &Lab, prefix: &str, text: &str) {
    let text = common::with_netns_prefix(text, prefix);
    if let Err(e) = lab.daemon().apply("test.yaml", &text) {
        panic!("apply refused: {e:?}");
    }
}

#[test]
fn pings_lose_nothing_while_the_topology_changes() {
    let lab = Lab::start("apz", HUB_SPOKE);
    let with_route = HUB_SPOKE.replace(
        "        next_hop_in_ip_address: 10.0.1.4\n  - name: spoke2-rt\n",
        "        next_hop_in_ip_address: 10.0.1.4\n      - name: drop-test-range\n        address_prefix: 10.99.0.0/16\n        next_hop_type: None\n  - name: spoke2-rt\n",
    );
    let with_peering = HUB_SPOKE.replace(
        "\npeerings:\n",
        "  - name: extra\n    address_space: [10.9.0.0/16]\n    location: westeurope\n\npeerings:\n  - {name: hub-to-extra, virtual_network: hub, remote_virtual_network: extra}\n  - {name: extra-to-hub, virtual_network: extra, remote_virtual_network: hub}\n",
    );
    let with_rule = HUB_SPOKE.replace(
        "destination_port_range: \"23\"",
        "destination_port_range: \"2323\"",
    );
    for changed in [&with_route, &with_peering, &with_rule] {
        assert_ne!(changed.as_str(), HUB_SPOKE);
    }
    // 100 pings a second for 10 seconds across a peering and through the
    // NVA.
    let pinger = |ns: String, dst: &'static str| {
        std::thread::spawn(move || {
            Command::new("ip")
                .args([
                    "netns", "exec", &ns, "ping", "-n", "-q", "-i", "0.01", "-c", "1000", "-W",
                    "1", dst,
                ])
                .output()
                .unwrap()
        })
    };
    let peering = pinger(lab.ns("vm1"), "10.0.2.4");
    let chained = pinger(lab.ns("vm1"), "10.2.1.4");
    // Echo replies delivered to vm1 since the start: each change is made
    // while pings are crossing, and the next waits for replies after it.
    let replies = || lab.stats("vm1").packets_received;
    let replies_pass = |count: u64| {
        assert!(
            common::wait_for(Duration::from_secs(10), || replies() >= count),
            "no echo replies past {count}"
        );
    };
    replies_pass(20);
    for text in [
        &with_route,
        HUB_SPOKE,
        &with_peering,
        HUB_SPOKE,
        &with_rule,
        HUB_SPOKE,
    ] {
        let before = replies();
        apply(&lab, "apz", text);
        replies_pass(before + 20);
    }
    // Every change overlapped the traffic: both pingers are still running.
    assert!(
        !peering.is_finished() && !chained.is_finished(),
        "the pings ended before the last change; nothing overlapped it"
    );
    assert_eq!(lab.daemon().snapshot().generation, 7);
    for (name, handle) in [("peering", peering), ("through the NVA", chained)] {
        let out = handle.join().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("1000 packets transmitted, 1000 received, 0% packet loss"),
            "{name}: {text}"
        );
    }
}

#[test]
fn ip_forwarding_off_stops_transit_at_once_and_on_brings_it_back() {
    let lab = Lab::start("apfw", HUB_SPOKE);
    assert!(ping(&lab.ns("vm1"), "10.2.1.4"));
    let off = HUB_SPOKE.replacen(
        "    ip_forwarding_enabled: true\n",
        "    ip_forwarding_enabled: false\n",
        1,
    );
    apply(&lab, "apfw", &off);
    // Within a second: a single ping with a one-second deadline fails.
    let one = |ns: &str| {
        Command::new("ip")
            .args([
                "netns", "exec", ns, "ping", "-n", "-q", "-c", "1", "-W", "1", "10.2.1.4",
            ])
            .status()
            .unwrap()
            .success()
    };
    assert!(!one(&lab.ns("vm1")), "transit must stop");
    assert!(lab.stats("nva1").drops_for(DropReason::DestinationCheck) >= 1);
    apply(&lab, "apfw", HUB_SPOKE);
    assert!(one(&lab.ns("vm1")), "transit must come back");
}

/// An echo server in `ns` answering on one connection, giving up after a
/// few idle seconds (its namespace may vanish under it).
fn echo_server(ns: &str, at: SocketAddr) -> std::thread::JoinHandle<()> {
    let listener = netns::run_in(ns, move || Ok(TcpListener::bind(at)?)).unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(_) => return,
            }
        };
        stream.set_nonblocking(false).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(4)))
            .unwrap();
        let mut buf = [0u8; 64];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 || stream.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    })
}

fn exchange(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4];
    stream.write_all(b"ping").is_ok() && stream.read_exact(&mut buf).is_ok() && &buf == b"ping"
}

fn established_flow_after_a_new_deny(prefix: &str, flush: bool) -> bool {
    let lab = Lab::start(prefix, HUB_SPOKE);
    let at: SocketAddr = "10.2.1.4:7300".parse().unwrap();
    let server = echo_server(&lab.ns("vm2"), at);
    // A second listener the deny also covers, for new connections before
    // and after the deny is lifted (the kernel completes them unaccepted).
    let other: SocketAddr = "10.2.1.4:7301".parse().unwrap();
    let _other_listener =
        netns::run_in(&lab.ns("vm2"), move || Ok(TcpListener::bind(other)?)).unwrap();
    let connect = |to: SocketAddr| {
        netns::run_in(&lab.ns("vm1"), move || {
            Ok(TcpStream::connect_timeout(
                &to,
                Duration::from_millis(1500),
            )?)
        })
    };
    assert!(connect(other).is_ok(), "no deny yet");
    let mut stream = netns::run_in(&lab.ns("vm1"), move || {
        Ok(TcpStream::connect_timeout(&at, Duration::from_secs(2))?)
    })
    .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    assert!(exchange(&mut stream), "before the change");
    // The deny covers the connection both ways: were only the inbound side
    // denied, a segment vm2 retransmits after the flush (its echo, when
    // vm1's delayed ACK was refused) would open a new outbound flow, whose
    // replies are admitted by state.
    let deny = HUB_SPOKE.replace(
        "    security_rules:\n      - name: deny-telnet\n",
        "    security_rules:\n      - {name: deny-7300, priority: 101, direction: Inbound, access: Deny, protocol: Tcp, source_port_range: '*', destination_port_range: '7300-7301', source_address_prefix: '*', destination_address_prefix: '*'}\n      - {name: deny-from-7300, priority: 102, direction: Outbound, access: Deny, protocol: Tcp, source_port_range: '7300-7301', destination_port_range: '*', source_address_prefix: '*', destination_address_prefix: '*'}\n      - name: deny-telnet\n",
    );
    let deny = if flush {
        deny.replace(
            "  - name: spoke2-app-nsg\n",
            "  - name: spoke2-app-nsg\n    flush_connection: true\n",
        )
    } else {
        deny
    };
    apply(&lab, prefix, &deny);
    let after = exchange(&mut stream);
    // A new connection is denied either way.
    let fresh = netns::run_in(&lab.ns("vm1"), move || {
        Ok(TcpStream::connect_timeout(
            &at,
            Duration::from_millis(1500),
        )?)
    });
    assert!(fresh.is_err(), "a new connection must be denied");
    assert!(connect(other).is_err(), "the deny covers the other port");
    // Lifting the deny lets new connections through again: the refusals
    // above were the rule's.
    apply(&lab, prefix, HUB_SPOKE);
    assert!(connect(other).is_ok(), "the deny is lifted");
    drop(stream);
    drop(lab);
    let _ = server.join();
    after
}

#[test]
fn an_nsg_deny_leaves_established_flows_alone_by_default() {
    let after = established_flow_after_a_new_deny("apnf", false);
    assert!(after, "the established flow continues");
}

#[test]
fn flush_connection_stops_established_flows_a_new_deny_covers() {
    let after = established_flow_after_a_new_deny("apfl", true);
    assert!(!after, "the established flow is judged again and stops");
}

#[test]
fn a_broken_file_changes_nothing() {
    let lab = Lab::start("apbad", HUB_SPOKE);
    let broken = common::with_netns_prefix(HUB_SPOKE, "apbad").replace("10.2.1.4\n", "10.2.1.3\n");
    match lab.daemon().apply("broken.yaml", &broken) {
        Err(ApplyError::Invalid(errors)) => {
            assert!(
                errors
                    .iter()
                    .any(|e| e.message.contains("10.2.1.3 is one of the 5 addresses")),
                "{errors:?}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(lab.daemon().snapshot().generation, 1);
    assert!(ping(&lab.ns("vm1"), "10.2.1.4"));
    // An alias bomb, an empty file and a comment-only file are refused at
    // once, naming line 1; the lab keeps every NIC.
    let bomb = "a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n";
    for (text, words) in [
        (bomb, "anchors (&name) are not accepted"),
        ("", "the topology is empty"),
        ("# nothing\n", "the topology is empty"),
    ] {
        match lab.daemon().apply("refused.yaml", text) {
            Err(ApplyError::Invalid(errors)) => {
                assert_eq!(errors.len(), 1, "{errors:?}");
                assert_eq!(errors[0].line, 1, "{errors:?}");
                assert!(errors[0].message.contains(words), "{errors:?}");
            }
            other => panic!("{text:?}: expected a refusal, got {other:?}"),
        }
    }
    assert_eq!(lab.daemon().snapshot().generation, 1);
    assert_eq!(lab.daemon().snapshot().topology.nics.len(), 4);
    assert!(ping(&lab.ns("vm1"), "10.2.1.4"));
    // The broken file, corrected, is applied: the refusals were the file's.
    let corrected = HUB_SPOKE.replace("10.2.1.4\n", "10.2.1.5\n");
    apply(&lab, "apbad", &corrected);
    assert_eq!(lab.daemon().snapshot().generation, 2);
    assert!(ping(&lab.ns("vm1"), "10.2.1.5"));
}

#[test]
fn nics_come_and_go_with_their_namespaces() {
    let lab = Lab::start("apnic", HUB_SPOKE);
    let added = HUB_SPOKE.replace(
        "  - name: vm2\n    subnet: spoke2/app\n    private_ip_address: 10.2.1.4\n",
        "  - name: vm2\n    subnet: spoke2/app\n    private_ip_address: 10.2.1.4\n  - name: vm3\n    subnet: spoke1/app\n    private_ip_address: 10.1.1.5\n",
    );
    apply(&lab, "apnic", &added);
    assert!(netns::exists("apnic-vm3"));
    assert!(
        ping(&lab.ns("vm3"), "10.1.1.4"),
        "the new NIC reaches its neighbour"
    );
    assert!(
        ping(&lab.ns("shared1"), "10.1.1.5"),
        "and is reached over the peering"
    );
    // vm1 is unaffected and vm2 moves to another address (re-plumbed).
    let removed = HUB_SPOKE.replace(
        "private_ip_address: 10.2.1.4\n",
        "private_ip_address: 10.2.1.5\n",
    );
    apply(&lab, "apnic", &removed);
    assert!(
        !netns::exists("apnic-vm3"),
        "the removed NIC's namespace is gone"
    );
    assert!(
        ping(&lab.ns("shared1"), "10.2.1.5"),
        "vm2 answers at its new address"
    );
    assert!(ping(&lab.ns("vm1"), "10.0.2.4"));
}

/// Waits (10 s at most) until every worker forwards with `generation`.
fn workers_reach(lab: &Lab, generation: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while lab.daemon().oldest_worker_generation() < generation {
        assert!(std::time::Instant::now() < deadline, "workers stuck");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A NIC that has just been born: nothing was delivered to it, and all it
/// may have sent is its kernel's own multicast chatter (refused as
/// unroutable). A NIC that inherited a departed one's counters fails this.
fn assert_newborn(lab: &Lab, nic: &str) {
    let stats = lab.stats(nic);
    assert_eq!(
        (stats.packets_received, stats.bytes_received),
        (0, 0),
        "{nic}: {stats:?}"
    );
    assert!(
        stats
            .drops
            .keys()
            .all(|r| r == DropReason::Unroutable.as_str()),
        "{nic}: {stats:?}"
    );
}

fn port_of(lab: &Lab, nic: &str) -> (PortId, u32) {
    let plane = lab.daemon().plane();
    let i = plane.snapshot.port_by_name(nic).unwrap();
    (plane.ports[i].id, plane.ports[i].serial)
}

#[test]
fn a_new_nic_never_inherits_a_departed_ones_counters_or_mac() {
    let lab = Lab::start("apid", HUB_SPOKE);
    assert!(ping(&lab.ns("vm1"), "10.0.2.4"));
    let old = lab.stats("shared1");
    assert!(
        old.packets_sent >= 3 && old.packets_received >= 3,
        "{old:?}"
    );
    let (old_slot, old_serial) = port_of(&lab, "shared1");
    // One apply removes shared1 and adds shared2.
    let swapped =
        without_expectations(HUB_SPOKE).replace("  - name: shared1\n", "  - name: shared2\n");
    apply(&lab, "apid", &swapped);
    assert_newborn(&lab, "shared2");
    let (_, serial2) = port_of(&lab, "shared2");
    assert_ne!(serial2, old_serial);
    assert_ne!(
        vnetd::daemon::reporting::flow_log::mac_of_port(serial2),
        vnetd::daemon::reporting::flow_log::mac_of_port(old_serial)
    );
    // Once every worker has moved on, shared1's slot is cleared and given
    // to the next new NIC, which starts from zero too.
    workers_reach(&lab, 2);
    let third = swapped.replace(
        "  - name: vm2\n",
        "  - name: shared3\n    subnet: hub/shared\n    private_ip_address: 10.0.2.6\n  - name: vm2\n",
    );
    apply(&lab, "apid", &third);
    let (slot3, serial3) = port_of(&lab, "shared3");
    assert_eq!(slot3, old_slot, "the cleared slot is used again");
    assert!(serial3 != old_serial && serial3 != serial2);
    assert_newborn(&lab, "shared3");
    let flows_in_slot = {
        let mut n = 0;
        lab.daemon()
            .flows()
            .for_each(lab.daemon().now_ms(), |k, _| {
                n += usize::from(k.owner == old_slot.owner())
            });
        n
    };
    assert_eq!(flows_in_slot, 0);
    assert!(ping(&lab.ns("shared3"), "10.0.2.4"));
}

#[test]
fn a_host_failure_during_apply_changes_nothing() {
    let host = std::sync::Arc::new(common::FailingHost::default());
    let lab = Lab::start_with(
        "aptx",
        &common::with_netns_prefix(HUB_SPOKE, "aptx"),
        vnetd::daemon::RunOptions {
            host: host.clone(),
            ..Default::default()
        },
    );
    assert!(ping(&lab.ns("vm1"), "10.2.1.4"));
    // A new NIC whose namespace the host refuses, in the same apply that
    // removes vm2: vm2 must stay, and nothing new may be left behind.
    let text = without_expectations(HUB_SPOKE)
        .replace("  - name: vm2\n    subnet: spoke2/app\n    private_ip_address: 10.2.1.4\n", "")
        .replace(
            "  - name: vm1\n",
            "  - name: new1\n    subnet: spoke1/app\n    private_ip_address: 10.1.1.9\n  - name: vm1\n",
        );
    host.fail_next_build_of("aptx-new1");
    match lab
        .daemon()
        .apply("t.yaml", &common::with_netns_prefix(&text, "aptx"))
    {
        Err(ApplyError::Host(e)) => {
            let e = format!("{e:#}");
            assert!(
                e.starts_with(
                    "plumbing NIC new1: building network namespace aptx-new1: injected failure"
                ),
                "{e}"
            );
        }
        other => panic!("expected a host refusal, got {other:?}"),
    }
    assert_eq!(lab.daemon().snapshot().generation, 1);
    assert!(!netns::exists("aptx-new1"));
    assert!(ping(&lab.ns("vm1"), "10.2.1.4"), "vm2 still forwards");
    // A re-plumb in place (vm2 changes address, same namespace) that the
    // host refuses: the old vm2 is rebuilt and forwards again.
    let moved = HUB_SPOKE.replace(
        "private_ip_address: 10.2.1.4\n",
        "private_ip_address: 10.2.1.5\n",
    );
    host.fail_next_build_of("aptx-vm2");
    assert!(matches!(
        lab.daemon()
            .apply("t.yaml", &common::with_netns_prefix(&moved, "aptx")),
        Err(ApplyError::Host(_))
    ));
    assert_eq!(lab.daemon().snapshot().generation, 1);
    assert!(
        ping(&lab.ns("vm1"), "10.2.1.4"),
        "vm2 rebuilt at its address"
    );
    // And without a failure, the same apply goes through.
    apply(&lab, "aptx", &moved);
    assert!(ping(&lab.ns("vm1"), "10.2.1.5"));
}

#[test]
fn turning_ip_forwarding_off_turns_the_nva_guest_off_too() {
    let lab = Lab::start("apfwd", HUB_SPOKE);
    let ip_forward = |lab: &Lab| {
        common::in_netns(&lab.ns("nva1"), &["cat", "/proc/sys/net/ipv4/ip_forward"])
            .trim()
            .to_string()
    };
    assert_eq!(ip_forward(&lab), "1");
    let off = HUB_SPOKE.replace(
        "ip_forwarding_enabled: true",
        "ip_forwarding_enabled: false",
    );
    apply(&lab, "apfwd", &off);
    assert_eq!(ip_forward(&lab), "0");
    apply(&lab, "apfwd", HUB_SPOKE);
    assert_eq!(ip_forward(&lab), "1");
}

#[test]
fn a_flow_names_its_rule_after_unrelated_applies() {
    let lab = Lab::start("aprule", HUB_SPOKE);
    let at: SocketAddr = "10.2.1.4:7310".parse().unwrap();
    let server = echo_server(&lab.ns("vm2"), at);
    let mut stream = netns::run_in(&lab.ns("vm1"), move || {
        Ok(TcpStream::connect_timeout(&at, Duration::from_secs(2))?)
    })
    .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    assert!(exchange(&mut stream));
    let rule_at_vm2 = |lab: &Lab| {
        let flows = vnetd::daemon::control::flows_of(lab.daemon(), Some("vm2"));
        let ours: Vec<_> = flows
            .iter()
            .filter(|f| f.direction == "Inbound" && f.destination == "10.2.1.4:7310")
            .collect();
        assert_eq!(ours.len(), 1, "{flows:?}");
        ours[0].rule.clone()
    };
    let expected = Some("defaultSecurityRules/AllowVnetInBound".to_string());
    assert_eq!(rule_at_vm2(&lab), expected);
    // Unrelated rules before it shift every position in vm2's rule list.
    let shifted = HUB_SPOKE.replace(
        "    security_rules:\n      - name: deny-telnet\n",
        "    security_rules:\n      - {name: allow-udp-9, priority: 200, direction: Inbound, access: Allow, protocol: Udp, source_port_range: '*', destination_port_range: '9', source_address_prefix: '*', destination_address_prefix: '*'}\n      - {name: deny-udp-19, priority: 210, direction: Inbound, access: Deny, protocol: Udp, source_port_range: '*', destination_port_range: '19', source_address_prefix: '*', destination_address_prefix: '*'}\n      - name: deny-telnet\n",
    );
    apply(&lab, "aprule", &shifted);
    assert!(exchange(&mut stream), "the flow goes on");
    assert_eq!(rule_at_vm2(&lab), expected);
    // With flush_connection the flow is judged again, and its rule is the
    // one that allows it now.
    let judged = shifted
        .replace(
            "  - name: spoke2-app-nsg\n",
            "  - name: spoke2-app-nsg\n    flush_connection: true\n",
        )
        .replace(
            "      - name: deny-telnet\n",
            "      - {name: allow-7310, priority: 150, direction: Inbound, access: Allow, protocol: Tcp, source_port_range: '*', destination_port_range: '7310', source_address_prefix: '*', destination_address_prefix: '*'}\n      - name: deny-telnet\n",
        );
    apply(&lab, "aprule", &judged);
    assert!(exchange(&mut stream), "still allowed");
    assert_eq!(
        rule_at_vm2(&lab),
        Some("securityRules/allow-7310".to_string())
    );
    drop(stream);
    drop(lab);
    let _ = server.join();
}
