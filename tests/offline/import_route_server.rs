//! Azure Route Server imported both ways: the Terraform configuration
//! `tests/import/terraform/route-server` (a hub whose RouteServerSubnet is
//! 10.0.1.0/26, two NVAs in its `nva` subnet, the Route Server with
//! branch-to-branch traffic on and two BGP connections) and the `az` dump
//! `tests/import/az/route-server` of the same network give the same
//! `route_servers`, with the NVAs' NICs written without a `bgp_speaker`
//! (their daemons are their owners'), and `vnetd check` accepts the file.
//! Broken dumps are refused at the place of the problem.

use super::import_state::{imported, refused, repo, vnetd, without_comments};
use serde_json::{json, Value};
use std::path::Path;

const TERRAFORM_DIR: &str = "tests/import/terraform/route-server";
const AZ_DIR: &str = "tests/import/az/route-server";

/// What both imports write for the Route Server, comments aside.
const ROUTE_SERVERS: &str = "route_servers:
  - name: hub-rs
    virtual_network: hub
    branch_to_branch_traffic: true
    hub_routing_preference: ASPath
    bgp_connections:
      - {name: nva1, peer_ip: 10.0.2.4, peer_asn: 65001}
      - {name: nva2, peer_ip: 10.0.2.5, peer_asn: 65001}
";

