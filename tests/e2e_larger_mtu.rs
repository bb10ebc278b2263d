//! A guest that raises its own `eth0`'s MTU to 9000 and sends 3000-byte
//! packets to a NIC of MTU 1500 in its VNet: each packet is delivered
//! (IPv4 without DF, fragmented to the receiver's MTU) or dropped and
//! counted as `too_big` at the sender (with DF), never lost unseen, and
//! the kernel fast path and `--no-offload` give the same numbers. Real
//! packets: `ping -s 2972` with and without DF, and UDP datagrams of a
//! flow the fast path already carries, received by a socket in the
//! receiver's namespace.

mod common;

use common::{in_netns, ping, wait_for, Lab};
use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};
use vnetd::daemon::report::flows_of;
use vnetd::daemon::RunOptions;
use vnetd::host::netns;

const SENDER: &str = "10.1.1.4";
const RECEIVER: &str = "10.1.1.5";

/// One VNet, two NICs of the default MTU (1500).
fn lab(prefix: &str) -> String {
    format!(
        "
vnets:
  - name: app
    address_space: [10.1.0.0/16]
    location: westeurope
    subnets:
      - {{name: web, address_prefixes: [10.1.1.0/24]}}
network_interfaces:
  - {{name: sender, subnet: app/web, private_ip_address: {SENDER}, netns: {prefix}-sender}}
  - {{name: receiver, subnet: app/web, private_ip_address: {RECEIVER}, netns: {prefix}-receiver}}
"
    )
}

/// `ping -s 2972` (3000-byte packets) with the DF policy `df` (`do`,
/// `dont`): how many of 3 came back.
fn big_pings(ns: &str, df: &str) -> usize {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "ping", "-n", "-c", "3", "-i", "0.2"])
        .args(["-W", "1", "-M", df, "-s", "2972", RECEIVER])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("time="))
        .count()
}

/// A UDP socket in `ns` whose datagrams carry DF (Linux's default for a
/// socket, `IP_PMTUDISC_WANT`) or never do (`ip_no_pmtu_disc` set in the
/// namespace when the socket is made).
fn udp_sender(ns: &str, server: SocketAddr, df: bool) -> UdpSocket {
    let never = if df { "0" } else { "1" };
    in_netns(
        ns,
        &[
            "sysctl",
            "-qw",
            &format!("net.ipv4.ip_no_pmtu_disc={never}"),
        ],
    );
    common::udp_client_for(ns, server)
}

fn too_big(lab: &Lab) -> u64 {
    lab.stats("sender")
        .drops
        .get("too_big")
        .copied()
        .unwrap_or(0)
}

/// What one mode gave: ping replies with DF and without, UDP datagrams
/// received with DF and without, and `too_big` drops counted.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    pings_df: usize,
    pings_no_df: usize,
    datagrams_df: usize,
    datagrams_no_df: usize,
    too_big: u64,
}

/// Small datagrams from `sender` until one arrives at `receiver` and
/// their flow is carried by the fast path (when there is one).
fn settle(lab: &Lab, sender: &UdpSocket, receiver: &UdpSocket, server: SocketAddr, offload: bool) {
    let mut buf = [0u8; 64];
    let settled = wait_for(Duration::from_secs(10), || {
        sender.send_to(b"small", server).unwrap();
        let arrived = receiver.recv_from(&mut buf).is_ok();
        let local = sender.local_addr().unwrap().port();
        let offloaded = flows_of(lab.daemon(), Some("sender")).iter().any(|f| {
            f.protocol == "Udp"
                && f.destination == server.to_string()
                && f.source.ends_with(&format!(":{local}"))
                && f.offloaded
        });
        arrived && offloaded == offload
    });
    assert!(
        settled,
        "the small datagrams' flow never settled (offload {offload})"
    );
    while receiver.recv_from(&mut buf).is_ok() {}
}

/// Five 3000-byte datagrams with DF, then five without, each on a flow the
/// fast path carries (when it is on): how many of each the receiver got.
fn large_datagrams(lab: &Lab, offload: bool) -> (usize, usize) {
    let server: SocketAddr = format!("{RECEIVER}:7000").parse().unwrap();
    let receiver =
        netns::run_in(&lab.ns("receiver"), move || common::udp_bind_again(server)).unwrap();
    receiver
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let ns = lab.ns("sender");
    let with_df = udp_sender(&ns, server, true);
    settle(lab, &with_df, &receiver, server, offload);
    let without_df = udp_sender(&ns, server, false);
    settle(lab, &without_df, &receiver, server, offload);
    for _ in 0..5 {
        with_df.send_to(&[b'D'; 3000], server).unwrap();
    }
    for _ in 0..5 {
        without_df.send_to(&[b'F'; 3000], server).unwrap();
    }
    // Until the five without DF are in (or 10 s pass): the ones with DF,
    // sent first, would be in by then too.
    let (mut got_df, mut got_no_df) = (0, 0);
    let mut buf = vec![0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    while got_no_df < 5 && Instant::now() < deadline {
        if let Ok((len, _)) = receiver.recv_from(&mut buf) {
            assert_eq!(len, 3000, "a datagram arrived cut");
            match buf[0] {
                b'D' => got_df += 1,
                b'F' => got_no_df += 1,
                _ => {}
            }
        }
    }
    (got_df, got_no_df)
}

fn run(prefix: &str, offload: bool) -> Outcome {
    let options = RunOptions {
        offload,
        ..RunOptions::default()
    };
    let lab = Lab::start_with(prefix, &lab(prefix), options);
    assert_eq!(
        lab.daemon().offload().is_some(),
        offload,
        "the fast path is {} in this build and kernel",
        if offload { "missing" } else { "on" }
    );
    let sender = lab.ns("sender");
    assert!(wait_for(Duration::from_secs(10), || ping(
        &sender, RECEIVER
    )));
    in_netns(&sender, &["ip", "link", "set", "eth0", "mtu", "9000"]);
    let before = too_big(&lab);
    let pings_df = big_pings(&sender, "do");
    let pings_no_df = big_pings(&sender, "dont");
    let (datagrams_df, datagrams_no_df) = large_datagrams(&lab, offload);
    Outcome {
        pings_df,
        pings_no_df,
        datagrams_df,
        datagrams_no_df,
        too_big: too_big(&lab) - before,
    }
}

#[test]
fn a_guest_that_raises_its_mtu_has_each_large_packet_delivered_or_counted_alike_in_both_modes() {
    let offloaded = run("bigon", true);
    let userspace = run("bigoff", false);
    let expected = Outcome {
        pings_df: 0,
        pings_no_df: 3,
        datagrams_df: 0,
        datagrams_no_df: 5,
        // Three pings and five datagrams with DF, each counted once.
        too_big: 8,
    };
    assert_eq!(
        [&offloaded, &userspace],
        [&expected, &expected],
        "with the fast path, then without"
    );
}
