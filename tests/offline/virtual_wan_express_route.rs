//! Virtual WAN ExpressRoute offline: a hub's ExpressRoute gateway and its
//! connection to a circuit, checked against Azure's documented tables
//! (`docs/src/azure-behaviour.md`, "Virtual WAN", "ExpressRoute in the
//! hub"). The datacenter's prefix enters the hub's table as
//! `ExpressRouteGateway` with the path the gateway learned
//! (`12076-<customer ASN>`) and the other hub's as `Remote Hub` behind
//! `65520-65520`; spokes of both hubs reach the datacenter through the
//! hub's gateway; the circuit is sent both hubs' VNets and the VPN branch,
//! never another circuit's routes; the hub router's selection order
//! decides between ExpressRoute and VPN as Azure documents; what Azure
//! refuses is refused at its line.

use crate::common;

use common::broken_files::{assert_refused_with_words, check, Case};
use std::net::IpAddr;
use vnetd::diagnostics::trace::{trace, Trace};
use vnetd::diagnostics::{trace_query, virtual_hub};
use vnetd::policy::bgp::{expected_learned, BgpModel, SpeakerId};
use vnetd::policy::gateways::{BgpOrigin, LearnedRoute, LearnedRoutes};
use vnetd::policy::routes::effective_routes_with;
use vnetd::policy::virtual_wan::hub_table_routes;
use vnetd::snapshot::Snapshot;
use vnetd::topology::{parse_str, GatewayIdx, Topology, VirtualHubIdx};

const TAG: &str = "vwan-er";
const TWO_HUBS: &str = include_str!("../data/vwan_express_route/two-hubs.yaml");

fn topology(text: &str) -> Topology {
    let loaded = parse_str("express-route.yaml", text).unwrap_or_else(|e| panic!("{e:#?}"));
    assert!(loaded.warnings.is_empty(), "{:#?}", loaded.warnings);
    loaded.topology
}

/// The snapshot with what the BGP model predicts the gateways learn.
fn snapshot(text: &str) -> Snapshot {
    let topo = topology(text);
    let learned = expected_learned(&topo);
    Snapshot::compile_learned(topo, learned, 0)
}

fn hub(topo: &Topology, name: &str) -> VirtualHubIdx {
    (topo.virtual_hubs.iter_enumerated())
        .find_map(|(i, h)| (h.name == name).then_some(i))
        .unwrap()
}

fn gateway(topo: &Topology, name: &str) -> GatewayIdx {
    (topo.gateways.iter_enumerated())
        .find_map(|(i, g)| (g.name == name).then_some(i))
        .unwrap()
}

/// `defaultRouteTable` of `name` as `vnetd routes --hub` prints its
/// columns: prefix, type, next hop, origin (the IDs' last parts), path.
fn hub_table(snap: &Snapshot, name: &str) -> Vec<String> {
    let h = hub(&snap.topology, name);
    let last = |id: &str| id.rsplit('/').next().unwrap().to_string();
    virtual_hub::effective_routes(&snap.topology, &snap.learned, h, 0)
        .value
        .iter()
        .map(|r| {
            format!(
                "{} | {} | {} | {} | {}",
                r.address_prefixes.join(","),
                r.next_hop_type,
                last(&r.next_hops[0]),
                last(&r.route_origin),
                r.as_path
            )
        })
        .collect()
}

fn run(snap: &Snapshot, from: &str, to: &str) -> Trace {
    let query = trace_query(snap, from, to, Some("Tcp"), Some(22)).unwrap();
    trace(snap, &query).unwrap()
}

fn verdict(t: &Trace) -> String {
    match (&t.reason, &t.delivered_to) {
        (None, Some(to)) => format!("Allow to {to}"),
        (Some(reason), _) => format!("Deny {reason} at {}", t.at.as_deref().unwrap_or("-")),
        (None, None) => panic!("a trace without verdict: {t:#?}"),
    }
}

