//! Azure Firewall's resolution of the FQDNs of its network rules, kept
//! fresh as Azure documents it ("Use FQDN filtering in network rules",
//! "Azure Firewall DNS Proxy details"): each FQDN of a policy whose DNS
//! proxy is on is resolved through the proxy's upstream (the policy's
//! custom servers, else Azure DNS of the firewall's VNet), its answer kept
//! for its TTL but for at least [`RULE_REFRESH`] ("Azure Firewall updates
//! its rules every 15 seconds"), asked again when that runs out; new
//! addresses join the rule at once, addresses the upstream no longer
//! returns leave it after [`OLD_ADDRESS_RETENTION`] ("Old IP addresses
//! expire after 15 minutes"). When what the rules hold changes, it is
//! handed to the publisher the daemon gives (a new plane compiled with
//! it), once per change.
//!
//! Azure DNS is asked through its tables in the plane's snapshot: the
//! very tables the lab's Azure DNS answers from. Custom servers are asked
//! for real, from the firewall's namespace, in the policy's order (Azure
//! picks one at random: "If you configure multiple DNS servers, the
//! server used is chosen randomly"), the next when one does not answer.

use crate::daemon::forwarding::plane::PublishedPlane;
use crate::daemon::threads::{self, Faults, ThreadKind, ThreadPanics};
use crate::names::{question, QueryType};
use crate::snapshot::fqdns::FqdnResolutions;
use crate::snapshot::Snapshot;
use crate::topology::{RecordData, VnetIdx};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The shortest time an answer is kept before it is asked again: Azure
/// updates its network rules from the FQDNs' resolution every 15 seconds.
pub const RULE_REFRESH: Duration = Duration::from_secs(15);

/// How long an address the upstream no longer returns stays in the rule.
pub const OLD_ADDRESS_RETENTION: Duration = Duration::from_secs(15 * 60);

/// How often the thread looks for answers run out (and at `stop`).
const TICK: Duration = Duration::from_millis(500);

/// One firewall's FQDN: `(firewall name, fqdn)`.
pub type FqdnKey = (String, String);

/// What an upstream answered: its addresses and the shortest TTL among
/// them (seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub addresses: Vec<IpAddr>,
    pub ttl: u32,
}

/// What the proxy holds for one FQDN.
#[derive(Debug, Default)]
struct Held {
    /// Each address, with when the upstream last returned it.
    addresses: BTreeMap<IpAddr, Instant>,
    /// When to ask again.
    due: Option<Instant>,
}

/// The firewalls' answers for their network rules' FQDNs, with their
/// clocks.
#[derive(Debug, Default)]
pub struct FqdnCache {
    held: BTreeMap<FqdnKey, Held>,
}

impl FqdnCache {
    /// Whether `key` is to be asked at `now`: never asked, or its answer
    /// ran out.
    pub fn due(&self, key: &FqdnKey, now: Instant) -> bool {
        self.held
            .get(key)
            .and_then(|h| h.due)
            .is_none_or(|due| due <= now)
    }

    /// Records what the upstream answered for `key` at `now` (`None`: no
    /// answer, what was held stays and is asked again after
    /// [`RULE_REFRESH`]).
    pub fn record(&mut self, key: FqdnKey, answer: Option<Answer>, now: Instant) {
        let held = self.held.entry(key).or_default();
        let keep = match answer {
            Some(answer) => {
                for address in answer.addresses {
                    held.addresses.insert(address, now);
                }
                Duration::from_secs(u64::from(answer.ttl)).max(RULE_REFRESH)
            }
            None => RULE_REFRESH,
        };
        held.due = Some(now + keep);
    }

    /// Forgets the FQDNs not in `wanted` and the addresses not returned
    /// for [`OLD_ADDRESS_RETENTION`].
    pub fn retain(&mut self, wanted: &[FqdnKey], now: Instant) {
        self.held.retain(|key, _| wanted.contains(key));
        for held in self.held.values_mut() {
            held.addresses
                .retain(|_, seen| now.duration_since(*seen) < OLD_ADDRESS_RETENTION);
        }
    }

    /// What the rules hold: the FQDNs asked at least once, with their
    /// addresses.
    pub fn resolutions(&self) -> FqdnResolutions {
        self.held
            .iter()
            .filter(|(_, held)| held.due.is_some())
            .fold(
                FqdnResolutions::default(),
                |out, ((firewall, fqdn), held)| {
                    out.with(firewall, fqdn, held.addresses.keys().copied().collect())
                },
            )
    }
}

