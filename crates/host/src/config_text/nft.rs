//! nftables' quoted strings (nft's scanner): a string runs from `"` to
//! the next `"`, with no escape. vnetd quotes interface names there
//! (`oifname "eth0"`); a name the kernel would not take (empty, longer
//! than 15 bytes, holding `/`, a space or a control character), or one
//! with a quote, is refused.

use super::{first_refused, Refused};

/// The longest interface name the kernel takes (`IFNAMSIZ` less its NUL).
pub const MAX_INTERFACE_LEN: usize = 15;

/// `name` as an interface name in an nftables ruleset, quoted.
pub fn interface(name: &str) -> Result<String, Refused> {
    let refuse = |why: String| Err(Refused::new("an nftables ruleset", name, why));
    if name.is_empty() || name.len() > MAX_INTERFACE_LEN {
        return refuse(format!(
            "an interface name has 1 to {MAX_INTERFACE_LEN} bytes"
        ));
    }
    let allowed = |c: char| c.is_ascii_graphic() && c != '"' && c != '/';
    match first_refused(name, allowed) {
        None => Ok(format!("\"{name}\"")),
        Some(bad) => refuse(format!(
            "an interface name holds printable ASCII but `\"` and `/`, no space ({bad})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_the_kernel_takes_are_quoted() {
        assert_eq!(interface("eth0").unwrap(), "\"eth0\"");
        for refused in ["", "a\"b", "a b", "a/b", "a\nb", "sixteen-bytes-xx", "é"] {
            assert!(interface(refused).is_err(), "{refused:?} was taken");
        }
    }
}
