//! The [`Fabric`] value and what it is made of: the fabric's programs and
//! maps, loaded from the crate's BPF object with room for a number of
//! flows and ports ([`load`]), and what the daemon keeps beside them
//! (which port counts where, the generations it wrote, which ports are
//! live or down). What a fabric does is in its sibling files: its
//! namespace, ports and entries (`mod.rs`), its generations
//! (`advance.rs`), its ports' presence (`presence.rs`), its programs run
//! without a namespace (`unattached.rs`).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{Context, Result};
use aya::maps::{Array, DevMapHash, HashMap as BpfHashMap, MapData};

use super::super::bpf::Programs;
use super::counted::{CountedPorts, PortCountersMap};
use super::entries::{
    TunnelSettings, ARRIVAL_KEY_LEN, CHUNK_LEN, FLOW_ENTRY_LEN, FLOW_KEY_LEN, PORTS_PER_CHUNK,
    PORT_LEN, SLOTS_PER_CHUNK, TUNNEL_ENTRY_LEN, TUNNEL_SETTINGS_LEN,
};
use super::generations::{GenerationMap, Generations};
use super::links;

/// The fabric namespace and the programs and maps loaded for it.
pub struct Fabric {
    pub(super) namespace: String,
    /// The loaded programs: the shared blocks' filters refer to them.
    pub(super) programs: Arc<Programs>,
    pub(super) ports: Mutex<PortMap>,
    pub(super) flows: Mutex<FlowMap>,
    /// `struct counters_chunk`s: the slots' counters.
    pub(super) counters: CountersMap,
    pub(super) chunks: u32,
    /// `struct port_counters_chunk`s: what the programs dropped, per port.
    pub(super) port_counters: PortCountersMap,
    /// The host ends that exist (the kernel removes a deleted one).
    pub(super) host_ends: Mutex<HostEndsMap>,
    /// Which port counts at each index of `port_counters`, and what each
    /// index had counted at its last reading.
    pub(super) counted_ports: Mutex<CountedPorts>,
    /// The floor and each port's generation: which entries hold.
    pub(super) generations: Mutex<Generations>,
    pub(super) capacity: u32,
    pub(super) next_port: AtomicU32,
    /// The host end of each port on the fabric, by its number (`vh<N>`).
    pub(super) live: Mutex<HashMap<u32, u32>>,
    /// The host ends of the ports whose `eth0` is down (set down by its
    /// guest, not deleted): out of `host_ends` until it is up again.
    pub(super) down: Mutex<HashSet<u32>>,
    /// The fabric namespace's link notifications, from the first
    /// [`Fabric::reap_orphans`] on.
    pub(super) link_watch: Mutex<Option<links::LinkWatch>>,
    pub(super) tunnel: Mutex<Tunnel>,
}

/// The maps of the way between hosts, and the settings written to them
/// (none until [`Fabric::set_tunnel`]).
pub(super) struct Tunnel {
    pub(super) flows: TunnelFlowMap,
    pub(super) arrivals: ArrivalMap,
    pub(super) settings: TunnelMap,
    pub(super) set: Option<TunnelSettings>,
}

impl std::fmt::Debug for Fabric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fabric")
            .field("namespace", &self.namespace)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// The value behind `mutex`, even if a thread panicked holding it.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The programs the fabric attaches: at each host end, at each TUN
/// device, and (by whoever holds the VXLAN device) [`TUNNEL_PROGRAM`].
const PROGRAMS: [&str; 3] = ["from_port", "from_daemon", TUNNEL_PROGRAM];

/// The program to run first at the VXLAN device's ingress, in a lab over
/// several hosts: it delivers the frames of arrival entries and leaves the
/// others to the underlay.
pub const TUNNEL_PROGRAM: &str = "from_tunnel";

pub(super) type FlowMap = BpfHashMap<MapData, [u8; FLOW_KEY_LEN], [u8; FLOW_ENTRY_LEN]>;
pub(super) type PortMap = BpfHashMap<MapData, u32, [u8; PORT_LEN]>;
pub(super) type CountersMap = Array<MapData, [u8; CHUNK_LEN]>;
pub(super) type HostEndsMap = DevMapHash<MapData>;
pub(super) type TunnelFlowMap = BpfHashMap<MapData, [u8; FLOW_KEY_LEN], [u8; TUNNEL_ENTRY_LEN]>;
pub(super) type ArrivalMap = BpfHashMap<MapData, [u8; ARRIVAL_KEY_LEN], [u8; FLOW_ENTRY_LEN]>;
pub(super) type TunnelMap = Array<MapData, [u8; TUNNEL_SETTINGS_LEN]>;

/// The programs and maps, loaded.
pub(super) struct Loaded {
    pub(super) programs: Arc<Programs>,
    pub(super) ports: PortMap,
    pub(super) flows: FlowMap,
    pub(super) counters: CountersMap,
    pub(super) chunks: u32,
    pub(super) port_counters: PortCountersMap,
    pub(super) host_ends: HostEndsMap,
    pub(super) generation: GenerationMap,
    pub(super) port_generations: GenerationMap,
    pub(super) tunnel: Tunnel,
}

/// Loads the object with the fabric's programs, with `capacity` flow
/// entries (and twice as many counters slots) and room for `max_ports`
/// ports (two entries each: host end and TUN).
pub(super) fn load(capacity: u32, max_ports: u32) -> Result<Loaded> {
    let chunks = capacity.saturating_mul(2).div_ceil(SLOTS_PER_CHUNK).max(1);
    let port_chunks = max_ports.div_ceil(PORTS_PER_CHUNK).max(1);
    let sizes = [
        ("flows", capacity),
        ("to_tunnel", capacity),
        ("arrivals", capacity),
        ("counters", chunks),
        ("port_counters", port_chunks),
        ("ports", max_ports.saturating_mul(2)),
        ("host_ends", max_ports),
        ("port_generations", max_ports),
    ];
    let programs = Programs::load(&sizes, &PROGRAMS).context("loading the fabric's tc programs")?;
    let tunnel = Tunnel {
        flows: programs.take_map("to_tunnel")?,
        arrivals: programs.take_map("arrivals")?,
        settings: programs.take_map("tunnel")?,
        set: None,
    };
    Ok(Loaded {
        ports: programs.take_map("ports")?,
        flows: programs.take_map("flows")?,
        counters: programs.take_map("counters")?,
        chunks,
        port_counters: programs.take_map("port_counters")?,
        host_ends: programs.take_map("host_ends")?,
        generation: programs.take_map("generation")?,
        port_generations: programs.take_map("port_generations")?,
        tunnel,
        programs,
    })
}