/// What instance `instance` of `gw` advertises to `peer`: `prefix path`.
fn advertised(snap: &Snapshot, gw: &str, instance: usize, peer: &str) -> Vec<String> {
    let model = BgpModel::of(&snap.topology);
    let id = SpeakerId::Instance {
        gateway: gateway(&snap.topology, gw),
        instance,
    };
    let routes = model.advertised_by(id, peer.parse().unwrap()).unwrap();
    routes
        .iter()
        .map(|r| {
            let path: Vec<String> = r.as_path.iter().map(u32::to_string).collect();
            format!("{} {}", r.prefix, path.join(" "))
        })
        .collect()
}

#[test]
fn the_datacenter_enters_the_hub_tables_as_express_route_gateway() {
    let snap = snapshot(TWO_HUBS);
    assert_eq!(
        hub_table(&snap, "hub1"),
        [
            "10.1.0.0/16 | Virtual Network Connection | spoke1-conn | spoke1-conn | ",
            "192.168.10.0/24 | VPN_S2S_Gateway | hub1-vpngw | to-branch1 | 65001",
            "172.20.0.0/16 | ExpressRouteGateway | hub1-ergw | hub1-ergw | 12076-65020",
            "10.2.0.0/16 | Remote Hub | hub2 | hub2 | 65520-65520",
        ]
    );
    assert_eq!(
        hub_table(&snap, "hub2"),
        [
            "10.1.0.0/16 | Remote Hub | hub1 | hub1 | 65520-65520",
            "192.168.10.0/24 | Remote Hub | hub1 | hub1 | 65520-65520-65001",
            "172.20.0.0/16 | Remote Hub | hub1 | hub1 | 65520-65520-12076-65020",
            "10.2.0.0/16 | Virtual Network Connection | spoke2-conn | spoke2-conn | ",
        ]
    );
    // The resource ID `az network vhub get-effective-routes` shows.
    let h = hub(&snap.topology, "hub1");
    let rows = virtual_hub::effective_routes(&snap.topology, &snap.learned, h, 0);
    let base = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/VNETD/\
                providers/Microsoft.Network/expressRouteGateways/hub1-ergw";
    assert_eq!(rows.value[2].next_hops, [base]);
    assert_eq!(rows.value[2].route_origin, base);
    // An ordinary ExpressRoute gateway of ASN 65515, two instances, in the
    // GatewaySubnet it shares with the VPN gateway (which holds .4 and .5).
    let gw = &snap.topology.gateways[gateway(&snap.topology, "hub1-ergw")];
    assert_eq!(gw.asn, 65515);
    assert_eq!(gw.throughput_mbps, 4_000);
    assert_eq!(
        snap.topology.subnet_path(gw.subnet),
        "HV_hub1/GatewaySubnet"
    );
    let instances: Vec<String> = gw.instances.iter().map(IpAddr::to_string).collect();
    assert_eq!(instances, ["10.100.0.6", "10.100.0.7"]);
    let (code, stderr, _) = check(TAG, "two-hubs", TWO_HUBS);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
}

#[test]
fn without_a_vpn_gateway_the_express_route_gateway_has_the_subnet_alone() {
    let text = TWO_HUBS
        .replace("    vpn_gateway: {name: hub1-vpngw}\n", "")
        .replace(
            "    vpn_connections:\n      - name: to-branch1\n        vpn_site: branch1\n        \
             vpn_links: [{name: link1, vpn_site_link: link1, bgp_enabled: true, shared_key: \
             lab}]\n",
            "",
        );
    let snap = snapshot(&text);
    let gw = &snap.topology.gateways[gateway(&snap.topology, "hub1-ergw")];
    let instances: Vec<String> = gw.instances.iter().map(IpAddr::to_string).collect();
    assert_eq!(instances, ["10.100.0.6", "10.100.0.7"]);
    assert_eq!(
        hub_table(&snap, "hub1")[1],
        "172.20.0.0/16 | ExpressRouteGateway | hub1-ergw | hub1-ergw | 12076-65020"
    );
}

