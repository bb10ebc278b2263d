//! The running lab: it turns a topology into namespaces and TUN devices
//! (through [`crate::host`]), publishes what the workers forward with as one
//! immutable [`Plane`] behind `arc-swap`, and runs one forwarding
//! [`forwarding::worker::Worker`] per core. This is the one place where the Azure side
//! and the host side meet.
//!
//! [`Daemon::apply`] replaces the topology without a restart, as Azure
//! changes peerings, routes and NSGs without downtime: the new file is
//! validated and compiled first (a refused file changes nothing), NICs that
//! appeared get their namespace, NICs that went away lose theirs, NICs whose
//! addresses or namespace changed are re-plumbed, and every other NIC keeps
//! its TUN queues, its counters and its tracked flows; a VM's new size
//! changes its rate cap in place. The hybrid half changes part by part
//! (`hybrid::reconcile`): sites, speakers and site routers that did not
//! change keep running, with their BGP sessions. New namespaces are
//! built first; a host failure there removes what was built and changes
//! nothing. The new plane is then published in one atomic swap (workers
//! pick it up at their next wake-up, within 100 ms), and only then are the
//! departing namespaces removed and their flows forgotten. Nothing else
//! waits for an `apply` in progress: the reports (`stats`, `flows`, the
//! metrics, `lb show`, the BGP sessions) read what is published, and the
//! health prober and the BGP watchers publish without its lock.
//!
//! Each NIC's port has a serial, unique for the lab's life (it names the
//! NIC's MAC address in flow logs), and a slot, which indexes its counters
//! and flows. A slot is given to a new NIC only once every worker has moved
//! past the plane that last used it, and its counters and flows are cleared
//! then: a new NIC never inherits a departed one's counters or flows.
//!
//! The daemon has four rooms, each a folder with a map of its files and
//! its invariants in its module doc:
//!
//! | room | folder | what it holds |
//! |---|---|---|
//! | [`forwarding`] | `daemon/forwarding/` | what carries packets: the workers, the plane they forward with, the egress write, the kernel fast path, the underlay, the per-packet counters and the events the workers send |
//! | [`changing`] | `daemon/changing/` | what changes the lab: `apply`, publication, the hybrid half, the host mesh, the health prober, port plumbing, `down` |
//! | [`reporting`] | `daemon/reporting/` | what only reports: the reports, the metrics, the flow logs, convergence |
//! | [`answering`] | `daemon/answering/` | what answers in the lab as Azure's platform does: Azure DNS at 168.63.129.16, the PaaS resources behind Private Endpoints |
//!
//! A room uses only the rooms below it: `changing` may use `reporting`
//! and `forwarding`, `reporting` may use `forwarding` and `answering` (its
//! counters), `answering` may use `forwarding` (and the `Daemon` it answers for), and `forwarding`
//! none (`tests/offline/daemon_rooms.rs` checks it). The rooms meet at
//! the [`Daemon`] of this root, which holds each room's handle
//! ([`Forwarding`], [`Changing`], the answering room's counters and CA)
//! and little else. Each room owns its state and its methods; the
//! `Daemon`'s methods (here, and the lab's start in `start`) are the
//! front door, and hand a room the other rooms' handles it needs: `apply`
//! is given the forwarding room's, never the `Daemon`. `changing` never
//! names the `Daemon`; the reports of `reporting` and the live answers
//! of `answering` read the `Daemon` they report on. Beside the rooms, at the root: [`options`] (how a lab is run,
//! plain settings every room reads), [`threads`] (panics caught, counted
//! and restarted; fault injection: every room's threads are supervised
//! alike), `start` (a lab's start: it builds the lab and starts every
//! room's threads, so it belongs to no one room) and the control socket
//! [`control`] (served by the accept loop of [`crate::host::listener`]):
//! it answers `apply` as well as the reports, so it is the daemon's front
//! door rather than a report. This module owns the [`Daemon`]'s state,
//! accessors and shutdown.
/// Says a fault met while doing what a command asked in the daemon's log
/// (a warning, in the caller's module and spans) and keeps its words in
/// `$into`, a `Vec<String>`, for that command's answer: a fault an `apply`
/// caused reaches the `apply` as well as the log.
macro_rules! warn_and_keep {
    ($into:expr, $($words:tt)+) => {{
        let message = format!($($words)+);
        tracing::warn!("{message}");
        $into.push(message);
    }};
}

