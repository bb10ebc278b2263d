//! The per-packet decision end to end (parse, source check, NSGs, route,
//! peering and destination checks) on the built-in hub-and-spoke lab, for
//! a few representative packets, and on the hybrid lab through its VPN
//! gateway (a learned route given as input), and through internal load
//! balancers, and past Virtual Network Manager's security admin rules.
//! This is the work a worker does per packet between its read and its
//! write; and what a machine of a spread lab decides of a packet another
//! sent it.

mod shared;

use criterion::{criterion_group, criterion_main, Criterion};
use etherparse::PacketBuilder;
use shared::{hybrid_snapshot, tcp, tcp_ports};
use std::hint::black_box;
use vnetd::dataplane::conntrack::NicOwners;
use vnetd::dataplane::{decide, decide_arrival, Conntrack, PacketView, Stateless, Verdict};
use vnetd::engine::flow_table::FlowTable;
use vnetd::plan::PortIdx;
use vnetd::snapshot::Snapshot;

fn bench(c: &mut Criterion) {
    let loaded = vnetd::topology::parse_str("hub-spoke.yaml", vnetd::cli::BUILTIN_LAB).unwrap();
    let snap = Snapshot::compile(loaded.topology, 1);
    let nic = |n: &str| snap.port_by_name(n).unwrap();
    let cases = [
        (
            "peering, no NSG",
            nic("vm1"),
            tcp([10, 1, 1, 4], [10, 0, 2, 4], 80),
        ),
        (
            "to the NVA by user route",
            nic("vm1"),
            tcp([10, 1, 1, 4], [10, 2, 1, 4], 80),
        ),
        (
            "NVA to spoke, inbound NSG",
            nic("nva1"),
            tcp([10, 1, 1, 4], [10, 2, 1, 4], 80),
        ),
        (
            "NSG deny",
            nic("nva1"),
            tcp([10, 1, 1, 4], [10, 2, 1, 4], 23),
        ),
    ];
    let mut group = c.benchmark_group("decide");
    for (name, ingress, packet) in &cases {
        // Each case must reach the verdict it is named for.
        let verdict = decide(&snap, &Stateless, *ingress, packet, 0);
        assert_eq!(
            matches!(verdict, Verdict::Deliver(_)),
            *name != "NSG deny",
            "{name}: {verdict:?}"
        );
        time_decide(&mut group, name, &snap, &Stateless, *ingress, packet);
        // Stateful: the flow is known after the first packet, so the NSG
        // rules are skipped and the flow table is read instead.
        let flows = FlowTable::new(1 << 16, NicOwners::MAX_OWNERS, 0);
        decide(&snap, &flows, *ingress, packet, 0);
        group.bench_function(format!("{name}, known flow"), |b| {
            b.iter(|| {
                decide(
                    black_box(&snap),
                    &flows,
                    black_box(*ingress),
                    black_box(packet),
                    0,
                )
            })
        });
    }
    // Replies of a known flow, from the NIC the flow was delivered to, back
    // through the same path: admitted by state at both ends.
    let replies = [
        (
            "peering, no NSG",
            nic("shared1"),
            tcp([10, 1, 1, 4], [10, 0, 2, 4], 80),
            tcp_ports([10, 0, 2, 4], [10, 1, 1, 4], 80, 40000),
        ),
        (
            "NVA to spoke, inbound NSG",
            nic("vm2"),
            tcp([10, 1, 1, 4], [10, 2, 1, 4], 80),
            tcp_ports([10, 2, 1, 4], [10, 1, 1, 4], 80, 40000),
        ),
    ];
    for (name, from, forward, reply) in &replies {
        let flows = FlowTable::new(1 << 16, NicOwners::MAX_OWNERS, 0);
        let sender = match *name {
            "peering, no NSG" => nic("vm1"),
            _ => nic("nva1"),
        };
        assert!(matches!(
            decide(&snap, &flows, sender, forward, 0),
            Verdict::Deliver(_)
        ));
        assert!(
            matches!(decide(&snap, &flows, *from, reply, 0), Verdict::Deliver(_)),
            "{name}: the reply is delivered"
        );
        group.bench_function(format!("{name}, reply of a known flow"), |b| {
            b.iter(|| {
                decide(
                    black_box(&snap),
                    &flows,
                    black_box(*from),
                    black_box(reply),
                    0,
                )
            })
        });
    }
    // Through a gateway: a transit spoke to the branch (the gateway's own
    // table picks the tunnel), and the branch's tunnel to the spoke (in at
    // the gateway, on by GatewaySubnet's routes).
    let hybrid = hybrid_snapshot();
    let port = |n: &str| hybrid.port_by_name(n).unwrap();
    let through_gateway = [
        (
            "gateway, spoke to branch",
            port("vm1"),
            tcp([10, 1, 1, 4], [192, 168, 1, 10], 80),
        ),
        (
            "gateway, branch to spoke",
            port("branch1-to-hub-vpngw-0"),
            tcp([192, 168, 1, 10], [10, 1, 1, 4], 80),
        ),
    ];
    for (name, ingress, packet) in &through_gateway {
        let verdict = decide(&hybrid, &Stateless, *ingress, packet, 0);
        assert!(
            matches!(verdict, Verdict::Deliver(_)),
            "{name}: {verdict:?}"
        );
        time_decide(&mut group, name, &hybrid, &Stateless, *ingress, packet);
    }
    load_balancer_cases(&mut group);
    admin_rule_cases(&mut group);
    group.finish();
}

