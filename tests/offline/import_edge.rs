//! The Internet edge imported three ways: the Terraform configuration
//! `tests/import/terraform/internet-edge` (an Azure Firewall with a public
//! IP and DNAT rules, a NAT gateway with a public IP and a prefix, NICs on
//! public IPs, a subnet without default outbound access), the Terraform
//! state of the same network once applied
//! (`tests/import/tfstate/internet-edge.tfstate`) and its `az` dump
//! (`tests/import/az/internet-edge`). The state and the dump know what
//! Azure allocated and give the same topology, exactly
//! `internet-edge.expected.yaml`; the configuration knows none of it, and
//! its import leaves the addresses to vnetd. Each is accepted by `vnetd
//! check` without a warning, and the parser reads the edge as Azure has
//! it.
//!
//! `VNETD_BLESS=1 cargo test --test offline import_edge` rewrites the
//! state's expected file from what the import gives now; read the diff
//! before committing it.

use super::import_state::{imported, refused, repo, vnetd, without_comments};
use serde_json::Value;
use std::net::IpAddr;

const TERRAFORM_DIR: &str = "tests/import/terraform/internet-edge";
const STATE: &str = "tests/import/tfstate/internet-edge.tfstate";
const STATE_EXPECTED: &str = "tests/import/tfstate/internet-edge.expected.yaml";
const AZ_DIR: &str = "tests/import/az/internet-edge";

