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
use vnetd::daemon::report::flows_of;
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
/// under an offloaded flow, and a packet generator's raw frames (`trafgen`,
/// from a ring of pages, as fast as it can), counted against the kernel's
/// own counters of the sending and the receiving `eth0`.
mod every_packet {
    use super::common::{self, Lab};
    use std::net::SocketAddr;
    use std::process::Command;
    use std::time::Duration;
    use vnetd::daemon::options::offload_off_by_environment;
    use vnetd::daemon::report::{flows_of, stats_of};
    use vnetd::dataplane::DropReason;
    use vnetd::host::netns;

    const HUB_SPOKE: &str = include_str!("../../config/hub-spoke.yaml");

    fn offloading() -> bool {
        !offload_off_by_environment()
    }

    fn assert_mode(lab: &Lab) {
        assert_eq!(
            lab.daemon().offload().is_some(),
            offloading(),
            "the lab's offload does not match VNETD_NO_OFFLOAD"
        );
    }

    /// Whether `nic`'s UDP flow from source port `source_port` to
    /// `destination` is carried by the kernel.
    fn offloaded(lab: &Lab, nic: &str, source_port: u16, destination: &str) -> bool {
        flows_of(lab.daemon(), Some(nic)).iter().any(|f| {
            f.protocol == "Udp"
                && f.destination == destination
                && f.source.ends_with(&format!(":{source_port}"))
                && f.offloaded
        })
    }

    /// A counter of device `device` in namespace `ns`, as the kernel keeps
    /// it (`/sys/class/net/<device>/statistics/<counter>`).
    fn link_counter(ns: &str, device: &str, counter: &str) -> u64 {
        common::in_netns(
            ns,
            &[
                "cat",
                &format!("/sys/class/net/{device}/statistics/{counter}"),
            ],
        )
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{counter} of {device} in {ns}: {e}"))
    }

    #[test]
    fn a_nic_whose_eth0_is_deleted_under_an_offloaded_flow_counts_what_is_sent_to_it_as_gone() {
        let lab = Lab::start("cntgone", HUB_SPOKE);
        assert_mode(&lab);
        let to: SocketAddr = "10.0.2.4:7700".parse().unwrap();
        let server = netns::run_in(&lab.ns("shared1"), move || common::udp_bind_again(to)).unwrap();
        server
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let client = common::udp_client_for(&lab.ns("vm1"), to);
        let source_port = client.local_addr().unwrap().port();
        let mut buf = [0u8; 64];
        // Datagrams until they arrive and, with offload, the kernel
        // carries their flow.
        let settled = common::wait_for(Duration::from_secs(10), || {
            client.send_to(b"before", to).unwrap();
            let arrived = server.recv_from(&mut buf).is_ok();
            arrived && (!offloading() || offloaded(&lab, "vm1", source_port, &to.to_string()))
        });
        assert!(settled, "the flow never settled");
        while server.recv_from(&mut buf).is_ok() {}
        let report = || stats_of(lab.daemon()).offload;
        let installed_before = report().map(|o| o.installed);
        let host_end = lab.daemon().plane().ports
            [lab.daemon().snapshot().port_by_name("shared1").unwrap()]
        .fast
        .map(|f| f.host_end);
        assert_eq!(host_end.is_some(), offloading(), "shared1 on the fabric");
        let (vm1, shared1) = (lab.stats("vm1"), lab.stats("shared1"));

        common::in_netns(&lab.ns("shared1"), &["ip", "link", "delete", "eth0"]);

        // Sent in rounds, each counted before the next leaves, so that no
        // queue between vm1 and the daemon overflows: each datagram is
        // then counted as what became of it at shared1, exactly.
        const ROUNDS: u64 = 20;
        const PER_ROUND: u64 = 100;
        let sent = || {
            let s = lab.stats("vm1");
            (s.packets_sent - vm1.packets_sent)
                - (s.drops_for(DropReason::Unroutable) - vm1.drops_for(DropReason::Unroutable))
        };
        let gone = || {
            lab.stats("shared1").drops_for(DropReason::EgressGone)
                - shared1.drops_for(DropReason::EgressGone)
        };
        for round in 1..=ROUNDS {
            for _ in 0..PER_ROUND {
                client.send_to(&[7u8; 200], to).unwrap();
            }
            assert!(
                common::wait_for(Duration::from_secs(10), || gone() >= round * PER_ROUND),
                "round {round}: {} sent, {} counted gone; vm1 {:?}, shared1 {:?}",
                sent(),
                gone(),
                lab.stats("vm1"),
                lab.stats("shared1")
            );
        }
        let all = ROUNDS * PER_ROUND;
        let now = lab.stats("shared1");
        assert_eq!(gone(), all, "each datagram counted gone once: {now:?}");
        assert_eq!(sent(), all, "{:?}", lab.stats("vm1"));
        assert_eq!(
            (now.packets_received, now.bytes_received),
            (shared1.packets_received, shared1.bytes_received),
            "nothing delivered to a NIC that is gone"
        );
        if let Some(host_end) = host_end {
            let offload = report().expect("an offload report");
            assert_eq!(
                Some(offload.installed),
                installed_before,
                "no entry installed since the deletion: {offload:?}"
            );
            assert!(offload.removed_egress_gone >= 1, "{offload:?}");
            let fabric = lab.daemon().offload().unwrap().fabric().clone();
            let toward_it: Vec<_> = (fabric.entries().into_iter())
                .filter(|(_, entry)| entry.egress == host_end)
                .collect();
            assert_eq!(toward_it, vec![], "entries toward the deleted NIC");
        }
    }

