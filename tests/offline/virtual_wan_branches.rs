//! Virtual WAN branches offline: a hub's VPN gateway with BGP branches,
//! checked against Azure's documented tables (`docs/src/azure-behaviour.md`,
//! "Virtual WAN", "Branches"). A branch's prefix enters the hub's table as
//! `VPN_S2S_Gateway` with the branch's AS path and the other hubs' as
//! `Remote Hub` behind `65520-65520`; spokes receive it and reach the
//! branch's hosts through the hub's gateway; each branch learns the VNets
//! and branches of both hubs with the paths Azure shows a branch router;
//! the hub router's selection order decides between a branch and another
//! hub; branch-to-branch traffic follows `allow_branch_to_branch_traffic`;
//! what Azure refuses is refused at its line.

use crate::common;

use common::broken_files::{assert_refused_with_words, check, Case};
use etherparse::PacketBuilder;
use std::net::IpAddr;
use vnetd::dataplane::{decide, DropReason, Stateless, Verdict};
use vnetd::diagnostics::trace::{trace, Trace};
use vnetd::diagnostics::{trace_query, virtual_hub};
use vnetd::policy::bgp::{expected_learned, BgpModel, SpeakerId};
use vnetd::policy::gateways::{BgpOrigin, LearnedRoute, LearnedRoutes};
use vnetd::policy::routes::effective_routes_with;
use vnetd::policy::virtual_wan::hub_table_routes;
use vnetd::snapshot::Snapshot;
use vnetd::topology::{parse_str, GatewayIdx, Topology, VirtualHubIdx};

const TAG: &str = "vwan-branches";
const ONE_HUB: &str = include_str!("../data/vwan_branches/one-hub.yaml");
const TWO_HUBS: &str = include_str!("../data/vwan_branches/two-hubs.yaml");

