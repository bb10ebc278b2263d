//! The daemon's end of the underlay of a lab spread over machines: what it
//! opens at start, where each port placed on another machine is reached
//! (kept in the underlay's table at every publication), and how the
//! workers write to such a port and take in what other machines send.
//!
//! As on Azure, the machine of the sending NIC decides what Azure's source
//! host decides (routes, the sender's NSGs, peering, the load balancer's
//! choice of backend) and the machine of the receiving port what the
//! destination host decides (a load balancer's translation to its backend
//! and back, the receiver's inbound NSGs, delivery): each NIC's flow state
//! lives on its own machine.
//!
//! A machine is trusted only once it is known to number the lab as this
//! one does: it has announced, over the host mesh, the same digest of the
//! lab's numbering ([`crate::plan::wire::wire_digest`]). Until then (and
//! again as soon as it announces another, or nothing) its packets are
//! refused and none are sent to it, each counted against it
//! ([`UnderlayLink::hear`], [`PeerTrust`]). The comparison is made against
//! the numbering the workers forward with: an `apply` that renumbers gives
//! the new digest here before it publishes its plane
//! ([`UnderlayLink::direct`]), and no machine is trusted anew, nor the new
//! digest announced, until every worker forwards with it
//! ([`UnderlayLink::settled`]), so that no packet numbered one way ever
//! crosses to a machine that reads it another.
//!
//! The frames the workers take in and cannot deliver (a VNI that is not
//! their port's VNet's, a MAC that names no port of this machine) are
//! counted by reason ([`Discard`]).
//!
//! With offload, the underlay's devices are in the fabric's namespace and
//! the fabric's kernel fast path joins them (`join_fabric`): it sends the
//! admitted flows of this machine's NICs into the VXLAN device itself, and
//! takes the admitted flows other machines send for them before the
//! underlay hands frames to the daemon (see [`crate::daemon::forwarding::offload`]).

use crate::api::{UnderlayHostReport, UnderlayReport};
use crate::host::fabric::{Fabric, TunnelSettings, TUNNEL_PROGRAM};
use crate::host::underlay::{Underlay, UnderlayCounters, UnderlayQueue, UnderlaySpec, ETH_HLEN};
use crate::host::VNET_HDR_LEN;
use crate::plan::wire::{port_mac, wire_digest};
use crate::plan::{Plan, PortIdx};
use crate::topology::Topology;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// What this machine last heard from another over the host mesh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// Nothing: its session is down, or it announces nothing.
    Nothing,
    /// Routes, but no digest of the lab's numbering among them.
    NoDigest,
    /// The digest of the numbering it runs.
    Digest(u64),
}

/// Whether another machine is trusted, and why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerTrust {
    /// It announced the digest of the numbering this machine forwards
    /// with.
    Trusted,
    /// Nothing heard from it over the host mesh (yet, or any more).
    Unheard,
    /// Heard, but it announces no digest.
    NoDigest,
    /// It announces another digest: it numbers the lab's hosts, VNets,
    /// ports, gateways or load balancers otherwise.
    OtherNumbering,
}

impl PeerTrust {
    /// What `heard` makes of a machine, for a machine that forwards with
    /// the numbering of digest `ours`.
    pub fn of(heard: Heard, ours: u64) -> PeerTrust {
        match heard {
            Heard::Nothing => PeerTrust::Unheard,
            Heard::NoDigest => PeerTrust::NoDigest,
            Heard::Digest(theirs) if theirs == ours => PeerTrust::Trusted,
            Heard::Digest(_) => PeerTrust::OtherNumbering,
        }
    }

    /// Its name, as `stats --json` gives it.
    pub fn name(self) -> &'static str {
        match self {
            PeerTrust::Trusted => "trusted",
            PeerTrust::Unheard => "unheard",
            PeerTrust::NoDigest => "no_digest",
            PeerTrust::OtherNumbering => "other_numbering",
        }
    }

    /// Why a machine is not trusted, in words (empty when it is).
    pub fn why(self) -> &'static str {
        match self {
            PeerTrust::Trusted => "",
            PeerTrust::Unheard => "nothing heard from it over the host mesh",
            PeerTrust::NoDigest => "it announces no digest of the lab's numbering",
            PeerTrust::OtherNumbering => {
                "it numbers the lab otherwise (another file's hosts, VNets, ports, gateways or \
                 load balancers)"
            }
        }
    }
}

/// Why a worker discarded a frame another machine sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discard {
    /// Its VNI is not the VNI of the VNet of the port its MAC names.
    WrongVni = 0,
    /// Its MAC names no port of this machine (no port at all, or one that
    /// runs on another machine).
    UnknownPort = 1,
    /// Too short to hold its headers.
    Malformed = 2,
}

