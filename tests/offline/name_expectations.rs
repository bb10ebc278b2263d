//! Names as destinations and `resolves` expectations, offline, through the
//! real binary on `config/private-endpoints.yaml`:
//!
//! - `trace --to NAME` prints how the sender's Azure DNS resolves the name,
//!   then exactly the trace to its first address (table and JSON);
//! - where vnetd cannot know the answer offline (an on-premises host, a NIC
//!   that asks custom servers, a forwarding rule) or the name has no
//!   address, the trace is refused and says why;
//! - `check` judges `resolves` expectations against Azure DNS's answer,
//!   and conversations to a name against the trace to its first address,
//!   with exact failure messages; one only a running lab can decide is
//!   reported apart, as live only, with its reason, and fails only with
//!   `--strict`;
//! - a `resolves` expectation with a packet's keys, or whose `to` or
//!   `result` cannot be an answer's, is refused at its line.

use crate::diagnostics_cli::{json_of, vnetd};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const EXAMPLE: &str = "config/private-endpoints.yaml";
const NAME: &str = "stcontoso.blob.core.windows.net";

/// Why `corp-is-forwarded` is live only.
const FORWARDED: &str = "Azure DNS of VNet spoke1 sends app.corp.contoso.com on to \
                         192.168.1.10:53 (forwarding rule corp of ruleset onprem): vnetd cannot \
                         know that server's answer offline";

/// Why a question of the laptop is live only.
const ASKS_BIND: &str = "on-premises host laptop asks 192.168.1.10 for \
                         stcontoso.blob.core.windows.net, not Azure DNS: vnetd cannot know that \
                         server's answer offline";

/// What `check` says on stderr of an expectation of `path` that is live
/// only.
fn live_note(path: &str, name: &str, why: &str) -> String {
    format!(
        "{path}: expectation `{name}` is live only (`vnetd verify` and `vnetd ci` test it): {why}"
    )
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The example without its expectations.
fn example_without_expectations() -> String {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(EXAMPLE)).unwrap();
    let start = text.find("\nexpectations:\n").unwrap();
    let end = text.find("\nvnets:\n").unwrap();
    format!("{}{}", &text[..start + 1], &text[end + 1..])
}

fn write(dir: &Path, name: &str, yaml: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, yaml).unwrap();
    path
}

fn trace(args: &[&str]) -> std::process::Output {
    let mut all = vec!["trace", "--config", EXAMPLE];
    all.extend_from_slice(args);
    vnetd(&all)
}

#[test]
fn a_trace_to_a_name_shows_its_resolution_then_the_trace_to_its_first_address() {
    let by_name = trace(&[
        "--from",
        "vm1",
        "--to",
        NAME,
        "--protocol",
        "Tcp",
        "--port",
        "80",
    ]);
    assert_eq!(by_name.status.code(), Some(0), "{}", text(&by_name.stderr));
    let by_name = text(&by_name.stdout);
    let by_address = text(&trace(&["--from", "vm1", "--to", "10.0.3.4", "--port", "80"]).stdout);
    let resolution = "\
vm1 (VNet spoke1) asks Azure DNS (168.63.129.16) for stcontoso.blob.core.windows.net A: NOERROR, 10.0.3.4
STEP  NAME                                         ANSWERED BY                                                                                                               RESULT
----  -------------------------------------------  ------------------------------------------------------------------------------------------------------------------------  ----------------------------------------------------
1     stcontoso.blob.core.windows.net              public name of stcontoso (blob)                                                                                           CNAME to stcontoso.privatelink.blob.core.windows.net
2     stcontoso.privatelink.blob.core.windows.net  Private DNS zone privatelink.blob.core.windows.net (link spoke1), written by endpoint pe-stcontoso-blob's DNS zone group  1 A record
";
    // The resolution, then the address's own trace, its first line naming
    // the name too.
    let expected = resolution.to_string()
        + &by_address.replacen(
            "to 10.0.3.4, Tcp port 80:",
            "to 10.0.3.4 (stcontoso.blob.core.windows.net), Tcp port 80:",
            1,
        );
    assert_eq!(by_name, expected);
    assert!(
        by_name.contains("Verdict: Allow, delivered to pe-stcontoso-blob, the reply to vm1\n"),
        "{by_name}"
    );

    // From the unlinked VNet: the public face, where the trace finds no way.
    let public = text(&trace(&["--from", "vm3", "--to", NAME, "--port", "80"]).stdout);
    assert!(
        public.starts_with(
            "vm3 (VNet partner) asks Azure DNS (168.63.129.16) for \
             stcontoso.blob.core.windows.net A: NOERROR, 198.18.0.10\n"
        ),
        "{public}"
    );
    assert!(
        public.contains(
            "\n2     stcontoso.privatelink.blob.core.windows.net  public name of stcontoso (blob)"
        ),
        "{public}"
    );
    assert!(
        public.contains(
            "Trace from vm3 (10.9.1.4) to 198.18.0.10 (stcontoso.blob.core.windows.net), Tcp port 80:\n"
        ),
        "{public}"
    );
}

