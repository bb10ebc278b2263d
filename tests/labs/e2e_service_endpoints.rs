//! `config/service-endpoints.yaml`, live: vm-web's subnet has a
//! `Microsoft.Storage` service endpoint and its effective routes show the
//! `VirtualNetworkServiceEndpoint` row; `curl` to the storage account that
//! denies by default and allows that subnet answers 200 to vm-web (the
//! account sees vm-web's private address), 403 `AuthorizationFailure` to
//! vm-batch (which leaves by default outbound access) and to the Internet,
//! 200 to the Internet address its IP rule names; the account with public
//! network access disabled answers 403 at its public face and 200 through
//! its Private Endpoint, and so does the same account imported from
//! Terraform (over HTTPS too); `verify`'s real packets agree with `check`.
//! Datagrams through the endpoint are counted once
//! each, sent and received, with the fast path on and off, and stay in the
//! workers (`service_endpoint`). Needs root.

use crate::common;

use common::check_agreement::assert_verify_agrees_with_check;
use common::Lab;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;
use vnetd::daemon::reporting::report::flows_of;
use vnetd::dataplane::DropReason;
use vnetd::host::netns;
use vnetd::topology::NextHopType;

const EXAMPLE: &str = include_str!("../../config/service-endpoints.yaml");

/// `curl`'s status and body for `url` from `ns` (with `extra` arguments).
fn http(ns: &str, url: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec!["curl", "-s", "-m", "5", "-w", "\n%{http_code}"];
    args.extend_from_slice(extra);
    args.push(url);
    let out = common::stdout_in(ns, &args);
    let (body, status) = out.rsplit_once('\n').unwrap_or(("", &out));
    (status.to_string(), body.to_string())
}

const DATA: &str = "http://stcontosodata.blob.core.windows.net/";
const LOCKED: &str = "http://stcontosolocked.blob.core.windows.net/";
const DENIED: &str = "<Code>AuthorizationFailure</Code>";

#[test]
fn the_storage_account_judges_each_network_as_azure_does() {
    let mut lab = Lab::start("exse", EXAMPLE);
    let snap = lab.daemon().snapshot();
    let web = snap.port_by_name("vm-web").unwrap();
    let rows: Vec<String> = (snap.nic_routes(web).routes.iter())
        .filter(|r| r.next_hop_type == NextHopType::VirtualNetworkServiceEndpoint)
        .map(|r| r.address_prefix.to_string())
        .collect();
    assert_eq!(rows, ["198.19.1.0/24"]);
    let batch = snap.port_by_name("vm-batch").unwrap();
    assert!((snap.nic_routes(batch).routes.iter())
        .all(|r| r.next_hop_type != NextHopType::VirtualNetworkServiceEndpoint));

    let (status, body) = http(&lab.ns("vm-web"), DATA, &[]);
    assert_eq!(status, "200", "{body}");
    assert!(body.contains("from 10.1.1.4:"), "{body}");
    assert!(
        body.contains("allowed by virtual network rule app/web"),
        "{body}"
    );

    let (status, body) = http(&lab.ns("vm-batch"), DATA, &[]);
    assert_eq!(
        (status.as_str(), body.contains(DENIED)),
        ("403", true),
        "{body}"
    );

    let internet = format!("{}.internet", lab.ns("vm-web"));
    // The Internet's namespace asks no DNS: the account's public address.
    let public_face = "http://198.19.1.4/";
    let (status, body) = http(&internet, public_face, &[]);
    assert_eq!(
        (status.as_str(), body.contains(DENIED)),
        ("403", true),
        "{body}"
    );
    let (status, body) = http(&internet, public_face, &["--interface", "203.0.113.10"]);
    assert_eq!(status, "200", "{body}");
    assert!(
        body.contains("allowed by ip rule 203.0.113.10/32"),
        "{body}"
    );

    let (status, body) = http(&lab.ns("vm-batch"), LOCKED, &[]);
    assert_eq!(
        (status.as_str(), body.contains(DENIED)),
        ("403", true),
        "{body}"
    );
    let (status, body) = http(&lab.ns("vm-batch"), "http://10.1.3.4/", &[]);
    assert_eq!(status, "200", "{body}");
    assert!(
        body.contains("through private endpoint pe-stlocked"),
        "{body}"
    );

    // `verify`'s real packets, both ways, say what `check` says.
    let text = lab.daemon().snapshot().topology.text.to_string();
    let report = assert_verify_agrees_with_check(&mut lab, &text);
    assert_eq!(report["failed"], 0, "{report:#}");
    assert_eq!(report["passed"], 4, "{report:#}");
}

const DATAGRAMS: u64 = 50;

