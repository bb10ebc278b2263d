//! Stateful NSGs (steps 3 and 8): the connection tracking the decision
//! needs ([`Conntrack`]), and the NSG stages that consult it, so that the
//! rules run on a flow's first packet and its later packets and replies
//! are admitted by state.

use super::observer::{DecisionObserver, StagesOf};
use super::Verdict;
use crate::dataplane::packet::{PacketView, TCP_FIN, TCP_RST, TCP_SYN};
use crate::engine::flow_table::FlowHandle;
use crate::net::PacketKey;
use crate::snapshot::PortIdx;
use crate::snapshot::{FrontendTables, NsgVerdict, RuleId, Snapshot};
use crate::topology::{Access, Direction};
use std::net::IpAddr;

/// A packet found to belong to an admitted flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Admission {
    /// The snapshot generation the flow's NSG verdict was taken under.
    pub generation: u64,
    /// The packet is a reply (the flow was admitted in the other direction).
    pub reply: bool,
    /// Where the tracker found the flow, so that `refresh`, `revoke` and
    /// `closing` act on it without looking it up again
    /// ([`FlowHandle::NONE`] for trackers without handles).
    pub handle: FlowHandle,
}

/// What the sending NIC's flow state says of a packet
/// ([`Conntrack::sent`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// The packet belongs to a flow whose hop was decided under the
    /// current snapshot ([`KnownHop`]): this is its verdict, and the
    /// packet has been counted at both ends.
    Known(Verdict),
    /// The packet belongs to a flow admitted at the sender (and was
    /// counted there); its hop is still to be decided.
    Admitted(Admission),
    /// No flow of the sender knows the packet.
    New,
}

/// What the decision remembers of a delivered packet's hop, with the
/// sender's entry of its flow, for the packets of the flow that follow
/// under the same snapshot: where they go, with which rewrite (a load
/// balancer's translation or its reverse), the receiver's entry that
/// admits them, and the load balancer's pin that placed them. A known
/// packet is then one lookup: it is counted at both ends, keeps its pin
/// alive, and goes where its flow's first packets went, without routing or
/// balancing again. Everything else a hop depends on (routes, peerings,
/// NSGs, the load balancers' pools and health) is in the snapshot, so a
/// hop holds for as long as its `generation` is the current one and its
/// receiver's entry and pin are still there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownHop {
    /// The snapshot the hop was decided under.
    pub generation: u64,
    /// A [`Verdict::Deliver`] or [`Verdict::Translate`].
    pub verdict: Verdict,
    /// The receiver's entry that admitted the packet.
    pub receiver: FlowHandle,
    /// The pin that placed the flow on its backend, or that translates
    /// the replies of a backend back.
    pub pin: Option<FlowHandle>,
}

impl KnownHop {
    /// Whether a packet with these TCP flags may take (or leave) a known
    /// hop. Packets that open or close a connection are always decided in
    /// full: they change the flow's state (its timeouts, a load balancer's
    /// pin), as Azure's hosts send every TCP control packet to software.
    #[inline]
    pub fn carries(packet: &PacketView) -> bool {
        packet.tcp_flags & (TCP_SYN | TCP_FIN | TCP_RST) == 0
    }
}

