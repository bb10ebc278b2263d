//! BIRD 2's quoted strings (its configuration lexer, `cf-lex.l`): a
//! string runs from `"` to the next `"` on the same line, with no escape
//! at all. So a value with a quote or a newline cannot be written as
//! one; it is refused.

use super::{double_quoted, Refused};

/// `value` as a quoted string of a BIRD configuration, or refused.
pub fn string(value: &str) -> Result<String, Refused> {
    let allowed = |c: char| !c.is_control() && c != '"';
    let rule = "a string holds no quote or control character, and BIRD has no escape";
    double_quoted("a BIRD configuration", value, allowed, rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_newlines_are_refused() {
        assert_eq!(
            string("/run/vnetd-bgp/h1/bird.log").unwrap(),
            "\"/run/vnetd-bgp/h1/bird.log\""
        );
        for refused in ["a\"b", "a\nb", "a\0b"] {
            assert!(string(refused).is_err(), "{refused:?} was taken");
        }
    }
}
