//! Which entries the kernel may use: each entry carries the generation of
//! the rules that decided it, and holds while that generation is at least
//! the fabric's floor (`generation`, raised when rules change for every
//! port) and at least the generation of each of its two ports
//! (`port_generations`, at the port's index in `port_counters`, raised for
//! the ports a change of rules touched). The daemon keeps what it wrote,
//! so it judges its own entries as the programs do.
//!
//! This is the daemon's record of them: what was written to the two maps,
//! or meant to be, how an entry is judged by it, and how it is raised.

use std::collections::HashMap;

use aya::maps::{Array, MapData};

pub(super) type GenerationMap = Array<MapData, u64>;

/// What was written to the maps, or meant to be.
pub(super) struct Generations {
    floor_map: GenerationMap,
    ports_map: GenerationMap,
    /// The fabric's floor.
    pub(super) floor: u64,
    /// Each port's generation, by index (0 where never raised).
    pub(super) ports: HashMap<u32, u64>,
    /// Fails the next write, for the tests of what follows.
    pub(super) fail_next: bool,
}

impl Generations {
    pub(super) fn new(floor_map: GenerationMap, ports_map: GenerationMap) -> Generations {
        Generations {
            floor_map,
            ports_map,
            floor: 0,
            ports: HashMap::new(),
            fail_next: false,
        }
    }
}

/// Whether an entry of `generation` between the ports at indexes `ports`
/// holds, by the record.
pub(super) fn holds(generations: &Generations, generation: u64, ports: [u32; 2]) -> bool {
    generation >= generations.floor
        && (ports.iter()).all(|p| generation >= generations.ports.get(p).copied().unwrap_or(0))
}

/// Raises the floor to `generation`, in the map and in the record (in the
/// record even when the write fails: the daemon judges its entries by it).
pub(super) fn raise_floor(
    generations: &mut Generations,
    generation: u64,
    fail: bool,
) -> Result<(), String> {
    if generation <= generations.floor {
        return Ok(());
    }
    generations.floor = generation;
    if fail {
        return Err("the write was made to fail".into());
    }
    (generations.floor_map.set(0, generation, 0)).map_err(|e| format!("the floor: {e}"))
}

/// Raises each port of `ports` to `generation`, as [`raise_floor`] does.
pub(super) fn raise_ports(
    generations: &mut Generations,
    generation: u64,
    ports: &[u32],
    fail: bool,
) -> Result<(), String> {
    let mut first_failure = fail.then(|| "the write was made to fail".to_owned());
    for &port in ports {
        let now = generations.ports.entry(port).or_insert(0);
        if generation <= *now {
            continue;
        }
        *now = generation;
        if first_failure.is_some() {
            continue;
        }
        if let Err(err) = generations.ports_map.set(port, generation, 0) {
            first_failure = Some(format!("port {port}: {err}"));
        }
    }
    first_failure.map_or(Ok(()), Err)
}
