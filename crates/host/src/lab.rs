//! An owner for a set of namespaces, each with a TUN `eth0`, that removes
//! everything it created when it is torn down or dropped.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Context, Result};
use ipnet::IpNet;

use super::fabric::{Fabric, FabricPort};
use super::held_files::HeldFiles;
use super::interface::InterfaceConfig;
use super::netns;
use super::ops::{HostOps, LinuxHost};
use super::tun::{Offloads, TunDevice, TunOptions, TunQueue};

mod leftovers;
pub use leftovers::{cleanup_leftovers, cleanup_marked, cleanup_named, Leftovers, StoppedProcess};

/// Name of the TUN interface inside every namespace.
pub const INTERFACE_NAME: &str = "eth0";

/// MTU used when a spec does not say otherwise.
pub const DEFAULT_MTU: u32 = 1500;

/// One namespace to build: its name and how its `eth0` is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceSpec {
    /// Name of the network namespace (as in `ip netns`).
    pub name: String,
    /// MTU of `eth0`.
    pub mtu: u32,
    /// Addresses of `eth0` with their prefix lengths.
    pub addresses: Vec<IpNet>,
    /// Default gateways, at most one per address family.
    pub gateways: Vec<IpAddr>,
    /// Prefixes routed straight out of the interface, with no gateway
    /// (`ip route add PREFIX dev eth0`): a TUN is point to point, so what
    /// is handed to it reaches the far end without a next-hop address.
    /// `0.0.0.0/0` here is a default route through the device.
    pub device_routes: Vec<IpNet>,
    /// Number of TUN queues (one per worker thread).
    pub queues: usize,
    /// Open the queues in non-blocking mode.
    pub nonblocking: bool,
    /// The namespace forwards packets (a router): IPv4 and IPv6 forwarding.
    pub forwarding: bool,
    /// Name of the TUN interface inside the namespace.
    pub interface: String,
    /// The namespace is made and removed by someone else (a router holding
    /// several TUN devices): only the interface belongs to this spec, and
    /// removing it leaves the namespace.
    pub existing_namespace: bool,
    /// Where the lab has a [`Fabric`], `eth0` is a veth on it and the TUN
    /// device is the port's slow path there (see [`super::fabric`]).
    pub on_fabric: bool,
    /// What the interface may send, in megabits per second: a token
    /// bucket filter as its root qdisc (see [`super::shaping`]).
    pub egress_limit_mbps: Option<u32>,
    /// Source-translate what leaves the interface for IPv4 destinations
    /// outside these prefixes to the interface's address (see
    /// [`super::nat`]); `None`: no translation.
    pub masquerade_except: Option<Vec<IpNet>>,
    /// Destination translations, applied with the source translation
    /// above (see [`super::nat`]).
    pub dnat: super::nat::DestinationNats,
    /// The namespace's `resolv.conf`, written where `ip netns exec` reads
    /// it (see [`super::netns::write_resolv_conf`]); `None`: none.
    pub resolv_conf: Option<String>,
    /// The namespace holds every address its routes do not send
    /// elsewhere, with default listeners (see [`super::every_address`]);
    /// `None`: only its own.
    pub every_address: Option<super::every_address::EveryAddress>,
    /// The certificate store the namespace's programs trust (the system's
    /// and the lab's CA), linked where `ip netns exec` reads it (see
    /// [`super::netns::link_trust_store`]): the directory of a store
    /// written once for the lab ([`super::netns::write_shared_trust_store`]);
    /// `None`: the host's store.
    pub trust_store: Option<Arc<Path>>,
    /// TCP it would forward to some ports goes to a local listener
    /// instead (see [`super::intercept`]); `None`: nothing is taken.
    pub intercept: Option<super::intercept::Intercept>,
}

impl NamespaceSpec {
    /// A namespace with an `eth0` of [`DEFAULT_MTU`], no address, no
    /// gateway, one blocking queue.
    pub fn new(name: impl Into<String>) -> Self {
        NamespaceSpec {
            name: name.into(),
            mtu: DEFAULT_MTU,
            addresses: Vec::new(),
            gateways: Vec::new(),
            device_routes: Vec::new(),
            queues: 1,
            nonblocking: false,
            forwarding: false,
            interface: INTERFACE_NAME.to_string(),
            existing_namespace: false,
            on_fabric: false,
            egress_limit_mbps: None,
            masquerade_except: None,
            dnat: super::nat::DestinationNats::default(),
            resolv_conf: None,
            every_address: None,
            trust_store: None,
            intercept: None,
        }
    }

