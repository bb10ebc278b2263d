//! What the machines of a spread lab must learn from each other, carried
//! between them over BGP: one gobgpd per machine, in the machine's own
//! namespace, in iBGP with every other machine (a full mesh, AS
//! [`MESH_ASN`], port [`MESH_PORT`] of the underlay addresses), VPNv4
//! (RFC 4364) so that one prefix is carried once per gateway instance and
//! neighbour that learned it. The speaker's API is a Unix socket only root
//! reaches (see [`crate::host::routing::gobgp::vpn`]): no local user can
//! make it announce anything.
//!
//! - Each machine announces the digest of the lab's numbering it forwards
//!   with ([`crate::plan::wire::wire_digest`]: the hosts, the VNets' VNIs,
//!   the ports' MACs, the positions of gateways, load balancers and
//!   probes) as a large community of a route of its own. A machine is
//!   trusted only while it announces the same digest: until then (and as
//!   soon as it announces another, or none, or its session drops) its
//!   routes are not used, the underlay refuses its packets and sends it
//!   none, and this machine says so in its log and in `vnetd wait`.
//! - Each route a gateway on this machine learned over BGP (from a site, a
//!   circuit's edge router or a Vnet2Vnet peer) is a VPNv4 route: route
//!   distinguisher `<the neighbour it came from>:<gateway × 16 +
//!   instance>`, the route's own next hop, AS path and origin, and a large
//!   community `LEARNED_TAG:<gateway>:<instance>`. Every other machine
//!   records it as learned by that gateway instance, if it came from the
//!   machine that runs that gateway (its VNet's), so its NICs' effective
//!   routes (gateway transit, the gateway's own VNet) are what they are on
//!   the gateway's machine, and forwards toward the instance over the
//!   underlay. A route withdrawn, or a machine gone (its sessions drop,
//!   and BGP withdraws what it sent), is withdrawn everywhere.
//! - Each backend a load balancer's probe finds down, on the machine of the
//!   load balancer's VNet (the one that probes), is a route whose
//!   communities name the load balancer, the probe and the NIC: every
//!   other machine balances its clients' flows by it, as Azure's hosts
//!   all follow the platform's probes. Only that machine is listened to.
//!
//! The thread wakes on every change the speaker's RIB monitor reports,
//! and every `TICK` (200 ms) to compare what this machine's gateways have
//! learned, and its probes found down, with what it announces. It asks for
//! a publication only when what the other machines' gateways learned, or
//! their probes found, has changed.

use super::hybrid::watch::Watch;
use super::publish::Records;
use crate::daemon::forwarding::plane::PublishedPlane;
use crate::daemon::forwarding::underlay::{PeerTrust, UnderlayLink};
use crate::host::routing::gobgp::vpn::{VpnApi, VpnRoute, VpnSpeaker, VpnSpeakerSpec};
use crate::plan::wire::wire_digest;
use crate::snapshot::Snapshot;
use crate::topology::{HostIdx, Topology};
use anyhow::Result;
use carried::{announced, heard_from, received, received_health, trusted_of};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

/// The private AS of the machines' mesh (RFC 6996's 32-bit range).
pub const MESH_ASN: u32 = 4_200_000_000;
/// The BGP port the machines' speakers listen on and connect to: not 179,
/// so that it stands beside a BGP daemon of the machine's own.
pub const MESH_PORT: u16 = 1790;
/// How often this machine's learned routes are compared with what it
/// announces.
const TICK: Duration = Duration::from_millis(200);

mod carried;

/// Where this machine's speaker keeps its files: named after the lab's
/// `netns_prefix` and the host, as its namespaces are, so that two labs
/// (or two hosts of one lab on one machine) keep theirs apart.
fn run_dir(topology: &Topology, host: HostIdx) -> PathBuf {
    let name = &topology.placement.hosts[host].name;
    PathBuf::from(super::hybrid::RUN_DIR).join(format!("{}mesh-{name}", topology.netns_prefix))
}

/// The Unix socket of the API of this machine's speaker, for a spread lab
/// run as its host.
pub fn api_socket(topology: &Topology) -> Option<PathBuf> {
    let local = topology.placement.local?;
    Some(run_dir(topology, local).join(crate::host::routing::gobgp::vpn::API_SOCKET))
}

