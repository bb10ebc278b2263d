//! The fabric's programs and maps loaded on their own: no namespace, no
//! device, nothing attached. The kernel runs the programs on packets given
//! to it (`BPF_PROG_RUN`), so that the tests of `tests/bpf/` can check
//! what `bpf/fabric.h` does with each packet, and what it counts, through
//! the same maps and the same [`Fabric`] methods the daemon uses.

use std::net::Ipv4Addr;

use anyhow::Result;
use aya::programs::{TestRunOptions, TestRunResult};

use super::loaded::{load, lock, Fabric};

/// Ports the tests' maps hold at most.
const TEST_PORTS: u32 = 64;

/// The programs and maps of a fabric that has no namespace: flows are
/// installed, removed and counted through [`FabricPrograms::fabric`], the
/// ports' entries written as [`Fabric::plumb_port_here`] writes them, and
/// each program run on one packet at a time.
#[doc(hidden)]
pub struct FabricPrograms {
    fabric: Fabric,
}

impl std::fmt::Debug for FabricPrograms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FabricPrograms")
            .field("fabric", &self.fabric)
            .finish()
    }
}

impl Fabric {
    /// Loads the programs with room for `capacity` flow entries, as
    /// [`Fabric::create`] does, but creates no namespace and attaches
    /// nothing.
    #[doc(hidden)]
    pub fn load_for_test(capacity: u32) -> Result<FabricPrograms> {
        let capacity = capacity.max(1);
        // No name a namespace can have: dropping the fabric removes no
        // namespace.
        let loaded = load(capacity, TEST_PORTS)?;
        Ok(FabricPrograms {
            fabric: Fabric::from_loaded(String::new(), loaded, capacity),
        })
    }
}

impl FabricPrograms {
    /// The fabric whose maps the programs use.
    pub fn fabric(&self) -> &Fabric {
        &self.fabric
    }

    /// Puts a port on the fabric's maps as [`Fabric::plumb_port_here`]
    /// does: `host_end` (whose slow path is `tun`) and `tun` (whose packets
    /// leave by `host_end` to an `eth0` of address `mac` and MTU `mtu`). A
    /// `host_end` that is no device of the calling thread's namespace is a
    /// port whose `eth0` is gone (deleted, its host end with it). Returns
    /// the port's index (in `port_counters` and `port_generations`).
    pub fn add_port(&self, host_end: u32, tun: u32, mac: [u8; 6], mtu: u16) -> Result<u32> {
        let index = self.fabric.register(host_end, tun, mac, mtu, false)?;
        let number = self
            .fabric
            .next_port
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        lock(&self.fabric.live).insert(number, host_end);
        Ok(index)
    }

    /// Trusts the hosts `hosts` (their underlay addresses), as the
    /// underlay of a lab over several hosts does: the tunnel's entries
    /// carry only to them, and `from_tunnel` takes frames only from them.
    pub fn trust(&self, hosts: &[Ipv4Addr]) -> Result<()> {
        self.fabric.programs.trust(hosts)
    }

    /// Runs the program `name` (`from_port`, `from_daemon` or
    /// `from_tunnel`) once, as `options` say.
    pub fn run(&self, name: &str, options: TestRunOptions<'_>) -> Result<TestRunResult> {
        self.fabric.programs.test_run(name, options)
    }
}
