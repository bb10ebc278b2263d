//! What an edit of a topology file changed, entry by entry: the entries of
//! each top-level list are matched by `name` and compared as written (lines
//! and comments aside), so that `apply` can say which VNets, peerings,
//! route tables, NSGs, gateways or connections it took as new, gone or
//! changed.

use super::yaml::{self, Node, Value};

/// One entry of the file, as `apply` names it: `+` added, `-` removed,
/// `~` changed, then the key path (`route_tables[spoke1-rt]`).
pub fn file_changes(old: &str, new: &str) -> Vec<String> {
    let (Ok(old), Ok(new)) = (yaml::parse(old), yaml::parse(new)) else {
        return Vec::new();
    };
    let (old, new) = (top_level(&old), top_level(&new));
    let mut keys: Vec<&str> = old.iter().map(|(k, _)| *k).collect();
    for (k, _) in &new {
        if !keys.contains(k) {
            keys.push(k);
        }
    }
    let mut out = Vec::new();
    for key in keys {
        let (was, now) = (find(&old, key), find(&new, key));
        match (named(was), named(now)) {
            (Some(was), Some(now)) => {
                for (name, node) in &was {
                    match now.iter().find(|(n, _)| n == name) {
                        None => out.push(format!("-{key}[{name}]")),
                        Some((_, other)) if canon(node) != canon(other) => {
                            out.push(format!("~{key}[{name}]"))
                        }
                        Some(_) => {}
                    }
                }
                for (name, _) in &now {
                    if !was.iter().any(|(n, _)| n == name) {
                        out.push(format!("+{key}[{name}]"));
                    }
                }
            }
            _ => {
                let (a, b) = (was.map(canon), now.map(canon));
                if a != b {
                    let sign = match (&a, &b) {
                        (None, _) => '+',
                        (_, None) => '-',
                        _ => '~',
                    };
                    out.push(format!("{sign}{key}"));
                }
            }
        }
    }
    out
}

fn find<'a>(side: &[(&str, &'a Node)], key: &str) -> Option<&'a Node> {
    side.iter().find(|(k, _)| *k == key).map(|(_, n)| *n)
}

fn top_level(doc: &Node) -> Vec<(&str, &Node)> {
    match &doc.value {
        Value::Map(entries) => entries.iter().map(|(k, n, _)| (k.as_str(), n)).collect(),
        _ => Vec::new(),
    }
}

/// The entries of a list of mappings that all have a `name`, by name.
fn named(node: Option<&Node>) -> Option<Vec<(String, &Node)>> {
    let Value::Seq(items) = &node?.value else {
        return None;
    };
    items
        .iter()
        .map(|item| match &item.value {
            Value::Map(entries) => entries.iter().find_map(|(k, v, _)| match &v.value {
                Value::Scalar { text, .. } if k == "name" => Some((text.clone(), item)),
                _ => None,
            }),
            _ => None,
        })
        .collect()
}

/// A node as written, without its lines.
fn canon(node: &Node) -> String {
    match &node.value {
        Value::Null => "~".to_owned(),
        Value::Scalar { text, quoted } => format!("{}{text:?}", if *quoted { "q" } else { "" }),
        Value::Seq(items) => {
            let items: Vec<String> = items.iter().map(canon).collect();
            format!("[{}]", items.join(","))
        }
        Value::Map(entries) => {
            let entries: Vec<String> = entries
                .iter()
                .map(|(k, v, _)| format!("{k:?}:{}", canon(v)))
                .collect();
            format!("{{{}}}", entries.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "vnets:
  - name: hub
    address_space: [10.0.0.0/16]
peerings:
  - {name: a, virtual_network: hub, remote_virtual_network: spoke}
  - {name: b, virtual_network: spoke, remote_virtual_network: hub}
route_tables:
  - name: rt
    routes: []
";

    #[test]
    fn entries_are_matched_by_name_and_compared_as_written() {
        assert!(file_changes(BASE, BASE).is_empty());
        // Moved lines and comments change nothing.
        let moved = format!("# a comment\n\n{BASE}");
        assert!(file_changes(BASE, &moved).is_empty());
        let edited =
            BASE.replace(
                "{name: b, virtual_network: spoke, remote_virtual_network: hub}",
                "{name: c, virtual_network: spoke, remote_virtual_network: hub}",
            )
            .replace(
                "routes: []",
                "routes: [{name: r, address_prefix: 0.0.0.0/0, next_hop_type: None}]",
            ) + "expectations: []\n";
        assert_eq!(
            file_changes(BASE, &edited),
            [
                "-peerings[b]",
                "+peerings[c]",
                "~route_tables[rt]",
                "+expectations"
            ]
        );
        assert_eq!(
            file_changes(BASE, "vnets: []\n"),
            ["-vnets[hub]", "-peerings", "-route_tables"]
        );
    }
}
