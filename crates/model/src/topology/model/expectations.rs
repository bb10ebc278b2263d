//! Expectations of the resolved topology: vnetd's own statements about the
//! network, between a NIC or on-premises host and an address.

use super::*;

/// Where an expectation's packets start: a NIC of the file, or a host
/// behind an on-premises site's router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Nic(NicIdx),
    SiteHost { site: SiteIdx, host: usize },
}

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
/// the compiled tables and `vnetd verify` with real packets ("spoke1
/// reaches spoke2 on 443 only through the NVA", "telnet is blocked").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    pub name: String,
    pub from: Endpoint,
    /// The destination address (a name written in `to` stands for its
    /// primary address).
    pub to: IpAddr,
    /// `to` as written: an address, or a NIC or host name.
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
    pub line: usize,
}
