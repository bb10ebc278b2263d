//! The capture filter's compiler: a pcap filter expression (what tcpdump
//! and Wireshark's capture filters take) turned into classic BPF by
//! `tcpdump -ddd -y LINKTYPE`, for a packet socket of that link type
//! (the capture module). The expression may come from a page or a script,
//! so its compiler is bounded: at most [`MAX_FILTER_LEN`] bytes, at most
//! [`MAX_COMPILERS`] at once, killed past [`COMPILE_BUDGET`] or when the
//! one who asked goes away, and run as nobody, at the lowest priority,
//! with its memory capped:
//! tcpdump needs no privilege to compile for a link type it is named, as
//! it opens no device.

use anyhow::{anyhow, bail, Context, Result};
use std::io::ErrorKind;
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What the captured bytes start with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// An Ethernet header (a veth).
    Ethernet,
    /// The IP header itself (a TUN device).
    RawIp,
}

impl LinkType {
    /// The name `tcpdump -y` knows it by.
    fn tcpdump_name(self) -> &'static str {
        match self {
            LinkType::Ethernet => "EN10MB",
            LinkType::RawIp => "RAW",
        }
    }
}

/// One classic BPF instruction: `code`, `jt`, `jf`, `k`.
pub type Instruction = (u16, u8, u8, u32);

/// The longest filter expression compiled, in bytes: longer than any
/// filter written by hand, short of the ones that keep the compiler busy
/// for seconds.
pub const MAX_FILTER_LEN: usize = 1024;

/// How long tcpdump may take to compile one filter before it is killed.
pub const COMPILE_BUDGET: Duration = Duration::from_secs(2);

/// Filters compiled at once by the whole process; one more is refused.
pub const MAX_COMPILERS: usize = 2;

/// The user and group tcpdump compiles as when vnetd runs as root:
/// nobody's number, so no account of that name need exist.
const COMPILER_ID: u32 = 65_534;

/// The address space the compiler may take (`prlimit --as`), in bytes.
const COMPILER_MEMORY: u64 = 1 << 30;

/// Instructions a socket filter may have (the kernel's `BPF_MAXINSNS`).
const MAX_INSTRUCTIONS: usize = 4096;

/// Why a filter expression was not compiled.
#[derive(Debug)]
pub enum FilterError {
    /// Longer than [`MAX_FILTER_LEN`].
    TooLong(usize),
    /// [`MAX_COMPILERS`] filters are being compiled already.
    Busy,
    /// tcpdump took more than its budget.
    TooSlow(Duration),
    /// The one who asked went away.
    Cancelled,
    /// tcpdump refused it, with its reason.
    Refused(String),
    /// More instructions than a socket filter may have.
    TooLarge(usize),
    /// tcpdump could not be run or answered something unreadable.
    Failed(anyhow::Error),
}

impl std::fmt::Display for FilterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FilterError::TooLong(len) => write!(
                f,
                "the filter is {len} bytes long, more than the {MAX_FILTER_LEN} a filter may have"
            ),
            FilterError::Busy => write!(
                f,
                "{MAX_COMPILERS} filters are being compiled already: try again in a moment"
            ),
            FilterError::TooSlow(budget) => write!(
                f,
                "the filter took tcpdump more than {} s to compile: write a simpler one",
                budget.as_secs_f64()
            ),
            FilterError::Cancelled => write!(f, "the filter's compilation was called off"),
            FilterError::Refused(why) => write!(f, "{why}"),
            FilterError::TooLarge(n) => write!(
                f,
                "the filter compiles to {n} instructions, more than a socket filter may have \
                 ({})",
                MAX_INSTRUCTIONS - 3
            ),
            FilterError::Failed(e) => write!(f, "{e:#}"),
        }
    }
}

impl std::error::Error for FilterError {}

/// Filters being compiled now, by the whole process.
static COMPILING: AtomicUsize = AtomicUsize::new(0);

