//! Resolution of internal load balancers, with the refusals Azure applies
//! to an internal Standard load balancer:
//!
//! - frontends: `subnet` written `vnet/subnet`, never GatewaySubnet; a
//!   static `private_ip_address` inside one of the subnet's prefixes, not
//!   one of the addresses Azure reserves in it, and held by nothing else in
//!   the VNet (a NIC, a gateway instance, another frontend); every frontend
//!   of a load balancer in one VNet, which is the load balancer's;
//! - backend pools: NICs of the file in the load balancer's VNet, each once
//!   per pool, with an address of the family of each frontend that sends
//!   them flows;
//! - rules: a frontend, a pool and optionally a probe of the same load
//!   balancer; one rule per frontend, protocol and frontend port; an
//!   HA-ports rule (protocol All) shares its frontend with another rule
//!   only when both use floating IP, as Azure's HA ports allow;
//! - names: Azure's character rules, unique per kind within a load
//!   balancer, load balancer names unique in the file.
//!
//! The values of each key (SKU, ports, probe settings, timeouts) are
//! checked while decoding.
//!
//! Azure probes backends from 168.63.129.16. Each VNet with a load balancer
//! gets one port of the fabric that stands for that prober: the lab plan
//! adds it, names it after the VNet and refuses a file whose NICs or
//! namespaces already take those names (`plan::names`).

use super::super::decode::{closest, NameRef, RawFrontend, RawLoadBalancer};
use super::resolver::{NameRule, Names, Resolver};
use crate::topology::model::*;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

pub const LOAD_BALANCER_NAME: NameRule = NameRule::new("load balancer", 1, 80);
pub const FRONTEND_NAME: NameRule = NameRule::new("frontend IP configuration", 1, 80);
pub const BACKEND_POOL_NAME: NameRule = NameRule::new("backend address pool", 1, 80);
pub const PROBE_NAME: NameRule = NameRule::new("health probe", 1, 80);
pub const LB_RULE_NAME: NameRule = NameRule::new("load-balancing rule", 1, 80);
const OUTBOUND_RULE_NAME: NameRule = NameRule::new("outbound rule", 1, 80);

/// Who holds each address of a VNet, as messages name it (NIC `vm1`).
type AddressHolders = HashMap<(VnetIdx, IpAddr), String>;

/// The did-you-mean ending of a message about `name`, when one of `known`
/// is close to it; else nothing.
pub(super) fn suggestion<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    let known: Vec<&str> = known.into_iter().collect();
    closest(name, &known).map_or_else(String::new, |k| format!("; did you mean `{k}`?"))
}

fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