/// Where a firewall's proxy sends its questions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// Azure DNS of the firewall's VNet.
    AzureDns(VnetIdx),
    /// The policy's custom servers, asked from the firewall's namespace.
    Custom { servers: Vec<IpAddr>, netns: String },
}

/// The FQDNs of the network rules of the firewalls of `snap` whose
/// policy's DNS proxy is on, with their upstream (custom servers only for
/// a firewall of this machine: its namespace asks them).
pub fn wanted(snap: &Snapshot) -> Vec<(FqdnKey, Upstream)> {
    let topology = &snap.topology;
    let mut out = Vec::new();
    for (f, firewall) in topology.firewalls.iter_enumerated() {
        let Some(policy) = firewall.policy.map(|p| &topology.firewall_policies[p]) else {
            continue;
        };
        if !policy.dns.proxy_enabled {
            continue;
        }
        let upstream = if policy.dns.servers.is_empty() {
            Upstream::AzureDns(firewall.vnet)
        } else {
            let port = snap
                .plan
                .ports
                .iter_enumerated()
                .find(|(_, p)| p.kind.firewall() == Some(f));
            match port {
                Some((idx, port)) if snap.plan.is_local(idx) => Upstream::Custom {
                    servers: policy.dns.servers.clone(),
                    netns: port.netns.clone(),
                },
                _ => continue,
            }
        };
        for fqdn in policy.rules.iter().flat_map(|r| &r.destination_fqdns) {
            let key = (
                firewall.name.clone(),
                fqdn.trim_end_matches('.').to_ascii_lowercase(),
            );
            if !out.iter().any(|(k, _)| *k == key) {
                out.push((key, upstream.clone()));
            }
        }
    }
    out
}

/// Asks `upstream` for the A and AAAA records of `fqdn`; `None` when it
/// gave no answer.
pub fn ask(snap: &Snapshot, upstream: &Upstream, fqdn: &str) -> Option<Answer> {
    match upstream {
        Upstream::AzureDns(vnet) => {
            let mut addresses = Vec::new();
            let mut ttl = u32::MAX;
            for query_type in [QueryType::A, QueryType::AAAA] {
                for record in snap.names.resolve(*vnet, fqdn, query_type).answers {
                    let address = match record.data {
                        RecordData::A(v4) => IpAddr::V4(v4),
                        RecordData::Aaaa(v6) => IpAddr::V6(v6),
                        _ => continue,
                    };
                    addresses.push(address);
                    ttl = ttl.min(record.ttl);
                }
            }
            Some(Answer {
                addresses,
                ttl: if ttl == u32::MAX { 0 } else { ttl },
            })
        }
        Upstream::Custom { servers, netns } => servers
            .iter()
            .find_map(|server| ask_server(netns, SocketAddr::new(*server, 53), fqdn)),
    }
}

/// Asks one server from `netns`, A then AAAA.
fn ask_server(netns: &str, server: SocketAddr, fqdn: &str) -> Option<Answer> {
    let mut addresses = Vec::new();
    let mut ttl = u32::MAX;
    for (n, query_type) in [QueryType::A, QueryType::AAAA].into_iter().enumerate() {
        let id = 0x4600 + n as u16;
        let bytes = question(fqdn, query_type, id)?;
        let reply = super::live::ask(netns, server, &bytes, id).ok()?;
        for record in reply.answers {
            if let Ok(address) = record.data.parse::<IpAddr>() {
                addresses.push(address);
                ttl = ttl.min(record.ttl);
            }
        }
    }
    Some(Answer {
        addresses,
        ttl: if ttl == u32::MAX { 0 } else { ttl },
    })
}