    /// A TUN `interface` to add to the namespace `name`, which someone else
    /// made.
    pub fn interface_in(name: impl Into<String>, interface: impl Into<String>) -> Self {
        NamespaceSpec {
            interface: interface.into(),
            existing_namespace: true,
            ..NamespaceSpec::new(name)
        }
    }

    /// What names this spec in a [`HostLab`]: the namespace, or for an
    /// interface in a namespace made elsewhere, `namespace/interface`.
    pub fn key(&self) -> String {
        if self.existing_namespace {
            format!("{}/{}", self.name, self.interface)
        } else {
            self.name.clone()
        }
    }

    /// The first host address of the prefix of the first address of each
    /// family (`10.1.2.4/24` gives `10.1.2.1`, `fd00::4/64` gives `fd00::1`),
    /// the usual choice of gateway.
    pub fn first_host_gateways(&self) -> Vec<IpAddr> {
        let mut gateways = Vec::new();
        let first_v4 = self.addresses.iter().find(|a| a.addr().is_ipv4());
        let first_v6 = self.addresses.iter().find(|a| a.addr().is_ipv6());
        for address in [first_v4, first_v6].into_iter().flatten() {
            if let Some(gateway) = address.hosts().find(|h| *h != address.network()) {
                gateways.push(gateway);
            }
        }
        gateways
    }
}

/// A namespace the lab built, with the TUN device behind its `eth0`.
#[derive(Debug)]
pub struct PlumbedNamespace {
    spec: NamespaceSpec,
    tun: TunDevice,
    /// The port's place on the fabric, for a namespace plumbed there.
    fabric_port: Option<FabricPort>,
}

impl PlumbedNamespace {
    /// Name of the network namespace.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The spec it was built from.
    pub fn spec(&self) -> &NamespaceSpec {
        &self.spec
    }

    /// The TUN device behind `eth0`.
    pub fn tun(&self) -> &TunDevice {
        &self.tun
    }

    /// Where the namespace's `eth0` is on the fabric, if it is.
    pub fn fabric_port(&self) -> Option<&FabricPort> {
        self.fabric_port.as_ref()
    }

    /// The queues of the TUN device still held by the lab.
    pub fn queues(&self) -> &[TunQueue] {
        self.tun.queues()
    }

    /// The offloads the kernel accepted for this TUN device.
    /// Hands over the TUN queues (empty once taken).
    pub fn take_queues(&mut self) -> Vec<TunQueue> {
        self.tun.take_queues()
    }

    pub fn offloads(&self) -> Offloads {
        self.tun.offloads()
    }
}

/// Owns a set of namespaces, each with a TUN `eth0`, and removes them all on
/// [`teardown`](HostLab::teardown) or drop.
///
/// Removing a namespace removes its name at once; the namespace itself,
/// with its `eth0` (a persistent TUN device), goes when the last queue
/// handed out with [`take_queues`](HostLab::take_queues) is closed, and the
/// kernel then removes the devices of many namespaces in one batch.
#[derive(Debug)]
pub struct HostLab {
    namespaces: Vec<PlumbedNamespace>,
    /// What it builds and removes namespaces with.
    ops: Arc<dyn HostOps>,
    /// The fabric the specs that ask for it are plumbed on.
    fabric: Option<Arc<Fabric>>,
}

impl HostLab {
    /// Builds every namespace in `specs`. On error, whatever was already
    /// built is removed again, and no namespace that existed before is
    /// touched (an existing name is an error).
    pub fn build(specs: &[NamespaceSpec]) -> Result<HostLab> {
        Self::build_with(Arc::new(LinuxHost), specs)
    }

