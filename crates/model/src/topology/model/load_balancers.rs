//! Internal Standard load balancers of the resolved topology: frontends,
//! backend pools, health probes and load-balancing rules, all in one VNet.

use super::*;

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

/// A private frontend address of an internal load balancer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frontend {
    pub name: String,
    pub subnet: SubnetRef,
    pub address: IpAddr,
    pub line: usize,
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
    pub protocol: LbProtocol,
    /// 0 with HA ports.
    pub frontend_port: u16,
    /// 0 with HA ports (the destination port is kept).
    pub backend_port: u16,
    pub distribution: LoadDistribution,
    /// Direct server return: the backend receives the frontend address.
    pub floating_ip: bool,
    pub idle_timeout_minutes: u32,
    pub line: usize,
}

impl LbRule {
    /// True for an HA-ports rule (protocol All, ports 0).
    pub fn ha_ports(&self) -> bool {
        self.protocol == LbProtocol::All
    }
}

/// An internal Standard load balancer. Its frontends, pools and rules all
/// sit in one VNet, as Azure requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancer {
    pub name: String,
    pub vnet: VnetIdx,
    pub frontends: Vec<Frontend>,
    pub pools: Vec<BackendPool>,
    pub probes: Vec<Probe>,
    pub rules: Vec<LbRule>,
    pub line: usize,
}

/// The source of every health probe: Azure's host virtual IP (service tag
/// `AzureLoadBalancer`).
pub const PROBE_SOURCE: std::net::Ipv4Addr = std::net::Ipv4Addr::new(168, 63, 129, 16);

/// Azure DNS, the same host virtual IP: where a VNet's VMs ask names.
pub const AZURE_DNS: std::net::Ipv4Addr = PROBE_SOURCE;
