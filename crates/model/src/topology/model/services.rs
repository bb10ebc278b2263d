//! Service endpoints and the PaaS resources' own network rules, as a
//! topology file declares them.
//!
//! Azure's rules these types carry (cited in `docs/src/service-endpoints.md`):
//! - a subnet's `service_endpoints` name services from Azure's list
//!   (`az network vnet list-endpoint-services`); each adds
//!   `VirtualNetworkServiceEndpoint` routes for the service's public
//!   prefixes to that subnet alone, and traffic to the service leaves with
//!   the VM's private address as its identity;
//! - a PaaS resource (a storage account, a SQL server, a key vault, ...)
//!   exists with or without a Private Endpoint; its public face judges each
//!   request by `public_network_access_enabled` and its `network_rules`
//!   (`default_action`, allowed subnets, allowed public ranges, trusted
//!   services), while Private Endpoint traffic is never judged by them;
//! - a service endpoint policy lists the storage accounts a subnet may
//!   reach through its `Microsoft.Storage` endpoint.

use super::dns::{PaasKind, PAAS_PUBLIC_RANGE};
use super::indices::SubnetRef;
use super::{index_type, spelled_enum};
use ipnet::{IpNet, Ipv4Net};
use std::net::Ipv4Addr;

index_type!(
    /// Index of a PaaS resource in [`super::Topology::paas_resources`].
    PaasResourceIdx
);
index_type!(
    /// Index of a service endpoint policy in
    /// [`super::Topology::service_endpoint_policies`].
    ServiceEndpointPolicyIdx
);

spelled_enum! {
    /// The services Azure offers service endpoints for, as
    /// `az network vnet list-endpoint-services` names them.
    pub enum EndpointService {
        #[strum(serialize = "Microsoft.Storage")]
        Storage,
        #[strum(serialize = "Microsoft.Storage.Global")]
        StorageGlobal,
        #[strum(serialize = "Microsoft.Sql")]
        Sql,
        #[strum(serialize = "Microsoft.KeyVault")]
        KeyVault,
        #[strum(serialize = "Microsoft.AzureCosmosDB")]
        AzureCosmosDb,
        #[strum(serialize = "Microsoft.ServiceBus")]
        ServiceBus,
        #[strum(serialize = "Microsoft.EventHub")]
        EventHub,
        #[strum(serialize = "Microsoft.Web")]
        Web,
        #[strum(serialize = "Microsoft.ContainerRegistry")]
        ContainerRegistry,
        #[strum(serialize = "Microsoft.CognitiveServices")]
        CognitiveServices,
        #[strum(serialize = "Microsoft.AzureActiveDirectory")]
        AzureActiveDirectory,
    }
}

/// The third octet of each service's prefix in 198.19.0.0/16, the upper
/// half of [`PAAS_PUBLIC_RANGE`] (the lower half keeps the faces of
/// resources the file declares only through a Private Endpoint).
const SERVICE_PREFIX_OCTETS: &[(EndpointService, u8)] = &[
    (EndpointService::Storage, 1),
    (EndpointService::StorageGlobal, 1),
    (EndpointService::Sql, 2),
    (EndpointService::KeyVault, 3),
    (EndpointService::AzureCosmosDb, 4),
    (EndpointService::ServiceBus, 5),
    (EndpointService::EventHub, 6),
    (EndpointService::Web, 7),
    (EndpointService::ContainerRegistry, 8),
    (EndpointService::CognitiveServices, 9),
    (EndpointService::AzureActiveDirectory, 10),
];

impl EndpointService {
    /// vnetd's public prefix of the service: a /24 of 198.19.0.0/16,
    /// where the public faces of the service's declared resources live.
    /// `Microsoft.Storage.Global` shares `Microsoft.Storage`'s (vnetd has
    /// one prefix per service for every region).
    pub fn prefix(self) -> Ipv4Net {
        let (base, _) = PAAS_PUBLIC_RANGE;
        let octet = SERVICE_PREFIX_OCTETS
            .iter()
            .find(|(s, _)| *s == self)
            .map_or(0, |(_, o)| *o);
        let [a, b, _, _] = base.octets();
        Ipv4Net::new(Ipv4Addr::new(a, b + 1, octet, 0), 24).expect("a /24 is a prefix")
    }

    /// Whether an endpoint for this service carries traffic to resources of
    /// `kind` (`Microsoft.Storage` and `Microsoft.Storage.Global` both to
    /// storage accounts).
    pub fn covers(self, kind: PaasKind) -> bool {
        match self {
            EndpointService::StorageGlobal => kind == PaasKind::StorageAccount,
            s => kind.endpoint_service() == s,
        }
    }
}

