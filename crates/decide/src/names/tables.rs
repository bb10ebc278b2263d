//! Every VNet's view of names compiled from a topology: the Private DNS
//! zones linked to it, its VMs' names, the public names the lab knows and
//! the forwarding rules of the rulesets linked to it, in the order Azure
//! DNS reads them.

use super::vocabulary::{in_domain, VmName};
use super::zones::ZoneTable;
use crate::topology::{NicIdx, ResolutionPolicy, TiVec, Topology, VnetIdx, ZoneIdx};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

/// A public name the lab knows.
#[derive(Debug, Clone)]
pub(super) enum PublicName {
    /// A Private Link resource's public name: a CNAME to its `privatelink`
    /// name.
    Alias { target: String, resource: String },
    /// A `privatelink` name outside the linked zones: the resource's
    /// public address.
    Address { address: Ipv4Addr, resource: String },
    /// A name of the Internet's (`internet.names`): its addresses.
    Internet { addresses: Vec<std::net::IpAddr> },
}

/// One Private DNS zone linked to a VNet, as that VNet's view holds it.
#[derive(Debug, Clone)]
pub(super) struct LinkedZone {
    pub(super) zone: ZoneIdx,
    pub(super) link: String,
    pub(super) policy: ResolutionPolicy,
}

/// A forwarding rule as the VNets linked to its ruleset see it.
#[derive(Debug, Clone)]
pub(super) struct LinkedRule {
    pub(super) ruleset: String,
    pub(super) rule: String,
    /// Lower case, no final dot; empty for the root.
    pub(super) domain: String,
    pub(super) targets: Vec<std::net::SocketAddr>,
    pub(super) outbound: Vec<(crate::topology::ResolverIdx, usize)>,
}

impl LinkedRule {
    pub(super) fn labels(&self) -> usize {
        if self.domain.is_empty() {
            0
        } else {
            self.domain.split('.').count()
        }
    }

    pub(super) fn covers(&self, name: &str) -> bool {
        self.domain.is_empty() || in_domain(name, &self.domain)
    }
}

/// Every VNet's view of names, compiled from a topology: what Azure DNS
/// answers there.
#[derive(Debug, Default)]
pub struct NameTables {
    /// Per VNet, the enabled rules of the rulesets linked to it, the
    /// longest domain first.
    pub(super) rules: TiVec<VnetIdx, Vec<LinkedRule>>,
    pub(super) zones: TiVec<ZoneIdx, ZoneTable>,
    /// Per VNet, its linked zones, the longest zone name first.
    pub(super) views: TiVec<VnetIdx, Vec<LinkedZone>>,
    /// Per VNet, its VMs by lower-case name.
    pub(super) vms: TiVec<VnetIdx, HashMap<String, VmName>>,
    pub(super) public: HashMap<String, PublicName>,
}

impl NameTables {
    /// Compiles the names of `topology`.
    pub fn compile(topology: &Topology) -> NameTables {
        let vms = vm_names(topology);
        let zones: TiVec<ZoneIdx, ZoneTable> = topology
            .private_dns_zones
            .iter_enumerated()
            .map(|(z, zone)| ZoneTable::compile(topology, z, zone, &vms))
            .collect();
        let mut views: TiVec<VnetIdx, Vec<LinkedZone>> =
            topology.vnets.keys().map(|_| Vec::new()).collect();
        for (z, zone) in topology.private_dns_zones.iter_enumerated() {
            for link in &zone.links {
                if let Some(view) = views.get_mut(link.vnet) {
                    view.push(LinkedZone {
                        zone: z,
                        link: link.name.clone(),
                        policy: link.resolution_policy,
                    });
                }
            }
        }
        for view in views.iter_mut() {
            view.sort_by_key(|l| std::cmp::Reverse(zones[l.zone].labels()));
        }
        let mut public = HashMap::new();
        for pe in &topology.private_endpoints {
            let t = &pe.target;
            let resource = format!("{} ({})", t.resource, t.sub_resource.name);
            public
                .entry(t.public_name())
                .or_insert_with(|| PublicName::Alias {
                    target: t.privatelink_name(),
                    resource: resource.clone(),
                });
            public
                .entry(t.privatelink_name())
                .or_insert(PublicName::Address {
                    address: t.public_address,
                    resource,
                });
        }
        // A resource declared on its own answers its public name with its
        // public face where no Private Endpoint's alias stands for it.
        for r in &topology.paas_resources {
            let resource = format!("{} ({})", r.name, r.kind.as_str());
            public
                .entry(r.public_name())
                .or_insert(PublicName::Address {
                    address: r.public_address,
                    resource,
                });
        }
        // The lab's own PaaS names come first: a name of the Internet's
        // never hides one.
        for n in topology.edge.internet_names() {
            public
                .entry(n.name.clone())
                .or_insert_with(|| PublicName::Internet {
                    addresses: n.addresses.clone(),
                });
        }
        let mut rules: TiVec<VnetIdx, Vec<LinkedRule>> =
            topology.vnets.keys().map(|_| Vec::new()).collect();
        for set in &topology.forwarding_rulesets {
            for rule in set.rules.iter().filter(|r| r.enabled) {
                for &vnet in &set.links {
                    rules[vnet].push(LinkedRule {
                        ruleset: set.name.clone(),
                        rule: rule.name.clone(),
                        domain: rule.domain.clone(),
                        targets: rule.targets.clone(),
                        outbound: set.outbound_endpoints.clone(),
                    });
                }
            }
        }
        for view in rules.iter_mut() {
            view.sort_by_key(|r| std::cmp::Reverse(r.labels()));
        }
        NameTables {
            rules,
            zones,
            views,
            vms,
            public,
        }
    }
}

/// Every VM of the topology, by VNet: a `virtual_machines` entry (its
/// first NIC is the primary one), or a NIC no VM owns, named after the
/// NIC. A name that is no DNS label is left out (Azure takes a VM's host
/// name from its name); the first of two VMs of one name wins.
fn vm_names(topology: &Topology) -> TiVec<VnetIdx, HashMap<String, VmName>> {
    let mut out: TiVec<VnetIdx, HashMap<String, VmName>> =
        topology.vnets.keys().map(|_| HashMap::new()).collect();
    let owned: std::collections::HashSet<NicIdx> = topology
        .virtual_machines
        .iter()
        .flat_map(|vm| vm.nics.iter().copied())
        .collect();
    let named = (topology.virtual_machines.iter())
        .filter_map(|vm| Some((vm.name.as_str(), *vm.nics.first()?)))
        .chain(
            (topology.nics.iter_enumerated())
                .filter(|(n, _)| !owned.contains(n))
                .map(|(n, nic)| (nic.name.as_str(), n)),
        );
    for (name, nic) in named {
        let Some(label) = dns_label(name) else {
            continue;
        };
        let nic = &topology.nics[nic];
        let configs = nic.ip_configurations.iter().map(|c| c.address);
        let v4 = configs.clone().find_map(|a| match a {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        });
        let v6 = configs.clone().find_map(|a| match a {
            IpAddr::V6(a) => Some(a),
            IpAddr::V4(_) => None,
        });
        if let Some(vnet) = out.get_mut(nic.subnet.vnet) {
            vnet.entry(label).or_insert(VmName {
                name: name.to_string(),
                v4,
                v6,
            });
        }
    }
    out
}

/// `name` as one DNS label, lower case, when it can be one.
fn dns_label(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then(|| name.to_ascii_lowercase())
}
