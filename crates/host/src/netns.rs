//! Named network namespaces, laid out exactly as iproute2 lays them out.
//!
//! A named namespace is a file under [`NETNS_RUN_DIR`] on which a network
//! namespace (`/proc/<tid>/ns/net`) is bind-mounted; the mount keeps the
//! namespace alive with no process in it. `ip netns list` reads that
//! directory and `ip netns exec NAME` opens the file, so both see the
//! namespaces created here, and this module sees theirs.
//!
//! Every namespace created here is marked as ours: a file under
//! [`MARK_DIR`] holds the creating process's pid, the namespace's inode and
//! the creator's start time, so that cleaning up after a crash ([`owner`])
//! removes only namespaces this program made, never one of the same name
//! that someone else made, and never one a live process still uses. The
//! start time tells the creator apart from a later process that was given
//! its pid (see [`super::process`]).
//!
//! Code never moves the caller's thread into a namespace: [`run_in`] runs a
//! closure on a short-lived thread that has `setns`'d into it, and that
//! thread ends with the closure. Everything a thread creates while inside
//! (sockets, netlink connections, `/proc/sys/net` files it opens) belongs to
//! that namespace.

use std::fs::{self, File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

use super::process;

/// Where iproute2 keeps named network namespaces.
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// Where the marks of the namespaces created here live, one file per
/// namespace name.
pub const MARK_DIR: &str = "/run/vnetd/netns";

/// The path of the named namespace `name` (whether or not it exists).
pub fn path_of(name: &str) -> PathBuf {
    Path::new(NETNS_RUN_DIR).join(name)
}

/// Whether this process runs in a mount namespace other than the
/// machine's (PID 1's) or than its parent's, as `ip netns exec`, `unshare
/// -m` or a service's private mounts give it. Namespaces are named by bind
/// mounts under [`NETNS_RUN_DIR`], and mounts made in such a namespace do
/// not reach the one it came from: the namespaces made here are then seen
/// only by processes in this one. In a container, PID 1 is the container's
/// own, whose mounts the caller shares. A namespace that cannot be read
/// (PID 1's, seen from a sandbox) is not compared.
pub fn in_private_mount_namespace() -> bool {
    let mount_ns = |pid: &str| fs::read_link(format!("/proc/{pid}/ns/mnt")).ok();
    let Some(own) = mount_ns("self") else {
        return false;
    };
    let parent = std::os::unix::process::parent_id().to_string();
    [mount_ns("1"), mount_ns(&parent)]
        .into_iter()
        .flatten()
        .any(|other| other != own)
}

/// Refuses names that iproute2 would refuse or that would escape the
/// namespace directory.
fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        bail!("invalid network namespace name {name:?}");
    }
    if name.len() > 255 {
        bail!("network namespace name {name:?} is longer than 255 bytes");
    }
    Ok(())
}

