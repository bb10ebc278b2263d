//! Golden traces: a topology, a packet (from a NIC or on-premises host, to
//! an address, protocol and port) and its exact whole path, hop by hop:
//! the deciding route of each hop, the peering, gateway and load balancer
//! crossed, the NSG rules met on both sides, and the verdict. The expected
//! paths were worked out by hand from the rules in `docs/src/azure-behaviour.md`,
//! not produced by the code under test.

use vnetd::diagnostics::trace::{render_trace, trace, Trace};
use vnetd::diagnostics::trace_query;
use vnetd::policy::bgp::expected_learned;
use vnetd::snapshot::Snapshot;
use vnetd::topology::parse_str;

fn snapshot(path: &str) -> Snapshot {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
    snapshot_of(path, &text)
}

fn snapshot_of(name: &str, text: &str) -> Snapshot {
    let topology = parse_str(name, text)
        .unwrap_or_else(|e| panic!("{name}: {e:#?}"))
        .topology;
    let learned = expected_learned(&topology);
    Snapshot::compile_learned(topology, learned, 0)
}

fn run(snap: &Snapshot, from: &str, to: &str, protocol: &str, port: Option<u16>) -> Trace {
    let query = trace_query(snap, from, to, Some(protocol), port).unwrap();
    trace(snap, &query).unwrap()
}

/// One line per hop: `sender | route | gateway | peering | load balancer
/// | receiver | outbound rules | inbound rules`, empty parts left out.
fn hops(t: &Trace) -> Vec<String> {
    t.hops
        .iter()
        .map(|h| {
            let mut parts = vec![h.nic.clone()];
            if let Some(r) = &h.route {
                let ip = r.next_hop_ip_address.join(",");
                parts.push(format!(
                    "{} {} {} {ip} [{}]",
                    r.source, r.address_prefix, r.next_hop_type, r.route_table
                ));
            }
            if let Some(g) = &h.gateway {
                parts.push(format!("gateway {g}"));
            }
            if let Some(p) = &h.peering {
                parts.push(format!("peering {p}"));
            }
            if let Some(lb) = &h.load_balancer {
                parts.push(format!(
                    "lb {} {} rule {} backend {}",
                    lb.name,
                    lb.frontend,
                    lb.rule.as_deref().unwrap_or("-"),
                    lb.backend.as_deref().unwrap_or("-")
                ));
            }
            if let Some(to) = &h.to {
                parts.push(format!("to {to}"));
            }
            for (side, checks) in [("out", &h.outbound), ("in", &h.inbound)] {
                for c in checks.iter() {
                    parts.push(format!(
                        "{side} {} {} {} {}",
                        c.level, c.nsg, c.rule_name, c.access
                    ));
                }
            }
            parts.join(" | ")
        })
        .collect()
}

fn verdict(t: &Trace) -> String {
    match (&t.reason, &t.delivered_to) {
        (None, Some(to)) => format!("Allow to {to}"),
        (Some(reason), _) => format!(
            "Deny {reason} at {}{}",
            t.at.as_deref().unwrap_or("-"),
            t.rule
                .as_deref()
                .map(|r| format!(" by {r}"))
                .unwrap_or_default()
        ),
        (None, None) => panic!("a trace without verdict: {t:#?}"),
    }
}

