//! NSG statefulness on the generic flow table: a flow is recorded per NIC
//! and direction when that NIC's NSGs allow its first packet, as a pair of
//! entries: its own key and the key of its replies (the reversed 5-tuple in
//! the other direction). Later packets of the flow, and its replies, are
//! then found by one lookup and admitted by state without running the
//! rules again, as Azure does; the lookup's handle lets a re-judged or
//! closing flow be updated or removed without a second lookup. Idle flows
//! expire after the VNet's `flow_timeout_in_minutes`;
//! a TCP flow that has seen a FIN or RST expires a few seconds after its
//! last packet instead, so that its end is known (and flow-logged) promptly.

use super::decide::{
    Admission, Allowed, Conntrack, DecisionObserver, EdgeTranslation, KnownHop, NewTranslation,
    Pin, PinTarget, Sent, Untranslated, CLOSING_IDLE_TIMEOUT_MS,
};
pub use super::memos::{holds_hop, hop_memo, stored_hop, EdgeMemo, PinMemo};
use super::packet::PacketView;
use crate::engine::flow_table::{
    FlowHandle, FlowKey, FlowOwner, FlowPair, FlowRef, FlowTable, InsertOutcome, KeyWords, Memo,
    Traffic,
};
use crate::engine::fragments::DatagramId;
use crate::net::{PacketKey, IPPROTO_TCP, IPPROTO_UDP};
use crate::snapshot::FrontendTables;
use crate::snapshot::PortIdx;
use crate::topology::Direction;
use std::net::IpAddr;

/// The direction code of a load balancer's pins: flows through a
/// frontend, keyed by the frontend's owner and the packet as sent, whose
/// memo is a [`PinMemo`].
pub const PIN_DIRECTION: u8 = 2;

/// True for a load balancer's pin (not an NSG flow).
#[inline]
pub fn is_pin(key: &FlowKey) -> bool {
    key.direction == PIN_DIRECTION
}

/// The direction code of the Internet edge's translations: a pair of the
/// flow as its private side sends it and as the Internet sends it, whose
/// memo is an [`EdgeMemo`].
pub const EDGE_DIRECTION: u8 = 3;

/// True for a translation of the Internet edge (not an NSG flow).
#[inline]
pub fn is_edge_translation(key: &FlowKey) -> bool {
    key.direction == EDGE_DIRECTION
}

/// A key of the edge's translations: the flow from `src` to `dst` (each
/// an address and port) of `proto`, owned by `owner`.
#[inline]
fn edge_key(
    owner: FlowOwner,
    proto: u8,
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
) -> Option<FlowKey> {
    FlowKey::from_ips(owner, EDGE_DIRECTION, proto, src.0, dst.0, src.1, dst.1)
}

/// The stable id the edge's translations are owned under (among the
/// frontends' owners): one owner for every translation, since a reply
/// from the Internet names neither the NIC nor the method.
pub const EDGE_STABLE_ID: u32 = FRONTEND_OWNERS - 1;

/// How many flow owners are set aside for load-balancer frontends, after
/// the NICs' own: a frontend's flows count against the quota of owner
/// `base + stable_id % FRONTEND_OWNERS` (two frontends may share one; their
/// keys never collide, their quota is shared).
pub const FRONTEND_OWNERS: u32 = 64;

/// How directions are written in flow keys.
pub fn direction_code(d: Direction) -> u8 {
    match d {
        Direction::Inbound => 0,
        Direction::Outbound => 1,
    }
}

/// The flow key of a packet at the NIC whose flows `owner` stands for, in
/// a direction.
pub fn flow_key(owner: FlowOwner, direction: Direction, p: &PacketView) -> Option<FlowKey> {
    let (sport, dport) = p.flow_ports;
    FlowKey::from_ips(
        owner,
        direction_code(direction),
        p.key.proto,
        p.key.src,
        p.key.dst,
        sport,
        dport,
    )
}

