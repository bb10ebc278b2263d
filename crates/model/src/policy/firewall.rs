//! Azure Firewall's network rules as the packet path judges them ("Azure
//! Firewall rule processing logic", learn.microsoft.com/azure/firewall/
//! rule-processing):
//!
//! - rule collection groups by priority, then their rule collections by
//!   priority, then the rules in order; the rules are terminating, so the
//!   first match decides (the policy's rules are flattened in that order
//!   when the file is read, see [`crate::topology::FirewallPolicy`]);
//! - a packet no rule matches meets the default action, deny ("Default
//!   Action" in the network rule log);
//! - the firewall is stateful: the replies of an admitted TCP or UDP flow
//!   pass, even where a rule denies the reverse direction;
//! - destination ports apply to TCP and UDP: an ICMP rule matches whatever
//!   ports it lists (Azure asks for them all the same), while a rule for
//!   Any protocol with ports matches only packets with ports.
//!
//! The rules come out as [`EffectiveRule`]s, one per rule and protocol, so
//! that the snapshot compiles them into the same first-match classifier,
//! with the same flow state, as an NSG: a firewall is judged where packets
//! reach it (the inbound stage of its port), and its replies are admitted
//! by the flow its first packet opened.

use super::nsg::EffectiveRule;
use crate::net::PortSpec;
use crate::topology::{
    iana_private_ranges, Access, AzureFirewall, Direction, Protocol, SecurityRuleSettings, Topology,
};
use ipnet::IpNet;
use std::net::IpAddr;

/// The destinations `firewall` does not translate sources towards: its
/// policy's `private_ranges`, else Azure's default (RFC 1918, RFC 6598).
pub fn private_ranges(topology: &Topology, firewall: &AzureFirewall) -> Vec<IpNet> {
    match firewall.policy {
        Some(p) => topology.firewall_policies[p].private_ranges.clone(),
        None => iana_private_ranges(),
    }
}

/// Whether `firewall` translates the source of what it forwards to `dst`
/// to its own address: IPv4 destinations outside its private ranges ("If
/// your organization uses registered IP address ranges outside of IANA RFC
/// 1918 or IANA RFC 6598 for private networks, Azure Firewall SNATs the
/// traffic to one of the firewall private IP addresses").
pub fn translates_towards(topology: &Topology, firewall: &AzureFirewall, dst: IpAddr) -> bool {
    dst.is_ipv4()
        && !private_ranges(topology, firewall)
            .iter()
            .any(|n| n.contains(&dst))
}

/// The private addresses of `firewall`'s instances in its
/// `AzureFirewallSubnet` (see
/// [`AzureFirewall::instance_addresses`]): the sources its own
/// connections leave with. The firewall's namespace holds them all, and
/// the fabric delivers what is sent to them to the firewall.
pub fn instance_addresses(firewall: &AzureFirewall) -> Vec<IpAddr> {
    firewall.instance_addresses()
}

/// The instance address `firewall` translates the source of a DNAT'd
/// connection to: the first instance's. Azure spreads connections over
/// its instances; the lab's firewall is one namespace, and one fixed
/// choice keeps `trace`, `check` and the live packets in agreement. An
/// NSG that must admit DNAT'd traffic allows `AzureFirewallSubnet`, as in
/// Azure, not the front address.
pub fn dnat_source(firewall: &AzureFirewall) -> IpAddr {
    instance_addresses(firewall)
        .first()
        .copied()
        .unwrap_or(firewall.private_ip)
}

/// The name the default action goes by, in traces, drops and logs.
pub const DEFAULT_ACTION: &str = "Default action";

/// The name of the network stage's verdict for what no network rule
/// matched and some application rule may take by its name: the packet
/// goes on to the firewall's proxy, which judges the request's name
/// (the TLS SNI, the HTTP Host) by the application rules.
pub const APPLICATION_RULES: &str = "Application rules";

/// The addresses the firewall's DNS proxy holds for an FQDN of a network
/// rule: what the compiled rules match in its place.
pub type FqdnAddresses<'a> = &'a dyn Fn(&str) -> Vec<IpAddr>;

/// The name of what lets clients reach the firewall's DNS proxy.
pub const DNS_PROXY: &str = "DNS proxy";

