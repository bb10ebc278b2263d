//! Every way out of `config/internet-edge.yaml` (extended with a NAT
//! gateway, default outbound access and a public IP's way in), counted:
//! with the fast path on, the kernel carries the translated flows of the
//! VMs (UDP, TCP and ICMP echo, each way out and a public IP's way in),
//! every packet counted once in both modes, and a translation that goes
//! takes the kernel's entry with it. Needs root.

use crate::common;

use common::Lab;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};
use vnetd::daemon::reporting::report::flows_of;
use vnetd::dataplane::DropReason;
use vnetd::host::netns;

const EXAMPLE: &str = include_str!("../../config/internet-edge.yaml");

/// The internet-edge example with every way out a VM on the fabric can
/// take and a way in: vm3 behind a NAT gateway of its own subnet
/// (198.51.100.40), vm5 by default outbound access (192.0.2.2), vm2 by its
/// public IP both ways (its NSG lets the Internet's datagrams to 7002 in),
/// and vm1 through the firewall's NAT gateway; the firewall lets spoke1's
/// datagrams to port 7001 out too.
fn every_way_out() -> String {
    let text = common::edge::with_legacy_nat_gateway(EXAMPLE)
        .replacen(
            "              - {name: web-out,",
            "              - {name: udp-out, protocols: [UDP], source_addresses: [10.1.0.0/16], \
             destination_addresses: [\"*\"], destination_ports: [\"7001\"]}\n              - {name: \
             web-out,",
            1,
        )
        .replacen(
            "      - name: isolated\n",
            "      - name: outbound\n        address_prefixes: [10.2.4.0/24]\n        \
             default_outbound_access: true\n      - name: isolated\n",
            1,
        )
        .replacen(
            "  - {name: vm4, subnet: spoke2/isolated, private_ip_address: 10.2.3.4}\n",
            "  - {name: vm4, subnet: spoke2/isolated, private_ip_address: 10.2.3.4}\n  - {name: \
             vm5, subnet: spoke2/outbound, private_ip_address: 10.2.4.4}\n",
            1,
        )
        .replacen(
            "      - {name: http-from-the-internet,",
            "      - {name: udp-from-the-internet, priority: 120, direction: Inbound, access: \
             Allow, protocol: Udp, source_address_prefix: Internet, source_port_range: \"*\", \
             destination_address_prefix: \"*\", destination_port_range: \"7002\"}\n      - \
             {name: http-from-the-internet,",
            1,
        );
    for added in ["udp-out", "legacy-nat", "vm5", "udp-from-the-internet"] {
        assert!(text.contains(added), "{added}");
    }
    text
}

/// The NIC's counters that move with every packet: packets and bytes
/// sent and received, packets the kernel carried each way, and what its
/// guest sent that stays on its link (IPv6 multicast listener reports,
/// which a guest sends when it pleases: counted sent, and dropped).
fn traffic(lab: &Lab, nic: &str) -> [u64; 7] {
    let s = lab.stats(nic);
    [
        s.packets_sent,
        s.bytes_sent,
        s.packets_received,
        s.bytes_received,
        s.offloaded_packets_sent,
        s.offloaded_packets_received,
        s.drops_for(DropReason::Unroutable),
    ]
}

/// What `nic`'s counters moved by since `before`: packets sent (but those
/// kept on the link), packets and bytes received; then the packets the
/// kernel carried each way.
fn moved(lab: &Lab, nic: &str, before: [u64; 7]) -> [u64; 5] {
    let now = traffic(lab, nic);
    let d: [u64; 7] = std::array::from_fn(|i| now[i] - before[i]);
    [d[0] - d[6], d[2], d[3], d[4], d[5]]
}

/// Waits until `vm` and the Internet have received [`DATAGRAMS`] since
/// `before` (the readings of `vm` and of the Internet), and checks that
/// each counted exactly that many sent and received, with the bytes of
/// each datagram where it arrived. With `kernel`, the kernel carried some
/// of them each way; without, none.
fn assert_counted(lab: &Lab, vm: &str, before: ([u64; 7], [u64; 7]), kernel: bool, what: &str) {
    assert_carried(lab, vm, before, [kernel; 4], what)
}

