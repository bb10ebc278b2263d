//! What answers inside the lab as Azure's own platform does: Azure DNS at
//! 168.63.129.16 in every VNet ([`azure_dns`]), and the PaaS resources
//! reached through Private Endpoints ([`paas`]), Azure Firewall's
//! application rules at the firewall's proxy ([`firewall_proxy`]); the
//! firewalls' answers for their network rules' FQDNs ([`fqdn_refresh`]);
//! and the DNS servers the
//! file asks vnetd to run in VMs and on-premises hosts ([`dns_servers`]),
//! kept running by [`services`]. Each runs on a thread of
//! its own, outside the packets' path: the fabric delivers to their ports'
//! namespaces like to any VM's, and they answer with real sockets there.
//!
//! Invariants:
//! - what they answer comes from the plane's current snapshot, read for
//!   each query (the same compiled tables `vnetd resolve` reads offline);
//! - they follow the plane: a port that appears gets its socket within a
//!   tick, one that goes loses it;
//! - every caller is bounded: a datagram gets one answer, a connection a
//!   deadline and a slot among few; what cannot be answered is counted.
//!
//! This room uses the forwarding room's plane and the threads'
//! supervision, nothing else of the daemon.

pub mod azure_dns;
pub mod dns_servers;
pub mod firewall_proxy;
pub mod fqdn_refresh;
pub mod live;
pub mod paas;
pub mod services;
pub mod tls;

/// What answers in the lab, as the daemon holds it: the counters of Azure
/// DNS and of the PaaS responders (which the reports read), and the lab's
/// CA.
pub struct Answering {
    /// What Azure DNS was asked, and the PaaS responders answered.
    pub(in crate::daemon) names: (
        std::sync::Arc<azure_dns::DnsCounters>,
        std::sync::Arc<paas::PaasCounters>,
    ),
    /// The lab's CA: the certificates its responders present, trusted by
    /// its VMs.
    pub(in crate::daemon) tls: std::sync::Arc<tls::LabTls>,
}

impl Answering {
    /// Whether Azure DNS and the services thread have both followed plane
    /// `generation` (or a later one): their sockets for it are open, so a
    /// VM's question or request to them meets a listener.
    pub(in crate::daemon) fn listening_for(&self, generation: u64) -> bool {
        use std::sync::atomic::Ordering::Acquire;
        let (azure_dns, services) = &self.names;
        azure_dns.serving_generation.load(Acquire) >= generation
            && services.serving_generation.load(Acquire) >= generation
    }
}