fn topology(text: &str) -> Topology {
    let loaded = parse_str("branches.yaml", text).unwrap_or_else(|e| panic!("{e:#?}"));
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
            let at = |what: &str| last(what);
            format!(
                "{} | {} | {} | {} | {}",
                r.address_prefixes.join(","),
                r.next_hop_type,
                at(&r.next_hops[0]),
                at(&r.route_origin),
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

/// What each instance of `gw` advertises to `peer`: `prefix path` lines.
fn advertised(snap: &Snapshot, gw: &str, peer: &str) -> Vec<Vec<String>> {
    let model = BgpModel::of(&snap.topology);
    let g = gateway(&snap.topology, gw);
    let peer: IpAddr = peer.parse().unwrap();
    (0..2)
        .map(|instance| {
            let id = SpeakerId::Instance {
                gateway: g,
                instance,
            };
            let routes = model.advertised_by(id, peer).unwrap();
            routes
                .iter()
                .map(|r| {
                    let path: Vec<String> = r.as_path.iter().map(u32::to_string).collect();
                    format!("{} {}", r.prefix, path.join(" "))
                })
                .collect()
        })
        .collect()
}

#[test]
fn a_branch_prefix_enters_the_hub_table_as_vpn_s2s_gateway() {
    let snap = snapshot(ONE_HUB);
    assert_eq!(
        hub_table(&snap, "hub1"),
        [
            "10.1.0.0/16 | Virtual Network Connection | spoke1-conn | spoke1-conn | ",
            "192.168.10.0/24 | VPN_S2S_Gateway | hub1-vpngw | to-branch1 | 65001",
        ]
    );
    // The resource IDs `az network vhub get-effective-routes` shows.
    let h = hub(&snap.topology, "hub1");
    let rows = virtual_hub::effective_routes(&snap.topology, &snap.learned, h, 0);
    let vpn = &rows.value[1];
    let base = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/VNETD/\
                providers/Microsoft.Network/vpnGateways/hub1-vpngw";
    assert_eq!(vpn.next_hops, [base]);
    assert_eq!(
        vpn.route_origin,
        format!("{base}/vpnConnections/to-branch1")
    );
    // The gateway is an ordinary active-active VPN gateway of ASN 65515 in
    // the hub's own network, its GatewaySubnet the hub prefix's first /26.
    let gw = &snap.topology.gateways[gateway(&snap.topology, "hub1-vpngw")];
    assert_eq!(gw.asn, 65515);
    assert!(gw.active_active && gw.bgp_enabled);
    assert_eq!(
        snap.topology.subnet_path(gw.subnet),
        "HV_hub1/GatewaySubnet"
    );
    let instances: Vec<String> = gw.instances.iter().map(IpAddr::to_string).collect();
    assert_eq!(instances, ["10.100.0.4", "10.100.0.5"]);
    // `vnetd check` accepts it without a warning.
    let (code, stderr, _) = check(TAG, "one-hub", ONE_HUB);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
}

#[test]
fn the_spoke_receives_the_branch_and_reaches_its_host_through_the_hub_gateway() {
    let snap = snapshot(ONE_HUB);
    let topo = &snap.topology;
    let vm1 = topo.nics.iter().find(|n| n.name == "vm1").unwrap();
    let rows = effective_routes_with(topo, &snap.learned, vm1.subnet);
    let branch = rows
        .iter()
        .find(|r| r.address_prefix.to_string() == "192.168.10.0/24")
        .expect("the spoke has the branch's prefix");
    assert!(branch.is_active());
    assert_eq!(branch.source.as_str(), "VirtualNetworkGateway");
    let hops: Vec<String> = (branch.next_hop_addresses(topo).iter())
        .map(IpAddr::to_string)
        .collect();
    assert_eq!(hops, ["10.100.0.4", "10.100.0.5"]);

    let t = run(&snap, "vm1", "branch-host");
    assert_eq!(verdict(&t), "Allow to site branch1");
    assert_eq!(t.path, ["hub1-vpngw"]);
    let reply = t.reply.as_deref().expect("the reply was traced");
    assert_eq!(verdict(reply), "Allow to vm1");
    // And from the branch: in at the gateway, on by the hub's table.
    let t = run(&snap, "branch-host", "vm1");
    assert_eq!(verdict(&t), "Allow to vm1");
    assert_eq!(t.path, ["hub1-vpngw", "vm1"]);
}

#[test]
fn the_remote_hub_shows_the_branch_behind_65520_65520() {
    let snap = snapshot(TWO_HUBS);
    assert_eq!(
        hub_table(&snap, "hub2"),
        [
            "10.1.0.0/16 | Remote Hub | hub1 | hub1 | 65520-65520",
            "192.168.10.0/24 | Remote Hub | hub1 | hub1 | 65520-65520-65001",
            "10.2.0.0/16 | Virtual Network Connection | spoke2-conn | spoke2-conn | ",
            "192.168.20.0/24 | VPN_S2S_Gateway | hub2-vpngw | to-branch2 | 65002",
        ]
    );
    // A spoke of hub2 reaches branch1 through hub1's gateway.
    let t = run(&snap, "vm2", "branch1-host");
    assert_eq!(verdict(&t), "Allow to site branch1");
    assert_eq!(t.path, ["hub1-vpngw"]);
}

#[test]
fn each_branch_learns_what_azure_advertises_to_a_branch() {
    let snap = snapshot(TWO_HUBS);
    // Both instances alike: the local VNet and hub prefix behind 65515,
    // the remote hub's VNet and branch behind 65515 65520 65520, never the
    // remote hub's prefix.
    let branch1 = [
        "10.1.0.0/16 65515",
        "10.2.0.0/16 65515 65520 65520",
        "10.100.0.0/23 65515",
        "192.168.20.0/24 65515 65520 65520 65002",
    ];
    assert_eq!(
        advertised(&snap, "hub1-vpngw", "192.168.255.1"),
        [branch1, branch1]
    );
    let branch2 = [
        "10.1.0.0/16 65515 65520 65520",
        "10.2.0.0/16 65515",
        "10.200.0.0/23 65515",
        "192.168.10.0/24 65515 65520 65520 65001",
    ];
    assert_eq!(
        advertised(&snap, "hub2-vpngw", "192.168.255.2"),
        [branch2, branch2]
    );
    // Branch to branch across the hubs, through both gateways.
    let t = run(&snap, "branch1-host", "branch2-host");
    assert_eq!(verdict(&t), "Allow to site branch2");
    assert_eq!(t.path, ["hub1-vpngw", "hub2-vpngw"]);
}

#[test]
fn without_branch_to_branch_the_branches_neither_learn_nor_reach_each_other() {
    let text = TWO_HUBS.replace(
        "allow_branch_to_branch_traffic: true",
        "allow_branch_to_branch_traffic: false",
    );
    let snap = snapshot(&text);
    assert_eq!(
        advertised(&snap, "hub1-vpngw", "192.168.255.1")[0],
        [
            "10.1.0.0/16 65515",
            "10.2.0.0/16 65515 65520 65520",
            "10.100.0.0/23 65515"
        ]
    );
    let t = run(&snap, "branch1-host", "branch2-host");
    assert_eq!(verdict(&t), "Deny route_none at site branch1");
    // A packet that reaches the hub anyway is dropped at its gateway.
    let tunnel = snap.port_by_name("branch1-to-hub1-vpngw-0").unwrap();
    let mut packet = Vec::new();
    PacketBuilder::ipv4([192, 168, 10, 10], [192, 168, 20, 10], 64)
        .tcp(1000, 22, 1, 64000)
        .write(&mut packet, b"x")
        .unwrap();
    assert_eq!(
        decide(&snap, &Stateless, tunnel, &packet, 0),
        Verdict::dropped(DropReason::BranchToBranch, tunnel)
    );
    // The branches still reach the spokes.
    assert_eq!(verdict(&run(&snap, "branch1-host", "vm2")), "Allow to vm2");
}

/// What branch1's device announced to both instances of hub1's gateway.
fn branch1_announces(routes: &[(&str, &[u32])]) -> LearnedRoutes {
    let peer: IpAddr = "192.168.255.1".parse().unwrap();
    let learned: Vec<LearnedRoute> = routes
        .iter()
        .map(|(prefix, path)| LearnedRoute {
            prefix: prefix.parse().unwrap(),
            peer,
            next_hop: peer,
            as_path: path.to_vec(),
            origin: BgpOrigin::Igp,
        })
        .collect();
    let mut out = LearnedRoutes::default();
    out.gateways
        .insert("hub1-vpngw".into(), vec![learned.clone(), learned]);
    out
}

/// The type and path of hub1's `defaultRouteTable` route to `prefix`.
fn chosen(topo: &Topology, learned: &LearnedRoutes, prefix: &str) -> String {
    let h = hub(topo, "hub1");
    let route = (hub_table_routes(topo, learned, h, 0).into_iter())
        .find(|r| r.prefix.to_string() == prefix)
        .unwrap();
    format!("{} {}", route.hop_type().as_str(), route.as_path_text())
}

#[test]
fn the_hub_router_chooses_between_a_branch_and_a_remote_hub_as_azure_documents() {
    let default = topology(TWO_HUBS);
    let by_path = topology(&TWO_HUBS.replace(
        "    address_prefix: 10.100.0.0/23\n",
        "    address_prefix: 10.100.0.0/23\n    hub_routing_preference: ASPath\n",
    ));
    // A VNet connection's own prefix beats what a branch announces.
    let own = branch1_announces(&[("10.1.0.0/16", &[65001])]);
    assert_eq!(
        chosen(&default, &own, "10.1.0.0/16"),
        "Virtual Network Connection "
    );
    assert_eq!(
        chosen(&by_path, &own, "10.1.0.0/16"),
        "Virtual Network Connection "
    );
    // The branch announces hub2's VNet. ExpressRoute preference: local
    // over remote, whatever the path.
    let short = branch1_announces(&[("10.2.0.0/16", &[65001])]);
    let long = branch1_announces(&[("10.2.0.0/16", &[65001, 65001, 65001])]);
    let tie = branch1_announces(&[("10.2.0.0/16", &[65001, 65001])]);
    assert_eq!(
        chosen(&default, &short, "10.2.0.0/16"),
        "VPN_S2S_Gateway 65001"
    );
    assert_eq!(
        chosen(&default, &long, "10.2.0.0/16"),
        "VPN_S2S_Gateway 65001-65001-65001"
    );
    // ASPath preference: the shorter path, whatever the source; on a tie
    // the branch's route.
    assert_eq!(
        chosen(&by_path, &short, "10.2.0.0/16"),
        "VPN_S2S_Gateway 65001"
    );
    assert_eq!(
        chosen(&by_path, &long, "10.2.0.0/16"),
        "Remote Hub 65520-65520"
    );
    assert_eq!(
        chosen(&by_path, &tie, "10.2.0.0/16"),
        "VPN_S2S_Gateway 65001-65001"
    );
    // A withdrawn prefix leaves every table.
    let none = LearnedRoutes::default();
    for h in ["hub1", "hub2"] {
        let routes = hub_table_routes(&default, &none, hub(&default, h), 0);
        assert!(
            !routes
                .iter()
                .any(|r| r.prefix.to_string().starts_with("192.168.10.")),
            "{h}: {routes:#?}"
        );
    }
}

/// hub1 secured: a firewall and routing intent for private and Internet
/// traffic; the branch's connection propagates the default route.
fn secured_hub() -> String {
    ONE_HUB
        .replace(
            "        vpn_site: branch1\n        routing:\n          associated_route_table: \
             defaultRouteTable\n          propagated_route_table: {labels: [default], \
             route_table_ids: [defaultRouteTable]}\n",
            "        vpn_site: branch1\n        internet_security_enabled: true\n",
        )
        .replace(
            "    vpn_gateway:",
            "    routing_intent:\n      name: intent\n      routing_policies:\n        - {name: \
             private, destinations: [PrivateTraffic], next_hop: fw1}\n        - {name: \
             internet, destinations: [Internet], next_hop: fw1}\n    vpn_gateway:",
        )
        + "\nazure_firewalls:\n  - {name: fw1, sku_name: AZFW_Hub, sku_tier: Standard, \
           firewall_policy: allow, virtual_hub: {virtual_hub: hub1}}\n\nfirewall_policies:\n  \
           - name: allow\n    rule_collection_groups:\n      - name: all\n        priority: \
           200\n        network_rule_collections:\n          - name: all\n            \
           priority: 100\n            action: Allow\n            rules:\n              - \
           {name: any, protocols: [Any], source_addresses: ['*'], destination_addresses: \
           ['*'], destination_ports: ['*']}\n"
}

#[test]
fn with_routing_intent_the_branch_goes_through_the_firewall_and_learns_the_default_route() {
    let snap = snapshot(&secured_hub());
    assert_eq!(
        advertised(&snap, "hub1-vpngw", "192.168.255.1")[0],
        [
            "0.0.0.0/0 65515",
            "10.1.0.0/16 65515",
            "10.100.0.0/23 65515"
        ]
    );
    let t = run(&snap, "vm1", "branch-host");
    assert_eq!(verdict(&t), "Allow to site branch1");
    assert_eq!(t.path, ["fw1", "hub1-vpngw"]);
    let t = run(&snap, "branch-host", "vm1");
    assert_eq!(verdict(&t), "Allow to vm1");
    assert_eq!(t.path, ["hub1-vpngw", "fw1", "vm1"]);
    // Without `internet_security_enabled`, no default route.
    let plain = secured_hub().replace("        internet_security_enabled: true\n", "");
    let snap = snapshot(&plain);
    assert_eq!(
        advertised(&snap, "hub1-vpngw", "192.168.255.1")[0],
        ["10.1.0.0/16 65515", "10.100.0.0/23 65515"]
    );
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "branch-associated-with-a-custom-table",
            edits: &[(
                "          associated_route_table: defaultRouteTable\n",
                "          associated_route_table: RT_BLUE\n",
            )],
            expect: &[(
                "associated_route_table: RT_BLUE",
                "a branch connection is associated with defaultRouteTable",
            )],
        },
        Case {
            name: "gateway-asn-changed",
            edits: &[("bgp_settings: {asn: 65515}", "bgp_settings: {asn: 65010}")],
            expect: &[(
                "bgp_settings: {asn: 65010}",
                "a hub's VPN gateway has ASN 65515",
            )],
        },
        Case {
            name: "reserved-branch-asn",
            edits: &[
                (
                    "router: {asn: 65001, bgp_speaker: bird}",
                    "router: {bgp_speaker: none}",
                ),
                ("bgp: {asn: 65001", "bgp: {asn: 65520"),
            ],
            expect: &[("bgp: {asn: 65520", "ASN 65520 is reserved by Azure")],
        },
        Case {
            name: "link-asn-differs-from-the-router",
            edits: &[("bgp: {asn: 65001", "bgp: {asn: 65009")],
            expect: &[("bgp: {asn: 65009", "differs from 65001")],
        },
        Case {
            name: "unknown-site",
            edits: &[("    site: branch1\n", "    site: branch9\n")],
            expect: &[(
                "    site: branch9",
                "no on-premises site named `branch9` in this file",
            )],
        },
        Case {
            name: "no-address-cidrs-without-bgp",
            edits: &[
                (
                    "        bgp: {asn: 65001, peering_address: 192.168.255.1}\n",
                    "",
                ),
                ("bgp_enabled: true", "bgp_enabled: false"),
            ],
            expect: &[("      - name: link1", "`address_cidrs` has to be set")],
        },
        Case {
            name: "bgp-link-without-bgp",
            edits: &[
                (
                    "        bgp: {asn: 65001, peering_address: 192.168.255.1}\n",
                    "",
                ),
                (
                    "    site: branch1\n",
                    "    site: branch1\n    address_cidrs: [192.168.10.0/24]\n",
                ),
            ],
            expect: &[("{name: link1, vpn_site_link: link1", "has no `bgp`")],
        },
        Case {
            name: "connection-without-gateway",
            edits: &[(
                "    vpn_gateway: {name: hub1-vpngw, scale_unit: 1, bgp_settings: {asn: 65515}}\n",
                "",
            )],
            expect: &[(
                "      - name: to-branch1",
                "hub `hub1` has no `vpn_gateway`",
            )],
        },
        Case {
            name: "site-overlapping-the-hub",
            edits: &[
                (
                    "address_space: [192.168.10.0/24]",
                    "address_space: [10.100.1.0/24]",
                ),
                (
                    "private_ip_address: 192.168.10.10}",
                    "private_ip_address: 10.100.1.10}",
                ),
            ],
            expect: &[(
                "        vpn_site: branch1",
                "overlaps hub `hub1`'s 10.100.0.0/23",
            )],
        },
        Case {
            name: "unknown-site-link",
            edits: &[("vpn_site_link: link1", "vpn_site_link: link9")],
            expect: &[(
                "vpn_site_link: link9",
                "VPN site `branch1` has no link named `link9`",
            )],
        },
    ]
}

#[test]
fn what_azure_refuses_is_refused_at_its_line() {
    for case in cases() {
        assert_refused_with_words(TAG, ONE_HUB, &case);
    }
}