#[test]
fn a_trace_to_a_name_carries_its_resolution_in_json() {
    let mut by_name = json_of(&[
        "trace", "--config", EXAMPLE, "--from", "vm1", "--to", NAME, "--port", "80", "--json",
    ]);
    let by_address = json_of(&[
        "trace", "--config", EXAMPLE, "--from", "vm1", "--to", "10.0.3.4", "--port", "80", "--json",
    ]);
    let resolution = by_name.as_object_mut().unwrap().remove("resolution");
    assert_eq!(
        resolution,
        Some(json!({
            "name": "stcontoso.blob.core.windows.net",
            "type": "A",
            "vnet": "spoke1",
            "server": "168.63.129.16",
            "status": "NOERROR",
            "addresses": ["10.0.3.4"],
            "chain": [
                {"name": "stcontoso.blob.core.windows.net",
                 "source": {"kind": "public_names", "resource": "stcontoso (blob)"},
                 "result": {"kind": "cname", "target": "stcontoso.privatelink.blob.core.windows.net"}},
                {"name": "stcontoso.privatelink.blob.core.windows.net",
                 "source": {"kind": "zone", "zone": "privatelink.blob.core.windows.net",
                            "link": "spoke1", "resolution_policy": "Default",
                            "origin": {"kind": "zone_group", "endpoint": "pe-stcontoso-blob"}},
                 "result": {"kind": "records", "count": 1}}
            ]
        }))
    );
    // The rest is the trace to the address.
    assert_eq!(by_name, by_address);
    assert!(by_address.get("resolution").is_none());
}

#[test]
fn a_trace_to_a_name_vnetd_cannot_resolve_offline_is_refused_with_why() {
    let dir = tempfile::tempdir().unwrap();
    let custom = example_without_expectations().replace(
        "{name: vm3, subnet: partner/app, private_ip_address: 10.9.1.4}",
        "{name: vm3, subnet: partner/app, private_ip_address: 10.9.1.4, dns_servers: [10.0.2.4]}",
    );
    let custom = write(dir.path(), "custom.yaml", &custom);
    let custom = custom.to_str().unwrap();
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            EXAMPLE,
            "laptop",
            NAME,
            "--to stcontoso.blob.core.windows.net: on-premises host laptop asks 192.168.1.10 \
             for stcontoso.blob.core.windows.net, not Azure DNS: vnetd cannot know that \
             server's answer offline",
        ),
        (
            custom,
            "vm3",
            NAME,
            "--to stcontoso.blob.core.windows.net: vm3 asks 10.0.2.4 (the NIC's dns_servers) \
             for stcontoso.blob.core.windows.net, not Azure DNS: vnetd cannot know that \
             server's answer offline",
        ),
        (
            EXAMPLE,
            "vm1",
            "App.Corp.Contoso.com.",
            "--to App.Corp.Contoso.com.: Azure DNS of VNet spoke1 sends app.corp.contoso.com on \
             to 192.168.1.10:53 (forwarding rule corp of ruleset onprem): vnetd cannot know \
             that server's answer offline",
        ),
        (
            EXAMPLE,
            "vm1",
            "nosuch.contoso.internal",
            "--to nosuch.contoso.internal: nosuch.contoso.internal has no address in VNet \
             spoke1's view: Azure DNS answers NXDOMAIN",
        ),
        (
            EXAMPLE,
            "vm1",
            "vm9",
            "--to: `vm9` is neither an address, a NIC or on-premises host of \
             config/private-endpoints.yaml (there are: shared1, vm1, vm2, vm3, dc1, laptop), \
             nor a DNS name of two labels or more",
        ),
    ];
    for (config, from, to, message) in cases {
        let out = vnetd(&[
            "trace", "--config", config, "--from", from, "--to", to, "--port", "80",
        ]);
        assert_eq!(out.status.code(), Some(1), "{from} -> {to}");
        assert_eq!(text(&out.stdout), "", "{from} -> {to}");
        assert_eq!(text(&out.stderr).trim_end(), *message, "{from} -> {to}");
    }
}