/// Through internal load balancers (`config/ha-nva.yaml`, every backend
/// up): a known flow to the web frontend (translated to its backend) next
/// to the same client's known flow straight to that backend, the backend's
/// reply (translated back), and a known flow through the HA-ports
/// frontend as a route's next hop. The load balancer's cost on a flow hit
/// is the first minus the second.
fn load_balancer_cases(group: &mut criterion::BenchmarkGroup<criterion::measurement::WallTime>) {
    let text = include_str!("../config/ha-nva.yaml");
    let topology = vnetd::topology::parse_str("ha-nva.yaml", text)
        .unwrap()
        .topology;
    let snap = Snapshot::compile(topology, 1);
    let nic = |n: &str| snap.port_by_name(n).unwrap();
    let flows = FlowTable::new(1 << 16, NicOwners::MAX_OWNERS, 0);
    let to_frontend = tcp([10, 1, 1, 4], [10, 0, 2, 100], 80);
    let Verdict::Translate { nic: backend, .. } =
        decide(&snap, &flows, nic("vm1"), &to_frontend, 0)
    else {
        panic!("the frontend translates to a backend");
    };
    let backend_address = match snap.plan.ports[backend].ip_configurations[0].address {
        std::net::IpAddr::V4(a) => a.octets(),
        std::net::IpAddr::V6(_) => unreachable!(),
    };
    let to_backend = tcp_ports([10, 1, 1, 4], backend_address, 40001, 80);
    assert_eq!(
        decide(&snap, &flows, nic("vm1"), &to_backend, 0),
        Verdict::Deliver(backend)
    );
    let reply = tcp_ports(backend_address, [10, 1, 1, 4], 80, 40000);
    assert!(matches!(
        decide(&snap, &flows, backend, &reply, 0),
        Verdict::Translate { .. }
    ));
    let through_nvas = tcp([10, 1, 1, 4], [10, 2, 1, 4], 80);
    assert!(matches!(
        decide(&snap, &flows, nic("vm1"), &through_nvas, 0),
        Verdict::Deliver(_)
    ));
    for (name, ingress, packet) in [
        ("load balancer, known flow", nic("vm1"), &to_frontend),
        (
            "straight to its backend, known flow",
            nic("vm1"),
            &to_backend,
        ),
        ("load balancer, reply of a known flow", backend, &reply),
        ("HA ports next hop, known flow", nic("vm1"), &through_nvas),
    ] {
        time_decide(group, name, &snap, &flows, ingress, packet);
    }
}

/// New flows (no flow state) of `config/network-manager.yaml` at NICs whose
/// VNet has security admin rules: RDP from the Internet, denied by the
/// admin rule before the NSG that allows it; monitoring, let through by
/// an `AlwaysAllow` rule past the NSG that denies it; and spoke to spoke
/// over the connected group, where no admin rule matches and the NSGs
/// decide.
fn admin_rule_cases(group: &mut criterion::BenchmarkGroup<criterion::measurement::WallTime>) {
    let text = include_str!("../config/network-manager.yaml");
    let topology = vnetd::topology::parse_str("network-manager.yaml", text)
        .unwrap()
        .topology;
    let snap = Snapshot::compile(topology, 1);
    let nic = |n: &str| snap.port_by_name(n).unwrap();
    let internet = nic("internet");
    let cases = [
        (
            "admin rule Deny",
            internet,
            tcp([203, 0, 113, 10], [198, 51, 100, 40], 3389),
            false,
        ),
        (
            "admin rule AlwaysAllow",
            nic("mon1"),
            tcp([10, 0, 3, 4], [10, 2, 1, 4], 9100),
            true,
        ),
        (
            "admin rules, none matching, NSG allows",
            nic("vm2"),
            tcp([10, 2, 1, 4], [10, 1, 1, 4], 80),
            true,
        ),
    ];
    for (name, ingress, packet, delivered) in &cases {
        let verdict = decide(&snap, &Stateless, *ingress, packet, 0);
        assert_eq!(
            !matches!(verdict, Verdict::Drop { .. }),
            *delivered,
            "{name}: {verdict:?}"
        );
        time_decide(group, name, &snap, &Stateless, *ingress, packet);
    }
}

