//! Names, as a topology file declares them: the DNS servers of VNets and
//! NICs, Private DNS zones with their records and virtual network links,
//! and Private Endpoints with the PaaS resources behind them.
//!
//! Azure's rules these types carry (cited in `docs/src/names.md`):
//! - a VNet uses Azure DNS (168.63.129.16) unless it names `dns_servers`,
//!   and a NIC's own `dns_servers` override its VNet's;
//! - a Private DNS zone answers only in the VNets linked to it; a link with
//!   `registration_enabled` registers the VNet's VMs in the zone, and one
//!   with `NxDomainRedirect` falls back to public resolution where the zone
//!   has no such name;
//! - a Private Endpoint is a NIC in a subnet whose address stands for one
//!   sub-resource of a PaaS resource; its DNS zone group writes an A record
//!   named after the resource in each of its `privatelink` zones, and the
//!   resource's public name answers with a CNAME to that `privatelink` name.

use super::indices::{SubnetRef, VnetIdx};
use super::{index_type, spelled_enum};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

index_type!(
    /// Index of a Private DNS zone in [`super::Topology::private_dns_zones`].
    ZoneIdx
);
index_type!(
    /// Index of a Private Endpoint in [`super::Topology::private_endpoints`].
    PrivateEndpointIdx
);

spelled_enum! {
    /// The record types a Private DNS zone holds that vnetd answers
    /// (Azure's `SOA` is the zone's own, and `NS` inside a private zone is
    /// refused by Azure).
    pub enum RecordType {
        A,
        #[strum(serialize = "AAAA")]
        Aaaa,
        #[strum(serialize = "CNAME")]
        Cname,
        #[strum(serialize = "MX")]
        Mx,
        #[strum(serialize = "PTR")]
        Ptr,
        #[strum(serialize = "SRV")]
        Srv,
        #[strum(serialize = "TXT")]
        Txt,
    }
}

/// One value of a record set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    /// A name, absolute, lower case, without the final dot.
    Cname(String),
    Mx {
        preference: u16,
        exchange: String,
    },
    Ptr(String),
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: String,
    },
    Txt(String),
}

impl RecordData {
    /// The value as a zone file writes it (and `dig +short` prints it,
    /// without the final dot).
    pub fn text(&self) -> String {
        match self {
            RecordData::A(a) => a.to_string(),
            RecordData::Aaaa(a) => a.to_string(),
            RecordData::Cname(n) | RecordData::Ptr(n) => n.clone(),
            RecordData::Mx {
                preference,
                exchange,
            } => format!("{preference} {exchange}"),
            RecordData::Srv {
                priority,
                weight,
                port,
                target,
            } => format!("{priority} {weight} {port} {target}"),
            RecordData::Txt(t) => t.clone(),
        }
    }
}

/// A record set: every value of one type at one name of a zone.
#[derive(Debug, Clone)]
pub struct RecordSet {
    /// Relative to the zone, lower case; `@` for the zone's apex.
    pub name: String,
    pub record_type: RecordType,
    /// Seconds.
    pub ttl: u32,
    pub records: Vec<RecordData>,
    pub line: usize,
}

spelled_enum! {
    /// What a virtual network link does when the zone has no such name
    /// (`resolutionPolicy`, API 2024-06-01).
    pub enum ResolutionPolicy {
        /// The zone's answer is final: NXDOMAIN.
        Default,
        /// NXDOMAIN makes Azure DNS ask the public name instead.
        NxDomainRedirect,
    }
}

/// A Private DNS zone's link to one VNet.
#[derive(Debug, Clone)]
pub struct VnetLink {
    pub name: String,
    pub vnet: VnetIdx,
    /// The VNet's VMs are registered in the zone (one such zone per VNet).
    pub registration_enabled: bool,
    pub resolution_policy: ResolutionPolicy,
    pub line: usize,
}

/// A Private DNS zone.
#[derive(Debug, Clone)]
pub struct PrivateDnsZone {
    /// Lower case, without the final dot.
    pub name: String,
    pub records: Vec<RecordSet>,
    pub links: Vec<VnetLink>,
    pub line: usize,
}

spelled_enum! {
    /// A subnet's `privateEndpointNetworkPolicies`: whether NSGs bind to
    /// its Private Endpoints and whether route tables may invalidate their
    /// /32 routes.
    pub enum EndpointNetworkPolicies {
        Disabled,
        NetworkSecurityGroupEnabled,
        RouteTableEnabled,
        Enabled,
    }
}

impl Default for EndpointNetworkPolicies {
    /// Azure's default: nothing binds to the subnet's endpoints.
    fn default() -> Self {
        Self::Disabled
    }
}

