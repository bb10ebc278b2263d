//! Appliances peering with a virtual hub's router
//! (`azurerm_virtual_hub_bgp_connection`), offline: Microsoft's "Route
//! traffic through an NVA" scenario written the way its "BGP peering with
//! a virtual hub" page offers (each NVA announces its spokes to its hub
//! over BGP instead of static routes in every table and on the
//! connections) holds every cell of the same connectivity matrix; the hub
//! tables carry the spokes as `HubBgpConnection` in the NVA's hub and as
//! `Remote Hub` with `65520-65520` before the NVA's ASN in the other,
//! exactly as the BGP model predicts the router's instances learn; the
//! NVA's own VNet is not sent back what its NVA announced; and the router
//! announces the hub's VNets to the NVA.

use crate::common::virtual_wan::nva_scenario_with_bgp;
use crate::virtual_wan::{check_reach, snapshot, split, SCENARIOS};
use std::collections::BTreeSet;
use vnetd::policy::bgp::{expected_learned, route_server_prefixes};
use vnetd::policy::learned::LearnedRoutes;
use vnetd::policy::virtual_wan::{hub_table_routes, vnet_hub_routes};
use vnetd::topology::{Topology, VirtualHubIdx};

/// The BGP design and the scenario's expectations.
fn bgp_design() -> (String, yaml_rust2::Yaml) {
    let (_, text) = SCENARIOS
        .iter()
        .find(|(name, _)| *name == "route-through-nva")
        .unwrap();
    let (topology, expected) = split(text);
    (nva_scenario_with_bgp(&topology), expected)
}

fn hub(topo: &Topology, name: &str) -> VirtualHubIdx {
    let h = topo.virtual_hubs.iter().position(|h| h.name == name);
    VirtualHubIdx::from(h.unwrap())
}

/// `prefix type as-path` of each row of `hub`'s `defaultRouteTable`.
fn table(topo: &Topology, learned: &LearnedRoutes, name: &str) -> BTreeSet<String> {
    (hub_table_routes(topo, learned, hub(topo, name), 0).iter())
        .map(|r| {
            format!(
                "{} {} {}",
                r.prefix,
                r.hop_type().as_str(),
                r.as_path_text()
            )
        })
        .collect()
}

#[test]
fn the_nva_scenario_with_bgp_holds_every_cell_of_the_static_design() {
    let (text, expected) = bgp_design();
    let loaded = vnetd::topology::parse_str("bgp.yaml", &text).unwrap_or_else(|e| panic!("{e:?}"));
    assert!(loaded.warnings.is_empty(), "{:#?}", loaded.warnings);
    let snap = snapshot("route-through-nva-bgp", &text);
    let (checked, _) = check_reach("route-through-nva-bgp", &snap, &expected);
    assert!(checked >= 60, "only {checked} cells");
    // Without the sessions nothing carries the spokes: the design needs
    // what the appliances announce.
    let silent = vnetd::snapshot::Snapshot::compile_learned(
        loaded.topology.clone(),
        LearnedRoutes::default(),
        1,
    );
    let t = vnetd::diagnostics::trace_words(&silent, "vm-vnet1", "10.2.1.4", Some("icmp"), None)
        .unwrap();
    assert_ne!(t.verdict, "Allow", "{t:?}");
}

#[test]
fn the_hub_tables_carry_what_the_appliances_announce_with_their_paths() {
    let (text, _) = bgp_design();
    let topo = vnetd::topology::parse_str("bgp.yaml", &text)
        .unwrap()
        .topology;
    let learned = expected_learned(&topo);
    let hub1 = table(&topo, &learned, "hub1");
    let hub2 = table(&topo, &learned, "hub2");
    for row in [
        "10.2.1.0/24 HubBgpConnection 65020",
        "10.2.2.0/24 HubBgpConnection 65020",
        "10.4.1.0/24 Remote Hub 65520-65520-65040",
        "10.4.2.0/24 Remote Hub 65520-65520-65040",
        "10.2.0.0/24 Virtual Network Connection ",
    ] {
        assert!(hub1.contains(row), "hub1 lacks {row}: {hub1:#?}");
    }
    for row in [
        "10.4.1.0/24 HubBgpConnection 65040",
        "10.2.1.0/24 Remote Hub 65520-65520-65020",
    ] {
        assert!(hub2.contains(row), "hub2 lacks {row}: {hub2:#?}");
    }
    // The NVA's own VNet is not sent back its NVA's routes; vnet1 is.
    let vnet = |name: &str| {
        let v = topo.vnets.iter().position(|v| v.name == name).unwrap();
        let (_, _, rows) = vnet_hub_routes(&topo, &learned, v.into()).unwrap();
        rows.iter()
            .map(|r| r.prefix.to_string())
            .collect::<BTreeSet<_>>()
    };
    assert!(
        !vnet("vnet2").contains("10.2.1.0/24"),
        "{:?}",
        vnet("vnet2")
    );
    assert!(vnet("vnet2").contains("10.4.1.0/24"));
    assert!(vnet("vnet1").contains("10.2.1.0/24"));
    // The router announces its hub's prefix and the VNets of the WAN to
    // the appliance, and refuses only the hub's prefix.
    let router = topo.virtual_hubs[hub(&topo, "hub1")].router.unwrap();
    assert_eq!(topo.route_servers[router].name, "hub1-router");
    let (announced, refused) = route_server_prefixes(&topo, &learned, router);
    let announced: Vec<String> = announced.iter().map(ToString::to_string).collect();
    for p in [
        "10.100.0.0/23",
        "10.1.0.0/16",
        "10.2.0.0/24",
        "10.3.0.0/16",
        "10.4.0.0/24",
    ] {
        assert!(announced.contains(&p.to_string()), "{p}: {announced:?}");
    }
    assert!(
        !announced.contains(&"10.2.1.0/24".to_string()),
        "{announced:?}"
    );
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].to_string(), "10.100.0.0/23");
}

/// A Route Server of the file named as vnetd would name the hub's router
/// is no reason to refuse the file (Azure has no such name): the router
/// takes the next free name.
#[test]
fn the_hub_router_takes_a_free_name() {
    let (text, _) = bgp_design();
    let text = text.replacen(
        "vnets:\n",
        "vnets:\n  - name: rsvnet\n    address_space: [10.250.0.0/24]\n    location: eastus\n    \
         subnets:\n      - {name: RouteServerSubnet, address_prefixes: [10.250.0.0/26]}\n",
        1,
    ) + "\nroute_servers:\n  - {name: hub1-router, virtual_network: rsvnet}\n";
    let topo = vnetd::topology::parse_str("named.yaml", &text)
        .unwrap_or_else(|e| panic!("{e:?}"))
        .topology;
    let router = topo.virtual_hubs[hub(&topo, "hub1")].router.unwrap();
    assert_eq!(topo.route_servers[router].name, "hub1-router-2");
    assert!(topo
        .route_servers
        .iter()
        .any(|r| r.name == "hub1-router" && r.hub.is_none()));
}
