//! Resolution of Azure Firewalls, firewall policies and IP groups, with
//! the rules Azure applies to them:
//!
//! - a firewall lives in its VNet's subnet named exactly
//!   `AzureFirewallSubnet`, an IPv4 prefix of /26 or larger, which holds
//!   nothing else (no NIC), and a VNet has at most one;
//! - its private address is the first one Azure leaves usable in that
//!   subnet (the fifth: Azure reserves the first four), the address routes
//!   name as the firewall's next hop;
//! - a policy's network rules run by rule collection group priority, then
//!   rule collection priority, then their order in the collection; the
//!   first match decides, and a packet no rule matches is denied;
//! - a network rule has a source and a destination (addresses or IP
//!   groups); IP groups are named in the file;
//! - the firewall's own default route goes to the Internet: a route table
//!   on `AzureFirewallSubnet` that sends `0.0.0.0/0` elsewhere needs
//!   forced tunnelling, which is warned about, not refused.

use super::super::decode::{NameRef, RawFirewall, RawFirewallPolicy, RawIpGroup};
use super::load_balancers::suggestion;
use super::resolver::{NameRule, Names, Resolver};
use crate::topology::model::*;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr};

pub const FIREWALL_NAME: NameRule = NameRule::new("Azure Firewall", 1, 80);
pub const FIREWALL_POLICY_NAME: NameRule = NameRule::new("firewall policy", 1, 80);
pub const IP_GROUP_NAME: NameRule = NameRule::new("IP group", 1, 80);
pub const FIREWALL_RULE_NAME: NameRule = NameRule::new(
    "firewall rule, rule collection or rule collection group",
    1,
    80,
);

/// The addresses Azure reserves at the start of every subnet: the network
/// address, the default gateway and two for Azure DNS.
const RESERVED_AT_START: u32 = 4;