#[test]
fn spoke_to_spoke_through_the_nva_takes_two_hops() {
    let s = snapshot("config/hub-spoke.yaml");
    let t = run(&s, "vm1", "vm2", "Tcp", Some(443));
    assert_eq!(verdict(&t), "Allow to vm2");
    assert_eq!(t.path, ["nva1", "vm2"]);
    assert_eq!(
        hops(&t),
        [
            "vm1 | User 10.2.0.0/16 VirtualAppliance 10.0.1.4 [spoke1-rt] | peering spoke1-to-hub | to nva1",
            "nva1 | Default 10.2.0.0/16 VNetPeering  [System Route] | peering hub-to-spoke2 | to vm2 \
             | in Subnet spoke2-app-nsg defaultSecurityRules/AllowVnetInBound Allow",
        ]
    );
    // The table as `vnetd trace` prints it.
    assert_eq!(
        render_trace(&t, false).unwrap(),
        "\
Trace from vm1 (10.1.1.4) to 10.2.1.4, Tcp port 443:
HOP  NIC   STEP      DETAIL
---  ----  --------  --------------------------------------------------------------------------
1    vm1   sends     10.1.1.4 -> 10.2.1.4 (spoke1/app)
           outbound  no NSG
           route     User 10.2.0.0/16 -> VirtualAppliance 10.0.1.4 (spoke1-rt)
           peering   spoke1-to-hub
           to        nva1
           inbound   no NSG
2    nva1  sends     10.1.1.4 -> 10.2.1.4 (hub/nva)
           outbound  no NSG
           route     Default 10.2.0.0/16 -> VNetPeering (System Route)
           peering   hub-to-spoke2
           to        vm2
           inbound   Subnet spoke2-app-nsg: defaultSecurityRules/AllowVnetInBound (65000 Allow)
Reply from vm2 (10.2.1.4) to 10.1.1.4:
HOP  NIC   STEP      DETAIL
---  ----  --------  ---------------------------------------------------------
1    vm2   sends     10.2.1.4 -> 10.1.1.4 (spoke2/app)
           outbound  reply of an admitted flow (stateful)
           route     User 10.1.0.0/16 -> VirtualAppliance 10.0.1.4 (spoke2-rt)
           peering   spoke2-to-hub
           to        nva1
           inbound   reply of an admitted flow (stateful)
2    nva1  sends     10.2.1.4 -> 10.1.1.4 (hub/nva)
           outbound  reply of an admitted flow (stateful)
           route     Default 10.1.0.0/16 -> VNetPeering (System Route)
           peering   hub-to-spoke1
           to        vm1
           inbound   reply of an admitted flow (stateful)
Verdict: Allow, delivered to vm2, the reply to vm1
Path: vm1 > nva1 > vm2
Reply path: vm2 > nva1 > vm1
"
    );
}

#[test]
fn a_peering_that_refuses_forwarded_traffic_stops_the_second_hop() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/hub-spoke.yaml"
    ))
    .unwrap();
    // spoke2's link no longer accepts traffic that did not start in the hub.
    let marker = "  - name: spoke2-to-hub\n    virtual_network: spoke2\n    remote_virtual_network: hub\n    allow_forwarded_traffic: true\n";
    assert!(text.contains(marker));
    let text = text.replace(
        marker,
        "  - name: spoke2-to-hub\n    virtual_network: spoke2\n    remote_virtual_network: hub\n",
    );
    let s = snapshot_of("no-forwarding.yaml", &text);
    let t = run(&s, "vm1", "vm2", "Icmp", None);
    assert_eq!(verdict(&t), "Deny forwarded_traffic_refused at vm2");
    assert_eq!(t.path, ["nva1"]);
    // The peering refuses the packet before vm2's NSGs would judge it:
    // the hop shows no inbound rule, as none was met.
    assert_eq!(
        hops(&t),
        [
            "vm1 | User 10.2.0.0/16 VirtualAppliance 10.0.1.4 [spoke1-rt] | peering spoke1-to-hub | to nva1",
            "nva1 | Default 10.2.0.0/16 VNetPeering  [System Route] | peering hub-to-spoke2 | to vm2",
        ]
    );
    // The NVA's own packets are not forwarded traffic: it still reaches vm2.
    let own = run(&s, "nva1", "vm2", "Icmp", None);
    assert_eq!(verdict(&own), "Allow to vm2");
}

#[test]
fn an_nsg_deny_on_the_second_hop_names_its_rule() {
    let s = snapshot("config/hub-spoke.yaml");
    let t = run(&s, "vm1", "10.2.1.4", "Tcp", Some(23));
    assert_eq!(
        verdict(&t),
        "Deny nsg_inbound at vm2 by securityRules/deny-telnet"
    );
    assert_eq!(t.hops.len(), 2);
    assert_eq!(
        hops(&t)[1],
        "nva1 | Default 10.2.0.0/16 VNetPeering  [System Route] | peering hub-to-spoke2 | to vm2 \
         | in Subnet spoke2-app-nsg securityRules/deny-telnet Deny"
    );
    assert_eq!(t.path, ["nva1"]);
}

