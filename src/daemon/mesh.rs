//! What the machines of a spread lab must learn from each other, carried
//! between them over BGP: one gobgpd per machine, in the machine's own
//! namespace, in iBGP with every other machine (a full mesh, AS
//! [`MESH_ASN`], port [`MESH_PORT`] of the underlay addresses), VPNv4
//! (RFC 4364) so that one prefix is carried once per gateway instance and
//! neighbour that learned it.
//!
//! - Each route a gateway on this machine learned over BGP (from a site, a
//!   circuit's edge router or a Vnet2Vnet peer) is a VPNv4 route: route
//!   distinguisher `<the neighbour it came from>:<gateway × 16 +
//!   instance>`, the route's own next hop, AS path and origin, and a large
//!   community `LEARNED_TAG:<gateway>:<instance>`. Every other machine
//!   records it as learned by that gateway instance, so its NICs' effective
//!   routes (gateway transit, the gateway's own VNet) are what they are on
//!   the gateway's machine, and forwards toward the instance over the
//!   underlay. A route withdrawn, or a machine gone (its sessions drop,
//!   and BGP withdraws what it sent), is withdrawn everywhere.
//! - Each backend a load balancer's probe finds down, on the machine of the
//!   load balancer's VNet (the one that probes), is a route whose
//!   communities name the load balancer, the probe and the NIC: every
//!   other machine balances its clients' flows by it, as Azure's hosts
//!   all follow the platform's probes.
//! - Each machine announces the digest of the file it runs (FNV-1a, 64
//!   bits) as a large community of a route of its own. A machine whose
//!   digest differs runs another file: its routes are not used, the
//!   underlay refuses its packets, and both sides say so.
//!
//! The thread wakes on every change the speaker's RIB monitor reports,
//! and every `TICK` (200 ms) to compare what this machine's gateways have
//! learned, and its probes found down, with what it announces. It asks for
//! a publication only when what the other machines' gateways learned, or
//! their probes found, has changed.

use super::hybrid::watch::Watch;
use super::publish::Records;
use super::underlay::UnderlayLink;
use super::PublishedPlane;
use crate::host::routing::gobgp::vpn::{VpnApi, VpnRoute, VpnSpeaker, VpnSpeakerSpec};
use crate::host::routing::gobgp::Origin;
use crate::policy::gateways::{BgpOrigin, LearnedRoute, LearnedRoutes};
use crate::policy::load_balancers::{BackendHealth, ProbeTarget};
use crate::topology::{GatewayIdx, HostIdx, LoadBalancerIdx, NicIdx, Topology};
use anyhow::Result;
use ipnet::{IpNet, Ipv4Net};
use std::collections::{BTreeMap, BTreeSet};
use std::hash::Hasher;
use std::net::{IpAddr, Ipv4Addr};
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
/// The port of the speaker's API, on 127.0.0.1 of the machine.
pub const MESH_API_PORT: u16 = 50_151;
/// A learned route's large community: `LEARNED_TAG:<gateway>:<instance>`.
const LEARNED_TAG: u32 = 4_200_000_001;
/// The file digest's large community: `DIGEST_TAG:<high>:<low>`.
const DIGEST_TAG: u32 = 4_200_000_002;
/// A backend a probe found down: `DOWN_TAG:<load balancer>:<probe>` and
/// `DOWN_NIC_TAG:<NIC>:0`.
const DOWN_TAG: u32 = 4_200_000_003;
const DOWN_NIC_TAG: u32 = 4_200_000_004;
/// How often this machine's learned routes are compared with what it
/// announces.
const TICK: Duration = Duration::from_millis(200);

/// The digest of a lab file, as the machines compare it.
pub fn file_digest(text: &str) -> u64 {
    let mut hasher = fnv::FnvHasher::default();
    hasher.write(text.as_bytes());
    hasher.finish()
}

