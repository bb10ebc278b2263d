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
mod tables;
mod vocabulary;
mod wire;
mod zones;

#[cfg(test)]
mod tests;

pub use loops::{forwarding_loops, ForwardingLoop, LoopTurn};
pub use resolution::{AnswerRecord, Forward, Origin, Rcode, Resolution, Source, Step, StepResult};
pub use wire::{
    forward_query, question, read_reply, relay, relay_tcp, Answered, Forwarded, Outcome, Reply,
    ReplyRecord, MAX_UDP_PAYLOAD, MIN_UDP_PAYLOAD,
};

pub use tables::NameTables;
pub use vocabulary::{
    normalise, query_type, QueryType, INTERNAL_SUFFIX, MAX_CNAME_STEPS, PUBLIC_NAME_TTL,
    VM_NAME_TTL,
};

use crate::topology::{DnsServers, NicIdx, Topology, AZURE_DNS};
use std::net::IpAddr;

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
