//! Azure DNS (168.63.129.16) as each VNet sees it: the names a topology
//! declares compiled into per-VNet tables, and the answers read from them,
//! as a [`Resolution`] for the diagnostics and as DNS messages for the
//! server the daemon runs at 168.63.129.16. No I/O: one pure engine that
//! `vnetd resolve` and the running lab share, so the offline answer and
//! the answer a VM gets are one answer.
//!
//! Azure's order ("What is a private Azure DNS zone", "Name resolution
//! for resources in Azure virtual networks", "Azure Private Endpoint DNS
//! configuration", "Fallback to internet for Azure Private DNS zones"):
//!
//! 1. the Private DNS zones linked to the asking VNet, the longest zone
//!    name that holds the name winning; a name in the zone's domain that the
//!    zone lacks is NXDOMAIN, unless the link's `resolution_policy` is
//!    `NxDomainRedirect`, which sends A, AAAA and CNAME questions on to
//!    public resolution. A link with `registration_enabled` makes each VM
//!    of its VNet an A record `<vm>.<zone>` (TTL 10), unless the file wrote
//!    an A or CNAME record set of that name;
//! 2. the VNet's own VMs as `<vm>.internal.cloudapp.net` (vnetd's fixed
//!    stand-in for Azure's per-VNet internal suffix), TTL 10;
//! 3. the public names vnetd knows: each Private Endpoint target's public
//!    name is a CNAME to its `privatelink` name, and that name, where no
//!    linked zone holds it, is the resource's public address (TTL 300);
//!    then the names the file gives the Internet (`internet.names`), each
//!    its addresses (TTL 300);
//! 4. nothing else: NXDOMAIN. vnetd never asks the Internet.
//!
//! CNAMEs are followed in the same VNet's view, each step starting again
//! at 1; a loop, or more than [`MAX_CNAME_STEPS`] steps, is SERVFAIL.

mod lookup;
mod loops;
pub mod query_log;
mod resolution;
mod wire;
mod zones;

#[cfg(test)]
mod tests;

pub use hickory_proto::rr::RecordType as QueryType;
pub use loops::{forwarding_loops, ForwardingLoop, LoopTurn};
pub use resolution::{AnswerRecord, Forward, Origin, Rcode, Resolution, Source, Step, StepResult};
pub use wire::{
    forward_query, question, read_reply, relay, relay_tcp, Answered, Forwarded, Outcome, Reply,
    ReplyRecord, MAX_UDP_PAYLOAD, MIN_UDP_PAYLOAD,
};

use crate::topology::{
    DnsServers, NicIdx, RecordType, ResolutionPolicy, TiVec, Topology, VnetIdx, ZoneIdx, AZURE_DNS,
};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use zones::ZoneTable;

/// The suffix under which Azure DNS answers a VNet's VM names. Azure gives
/// each VNet its own (`<random>.<region>.internal.cloudapp.net`); vnetd
/// uses this one for every VNet, each VNet still answering only its own
/// VMs.
pub const INTERNAL_SUFFIX: &str = "internal.cloudapp.net";

/// TTL of the VM names Azure DNS answers and registers (seconds).
pub const VM_NAME_TTL: u32 = 10;

/// TTL of the public names vnetd answers for Private Link resources
/// (seconds): vnetd's own figure, Azure's public zones being outside the
/// lab.
pub const PUBLIC_NAME_TTL: u32 = 300;

/// The longest chain of CNAMEs followed for one question; one more is
/// SERVFAIL, as a resolver gives up on a chain it cannot finish.
pub const MAX_CNAME_STEPS: usize = 8;

/// Who answers a NIC's questions: Azure DNS, or the custom servers its
/// own or its VNet's `dns_servers` name (Azure DNS is then not asked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameServers {
    /// 168.63.129.16, answering with the VNet's view.
    AzureDns,
    /// The NIC's own `dns_servers`, in order.
    Nic(DnsServers),
    /// The VNet's `dns_servers`, in order.
    Vnet(DnsServers),
    /// An on-premises host's own (its `resolv.conf`), in order: never
    /// Azure DNS, which answers only inside Azure.
    Host(DnsServers),
}

