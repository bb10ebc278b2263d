//! What makes a lab as slow as Azure: virtual machines and their sizes,
//! NIC MTUs, and a link's impairments. The figures come from
//! [`crate::topology::catalog`]; the policy layer turns them into the
//! delays and rates a packet meets.

use super::index_type;
use super::indices::NicIdx;

index_type!(
    /// Index of a virtual machine in [`super::Topology::virtual_machines`].
    VmIdx
);

/// Azure's default NIC MTU, and what a NIC without `mtu` gets.
pub const DEFAULT_MTU: u16 = 1500;
/// The smallest `mtu` vnetd accepts: IPv6's minimum link MTU, since any
/// NIC may carry IPv6.
pub const MIN_MTU: u16 = 1280;
/// The largest MTU Azure supports on a NIC (the Microsoft Azure Network
/// Adapter; Mellanox NICs stop at 3900).
pub const MAX_MTU: u16 = 9000;
/// The MTU of every path that leaves a VNet and its same-region peers:
/// Azure carries a larger MTU only inside a VNet and across regional
/// peering, never through a gateway, a global peering or the internet.
pub const PATH_MTU_OUTSIDE_VNET: u16 = 1500;

/// A virtual machine: a size (and so an egress limit) over the NICs it
/// owns. Each NIC stays a namespace of its own.
#[derive(Debug, Clone)]
pub struct VirtualMachine {
    pub name: String,
    /// The size as Azure spells it.
    pub size: &'static str,
    /// The size's expected network bandwidth: what the VM may send, in
    /// Mbps, across all its NICs; `None` for a size whose series page
    /// documents none (it runs without a cap).
    pub egress_mbps: Option<u32>,
    /// Programmatic region name; the VNet's of its NICs.
    pub location: String,
    pub nics: Vec<NicIdx>,
    pub line: usize,
}

/// A link's bad day (vnetd's own key, `impairments`), on a peering or a
/// gateway connection: delay each way (replacing the regions' published
/// figure), jitter around it, a share of packets lost and a rate cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Impairments {
    pub latency_us: Option<u32>,
    pub jitter_us: u32,
    /// Packets lost per million.
    pub loss_ppm: u32,
    pub rate_mbps: Option<u32>,
}
