//! A StandardV2 NAT gateway in a dual-stack subnet, live: `curl` to the
//! Internet's IPv4 and IPv6 echo servers shows the gateway's address of
//! each family, and `ping` through it is answered (StandardV2 translates
//! ICMP echo); an IPv6 stream through it and an IPv6 ping through a
//! public IPv6 address are carried by the kernel and counted exactly.
//! Needs root.

use crate::common;

use common::Lab;

const LAB: &str = include_str!("../fixtures/nat-v2-dual-stack.yaml");

#[test]
fn a_standard_v2_nat_gateway_carries_both_families_and_ping() {
    let lab = Lab::start("natv2", LAB);
    let vm1 = lab.ns("vm1");
    assert_eq!(common::servers::echo_seen(&vm1), "198.51.100.10");
    let seen6 = common::stdout_in(
        &vm1,
        &["curl", "-s", "-m", "5", "http://[2001:db8:ffff::10]/"],
    );
    assert_eq!(
        seen6.lines().next().unwrap_or_default().trim(),
        "2001:db8:100::10"
    );
    assert!(
        common::ping(&vm1, "203.0.113.10"),
        "StandardV2 translates ICMP echo"
    );
}

/// A NIC's counters that move with every packet: packets sent (but those
/// its guest sends that stay on its link, IPv6 listener reports a guest
/// sends when it pleases), packets received, and the packets the kernel
/// carried each way.
fn traffic(lab: &Lab, nic: &str) -> [u64; 4] {
    let s = lab.stats(nic);
    [
        s.packets_sent - s.drops_for(vnetd::dataplane::DropReason::Unroutable),
        s.packets_received,
        s.offloaded_packets_sent,
        s.offloaded_packets_received,
    ]
}

/// What vm1's and the Internet's [`traffic`] moved by since `before`
/// (their readings then).
fn moved_since(lab: &Lab, before: ([u64; 4], [u64; 4])) -> ([u64; 4], [u64; 4]) {
    let d =
        |now: [u64; 4], then: [u64; 4]| -> [u64; 4] { std::array::from_fn(|k| now[k] - then[k]) };
    (
        d(traffic(lab, "vm1"), before.0),
        d(traffic(lab, "internet"), before.1),
    )
}

/// An IPv6 TCP stream through the StandardV2 NAT gateway, with the fast
/// path on and off: the server sees the gateway's IPv6 address and every
/// byte, every segment either end sent is counted received at the other,
/// and with the fast path on the kernel carries the translated connection
/// both ways once it is established (`flows` gives no reason to keep it
/// in the workers), rewriting it as the workers do.
#[test]
fn an_ipv6_stream_through_the_gateway_is_carried_by_the_kernel_and_counted_exactly() {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::time::Duration;
    use vnetd::daemon::reporting::report::flows_of;
    use vnetd::host::netns;
    const FIRST: usize = 64 * 1024;
    const REST: usize = 4 * 1024 * 1024;
    for (prefix, offload) in [("nat6k", true), ("nat6u", false)] {
        let options = vnetd::daemon::options::RunOptions {
            offload,
            ..Default::default()
        };
        let lab = Lab::start_with(prefix, &common::with_netns_prefix(LAB, prefix), options);
        let what = format!("offload {offload}");
        let internet = format!("{}.internet", lab.ns("vm1"));
        let at: SocketAddr = "[2001:db8:ffff::10]:7003".parse().unwrap();
        let listener = netns::run_in(&internet, move || Ok(TcpListener::bind(at)?)).unwrap();
        let before = (traffic(&lab, "vm1"), traffic(&lab, "internet"));
        let mut client = netns::run_in(&lab.ns("vm1"), move || {
            Ok(TcpStream::connect_timeout(&at, Duration::from_secs(3))?)
        })
        .unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let (accepted, peer) = listener.accept().unwrap();
        assert_eq!(peer.ip().to_string(), "2001:db8:100::10", "{what}");
        // The server reads everything, then says how much it read.
        let server = common::traffic::count_to_the_end(accepted);
        let flow = || {
            flows_of(lab.daemon(), Some("vm1")).into_iter().find(|f| {
                f.protocol == "Tcp" && f.destination.contains("2001:db8:ffff::10") && {
                    f.destination.ends_with(":7003")
                }
            })
        };
        client.write_all(&vec![7u8; FIRST]).unwrap();
        if offload {
            assert!(
                common::wait_for(Duration::from_secs(10), || flow()
                    .is_some_and(|f| f.offloaded)),
                "{what}: never carried by the kernel: {:?}",
                flow()
            );
        }
        let seen = flow().expect("the connection's flow");
        let why = (!offload).then_some("offload_off");
        assert_eq!(
            seen.not_offloaded_because.as_deref(),
            why,
            "{what}: {seen:?}"
        );
        assert!(
            (seen.translated.as_deref()).is_some_and(|t| t.starts_with("as [2001:db8:100::10]:")),
            "{what}: {seen:?}"
        );
        client.write_all(&vec![7u8; REST]).unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut answer = [0u8; 8];
        client.read_exact(&mut answer).unwrap();
        let sent = (FIRST + REST) as u64;
        assert_eq!(u64::from_be_bytes(answer), sent, "{what}");
        assert_eq!(server.join().unwrap(), sent, "{what}");
        drop(client);
        // Every segment one end sent, the other received, counted once at
        // each (the connection's last segments a moment later).
        let moved = || moved_since(&lab, before);
        common::wait_for(Duration::from_secs(10), || {
            let (v, i) = moved();
            v[0] == i[1] && i[0] == v[1]
        });
        let (v, i) = moved();
        assert_eq!((v[0], i[0]), (i[1], v[1]), "{what}: {v:?} {i:?}");
        assert!(v[0] > 100, "{what}: the stream's segments: {v:?}");
        let carried = [v[2], v[3], i[2], i[3]];
        match offload {
            true => assert!(carried.iter().all(|n| *n > 0), "{what}: {carried:?}"),
            false => assert_eq!(carried, [0; 4], "{what}"),
        }
    }
}

