//! ExpressRoute and Azure VMware Solution imported both ways: the
//! Terraform configuration `tests/import/terraform/expressroute-avs` and
//! the `az` dump `tests/import/az/expressroute-avs` of the same network
//! give the same circuits (with their customer edge sites), private
//! peerings, private cloud and Global Reach link, and the private cloud's
//! circuit, which Azure keeps under a name of its own, is named like the
//! cloud in both.

use vnetd::topology::{parse_str, Topology};

fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// What a topology holds of ExpressRoute, in words.
fn express_route(t: &Topology) -> Vec<String> {
    let mut out = Vec::new();
    for c in &t.circuits {
        let p = &c.private_peering;
        out.push(format!(
            "circuit {} site {} {} {} {} Mbps, AS {} {} {} vlan {}",
            c.name,
            t.sites[c.site].name,
            c.service_provider_name,
            c.peering_location,
            c.bandwidth_mbps,
            p.peer_asn,
            p.primary,
            p.secondary,
            p.vlan_id
        ));
    }
    for s in &t.sites {
        let ranges: Vec<String> = s.address_space.iter().map(ToString::to_string).collect();
        out.push(format!(
            "site {} {} AS {:?}",
            s.name,
            ranges.join(","),
            s.first_router().asn
        ));
    }
    for g in &t.global_reach {
        out.push(format!(
            "global reach {} {} {} {}",
            g.name, t.circuits[g.circuit].name, t.circuits[g.peer_circuit].name, g.address_prefix
        ));
    }
    for p in &t.private_clouds {
        out.push(format!(
            "private cloud {} {} {} {} circuit {}",
            p.name, p.location, p.sku, p.network_block, t.circuits[p.circuit].name
        ));
    }
    out
}

#[test]
fn terraform_and_az_give_the_same_circuits_private_cloud_and_global_reach() {
    let terraform =
        vnetd::import::terraform_topology(&repo("tests/import/terraform/expressroute-avs"), &[])
            .unwrap();
    let az = vnetd::import::az::topology(&repo("tests/import/az/expressroute-avs"), "az").unwrap();
    let terraform = parse_str("terraform.yaml", &terraform).unwrap().topology;
    let az = parse_str("az.yaml", &az).unwrap().topology;
    let want = [
        "circuit dc1-circuit site dc1-circuit-edge Equinix Amsterdam 1000 Mbps, AS 65020 172.16.0.0/30 172.16.0.4/30 vlan 100",
        "circuit avs1 site avs1 Azure VMware Solution  10000 Mbps, AS 65101 10.100.0.224/30 10.100.0.228/30 vlan 0",
        "site dc1-circuit-edge 172.16.0.1/32 AS Some(65020)",
        "site avs1 10.100.0.0/22 AS Some(65101)",
        "global reach dc1-avs dc1-circuit avs1 192.168.8.0/29",
        "private cloud avs1 westeurope av36 10.100.0.0/22 circuit avs1",
    ];
    assert_eq!(express_route(&terraform), want);
    assert_eq!(express_route(&az), want);
    // Terraform has the gateway's connections too (`az` is not read for
    // gateways): the private cloud's by its circuit.
    let connections: Vec<(String, String)> = terraform
        .connections
        .iter()
        .map(|c| {
            let peer = match c.peer {
                vnetd::topology::ConnectionPeer::Circuit(e) => terraform.circuits[e].name.clone(),
                _ => String::new(),
            };
            (c.name.clone(), peer)
        })
        .collect();
    assert_eq!(
        connections,
        [
            ("hub-to-avs".to_string(), "avs1".to_string()),
            ("hub-to-dc1".to_string(), "dc1-circuit".to_string())
        ]
    );
}

#[test]
fn a_global_reach_connection_without_its_prefix_is_refused_at_its_path() {
    let dir = tempfile::tempdir().unwrap();
    for file in [
        "vnets.json",
        "express-route-circuits.json",
        "vmware-private-clouds.json",
    ] {
        let text =
            std::fs::read_to_string(repo(&format!("tests/import/az/expressroute-avs/{file}")))
                .unwrap();
        let text = if file == "express-route-circuits.json" {
            text.replace("\"addressPrefix\": \"192.168.8.0/29\",", "")
        } else {
            text
        };
        std::fs::write(dir.path().join(file), text).unwrap();
    }
    let err = vnetd::import::az::topology(dir.path(), "az").unwrap_err();
    // At the connection (the line that opens it), by its path.
    let text = std::fs::read_to_string(dir.path().join("express-route-circuits.json")).unwrap();
    let line = text
        .lines()
        .position(|l| l.contains("\"connections\": ["))
        .unwrap()
        + 2;
    assert!(
        err.location
            .ends_with(&format!("express-route-circuits.json:{line}")),
        "{}: {}",
        err.location,
        err.message
    );
    assert_eq!(
        err.message,
        "[0].peerings[0].connections[0]: Global Reach connection `dc1-avs` has no `addressPrefix` (its /29)"
    );
}
