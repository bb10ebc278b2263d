//! The underlay (`crates/host/src/underlay`) between two hosts on real kernels:
//! each "host" is a namespace, the two joined by a veth pair on
//! 192.0.2.0/24, and each opens an `Underlay` from inside (its VXLAN
//! socket on the veth's address). Frames written to one host's TAP queue
//! are read from the other's, through the VXLAN devices and the two tc
//! programs, and the programs' counters are checked.
//!
//! Every namespace is named `ulay-<pid>-<test>-<role>` and removed by a
//! guard, even when an assertion fails. Needs root (namespaces, TAP and
//! VXLAN devices, BPF programs) and a build that compiled the programs:
//! fails, saying so, otherwise.

use std::io::ErrorKind;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::process::Command;
use std::time::{Duration, Instant};

use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use vnetd::host::underlay::{
    Underlay, UnderlayCounters, UnderlayQueue, UnderlaySpec, ETH_HLEN, TAP_DEVICE, VXLAN_DEVICE,
};
use vnetd::host::{self, netlink, netns, VNET_HDR_LEN};

const WAIT: Duration = Duration::from_secs(5);

const A_ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const B_ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// The receiving port's MAC, on B, as A's daemon addresses it.
const PORT_MAC: [u8; 6] = [0x02, 0x56, 0x58, 0x00, 0x00, 0x01];
const SENDER_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0xaa];
const VNI: u32 = 7;
/// The source MAC `from_underlay` writes for [`VNI`].
const VNI_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x07, 0x00];

/// The two hosts' namespaces (and any other a test adds), removed when
/// dropped whatever happened before.
struct Hosts {
    a: String,
    b: String,
    others: Vec<String>,
}

impl Drop for Hosts {
    fn drop(&mut self) {
        let mut names = vec![self.a.clone(), self.b.clone()];
        names.extend(self.others.iter().cloned());
        if let Err(err) = host::cleanup_leftovers(&names) {
            eprintln!("cleanup failed: {err:#}");
        }
    }
}

impl Hosts {
    /// Namespace `role` of test `test`, added to what the guard removes.
    fn another(&mut self, test: &str, role: &str) -> String {
        let name = format!("ulay-{}-{test}-{role}", std::process::id());
        self.others.push(name.clone());
        netns::create(&name).expect("creating a namespace");
        name
    }
}

