//! What the health prober probes: every backend NIC of every rule's pool
//! with the rule's probe, from the prober namespace of the load balancer's
//! VNet (the port the lab plan adds for it).

use super::*;

/// The longest a probe may take, as Azure's probes: the interval, but at
/// most 30 s.
pub const MAX_PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// What a probe's timeout leaves of its interval, so that it has given up
/// before the next one is due.
const TIMEOUT_MARGIN: Duration = Duration::from_millis(250);

/// How long a probe of `interval` waits for its answer.
pub fn probe_timeout(interval: Duration) -> Duration {
    let bound = interval.min(MAX_PROBE_TIMEOUT);
    bound
        .saturating_sub(TIMEOUT_MARGIN)
        .max(bound / 2)
        .max(Duration::from_millis(10))
}

/// One probe of one backend: what to check, from where, how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    pub target: ProbeTarget,
    /// The namespace of the VNet's prober.
    pub namespace: String,
    /// The backend's primary IPv4 address and the probe's port.
    pub address: SocketAddr,
    pub kind: ProbeKind,
    pub interval: Duration,
    /// Consecutive failures that mark the backend down (and successes that
    /// bring it back), at least 1.
    pub threshold: u32,
}

impl TargetSpec {
    /// The check this target's probe runs.
    pub fn health_probe(&self) -> HealthProbe {
        HealthProbe {
            namespace: self.namespace.clone(),
            target: self.address,
            kind: self.kind.clone(),
            timeout: probe_timeout(self.interval),
        }
    }
}

/// The namespace of the health prober of `lb`'s VNet, if the snapshot
/// has one.
/// The namespace of the prober of `lb`'s VNet, and whether it runs on
/// this machine (in a spread lab, only the machine of the load balancer's
/// VNet probes); `None` when the VNet has none.
fn prober_namespace<'s>(snapshot: &'s Snapshot, lb: &LoadBalancer) -> Option<(&'s str, bool)> {
    let prober = snapshot.prober(lb.vnet)?;
    Some((
        snapshot.plan.ports[prober].netns.as_str(),
        snapshot.plan.is_local(prober),
    ))
}

/// The NIC's primary IPv4 address: what its probes connect to.
pub(super) fn primary_ipv4(nic: &Nic) -> Option<IpAddr> {
    backend_address(nic, Ipv4Addr::UNSPECIFIED.into())
}

/// Every probe target of `snapshot`: for each load balancer, each rule with
/// a probe, each NIC of the rule's pool with an IPv4 address, once, in
/// order. A load balancer whose VNet has no prober is not probed (its
/// backends stay up).
/// What this machine's probers probe: every backend of every load
/// balancer whose prober runs here.
pub fn probe_targets(snapshot: &Snapshot) -> Vec<TargetSpec> {
    targets(snapshot, true)
}

/// Every backend probed anywhere in the lab: what health may be known of.
pub fn known_targets(snapshot: &Snapshot) -> BTreeSet<ProbeTarget> {
    targets(snapshot, false)
        .into_iter()
        .map(|t| t.target)
        .collect()
}

fn targets(snapshot: &Snapshot, only_here: bool) -> Vec<TargetSpec> {
    let topology = &snapshot.topology;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for lb in &topology.load_balancers {
        let Some((namespace, here)) = prober_namespace(snapshot, lb) else {
            continue;
        };
        if only_here && !here {
            continue;
        }
        for rule in &lb.rules {
            let Some(probe) = rule.probe.and_then(|p| lb.probes.get(p)) else {
                continue;
            };
            let Some(pool) = lb.pools.get(rule.pool) else {
                continue;
            };
            for &nic in &pool.nics {
                let Some(nic) = topology.nics.get(nic) else {
                    continue;
                };
                let Some(address) = primary_ipv4(nic) else {
                    continue;
                };
                let target = ProbeTarget {
                    load_balancer: lb.name.clone(),
                    probe: probe.name.clone(),
                    nic: nic.name.clone(),
                };
                if !seen.insert(target.clone()) {
                    continue;
                }
                let path = || probe.request_path.clone().unwrap_or_else(|| "/".into());
                out.push(TargetSpec {
                    target,
                    namespace: namespace.to_owned(),
                    address: SocketAddr::new(address, probe.port),
                    kind: match probe.protocol {
                        ProbeProtocol::Tcp => ProbeKind::Tcp,
                        ProbeProtocol::Http => ProbeKind::Http { path: path() },
                        ProbeProtocol::Https => ProbeKind::Https { path: path() },
                    },
                    interval: Duration::from_secs(u64::from(probe.interval_secs.max(1))),
                    threshold: probe.threshold.max(1),
                });
            }
        }
    }
    out
}

/// The down backends of `health` that `snapshot` still probes: what a
/// snapshot of that topology may carry.
pub fn health_for(snapshot: &Snapshot, health: &BackendHealth) -> BackendHealth {
    let targets = known_targets(snapshot);
    let mut out = BackendHealth::default();
    for down in health.down().filter(|t| targets.contains(*t)) {
        out.set(down.clone(), false);
    }
    out
}