/// [`assert_counted`], with which of the four counters the kernel moved:
/// what the VM sent and received, what the Internet sent and received.
fn assert_carried(
    lab: &Lab,
    vm: &str,
    before: ([u64; 7], [u64; 7]),
    kernel: [bool; 4],
    what: &str,
) {
    let full = DATAGRAMS * DATAGRAM_BYTES;
    // A worker counts a packet just after writing it: the last may be
    // counted an instant after it was read.
    common::wait_for(Duration::from_secs(10), || {
        moved(lab, vm, before.0)[1] >= DATAGRAMS && moved(lab, "internet", before.1)[1] >= DATAGRAMS
    });
    let (v, i) = (moved(lab, vm, before.0), moved(lab, "internet", before.1));
    let expected = [DATAGRAMS, DATAGRAMS, full];
    assert_eq!(v[..3], expected, "{what}: at the VM, {v:?}");
    assert_eq!(i[..3], expected, "{what}: at the Internet, {i:?}");
    let carried = [v[3], v[4], i[3], i[4]];
    let moved = carried.map(|n| n > 0);
    assert_eq!(moved, kernel, "{what}: carried by the kernel {carried:?}");
}

const DATAGRAMS: u64 = 200;
/// The IP bytes of each datagram: 20 of IPv4, 8 of UDP, 100 of payload.
const DATAGRAM_BYTES: u64 = 128;

/// Sends [`DATAGRAMS`] datagrams from `client` to `to`, each answered by
/// `server`, which must see them from `source`; the answers must come
/// back from `to`. After the first two, waits until `offloaded` says the
/// flow is carried by the kernel (with a deadline).
fn echoed(
    client: &UdpSocket,
    server: &UdpSocket,
    to: SocketAddr,
    source: IpAddr,
    offloaded: impl Fn() -> bool,
    what: &str,
) {
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    for i in 0..DATAGRAMS {
        client.send_to(&[1u8; 100], to).unwrap();
        let mut buf = [0u8; 128];
        let (len, from) = server
            .recv_from(&mut buf)
            .unwrap_or_else(|e| panic!("{what}, datagram {i}: {e}"));
        assert_eq!((len, from.ip()), (100, source), "{what}, datagram {i}");
        server.send_to(&buf[..len], from).unwrap();
        let (len, answered_by) = client
            .recv_from(&mut buf)
            .unwrap_or_else(|e| panic!("{what}, answer {i}: {e}"));
        assert_eq!((len, answered_by), (100, to), "{what}, answer {i}");
        if i == 1 {
            assert!(
                common::wait_for(Duration::from_secs(10), &offloaded),
                "{what}: never carried by the kernel"
            );
        }
    }
}

/// Whether the kernel carries a flow of `protocol` (`Udp`, `Tcp`) that
/// `nic` tracks with `destination` (as `flows` shows it).
fn carried(lab: &Lab, protocol: &str, nic: &str, destination: &str) -> bool {
    flows_of(lab.daemon(), Some(nic))
        .iter()
        .any(|f| f.protocol == protocol && f.destination == destination && f.offloaded)
}

