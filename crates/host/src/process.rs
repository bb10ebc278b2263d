//! Processes as `/proc` shows them: which there are, and whether the
//! process that made something is still the one running under its pid.
//!
//! A pid names a process only while it runs. Once it ends, it stays a
//! zombie until its parent reaps it, and then the kernel may give the pid
//! to a new, unrelated process. So a record of "who made this" holds the
//! pid and the process's start time (field 22 of `/proc/<pid>/stat`, clock
//! ticks since boot), which never changes while the process lives and
//! tells it apart from a later process of the same pid.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// A process, told apart from any other that held or will hold its pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub pid: u32,
    /// Clock ticks from boot to the process's start.
    pub start_time: u64,
}

/// What `/proc/<pid>/stat` says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// The state letter: `R`, `S`, `D`, ..., `Z` for a zombie, `X` dead.
    pub state: char,
    /// Clock ticks from boot to the process's start.
    pub start_time: u64,
}

impl Stat {
    /// Whether the process has ended (a zombie waiting to be reaped counts
    /// as ended: it runs no code and holds nothing but its pid).
    pub fn has_ended(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Parses the text of `/proc/<pid>/stat`. The command name (field 2) is in
/// parentheses and may itself hold spaces and parentheses, so the fields
/// are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let after_name = &text[text.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    // Field 3 is the state; field 22 the start time, 19 fields later.
    let state = fields.next()?.chars().next()?;
    let start_time = fields.nth(18)?.parse().ok()?;
    Some(Stat { state, start_time })
}

/// The process `pid` as `/proc` shows it now; `None` when there is none.
pub fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Every process `/proc` lists, as its pid (read as a `P`) and directory.
pub fn listed<P: std::str::FromStr>() -> std::io::Result<impl Iterator<Item = (P, PathBuf)>> {
    let entries = std::fs::read_dir("/proc")?.flatten();
    Ok(entries.filter_map(|entry| {
        let pid = entry.file_name().to_str()?.parse().ok()?;
        Some((pid, entry.path()))
    }))
}

/// This process.
pub fn current() -> Identity {
    static CURRENT: OnceLock<u64> = OnceLock::new();
    let start_time = *CURRENT.get_or_init(|| {
        std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|text| parse_stat(&text))
            .map_or(0, |s| s.start_time)
    });
    Identity {
        pid: std::process::id(),
        start_time,
    }
}

/// Whether `who` is still running: its pid is a live process (not a
/// zombie) that started when `who` did. A pid taken over by a later process
/// does not count.
pub fn is_running(who: Identity) -> bool {
    stat(who.pid).is_some_and(|s| !s.has_ended() && s.start_time == who.start_time)
}

/// For a record that holds a pid but no start time: whether `pid` is a live
/// process (not a zombie) that had already started at `recorded_at`, when
/// the record was written. A process that started later took the pid over
/// from the one that wrote it. Start times are known to a clock tick and
/// the boot time to a second, hence a second of grace.
pub fn was_running_at(pid: u32, recorded_at: SystemTime) -> bool {
    let Some(stat) = stat(pid).filter(|s| !s.has_ended()) else {
        return false;
    };
    match started_at(stat.start_time) {
        Some(started) => started <= recorded_at + Duration::from_secs(1),
        // Without the boot time nothing tells the two apart: a live
        // process is taken for the writer, which leaves its things alone.
        None => true,
    }
}

/// The wall-clock time of a start time in clock ticks since boot.
fn started_at(start_time: u64) -> Option<SystemTime> {
    let ticks_per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|t| u64::try_from(t).ok())
        .filter(|t| *t > 0)?;
    let boot = boot_time()?;
    Some(boot + Duration::from_millis(start_time.saturating_mul(1000) / ticks_per_second))
}

/// When the machine booted, from the `btime` line of `/proc/stat`.
fn boot_time() -> Option<SystemTime> {
    let text = std::fs::read_to_string(Path::new("/proc/stat")).ok()?;
    let seconds: u64 = text
        .lines()
        .find_map(|line| line.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
}

/// The command name of process `pid` (`/proc/<pid>/comm`), if it runs.
pub fn name_of(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|name| name.trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        // A command name with spaces and a `)` of its own.
        let text = "4242 (bad) name) Z 1 4242 4242 0 -1 4194560 97 0 0 0 0 0 0 0 20 0 1 0 \
                    987654 0 0 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(
            parse_stat(text),
            Some(Stat {
                state: 'Z',
                start_time: 987654
            })
        );
        assert!(parse_stat(text).is_some_and(|s| s.has_ended()));
        assert_eq!(parse_stat("4242 (cut short) S 1 2"), None);
    }

    #[test]
    fn this_process_runs_and_a_later_start_time_is_not_it() {
        let me = current();
        assert!(me.start_time > 0);
        assert!(is_running(me));
        let later = Identity {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!is_running(later));
        assert!(was_running_at(me.pid, SystemTime::now()));
        assert!(!was_running_at(
            me.pid,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1)
        ));
    }
}
