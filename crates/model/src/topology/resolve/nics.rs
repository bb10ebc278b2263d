//! Resolution of the file's NICs: their subnet, static addresses (inside
//! the subnet, not one Azure reserves, unique within the VNet) and dynamic
//! ones (the first free address, as Azure allocates), namespace names used
//! once, and application security groups of one VNet only.

use super::super::decode::RawNic;
use super::fabric_names::Namespaces;
use super::resolver::{is_reserved, NameRule, Names, Resolver};
use crate::topology::model::*;
use ipnet::IpNet;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

pub const NIC_NAME: NameRule = NameRule::new("network interface", 1, 80);
const MAX_IP_CONFIGS_PER_NIC: usize = 256;

impl Resolver<'_> {
    pub(super) fn nics(&mut self, nics: Vec<RawNic>) {
        let mut seen = Names::new(NIC_NAME);
        let mut namespaces = Namespaces::new();
        // (VNet, address) -> NIC name, for Azure's uniqueness within a VNet.
        let mut taken: HashMap<(VnetIdx, IpAddr), String> = HashMap::new();
        let mut resolved: Vec<(RawNic, SubnetRef, String)> = Vec::new();
        for nic in nics {
            self.check_name(&mut seen, &nic.name, nic.line, &nic.key);
            let Some(subnet) = self.subnet_ref(&nic.subnet) else {
                continue;
            };
            let who = format!("NIC `{}`", nic.name);
            let netns = self.claim_netns(
                &nic.netns,
                (&nic.name, nic.line),
                &nic.key,
                who,
                &mut namespaces,
            );
            for c in &nic.ip_configurations {
                if let Some(ip) = c.address {
                    self.check_static_address(&nic.name, subnet, ip, c.line, &c.key, &mut taken);
                }
            }
            resolved.push((nic, subnet, netns));
        }
        for (nic, subnet, netns) in resolved {
            let mut configs = Vec::new();
            let mut names = HashSet::new();
            if nic.ip_configurations.len() > MAX_IP_CONFIGS_PER_NIC {
                self.diags.error(
                    nic.line,
                    &format!("{}.ip_configurations", nic.key),
                    format!(
                        "Azure allows at most {MAX_IP_CONFIGS_PER_NIC} IP configurations per NIC"
                    ),
                );
            }
            for c in &nic.ip_configurations {
                if !names.insert(c.name.to_ascii_lowercase()) {
                    self.diags.error(
                        c.line,
                        &c.key,
                        format!("duplicate IP configuration name `{}`", c.name),
                    );
                }
                let address = match c.address {
                    Some(ip) => ip,
                    None => match self.allocate(subnet, &taken) {
                        Some(ip) => {
                            taken.insert((subnet.vnet, ip), nic.name.clone());
                            ip
                        }
                        None => {
                            self.diags.error(
                                c.line,
                                &c.key,
                                "no free IPv4 address left in the subnet for a dynamic allocation",
                            );
                            continue;
                        }
                    },
                };
                configs.push(IpConfiguration {
                    name: c.name.clone(),
                    address,
                });
            }
            if configs.first().is_some_and(|c| c.address.is_ipv6()) {
                self.diags.error(
                    nic.line,
                    &format!("{}.ip_configurations", nic.key),
                    "the primary (first) IP configuration must be IPv4, as Azure requires",
                );
            }
            let network_security_group = nic.network_security_group.as_ref().and_then(|r| {
                let found = self.topo.nsgs.by_name(&r.name);
                self.lookup(r, "network security group", found)
            });
            let mut asgs = Vec::new();
            for r in &nic.application_security_groups {
                let found = self.topo.asgs.by_name(&r.name);
                if let Some(i) = self.lookup(r, "application security group", found) {
                    asgs.push(i);
                }
            }
            if asgs.len() > 20 {
                self.diags.error(
                    nic.line,
                    &format!("{}.application_security_groups", nic.key),
                    "Azure allows at most 20 application security groups per IP configuration",
                );
            }
            let dns_server = nic.dns_server.map(|c| self.dns_server_config(c));
            self.topo.nics.push(Nic {
                name: nic.name,
                subnet,
                ip_configurations: configs,
                ip_forwarding: nic.ip_forwarding,
                network_security_group,
                application_security_groups: asgs,
                netns,
                mtu: nic.mtu,
                dns_servers: nic.dns_servers,
                dns_server,
                line: nic.line,
            });
        }
        self.check_asg_vnets();
        self.check_rule_asg_vnets();
    }

    pub(super) fn check_static_address(
        &mut self,
        nic: &str,
        subnet: SubnetRef,
        ip: IpAddr,
        line: usize,
        key: &str,
        taken: &mut HashMap<(VnetIdx, IpAddr), String>,
    ) {
        if !self.check_subnet_address(subnet, ip, line, key) {
            return;
        }
        if let Some(other) = taken.insert((subnet.vnet, ip), nic.to_string()) {
            self.diags.error(
                line,
                key,
                format!("{ip} is already used by NIC `{other}` in the same VNet"),
            );
        }
    }

    /// Refuses a static address outside the subnet's prefixes or on one of
    /// the addresses Azure reserves in it; true when it is usable.
    pub(super) fn check_subnet_address(
        &mut self,
        subnet: SubnetRef,
        ip: IpAddr,
        line: usize,
        key: &str,
    ) -> bool {
        let sub = self.topo.subnet(subnet);
        let Some(prefix) = sub
            .address_prefixes
            .iter()
            .find(|p| p.contains(&ip))
            .copied()
        else {
            let shown: Vec<String> = sub.address_prefixes.iter().map(|p| p.to_string()).collect();
            self.diags.error(
                line,
                key,
                format!(
                    "{ip} is outside subnet {} ({})",
                    self.topo.subnet_path(subnet),
                    shown.join(", ")
                ),
            );
            return false;
        };
        if is_reserved(&prefix, ip) {
            let which = match prefix {
                IpNet::V4(_) => "the 5 addresses Azure reserves in every subnet (network, .1 gateway, .2 and .3 DNS, broadcast)",
                IpNet::V6(_) => "the first 4 addresses Azure reserves in every IPv6 subnet",
            };
            self.diags
                .error(line, key, format!("{ip} is one of {which} of {prefix}"));
            return false;
        }
        true
    }

    /// Azure's dynamic allocation: the first free host address of the
    /// subnet's first IPv4 prefix.
    pub(super) fn allocate(
        &self,
        subnet: SubnetRef,
        taken: &HashMap<(VnetIdx, IpAddr), String>,
    ) -> Option<IpAddr> {
        let sub = self.topo.subnet(subnet);
        let IpNet::V4(prefix) = sub
            .address_prefixes
            .iter()
            .find(|p| matches!(p, IpNet::V4(_)))?
        else {
            return None;
        };
        let net = IpNet::V4(*prefix);
        let start = u32::from(prefix.network());
        let end = u32::from(prefix.broadcast());
        (start..=end)
            .map(|a| IpAddr::V4(Ipv4Addr::from(a)))
            .find(|ip| !is_reserved(&net, *ip) && !taken.contains_key(&(subnet.vnet, *ip)))
    }

    /// The ASGs one security rule names, on both sides, must all be in one
    /// VNet ("Application security groups", learn.microsoft.com/azure/
    /// virtual-network/application-security-groups: "all application
    /// security groups in a rule must be in the same virtual network"). An
    /// ASG is in the VNet of its members; one without members is in none.
    pub(super) fn check_rule_asg_vnets(&mut self) {
        let asg_vnet: TiVec<AsgIdx, Option<VnetIdx>> = self
            .topo
            .asgs
            .keys()
            .map(|asg| {
                self.topo
                    .nics
                    .iter()
                    .find(|n| n.application_security_groups.contains(&asg))
                    .map(|nic| nic.subnet.vnet)
            })
            .collect();
        let mut refusals = Vec::new();
        for nsg in &self.topo.nsgs {
            for rule in &nsg.security_rules {
                let mut first: Option<(AsgIdx, VnetIdx)> = None;
                for side in [&rule.source, &rule.destination] {
                    let AddressSpec::Asgs(asgs) = side else {
                        continue;
                    };
                    for &asg in asgs {
                        let Some(vnet) = asg_vnet[asg] else {
                            continue;
                        };
                        match first {
                            None => first = Some((asg, vnet)),
                            Some((other, other_vnet)) if other_vnet != vnet => {
                                refusals.push((
                                    rule.line,
                                    format!(
                                        "network_security_groups[{}].security_rules[{}]",
                                        nsg.name, rule.name
                                    ),
                                    format!(
                                        "application security groups `{}` (VNet `{}`) and `{}` (VNet `{}`) are in different VNets; Azure requires every ASG of a rule to be in one VNet",
                                        self.topo.asgs[other].name,
                                        self.topo.vnets[other_vnet].name,
                                        self.topo.asgs[asg].name,
                                        self.topo.vnets[vnet].name
                                    ),
                                ));
                            }
                            Some(_) => {}
                        }
                    }
                }
            }
        }
        for (line, key, message) in refusals {
            self.diags.error(line, &key, message);
        }
    }

    /// All members of an application security group must sit in the VNet of
    /// its first member.
    pub(super) fn check_asg_vnets(&mut self) {
        for (asg, group) in self.topo.asgs.iter_enumerated() {
            let mut first: Option<&Nic> = None;
            for nic in self
                .topo
                .nics
                .iter()
                .filter(|n| n.application_security_groups.contains(&asg))
            {
                match first {
                    None => first = Some(nic),
                    Some(f) if f.subnet.vnet != nic.subnet.vnet => {
                        self.diags.error(
                            nic.line,
                            &format!("network_interfaces[{}].application_security_groups", nic.name),
                            format!(
                                "application security group `{}` already has members in VNet `{}` (NIC `{}`); all its members must be in one VNet",
                                group.name, self.topo.vnets[f.subnet.vnet].name, f.name
                            ),
                        );
                    }
                    Some(_) => {}
                }
            }
        }
    }
}
