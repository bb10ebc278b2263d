//! SNAT exhaustion on real packets: a VM behind a NAT gateway with one
//! public address sends one UDP datagram from each of 50,500 source ports
//! to one Internet server's address and port. Exactly 50,000 flows are
//! translated and reach the Internet (Azure's "50,000 concurrent
//! connections per public IP address to the same destination"), the
//! other 500 are dropped as `snat_port_exhausted`, none as
//! `flow_table_full`: the lab's default flow table for a lab with a NAT
//! gateway has room for them all. With the kernel fast path on and off.
//! A lab run with a table too small for its flows drops the flows it has
//! no room for as `flow_table_full`, none as SNAT exhaustion. Needs root.

use crate::common;

use common::Lab;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;
use vnetd::dataplane::DropReason;
use vnetd::host::netns;

const LAB: &str = "internet:
  servers: [{name: far, address: 203.0.113.10, ports: [80]}]
public_ip_addresses:
  - {name: nat-pip, sku: Standard, ip_address: 198.51.100.10, location: westeurope}
nat_gateways:
  - {name: nat, sku_name: Standard, public_ip_addresses: [nat-pip], subnets: [vn/app]}
vnets:
  - name: vn
    address_space: [10.1.0.0/16]
    location: westeurope
    subnets:
      - {name: app, address_prefixes: [10.1.1.0/24]}
network_interfaces:
  - {name: vm1, subnet: vn/app, private_ip_address: 10.1.1.4}
";

/// Azure's SNAT ports per public address per destination.
const PORTS: u64 = 50_000;
/// Flows sent past them.
const PAST: u64 = 500;
/// Datagrams sent before the test waits for the daemon to have read
/// them all: fewer than the VM's queue holds, so none is lost there.
const BATCH: u16 = 250;

/// What vm1 sent that the daemon read, but what its guest sends that
/// stays on its link (IPv6 multicast listener reports).
fn read_from_vm(lab: &Lab) -> u64 {
    let s = lab.stats("vm1");
    s.packets_sent - s.drops_for(DropReason::Unroutable)
}

/// Sends one datagram from each of `ports` of vm1 to `to`, `BATCH` at a
/// time, waiting after each batch until the daemon has read them.
fn send_from_each_port(lab: &Lab, ports: std::ops::Range<u16>, to: SocketAddr) {
    let vm = lab.ns("vm1");
    let start = read_from_vm(lab);
    let mut sent = 0;
    let ports: Vec<u16> = ports.collect();
    for batch in ports.chunks(usize::from(BATCH)) {
        netns::run_in(&vm, || {
            for &port in batch {
                let socket = UdpSocket::bind(("10.1.1.4", port))?;
                socket.send_to(b"snat", to)?;
            }
            Ok(())
        })
        .unwrap();
        sent += batch.len() as u64;
        // The last flows each look through every port before they are
        // refused: a debug build takes its time.
        let read = common::wait_for(Duration::from_secs(120), || {
            read_from_vm(lab) - start >= sent
        });
        assert!(
            read,
            "the daemon read {} of {sent}",
            read_from_vm(lab) - start
        );
    }
}

#[test]
fn a_nat_gateway_address_carries_50000_flows_to_one_destination_then_refuses() {
    for (prefix, offload) in [("snatk", true), ("snatu", false)] {
        let options = vnetd::daemon::options::RunOptions {
            offload,
            ..Default::default()
        };
        let lab = Lab::start_with(prefix, &common::with_netns_prefix(LAB, prefix), options);
        let to: SocketAddr = "203.0.113.10:5353".parse().unwrap();
        // A socket that takes the datagrams (and drops what it has no
        // room for), so the server's kernel answers none with an ICMP
        // error.
        let internet = format!("{}.internet", lab.ns("vm1"));
        let _server = netns::run_in(&internet, move || common::udp_bind_again(to)).unwrap();
        let (vm, far) = (lab.stats("vm1"), lab.stats("internet"));
        let first = 10_000u16;
        send_from_each_port(&lab, first..first + (PORTS + PAST) as u16, to);
        let counted = || {
            let (v, i) = (lab.stats("vm1"), lab.stats("internet"));
            [
                i.packets_received - far.packets_received,
                v.drops_for(DropReason::SnatPortExhausted)
                    - vm.drops_for(DropReason::SnatPortExhausted),
                v.drops_for(DropReason::FlowTableFull) - vm.drops_for(DropReason::FlowTableFull),
            ]
        };
        // A worker counts a packet just after writing it.
        common::wait_for(Duration::from_secs(10), || {
            counted()[..2].iter().sum::<u64>() >= PORTS + PAST
        });
        assert_eq!(
            counted(),
            [PORTS, PAST, 0],
            "offload {offload}: translated, snat_port_exhausted, flow_table_full"
        );
    }
}

/// 12,000 flows through a table of 65,536 slots (`--flow-table-slots`),
/// which six slots a flow cannot hold: every flow is translated or
/// dropped as `flow_table_full`, some of each, none as
/// `snat_port_exhausted`, with ports left.
#[test]
fn a_flow_table_too_small_for_the_flows_counts_flow_table_full() {
    let options = vnetd::daemon::options::RunOptions {
        flow_table_slots: Some(65_536),
        ..Default::default()
    };
    let prefix = "snatf";
    let lab = Lab::start_with(prefix, &common::with_netns_prefix(LAB, prefix), options);
    let to: SocketAddr = "203.0.113.10:5353".parse().unwrap();
    let internet = format!("{}.internet", lab.ns("vm1"));
    let _server = netns::run_in(&internet, move || common::udp_bind_again(to)).unwrap();
    let flows: u64 = 12_000;
    send_from_each_port(&lab, 10_000..10_000 + flows as u16, to);
    let counted = || {
        let (v, i) = (lab.stats("vm1"), lab.stats("internet"));
        [
            i.packets_received,
            v.drops_for(DropReason::FlowTableFull),
            v.drops_for(DropReason::SnatPortExhausted),
        ]
    };
    common::wait_for(Duration::from_secs(10), || {
        counted()[..2].iter().sum::<u64>() >= flows
    });
    let [translated, full, exhausted] = counted();
    assert_eq!(
        (translated + full, exhausted),
        (flows, 0),
        "translated {translated}, flow_table_full {full}"
    );
    assert!(
        translated > 0 && full > 0,
        "translated {translated}, flow_table_full {full}"
    );
}
