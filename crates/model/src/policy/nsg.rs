//! Network security group semantics ("Azure network security groups
//! overview", "How network security groups filter network traffic",
//! "Application security groups").
//!
//! - Rules of one direction are evaluated by ascending priority; the first
//!   match decides. After the user rules come the three default rules of
//!   that direction (priorities 65000, 65001, 65500), which cannot be
//!   removed.
//! - Service tags are expanded for the NIC's subnet ([`super::tags`]); `*`
//!   is 0.0.0.0/0 and ::/0; a single IP is a /32 or /128.
//! - A rule that names application security groups on the NIC's own side
//!   (destination for inbound, source for outbound) applies only to NICs
//!   that belong to one of them. ASGs expand to the addresses of all their
//!   member NICs.
//! - Inbound traffic meets the subnet NSG and then the NIC NSG; outbound
//!   traffic the NIC NSG and then the subnet NSG ([`nsg_chain`]). Both must
//!   allow; a missing NSG allows everything.
//! - A Private Endpoint has no NSG of its own: its subnet's NSG applies to
//!   traffic to and from it only where the subnet's
//!   `private_endpoint_network_policies` turn the NSG policy on
//!   (`NetworkSecurityGroupEnabled` or `Enabled`; [`endpoint_nsg_chain`],
//!   `docs/src/azure-behaviour.md` §4, "Private Endpoints").
//!
//! The rules produced here are what `vnetd rules` prints and what the
//! snapshot compiles into `Classifier`s (in `vnetd-engine`).

use super::gateways::LearnedRoutes;
use super::tags;
use crate::net::PacketKey;
use crate::topology::{
    Access, AddressSpec, AdminAction, AsgIdx, Direction, NicIdx, NsgIdx, PortSpec,
    PrivateEndpointIdx, Protocol, SecurityRule, SecurityRuleSettings, ServiceTag, SubnetRef,
    Topology,
};
use ipnet::IpNet;

/// One rule as it applies to one NIC: names as Azure lists them, addresses
/// as written and as expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveRule {
    /// `securityRules/<name>` or `defaultSecurityRules/<name>`.
    pub name: String,
    /// Its priority, direction, access, protocol and ports.
    pub settings: SecurityRuleSettings,
    /// As Azure's effective security rules list them: `0.0.0.0/0` for `*`,
    /// a tag name, CIDRs (a single address as a /32 or /128), or ASG names.
    pub source_prefixes: Vec<String>,
    pub destination_prefixes: Vec<String>,
    /// True when the side is a tag or ASGs, whose expansion Azure prints
    /// (`expanded...AddressPrefix`); false for `*` and plain prefixes.
    pub source_is_named: bool,
    pub destination_is_named: bool,
    pub expanded_source: Vec<IpNet>,
    pub expanded_destination: Vec<IpNet>,
    /// A security admin rule's action (its `access` is `Deny` for `Deny`,
    /// `Allow` for the others); `None` for NSG and firewall rules.
    pub admin_action: Option<AdminAction>,
}

impl EffectiveRule {
    /// True for the rules Azure adds to every NSG.
    pub fn is_default(&self) -> bool {
        self.name.starts_with(DEFAULT_RULE_PREFIX)
    }
}

const USER_RULE_PREFIX: &str = "securityRules/";
const DEFAULT_RULE_PREFIX: &str = "defaultSecurityRules/";

/// Where an NSG is associated, or the Azure Firewall whose rules stand in
/// the same place on its port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr)]
pub enum NsgLevel {
    /// Virtual Network Manager's security admin rules, before any NSG.
    #[strum(serialize = "SecurityAdmin")]
    Admin,
    Subnet,
    #[strum(serialize = "NetworkInterface")]
    Nic,
    #[strum(serialize = "AzureFirewall")]
    Firewall,
}