/// Every datagram to the Internet and every answer is counted once, sent
/// and received, at the VM and at the Internet, through a public IP, a
/// NAT gateway (the VM's subnet's, and the firewall's by way of the
/// firewall), default outbound access, and into a public IP from the
/// Internet; and once as a drop from the private subnet; with the fast
/// path on and off. With it on, the kernel carries the translated flows of
/// the VMs on the fabric, both ways (`flows` says so, and the NICs'
/// offloaded counters moved), rewriting them as the workers would: the
/// server sees the public address and the answers come back. Through the
/// firewall (vm1's way out), the legs into it are carried too, and what
/// leaves it stays in the workers, paced by its tier's cap (`shaped`).
#[test]
fn datagrams_to_the_internet_are_counted_once_each_with_offload_on_and_off() {
    for (prefix, offload) in [("excnt", true), ("excno", false)] {
        let options = vnetd::daemon::options::RunOptions {
            offload,
            ..Default::default()
        };
        let text = every_way_out();
        let lab = Lab::start_with(prefix, &common::with_netns_prefix(&text, prefix), options);
        let internet = format!("{}.internet", lab.ns("vm1"));
        let to: SocketAddr = "203.0.113.10:7001".parse().unwrap();
        let server = netns::run_in(&internet, move || common::udp_bind_again(to)).unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let through_the_kernel = offload;
        for (vm, source) in [
            ("vm2", "198.51.100.30"),
            ("vm3", "198.51.100.40"),
            ("vm5", "192.0.2.2"),
            ("vm1", "198.51.100.10"),
        ] {
            // vm1 leaves through the firewall, whose legs out are paced.
            let through_the_firewall = vm == "vm1";
            let (vm_before, internet_before) = (traffic(&lab, vm), traffic(&lab, "internet"));
            let client = common::udp_client_for(&lab.ns(vm), to);
            let what = format!("{vm}, offload {offload}");
            let kernel_expected = through_the_kernel;
            echoed(
                &client,
                &server,
                to,
                source.parse().unwrap(),
                || !kernel_expected || carried(&lab, "Udp", vm, "203.0.113.10:7001"),
                &what,
            );
            // Through the firewall: into it (vm1's datagrams, the
            // Internet's answers) in the kernel, out of it in the workers.
            let k = kernel_expected;
            let carried = match through_the_firewall {
                true => [k, false, k, false],
                false => [k; 4],
            };
            assert_carried(&lab, vm, (vm_before, internet_before), carried, &what);
        }
        // What leaves the firewall stays in the workers, paced by its
        // tier's cap (the counters above); the leg is `kernel` for the
        // Internet's answers into it. Without the fast path, `flows` says
        // the edge's translation keeps it there.
        let firewall = flows_of(lab.daemon(), Some("hub-fw"));
        let leaving = firewall
            .iter()
            .find(|f| {
                f.protocol == "Udp"
                    && f.direction == "Outbound"
                    && f.destination == "203.0.113.10:7001"
            })
            .expect("the firewall's flow to the Internet");
        assert!(
            (leaving.translated.as_deref()).is_some_and(|t| t.starts_with("as 198.51.100.10:")),
            "{leaving:?}"
        );
        assert_eq!(leaving.offloaded, offload, "{leaving:?}");
        let why = (!offload).then_some("offload_off");
        assert_eq!(leaving.not_offloaded_because.as_deref(), why, "{leaving:?}");

        // Into vm2 through its public IP: the server sees the Internet's
        // address, the answers leave as the public IP.
        let inbound: SocketAddr = "198.51.100.30:7002".parse().unwrap();
        let listening: SocketAddr = "0.0.0.0:7002".parse().unwrap();
        let vm2_server =
            netns::run_in(&lab.ns("vm2"), move || common::udp_bind_again(listening)).unwrap();
        vm2_server
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let (vm_before, internet_before) = (traffic(&lab, "vm2"), traffic(&lab, "internet"));
        let client = common::udp_client_for(&internet, inbound);
        let what = format!("into vm2, offload {offload}");
        echoed(
            &client,
            &vm2_server,
            inbound,
            "203.0.113.10".parse().unwrap(),
            || !through_the_kernel || carried(&lab, "Udp", "vm2", "10.2.1.4:7002"),
            &what,
        );
        let before = (vm_before, internet_before);
        assert_counted(&lab, "vm2", before, through_the_kernel, &what);

        let (sent0, dropped0) = (
            lab.stats("vm4").packets_sent,
            lab.stats("vm4").drops_for(DropReason::NextHopInternet),
        );
        let client = common::udp_client_for(&lab.ns("vm4"), to);
        for _ in 0..DATAGRAMS {
            client.send_to(&[1u8; 100], to).unwrap();
        }
        common::wait_for(Duration::from_secs(10), || {
            lab.stats("vm4").drops_for(DropReason::NextHopInternet) - dropped0 >= DATAGRAMS
        });
        assert_eq!(lab.stats("vm4").packets_sent - sent0, DATAGRAMS);
        assert_eq!(
            lab.stats("vm4").drops_for(DropReason::NextHopInternet) - dropped0,
            DATAGRAMS
        );
    }
}

