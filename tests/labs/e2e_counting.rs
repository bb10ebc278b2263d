//! Counters count packets as Azure does, on the wire: a GSO super-packet
//! counts as the TCP segments or UDP datagrams it stands for, whether the
//! sender's kernel made it or the fabric joined the datagrams, in the NIC
//! counters, the drop reasons and `flows`; and every packet a sender puts
//! on its `eth0` is delivered or counted as a drop with its reason, against
//! the kernel's own counters of the sending and receiving `eth0`. Real
//! traffic from real sockets, iperf3 and trafgen, in a real lab. Needs root
//! (see `common::require_root`).

use crate::common;

use common::Lab;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;
use vnetd::daemon::reporting::report::flows_of;
use vnetd::dataplane::DropReason;

const HUB_SPOKE: &str = include_str!("../../config/hub-spoke.yaml");

/// The built-in lab, with vm2's subnet also denying UDP 9999.
fn lab_denying_udp_9999(prefix: &str) -> Lab {
    let text = common::with_netns_prefix(HUB_SPOKE, prefix).replace(
        "    security_rules:\n      - name: deny-telnet\n",
        "    security_rules:\n      - {name: deny-udp-9999, priority: 110, direction: Inbound, access: Deny, protocol: Udp, source_port_range: '*', destination_port_range: '9999', source_address_prefix: '*', destination_address_prefix: '*'}\n      - name: deny-telnet\n",
    );
    Lab::start_exact(prefix, &text)
}

/// Waits (10 s at most) until `count()` reaches `want`, and returns the
/// count then: the last packets may still be in the fabric when the sender
/// returns. A count that passes `want` is returned at once.
fn count_reaching(want: u64, count: impl Fn() -> u64) -> u64 {
    common::wait_for(Duration::from_secs(10), || count() >= want);
    count()
}

/// Packets forward and bytes forward of `nic`'s flow of `protocol` to
/// `destination` (the flow with the most bytes, when there are several).
fn flow_counts(lab: &Lab, nic: &str, protocol: &str, destination: &str) -> (u64, u64) {
    flows_of(lab.daemon(), Some(nic))
        .into_iter()
        .filter(|f| f.protocol == protocol && f.destination == destination)
        .map(|f| (f.packets_forward, f.bytes_forward))
        .max_by_key(|&(_, bytes)| bytes)
        .unwrap_or_else(|| panic!("no {protocol} flow of {nic} to {destination}"))
}

#[test]
fn denied_datagrams_count_one_by_one_however_they_were_batched() {
    let lab = lab_denying_udp_9999("cnt");
    let vm2 = || lab.stats("vm2").drops_for(DropReason::NsgInbound);
    let to: SocketAddr = "10.2.1.4:9999".parse().unwrap();

    // 256 datagrams in one burst, handed to the NVA one by one (a VM's NIC
    // is never handed a run the fabric joined).
    const BURST: u64 = 256;
    let sender = common::udp_client_for(&lab.ns("vm1"), to);
    for _ in 0..BURST {
        sender.send_to(&[7u8; 1200], to).unwrap();
    }
    assert_eq!(count_reaching(BURST, vm2), BURST, "one drop per datagram");

    // 1000 datagrams sent 50 per send with UDP segmentation offload: the
    // sender's kernel hands the fabric 20 super-packets.
    const SENDS: u64 = 20;
    const PER_SEND: usize = 50;
    let gso = common::udp_client_for(&lab.ns("vm1"), to);
    nix::sys::socket::setsockopt(&gso, nix::sys::socket::sockopt::UdpGsoSegment, &1200)
        .expect("UDP_SEGMENT");
    for _ in 0..SENDS {
        let sent = gso.send_to(&[9u8; 1200 * PER_SEND], to).unwrap();
        assert_eq!(sent, 1200 * PER_SEND);
    }
    let all = BURST + SENDS * PER_SEND as u64;
    assert_eq!(count_reaching(all, vm2), all, "one drop per datagram");

    // Every other count agrees: what vm1 sent, what crossed the NVA, and
    // vm1's flow, each datagram 20 + 8 + 1200 bytes.
    let vm1 = lab.stats("vm1");
    let nva1 = lab.stats("nva1");
    assert_eq!(nva1.packets_received, all, "delivered to the NVA");
    // (Less the kernel's IPv6 multicast chatter, which Azure never carries.)
    let chatter = nva1.drops_for(DropReason::Unroutable);
    assert_eq!(nva1.packets_sent - chatter, all, "forwarded by the NVA");
    assert_eq!(nva1.bytes_received, all * 1228);
    assert!(vm1.packets_sent >= all, "{vm1:?}");
    // Each sender's flow (keyed by its source port) counts its datagrams.
    let flow_of = |socket: &UdpSocket| {
        let port = socket.local_addr().unwrap().port();
        flows_of(lab.daemon(), Some("vm1"))
            .into_iter()
            .find(|f| f.protocol == "Udp" && f.source.ends_with(&format!(":{port}")))
            .map(|f| (f.packets_forward, f.bytes_forward))
            .expect("the sender's flow")
    };
    assert_eq!(flow_of(&sender), (BURST, BURST * 1228));
    let gso_datagrams = SENDS * PER_SEND as u64;
    assert_eq!(flow_of(&gso), (gso_datagrams, gso_datagrams * 1228));
}