/// The routes this machine announces: its digest, and what its gateways
/// learned.
fn announced(
    topology: &Topology,
    learned: &LearnedRoutes,
    health: &BackendHealth,
    address: Ipv4Addr,
) -> BTreeSet<VpnRoute> {
    let digest = file_digest(&topology.text);
    let mut out = BTreeSet::new();
    out.insert(VpnRoute {
        distinguisher: (address, 0),
        prefix: Ipv4Net::new(address, 32).expect("a /32"),
        next_hop: address,
        as_path: Vec::new(),
        origin: Origin::Igp,
        large_communities: vec![(DIGEST_TAG, (digest >> 32) as u32, digest as u32)],
        from: None,
    });
    for target in health.down() {
        let Some((lb, probe, nic)) = target_indices(topology, target) else {
            continue;
        };
        // Only the machine of the load balancer's VNet probes it.
        let vnet = topology.load_balancers[LoadBalancerIdx::new(lb as usize)].vnet;
        if !topology
            .placement
            .is_local(topology.placement.vnet_host(vnet))
        {
            continue;
        }
        out.insert(VpnRoute {
            distinguisher: (address, 1 + (lb * 64 + probe) as u16),
            // The route's prefix only keys it: the NIC's position.
            prefix: Ipv4Net::new(Ipv4Addr::from(nic), 32).expect("a /32"),
            next_hop: address,
            as_path: Vec::new(),
            origin: Origin::Igp,
            large_communities: vec![(DOWN_TAG, lb, probe), (DOWN_NIC_TAG, nic, 0)],
            from: None,
        });
    }
    for (g, gateway) in topology.gateways.iter_enumerated() {
        if !topology.gateway_is_local(g) {
            continue;
        }
        let Some(instances) = learned.gateways.get(&gateway.name) else {
            continue;
        };
        for (instance, routes) in instances.iter().enumerate() {
            let number = u16::try_from(g.index() * 16 + instance).unwrap_or(u16::MAX);
            for route in routes {
                let (IpNet::V4(prefix), IpAddr::V4(peer), IpAddr::V4(next_hop)) =
                    (route.prefix, route.peer, route.next_hop)
                else {
                    continue;
                };
                out.insert(VpnRoute {
                    distinguisher: (peer, number),
                    prefix,
                    next_hop,
                    as_path: route.as_path.clone(),
                    origin: match route.origin {
                        BgpOrigin::Igp => Origin::Igp,
                        BgpOrigin::Egp => Origin::Egp,
                        BgpOrigin::Incomplete => Origin::Incomplete,
                    },
                    large_communities: vec![(LEARNED_TAG, g.index() as u32, instance as u32)],
                    from: None,
                });
            }
        }
    }
    out
}

/// The positions of a probe target's load balancer, probe and NIC in the
/// topology, as the mesh carries them.
fn target_indices(topology: &Topology, target: &ProbeTarget) -> Option<(u32, u32, u32)> {
    let lb = (topology.load_balancers.iter()).position(|l| l.name == target.load_balancer)?;
    let balancer = &topology.load_balancers[LoadBalancerIdx::new(lb)];
    let probe = balancer
        .probes
        .iter()
        .position(|p| p.name == target.probe)?;
    let nic = topology.nic_by_name(&target.nic)?;
    (lb < 1024 && probe < 64).then_some((lb as u32, probe as u32, nic.index() as u32))
}

/// The backends the other machines' probes found down, from the routes
/// received (of machines that run this file).
fn received_health(
    topology: &Topology,
    routes: &[VpnRoute],
    other_files: &BTreeSet<Ipv4Addr>,
) -> BackendHealth {
    let mut health = BackendHealth::default();
    for route in routes {
        if route.from.is_none_or(|from| other_files.contains(&from)) {
            continue;
        }
        let find = |tag: u32| {
            (route.large_communities.iter()).find_map(|(t, a, b)| (*t == tag).then_some((*a, *b)))
        };
        let (Some((lb, probe)), Some((nic, _))) = (find(DOWN_TAG), find(DOWN_NIC_TAG)) else {
            continue;
        };
        let Some(balancer) = topology
            .load_balancers
            .get(LoadBalancerIdx::new(lb as usize))
        else {
            continue;
        };
        let (Some(probe), Some(nic)) = (
            balancer.probes.get(probe as usize),
            topology.nics.get(NicIdx::new(nic as usize)),
        ) else {
            continue;
        };
        let target = ProbeTarget {
            load_balancer: balancer.name.clone(),
            probe: probe.name.clone(),
            nic: nic.name.clone(),
        };
        health.set(target, false);
    }
    health
}

/// What gateways on other machines learned, by gateway name and instance.
type LearnedElsewhere = BTreeMap<(String, usize), Vec<LearnedRoute>>;

