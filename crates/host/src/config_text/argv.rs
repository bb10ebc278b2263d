//! Operands on a command line. vnetd never runs a shell: each value is one
//! argument of its own, so no character splits or joins arguments. What
//! remains is a value a program would read as an option (`-x`) instead
//! of an operand, and the NUL no argument can hold: an operand taken from
//! a file (a namespace's name after `ip netns exec`) is refused for
//! either. A DNS name asked of `dig` goes after `-q`, which takes any
//! name as the name.

use super::Refused;

/// `value` as an operand, or refused: empty, starting with `-`, or
/// holding NUL.
pub fn operand(value: &str) -> Result<&str, Refused> {
    let refuse = |why: &str| Err(Refused::new("a command line's operand", value, why));
    if value.is_empty() {
        refuse("an operand is not empty")
    } else if value.starts_with('-') {
        refuse("an operand starting with `-` would be read as an option")
    } else if value.contains('\0') {
        refuse("an argument holds no NUL")
    } else {
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_and_nul_are_refused() {
        assert_eq!(operand("vm1").unwrap(), "vm1");
        assert_eq!(operand("a b;c").unwrap(), "a b;c");
        for refused in ["", "-x", "--help", "a\0b"] {
            assert!(operand(refused).is_err(), "{refused:?} was taken");
        }
    }
}
