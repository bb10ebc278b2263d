//! How a PaaS resource judges a request, as the service does: through a
//! Private Endpoint every request is let in (network rules never apply to
//! Private Endpoint traffic); through its public face,
//! `public_network_access_enabled = false` refuses everyone, a service
//! endpoint policy on the source's subnet refuses accounts it does not
//! list, and `network_rules` with `default_action = Deny` let in only a
//! private source of an allowed subnet arriving through its service
//! endpoint, or a public source in `ip_rules`.
//!
//! The refusal is the service's own answer: Storage's 403
//! `AuthorizationFailure`, Key Vault's 403 `ForbiddenByFirewall`, SQL's
//! login errors 47073 and 40615 (SQL speaks TDS, not HTTP: vnetd's
//! responder answers 403 with the error's text), and a 403 for the other
//! kinds. [`judge`] names the rule that decided, for answers and traces.

use crate::topology::model::{
    DefaultAction, PaasKind, PaasResourceIdx, ServiceEndpointPolicyIdx, SubnetRef, Topology,
};
use ipnet::IpNet;
use std::net::IpAddr;

/// How a request reached the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Through one of its Private Endpoints.
    PrivateEndpoint,
    /// At its public face, from `source` as the service sees it (a VM's
    /// private address through a service endpoint, a public address
    /// otherwise).
    PublicFace { source: IpAddr },
}

/// The rule that decided a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecidingRule {
    /// Private Endpoint traffic: network rules do not apply.
    PrivateEndpoint,
    /// `public_network_access_enabled = false`.
    PublicNetworkAccessDisabled,
    /// A service endpoint policy of the source's subnet that does not list
    /// the account.
    ServiceEndpointPolicy(Vec<ServiceEndpointPolicyIdx>),
    /// A virtual network rule naming the source's subnet.
    VirtualNetworkRule(SubnetRef),
    /// An IP rule containing the source.
    IpRule(IpNet),
    /// `default_action`, no rule matching.
    DefaultAction(DefaultAction),
}

impl DecidingRule {
    /// The rule as an answer names it.
    pub fn describe(&self, topo: &Topology) -> String {
        match self {
            DecidingRule::PrivateEndpoint => "private endpoint (network rules do not apply)".into(),
            DecidingRule::PublicNetworkAccessDisabled => {
                "public_network_access_enabled = false".into()
            }
            DecidingRule::ServiceEndpointPolicy(p) => {
                let names: Vec<&str> = (p.iter())
                    .map(|&i| topo.service_endpoint_policies[i].name.as_str())
                    .collect();
                format!(
                    "service endpoint policy {} (account not listed)",
                    names.join(", ")
                )
            }
            DecidingRule::VirtualNetworkRule(s) => {
                format!("virtual network rule {}", topo.subnet_path(*s))
            }
            DecidingRule::IpRule(net) => format!("ip rule {net}"),
            DecidingRule::DefaultAction(a) => format!("default action {}", a.as_str()),
        }
    }
}

/// A request's fate: allowed or not, by which rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub allowed: bool,
    pub rule: DecidingRule,
}

/// The subnet a private `source` arriving at a public face of a `kind`
/// resource came from: one whose service endpoint carries that kind (only
/// such traffic keeps its private source), the first in file order.
pub fn endpoint_subnet(topo: &Topology, kind: PaasKind, source: IpAddr) -> Option<SubnetRef> {
    topo.vnets.iter_enumerated().find_map(|(vnet, v)| {
        v.subnets.iter_enumerated().find_map(|(subnet, s)| {
            let holds = s.address_prefixes.iter().any(|p| p.contains(&source));
            (holds && s.services.endpoint_for(kind).is_some()).then_some(SubnetRef { vnet, subnet })
        })
    })
}

/// How the resource `resource` (of `kind`; `None` for one the file names
/// only through Private Endpoints, which has no rules) judges a request
/// arriving by `arrival`.
pub fn judge(
    topo: &Topology,
    kind: PaasKind,
    resource: Option<PaasResourceIdx>,
    arrival: Arrival,
) -> Judgement {
    let allow = |rule| Judgement {
        allowed: true,
        rule,
    };
    let deny = |rule| Judgement {
        allowed: false,
        rule,
    };
    let Arrival::PublicFace { source } = arrival else {
        return allow(DecidingRule::PrivateEndpoint);
    };
    let declared = resource.map(|r| &topo.paas_resources[r]);
    if declared.is_some_and(|r| !r.public_network_access) {
        return deny(DecidingRule::PublicNetworkAccessDisabled);
    }
    let subnet = endpoint_subnet(topo, kind, source);
    if let (Some(s), PaasKind::StorageAccount) = (subnet, kind) {
        let policies = &topo.subnet(s).services.policies;
        let listed = resource.is_some_and(|r| {
            (policies.iter()).any(|&p| topo.service_endpoint_policies[p].allows(r))
        });
        if !policies.is_empty() && !listed {
            return deny(DecidingRule::ServiceEndpointPolicy(policies.clone()));
        }
    }
    let Some(r) = declared else {
        return allow(DecidingRule::DefaultAction(DefaultAction::Allow));
    };
    let rules = &r.network_rules;
    if rules.default_action == DefaultAction::Allow {
        return allow(DecidingRule::DefaultAction(DefaultAction::Allow));
    }
    if let Some(s) = subnet.filter(|s| rules.subnets.contains(s)) {
        return allow(DecidingRule::VirtualNetworkRule(s));
    }
    if subnet.is_none() {
        if let Some(net) = rules.ip_rules.iter().find(|n| n.contains(&source)) {
            return allow(DecidingRule::IpRule(*net));
        }
    }
    deny(DecidingRule::DefaultAction(DefaultAction::Deny))
}

/// The service's refusal of a request from `source` to `name`: the HTTP
/// status and body it answers (`reason` says why, as the service words
/// it).
pub fn refusal(kind: PaasKind, name: &str, source: IpAddr, rule: &DecidingRule) -> (u16, String) {
    let disabled = *rule == DecidingRule::PublicNetworkAccessDisabled;
    let body = match kind {
        PaasKind::StorageAccount => "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error>\
             <Code>AuthorizationFailure</Code><Message>This request is not authorized to \
             perform this operation.</Message></Error>"
            .to_string(),
        PaasKind::KeyVault => format!(
            "{{\"error\":{{\"code\":\"Forbidden\",\"message\":\"{}\",\"innererror\":\
             {{\"code\":\"ForbiddenByFirewall\"}}}}}}",
            if disabled {
                "Public network access is disabled and request is not from a trusted service \
                 nor via an approved private link."
                    .to_string()
            } else {
                format!(
                    "Client address is not authorized and caller is not a trusted service.\
                     \\r\\nClient address: {source}"
                )
            }
        ),
        PaasKind::SqlServer if disabled => "Error 47073: Reason: An instance-specific error \
             occurred while establishing a connection to SQL Server. Connection was denied \
             since Deny Public Network Access is set to Yes."
            .to_string(),
        PaasKind::SqlServer => format!(
            "Error 40615: Cannot open server '{name}' requested by the login. Client with IP \
             address '{source}' is not allowed to access the server."
        ),
        _ if disabled => "Public network access is disabled.".to_string(),
        _ => format!("Ip Forbidden: {source} is not allowed by the access restrictions."),
    };
    (403, body + "\n")
}
