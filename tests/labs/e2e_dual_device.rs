//! The dual-device example (`config/dual-device-vpn.yaml`) end to end,
//! as root, with real daemons: Microsoft's dual redundancy, an
//! active-active gateway (gobgpd) and two on-premises devices in front of
//! one network (BIRD and FRR), four tunnels and four sessions. Flows of
//! different 5-tuples use every tunnel each way, counted by vnetd per
//! tunnel and by nftables in each device; a device's failure is survived
//! by the other; the lab counts 4 of 4 sessions, 2 of 4 while a device is
//! gone; `vnetd verify` agrees with `vnetd check`, and the live gateway
//! answers equal the BGP model's.

use crate::common;

use common::bgp_agreement::assert_live_equals_offline;
use common::check_agreement::assert_verify_agrees_with_check;
use common::{in_netns, udp_echo, wait_for, Lab};
use std::net::SocketAddr;
use std::time::Duration;
use vnetd::diagnostics;

/// The example, its namespaces behind the lab's own prefix.
fn example() -> String {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/dual-device-vpn.yaml"
    ))
    .unwrap();
    format!("netns_prefix: exdd-\n{text}")
}

/// The four tunnels of the dual-device example: each device's to each
/// gateway instance.
const DUAL_DEVICE_TUNNELS: [&str; 4] = [
    "onprem-vpn1-to-hub-vpngw-0",
    "onprem-vpn1-to-hub-vpngw-1",
    "onprem-vpn2-to-hub-vpngw-0",
    "onprem-vpn2-to-hub-vpngw-1",
];

/// Counts, in a site router's namespace, the UDP packets it forwards in
/// from its tunnels (`from_azure`), out into them (`to_azure`), and in
/// from the other device over their link (`from_peer`), with nftables.
fn count_tunnel_udp(ns: &str) {
    in_netns(ns, &["nft", "add table inet lab"]);
    in_netns(
        ns,
        &[
            "nft",
            "add chain inet lab forwarded { type filter hook forward priority 0; }",
        ],
    );
    for (counter, rule) in [
        ("from_azure", "iifname \"vti*\""),
        ("to_azure", "oifname \"vti*\""),
        ("from_peer", "iifname \"r*\""),
    ] {
        in_netns(ns, &["nft", &format!("add counter inet lab {counter}")]);
        in_netns(
            ns,
            &[
                "nft",
                &format!(
                    "add rule inet lab forwarded {rule} meta l4proto udp counter name {counter}"
                ),
            ],
        );
    }
}

/// A router's UDP counter of [`count_tunnel_udp`], in packets.
fn tunnel_udp(ns: &str, counter: &str) -> u64 {
    let listing = in_netns(ns, &["nft", &format!("list counter inet lab {counter}")]);
    let after = listing
        .split("packets ")
        .nth(1)
        .expect("the counter is listed");
    after.split_whitespace().next().unwrap().parse().unwrap()
}

/// Each tunnel's packets (received from the fabric: Azure to on-premises;
/// sent into it: on-premises to Azure), in [`DUAL_DEVICE_TUNNELS`] order.
fn tunnel_packets(lab: &Lab) -> [(u64, u64); 4] {
    DUAL_DEVICE_TUNNELS.map(|t| {
        let s = lab.stats(t);
        (s.packets_received, s.packets_sent)
    })
}

/// The peers `hub-vpngw` learned the on-premises range from, as the
/// running lab's speakers report them, one per instance and peer.
fn onprem_learned_from(lab: &Lab) -> Vec<String> {
    let snap = lab.daemon().snapshot();
    let gw = diagnostics::gateway::find_gateway(&snap, "hub-vpngw").unwrap();
    let mut peers: Vec<String> = diagnostics::gateway::learned_routes(&snap, gw)
        .value
        .into_iter()
        .filter(|r| r.network == "10.51.0.0/16" && r.origin == "EBgp")
        .filter_map(|r| r.source_peer)
        .collect();
    peers.sort();
    peers
}

/// Has the first device's BIRD disable or enable its sessions with both
/// gateway instances.
fn switch_first_device(lab: &Lab, verb: &str) {
    let control = format!("/run/vnetd-bgp/{}/bird.ctl", lab.ns("onprem-vpn1"));
    for peer in ["peer_10_11_255_4", "peer_10_11_255_5"] {
        let reply = std::process::Command::new("birdc")
            .args(["-s", &control, verb, peer])
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&reply.stdout).contains(&format!("{peer}: ")),
            "birdc {verb} {peer}: {reply:?}"
        );
    }
}

