//! Every request and every answer travels through its JSON line and comes
//! back as the value sent; the lines themselves keep the documented shape.

use super::*;
use crate::api::report::{OffloadReport, ShapingReport};
use crate::diagnostics::gateway::BgpPeerStatus as PeerRow;
use crate::topology::Severity;
use std::collections::BTreeMap;
use vnetd_decide::diagnostics::load_balancer::sample_backend;

/// One line of JSON, as the socket carries it, read back.
fn round_trip<T>(value: &T) -> T
where
    T: Serialize + serde::de::DeserializeOwned,
{
    let line = serde_json::to_string(value).unwrap();
    assert!(!line.contains('\n'), "{line}");
    serde_json::from_str(&line).unwrap()
}

fn requests() -> Vec<Request> {
    vec![
        Request::Apply {
            source: "lab.yaml".into(),
            text: "vnets:\n  - name: hub\n".into(),
            allow_empty: true,
        },
        Request::Diagnose {
            query: Query::NextHop {
                nic: "vm1".into(),
                dst: "10.1.0.4".into(),
            },
            json: true,
        },
        Request::Diagnose {
            query: Query::Trace {
                from: "vm1".into(),
                to: "vm2".into(),
                protocol: Some("udp".into()),
                port: Some(53),
            },
            json: false,
        },
        Request::Diagnose {
            query: Query::RouteServerLearnedRoutes {
                route_server: "hub-rs".into(),
                peer: Some("10.0.2.4".into()),
            },
            json: true,
        },
        Request::Diagnose {
            query: Query::RouteServerAdvertisedRoutes {
                route_server: "hub-rs".into(),
                peer: "10.0.2.5".into(),
            },
            json: false,
        },
        Request::Stats,
        Request::Flows { nic: None },
        Request::Flows {
            nic: Some("vm2".into()),
        },
        Request::BgpPeerStatus {
            gateway: "hub-gw".into(),
        },
        Request::LbShow {
            load_balancer: "ilb".into(),
        },
        Request::RunningTopology,
        Request::Convergence,
    ]
}

fn stats() -> StatsReport {
    StatsReport {
        generation: 3,
        host: Some("h1".to_string()),
        nics: BTreeMap::from([(
            "vm1".to_string(),
            NicStats {
                packets_sent: 5,
                bytes_sent: 420,
                packets_received: 4,
                bytes_received: 336,
                offloaded_packets_sent: 2,
                offloaded_packets_received: 1,
                drops: BTreeMap::from([("NsgInbound".to_string(), 1)]),
            },
        )]),
        flow_table: FlowTableReport {
            capacity: 1024,
            memory_bytes: 65_536,
            flows: 2,
            inserted: 3,
            evicted: 1,
            failed_inserts: 0,
        },
        flow_log_events_lost: 7,
        worker_restarts: 1,
        thread_panics: BTreeMap::from([("worker".to_string(), 1), ("control".to_string(), 0)]),
        load_balancer_backends: vec![BackendReport {
            load_balancer: "ilb".into(),
            probe: "health".into(),
            nic: "web2".into(),
            up: false,
            since: "2026-11-23T07:50:08Z".into(),
            consecutive_successes: 0,
            consecutive_failures: 2,
            reason: Some("connection refused".into()),
            flows: 0,
        }],
        routing_daemons: vec![RoutingDaemonReport {
            program: "gobgpd".into(),
            netns: "hub-gw-0".into(),
            serves: "gateway hub-gw instance 0".into(),
            state: "running".into(),
            pid: Some(4242),
            restarts: 1,
            last_exit: Some("killed by signal 9 (SIGKILL)".into()),
            restart_error: None,
        }],
        offload: Some(OffloadReport {
            entries: 4,
            capacity: 65_536,
            installed: 6,
            removed: 2,
            refused_full: 0,
            share_per_nic: 32_768,
            refused_share: 3,
            nics_at_share: [("web1-nic".to_string(), 3)].into_iter().collect(),
            removed_stale: 1,
            removed_egress_gone: 0,
            refused_egress_gone: 0,
        }),
        shaping: Some(Box::new(ShapingReport {
            on: true,
            limits: vec!["650 Mbps: gateway hub-gw (VpnGw1)".into()],
            delayed_paths: 2,
            delays: vec!["VNet weu -> VNet eus: +42.5 ms".into()],
        })),
        underlay: Some(Box::new(UnderlayReport {
            inner_mtu: 1450,
            sent: 10,
            received: 9,
            untrusted: 1,
            not_trusted: 2,
            no_destination: 0,
            wrong_vni: 3,
            unknown_port: 4,
            malformed: 0,
            failed: 0,
            hosts: vec![UnderlayHostReport {
                host: "h3".into(),
                address: "192.0.2.3".into(),
                trust: "no_digest".into(),
                why: "it announces no digest of the lab's numbering".into(),
                refused: 1,
                not_sent: 2,
            }],
        })),
        global_reach: vec![crate::api::GlobalReachReport {
            name: "dc1-dc2 primary".into(),
            delay_us: 13_000,
            packets: 12,
            dropped: 0,
        }],
        names: Some(Box::new(crate::api::NamesReport {
            dns_queries: 9,
            dns_answers: 8,
            dns_malformed: 1,
            dns_send_failed: 0,
            dns_forwarded: 2,
            dns_forward_timeouts: 0,
            dns_forward_loops_cut: 1,
            dns_tcp_refused_per_source: 4,
            dns_tcp_refused_at_capacity: 0,
            paas_requests: 3,
            paas_refused: 0,
            application_allowed: 5,
            application_denied: 2,
            application_unreachable: 0,
            application_refused: 1,
            dns_servers_ready: 1,
            dns_servers_starting: 0,
            dns_servers_failed_starts: 2,
        })),
        warnings: vec!["the fabric's counters: Operation not permitted (os error 1)".into()],
    }
}