/// Makes sure [`NETNS_RUN_DIR`] exists and is a shared mount point, as
/// `ip netns add` does, so namespace mounts propagate into mount namespaces
/// created later (for example by `ip netns exec`).
fn prepare_run_dir() -> Result<()> {
    static PREPARED: Mutex<bool> = Mutex::new(false);
    let mut prepared = PREPARED
        .lock()
        .map_err(|_| anyhow!("namespace directory setup lock poisoned"))?;
    if *prepared {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(NETNS_RUN_DIR)
        .with_context(|| format!("creating {NETNS_RUN_DIR}"))?;
    let make_shared = || {
        mount(
            None::<&str>,
            NETNS_RUN_DIR,
            None::<&str>,
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        )
    };
    match make_shared() {
        Ok(()) => {}
        // Not a mount point yet: bind it onto itself first, as iproute2 does.
        Err(Errno::EINVAL) => {
            mount(
                Some(NETNS_RUN_DIR),
                NETNS_RUN_DIR,
                Some("none"),
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .with_context(|| format!("bind-mounting {NETNS_RUN_DIR} onto itself"))?;
            make_shared().with_context(|| format!("making {NETNS_RUN_DIR} a shared mount"))?;
        }
        Err(errno) => {
            return Err(errno).with_context(|| format!("making {NETNS_RUN_DIR} a shared mount"))
        }
    }
    *prepared = true;
    Ok(())
}

/// Creates the named network namespace `name`, like `ip netns add NAME`.
///
/// Fails if a namespace of that name already exists: an existing namespace
/// is never taken over.
pub fn create(name: &str) -> Result<()> {
    create_with(name, || Ok(()))
}

/// Creates the named network namespace `name` (as [`create`] does) and runs
/// `work` inside it, on the thread that created it, so the new namespace is
/// entered once and set up in one go. If `work` fails, the namespace is
/// removed again and `work`'s error returned.
pub fn create_with<R, F>(name: &str, work: F) -> Result<R>
where
    F: FnOnce() -> Result<R> + Send,
    R: Send,
{
    validate_name(name)?;
    prepare_run_dir()?;
    let path = path_of(name);
    // create_new is O_EXCL: of two creators of one name, exactly one wins.
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .open(&path)
    {
        Ok(file) => drop(file),
        Err(err) if err.kind() == ErrorKind::AlreadyExists => {
            bail!(
                "network namespace {name} already exists ({})",
                path.display()
            )
        }
        Err(err) => {
            return Err(err).with_context(|| {
                format!(
                    "creating mount point {} for network namespace {name}",
                    path.display()
                )
            })
        }
    }

    // unshare(CLONE_NEWNET) moves only the calling thread, so do it on a
    // thread of its own that ends with `work`.
    let outcome = std::thread::scope(|scope| {
        scope
            .spawn(|| -> Result<Result<R>> {
                let bound = unshare(CloneFlags::CLONE_NEWNET)
                    .context("unshare(CLONE_NEWNET)")
                    .and_then(|()| {
                        mount(
                            Some("/proc/thread-self/ns/net"),
                            &path,
                            None::<&str>,
                            MsFlags::MS_BIND,
                            None::<&str>,
                        )
                        .with_context(|| {
                            format!("bind-mounting the new namespace on {}", path.display())
                        })
                    });
                if let Err(err) = bound {
                    let _ = fs::remove_file(&path);
                    return Err(err.context(format!("creating network namespace {name}")));
                }
                // Marked before any work, so that a crash part-way leaves a
                // namespace that cleaning up knows as ours.
                if let Err(err) = write_mark(name) {
                    let _ = delete(name);
                    return Err(
                        err.context(format!("marking network namespace {name} as created here"))
                    );
                }
                Ok(work())
            })
            .join()
    });
    // The file under NETNS_RUN_DIR is ours since the O_EXCL open above, so
    // after a panic there is nothing foreign to spare.
    let Ok(outcome) = outcome else {
        let _ = delete(name);
        bail!("creating network namespace {name} panicked");
    };
    match outcome? {
        Ok(done) => Ok(done),
        Err(err) => match delete(name) {
            Ok(()) => Err(err),
            Err(cleanup) => Err(err.context(format!("(and removing it failed: {cleanup:#})"))),
        },
    }
}

fn mark_path(name: &str) -> PathBuf {
    Path::new(MARK_DIR).join(name)
}

/// The inode of the namespace mounted at the name: it tells a namespace
/// apart from a later one of the same name.
fn inode_of(name: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path_of(name)).ok().map(|m| m.ino())
}

fn write_mark(name: &str) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(MARK_DIR)
        .with_context(|| format!("creating {MARK_DIR}"))?;
    let inode = inode_of(name).ok_or_else(|| anyhow!("network namespace {name} vanished"))?;
    let mark = mark_path(name);
    let me = process::current();
    fs::write(&mark, format!("{} {inode} {}\n", me.pid, me.start_time))
        .with_context(|| format!("writing {}", mark.display()))
}

/// What a mark says: who created the namespace, and which namespace.
struct Mark {
    pid: u32,
    inode: u64,
    /// The creator's start time; marks written before it was recorded
    /// hold none.
    start_time: Option<u64>,
    /// When the mark was written (its modification time).
    written: Option<std::time::SystemTime>,
}

