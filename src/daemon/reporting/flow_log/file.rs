//! Where flow logs go and how they are written: Azure's blob path
//! (`resourceId=/SUBSCRIPTIONS/.../y=/m=/d=/h=/m=00/macAddress=/PT1H.json`)
//! under the flow-log directory, and an append that never follows a
//! symbolic link planted in that path.

use super::calendar::UtcTime;
use super::format::{nsg_resource_id, Record};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The blob path of an NSG's hourly file for one MAC, under `dir`.
pub fn log_path(dir: &Path, nsg: &str, mac: &str, unix_s: u64) -> PathBuf {
    hourly_blob(dir.to_path_buf(), &nsg_resource_id(nsg), unix_s)
        .join(format!("macAddress={mac}"))
        .join("PT1H.json")
}

/// `under/resourceId=/<the resource ID's parts>/y=…/m=…/d=…/h=…/m=00`: the
/// hourly folder Azure writes a resource's logs of `unix_s` to.
pub fn hourly_blob(under: PathBuf, resource_id: &str, unix_s: u64) -> PathBuf {
    keyed_hourly_blob(under, "resourceId=", resource_id, unix_s)
}

/// [`hourly_blob`] with the resource ID under another key
/// (`flowLogResourceID=` for the VNet flow logs).
pub fn keyed_hourly_blob(under: PathBuf, key: &str, resource_id: &str, unix_s: u64) -> PathBuf {
    let t = UtcTime::from_unix_seconds(unix_s);
    let mut path = under.join(key);
    for part in resource_id.split('/').filter(|p| !p.is_empty()) {
        path.push(part);
    }
    path.join(format!("y={:04}", t.year))
        .join(format!("m={:02}", t.month))
        .join(format!("d={:02}", t.day))
        .join(format!("h={:02}", t.hour))
        .join("m=00")
}

/// Appends `record` to the `{"records":[...]}` document at `path` (created
/// if missing), replacing the file atomically. `path` lies under `root`
/// (`--flow-log-dir`), and nothing below `root` is followed if it is a
/// symbolic link: every directory is opened relative to its parent with
/// `O_NOFOLLOW` (and created with `mkdirat`, mode 0750), the file is read
/// with `O_NOFOLLOW`, written as a new 0640 file with `O_EXCL`, and renamed
/// into place, which replaces a link rather than writing through it. A link
/// planted anywhere in the blob path is refused with an error, and nothing
/// is written outside `root`.
pub fn append_record(root: &Path, path: &Path, record: &Record) -> Result<()> {
    append_records(root, path, std::slice::from_ref(record))
}

