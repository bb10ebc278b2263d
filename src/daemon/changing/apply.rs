//! `apply`: a new topology for the running lab without a restart (see the
//! daemon's module doc for the order of its steps), and the port slots it
//! hands out and takes back. It may use the daemon, its plane, options and
//! counters.
//!
//! Each apply is logged in a span of its own (`apply`, with its source
//! and the generation it publishes) below the lab's. A fault met on the
//! way that does not undo the apply (a namespace that could not be
//! removed, a rate cap that could not be changed, the fast path or the
//! underlay that could not follow) is a warning in that span and in the
//! summary's `warnings`: the command that asked for the apply is told,
//! not only the log.

use super::change_set::{change_set, Building, Fate, Running};
use super::hybrid::HybridChanges;
use super::service::Changing;
use super::state::Mutable;
use super::steps::{change_in_place, Builds};
use crate::api::ApplyOutcome;
use crate::daemon::forwarding::plane::LivePort;
use crate::daemon::forwarding::port_id::PortId;
use crate::daemon::forwarding::service::Forwarding;
use crate::daemon::options::MAX_NICS;
use crate::daemon::threads::Faults;
use crate::engine::flow_table::FlowKey;
use crate::host::NamespaceSpec;
use crate::plan::Plan;
use crate::plan::PortIdx;
use crate::snapshot::Snapshot;
use crate::topology::{Diagnostic, TiVec};
use std::sync::Arc;
use std::time::Instant;

/// The outcome of a refused `apply`.
#[derive(Debug)]
pub enum ApplyError {
    /// The file is invalid: the running topology is untouched.
    Invalid(Vec<Diagnostic>),
    /// The host refused a change (e.g. a namespace name already taken): the
    /// running topology is untouched.
    Host(anyhow::Error),
}

/// Why a file's `hosts` cannot replace the running lab's (with the line to
/// point at), if they differ: the machines, their names and addresses are
/// what every machine's underlay and host mesh were opened with.
fn hosts_change(
    running: &crate::topology::Placement,
    new: &crate::topology::Placement,
) -> Option<(usize, String)> {
    let listed = |p: &crate::topology::Placement| -> Vec<(String, std::net::Ipv4Addr)> {
        (p.hosts.iter())
            .map(|h| (h.name.clone(), h.underlay_address))
            .collect()
    };
    let (before, after) = (listed(running), listed(new));
    if before == after {
        return None;
    }
    let shown = |list: &[(String, std::net::Ipv4Addr)]| match list {
        [] => "none (the lab runs on one machine)".to_owned(),
        _ => (list.iter())
            .map(|(name, address)| format!("{name} ({address})"))
            .collect::<Vec<_>>()
            .join(", "),
    };
    let line = new.hosts.first().map_or(0, |h| h.line);
    Some((
        line,
        format!(
            "the lab's hosts cannot change while it runs: it runs on {}, the file names {}; a \
             change of `hosts` (the machines, their names or underlay addresses) takes a \
             restart of every host (`vnetd run FILE --host NAME` on each)",
            shown(&before),
            shown(&after)
        ),
    ))
}

/// An `apply` at work: the rooms it changes and reads, and what it is
/// given of the daemon (its span, its fault injection, the store the VMs
/// trust).
pub(in crate::daemon) struct Applying<'a> {
    pub(in crate::daemon) forwarding: &'a Forwarding,
    pub(in crate::daemon) changing: &'a Changing,
    pub(in crate::daemon) span: &'a tracing::Span,
    pub(in crate::daemon) faults: &'a Faults,
    pub(in crate::daemon) trust_store: Arc<std::path::Path>,
}

