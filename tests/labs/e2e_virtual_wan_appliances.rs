//! Appliances peering with a virtual hub's router end to end, as root,
//! with real daemons: Microsoft's "Route traffic through an NVA" design
//! written with BGP connections (`common::virtual_wan`): each NVA VNet's
//! appliance (BIRD in vnet2, FRR in vnet4) peers with both addresses of
//! its hub's router (gobgpd in each instance's namespace, ASN 65515) and
//! announces its spokes. The hubs' tables carry them as the BGP model
//! predicts (`HubBgpConnection` at home, `Remote Hub 65520-65520-<asn>`
//! across), VNets of both hubs reach the spokes through the NVA with
//! real pings and TCP, the appliance learns the hub's VNets, and a spoke
//! the appliance stops announcing leaves both hubs' tables within a
//! second.

use crate::common;

use common::virtual_wan::{hub_rows, nva_scenario, nva_scenario_with_bgp, withdraw_from_bird};
use common::{in_netns, ping, tcp_echo, wait_for, Lab};
use std::time::Duration;

const PREFIX: &str = "vwa";

#[test]
fn appliances_announce_their_spokes_to_the_hubs_and_withdraw_them() {
    let text = nva_scenario_with_bgp(&nva_scenario());
    let mut lab = Lab::start(PREFIX, &text);
    let socket = lab.serve_control();
    let hub1_row = "10.2.1.0/24 HubBgpConnection 65020";
    let hub2_row = "10.2.1.0/24 Remote Hub 65520-65520-65020";
    let learned = wait_for(Duration::from_secs(90), || {
        hub_rows(&socket, "hub1").contains(&hub1_row.to_string())
            && hub_rows(&socket, "hub2").contains(&hub2_row.to_string())
    });
    assert!(
        learned,
        "the hubs never learned the appliance's spokes: hub1 {:#?}\nhub2 {:#?}",
        hub_rows(&socket, "hub1"),
        hub_rows(&socket, "hub2")
    );
    // Live equals offline: sessions, learned and advertised routes of the
    // hub routers and gateways, and every NIC's effective routes.
    let running = lab.daemon().snapshot().topology.text.to_string();
    common::bgp_agreement::assert_live_equals_offline(&lab, &running);

    // Real packets to the spokes through their NVA, from both hubs.
    assert!(ping(&lab.ns("vm-vnet1"), "10.2.1.4"), "vnet1 to vnet5");
    assert!(ping(&lab.ns("vm-vnet3"), "10.2.2.4"), "vnet3 to vnet6");
    assert!(ping(&lab.ns("vm-vnet1"), "10.4.1.4"), "vnet1 to vnet7");
    let nva = lab.stats("nva-vnet2").packets_received;
    assert!(
        tcp_echo(
            &lab.ns("vm-vnet3"),
            &lab.ns("vm-vnet5"),
            "10.2.1.4:7000".parse().unwrap()
        ),
        "TCP from vnet3 to vnet5"
    );
    assert!(
        lab.stats("nva-vnet2").packets_received > nva,
        "the TCP exchange crossed nva-vnet2"
    );

    // The appliance learned the hub's VNets from both router addresses.
    let ctl = format!("/run/vnetd-bgp/{}/bird.ctl", lab.ns("nva-vnet2"));
    let routes = in_netns(
        &lab.ns("nva-vnet2"),
        &["birdc", "-s", &ctl, "show", "route", "all", "10.1.0.0/16"],
    );
    assert!(routes.contains("BGP.as_path: 65515"), "{routes}");

    // The appliance stops announcing vnet6: both hubs drop it within 1 s.
    let withdrawn_at = withdraw_from_bird(&lab.ns("nva-vnet2"), "10.2.2.0/24");
    let gone = wait_for(Duration::from_secs(1), || {
        ["hub1", "hub2"]
            .iter()
            .all(|hub| !(hub_rows(&socket, hub).iter()).any(|r| r.starts_with("10.2.2.0/24 ")))
    });
    assert!(
        gone,
        "10.2.2.0/24 stayed in a hub table over 1 s: hub1 {:?}, hub2 {:?}",
        hub_rows(&socket, "hub1"),
        hub_rows(&socket, "hub2")
    );
    eprintln!(
        "10.2.2.0/24 left both hubs' tables in {:?}",
        withdrawn_at.elapsed()
    );
    assert!(ping(&lab.ns("vm-vnet1"), "10.2.1.4"), "vnet5 still reached");
    assert!(
        !ping(&lab.ns("vm-vnet1"), "10.2.2.4"),
        "vnet6 no longer reached"
    );
}
