//! An instance's run directory: made root's alone, refused when a name
//! it is made of would lead it out of vnetd's directories, and removed
//! with the instance's files.

use std::path::Path;

use anyhow::{Context, Result};

/// Creates `dir` (and its parents), root's alone (mode 0700: its
/// configurations, sockets and logs are nobody else's to read; a driver
/// whose daemon drops privileges hands it to the daemon's user). `dir` is
/// made of names (a lab's, a host's, a namespace's), so it must be an
/// absolute path that never climbs (`..`): a name that would lead a
/// routing daemon's files out of vnetd's directories is refused here,
/// whatever checked it before.
pub(crate) fn create_run_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    check_run_dir(dir)?;
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            return Err(e).with_context(|| format!("creating {}", dir.display()))
        }
        _ => {}
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making {} root's alone", dir.display()))
}

/// Refuses a run directory that is relative or climbs out of its parent.
pub(crate) fn check_run_dir(dir: &Path) -> Result<()> {
    use std::path::Component;
    let plain = dir.is_absolute()
        && dir
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)))
        && !dir.as_os_str().as_encoded_bytes().contains(&0);
    if !plain {
        anyhow::bail!(
            "{} is not a plain directory under vnetd's own: a name it is made of holds `..`, \
             `/` or NUL",
            dir.display()
        );
    }
    Ok(())
}

/// Removes the listed files of an instance, ignoring missing ones, and the
/// run directory itself if that leaves it empty.
pub(crate) fn remove_files(dir: &Path, names: &[&str]) {
    for name in names {
        let _ = std::fs::remove_file(dir.join(name));
    }
    let _ = std::fs::remove_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_directory_never_climbs_out_of_its_parent() {
        for refused in [
            "/run/vnetd-bgp/../../x",
            "/run/vnetd-bgp/mesh-../../../x",
            "/run/vnetd-bgp/..",
            "run/vnetd-bgp/h1",
            "/run/vnetd-bgp/a\0b",
        ] {
            let dir = Path::new(refused);
            assert!(check_run_dir(dir).is_err(), "{refused:?} was accepted");
            assert!(create_run_dir(dir).is_err(), "{refused:?} was created");
        }
        for accepted in ["/run/vnetd-bgp/lab-mesh-h1", "/run/vnetd-bgp/a..b"] {
            check_run_dir(Path::new(accepted)).unwrap();
        }
    }
}
