//! `unbound.conf`'s quoted strings (unbound's `configlexer.lex`): a
//! double-quoted string ends at the next `"` and may not span a line; a
//! backslash takes the next character with it. A single-quoted string is
//! the same with `'`: `local-data` takes its record that way, so that the
//! record's own quoted strings fit inside it.

use super::{double_quoted, first_refused, Refused};

const FORMAT: &str = "unbound.conf";

/// `value` as a double-quoted string of `unbound.conf`, or refused: a
/// quote, a backslash or a control character (a newline above all) would
/// end it or change it.
pub fn string(value: &str) -> Result<String, Refused> {
    let allowed = |c: char| !c.is_control() && c != '"' && c != '\\';
    let rule = "a quoted string holds no quote, backslash or control character";
    double_quoted(FORMAT, value, allowed, rule)
}

/// A record in master-file text (see [`super::dns`]) as `local-data`'s
/// single-quoted argument, or refused: it may hold no `'`, no control
/// character, and backslashes only as `\DDD` escapes, which is what the
/// writers of [`super::dns`] produce.
pub fn record(text: &str) -> Result<String, Refused> {
    let refuse = |why: String| Err(Refused::new(FORMAT, text, why));
    if let Some(bad) = first_refused(text, |c| !c.is_control() && c != '\'') {
        return refuse(format!(
            "a record holds no `'` or control character ({bad})"
        ));
    }
    let bytes = text.as_bytes();
    for (at, _) in text.match_indices('\\') {
        let escape = bytes.get(at + 1..at + 4);
        if !escape.is_some_and(|d| d.iter().all(u8::is_ascii_digit)) {
            return refuse(format!("a backslash at byte {at} is not a \\DDD escape"));
        }
    }
    Ok(format!("'{text}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_that_would_end_early_are_refused() {
        assert_eq!(
            string("/run/vnetd-dns/dc1").unwrap(),
            "\"/run/vnetd-dns/dc1\""
        );
        assert_eq!(
            string("corp.contoso.com.").unwrap(),
            "\"corp.contoso.com.\""
        );
        for refused in ["a\"b", "a\nb", "a\\b", "a\rb", "a\0b"] {
            assert!(string(refused).is_err(), "{refused:?} was taken");
        }
    }

    #[test]
    fn records_keep_inside_their_quotes() {
        assert_eq!(
            record("x. 300 IN TXT \"a\\039b\"").unwrap(),
            "'x. 300 IN TXT \"a\\039b\"'"
        );
        for refused in [
            "x. TXT \"a'b\"",
            "x. TXT \"a\nb\"",
            "x. TXT \"a\\\"",
            "x. TXT \"a\\'\"",
        ] {
            assert!(record(refused).is_err(), "{refused:?} was taken");
        }
    }
}