/// A tracked flow's key in the terms of the layers above: which owner
/// (the port whose flow it is, or a frontend's pins) and direction it was admitted at, and its
/// 5-tuple as that NIC saw its first packet. The only reader of the flow
/// key's direction encoding is this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrackedFlow {
    pub owner: FlowOwner,
    pub direction: Direction,
    pub key: PacketKey,
}

impl TrackedFlow {
    pub fn of(key: &FlowKey) -> TrackedFlow {
        let direction = if key.direction == direction_code(Direction::Inbound) {
            Direction::Inbound
        } else {
            Direction::Outbound
        };
        let ports = matches!(key.proto, IPPROTO_TCP | IPPROTO_UDP);
        TrackedFlow {
            owner: key.owner,
            direction,
            key: PacketKey {
                proto: key.proto,
                src: key.src_ip(),
                dst: key.dst_ip(),
                src_port: ports.then_some(key.src_port),
                dst_port: ports.then_some(key.dst_port),
            },
        }
    }
}

/// The identity of the datagram a fragment belongs to, at a NIC.
pub fn datagram_id(owner: FlowOwner, p: &PacketView) -> Option<DatagramId> {
    let fragment = p.fragment?;
    Some(DatagramId {
        ingress: owner.get(),
        src: p.key.src,
        dst: p.key.dst,
        proto: p.key.proto,
        ident: fragment.ident,
    })
}

/// The key a flow's replies carry at the same NIC: the reversed 5-tuple,
/// in the other direction.
pub fn reply_key(key: &FlowKey, direction: Direction) -> FlowKey {
    let mut reply = key.reversed();
    reply.direction = direction_code(direction.opposite());
    reply
}

/// Who owns a NIC's flows in a flow table: the table's per-owner quota
/// and the flow keys count by this number.
pub trait FlowOwners {
    fn owner(&self, nic: PortIdx) -> FlowOwner;
    /// The owner of a load-balancer frontend's pins, from its stable id.
    fn frontend_owner(&self, stable_id: u32) -> FlowOwner;
}

/// Flows owned by the NIC's own index: for one snapshot's life (tests,
/// benchmarks, the fuzz checks). Frontends own the
/// [`FRONTEND_OWNERS`] numbers from [`NicOwners::NICS`] on, so a table
/// for them needs [`NicOwners::MAX_OWNERS`] owners.
#[derive(Debug, Clone, Copy, Default)]
pub struct NicOwners;

impl NicOwners {
    /// The NICs a table keyed by index serves.
    pub const NICS: u32 = 64;
    /// Owners a table keyed by index needs: NICs, then frontends.
    pub const MAX_OWNERS: u32 = Self::NICS + FRONTEND_OWNERS;
}

impl FlowOwners for NicOwners {
    #[inline]
    fn owner(&self, nic: PortIdx) -> FlowOwner {
        FlowOwner::new(nic.index() as u32)
    }

    #[inline]
    fn frontend_owner(&self, stable_id: u32) -> FlowOwner {
        FlowOwner::new(Self::NICS + stable_id % FRONTEND_OWNERS)
    }
}

/// A load balancer's pin as [`TrackedFlows::pin_of`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoundPin {
    /// The entry the packet found (the pinned flow's own, or its reply's).
    pub key: FlowKey,
    pub memo: PinMemo,
    /// The packet is a reply of the pinned flow.
    pub reply: bool,
}

/// Connection tracking on a flow table, flows keyed by `owners`.
pub struct TrackedFlows<'t, O> {
    pub table: &'t FlowTable,
    pub owners: O,
}

