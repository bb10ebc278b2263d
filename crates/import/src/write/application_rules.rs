//! The application rule collections of an Azure Firewall policy
//! (`application_rule_collection` of a rule collection group) or of a
//! firewall's classic rules (`azurerm_firewall_application_rule_collection`),
//! written in the topology's keys.
//!
//! A policy's rule names its destinations `destination_fqdns`,
//! `destination_fqdn_tags` and `web_categories`, and its protocols
//! `protocols { type, port }`; a classic rule names them `target_fqdns`
//! and `fqdn_tags`, with `protocol { type, port }`. FQDN tags and web
//! categories are written by name: Microsoft keeps their members to
//! itself, and vnetd warns about each name the file does not define. A
//! classic rule with FQDN tags and no protocol is written with HTTP and
//! HTTPS, the protocols Azure applies to FQDN tags.
//!
//! What vnetd does not emulate (URLs, TLS inspection, inserted HTTP
//! headers, destination addresses of Premium rules) is left out with a
//! comment at the rule; a rule left with no destination is left out
//! whole, with the comment.

use super::attrs::{Attrs, Nested};
use super::firewall_rules::ip_group_names;
use super::model::Model;
use super::output::{flow_list, one_line, plain_or_quoted, scalar, Output};
use crate::ImportError;

/// An application rule collection.
#[derive(Debug)]
pub(super) struct ApplicationCollection {
    pub(super) name: String,
    pub(super) source: String,
    priority: String,
    action: Option<String>,
    /// In the input's order, which is the order of evaluation.
    rules: Vec<ApplicationRule>,
}

#[derive(Debug)]
struct ApplicationRule {
    name: String,
    source: String,
    /// `key: value` lines after `name`, values already in YAML.
    fields: Vec<(&'static str, String)>,
    /// What of it is left out, and why.
    notes: Vec<String>,
    /// Left out whole (`notes` say why).
    left_out: bool,
}

impl ApplicationCollection {
    /// A policy's `application_rule_collection` block, or a classic
    /// collection's own attributes (`b`), of `owner`.
    pub(super) fn read(
        model: &Model,
        owner: &Attrs,
        b: &Nested,
    ) -> Result<ApplicationCollection, ImportError> {
        let name = b.required_str("name")?;
        let priority = b
            .str("priority")
            .ok_or_else(|| b.error(format!("rule collection `{name}` has no priority")))?;
        let mut rules = Vec::new();
        for rule in b.blocks("rule") {
            rules.push(application_rule(
                model,
                owner,
                &Attrs::nested(owner.r, rule),
            )?);
        }
        Ok(ApplicationCollection {
            source: b.source(),
            action: b.str("action"),
            priority,
            rules,
            name,
        })
    }

    pub(super) fn render(&self, out: &mut Output) {
        out.source(10, &self.source);
        if self.rules.iter().all(|r| r.left_out) {
            let action = match &self.action {
                Some(action) => format!(", action: {}", scalar(action)),
                None => String::new(),
            };
            out.line(&format!(
                "          - {{name: {}, priority: {}{action}}}",
                scalar(&self.name),
                plain_or_quoted(&self.priority)
            ));
        } else {
            out.line(&format!("          - name: {}", scalar(&self.name)));
            out.field(12, "priority", &plain_or_quoted(&self.priority));
            out.scalar_field(12, "action", self.action.as_deref());
            out.line("            rules:");
        }
        for rule in &self.rules {
            if rule.left_out {
                let note = rule.notes.join("; ");
                out.line(&format!(
                    "              # {}: {note}",
                    one_line(&rule.source)
                ));
                continue;
            }
            out.source(14, &rule.source);
            out.notes(14, &rule.notes);
            out.line(&format!("              - name: {}", scalar(&rule.name)));
            for (key, value) in &rule.fields {
                out.field(16, key, value);
            }
        }
    }
}

fn application_rule(
    model: &Model,
    owner: &Attrs,
    b: &Nested,
) -> Result<ApplicationRule, ImportError> {
    let name = b.required_str("name")?;
    let mut fields = Vec::new();
    let mut notes = Vec::new();
    // `target_fqdns` and `fqdn_tags` are the classic rule's keys.
    let sorted = |keys: &[&str]| {
        let mut all: Vec<String> = keys.iter().flat_map(|k| b.list(k)).collect();
        all.sort();
        all.dedup();
        all
    };
    let fqdns = sorted(&["destination_fqdns", "target_fqdns"]);
    let tags = sorted(&["destination_fqdn_tags", "fqdn_tags"]);
    let categories = sorted(&["web_categories"]);
    let mut protocols = Vec::new();
    for block in (b.blocks("protocols").into_iter()).chain(b.blocks("protocol")) {
        let p = Attrs::nested(owner.r, block);
        let (Some(kind), Some(port)) = (p.str("type"), p.str("port")) else {
            return Err(b.error(format!(
                "application rule `{name}` has a protocol without its type or port"
            )));
        };
        protocols.push(format!("{{type: {}, port: {}}}", scalar(&kind), port));
    }
    if protocols.is_empty() && !tags.is_empty() {
        protocols = vec![
            "{type: Http, port: 80}".into(),
            "{type: Https, port: 443}".into(),
        ];
        notes.push(
            "no protocol given: written with HTTP and HTTPS, which Azure applies to FQDN tags"
                .into(),
        );
    }
    if protocols.is_empty() {
        return Err(b.error(format!(
            "application rule `{name}` has no protocol: Azure needs one (Http, Https or Mssql \
             with its port)"
        )));
    }
    fields.push(("protocols", format!("[{}]", protocols.join(", "))));
    let mut sources = b.list("source_addresses");
    sources.sort();
    if !sources.is_empty() {
        fields.push(("source_addresses", flow_list(&sources)));
    }
    let groups = ip_group_names(
        model,
        owner,
        &b.list("source_ip_groups"),
        "source_ip_groups",
    )?;
    if !groups.is_empty() {
        fields.push(("source_ip_groups", flow_list(&groups)));
    }
    for (key, values) in [
        ("destination_fqdns", &fqdns),
        ("destination_fqdn_tags", &tags),
        ("web_categories", &categories),
    ] {
        if !values.is_empty() {
            fields.push((key, flow_list(values)));
        }
    }
    for (key, what) in [
        (
            "destination_urls",
            "URLs, which vnetd does not match (TLS inspection)",
        ),
        (
            "destination_addresses",
            "destination addresses of an application rule, which vnetd matches by name only",
        ),
    ] {
        let values = b.list(key);
        if !values.is_empty() {
            notes.push(format!("{key} left out ({}): {what}", values.join(", ")));
        }
    }
    if b.bool("terminate_tls") == Some(true) {
        notes.push("terminate_tls left out: vnetd does not inspect TLS".into());
    }
    if !b.blocks("http_headers").is_empty() {
        notes.push("http_headers left out: vnetd inserts no HTTP headers".into());
    }
    let left_out = fqdns.is_empty() && tags.is_empty() && categories.is_empty();
    if left_out {
        notes.insert(
            0,
            format!("rule `{name}` left out: no destination vnetd reads is left"),
        );
    }
    Ok(ApplicationRule {
        source: b.source(),
        name,
        fields,
        notes,
        left_out,
    })
}
