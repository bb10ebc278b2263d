//! Decoders for service endpoints and the PaaS resources' own network
//! rules: a subnet's `service_endpoints` and `service_endpoint_policy_ids`,
//! `paas_resources` with `public_network_access_enabled` and
//! `network_rules`, and `service_endpoint_policies` (keys as `azurerm`
//! names them).

use super::reader::{Decoder, Fields, Head, NameRef, Record};
use super::values::choice_list;
use crate::topology::model::{Bypass, DefaultAction, EndpointService, PaasKind};
use ipnet::IpNet;
use std::net::IpAddr;
use strum::VariantNames;

/// A PaaS resource as written.
#[derive(Debug)]
pub struct RawPaasResource {
    pub name: String,
    pub key: String,
    pub kind: PaasKind,
    pub location: String,
    pub public_network_access: bool,
    pub network_rules: Option<RawNetworkRules>,
    pub public_address: Option<IpAddr>,
    pub line: usize,
}

/// `network_rules` as written: subnets still names.
#[derive(Debug)]
pub struct RawNetworkRules {
    pub default_action: DefaultAction,
    pub ip_rules: Vec<(IpNet, usize)>,
    pub subnets: Vec<NameRef>,
    pub bypass: Vec<Bypass>,
    pub key: String,
    pub line: usize,
}

/// A service endpoint policy as written.
#[derive(Debug)]
pub struct RawServiceEndpointPolicy {
    pub name: String,
    pub key: String,
    pub location: String,
    pub definitions: Vec<RawPolicyDefinition>,
    pub line: usize,
}

/// A policy definition as written: its resources still names.
#[derive(Debug)]
pub struct RawPolicyDefinition {
    pub name: String,
    pub key: String,
    pub service: EndpointService,
    pub resources: Vec<NameRef>,
    pub line: usize,
}

record!(PAAS_RESOURCE_KEYS: RawPaasResource { name, key, line } "a PaaS resource" {
    kind: "kind" => one_of,
    location: "location" => region,
    public_network_access: "public_network_access_enabled" => flag(true),
    network_rules: "network_rules" => network_rules,
    public_address: "public_ip_address" => optional_ip,
});

record!(POLICY_KEYS: RawServiceEndpointPolicy { name, key, line } "a service endpoint policy" {
    location: "location" => region,
    definitions: "definitions" => list,
});

record!(DEFINITION_KEYS: RawPolicyDefinition { name, key, line } "a policy definition" {
    _: "description" => text,
    service: "service" => one_of,
    resources: "service_resources" => ref_list,
});

const NETWORK_RULES_KEYS: &[&str] = &[
    "default_action",
    "ip_rules",
    "virtual_network_subnet_ids",
    "bypass",
];

impl Decoder<'_> {
    /// A subnet's `service_endpoints`: services from Azure's list, each
    /// with its line; an unknown one is refused with the list.
    pub(super) fn endpoint_services(
        &mut self,
        f: &Fields,
        key: &str,
    ) -> Option<Vec<(EndpointService, usize)>> {
        let k = f.key(key);
        let items = self.items(f.given(key), &k);
        let read = self.texts(items, &k, |d, text, line, k| {
            match text.parse::<EndpointService>() {
                Ok(s) => Some((s, line)),
                Err(_) => {
                    let why = format!(
                        "`{text}` is not a service Azure offers service endpoints for \
                         (`az network vnet list-endpoint-services`: {})",
                        EndpointService::VARIANTS.join(", ")
                    );
                    d.diags.error(line, k, why);
                    None
                }
            }
        });
        let mut out: Vec<(EndpointService, usize)> = Vec::new();
        for (s, line) in read.into_iter().flatten() {
            if out.iter().any(|(o, _)| *o == s) {
                let why = format!("service endpoint `{}` is listed twice", s.as_str());
                self.diags.error(line, &k, why);
                continue;
            }
            out.push((s, line));
        }
        Some(out)
    }

    /// `network_rules`: `default_action` (required, as azurerm's block
    /// requires it), `ip_rules`, `virtual_network_subnet_ids` (as
    /// `vnet/subnet`) and `bypass` (`[AzureServices]` unless given).
    pub(super) fn network_rules(
        &mut self,
        f: &Fields,
        key: &str,
    ) -> Option<Option<RawNetworkRules>> {
        let Some(node) = f.given(key) else {
            return Some(None);
        };
        let k = f.key(key);
        let r = self.fields(node, &k, "network rules", NETWORK_RULES_KEYS)?;
        let default_action = self.one_of::<DefaultAction>(&r, "default_action");
        let ip_rules = self.ip_rules(&r, "ip_rules");
        let subnets = self.ref_list(&r, "virtual_network_subnet_ids")?;
        let bypass = match r.given("bypass") {
            None => vec![Bypass::AzureServices],
            Some(n) => {
                let bk = r.key("bypass");
                let items = self.items(Some(n), &bk);
                let read = self.texts(items, &bk, |d, text, line, k| {
                    text.parse::<Bypass>().ok().or_else(|| {
                        let why = format!("`{text}` is not one of {}", choice_list::<Bypass>());
                        d.diags.error(line, k, why);
                        None
                    })
                });
                read.into_iter().flatten().collect()
            }
        };
        Some(Some(RawNetworkRules {
            default_action: default_action?,
            ip_rules,
            subnets,
            bypass,
            key: k,
            line: node.line,
        }))
    }

    /// `ip_rules`: public addresses or ranges (Azure's firewall takes
    /// both); a private one is refused as Azure refuses it.
    fn ip_rules(&mut self, f: &Fields, key: &str) -> Vec<(IpNet, usize)> {
        let k = f.key(key);
        let items = self.items(f.given(key), &k);
        let read = self.texts(items, &k, |d, text, line, k| {
            let net = match text.parse::<IpAddr>() {
                Ok(ip) => IpNet::from(ip),
                Err(_) => d.cidr_text(&text, line, k)?,
            };
            let private = match net {
                IpNet::V4(n) => n.network().is_private() || n.network().is_loopback(),
                IpNet::V6(_) => {
                    let why = "Azure's storage firewall takes IPv4 rules only";
                    d.diags.error(line, k, why);
                    return None;
                }
            };
            if private {
                let why = format!(
                    "`{text}` is a private range: IP network rules take public addresses only \
                     (private sources are allowed by subnet, through service endpoints)"
                );
                d.diags.error(line, k, why);
                return None;
            }
            Some((net, line))
        });
        read.into_iter().flatten().collect()
    }
}
