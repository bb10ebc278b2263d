//! Resolution of service endpoints, PaaS resources and service endpoint
//! policies, with the refusals Azure gives them:
//!
//! - a storage account's name is 3 to 24 lower-case letters and digits
//!   ("Storage account name"); the other kinds' names are DNS labels;
//! - a network rule may name only a subnet with the service's endpoint
//!   (`NetworkAclsValidationFailure`: "Subnets ... do not have
//!   ServiceEndpoints for Microsoft.Storage resources configured");
//! - a service endpoint policy covers `Microsoft.Storage` alone, lists
//!   storage accounts of its own region, and attaches only to subnets of
//!   its region with a `Microsoft.Storage` endpoint ("Virtual networks must
//!   be in the same region as the service endpoint policy"; "You can only
//!   apply service endpoint policy on a subnet if service endpoints are
//!   configured for the Azure services listed in the policy").

use super::super::decode::{
    dns_name, NameRef, RawPaasResource, RawServiceEndpointPolicy, RawTopology,
};
use super::resolver::{NameRule, Names, Resolver};
use crate::topology::model::*;
use std::net::{IpAddr, Ipv4Addr};

pub const POLICY_NAME: NameRule = NameRule::new("service endpoint policy", 1, 80);
pub const DEFINITION_NAME: NameRule = NameRule::new("policy definition", 1, 80);

/// The subnets' `service_endpoint_policy_ids`, taken out of the raw file
/// before the VNets are resolved: `(vnet, subnet, references)`.
#[derive(Debug, Default)]
pub struct SubnetPolicyRefs(Vec<(String, String, Vec<NameRef>)>);

impl SubnetPolicyRefs {
    pub fn take(raw: &mut RawTopology) -> SubnetPolicyRefs {
        let mut refs = SubnetPolicyRefs::default();
        for vnet in &mut raw.vnets {
            for subnet in &mut vnet.subnets {
                let taken = std::mem::take(&mut subnet.service_endpoint_policies);
                if !taken.is_empty() {
                    refs.0.push((vnet.name.clone(), subnet.name.clone(), taken));
                }
            }
        }
        refs
    }
}

/// Why `name` is not a name Azure gives a resource of `kind`.
fn name_refusal(kind: PaasKind, name: &str) -> Option<String> {
    if kind == PaasKind::StorageAccount {
        let ok = (3..=24).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        return (!ok).then(|| {
            format!(
                "`{name}` is not a storage account name: Azure takes 3 to 24 lower-case \
                 letters and digits"
            )
        });
    }
    match dns_name(name) {
        Ok(n) if n.contains('.') => Some(format!("`{name}` is a resource's name, not a DNS name")),
        Ok(_) => None,
        Err(why) => Some(why),
    }
}