impl EndpointNetworkPolicies {
    /// NSGs (the subnet's) apply to the endpoints of the subnet.
    pub fn nsg(self) -> bool {
        matches!(self, Self::NetworkSecurityGroupEnabled | Self::Enabled)
    }

    /// A UDR at least as specific as the VNet's address space invalidates
    /// the endpoints' /32 routes.
    pub fn route_table(self) -> bool {
        matches!(self, Self::RouteTableEnabled | Self::Enabled)
    }
}

spelled_enum! {
    /// The kinds of PaaS resource a Private Endpoint may reach, named as
    /// `azurerm` names their resources.
    #[strum(serialize_all = "snake_case")]
    pub enum PaasKind {
        StorageAccount,
        SqlServer,
        KeyVault,
        CosmosdbAccount,
        ContainerRegistry,
        LinuxWebApp,
        ServicebusNamespace,
    }
}

/// One sub-resource (`groupId`) a kind offers: its public DNS suffix and
/// the `privatelink` zone Azure recommends for it ("Azure Private Endpoint
/// private DNS zone values", Azure public cloud).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubResource {
    pub kind: PaasKind,
    /// As Azure spells it (`blob`, `sqlServer`, `vault`).
    pub name: &'static str,
    pub public_suffix: &'static str,
    pub privatelink_zone: &'static str,
}

const fn sub(
    kind: PaasKind,
    name: &'static str,
    public_suffix: &'static str,
    privatelink_zone: &'static str,
) -> SubResource {
    SubResource {
        kind,
        name,
        public_suffix,
        privatelink_zone,
    }
}

/// Every sub-resource vnetd knows, by kind.
pub const SUB_RESOURCES: &[SubResource] = &[
    sub(
        PaasKind::StorageAccount,
        "blob",
        "blob.core.windows.net",
        "privatelink.blob.core.windows.net",
    ),
    sub(
        PaasKind::StorageAccount,
        "file",
        "file.core.windows.net",
        "privatelink.file.core.windows.net",
    ),
    sub(
        PaasKind::StorageAccount,
        "queue",
        "queue.core.windows.net",
        "privatelink.queue.core.windows.net",
    ),
    sub(
        PaasKind::StorageAccount,
        "table",
        "table.core.windows.net",
        "privatelink.table.core.windows.net",
    ),
    sub(
        PaasKind::StorageAccount,
        "dfs",
        "dfs.core.windows.net",
        "privatelink.dfs.core.windows.net",
    ),
    sub(
        PaasKind::StorageAccount,
        "web",
        "web.core.windows.net",
        "privatelink.web.core.windows.net",
    ),
    sub(
        PaasKind::SqlServer,
        "sqlServer",
        "database.windows.net",
        "privatelink.database.windows.net",
    ),
    sub(
        PaasKind::KeyVault,
        "vault",
        "vault.azure.net",
        "privatelink.vaultcore.azure.net",
    ),
    sub(
        PaasKind::CosmosdbAccount,
        "Sql",
        "documents.azure.com",
        "privatelink.documents.azure.com",
    ),
    sub(
        PaasKind::ContainerRegistry,
        "registry",
        "azurecr.io",
        "privatelink.azurecr.io",
    ),
    sub(
        PaasKind::LinuxWebApp,
        "sites",
        "azurewebsites.net",
        "privatelink.azurewebsites.net",
    ),
    sub(
        PaasKind::ServicebusNamespace,
        "namespace",
        "servicebus.windows.net",
        "privatelink.servicebus.windows.net",
    ),
];

impl PaasKind {
    /// The sub-resource of this kind named `name` (case-insensitive, as
    /// Azure compares `groupId`s).
    pub fn sub_resource(self, name: &str) -> Option<&'static SubResource> {
        SUB_RESOURCES
            .iter()
            .find(|s| s.kind == self && s.name.eq_ignore_ascii_case(name))
    }

    /// The names of this kind's sub-resources: what a refusal lists.
    pub fn sub_resource_names(self) -> Vec<&'static str> {
        SUB_RESOURCES
            .iter()
            .filter(|s| s.kind == self)
            .map(|s| s.name)
            .collect()
    }
}

/// The PaaS resource behind a Private Endpoint, one sub-resource of it.
#[derive(Debug, Clone)]
pub struct PrivateLinkTarget {
    /// The resource's name (`mystorage`): the first label of its names.
    pub resource: String,
    pub sub_resource: &'static SubResource,
    /// Where the resource's public name points outside the linked VNets:
    /// given, or vnetd's own from [`PAAS_PUBLIC_RANGE`].
    pub public_address: Ipv4Addr,
}

impl PrivateLinkTarget {
    /// The public name: `mystorage.blob.core.windows.net`.
    pub fn public_name(&self) -> String {
        format!("{}.{}", self.resource, self.sub_resource.public_suffix)
    }