impl<O: FlowOwners> TrackedFlows<'_, O> {
    /// The Internet edge's translation of the flow from `src` to `dst`
    /// (ports as the flow's packets carry them), looked up from either
    /// side, without touching it: what `vnetd flows` shows of it.
    pub fn edge_of(
        &self,
        proto: u8,
        src: (IpAddr, u16),
        dst: (IpAddr, u16),
        now_ms: u64,
    ) -> Option<EdgeMemo> {
        let key = edge_key(self.owners.frontend_owner(EDGE_STABLE_ID), proto, src, dst)?;
        self.with_memo(&key, now_ms, EdgeMemo::from_memo)
            .map(|(_, memo)| memo)
    }

    /// The flow recorded under `key` and its memo as `read` takes it:
    /// `None` while there is none, or while its memo is being written.
    #[inline]
    fn with_memo<M>(
        &self,
        key: &FlowKey,
        now_ms: u64,
        read: impl FnOnce(&Memo) -> Option<M>,
    ) -> Option<(FlowRef<'_>, M)> {
        let flow = self.table.lookup(key, now_ms)?;
        let memo = read(&flow.memo()?)?;
        Some((flow, memo))
    }

    /// The pin of `frontend` that a packet of `proto` from `src` to `dst`
    /// (ports as it carries them) is found by, looked up without touching
    /// it: its key, what it records, and whether the packet is one of the
    /// pinned flow's replies. `None` while there is none, or its memo is
    /// being written. What the kernel fast path checks a load-balanced
    /// flow's entry against, and keeps alive.
    pub fn pin_of(
        &self,
        frontend: &FrontendTables,
        proto: u8,
        src: (IpAddr, u16),
        dst: (IpAddr, u16),
        now_ms: u64,
    ) -> Option<FoundPin> {
        let owner = self.owners.frontend_owner(frontend.stable_id);
        let key = pin_key(owner, proto, src.0, dst.0, (src.1, dst.1))?;
        let (flow, memo) = self.with_memo(&key, now_ms, PinMemo::from_memo)?;
        Some(FoundPin {
            key,
            memo,
            reply: flow.is_reply(),
        })
    }

    /// How a pin's memo names the backend on `nic` (see
    /// [`Conntrack::backend_id`]).
    #[inline]
    pub fn backend_of(&self, nic: PortIdx) -> u32 {
        self.owners.owner(nic).get()
    }

    #[inline]
    fn key(&self, nic: PortIdx, direction: Direction, p: &PacketView) -> Option<FlowKey> {
        flow_key(self.owners.owner(nic), direction, p)
    }

    /// The words of [`TrackedFlows::key`], for a lookup.
    #[inline]
    fn key_words(&self, nic: PortIdx, direction: Direction, p: &PacketView) -> Option<KeyWords> {
        let (sport, dport) = p.flow_ports;
        KeyWords::from_ips(
            self.owners.owner(nic),
            direction_code(direction),
            p.key.proto,
            &p.key.src,
            &p.key.dst,
            sport,
            dport,
        )
    }
}

/// Forwarding reports the decision's steps to nobody.
impl<O: FlowOwners> DecisionObserver for TrackedFlows<'_, O> {}

