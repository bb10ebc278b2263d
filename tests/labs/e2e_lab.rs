//! End-to-end tests on a real lab: namespaces with TUN devices built by the
//! daemon, real kernels on both ends, real tools (`ping`) and std sockets
//! inside the namespaces, and the daemon's drop counters read back for the
//! reason of every failure.
//!
//! They need root, and fail without it: a skip would hide a broken lab.

use crate::common;

use common::{ping, tcp_echo, udp_echo, Lab};
use std::net::SocketAddr;
use vnetd::dataplane::DropReason;

const HUB_SPOKE: &str = include_str!("../../config/hub-spoke.yaml");
const DUAL_STACK: &str = include_str!("../../config/dual-stack.yaml");

/// Reads `Ip: ForwDatagrams` of a namespace: how many packets its kernel
/// forwarded.
fn forwarded_datagrams(netns: &str) -> u64 {
    common::snmp_counter(netns, "Ip", "ForwDatagrams")
}

#[test]
fn ping_tcp_and_udp_across_a_peering() {
    let lab = Lab::start("e2pp", HUB_SPOKE);
    assert!(ping(&lab.ns("vm1"), "10.0.2.4"), "vm1 -> shared1 ping");
    assert!(ping(&lab.ns("shared1"), "10.1.1.4"), "shared1 -> vm1 ping");
    let server: SocketAddr = "10.0.2.4:7001".parse().unwrap();
    assert!(
        tcp_echo(&lab.ns("vm1"), &lab.ns("shared1"), server),
        "TCP vm1 -> shared1"
    );
    assert!(
        udp_echo(&lab.ns("vm1"), &lab.ns("shared1"), server),
        "UDP vm1 -> shared1"
    );
    let stats = lab.stats("vm1");
    assert!(
        stats.packets_sent >= 6 && stats.packets_received >= 6,
        "{stats:?}"
    );
    // The kernel's own multicast chatter (IPv6 MLD reports) is the only
    // thing the fabric may have refused.
    let unexpected: u64 = stats
        .drops
        .iter()
        .filter(|(reason, _)| **reason != DropReason::Unroutable.as_str())
        .map(|(_, n)| n)
        .sum();
    assert_eq!(unexpected, 0, "{stats:?}");
}

#[test]
fn ipv6_ping_across_a_peering() {
    let lab = Lab::start("e2v6", DUAL_STACK);
    assert!(
        ping(&lab.ns("left-vm"), "fd00:20:0:1::4"),
        "IPv6 left -> right"
    );
    assert!(
        ping(&lab.ns("right-vm"), "fd00:10:0:1::4"),
        "IPv6 right -> left"
    );
    assert!(ping(&lab.ns("left-vm"), "10.70.1.4"), "IPv4 left -> right");
}

#[test]
fn spoke_to_spoke_through_a_real_nva() {
    let lab = Lab::start("e2nva", HUB_SPOKE);
    let before = forwarded_datagrams(&lab.ns("nva1"));
    assert!(
        ping(&lab.ns("vm1"), "10.2.1.4"),
        "vm1 -> vm2 through the NVA"
    );
    let server: SocketAddr = "10.2.1.4:7002".parse().unwrap();
    assert!(
        tcp_echo(&lab.ns("vm1"), &lab.ns("vm2"), server),
        "TCP vm1 -> vm2"
    );
    let after = forwarded_datagrams(&lab.ns("nva1"));
    // Three echo requests and three replies at least, plus the TCP exchange.
    assert!(
        after - before >= 6,
        "the NVA forwarded {} packets",
        after - before
    );
    // The NVA received and sent each of them through the fabric.
    let nva = lab.stats("nva1");
    assert!(
        nva.packets_sent >= 6 && nva.packets_received >= 6,
        "{nva:?}"
    );
}

#[test]
fn nva_without_ip_forwarding_carries_nothing() {
    let text = HUB_SPOKE.replacen(
        "    ip_forwarding_enabled: true\n",
        "    ip_forwarding_enabled: false\n",
        1,
    );
    let lab = Lab::start("e2nofw", &text);
    assert!(!ping(&lab.ns("vm1"), "10.2.1.4"), "vm1 -> vm2 must fail");
    assert!(lab.stats("nva1").drops_for(DropReason::DestinationCheck) >= 1);
    // The NVA itself is still reachable.
    assert!(ping(&lab.ns("vm1"), "10.0.1.4"));
}

