//! The DNS servers vnetd runs for the file's `dns_server` keys: unbound or
//! BIND 9 in a VM's namespace (a custom DNS server of a VNet, the classic
//! forwarder VM of a hub) or in an on-premises host's, configured from the
//! key (see [`crate::host::dns_server`]: typed writers, unprivileged and
//! chrooted, logging into vnetd's log).
//!
//! They follow the plane, and none waits for another: a server appears
//! with its key and is polled each tick until it answers what it is
//! configured to answer; it is restarted with its new configuration when
//! an `apply` changes the key (the lab keeps running), stops (its
//! directory removed) when the key or its namespace goes. A server that
//! does not become ready within its time, or whose process ends, is
//! reported once with the reason and tried again after a back-off that
//! doubles from [`FIRST_RETRY`] to [`LAST_RETRY`]; it is reported again
//! only once it has been ready in between.

use crate::daemon::forwarding::plane::Plane;
use crate::host::config_text::Refused;
use crate::host::dns_server::{
    DnsName, DnsServer, DnsServerSpec, DnsSoftware, ForwarderSpec, Owner, Readiness, RecordValue,
    ZoneRecord, ZoneSpec,
};
use crate::topology::{self, DnsServerConfig, RecordData, Topology};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Where the servers' directories go, one per namespace: root's alone.
pub const RUN_DIR: &str = crate::daemon::options::DNS_SERVERS_RUN_DIR;

/// The first wait before a server that failed is tried again.
pub const FIRST_RETRY: Duration = Duration::from_secs(1);

/// The longest wait between two tries.
pub const LAST_RETRY: Duration = Duration::from_secs(60);

/// How the lab's DNS servers stand, for convergence and `stats`.
#[derive(Debug, Default)]
pub struct DnsServerCounters {
    /// Servers wanted that have neither answered nor failed yet since
    /// they were wanted: a lab converges once this is 0.
    pub starting: AtomicU64,
    /// Servers answering now.
    pub ready: AtomicU64,
    /// Starts that failed (the server ended, or did not answer in time).
    pub failed_starts: AtomicU64,
}

/// A host record value from a topology's.
fn record_value(data: &RecordData) -> Result<RecordValue, Refused> {
    Ok(match data {
        RecordData::A(a) => RecordValue::A(*a),
        RecordData::Aaaa(a) => RecordValue::Aaaa(*a),
        RecordData::Cname(n) => RecordValue::Cname(DnsName::new(n)?),
        RecordData::Ptr(n) => RecordValue::Ptr(DnsName::new(n)?),
        RecordData::Mx {
            preference,
            exchange,
        } => RecordValue::Mx {
            preference: *preference,
            exchange: DnsName::new(exchange)?,
        },
        RecordData::Srv {
            priority,
            weight,
            port,
            target,
        } => RecordValue::Srv {
            priority: *priority,
            weight: *weight,
            port: *port,
            target: DnsName::new(target)?,
        },
        RecordData::Txt(text) => RecordValue::Txt(text.clone()),
    })
}

/// A zone of the key as the host writes it.
fn zone_spec(zone: &topology::LocalZone) -> Result<ZoneSpec, Refused> {
    let mut records = Vec::new();
    for set in &zone.records {
        let owner = match set.name.as_str() {
            "@" => Owner::Apex,
            name => Owner::Below(DnsName::new(name)?),
        };
        for data in &set.records {
            records.push(ZoneRecord {
                owner: owner.clone(),
                ttl: set.ttl,
                value: record_value(data)?,
            });
        }
    }
    Ok(ZoneSpec {
        name: DnsName::new(&zone.name)?,
        records,
    })
}

/// A DNS server's spec for the host, from the file's key; a value the
/// host's writers refuse (the file's checks let none through) is the
/// error.
pub fn spec_of(netns: &str, config: &DnsServerConfig) -> Result<DnsServerSpec, Refused> {
    let forwarders = (config.forwarders.iter())
        .map(|f| {
            let domain = match f.domain.as_str() {
                "" => None,
                domain => Some(DnsName::new(domain)?),
            };
            Ok(ForwarderSpec {
                domain,
                addresses: f.addresses.clone(),
            })
        })
        .collect::<Result<_, Refused>>()?;
    Ok(DnsServerSpec {
        netns: netns.to_owned(),
        run_dir: PathBuf::from(RUN_DIR).join(netns),
        software: match config.software {
            topology::DnsSoftware::Unbound => DnsSoftware::Unbound,
            topology::DnsSoftware::Bind => DnsSoftware::Bind,
        },
        zones: config
            .zones
            .iter()
            .map(zone_spec)
            .collect::<Result<_, _>>()?,
        forwarders,
    })
}

