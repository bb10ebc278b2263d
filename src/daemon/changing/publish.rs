//! How a new plane is published without a lock, so that no publisher
//! waits for another, nor for an `apply` in progress: `apply`, the health
//! prober and the BGP watchers each record what they know first (the
//! prober its latest [`BackendHealth`], the watchers what the gateways
//! learned in the [`LearnedBook`]), then build a plane from the one they
//! loaded and swap it in only if that one is still published
//! (compare-and-swap). When another plane was published meanwhile, they
//! build theirs again from it, with the latest of both records: `apply`
//! never publishes over health, routes or FQDN answers published during
//! its run, the prober, the watchers and the firewalls' FQDN resolver
//! never over a topology `apply` published, and generations only grow.
//!
//! It may use the plane, the load balancers' health filter and the
//! learned routes' book.

use super::hybrid::LearnedBook;
use super::lb::health_for;
use crate::daemon::forwarding::plane::{LivePort, Plane, Publication, PublishedPlane};
use crate::plan::PortIdx;
use crate::policy::load_balancers::BackendHealth;
use crate::snapshot::fqdns::FqdnResolutions;
use crate::snapshot::Snapshot;
use crate::topology::TiVec;
use arc_swap::{ArcSwap, ArcSwapOption};
use std::sync::Arc;

/// What the publishers record before they publish, and what every
/// publication is rebuilt with when it meets a newer plane.
#[derive(Default)]
pub struct Records {
    /// What the gateway instances have learned, as their watchers last
    /// read it.
    pub learned: Arc<LearnedBook>,
    /// The down backends the health prober last asked to publish.
    pub health: ArcSwap<BackendHealth>,
    /// In a spread lab, the down backends the other machines' probers
    /// found, as the host mesh last heard them.
    pub remote_health: ArcSwap<BackendHealth>,
    /// What the firewalls' DNS proxies last answered for their network
    /// rules' FQDNs; none until the first answer.
    pub fqdns: ArcSwapOption<FqdnResolutions>,
}

impl Records {
    /// The recorded health, this machine's and the others', less the
    /// backends `snapshot`'s topology does not have.
    fn health_for(&self, snapshot: &Snapshot) -> BackendHealth {
        health_for(
            snapshot,
            &self.health.load().union(&self.remote_health.load()),
        )
    }
}

/// Publishes a new plane with what the gateways have learned now: the
/// plane loaded, with a snapshot relearned from the book; nothing when the
/// plane already carries what the book holds.
pub fn publish_learned(plane: &PublishedPlane, records: &Records) {
    republish(plane, |old| {
        let learned = records.learned.current();
        (learned != old.learned).then(|| Snapshot::relearned(old, learned, old.generation + 1))
    });
}

/// Records `health` as what the probes found, then publishes a new plane
/// with it: the same ports, a snapshot compiled with it (less the
/// backends the plane's topology no longer has); nothing when the plane
/// already carries that health.
pub fn publish_health(plane: &PublishedPlane, records: &Records, health: &BackendHealth) {
    records.health.store(Arc::new(health.clone()));
    republish(plane, |old| {
        let health = records.health_for(old);
        (health != old.health).then(|| Snapshot::rehealthed(old, health, old.generation + 1))
    });
}

/// Records `health` as what the other machines' probers found, then
/// publishes a new plane with it, as [`publish_health`] does.
pub fn publish_remote_health(plane: &PublishedPlane, records: &Records, health: &BackendHealth) {
    records.remote_health.store(Arc::new(health.clone()));
    republish(plane, |old| {
        let health = records.health_for(old);
        (health != old.health).then(|| Snapshot::rehealthed(old, health, old.generation + 1))
    });
}

/// Records `fqdns` as what the firewalls' DNS proxies answer now, then
/// publishes a new plane compiled with them (same topology, the next
/// generation, so that flows are judged again under the new rules);
/// nothing when the plane already carries them.
pub fn publish_fqdns(plane: &PublishedPlane, records: &Records, fqdns: FqdnResolutions) {
    let fqdns = Arc::new(fqdns);
    records.fqdns.store(Some(fqdns.clone()));
    republish(plane, |old| {
        (*old.fqdns != *fqdns).then(|| Snapshot::reresolved(old, fqdns.clone(), old.generation + 1))
    });
}

