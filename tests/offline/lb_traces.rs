//! Golden traces of packets through internal load balancers
//! (`config/ha-nva.yaml`): a packet built byte by byte, the port it comes
//! from, the flow table, and the exact verdict, worked out from
//! `docs/src/azure-behaviour.md` §7. The backend a new flow takes is checked
//! against a plain reference: the rule's distribution hash over the
//! backends the probes find up, in pool order.

use etherparse::PacketBuilder;
use std::net::IpAddr;
use vnetd::dataplane::conntrack::NicOwners;
use vnetd::dataplane::{decide, DropReason, Rewrite, Stateless, Verdict};
use vnetd::engine::flow_table::FlowTable;
use vnetd::net::PacketKey;
use vnetd::plan::PortIdx;
use vnetd::policy::load_balancers::{distribution_hash, BackendHealth, ProbeTarget};
use vnetd::snapshot::Snapshot;
use vnetd::topology::{parse_str, LoadDistribution};

fn example() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/ha-nva.yaml")).unwrap()
}

fn snapshot(text: &str) -> Snapshot {
    Snapshot::compile(parse_str("ha-nva.yaml", text).unwrap().topology, 1)
}

fn nic(s: &Snapshot, name: &str) -> PortIdx {
    s.port_by_name(name)
        .unwrap_or_else(|| panic!("no port {name}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn octets(s: &str) -> [u8; 4] {
    s.parse::<std::net::Ipv4Addr>().unwrap().octets()
}

fn tcp(src: &str, dst: &str, sport: u16, dport: u16) -> Vec<u8> {
    tcp_flags(src, dst, sport, dport, false)
}

fn tcp_flags(src: &str, dst: &str, sport: u16, dport: u16, syn: bool) -> Vec<u8> {
    let b = PacketBuilder::ipv4(octets(src), octets(dst), 64).tcp(sport, dport, 1, 64000);
    let b = if syn { b.syn() } else { b.ack(1) };
    let mut out = Vec::new();
    b.write(&mut out, b"payload").unwrap();
    out
}

fn udp(src: &str, dst: &str, sport: u16, dport: u16) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(octets(src), octets(dst), 64)
        .udp(sport, dport)
        .write(&mut out, b"payload")
        .unwrap();
    out
}

fn ping(src: &str, dst: &str, id: u16) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(octets(src), octets(dst), 64)
        .icmpv4_echo_request(id, 1)
        .write(&mut out, b"payload")
        .unwrap();
    out
}

fn table() -> FlowTable {
    FlowTable::new(1 << 12, NicOwners::MAX_OWNERS, 0)
}

/// The reference: where a new flow goes, by the rule's hash over the
/// healthy backends named in pool order.
fn reference(
    s: &Snapshot,
    healthy: &[&str],
    distribution: LoadDistribution,
    key: PacketKey,
) -> PortIdx {
    let h = distribution_hash(distribution, &key);
    nic(s, healthy[(h % healthy.len() as u64) as usize])
}

fn key(proto: u8, src: &str, dst: &str, sport: u16, dport: u16) -> PacketKey {
    PacketKey {
        proto,
        src: ip(src),
        dst: ip(dst),
        src_port: Some(sport),
        dst_port: Some(dport),
    }
}

fn backend_address(s: &Snapshot, backend: PortIdx) -> IpAddr {
    s.plan.ports[backend].ip_configurations[0].address
}

#[test]
fn a_flow_to_the_frontend_is_translated_to_its_backend_and_back() {
    let s = snapshot(&example());
    let flows = table();
    let vm1 = nic(&s, "vm1");
    for sport in 40000..40040 {
        let packet = tcp_flags("10.1.1.4", "10.0.2.100", sport, 80, true);
        let expected = reference(
            &s,
            &["web1", "web2"],
            LoadDistribution::Default,
            key(6, "10.1.1.4", "10.0.2.100", sport, 80),
        );
        let address = backend_address(&s, expected);
        let forward = Verdict::Translate {
            nic: expected,
            rewrite: Rewrite::Destination { address, port: 80 },
        };
        assert_eq!(decide(&s, &flows, vm1, &packet, 0), forward, "{sport}");
        // Later packets stay, and the backend's replies are translated
        // back to the frontend.
        let next = tcp("10.1.1.4", "10.0.2.100", sport, 80);
        assert_eq!(decide(&s, &flows, vm1, &next, 1), forward);
        let reply = tcp(&address.to_string(), "10.1.1.4", 80, sport);
        assert_eq!(
            decide(&s, &flows, expected, &reply, 2),
            Verdict::Translate {
                nic: vm1,
                rewrite: Rewrite::Source {
                    address: ip("10.0.2.100"),
                    port: 80
                }
            }
        );
    }
}

