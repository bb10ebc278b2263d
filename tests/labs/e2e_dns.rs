//! Names, live, in `config/private-endpoints.yaml` and a custom-DNS lab
//! (needs root, see `common::require_root`): real `dig` and `curl` inside
//! the namespaces, through Azure DNS at 168.63.129.16, the Private
//! Endpoint's responder, the DNS Private Resolver's endpoints, and real
//! BIND and unbound servers:
//!
//! - from a spoke linked to the `privatelink` zone the storage account's
//!   name is a CNAME to its `privatelink` name and the endpoint's address,
//!   and `curl` by name reaches the endpoint; from an unlinked VNet, the
//!   public address;
//! - Azure VMs resolve on-premises names through the ruleset (outbound
//!   endpoint, over the VPN, to BIND); the on-premises laptop resolves the
//!   storage account through BIND and the inbound endpoint, and reaches it
//!   over the VPN; 168.63.129.16 answers nothing to on-premises;
//! - with `RouteTableEnabled` and a /16 route to the firewall, the
//!   endpoint's /32 is listed Invalid and the same `curl` crosses the
//!   firewall;
//! - a datagram that is not DNS is dropped and counted, and Azure DNS goes
//!   on answering;
//! - every name, from every NIC, is answered live as `vnetd resolve`
//!   answers it offline;
//! - the example's expectations, `resolves` ones and a conversation to
//!   the storage account by name among them, hold under `vnetd verify` as
//!   under `vnetd check`; a wrong answer fails live with what `dig` found;
//!   the running lab's `trace` to the name is the file's;
//! - a VNet whose custom DNS server (unbound, vnetd's `dns_server` key)
//!   does not forward to Azure DNS cannot resolve the `privatelink` name,
//!   and can once an `apply` makes it forward, without a restart.

use crate::common;

use common::check_agreement::assert_verify_agrees_with_check;
use common::names_agreement::assert_names_live_equal_offline;
use common::{wait_for, Lab};
use serde_json::json;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;
use vnetd::diagnostics::{self, Query};

const EXAMPLE: &str = include_str!("../../config/private-endpoints.yaml");
const NAME: &str = "stcontoso.blob.core.windows.net";
const PRIVATELINK: &str = "stcontoso.privatelink.blob.core.windows.net.";

/// Datagrams Azure DNS dropped as not DNS.
fn malformed(lab: &Lab) -> u64 {
    lab.daemon()
        .names_counters()
        .0
        .malformed
        .load(Ordering::Relaxed)
}

/// `dig +short NAME` inside `ns`, one try of two seconds, lines trimmed.
fn dig(ns: &str, name: &str) -> Vec<String> {
    common::stdout_in(ns, &["dig", "+short", "+time=2", "+tries=1", name])
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty() && !l.starts_with(';'))
        .collect()
}

fn curl(ns: &str, url: &str) -> String {
    common::stdout_in(ns, &["curl", "-s", "-m", "5", url])
}