/// With its policy's DNS proxy on, the firewall takes DNS questions (UDP
/// and TCP 53) from anyone at its private address, which no rule of the
/// policy judges: "A DNS proxy is an intermediary for DNS requests from
/// client virtual machines to a DNS server" (Azure Firewall DNS
/// settings), which the clients name as their DNS server.
fn dns_proxy_rules(topology: &Topology, firewall: &AzureFirewall) -> Vec<EffectiveRule> {
    let proxied = firewall
        .policy
        .is_some_and(|p| topology.firewall_policies[p].dns.proxy_enabled);
    if !proxied {
        return Vec::new();
    }
    let anyone: Vec<IpNet> = ["0.0.0.0/0", "::/0"]
        .iter()
        .map(|n| n.parse().expect("constant prefix"))
        .collect();
    let port = crate::net::PortRange { lo: 53, hi: 53 };
    [Protocol::Udp, Protocol::Tcp]
        .into_iter()
        .map(|protocol| {
            firewall_rule(
                DNS_PROXY.to_string(),
                0,
                Access::Allow,
                protocol,
                PortSpec::Ranges(vec![port]),
                &anyone,
                &[IpNet::from(firewall.private_ip)],
            )
        })
        .collect()
}

/// The firewall's rules in evaluation order, ending with the default
/// action: what reaches its DNS proxy (with the proxy on), then its
/// policy's DNAT rules (each allowing what it
/// translates, the network rule Azure adds for it: "DNAT rules are
/// processed before network rules"), then its network rules (an FQDN
/// matching the addresses `fqdns` gives for it), then what its
/// application rules may take, passed on to their judgement by name
/// ([`APPLICATION_RULES`]: TCP from a rule's sources to one of its
/// ports).
pub fn effective_rules(
    topology: &Topology,
    firewall: &AzureFirewall,
    fqdns: FqdnAddresses<'_>,
) -> Vec<EffectiveRule> {
    let mut out = dns_proxy_rules(topology, firewall);
    let dnat = firewall
        .policy
        .and_then(|p| topology.edge.dnat_rules.get(&p))
        .map(Vec::as_slice)
        .unwrap_or_default();
    for rule in dnat {
        let destination = IpNet::from(rule.destination);
        let port = crate::net::PortRange {
            lo: rule.destination_port,
            hi: rule.destination_port,
        };
        for protocol in &rule.protocols {
            out.push(firewall_rule(
                rule.path(),
                rule.place.collection_priority,
                Access::Allow,
                *protocol,
                PortSpec::Ranges(vec![port]),
                &rule.sources,
                &[destination],
            ));
        }
    }
    let rules = firewall
        .policy
        .map(|p| topology.firewall_policies[p].rules.as_slice())
        .unwrap_or_default();
    for rule in rules {
        let mut destinations = rule.destinations.clone();
        for fqdn in &rule.destination_fqdns {
            destinations.extend(fqdns(fqdn).into_iter().map(IpNet::from));
        }
        if destinations.is_empty() {
            // An FQDN the proxy holds no address for matches nothing.
            continue;
        }
        for protocol in &rule.protocols {
            let destination_ports = match protocol {
                Protocol::Icmp => PortSpec::Any,
                _ => rule.destination_ports.clone(),
            };
            out.push(firewall_rule(
                rule.path(),
                rule.place.collection_priority,
                rule.action,
                *protocol,
                destination_ports,
                &rule.sources,
                &destinations,
            ));
        }
    }
    let everything: Vec<IpNet> = ["0.0.0.0/0", "::/0"]
        .iter()
        .map(|n| n.parse().expect("constant prefix"))
        .collect();
    let application = firewall
        .policy
        .map(|p| topology.firewall_policies[p].application_rules.as_slice())
        .unwrap_or_default();
    // IPv4 only, as the proxy takes it: IPv6 meets the default action.
    let ipv4: Vec<IpNet> = vec!["0.0.0.0/0".parse().expect("constant prefix")];
    for rule in application {
        let ports = rule
            .protocols
            .iter()
            .map(|p| crate::net::PortRange {
                lo: p.port,
                hi: p.port,
            })
            .collect();
        out.push(firewall_rule(
            APPLICATION_RULES.to_string(),
            rule.place.collection_priority,
            Access::Allow,
            Protocol::Tcp,
            PortSpec::Ranges(ports),
            &rule.sources,
            &ipv4,
        ));
    }
    let any = firewall_rule(
        DEFAULT_ACTION.to_string(),
        u16::MAX,
        Access::Deny,
        Protocol::Any,
        PortSpec::Any,
        &everything,
        &everything,
    );
    out.push(EffectiveRule {
        source_prefixes: vec!["*".into()],
        destination_prefixes: vec!["*".into()],
        ..any
    });
    out
}

