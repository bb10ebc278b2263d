//! `vnetd capture NIC` on a running hub-and-spoke lab: what it writes is
//! held, packet for packet, to what tcpdump captures on the same `eth0` at
//! the same time, during pings and a TCP exchange (which the kernel fast
//! path carries when offload is on), and `tcpdump -r` reads it back with
//! every echo request and reply. `vnetd capture --filter icmp` keeps the
//! pings only, and not one segment of a TCP transfer crossing the same
//! device from before the capture opened, on a port that forwards (the
//! firewall's) and on a VM's, each a veth with offload and a TUN device
//! under `--no-offload`. Needs root (see `common::require_root`).

use crate::common;

use common::traffic::udp_marker;
use common::Killed;
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};
use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use vnetd::host::netns;

const HUB_SPOKE: &str = include_str!("../../config/hub-spoke.yaml");
const FIREWALL: &str = include_str!("../../config/hub-spoke-firewall.yaml");
const PREFIX: &str = "cap";

/// The payload of the datagram sent after the traffic: both captures are
/// read up to it.
const MARKER: &[u8] = b"vnetd-capture-test-end";

#[test]
fn capture_holds_every_packet_tcpdump_sees_on_eth0() {
    common::require_root();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hub-spoke.yaml");
    std::fs::write(&config, common::with_netns_prefix(HUB_SPOKE, PREFIX)).unwrap();
    let socket = dir.path().join("vnetd.sock");
    let mut run = common::vnetd_command(&socket);
    run.arg("run").arg(&config);
    let (mut lab, _) = common::spawn_lab(run, "");
    let vm1 = format!("{PREFIX}-vm1");

    let reference = dir.path().join("tcpdump.pcap");
    let tcpdump = tcpdump_writing(&vm1, &reference);
    let got = dir.path().join("vnetd.pcapng");
    let mut capture = common::vnetd_command(&socket);
    capture.args(["capture", "vm1", "-w"]).arg(&got);
    let capture = Killed(capture.stderr(Stdio::piped()).spawn().unwrap());
    // The file's header is written once the socket is open.
    assert!(
        common::wait_for(Duration::from_secs(10), || file_len(&got) > 0),
        "vnetd capture never opened its capture"
    );

    let before = offloaded_sent(&socket);
    assert!(common::ping(&vm1, "10.2.1.4"), "vm1 cannot ping vm2");
    chat(&socket, &vm1, &format!("{PREFIX}-shared1"));
    udp_marker(&vm1, "10.2.1.4:9".parse().unwrap(), MARKER);
    assert!(
        common::wait_for(Duration::from_secs(10), || {
            holds_marker(&read_pcap(&reference)) && holds_marker(&read_pcapng(&got).1)
        }),
        "the marker never reached both captures"
    );
    let offloaded = offloaded_sent(&socket) - before;
    if vnetd::daemon::options::offload_off_by_environment() {
        assert_eq!(offloaded, 0, "no offload, yet packets were offloaded");
    } else {
        assert!(offloaded > 0, "the transfer never took the fast path");
    }
    stop(tcpdump);
    let stderr = stop(capture);
    assert!(stderr.contains("packets on vm1 (eth0)"), "{stderr}");

    let (description, packets) = read_pcapng(&got);
    assert!(
        description.contains("vnetd port vm1 (spoke1/app, 10.1.1.4)"),
        "{description}"
    );
    let expected = up_to_marker(read_pcap(&reference));
    assert_eq!(up_to_marker(packets), expected, "the captures differ");
    assert!(
        expected.len() > 6 + 6,
        "too few packets: {}",
        expected.len()
    );

    let read_back = Command::new("tcpdump")
        .args(["-nn", "-r"])
        .arg(&got)
        .output()
        .unwrap();
    assert!(read_back.status.success(), "tcpdump -r failed");
    let text = String::from_utf8_lossy(&read_back.stdout);
    let count = |what: &str| text.lines().filter(|l| l.contains(what)).count();
    assert_eq!(count("10.1.1.4 > 10.2.1.4: ICMP echo request"), 3, "{text}");
    assert_eq!(count("10.2.1.4 > 10.1.1.4: ICMP echo reply"), 3, "{text}");
    common::stop_lab(&mut lab);
}

