//! The steps an `apply` runs on the host from its change set
//! ([`super::change_set`]), each with its undo: the namespaces it builds
//! (removed again, and the departing namespaces they replaced built
//! again, when a later step fails before the new plane is published), and
//! what kept ports change in place (a fault there is a warning of the
//! apply, which goes on: the port keeps working as it was).

use super::change_set::{ChangeSet, Fate, InPlace};
use super::service::Changing;
use super::state::Mutable;
use crate::api::ApplyOutcome;
use crate::daemon::forwarding::plane::{FastPort, LivePort, Plane};
use crate::daemon::forwarding::service::Forwarding;
use crate::host::{interface, NamespaceSpec, TunQueue, INTERFACE_NAME};
use crate::plan::{Plan, PortIdx};
use crate::topology::TiVec;
use std::sync::Arc;

/// A port built for a new plane: where it is on the fabric, and its queues.
pub(super) type Built = (Option<FastPort>, Vec<TunQueue>);

/// The namespaces an apply built, and the departing ones it removed to
/// take their names.
pub(super) struct Builds {
    /// Per port of the new plan: built (or left to another machine) by
    /// this step; `None` for a kept port.
    pub built: TiVec<PortIdx, Option<Built>>,
    /// The running ports (by their old index) whose namespace was removed
    /// for a new one of the same name, with the spec to build it again.
    pub replaced: Vec<(PortIdx, NamespaceSpec)>,
}

impl Builds {
    /// Builds the namespaces of `set`, in its order (those whose name is
    /// free first, then those that take a departing one's). A host
    /// failure undoes what was built, and is the apply's refusal.
    pub(super) fn run(
        rooms: (&Forwarding, &Changing),
        state: &mut Mutable,
        (set, plan): (&ChangeSet, &Plan),
        old: &Arc<Plane>,
        warnings: &mut Vec<String>,
    ) -> anyhow::Result<Builds> {
        let mut builds = Builds {
            built: (set.fates.iter())
                .map(|f| (*f == Fate::Elsewhere).then(|| (None, Vec::new())))
                .collect(),
            replaced: Vec::new(),
        };
        for port in set.build_order() {
            if let Fate::Built {
                replacing: Some(departing),
            } = set.fates[port]
            {
                let spec = &old.ports[departing].spec;
                if let Err(e) = state.lab.remove(&spec.key()) {
                    warn_and_keep!(warnings, "removing namespace {}: {e:#}", spec.key());
                }
                builds.replaced.push((departing, spec.clone()));
            }
            match state.lab.add(&set.specs[port]) {
                Ok(plumbed) => {
                    builds.built[port] = Some((FastPort::of(plumbed), plumbed.take_queues()));
                }
                Err(e) => {
                    let nic = &plan.ports[port].name;
                    let undo = builds.undo(rooms, state, set, old);
                    return Err(e.context(format!("plumbing NIC {nic}{undo}")));
                }
            }
        }
        Ok(builds)
    }

    /// Removes the namespaces this step built, and rebuilds the departed
    /// ones it had replaced, giving their queues to a republished old
    /// plane. Returns a note on what could not be undone (each also said
    /// in the log), for the refusal.
    pub(super) fn undo(
        &self,
        (forwarding, changing): (&Forwarding, &Changing),
        state: &mut Mutable,
        set: &ChangeSet,
        old: &Arc<Plane>,
    ) -> String {
        let mut left = Vec::new();
        for (port, built) in self.built.iter_enumerated() {
            if built.is_some() && set.fates[port] != Fate::Elsewhere {
                let key = set.specs[port].key();
                if let Err(e) = state.lab.remove(&key) {
                    warn_and_keep!(left, "removing namespace {key}: {e:#}");
                }
            }
        }
        let left = match left.is_empty() {
            true => String::new(),
            false => format!(" (and could not undo: {})", left.join("; ")),
        };
        if self.replaced.is_empty() {
            return left;
        }
        let mut ports = old.ports.clone();
        let mut lost = Vec::new();
        for (index, spec) in &self.replaced {
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
        changing.publish_applied(forwarding, old.snapshot.clone(), ports, &mut faults);
        lost.extend(faults);
        if lost.is_empty() {
            left
        } else {
            format!("{left} (but could not rebuild {})", lost.join("; "))
        }
    }
}

/// What the kept ports of `set` change in place (a new namespace got all
/// of it at build): the rate its VM's size allows, the routes out of its
/// device, a firewall's DNAT and interception, the guest's IP forwarding.
/// Each done is said in the summary; each fault is a warning, and the port
/// keeps working as it was.
pub(super) fn change_in_place(
    (set, plan): (&ChangeSet, &Plan),
    ports: &TiVec<PortIdx, Arc<LivePort>>,
    (summary, warnings): (&mut ApplyOutcome, &mut Vec<String>),
) {
    for kept in &set.in_place {
        let name = &plan.ports[kept.port].name;
        let port = &ports[kept.port];
        let (was, now) = (&kept.was, &set.specs[kept.port]);
        for change in &kept.changes {
            match change {
                InPlace::RateCap { from, to } => {
                    let rate =
                        |m: &Option<u32>| m.map_or("none".to_owned(), |m| format!("{m} Mbps"));
                    let outcome = match to {
                        Some(mbps) => {
                            crate::host::shaping::shape(&port.spec.name, INTERFACE_NAME, *mbps)
                        }
                        None => crate::host::shaping::unshape(&port.spec.name, INTERFACE_NAME),
                    };
                    match outcome {
                        Ok(()) => summary.changed.push(format!(
                            "{name}: rate cap {} -> {} (its VM's size)",
                            rate(from),
                            rate(to)
                        )),
                        Err(e) => {
                            warn_and_keep!(warnings, "changing the rate cap of {name}: {e:#}")
                        }
                    }
                }
                InPlace::DeviceRoutes => {
                    update_device_routes(name, (was, now), summary, warnings);
                }
                InPlace::FirewallRules => {
                    super::ports::update_firewall_rules(name, (was, now), summary, warnings);
                }
                InPlace::IpForwarding(on) => {
                    let word = if *on { "on" } else { "off" };
                    summary
                        .changed
                        .push(format!("{name}: IP forwarding {word}"));
                    if let Err(e) =
                        interface::set_namespace_forwarding(&port.spec.name, INTERFACE_NAME, *on)
                    {
                        warn_and_keep!(
                            warnings,
                            "setting forwarding {word} in {}: {e:#}",
                            port.spec.name
                        );
                    }
                }
            }
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
