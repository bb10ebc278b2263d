//! The DNAT rule collections of an Azure Firewall policy
//! (`nat_rule_collection` blocks of a rule collection group) and of a
//! firewall's classic rules (`azurerm_firewall_nat_rule_collection`), in
//! the topology's keys: each rule translates one public address and port
//! of the firewall to a private address and port.
//!
//! A rule's destination is an address, or, from a Terraform
//! configuration, the public IP its `destination_address` refers to
//! (`azurerm_public_ip.fw.ip_address`, which the reader hands on as that
//! public IP's ID): it is written as that public IP's address in the lab,
//! Azure's when the input knows it, else the one vnetd gives it. A classic
//! rule's several `destination_addresses` make one rule each. A rule that
//! cannot be written (a value known only after apply, a destination that
//! names no public IP of the input, a translation to an FQDN) is left out
//! as a comment saying why, as a network rule without a destination is.

use super::attrs::Attrs;
use super::edge::Edge;
use super::firewall_rules::ip_group_names;
use super::ids::id_names;
use super::model::Model;
use super::output::{flow_list, one_line, plain_or_quoted, scalar, Output};
use super::rules::{port_start, sorted_prefixes};
use crate::ImportError;
use serde_json::Value;
use std::net::IpAddr;
use std::str::FromStr;

/// A DNAT rule collection.
#[derive(Debug)]
pub(super) struct NatCollection {
    pub(super) name: String,
    pub(super) source: String,
    priority: String,
    action: String,
    /// Why the whole collection is left out, if it is.
    left_out: Option<String>,
    /// In the input's order, the order in which the firewall tries them.
    rules: Vec<NatRule>,
}

#[derive(Debug)]
struct NatRule {
    name: String,
    source: String,
    protocols: Vec<String>,
    source_addresses: Vec<String>,
    source_ip_groups: Vec<String>,
    destinations: Vec<Destination>,
    ports: Vec<String>,
    translated_address: String,
    translated_port: String,
    /// Why the rule is left out, if it is.
    left_out: Option<String>,
}

/// Where a rule's traffic is addressed.
#[derive(Debug)]
enum Destination {
    Address(IpAddr),
    /// A public IP of the input, by name.
    PublicIp(String),
    /// Not written, and why.
    LeftOut(String),
}

/// The attributes a DNAT rule needs, in the order their absence is told:
/// the Terraform reader settles the unknowns of these, and the writer
/// leaves a rule out, naming the first of them that is known only after
/// apply.
pub(crate) const DNAT_RULE_ATTRIBUTES: &[&str] = &[
    "protocols",
    "source_addresses",
    "destination_address",
    "destination_addresses",
    "destination_ports",
    "translated_address",
    "translated_port",
];

/// A `nat_rule_collection` block (or a classic collection's own
/// attributes) of `owner`; its IP groups and public IPs named from
/// `model`.
pub(super) fn nat_collection(
    model: &Model,
    owner: &Attrs,
    block: &Value,
) -> Result<NatCollection, ImportError> {
    let b = Attrs::nested(owner.r, block);
    let name = b.required_str("name")?;
    let priority = b
        .str("priority")
        .ok_or_else(|| b.error(format!("rule collection `{name}` has no priority")))?;
    let action = b.str("action").unwrap_or_else(|| "Dnat".to_string());
    let left_out = (!action.eq_ignore_ascii_case("dnat")).then(|| {
        format!(
            "DNAT rule collection `{name}` left out: its action is {action}, and vnetd \
             emulates Dnat only"
        )
    });
    let mut rules = Vec::new();
    for rule in b.blocks("rule") {
        rules.push(nat_rule(model, owner, rule)?);
    }
    Ok(NatCollection {
        source: b.source(),
        name,
        priority,
        action,
        left_out,
        rules,
    })
}

fn nat_rule(model: &Model, owner: &Attrs, block: &Value) -> Result<NatRule, ImportError> {
    let b = Attrs::nested(owner.r, block);
    let name = b.required_str("name")?;
    let mut protocols = b.list("protocols");
    protocols.sort();
    let groups = b.list("source_ip_groups");
    let source_ip_groups = ip_group_names(model, owner, &groups, "source_ip_groups")?;
    let mut ports = b.list("destination_ports");
    ports.sort_by_key(|p| (port_start(p), p.clone()));
    let mut texts: Vec<String> = b.str("destination_address").into_iter().collect();
    texts.extend(b.list("destination_addresses"));
    let destinations = texts
        .iter()
        .map(|text| destination(&model.edge, text))
        .collect();
    let translated_address = b.str("translated_address").unwrap_or_default();
    let translated_port = b.str("translated_port").unwrap_or_default();
    let unknown = block.get(crate::KNOWN_AFTER_APPLY);
    let after_apply = DNAT_RULE_ATTRIBUTES.iter().find_map(|key| {
        let chain = unknown?.get(*key)?.as_str()?;
        Some(format!(
            "`{key}` is known only after apply (it comes from {chain})"
        ))
    });
    let left_out = after_apply.or_else(|| {
        if texts.is_empty() {
            return Some("it has no destination address".to_string());
        }
        if translated_address.is_empty() {
            return Some(match b.str("translated_fqdn") {
                Some(fqdn) => format!(
                    "it translates to the FQDN `{fqdn}`, and vnetd translates to addresses \
                     only: write translated_address"
                ),
                None => "it has no translated_address".to_string(),
            });
        }
        if IpAddr::from_str(&translated_address).is_err() {
            return Some(format!(
                "translated_address `{translated_address}` is not an address"
            ));
        }
        if translated_port.is_empty() {
            return Some("it has no translated_port".to_string());
        }
        None
    });
    Ok(NatRule {
        source: b.source(),
        protocols,
        source_addresses: sorted_prefixes(b.list("source_addresses")),
        source_ip_groups,
        destinations,
        ports,
        translated_address,
        translated_port,
        left_out: left_out.map(|why| format!("DNAT rule `{name}` left out: {why}")),
        name,
    })
}

