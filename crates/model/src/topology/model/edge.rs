//! The Internet edge: what stands outside Azure (the emulated Internet and
//! its servers), the public addresses Azure hands out (public IP addresses
//! and prefixes), and the ways a VM's traffic leaves for the Internet (a
//! NAT gateway on its subnet, its own public IP, default outbound access)
//! or comes in (a public IP on its NIC, an Azure Firewall's DNAT rules).
//! See `resolve/edge.rs` for what Azure refuses and
//! `policy/egress.rs` for Azure's precedence between the ways out.

use super::firewalls::{FirewallIdx, RulePlace};
use super::indices::{NicIdx, SubnetRef};
use super::networks::Protocol;
use super::spelled_enum;
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::net::IpAddr;

super::index_type!(
    /// Index of a public IP address in [`Edge::public_ips`].
    PublicIpIdx
);
super::index_type!(
    /// Index of a public IP prefix in [`Edge::public_ip_prefixes`].
    PublicIpPrefixIdx
);
super::index_type!(
    /// Index of a NAT gateway in [`Edge::nat_gateways`].
    NatGatewayIdx
);

/// Where public addresses given no address and no prefix come from:
/// TEST-NET-2 (RFC 5737), never routed on the real Internet.
pub const PUBLIC_ADDRESS_POOL: &str = "198.51.100.0/24";

/// Where default outbound access's implicit addresses come from:
/// TEST-NET-1 (RFC 5737). Azure's are Microsoft-owned addresses the user
/// never chooses; these stand for them.
pub const DEFAULT_OUTBOUND_POOL: &str = "192.0.2.0/24";

/// The Internet's own address when the file names no IPv4 server: its
/// namespace needs one to route IPv4 by (TEST-NET-3's last, RFC 5737).
pub const INTERNET_PLACEHOLDER_ADDRESS: std::net::Ipv4Addr =
    std::net::Ipv4Addr::new(203, 0, 113, 254);

/// A NAT gateway holds at most 16 public addresses, from addresses and
/// prefixes together ("Azure NAT Gateway resource").
pub const NAT_GATEWAY_MAX_ADDRESSES: usize = 16;

/// A NAT gateway's TCP idle timeout by default, in minutes (4 to 120).
pub const NAT_GATEWAY_DEFAULT_IDLE_MINUTES: u16 = 4;

/// Concurrent connections a NAT gateway's address carries to one
/// destination (address and port) over TCP or UDP ("Azure NAT Gateway
/// metrics and limits": 50,000 per public IP per destination).
pub const NAT_CONNECTIONS_PER_DESTINATION: u16 = 50_000;

/// The first SNAT port: the NAT gateway hands out ports from here on, as
/// many as [`NAT_CONNECTIONS_PER_DESTINATION`] per destination.
pub const NAT_FIRST_PORT: u16 = 1024;

spelled_enum! {
    /// A public IP address's SKU. Basic is retired (30 September 2025)
    /// but still read, to be refused where Azure refuses it.
    pub enum PublicIpSku {
        Standard,
        StandardV2,
        Basic,
    }
}

spelled_enum! {
    /// A NAT gateway's SKU ("Azure NAT Gateway SKUs").
    pub enum NatGatewaySku {
        Standard,
        StandardV2,
    }
}

impl NatGatewaySku {
    /// Whether the SKU translates ICMP echo (StandardV2 does; Standard
    /// carries TCP and UDP only, so a ping through it fails).
    pub fn carries_icmp(self) -> bool {
        matches!(self, NatGatewaySku::StandardV2)
    }

    /// StandardV2 takes IPv6 public addresses too; Standard is IPv4 only.
    pub fn carries_ipv6(self) -> bool {
        matches!(self, NatGatewaySku::StandardV2)
    }
}

/// The emulated Internet: one namespace that stands for everything outside
/// Azure, holding the servers the file names.
#[derive(Debug, Clone, Default)]
pub struct Internet {
    pub servers: Vec<InternetServer>,
    /// The public names its DNS answers, besides the lab's own PaaS
    /// names; every other public name is NXDOMAIN.
    pub names: Vec<InternetName>,
    pub line: usize,
}

/// A public name of the Internet (`internet.names[]`): what Azure DNS
/// answers for it, A and AAAA records of its addresses.
#[derive(Debug, Clone)]
pub struct InternetName {
    /// Absolute, lower case, without the final dot.
    pub name: String,
    pub addresses: Vec<IpAddr>,
    pub line: usize,
}

/// A server on the emulated Internet: an HTTP server on each of its ports
/// that answers with the source address it saw, as `ifconfig.me` does.
#[derive(Debug, Clone)]
pub struct InternetServer {
    pub name: String,
    pub address: IpAddr,
    pub ports: Vec<u16>,
    pub line: usize,
}

/// A public IP prefix (`azurerm_public_ip_prefix`).
#[derive(Debug, Clone)]
pub struct PublicIpPrefix {
    pub name: String,
    pub prefix: IpNet,
    pub location: Option<String>,
    pub line: usize,
}

/// A public IP address (`azurerm_public_ip`), static as Standard ones are.
#[derive(Debug, Clone)]
pub struct PublicIp {
    pub name: String,
    pub address: IpAddr,
    pub sku: PublicIpSku,
    pub prefix: Option<PublicIpPrefixIdx>,
    pub location: Option<String>,
    pub line: usize,
}

