//! The names of the picture: Private Endpoints and DNS Private Resolver
//! endpoints in their subnets; Private DNS zones and DNS forwarding
//! rulesets outside every VNet, with their links to the VNets that use
//! them and, for a ruleset, to the outbound endpoints it sends through.

use super::parts::{in_subnet, sanitise, vnet_id, ConnectionEdge, NicNode};
use crate::topology::{EndpointNetworkPolicies, ResolverIdx, SubnetRef, Topology};

fn endpoint_id(topo: &Topology, resolver: ResolverIdx, kind: &str, endpoint: usize) -> String {
    let name = &topo.dns_resolvers[resolver].name;
    format!("resolver_{resolver}_{kind}{endpoint}_{}", sanitise(name))
}

/// The Private Endpoints and resolver endpoints that sit in `subnet`.
pub(super) fn endpoint_nodes(topo: &Topology, subnet: SubnetRef) -> Vec<NicNode> {
    let policies = topo.subnet(subnet).endpoint_policies;
    let mut nodes: Vec<NicNode> = in_subnet(&topo.private_endpoints, subnet, |pe| pe.subnet)
        .map(|(e, pe)| {
            let target = &pe.target;
            let mut label = vec![
                format!("Private Endpoint {}", pe.name),
                pe.address.to_string(),
                format!(
                    "{} {} ({})",
                    target.resource,
                    target.sub_resource.name,
                    target.sub_resource.kind.as_str()
                ),
            ];
            if policies != EndpointNetworkPolicies::Disabled {
                label.push(format!("network policies {}", policies.as_str()));
            }
            let id = format!("endpoint_{e}_{}", sanitise(&pe.name));
            NicNode::new(id, pe.name.clone(), label)
        })
        .collect();
    for (r, resolver) in topo.dns_resolvers.iter_enumerated() {
        for (i, inbound) in resolver.inbound.iter().enumerate() {
            if inbound.subnet == subnet {
                let label = vec![
                    format!("DNS resolver {} inbound {}", resolver.name, inbound.name),
                    inbound.address.to_string(),
                ];
                let id = endpoint_id(topo, r, "in", i);
                nodes.push(NicNode::new(id, resolver.name.clone(), label));
            }
        }
        for (o, outbound) in resolver.outbound.iter().enumerate() {
            if outbound.subnet == subnet {
                let label = vec![format!(
                    "DNS resolver {} outbound {}",
                    resolver.name, outbound.name
                )];
                let id = endpoint_id(topo, r, "out", o);
                nodes.push(NicNode::new(id, resolver.name.clone(), label));
            }
        }
    }
    nodes
}

fn zone_id(z: usize, name: &str) -> String {
    format!("zone_{z}_{}", sanitise(name))
}

fn ruleset_id(r: usize, name: &str) -> String {
    format!("ruleset_{r}_{}", sanitise(name))
}

/// The Private DNS zones and forwarding rulesets, drawn apart.
pub(super) fn name_nodes(topo: &Topology) -> Vec<NicNode> {
    let zones = (topo.private_dns_zones.iter_enumerated()).map(|(z, zone)| {
        let records: usize = zone.records.iter().map(|s| s.records.len()).sum();
        let label = vec![
            format!("Private DNS zone {}", zone.name),
            format!("{records} record(s)"),
        ];
        NicNode::new(zone_id(z.into(), &zone.name), zone.name.clone(), label)
    });
    let rulesets = topo.forwarding_rulesets.iter().enumerate().map(|(r, set)| {
        let mut label = vec![format!("DNS forwarding ruleset {}", set.name)];
        label.extend(set.rules.iter().map(|rule| {
            let domain = if rule.domain.is_empty() {
                "."
            } else {
                &rule.domain
            };
            let targets: Vec<String> = rule.targets.iter().map(|t| t.to_string()).collect();
            format!("{domain} to {}", targets.join(", "))
        }));
        NicNode::new(ruleset_id(r, &set.name), set.name.clone(), label)
    });
    zones.chain(rulesets).collect()
}

/// Each zone's and ruleset's links to VNets, and each ruleset's outbound
/// endpoints.
pub(super) fn name_edges(topo: &Topology) -> Vec<ConnectionEdge> {
    let mut edges = Vec::new();
    for (z, zone) in topo.private_dns_zones.iter_enumerated() {
        for link in &zone.links {
            let mut label = vec![format!("link {}", link.name)];
            if link.registration_enabled {
                label.push("auto-registration".to_string());
            }
            if link.resolution_policy != crate::topology::ResolutionPolicy::Default {
                label.push(link.resolution_policy.as_str().to_string());
            }
            edges.push(ConnectionEdge {
                from_id: zone_id(z.into(), &zone.name),
                to_id: vnet_id(topo, link.vnet),
                label,
            });
        }
    }
    for (r, set) in topo.forwarding_rulesets.iter().enumerate() {
        for &vnet in &set.links {
            edges.push(ConnectionEdge {
                from_id: ruleset_id(r, &set.name),
                to_id: vnet_id(topo, vnet),
                label: vec!["ruleset link".to_string()],
            });
        }
        for &(resolver, endpoint) in &set.outbound_endpoints {
            edges.push(ConnectionEdge {
                from_id: ruleset_id(r, &set.name),
                to_id: endpoint_id(topo, resolver, "out", endpoint),
                label: vec!["sends through".to_string()],
            });
        }
    }
    edges
}