fn responses() -> Vec<Response> {
    vec![
        Response::Applied(ApplyOutcome {
            source: "lab.yaml".into(),
            generation: 2,
            added: vec!["vm3".into()],
            removed: vec![],
            replumbed: vec!["vm1".into(), "vm2".into()],
            changed: vec!["vm4: rate cap 1000 Mbps -> 2000 Mbps (its VM's size)".into()],
            rebuilt: vec!["vm1: its namespace and TUN are built again".into()],
            file: vec![
                "~route_tables[spoke1-rt]".into(),
                "+network_interfaces[vm3]".into(),
            ],
            warnings: vec!["removing namespace vm9: Device or resource busy".into()],
        }),
        Response::Applied(ApplyOutcome::default()),
        Response::Diagnosis(Diagnosis {
            json: false,
            output: "Next hop from vm1 to 10.1.0.4:\n  next hop type:   VNetPeering\n".into(),
        }),
        Response::Stats(stats()),
        Response::Stats(StatsReport::default()),
        Response::Flows(FlowsReport {
            flows: vec![FlowReport {
                host: Some("h2".into()),
                nic: "vm1".into(),
                direction: "Outbound".into(),
                protocol: "Tcp".into(),
                source: "10.0.1.4:40000".into(),
                destination: "[fd00::4]:80".into(),
                rule: Some("securityRules/allow-web".into()),
                next_hop_type: Some("VnetLocal".into()),
                next_hop_ip_address: None,
                gateways: Vec::new(),
                hub: None,
                packets_forward: 3,
                bytes_forward: 180,
                packets_reverse: 2,
                bytes_reverse: 120,
                age_ms: 1500,
                idle_ms: 20,
                offloaded: true,
                not_offloaded_because: None,
                translated: None,
            }],
            warnings: vec!["the fabric's counters: Operation not permitted".into()],
        }),
        Response::Flows(FlowsReport::default()),
        Response::BgpPeerStatus(BgpPeerStatus {
            gateway: "hub-gw".into(),
            peers: BgpPeerStatusList {
                value: vec![PeerRow {
                    asn: 65050,
                    connected_duration: "00:01:05".into(),
                    local_address: "10.0.255.4".into(),
                    messages_received: 9,
                    messages_sent: 8,
                    neighbor: "192.168.255.1".into(),
                    routes_received: 2,
                    state: "Connected".into(),
                    reason: None,
                }],
            },
        }),
        Response::LoadBalancer(LoadBalancerStatus {
            load_balancer: "ilb".into(),
            backends: vec![sample_backend()],
        }),
        Response::RunningTopology(RunningTopology {
            source: "built-in hub-spoke.yaml".into(),
            text: "vnets: []\n".into(),
        }),
        Response::Convergence(Convergence {
            converged: false,
            sessions_established: 0,
            sessions_expected: 1,
            prefixes_learned: 1,
            prefixes_expected: 2,
            backends_probed: 0,
            backends_expected: 0,
            sessions_down: vec![SessionRef {
                gateway: "hub-gw".into(),
                instance: 0,
                neighbor: "192.168.255.1".into(),
            }],
            prefixes_missing: vec![RouteRef {
                gateway: "hub-gw".into(),
                instance: 0,
                neighbor: "192.168.255.1".into(),
                prefix: "192.168.0.0/16".into(),
            }],
            backends_unprobed: Vec::new(),
            hosts_trusted: 1,
            hosts_expected: 2,
            hosts_untrusted: vec![HostRef {
                host: "h3".into(),
                address: "192.0.2.3".into(),
                why: "nothing heard from it over the host mesh".into(),
            }],
            servers_starting: true,
            uptime_ms: 2100,
        }),
        Response::Error(ApiError::usage(
            "routes: give exactly one of --nic and --subnet",
        )),
        Response::Error(ApiError {
            diagnostics: vec![Diagnostic {
                file: "lab.yaml".into(),
                line: 4,
                severity: Severity::Error,
                key: "vnets[hub].address_space[0]".into(),
                message: "not a CIDR prefix".into(),
            }],
            ..ApiError::refused("lab.yaml: refused, 1 errors; the running topology is unchanged")
        }),
    ]
}