impl Resolver<'_> {
    pub(super) fn ip_groups(&mut self, groups: Vec<RawIpGroup>) {
        let mut seen = Names::new(IP_GROUP_NAME);
        for group in groups {
            self.check_name(&mut seen, &group.name, group.line, &group.key);
            self.topo.ip_groups.push(IpGroup {
                name: group.name,
                cidrs: group.cidrs,
                line: group.line,
            });
        }
    }

    pub(super) fn firewall_policies(&mut self, policies: Vec<RawFirewallPolicy>) {
        let mut seen = Names::new(FIREWALL_POLICY_NAME);
        for policy in policies {
            self.check_name(&mut seen, &policy.name, policy.line, &policy.key);
            let dns = self.policy_dns(&policy);
            let (rules, application_rules) = self.policy_rules(policy.groups, &dns, policy.sku.0);
            self.topo.firewall_policies.push(FirewallPolicy {
                name: policy.name,
                private_ranges: policy.private_ranges,
                sku: policy.sku.0,
                rules,
                application_rules,
                dns,
                line: policy.line,
            });
        }
    }

    /// The network and application rules of a policy's groups, each in
    /// evaluation order.
    fn policy_rules(
        &mut self,
        mut groups: Vec<super::super::decode::RawRuleCollectionGroup>,
        dns: &FirewallDns,
        sku: FirewallSku,
    ) -> (Vec<FirewallRule>, Vec<ApplicationRule>) {
        let mut group_names = Names::new(FIREWALL_RULE_NAME);
        for group in &groups {
            self.check_name(&mut group_names, &group.name, group.line, &group.key);
        }
        // Stable: equal priorities keep the file's order.
        groups.sort_by_key(|g| g.priority);
        let mut rules = Vec::new();
        let mut application_rules = Vec::new();
        for mut group in groups {
            let mut names = Names::new(FIREWALL_RULE_NAME);
            for c in &group.collections {
                self.check_name(&mut names, &c.name, c.line, &c.key);
            }
            for c in &group.app_collections {
                self.check_name(&mut names, &c.name, c.line, &c.key);
            }
            let place = |name: &str, priority: u16| RulePlace {
                group: group.name.clone(),
                group_priority: group.priority,
                collection: name.to_string(),
                collection_priority: priority,
            };
            group.app_collections.sort_by_key(|c| c.priority);
            for collection in std::mem::take(&mut group.app_collections) {
                let place = place(&collection.name, collection.priority);
                let mut names = Names::new(FIREWALL_RULE_NAME);
                for rule in collection.rules {
                    self.check_name(&mut names, &rule.name, rule.line, &rule.key);
                    if let Some(rule) = self.application_rule(rule, &place, collection.action, sku)
                    {
                        application_rules.push(rule);
                    }
                }
            }
            group.collections.sort_by_key(|c| c.priority);
            for collection in group.collections {
                let place = RulePlace {
                    group: group.name.clone(),
                    group_priority: group.priority,
                    collection: collection.name,
                    collection_priority: collection.priority,
                };
                let mut names = Names::new(FIREWALL_RULE_NAME);
                for rule in collection.rules {
                    self.check_name(&mut names, &rule.name, rule.line, &rule.key);
                    let sources = self.rule_side(
                        rule.source_addresses,
                        &rule.source_ip_groups,
                        (rule.line, &rule.key, "source"),
                    );
                    if let Some((_, line)) = rule.fqdns.first().filter(|_| !dns.proxy_enabled) {
                        let why = "FQDNs in network rules need the policy's DNS proxy \
                                   (`dns: {proxy_enabled: true}`), as Azure Firewall requires";
                        self.diags
                            .error(*line, &format!("{}.destination_fqdns", rule.key), why);
                    }
                    let destination_fqdns: Vec<String> =
                        rule.fqdns.into_iter().map(|(f, _)| f.0).collect();
                    let destinations = if destination_fqdns.is_empty() {
                        self.rule_side(
                            rule.destination_addresses,
                            &rule.destination_ip_groups,
                            (rule.line, &rule.key, "destination"),
                        )
                    } else {
                        self.optional_rule_side(
                            rule.destination_addresses,
                            &rule.destination_ip_groups,
                        )
                    };
                    let (Some(sources), Some(destinations)) = (sources, destinations) else {
                        continue;
                    };
                    rules.push(FirewallRule {
                        place: place.clone(),
                        action: collection.action,
                        name: rule.name,
                        protocols: rule.protocols,
                        sources,
                        destinations,
                        destination_ports: rule.destination_ports,
                        destination_fqdns,
                        line: rule.line,
                    });
                }
            }
        }
        (rules, application_rules)
    }

    /// One side of a network rule: its addresses and its IP groups' CIDRs.
    pub(super) fn rule_side(
        &mut self,
        addresses: Vec<IpNet>,
        groups: &[NameRef],
        (line, key, side): (usize, &str, &str),
    ) -> Option<Vec<IpNet>> {
        if addresses.is_empty() && groups.is_empty() {
            let fqdns = if side == "destination" {
                ", destination_ip_groups or destination_fqdns".to_string()
            } else {
                format!(" or {side}_ip_groups")
            };
            self.diags.error(
                line,
                key,
                format!("a network rule needs {side}_addresses{fqdns}"),
            );
            return None;
        }
        self.optional_rule_side(addresses, groups)
    }

    /// Addresses and the IP groups' CIDRs, possibly none.
    pub(super) fn optional_rule_side(
        &mut self,
        mut addresses: Vec<IpNet>,
        groups: &[NameRef],
    ) -> Option<Vec<IpNet>> {
        let mut found_all = true;
        for group in groups {
            match self.topo.ip_groups.iter().find(|g| g.name == group.name) {
                Some(g) => addresses.extend(g.cidrs.iter().copied()),
                None => {
                    let known = self.topo.ip_groups.iter().map(|g| g.name.as_str());
                    let hint = suggestion(&group.name, known);
                    let why = format!("no IP group named `{}` in this file{hint}", group.name);
                    self.diags.error(group.line, &group.key, why);
                    found_all = false;
                }
            }
        }
        found_all.then_some(addresses)
    }

    /// The firewalls of VNets; a secured hub's (with `virtual_hub`) are
    /// given back, for their hubs to take.
    pub(super) fn firewalls(&mut self, firewalls: Vec<RawFirewall>) -> Vec<RawFirewall> {
        let mut seen = Names::new(FIREWALL_NAME);
        let mut in_hubs = Vec::new();
        for fw in firewalls {
            self.check_name(&mut seen, &fw.name, fw.line, &fw.key);
            match (fw.sku_name, fw.hub.is_some()) {
                (Some((true, line)), false) => {
                    let why =
                        "an AZFW_Hub firewall is placed in a virtual hub: give `virtual_hub` \
                               (a VNet's firewall is AZFW_VNet)";
                    self.diags.error(line, &format!("{}.sku_name", fw.key), why);
                }
                (Some((false, line)), true) => {
                    let why = "a firewall in a virtual hub is AZFW_Hub";
                    self.diags.error(line, &format!("{}.sku_name", fw.key), why);
                }
                _ => {}
            }
            if fw.hub.is_some() {
                if let Some(vnet) = &fw.vnet {
                    let why = "a firewall is in a VNet (`virtual_network`) or in a virtual hub \
                               (`virtual_hub`), not both";
                    self.diags.error(vnet.line, &vnet.key, why);
                }
                in_hubs.push(fw);
                continue;
            }
            let Some(vnet_ref) = fw.vnet.clone() else {
                let why = "missing required key `virtual_network` (or `virtual_hub` for a \
                           secured hub's firewall)";
                self.diags.error(fw.line, &fw.key, why);
                self.refused_firewalls.push(fw.name);
                continue;
            };
            match self.firewall(&fw, &vnet_ref) {
                Some(firewall) => self.topo.firewalls.push(firewall),
                None => self.refused_firewalls.push(fw.name),
            }
        }
        in_hubs
    }

    /// One firewall, or `None` once its refusal is reported.
    pub(super) fn firewall(
        &mut self,
        fw: &RawFirewall,
        vnet_ref: &NameRef,
    ) -> Option<AzureFirewall> {
        let vnet = self.vnet_ref(vnet_ref)?;
        let policy = match &fw.policy {
            None => None,
            Some(r) => {
                let found = self.topo.firewall_policies.by_name(&r.name);
                Some(self.lookup(r, "firewall policy", found)?)
            }
        };
        let (subnet, private_ip) = self.firewall_subnet(fw, vnet_ref, vnet)?;
        self.warn_default_route_elsewhere(fw, subnet);
        if let Some(other) = self.topo.firewalls.iter().find(|f| f.vnet == vnet) {
            let why = format!(
                "VNet `{}` already has the Azure Firewall `{}`: its {FIREWALL_SUBNET} holds one",
                vnet_ref.name, other.name
            );
            return self.refuse_ref(vnet_ref, why);
        }
        Some(AzureFirewall {
            name: fw.name.clone(),
            vnet,
            subnet,
            sku: fw.sku,
            policy,
            private_ip,
            line: fw.line,
        })
    }

    /// Azure wants the firewall's own default route to reach the Internet
    /// unless it is forced-tunnelled: a `0.0.0.0/0` of
    /// `AzureFirewallSubnet`'s route table that goes elsewhere (an
    /// on-premises appliance, a gateway) needs the management NIC, in
    /// `AzureFirewallManagementSubnet` ("Azure Firewall forced
    /// tunneling"). With that subnet the lab follows the route as Azure
    /// does; without it, the lab still follows the route, and says Azure
    /// would want the subnet.
    fn warn_default_route_elsewhere(&mut self, fw: &RawFirewall, subnet: SubnetRef) {
        let Some(table) = self.topo.subnet(subnet).route_table else {
            return;
        };
        let managed = self.topo.vnets[subnet.vnet]
            .subnets
            .by_name(FIREWALL_MANAGEMENT_SUBNET)
            .is_some();
        if managed {
            return;
        }
        let table = &self.topo.route_tables[table];
        let default: IpNet = "0.0.0.0/0".parse().expect("constant prefix");
        let elsewhere: Vec<(usize, String, &'static str)> = table
            .routes
            .iter()
            .filter(|r| r.address_prefix == default && r.next_hop_type != NextHopType::Internet)
            .map(|r| {
                (
                    r.line,
                    format!("route_tables[{}].routes[{}]", table.name, r.name),
                    r.next_hop_type.as_str(),
                )
            })
            .collect();
        for (line, key, hop) in elsewhere {
            let why = format!(
                "{FIREWALL_SUBNET} of Azure Firewall `{}` sends 0.0.0.0/0 to {hop}: Azure's forced \
                 tunnelling needs the management NIC in {FIREWALL_MANAGEMENT_SUBNET}, which this \
                 VNet lacks; the lab follows the route",
                fw.name
            );
            self.diags.warning(line, &key, why);
        }
    }

    /// The firewall's `AzureFirewallSubnet` and the address Azure gives it
    /// there, or the refusal.
    fn firewall_subnet(
        &mut self,
        fw: &RawFirewall,
        vnet_ref: &NameRef,
        vnet: VnetIdx,
    ) -> Option<(SubnetRef, IpAddr)> {
        let v = &self.topo.vnets[vnet];
        let found = v.subnets.by_name(FIREWALL_SUBNET);
        let Some(subnet) = found else {
            let why = format!(
                "VNet `{}` has no subnet named {FIREWALL_SUBNET}: an Azure Firewall is deployed in \
                 it (an IPv4 /26 or larger)",
                v.name
            );
            return self.refuse_ref(vnet_ref, why);
        };
        let s = &v.subnets[subnet];
        let first_v4 = s.address_prefixes.iter().find_map(|p| match p {
            IpNet::V4(net) => Some(*net),
            IpNet::V6(_) => None,
        });
        let Some(net) = first_v4.filter(|n| n.prefix_len() <= FIREWALL_SUBNET_MAX_PREFIX_LEN)
        else {
            let why = format!(
                "{}/{FIREWALL_SUBNET} must have an IPv4 prefix of /{FIREWALL_SUBNET_MAX_PREFIX_LEN} \
                 or larger for an Azure Firewall",
                v.name
            );
            self.diags.error(
                s.line,
                &format!("vnets[{}].subnets[{FIREWALL_SUBNET}]", v.name),
                why,
            );
            return None;
        };
        let private_ip = Ipv4Addr::from(u32::from(net.network()) + RESERVED_AT_START);
        let subnet = SubnetRef { vnet, subnet };
        let why = format!(
            "{}/{FIREWALL_SUBNET} is reserved for the Azure Firewall `{}`: no NIC may be placed in it",
            v.name, fw.name
        );
        self.refuse_nics_in(subnet, &why);
        Some((subnet, IpAddr::V4(private_ip)))
    }
}
