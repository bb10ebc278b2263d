//! Whether the running lab has converged, as the daemon answers it
//! ([`crate::api::Request::Convergence`]): the BGP sessions the topology
//! implies, the routes the gateways learn over them, and the load
//! balancers' first probes, each as found against what is expected, with
//! what is still missing named.
//!
//! Converged means all three are complete: every session the BGP model
//! predicts up is Established, every gateway instance has learned every
//! route the model predicts it learns (by prefix and neighbour) and the
//! plane forwards with them, and every load balancer backend has had its
//! first probe's verdict. A lab without BGP or load balancers is converged
//! from the start. A machine of a spread lab has also converged only once
//! it trusts every other machine (each announces the same numbering of the
//! lab over the host mesh).

use serde::{Deserialize, Serialize};

/// The lab's convergence now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Convergence {
    pub converged: bool,
    /// BGP sessions of gateway instances that are Established, of those
    /// the topology implies are up once converged.
    pub sessions_established: usize,
    pub sessions_expected: usize,
    /// Routes the gateway instances learned (one per instance, neighbour
    /// and prefix), of those the BGP model predicts.
    pub prefixes_learned: usize,
    pub prefixes_expected: usize,
    /// Load balancer backends whose probe has given a first verdict, of
    /// those probed.
    pub backends_probed: usize,
    pub backends_expected: usize,
    /// The expected sessions not Established.
    #[serde(default)]
    pub sessions_down: Vec<SessionRef>,
    /// The expected routes not learned yet.
    #[serde(default)]
    pub prefixes_missing: Vec<RouteRef>,
    /// The backends whose probe has not answered yet, as `lb/nic`.
    #[serde(default)]
    pub backends_unprobed: Vec<String>,
    /// In a spread lab, the other machines this one trusts, of all.
    #[serde(default)]
    pub hosts_trusted: usize,
    #[serde(default)]
    pub hosts_expected: usize,
    /// The other machines not trusted, with why.
    #[serde(default)]
    pub hosts_untrusted: Vec<HostRef>,
    /// The lab's servers (Azure DNS, the PaaS resources' responders, the
    /// Internet's servers) are not yet listening for what the plane
    /// forwards with.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub servers_starting: bool,
    /// Milliseconds since the lab started.
    pub uptime_ms: u64,
}

/// One BGP session of a gateway instance.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SessionRef {
    pub gateway: String,
    pub instance: usize,
    pub neighbor: String,
}

/// Another machine of a spread lab that this one does not trust.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct HostRef {
    pub host: String,
    pub address: String,
    /// Why, in words.
    pub why: String,
}

/// One route a gateway instance learns from a neighbour.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RouteRef {
    pub gateway: String,
    pub instance: usize,
    pub neighbor: String,
    pub prefix: String,
}

/// How many missing items a summary names before "and N more".
const NAMED: usize = 3;

impl Convergence {
    /// The counts in one line: `BGP 3/4 sessions established, 9/12
    /// prefixes learned, load balancer probes 2/2 answered` (the parts
    /// the lab has).
    pub fn progress(&self) -> String {
        self.described(format!(
            "BGP {}/{} sessions established, {}/{} prefixes learned",
            self.sessions_established,
            self.sessions_expected,
            self.prefixes_learned,
            self.prefixes_expected
        ))
    }

    /// What a converged lab has: `BGP 4/4 sessions established, 12
    /// prefixes learned`, and the probes when there are load balancers.
    pub fn summary(&self) -> String {
        let prefixes = match self.prefixes_learned {
            1 => "prefix",
            _ => "prefixes",
        };
        self.described(format!(
            "BGP {}/{} sessions established, {} {prefixes} learned",
            self.sessions_established, self.sessions_expected, self.prefixes_learned
        ))
    }

    /// `bgp` (when the lab has BGP) and the probes (when it has load
    /// balancers), joined; what a lab with neither waits for.
    fn described(&self, bgp: String) -> String {
        let mut parts = Vec::new();
        if self.sessions_expected > 0 || self.prefixes_expected > 0 {
            parts.push(bgp);
        }
        if self.backends_expected > 0 {
            parts.push(format!(
                "load balancer probes {}/{} answered",
                self.backends_probed, self.backends_expected
            ));
        }
        if self.hosts_expected > 0 {
            parts.push(format!(
                "hosts {}/{} trusted",
                self.hosts_trusted, self.hosts_expected
            ));
        }
        if parts.is_empty() {
            return "no BGP sessions or load balancer probes to wait for".to_string();
        }
        parts.join(", ")
    }

    /// What is still missing, in words (empty once converged): `session
    /// hub-gw/0 with 192.168.255.1 not established; hub-gw/0 has not
    /// learned 192.168.0.0/16 from 192.168.255.1`, the first few of each
    /// kind named.
    pub fn missing(&self) -> String {
        let mut parts = Vec::new();
        named(
            &mut parts,
            self.sessions_down.iter().map(|s| {
                format!(
                    "session {}/{} with {} not established",
                    s.gateway, s.instance, s.neighbor
                )
            }),
            "sessions down",
        );
        named(
            &mut parts,
            self.prefixes_missing.iter().map(|r| {
                format!(
                    "{}/{} has not learned {} from {}",
                    r.gateway, r.instance, r.prefix, r.neighbor
                )
            }),
            "prefixes missing",
        );
        named(
            &mut parts,
            self.backends_unprobed
                .iter()
                .map(|b| format!("no probe answer yet from backend {b}")),
            "backends unprobed",
        );
        named(
            &mut parts,
            (self.hosts_untrusted.iter())
                .map(|h| format!("host {} ({}) not trusted: {}", h.host, h.address, h.why)),
            "hosts not trusted",
        );
        if self.servers_starting {
            parts.push("the lab's servers are starting".to_string());
        }
        parts.join("; ")
    }
}

/// Adds the first [`NAMED`] of `items` to `parts`, and how many more.
fn named(parts: &mut Vec<String>, items: impl ExactSizeIterator<Item = String>, more: &str) {
    let total = items.len();
    parts.extend(items.take(NAMED));
    if total > NAMED {
        parts.push(format!("{} more {more}", total - NAMED));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_not_trusted_is_counted_and_named() {
        let state = Convergence {
            sessions_established: 2,
            sessions_expected: 2,
            hosts_trusted: 1,
            hosts_expected: 2,
            hosts_untrusted: vec![HostRef {
                host: "h3".into(),
                address: "192.0.2.3".into(),
                why: "it announces no digest of the lab's numbering".into(),
            }],
            ..Convergence::default()
        };
        assert_eq!(
            state.progress(),
            "BGP 2/2 sessions established, 0/0 prefixes learned, hosts 1/2 trusted"
        );
        assert_eq!(
            state.missing(),
            "host h3 (192.0.2.3) not trusted: it announces no digest of the lab's numbering"
        );
    }
}