#[test]
fn without_state_every_packet_is_placed_by_the_hash() {
    let s = snapshot(&example());
    let vm1 = nic(&s, "vm1");
    let packet = tcp("10.1.1.4", "10.0.2.100", 41000, 80);
    let expected = reference(
        &s,
        &["web1", "web2"],
        LoadDistribution::Default,
        key(6, "10.1.1.4", "10.0.2.100", 41000, 80),
    );
    assert_eq!(
        decide(&s, &Stateless, vm1, &packet, 0).egress(),
        Some(expected)
    );
}

#[test]
fn only_the_rules_protocols_and_ports_are_carried() {
    let s = snapshot(&example());
    let vm1 = nic(&s, "vm1");
    let no_rule = Verdict::dropped(DropReason::LbNoRule, vm1);
    // The web frontend carries TCP 80 only: not 443, not UDP, not ICMP
    // (which only HA ports balance).
    for packet in [
        tcp("10.1.1.4", "10.0.2.100", 40000, 443),
        udp("10.1.1.4", "10.0.2.100", 40000, 80),
        ping("10.1.1.4", "10.0.2.100", 7),
    ] {
        assert_eq!(decide(&s, &Stateless, vm1, &packet, 0), no_rule);
    }
    // The HA-ports frontend carries everything, ICMP included, translated
    // to an NVA's own address with the port kept.
    let flows = table();
    for (packet, proto, ports) in [
        (
            udp("10.1.1.4", "10.0.1.100", 40000, 5353),
            17,
            (40000, 5353),
        ),
        (tcp("10.1.1.4", "10.0.1.100", 40000, 22), 6, (40000, 22)),
        (ping("10.1.1.4", "10.0.1.100", 7), 1, (7, 7)),
    ] {
        let mut k = key(proto, "10.1.1.4", "10.0.1.100", ports.0, ports.1);
        if proto == 1 {
            (k.src_port, k.dst_port) = (None, None);
        }
        let expected = reference(&s, &["nva1", "nva2"], LoadDistribution::Default, k);
        assert_eq!(
            decide(&s, &flows, vm1, &packet, 0),
            Verdict::Translate {
                nic: expected,
                rewrite: Rewrite::Destination {
                    address: backend_address(&s, expected),
                    port: ports.1
                }
            }
        );
    }
}

#[test]
fn a_backend_cannot_reach_its_own_frontend() {
    let s = snapshot(&example());
    for (from, src, dst, dport) in [
        ("web1", "10.0.2.4", "10.0.2.100", 80),
        ("web2", "10.0.2.5", "10.0.2.100", 80),
        ("nva1", "10.0.1.4", "10.0.1.100", 443),
    ] {
        let from = nic(&s, from);
        assert_eq!(
            decide(&s, &table(), from, &tcp(src, dst, 40000, dport), 0),
            Verdict::dropped(DropReason::LbHairpin, from)
        );
    }
    // Another backend pool's member is an ordinary client.
    let nva1 = nic(&s, "nva1");
    assert!(matches!(
        decide(
            &s,
            &table(),
            nva1,
            &tcp("10.0.1.4", "10.0.2.100", 40000, 80),
            0
        ),
        Verdict::Translate { .. }
    ));
}

#[test]
fn the_ha_ports_frontend_as_next_hop_keeps_the_destination_and_the_nva_both_ways() {
    let s = snapshot(&example());
    let flows = table();
    let (vm1, vm2) = (nic(&s, "vm1"), nic(&s, "vm2"));
    for sport in 40000..40020 {
        let expected = reference(
            &s,
            &["nva1", "nva2"],
            LoadDistribution::Default,
            key(6, "10.1.1.4", "10.2.1.4", sport, 443),
        );
        let out = tcp("10.1.1.4", "10.2.1.4", sport, 443);
        assert_eq!(decide(&s, &flows, vm1, &out, 0), Verdict::Deliver(expected));
        // The NVA forwards it on by its own subnet's routes.
        assert_eq!(decide(&s, &flows, expected, &out, 0), Verdict::Deliver(vm2));
        // The reply comes back through the same NVA, untouched.
        let back = tcp("10.2.1.4", "10.1.1.4", 443, sport);
        assert_eq!(
            decide(&s, &flows, vm2, &back, 1),
            Verdict::Deliver(expected)
        );
        assert_eq!(
            decide(&s, &flows, expected, &back, 1),
            Verdict::Deliver(vm1)
        );
    }
}