impl NsgLevel {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The NSGs a packet meets at `nic`, in evaluation order: inbound, the
/// subnet's then the NIC's; outbound, the NIC's then the subnet's. Levels
/// without an NSG are left out, so an empty chain allows everything. The
/// ports vnetd adds after the file's NICs (gateway instances, site tunnels,
/// health probers) are not VMs and have none: Azure does not support NSGs
/// on GatewaySubnet.
pub fn nsg_chain(topo: &Topology, nic: NicIdx, direction: Direction) -> Vec<(NsgLevel, NsgIdx)> {
    let Some(n) = topo.nics.get(nic) else {
        return Vec::new();
    };
    let subnet_nsg = topo
        .vnets
        .get(n.subnet.vnet)
        .and_then(|v| v.subnets.get(n.subnet.subnet))
        .and_then(|s| s.network_security_group)
        .map(|nsg| (NsgLevel::Subnet, nsg));
    let nic_nsg = n.network_security_group.map(|nsg| (NsgLevel::Nic, nsg));
    let order = match direction {
        Direction::Inbound => [subnet_nsg, nic_nsg],
        Direction::Outbound => [nic_nsg, subnet_nsg],
    };
    order.into_iter().flatten().collect()
}

/// The NSGs a packet meets at the Private Endpoint `endpoint`, either way:
/// its subnet's NSG where the subnet's network policies bind NSGs to its
/// endpoints, else none (everything is allowed). An out-of-range index has
/// none.
pub fn endpoint_nsg_chain(
    topo: &Topology,
    endpoint: PrivateEndpointIdx,
) -> Vec<(NsgLevel, NsgIdx)> {
    topo.private_endpoints
        .get(endpoint)
        .and_then(|pe| {
            topo.vnets
                .get(pe.subnet.vnet)?
                .subnets
                .get(pe.subnet.subnet)
        })
        .filter(|s| s.endpoint_policies.nsg())
        .and_then(|s| s.network_security_group)
        .map(|nsg| (NsgLevel::Subnet, nsg))
        .into_iter()
        .collect()
}

/// The rules of `nsg` in `direction` as they apply to `nic`: user rules by
/// ascending priority (rules scoped by ASG to other NICs left out), then the
/// default rules. Indices outside the topology give an empty list.
pub fn effective_rules(
    topo: &Topology,
    learned: &LearnedRoutes,
    nsg: NsgIdx,
    nic: NicIdx,
    direction: Direction,
) -> Vec<EffectiveRule> {
    let Some(n) = topo.nics.get(nic) else {
        return Vec::new();
    };
    effective_rules_at(
        topo,
        learned,
        nsg,
        n.subnet,
        &n.application_security_groups,
        direction,
    )
}

/// [`effective_rules`] for a port in `subnet` that belongs to the
/// application security groups `asgs`: a NIC, or a Private Endpoint (which
/// belongs to none).
pub fn effective_rules_at(
    topo: &Topology,
    learned: &LearnedRoutes,
    nsg: NsgIdx,
    subnet: SubnetRef,
    asgs: &[AsgIdx],
    direction: Direction,
) -> Vec<EffectiveRule> {
    let Some(nsg) = topo.nsgs.get(nsg) else {
        return Vec::new();
    };
    let expander = Expander {
        topo,
        learned,
        subnet,
    };

    let mut user: Vec<&SecurityRule> = nsg
        .security_rules
        .iter()
        .filter(|r| r.settings.direction == direction)
        .filter(|r| {
            let own_side = match direction {
                Direction::Inbound => &r.destination,
                Direction::Outbound => &r.source,
            };
            match own_side {
                AddressSpec::Asgs(named) => named.iter().any(|a| asgs.contains(a)),
                _ => true,
            }
        })
        .collect();
    // Stable: rules sharing a priority (refused by validation) keep file order.
    user.sort_by_key(|r| r.settings.priority);

    let mut rules: Vec<EffectiveRule> = user
        .into_iter()
        .map(|r| expander.effective(format!("{USER_RULE_PREFIX}{}", r.name), r))
        .collect();
    rules.extend(default_rules(direction).into_iter().map(|d| {
        let name = format!("{DEFAULT_RULE_PREFIX}{}", d.name);
        expander.effective(name, &d.security_rule(direction))
    }));
    rules
}

/// Index of the first rule of `rules` that `key` matches: the reference
/// definition of NSG evaluation, kept as plain as possible.
pub fn first_match(rules: &[EffectiveRule], key: &PacketKey) -> Option<usize> {
    for (i, rule) in rules.iter().enumerate() {
        let protocol = rule.settings.protocol.matches(key.proto);
        let source = rule.expanded_source.iter().any(|n| n.contains(&key.src));
        let destination = rule
            .expanded_destination
            .iter()
            .any(|n| n.contains(&key.dst));
        let source_port = rule.settings.source_ports.matches(key.src_port);
        let destination_port = rule.settings.destination_ports.matches(key.dst_port);
        if protocol && source && destination && source_port && destination_port {
            return Some(i);
        }
    }
    None
}

/// A default rule: protocol `*`, ports `*`.
struct DefaultRule {
    name: &'static str,
    priority: u16,
    access: Access,
    source: AddressSpec,
    destination: AddressSpec,
}

impl DefaultRule {
    /// The rule of `direction` as a security rule of the file would be.
    fn security_rule(self, direction: Direction) -> SecurityRule {
        SecurityRule {
            name: self.name.to_string(),
            settings: SecurityRuleSettings {
                priority: self.priority,
                direction,
                access: self.access,
                protocol: Protocol::Any,
                source_ports: PortSpec::Any,
                destination_ports: PortSpec::Any,
            },
            source: self.source,
            destination: self.destination,
            line: 0,
        }
    }
}

fn default_rules(direction: Direction) -> [DefaultRule; 3] {
    use AddressSpec::{Any, Tag};
    use ServiceTag::{AzureLoadBalancer, Internet, VirtualNetwork};
    match direction {
        Direction::Inbound => [
            DefaultRule {
                name: "AllowVnetInBound",
                priority: 65000,
                access: Access::Allow,
                source: Tag(VirtualNetwork),
                destination: Tag(VirtualNetwork),
            },
            DefaultRule {
                name: "AllowAzureLoadBalancerInBound",
                priority: 65001,
                access: Access::Allow,
                source: Tag(AzureLoadBalancer),
                destination: Any,
            },
            DefaultRule {
                name: "DenyAllInBound",
                priority: 65500,
                access: Access::Deny,
                source: Any,
                destination: Any,
            },
        ],
        Direction::Outbound => [
            DefaultRule {
                name: "AllowVnetOutBound",
                priority: 65000,
                access: Access::Allow,
                source: Tag(VirtualNetwork),
                destination: Tag(VirtualNetwork),
            },
            DefaultRule {
                name: "AllowInternetOutBound",
                priority: 65001,
                access: Access::Allow,
                source: Any,
                destination: Tag(Internet),
            },
            DefaultRule {
                name: "DenyAllOutBound",
                priority: 65500,
                access: Access::Deny,
                source: Any,
                destination: Any,
            },
        ],
    }
}

/// Expands address specs for one port (tags depend on its subnet).
pub(super) struct Expander<'a> {
    pub(super) topo: &'a Topology,
    pub(super) learned: &'a LearnedRoutes,
    pub(super) subnet: SubnetRef,
}