/// A TCP stream to the Internet through a public IP and through a NAT
/// gateway, with the fast path on and off: the server sees the public
/// address and every byte, and every segment either end sent is counted
/// received at the other; with the fast path on, the kernel carries the
/// connection both ways once it is established.
#[test]
fn a_tcp_stream_to_the_internet_is_counted_exactly_with_offload_on_and_off() {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    const FIRST: usize = 64 * 1024;
    const REST: usize = 4 * 1024 * 1024;
    for (prefix, offload) in [("extcp", true), ("extcn", false)] {
        let options = vnetd::daemon::options::RunOptions {
            offload,
            ..Default::default()
        };
        let text = every_way_out();
        let lab = Lab::start_with(prefix, &common::with_netns_prefix(&text, prefix), options);
        let internet = format!("{}.internet", lab.ns("vm1"));
        let at: SocketAddr = "203.0.113.10:7003".parse().unwrap();
        let listener = netns::run_in(&internet, move || Ok(TcpListener::bind(at)?)).unwrap();
        for (vm, source) in [("vm2", "198.51.100.30"), ("vm3", "198.51.100.40")] {
            let what = format!("{vm}, offload {offload}");
            let (vm_before, internet_before) = (traffic(&lab, vm), traffic(&lab, "internet"));
            // What the lab's other senders exchange with the Internet
            // meanwhile (the last segments of the connection before, say)
            // is theirs, not this connection's.
            let others: Vec<&str> = ["vm1", "vm2", "vm3", "vm4", "vm5", "hub-fw"]
                .into_iter()
                .filter(|o| *o != vm)
                .collect();
            let others_before: Vec<[u64; 7]> = others.iter().map(|o| traffic(&lab, o)).collect();
            let mut client = netns::run_in(&lab.ns(vm), move || {
                Ok(TcpStream::connect_timeout(&at, Duration::from_secs(3))?)
            })
            .unwrap();
            client
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let (accepted, peer) = listener.accept().unwrap();
            assert_eq!(peer.ip().to_string(), source, "{what}");
            // The server reads everything, then says how much it read.
            let server = common::traffic::count_to_the_end(accepted);
            client.write_all(&vec![7u8; FIRST]).unwrap();
            if offload {
                assert!(
                    common::wait_for(Duration::from_secs(10), || carried(
                        &lab,
                        "Tcp",
                        vm,
                        "203.0.113.10:7003"
                    )),
                    "{what}: never carried by the kernel"
                );
            }
            client.write_all(&vec![7u8; REST]).unwrap();
            client.shutdown(std::net::Shutdown::Write).unwrap();
            let mut answer = [0u8; 8];
            client.read_exact(&mut answer).unwrap();
            let sent = (FIRST + REST) as u64;
            assert_eq!(u64::from_be_bytes(answer), sent, "{what}");
            assert_eq!(server.join().unwrap(), sent, "{what}");
            drop(client);
            // Every segment one end sent, the other received, counted once
            // at each (the connection's last segments a moment later).
            // The Internet's counts, less what the others sent it and
            // received from it.
            let internet_of_this = || {
                let mut i = moved(&lab, "internet", internet_before);
                for (o, before) in others.iter().zip(&others_before) {
                    let m = moved(&lab, o, *before);
                    i[1] = i[1].saturating_sub(m[0]);
                    i[0] = i[0].saturating_sub(m[1]);
                }
                i
            };
            let balanced = || {
                let (v, i) = (moved(&lab, vm, vm_before), internet_of_this());
                v[0] == i[1] && i[0] == v[1]
            };
            common::wait_for(Duration::from_secs(10), balanced);
            let (v, i) = (moved(&lab, vm, vm_before), internet_of_this());
            assert_eq!((v[0], i[0]), (i[1], v[1]), "{what}: {v:?} {i:?}");
            assert!(i[2] > sent, "{what}: every byte and its headers: {i:?}");
            let carried = [v[3], v[4], i[3], i[4]];
            match offload {
                true => assert!(carried.iter().all(|n| *n > 0), "{what}: {carried:?}"),
                false => assert_eq!(carried, [0; 4], "{what}"),
            }
        }
    }
}

