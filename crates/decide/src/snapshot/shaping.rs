//! The compiled form of [`crate::policy::shaping`]: what a packet meets
//! between its ingress and egress ports, in two array loads. Ports that
//! are alike (VM NICs of one VNet with one MTU, each gateway, each site's
//! tunnel to a gateway, each prober) share a class; a classes × classes
//! matrix names each pair's profile. Rate caps become buckets the workers
//! share: one per gateway, per impaired link, per circuit and per VM with
//! several NICs (a VM with one NIC is limited by its `eth0`'s qdisc).

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

use crate::plan::{Plan, PortIdx, PortKind};
use crate::policy::shaping::{between, vm_egress, vm_egress_by_nic, Endpoint};
pub use crate::policy::shaping::{Cap, PathShaping};
use crate::topology::{NicIdx, TiVec, Topology, VmIdx, VnetIdx};

/// What one pair of classes meets: the path's figures and the buckets of
/// its caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub shaping: PathShaping,
    /// Indices into [`ShapingTables::buckets`].
    pub buckets: [Option<u16>; 3],
}

/// One shared rate limit.
#[derive(Debug)]
pub struct Bucket {
    pub mbps: u32,
    /// What imposes it, in the file's names.
    pub what: String,
    /// Nanoseconds since the daemon's start at which the limit is next
    /// free: a packet starts then, and moves it on by its own length.
    pub free_at_ns: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ClassKey {
    Vm { vnet: VnetIdx, mtu: u16 },
    Other(Endpoint),
}

#[derive(Debug)]
pub struct ShapingTables {
    class_of: TiVec<PortIdx, u16>,
    /// Each class as `stats` names it: `VNet hub`, `gateway gw`, ...
    class_names: Vec<String>,
    matrix: Vec<u16>,
    pub profiles: Vec<Profile>,
    pub buckets: Vec<Bucket>,
    /// Per port: its MTU (a VM NIC's own, 1500 for the others).
    pub mtu: TiVec<PortIdx, u16>,
    /// Per port: the bucket of the multi-NIC VM it belongs to.
    pub vm_bucket: TiVec<PortIdx, Option<u16>>,
    /// Per port: the egress limit its `eth0` takes (a single-NIC VM's).
    pub eth0_limit_mbps: TiVec<PortIdx, Option<u32>>,
    /// True when some pair holds packets, clamps, or caps a VM: without
    /// it the workers skip shaping altogether.
    pub active: bool,
    /// Per profile, [`DEPARTURE_SLOTS`] clocks shared by the workers: the
    /// latest release given to a flow whose hash falls in the slot, which
    /// no later packet of the flow goes before, whichever worker paces it.
    pub departures: Box<[AtomicU64]>,
}

/// Departure clocks per profile: flows of one path whose hashes share a
/// slot keep each other's order too, which costs them nothing more than
/// the path's own jitter.
pub const DEPARTURE_SLOTS: usize = 256;

/// The endpoint a port stands for.
pub fn endpoint(plan: &Plan, port: PortIdx) -> Endpoint {
    match plan.ports[port].kind {
        // A file NIC's port sits at the NIC's own position.
        PortKind::Vm => Endpoint::Nic(NicIdx::new(port.index())),
        PortKind::GatewayInstance { gateway, .. } => Endpoint::Gateway(gateway),
        PortKind::SiteTunnel { site, gateway, .. } => Endpoint::Site { site, gateway },
        PortKind::Prober { vnet } => Endpoint::Prober(vnet),
        PortKind::Firewall { firewall } => Endpoint::Firewall(firewall),
        PortKind::RouteServerInstance { route_server, .. } => Endpoint::RouteServer(route_server),
        PortKind::AzureDns { vnet } => Endpoint::AzureDns(vnet),
        PortKind::PrivateEndpoint { endpoint } => Endpoint::PrivateEndpoint(endpoint),
        PortKind::ResolverInbound { resolver, .. }
        | PortKind::ResolverOutbound { resolver, .. } => Endpoint::Resolver(resolver),
        PortKind::Internet => Endpoint::Internet,
    }
}

impl ShapingTables {
    /// Whether `other` shapes every pair of ports as these tables do: the
    /// same classes, paths, caps and MTUs (the caps' clocks aside, which
    /// an `apply` carries over).
    pub fn shapes_alike(&self, other: &ShapingTables) -> bool {
        let ShapingTables {
            class_of,
            class_names,
            matrix,
            profiles,
            buckets,
            mtu,
            vm_bucket,
            eth0_limit_mbps,
            active,
            departures: _,
        } = self;
        *class_of == other.class_of
            && *class_names == other.class_names
            && *matrix == other.matrix
            && *profiles == other.profiles
            && buckets.len() == other.buckets.len()
            && (buckets.iter().zip(&other.buckets))
                .all(|(a, b)| a.mbps == b.mbps && a.what == b.what)
            && *mtu == other.mtu
            && *vm_bucket == other.vm_bucket
            && *eth0_limit_mbps == other.eth0_limit_mbps
            && *active == other.active
    }

