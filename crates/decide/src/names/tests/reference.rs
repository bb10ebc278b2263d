//! Azure DNS's rules read plainly over the topology itself: no compiled
//! tables, each question scans the file's zones, VMs, NICs and
//! endpoints. Slow and simple: the engine's reference.

use super::super::resolution::type_of;
use super::super::{
    normalise, QueryType, Rcode, INTERNAL_SUFFIX, MAX_CNAME_STEPS, PUBLIC_NAME_TTL, VM_NAME_TTL,
};
use crate::topology::{
    PrivateDnsZone, RecordData, RecordSet, RecordType, ResolutionPolicy, Topology, VnetIdx,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A record: owner, TTL, value.
type Rec = (String, u32, RecordData);

enum Step {
    Done(Rcode, Vec<Rec>),
    Alias(Rec, String),
}

/// The response code and the answer's records as sorted `dig` lines.
pub fn resolve(t: &Topology, vnet: VnetIdx, name: &str, q: QueryType) -> (Rcode, Vec<String>) {
    let mut name = normalise(name);
    let mut seen = vec![name.clone()];
    let mut answers = Vec::new();
    let rcode = loop {
        match step(t, vnet, &name, q) {
            Step::Done(rcode, records) => {
                answers.extend(records);
                break rcode;
            }
            Step::Alias(record, target) => {
                answers.push(record);
                if seen.contains(&target) || seen.len() > MAX_CNAME_STEPS {
                    return (Rcode::ServFail, Vec::new());
                }
                seen.push(target.clone());
                name = target;
            }
        }
    };
    let mut lines: Vec<String> = answers
        .iter()
        .map(|(n, ttl, d)| format!("{n} {ttl} {} {}", type_of(d).as_str(), d.text()))
        .collect();
    lines.sort();
    (rcode, lines)
}

fn in_domain(name: &str, domain: &str) -> bool {
    name == domain || name.ends_with(&format!(".{domain}"))
}

/// The VMs of `vnet`: (label, name, first IPv4, first IPv6), the first of
/// a label winning.
fn vms(t: &Topology, vnet: VnetIdx) -> Vec<(String, String, Option<Ipv4Addr>, Option<Ipv6Addr>)> {
    let mut named = Vec::new();
    for vm in &t.virtual_machines {
        if let Some(&nic) = vm.nics.first() {
            named.push((vm.name.clone(), nic));
        }
    }
    for (i, nic) in t.nics.iter_enumerated() {
        if !t.virtual_machines.iter().any(|vm| vm.nics.contains(&i)) {
            named.push((nic.name.clone(), i));
        }
    }
    let mut out: Vec<(String, String, Option<Ipv4Addr>, Option<Ipv6Addr>)> = Vec::new();
    for (name, nic) in named {
        let nic = &t.nics[nic];
        let label = name.to_ascii_lowercase();
        let valid = label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if nic.subnet.vnet != vnet || !valid || out.iter().any(|v| v.0 == label) {
            continue;
        }
        let v4 = nic.ip_configurations.iter().find_map(|c| match c.address {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        });
        let v6 = nic.ip_configurations.iter().find_map(|c| match c.address {
            IpAddr::V6(a) => Some(a),
            IpAddr::V4(_) => None,
        });
        out.push((label, name, v4, v6));
    }
    out
}

/// The owner of the record set `s` of zone `z`: `@` is the apex.
fn owner_of(z: &PrivateDnsZone, s: &RecordSet) -> String {
    if s.name == "@" {
        z.name.clone()
    } else {
        format!("{}.{}", s.name, z.name)
    }
}

/// A zone's record sets (owner, type, TTL, values): written, then the
/// registered VMs whose name no written A or CNAME set takes.
fn zone_sets(t: &Topology, z: &PrivateDnsZone) -> Vec<(String, RecordType, u32, Vec<RecordData>)> {
    let mut sets: Vec<(String, RecordType, u32, Vec<RecordData>)> = z
        .records
        .iter()
        .map(|s| (owner_of(z, s), s.record_type, s.ttl, s.records.clone()))
        .collect();
    for link in z.links.iter().filter(|l| l.registration_enabled) {
        for (label, _, v4, _) in vms(t, link.vnet) {
            let owner = format!("{label}.{}", z.name);
            let taken = sets
                .iter()
                .any(|s| s.0 == owner && matches!(s.1, RecordType::A | RecordType::Cname));
            if let (Some(v4), false) = (v4, taken) {
                sets.push((owner, RecordType::A, VM_NAME_TTL, vec![RecordData::A(v4)]));
            }
        }
    }
    sets
}

fn matches(q: QueryType, t: RecordType) -> bool {
    q == QueryType::ANY || super::super::query_type(t) == q
}

fn step(t: &Topology, vnet: VnetIdx, name: &str, q: QueryType) -> Step {
    let zone = t
        .private_dns_zones
        .iter()
        .filter(|z| z.links.iter().any(|l| l.vnet == vnet) && in_domain(name, &z.name))
        .max_by_key(|z| z.name.split('.').count());
    if let Some(z) = zone {
        let link = z.links.iter().find(|l| l.vnet == vnet).expect("linked");
        let sets = zone_sets(t, z);
        let exists = |n: &str| {
            n == z.name
                || sets
                    .iter()
                    .any(|s| s.0 == n || s.0.ends_with(&format!(".{n}")))
        };
        let mut here: Vec<_> = sets.iter().filter(|s| s.0 == name).collect();
        if !exists(name) {
            let mut encloser = name;
            loop {
                encloser = encloser.split_once('.').map_or("", |(_, p)| p);
                if encloser.is_empty() || exists(encloser) {
                    break;
                }
            }
            let wildcard = format!("*.{encloser}");
            here = sets.iter().filter(|s| s.0 == wildcard).collect();
            if here.is_empty() {
                let redirect = link.resolution_policy == ResolutionPolicy::NxDomainRedirect
                    && matches!(q, QueryType::A | QueryType::AAAA | QueryType::CNAME);
                if redirect {
                    return public(t, name, q);
                }
                return Step::Done(Rcode::NxDomain, Vec::new());
            }
        }
        let cname = here.iter().find(|s| s.1 == RecordType::Cname);
        if let (Some(c), false) = (cname, matches!(q, QueryType::CNAME | QueryType::ANY)) {
            let RecordData::Cname(target) = &c.3[0] else {
                unreachable!("a CNAME set holds a name")
            };
            return Step::Alias((name.to_string(), c.2, c.3[0].clone()), target.clone());
        }
        let records = here
            .iter()
            .filter(|s| matches(q, s.1))
            .flat_map(|s| s.3.iter().map(|d| (name.to_string(), s.2, d.clone())))
            .collect();
        return Step::Done(Rcode::NoError, records);
    }
    if name == INTERNAL_SUFFIX {
        return Step::Done(Rcode::NoError, Vec::new());
    }
    if let Some(label) = name.strip_suffix(&format!(".{INTERNAL_SUFFIX}")) {
        let Some((_, _, v4, v6)) = vms(t, vnet).into_iter().find(|v| v.0 == label) else {
            return Step::Done(Rcode::NxDomain, Vec::new());
        };
        let data = match q {
            QueryType::A => v4.map(RecordData::A),
            QueryType::AAAA => v6.map(RecordData::Aaaa),
            QueryType::ANY => v4.map(RecordData::A).or(v6.map(RecordData::Aaaa)),
            _ => None,
        };
        let records = data.map(|d| (name.to_string(), VM_NAME_TTL, d));
        return Step::Done(Rcode::NoError, records.into_iter().collect());
    }
    public(t, name, q)
}

fn public(t: &Topology, name: &str, q: QueryType) -> Step {
    if let Some(pe) = t
        .private_endpoints
        .iter()
        .find(|pe| pe.target.public_name() == name)
    {
        let record = (
            name.to_string(),
            PUBLIC_NAME_TTL,
            RecordData::Cname(pe.target.privatelink_name()),
        );
        if matches!(q, QueryType::CNAME | QueryType::ANY) {
            return Step::Done(Rcode::NoError, vec![record]);
        }
        return Step::Alias(record, pe.target.privatelink_name());
    }
    if let Some(pe) = t
        .private_endpoints
        .iter()
        .find(|pe| pe.target.privatelink_name() == name)
    {
        let records = matches!(q, QueryType::A | QueryType::ANY).then(|| {
            (
                name.to_string(),
                PUBLIC_NAME_TTL,
                RecordData::A(pe.target.public_address),
            )
        });
        return Step::Done(Rcode::NoError, records.into_iter().collect());
    }
    Step::Done(Rcode::NxDomain, Vec::new())
}

/// Every name the topology knows, and names near them: what the
/// agreement test asks.
pub fn names_to_ask(t: &Topology) -> Vec<String> {
    let mut names = vec![
        INTERNAL_SUFFIX.to_string(),
        "www.example.com".into(),
        "cloudapp.net".into(),
        "a.b.internal.cloudapp.net".into(),
    ];
    let machines: Vec<String> = (t.nics.iter().map(|n| n.name.clone()))
        .chain(t.virtual_machines.iter().map(|v| v.name.clone()))
        .collect();
    for m in &machines {
        names.push(format!("{m}.{INTERNAL_SUFFIX}"));
    }
    for z in &t.private_dns_zones {
        names.push(z.name.clone());
        names.push(format!("nosuch.{}", z.name));
        names.push(format!("x.y.{}", z.name));
        for m in &machines {
            names.push(format!("{m}.{}", z.name));
        }
        for s in &z.records {
            let owner = owner_of(z, s);
            names.push(owner.replace('*', "anything"));
            names.push(format!("deeper.{}", owner.replace('*', "anything")));
            if let Some((_, parent)) = owner.split_once('.') {
                names.push(parent.to_string());
            }
            for d in &s.records {
                match d {
                    RecordData::Cname(n) | RecordData::Ptr(n) => names.push(n.clone()),
                    RecordData::Mx { exchange: n, .. } | RecordData::Srv { target: n, .. } => {
                        names.push(n.clone())
                    }
                    _ => {}
                }
            }
        }
    }
    for pe in &t.private_endpoints {
        names.push(pe.target.public_name());
        names.push(pe.target.privatelink_name());
        names.push(format!("other.{}", pe.target.sub_resource.privatelink_zone));
    }
    names.sort();
    names.dedup();
    names
}
