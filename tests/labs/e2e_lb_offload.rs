//! A load balancer's flows on the kernel fast path: a UDP echo through an
//! internal frontend and through a public one (from the Internet), and an
//! iperf3 transfer through the internal one, leave userspace once the
//! workers have pinned them, translated both ways as the workers translate
//! them (the backend sees the client, the client sees the frontend), every
//! datagram counted once at the client, at the backend and on the flow; a
//! backend probed down keeps its established connection (in the workers,
//! where Azure's rule keeps it) while new connections go to the other and
//! leave userspace; and an apply that removes the rule stops an offloaded
//! flow at its next packet.
//!
//! The suite runs in both modes (`.ci/run` runs it again with
//! `VNETD_NO_OFFLOAD=1`): each test asserts what its mode promises, and
//! the counts that must agree in both. Needs root (see
//! `common::require_root`).

use crate::common;

use common::Lab;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vnetd::api::FlowReport;
use vnetd::daemon::options::offload_off_by_environment;
use vnetd::daemon::reporting::report::{flows_of, stats_of};
use vnetd::dataplane::DropReason;
use vnetd::host::netns;

/// A client and two backends in one VNet; the frontend translates UDP to
/// 7000 to the backends' 7100, TCP to 5300 to iperf3's 5201 (by source
/// address, so that iperf3's two connections meet one server) and TCP to
/// 9000 to 9100. No probe: both backends are up.
pub(super) const LAB: &str = r#"
vnets:
  - name: lbo
    address_space: [10.40.0.0/16]
    subnets:
      - name: web
        address_prefixes: [10.40.2.0/24]
      - name: app
        address_prefixes: [10.40.1.0/24]
network_interfaces:
  - {name: web1, subnet: lbo/web, private_ip_address: 10.40.2.4}
  - {name: web2, subnet: lbo/web, private_ip_address: 10.40.2.5}
  - {name: client, subnet: lbo/app, private_ip_address: 10.40.1.4}
load_balancers:
  - name: ilb
    frontend_ip_configurations:
      - {name: fe, subnet: lbo/web, private_ip_address: 10.40.2.100}
    backend_address_pools:
      - {name: webs, network_interfaces: [web1, web2]}
    rules:
      - {name: datagrams, frontend_ip_configuration: fe, backend_address_pool: webs,
         protocol: Udp, frontend_port: 7000, backend_port: 7100}
      - {name: transfer, frontend_ip_configuration: fe, backend_address_pool: webs,
         protocol: Tcp, frontend_port: 5300, backend_port: 5201, load_distribution: SourceIP}
      - {name: echo, frontend_ip_configuration: fe, backend_address_pool: webs,
         protocol: Tcp, frontend_port: 9000, backend_port: 9100}
"#;

const FRONTEND: &str = "10.40.2.100";
const BACKENDS: [(&str, &str); 2] = [("web1", "10.40.2.4"), ("web2", "10.40.2.5")];
/// The lab with a TCP probe of port 8080 on every rule, every 5 s (Azure's
/// least), one failure marking a backend down.
fn probed() -> String {
    let text = LAB
        .replace(
            "    rules:\n",
            "    probes:\n      - {name: tcp, protocol: Tcp, port: 8080, interval_in_seconds: 5, probe_threshold: 1}\n    rules:\n",
        )
        .replace("backend_address_pool: webs,\n", "backend_address_pool: webs, probe: tcp,\n");
    assert_eq!(text.matches("probe: tcp").count(), 3, "{text}");
    text
}

/// Whether this run offloads (it must, unless told not to).
fn offloading() -> bool {
    !offload_off_by_environment()
}

pub(super) fn assert_mode(lab: &Lab) {
    assert_eq!(
        lab.daemon().offload().is_some(),
        offloading(),
        "the lab's offload does not match VNETD_NO_OFFLOAD"
    );
}

/// The busiest flow `nic` tracks of `protocol` with `destination`.
fn flow(lab: &Lab, nic: &str, protocol: &str, destination: &str) -> Option<FlowReport> {
    flows_of(lab.daemon(), Some(nic))
        .into_iter()
        .filter(|f| f.protocol == protocol && f.destination == destination)
        .max_by_key(|f| f.packets_forward)
}

