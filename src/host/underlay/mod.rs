//! The underlay: Ethernet frames between hosts, over the kernel's VXLAN.
//!
//! A lab that spans several machines ("hosts") carries frames between them
//! in VXLAN (UDP [`VXLAN_PORT`]). Each host has one [`Underlay`]: a VXLAN
//! device in external (`collect_md`) mode, which takes the remote address
//! and the VNI of each frame from the frame's tunnel key instead of a
//! table of its own, and a multi-queue TAP device whose queues
//! ([`UnderlayQueue`]) the daemon reads and writes, as it does a port's TUN
//! queues. Two tc programs (`underlay.bpf.c`, compiled by `build.rs`,
//! loaded through aya) join them:
//!
//! - at the ingress of the TAP, `to_underlay` looks the destination MAC of
//!   each frame the daemon writes up in a table
//!   ([`Underlay::set_destinations`]) for the host and the VNI it goes
//!   to, gives the frame that tunnel key and sends it out of the VXLAN
//!   device, if that host is trusted ([`Underlay::set_trusted`]);
//! - at the ingress of the VXLAN device, `from_underlay` drops what did not
//!   come from a trusted host ([`UnderlaySpec::trusted`]), writes the VNI
//!   into each frame's source MAC (`02:00:<VNI, 24 bits>:00`) and hands the
//!   frame to the daemon through the TAP.
//!
//! Both count what they carry and what they drop
//! ([`Underlay::counters`]), and what they refused from or did not send to
//! each of the other hosts ([`UnderlaySpec::hosts`],
//! [`Underlay::host_counters`]). Another program may run before
//! `from_underlay` at the VXLAN device's ingress
//! ([`Underlay::run_first_on_arrival`]: a fast path that delivers some
//! frames itself, told the trusted hosts at every change): what it leaves
//! reaches `from_underlay` as before.
//!
//! The devices may sit in another namespace than the caller's
//! ([`UnderlaySpec::namespace`]): the VXLAN device is made from the
//! caller's namespace and born in the other, so that its UDP socket, its
//! routes and its underlay address stay in the caller's (the kernel keeps
//! them in the namespace that made the device). One namespace holds one
//! external VXLAN device on a port, so a caller's namespace has one
//! underlay.
//!
//! It knows Linux only: namespaces, devices, MAC addresses, IPv4 underlay
//! addresses and VNIs.

mod devices;
mod queue;

pub use queue::{UnderlayQueue, ETH_HLEN};

use std::collections::HashSet;
use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::{Mutex, MutexGuard};

use anyhow::{bail, Context, Result};
use aya::maps::{Array, HashMap as BpfHashMap, MapData, PerCpuArray, PerCpuHashMap, PerCpuValues};
use aya::programs::SchedClassifier;
use aya::{Ebpf, EbpfLoader};
use tun_rs::{DeviceBuilder, Layer};

use super::netns;
use super::tun::MAX_QUEUES;

pub const VXLAN_PORT: u16 = 4789;
/// Bytes VXLAN adds over IPv4: outer IPv4 20 + UDP 8 + VXLAN 8 + inner
/// Ethernet 14.
pub const VXLAN_OVERHEAD: u16 = 50;

/// The inner MTU when the underlay has room for it: what a NIC's `eth0`
/// has.
const INNER_MTU: u32 = 1500;

/// The least MTU the kernel gives an Ethernet device.
const MIN_INNER_MTU: u32 = 68;

/// The devices' names, in the namespace they are in (one underlay each).
pub const VXLAN_DEVICE: &str = "vnd-vxlan";
pub const TAP_DEVICE: &str = "vnd-underlay";

/// The largest VNI: 24 bits.
pub const MAX_VNI: u32 = 0xff_ffff;

/// The tc programs, as `build.rs` compiled them (empty when it could not).
const OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/underlay.bpf.o"));

/// Why `build.rs` left [`OBJECT`] empty ("" when it did not).
const UNBUILT: &str = env!("VNETD_UNDERLAY_UNBUILT");

/// `struct settings`: the VXLAN device's index, the TAP's, the local
/// address (host order), each a native-endian u32.
type SettingsMap = Array<MapData, [u8; 12]>;
/// MAC address to `struct destination`: the remote address (host order),
/// the VNI and whether the remote host is trusted, each a native-endian
/// u32.
type DestinationMap = BpfHashMap<MapData, [u8; 6], [u8; 12]>;

