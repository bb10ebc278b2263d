//! Service endpoints and the PaaS resources' own network rules: a
//! subnet's `service_endpoints` and `service_endpoint_policy_ids` (read
//! with the subnet), the PaaS resources vnetd models ([`super::PAAS_RESOURCES`]:
//! `azurerm_storage_account`, `azurerm_mssql_server`, `azurerm_key_vault`,
//! ...) with `public_network_access_enabled` and their network rules (a
//! storage account's `network_rules` block or a separate
//! `azurerm_storage_account_network_rules`, a key vault's `network_acls`),
//! and `azurerm_subnet_service_endpoint_storage_policy`, written as the
//! topology's `paas_resources` and `service_endpoint_policies`.
//!
//! A SQL server's virtual network and firewall rules
//! (`azurerm_mssql_virtual_network_rule`, `azurerm_mssql_firewall_rule`)
//! are not read: the file gives a SQL server only its public access.

use super::attrs::{Attrs, Nested};
use super::ids::id_names;
use super::model::Model;
use super::names::{paas_of_id, paas_of_kind};
use super::output::{flow_list, scalar, Output};
use crate::ImportError;
use std::collections::BTreeMap;

/// What a subnet says of service endpoints.
#[derive(Debug, Default)]
pub(super) struct SubnetServices {
    pub(super) endpoints: Vec<String>,
    /// The policies' names.
    pub(super) policies: Vec<String>,
}

impl SubnetServices {
    /// A subnet's (or a VNet's subnet block's) `service_endpoints` and
    /// `service_endpoint_policy_ids`.
    pub(super) fn of(values: &Nested) -> SubnetServices {
        let policies = (values.list("service_endpoint_policy_ids").iter())
            .filter_map(|id| id_names(id, &["serviceEndpointPolicies"]))
            .map(|mut names| names.remove(0))
            .collect();
        SubnetServices {
            endpoints: values.list("service_endpoints"),
            policies,
        }
    }

    pub(super) fn render(&self, out: &mut Output) {
        if !self.endpoints.is_empty() {
            out.field(8, "service_endpoints", &flow_list(&self.endpoints));
        }
        if !self.policies.is_empty() {
            out.field(8, "service_endpoint_policy_ids", &flow_list(&self.policies));
        }
    }
}

/// A resource's network rules as read.
#[derive(Debug, Default)]
struct Rules {
    default_action: String,
    ip_rules: Vec<String>,
    /// `vnet/subnet`.
    subnets: Vec<String>,
    bypass: Vec<String>,
}

/// A PaaS resource as read.
#[derive(Debug)]
struct Resource {
    source: String,
    name: String,
    kind: &'static str,
    location: Option<String>,
    public_access: Option<bool>,
    rules: Option<Rules>,
}

/// A service endpoint policy as read.
#[derive(Debug)]
struct Policy {
    source: String,
    location: Option<String>,
    /// `(name, service, account names)`.
    definitions: Vec<(String, String, Vec<String>)>,
}

/// The PaaS resources and service endpoint policies of the input.
#[derive(Debug, Default)]
pub(super) struct Services {
    /// By kind and name.
    resources: BTreeMap<(&'static str, String), Resource>,
    policies: BTreeMap<String, Policy>,
}

/// Network rules from a `network_rules` block, a separate rules resource
/// or a key vault's `network_acls` (whose `bypass` is one word).
fn rules(a: &Attrs, values: &Nested) -> Result<Rules, ImportError> {
    let mut subnets = Vec::new();
    for id in values.list("virtual_network_subnet_ids") {
        let (vnet, subnet) = a.subnet_in_id(&id, "virtual_network_subnet_ids")?;
        subnets.push(format!("{vnet}/{subnet}"));
    }
    let mut bypass = values.list("bypass");
    bypass.extend(values.str("bypass").filter(|_| bypass.is_empty()));
    Ok(Rules {
        default_action: values
            .str("default_action")
            .unwrap_or_else(|| "Allow".into()),
        ip_rules: values.list("ip_rules"),
        subnets,
        bypass,
    })
}

impl Model<'_> {
    /// A PaaS resource of one of [`PAAS_RESOURCES`]' kinds.
    pub(super) fn add_paas_resource(&mut self, a: &Attrs) -> Result<(), ImportError> {
        let Some(paas) = paas_of_kind(&a.r.kind) else {
            return Ok(());
        };
        let name = a.name()?.to_ascii_lowercase();
        let kind = paas.kind.as_str();
        let own = a.own();
        let block = own
            .blocks("network_rules")
            .into_iter()
            .chain(own.blocks("network_acls"))
            .next();
        let rules = match block {
            Some(b) => Some(rules(a, &Attrs::nested(a.r, b))?),
            None => None,
        };
        let resource = Resource {
            source: a.r.source.clone(),
            name: name.clone(),
            kind,
            location: a.str("location"),
            public_access: a.bool("public_network_access_enabled"),
            rules,
        };
        if let Some(first) = self
            .services
            .resources
            .insert((kind, name.clone()), resource)
        {
            return Err(a.duplicate(kind, &name, &first.source));
        }
        Ok(())
    }

