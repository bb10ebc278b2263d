//! Terraform's JSON configuration syntax (`*.tf.json`), read as the
//! native syntax it stands for.
//!
//! Each block of the JSON file (`resource`, `data`, `variable`, `locals`,
//! `output`, `module`, `provider`, `terraform`) is written out as native
//! syntax and read by the same reader: JSON strings are templates
//! (`"${var.name}"`), as Terraform reads them, and a variable's `type` is
//! a type expression. Nested blocks become lists of objects, the shape a
//! nested block has when referred to. Every block is written on the line
//! of its label in the JSON file (or later, when the blocks before it take more
//! lines), so messages name the JSON file's lines.

use super::*;
use serde_json::Value as Json;

/// The block types whose bodies are `TYPE -> LABEL -> body`.
const TWO_LABELS: &[&str] = &["resource", "data"];
/// The block types whose bodies are `NAME -> body`.
const ONE_LABEL: &[&str] = &["variable", "output", "module", "provider"];

impl Reader {
    pub(super) fn read_json_file(&mut self, dir: &Path, name: &str) -> Result<(), ImportError> {
        let shown = format!("{}{name}", self.prefix);
        let text = read_text(&dir.join(name)).map_err(|e| ImportError::new(&shown, e))?;
        let json: Json = serde_json::from_str(&text).map_err(|e| {
            ImportError::new(format!("{shown}:{}", e.line()), format!("JSON syntax: {e}"))
        })?;
        let native = native_text(&json, &text).map_err(|why| ImportError::new(&shown, why))?;
        let body = hcl::edit::parser::parse_body(&native).map_err(|e| {
            ImportError::new(
                format!("{shown}:{}", e.location().line()),
                format!(
                    "this JSON does not stand for a Terraform configuration: {}",
                    e.message()
                ),
            )
        })?;
        self.read_body(&shown, native, &body)
    }
}

/// One block to write: its line in the JSON file, its header and body.
struct Block {
    line: usize,
    header: String,
    body: String,
}

/// The native syntax `json` stands for, each block on the line of its
/// label in `text` (or later, when the blocks before it take more lines).
fn native_text(json: &Json, text: &str) -> Result<String, String> {
    let Json::Object(top) = json else {
        return Err("a .tf.json file holds one JSON object".to_string());
    };
    let mut blocks = Vec::new();
    for (kind, value) in top {
        // serde_json sorts keys: each search starts at its parent's key.
        let mut kind_at = 0;
        let kind_line = line_of(text, kind, &mut kind_at);
        let Json::Object(entries) = value else {
            return Err(format!("`{kind}` must be a JSON object"));
        };
        if TWO_LABELS.contains(&kind.as_str()) {
            for (type_name, labels) in entries {
                let mut from = kind_at;
                line_of(text, type_name, &mut from);
                let Json::Object(labels) = labels else {
                    return Err(format!("`{kind}.{type_name}` must be a JSON object"));
                };
                for (label, body) in labels {
                    let line = line_of(text, label, &mut from);
                    blocks.push(Block {
                        line,
                        header: format!("{kind} {} {}", quote(type_name), quote(label)),
                        body: body_text(body, kind == "resource" || kind == "data")?,
                    });
                }
            }
        } else if ONE_LABEL.contains(&kind.as_str()) {
            let mut from = kind_at;
            for (label, body) in entries {
                let line = line_of(text, label, &mut from);
                let body = if kind == "variable" {
                    variable_text(body)?
                } else {
                    body_text(body, kind == "module")?
                };
                blocks.push(Block {
                    line,
                    header: format!("{kind} {}", quote(label)),
                    body,
                });
            }
        } else {
            blocks.push(Block {
                line: kind_line,
                header: kind.clone(),
                body: body_text(value, false)?,
            });
        }
    }
    blocks.sort_by_key(|b| b.line);
    let mut out = String::new();
    let mut line = 1;
    for block in blocks {
        while line < block.line {
            out.push('\n');
            line += 1;
        }
        let text = format!("{} {{{}}}\n", block.header, block.body);
        line += text.matches('\n').count();
        out.push_str(&text);
    }
    Ok(out)
}