#[test]
fn every_request_reads_back_as_sent() {
    for req in requests() {
        assert_eq!(round_trip(&req), req);
    }
}

#[test]
fn every_response_reads_back_as_sent() {
    for response in responses() {
        assert_eq!(round_trip(&response), response);
    }
}

/// The lines as documented: requests tagged by `command`, answers one key
/// naming the answer.
#[test]
fn lines_have_the_documented_shape() {
    assert_eq!(
        serde_json::to_string(&Request::Flows {
            nic: Some("vm1".into())
        })
        .unwrap(),
        r#"{"command":"flows","nic":"vm1"}"#
    );
    assert_eq!(
        serde_json::to_string(&Request::Stats).unwrap(),
        r#"{"command":"stats"}"#
    );
    assert_eq!(
        serde_json::to_string(&Request::Diagnose {
            query: Query::Rules { nic: "vm1".into() },
            json: false
        })
        .unwrap(),
        r#"{"command":"diagnose","query":{"query":"rules","nic":"vm1"},"json":false}"#
    );
    assert_eq!(
        serde_json::to_string(&Response::Flows(FlowsReport::default())).unwrap(),
        r#"{"flows":{"flows":[]}}"#
    );
    assert_eq!(
        serde_json::to_string(&Response::Error(ApiError::refused("no NIC named `vm9`"))).unwrap(),
        r#"{"error":{"kind":"refused","message":"no NIC named `vm9`"}}"#
    );
    // A request without its optional fields still reads.
    assert_eq!(
        serde_json::from_str::<Request>(r#"{"command":"flows"}"#).unwrap(),
        Request::Flows { nic: None }
    );
    assert_eq!(
        serde_json::from_str::<Request>(
            r#"{"command":"diagnose","query":{"query":"route-server-learned-routes","route_server":"hub-rs"},"json":true}"#
        )
        .unwrap(),
        Request::Diagnose {
            query: Query::RouteServerLearnedRoutes {
                route_server: "hub-rs".into(),
                peer: None
            },
            json: true
        }
    );
}

#[test]
fn errors_carry_their_exit_code_and_print_their_diagnostics_first() {
    let Response::Error(invalid) = responses().pop().unwrap() else {
        unreachable!()
    };
    assert_eq!(invalid.exit_code(), EXIT_REFUSED);
    assert_eq!(
        invalid.to_string(),
        "lab.yaml:4: error: vnets[hub].address_space[0]: not a CIDR prefix\n\
         lab.yaml: refused, 1 errors; the running topology is unchanged"
    );
    assert_eq!(ApiError::usage("x").exit_code(), EXIT_USAGE);
    assert_eq!(
        ApiError::from(QueryError::Refused("no NIC".into())),
        ApiError::refused("no NIC")
    );
}
