//! Resolution of `expectations`, vnetd's own statements about a network
//! (no Azure counterpart): `from` names a NIC of the file or an
//! on-premises host; `to` is an address, or a NIC or host name standing
//! for its primary address; TCP and UDP need a `port`, ICMP has none;
//! `via` names NICs, gateways, load balancers, circuits (Global Reach) or
//! firewalls; `reason` only goes with
//! `result: Deny`. Names are unique among expectations.
//!
//! Whether a `reason` names a real drop reason is checked where the
//! reasons are known, by the expectations' evaluator.

use super::super::decode::{NameRef, RawExpectation};
use super::load_balancers::suggestion;
use super::{NameRule, Resolver};
use crate::topology::model::*;
use std::collections::HashSet;
use std::net::IpAddr;

pub const EXPECTATION_NAME: NameRule = NameRule::new("expectation", 1, 80);

impl Resolver<'_> {
    pub(super) fn expectations(&mut self, raw: Vec<RawExpectation>) {
        let mut seen = HashSet::new();
        for e in raw {
            self.check_name(
                &e.name,
                EXPECTATION_NAME,
                e.line,
                &format!("expectations[{}]", e.name),
                &mut seen,
            );
            let from = self.expectation_source(&e.from);
            let to = self.expectation_destination(&e.to);
            let key = format!("expectations[{}]", e.name);
            let port = match (e.protocol, e.port) {
                (ExpectedProtocol::Icmp, Some((_, line))) => {
                    self.diags
                        .error(line, &format!("{key}.port"), "ICMP has no port");
                    None
                }
                (ExpectedProtocol::Icmp, None) => Some(None),
                (_, Some((port, _))) => Some(Some(port)),
                (protocol, None) => {
                    self.diags.error(
                        e.line,
                        &key,
                        format!("`port` is required with protocol {}", protocol.as_str()),
                    );
                    None
                }
            };
            if let (Access::Allow, Some((_, line))) = (e.result, &e.reason) {
                self.diags.error(
                    *line,
                    &format!("{key}.reason"),
                    "`reason` names why a packet is dropped; it goes with `result: Deny`",
                );
            }
            let via: Vec<Option<Waypoint>> = e.via.iter().map(|r| self.waypoint(r)).collect();
            let (Some(from), Some(to), Some(port)) = (from, to, port) else {
                continue;
            };
            let Some(via) = via.into_iter().collect::<Option<Vec<_>>>() else {
                continue;
            };
            self.topo.expectations.push(Expectation {
                name: e.name,
                from,
                to,
                to_written: e.to.name,
                protocol: e.protocol,
                port,
                result: e.result,
                via,
                reason: e.reason,
                line: e.line,
            });
        }
    }

    fn file_nic(&self, name: &str) -> Option<NicIdx> {
        self.topo.nics.by_name(name)
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
        let hint = self.endpoint_hint(&r.name);
        self.diags.error(
            r.line,
            &r.key,
            format!(
                "no NIC or on-premises host named `{}` in this file{hint}",
                r.name
            ),
        );
        None
    }

    fn expectation_destination(&mut self, r: &NameRef) -> Option<IpAddr> {
        if let Ok(ip) = r.name.parse::<IpAddr>() {
            return Some(ip);
        }
        if let Some(nic) = self.file_nic(&r.name) {
            return self.topo.nics[nic]
                .ip_configurations
                .first()
                .map(|c| c.address);
        }
        if let Some((_, _, address)) = self.site_host(&r.name) {
            return Some(address);
        }
        let hint = self.endpoint_hint(&r.name);
        self.diags.error(
            r.line,
            &r.key,
            format!(
                "`{}` is neither an address nor a NIC or on-premises host of this file{hint}",
                r.name
            ),
        );
        None
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
        self.diags.error(
            r.line,
            &r.key,
            format!(
                "no NIC, gateway, load balancer, circuit or firewall named `{}` in this file{hint}",
                r.name
            ),
        );
        None
    }
}