/// What the other machines' gateways learned, from the routes received,
/// per gateway name and instance; and the machines whose digest is not
/// `digest`, which are left out.
fn received(
    topology: &Topology,
    routes: &[VpnRoute],
    digest: u64,
) -> (LearnedElsewhere, BTreeSet<Ipv4Addr>) {
    let mut other_files = BTreeSet::new();
    for route in routes {
        for (tag, high, low) in &route.large_communities {
            let theirs = (u64::from(*high) << 32) | u64::from(*low);
            if let (DIGEST_TAG, Some(from)) = (*tag, route.from) {
                if theirs != digest {
                    other_files.insert(from);
                }
            }
        }
    }
    let mut learned = LearnedElsewhere::new();
    // Every instance of every gateway on another machine, empty unless a
    // route says otherwise: what is no longer received is withdrawn.
    for (g, gateway) in topology.gateways.iter_enumerated() {
        if !topology.gateway_is_local(g) {
            for instance in 0..gateway.instances.len() {
                learned.insert((gateway.name.clone(), instance), Vec::new());
            }
        }
    }
    for route in routes {
        // Only routes received, and from machines that run this file.
        if route.from.is_none_or(|f| other_files.contains(&f)) {
            continue;
        }
        for (tag, gateway, instance) in &route.large_communities {
            let g = GatewayIdx::new(*gateway as usize);
            let Some(gw) = topology.gateways.get(g) else {
                continue;
            };
            if *tag != LEARNED_TAG || topology.gateway_is_local(g) {
                continue;
            }
            let Some(list) = learned.get_mut(&(gw.name.clone(), *instance as usize)) else {
                continue;
            };
            list.push(LearnedRoute {
                prefix: IpNet::V4(route.prefix),
                peer: IpAddr::V4(route.distinguisher.0),
                next_hop: IpAddr::V4(route.next_hop),
                as_path: route.as_path.clone(),
                origin: match route.origin {
                    Origin::Igp => BgpOrigin::Igp,
                    Origin::Egp => BgpOrigin::Egp,
                    Origin::Incomplete => BgpOrigin::Incomplete,
                },
            });
        }
    }
    for list in learned.values_mut() {
        list.sort_by_key(|r| (r.prefix, r.peer));
    }
    (learned, other_files)
}