/// Microsoft's dual redundancy: an active-active gateway and two devices
/// in front of one network, four tunnels and four sessions. Flows of
/// different 5-tuples use every tunnel each way, as both ends count them
/// (vnetd's per-tunnel counters, nftables in each device); when the first
/// device's sessions end, the gateway learns the network from the second
/// alone, every flow still gets through (a flow the host hands the first
/// device crosses to the second over their own link), and the lab counts
/// 2 of 4 sessions until the first device comes back.
#[test]
fn dual_device_vpn_spreads_flows_over_four_tunnels_and_survives_a_device() {
    let text = example();
    let mut lab = Lab::start_exact("exdd", &text);
    let converged = wait_for(Duration::from_secs(90), || {
        lab.daemon().convergence().converged
    });
    let state = lab.daemon().convergence();
    assert!(
        converged,
        "{}; missing: {}",
        state.progress(),
        state.missing()
    );
    assert_eq!(
        (state.sessions_established, state.sessions_expected),
        (4, 4)
    );
    assert!(
        state.summary().starts_with("BGP 4/4 sessions established"),
        "{}",
        state.summary()
    );
    let report = assert_verify_agrees_with_check(&mut lab, &text);
    assert_eq!(report["failed"], 0, "{report:#}");
    assert!(report["passed"].as_u64().unwrap() > 0, "{report:#}");
    assert_live_equals_offline(&lab, &text);
    common::names_agreement::assert_names_live_equal_offline(&lab);
    // Each device installs the VNets through both instances, as BIRD and
    // FRR do with multipath.
    let (vpn1, vpn2) = (lab.ns("onprem-vpn1"), lab.ns("onprem-vpn2"));
    for router in [&vpn1, &vpn2] {
        assert!(
            wait_for(Duration::from_secs(30), || {
                in_netns(router, &["ip", "route", "show", "10.12.0.0/16"])
                    .matches("nexthop")
                    .count()
                    == 2
            }),
            "{router}: {}",
            in_netns(router, &["ip", "route"])
        );
    }
    // The gateway learned the network from both devices on both instances.
    assert_eq!(
        onprem_learned_from(&lab),
        [
            "10.52.255.253",
            "10.52.255.253",
            "10.52.255.254",
            "10.52.255.254"
        ]
    );

    for router in [&vpn1, &vpn2] {
        count_tunnel_udp(router);
    }
    let (spoke, onprem) = (lab.ns("spoke-vm"), lab.ns("onprem-vm"));
    let to_onprem: SocketAddr = "10.51.1.10:7000".parse().unwrap();
    let to_spoke: SocketAddr = "10.12.1.4:7000".parse().unwrap();
    let before = tunnel_packets(&lab);
    for _ in 0..64 {
        assert!(udp_echo(&spoke, &onprem, to_onprem), "spoke to on-premises");
    }
    let after = tunnel_packets(&lab);
    for ((tunnel, (received, sent)), (was_received, was_sent)) in
        DUAL_DEVICE_TUNNELS.iter().zip(after).zip(before)
    {
        assert!(
            received > was_received && sent > was_sent,
            "64 flows did not use {tunnel} both ways: {before:?} -> {after:?}"
        );
    }
    for router in [&vpn1, &vpn2] {
        assert!(
            tunnel_udp(router, "from_azure") > 0,
            "{router} forwarded none in"
        );
        assert!(
            tunnel_udp(router, "to_azure") > 0,
            "{router} forwarded none out"
        );
    }

    // The first device goes: its sessions with both instances end.
    switch_first_device(&lab, "disable");
    assert!(
        wait_for(Duration::from_secs(30), || onprem_learned_from(&lab)
            == ["10.52.255.254", "10.52.255.254"]),
        "{:?}",
        onprem_learned_from(&lab)
    );
    // The supervisor finds the sessions down within its round.
    assert!(
        wait_for(Duration::from_secs(10), || lab
            .daemon()
            .convergence()
            .progress()
            .starts_with("BGP 2/4 sessions established")),
        "{}",
        lab.daemon().convergence().progress()
    );
    assert!(!lab.daemon().convergence().converged);
    // The first device reaches the VNets through the second now.
    assert!(
        wait_for(Duration::from_secs(30), || {
            in_netns(&vpn1, &["ip", "route", "show", "10.12.0.0/16"]).contains("dev r1")
        }),
        "{}",
        in_netns(&vpn1, &["ip", "route"])
    );
    let counted = |router: &str| {
        [
            tunnel_udp(router, "from_azure"),
            tunnel_udp(router, "to_azure"),
            tunnel_udp(router, "from_peer"),
        ]
    };
    let (first_before, second_before) = (counted(&vpn1), counted(&vpn2));
    for _ in 0..32 {
        assert!(udp_echo(&spoke, &onprem, to_onprem), "spoke to on-premises");
        assert!(udp_echo(&onprem, &spoke, to_spoke), "on-premises to spoke");
    }
    let (first_after, second_after) = (counted(&vpn1), counted(&vpn2));
    assert_eq!(
        first_after[..2],
        first_before[..2],
        "the first device's tunnels carried flows after it went"
    );
    assert!(second_after[0] > second_before[0] && second_after[1] > second_before[1]);
    assert!(
        second_after[2] > second_before[2],
        "no flow the host handed the first device crossed to the second: {first_before:?} {second_before:?} -> {first_after:?} {second_after:?}"
    );

    // It comes back: four sessions again, and the lab converged.
    switch_first_device(&lab, "enable");
    let converged = wait_for(Duration::from_secs(60), || {
        lab.daemon().convergence().converged
    });
    let state = lab.daemon().convergence();
    assert!(
        converged,
        "{}; missing: {}",
        state.progress(),
        state.missing()
    );
    assert_eq!(state.sessions_established, 4);
}
