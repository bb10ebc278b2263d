//! The names vnetd gives the ports and namespaces it adds to a lab: a
//! gateway instance's, a site's tunnel to it, a circuit's Microsoft edge
//! routers', a VNet's health prober's and Azure DNS's, each behind the
//! lab's `netns_prefix` where it is a namespace. The kinds' modules of
//! `plan::ports` name their ports with them; they use nothing of the plan.

use crate::topology::{Circuit, GatewayIdx, RouterRef, Topology};

/// The name of instance `i` of a gateway: its port's, and its namespace's
/// behind the lab's `netns_prefix`.
pub fn instance_name(gateway: &str, i: usize) -> String {
    format!("{gateway}-{i}")
}

/// The namespace standing for instance `i` of a gateway, in a lab whose
/// `netns_prefix` is `prefix`.
pub fn instance_netns(prefix: &str, gateway: &str, i: usize) -> String {
    format!("{prefix}{}", instance_name(gateway, i))
}

/// The name of the port for the tunnel from a site's router, by its label
/// (the site's name for a site's one router, `<site>-<router>` for one of
/// several), to instance `i` of `gateway`.
pub fn tunnel_name(router: &str, gateway: &str, i: usize) -> String {
    format!("{router}-to-{gateway}-{i}")
}

/// The namespace of Microsoft's edge router of link `link` of `circuit`:
/// named after the namespace of the customer edge's router it faces
/// (`<router>-msee-primary`, `-secondary`), which is the lab's own, so two
/// labs whose circuits share a name never share an edge router.
pub fn msee_netns(topology: &Topology, circuit: &Circuit, link: usize) -> String {
    let side = if link == 0 { "primary" } else { "secondary" };
    let edge = &topology.sites[circuit.site].first_router().netns;
    format!("{edge}-msee-{side}")
}

/// The name of a VNet's health prober: its port's, and its namespace's
/// behind the lab's `netns_prefix`.
pub fn prober_name(vnet: &str) -> String {
    format!("probe-{vnet}")
}

/// The name of a VNet's Azure DNS port: `dns-<vnet>`.
pub fn azure_dns_name(vnet: &str) -> String {
    format!("dns-{vnet}")
}

/// The namespace of a VNet's Azure DNS: named after the namespace of the
/// VNet's first port (`<that namespace>.dns`), which is the lab's own, so
/// two labs with VNets of one name never share it, whatever their
/// `netns_prefix`.
pub fn azure_dns_netns(first_port_netns: &str) -> String {
    format!("{first_port_netns}.dns")
}

/// The namespace of a VNet's health prober, in a lab whose `netns_prefix`
/// is `prefix`.
pub fn prober_netns(prefix: &str, vnet: &str) -> String {
    format!("{prefix}{}", prober_name(vnet))
}

/// The (router, gateway) pairs with a tunnel: one per site router and
/// gateway that a connection joins (a local network gateway's router, a
/// circuit's customer edge), in the connections' order.
pub fn tunnels(topology: &Topology) -> Vec<(RouterRef, GatewayIdx)> {
    let mut tunnels = Vec::new();
    for c in &topology.connections {
        let Some(router) = topology.tunnel_router(c.peer) else {
            continue;
        };
        if !tunnels.contains(&(router, c.gateway)) {
            tunnels.push((router, c.gateway));
        }
    }
    tunnels
}
