//! A public Standard load balancer on real packets through the decision.
//!
//! Outbound: each backend of an outbound rule has its own block of ports
//! on the frontend address (Azure's default of 1,024 for a pool of up to
//! 50, or `allocated_outbound_ports`), per destination: the block's flows
//! to one destination each get a distinct port of the block, the next is
//! dropped as `snat_port_exhausted`, another destination still gets one,
//! and with a second frontend address the backend goes on with its block
//! there. A reply finds its flow. A NIC's own public IP comes first; a
//! pool NIC has no default outbound access.
//!
//! Inbound: a packet from the Internet to the frontend reaches the backend
//! the hash picks, translated to it, and the backend's reply leaves as the
//! frontend again; the backend's NSG judges the packet as translated (its
//! backend port), and without an NSG the backend is closed to the Internet.

use crate::common::packets::{ping4, syn4, udp4};
use etherparse::PacketBuilder;
use std::collections::HashSet;
use std::net::IpAddr;
use vnetd::dataplane::conntrack::NicOwners;
use vnetd::dataplane::{decide, DropReason, Rewrite, Verdict};
use vnetd::engine::flow_table::FlowTable;
use vnetd::snapshot::Snapshot;

/// web1 and web2 in the pool of `web-lb`; `extra` is added to its
/// outbound rule; `nsg` puts an NSG allowing HTTP from the Internet on
/// the subnet.
fn lab(extra: &str, frontends: &str, nsg: bool) -> Snapshot {
    let nsg_line = if nsg {
        "        network_security_group: web-nsg\n"
    } else {
        ""
    };
    let text = format!(
        "internet:
  servers: [{{name: echo, address: 203.0.113.10, ports: [80]}}]
public_ip_addresses:
  - {{name: web-pip, ip_address: 198.51.100.50}}
  - {{name: out-pip, ip_address: 198.51.100.51}}
  - {{name: out2-pip, ip_address: 198.51.100.52}}
  - {{name: vm3-pip, ip_address: 198.51.100.53}}
vnets:
  - name: vn
    address_space: [10.1.0.0/16]
    subnets:
      - name: web
        address_prefixes: [10.1.1.0/24]
        default_outbound_access: true
{nsg_line}network_security_groups:
  - name: web-nsg
    security_rules:
      - {{name: http, priority: 100, direction: Inbound, access: Allow, protocol: Tcp,
         source_address_prefix: Internet, source_port_range: '*', destination_address_prefix: '*',
         destination_port_range: '8080'}}
network_interfaces:
  - {{name: web1, subnet: vn/web, private_ip_address: 10.1.1.4}}
  - {{name: web2, subnet: vn/web, private_ip_address: 10.1.1.5}}
  - {{name: vm3, subnet: vn/web, private_ip_address: 10.1.1.6, public_ip_address: vm3-pip}}
  - {{name: vm4, subnet: vn/web, private_ip_address: 10.1.1.7}}
load_balancers:
  - name: web-lb
    frontend_ip_configurations:
      - {{name: web-fe, public_ip_address: web-pip}}
      - {{name: out-fe, public_ip_address: out-pip}}
      - {{name: out2-fe, public_ip_address: out2-pip}}
    backend_address_pools:
      - {{name: webs, network_interfaces: [web1, web2, vm3]}}
    rules:
      - {{name: http, frontend_ip_configuration: web-fe, backend_address_pool: webs,
         protocol: Tcp, frontend_port: 80, backend_port: 8080, disable_outbound_snat: true}}
    outbound_rules:
      - {{name: out, frontend_ip_configurations: [{frontends}], backend_address_pool: webs,
         protocol: All{extra}}}
"
    );
    let loaded = vnetd::plan::parse_str("plb.yaml", &text).unwrap();
    Snapshot::compile(loaded.topology, 1)
}

