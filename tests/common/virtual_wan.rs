//! Virtual WAN designs the offline and lab tests share, and a running
//! lab's hub tables.

use std::path::Path;

/// The rows of `hub`'s `defaultRouteTable` as the running lab answers
/// `vnetd routes --hub HUB --json` on `socket`: `prefix next-hop-type
/// as-path` each.
pub fn hub_rows(socket: &Path, hub: &str) -> Vec<String> {
    let out = super::vnetd_command(socket)
        .args(["routes", "--hub", hub, "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (value["value"].as_array().unwrap().iter())
        .map(|r| {
            format!(
                "{} {} {}",
                r["addressPrefixes"][0].as_str().unwrap(),
                r["nextHopType"].as_str().unwrap(),
                r["asPath"].as_str().unwrap()
            )
            .trim_end()
            .to_string()
        })
        .collect()
}

/// Makes the BIRD of namespace `netns` stop announcing `prefix` (its
/// `route PREFIX unreachable;` taken out of its configuration, then
/// `birdc configure`), and returns when BIRD took the new configuration.
pub fn withdraw_from_bird(netns: &str, prefix: &str) -> std::time::Instant {
    let run_dir = format!("/run/vnetd-bgp/{netns}");
    let config_path = format!("{run_dir}/bird.conf");
    let config = std::fs::read_to_string(&config_path).unwrap();
    let withdrawn = config.replace(&format!("  route {prefix} unreachable;\n"), "");
    assert_ne!(config, withdrawn, "BIRD of {netns} announces {prefix}");
    std::fs::write(&config_path, withdrawn).unwrap();
    let reply = std::process::Command::new("birdc")
        .args(["-s", &format!("{run_dir}/bird.ctl"), "configure"])
        .output()
        .unwrap();
    let at = std::time::Instant::now();
    assert!(String::from_utf8_lossy(&reply.stdout).contains("Reconfigured"));
    at
}

/// The prefixes of [`hub_rows`].
pub fn hub_prefixes(socket: &Path, hub: &str) -> Vec<String> {
    (hub_rows(socket, hub).iter())
        .map(|r| r.split(' ').next().unwrap_or_default().to_string())
        .collect()
}

/// The route-through-NVA scenario's topology, without what the page
/// states (`tests/data/vwan_scenarios/route-through-nva.yaml` up to
/// `scenario_expected:`).
pub fn nva_scenario() -> String {
    let text = include_str!("../data/vwan_scenarios/route-through-nva.yaml");
    text[..text.find("\nscenario_expected:").unwrap()].to_string()
}

/// The lines of the static design that the BGP design does without: the
/// hub tables' aggregates and the connections' static routes.
fn static_design_line(line: &str) -> bool {
    [
        "and-its-spokes",
        "static_vnet_route:",
        "next_hop_ip_address: 10.2.0.5}",
        "next_hop_ip_address: 10.4.0.5}",
        "static_vnet_propagate_static_routes_enabled",
        "Option 2 of the static-routes page",
        "hub tables carry the aggregate",
    ]
    .iter()
    .any(|w| line.contains(w))
        || [
            "    route_tables:",
            "      - name: defaultRouteTable",
            "        routes:",
        ]
        .contains(&line)
}

/// The route-through-NVA scenario (`topology`, its topology text) with
/// BGP: NVA `nva-vnet2` (BIRD, AS
/// 65020) announces vnet5 and vnet6 to hub1, `nva-vnet4` (FRR, AS 65040)
/// vnet7 and vnet8 to hub2.
pub fn nva_scenario_with_bgp(topology: &str) -> String {
    let mut out: String = (topology.lines())
        .filter(|l| !static_design_line(l))
        .map(|l| format!("{l}\n"))
        .collect();
    for (nva, speaker, announce, hub_gateway, peer) in [
        ("10.2.0.5", "bird", "[10.2.1.0/24, 10.2.2.0/24]", "hub1-vpngw", "{name: nva-vnet2, peer_asn: 65020, peer_ip: 10.2.0.5, virtual_network_connection: eastusconn}"),
        ("10.4.0.5", "frr", "[10.4.1.0/24, 10.4.2.0/24]", "hub2-vpngw", "{name: nva-vnet4, peer_asn: 65040, peer_ip: 10.4.0.5, virtual_network_connection: weconn}"),
    ] {
        let nic = format!("    private_ip_address: {nva}\n    ip_forwarding_enabled: true\n");
        assert!(out.contains(&nic), "{nva}");
        out = out.replace(
            &nic,
            &format!("{nic}    bgp_speaker: {speaker}\n    bgp_announce: {announce}\n"),
        );
        let gateway = format!("    vpn_gateway:\n      name: {hub_gateway}\n");
        assert!(out.contains(&gateway), "{hub_gateway}");
        out = out.replace(
            &gateway,
            &format!("    bgp_connections:\n      - {peer}\n{gateway}"),
        );
    }
    out
}