/// Connection tracking as the decision needs it. A flow is tracked per NIC
/// and direction; a packet is admitted at a NIC when it belongs to a flow
/// admitted there in the same direction, or is the reply of a flow admitted
/// there in the other direction.
///
/// The decision reports its steps to the flow state it decides with (a
/// [`DecisionObserver`]): the flow table hears nothing, `trace` hears
/// every step.
pub trait Conntrack: DecisionObserver {
    /// The admitted flow the packet belongs to at `nic`, if any; counts it.
    fn admitted(
        &self,
        nic: PortIdx,
        direction: Direction,
        packet: &PacketView,
        now_ms: u64,
    ) -> Option<Admission>;
    /// The sender's side of a packet `nic` sent: a known hop's verdict,
    /// the flow it belongs to, or nothing. Trackers without memory of hops
    /// answer with [`Conntrack::admitted`].
    #[inline]
    fn sent(&self, nic: PortIdx, packet: &PacketView, _generation: u64, now_ms: u64) -> Sent {
        match self.admitted(nic, Direction::Outbound, packet, now_ms) {
            Some(admission) => Sent::Admitted(admission),
            None => Sent::New,
        }
    }
    /// Remembers `hop` with the sender's entry `sender` was found in, for
    /// [`Conntrack::sent`]. Trackers without memory ignore it.
    fn remember(&self, _sender: &Admission, _hop: &KnownHop) {}
    /// Forgets the hop remembered with the sender's entry `sender` was
    /// found in, if any.
    fn forget(&self, _sender: &Admission) {}
    /// Records a flow just `allowed` by the NSGs of `nic`;
    /// `idle_timeout_ms` is the VNet's flow timeout.
    fn admit(
        &self,
        nic: PortIdx,
        direction: Direction,
        packet: &PacketView,
        allowed: Allowed,
        idle_timeout_ms: u64,
        now_ms: u64,
    );
    /// The flow `admission` came from was judged again and is still
    /// `allowed`.
    fn refresh(
        &self,
        nic: PortIdx,
        direction: Direction,
        packet: &PacketView,
        admission: Admission,
        allowed: Allowed,
        now_ms: u64,
    );
    /// The flow `admission` came from was judged again and is now denied.
    fn revoke(
        &self,
        nic: PortIdx,
        direction: Direction,
        packet: &PacketView,
        admission: Admission,
        now_ms: u64,
    );
    /// An admitted TCP packet carried FIN or RST: its connection is ending,
    /// so the flow `admission` came from may idle out within
    /// [`CLOSING_IDLE_TIMEOUT_MS`] instead of the VNet's minutes (flow logs
    /// then report its end promptly). Trackers without timeouts ignore it.
    fn closing(
        &self,
        _nic: PortIdx,
        _direction: Direction,
        _packet: &PacketView,
        _admission: Admission,
        _now_ms: u64,
    ) {
    }
    /// The ports of the datagram whose later fragment `packet` is, as its
    /// first fragment, sent by `nic` and let through, carried them.
    /// Trackers without memory know none.
    fn fragment_ports(
        &self,
        _nic: PortIdx,
        _packet: &PacketView,
        _now_ms: u64,
    ) -> Option<(u16, u16)> {
        None
    }
    /// The first fragment `packet` of a datagram sent by `nic` was let
    /// through: its later fragments follow it.
    fn first_fragment_passed(&self, _nic: PortIdx, _packet: &PacketView, _now_ms: u64) {}
    /// The backend a load-balanced flow through `frontend` was pinned to,
    /// found by the packet as sent (a flow's packets, and with a
    /// translated destination its backend's replies, or without one the
    /// replies routed through the frontend); counts the packet. Trackers
    /// without memory pin nothing: every packet is placed by the hash.
    fn pinned(
        &self,
        _frontend: &FrontendTables,
        _packet: &PacketView,
        _now_ms: u64,
    ) -> Option<Pin> {
        None
    }
    /// Pins the new flow `packet` (as sent) through `frontend` to
    /// `target`'s backend. The backend's known hop for packets with the
    /// pin's reply 5-tuple, if it has one, is forgotten: they are now
    /// replies to translate back.
    fn pin(
        &self,
        _frontend: &FrontendTables,
        _packet: &PacketView,
        _target: PinTarget,
        _idle_timeout_ms: u64,
        _now_ms: u64,
    ) {
    }
    /// Forgets a pin (its backend left the pool, or a UDP flow moves off a
    /// backend that went down).
    fn unpin(&self, _pin: &Pin, _now_ms: u64) {}
    /// A pinned TCP flow saw a FIN or RST: its pin may idle out within
    /// [`CLOSING_IDLE_TIMEOUT_MS`].
    fn closing_pin(&self, _pin: &Pin) {}
    /// How pins name `nic` (see [`Pin::backend`]).
    fn backend_id(&self, nic: PortIdx) -> u32 {
        nic.index() as u32
    }
    /// The Internet edge's translation of the flow `packet` belongs to, as
    /// the private side sends it (`inside`: from the private address to
    /// the remote one) or as the Internet sends it (from the remote address
    /// to the public one); reading it keeps it alive. Trackers without
    /// memory know none.
    fn edge_translation(
        &self,
        _packet: &PacketView,
        _inside: bool,
        _now_ms: u64,
    ) -> Option<EdgeTranslation> {
        None
    }
    /// Whether a public address and port are taken towards `remote` for
    /// protocol `proto`. Trackers without memory have nothing taken.
    fn edge_taken(
        &self,
        _proto: u8,
        _remote: (IpAddr, u16),
        _public: (IpAddr, u16),
        _now_ms: u64,
    ) -> bool {
        false
    }
    /// Records a translation between `private` and `public` for a flow with
    /// `remote`, or says why it did not (a tracker without memory records
    /// nothing, and answers as if it had). A recorded translation never
    /// takes the place of a live one.
    fn edge_translate(
        &self,
        _new: NewTranslation,
        _now_ms: u64,
    ) -> Result<FlowHandle, Untranslated> {
        Ok(FlowHandle::NONE)
    }
    /// Forgets a translation (its public address is gone).
    fn edge_forget(&self, _translation: &EdgeTranslation, _now_ms: u64) {}
}

