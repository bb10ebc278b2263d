//! RFC 1035 master-file text (section 5.1), as zone files and unbound's
//! `local-data` read it: names that can only be valid ones, and
//! character-strings that hold any bytes.
//!
//! A [`DnsName`] is made only from labels of letters, digits, `-`, `_`
//! or `*`: such a name needs no escape in any format vnetd writes (a zone
//! file, `named.conf`, `unbound.conf`), so it is written as it is. Data of
//! any bytes (a TXT value) is written by [`character_strings`]: cut into
//! strings of at most 255 bytes, as RFC 1035 stores them (and Azure DNS
//! answers them: at the last character boundary before the 255th byte),
//! each quoted, with every byte but a few plain ones written as `\DDD`.
//! The text that comes out holds no quote, no backslash but those of
//! `\DDD`, no newline and no byte outside printable ASCII, so the
//! grammar around it (a quoted string of `unbound.conf`, a line of a zone
//! file) cannot be left from inside it.

use super::{first_refused, Refused};
use std::fmt;

/// The longest name, in the text form without the final dot (RFC 1035's
/// 255 octets on the wire).
pub const MAX_NAME_LEN: usize = 253;

/// The longest label (RFC 1035 section 2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

/// The longest character-string (RFC 1035 section 3.3).
pub const MAX_STRING_LEN: usize = 255;

/// A DNS name in lower case, without the final dot: one or more labels
/// of 1 to 63 letters, digits, `-`, `_` or `*`, at most 253 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DnsName(String);

impl DnsName {
    /// `text` as a name (upper case is lowered, a final dot dropped), or
    /// why it is none.
    pub fn new(text: &str) -> Result<DnsName, Refused> {
        let trimmed = text.strip_suffix('.').unwrap_or(text);
        let lower = trimmed.to_ascii_lowercase();
        let refuse = |why: String| Refused::new("a DNS name", text, why);
        if lower.is_empty() || lower.len() > MAX_NAME_LEN {
            return Err(refuse(format!("a name has 1 to {MAX_NAME_LEN} characters")));
        }
        for label in lower.split('.') {
            if label.is_empty() || label.len() > MAX_LABEL_LEN {
                return Err(refuse(format!(
                    "`{label}` is not a label of 1 to {MAX_LABEL_LEN} characters"
                )));
            }
            let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*');
            if let Some(bad) = first_refused(label, plain) {
                return Err(refuse(format!(
                    "a label holds letters, digits, `-`, `_` or `*`, not {bad}"
                )));
            }
        }
        Ok(DnsName(lower))
    }

    /// The name without the final dot.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as a master file writes an absolute name: with the final
    /// dot.
    pub fn absolute(&self) -> String {
        format!("{}.", self.0)
    }

    /// `self` below `zone` (`app` below `corp.contoso.com`), or why that
    /// name would be too long.
    pub fn below(&self, zone: &DnsName) -> Result<DnsName, Refused> {
        DnsName::new(&format!("{}.{}", self.0, zone.0))
    }
}

impl fmt::Display for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A name as a master file writes it: `.` for the root (`None`), else
/// with the final dot.
pub fn absolute_or_root(name: Option<&DnsName>) -> String {
    name.map_or_else(|| ".".to_string(), DnsName::absolute)
}

/// The bytes a character-string writes as they are: letters, digits and
/// punctuation that no grammar vnetd writes gives a meaning inside a
/// quoted string.
fn plain(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b' ' | b'-' | b'.' | b'_' | b'=' | b':' | b'/' | b'+' | b',' | b'@'
        )
}

/// `text` cut into strings of at most 255 bytes, each at the last
/// character boundary before its 255th byte (so a string never ends in
/// the middle of a UTF-8 character): the strings of a TXT record, as RFC
/// 1035 stores them and Azure DNS answers them. An empty `text` is one
/// empty string.
pub fn split_strings(text: &str) -> Vec<&str> {
    let mut strings = Vec::new();
    let mut rest = text;
    while rest.len() > MAX_STRING_LEN {
        let mut cut = MAX_STRING_LEN;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (head, tail) = rest.split_at(cut);
        strings.push(head);
        rest = tail;
    }
    strings.push(rest);
    strings
}