fn down(s: &Snapshot, targets: &[(&str, &str, &str)]) -> Snapshot {
    let mut health = BackendHealth::default();
    for (lb, probe, nic) in targets {
        health.set(
            ProbeTarget {
                load_balancer: lb.to_string(),
                probe: probe.to_string(),
                nic: nic.to_string(),
            },
            false,
        );
    }
    Snapshot::rehealthed(s, health, s.generation + 1)
}

#[test]
fn a_backend_down_gets_no_new_flows_but_keeps_its_tcp_flows() {
    let up = snapshot(&example());
    let vm1 = nic(&up, "vm1");
    let web1 = nic(&up, "web1");
    let flows = table();
    // A TCP flow and a UDP flow placed on web1 while it is up (found by
    // trying source ports; the UDP one through the HA-ports frontend).
    let on_web1 = |make: &dyn Fn(u16) -> Vec<u8>, flows: &FlowTable| {
        (40000..41000)
            .find(|&sport| decide(&up, flows, vm1, &make(sport), 0).egress() == Some(web1))
            .expect("some flow lands on web1")
    };
    let tcp_port = on_web1(
        &|p| tcp_flags("10.1.1.4", "10.0.2.100", p, 80, true),
        &flows,
    );
    let web1_down = down(&up, &[("web-ilb", "http", "web1")]);
    let web2 = nic(&web1_down, "web2");
    // The established TCP flow stays on web1.
    assert_eq!(
        decide(
            &web1_down,
            &flows,
            vm1,
            &tcp("10.1.1.4", "10.0.2.100", tcp_port, 80),
            5
        )
        .egress(),
        Some(web1)
    );
    // A new connection on the same tuple (a SYN) goes to web2, as do all
    // other new flows.
    assert_eq!(
        decide(
            &web1_down,
            &flows,
            vm1,
            &tcp_flags("10.1.1.4", "10.0.2.100", tcp_port, 80, true),
            6
        )
        .egress(),
        Some(web2)
    );
    for sport in 42000..42050 {
        let packet = tcp_flags("10.1.1.4", "10.0.2.100", sport, 80, true);
        assert_eq!(
            decide(&web1_down, &flows, vm1, &packet, 7).egress(),
            Some(web2)
        );
    }
    // With every backend down new flows are dropped, with their own
    // reason; the established TCP flow to web2 continues.
    let all_down = down(
        &up,
        &[("web-ilb", "http", "web1"), ("web-ilb", "http", "web2")],
    );
    assert_eq!(
        decide(
            &all_down,
            &flows,
            vm1,
            &tcp_flags("10.1.1.4", "10.0.2.100", 43000, 80, true),
            8
        ),
        Verdict::dropped(DropReason::LbNoHealthyBackend, vm1)
    );
    assert_eq!(
        decide(
            &all_down,
            &flows,
            vm1,
            &tcp("10.1.1.4", "10.0.2.100", 42000, 80),
            8
        )
        .egress(),
        Some(web2)
    );
}

#[test]
fn a_udp_flow_moves_off_a_backend_that_went_down() {
    let up = snapshot(&example());
    let (vm1, nva1) = (nic(&up, "vm1"), nic(&up, "nva1"));
    let flows = table();
    let sport = (40000..41000)
        .find(|&p| {
            decide(&up, &flows, vm1, &udp("10.1.1.4", "10.2.1.4", p, 53), 0).egress() == Some(nva1)
        })
        .unwrap();
    let nva1_down = down(&up, &[("nva-ilb", "ssh", "nva1")]);
    let nva2 = nic(&nva1_down, "nva2");
    assert_eq!(
        decide(
            &nva1_down,
            &flows,
            vm1,
            &udp("10.1.1.4", "10.2.1.4", sport, 53),
            1
        ),
        Verdict::Deliver(nva2)
    );
    // All down: the UDP flow ends.
    let all_down = down(
        &up,
        &[("nva-ilb", "ssh", "nva1"), ("nva-ilb", "ssh", "nva2")],
    );
    assert_eq!(
        decide(
            &all_down,
            &flows,
            vm1,
            &udp("10.1.1.4", "10.2.1.4", sport, 53),
            2
        ),
        Verdict::dropped(DropReason::LbNoHealthyBackend, vm1)
    );
}

