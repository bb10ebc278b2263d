//! The underlay: Ethernet frames between hosts, over the kernel's VXLAN.
//!
//! A lab that spans several machines ("hosts") carries frames between them
//! in VXLAN (UDP [`VXLAN_PORT`]). Each host has one [`Underlay`]: a VXLAN
//! device in external (`collect_md`) mode, which takes the remote address
//! and the VNI of each frame from the frame's tunnel key instead of a
//! table of its own, and a multi-queue TAP device whose queues
//! ([`UnderlayQueue`]) the daemon reads and writes, as it does a port's TUN
//! queues. Two tc programs of the crate's BPF object (`bpf/underlay.h`,
//! loaded by [`super::bpf`]) join them:
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
//! [`Underlay::host_counters`]). Another program of the same object may
//! run before `from_underlay` at the VXLAN device's ingress
//! ([`Underlay::run_first_on_arrival`]: the fabric's fast path, which
//! delivers some frames itself): what it leaves reaches `from_underlay` as
//! before. Opened over the fabric's programs ([`Underlay::open`]), the
//! underlay shares with it the one map of the trusted hosts
//! ([`super::bpf::Programs::trust`]): the program that runs first reads
//! the same set as `from_underlay`, at every moment, and takes nothing
//! from a host `from_underlay` would refuse.
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
mod entries;
mod queue;

pub use devices::VXLAN_PORT;
pub use entries::{
    layout, HostCounters, UnderlayCounters, DESTINATION_LEN, FRAME_COUNTERS_LEN, HOST_COUNTERS_LEN,
    MAC_KEY_LEN, UNDERLAY_SETTINGS_LEN,
};
pub use queue::{UnderlayQueue, ETH_HLEN};

use std::collections::HashSet;
use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{bail, Context, Result};
use aya::maps::{Array, HashMap as BpfHashMap, MapData, PerCpuArray, PerCpuHashMap, PerCpuValues};
use tun_rs::{DeviceBuilder, Layer};

use super::bpf::{remove_all_but, tc, Programs};
use super::netns;
use super::tun::MAX_QUEUES;

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

/// The programs the underlay attaches: at the TAP, at the VXLAN device.
const PROGRAMS: [&str; 2] = ["to_underlay", "from_underlay"];

/// `struct underlay_settings`, in its one element.
type SettingsMap = Array<MapData, [u8; UNDERLAY_SETTINGS_LEN]>;
/// MAC address to `struct destination`.
type DestinationMap = BpfHashMap<MapData, [u8; MAC_KEY_LEN], [u8; DESTINATION_LEN]>;

/// One entry of the destination table: a MAC, the host it is on and the
/// VNI it is reached with.
type Destination = ([u8; 6], Ipv4Addr, u32);
/// `struct frame_counters`, per CPU.
type CountersMap = PerCpuArray<MapData, [u8; FRAME_COUNTERS_LEN]>;
/// The other hosts (host order) and their `struct host_counters`, per CPU.
type HostsMap = PerCpuHashMap<MapData, u32, [u8; HOST_COUNTERS_LEN]>;

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

/// A device the underlay made, in the namespace it holds.
#[derive(Debug, Clone, Copy)]
struct Device {
    index: u32,
    name: &'static str,
}

