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

use super::hybrid::HybridChanges;
use super::ports::namespace_spec;
use super::service::Changing;
use super::state::Mutable;
use crate::api::ApplyOutcome;
use crate::daemon::forwarding::plane::{FastPort, LivePort, Plane};
use crate::daemon::forwarding::port_id::PortId;
use crate::daemon::forwarding::service::Forwarding;
use crate::daemon::options::MAX_NICS;
use crate::daemon::threads::Faults;
use crate::engine::flow_table::FlowKey;
use crate::host::{interface, NamespaceSpec, TunQueue, INTERFACE_NAME};
use crate::plan::Plan;
use crate::plan::PortIdx;
use crate::snapshot::Snapshot;
use crate::topology::{Diagnostic, TiSlice, TiVec};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// A port built for a new plane: where it is on the fabric, and its queues.
type Built = (Option<FastPort>, Vec<TunQueue>);

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

/// True when a NIC can keep its namespace and TUN device: same namespace,
/// addresses, gateways and MTU (a change of IP forwarding needs no
/// re-plumbing, nor one of the routes out of the device of a namespace
/// that holds every address, the Internet's: they change in place).
fn same_plumbing(old: &NamespaceSpec, new: &NamespaceSpec) -> bool {
    old.key() == new.key()
        && old.addresses == new.addresses
        && old.gateways == new.gateways
        && (old.device_routes == new.device_routes
            || (old.every_address.is_some() && old.every_address == new.every_address))
        && old.mtu == new.mtu
        && old.queues == new.queues
        // A firewall whose private ranges changed translates anew.
        && old.masquerade_except == new.masquerade_except
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
        // Which ports come, go or stay, by name: a port that stays keeps its
        // slot (its counters and flows) unless its plumbing changed.
        let diff = old.snapshot.plan.diff(&plan);
        let old_ports: HashMap<&str, (PortIdx, &Arc<LivePort>)> = old
            .snapshot
            .plan
            .ports
            .iter_enumerated()
            .zip(&old.ports)
            .map(|((i, n), p)| (n.name.as_str(), (i, p)))
            .collect();
        let generation = old.snapshot.generation + 1;
        let mut summary = ApplyOutcome {
            generation,
            file: crate::topology::changes::file_changes(&old.snapshot.topology.text, text),
            ..ApplyOutcome::default()
        };
        // Decide each NIC's fate before touching the host.
        let mut keep: TiVec<PortIdx, Option<Arc<LivePort>>> = TiVec::new();
        let mut specs: TiVec<PortIdx, NamespaceSpec> = TiVec::new();
        for (index, nic) in plan.ports.iter_enumerated() {
            let remote = !plan.is_local(index);
            let mut spec = namespace_spec(
                &topology,
                nic,
                self.forwarding.queues_per_port,
                self.forwarding.shaping,
            );
            spec.on_fabric = self.forwarding.offload.is_some() && super::ports::offloadable(nic);
            if super::ports::trusts_lab_ca(nic) {
                spec.trust_store = Some(self.trust_store.clone());
            }
            // A site's tunnels died with the router they were in.
            let rebuilt =
                spec.existing_namespace && hybrid_changes.rebuilt_routers.contains(&spec.name);
            let reuse = old_ports
                .get(nic.name.as_str())
                .filter(|_| diff.kept.contains(&nic.name) && !rebuilt)
                .filter(|(_, p)| same_plumbing(&p.spec, &spec))
                // A port that moved to or from another machine is built
                // (or left) anew.
                .filter(|(_, p)| p.is_remote() == remote);
            keep.push(reuse.map(|(_, p)| (*p).clone()));
            specs.push(spec);
        }
        let kept: Vec<&str> = plan
            .ports
            .iter()
            .zip(&keep)
            .filter(|(_, k)| k.is_some())
            .map(|(n, _)| n.name.as_str())
            .collect();
        let leaving: Vec<(&str, &Arc<LivePort>)> = old
            .snapshot
            .plan
            .ports
            .iter()
            .zip(&old.ports)
            .filter(|(n, _)| !kept.contains(&n.name.as_str()))
            .map(|(n, p)| (n.name.as_str(), p))
            .collect();
        let leaving_names: Vec<String> = leaving.iter().map(|(_, p)| p.spec.key()).collect();
        for ((port, spec), k) in specs.iter_enumerated().zip(&keep) {
            if k.is_none()
                && plan.is_local(port)
                && !spec.existing_namespace
                && crate::host::netns::exists(&spec.name)
                && !leaving_names.contains(&spec.key())
            {
                return Err(ApplyError::Host(anyhow::anyhow!(
                    "network namespace {} already exists; vnetd does not take over namespaces it did not create",
                    spec.name
                )));
            }
        }
        let needed = keep.iter().filter(|k| k.is_none()).count();
        self.recycle_slots(state);
        let available = (MAX_NICS - state.slots.next_fresh) as usize + state.slots.free.len();
        if needed > available {
            return Err(ApplyError::Host(anyhow::anyhow!(
                "{needed} new NICs, but only {available} port slots are free now (at most \
                 {MAX_NICS} NICs; slots of removed NICs free up once every worker has moved on)"
            )));
        }
        // Build: first the namespaces whose name is free, then those that
        // take the name of a departing one (which must go first). A host
        // failure undoes the builds and, for the second kind, rebuilds the
        // departed namespace, so that the old plane keeps working.
        let mut built: TiVec<PortIdx, Option<Built>> = specs.iter().map(|_| None).collect();
        let mut replaced: Vec<(PortIdx, NamespaceSpec)> = Vec::new();
        for same_name in [false, true] {
            for ((i, spec), k) in specs.iter_enumerated().zip(&keep) {
                if k.is_some() || leaving_names.contains(&spec.key()) != same_name {
                    continue;
                }
                // Another machine builds it.
                if !plan.is_local(i) {
                    built[i] = Some((None, Vec::new()));
                    continue;
                }
                if same_name {
                    let (name, port) = leaving
                        .iter()
                        .find(|(_, p)| p.spec.key() == spec.key())
                        .expect("a departing namespace of that name");
                    if let Err(e) = state.lab.remove(&port.spec.key()) {
                        warn_and_keep!(warnings, "removing namespace {}: {e:#}", port.spec.key());
                    }
                    replaced.push((old_ports[name].0, port.spec.clone()));
                }
                match state.lab.add(spec) {
                    Ok(plumbed) => built[i] = Some((FastPort::of(plumbed), plumbed.take_queues())),
                    Err(e) => {
                        let nic = &plan.ports[i].name;
                        let undo = self.undo_builds(state, (&specs, &built), &old, &replaced);
                        return Err(ApplyError::Host(
                            e.context(format!("plumbing NIC {nic}{undo}")),
                        ));
                    }
                }
            }
        }
        let routing =
            state
                .hybrid
                .update_routing(&topology, self.changing.watch(), &mut hybrid_changes);
        warnings.append(&mut hybrid_changes.warnings);
        if let Err(e) = routing {
            let undo = self.undo_builds(state, (&specs, &built), &old, &replaced);
            return Err(ApplyError::Host(
                e.context(format!("updating the routing daemons{undo}")),
            ));
        }
        let mut ports = TiVec::with_capacity(specs.len());
        for (((nic_index, nic), spec), (k, queues)) in plan
            .ports
            .iter_enumerated()
            .zip(specs)
            .zip(keep.into_iter().zip(built))
        {
            if let Some(port) = k {
                ports.push(port);
                continue;
            }
            let id = state.slots.take().expect("slots counted above");
            let serial = state.next_serial;
            state.next_serial = state.next_serial.wrapping_add(1);
            if diff.added.contains(&nic.name) {
                summary.added.push(nic.name.clone());
            } else {
                summary.replumbed.push(nic.name.clone());
                summary.rebuilt.push(format!(
                    "{}: its namespace and TUN are built again (its addresses, subnet, \
                     namespace, MTU or site changed): processes in it end",
                    nic.name
                ));
            }
            let (fast, queues) = queues.expect("built above");
            ports.push(Arc::new(LivePort {
                id,
                serial,
                spec,
                queues,
                fast,
                remote: (!plan.is_local(nic_index))
                    .then(|| self.forwarding.underlay.clone())
                    .flatten(),
            }));
        }
        self.change_kept_in_place(
            &old,
            &old_ports,
            (&topology, &plan),
            &ports,
            (&mut summary, warnings),
        );
        // Built and not yet published: where tests hold an apply.
        self.faults.apply_stall_point(&self.forwarding.stop);
        // What the gateways learned now (when the hybrid part was rebuilt,
        // only what the new speakers learned: the old ones' is forgotten).
        let snapshot = Snapshot::compile_after_with(
            topology,
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
        self.retire(
            state,
            &leaving,
            &replaced,
            generation,
            (&mut summary, warnings),
        );
        Ok(summary)
    }

    /// What a NIC that keeps its port changes in place: the guest's IP
    /// forwarding, and the rate its VM's size allows (a new namespace got
    /// both at build).
    fn change_kept_in_place(
        &self,
        old: &Plane,
        old_ports: &HashMap<&str, (PortIdx, &Arc<LivePort>)>,
        (topology, plan): (&crate::topology::Topology, &Plan),
        ports: &TiVec<PortIdx, Arc<LivePort>>,
        (summary, warnings): (&mut ApplyOutcome, &mut Vec<String>),
    ) {
        for (nic, port) in plan.ports.iter().zip(ports) {
            let Some((i, _)) = old_ports
                .get(nic.name.as_str())
                .filter(|(_, p)| Arc::ptr_eq(p, port))
            else {
                continue;
            };
            let was = namespace_spec(
                &old.snapshot.topology,
                &old.snapshot.plan.ports[*i],
                self.forwarding.queues_per_port,
                self.forwarding.shaping,
            );
            let now = namespace_spec(
                topology,
                nic,
                self.forwarding.queues_per_port,
                self.forwarding.shaping,
            );
            if was.egress_limit_mbps != now.egress_limit_mbps {
                let rate = |m: Option<u32>| m.map_or("none".to_owned(), |m| format!("{m} Mbps"));
                let outcome = match now.egress_limit_mbps {
                    Some(mbps) => {
                        crate::host::shaping::shape(&port.spec.name, INTERFACE_NAME, mbps)
                    }
                    None => crate::host::shaping::unshape(&port.spec.name, INTERFACE_NAME),
                };
                match outcome {
                    Ok(()) => summary.changed.push(format!(
                        "{}: rate cap {} -> {} (its VM's size)",
                        nic.name,
                        rate(was.egress_limit_mbps),
                        rate(now.egress_limit_mbps)
                    )),
                    Err(e) => {
                        warn_and_keep!(warnings, "changing the rate cap of {}: {e:#}", nic.name)
                    }
                }
            }
            if was.device_routes != now.device_routes {
                update_device_routes(&nic.name, (&was, &now), summary, warnings);
            }
            super::ports::update_firewall_rules(&nic.name, (&was, &now), summary, warnings);
            let before = Some(old.snapshot.plan.ports[*i].ip_forwarding);
            if before.is_some_and(|b| b != nic.ip_forwarding) {
                summary.changed.push(format!(
                    "{}: IP forwarding {}",
                    nic.name,
                    if nic.ip_forwarding { "on" } else { "off" }
                ));
                if let Err(e) = interface::set_namespace_forwarding(
                    &port.spec.name,
                    INTERFACE_NAME,
                    nic.ip_forwarding,
                ) {
                    warn_and_keep!(
                        warnings,
                        "setting forwarding {} in {}: {e:#}",
                        if nic.ip_forwarding { "on" } else { "off" },
                        port.spec.name
                    );
                }
            }
        }
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

    /// Removes the namespaces an apply built before a host failure, and
    /// rebuilds the departed ones it had replaced, giving their queues to a
    /// republished old plane. Returns a note on what could not be undone
    /// (each also said in the log), for the refusal.
    fn undo_builds(
        &self,
        state: &mut Mutable,
        (specs, built): (
            &TiSlice<PortIdx, NamespaceSpec>,
            &TiSlice<PortIdx, Option<Built>>,
        ),
        old: &Arc<Plane>,
        replaced: &[(PortIdx, NamespaceSpec)],
    ) -> String {
        let mut left = Vec::new();
        for (spec, b) in specs.iter().zip(built) {
            if b.is_some() {
                if let Err(e) = state.lab.remove(&spec.key()) {
                    warn_and_keep!(left, "removing namespace {}: {e:#}", spec.key());
                }
            }
        }
        let left = match left.is_empty() {
            true => String::new(),
            false => format!(" (and could not undo: {})", left.join("; ")),
        };
        if replaced.is_empty() {
            return left;
        }
        let mut ports = old.ports.clone();
        let mut lost = Vec::new();
        for (index, spec) in replaced {
            if state.lab.namespace(&spec.key()).is_some() {
                let _ = state.lab.remove(&spec.key());
            }
            match state.lab.add(spec) {
                Ok(plumbed) => {
                    let old_port = &old.ports[*index];
                    ports[*index] = Arc::new(LivePort {
                        id: old_port.id,
                        serial: old_port.serial,
                        spec: spec.clone(),
                        fast: FastPort::of(plumbed),
                        queues: plumbed.take_queues(),
                        remote: None,
                    });
                }
                Err(e) => lost.push(format!("{}: {e:#}", spec.name)),
            }
        }
        // Published as any plane is: health or routes published since
        // `old` are kept.
        let mut faults = Vec::new();
        self.changing
            .publish_applied(self.forwarding, old.snapshot.clone(), ports, &mut faults);
        lost.extend(faults);
        if lost.is_empty() {
            left
        } else {
            format!("{left} (but could not rebuild {})", lost.join("; "))
        }
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

/// Routes out of a kept namespace's interface what `now` routes and `was`
/// did not, and removes the routes `was` had that `now` lacks: the
/// Internet's way back to the lab's public addresses follows the file's.
fn update_device_routes(
    name: &str,
    (was, now): (&NamespaceSpec, &NamespaceSpec),
    summary: &mut ApplyOutcome,
    warnings: &mut Vec<String>,
) {
    let namespace = &now.name;
    let added = now
        .device_routes
        .iter()
        .filter(|r| !was.device_routes.contains(r));
    for route in added {
        match crate::host::netlink::replace_interface_route(namespace, &now.interface, *route) {
            Ok(()) => summary.changed.push(format!("{name}: route {route} added")),
            Err(e) => warn_and_keep!(warnings, "{e:#}"),
        }
    }
    let removed = was
        .device_routes
        .iter()
        .filter(|r| !now.device_routes.contains(r));
    for route in removed {
        match crate::host::netlink::delete_interface_route(namespace, &was.interface, *route) {
            Ok(()) => summary
                .changed
                .push(format!("{name}: route {route} removed")),
            Err(e) => warn_and_keep!(warnings, "{e:#}"),
        }
    }
}