/// A translation of the Internet edge, as [`Conntrack::edge_translation`]
/// finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeTranslation {
    pub private: (IpAddr, u16),
    pub public: (IpAddr, u16),
    pub handle: FlowHandle,
}

/// Why [`Conntrack::edge_translate`] recorded no translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untranslated {
    /// The flow table had no room for it: full where its keys go, or the
    /// edge's share of it taken (live translations are never evicted).
    TableFull,
    /// The flow already has one: another packet of it recorded its
    /// translation first.
    Taken,
}

/// A translation to record ([`Conntrack::edge_translate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewTranslation {
    pub proto: u8,
    pub private: (IpAddr, u16),
    pub public: (IpAddr, u16),
    pub remote: (IpAddr, u16),
    pub idle_timeout_ms: u64,
}

/// What an NSG allowed a flow with, as [`Conntrack::admit`] and
/// [`Conntrack::refresh`] record it: the stable number of the rule that
/// allowed it (see [`crate::snapshot::RuleNames`]) and the snapshot
/// generation the verdict was taken under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowed {
    pub rule: RuleId,
    pub generation: u64,
}

/// Where [`Conntrack::pin`] pins a new load-balanced flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinTarget {
    /// The backend chosen for the flow.
    pub backend: PortIdx,
    /// Where the backend's replies come from: the translated destination,
    /// or the original one.
    pub reply_source: (IpAddr, u16),
    /// The destination was translated to the backend.
    pub translated: bool,
}

/// A load-balanced flow's pin, as [`Conntrack::pinned`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    /// The backend, as [`Conntrack::backend_id`] names it.
    pub backend: u32,
    /// The destination port the flow's first packet was sent to.
    pub original_port: u16,
    /// The destination was translated to the backend.
    pub translated: bool,
    /// The packet is the reply direction of the pinned flow.
    pub reply: bool,
    pub handle: FlowHandle,
}

/// Idle timeout of a TCP flow once a FIN or RST has been seen: long enough
/// for the last ACKs and a retransmitted FIN, short enough that the flow's
/// end is noticed within seconds.
pub const CLOSING_IDLE_TIMEOUT_MS: u64 = 5_000;

/// No connection tracking: every packet is judged by the NSG rules alone.
/// This is how Azure behaves for the rules it evaluates statelessly, and a
/// reference for tests.
pub struct Stateless;

impl DecisionObserver for Stateless {}

impl Conntrack for Stateless {
    fn admitted(&self, _: PortIdx, _: Direction, _: &PacketView, _: u64) -> Option<Admission> {
        None
    }
    fn admit(&self, _: PortIdx, _: Direction, _: &PacketView, _: Allowed, _: u64, _: u64) {}
    fn refresh(&self, _: PortIdx, _: Direction, _: &PacketView, _: Admission, _: Allowed, _: u64) {}
    fn revoke(&self, _: PortIdx, _: Direction, _: &PacketView, _: Admission, _: u64) {}
}

/// What the NSGs of one NIC say of a packet in one direction, without
/// flow state: the verdict, where it was decided, and the rule's stable id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NsgJudgement {
    pub verdict: NsgVerdict,
    pub rule: RuleId,
}

/// A packet the stages of one NIC and direction denied: the rule, and
/// whether it was a security admin rule (or an NSG's, a firewall's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denial {
    pub rule: RuleId,
    pub by_admin: bool,
}

