//! The compiled tables themselves: a snapshot, each subnet's routes, each
//! NIC's facts and NSG stages, with the lookups the packet path and the
//! diagnostics make on them. A leaf of the snapshot module: its files
//! read and extend these types from here, and the module itself compiles
//! them, so no file of the snapshot needs the module's own.

use super::edge::{EdgeTables, EgressHop};
use super::firewalls::StageOwner;
use super::forwarding::{ApplianceSets, Forwarding, RouteTarget};
use super::fqdns::FqdnResolutions;
use super::gateways::GatewayTables;
use super::load_balancers::{FrontendIdx, FrontendTables};
use super::rule_names::{RuleId, RuleIdentity, RuleNames};
use super::shaping::ShapingTables;
use crate::engine::classifier::{Classifier, ProtocolSet, RuleMatch};
use crate::engine::lpm::Lpm;
use crate::plan::{Plan, PortIdx, PortKind};
use crate::policy::gateways::LearnedRoutes;
use crate::policy::load_balancers::BackendHealth;
use crate::policy::nsg::{EffectiveRule, NsgLevel};
use crate::policy::routes::EffectiveRoute;
use crate::policy::tags::AZURE_HOST_VIP;
use crate::topology::{CircuitIdx, Direction, GatewayIdx, SubnetRef, TiVec, Topology, VnetIdx};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Routes of one subnet.
#[derive(Debug)]
pub struct SubnetTables {
    pub subnet: SubnetRef,
    /// Every row, Active and Invalid, in listing order.
    pub routes: Vec<EffectiveRoute>,
    /// Active rows by prefix; the value is the row's index in `routes`.
    pub lpm: Lpm<usize>,
    /// Where each row delivers, parallel to `routes`.
    pub targets: Vec<RouteTarget>,
    /// The appliances of [`RouteTarget::Appliances`] targets.
    pub appliance_sets: ApplianceSets,
    /// The row that decides packets for 168.63.129.16: system routes only,
    /// since user routes do not apply to it.
    pub host_vip_row: Option<usize>,
}

impl SubnetTables {
    /// The deciding row for `dst`, as an index into `routes`.
    #[inline]
    pub fn decide(&self, dst: IpAddr) -> Option<usize> {
        if dst == IpAddr::V4(AZURE_HOST_VIP) {
            return self.host_vip_row;
        }
        self.lpm.lookup(dst).map(|(_, &row)| row)
    }
}

/// One NSG a packet meets at a NIC (or the firewall's rules at its port,
/// or Virtual Network Manager's security admin rules before the NSGs).
#[derive(Debug, Clone)]
pub struct NsgStage {
    pub level: NsgLevel,
    pub owner: StageOwner,
    /// The rules in evaluation order (user rules by priority, then defaults).
    pub rules: Arc<[EffectiveRule]>,
    /// First-match classifier over `rules`: index into `rules`.
    pub classifier: Arc<Classifier>,
    /// Each rule's stable number in [`Snapshot::rule_names`], parallel to
    /// `rules`: what a flow admitted by the rule remembers.
    pub rule_ids: Arc<[RuleId]>,
}

impl NsgStage {
    /// The stage of `owner`'s `rules` (in evaluation order) met at
    /// `level`: their first-match classifier, and each rule's stable
    /// number under the owner's name.
    pub(super) fn compile(
        topology: &Topology,
        level: NsgLevel,
        owner: StageOwner,
        rules: Vec<EffectiveRule>,
        rule_names: &RuleNames,
    ) -> NsgStage {
        let matches: Vec<_> = rules.iter().map(rule_match).collect();
        let name = owner.name(topology);
        let rule_ids: Vec<RuleId> = rules
            .iter()
            .map(|r| {
                rule_names.intern(RuleIdentity {
                    nsg: name.to_string(),
                    rule: r.name.clone(),
                })
            })
            .collect();
        NsgStage {
            level,
            owner,
            rules: rules.into(),
            classifier: Arc::new(Classifier::new(&matches)),
            rule_ids: rule_ids.into(),
        }
    }
}

