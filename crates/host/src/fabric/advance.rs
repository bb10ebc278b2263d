//! The fabric's generations raised, and entries installed only while
//! they hold ([`Fabric::advance`], [`Fabric::installing`]), by the record
//! of `generations.rs`.
//!
//! A write that fails must not leave the kernel deciding with older rules:
//! the generation is recorded as raised all the same (the daemon treats
//! the entries as stale), and every entry it concerns is removed from the
//! kernel's maps, so their packets reach the daemon. Only when that fails
//! too is the fabric left open, and the caller told so.

use super::entries::{FastEntry, FastKey, FLOW_ENTRY_LEN};
use super::generations::{holds, raise_floor, raise_ports};
use super::loaded::{lock, Fabric};

/// Which ports a change of rules touched.
#[derive(Debug, Clone, Copy)]
pub enum Touched<'a> {
    /// Every port: the fabric's floor is raised.
    All,
    /// The ports at these indexes of `port_counters`.
    Ports(&'a [u32]),
}

/// A generation the kernel could not be given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GenerationFault {
    /// The write failed, and every entry it concerned was removed: the
    /// kernel carries none of their packets, the daemon decides them.
    Closed(String),
    /// The write failed and so did removing the entries it concerned: the
    /// kernel may still use them.
    Open(String),
}

impl std::fmt::Display for GenerationFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GenerationFault::Closed(why) => write!(
                f,
                "writing the fast path's generation failed ({why}); its entries of the ports concerned were removed"
            ),
            GenerationFault::Open(why) => write!(
                f,
                "writing the fast path's generation and removing its entries failed ({why}); the kernel may keep older rules"
            ),
        }
    }
}

impl std::error::Error for GenerationFault {}

impl Fabric {
    /// The fabric's floor: entries of older generations are not used.
    pub fn generation(&self) -> u64 {
        lock(&self.generations).floor
    }

    /// The generation of the port at index `port` of `port_counters`.
    pub fn port_generation(&self, port: u32) -> u64 {
        let generations = lock(&self.generations);
        generations.ports.get(&port).copied().unwrap_or(0)
    }

    /// Whether an entry of `generation` between the ports at indexes
    /// `ports` holds, as the programs judge it.
    pub fn holds(&self, generation: u64, ports: [u32; 2]) -> bool {
        holds(&lock(&self.generations), generation, ports)
    }

    /// Raises to `generation` (never lowers) the floor, or the generation
    /// of the ports `touched`: from the next packet on, their entries of
    /// older generations are not used. When the kernel cannot be told, the
    /// entries concerned are removed instead ([`GenerationFault`]).
    pub fn advance(&self, generation: u64, touched: Touched<'_>) -> Result<(), GenerationFault> {
        // Held until the entries are out: no entry is installed meanwhile
        // ([`Fabric::installing`]).
        let mut generations = lock(&self.generations);
        let fail = std::mem::take(&mut generations.fail_next);
        let written = match touched {
            Touched::All => raise_floor(&mut generations, generation, fail),
            Touched::Ports(ports) => raise_ports(&mut generations, generation, ports, fail),
        };
        let Err(why) = written else {
            return Ok(());
        };
        match self.remove_entries_of(touched) {
            Ok(()) => Err(GenerationFault::Closed(why)),
            Err(also) => Err(GenerationFault::Open(format!("{why}; {also}"))),
        }
    }

    /// Runs `install` (which writes an entry of `generation` between the
    /// ports at indexes `ports`) only if such an entry holds, and with no
    /// generation raised meanwhile; `None` when it would not hold. So an
    /// entry decided under older rules never reaches the kernel after the
    /// generation that makes it stale, even one the kernel was not given.
    pub fn installing<T>(
        &self,
        generation: u64,
        ports: [u32; 2],
        install: impl FnOnce() -> T,
    ) -> Option<T> {
        let generations = lock(&self.generations);
        holds(&generations, generation, ports).then(install)
    }

    /// Makes the next [`Fabric::advance`] fail to write, as a map the
    /// kernel refuses would.
    pub fn fail_next_generation_write(&self) {
        lock(&self.generations).fail_next = true;
    }

    /// Removes from the kernel's maps every entry from or to a port
    /// `touched`.
    fn remove_entries_of(&self, touched: Touched<'_>) -> Result<(), String> {
        let indexes_of_host_ends = lock(&self.counted_ports).index_by_host_end();
        let concerns = |index: Option<&u32>| match touched {
            Touched::All => true,
            Touched::Ports(ports) => index.is_some_and(|i| ports.contains(i)),
        };
        let mut failed = Vec::new();
        {
            let mut flows = lock(&self.flows);
            let doomed: Vec<_> = (flows.iter().filter_map(Result::ok))
                .filter(|(key, value)| {
                    let from = FastKey::from_bytes(key).map(|k| k.ingress);
                    let entry = FastEntry::from_bytes(value);
                    concerns(from.as_ref().and_then(|h| indexes_of_host_ends.get(h)))
                        || concerns(Some(&entry.egress_port))
                })
                .map(|(key, _)| key)
                .collect();
            for key in doomed {
                if let Err(err) = flows.remove(&key) {
                    failed.push(err.to_string());
                }
            }
        }
        let mut tunnel = lock(&self.tunnel);
        let doomed: Vec<_> = (tunnel.flows.iter().filter_map(Result::ok))
            .filter(|(key, _)| {
                let from = FastKey::from_bytes(key).map(|k| k.ingress);
                concerns(from.as_ref().and_then(|h| indexes_of_host_ends.get(h)))
            })
            .map(|(key, _)| key)
            .collect();
        for key in doomed {
            if let Err(err) = tunnel.flows.remove(&key) {
                failed.push(err.to_string());
            }
        }
        let doomed: Vec<_> = (tunnel.arrivals.iter().filter_map(Result::ok))
            .filter(|(_, value): &(_, [u8; FLOW_ENTRY_LEN])| {
                concerns(Some(&FastEntry::from_bytes(value).egress_port))
            })
            .map(|(key, _)| key)
            .collect();
        for key in doomed {
            if let Err(err) = tunnel.arrivals.remove(&key) {
                failed.push(err.to_string());
            }
        }
        match failed.first() {
            None => Ok(()),
            Some(first) => Err(format!(
                "{} entries could not be removed: {first}",
                failed.len()
            )),
        }
    }
}