/// `vnetd check --json` of `yaml` (in `dir`): the exit code, the report,
/// and stderr.
fn check(dir: &Path, yaml: &str) -> (Option<i32>, Value, String, String) {
    let path = write(dir, "names.yaml", yaml);
    let path = path.to_str().unwrap().to_string();
    let out = vnetd(&["check", &path, "--json"]);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)));
    (out.status.code(), report, text(&out.stderr), path)
}

#[test]
fn resolves_expectations_hold_or_fail_with_what_was_found() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = example_without_expectations()
        + "
expectations:
  - {name: vm1-gets-the-endpoint, from: vm1, resolves: stcontoso.blob.core.windows.net, to: [10.0.3.4]}
  - {name: vm3-gets-the-public-face, from: vm3, resolves: StContoso.Blob.Core.Windows.Net., to: 198.18.0.10}
  - {name: no-such-name, from: vm1, resolves: nosuch.privatelink.blob.core.windows.net, to: []}
  - {name: the-name-exists, from: vm1, resolves: shared.contoso.internal, result: NOERROR}
  - {name: nodata, from: vm1, resolves: contoso.internal, to: [], result: noerror}
  - {name: vm1-reaches-it-by-name, from: vm1, to: stcontoso.blob.core.windows.net, protocol: Tcp, port: 80, result: Allow, via: [hub-fw]}
  - {name: vm3-gets-the-endpoint, from: vm3, resolves: stcontoso.blob.core.windows.net, to: [10.0.3.4]}
  - {name: vm1-gets-nothing, from: vm1, resolves: stcontoso.blob.core.windows.net, result: NXDOMAIN}
  - {name: two-addresses, from: vm1, resolves: stcontoso.blob.core.windows.net, to: [10.0.3.5, 10.0.3.4]}
  - {name: corp-is-forwarded, from: vm1, resolves: app.corp.contoso.com, to: [192.168.1.20]}
  - {name: the-laptop-asks-bind, from: laptop, resolves: stcontoso.blob.core.windows.net, to: [10.0.3.4]}
  - {name: vm3-reaches-the-public-face, from: vm3, to: stcontoso.blob.core.windows.net, protocol: Tcp, port: 80, result: Allow}
  - {name: vm1-reaches-nothing, from: vm1, to: nosuch.contoso.internal, protocol: Icmp, result: Allow}
