//! Expectations of the resolved topology: vnetd's own statements about the
//! network, from a NIC or on-premises host to an address or a name
//! ([`Reach`]), or about the answer its DNS question for a name gets
//! ([`Resolve`]).

use super::*;
use std::net::IpAddr;

/// Where an expectation's packets start: a NIC of the file, a host
/// behind an on-premises site's router, or the emulated Internet (one of
/// its servers, or `None`: its first address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Nic(NicIdx),
    SiteHost { site: SiteIdx, host: usize },
    Internet(Option<usize>),
}

/// The name an expectation's `from` gives the Internet itself.
pub const INTERNET_ENDPOINT: &str = "internet";

/// A hop an expectation's path must cross.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waypoint {
    Nic(NicIdx),
    Gateway(GatewayIdx),
    LoadBalancer(LoadBalancerIdx),
    /// An ExpressRoute circuit whose Microsoft edge the path crosses
    /// (Global Reach).
    Circuit(CircuitIdx),
    /// An Azure Firewall.
    Firewall(FirewallIdx),
}

spelled_enum! {
    /// The protocols an expectation can test with a real packet.
    pub enum ExpectedProtocol {
        Tcp,
        Udp,
        Icmp,
    }
}

/// vnetd's own: a statement about the network that `vnetd check` tests on
/// the compiled tables and `vnetd verify` in the running lab ("spoke1
/// reaches spoke2 on 443 only through the NVA", "telnet is blocked", "vm1
/// resolves the storage account to its Private Endpoint").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    pub name: String,
    pub from: Endpoint,
    pub test: Test,
    pub line: usize,
}

/// What an expectation states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// A conversation from the source to a destination, allowed or denied.
    Reach(Reach),
    /// The answer the source's DNS question for a name gets.
    Resolve(Resolve),
}

impl Expectation {
    /// The conversation it states, unless it states a name's answer.
    pub fn reach(&self) -> Option<&Reach> {
        match &self.test {
            Test::Reach(reach) => Some(reach),
            Test::Resolve(_) => None,
        }
    }
}

/// Where a conversation goes: an address (a NIC or host name written in
/// `to` stands for its primary address), or a DNS name the source
/// resolves first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Address(IpAddr),
    /// Lower case, without the final dot.
    Name(String),
}

impl Destination {
    /// The address, when `to` gave one (or a NIC or host that has one).
    pub fn address(&self) -> Option<IpAddr> {
        match self {
            Destination::Address(address) => Some(*address),
            Destination::Name(_) => None,
        }
    }
}

/// A conversation an expectation states: from its source to `to`, by
/// `protocol`, allowed or denied, through `via`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    pub to: Destination,
    /// `to` as written: an address, a NIC or host name, or a DNS name.
    pub to_written: String,
    pub protocol: ExpectedProtocol,
    /// The destination port (TCP and UDP only).
    pub port: Option<u16>,
    pub result: Access,
    /// Hops the path must cross, in any order.
    pub via: Vec<Waypoint>,
    /// The drop reason a Deny must have (a name as `vnetd stats` prints it),
    /// with its line; checked by the expectations' evaluator, which knows
    /// the reasons.
    pub reason: Option<(String, usize)>,
}

/// The answer a name must get from the source's name server: its status,
/// and the addresses it ends at, in any order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolve {
    /// Lower case, without the final dot.
    pub name: String,
    /// Sorted, each once (`to`); `None` when only the status is stated.
    pub addresses: Option<Vec<IpAddr>>,
    pub status: DnsStatus,
}

impl Resolve {
    /// Whether the question asks for AAAA records beside A: when an IPv6
    /// address is expected.
    pub fn asks_aaaa(&self) -> bool {
        self.addresses.iter().flatten().any(IpAddr::is_ipv6)
    }
}

/// The response codes a `resolves` expectation may name, spelled as `dig`
/// prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DnsStatus {
    /// An answer (with or without records of the type asked).
    NoError,
    /// No such name.
    NxDomain,
    /// The server could not answer (a CNAME loop, a forwarder with no
    /// answer).
    ServFail,
}

impl DnsStatus {
    pub const ALL: [DnsStatus; 3] = [DnsStatus::NoError, DnsStatus::NxDomain, DnsStatus::ServFail];

    /// As `dig` prints it: `NOERROR`, `NXDOMAIN`, `SERVFAIL`.
    pub fn as_str(self) -> &'static str {
        match self {
            DnsStatus::NoError => "NOERROR",
            DnsStatus::NxDomain => "NXDOMAIN",
            DnsStatus::ServFail => "SERVFAIL",
        }
    }

    /// The status written `text`, in any case.
    pub fn parse(text: &str) -> Option<DnsStatus> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
    }
}
