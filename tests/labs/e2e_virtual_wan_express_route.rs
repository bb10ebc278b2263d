//! ExpressRoute in a Virtual WAN hub end to end, as root, with real
//! daemons (`tests/data/vwan_express_route/two-hubs.yaml`): hub1's
//! ExpressRoute gateway (gobgpd in each instance's namespace) connected to
//! a circuit whose customer edge runs BIRD, beside hub1's VPN gateway and
//! a BGP branch. The datacenter's router learns the VNets of both hubs,
//! the hub's prefix and the branch through Microsoft's edge routers; spokes
//! of both hubs ping the datacenter host and it pings them back; every
//! session, learned and advertised route and NIC route is what the BGP
//! model predicts from the file.
//!
//! Namespaces are named behind `vwer-`, so the lab runs beside others.

use crate::common;

use common::{in_netns, ping, wait_for, Lab};
use std::collections::BTreeSet;
use std::time::Duration;

const PREFIX: &str = "vwer";

/// The prefixes the datacenter's BIRD holds from its BGP sessions (the
/// edge routers').
fn datacenter_prefixes() -> BTreeSet<String> {
    let router = format!("{PREFIX}-dc1");
    let ctl = format!("/run/vnetd-bgp/{router}/bird.ctl");
    let text = in_netns(&router, &["birdc", "-s", &ctl, "show", "route"]);
    (text.lines())
        .filter(|l| !l.starts_with(char::is_whitespace) && l.contains("[peer_"))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|first| first.contains('/'))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_datacenter_learns_both_hubs_and_the_spokes_reach_it() {
    let text = include_str!("../data/vwan_express_route/two-hubs.yaml");
    let lab = Lab::start(PREFIX, text);
    // Both hubs' VNets, hub1's prefix and the VPN branch (branch-to-branch
    // traffic); never hub2's prefix, nor the circuit's own.
    let wanted: BTreeSet<String> = [
        "10.1.0.0/16",
        "10.2.0.0/16",
        "10.100.0.0/23",
        "192.168.10.0/24",
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    assert!(
        wait_for(Duration::from_secs(90), || datacenter_prefixes() == wanted),
        "the datacenter never learned the hubs: {:?}",
        datacenter_prefixes()
    );
    // The hub tables hold the datacenter once the gateway's watcher has
    // recorded what it learned.
    assert!(
        wait_for(Duration::from_secs(30), || ping(
            &lab.ns("vm1"),
            "172.20.1.10"
        )),
        "vm1 never reached dc-host"
    );
    assert!(ping(&lab.ns("vm2"), "172.20.1.10"), "vm2 to dc-host");
    assert!(
        ping(&format!("{PREFIX}-dc-host"), "10.2.1.4"),
        "dc-host to vm2"
    );
    let running = lab.daemon().snapshot().topology.text.to_string();
    common::bgp_agreement::assert_live_equals_offline(&lab, &running);
}
