//! `named.conf`'s quoted strings (BIND 9's configuration lexer): a string
//! ends at the next `"`; a backslash escapes the next character; a
//! newline inside one is an error. vnetd's strings there are paths and
//! zone names, which never need a quote or a backslash: such values are
//! refused rather than escaped, so that a string means the same to every
//! reader of the file.

use super::{double_quoted, Refused};

/// `value` as a quoted string of `named.conf`, or refused: a quote, a
/// backslash or a control character would end it or change it.
pub fn string(value: &str) -> Result<String, Refused> {
    let allowed = |c: char| !c.is_control() && c != '"' && c != '\\';
    let rule = "a quoted string holds no quote, backslash or control character";
    double_quoted("named.conf", value, allowed, rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_that_would_end_early_are_refused() {
        assert_eq!(string("/corp.zone").unwrap(), "\"/corp.zone\"");
        for refused in ["a\"; include \"/etc/shadow", "a\nb", "a\\b", "a\tb"] {
            assert!(string(refused).is_err(), "{refused:?} was taken");
        }
    }
}
