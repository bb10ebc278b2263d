//! `config/network-manager.yaml`, live: from the Internet, an RDP
//! connection to spoke1's VM meets the security admin rule that denies it
//! although the VM's NSG allows RDP (counted `admin_denied` at the VM,
//! named in the flow log and in the live page's drop feed), while the web
//! port is left to the NSG and answers; the hub's monitoring subnet
//! reaches spoke2's VM through an `AlwaysAllow` rule although its NSG
//! denies the hub (the flow names the admin rule); spokes reach each other
//! over the connected group, with no peering and no appliance, across
//! regions too; with the hub's link to spoke2 taken away by `apply`,
//! spoke2 still reaches the hub, through the connected group. `vnetd
//! verify`'s real packets agree with `check`. Needs root; the suite runs
//! it with the kernel fast path on and off.

use crate::common;

use common::check_agreement::assert_verify_agrees_with_check;
use common::{ping, tcp_echo, wait_for, Lab};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};
use vnetd::daemon::options::FlowLogOptions;
use vnetd::daemon::reporting::report::flows_of;
use vnetd::daemon::RunOptions;
use vnetd::dataplane::DropReason;
use vnetd::host::netns;

const EXAMPLE: &str = include_str!("../../config/network-manager.yaml");
const PREFIX: &str = "exavnm";
const DENY_RDP: &str = "guardrails/internet-edge/deny-rdp-and-ssh-from-the-internet";
const MONITORING: &str = "guardrails/internet-edge/always-allow-monitoring";

/// Whether a TCP connection from `client_ns` to `to` is accepted by a
/// listener on `listen` in `server_ns` (which may be another address:
/// a public IP is translated to the VM's own).
fn connects(client_ns: &str, server_ns: &str, listen: SocketAddr, to: SocketAddr) -> bool {
    let listener = netns::run_in(server_ns, move || Ok(TcpListener::bind(listen)?)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let connected = netns::run_in(client_ns, move || {
        Ok(TcpStream::connect_timeout(
            &to,
            Duration::from_millis(1500),
        )?)
    });
    let deadline = Instant::now() + Duration::from_secs(2);
    let accepted = loop {
        match listener.accept() {
            Ok(_) => break true,
            Err(_) if Instant::now() > deadline || connected.is_err() => break false,
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    connected.is_ok() && accepted
}

/// (rule, tuple) of every flow tuple the flow logs wrote for the security
/// admin rules.
fn admin_tuples(dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path
                .to_string_lossy()
                .contains("/SECURITYADMINCONFIGURATIONS/")
            {
                files.push(path);
            }
        }
    }
    let mut tuples = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        for record in doc["records"].as_array().into_iter().flatten() {
            for rule in record["properties"]["flows"]
                .as_array()
                .into_iter()
                .flatten()
            {
                for mac in rule["flows"].as_array().into_iter().flatten() {
                    for tuple in mac["flowTuples"].as_array().into_iter().flatten() {
                        tuples.push((
                            rule["rule"].as_str().unwrap_or_default().to_string(),
                            tuple.as_str().unwrap_or_default().to_string(),
                        ));
                    }
                }
            }
        }
    }
    tuples
}