    #[test]
    fn a_nic_whose_eth0_is_set_down_counts_what_is_sent_to_it_as_gone_until_it_is_up_again() {
        let lab = Lab::start("cntdown", HUB_SPOKE);
        assert_mode(&lab);
        let to: SocketAddr = "10.0.2.4:7800".parse().unwrap();
        let server = netns::run_in(&lab.ns("shared1"), move || common::udp_bind_again(to)).unwrap();
        server
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let client = common::udp_client_for(&lab.ns("vm1"), to);
        let source_port = client.local_addr().unwrap().port();
        let mut buf = [0u8; 64];
        let carried = || !offloading() || offloaded(&lab, "vm1", source_port, &to.to_string());
        let settled = common::wait_for(Duration::from_secs(10), || {
            client.send_to(b"before", to).unwrap();
            server.recv_from(&mut buf).is_ok() && carried()
        });
        assert!(settled, "the flow never settled");
        while server.recv_from(&mut buf).is_ok() {}
        let host_end = lab.daemon().plane().ports
            [lab.daemon().snapshot().port_by_name("shared1").unwrap()]
        .fast
        .map(|f| f.host_end);
        let (vm1, shared1) = (lab.stats("vm1"), lab.stats("shared1"));

        common::in_netns(&lab.ns("shared1"), &["ip", "link", "set", "eth0", "down"]);
        if let (Some(host_end), Some(offload)) = (host_end, lab.daemon().offload()) {
            // The daemon learns it from the kernel's link notices (within
            // half a second): from then on the fast path counts what it
            // would hand that eth0.
            let fabric = offload.fabric().clone();
            assert!(
                common::wait_for(Duration::from_secs(5), || !fabric.has_port(host_end)),
                "the fabric never saw shared1's eth0 go down"
            );
        }
        const ROUNDS: u64 = 10;
        const PER_ROUND: u64 = 100;
        let gone = || {
            lab.stats("shared1").drops_for(DropReason::EgressGone)
                - shared1.drops_for(DropReason::EgressGone)
        };
        for round in 1..=ROUNDS {
            for _ in 0..PER_ROUND {
                client.send_to(&[8u8; 200], to).unwrap();
            }
            assert!(
                common::wait_for(Duration::from_secs(10), || gone() >= round * PER_ROUND),
                "round {round}: {} counted gone; vm1 {:?}, shared1 {:?}",
                gone(),
                lab.stats("vm1"),
                lab.stats("shared1")
            );
        }
        let all = ROUNDS * PER_ROUND;
        assert_eq!(gone(), all, "each datagram counted gone once");
        let now = lab.stats("shared1");
        assert_eq!(
            now.packets_received, shared1.packets_received,
            "nothing delivered to an eth0 that is down: {now:?}"
        );
        let vm1_now = lab.stats("vm1");
        let unroutable = |s: &vnetd::daemon::stats::NicStats| s.drops_for(DropReason::Unroutable);
        assert_eq!(
            (vm1_now.packets_sent - vm1.packets_sent) - (unroutable(&vm1_now) - unroutable(&vm1)),
            all,
            "{vm1_now:?}"
        );

        // Up again: the datagrams arrive, and the kernel carries the flow
        // again (with offload).
        common::in_netns(&lab.ns("shared1"), &["ip", "link", "set", "eth0", "up"]);
        let back = common::wait_for(Duration::from_secs(10), || {
            client.send_to(b"again", to).unwrap();
            server.recv_from(&mut buf).is_ok() && carried()
        });
        assert!(
            back,
            "shared1 never took the flow again: {:?}",
            stats_of(lab.daemon()).offload
        );
    }

