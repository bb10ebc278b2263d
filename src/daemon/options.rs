//! How a lab is run: forwarding threads, the flow table's size, flow logs.
//! Plain settings, filled by the command line; it uses no other room.

use super::flow_log::FlowLogOptions;

/// How a lab is run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Forwarding threads (and TUN queues per NIC).
    pub workers: usize,
    /// Slots of the flow table (tracked flows of all NICs together).
    pub flow_capacity: usize,
    /// NSG flow logs: where and how often; off when `None`.
    pub flow_log: Option<FlowLogOptions>,
}

/// NICs a lab may have at once (counters and flow quotas are kept per NIC
/// port, allocated once).
pub const MAX_NICS: u32 = 4096;

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            flow_capacity: 1 << 20,
            flow_log: None,
        }
    }
}