/// A destination as the input gives it: an address, or the ID of a public
/// IP (the Terraform reader's, for a reference to its address).
fn destination(edge: &Edge, text: &str) -> Destination {
    if let Ok(address) = IpAddr::from_str(text.trim()) {
        return Destination::Address(address);
    }
    if id_names(text, &["publicIPAddresses"]).is_none() {
        return Destination::LeftOut(format!("destination `{text}` is not an address"));
    }
    match edge.public_ip_named(text) {
        Ok(name) => Destination::PublicIp(name),
        Err(why) => Destination::LeftOut(format!(
            "its destination is the address of a public IP: {why}"
        )),
    }
}

impl NatCollection {
    /// The public IPs its rules' destinations name.
    pub(super) fn public_ips(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().flat_map(|r| {
            r.destinations.iter().filter_map(|d| match d {
                Destination::PublicIp(name) => Some(name.as_str()),
                _ => None,
            })
        })
    }

    /// Whether the collection is written (not left out whole).
    pub(super) fn is_written(&self) -> bool {
        self.left_out.is_none()
    }

    /// The collection, with its rules' public IPs' addresses from `edge`.
    /// A rule to a public IP whose address is not read back yet is not
    /// written (the file is written again once it is).
    pub(super) fn render(&self, out: &mut Output, edge: &Edge) {
        if let Some(why) = &self.left_out {
            out.line(&format!(
                "          # {}: {}",
                one_line(&self.source),
                one_line(why)
            ));
            return;
        }
        out.item(10, &self.source, &self.name);
        out.field(12, "priority", &plain_or_quoted(&self.priority));
        out.field(12, "action", &scalar(&self.action));
        let mut opened = false;
        for rule in &self.rules {
            let note = |out: &mut Output, why: &str| {
                out.line(&format!(
                    "              # {}: {}",
                    one_line(&rule.source),
                    one_line(why)
                ));
            };
            if let Some(why) = &rule.left_out {
                note(out, why);
                continue;
            }
            let several = rule.destinations.len() > 1;
            for (i, d) in rule.destinations.iter().enumerate() {
                let name = if several {
                    format!("{}-{}", rule.name, i + 1)
                } else {
                    rule.name.clone()
                };
                let (address, comment) = match d {
                    Destination::Address(a) => (*a, None),
                    Destination::PublicIp(ip) => match edge.address_of(ip) {
                        Some((a, false)) => (a, Some(format!("public IP `{ip}`"))),
                        Some((a, true)) => (
                            a,
                            Some(format!(
                                "public IP `{ip}`: the address vnetd gives it (Azure's is \
                                 known only after apply)"
                            )),
                        ),
                        None => continue,
                    },
                    Destination::LeftOut(why) => {
                        note(out, &format!("DNAT rule `{name}` left out: {why}"));
                        continue;
                    }
                };
                if !opened {
                    out.line("            rules:");
                    opened = true;
                }
                out.source(14, &rule.source);
                if several && i == 0 {
                    out.line(&format!(
                        "              # Rule `{}` has {} destination addresses: one rule each.",
                        one_line(&rule.name),
                        rule.destinations.len()
                    ));
                }
                out.line(&format!("              - name: {}", scalar(&name)));
                rule.render_fields(out, address, comment.as_deref());
            }
        }
    }
}

impl NatRule {
    fn render_fields(&self, out: &mut Output, destination: IpAddr, comment: Option<&str>) {
        if !self.protocols.is_empty() {
            out.field(16, "protocols", &flow_list(&self.protocols));
        }
        if !self.source_addresses.is_empty() {
            out.field(16, "source_addresses", &flow_list(&self.source_addresses));
        }
        if !self.source_ip_groups.is_empty() {
            out.field(16, "source_ip_groups", &flow_list(&self.source_ip_groups));
        }
        let address = scalar(&destination.to_string());
        match comment {
            Some(c) => out.line(&format!(
                "                destination_address: {address}  # {}",
                one_line(c)
            )),
            None => out.field(16, "destination_address", &address),
        }
        if !self.ports.is_empty() {
            out.field(16, "destination_ports", &flow_list(&self.ports));
        }
        out.field(16, "translated_address", &scalar(&self.translated_address));
        out.field(
            16,
            "translated_port",
            &plain_or_quoted(&self.translated_port),
        );
    }
}
