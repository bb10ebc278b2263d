//! A problem with the input ([`ImportError`]: where it is and what is
//! wrong), and how a message quotes a value: bounded, so that a value of
//! any size gives a message of bounded size.

use std::fmt;

/// A problem with the input: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    /// `file:line`, or a file or resource ID when there is no line.
    pub location: String,
    pub message: String,
}

impl ImportError {
    /// An error at `location`. A message longer than [`MAX_MESSAGE_BYTES`]
    /// (a value quoted whole somewhere) is cut, as [`quoted`] cuts.
    pub fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        let message = if message.len() > MAX_MESSAGE_BYTES {
            cut(&message, MAX_MESSAGE_BYTES)
        } else {
            message
        };
        ImportError {
            location: location.into(),
            message,
        }
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

impl std::error::Error for ImportError {}

/// The most of one value an error message quotes, in bytes.
pub const QUOTED_BYTES: usize = 200;

/// The longest error message, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 2048;

/// `text` as a message quotes it: whole when at most [`QUOTED_BYTES`]
/// long, else its start, an ellipsis and its full length
/// (`abcabc… (134217728 bytes)`).
pub fn quoted(text: &str) -> String {
    if text.len() <= QUOTED_BYTES {
        text.to_string()
    } else {
        cut(text, QUOTED_BYTES)
    }
}

/// The first `bytes` of `text` (to a character boundary), an ellipsis and
/// its full length.
fn cut(text: &str, bytes: usize) -> String {
    let mut end = bytes.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}

#[cfg(test)]
impl ImportError {
    /// Asserts that the message holds `part`, showing the message when not.
    #[track_caller]
    pub(crate) fn assert_contains(&self, part: &str) {
        assert!(self.message.contains(part), "{}", self.message);
    }

    /// Asserts the error's location and message.
    #[track_caller]
    pub(crate) fn assert_is(&self, location: &str, message: &str) {
        let got = (self.location.as_str(), self.message.as_str());
        assert_eq!(got, (location, message));
    }

    /// Asserts that the message starts with `start`, showing it when not.
    #[track_caller]
    pub(crate) fn assert_starts_with(&self, start: &str) {
        assert!(self.message.starts_with(start), "{}", self.message);
    }
}
