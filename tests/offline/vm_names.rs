//! A VM's name stands for its primary NIC (its first) wherever a user
//! names a conversation's end: `trace --from`, `resolve --nic`, an
//! expectation's `from` and `to`; a NIC's own name wins over a VM's. An
//! on-premises host asks its own servers: `resolve --nic HOST` says whom,
//! and that vnetd cannot know the answer offline (exit 3; a running lab
//! asks them from the host's namespace, in `e2e_dns`).

use std::process::Command;

const LAB: &str = "vnets:
  - name: vn
    address_space: [10.1.0.0/16]
    subnets:
      - {name: app, address_prefixes: [10.1.1.0/24]}
network_interfaces:
  - {name: web-nic-1, subnet: vn/app, private_ip_address: 10.1.1.4}
  - {name: web-nic-2, subnet: vn/app, private_ip_address: 10.1.1.5}
  - {name: db-nic, subnet: vn/app, private_ip_address: 10.1.1.6}
  - {name: db, subnet: vn/app, private_ip_address: 10.1.1.7}
virtual_machines:
  - {name: web, size: Standard_D2s_v3, network_interfaces: [web-nic-1, web-nic-2]}
  - {name: db, size: Standard_D2s_v3, network_interfaces: [db-nic]}
expectations:
  - {name: web-reaches-db, from: web, to: db, protocol: Tcp, port: 5432, result: Allow, via: [db]}
";

fn vnetd(args: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vms.yaml");
    std::fs::write(&file, LAB).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_vnetd"));
    command.args(args).arg("--config").arg(&file).arg("--json");
    let out = command.output().unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn a_vm_stands_for_its_primary_nic_and_a_nic_name_wins() {
    // The VM `web` sends from its first NIC; `db` is a NIC's own name.
    let traced = vnetd(&[
        "trace", "--from", "web", "--to", "10.1.1.7", "--port", "5432",
    ]);
    assert_eq!(traced["source"], "10.1.1.4", "{traced:#}");
    assert_eq!(traced["delivered_to"], "db", "{traced:#}");
    let resolved = vnetd(&["resolve", "--nic", "web", "web-nic-2.internal.cloudapp.net"]);
    assert_eq!(resolved["vnet"], "vn", "{resolved:#}");
    // The expectation from the VM `web` to `db` (the NIC, 10.1.1.7).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vms.yaml");
    std::fs::write(&file, LAB).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .arg("check")
        .arg(&file)
        .arg("--json")
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["passed"], 1, "{report:#}");
    assert_eq!(
        report["expectations"][0]["observed"]["via"][0], "db",
        "{report:#}"
    );
}

#[test]
fn an_on_premises_host_asks_its_own_servers() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/config/private-endpoints.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .args([
            "resolve",
            "--config",
            file,
            "--nic",
            "laptop",
            "stcontoso.blob.core.windows.net",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["decided"], false, "{answer:#}");
    assert_eq!(answer["server"]["kind"], "host_dns_servers", "{answer:#}");
    assert_eq!(
        answer["server"]["addresses"][0], "192.168.1.10",
        "{answer:#}"
    );
}