impl<O: FlowOwners> Conntrack for TrackedFlows<'_, O> {
    /// One lookup of the sender's key, whose entry may hold the hop of
    /// the packet's flow: the packet is then counted on it and on the
    /// receiver's entry the hop names.
    #[inline]
    fn sent(&self, nic: PortIdx, p: &PacketView, generation: u64, now_ms: u64) -> Sent {
        let Some(key) = self.key_words(nic, Direction::Outbound, p) else {
            return Sent::New;
        };
        let Some(flow) = self.table.lookup_words(&key, now_ms) else {
            return Sent::New;
        };
        let reply = flow.is_reply();
        let traffic = p.traffic();
        if KnownHop::carries(p) {
            let hop = flow.memo().as_ref().and_then(stored_hop);
            if let Some(hop) = hop.filter(|h| h.generation == generation) {
                // Both entries live (as lookups would find them), the pin
                // kept alive first: it counts nothing, so a packet that
                // finds its hop gone is decided in full, counted once.
                if (hop.pin == 0 || self.table.keep_alive_word(hop.pin, now_ms))
                    && self.table.touch_word(hop.receiver, now_ms, traffic)
                {
                    flow.touch(now_ms, traffic, !reply);
                    return Sent::Known(hop.verdict);
                }
            }
        }
        Sent::Admitted(counted(&flow, now_ms, traffic))
    }

    fn remember(&self, sender: &Admission, hop: &KnownHop) {
        match hop_memo(hop) {
            // Another worker remembering the same flow's hop at this
            // instant writes the same hop.
            Some(memo) => self.table.set_memo_of(sender.handle, &memo),
            None => self.table.set_memo_of(sender.handle, &Memo::default()),
        };
    }

    fn forget(&self, sender: &Admission) {
        if self
            .table
            .memo_of(sender.handle)
            .is_some_and(|m| holds_hop(&m))
        {
            self.table.set_memo_of(sender.handle, &Memo::default());
        }
    }

    /// One lookup: the key is either a flow's own entry or the reply entry
    /// recorded with it.
    #[inline]
    fn admitted(
        &self,
        nic: PortIdx,
        direction: Direction,
        p: &PacketView,
        now_ms: u64,
    ) -> Option<Admission> {
        let key = self.key_words(nic, direction, p)?;
        let flow = self.table.lookup_words(&key, now_ms)?;
        Some(counted(&flow, now_ms, p.traffic()))
    }

    #[inline]
    fn admit(
        &self,
        nic: PortIdx,
        direction: Direction,
        p: &PacketView,
        Allowed { rule, generation }: Allowed,
        idle_timeout_ms: u64,
        now_ms: u64,
    ) {
        if let Some(key) = self.key(nic, direction, p) {
            // A full table (for this NIC) leaves the flow untracked: its
            // packets are still judged by the rules, one by one.
            let _ = self.table.insert_pair(
                FlowPair {
                    key: &key,
                    reply: &reply_key(&key, direction),
                },
                rule.tag(),
                generation,
                idle_timeout_ms,
                now_ms,
                p.traffic(),
            );
        }
    }

    fn refresh(
        &self,
        _: PortIdx,
        _: Direction,
        _: &PacketView,
        a: Admission,
        Allowed { rule, generation }: Allowed,
        _: u64,
    ) {
        self.table
            .update_verdict_of(a.handle, rule.tag(), generation);
    }

    fn revoke(&self, _: PortIdx, _: Direction, _: &PacketView, a: Admission, now_ms: u64) {
        self.table.remove_flow(a.handle, now_ms);
    }

    fn closing(&self, _: PortIdx, _: Direction, _: &PacketView, a: Admission, _: u64) {
        self.table
            .shorten_idle_timeout(a.handle, CLOSING_IDLE_TIMEOUT_MS);
    }

    fn fragment_ports(&self, nic: PortIdx, p: &PacketView, now_ms: u64) -> Option<(u16, u16)> {
        self.table
            .fragments()
            .ports(&datagram_id(self.owners.owner(nic), p)?, now_ms)
    }

    fn first_fragment_passed(&self, nic: PortIdx, p: &PacketView, now_ms: u64) {
        if let Some(id) = datagram_id(self.owners.owner(nic), p) {
            self.table.fragments().remember(&id, p.flow_ports, now_ms);
        }
    }

    #[inline]
    fn pinned(&self, frontend: &FrontendTables, p: &PacketView, now_ms: u64) -> Option<Pin> {
        let owner = self.owners.frontend_owner(frontend.stable_id);
        let key = pin_key(owner, p.key.proto, p.key.src, p.key.dst, p.flow_ports)?;
        // A pin whose memo is being written at this instant is not yet
        // readable: the packet is placed by the hash, as its flow was.
        let (flow, pin) = self.with_memo(&key, now_ms, PinMemo::from_memo)?;
        // The flow's packets are counted by its NSG entries.
        flow.keep_alive(now_ms);
        Some(Pin {
            backend: pin.backend,
            original_port: pin.original_port,
            translated: pin.translated,
            reply: flow.is_reply(),
            handle: flow.handle(),
        })
    }

    fn pin(
        &self,
        frontend: &FrontendTables,
        p: &PacketView,
        PinTarget {
            backend,
            reply_source,
            translated,
        }: PinTarget,
        idle_timeout_ms: u64,
        now_ms: u64,
    ) {
        let owner = self.owners.frontend_owner(frontend.stable_id);
        let (client, client_port) = (p.key.src, p.flow_ports.0);
        let key = pin_key(owner, p.key.proto, client, p.key.dst, p.flow_ports);
        let reply = pin_key(
            owner,
            p.key.proto,
            reply_source.0,
            client,
            (reply_source.1, client_port),
        );
        if let (Some(key), Some(reply)) = (key, reply) {
            let pin = PinMemo {
                backend: self.owners.owner(backend).get(),
                original_port: p.flow_ports.1,
                translated,
            };
            // A full table leaves the flow unpinned: its packets are then
            // placed by the hash alone, which holds while the backends do.
            let _ = self.table.insert_pair_with_memo(
                FlowPair {
                    key: &key,
                    reply: &reply,
                },
                &pin.to_memo(),
                idle_timeout_ms,
                now_ms,
                p.traffic(),
            );
            let answer = FlowKey::from_ips(
                self.owners.owner(backend),
                direction_code(Direction::Outbound),
                p.key.proto,
                reply_source.0,
                client,
                reply_source.1,
                client_port,
            );
            if let Some(flow) = answer.and_then(|k| self.table.lookup(&k, now_ms)) {
                flow.set_memo(&Memo::default());
            }
        }
    }

    fn unpin(&self, pin: &Pin, now_ms: u64) {
        self.table.remove_flow(pin.handle, now_ms);
    }

    fn edge_translation(
        &self,
        p: &PacketView,
        _inside: bool,
        now_ms: u64,
    ) -> Option<EdgeTranslation> {
        let key = edge_key(
            self.owners.frontend_owner(EDGE_STABLE_ID),
            p.key.proto,
            (p.key.src, p.flow_ports.0),
            (p.key.dst, p.flow_ports.1),
        )?;
        let (flow, memo) = self.with_memo(&key, now_ms, EdgeMemo::from_memo)?;
        // The flow's packets are counted by its NSG entries.
        flow.keep_alive(now_ms);
        Some(EdgeTranslation {
            private: memo.private,
            public: memo.public,
            handle: flow.handle(),
        })
    }

    fn edge_taken(
        &self,
        proto: u8,
        remote: (IpAddr, u16),
        public: (IpAddr, u16),
        now_ms: u64,
    ) -> bool {
        edge_key(
            self.owners.frontend_owner(EDGE_STABLE_ID),
            proto,
            remote,
            public,
        )
        .is_some_and(|k| self.table.lookup(&k, now_ms).is_some())
    }

    fn edge_translate(&self, new: NewTranslation, now_ms: u64) -> Result<FlowHandle, Untranslated> {
        let owner = self.owners.frontend_owner(EDGE_STABLE_ID);
        let keys = edge_key(owner, new.proto, new.private, new.remote)
            .zip(edge_key(owner, new.proto, new.remote, new.public));
        // Keys of two families: nothing to record them under.
        let Some((inside, outside)) = keys else {
            return Err(Untranslated::TableFull);
        };
        let memo = EdgeMemo {
            private: new.private,
            public: new.public,
        };
        // A live translation holds its port as long as its flow lives, as
        // Azure's do: a new one never takes its place.
        match self.table.insert_pair_with_memo_keeping_live(
            FlowPair {
                key: &inside,
                reply: &outside,
            },
            &memo.to_memo(),
            new.idle_timeout_ms,
            now_ms,
            Traffic::default(),
        ) {
            InsertOutcome::Inserted | InsertOutcome::Evicted => {
                (self.table.lookup(&inside, now_ms))
                    .map(|f| f.handle())
                    .ok_or(Untranslated::Taken)
            }
            InsertOutcome::Existing => Err(Untranslated::Taken),
            InsertOutcome::Full | InsertOutcome::NicOutOfRange => Err(Untranslated::TableFull),
        }
    }

    fn edge_forget(&self, translation: &EdgeTranslation, now_ms: u64) {
        self.table.remove_flow(translation.handle, now_ms);
    }

    fn closing_pin(&self, pin: &Pin) {
        self.table
            .shorten_idle_timeout(pin.handle, CLOSING_IDLE_TIMEOUT_MS);
    }

    #[inline]
    fn backend_id(&self, nic: PortIdx) -> u32 {
        self.owners.owner(nic).get()
    }
}