impl Resolver<'_> {
    /// The PaaS resources, then the service endpoint policies and the
    /// subnets' references to them.
    pub(super) fn services(
        &mut self,
        resources: Vec<RawPaasResource>,
        policies: Vec<RawServiceEndpointPolicy>,
        refs: SubnetPolicyRefs,
    ) {
        let refused = self.paas_resources(resources);
        self.endpoint_policies(policies, &refused);
        self.subnet_policies(refs);
    }

    /// The resources Azure accepts; the names of those refused for their
    /// name, which what refers to them is not refused again for.
    fn paas_resources(&mut self, resources: Vec<RawPaasResource>) -> Vec<String> {
        let mut refused = Vec::new();
        for r in resources {
            if let Some(why) = name_refusal(r.kind, &r.name) {
                self.diags.error(r.line, &r.key, why);
                refused.push(r.name.to_ascii_lowercase());
                continue;
            }
            let name = r.name.to_ascii_lowercase();
            let taken =
                (self.topo.paas_resources.iter()).any(|o| o.kind == r.kind && o.name == name);
            if taken {
                let why = format!("duplicate {} name `{name}`", r.kind.as_str());
                self.diags.error(r.line, &r.key, why);
                continue;
            }
            let service = r.kind.endpoint_service();
            let public_address = match r.public_address {
                Some(IpAddr::V4(a)) => a,
                Some(IpAddr::V6(_)) => {
                    let why = "a PaaS resource's public face is an IPv4 address";
                    self.diags
                        .error(r.line, &format!("{}.public_ip_address", r.key), why);
                    continue;
                }
                // The first address of the service's prefix from its
                // fifth on that no resource holds yet.
                None => {
                    let base = u32::from(service.prefix().network());
                    let held = |a: Ipv4Addr| {
                        self.topo
                            .paas_resources
                            .iter()
                            .any(|o| o.public_address == a)
                    };
                    let Some(free) = (base + 4..base + 255)
                        .map(Ipv4Addr::from)
                        .find(|a| !held(*a))
                    else {
                        let why = format!(
                            "no free address left in {} for its public face",
                            service.prefix()
                        );
                        self.diags.error(r.line, &r.key, why);
                        continue;
                    };
                    free
                }
            };
            let network_rules = match r.network_rules {
                None => NetworkRules::default(),
                Some(raw) => {
                    let mut subnets = Vec::new();
                    for s in &raw.subnets {
                        let Some(subnet) = self.subnet_ref(s) else {
                            continue;
                        };
                        let services = &self.topo.subnet(subnet).services;
                        if services.endpoint_for(r.kind).is_none() {
                            let why = format!(
                                "Subnets {} of virtual network {} do not have ServiceEndpoints \
                                 for {} resources configured. Add {} to subnet's \
                                 ServiceEndpoints collection before trying to ACL {} resources \
                                 to these subnets.",
                                self.topo.vnets[subnet.vnet].subnets[subnet.subnet].name,
                                self.topo.vnets[subnet.vnet].name,
                                service.as_str(),
                                service.as_str(),
                                service.as_str()
                            );
                            self.diags.error(s.line, &s.key, why);
                            continue;
                        }
                        if !subnets.contains(&subnet) {
                            subnets.push(subnet);
                        }
                    }
                    NetworkRules {
                        default_action: raw.default_action,
                        ip_rules: raw.ip_rules.iter().map(|(n, _)| *n).collect(),
                        subnets,
                        bypass: raw.bypass,
                        line: raw.line,
                    }
                }
            };
            self.topo.paas_resources.push(PaasResource {
                name,
                kind: r.kind,
                location: r.location,
                public_network_access: r.public_network_access,
                network_rules,
                public_address,
                line: r.line,
            });
        }
        refused
    }

    fn endpoint_policies(&mut self, policies: Vec<RawServiceEndpointPolicy>, refused: &[String]) {
        let mut seen = Names::new(POLICY_NAME);
        for p in policies {
            self.check_name(&mut seen, &p.name, p.line, &p.key);
            let mut definitions = Vec::new();
            let mut names = Names::new(DEFINITION_NAME);
            for d in p.definitions {
                self.check_name(&mut names, &d.name, d.line, &d.key);
                if d.service != EndpointService::Storage {
                    let why = format!(
                        "service endpoint policies cover Microsoft.Storage alone, not `{}`",
                        d.service.as_str()
                    );
                    self.diags.error(d.line, &format!("{}.service", d.key), why);
                    continue;
                }
                let mut resources = Vec::new();
                for r in &d.resources {
                    let wanted = r.name.to_ascii_lowercase();
                    if refused.contains(&wanted) {
                        continue;
                    }
                    let found = self
                        .topo
                        .paas_resources
                        .position(|a| a.kind == PaasKind::StorageAccount && a.name == wanted);
                    let Some(account) = self.lookup(r, "storage account", found) else {
                        continue;
                    };
                    let location = &self.topo.paas_resources[account].location;
                    if !p.location.is_empty() && !location.is_empty() && *location != p.location {
                        let why = format!(
                            "storage account `{wanted}` is in {location}, service endpoint \
                             policy `{}` in {}: a policy's definitions list storage accounts \
                             of its own region",
                            p.name, p.location
                        );
                        self.diags.error(r.line, &r.key, why);
                        continue;
                    }
                    resources.push(account);
                }
                definitions.push(PolicyDefinition {
                    name: d.name,
                    service: d.service,
                    resources,
                    line: d.line,
                });
            }
            self.topo
                .service_endpoint_policies
                .push(ServiceEndpointPolicy {
                    name: p.name,
                    location: p.location,
                    definitions,
                    line: p.line,
                });
        }
    }

    fn subnet_policies(&mut self, refs: SubnetPolicyRefs) {
        for (vnet_name, subnet_name, policies) in refs.0 {
            let Some(vnet) = self.topo.vnets.by_name(&vnet_name) else {
                continue;
            };
            let Some(subnet) = self.topo.vnets[vnet].subnets.by_name(&subnet_name) else {
                continue;
            };
            let subnet = SubnetRef { vnet, subnet };
            for r in &policies {
                let found = self.topo.service_endpoint_policies.by_name(&r.name);
                let Some(policy) = self.lookup(r, "service endpoint policy", found) else {
                    continue;
                };
                let vnet_location = self.topo.vnets[vnet].location.clone();
                let policy_location = self.topo.service_endpoint_policies[policy].location.clone();
                if !vnet_location.is_empty()
                    && !policy_location.is_empty()
                    && vnet_location != policy_location
                {
                    let why = format!(
                        "service endpoint policy `{}` is in {policy_location}, VNet \
                         `{vnet_name}` in {vnet_location}: virtual networks must be in the \
                         same region as the service endpoint policy",
                        r.name
                    );
                    self.diags.error(r.line, &r.key, why);
                    continue;
                }
                let services = &self.topo.subnet(subnet).services;
                if services.endpoint_for(PaasKind::StorageAccount).is_none() {
                    let why = format!(
                        "subnet `{subnet_name}` has no Microsoft.Storage service endpoint: a \
                         service endpoint policy applies only to a subnet with endpoints for \
                         the services it lists"
                    );
                    self.diags.error(r.line, &r.key, why);
                    continue;
                }
                let services = &mut self.topo.vnets[vnet].subnets[subnet.subnet].services;
                if !services.policies.contains(&policy) {
                    services.policies.push(policy);
                }
            }
        }
    }
}