fn read_mark(name: &str) -> Option<Mark> {
    let path = mark_path(name);
    let text = fs::read_to_string(&path).ok()?;
    let mut fields = text.split_whitespace();
    let pid = fields.next()?.parse().ok()?;
    let inode = fields.next()?.parse().ok()?;
    let start_time = match fields.next() {
        Some(field) => Some(field.parse().ok()?),
        None => None,
    };
    let written = fs::metadata(&path).and_then(|m| m.modified()).ok();
    Some(Mark {
        pid,
        inode,
        start_time,
        written,
    })
}

impl Mark {
    /// Whether the process that wrote the mark still runs, and is not the
    /// caller. A zombie has ended; a pid now held by a process that started
    /// at another time (or, for a mark without a start time, after the
    /// mark was written) is not the creator.
    fn creator_runs_elsewhere(&self) -> bool {
        let me = process::current();
        if self.pid == me.pid {
            return false;
        }
        match (self.start_time, self.written) {
            (Some(start_time), _) => process::is_running(process::Identity {
                pid: self.pid,
                start_time,
            }),
            (None, Some(written)) => process::was_running_at(self.pid, written),
            (None, None) => process::stat(self.pid).is_some_and(|s| !s.has_ended()),
        }
    }
}

/// Who a named namespace belongs to, as far as cleaning up is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// No namespace of that name.
    Absent,
    /// It exists, but was not created here (no mark, or the mark is of an
    /// older namespace of the same name).
    Foreign,
    /// Created here by process `pid`, which is still running (and is not
    /// the caller).
    InUse { pid: u32 },
    /// Created here by a process that has ended (a zombie has; so has a
    /// creator whose pid a later process now holds), or by the caller.
    Ours,
}

/// Who the named namespace `name` belongs to (see [`Owner`]).
pub fn owner(name: &str) -> Owner {
    if !exists(name) {
        return Owner::Absent;
    }
    let Some(mark) = read_mark(name) else {
        return Owner::Foreign;
    };
    if inode_of(name) != Some(mark.inode) {
        return Owner::Foreign;
    }
    if mark.creator_runs_elsewhere() {
        Owner::InUse { pid: mark.pid }
    } else {
        Owner::Ours
    }
}

/// The names that have a mark under [`MARK_DIR`], sorted: every namespace
/// created here that has not been removed, and stale marks.
pub fn marked() -> Result<Vec<String>> {
    let mut names = names_in(MARK_DIR)?;
    names.retain(|name| validate_name(name).is_ok());
    Ok(names)
}

/// The names (in UTF-8) of what `dir` holds, sorted; none when there is
/// no `dir`.
fn names_in(dir: &str) -> Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err).with_context(|| format!("reading {dir}")),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {dir}"))?;
        if let Some(name) = entry.file_name().to_str() {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Removes the mark of `name` when it marks no namespace any more (the
/// namespace is gone, or one of that name was made since) and the process
/// that wrote it has ended. Returns whether it was removed.
pub fn forget_stale_mark(name: &str) -> Result<bool> {
    validate_name(name)?;
    let Some(mark) = read_mark(name) else {
        return Ok(false);
    };
    let marks_namespace = exists(name) && inode_of(name) == Some(mark.inode);
    if marks_namespace || mark.creator_runs_elsewhere() {
        return Ok(false);
    }
    match fs::remove_file(mark_path(name)) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err).with_context(|| format!("removing the mark of {name}")),
    }
}

/// Deletes the named network namespace `name`, like `ip netns delete NAME`:
/// unmounts and removes its file. The namespace itself (with its links) goes
/// away once nothing else holds it: no process inside, no open socket of it.
pub fn delete(name: &str) -> Result<()> {
    validate_name(name)?;
    let path = path_of(name);
    match umount2(&path, MntFlags::MNT_DETACH) {
        // EINVAL: the file is there but nothing is mounted on it (a creation
        // that failed half-way); removing the file is all that is left.
        Ok(()) | Err(Errno::EINVAL) => {}
        Err(Errno::ENOENT) => {
            // Gone behind our back: its mark goes too.
            let _ = fs::remove_file(mark_path(name));
            bail!("network namespace {name} does not exist")
        }
        Err(errno) => {
            return Err(errno).with_context(|| {
                format!("unmounting network namespace {name} ({})", path.display())
            })
        }
    }
    fs::remove_file(&path)
        .with_context(|| format!("removing network namespace file {}", path.display()))?;
    remove_etc(name);
    match fs::remove_file(mark_path(name)) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err).with_context(|| format!("removing the mark of {name}")),
    }
}