impl Applying<'_> {
    /// Replaces the running topology with the one in `text` (see the module
    /// doc). On refusal nothing changes.
    pub fn apply(&self, source: &str, text: &str) -> Result<ApplyOutcome, ApplyError> {
        self.apply_with(source, text, crate::topology::ParseOptions::default())
    }

    /// [`Applying::apply`] with parse options (an empty topology is refused
    /// unless `options.allow_empty`). Logged in a span of its own, `apply`,
    /// below the lab's: the outcome, and each fault met on the way (also
    /// in the summary's `warnings`, or in the refusal).
    pub fn apply_with(
        &self,
        source: &str,
        text: &str,
        options: crate::topology::ParseOptions,
    ) -> Result<ApplyOutcome, ApplyError> {
        let span = tracing::info_span!(
            parent: self.span,
            "apply",
            source = %source,
            generation = tracing::field::Empty
        );
        let _in_apply = span.enter();
        let mut warnings = Vec::new();
        match self.apply_checked(source, text, options, &mut warnings) {
            Ok(mut summary) => {
                tracing::info!(
                    added = summary.added.len(),
                    removed = summary.removed.len(),
                    replumbed = summary.replumbed.len(),
                    warnings = warnings.len(),
                    "applied"
                );
                summary.source = source.to_string();
                summary.warnings = warnings;
                Ok(summary)
            }
            Err(ApplyError::Host(e)) => {
                // What went wrong before the apply was undone is the
                // refusal's too.
                let e = match warnings.is_empty() {
                    true => e,
                    false => anyhow::anyhow!("{e:#}; meanwhile: {}", warnings.join("; ")),
                };
                tracing::warn!("refused: {e:#}; the running topology is unchanged");
                Err(ApplyError::Host(e))
            }
            Err(ApplyError::Invalid(errors)) => {
                tracing::info!(
                    errors = errors.len(),
                    "refused: the file is invalid; the running topology is unchanged"
                );
                Err(ApplyError::Invalid(errors))
            }
        }
    }

    /// [`Applying::apply_with`]'s checks, then its transaction under the
    /// apply lock.
    fn apply_checked(
        &self,
        source: &str,
        text: &str,
        options: crate::topology::ParseOptions,
        warnings: &mut Vec<String>,
    ) -> Result<ApplyOutcome, ApplyError> {
        let loaded =
            crate::plan::parse_str_with(source, text, options).map_err(ApplyError::Invalid)?;
        let mut topology = loaded.topology;
        // A spread lab's machines are the ones it started with, and this
        // one stays the one it runs as.
        let running = &self.forwarding.plane.load().snapshot.topology.placement;
        if let Some((line, why)) = hosts_change(running, &topology.placement) {
            let mut refusal = crate::topology::Diagnostics::new(source);
            refusal.error(line, "hosts", why);
            return Err(ApplyError::Invalid(refusal.list));
        }
        if let Err(why) = topology.placement.run_on(running.local_name().as_deref()) {
            let mut refusal = crate::topology::Diagnostics::new(source);
            refusal.error(0, "hosts", why);
            return Err(ApplyError::Invalid(refusal.list));
        }
        topology.placement.inner_mtu = running.inner_mtu;
        let plan = Plan::derive(&topology);
        let too_large = crate::daemon::options::lab_size_errors(&topology, &plan);
        if !too_large.is_empty() {
            return Err(ApplyError::Invalid(too_large));
        }
        // Only applies wait here: reports and publications read and
        // publish without this lock.
        let mut guard = self
            .changing
            .mutable
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let Some(state) = guard.as_mut() else {
            return Err(ApplyError::Host(anyhow::anyhow!(
                "the lab is shutting down"
            )));
        };
        let outcome = self.apply_locked(state, topology, plan, text, warnings);
        // Whatever the outcome, the routing daemons the lab runs now.
        self.changing.publish_routing(state);
        outcome
    }

    /// The body of [`Applying::apply_with`], under its lock.
    #[allow(
        clippy::too_many_lines,
        reason = "one transaction under the apply lock: a failed step undoes the ones before it, which share its state"
    )]
    fn apply_locked(
        &self,
        state: &mut Mutable,
        topology: crate::topology::Topology,
        plan: Plan,
        text: &str,
        warnings: &mut Vec<String>,
    ) -> Result<ApplyOutcome, ApplyError> {
        let old = self.forwarding.plane.load_full();
        // Refused before anything changes, like any invalid file.
        let missing = super::hybrid::missing_routing(&topology, &self.changing.programs);
        if !missing.is_empty() {
            return Err(ApplyError::Invalid(missing));
        }
        // The hybrid part changes part by part (see `hybrid::reconcile`):
        // sites that go or change first (a changed one reuses its
        // namespace names), then the new ones, before the ports, whose
        // tunnels live in the sites' routers.
        let mut hybrid_changes = HybridChanges::default();
        let sites = state.hybrid.update_sites(&topology, &mut hybrid_changes);
        warnings.append(&mut hybrid_changes.warnings);
        sites.map_err(|e| ApplyError::Host(e.context("updating the on-premises sites")))?;
        // What changes, worked out before the host is touched: which ports
        // are kept (by name: a port that stays keeps its slot, counters and
        // flows unless its plumbing changed), built, or leave.
        let building = Building {
            queues_per_port: self.forwarding.queues_per_port,
            shaping: self.forwarding.shaping,
            offload: self.forwarding.offload.is_some(),
            trust_store: self.trust_store.clone(),
        };
        let running: TiVec<PortIdx, Running<'_>> = (old.ports.iter())
            .map(|p| Running {
                spec: &p.spec,
                remote: p.is_remote(),
            })
            .collect();
        let set = change_set(
            (&old.snapshot.topology, &old.snapshot.plan, &running),
            (&topology, &plan),
            &building,
            &hybrid_changes.rebuilt_routers,
        );
        let generation = old.snapshot.generation + 1;
        let mut summary = ApplyOutcome {
            generation,
            file: crate::topology::changes::file_changes(&old.snapshot.topology.text, text),
            added: set.added.clone(),
            replumbed: set.replumbed.clone(),
            rebuilt: (set.replumbed.iter())
                .map(|nic| {
                    format!(
                        "{nic}: its namespace and TUN are built again (its addresses, subnet, \
                         namespace, MTU or site changed): processes in it end"
                    )
                })
                .collect(),
            ..ApplyOutcome::default()
        };
        if let Some(taken) = (set.fresh_namespaces.iter()).find(|n| crate::host::netns::exists(n)) {
            return Err(ApplyError::Host(anyhow::anyhow!(
                "network namespace {taken} already exists; vnetd does not take over namespaces it did not create"
            )));
        }
        let needed = set.slots_needed();
        self.recycle_slots(state);
        let available = (MAX_NICS - state.slots.next_fresh) as usize + state.slots.free.len();
        if needed > available {
            return Err(ApplyError::Host(anyhow::anyhow!(
                "{needed} new NICs, but only {available} port slots are free now (at most \
                 {MAX_NICS} NICs; slots of removed NICs free up once every worker has moved on)"
            )));
        }
        // Build: a host failure undoes the builds and rebuilds the departed
        // namespaces whose names they took, so that the old plane keeps
        // working.
        let rooms = (self.forwarding, self.changing);
        let mut builds =
            Builds::run(rooms, state, (&set, &plan), &old, warnings).map_err(ApplyError::Host)?;
        let routing = state.hybrid.update_routing(
            (&topology, &plan),
            self.changing.watch(),
            &mut hybrid_changes,
        );
        warnings.append(&mut hybrid_changes.warnings);
        if let Err(e) = routing {
            let undo = builds.undo(rooms, state, &set, &old);
            return Err(ApplyError::Host(
                e.context(format!("updating the routing daemons{undo}")),
            ));
        }
        let mut ports = TiVec::with_capacity(set.specs.len());
        for ((nic_index, fate), spec) in set.fates.iter_enumerated().zip(&set.specs) {
            if let Fate::Kept(running) = fate {
                ports.push(old.ports[*running].clone());
                continue;
            }
            let id = state.slots.take().expect("slots counted above");
            let serial = state.next_serial;
            state.next_serial = state.next_serial.wrapping_add(1);
            let (fast, queues) = builds.built[nic_index].take().expect("built above");
            ports.push(Arc::new(LivePort {
                id,
                serial,
                spec: spec.clone(),
                queues,
                fast,
                remote: (!plan.is_local(nic_index))
                    .then(|| self.forwarding.underlay.clone())
                    .flatten(),
            }));
        }
        change_in_place((&set, &plan), &ports, (&mut summary, warnings));
        // Built and not yet published: where tests hold an apply.
        self.faults.apply_stall_point(&self.forwarding.stop);
        // What the gateways learned now (when the hybrid part was rebuilt,
        // only what the new speakers learned: the old ones' is forgotten).
        let snapshot = Snapshot::compile_planned_after(
            (topology, plan),
            self.changing.learned_now(),
            generation,
            &old.snapshot,
        );
        // A spread lab's machines understand each other only while they
        // number it alike: a change of that numbering cuts this machine off
        // from the others until each runs it too (see `underlay::direct`).
        if self.forwarding.underlay.is_some() {
            let digest = |s: &Snapshot| crate::plan::wire::wire_digest(&s.topology, &s.plan);
            if digest(&snapshot) != digest(&old.snapshot) {
                summary.rebuilt.push(
                    "the lab's numbering between hosts (its hosts' VNets, the ports' order, \
                     the gateways, load balancers or probes): until every host runs this file, \
                     this host and the others refuse each other's packets (`vnetd wait` on each \
                     host names the hosts not trusted)"
                        .to_owned(),
                );
            }
        }
        // Ports on other machines are reached where the new plan places
        // them before a worker forwards with it, and the machines that run
        // another numbering are no longer trusted.
        if let Some(underlay) = &self.forwarding.underlay {
            if let Err(e) = underlay.direct(&snapshot.topology, &snapshot.plan) {
                warn_and_keep!(warnings, "the underlay keeps the older placement: {e:#}");
            }
        }
        // Publishing raises the fast path's generation first, for the
        // ports the new plane may decide otherwise (every port when the
        // ports or the tables they all read changed): the next packet of
        // each of their offloaded flows is decided again, and offloaded
        // again if still admitted; the other ports' flows stay in the
        // kernel.
        let generation =
            self.changing
                .publish_applied(self.forwarding, Arc::new(snapshot), ports, warnings);
        // From here on, the apply's lines name what it published.
        tracing::Span::current().record("generation", generation);
        summary.generation = generation;
        summary.added.extend(hybrid_changes.added);
        summary.removed.extend(hybrid_changes.removed);
        summary.changed.extend(hybrid_changes.changed);
        summary.rebuilt.extend(hybrid_changes.rebuilt);
        // A worker in the middle of a batch finishes it with the old plane;
        // wait (briefly: workers look at least every 100 ms) until every
        // worker forwards with the new one, so that when apply returns, the
        // next packet meets the new rules.
        self.wait_for_workers(generation);
        if let Some(underlay) = &self.forwarding.underlay {
            if let Err(e) = underlay.settled() {
                warn_and_keep!(warnings, "the underlay trusts no other host anew: {e:#}");
            }
        }
        // Only now that no new packet can reach them.
        let leaving: Vec<(&str, &Arc<LivePort>)> = (set.leaving.iter())
            .map(|&i| (old.snapshot.plan.ports[i].name.as_str(), &old.ports[i]))
            .collect();
        self.retire(
            state,
            &leaving,
            &builds.replaced,
            generation,
            (&mut summary, warnings),
        );
        Ok(summary)
    }

    /// Once no new packet can reach them, the departing NICs lose their
    /// namespace (unless a new one of the name replaced it), their flows,
    /// and, once every worker has moved past `generation`, their slot.
    fn retire(
        &self,
        state: &mut Mutable,
        leaving: &[(&str, &Arc<LivePort>)],
        replaced: &[(PortIdx, NamespaceSpec)],
        generation: u64,
        (summary, warnings): (&mut ApplyOutcome, &mut Vec<String>),
    ) {
        for (name, port) in leaving {
            if !summary.replumbed.iter().any(|n| n == name) {
                summary.removed.push(name.to_string());
            }
            if state.lab.namespace(&port.spec.key()).is_some()
                && !replaced.iter().any(|(_, s)| s.key() == port.spec.key())
            {
                if let Err(e) = state.lab.remove(&port.spec.key()) {
                    warn_and_keep!(warnings, "removing namespace {}: {e:#}", port.spec.key());
                }
            }
            state.slots.retiring.push((port.id, generation));
        }
        let departed: Vec<PortId> = leaving.iter().map(|(_, port)| port.id).collect();
        self.forget_flows_of(&departed);
    }

    /// Waits, at most a second, until every worker forwards with plane
    /// `generation` or a newer one.
    fn wait_for_workers(&self, generation: u64) {
        let deadline = Instant::now() + std::time::Duration::from_secs(1);
        while self.forwarding.oldest_worker_generation() < generation && Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    /// Frees the slots of departed NICs once every worker forwards with a
    /// plane that no longer has them, clearing their counters and flows
    /// (a worker on an older plane may have touched both after the apply).
    fn recycle_slots(&self, state: &mut Mutable) {
        let oldest = self.forwarding.oldest_worker_generation();
        let mut still = Vec::new();
        let mut freed = Vec::new();
        for (slot, generation) in std::mem::take(&mut state.slots.retiring) {
            if generation <= oldest {
                for counters in &self.forwarding.counters {
                    if let Some(c) = counters.ports.get(slot) {
                        c.reset();
                    }
                }
                freed.push(slot);
            } else {
                still.push((slot, generation));
            }
        }
        self.forget_flows_of(&freed);
        state.slots.free.extend(freed);
        state.slots.retiring = still;
    }

    /// Forgets every flow the NICs `ports` own, in one walk of the table.
    fn forget_flows_of(&self, ports: &[PortId]) {
        if ports.is_empty() {
            return;
        }
        // One walk of the table for all of them: a walk per port made an
        // apply removing a thousand NICs walk a million slots a thousand
        // times.
        let owners: std::collections::HashSet<_> = ports.iter().map(|p| p.owner()).collect();
        let now = self.forwarding.now_ms();
        let mut keys: Vec<FlowKey> = Vec::new();
        self.forwarding.flows.for_each(now, |k, _| {
            if owners.contains(&k.owner) {
                keys.push(*k);
            }
        });
        for k in keys {
            self.forwarding.flows.remove(&k, now);
        }
    }
}