impl Expander<'_> {
    pub(super) fn expand(&self, spec: &AddressSpec) -> Vec<IpNet> {
        match spec {
            AddressSpec::Any => vec![
                IpNet::V4(ipnet::Ipv4Net::default()),
                IpNet::V6(ipnet::Ipv6Net::default()),
            ],
            AddressSpec::Prefixes(prefixes) => prefixes.iter().map(IpNet::trunc).collect(),
            AddressSpec::Tag(tag) => match tag {
                ServiceTag::VirtualNetwork => {
                    tags::virtual_network_tag(self.topo, self.learned, self.subnet)
                }
                ServiceTag::Internet => tags::internet_tag(self.topo, self.learned, self.subnet),
                ServiceTag::AzureLoadBalancer => tags::azure_load_balancer_tag(),
            },
            AddressSpec::Asgs(asgs) => {
                let mut members: Vec<IpNet> = self
                    .topo
                    .nics
                    .iter()
                    .filter(|n| {
                        n.application_security_groups
                            .iter()
                            .any(|a| asgs.contains(a))
                    })
                    .flat_map(|n| n.ip_configurations.iter().map(|c| IpNet::from(c.address)))
                    .collect();
                members.sort();
                members.dedup();
                members
            }
        }
    }

    /// `rule`, named `name`, as it applies: its sides listed as written,
    /// said to be named (a tag, ASGs) and expanded.
    fn effective(&self, name: String, rule: &SecurityRule) -> EffectiveRule {
        EffectiveRule {
            name,
            settings: rule.settings.clone(),
            source_prefixes: self.listed(&rule.source),
            destination_prefixes: self.listed(&rule.destination),
            source_is_named: is_named(&rule.source),
            destination_is_named: is_named(&rule.destination),
            expanded_source: self.expand(&rule.source),
            expanded_destination: self.expand(&rule.destination),
            admin_action: None,
        }
    }

    /// The side as Azure's effective rules list it: `*` is `0.0.0.0/0`
    /// ("0.0.0.0/0 in the Source and Destination columns represents all
    /// addresses"), a single address keeps its /32 or /128.
    pub(super) fn listed(&self, spec: &AddressSpec) -> Vec<String> {
        match spec {
            AddressSpec::Any => vec!["0.0.0.0/0".to_string()],
            AddressSpec::Prefixes(prefixes) => {
                prefixes.iter().map(|p| p.trunc().to_string()).collect()
            }
            AddressSpec::Tag(tag) => vec![tag.as_str().to_string()],
            AddressSpec::Asgs(asgs) => asgs
                .iter()
                .filter_map(|&a| self.topo.asgs.get(a))
                .map(|a| a.name.clone())
                .collect(),
        }
    }
}

