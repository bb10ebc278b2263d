//! Resolution of DNS Private Resolvers and DNS forwarding rulesets, with
//! the rules Azure applies to them ("Azure DNS Private Resolver endpoints
//! and rulesets", "Azure DNS Private Resolver limits"):
//!
//! - each endpoint sits in a subnet of the resolver's VNet that holds
//!   nothing else (no NIC, no other endpoint, no Private Endpoint), an IPv4
//!   prefix of /28 to /24; a resolver has at most 5 inbound and 5 outbound
//!   endpoints;
//! - an inbound endpoint's address is given, or the subnet's first usable
//!   one (.4); an outbound endpoint shows no address, and vnetd sends from
//!   the subnet's first usable one;
//! - a ruleset sends through one or two outbound endpoints and is linked to
//!   VNets of its resolvers' region; a rule's domain is the root (`.`) or
//!   has 2 to 34 labels, unique in its ruleset, with 1 to 6 targets, never
//!   Azure DNS itself (168.63.129.16); at most 1,000 rules.

use super::super::decode::{RawResolver, RawResolverEndpoint, RawRuleset};
use super::resolver::{is_reserved, NameRule, Names, Resolver};
use crate::topology::model::*;
use ipnet::IpNet;
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};

pub const RESOLVER_NAME: NameRule = NameRule::new("DNS Private Resolver", 1, 80);
pub const RESOLVER_ENDPOINT_NAME: NameRule = NameRule::new("resolver endpoint", 1, 80);
pub const RULESET_NAME: NameRule = NameRule::new("DNS forwarding ruleset", 1, 80);
pub const FORWARDING_RULE_NAME: NameRule = NameRule::new("forwarding rule", 1, 80);

const MAX_ENDPOINTS: usize = 5;
const MAX_RULESET_OUTBOUND: usize = 2;
const MAX_RULES: usize = 1000;
const SUBNET_PREFIXES: std::ops::RangeInclusive<u8> = 24..=28;

