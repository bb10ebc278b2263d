//! The Internet holds every public address that is not the lab's, as the
//! real one does, on the Terraform internet-edge configuration imported
//! as a user writes it (it names no Internet server): a server the user
//! binds in the Internet's namespace on an address the file never names
//! is reached by the VM behind the NAT gateway and by the VM with its own
//! public IP, each seen from its own public address, and not by the
//! private subnet's VM; any other address answers HTTP, and HTTPS with a
//! certificate of the lab's CA for the name asked, with the source it
//! saw; `ping 8.8.8.8` answers through a public IP and not through a
//! Standard NAT gateway, which carries no ICMP; and `trace` says what the
//! packets did. Needs root.

use crate::common;

use common::servers::EchoServer;
use common::Lab;
use std::process::Command;
use std::time::Duration;
use vnetd::dataplane::DropReason;
use vnetd::plan::PortKind;

/// An address of TEST-NET-3 the file never names.
const USER_SERVER: &str = "203.0.113.77";

#[test]
fn every_public_address_answers_and_a_users_own_server_takes_its_address() {
    let text = common::import::terraform("internet-edge");
    let lab = Lab::start("inetall", &text);
    let snapshot = lab.daemon().snapshot();
    let topology = &snapshot.topology;
    let internet = (snapshot.plan.ports.iter())
        .find(|p| p.kind == PortKind::Internet)
        .expect("the lab has an Internet")
        .netns
        .clone();
    let public_ip_of = |nic: &str| {
        let nic = topology.nic_by_name(nic).unwrap();
        topology.edge.nic_public_address(nic).unwrap().to_string()
    };
    let nat_address = topology.edge.nat_gateways.iter().next().unwrap().addresses[0].to_string();
    let web1 = public_ip_of("web1");

    // The user's own server, bound to its address alone on port 80: ready
    // once it answers in the namespace itself (before, the default
    // answer does).
    let _server = EchoServer::start_at(&internet, &format!("{USER_SERVER}:80"), Some("user"), None);
    assert!(
        common::wait_for(Duration::from_secs(10), || {
            answer(&internet, &format!("http://{USER_SERVER}/")).ends_with(" user")
        }),
        "the user's server never answered"
    );
    let url = format!("http://{USER_SERVER}/");
    assert_eq!(answer(&lab.ns("app1"), &url), format!("{nat_address} user"));
    assert_eq!(answer(&lab.ns("web1"), &url), format!("{web1} user"));
    let denied = lab.stats("db1").drops_for(DropReason::NextHopInternet);
    assert_eq!(answer(&lab.ns("db1"), &url), "");
    assert!(lab.stats("db1").drops_for(DropReason::NextHopInternet) > denied);

    // Any other address: the Internet's own answer, with the source seen.
    let other = answer(&lab.ns("web1"), "http://203.0.113.78/");
    assert_eq!(other, web1, "the first line of the default answer");
    // And HTTPS, verified by the lab's CA (no `-k`): by address, and by
    // the name asked.
    let secure = answer(&lab.ns("web1"), "https://203.0.113.78/");
    assert_eq!(secure, web1, "the default answer over HTTPS, by address");
    let named = common::stdout_in(
        &lab.ns("app1"),
        &[
            "curl",
            "-s",
            "-m",
            "3",
            "--resolve",
            "www.example.org:443:203.0.113.79",
            "https://www.example.org/",
        ],
    );
    assert_eq!(named.lines().next(), Some(nat_address.as_str()), "{named}");

    // Echo requests: answered through a public IP; a Standard NAT gateway
    // carries none (counted).
    assert!(pings(&lab.ns("web1"), "8.8.8.8"));
    let unsent = lab.stats("app1").drops_for(DropReason::NatProtocol);
    assert!(!pings(&lab.ns("app1"), "8.8.8.8"));
    assert!(lab.stats("app1").drops_for(DropReason::NatProtocol) > unsent);

    // `trace` of the same packets says the same.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &text).unwrap();
    for (from, verdict, reason) in [
        ("app1", "Allow", None),
        ("web1", "Allow", None),
        ("db1", "Deny", Some("next_hop_internet")),
    ] {
        let traced = trace(file.path(), from, USER_SERVER);
        assert_eq!(traced["verdict"], verdict, "{from}: {traced:#}");
        assert_eq!(traced["reason"].as_str(), reason, "{from}: {traced:#}");
        if reason.is_none() {
            assert_eq!(traced["delivered_to"], "internet", "{from}: {traced:#}");
        }
    }
}

/// The first line `curl` from `ns` got from `url`; empty when it got
/// nothing.
fn answer(ns: &str, url: &str) -> String {
    let out = common::stdout_in(ns, &["curl", "-s", "-m", "3", url]);
    out.lines().next().unwrap_or_default().trim().to_string()
}

/// Whether one echo request from `ns` to `address` was answered.
fn pings(ns: &str, address: &str) -> bool {
    Command::new("ip")
        .args(["netns", "exec", ns, "ping", "-c", "1", "-W", "2", address])
        .output()
        .unwrap()
        .status
        .success()
}

/// `vnetd trace --json` of TCP port 80 from `from` to `to` on `file`.
fn trace(file: &std::path::Path, from: &str, to: &str) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .args(["trace", "--config"])
        .arg(file)
        .args([
            "--from",
            from,
            "--to",
            to,
            "--protocol",
            "tcp",
            "--port",
            "80",
            "--json",
        ])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}