    /// [`HostLab::build`] through `ops`, which the lab keeps for every
    /// later namespace it adds or removes.
    pub fn build_with(ops: Arc<dyn HostOps>, specs: &[NamespaceSpec]) -> Result<HostLab> {
        Self::build_on(ops, None, specs)
    }

    /// [`HostLab::build_with`], with the specs that ask for it plumbed on
    /// `fabric` (every spec on its own TUN `eth0` when there is none).
    pub fn build_on(
        ops: Arc<dyn HostOps>,
        fabric: Option<Arc<Fabric>>,
        specs: &[NamespaceSpec],
    ) -> Result<HostLab> {
        let mut seen = HashSet::new();
        for spec in specs {
            if !seen.insert(spec.key()) {
                bail!("network namespace {} is listed twice", spec.key());
            }
        }
        let mut built = build_in_parallel(&*ops, fabric.as_ref(), specs);
        built.sort_by_key(|(at, _)| *at);
        let mut lab = HostLab {
            namespaces: Vec::with_capacity(specs.len()),
            ops,
            fabric,
        };
        let mut first_failure = None;
        for (_, outcome) in built {
            match outcome {
                Ok(plumbed) => lab.namespaces.push(plumbed),
                Err(err) => {
                    first_failure.get_or_insert(err);
                }
            }
        }
        match first_failure {
            // `lab` drops here and removes what was built.
            Some(err) => Err(err),
            None => Ok(lab),
        }
    }

    /// The namespaces built, in spec order.
    pub fn namespaces(&self) -> &[PlumbedNamespace] {
        &self.namespaces
    }

    /// The namespaces built, in spec order, to take their queues.
    pub fn namespaces_mut(&mut self) -> &mut [PlumbedNamespace] {
        &mut self.namespaces
    }

    /// The namespace (or interface) whose spec's [`NamespaceSpec::key`]
    /// is `key`, if the lab built it.
    pub fn namespace(&self, key: &str) -> Option<&PlumbedNamespace> {
        self.namespaces.iter().find(|n| n.spec.key() == key)
    }

    /// Hands over the TUN queues of the namespace (or interface) `key`
    /// (empty once taken).
    pub fn take_queues(&mut self, key: &str) -> Option<Vec<TunQueue>> {
        self.namespaces
            .iter_mut()
            .find(|n| n.spec.key() == key)
            .map(|n| n.tun.take_queues())
    }

    /// Builds one more namespace (an existing name is an error).
    pub fn add(&mut self, spec: &NamespaceSpec) -> Result<&mut PlumbedNamespace> {
        if self.namespace(&spec.key()).is_some() {
            bail!(
                "network namespace {} is already part of the lab",
                spec.key()
            );
        }
        let plumbed = build_one(&*self.ops, self.fabric.as_ref(), spec)?;
        self.namespaces.push(plumbed);
        Ok(self.namespaces.last_mut().expect("just pushed"))
    }

    /// Removes one namespace of the lab (and with it its TUN device); for
    /// an interface in a namespace made elsewhere, only the interface.
    pub fn remove(&mut self, key: &str) -> Result<()> {
        let Some(at) = self.namespaces.iter().position(|n| n.spec.key() == key) else {
            bail!("network namespace {key} is not part of the lab");
        };
        let plumbed = self.namespaces.remove(at);
        let (name, shared) = (plumbed.spec.name.clone(), plumbed.spec.existing_namespace);
        // In a namespace made elsewhere the TUN device goes with its last
        // fd; in its own namespace, with the namespace.
        drop(plumbed);
        if shared {
            return Ok(());
        }
        self.ops.delete_namespace(&name)
    }

    /// Removes every namespace the lab created (none is left under
    /// `/run/netns`); reports every failure. The namespaces die when the
    /// answer is dropped: drop it once the TUN queues of the lab are
    /// closed (see [`UnmountedNamespaces`]).
    pub fn teardown(mut self) -> Result<UnmountedNamespaces> {
        let (held, removed) = self.remove_all();
        removed.map(|()| UnmountedNamespaces(held))
    }

