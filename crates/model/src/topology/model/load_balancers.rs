//! Standard load balancers of the resolved topology: frontends, backend
//! pools, health probes, load-balancing rules and outbound rules. An
//! internal load balancer's frontends are private addresses of its VNet; a
//! public one's are public IP addresses, reached from the Internet, and
//! its backends may leave through them (outbound rules, or a
//! load-balancing rule's implicit SNAT). Its pools are NICs of one VNet.

use super::*;
use std::net::IpAddr;

spelled_enum! {
    /// The transport a health probe speaks.
    pub enum ProbeProtocol {
        /// Healthy when the TCP handshake completes.
        Tcp,
        /// Healthy when a GET of `request_path` answers 200.
        Http,
        /// As Http, over TLS (certificates are not checked, as in Azure).
        Https,
    }
}

/// A load balancer's health probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub name: String,
    pub protocol: ProbeProtocol,
    pub port: u16,
    /// For Http and Https: the path requested (starts with `/`).
    pub request_path: Option<String>,
    /// Seconds between probes of one backend (5 or more; 15 by default).
    pub interval_secs: u32,
    /// Consecutive failures that mark a backend down, and successes that
    /// bring it back (`probe_threshold`, or the older `number_of_probes`).
    pub threshold: u32,
    pub line: usize,
}

spelled_enum! {
    /// The protocols a load-balancing rule carries.
    pub enum LbProtocol {
        Tcp,
        Udp,
        /// HA ports (with ports 0): every TCP and UDP flow, and ICMP.
        All,
    }
}

spelled_enum! {
    /// How a rule spreads new flows over its backends (`load_distribution`).
    #[derive(Default)]
    pub enum LoadDistribution {
        /// The 5-tuple: source and destination address and port, protocol.
        #[default]
        Default,
        /// The 2-tuple: source and destination address.
        #[strum(serialize = "SourceIP")]
        SourceIp,
        /// The 3-tuple: source and destination address, protocol.
        #[strum(serialize = "SourceIPProtocol")]
        SourceIpProtocol,
    }
}

/// A frontend address: a private address of the VNet (an internal load
/// balancer) or a public IP address (a public load balancer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frontend {
    pub name: String,
    /// The subnet of a private frontend; `None` for a public one.
    pub subnet: Option<SubnetRef>,
    /// The public IP address of a public frontend.
    pub public_ip: Option<PublicIpIdx>,
    pub address: IpAddr,
    pub line: usize,
}

impl Frontend {
    /// True for a frontend on a public IP address.
    pub fn is_public(&self) -> bool {
        self.public_ip.is_some()
    }
}

/// A backend address pool: NICs of the load balancer's VNet (their
/// primary address of the frontend's family receives the flows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendPool {
    pub name: String,
    pub nics: Vec<NicIdx>,
    pub line: usize,
}

/// A load-balancing rule: frontend address, protocol and port to a pool's
/// backend port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LbRule {
    pub name: String,
    /// Index into [`LoadBalancer::frontends`].
    pub frontend: usize,
    /// Index into [`LoadBalancer::pools`].
    pub pool: usize,
    /// Index into [`LoadBalancer::probes`]; without one every backend is
    /// taken as healthy.
    pub probe: Option<usize>,
    pub settings: LbRuleSettings,
    pub line: usize,
}

/// What a load-balancing rule does with the flows it carries, as written
/// (its ports already checked against its protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LbRuleSettings {
    pub protocol: LbProtocol,
    /// 0 with HA ports.
    pub frontend_port: u16,
    /// 0 with HA ports (the destination port is kept).
    pub backend_port: u16,
    pub distribution: LoadDistribution,
    /// Direct server return: the backend receives the frontend address.
    pub floating_ip: bool,
    pub idle_timeout_minutes: u32,
    /// `disable_outbound_snat`: on a public frontend, a rule without it
    /// also lets its pool leave through the frontend (implicit SNAT, with
    /// the default port allocation), unless an outbound rule serves them.
    pub disable_outbound_snat: bool,
}

impl LbRuleSettings {
    /// A rule of `protocol` from `frontend_port` to `backend_port`, the rest
    /// as Azure sets it when the rule says nothing: the five-tuple hash, no
    /// floating IP, a 4-minute idle timeout, outbound SNAT not disabled.
    pub fn new(protocol: LbProtocol, frontend_port: u16, backend_port: u16) -> Self {
        LbRuleSettings {
            protocol,
            frontend_port,
            backend_port,
            distribution: LoadDistribution::Default,
            floating_ip: false,
            idle_timeout_minutes: 4,
            disable_outbound_snat: false,
        }
    }
}