/// Per-NIC compiled facts: everything the packet path reads about a NIC,
/// so that it never walks the topology.
#[derive(Debug)]
pub struct NicTables {
    /// Index into [`Snapshot::subnets`].
    pub subnet_slot: usize,
    /// The NIC's VNet.
    pub vnet: VnetIdx,
    /// What the port stands for: the decision asks it whether the port
    /// is a gateway's (what it sends has entered through the gateway),
    /// its VNet's health prober or Azure DNS, a firewall or the Internet.
    pub kind: PortKind,
    /// For a site's tunnel to an ExpressRoute gateway: the circuit it
    /// stands for (a packet may not go from one circuit to another).
    pub circuit: Option<CircuitIdx>,
    /// The frontends whose flows this NIC serves as a backend with the
    /// destination translated: its replies get their source translated
    /// back.
    pub translated_frontends: Box<[FrontendIdx]>,
    /// Every frontend this NIC is a backend of: what it sends through one
    /// of them would come back to the pool (Azure does not hairpin).
    pub backend_of: Box<[FrontendIdx]>,
    /// IP forwarding is on: the NIC may send from, and receive for,
    /// addresses it does not own (an appliance).
    pub ip_forwarding: bool,
    /// The NIC's own addresses, the frontend addresses of the floating-IP
    /// rules it is a backend of (it receives and answers for them, as a
    /// guest with the frontend on its loopback does), and an appliance
    /// speaker's loopback addresses (the first of each prefix it
    /// announces).
    pub addresses: Box<[IpAddr]>,
    /// The idle timeout of flows admitted at this NIC: its VNet's
    /// `flow_timeout_in_minutes`.
    pub flow_timeout_ms: u64,
    pub inbound: Vec<NsgStage>,
    pub outbound: Vec<NsgStage>,
    pub flush_inbound: bool,
    pub flush_outbound: bool,
    /// The port runs on another machine of a lab spread over several: its
    /// host applies its inbound NSGs and delivers to it, as in Azure the
    /// destination VM's host does.
    pub remote: bool,
    /// How its Internet-bound packets leave (see [`super::edge`]).
    pub egress: EgressHop,
}

impl NicTables {
    /// Whether `ip` is one of the NIC's own addresses.
    #[inline]
    pub fn owns(&self, ip: IpAddr) -> bool {
        self.addresses.contains(&ip)
    }

    pub fn stages(&self, direction: Direction) -> &[NsgStage] {
        match direction {
            Direction::Inbound => &self.inbound,
            Direction::Outbound => &self.outbound,
        }
    }

    /// True when an NSG on this NIC's path in `direction` has
    /// `flush_connection` set: its established flows are judged again when
    /// the rules change.
    #[inline]
    pub fn flushes(&self, direction: Direction) -> bool {
        match direction {
            Direction::Inbound => self.flush_inbound,
            Direction::Outbound => self.flush_outbound,
        }
    }
}

