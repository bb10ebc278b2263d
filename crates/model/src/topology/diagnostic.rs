//! Messages about a topology file: each names the file, the line, the key
//! (as a path such as `vnets[hub].subnets[app].address_prefixes[0]`) and the
//! reason. Errors refuse the file; warnings (such as a one-sided peering) do
//! not.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub severity: Severity,
    /// The offending key, as a path from the top of the file.
    pub key: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let (key, message) = (Printable(&self.key), Printable(&self.message));
        if self.key.is_empty() {
            write!(f, "{}:{}: {}: {}", self.file, self.line, severity, message)
        } else {
            write!(
                f,
                "{}:{}: {}: {}: {}",
                self.file, self.line, severity, key, message
            )
        }
    }
}

/// Text from the file shown with its control characters escaped (`\0`,
/// `\u{1b}`): a name holding NUL or an escape sequence is shown as
/// written, never sent raw to the terminal.
struct Printable<'a>(&'a str);

impl fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() && c != '\n' {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// Collects diagnostics in the order they are found.
#[derive(Debug, Default)]
pub struct Diagnostics {
    pub file: String,
    pub list: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new(file: &str) -> Self {
        Diagnostics {
            file: file.to_string(),
            list: Vec::new(),
        }
    }

    pub fn error(&mut self, line: usize, key: &str, message: impl Into<String>) {
        self.push(Severity::Error, line, key, message.into());
    }

    pub fn warning(&mut self, line: usize, key: &str, message: impl Into<String>) {
        self.push(Severity::Warning, line, key, message.into());
    }

    fn push(&mut self, severity: Severity, line: usize, key: &str, message: String) {
        self.list.push(Diagnostic {
            file: self.file.clone(),
            line,
            severity,
            key: key.to_string(),
            message,
        });
    }

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|d| d.severity == Severity::Error)
    }
}