    fn remove_all(&mut self) -> (HeldFiles, Result<()>) {
        // Last built, first removed: each thread takes the next from the
        // end. Removing one is mostly the kernel's waiting (its devices
        // unregistered, its mount undone), as building one is, so a few
        // threads at once keep it busy.
        let left = Mutex::new(self.namespaces.drain(..).collect::<Vec<_>>());
        let threads = REMOVE_THREADS.min(left.lock().map_or(0, |l| l.len()));
        let failures = Mutex::new(Vec::new());
        // Each namespace is held open until all are unmounted: one that
        // dies starts the kernel's cleanup, which walks every other
        // namespace and slows the grace period each unmount waits for, so
        // that thousands of unmounts beside it took minutes. Held, they die
        // together once the lab is gone, and the kernel frees them in the
        // background. Held without descriptors: next to a TUN queue per
        // NIC, a descriptor per namespace would pass the process's limit.
        let held = Mutex::new(HeldFiles::new());
        let ops = &*self.ops;
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| loop {
                    let next = left.lock().unwrap_or_else(|p| p.into_inner()).pop();
                    let Some(plumbed) = next else {
                        break;
                    };
                    let (name, shared) =
                        (plumbed.spec.name.clone(), plumbed.spec.existing_namespace);
                    // Its queue fds closed first; its links go with it.
                    drop(plumbed);
                    if shared {
                        continue;
                    }
                    if let Ok(file) = std::fs::File::open(netns::path_of(&name)) {
                        held.lock().unwrap_or_else(|p| p.into_inner()).hold(file);
                    }
                    if let Err(err) = ops.delete_namespace(&name) {
                        (failures.lock().unwrap_or_else(|p| p.into_inner()))
                            .push(format!("{err:#}"));
                    }
                });
            }
        });
        let held = held.into_inner().unwrap_or_else(|p| p.into_inner());
        let failures = failures.into_inner().unwrap_or_else(|p| p.into_inner());
        if failures.is_empty() {
            (held, Ok(()))
        } else {
            let failed = anyhow!("tearing down the host lab: {}", failures.join("; "));
            (held, Err(failed))
        }
    }
}

impl Drop for HostLab {
    fn drop(&mut self) {
        if let (_, Err(err)) = self.remove_all() {
            tracing::warn!("{err:#}");
        }
    }
}

/// The namespaces of a removed lab: unmounted, so that no tool sees them,
/// and kept alive until this is dropped, when they die together and the
/// kernel frees them in the background.
///
/// Drop it after the lab's TUN queues are closed: closing a queue takes
/// the lock under which the kernel unregisters the devices of dying
/// namespaces, so that queues closed while thousands of namespaces die
/// wait for all of them (16,384 NICs: ten seconds), where closed before,
/// each waits only for its own grace period.
#[derive(Debug, Default)]
pub struct UnmountedNamespaces(HeldFiles);

impl UnmountedNamespaces {
    /// How many namespaces are kept alive.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// How many namespaces are removed at once. Each unmount waits for an RCU
/// grace period, which unmounts waiting together share: on 2 cores, 16,384
/// NICs stopped in 28.7 s with 4 threads, 24.0 s with 32.
const REMOVE_THREADS: usize = 32;

/// How many namespaces are built at once. Building one is mostly waiting
/// on the kernel (namespace setup, device registration, RCU grace periods),
/// so a few more threads than cores keep it busy; on 2 cores, 1000 NICs
/// came up fastest with 4 (2: 7 s, 8 and 16: 4.7-5.7 s, see
/// `benchmarks/scale.md`).
const BUILD_THREADS: usize = 4;

/// Builds every spec on a few threads, each taking the next unbuilt spec.
/// Returns what was tried, with each spec's position; after a failure no
/// new spec is started, so the lab has less to remove again.
fn build_in_parallel(
    ops: &dyn HostOps,
    fabric: Option<&Arc<Fabric>>,
    specs: &[NamespaceSpec],
) -> Vec<(usize, Result<PlumbedNamespace>)> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let built = Mutex::new(Vec::with_capacity(specs.len()));
    std::thread::scope(|scope| {
        for _ in 0..BUILD_THREADS.min(specs.len()) {
            scope.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let at = next.fetch_add(1, Ordering::Relaxed);
                    let Some(spec) = specs.get(at) else {
                        break;
                    };
                    let outcome = build_one(ops, fabric, spec);
                    if outcome.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    built
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((at, outcome));
                }
            });
        }
    });
    built.into_inner().unwrap_or_else(|p| p.into_inner())
}

