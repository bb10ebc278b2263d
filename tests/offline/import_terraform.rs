//! `vnetd import terraform`: each configuration under
//! `tests/import/terraform/<case>/` must import to exactly its
//! `expected.yaml`, which `vnetd check` must accept; each broken one under
//! `tests/import/terraform/errors/<case>/` must be refused at the exact
//! `file:line`, naming the expression, by the library and by the binary
//! (exit 1, the message on stderr, nothing on stdout).
//!
//! `VNETD_BLESS=1 cargo test --test import_terraform` rewrites the
//! expected files from what the import gives now; read the diff before
//! committing it.

use std::path::{Path, PathBuf};
use std::process::Command;

const CASES_DIR: &str = "tests/import/terraform";

/// A case's directory, as given to the importer: relative to the crate,
/// where cargo runs the tests, so the header names it the same way.
pub(super) fn case_dir(case: &str) -> PathBuf {
    Path::new(CASES_DIR).join(case)
}

/// `--var`s of a case: its `vars` file, one NAME=VALUE a line.
fn case_vars(case: &str) -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string(case_dir(case).join("vars")) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (name, value) = l.split_once('=').expect("vars lines are NAME=VALUE");
            (name.to_string(), value.to_string())
        })
        .collect()
}

pub(super) fn vnetd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vnetd"))
        .args(args)
        .output()
        .expect("vnetd runs")
}

/// The first line where two texts differ, for a readable failure.
fn first_difference(expected: &str, got: &str) -> String {
    for (n, (e, g)) in expected.lines().zip(got.lines()).enumerate() {
        if e != g {
            return format!("line {}:\n  expected: {e}\n  got:      {g}", n + 1);
        }
    }
    format!(
        "lengths differ: expected {} lines, got {}",
        expected.lines().count(),
        got.lines().count()
    )
}

