//! How a lab is run: forwarding threads, the flow table's size, flow logs,
//! where the routing daemons are found. Plain settings, filled by the
//! command line, and the limit on a lab's size that `check`, `run` and
//! `apply` hold a file to before anything is built. Every room reads them,
//! the flow logs' options among them (so that the settings depend on no
//! room); it uses no other module of the daemon.

use crate::host::routing::ProgramSearch;
use crate::host::{HostOps, LinuxHost};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How a lab is run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Forwarding threads (and TUN queues per NIC).
    pub workers: usize,
    /// Slots of the flow table (all NICs together; a tracked flow takes
    /// two, one per direction). `None`: sized for the lab at start,
    /// [`default_flow_table_slots`].
    pub flow_table_slots: Option<usize>,
    /// NSG flow logs: where and how often; off when `None`.
    pub flow_log: Option<FlowLogOptions>,
    /// Workers poll their queues without sleeping (`--busy-poll`).
    pub busy_poll: bool,
    /// Consecutive UDP datagrams of a flow go out as one super-packet
    /// where the egress device takes them (on unless
    /// `--no-udp-coalescing`).
    pub udp_coalescing: bool,
    /// Where the routing daemons' programs must be (`$PATH` and FRR's
    /// daemon directory unless told otherwise): a lab whose daemons are
    /// not all there is refused before anything is built.
    pub programs: ProgramSearch,
    /// What the lab's namespaces are built and removed with: the host's
    /// own operations unless a caller wraps them (to make one fail).
    pub host: Arc<dyn HostOps>,
    /// Admitted flows between VMs leave userspace for the kernel fast path
    /// where the build and the kernel allow it (on unless `--no-offload`
    /// or `VNETD_NO_OFFLOAD` is set to anything but `0`, `false` or ``).
    pub offload: bool,
    /// Flow directions the fast path holds at most (`--offload-max-flows`).
    pub offload_max_flows: u32,
    /// Apply Azure's delays and rates: region round trips, VM sizes,
    /// gateway SKUs, link impairments (off with `--no-shaping`).
    pub shaping: bool,
    /// Report every dropped packet as an event ([`super::drop_feed`]), for
    /// the live page (`vnetd run --ui`); off otherwise.
    pub drop_events: bool,
}

/// Where the DNS servers of the file's `dns_server` keys keep their files,
/// one directory per namespace (root's alone): made and removed by the
/// lab's services, removed by `vnetd down` after a crash.
pub const DNS_SERVERS_RUN_DIR: &str = "/run/vnetd-dns";

/// Where a lab's CA certificate is written, in a directory named after
/// the lab's first namespace: made at the lab's start, removed with it,
/// removed by `vnetd down` after a crash.
pub const TLS_RUN_DIR: &str = "/run/vnetd-tls";

/// The default cap on offloaded flow directions (`--offload-max-flows`):
/// the kernel's flow map is sized for it at start (about 10 MiB).
pub const DEFAULT_OFFLOAD_MAX_FLOWS: u32 = 65_536;

/// Whether `VNETD_NO_OFFLOAD` asks for every packet in userspace.
pub fn offload_off_by_environment() -> bool {
    std::env::var("VNETD_NO_OFFLOAD")
        .is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false" | "no" | "off"))
}

/// Ports (the file's NICs, gateway instances, site tunnels, health
/// probers, each VNet's Azure DNS, Private Endpoints, resolver endpoints) a
/// lab may have at once. Counters and flow quotas are kept per
/// port slot, allocated once for this many, and the fabric's `ports` map
/// is sized from it (two entries per port): 16,384 NICs, and room for the
/// ports vnetd adds beside them (a lab of 16,384 NICs has an Azure DNS
/// port per VNet at least).
pub const MAX_NICS: u32 = 16_384 + 1_024;

/// The error that refuses a lab of more than [`MAX_NICS`] ports, at the
/// first port past the limit; none for a lab within it.
pub fn lab_size_errors(
    topology: &crate::topology::Topology,
    plan: &crate::plan::Plan,
) -> Vec<crate::topology::Diagnostic> {
    let Some(first_over) = plan.ports.iter().nth(MAX_NICS as usize) else {
        return Vec::new();
    };
    let key = if first_over.is_vm() {
        format!("network_interfaces[{}]", first_over.name)
    } else {
        String::new()
    };
    vec![crate::topology::Diagnostic {
        file: topology.source.clone(),
        line: first_over.line,
        severity: crate::topology::Severity::Error,
        key,
        message: format!(
            "the lab would have {} ports (its NICs, and the ports vnetd adds: gateway instances, \
             site tunnels, health probers, each VNet's Azure DNS, ...); vnetd runs at most \
             {MAX_NICS} (MAX_NICS), and {} is the first past it",
            plan.ports.len(),
            first_over.name
        ),
    }]
}