#[test]
fn two_appliances_routing_to_each_other_are_a_loop() {
    let s = snapshot("tests/golden/50-nva-loop.yaml");
    let t = run(&s, "app1", "10.9.1.1", "Tcp", Some(80));
    assert_eq!(verdict(&t), "Deny routing_loop at nva-a");
    assert_eq!(
        hops(&t),
        [
            "app1 | User 10.9.0.0/16 VirtualAppliance 10.0.1.4 [app-rt] | to nva-a",
            "nva-a | User 10.9.0.0/16 VirtualAppliance 10.0.2.4 [fw-a-rt] | to nva-b",
            "nva-b | User 10.9.0.0/16 VirtualAppliance 10.0.1.4 [fw-b-rt] | to nva-a",
        ]
    );
    assert_eq!(t.path, ["nva-a", "nva-b", "nva-a"]);
}

#[test]
fn forced_tunnelling_sends_everything_to_the_firewall() {
    let s = snapshot("config/forced-tunnel.yaml");
    // The Internet: through the firewall, whose own default route leads to
    // the Internet, which the lab does not have.
    let t = run(&s, "spoke-vm", "8.8.8.8", "Tcp", Some(443));
    assert_eq!(verdict(&t), "Deny next_hop_internet at fw");
    assert_eq!(
        hops(&t),
        [
            "spoke-vm | User 0.0.0.0/0 VirtualAppliance 10.0.1.4 [spoke-default-via-nva] \
             | peering spoke-to-hub | to fw",
            "fw | Default 0.0.0.0/0 Internet  [System Route]",
        ]
    );
    // Unused private space follows 0/0 too (its None route is gone in the
    // spoke), and ends at the hub's None route.
    let t = run(&s, "spoke-vm", "192.168.7.7", "Udp", Some(53));
    assert_eq!(verdict(&t), "Deny route_none at fw");
    assert_eq!(t.hops.len(), 2);
    assert_eq!(
        hops(&t)[1],
        "fw | Default 192.168.0.0/16 None  [System Route]"
    );
    // The hub itself is more specific than 0/0: one hop, over the peering.
    let t = run(&s, "spoke-vm", "fw", "Icmp", None);
    assert_eq!(verdict(&t), "Allow to fw");
    assert_eq!(
        hops(&t),
        ["spoke-vm | Default 10.0.0.0/16 VNetPeering  [System Route] | peering spoke-to-hub | to fw"]
    );
}

#[test]
fn an_outbound_deny_stops_the_first_hop_at_the_sender() {
    let s = snapshot("config/three-tier-nsg.yaml");
    let t = run(&s, "db1", "8.8.8.8", "Tcp", Some(443));
    assert_eq!(
        verdict(&t),
        "Deny nsg_outbound at db1 by securityRules/deny-outbound-internet"
    );
    assert_eq!(t.hops.len(), 1);
    let hop = &t.hops[0];
    assert_eq!(
        hop.route, None,
        "no route is looked up after an outbound deny"
    );
    let out: Vec<(&str, &str, &str)> = hop
        .outbound
        .iter()
        .map(|c| (c.level, c.nsg.as_str(), c.rule_name.as_str()))
        .collect();
    assert_eq!(
        out,
        [(
            "NetworkInterface",
            "db-nic-nsg",
            "securityRules/deny-outbound-internet"
        )]
    );
    assert!(t.path.is_empty());
}

#[test]
fn both_nsg_levels_are_listed_in_evaluation_order() {
    let s = snapshot("config/three-tier-nsg.yaml");
    // Inbound at db1: the subnet's NSG first, then the NIC's.
    let t = run(&s, "app1", "db1", "Tcp", Some(5432));
    assert_eq!(verdict(&t), "Allow to db1");
    let hop = &t.hops[0];
    let levels: Vec<(&str, &str)> = hop
        .inbound
        .iter()
        .map(|c| (c.level, c.nsg.as_str()))
        .collect();
    assert_eq!(
        levels,
        [("Subnet", "tiers-nsg"), ("NetworkInterface", "db-nic-nsg")]
    );
    assert!(hop.inbound.iter().all(|c| c.access == "Allow"));
}

