//! `config/internet-edge.yaml`, live: every spoke VM's `curl` to the
//! Internet's echo server shows the source Azure would show (the NAT
//! gateway's address through the firewall, the VM's own public IP, the
//! default outbound address), the private subnet's fails and is counted
//! at the `Internet` next hop; from the Internet, `curl https://` to the
//! firewall's public address reaches vm2's web server through the DNAT
//! rule, with the firewall's first instance address (10.0.1.5, in
//! AzureFirewallSubnet) as the source the server sees, while a port without a rule meets the default action and an
//! unsolicited connection to the NAT gateway is dropped, counted and
//! reset. A NAT
//! gateway added with `apply` takes new flows while an established one
//! keeps its address, and removed, gives its flows back (the counting of
//! every way out, with the fast path on and off, is in
//! `e2e_edge_counting.rs`). (The
//! offline `check` of the file's expectations runs with every example's,
//! in `tests/offline/check_expectations.rs`; `verify`'s real packets
//! agree with it here.) Needs root.

use crate::common;

use common::check_agreement::assert_verify_agrees_with_check;
use common::Lab;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vnetd::daemon::reporting::report::flows_of;
use vnetd::dataplane::DropReason;
use vnetd::host::netns;

const EXAMPLE: &str = include_str!("../../config/internet-edge.yaml");

/// An HTTPS server on 443 of `ns` (a self-signed certificate) answering
/// every request with the client address it saw; stopped when dropped.
struct EchoTls {
    _server: common::servers::EchoServer,
    _dir: tempfile::TempDir,
}