impl PaasKind {
    /// The service whose endpoint reaches resources of this kind.
    pub fn endpoint_service(self) -> EndpointService {
        match self {
            PaasKind::StorageAccount => EndpointService::Storage,
            PaasKind::SqlServer => EndpointService::Sql,
            PaasKind::KeyVault => EndpointService::KeyVault,
            PaasKind::CosmosdbAccount => EndpointService::AzureCosmosDb,
            PaasKind::ContainerRegistry => EndpointService::ContainerRegistry,
            PaasKind::LinuxWebApp => EndpointService::Web,
            PaasKind::ServicebusNamespace => EndpointService::ServiceBus,
        }
    }
}

spelled_enum! {
    /// `network_rules.default_action`: what a request no rule allows gets.
    pub enum DefaultAction {
        Allow,
        Deny,
    }
}

spelled_enum! {
    /// `network_rules.bypass`: the traffic the rules let through anyway.
    pub enum Bypass {
        AzureServices,
        Logging,
        Metrics,
        None,
    }
}

/// A resource's firewall: Azure's `networkAcls` (Storage), virtual
/// network rules and firewall rules (SQL), `networkAcls` (Key Vault).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkRules {
    pub default_action: DefaultAction,
    /// Public ranges allowed (`ip_rules`).
    pub ip_rules: Vec<IpNet>,
    /// Subnets allowed (`virtual_network_subnet_ids`): each has the
    /// service's endpoint, which Azure demands.
    pub subnets: Vec<SubnetRef>,
    pub bypass: Vec<Bypass>,
    pub line: usize,
}

impl Default for NetworkRules {
    /// What a resource without rules has: every network allowed.
    fn default() -> Self {
        NetworkRules {
            default_action: DefaultAction::Allow,
            ip_rules: Vec::new(),
            subnets: Vec::new(),
            bypass: vec![Bypass::AzureServices],
            line: 0,
        }
    }
}

/// A PaaS resource declared on its own (`paas_resources`), with or
/// without Private Endpoints.
#[derive(Debug, Clone)]
pub struct PaasResource {
    /// Lower case: the first label of its public names.
    pub name: String,
    pub kind: PaasKind,
    /// Normalised region name; empty when the file gives none.
    pub location: String,
    /// `public_network_access_enabled`: false closes the public face to
    /// every network, Private Endpoints still answer.
    pub public_network_access: bool,
    pub network_rules: NetworkRules,
    /// Its public face: given, or the next address of its service's
    /// prefix ([`EndpointService::prefix`]).
    pub public_address: Ipv4Addr,
    pub line: usize,
}

impl PaasResource {
    /// The public name of its first sub-resource
    /// (`mystorage.blob.core.windows.net`), the one its public face
    /// answers.
    pub fn public_name(&self) -> String {
        let suffix = super::dns::SUB_RESOURCES
            .iter()
            .find(|s| s.kind == self.kind)
            .map_or("", |s| s.public_suffix);
        format!("{}.{suffix}", self.name)
    }
}

/// One definition of a service endpoint policy: the resources of its
/// service a subnet may reach.
#[derive(Debug, Clone)]
pub struct PolicyDefinition {
    pub name: String,
    pub service: EndpointService,
    pub resources: Vec<PaasResourceIdx>,
    pub line: usize,
}

/// A service endpoint policy, attached to subnets.
#[derive(Debug, Clone)]
pub struct ServiceEndpointPolicy {
    pub name: String,
    pub location: String,
    pub definitions: Vec<PolicyDefinition>,
    pub line: usize,
}

impl ServiceEndpointPolicy {
    /// Whether the policy lets a subnet reach `resource`.
    pub fn allows(&self, resource: PaasResourceIdx) -> bool {
        self.definitions
            .iter()
            .any(|d| d.resources.contains(&resource))
    }
}

/// What a subnet says of service endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubnetServices {
    /// `service_endpoints`, in file order.
    pub endpoints: Vec<EndpointService>,
    /// `service_endpoint_policy_ids`.
    pub policies: Vec<ServiceEndpointPolicyIdx>,
}

impl SubnetServices {
    /// The endpoint that carries traffic to resources of `kind`, if any.
    pub fn endpoint_for(&self, kind: PaasKind) -> Option<EndpointService> {
        self.endpoints.iter().copied().find(|s| s.covers(kind))
    }
}