impl From<NsgJudgement> for Denial {
    #[inline]
    fn from(judged: NsgJudgement) -> Denial {
        Denial {
            rule: judged.rule,
            by_admin: judged.verdict.by_admin,
        }
    }
}

/// Step 3 and 8 without state: the NSG stages of `nic` in `direction` on
/// `key`. Forwarding runs it for every packet no flow admits;
/// `flow-verify` runs it for its question.
#[inline]
pub fn judge_nsgs(
    snap: &Snapshot,
    nic: PortIdx,
    direction: Direction,
    key: &PacketKey,
) -> NsgJudgement {
    let verdict = snap.evaluate(nic, direction, key);
    NsgJudgement {
        verdict,
        rule: snap.rule_id(nic, direction, &verdict),
    }
}

/// [`judge_nsgs`], telling `observer` each rule met and the verdict when
/// it listens (for one that does not, [`judge_nsgs`] itself).
#[inline(always)]
fn judge_observed<O: DecisionObserver + ?Sized>(
    snap: &Snapshot,
    nic: PortIdx,
    direction: Direction,
    key: &PacketKey,
    observer: &O,
) -> NsgJudgement {
    if !observer.observes() {
        return judge_nsgs(snap, nic, direction, key);
    }
    let mut stages = StagesOf {
        observer,
        nic,
        direction,
    };
    let verdict = snap.evaluate_observed(nic, direction, key, &mut stages);
    observer.judged(nic, direction, verdict.access);
    NsgJudgement {
        verdict,
        rule: snap.rule_id(nic, direction, &verdict),
    }
}

/// Runs the NSGs of `nic` in `direction` unless the packet belongs to an
/// admitted flow; records the flow when the rules allow it. Flows are
/// tracked even where no NSG is associated, so that an NSG added later
/// leaves established connections alone, as in Azure. An admitted flow is
/// judged again only when the snapshot changed since its verdict and one
/// of the NSGs on its path has `flush_connection` set. A denial names the
/// rule that denied; an admission by state is returned.
#[inline]
pub(super) fn nsg_admits<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    nic: PortIdx,
    direction: Direction,
    view: &PacketView,
    now_ms: u64,
) -> Result<Option<Admission>, Denial> {
    let found = flows.admitted(nic, direction, view, now_ms);
    nsg_stage(snap, flows, nic, direction, view, found, now_ms)
}

/// [`nsg_admits`] once the flow state of `nic` has been looked up:
/// `found` is the packet's admitted flow there, if any.
#[inline]
pub(super) fn nsg_stage<C: Conntrack + ?Sized>(
    snap: &Snapshot,
    flows: &C,
    nic: PortIdx,
    direction: Direction,
    view: &PacketView,
    found: Option<Admission>,
    now_ms: u64,
) -> Result<Option<Admission>, Denial> {
    if let Some(admission) = found {
        let flow_direction = if admission.reply {
            direction.opposite()
        } else {
            direction
        };
        if view.tcp_flags & (TCP_FIN | TCP_RST) != 0 {
            flows.closing(nic, direction, view, admission, now_ms);
        }
        if admission.generation == snap.generation || !snap.nics[nic].flushes(flow_direction) {
            return Ok(Some(admission));
        }
        // Judge the flow as its first packet was judged: same direction,
        // same orientation.
        let key = if admission.reply {
            view.key.reversed()
        } else {
            view.key
        };
        let judged = judge_observed(snap, nic, flow_direction, &key, flows);
        if judged.verdict.access == Access::Deny {
            flows.revoke(nic, direction, view, admission, now_ms);
            return Err(judged.into());
        }
        flows.refresh(
            nic,
            direction,
            view,
            admission,
            Allowed {
                rule: judged.rule,
                generation: snap.generation,
            },
            now_ms,
        );
        return Ok(Some(admission));
    }
    let judged = judge_observed(snap, nic, direction, &view.key, flows);
    if judged.verdict.access == Access::Deny {
        return Err(judged.into());
    }
    let timeout_ms = snap.nics[nic].flow_timeout_ms;
    flows.admit(
        nic,
        direction,
        view,
        Allowed {
            rule: judged.rule,
            generation: snap.generation,
        },
        timeout_ms,
        now_ms,
    );
    Ok(None)
}
