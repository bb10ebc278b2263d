//! The names vnetd gives the ports and namespaces it adds to a lab: a
//! gateway instance's, a site's tunnel to it, a circuit's Microsoft edge
//! routers', a VNet's health prober's, an Azure Firewall's,
//! each behind the lab's `netns_prefix` where it is a namespace. The file
//! names everything else. The names are made in `given`, which the kinds'
//! modules of [`super::ports`] use; this module checks them.
//!
//! A name vnetd gives must not be one the file already uses: [`refusals`]
//! lists, at the line of the resource that needs it, each port named like a
//! NIC of the file and each namespace that is taken or not a usable name.
//! Loading a lab ([`super::parse_str_with`]) reports them with the file's
//! own errors.

use crate::topology::resolve::valid_netns;
use crate::topology::{Diagnostics, Topology};
use std::collections::HashSet;

mod given;
pub use given::{
    azure_dns_name, azure_dns_netns, instance_name, instance_netns, msee_netns, prober_name,
    prober_netns, tunnel_name, tunnels,
};

/// Records in `diags` each name vnetd would give that the file already
/// uses: a gateway instance's namespace that is taken or unusable, a port
/// (gateway instance, tunnel, prober) named like a NIC of the file or
/// another port, a prober's namespace that is taken or unusable.
pub fn refusals(topology: &Topology, diags: &mut Diagnostics) {
    let mut taken = Taken::of_file(topology);
    instance_namespaces(topology, &mut taken, diags);
    gateway_ports(topology, &mut taken, diags);
    prober_ports(topology, &mut taken, diags);
    firewall_ports(topology, &mut taken, diags);
    route_server_ports(topology, &mut taken, diags);
    name_ports(topology, taken, diags);
}

/// The port names (lower case) and namespaces taken so far.
struct Taken {
    names: HashSet<String>,
    namespaces: HashSet<String>,
}

impl Taken {
    /// What the file takes: its NICs' names, and the namespaces of its NICs
    /// and of its sites' routers and hosts.
    fn of_file(topology: &Topology) -> Self {
        let names = topology
            .nics
            .iter()
            .map(|n| n.name.to_ascii_lowercase())
            .collect();
        let namespaces = topology
            .nics
            .iter()
            .map(|n| n.netns.clone())
            .chain(topology.sites.iter().flat_map(|s| {
                s.routers
                    .iter()
                    .map(|r| r.netns.clone())
                    .chain(s.hosts.iter().map(|h| h.netns.clone()))
            }))
            .collect();
        Taken { names, namespaces }
    }

    /// Takes `netns` for a namespace vnetd adds: false when it is not a
    /// usable name or is taken already.
    fn netns(&mut self, netns: &str) -> bool {
        valid_netns(netns) && self.namespaces.insert(netns.to_string())
    }

    /// Takes `name` for a port vnetd adds (port names are compared without
    /// case): false when a NIC or another port has it.
    fn port(&mut self, name: &str) -> bool {
        self.names.insert(name.to_ascii_lowercase())
    }
}

/// The refusal of a port vnetd adds (`what`) named `name`, which a NIC or
/// another port has.
fn port_taken(what: &str, name: &str) -> String {
    format!("{what} is a port named `{name}`, which is already a NIC's or another port's name")
}

/// The refusal of the namespace `netns` that vnetd would give `what`.
fn netns_taken(what: &str, netns: &str) -> String {
    format!("{what} needs the namespace `{netns}`, which is taken or not a usable name")
}

/// The refusal of a port of the fabric named `name`, which a NIC has.
fn like_a_nic(name: &str) -> String {
    format!("vnetd names a port of the fabric `{name}`, which is already a NIC's name")
}

/// Refuses a namespace of a circuit's Microsoft edge router or of a
/// gateway instance that is taken (by a NIC, a site's router or host, an
/// earlier one) or not a usable name.
fn instance_namespaces(topology: &Topology, taken: &mut Taken, diags: &mut Diagnostics) {
    for circuit in &topology.circuits {
        for link in 0..2 {
            let netns = msee_netns(topology, circuit, link);
            if !taken.netns(&netns) {
                let what = format!("the circuit's Microsoft edge router of link {link}");
                let why = netns_taken(&what, &netns);
                diags.error(
                    circuit.line,
                    &format!("express_route_circuits[{}]", circuit.name),
                    why,
                );
            }
        }
    }
    for gw in &topology.gateways {
        for i in 0..gw.instances.len() {
            let netns = instance_netns(&topology.netns_prefix, &gw.name, i);
            if !taken.netns(&netns) {
                let why = netns_taken(&format!("the gateway's instance {i}"), &netns);
                diags.error(
                    gw.line,
                    &format!("virtual_network_gateways[{}]", gw.name),
                    why,
                );
            }
        }
    }
}