#[test]
fn spokes_of_both_hubs_reach_the_datacenter_through_the_hub_gateway() {
    let snap = snapshot(TWO_HUBS);
    let topo = &snap.topology;
    let vm2 = topo.nics.iter().find(|n| n.name == "vm2").unwrap();
    let rows = effective_routes_with(topo, &snap.learned, vm2.subnet);
    let dc = (rows.iter())
        .find(|r| r.address_prefix.to_string() == "172.20.0.0/16")
        .expect("the spoke has the datacenter's prefix");
    assert!(dc.is_active());
    assert_eq!(dc.source.as_str(), "VirtualNetworkGateway");

    for (from, path) in [("vm1", ["hub1-ergw"]), ("vm2", ["hub1-ergw"])] {
        let t = run(&snap, from, "dc-host");
        assert_eq!(verdict(&t), "Allow to site dc1", "{from}");
        assert_eq!(t.path, path, "{from}");
        let reply = t.reply.as_deref().expect("the reply was traced");
        assert_eq!(verdict(reply), format!("Allow to {from}"));
    }
    let t = run(&snap, "dc-host", "vm2");
    assert_eq!(verdict(&t), "Allow to vm2");
    assert_eq!(t.path, ["hub1-ergw", "vm2"]);
    // Branch to ExpressRoute through the hub, with branch-to-branch.
    let t = run(&snap, "branch-host", "dc-host");
    assert_eq!(verdict(&t), "Allow to site dc1");
    assert_eq!(t.path, ["hub1-vpngw", "hub1-ergw"]);
    let text = TWO_HUBS.replace(
        "allow_branch_to_branch_traffic: true",
        "allow_branch_to_branch_traffic: false",
    );
    let t = run(&snapshot(&text), "dc-host", "branch-host");
    assert_eq!(verdict(&t), "Deny route_none at site dc1");
}

#[test]
fn the_circuit_is_sent_the_vnets_and_branches_and_the_branch_the_datacenter() {
    let snap = snapshot(TWO_HUBS);
    // Both instances, to both of the circuit's edge routers: the hub's
    // VNet and prefix, the other hub's VNet behind 65520 65520 and the
    // branch with its path; never the circuit's own prefix.
    let to_circuit = [
        "10.1.0.0/16 65515",
        "10.2.0.0/16 65515 65520 65520",
        "10.100.0.0/23 65515",
        "192.168.10.0/24 65515 65001",
    ];
    for instance in 0..2 {
        for edge in ["172.16.0.2", "172.16.0.6"] {
            assert_eq!(
                advertised(&snap, "hub1-ergw", instance, edge),
                to_circuit,
                "{instance} {edge}"
            );
        }
    }
    assert_eq!(
        advertised(&snap, "hub1-vpngw", 0, "192.168.255.1"),
        [
            "10.1.0.0/16 65515",
            "10.2.0.0/16 65515 65520 65520",
            "10.100.0.0/23 65515",
            "172.20.0.0/16 65515 12076 65020",
        ]
    );
    // Without branch-to-branch traffic, neither learns the other.
    let text = TWO_HUBS.replace(
        "allow_branch_to_branch_traffic: true",
        "allow_branch_to_branch_traffic: false",
    );
    let snap = snapshot(&text);
    let to_circuit = advertised(&snap, "hub1-ergw", 0, "172.16.0.2");
    assert_eq!(
        to_circuit,
        [
            "10.1.0.0/16 65515",
            "10.2.0.0/16 65515 65520 65520",
            "10.100.0.0/23 65515",
        ]
    );
    let to_branch = advertised(&snap, "hub1-vpngw", 0, "192.168.255.1");
    assert!(
        !to_branch.iter().any(|r| r.starts_with("172.20.")),
        "{to_branch:?}"
    );
}

