//! DNS Private Resolvers as the Azure CLI lists them (`az dns-resolver
//! list`, and `az dns-resolver inbound-endpoint list` and `outbound-endpoint
//! list` for each resolver) and DNS forwarding rulesets (`az dns-resolver
//! forwarding-ruleset list`, and `az dns-resolver forwarding-rule list` and
//! `vnet-link list` for each ruleset), turned into the azurerm resources
//! Terraform would hold for them: `azurerm_private_dns_resolver`, its
//! `_inbound_endpoint`s and `_outbound_endpoint`s,
//! `azurerm_private_dns_resolver_dns_forwarding_ruleset`, its
//! `_forwarding_rule`s and `_virtual_network_link`s.
//!
//! An endpoint's ID names its resolver
//! (`.../dnsResolvers/RESOLVER/inboundEndpoints/NAME`), a rule's and a
//! link's their ruleset (`.../dnsForwardingRulesets/RULESET/
//! forwardingRules/NAME`); each must be an object of the dump. A rule's
//! `forwardingRuleState` is its `enabled` (`Disabled` is false, anything
//! else, or none, true: Azure's default is Enabled).

use super::attributes::{given, put_str, resource, top_level};
use super::known::Known;
use super::list::List;
use super::model::{
    DnsResolver, ForwardingRule, ForwardingRuleset, InboundEndpoint, OutboundEndpoint, RulesetLink,
};
use crate::json_file::Place;
use crate::{ImportError, Resource};
use serde_json::{json, Map, Value};

/// The six lists of a dump that hold resolvers and rulesets, read.
#[derive(Default)]
pub struct Lists<'a> {
    pub resolvers: List<'a, DnsResolver>,
    pub inbound: List<'a, InboundEndpoint>,
    pub outbound: List<'a, OutboundEndpoint>,
    pub rulesets: List<'a, ForwardingRuleset>,
    pub rules: List<'a, ForwardingRule>,
    pub links: List<'a, RulesetLink>,
}

