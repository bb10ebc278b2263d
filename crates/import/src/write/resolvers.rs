//! DNS Private Resolvers: `azurerm_private_dns_resolver` with its
//! `azurerm_private_dns_resolver_inbound_endpoint`s and
//! `_outbound_endpoint`s, and DNS forwarding rulesets
//! (`azurerm_private_dns_resolver_dns_forwarding_ruleset`) with their
//! `_forwarding_rule`s and `_virtual_network_link`s, written as the
//! topology's `private_dns_resolvers` and `dns_forwarding_rulesets`.
//!
//! An inbound endpoint's address is the one its IP configuration gives
//! (Static), else the one Azure gave it (state and `az` know it, and the
//! Terraform reader computes it as Azure does: the first usable address of
//! its subnet, which holds nothing else); without any, none is written and
//! vnetd gives it that same address. An outbound endpoint has no address
//! of its own in Azure, and none is written.
//!
//! A ruleset's virtual network links are separate resources in Azure, with
//! names of their own; the file names only the linked VNets, each written
//! with its link's source before it. A rule's target without a port is
//! written with 53, Azure's default (azurerm leaves `port` unset, or 0,
//! when the configuration gives none), and `enabled` only when false
//! (Azure's default is Enabled). Tags and metadata are not read.

use super::attrs::Attrs;
use super::ids::id_names;
use super::model::Model;
use super::output::{flow_list, scalar, Output};
use crate::ImportError;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The port a target DNS server listens on unless told.
const DNS_PORT: u16 = 53;

/// The resolvers and rulesets of the input, each by name.
#[derive(Debug, Default)]
pub(super) struct Resolvers {
    resolvers: BTreeMap<String, Resolver>,
    rulesets: BTreeMap<String, Ruleset>,
}

#[derive(Debug)]
struct Resolver {
    source: String,
    vnet: String,
    inbound: BTreeMap<String, Endpoint>,
    outbound: BTreeMap<String, Endpoint>,
}

/// An inbound or outbound endpoint (an outbound one has no address).
#[derive(Debug)]
struct Endpoint {
    source: String,
    subnet: (String, String),
    address: Option<IpAddr>,
}

#[derive(Debug)]
struct Ruleset {
    source: String,
    /// `resolver/endpoint`, sorted.
    outbound_endpoints: Vec<String>,
    /// By the link's own name.
    links: BTreeMap<String, RulesetLink>,
    rules: BTreeMap<String, ForwardingRule>,
}

#[derive(Debug)]
struct RulesetLink {
    source: String,
    vnet: String,
}

#[derive(Debug)]
struct ForwardingRule {
    source: String,
    domain: String,
    enabled: bool,
    /// In the input's order.
    targets: Vec<(IpAddr, u16)>,
}

impl<'r> Model<'r> {
    pub(super) fn add_dns_resolver(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.new_name(&self.resolvers.resolvers, "DNS Private Resolver", |f| {
            &f.source
        })?;
        let vnet = a.referred("virtual_network_id", "virtualNetworks", &self.vnets)?;
        let resolver = Resolver {
            source: a.r.source.clone(),
            vnet,
            inbound: BTreeMap::new(),
            outbound: BTreeMap::new(),
        };
        self.resolvers.resolvers.insert(name, resolver);
        Ok(())
    }

    /// The resolver `private_dns_resolver_id` names, which the input must
    /// hold, with its name.
    fn resolver_mut(&mut self, a: &Attrs<'r>) -> Result<(String, &mut Resolver), ImportError> {
        let resolvers = &mut self.resolvers.resolvers;
        a.referred_mut("private_dns_resolver_id", "dnsResolvers", resolvers)
    }

    pub(super) fn add_inbound_endpoint(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.name()?;
        let what = format!("inbound endpoint `{name}`");
        let c = a.one_block("ip_configurations", &what, "IP configurations")?;
        let Some(subnet_id) = c.str("subnet_id") else {
            return Err(a.error(format!("inbound endpoint `{name}` has no subnet_id")));
        };
        let subnet = a.subnet_in_id(&subnet_id, "ip_configurations.subnet_id")?;
        self.subnet_mut(a, &subnet.0, &subnet.1)?;
        let address = a.private_address(&c, "private_ip_allocation_method", &what)?;
        let endpoint = Endpoint {
            source: a.r.source.clone(),
            subnet,
            address,
        };
        let (resolver_name, resolver) = self.resolver_mut(a)?;
        let what = format!("inbound endpoint of resolver `{resolver_name}`");
        a.insert_unique(&mut resolver.inbound, &what, name, endpoint, |f| &f.source)
    }

    pub(super) fn add_outbound_endpoint(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.name()?;
        let subnet = a.subnet_id("subnet_id")?;
        self.subnet_mut(a, &subnet.0, &subnet.1)?;
        let endpoint = Endpoint {
            source: a.r.source.clone(),
            subnet,
            address: None,
        };
        let (resolver_name, resolver) = self.resolver_mut(a)?;
        let what = format!("outbound endpoint of resolver `{resolver_name}`");
        a.insert_unique(&mut resolver.outbound, &what, name, endpoint, |f| &f.source)
    }