/// Creates one namespace with its TUN `eth0` and its `resolv.conf`; on
/// error removes the namespace again (the TUN device goes with its fds).
fn build_one(
    ops: &dyn HostOps,
    fabric: Option<&Arc<Fabric>>,
    spec: &NamespaceSpec,
) -> Result<PlumbedNamespace> {
    let built = build_interface(ops, fabric, spec)?;
    if let (false, Some(text)) = (spec.existing_namespace, &spec.resolv_conf) {
        if let Err(error) = netns::write_resolv_conf(&spec.name, text) {
            let _ = netns::delete(&spec.name);
            return Err(error);
        }
    }
    if let (false, Some(store)) = (spec.existing_namespace, &spec.trust_store) {
        if let Err(error) = netns::link_trust_store(&spec.name, store) {
            let _ = netns::delete(&spec.name);
            return Err(error);
        }
    }
    Ok(built)
}

fn build_interface(
    ops: &dyn HostOps,
    fabric: Option<&Arc<Fabric>>,
    spec: &NamespaceSpec,
) -> Result<PlumbedNamespace> {
    if spec.existing_namespace {
        if !netns::exists(&spec.name) {
            bail!("network namespace {} does not exist", spec.name);
        }
        let tun = plumb_existing(ops, spec)?;
        return Ok(PlumbedNamespace {
            spec: spec.clone(),
            tun,
            fabric_port: None,
        });
    }
    if let (true, Some(fabric)) = (spec.on_fabric, fabric) {
        let mut fabric_port = None;
        let tun = ops.create_namespace(&spec.name, &mut || {
            let (tun, port) = fabric
                .plumb_port_here(&spec.interface, &interface_config(spec), tun_options(spec))
                .with_context(|| {
                    format!("putting network namespace {} on the fabric", spec.name)
                })?;
            fabric_port = Some(port);
            limit_egress(spec)?;
            translate_sources(spec)?;
            hold_every_address(spec)?;
            intercept(spec)?;
            Ok(tun)
        })?;
        return Ok(PlumbedNamespace {
            spec: spec.clone(),
            tun,
            fabric_port,
        });
    }
    // Everything happens on the thread that created the namespace: the TUN
    // device is born there (no move between namespaces) and one netlink
    // connection names and configures it.
    let tun = ops.create_namespace(&spec.name, &mut || {
        let tun = plumb_here(ops, spec)?;
        limit_egress(spec)?;
        translate_sources(spec)?;
        hold_every_address(spec)?;
        intercept(spec)?;
        Ok(tun)
    })?;
    Ok(PlumbedNamespace {
        spec: spec.clone(),
        tun,
        fabric_port: None,
    })
}

/// Sets up the spec's source translation, if it has one.
fn translate_sources(spec: &NamespaceSpec) -> Result<()> {
    match &spec.masquerade_except {
        Some(except) => super::nat::masquerade(&spec.name, &spec.interface, except, &spec.dnat),
        None => Ok(()),
    }
}

/// Hands the connections the spec intercepts to its listener, if any.
fn intercept(spec: &NamespaceSpec) -> Result<()> {
    match &spec.intercept {
        Some(intercept) => super::intercept::install(&spec.name, intercept),
        None => Ok(()),
    }
}

/// Makes the namespace hold every address, if the spec says so.
fn hold_every_address(spec: &NamespaceSpec) -> Result<()> {
    match &spec.every_address {
        Some(every) => super::every_address::hold(&spec.name, every),
        None => Ok(()),
    }
}

/// Shapes what the spec's interface sends to its limit, if it has one.
fn limit_egress(spec: &NamespaceSpec) -> Result<()> {
    match spec.egress_limit_mbps {
        Some(mbps) => super::shaping::shape(&spec.name, &spec.interface, mbps).with_context(|| {
            format!(
                "limiting what {} of {} sends to {mbps} Mbit/s (a kernel without the tbf qdisc needs --no-shaping)",
                spec.interface, spec.name
            )
        }),
        None => Ok(()),
    }
}