/// One entry of the destination table: a MAC, the host it is on and the
/// VNI it is reached with.
type Destination = ([u8; 6], Ipv4Addr, u32);
/// Trusted remote addresses, host order.
type TrustedMap = BpfHashMap<MapData, u32, u8>;
/// `struct counters`, per CPU.
type CountersMap = PerCpuArray<MapData, [u64; COUNTERS]>;
/// The other hosts (host order) and their `struct host_counters`, per CPU.
type HostsMap = PerCpuHashMap<MapData, u32, [u64; 2]>;

/// How many counters `struct counters` holds.
const COUNTERS: usize = 6;

/// What to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnderlaySpec {
    /// This host's underlay address (must be configured on an interface of
    /// the namespace the caller runs in).
    pub local: Ipv4Addr,
    /// The namespace (by name, under `/run/netns` as `ip netns` makes
    /// them) where the VXLAN device and the TAP go; `None`: the caller's
    /// own. Either way the VXLAN device's UDP socket is in the caller's.
    pub namespace: Option<String>,
    /// Number of TAP queues (one per worker thread), 1..=256.
    pub queues: usize,
    /// The other hosts' underlay addresses, each counted apart
    /// ([`Underlay::host_counters`]).
    pub hosts: Vec<Ipv4Addr>,
    /// The hosts trusted from the start (see [`Underlay::set_trusted`]):
    /// VXLAN packets from any other source are dropped (and counted) at
    /// the VXLAN device's ingress, and none are sent to another host.
    pub trusted: Vec<Ipv4Addr>,
}

/// What the programs counted since the underlay was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnderlayCounters {
    /// Frames the daemon wrote that went into the tunnel.
    pub sent: u64,
    /// Frames from other hosts handed to the daemon.
    pub received: u64,
    /// Frames from other hosts dropped because their source address was
    /// not trusted.
    pub untrusted: u64,
    /// Frames the daemon wrote that were dropped because their destination
    /// MAC had no entry.
    pub no_destination: u64,
    /// Frames the daemon wrote that were dropped because the host their
    /// destination MAC is on was not trusted.
    pub not_trusted: u64,
    /// Frames dropped for any other reason: a frame without a tunnel key
    /// (or of an IPv6 underlay), or a helper that failed.
    pub failed: u64,
}

/// What was dropped of one other host's frames, and of the frames for it,
/// while it was not trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostCounters {
    pub address: Ipv4Addr,
    /// Frames from it dropped at the VXLAN device's ingress.
    pub refused: u64,
    /// Frames the daemon wrote for a port on it, dropped at the TAP.
    pub not_sent: u64,
}

/// A device the underlay made, in the namespace it holds.
#[derive(Debug, Clone, Copy)]
struct Device {
    index: u32,
    name: &'static str,
}

/// Told the trusted hosts at every change: a program that runs before
/// `from_underlay` and must not take frames from anyone else.
pub type TrustMirror = Box<dyn Fn(&[Ipv4Addr]) -> Result<()> + Send>;

/// The underlay's devices, programs and maps.
pub struct Underlay {
    /// The namespace of the devices, held open: they are removed there,
    /// whichever thread removes them.
    namespace: File,
    vxlan: Device,
    tap: Device,
    /// The TAP's queues until [`Underlay::take_queues`].
    queues: Vec<UnderlayQueue>,
    /// The loaded programs: the devices' filters refer to them.
    programs: Ebpf,
    /// The destination map, and the table it was last given.
    destinations: Mutex<(DestinationMap, Vec<Destination>)>,
    trusted: Mutex<TrustedMap>,
    /// The trusted hosts, as last set, and who else is told them.
    trusted_now: Vec<Ipv4Addr>,
    mirror: Option<TrustMirror>,
    counters: CountersMap,
    hosts: HostsMap,
    underlay_interface: String,
    underlay_mtu: u32,
    inner_mtu: u32,
    removed: bool,
}

impl std::fmt::Debug for Underlay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Underlay")
            .field("vxlan", &self.vxlan)
            .field("tap", &self.tap)
            .field("underlay_interface", &self.underlay_interface)
            .field("underlay_mtu", &self.underlay_mtu)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The inner MTU over an underlay of MTU `underlay`: [`INNER_MTU`] if it
/// fits, else what does.
fn inner_mtu_for(underlay: u32) -> u32 {
    INNER_MTU.min(underlay.saturating_sub(u32::from(VXLAN_OVERHEAD)))
}