impl LbRule {
    /// True for an HA-ports rule (protocol All, ports 0).
    pub fn ha_ports(&self) -> bool {
        self.settings.protocol == LbProtocol::All
    }
}

/// An outbound rule of a public load balancer: the pool's NICs leave for
/// the Internet through the frontends' addresses, each NIC with its own
/// block of ports on each address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRule {
    pub name: String,
    /// Indexes into [`LoadBalancer::frontends`] (public ones).
    pub frontends: Vec<usize>,
    /// Index into [`LoadBalancer::pools`].
    pub pool: usize,
    /// Tcp, Udp or All (TCP and UDP; ICMP is never translated).
    pub protocol: LbProtocol,
    /// `allocated_outbound_ports` per NIC and address; `None` for Azure's
    /// default allocation by pool size ([`default_outbound_ports`]).
    pub allocated_ports: Option<u32>,
    pub idle_timeout_minutes: u32,
    pub tcp_reset: bool,
    pub line: usize,
}

/// SNAT ports a public frontend address offers its backends in all.
pub const LB_SNAT_PORTS_PER_ADDRESS: u32 = 64_000;

/// Azure's default SNAT port allocation per backend and frontend address,
/// by the number of instances in the pool ("Source Network Address
/// Translation for outbound connections", default port allocation table).
pub fn default_outbound_ports(pool_size: usize) -> u32 {
    match pool_size {
        0..=50 => 1024,
        51..=100 => 512,
        101..=200 => 256,
        201..=400 => 128,
        401..=800 => 64,
        _ => 32,
    }
}

/// A Standard load balancer, internal or public (never both: Azure keeps
/// a load balancer's frontends of one kind). Its pools, and an internal
/// one's frontends, sit in one VNet, as Azure requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancer {
    pub name: String,
    pub vnet: VnetIdx,
    pub frontends: Vec<Frontend>,
    pub pools: Vec<BackendPool>,
    pub probes: Vec<Probe>,
    pub rules: Vec<LbRule>,
    pub outbound_rules: Vec<OutboundRule>,
    pub line: usize,
}

impl LoadBalancer {
    /// True for a public load balancer (its frontends are public IPs).
    pub fn is_public(&self) -> bool {
        self.frontends.iter().any(Frontend::is_public)
    }

    /// What a way out through this load balancer translates with.
    pub fn outbound_way(&self, way: LbOutbound) -> OutboundWay<'_> {
        match way {
            LbOutbound::Rule(i) => {
                let r = &self.outbound_rules[i];
                let pool_size = self.pools[r.pool].nics.len();
                OutboundWay {
                    name: &r.name,
                    frontends: r.frontends.clone(),
                    pool: r.pool,
                    protocol: r.protocol,
                    ports_per_backend: r
                        .allocated_ports
                        .unwrap_or_else(|| default_outbound_ports(pool_size)),
                    idle_timeout_minutes: r.idle_timeout_minutes,
                }
            }
            LbOutbound::Implicit(i) => {
                let r = &self.rules[i];
                OutboundWay {
                    name: &r.name,
                    frontends: vec![r.frontend],
                    pool: r.pool,
                    protocol: r.settings.protocol,
                    ports_per_backend: default_outbound_ports(self.pools[r.pool].nics.len()),
                    idle_timeout_minutes: r.settings.idle_timeout_minutes,
                }
            }
        }
    }
}

/// How a NIC leaves through a public load balancer: an outbound rule, or
/// else a load-balancing rule's implicit SNAT through its frontend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LbOutbound {
    /// By index into [`LoadBalancer::outbound_rules`].
    Rule(usize),
    /// By index into [`LoadBalancer::rules`].
    Implicit(usize),
}

/// A way out through a load balancer, as the packet path compiles it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundWay<'a> {
    /// The rule's name.
    pub name: &'a str,
    pub frontends: Vec<usize>,
    pub pool: usize,
    pub protocol: LbProtocol,
    pub ports_per_backend: u32,
    pub idle_timeout_minutes: u32,
}

/// The source of every health probe: Azure's host virtual IP (service tag
/// `AzureLoadBalancer`).
pub const PROBE_SOURCE: std::net::Ipv4Addr = std::net::Ipv4Addr::new(168, 63, 129, 16);

/// Azure DNS, the same host virtual IP: where a VNet's VMs ask names.
pub const AZURE_DNS: std::net::Ipv4Addr = PROBE_SOURCE;