#[test]
fn a_tcp_transfer_counts_its_segments_and_their_bytes() {
    let lab = Lab::start("cnttcp", HUB_SPOKE);
    let _server = common::iperf3_server(&lab.ns("shared1"), "10.0.2.4");
    // 200 MB across the peering: the sender's kernel hands the fabric TSO
    // super-packets of up to 64 KiB.
    let report = common::iperf3_transfer(&lab.ns("vm1"), "10.0.2.4", "200M");
    let end = &report["end"];
    // What iperf3 wrote, and what the server read: the client stops once
    // it has written its bytes, and the server may close before the last
    // of them arrive, so what crossed the fabric lies between the two.
    let sent = end["sum_sent"]["bytes"].as_u64().unwrap();
    let received = end["sum_received"]["bytes"].as_u64().unwrap();
    let retransmits = end["sum_sent"]["retransmits"].as_u64().unwrap();
    let mss = report["start"]["tcp_mss_default"].as_u64().unwrap();
    // Each full segment is a 1500-byte packet (the NIC's MTU): its payload
    // and the IP and TCP headers (with options) it repeats.
    let headers = 1500 - mss;
    let payload_of = |(packets, bytes): (u64, u64)| bytes - packets * headers;
    // The last segments may still be in the fabric when iperf3 returns.
    count_reaching(received, || {
        payload_of(flow_counts(&lab, "vm1", "Tcp", "10.0.2.4:5201"))
    });
    let (packets, bytes) = flow_counts(&lab, "vm1", "Tcp", "10.0.2.4:5201");
    let payload = payload_of((packets, bytes));
    let context = format!(
        "{packets} packets, {bytes} bytes ({payload} of payload) counted; iperf3 sent {sent} \
         bytes, the server read {received}, {retransmits} retransmits, MSS {mss}"
    );
    assert!(
        payload >= received,
        "every byte received is counted: {context}"
    );
    assert!(
        payload <= sent + sent / 50 + retransmits * mss,
        "at most 2 % above what was sent, with retransmits: {context}"
    );
    let segments = payload / mss;
    assert!(
        packets.abs_diff(segments) <= segments / 20,
        "packets within 5 % of the payload in segments ({segments}): {context}"
    );
    // vm1's NIC counter holds the same segments, and shared1 received them.
    let vm1 = lab.stats("vm1");
    assert!(
        vm1.packets_sent >= packets,
        "{vm1:?} vs the flow's {packets}"
    );
    let shared1 = lab.stats("shared1");
    assert!(
        shared1.packets_received >= segments,
        "{shared1:?}: {segments} segments delivered"
    );
}

