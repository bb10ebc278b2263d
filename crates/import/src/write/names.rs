//! Names: Private DNS zones (`azurerm_private_dns_zone`) with their record
//! sets (`azurerm_private_dns_a_record` and the AAAA, CNAME, MX, PTR, SRV
//! and TXT ones) and virtual network links
//! (`azurerm_private_dns_zone_virtual_network_link`), and Private Endpoints
//! (`azurerm_private_endpoint`) with their service connection and DNS zone
//! group, written as the topology's `private_dns_zones` and
//! `private_endpoints`. The DNS servers of VNets and NICs and a subnet's
//! `private_endpoint_network_policies` are read with the VNets, subnets and
//! NICs themselves.
//!
//! The PaaS resource behind an endpoint is known by the provider and type
//! its ID names ([`PAAS_RESOURCES`]: `.../Microsoft.Storage/storageAccounts/
//! NAME` is the storage account `NAME`). An endpoint to anything else (an
//! Event Hubs namespace, a Private Link service, a resource reached by its
//! alias) is listed as ignored.
//!
//! As in Azure, an endpoint's DNS zone group writes an A record set named
//! after its resource in each of its zones (TTL 10): vnetd writes it from
//! the endpoint too, so a record set of the input at that name and zone
//! (`az` lists the ones zone groups wrote) is listed as ignored rather
//! than written twice.

use std::collections::BTreeMap;
use std::net::IpAddr;
use vnetd_model::topology::PaasKind;

/// The record set resources, each with the type of the records it holds.
pub const RECORD_KINDS: &[(&str, &str)] = &[
    ("azurerm_private_dns_a_record", "A"),
    ("azurerm_private_dns_aaaa_record", "AAAA"),
    ("azurerm_private_dns_cname_record", "CNAME"),
    ("azurerm_private_dns_mx_record", "MX"),
    ("azurerm_private_dns_ptr_record", "PTR"),
    ("azurerm_private_dns_srv_record", "SRV"),
    ("azurerm_private_dns_txt_record", "TXT"),
];

/// The record type of a record set resource's kind.
pub fn record_type(kind: &str) -> Option<&'static str> {
    RECORD_KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, record_type)| *record_type)
}

/// A kind of PaaS resource a Private Endpoint may reach: the azurerm types
/// of such resources, the provider namespace and resource type of their
/// Azure ID, and the `kind` the topology file names.
#[derive(Debug, Clone, Copy)]
pub struct PaasResource {
    pub azurerm: &'static [&'static str],
    pub namespace: &'static str,
    pub resource_type: &'static str,
    pub kind: PaasKind,
}

/// The PaaS resources vnetd places behind Private Endpoints. A web app is
/// a `Microsoft.Web/sites` whatever its OS, with the same names (its
/// sub-resource `sites`, its name under `azurewebsites.net`): a Windows
/// one is the file's `linux_web_app` too.
pub const PAAS_RESOURCES: &[PaasResource] = &[
    PaasResource {
        azurerm: &["azurerm_storage_account"],
        namespace: "Microsoft.Storage",
        resource_type: "storageAccounts",
        kind: PaasKind::StorageAccount,
    },
    PaasResource {
        azurerm: &["azurerm_mssql_server", "azurerm_sql_server"],
        namespace: "Microsoft.Sql",
        resource_type: "servers",
        kind: PaasKind::SqlServer,
    },
    PaasResource {
        azurerm: &["azurerm_key_vault"],
        namespace: "Microsoft.KeyVault",
        resource_type: "vaults",
        kind: PaasKind::KeyVault,
    },
    PaasResource {
        azurerm: &["azurerm_cosmosdb_account"],
        namespace: "Microsoft.DocumentDB",
        resource_type: "databaseAccounts",
        kind: PaasKind::CosmosdbAccount,
    },
    PaasResource {
        azurerm: &["azurerm_container_registry"],
        namespace: "Microsoft.ContainerRegistry",
        resource_type: "registries",
        kind: PaasKind::ContainerRegistry,
    },
    PaasResource {
        azurerm: &["azurerm_linux_web_app", "azurerm_windows_web_app"],
        namespace: "Microsoft.Web",
        resource_type: "sites",
        kind: PaasKind::LinuxWebApp,
    },
    PaasResource {
        azurerm: &["azurerm_servicebus_namespace"],
        namespace: "Microsoft.ServiceBus",
        resource_type: "namespaces",
        kind: PaasKind::ServicebusNamespace,
    },
];

/// The PaaS resource of an azurerm type, if it is one.
pub fn paas_of_kind(kind: &str) -> Option<&'static PaasResource> {
    PAAS_RESOURCES.iter().find(|p| p.azurerm.contains(&kind))
}

/// The name and kind of the PaaS resource an Azure ID names
/// (`.../providers/Microsoft.Storage/storageAccounts/NAME`), compared
/// without case as Azure compares IDs.
pub fn paas_of_id(id: &str) -> Option<(String, PaasKind)> {
    let parts: Vec<&str> = id.trim_end_matches('/').split('/').collect();
    let [.., providers, namespace, resource_type, name] = parts.as_slice() else {
        return None;
    };
    if !providers.eq_ignore_ascii_case("providers") || name.is_empty() {
        return None;
    }
    PAAS_RESOURCES
        .iter()
        .find(|p| {
            p.namespace.eq_ignore_ascii_case(namespace)
                && p.resource_type.eq_ignore_ascii_case(resource_type)
        })
        .map(|p| (name.to_string(), p.kind))
}

/// The zones and endpoints of the input.
#[derive(Debug, Default)]
pub(super) struct Names {
    /// By name in lower case, without a final dot (as Azure compares them).
    zones: BTreeMap<String, Zone>,
    pub(super) endpoints: BTreeMap<String, Endpoint>,
    /// The A record sets the endpoints' DNS zone groups write, by zone and
    /// name in lower case, each with the endpoint that writes it.
    group_records: BTreeMap<(String, String), String>,
}

#[derive(Debug)]
struct Zone {
    name: String,
    source: String,
    /// By name in lower case and type: sorted as the file lists them.
    records: BTreeMap<(String, &'static str), RecordSet>,
    links: BTreeMap<String, ZoneLink>,
}

#[derive(Debug)]
struct RecordSet {
    name: String,
    source: String,
    ttl: Option<String>,
    /// In zone-file form (`10 mail.contoso.com` for MX), sorted.
    values: Vec<String>,
}

#[derive(Debug)]
struct ZoneLink {
    source: String,
    vnet: String,
    registration_enabled: bool,
    resolution_policy: Option<String>,
}

#[derive(Debug)]
pub(super) struct Endpoint {
    pub(super) source: String,
    /// Its place in the input, the order of Dynamic allocation.
    pub(super) input_index: usize,
    pub(super) subnet: (String, String),
    pub(super) address: Option<IpAddr>,
    connection: Connection,
    group: Option<ZoneGroup>,
}

#[derive(Debug)]
struct Connection {
    name: Option<String>,
    resource: String,
    kind: PaasKind,
    sub_resources: Vec<String>,
    manual: bool,
}

#[derive(Debug)]
struct ZoneGroup {
    name: Option<String>,
    /// The zones' own names.
    zones: Vec<String>,
}

/// A zone's name as Azure compares it.
fn zone_key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

mod adding;

#[cfg(test)]
mod tests;