/// A second datacenter on a second circuit of hub1.
fn two_circuits() -> String {
    TWO_HUBS
        .replace(
            "  - name: branch1\n    address_space",
            "  - name: dc2\n    address_space: [172.30.0.0/16]\n    router: {asn: 65030, \
             bgp_speaker: bird}\n    hosts:\n      - {name: dc2-host, private_ip_address: \
             172.30.1.10}\n  - name: branch1\n    address_space",
        )
        .replace(
            "\nvirtual_wans:",
            "  - name: dc2-circuit\n    site: dc2\n    service_provider_name: Equinix\n    \
             peering_location: Amsterdam\n    bandwidth_in_mbps: 1000\n    private_peering:\n      \
             peer_asn: 65030\n      primary_peer_address_prefix: 172.16.1.0/30\n      \
             secondary_peer_address_prefix: 172.16.1.4/30\n      vlan_id: 200\n\nvirtual_wans:",
        )
        .replace(
            "  - name: hub2\n",
            "      - {name: to-dc2, express_route_circuit: dc2-circuit}\n  - name: hub2\n",
        )
}

#[test]
fn one_circuit_is_never_sent_nor_reaches_another_through_the_hub() {
    let snap = snapshot(&two_circuits());
    let rows = hub_table(&snap, "hub1");
    assert!(
        rows.contains(
            &"172.30.0.0/16 | ExpressRouteGateway | hub1-ergw | hub1-ergw | 12076-65030".into()
        ),
        "{rows:#?}"
    );
    for edge in ["172.16.0.2", "172.16.1.2"] {
        let sent = advertised(&snap, "hub1-ergw", 0, edge);
        assert!(
            !sent
                .iter()
                .any(|r| r.starts_with("172.20.") || r.starts_with("172.30.")),
            "{edge}: {sent:?}"
        );
    }
    let t = run(&snap, "dc-host", "dc2-host");
    assert_eq!(verdict(&t), "Deny route_none at site dc1");
    let t = run(&snap, "vm2", "dc2-host");
    assert_eq!(verdict(&t), "Allow to site dc2");
}

/// What branch1 announces to hub1's VPN gateway and the circuit's edge
/// routers to hub1's ExpressRoute gateway, each to both instances.
fn announced(branch: &[(&str, &[u32])], circuit: &[(&str, &[u32])]) -> LearnedRoutes {
    let routes = |peer: &str, routes: &[(&str, &[u32])]| {
        let peer: IpAddr = peer.parse().unwrap();
        let learned: Vec<LearnedRoute> = (routes.iter())
            .map(|(prefix, path)| LearnedRoute {
                prefix: prefix.parse().unwrap(),
                peer,
                next_hop: peer,
                as_path: path.to_vec(),
                origin: BgpOrigin::Igp,
            })
            .collect();
        vec![learned.clone(), learned]
    };
    let mut out = LearnedRoutes::default();
    (out.gateways).insert("hub1-vpngw".into(), routes("192.168.255.1", branch));
    (out.gateways).insert("hub1-ergw".into(), routes("172.16.0.2", circuit));
    out
}

/// The type, next hop's last part and path of `name`'s
/// `defaultRouteTable` route to 172.20.0.0/16.
fn chosen(topo: &Topology, learned: &LearnedRoutes, name: &str) -> String {
    let route = (hub_table_routes(topo, learned, hub(topo, name), 0).into_iter())
        .find(|r| r.prefix.to_string() == "172.20.0.0/16")
        .unwrap();
    format!("{} {}", route.hop_type().as_str(), route.as_path_text())
}

fn with_preference(preference: &str) -> Topology {
    topology(&TWO_HUBS.replace(
        "    address_prefix: 10.100.0.0/23\n",
        &format!("    address_prefix: 10.100.0.0/23\n    hub_routing_preference: {preference}\n"),
    ))
}

