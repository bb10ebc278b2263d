//! The fabric: a kernel fast path between namespaces, with a TUN device per
//! port as the slow path.
//!
//! A port on the fabric is a veth pair: `eth0` in the port's namespace,
//! its peer (the host end, `vh<N>`, with the fabric's MAC address
//! [`FABRIC_MAC`]) in one fabric namespace, beside the port's TUN device
//! (`vt<N>`). Two tc programs of the crate's BPF object (`bpf/fabric.h`,
//! loaded by [`super::bpf`]) join them:
//!
//! - at the ingress of each host end, `from_port` answers ARP and IPv6
//!   neighbour solicitations with [`FABRIC_MAC`], moves the packets of each
//!   flow entry ([`Fabric::install`]) straight into the ingress of the
//!   `eth0` behind that entry's egress host end, counting them, and sends every other packet to the port's TUN
//!   device (first packets, TCP SYN, FIN and RST, fragments, IP options,
//!   IPv6 extension headers, anything not TCP, UDP or an ICMP echo);
//! - at the ingress of each TUN device, `from_daemon` gives each packet
//!   the reader of the TUN wrote an Ethernet header and sends it out of the
//!   port's host end, to `eth0`.
//!
//! So whoever holds the TUN queues sees exactly the packets no flow entry
//! took, and can write packets to the port as it would to a TUN `eth0`.
//!
//! A fabric may also reach other hosts through a VXLAN device in external
//! mode in its namespace ([`Fabric::set_tunnel`]): `from_port` then also
//! moves the packets of each tunnel entry ([`Fabric::install_tunnel`]) into
//! that device, with the entry's tunnel key (remote host, VNI) and
//! addressed to the MAC the receiving port has between hosts; and
//! `from_tunnel` ([`TUNNEL_PROGRAM`]), which whoever holds the VXLAN device
//! runs first at its ingress, moves each frame a trusted host sent for an
//! arrival entry ([`Fabric::install_arrival`], keyed by VNI, destination
//! MAC and 5-tuple) straight into the receiving `eth0`, and leaves every
//! other frame to the next program there (`TC_ACT_UNSPEC`). Which hosts
//! are trusted is the underlay's to say, in the one map of the object both
//! read ([`super::bpf::Programs::trust`]): the underlay is opened over the
//! fabric's programs ([`Fabric::programs`]).
//!
//! A flow entry may also rewrite its packets' source or destination
//! address and port on the way ([`FastRewrite`], TCP and UDP of either
//! family, and the address of an ICMP echo of either family that keeps
//! its identifier: an address translation its installer decided), fixing
//! the IPv4 and TCP, UDP or ICMPv6 checksums; a packet of such an entry
//! it cannot rewrite goes to the slow path. ICMP echo requests and replies
//! are keyed by their identifier, as source and destination port.
//!
//! Each flow entry carries a generation, and is used only while it is not
//! older than the fabric's floor nor than either of its ports' generations
//! ([`Fabric::advance`]): raising the floor sends every flow's next packet
//! to the slow path at once, raising a port's the next packet of its flows
//! only. Each entry
//! counts what it carried, as wire packets (a GSO super-packet is its
//! segments, each with its own headers) and their IP bytes, with the time
//! the last one passed, in a slot of a counters array that outlives it
//! ([`Fabric::counters_chunk`]). The slots come in chunks of
//! [`SLOTS_PER_CHUNK`], one array element each, so one system call reads
//! thousands of them. A packet an entry would hand to a port whose `eth0`
//! is gone (deleted, its host end with it) is dropped and counted as such
//! in the entry's slot.
//!
//! A port whose `eth0` its guest set down (its host end lost its carrier)
//! leaves the device map until it is up again ([`Fabric::reap_orphans`]):
//! what would be handed to it is counted the same way.
//!
//! What the programs drop themselves is counted per port
//! ([`Fabric::port_drops`]): IPv6 a port's `eth0` sends that stays on the
//! link, frames of no protocol the fabric carries, and what was written to
//! a port's TUN device while its host end was gone.
//!
//! Every kernel object lives in the fabric namespace or in a port's
//! namespace: removing the namespaces removes the devices, the programs'
//! attachments and, with the last file descriptor, the maps. Nothing is
//! pinned.
//!
//! It knows Linux only: namespaces, links, flows as 5-tuples.