/// A dual-stack VM with a public IPv6 address of its own (one to one),
/// and an Internet server to ping.
const PUBLIC_IPV6: &str = r#"
internet:
  servers:
    - {name: echo6, address: '2001:db8:ffff::10', ports: [80]}
public_ip_addresses:
  - {name: vm1-pip6, ip_address: '2001:db8:100::20'}
vnets:
  - name: vn
    address_space: [10.1.0.0/16, 'fd00:1::/48']
    subnets:
      - {name: app, address_prefixes: [10.1.1.0/24, 'fd00:1:0:1::/64']}
network_interfaces:
  - name: vm1
    subnet: vn/app
    public_ip_address: vm1-pip6
    ip_configurations:
      - {name: v4, private_ip_address: 10.1.1.4}
      - {name: v6, private_ip_address: 'fd00:1:0:1::4'}
"#;

/// An IPv6 ping out through a VM's public IPv6 address, with the fast path
/// on and off: every echo answered, every echo and reply counted once at
/// the VM and at the Internet, and with the fast path on the kernel
/// carries the echoes once the workers have translated the first, both
/// ways, their checksums (which cover the addresses) fixed.
#[test]
fn an_ipv6_ping_through_a_public_ip_is_carried_by_the_kernel_and_counted_exactly() {
    use std::time::Duration;
    const ECHOES: u64 = 20;
    for (prefix, offload) in [("pip6pk", true), ("pip6pu", false)] {
        let options = vnetd::daemon::options::RunOptions {
            offload,
            ..Default::default()
        };
        let text = common::with_netns_prefix(PUBLIC_IPV6, prefix);
        let lab = Lab::start_with(prefix, &text, options);
        let what = format!("offload {offload}");
        let before = (traffic(&lab, "vm1"), traffic(&lab, "internet"));
        let pinged = std::process::Command::new("ip")
            .args(["netns", "exec", &lab.ns("vm1"), "ping", "-6", "-n", "-q"])
            .args(["-c", &ECHOES.to_string(), "-i", "0.05", "-W", "2"])
            .arg("2001:db8:ffff::10")
            .output()
            .unwrap();
        assert!(pinged.status.success(), "{what}: {pinged:?}");
        let moved = || moved_since(&lab, before);
        // Each echo and each reply, counted once where it was sent and
        // where it arrived (the last an instant after it was read).
        common::wait_for(Duration::from_secs(10), || {
            let (v, i) = moved();
            v[0] == ECHOES && i[1] == ECHOES && i[0] == ECHOES && v[1] == ECHOES
        });
        let (v, i) = moved();
        assert_eq!([v[0], i[1], i[0], v[1]], [ECHOES; 4], "{what}: {v:?} {i:?}");
        let carried = [v[2], v[3], i[2], i[3]];
        match offload {
            true => assert!(carried.iter().all(|n| *n > 0), "{what}: {carried:?}"),
            false => assert_eq!(carried, [0; 4], "{what}"),
        }
    }
}