/// A NIC's counters are named from its side: the datagrams vm1 sends to
/// shared1 are vm1's `sent` and, once delivered, shared1's `received`, and
/// nothing is counted the other way (no datagram comes back).
#[test]
fn the_sender_counts_what_it_sent_and_the_receiver_what_it_received() {
    let lab = Lab::start("cntdir", HUB_SPOKE);
    let to: SocketAddr = "10.0.2.4:9100".parse().unwrap();
    let receiver =
        vnetd::host::netns::run_in(&lab.ns("shared1"), move || common::udp_bind_again(to)).unwrap();
    receiver
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    const DATAGRAMS: u64 = 40;
    const PAYLOAD: usize = 100;
    let sender = common::udp_client_for(&lab.ns("vm1"), to);
    for _ in 0..DATAGRAMS {
        sender.send_to(&[3u8; PAYLOAD], to).unwrap();
    }
    let mut buf = [0u8; 2048];
    for i in 0..DATAGRAMS {
        let (n, _) = receiver
            .recv_from(&mut buf)
            .unwrap_or_else(|e| panic!("datagram {i} of {DATAGRAMS} never arrived: {e}"));
        assert_eq!(n, PAYLOAD);
    }

    // What each NIC sent, less the kernel's IPv6 multicast chatter (counted
    // as sent, then dropped as unroutable: Azure never carries it).
    let sent = |nic: &str| {
        let s = lab.stats(nic);
        s.packets_sent - s.drops_for(DropReason::Unroutable)
    };
    let received = |nic: &str| lab.stats(nic).packets_received;
    // The last datagrams' counts may land just after the socket read them.
    common::wait_for(Duration::from_secs(10), || {
        sent("vm1") == DATAGRAMS && received("shared1") == DATAGRAMS
    });
    let wire_bytes = DATAGRAMS * (20 + 8 + PAYLOAD as u64);
    assert_eq!(sent("vm1"), DATAGRAMS, "{:?}", lab.stats("vm1"));
    assert!(lab.stats("vm1").bytes_sent >= wire_bytes);
    assert_eq!(received("shared1"), DATAGRAMS, "{:?}", lab.stats("shared1"));
    assert_eq!(lab.stats("shared1").bytes_received, wire_bytes);
    assert_eq!(received("vm1"), 0, "{:?}", lab.stats("vm1"));
    assert_eq!(sent("shared1"), 0, "{:?}", lab.stats("shared1"));
}

/// A guest that raises its own `eth0`'s MTU to 9000 and sends 3000-byte
/// packets to a NIC of MTU 1500 in its VNet: each packet is delivered
/// (IPv4 without DF, fragmented to the receiver's MTU) or dropped and
/// counted as `too_big` at the sender (with DF), never lost unseen, and
/// the kernel fast path and `--no-offload` give the same numbers. Real
/// packets: `ping -s 2972` with and without DF, and UDP datagrams of a
/// flow the fast path already carries, received by a socket in the
/// receiver's namespace.
mod larger_mtu {
    use super::common::{in_netns, ping, wait_for, Lab};
    use std::net::{SocketAddr, UdpSocket};
    use std::process::Command;
    use std::time::{Duration, Instant};
    use vnetd::daemon::reporting::report::flows_of;
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
        super::common::udp_client_for(ns, server)
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
    fn settle(
        lab: &Lab,
        sender: &UdpSocket,
        receiver: &UdpSocket,
        server: SocketAddr,
        offload: bool,
    ) {
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
        let receiver = netns::run_in(&lab.ns("receiver"), move || {
            super::common::udp_bind_again(server)
        })
        .unwrap();
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
        // The datagrams with DF are another flow than those without, which
        // another worker may decide first: their drops may be counted an
        // instant after the last datagram without DF arrived. Each packet
        // with DF (three pings, five datagrams) is waited for, then the
        // count read once.
        wait_for(Duration::from_secs(10), || too_big(&lab) - before >= 3 + 5);
        Outcome {
            pings_df,
            pings_no_df,
            datagrams_df,
            datagrams_no_df,
            too_big: too_big(&lab) - before,
        }
    }

    #[test]
    fn a_guest_that_raises_its_mtu_has_each_large_packet_delivered_or_counted_alike_in_both_modes()
    {
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
}

/// Every packet a sender puts on its `eth0` is delivered and counted, or
/// dropped and counted with its reason, in both modes (`.ci/run` runs
/// these again with `VNETD_NO_OFFLOAD=1`): a NIC whose `eth0` is deleted
/// or set down under an offloaded flow, and a packet generator's raw frames
/// (`trafgen`), counted against the kernel's own counters of the sending and
/// the receiving `eth0`.
mod every_packet;