/// Refuses a port vnetd adds for the gateways (one per gateway instance,
/// named like its namespace, and one per tunnel from a site's router to a
/// gateway instance) that is named like a NIC of the file.
fn gateway_ports(topology: &Topology, taken: &mut Taken, diags: &mut Diagnostics) {
    let mut ports: Vec<(usize, String)> = Vec::new();
    for gw in &topology.gateways {
        for i in 0..gw.instances.len() {
            ports.push((gw.line, instance_name(&gw.name, i)));
        }
    }
    for (at, g) in tunnels(topology) {
        let gw = &topology.gateways[g];
        let router = topology.router(at);
        for i in 0..gw.instances.len() {
            ports.push((router.line, tunnel_name(&router.label, &gw.name, i)));
        }
    }
    for (line, name) in &ports {
        if !taken.port(name) {
            diags.error(
                *line,
                &format!("network_interfaces[{name}]"),
                like_a_nic(name),
            );
        }
    }
}

/// Refuses a health prober's port (one per VNet with a load balancer that
/// has a frontend) whose name is another port's, or whose namespace is
/// taken or not a usable name.
fn prober_ports(topology: &Topology, taken: &mut Taken, diags: &mut Diagnostics) {
    for (_, vnet, lb) in topology.probed_vnets() {
        let name = prober_name(&vnet.name);
        let netns = prober_netns(&topology.netns_prefix, &vnet.name);
        if !taken.port(&name) {
            diags.error(
                lb.line,
                &format!("network_interfaces[{name}]"),
                like_a_nic(&name),
            );
        } else if !taken.netns(&netns) {
            let what = format!("the health prober of VNet `{}`", vnet.name);
            let why = netns_taken(&what, &netns);
            diags.error(lb.line, &format!("load_balancers[{}]", lb.name), why);
        }
    }
}

/// Refuses an Azure Firewall whose port (named after it) is named like
/// another port, or whose namespace is taken or not a usable name.
fn firewall_ports(topology: &Topology, taken: &mut Taken, diags: &mut Diagnostics) {
    for fw in &topology.firewalls {
        let key = format!("azure_firewalls[{}]", fw.name);
        let netns = super::ports::firewall::netns(&topology.netns_prefix, &fw.name);
        if !taken.port(&fw.name) {
            let why = format!(
                "the firewall's port is named `{}`, which is already a NIC's or another port's name",
                fw.name
            );
            diags.error(fw.line, &key, why);
        } else if !taken.netns(&netns) {
            let why = netns_taken("the firewall", &netns);
            diags.error(fw.line, &key, why);
        }
    }
}

/// Refuses a Route Server instance whose port (`<route server>-<i>`) is
/// named like another port, or whose namespace is taken or not a usable
/// name.
fn route_server_ports(topology: &Topology, taken: &mut Taken, diags: &mut Diagnostics) {
    for rs in &topology.route_servers {
        let key = format!("route_servers[{}]", rs.name);
        for i in 0..rs.instances.len() {
            let name = instance_name(&rs.name, i);
            let netns = instance_netns(&topology.netns_prefix, &rs.name, i);
            let what = format!("the Route Server's instance {i}");
            if !taken.port(&name) {
                diags.error(rs.line, &key, port_taken(&what, &name));
            } else if !taken.netns(&netns) {
                diags.error(rs.line, &key, netns_taken(&what, &netns));
            }
        }
    }
}

/// Refuses a port of names (a VNet's Azure DNS, a Private Endpoint, a
/// resolver's endpoint) named like another port, or whose namespace is
/// taken or not a usable name.
fn name_ports(topology: &Topology, mut taken: Taken, diags: &mut Diagnostics) {
    let plan = super::Plan::derive(topology);
    for port in plan.ports.iter() {
        let Some(super::ports::kind::NameClaim { what, key }) = port.kind.name_claim(topology)
        else {
            continue;
        };
        // Azure DNS's namespace is derived from one of the lab's own, as
        // the fabric's is: never too long for the host, only maybe taken.
        let derived = port.kind.traits().netns_derived;
        if !taken.port(&port.name) {
            diags.error(port.line, &key, port_taken(&what, &port.name));
            continue;
        }
        let claimed = if derived {
            taken.namespaces.insert(port.netns.clone())
        } else {
            taken.netns(&port.netns)
        };
        if !claimed {
            diags.error(port.line, &key, netns_taken(&what, &port.netns));
        }
    }
}