#[test]
fn spoke_refusing_forwarded_traffic_gets_nothing_through_the_nva() {
    let text = HUB_SPOKE.replace(
        "  - name: spoke2-to-hub\n    virtual_network: spoke2\n    remote_virtual_network: hub\n    allow_forwarded_traffic: true\n",
        "  - name: spoke2-to-hub\n    virtual_network: spoke2\n    remote_virtual_network: hub\n",
    );
    assert_ne!(text, HUB_SPOKE);
    let lab = Lab::start("e2nofwd", &text);
    assert!(!ping(&lab.ns("vm1"), "10.2.1.4"), "vm1 -> vm2 must fail");
    assert!(
        lab.stats("vm2")
            .drops_for(DropReason::ForwardedTrafficRefused)
            >= 1
    );
    // Traffic that starts in the hub is not forwarded traffic.
    assert!(ping(&lab.ns("shared1"), "10.2.1.4"));
}

#[test]
fn nsg_deny_blocks_one_port_while_another_flows() {
    let lab = Lab::start("e2nsg", HUB_SPOKE);
    // spoke2-app-nsg denies TCP 23 inbound; 22 is allowed by AllowVnetInBound.
    assert!(tcp_echo(
        &lab.ns("shared1"),
        &lab.ns("vm2"),
        "10.2.1.4:22".parse().unwrap()
    ));
    assert!(!tcp_echo(
        &lab.ns("shared1"),
        &lab.ns("vm2"),
        "10.2.1.4:23".parse().unwrap()
    ));
    assert!(lab.stats("vm2").drops_for(DropReason::NsgInbound) >= 1);
}

#[test]
fn one_sided_peering_carries_nothing() {
    let text = HUB_SPOKE.replace(
        "  - name: spoke1-to-hub\n    virtual_network: spoke1\n    remote_virtual_network: hub\n    allow_forwarded_traffic: true\n",
        "",
    );
    assert_ne!(text, HUB_SPOKE);
    let lab = Lab::start("e2one", &text);
    assert!(!ping(&lab.ns("vm1"), "10.0.2.4"));
    assert!(!ping(&lab.ns("shared1"), "10.1.1.4"));
    // Without a peering route, the hub's range falls in 10.0.0.0/8: None.
    assert!(lab.stats("vm1").drops_for(DropReason::RouteNone) >= 1);
    assert!(lab.stats("shared1").drops_for(DropReason::RouteNone) >= 1);
    // The other, complete peering still works.
    assert!(ping(&lab.ns("shared1"), "10.2.1.4"));
}

#[test]
fn spoofed_source_is_dropped() {
    let lab = Lab::start("e2spoof", HUB_SPOKE);
    let vm1 = lab.ns("vm1");
    // A second address that Azure never assigned to the NIC.
    common::in_netns(&vm1, &["ip", "addr", "add", "10.1.1.99/32", "dev", "eth0"]);
    assert!(!common::ping_from(&vm1, "10.1.1.99", "10.0.2.4"));
    assert!(lab.stats("vm1").drops_for(DropReason::SourceCheck) >= 1);
    assert!(ping(&vm1, "10.0.2.4"), "the NIC's own address still works");
}

#[test]
fn nsgs_are_stateful_replies_pass_new_inbound_flows_do_not() {
    // vm1's subnet denies every inbound TCP connection from spoke2. vm1's own
    // connections to vm2 still work: their replies are admitted by state.
    let text = HUB_SPOKE.replace(
        "        route_table: spoke1-rt\n",
        "        route_table: spoke1-rt\n        network_security_group: spoke1-nsg\n",
    ) + "  - name: spoke1-nsg\n    security_rules:\n      - {name: deny-spoke2-tcp-in, priority: 100, direction: Inbound, access: Deny, protocol: Tcp, source_port_range: '*', destination_port_range: '*', source_address_prefix: 10.2.0.0/16, destination_address_prefix: '*'}\n";
    let lab = Lab::start("e2state", &text);
    let (vm1, vm2) = (lab.ns("vm1"), lab.ns("vm2"));
    assert!(
        tcp_echo(&vm1, &vm2, "10.2.1.4:7100".parse().unwrap()),
        "vm1's own connection"
    );
    assert!(
        !tcp_echo(&vm2, &vm1, "10.1.1.4:7100".parse().unwrap()),
        "started from the far side"
    );
    assert!(lab.stats("vm1").drops_for(DropReason::NsgInbound) >= 1);
}

/// Without root a lab test fails, with the reason, instead of passing
/// without having run: this test binary is run again as `nobody`, with and
/// without `CI=true`, for one lab test.
#[test]
fn lab_tests_fail_loudly_without_root() {
    common::require_root();
    let me = std::env::current_exe().unwrap();
    for ci in [None, Some("true")] {
        let mut cmd = std::process::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&me)
            .args([
                "--exact",
                "e2e_lab::ipv6_ping_across_a_peering",
                "--test-threads=1",
            ])
            .env_remove("CI");
        if let Some(value) = ci {
            cmd.env("CI", value);
        }
        let out = cmd.output().expect("setpriv runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(101), "CI={ci:?}: {text}");
        assert!(
            text.contains("end-to-end tests need root (euid is 65534)")
                && text.contains("1 failed"),
            "CI={ci:?}: {text}"
        );
    }
    assert_eq!(common::lab_privileges(0), Ok(()));
}