/// What a firewall's rules are reported against: its policy, or the
/// firewall itself when it has none.
pub fn rules_owner<'t>(topology: &'t Topology, firewall: &'t AzureFirewall) -> &'t str {
    firewall.policy.map_or(firewall.name.as_str(), |p| {
        topology.firewall_policies[p].name.as_str()
    })
}

/// One of the firewall's rules as its effective rules list it: inbound,
/// from any source port, its sides the prefixes it names (a firewall's
/// rules name no tag or ASG), listed as written.
fn firewall_rule(
    name: String,
    priority: u16,
    access: Access,
    protocol: Protocol,
    destination_ports: PortSpec,
    sources: &[IpNet],
    destinations: &[IpNet],
) -> EffectiveRule {
    EffectiveRule {
        admin_action: None,
        name,
        settings: SecurityRuleSettings {
            priority,
            direction: Direction::Inbound,
            access,
            protocol,
            source_ports: PortSpec::Any,
            destination_ports,
        },
        source_prefixes: listed(sources),
        destination_prefixes: listed(destinations),
        source_is_named: false,
        destination_is_named: false,
        expanded_source: sources.to_vec(),
        expanded_destination: destinations.to_vec(),
    }
}

fn listed(nets: &[IpNet]) -> Vec<String> {
    nets.iter().map(IpNet::to_string).collect()
}

/// How the firewall's application rules judge a request for `fqdn` from
/// `source` over `protocol` to `port`: the first rule that matches, in
/// evaluation order, with its action; `None` when none does (the default
/// action, deny: "Action: Deny. Reason: No rule matched.").
pub fn judge_application<'t>(
    topology: &'t Topology,
    firewall: &AzureFirewall,
    source: IpAddr,
    protocol: crate::topology::ApplicationProtocol,
    port: u16,
    fqdn: &str,
) -> Option<&'t crate::topology::ApplicationRule> {
    let policy = &topology.firewall_policies[firewall.policy?];
    policy
        .application_rules
        .iter()
        .find(|r| r.matches(source, protocol, port, fqdn))
}

/// TCP a rule lets through: from `sources` to `destinations` on `ports`
/// (`None`: every port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    pub sources: Vec<IpNet>,
    pub destinations: Vec<IpNet>,
    pub ports: Option<Vec<crate::net::PortRange>>,
}

/// What the firewall forwards as it is, without its proxy: the TCP its
/// DNAT and network rules allow. What else reaches its namespace is what
/// only its application rules may take.
pub fn forwarded_untaken(
    topology: &Topology,
    firewall: &AzureFirewall,
    fqdns: FqdnAddresses<'_>,
) -> Vec<Forwarded> {
    effective_rules(topology, firewall, fqdns)
        .into_iter()
        .filter(|r| {
            r.settings.access == Access::Allow
                && r.name != APPLICATION_RULES
                && matches!(r.settings.protocol, Protocol::Tcp | Protocol::Any)
        })
        .map(|r| {
            let ports = match r.settings.destination_ports {
                PortSpec::Any => None,
                PortSpec::Ranges(ranges) => Some(ranges),
            };
            Forwarded {
                sources: r.expanded_source,
                destinations: r.expanded_destination,
                ports,
            }
        })
        .collect()
}

/// Whether the firewall's policy has application rules: its namespace
/// then runs the proxy.
pub fn has_application_rules(topology: &Topology, firewall: &AzureFirewall) -> bool {
    firewall
        .policy
        .is_some_and(|p| !topology.firewall_policies[p].application_rules.is_empty())
}
