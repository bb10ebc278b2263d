//! Resolution of what application rules and the DNS proxy add to firewall
//! policies, with the rules Azure applies to them:
//!
//! - an application rule names at least one destination: FQDNs, FQDN tags
//!   or web categories; its sources are addresses or IP groups;
//! - FQDN tags and web categories are Microsoft's named sets, whose
//!   members Microsoft keeps to itself: the lab takes them from the file
//!   (`fqdn_tags`, `web_categories`), and a rule naming one the file does
//!   not define is warned about (it matches nothing by that name), never
//!   refused, since Azure accepts it;
//! - the Basic tier has no DNS proxy and no web categories ("Azure
//!   Firewall Basic features"): a Basic policy asking for either is
//!   refused;
//! - custom DNS servers take effect through the proxy, and are kept
//!   without it (Azure keeps them for the firewall's own resolution).

use super::super::decode::{RawApplicationRule, RawFirewallPolicy, RawFqdnSet};
use super::resolver::{NameRule, Names, Resolver};
use crate::topology::model::*;

pub const FQDN_SET_NAME: NameRule = NameRule::new("FQDN tag or web category", 1, 80);

impl Resolver<'_> {
    /// The file's FQDN tags and web categories.
    pub(super) fn fqdn_sets(&mut self, tags: Vec<RawFqdnSet>, categories: Vec<RawFqdnSet>) {
        let mut seen = Names::new(FQDN_SET_NAME);
        for (sets, into_tags) in [(tags, true), (categories, false)] {
            for set in sets {
                self.check_name(&mut seen, &set.name, set.line, &set.key);
                let resolved = FqdnSet {
                    name: set.name,
                    fqdns: set.fqdns.into_iter().map(|(f, _)| f).collect(),
                    line: set.line,
                };
                if into_tags {
                    self.topo.fqdn_tags.push(resolved);
                } else {
                    self.topo.web_categories.push(resolved);
                }
            }
        }
    }

    /// A policy's DNS settings; a Basic policy has no DNS proxy.
    pub(super) fn policy_dns(&mut self, policy: &RawFirewallPolicy) -> FirewallDns {
        let Some(dns) = &policy.dns else {
            return FirewallDns::default();
        };
        if dns.proxy_enabled && policy.sku.0 == FirewallSku::Basic {
            let why = "Azure Firewall Basic has no DNS proxy: a Basic policy takes no \
                       `dns.proxy_enabled: true` (Standard or Premium do)";
            self.diags
                .error(dns.line, &format!("{}.dns.proxy_enabled", policy.key), why);
        }
        FirewallDns {
            proxy_enabled: dns.proxy_enabled,
            servers: dns.servers.clone(),
        }
    }

    /// One application rule at `place`, or its refusal.
    pub(super) fn application_rule(
        &mut self,
        rule: RawApplicationRule,
        place: &RulePlace,
        action: Access,
        sku: FirewallSku,
    ) -> Option<ApplicationRule> {
        if rule.destination_fqdns.is_empty()
            && rule.fqdn_tags.is_empty()
            && rule.web_categories.is_empty()
        {
            let why = "an application rule needs destination_fqdns, destination_fqdn_tags or \
                       web_categories";
            self.diags.error(rule.line, &rule.key, why);
            return None;
        }
        if let (Some((_, line)), FirewallSku::Basic) = (rule.web_categories.first(), sku) {
            let why = "Azure Firewall Basic has no web categories (Standard and Premium do)";
            self.diags
                .error(*line, &format!("{}.web_categories", rule.key), why);
        }
        if rule
            .protocols
            .iter()
            .any(|p| p.protocol == ApplicationProtocol::Mssql)
        {
            let why = "a TDS connection names its server only inside its TLS, which the lab's \
                       firewall proxy does not open: the lab matches no request to this rule's \
                       Mssql protocol (its Http and Https ones hold)";
            self.diags
                .warning(rule.line, &format!("{}.protocols", rule.key), why);
        }
        let sources = self.rule_side(
            rule.source_addresses,
            &rule.source_ip_groups,
            (rule.line, &rule.key, "source"),
        )?;
        let mut destination_fqdns: Vec<FqdnPattern> =
            rule.destination_fqdns.into_iter().map(|(f, _)| f).collect();
        for (named, sets, what, key) in [
            (
                &rule.fqdn_tags,
                &self.topo.fqdn_tags,
                "FQDN tag",
                "fqdn_tags",
            ),
            (
                &rule.web_categories,
                &self.topo.web_categories,
                "web category",
                "web_categories",
            ),
        ] {
            for (name, line) in named {
                match sets.iter().find(|s| s.name.eq_ignore_ascii_case(name)) {
                    Some(set) => destination_fqdns.extend(set.fqdns.iter().cloned()),
                    None => {
                        let why = format!(
                            "the {what} `{name}` has no FQDNs in this lab (Microsoft keeps its \
                             members to itself): define it under top-level `{key}`; until \
                             then the rule matches nothing by it"
                        );
                        self.diags
                            .warning(*line, &format!("{}.{key}", rule.key), why);
                    }
                }
            }
        }
        Some(ApplicationRule {
            place: place.clone(),
            action,
            name: rule.name,
            protocols: rule.protocols,
            sources,
            destination_fqdns,
            fqdn_tags: rule.fqdn_tags.into_iter().map(|(n, _)| n).collect(),
            web_categories: rule.web_categories.into_iter().map(|(n, _)| n).collect(),
            line: rule.line,
        })
    }
}