mod advance;
mod counted;
mod entries;
mod generations;
mod links;
mod loaded;
mod presence;
mod unattached;

pub(crate) use links::noqueue_here;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{bail, Context, Result};
use aya::maps::MapError;

pub use advance::{GenerationFault, Touched};
use counted::CountedPorts;
pub use entries::{
    layout, ArrivalKey, FastCounters, FastEntry, FastKey, FastRewrite, PortCounters, TunnelEntry,
    TunnelSettings, ARRIVAL_KEY_LEN, CHUNK_LEN, FLOW_COUNTERS_LEN, FLOW_ENTRY_LEN, FLOW_KEY_LEN,
    PORTS_PER_CHUNK, PORT_CHUNK_LEN, PORT_COUNTERS_LEN, PORT_LEN, SLOTS_PER_CHUNK,
    TUNNEL_ENTRY_LEN, TUNNEL_SETTINGS_LEN,
};
use entries::{port_entry, PORT_HOST_END, PORT_TUN};
use generations::Generations;
use loaded::{load, lock, Loaded, PortMap};
pub use loaded::{Fabric, TUNNEL_PROGRAM};
#[doc(hidden)]
pub use unattached::FabricPrograms;

use super::bpf::{tc, Programs};
use super::interface::{self, InterfaceConfig};
use super::netns;
use super::tun::{TunDevice, TunOptions};

/// The one MAC address every address off a port resolves to, as on
/// Azure's hosts.
pub const FABRIC_MAC: [u8; 6] = [0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc];

/// A host end's MTU: the largest a veth takes, so a packet its guest's
/// `eth0` sends, at whatever MTU the guest gave it, reaches `from_port`
/// (which sends what is larger than the port's own MTU to the daemon)
/// instead of being dropped unseen by the veth.
const HOST_END_MTU: u32 = 65_535;

/// A flow entry the fabric refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallError {
    /// The flow map holds as many entries as it was made for.
    Full,
    Other(String),
}

impl std::fmt::Display for InstallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InstallError::Full => write!(f, "the fabric's flow map is full"),
            InstallError::Other(why) => write!(f, "installing a flow entry: {why}"),
        }
    }
}

impl std::error::Error for InstallError {}

/// A port on the fabric: the ifindexes (in the fabric namespace) of its
/// host end and its TUN device, and the MAC address of its `eth0`. Its map
/// entries and program attachments go when it is dropped.
pub struct FabricPort {
    fabric: Arc<Fabric>,
    pub host_end: u32,
    pub tun: u32,
    pub mac: [u8; 6],
    /// Where the programs count its drops.
    counters_index: u32,
}

impl std::fmt::Debug for FabricPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FabricPort")
            .field("host_end", &self.host_end)
            .field("tun", &self.tun)
            .field("mac", &self.mac)
            .finish_non_exhaustive()
    }
}

impl FabricPort {
    /// The port's index in `port_counters` and `port_generations`.
    pub fn index(&self) -> u32 {
        self.counters_index
    }
}

impl Drop for FabricPort {
    fn drop(&mut self) {
        lock(&self.fabric.live).retain(|_, host_end| *host_end != self.host_end);
        let mut ports = self.fabric.ports();
        let _ = ports.remove(&self.host_end);
        let _ = ports.remove(&self.tun);
        lock(&self.fabric.counted_ports).give_back(self.counters_index);
        let _ = lock(&self.fabric.host_ends).remove(self.host_end);
        lock(&self.fabric.down).remove(&self.host_end);
    }
}

fn syscall_errno(err: &MapError) -> Option<i32> {
    match err {
        MapError::SyscallError(e) => e.io_error.raw_os_error(),
        _ => None,
    }
}

