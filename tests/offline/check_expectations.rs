//! `vnetd check` tests a file's expectations on the compiled tables,
//! through the real binary: every example lab's expectations hold; a wrong
//! expectation (result, via or reason) exits 1 and is named; a broken one
//! is refused with file, line and reason, like any other topology error.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn vnetd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(dir: &Path, name: &str, yaml: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, yaml).unwrap();
    path
}

fn hub_spoke_without_expectations() -> String {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/hub-spoke.yaml"
    ))
    .unwrap();
    // The block runs from its key to the next top-level key, or to the end.
    let Some(at) = text.find("\nexpectations:\n") else {
        return text;
    };
    let rest = &text[at + 1..];
    let end = rest
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .find(|&i| rest[i..].starts_with(|c: char| c.is_ascii_alphabetic()))
        .unwrap_or(rest.len());
    format!("{}{}", &text[..at + 1], &rest[end..])
}

#[test]
fn every_example_lab_has_expectations_that_hold() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/config");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 21);
    for file in files {
        let path = file.display().to_string();
        let out = vnetd(&["check", &path, "--json"]);
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{path}: {stdout}{}",
            text(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let results = report["expectations"].as_array().unwrap();
        assert!(results.len() >= 2, "{path}: too few expectations");
        assert_eq!(report["failed"], 0, "{path}");
        assert_eq!(report["passed"], results.len(), "{path}");
        assert!(results.iter().all(|r| r["passed"] == true), "{path}");
    }
}

#[test]
fn wrong_expectations_exit_1_and_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = hub_spoke_without_expectations()
        + "
expectations:
  - {name: spokes-talk, from: vm1, to: vm2, protocol: Tcp, port: 443, result: Allow, via: [nva1]}
  - {name: telnet-open, from: vm1, to: vm2, protocol: Tcp, port: 23, result: Allow}
  - {name: through-shared, from: vm1, to: vm2, protocol: Icmp, result: Allow, via: [shared1]}
  - {name: wrong-reason, from: vm1, to: vm2, protocol: Tcp, port: 23, result: Deny, reason: nsg_outbound}
  - {name: telnet-closed, from: vm1, to: vm2, protocol: Tcp, port: 23, result: Deny, reason: nsg_inbound}
";
    let path = write(dir.path(), "wrong.yaml", &yaml);
    let path = path.to_str().unwrap();
    let out = vnetd(&["check", path]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("ok") || l.starts_with("FAIL"))
        .collect();
    let verdicts: Vec<(&str, &str)> = rows
        .iter()
        .map(|l| {
            let mut words = l.split_whitespace();
            (words.next().unwrap(), words.next().unwrap())
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            ("ok", "spokes-talk"),
            ("FAIL", "telnet-open"),
            ("FAIL", "through-shared"),
            ("FAIL", "wrong-reason"),
            ("ok", "telnet-closed"),
        ]
    );
    assert!(stdout.ends_with("2 passed, 3 failed\n"), "{stdout}");
    assert_eq!(
        stderr,
        format!(
            "{path}: expectation `telnet-open` failed: expected Allow, found Deny (nsg_inbound at vm2)\n\
             {path}: expectation `through-shared` failed: did not cross shared1\n\
             {path}: expectation `wrong-reason` failed: expected reason nsg_outbound, found nsg_inbound\n"
        )
    );

    // The same as JSON.
    let out = vnetd(&["check", path, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["passed"].clone(), report["failed"].clone()),
        (2.into(), 3.into())
    );
    let failed: Vec<&str> = report["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["passed"] == false)
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["telnet-open", "through-shared", "wrong-reason"]);
    let open = &report["expectations"][1];
    assert_eq!(open["observed"]["result"], "Deny");
    assert_eq!(open["observed"]["reason"], "nsg_inbound");
    assert_eq!(open["observed"]["at"], "vm2");
    assert_eq!(
        report["expectations"][0]["observed"]["via"],
        serde_json::json!(["nva1", "vm2"])
    );
}