/// Stops the speaker a killed daemon of this machine left running;
/// returns its pid, if there was one.
pub fn stop_leftover(topology: &Topology) -> Result<Vec<u32>> {
    let placement = &topology.placement;
    let Some(local) = placement.local else {
        return Ok(Vec::new());
    };
    crate::host::routing::gobgp::vpn::stop_leftover(&run_dir(topology, local))
}

/// The mesh's thread, while the lab runs.
pub struct HostMesh {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// The other machines, by name and underlay address.
    peers: Vec<(String, Ipv4Addr)>,
    /// The machines whose announcements are received now: their session
    /// is up.
    heard: Arc<Mutex<BTreeSet<Ipv4Addr>>>,
}

impl HostMesh {
    /// Starts this machine's speaker and its thread, for a spread lab
    /// (`None` on one machine).
    pub fn start(
        topology: &Topology,
        plane: Arc<OnceLock<Arc<PublishedPlane>>>,
        records: Arc<Records>,
        watch: Watch,
        underlay: Option<Arc<UnderlayLink>>,
    ) -> Result<Option<HostMesh>> {
        let placement = &topology.placement;
        let Some(local) = placement.local else {
            return Ok(None);
        };
        let address = placement.hosts[local].underlay_address;
        let spec = VpnSpeakerSpec {
            netns: String::new(),
            asn: MESH_ASN,
            address,
            port: MESH_PORT,
            neighbors: (placement.hosts.iter_enumerated())
                .filter(|(h, _)| *h != local)
                .map(|(_, h)| h.underlay_address)
                .collect(),
            keepalive_secs: 1,
            hold_secs: 3,
            run_dir: run_dir(topology, local),
        };
        let peers: Vec<(String, Ipv4Addr)> = (placement.hosts.iter_enumerated())
            .filter(|(h, _)| *h != local)
            .map(|(_, h)| (h.name.clone(), h.underlay_address))
            .collect();
        let speaker = VpnSpeaker::start(spec)?;
        let stop = Arc::new(AtomicBool::new(false));
        let heard = Arc::new(Mutex::new(BTreeSet::new()));
        let state = MeshState {
            api: speaker.api(),
            address,
            plane,
            records,
            watch,
            underlay,
            announced: BTreeSet::new(),
            digest: None,
            taken_with: None,
            said: peers
                .iter()
                .map(|(_, a)| (*a, PeerTrust::Unheard))
                .collect(),
            complained: BTreeSet::new(),
            heard: heard.clone(),
        };
        // Inside the lab's span: the mesh's own, naming this machine.
        let span = tracing::info_span!("mesh", address = %address);
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("vnetd-mesh".into())
                .spawn(move || {
                    let _in_mesh = span.entered();
                    state.run(speaker, &stop)
                })?
        };
        Ok(Some(HostMesh {
            stop,
            thread: Some(thread),
            peers,
            heard,
        }))
    }

    /// The other machines, by name and underlay address.
    pub fn peers(&self) -> &[(String, Ipv4Addr)] {
        &self.peers
    }

    /// The machines heard from now (their session is up).
    pub fn heard(&self) -> BTreeSet<Ipv4Addr> {
        self.heard.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for HostMesh {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct MeshState {
    api: VpnApi,
    address: Ipv4Addr,
    plane: Arc<OnceLock<Arc<PublishedPlane>>>,
    records: Arc<Records>,
    watch: Watch,
    underlay: Option<Arc<UnderlayLink>>,
    announced: BTreeSet<VpnRoute>,
    /// The digest of the numbering of the plane generation last seen.
    digest: Option<(u64, u64)>,
    /// The digest the received routes were last taken in with.
    taken_with: Option<u64>,
    /// Each other machine's trust, as last looked at.
    said: BTreeMap<Ipv4Addr, PeerTrust>,
    /// The machines said not to be trusted since they last were.
    complained: BTreeSet<Ipv4Addr>,
    heard: Arc<Mutex<BTreeSet<Ipv4Addr>>>,
}

impl MeshState {
    fn run(mut self, speaker: VpnSpeaker, stop: &AtomicBool) {
        let (changes, inbox) = channel();
        let mut monitor = self.api.monitor(changes).ok();
        let mut read_again = true;
        while !stop.load(Ordering::Relaxed) {
            match inbox.recv_timeout(TICK) {
                Ok(()) => {
                    while inbox.try_recv().is_ok() {}
                    read_again = true;
                }
                Err(RecvTimeoutError::Timeout) => {}
                // The monitor ended: read the RIB on every tick instead.
                Err(RecvTimeoutError::Disconnected) => read_again = true,
            }
            let Some(plane) = self.plane.get() else {
                continue;
            };
            let snapshot = plane.load().snapshot.clone();
            let digest = self.digest_of(&snapshot);
            // A new numbering is announced once every worker forwards with
            // it: until then, what was announced stands.
            let settling = self.underlay.as_ref().is_some_and(|u| u.settling());
            if !settling {
                if let Err(e) = self.announce(&snapshot.topology, digest) {
                    tracing::warn!("the host mesh: {e:#}");
                }
            }
            // A new numbering: whose routes are used is decided again.
            read_again |= self.taken_with != Some(digest);
            if read_again {
                read_again = match self.take_in(&snapshot.topology, digest) {
                    Ok(()) => false,
                    Err(e) => {
                        tracing::warn!("the host mesh: {e:#}");
                        true
                    }
                };
            }
            self.say_trust();
        }
        if let Some(monitor) = &mut monitor {
            let _ = monitor.kill();
            let _ = monitor.wait();
        }
        speaker.stop();
    }

    /// The digest of the numbering `snapshot` forwards with, computed once
    /// per generation.
    fn digest_of(&mut self, snapshot: &Snapshot) -> u64 {
        match self.digest {
            Some((generation, digest)) if generation == snapshot.generation => digest,
            _ => {
                let digest = wire_digest(&snapshot.topology, &snapshot.plan);
                self.digest = Some((snapshot.generation, digest));
                digest
            }
        }
    }

    /// Brings what this machine announces in line with its numbering, and
    /// with what its gateways learned and its probes found.
    fn announce(&mut self, topology: &Topology, digest: u64) -> Result<()> {
        let local_health = self.records.health.load();
        let wanted = announced(
            topology,
            digest,
            &self.watch.book.current(),
            &local_health,
            self.address,
        );
        for gone in self.announced.difference(&wanted) {
            // One of the same key is replaced by its `add` below.
            if !wanted
                .iter()
                .any(|w| (w.distinguisher, w.prefix) == (gone.distinguisher, gone.prefix))
            {
                self.api.remove(gone.distinguisher, gone.prefix)?;
            }
        }
        for new in wanted.difference(&self.announced) {
            self.api.add(new)?;
        }
        self.announced = wanted;
        Ok(())
    }

    /// Records who is heard with which numbering, and what the trusted
    /// machines' gateways learned and probes found; publishes when that
    /// changed.
    fn take_in(&mut self, topology: &Topology, digest: u64) -> Result<()> {
        let routes = self.api.routes()?;
        self.taken_with = Some(digest);
        let heard = heard_from(&routes);
        *self.heard.lock().unwrap_or_else(|p| p.into_inner()) = heard.keys().copied().collect();
        if let Some(underlay) = &self.underlay {
            underlay.hear(&heard)?;
        }
        let trusted = trusted_of(&heard, digest);
        let learned = received(topology, &routes, &trusted);
        let health = received_health(topology, &routes, &trusted);
        if let Some(plane) = self.plane.get() {
            if **self.records.remote_health.load() != health {
                super::publish::publish_remote_health(plane, &self.records, &health);
            }
        }
        let mut changed = false;
        for ((gateway, instance), routes) in learned {
            changed |= self.watch.book.set(&gateway, instance, routes);
        }
        if changed {
            (self.watch.publish)();
        }
        Ok(())
    }

    /// Says in the log each change of another machine's trust: its first
    /// only at `debug` (a machine that comes up as it should is not news),
    /// a machine not trusted as a warning, trusted again as news.
    fn say_trust(&mut self) {
        let Some(underlay) = &self.underlay else {
            return;
        };
        for (host, address, trust) in underlay.peer_trust() {
            if self.said.insert(address, trust) == Some(trust) {
                continue;
            }
            if trust == PeerTrust::Trusted {
                if self.complained.remove(&address) {
                    tracing::info!(
                        host = %host,
                        address = %address,
                        "host {host} ({address}) is trusted again: it numbers the lab as this \
                         one does"
                    );
                } else {
                    tracing::debug!(
                        host = %host,
                        address = %address,
                        "host {host} ({address}) is trusted"
                    );
                }
                continue;
            }
            self.complained.insert(address);
            tracing::warn!(
                host = %host,
                address = %address,
                "host {host} ({address}) is not trusted: {}; its routes are not used, its \
                 packets are refused and none are sent to it",
                trust.why()
            );
        }
    }
}