#[derive(Debug)]
pub struct Snapshot {
    pub topology: Topology,
    /// The ports the topology is realised with: [`Snapshot::nics`] and every
    /// other per-port table are indexed like `plan.ports`.
    pub plan: Plan,
    /// Counts the snapshots a daemon has published; 0 for a one-off.
    pub generation: u64,
    /// Shared by the snapshots of one topology (relearned or rehealthed),
    /// another for each topology compiled afresh.
    pub topology_version: u64,
    /// Shared with the snapshot before when their routes are the same (see
    /// [`Snapshot::relearned`]).
    pub subnets: Vec<Arc<SubnetTables>>,
    pub(super) subnet_slots: HashMap<SubnetRef, usize>,
    /// Indexed like `plan.ports` (the file's NICs first, like
    /// `topology.nics`).
    pub nics: TiVec<PortIdx, NicTables>,
    pub forwarding: Forwarding,
    /// The names behind [`NsgStage::rule_ids`], shared with the snapshots
    /// compiled before and after this one.
    pub rule_names: Arc<RuleNames>,
    /// What the gateways had learned over BGP when this snapshot was
    /// compiled: the one input beside the topology.
    pub learned: LearnedRoutes,
    /// Indexed like `topology.gateways`.
    pub gateways: TiVec<GatewayIdx, GatewayTables>,
    /// What the load balancers' health probes found when this snapshot was
    /// compiled: the other input beside the topology.
    pub health: BackendHealth,
    /// What the firewalls' DNS proxies answered for their network rules'
    /// FQDNs when this snapshot was compiled; carried over by an `apply`
    /// (the live answers hold until their TTL) and by every publish of the
    /// same topology.
    pub fqdns: Arc<FqdnResolutions>,
    /// Every load balancer's frontends, in file order.
    pub frontends: Vec<FrontendTables>,
    /// Per VNet, the port of its health prober (which owns 168.63.129.16).
    pub probers: TiVec<VnetIdx, Option<PortIdx>>,
    /// Per VNet, the port of its Azure DNS (which owns 168.63.129.16 too).
    pub azure_dns: TiVec<VnetIdx, Option<PortIdx>>,
    /// What a packet meets between two ports: delays, caps, MTU. Shared
    /// with the snapshots before and after this one of the same topology
    /// (a route learned, a backend's health), so that the caps' clocks
    /// run on across such publishes; an `apply` carries them over (see
    /// [`ShapingTables::carry_clocks_from`]).
    pub shaping: Arc<ShapingTables>,
    /// Azure DNS's answers in each VNet; shared with the snapshots of the
    /// same topology.
    pub names: Arc<crate::names::NameTables>,
    /// The Internet edge: the Internet's port, public addresses, NAT
    /// gateways.
    pub edge: EdgeTables,
}

impl Snapshot {
    /// The port named `name`: a NIC of the file or a port vnetd adds.
    pub fn port_by_name(&self, name: &str) -> Option<PortIdx> {
        self.plan.port_by_name(name)
    }

    /// The compiled frontend `frontend`.
    #[inline]
    pub fn frontend(&self, frontend: FrontendIdx) -> &FrontendTables {
        &self.frontends[frontend.0 as usize]
    }

    /// The health prober port of `vnet`, if it has load balancers.
    #[inline]
    pub fn prober(&self, vnet: VnetIdx) -> Option<PortIdx> {
        self.probers.get(vnet).copied().flatten()
    }

    pub fn subnet_tables(&self, subnet: SubnetRef) -> Option<&SubnetTables> {
        self.subnet_tables_shared(subnet).map(|t| &**t)
    }

    /// A subnet's tables as the snapshot holds them, to share.
    pub(super) fn subnet_tables_shared(&self, subnet: SubnetRef) -> Option<&Arc<SubnetTables>> {
        self.subnet_slots.get(&subnet).map(|&s| &self.subnets[s])
    }

    /// The routes that apply to traffic leaving `nic`: its subnet's.
    pub fn nic_routes(&self, nic: PortIdx) -> &SubnetTables {
        &self.subnets[self.nics[nic].subnet_slot]
    }

    /// The deciding effective route for a packet from `nic` to `dst`;
    /// `None` means no route matches (the packet is dropped).
    #[inline]
    pub fn route(&self, nic: PortIdx, dst: IpAddr) -> Option<&EffectiveRoute> {
        let tables = self.nic_routes(nic);
        tables.decide(dst).map(|row| &tables.routes[row])
    }

    /// The deciding row for a packet from `nic` to `dst`, as an index into
    /// the NIC's subnet routes, with where it delivers.
    #[inline]
    pub fn route_target(&self, nic: PortIdx, dst: IpAddr) -> Option<(usize, RouteTarget)> {
        let tables = self.nic_routes(nic);
        tables.decide(dst).map(|row| (row, tables.targets[row]))
    }
}

/// An effective security rule as a generic match for the classifier
/// ([`crate::policy::nsg::first_match`] is its plain definition).
pub fn rule_match(rule: &EffectiveRule) -> RuleMatch {
    let protocol = rule.settings.protocol;
    RuleMatch {
        protocols: ProtocolSet::from_fn(|p| protocol.matches(p)),
        src: rule.expanded_source.clone(),
        dst: rule.expanded_destination.clone(),
        src_ports: rule.settings.source_ports.clone(),
        dst_ports: rule.settings.destination_ports.clone(),
    }
}
