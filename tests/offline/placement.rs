//! A lab spread over machines: the `hosts` of a file and the `host` of its
//! VNets, NICs and sites resolve to where each part runs (a NIC's own over
//! its VNet's, the first host for what names none), and a broken placement
//! is refused at its line with its reason.

use crate::common::placement::{hub_spoke_three_hosts, place, THREE_HOSTS};
use std::net::IpAddr;
use vnetd::topology::{parse_str, HostIdx};

fn host_names(text: &str) -> Vec<(String, String)> {
    let topo = parse_str("placed.yaml", text).unwrap().topology;
    topo.nics
        .iter_enumerated()
        .map(|(nic, n)| {
            let host = topo.nic_host(nic);
            (n.name.clone(), topo.placement.hosts[host].name.clone())
        })
        .collect()
}

#[test]
fn nics_run_on_their_vnets_host() {
    let names = host_names(&hub_spoke_three_hosts());
    let expected = [
        ("nva1", "h1"),
        ("shared1", "h1"),
        ("vm1", "h2"),
        ("vm2", "h3"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(n, h)| (n.to_string(), h.to_string()))
        .collect();
    assert_eq!(names, expected);
}

#[test]
fn a_nics_own_host_wins_and_the_unplaced_run_on_the_first() {
    let text = place(
        &include_str!("../../config/hub-spoke.yaml").replace(
            "    private_ip_address: 10.0.2.4\n",
            "    private_ip_address: 10.0.2.4\n    host: h3\n",
        ),
        &THREE_HOSTS,
        &[("spoke1", "h2")],
    );
    let topo = parse_str("placed.yaml", &text).unwrap().topology;
    let shared1 = topo.nic_by_name("shared1").unwrap();
    let nva1 = topo.nic_by_name("nva1").unwrap();
    let vm2 = topo.nic_by_name("vm2").unwrap();
    assert_eq!(topo.nic_host(shared1), HostIdx::new(2));
    assert_eq!(topo.nic_host(nva1), HostIdx::new(0));
    assert_eq!(topo.nic_host(vm2), HostIdx::new(0));
    assert!(topo.placement.is_spread());
}

#[test]
fn a_file_without_hosts_runs_on_one_machine() {
    let topo = parse_str("one.yaml", include_str!("../../config/hub-spoke.yaml"))
        .unwrap()
        .topology;
    assert!(!topo.placement.is_spread());
}

/// The refusals of `text`, as `line: message`.
fn refusals(text: &str) -> Vec<String> {
    match parse_str("placed.yaml", text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(diags) => diags
            .iter()
            .map(|d| format!("{}: {}", d.line, d.message))
            .collect(),
    }
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn broken_placements_are_refused_at_their_line() {
    let base = include_str!("../../config/hub-spoke.yaml");
    let unknown = place(base, &THREE_HOSTS, &[("spoke1", "h9")]);
    assert_eq!(
        refusals(&unknown),
        [format!(
            "{}: no host named `h9` in `hosts` (the hosts are h1, h2, h3)",
            line_of(&unknown, "host: h9")
        )]
    );
    let same_address = place(
        base,
        &[("h1", "192.0.2.1"), ("h2", "192.0.2.1")],
        &[("spoke1", "h2")],
    );
    assert_eq!(
        refusals(&same_address),
        [format!(
            "{}: 192.0.2.1 is already the underlay address of host `h1`",
            line_of(&same_address, "name: h2,")
        )]
    );
    let unlisted = base.replace("  - name: spoke1\n", "  - name: spoke1\n    host: h2\n");
    assert_eq!(
        refusals(&unlisted),
        [format!(
            "{}: `host: h2` places this on a machine, but the file has no `hosts` list",
            line_of(&unlisted, "host: h2")
        )]
    );
    let v6 = place(base, &[("h1", "2001:db8::1")], &[]);
    assert_eq!(
        refusals(&v6),
        [format!(
            "{}: 2001:db8::1 is IPv6: vnetd's VXLAN between hosts runs over IPv4 underlay addresses",
            line_of(&v6, "2001:db8::1")
        )]
    );
    let twice = place(base, &[("h1", "192.0.2.1"), ("h1", "192.0.2.2")], &[]);
    assert_eq!(
        refusals(&twice),
        [format!(
            "{}: duplicate host name `h1` (first at line {})",
            line_of(&twice, "192.0.2.2"),
            line_of(&twice, "192.0.2.1")
        )]
    );
}

/// The hub-and-spoke example as host `host` runs it, over an underlay
/// that carries `inner_mtu`.
fn as_run_on(host: &str, inner_mtu: u16) -> vnetd::snapshot::Snapshot {
    let mut topo = parse_str("placed.yaml", &hub_spoke_three_hosts())
        .unwrap()
        .topology;
    topo.placement.run_on(Some(host)).unwrap();
    topo.placement.inner_mtu = Some(inner_mtu);
    vnetd::snapshot::Snapshot::compile(topo, 1)
}

#[test]
fn an_underlay_smaller_than_azures_mtu_bounds_and_clamps_the_paths_to_other_hosts() {
    let snap = as_run_on("h2", 1450);
    let port = |name: &str| snap.plan.port_by_name(name).unwrap();
    let (vm1, nva1, shared1) = (port("vm1"), port("nva1"), port("shared1"));
    assert!(snap.plan.is_local(vm1) && !snap.plan.is_local(nva1));
    let tables = &snap.shaping;
    let path = |from, to| tables.profiles[tables.profile_index(from, to)].shaping;
    // To another host: the underlay's MTU, TCP clamped to fit IPv6's
    // headers too.
    assert_eq!(
        (path(vm1, nva1).mtu, path(vm1, nva1).mss_clamp),
        (1450, Some(1390))
    );
    assert_eq!(
        (path(vm1, shared1).mtu, path(vm1, shared1).mss_clamp),
        (1450, Some(1390))
    );
    // Within the machine, Azure's 1500 and no clamp.
    assert_eq!(
        (path(nva1, vm1).mtu, path(nva1, vm1).mss_clamp),
        (1500, None)
    );
    // An underlay that carries 1500 changes nothing.
    let roomy = as_run_on("h2", 1500);
    let tables = &roomy.shaping;
    let path = |from, to| tables.profiles[tables.profile_index(from, to)].shaping;
    assert_eq!(
        (path(vm1, nva1).mtu, path(vm1, nva1).mss_clamp),
        (1500, None)
    );
    assert!(!tables.active);
}

/// The highly available NVAs example as host `host` runs it: the web
/// frontend and its backends on h1, its client vm1 on h2.
fn ha_nva_run_on(host: &str) -> vnetd::snapshot::Snapshot {
    let mut topo = parse_str(
        "placed.yaml",
        &crate::common::placement::ha_nva_three_hosts(),
    )
    .unwrap()
    .topology;
    topo.placement.run_on(Some(host)).unwrap();
    vnetd::snapshot::Snapshot::compile(topo, 1)
}

fn tcp(src: [u8; 4], dst: [u8; 4], ports: (u16, u16), syn_ack: (bool, bool)) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ipv4(src, dst, 64).tcp(ports.0, ports.1, 1, 64000);
    let b = match syn_ack {
        (true, false) => b.syn(),
        (true, true) => b.syn().ack(2),
        _ => b.ack(2),
    };
    let mut out = Vec::new();
    b.write(&mut out, &[]).unwrap();
    out
}

#[test]
fn a_load_balanced_flow_between_hosts_is_translated_and_translated_back_on_the_backends_host() {
    use vnetd::dataplane::conntrack::NicOwners;
    use vnetd::dataplane::{decide, decide_arrival, PacketView, Rewrite, Verdict};
    use vnetd::engine::flow_table::FlowTable;
    let (client, backends) = (ha_nva_run_on("h2"), ha_nva_run_on("h1"));
    let (on_h2, on_h1) = (
        FlowTable::new(1 << 12, NicOwners::MAX_OWNERS, 0),
        FlowTable::new(1 << 12, NicOwners::MAX_OWNERS, 0),
    );
    let port = |s: &vnetd::snapshot::Snapshot, name: &str| s.plan.port_by_name(name).unwrap();
    let (vm1, frontend) = ([10, 1, 1, 4], [10, 0, 2, 100]);
    // On h2, the client's SYN to the frontend is balanced to a backend on
    // h1; the verdict carries the translation, which the worker leaves to
    // h1 (the backend's port is remote here).
    let syn = tcp(vm1, frontend, (40000, 80), (true, false));
    let (backend, rewrite) = match decide(&client, &on_h2, port(&client, "vm1"), &syn, 0) {
        Verdict::Translate { nic, rewrite } => (nic, rewrite),
        other => panic!("{other:?}"),
    };
    assert!(!client.plan.is_local(backend));
    let Rewrite::Destination { address, port: 80 } = rewrite else {
        panic!("{rewrite:?}");
    };
    // On h1, the SYN arrives addressed to the frontend: translated to that
    // backend, pinned there.
    let arrived = PacketView::parse(&syn).unwrap();
    assert_eq!(
        decide_arrival(&backends, &on_h1, backend, &arrived, 0),
        Verdict::Translate {
            nic: backend,
            rewrite
        }
    );
    // The backend's SYN-ACK leaves h1 translated back to the frontend, for
    // the client on h2.
    let IpAddr::V4(address) = address else {
        panic!("{address}");
    };
    let syn_ack = tcp(address.octets(), vm1, (80, 40000), (true, true));
    assert_eq!(
        decide(&backends, &on_h1, backend, &syn_ack, 0),
        Verdict::Translate {
            nic: port(&backends, "vm1"),
            rewrite: Rewrite::Source {
                address: IpAddr::from(frontend),
                port: 80
            }
        }
    );
    // On h2 it arrives as the frontend's answer: vm1 takes it as the reply
    // of its own connection.
    let answered = PacketView::parse(&tcp(frontend, vm1, (80, 40000), (true, true))).unwrap();
    assert_eq!(
        decide_arrival(&client, &on_h2, port(&client, "vm1"), &answered, 0),
        Verdict::Deliver(port(&client, "vm1"))
    );
    // A packet for the backend's own address arrives untouched.
    let direct =
        PacketView::parse(&tcp(vm1, address.octets(), (40001, 80), (true, false))).unwrap();
    assert_eq!(
        decide_arrival(&backends, &on_h1, backend, &direct, 0),
        Verdict::Deliver(backend)
    );
}

/// `trace` walks the whole fabric whichever machine asks: a receiver on
/// another machine is judged by its own NSGs in the walk (forwarding
/// leaves that to the receiver's machine), so every machine of a spread
/// lab, and the lab on one machine, give one answer, rules and all.
#[test]
fn a_trace_on_any_machine_of_a_spread_lab_is_the_whole_fabrics_answer() {
    use vnetd::diagnostics::trace::trace;
    use vnetd::diagnostics::trace_query;
    let alone = vnetd::snapshot::Snapshot::compile(
        parse_str(
            "hub-spoke.yaml",
            include_str!("../../config/hub-spoke.yaml"),
        )
        .unwrap()
        .topology,
        1,
    );
    // Telnet to vm2 is denied by its NSG; the web is allowed; vm2's ping
    // comes back through the NVA.
    for (from, to, protocol, port, reason) in [
        ("vm1", "vm2", "Tcp", Some(23), Some("nsg_inbound")),
        ("vm1", "vm2", "Tcp", Some(80), None),
        ("vm2", "vm1", "Icmp", None, None),
    ] {
        let answer = |snap: &vnetd::snapshot::Snapshot| {
            let query = trace_query(snap, from, to, Some(protocol), port).unwrap();
            trace(snap, &query).unwrap()
        };
        let expected = answer(&alone);
        assert_eq!(
            expected.reason.as_deref(),
            reason,
            "{from} to {to} {port:?}"
        );
        for host in ["h1", "h2", "h3"] {
            assert_eq!(
                answer(&as_run_on(host, 1500)),
                expected,
                "{from} to {to} {port:?}, asked on {host}"
            );
        }
    }
}
