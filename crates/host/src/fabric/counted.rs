//! What the programs count per port on the fabric: each port's index in
//! `port_counters` (given when it is registered, given back when it goes,
//! each index's last reading kept so that a port given it again counts
//! from there), and the readings, one system call per
//! [`PORTS_PER_CHUNK`] ports.

use std::collections::{BTreeSet, HashMap};

use anyhow::{Context, Result};
use aya::maps::{Array, MapData};

use super::entries::{PortCounters, PORTS_PER_CHUNK, PORT_CHUNK_LEN, PORT_COUNTERS_LEN};

/// `port_counters`: `struct port_counters_chunk`s, what the programs
/// dropped, per port.
pub(super) type PortCountersMap = Array<MapData, [u8; PORT_CHUNK_LEN]>;

/// The indexes of `port_counters`: the host end of the port counting at
/// each index in use, those free (given again lowest first), and each
/// index's last reading (a port given an index counts from there).
#[derive(Debug, Default)]
pub(super) struct CountedPorts {
    host_end: HashMap<u32, u32>,
    free: BTreeSet<u32>,
    next: u32,
    read: HashMap<u32, PortCounters>,
}

impl CountedPorts {
    /// An index for the port whose host end is `host_end`.
    pub(super) fn take(&mut self, host_end: u32) -> u32 {
        let index = match self.free.pop_first() {
            Some(index) => index,
            None => {
                self.next += 1;
                self.next - 1
            }
        };
        self.host_end.insert(index, host_end);
        index
    }

    /// The index of each port in use, by its host end.
    pub(super) fn index_by_host_end(&self) -> HashMap<u32, u32> {
        (self.host_end.iter())
            .map(|(&index, &host_end)| (host_end, index))
            .collect()
    }

    /// Frees `index`, once its port is gone.
    pub(super) fn give_back(&mut self, index: u32) {
        if self.host_end.remove(&index).is_some() {
            self.free.insert(index);
        }
    }

    /// What the programs dropped, as `port_counters` holds it, since the
    /// last reading, per port in use (by its host end; ports with nothing
    /// new left out): one system call per [`PORTS_PER_CHUNK`] ports.
    pub(super) fn drops(
        &mut self,
        port_counters: &PortCountersMap,
    ) -> Result<Vec<(u32, PortCounters)>> {
        let chunks: BTreeSet<u32> = (self.host_end.keys())
            .map(|index| index / PORTS_PER_CHUNK)
            .collect();
        let mut drops = Vec::new();
        for chunk in chunks {
            let bytes = port_counters
                .get(&chunk, 0)
                .with_context(|| format!("reading the fabric's port counters chunk {chunk}"))?;
            for (offset, port) in bytes.chunks_exact(PORT_COUNTERS_LEN).enumerate() {
                let index = chunk * PORTS_PER_CHUNK + offset as u32;
                let now = PortCounters::from_bytes(port);
                let before = self.read.insert(index, now).unwrap_or_default();
                let new = now.since(&before);
                if let (false, Some(host_end)) = (new.is_empty(), self.host_end.get(&index)) {
                    drops.push((*host_end, new));
                }
            }
        }
        Ok(drops)
    }
}
