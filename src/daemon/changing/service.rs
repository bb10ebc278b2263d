//! The changing room as the daemon holds it: what `apply` changes under
//! its lock, the routing daemons as last published, what the BGP watchers
//! and the health prober found, and the host mesh; with what the reports
//! read of them. Its methods that need the forwarding room are handed
//! its handle ([`Forwarding`]); none reaches back to the daemon.

use super::hybrid::{Roster, Watch};
use super::lb::ProbeBook;
use super::mesh::HostMesh;
use super::publish::{publish_applied, Records};
use super::state::Mutable;
use crate::api::{Convergence, SessionRef};
use crate::daemon::forwarding::plane::LivePort;
use crate::daemon::forwarding::service::Forwarding;
use crate::snapshot::Snapshot;
use crate::topology::TiVec;
use arc_swap::ArcSwapOption;
use std::sync::{Arc, Mutex};

/// What changes the lab, held by the daemon.
pub struct Changing {
    /// What `apply` changes, under the lock it takes. Only `apply` and
    /// shutdown take it: reports read what is published (the plane,
    /// `routing`, the counters), and publishers publish without it.
    pub(in crate::daemon) mutable: Arc<Mutex<Option<Mutable>>>,
    /// The lab's routing daemons, published at start and whenever an
    /// `apply` ends (each daemon is locked on its own while it is asked);
    /// `None` once the lab is shutting down.
    pub(in crate::daemon) routing: Arc<ArcSwapOption<Roster>>,
    /// What the BGP watchers and the health prober last found: what every
    /// plane is published with (see [`publish_applied`]).
    pub(in crate::daemon) records: Arc<Records>,
    /// What the speakers' watchers are started with.
    pub(in crate::daemon) watch: Watch,
    /// Where the routing daemons' programs must be, for `apply` too.
    pub(in crate::daemon) programs: crate::host::routing::ProgramSearch,
    /// What the load balancers' health probes found, per backend.
    pub(in crate::daemon) probes: Arc<ProbeBook>,
    /// The BGP mesh to the other machines of a spread lab.
    pub(in crate::daemon) mesh: Mutex<Option<HostMesh>>,
}

impl Changing {
    /// Publishes the plane `apply` built (see [`publish_applied`]) and
    /// returns its generation; a fast path that could not follow is kept
    /// in `faults`.
    pub(in crate::daemon) fn publish_applied(
        &self,
        forwarding: &Forwarding,
        snapshot: Arc<Snapshot>,
        ports: TiVec<crate::plan::PortIdx, Arc<LivePort>>,
        faults: &mut Vec<String>,
    ) -> u64 {
        // Refused (the fault is in `faults`): the plane published stays,
        // and so does its generation.
        publish_applied(&forwarding.plane, &self.records, snapshot, (ports, faults))
            .unwrap_or_else(|_| forwarding.plane.load().snapshot.generation)
    }

    /// Publishes the routing daemons as `state` runs them now, for the
    /// reports and the supervisor (at the end of every `apply`).
    pub(in crate::daemon) fn publish_routing(&self, state: &Mutable) {
        self.routing.store(Some(Arc::new(state.hybrid.roster())));
    }

    /// The routing daemons as last published; `None` once the lab is
    /// shutting down.
    pub(crate) fn routing(&self) -> Option<Arc<Roster>> {
        self.routing.load_full()
    }

    /// What the gateway instances have learned now (what `apply` compiles
    /// with).
    pub(crate) fn learned_now(&self) -> crate::policy::gateways::LearnedRoutes {
        self.records.learned.current()
    }

    /// What the speakers' watchers are started with (for `apply`, which
    /// starts one for each new gateway instance speaker).
    pub(crate) fn watch(&self) -> &Watch {
        &self.watch
    }

    /// In a spread lab, the sessions of the host mesh: one per other
    /// machine, counted up once that machine's announcement is received.
    pub(in crate::daemon) fn mesh_convergence(&self, state: &mut Convergence) {
        let mesh = self.mesh.lock().unwrap_or_else(|p| p.into_inner());
        let Some(mesh) = mesh.as_ref() else {
            return;
        };
        let heard = mesh.heard();
        for (host, address) in mesh.peers() {
            state.sessions_expected += 1;
            if heard.contains(address) {
                state.sessions_established += 1;
            } else {
                state.sessions_down.push(SessionRef {
                    gateway: format!("host mesh (host {host})"),
                    instance: 0,
                    neighbor: address.to_string(),
                });
            }
        }
        state.converged &= state.sessions_down.is_empty();
    }
}