/// The underlay's devices, programs and maps.
pub struct Underlay {
    /// The namespace of the devices, held open: they are removed there,
    /// whichever thread removes them.
    namespace: File,
    vxlan: Device,
    tap: Device,
    /// The TAP's queues until [`Underlay::take_queues`].
    queues: Vec<UnderlayQueue>,
    /// The loaded programs (the fabric's too, on a host with a fabric):
    /// the devices' filters refer to them, and they hold the trusted hosts.
    programs: Arc<Programs>,
    /// The destination map, and the table it was last given.
    destinations: Mutex<(DestinationMap, Vec<Destination>)>,
    /// The trusted hosts, as last set.
    trusted_now: Vec<Ipv4Addr>,
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

/// The underlay's maps, taken from the loaded object.
struct Loaded {
    programs: Arc<Programs>,
    settings: SettingsMap,
    destinations: DestinationMap,
    counters: CountersMap,
    hosts: HostsMap,
}

/// Takes the underlay's maps from `programs` (the fabric's, on a host
/// with a fabric), or from the object loaded for the underlay alone, and
/// loads its programs.
fn load(programs: Option<Arc<Programs>>) -> Result<Loaded> {
    let programs = match programs {
        Some(programs) => {
            for name in PROGRAMS {
                programs.program(name)?;
            }
            programs
        }
        None => Programs::load(&[], &PROGRAMS)?,
    };
    Ok(Loaded {
        settings: programs.take_map("underlay")?,
        destinations: programs.take_map("destinations")?,
        counters: programs.take_map("frames")?,
        hosts: programs.take_map("hosts")?,
        programs,
    })
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
    /// Removes the VXLAN device a killed process left in the caller's
    /// namespace (its TAP went with the process); says whether there was
    /// one. Only for when no process of this program runs here.
    pub fn remove_leftover() -> Result<bool> {
        let found = nix::net::if_::if_nametoindex(VXLAN_DEVICE).is_ok();
        devices::delete_named_here(VXLAN_DEVICE)?;
        Ok(found)
    }

    /// Opens the underlay `spec` describes, from (and with its UDP socket
    /// in) the caller's namespace: loads the programs (over `programs`, the
    /// fabric's on a host with a fabric, else on their own), makes the TAP
    /// and the VXLAN device, attaches the programs and brings the devices
    /// up, with MTU [`Underlay::inner_mtu`]. Fails, leaving no device
    /// behind, where the build, the kernel or the namespace lacks what it
    /// needs.
    pub fn open(spec: &UnderlaySpec, programs: Option<Arc<Programs>>) -> Result<Underlay> {
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
        let loaded = load(programs)?;
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
            trusted_now: Vec::new(),
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
        let bytes = entries::settings(self.vxlan.index, self.tap.index, spec.local);
        settings
            .set(0, bytes, 0)
            .context("writing the underlay programs' settings")?;
        let cpus =
            aya::util::nr_cpus().map_err(|(path, e)| anyhow::anyhow!("reading {path}: {e}"))?;
        for host in &spec.hosts {
            let zero = PerCpuValues::try_from(vec![[0u8; HOST_COUNTERS_LEN]; cpus])
                .context("the hosts' counters")?;
            self.hosts
                .insert(u32::from(*host), zero, 0)
                .with_context(|| format!("counting the frames of host {host}"))?;
        }
        self.set_trusted(&spec.trusted)?;
        let attachment = |device: Device, name: &'static str| -> Result<_> {
            Ok(devices::Attachment {
                index: device.index,
                name: device.name,
                program: tc::Program {
                    fd: self.programs.program(name)?,
                    name,
                },
            })
        };
        let [to_underlay, from_underlay] = PROGRAMS;
        let attachments = [
            attachment(self.tap, to_underlay)?,
            attachment(self.vxlan, from_underlay)?,
        ];
        let (tap, mtu) = (self.tap.index, self.inner_mtu);
        devices::run_in(&self.namespace, || {
            devices::plumb_here(&attachments, tap, mtu)
        })
        .context("setting up the underlay's devices")
    }

    /// Runs the tc program `name` of the underlay's object (the fabric's
    /// `from_tunnel`, when the underlay was opened over the fabric's
    /// programs) at the VXLAN device's ingress before `from_underlay`: each
    /// frame it leaves (`TC_ACT_UNSPEC`) goes on to `from_underlay`, which
    /// checks its source and hands it to the daemon. It runs in the
    /// devices' namespace, so it may redirect only to devices there. Of
    /// the same object, it reads the same trusted hosts as `from_underlay`
    /// ([`Underlay::set_trusted`]).
    pub fn run_first_on_arrival(&mut self, name: &str) -> Result<()> {
        let (index, device) = (self.vxlan.index, self.vxlan.name);
        let program = tc::Program {
            fd: self.programs.program(name)?,
            name,
        };
        devices::run_in(&self.namespace, || {
            devices::attach_first_here(index, &program)
        })
        .with_context(|| format!("attaching {name} at the ingress of {device}"))
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
        remove_all_but(map, &wanted);
        Ok(())
    }

    /// Writes one entry of the destination map, marked with whether its
    /// host is trusted now (`to_underlay` reads both in one lookup).
    fn write_destination(
        &self,
        map: &mut DestinationMap,
        (mac, remote, vni): &Destination,
    ) -> Result<()> {
        let value = entries::destination(*remote, *vni, self.trusted_now.contains(remote));
        map.insert(*mac, value, 0)
            .with_context(|| format!("sending {} to {remote} (VNI {vni})", format_mac(mac)))
    }

    /// The hosts whose VXLAN packets are taken, and the only ones packets
    /// are sent to, by underlay address. Replaces the whole set: the
    /// destinations of each host whose trust changed, then the trusted
    /// hosts every program of the object reads (the fabric's too, when the
    /// underlay was opened over its programs).
    pub fn set_trusted(&mut self, trusted: &[Ipv4Addr]) -> Result<()> {
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
        self.programs.trust(trusted)
    }

    /// What the programs counted, summed over the CPUs (all zero if the
    /// kernel could not be asked).
    pub fn counters(&self) -> UnderlayCounters {
        let Ok(per_cpu) = self.counters.get(&0, 0) else {
            return UnderlayCounters::default();
        };
        (per_cpu.iter())
            .map(UnderlayCounters::from_bytes)
            .fold(UnderlayCounters::default(), UnderlayCounters::plus)
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
                let none = HostCounters::none(Ipv4Addr::from(address));
                per_cpu.iter().fold(none, HostCounters::plus)
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