    /// The frames `trafgen` sends: a UDP datagram of 1000 bytes from
    /// vm1 (10.1.1.4) port `source_port` to shared1 (10.0.2.4) port 9400,
    /// behind an Ethernet header to the fabric's MAC from `eth0`'s `mac`
    /// when `eth0` is a veth (a TUN `eth0` takes IP packets).
    fn trafgen_config(mac: Option<&str>, source_port: u16) -> String {
        let ethernet = mac
            .map(|mac| format!("  eth(da=12:34:56:78:9a:bc, sa={mac}, type=0x0800),\n"))
            .unwrap_or_default();
        format!(
            "{{\n{ethernet}  ipv4(saddr=10.1.1.4, daddr=10.0.2.4, ttl=64, df),\n  \
             udp(sp={source_port}, dp=9400),\n  fill(0x61, 1000),\n}}\n"
        )
    }

    /// Runs `trafgen` in `ns` on `eth0`: `frames` frames of `config`, as
    /// fast as it goes, from one CPU; returns what it says it sent.
    fn trafgen(ns: &str, config: &str, frames: u64, gap: Option<&str>) -> u64 {
        let dir = std::env::temp_dir().join(format!("vnetd-trafgen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("{ns}-{frames}.cfg"));
        std::fs::write(&file, config).unwrap();
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", ns, "trafgen", "--dev", "eth0", "--conf"])
            .arg(&file)
            .args(["--num", &frames.to_string(), "--cpus", "1", "--no-sock-mem"]);
        if let Some(gap) = gap {
            command.args(["--gap", gap]);
        }
        let out = command
            .output()
            .expect("trafgen is installed (netsniff-ng, which .ci/run installs)");
        let _ = std::fs::remove_file(&file);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "trafgen: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
            .lines()
            .find(|l| l.contains("packets outgoing"))
            .and_then(|l| l.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("trafgen said nothing of what it sent: {stdout}"))
    }

    /// What the kernel and vnetd counted of a run of frames from vm1 to
    /// shared1.
    #[derive(Debug)]
    struct Counted {
        /// What vm1's `eth0` took (sent) and its queue dropped.
        eth0_sent: u64,
        /// What shared1's `eth0` received.
        eth0_received: u64,
        /// What vnetd delivered to shared1.
        delivered: u64,
        /// What vnetd counted dropped, at any NIC, by reason.
        drops: std::collections::BTreeMap<String, u64>,
        /// What the kernel fast path carried from vm1.
        carried: u64,
    }

    impl Counted {
        fn dropped(&self) -> u64 {
            self.drops.values().sum()
        }
    }

    /// The counters the runs are measured by, now.
    fn counters(lab: &Lab) -> Counted {
        let (vm1, shared1) = (lab.ns("vm1"), lab.ns("shared1"));
        let mut drops = std::collections::BTreeMap::new();
        for nic in ["vm1", "shared1", "nva1", "vm2"] {
            for (reason, n) in lab.stats(nic).drops {
                *drops.entry(reason).or_default() += n;
            }
        }
        Counted {
            eth0_sent: link_counter(&vm1, "eth0", "tx_packets")
                + link_counter(&vm1, "eth0", "tx_dropped"),
            eth0_received: link_counter(&shared1, "eth0", "rx_packets"),
            delivered: lab.stats("shared1").packets_received,
            drops,
            carried: lab.stats("vm1").offloaded_packets_sent,
        }
    }

    /// What was counted between `before` and `after`.
    fn between(before: &Counted, after: &Counted) -> Counted {
        Counted {
            eth0_sent: after.eth0_sent - before.eth0_sent,
            eth0_received: after.eth0_received - before.eth0_received,
            delivered: after.delivered - before.delivered,
            drops: (after.drops.iter())
                .map(|(r, n)| (r.clone(), n - before.drops.get(r).copied().unwrap_or(0)))
                .filter(|(_, n)| *n > 0)
                .collect(),
            carried: after.carried - before.carried,
        }
    }

    /// Sends `frames` frames with trafgen and waits until the counts
    /// agree within 1 % (or 30 s pass): what vm1's `eth0` put out against
    /// what vnetd delivered and dropped, and what shared1's `eth0` took
    /// against what vnetd delivered. Returns what was counted.
    fn run_frames(lab: &Lab, config: &str, frames: u64) -> Counted {
        let before = counters(lab);
        let said = trafgen(&lab.ns("vm1"), config, frames, None);
        assert_eq!(said, frames, "trafgen's own count");
        let within = |a: u64, b: u64, of: u64| a.abs_diff(b) * 100 <= of;
        let agree = |c: &Counted| {
            within(c.eth0_sent, c.delivered + c.dropped(), c.eth0_sent)
                && within(c.eth0_received, c.delivered, c.eth0_sent)
        };
        let mut last = between(&before, &counters(lab));
        common::wait_for(Duration::from_secs(30), || {
            last = between(&before, &counters(lab));
            agree(&last)
        });
        assert!(
            last.eth0_sent >= frames,
            "vm1's eth0 put out fewer than trafgen sent: {last:?}"
        );
        assert!(
            within(
                last.eth0_sent,
                last.delivered + last.dropped(),
                last.eth0_sent
            ),
            "sent = delivered + counted drops, within 1 %: {last:?}"
        );
        assert!(
            within(last.eth0_received, last.delivered, last.eth0_sent),
            "shared1's eth0 received what vnetd delivered, within 1 %: {last:?}"
        );
        eprintln!("{frames} frames: {last:?}");
        last
    }

    #[test]
    fn a_packet_generators_raw_frames_are_each_delivered_or_counted_dropped() {
        const FRAMES: u64 = 1_000_000;
        let lab = Lab::start("cnttgen", HUB_SPOKE);
        assert_mode(&lab);
        let (vm1, shared1) = (lab.ns("vm1"), lab.ns("shared1"));
        // A socket that takes the datagrams (and never reads them: what
        // its buffer cannot hold is shared1's own business, past its
        // eth0), so that shared1 sends nothing back.
        let to: SocketAddr = "10.0.2.4:9400".parse().unwrap();
        let _receiver = netns::run_in(&shared1, move || common::udp_bind_again(to)).unwrap();
        let mac = in_veth_mac(&vm1);
        assert!(common::wait_for(Duration::from_secs(10), || common::ping(
            &vm1, "10.0.2.4"
        )));

        // A flow the fast path carries from its first frames on (with
        // offload): a few frames, one every 20 ms, until it is installed;
        // then a million as fast as trafgen sends them.
        let carried_flow = trafgen_config(mac.as_deref(), 45001);
        let settled = common::wait_for(Duration::from_secs(20), || {
            trafgen(&vm1, &carried_flow, 5, Some("20ms"));
            !offloading() || offloaded(&lab, "vm1", 45001, &to.to_string())
        });
        assert!(settled, "trafgen's flow was never offloaded");
        let carried = run_frames(&lab, &carried_flow, FRAMES);
        if offloading() {
            // Frames in pages take the fast path like any other: all but
            // a handful (an ARP refresh, the kernel's own chatter).
            assert!(
                carried.carried * 100 >= carried.eth0_sent * 99,
                "the kernel carried the generator's flow: {carried:?}"
            );
        } else {
            assert_eq!(carried.carried, 0, "{carried:?}");
        }

        // A flow the daemon sees first: a flood of its first frames
        // reaches the queue toward the daemon faster than it reads them
        // (until the flow is installed, with offload); what the queue
        // drops is counted, with its reason.
        let new_flow = trafgen_config(mac.as_deref(), 45002);
        let flood = run_frames(&lab, &new_flow, FRAMES / 10);
        let unexplained: Vec<_> = (flood.drops.keys())
            .chain(carried.drops.keys())
            .filter(|r| {
                !matches!(
                    r.as_str(),
                    "ingress_queue_full" | "unroutable" | "malformed"
                )
            })
            .collect();
        assert_eq!(
            unexplained,
            Vec::<&String>::new(),
            "drops of other reasons: {carried:?} {flood:?}"
        );
    }

    /// The MAC address of `eth0` in `ns` when it is a veth (offload on),
    /// `None` for a TUN `eth0`, which has none.
    fn in_veth_mac(ns: &str) -> Option<String> {
        let mac = common::in_netns(ns, &["cat", "/sys/class/net/eth0/address"]);
        let mac = mac.trim();
        (!mac.is_empty() && offloading()).then(|| mac.to_owned())
    }
}