fn interface_config(spec: &NamespaceSpec) -> InterfaceConfig {
    InterfaceConfig {
        mtu: spec.mtu,
        addresses: spec.addresses.clone(),
        gateways: spec.gateways.clone(),
        device_routes: spec.device_routes.clone(),
        forwarding: spec.forwarding,
    }
}

fn tun_options(spec: &NamespaceSpec) -> TunOptions {
    TunOptions {
        queues: spec.queues,
        nonblocking: spec.nonblocking,
        // In a namespace of its own the device goes with the namespace; in
        // one made elsewhere, with its last fd.
        persistent: !spec.existing_namespace,
    }
}

fn create_tun(ops: &dyn HostOps, spec: &NamespaceSpec) -> Result<TunDevice> {
    ops.create_tun(tun_options(spec)).with_context(|| {
        format!(
            "creating the TUN device for network namespace {}",
            spec.name
        )
    })
}

/// Creates the TUN device in the current thread's namespace, the spec's
/// own, and configures it there.
fn plumb_here(ops: &dyn HostOps, spec: &NamespaceSpec) -> Result<TunDevice> {
    let tun = create_tun(ops, spec)?;
    super::fabric::noqueue_here(tun.created_index())
        .with_context(|| format!("in network namespace {}", spec.name))?;
    ops.configure_link_here(
        tun.created_index(),
        &spec.interface,
        &interface_config(spec),
    )
    .with_context(|| {
        format!(
            "configuring {} in network namespace {}",
            spec.interface, spec.name
        )
    })?;
    Ok(tun)
}

/// Creates the TUN device here and moves it into a namespace made
/// elsewhere: renaming it on the way in refuses a name already taken
/// there, where creating it there by name would attach to that device.
fn plumb_existing(ops: &dyn HostOps, spec: &NamespaceSpec) -> Result<TunDevice> {
    let tun = create_tun(ops, spec)?;
    ops.move_link_into_namespace(tun.created_index(), &spec.name, &spec.interface)?;
    ops.configure_interface(&spec.name, &spec.interface, &interface_config(spec))?;
    Ok(tun)
}

/// Makes sure the process may hold `needed` file descriptors: every TUN
/// queue of a lab is one, so a lab of thousands of NICs needs more than a
/// shell's usual limit. Raises the soft limit, and the hard one where the
/// process may (`CAP_SYS_RESOURCE`); never lowers either. Fails, saying
/// so, where `needed` is past what the process may have.
pub fn allow_open_files(needed: u64) -> Result<()> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("reading RLIMIT_NOFILE")?;
    if soft >= needed || setrlimit(Resource::RLIMIT_NOFILE, needed, hard.max(needed)).is_ok() {
        return Ok(());
    }
    bail!(
        "the lab needs about {needed} open files (its NICs' TUN queues), more than this \
         process may have ({hard}, `ulimit -Hn`, which it may not raise): raise that limit"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::ip_net as net;

    #[test]
    fn first_host_gateways_take_the_first_host_of_each_family() {
        let mut spec = NamespaceSpec::new("n");
        spec.addresses = vec![net("10.1.2.4/24"), net("10.9.9.9/16"), net("fd00:1::4/64")];
        let expected: Vec<IpAddr> = vec![
            "10.1.2.1".parse().expect("literal"),
            "fd00:1::1".parse().expect("literal"),
        ];
        assert_eq!(spec.first_host_gateways(), expected);
    }

    #[test]
    fn single_address_prefixes_have_no_gateway() {
        let mut spec = NamespaceSpec::new("n");
        spec.addresses = vec![net("10.1.2.4/32"), net("fd00::4/128")];
        assert!(spec.first_host_gateways().is_empty());
        assert!(NamespaceSpec::new("n").first_host_gateways().is_empty());
    }

    #[test]
    fn duplicate_names_are_refused_before_touching_the_host() {
        let spec = NamespaceSpec::new("vnetd-unit-never-created");
        let err = HostLab::build(&[spec.clone(), spec]).expect_err("duplicate names");
        assert!(format!("{err:#}").contains("listed twice"));
    }
}