    /// `azurerm_storage_account_network_rules`: the rules of a storage
    /// account of the input, in place of its `network_rules` block.
    pub(super) fn add_storage_rules(&mut self, a: &Attrs) -> Result<(), ImportError> {
        let id = a.required_str("storage_account_id")?;
        let Some((name, kind)) = paas_of_id(&id) else {
            return Err(a.not_in_input("storage_account_id", &id));
        };
        let rules = rules(a, &a.own())?;
        let key = (kind.as_str(), name.to_ascii_lowercase());
        match self.services.resources.get_mut(&key) {
            Some(account) => {
                account.rules = Some(rules);
                Ok(())
            }
            None => Err(a.not_in_input("storage_account_id", &id)),
        }
    }

    /// `azurerm_subnet_service_endpoint_storage_policy`: its definitions'
    /// storage accounts by name (a definition's scope that is no storage
    /// account, a resource group say, cannot be written: refused).
    pub(super) fn add_endpoint_policy(&mut self, a: &Attrs) -> Result<(), ImportError> {
        let name = a.name()?;
        let mut definitions = Vec::new();
        for d in a.own().blocks("definition") {
            let d = Attrs::nested(a.r, d);
            let mut accounts = Vec::new();
            for id in d.list("service_resources") {
                match paas_of_id(&id) {
                    Some((account, kind)) if kind.as_str() == "storage_account" => {
                        accounts.push(account.to_ascii_lowercase())
                    }
                    _ => {
                        let why = format!(
                            "definition.service_resources `{id}` is not a storage account's ID: \
                             vnetd's service endpoint policies list storage accounts"
                        );
                        return Err(d.error(why));
                    }
                }
            }
            let service = d
                .str("service")
                .unwrap_or_else(|| "Microsoft.Storage".into());
            definitions.push((d.required_str("name")?, service, accounts));
        }
        let policy = Policy {
            source: a.r.source.clone(),
            location: a.str("location"),
            definitions,
        };
        if let Some(first) = self.services.policies.insert(name.clone(), policy) {
            return Err(a.duplicate("service endpoint policy", &name, &first.source));
        }
        Ok(())
    }

    pub(super) fn render_services(&self, out: &mut Output) {
        let s = &self.services;
        out.list(0, "paas_resources", s.resources.values(), |out, r| {
            out.item(2, &r.source, &r.name);
            out.field(4, "kind", r.kind);
            out.scalar_field(4, "location", r.location.as_deref());
            if r.public_access == Some(false) {
                out.field(4, "public_network_access_enabled", "false");
            }
            if let Some(rules) = &r.rules {
                out.line("    network_rules:");
                out.field(6, "default_action", &scalar(&rules.default_action));
                if !rules.ip_rules.is_empty() {
                    out.field(6, "ip_rules", &flow_list(&rules.ip_rules));
                }
                if !rules.subnets.is_empty() {
                    out.field(6, "virtual_network_subnet_ids", &flow_list(&rules.subnets));
                }
                if !rules.bypass.is_empty() {
                    out.field(6, "bypass", &flow_list(&rules.bypass));
                }
            }
        });
        out.list(
            0,
            "service_endpoint_policies",
            &s.policies,
            |out, (name, p)| {
                out.item(2, &p.source, name);
                out.scalar_field(4, "location", p.location.as_deref());
                out.list(
                    4,
                    "definitions",
                    &p.definitions,
                    |out, (d, service, accounts)| {
                        out.line(&format!("      - name: {}", scalar(d)));
                        out.field(8, "service", &scalar(service));
                        out.field(8, "service_resources", &flow_list(accounts));
                    },
                );
            },
        );
    }
}
