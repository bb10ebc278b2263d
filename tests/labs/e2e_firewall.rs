//! Azure Firewall's source translation, live: a spoke whose range is a
//! public one used privately (20.3.0.0/16) is reached through the firewall
//! with the firewall's own address as source, as Azure's firewall does
//! outside its private ranges, and with the client's own address once the
//! policy lists the range among its `private_ranges`. The server sees the
//! address on a real TCP connection; `trace` says the same offline. Needs
//! root (see `common::require_root`).

use crate::common;

use common::Lab;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;
use vnetd::diagnostics::trace::{trace, TraceQuery};
use vnetd::host::netns;
use vnetd::topology::{Endpoint, ExpectedProtocol};

const EXAMPLE: &str = include_str!("../../config/hub-spoke-firewall.yaml");

/// The example with a third spoke, 20.3.0.0/16, routed through the
/// firewall, which allows spoke1's web traffic to it; `private_ranges` as
/// given (none: Azure's default).
fn with_public_spoke(private_ranges: Option<&str>) -> String {
    let mut text = EXAMPLE
        .replacen(
            "\npeerings:\n",
            "  - name: spoke3\n    address_space: [20.3.0.0/16]\n    location: westeurope\n    \
             subnets:\n      - name: app\n        address_prefixes: [20.3.1.0/24]\n        \
             route_table: spokes-through-firewall\n\npeerings:\n  - {name: hub-to-spoke3, \
             virtual_network: hub, remote_virtual_network: spoke3}\n  - {name: spoke3-to-hub, \
             virtual_network: spoke3, remote_virtual_network: hub, allow_forwarded_traffic: true}\n",
            1,
        )
        .replacen(
            "  - name: vm2\n",
            "  - name: vm3\n    subnet: spoke3/app\n    private_ip_address: 20.3.1.4\n  - name: vm2\n",
            1,
        )
        .replacen(
            "              - {name: ping-between-spokes",
            "              - {name: spoke1-to-spoke3-web, protocols: [TCP], source_addresses: \
             [10.1.0.0/16], destination_addresses: [20.3.0.0/16], destination_ports: [\"80\"]}\n              \
             - {name: ping-between-spokes",
            1,
        );
    if let Some(ranges) = private_ranges {
        text = text.replacen(
            "  - name: hub-fw-policy\n",
            &format!("  - name: hub-fw-policy\n    private_ranges: {ranges}\n"),
            1,
        );
    }
    assert!(text.contains("vm3") && text.contains("spoke1-to-spoke3-web"));
    text
}

/// The source address vm3's server sees on a TCP connection from vm1.
fn source_seen_by_vm3(lab: &Lab) -> std::net::IpAddr {
    let server: SocketAddr = "20.3.1.4:80".parse().unwrap();
    let listener = netns::run_in(&lab.ns("vm3"), move || Ok(TcpListener::bind(server)?)).unwrap();
    let accept = std::thread::spawn(move || listener.accept().map(|(_, peer)| peer.ip()));
    let client = netns::run_in(&lab.ns("vm1"), move || {
        Ok(TcpStream::connect_timeout(&server, Duration::from_secs(3))?)
    });
    assert!(client.is_ok(), "vm1 reaches vm3's server: {client:?}");
    accept.join().unwrap().unwrap()
}

/// The source the offline trace gives the request when it reaches vm3.
fn source_traced(lab: &Lab) -> String {
    let snap = lab.daemon().snapshot();
    let vm1 = snap.topology.nic_by_name("vm1").unwrap();
    let query = TraceQuery {
        from: Endpoint::Nic(vm1),
        to: "20.3.1.4".parse().unwrap(),
        protocol: ExpectedProtocol::Tcp,
        port: Some(80),
    };
    let answer = trace(&snap, &query).unwrap();
    assert_eq!(answer.verdict, "Allow", "{answer:#?}");
    answer.hops.last().unwrap().source.clone()
}

/// Starts `text` with every namespace behind `prefix`: the NICs' and the
/// firewall's (which `netns_prefix` names).
fn start(prefix: &str, text: &str) -> Lab {
    Lab::start(prefix, &format!("netns_prefix: {prefix}-\n{text}"))
}

#[test]
fn the_firewall_translates_sources_outside_its_private_ranges() {
    let lab = start("fwsnat", &with_public_spoke(None));
    assert_eq!(source_seen_by_vm3(&lab).to_string(), "10.0.1.4");
    assert_eq!(source_traced(&lab), "10.0.1.4");
}

#[test]
fn the_firewall_keeps_sources_towards_its_private_ranges() {
    let lab = start(
        "fwkeep",
        &with_public_spoke(Some("[IANAPrivateRanges, 20.0.0.0/8]")),
    );
    assert_eq!(source_seen_by_vm3(&lab).to_string(), "10.1.1.4");
    assert_eq!(source_traced(&lab), "10.1.1.4");
}

#[test]
fn datagrams_through_the_firewall_reach_the_vm_one_by_one() {
    use common::traffic::Capture;
    // The policy lets UDP 5300 from spoke1 into spoke2.
    let text = EXAMPLE.replace(
        "              - {name: spoke1-to-spoke2-web,",
        "              - {name: spoke1-to-spoke2-udp, protocols: [UDP], source_addresses: [10.1.0.0/16], destination_addresses: [10.2.0.0/16], destination_ports: [\"5300\"]}\n              - {name: spoke1-to-spoke2-web,",
    );
    assert_ne!(text, EXAMPLE);
    let lab = start("fwudp", &text);
    let to: SocketAddr = "10.2.1.4:5300".parse().unwrap();
    let server = netns::run_in(&lab.ns("vm2"), move || common::udp_bind_again(to)).unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let client = common::udp_client_for(&lab.ns("vm1"), to);
    // What vm2's `eth0` is handed, packet by packet: a run joined on the
    // way would be one packet here for many datagrams.
    let seen = Capture::start_detailed(&lab.ns("vm2"), "udp and dst port 5300");
    const SENT: usize = 200;
    for i in 0..SENT {
        client.send_to(&[i as u8; 100], to).unwrap();
    }
    let mut buf = [0u8; 256];
    let mut received = 0;
    while received < SENT && server.recv_from(&mut buf).is_ok() {
        received += 1;
    }
    assert_eq!(received, SENT, "every datagram is delivered");
    // The capture may miss packets of a burst; none it saw may be a run.
    let packets = seen.count();
    assert!(!packets.is_empty(), "the capture saw the datagrams");
    let joined: Vec<_> = (packets.iter())
        .filter(|p| !p.ends_with("UDP, length 100"))
        .collect();
    assert!(
        joined.is_empty(),
        "vm2's eth0 was handed joined datagrams: {:?}",
        &joined[..joined.len().min(3)]
    );
    assert_eq!(lab.stats("vm2").packets_received as usize, SENT);
}
