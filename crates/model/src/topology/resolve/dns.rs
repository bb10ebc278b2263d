//! Resolution of Private DNS zones and Private Endpoints, with the rules
//! Azure applies to them ("Azure Private DNS limits", "What is a virtual
//! network link", "Private endpoint DNS integration"):
//!
//! - a zone's name has 2 to 34 labels; a record set is unique by name and
//!   type, holds at most 20 records, a CNAME set exactly one and nothing
//!   else at its name;
//! - a zone links to a VNet at most once; a VNet has at most one zone with
//!   auto-registration; a zone at most 100 auto-registration links and
//!   1,000 links;
//! - a Private Endpoint sits in a subnet, on a given address or the first
//!   free one, reaches one sub-resource of a PaaS resource, and its DNS zone
//!   group (at most 5 zones) writes an A record named after the resource,
//!   TTL 10, in each of its zones, replacing one the file wrote.

use super::super::decode::{dns_name, RawPrivateEndpoint, RawZone};
use super::resolver::{NameRule, Names, Resolver};
use crate::topology::model::*;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

pub const LINK_NAME: NameRule = NameRule::new("virtual network link", 1, 80);
pub const PRIVATE_ENDPOINT_NAME: NameRule = NameRule::new("Private Endpoint", 2, 64);

const MIN_ZONE_LABELS: usize = 2;
const MAX_ZONE_LABELS: usize = 34;
const MAX_RECORDS_PER_SET: usize = 20;
/// The longest DNS name, without its final dot (RFC 1035's 255 octets).
const MAX_NAME_LEN: usize = 253;

const MAX_REGISTRATION_LINKS: usize = 100;
const MAX_LINKS_PER_ZONE: usize = 1000;
const MAX_ZONES_PER_GROUP: usize = 5;

/// Why a TXT value with control characters is taken with a warning:
/// Azure's limits (1,024 characters) say nothing of them, so vnetd keeps
/// the value exactly (its servers write them as `\DDD`), but they are
/// nearly always a mistake: a YAML block scalar (`|`) ends its value with
/// a newline.
fn control_characters(value: &RecordData) -> Option<String> {
    let RecordData::Txt(text) = value else {
        return None;
    };
    let (at, c) = text.char_indices().find(|(_, c)| c.is_control())?;
    Some(format!(
        "the TXT value holds a control character ({c:?} at byte {at}): it is kept as given, \
         and `dig` shows it as `\\{:03}`; a YAML block scalar (`|`) ends its value with a \
         newline, so quote such a value instead",
        u32::from(c)
    ))
}