/// Where `ip netns exec NAME` finds the files it puts over `/etc`.
pub fn etc_dir_of(name: &str) -> PathBuf {
    Path::new(ETC_NETNS_DIR).join(name)
}

const ETC_NETNS_DIR: &str = "/etc/netns";

/// Writes the `resolv.conf` of the namespace `name` where `ip netns exec`
/// (and `ip netns exec`'s users: dig, curl, getent) reads it:
/// `/etc/netns/NAME/resolv.conf`. [`delete`] removes it with the
/// namespace.
pub fn write_resolv_conf(name: &str, text: &str) -> Result<()> {
    validate_name(name)?;
    let dir = etc_dir_of(name);
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("resolv.conf");
    fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}

/// The system's certificate bundle, which a namespace's own store starts
/// with (Debian's layout, which curl, OpenSSL and Python read).
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// OpenSSL's configuration, which the namespace's store keeps beside its
/// bundle: `ip netns exec` binds the namespace's `ssl` over all of
/// `/etc/ssl`.
const SYSTEM_OPENSSL_CNF: &str = "/etc/ssl/openssl.cnf";

/// Writes a certificate store at `dir`, for namespaces to share: the
/// system's bundle (where there is one) with `extra_pem` after it, as
/// `dir/certs/ca-certificates.crt`, and a copy of the system's
/// `openssl.cnf`, all readable by every user (`ip netns exec` binds the
/// store over all of `/etc/ssl`). Written once per lab: a namespace links
/// to it ([`link_trust_store`]) instead of holding a copy, which for a
/// lab of thousands of VMs was gigabytes written to `/etc`.
pub fn write_shared_trust_store(dir: &Path, extra_pem: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let certs = dir.join("certs");
    fs::create_dir_all(&certs).with_context(|| format!("creating {}", certs.display()))?;
    let mut bundle = match fs::read_to_string(SYSTEM_CA_BUNDLE) {
        Ok(text) => text,
        Err(err) if err.kind() == ErrorKind::NotFound => String::new(),
        Err(err) => return Err(err).with_context(|| format!("reading {SYSTEM_CA_BUNDLE}")),
    };
    if !bundle.is_empty() && !bundle.ends_with('\n') {
        bundle.push('\n');
    }
    bundle.push_str(extra_pem);
    let path = certs.join(TRUST_STORE_FILE);
    fs::write(&path, bundle).with_context(|| format!("writing {}", path.display()))?;
    match fs::copy(SYSTEM_OPENSSL_CNF, dir.join("openssl.cnf")) {
        Ok(_) => {}
        Err(err) if err.kind() == ErrorKind::NotFound => {}
        Err(err) => return Err(err).with_context(|| format!("copying {SYSTEM_OPENSSL_CNF}")),
    }
    for (at, mode) in [
        (dir, 0o755),
        (certs.as_path(), 0o755),
        (path.as_path(), 0o644),
    ] {
        fs::set_permissions(at, fs::Permissions::from_mode(mode))
            .with_context(|| format!("setting the mode of {}", at.display()))?;
    }
    Ok(())
}

/// Gives the namespace `name` the certificate store at `store` (written by
/// [`write_shared_trust_store`]) where `ip netns exec` binds it over
/// `/etc/ssl`: `/etc/netns/NAME/ssl`, a symbolic link to it. A program
/// run in the namespace another way (`setns`, `nsenter`) sees the host's
/// `/etc/ssl`: it is told of the file by `SSL_CERT_FILE` or its own
/// option. [`delete`] removes the link with the namespace; the store
/// stays for its owner to remove.
pub fn link_trust_store(name: &str, store: &Path) -> Result<()> {
    validate_name(name)?;
    let dir = etc_dir_of(name);
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let ssl = dir.join("ssl");
    if fs::symlink_metadata(&ssl).is_ok_and(|m| m.file_type().is_symlink()) {
        let _ = fs::remove_file(&ssl);
    }
    std::os::unix::fs::symlink(store, &ssl)
        .with_context(|| format!("linking {} to {}", ssl.display(), store.display()))
}