    pub fn compile(topology: &Topology, plan: &Plan) -> ShapingTables {
        // A class is its kind and the most its ports take: a port on
        // another machine is reached through the underlay, which may
        // carry less than the port's own MTU.
        let mut keys: HashMap<(ClassKey, u16), u16> = HashMap::new();
        let mut representatives: Vec<Endpoint> = Vec::new();
        let mut class_mtu: Vec<u16> = Vec::new();
        let mut underlay_bound: Vec<bool> = Vec::new();
        let mut class_of = TiVec::with_capacity(plan.ports.len());
        let mut mtu = TiVec::with_capacity(plan.ports.len());
        for port in plan.ports.keys() {
            let e = endpoint(plan, port);
            let key = match e {
                Endpoint::Nic(n) => ClassKey::Vm {
                    vnet: topology.nics[n].subnet.vnet,
                    mtu: topology.nics[n].mtu,
                },
                // Azure DNS answers only its own VNet: a VM of that VNet,
                // as far as what lies between is concerned.
                Endpoint::AzureDns(vnet) => ClassKey::Vm {
                    vnet,
                    mtu: crate::topology::DEFAULT_MTU,
                },
                other => ClassKey::Other(other),
            };
            let own = match key {
                ClassKey::Vm { mtu, .. } => mtu,
                ClassKey::Other(_) => crate::topology::DEFAULT_MTU,
            };
            let between_hosts = match plan.is_local(port) {
                true => u16::MAX,
                false => topology.placement.inner_mtu.unwrap_or(u16::MAX),
            };
            let takes = own.min(between_hosts);
            mtu.push(takes);
            let next = keys.len() as u16;
            let class = *keys.entry((key, takes)).or_insert_with(|| {
                representatives.push(e);
                class_mtu.push(takes);
                underlay_bound.push(between_hosts < own);
                next
            });
            class_of.push(class);
        }
        let classes = representatives.len();
        let class_names = representatives
            .iter()
            .map(|e| match *e {
                Endpoint::Nic(n) => {
                    format!("VNet {}", topology.vnets[topology.nics[n].subnet.vnet].name)
                }
                Endpoint::Gateway(g) => format!("gateway {}", topology.gateways[g].name),
                Endpoint::Site { site, gateway } => format!(
                    "site {} (at {})",
                    topology.sites[site].name, topology.gateways[gateway].name
                ),
                Endpoint::Prober(v) => format!("prober of {}", topology.vnets[v].name),
                Endpoint::AzureDns(v) => format!("Azure DNS of {}", topology.vnets[v].name),
                Endpoint::PrivateEndpoint(e) => {
                    format!("private endpoint {}", topology.private_endpoints[e].name)
                }
                Endpoint::Resolver(r) => {
                    format!("DNS resolver {}", topology.dns_resolvers[r].name)
                }
                Endpoint::Firewall(f) => format!("firewall {}", topology.firewalls[f].name),
                Endpoint::Internet => "the Internet".to_string(),
                Endpoint::RouteServer(r) => {
                    format!("route server {}", topology.route_servers[r].name)
                }
            })
            .collect();
        let mut profiles: Vec<Profile> = Vec::new();
        let mut profile_ids: HashMap<PathShaping, u16> = HashMap::new();
        let mut bucket_ids: HashMap<Cap, u16> = HashMap::new();
        let mut buckets = Vec::new();
        let mut matrix = Vec::with_capacity(classes * classes);
        for from in &representatives {
            for ((to, takes), bound) in representatives.iter().zip(&class_mtu).zip(&underlay_bound)
            {
                let mut shaping = between(topology, *from, *to);
                // What the receiver takes bounds what the path carries.
                shaping.mtu = shaping.mtu.min(*takes);
                // An underlay that carries less than the NICs take: TCP
                // connections across it are clamped to fit (IPv6's
                // headers, the larger), so they never meet the drop of a
                // packet too big.
                if *bound {
                    let fits = takes.saturating_sub(60);
                    shaping.mss_clamp = Some(shaping.mss_clamp.map_or(fits, |m| m.min(fits)));
                }
                let id = *profile_ids.entry(shaping).or_insert_with(|| {
                    let mut ids = [None; 3];
                    for (slot, cap) in ids.iter_mut().zip(shaping.caps) {
                        *slot = cap.map(|cap| {
                            *bucket_ids.entry(cap).or_insert_with(|| {
                                buckets.push(Bucket {
                                    mbps: cap.mbps(),
                                    what: cap.describe(topology),
                                    free_at_ns: AtomicU64::new(0),
                                });
                                (buckets.len() - 1) as u16
                            })
                        });
                    }
                    profiles.push(Profile {
                        shaping,
                        buckets: ids,
                    });
                    (profiles.len() - 1) as u16
                });
                matrix.push(id);
            }
        }
        // VM egress: a single NIC's eth0 takes the limit; a VM with several
        // shares one bucket across them.
        let egress = vm_egress_by_nic(topology);
        let mut vm_buckets: HashMap<VmIdx, u16> = HashMap::new();
        let mut vm_bucket = TiVec::with_capacity(plan.ports.len());
        let mut eth0_limit_mbps = TiVec::with_capacity(plan.ports.len());
        for port in plan.ports.keys() {
            let owner = match endpoint(plan, port) {
                Endpoint::Nic(n) => egress[n],
                _ => None,
            };
            let shared = owner.filter(|e| e.shared);
            vm_bucket.push(shared.map(|e| {
                *vm_buckets.entry(e.vm).or_insert_with(|| {
                    let (v, mbps) = (&topology.virtual_machines[e.vm], e.mbps);
                    buckets.push(Bucket {
                        mbps,
                        what: format!("{mbps} Mbps: VM {} ({}), across its NICs", v.name, v.size),
                        free_at_ns: AtomicU64::new(0),
                    });
                    (buckets.len() - 1) as u16
                })
            }));
            eth0_limit_mbps.push(owner.filter(|e| !e.shared).map(|e| e.mbps));
        }
        let active = profiles
            .iter()
            .any(|p| p.shaping.holds_packets() || p.shaping.mss_clamp.is_some())
            || vm_bucket.iter().any(Option::is_some)
            || mtu.iter().any(|m| *m != crate::topology::DEFAULT_MTU);
        let departures = (0..profiles.len() * DEPARTURE_SLOTS)
            .map(|_| AtomicU64::new(0))
            .collect();
        ShapingTables {
            class_of,
            class_names,
            matrix,
            profiles,
            buckets,
            mtu,
            departures,
            vm_bucket,
            eth0_limit_mbps,
            active,
        }
    }