/// Flow-table slots per NIC of the default size: 8,192 tracked flows each.
pub const SLOTS_PER_NIC: usize = 16 * 1024;
/// The default table is never smaller than this (32,768 flows, about 9 MiB)
/// nor larger than [`MAX_DEFAULT_SLOTS`].
pub const MIN_DEFAULT_SLOTS: usize = 64 * 1024;
/// 1M slots (524,288 flows, about 200 MiB): the largest default; more only
/// when asked for.
pub const MAX_DEFAULT_SLOTS: usize = 1 << 20;

/// The least a lab with a NAT gateway gets: room for one public
/// address's 50,000 flows to one destination, Azure's SNAT allocation,
/// so that its ports run out before the table does. Each such flow
/// holds six slots (the VM's entry, the translation and the Internet's
/// entry, each a pair): 300,000, under a third of the table, where
/// bounded probing still finds room for every one.
pub const NAT_GATEWAY_MIN_SLOTS: usize = MAX_DEFAULT_SLOTS;

const _: () = {
    let ports =
        (crate::snapshot::edge::NAT_PORTS.end - crate::snapshot::edge::NAT_PORTS.start) as usize;
    assert!(ports * 6 * 3 < NAT_GATEWAY_MIN_SLOTS);
};

/// The flow table a lab of `nics` NICs gets unless told otherwise:
/// [`SLOTS_PER_NIC`] per NIC, a power of two between [`MIN_DEFAULT_SLOTS`]
/// and [`MAX_DEFAULT_SLOTS`], and at least [`NAT_GATEWAY_MIN_SLOTS`] with
/// `nat_gateways`. The table is sized once, at start; a lab that `apply`
/// will grow can ask for more with `--flow-table-slots`.
pub fn default_flow_table_slots(nics: usize, nat_gateways: bool) -> usize {
    let sized = nics
        .saturating_mul(SLOTS_PER_NIC)
        .checked_next_power_of_two()
        .unwrap_or(MAX_DEFAULT_SLOTS)
        .clamp(MIN_DEFAULT_SLOTS, MAX_DEFAULT_SLOTS);
    if nat_gateways {
        sized.max(NAT_GATEWAY_MIN_SLOTS)
    } else {
        sized
    }
}

/// The flows the Internet edge's translations may hold together, in a
/// table of `slots`: half of its flows. They are every NIC's flows to
/// the Internet, so a NIC's share would be too few; the other half keeps
/// room for the NICs' own.
pub fn edge_translations_quota(slots: usize) -> u32 {
    u32::try_from(slots / 4).unwrap_or(u32::MAX).max(1)
}

impl RunOptions {
    /// The flow table's slots for a lab of `nics` NICs, with or without
    /// `nat_gateways`.
    pub fn flow_table_slots_for(&self, nics: usize, nat_gateways: bool) -> usize {
        self.flow_table_slots
            .unwrap_or_else(|| default_flow_table_slots(nics, nat_gateways))
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            flow_table_slots: None,
            flow_log: None,
            busy_poll: false,
            udp_coalescing: true,
            programs: ProgramSearch::from_env(),
            host: Arc::new(LinuxHost),
            offload: !offload_off_by_environment(),
            offload_max_flows: DEFAULT_OFFLOAD_MAX_FLOWS,
            shaping: true,
            drop_events: false,
        }
    }
}

/// Azure's flow-log interval: one record per NSG and MAC per minute.
pub const DEFAULT_FLOW_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Where and how often flow logs are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowLogOptions {
    pub dir: PathBuf,
    pub interval: Duration,
}

impl FlowLogOptions {
    pub fn new(dir: PathBuf) -> FlowLogOptions {
        FlowLogOptions {
            dir,
            interval: DEFAULT_FLOW_LOG_INTERVAL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_table_grows_with_the_lab_within_its_bounds() {
        assert_eq!(default_flow_table_slots(0, false), MIN_DEFAULT_SLOTS);
        assert_eq!(default_flow_table_slots(4, false), MIN_DEFAULT_SLOTS);
        assert_eq!(default_flow_table_slots(5, false), 128 * 1024);
        assert_eq!(default_flow_table_slots(40, false), 1 << 20);
        assert_eq!(default_flow_table_slots(4096, false), MAX_DEFAULT_SLOTS);
        assert_eq!(
            default_flow_table_slots(usize::MAX, false),
            MAX_DEFAULT_SLOTS
        );
        let asked = RunOptions {
            flow_table_slots: Some(1 << 22),
            ..RunOptions::default()
        };
        assert_eq!(asked.flow_table_slots_for(4, true), 1 << 22);
        assert_eq!(
            RunOptions::default().flow_table_slots_for(8, false),
            128 * 1024
        );
    }

    #[test]
    fn a_lab_with_a_nat_gateway_has_room_for_its_ports_and_the_edge_half_of_it() {
        assert_eq!(default_flow_table_slots(4, true), NAT_GATEWAY_MIN_SLOTS);
        assert_eq!(
            default_flow_table_slots(4096, true),
            NAT_GATEWAY_MIN_SLOTS.max(MAX_DEFAULT_SLOTS)
        );
        // The translations' share holds one address's ports.
        assert_eq!(edge_translations_quota(NAT_GATEWAY_MIN_SLOTS), 262_144);
        assert_eq!(edge_translations_quota(0), 1);
    }
}