pub mod answering;
pub mod changing;
pub mod control;
pub mod forwarding;
pub mod options;
pub mod reporting;
mod start;
pub mod threads;

pub use changing::apply::ApplyError;
pub use changing::down::{down, down_all};
pub use changing::hybrid::RoutingDaemon;
pub use changing::ports::namespace_spec;
pub use forwarding::plane::{
    namespace_names, Egress, LivePort, Plane, PortConntrack, PublishedPlane,
};
pub use forwarding::port_id::PortId;
pub use options::{default_flow_table_slots, RunOptions, MAX_NICS};

pub use changing::service::Changing;
pub use forwarding::service::Forwarding;

use crate::api::{ApplyOutcome, Convergence, NicStats};
use crate::diagnostics::gateway::{BgpPeerStatusList, GatewayRouteList};
use crate::diagnostics::load_balancer::LoadBalancerStatus;
use crate::diagnostics::route_server::RouteServerRouteList;
use crate::diagnostics::QueryError;
use crate::engine::flow_table::FlowTable;
use crate::policy::bgp::BgpModel;
use crate::policy::load_balancers::ProbeTarget;
use crate::snapshot::Snapshot;
use answering::Answering;
use anyhow::Result;
use changing::apply::Applying;
use changing::lb::BackendState;
use forwarding::{drop_feed, offload};
use reporting::convergence;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use threads::{Faults, ThreadPanics};

/// The running lab: the rooms' handles, which own their state, and what
/// every room's threads share (the lab's span, their supervision).
pub struct Daemon {
    /// What carries packets.
    forwarding: Forwarding,
    /// What changes the lab.
    changing: Changing,
    /// What answers in the lab as Azure's platform does.
    answering: Answering,
    /// The flow-log thread and its own stop flag: it stops after the
    /// workers, so that its last scan sees everything they did.
    flow_logger: Mutex<Option<(Arc<AtomicBool>, JoinHandle<()>)>>,
    /// Panics caught in the daemon's threads, per kind.
    panics: Arc<ThreadPanics>,
    /// This daemon's fault injection, handed to each thread at its start.
    faults: Arc<Faults>,
    /// The lab's span in the log (its file, and the host it runs as in a
    /// spread lab): every thread of the lab logs inside it, each apply
    /// and each BGP speaker in a span of its own below it.
    span: tracing::Span,
    /// The namespaces of the lab once removed, alive until the daemon is
    /// dropped: declared last, so that they die after the forwarding room
    /// has closed the ports' TUN queues (see
    /// [`crate::host::UnmountedNamespaces`]).
    unmounted: Mutex<Option<crate::host::UnmountedNamespaces>>,
}

impl Daemon {
    /// The lab's span in the log: what is said of the lab (a reload on
    /// SIGHUP, say) is said inside it.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Where the lab's CA certificate is written (PEM), for clients
    /// outside the VMs' namespaces to trust.
    pub fn lab_ca_path(&self) -> &std::path::Path {
        self.answering.tls.path()
    }

    /// The lab's CA certificate (PEM), which the VMs' namespaces trust.
    pub fn lab_ca_pem(&self) -> Arc<str> {
        self.answering.tls.pem().clone()
    }

    /// The certificate store the lab's VMs trust (the system's and the
    /// lab's CA), which each VM's namespace links to.
    pub fn lab_trust_store(&self) -> Arc<std::path::Path> {
        self.answering.tls.store().clone()
    }

    /// The forwarding room: the plane, the counters, the flow table.
    pub fn forwarding(&self) -> &Forwarding {
        &self.forwarding
    }

    /// The changing room: the routing daemons, the health prober.
    pub fn changing(&self) -> &Changing {
        &self.changing
    }

