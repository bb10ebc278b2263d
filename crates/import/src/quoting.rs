//! A string between double quotes, as the Terraform reader re-quotes a
//! JSON string for HCL and the writer quotes a YAML scalar.

/// `text` between double quotes: `"` and `\` escaped with a backslash,
/// the characters of `named` as their given escapes (`\n`), any other
/// control character as `\uXXXX`. HCL's and YAML's double-quoted strings
/// differ only in the escapes they name.
pub(crate) fn double_quoted(text: &str, named: &[(char, &str)]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => match named.iter().find(|(named, _)| *named == c) {
                Some((_, escape)) => out.push_str(escape),
                None if c.is_control() => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                None => out.push(c),
            },
        }
    }
    out.push('"');
    out
}