impl Resolver<'_> {
    pub(super) fn load_balancers(&mut self, load_balancers: Vec<RawLoadBalancer>) {
        let mut seen = Names::new(LOAD_BALANCER_NAME);
        let mut holders = self.address_holders();
        for lb in load_balancers {
            self.check_name(&mut seen, &lb.name, lb.line, &lb.key);
            let frontends = self.frontends(&lb, &mut holders);
            let public = lb.frontends.iter().any(|f| f.public_ip.is_some());
            // An internal load balancer sits in its frontends' VNet, a
            // public one in its backends'.
            let mut vnet = frontends
                .iter()
                .flatten()
                .find_map(|f| f.subnet.map(|s| s.vnet));
            let pools = self.pools(&lb, &mut vnet, public);
            if public && vnet.is_none() {
                vnet = self.topo.vnets.keys().next();
            }
            if let Some(vnet) = vnet.filter(|_| public) {
                self.check_frontend_regions(&lb, &frontends, vnet);
            }
            let probes = self.probes(&lb);
            let rules = self.lb_rules(&lb, &frontends, &pools);
            let outbound_rules = self.outbound_rules(&lb, &frontends, &pools, rules.as_deref());
            // A part left out was refused with its reason: the file is
            // refused, and the load balancer need not be whole.
            let frontends: Option<Vec<Frontend>> = frontends.into_iter().collect();
            let (Some(vnet), Some(frontends), Some(rules), Some(outbound_rules)) =
                (vnet, frontends, rules, outbound_rules)
            else {
                continue;
            };
            self.topo.load_balancers.push(LoadBalancer {
                name: lb.name,
                vnet,
                frontends,
                pools,
                probes,
                rules,
                outbound_rules,
                line: lb.line,
            });
        }
    }

    /// Refuses a public frontend whose address is of another region than
    /// the load balancer's VNet.
    fn check_frontend_regions(
        &mut self,
        lb: &RawLoadBalancer,
        frontends: &[Option<Frontend>],
        vnet: VnetIdx,
    ) {
        let location = self.topo.vnets[vnet].location.clone();
        for (raw, fe) in lb.frontends.iter().zip(frontends) {
            if let (
                Some(r),
                Some(Frontend {
                    public_ip: Some(ip),
                    ..
                }),
            ) = (&raw.public_ip, fe)
            {
                self.check_region(*ip, &location, r);
            }
        }
    }

    /// A public frontend on the public IP `r` names.
    fn public_frontend(
        &mut self,
        lb: &RawLoadBalancer,
        fe: &RawFrontend,
        r: &NameRef,
    ) -> Option<Frontend> {
        let user = format!("frontend `{}` of load balancer `{}`", fe.name, lb.name);
        let mut users = std::mem::take(&mut self.public_ip_users);
        let ip = self.public_ip_for(r, &user, &mut users);
        self.public_ip_users = users;
        let ip = ip?;
        let public = &self.topo.edge.public_ips[ip];
        if public.sku == PublicIpSku::Basic {
            let why = format!(
                "public IP address `{}` is Basic: a Standard load balancer takes Standard public \
                 IPs",
                r.name
            );
            return self.refuse_ref(r, why);
        }
        Some(Frontend {
            name: fe.name.clone(),
            subnet: None,
            public_ip: Some(ip),
            address: public.address,
            line: fe.line,
        })
    }

    /// The addresses frontends may not take: the file's NICs' and the
    /// gateway instances'.
    fn address_holders(&self) -> AddressHolders {
        let mut holders = AddressHolders::new();
        for nic in self.topo.nics.iter() {
            for c in &nic.ip_configurations {
                holders
                    .entry((nic.subnet.vnet, c.address))
                    .or_insert_with(|| format!("NIC `{}`", nic.name));
            }
        }
        for gw in &self.topo.gateways {
            for (i, address) in gw.instances.iter().enumerate() {
                holders
                    .entry((gw.vnet, *address))
                    .or_insert_with(|| format!("instance {i} of gateway `{}`", gw.name));
            }
        }
        holders
    }

    /// The load balancer's frontends, in file order; `None` for one refused.
    fn frontends(
        &mut self,
        lb: &RawLoadBalancer,
        holders: &mut AddressHolders,
    ) -> Vec<Option<Frontend>> {
        if lb.frontends.is_empty() {
            let why = "a load balancer needs a frontend IP configuration: it sits in the VNet \
                       of its frontends";
            let key = format!("{}.frontend_ip_configurations", lb.key);
            self.diags.error(lb.line, &key, why);
        }
        let mut names = Names::new(FRONTEND_NAME);
        let mut first: Option<(&str, VnetIdx)> = None;
        let mut out = Vec::new();
        let mut kinds: (Option<&str>, Option<&str>) = (None, None);
        for fe in &lb.frontends {
            self.check_name(&mut names, &fe.name, fe.line, &fe.key);
            let (public, private) = &mut kinds;
            let (this, other) = match fe.public_ip {
                Some(_) => (public, *private),
                None => (private, *public),
            };
            this.get_or_insert(&fe.name);
            if let Some(other) = other {
                let why = format!(
                    "frontend `{}` and frontend `{other}` are one public and one private: Azure \
                     keeps a load balancer's frontends all public or all private",
                    fe.name
                );
                self.diags.error(fe.line, &fe.key, why);
                out.push(None);
                continue;
            }
            if let Some(r) = &fe.public_ip {
                out.push(self.public_frontend(lb, fe, r));
                continue;
            }
            let Some((r, subnet)) = fe
                .subnet
                .as_ref()
                .and_then(|r| Some((r, self.subnet_ref(r)?)))
            else {
                out.push(None);
                continue;
            };
            if self.topo.subnet(subnet).name == GATEWAY_SUBNET {
                let why = format!(
                    "{} is reserved for virtual network gateways: no load balancer frontend may \
                     be placed in it",
                    self.topo.subnet_path(subnet)
                );
                self.diags.error(r.line, &r.key, why);
                out.push(None);
                continue;
            }
            match first {
                None => first = Some((&fe.name, subnet.vnet)),
                Some((other, vnet)) if vnet != subnet.vnet => {
                    let why = format!(
                        "frontend `{}` is in VNet `{}`, but frontend `{other}` of the same load \
                         balancer is in VNet `{}`: a load balancer's frontends all sit in one VNet",
                        fe.name, self.topo.vnets[subnet.vnet].name, self.topo.vnets[vnet].name
                    );
                    self.diags.error(r.line, &r.key, why);
                    out.push(None);
                    continue;
                }
                Some(_) => {}
            }
            let Some((address, line)) = fe.address else {
                out.push(None);
                continue;
            };
            let key = format!("{}.private_ip_address", fe.key);
            if !self.check_subnet_address(subnet, address, line, &key) {
                out.push(None);
                continue;
            }
            match holders.entry((subnet.vnet, address)) {
                Entry::Occupied(other) => {
                    let why = format!(
                        "{address} is already used by {} in the same VNet",
                        other.get()
                    );
                    self.diags.error(line, &key, why);
                    out.push(None);
                    continue;
                }
                Entry::Vacant(free) => {
                    free.insert(format!(
                        "frontend `{}` of load balancer `{}`",
                        fe.name, lb.name
                    ));
                }
            }
            out.push(Some(Frontend {
                name: fe.name.clone(),
                subnet: Some(subnet),
                public_ip: None,
                address,
                line: fe.line,
            }));
        }
        out
    }

    /// The backend pools, each with the NICs it could resolve. `vnet` is
    /// the load balancer's, when a frontend told it.
    /// A public load balancer (`public`) takes the VNet of its first
    /// backend, when `vnet` does not tell it yet.
    fn pools(
        &mut self,
        lb: &RawLoadBalancer,
        vnet: &mut Option<VnetIdx>,
        public: bool,
    ) -> Vec<BackendPool> {
        let mut names = Names::new(BACKEND_POOL_NAME);
        let mut out = Vec::new();
        for pool in &lb.pools {
            self.check_name(&mut names, &pool.name, pool.line, &pool.key);
            let mut nics: Vec<NicIdx> = Vec::new();
            for r in &pool.nics {
                let Some(nic) = self.backend_nic(r) else {
                    continue;
                };
                let why = if nics.contains(&nic) {
                    format!(
                        "NIC `{}` is already in backend address pool `{}`",
                        r.name, pool.name
                    )
                } else {
                    let nic_vnet = self.topo.nics[nic].subnet.vnet;
                    if public && vnet.is_none() {
                        *vnet = Some(nic_vnet);
                    }
                    match *vnet {
                        Some(vnet) if vnet != nic_vnet => format!(
                            "NIC `{}` is in VNet `{}`, but load balancer `{}` is in VNet `{}`: a \
                             backend must be in its load balancer's VNet",
                            r.name,
                            self.topo.vnets[nic_vnet].name,
                            lb.name,
                            self.topo.vnets[vnet].name
                        ),
                        _ => {
                            nics.push(nic);
                            continue;
                        }
                    }
                };
                self.diags.error(r.line, &r.key, why);
            }
            out.push(BackendPool {
                name: pool.name.clone(),
                nics,
                line: pool.line,
            });
        }
        out
    }

    /// The file's NIC named by `r`; gateway and prober ports are not
    /// backends.
    fn backend_nic(&mut self, r: &NameRef) -> Option<NicIdx> {
        if let Some(nic) = self.topo.nics.by_name(&r.name) {
            return Some(nic);
        }
        let vms = self.topo.nics.iter();
        let hint = suggestion(&r.name, vms.map(|n| n.name.as_str()));
        let why = format!("no network interface named `{}` in this file{hint}", r.name);
        self.refuse_ref(r, why)
    }

    fn probes(&mut self, lb: &RawLoadBalancer) -> Vec<Probe> {
        let mut names = Names::new(PROBE_NAME);
        for probe in &lb.probes {
            let key = format!("{}.probes[{}]", lb.key, probe.name);
            self.check_name(&mut names, &probe.name, probe.line, &key);
        }
        lb.probes.clone()
    }

    /// The rules, or `None` when one names what its load balancer lacks.
    fn lb_rules(
        &mut self,
        lb: &RawLoadBalancer,
        frontends: &[Option<Frontend>],
        pools: &[BackendPool],
    ) -> Option<Vec<LbRule>> {
        let frontend_names: Vec<&str> = lb.frontends.iter().map(|f| f.name.as_str()).collect();
        let pool_names: Vec<&str> = lb.pools.iter().map(|p| p.name.as_str()).collect();
        let probe_names: Vec<&str> = lb.probes.iter().map(|p| p.name.as_str()).collect();
        let mut names = Names::new(LB_RULE_NAME);
        let mut rules: Vec<LbRule> = Vec::new();
        let mut complete = true;
        // (pool, NIC, IPv4) already checked for an address of the family.
        let mut families_checked = HashSet::new();
        for rule in &lb.rules {
            self.check_name(&mut names, &rule.name, rule.line, &rule.key);
            let kind = "frontend IP configuration";
            let frontend = self.member(&lb.name, &rule.frontend, kind, &frontend_names);
            let kind = "backend address pool";
            let pool = self.member(&lb.name, &rule.pool, kind, &pool_names);
            let probe = match &rule.probe {
                None => Some(None),
                Some(r) => self.member(&lb.name, r, "probe", &probe_names).map(Some),
            };
            let (Some(frontend), Some(pool), Some(probe)) = (frontend, pool, probe) else {
                complete = false;
                continue;
            };
            let resolved = LbRule {
                name: rule.name.clone(),
                frontend,
                pool,
                probe,
                settings: rule.settings,
                line: rule.line,
            };
            if let Some(why) = conflict(&rules, &resolved, frontend_names[frontend]) {
                self.diags.error(rule.line, &rule.key, why);
            }
            if let Some(fe) = &frontends[frontend] {
                let v4 = fe.address.is_ipv4();
                for &nic in &pools[pool].nics {
                    let n = &self.topo.nics[nic];
                    if families_checked.insert((pool, nic, v4))
                        && !n
                            .ip_configurations
                            .iter()
                            .any(|c| c.address.is_ipv4() == v4)
                    {
                        let why = format!(
                            "NIC `{}` of backend address pool `{}` has no {} address to receive \
                             the flows of frontend `{}`",
                            n.name,
                            pools[pool].name,
                            family(fe.address),
                            fe.name
                        );
                        let key = format!("{}.backend_address_pool", rule.key);
                        self.diags.error(rule.pool.line, &key, why);
                    }
                }
            }
            rules.push(resolved);
        }
        complete.then_some(rules)
    }

    /// The outbound rules, or `None` when one names what its load
    /// balancer lacks. Azure refuses an outbound rule on a private
    /// frontend, more ports than the frontends offer the pool
    /// ([`LB_SNAT_PORTS_PER_ADDRESS`] each), and a load-balancing rule
    /// that keeps its implicit SNAT on a frontend an outbound rule uses.
    fn outbound_rules(
        &mut self,
        lb: &RawLoadBalancer,
        frontends: &[Option<Frontend>],
        pools: &[BackendPool],
        rules: Option<&[LbRule]>,
    ) -> Option<Vec<OutboundRule>> {
        let frontend_names: Vec<&str> = lb.frontends.iter().map(|f| f.name.as_str()).collect();
        let pool_names: Vec<&str> = lb.pools.iter().map(|p| p.name.as_str()).collect();
        let mut names = Names::new(OUTBOUND_RULE_NAME);
        let mut out = Vec::new();
        let mut complete = true;
        for raw in &lb.outbound_rules {
            self.check_name(&mut names, &raw.name, raw.line, &raw.key);
            if raw.frontends.is_empty() {
                let why = "an outbound rule needs a frontend IP configuration: its public \
                           address is the way out";
                let key = format!("{}.frontend_ip_configurations", raw.key);
                self.diags.error(raw.line, &key, why);
                complete = false;
                continue;
            }
            let mut chosen = Vec::new();
            for r in &raw.frontends {
                let kind = "frontend IP configuration";
                let Some(f) = self.member(&lb.name, r, kind, &frontend_names) else {
                    complete = false;
                    continue;
                };
                if let Some(fe) = &frontends[f] {
                    if !fe.is_public() {
                        let why = format!(
                            "frontend `{}` is private: an outbound rule translates to a public \
                             frontend's address",
                            fe.name
                        );
                        self.diags.error(r.line, &r.key, why);
                        complete = false;
                        continue;
                    }
                }
                chosen.push(f);
            }
            let kind = "backend address pool";
            let Some(pool) = self.member(&lb.name, &raw.pool, kind, &pool_names) else {
                complete = false;
                continue;
            };
            if let Some((ports, line)) = raw.allocated_ports {
                let instances = pools[pool].nics.len() as u64;
                let offered = LB_SNAT_PORTS_PER_ADDRESS as u64 * chosen.len() as u64;
                if u64::from(ports) * instances > offered {
                    let why = format!(
                        "{ports} ports for each of the {instances} NICs of pool `{}` is {} ports, \
                         more than the {} its {} frontend address(es) offer",
                        pools[pool].name,
                        u64::from(ports) * instances,
                        offered,
                        chosen.len()
                    );
                    let key = format!("{}.allocated_outbound_ports", raw.key);
                    self.diags.error(line, &key, why);
                    complete = false;
                }
            }
            for rule in rules.unwrap_or_default() {
                if chosen.contains(&rule.frontend) && !rule.settings.disable_outbound_snat {
                    let why = format!(
                        "load-balancing rule `{}` uses frontend `{}`, which outbound rule `{}` \
                         uses too: Azure requires `disable_outbound_snat: true` on that rule",
                        rule.name, frontend_names[rule.frontend], raw.name
                    );
                    self.diags.error(rule.line, &raw.key, why);
                    complete = false;
                }
            }
            out.push(OutboundRule {
                name: raw.name.clone(),
                frontends: chosen,
                pool,
                protocol: raw.protocol,
                allocated_ports: raw.allocated_ports.map(|(p, _)| p),
                idle_timeout_minutes: raw.idle_timeout_minutes,
                tcp_reset: raw.tcp_reset,
                line: raw.line,
            });
        }
        complete.then_some(out)
    }

    /// The position of the `kind` named by `r` among a load balancer's.
    fn member(&mut self, lb: &str, r: &NameRef, kind: &str, names: &[&str]) -> Option<usize> {
        let found = names.iter().position(|n| *n == r.name);
        if found.is_none() {
            let hint = suggestion(&r.name, names.iter().copied());
            let why = format!(
                "load balancer `{lb}` has no {kind} named `{}`{hint}",
                r.name
            );
            self.diags.error(r.line, &r.key, why);
        }
        found
    }
}

