//! What the Internet holds, against a simple reference: every address but
//! the lab's public ones, its VNets' and the private ranges. In every
//! example with an Internet, each public address the decision knows
//! (where the Internet's packets are translated back into the lab) is one
//! the Internet's namespace sends back to the lab rather than holding it;
//! and a packet from a VM with a way out to an address no file names is
//! delivered to the Internet by `trace`, while one without a way out is
//! not.

use std::net::IpAddr;
use std::path::PathBuf;
use vnetd::diagnostics::trace::{trace, TraceQuery};
use vnetd::plan::ports::internet::{holds, lab_prefixes};
use vnetd::snapshot::Snapshot;
use vnetd::topology::{Endpoint, ExpectedProtocol};

fn examples() -> Vec<PathBuf> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/config");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn compile(path: &std::path::Path) -> Snapshot {
    let text = std::fs::read_to_string(path).unwrap();
    let loaded = vnetd::plan::parse_str(&path.display().to_string(), &text).unwrap();
    Snapshot::compile(loaded.topology, 1)
}

#[test]
fn every_public_address_of_the_lab_goes_back_to_the_lab() {
    let mut with_internet = 0;
    for path in examples() {
        let snap = compile(&path);
        if snap.edge.internet.is_none() {
            continue;
        }
        with_internet += 1;
        let prefixes = lab_prefixes(&snap.topology);
        assert_eq!(prefixes, snap.edge.lab_prefixes, "{}", path.display());
        for address in snap.edge.public.keys() {
            assert!(
                !holds(&prefixes, *address),
                "{}: the Internet would hold the lab's {address}",
                path.display()
            );
        }
        for vnet in &snap.topology.vnets {
            for space in &vnet.address_space {
                assert!(
                    !holds(&prefixes, space.addr()),
                    "{}: {space}",
                    path.display()
                );
            }
        }
    }
    assert!(
        with_internet >= 3,
        "{with_internet} examples with an Internet"
    );
}

#[test]
fn holding_is_everything_outside_the_lab_and_the_special_ranges() {
    let prefixes: Vec<ipnet::IpNet> = ["10.0.0.0/8", "198.51.100.16/28", "2001:db8:1::/48"]
        .iter()
        .map(|p| p.parse().unwrap())
        .collect();
    // The reference: in no listed prefix, and an address a host may have.
    let cases = [
        ("8.8.8.8", true),
        ("203.0.113.77", true),
        ("198.51.100.15", true),
        ("198.51.100.16", false),
        ("198.51.100.31", false),
        ("198.51.100.32", true),
        ("10.200.0.1", false),
        ("127.0.0.1", false),
        ("169.254.169.254", false),
        ("224.0.0.1", false),
        ("255.255.255.255", false),
        ("0.1.2.3", false),
        ("2001:4860:4860::8888", true),
        ("2001:db8:1::5", false),
        ("fe80::1", false),
        ("::1", false),
        ("ff02::1", false),
    ];
    for (address, expected) in cases {
        let ip: IpAddr = address.parse().unwrap();
        assert_eq!(holds(&prefixes, ip), expected, "{address}");
    }
}

#[test]
fn trace_delivers_to_the_internet_what_it_holds() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/internet-edge.yaml"
    ));
    let snap = compile(&path);
    let trace = |from: &str, to: &str| {
        let nic = snap.topology.nic_by_name(from).unwrap();
        let query = TraceQuery {
            from: Endpoint::Nic(nic),
            to: to.parse().unwrap(),
            protocol: ExpectedProtocol::Tcp,
            port: Some(80),
        };
        trace(&snap, &query).unwrap()
    };
    for (from, expected) in [
        ("vm1", Some("internet")),
        ("vm2", Some("internet")),
        ("vm3", Some("internet")),
        ("vm4", None),
    ] {
        let answer = trace(from, "93.184.216.34");
        assert_eq!(
            answer.delivered_to.as_deref(),
            expected,
            "{from}: {answer:?}"
        );
    }
    // The lab's own public address is the lab's: the Internet sends it
    // back, to vm2's public IP, and no further than its NSG allows.
    let hairpin = trace("vm3", "198.51.100.30");
    assert_eq!(hairpin.delivered_to.as_deref(), Some("vm2"), "{hairpin:?}");
}

const NAMED: &str = "internet:
  names:
    - {name: example.com, addresses: [93.184.216.34, '2001:db8::34']}
    - {name: Echo.Example.NET., addresses: [203.0.113.10]}
public_ip_addresses:
  - {name: pip, ip_address: 198.51.100.30}
vnets:
  - name: vn
    address_space: [10.1.0.0/16]
    subnets:
      - {name: app, address_prefixes: [10.1.1.0/24]}
network_interfaces:
  - {name: vm1, subnet: vn/app, private_ip_address: 10.1.1.4, public_ip_address: pip}
