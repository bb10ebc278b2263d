//! `vnetd resolve` through the real binary, offline with `--config`: the
//! example's names from a VM of a linked spoke and from one of an unlinked
//! VNet (golden cases, `tests/golden/resolve/`), its JSON, a NIC that asks
//! custom DNS servers (exit 3), refusals, and the snapshot's name tables.

use crate::common::golden_cases::check_cases;
use crate::diagnostics_cli::{json_of, vnetd};
use serde_json::json;
use vnetd::names::QueryType;
use vnetd::snapshot::Snapshot;

const EXAMPLE: &str = "config/private-endpoints.yaml";

#[test]
fn resolve_golden() {
    check_cases("tests/golden/resolve", |case| {
        let (config, nic) = (case.text("config"), case.text("nic"));
        let mut out = String::new();
        for q in case.list("questions") {
            let name = q.text("name");
            let qtype = q.optional("type").unwrap_or_else(|| "A".into());
            let output = vnetd(&[
                "resolve", "--config", &config, "--nic", &nic, &name, "--type", &qtype,
            ]);
            out += &format!(
                "$ vnetd resolve --nic {nic} {name} --type {qtype}  (exit {})\n{}{}\n",
                output.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
            );
        }
        out
    });
}

#[test]
fn resolve_json_carries_the_answer_and_the_chain() {
    let v = json_of(&[
        "resolve",
        "--config",
        EXAMPLE,
        "--nic",
        "vm1",
        "stcontoso.blob.core.windows.net",
        "--json",
    ]);
    assert_eq!(
        v,
        json!({
            "nic": "vm1",
            "vnet": "spoke1",
            "server": {"kind": "azure_dns", "addresses": ["168.63.129.16"]},
            "decided": true,
            "question": {"name": "stcontoso.blob.core.windows.net", "type": "A"},
            "status": "NOERROR",
            "answers": [
                {"name": "stcontoso.blob.core.windows.net", "ttl": 300, "type": "CNAME",
                 "data": "stcontoso.privatelink.blob.core.windows.net"},
                {"name": "stcontoso.privatelink.blob.core.windows.net", "ttl": 10, "type": "A",
                 "data": "10.0.3.4"},
            ],
            "chain": [
                {"name": "stcontoso.blob.core.windows.net",
                 "source": {"kind": "public_names", "resource": "stcontoso (blob)"},
                 "result": {"kind": "cname", "target": "stcontoso.privatelink.blob.core.windows.net"}},
                {"name": "stcontoso.privatelink.blob.core.windows.net",
                 "source": {"kind": "zone", "zone": "privatelink.blob.core.windows.net",
                            "link": "spoke1", "resolution_policy": "Default",
                            "origin": {"kind": "zone_group", "endpoint": "pe-stcontoso-blob"}},
                 "result": {"kind": "records", "count": 1}},
            ],
            // Offline: no real question was asked.
            "live": null,
        })
    );
}

#[test]
fn a_nic_with_custom_dns_servers_is_not_answered_by_azure_dns() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(EXAMPLE).unwrap().replace(
        "{name: vm3, subnet: partner/app, private_ip_address: 10.9.1.4}",
        "{name: vm3, subnet: partner/app, private_ip_address: 10.9.1.4, dns_servers: [10.0.2.4]}",
    );
    let file = dir.path().join("custom.yaml");
    std::fs::write(&file, text).unwrap();
    let file = file.to_str().unwrap();
    let out = vnetd(&[
        "resolve",
        "--config",
        file,
        "--nic",
        "vm3",
        "stcontoso.blob.core.windows.net",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with(
            "vm3 (VNet partner) asks 10.0.2.4 (the NIC's dns_servers) for stcontoso.blob.core.windows.net A\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("Azure DNS is not asked"), "{stdout}");
    let out = vnetd(&[
        "resolve",
        "--config",
        file,
        "--nic",
        "vm3",
        "stcontoso.blob.core.windows.net",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["server"],
        json!({"kind": "nic_dns_servers", "addresses": ["10.0.2.4"]})
    );
    assert_eq!(
        (v["decided"].clone(), v["status"].clone()),
        (json!(false), json!(null))
    );
    // Its neighbours in the spoke still ask Azure DNS.
    let out = vnetd(&[
        "resolve",
        "--config",
        file,
        "--nic",
        "vm1",
        "vm1.internal.cloudapp.net",
    ]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn resolve_refuses_what_is_not_there() {
    let out = vnetd(&[
        "resolve",
        "--config",
        EXAMPLE,
        "--nic",
        "nope",
        "x.example.com",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no NIC named `nope`"));
    let out = vnetd(&[
        "resolve",
        "--config",
        EXAMPLE,
        "--nic",
        "vm1",
        "x.example.com",
        "--type",
        "NOPE",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--type `NOPE`"));
}

/// The snapshot answers from its topology's names, and keeps its tables
/// for a snapshot of the same topology.
#[test]
fn the_snapshot_holds_the_names_of_its_topology() {
    let text = std::fs::read_to_string(EXAMPLE).unwrap();
    let topology = vnetd::topology::parse_str(EXAMPLE, &text).unwrap().topology;
    let spoke1 = topology.vnets.position(|v| v.name == "spoke1").unwrap();
    let snap = Snapshot::compile(topology, 1);
    let r = snap
        .names
        .resolve(spoke1, "vm1.internal.cloudapp.net", QueryType::A);
    assert_eq!(
        r.addresses(),
        ["10.1.1.4".parse::<std::net::IpAddr>().unwrap()]
    );
    let again = Snapshot::rehealthed(&snap, snap.health.clone(), 2);
    assert!(std::sync::Arc::ptr_eq(&snap.names, &again.names));
    let applied = Snapshot::compile_after(snap.topology.clone(), 3, &snap);
    assert!(!std::sync::Arc::ptr_eq(&snap.names, &applied.names));
}
