//! The thread that keeps the lab's services running beside the forwarding:
//! a responder in every Private Endpoint's namespace ([`super::paas`]) and
//! the DNS servers the file's `dns_server` keys ask for
//! ([`super::dns_servers`]), and the proxy of every firewall with
//! application rules ([`super::firewall_proxy`]). It looks at the plane every tick: what a new
//! plane adds is started, what it drops is stopped, a starting DNS server
//! is asked whether it answers yet, one that failed is started again after
//! its back-off. Nothing on it waits for a server.

use super::dns_servers::{self, DnsServerCounters, DnsServers};
use super::firewall_proxy::FirewallProxies;
use super::paas::{PaasCounters, Responders};
use crate::daemon::forwarding::plane::PublishedPlane;
use crate::daemon::threads::{self, Faults, ThreadKind, ThreadPanics};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often the thread looks at the plane and at its servers.
const TICK: Duration = Duration::from_millis(200);

fn run(
    plane: &PublishedPlane,
    (responders, proxies, dns): (&mut Responders, &mut FirewallProxies, &mut DnsServers),
    (stop, serving, dns_counters): (&AtomicBool, &AtomicU64, &DnsServerCounters),
    faults: &Faults,
) {
    let mut generation = None;
    let mut wanted = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        faults.check(ThreadKind::Services);
        let current = plane.load_full();
        let new = generation != Some(current.snapshot.generation);
        if new {
            responders.follow(&current);
            proxies.follow(&current);
            wanted = dns_servers::wanted(&current.snapshot.topology, &current);
        }
        // Never waits for a server: each is polled, started or stopped.
        dns.follow(&wanted, dns_counters);
        if new {
            // Once the DNS servers' counters are the new plane's too.
            serving.store(current.snapshot.generation, Ordering::Release);
            generation = Some(current.snapshot.generation);
        }
        std::thread::sleep(TICK);
    }
    responders.stop();
    proxies.stop();
    dns.stop();
}

/// Starts the services thread of a daemon. A panic is caught and counted,
/// and the thread runs again (its servers are started again).
pub(in crate::daemon) fn start(
    plane: Arc<PublishedPlane>,
    counters: Arc<PaasCounters>,
    tls: Arc<super::tls::LabTls>,
    firewall_log: crate::daemon::forwarding::firewall_log::FirewallLog,
    stop: Arc<AtomicBool>,
    (faults, panics): (Arc<Faults>, Arc<ThreadPanics>),
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let for_servers = panics.clone();
    threads::spawn_supervised(
        "vnetd-services",
        ThreadKind::Services,
        "the lab's services",
        (panics, stop.clone()),
        move || {
            let mut responders =
                Responders::new(counters.clone(), for_servers.clone(), tls.clone());
            let mut proxies = FirewallProxies::new(
                plane.clone(),
                (counters.application_rules.clone(), firewall_log.clone()),
                for_servers.clone(),
            );
            let mut dns = DnsServers::default();
            let serving = &counters.serving_generation;
            run(
                &plane,
                (&mut responders, &mut proxies, &mut dns),
                (&stop, serving, &counters.dns_servers),
                &faults,
            )
        },
    )
}