";

/// `vnetd resolve --json` of `name` (`kind` records) asked by vm1 of
/// `text`: the answers' data, and the status.
fn resolve(text: &str, name: &str, kind: &str) -> (Vec<String>, String) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .args(["resolve", "--config"])
        .arg(file.path())
        .args(["--nic", "vm1", "--type", kind, name, "--json"])
        .output()
        .unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let data = (answer["answers"].as_array().unwrap().iter())
        .map(|a| a["data"].as_str().unwrap().to_string())
        .collect();
    (
        data,
        answer["status"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn the_internets_names_are_answered_and_every_other_public_name_is_nxdomain() {
    assert_eq!(
        resolve(NAMED, "example.com", "A"),
        (vec!["93.184.216.34".to_string()], "NOERROR".to_string())
    );
    assert_eq!(
        resolve(NAMED, "example.com", "AAAA"),
        (vec!["2001:db8::34".to_string()], "NOERROR".to_string())
    );
    assert_eq!(
        resolve(NAMED, "echo.example.net", "A"),
        (vec!["203.0.113.10".to_string()], "NOERROR".to_string())
    );
    assert_eq!(
        resolve(NAMED, "www.example.com", "A"),
        (Vec::new(), "NXDOMAIN".to_string())
    );
}

#[test]
fn a_name_twice_or_not_a_name_is_refused_at_its_line() {
    let broken = NAMED.replace(
        "    - {name: Echo.Example.NET., addresses: [203.0.113.10]}\n",
        "    - {name: example.com., addresses: [203.0.113.10]}\n    - {name: 'bad name', addresses: [203.0.113.11]}\n    - {name: ok.example, addresses: [not-an-address]}\n",
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &broken).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .arg("check")
        .arg(file.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let path = file.path().display().to_string();
    let said: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(|l| l.replace(&path, "F"))
        .collect();
    assert_eq!(
        said,
        [
            "F:4: error: internet.names[example.com.].name: the Internet already has a name `example.com`",
            "F:5: error: internet.names[bad name].name: `bad name` is not a DNS name: `bad name` is not a label of 1 to 63 letters, digits, `-` or `_`",
            "F:6: error: internet.names[ok.example].addresses[0]: `not-an-address` is not an IPv4 or IPv6 address",
            "F: refused, 3 errors",
        ]
    );
}

#[test]
fn a_reply_to_a_public_ip_leaves_from_it_even_where_a_nat_gateway_takes_new_flows() {
    let text = include_str!("../data/public-ip-beside-nat.yaml");
    let loaded = vnetd::plan::parse_str("pip-nat.yaml", text).unwrap();
    let snap = Snapshot::compile(loaded.topology, 1);
    let query = |from: Endpoint, to: &str| TraceQuery {
        from,
        to: to.parse().unwrap(),
        protocol: ExpectedProtocol::Tcp,
        port: Some(80),
    };
    let vm1 = Endpoint::Nic(snap.topology.nic_by_name("vm1").unwrap());
    // A new flow leaves by the NAT gateway.
    let out = trace(&snap, &query(vm1, "203.0.113.10")).unwrap();
    assert_eq!(
        out.hops[0].egress.as_deref(),
        Some("NatGateway nat, as 198.51.100.10")
    );
    // The reply of a connection to the public IP leaves from it.
    let inbound = trace(&snap, &query(Endpoint::Internet(None), "198.51.100.30")).unwrap();
    assert_eq!(inbound.verdict, "Allow", "{inbound:?}");
    let reply = inbound.reply.as_ref().expect("a reply");
    assert_eq!(
        reply.hops[0].egress.as_deref(),
        Some("PublicIp, as 198.51.100.30"),
        "{reply:?}"
    );
}

#[test]
fn the_internet_sending_to_an_address_it_holds_delivers_it_itself() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/service-endpoints.yaml"
    ));
    let snap = compile(&path);
    let to = |address: &str| {
        let query = TraceQuery {
            from: Endpoint::Internet(None),
            to: address.parse().unwrap(),
            protocol: ExpectedProtocol::Tcp,
            port: Some(80),
        };
        trace(&snap, &query).unwrap()
    };
    // A PaaS resource's public face judges the Internet's own address.
    let face = to("198.19.1.4");
    assert_eq!(face.delivered_to.as_deref(), Some("internet"), "{face:?}");
    assert_eq!(
        face.service.as_deref(),
        Some("stcontosodata allows 203.0.113.10: ip rule 203.0.113.10/32")
    );
    let anywhere = to("8.8.8.8");
    assert_eq!(
        anywhere.delivered_to.as_deref(),
        Some("internet"),
        "{anywhere:?}"
    );
    assert_eq!(anywhere.service, None);
}