fn ip(args: &[&str]) {
    let output = Command::new("ip").args(args).output().expect("running ip");
    assert!(
        output.status.success(),
        "ip {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Two hosts joined by the veth `ul0` (MTU `mtu`): A at 192.0.2.1/24, B at
/// 192.0.2.2/24.
fn hosts(test: &str, mtu: u32) -> Hosts {
    require_root_and_programs();
    let name = |role: &str| format!("ulay-{}-{test}-{role}", std::process::id());
    let hosts = Hosts {
        a: name("a"),
        b: name("b"),
        others: Vec::new(),
    };
    netns::create(&hosts.a).expect("creating host A");
    netns::create(&hosts.b).expect("creating host B");
    netlink::add_veth_pair(&hosts.a, "ul0", &hosts.b, "ul0").expect("joining the hosts");
    for (namespace, address) in [(&hosts.a, A_ADDRESS), (&hosts.b, B_ADDRESS)] {
        ip(&[
            "-n",
            namespace,
            "link",
            "set",
            "ul0",
            "mtu",
            &mtu.to_string(),
        ]);
        netlink::add_address(namespace, "ul0", format!("{address}/24").parse().unwrap())
            .expect("addressing a host");
        netlink::set_link_up(namespace, "ul0").expect("bringing up a host's veth");
    }
    hosts
}

fn require_root_and_programs() {
    crate::common::require_root();
    if let Some(reason) = vnetd::host::bpf::unbuilt() {
        panic!("this build has no underlay programs: {reason}");
    }
}

/// Opens an underlay from inside the namespace `host`.
fn open(host: &str, spec: UnderlaySpec) -> Underlay {
    netns::run_in(host, || Underlay::open(&spec, None))
        .unwrap_or_else(|err| panic!("opening the underlay of {host}: {err:#}"))
}

/// The spec of the host at `local`, in a lab of three hosts
/// (192.0.2.1 to .3), trusting `trusted`.
fn spec(local: Ipv4Addr, trusted: &[Ipv4Addr], queues: usize) -> UnderlaySpec {
    UnderlaySpec {
        local,
        namespace: None,
        queues,
        hosts: (1..=3)
            .map(|i| Ipv4Addr::new(192, 0, 2, i))
            .filter(|a| *a != local)
            .collect(),
        trusted: trusted.to_vec(),
    }
}

fn eth(destination: [u8; 6]) -> [u8; ETH_HLEN] {
    let mut eth = [0u8; ETH_HLEN];
    eth[0..6].copy_from_slice(&destination);
    eth[6..12].copy_from_slice(&SENDER_MAC);
    eth[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    eth
}

/// An IPv4 UDP datagram, fully checksummed, behind an all-zero
/// virtio-net header: what a TUN queue would have given.
fn udp_packet(payload: &[u8]) -> Vec<u8> {
    let mut packet = vec![0u8; VNET_HDR_LEN];
    PacketBuilder::ipv4([10, 1, 0, 4], [10, 2, 0, 5], 64)
        .udp(40000, 5000)
        .write(&mut packet, payload)
        .expect("building a datagram");
    packet
}

fn send(queue: &UnderlayQueue, packet: &[u8], destination: [u8; 6]) {
    let written = queue
        .send(packet, &eth(destination))
        .expect("writing to the TAP");
    assert_eq!(written, packet.len());
}

/// Reads frames from any of `queues`, giving each (the TUN-like buffer and
/// the Ethernet header) to `take` until it says it has what it wants;
/// false if [`WAIT`] passes first.
fn receive(queues: &[UnderlayQueue], mut take: impl FnMut(&[u8], &[u8; ETH_HLEN]) -> bool) -> bool {
    let deadline = Instant::now() + WAIT;
    let mut buf = vec![0u8; VNET_HDR_LEN + 65535];
    let mut header = [0u8; ETH_HLEN];
    while Instant::now() < deadline {
        let mut fds: Vec<PollFd> = queues
            .iter()
            .map(|q| PollFd::new(q.as_fd(), PollFlags::POLLIN))
            .collect();
        if let Err(e) = poll(&mut fds, PollTimeout::from(100u16)) {
            assert_eq!(e, nix::errno::Errno::EINTR, "poll: {e}");
        }
        for queue in queues {
            loop {
                match queue.recv(&mut buf, &mut header) {
                    Ok(n) => {
                        if take(&buf[..n], &header) {
                            return true;
                        }
                    }
                    Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                    Err(err) => panic!("reading the TAP queue: {err}"),
                }
            }
        }
    }
    false
}

/// Waits until `underlay`'s counters satisfy `done`; returns them.
fn counted(underlay: &Underlay, done: impl Fn(&UnderlayCounters) -> bool) -> UnderlayCounters {
    let deadline = Instant::now() + WAIT;
    loop {
        let counters = underlay.counters();
        if done(&counters) || Instant::now() >= deadline {
            return counters;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn frames_cross_between_hosts_with_their_vni() {
    let mut hosts = hosts("cross", 1600);
    // B's devices sit in a namespace of their own, their socket in B's.
    let b_devices = hosts.another("cross", "bd");
    let mut a = open(&hosts.a, spec(A_ADDRESS, &[B_ADDRESS], 2));
    let mut b = open(
        &hosts.b,
        UnderlaySpec {
            namespace: Some(b_devices.clone()),
            ..spec(B_ADDRESS, &[A_ADDRESS], 2)
        },
    );
    assert_eq!(
        (a.underlay_interface(), a.underlay_mtu(), a.inner_mtu()),
        ("ul0", 1600, 1500)
    );
    let placed = netlink::link_names(&b_devices).unwrap();
    assert!(
        placed.iter().any(|n| n == TAP_DEVICE) && placed.iter().any(|n| n == VXLAN_DEVICE),
        "B's devices are not in {b_devices}: {placed:?}"
    );
    let on_b = netlink::link_names(&hosts.b).unwrap();
    assert!(!on_b.iter().any(|n| n == VXLAN_DEVICE), "{on_b:?}");
    a.set_destinations(&[(PORT_MAC, B_ADDRESS, VNI)]).unwrap();
    let (a_queues, b_queues) = (a.take_queues(), b.take_queues());
    assert_eq!((a_queues.len(), b_queues.len()), (2, 2));
    assert!(a.take_queues().is_empty(), "the queues are taken once");

    let packet = udp_packet(b"across the underlay");
    send(&a_queues[0], &packet, PORT_MAC);
    let arrived = receive(&b_queues, |buf, header| {
        assert_eq!(
            &buf[VNET_HDR_LEN..],
            &packet[VNET_HDR_LEN..],
            "the IP packet changed"
        );
        assert_eq!(header[0..6], PORT_MAC);
        assert_eq!(
            header[6..12],
            VNI_MAC,
            "the source MAC does not carry VNI {VNI}"
        );
        assert_eq!(header[12..14], [0x08, 0x00]);
        true
    });
    assert!(arrived, "nothing reached B within {WAIT:?}");
    let a_counted = a.counters();
    let b_counted = counted(&b, |c| c.received == 1);
    assert_eq!(
        (a_counted.sent, a_counted.no_destination, a_counted.failed),
        (1, 0, 0)
    );
    assert_eq!(
        (b_counted.received, b_counted.untrusted, b_counted.failed),
        (1, 0, 0)
    );

    // A MAC with no entry goes nowhere, counted.
    send(&a_queues[1], &packet, [0x02, 0x56, 0x58, 0, 0, 0x99]);
    let a_counted = a.counters();
    assert_eq!((a_counted.sent, a_counted.no_destination), (1, 1));

    drop((a_queues, b_queues));
    b.close().expect("closing B's underlay");
    let left = netlink::link_names(&b_devices).unwrap();
    assert!(
        !left.iter().any(|n| n == TAP_DEVICE || n == VXLAN_DEVICE),
        "B's devices outlived close: {left:?}"
    );
    drop(a);
    let left = netlink::link_names(&hosts.a).unwrap();
    assert!(
        !left.iter().any(|n| n == TAP_DEVICE || n == VXLAN_DEVICE),
        "A's devices outlived drop: {left:?}"
    );
}

#[test]
fn frames_from_untrusted_hosts_are_dropped_and_counted() {
    let mut hosts = hosts("untrusted", 1500);
    let mut a = open(&hosts.a, spec(A_ADDRESS, &[B_ADDRESS], 1));
    // One underlay to a namespace: a second is refused, wherever its
    // devices were to go, and leaves nothing behind.
    let elsewhere = hosts.another("untrusted", "ad");
    for namespace in [None, Some(elsewhere.clone())] {
        let again = UnderlaySpec {
            namespace,
            ..spec(A_ADDRESS, &[B_ADDRESS], 1)
        };
        let refused = netns::run_in(&hosts.a, || Underlay::open(&again, None));
        assert!(refused.is_err(), "a second underlay opened in A");
    }
    let left = netlink::link_names(&elsewhere).unwrap();
    assert!(
        !left.iter().any(|n| n == TAP_DEVICE || n == VXLAN_DEVICE),
        "a refused underlay left devices: {left:?}"
    );
    // B trusts another host of the lab, not A.
    let mut b = open(&hosts.b, spec(B_ADDRESS, &[Ipv4Addr::new(192, 0, 2, 3)], 1));
    assert_eq!((a.underlay_mtu(), a.inner_mtu()), (1500, 1450));
    a.set_destinations(&[(PORT_MAC, B_ADDRESS, VNI)]).unwrap();
    let (a_queues, b_queues) = (a.take_queues(), b.take_queues());

    let packet = udp_packet(b"from a host B does not trust");
    send(&a_queues[0], &packet, PORT_MAC);
    let b_counted = counted(&b, |c| c.untrusted == 1);
    assert_eq!((b_counted.untrusted, b_counted.received), (1, 0));
    // Counted against A, a host of the lab that B does not trust.
    let against = b.host_counters();
    assert_eq!(
        against
            .iter()
            .map(|h| (h.address, h.refused, h.not_sent))
            .collect::<Vec<_>>(),
        [(A_ADDRESS, 1, 0), (Ipv4Addr::new(192, 0, 2, 3), 0, 0)]
    );
    let mut buf = vec![0u8; VNET_HDR_LEN + 65535];
    let mut header = [0u8; ETH_HLEN];
    let read = b_queues[0].recv(&mut buf, &mut header);
    assert!(
        matches!(&read, Err(e) if e.kind() == ErrorKind::WouldBlock),
        "an untrusted frame reached B's daemon: {read:?}"
    );

    // Trusted now: the next one arrives.
    b.set_trusted(&[A_ADDRESS]).unwrap();
    send(&a_queues[0], &packet, PORT_MAC);
    assert!(
        receive(&b_queues, |buf, _| buf[VNET_HDR_LEN..]
            == packet[VNET_HDR_LEN..]),
        "nothing reached B once A was trusted"
    );
    assert_eq!(counted(&b, |c| c.received == 1).received, 1);

    // A sends nothing to a host it no longer trusts, and counts it
    // against B.
    a.set_trusted(&[]).unwrap();
    send(&a_queues[0], &packet, PORT_MAC);
    let a_counted = a.counters();
    assert_eq!((a_counted.sent, a_counted.not_trusted), (2, 1));
    let against = a.host_counters();
    assert_eq!(
        against
            .iter()
            .map(|h| (h.address, h.refused, h.not_sent))
            .collect::<Vec<_>>(),
        [(B_ADDRESS, 0, 1), (Ipv4Addr::new(192, 0, 2, 3), 0, 0)]
    );
    a.set_trusted(&[B_ADDRESS]).unwrap();

    // The table is replaced whole: an empty one sends nothing.
    a.set_destinations(&[]).unwrap();
    send(&a_queues[0], &packet, PORT_MAC);
    let a_counted = a.counters();
    assert_eq!((a_counted.sent, a_counted.no_destination), (2, 1));
    assert!(a
        .set_destinations(&[(PORT_MAC, B_ADDRESS, 1 << 24)])
        .is_err());
}

/// The sum of the 16-bit words of `bytes`, unfolded.
fn sum16(bytes: &[u8]) -> u32 {
    bytes
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])))
        .sum()
}

/// A TCP super-packet over IPv4 of `segments` segments of `mss` bytes, as
/// a TUN queue gives it: `GSO_TCPV4`, the checksum left to finish (the
/// TCP checksum field holds the pseudo-header's sum).
fn tcp_super_packet(segments: usize, mss: u16) -> (Vec<u8>, Vec<u8>) {
    let payload: Vec<u8> = (0..segments * usize::from(mss))
        .map(|i| (i % 251) as u8)
        .collect();
    let mut ip = Vec::new();
    PacketBuilder::ipv4([10, 1, 0, 4], [10, 2, 0, 5], 64)
        .tcp(40000, 5201, 1000, 65535)
        .ack(1)
        .write(&mut ip, &payload)
        .expect("building a TCP super-packet");
    let tcp_len = ip.len() - 20;
    let mut pseudo = sum16(&ip[12..20]) + 6 + tcp_len as u32;
    while pseudo > 0xffff {
        pseudo = (pseudo & 0xffff) + (pseudo >> 16);
    }
    ip[36..38].copy_from_slice(&(pseudo as u16).to_be_bytes());
    let mut header = [0u8; VNET_HDR_LEN];
    header[0] = 1; // NEEDS_CSUM
    header[1] = 1; // GSO_TCPV4
    header[2..4].copy_from_slice(&40u16.to_ne_bytes()); // hdr_len
    header[4..6].copy_from_slice(&mss.to_ne_bytes()); // gso_size
    header[6..8].copy_from_slice(&20u16.to_ne_bytes()); // csum_start
    header[8..10].copy_from_slice(&16u16.to_ne_bytes()); // csum_offset
    let mut packet = header.to_vec();
    packet.extend_from_slice(&ip);
    (packet, payload)
}

#[test]
fn tcp_super_packets_cross_whole_or_in_segments() {
    let hosts = hosts("tso", 1600);
    let mut a = open(&hosts.a, spec(A_ADDRESS, &[B_ADDRESS], 1));
    let mut b = open(&hosts.b, spec(B_ADDRESS, &[A_ADDRESS], 1));
    a.set_destinations(&[(PORT_MAC, B_ADDRESS, VNI)]).unwrap();
    let (a_queues, b_queues) = (a.take_queues(), b.take_queues());

    let (packet, payload) = tcp_super_packet(3, 1400);
    send(&a_queues[0], &packet, PORT_MAC);
    // Each frame's TCP payload by sequence number: whether the super-packet
    // arrives whole, re-coalesced or segment by segment.
    let mut pieces: Vec<(u32, Vec<u8>)> = Vec::new();
    let mut bytes = 0;
    let whole = receive(&b_queues, |buf, header| {
        assert_eq!(header[6..12], VNI_MAC);
        let (vnet, ip) = buf.split_at(VNET_HDR_LEN);
        if vnet[0] & 1 != 0 {
            // NEEDS_CSUM: the offsets count from the IP packet, as a TUN's.
            let start = u16::from_ne_bytes([vnet[6], vnet[7]]);
            let offset = u16::from_ne_bytes([vnet[8], vnet[9]]);
            assert_eq!((start, offset), (20, 16), "virtio header {vnet:?}");
        }
        let sliced = SlicedPacket::from_ip(ip).expect("an IP packet");
        let Some(TransportSlice::Tcp(tcp)) = sliced.transport else {
            panic!("not TCP: {ip:?}");
        };
        bytes += tcp.payload().len();
        pieces.push((tcp.sequence_number(), tcp.payload().to_vec()));
        bytes >= payload.len()
    });
    assert!(whole, "only {bytes} of {} bytes reached B", payload.len());
    pieces.sort_by_key(|(sequence, _)| *sequence);
    let joined: Vec<u8> = pieces.into_iter().flat_map(|(_, p)| p).collect();
    assert!(joined == payload, "the payload changed on the way");
    assert_eq!(a.counters().sent, 1, "one super-packet, one frame");
    assert!(counted(&b, |c| c.received >= 1).received >= 1);
}