/// The programs and maps, loaded.
struct Loaded {
    programs: Ebpf,
    settings: SettingsMap,
    destinations: DestinationMap,
    trusted: TrustedMap,
    counters: CountersMap,
    hosts: HostsMap,
}

fn load() -> Result<Loaded> {
    let mut programs = EbpfLoader::new()
        .load(OBJECT)
        .context("loading the underlay's tc programs")?;
    for name in ["to_underlay", "from_underlay"] {
        let classifier: &mut SchedClassifier = programs
            .program_mut(name)
            .with_context(|| format!("the underlay object has no program {name}"))?
            .try_into()?;
        classifier
            .load()
            .with_context(|| format!("loading the tc program {name} (cls_bpf, direct action)"))?;
    }
    let mut take = |name: &str| {
        programs
            .take_map(name)
            .with_context(|| format!("the underlay object has no map {name}"))
    };
    let settings = SettingsMap::try_from(take("settings")?)?;
    let destinations = DestinationMap::try_from(take("destinations")?)?;
    let trusted = TrustedMap::try_from(take("trusted")?)?;
    let counters = CountersMap::try_from(take("counters")?)?;
    let hosts = HostsMap::try_from(take("hosts")?)?;
    Ok(Loaded {
        programs,
        settings,
        destinations,
        trusted,
        counters,
        hosts,
    })
}

/// The descriptor of the loaded program `name`.
fn program_fd(programs: &Ebpf, name: &str) -> Result<std::os::fd::RawFd> {
    let classifier: &SchedClassifier = programs
        .program(name)
        .with_context(|| format!("the underlay object has no program {name}"))?
        .try_into()?;
    Ok(classifier.fd()?.as_fd().as_raw_fd())
}

/// Creates the TAP device [`TAP_DEVICE`] in the current thread's namespace
/// with `queues` non-blocking queues, `IFF_TAP | IFF_NO_PI |
/// IFF_MULTI_QUEUE | IFF_VNET_HDR` and the offloads of a port's TUN
/// device. It is not persistent: it goes with its last queue.
fn open_tap_here(queues: usize) -> Result<Vec<UnderlayQueue>> {
    // An existing TAP of that name would be attached to, not created.
    if nix::net::if_::if_nametoindex(TAP_DEVICE).is_ok() {
        bail!(
            "a device named {TAP_DEVICE} already exists (an underlay is open here, \
             or a run that crashed left it)"
        );
    }
    let first = DeviceBuilder::new()
        .name(TAP_DEVICE)
        .layer(Layer::L2)
        .offload(true)
        .multi_queue(true)
        // Left down: it is configured before it goes up.
        .enable(false)
        .build_sync()
        .context("creating the underlay's TAP device (IFF_MULTI_QUEUE, IFF_VNET_HDR, offload)")?;
    // tun-rs requires CSUM+TSO4+TSO6 (else creation fails) and reports
    // whether the kernel also took USO4+USO6.
    let udp_segmentation = first.udp_gso();
    let mut devices = Vec::with_capacity(queues);
    for queue in 1..queues {
        devices.push(
            first
                .try_clone()
                .with_context(|| format!("opening queue {queue} of {TAP_DEVICE}"))?,
        );
    }
    devices.insert(0, first);
    devices
        .into_iter()
        .enumerate()
        .map(|(number, device)| {
            device
                .set_nonblocking(true)
                .with_context(|| format!("making queue {number} of {TAP_DEVICE} non-blocking"))?;
            Ok(UnderlayQueue::new(device, udp_segmentation))
        })
        .collect()
}

