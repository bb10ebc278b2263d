//! `vnetd down`: what a crashed `run` left on this machine, removed: the
//! lab's namespaces with the routing and DNS daemons still running there
//! and their run directories, and, for a spread lab's machine, the VXLAN device and
//! the host mesh's speaker it left in the machine's own namespace.

use super::{hybrid, mesh};
use crate::daemon::forwarding::plane::namespace_names;
use crate::host::{cleanup_marked, cleanup_named};
use crate::topology::Topology;
use anyhow::Result;

/// Where the daemons a lab runs in its namespaces keep their files, one
/// directory per namespace: the routing daemons', the DNS servers', and
/// the lab's CA certificate (under its first namespace's name).
const RUN_DIRS: [&str; 3] = [
    hybrid::RUN_DIR,
    crate::daemon::options::DNS_SERVERS_RUN_DIR,
    crate::daemon::options::TLS_RUN_DIR,
];

/// Removes the namespaces a topology's lab created and a crash left behind,
/// with the routing daemons still running there and their run directories;
/// namespaces of those names that vnetd did not create, or that a running
/// vnetd still uses, are left alone and listed.
pub fn down(topology: &Topology) -> Result<crate::host::Leftovers> {
    let mut done = cleanup_named(
        &namespace_names(topology),
        &RUN_DIRS.map(std::path::Path::new),
    )?;
    // A spread lab's machine without offload keeps its VXLAN device in
    // its own namespace, where no namespace removal takes it.
    if topology.placement.local.is_some() && crate::host::underlay::Underlay::remove_leftover()? {
        done.removed_devices
            .push(crate::host::underlay::VXLAN_DEVICE.to_string());
    }
    for pid in mesh::stop_leftover(topology)? {
        done.stopped.push(crate::host::StoppedProcess {
            name: "gobgpd (the host mesh)".to_string(),
            pid,
            namespace: "the host's own".to_string(),
        });
    }
    Ok(done)
}

/// Removes every namespace any crashed vnetd created, whatever its file,
/// as [`down`] does; namespaces whose creator still runs are listed.
pub fn down_all() -> Result<crate::host::Leftovers> {
    cleanup_marked(&RUN_DIRS.map(std::path::Path::new))
}
