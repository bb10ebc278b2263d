//! `config/firewall-application-rules.yaml`, live: a spoke VM leaves
//! through the hub's Azure Firewall, whose application rules judge the
//! name it asks for. `curl https://archive.ubuntu.com/` reaches the lab's
//! Internet from the firewall's public address; `curl
//! https://example.org/` is reset and `curl http://example.org/` answered
//! `470` with Azure's words; the offline and the live `trace` name the
//! same rule; `verify` (which asks by name, as a client does) agrees with
//! `check` on every expectation; and the flows the proxy takes stay in
//! the workers with their reason, while a network rule's flow does not
//! name it. Needs root.

use crate::common;

use common::check_agreement::{assert_verify_agrees_with_check, firewall_log, firewall_table};
use common::Lab;
use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;
use vnetd::daemon::reporting::report::flows_of;

const EXAMPLE: &str = include_str!("../../config/firewall-application-rules.yaml");

/// `curl` in `ns` with `args`: its exit code and what it printed.
fn curl(ns: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "curl", "-s", "-m", "5"])
        .args(args)
        .output()
        .expect("curl runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// `vnetd trace --json` from vm1 to `name`:`port`, offline on `file` or
/// live through `socket`.
fn trace(
    file: Option<&std::path::Path>,
    socket: &std::path::Path,
    name: &str,
    port: &str,
) -> serde_json::Value {
    let mut command = common::vnetd_command(socket);
    command.arg("trace");
    if let Some(file) = file {
        command.arg("--config").arg(file);
    }
    let out = command
        .args(["--from", "vm1", "--to", name, "--port", port, "--json"])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn application_rules_judge_the_name_asked_as_the_firewall_does() {
    let logs = tempfile::tempdir().unwrap();
    let options = common::with_flow_logs(logs.path(), Duration::from_millis(500));
    let text = common::with_netns_prefix(EXAMPLE, "exapp");
    let mut lab = Lab::start_with("exapp", &text, options);
    let vm1 = lab.ns("vm1");

    let (code, page) = curl(&vm1, &["https://archive.ubuntu.com/"]);
    assert_eq!(code, 0, "allowed by egress/allow-updates/ubuntu: {page}");
    assert!(
        page.starts_with("198.51.100.20\n"),
        "the Internet sees the firewall's public address: {page}"
    );
    let (code, _) = curl(&vm1, &["https://github.com/"]);
    assert_eq!(code, 0, "allowed by egress/allow-updates/github");
    let (code, page) = curl(&vm1, &["https://example.org/"]);
    assert_eq!(
        code, 35,
        "no rule matched: the TLS connection is reset: {page}"
    );
    let (code, page) = curl(&vm1, &["-w", "%{http_code}", "http://example.org/"]);
    assert_eq!(code, 0);
    assert_eq!(
        page,
        "Action: Deny. Reason: No rule matched. Proceeding with default action.470"
    );
    let (code, page) = curl(&vm1, &["-w", "%{http_code}", "http://security.ubuntu.com/"]);
    assert_eq!(code, 0);
    assert!(
        page.ends_with("200"),
        "Http:80 is in the ubuntu rule: {page}"
    );

    // Each request judged once, counted by its outcome.
    let names = vnetd::daemon::reporting::report::stats_of(lab.daemon())
        .names
        .unwrap();
    assert_eq!(
        (names.application_allowed, names.application_denied),
        (3, 2),
        "{names:?}"
    );

    assert_logged(logs.path());

    assert_flows(&lab);

    assert_traces(&mut lab, &text);
    assert_verify_agrees_with_check(&mut lab, &text);

    // A policy changed by `apply` holds for the next request, in the
    // firewall's namespace as it was: example.org joins the github rule,
    // with HTTP on 8080, which the namespace now hands the proxy too.
    let changed = text.replacen(
        "protocols: [{type: Https, port: 443}], source_addresses: [10.1.0.0/16], destination_fqdns: [github.com]}",
        "protocols: [{type: Https, port: 443}, {type: Http, port: 8080}], source_addresses: [10.1.0.0/16], destination_fqdns: [github.com, example.org]}",
        1,
    );
    assert_ne!(changed, text);
    let outcome = lab.daemon().apply("changed.yaml", &changed).unwrap();
    assert!(outcome.replumbed.is_empty(), "{outcome:?}");
    assert!(
        outcome
            .changed
            .contains(&"hub-fw: what its application rules take".to_string()),
        "{outcome:?}"
    );
    let (code, page) = curl(&vm1, &["https://example.org/"]);
    assert_eq!(
        code, 0,
        "allowed by egress/allow-updates/github now: {page}"
    );
    // Nothing listens on 8080 in the Internet: the proxy's onward
    // connection is refused, and it resets the client's.
    let unreachable = vnetd::daemon::reporting::report::stats_of(lab.daemon())
        .names
        .unwrap()
        .application_unreachable;
    let (code, _) = curl(&vm1, &["http://example.org:8080/"]);
    assert_eq!(code, 56, "reset once the onward connection failed");
    let names = vnetd::daemon::reporting::report::stats_of(lab.daemon())
        .names
        .unwrap();
    assert_eq!(names.application_unreachable, unreachable + 1, "{names:?}");
}

/// Each judgement is a row of the application rule log under `dir`,
/// with the rule or the default action; none is in the network rule log.
fn assert_logged(dir: &std::path::Path) {
    let container = "insights-logs-azfwapplicationrule";
    let logged = common::wait_for(Duration::from_secs(10), || {
        firewall_table(dir, container).len() >= 5
    });
    let rows = firewall_table(dir, container);
    assert!(logged, "{rows:#?}");
    assert_eq!(rows.len(), 5, "{rows:#?}");
    let row = |fqdn: &str, port: u64| -> Value {
        let found = rows
            .iter()
            .find(|r| r["properties"]["Fqdn"] == fqdn && r["properties"]["DestinationPort"] == port)
            .unwrap_or_else(|| panic!("{fqdn}:{port} in {rows:#?}"));
        assert_eq!(found["category"], "AZFWApplicationRule");
        found["properties"].clone()
    };
    let ubuntu = row("archive.ubuntu.com", 443);
    for (column, value) in [
        ("Protocol", json!("HTTPS")),
        ("SourceIp", json!("10.1.1.4")),
        ("Action", json!("Allow")),
        ("Policy", json!("egress-policy")),
        ("RuleCollectionGroup", json!("egress")),
        ("RuleCollection", json!("allow-updates")),
        ("Rule", json!("ubuntu")),
        ("TargetUrl", json!("")),
    ] {
        assert_eq!(ubuntu[column], value, "{column}: {ubuntu:#}");
    }
    let denied = row("example.org", 443);
    assert_eq!(
        (&denied["Action"], &denied["ActionReason"], &denied["Rule"]),
        (&json!("Deny"), &json!("Default Action"), &json!("")),
        "{denied:#}"
    );
    let http = row("security.ubuntu.com", 80);
    assert_eq!(http["Protocol"], "HTTP", "{http:#}");
    assert_eq!(http["TargetUrl"], "http://security.ubuntu.com/", "{http:#}");
    let network = firewall_log(dir);
    assert!(
        network
            .iter()
            .all(|r| r["properties"]["DestinationPort"] != 443
                && r["properties"]["DestinationPort"] != 80),
        "{network:#?}"
    );
}

/// The flows the proxy took stay in the workers and say why (with the
/// fast path on), and are counted alike at vm1 and the firewall; a
/// network rule's flow is an ordinary one.
fn assert_flows(lab: &Lab) {
    let vm1 = lab.ns("vm1");
    let flows = flows_of(lab.daemon(), Some("hub-fw"));
    let taken: Vec<_> = flows
        .iter()
        .filter(|f| f.direction == "Inbound" && f.destination.starts_with("203.0.113.20:"))
        .collect();
    assert!(!taken.is_empty(), "{flows:#?}");
    // Without the fast path nothing is judged for it. Every packet vm1
    // sent on such a flow reached the firewall, and every answer vm1.
    let offloading = lab.daemon().offload().is_some();
    // (Read until both ends agree: a packet between the two records'
    // counts is in flight, not lost; a lost one never lets them agree.)
    let agree = || {
        let (sent, received) = (
            flows_of(lab.daemon(), Some("vm1")),
            flows_of(lab.daemon(), Some("hub-fw")),
        );
        let count =
            |flows: &[vnetd::api::FlowReport], direction: &str, f: &vnetd::api::FlowReport| {
                flows
                    .iter()
                    .find(|g| {
                        g.direction == direction
                            && g.source == f.source
                            && g.destination == f.destination
                    })
                    .map(|g| (g.packets_forward, g.packets_reverse))
            };
        taken.iter().all(|f| {
            count(&sent, "Outbound", f).is_some()
                && count(&sent, "Outbound", f) == count(&received, "Inbound", f)
        })
    };
    assert!(
        common::wait_for(std::time::Duration::from_secs(10), agree),
        "vm1's and the firewall's counts of the proxy's flows differ"
    );
    let (code, _) = curl(&vm1, &["telnet://203.0.113.22:22"]);
    assert_eq!(
        code, 7,
        "the Internet's closed port 22 refuses the connection"
    );
    let by_network_rule = flows_of(lab.daemon(), Some("hub-fw"))
        .into_iter()
        .find(|f| f.destination == "203.0.113.22:22")
        .expect("the network rule's flow");
    assert_eq!(
        by_network_rule.rule.as_deref(),
        Some("egress/admin/ssh-to-bastion-hosts")
    );
    assert_ne!(
        by_network_rule.not_offloaded_because.as_deref(),
        Some("application_rule")
    );
    for flow in taken {
        assert_eq!(flow.rule.as_deref(), Some("Application rules"), "{flow:#?}");
        assert!(!flow.offloaded, "{flow:#?}");
        assert_eq!(
            flow.not_offloaded_because.as_deref(),
            Some(if offloading {
                "application_rule"
            } else {
                "offload_off"
            }),
            "{flow:#?}"
        );
    }
}

/// The live trace names the rule as the offline one does.
fn assert_traces(lab: &mut Lab, text: &str) {
    let socket = lab.serve_control();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("running.yaml");
    std::fs::write(&file, text).unwrap();
    for (name, port, judged) in [
        (
            "archive.ubuntu.com",
            "443",
            "hub-fw judges archive.ubuntu.com over Https:443: Allow by egress-policy/egress/allow-updates/ubuntu",
        ),
        (
            "example.org",
            "443",
            "hub-fw judges example.org over Https:443: Deny by egress-policy/Default action",
        ),
    ] {
        let live = trace(None, &socket, name, port);
        assert_eq!(live["application_rule"], judged, "{live:#}");
        assert_eq!(live, trace(Some(&file), &socket, name, port));
    }
}

/// A network rule to an FQDN on a port the application rules take: what
/// it allows (the name's address, as the firewall's DNS proxy answers it)
/// is forwarded as it is, never taken by the proxy, so the network rule
/// decides and no application rule is asked.
#[test]
fn a_network_rule_to_an_fqdn_forwards_what_the_application_rules_would_take() {
    let text = EXAMPLE
        .replacen(
            "  - name: egress-policy\n",
            "  - name: egress-policy\n    dns: {proxy_enabled: true}\n",
            1,
        )
        .replacen(
            "destination_addresses: [203.0.113.22], destination_ports: [\"22\"]}",
            "destination_addresses: [203.0.113.22], destination_ports: [\"22\"]}\n              - {name: bastion-web, protocols: [TCP], source_addresses: [10.1.0.0/16], destination_fqdns: [bastion.contoso.net], destination_ports: [\"443\"]}",
            1,
        )
        .replacen(
            "    - {name: example.org, addresses: [203.0.113.40]}\n",
            "    - {name: example.org, addresses: [203.0.113.40]}\n    - {name: bastion.contoso.net, addresses: [203.0.113.50]}\n",
            1,
        );
    let text = common::with_netns_prefix(&text, "exappf");
    let lab = Lab::start("exappf", &text);
    // The proxy's thread gives the namespace the name's address as a
    // pass rule once the plane is up.
    let passed = common::wait_for(Duration::from_secs(10), || {
        common::stdout_in(
            "exappf-hub-fw",
            &["nft", "list", "table", "ip", "vnetd_intercept"],
        )
        .contains("203.0.113.50")
    });
    assert!(passed, "the FQDN's address is a pass rule");
    let (code, page) = curl(&lab.ns("vm1"), &["https://bastion.contoso.net/"]);
    assert_eq!(code, 0, "allowed by egress/admin/bastion-web: {page}");
    let flow = flows_of(lab.daemon(), Some("hub-fw"))
        .into_iter()
        .find(|f| f.direction == "Inbound" && f.destination == "203.0.113.50:443")
        .expect("the flow through the firewall");
    assert_eq!(flow.rule.as_deref(), Some("egress/admin/bastion-web"));
    let names = vnetd::daemon::reporting::report::stats_of(lab.daemon())
        .names
        .unwrap();
    assert_eq!(
        names.application_allowed + names.application_denied,
        0,
        "the proxy judged nothing: {names:?}"
    );
}