/// The admission a found flow gives its packet, counted on the flow in the
/// packet's orientation. (An entry that left its slot meanwhile still
/// admits this packet.)
#[inline]
fn counted(flow: &FlowRef<'_>, now_ms: u64, traffic: Traffic) -> Admission {
    let reply = flow.is_reply();
    flow.touch(now_ms, traffic, !reply);
    Admission {
        generation: flow.generation(),
        reply,
        handle: flow.handle(),
    }
}

/// A pin's key: the frontend's owner and the packet's 5-tuple as sent.
#[inline]
fn pin_key(
    owner: FlowOwner,
    proto: u8,
    src: IpAddr,
    dst: IpAddr,
    ports: (u16, u16),
) -> Option<FlowKey> {
    FlowKey::from_ips(owner, PIN_DIRECTION, proto, src, dst, ports.0, ports.1)
}

/// The table on its own tracks flows by NIC index.
impl DecisionObserver for FlowTable {}

impl Conntrack for FlowTable {
    #[inline]
    fn sent(&self, nic: PortIdx, p: &PacketView, generation: u64, now_ms: u64) -> Sent {
        by_nic(self).sent(nic, p, generation, now_ms)
    }

    fn remember(&self, sender: &Admission, hop: &KnownHop) {
        by_nic(self).remember(sender, hop)
    }

