//! Security rules and routes, inline blocks or resources of their own,
//! in the topology's keys.

use super::*;
use crate::ImportError;
use ipnet::IpNet;
use serde_json::Value;
use std::net::IpAddr;
use std::str::FromStr;

/// A security rule, inline (`security_rule` block) or separate
/// (`azurerm_network_security_rule`), in the topology's keys.
pub(super) fn rule(owner: &Attrs, attributes: Value, inline: bool) -> Result<Rule, ImportError> {
    let b = Attrs::nested(owner.r, &attributes);
    let name = b.required_str("name")?;
    let required = |key: &str| {
        b.str(key)
            .ok_or_else(|| b.error(format!("security rule `{name}` has no {key}")))
    };
    let mut fields = vec![
        ("priority", plain_or_quoted(&required("priority")?)),
        ("direction", scalar(&required("direction")?)),
        ("access", scalar(&required("access")?)),
        ("protocol", scalar(&required("protocol")?)),
    ];
    for side in ["source", "destination"] {
        let (single, plural) = match side {
            "source" => ("source_port_range", "source_port_ranges"),
            _ => ("destination_port_range", "destination_port_ranges"),
        };
        if let Some(port) = b.str(single) {
            fields.push((single, scalar(&port)));
        }
        let mut ports = b.list(plural);
        if !ports.is_empty() {
            ports.sort_by_key(|p| (port_start(p), p.clone()));
            fields.push((plural, flow_list(&ports)));
        }
    }
    for side in ["source", "destination"] {
        let (single, plural, asgs, asg_ids) = match side {
            "source" => (
                "source_address_prefix",
                "source_address_prefixes",
                "source_application_security_groups",
                "source_application_security_group_ids",
            ),
            _ => (
                "destination_address_prefix",
                "destination_address_prefixes",
                "destination_application_security_groups",
                "destination_application_security_group_ids",
            ),
        };
        if let Some(prefix) = b.str(single) {
            fields.push((single, scalar(&prefix)));
        }
        let prefixes = b.list(plural);
        if !prefixes.is_empty() {
            fields.push((plural, flow_list(&sorted_prefixes(prefixes))));
        }
        let mut names = Vec::new();
        for id in b.list(asg_ids) {
            names.push(owner.name_in_id(&id, "applicationSecurityGroups", asg_ids)?);
        }
        if !names.is_empty() {
            names.sort();
            fields.push((asgs, flow_list(&names)));
        }
    }
    Ok(Rule {
        name,
        source: b.source(),
        inline,
        fields,
    })
}

/// A route, inline (`route` block) or separate (`azurerm_route`).
pub(super) fn route(owner: &Attrs, attributes: &Value, inline: bool) -> Result<Route, ImportError> {
    let b = Attrs::nested(owner.r, attributes);
    let name = b.required_str("name")?;
    let required = |key: &str| {
        b.str(key)
            .ok_or_else(|| b.error(format!("route `{name}` has no {key}")))
    };
    Ok(Route {
        address_prefix: required("address_prefix")?,
        next_hop_type: required("next_hop_type")?,
        next_hop_ip: b.str("next_hop_in_ip_address"),
        source: b.source(),
        inline,
        name,
    })
}

/// The first port of a port or range, for sorting (`*` first).
pub(super) fn port_start(text: &str) -> u32 {
    text.split('-')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(0)
}

/// Prefixes in address order (text that is not a prefix last, by text).
pub(super) fn sorted_prefixes(mut list: Vec<String>) -> Vec<String> {
    let key = |s: &String| {
        let net = IpNet::from_str(s)
            .ok()
            .or_else(|| IpAddr::from_str(s).ok().map(IpNet::from));
        (net.is_none(), net, s.clone())
    };
    list.sort_by_key(key);
    list
}