/// An ICMP socket in namespace `ns` that sends echo requests of one
/// identifier and reads the replies to them.
struct Pinger {
    socket: socket2::Socket,
    id: u16,
}

impl Pinger {
    fn new(ns: &str, id: u16) -> Pinger {
        use socket2::{Domain, Protocol, Socket, Type};
        let socket = netns::run_in(ns, || {
            Ok(Socket::new(
                Domain::IPV4,
                Type::RAW,
                Some(Protocol::ICMPV4),
            )?)
        })
        .unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        Pinger { socket, id }
    }

    /// Sends echo request `seq` (56 bytes of data, as ping's) to `to` and
    /// waits for its reply; whether it came from `to`.
    fn echo(&self, to: std::net::Ipv4Addr, seq: u16) -> bool {
        use etherparse::{IcmpEchoHeader, Icmpv4Header, Icmpv4Type};
        let data = [0x5a; 56];
        let echo = IcmpEchoHeader { id: self.id, seq };
        let header = Icmpv4Header::with_checksum(Icmpv4Type::EchoRequest(echo), &data);
        let mut request = header.to_bytes().to_vec();
        request.extend_from_slice(&data);
        let address = SocketAddr::new(to.into(), 0);
        self.socket.send_to(&request, &address.into()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut buf = [0u8; 256];
        while Instant::now() < deadline {
            // A raw socket reads the IP header too: the reply's source.
            let Ok(len) = std::io::Read::read(&mut &self.socket, &mut buf) else {
                return false;
            };
            let Ok(reply) = etherparse::SlicedPacket::from_ip(&buf[..len]) else {
                continue;
            };
            let Some(etherparse::TransportSlice::Icmpv4(icmp)) = &reply.transport else {
                continue;
            };
            if icmp.icmp_type() == Icmpv4Type::EchoReply(echo) {
                let from = match &reply.net {
                    Some(etherparse::NetSlice::Ipv4(ip)) => ip.header().source_addr(),
                    _ => return false,
                };
                return from == to;
            }
        }
        false
    }
}

/// Echo requests to the Internet's echo server through a public IP and by
/// default outbound access, with the fast path on and off: every one is
/// answered (the translation holds both ways, the identifier kept) and
/// every request and reply is counted once at each end; with the fast
/// path on, the kernel carries them both ways once the first were
/// answered.
#[test]
fn echoes_to_the_internet_are_answered_and_counted_exactly_with_offload_on_and_off() {
    const ECHOES: u16 = 200;
    let echo_server: std::net::Ipv4Addr = "203.0.113.10".parse().unwrap();
    for (prefix, offload) in [("exicm", true), ("exicn", false)] {
        let options = vnetd::daemon::options::RunOptions {
            offload,
            ..Default::default()
        };
        let text = every_way_out();
        let lab = Lab::start_with(prefix, &common::with_netns_prefix(&text, prefix), options);
        for (vm, id) in [("vm2", 0x7702), ("vm5", 0x7705)] {
            let what = format!("{vm}, offload {offload}");
            let (vm_before, internet_before) = (traffic(&lab, vm), traffic(&lab, "internet"));
            let pinger = Pinger::new(&lab.ns(vm), id);
            for seq in 0..ECHOES {
                assert!(pinger.echo(echo_server, seq), "{what}: echo {seq}");
                if seq == 1 && offload {
                    let carried = common::wait_for(Duration::from_secs(10), || {
                        flows_of(lab.daemon(), Some(vm)).iter().any(|f| {
                            f.protocol == "Icmp" && f.destination == "203.0.113.10" && f.offloaded
                        })
                    });
                    assert!(carried, "{what}: never carried by the kernel");
                }
            }
            let echoes = u64::from(ECHOES);
            common::wait_for(Duration::from_secs(10), || {
                moved(&lab, vm, vm_before)[1] >= echoes
                    && moved(&lab, "internet", internet_before)[1] >= echoes
            });
            let (v, i) = (
                moved(&lab, vm, vm_before),
                moved(&lab, "internet", internet_before),
            );
            // 20 bytes of IPv4, 8 of ICMP and 56 of data.
            let expected = [echoes, echoes, echoes * 84];
            assert_eq!(v[..3], expected, "{what}: at the VM, {v:?}");
            assert_eq!(i[..3], expected, "{what}: at the Internet, {i:?}");
            let kernel_counted = [v[3], v[4], i[3], i[4]];
            match offload {
                true => assert!(
                    kernel_counted.iter().all(|n| *n > 0),
                    "{what}: {kernel_counted:?}"
                ),
                false => assert_eq!(kernel_counted, [0; 4], "{what}"),
            }
        }
    }
}

/// Forgets every translation of the Internet edge whose private side is
/// `private`, as their expiry would.
fn forget_translations_of(lab: &Lab, private: IpAddr) -> usize {
    let (daemon, now) = (lab.daemon(), lab.daemon().now_ms());
    let mut keys = Vec::new();
    daemon.flows().for_each(now, |key, _| {
        if vnetd::dataplane::conntrack::is_edge_translation(key)
            && (key.src_ip() == private || key.dst_ip() == private)
        {
            keys.push(*key);
        }
    });
    let handles: Vec<_> = (keys.iter())
        .filter_map(|k| daemon.flows().lookup(k, now).map(|f| f.handle()))
        .collect();
    for handle in &handles {
        daemon.flows().remove_flow(*handle, now);
    }
    handles.len()
}

/// A translation that goes (as it does when it idles out) takes the
/// kernel's entry with it: the flow leaves the kernel at the next reading,
/// its next datagrams are decided anew in the workers, translated again
/// the same way (vm2's public IP), and carried by the kernel again; every
/// datagram each way is counted once throughout.
#[test]
fn a_translation_that_goes_takes_the_kernels_entry_with_it() {
    let prefix = "exexp";
    let lab = Lab::start(prefix, &common::with_netns_prefix(&every_way_out(), prefix));
    let offload = !vnetd::daemon::options::offload_off_by_environment();
    let internet = format!("{}.internet", lab.ns("vm1"));
    let to: SocketAddr = "203.0.113.10:7004".parse().unwrap();
    let server = netns::run_in(&internet, move || common::udp_bind_again(to)).unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let client = common::udp_client_for(&lab.ns("vm2"), to);
    let public: IpAddr = "198.51.100.30".parse().unwrap();
    let before = (traffic(&lab, "vm2"), traffic(&lab, "internet"));
    let carried_now = || carried(&lab, "Udp", "vm2", "203.0.113.10:7004");
    let what = format!("offload {offload}");
    echoed(
        &client,
        &server,
        to,
        public,
        || !offload || carried_now(),
        &what,
    );
    assert_counted(&lab, "vm2", before, offload, &what);

    let private: IpAddr = "10.2.1.4".parse().unwrap();
    assert_eq!(forget_translations_of(&lab, private), 1, "one translation");
    // The next reading (every report makes one) finds it gone.
    assert!(
        !carried_now(),
        "the kernel still carries a forgotten translation"
    );
    let again = (traffic(&lab, "vm2"), traffic(&lab, "internet"));
    echoed(
        &client,
        &server,
        to,
        public,
        || !offload || carried_now(),
        &what,
    );
    assert_counted(&lab, "vm2", again, offload, &what);
    let translated = flows_of(lab.daemon(), Some("vm2"))
        .into_iter()
        .find(|f| f.destination == "203.0.113.10:7004")
        .and_then(|f| f.translated);
    assert!(
        translated.is_some_and(|t| t.starts_with("as 198.51.100.30:")),
        "translated anew"
    );
}
