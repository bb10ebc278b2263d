//! `trace` against the single-hop diagnostics: on every topology of the
//! golden suites and every example lab, for every pair of NICs and a few
//! flows, the first hop of a trace names the route `next-hop` names and the
//! outbound verdict and rule `flow-verify` gives at the sender; when the
//! trace is a single hop to the destination NIC, its inbound verdict and
//! rule are `flow-verify`'s at the receiver. The static answers of `check`
//! are traces, so they agree with the single-hop answers by this test.

use std::net::{IpAddr, SocketAddr};
use vnetd::diagnostics::trace::{trace, Trace, TraceQuery, TRACE_SOURCE_PORT};
use vnetd::diagnostics::{flow_verify, next_hop, FlowQuery, SYSTEM_ROUTE};
use vnetd::net::{IPPROTO_TCP, IPPROTO_UDP};
use vnetd::plan::PortIdx;
use vnetd::policy::bgp::expected_learned;
use vnetd::snapshot::Snapshot;
use vnetd::topology::{parse_str, Direction, Endpoint, ExpectedProtocol, NicIdx};

fn topology_files() -> Vec<String> {
    let mut files = Vec::new();
    for dir in ["tests/golden", "config"] {
        let full = format!("{}/{dir}", env!("CARGO_MANIFEST_DIR"));
        for entry in std::fs::read_dir(&full).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path.display().to_string());
            }
        }
    }
    files.sort();
    files
}

/// The table name a route table's resource ID ends with.
fn table_name(route_table_id: &str) -> String {
    if route_table_id == SYSTEM_ROUTE {
        return SYSTEM_ROUTE.to_string();
    }
    route_table_id.rsplit('/').next().unwrap().to_string()
}

/// What the NSG checks of one side of a hop say, as `flow-verify` says it:
/// the access, and the denying rule or else the last stage's allowing one.
fn verdict_of(checks: &[vnetd::diagnostics::trace::NsgCheck]) -> (&'static str, Option<String>) {
    match checks.last() {
        None => ("Allow", None),
        Some(last) => (last.access, Some(last.rule_name.clone())),
    }
}

fn flow(
    direction: Direction,
    protocol: ExpectedProtocol,
    local: SocketAddr,
    remote: SocketAddr,
) -> FlowQuery {
    FlowQuery {
        direction,
        protocol: match protocol {
            ExpectedProtocol::Tcp => IPPROTO_TCP,
            _ => IPPROTO_UDP,
        },
        local,
        remote,
    }
}

fn compare(
    snap: &Snapshot,
    file: &str,
    src: NicIdx,
    dst_nic: NicIdx,
    dst: IpAddr,
    t: &Trace,
) -> usize {
    let (protocol, port) = match t.protocol.as_str() {
        "Tcp" => (ExpectedProtocol::Tcp, t.port.unwrap()),
        _ => (ExpectedProtocol::Udp, t.port.unwrap()),
    };
    let names = &snap.topology.nics;
    let case = format!(
        "{file}: {} -> {} ({dst}) {} {port}",
        names[src].name, names[dst_nic].name, t.protocol
    );
    let first = &t.hops[0];
    let source: IpAddr = t.source.parse().unwrap();
    let ours = SocketAddr::new(source, TRACE_SOURCE_PORT);
    let theirs = SocketAddr::new(dst, port);

    let outbound = flow_verify(
        snap,
        PortIdx::of_nic(src),
        &flow(Direction::Outbound, protocol, ours, theirs),
    );
    let (access, rule) = verdict_of(&first.outbound);
    assert_eq!(
        (access, rule.as_deref()),
        (
            outbound.verdict.access,
            outbound.verdict.rule_name.as_deref()
        ),
        "{case}: outbound at the sender"
    );
    if access == "Deny" {
        return 1;
    }

    let hop = next_hop(snap, PortIdx::of_nic(src), dst);
    match &first.route {
        Some(route) => {
            assert_eq!(
                route.next_hop_type, hop.next_hop_type,
                "{case}: next hop type"
            );
            assert_eq!(
                route
                    .next_hop_ip_address
                    .first()
                    .cloned()
                    .unwrap_or_default(),
                hop.next_hop_ip_address,
                "{case}: next hop IP"
            );
            assert_eq!(
                route.route_table,
                table_name(&hop.route_table_id),
                "{case}: route table"
            );
        }
        None => assert_eq!(
            (hop.next_hop_type, hop.next_hop_ip_address.as_str()),
            ("None", ""),
            "{case}: a hop without route is next hop None"
        ),
    }

    // A single hop straight to the destination NIC: its inbound NSGs.
    let single_hop = t.hops.len() == 1 && first.to.as_deref() == Some(names[dst_nic].name.as_str());
    if single_hop && first.load_balancer.is_none() {
        let inbound = flow_verify(
            snap,
            PortIdx::of_nic(dst_nic),
            &flow(Direction::Inbound, protocol, theirs, ours),
        );
        let (access, rule) = verdict_of(&first.inbound);
        assert_eq!(
            (access, rule.as_deref()),
            (inbound.verdict.access, inbound.verdict.rule_name.as_deref()),
            "{case}: inbound at the receiver"
        );
        let delivered = t.delivered_to.as_deref() == Some(names[dst_nic].name.as_str());
        let denied_inbound = t.reason.as_deref() == Some("nsg_inbound");
        assert_eq!(
            access == "Allow",
            delivered,
            "{case}: the trace's verdict follows the receiver's NSGs"
        );
        assert_eq!(access == "Deny", denied_inbound, "{case}: inbound deny");
        return 3;
    }
    2
}

#[test]
fn traces_agree_with_next_hop_and_flow_verify() {
    let mut compared = 0;
    let mut single_hops = 0;
    for file in topology_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let topology = parse_str(&file, &text)
            .unwrap_or_else(|e| panic!("{file}: {e:#?}"))
            .topology;
        let learned = expected_learned(&topology);
        let snap = Snapshot::compile_learned(topology, learned, 0);
        let t = &snap.topology;
        let vms: Vec<NicIdx> = t.nics.keys().collect();
        for &src in &vms {
            for &dst_nic in &vms {
                if src == dst_nic {
                    continue;
                }
                for config in &t.nics[dst_nic].ip_configurations {
                    let dst = config.address;
                    let has_family = t.nics[src]
                        .ip_configurations
                        .iter()
                        .any(|c| c.address.is_ipv4() == dst.is_ipv4());
                    if !has_family {
                        continue;
                    }
                    for (protocol, port) in [
                        (ExpectedProtocol::Tcp, 22),
                        (ExpectedProtocol::Tcp, 443),
                        (ExpectedProtocol::Udp, 53),
                    ] {
                        let query = TraceQuery {
                            from: Endpoint::Nic(src),
                            to: dst,
                            protocol,
                            port: Some(port),
                        };
                        let found = trace(&snap, &query).unwrap();
                        let depth = compare(&snap, &file, src, dst_nic, dst, &found);
                        compared += 1;
                        if depth == 3 {
                            single_hops += 1;
                        }
                    }
                }
            }
        }
    }
    // The suites hold about 500 such flows, most of them single hops.
    assert!(compared > 400, "only {compared} flows compared");
    assert!(single_hops > 300, "only {single_hops} single hops compared");
}
