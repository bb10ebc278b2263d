//! One Private DNS zone as Azure DNS reads it: the record sets the file
//! and the Private Endpoints' DNS zone groups wrote, the VMs its
//! registration links registered, and which names exist (owners, and the
//! names between them and the apex), so that a name the zone lacks is told
//! from one that exists without the type asked, and a wildcard stands only
//! for names that do not exist (RFC 4592).

use super::resolution::Origin;
use super::vocabulary::{in_domain, VmName, VM_NAME_TTL};
use crate::topology::{
    PrivateDnsZone, RecordData, RecordType, TiVec, Topology, VnetIdx, ZoneIdx, ZONE_GROUP_TTL,
};
use std::collections::{HashMap, HashSet};

/// A record set of a compiled zone.
#[derive(Debug, Clone)]
pub(super) struct Set {
    pub record_type: RecordType,
    pub ttl: u32,
    pub records: Vec<RecordData>,
    pub origin: Origin,
}

/// What a zone holds at a name.
pub(super) enum Node<'a> {
    /// The name exists, with these record sets (none: an empty
    /// non-terminal); `wildcard` names the wildcard owner they come from.
    Exists {
        sets: &'a [Set],
        wildcard: Option<&'a str>,
    },
    /// No such name in the zone.
    NxDomain,
}

#[derive(Debug, Default)]
pub(super) struct ZoneTable {
    /// Lower case, without the final dot.
    pub name: String,
    labels: usize,
    /// Record sets by absolute owner name.
    nodes: HashMap<String, Vec<Set>>,
    /// Every name that exists in the zone, the apex included.
    names: HashSet<String>,
}

impl ZoneTable {
    pub fn compile(
        topology: &Topology,
        z: ZoneIdx,
        zone: &PrivateDnsZone,
        vms: &TiVec<VnetIdx, HashMap<String, VmName>>,
    ) -> ZoneTable {
        let mut nodes: HashMap<String, Vec<Set>> = HashMap::new();
        for set in &zone.records {
            let owner = if set.name == "@" {
                zone.name.clone()
            } else {
                format!("{}.{}", set.name, zone.name)
            };
            // The zone group's record replaced any set of its name, so a
            // set at the endpoint's line, of its resource's name, is its.
            let endpoint = topology.private_endpoints.iter().find(|pe| {
                pe.zones.contains(&z)
                    && pe.target.resource == set.name
                    && set.record_type == RecordType::A
                    && set.ttl == ZONE_GROUP_TTL
                    && set.line == pe.line
            });
            let origin = match endpoint {
                Some(pe) => Origin::ZoneGroup {
                    endpoint: pe.name.clone(),
                },
                None => Origin::Written { line: set.line },
            };
            nodes.entry(owner).or_default().push(Set {
                record_type: set.record_type,
                ttl: set.ttl,
                records: set.records.clone(),
                origin,
            });
        }
        for link in zone.links.iter().filter(|l| l.registration_enabled) {
            let Some(vnet_vms) = vms.get(link.vnet) else {
                continue;
            };
            let mut labels: Vec<&String> = vnet_vms.keys().collect();
            labels.sort();
            for label in labels {
                let vm = &vnet_vms[label];
                let Some(v4) = vm.v4 else {
                    continue;
                };
                let sets = nodes.entry(format!("{label}.{}", zone.name)).or_default();
                // A record set the file wrote wins over the registration.
                let taken = sets
                    .iter()
                    .any(|s| matches!(s.record_type, RecordType::A | RecordType::Cname));
                if !taken {
                    sets.push(Set {
                        record_type: RecordType::A,
                        ttl: VM_NAME_TTL,
                        records: vec![RecordData::A(v4)],
                        origin: Origin::Registered {
                            vm: vm.name.clone(),
                        },
                    });
                }
            }
        }
        nodes.retain(|_, sets| !sets.is_empty());
        let mut names = HashSet::from([zone.name.clone()]);
        for owner in nodes.keys() {
            let mut name = owner.as_str();
            while name.len() > zone.name.len() && names.insert(name.to_string()) {
                name = name.split_once('.').map_or("", |(_, parent)| parent);
            }
        }
        ZoneTable {
            name: zone.name.clone(),
            labels: zone.name.split('.').count(),
            nodes,
            names,
        }
    }

    /// The zone's name has this many labels.
    pub fn labels(&self) -> usize {
        self.labels
    }

    /// `name` is the zone's apex or below it.
    pub fn holds(&self, name: &str) -> bool {
        in_domain(name, &self.name)
    }

    /// What the zone holds at `name` (a name it [`holds`](Self::holds)):
    /// its sets, or those of the wildcard at its closest encloser when
    /// the name does not exist.
    pub fn node(&self, name: &str) -> Node<'_> {
        if let Some(sets) = self.nodes.get(name) {
            return Node::Exists {
                sets,
                wildcard: None,
            };
        }
        if self.names.contains(name) {
            return Node::Exists {
                sets: &[],
                wildcard: None,
            };
        }
        // The closest encloser: the longest ancestor that exists (the apex
        // at worst); its wildcard, if any, stands for the name.
        let mut encloser = name;
        while let Some((_, parent)) = encloser.split_once('.') {
            encloser = parent;
            if self.names.contains(encloser) {
                let wildcard = format!("*.{encloser}");
                return match self.nodes.get_key_value(&wildcard) {
                    Some((owner, sets)) => Node::Exists {
                        sets,
                        wildcard: Some(owner),
                    },
                    None => Node::NxDomain,
                };
            }
        }
        Node::NxDomain
    }
}
