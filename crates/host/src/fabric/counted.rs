//! What the programs count per port on the fabric: each port's index in
//! `port_counters` (given when it is registered, given back when it goes,
//! each index's last reading kept so that a port given it again counts
//! from there), and the readings, one system call per
//! [`PORTS_PER_CHUNK`] ports.

use std::collections::{BTreeSet, HashMap};

use anyhow::{bail, Context, Result};

use super::entries::{
    port_entry, PortCounters, PORTS_PER_CHUNK, PORT_COUNTERS_LEN, PORT_HOST_END, PORT_TUN,
};
use super::{lock, Fabric};

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
}

impl Fabric {
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

    /// What the programs dropped since the last call, per port on the
    /// fabric (by its host end; ports with nothing new left out): one
    /// system call per [`PORTS_PER_CHUNK`] ports.
    pub fn port_drops(&self) -> Result<Vec<(u32, PortCounters)>> {
        let mut counted = lock(&self.counted_ports);
        let chunks: BTreeSet<u32> = (counted.host_end.keys())
            .map(|index| index / PORTS_PER_CHUNK)
            .collect();
        let mut drops = Vec::new();
        for chunk in chunks {
            let bytes = self
                .port_counters
                .get(&chunk, 0)
                .with_context(|| format!("reading the fabric's port counters chunk {chunk}"))?;
            for (offset, port) in bytes.chunks_exact(PORT_COUNTERS_LEN).enumerate() {
                let index = chunk * PORTS_PER_CHUNK + offset as u32;
                let now = PortCounters::from_bytes(port);
                let before = counted.read.insert(index, now).unwrap_or_default();
                let new = now.since(&before);
                if let (false, Some(host_end)) = (new.is_empty(), counted.host_end.get(&index)) {
                    drops.push((*host_end, new));
                }
            }
        }
        Ok(drops)
    }
}