impl Lists<'_> {
    /// The IDs others refer to: the resolvers', the outbound endpoints'
    /// and the rulesets'.
    pub(super) fn add_known(&self, known: &mut Known) {
        self.resolvers.add_known("dns_resolver", known);
        self.outbound.add_known("outbound_endpoint", known);
        self.rulesets.add_known("dns_forwarding_ruleset", known);
    }

    /// The azurerm resources of the six lists.
    pub(super) fn resources(
        &self,
        known: &Known,
        out: &mut Vec<Resource>,
    ) -> Result<(), ImportError> {
        for (at, resolver) in self.resolvers.each() {
            let (name, id, mut attributes) =
                top_level(&at, resolver, resolver.location.as_deref())?;
            let vnet = resolver.virtual_network.as_ref();
            let what = format_args!("DNS Private Resolver `{name}`");
            let vnet = known.required("vnet", &at, "virtualNetwork", vnet, what)?;
            attributes.insert("virtual_network_id".into(), json!(vnet));
            out.push(resource(
                "azurerm_private_dns_resolver",
                &name,
                attributes,
                &id,
            ));
        }
        for (at, endpoint) in self.inbound.each() {
            let (name, id, mut attributes) = top_level(&at, endpoint, None)?;
            let resolver = parent(&at, &id, "inboundEndpoints", "dns_resolver", known)?;
            let mut configurations = Vec::new();
            for (index, config) in endpoint.ip_configurations.iter().enumerate() {
                let at = at.key("ipConfigurations").index(index);
                let subnet = config.subnet.as_ref();
                let what = format_args!("an IP configuration of inbound endpoint `{name}`");
                let subnet = known.required("subnet", &at, "subnet", subnet, what)?;
                let mut block = Map::new();
                block.insert("subnet_id".into(), json!(subnet));
                let address = given(config.private_ip_address.as_deref());
                put_str(&mut block, "private_ip_address", address);
                let method = given(config.private_ip_allocation_method.as_deref());
                put_str(&mut block, "private_ip_allocation_method", method);
                configurations.push(Value::Object(block));
            }
            attributes.insert("private_dns_resolver_id".into(), json!(resolver));
            attributes.insert("ip_configurations".into(), Value::Array(configurations));
            let kind = "azurerm_private_dns_resolver_inbound_endpoint";
            out.push(resource(kind, &name, attributes, &id));
        }
        for (at, endpoint) in self.outbound.each() {
            let (name, id, mut attributes) = top_level(&at, endpoint, None)?;
            let resolver = parent(&at, &id, "outboundEndpoints", "dns_resolver", known)?;
            let subnet = endpoint.subnet.as_ref();
            let what = format_args!("outbound endpoint `{name}`");
            let subnet = known.required("subnet", &at, "subnet", subnet, what)?;
            attributes.insert("private_dns_resolver_id".into(), json!(resolver));
            attributes.insert("subnet_id".into(), json!(subnet));
            let kind = "azurerm_private_dns_resolver_outbound_endpoint";
            out.push(resource(kind, &name, attributes, &id));
        }
        for (at, ruleset) in self.rulesets.each() {
            let (name, id, mut attributes) = top_level(&at, ruleset, ruleset.location.as_deref())?;
            let endpoints = known.references(
                "outbound_endpoint",
                &at.key("dnsResolverOutboundEndpoints"),
                &ruleset.dns_resolver_outbound_endpoints,
            )?;
            attributes.insert(
                "private_dns_resolver_outbound_endpoint_ids".into(),
                json!(endpoints),
            );
            let kind = "azurerm_private_dns_resolver_dns_forwarding_ruleset";
            out.push(resource(kind, &name, attributes, &id));
        }
        for (at, rule) in self.rules.each() {
            let (name, id, mut attributes) = top_level(&at, rule, None)?;
            let ruleset = parent(&at, &id, "forwardingRules", "dns_forwarding_ruleset", known)?;
            let Some(domain) = given(rule.domain_name.as_deref()) else {
                return Err(at.error(format!("forwarding rule `{name}` has no `domainName`")));
            };
            let state = given(rule.forwarding_rule_state.as_deref());
            let enabled = !state.is_some_and(|s| s.eq_ignore_ascii_case("Disabled"));
            let targets: Vec<Value> = (rule.target_dns_servers.iter())
                .map(|t| {
                    let mut block = Map::new();
                    block.insert("ip_address".into(), json!(t.ip_address));
                    if let Some(port) = t.port {
                        block.insert("port".into(), json!(port));
                    }
                    Value::Object(block)
                })
                .collect();
            attributes.insert("dns_forwarding_ruleset_id".into(), json!(ruleset));
            attributes.insert("domain_name".into(), json!(domain));
            attributes.insert("enabled".into(), json!(enabled));
            attributes.insert("target_dns_servers".into(), Value::Array(targets));
            let kind = "azurerm_private_dns_resolver_forwarding_rule";
            out.push(resource(kind, &name, attributes, &id));
        }
        for (at, link) in self.links.each() {
            let (name, id, mut attributes) = top_level(&at, link, None)?;
            let ruleset = parent(
                &at,
                &id,
                "virtualNetworkLinks",
                "dns_forwarding_ruleset",
                known,
            )?;
            let vnet = link.virtual_network.as_ref();
            let what = format_args!("link `{name}`");
            let vnet = known.required("vnet", &at, "virtualNetwork", vnet, what)?;
            attributes.insert("dns_forwarding_ruleset_id".into(), json!(ruleset));
            attributes.insert("virtual_network_id".into(), json!(vnet));
            let kind = "azurerm_private_dns_resolver_virtual_network_link";
            out.push(resource(kind, &name, attributes, &id));
        }
        Ok(())
    }
}

/// The ID of the object `id` (`.../PARENT/P/CHILDREN/NAME`) is a part of,
/// which must be an object of the dump of kind `parent_kind`.
fn parent(
    at: &Place<'_>,
    id: &str,
    children: &str,
    parent_kind: &'static str,
    known: &Known,
) -> Result<String, ImportError> {
    let (what, path) = match parent_kind {
        "dns_resolver" => ("DNS Private Resolver", "dnsResolvers/RESOLVER"),
        _ => ("DNS forwarding ruleset", "dnsForwardingRulesets/RULESET"),
    };
    let what = format_args!("a part of a {what} (.../{path}/{children}/NAME)");
    known.parent(parent_kind, at, id, children, what)
}