/// The bundle's name in the namespace's `ssl/certs`.
const TRUST_STORE_FILE: &str = "ca-certificates.crt";

/// Where a program in the namespace `name` run by `ip netns exec` reads
/// its trusted certificates: `/etc/ssl/certs/ca-certificates.crt`, bound
/// from this file.
pub fn trust_store_of(name: &str) -> PathBuf {
    etc_dir_of(name).join("ssl/certs").join(TRUST_STORE_FILE)
}

/// Removes what [`write_resolv_conf`] and [`link_trust_store`] wrote for
/// `name` (and a copy of the store, as earlier versions wrote it), if
/// anything.
fn remove_etc(name: &str) {
    let dir = etc_dir_of(name);
    let _ = fs::remove_file(dir.join("resolv.conf"));
    let ssl = dir.join("ssl");
    if fs::symlink_metadata(&ssl).is_ok_and(|m| m.file_type().is_symlink()) {
        let _ = fs::remove_file(&ssl);
    }
    let _ = fs::remove_file(ssl.join("certs").join(TRUST_STORE_FILE));
    let _ = fs::remove_file(ssl.join("openssl.cnf"));
    let _ = fs::remove_dir(ssl.join("certs"));
    let _ = fs::remove_dir(&ssl);
    // Only when empty: files someone else put there stay.
    let _ = fs::remove_dir(&dir);
}

/// Whether a named network namespace `name` exists.
pub fn exists(name: &str) -> bool {
    validate_name(name).is_ok() && path_of(name).exists()
}

/// The names of all named network namespaces, sorted (like `ip netns list`).
pub fn list() -> Result<Vec<String>> {
    names_in(NETNS_RUN_DIR)
}

/// The processes whose network namespace is the named namespace `name`
/// (as `ip netns pids NAME` lists them), sorted.
pub fn processes_in(name: &str) -> Result<Vec<u32>> {
    use std::os::unix::fs::MetadataExt;
    validate_name(name)?;
    let target =
        fs::metadata(path_of(name)).with_context(|| format!("network namespace {name}"))?;
    let mut pids = Vec::new();
    for (pid, dir) in crate::process::listed::<u32>().context("reading /proc")? {
        // A process that ends meanwhile (or a zombie) has no namespace.
        let Ok(ns) = fs::metadata(dir.join("ns/net")) else {
            continue;
        };
        if ns.dev() == target.dev() && ns.ino() == target.ino() {
            pids.push(pid);
        }
    }
    pids.sort_unstable();
    Ok(pids)
}

/// Runs `work` inside the named network namespace `name` and returns what it
/// returns.
///
/// `work` runs on a new thread that joins the namespace with `setns` and ends
/// when `work` returns; the caller's thread never changes namespace. A panic
/// in `work` is reported as an error.
pub fn run_in<R, F>(name: &str, work: F) -> Result<R>
where
    F: FnOnce() -> Result<R> + Send,
    R: Send,
{
    validate_name(name)?;
    let path = path_of(name);
    let namespace = File::open(&path)
        .with_context(|| format!("opening network namespace {name} ({})", path.display()))?;
    std::thread::scope(|scope| {
        scope
            .spawn(|| -> Result<R> {
                setns(&namespace, CloneFlags::CLONE_NEWNET)
                    .with_context(|| format!("entering network namespace {name}"))?;
                work()
            })
            .join()
            .unwrap_or_else(|_| Err(anyhow!("work inside network namespace {name} panicked")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_escape_the_directory_are_refused() {
        for bad in ["", ".", "..", "a/b", "../etc", "nul\0byte"] {
            assert!(validate_name(bad).is_err(), "{bad:?} accepted");
            assert!(!exists(bad));
        }
        assert!(validate_name(&"x".repeat(256)).is_err());
        assert!(validate_name("vnetd-hub_1.a").is_ok());
    }

    #[test]
    fn paths_follow_iproute2() {
        assert_eq!(path_of("nva1"), Path::new("/run/netns/nva1"));
    }
}
