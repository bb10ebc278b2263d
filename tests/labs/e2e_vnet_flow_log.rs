//! VNet flow logs, live, on `config/network-manager.yaml`, whose
//! `spoke1-flows` logs spoke1: from the Internet's 203.0.113.10, an HTTP
//! connection to vm1's public IP that its NSG admits and an RDP attempt
//! the security admin rule denies (although the NSG allows it) land in
//! the same version 4 records of spoke1's flow log for vm1's MAC, each
//! under what decided it (the NSG, or the admin rules) with the rule,
//! both with vm1's private address as the destination, as the NSG flow
//! log shows them too. vm2, in spoke2, has no flow log and appears in
//! none. Needs root.

use crate::common;

use common::servers::EchoServer;
use common::{wait_for, Lab};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use vnetd::daemon::reporting::flow_log::mac_of_port;
use vnetd::daemon::reporting::flow_log::vnet::acl_id;

const EXAMPLE: &str = include_str!("../../config/network-manager.yaml");
const PREFIX: &str = "vnflog";
const DENY_RDP: &str =
    "SecurityAdminRule_guardrails/internet-edge/deny-rdp-and-ssh-from-the-internet";
const ADMIN: &str = "SecurityAdminConfigurations";

/// The documents of every `PT1H.json` under `dir`.
fn documents(dir: &Path) -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.ends_with("PT1H.json") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                if let Ok(doc) = serde_json::from_str::<Value>(&text) {
                    out.push((path, doc));
                }
            }
        }
    }
    out
}