/// `vnetd check` on `text`: exit 0 and no warning.
fn checked(text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lab.yaml");
    std::fs::write(&path, text).unwrap();
    let out = vnetd(&["check", path.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}\n{text}");
    assert!(!stderr.contains("warning"), "{stderr}");
}

fn topology(text: &str) -> vnetd::topology::Topology {
    vnetd::plan::parse_str("import", text)
        .unwrap_or_else(|e| panic!("{e:?}"))
        .topology
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// The DNAT rules every source of the edge fixtures knows, to the
/// firewall's public address `fw`.
fn dnat_to_spoke(fw: IpAddr) -> [(String, IpAddr, u16, IpAddr, u16); 2] {
    [
        (
            "inbound/dnat-to-spoke/https-to-app1".into(),
            fw,
            443,
            ip("10.20.1.4"),
            8443,
        ),
        (
            "inbound/dnat-to-spoke/ssh-to-db1".into(),
            fw,
            2222,
            ip("10.20.2.4"),
            22,
        ),
    ]
}

/// (rule path, destination, port, translated address, port) of every DNAT
/// rule, in Azure's order.
fn dnat_rules(t: &vnetd::topology::Topology) -> Vec<(String, IpAddr, u16, IpAddr, u16)> {
    let rules = t.edge.dnat_rules.values().flatten();
    rules
        .map(|r| {
            let translated = (r.translated_address, r.translated_port);
            (
                r.path(),
                r.destination,
                r.destination_port,
                translated.0,
                translated.1,
            )
        })
        .collect()
}

/// The state imports exactly to its expected file, and the parser reads
/// Azure's addresses: the gateway's (its public IP's, then its prefix's),
/// the subnet it serves, the NICs' and the firewall's public addresses,
/// the three DNAT rules, and the subnets with default outbound access.
#[test]
fn the_state_imports_the_edge_azure_allocated() {
    let text = imported(&["import", "tfstate", STATE]);
    if std::env::var_os("VNETD_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(repo(STATE_EXPECTED), &text).unwrap();
    }
    let expected = std::fs::read_to_string(repo(STATE_EXPECTED)).unwrap();
    assert_eq!(text, expected);
    checked(&text);
    let t = topology(&text);
    let e = &t.edge;
    let [gateway] = e.nat_gateways.raw.as_slice() else {
        panic!("{:?}", e.nat_gateways)
    };
    let addresses = ["203.0.113.11", "203.0.113.16", "203.0.113.17"]
        .into_iter()
        .chain(["203.0.113.18", "203.0.113.19"]);
    assert_eq!(gateway.addresses, addresses.map(ip).collect::<Vec<_>>());
    let served: Vec<&str> = gateway
        .subnets
        .iter()
        .map(|s| t.subnet(*s).name.as_str())
        .collect();
    assert_eq!(served, ["app"]);
    assert_eq!(gateway.idle_timeout_minutes, 10);
    for (nic, address) in [("web1", "203.0.113.12"), ("web2", "203.0.113.24")] {
        let nic = t.nic_by_name(nic).unwrap();
        assert_eq!(e.nic_public_address(nic), Some(ip(address)));
    }
    let firewall = t.firewalls.iter_enumerated().next().unwrap().0;
    assert_eq!(e.firewall_addresses(firewall), [ip("203.0.113.10")]);
    let fw = ip("203.0.113.10");
    assert_eq!(
        dnat_rules(&t),
        [
            dnat_to_spoke(fw).to_vec(),
            vec![(
                "inbound/dnat-to-spoke/http-to-app2".into(),
                fw,
                8080,
                ip("10.20.1.5"),
                80
            )]
        ]
        .concat()
    );
    let outbound: Vec<String> = e
        .default_outbound
        .iter()
        .map(|s| format!("{}/{}", t.vnets[s.vnet].name, t.subnet(*s).name))
        .collect();
    assert_eq!(
        outbound,
        ["hub/AzureFirewallSubnet", "hub/web", "spoke/app"]
    );
}

/// The az dump of the same deployment gives the state's topology.
#[test]
fn the_az_dump_gives_the_states_topology() {
    let text = imported(&["import", "az", AZ_DIR]);
    let state = std::fs::read_to_string(repo(STATE_EXPECTED)).unwrap();
    assert_eq!(without_comments(&text), without_comments(&state));
    checked(&text);
}

/// Before apply the configuration knows no public address: its public
/// IPs take vnetd's (198.51.100.0/24, in the file's order), the DNAT rules
/// to the firewall's public IP take that one, the rule to a Dynamic NIC is
/// left out with its chain, and the prefixes (and what they give the NAT
/// gateway and `web2-pip`) are left out with the reason. Everything else
/// is the state's.
#[test]
fn the_configuration_leaves_what_azure_allocates_to_vnetd() {
    let text = imported(&["import", "terraform", TERRAFORM_DIR]);
    checked(&text);
    let t = topology(&text);
    let pips: Vec<(&str, IpAddr)> = (t.edge.public_ips.iter())
        .map(|p| (p.name.as_str(), p.address))
        .collect();
    let vnetds = [
        "198.51.100.1",
        "198.51.100.2",
        "198.51.100.3",
        "198.51.100.4",
    ]
    .map(ip);
    let names = ["fw-pip", "natgw-pip", "web1-pip", "web2-pip"];
    assert_eq!(pips, names.into_iter().zip(vnetds).collect::<Vec<_>>());
    assert!(t.edge.public_ip_prefixes.is_empty());
    let fw = vnetds[0];
    assert_eq!(dnat_rules(&t), dnat_to_spoke(fw));
    assert!(
        text.contains(
            "              # main.tf:273: DNAT rule `http-to-app2` left out: `translated_address` \
             is known only after apply (it comes from \
             azurerm_network_interface.app2.private_ip_address)\n"
        ),
        "{text}"
    );
    let [gateway] = t.edge.nat_gateways.raw.as_slice() else {
        panic!()
    };
    assert_eq!(gateway.addresses, [vnetds[1]]);

    // The state's file, with what only Azure knew taken out, is the
    // configuration's, comments aside.
    let state = std::fs::read_to_string(repo(STATE_EXPECTED)).unwrap();
    let mut known_after_apply = without_comments(&state).replace(
        "destination_address: 203.0.113.10\n",
        "destination_address: 198.51.100.1\n",
    );
    let dropped = |text: &str, from: &str, lines: usize| -> String {
        let at = text.find(from).unwrap_or_else(|| panic!("{from}\n{text}"));
        let end = (0..lines).fold(at, |end, _| end + text[end..].find('\n').unwrap() + 1);
        format!("{}{}", &text[..at], &text[end..])
    };
    for address in ["10", "11", "12", "24"] {
        let line = format!("    ip_address: 203.0.113.{address}\n");
        known_after_apply = dropped(&known_after_apply, &line, 1);
    }
    known_after_apply = dropped(
        &known_after_apply,
        "public_ip_prefixes:\n  - name: egress",
        7,
    );
    known_after_apply = dropped(&known_after_apply, "    public_ip_prefix: web-prefix\n", 1);
    known_after_apply = dropped(&known_after_apply, "    public_ip_prefixes:\n", 2);
    known_after_apply = dropped(
        &known_after_apply,
        "              - name: http-to-app2\n",
        7,
    );
    assert_eq!(without_comments(&text), known_after_apply);
}

/// A subnet of the dump names a NAT gateway that nat-gateways.json does
/// not hold: refused at the reference, as any other.
#[test]
fn an_az_subnet_naming_a_nat_gateway_not_listed_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo(AZ_DIR)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    std::fs::write(dir.path().join("nat-gateways.json"), "[]\n").unwrap();
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    let vnets: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("vnets.json")).unwrap())
            .unwrap();
    let gateway = vnets[1]["subnets"][0]["natGateway"]["id"].as_str().unwrap();
    let text = std::fs::read_to_string(dir.path().join("vnets.json")).unwrap();
    let line = text
        .lines()
        .position(|l| l.contains("natGateways/spoke-natgw"))
        .unwrap()
        + 1;
    assert_eq!(
        stderr,
        format!(
            "{}/vnets.json:{line}: [1].subnets[0].natGateway.id: `{gateway}` names no NAT \
             gateway of nat-gateways.json\n",
            dir.path().display()
        )
    );
}
