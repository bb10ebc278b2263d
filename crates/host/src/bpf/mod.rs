//! The crate's one BPF object and its one loader.
//!
//! `build.rs` compiles `bpf/vnetd.bpf.c` into one object, which the crate
//! embeds: the fabric's tc programs (`from_port`, `from_daemon`,
//! `from_tunnel`: [`super::fabric`]) and the underlay's (`to_underlay`,
//! `from_underlay`: [`super::underlay`]), with every map they use.
//! [`Programs::load`] makes every map of the object, each side sizing its
//! own (the other side's keep the object's smallest sizes), and loads a
//! program into the kernel the first time it is asked for, so that a
//! fabric alone has only its programs verified and an underlay alone only
//! its own. Maps are found by name and taken once ([`Programs::take_map`]),
//! programs by name ([`Programs::program`]); [`tc`] attaches them.
//!
//! On a host with both, the fabric and the underlay share one load (the
//! underlay is opened over [`super::fabric::Fabric::programs`]), and with
//! it the one map both read: the other hosts the underlay trusts
//! ([`Programs::trust`]). The fabric's `from_tunnel`, which runs before the
//! underlay's `from_underlay` on the frames other hosts send, so trusts at
//! every moment exactly whom the underlay trusts: a frame the underlay
//! would refuse never takes the fast path, whoever changed the trusted set
//! and whenever.
//!
//! Everything goes through aya's safe API: maps and programs live as long
//! as their file descriptors (the programs also as long as a filter
//! refers to them), and nothing is pinned.

pub mod tc;

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{bail, Context, Result};
use aya::maps::{HashMap as BpfHashMap, Map, MapData, MapError};
use aya::programs::{SchedClassifier, TestRun, TestRunOptions, TestRunResult};
use aya::{Ebpf, EbpfLoader};

/// The object, as `build.rs` compiled it (empty when it could not).
const OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/vnetd.bpf.o"));

/// Why `build.rs` left [`OBJECT`] empty ("" when it did not).
const UNBUILT: &str = env!("VNETD_BPF_UNBUILT");

/// Why this build has no BPF programs (vnetd was built without a clang
/// that targets BPF), if so: no kernel fast path, no underlay.
pub fn unbuilt() -> Option<&'static str> {
    (OBJECT.is_empty() || !UNBUILT.is_empty()).then_some(UNBUILT)
}

/// The object `build.rs` compiled (an ELF file with its BTF), as embedded
/// in vnetd: what the tests read the maps' layouts from.
#[doc(hidden)]
pub fn object() -> &'static [u8] {
    OBJECT
}

/// The underlay addresses (host order) of the trusted hosts; the value is
/// unused.
type TrustedMap = BpfHashMap<MapData, u32, u8>;

/// The object, loaded: every map made, each program loaded into the kernel
/// once asked for.
pub struct Programs {
    programs: Mutex<Ebpf>,
    /// The trusted hosts, which every program of the object reads.
    trusted: Mutex<TrustedMap>,
}

impl std::fmt::Debug for Programs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Programs").finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Programs {
    /// Loads the object: makes every map, map `name` with `entries` entries
    /// for each `(name, entries)` of `sizes`, the others as the object
    /// defines them; then loads each program of `programs` into the
    /// kernel, so that one the kernel refuses fails here rather than at
    /// its first use. Fails where the build or the kernel lacks what it
    /// needs.
    pub fn load(sizes: &[(&str, u32)], programs: &[&str]) -> Result<Arc<Programs>> {
        if let Some(reason) = unbuilt() {
            bail!("{reason}");
        }
        let mut loader = EbpfLoader::new();
        for (name, entries) in sizes {
            loader.map_max_entries(name, *entries);
        }
        let mut loaded = loader.load(OBJECT).context("loading vnetd's BPF object")?;
        let trusted = take(&mut loaded, "trusted")?;
        let loaded = Programs {
            programs: Mutex::new(loaded),
            trusted: Mutex::new(trusted),
        };
        for name in programs {
            loaded.program(name)?;
        }
        Ok(Arc::new(loaded))
    }

    /// The map `name`, as a map of type `M`; each map is taken once (by the
    /// side that reads and writes it).
    pub fn take_map<M>(&self, name: &str) -> Result<M>
    where
        M: TryFrom<Map, Error = MapError>,
    {
        take(&mut lock(&self.programs), name)
    }

    /// The descriptor of the tc program `name` (`cls_bpf`, direct action),
    /// loaded into the kernel at the first call. It stays valid as long as
    /// these programs.
    pub fn program(&self, name: &str) -> Result<RawFd> {
        let mut programs = lock(&self.programs);
        let classifier = classifier(&mut programs, name)?;
        Ok(classifier.fd()?.as_fd().as_raw_fd())
    }

    /// Runs the tc program `name` once as `options` say (`BPF_PROG_RUN`),
    /// on no device: what the tests and benchmarks give the kernel to run.
    #[doc(hidden)]
    pub fn test_run(&self, name: &str, options: TestRunOptions<'_>) -> Result<TestRunResult> {
        let mut programs = lock(&self.programs);
        classifier(&mut programs, name)?
            .test_run(options)
            .with_context(|| format!("running {name} on a packet (BPF_PROG_RUN)"))
    }

    /// The other hosts whose frames are taken, and the only ones frames
    /// are sent to, by underlay address: by the underlay's programs and
    /// by the fabric's way between hosts alike. Replaces the whole set.
    pub fn trust(&self, hosts: &[Ipv4Addr]) -> Result<()> {
        let mut map = lock(&self.trusted);
        let wanted: HashSet<u32> = hosts.iter().map(|a| u32::from(*a)).collect();
        for address in &wanted {
            map.insert(*address, 1, 0)
                .with_context(|| format!("trusting {}", Ipv4Addr::from(*address)))?;
        }
        remove_all_but(&mut map, &wanted);
        Ok(())
    }
}

/// Removes from `map` every key that is not in `wanted`. A key removed
/// meanwhile by someone else is gone as wanted.
pub(crate) fn remove_all_but<K, V>(map: &mut BpfHashMap<MapData, K, V>, wanted: &HashSet<K>)
where
    K: aya::Pod + Eq + std::hash::Hash,
    V: aya::Pod,
{
    let stale: Vec<K> = (map.keys())
        .filter_map(|key| key.ok())
        .filter(|key| !wanted.contains(key))
        .collect();
    for key in stale {
        let _ = map.remove(&key);
    }
}

/// The map `name` of `programs`, taken out of it as a map of type `M`.
fn take<M>(programs: &mut Ebpf, name: &str) -> Result<M>
where
    M: TryFrom<Map, Error = MapError>,
{
    let map = programs
        .take_map(name)
        .with_context(|| format!("vnetd's BPF object has no map {name} (or it was taken)"))?;
    M::try_from(map).with_context(|| format!("the map {name} is not of the type vnetd reads"))
}

/// The tc program `name` of `programs`, loaded into the kernel.
fn classifier<'a>(programs: &'a mut Ebpf, name: &str) -> Result<&'a mut SchedClassifier> {
    let classifier: &mut SchedClassifier = programs
        .program_mut(name)
        .with_context(|| format!("vnetd's BPF object has no program {name}"))?
        .try_into()?;
    if classifier.fd().is_err() {
        classifier
            .load()
            .with_context(|| format!("loading the tc program {name} (cls_bpf, direct action)"))?;
    }
    Ok(classifier)
}