/// Times the decision of `packet` from `ingress` under `flows`.
fn time_decide<C: Conntrack + ?Sized>(
    group: &mut criterion::BenchmarkGroup<criterion::measurement::WallTime>,
    name: &str,
    snap: &Snapshot,
    flows: &C,
    ingress: PortIdx,
    packet: &[u8],
) {
    group.bench_function(name, |b| {
        b.iter(|| {
            decide(
                black_box(snap),
                flows,
                black_box(ingress),
                black_box(packet),
                0,
            )
        })
    });
}

/// What the receiving machine of a lab spread over machines decides of a
/// packet another sent it (`config/ha-nva.yaml`, spoke1 on h2, the rest on
/// h1, as h1 runs it): a known flow for a NIC that is no backend, one for a
/// backend addressed to its own address, and one still addressed to the
/// web frontend, which h1 translates to its backend (and pinned). The
/// first two are every arrival's cost; the third a balanced one's.
fn arrival_cases(c: &mut Criterion) {
    let text = format!(
        "{}\nhosts:\n  - {{name: h1, underlay_address: 192.0.2.1}}\n  - {{name: h2, underlay_address: 192.0.2.2}}\n",
        include_str!("../config/ha-nva.yaml").replace("  - name: spoke1\n", "  - name: spoke1\n    host: h2\n")
    );
    let mut topology = vnetd::topology::parse_str("ha-nva.yaml", &text)
        .unwrap()
        .topology;
    topology.placement.run_on(Some("h1")).unwrap();
    let snap = Snapshot::compile(topology, 1);
    let nic = |n: &str| snap.port_by_name(n).unwrap();
    let flows = FlowTable::new(1 << 16, NicOwners::MAX_OWNERS, 0);
    let plain = tcp([10, 1, 1, 4], [10, 2, 1, 4], 80);
    let to_backend = tcp([10, 1, 1, 4], [10, 0, 2, 4], 80);
    let to_frontend = tcp_ports([10, 1, 1, 4], [10, 0, 2, 100], 40001, 80);
    let cases = [
        ("a NIC, known flow", nic("vm2"), &plain),
        (
            "a backend at its own address, known flow",
            nic("web1"),
            &to_backend,
        ),
        (
            "a backend through its frontend, known flow",
            nic("web1"),
            &to_frontend,
        ),
    ];
    let mut group = c.benchmark_group("arrival");
    for (name, receiver, packet) in cases {
        let view = PacketView::parse(packet).unwrap();
        let verdict = decide_arrival(&snap, &flows, receiver, &view, 0);
        assert!(
            matches!(verdict, Verdict::Deliver(_) | Verdict::Translate { .. }),
            "{name}: {verdict:?}"
        );
        group.bench_function(name, |b| {
            b.iter(|| decide_arrival(black_box(&snap), &flows, receiver, black_box(&view), 0))
        });
    }
    group.finish();
}

/// What counting a packet as it is on the wire adds to reading it: the
/// virtio-net header's segment size and the segments of a 64 KiB TSO
/// super-packet, next to the plain parse every packet pays anyway.
fn counting(c: &mut Criterion) {
    let mut packet = vec![0u8; vnetd::host::VNET_HDR_LEN];
    packet[1] = 1; // VIRTIO_NET_HDR_GSO_TCPV4
    packet[4..6].copy_from_slice(&1448u16.to_ne_bytes());
    PacketBuilder::ipv4([10, 1, 1, 4], [10, 0, 2, 4], 64)
        .tcp(40000, 5201, 1, 64000)
        .write(&mut packet, &[0u8; 64_000])
        .unwrap();
    let (header, ip) = packet.split_at(vnetd::host::VNET_HDR_LEN);
    let counted = PacketView::parse(ip)
        .unwrap()
        .segmented(vnetd::host::gso_segment_size(header))
        .traffic();
    assert_eq!(counted.packets, 45, "64,000 bytes in 1448-byte segments");
    let mut group = c.benchmark_group("count");
    // Both return the count, so both keep the same work alive.
    group.bench_function("parse a TSO super-packet, count it once", |b| {
        b.iter(|| PacketView::parse(black_box(ip)).unwrap().traffic())
    });
    group.bench_function("parse and count its segments", |b| {
        b.iter(|| {
            PacketView::parse(black_box(ip))
                .unwrap()
                .segmented(vnetd::host::gso_segment_size(black_box(header)))
                .traffic()
        })
    });
    group.finish();
}

criterion_group!(benches, bench, counting, arrival_cases);
criterion_main!(benches);