/// A TCP connection from vm1 to shared1 exchanging messages; once the
/// first has crossed, the flow is left to the kernel fast path (when
/// offload is on) before the rest cross.
fn chat(socket: &Path, vm1: &str, shared1: &str) {
    let server: SocketAddr = "10.0.2.4:7100".parse().unwrap();
    let echo = common::traffic::echo_once(shared1, server);
    let mut stream = netns::run_in(vm1, move || {
        Ok(TcpStream::connect_timeout(&server, Duration::from_secs(5))?)
    })
    .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 4];
    for round in 0..20 {
        stream.write_all(b"ping").unwrap();
        stream.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        if round == 0 && !vnetd::daemon::options::offload_off_by_environment() {
            let api = vnetd::api::client::Client::new(socket);
            assert!(
                common::wait_for(Duration::from_secs(10), || {
                    api.flows(Some("vm1")).unwrap().iter().any(|f| {
                        f.protocol == "Tcp" && f.destination == "10.0.2.4:7100" && f.offloaded
                    })
                }),
                "the TCP flow was never offloaded"
            );
        }
    }
    drop(stream);
    echo.join().unwrap();
}

/// `tcpdump -w FILE` on `eth0` of `ns`, once it listens.
fn tcpdump_writing(ns: &str, file: &Path) -> Killed {
    let mut child = Command::new("ip")
        .args([
            "netns", "exec", ns, "tcpdump", "-i", "eth0", "-U", "-B", "8192",
        ])
        .arg("-w")
        .arg(file)
        .stderr(Stdio::piped())
        .spawn()
        .expect("tcpdump is installed");
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(stderr).lines();
    let child = Killed(child);
    loop {
        match lines.next() {
            Some(Ok(line)) if line.contains("listening on") => break,
            Some(Ok(_)) => continue,
            _ => panic!("tcpdump in {ns} ended before it listened"),
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    child
}

/// Stops a capture as a user does (Ctrl-C) and returns what it printed on
/// stderr.
fn stop(mut capture: Killed) -> String {
    common::signal(&capture.0, libc::SIGINT);
    let status = common::wait_exit(&mut capture.0);
    assert!(status.success(), "the capture ended with {status}");
    let mut stderr = String::new();
    if let Some(mut pipe) = capture.0.stderr.take() {
        std::io::Read::read_to_string(&mut pipe, &mut stderr).unwrap();
    }
    stderr
}

fn offloaded_sent(socket: &Path) -> u64 {
    let stats = vnetd::api::client::Client::new(socket).stats().unwrap();
    stats.nics["vm1"].offloaded_packets_sent
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

fn read_pcap(path: &Path) -> Vec<Vec<u8>> {
    let Ok(file) = std::fs::read(path) else {
        return Vec::new();
    };
    let Ok(mut reader) = PcapReader::new(&file[..]) else {
        return Vec::new();
    };
    let mut packets = Vec::new();
    while let Some(Ok(packet)) = reader.next_packet() {
        packets.push(packet.data.into_owned());
    }
    packets
}

/// The interface's description and the packets (a packet being written
/// at the end is left out).
fn read_pcapng(path: &Path) -> (String, Vec<Vec<u8>>) {
    use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
    let file = std::fs::read(path).unwrap();
    let mut reader = PcapNgReader::new(&file[..]).unwrap();
    let mut packets = Vec::new();
    while let Some(Ok(block)) = reader.next_block() {
        if let Block::EnhancedPacket(packet) = block {
            packets.push(packet.data.into_owned());
        }
    }
    let description = reader.interfaces()[0]
        .options
        .iter()
        .find_map(|o| match o {
            InterfaceDescriptionOption::IfDescription(d) => Some(d.to_string()),
            _ => None,
        })
        .unwrap_or_default();
    (description, packets)
}

fn holds_marker(packets: &[Vec<u8>]) -> bool {
    packets.iter().any(|p| p.ends_with(MARKER))
}

fn up_to_marker(mut packets: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let end = packets.iter().position(|p| p.ends_with(MARKER)).unwrap();
    packets.truncate(end + 1);
    packets
}

/// What a filtered capture holds while TCP crosses the same device: the
/// pings, each seen as often as the device carries it, and nothing else;
/// an unfiltered capture at the same time holds the TCP segments. The
/// firewall's port and vm1's are veths (Ethernet frames), or TUN devices
/// (bare IP packets) with offload off.
#[test]
fn a_filtered_capture_holds_only_what_matches_at_a_vm_and_a_firewall() {
    common::require_root();
    let prefix = "capf";
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("firewall.yaml");
    let text = common::with_netns_prefix(FIREWALL, prefix);
    std::fs::write(&config, text).unwrap();
    let socket = dir.path().join("vnetd.sock");
    let mut run = common::vnetd_command(&socket);
    run.arg("run").arg(&config);
    let (mut lab, _) = common::spawn_lab(run, "");
    let (vm1, vm2) = (format!("{prefix}-vm1"), format!("{prefix}-vm2"));

    // TCP from vm1 to vm2's port 443 through the firewall, from before
    // any capture opens to after the last one ends.
    let _server = common::iperf3_server_on(&vm2, "10.2.1.4", 443);
    let _transfer = Killed(
        Command::new("ip")
            .args([
                "netns", "exec", &vm1, "iperf3", "-c", "10.2.1.4", "-p", "443",
            ])
            .args(["-t", "120"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let api = vnetd::api::client::Client::new(&socket);
    let sent = |nic: &str| api.stats().unwrap().nics[nic].packets_sent;
    let before = sent("vm1");
    assert!(
        common::wait_for(Duration::from_secs(10), || sent("vm1") > before + 1000),
        "the TCP transfer never got going"
    );

    let tun = if vnetd::daemon::options::offload_off_by_environment() {
        101
    } else {
        1
    };
    // On the firewall each packet is seen twice: in, and out again.
    for (nic, link, seen) in [("hub-fw", tun, 2), ("vm1", tun, 1)] {
        let filtered = dir.path().join(format!("{nic}-icmp.pcapng"));
        let whole = dir.path().join(format!("{nic}-all.pcapng"));
        let pings = (6 * seen).to_string();
        let mut icmp = common::vnetd_command(&socket);
        icmp.args(["capture", nic, "--filter", "icmp", "-c", &pings, "-w"])
            .arg(&filtered);
        let mut icmp = Killed(icmp.stderr(Stdio::piped()).spawn().unwrap());
        let mut all = common::vnetd_command(&socket);
        all.args(["capture", nic, "-c", "200", "-w"]).arg(&whole);
        let mut all = Killed(all.stderr(Stdio::piped()).spawn().unwrap());
        assert!(
            common::wait_for(Duration::from_secs(10), || {
                file_len(&filtered) > 0 && file_len(&whole) > 0
            }),
            "the captures of {nic} never opened"
        );
        assert!(common::ping(&vm1, "10.2.1.4"), "vm1 cannot ping vm2");
        for capture in [&mut icmp, &mut all] {
            let status = common::wait_exit(&mut capture.0);
            assert!(status.success(), "a capture of {nic} ended with {status}");
        }

        let (linktype, packets) = read_pcapng_link(&filtered);
        assert_eq!(linktype, link, "{nic}");
        let kinds: Vec<(u8, Option<u8>)> = packets
            .iter()
            .map(|p| ip_protocol_and_icmp_type(link, p))
            .collect();
        let requests = kinds.iter().filter(|k| **k == (1, Some(8))).count();
        let replies = kinds.iter().filter(|k| **k == (1, Some(0))).count();
        assert_eq!(
            (requests, replies, packets.len()),
            (3 * seen, 3 * seen, 6 * seen),
            "{nic} filtered for icmp: {kinds:?}"
        );
        let (linktype, packets) = read_pcapng_link(&whole);
        assert_eq!(linktype, link, "{nic}");
        let tcp = packets
            .iter()
            .filter(|p| ip_protocol_and_icmp_type(link, p).0 == 6)
            .count();
        assert!(
            tcp > 0,
            "no TCP crossed {nic} while the filtered capture ran"
        );
    }
    drop(_transfer);
    common::stop_lab(&mut lab);
}

/// The link type of a pcapng file's interface (1 Ethernet, 101 raw IP)
/// and its packets.
fn read_pcapng_link(path: &Path) -> (u32, Vec<Vec<u8>>) {
    let file = std::fs::read(path).unwrap();
    let mut reader = PcapNgReader::new(&file[..]).unwrap();
    let mut packets = Vec::new();
    while let Some(Ok(block)) = reader.next_block() {
        if let Block::EnhancedPacket(packet) = block {
            packets.push(packet.data.into_owned());
        }
    }
    (u32::from(reader.interfaces()[0].linktype), packets)
}

/// The IP protocol of a captured IPv4 packet (0 for anything else), and
/// for ICMP its type.
fn ip_protocol_and_icmp_type(link: u32, packet: &[u8]) -> (u8, Option<u8>) {
    let ip = match link {
        1 if packet.get(12..14) == Some(&[0x08, 0x00]) => &packet[14..],
        101 => packet,
        _ => return (0, None),
    };
    if ip.len() < 20 || ip[0] >> 4 != 4 {
        return (0, None);
    }
    let header = usize::from(ip[0] & 0x0f) * 4;
    let protocol = ip[9];
    let icmp_type = (protocol == 1).then(|| ip.get(header).copied()).flatten();
    (protocol, icmp_type)
}