/// Where this machine's speaker keeps its files: named after the lab's
/// `netns_prefix` and the host, as its namespaces are, so that two labs
/// (or two hosts of one lab on one machine) keep theirs apart.
fn run_dir(topology: &Topology, host: HostIdx) -> PathBuf {
    let name = &topology.placement.hosts[host].name;
    PathBuf::from(super::hybrid::RUN_DIR).join(format!("{}mesh-{name}", topology.netns_prefix))
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
    /// The machines whose announcement (their digest) is received now:
    /// their session is up.
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
            api_port: MESH_API_PORT,
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
            refused: BTreeSet::new(),
            heard: heard.clone(),
        };
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("vnetd-mesh".into())
                .spawn(move || state.run(speaker, &stop))?
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
    /// Machines refused for running another file.
    refused: BTreeSet<Ipv4Addr>,
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
            if let Err(e) = self.announce(&snapshot.topology) {
                eprintln!("vnetd: the host mesh: {e:#}");
            }
            if read_again {
                read_again = match self.take_in(&snapshot.topology) {
                    Ok(()) => false,
                    Err(e) => {
                        eprintln!("vnetd: the host mesh: {e:#}");
                        true
                    }
                };
            }
        }
        if let Some(monitor) = &mut monitor {
            let _ = monitor.kill();
            let _ = monitor.wait();
        }
        speaker.stop();
    }

    /// Brings what this machine announces in line with what its gateways
    /// learned.
    fn announce(&mut self, topology: &Topology) -> Result<()> {
        let local_health = self.records.health.load();
        let wanted = announced(
            topology,
            &self.watch.book.current(),
            &local_health,
            self.address,
        );
        for gone in self.announced.difference(&wanted) {
            self.api.remove(gone.distinguisher, gone.prefix)?;
        }
        for new in wanted.difference(&self.announced) {
            self.api.add(new)?;
        }
        self.announced = wanted;
        Ok(())
    }

    /// Records what the other machines' gateways learned, and publishes
    /// when it changed.
    fn take_in(&mut self, topology: &Topology) -> Result<()> {
        let routes = self.api.routes()?;
        *self.heard.lock().unwrap_or_else(|p| p.into_inner()) =
            routes.iter().filter_map(|r| r.from).collect();
        let (learned, other_files) = received(topology, &routes, file_digest(&topology.text));
        if other_files != self.refused {
            for host in other_files.difference(&self.refused) {
                eprintln!(
                    "vnetd: the host at {host} runs another lab file than this one: its routes \
                     are not used and its packets are refused; run every host with the same file"
                );
            }
            if let Some(underlay) = &self.underlay {
                underlay.refuse(topology, &other_files)?;
            }
            self.refused = other_files;
        }
        let health = received_health(topology, &routes, &self.refused);
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hybrid_on_two_hosts() -> Topology {
        let text = include_str!("../../config/hybrid.yaml").replace(
            "\nvnets:\n",
            "\nhosts:\n  - {name: h1, underlay_address: 192.0.2.1}\n  - {name: h2, underlay_address: 192.0.2.2}\n\nvnets:\n",
        );
        crate::topology::parse_str("hybrid.yaml", &text)
            .unwrap()
            .topology
    }

    #[test]
    fn a_learned_route_crosses_to_the_other_machines_as_it_was_learned() {
        let mut sender = hybrid_on_two_hosts();
        sender.placement.run_on(Some("h1")).unwrap();
        let gateway = sender.gateways[GatewayIdx::new(0)].name.clone();
        let route = LearnedRoute {
            prefix: "192.168.0.0/16".parse().unwrap(),
            peer: "10.0.255.230".parse().unwrap(),
            next_hop: "10.0.255.230".parse().unwrap(),
            as_path: vec![65010, 65011],
            origin: BgpOrigin::Igp,
        };
        let mut learned = LearnedRoutes::default();
        learned
            .gateways
            .insert(gateway.clone(), vec![vec![route.clone()]]);
        let health = BackendHealth::default();
        let sent: Vec<VpnRoute> =
            announced(&sender, &learned, &health, "192.0.2.1".parse().unwrap())
                .into_iter()
                .map(|mut r| {
                    r.from = Some("192.0.2.1".parse().unwrap());
                    r
                })
                .collect();
        assert_eq!(sent.len(), 2, "the digest and the route: {sent:?}");
        let mut receiver = hybrid_on_two_hosts();
        receiver.placement.run_on(Some("h2")).unwrap();
        let digest = file_digest(&receiver.text);
        let (got, refused) = received(&receiver, &sent, digest);
        assert!(refused.is_empty());
        assert_eq!(got[&(gateway.clone(), 0)], vec![route]);
        // The sender's own gateways are never taken back from others.
        let (echo, _) = received(&sender, &sent, digest);
        assert!(echo.is_empty(), "{echo:?}");
        // A machine with another file is refused, and its routes unused.
        let (got, refused) = received(&receiver, &sent, digest ^ 1);
        assert_eq!(
            refused.into_iter().collect::<Vec<_>>(),
            ["192.0.2.1".parse::<Ipv4Addr>().unwrap()]
        );
        assert_eq!(got[&(gateway, 0)], vec![]);
    }

    #[test]
    fn a_backend_found_down_where_its_balancer_is_probed_is_down_everywhere() {
        let text = include_str!("../../config/ha-nva.yaml").replace(
            "\nvnets:\n",
            "\nhosts:\n  - {name: h1, underlay_address: 192.0.2.1}\n  - {name: h2, underlay_address: 192.0.2.2}\n\nvnets:\n",
        )
        .replace("  - name: spoke1\n", "  - name: spoke1\n    host: h2\n");
        let topology = crate::topology::parse_str("ha-nva.yaml", &text)
            .unwrap()
            .topology;
        let down = ProbeTarget {
            load_balancer: "nva-ilb".into(),
            probe: topology.load_balancers[LoadBalancerIdx::new(0)].probes[0]
                .name
                .clone(),
            nic: "nva2".into(),
        };
        let mut health = BackendHealth::default();
        health.set(down.clone(), false);
        let mut prober = topology.clone();
        prober.placement.run_on(Some("h1")).unwrap();
        let sent: Vec<VpnRoute> = announced(
            &prober,
            &LearnedRoutes::default(),
            &health,
            "192.0.2.1".parse().unwrap(),
        )
        .into_iter()
        .map(|mut r| {
            r.from = Some("192.0.2.1".parse().unwrap());
            r
        })
        .collect();
        let mut client = topology;
        client.placement.run_on(Some("h2")).unwrap();
        let got = received_health(&client, &sent, &BTreeSet::new());
        assert_eq!(got.down().collect::<Vec<_>>(), [&down]);
        // Nothing of a machine that runs another file.
        let other: BTreeSet<Ipv4Addr> = ["192.0.2.1".parse().unwrap()].into();
        assert_eq!(
            received_health(&client, &sent, &other),
            BackendHealth::default()
        );
        // A machine that does not probe the balancer announces nothing of it.
        assert_eq!(
            announced(
                &client,
                &LearnedRoutes::default(),
                &health,
                "192.0.2.2".parse().unwrap()
            )
            .len(),
            1
        );
    }
}