/// [`append_record`] for several records of any shape (the firewall's
/// network rule log shares the document and the link-safe write).
pub fn append_records<R: serde::Serialize>(root: &Path, path: &Path, new: &[R]) -> Result<()> {
    use nix::errno::Errno;
    use nix::fcntl::{open, openat, renameat, OFlag};
    use nix::sys::stat::{mkdirat, Mode};
    use nix::unistd::{unlinkat, UnlinkatFlags};
    use std::io::{Read, Write};
    use std::os::fd::OwnedFd;

    let rel = path
        .strip_prefix(root)
        .with_context(|| format!("{} is not under {}", path.display(), root.display()))?;
    let (Some(file_name), Some(dirs)) = (rel.file_name(), rel.parent()) else {
        anyhow::bail!("{} names no file", path.display());
    };
    let dir_flags = OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_RDONLY;
    std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    // The root itself is the user's choice, link or not.
    let mut dir: OwnedFd = open(root, OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .with_context(|| format!("opening {}", root.display()))?;
    let mut walked = root.to_path_buf();
    for part in dirs.components() {
        let name = part.as_os_str();
        walked.push(name);
        match mkdirat(&dir, name, Mode::from_bits_truncate(0o750)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e).with_context(|| format!("creating {}", walked.display())),
        }
        dir = openat(&dir, name, dir_flags, Mode::empty()).map_err(|e| {
            let why = if e == Errno::ELOOP || e == Errno::ENOTDIR {
                " (a symbolic link or not a directory: refused)".to_string()
            } else {
                String::new()
            };
            anyhow::anyhow!("opening {}: {e}{why}", walked.display())
        })?;
    }
    let file_flags = OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mut document = match openat(&dir, file_name, file_flags | OFlag::O_RDONLY, Mode::empty()) {
        Ok(fd) => {
            let mut bytes = Vec::new();
            std::fs::File::from(fd)
                .read_to_end(&mut bytes)
                .with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .filter(|v| v.get("records").is_some_and(|r| r.is_array()))
                .with_context(|| format!("{} is not a flow-log document", path.display()))?
        }
        Err(Errno::ENOENT) => serde_json::json!({ "records": [] }),
        Err(e) => {
            return Err(anyhow::anyhow!(
                "reading {}: {e}{}",
                path.display(),
                if e == Errno::ELOOP {
                    " (a symbolic link: refused)"
                } else {
                    ""
                }
            ))
        }
    };
    if let Some(records) = document.get_mut("records").and_then(|r| r.as_array_mut()) {
        for record in new {
            records.push(serde_json::to_value(record)?);
        }
    }
    let mut partial_name = file_name.to_os_string();
    partial_name.push(".partial");
    let partial = partial_name.as_os_str();
    // A leftover (or planted) partial file or link is removed, never
    // followed.
    match unlinkat(&dir, partial, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(e).with_context(|| format!("removing {:?}", partial)),
    }
    let fd = openat(
        &dir,
        partial,
        file_flags | OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
        Mode::from_bits_truncate(0o640),
    )
    .with_context(|| format!("creating {}.partial", path.display()))?;
    std::fs::File::from(fd)
        .write_all(&serde_json::to_vec(&document)?)
        .with_context(|| format!("writing {}.partial", path.display()))?;
    renameat(&dir, partial, &dir, file_name)
        .with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::reporting::flow_log::format::record;

    #[test]
    fn blob_path_follows_azure_layout() {
        let path = log_path(
            Path::new("/logs"),
            "spoke2-app-nsg",
            "000D3A000003",
            1_542_110_435,
        );
        assert_eq!(
            path,
            PathBuf::from(
                "/logs/resourceId=/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/VNETD/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/SPOKE2-APP-NSG/y=2018/m=11/d=13/h=12/m=00/macAddress=000D3A000003/PT1H.json"
            )
        );
    }

    #[test]
    fn records_are_appended_to_the_document() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let path = dir.join("a/PT1H.json");
        let tuples = vec![("UserRule_a".to_string(), "t1".to_string())];
        append_record(&dir, &path, &record(0, "n", "000D3A000001", &tuples)).unwrap();
        append_record(&dir, &path, &record(1000, "n", "000D3A000001", &tuples)).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["records"].as_array().unwrap().len(), 2);
        assert_eq!(v["records"][1]["time"], "1970-01-01T00:00:01.0000000Z");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A link planted where the file, its temporary file or a directory of
    /// the blob path goes never makes the logger write through it.
    #[test]
    fn planted_symlinks_are_never_followed() {
        use std::os::unix::fs::symlink;
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().to_path_buf();
        let _ = std::fs::remove_dir_all(&base);
        let (root, outside) = (base.join("logs"), base.join("outside"));
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let precious = outside.join("shadow");
        std::fs::write(&precious, "secret\n").unwrap();
        let tuples = vec![("UserRule_a".to_string(), "t1".to_string())];
        let rec = record(0, "n", "000D3A000001", &tuples);

        // The file itself is a link: refused, the target untouched.
        let path = root.join("a/PT1H.json");
        symlink(&precious, &path).unwrap();
        let err = append_record(&root, &path, &rec).unwrap_err();
        assert!(
            format!("{err:#}").contains("a symbolic link: refused"),
            "{err:#}"
        );
        assert_eq!(std::fs::read_to_string(&precious).unwrap(), "secret\n");
        std::fs::remove_file(&path).unwrap();

        // Its temporary file is a link: removed and replaced, not followed.
        symlink(&precious, root.join("a/PT1H.json.partial")).unwrap();
        append_record(&root, &path, &rec).unwrap();
        assert_eq!(std::fs::read_to_string(&precious).unwrap(), "secret\n");
        assert!(!std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_symlink());

        // A directory of the blob path is a link out of the root: refused,
        // nothing written outside.
        symlink(&outside, root.join("b")).unwrap();
        let err = append_record(&root, &root.join("b/c/PT1H.json"), &rec).unwrap_err();
        assert!(
            format!("{err:#}").contains("a symbolic link or not a directory"),
            "{err:#}"
        );
        let outside_now: Vec<_> = std::fs::read_dir(&outside)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(outside_now, vec![std::ffi::OsString::from("shadow")]);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
