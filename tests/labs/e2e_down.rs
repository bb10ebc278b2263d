//! `vnetd down` after a crash: namespaces marked as created by a vnetd
//! whose creator has ended are removed, with the processes still running
//! in them and their run directories, and a creator that only seems alive
//! (a zombie, or a pid a later process took over) does not keep them.
//! Without a file, `down` finds them by their marks, whatever lab they
//! came from. Needs root (see `common::require_root`).
//!
//! Each test makes its own namespaces (`dn23-<pid>-...`) and forges their
//! marks' creators; a guard removes whatever is left, pass or fail.

use crate::common;

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};
use vnetd::host::netns;

/// `down` without a file removes every leftover of the machine: the tests
/// of this file run one at a time, so that one's `down` never takes what
/// the other is still setting up.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Where the routing daemons of namespace NAME keep their files.
const BGP_RUN_DIR: &str = "/run/vnetd-bgp";

fn name(what: &str) -> String {
    format!("dn23-{}-{what}", std::process::id())
}

/// A control socket of the test's own, which no lab answers on.
fn socket() -> PathBuf {
    std::env::temp_dir().join(format!("vnetd-dn23-{}.sock", std::process::id()))
}

/// What a test made, removed when dropped whatever happened: namespaces
/// (with their marks), run directories, and child processes (killed and
/// reaped).
#[derive(Default)]
struct Leftovers {
    namespaces: Vec<String>,
    dirs: Vec<PathBuf>,
    children: Vec<Child>,
    files: Vec<PathBuf>,
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for name in &self.namespaces {
            if netns::exists(name) {
                let _ = netns::delete(name);
            }
            let _ = std::fs::remove_file(Path::new(netns::MARK_DIR).join(name));
        }
        for dir in &self.dirs {
            let _ = std::fs::remove_dir_all(dir);
        }
        for file in &self.files {
            let _ = std::fs::remove_file(file);
        }
    }
}

impl Leftovers {
    /// A child process the guard kills and reaps.
    fn spawn(&mut self, program: &str, args: &[&str]) -> u32 {
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        self.children.push(child);
        pid
    }

    /// A creator that ended and was reaped (its pid names no process),
    /// with the start time it had.
    fn ended_creator(&mut self) -> (u32, u64) {
        let pid = self.spawn("sleep", &["1000"]);
        let start = start_time(pid);
        self.child(pid).kill().unwrap();
        self.child(pid).wait().unwrap();
        (pid, start)
    }

    fn child(&mut self, pid: u32) -> &mut Child {
        self.children.iter_mut().find(|c| c.id() == pid).unwrap()
    }

    /// Creates namespace `name` as vnetd does, then makes its mark name
    /// another creator: `pid` and `start_time` (`None`: a mark of the
    /// older format, pid and inode only).
    fn marked_namespace(&mut self, name: &str, pid: u32, start_time: Option<u64>) -> PathBuf {
        self.namespaces.push(name.to_string());
        netns::create(name).unwrap();
        let inode = std::fs::metadata(netns::path_of(name)).unwrap().ino();
        let mark = Path::new(netns::MARK_DIR).join(name);
        let text = match start_time {
            Some(start) => format!("{pid} {inode} {start}\n"),
            None => format!("{pid} {inode}\n"),
        };
        std::fs::write(&mark, text).unwrap();
        mark
    }

    /// A run directory of namespace `name`, with a file in it.
    fn run_dir(&mut self, name: &str) -> PathBuf {
        let dir = Path::new(BGP_RUN_DIR).join(name);
        self.dirs.push(dir.clone());
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("gobgpd.toml"), "[global.config]\n").unwrap();
        dir
    }
}

fn start_time(pid: u32) -> u64 {
    vnetd::host::process::stat(pid).unwrap().start_time
}

fn vnetd_down(config: Option<&Path>) -> (Option<i32>, String, String) {
    let mut down = common::vnetd_command(&socket());
    down.arg("down");
    if let Some(config) = config {
        down.arg(config);
    }
    let out = down.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The namespaces the report's "removed namespaces" line names (other
/// leftovers of the machine may be among them).
fn removed_namespaces(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("vnetd: removed namespaces "))
        .map(|list| list.split(", ").map(String::from).collect())
        .unwrap_or_default()
}

