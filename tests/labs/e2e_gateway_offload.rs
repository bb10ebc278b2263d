//! Two VNets joined through their VPN gateways (Vnet2Vnet,
//! `scripts/labs/vnet2vnet.yaml`), with nothing to pace (`--no-shaping`):
//! the path clamps TCP's MSS to 1350 and carries at most 1400 bytes, and
//! the kernel fast path carries it within that bound. A TCP transfer's
//! SYNs are clamped by the daemon and none of its segments is too big; a
//! datagram
//! larger than the tunnel, with DF set, is dropped as `too_big` at its
//! sender even while the flow's smaller datagrams are carried by the
//! kernel; and every packet is counted once. Needs root (see
//! `common::require_root`).

use crate::common;

use common::Lab;
use std::net::SocketAddr;
use std::time::Duration;
use vnetd::daemon::options::{offload_off_by_environment, RunOptions};
use vnetd::daemon::reporting::report::flows_of;
use vnetd::host::netns;

const VNET2VNET: &str = include_str!("../../scripts/labs/vnet2vnet.yaml");

/// The IP bytes of a datagram of `payload` bytes.
fn ip_len(payload: usize) -> usize {
    20 + 8 + payload
}

#[test]
fn a_path_through_two_vpn_gateways_leaves_userspace_within_its_tunnels_mtu() {
    let offloading = !offload_off_by_environment();
    let prefix = "gwoff";
    let options = RunOptions {
        shaping: false,
        ..Default::default()
    };
    let text = format!("netns_prefix: {prefix}-\n{VNET2VNET}");
    let lab = Lab::start_with(prefix, &common::with_netns_prefix(&text, prefix), options);
    assert_eq!(lab.daemon().offload().is_some(), offloading);
    let (a, b) = (lab.ns("vm-a"), lab.ns("vm-b"));

    // TCP: the SYNs are clamped where the daemon sees them, and no
    // segment is larger than the tunnel, whichever path carries it.
    let syns = common::traffic::Capture::start_detailed(&b, "tcp[tcpflags] == tcp-syn");
    let _server = common::iperf3_server(&b, "10.71.1.4");
    let report = common::iperf3_transfer(&a, "10.71.1.4", "40M");
    assert!(report["end"]["sum_received"]["bytes"].as_u64().unwrap() > 0);
    let seen = syns.count().join("\n");
    assert!(
        seen.contains("mss 1350,"),
        "the SYN crossed unclamped:\n{seen}"
    );
    lab.assert_balanced("after the transfer");
    if !offloading {
        assert_eq!(lab.stats("vm-a").offloaded_packets_sent, 0);
    }
    assert_eq!(lab.stats("vm-a").drops.get("too_big"), None, "TCP fits");

    // UDP: small datagrams until the kernel carries the flow, then one
    // larger than the tunnel (DF set, as a socket sets it by default),
    // then small ones again.
    let to: SocketAddr = "10.71.1.4:5300".parse().unwrap();
    let server = netns::run_in(&b, move || common::udp_bind_again(to)).unwrap();
    server
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let client = common::udp_client_for(&a, to);
    let mut buf = [0u8; 2048];
    let mut exchange = |payload: usize| {
        client.send_to(&vec![7u8; payload], to).unwrap();
        server.recv_from(&mut buf).ok().map(|(len, _)| len)
    };
    // Until the kernel carries vm-a's way: a datagram of it counted as the
    // kernel's.
    let carried = || lab.stats("vm-a").offloaded_packets_sent;
    assert!(
        common::wait_for(Duration::from_secs(10), || {
            let before = carried();
            assert_eq!(exchange(100), Some(100), "a small datagram is delivered");
            !offloading || carried() == before + 1
        }),
        "the datagrams never left userspace: {:?}",
        flows_of(lab.daemon(), Some("vm-a"))
    );
    let before = lab.stats("vm-a");
    let too_big = 1400 - 28 + 1;
    assert_eq!(ip_len(too_big), 1401);
    assert_eq!(
        exchange(too_big),
        None,
        "1401 bytes do not cross a 1400 tunnel"
    );
    for _ in 0..3 {
        assert_eq!(exchange(1400 - 28), Some(1372), "1400 bytes do");
    }
    lab.assert_balanced("after the datagrams");
    let after = lab.stats("vm-a");
    let dropped = |s: &vnetd::api::NicStats| s.drops.get("too_big").copied().unwrap_or(0);
    assert_eq!(dropped(&after) - dropped(&before), 1, "{after:?}");
    assert_eq!(after.packets_sent - before.packets_sent, 4, "{after:?}");
    let carried = after.offloaded_packets_sent - before.offloaded_packets_sent;
    match offloading {
        // The datagrams that fit, by the kernel; the one too big, by the
        // daemon, which dropped it.
        true => assert_eq!(carried, 3, "{after:?}"),
        false => assert_eq!(carried, 0),
    }
}