#[test]
fn the_hub_router_chooses_between_express_route_and_vpn_as_azure_documents() {
    // The datacenter's prefix over the circuit (12076 65020) and from the
    // branch, with a shorter and a longer path.
    let circuit: &[(&str, &[u32])] = &[("172.20.0.0/16", &[12076, 65020])];
    let shorter = announced(&[("172.20.0.0/16", &[65001])], circuit);
    let longer = announced(&[("172.20.0.0/16", &[65001, 65001, 65001])], circuit);
    let tie = announced(&[("172.20.0.0/16", &[65001, 65001])], circuit);
    let default = topology(TWO_HUBS);
    // ExpressRoute (the default): in the hub ExpressRoute wins whatever
    // the path; through a remote hub VPN wins whatever the path.
    assert_eq!(
        chosen(&default, &shorter, "hub1"),
        "ExpressRouteGateway 12076-65020"
    );
    assert_eq!(
        chosen(&default, &shorter, "hub2"),
        "Remote Hub 65520-65520-65001"
    );
    assert_eq!(
        chosen(&default, &longer, "hub2"),
        "Remote Hub 65520-65520-65001-65001-65001"
    );
    // VpnGateway: VPN over ExpressRoute in the hub, whatever the path.
    let vpn = with_preference("VpnGateway");
    assert_eq!(
        chosen(&vpn, &longer, "hub1"),
        "VPN_S2S_Gateway 65001-65001-65001"
    );
    // ASPath: the shorter path; on a tie, ExpressRoute in the hub.
    let by_path = with_preference("ASPath");
    assert_eq!(chosen(&by_path, &shorter, "hub1"), "VPN_S2S_Gateway 65001");
    assert_eq!(
        chosen(&by_path, &longer, "hub1"),
        "ExpressRouteGateway 12076-65020"
    );
    assert_eq!(
        chosen(&by_path, &tie, "hub1"),
        "ExpressRouteGateway 12076-65020"
    );
    // Local over remote comes before ExpressRoute over VPN: hub2's own
    // branch would win there, but hub2 has none; a local VNet's own prefix
    // beats the circuit's announcement of it.
    let own = announced(&[], &[("10.1.0.0/16", &[12076, 65020])]);
    let route = (hub_table_routes(&default, &own, hub(&default, "hub1"), 0).into_iter())
        .find(|r| r.prefix.to_string() == "10.1.0.0/16")
        .unwrap();
    assert_eq!(route.hop_type().as_str(), "Virtual Network Connection");
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "connection-without-gateway",
            edits: &[(
                "    express_route_gateway: {name: hub1-ergw, scale_units: 2}\n",
                "",
            )],
            expect: &[(
                "      - name: to-dc1",
                "hub `hub1` has no `express_route_gateway`",
            )],
        },
        Case {
            name: "too-many-scale-units",
            edits: &[("scale_units: 2}", "scale_units: 11}")],
            expect: &[(
                "scale_units: 11}",
                "a hub's ExpressRoute gateway takes 1 to 10 scale units",
            )],
        },
        Case {
            name: "unknown-circuit",
            edits: &[(
                "express_route_circuit: dc1-circuit",
                "express_route_circuit: dc9-circuit",
            )],
            expect: &[("express_route_circuit: dc9-circuit", "dc9-circuit")],
        },
        Case {
            name: "associated-with-none",
            edits: &[(
                "          associated_route_table: defaultRouteTable\n",
                "          associated_route_table: noneRouteTable\n",
            )],
            expect: &[(
                "associated_route_table: noneRouteTable",
                "a branch connection is associated with defaultRouteTable",
            )],
        },
        Case {
            name: "datacenter-overlaps-hub",
            edits: &[(
                "address_space: [172.20.0.0/16]",
                "address_space: [172.20.0.0/16, 10.100.1.0/24]",
            )],
            expect: &[(
                "        express_route_circuit: dc1-circuit",
                "overlaps hub `hub1`'s 10.100.0.0/23",
            )],
        },
        Case {
            name: "gateway-name-taken",
            edits: &[(
                "{name: hub1-ergw, scale_units: 2}",
                "{name: hub1-vpngw, scale_units: 2}",
            )],
            expect: &[(
                "express_route_gateway: {name: hub1-vpngw",
                "a virtual network gateway named `hub1-vpngw` is already in the file",
            )],
        },
    ]
}