#[test]
fn an_egress_device_that_vanished_is_counted_as_gone() {
    let lab = Lab::start("e2gone", HUB_SPOKE);
    // vm2's TUN device is deleted behind the daemon's back, and packets
    // for it have nowhere to go. (Deleting the namespace's name alone
    // would not do it: the daemon's queues keep the namespace and its
    // device alive.)
    assert!(std::process::Command::new("ip")
        .args(["-n", &lab.ns("vm2"), "link", "delete", "eth0"])
        .status()
        .unwrap()
        .success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while lab.stats("vm2").drops_for(DropReason::EgressGone) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            lab.stats("vm2")
        );
        let _ = ping(&lab.ns("vm1"), "10.2.1.4");
    }
    assert_eq!(lab.stats("vm2").drops_for(DropReason::EgressFull), 0);
    // Everything else forwards as before.
    assert!(ping(&lab.ns("vm1"), "10.0.2.4"));
    assert!(ping(&lab.ns("shared1"), "10.1.1.4"));
}

#[test]
fn a_failed_worker_is_counted_and_restarted() {
    let lab = Lab::start("e2wf", HUB_SPOKE);
    assert_eq!(lab.daemon().worker_restarts(), 0);
    // The next worker to pick up a new plane fails doing so.
    lab.daemon().faults().fail_next_register();
    let text =
        common::with_netns_prefix(HUB_SPOKE, "e2wf").replace("priority: 100", "priority: 110");
    lab.daemon().apply("t.yaml", &text).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while lab.daemon().worker_restarts() == 0 {
        assert!(std::time::Instant::now() < deadline, "no restart counted");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(lab.daemon().worker_restarts(), 1);
    // Both workers forward again: many flows, spread over both queues.
    for port in 7100..7108 {
        let server: SocketAddr = format!("10.0.2.4:{port}").parse().unwrap();
        assert!(
            tcp_echo(&lab.ns("vm1"), &lab.ns("shared1"), server),
            "port {port}"
        );
    }
}

#[test]
fn a_fragmented_datagram_to_an_allowed_port_arrives_whole() {
    // vm2's subnet admits UDP 7300 and nothing else from outside.
    let text = HUB_SPOKE.replace(
        "    security_rules:\n      - name: deny-telnet\n",
        "    security_rules:\n      - {name: allow-7300, priority: 200, direction: Inbound, access: Allow, protocol: Udp, source_port_range: '*', destination_port_range: '7300', source_address_prefix: '*', destination_address_prefix: '*'}\n      - {name: deny-rest, priority: 4000, direction: Inbound, access: Deny, protocol: '*', source_port_range: '*', destination_port_range: '*', source_address_prefix: '*', destination_address_prefix: '*'}\n      - name: deny-telnet\n",
    );
    let lab = Lab::start("e2frag", &text);
    let server: SocketAddr = "10.2.1.4:7300".parse().unwrap();
    let socket = vnetd::host::netns::run_in(&lab.ns("vm2"), move || {
        Ok(std::net::UdpSocket::bind(server)?)
    })
    .unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(3)))
        .unwrap();
    let client = vnetd::host::netns::run_in(&lab.ns("shared1"), || {
        Ok(std::net::UdpSocket::bind("10.0.2.4:0")?)
    })
    .unwrap();
    // 3000 bytes do not fit a 1500-byte MTU: the sending kernel fragments
    // the datagram, and only the first fragment carries port 7300.
    let datagram: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let mut buf = vec![0u8; 4000];
    let mut received = None;
    for _ in 0..3 {
        client.send_to(&datagram, server).unwrap();
        if let Ok((n, _)) = socket.recv_from(&mut buf) {
            received = Some(n);
            break;
        }
    }
    assert_eq!(received, Some(3000), "{:?}", lab.stats("vm2"));
    assert_eq!(&buf[..3000], &datagram[..]);
    assert_eq!(lab.stats("vm2").drops_for(DropReason::NsgInbound), 0);
}