/// Waits until the flow is carried by the kernel; in a run without
/// offload, checks that it is not.
fn wait_offloaded(lab: &Lab, nic: &str, protocol: &str, destination: &str) {
    if offloading() {
        assert!(
            common::wait_for(Duration::from_secs(10), || {
                flow(lab, nic, protocol, destination).is_some_and(|f| f.offloaded)
            }),
            "{protocol} flow of {nic} to {destination} not offloaded: {:?}",
            flow(lab, nic, protocol, destination)
        );
    } else {
        let f = flow(lab, nic, protocol, destination).expect("a tracked flow");
        assert!(!f.offloaded, "{f:?}");
    }
}

/// The NIC's counters that move with every packet: packets sent, packets
/// and bytes received, packets the kernel carried each way, and what its
/// guest sent that stays on its link (IPv6 listener reports a guest sends
/// when it pleases: counted sent, and dropped).
fn traffic(lab: &Lab, nic: &str) -> [u64; 6] {
    let s = lab.stats(nic);
    [
        s.packets_sent,
        s.packets_received,
        s.bytes_received,
        s.offloaded_packets_sent,
        s.offloaded_packets_received,
        s.drops_for(DropReason::Unroutable),
    ]
}

/// What `nic`'s counters moved by since `before`: packets sent (but those
/// kept on the link), packets and bytes received, packets the kernel
/// carried sent and received.
fn moved(lab: &Lab, nic: &str, before: [u64; 6]) -> [u64; 5] {
    let now = traffic(lab, nic);
    let d: [u64; 6] = std::array::from_fn(|i| now[i] - before[i]);
    [d[0] - d[5], d[1], d[2], d[3], d[4]]
}