/// vm-web's datagrams to a server on the account's public address, each
/// echoed: the server sees vm-web's private address, every datagram and
/// answer is counted once at vm-web and at the Internet, and none is
/// carried by the kernel, with the fast path on and off.
#[test]
fn datagrams_through_a_service_endpoint_are_counted_once_with_offload_on_and_off() {
    for (prefix, offload) in [("exseo", true), ("exsen", false)] {
        let options = vnetd::daemon::options::RunOptions {
            offload,
            ..Default::default()
        };
        let lab = Lab::start_with(prefix, &common::with_netns_prefix(EXAMPLE, prefix), options);
        let internet = format!("{}.internet", lab.ns("vm-web"));
        let to: SocketAddr = "198.19.1.4:7001".parse().unwrap();
        let server = netns::run_in(&internet, move || common::udp_bind_again(to)).unwrap();
        let client =
            netns::run_in(&lab.ns("vm-web"), || Ok(UdpSocket::bind("10.1.1.4:0")?)).unwrap();
        for s in [&server, &client] {
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        }
        let counters = |nic: &str| {
            let s = lab.stats(nic);
            // What a guest sends that stays on its link (IPv6 multicast
            // listener reports) is counted sent and dropped: left out.
            let on_link = s.drops_for(DropReason::Unroutable);
            [
                s.packets_sent - on_link,
                s.packets_received,
                s.offloaded_packets_sent,
                s.offloaded_packets_received,
            ]
        };
        let (web0, net0) = (counters("vm-web"), counters("internet"));
        for i in 0..DATAGRAMS {
            client.send_to(&[7u8; 100], to).unwrap();
            let mut buf = [0u8; 128];
            let (len, from) = server
                .recv_from(&mut buf)
                .unwrap_or_else(|e| panic!("{i}: {e}"));
            assert_eq!(from.ip().to_string(), "10.1.1.4", "datagram {i}");
            server.send_to(&buf[..len], from).unwrap();
            let (_, answered_by) = client
                .recv_from(&mut buf)
                .unwrap_or_else(|e| panic!("answer {i}: {e}"));
            assert_eq!(answered_by, to, "answer {i}");
        }
        common::wait_for(Duration::from_secs(10), || {
            counters("vm-web")[1] - web0[1] >= DATAGRAMS
                && counters("internet")[1] - net0[1] >= DATAGRAMS
        });
        let (web, net) = (counters("vm-web"), counters("internet"));
        let moved = |a: [u64; 4], b: [u64; 4]| -> [u64; 4] { std::array::from_fn(|i| a[i] - b[i]) };
        assert_eq!(
            moved(web, web0),
            [DATAGRAMS, DATAGRAMS, 0, 0],
            "vm-web, offload {offload}"
        );
        assert_eq!(
            moved(net, net0),
            [DATAGRAMS, DATAGRAMS, 0, 0],
            "internet, offload {offload}"
        );
        if offload {
            // The offload thread judged the flow and kept it in the workers.
            let judged = || {
                flows_of(lab.daemon(), Some("vm-web"))
                    .iter()
                    .any(|f| f.not_offloaded_because.as_deref() == Some("service_endpoint"))
            };
            assert!(
                common::wait_for(Duration::from_secs(10), judged),
                "{:#?}",
                flows_of(lab.daemon(), Some("vm-web"))
            );
        }
    }
}

/// The Terraform of `tests/import/terraform/service-endpoints`, imported as
/// written, with two VMs added (the configuration has none): one beside
/// the locked account's Private Endpoint, one in a VNet of its own. The
/// account's `public_network_access_enabled = false` came through the
/// import: its public face refuses the other VNet's VM with Storage's 403,
/// over HTTPS too, while its Private Endpoint answers.
#[test]
fn a_locked_account_imported_from_terraform_answers_only_through_its_endpoint() {
    let imported = common::import::terraform("service-endpoints");
    assert!(
        imported.contains("public_network_access_enabled: false"),
        "{imported}"
    );
    let text = imported.replacen(
        "vnets:\n",
        "vnets:\n  - name: other\n    address_space: [10.9.0.0/16]\n    subnets:\n      \
         - {name: default, address_prefixes: [10.9.1.0/24], default_outbound_access: true}\n",
        1,
    ) + "network_interfaces:\n  - {name: vm-pe, subnet: app/pe, private_ip_address: 10.1.3.10}\n  \
         - {name: vm-other, subnet: other/default, private_ip_address: 10.9.1.4}\n";
    let lab = Lab::start("exsetf", &text);
    // A started lab's Azure DNS and responders listen already: the first
    // question and request below are answered, not refused.
    let convergence = lab.daemon().convergence();
    assert!(!convergence.servers_starting, "{convergence:?}");
    let (status, body) = http(&lab.ns("vm-other"), LOCKED, &[]);
    assert_eq!(status, "403", "{body}");
    assert!(body.contains(DENIED), "{body}");
    let https = LOCKED.replace("http://", "https://");
    let (status, body) = http(&lab.ns("vm-other"), &https, &[]);
    assert_eq!(status, "403", "over HTTPS: {body}");
    // Through the Private Endpoint (no zone is linked: the name is pinned
    // to the endpoint's address, as a hosts file would).
    let pinned = "stcontosolocked.blob.core.windows.net:443:10.1.3.4";
    let (status, body) = http(&lab.ns("vm-pe"), &https, &["--resolve", pinned]);
    assert_eq!(status, "200", "{body}");
    assert!(
        body.contains("through private endpoint pe-stlocked"),
        "{body}"
    );
}