/// One of `max` places counted by `taken`, given back when dropped.
struct CompilerPlace(&'static AtomicUsize);

impl CompilerPlace {
    fn take(taken: &'static AtomicUsize, max: usize) -> Option<CompilerPlace> {
        // Made only once the place is taken: a place made and dropped
        // would give back one that was never taken.
        if crate::cap::take_below(taken, max) {
            Some(CompilerPlace(taken))
        } else {
            None
        }
    }
}

impl Drop for CompilerPlace {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Compiles a pcap filter expression for `link` with `tcpdump -ddd`: at
/// most [`MAX_FILTER_LEN`] bytes, at most [`MAX_COMPILERS`] at once, within
/// [`COMPILE_BUDGET`], and as nobody when vnetd is root, so an expression
/// from a page or a script never runs a parser as root nor holds a core
/// for long. Setting `cancelled` kills the compiler.
pub fn compile_filter(
    expr: &str,
    link: LinkType,
    cancelled: &AtomicBool,
) -> std::result::Result<Vec<Instruction>, FilterError> {
    if expr.len() > MAX_FILTER_LEN {
        return Err(FilterError::TooLong(expr.len()));
    }
    let _place = CompilerPlace::take(&COMPILING, MAX_COMPILERS).ok_or(FilterError::Busy)?;
    run_compiler(expr, link, COMPILE_BUDGET, cancelled)
}

/// Runs tcpdump on `expr`, whose output is the instruction count, then
/// one `code jt jf k` line each; kills it past `budget` or once
/// `cancelled` is set.
fn run_compiler(
    expr: &str,
    link: LinkType,
    budget: Duration,
    cancelled: &AtomicBool,
) -> std::result::Result<Vec<Instruction>, FilterError> {
    const MISSING: &str = "running tcpdump to compile the filter (Debian packages `tcpdump`, \
                           `util-linux` and `coreutils`)";
    // tcpdump needs no privilege to compile for a link type it is named
    // (`-y`): it opens no device. std clears the supplementary groups
    // when root changes the user; `nice` leaves the cores to forwarding
    // first, `prlimit` bounds its memory.
    let mut command = Command::new("nice");
    command
        .args(["-n", "19", "prlimit"])
        .arg(format!("--as={COMPILER_MEMORY}"))
        .args([
            "--",
            "tcpdump",
            "-ddd",
            "-y",
            link.tcpdump_name(),
            "--",
            expr,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if nix::unistd::geteuid().is_root() {
        command.uid(COMPILER_ID).gid(COMPILER_ID);
    }
    let mut child = command
        .spawn()
        .map_err(|e| FilterError::Failed(anyhow!(e).context(MISSING)))?;
    let mut stdout = Output::of(child.stdout.take(), 1 << 20);
    let mut stderr = Output::of(child.stderr.take(), 64 << 10);
    let started = Instant::now();
    let ended = loop {
        // Read as it comes: a child whose pipe is full would wait for us.
        stdout.read_ready();
        stderr.read_ready();
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) => {}
            Err(e) => break Err(FilterError::Failed(anyhow!(e).context(MISSING))),
        }
        if cancelled.load(Ordering::Relaxed) {
            break Err(FilterError::Cancelled);
        }
        if started.elapsed() >= budget {
            break Err(FilterError::TooSlow(budget));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let status = match ended {
        Ok(status) => status,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    };
    let stdout = stdout.rest();
    let stderr = stderr.rest();
    if !status.success() {
        let why = String::from_utf8_lossy(&stderr);
        let why = why.trim().trim_start_matches("tcpdump: ");
        if why.is_empty() || why.starts_with("prlimit: ") || why.starts_with("nice: ") {
            return Err(FilterError::Failed(anyhow!("{MISSING}: {status} {why}")));
        }
        return Err(FilterError::Refused(format!(
            "the filter `{expr}` is not a pcap filter expression: {why}"
        )));
    }
    let program = parse_bpf(&String::from_utf8_lossy(&stdout))
        .with_context(|| format!("reading tcpdump's program for `{expr}`"))
        .map_err(FilterError::Failed)?;
    if program.len() + 3 > MAX_INSTRUCTIONS {
        return Err(FilterError::TooLarge(program.len()));
    }
    Ok(program)
}

/// What a child writes to one pipe, read without blocking, at most
/// `limit` bytes of it kept.
struct Output<P> {
    pipe: Option<P>,
    bytes: Vec<u8>,
    limit: usize,
}

impl<P: std::io::Read + AsFd> Output<P> {
    fn of(pipe: Option<P>, limit: usize) -> Output<P> {
        let pipe = pipe.filter(|p| {
            nix::fcntl::fcntl(
                p,
                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
            )
            .is_ok()
        });
        Output {
            pipe,
            bytes: Vec::new(),
            limit,
        }
    }

    /// Reads what the pipe holds now; at its end, lets it go.
    fn read_ready(&mut self) {
        let Some(pipe) = self.pipe.as_mut() else {
            return;
        };
        let mut buf = [0u8; 16 << 10];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break self.pipe = None,
                Ok(n) => {
                    let room = self.limit.saturating_sub(self.bytes.len());
                    self.bytes.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => break self.pipe = None,
            }
        }
    }

    /// Everything, once the child has exited (its end of the pipe is
    /// closed, so what is left is there to read).
    fn rest(mut self) -> Vec<u8> {
        self.read_ready();
        self.bytes
    }
}

/// Parses `tcpdump -ddd` output.
pub fn parse_bpf(text: &str) -> Result<Vec<Instruction>> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let count: usize = lines
        .next()
        .ok_or_else(|| anyhow!("no instruction count"))?
        .parse()
        .context("the instruction count")?;
    let program = lines
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [code, jt, jf, k] = fields[..] else {
                bail!("`{line}` is not `code jt jf k`");
            };
            Ok((code.parse()?, jt.parse()?, jf.parse()?, k.parse()?))
        })
        .collect::<Result<Vec<_>>>()?;
    if program.len() != count || count == 0 {
        bail!(
            "{} instructions where the count says {count}",
            program.len()
        );
    }
    Ok(program)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::wait_until;

    #[test]
    fn tcpdump_programs_are_read_whole_or_refused() {
        let icmp = "6\n40 0 0 12\n21 0 3 2048\n48 0 0 23\n21 0 1 1\n6 0 0 262144\n6 0 0 0\n";
        assert_eq!(parse_bpf(icmp).unwrap().len(), 6);
        assert!(parse_bpf("").is_err());
        assert!(parse_bpf("2\n40 0 0 12\n").is_err(), "fewer than counted");
        assert!(parse_bpf("1\n40 0 12\n").is_err(), "three fields");
        assert!(parse_bpf("1\n40 0 0 x\n").is_err(), "not a number");
        assert!(parse_bpf("1\n40 0 300 1\n").is_err(), "jf beyond u8");
    }

    /// An expression that takes tcpdump seconds to compile (about 5 s here
    /// for 150 port ranges), told apart from others by `marker`.
    fn slow_expression(marker: u16) -> String {
        let mut terms: Vec<String> = (0..150u16)
            .map(|i| format!("portrange {}-{}", i + 1, i + 2))
            .collect();
        terms.push(format!("portrange {marker}-{}", marker + 1));
        terms.join("||")
    }

    /// The compiler running on `marker`'s expression, as its process id.
    fn compilers_of(marker: u16) -> Vec<u32> {
        let needle = format!("portrange {marker}-{}", marker + 1);
        let mut found = Vec::new();
        for (pid, dir) in crate::process::listed::<u32>().unwrap() {
            let Ok(cmdline) = std::fs::read(dir.join("cmdline")) else {
                continue;
            };
            let cmdline = String::from_utf8_lossy(&cmdline);
            if cmdline.starts_with("tcpdump\0") && cmdline.contains(&needle) {
                found.push(pid);
            }
        }
        found
    }

    /// The compiler runs as nobody, with no group of root's, and is gone
    /// (killed and reaped) at once when the one who asked goes away.
    #[test]
    fn a_filter_compiler_runs_as_nobody_and_ends_when_called_off() {
        const MARKER: u16 = 60_001;
        let cancelled = std::sync::Arc::new(AtomicBool::new(false));
        let flag = cancelled.clone();
        let compiling = std::thread::spawn(move || {
            run_compiler(
                &slow_expression(MARKER),
                LinkType::Ethernet,
                Duration::from_secs(60),
                &flag,
            )
        });
        let mut pid = 0;
        wait_until("tcpdump started", || {
            pid = compilers_of(MARKER).first().copied().unwrap_or(0);
            pid != 0
        });
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or_default()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        if nix::unistd::geteuid().is_root() {
            assert_eq!(field("Uid:"), "65534 65534 65534 65534", "{status}");
            assert_eq!(field("Gid:"), "65534 65534 65534 65534", "{status}");
            assert_eq!(field("Groups:"), "", "{status}");
            assert_eq!(field("CapEff:"), "0000000000000000", "{status}");
        } else {
            let me = nix::unistd::geteuid().as_raw().to_string();
            assert!(field("Uid:").starts_with(&me), "{status}");
        }
        // At the lowest priority: forwarding goes first.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let nice = stat
            .rsplit_once(") ")
            .unwrap()
            .1
            .split(' ')
            .nth(16)
            .unwrap();
        assert_eq!(nice, "19", "{stat}");
        let asked = Instant::now();
        cancelled.store(true, Ordering::Relaxed);
        let result = compiling.join().unwrap();
        assert!(matches!(result, Err(FilterError::Cancelled)), "{result:?}");
        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "{:?}",
            asked.elapsed()
        );
        assert!(
            compilers_of(MARKER).is_empty(),
            "tcpdump outlived its request"
        );
    }

    #[test]
    fn a_filter_compiler_is_killed_past_its_budget() {
        const MARKER: u16 = 60_003;
        let budget = Duration::from_millis(300);
        let started = Instant::now();
        let result = run_compiler(
            &slow_expression(MARKER),
            LinkType::Ethernet,
            budget,
            &AtomicBool::new(false),
        );
        assert!(
            matches!(result, Err(FilterError::TooSlow(b)) if b == budget),
            "{result:?}"
        );
        let took = started.elapsed();
        assert!(
            took >= budget && took < budget + Duration::from_secs(1),
            "{took:?}"
        );
        assert!(
            compilers_of(MARKER).is_empty(),
            "tcpdump outlived its budget"
        );
        let text = result.unwrap_err().to_string();
        assert!(text.contains("more than 0.3 s to compile"), "{text}");
    }

    /// The program addresses the packet where the socket hands it over:
    /// from the IP header on a TUN device (`-y RAW`), from the Ethernet
    /// header on a veth.
    #[test]
    fn filters_are_compiled_for_the_link_bounded_and_refused_with_a_reason() {
        let go = AtomicBool::new(false);
        let raw = compile_filter("icmp", LinkType::RawIp, &go).unwrap();
        assert_eq!(raw[0], (0x30, 0, 0, 0), "ldb [0]: the IP version");
        assert!(
            raw.contains(&(0x30, 0, 0, 9)),
            "ldb [9]: the protocol, {raw:?}"
        );
        let ether = compile_filter("icmp", LinkType::Ethernet, &go).unwrap();
        assert_eq!(ether[0], (0x28, 0, 0, 12), "ldh [12]: the EtherType");
        assert!(
            ether.contains(&(0x30, 0, 0, 23)),
            "ldb [23]: the protocol, {ether:?}"
        );
        let long = "icmp or ".repeat(200) + "icmp";
        assert!(long.len() > MAX_FILTER_LEN);
        let refused = compile_filter(&long, LinkType::RawIp, &go).unwrap_err();
        assert!(
            matches!(refused, FilterError::TooLong(n) if n == long.len()),
            "{refused}"
        );
        let refused = compile_filter("icmp and nonsense", LinkType::RawIp, &go).unwrap_err();
        let text = refused.to_string();
        assert!(matches!(refused, FilterError::Refused(_)), "{text}");
        assert!(
            text.starts_with("the filter `icmp and nonsense` is not a pcap filter expression: "),
            "{text}"
        );
    }

    #[test]
    fn only_so_many_filters_are_compiled_at_once() {
        static TAKEN: AtomicUsize = AtomicUsize::new(0);
        let first = CompilerPlace::take(&TAKEN, 2).unwrap();
        let second = CompilerPlace::take(&TAKEN, 2).unwrap();
        assert!(CompilerPlace::take(&TAKEN, 2).is_none());
        drop(first);
        let third = CompilerPlace::take(&TAKEN, 2).unwrap();
        drop((second, third));
        assert_eq!(TAKEN.load(Ordering::Relaxed), 0);
    }
}