/// UDP echo servers at port 7100 of both backends: each answers every
/// datagram, and counts what it got from whom.
pub(super) struct UdpEchoes {
    stop: Arc<AtomicBool>,
    /// (backend, the sender's port) of every datagram, in order.
    heard: Arc<Mutex<Vec<(String, u16)>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl UdpEchoes {
    fn start(lab: &Lab) -> UdpEchoes {
        UdpEchoes::start_at(lab, &BACKENDS)
    }

    /// Servers at port 7100 of `backends` (each NIC's name and address).
    pub(super) fn start_at(lab: &Lab, backends: &[(&str, &str)]) -> UdpEchoes {
        let stop = Arc::new(AtomicBool::new(false));
        let heard = Arc::new(Mutex::new(Vec::new()));
        let threads = backends
            .iter()
            .map(|&(name, address)| {
                let at = SocketAddr::new(address.parse().unwrap(), 7100);
                let socket =
                    netns::run_in(&lab.ns(name), move || common::udp_bind_again(at)).unwrap();
                socket
                    .set_read_timeout(Some(Duration::from_millis(100)))
                    .unwrap();
                let (stop, heard, name) = (stop.clone(), heard.clone(), name.to_string());
                std::thread::spawn(move || {
                    let mut buf = [0u8; 2048];
                    while !stop.load(Ordering::Relaxed) {
                        if let Ok((len, from)) = socket.recv_from(&mut buf) {
                            heard.lock().unwrap().push((name.clone(), from.port()));
                            let _ = socket.send_to(&buf[..len], from);
                        }
                    }
                })
            })
            .collect();
        UdpEchoes {
            stop,
            heard,
            threads,
        }
    }

    /// Datagrams each backend got.
    fn by_backend(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for (backend, _) in self.heard.lock().unwrap().iter() {
            *out.entry(backend.clone()).or_default() += 1;
        }
        out
    }

    /// The backend that got the last datagram from `port`.
    fn last_from(&self, port: u16) -> Option<String> {
        let heard = self.heard.lock().unwrap();
        heard
            .iter()
            .rev()
            .find(|(_, p)| *p == port)
            .map(|(b, _)| b.clone())
    }
}

impl Drop for UdpEchoes {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Sends one datagram of `payload` bytes to `to` (a frontend) and waits
/// for its echo, which must come from there.
fn echo_datagram(client: &UdpSocket, to: SocketAddr, payload: usize, what: &str) {
    client.send_to(&vec![7u8; payload], to).unwrap();
    let mut buf = [0u8; 2048];
    let (len, from) = client
        .recv_from(&mut buf)
        .unwrap_or_else(|e| panic!("{what}: no echo: {e}"));
    assert_eq!((len, from), (payload, to), "{what}");
}

/// The internal frontend's datagram port.
fn datagram_port() -> SocketAddr {
    format!("{FRONTEND}:7000").parse().unwrap()
}

/// The IP bytes of each datagram: 20 of IPv4 (40 of IPv6), 8 of UDP, 100
/// of payload.
const PAYLOAD: usize = 100;
const DATAGRAM_BYTES: u64 = 128;
const DATAGRAM_BYTES6: u64 = 148;

#[test]
fn every_datagram_through_an_internal_frontend_is_carried_by_the_kernel_and_counted_once() {
    let lab = Lab::start("lboudp", LAB);
    assert_mode(&lab);
    let client = common::udp_client_for(&lab.ns("client"), "10.40.2.100:7000".parse().unwrap());
    datagrams_through(&lab, "client", &client, FRONTEND);
}

/// [`LAB`] with the frontend public (198.51.100.60, a Standard public IP),
/// its backends' NSG open to the Internet's datagrams, and a server on the
/// Internet (203.0.113.10) to send from.
fn public() -> String {
    let text = LAB
        .replace(
            "vnets:
",
            "internet:
  servers:
    - {name: remote, address: 203.0.113.10, ports: [80]}
public_ip_addresses:
  - {name: fe-pip, sku: Standard, ip_address: 198.51.100.60}
network_security_groups:
  - name: web-nsg
    security_rules:
      - {name: udp-from-the-internet, priority: 100, direction: Inbound, access: Allow, protocol: Udp, source_address_prefix: Internet, source_port_range: '*', destination_address_prefix: '*', destination_port_range: '7100'}
vnets:
",
        )
        .replace(
            "        address_prefixes: [10.40.2.0/24]
",
            "        address_prefixes: [10.40.2.0/24]
        network_security_group: web-nsg
",
        )
        .replace(
            "{name: fe, subnet: lbo/web, private_ip_address: 10.40.2.100}",
            "{name: fe, public_ip_address: fe-pip}",
        )
        .replace(
            "protocol: Udp, frontend_port: 7000, backend_port: 7100}",
            "protocol: Udp, frontend_port: 7000, backend_port: 7100, disable_outbound_snat: true}",
        );
    for added in [
        "fe-pip}",
        "network_security_group: web-nsg",
        "disable_outbound_snat",
    ] {
        assert!(text.contains(added), "{added}");
    }
    text
}

#[test]
fn every_datagram_from_the_internet_through_a_public_frontend_is_carried_and_counted_once() {
    let lab = Lab::start("lbopub", &public());
    assert_mode(&lab);
    let internet = format!("{}.internet", lab.ns("web1"));
    let from: SocketAddr = "203.0.113.10:0".parse().unwrap();
    let client = netns::run_in(&internet, move || Ok(UdpSocket::bind(from)?)).unwrap();
    datagrams_through(&lab, "internet", &client, "198.51.100.60");
}

/// Echoes datagrams from `client` (the NIC `nic`'s socket) through
/// `frontend`'s port 7000 to the backends' 7100, and checks that each
/// reached one backend as the client sent it, came back from the
/// frontend, and was counted once at the client, at the backend and on
/// the flow at each, each way, carried by the kernel (but the first) with
/// offload on.
fn datagrams_through(lab: &Lab, nic: &str, client: &UdpSocket, frontend: &str) {
    let to: SocketAddr = format!("{frontend}:7000").parse().unwrap();
    datagrams_through_at(lab, nic, client, (to, &BACKENDS), UdpEchoes::start(lab));
}

/// [`datagrams_through`] to the frontend port `to`, whose backends are
/// `backends` (each NIC's name and address, of `to`'s family), answered
/// by `echoes`.
pub(super) fn datagrams_through_at(
    lab: &Lab,
    nic: &str,
    client: &UdpSocket,
    (to, backends): (SocketAddr, &[(&str, &str)]),
    echoes: UdpEchoes,
) {
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let before: BTreeMap<&str, [u64; 6]> = [nic, "web1", "web2"]
        .into_iter()
        .map(|n| (n, traffic(lab, n)))
        .collect();
    // The first datagrams are decided (and pinned) in the workers; the
    // flow leaves userspace from then on.
    const DATAGRAMS: u64 = 300;
    for i in 0..DATAGRAMS {
        echo_datagram(client, to, PAYLOAD, &format!("datagram {i}"));
        if i == 1 {
            wait_offloaded(lab, nic, "Udp", &to.to_string());
        }
    }
    let by_backend = echoes.by_backend();
    assert_eq!(by_backend.len(), 1, "one flow, one backend: {by_backend:?}");
    let (backend, got) = by_backend.into_iter().next().unwrap();
    assert_eq!(got, DATAGRAMS);
    let address = backends.iter().find(|(n, _)| *n == backend).unwrap().1;
    let other = if backend == "web1" { "web2" } else { "web1" };
    // A worker counts a packet just after writing it: the last may be
    // counted an instant after it was read.
    common::wait_for(Duration::from_secs(10), || {
        moved(lab, nic, before[nic])[1] >= DATAGRAMS
            && moved(lab, &backend, before[backend.as_str()])[1] >= DATAGRAMS
    });
    let datagram_bytes = match to.is_ipv6() {
        true => DATAGRAM_BYTES6,
        false => DATAGRAM_BYTES,
    };
    let full = DATAGRAMS * datagram_bytes;
    let client_moved = moved(lab, nic, before[nic]);
    let backend_moved = moved(lab, &backend, before[backend.as_str()]);
    assert_eq!(client_moved[..3], [DATAGRAMS, DATAGRAMS, full], "{nic}");
    assert_eq!(
        backend_moved[..3],
        [DATAGRAMS, DATAGRAMS, full],
        "{backend}"
    );
    assert_eq!(moved(lab, other, before[other])[1], 0, "{other}");
    // The flow at each end: the client's to the frontend, the backend's
    // from the client to its own address (translated), both ways.
    let at_client = flow(lab, nic, "Udp", &to.to_string()).expect("the client's flow");
    let at_backend = SocketAddr::new(address.parse().unwrap(), 7100).to_string();
    let at_backend = flow(lab, &backend, "Udp", &at_backend).expect("its flow");
    for f in [&at_client, &at_backend] {
        assert_eq!(
            (
                f.packets_forward,
                f.bytes_forward,
                f.packets_reverse,
                f.bytes_reverse
            ),
            (DATAGRAMS, full, DATAGRAMS, full),
            "{f:?}"
        );
    }
    assert_eq!(
        at_backend.source, at_client.source,
        "the backend sees the client"
    );
    // Each way, the datagrams after the first were carried by the kernel.
    let carried = [
        client_moved[3],
        backend_moved[4],
        backend_moved[3],
        client_moved[4],
    ];
    if offloading() {
        assert!(
            carried.iter().all(|&n| n >= DATAGRAMS - 10),
            "carried by the kernel (client sent, backend received, backend sent, client received): {carried:?}"
        );
        assert!(
            at_client.offloaded && at_backend.offloaded,
            "{at_client:?} {at_backend:?}"
        );
    } else {
        assert_eq!(carried, [0; 4]);
        assert_eq!(
            at_client.not_offloaded_because.as_deref(),
            Some("offload_off"),
            "{at_client:?}"
        );
    }
    // The pin stays the load balancer's flow on the backend, kept alive by
    // what the kernel carried.
    let placed = lab.daemon().lb_flow_counts("ilb");
    assert_eq!(placed.get(&backend), Some(&1), "{placed:?}");
}

#[test]
fn a_tcp_transfer_through_an_internal_frontend_is_carried_by_the_kernel() {
    let lab = Lab::start("lbotcp", LAB);
    assert_mode(&lab);
    let _servers: Vec<common::Killed> = BACKENDS
        .iter()
        .map(|(name, address)| common::iperf3_server_on(&lab.ns(name), address, 5201))
        .collect();
    let before = traffic(&lab, "client");
    let report = common::iperf3_transfer_to(&lab.ns("client"), FRONTEND, 5300, "200M");
    let sent = report["end"]["sum_sent"]["bytes"].as_u64().unwrap();
    let retransmits = report["end"]["sum_sent"]["retransmits"]
        .as_u64()
        .unwrap_or(0);
    let received = report["end"]["sum_received"]["bytes"].as_u64().unwrap();
    let mss = report["start"]["tcp_mss_default"].as_u64().unwrap();
    // iperf3 names the server it reached: the frontend, as the client
    // sees every answer come from it.
    let connected = &report["start"]["connected"][0];
    assert_eq!(
        connected["remote_host"].as_str(),
        Some(FRONTEND),
        "{connected}"
    );
    assert_eq!(connected["remote_port"].as_u64(), Some(5300), "{connected}");
    let headers = 1500 - mss;
    let payload = |f: &FlowReport| f.bytes_forward - f.packets_forward * headers;
    let at_most_sent = |counted: u64| counted <= sent + (retransmits + 1) * mss;
    // The backend that served it: the one with the transfer's flow.
    let (backend, address) = BACKENDS
        .iter()
        .copied()
        .find(|(name, address)| flow(&lab, name, "Tcp", &format!("{address}:5201")).is_some())
        .expect("a backend tracks the transfer");
    for (nic, destination) in [
        ("client", format!("{FRONTEND}:5300")),
        (backend, format!("{address}:5201")),
    ] {
        // The last segments may still be on their way when iperf3
        // returns: read until the count reaches what was sent or stops
        // moving, and keep the last reading.
        let mut last: Option<FlowReport> = None;
        common::wait_for(Duration::from_secs(10), || {
            let before = last.as_ref().map(|f| f.packets_forward);
            if let Some(f) = flow(&lab, nic, "Tcp", &destination) {
                last = Some(f);
            }
            let now = last.as_ref().map(|f| f.packets_forward);
            let settled = before.is_some() && before == now;
            std::thread::sleep(Duration::from_millis(600));
            last.as_ref().is_some_and(|f| payload(f) >= sent) || settled
        });
        let f = last.unwrap_or_else(|| panic!("no flow at {nic}"));
        assert!(
            payload(&f) >= received && at_most_sent(payload(&f)),
            "{nic}: {} bytes of payload in {} packets counted; iperf3 sent {sent} with \
             {retransmits} retransmits, the server read {received}",
            payload(&f),
            f.packets_forward
        );
    }
    let client = moved(&lab, "client", before);
    let stats = lab.stats(backend);
    if offloading() {
        // Most segments left userspace (all but those the workers carried
        // while the entry was being installed, which a slower build makes
        // more of), and the backend's ACKs came back through the kernel,
        // translated to the frontend.
        assert!(client[3] * 4 >= client[0] * 3, "client: {client:?}");
        assert!(
            stats.offloaded_packets_sent * 10 >= stats.packets_sent * 8,
            "{stats:?}"
        );
        let offload = stats_of(lab.daemon()).offload.expect("an offload report");
        assert!(offload.installed >= 2, "{offload:?}");
    } else {
        assert_eq!((client[3], stats.offloaded_packets_sent), (0, 0));
    }
}

/// TCP echo servers at port 9100 of both backends; each records the
/// backend of every connection it accepted.
struct TcpEchoes {
    stop: Arc<AtomicBool>,
    accepted_by: Arc<Mutex<Vec<String>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl TcpEchoes {
    fn start(lab: &Lab) -> TcpEchoes {
        let stop = Arc::new(AtomicBool::new(false));
        let accepted_by = Arc::new(Mutex::new(Vec::new()));
        let threads = BACKENDS
            .iter()
            .map(|&(name, address)| {
                let at: SocketAddr = format!("{address}:9100").parse().unwrap();
                let listener =
                    netns::run_in(&lab.ns(name), move || Ok(TcpListener::bind(at)?)).unwrap();
                listener.set_nonblocking(true).unwrap();
                let (stop, accepted_by, name) =
                    (stop.clone(), accepted_by.clone(), name.to_string());
                std::thread::spawn(move || {
                    let mut streams = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        if let Ok((stream, _)) = listener.accept() {
                            stream.set_nonblocking(true).unwrap();
                            accepted_by.lock().unwrap().push(name.clone());
                            streams.push(stream);
                        }
                        for s in &mut streams {
                            let mut buf = [0u8; 64];
                            if let Ok(n) = s.read(&mut buf) {
                                let _ = s.write_all(&buf[..n]);
                            }
                        }
                        std::thread::sleep(Duration::from_millis(2));
                    }
                })
            })
            .collect();
        TcpEchoes {
            stop,
            accepted_by,
            threads,
        }
    }
}

impl Drop for TcpEchoes {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A connection from the client to the frontend's port 9000.
fn connect(lab: &Lab) -> TcpStream {
    let frontend: SocketAddr = format!("{FRONTEND}:9000").parse().unwrap();
    let stream = netns::run_in(&lab.ns("client"), move || {
        Ok(TcpStream::connect_timeout(
            &frontend,
            Duration::from_secs(2),
        )?)
    })
    .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    stream
}

fn echo(stream: &mut TcpStream, text: &[u8]) {
    let mut buf = vec![0u8; text.len()];
    stream.write_all(text).unwrap();
    stream.read_exact(&mut buf).unwrap();
    assert_eq!(buf, text);
}

/// The client's flow of `stream` (to the frontend), as `flows` shows it.
fn client_flow(lab: &Lab, stream: &TcpStream) -> Option<FlowReport> {
    let source = stream.local_addr().unwrap().to_string();
    flows_of(lab.daemon(), Some("client"))
        .into_iter()
        .find(|f| f.protocol == "Tcp" && f.source == source)
}

/// Waits until the backends the probes find down are exactly `expected`.
fn wait_for_down(lab: &Lab, expected: &[&str]) {
    let down = || -> Vec<String> {
        lab.daemon()
            .plane()
            .snapshot
            .health
            .down()
            .map(|t| t.nic.clone())
            .collect()
    };
    assert!(
        common::wait_for(Duration::from_secs(15), || down() == expected),
        "the backends down are {:?}, not {expected:?}",
        down()
    );
}

#[test]
fn a_backend_probed_down_keeps_its_connection_while_new_ones_leave_userspace_on_the_other() {
    let lab = Lab::start("lbohealth", &probed());
    assert_mode(&lab);
    // Something listens at the probed port of each backend.
    let mut probed_ports: BTreeMap<&str, TcpListener> = BACKENDS
        .iter()
        .map(|&(name, _)| {
            let at: SocketAddr = "0.0.0.0:8080".parse().unwrap();
            let listener = netns::run_in(&lab.ns(name), move || Ok(TcpListener::bind(at)?));
            (name, listener.unwrap())
        })
        .collect();
    assert!(
        common::wait_for(Duration::from_secs(15), || {
            let states = lab.daemon().lb_backends();
            states.len() == 2
                && states
                    .iter()
                    .all(|(_, s)| s.up && s.consecutive_successes >= 1)
        }),
        "the backends never answered their probes: {:?}",
        lab.daemon().lb_backends()
    );
    let echoes = TcpEchoes::start(&lab);
    let udp = UdpEchoes::start(&lab);
    // An established connection, carried by the kernel.
    let mut established = connect(&lab);
    for _ in 0..5 {
        echo(&mut established, b"before");
    }
    if offloading() {
        assert!(
            common::wait_for(Duration::from_secs(10), || {
                echo(&mut established, b"waiting");
                client_flow(&lab, &established).is_some_and(|f| f.offloaded)
            }),
            "the connection never left userspace: {:?}",
            client_flow(&lab, &established)
        );
    }
    let holder = echoes.accepted_by.lock().unwrap()[0].clone();
    let other = if holder == "web1" { "web2" } else { "web1" };
    // UDP flows from ports the hash put on the holder, each pinned there.
    let mut on_holder = Vec::new();
    for _ in 0..64 {
        let socket = common::udp_client_for(&lab.ns("client"), "10.40.2.100:7000".parse().unwrap());
        socket
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        for i in 0..3 {
            echo_datagram(
                &socket,
                datagram_port(),
                PAYLOAD,
                &format!("udp before, {i}"),
            );
        }
        let port = socket.local_addr().unwrap().port();
        if udp.last_from(port).as_deref() == Some(holder.as_str()) {
            on_holder.push(socket);
        }
        if on_holder.len() == 2 {
            break;
        }
    }
    assert_eq!(on_holder.len(), 2, "the hash put no UDP flow on {holder}");

    // The holder's probe fails: it is down.
    probed_ports.remove(holder.as_str());
    wait_for_down(&lab, &[holder.as_str()]);
    let holder_flow = |lab: &Lab| {
        let address = BACKENDS.iter().find(|(n, _)| *n == holder).unwrap().1;
        flow(lab, &holder, "Tcp", &format!("{address}:9100")).map(|f| f.packets_forward)
    };
    let at_holder = holder_flow(&lab).expect("the holder tracks the connection");
    // The established connection stays on its backend, as Azure keeps it:
    // in the workers, which say why.
    for _ in 0..5 {
        echo(&mut established, b"after");
    }
    let reason = client_flow(&lab, &established).and_then(|f| f.not_offloaded_because);
    if offloading() {
        assert!(
            common::wait_for(Duration::from_secs(10), || {
                echo(&mut established, b"still");
                client_flow(&lab, &established)
                    .is_some_and(|f| f.not_offloaded_because.as_deref() == Some("backend_down"))
            }),
            "{:?}",
            client_flow(&lab, &established)
        );
    } else {
        assert_eq!(reason.as_deref(), Some("offload_off"));
    }
    assert!(holder_flow(&lab).unwrap() >= at_holder + 5);
    assert_eq!(echoes.accepted_by.lock().unwrap().len(), 1);
    // New connections all go to the other backend, and leave userspace.
    for round in 0..5 {
        let mut fresh = connect(&lab);
        for _ in 0..3 {
            echo(&mut fresh, b"new");
        }
        if round == 0 && offloading() {
            assert!(
                common::wait_for(Duration::from_secs(10), || {
                    echo(&mut fresh, b"waiting");
                    client_flow(&lab, &fresh).is_some_and(|f| f.offloaded)
                }),
                "a new connection never left userspace: {:?}",
                client_flow(&lab, &fresh)
            );
        }
    }
    let accepted = echoes.accepted_by.lock().unwrap().clone();
    assert_eq!(accepted.len(), 6, "{accepted:?}");
    assert!(accepted[1..].iter().all(|b| b == other), "{accepted:?}");
    // A UDP flow has no connection to keep: the workers move it to the
    // healthy backend, and the kernel carries it there.
    for socket in &on_holder {
        let port = socket.local_addr().unwrap().port();
        for i in 0..3 {
            echo_datagram(socket, datagram_port(), PAYLOAD, &format!("udp after, {i}"));
            assert_eq!(udp.last_from(port).as_deref(), Some(other));
        }
        if offloading() {
            let source = format!("10.40.1.4:{port}");
            assert!(
                common::wait_for(Duration::from_secs(10), || {
                    echo_datagram(socket, datagram_port(), PAYLOAD, "udp waiting");
                    flows_of(lab.daemon(), Some("client"))
                        .iter()
                        .any(|f| f.protocol == "Udp" && f.source == source && f.offloaded)
                }),
                "the moved UDP flow from {port} never left userspace"
            );
            assert_eq!(udp.last_from(port).as_deref(), Some(other));
        }
    }
    drop(established);
}

#[test]
fn an_apply_that_removes_the_rule_stops_an_offloaded_flow_at_its_next_packet() {
    let prefix = "lboapply";
    let lab = Lab::start(prefix, LAB);
    assert_mode(&lab);
    let echoes = UdpEchoes::start(&lab);
    let client = common::udp_client_for(&lab.ns("client"), "10.40.2.100:7000".parse().unwrap());
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    for i in 0..3 {
        echo_datagram(&client, datagram_port(), PAYLOAD, &format!("before, {i}"));
    }
    wait_offloaded(&lab, "client", "Udp", "10.40.2.100:7000");
    let carried_before = lab.stats("client").offloaded_packets_sent;
    for i in 0..20 {
        echo_datagram(&client, datagram_port(), PAYLOAD, &format!("carried, {i}"));
    }
    if offloading() {
        assert!(lab.stats("client").offloaded_packets_sent >= carried_before + 20);
    }
    let heard_before = echoes.heard.lock().unwrap().len();
    let refused_before = lab.stats("client").drops_for(DropReason::LbNoRule);
    let without = LAB.replace(
        "      - {name: datagrams, frontend_ip_configuration: fe, backend_address_pool: webs,\n         protocol: Udp, frontend_port: 7000, backend_port: 7100}\n",
        "",
    );
    assert_ne!(without, LAB);
    lab.daemon()
        .apply("without.yaml", &common::with_netns_prefix(&without, prefix))
        .unwrap_or_else(|e| panic!("apply refused: {e:?}"));
    // From the moment apply returns, no datagram reaches a backend: each
    // is a counted drop, the frontend having no rule for it.
    const AFTER: u64 = 5;
    let to: SocketAddr = format!("{FRONTEND}:7000").parse().unwrap();
    for _ in 0..AFTER {
        client.send_to(&[9u8; PAYLOAD], to).unwrap();
    }
    let refused = || lab.stats("client").drops_for(DropReason::LbNoRule) - refused_before;
    common::wait_for(Duration::from_secs(10), || refused() >= AFTER);
    assert_eq!(refused(), AFTER);
    assert_eq!(
        echoes.heard.lock().unwrap().len(),
        heard_before,
        "a datagram crossed the removed rule"
    );
    if let Some(offload) = lab.daemon().offload() {
        lab.daemon().sync_offload();
        assert_eq!(offload.installed(), 0);
    }
}
