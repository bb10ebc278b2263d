//! What `vnetd lb show` reads from the health prober: each backend's
//! state, since when and why it is down, and how many tracked flows the
//! load balancer placed on it.

use super::*;
use crate::daemon::changing::service::Changing;
use crate::daemon::forwarding::service::Forwarding;
use crate::daemon::reporting::report::rfc3339;
use crate::topology::ByName;

impl Changing {
    /// Each backend this machine probes (`lb/nic`), and whether its first
    /// probe has answered (the convergence report counts them).
    pub fn first_probes(&self, snapshot: &Snapshot) -> Vec<(String, bool)> {
        let answered: BTreeMap<_, _> = self
            .lb_backends()
            .into_iter()
            .map(|(target, state)| (target, state.last_probe.is_some()))
            .collect();
        probe_targets(snapshot)
            .into_iter()
            .map(|spec| {
                let done = answered.get(&spec.target).copied().unwrap_or(false);
                let name = format!("{}/{}", spec.target.load_balancer, spec.target.nic);
                (name, done)
            })
            .collect()
    }

    /// Every backend probed now, with what its probes found.
    pub fn lb_backends(&self) -> Vec<(ProbeTarget, BackendState)> {
        self.probes.states()
    }

    /// Flows the load balancer `lb` placed on each of its backend NICs, by
    /// NIC name (0 for a backend with none): the live pins its frontends
    /// hold in the flow table (one per flow, whichever way it was reached).
    pub fn lb_flow_counts(&self, forwarding: &Forwarding, lb: &str) -> BTreeMap<String, u64> {
        let plane = forwarding.plane();
        let snapshot = &plane.snapshot;
        let topology = &snapshot.topology;
        let mut counts = BTreeMap::new();
        let Some(l) = topology.load_balancers.by_name(lb) else {
            return counts;
        };
        let owners: Vec<FlowOwner> = snapshot
            .frontends
            .iter()
            .filter(|fe| fe.load_balancer == l)
            .map(|fe| (&*plane).frontend_owner(fe.stable_id))
            .collect();
        let members: Vec<NicIdx> = topology.load_balancers[l]
            .pools
            .iter()
            .flat_map(|p| p.nics.iter().copied())
            .collect();
        for &nic in &members {
            counts.insert(topology.nics[nic].name.clone(), 0);
        }
        forwarding
            .flows
            .for_each(forwarding.now_ms(), |key, value| {
                if !is_pin(key) || !owners.contains(&key.owner) {
                    return;
                }
                let Some(pin) = value.memo.as_ref().and_then(PinMemo::from_memo) else {
                    return;
                };
                let Some(backend) = plane
                    .port_of_slot(PortId::new(pin.backend))
                    .and_then(|port| plane.snapshot.plan.nic(port))
                else {
                    return;
                };
                // Two frontends may share an owner number: count only this
                // load balancer's backends.
                if members.contains(&backend) {
                    *counts
                        .entry(topology.nics[backend].name.clone())
                        .or_insert(0) += 1;
                }
            });
        counts
    }

    /// `vnetd lb show`: each backend of each rule's pool with its probe's
    /// verdict and its flows; a refusal naming the load balancers there
    /// are when `lb` is not one of them.
    pub fn lb_status(
        &self,
        forwarding: &Forwarding,
        lb: &str,
    ) -> Result<LoadBalancerStatus, QueryError> {
        let snapshot = forwarding.snapshot();
        let topology = &snapshot.topology;
        let balancer = &topology.load_balancers[find_load_balancer(&snapshot, lb)?];
        let states: BTreeMap<ProbeTarget, BackendState> = self.lb_backends().into_iter().collect();
        let flows = self.lb_flow_counts(forwarding, lb);
        let mut backends = Vec::new();
        for rule in &balancer.rules {
            let Some(pool) = balancer.pools.get(rule.pool) else {
                continue;
            };
            let frontend = balancer.frontends.get(rule.frontend).map(|f| f.address);
            let probe = rule.probe.and_then(|p| balancer.probes.get(p));
            for &idx in &pool.nics {
                let Some(nic) = topology.nics.get(idx) else {
                    continue;
                };
                let state = probe.and_then(|p| {
                    states.get(&ProbeTarget {
                        load_balancer: balancer.name.clone(),
                        probe: p.name.clone(),
                        nic: nic.name.clone(),
                    })
                });
                let up = state.is_none_or(|s| s.up);
                backends.push(BackendStatus {
                    rule: rule.name.clone(),
                    pool: pool.name.clone(),
                    nic: nic.name.clone(),
                    ip_address: frontend
                        .map_or_else(|| primary_ipv4(nic), |f| backend_address(nic, f))
                        .map(|a| a.to_string())
                        .unwrap_or_default(),
                    probe: probe.map(|p| ProbeRef {
                        name: p.name.clone(),
                        protocol: <&str>::from(p.protocol).to_string(),
                        port: p.port,
                    }),
                    state: if up { "Up" } else { "Down" }.to_string(),
                    since: state.map(|s| rfc3339(s.since)),
                    reason: state.filter(|s| !s.up).and_then(|s| s.last_reason.clone()),
                    flows: flows.get(&nic.name).copied().unwrap_or(0),
                });
            }
        }
        Ok(LoadBalancerStatus {
            load_balancer: balancer.name.clone(),
            backends,
        })
    }
}