    /// Every limit the lab applies, as `stats` lists them: the shared caps,
    /// then each single-NIC VM's `eth0`.
    pub fn limits(&self, topology: &Topology, plan: &Plan) -> Vec<String> {
        let mut out: Vec<String> = self.buckets.iter().map(|b| b.what.clone()).collect();
        for (port, mbps) in self.eth0_limit_mbps.iter_enumerated() {
            let (Some(mbps), Endpoint::Nic(nic)) = (mbps, endpoint(plan, port)) else {
                continue;
            };
            if let Some(egress) = vm_egress(topology, nic) {
                let v = &topology.virtual_machines[egress.vm];
                out.push(format!("{mbps} Mbps: VM {} ({})", v.name, v.size));
            }
        }
        out
    }

    /// How many pairs of port classes add a delay.
    pub fn delayed_paths(&self) -> usize {
        self.delays().len()
    }

    /// Every delay the lab adds, one way, as `stats` lists them: `VNet weu
    /// -> VNet eus: +42.5 ms`.
    pub fn delays(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, profile) in self.matrix.iter().enumerate() {
            let us = self.profiles[usize::from(*profile)].shaping.delay_us;
            if us == 0 {
                continue;
            }
            let (from, to) = (
                &self.class_names[i / self.class_names.len()],
                &self.class_names[i % self.class_names.len()],
            );
            let line = format!("{from} -> {to}: +{}.{} ms", us / 1000, us % 1000 / 100);
            if !out.contains(&line) {
                out.push(line);
            }
        }
        out
    }

