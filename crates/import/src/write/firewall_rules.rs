//! The rule collections of an Azure Firewall policy (or of a firewall's
//! classic rules): network rule collections with their rules, in the
//! topology's keys (application rule collections are `application_rules`',
//! DNAT rule collections `dnat_rules`').
//!
//! A network rule's IP groups are IDs in azurerm and names in the file. A
//! destination address that is a service tag (`AzureCloud`, `Storage`)
//! stands for Azure's public ranges, which a lab does not have: it is left
//! out with a comment, and so is a rule left with no destination.

use super::attrs::{Attrs, Nested};
use super::model::Model;
use super::output::{flow_list, one_line, plain_or_quoted, scalar, Output};
use super::rules::{port_start, sorted_prefixes};
use crate::ImportError;
use ipnet::IpNet;
use serde_json::Value;
use std::net::IpAddr;

/// A network rule collection.
#[derive(Debug)]
pub(super) struct NetworkCollection {
    pub(super) name: String,
    pub(super) source: String,
    priority: String,
    action: String,
    /// In the input's order, which is the order of evaluation.
    rules: Vec<NetworkRule>,
}

#[derive(Debug)]
struct NetworkRule {
    name: String,
    source: String,
    /// `key: value` lines after `name`, values already in YAML.
    fields: Vec<(&'static str, String)>,
    /// What of it is left out, and why.
    note: Option<String>,
    /// Left out whole (`note` says why).
    left_out: bool,
}

/// A network rule collection block (or a classic collection's own
/// attributes) of `owner`, its IP groups named from `model`.
pub(super) fn collection(
    model: &Model,
    owner: &Attrs,
    block: &Value,
) -> Result<NetworkCollection, ImportError> {
    let b = Attrs::nested(owner.r, block);
    let name = b.required_str("name")?;
    let required = |key: &str| {
        b.str(key)
            .ok_or_else(|| b.error(format!("rule collection `{name}` has no {key}")))
    };
    let mut rules = Vec::new();
    for rule in b.blocks("rule") {
        rules.push(network_rule(model, owner, &Attrs::nested(owner.r, rule))?);
    }
    Ok(NetworkCollection {
        source: b.source(),
        priority: required("priority")?,
        action: required("action")?,
        rules,
        name,
    })
}

fn network_rule(model: &Model, owner: &Attrs, b: &Nested) -> Result<NetworkRule, ImportError> {
    let name = b.required_str("name")?;
    let mut fields = Vec::new();
    let mut protocols = b.list("protocols");
    protocols.sort();
    if !protocols.is_empty() {
        fields.push(("protocols", flow_list(&protocols)));
    }
    let mut tags = Vec::new();
    let mut destinations = 0;
    for side in ["source", "destination"] {
        let (addresses_key, groups_key) = match side {
            "source" => ("source_addresses", "source_ip_groups"),
            _ => ("destination_addresses", "destination_ip_groups"),
        };
        let (mut addresses, mut side_tags): (Vec<String>, Vec<String>) = b
            .list(addresses_key)
            .into_iter()
            .partition(|a| side == "source" || is_address(a));
        tags.append(&mut side_tags);
        addresses = sorted_prefixes(addresses);
        let groups = ip_group_names(model, owner, &b.list(groups_key), groups_key)?;
        if side == "destination" {
            destinations = addresses.len() + groups.len();
        }
        if !addresses.is_empty() {
            fields.push((addresses_key, flow_list(&addresses)));
        }
        if !groups.is_empty() {
            fields.push((groups_key, flow_list(&groups)));
        }
    }
    let mut fqdns = b.list("destination_fqdns");
    fqdns.sort();
    if !fqdns.is_empty() {
        destinations += fqdns.len();
        fields.push(("destination_fqdns", flow_list(&fqdns)));
    }
    let mut ports = b.list("destination_ports");
    ports.sort_by_key(|p| (port_start(p), p.clone()));
    if !ports.is_empty() {
        fields.push(("destination_ports", flow_list(&ports)));
    }
    let left_out = !tags.is_empty() && destinations == 0;
    let note = (!tags.is_empty()).then(|| {
        let what = if left_out {
            format!("rule `{name}` left out: its destinations are service tags only")
        } else {
            "destination_addresses that are service tags left out".to_string()
        };
        format!(
            "{what} ({}): they stand for Azure's public ranges, which the lab does not have",
            tags.join(", ")
        )
    });
    Ok(NetworkRule {
        source: b.source(),
        name,
        fields,
        note,
        left_out,
    })
}

/// Whether a rule's address is one vnetd reads (`*`, an address, a CIDR
/// or a range `first-last`), not a service tag.
fn is_address(text: &str) -> bool {
    let text = text.trim();
    let ip = |t: &str| t.trim().parse::<IpAddr>().is_ok();
    text == "*"
        || text.parse::<IpNet>().is_ok()
        || ip(text)
        || text.split_once('-').is_some_and(|(a, b)| ip(a) && ip(b))
}

/// The names of the IP groups `ids` (of attribute `key`) name, sorted;
/// each must be in the input.
pub(super) fn ip_group_names(
    model: &Model,
    owner: &Attrs,
    ids: &[String],
    key: &str,
) -> Result<Vec<String>, ImportError> {
    let mut names = Vec::new();
    for id in ids {
        let name = owner.name_in_id(id, "ipGroups", key)?;
        if !model.firewalls.ip_groups.contains_key(&name) {
            return Err(owner.error(format!(
                "{key} `{id}` names an IP group that is not in the input"
            )));
        }
        names.push(name);
    }
    names.sort();
    names.dedup();
    Ok(names)
}

impl NetworkCollection {
    /// The name and source of its first rule written with FQDNs, which
    /// Azure takes only with the firewall's DNS proxy.
    pub(super) fn first_fqdn_rule(&self) -> Option<(&str, &str)> {
        let mut rules = self.rules.iter().filter(|r| !r.left_out);
        let rule = rules.find(|r| r.fields.iter().any(|(k, _)| *k == "destination_fqdns"))?;
        Some((&rule.name, &rule.source))
    }

    pub(super) fn render(&self, out: &mut Output, name: &str) {
        out.item(10, &self.source, name);
        out.field(12, "priority", &plain_or_quoted(&self.priority));
        out.field(12, "action", &scalar(&self.action));
        if self.rules.iter().any(|r| !r.left_out) {
            out.line("            rules:");
        }
        for rule in &self.rules {
            if rule.left_out {
                let note = rule.note.as_deref().unwrap_or_default();
                out.line(&format!(
                    "              # {}: {note}",
                    one_line(&rule.source)
                ));
                continue;
            }
            out.source(14, &rule.source);
            out.notes(14, &rule.note);
            out.line(&format!("              - name: {}", scalar(&rule.name)));
            for (key, value) in &rule.fields {
                out.field(16, key, value);
            }
        }
    }
}
