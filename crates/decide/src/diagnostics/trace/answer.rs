//! What `trace` answers (`trace --json` prints it as it is): the hops of
//! the request and of its reply, each with the NSG or firewall rules met,
//! the route, the peering, the load balancer's step and what the hop adds,
//! and the verdict with its reason and place.

use crate::diagnostics::names::NameLookup;
use crate::topology::Access;
use serde::Serialize;
use std::net::IpAddr;

/// The answer of `trace --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trace {
    /// How the destination was found when it was written as a DNS name:
    /// Azure DNS's answer in the sender's view; the trace goes to its first
    /// address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<NameLookup>,
    pub from: String,
    pub source: String,
    pub destination: String,
    pub protocol: String,
    pub port: Option<u16>,
    /// `Allow` (the packet reached the NIC or site that holds the
    /// destination) or `Deny`.
    pub verdict: String,
    /// Why a Deny: a drop reason as `stats` names it, or one of
    /// [`TRACE_REASONS`](super::TRACE_REASONS).
    pub reason: Option<String>,
    /// Where the Deny was decided: the NIC whose drop counter counts it,
    /// named as a path names it (a gateway's port or a site's tunnel by
    /// the gateway's name).
    pub at: Option<String>,
    /// The NSG rule that denied, when one did.
    pub rule: Option<String>,
    /// What received the packet in the end (a NIC, or `site <name>`).
    pub delivered_to: Option<String>,
    /// The names crossed after the source, in order: gateways, load
    /// balancers, NICs (what an expectation's `via` names).
    pub path: Vec<String>,
    pub hops: Vec<TraceHop>,
    /// The reply, traced once the request was delivered: from the address
    /// that received the request back to the source, as the receiver's
    /// kernel sends it, through NSGs that admit it by the request's state.
    /// When it does not come back, the trace is a Deny with its reason and
    /// place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<Box<Trace>>,
    /// What Azure's network adds one way over every hop, in microseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub added_latency_us: u32,
    /// The lowest rate cap over every hop, and what imposes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bottleneck: Option<Bottleneck>,
    /// How the PaaS resource whose public face the packet reached judges
    /// it: the rule that decides, and the service's status when it
    /// refuses (the packets are delivered either way: the answer is the
    /// service's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// How the application rules of the firewall that passed the request
    /// on to them judge the name it was sent to (a trace to a DNS name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_rule: Option<String>,
}

impl Trace {
    /// Records `reply` as this trace's reply; a reply that does not come
    /// back makes the whole trace a Deny with the reply's reason, place and
    /// rule.
    pub(super) fn set_reply(&mut self, reply: Trace) {
        if reply.verdict != Access::Allow.as_str() {
            self.verdict = reply.verdict.clone();
            self.reason = reply.reason.clone();
            self.at = reply.at.clone();
            self.rule = reply.rule.clone();
        }
        self.reply = Some(Box::new(reply));
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A rate cap: its rate and what imposes it (a VM size, a gateway SKU, a
/// link's impairments, a circuit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bottleneck {
    pub mbps: u32,
    pub what: String,
}

/// What Azure's network adds on a hop and what limits it, read from the
/// tables the workers shape with (see the book's "Azure behaviour", §8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HopShaping {
    /// Delay added one way, in microseconds.
    pub added_latency_us: u32,
    /// The delay holds vnetd's estimate of a round trip between regions
    /// Azure publishes no figure for.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub latency_estimated: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub jitter_us: u32,
    /// Packets lost per million.
    #[serde(skip_serializing_if = "is_zero")]
    pub loss_ppm: u32,
    /// The lowest rate cap of the hop, the sender's VM size included.
    pub bottleneck: Option<Bottleneck>,
    /// The largest packet the hop carries.
    pub mtu: u16,
    /// The MSS a VPN tunnel clamps TCP SYNs to.
    pub mss_clamp: Option<u16>,
}

/// One pass through the fabric: from a sending NIC to a receiving one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TraceHop {
    /// The sending NIC (an appliance from the second hop on).
    pub nic: String,
    /// The sender's NSGs let the packet out as the reply of a flow they
    /// admitted (stateful), without their rules.
    #[serde(skip_serializing_if = "is_false")]
    pub outbound_by_state: bool,
    pub subnet: String,
    /// The packet as it leaves the sender.
    pub source: String,
    pub destination: String,
    pub outbound: Vec<NsgCheck>,
    pub route: Option<RouteUsed>,
    /// The virtual network gateway the route leads through.
    pub gateway: Option<String>,
    /// The gateways it hands the packet on to over Vnet2Vnet connections,
    /// in order (BGP transit through a third gateway).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub handed_on: Vec<String>,
    /// The peering link crossed (held by the sending VNet).
    pub peering: Option<String>,
    /// The Virtual Network Manager connected group crossed instead of a
    /// peering: its connectivity configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected_group: Option<String>,
    pub load_balancer: Option<LoadBalancerStep>,
    /// The receiving NIC (or site tunnel), when the packet got that far.
    pub to: Option<String>,
    /// The packet as the receiver gets it (after a load balancer's
    /// translation).
    pub received_destination: Option<String>,
    /// For a packet leaving for the Internet: how it leaves and the
    /// public address its source becomes (`NatGateway hub-nat, as
    /// 198.51.100.10`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egress: Option<String>,
    /// For a packet the Internet sends: what the public address it is
    /// sent to stands for (`NAT gateway hub-nat`, `public IP of vm2`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_address: Option<String>,
    pub inbound: Vec<NsgCheck>,
    /// The receiver's NSGs let the packet in as the reply of a flow they
    /// admitted.
    #[serde(skip_serializing_if = "is_false")]
    pub inbound_by_state: bool,
    /// What the hop adds (delay, loss) and limits (rate, MTU), when it adds
    /// or limits anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shaping: Option<HopShaping>,
}

impl TraceHop {
    /// `nic` (in `subnet`) sending from `source` to `destination`, with
    /// nothing met yet.
    pub fn sending(nic: String, subnet: String, source: IpAddr, destination: IpAddr) -> Self {
        TraceHop {
            nic,
            subnet,
            source: source.to_string(),
            destination: destination.to_string(),
            ..TraceHop::default()
        }
    }
}

/// What one NSG said: its level, name, the matching rule and its access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NsgCheck {
    pub level: &'static str,
    pub nsg: String,
    pub rule_name: String,
    pub priority: u16,
    pub access: &'static str,
    /// A security admin rule's action (`Allow`, `AlwaysAllow`, `Deny`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_action: Option<&'static str>,
}

/// The deciding route, in `az`'s words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteUsed {
    pub source: &'static str,
    pub address_prefix: String,
    pub next_hop_type: &'static str,
    pub next_hop_ip_address: Vec<String>,
    /// The route table's name, or `System Route`.
    pub route_table: String,
    /// The virtual hub route a connected VNet's row stands for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hub: Option<HubRouteUsed>,
}

/// The virtual hub route that carries a packet, as `az network vhub
/// get-effective-routes` names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HubRouteUsed {
    pub hub: String,
    pub route_table: String,
    pub address_prefix: String,
    pub next_hop_type: &'static str,
    /// The connection, remote hub or firewall, by name.
    pub next_hop: String,
    /// The static route's name, for a static route.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route_name: Option<String>,
    pub as_path: String,
}

/// An internal load balancer's part of a hop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadBalancerStep {
    pub name: String,
    pub frontend: String,
    /// The rule that carries the packet, when one does.
    pub rule: Option<String>,
    /// The backend chosen (by the same hash as forwarding).
    pub backend: Option<String>,
}