    /// Takes over the clocks of `previous`, the tables of the plane this
    /// one replaces: each cap's next free time, where `previous` has a cap
    /// of the same limit and the same owner, and each path's departure
    /// clocks, where `previous` has a path of the same figures. A publish
    /// that leaves a cap alone (an `apply` that edits an NSG, a route a
    /// gateway learned) leaves its rate where it was, instead of
    /// granting a fresh burst; a cap that is new or changed starts free.
    pub fn carry_clocks_from(&self, previous: &ShapingTables) {
        let caps: HashMap<(&str, u32), &Bucket> = previous
            .buckets
            .iter()
            .map(|b| ((b.what.as_str(), b.mbps), b))
            .collect();
        for bucket in &self.buckets {
            if let Some(before) = caps.get(&(bucket.what.as_str(), bucket.mbps)) {
                bucket
                    .free_at_ns
                    .store(before.free_at_ns.load(Relaxed), Relaxed);
            }
        }
        let paths: HashMap<PathShaping, usize> = previous
            .profiles
            .iter()
            .enumerate()
            .map(|(i, p)| (p.shaping, i))
            .collect();
        for (now, profile) in self.profiles.iter().enumerate() {
            let Some(&before) = paths.get(&profile.shaping) else {
                continue;
            };
            let slots = |i: usize| i * DEPARTURE_SLOTS..(i + 1) * DEPARTURE_SLOTS;
            for (to, from) in self.departures[slots(now)]
                .iter()
                .zip(&previous.departures[slots(before)])
            {
                to.store(from.load(Relaxed), Relaxed);
            }
        }
    }

    /// What a packet from `ingress` to `egress` meets.
    #[inline]
    pub fn profile(&self, ingress: PortIdx, egress: PortIdx) -> &Profile {
        &self.profiles[self.profile_index(ingress, egress)]
    }

    /// True when, with shaping on, the workers pace what `ingress` sends
    /// on the path of profile `index`: the path delays, jitters, loses or
    /// caps, or the sender's VM shares its limit across NICs.
    #[inline]
    pub fn paces(&self, ingress: PortIdx, index: usize) -> bool {
        self.profiles[index].shaping.holds_packets() || self.vm_bucket[ingress].is_some()
    }

    /// The departure clock of a flow (its hash `flow`) on profile `index`.
    #[inline]
    pub fn departure(&self, index: usize, flow: u64) -> &AtomicU64 {
        &self.departures[index * DEPARTURE_SLOTS + (flow as usize & (DEPARTURE_SLOTS - 1))]
    }