#[test]
fn down_without_a_file_removes_what_any_crashed_lab_left() {
    common::require_root();
    let _serial = serial();
    let mut made = Leftovers::default();

    // A creator that ended and was reaped: its pid names no process.
    let (ended, ended_start) = made.ended_creator();
    let crashed = name("ended");
    made.marked_namespace(&crashed, ended, Some(ended_start));
    let crashed_dir = made.run_dir(&crashed);
    // A routing daemon's stand-in, still running in the crashed lab's
    // namespace.
    let daemon = made.spawn("ip", &["netns", "exec", &crashed, "sleep", "1000"]);

    // A creator that ended but is not reaped yet: a zombie.
    let zombie = made.spawn("true", &[]);
    nix::sys::wait::waitid(
        nix::sys::wait::Id::Pid(nix::unistd::Pid::from_raw(zombie as i32)),
        nix::sys::wait::WaitPidFlag::WEXITED | nix::sys::wait::WaitPidFlag::WNOWAIT,
    )
    .unwrap();
    let zombie_stat = vnetd::host::process::stat(zombie).unwrap();
    assert_eq!(zombie_stat.state, 'Z');
    let of_zombie = name("zombie");
    made.marked_namespace(&of_zombie, zombie, Some(zombie_stat.start_time));

    // A pid that a later process holds: alive, but started at another time.
    let later = made.spawn("sleep", &["1000"]);
    let reused = name("reused");
    made.marked_namespace(&reused, later, Some(start_time(later) + 7));

    // A mark of the older format (no start time) whose pid a process holds
    // that started after the mark was written.
    let old = name("oldmark");
    let mark = made.marked_namespace(&old, later, None);
    std::fs::File::options()
        .write(true)
        .open(&mark)
        .unwrap()
        .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(86_400))
        .unwrap();

    // A creator that does run: left alone.
    let live = name("live");
    made.marked_namespace(&live, later, Some(start_time(later)));

    let (code, stdout, stderr) = vnetd_down(None);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let removed = removed_namespaces(&stdout);
    for gone in [&crashed, &of_zombie, &reused, &old] {
        assert!(removed.contains(gone), "{gone} not removed: {stdout}");
        assert!(!netns::exists(gone), "{gone} is still there");
        assert!(!Path::new(netns::MARK_DIR).join(gone).exists());
    }
    assert!(!removed.contains(&live), "{stdout}");
    assert!(netns::exists(&live));
    assert!(
        stdout
            .lines()
            .any(|l| l == format!("vnetd: stopped sleep (pid {daemon}) in {crashed}")),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l == format!("vnetd: removed {}", crashed_dir.display())),
        "{stdout}"
    );
    assert!(!crashed_dir.exists());
    assert!(
        stderr.lines().any(|l| l
            == format!(
                "vnetd: namespace {live} of process {later}, which is still running: left alone"
            )),
        "{stderr}"
    );
    // The daemon was asked to stop, not killed.
    let status = made.child(daemon).wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGTERM));
}

#[test]
fn down_with_a_file_removes_the_run_directories_too() {
    common::require_root();
    let _serial = serial();
    let mut made = Leftovers::default();
    let (ended, ended_start) = made.ended_creator();
    let gateway = name("gw");
    made.marked_namespace(&gateway, ended, Some(ended_start));
    let dir = made.run_dir(&gateway);
    // A run directory whose namespace is already gone goes too.
    let gone = name("gone");
    let gone_dir = made.run_dir(&gone);

    let config = std::env::temp_dir().join(format!("{}.yaml", name("lab")));
    made.files.push(config.clone());
    std::fs::write(
        &config,
        format!(
            "vnets:\n  - name: hub\n    address_space: [10.0.0.0/16]\n    location: westeurope\n    \
             subnets:\n      - name: app\n        address_prefixes: [10.0.1.0/24]\n\
             network_interfaces:\n  - name: vm1\n    subnet: hub/app\n    \
             private_ip_address: 10.0.1.4\n    netns: {gateway}\n  - name: vm2\n    \
             subnet: hub/app\n    private_ip_address: 10.0.1.5\n    netns: {gone}\n"
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = vnetd_down(Some(&config));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stdout,
        format!(
            "vnetd: removed namespaces {gateway}\nvnetd: removed {}\nvnetd: removed {}\n",
            dir.display(),
            gone_dir.display()
        )
    );
    assert_eq!(stderr, "");
    assert!(!netns::exists(&gateway));
    assert!(!dir.exists() && !gone_dir.exists());
}