fn imports_as_expected(case: &str) {
    let dir = case_dir(case);
    let vars = case_vars(case);
    let got = vnetd::import::terraform_topology(&dir, &vars)
        .unwrap_or_else(|e| panic!("{case}: the import failed: {e}"));
    if let Err(errors) = vnetd::topology::parse_str(case, &got) {
        let listed: Vec<String> = errors.iter().map(|d| d.to_string()).collect();
        panic!(
            "{case}: vnetd refuses the import:\n{}\n{got}",
            listed.join("\n")
        );
    }
    let expected_path = dir.join("expected.yaml");
    if std::env::var_os("VNETD_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&expected_path, &got).expect("expected.yaml is writable");
        return;
    }
    let expected = std::fs::read_to_string(&expected_path)
        .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
    assert!(
        expected == got,
        "{case}: the import differs from expected.yaml, at {}\n--- got:\n{got}",
        first_difference(&expected, &got)
    );

    // The binary prints the same text, and nothing else.
    let mut args = vec!["import", "terraform", dir.to_str().unwrap()];
    let pairs: Vec<String> = vars.iter().map(|(n, v)| format!("{n}={v}")).collect();
    for pair in &pairs {
        args.extend(["--var", pair.as_str()]);
    }
    let out = vnetd(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{case}: stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        expected,
        "{case}: stdout"
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{case}: stderr");
}

#[test]
fn hub_spoke_nva() {
    imports_as_expected("hub-spoke-nva");
}

/// DNS servers, Private DNS zones with every record type and their links,
/// and Private Endpoints with their DNS zone groups (one Dynamic, one to a
/// kind of resource vnetd does not place, listed as ignored).
#[test]
fn private_endpoints() {
    imports_as_expected("private-endpoints");
}

/// A record set naming a Dynamic endpoint's address, known only after
/// apply, is left out and listed with the reason; the rest imports, the
/// endpoint on the first free address of its subnet.
#[test]
fn record_of_a_dynamic_endpoint() {
    imports_as_expected("record-of-a-dynamic-endpoint");
    let text =
        std::fs::read_to_string(case_dir("record-of-a-dynamic-endpoint").join("expected.yaml"))
            .unwrap();
    assert!(
        text.contains(
            "#   azurerm_private_dns_a_record.storage (records[0] is known only after apply: it \
             comes from azurerm_private_endpoint.st.private_service_connection[0].\
             private_ip_address) (main.tf:44)\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("    private_ip_address: 10.0.3.4\n"),
        "{text}"
    );
}

#[test]
fn nsg_asg() {
    imports_as_expected("nsg-asg");
}

#[test]
fn count_foreach() {
    imports_as_expected("count-foreach");
}

#[test]
fn ilb_ha_nva() {
    imports_as_expected("ilb-ha-nva");
}

/// ExpressRoute circuits with their private peering, Global Reach, and an
/// Azure VMware Solution private cloud connected by its authorization.
#[test]
fn expressroute_avs() {
    imports_as_expected("expressroute-avs");
}

#[test]
fn vpn_gateway() {
    imports_as_expected("vpn-gateway");
}

/// Two local network gateways for the same address space, with BGP and
/// one ASN: devices in front of one network, imported as one site with a
/// router each, which the gateway meets four times (two instances, two
/// devices).
#[test]
fn dual_device_vpn() {
    imports_as_expected("dual-device-vpn");
    let text = std::fs::read_to_string(case_dir("dual-device-vpn").join("expected.yaml")).unwrap();
    let topo = vnetd::topology::parse_str("expected.yaml", &text)
        .unwrap()
        .topology;
    assert_eq!(topo.sites.len(), 1);
    let routers: Vec<&str> = topo
        .sites
        .iter()
        .next()
        .unwrap()
        .routers
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(routers, ["onprem-vpn1", "onprem-vpn2"]);
    let model = vnetd::policy::bgp::BgpModel::of(&topo);
    let gateway = topo.gateways.position(|g| g.name == "hub-vpngw").unwrap();
    let connected: Vec<String> = (0..2)
        .flat_map(|i| model.sessions(gateway, i))
        .filter(|s| s.state == "Connected")
        .map(|s| s.neighbor.to_string())
        .collect();
    assert_eq!(
        connected,
        [
            "10.52.255.253",
            "10.52.255.254",
            "10.52.255.253",
            "10.52.255.254"
        ]
    );
}

/// Random suffixes import as placeholders, a local module is followed
/// with its inputs and outputs (with `for_each`), a registry module is
/// not (its outputs are unknown and only name a NIC).
#[test]
fn modules_random() {
    imports_as_expected("modules-random");
}

#[test]
fn azurerm_v3() {
    imports_as_expected("azurerm-v3");
}

#[test]
fn azurerm_v4() {
    imports_as_expected("azurerm-v4");
}

#[test]
fn json_syntax() {
    imports_as_expected("json-syntax");
}

/// An Azure Firewall in a module, with a policy, a rule collection group,
/// an IP group, and a route to the firewall's address through a module
/// output and a local.
#[test]
fn hub_spoke_firewall() {
    imports_as_expected("hub-spoke-firewall");
}

/// Classic rule collections, written as a policy of the importer's own
/// with the firewall's DNS proxy; application rules (an FQDN tag without
/// a protocol); service tags left out; an IP group with a separate CIDR; a classic DNAT
/// rule to the firewall's public IP, whose address vnetd gives.
#[test]
fn firewall_classic() {
    imports_as_expected("firewall-classic");
}

/// A Premium policy with its DNS proxy and custom servers, application
/// rule collections (FQDNs with a wildcard, an FQDN tag, a web category,
/// URLs, TLS inspection, headers and destination addresses left out with
/// a comment) and a network rule with an FQDN.
#[test]
fn firewall_policy_fqdns() {
    imports_as_expected("firewall-policy-fqdns");
}

/// The Internet edge before apply: public IPs without their addresses,
/// prefixes left out, a NAT gateway, default outbound access, NICs' and a
/// firewall's public IPs, DNAT rules to the firewall's public IP (and one
/// to a Dynamic NIC left out). The state and az dump of the same network
/// are `import_edge`'s.
#[test]
fn internet_edge() {
    imports_as_expected("internet-edge");
}

/// Service endpoints and a policy on a subnet, storage accounts' rules (a
/// separate resource) and public access, a key vault's ACLs: all read.
#[test]
fn service_endpoints() {
    imports_as_expected("service-endpoints");
    let text =
        std::fs::read_to_string(case_dir("service-endpoints").join("expected.yaml")).unwrap();
    for line in [
        "        service_endpoints: [Microsoft.Storage, Microsoft.KeyVault]\n",
        "        service_endpoint_policy_ids: [web-storage-only]\n",
        "    public_network_access_enabled: false\n",
        "      virtual_network_subnet_ids: [app/web]\n",
        "        service_resources: [stcontosodata, stcontosolocked]\n",
    ] {
        assert!(text.contains(line), "{line}");
    }
    assert!(!text.contains("azurerm_storage_account"), "{text}");
}

/// A public Standard load balancer: frontends on public IPs, a rule that
/// gives up its implicit SNAT, an outbound rule, and a frontend on a
/// public IP prefix left out. Its state and az dump are
/// `import_public_lb`'s.
#[test]
fn public_load_balancer() {
    imports_as_expected("public-load-balancer");
}

/// An Azure Route Server with two BGP connections to the NICs of two NVAs,
/// which are written without a daemon of vnetd's.
#[test]
fn route_server() {
    imports_as_expected("route-server");
}

/// A Virtual WAN of three hubs, two secured with routing intent, one
/// isolating its VNets with custom route tables (see
/// `offline/import_virtual_wan.rs`).
#[test]
fn virtual_wan() {
    imports_as_expected("virtual-wan");
}

/// The route to the firewall imports as the address vnetd gives the
/// firewall, so the expectations of `config/hub-spoke-firewall.yaml`, the
/// same network written by hand, hold on the import: traffic between the
/// spokes goes through the firewall and meets its policy.
#[test]
fn the_imported_firewall_is_the_hand_written_one() {
    let imported = vnetd::import::terraform_topology(&case_dir("hub-spoke-firewall"), &[])
        .expect("hub-spoke-firewall imports");
    let example = std::fs::read_to_string("config/hub-spoke-firewall.yaml").unwrap();
    let expectations = &example[example.find("\nexpectations:\n").unwrap()..];
    let expectations = &expectations[..expectations.find("\n\nvnets:").unwrap() + 1];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lab.yaml");
    std::fs::write(&path, format!("{imported}{expectations}")).unwrap();
    let out = vnetd(&["check", path.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("1 Azure Firewalls (hub-fw at 10.0.1.4), 7 expectations"),
        "{stdout}"
    );
    assert!(stdout.ends_with("7 passed, 0 failed\n"), "{stdout}");
}

/// azurerm v3's spellings, v4's and the JSON syntax make one topology:
/// the three files differ only in their comments.
#[test]
fn spellings_and_syntaxes_agree() {
    let without_comments = |case: &str| -> Vec<String> {
        vnetd::import::terraform_topology(&case_dir(case), &[])
            .unwrap_or_else(|e| panic!("{case}: {e}"))
            .lines()
            .map(|l| l.split(" #").next().unwrap_or_default().to_string())
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect()
    };
    let v4 = without_comments("azurerm-v4");
    assert!(v4.iter().any(|l| l.contains("floating_ip_enabled: true")));
    assert_eq!(without_comments("azurerm-v3"), v4);
    assert_eq!(without_comments("json-syntax"), v4);
}

/// The input order of resources changes nothing but the Dynamic
/// allocation, which follows it: here every file of hub-spoke-nva in one,
/// its blocks reversed, gives the same file but for the source comments.
#[test]
fn output_does_not_depend_on_block_order() {
    let source = case_dir("hub-spoke-nva");
    let tmp = tempfile::tempdir().unwrap();
    let mut blocks: Vec<String> = Vec::new();
    for name in ["compute.tf", "main.tf"] {
        let text = std::fs::read_to_string(source.join(name)).unwrap();
        // Top-level blocks start at column 0 and end with a `}` line.
        let mut current = String::new();
        for line in text.lines() {
            if line.starts_with('#') || (current.is_empty() && line.trim().is_empty()) {
                continue;
            }
            current.push_str(line);
            current.push('\n');
            if line == "}" {
                blocks.push(std::mem::take(&mut current));
            }
        }
    }
    blocks.reverse();
    std::fs::write(tmp.path().join("all.tf"), blocks.join("\n")).unwrap();
    let strip = |text: &str| -> String {
        text.lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .map(|l| l.split("  # ").next().unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let reordered = vnetd::import::terraform_topology(tmp.path(), &[]).unwrap();
    let original = vnetd::import::terraform_topology(&source, &[]).unwrap();
    assert_eq!(strip(&reordered), strip(&original));
}

/// A broken configuration: where the import must stop, and why.
struct Broken {
    case: &'static str,
    vars: &'static [(&'static str, &'static str)],
    location: &'static str,
    message: &'static str,
}

const BROKEN: &[Broken] = &[
    Broken {
        case: "circuit-without-peering",
        vars: &[],
        location: "main.tf:1",
        message: "circuit `dc1-circuit` has no AzurePrivatePeering \
                  (azurerm_express_route_circuit_peering): vnetd emulates the private peering",
    },
    Broken {
        case: "unsupported-function",
        vars: &[],
        location: "main.tf:1",
        message: "azurerm_virtual_network `hub`: `address_space[0]` cannot be known here (it \
                  comes from file()): vnetd does not evaluate the function `file` (it \
                  evaluates cidrhost, cidrsubnet, coalesce, concat, contains, distinct, element, \
                  flatten, format, join, jsonencode, keys, length, lookup, lower, merge, one, \
                  replace, split, substr, title, tolist, tonumber, toset, tostring, trimprefix, \
                  trimspace, trimsuffix, upper, values), and the topology needs the value",
    },
    Broken {
        case: "data-reference",
        vars: &[],
        location: "main.tf:10",
        message: "azurerm_virtual_network `hub`: `address_space[0]` is known only after apply \
                  (it comes from local.hub_range <- \
                  data.azurerm_virtual_network.existing.address_space[0]), and the topology \
                  needs its value: write it in the configuration",
    },
    Broken {
        case: "missing-variable",
        vars: &[("location", "northeurope")],
        location: "main.tf:10",
        message: "azurerm_virtual_network `hub`: `address_space[0]` has no value (it comes \
                  from var.hub_range), and the topology needs it: variable \"hub_range\" has \
                  no default and no value: give it with --var hub_range=VALUE",
    },
    Broken {
        case: "dangling-reference",
        vars: &[],
        location: "main.tf:22",
        message: "`azurerm_subnet.nope.id`: no resource \"azurerm_subnet\" \"nope\" is declared",
    },
    Broken {
        case: "cycle",
        vars: &[],
        location: "main.tf:1",
        message: "these refer to each other, so none can be evaluated first: \
                  azurerm_virtual_network.hub -> azurerm_subnet.nva -> \
                  azurerm_virtual_network.hub",
    },
    Broken {
        case: "unknown-vnet",
        vars: &[],
        location: "main.tf:9",
        message: "subnet `nva` is in VNet `hub-made-elsewhere`, which the input does not declare",
    },
    Broken {
        case: "syntax",
        vars: &[],
        location: "main.tf:4",
        message: "HCL syntax: expected `]`",
    },
    Broken {
        case: "unknown-count",
        vars: &[],
        location: "main.tf:7",
        message: "`length(data.azurerm_virtual_network.shared.subnets)`: count is known only \
                  after apply (it comes from length(...) <- \
                  data.azurerm_virtual_network.shared.subnets); Terraform too needs it \
                  before: give the value in the configuration",
    },
    Broken {
        case: "firewall-policy-and-classic-rules",
        vars: &[],
        location: "main.tf:28",
        message: "Azure Firewall `hub-fw` has the policy `hub-policy` and classic rules (this \
                  rule collection): Azure does not allow both on one firewall",
    },
    Broken {
        case: "network-fqdns-without-dns-proxy",
        vars: &[],
        location: "main.tf:21",
        message: "network rule `api` has destination_fqdns, which Azure Firewall resolves \
                  through its DNS proxy: Azure refuses FQDNs in network rules while the proxy \
                  is off; set dns { proxy_enabled = true } on policy `hub-policy`",
    },
    Broken {
        case: "classic-network-fqdns-without-dns-proxy",
        vars: &[],
        location: "main.tf:28",
        message: "network rule `ntp` has destination_fqdns, which Azure Firewall resolves \
                  through its DNS proxy: Azure refuses FQDNs in network rules while the proxy \
                  is off; set dns_proxy_enabled = true on Azure Firewall `hub-fw`",
    },
    Broken {
        case: "route-server-dynamic-peer",
        vars: &[],
        location: "main.tf:41",
        message: "azurerm_route_server_bgp_connection `nva`: `peer_ip` is known only after \
                  apply (it comes from azurerm_network_interface.nva.private_ip_address), and \
                  the topology needs its value: write it in the configuration",
    },
    Broken {
        case: "module-argument",
        vars: &[],
        location: "main.tf:1",
        message: "module \"hub\" (./modules/vnet) declares no variable \"address_space\"",
    },
];

#[test]
fn broken_configurations_are_refused_where_they_break() {
    for b in BROKEN {
        let dir = case_dir(&format!("errors/{}", b.case));
        let vars: Vec<(String, String)> = b
            .vars
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        let err = vnetd::import::terraform_topology(&dir, &vars)
            .expect_err(&format!("{}: the import must fail", b.case));
        assert_eq!(
            (err.location.as_str(), err.message.as_str()),
            (b.location, b.message),
            "{}",
            b.case
        );

        let mut args = vec!["import", "terraform", dir.to_str().unwrap()];
        let pairs: Vec<String> = b.vars.iter().map(|(n, v)| format!("{n}={v}")).collect();
        for pair in &pairs {
            args.extend(["--var", pair.as_str()]);
        }
        let out = vnetd(&args);
        assert_eq!(out.status.code(), Some(1), "{}: exit code", b.case);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "",
            "{}: stdout",
            b.case
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("{}/{}: {}\n", dir.display(), b.location, b.message),
            "{}: stderr",
            b.case
        );
    }
}

#[test]
fn a_var_the_configuration_does_not_declare_is_refused() {
    let dir = case_dir("hub-spoke-nva");
    let vars = [("nope".to_string(), "1".to_string())];
    let err = vnetd::import::terraform_topology(&dir, &vars).unwrap_err();
    assert_eq!(err.location, "--var nope=1");
    assert_eq!(
        err.message,
        "no variable \"nope\" is declared in the configuration"
    );
    let out = vnetd(&[
        "import",
        "terraform",
        dir.to_str().unwrap(),
        "--var",
        "nope=1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "--var nope=1: no variable \"nope\" is declared in the configuration\n"
    );
}

#[test]
fn usage_errors_exit_2_and_a_missing_directory_is_refused() {
    let out = vnetd(&["import", "terraform", CASES_DIR, "--var", "no-equals-sign"]);
    assert_eq!(out.status.code(), Some(2));
    let out = vnetd(&[
        "import",
        "terraform",
        "tests/import/terraform/does-not-exist",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(
            "tests/import/terraform/does-not-exist: cannot read the directory: No such file"
        ),
        "{stderr}"
    );
    let empty = tempfile::tempdir().unwrap();
    let err = vnetd::import::terraform_topology(empty.path(), &[]).unwrap_err();
    assert_eq!(err.message, "no .tf or .tf.json file in the directory");
}