/// Every VNet flow log record under `dir`.
fn vnet_records(dir: &Path) -> Vec<Value> {
    documents(&dir.join("insights-logs-flowlogflowevent"))
        .into_iter()
        .flat_map(|(_, doc)| doc["records"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// (aclID, rule, tuple without its time) of every tuple of `records`
/// from `source`.
fn tuples_from(records: &[Value], source: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for record in records {
        for acl in record["flowRecords"]["flows"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for group in acl["flowGroups"].as_array().into_iter().flatten() {
                for tuple in group["flowTuples"].as_array().into_iter().flatten() {
                    let tuple = tuple.as_str().unwrap_or_default();
                    let (_, rest) = tuple.split_once(',').unwrap_or_default();
                    if rest.starts_with(&format!("{source},")) {
                        out.push((
                            acl["aclID"].as_str().unwrap_or_default().to_string(),
                            group["rule"].as_str().unwrap_or_default().to_string(),
                            rest.to_string(),
                        ));
                    }
                }
            }
        }
    }
    out.sort();
    out
}

/// What `curl` from the Internet's 203.0.113.10 (source port `port`) to
/// vm1's public IP on `to_port` answered; empty when it failed.
fn curl_vm1(internet: &str, port: u16, to_port: u16) -> String {
    let (port, url) = (port.to_string(), format!("http://198.51.100.40:{to_port}/"));
    let args = [
        "curl",
        "-s",
        "-m",
        "2",
        "--interface",
        "203.0.113.10",
        "--local-port",
        &port,
        &url,
    ];
    common::stdout_in(internet, &args).trim().to_string()
}

#[test]
fn admin_rules_and_nsgs_decide_in_the_same_vnet_flow_log_records() {
    let logs = tempfile::tempdir().unwrap();
    let options = common::with_flow_logs(logs.path(), Duration::from_millis(300));
    let lab = Lab::start_with(PREFIX, &common::with_netns_prefix(EXAMPLE, PREFIX), options);
    let internet = format!("{}.internet", lab.ns("hub1"));
    let vm1 = lab.ns("vm1");
    let _web = EchoServer::start(&vm1, 80, None, None);
    let local = || common::stdout_in(&vm1, &["curl", "-s", "-m", "1", "http://127.0.0.1/"]);
    assert!(wait_for(Duration::from_secs(10), || !local().is_empty()));

    assert_eq!(curl_vm1(&internet, 41080, 80), "203.0.113.10");
    assert_eq!(curl_vm1(&internet, 41389, 3389), "");

    let plane = lab.daemon().plane();
    let mac = mac_of_port(plane.ports[plane.snapshot.port_by_name("vm1").unwrap()].serial);
    let denied = "203.0.113.10,10.1.1.4,41389,3389,6,I,D,NX,0,0,0,0".to_string();
    let begun = "203.0.113.10,10.1.1.4,41080,80,6,I,B,NX,0,0,0,0".to_string();
    let ended = "203.0.113.10,10.1.1.4,41080,80,6,I,E,NX,";
    let complete = wait_for(Duration::from_secs(20), || {
        let tuples = tuples_from(&vnet_records(logs.path()), "203.0.113.10");
        tuples.iter().any(|(_, _, t)| t.starts_with(ended))
            && tuples.iter().any(|(_, _, t)| t == &denied)
    });
    let records = vnet_records(logs.path());
    assert!(complete, "{records:#?}");

    // Every record is spoke1's flow log's, for vm1: vm2 has none.
    for record in &records {
        assert_eq!(record["flowLogVersion"], 4);
        assert_eq!(record["category"], "FlowLogFlowEvent");
        assert_eq!(record["operationName"], "FlowLogFlowEvent");
        assert_eq!(record["macAddress"], mac.as_str());
        assert_eq!(record["flowLogGUID"], acl_id("spoke1-flows").as_str());
        assert_eq!(
            record["flowLogResourceID"],
            "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/NETWORKWATCHERRG/PROVIDERS/MICROSOFT.NETWORK/NETWORKWATCHERS/NETWORKWATCHER_WESTEUROPE/FLOWLOGS/SPOKE1-FLOWS"
        );
        assert_eq!(
            record["targetResourceID"],
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/VNETD/providers/Microsoft.Network/virtualNetworks/spoke1"
        );
    }

    // The Internet's three tuples: the admin rule's deny and the NSG's
    // flow, begun and ended, all to vm1's private address. (A deny is
    // logged once per interval: curl's second SYN may fall in the next.)
    let mut tuples = tuples_from(&records, "203.0.113.10");
    tuples.dedup();
    assert_eq!(tuples.len(), 3, "{tuples:#?}");
    let web = (acl_id("app-nsg"), "UserRule_web-from-anywhere".to_string());
    assert!(
        tuples.contains(&(acl_id(ADMIN), DENY_RDP.to_string(), denied.clone())),
        "{tuples:#?}"
    );
    assert!(
        tuples.contains(&(web.0.clone(), web.1.clone(), begun)),
        "{tuples:#?}"
    );
    let end = tuples
        .iter()
        .find(|(_, _, t)| t.starts_with(ended))
        .unwrap();
    assert_eq!((&end.0, &end.1), (&web.0, &web.1));
    let counts: Vec<u64> = end.2[ended.len()..]
        .split(',')
        .map(|c| c.parse().unwrap())
        .collect();
    assert_eq!(counts.len(), 4, "{end:?}");
    assert!(counts[0] > 0 && counts[2] > 0, "{end:?}");

    // The NSG flow log says the same of both, with the same addresses
    // and, for the ended flow, the same counts.
    // The two logs are written by their own intervals: the NSG log's
    // ended record may land after the VNet log's, so it is waited for.
    let nsg_tuples = || -> Vec<String> {
        documents(logs.path())
            .into_iter()
            .filter(|(path, _)| {
                !path.starts_with(logs.path().join("insights-logs-flowlogflowevent"))
            })
            .flat_map(|(_, doc)| doc["records"].as_array().cloned().unwrap_or_default())
            .flat_map(|r| {
                r["properties"]["flows"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .flat_map(|rule| rule["flows"].as_array().cloned().unwrap_or_default())
            .flat_map(|mac| mac["flowTuples"].as_array().cloned().unwrap_or_default())
            .filter_map(|t| t.as_str().map(|t| t.split_once(',').unwrap().1.to_string()))
            .collect()
    };
    let nsg_end = format!(
        "203.0.113.10,10.1.1.4,41080,80,T,I,A,E,{}",
        counts
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    let nsg_denied = "203.0.113.10,10.1.1.4,41389,3389,T,I,D,B,,,,".to_string();
    wait_for(Duration::from_secs(20), || {
        let tuples = nsg_tuples();
        tuples.contains(&nsg_end) && tuples.contains(&nsg_denied)
    });
    let nsg_tuples = nsg_tuples();
    assert!(nsg_tuples.contains(&nsg_denied), "{nsg_tuples:#?}");
    assert!(nsg_tuples.contains(&nsg_end), "{nsg_tuples:#?}");
}