    fn forget(&self, sender: &Admission) {
        by_nic(self).forget(sender)
    }

    #[inline]
    fn admitted(
        &self,
        nic: PortIdx,
        direction: Direction,
        p: &PacketView,
        now_ms: u64,
    ) -> Option<Admission> {
        by_nic(self).admitted(nic, direction, p, now_ms)
    }

    #[inline]
    fn admit(
        &self,
        nic: PortIdx,
        direction: Direction,
        p: &PacketView,
        allowed: Allowed,
        idle_timeout_ms: u64,
        now_ms: u64,
    ) {
        by_nic(self).admit(nic, direction, p, allowed, idle_timeout_ms, now_ms)
    }

    fn refresh(
        &self,
        nic: PortIdx,
        direction: Direction,
        p: &PacketView,
        a: Admission,
        allowed: Allowed,
        now_ms: u64,
    ) {
        by_nic(self).refresh(nic, direction, p, a, allowed, now_ms)
    }

    fn revoke(
        &self,
        nic: PortIdx,
        direction: Direction,
        p: &PacketView,
        a: Admission,
        now_ms: u64,
    ) {
        by_nic(self).revoke(nic, direction, p, a, now_ms)
    }

    fn closing(
        &self,
        nic: PortIdx,
        direction: Direction,
        p: &PacketView,
        a: Admission,
        now_ms: u64,
    ) {
        by_nic(self).closing(nic, direction, p, a, now_ms)
    }

    fn fragment_ports(&self, nic: PortIdx, p: &PacketView, now_ms: u64) -> Option<(u16, u16)> {
        by_nic(self).fragment_ports(nic, p, now_ms)
    }

    fn first_fragment_passed(&self, nic: PortIdx, p: &PacketView, now_ms: u64) {
        by_nic(self).first_fragment_passed(nic, p, now_ms)
    }