";
    let (code, report, stderr, path) = check(dir.path(), &yaml);
    assert_eq!(code, Some(1));
    let rows = report["expectations"].as_array().unwrap();
    let verdicts: Vec<(&str, bool)> = rows
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["passed"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("vm1-gets-the-endpoint", true),
            ("vm3-gets-the-public-face", true),
            ("no-such-name", true),
            ("the-name-exists", true),
            ("nodata", true),
            // The route to the endpoint's /32 bypasses the firewall.
            ("vm1-reaches-it-by-name", false),
            ("vm3-gets-the-endpoint", false),
            ("vm1-gets-nothing", false),
            ("two-addresses", false),
            // Live only: passed, with why only a running lab can tell.
            ("corp-is-forwarded", true),
            ("the-laptop-asks-bind", true),
            ("vm3-reaches-the-public-face", false),
            ("vm1-reaches-nothing", false),
        ]
    );
    let failed = |name: &str, why: &str| format!("{path}: expectation `{name}` failed: {why}");
    assert_eq!(
        stderr.lines().map(str::to_string).collect::<Vec<_>>(),
        [
            live_note(&path, "corp-is-forwarded", FORWARDED),
            live_note(&path, "the-laptop-asks-bind", ASKS_BIND),
            failed("vm1-reaches-it-by-name", "did not cross hub-fw"),
            failed(
                "vm3-gets-the-endpoint",
                "expected 10.0.3.4, found 198.18.0.10"
            ),
            failed("vm1-gets-nothing", "expected NXDOMAIN, found 10.0.3.4"),
            failed(
                "two-addresses",
                "expected 10.0.3.4, 10.0.3.5, found 10.0.3.4"
            ),
            failed(
                "vm3-reaches-the-public-face",
                "expected Allow, found Deny (next_hop_internet at vm3)"
            ),
            failed(
                "vm1-reaches-nothing",
                "nosuch.contoso.internal has no address in VNet spoke1's view: Azure DNS \
                 answers NXDOMAIN"
            ),
        ]
    );
    // The rows, as JSON: a name's answer, and the address a conversation
    // to a name went to.
    let row = |name: &str| rows.iter().find(|r| r["name"] == name).unwrap().clone();
    let mut vm3 = row("vm3-gets-the-endpoint");
    vm3.as_object_mut().unwrap().remove("message");
    assert_eq!(
        vm3,
        json!({
            "name": "vm3-gets-the-endpoint", "from": "vm3",
            "to": "stcontoso.blob.core.windows.net", "protocol": "DNS", "port": null,
            "expected": {"result": "NOERROR", "addresses": ["10.0.3.4"], "reason": null,
                         "at": null, "via": [], "reply": false},
            "observed": {"result": "NOERROR", "addresses": ["198.18.0.10"], "reason": null,
                         "at": null, "via": [], "reply": false},
            "passed": false
        })
    );
    assert_eq!(
        row("vm3-gets-the-public-face")["to"],
        "stcontoso.blob.core.windows.net"
    );
    assert_eq!(
        row("no-such-name")["observed"],
        json!({"result": "NXDOMAIN", "addresses": [], "reason": null, "at": null, "via": [],
               "reply": false})
    );
    assert_eq!(row("the-name-exists")["expected"].get("addresses"), None);
    assert_eq!(row("corp-is-forwarded")["observed"]["result"], "Undecided");
    assert_eq!(row("corp-is-forwarded")["live_only"], FORWARDED);
    assert_eq!(row("corp-is-forwarded")["message"], "");
    assert_eq!(row("vm1-reaches-nothing").get("live_only"), None);
    assert_eq!(
        (&report["passed"], &report["failed"], &report["live_only"]),
        (&json!(5), &json!(6), &json!(2))
    );
    let by_name = row("vm1-reaches-it-by-name");
    assert_eq!(by_name["to"], "stcontoso.blob.core.windows.net");
    assert_eq!(
        by_name["observed"],
        json!({"result": "Allow", "addresses": ["10.0.3.4"], "reason": null, "at": null,
               "via": ["pe-stcontoso-blob"], "reply": false})
    );
    assert_eq!(
        row("vm1-reaches-nothing")["observed"],
        json!({"result": "NXDOMAIN", "addresses": [], "reason": null, "at": null, "via": [],
               "reply": false})
    );

    // The table: the answer beside what was expected, the address a
    // conversation to a name went to in its path.
    let out = vnetd(&["check", &path]);
    let table = text(&out.stdout);
    let line = |name: &str| {
        table
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| panic!("no row {name} in\n{table}"))
    };
    assert_eq!(
        line("vm3-gets-the-endpoint"),
        "FAIL vm3-gets-the-endpoint vm3 -> stcontoso.blob.core.windows.net DNS 10.0.3.4 198.18.0.10"
    );
    assert_eq!(
        line("nodata"),
        "ok nodata vm1 -> contoso.internal DNS NOERROR, no address NOERROR, no address"
    );
    assert_eq!(
        line("vm1-reaches-it-by-name"),
        "FAIL vm1-reaches-it-by-name vm1 -> stcontoso.blob.core.windows.net (10.0.3.4) Tcp 80 \
         Allow via hub-fw Allow via pe-stcontoso-blob"
    );
    assert_eq!(
        line("corp-is-forwarded"),
        "live corp-is-forwarded vm1 -> app.corp.contoso.com DNS 192.168.1.20 Undecided"
    );
    assert!(
        table.ends_with("5 passed, 6 failed, 2 live only\n"),
        "{table}"
    );
}

