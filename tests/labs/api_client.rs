//! The control API end to end in one process: a lab serving its control
//! socket, asked through `api::client`, each typed answer checked against
//! what the daemon computes directly.

use crate::common;

use common::Lab;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use vnetd::api::client::{self, Client, ClientError};
use vnetd::api::{
    ApiError, ApplyOutcome, Diagnosis, ErrorKind, FlowReport, Request, Response, RunningTopology,
};
use vnetd::daemon::reporting::report::{flows_of, stats_of};
use vnetd::diagnostics::{self, Query};

const HUB_SPOKE: &str = include_str!("../../config/hub-spoke.yaml");
const PREFIX: &str = "apic";

/// The flow's records without their clocks, which move between two reads.
fn without_clocks(flows: Vec<FlowReport>, port: &str) -> Vec<FlowReport> {
    flows
        .into_iter()
        .filter(|f| f.destination.ends_with(port))
        .map(|f| FlowReport {
            age_ms: 0,
            idle_ms: 0,
            // Whether the kernel carries the flow changes as its last
            // packets pass, as the clocks do.
            offloaded: false,
            ..f
        })
        .collect()
}

/// A refusal of the daemon, as the client returns it.
fn refused(e: diagnostics::QueryError) -> ClientError {
    ClientError::Refused(ApiError::from(e))
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one lab asked every request of the API in turn"
)]
fn a_lab_answers_its_client_with_typed_data() {
    let mut lab = Lab::start(PREFIX, HUB_SPOKE);
    let socket = lab.serve_control();
    let api = Client::new(&socket);
    let daemon = lab.daemon();

    // The running topology: the file's name and text, as started.
    assert_eq!(
        api.running_topology().unwrap(),
        RunningTopology {
            source: PREFIX.to_string(),
            text: common::with_netns_prefix(HUB_SPOKE, PREFIX),
        }
    );

    // One TCP exchange vm1 -> vm2: the flows of vm2 are the daemon's own.
    let server: SocketAddr = "10.2.1.4:7311".parse().unwrap();
    assert!(common::tcp_echo(&lab.ns("vm1"), &lab.ns("vm2"), server));
    // The connection's last FIN and ACKs may still be crossing: read until
    // two readings agree.
    let mut last = Vec::new();
    common::wait_for(std::time::Duration::from_secs(5), || {
        let now = without_clocks(flows_of(daemon, None), ":7311");
        let settled = !now.is_empty() && now == last;
        last = now;
        std::thread::sleep(std::time::Duration::from_millis(100));
        settled
    });
    let flows = without_clocks(api.flows(Some("vm2")).unwrap(), ":7311");
    assert_eq!(
        flows,
        without_clocks(flows_of(daemon, Some("vm2")), ":7311")
    );
    assert_eq!(flows.len(), 1, "{flows:?}");
    let flow = &flows[0];
    assert_eq!(
        (
            flow.nic.as_str(),
            flow.direction.as_str(),
            flow.protocol.as_str(),
            flow.destination.as_str(),
            flow.rule.as_deref(),
            flow.next_hop_type.as_deref(),
        ),
        (
            "vm2",
            "Inbound",
            "Tcp",
            "10.2.1.4:7311",
            Some("defaultSecurityRules/AllowVnetInBound"),
            None,
        )
    );
    assert!(flow.source.starts_with("10.1.1.4:"), "{flow:?}");
    // All flows hold vm2's, and the outbound record at vm1.
    let all = without_clocks(api.flows(None).unwrap(), ":7311");
    assert!(all.contains(flow), "{all:?}");
    assert!(
        all.iter()
            .any(|f| f.nic == "vm1" && f.direction == "Outbound"),
        "{all:?}"
    );

    // The counters: what the daemon reports, where no traffic moves them.
    let stats = api.stats().unwrap();
    let reference = stats_of(daemon);
    assert_eq!(stats.generation, 1);
    assert_eq!(
        stats.nics.keys().collect::<Vec<_>>(),
        reference.nics.keys().collect::<Vec<_>>()
    );
    assert_eq!(stats.flow_table.capacity, reference.flow_table.capacity);
    assert_eq!(stats.thread_panics, reference.thread_panics);
    assert!(stats.thread_panics.values().all(|&n| n == 0));
    assert_eq!(stats.worker_restarts, 0);
    assert!(stats.load_balancer_backends.is_empty());
    assert!(stats.routing_daemons.is_empty());

    // A diagnosis: the daemon's answer from its own snapshot, both ways.
    let query = Query::NextHop {
        nic: "vm1".into(),
        dst: "10.2.1.4".into(),
    };
    for json in [false, true] {
        assert_eq!(
            api.diagnose(query.clone(), json).unwrap(),
            Diagnosis {
                json,
                output: diagnostics::answer(&daemon.snapshot(), &query, json).unwrap(),
            }
        );
    }

    // Refusals come back as typed errors with the daemon's message.
    assert_eq!(
        api.flows(Some("vm9")),
        Err(refused(
            diagnostics::find_nic(&daemon.snapshot(), "vm9").unwrap_err()
        ))
    );
    assert_eq!(
        api.lb_show("ilb"),
        Err(ClientError::Refused(ApiError::refused(format!(
            "no load balancer named `ilb` in {PREFIX} (load balancers: none)"
        ))))
    );
    assert_eq!(
        api.bgp_peer_status("hub-gw"),
        Err(refused(daemon.bgp_peer_status("hub-gw").unwrap_err()))
    );
    assert_eq!(
        api.diagnose(
            Query::Routes {
                nic: None,
                subnet: None
            },
            false
        ),
        Err(ClientError::Refused(ApiError::usage(
            "routes: give exactly one of --nic and --subnet"
        )))
    );

    // An invalid file: its errors, as the topology reader finds them.
    let broken = common::with_netns_prefix(HUB_SPOKE, PREFIX).replace("10.2.1.4\n", "10.2.1.3\n");
    let errors = vnetd::topology::parse_str("broken.yaml", &broken).unwrap_err();
    assert_eq!(
        api.apply("broken.yaml", &broken, false),
        Err(ClientError::Refused(ApiError {
            kind: ErrorKind::Refused,
            message: format!(
                "broken.yaml: refused, {} errors; the running topology is unchanged",
                errors.len()
            ),
            diagnostics: errors,
        }))
    );
    assert_eq!(daemon.snapshot().generation, 1);
    // The same file again: a new generation, nothing added or re-plumbed.
    let same = common::with_netns_prefix(HUB_SPOKE, PREFIX);
    assert_eq!(
        api.apply("again.yaml", &same, false).unwrap(),
        ApplyOutcome {
            source: "again.yaml".into(),
            generation: 2,
            added: vec![],
            removed: vec![],
            replumbed: vec![],
            changed: vec![],
            rebuilt: vec![],
            file: vec![],
            warnings: vec![],
        }
    );
    assert_eq!(daemon.snapshot().generation, 2);

    // On the wire: one request line, one reply line; an unreadable request
    // is a usage error.
    let mut stream = UnixStream::connect(&socket).unwrap();
    stream.write_all(b"{\"command\":\"reboot\"}\n").unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    assert!(
        line.ends_with('\n') && line.matches('\n').count() == 1,
        "{line}"
    );
    match serde_json::from_str::<Response>(&line).unwrap() {
        Response::Error(e) => {
            assert_eq!(e.kind, ErrorKind::Usage);
            assert!(e.message.starts_with("unreadable request: "), "{e:?}");
        }
        other => panic!("{other:?}"),
    }
    // The bare request answers the same as the client's method.
    assert_eq!(
        client::request(&socket, &Request::RunningTopology).unwrap(),
        Response::RunningTopology(api.running_topology().unwrap())
    );
}

/// Nothing listening: the client says where it looked.
#[test]
fn a_client_without_a_daemon_names_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none.sock");
    match Client::new(&path).stats() {
        Err(ClientError::Unreachable(m)) => assert!(
            m.starts_with(&format!("no running vnetd at {} (", path.display())),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
}