/// Sends `count` datagrams of one flow from `client_ns` to `server` in
/// bursts, and returns what arrived, in order.
fn datagram_burst(
    client_ns: &str,
    server_ns: &str,
    server: SocketAddr,
    datagrams: &[Vec<u8>],
) -> Vec<Vec<u8>> {
    let receiver = vnetd::host::netns::run_in(server_ns, move || {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(server),
            socket2::Type::DGRAM,
            None,
        )?;
        // Room for the whole burst, so a slow reader loses nothing.
        socket.set_recv_buffer_size(4 << 20)?;
        socket.bind(&server.into())?;
        Ok(std::net::UdpSocket::from(socket))
    })
    .unwrap();
    receiver
        .set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .unwrap();
    let client = common::udp_client_for(client_ns, server);
    let expected = datagrams.len();
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 2048];
        while got.len() < expected {
            match receiver.recv(&mut buf) {
                Ok(n) => got.push(buf[..n].to_vec()),
                Err(_) => break,
            }
        }
        got
    });
    // Bursts of 50 may fill the sender's queue faster than one worker
    // drains it (so runs may form, as many as the machine's timing makes),
    // and stay far below the TUN's 500-packet queue.
    for burst in datagrams.chunks(50) {
        for datagram in burst {
            client.send_to(datagram, server).unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    reader.join().unwrap()
}

/// Numbered datagrams, mostly 1200 bytes with a shorter one now and then
/// (which ends a run), each with its own pattern.
fn numbered_datagrams() -> Vec<Vec<u8>> {
    (0..2000u32)
        .map(|i| {
            let len = if i % 97 == 0 { 300 } else { 1200 };
            let mut d: Vec<u8> = (0..len).map(|b| (b as u32 * 7 + i) as u8).collect();
            d[..4].copy_from_slice(&i.to_be_bytes());
            d
        })
        .collect()
}

/// Packets vnetd delivered to `nic`, counted as datagrams whether or not
/// they were joined on the way.
fn delivered(lab: &Lab, nic: &str) -> u64 {
    lab.stats(nic).packets_received
}

/// A lab whose every packet takes the userspace path, where UDP runs are
/// joined: what these tests are about. (A flow that leaves for the kernel
/// fast path mid-burst may see datagrams still queued for the daemon
/// overtaken by later ones, as on any fabric that installs flows; see the
/// book's Accelerated networking.)
fn userspace_lab(prefix: &str, text: &str) -> Lab {
    let options = vnetd::daemon::RunOptions {
        offload: false,
        ..vnetd::daemon::RunOptions::default()
    };
    Lab::start_with(prefix, &common::with_netns_prefix(text, prefix), options)
}

#[test]
fn udp_bursts_arrive_intact_and_in_order_however_they_were_joined() {
    let lab = userspace_lab("e2uso", DUAL_STACK);
    let datagrams = numbered_datagrams();
    for server in ["10.70.1.4:7400", "[fd00:20:0:1::4]:7400"] {
        let server: SocketAddr = server.parse().unwrap();
        let before = delivered(&lab, "right-vm");
        let got = datagram_burst(&lab.ns("left-vm"), &lab.ns("right-vm"), server, &datagrams);
        assert_eq!(
            got.len(),
            datagrams.len(),
            "{server}: {:?}",
            lab.stats("right-vm")
        );
        assert!(got == datagrams, "{server}: datagrams changed or reordered");
        // Each datagram counted once, whatever runs the timing made.
        assert_eq!(
            delivered(&lab, "right-vm") - before,
            datagrams.len() as u64,
            "{server}"
        );
    }
}

#[test]
fn udp_bursts_cross_a_real_nva_intact_however_they_were_joined() {
    let lab = userspace_lab("e2usonva", HUB_SPOKE);
    // vm1 -> nva1 (its kernel forwards the super-packets) -> vm2.
    let datagrams = numbered_datagrams();
    let server: SocketAddr = "10.2.1.4:7401".parse().unwrap();
    let forwarded_before = forwarded_datagrams(&lab.ns("nva1"));
    let before = (delivered(&lab, "nva1"), delivered(&lab, "vm2"));
    let got = datagram_burst(&lab.ns("vm1"), &lab.ns("vm2"), server, &datagrams);
    assert_eq!(got.len(), datagrams.len(), "{:?}", lab.stats("vm2"));
    assert!(got == datagrams, "datagrams changed or reordered");
    // The NVA's kernel forwarded them (as many packets as runs, joined or
    // not), and each datagram counts once at both hops.
    let forwarded = forwarded_datagrams(&lab.ns("nva1")) - forwarded_before;
    assert!(
        (1..=datagrams.len() as u64).contains(&forwarded),
        "the NVA forwarded {forwarded} packets"
    );
    let after = (delivered(&lab, "nva1"), delivered(&lab, "vm2"));
    let n = datagrams.len() as u64;
    assert_eq!((after.0 - before.0, after.1 - before.1), (n, n));
}