impl Underlay {
    /// Why this build has no underlay (vnetd was built without a clang
    /// that targets BPF), if so.
    pub fn unbuilt() -> Option<&'static str> {
        (OBJECT.is_empty() || !UNBUILT.is_empty()).then_some(UNBUILT)
    }

    /// Removes the VXLAN device a killed process left in the caller's
    /// namespace (its TAP went with the process); says whether there was
    /// one. Only for when no process of this program runs here.
    pub fn remove_leftover() -> Result<bool> {
        let found = nix::net::if_::if_nametoindex(VXLAN_DEVICE).is_ok();
        devices::delete_named_here(VXLAN_DEVICE)?;
        Ok(found)
    }

    /// Opens the underlay `spec` describes, from (and with its UDP socket
    /// in) the caller's namespace: loads the programs, makes the TAP and
    /// the VXLAN device, attaches the programs and brings the devices up,
    /// with MTU [`Underlay::inner_mtu`]. Fails, leaving no device behind,
    /// where the build, the kernel or the namespace lacks what it needs.
    pub fn open(spec: &UnderlaySpec) -> Result<Underlay> {
        if let Some(reason) = Self::unbuilt() {
            bail!("{reason}");
        }
        if spec.queues == 0 || spec.queues > MAX_QUEUES {
            bail!(
                "an underlay needs 1 to {MAX_QUEUES} queues, not {}",
                spec.queues
            );
        }
        let namespace = match &spec.namespace {
            Some(name) => {
                let path = netns::path_of(name);
                File::open(&path).with_context(|| {
                    format!("opening network namespace {name} ({})", path.display())
                })?
            }
            None => File::open("/proc/thread-self/ns/net")
                .context("opening the caller's network namespace")?,
        };
        let (underlay_interface, underlay_mtu) =
            devices::here(|| devices::mtu_of_address_here(spec.local))?;
        let inner_mtu = inner_mtu_for(underlay_mtu);
        if inner_mtu < MIN_INNER_MTU {
            bail!(
                "the underlay interface {underlay_interface} has MTU {underlay_mtu}: \
                 no room for VXLAN's {VXLAN_OVERHEAD} bytes"
            );
        }
        let loaded = load()?;
        let queues = devices::run_in(&namespace, || open_tap_here(spec.queues))?;
        let target = spec.namespace.as_ref().map(|_| namespace.as_raw_fd());
        devices::here(|| devices::add_vxlan_here(VXLAN_DEVICE, spec.local, inner_mtu, target))?;
        let [vxlan, tap] = match devices::run_in(&namespace, || {
            devices::indexes_here([VXLAN_DEVICE, TAP_DEVICE])
        }) {
            Ok(indexes) => indexes,
            Err(err) => {
                // Ours, since it was made under this name: the name was
                // free.
                let _ = devices::run_in(&namespace, || devices::delete_named_here(VXLAN_DEVICE));
                return Err(err.context("looking up the underlay's devices"));
            }
        };
        let Loaded {
            programs,
            settings,
            destinations,
            trusted,
            counters,
            hosts,
        } = loaded;
        // From here on, dropping the underlay removes both devices.
        let mut underlay = Underlay {
            namespace,
            vxlan: Device {
                index: vxlan,
                name: VXLAN_DEVICE,
            },
            tap: Device {
                index: tap,
                name: TAP_DEVICE,
            },
            queues,
            programs,
            destinations: Mutex::new((destinations, Vec::new())),
            trusted: Mutex::new(trusted),
            trusted_now: Vec::new(),
            mirror: None,
            counters,
            hosts,
            underlay_interface,
            underlay_mtu,
            inner_mtu,
            removed: false,
        };
        underlay.set_up(settings, spec)?;
        Ok(underlay)
    }

    /// Writes the programs' settings and trusted hosts, then attaches them
    /// and brings the devices up.
    fn set_up(&mut self, mut settings: SettingsMap, spec: &UnderlaySpec) -> Result<()> {
        let mut bytes = [0u8; 12];
        bytes[0..4].copy_from_slice(&self.vxlan.index.to_ne_bytes());
        bytes[4..8].copy_from_slice(&self.tap.index.to_ne_bytes());
        bytes[8..12].copy_from_slice(&u32::from(spec.local).to_ne_bytes());
        settings
            .set(0, bytes, 0)
            .context("writing the underlay programs' settings")?;
        let cpus =
            aya::util::nr_cpus().map_err(|(path, e)| anyhow::anyhow!("reading {path}: {e}"))?;
        for host in &spec.hosts {
            let zero =
                PerCpuValues::try_from(vec![[0u64; 2]; cpus]).context("the hosts' counters")?;
            self.hosts
                .insert(u32::from(*host), zero, 0)
                .with_context(|| format!("counting the frames of host {host}"))?;
        }
        self.set_trusted(&spec.trusted)?;
        let to_underlay = program_fd(&self.programs, "to_underlay")?;
        let from_underlay = program_fd(&self.programs, "from_underlay")?;
        let attachments = [
            devices::Attachment {
                index: self.tap.index,
                name: self.tap.name,
                program: devices::Program {
                    fd: to_underlay,
                    name: "to_underlay",
                },
            },
            devices::Attachment {
                index: self.vxlan.index,
                name: self.vxlan.name,
                program: devices::Program {
                    fd: from_underlay,
                    name: "from_underlay",
                },
            },
        ];
        let (tap, mtu) = (self.tap.index, self.inner_mtu);
        devices::run_in(&self.namespace, || {
            devices::plumb_here(&attachments, tap, mtu)
        })
        .context("setting up the underlay's devices")
    }

    /// Runs the tc program `program` (a descriptor; `name` names it) at the
    /// VXLAN device's ingress before `from_underlay`: each frame it leaves
    /// (`TC_ACT_UNSPEC`) goes on to `from_underlay`, which checks its
    /// source and hands it to the daemon. It runs in the devices'
    /// namespace, so it may redirect only to devices there. `trust` is told
    /// the trusted hosts once it is attached and at every change, before
    /// `from_underlay` is, so that the program never takes frames
    /// `from_underlay` would drop (it must trust no one until told).
    pub fn run_first_on_arrival(
        &mut self,
        program: std::os::fd::RawFd,
        name: &str,
        trust: TrustMirror,
    ) -> Result<()> {
        let (index, device) = (self.vxlan.index, self.vxlan.name);
        let program = devices::Program { fd: program, name };
        devices::run_in(&self.namespace, || {
            devices::attach_first_here(index, &program)
        })
        .with_context(|| format!("attaching {name} at the ingress of {device}"))?;
        // Attached first: until it is told, it trusts no one.
        trust(&self.trusted_now)?;
        self.mirror = Some(trust);
        Ok(())
    }

    /// The index of the VXLAN device in the namespace it is in.
    pub fn vxlan_index(&self) -> u32 {
        self.vxlan.index
    }

    /// The TAP queues, one per worker, to be taken once (an empty list
    /// afterwards).
    pub fn take_queues(&mut self) -> Vec<UnderlayQueue> {
        std::mem::take(&mut self.queues)
    }

    /// Where frames the daemon writes with destination MAC `mac` go: the
    /// VXLAN tunnel to `remote` with VNI `vni`, for each `(mac, remote,
    /// vni)`. Replaces the whole table; a frame to a MAC that stays in it
    /// never finds it missing meanwhile. A table with a VNI wider than 24
    /// bits changes nothing.
    pub fn set_destinations(&self, destinations: &[Destination]) -> Result<()> {
        if let Some((mac, _, vni)) = destinations.iter().find(|(_, _, vni)| *vni > MAX_VNI) {
            bail!(
                "VNI {vni} (for {}) does not fit in 24 bits",
                format_mac(mac)
            );
        }
        let mut guard = lock(&self.destinations);
        let (map, table) = &mut *guard;
        let wanted: HashSet<[u8; 6]> = destinations.iter().map(|(mac, _, _)| *mac).collect();
        for destination in destinations {
            self.write_destination(map, destination)?;
        }
        *table = destinations.to_vec();
        let stale: Vec<[u8; 6]> = map
            .keys()
            .filter_map(|key| key.ok())
            .filter(|key| !wanted.contains(key))
            .collect();
        for mac in stale {
            // Gone meanwhile is gone.
            let _ = map.remove(&mac);
        }
        Ok(())
    }

    /// Writes one entry of the destination map, marked with whether its
    /// host is trusted now (`to_underlay` reads both in one lookup).
    fn write_destination(
        &self,
        map: &mut DestinationMap,
        (mac, remote, vni): &Destination,
    ) -> Result<()> {
        let mut value = [0u8; 12];
        value[0..4].copy_from_slice(&u32::from(*remote).to_ne_bytes());
        value[4..8].copy_from_slice(&vni.to_ne_bytes());
        let trusted = u32::from(self.trusted_now.contains(remote));
        value[8..12].copy_from_slice(&trusted.to_ne_bytes());
        map.insert(*mac, value, 0)
            .with_context(|| format!("sending {} to {remote} (VNI {vni})", format_mac(mac)))
    }

    /// The hosts whose VXLAN packets are taken, and the only ones packets
    /// are sent to, by underlay address. Replaces the whole set (the
    /// program run first at the VXLAN device's ingress, if any, is told
    /// first, then the destinations of each host whose trust changed).
    pub fn set_trusted(&mut self, trusted: &[Ipv4Addr]) -> Result<()> {
        if let Some(mirror) = &self.mirror {
            mirror(trusted)?;
        }
        let changed: Vec<Ipv4Addr> = (self.trusted_now.iter())
            .filter(|a| !trusted.contains(a))
            .chain(trusted.iter().filter(|a| !self.trusted_now.contains(a)))
            .copied()
            .collect();
        self.trusted_now = trusted.to_vec();
        {
            let mut guard = lock(&self.destinations);
            let (map, table) = &mut *guard;
            for destination in table.iter().filter(|(_, r, _)| changed.contains(r)) {
                self.write_destination(map, destination)?;
            }
        }
        let mut map = lock(&self.trusted);
        let wanted: HashSet<u32> = trusted.iter().map(|a| u32::from(*a)).collect();
        for address in &wanted {
            map.insert(*address, 1, 0)
                .with_context(|| format!("trusting {}", Ipv4Addr::from(*address)))?;
        }
        let stale: Vec<u32> = map
            .keys()
            .filter_map(|key| key.ok())
            .filter(|key| !wanted.contains(key))
            .collect();
        for address in stale {
            let _ = map.remove(&address);
        }
        Ok(())
    }

    /// What the programs counted, summed over the CPUs (all zero if the
    /// kernel could not be asked).
    pub fn counters(&self) -> UnderlayCounters {
        let mut sums = [0u64; COUNTERS];
        if let Ok(per_cpu) = self.counters.get(&0, 0) {
            for counted in per_cpu.iter() {
                for (sum, value) in sums.iter_mut().zip(counted) {
                    *sum = sum.wrapping_add(*value);
                }
            }
        }
        let [sent, received, untrusted, no_destination, failed, not_trusted] = sums;
        UnderlayCounters {
            sent,
            received,
            untrusted,
            no_destination,
            not_trusted,
            failed,
        }
    }

    /// What was refused from, and not sent to, each host of
    /// [`UnderlaySpec::hosts`], summed over the CPUs, in address order
    /// (empty if the kernel could not be asked).
    pub fn host_counters(&self) -> Vec<HostCounters> {
        let mut out: Vec<HostCounters> = self
            .hosts
            .iter()
            .filter_map(Result::ok)
            .map(|(address, per_cpu)| {
                let mut counted = HostCounters {
                    address: Ipv4Addr::from(address),
                    refused: 0,
                    not_sent: 0,
                };
                for [refused, not_sent] in per_cpu.iter() {
                    counted.refused = counted.refused.wrapping_add(*refused);
                    counted.not_sent = counted.not_sent.wrapping_add(*not_sent);
                }
                counted
            })
            .collect();
        out.sort_by_key(|h| h.address);
        out
    }

    /// The MTU of the underlay interface that holds the local address, as
    /// it was when the underlay was opened: inner packets of 1500 bytes fit
    /// when it is at least `1500 + VXLAN_OVERHEAD`.
    pub fn underlay_mtu(&self) -> u32 {
        self.underlay_mtu
    }

    /// The name of that interface.
    pub fn underlay_interface(&self) -> &str {
        &self.underlay_interface
    }

    /// The MTU of the VXLAN device and the TAP: 1500 when the underlay has
    /// room for it, else the underlay MTU less [`VXLAN_OVERHEAD`].
    pub fn inner_mtu(&self) -> u32 {
        self.inner_mtu
    }

    /// Removes the devices (also done on drop).
    pub fn close(mut self) -> Result<()> {
        self.remove()
    }

    fn remove(&mut self) -> Result<()> {
        if self.removed {
            return Ok(());
        }
        self.removed = true;
        let (vxlan, tap) = (self.vxlan, self.tap);
        devices::run_in(&self.namespace, || {
            devices::delete_here(vxlan.index, vxlan.name)?;
            // Gone already if every queue was closed.
            devices::delete_here(tap.index, tap.name)?;
            Ok(())
        })
        .context("removing the underlay's devices")
    }
}

impl Drop for Underlay {
    fn drop(&mut self) {
        if let Err(err) = self.remove() {
            tracing::warn!("{err:#}");
        }
    }
}

fn format_mac(mac: &[u8; 6]) -> String {
    let [a, b, c, d, e, f] = mac;
    format!("{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_packets_keep_1500_bytes_when_the_underlay_has_room() {
        assert_eq!(inner_mtu_for(9000), 1500);
        assert_eq!(inner_mtu_for(1550), 1500);
        assert_eq!(inner_mtu_for(1500), 1450);
        assert_eq!(inner_mtu_for(20), 0);
    }

    #[test]
    fn macs_print_as_ip_link_prints_them() {
        assert_eq!(
            format_mac(&[0x02, 0x56, 0x58, 0, 0, 0x01]),
            "02:56:58:00:00:01"
        );
    }
}
