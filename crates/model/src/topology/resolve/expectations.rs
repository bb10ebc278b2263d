//! Resolution of `expectations`, vnetd's own statements about a network
//! (no Azure counterpart): `from` names a NIC of the file or an
//! on-premises host. A conversation's `to` is an address, a NIC or host
//! name standing for its primary address, or a DNS name (two labels or
//! more) the source resolves first; TCP and UDP need a `port`, ICMP has
//! none; `via` names NICs, gateways, load balancers, circuits (Global
//! Reach) or firewalls; `reason` only goes with `result: Deny`. A
//! `resolves` expectation was read whole by the decoder. Names are unique
//! among expectations.
//!
//! Whether a `reason` names a real drop reason is checked where the
//! reasons are known, by the expectations' evaluator.

use super::super::decode::{NameRef, RawExpectation, RawReach, RawTest};
use super::load_balancers::suggestion;
use super::resolver::{NameRule, Names, Resolver};
use crate::topology::model::*;
use std::net::IpAddr;

pub const EXPECTATION_NAME: NameRule = NameRule::new("expectation", 1, 80);

impl Resolver<'_> {
    pub(super) fn expectations(&mut self, raw: Vec<RawExpectation>) {
        let mut seen = Names::new(EXPECTATION_NAME);
        for e in raw {
            self.check_name(
                &mut seen,
                &e.name,
                e.line,
                &format!("expectations[{}]", e.name),
            );
            let from = self.expectation_source(&e.from);
            let key = format!("expectations[{}]", e.name);
            let test = match e.test {
                RawTest::Reach(reach) => self.reach(&key, e.line, reach),
                RawTest::Resolve {
                    name,
                    addresses,
                    status,
                } => Some(Test::Resolve(Resolve {
                    name,
                    addresses,
                    status,
                })),
            };
            let (Some(from), Some(test)) = (from, test) else {
                continue;
            };
            self.topo.expectations.push(Expectation {
                name: e.name,
                from,
                test,
                line: e.line,
            });
        }
    }

    /// A conversation's parts resolved; `None` when one is refused (the
    /// refusal is reported).
    fn reach(&mut self, key: &str, line: usize, raw: RawReach) -> Option<Test> {
        let RawReach {
            to,
            protocol,
            port,
            result,
            via,
            reason,
        } = raw;
        let destination = self.expectation_destination(&to);
        let port = match (protocol, port) {
            (ExpectedProtocol::Icmp, Some((_, line))) => {
                self.diags
                    .error(line, &format!("{key}.port"), "ICMP has no port");
                None
            }
            (ExpectedProtocol::Icmp, None) => Some(None),
            (_, Some((port, _))) => Some(Some(port)),
            (protocol, None) => {
                self.diags.error(
                    line,
                    key,
                    format!("`port` is required with protocol {}", protocol.as_str()),
                );
                None
            }
        };
        if let (Access::Allow, Some((_, line))) = (result, &reason) {
            self.diags.error(
                *line,
                &format!("{key}.reason"),
                "`reason` names why a packet is dropped; it goes with `result: Deny`",
            );
        }
        let via: Vec<Option<Waypoint>> = via.iter().map(|r| self.waypoint(r)).collect();
        let via = via.into_iter().collect::<Option<Vec<_>>>()?;
        Some(Test::Reach(Reach {
            to: destination?,
            to_written: to.name,
            protocol,
            port: port?,
            result,
            via,
            reason,
        }))
    }

    /// A NIC, or a VM's primary NIC.
    fn file_nic(&self, name: &str) -> Option<NicIdx> {
        self.topo.endpoint_nic(name)
    }

    fn site_host(&self, name: &str) -> Option<(SiteIdx, usize, IpAddr)> {
        let (site, host) = self.topo.site_host(name)?;
        Some((site, host, self.topo.sites[site].hosts[host].address))
    }

    /// The did-you-mean ending for `name` among the file's NICs and
    /// on-premises hosts.
    fn endpoint_hint(&self, name: &str) -> String {
        let nics = self.topo.nics.iter().map(|n| n.name.as_str());
        let hosts = self
            .topo
            .sites
            .iter()
            .flat_map(|s| s.hosts.iter().map(|h| h.name.as_str()));
        suggestion(name, nics.chain(hosts))
    }

    fn expectation_source(&mut self, r: &NameRef) -> Option<Endpoint> {
        if let Some(nic) = self.file_nic(&r.name) {
            return Some(Endpoint::Nic(nic));
        }
        if let Some((site, host, _)) = self.site_host(&r.name) {
            return Some(Endpoint::SiteHost { site, host });
        }
        if self.topo.edge.has_internet() {
            if r.name.eq_ignore_ascii_case(INTERNET_ENDPOINT) {
                return Some(Endpoint::Internet(None));
            }
            if let Some(i) = self
                .topo
                .edge
                .servers()
                .iter()
                .position(|s| s.name == r.name)
            {
                return Some(Endpoint::Internet(Some(i)));
            }
        }
        let hint = self.endpoint_hint(&r.name);
        self.refuse_ref(
            r,
            format!(
                "no NIC or on-premises host named `{}` in this file{hint}",
                r.name
            ),
        )
    }

    /// A conversation's `to`: an address, a NIC or host (its primary
    /// address), or a DNS name of two labels or more, resolved when the
    /// expectation is tested. A single label that names nothing is a
    /// mistyped NIC or host more likely than a name.
    fn expectation_destination(&mut self, r: &NameRef) -> Option<Destination> {
        if let Ok(ip) = r.name.parse::<IpAddr>() {
            return Some(Destination::Address(ip));
        }
        if let Some(nic) = self.file_nic(&r.name) {
            return self.topo.nics[nic]
                .ip_configurations
                .first()
                .map(|c| Destination::Address(c.address));
        }
        if let Some((_, _, address)) = self.site_host(&r.name) {
            return Some(Destination::Address(address));
        }
        if r.name.trim_end_matches('.').contains('.') {
            return self
                .dns_name_at(&r.name, r.line, &r.key)
                .map(Destination::Name);
        }
        let hint = self.endpoint_hint(&r.name);
        self.refuse_ref(
            r,
            format!(
                "`{}` is neither an address, a NIC or on-premises host of this file, nor a DNS \
                 name of two labels or more{hint}",
                r.name
            ),
        )
    }

    fn waypoint(&mut self, r: &NameRef) -> Option<Waypoint> {
        if let Some(nic) = self.file_nic(&r.name) {
            return Some(Waypoint::Nic(nic));
        }
        if let Some(gateway) = self.topo.gateways.by_name(&r.name) {
            return Some(Waypoint::Gateway(gateway));
        }
        if let Some(lb) = self.topo.load_balancers.by_name(&r.name) {
            return Some(Waypoint::LoadBalancer(lb));
        }
        if let Some(circuit) = self.topo.circuits.by_name(&r.name) {
            return Some(Waypoint::Circuit(circuit));
        }
        if let Some(firewall) = self.topo.firewalls.by_name(&r.name) {
            return Some(Waypoint::Firewall(firewall));
        }
        // A gateway, circuit or firewall refused for a reason already reported is not
        // refused again for its absence.
        if self
            .refused_gateways
            .iter()
            .any(|(name, _)| *name == r.name)
            || self.refused_circuits.contains(&r.name)
            || self.refused_firewalls.contains(&r.name)
        {
            return None;
        }
        let nics = self.topo.nics.iter().map(|n| n.name.as_str());
        let gateways = self.topo.gateways.iter().map(|g| g.name.as_str());
        let lbs = self.topo.load_balancers.iter().map(|l| l.name.as_str());
        let circuits = self.topo.circuits.iter().map(|c| c.name.as_str());
        let firewalls = self.topo.firewalls.iter().map(|f| f.name.as_str());
        let known: Vec<&str> = (nics.chain(gateways).chain(lbs))
            .chain(circuits.chain(firewalls))
            .collect();
        let hint = suggestion(&r.name, known.iter().copied());
        self.refuse_ref(
            r,
            format!(
                "no NIC, gateway, load balancer, circuit or firewall named `{}` in this file{hint}",
                r.name
            ),
        )
    }
}