/// Publishes the snapshot `derive` makes of the loaded plane's, with the
/// same ports, unless it makes none. When another plane was published
/// meanwhile, `derive` runs again on that one, so a newer plane is never
/// overwritten.
fn republish(plane: &PublishedPlane, derive: impl Fn(&Snapshot) -> Option<Snapshot>) {
    loop {
        let old = plane.load_full();
        let Some(snapshot) = derive(&old.snapshot) else {
            return;
        };
        let new = Arc::new(old.with_snapshot(Arc::new(snapshot)));
        // Nobody asked for this publication: a fault is in the log only
        // (a refused one is offered again with the next change).
        match plane.publish_over(&old, new, &mut Vec::new()) {
            Publication::Published | Publication::Refused => return,
            Publication::Superseded => {}
        }
    }
}

/// Publishes a plane `apply` built (`snapshot` and `ports`) and returns
/// its generation. A watcher or the prober may have published since
/// `apply` loaded its plane, and the records may hold newer routes or
/// health: then the snapshot is compiled again with them, with the next
/// generation after the plane it replaces, so that generations only grow.
/// A snapshot that is the published one's (an `apply` undone) keeps its
/// generation. A fast path that could not follow is kept in `faults`; one
/// that could neither follow nor be emptied of the flows the plane changes
/// refuses it (`Err`, the fault said): the plane published stays.
pub fn publish_applied(
    plane: &PublishedPlane,
    records: &Records,
    mut snapshot: Arc<Snapshot>,
    (ports, faults): (TiVec<PortIdx, Arc<LivePort>>, &mut Vec<String>),
) -> Result<u64, String> {
    let with_ports = Plane::new(snapshot.clone(), ports);
    loop {
        let old = plane.load_full();
        let learned = records.learned.current();
        let health = records.health_for(&snapshot);
        let behind = snapshot.generation <= old.snapshot.generation
            && !Arc::ptr_eq(&snapshot, &old.snapshot);
        let generation = snapshot.generation.max(old.snapshot.generation + 1);
        if behind || learned != snapshot.learned {
            snapshot = Arc::new(Snapshot::relearned(&snapshot, learned, generation));
        }
        if health != snapshot.health {
            snapshot = Arc::new(Snapshot::rehealthed(&snapshot, health, generation));
        }
        if let Some(fqdns) = records.fqdns.load_full() {
            if *fqdns != *snapshot.fqdns {
                snapshot = Arc::new(Snapshot::reresolved(&snapshot, fqdns, generation));
            }
        }
        let new = Arc::new(with_ports.with_snapshot(snapshot.clone()));
        match plane.publish_over(&old, new, faults) {
            Publication::Published => return Ok(snapshot.generation),
            Publication::Refused => {
                return Err(faults.last().cloned().unwrap_or_default());
            }
            Publication::Superseded => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::load_balancers::ProbeTarget;

    /// `web1` and `web2` behind load balancer `ilb`, probed on TCP 80.
    const PROBED: &str = "\
vnets:
  - name: app
    address_space: [10.0.0.0/16]
    location: westeurope
    subnets:
      - {name: web, address_prefixes: [10.0.1.0/24]}
network_interfaces:
  - {name: web1, subnet: app/web, private_ip_address: 10.0.1.4}
  - {name: web2, subnet: app/web, private_ip_address: 10.0.1.5}
load_balancers:
  - name: ilb
    frontend_ip_configurations:
      - {name: fe, subnet: app/web, private_ip_address: 10.0.1.100}
    backend_address_pools:
      - {name: web, network_interfaces: [web1, web2]}
    probes:
      - {name: health, protocol: Tcp, port: 80, interval_in_seconds: 5, probe_threshold: 1}
    rules:
      - {name: http, frontend_ip_configuration: fe, backend_address_pool: web, probe: health,
         protocol: Tcp, frontend_port: 80, backend_port: 80}
";

    fn topology() -> crate::topology::Topology {
        crate::topology::parse_str("probed.yaml", PROBED)
            .unwrap()
            .topology
    }

    fn down(nics: &[&str]) -> BackendHealth {
        let mut health = BackendHealth::default();
        for nic in nics {
            let target = ProbeTarget {
                load_balancer: "ilb".into(),
                probe: "health".into(),
                nic: (*nic).into(),
            };
            health.set(target, false);
        }
        health
    }

    /// A published plane of generation 1 without ports, and empty records.
    /// `snapshot` published as an apply that moves no port.
    fn apply_moving_nothing(
        plane: &PublishedPlane,
        records: &Records,
        snapshot: Arc<Snapshot>,
    ) -> u64 {
        publish_applied(plane, records, snapshot, (TiVec::new(), &mut Vec::new()))
            .expect("published")
    }

    fn started() -> (PublishedPlane, Records) {
        let snapshot = Snapshot::compile_learned(topology(), Default::default(), 1);
        let plane = PublishedPlane::new(Plane::new(Arc::new(snapshot), TiVec::new()), None);
        (plane, Records::default())
    }

    #[test]
    fn an_apply_keeps_the_health_published_while_it_ran() {
        let (plane, records) = started();
        // The apply loads generation 1 (all up) and compiles its successor.
        let loaded = plane.load_full();
        let applied = Snapshot::compile_after(topology(), 2, &loaded.snapshot);
        assert_eq!(applied.health, BackendHealth::default());
        // Meanwhile the prober finds web2 down and publishes generation 2.
        publish_health(&plane, &records, &down(&["web2"]));
        assert_eq!(plane.load().snapshot.generation, 2);
        assert_eq!(plane.load().snapshot.health, down(&["web2"]));
        // The apply's plane comes after it, with web2 still down.
        let generation = apply_moving_nothing(&plane, &records, Arc::new(applied));
        assert_eq!(generation, 3);
        let published = plane.load_full();
        assert_eq!(published.snapshot.generation, 3);
        assert_eq!(published.snapshot.health, down(&["web2"]));
        // And the next health goes on top of the applied plane.
        publish_health(&plane, &records, &down(&["web1"]));
        assert_eq!(plane.load().snapshot.generation, 4);
        assert_eq!(plane.load().snapshot.health, down(&["web1"]));
        assert_eq!(
            plane.load().snapshot.topology.text,
            published.snapshot.topology.text
        );
    }

    #[test]
    fn health_of_backends_the_applied_topology_lacks_is_left_out() {
        let (plane, records) = started();
        let loaded = plane.load_full();
        let without_web2 = PROBED.replace("[web1, web2]", "[web1]").replace(
            "  - {name: web2, subnet: app/web, private_ip_address: 10.0.1.5}\n",
            "",
        );
        let smaller = crate::topology::parse_str("probed.yaml", &without_web2)
            .unwrap()
            .topology;
        let applied = Snapshot::compile_after(smaller, 2, &loaded.snapshot);
        publish_health(&plane, &records, &down(&["web1", "web2"]));
        let generation = apply_moving_nothing(&plane, &records, Arc::new(applied));
        assert_eq!(generation, 3);
        assert_eq!(plane.load().snapshot.health, down(&["web1"]));
    }

    #[test]
    fn an_apply_undone_keeps_its_generation_unless_a_plane_came_since() {
        let (plane, records) = started();
        let loaded = plane.load_full();
        // Nothing published since: the same snapshot, the same generation.
        let generation = apply_moving_nothing(&plane, &records, loaded.snapshot.clone());
        assert_eq!(generation, 1);
        assert!(Arc::ptr_eq(&plane.load().snapshot, &loaded.snapshot));
        assert!(!Arc::ptr_eq(&plane.load_full(), &loaded));
        // Health published since: kept, and the generation grows.
        publish_health(&plane, &records, &down(&["web1"]));
        let generation = apply_moving_nothing(&plane, &records, loaded.snapshot.clone());
        assert_eq!(generation, 3);
        assert_eq!(plane.load().snapshot.health, down(&["web1"]));
    }

    #[test]
    fn a_health_already_published_publishes_nothing() {
        let (plane, records) = started();
        publish_health(&plane, &records, &down(&["web1"]));
        let published = plane.load_full();
        publish_health(&plane, &records, &down(&["web1"]));
        assert!(Arc::ptr_eq(&plane.load_full(), &published));
        assert_eq!(published.snapshot.generation, 2);
    }

    #[test]
    fn fqdn_answers_publish_once_per_change_and_an_apply_keeps_them() {
        let (plane, records) = started();
        let loaded = plane.load_full();
        let applied = Snapshot::compile_after(topology(), 2, &loaded.snapshot);
        let answer = |ip: &str| {
            FqdnResolutions::default().with("fw", "api.contoso.com", vec![ip.parse().unwrap()])
        };
        publish_fqdns(&plane, &records, answer("10.9.0.1"));
        assert_eq!(plane.load().snapshot.generation, 2);
        assert_eq!(*plane.load().snapshot.fqdns, answer("10.9.0.1"));
        // The same answer again (a TTL expired, nothing changed): nothing.
        let published = plane.load_full();
        publish_fqdns(&plane, &records, answer("10.9.0.1"));
        assert!(Arc::ptr_eq(&plane.load_full(), &published));
        // An apply compiled before the answer publishes after it, with it.
        let generation = apply_moving_nothing(&plane, &records, Arc::new(applied));
        assert_eq!(generation, 3);
        assert_eq!(*plane.load().snapshot.fqdns, answer("10.9.0.1"));
        publish_fqdns(&plane, &records, answer("10.9.0.2"));
        assert_eq!(plane.load().snapshot.generation, 4);
        assert_eq!(*plane.load().snapshot.fqdns, answer("10.9.0.2"));
    }
}