/// The line of the first `"key":` in `text` from byte `from` on; `from`
/// moves past it, so blocks of the same label are found in order.
fn line_of(text: &str, key: &str, from: &mut usize) -> usize {
    let needle = format!("\"{key}\"");
    let mut at = *from;
    while let Some(found) = text.get(at..).and_then(|t| t.find(&needle)) {
        let end = at + found + needle.len();
        if text[end..].trim_start().starts_with(':') {
            *from = end;
            return text[..at + found].matches('\n').count() + 1;
        }
        at = end;
    }
    text[..(*from).min(text.len())].matches('\n').count() + 1
}

/// A block's body: `key = value` for each member, one per line (as the
/// native syntax needs). The meta blocks of a resource are left out.
fn body_text(body: &Json, skip_meta_blocks: bool) -> Result<String, String> {
    let Json::Object(members) = body else {
        return Err("a block's body must be a JSON object".to_string());
    };
    let mut parts = Vec::new();
    for (key, value) in members {
        if skip_meta_blocks && META_BLOCKS.contains(&key.as_str()) {
            continue;
        }
        parts.push(format!("{key} = {}", expression(value)));
    }
    Ok(if parts.is_empty() {
        String::new()
    } else {
        format!("\n{}\n", parts.join("\n"))
    })
}

/// A `variable` block: `type` is a type expression, the rest values.
fn variable_text(body: &Json) -> Result<String, String> {
    let Json::Object(members) = body else {
        return Err("a variable's body must be a JSON object".to_string());
    };
    let mut parts = Vec::new();
    for (key, value) in members {
        match (key.as_str(), value) {
            ("type", Json::String(t)) => {
                let t = t.trim_start_matches("${").trim_end_matches('}');
                parts.push(format!("type = {t}"));
            }
            ("default" | "description" | "sensitive" | "nullable", v) => {
                parts.push(format!("{key} = {}", expression(v)));
            }
            _ => {}
        }
    }
    Ok(format!("\n{}\n", parts.join("\n")))
}

/// A JSON value as a native expression: strings stay templates.
fn expression(value: &Json) -> String {
    match value {
        Json::Null => "null".to_string(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => quote(s),
        Json::Array(items) => format!(
            "[{}]",
            items.iter().map(expression).collect::<Vec<_>>().join(", ")
        ),
        Json::Object(members) => format!(
            "{{ {} }}",
            members
                .iter()
                .map(|(k, v)| format!("{} = {}", quote(k), expression(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A string as a native quoted template: quotes, backslashes and control
/// characters escaped, `${` and `%{` kept.
fn quote(s: &str) -> String {
    crate::quoting::double_quoted(s, &[('\n', "\\n"), ('\r', "\\r"), ('\t', "\\t")])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_block_is_written_on_the_line_of_its_label() {
        let text = r#"{
  "variable": {
    "range": { "type": "list(string)", "default": ["10.1.0.0/16"] }
  },
  "resource": {
    "azurerm_virtual_network": {
      "hub": {
        "name": "hub-${var.range[0]}",
        "address_space": "${var.range}",
        "subnet": [{ "name": "a", "address_prefix": "10.1.1.0/24" }]
      }
    }
  }
}"#;
        let json: Json = serde_json::from_str(text).unwrap();
        let native = native_text(&json, text).unwrap();
        let lines: Vec<&str> = native.lines().collect();
        assert!(lines[2].starts_with("variable \"range\" {"), "{native}");
        assert!(
            lines[6].starts_with("resource \"azurerm_virtual_network\" \"hub\" {"),
            "{native}"
        );
        hcl::edit::parser::parse_body(&native).unwrap();
    }

    #[test]
    fn strings_stay_templates_and_are_escaped() {
        assert_eq!(quote("a\"b\\${x}"), "\"a\\\"b\\\\${x}\"");
        assert_eq!(
            expression(&serde_json::json!({"k": [1, true, null]})),
            "{ \"k\" = [1, true, null] }"
        );
    }
}