/// Runs `act` while tcpdump listens on `ns`'s eth0 for `filter`; what
/// tcpdump printed of the first packet it saw (empty: none within 10 s).
fn captured_during(ns: &str, filter: &str, act: impl FnOnce()) -> String {
    use std::io::{BufRead, BufReader};
    let mut tcpdump = Command::new("ip")
        .args([
            "netns", "exec", ns, "timeout", "10", "tcpdump", "-i", "eth0", "-n", "-l", "-c", "1",
        ])
        .arg(filter)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starting tcpdump");
    // tcpdump says it listens before it sees anything.
    let mut stderr = BufReader::new(tcpdump.stderr.take().unwrap());
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap_or(0) > 0 && !line.contains("listening on") {
        line.clear();
    }
    act();
    let out = tcpdump.wait_with_output().expect("tcpdump ends");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn routes(lab: &Lab, nic: &str) -> String {
    let query = Query::Routes {
        nic: Some(nic.to_string()),
        subnet: None,
    };
    diagnostics::answer(&lab.daemon().snapshot(), &query, false).unwrap()
}

/// The line of `vnetd routes` for `prefix`.
fn route_line(table: &str, prefix: &str) -> String {
    table
        .lines()
        .find(|l| l.split_whitespace().any(|w| w == prefix))
        .unwrap_or_else(|| panic!("no route {prefix} in\n{table}"))
        .to_string()
}

/// `vnetd verify` of the running example agrees with `vnetd check`, names
/// included; a wrong `resolves` expectation fails live with what `dig`
/// found and what `check` finds, in the table, on stderr and in JUnit; and
/// the running lab's `trace` to the name is the file's.
fn verify_names_live(lab: &mut Lab, text: &str) {
    let report = assert_verify_agrees_with_check(lab, text);
    assert_eq!(report["failed"], 0, "{report:#}");
    let row = |name: &str| {
        report["expectations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no expectation {name} in {report:#}"))
            .clone()
    };
    let endpoint = row("spoke1-resolves-the-storage-account-to-the-endpoint");
    assert_eq!(
        (&endpoint["protocol"], &endpoint["observed"]),
        (
            &json!("DNS"),
            &json!({"result": "NOERROR", "addresses": ["10.0.3.4"], "reason": null,
                    "at": null, "via": [], "reply": false})
        )
    );
    let public = row("the-partner-vnet-resolves-the-public-address");
    assert_eq!(public["observed"]["addresses"], json!(["198.18.0.10"]));
    let by_name = row("spoke1-reaches-the-storage-account-by-name");
    assert_eq!(
        by_name["observed"],
        json!({"result": "Allow", "addresses": ["10.0.3.4"], "reason": null, "at": null,
               "via": ["pe-stcontoso-blob"], "reply": false})
    );

    // A wrong answer, verified from a file naming the running lab's NICs.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wrong.yaml");
    let wrong = text.replacen(
        "expectations:\n",
        "expectations:\n  - {name: vm3-gets-the-endpoint, from: vm3, resolves: \
         stcontoso.blob.core.windows.net, to: [10.0.3.4]}\n",
        1,
    );
    std::fs::write(&file, wrong).unwrap();
    let junit = dir.path().join("verify.xml");
    let socket = lab.serve_control();
    let out = common::vnetd_command(&socket)
        .arg("verify")
        .arg(&file)
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let failure = "expected 10.0.3.4, found 198.18.0.10; observed: `dig \
                   stcontoso.blob.core.windows.net` in vm3's namespace got NOERROR, 198.18.0.10; \
                   check finds 198.18.0.10";
    assert_eq!(
        stderr.trim_end(),
        format!(
            "{}: expectation `vm3-gets-the-endpoint` failed: {failure}",
            file.display()
        )
    );
    let rows: Vec<String> = stdout
        .lines()
        .filter(|l| l.starts_with("ok") || l.starts_with("FAIL"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        rows[0],
        "FAIL vm3-gets-the-endpoint vm3 -> stcontoso.blob.core.windows.net DNS 10.0.3.4 \
         198.18.0.10"
    );
    assert!(
        rows.contains(
            &"ok spoke1-reaches-the-storage-account-by-name vm1 -> \
              stcontoso.blob.core.windows.net (10.0.3.4) Tcp 80 Allow Allow via pe-stcontoso-blob"
                .to_string()
        ),
        "{stdout}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(r#"<testcase name="spoke1-resolves-the-storage-account-to-the-endpoint""#),
        "{xml}"
    );
    assert!(
        xml.contains(
            r#"<failure message="expected 10.0.3.4, found 198.18.0.10; observed: `dig stcontoso.blob.core.windows.net` in vm3"#
        ),
        "{xml}"
    );

    // The running lab's trace to the name: the file's, resolution first.
    let live = common::vnetd_command(&socket)
        .args([
            "trace", "--from", "vm1", "--to", NAME, "--port", "80", "--json",
        ])
        .output()
        .unwrap();
    let offline_file = dir.path().join("running.yaml");
    std::fs::write(&offline_file, text).unwrap();
    let offline = std::process::Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .args(["trace", "--config"])
        .arg(&offline_file)
        .args(["--from", "vm1", "--to", NAME, "--port", "80", "--json"])
        .output()
        .unwrap();
    let json_of = |out: &std::process::Output| -> serde_json::Value {
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
    };
    let live = json_of(&live);
    assert_eq!(live["resolution"]["addresses"], json!(["10.0.3.4"]));
    assert_eq!(live, json_of(&offline));
}

#[test]
fn the_example_resolves_and_reaches_the_storage_account_by_name() {
    let mut lab = Lab::start("exdns", EXAMPLE);
    let (vm1, vm3, laptop) = (lab.ns("vm1"), lab.ns("vm3"), lab.ns("laptop"));

    // A linked spoke: the CNAME, then the endpoint; curl by name reaches it.
    assert_eq!(dig(&vm1, NAME), [PRIVATELINK, "10.0.3.4"]);
    let page = curl(&vm1, &format!("http://{NAME}/"));
    assert!(
        page.contains("reached at 10.0.3.4:80 from 10.1.1.4:"),
        "{page}"
    );
    assert!(
        page.contains("through private endpoint pe-stcontoso-blob"),
        "{page}"
    );
    // The VM names of its own VNet, and the short name through the search
    // domain.
    assert_eq!(dig(&vm1, "vm1.internal.cloudapp.net"), ["10.1.1.4"]);
    assert!(common::stdout_in(&vm1, &["getent", "hosts", "vm1"]).starts_with("10.1.1.4"));
    // An unlinked VNet: the public face.
    assert_eq!(dig(&vm3, NAME), [PRIVATELINK, "198.18.0.10"]);
    // The /32 in the spoke's effective routes.
    let line = route_line(&routes(&lab, "vm1"), "10.0.3.4/32");
    assert!(
        line.contains("InterfaceEndpoint") && line.contains("Active"),
        "{line}"
    );

    // On-premises names from Azure, and Azure's from on premises, once the
    // VPN's BGP has converged.
    let converged = wait_for(Duration::from_secs(90), || {
        dig(&vm1, "app.corp.contoso.com") == ["192.168.1.20"]
    });
    assert!(
        converged,
        "vm1 never resolved app.corp.contoso.com through the ruleset"
    );
    let through_bind = wait_for(Duration::from_secs(30), || {
        dig(&laptop, NAME) == [PRIVATELINK, "10.0.3.4"]
    });
    assert!(
        through_bind,
        "the laptop never resolved {NAME} through BIND: {:?}",
        dig(&laptop, NAME)
    );
    let page = curl(&laptop, &format!("http://{NAME}/"));
    assert!(
        page.contains("reached at 10.0.3.4:80 from 192.168.1.20:"),
        "{page}"
    );
    // `resolve --nic laptop`: the host's own server, asked live from its
    // namespace, answers as `dig` there does.
    let asked = vnetd::daemon::answering::live::resolve_live(
        lab.daemon(),
        "laptop",
        NAME,
        vnetd::names::QueryType::A,
    )
    .unwrap();
    assert_eq!(asked.resolution, None, "Azure DNS is not the laptop's");
    let reply = asked.live.expect("asked live").reply.expect("a reply");
    let addresses: Vec<&str> = (reply.answers.iter())
        .filter(|a| a.record_type == "A")
        .map(|a| a.data.as_str())
        .collect();
    assert_eq!(addresses, ["10.0.3.4"], "{reply:?}");
    // 168.63.129.16 answers VNets only.
    let asked = common::stdout_in(
        &laptop,
        &["dig", "+time=2", "+tries=1", "@168.63.129.16", NAME],
    );
    assert!(!asked.contains("status: NOERROR"), "{asked}");

    // A datagram that is not DNS: dropped and counted; Azure DNS goes on.
    let before = malformed(&lab);
    common::stdout_in(
        &vm1,
        &["python3", "-c", "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'\\x01', ('168.63.129.16', 53))"],
    );
    assert!(wait_for(Duration::from_secs(5), || {
        malformed(&lab) == before + 1
    }));
    assert_eq!(dig(&vm1, NAME), [PRIVATELINK, "10.0.3.4"]);

    // Every name from every NIC: live as offline.
    assert_names_live_equal_offline(&lab);

    // The example's expectations, its names' answers and the conversation
    // to the storage account by name included: `verify` (dig in the
    // namespaces, then the probe to the first address) finds what `check`
    // finds on the tables.
    let text = lab.daemon().snapshot().topology.text.to_string();
    verify_names_live(&mut lab, &text);

    // The route-table policy and a /16 to the firewall: the /32 goes
    // Invalid, and the same request crosses the firewall.
    let text = lab.daemon().snapshot().topology.text.to_string();
    let policed = text
        .replacen(
            "private_endpoint_network_policies: Disabled",
            "private_endpoint_network_policies: RouteTableEnabled",
            1,
        )
        .replacen(
            "      - {name: everything-to-the-firewall",
            "      - {name: hub-to-the-firewall, address_prefix: 10.0.0.0/16, next_hop_type: \
             VirtualAppliance, next_hop_in_ip_address: 10.0.1.4}\n      \
             - {name: everything-to-the-firewall",
            1,
        );
    lab.daemon().apply("policed.yaml", &policed).unwrap();
    let line = route_line(&routes(&lab, "vm1"), "10.0.3.4/32");
    assert!(line.contains("Invalid"), "{line}");
    let crossed = lab.stats("hub-fw").packets_received;
    let mut page = String::new();
    let seen = captured_during(
        &lab.ns("hub-fw"),
        "tcp and dst host 10.0.3.4 and dst port 80",
        || page = curl(&vm1, &format!("http://{NAME}/")),
    );
    assert!(
        page.contains("reached at 10.0.3.4:80 from 10.1.1.4:"),
        "{page}"
    );
    assert!(
        seen.contains("10.1.1.4.") && seen.contains("> 10.0.3.4.80"),
        "tcpdump in the firewall saw: {seen}"
    );
    assert!(
        lab.stats("hub-fw").packets_received > crossed,
        "the request crossed the firewall"
    );
    // The same question over TCP.
    let tcp = common::stdout_in(
        &vm1,
        &["dig", "+short", "+tcp", "+time=2", "+tries=1", NAME],
    );
    assert_eq!(tcp.lines().collect::<Vec<_>>(), [PRIVATELINK, "10.0.3.4"]);
}

const CUSTOM_DNS: &str = r#"
vnets:
  - name: hub
    address_space: [10.0.0.0/16]
    location: westeurope
    dns_servers: [10.0.1.53]
    subnets:
      - {name: app, address_prefixes: [10.0.1.0/24]}
      - {name: pe, address_prefixes: [10.0.3.0/24]}
network_interfaces:
  - name: forwarder
    subnet: hub/app
    private_ip_address: 10.0.1.53
    dns_servers: [168.63.129.16]
    dns_server: {software: unbound}
  - {name: app1, subnet: hub/app, private_ip_address: 10.0.1.4}
private_dns_zones:
  - name: privatelink.blob.core.windows.net
    virtual_network_links: [{name: hub, virtual_network: hub}]
private_endpoints:
  - name: pe-st
    subnet: hub/pe
    private_ip_address: 10.0.3.4
    private_service_connection: {resource: stcontoso, kind: storage_account, subresource_names: [blob]}
    private_dns_zone_group: {zones: [privatelink.blob.core.windows.net]}
"#;

#[test]
fn a_custom_dns_server_resolves_privatelink_names_once_it_forwards_to_azure_dns() {
    let lab = Lab::start("cdns", CUSTOM_DNS);
    let app = lab.ns("app1");
    // unbound answers (its own root hints lead nowhere): no address.
    let before = dig(&app, NAME);
    assert!(
        !before.iter().any(|l| l == "10.0.3.4"),
        "resolved without forwarding: {before:?}"
    );
    let generation = lab.daemon().snapshot().generation;
    let forwarding = CUSTOM_DNS.replace(
        "dns_server: {software: unbound}",
        "dns_server: {software: unbound, forwarders: [{domain: \".\", addresses: [168.63.129.16]}]}",
    );
    lab.daemon()
        .apply(
            "forwarding.yaml",
            &common::with_netns_prefix(&forwarding, "cdns"),
        )
        .unwrap();
    assert!(lab.daemon().snapshot().generation > generation);
    let resolved = wait_for(Duration::from_secs(30), || {
        dig(&app, NAME) == [PRIVATELINK, "10.0.3.4"]
    });
    assert!(resolved, "after the apply: {:?}", dig(&app, NAME));
    // The lab was not rebuilt: app1 kept its counters.
    assert!(lab.stats("app1").packets_sent > 0);
}
