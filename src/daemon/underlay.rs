//! The daemon's end of the underlay of a lab spread over machines: what it
//! opens at start, where each port placed on another machine is reached
//! (kept in the underlay's table at every publication), and how the
//! workers write to such a port and take in what other machines send.
//!
//! As on Azure, the machine of the sending NIC decides what Azure's source
//! host decides (routes, the sender's NSGs, peering, load balancing) and
//! the machine of the receiving port what the destination host decides
//! (the receiver's inbound NSGs, delivery): each NIC's flow state lives on
//! its own machine.
//!
//! With offload, the underlay's devices are in the fabric's namespace and
//! the fabric's kernel fast path joins them (`join_fabric`): it sends the
//! admitted flows of this machine's NICs into the VXLAN device itself, and
//! takes the admitted flows other machines send for them before the
//! underlay hands frames to the daemon (see [`crate::daemon::offload`]).

use crate::host::fabric::{Fabric, TunnelSettings};
use crate::host::underlay::{Underlay, UnderlayCounters, UnderlayQueue, UnderlaySpec, ETH_HLEN};
use crate::host::VNET_HDR_LEN;
use crate::plan::wire::port_mac;
use crate::plan::{Plan, PortIdx};
use crate::topology::Topology;
use anyhow::{Context, Result};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

/// The underlay, opened: its devices and maps, and the TAP queues the
/// workers use (queue `w` is worker `w`'s).
pub struct UnderlayLink {
    underlay: Mutex<Underlay>,
    queues: Vec<UnderlayQueue>,
}

impl std::fmt::Debug for UnderlayLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnderlayLink")
            .field("queues", &self.queues.len())
            .finish_non_exhaustive()
    }
}

impl UnderlayLink {
    /// Opens the underlay of a spread lab's machine, with one queue per
    /// worker, its devices in the namespace of `fabric` (with offload),
    /// which it joins (`join_fabric`), or in the daemon's own. `None` for
    /// a lab on one machine.
    ///
    /// An underlay whose MTU cannot carry 1500-byte packets with VXLAN's 50
    /// bytes is used with the smaller inner MTU it leaves, said once here:
    /// nothing is fragmented.
    pub fn open(
        topology: &Topology,
        fabric: Option<&Arc<Fabric>>,
        workers: usize,
    ) -> Result<Option<UnderlayLink>> {
        let placement = &topology.placement;
        let Some(local) = placement.local else {
            return Ok(None);
        };
        let trusted: Vec<Ipv4Addr> = (placement.hosts.iter_enumerated())
            .filter(|(host, _)| *host != local)
            .map(|(_, host)| host.underlay_address)
            .collect();
        let spec = UnderlaySpec {
            local: placement.hosts[local].underlay_address,
            namespace: fabric.map(|f| f.namespace().to_owned()),
            queues: workers,
            trusted,
        };
        let mut underlay = Underlay::open(&spec).with_context(|| {
            let left = nix::net::if_::if_nametoindex(crate::host::underlay::VXLAN_DEVICE).is_ok();
            format!(
                "opening the VXLAN underlay on {} (host {}){}",
                spec.local,
                placement.hosts[local].name,
                if left {
                    ": a crashed run left its VXLAN device here; `vnetd down FILE --host NAME` removes it"
                } else {
                    ""
                }
            )
        })?;
        if underlay.inner_mtu() < u32::from(crate::topology::DEFAULT_MTU) {
            eprintln!(
                "vnetd: warning: the underlay interface {} has MTU {}, which leaves {} for \
                 packets between hosts after VXLAN's {} bytes (Azure's is 1500): a larger packet \
                 for another host meets that as its path MTU; raise the MTU to {} for 1500",
                underlay.underlay_interface(),
                underlay.underlay_mtu(),
                underlay.inner_mtu(),
                crate::host::underlay::VXLAN_OVERHEAD,
                u32::from(crate::topology::DEFAULT_MTU)
                    + u32::from(crate::host::underlay::VXLAN_OVERHEAD)
            );
        }
        if let Some(fabric) = fabric {
            if let Err(err) = join_fabric(&mut underlay, fabric, spec.local) {
                eprintln!(
                    "vnetd: flows between hosts stay in userspace (the kernel fast path could \
                     not join the underlay: {err:#})"
                );
            }
        }
        let queues = underlay.take_queues();
        Ok(Some(UnderlayLink {
            underlay: Mutex::new(underlay),
            queues,
        }))
    }

    /// The queue worker `worker` reads and writes (the first, for a worker
    /// past the queues).
    #[inline]
    pub fn queue_for(&self, worker: usize) -> Option<&UnderlayQueue> {
        self.queues.get(worker).or_else(|| self.queues.first())
    }