/// `vnetd check` on `text`, written to a file: its stdout, after exit 0.
fn checked(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lab.yaml");
    std::fs::write(&path, text).unwrap();
    let out = vnetd(&["check", path.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}\n{text}");
    assert!(!stderr.contains("warning"), "{stderr}");
    stdout
}

/// A copy of the az dump in a temporary directory, `change` applied to
/// one of its files.
fn az_copy_with(file: &str, change: impl FnOnce(&mut Value)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo(AZ_DIR)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let text = std::fs::read_to_string(repo(&format!("{AZ_DIR}/{file}"))).unwrap();
    let mut document: Value = serde_json::from_str(&text).unwrap();
    change(&mut document);
    let text = serde_json::to_string_pretty(&document).unwrap();
    std::fs::write(dir.path().join(file), text).unwrap();
    dir
}

/// The line (from 1) of the first line of `file` in `dir` holding `needle`.
fn line_with(dir: &Path, file: &str, needle: &str) -> usize {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let found = text.lines().position(|l| l.contains(needle));
    found.unwrap_or_else(|| panic!("{needle} is not in {file}")) + 1
}

/// The Route Server and its connections, exactly, each after the comment
/// naming its block; the NICs of the peers without vnetd's BGP keys, and
/// a comment saying why; `vnetd check` accepts the file as it is.
#[test]
fn terraform_writes_the_route_server_and_its_bgp_connections() {
    let text = imported(&["import", "terraform", TERRAFORM_DIR]);
    let block = &text[text
        .find("\nroute_servers:\n")
        .expect("a route_servers block")
        + 1..];
    assert_eq!(
        block,
        "route_servers:
  # main.tf:63
  - name: hub-rs
    virtual_network: hub
    branch_to_branch_traffic: true
    hub_routing_preference: ASPath
    bgp_connections:
      # main.tf:74
      - {name: nva1, peer_ip: 10.0.2.4, peer_asn: 65001}
      # main.tf:74
      - {name: nva2, peer_ip: 10.0.2.5, peer_asn: 65001}
"
    );
    assert!(!text.contains("bgp_speaker:"), "{text}");
    assert!(
        text.contains("# The appliances' BGP daemons are not written: a NIC's bgp_speaker and\n"),
        "{text}"
    );
    // Read and left out: the Route Server's public IP, to which the lab
    // gives no public address, is listed with what holds it.
    assert!(
        text.contains(
            "#   azurerm_public_ip.hub-rs-ip (main.tf:55): held by azurerm_route_server \
             `hub-rs`: the lab gives it no public address\n"
        ),
        "{text}"
    );
    let stdout = checked(&text);
    assert!(
        stdout.contains(": ok (1 VNets, 0 peering links, 2 NICs"),
        "{stdout}"
    );

    // The file as vnetd reads it: both peers are the NVAs' NICs, which run
    // no daemon of vnetd's.
    let t = vnetd::topology::parse_str("lab.yaml", &text)
        .unwrap()
        .topology;
    let rs = t.route_servers.iter().next().expect("a Route Server");
    assert!(rs.branch_to_branch_traffic);
    assert_eq!(rs.hub_routing_preference.as_str(), "ASPath");
    let peers: Vec<String> = (rs.bgp_connections.iter())
        .map(|c| {
            format!(
                "{} {} {:?}",
                c.name,
                c.peer_ip,
                c.nic.map(|n| &t.nics[n].name)
            )
        })
        .collect();
    assert_eq!(
        peers,
        [
            "nva1 10.0.2.4 Some(\"nva1\")",
            "nva2 10.0.2.5 Some(\"nva2\")"
        ]
    );
    assert!(t.appliance_speakers.is_empty());
    let instances: Vec<String> = rs.instances.iter().map(ToString::to_string).collect();
    assert_eq!(instances, ["10.0.1.4", "10.0.1.5"]);
}

/// `az network routeserver list` and `peering list` give the file the
/// configuration gives, comments aside, and it passes `vnetd check`.
#[test]
fn the_az_dump_imports_as_the_terraform_configuration() {
    let az = imported(&["import", "az", AZ_DIR]);
    let terraform = imported(&["import", "terraform", TERRAFORM_DIR]);
    assert_eq!(without_comments(&az), without_comments(&terraform));
    assert!(without_comments(&az).ends_with(ROUTE_SERVERS), "{az}");
    checked(&az);
}

/// The CLI prints a Route Server's IP configurations as references: with
/// no subnet listing one, the RouteServerSubnet holding its
/// virtualRouterIps is its subnet; with neither, the dump is refused at
/// the Route Server.
#[test]
fn an_az_route_server_is_found_in_its_subnet_or_refused() {
    let unlisted = |vnets: &mut Value| {
        let subnets = vnets[0]["subnets"].as_array_mut().unwrap();
        subnets[0]
            .as_object_mut()
            .unwrap()
            .remove("ipConfigurations");
    };
    let dir = az_copy_with("vnets.json", unlisted);
    let text = imported(&["import", "az", dir.path().to_str().unwrap()]);
    assert!(without_comments(&text).ends_with(ROUTE_SERVERS), "{text}");

    let dir = az_copy_with("vnets.json", |vnets| {
        unlisted(vnets);
        vnets[0]["subnets"][0]["addressPrefix"] = json!("10.0.3.0/26");
    });
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    assert_eq!(
        stderr,
        format!(
            "{}/route-servers.json:{}: [0]: Route Server `hub-rs`: no subnet of vnets.json is \
             its RouteServerSubnet (none lists one of its ipConfigurations, and no \
             RouteServerSubnet holds its virtualRouterIps)\n",
            dir.path().display(),
            line_with(dir.path(), "route-servers.json", "{")
        )
    );
}

/// A peering must be one of a listed Route Server's, and what vnetd
/// refuses of it (Azure's own ASN) is placed at its object.
#[test]
fn an_az_peering_is_refused_where_it_is_wrong() {
    let dir = az_copy_with("route-servers.json", |servers| *servers = json!([]));
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    let server = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-rs/\
                  providers/Microsoft.Network/virtualHubs/hub-rs";
    assert_eq!(
        stderr,
        format!(
            "{}/route-server-peerings.json:{}: [0].id: `{server}` names no Route Server of \
             route-servers.json\n",
            dir.path().display(),
            line_with(
                dir.path(),
                "route-server-peerings.json",
                "bgpConnections/nva1"
            )
        )
    );

    let dir = az_copy_with("route-server-peerings.json", |peerings| {
        peerings[1]["peerAsn"] = json!(65515);
    });
    let stderr = refused(&["import", "az", dir.path().to_str().unwrap()]);
    let line = line_with(
        dir.path(),
        "route-server-peerings.json",
        "bgpConnections/nva2",
    );
    assert!(
        stderr.starts_with(&format!(
            "{}/route-server-peerings.json:{line}: {server}/bgpConnections/nva2: vnetd refuses \
             what this imports to: ",
            dir.path().display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("65515"), "{stderr}");
}