fn table() -> FlowTable {
    FlowTable::new(1 << 20, NicOwners::MAX_OWNERS, 400_000)
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// The public address and port of each of `count` UDP flows from `nic`
/// (at `private`) to 203.0.113.10:`dport`, from source ports 20000 on;
/// `None` for a flow that was dropped, with the drop.
fn leave(
    snap: &Snapshot,
    flows: &FlowTable,
    nic: &str,
    private: &str,
    dport: u16,
    sports: std::ops::Range<u16>,
) -> Vec<Result<(IpAddr, u16), Verdict>> {
    let port = snap.port_by_name(nic).unwrap();
    let internet = snap.port_by_name("internet").unwrap();
    sports
        .map(|sport| {
            match decide(
                snap,
                flows,
                port,
                &udp4(private, "203.0.113.10", sport, dport),
                0,
            ) {
                Verdict::Translate {
                    nic,
                    rewrite: Rewrite::Source { address, port },
                } if nic == internet => Ok((address, port)),
                other => Err(other),
            }
        })
        .collect()
}

#[test]
fn each_backend_has_its_own_block_of_the_default_allocation_per_destination() {
    let snap = lab("", "out-fe", true);
    let flows = table();
    let out = ip("198.51.100.51");
    // A pool of three: Azure's default of 1,024 ports each, blocks in pool
    // order from 1024.
    for (nic, private, block) in [
        ("web1", "10.1.1.4", 1024..2048),
        ("web2", "10.1.1.5", 2048..3072),
    ] {
        let given = leave(&snap, &flows, nic, private, 53, 20_000..21_024);
        let ports: HashSet<u16> = given
            .iter()
            .map(|g| {
                let (address, port) = g.as_ref().expect("a flow within the block");
                assert_eq!(*address, out);
                *port
            })
            .collect();
        assert_eq!(ports, block.clone().collect::<HashSet<u16>>(), "{nic}");
        let web = snap.port_by_name(nic).unwrap();
        assert_eq!(
            leave(&snap, &flows, nic, private, 53, 21_024..21_025),
            [Err(Verdict::dropped(DropReason::SnatPortExhausted, web))],
            "the 1,025th flow of {nic} to one destination"
        );
        // Another destination port: the whole block again.
        let other = leave(&snap, &flows, nic, private, 54, 21_024..21_025);
        assert!(
            matches!(other[0], Ok((a, p)) if a == out && block.contains(&p)),
            "{other:?}"
        );
    }
    // A reply finds its flow: the first of web1's.
    let internet = snap.port_by_name("internet").unwrap();
    let web1 = snap.port_by_name("web1").unwrap();
    let first = leave(&snap, &flows, "web1", "10.1.1.4", 53, 20_000..20_001);
    let Ok((_, port)) = first[0] else {
        panic!("{first:?}")
    };
    let reply = decide(
        &snap,
        &flows,
        internet,
        &udp4("203.0.113.10", "198.51.100.51", 53, port),
        0,
    );
    assert_eq!(
        reply,
        Verdict::Translate {
            nic: web1,
            rewrite: Rewrite::Destination {
                address: ip("10.1.1.4"),
                port: 20_000
            }
        }
    );
}

#[test]
fn allocated_ports_bound_the_block_and_a_second_address_adds_one() {
    let snap = lab(", allocated_outbound_ports: 16", "out-fe, out2-fe", true);
    let flows = table();
    let given = leave(&snap, &flows, "web2", "10.1.1.5", 53, 20_000..20_033);
    let web2 = snap.port_by_name("web2").unwrap();
    // web2 is second in the pool: ports 1040 to 1055 on each address.
    let mut on: Vec<(IpAddr, u16)> = given[..32].iter().map(|g| g.unwrap()).collect();
    on.sort();
    let expected: Vec<(IpAddr, u16)> = ["198.51.100.51", "198.51.100.52"]
        .iter()
        .flat_map(|a| (1040..1056).map(move |p| (ip(a), p)))
        .collect();
    assert_eq!(on, expected);
    assert_eq!(
        given[32],
        Err(Verdict::dropped(DropReason::SnatPortExhausted, web2))
    );
}

#[test]
fn a_public_ip_comes_first_and_the_pool_has_no_default_outbound_access() {
    let snap = lab("", "out-fe", true);
    let flows = table();
    // vm3 is in the pool and has its own public IP: it leaves by it, port kept.
    assert_eq!(
        leave(&snap, &flows, "vm3", "10.1.1.6", 53, 20_000..20_001),
        [Ok((ip("198.51.100.53"), 20_000))]
    );
    // vm4 is in no pool: default outbound access.
    let vm4 = leave(&snap, &flows, "vm4", "10.1.1.7", 53, 20_000..20_001);
    assert!(
        matches!(vm4[0], Ok((IpAddr::V4(a), 20_000)) if a.octets()[..3] == [192, 0, 2]),
        "{vm4:?}"
    );
    // A pool NIC without a rule for its protocol: no way out (ICMP).
    let snap = lab("", "out-fe", true);
    let web1 = snap.port_by_name("web1").unwrap();
    assert_eq!(
        decide(&snap, &table(), web1, &ping4("10.1.1.4", "203.0.113.10"), 0),
        Verdict::dropped(DropReason::NatProtocol, web1)
    );
}

#[test]
fn the_internet_reaches_a_backend_through_the_frontend_and_the_reply_leaves_as_it() {
    let snap = lab("", "out-fe", true);
    let flows = table();
    let internet = snap.port_by_name("internet").unwrap();
    let backends: Vec<_> = ["web1", "web2", "vm3"]
        .iter()
        .map(|n| snap.port_by_name(n).unwrap())
        .collect();
    let mut reached = HashSet::new();
    for sport in 30_000..30_064u16 {
        let verdict = decide(
            &snap,
            &flows,
            internet,
            &syn4("203.0.113.10", "198.51.100.50", sport, 80),
            0,
        );
        let Verdict::Translate {
            nic,
            rewrite:
                Rewrite::Destination {
                    address,
                    port: 8080,
                },
        } = verdict
        else {
            panic!("{verdict:?}")
        };
        assert!(backends.contains(&nic), "{verdict:?}");
        reached.insert(nic);
        // The backend's answer leaves as the frontend, to the client.
        let private = address.to_string();
        let mut answer = Vec::new();
        let IpAddr::V4(a) = address else {
            unreachable!()
        };
        PacketBuilder::ipv4(a.octets(), [203, 0, 113, 10], 64)
            .tcp(8080, sport, 1, 64_000)
            .syn()
            .ack(2)
            .write(&mut answer, &[])
            .unwrap();
        let back = decide(&snap, &flows, nic, &answer, 0);
        assert_eq!(
            back,
            Verdict::Translate {
                nic: internet,
                rewrite: Rewrite::Source {
                    address: ip("198.51.100.50"),
                    port: 80
                }
            },
            "the answer of {private}"
        );
    }
    assert_eq!(reached.len(), 3, "new flows spread over the pool");
    // A port without a rule: no rule carries it.
    assert_eq!(
        decide(
            &snap,
            &flows,
            internet,
            &syn4("203.0.113.10", "198.51.100.50", 30_100, 22),
            0
        ),
        Verdict::dropped(DropReason::LbNoRule, internet)
    );
    // Without an NSG the backends are closed to the Internet.
    let closed = lab("", "out-fe", false);
    assert_eq!(
        decide(
            &closed,
            &table(),
            internet,
            &syn4("203.0.113.10", "198.51.100.50", 30_000, 80),
            0
        ),
        Verdict::dropped(DropReason::PublicIpClosed, internet)
    );
}