    /// The snapshot the workers forward with now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.forwarding.snapshot()
    }

    /// The plane the workers forward with now.
    pub fn plane(&self) -> Arc<Plane> {
        self.forwarding.plane()
    }

    /// Deny events lost on the way to the flow logs (the flow-log thread
    /// fell behind; the packets themselves were dropped as decided).
    pub fn flow_log_events_lost(&self) -> u64 {
        self.forwarding.flow_log_events_lost()
    }

    /// The handle that appends a row to an Azure Firewall's logs
    /// (`AZFWNetworkRule`, `AZFWNatRule`, `AZFWApplicationRule`,
    /// `AZFWDnsQuery`), written with the flow logs; see
    /// [`forwarding::firewall_log`].
    pub fn firewall_log(&self) -> forwarding::firewall_log::FirewallLog {
        self.forwarding.firewall_log.clone()
    }

    /// The drop events the workers report, for the one consumer that asked
    /// for them at start ([`RunOptions::drop_events`]); `None` when not
    /// asked for, or already taken.
    pub fn take_drop_events(&self) -> Option<drop_feed::DropSource> {
        self.forwarding.take_drop_events()
    }

    /// Times a worker failed (an error or a panic) and was started again.
    pub fn worker_restarts(&self) -> u64 {
        self.forwarding.worker_restarts()
    }

    /// What Azure DNS was asked and the PaaS responders answered.
    pub fn names_counters(
        &self,
    ) -> (
        &answering::azure_dns::DnsCounters,
        &answering::paas::PaasCounters,
    ) {
        (&self.answering.names.0, &self.answering.names.1)
    }

    /// Panics caught in the daemon's threads, per kind (shared with the
    /// servers, which count their connections' panics here).
    pub fn thread_panics(&self) -> &Arc<ThreadPanics> {
        &self.panics
    }

    /// This daemon's fault injection: tests arm a panic in a kind of its
    /// threads here.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The kernel fast path, when the lab has one.
    pub fn offload(&self) -> Option<&Arc<offload::Offload>> {
        self.forwarding.offload.as_ref()
    }

    /// Adds what the kernel counted so far to the counters and flows (see
    /// [`Forwarding::sync_offload`]); returns what could not be read.
    pub fn sync_offload(&self) -> Vec<String> {
        self.forwarding.sync_offload()
    }

    /// The flow table the workers track connections in.
    pub fn flows(&self) -> &FlowTable {
        &self.forwarding.flows
    }

    /// The oldest plane generation a worker still forwards with.
    pub fn oldest_worker_generation(&self) -> u64 {
        self.forwarding.oldest_worker_generation()
    }

    /// Milliseconds since the daemon started (the flow table's clock).
    pub fn now_ms(&self) -> u64 {
        self.forwarding.now_ms()
    }

    /// Traffic and drop counters of a NIC, summed over workers (after a
    /// reading of the kernel's counters).
    pub fn nic_stats(&self, nic: &str) -> Option<NicStats> {
        self.forwarding.nic_stats(nic)
    }

    /// Traffic and drop counters of a NIC, one entry per worker.
    pub fn nic_stats_by_worker(&self, nic: &str) -> Option<Vec<NicStats>> {
        self.forwarding.nic_stats_by_worker(nic)
    }

    /// Replaces the running topology with the one in `text` (see the
    /// module doc). On refusal nothing changes.
    pub fn apply(&self, source: &str, text: &str) -> Result<ApplyOutcome, ApplyError> {
        self.applying().apply(source, text)
    }

    /// [`Daemon::apply`] with parse options (an empty topology is refused
    /// unless `options.allow_empty`), logged in a span of its own below
    /// the lab's.
    pub fn apply_with(
        &self,
        source: &str,
        text: &str,
        options: crate::topology::ParseOptions,
    ) -> Result<ApplyOutcome, ApplyError> {
        self.applying().apply_with(source, text, options)
    }

    fn applying(&self) -> Applying<'_> {
        Applying {
            forwarding: &self.forwarding,
            changing: &self.changing,
            span: &self.span,
            faults: &self.faults,
            trust_store: self.lab_trust_store(),
        }
    }

    /// Whether the lab has converged now, and what is missing when not.
    pub fn convergence(&self) -> Convergence {
        let snapshot = self.snapshot();
        let topo = &snapshot.topology;
        let backends = self.changing.first_probes(&snapshot);
        let mut state = convergence::convergence_of(
            topo,
            &BgpModel::of(topo),
            &snapshot.learned,
            &self.changing.watch().sessions.established(),
            &backends,
            self.now_ms(),
        );
        convergence::underlay_convergence(self.forwarding.underlay.as_deref(), &mut state);
        self.changing.mesh_convergence(&mut state);
        convergence::servers_convergence(&snapshot, self.names_counters(), &mut state);
        state
    }

    /// The BGP sessions of every instance of `gateway`, as Azure lists
    /// them; a refusal when the lab has no such gateway.
    pub fn bgp_peer_status(&self, gateway: &str) -> Result<BgpPeerStatusList, QueryError> {
        self.changing.bgp_peer_status(&self.forwarding, gateway)
    }

    /// What `gateway`'s instance advertises to `peer` (see
    /// [`Changing::advertised_routes`]).
    pub fn advertised_routes(
        &self,
        gateway: &str,
        peer: &str,
    ) -> Result<GatewayRouteList, QueryError> {
        self.changing
            .advertised_routes(&self.forwarding, gateway, peer)
    }

    /// What a Route Server's instances advertise to `peer` (see
    /// [`Changing::route_server_advertised_routes`]).
    pub fn route_server_advertised_routes(
        &self,
        route_server: &str,
        peer: &str,
    ) -> Result<RouteServerRouteList, QueryError> {
        self.changing
            .route_server_advertised_routes(&self.forwarding, route_server, peer)
    }

    /// The routing daemons of the lab and how they run.
    pub fn routing_daemons(&self) -> Vec<RoutingDaemon> {
        self.changing.routing_daemons()
    }

    /// Each backend this machine probes, and whether its first probe has
    /// answered.
    pub fn first_probes(&self, snapshot: &Snapshot) -> Vec<(String, bool)> {
        self.changing.first_probes(snapshot)
    }

    /// Every backend probed now, with what its probes found.
    pub fn lb_backends(&self) -> Vec<(ProbeTarget, BackendState)> {
        self.changing.lb_backends()
    }

    /// Flows the load balancer `lb` placed on each of its backend NICs.
    pub fn lb_flow_counts(&self, lb: &str) -> BTreeMap<String, u64> {
        self.changing.lb_flow_counts(&self.forwarding, lb)
    }

    /// `vnetd lb show`: each backend of each rule's pool with its probe's
    /// verdict and its flows.
    pub fn lb_status(&self, lb: &str) -> Result<LoadBalancerStatus, QueryError> {
        self.changing.lb_status(&self.forwarding, lb)
    }

    /// Stops the workers and removes every namespace the lab created. It
    /// takes `&self` so that a client still holding the daemon (a control
    /// connection) never delays or prevents the removal; later requests
    /// are told the lab is shutting down.
    pub fn shutdown(&self) -> Result<()> {
        let _in_lab = self.span.enter();
        tracing::info!("stopping: removing the lab");
        self.stop_workers();
        // The other machines withdraw this one's routes first.
        self.changing
            .mesh
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        self.changing.routing.store(None);
        let state = (self.changing.mutable.lock())
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let ports = match state {
            Some(s) => {
                // The daemons and sites go first, then the ports.
                drop(s.hybrid);
                s.lab.teardown().map(|unmounted| {
                    *self.unmounted.lock().unwrap_or_else(|p| p.into_inner()) = Some(unmounted);
                })
            }
            None => Ok(()),
        };
        // Then the fabric they were on.
        let fabric = match &self.forwarding.offload {
            Some(offload) => offload.fabric().remove_namespace(),
            None => Ok(()),
        };
        self.answering.tls.remove();
        ports.and(fabric)
    }

    fn stop_workers(&self) {
        self.forwarding.stop_threads();
        let logger = self
            .flow_logger
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some((stop, handle)) = logger {
            stop.store(true, Ordering::Relaxed);
            let _ = handle.join();
        }
        self.forwarding.reach.join();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // The other machines withdraw this one's routes first.
        self.changing
            .mesh
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        self.stop_workers();
        self.changing.routing.store(None);
        // The lab removes its namespaces when dropped.
        (self.changing.mutable.lock())
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }
}
