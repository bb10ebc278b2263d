//! The string and collection functions real configurations use beside the
//! network ones: `coalesce`, `one`, `distinct`, `jsonencode`, `replace`,
//! `split`, `substr`, `title`, `trimspace`, `trimprefix`, `trimsuffix`, as
//! Terraform documents them.

use super::super::limits::{check_elements, check_string};
use super::args::{bound, integer, kind, list, text, Outcome};
use hcl::Value;

pub(super) fn coalesce(args: &[Value]) -> Outcome {
    args.iter()
        .find(|v| !matches!(v, Value::Null) && !matches!(v, Value::String(s) if s.is_empty()))
        .cloned()
        .ok_or_else(|| "no non-null, non-empty argument".to_string())
}

pub(super) fn one(args: &[Value]) -> Outcome {
    match &args[0] {
        Value::Null => Ok(Value::Null),
        Value::Array(items) if items.is_empty() => Ok(Value::Null),
        Value::Array(items) if items.len() == 1 => Ok(items[0].clone()),
        Value::Array(items) => Err(format!(
            "the list must have no more than one element, not {}",
            items.len()
        )),
        other => Err(format!("the argument must be a list, not {}", kind(other))),
    }
}

pub(super) fn distinct(args: &[Value]) -> Outcome {
    let mut out: Vec<Value> = Vec::new();
    for item in list(&args[0], "the list")? {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    Ok(Value::Array(out))
}

/// `jsonencode`: the value as compact JSON, as Terraform writes it: an
/// object's keys in lexical order, and `<`, `>`, `&`, U+2028 and U+2029
/// escaped as `\u003c` and so on (Terraform escapes what HTML would
/// read). How an Azure Policy rule is most often written.
pub(super) fn jsonencode(args: &[Value]) -> Outcome {
    let mut out = String::new();
    encode(&args[0], &mut out)?;
    Ok(Value::String(out))
}

fn encode(value: &Value, out: &mut String) -> Result<(), String> {
    check_string(out.len()).map_err(bound)?;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(text) => {
            out.push('"');
            for c in text.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                        out.push_str(&format!("\\u{:04x}", c as u32));
                    }
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                encode(item, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                encode(&Value::String(key.clone()), out)?;
                out.push(':');
                encode(item, out)?;
            }
            out.push('}');
        }
    }
    check_string(out.len()).map_err(bound)
}

pub(super) fn replace(args: &[Value]) -> Outcome {
    let subject = text(&args[0], "the string")?;
    let search = text(&args[1], "the substring")?;
    let with = text(&args[2], "the replacement")?;
    if search.starts_with('/') && search.ends_with('/') && search.len() > 1 {
        return Err("regular-expression replacement is not evaluated".to_string());
    }
    if search.is_empty() {
        return Ok(Value::String(subject));
    }
    let count = subject.matches(search.as_str()).count();
    let length = subject.len() - count * search.len() + count.saturating_mul(with.len());
    check_string(length).map_err(bound)?;
    Ok(Value::String(subject.replace(&search, &with)))
}

pub(super) fn split(args: &[Value]) -> Outcome {
    let sep = text(&args[0], "the separator")?;
    let subject = text(&args[1], "the string")?;
    if sep.is_empty() {
        return Err("the separator must not be empty".to_string());
    }
    let parts: Vec<Value> = subject.split(sep.as_str()).map(Value::from).collect();
    check_elements(parts.len()).map_err(bound)?;
    Ok(Value::Array(parts))
}

pub(super) fn substr(args: &[Value]) -> Outcome {
    let subject = text(&args[0], "the string")?;
    let chars: Vec<char> = subject.chars().collect();
    let offset = integer(&args[1], "the offset")?;
    let length = integer(&args[2], "the length")?;
    let len = chars.len() as i128;
    let start = if offset < 0 { len + offset } else { offset };
    if start < 0 || start > len {
        return Err(format!("offset {offset} is outside the string"));
    }
    let end = if length < 0 {
        len
    } else {
        (start + length).min(len)
    };
    Ok(Value::String(
        chars[start as usize..end.max(start) as usize]
            .iter()
            .collect(),
    ))
}