/// One character-string, quoted, every byte but the plain ones written
/// as `\DDD` (RFC 1035 section 5.1): `"v=spf1 -all"`,
/// `"x\039 include\058 \034/etc/shadow\034"`.
pub fn quoted_string(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &byte in bytes {
        if plain(byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("\\{byte:03}"));
        }
    }
    out.push('"');
    out
}

/// A TXT record's data: `text` split by [`split_strings`], each written
/// by [`quoted_string`], separated by spaces.
pub fn character_strings(text: &str) -> String {
    split_strings(text)
        .iter()
        .map(|s| quoted_string(s.as_bytes()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads back what [`quoted_string`] (or `dig`, which writes the same
/// escapes, and `\"` or `\\` for a quote or a backslash) wrote: the
/// bytes of one character-string, its quotes removed. `None` for text
/// that is not one.
pub fn unquote_string(text: &str) -> Option<Vec<u8>> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    let bytes = inner.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                let digits = bytes.get(i + 1..i + 4);
                match digits {
                    Some(d) if d.iter().all(u8::is_ascii_digit) => {
                        let value: u16 = std::str::from_utf8(d).ok()?.parse().ok()?;
                        out.push(u8::try_from(value).ok()?);
                        i += 4;
                    }
                    _ => {
                        out.push(*bytes.get(i + 1)?);
                        i += 2;
                    }
                }
            }
            b'"' => return None,
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_hold_only_plain_labels() {
        assert_eq!(
            DnsName::new("Corp.Contoso.COM.").unwrap().as_str(),
            "corp.contoso.com"
        );
        assert_eq!(DnsName::new("*.x_y.z").unwrap().absolute(), "*.x_y.z.");
        for refused in [
            "", ".", "a..b", "a b", "a\"b", "a'b", "a\nb", "a;b", "a\\b", "é.com",
        ] {
            assert!(DnsName::new(refused).is_err(), "{refused:?} was taken");
        }
        let long_label = format!("{}.com", "x".repeat(64));
        assert!(DnsName::new(&long_label).is_err());
        let app = DnsName::new("app").unwrap();
        let zone = DnsName::new(&format!("{}.{}", "y".repeat(63), "z".repeat(63))).unwrap();
        assert_eq!(app.below(&zone).unwrap().as_str().len(), 4 + 127);
        let deep = DnsName::new(&vec!["w".repeat(63); 3].join(".")).unwrap();
        assert!(deep.below(&zone).is_err(), "a name of 319 characters");
    }

    #[test]
    fn strings_are_cut_at_255_bytes_on_character_boundaries() {
        assert_eq!(split_strings(""), vec![""]);
        let long = "a".repeat(1024);
        let cut = split_strings(&long);
        assert_eq!(
            cut.iter().map(|s| s.len()).collect::<Vec<_>>(),
            vec![255, 255, 255, 255, 4]
        );
        assert_eq!(cut.concat(), long);
        // A 2-byte character across the 255th byte goes whole to the next.
        let accented = format!("{}é", "a".repeat(254));
        assert_eq!(
            split_strings(&accented),
            vec!["a".repeat(254).as_str(), "é"]
        );
    }

    #[test]
    fn a_quoted_string_holds_any_bytes_and_reads_back() {
        let hostile = "x' \n include: \"/etc/shadow\" \\ ; $ORIGIN é\0";
        let written = quoted_string(hostile.as_bytes());
        assert!(
            !written[1..written.len() - 1].contains(['"', '\'', '\n', ';']),
            "{written}"
        );
        assert!(written.is_ascii());
        assert_eq!(unquote_string(&written).unwrap(), hostile.as_bytes());
        assert_eq!(quoted_string(b"v=spf1 -all"), "\"v=spf1 -all\"");
        assert_eq!(quoted_string(b"a'b"), "\"a\\039b\"");
        // dig's own escapes read back too.
        assert_eq!(
            unquote_string("\"a\\\"b\\\\c\\010\"").unwrap(),
            b"a\"b\\c\n"
        );
        assert_eq!(unquote_string("no quotes"), None);
    }
}