impl NameServers {
    /// Whom `nic` asks: its own `dns_servers`, else its VNet's, else Azure
    /// DNS. A list whose first server is 168.63.129.16 is Azure DNS too
    /// (the guest asks that one first).
    pub fn of(topology: &Topology, nic: NicIdx) -> NameServers {
        let nic = &topology.nics[nic];
        let vnet = &topology.vnets[nic.subnet.vnet];
        let servers = if nic.dns_servers.is_empty() {
            NameServers::Vnet(vnet.dns_servers.clone())
        } else {
            NameServers::Nic(nic.dns_servers.clone())
        };
        match &servers {
            NameServers::Nic(list) | NameServers::Vnet(list)
                if list.first().is_some_and(|s| *s != IpAddr::V4(AZURE_DNS)) =>
            {
                servers
            }
            _ => NameServers::AzureDns,
        }
    }

    /// The addresses asked, in order.
    pub fn addresses(&self) -> Vec<IpAddr> {
        match self {
            NameServers::AzureDns => vec![IpAddr::V4(AZURE_DNS)],
            NameServers::Nic(list) | NameServers::Vnet(list) | NameServers::Host(list) => {
                list.clone()
            }
        }
    }
}

/// A VM as Azure DNS names it: its name (lower case) and its primary NIC's
/// first addresses.
#[derive(Debug, Clone)]
struct VmName {
    /// As the file writes it.
    name: String,
    v4: Option<Ipv4Addr>,
    v6: Option<Ipv6Addr>,
}

/// A public name the lab knows.
#[derive(Debug, Clone)]
enum PublicName {
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
struct LinkedZone {
    zone: ZoneIdx,
    link: String,
    policy: ResolutionPolicy,
}

/// A forwarding rule as the VNets linked to its ruleset see it.
#[derive(Debug, Clone)]
struct LinkedRule {
    ruleset: String,
    rule: String,
    /// Lower case, no final dot; empty for the root.
    domain: String,
    targets: Vec<std::net::SocketAddr>,
    outbound: Vec<(crate::topology::ResolverIdx, usize)>,
}

impl LinkedRule {
    fn labels(&self) -> usize {
        if self.domain.is_empty() {
            0
        } else {
            self.domain.split('.').count()
        }
    }

    fn covers(&self, name: &str) -> bool {
        self.domain.is_empty() || in_domain(name, &self.domain)
    }
}

/// `name` is `domain` or below it (both lower case, without the final
/// dot).
fn in_domain(name: &str, domain: &str) -> bool {
    name == domain
        || name
            .strip_suffix(domain)
            .is_some_and(|head| head.ends_with('.'))
}

/// Every VNet's view of names, compiled from a topology: what Azure DNS
/// answers there.
#[derive(Debug, Default)]
pub struct NameTables {
    /// Per VNet, the enabled rules of the rulesets linked to it, the
    /// longest domain first.
    rules: TiVec<VnetIdx, Vec<LinkedRule>>,
    zones: TiVec<ZoneIdx, ZoneTable>,
    /// Per VNet, its linked zones, the longest zone name first.
    views: TiVec<VnetIdx, Vec<LinkedZone>>,
    /// Per VNet, its VMs by lower-case name.
    vms: TiVec<VnetIdx, HashMap<String, VmName>>,
    public: HashMap<String, PublicName>,
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

/// A question's name as the tables hold names: lower case, without the
/// final dot.
pub fn normalise(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// The question type of a record type a zone holds.
pub fn query_type(record_type: RecordType) -> QueryType {
    match record_type {
        RecordType::A => QueryType::A,
        RecordType::Aaaa => QueryType::AAAA,
        RecordType::Cname => QueryType::CNAME,
        RecordType::Mx => QueryType::MX,
        RecordType::Ptr => QueryType::PTR,
        RecordType::Srv => QueryType::SRV,
        RecordType::Txt => QueryType::TXT,
    }
}