#[test]
fn broken_expectations_are_refused_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let base = hub_spoke_without_expectations();
    let first = base.lines().count() + 3;
    let cases: &[(&str, &str, &str)] = &[
        (
            "unknown-source",
            "  - {name: e, from: vm3, to: vm2, protocol: Icmp, result: Allow}",
            "no NIC or on-premises host named `vm3` in this file; did you mean `vm1`?",
        ),
        (
            "unknown-destination",
            "  - {name: e, from: vm1, to: vm9x, protocol: Icmp, result: Allow}",
            "`vm9x` is neither an address, a NIC or on-premises host of this file, nor a DNS name of two labels or more; did you mean `vm1`?",
        ),
        (
            "icmp-with-port",
            "  - {name: e, from: vm1, to: vm2, protocol: Icmp, port: 7, result: Allow}",
            "ICMP has no port",
        ),
        (
            "tcp-without-port",
            "  - {name: e, from: vm1, to: vm2, protocol: Tcp, result: Allow}",
            "`port` is required with protocol Tcp",
        ),
        (
            "reason-with-allow",
            "  - {name: e, from: vm1, to: vm2, protocol: Icmp, result: Allow, reason: nsg_inbound}",
            "`reason` names why a packet is dropped; it goes with `result: Deny`",
        ),
        (
            "unknown-via",
            "  - {name: e, from: vm1, to: vm2, protocol: Icmp, result: Allow, via: [nva2]}",
            "no NIC, gateway, load balancer, circuit or firewall named `nva2` in this file; did you mean `nva1`?",
        ),
        (
            "unknown-reason",
            "  - {name: e, from: vm1, to: vm2, protocol: Icmp, result: Deny, reason: nsg_inbond}",
            "`nsg_inbond` is not a drop reason; did you mean `nsg_inbound`?",
        ),
        (
            "bad-result",
            "  - {name: e, from: vm1, to: vm2, protocol: Icmp, result: Maybe}",
            "`Maybe` is not one of Allow, Deny",
        ),
        (
            "duplicate-name",
            "  - {name: e, from: vm1, to: vm2, protocol: Icmp, result: Allow}\n  - {name: e, from: vm2, to: vm1, protocol: Icmp, result: Allow}",
            "duplicate expectation name `e`",
        ),
    ];
    for (name, item, message) in cases {
        let yaml = format!("{base}\nexpectations:\n{item}\n");
        let path = write(dir.path(), &format!("{name}.yaml"), &yaml);
        let out = vnetd(&["check", path.to_str().unwrap()]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        let line = if *name == "duplicate-name" {
            first + 1
        } else {
            first
        };
        let located = format!("{}:{line}: error: ", path.display());
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(&located) && l.ends_with(message)),
            "{name}: expected `{located}...{message}` in:\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
}

#[test]
fn a_reply_without_a_route_back_fails_and_is_named() {
    // config/hybrid.yaml with BGP off and a local network gateway without
    // prefixes: the branch's requests reach the VNets, nothing routes the
    // branch's range back.
    let hybrid =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/hybrid.yaml"))
            .unwrap();
    let at = hybrid.find("\nexpectations:\n").unwrap();
    let yaml = hybrid[..at].replace("bgp_enabled: true", "bgp_enabled: false")
        .replace("    bgp_settings: {asn: 65515}\n", "")
        .replace("    bgp_settings: {asn: 65050, bgp_peering_address: 192.168.255.1}\n", "")
        .replace("asn: 65050, bgp_speaker: bird", "bgp_speaker: none")
        + "
expectations:
  - {name: branch-pings-spoke, from: onprem-vm, to: vm1, protocol: Icmp, result: Allow}
  - {name: branch-reaches-hub-ssh, from: onprem-vm, to: hub-vm, protocol: Tcp, port: 22, result: Allow}
";
    assert!(yaml.contains("address_space: []") && !yaml.contains("bgp_enabled: true"));
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "empty-lng.yaml", &yaml);
    let path = path.to_str().unwrap();
    let out = vnetd(&["check", path]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let failures: Vec<String> = text(&out.stderr)
        .lines()
        .filter(|l| l.contains(": expectation `"))
        .map(str::to_string)
        .collect();
    assert_eq!(
        failures,
        [
            format!(
                "{path}: expectation `branch-pings-spoke` failed: expected Allow, found Deny: \
                 reply: no route from 10.1.1.4 to 192.168.1.10 (route_none at vm1)"
            ),
            format!(
                "{path}: expectation `branch-reaches-hub-ssh` failed: expected Allow, found Deny: \
                 reply: no route from 10.0.1.4 to 192.168.1.10 (route_none at hub-vm)"
            ),
        ]
    );
    // The table shows what was found: the request's path, the reply's Deny.
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("Deny (reply: route_none) at vm1 via hub-vpngw > vm1"),
        "{stdout}"
    );
    let out = vnetd(&["check", path, "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let observed = &report["expectations"][0]["observed"];
    assert_eq!(
        observed,
        &serde_json::json!({"result": "Deny", "reason": "route_none", "at": "vm1",
                            "via": ["hub-vpngw", "vm1"], "reply": true})
    );
}
