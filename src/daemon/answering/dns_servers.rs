//! The DNS servers vnetd runs for the file's `dns_server` keys: unbound or
//! BIND 9 in a VM's namespace (a custom DNS server of a VNet, the classic
//! forwarder VM of a hub) or in an on-premises host's, configured from the
//! key (see [`crate::host::dns_server`]).
//!
//! They follow the plane: a server appears with its key, is restarted with
//! its new configuration when an `apply` changes the key (the lab keeps
//! running), stops when the key or its namespace goes, and is started
//! again when its process exits.

use crate::daemon::forwarding::plane::Plane;
use crate::host::dns_server::{
    DnsServer, DnsServerSpec, DnsSoftware, ForwarderSpec, ZoneRecord, ZoneSpec,
};
use crate::topology::{self, DnsServerConfig, Topology};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Where the servers' configurations and output go, one directory per
/// namespace.
pub const RUN_DIR: &str = "/run/vnetd-dns";

/// How long a server that fails to start waits before it is tried again.
const RETRY: Duration = Duration::from_secs(2);

/// A DNS server's spec for the host, from the file's key.
pub fn spec_of(netns: &str, config: &DnsServerConfig) -> DnsServerSpec {
    DnsServerSpec {
        netns: netns.to_owned(),
        run_dir: PathBuf::from(RUN_DIR).join(netns),
        software: match config.software {
            topology::DnsSoftware::Unbound => DnsSoftware::Unbound,
            topology::DnsSoftware::Bind => DnsSoftware::Bind,
        },
        zones: (config.zones.iter())
            .map(|z| ZoneSpec {
                name: z.name.clone(),
                records: (z.records.iter())
                    .flat_map(|set| {
                        set.records.iter().map(move |data| ZoneRecord {
                            owner: set.name.clone(),
                            record_type: set.record_type.as_str().to_owned(),
                            ttl: set.ttl,
                            data: data.text(),
                        })
                    })
                    .collect(),
            })
            .collect(),
        forwarders: (config.forwarders.iter())
            .map(|f| ForwarderSpec {
                domain: f.domain.clone(),
                addresses: f.addresses.clone(),
            })
            .collect(),
    }
}

/// Every DNS server this machine runs for `topology`: the local VMs' and
/// the local sites' hosts'.
pub fn wanted(topology: &Topology, plane: &Plane) -> Vec<DnsServerSpec> {
    let plan = &plane.snapshot.plan;
    let vms = (topology.nics.iter_enumerated())
        .filter(|(n, _)| plan.is_local(crate::plan::PortIdx::of_nic(*n)))
        .filter_map(|(_, nic)| Some(spec_of(&nic.netns, nic.dns_server.as_ref()?)));
    let placement = &topology.placement;
    let hosts = (topology.sites.iter_enumerated())
        .filter(|(s, _)| placement.is_local(placement.site_host(*s)))
        .flat_map(|(_, site)| site.hosts.iter())
        .filter_map(|h| Some(spec_of(&h.netns, h.dns_server.as_ref()?)));
    vms.chain(hosts).collect()
}

/// The servers running, by namespace.
#[derive(Default)]
pub struct DnsServers {
    running: HashMap<String, DnsServer>,
    /// Namespaces whose server failed to start, and when to try again.
    failed: HashMap<String, (DnsServerSpec, Instant)>,
}

impl DnsServers {
    /// Brings the servers to `wanted`: starts the new, restarts the changed
    /// and the exited, stops the gone.
    pub fn follow(&mut self, wanted: Vec<DnsServerSpec>) {
        let now = Instant::now();
        self.running.retain(|netns, server| {
            wanted
                .iter()
                .any(|w| &w.netns == netns && w == server.spec())
        });
        self.failed
            .retain(|netns, (spec, _)| wanted.iter().any(|w| &w.netns == netns && w == spec));
        for (netns, server) in self.running.iter_mut() {
            if let Some(how) = server.exited() {
                tracing::warn!("the DNS server in {netns} ended ({how}); starting it again");
                if let Err(error) = server.restart() {
                    tracing::warn!("the DNS server in {netns} did not start again: {error:#}");
                }
            }
        }
        for spec in wanted {
            if self.running.contains_key(&spec.netns) {
                continue;
            }
            if self
                .failed
                .get(&spec.netns)
                .is_some_and(|(_, at)| *at > now)
            {
                continue;
            }
            let netns = spec.netns.clone();
            match DnsServer::start(spec.clone()) {
                Ok(server) => {
                    self.failed.remove(&netns);
                    self.running.insert(netns, server);
                }
                Err(error) => {
                    tracing::warn!(
                        "the DNS server ({}) in {netns} did not start: {error:#}",
                        spec.software.program()
                    );
                    self.failed.insert(netns, (spec, now + RETRY));
                }
            }
        }
    }

    /// Whether every wanted server is running.
    pub fn settled(&self) -> bool {
        self.failed.is_empty()
    }

    /// Stops every server.
    pub fn stop(&mut self) {
        self.running.clear();
        self.failed.clear();
    }
}