    /// The index in [`ShapingTables::profiles`] of what a packet from
    /// `ingress` to `egress` meets.
    #[inline]
    pub fn profile_index(&self, ingress: PortIdx, egress: PortIdx) -> usize {
        let (a, b) = (self.class_of[ingress], self.class_of[egress]);
        usize::from(self.matrix[usize::from(a) * self.class_names.len() + usize::from(b)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::shaping::between;
    use crate::topology::parse_str;

    fn tables(text: &str) -> (Topology, Plan, ShapingTables) {
        let topo = parse_str("lab", text).unwrap().topology;
        let plan = Plan::derive(&topo);
        let tables = ShapingTables::compile(&topo, &plan);
        (topo, plan, tables)
    }

    #[test]
    fn every_pair_of_ports_reads_what_the_policy_says() {
        for text in [
            include_str!("../../../../config/three-region-mesh.yaml"),
            include_str!("../../../../config/vnet2vnet-triangle.yaml"),
            include_str!("../../../../config/expressroute.yaml"),
            include_str!("../../../../config/hub-spoke.yaml"),
        ] {
            let (topo, plan, tables) = tables(text);
            for a in plan.ports.keys() {
                for b in plan.ports.keys() {
                    let mut expected = between(&topo, endpoint(&plan, a), endpoint(&plan, b));
                    expected.mtu = expected.mtu.min(tables.mtu[b]);
                    let got = tables.profile(a, b);
                    assert_eq!(
                        got.shaping, expected,
                        "{} -> {}",
                        plan.ports[a].name, plan.ports[b].name
                    );
                    for (cap, bucket) in got.shaping.caps.iter().zip(got.buckets) {
                        assert_eq!(cap.is_some(), bucket.is_some());
                        if let (Some(cap), Some(b)) = (cap, bucket) {
                            assert_eq!(tables.buckets[usize::from(b)].mbps, cap.mbps());
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn stats_list_each_delay_once_by_what_it_joins() {
        let (_, _, tables) = tables(include_str!("../../../../config/three-region-mesh.yaml"));
        let delays = tables.delays();
        assert!(
            delays.contains(&"VNet weu -> VNet eus: +42.5 ms".to_string()),
            "{delays:?}"
        );
        assert!(
            delays.contains(&"VNet eus -> VNet weu: +41.5 ms".to_string()),
            "{delays:?}"
        );
        // Three regions, both ways.
        assert_eq!(delays.len(), 6);
        assert_eq!(tables.delayed_paths(), 6);
    }

    #[test]
    fn one_bucket_per_gateway_whatever_the_pairs() {
        let (topo, _, tables) = tables(include_str!("../../../../config/vnet2vnet-triangle.yaml"));
        assert_eq!(tables.buckets.len(), topo.gateways.len());
        assert!(tables.active);
    }

    #[test]
    fn a_lab_in_one_region_without_sizes_or_gateways_shapes_nothing() {
        let (_, _, tables) = tables(include_str!("../../../../config/three-tier-nsg.yaml"));
        assert!(!tables.active);
        assert!(tables.buckets.is_empty());
    }

    #[test]
    fn a_single_nic_vm_limits_its_eth0_and_a_multi_nic_vm_shares_a_bucket() {
        let text = include_str!("../../../../config/three-region-mesh.yaml").replacen(
            "  - { name: eus-vm, size: Standard_D4s_v3, location: eastus, network_interfaces: [eus-vm] }",
            "  - { name: eus-vm, size: Standard_D4s_v3, location: eastus, network_interfaces: [eus-vm, eus-vm2] }",
            1,
        ).replacen(
            "  - { name: sea-vm,",
            "  - { name: eus-vm2, subnet: eus/default, private_ip_address: 10.20.1.5 }\n  - { name: sea-vm,",
            1,
        );
        let (topo, _, tables) = tables(&text);
        let nic = |name| PortIdx::of_nic(topo.nic_by_name(name).unwrap());
        assert_eq!(tables.eth0_limit_mbps[nic("weu-vm")], Some(1_000));
        assert_eq!(tables.eth0_limit_mbps[nic("eus-vm")], None);
        let shared = tables.vm_bucket[nic("eus-vm")].expect("a shared bucket");
        assert_eq!(tables.vm_bucket[nic("eus-vm2")], Some(shared));
        assert_eq!(tables.buckets[usize::from(shared)].mbps, 2_000);
        assert_eq!(tables.vm_bucket[nic("sea-vm")], None);
    }
}
