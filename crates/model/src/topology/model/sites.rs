//! On-premises sites: networks outside Azure, each one router or several
//! devices in front of the same network, with hosts behind them; and the
//! way from a connection to the router its tunnels end at.

use super::indices::SiteIdx;
use super::spelled_enum;
use ipnet::IpNet;
use std::net::IpAddr;

spelled_enum! {
    /// Which BGP daemon runs in an on-premises site's router namespace.
    #[strum(serialize_all = "lowercase")]
    pub enum BgpSpeaker {
        Bird,
        Frr,
        /// The router is left to the user (static routes, or their own daemon).
        None,
    }
}

/// A host behind an on-premises router: a namespace joined to the router.
#[derive(Debug, Clone)]
pub struct SiteHost {
    pub name: String,
    pub address: IpAddr,
    pub netns: String,
    /// The servers its `resolv.conf` names (none: no `resolv.conf`).
    pub dns_servers: Vec<IpAddr>,
    /// vnetd's own: the DNS server the host runs.
    pub dns_server: Option<super::dns::DnsServerConfig>,
    pub line: usize,
}

/// One router of an on-premises site: a VPN device, each with its own
/// tunnels and BGP sessions, or a circuit's customer edge.
#[derive(Debug, Clone)]
pub struct SiteRouter {
    /// Its name: `routers[].name`, or the site's own for a site's one
    /// `router`.
    pub name: String,
    /// What ports, `stats` and messages call it: the site's name for a
    /// site's one `router`, `<site>-<name>` for each of its `routers`.
    pub label: String,
    /// Its namespace.
    pub netns: String,
    /// Its ASN; required when it speaks BGP.
    pub asn: Option<u32>,
    pub bgp_speaker: BgpSpeaker,
    pub line: usize,
}

/// A network outside Azure: one router (or several devices in front of the
/// same network), and hosts behind them. Each router reaches the fabric
/// through one tunnel per gateway instance it is connected to; each host is
/// joined to every router, and spreads its flows over them.
#[derive(Debug, Clone)]
pub struct Site {
    pub name: String,
    /// What the site really holds (its routers announce it over BGP).
    pub address_space: Vec<IpNet>,
    /// Never empty: `router`, or each of `routers` in file order. The first
    /// is a circuit's customer edge.
    pub routers: Vec<SiteRouter>,
    pub hosts: Vec<SiteHost>,
    /// One-way delay between the site and Azure, in microseconds (vnetd's
    /// own `latency_ms`: the internet path of its VPN tunnels).
    pub latency_us: u32,
    pub line: usize,
}

impl Site {
    /// The site's first router: its only one, or the first of `routers`;
    /// the customer edge of its circuit.
    pub fn first_router(&self) -> &SiteRouter {
        &self.routers[0]
    }

    /// Whether any of its routers runs a BGP daemon vnetd writes.
    pub fn any_router_speaks(&self) -> bool {
        self.routers
            .iter()
            .any(|r| r.bgp_speaker != BgpSpeaker::None && r.asn.is_some())
    }
}

/// The router at the site end of a connection's tunnels: a site and the
/// index of one of its routers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouterRef {
    pub site: SiteIdx,
    pub router: usize,
}