#[test]
fn what_azure_refuses_is_refused_at_its_line() {
    for case in cases() {
        assert_refused_with_words(TAG, TWO_HUBS, &case);
    }
}

/// hub1 with a BGP connection to an appliance in spoke1.
fn with_bgp_connection() -> String {
    TWO_HUBS.replace(
        "  - name: hub2\n",
        "    bgp_connections:\n      - name: nva-peer\n        peer_asn: 65010\n        \
         peer_ip: 10.1.1.100\n        virtual_network_connection: spoke1-conn\n  - name: hub2\n",
    )
}

fn bgp_cases() -> Vec<Case> {
    vec![
        Case {
            name: "reserved-peer-asn",
            edits: &[("peer_asn: 65010", "peer_asn: 65520")],
            expect: &[("peer_asn: 65520", "ASN 65520 is reserved by Azure")],
        },
        Case {
            name: "four-byte-peer-asn",
            edits: &[("peer_asn: 65010", "peer_asn: 4200000000")],
            expect: &[(
                "peer_asn: 4200000000",
                "a hub's BGP peer takes a 16-bit ASN only",
            )],
        },
        Case {
            name: "unknown-connection",
            edits: &[(
                "virtual_network_connection: spoke1-conn",
                "virtual_network_connection: spoke9-conn",
            )],
            expect: &[("virtual_network_connection: spoke9-conn", "spoke9-conn")],
        },
        Case {
            name: "connection-not-propagating-to-default",
            edits: &[(
                "{name: spoke1-conn, remote_virtual_network: spoke1}",
                "{name: spoke1-conn, remote_virtual_network: spoke1, routing: \
                 {propagated_route_table: {labels: [none], route_table_ids: [noneRouteTable]}}}",
            )],
            expect: &[(
                "virtual_network_connection: spoke1-conn",
                "must always be associated and propagating to defaultRouteTable",
            )],
        },
    ]
}

#[test]
fn a_hub_bgp_connection_is_checked_as_azure_checks_it() {
    let text = with_bgp_connection();
    let loaded = parse_str("bgp.yaml", &text).unwrap_or_else(|e| panic!("{e:#?}"));
    let warnings: Vec<String> = (loaded.warnings.iter()).map(|w| format!("{w}")).collect();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(
        warnings[0].contains("no NIC holds 10.1.1.100 in `spoke1`"),
        "{warnings:#?}"
    );
    for case in bgp_cases() {
        assert_refused_with_words(TAG, &text, &case);
    }
    // A secured hub takes BGP peers only with routing intent.
    let secured = text
        + "\nazure_firewalls:\n  - {name: fw1, sku_name: AZFW_Hub, sku_tier: Standard, \
           firewall_policy: allow, virtual_hub: {virtual_hub: hub1}}\n\nfirewall_policies:\n  \
           - name: allow\n    rule_collection_groups:\n      - name: all\n        priority: \
           200\n        network_rule_collections:\n          - name: all\n            \
           priority: 100\n            action: Allow\n            rules:\n              - \
           {name: any, protocols: [Any], source_addresses: ['*'], destination_addresses: \
           ['*'], destination_ports: ['*']}\n";
    let line = 1
        + (secured.lines())
            .position(|l| l.contains("- name: nva-peer"))
            .unwrap();
    let (code, stderr, _) = check(TAG, "secured-without-intent", &secured);
    assert_ne!(code, Some(0), "{stderr}");
    let refused = (stderr.lines())
        .find(|l| l.contains(" error: "))
        .unwrap_or_default();
    assert!(
        refused.contains(&format!(":{line}: error:"))
            && refused.contains("supported only when routing intent is configured"),
        "{stderr}"
    );
}