    fn pinned(&self, frontend: &FrontendTables, p: &PacketView, now_ms: u64) -> Option<Pin> {
        by_nic(self).pinned(frontend, p, now_ms)
    }

    fn pin(
        &self,
        frontend: &FrontendTables,
        p: &PacketView,
        target: PinTarget,
        idle_timeout_ms: u64,
        now_ms: u64,
    ) {
        by_nic(self).pin(frontend, p, target, idle_timeout_ms, now_ms)
    }

    fn unpin(&self, pin: &Pin, now_ms: u64) {
        by_nic(self).unpin(pin, now_ms)
    }

    fn edge_translation(
        &self,
        p: &PacketView,
        inside: bool,
        now_ms: u64,
    ) -> Option<EdgeTranslation> {
        by_nic(self).edge_translation(p, inside, now_ms)
    }

    fn edge_taken(
        &self,
        proto: u8,
        remote: (IpAddr, u16),
        public: (IpAddr, u16),
        now_ms: u64,
    ) -> bool {
        by_nic(self).edge_taken(proto, remote, public, now_ms)
    }

    fn edge_translate(&self, new: NewTranslation, now_ms: u64) -> Result<FlowHandle, Untranslated> {
        by_nic(self).edge_translate(new, now_ms)
    }

    fn edge_forget(&self, translation: &EdgeTranslation, now_ms: u64) {
        by_nic(self).edge_forget(translation, now_ms)
    }

    fn closing_pin(&self, pin: &Pin) {
        by_nic(self).closing_pin(pin)
    }

    fn backend_id(&self, nic: PortIdx) -> u32 {
        by_nic(self).backend_id(nic)
    }
}

/// The flow table keyed by NIC index.
#[inline]
fn by_nic(table: &FlowTable) -> TrackedFlows<'_, NicOwners> {
    TrackedFlows {
        table,
        owners: NicOwners,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::decide;
    use crate::snapshot::Snapshot;
    use etherparse::PacketBuilder;

    fn tcp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, fin: bool) -> Vec<u8> {
        let b = PacketBuilder::ipv4(src, dst, 64).tcp(sport, dport, 1, 1024);
        let b = if fin { b.fin() } else { b.syn() };
        let mut out = Vec::new();
        b.write(&mut out, &[]).unwrap();
        out
    }

    #[test]
    fn a_fin_in_a_reply_shortens_the_idle_timeout_of_its_flow() {
        let text = include_str!("../../../../config/hub-spoke.yaml");
        let loaded = crate::topology::parse_str("hub-spoke.yaml", text).unwrap();
        let snap = Snapshot::compile(loaded.topology, 1);
        let shared = snap.plan.port_by_name("shared1").unwrap();
        let nva = snap.plan.port_by_name("nva1").unwrap();
        let table = FlowTable::new(1024, 8, 1024);
        let (a, b) = ([10, 0, 2, 4], [10, 0, 1, 4]);
        decide(&snap, &table, shared, &tcp(a, b, 40000, 80, false), 0);
        let outbound = flow_key(
            FlowOwner::new(shared.index() as u32),
            Direction::Outbound,
            &PacketView::parse(&tcp(a, b, 40000, 80, false)).unwrap(),
        )
        .unwrap();
        let timeout = |t: &FlowTable| t.lookup(&outbound, 10).unwrap().value().unwrap();
        assert!(timeout(&table).idle_timeout_ms > CLOSING_IDLE_TIMEOUT_MS);
        // The reply's FIN finds the flow as a reply and shortens it.
        decide(&snap, &table, nva, &tcp(b, a, 80, 40000, true), 10);
        assert_eq!(timeout(&table).idle_timeout_ms, CLOSING_IDLE_TIMEOUT_MS);
        assert!(table
            .lookup(&outbound, 10 + CLOSING_IDLE_TIMEOUT_MS + 1)
            .is_none());
    }
}