/// A NAT gateway (`azurerm_nat_gateway` with its address and subnet
/// associations).
#[derive(Debug, Clone)]
pub struct NatGateway {
    pub name: String,
    pub sku: NatGatewaySku,
    /// Its addresses in order: those of its public IPs, then those of its
    /// prefixes.
    pub addresses: Vec<IpAddr>,
    pub public_ips: Vec<PublicIpIdx>,
    pub prefixes: Vec<PublicIpPrefixIdx>,
    pub idle_timeout_minutes: u16,
    /// The subnets it serves, all in one VNet.
    pub subnets: Vec<SubnetRef>,
    pub line: usize,
}

/// A DNAT rule of a firewall policy: a public address and port of the
/// firewall translated to a private address and port. Azure adds the
/// network rule that lets the translated traffic through, and translates
/// the source to the firewall's private address as well.
#[derive(Debug, Clone)]
pub struct DnatRule {
    pub place: RulePlace,
    pub name: String,
    /// TCP or UDP.
    pub protocols: Vec<Protocol>,
    pub sources: Vec<IpNet>,
    pub destination: IpAddr,
    pub destination_port: u16,
    pub translated_address: IpAddr,
    pub translated_port: u16,
    pub line: usize,
}

impl DnatRule {
    /// `group/collection/rule`, how traces, drops and logs name the rule.
    pub fn path(&self) -> String {
        self.place.path(&self.name)
    }
}

/// Everything of the Internet edge a topology holds.
#[derive(Debug, Clone, Default)]
pub struct Edge {
    /// `None`: the file names no Internet; one still exists when anything
    /// can reach it (a public address, a subnet with default outbound
    /// access).
    pub internet: Option<Internet>,
    pub public_ip_prefixes: super::TiVec<PublicIpPrefixIdx, PublicIpPrefix>,
    pub public_ips: super::TiVec<PublicIpIdx, PublicIp>,
    pub nat_gateways: super::TiVec<NatGatewayIdx, NatGateway>,
    /// The public IP of each NIC that has one.
    pub nic_public_ips: BTreeMap<NicIdx, PublicIpIdx>,
    /// The public IPs of each Azure Firewall that has some.
    pub firewall_public_ips: BTreeMap<FirewallIdx, Vec<PublicIpIdx>>,
    /// The subnets with default outbound access
    /// (`default_outbound_access: true`).
    pub default_outbound: std::collections::BTreeSet<SubnetRef>,
    /// The implicit address of each NIC default outbound access serves.
    pub default_outbound_addresses: BTreeMap<NicIdx, IpAddr>,
    /// The DNAT rules of each firewall policy, in Azure's order (group
    /// priority, collection priority, then as written).
    pub dnat_rules: BTreeMap<super::firewalls::FirewallPolicyIdx, Vec<DnatRule>>,
}

impl Edge {
    /// Whether the lab has an Internet: named in the file, or reachable
    /// through a public address or default outbound access.
    pub fn has_internet(&self) -> bool {
        self.internet.is_some()
            || !self.public_ips.is_empty()
            || !self.public_ip_prefixes.is_empty()
            || !self.default_outbound_addresses.is_empty()
    }

    /// The public names the Internet's DNS answers, none when the file
    /// names none.
    pub fn internet_names(&self) -> &[InternetName] {
        self.internet.as_ref().map_or(&[], |i| i.names.as_slice())
    }

    /// The servers of the Internet, none when the file names none.
    pub fn servers(&self) -> &[InternetServer] {
        self.internet.as_ref().map_or(&[], |i| i.servers.as_slice())
    }

    /// The addresses the Internet's namespace owns: its servers', and the
    /// placeholder when none of them is IPv4.
    pub fn internet_addresses(&self) -> Vec<IpAddr> {
        let mut out: Vec<IpAddr> = self.servers().iter().map(|s| s.address).collect();
        if !out.iter().any(IpAddr::is_ipv4) {
            out.push(INTERNET_PLACEHOLDER_ADDRESS.into());
        }
        out
    }

    /// The address an expectation `from` the Internet sends from towards
    /// an address of `v4`'s family: the server's, or the Internet's first
    /// of that family.
    pub fn internet_source(&self, server: Option<usize>, v4: bool) -> Option<IpAddr> {
        match server {
            Some(i) => self
                .servers()
                .get(i)
                .map(|s| s.address)
                .filter(|a| a.is_ipv4() == v4),
            None => self
                .internet_addresses()
                .into_iter()
                .find(|a| a.is_ipv4() == v4),
        }
    }

    /// The name an expectation's Internet source goes by.
    pub fn internet_name(&self, server: Option<usize>) -> String {
        server
            .and_then(|i| self.servers().get(i))
            .map_or_else(|| "internet".to_string(), |s| s.name.clone())
    }

    /// The NAT gateway serving `subnet`, if any.
    pub fn nat_gateway_of(&self, subnet: SubnetRef) -> Option<NatGatewayIdx> {
        self.nat_gateways
            .iter_enumerated()
            .find(|(_, g)| g.subnets.contains(&subnet))
            .map(|(i, _)| i)
    }

    /// The public address of `nic`'s own public IP, if it has one.
    pub fn nic_public_address(&self, nic: NicIdx) -> Option<IpAddr> {
        self.nic_public_ips
            .get(&nic)
            .map(|&p| self.public_ips[p].address)
    }

    /// The public addresses of `firewall`.
    pub fn firewall_addresses(&self, firewall: FirewallIdx) -> Vec<IpAddr> {
        self.firewall_public_ips
            .get(&firewall)
            .map(|ips| ips.iter().map(|&p| self.public_ips[p].address).collect())
            .unwrap_or_default()
    }
}