/// The trust of the other machines: what each was last heard announcing,
/// against the numbering the workers forward with.
#[derive(Debug)]
struct TrustBook {
    /// The digest of the numbering the workers forward with.
    ours: u64,
    heard: BTreeMap<Ipv4Addr, Heard>,
    /// The machines trusted now, as the underlay's maps hold them.
    trusted: Vec<Ipv4Addr>,
    /// A plane of numbering `ours` is being published: some worker may
    /// still forward with the one before, so no machine is trusted anew
    /// until [`UnderlayLink::settled`].
    settling: bool,
}

/// The underlay, opened: its devices and maps, and the TAP queues the
/// workers use (queue `w` is worker `w`'s).
pub struct UnderlayLink {
    underlay: Mutex<Underlay>,
    queues: Vec<UnderlayQueue>,
    /// The other machines, by name and underlay address, in the file's
    /// order.
    peers: Vec<(String, Ipv4Addr)>,
    /// Taken before `underlay`, when both are.
    trust: Mutex<TrustBook>,
    /// Frames the workers discarded, by [`Discard`].
    discards: [AtomicU64; 3],
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
        let peers: Vec<(String, Ipv4Addr)> = (placement.hosts.iter_enumerated())
            .filter(|(host, _)| *host != local)
            .map(|(_, host)| (host.name.clone(), host.underlay_address))
            .collect();
        // No one is trusted before it is heard.
        let spec = UnderlaySpec {
            local: placement.hosts[local].underlay_address,
            namespace: fabric.map(|f| f.namespace().to_owned()),
            queues: workers,
            hosts: peers.iter().map(|(_, address)| *address).collect(),
            trusted: Vec::new(),
        };
        // Over the fabric's programs: one object, whose trusted hosts its
        // fast path between hosts reads too.
        let programs = fabric.map(|f| f.programs().clone());
        let mut underlay = Underlay::open(&spec, programs).with_context(|| {
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
            tracing::warn!(
                "the underlay interface {} has MTU {}, which leaves {} for \
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
                tracing::warn!(
                    "flows between hosts stay in userspace (the kernel fast path could \
                     not join the underlay: {err:#})"
                );
            }
        }
        let queues = underlay.take_queues();
        let heard = peers.iter().map(|(_, a)| (*a, Heard::Nothing)).collect();
        Ok(Some(UnderlayLink {
            underlay: Mutex::new(underlay),
            queues,
            peers,
            trust: Mutex::new(TrustBook {
                ours: wire_digest(topology, &Plan::derive(topology)),
                heard,
                trusted: Vec::new(),
                settling: false,
            }),
            discards: Default::default(),
        }))
    }

    /// The queue worker `worker` reads and writes (the first, for a worker
    /// past the queues).
    #[inline]
    pub fn queue_for(&self, worker: usize) -> Option<&UnderlayQueue> {
        self.queues.get(worker).or_else(|| self.queues.first())
    }