#[test]
fn probes_travel_from_the_prober_to_backends_and_back_through_the_nsgs() {
    let s = snapshot(&example());
    let prober = nic(&s, "probe-hub");
    let web1 = nic(&s, "web1");
    let flows = table();
    // The prober owns 168.63.129.16 and reaches the backend directly; the
    // default AllowAzureLoadBalancerInBound admits it.
    let syn = tcp_flags("168.63.129.16", "10.0.2.4", 50000, 80, true);
    assert_eq!(decide(&s, &flows, prober, &syn, 0), Verdict::Deliver(web1));
    let answer = tcp("10.0.2.4", "168.63.129.16", 80, 50000);
    assert_eq!(
        decide(&s, &flows, web1, &answer, 0),
        Verdict::Deliver(prober)
    );
    // web-nsg denies SSH from anywhere: a probe of port 22 is refused by
    // the backend's NSG.
    let ssh = tcp_flags("168.63.129.16", "10.0.2.4", 50001, 22, true);
    assert!(matches!(
        decide(&s, &flows, prober, &ssh, 0),
        Verdict::Drop {
            reason: DropReason::NsgInbound,
            ..
        }
    ));
}

#[test]
fn with_floating_ip_the_backend_receives_the_frontend_address() {
    let text = example().replace(
        "load_distribution: Default, idle_timeout_in_minutes: 4}",
        "load_distribution: Default, idle_timeout_in_minutes: 4, floating_ip_enabled: true}",
    );
    let s = snapshot(&text);
    let vm1 = nic(&s, "vm1");
    let flows = table();
    let packet = tcp_flags("10.1.1.4", "10.0.2.100", 40000, 80, true);
    let Verdict::Deliver(backend) = decide(&s, &flows, vm1, &packet, 0) else {
        panic!("delivered unchanged");
    };
    // The backend answers from the frontend address it owns on loopback.
    let reply = tcp("10.0.2.100", "10.1.1.4", 80, 40000);
    assert_eq!(
        decide(&s, &flows, backend, &reply, 1),
        Verdict::Deliver(vm1)
    );
}

#[test]
fn a_known_flow_through_the_frontend_records_its_pin_once() {
    let s = snapshot(&example());
    let flows = table();
    let vm1 = nic(&s, "vm1");
    let packet = tcp("10.1.1.4", "10.0.2.100", 40000, 80);
    decide(&s, &flows, vm1, &packet, 0);
    // The client's outbound flow, the pin, the backend's inbound flow.
    assert_eq!(flows.stats().inserted, 3);
    for now in 1..10 {
        decide(&s, &flows, vm1, &packet, now);
    }
    assert_eq!(flows.stats().inserted, 3, "later packets find their pin");
    assert_eq!(flows.len(), 3);
}

#[test]
fn a_flow_moved_by_a_health_change_stays_where_it_moved_when_the_backend_returns() {
    let up = snapshot(&example());
    let (vm1, nva1) = (nic(&up, "vm1"), nic(&up, "nva1"));
    let flows = table();
    let sport = (40000..41000)
        .find(|&p| {
            decide(&up, &flows, vm1, &udp("10.1.1.4", "10.2.1.4", p, 53), 0).egress() == Some(nva1)
        })
        .unwrap();
    let packet = udp("10.1.1.4", "10.2.1.4", sport, 53);
    // Later packets of the flow, within its first second and after.
    for now in [1, 500, 1_500, 2_500] {
        assert_eq!(
            decide(&up, &flows, vm1, &packet, now),
            Verdict::Deliver(nva1)
        );
    }
    let nva1_down = down(&up, &[("nva-ilb", "ssh", "nva1")]);
    let nva2 = nic(&nva1_down, "nva2");
    assert_eq!(
        decide(&nva1_down, &flows, vm1, &packet, 3_000),
        Verdict::Deliver(nva2)
    );
    // nva1 is back: the hash would pick it again, but the flow stays on
    // nva2, where its pin now is, packet after packet.
    let back = Snapshot::rehealthed(&nva1_down, BackendHealth::default(), 3);
    for now in [3_100, 3_200, 4_100, 9_000] {
        assert_eq!(
            decide(&back, &flows, vm1, &packet, now),
            Verdict::Deliver(nva2),
            "at {now} ms"
        );
    }
    // A new flow goes where the hash says, nva1 included.
    let fresh = (41000..42000).find(|&p| {
        decide(
            &back,
            &flows,
            vm1,
            &udp("10.1.1.4", "10.2.1.4", p, 53),
            9_000,
        )
        .egress()
            == Some(nva1)
    });
    assert!(fresh.is_some());
}

