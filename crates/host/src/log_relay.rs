//! A daemon's output relayed into vnetd's own log: each line the daemon
//! writes on its standard output or error becomes a `tracing` event, at
//! the level the daemon gave the line, naming the daemon; nothing is kept
//! in a file another user could read. The last lines are also kept in
//! memory, so that a daemon that ends or never becomes ready is reported
//! with what it said last.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

/// How many of the last lines are kept for a report.
const KEPT_LINES: usize = 20;

/// The longest line relayed; the rest of a longer one is cut.
const MAX_LINE: usize = 2048;

/// A line's level, as the daemon gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
}

/// Reads a line's level and its message (the line less its prefixes).
pub type LevelOf = fn(&str) -> (Level, &str);

/// Where one daemon's lines go.
#[derive(Debug)]
pub struct Relay {
    /// The daemon as the log names it: `named in dc1`.
    name: String,
    level_of: LevelOf,
    last: Mutex<VecDeque<String>>,
}

impl Relay {
    pub fn new(name: impl Into<String>, level_of: LevelOf) -> Arc<Relay> {
        Arc::new(Relay {
            name: name.into(),
            level_of,
            last: Mutex::new(VecDeque::with_capacity(KEPT_LINES)),
        })
    }

    /// The daemon as the log names it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Logs `line` at its level and keeps it among the last.
    pub fn line(&self, line: &str) {
        let line = cut(line.trim_end());
        if line.is_empty() {
            return;
        }
        let (level, message) = (self.level_of)(line);
        let daemon = self.name.as_str();
        match level {
            Level::Error => tracing::error!(target: "vnetd::daemon_output", daemon, "{message}"),
            Level::Warn => tracing::warn!(target: "vnetd::daemon_output", daemon, "{message}"),
            Level::Info => tracing::info!(target: "vnetd::daemon_output", daemon, "{message}"),
            Level::Debug => tracing::debug!(target: "vnetd::daemon_output", daemon, "{message}"),
        }
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.len() == KEPT_LINES {
            last.pop_front();
        }
        last.push_back(line.to_string());
    }

    /// The last lines the daemon wrote, oldest first.
    pub fn last_lines(&self) -> Vec<String> {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        last.iter().cloned().collect()
    }

    /// Relays what arrives on `output` (the read end of the daemon's
    /// standard output and error) until every writer has closed it, on a
    /// thread of its own.
    pub fn follow(self: &Arc<Relay>, output: OwnedFd) -> std::io::Result<()> {
        let relay = self.clone();
        std::thread::Builder::new()
            .name("vnetd-daemon-log".into())
            .spawn(move || {
                let mut reader = BufReader::new(std::fs::File::from(output));
                let mut line = Vec::new();
                loop {
                    line.clear();
                    match reader.read_until(b'\n', &mut line) {
                        Ok(0) | Err(_) => return,
                        Ok(_) => relay.line(&String::from_utf8_lossy(&line)),
                    }
                }
            })
            .map(|_| ())
    }
}

/// `line`, cut to [`MAX_LINE`] bytes at a character boundary.
fn cut(line: &str) -> &str {
    if line.len() <= MAX_LINE {
        return line;
    }
    let mut end = MAX_LINE;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    &line[..end]
}

/// The level a severity word names (`error`, `warning`, `notice`, ...),
/// as unbound and BIND spell them.
pub fn level_of_word(word: &str) -> Option<Level> {
    match word {
        "critical" | "error" | "fatal" => Some(Level::Error),
        "warning" => Some(Level::Warn),
        "notice" | "info" => Some(Level::Info),
        w if w == "debug" || w.starts_with("debug ") || w == "query" || w == "reply" => {
            Some(Level::Debug)
        }
        _ => None,
    }
}

/// A line's level from its severity word (`error: ...`), the word
/// dropped; a line without one is information.
pub(crate) fn level_after_word(line: &str) -> (Level, &str) {
    match line.split_once(": ") {
        Some((word, rest)) => match level_of_word(word.trim()) {
            Some(level) => (level, rest),
            None => (Level::Info, line),
        },
        None => (Level::Info, line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_kept_last_first_out_and_cut() {
        let relay = Relay::new("test in ns", level_after_word);
        for i in 0..(KEPT_LINES + 5) {
            relay.line(&format!("info: line {i}\n"));
        }
        let last = relay.last_lines();
        assert_eq!(last.len(), KEPT_LINES);
        assert_eq!(last[0], "info: line 5");
        assert_eq!(
            last[KEPT_LINES - 1],
            format!("info: line {}", KEPT_LINES + 4)
        );
        relay.line(&"é".repeat(MAX_LINE));
        assert!(relay.last_lines().last().unwrap().len() <= MAX_LINE);
        assert_eq!(level_after_word("error: bad"), (Level::Error, "bad"));
        assert_eq!(level_after_word("plain"), (Level::Info, "plain"));
    }
}