/// One pass: asks what is due, forgets what is no longer wanted, and
/// publishes what the rules hold when it changed since `published`.
fn refresh(
    plane: &PublishedPlane,
    publish: &dyn Fn(FqdnResolutions),
    cache: &mut FqdnCache,
    published: &mut Option<FqdnResolutions>,
) {
    let snap = plane.load().snapshot.clone();
    let wanted = wanted(&snap);
    let keys: Vec<FqdnKey> = wanted.iter().map(|(k, _)| k.clone()).collect();
    cache.retain(&keys, Instant::now());
    if wanted.is_empty() && published.is_none() {
        return;
    }
    for (key, upstream) in wanted {
        if cache.due(&key, Instant::now()) {
            let answer = ask(&snap, &upstream, &key.1);
            cache.record(key, answer, Instant::now());
        }
    }
    let now = cache.resolutions();
    if published.as_ref() != Some(&now) {
        publish(now.clone());
        *published = Some(now);
    }
}

/// Starts the thread that keeps the firewalls' FQDN answers fresh,
/// handing each change to `publish`.
pub(in crate::daemon) fn start(
    plane: Arc<PublishedPlane>,
    publish: impl Fn(FqdnResolutions) + Send + 'static,
    stop: Arc<AtomicBool>,
    (_faults, panics): (Arc<Faults>, Arc<ThreadPanics>),
) -> std::io::Result<std::thread::JoinHandle<()>> {
    threads::spawn_supervised(
        "vnetd-fqdns",
        ThreadKind::AzureDns,
        "the firewalls' FQDN resolver",
        (panics, stop.clone()),
        move || {
            let mut cache = FqdnCache::default();
            let mut published = None;
            while !stop.load(Ordering::Relaxed) {
                refresh(&plane, &publish, &mut cache, &mut published);
                std::thread::sleep(TICK);
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> FqdnKey {
        ("fw".into(), "api.contoso.com".into())
    }

    fn answer(ips: &[&str], ttl: u32) -> Option<Answer> {
        Some(Answer {
            addresses: ips.iter().map(|i| i.parse().unwrap()).collect(),
            ttl,
        })
    }

    fn held(cache: &FqdnCache) -> Vec<IpAddr> {
        cache
            .resolutions()
            .get("fw", "api.contoso.com")
            .map(<[IpAddr]>::to_vec)
            .unwrap_or_default()
    }

    #[test]
    fn an_answer_is_kept_for_its_ttl_but_at_least_the_rule_refresh() {
        let t0 = Instant::now();
        let mut cache = FqdnCache::default();
        assert!(cache.due(&key(), t0));
        assert!(cache.resolutions().iter().next().is_none());
        cache.record(key(), answer(&["10.9.0.1"], 5), t0);
        assert!(!cache.due(&key(), t0 + Duration::from_secs(14)));
        assert!(cache.due(&key(), t0 + RULE_REFRESH));
        cache.record(key(), answer(&["10.9.0.1"], 60), t0 + RULE_REFRESH);
        assert!(!cache.due(&key(), t0 + Duration::from_secs(74)));
        assert!(cache.due(&key(), t0 + Duration::from_secs(75)));
        // No answer: what was held stays, asked again after the refresh.
        cache.record(key(), None, t0 + Duration::from_secs(75));
        assert_eq!(held(&cache), ["10.9.0.1".parse::<IpAddr>().unwrap()]);
        assert!(cache.due(&key(), t0 + Duration::from_secs(90)));
    }

    #[test]
    fn a_new_address_joins_at_once_and_the_old_leaves_after_the_retention() {
        let t0 = Instant::now();
        let mut cache = FqdnCache::default();
        let wanted = [key()];
        cache.record(key(), answer(&["10.9.0.1"], 5), t0);
        let t1 = t0 + RULE_REFRESH;
        cache.record(key(), answer(&["10.9.0.2"], 5), t1);
        cache.retain(&wanted, t1);
        let both: Vec<IpAddr> = vec!["10.9.0.1".parse().unwrap(), "10.9.0.2".parse().unwrap()];
        assert_eq!(held(&cache), both);
        cache.retain(
            &wanted,
            t0 + OLD_ADDRESS_RETENTION - Duration::from_millis(1),
        );
        assert_eq!(held(&cache), both);
        cache.record(key(), answer(&["10.9.0.2"], 5), t0 + OLD_ADDRESS_RETENTION);
        cache.retain(&wanted, t0 + OLD_ADDRESS_RETENTION);
        assert_eq!(held(&cache), ["10.9.0.2".parse::<IpAddr>().unwrap()]);
        // An FQDN no rule names any more is forgotten.
        cache.retain(&[], t0 + OLD_ADDRESS_RETENTION);
        assert!(cache.resolutions().iter().next().is_none());
    }
}