    /// Points every port of `plan` placed on another machine at that
    /// machine, with its VNet's VNI, and trusts the machines heard with
    /// the digest of its numbering; called at each publication of a new
    /// plan, before the workers forward with it. A plan numbered otherwise
    /// than the one before stops trusting the machines that run the old
    /// numbering before its ports are pointed anywhere: until they run
    /// the new one, nothing crosses between them. Machines that run the
    /// new one are trusted only once the publisher says every worker
    /// forwards with it ([`UnderlayLink::settled`]).
    pub fn direct(&self, topology: &Topology, plan: &Plan) -> Result<()> {
        {
            let mut trust = self.lock_trust();
            let ours = wire_digest(topology, plan);
            trust.settling |= ours != trust.ours;
            trust.ours = ours;
            self.trust_heard(&mut trust)?;
        }
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

    /// Takes what the host mesh last heard from each other machine (a
    /// machine left out is heard saying nothing), and trusts exactly those
    /// heard with the digest of the numbering the workers forward with.
    pub fn hear(&self, heard: &BTreeMap<Ipv4Addr, Heard>) -> Result<()> {
        let mut trust = self.lock_trust();
        for (address, was) in trust.heard.iter_mut() {
            *was = heard.get(address).copied().unwrap_or(Heard::Nothing);
        }
        self.trust_heard(&mut trust)
    }

    /// Every worker forwards with the plane last given to
    /// [`UnderlayLink::direct`]: the machines that number the lab as it
    /// does are trusted from now on.
    pub fn settled(&self) -> Result<()> {
        let mut trust = self.lock_trust();
        trust.settling = false;
        self.trust_heard(&mut trust)
    }

    /// Whether a plane of another numbering is being published (see
    /// [`UnderlayLink::settled`]).
    pub fn settling(&self) -> bool {
        self.lock_trust().settling
    }

    /// Writes the machines `trust` makes trusted into the underlay's maps,
    /// if they changed (while settling, only fewer).
    fn trust_heard(&self, trust: &mut TrustBook) -> Result<()> {
        let ours = trust.ours;
        let trusted: Vec<Ipv4Addr> = (trust.heard.iter())
            .filter(|(_, heard)| PeerTrust::of(**heard, ours) == PeerTrust::Trusted)
            .map(|(address, _)| *address)
            .filter(|address| !trust.settling || trust.trusted.contains(address))
            .collect();
        if trusted != trust.trusted {
            self.lock().set_trusted(&trusted)?;
            trust.trusted = trusted;
        }
        Ok(())
    }

    /// Each other machine, by name and underlay address, in the file's
    /// order, and whether it is trusted now.
    pub fn peer_trust(&self) -> Vec<(String, Ipv4Addr, PeerTrust)> {
        let trust = self.lock_trust();
        (self.peers.iter())
            .map(|(name, address)| {
                let heard = trust.heard.get(address).copied().unwrap_or(Heard::Nothing);
                let mut said = PeerTrust::of(heard, trust.ours);
                // Trusted as soon as the plane settles.
                if said == PeerTrust::Trusted && !trust.trusted.contains(address) {
                    said = PeerTrust::OtherNumbering;
                }
                (name.clone(), *address, said)
            })
            .collect()
    }

    /// Counts a frame a worker took in and could not deliver.
    #[inline]
    pub fn discarded(&self, why: Discard) {
        self.discards[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// What crossed the underlay, as `stats` reports it.
    pub fn report(&self) -> UnderlayReport {
        let c = self.counters();
        let counted: BTreeMap<Ipv4Addr, (u64, u64)> = (self.lock().host_counters().into_iter())
            .map(|h| (h.address, (h.refused, h.not_sent)))
            .collect();
        let discarded = |why: Discard| self.discards[why as usize].load(Ordering::Relaxed);
        UnderlayReport {
            inner_mtu: self.inner_mtu(),
            sent: c.sent,
            received: c.received,
            untrusted: c.untrusted,
            not_trusted: c.not_trusted,
            no_destination: c.no_destination,
            wrong_vni: discarded(Discard::WrongVni),
            unknown_port: discarded(Discard::UnknownPort),
            malformed: discarded(Discard::Malformed),
            failed: c.failed,
            hosts: (self.peer_trust().into_iter())
                .map(|(host, address, trust)| {
                    let (refused, not_sent) = counted.get(&address).copied().unwrap_or_default();
                    UnderlayHostReport {
                        host,
                        address: address.to_string(),
                        trust: trust.name().to_owned(),
                        why: trust.why().to_owned(),
                        refused,
                        not_sent,
                    }
                })
                .collect(),
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

    fn lock_trust(&self) -> std::sync::MutexGuard<'_, TrustBook> {
        self.trust.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Lets the fabric's kernel fast path carry admitted flows between
/// machines: its `from_tunnel` runs first where frames arrive (taking those
/// of installed arrivals, leaving the rest to the underlay), and it learns
/// where the tunnel is (for its entries into it). The underlay was opened
/// over the fabric's programs: the machines it trusts are those the fast
/// path carries frames from and to, in the one map both read.
fn join_fabric(underlay: &mut Underlay, fabric: &Arc<Fabric>, local: Ipv4Addr) -> Result<()> {
    let settings = TunnelSettings {
        vxlan: underlay.vxlan_index(),
        local,
        mtu: underlay.inner_mtu(),
    };
    underlay.run_first_on_arrival(TUNNEL_PROGRAM)?;
    fabric.set_tunnel(settings)
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
    fn a_machine_is_trusted_only_with_the_digest_of_this_numbering() {
        assert_eq!(PeerTrust::of(Heard::Digest(7), 7), PeerTrust::Trusted);
        assert_eq!(
            PeerTrust::of(Heard::Digest(8), 7),
            PeerTrust::OtherNumbering
        );
        assert_eq!(PeerTrust::of(Heard::NoDigest, 7), PeerTrust::NoDigest);
        assert_eq!(PeerTrust::of(Heard::Nothing, 7), PeerTrust::Unheard);
        assert_eq!(PeerTrust::Trusted.why(), "");
        assert!(PeerTrust::NoDigest.why().contains("no digest"));
    }

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