impl Resolver<'_> {
    pub(super) fn private_dns_zones(&mut self, zones: Vec<RawZone>) {
        let mut seen = HashSet::new();
        let mut registering: HashMap<VnetIdx, String> = HashMap::new();
        for zone in zones {
            let Some(name) = self.dns_name_at(&zone.name, zone.line, &zone.key) else {
                continue;
            };
            let labels = name.split('.').count();
            if !(MIN_ZONE_LABELS..=MAX_ZONE_LABELS).contains(&labels) {
                let why = format!(
                    "`{name}` has {labels} label(s): Azure takes Private DNS zones of \
                     {MIN_ZONE_LABELS} to {MAX_ZONE_LABELS} labels (a single-label zone such as \
                     `local` is refused)"
                );
                self.diags.error(zone.line, &zone.key, why);
            }
            if !seen.insert(name.clone()) {
                let why = format!("duplicate Private DNS zone `{name}`");
                self.diags.error(zone.line, &zone.key, why);
            }
            let records = self.record_sets(&name, zone.records);
            let links = self.vnet_links(&name, zone.links, &mut registering);
            self.topo.private_dns_zones.push(PrivateDnsZone {
                name,
                records,
                links,
                line: zone.line,
            });
        }
    }

    /// `written` as a DNS name (see [`dns_name`]); `None`, reported at
    /// `line` and `key`, when it is not one.
    pub(super) fn dns_name_at(&mut self, written: &str, line: usize, key: &str) -> Option<String> {
        match dns_name(written) {
            Ok(name) => Some(name),
            Err(why) => {
                self.diags.error(line, key, why);
                None
            }
        }
    }

    /// vnetd's own `dns_server`: its zones checked as Private DNS zones'
    /// records are (one set per name and type, CNAME alone).
    pub(super) fn dns_server_config(
        &mut self,
        raw: super::super::decode::RawDnsServer,
    ) -> DnsServerConfig {
        let mut zones = Vec::new();
        for zone in raw.zones {
            let Some(name) = self.dns_name_at(&zone.name, zone.line, &zone.key) else {
                continue;
            };
            let records = self.record_sets(&name, zone.records);
            zones.push(LocalZone { name, records });
        }
        DnsServerConfig {
            software: raw.software,
            forwarders: raw.forwarders,
            zones,
            line: raw.line,
        }
    }

    fn record_sets(
        &mut self,
        zone: &str,
        raw: Vec<super::super::decode::RawRecordSet>,
    ) -> Vec<RecordSet> {
        let mut sets: Vec<RecordSet> = Vec::new();
        for set in raw {
            let name = if set.name == "@" {
                Some("@".to_string())
            } else {
                self.dns_name_at(&set.name, set.line, &set.key)
            };
            let Some(name) = name else {
                continue;
            };
            let (record_type, values) = set.record_type;
            let full = format!("{name}.{zone}");
            if name != "@" && full.len() > MAX_NAME_LEN {
                let why = format!(
                    "the record set's full name `{full}` has {} characters; a DNS name has at \
                     most {MAX_NAME_LEN}",
                    full.len()
                );
                self.diags.error(set.line, &set.key, why);
                continue;
            }
            for (value, line) in &values {
                if let Some(why) = control_characters(value) {
                    self.diags.warning(*line, &set.key, why);
                }
            }
            if values.len() > MAX_RECORDS_PER_SET {
                let why =
                    format!("Azure holds at most {MAX_RECORDS_PER_SET} records in a record set");
                self.diags.error(set.line, &set.key, why);
            }
            if record_type == RecordType::Cname && values.len() > 1 {
                let why = "a CNAME record set holds exactly one record";
                self.diags.error(set.line, &set.key, why);
            }
            let clash = sets.iter().find(|s| {
                s.name == name
                    && (s.record_type == record_type
                        || s.record_type == RecordType::Cname
                        || record_type == RecordType::Cname)
            });
            if let Some(other) = clash {
                let why = if other.record_type == record_type {
                    format!(
                        "a {} record set named `{name}` is already in zone `{zone}` (line {})",
                        record_type.as_str(),
                        other.line
                    )
                } else {
                    format!(
                        "a CNAME record set cannot share its name with another record set \
                         (`{name}` in zone `{zone}`, line {})",
                        other.line
                    )
                };
                self.diags.error(set.line, &set.key, why);
                continue;
            }
            sets.push(RecordSet {
                name,
                record_type,
                ttl: set.ttl,
                records: values.into_iter().map(|(v, _)| v).collect(),
                line: set.line,
            });
        }
        sets
    }

    fn vnet_links(
        &mut self,
        zone: &str,
        raw: Vec<super::super::decode::RawVnetLink>,
        registering: &mut HashMap<VnetIdx, String>,
    ) -> Vec<VnetLink> {
        let mut names = Names::new(LINK_NAME);
        let mut links: Vec<VnetLink> = Vec::new();
        for link in raw {
            self.check_name(&mut names, &link.name, link.line, &link.key);
            let Some(vnet) = self.vnet_ref(&link.vnet) else {
                continue;
            };
            if links.iter().any(|l| l.vnet == vnet) {
                let why = format!(
                    "zone `{zone}` is already linked to VNet `{}`: Azure links a zone to a VNet \
                     once",
                    self.topo.vnets[vnet].name
                );
                self.diags.error(link.vnet.line, &link.vnet.key, why);
                continue;
            }
            if link.registration_enabled {
                if let Some(other) = registering.insert(vnet, zone.to_string()) {
                    let why = format!(
                        "VNet `{}` already registers its VMs in zone `{other}`: Azure allows one \
                         auto-registration zone per VNet",
                        self.topo.vnets[vnet].name
                    );
                    self.diags.error(link.line, &link.key, why);
                }
            }
            links.push(VnetLink {
                name: link.name,
                vnet,
                registration_enabled: link.registration_enabled,
                resolution_policy: link.resolution_policy,
                line: link.line,
            });
        }
        let registration = links.iter().filter(|l| l.registration_enabled).count();
        if registration > MAX_REGISTRATION_LINKS || links.len() > MAX_LINKS_PER_ZONE {
            let line = links.first().map_or(0, |l| l.line);
            let why = format!(
                "zone `{zone}` has {} links ({registration} with auto-registration): Azure allows \
                 {MAX_LINKS_PER_ZONE} ({MAX_REGISTRATION_LINKS})",
                links.len()
            );
            self.diags.error(line, "virtual_network_links", why);
        }
        links
    }

    pub(super) fn private_endpoints(&mut self, endpoints: Vec<RawPrivateEndpoint>) {
        let mut seen = Names::new(PRIVATE_ENDPOINT_NAME);
        let mut taken: HashMap<(VnetIdx, IpAddr), String> = HashMap::new();
        for nic in &self.topo.nics {
            for c in &nic.ip_configurations {
                taken.insert((nic.subnet.vnet, c.address), nic.name.clone());
            }
        }
        for lb in &self.topo.load_balancers {
            for f in lb.frontends.iter().filter(|f| !f.is_public()) {
                taken.insert((lb.vnet, f.address), lb.name.clone());
            }
        }
        let mut public: HashMap<String, Ipv4Addr> = HashMap::new();
        for pe in endpoints {
            self.check_name(&mut seen, &pe.name, pe.line, &pe.key);
            let Some(subnet) = self.subnet_ref(&pe.subnet) else {
                continue;
            };
            let key = format!("{}.private_ip_address", pe.key);
            let address = match pe.address {
                Some(ip) => {
                    self.check_static_address(&pe.name, subnet, ip, pe.line, &key, &mut taken);
                    ip
                }
                None => match self.allocate(subnet, &taken) {
                    Some(ip) => {
                        taken.insert((subnet.vnet, ip), pe.name.clone());
                        ip
                    }
                    None => {
                        let why = format!(
                            "subnet {} has no free IPv4 address for the endpoint",
                            self.topo.subnet_path(subnet)
                        );
                        self.diags.error(pe.subnet.line, &pe.subnet.key, why);
                        continue;
                    }
                },
            };
            let c = pe.connection;
            let (sub_name, sub_line) = c.sub_resource;
            let Some(sub_resource) = c.kind.sub_resource(&sub_name) else {
                let why = format!(
                    "`{sub_name}` is not a sub-resource of a {} (it has: {})",
                    c.kind.as_str(),
                    c.kind.sub_resource_names().join(", ")
                );
                self.diags
                    .error(sub_line, &format!("{}.subresource_names", c.key), why);
                continue;
            };
            if let Err(why) = dns_name(&c.resource).and_then(|r| {
                if r.contains('.') {
                    Err(format!("`{r}` is a resource's name, not a DNS name"))
                } else {
                    Ok(r)
                }
            }) {
                self.diags
                    .error(c.line, &format!("{}.resource", c.key), why);
                continue;
            }
            let resource = c.resource.to_ascii_lowercase();
            let public_name = format!("{resource}.{}", sub_resource.public_suffix);
            // A declared resource's first sub-resource answers on the
            // resource's own public face.
            let declared = (self.topo.paas_resources.iter())
                .find(|r| r.kind == c.kind && r.name == resource)
                .filter(|_| c.kind.sub_resource_names().first() == Some(&sub_resource.name))
                .map(|r| r.public_address);
            let public_address = match (c.public_address, declared) {
                (Some(IpAddr::V4(a)), Some(d)) if a != d => {
                    let why = format!(
                        "resource `{resource}` is declared in `paas_resources` with its public \
                         face at {d}: give its address there"
                    );
                    self.diags.error(c.line, &c.key, why);
                    continue;
                }
                (_, Some(d)) => d,
                (Some(IpAddr::V4(a)), None) => a,
                (Some(IpAddr::V6(_)), None) => {
                    let why = "a PaaS resource's public face is an IPv4 address";
                    self.diags.error(c.line, &c.key, why);
                    continue;
                }
                (None, None) => {
                    let next = public.len() as u32;
                    *public
                        .entry(public_name.clone())
                        .or_insert_with(|| paas_public_address(next))
                }
            };
            public.insert(public_name, public_address);
            let zones = self.zone_group(&pe.name, &pe.zones, sub_resource);
            self.topo.private_endpoints.push(PrivateEndpoint {
                name: pe.name,
                subnet,
                address,
                target: PrivateLinkTarget {
                    resource,
                    sub_resource,
                    public_address,
                },
                zones,
                line: pe.line,
            });
        }
        self.write_zone_group_records();
    }

    /// The zones of an endpoint's DNS zone group.
    fn zone_group(
        &mut self,
        endpoint: &str,
        refs: &[super::super::decode::NameRef],
        sub_resource: &SubResource,
    ) -> Vec<ZoneIdx> {
        let mut zones = Vec::new();
        if refs.len() > MAX_ZONES_PER_GROUP {
            let why = format!("a DNS zone group holds at most {MAX_ZONES_PER_GROUP} zones");
            self.diags.error(refs[0].line, &refs[0].key, why);
        }
        for r in refs {
            let wanted = r.name.trim_end_matches('.').to_ascii_lowercase();
            let found = self.topo.private_dns_zones.position(|z| z.name == wanted);
            let Some(zone) = self.lookup(r, "Private DNS zone", found) else {
                continue;
            };
            if wanted != sub_resource.privatelink_zone {
                let why = format!(
                    "endpoint `{endpoint}` writes its record in `{wanted}`, but the public name of \
                     its `{}` sub-resource is a CNAME to `{}`: names will not reach it through \
                     this zone",
                    sub_resource.name, sub_resource.privatelink_zone
                );
                self.diags.warning(r.line, &r.key, why);
            }
            zones.push(zone);
        }
        zones
    }

    /// Each endpoint's A record in the zones of its group: named after the
    /// resource, TTL 10, replacing a record set of that name the file wrote
    /// (two endpoints of one resource in one zone share the set).
    fn write_zone_group_records(&mut self) {
        let mut written: HashSet<(ZoneIdx, String)> = HashSet::new();
        let mut warnings = Vec::new();
        for pe in &self.topo.private_endpoints {
            let IpAddr::V4(address) = pe.address else {
                continue;
            };
            for &z in &pe.zones {
                let zone = &mut self.topo.private_dns_zones[z];
                let name = pe.target.resource.clone();
                let found = (zone.records.iter())
                    .position(|s| s.name == name && s.record_type == RecordType::A);
                let ours = !written.insert((z, name.clone()));
                match found {
                    Some(i) if ours => zone.records[i].records.push(RecordData::A(address)),
                    Some(i) => {
                        warnings.push((
                            zone.records[i].line,
                            format!(
                                "endpoint `{}`'s DNS zone group writes `{name}` in zone `{}`, \
                                 replacing this record set",
                                pe.name, zone.name
                            ),
                        ));
                        zone.records[i] = zone_group_record(name, address, pe.line);
                    }
                    None => zone.records.push(zone_group_record(name, address, pe.line)),
                }
            }
        }
        for (line, why) in warnings {
            self.diags.warning(line, "records", why);
        }
    }
}

fn zone_group_record(name: String, address: Ipv4Addr, line: usize) -> RecordSet {
    RecordSet {
        name,
        record_type: RecordType::A,
        ttl: ZONE_GROUP_TTL,
        records: vec![RecordData::A(address)],
        line,
    }
}

/// The `n`th public address vnetd gives a PaaS resource's public face:
/// from [`PAAS_PUBLIC_RANGE`], starting at its tenth address.
pub fn paas_public_address(n: u32) -> Ipv4Addr {
    let (base, _) = PAAS_PUBLIC_RANGE;
    Ipv4Addr::from(u32::from(base) + 10 + n)
}