#[test]
fn the_example_checks_its_names() {
    let (code, report, stderr, _) = check(
        tempfile::tempdir().unwrap().path(),
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(EXAMPLE)).unwrap(),
    );
    assert_eq!(code, Some(0), "{stderr}");
    let names: Vec<(&str, &str, &Value)> = report["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["to"] == NAME)
        .map(|r| {
            (
                r["from"].as_str().unwrap(),
                r["protocol"].as_str().unwrap(),
                &r["observed"]["addresses"],
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("vm1", "DNS", &json!(["10.0.3.4"])),
            ("vm3", "DNS", &json!(["198.18.0.10"])),
            ("vm1", "Tcp", &json!(["10.0.3.4"])),
        ]
    );
}

#[test]
fn broken_resolves_expectations_are_refused_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let base = example_without_expectations();
    let line = base.lines().count() + 3;
    let cases: &[(&str, &str, &str)] = &[
        (
            "protocol",
            "{name: e, from: vm1, resolves: stcontoso.blob.core.windows.net, to: [10.0.3.4], protocol: Tcp}",
            "expectations[e].protocol: `protocol` makes no sense in a `resolves` expectation: it \
             states the answer to a DNS question, not a packet (write a second expectation with \
             `to: NAME` for the conversation)",
        ),
        (
            "port",
            "{name: e, from: vm1, resolves: stcontoso.blob.core.windows.net, to: [10.0.3.4], port: 80}",
            "expectations[e].port: `port` makes no sense in a `resolves` expectation: it states \
             the answer to a DNS question, not a packet (write a second expectation with `to: \
             NAME` for the conversation)",
        ),
        (
            "via",
            "{name: e, from: vm1, resolves: stcontoso.blob.core.windows.net, to: [10.0.3.4], via: [vm2]}",
            "expectations[e].via: `via` makes no sense in a `resolves` expectation: it states \
             the answer to a DNS question, not a packet (write a second expectation with `to: \
             NAME` for the conversation)",
        ),
        (
            "reason",
            "{name: e, from: vm1, resolves: stcontoso.blob.core.windows.net, result: NXDOMAIN, reason: nsg_inbound}",
            "expectations[e].reason: `reason` makes no sense in a `resolves` expectation: it \
             states the answer to a DNS question, not a packet (write a second expectation with \
             `to: NAME` for the conversation)",
        ),
        (
            "to-a-name",
            "{name: e, from: vm1, resolves: stcontoso.blob.core.windows.net, to: [stcontoso.privatelink.blob.core.windows.net]}",
            "expectations[e].to[0]: `stcontoso.privatelink.blob.core.windows.net` is not an \
             address: a `resolves` expectation's `to` lists the addresses the answer ends at",
        ),
        (
            "allow",
            "{name: e, from: vm1, resolves: stcontoso.blob.core.windows.net, result: Allow}",
            "expectations[e].result: `Allow` is not a DNS status: a `resolves` expectation's \
             `result` is one of NOERROR, NXDOMAIN, SERVFAIL",
        ),
        (
            "nxdomain-with-an-address",
            "{name: e, from: vm1, resolves: stcontoso.blob.core.windows.net, to: [10.0.3.4], result: NXDOMAIN}",
            "expectations[e].result: an answer with status NXDOMAIN holds no address: `to` must \
             be `[]` or left out",
        ),
        (
            "nothing-stated",
            "{name: e, from: vm1, resolves: stcontoso.blob.core.windows.net}",
            "expectations[e]: a `resolves` expectation needs `to` (the addresses the answer ends \
             at, `[]` for none) or `result` (NOERROR, NXDOMAIN or SERVFAIL)",
        ),
        (
            "not-a-name",
            "{name: e, from: vm1, resolves: \"stcontoso blob\", to: []}",
            "expectations[e].resolves: `stcontoso blob` is not a DNS name: `stcontoso blob` is \
             not a label of 1 to 63 letters, digits, `-` or `_`",
        ),
        (
            "to-not-a-name",
            "{name: e, from: vm1, to: \"stcontoso..windows.net\", protocol: Icmp, result: Allow}",
            "expectations[e].to: `stcontoso..windows.net` is not a DNS name: `` is not a label \
             of 1 to 63 letters, digits, `-` or `_`",
        ),
    ];
    for (name, item, message) in cases {
        let yaml = format!("{base}\nexpectations:\n  - {item}\n");
        let path = write(dir.path(), &format!("{name}.yaml"), &yaml);
        let out = vnetd(&["check", path.to_str().unwrap()]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        let expected = format!("{}:{line}: error: {message}", path.display());
        assert!(
            stderr.lines().any(|l| l == expected),
            "{name}: expected\n{expected}\nin:\n{stderr}"
        );
    }
}

#[test]
fn expectations_only_a_running_lab_can_decide_fail_check_only_when_strict() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = example_without_expectations()
        + "
expectations:
  - {name: vm1-gets-the-endpoint, from: vm1, resolves: stcontoso.blob.core.windows.net, to: [10.0.3.4]}
  - {name: corp-is-forwarded, from: vm1, resolves: app.corp.contoso.com, to: [192.168.1.20]}
  - {name: the-laptop-reaches-it-by-name, from: laptop, to: stcontoso.blob.core.windows.net, protocol: Tcp, port: 80, result: Allow}
";
    let path = write(dir.path(), "live.yaml", &yaml);
    let path = path.to_str().unwrap();
    // Without --strict: exit 0, the two apart in the table and the count,
    // a note each on stderr.
    let out = vnetd(&["check", path]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let results: Vec<&str> = table
        .lines()
        .skip_while(|l| !l.starts_with("------"))
        .skip(1)
        .take_while(|l| !l.contains(" passed, "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(results, ["ok", "live", "live"], "{table}");
    assert!(
        table.ends_with("\n1 passed, 0 failed, 2 live only\n"),
        "{table}"
    );
    assert_eq!(
        text(&out.stderr).lines().collect::<Vec<_>>(),
        [
            live_note(path, "corp-is-forwarded", FORWARDED),
            live_note(path, "the-laptop-reaches-it-by-name", ASKS_BIND),
        ]
    );
    // The JSON: the same rows, each live-only one saying why.
    let json = vnetd(&["check", path, "--json"]);
    assert_eq!(json.status.code(), Some(0));
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        (&report["passed"], &report["failed"], &report["live_only"]),
        (&json!(1), &json!(0), &json!(2))
    );
    let live_only: Vec<&Value> = report["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["live_only"])
        .collect();
    assert_eq!(
        live_only,
        [&Value::Null, &json!(FORWARDED), &json!(ASKS_BIND)]
    );
    // With --strict: the same report, exit 1, each named as refused.
    let strict = vnetd(&["check", path, "--json", "--strict"]);
    assert_eq!(strict.status.code(), Some(1));
    assert_eq!(strict.stdout, json.stdout);
    let refused = |name: &str, why: &str| {
        format!("{path}: expectation `{name}` is live only, which --strict refuses: {why}")
    };
    assert_eq!(
        text(&strict.stderr).lines().collect::<Vec<_>>(),
        [
            refused("corp-is-forwarded", FORWARDED),
            refused("the-laptop-reaches-it-by-name", ASKS_BIND),
        ]
    );
    // A source with no server to ask fails, strict or not: a running lab
    // has no answer for it either.
    let no_server = yaml.replace(
        "  - {name: corp-is-forwarded, from: vm1,",
        "  - {name: dc1-asks-nobody, from: dc1, resolves: app.corp.contoso.com, to: \
         [192.168.1.20]}\n  - {name: corp-is-forwarded, from: vm1,",
    );
    let path = write(dir.path(), "nobody.yaml", &no_server);
    let out = vnetd(&["check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).ends_with("\n1 passed, 1 failed, 2 live only\n"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains(&format!(
            "{}: expectation `dc1-asks-nobody` failed: on-premises host dc1 has no DNS server \
             (`dns_servers`) to ask for app.corp.contoso.com",
            path.display()
        )),
        "{}",
        text(&out.stderr)
    );
}