impl Resolver<'_> {
    pub(super) fn dns_resolvers(&mut self, resolvers: Vec<RawResolver>) {
        let mut names = Names::new(RESOLVER_NAME);
        let mut used: HashSet<SubnetRef> = HashSet::new();
        for raw in resolvers {
            self.check_name(&mut names, &raw.name, raw.line, &raw.key);
            let Some(vnet) = self.vnet_ref(&raw.vnet) else {
                continue;
            };
            for (list, what) in [(&raw.inbound, "inbound"), (&raw.outbound, "outbound")] {
                if list.len() > MAX_ENDPOINTS {
                    let why = format!("a resolver has at most {MAX_ENDPOINTS} {what} endpoints");
                    self.diags.error(raw.line, &raw.key, why);
                }
            }
            let mut endpoint_names = Names::new(RESOLVER_ENDPOINT_NAME);
            let mut endpoint =
                |r: &mut Self, e: &RawResolverEndpoint| -> Option<ResolverEndpoint> {
                    r.check_name(&mut endpoint_names, &e.name, e.line, &e.key);
                    let subnet = r.resolver_subnet(vnet, e, &mut used)?;
                    let address = match e.address {
                        Some(ip) => {
                            let key = format!("{}.private_ip_address", e.key);
                            r.check_subnet_address(subnet, ip, e.line, &key)
                                .then_some(ip)?
                        }
                        None => first_usable(r.topo.subnet(subnet))?,
                    };
                    Some(ResolverEndpoint {
                        name: e.name.clone(),
                        subnet,
                        address,
                        line: e.line,
                    })
                };
            let inbound: Vec<_> = (raw.inbound.iter())
                .filter_map(|e| endpoint(self, e))
                .collect();
            let outbound: Vec<_> = (raw.outbound.iter())
                .filter_map(|e| endpoint(self, e))
                .collect();
            self.topo.dns_resolvers.push(DnsResolver {
                name: raw.name,
                vnet,
                inbound,
                outbound,
                line: raw.line,
            });
        }
    }

    /// The subnet of one endpoint, refused unless it is in the resolver's
    /// VNet, IPv4 /28 to /24, and the endpoint's alone.
    fn resolver_subnet(
        &mut self,
        vnet: VnetIdx,
        e: &RawResolverEndpoint,
        used: &mut HashSet<SubnetRef>,
    ) -> Option<SubnetRef> {
        let subnet = self.subnet_ref(&e.subnet)?;
        let (line, key) = (e.subnet.line, e.subnet.key.as_str());
        if subnet.vnet != vnet {
            let why = "a resolver's endpoints are in subnets of the resolver's own VNet";
            self.diags.error(line, key, why);
            return None;
        }
        let path = self.topo.subnet_path(subnet);
        let sub = self.topo.subnet(subnet);
        let sized = sub.address_prefixes.iter().all(|p| match p {
            IpNet::V4(p) => SUBNET_PREFIXES.contains(&p.prefix_len()),
            IpNet::V6(_) => false,
        });
        if !sized {
            let why = format!(
                "{path}: a resolver endpoint's subnet is an IPv4 prefix of /28 to /24, as Azure \
                 requires"
            );
            self.diags.error(line, key, why);
            return None;
        }
        let taken = self.topo.nics.iter().any(|n| n.subnet == subnet)
            || self
                .topo
                .private_endpoints
                .iter()
                .any(|p| p.subnet == subnet)
            || !used.insert(subnet);
        if taken {
            let why = format!(
                "{path} is not a resolver endpoint's alone: Azure delegates it to \
                 Microsoft.Network/dnsResolvers, and it holds nothing else (no NIC, no Private \
                 Endpoint, no other endpoint)"
            );
            self.diags.error(line, key, why);
            return None;
        }
        Some(subnet)
    }

    pub(super) fn forwarding_rulesets(&mut self, rulesets: Vec<RawRuleset>) {
        let mut names = Names::new(RULESET_NAME);
        for raw in rulesets {
            self.check_name(&mut names, &raw.name, raw.line, &raw.key);
            let mut outbound_endpoints = Vec::new();
            for r in &raw.outbound_endpoints {
                if let Some(found) = self.outbound_endpoint_ref(r) {
                    outbound_endpoints.push(found);
                }
            }
            if outbound_endpoints.is_empty() && raw.outbound_endpoints.is_empty() {
                let why = "a ruleset sends through at least one outbound endpoint";
                self.diags.error(raw.line, &raw.key, why);
            }
            if outbound_endpoints.len() > MAX_RULESET_OUTBOUND {
                let why = format!(
                    "a ruleset sends through at most {MAX_RULESET_OUTBOUND} outbound endpoints"
                );
                self.diags.error(raw.line, &raw.key, why);
            }
            let region = (outbound_endpoints.first()).map(|(r, _)| {
                self.topo.vnets[self.topo.dns_resolvers[*r].vnet]
                    .location
                    .clone()
            });
            let mut links = Vec::new();
            for r in &raw.links {
                let Some(vnet) = self.vnet_ref(r) else {
                    continue;
                };
                let location = &self.topo.vnets[vnet].location;
                if let Some(region) = region.as_ref().filter(|g| *g != location) {
                    let why = format!(
                        "VNet `{}` is in {location}, the ruleset's resolver in {region}: Azure \
                         links a ruleset to VNets of its own region",
                        r.name
                    );
                    self.diags.error(r.line, &r.key, why);
                    continue;
                }
                if links.contains(&vnet) {
                    let why = format!("the ruleset is already linked to VNet `{}`", r.name);
                    self.diags.error(r.line, &r.key, why);
                    continue;
                }
                links.push(vnet);
            }
            let rules = self.forwarding_rules(&raw);
            self.warn_of_loops(&raw, &links, &rules);
            self.topo.forwarding_rulesets.push(ForwardingRuleset {
                name: raw.name,
                outbound_endpoints,
                links,
                rules,
                line: raw.line,
            });
        }
    }

    fn forwarding_rules(&mut self, raw: &RawRuleset) -> Vec<ForwardingRule> {
        if raw.rules.len() > MAX_RULES {
            let why = format!("a ruleset holds at most {MAX_RULES} rules");
            self.diags.error(raw.line, &raw.key, why);
        }
        let mut names = Names::new(FORWARDING_RULE_NAME);
        let mut domains = HashSet::new();
        let mut rules = Vec::new();
        for rule in &raw.rules {
            self.check_name(&mut names, &rule.name, rule.line, &rule.key);
            let (text, line) = &rule.domain;
            let key = format!("{}.domain_name", rule.key);
            let domain = if text == "." {
                Some(String::new())
            } else {
                self.dns_name_at(text, *line, &key)
            };
            let Some(domain) = domain else {
                continue;
            };
            let labels = if domain.is_empty() {
                0
            } else {
                domain.split('.').count()
            };
            if labels == 1 || labels > 34 {
                let why = format!(
                    "`{text}` has {labels} label(s): a forwarding rule's domain is the root (`.`) \
                     or has 2 to 34 labels"
                );
                self.diags.error(*line, &key, why);
                continue;
            }
            if !domains.insert(domain.clone()) {
                let why = format!("another rule of this ruleset forwards `{text}`");
                self.diags.error(*line, &key, why);
                continue;
            }
            if let Some(t) = rule
                .targets
                .iter()
                .find(|t| t.ip() == IpAddr::V4(AZURE_DNS))
            {
                let why = format!(
                    "{t}: Azure refuses Azure DNS (168.63.129.16) as a forwarding rule's target"
                );
                self.diags.error(rule.line, &rule.key, why);
                continue;
            }
            rules.push(ForwardingRule {
                name: rule.name.clone(),
                domain,
                targets: rule.targets.clone(),
                enabled: rule.enabled,
                line: rule.line,
            });
        }
        rules
    }

    /// A rule whose target is an inbound endpoint of a VNet the ruleset is
    /// linked to sends that VNet's queries around in a circle, as Azure
    /// cautions ("This can cause a DNS resolution loop if the VNet where
    /// the resolver is provisioned is also linked to the ruleset"). Azure
    /// accepts it, so the file loads with a warning; `vnetd check` fails
    /// on it, with every other loop the rulesets make.
    fn warn_of_loops(&mut self, raw: &RawRuleset, links: &[VnetIdx], rules: &[ForwardingRule]) {
        for rule in rules {
            for target in &rule.targets {
                let looped = self.topo.dns_resolvers.iter().find(|r| {
                    links.contains(&r.vnet) && r.inbound.iter().any(|i| i.address == target.ip())
                });
                if let Some(resolver) = looped {
                    let why = format!(
                        "rule `{}` forwards to an inbound endpoint of `{}`, whose VNet this \
                         ruleset is linked to: a DNS resolution loop, which Azure accepts and \
                         cautions against; `vnetd check` fails on it, and the running lab answers \
                         its questions SERVFAIL after a few turns",
                        rule.name, resolver.name
                    );
                    self.diags.warning(rule.line, &raw.key, why);
                }
            }
        }
    }

    /// `resolver/endpoint`: an outbound endpoint of a resolver of the file.
    fn outbound_endpoint_ref(
        &mut self,
        r: &super::super::decode::NameRef,
    ) -> Option<(ResolverIdx, usize)> {
        let Some((resolver, endpoint)) = r.name.split_once('/') else {
            let why = format!("`{}` is not of the form resolver/endpoint", r.name);
            return self.refuse_ref(r, why);
        };
        let Some(ri) = self.topo.dns_resolvers.position(|x| x.name == resolver) else {
            let why = format!("no DNS Private Resolver named `{resolver}` in this file");
            return self.refuse_ref(r, why);
        };
        let found = self.topo.dns_resolvers[ri]
            .outbound
            .iter()
            .position(|o| o.name == endpoint);
        let Some(e) = found else {
            let why = format!("resolver `{resolver}` has no outbound endpoint named `{endpoint}`");
            return self.refuse_ref(r, why);
        };
        Some((ri, e))
    }
}

/// The first address Azure leaves usable in a subnet's IPv4 prefix (.4).
fn first_usable(subnet: &Subnet) -> Option<IpAddr> {
    let prefix = subnet.address_prefixes.iter().find_map(|p| match p {
        IpNet::V4(p) => Some(*p),
        IpNet::V6(_) => None,
    })?;
    let start = u32::from(prefix.network());
    (start..=u32::from(prefix.broadcast()))
        .map(|a| IpAddr::V4(Ipv4Addr::from(a)))
        .find(|ip| !is_reserved(&IpNet::V4(prefix), *ip))
}