#[test]
fn a_spoke_reaches_the_branch_through_the_hubs_gateway() {
    let s = snapshot("config/hybrid.yaml");
    let t = run(&s, "vm1", "onprem-vm", "Icmp", None);
    assert_eq!(verdict(&t), "Allow to site branch1");
    assert_eq!(t.path, ["hub-vpngw"]);
    assert_eq!(
        hops(&t),
        [
            "vm1 | VirtualNetworkGateway 192.168.0.0/16 VirtualNetworkGateway 10.0.255.254 \
          [System Route] | gateway hub-vpngw | peering spoke1-to-hub | to branch1-to-hub-vpngw-0"
        ]
    );
    // spoke2 turns gateway route propagation off: the branch's range keeps
    // its None route there.
    let t = run(&s, "vm2", "onprem-vm", "Icmp", None);
    assert_eq!(verdict(&t), "Deny route_none at vm2");
}

#[test]
fn a_branch_host_enters_through_its_tunnel() {
    let s = snapshot("config/hybrid.yaml");
    let t = run(&s, "onprem-vm", "vm1", "Tcp", Some(22));
    assert_eq!(verdict(&t), "Allow to vm1");
    assert_eq!(t.path, ["hub-vpngw", "vm1"]);
    assert_eq!(
        hops(&t),
        [
            "branch1-to-hub-vpngw-0 | Default 10.1.0.0/16 VNetPeering  [System Route] \
          | gateway hub-vpngw | peering hub-to-spoke1 | to vm1"
        ]
    );
}

#[test]
fn a_load_balancer_frontend_is_translated_to_a_backend() {
    let s = snapshot("config/ha-nva.yaml");
    let t = run(&s, "vm1", "10.0.2.100", "Tcp", Some(80));
    assert_eq!(t.hops.len(), 1);
    let hop = &t.hops[0];
    let lb = hop.load_balancer.as_ref().unwrap();
    assert_eq!(
        (lb.name.as_str(), lb.frontend.as_str()),
        ("web-ilb", "web-fe")
    );
    assert_eq!(lb.rule.as_deref(), Some("http"));
    let backend = lb.backend.clone().unwrap();
    let address = match backend.as_str() {
        "web1" => "10.0.2.4",
        "web2" => "10.0.2.5",
        other => panic!("backend {other} is not in the pool"),
    };
    assert_eq!(hop.to.as_deref(), Some(backend.as_str()));
    assert_eq!(hop.received_destination.as_deref(), Some(address));
    assert_eq!(verdict(&t), format!("Allow to {backend}"));
    assert_eq!(t.path, ["web-ilb".to_string(), backend]);
    // The web servers' NSG sees the packet as the backend receives it.
    assert_eq!(
        hop.inbound
            .iter()
            .map(|c| c.rule_name.as_str())
            .collect::<Vec<_>>(),
        ["securityRules/allow-http"]
    );
    // A port no rule carries.
    let t = run(&s, "vm1", "10.0.2.100", "Tcp", Some(443));
    assert_eq!(verdict(&t), "Deny lb_no_rule at vm1");
}

#[test]
fn ha_ports_as_next_hop_hand_spoke_traffic_to_one_appliance() {
    let s = snapshot("config/ha-nva.yaml");
    let t = run(&s, "vm1", "vm2", "Udp", Some(5000));
    assert_eq!(verdict(&t), "Allow to vm2");
    assert_eq!(t.hops.len(), 2);
    let nva = t.hops[1].nic.clone();
    assert!(nva == "nva1" || nva == "nva2", "{nva}");
    assert_eq!(
        t.hops[0].load_balancer.as_ref().unwrap().backend.as_deref(),
        Some(nva.as_str())
    );
    assert_eq!(t.path, ["nva-ilb".to_string(), nva, "vm2".to_string()]);
    assert_eq!(
        hops(&t)[0],
        format!(
            "vm1 | User 10.2.0.0/16 VirtualAppliance 10.0.1.100 [spoke1-rt] | peering spoke1-to-hub \
             | lb nva-ilb nva-fe rule ha-ports backend {} | to {}",
            t.hops[1].nic, t.hops[1].nic
        )
    );
}

#[test]
fn ipv6_over_global_peering() {
    let s = snapshot("config/dual-stack.yaml");
    let t = run(&s, "left-vm", "fd00:20:0:1::4", "Icmp", None);
    assert_eq!(verdict(&t), "Allow to right-vm");
    assert_eq!(t.source, "fd00:10:0:1::4");
    assert_eq!(t.hops.len(), 1);
    assert_eq!(t.hops[0].peering.as_deref(), Some("left-to-right"));
    let route = t.hops[0].route.as_ref().unwrap();
    assert_eq!(route.address_prefix, "fd00:20::/48");
}