/// Tags and ASGs stand for addresses that Azure lists expanded.
pub(super) fn is_named(spec: &AddressSpec) -> bool {
    matches!(spec, AddressSpec::Tag(_) | AddressSpec::Asgs(_))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{first_subnet, ip, net, sec_rule, topo};

    /// The effective rules of NSG `nsg` for NIC `nic`, nothing learned
    /// over BGP.
    fn rules_of(t: &Topology, nsg: usize, nic: usize, direction: Direction) -> Vec<EffectiveRule> {
        effective_rules(
            t,
            &LearnedRoutes::default(),
            NsgIdx::new(nsg),
            NicIdx::new(nic),
            direction,
        )
    }
    use crate::topology::{AsgIdx, SubnetIdx, VnetIdx, IPPROTO_ICMP, IPPROTO_TCP};

    fn names(rules: &[EffectiveRule]) -> Vec<&str> {
        rules.iter().map(|r| r.name.as_str()).collect()
    }

    #[test]
    fn default_rules_follow_user_rules_in_order() {
        let t = topo(vec![
            sec_rule(
                "b",
                300,
                Direction::Inbound,
                AddressSpec::Any,
                AddressSpec::Any,
            ),
            sec_rule(
                "a",
                100,
                Direction::Inbound,
                AddressSpec::Any,
                AddressSpec::Any,
            ),
            sec_rule(
                "out",
                100,
                Direction::Outbound,
                AddressSpec::Any,
                AddressSpec::Any,
            ),
        ]);
        let inbound = rules_of(&t, 0, 0, Direction::Inbound);
        assert_eq!(
            names(&inbound),
            [
                "securityRules/a",
                "securityRules/b",
                "defaultSecurityRules/AllowVnetInBound",
                "defaultSecurityRules/AllowAzureLoadBalancerInBound",
                "defaultSecurityRules/DenyAllInBound",
            ]
        );
        let prios: Vec<u16> = inbound.iter().map(|r| r.settings.priority).collect();
        assert_eq!(prios, [100, 300, 65000, 65001, 65500]);
        assert!(inbound[2..].iter().all(|r| r.is_default()));
        assert!(!inbound[0].is_default());

        let outbound = rules_of(&t, 0, 0, Direction::Outbound);
        assert_eq!(
            names(&outbound),
            [
                "securityRules/out",
                "defaultSecurityRules/AllowVnetOutBound",
                "defaultSecurityRules/AllowInternetOutBound",
                "defaultSecurityRules/DenyAllOutBound",
            ]
        );
        let internet = &outbound[2];
        assert_eq!(internet.source_prefixes, ["0.0.0.0/0"]);
        assert!(!internet.source_is_named);
        assert_eq!(internet.destination_prefixes, ["Internet"]);
        assert!(internet.destination_is_named);
        assert_eq!(internet.settings.access, Access::Allow);
        assert!(internet.expanded_destination.contains(&net("8.0.0.0/7")));
        assert_eq!(outbound[3].settings.access, Access::Deny);
        assert_eq!(
            outbound[3].expanded_destination,
            vec![net("0.0.0.0/0"), net("::/0")]
        );
        let lb = &inbound[3];
        assert_eq!(lb.source_prefixes, ["AzureLoadBalancer"]);
        assert_eq!(lb.expanded_source, vec![net("168.63.129.16/32")]);
        let vnet = &inbound[2];
        assert_eq!(
            vnet.expanded_source,
            vec![net("10.0.0.0/16"), net("168.63.129.16/32")]
        );
        for d in &inbound[2..] {
            assert_eq!(d.settings.protocol, Protocol::Any);
            assert_eq!(d.settings.source_ports, PortSpec::Any);
            assert_eq!(d.settings.destination_ports, PortSpec::Any);
        }
    }

    #[test]
    fn default_rules_decide_traffic() {
        let t = topo(vec![]);
        let inbound = rules_of(&t, 0, 0, Direction::Inbound);
        let key = |proto, src: &str, dst: &str| PacketKey {
            proto,
            src: ip(src),
            dst: ip(dst),
            src_port: None,
            dst_port: None,
        };
        let decide = |k: PacketKey| first_match(&inbound, &k).map(|i| inbound[i].name.as_str());
        let cases = [
            (IPPROTO_ICMP, "10.0.1.5", "10.0.1.4", "AllowVnetInBound"),
            (IPPROTO_ICMP, "8.8.8.8", "10.0.1.4", "DenyAllInBound"),
            // The host VIP is in VirtualNetwork, so it matches AllowVnetInBound first.
            (IPPROTO_TCP, "168.63.129.16", "10.0.1.4", "AllowVnetInBound"),
            (
                IPPROTO_TCP,
                "168.63.129.16",
                "8.8.8.8",
                "AllowAzureLoadBalancerInBound",
            ),
        ];
        for (proto, src, dst, rule) in cases {
            assert_eq!(
                decide(key(proto, src, dst)),
                Some(format!("defaultSecurityRules/{rule}").as_str()),
                "{src} -> {dst}"
            );
        }
    }

    #[test]
    fn asg_on_own_side_scopes_the_rule_to_members() {
        let t = topo(vec![
            // Inbound to web: own side is the destination.
            sec_rule(
                "to-web",
                100,
                Direction::Inbound,
                AddressSpec::Any,
                AddressSpec::Asgs(vec![AsgIdx::new(0)]),
            ),
            // Inbound from db: the ASG is the remote side; applies to all.
            sec_rule(
                "from-db",
                110,
                Direction::Inbound,
                AddressSpec::Asgs(vec![AsgIdx::new(1)]),
                AddressSpec::Any,
            ),
            // Outbound from web or db: own side is the source.
            sec_rule(
                "from-web-or-db",
                100,
                Direction::Outbound,
                AddressSpec::Asgs(vec![AsgIdx::new(0), AsgIdx::new(1)]),
                AddressSpec::Any,
            ),
        ]);
        let web1 = rules_of(&t, 0, 0, Direction::Inbound);
        let db1 = rules_of(&t, 0, 2, Direction::Inbound);
        assert_eq!(
            names(&web1)[..2],
            ["securityRules/to-web", "securityRules/from-db"]
        );
        assert_eq!(names(&db1)[0], "securityRules/from-db");
        assert_eq!(db1.len(), 4);

        assert_eq!(web1[0].destination_prefixes, ["web"]);
        assert!(web1[0].destination_is_named);
        assert_eq!(
            web1[0].expanded_destination,
            vec![net("10.0.1.4/32"), net("10.0.1.5/32")]
        );
        assert_eq!(web1[1].expanded_source, vec![net("10.0.1.6/32")]);

        let out_web2 = rules_of(&t, 0, 1, Direction::Outbound);
        assert_eq!(names(&out_web2)[0], "securityRules/from-web-or-db");
        assert_eq!(out_web2[0].source_prefixes, ["web", "db"]);
        assert_eq!(
            out_web2[0].expanded_source,
            vec![net("10.0.1.4/32"), net("10.0.1.5/32"), net("10.0.1.6/32")]
        );
    }

    #[test]
    fn prefixes_are_written_as_given_and_expanded_exactly() {
        let t = topo(vec![sec_rule(
            "p",
            100,
            Direction::Inbound,
            AddressSpec::Prefixes(vec![
                net("10.9.0.7/32"),
                net("10.8.0.0/16"),
                net("2001:db8::1/128"),
            ]),
            AddressSpec::Tag(ServiceTag::VirtualNetwork),
        )]);
        let r = &rules_of(&t, 0, 0, Direction::Inbound)[0];
        assert_eq!(
            r.source_prefixes,
            ["10.9.0.7/32", "10.8.0.0/16", "2001:db8::1/128"]
        );
        assert!(!r.source_is_named);
        assert_eq!(r.destination_prefixes, ["VirtualNetwork"]);
        assert_eq!(r.expanded_source.len(), 3);
    }

    #[test]
    fn chain_order_per_direction() {
        let t = topo(vec![]);
        assert_eq!(
            nsg_chain(&t, NicIdx::new(0), Direction::Inbound),
            [
                (NsgLevel::Subnet, NsgIdx::new(0)),
                (NsgLevel::Nic, NsgIdx::new(1))
            ]
        );
        assert_eq!(
            nsg_chain(&t, NicIdx::new(0), Direction::Outbound),
            [
                (NsgLevel::Nic, NsgIdx::new(1)),
                (NsgLevel::Subnet, NsgIdx::new(0))
            ]
        );
        assert_eq!(
            nsg_chain(&t, NicIdx::new(1), Direction::Inbound),
            [(NsgLevel::Subnet, NsgIdx::new(0))]
        );
        let mut bare = t.clone();
        bare.vnets[VnetIdx::new(0)].subnets[SubnetIdx::new(0)].network_security_group = None;
        assert!(nsg_chain(&bare, NicIdx::new(1), Direction::Outbound).is_empty());
        assert!(nsg_chain(&bare, NicIdx::new(99), Direction::Outbound).is_empty());
    }

    #[test]
    fn an_endpoint_meets_its_subnets_nsg_only_with_the_nsg_policy() {
        use crate::topology::EndpointNetworkPolicies;
        use strum::VariantNames;
        let subnet = first_subnet(0);
        let mut t = topo(vec![sec_rule(
            "to-web",
            100,
            Direction::Inbound,
            AddressSpec::Any,
            AddressSpec::Asgs(vec![AsgIdx::new(0)]),
        )]);
        let endpoint = crate::fixtures::private_endpoint(subnet, ip("10.0.1.9"));
        t.private_endpoints.push(endpoint);
        let endpoint = PrivateEndpointIdx::new(0);
        for name in EndpointNetworkPolicies::VARIANTS {
            let policies: EndpointNetworkPolicies = name.parse().unwrap();
            t.vnets[VnetIdx::new(0)].subnets[SubnetIdx::new(0)].endpoint_policies = policies;
            let bound = matches!(*name, "NetworkSecurityGroupEnabled" | "Enabled");
            let expected: &[(NsgLevel, NsgIdx)] = if bound {
                &[(NsgLevel::Subnet, NsgIdx::new(0))]
            } else {
                &[]
            };
            assert_eq!(endpoint_nsg_chain(&t, endpoint), expected, "{name}");
        }
        assert!(endpoint_nsg_chain(&t, PrivateEndpointIdx::new(1)).is_empty());
        // Belonging to no ASG, the endpoint meets no rule scoped to one;
        // its tags are its subnet's, as a NIC's there are.
        let rules = effective_rules_at(
            &t,
            &LearnedRoutes::default(),
            NsgIdx::new(0),
            subnet,
            &[],
            Direction::Inbound,
        );
        assert_eq!(
            names(&rules),
            [
                "defaultSecurityRules/AllowVnetInBound",
                "defaultSecurityRules/AllowAzureLoadBalancerInBound",
                "defaultSecurityRules/DenyAllInBound",
            ]
        );
        assert_eq!(rules[..], rules_of(&t, 0, 1, Direction::Inbound)[1..]);
    }

    #[test]
    fn out_of_range_indices_give_no_rules() {
        let t = topo(vec![]);
        assert!(rules_of(&t, 9, 0, Direction::Inbound).is_empty());
        assert!(rules_of(&t, 0, 9, Direction::Inbound).is_empty());
    }
}
