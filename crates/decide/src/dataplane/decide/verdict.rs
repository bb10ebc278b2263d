//! The decision's vocabulary: what happens to a packet ([`Verdict`]) and
//! why a packet was dropped ([`DropReason`]).

use crate::dataplane::nat::Rewrite;
use crate::snapshot::PortIdx;
use crate::snapshot::RuleId;
use crate::topology::Direction;

/// Why a packet was dropped. The discriminants index per-NIC counters.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::IntoStaticStr,
    strum::EnumCount,
    strum::VariantArray,
)]
#[strum(serialize_all = "snake_case")]
#[repr(u8)]
pub enum DropReason {
    /// Not a readable IPv4/IPv6 packet.
    Malformed = 0,
    /// GRE or IP-in-IP, which Azure blocks.
    BlockedProtocol,
    /// Broadcast, multicast or unspecified destination.
    Unroutable,
    /// A NIC without IP forwarding sent from an address it does not own.
    SourceCheck,
    /// Denied by an outbound NSG rule of the sending NIC.
    NsgOutbound,
    /// No effective route matches the destination.
    NoRoute,
    /// The deciding route has next hop None.
    RouteNone,
    /// The deciding route goes to the Internet, and the sender has no way
    /// out: no NAT gateway on its subnet, no public IP, no default outbound
    /// access (a private subnet), or a lab without an Internet.
    NextHopInternet,
    /// The deciding route goes to a virtual network gateway, and there is
    /// none (a user route to VirtualNetworkGateway in a VNet without one).
    NextHopGateway,
    /// A VirtualAppliance route whose address is no directly reachable NIC.
    ApplianceUnreachable,
    /// No NIC owns the destination address in the VNet the route leads to.
    NoDestination,
    /// The packet would cross a peering that is not Connected.
    PeeringNotConnected,
    /// `allow_virtual_network_access` is off on a link of the peering.
    PeeringAccessOff,
    /// The receiving VNet's link does not accept forwarded traffic.
    ForwardedTrafficRefused,
    /// A NIC without IP forwarding received a packet not addressed to it.
    DestinationCheck,
    /// Denied by an inbound NSG rule of the receiving NIC.
    NsgInbound,
    /// The egress device could not take the packet (its queue was full).
    EgressFull,
    /// The egress device is gone or broken (its namespace was deleted
    /// behind the lab's back, or the device reports an I/O error).
    EgressGone,
    /// Writing to the egress device failed for another reason.
    EgressError,
    /// Reading from the NIC's device failed (not merely "nothing to read");
    /// counted at the NIC, whose queue is no longer watched.
    ReceiveError,
    /// A later fragment of a datagram whose first fragment was not let
    /// through (or not seen, or too long ago): its ports are unknown.
    FragmentUnmatched,
    /// The gateway's own table has no route for the destination (or no
    /// tunnel of an instance that knows it).
    GatewayNoRoute,
    /// Gateways handed the packet to each other more than twice.
    GatewayLoop,
    /// Entered from one ExpressRoute circuit and would leave by another:
    /// an ExpressRoute gateway carries no circuit-to-circuit traffic
    /// (Azure's answer is Global Reach, which bypasses the VNet).
    CircuitTransit,
    /// Sent to a load balancer's frontend, but no rule of the frontend
    /// carries its protocol and port (or, through a route to the frontend,
    /// it has no HA-ports rule).
    LbNoRule,
    /// The load balancer's rule has no healthy backend for a new flow.
    LbNoHealthyBackend,
    /// A backend sent through its own load balancer's frontend, which
    /// Azure does not hairpin (or answered a flow sent from a frontend's
    /// own address, which no client owns).
    LbHairpin,
    /// Larger than its path's MTU with DF set, or IPv6: Azure fragments
    /// only IPv4 without DF, and answers with no ICMP. Counted at the
    /// sender.
    TooBig,
    /// A rate cap on the path (a gateway's aggregate, a link's cap, a VM's
    /// egress across its NICs) had 50 ms of traffic queued already.
    RateQueueFull,
    /// Lost to a link's `impairments.loss_percent`.
    ImpairedLoss,
    /// The worker's delay line had no room for the packet.
    DelayLineFull,
    /// Denied by an Azure Firewall: a network rule with action Deny, or
    /// no rule matched (the default action). Counted at the firewall.
    FirewallDenied,
    /// Entered from a VPN site and would leave to an ExpressRoute site (or
    /// the other way) through the gateways of one VNet, whose Route Server
    /// does not allow branch-to-branch traffic (or which has none).
    BranchToBranch,
    /// The queue between the NIC and the daemon was full: the NIC sent
    /// faster than the daemon read, and the queue of its TUN device (or of
    /// the fabric's host end before it) dropped the packet. The kernel
    /// counts these; they are read from its link statistics and counted at
    /// the sending NIC, in its sent packets (not its bytes, which the
    /// kernel does not count for them).
    IngressQueueFull,
    /// A NAT gateway's address had no port left towards the packet's
    /// destination (Azure's SNAT port exhaustion: 50,000 connections per
    /// public address per destination), or a load balancer's outbound
    /// rule gave the NIC no port left on any frontend address.
    SnatPortExhausted,
    /// Sent from the Internet to a NAT gateway's or a default outbound
    /// address with no flow of the lab to answer: Azure's NAT gateway
    /// takes no unsolicited inbound traffic.
    NatUnsolicited,
    /// A protocol the NAT gateway's SKU does not translate (ICMP through a
    /// Standard NAT gateway, which carries TCP and UDP only).
    NatProtocol,
    /// Sent from the Internet to a NIC's Standard public IP while neither
    /// the NIC nor its subnet has an NSG: Standard public IPs are closed to
    /// inbound traffic until an NSG allows it.
    PublicIpClosed,
    /// Denied by a Virtual Network Manager security admin rule (either
    /// direction), whatever the NSGs say. Counted at the NIC whose VNet's
    /// rule denied it.
    AdminDenied,
    /// The flow table had no room for the new flow's translation to the
    /// Internet (its size is the lab's, `--flow-table-slots`, not Azure's):
    /// a port was free, but there was nowhere to record it. Live
    /// translations are never evicted to make room. Counted at the sender.
    FlowTableFull,
}