#[test]
fn an_address_nobody_holds_in_the_vnet_is_dropped() {
    let s = snapshot("config/hub-spoke.yaml");
    let t = run(&s, "shared1", "10.0.2.99", "Tcp", Some(80));
    assert_eq!(verdict(&t), "Deny no_destination at shared1");
    assert_eq!(
        hops(&t),
        ["shared1 | Default 10.0.0.0/16 VnetLocal  [System Route]"]
    );
}

/// `config/hybrid.yaml` with `edit` applied to its text.
fn hybrid_with(edit: impl Fn(String) -> String) -> Snapshot {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/hybrid.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let edited = edit(text.clone());
    assert_ne!(edited, text, "the edit applies");
    snapshot_of("hybrid-edited.yaml", &edited)
}

#[test]
fn a_reply_without_a_route_back_is_a_deny_at_the_reply() {
    // BGP off and a local network gateway without prefixes: the branch's
    // packets enter the hub, but nothing routes 192.168.0.0/16 back.
    let s = hybrid_with(|t| {
        t.replace("bgp_enabled: true", "bgp_enabled: false")
            .replace("    bgp_settings: {asn: 65515}\n", "")
            .replace(
                "    bgp_settings: {asn: 65050, bgp_peering_address: 192.168.255.1}\n",
                "",
            )
            .replace("asn: 65050, bgp_speaker: bird", "bgp_speaker: none")
    });
    let t = run(&s, "onprem-vm", "vm1", "Icmp", None);
    assert_eq!(verdict(&t), "Deny route_none at vm1");
    assert_eq!(
        t.delivered_to.as_deref(),
        Some("vm1"),
        "the request got through"
    );
    assert_eq!(t.path, ["hub-vpngw", "vm1"]);
    let reply = t.reply.as_ref().expect("the reply was traced");
    assert_eq!(
        (reply.source.as_str(), reply.destination.as_str()),
        ("10.1.1.4", "192.168.1.10")
    );
    assert_eq!(
        hops(reply),
        ["vm1 | Default 192.168.0.0/16 None  [System Route]"]
    );
    assert!(reply.hops[0].outbound_by_state);
    let text = render_trace(&t, false).unwrap();
    assert!(
        text.contains(
            "Verdict: Deny: reply: no route from 10.1.1.4 to 192.168.1.10 (route_none at vm1)\n"
        ),
        "{text}"
    );
}

#[test]
fn a_load_balancer_behind_a_gateway_comes_after_it_and_the_gateway_once() {
    let lb = "load_balancers:
  - name: hub-ilb
    sku: Standard
    frontend_ip_configurations:
      - {name: hub-fe, subnet: hub/default, private_ip_address: 10.0.1.100}
    backend_address_pools:
      - {name: hubs, network_interfaces: [hub-vm]}
    rules:
      - {name: web, frontend_ip_configuration: hub-fe, backend_address_pool: hubs,
         protocol: Tcp, frontend_port: 80, backend_port: 80}

expectations:
";
    let s = hybrid_with(|t| t.replace("expectations:\n", lb));
    let t = run(&s, "onprem-vm", "10.0.1.100", "Tcp", Some(80));
    assert_eq!(verdict(&t), "Allow to hub-vm");
    assert_eq!(t.path, ["hub-vpngw", "hub-ilb", "hub-vm"]);
    let text = render_trace(&t, false).unwrap();
    assert!(
        text.contains("Path: onprem-vm > hub-vpngw > hub-ilb > hub-vm\n"),
        "{text}"
    );
    // A drop at the site's tunnel is placed at its gateway, as `verify`
    // places the tunnel's counter: 10.0.9.9 is in the hub's range, which
    // the branch's router routes into its tunnel, and no NIC holds it.
    let t = run(&s, "onprem-vm", "10.0.9.9", "Icmp", None);
    assert_eq!(t.at.as_deref(), Some("hub-vpngw"), "{t:#?}");
    // An address the branch's router has no route for never leaves the
    // branch.
    let t = run(&s, "onprem-vm", "10.9.9.9", "Icmp", None);
    assert_eq!(
        (t.reason.as_deref(), t.at.as_deref()),
        (Some("route_none"), Some("site branch1")),
        "{t:#?}"
    );
    assert!(t.path.is_empty(), "{t:#?}");
}