/// Every DNS server this machine runs for `topology`: the local VMs' and
/// the local sites' hosts'. A key the host's writers refuse is logged and
/// left out.
pub fn wanted(topology: &Topology, plane: &Plane) -> Vec<DnsServerSpec> {
    let plan = &plane.snapshot.plan;
    let vms = (topology.nics.iter_enumerated())
        .filter(|(n, _)| plan.is_local(crate::plan::PortIdx::of_nic(*n)))
        .filter_map(|(_, nic)| Some((nic.netns.as_str(), nic.dns_server.as_ref()?)));
    let placement = &topology.placement;
    let hosts = (topology.sites.iter_enumerated())
        .filter(|(s, _)| placement.is_local(placement.site_host(*s)))
        .flat_map(|(_, site)| site.hosts.iter())
        .filter_map(|h| Some((h.netns.as_str(), h.dns_server.as_ref()?)));
    vms.chain(hosts)
        .filter_map(|(netns, config)| match spec_of(netns, config) {
            Ok(spec) => Some(spec),
            Err(refused) => {
                tracing::error!("the DNS server in {netns} is not started: {refused}");
                None
            }
        })
        .collect()
}

/// One wanted server and how it stands.
struct Supervised {
    spec: DnsServerSpec,
    state: State,
    /// Starts that failed since it was last ready.
    failures: u32,
    /// Whether it ever answered or failed since it was wanted.
    settled: bool,
}

enum State {
    Starting(DnsServer),
    Ready(DnsServer),
    /// Not running; tried again at the instant.
    Waiting(Instant),
}

/// The servers, by namespace.
#[derive(Default)]
pub struct DnsServers {
    servers: HashMap<String, Supervised>,
}

impl DnsServers {
    /// Brings the servers to `wanted` without waiting for any: starts the
    /// new, polls the starting, restarts the changed and (after their
    /// back-off) the failed, stops the gone. `counters` then says how they
    /// stand.
    pub fn follow(&mut self, wanted: &[DnsServerSpec], counters: &DnsServerCounters) {
        let now = Instant::now();
        self.servers
            .retain(|netns, s| wanted.iter().any(|w| &w.netns == netns && *w == s.spec));
        for spec in wanted {
            let supervised = self
                .servers
                .entry(spec.netns.clone())
                .or_insert_with(|| Supervised {
                    spec: spec.clone(),
                    state: State::Waiting(now),
                    failures: 0,
                    settled: false,
                });
            supervised.step(now, counters);
        }
        let count = |f: fn(&Supervised) -> bool| self.servers.values().filter(|s| f(s)).count();
        let starting = count(|s| !s.settled);
        let ready = count(|s| matches!(s.state, State::Ready(_)));
        counters.starting.store(starting as u64, Ordering::Relaxed);
        counters.ready.store(ready as u64, Ordering::Relaxed);
    }

    /// Stops every server (their directories removed).
    pub fn stop(&mut self) {
        self.servers.clear();
    }
}

impl Supervised {
    /// One look at the server: start it when due, poll it while it starts,
    /// notice its end once it runs.
    fn step(&mut self, now: Instant, counters: &DnsServerCounters) {
        let program = self.spec.software.program();
        let netns = self.spec.netns.clone();
        self.state = match std::mem::replace(&mut self.state, State::Waiting(now)) {
            State::Waiting(at) if at > now => State::Waiting(at),
            State::Waiting(_) => match DnsServer::spawn(self.spec.clone(), self.failures) {
                Ok(server) => State::Starting(server),
                Err(error) => self.failed(now, counters, &format!("did not start: {error:#}")),
            },
            State::Starting(mut server) => match server.poll() {
                Readiness::Starting => State::Starting(server),
                Readiness::Ready => {
                    if self.failures > 0 {
                        tracing::info!(
                            "the DNS server ({program}) in {netns} answers, after {} failed \
                             tries",
                            self.failures
                        );
                    }
                    self.failures = 0;
                    self.settled = true;
                    State::Ready(server)
                }
                Readiness::Failed(why) => {
                    drop(server);
                    self.failed(now, counters, &format!("is not ready: {why}"))
                }
            },
            State::Ready(mut server) => match server.exited() {
                None => State::Ready(server),
                Some(how) => {
                    drop(server);
                    self.failed(now, counters, &format!("ended ({how})"))
                }
            },
        };
    }

    /// A failed start or an end: reported when it is the first since the
    /// server was last ready, and tried again after the back-off.
    fn failed(&mut self, now: Instant, counters: &DnsServerCounters, what: &str) -> State {
        counters.failed_starts.fetch_add(1, Ordering::Relaxed);
        let wait = retry_after(self.failures);
        let (program, netns) = (self.spec.software.program(), &self.spec.netns);
        if self.failures == 0 {
            tracing::warn!(
                "the DNS server ({program}) in {netns} {what}; trying again in {} s, then less \
                 often (reported again once it has answered)",
                wait.as_secs()
            );
        } else {
            tracing::debug!("the DNS server ({program}) in {netns} {what}");
        }
        self.failures = self.failures.saturating_add(1);
        self.settled = true;
        State::Waiting(now + wait)
    }
}

/// The wait after `failures` earlier failures: [`FIRST_RETRY`], doubled
/// each time, at most [`LAST_RETRY`].
pub fn retry_after(failures: u32) -> Duration {
    FIRST_RETRY
        .saturating_mul(1u32.checked_shl(failures).unwrap_or(u32::MAX))
        .min(LAST_RETRY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_back_off_doubles_up_to_a_minute() {
        let waits: Vec<u64> = (0..10).map(|f| retry_after(f).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
        assert_eq!(retry_after(u32::MAX), LAST_RETRY);
    }
}
