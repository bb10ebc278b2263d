//! The names vnetd gives: the lab's `netns_prefix`, before every
//! namespace name vnetd makes itself (a NIC's, a site router's or host's
//! without an explicit `netns`, a gateway instance's, a health prober's,
//! the fabric's; an explicit `netns` is used as written), and the ports it
//! adds to the fabric (gateway instances, site tunnels, health probers; the
//! lab plan derives the ports themselves): a NIC of the file may not take
//! one's name, and a prober's namespace must be free.

use super::{valid_netns, Resolver};
use crate::topology::model::*;
use std::collections::HashSet;

/// The longest namespace name vnetd makes or accepts.
pub const MAX_NETNS_LEN: usize = 64;

/// Why `netns` cannot name a namespace; `prefixed` when vnetd made it from
/// the lab's `netns_prefix` and a name of the file.
pub(super) fn unusable_netns(netns: &str, prefixed: bool) -> String {
    let made = if prefixed {
        " (`netns_prefix` and the name)"
    } else {
        ""
    };
    format!(
        "`{netns}`{made} is not a usable namespace name: 1 to {MAX_NETNS_LEN} letters, digits, \
         `_`, `.` or `-`, not starting with `.`"
    )
}

/// The name of instance `i` of a gateway: its port's, and its
/// namespace's behind the lab's `netns_prefix`.
pub fn instance_name(gateway: &str, i: usize) -> String {
    format!("{gateway}-{i}")
}

/// The namespace standing for instance `i` of a gateway, in a lab whose
/// `netns_prefix` is `prefix`.
pub fn instance_netns(prefix: &str, gateway: &str, i: usize) -> String {
    format!("{prefix}{}", instance_name(gateway, i))
}

/// The name of the port for the tunnel from `site` to instance `i` of
/// `gateway`.
pub fn tunnel_name(site: &str, gateway: &str, i: usize) -> String {
    format!("{site}-to-{gateway}-{i}")
}

impl Resolver<'_> {
    /// Takes the lab's `netns_prefix`: characters a namespace name may
    /// hold, not starting with `.`, and short enough to leave room for a
    /// name after it.
    pub(super) fn netns_prefix(&mut self, prefix: Option<(String, usize)>) {
        let Some((prefix, line)) = prefix else {
            return;
        };
        if prefix.len() >= MAX_NETNS_LEN || !valid_netns(&prefix) {
            let why = format!(
                "`{prefix}` is not a usable namespace prefix: 1 to {} letters, digits, `_`, `.` \
                 or `-`, not starting with `.` (a namespace name, prefix included, is at most \
                 {MAX_NETNS_LEN})",
                MAX_NETNS_LEN - 1
            );
            self.diags.error(line, "netns_prefix", why);
            return;
        }
        self.topo.netns_prefix = prefix;
    }

    /// `name` behind the lab's `netns_prefix`: a namespace vnetd names
    /// itself.
    pub(super) fn prefixed(&self, name: &str) -> String {
        format!("{}{name}", self.topo.netns_prefix)
    }

    /// Refuses a NIC of the file named like a port vnetd adds for the
    /// gateways (see the lab plan): one per gateway instance, named like its
    /// namespace, and one per tunnel from a site's router to a gateway
    /// instance. Gives the names of those ports and the namespaces of the
    /// gateway instances, which the health probers' names must avoid too.
    pub(super) fn gateway_ports(&mut self) -> (Vec<String>, Vec<String>) {
        let mut names: HashSet<String> = self
            .topo
            .nics
            .iter()
            .map(|n| n.name.to_ascii_lowercase())
            .collect();
        let mut ports: Vec<(usize, String)> = Vec::new();
        let mut namespaces = Vec::new();
        for gw in &self.topo.gateways {
            for i in 0..gw.instances.len() {
                namespaces.push(instance_netns(&self.topo.netns_prefix, &gw.name, i));
                ports.push((gw.line, instance_name(&gw.name, i)));
            }
        }
        let mut tunnels: Vec<(SiteIdx, GatewayIdx)> = Vec::new();
        for c in &self.topo.connections {
            let site = match c.peer {
                ConnectionPeer::Local(l) => self.topo.local_gateways[l].site,
                ConnectionPeer::Circuit(e) => self.topo.circuits[e].site,
                ConnectionPeer::Gateway(_) => continue,
            };
            if !tunnels.contains(&(site, c.gateway)) {
                tunnels.push((site, c.gateway));
            }
        }
        for (site, g) in tunnels {
            let gw = &self.topo.gateways[g];
            let s = &self.topo.sites[site];
            for i in 0..gw.instances.len() {
                ports.push((s.line, tunnel_name(&s.name, &gw.name, i)));
            }
        }
        for (line, name) in &ports {
            if !names.insert(name.to_ascii_lowercase()) {
                let why = format!(
                    "vnetd names a port of the fabric `{name}`, which is already a NIC's name"
                );
                self.diags
                    .error(*line, &format!("network_interfaces[{name}]"), why);
            }
        }
        (ports.into_iter().map(|(_, n)| n).collect(), namespaces)
    }

    /// Refuses a health prober's port (one per VNet with a load balancer,
    /// see the lab plan) whose name is another port's, or whose namespace
    /// is taken: `fabric` and `fabric_namespaces` are the gateways' ports
    /// and namespaces.
    pub(super) fn prober_ports(&mut self, fabric: &[String], fabric_namespaces: &[String]) {
        let topo = &self.topo;
        let mut names: HashSet<String> = topo
            .nics
            .iter()
            .map(|n| n.name.as_str())
            .chain(fabric.iter().map(String::as_str))
            .map(str::to_ascii_lowercase)
            .collect();
        let mut namespaces: HashSet<String> = topo
            .nics
            .iter()
            .map(|n| n.netns.clone())
            .chain(fabric_namespaces.iter().cloned())
            .chain(topo.sites.iter().flat_map(|s| {
                std::iter::once(s.router_netns.clone())
                    .chain(s.hosts.iter().map(|h| h.netns.clone()))
            }))
            .collect();
        let mut errors = Vec::new();
        for (v, vnet) in topo.vnets.iter_enumerated() {
            let Some(lb) = topo.load_balancers.iter().find(|lb| lb.vnet == v) else {
                continue;
            };
            if lb.frontends.is_empty() {
                continue;
            }
            let name = prober_name(&vnet.name);
            let netns = prober_netns(&topo.netns_prefix, &vnet.name);
            if !names.insert(name.to_ascii_lowercase()) {
                let why = format!(
                    "vnetd names a port of the fabric `{name}`, which is already a NIC's name"
                );
                errors.push((lb.line, format!("network_interfaces[{name}]"), why));
            } else if !valid_netns(&netns) || !namespaces.insert(netns.clone()) {
                let why = format!(
                    "the health prober of VNet `{}` needs the namespace `{netns}`, which is taken \
                     or not a usable name",
                    vnet.name
                );
                errors.push((lb.line, format!("load_balancers[{}]", lb.name), why));
            }
        }
        for (line, key, why) in errors {
            self.diags.error(line, &key, why);
        }
    }
}