pub(super) fn title(args: &[Value]) -> Outcome {
    let mut out = String::new();
    let mut start = true;
    for c in text(&args[0], "the string")?.chars() {
        if start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !c.is_alphanumeric();
    }
    Ok(Value::String(out))
}

pub(super) fn trimspace(args: &[Value]) -> Outcome {
    Ok(Value::String(
        text(&args[0], "the string")?.trim().to_string(),
    ))
}

pub(super) fn trimprefix(args: &[Value]) -> Outcome {
    trim_affix(args, "the prefix", |subject, prefix| {
        subject.strip_prefix(prefix)
    })
}

pub(super) fn trimsuffix(args: &[Value]) -> Outcome {
    trim_affix(args, "the suffix", |subject, suffix| {
        subject.strip_suffix(suffix)
    })
}

/// The string of `args[0]` without the affix of `args[1]` (`what`), which
/// `strip` takes off when the string has it.
fn trim_affix(
    args: &[Value],
    what: &str,
    strip: for<'s> fn(&'s str, &str) -> Option<&'s str>,
) -> Outcome {
    let subject = text(&args[0], "the string")?;
    let affix = text(&args[1], what)?;
    Ok(Value::String(
        strip(&subject, &affix).unwrap_or(&subject).to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::call;
    use hcl::Value;

    fn s(text: &str) -> Value {
        Value::from(text)
    }

    #[test]
    fn these_functions_answer_as_terraform_documents() {
        assert_eq!(call("coalesce", &[Value::Null, s(""), s("b")]), Ok(s("b")));
        assert!(call("coalesce", &[Value::Null]).is_err());
        assert_eq!(call("one", &[Value::Array(vec![])]), Ok(Value::Null));
        assert!(call("one", &[Value::Array(vec![s("a"), s("b")])]).is_err());
        assert_eq!(
            call("distinct", &[Value::Array(vec![s("a"), s("b"), s("a")])]),
            Ok(Value::Array(vec![s("a"), s("b")]))
        );
        assert_eq!(
            call("replace", &[s("a-b-c"), s("-"), s("_")]),
            Ok(s("a_b_c"))
        );
        assert!(call("replace", &[s("abc"), s("/b/"), s("x")]).is_err());
        assert_eq!(
            call("split", &[s(","), s("a,b")]),
            Ok(Value::Array(vec![s("a"), s("b")]))
        );
        assert_eq!(
            call("substr", &[s("hello"), Value::from(1), Value::from(3)]),
            Ok(s("ell"))
        );
        assert_eq!(
            call("substr", &[s("hello"), Value::from(-3), Value::from(-1)]),
            Ok(s("llo"))
        );
        assert!(call("substr", &[s("hi"), Value::from(5), Value::from(1)]).is_err());
        assert_eq!(call("trimspace", &[s("  x \n")]), Ok(s("x")));
        assert_eq!(call("title", &[s("hub spoke-dev")]), Ok(s("Hub Spoke-Dev")));
        assert_eq!(call("trimprefix", &[s("rg-x"), s("rg-")]), Ok(s("x")));
        assert_eq!(call("trimsuffix", &[s("x-rg"), s("-rg")]), Ok(s("x")));
        let mut object = hcl::Map::new();
        object.insert("then".to_string(), Value::from("a<b & \"c\"\n"));
        object.insert(
            "if".to_string(),
            Value::Array(vec![Value::from(1), Value::Bool(true)]),
        );
        object.insert("none".to_string(), Value::Null);
        assert_eq!(
            call("jsonencode", &[Value::Object(object)]),
            Ok(s(
                r#"{"if":[1,true],"none":null,"then":"a\u003cb \u0026 \"c\"\n"}"#
            ))
        );
    }
}
