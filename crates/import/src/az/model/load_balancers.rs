//! The shapes of a load balancer as `az network lb list` prints it: its
//! frontends, backend pools, probes, load-balancing rules and outbound
//! rules, each a member list of the load balancer. The CLI prints `IP` in
//! some member names and `Ip` in others: both are read.

use super::common::{Reference, Sku};
use serde::Deserialize;

/// `az network lb list`: a load balancer with its parts.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancer {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    pub sku: Option<Sku>,
    #[serde(
        default,
        rename = "frontendIPConfigurations",
        alias = "frontendIpConfigurations"
    )]
    pub frontends: Vec<LbFrontend>,
    #[serde(default)]
    pub backend_address_pools: Vec<LbPool>,
    #[serde(default)]
    pub probes: Vec<LbProbe>,
    #[serde(default)]
    pub load_balancing_rules: Vec<LbRule>,
    #[serde(default)]
    pub outbound_rules: Vec<LbOutboundRule>,
}

/// A frontend: private (a subnet and an address) or public (a public IP,
/// or a public IP prefix).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LbFrontend {
    pub name: String,
    pub subnet: Option<Reference>,
    #[serde(rename = "privateIPAddress", alias = "privateIpAddress")]
    pub private_ip_address: Option<String>,
    #[serde(
        rename = "privateIPAllocationMethod",
        alias = "privateIpAllocationMethod"
    )]
    pub private_ip_allocation_method: Option<String>,
    #[serde(rename = "privateIPAddressVersion", alias = "privateIpAddressVersion")]
    pub private_ip_address_version: Option<String>,
    #[serde(rename = "publicIPAddress", alias = "publicIpAddress")]
    pub public_ip_address: Option<Reference>,
    #[serde(rename = "publicIPPrefix", alias = "publicIpPrefix")]
    pub public_ip_prefix: Option<Reference>,
}

/// A backend pool, with the NIC IP configurations in it
/// (`.../networkInterfaces/NIC/ipConfigurations/NAME`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LbPool {
    pub name: String,
    pub id: String,
    #[serde(
        default,
        rename = "backendIPConfigurations",
        alias = "backendIpConfigurations"
    )]
    pub backend_ip_configurations: Vec<Reference>,
}

/// A health probe.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LbProbe {
    pub name: String,
    pub id: String,
    pub protocol: Option<String>,
    pub port: Option<u64>,
    pub request_path: Option<String>,
    pub interval_in_seconds: Option<u64>,
    pub number_of_probes: Option<u64>,
    pub probe_threshold: Option<u64>,
}

/// A load-balancing rule: one pool (`backendAddressPool`), or the list
/// newer API versions print (`backendAddressPools`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LbRule {
    pub name: String,
    pub id: String,
    #[serde(rename = "frontendIPConfiguration", alias = "frontendIpConfiguration")]
    pub frontend: Option<Reference>,
    pub backend_address_pool: Option<Reference>,
    #[serde(default)]
    pub backend_address_pools: Vec<Reference>,
    pub probe: Option<Reference>,
    pub protocol: Option<String>,
    pub frontend_port: Option<u64>,
    pub backend_port: Option<u64>,
    pub load_distribution: Option<String>,
    #[serde(rename = "enableFloatingIP", alias = "enableFloatingIp")]
    pub enable_floating_ip: Option<bool>,
    pub idle_timeout_in_minutes: Option<u64>,
    pub disable_outbound_snat: Option<bool>,
}

/// An outbound rule: its frontends, pool and translation settings.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LbOutboundRule {
    pub name: String,
    pub id: String,
    #[serde(
        default,
        rename = "frontendIPConfigurations",
        alias = "frontendIpConfigurations"
    )]
    pub frontends: Vec<Reference>,
    pub backend_address_pool: Option<Reference>,
    pub protocol: Option<String>,
    pub allocated_outbound_ports: Option<u64>,
    pub idle_timeout_in_minutes: Option<u64>,
    pub enable_tcp_reset: Option<bool>,
}