/// Why `rule` may not join `earlier` rules on its frontend, if it may not:
/// the same protocol and frontend port as another rule, or HA ports beside
/// another rule without floating IP on both.
fn conflict(earlier: &[LbRule], rule: &LbRule, frontend: &str) -> Option<String> {
    let other = earlier.iter().find(|o| {
        o.frontend == rule.frontend
            && if o.ha_ports() || rule.ha_ports() {
                !(o.settings.floating_ip && rule.settings.floating_ip)
            } else {
                o.settings.protocol == rule.settings.protocol
                    && o.settings.frontend_port == rule.settings.frontend_port
            }
    })?;
    let (name, other_name) = (&rule.name, &other.name);
    let both = "both need floating IP for that";
    Some(match (other.ha_ports(), rule.ha_ports()) {
        (false, false) => format!(
            "rule `{name}` repeats frontend `{frontend}`, protocol {} and port {} of rule \
             `{other_name}`: a frontend has one rule per protocol and port",
            <&str>::from(rule.settings.protocol),
            rule.settings.frontend_port
        ),
        (true, true) => format!(
            "HA-ports rules `{other_name}` and `{name}` share frontend `{frontend}`: {both}"
        ),
        (true, false) => format!(
            "rule `{name}` shares frontend `{frontend}` with HA-ports rule `{other_name}`: {both}"
        ),
        (false, true) => format!(
            "HA-ports rule `{name}` shares frontend `{frontend}` with rule `{other_name}`: {both}"
        ),
    })
}
