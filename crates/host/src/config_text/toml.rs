//! TOML basic strings (TOML 1.0, "String"), as gobgpd reads its
//! configuration: between double quotes, with `\"`, `\\` and the escapes
//! of control characters (`\n`, `\t`, `\uXXXX`, ...). Every string value
//! can be written: nothing is refused.

/// `value` as a TOML basic string.
pub fn string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_string_is_escaped_by_toml_rules() {
        assert_eq!(string("10.0.0.1"), "\"10.0.0.1\"");
        assert_eq!(string("a\"b\\c\nd\u{0}é"), "\"a\\\"b\\\\c\\nd\\u0000é\"");
        assert_eq!(string("\u{7f}"), "\"\\u007F\"");
    }
}