impl Fabric {
    /// Creates the fabric namespace `namespace` and loads the programs
    /// with room for `capacity` flow entries and `max_ports` ports. Fails,
    /// leaving nothing behind, where the build or the kernel lacks what
    /// the fast path needs.
    pub fn create(namespace: &str, capacity: u32, max_ports: u32) -> Result<Arc<Fabric>> {
        let capacity = capacity.max(1);
        let loaded = load(capacity, max_ports.max(1))?;
        netns::create_with(namespace, || {
            // No IPv6 of its own on the fabric's devices: they only carry.
            for file in [
                "/proc/sys/net/ipv6/conf/default/disable_ipv6",
                "/proc/sys/net/ipv6/conf/all/disable_ipv6",
            ] {
                if std::path::Path::new(file).exists() {
                    std::fs::write(file, "1").with_context(|| format!("writing 1 to {file}"))?;
                }
            }
            let program = |name| -> Result<tc::Program<'_>> {
                let fd = loaded.programs.program(name)?;
                Ok(tc::Program { fd, name })
            };
            links::set_up_blocks_here(program("from_port")?, program("from_daemon")?)
        })
        .with_context(|| format!("creating the fabric namespace {namespace}"))?;
        Ok(Arc::new(Fabric::from_loaded(
            namespace.to_owned(),
            loaded,
            capacity,
        )))
    }

    /// The fabric of namespace `namespace` over the programs and maps
    /// `loaded`, made for `capacity` flow entries.
    fn from_loaded(namespace: String, loaded: Loaded, capacity: u32) -> Fabric {
        let Loaded {
            programs,
            ports,
            flows,
            counters,
            chunks,
            port_counters,
            host_ends,
            generation,
            port_generations,
            tunnel,
        } = loaded;
        Fabric {
            namespace,
            programs,
            ports: Mutex::new(ports),
            flows: Mutex::new(flows),
            counters,
            chunks,
            port_counters,
            host_ends: Mutex::new(host_ends),
            counted_ports: Mutex::new(CountedPorts::default()),
            generations: Mutex::new(Generations::new(generation, port_generations)),
            capacity,
            next_port: AtomicU32::new(0),
            live: Mutex::new(HashMap::new()),
            down: Mutex::new(HashSet::new()),
            link_watch: Mutex::new(None),
            tunnel: Mutex::new(tunnel),
        }
    }

    /// The loaded programs and maps, for an underlay on this host to be
    /// opened over: one object, whose `trusted` map both read.
    pub fn programs(&self) -> &Arc<Programs> {
        &self.programs
    }

    /// The fabric namespace's name.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// How many flow entries the fabric holds at most.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    fn ports(&self) -> MutexGuard<'_, PortMap> {
        lock(&self.ports)
    }

    /// Puts a port on the fabric, from a thread in the port's namespace:
    /// `interface` (a veth) configured as `config` says, its host end and a
    /// TUN device opened as `tun` says in the fabric namespace, the
    /// programs attached. Returns the TUN device, whose queues are the
    /// port's slow path.
    ///
    /// The TUN device is persistent: it goes with the fabric namespace, in
    /// one batch with every other port's, or, for a port removed alone,
    /// when [`Fabric::reap_orphans`] sees its host end gone.
    pub fn plumb_port_here(
        self: &Arc<Self>,
        interface: &str,
        config: &InterfaceConfig,
        tun: TunOptions,
    ) -> Result<(TunDevice, FabricPort)> {
        let number = self.next_port.fetch_add(1, Ordering::Relaxed);
        let host_name = format!("vh{number}");
        let tun_name = format!("vt{number}");
        let fabric_path = netns::path_of(&self.namespace);
        let fabric_namespace = std::fs::File::open(&fabric_path).with_context(|| {
            format!(
                "opening the fabric namespace {} ({})",
                self.namespace,
                fabric_path.display()
            )
        })?;
        let (eth0, mac) = links::add_veth_across(
            interface,
            (config.mtu, HOST_END_MTU),
            &fabric_namespace,
            &host_name,
            FABRIC_MAC,
        )?;
        // The MTU `eth0` is given (1280 to 9000, as the file allows).
        let mtu = u16::try_from(config.mtu).unwrap_or(u16::MAX);
        let (device, port) = netns::run_in(&self.namespace, || {
            // Under its final name: no search for a free number among the
            // fabric's thousands of devices.
            let device = TunDevice::create_as(
                &tun_name,
                TunOptions {
                    persistent: true,
                    ..tun
                },
            )
            .context("creating the port's TUN device in the fabric namespace")?;
            let tun_index = device.created_index();
            let host_end = nix::net::if_::if_nametoindex(host_name.as_str())
                .with_context(|| format!("looking up {host_name}"))?;
            let counters_index = self.register(host_end, tun_index, mac, mtu, true)?;
            lock(&self.live).insert(number, host_end);
            let port = FabricPort {
                fabric: self.clone(),
                host_end,
                tun: tun_index,
                mac,
                counters_index,
            };
            links::plumb_here(&links::PortDevices {
                host_end,
                host_name: &host_name,
                tun: tun_index,
                tun_name: &tun_name,
                mtu: config.mtu,
                host_end_mtu: HOST_END_MTU,
            })?;
            Ok((device, port))
        })?;
        interface::configure_link_here(eth0, interface, config)?;
        Ok((device, port))
    }

    /// From a thread in the namespace of `host_end`: writes the `ports`
    /// entries of a port whose host end is `host_end` and TUN device `tun`,
    /// for an `eth0` of address `mac` and MTU `mtu`, and the host end into
    /// `host_ends` (a host end that is no device there fails, unless not
    /// `required`: the port is then one whose `eth0` is gone); returns
    /// where the programs count its drops.
    pub(super) fn register(
        &self,
        host_end: u32,
        tun: u32,
        mac: [u8; 6],
        mtu: u16,
        required: bool,
    ) -> Result<u32> {
        let index = lock(&self.counted_ports).take(host_end);
        let written = (|| {
            let device = lock(&self.host_ends).insert(host_end, host_end, None, 0);
            if let (Err(err), true) = (device, required) {
                bail!("registering the port's host end as a device: {err}");
            }
            let mut ports = self.ports();
            ports
                .insert(host_end, port_entry(PORT_HOST_END, tun, mac, mtu, index), 0)
                .context("registering the port's host end")?;
            ports
                .insert(tun, port_entry(PORT_TUN, host_end, mac, mtu, index), 0)
                .context("registering the port's TUN device")
        })();
        if written.is_err() {
            lock(&self.counted_ports).give_back(index);
            let _ = lock(&self.host_ends).remove(host_end);
        }
        written.map(|_| index)
    }

    /// Installs one direction of a flow, over any entry of the key already
    /// there (one of an older generation: what it counted stays in its
    /// own slot).
    pub fn install(&self, key: &FastKey, entry: FastEntry) -> Result<(), InstallError> {
        let bytes = self.checked(key.to_bytes(), entry.slot)?;
        inserted(lock(&self.flows).insert(bytes, entry.to_bytes(), BPF_ANY))
    }

    /// The bytes of a key, if it has any, for an entry counting in `slot`,
    /// if there is such a slot.
    fn checked<K>(&self, bytes: Option<K>, slot: u32) -> Result<K, InstallError> {
        let Some(bytes) = bytes else {
            return Err(InstallError::Other("addresses of two families".into()));
        };
        if slot >= self.slots() {
            return Err(InstallError::Other(format!("slot {slot} out of range")));
        }
        Ok(bytes)
    }

    /// Removes the entry of `key`, if there is one. What it carried stays
    /// in its slot.
    pub fn remove(&self, key: &FastKey) -> bool {
        key.to_bytes()
            .is_some_and(|bytes| lock(&self.flows).remove(&bytes).is_ok())
    }

    /// Where the tunnel is: from the next packet on, tunnel entries carry
    /// (to the hosts the underlay trusts) and arrival entries are used.
    pub fn set_tunnel(&self, settings: TunnelSettings) -> Result<()> {
        let mut tunnel = lock(&self.tunnel);
        tunnel
            .settings
            .set(0, settings.to_bytes(), 0)
            .context("writing the fabric's tunnel settings")?;
        tunnel.set = Some(settings);
        Ok(())
    }

    /// The tunnel's settings, once [`Fabric::set_tunnel`] wrote them.
    pub fn tunnel(&self) -> Option<TunnelSettings> {
        lock(&self.tunnel).set
    }

    /// Installs one direction of a flow that leaves by the tunnel, keyed
    /// as [`Fabric::install`] keys a flow entry, over any tunnel entry of
    /// the key already there. A flow entry of the same key (an older
    /// generation's) is left alone: it is looked up first, and not used.
    pub fn install_tunnel(&self, key: &FastKey, entry: TunnelEntry) -> Result<(), InstallError> {
        let bytes = self.checked(key.to_bytes(), entry.slot)?;
        inserted(
            lock(&self.tunnel)
                .flows
                .insert(bytes, entry.to_bytes(), BPF_ANY),
        )
    }

    /// Removes the tunnel entry of `key`, if there is one.
    pub fn remove_tunnel(&self, key: &FastKey) -> bool {
        key.to_bytes()
            .is_some_and(|bytes| lock(&self.tunnel).flows.remove(&bytes).is_ok())
    }

    /// Installs one direction of a flow as it arrives from another host:
    /// `entry` names the receiving port's host end and its `eth0`'s MAC.
    pub fn install_arrival(&self, key: &ArrivalKey, entry: FastEntry) -> Result<(), InstallError> {
        let bytes = self.checked(key.to_bytes(), entry.slot)?;
        inserted(
            lock(&self.tunnel)
                .arrivals
                .insert(bytes, entry.to_bytes(), BPF_ANY),
        )
    }

    /// Removes the arrival entry of `key`, if there is one.
    pub fn remove_arrival(&self, key: &ArrivalKey) -> bool {
        key.to_bytes()
            .is_some_and(|bytes| lock(&self.tunnel).arrivals.remove(&bytes).is_ok())
    }

    /// How many counters slots there are (at least twice the flow
    /// capacity, so that a removed entry's slot can wait to be read while
    /// others are used).
    pub fn slots(&self) -> u32 {
        self.chunks * SLOTS_PER_CHUNK
    }

    /// What each slot of chunk `chunk` (slots `chunk * SLOTS_PER_CHUNK`
    /// on) has counted since the fabric was made (a slot only grows), read
    /// with one system call.
    pub fn counters_chunk(&self, chunk: u32) -> Result<Vec<FastCounters>> {
        let bytes = self
            .counters
            .get(&chunk, 0)
            .with_context(|| format!("reading the fabric's counters chunk {chunk}"))?;
        Ok((bytes.as_chunks::<FLOW_COUNTERS_LEN>().0.iter())
            .map(|chunk| FastCounters::from_bytes(chunk))
            .collect())
    }

    /// What the programs dropped since the last call, per port on the
    /// fabric (by its host end; ports with nothing new left out): one
    /// system call per [`PORTS_PER_CHUNK`] ports.
    pub fn port_drops(&self) -> Result<Vec<(u32, PortCounters)>> {
        lock(&self.counted_ports).drops(&self.port_counters)
    }

    /// Every installed entry.
    pub fn entries(&self) -> Vec<(FastKey, FastEntry)> {
        let flows = lock(&self.flows);
        flows
            .iter()
            .filter_map(|entry| entry.ok())
            .filter_map(|(key, value)| {
                Some((FastKey::from_bytes(&key)?, FastEntry::from_bytes(&value)))
            })
            .collect()
    }
}

impl Fabric {
    /// Removes the fabric namespace, with every device left in it (a lab
    /// being torn down); nothing when it is gone already.
    pub fn remove_namespace(&self) -> Result<()> {
        if netns::exists(&self.namespace) {
            netns::delete(&self.namespace)?;
        }
        Ok(())
    }
}

impl Drop for Fabric {
    fn drop(&mut self) {
        if let Err(err) = self.remove_namespace() {
            tracing::warn!("removing the fabric namespace: {err:#}");
        }
    }
}

/// `BPF_ANY`: an insert creates or replaces.
const BPF_ANY: u64 = 0;

/// An insert's outcome, as [`Fabric::install`] says it.
fn inserted(result: Result<(), MapError>) -> Result<(), InstallError> {
    result.map_err(|err| match syscall_errno(&err) {
        Some(libc::E2BIG | libc::ENOMEM) => InstallError::Full,
        _ => InstallError::Other(err.to_string()),
    })
}
