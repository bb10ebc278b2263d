//! Service endpoints and the PaaS resources' network rules as the Azure
//! CLI lists them: storage accounts (`az storage account list`, their
//! `publicNetworkAccess` and `networkRuleSet`), key vaults (`az keyvault
//! list`, their `publicNetworkAccess` and `networkAcls`, at the top or
//! under `properties` as `az keyvault show` prints them) and service
//! endpoint policies (`az network service-endpoint policy list`), turned
//! into the azurerm resources Terraform would hold for them:
//! `azurerm_storage_account` with its `network_rules` block,
//! `azurerm_key_vault` with its `network_acls` block and
//! `azurerm_subnet_service_endpoint_storage_policy` with its `definition`
//! blocks. A subnet's `serviceEndpoints` and `serviceEndpointPolicies` are
//! read with the subnet.

use super::attributes::{resource, top_level};
use super::list::List;
use super::model::Object;
use crate::{ImportError, Resource};
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// A storage account, as `az storage account list` prints it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageAccount {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    pub public_network_access: Option<String>,
    pub network_rule_set: Option<RuleSet>,
}

/// A key vault, as `az keyvault list` (or `show`) prints it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyVault {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    pub properties: Option<VaultProperties>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VaultProperties {
    pub public_network_access: Option<String>,
    pub network_acls: Option<RuleSet>,
}

/// A resource's network rules: Storage's `networkRuleSet` and Key Vault's
/// `networkAcls` have one shape but for the IP rules' member.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleSet {
    pub bypass: Option<String>,
    pub default_action: Option<String>,
    #[serde(default)]
    pub ip_rules: Vec<IpRule>,
    #[serde(default)]
    pub virtual_network_rules: Vec<VnetRule>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpRule {
    /// Storage's.
    pub ip_address_or_range: Option<String>,
    /// Key Vault's.
    pub value: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnetRule {
    /// Storage's.
    pub virtual_network_resource_id: Option<String>,
    /// Key Vault's.
    pub id: Option<String>,
}

/// A service endpoint policy, as `az network service-endpoint policy list`
/// prints it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointPolicy {
    pub name: String,
    pub id: String,
    pub resource_group: Option<String>,
    pub location: Option<String>,
    #[serde(default)]
    pub service_endpoint_policy_definitions: Vec<PolicyDefinition>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyDefinition {
    pub name: String,
    pub service: Option<String>,
    #[serde(default)]
    pub service_resources: Vec<String>,
}

macro_rules! object {
    ($($shape:ty),*) => {$(
        impl Object for $shape {
            fn name(&self) -> &str {
                &self.name
            }
            fn id(&self) -> &str {
                &self.id
            }
            fn resource_group(&self) -> Option<&str> {
                self.resource_group.as_deref()
            }
        }
    )*};
}
object!(StorageAccount, KeyVault, EndpointPolicy);

/// The three lists of a dump that hold services, read.
#[derive(Default)]
pub struct Lists<'a> {
    pub storage_accounts: List<'a, StorageAccount>,
    pub key_vaults: List<'a, KeyVault>,
    pub policies: List<'a, EndpointPolicy>,
}

/// azurerm's block of `rules`: `bypass` a list (Storage's) or one word
/// (Key Vault's, `one_bypass`).
fn rules_block(rules: &RuleSet, one_bypass: bool) -> Value {
    let bypass: Vec<String> = (rules.bypass.iter())
        .flat_map(|b| b.split(','))
        .map(|b| b.trim().to_string())
        .filter(|b| !b.is_empty())
        .collect();
    let ip_rules: Vec<&str> = (rules.ip_rules.iter())
        .filter_map(|r| r.ip_address_or_range.as_deref().or(r.value.as_deref()))
        .collect();
    let subnets: Vec<&str> = (rules.virtual_network_rules.iter())
        .filter_map(|r| r.virtual_network_resource_id.as_deref().or(r.id.as_deref()))
        .collect();
    let bypass = match (one_bypass, bypass.first()) {
        (true, Some(first)) => json!(first),
        (true, None) => json!("None"),
        (false, _) => json!(bypass),
    };
    json!([{
        "default_action": rules.default_action.as_deref().unwrap_or("Allow"),
        "bypass": bypass,
        "ip_rules": ip_rules,
        "virtual_network_subnet_ids": subnets,
    }])
}

/// azurerm's `public_network_access_enabled` from Azure's
/// `publicNetworkAccess` (`Enabled`, `Disabled`; absent: enabled).
fn put_public_access(attributes: &mut Map<String, Value>, access: Option<&str>) {
    if let Some(access) = access {
        let enabled = !access.eq_ignore_ascii_case("Disabled");
        attributes.insert("public_network_access_enabled".into(), json!(enabled));
    }
}

impl Lists<'_> {
    /// The azurerm resources of the three lists.
    pub(super) fn resources(&self, out: &mut Vec<Resource>) -> Result<(), ImportError> {
        for (at, account) in self.storage_accounts.each() {
            let (name, id, mut attributes) = top_level(&at, account, account.location.as_deref())?;
            put_public_access(&mut attributes, account.public_network_access.as_deref());
            if let Some(rules) = &account.network_rule_set {
                attributes.insert("network_rules".into(), rules_block(rules, false));
            }
            out.push(resource("azurerm_storage_account", &name, attributes, &id));
        }
        for (at, vault) in self.key_vaults.each() {
            let (name, id, mut attributes) = top_level(&at, vault, vault.location.as_deref())?;
            if let Some(p) = &vault.properties {
                put_public_access(&mut attributes, p.public_network_access.as_deref());
                if let Some(rules) = &p.network_acls {
                    attributes.insert("network_acls".into(), rules_block(rules, true));
                }
            }
            out.push(resource("azurerm_key_vault", &name, attributes, &id));
        }
        for (at, policy) in self.policies.each() {
            let (name, id, mut attributes) = top_level(&at, policy, policy.location.as_deref())?;
            let definitions: Vec<Value> = (policy.service_endpoint_policy_definitions.iter())
                .map(|d| {
                    json!({
                        "name": d.name,
                        "service": d.service.as_deref().unwrap_or("Microsoft.Storage"),
                        "service_resources": d.service_resources,
                    })
                })
                .collect();
            attributes.insert("definition".into(), json!(definitions));
            out.push(resource(
                "azurerm_subnet_service_endpoint_storage_policy",
                &name,
                attributes,
                &id,
            ));
        }
        Ok(())
    }
}