impl EchoTls {
    fn start(ns: &str) -> EchoTls {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let made = Command::new("openssl")
            .args([
                "req", "-x509", "-nodes", "-newkey", "rsa:2048", "-days", "1",
            ])
            .args(["-subj", "/CN=vm2"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl makes the certificate");
        assert!(made.success());
        let server = common::servers::EchoServer::start(ns, 443, None, Some((&cert, &key)));
        EchoTls {
            _server: server,
            _dir: dir,
        }
    }
}

/// What `curl -k https://URL` from `ns` answers, retried until it answers
/// or 10 s pass (the server may still be starting).
fn https_answer(ns: &str, url: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = common::stdout_in(ns, &["curl", "-s", "-k", "-m", "2", url]);
        if !answer.is_empty() || Instant::now() > deadline {
            return answer.trim().to_string();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn each_spoke_leaves_with_the_source_azure_shows_and_dnat_publishes_vm2() {
    let mut lab = Lab::start("exedge", EXAMPLE);
    for (vm, source, way) in [
        ("vm1", "198.51.100.10", "through the firewall's NAT gateway"),
        ("vm2", "198.51.100.30", "its own public IP"),
        ("vm3", "192.0.2.1", "default outbound access"),
    ] {
        assert_eq!(
            common::servers::echo_seen(&lab.ns(vm)),
            source,
            "{vm}: {way}"
        );
    }
    let before = lab.stats("vm4").drops_for(DropReason::NextHopInternet);
    assert_eq!(
        common::servers::echo_seen(&lab.ns("vm4")),
        "",
        "a private subnet has no way out"
    );
    assert!(lab.stats("vm4").drops_for(DropReason::NextHopInternet) > before);

    let internet = format!("{}.internet", lab.ns("vm1"));
    let _web = EchoTls::start(&lab.ns("vm2"));
    assert_eq!(
        https_answer(&internet, "https://198.51.100.20/"),
        "10.0.1.5",
        "the DNAT rule reaches vm2, which sees the firewall's first instance address"
    );
    let denied = lab.stats("hub-fw").drops_for(DropReason::FirewallDenied);
    let answer = common::stdout_in(
        &internet,
        &["curl", "-s", "-k", "-m", "2", "https://198.51.100.20:8443/"],
    );
    assert_eq!(answer, "", "no DNAT rule for 8443");
    assert!(lab.stats("hub-fw").drops_for(DropReason::FirewallDenied) > denied);

    // A NAT gateway takes no unsolicited connection, and resets it: curl
    // is refused at once (its exit code 7), not left to time out (28).
    let unsolicited = lab.stats("internet").drops_for(DropReason::NatUnsolicited);
    let refused = Command::new("ip")
        .args(["netns", "exec", &internet, "curl", "-s", "-m", "5"])
        .arg("http://198.51.100.10/")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(7), "{refused:?}");
    assert!(lab.stats("internet").drops_for(DropReason::NatUnsolicited) > unsolicited);

    // `verify`'s real packets, both ways, say what `check` says.
    let text = lab.daemon().snapshot().topology.text.to_string();
    let report = assert_verify_agrees_with_check(&mut lab, &text);
    assert_eq!(report["failed"], 0, "{report:#}");
    assert_eq!(report["passed"], 9, "{report:#}");
}

/// The source the Internet's UDP server at 203.0.113.10:7000 sees for a
/// datagram `client` sends (`None`: none arrived within 2 s).
fn udp_seen(client: &UdpSocket, server: &UdpSocket) -> Option<IpAddr> {
    let to: SocketAddr = "203.0.113.10:7000".parse().unwrap();
    client.send_to(b"hello", to).unwrap();
    let mut buf = [0u8; 16];
    server.recv_from(&mut buf).ok().map(|(_, from)| from.ip())
}

#[test]
fn a_nat_gateway_added_takes_new_flows_and_leaves_established_ones() {
    let prefix = "exnat";
    let lab = Lab::start(prefix, EXAMPLE);
    let (vm3, internet) = (lab.ns("vm3"), format!("{}.internet", lab.ns("vm1")));
    let server_address: SocketAddr = "203.0.113.10:7000".parse().unwrap();
    let server = netns::run_in(&internet, move || common::udp_bind_again(server_address)).unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let established = common::udp_client_for(&vm3, server_address);
    assert_eq!(udp_seen(&established, &server), Some(ip("192.0.2.1")));

    // A NAT gateway on vm3's subnet: new flows take it, the established
    // one keeps default outbound access.
    let with_nat = common::edge::with_legacy_nat_gateway(EXAMPLE);
    lab.daemon()
        .apply(
            "with-nat.yaml",
            &common::with_netns_prefix(&with_nat, prefix),
        )
        .unwrap();
    let through_nat = common::udp_client_for(&vm3, server_address);
    assert_eq!(udp_seen(&through_nat, &server), Some(ip("198.51.100.40")));
    assert_eq!(common::servers::echo_seen(&vm3), "198.51.100.40");
    assert_eq!(udp_seen(&established, &server), Some(ip("192.0.2.1")));
    // With the fast path, the kernel carries the flow through the NAT
    // gateway, translated, before the gateway goes.
    if !vnetd::daemon::options::offload_off_by_environment() {
        let offloaded = common::wait_for(Duration::from_secs(10), || {
            assert_eq!(udp_seen(&through_nat, &server), Some(ip("198.51.100.40")));
            flows_of(lab.daemon(), Some("vm3"))
                .iter()
                .any(|f| f.protocol == "Udp" && f.destination == "203.0.113.10:7000" && f.offloaded)
        });
        assert!(
            offloaded,
            "the flow through the NAT gateway never left the workers"
        );
        let carried = lab.stats("vm3").offloaded_packets_sent;
        assert_eq!(udp_seen(&through_nat, &server), Some(ip("198.51.100.40")));
        assert!(common::wait_for(Duration::from_secs(5), || {
            lab.stats("vm3").offloaded_packets_sent > carried
        }));
    }

    // Removed again: its flows lose their address and are decided anew,
    // by default outbound access (the kernel's translation goes with the
    // rules that made it).
    lab.daemon()
        .apply(
            "without-nat.yaml",
            &common::with_netns_prefix(EXAMPLE, prefix),
        )
        .unwrap();
    assert_eq!(udp_seen(&through_nat, &server), Some(ip("192.0.2.1")));
    assert_eq!(common::servers::echo_seen(&vm3), "192.0.2.1");
}

/// `config/private-endpoints.yaml` with default outbound access for the
/// partner VNet, which no `privatelink` zone is linked to: its VM resolves
/// the storage account to its public address and reaches the account's
/// public face on the Internet, which sees the VM's implicit address.
#[test]
fn an_unlinked_vnet_reaches_the_storage_accounts_public_face() {
    let text = include_str!("../../config/private-endpoints.yaml").replacen(
        "      - name: app\n        address_prefixes: [10.9.1.0/24]\n",
        "      - name: app\n        address_prefixes: [10.9.1.0/24]\n        default_outbound_access: true\n",
        1,
    );
    assert!(text.contains("default_outbound_access: true"));
    let lab = Lab::start("expub", &text);
    let answer = common::stdout_in(
        &lab.ns("vm3"),
        &[
            "curl",
            "-s",
            "-m",
            "5",
            "http://stcontoso.blob.core.windows.net/",
        ],
    );
    assert!(
        answer.starts_with("stcontoso.blob.core.windows.net through its public endpoint\n"),
        "{answer}"
    );
    assert!(
        answer.contains("reached at 198.18.0.10:80 from 192.0.2.1:"),
        "{answer}"
    );
}