    /// Points every port of `plan` placed on another machine at that
    /// machine, with its VNet's VNI; called at each publication of a new
    /// plan, before the workers forward with it.
    pub fn direct(&self, topology: &Topology, plan: &Plan) -> Result<()> {
        let hosts = &topology.placement.hosts;
        let destinations: Vec<([u8; 6], Ipv4Addr, u32)> = (plan.ports.iter_enumerated())
            .filter(|(port, _)| !plan.is_local(*port))
            .filter_map(|(port, p)| {
                let host = hosts.get(p.host)?;
                Some((port_mac(port), host.underlay_address, plan.port_vni(port)))
            })
            .collect();
        self.lock().set_destinations(&destinations)
    }

    /// Trusts every other machine of the placement but `refused` (machines
    /// that run another lab file).
    pub fn refuse(&self, topology: &Topology, refused: &BTreeSet<Ipv4Addr>) -> Result<()> {
        let placement = &topology.placement;
        let trusted: Vec<Ipv4Addr> = (placement.hosts.iter_enumerated())
            .filter(|(host, _)| Some(*host) != placement.local)
            .map(|(_, host)| host.underlay_address)
            .filter(|address| !refused.contains(address))
            .collect();
        self.lock().set_trusted(&trusted)
    }

    /// What crossed the underlay, as `stats` reports it.
    pub fn report(&self) -> crate::api::UnderlayReport {
        let c = self.counters();
        crate::api::UnderlayReport {
            inner_mtu: self.inner_mtu(),
            sent: c.sent,
            received: c.received,
            untrusted: c.untrusted,
            no_destination: c.no_destination,
            failed: c.failed,
        }
    }

    /// What the underlay's programs counted.
    pub fn counters(&self) -> UnderlayCounters {
        self.lock().counters()
    }

    /// The MTU of packets between machines.
    pub fn inner_mtu(&self) -> u16 {
        u16::try_from(self.lock().inner_mtu()).unwrap_or(u16::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Underlay> {
        self.underlay.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Lets the fabric's kernel fast path carry admitted flows between
/// machines: its `from_tunnel` runs first where frames arrive (taking those
/// of installed arrivals, leaving the rest to the underlay), and it learns
/// where the tunnel is (for its entries into it) and, now and at every
/// change, which machines the underlay trusts: it carries frames only from
/// and to them.
fn join_fabric(underlay: &mut Underlay, fabric: &Arc<Fabric>, local: Ipv4Addr) -> Result<()> {
    let settings = TunnelSettings {
        vxlan: underlay.vxlan_index(),
        local,
        mtu: underlay.inner_mtu(),
    };
    let program = fabric.tunnel_program()?;
    let told = fabric.clone();
    underlay.run_first_on_arrival(
        program,
        "from_tunnel",
        Box::new(move |trusted| told.set_tunnel(settings, trusted)),
    )
}

/// The Ethernet header of a packet for port `port` on another machine:
/// the port's MAC, and the packet's IP version. `packet` is the virtio-net
/// header and the IP packet.
#[inline]
pub fn frame_header(port: PortIdx, packet: &[u8]) -> [u8; ETH_HLEN] {
    let mut eth = [0u8; ETH_HLEN];
    eth[..6].copy_from_slice(&port_mac(port));
    let ipv6 = packet.get(VNET_HDR_LEN).is_some_and(|b| b >> 4 == 6);
    eth[12..].copy_from_slice(&if ipv6 { [0x86, 0xdd] } else { [0x08, 0x00] });
    eth
}

/// The VNI the sending machine's underlay wrote into a frame's source MAC
/// (`02:00:<VNI, 24 bits>:00`).
#[inline]
pub fn frame_vni(eth: &[u8; ETH_HLEN]) -> u32 {
    u32::from_be_bytes([0, eth[8], eth[9], eth[10]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_names_its_port_and_ip_version() {
        let mut packet = [0u8; VNET_HDR_LEN + 20];
        packet[VNET_HDR_LEN] = 0x45;
        let eth = frame_header(PortIdx::new(7), &packet);
        assert_eq!(eth[..6], port_mac(PortIdx::new(7)));
        assert_eq!(eth[12..], [0x08, 0x00]);
        packet[VNET_HDR_LEN] = 0x60;
        assert_eq!(frame_header(PortIdx::new(7), &packet)[12..], [0x86, 0xdd]);
        let mut arrived = [0u8; ETH_HLEN];
        arrived[6..12].copy_from_slice(&[0x02, 0x00, 0x00, 0x01, 0x02, 0x00]);
        assert_eq!(frame_vni(&arrived), 0x0102);
    }
}