impl DropReason {
    pub const COUNT: usize = <Self as strum::EnumCount>::COUNT;

    /// The direction of the drop at the NIC the decision names, for every
    /// consumer (flow logs, the live page): `at_sender` when that NIC sent
    /// the packet (the decision's outbound stages, an appliance forwarding
    /// included), else it received it. The inbound stages (an NSG's, a
    /// firewall's, the destination check) judge on the way in; an admin
    /// rule judges in both, so the NIC's role says which; everything else
    /// is decided on the way out.
    pub fn direction(self, at_sender: bool) -> Direction {
        match self {
            DropReason::NsgInbound | DropReason::FirewallDenied | DropReason::DestinationCheck => {
                Direction::Inbound
            }
            DropReason::AdminDenied if !at_sender => Direction::Inbound,
            _ => Direction::Outbound,
        }
    }

    /// Whether a rule denied the packet (an NSG's, a firewall's or an
    /// admin rule): what the flow logs record as a deny.
    pub fn by_rule(self) -> bool {
        matches!(
            self,
            DropReason::NsgInbound
                | DropReason::NsgOutbound
                | DropReason::FirewallDenied
                | DropReason::AdminDenied
        )
    }

    /// Every reason, in discriminant order.
    pub const ALL: [DropReason; Self::COUNT] = {
        let variants = <Self as strum::VariantArray>::VARIANTS;
        let mut all = [DropReason::Malformed; Self::COUNT];
        let mut i = 0;
        while i < Self::COUNT {
            all[i] = variants[i];
            i += 1;
        }
        all
    };

    /// The name used in `stats`, `flows` and metrics: the variant in
    /// snake case.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// What happens to a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Write it, unchanged, to this NIC.
    Deliver(PortIdx),
    /// Rewrite it (a load balancer's translation, see [`crate::dataplane::nat`]) and
    /// write it to this NIC.
    Translate { nic: PortIdx, rewrite: Rewrite },
    /// Drop it. `at` is the hop whose check refused it: the sender for
    /// source-side checks, the receiver for destination-side ones. `rule`
    /// is the NSG rule that denied it ([`RuleId::NONE`] for every other
    /// reason), so that flow logs and traces name the rule as decided,
    /// whatever is applied afterwards.
    Drop {
        reason: DropReason,
        at: PortIdx,
        rule: RuleId,
    },
}

impl Verdict {
    /// The NIC the packet is written to, if it is delivered.
    #[inline]
    pub fn egress(&self) -> Option<PortIdx> {
        match *self {
            Verdict::Deliver(nic) | Verdict::Translate { nic, .. } => Some(nic),
            Verdict::Drop { .. } => None,
        }
    }

    /// A drop that no NSG rule decided.
    #[inline]
    pub const fn dropped(reason: DropReason, at: PortIdx) -> Verdict {
        Verdict::Drop {
            reason,
            at,
            rule: RuleId::NONE,
        }
    }
}