#[test]
fn admin_rules_stand_before_the_nsgs_and_the_connected_group_joins_the_spokes() {
    let logs = tempfile::tempdir().unwrap();
    let options = RunOptions {
        flow_log: Some(FlowLogOptions {
            dir: logs.path().to_path_buf(),
            interval: Duration::from_millis(500),
        }),
        drop_events: true,
        ..RunOptions::default()
    };
    let mut lab = Lab::start_with(PREFIX, &common::with_netns_prefix(EXAMPLE, PREFIX), options);
    let drops = lab.daemon().take_drop_events().expect("asked for at start");
    let internet = format!("{}.internet", lab.ns("hub1"));
    let (vm1, vm2) = (lab.ns("vm1"), lab.ns("vm2"));
    let any = |port: u16| -> SocketAddr { format!("0.0.0.0:{port}").parse().unwrap() };
    let public = |port: u16| -> SocketAddr { format!("198.51.100.40:{port}").parse().unwrap() };

    // RDP from the Internet: the NSG allows it, the admin rule does not.
    let denied = lab.stats("vm1").drops_for(DropReason::AdminDenied);
    assert!(!connects(&internet, &vm1, any(3389), public(3389)));
    assert!(lab.stats("vm1").drops_for(DropReason::AdminDenied) > denied);
    assert_eq!(lab.stats("vm1").drops_for(DropReason::NsgInbound), 0);
    // The web port meets no admin rule, and the NSG lets it in.
    assert!(connects(&internet, &vm1, any(80), public(80)));

    // The live page's drop feed names the admin rule.
    let plane = lab.daemon().plane();
    let deadline = Instant::now() + Duration::from_secs(10);
    let seen = loop {
        let Some(event) = drops.next(Duration::from_millis(200)) else {
            assert!(
                Instant::now() < deadline,
                "no drop event for the RDP attempt"
            );
            continue;
        };
        let Some(record) = vnetd::web::drops::record(&plane, &event, String::new()) else {
            continue;
        };
        if record.reason == "admin_denied" {
            break record;
        }
    };
    assert_eq!(seen.nic, "vm1");
    assert_eq!(seen.direction, "inbound");
    assert_eq!(seen.rule_kind, Some("admin"));
    assert_eq!(
        seen.rule.as_deref(),
        Some("deny-rdp-and-ssh-from-the-internet")
    );
    assert!(seen.destination.ends_with(":3389"), "{seen:?}");

    // Monitoring is always allowed into spoke2, whose NSG denies the hub;
    // the rest of the hub is still denied there by that NSG.
    let server: SocketAddr = "10.2.1.4:9100".parse().unwrap();
    assert!(tcp_echo(&lab.ns("mon1"), &vm2, server));
    let by_admin = flows_of(lab.daemon(), Some("vm2"))
        .into_iter()
        .find(|f| f.destination == "10.2.1.4:9100" && f.direction == "Inbound")
        .expect("the monitoring flow is tracked at vm2");
    assert_eq!(
        by_admin.rule.as_deref(),
        Some(format!("securityAdminRules/{MONITORING}").as_str())
    );
    let nsg_denied = lab.stats("vm2").drops_for(DropReason::NsgInbound);
    assert!(!tcp_echo(&lab.ns("hub1"), &vm2, server));
    assert!(lab.stats("vm2").drops_for(DropReason::NsgInbound) > nsg_denied);

    // Spokes reach each other over the connected group, across regions
    // too, and no NIC forwards for them.
    assert!(ping(&vm1, "10.2.1.4"));
    assert!(ping(&vm1, "10.3.1.4"));
    let vm3: SocketAddr = "10.3.1.4:443".parse().unwrap();
    assert!(tcp_echo(&vm2, &lab.ns("vm3"), vm3));

    // The flow log wrote the denied RDP attempt under the admin rule.
    let logged = wait_for(Duration::from_secs(15), || {
        admin_tuples(logs.path()).iter().any(|(rule, tuple)| {
            rule == &format!("SecurityAdminRule_{DENY_RDP}") && tuple.contains(",3389,T,I,D,")
        })
    });
    assert!(logged, "{:#?}", admin_tuples(logs.path()));

    // `verify`'s real packets, both ways, say what `check` says.
    let text = lab.daemon().snapshot().topology.text.to_string();
    let report = assert_verify_agrees_with_check(&mut lab, &text);
    assert_eq!(report["failed"], 0, "{report:#}");
    assert_eq!(report["passed"], 10, "{report:#}");

    // The hub's link to spoke2 goes: spoke2 reaches the hub all the same,
    // through the connected group, and its routes say so.
    let cut = EXAMPLE.replace(
        "  - {name: hub-to-spoke2, virtual_network: hub, remote_virtual_network: spoke2}\n",
        "",
    );
    assert_ne!(cut, EXAMPLE);
    lab.daemon()
        .apply("cut.yaml", &common::with_netns_prefix(&cut, PREFIX))
        .unwrap();
    let snap = lab.daemon().snapshot();
    let vm2_port = snap.port_by_name("vm2").unwrap();
    let hop = snap
        .route(vm2_port, "10.0.1.4".parse().unwrap())
        .unwrap()
        .next_hop_type;
    assert_eq!(hop, vnetd::topology::NextHopType::ConnectedGroup);
    assert!(ping(&vm2, "10.0.1.4"));
    let hub: SocketAddr = "10.0.1.4:443".parse().unwrap();
    assert!(tcp_echo(&vm2, &lab.ns("hub1"), hub));
}
