//! The shapes of the Internet edge's objects: public IP addresses, public
//! IP prefixes and NAT gateways. The CLI prints `IP` in some member names
//! and `Ip` in others, and both spellings have been seen for each: both
//! are read.

use super::common::{Reference, Sku};
use serde::Deserialize;

/// `az network public-ip list`: a public IP address, with the address
/// Azure gave it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicIp {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    pub ip_address: Option<String>,
    #[serde(rename = "publicIPAddressVersion", alias = "publicIpAddressVersion")]
    pub version: Option<String>,
    #[serde(
        rename = "publicIPAllocationMethod",
        alias = "publicIpAllocationMethod"
    )]
    pub allocation_method: Option<String>,
    #[serde(rename = "publicIPPrefix", alias = "publicIpPrefix")]
    pub prefix: Option<Reference>,
    pub sku: Option<Sku>,
    /// The IP configuration it is attached to (a NIC's, a gateway's, ...).
    pub ip_configuration: Option<Reference>,
}

/// `az network public-ip prefix list`: a public IP prefix, with the
/// prefix Azure gave it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicIpPrefix {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    pub ip_prefix: Option<String>,
    pub prefix_length: Option<u64>,
    #[serde(rename = "publicIPAddressVersion", alias = "publicIpAddressVersion")]
    pub version: Option<String>,
    pub sku: Option<Sku>,
}

/// `az network nat gateway list`: a NAT gateway with its public IPs and
/// prefixes (the subnets it serves are read from the subnets, which name
/// it).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NatGateway {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    pub sku: Option<Sku>,
    pub idle_timeout_in_minutes: Option<u64>,
    #[serde(default, alias = "publicIPAddresses")]
    pub public_ip_addresses: Option<Vec<Reference>>,
    #[serde(default, alias = "publicIPPrefixes")]
    pub public_ip_prefixes: Option<Vec<Reference>>,
}