    pub(super) fn add_forwarding_ruleset(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.new_name(&self.resolvers.rulesets, "DNS forwarding ruleset", |f| {
            &f.source
        })?;
        let key = "private_dns_resolver_outbound_endpoint_ids";
        let mut outbound_endpoints = Vec::new();
        for id in a.list(key) {
            let Some(names) = id_names(&id, &["dnsResolvers", "outboundEndpoints"]) else {
                return Err(a.error(format!(
                    "{key} `{id}` is not the ID of an outbound endpoint \
                     (.../dnsResolvers/RESOLVER/outboundEndpoints/NAME)"
                )));
            };
            let known = self
                .resolvers
                .resolvers
                .get(&names[0])
                .is_some_and(|r| r.outbound.contains_key(&names[1]));
            if !known {
                return Err(a.not_in_input(key, &id));
            }
            outbound_endpoints.push(format!("{}/{}", names[0], names[1]));
        }
        outbound_endpoints.sort();
        outbound_endpoints.dedup();
        let ruleset = Ruleset {
            source: a.r.source.clone(),
            outbound_endpoints,
            links: BTreeMap::new(),
            rules: BTreeMap::new(),
        };
        self.resolvers.rulesets.insert(name, ruleset);
        Ok(())
    }

    /// The ruleset `dns_forwarding_ruleset_id` names, which the input must
    /// hold, with its name.
    fn ruleset_mut(&mut self, a: &Attrs<'r>) -> Result<(String, &mut Ruleset), ImportError> {
        let rulesets = &mut self.resolvers.rulesets;
        a.referred_mut(
            "dns_forwarding_ruleset_id",
            "dnsForwardingRulesets",
            rulesets,
        )
    }

    pub(super) fn add_forwarding_rule(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.name()?;
        let domain = a.required_str("domain_name")?;
        let mut targets = Vec::new();
        for block in a.blocks("target_dns_servers") {
            let t = Attrs::nested(a.r, block);
            let text = t.required_str("ip_address")?;
            let ip = a.ip_address(&text, &format!("forwarding rule `{name}`: target"))?;
            let port = match t.str("port") {
                None => DNS_PORT,
                Some(text) => match text.parse::<u16>() {
                    // azurerm sends 0 when the configuration gives no port.
                    Ok(0) => DNS_PORT,
                    Ok(port) => port,
                    Err(_) => {
                        return Err(a.error(format!(
                            "forwarding rule `{name}`: target port `{text}` is not a port"
                        )))
                    }
                },
            };
            targets.push((ip, port));
        }
        let rule = ForwardingRule {
            source: a.r.source.clone(),
            domain,
            enabled: a.bool("enabled") != Some(false),
            targets,
        };
        let (ruleset_name, ruleset) = self.ruleset_mut(a)?;
        let what = format!("forwarding rule of ruleset `{ruleset_name}`");
        a.insert_unique(&mut ruleset.rules, &what, name, rule, |f| &f.source)
    }

    pub(super) fn add_ruleset_link(&mut self, a: &Attrs<'r>) -> Result<(), ImportError> {
        let name = a.name()?;
        let vnet = a.referred("virtual_network_id", "virtualNetworks", &self.vnets)?;
        let link = RulesetLink {
            source: a.r.source.clone(),
            vnet,
        };
        let (ruleset_name, ruleset) = self.ruleset_mut(a)?;
        let what = format!("virtual network link of ruleset `{ruleset_name}`");
        a.insert_unique(&mut ruleset.links, &what, name, link, |f| &f.source)
    }

    pub(super) fn render_resolvers(&self, out: &mut Output) {
        let r = &self.resolvers;
        out.list(0, "private_dns_resolvers", &r.resolvers, render_resolver);
        out.list(0, "dns_forwarding_rulesets", &r.rulesets, render_ruleset);
    }
}

fn render_resolver(out: &mut Output, (name, resolver): (&String, &Resolver)) {
    out.item(2, &resolver.source, name);
    out.field(4, "virtual_network", &scalar(&resolver.vnet));
    render_endpoints(out, "inbound_endpoints", &resolver.inbound);
    render_endpoints(out, "outbound_endpoints", &resolver.outbound);
}

fn render_ruleset(out: &mut Output, (name, ruleset): (&String, &Ruleset)) {
    out.item(2, &ruleset.source, name);
    out.field(
        4,
        "outbound_endpoints",
        &flow_list(&ruleset.outbound_endpoints),
    );
    let mut links: Vec<&RulesetLink> = ruleset.links.values().collect();
    links.sort_by(|a, b| a.vnet.cmp(&b.vnet));
    out.list(4, "virtual_network_links", links, |out, link| {
        out.source(6, &link.source);
        out.line(&format!("      - {}", scalar(&link.vnet)));
    });
    out.list(4, "rules", &ruleset.rules, |out, (rule_name, rule)| {
        out.item(6, &rule.source, rule_name);
        out.field(8, "domain_name", &scalar(&rule.domain));
        if !rule.enabled {
            out.field(8, "enabled", "false");
        }
        let targets: Vec<String> = rule
            .targets
            .iter()
            .map(|(ip, port)| format!("{{ip_address: {}, port: {port}}}", scalar(&ip.to_string())))
            .collect();
        out.field(
            8,
            "target_dns_servers",
            &format!("[{}]", targets.join(", ")),
        );
    });
}

fn render_endpoints(out: &mut Output, key: &str, endpoints: &BTreeMap<String, Endpoint>) {
    out.list(4, key, endpoints, |out, (name, e)| {
        out.item(6, &e.source, name);
        let (vnet, subnet) = &e.subnet;
        out.field(8, "subnet", &scalar(&format!("{vnet}/{subnet}")));
        if let Some(address) = e.address {
            out.field(8, "private_ip_address", &scalar(&address.to_string()));
        }
    });
}

#[cfg(test)]
mod tests;