    /// The name in the `privatelink` zone the public name is a CNAME to:
    /// `mystorage.privatelink.blob.core.windows.net`.
    pub fn privatelink_name(&self) -> String {
        format!("{}.{}", self.resource, self.sub_resource.privatelink_zone)
    }
}

/// Where vnetd places the public faces of PaaS resources that the file
/// gives no address: 198.18.0.0/15 (RFC 2544, never routed on the
/// Internet), so no lab's name ever points at a real service.
pub const PAAS_PUBLIC_RANGE: (Ipv4Addr, u8) = (Ipv4Addr::new(198, 18, 0, 0), 15);

/// TTL of the A records a Private Endpoint's DNS zone group writes, as
/// Azure writes them.
pub const ZONE_GROUP_TTL: u32 = 10;

/// A Private Endpoint: a NIC in a subnet that stands for a PaaS resource.
#[derive(Debug, Clone)]
pub struct PrivateEndpoint {
    pub name: String,
    pub subnet: SubnetRef,
    pub address: IpAddr,
    pub target: PrivateLinkTarget,
    /// The `privatelink` zones its DNS zone group writes its A record in.
    pub zones: Vec<ZoneIdx>,
    pub line: usize,
}

/// A VNet's or NIC's `dns_servers`: empty means Azure DNS.
pub type DnsServers = Vec<IpAddr>;

index_type!(
    /// Index of a DNS Private Resolver in
    /// [`super::Topology::dns_resolvers`].
    ResolverIdx
);

/// An endpoint of a DNS Private Resolver, in a subnet of its own.
#[derive(Debug, Clone)]
pub struct ResolverEndpoint {
    pub name: String,
    pub subnet: SubnetRef,
    pub address: IpAddr,
    pub line: usize,
}

/// A DNS Private Resolver in its VNet.
#[derive(Debug, Clone)]
pub struct DnsResolver {
    pub name: String,
    pub vnet: VnetIdx,
    /// Inbound endpoints: each an address that answers as Azure DNS of
    /// the resolver's VNet.
    pub inbound: Vec<ResolverEndpoint>,
    /// Outbound endpoints: where forwarded queries leave from. Azure shows
    /// them no address; vnetd sends from the subnet's first usable one.
    pub outbound: Vec<ResolverEndpoint>,
    pub line: usize,
}

/// A forwarding rule: queries for `domain` and below go to `targets`.
#[derive(Debug, Clone)]
pub struct ForwardingRule {
    pub name: String,
    /// Lower case, without the final dot; empty for the root (".").
    pub domain: String,
    pub targets: Vec<std::net::SocketAddr>,
    pub enabled: bool,
    pub line: usize,
}

impl ForwardingRule {
    /// Whether `name` (lower case, no final dot) is `domain` or below it.
    pub fn covers(&self, name: &str) -> bool {
        self.domain.is_empty()
            || name == self.domain
            || name
                .strip_suffix(self.domain.as_str())
                .is_some_and(|head| head.ends_with('.'))
    }
}

/// A DNS forwarding ruleset: its rules, the outbound endpoints it sends
/// through, and the VNets whose Azure DNS uses it.
#[derive(Debug, Clone)]
pub struct ForwardingRuleset {
    pub name: String,
    /// `(resolver, index of the outbound endpoint)`.
    pub outbound_endpoints: Vec<(ResolverIdx, usize)>,
    pub links: Vec<VnetIdx>,
    pub rules: Vec<ForwardingRule>,
    pub line: usize,
}

spelled_enum! {
    /// The DNS servers vnetd runs for a VM or an on-premises host.
    #[strum(serialize_all = "lowercase")]
    pub enum DnsSoftware {
        /// unbound, a recursive resolver and forwarder.
        Unbound,
        /// BIND 9's `named`, authoritative for zones and forwarding.
        Bind,
    }
}

/// Queries for `domain` and below go to `addresses` (the root, `""`: every
/// query the server does not answer itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionalForwarder {
    pub domain: String,
    pub addresses: Vec<std::net::SocketAddr>,
}

/// A zone a DNS server answers itself.
#[derive(Debug, Clone)]
pub struct LocalZone {
    pub name: String,
    pub records: Vec<RecordSet>,
}

/// vnetd's own `dns_server` key: a real DNS server in a VM's or an
/// on-premises host's namespace, configured by vnetd. Without a forwarder
/// for the root, it resolves from the Internet's root servers, which a lab
/// does not reach: names it is not told about fail, as a forwarder VM that
/// was never pointed at Azure DNS fails in Azure.
#[derive(Debug, Clone)]
pub struct DnsServerConfig {
    pub software: DnsSoftware,
    pub forwarders: Vec<ConditionalForwarder>,
    pub zones: Vec<LocalZone>,
    pub line: usize,
}