/// `config/ha-nva.yaml` with a third web server, web3 (10.0.2.6), in the
/// web pool. It is the last NIC of the file, so the others keep their
/// indices, which key the flows of a table used without a daemon (the
/// daemon keys them by port slots, which an apply keeps).
fn with_web3() -> String {
    example()
        .replace(
            "    private_ip_address: 10.2.1.4\n",
            "    private_ip_address: 10.2.1.4\n  - name: web3\n    subnet: hub/web\n    private_ip_address: 10.0.2.6\n",
        )
        .replace(
            "network_interfaces: [web1, web2]}",
            "network_interfaces: [web1, web2, web3]}",
        )
}

#[test]
fn a_backend_added_or_removed_by_apply_respreads_only_new_flows() {
    let two = snapshot(&example());
    let flows = table();
    let vm1 = nic(&two, "vm1");
    // Twenty established connections, on web1 and web2.
    let placed: Vec<(u16, PortIdx)> = (40000..40020)
        .map(|sport| {
            let packet = tcp_flags("10.1.1.4", "10.0.2.100", sport, 80, true);
            (
                sport,
                decide(&two, &flows, vm1, &packet, 0).egress().unwrap(),
            )
        })
        .collect();
    let three_text = with_web3();
    let three_topology = parse_str("ha-nva.yaml", &three_text).unwrap().topology;
    let three = Snapshot::compile_after(three_topology, 2, &two);
    let name = |s: &Snapshot, n: PortIdx| s.plan.ports[n].name.clone();
    // An apply adds web3: every established connection stays where it was
    // (by name: the apply may renumber NICs)...
    for &(sport, backend) in &placed {
        let packet = tcp("10.1.1.4", "10.0.2.100", sport, 80);
        let now = decide(&three, &flows, vm1, &packet, 10).egress().unwrap();
        assert_eq!(name(&three, now), name(&two, backend), "port {sport}");
    }
    // ...while new ones spread over all three, as the reference says.
    let mut web3_got = 0;
    for sport in 41000..41060 {
        let packet = tcp_flags("10.1.1.4", "10.0.2.100", sport, 80, true);
        let expected = reference(
            &three,
            &["web1", "web2", "web3"],
            LoadDistribution::Default,
            key(6, "10.1.1.4", "10.0.2.100", sport, 80),
        );
        let got = decide(&three, &flows, vm1, &packet, 20).egress().unwrap();
        assert_eq!(got, expected, "port {sport}");
        web3_got += usize::from(name(&three, got) == "web3");
    }
    assert!(web3_got > 0);
    // An apply removes web3 again: its flows are placed afresh on the
    // others; the others' flows stay.
    let back = Snapshot::compile_after(
        parse_str("ha-nva.yaml", &example()).unwrap().topology,
        3,
        &three,
    );
    for &(sport, backend) in &placed {
        let packet = tcp("10.1.1.4", "10.0.2.100", sport, 80);
        let now = decide(&back, &flows, vm1, &packet, 30).egress().unwrap();
        assert_eq!(name(&back, now), name(&two, backend), "port {sport}");
    }
    for sport in 41000..41060 {
        let packet = tcp("10.1.1.4", "10.0.2.100", sport, 80);
        let now = decide(&back, &flows, vm1, &packet, 40).egress().unwrap();
        assert_ne!(name(&back, now), "web3");
    }
}

#[test]
fn a_flow_sent_from_a_frontend_address_gets_no_answer() {
    // An appliance (IP forwarding on) may send from any address, the
    // HA-ports frontend's included; the web frontend translates it to a
    // backend, whose reply would have to be translated back and balanced
    // again at once: it is dropped instead.
    let s = snapshot(&example());
    let flows = table();
    let nva1 = nic(&s, "nva1");
    let out = tcp_flags("10.0.1.100", "10.0.2.100", 40000, 80, true);
    let Verdict::Translate { nic: backend, .. } = decide(&s, &flows, nva1, &out, 0) else {
        panic!("the web frontend takes it");
    };
    let address = backend_address(&s, backend).to_string();
    let reply = tcp(&address, "10.0.1.100", 80, 40000);
    assert_eq!(
        decide(&s, &flows, backend, &reply, 1),
        Verdict::dropped(DropReason::LbHairpin, backend)
    );
}
