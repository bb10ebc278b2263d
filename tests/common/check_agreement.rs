//! `vnetd check` (offline, the compiled tables with what BGP is predicted
//! to learn) against `vnetd verify` (live, real packets in the running
//! lab) on the same file: for every expectation the same verdict, the same
//! path (gateways, load balancers, NICs, in order), the same reason and
//! place of a Deny, and the same leg (request or reply) that failed; for a
//! name (a `resolves` expectation, or a conversation whose `to` is a name)
//! the same status and addresses, Azure DNS's tables against `dig`.
//!
//! One thing may differ and is left out: which backend a load balancer's
//! hash chose, and which appliance a Route Server's ECMP routes chose.
//! The trace hashes a packet from port 32768 (and an ICMP identifier of
//! its own), a probe leaves from a port its kernel picks, and a backend
//! the lab's health probes find down is skipped live; a backend right
//! after its load balancer in a path is compared as "a backend of" it, an
//! appliance that peers with a Route Server as "an appliance of" it.
//! Which appliance each flow takes is held exactly by the Route Server's
//! own lab test, flow by flow.

use super::Lab;
use serde_json::Value;
use vnetd::topology::parse_str;

/// An outcome as compared: result, reason, place, path, reply, and the
/// addresses of a name's answer.
type Found = (
    String,
    Option<String>,
    Option<String>,
    Vec<String>,
    bool,
    Option<Vec<String>>,
);

/// `outcome` with each load balancer's chosen backend named by its pool.
fn found(outcome: &Value, pools: &[(String, Vec<String>)]) -> Found {
    let text = |key: &str| outcome[key].as_str().map(str::to_string);
    let via: Vec<String> = outcome["via"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let via = via
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let balanced_by = i.checked_sub(1).and_then(|p| {
                pools
                    .iter()
                    .find(|(lb, nics)| *lb == via[p] && nics.contains(name))
            });
            match balanced_by {
                Some((lb, _)) => format!("a backend of {lb}"),
                None => match pools
                    .iter()
                    .find(|(rs, nics)| rs.starts_with("route server ") && nics.contains(name))
                {
                    Some((rs, _)) => format!("an appliance of {rs}"),
                    None => name.clone(),
                },
            }
        })
        .collect();
    (
        text("result").unwrap(),
        text("reason"),
        text("at"),
        via,
        outcome["reply"].as_bool().unwrap(),
        outcome["addresses"].as_array().map(|list| {
            list.iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect()
        }),
    )
}

/// Runs `vnetd check --json` on `text` and `vnetd verify --json` on the
/// lab (which runs `text`), and asserts that both found the same for every
/// expectation; returns verify's report.
pub fn assert_verify_agrees_with_check(lab: &mut Lab, text: &str) -> Value {
    let topology = parse_str("running.yaml", text).unwrap().topology;
    let pools: Vec<(String, Vec<String>)> = topology
        .load_balancers
        .iter()
        .map(|lb| {
            let nics = lb.pools.iter().flat_map(|p| &p.nics);
            let names = nics.map(|n| topology.nics[*n].name.clone()).collect();
            (lb.name.clone(), names)
        })
        .chain(topology.route_servers.iter().map(|rs| {
            let names = rs.bgp_connections.iter().filter_map(|c| c.nic);
            let names = names.map(|n| topology.nics[n].name.clone()).collect();
            (format!("route server {}", rs.name), names)
        }))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("running.yaml");
    std::fs::write(&file, text).unwrap();
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .arg("check")
        .arg(&file)
        .arg("--json")
        .output()
        .unwrap();
    let socket = lab.serve_control();
    // As the docs' CI recipe does: the lab's BGP may still be learning.
    let verify = super::vnetd_command(&socket)
        .args(["verify", "--json", "--wait", "120"])
        .output()
        .unwrap();
    let report = |out: &std::process::Output, what: &str| -> Value {
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{what}: {e}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    };
    let (offline, live) = (report(&check, "check"), report(&verify, "verify"));
    let rows = |r: &Value| r["expectations"].as_array().unwrap().clone();
    let (offline_rows, live_rows) = (rows(&offline), rows(&live));
    assert_eq!(offline_rows.len(), topology.expectations.len());
    assert_eq!(live_rows.len(), offline_rows.len());
    let differences: Vec<String> = offline_rows
        .iter()
        .zip(&live_rows)
        .filter_map(|(c, v)| {
            let (by_check, by_verify) =
                (found(&c["observed"], &pools), found(&v["observed"], &pools));
            (by_check != by_verify).then(|| {
                format!(
                    "{}: check found {by_check:?}, verify {by_verify:?} ({})",
                    c["name"], v["message"]
                )
            })
        })
        .collect();
    assert!(
        differences.is_empty(),
        "check and verify disagree:\n{}",
        differences.join("\n")
    );
    live
}

/// `vnetd verify` on the running example, through the control socket the
/// lab serves for it: every expectation of its file holds with real
/// packets, and `vnetd check` of the same file found the same verdicts,
/// paths and Deny places on the compiled tables.
pub fn verify_live(lab: &mut Lab) {
    let text = lab.daemon().snapshot().topology.text.to_string();
    let report = assert_verify_agrees_with_check(lab, &text);
    assert_eq!(report["failed"], 0, "{report:#}");
    assert!(report["passed"].as_u64().unwrap() > 0, "{report:#}");
    // And every name the lab knows, from every NIC, as `vnetd resolve`
    // answers it offline.
    crate::common::names_agreement::assert_names_live_equal_offline(lab);
}

/// Every record of the firewall's network rule log under `dir`.
pub fn firewall_log(dir: &std::path::Path) -> Vec<serde_json::Value> {
    firewall_table(dir, "insights-logs-azfwnetworkrule")
}

/// Every record of a firewall log's `container` (one per table,
/// `insights-logs-azfwnatrule`) under `dir`.
pub fn firewall_table(dir: &std::path::Path, container: &str) -> Vec<serde_json::Value> {
    let mut files = Vec::new();
    let mut stack = vec![dir.join(container)];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "PT1H.json") {
                files.push(path);
            }
        }
    }
    files
        .iter()
        .filter_map(|f| std::fs::read(f).ok())
        .filter_map(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .flat_map(|v| v["records"].as_array().cloned().unwrap_or_default())
        .collect()
}
